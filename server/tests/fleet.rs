//! Integration tests against the local real fleet (`testenv up`).
//!
//! They read `$FLEETPANE_TESTENV_DIR/fleet.json` (default `<repo>/.testenv/fleet.json`) and Fleetpane's config
//! `fleetpane.toml` beside it, and use Fleetpane's own config loader and fleet clients. Without a fleet they
//! fail with a message saying what to run; they never skip silently.
//!
//! They are `#[ignore]`d so that a plain `cargo test` (no fleet) stays green and says "N ignored";
//! the test script runs them after `testenv up` with:
//!
//! ```sh
//! LEPTOS_OUTPUT_NAME=fleetpane RUSTFLAGS="--cfg erase_components" \
//!   cargo test -p fleetpane-server --test fleet -- --ignored
//! ```

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::BTreeSet, time::Duration};

use fleetpane_app::model::Probe;
use fleetpane_server::{
    access::{self, Access, Resource, by_namespace, namespace_names},
    config::ClusterMode,
    fleet::{Cluster, Fleet, Impersonation, impersonate, probe::probe_all},
    read,
    watch::{
        Cache, Caches,
        rows::{EndpointSliceRow, PodRow, Row, ServiceRow},
    },
};
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        core::v1::{Namespace, Pod, Service},
        discovery::v1::EndpointSlice,
        rbac::v1::{RoleBinding, RoleRef, Subject},
    },
};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

#[path = "support/fleetenv.rs"]
mod fleetenv;

use fleetenv::{admin_client, config, facts, fleet, listed, served};

const NEEDS_FLEET: &str = "needs the local fleet: run via ./dev test";

fn is_forbidden(result: &Result<impl std::fmt::Debug, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn every_cluster_answers_the_probe() {
    let facts = facts();
    let status = probe_all(&fleet(), Duration::from_secs(5)).await;
    let names: Vec<_> = status.clusters.iter().map(|c| c.name.as_str()).collect();
    let expected: Vec<_> = facts.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, expected);
    for c in &status.clusters {
        assert!(matches!(&c.probe, Probe::Reachable { version, .. } if version.starts_with('v')), "{c:?}");
    }
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn sre_may_list_services_and_carol_may_not() {
    let fleet = fleet();
    assert!(!fleet.clusters().is_empty(), "{NEEDS_FLEET}");
    for cluster in fleet.clusters() {
        let alice = cluster.client_as(&Impersonation::new("alice@example.com", ["sre"])).unwrap();
        let services =
            Api::<Service>::namespaced(alice, "team-a").list(&ListParams::default()).await.unwrap_or_else(
                |e| panic!("{}: alice (sre) cannot list services in team-a: {e}", cluster.name()),
            );
        let names: Vec<_> = services.items.iter().filter_map(|s| s.metadata.name.as_deref()).collect();
        assert!(names.contains(&"checkout"), "{}: team-a services {names:?}", cluster.name());

        let carol =
            cluster.client_as(&Impersonation::new("carol@example.com", Vec::<String>::new())).unwrap();
        let result = Api::<Service>::namespaced(carol, "team-a").list(&ListParams::default()).await;
        assert!(is_forbidden(&result), "{}: carol should be forbidden, got {result:?}", cluster.name());
    }
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn impersonating_system_masters_is_refused() {
    for cluster in fleet().clusters() {
        let who = Impersonation::new("mallory@example.com", ["system:masters"]);
        // Past Fleetpane's policy (which would drop the group): the cluster itself must refuse.
        let result = Api::<Service>::namespaced(who.client(cluster.client()).unwrap(), "team-a")
            .list(&ListParams::default())
            .await;
        assert!(is_forbidden(&result), "{}: system:masters must be refused, got {result:?}", cluster.name());
    }
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn checkout_slices_hold_exactly_its_ready_pods() {
    for c in facts().clusters {
        let client = admin_client(&c);
        let service = Api::<Service>::namespaced(client.clone(), "team-a").get("checkout").await.unwrap();
        let selector = service
            .spec
            .and_then(|s| s.selector)
            .unwrap_or_else(|| panic!("{}: checkout has no selector", c.name))
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let pods = Api::<Pod>::namespaced(client.clone(), "team-a")
            .list(&ListParams::default().labels(&selector))
            .await
            .unwrap();
        let ready_pod_ips: BTreeSet<String> =
            pods.items
                .iter()
                .filter(|p| {
                    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
                        cs.iter().any(|cond| cond.type_ == "Ready" && cond.status == "True")
                    })
                })
                .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
                .collect();
        assert!(!ready_pod_ips.is_empty(), "{}: checkout has no Ready pods", c.name);

        let slices = Api::<EndpointSlice>::namespaced(client, "team-a")
            .list(&ListParams::default().labels("kubernetes.io/service-name=checkout"))
            .await
            .unwrap();
        assert!(!slices.items.is_empty(), "{}: checkout has no EndpointSlice", c.name);
        let mut ready_endpoint_ips = BTreeSet::new();
        for slice in &slices.items {
            let labels = slice.metadata.labels.clone().unwrap_or_default();
            assert_eq!(
                labels.get("endpointslice.kubernetes.io/managed-by").map(String::as_str),
                Some("endpointslice-controller.k8s.io"),
                "{}: slice {:?} is not managed by the controller",
                c.name,
                slice.metadata.name
            );
            for endpoint in slice.endpoints.iter().flatten() {
                if endpoint.conditions.as_ref().and_then(|cond| cond.ready).unwrap_or(false) {
                    ready_endpoint_ips.extend(endpoint.addresses.iter().cloned());
                }
            }
        }
        assert_eq!(ready_endpoint_ips, ready_pod_ips, "{}: ready endpoints vs Ready pods", c.name);
    }
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn idp_discovery_answers_with_its_issuer() {
    let facts = facts();
    let config = config();
    let provider = config.providers.first().expect("fleetpane.toml has no [[providers]]");
    assert_eq!(provider.issuer.as_str().trim_end_matches('/'), facts.idp.issuer.trim_end_matches('/'));

    let url = format!("{}/.well-known/openid-configuration", facts.idp.issuer.trim_end_matches('/'));
    let response = reqwest::get(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(response.status().is_success(), "{url}: {}", response.status());
    let discovery: serde_json::Value = response.json().await.unwrap();
    assert_eq!(discovery["issuer"].as_str(), Some(facts.idp.issuer.as_str()), "{discovery}");
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn prometheus_has_traffic_for_checkout() {
    const QUERY: &str = r#"sum(rate(istio_requests_total{destination_service_name="checkout",destination_service_namespace="team-a"}[1m]))"#;
    let facts = facts();
    let config = config();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut checked = 0;
    for cluster in &config.clusters {
        let Some(prometheus) = &cluster.prometheus else { continue };
        if let Some(c) = facts.clusters.iter().find(|c| c.name == cluster.name) {
            assert_eq!(
                c.prometheus_url.as_deref().map(|u| u.trim_end_matches('/')),
                Some(prometheus.url.as_str().trim_end_matches('/'))
            );
        }
        let url = prometheus.url.join("api/v1/query").unwrap();
        // rate() over 1m needs two scrapes in the window: give a freshly started fleet up to 90 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        let value = loop {
            let body: serde_json::Value =
                http.get(url.clone()).query(&[("query", QUERY)]).send().await.unwrap().json().await.unwrap();
            assert_eq!(body["status"], "success", "{}: {body}", cluster.name);
            let value = body["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok());
            match value {
                Some(v) if v > 0.0 => break v,
                _ if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                _ => panic!("{}: no checkout traffic in Prometheus: {body}", cluster.name),
            }
        };
        assert!(value > 0.0);
        checked += 1;
    }
    assert!(checked > 0, "no cluster in fleetpane.toml has [clusters.prometheus]");
}

/// The demo people: alice (sre: everything), bob (team-a), carol (nothing), dave (viewers: Services and
/// EndpointSlices cluster-wide, no Pods).
fn people() -> Vec<Impersonation> {
    vec![
        Impersonation::new("alice@example.com", ["sre"]),
        Impersonation::new("bob@example.com", ["team-a"]),
        Impersonation::new("carol@example.com", Vec::<String>::new()),
        Impersonation::new("dave@example.com", ["viewers"]),
    ]
}
/// Compares one kind for one person, retrying briefly: pods may come and go between the two reads.
async fn assert_same<R>(
    access: &Access,
    cache: &Cache<R>,
    cluster: &Cluster,
    who: &Impersonation,
    resource: Resource,
    namespaces: &[String],
) -> usize
where
    R: Row,
    R::Object: kube::Resource<Scope = NamespaceResourceScope>,
{
    let mut attempt = 0;
    loop {
        let direct = listed::<R::Object>(cluster, who, namespaces).await;
        let cached = served(access, cache, cluster.name(), who, resource, namespaces).await;
        if direct == cached {
            return direct.values().map(BTreeSet::len).sum();
        }
        attempt += 1;
        assert!(
            attempt < 5,
            "{} {} as {} {:?}:\n direct LISTs: {direct:?}\n Fleetpane:    {cached:?}",
            cluster.name(),
            resource.resource,
            who.user,
            who.groups
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn filtered_caches_equal_impersonated_lists() {
    let facts = facts();
    let fleet = fleet();
    let caches = Caches::start(&fleet);
    let access = Access::start(&fleet, access::DECISION_TTL);
    if !caches.wait_until_live(Duration::from_secs(30)).await {
        let states: Vec<_> = caches.clusters().map(|(name, c)| (name.to_owned(), c.states())).collect();
        panic!("caches not live within 30 s: {states:?}");
    }
    for (cluster, c) in fleet.clusters().iter().zip(&facts.clusters) {
        let cached = caches.cluster(cluster.name()).unwrap();
        let namespaces = namespace_names(&cached.namespaces.read());
        let admin: BTreeSet<String> = Api::<Namespace>::all(admin_client(c))
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert_eq!(
            namespaces.iter().cloned().collect::<BTreeSet<_>>(),
            admin,
            "{}: namespaces",
            cluster.name()
        );

        let mut seen = std::collections::BTreeMap::new();
        for who in people() {
            let services =
                assert_same(&access, &cached.services, cluster, &who, access::SERVICES, &namespaces).await;
            let pods = assert_same(&access, &cached.pods, cluster, &who, access::PODS, &namespaces).await;
            let slices = assert_same(
                &access,
                &cached.endpoint_slices,
                cluster,
                &who,
                access::ENDPOINT_SLICES,
                &namespaces,
            )
            .await;
            seen.insert(who.user.clone(), (services, pods, slices));
        }
        // Not vacuous: the fixtures give each person a different view.
        let (alice, bob, carol, dave) = (
            seen["alice@example.com"],
            seen["bob@example.com"],
            seen["carol@example.com"],
            seen["dave@example.com"],
        );
        assert_eq!(carol, (0, 0, 0), "{}: carol sees nothing", cluster.name());
        assert!(bob.0 > 0 && bob.1 > 0 && bob.0 < alice.0 && bob.1 < alice.1, "{}: {seen:?}", cluster.name());
        assert!(dave.0 == alice.0 && dave.1 == 0 && dave.2 == alice.2, "{}: {seen:?}", cluster.name());
    }
    // Asked again within the TTL: answered from the decision cache, no new review. RBAC changes elsewhere
    // in the cluster (other tests' cleanup) drop the cache now and then, so allow a few attempts.
    let cluster = fleet.clusters()[0].name();
    let mut cached = false;
    for _ in 0..5 {
        assert!(access.allowed(&people()[0], cluster, "list", access::SERVICES, None).await.unwrap());
        let (hits, _, reviews) = access.stats();
        assert!(access.allowed(&people()[0], cluster, "list", access::SERVICES, None).await.unwrap());
        let (hits_after, _, reviews_after) = access.stats();
        if (hits_after, reviews_after) == (hits + 1, reviews) {
            cached = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(cached, "a repeated question never came from the decision cache");
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn fleetpane_never_sends_a_system_name() {
    for cluster in fleet().clusters() {
        // "outsiders" is not in the cluster's impersonable groups (fleetpane.toml's allowed_groups).
        let who = Impersonation::new(
            "alice@example.com",
            ["sre", "system:masters", "system:authenticated", "outsiders"],
        );
        let sent = cluster.sent_as(&who).unwrap();
        assert_eq!(sent, Impersonation::new("alice@example.com", ["sre"]), "{}", cluster.name());
        // Were system:masters or outsiders sent, the cluster would refuse the impersonation (403) outright.
        let services = Api::<Service>::namespaced(cluster.client_as(&who).unwrap(), "team-a")
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", cluster.name()));
        assert!(!services.items.is_empty(), "{}", cluster.name());
        assert!(matches!(
            cluster.client_as(&Impersonation::new("system:admin", ["sre"])),
            Err(impersonate::Error::SystemUser(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn a_revoked_binding_disappears_within_5_s() {
    let facts = facts();
    let fleet = fleet();
    let access = Access::start(&fleet, access::DECISION_TTL);
    let (cluster, c) = (&fleet.clusters()[0], &facts.clusters[0]);
    let bob = Impersonation::new("bob@example.com", ["team-a"]);
    let may_list_in_team_b = || async {
        access.allowed(&bob, cluster.name(), "list", access::SERVICES, Some("team-b")).await.unwrap()
    };
    assert!(!may_list_in_team_b().await, "bob (team-a) may not list team-b");

    let bindings = Api::<RoleBinding>::namespaced(admin_client(c), "team-b");
    let name = "fleetpane-test:team-a-in-team-b";
    let _ = bindings.delete(name, &DeleteParams::default()).await;
    let binding = RoleBinding {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "view".into(),
        },
        subjects: Some(vec![Subject {
            kind: "Group".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            name: "team-a".into(),
            namespace: None,
        }]),
    };
    bindings.create(&PostParams::default(), &binding).await.unwrap();
    let within = |limit: Duration, want: bool| {
        let may = &may_list_in_team_b;
        async move {
            let deadline = tokio::time::Instant::now() + limit;
            loop {
                if may().await == want {
                    return true;
                }
                if tokio::time::Instant::now() >= deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let granted = within(Duration::from_secs(5), true).await;
    bindings.delete(name, &DeleteParams::default()).await.unwrap();
    assert!(granted, "a new binding shows within 5 s (the cached denial is dropped)");
    assert!(within(Duration::from_secs(5), false).await, "a revoked binding disappears within 5 s");
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn fleetpane_reads_no_secrets_or_configmaps() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    for cluster in fleet().clusters() {
        let secrets = Api::<Secret>::all(cluster.client().clone()).list(&ListParams::default()).await;
        assert!(is_forbidden(&secrets), "{}: Fleetpane may list Secrets: {secrets:?}", cluster.name());
        let maps = Api::<ConfigMap>::all(cluster.client().clone()).list(&ListParams::default()).await;
        assert!(is_forbidden(&maps), "{}: Fleetpane may list ConfigMaps: {maps:?}", cluster.name());
        let pods = Api::<Pod>::all(cluster.client().clone()).list(&ListParams::default().limit(1)).await;
        assert!(pods.is_ok(), "{}: Fleetpane cannot list Pods: {pods:?}", cluster.name());
    }
}

/// The same question answered from the caches and live (cluster mode `impersonation_only`) gives the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn impersonation_only_mode_answers_like_the_caches() {
    let config = config();
    let cluster = config.clusters[0].name.clone();
    let cached_fleet = Fleet::from_config(&config.clusters[..1]).unwrap();
    let mut strict = config.clusters[0].clone();
    strict.mode = ClusterMode::ImpersonationOnly;
    let live_fleet = Fleet::from_config(&[strict]).unwrap();

    let caches = Caches::start(&cached_fleet);
    let no_caches = Caches::start(&live_fleet);
    assert!(no_caches.cluster(&cluster).is_none(), "no shared watch in impersonation_only mode");
    let cached_access = Access::start(&cached_fleet, access::DECISION_TTL);
    let live_access = Access::start(&live_fleet, access::DECISION_TTL);
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");

    let bob = Impersonation::new("bob@example.com", ["team-a"]);
    macro_rules! same {
        ($row:ty) => {{
            let cached =
                read::list::<$row>(&cached_fleet, &caches, &cached_access, &bob, &cluster).await.unwrap();
            let live =
                read::list::<$row>(&live_fleet, &no_caches, &live_access, &bob, &cluster).await.unwrap();
            assert_eq!(by_namespace(&cached), by_namespace(&live), "{cluster}: {}", stringify!($row));
            (cached, live)
        }};
    }
    let (services, live_services) = same!(ServiceRow);
    // Services do not change during the test: the rows themselves are equal too, in the same order.
    assert_eq!(services, live_services, "{cluster}: same Service rows");
    let (pods, _) = same!(PodRow);
    same!(EndpointSliceRow);
    assert!(!services.is_empty() && !pods.is_empty(), "{cluster}: bob sees team-a's Services and Pods");
}

/// Namespace reads and the Service page answer "forbidden" as an answer, the same from the caches and live:
/// bob reads team-a but not team-b; dave reads Services but not Pods; the page says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn namespace_reads_and_the_service_page_answer_forbidden_in_place() {
    use fleetpane_server::{
        read::Listed,
        service_page::{self, Target},
    };
    let config = config();
    let cluster = config.clusters[0].name.clone();
    let cached_fleet = Fleet::from_config(&config.clusters[..1]).unwrap();
    let mut strict = config.clusters[0].clone();
    strict.mode = ClusterMode::ImpersonationOnly;
    let live_fleet = Fleet::from_config(&[strict]).unwrap();
    let caches = Caches::start(&cached_fleet);
    let no_caches = Caches::start(&live_fleet);
    let cached_access = Access::start(&cached_fleet, access::DECISION_TTL);
    let live_access = Access::start(&live_fleet, access::DECISION_TTL);
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");

    let bob = Impersonation::new("bob@example.com", ["team-a"]);
    let dave = Impersonation::new("dave@example.com", ["viewers"]);
    let names = |l: Listed<ServiceRow>| match l {
        Listed::Rows(rows) => Some(rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>()),
        Listed::Forbidden => None,
    };
    for (fleet, caches, access) in
        [(&cached_fleet, &caches, &cached_access), (&live_fleet, &no_caches, &live_access)]
    {
        let mode = fleet.get(&cluster).unwrap().mode();
        let team_a =
            read::list_in::<ServiceRow>(fleet, caches, access, &bob, &cluster, "team-a").await.unwrap();
        let team_a = names(team_a).unwrap_or_default();
        assert!(team_a.contains(&"checkout".to_owned()), "{mode:?}: {team_a:?}");
        let team_b =
            read::list_in::<ServiceRow>(fleet, caches, access, &bob, &cluster, "team-b").await.unwrap();
        assert!(matches!(team_b, Listed::Forbidden), "{mode:?}: bob must not list team-b");
        let pods = read::list_in::<PodRow>(fleet, caches, access, &dave, &cluster, "team-a").await.unwrap();
        assert!(matches!(pods, Listed::Forbidden), "{mode:?}: dave must not list pods");

        let target = |ns: &'static str, name: &'static str| Target {
            cluster: &cluster,
            cluster_domain: "cluster.local",
            namespace: ns,
            name,
        };
        let timeout = service_page::CLUSTER_TIMEOUT;
        let page = service_page::service_page(
            fleet,
            caches,
            access,
            None,
            &bob,
            &target("team-a", "checkout"),
            timeout,
        )
        .await
        .unwrap();
        assert!(page.pods_readable && !page.pods.is_empty(), "{mode:?}");
        assert!(page.related.hpas.as_ref().is_some_and(|h| !h.is_empty()), "{mode:?}: {:?}", page.related);
        assert!(page.related.workloads.iter().any(|w| w.kind == "Deployment" && w.name == "checkout"));
        let forbidden = service_page::service_page(
            fleet,
            caches,
            access,
            None,
            &bob,
            &target("team-b", "inventory"),
            timeout,
        )
        .await;
        assert!(matches!(forbidden, Err(service_page::Error::Forbidden { .. })), "{mode:?}: {forbidden:?}");
        let missing =
            service_page::service_page(fleet, caches, access, None, &bob, &target("team-a", "nope"), timeout)
                .await;
        assert!(matches!(missing, Err(service_page::Error::NotFound { .. })), "{mode:?}: {missing:?}");
        let dave_page = service_page::service_page(
            fleet,
            caches,
            access,
            None,
            &dave,
            &target("team-a", "checkout"),
            timeout,
        )
        .await
        .unwrap();
        assert!(!dave_page.pods_readable && dave_page.endpoints_readable, "{mode:?}");
        assert_eq!(dave_page.events, None, "{mode:?}: dave may not list events");
    }
}
