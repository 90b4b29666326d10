//! Metrics against the local fleet's real Prometheus (one per cluster, scraping testenv's metricsgen).
//!
//! ```sh
//! LEPTOS_OUTPUT_NAME=fleetpane RUSTFLAGS="--cfg erase_components" \
//!   cargo test -p fleetpane-server --test metrics -- --ignored --test-threads=1
//! ```

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use fleetpane_app::model::{
    metrics::{DoctorState, Panel, ServiceMetrics},
    services::ServiceDetail,
};
use fleetpane_server::{
    access::{self, Access},
    config::{ClusterConfig, PrometheusConfig},
    fleet::{Fleet, Impersonation},
    metrics::{
        Metrics,
        config::{Auth, Endpoint, PresetChoice, Settings},
        fleet_rates, service_metrics,
    },
    observability, service_page, triage,
    watch::Caches,
};

#[path = "support/fleetenv.rs"]
mod fleetenv;

use fleetenv::config;

fn alice() -> Impersonation {
    Impersonation::new("alice@example.com", ["sre"])
}

fn bob() -> Impersonation {
    Impersonation::new("bob@example.com", ["team-a"])
}

/// Fleetpane's pieces for `clusters`, with live caches.
struct Env {
    fleet: Fleet,
    caches: Caches,
    access: Access,
    metrics: Metrics,
}

async fn env_of(clusters: &[ClusterConfig]) -> Env {
    let fleet = Fleet::from_config(clusters).unwrap();
    let caches = Caches::start(&fleet);
    let access = Access::start(&fleet, access::DECISION_TTL);
    let metrics = Metrics::from_config(clusters).unwrap();
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");
    Env { fleet, caches, access, metrics }
}

impl Env {
    /// The Service page of `ns/name` in `cluster` as alice (sre), with its metrics.
    async fn page(&self, cluster: &ClusterConfig, ns: &str, name: &str) -> ServiceDetail {
        let target = service_page::Target {
            cluster: &cluster.name,
            cluster_domain: &cluster.cluster_domain,
            namespace: ns,
            name,
        };
        service_page::service_page(
            &self.fleet,
            &self.caches,
            &self.access,
            Some(&self.metrics),
            &alice(),
            &target,
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {ns}/{name}: {e}", cluster.name))
    }

    async fn service(
        &self,
        who: &Impersonation,
        cluster: &str,
        ns: &str,
        name: &str,
        range: &str,
    ) -> ServiceMetrics {
        self.try_service(who, cluster, ns, name, range).await.unwrap_or_else(|e| panic!("{ns}/{name}: {e}"))
    }

    async fn try_service(
        &self,
        who: &Impersonation,
        cluster: &str,
        ns: &str,
        name: &str,
        range: &str,
    ) -> Result<ServiceMetrics, fleetpane_server::metrics::panels::Error> {
        let now = jiff::Timestamp::now().as_second();
        service_metrics(
            &self.fleet,
            &self.caches,
            &self.access,
            &self.metrics,
            who,
            cluster,
            ns,
            name,
            range,
            now,
        )
        .await
    }

    fn sent(&self, cluster: &str) -> u64 {
        self.metrics.queries_sent().into_iter().find(|(c, _)| c == cluster).map_or(0, |(_, n)| n)
    }
}

/// The value of an instant query run directly against `prometheus` at `time`.
async fn direct(prometheus: &str, query: &str, time: i64) -> Option<f64> {
    let url = format!("{}/api/v1/query", prometheus.trim_end_matches('/'));
    let answer: serde_json::Value = reqwest::Client::new()
        .get(&url)
        .query(&[("query", query), ("time", &time.to_string())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "success", "{query}: {answer}");
    answer["data"]["result"][0]["value"][1].as_str().map(|v| v.parse().unwrap())
}

/// Waits (up to 120 s) until every cluster's Prometheus has scraped checkout's traffic often enough for a 1m
/// rate to be the full 120/s: a freshly started fleet (as in CI) has only a few scrapes at first.
async fn wait_for_traffic(clusters: &[ClusterConfig]) {
    let sel = r#"reporter="destination",destination_service_namespace="team-a",destination_service_name="checkout""#;
    let deadline = Instant::now() + Duration::from_secs(120);
    for c in clusters {
        let url = c.prometheus.as_ref().expect("the fleet's clusters have a Prometheus").url.to_string();
        loop {
            let now = jiff::Timestamp::now().as_second();
            let rate = direct(&url, &format!("sum(rate(istio_requests_total{{{sel}}}[1m]))"), now).await;
            if rate.is_some_and(|r| (r - 120.0).abs() < 1.0) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: checkout's rate is {rate:?} after 120 s, not 120/s",
                c.name
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

fn close(a: f64, b: f64, what: &str) {
    let tolerance = 1e-6 * a.abs().max(b.abs()).max(1e-12);
    assert!((a - b).abs() <= tolerance, "{what}: Fleetpane {a} vs direct {b}");
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn service_numbers_equal_the_same_promql_run_directly() {
    let config = config();
    let env = env_of(&config.clusters).await;
    wait_for_traffic(&config.clusters).await;
    let cluster = &config.clusters[0];
    let prometheus =
        cluster.prometheus.as_ref().expect("the fleet's clusters have a Prometheus").url.to_string();
    let m = env.service(&alice(), &cluster.name, "team-a", "checkout", "15m").await;
    let Panel::Ok { data: t } = &m.traffic else { panic!("no traffic: {:?}", m.traffic) };
    assert_eq!(t.source, "istio", "detected preset");
    // The last point is evaluated at the range's end: run the same PromQL, written here by hand, at that time.
    let sel = r#"reporter="destination",destination_service_namespace="team-a",destination_service_name="checkout""#;
    let rate =
        direct(&prometheus, &format!("sum(rate(istio_requests_total{{{sel}}}[1m]))"), m.end).await.unwrap();
    close(t.rate.last().unwrap(), rate, "rate");
    // metricsgen serves 120/s; a fleet started minutes ago (CI) has a little less in a window ending on a step.
    assert!(rate > 60.0 && rate < 121.0, "metricsgen serves 120/s for checkout, got {rate}");
    let share = direct(
        &prometheus,
        &format!(
            r#"sum(rate(istio_requests_total{{{sel},response_code=~"5.."}}[1m])) / sum(rate(istio_requests_total{{{sel}}}[1m]))"#
        ),
        m.end,
    )
    .await
    .unwrap();
    close(t.error_share.last().unwrap(), share, "5xx share");
    assert!((share - 0.001).abs() < 1e-4, "0.1% 5xx, got {share}");
    for (series, q) in t.latency.iter().zip(["0.5", "0.95", "0.99"]) {
        let want = direct(
            &prometheus,
            &format!(
                "histogram_quantile({q}, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{sel}}}[1m]))) / 1000"
            ),
            m.end,
        )
        .await
        .unwrap();
        close(series.last().unwrap(), want, &series.label);
    }
    // One point per step over 15 min (about 60), or fewer on a fleet started minutes ago, never outside the range.
    let points = &t.rate.points;
    assert!(points.len() >= 2 && points.len() <= 61, "points over 15 min: {}", points.len());

    let Panel::Ok { data: pods } = &m.resources else { panic!("no resources: {:?}", m.resources) };
    assert!(!pods.is_empty(), "checkout has backing pods");
    for p in pods {
        let memory = direct(
            &prometheus,
            &format!(r#"sum(container_memory_working_set_bytes{{namespace="team-a",pod="{}"}})"#, p.pod),
            m.end,
        )
        .await
        .unwrap();
        close(p.memory.last().unwrap(), memory, "memory");
        let cpu = direct(
            &prometheus,
            &format!(
                r#"sum(rate(container_cpu_usage_seconds_total{{namespace="team-a",pod="{}"}}[1m]))"#,
                p.pod
            ),
            m.end,
        )
        .await
        .unwrap();
        close(p.cpu.last().unwrap(), cpu, "cpu");
        // The fixture: requests 100m / 128Mi, memory limit 128Mi, no CPU limit.
        assert_eq!(p.cpu_request, Some(0.1), "{}", p.pod);
        assert_eq!(p.cpu_limit, None, "{}", p.pod);
        assert_eq!(p.memory_request, Some(128.0 * 1024.0 * 1024.0), "{}", p.pod);
        assert_eq!(p.memory_limit, Some(128.0 * 1024.0 * 1024.0), "{}", p.pod);
    }
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn fleet_rates_send_exactly_one_query_per_cluster() {
    let config = config();
    let env = env_of(&config.clusters).await;
    wait_for_traffic(&config.clusters).await;
    let now = jiff::Timestamp::now().as_second();
    // The first call also detects the preset (cached afterwards).
    let alice_rates = fleet_rates(&env.fleet, &env.caches, &env.access, &env.metrics, &alice(), now).await;
    assert!(alice_rates.doctors.is_empty(), "{:?}", alice_rates.doctors);
    let before: Vec<u64> = config.clusters.iter().map(|c| env.sent(&c.name)).collect();
    // Bob's scope differs from alice's, so nothing is cached for him: exactly one query per cluster.
    let bob_rates = fleet_rates(&env.fleet, &env.caches, &env.access, &env.metrics, &bob(), now).await;
    for (c, before) in config.clusters.iter().zip(before) {
        assert_eq!(env.sent(&c.name) - before, 1, "{}: queries sent for the list", c.name);
    }
    // Asked again at once: answered from the short cache, nothing sent.
    let again: Vec<u64> = config.clusters.iter().map(|c| env.sent(&c.name)).collect();
    let cached = fleet_rates(&env.fleet, &env.caches, &env.access, &env.metrics, &bob(), now).await;
    assert_eq!(cached, bob_rates);
    assert_eq!(again, config.clusters.iter().map(|c| env.sent(&c.name)).collect::<Vec<_>>(), "cached");
    // metricsgen serves 120/s (checkout) and 40/s (payments) in each cluster; the list's 5m rate reaches that once
    // Prometheus holds 5 min of samples (a fleet started minutes ago, as in CI, shows less: rate() extrapolates
    // only a little past the first sample). The shares are ratios over the same window, exact from the start.
    // (Fleetpane's numbers equal the same PromQL run directly: service_numbers_equal_the_same_promql_run_directly.)
    let n = config.clusters.len() as f64;
    let (rate, share) = bob_rates.of("team-a", "checkout").expect("checkout has a rate");
    assert!(rate > 0.0 && rate < 120.0 * n + n, "at most 120/s in each cluster, summed: {rate}");
    assert!((share - 0.001).abs() < 1e-4, "{share}");
    let (payments, payments_share) = alice_rates.of("team-a", "payments").unwrap();
    assert!(payments > 0.0 && payments < 40.0 * n + n, "at most 40/s in each cluster, summed: {payments}");
    assert!((payments_share - 0.023).abs() < 1e-3, "{payments_share}");
    // The counter is what /metrics shows.
    let snapshot =
        observability::Snapshot { prometheus_queries: env.metrics.queries_sent(), ..Default::default() };
    let text = observability::render(&snapshot, jiff::Timestamp::now());
    for c in &config.clusters {
        let line =
            format!("fleetpane_prometheus_queries_total{{cluster=\"{}\"}} {}", c.name, env.sent(&c.name));
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
}

/// The doctor reads the same rates: the triage view ranks and shows payments (broken, 2.3% 5xx) with its
/// traffic, and only where the person may read it.
#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn the_triage_view_carries_each_broken_services_traffic() {
    let config = config();
    let env = env_of(&config.clusters).await;
    wait_for_traffic(&config.clusters).await;
    let request = fleetpane_app::model::doctor::TriageRequest::default();
    let page = triage::triage(
        &env.fleet,
        &env.caches,
        &env.access,
        Some(&env.metrics),
        &alice(),
        &request,
        Duration::from_secs(10),
    )
    .await;
    let payments: Vec<_> =
        page.rows.iter().filter(|r| r.namespace == "team-a" && r.name == "payments").collect();
    assert_eq!(payments.len(), config.clusters.len(), "{page:#?}");
    for row in payments {
        let traffic = row.traffic.as_deref().unwrap_or_else(|| panic!("no traffic on {row:#?}"));
        assert!(traffic.ends_with("2.30% 5xx"), "{}: {traffic}", row.cluster);
    }
    // Without Prometheus the rows are the same, without traffic.
    let plain = triage::triage(
        &env.fleet,
        &env.caches,
        &env.access,
        None,
        &alice(),
        &request,
        Duration::from_secs(10),
    )
    .await;
    assert!(plain.rows.iter().all(|r| r.traffic.is_none()));
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn bob_never_gets_team_b_metrics() {
    let config = config();
    let env = env_of(&config.clusters).await;
    let cluster = config.clusters[0].name.clone();
    let bob = bob();
    let before = env.sent(&cluster);
    let m = env.service(&bob, &cluster, "team-b", "inventory", "1h").await;
    let Panel::Doctor { doctor } = &m.traffic else { panic!("bob got team-b traffic: {m:?}") };
    assert_eq!(doctor.state, DoctorState::NotAllowed, "{doctor:?}");
    let Panel::Doctor { doctor } = &m.resources else { panic!("bob got team-b pods: {m:?}") };
    assert_eq!(doctor.state, DoctorState::NotAllowed, "{doctor:?}");
    let resources_doctor = match &m.resources {
        Panel::Doctor { doctor } => doctor.message.clone(),
        Panel::Ok { .. } => unreachable!(),
    };
    assert!(resources_doctor.contains("list pods in team-b"), "{resources_doctor}");
    assert_eq!(env.sent(&cluster), before, "nothing was asked of Prometheus for team-b");

    // Crafted arguments never reach PromQL: they are refused as bad requests.
    for (ns, name) in [
        ("team-a", r#"checkout"} or istio_requests_total{destination_service_namespace="team-b"#),
        ("team-a", "checkout|~inventory"),
        ("team-a|team-b", "inventory"),
        ("team-.*", "inventory"),
        ("team-a", "checkout\"}"),
        ("team-a\"}", "checkout"),
    ] {
        let e = env.try_service(&bob, &cluster, ns, name, "1h").await.err();
        assert!(
            matches!(e, Some(fleetpane_server::metrics::panels::Error::BadRequest(_))),
            "{ns}/{name}: {e:?}"
        );
    }
    for range in ["2h", "", "1h; drop", "15m\""] {
        let e = env.try_service(&bob, &cluster, "team-a", "checkout", range).await.err();
        assert!(
            matches!(e, Some(fleetpane_server::metrics::panels::Error::BadRequest(_))),
            "{range:?}: {e:?}"
        );
    }
    assert_eq!(env.sent(&cluster), before, "no crafted query was sent");

    // His own namespace works; the list holds only what he may read.
    let own = env.service(&bob, &cluster, "team-a", "checkout", "1h").await;
    assert!(matches!(own.traffic, Panel::Ok { .. }), "{:?}", own.traffic);
    let rates = fleet_rates(
        &env.fleet,
        &env.caches,
        &env.access,
        &env.metrics,
        &bob,
        jiff::Timestamp::now().as_second(),
    )
    .await;
    assert!(rates.of("team-a", "checkout").is_some());
    assert!(rates.rates.iter().all(|r| r.namespace != "team-b"), "{:?}", rates.rates);
    let alice = fleet_rates(
        &env.fleet,
        &env.caches,
        &env.access,
        &env.metrics,
        &alice(),
        jiff::Timestamp::now().as_second(),
    )
    .await;
    assert!(alice.of("team-b", "inventory").is_some(), "alice (sre) does see team-b: the test can fail");
}

/// The Service page's doctor reads p99 latency and callers from the same Prometheus, scoped for the person:
/// checkout's p99 (metricsgen: 180 ms, between the 100 and 250 ms buckets) and payments' (600 ms), and the page
/// is diagnosed with them; bob, who may not read team-b, gets nothing about inventory.
#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn the_service_page_doctor_reads_p99_and_callers() {
    let config = config();
    let env = env_of(&config.clusters).await;
    wait_for_traffic(&config.clusters).await;
    let cluster = config.clusters.iter().find(|c| c.name == "prod-eu").expect("prod-eu is in the fleet");
    let doctor = |who: Impersonation, ns: &'static str, name: &'static str| {
        let env = &env;
        async move {
            service_page::doctor_metrics(
                &env.fleet,
                &env.caches,
                &env.access,
                &env.metrics,
                &who,
                "prod-eu",
                ns,
                name,
            )
            .await
        }
    };
    let checkout = doctor(alice(), "team-a", "checkout").await.expect("checkout's traffic facts");
    let p99 = checkout.p99_latency_ms.expect("checkout's p99");
    assert!(p99 > 100.0 && p99 <= 250.0, "metricsgen's p99 of checkout is 180 ms, in (100, 250]: {p99}");
    assert!(checkout.request_rate.is_some_and(|r| r > 0.0), "{checkout:?}");
    // Istio names a caller by source_workload and source_workload_namespace: checkout's one caller is
    // frontend, whose Deployment alice may read (its pod labels come from the workload cache).
    let callers: Vec<(&str, &str)> =
        checkout.callers.iter().map(|c| (c.description.as_str(), c.namespace.as_str())).collect();
    assert_eq!(callers, [("deploy/frontend", "team-a")], "{checkout:?}");
    assert_eq!(checkout.callers[0].labels.get("app").map(String::as_str), Some("frontend"));
    // frontend's caller, istio-ingressgateway in istio-system, is no workload anyone may read: left out.
    let frontend = doctor(alice(), "team-a", "frontend").await.expect("frontend's traffic facts");
    assert!(frontend.callers.is_empty(), "{frontend:?}");

    let payments = doctor(alice(), "team-a", "payments").await.expect("payments' traffic facts");
    let p99 = payments.p99_latency_ms.expect("payments' p99");
    assert!(p99 > 500.0 && p99 <= 1000.0, "metricsgen's p99 of payments is 600 ms, in (500, 1000]: {p99}");
    assert!((payments.error_rate.unwrap() - 0.023).abs() < 1e-3, "{payments:?}");

    // The page itself, with the metrics: produced, and diagnosed as without them (payments' p99 and 5xx share
    // are under the thresholds; one pod fails readiness).
    let started = Instant::now();
    let page = env.page(cluster, "team-a", "payments").await;
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    let codes: Vec<&str> = page.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"pods.readiness-failing"), "{codes:?}");
    assert!(!codes.contains(&"risk.latency") && !codes.contains(&"risk.error-rate"), "{codes:?}");

    // With traffic, latency and callers, the healthy fixtures still have nothing at warning or above.
    for c in &config.clusters {
        for (ns, name) in [("team-a", "checkout"), ("team-b", "inventory"), ("platform", "cache")] {
            let page = env.page(c, ns, name).await;
            let serious: Vec<_> = page
                .findings
                .iter()
                .filter(|f| f.severity >= fleetpane_app::model::doctor::Severity::Warning)
                .collect();
            assert!(serious.is_empty(), "{}: healthy {ns}/{name} has {serious:#?}", c.name);
        }
    }

    // Bob may not read team-b: nothing about inventory, though Prometheus has its series.
    assert_eq!(doctor(bob(), "team-b", "inventory").await.map(|m| m.p99_latency_ms), None);
    let inventory = doctor(alice(), "team-b", "inventory").await.expect("alice (sre) reads team-b: can fail");
    assert!(inventory.p99_latency_ms.is_some(), "{inventory:?}");
}

/// `cluster` with its Prometheus at `url` (auto preset, `timeout`).
fn with_prometheus(mut cluster: ClusterConfig, url: &str, timeout: Duration) -> ClusterConfig {
    let url: url::Url = url.parse().unwrap();
    cluster.prometheus = Some(PrometheusConfig {
        url: url.clone(),
        settings: Settings {
            endpoint: Endpoint::Direct(url),
            auth: Auth::None,
            preset: PresetChoice::Auto,
            timeout,
        },
    });
    cluster
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn a_stopped_prometheus_is_diagnosed_unreachable_within_2_s() {
    let config = config();
    // Nothing listens on a port that was just bound and released: a stopped Prometheus.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let dead = with_prometheus(
        config.clusters[0].clone(),
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(2),
    );
    let env = env_of(std::slice::from_ref(&dead)).await;
    let started = Instant::now();
    let m = env.service(&alice(), &dead.name, "team-a", "checkout", "1h").await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let Panel::Doctor { doctor } = &m.traffic else { panic!("{:?}", m.traffic) };
    assert_eq!(doctor.state, DoctorState::Unreachable, "{doctor:?}");
    assert!(doctor.message.contains(&format!("127.0.0.1:{port}")), "{}", doctor.message);
    assert!(doctor.fix.contains("url"), "{}", doctor.fix);

    // A Prometheus that accepts and never answers: the timeout (1 s here) bounds the wait.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let hanging = with_prometheus(config.clusters[0].clone(), &silent, Duration::from_secs(1));
    let env = env_of(std::slice::from_ref(&hanging)).await;
    let started = Instant::now();
    let m = env.service(&alice(), &hanging.name, "team-a", "checkout", "1h").await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let Panel::Doctor { doctor } = &m.traffic else { panic!("{:?}", m.traffic) };
    assert_eq!(doctor.state, DoctorState::Unreachable, "{doctor:?}");
    assert!(doctor.message.contains("no answer within"), "{}", doctor.message);

    // No Prometheus configured at all.
    let mut none = config.clusters[0].clone();
    none.prometheus = None;
    let env = env_of(&[none.clone()]).await;
    let m = env.service(&alice(), &none.name, "team-a", "checkout", "1h").await;
    let Panel::Doctor { doctor } = &m.traffic else { panic!("{:?}", m.traffic) };
    assert_eq!(doctor.state, DoctorState::NotConfigured);
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn a_preset_without_series_says_which_metric_it_looked_for() {
    let config = config();
    let mut cluster = config.clusters[0].clone();
    let p = cluster.prometheus.as_mut().unwrap();
    p.settings.preset = PresetChoice::Fixed(fleetpane_server::metrics::presets::Source::Preset(
        fleetpane_server::metrics::presets::Preset::Linkerd,
    ));
    let env = env_of(&[cluster.clone()]).await;
    let m = env.service(&alice(), &cluster.name, "team-a", "checkout", "15m").await;
    let Panel::Doctor { doctor } = &m.traffic else { panic!("{:?}", m.traffic) };
    assert_eq!(doctor.state, DoctorState::NoSeries, "{doctor:?}");
    assert!(
        doctor.message.contains("response_total") && doctor.message.contains("linkerd"),
        "{}",
        doctor.message
    );
    // CPU and memory do not depend on the preset.
    assert!(matches!(m.resources, Panel::Ok { .. }), "{:?}", m.resources);
}
