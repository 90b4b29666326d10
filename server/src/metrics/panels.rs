//! The two answers: the Service page's Traffic section and the fleet list's rate column.
//!
//! I/O here is only through [`crate::read`], [`crate::access`] and [`super::Prometheus`]; mapping answers to
//! wire types is in pure functions below.

use std::{collections::BTreeSet, sync::Arc};

use fleetpane_app::model::metrics::{
    FleetRates, MetricsRange, Panel, PodResources, Series, ServiceMetrics, ServiceRate, Traffic,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::ListParams};

use super::{
    Metrics, Prometheus,
    client::{Detected, Eval, PromSeries, QueryError},
    doctor::{Diagnosis, doctor},
    presets::{self, PART_LABEL, QUANTILES, Source, Target},
    promql::{self, KubeName, NamespaceScope, ScopeLabel, alternation, quoted, scoped},
};
use crate::{
    access::{self, Access, Scope},
    fleet::{Cluster, Fleet, Impersonation},
    read,
    views::service::backing_pods,
    watch::{
        Caches,
        rows::{PodRow, ServiceRow},
    },
};

/// Why [`service_metrics`] refused to answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad argument: range, or a name that is no Kubernetes name.
    #[error("{0}")]
    BadRequest(String),
    /// No cluster has this name.
    #[error("unknown cluster {0:?}")]
    UnknownCluster(String),
}

/// The rate window of the fleet list.
pub const FLEET_WINDOW: &str = "5m";

/// The CPU and memory series of pods (cAdvisor's, as the kubelet exposes them).
const CPU_METRIC: &str = "container_cpu_usage_seconds_total";
const MEMORY_METRIC: &str = "container_memory_working_set_bytes";

/// Everything the Traffic section shows for `namespace/name` in `cluster` over `range`, as `who` may see it.
/// `now` is unix seconds. Bad arguments are errors (400); everything else is a panel or its doctor.
#[allow(clippy::too_many_arguments)]
pub async fn service_metrics(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    metrics: &Metrics,
    who: &Impersonation,
    cluster: &str,
    namespace: &str,
    name: &str,
    range: &str,
    now: i64,
) -> Result<ServiceMetrics, Error> {
    let range = MetricsRange::parse(range)
        .ok_or_else(|| Error::BadRequest(format!("range {range:?} is not one of 15m, 1h, 6h, 24h")))?;
    let bad = |e: promql::Error| Error::BadRequest(e.to_string());
    let ns = KubeName::new("namespace", namespace).map_err(bad)?;
    let svc = KubeName::new("service", name).map_err(bad)?;
    let c = fleet.get(cluster).ok_or_else(|| Error::UnknownCluster(cluster.to_owned()))?;
    let step = range.step();
    let end = now - now.rem_euclid(step);
    let eval = Eval::Range { start: end - range.seconds(), end, step };
    let mk = |traffic, resources| ServiceMetrics {
        cluster: cluster.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        range,
        end,
        traffic,
        resources,
    };
    let Some(prom) = metrics.get(cluster) else {
        let d = doctor(&Diagnosis::NotConfigured { cluster });
        return Ok(mk(Panel::Doctor { doctor: d.clone() }, Panel::Doctor { doctor: d }));
    };

    let (services_allowed, pods_allowed) = tokio::join!(
        access.allowed(who, cluster, "list", access::SERVICES, Some(ns.as_str())),
        access.allowed(who, cluster, "list", access::PODS, Some(ns.as_str())),
    );
    let services_allowed = services_allowed.unwrap_or(false);
    let pods_allowed = pods_allowed.unwrap_or(false);
    // The backing pods, read as the person (only when they may list both).
    let pods: Option<Vec<Arc<PodRow>>> = if services_allowed && pods_allowed {
        let (services, pods) = tokio::join!(
            read::list::<ServiceRow>(fleet, caches, access, who, cluster),
            read::list::<PodRow>(fleet, caches, access, who, cluster),
        );
        match (services, pods) {
            (Ok(services), Ok(pods)) => {
                services.iter().find(|s| s.namespace == namespace && s.name == name).map(|s| {
                    backing_pods(s, pods.iter().map(|p| &**p))
                        .into_iter()
                        .map(|p| Arc::new(p.clone()))
                        .collect()
                })
            }
            _ => None,
        }
    } else {
        None
    };
    let pod_names: Vec<KubeName> =
        pods.iter().flatten().filter_map(|p| KubeName::new("pod", &p.name).ok()).collect();
    let scope = NamespaceScope::Only(BTreeSet::from([ns.to_string()]));
    let ctx = Ctx { cluster: c, prom, who, scope: &scope, eval };

    let traffic = async {
        if !services_allowed {
            return Panel::Doctor {
                doctor: doctor(&Diagnosis::NotAllowed {
                    what: format!("list services in {ns} on {cluster}"),
                }),
            };
        }
        traffic_panel(&ctx, &Target { namespace: &ns, service: &svc, pods: &pod_names }, range, now).await
    };
    let resources = async {
        if !pods_allowed {
            return Panel::Doctor {
                doctor: doctor(&Diagnosis::NotAllowed { what: format!("list pods in {ns} on {cluster}") }),
            };
        }
        resources_panel(&ctx, &ns, pods.as_deref().unwrap_or_default(), range).await
    };
    // Detection and the queries each have the configured timeout; the whole answer gets one budget too, so a
    // hanging Prometheus costs the page at most this long.
    let budget = prom.settings().timeout + std::time::Duration::from_millis(250);
    let late = ctx.failed(&QueryError::Unreachable(format!("no answer within {} ms", budget.as_millis())));
    let (traffic, resources) =
        tokio::join!(tokio::time::timeout(budget, traffic), tokio::time::timeout(budget, resources));
    Ok(mk(
        traffic.unwrap_or_else(|_| Panel::Doctor { doctor: late.clone() }),
        resources.unwrap_or(Panel::Doctor { doctor: late }),
    ))
}

/// What every query of one answer shares.
struct Ctx<'a> {
    cluster: &'a Cluster,
    prom: &'a Prometheus,
    who: &'a Impersonation,
    scope: &'a NamespaceScope,
    eval: Eval,
}

impl Ctx<'_> {
    /// Scopes and runs one query: the only way the panels reach Prometheus.
    async fn run(
        &self,
        query: &str,
        label: &ScopeLabel,
        eval: Eval,
    ) -> Result<(String, Vec<PromSeries>), QueryError> {
        let q = scoped(query, self.scope, label)?;
        let answer = self.prom.query(self.cluster, self.who, &q, eval).await?;
        Ok((q.to_string(), answer))
    }

    fn failed(&self, error: &QueryError) -> fleetpane_app::model::metrics::Doctor {
        doctor(&Diagnosis::Failed { cluster: self.cluster.name(), url: self.prom.url().as_str(), error })
    }
}

async fn traffic_panel(ctx: &Ctx<'_>, target: &Target<'_>, range: MetricsRange, now: i64) -> Panel<Traffic> {
    let source = match ctx.prom.source(ctx.cluster, ctx.who, now).await {
        Ok(Detected::Source(s)) => s,
        Ok(Detected::Nothing { looked_for }) => {
            return Panel::Doctor {
                doctor: doctor(&Diagnosis::NoSeries {
                    cluster: ctx.cluster.name(),
                    preset: "auto",
                    metrics: &looked_for,
                }),
            };
        }
        Err(e) => return Panel::Doctor { doctor: ctx.failed(&e) },
    };
    let q = source.service_queries(target, range.window());
    let (rate, errors, latency) = tokio::join!(
        ctx.run(&q.rate, &q.scope, ctx.eval),
        ctx.run(&q.error_share, &q.scope, ctx.eval),
        ctx.run(&q.latency, &q.scope, ctx.eval),
    );
    let (rate, errors, latency) = match (rate, errors, latency) {
        (Ok(r), Ok(e), Ok(l)) => (r, e, l),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Panel::Doctor { doctor: ctx.failed(&e) },
    };
    let source_name = match &source {
        Source::Preset(p) => p.name(),
        Source::Templates(_) => "custom",
    };
    if rate.1.iter().all(|s| s.points.is_empty()) {
        // No traffic in the range: say "no series" only when the metric has none in this namespace at all.
        let probe = format!("count({})", q.probe_metric);
        let Eval::Range { end, .. } = ctx.eval else {
            return Panel::Doctor { doctor: ctx.failed(&QueryError::Rejected("bad eval".into())) };
        };
        match ctx.run(&probe, &q.scope, Eval::Instant(end)).await {
            Ok((_, found)) if found.is_empty() => {
                let metric = if matches!(source, Source::Templates(_)) {
                    "request_rate template"
                } else {
                    q.probe_metric.as_str()
                };
                return Panel::Doctor {
                    doctor: doctor(&Diagnosis::NoSeries {
                        cluster: ctx.cluster.name(),
                        preset: source_name,
                        metrics: &[metric],
                    }),
                };
            }
            Ok(_) => {}
            Err(e) => return Panel::Doctor { doctor: ctx.failed(&e) },
        }
    }
    Panel::Ok {
        data: traffic(source_name, (&rate.0, &rate.1), (&errors.0, &errors.1), (&latency.0, &latency.1)),
    }
}

/// Maps the three answers to the wire type. Pure.
pub fn traffic(
    source: &str,
    rate: (&str, &[PromSeries]),
    errors: (&str, &[PromSeries]),
    latency: (&str, &[PromSeries]),
) -> Traffic {
    let first = |label: &str, answer: &[PromSeries]| Series {
        label: label.to_owned(),
        points: answer.first().map(|s| s.points.clone()).unwrap_or_default(),
    };
    Traffic {
        rate: first("requests/s", rate.1),
        error_share: first("5xx", errors.1),
        latency: QUANTILES
            .iter()
            .zip(["p50", "p95", "p99"])
            .map(|(q, label)| Series {
                label: label.to_owned(),
                points: latency
                    .1
                    .iter()
                    .find(|s| s.labels.get("quantile").map(String::as_str) == Some(*q))
                    .map(|s| s.points.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        source: source.to_owned(),
        queries: vec![
            ("request rate".into(), rate.0.to_owned()),
            ("5xx share".into(), errors.0.to_owned()),
            ("latency".into(), latency.0.to_owned()),
        ],
    }
}

/// The CPU and memory queries for `pods` of `namespace`.
pub fn resource_queries(namespace: &KubeName, pods: &[KubeName], window: &str) -> (String, String) {
    let pods = alternation(pods.iter().map(KubeName::as_str));
    let sel = |metric: &str| {
        format!(
            r#"{metric}{{namespace={},pod=~{pods},container!="",container!="POD"}}"#,
            quoted(namespace.as_str())
        )
    };
    (
        format!("sum by (pod) (rate({}[{window}]))", sel(CPU_METRIC)),
        format!("sum by (pod) ({})", sel(MEMORY_METRIC)),
    )
}

async fn resources_panel(
    ctx: &Ctx<'_>,
    namespace: &KubeName,
    pods: &[Arc<PodRow>],
    range: MetricsRange,
) -> Panel<Vec<PodResources>> {
    let names: Vec<KubeName> = pods.iter().filter_map(|p| KubeName::new("pod", &p.name).ok()).collect();
    if names.is_empty() {
        return Panel::Ok { data: Vec::new() };
    }
    let (cpu_q, memory_q) = resource_queries(namespace, &names, range.window());
    let label = ScopeLabel::plain("namespace");
    let (cpu, memory) = tokio::join!(ctx.run(&cpu_q, &label, ctx.eval), ctx.run(&memory_q, &label, ctx.eval));
    let (cpu, memory) = match (cpu, memory) {
        (Ok(c), Ok(m)) => (c.1, m.1),
        (Err(e), _) | (_, Err(e)) => return Panel::Doctor { doctor: ctx.failed(&e) },
    };
    if cpu.is_empty() && memory.is_empty() {
        return Panel::Doctor {
            doctor: doctor(&Diagnosis::NoSeries {
                cluster: ctx.cluster.name(),
                preset: "container metrics",
                metrics: &[CPU_METRIC, MEMORY_METRIC],
            }),
        };
    }
    Panel::Ok { data: pod_resources(pods, &cpu, &memory) }
}

/// Per pod: usage series and the sums of its containers' requests and limits. Pure.
pub fn pod_resources(pods: &[Arc<PodRow>], cpu: &[PromSeries], memory: &[PromSeries]) -> Vec<PodResources> {
    let of = |answer: &[PromSeries], pod: &str, label: &str| Series {
        label: label.to_owned(),
        points: answer
            .iter()
            .find(|s| s.labels.get("pod").map(String::as_str) == Some(pod))
            .map(|s| s.points.clone())
            .unwrap_or_default(),
    };
    #[allow(clippy::cast_precision_loss)] // Millicores and bytes of real pods are far below 2^52.
    let sum = |values: Vec<Option<i64>>, all: bool, scale: f64| -> Option<f64> {
        let set: Vec<i64> = values.iter().flatten().copied().collect();
        if set.is_empty() || (all && set.len() < values.len()) {
            return None;
        }
        Some(set.iter().sum::<i64>() as f64 * scale)
    };
    pods.iter()
        .map(|p| {
            let r: Vec<_> = p.containers.iter().map(|c| c.resources).collect();
            PodResources {
                pod: p.name.clone(),
                restarts: p.restarts,
                cpu: of(cpu, &p.name, "cpu"),
                memory: of(memory, &p.name, "memory"),
                // A container without a request asks for nothing; without a limit, the pod has none.
                cpu_request: sum(r.iter().map(|r| r.cpu_request_millis).collect(), false, 0.001),
                cpu_limit: sum(r.iter().map(|r| r.cpu_limit_millis).collect(), true, 0.001),
                memory_request: sum(r.iter().map(|r| r.memory_request_bytes).collect(), false, 1.0),
                memory_limit: sum(r.iter().map(|r| r.memory_limit_bytes).collect(), true, 1.0),
            }
        })
        .collect()
}

/// The fleet list's rate column as `who` may see it: one query per cluster (after the cached detection),
/// limited to the namespaces where `who` may list Services. `now` is unix seconds.
pub async fn fleet_rates(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    metrics: &Metrics,
    who: &Impersonation,
    now: i64,
) -> FleetRates {
    let per_cluster = fleet.clusters().iter().map(|c| cluster_rates(c, caches, access, metrics, who, now));
    let mut out = FleetRates::default();
    for result in futures::future::join_all(per_cluster).await {
        match result {
            Ok(rates) => out.rates.extend(rates),
            Err(Some((cluster, d))) => out.doctors.push((cluster, d)),
            Err(None) => {}
        }
    }
    out
}

/// Each Service's request and 5xx rates in `cluster` as `who` may see them, for the doctor and the triage
/// view's blast radius: the fleet query's (cached) answer, or nothing when Prometheus is not configured, fails,
/// or takes longer than `budget` (the doctor then says nothing about traffic).
pub async fn service_rates(
    c: &Cluster,
    caches: &Caches,
    access: &Access,
    metrics: &Metrics,
    who: &Impersonation,
    now: i64,
    budget: std::time::Duration,
) -> RatesByService {
    match tokio::time::timeout(budget, cluster_rates(c, caches, access, metrics, who, now)).await {
        Ok(Ok(rates)) => {
            let mut by: RatesByService = RatesByService::new();
            for r in rates {
                by.entry(r.namespace.clone()).or_default().insert(r.name.clone(), r);
            }
            by
        }
        Ok(Err(why)) => {
            let why = why.map(|(_, d)| d.message);
            tracing::debug!(cluster = c.name(), ?why, "no traffic for the doctor");
            RatesByService::new()
        }
        Err(_) => {
            tracing::debug!(cluster = c.name(), ?budget, "traffic too slow for the doctor");
            RatesByService::new()
        }
    }
}

/// Services' rates by namespace, then name.
pub type RatesByService = std::collections::HashMap<String, std::collections::HashMap<String, ServiceRate>>;

type ClusterRates = Result<Vec<ServiceRate>, Option<(String, fleetpane_app::model::metrics::Doctor)>>;

async fn cluster_rates(
    c: &Cluster,
    caches: &Caches,
    access: &Access,
    metrics: &Metrics,
    who: &Impersonation,
    now: i64,
) -> ClusterRates {
    let name = c.name();
    let Some(prom) = metrics.get(name) else {
        return Err(Some((name.to_owned(), doctor(&Diagnosis::NotConfigured { cluster: name }))));
    };
    let namespaces = match caches.cluster(name) {
        Some(cached) => access::namespace_names(&cached.namespaces.read()),
        None => Api::<Namespace>::all(c.client().clone())
            .list(&ListParams::default())
            .await
            .map(|l| l.items.into_iter().filter_map(|n| n.metadata.name).collect())
            .unwrap_or_default(),
    };
    let scope = access.scope(who, name, "list", access::SERVICES, namespaces).await.map_err(|e| {
        tracing::warn!(cluster = name, error = %e, "no access decision for the rate column");
        None
    })?;
    if matches!(&scope, Scope::Namespaces(set) if set.is_empty()) {
        return Ok(Vec::new());
    }
    let failed = |error: &QueryError| {
        Some((name.to_owned(), doctor(&Diagnosis::Failed { cluster: name, url: prom.url().as_str(), error })))
    };
    let source = match prom.source(c, who, now).await {
        Ok(Detected::Source(s)) => s,
        Ok(Detected::Nothing { looked_for }) => {
            return Err(Some((
                name.to_owned(),
                doctor(&Diagnosis::NoSeries { cluster: name, preset: "auto", metrics: &looked_for }),
            )));
        }
        Err(e) => return Err(failed(&e)),
    };
    let Some(fq) = source.fleet_query(FLEET_WINDOW) else { return Ok(Vec::new()) };
    let query = scoped(&fq.query, &NamespaceScope::from(&scope), &fq.scope).map_err(|e| failed(&e.into()))?;
    // Aligned, so that everyone with the same scope within 15 s shares one cached answer.
    let at = now - now.rem_euclid(15);
    let answer = prom.query(c, who, &query, Eval::Instant(at)).await.map_err(|e| failed(&e))?;
    Ok(rates_from(name, &answer, &fq, &scope))
}

/// The rows of the fleet query's answer, inside `scope` only (defence in depth: the matcher already did it). Pure.
pub fn rates_from(
    cluster: &str,
    answer: &[PromSeries],
    fq: &presets::FleetQuery,
    scope: &Scope,
) -> Vec<ServiceRate> {
    let mut out: Vec<ServiceRate> = Vec::new();
    let mut at: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
    for s in answer {
        let (Some(ns), Some(svc), Some((_, value))) =
            (s.labels.get(&fq.namespace_label), s.labels.get(&fq.service_label), s.points.last())
        else {
            continue;
        };
        if !scope.contains(ns) {
            continue;
        }
        let errors = s.labels.get(PART_LABEL).is_some_and(|p| p == "errors");
        let index = *at.entry((ns.as_str(), svc.as_str())).or_insert_with(|| {
            out.push(ServiceRate {
                cluster: cluster.to_owned(),
                namespace: ns.clone(),
                name: svc.clone(),
                rate: 0.0,
                errors: 0.0,
            });
            out.len() - 1
        });
        let Some(row) = out.get_mut(index) else { continue };
        if errors {
            row.errors += value;
        } else {
            row.rate += value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{metrics::presets::Preset, watch::rows::ContainerRow};

    fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> PromSeries {
        PromSeries {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn fleet_rates_pair_rate_and_errors_and_stay_in_scope() {
        let fq = Source::Preset(Preset::Istio).fleet_query("5m").unwrap();
        let ns = "destination_service_namespace";
        let svc = "destination_service_name";
        let answer = vec![
            series(&[(ns, "team-a"), (svc, "checkout")], &[(1, 120.0)]),
            series(&[(ns, "team-a"), (svc, "checkout"), (PART_LABEL, "errors")], &[(1, 0.12)]),
            series(&[(ns, "team-b"), (svc, "inventory")], &[(1, 25.0)]),
            series(&[(ns, "team-a")], &[(1, 1.0)]),
        ];
        let scope = Scope::Namespaces(BTreeSet::from(["team-a".to_owned()]));
        let rates = rates_from("prod-eu", &answer, &fq, &scope);
        assert_eq!(rates.len(), 1, "team-b is outside the scope: {rates:?}");
        assert_eq!((rates[0].rate, rates[0].errors), (120.0, 0.12));
        assert_eq!(rates_from("prod-eu", &answer, &fq, &Scope::All).len(), 2);
    }

    #[test]
    fn traffic_maps_quantiles_by_label() {
        let t = traffic(
            "istio",
            ("q1", &[series(&[], &[(1, 120.0)])]),
            ("q2", &[series(&[], &[(1, 0.001)])]),
            (
                "q3",
                &[
                    series(&[("quantile", "0.99")], &[(1, 0.18)]),
                    series(&[("quantile", "0.5")], &[(1, 0.04)]),
                ],
            ),
        );
        assert_eq!(t.rate.last(), Some(120.0));
        assert_eq!(t.error_share.last(), Some(0.001));
        let labels: Vec<_> = t.latency.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["p50", "p95", "p99"]);
        assert_eq!(t.latency[0].last(), Some(0.04));
        assert_eq!(t.latency[1].last(), None);
        assert_eq!(t.latency[2].last(), Some(0.18));
        assert_eq!(t.queries.len(), 3);
    }

    #[test]
    fn resource_queries_escape_pod_names_and_requests_sum() {
        let ns = KubeName::new("namespace", "team-a").unwrap();
        let pods = [KubeName::new("pod", "checkout-1.a").unwrap()];
        let (cpu, memory) = resource_queries(&ns, &pods, "2m");
        assert_eq!(
            cpu,
            r#"sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="team-a",pod=~"checkout-1\\.a",container!="",container!="POD"}[2m]))"#
        );
        assert!(memory.starts_with("sum by (pod) (container_memory_working_set_bytes{"), "{memory}");
        let amounts = |req, lim| crate::metrics::ResourceAmounts {
            cpu_request_millis: req,
            cpu_limit_millis: lim,
            memory_request_bytes: Some(1024),
            memory_limit_bytes: lim.map(|_| 2048),
        };
        let pod = Arc::new(PodRow {
            name: "checkout-1".into(),
            restarts: 2,
            containers: vec![
                ContainerRow { resources: amounts(Some(100), Some(200)), ..Default::default() },
                ContainerRow { resources: amounts(Some(50), None), ..Default::default() },
            ],
            ..Default::default()
        });
        let got = pod_resources(&[pod], &[series(&[("pod", "checkout-1")], &[(1, 0.25)])], &[]);
        assert_eq!(got[0].cpu.last(), Some(0.25));
        assert_eq!(got[0].cpu_request, Some(0.15));
        assert_eq!(got[0].cpu_limit, None, "one container has no limit");
        assert_eq!(got[0].memory_request, Some(2048.0));
        assert_eq!(got[0].restarts, 2);
        assert!(got[0].memory.points.is_empty());
    }
}
