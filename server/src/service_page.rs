//! The Service page for one person: the Service and its namespace's rows read concurrently through
//! [`crate::read`] (the same access decisions as everywhere), the owning workloads from the same rows (or looked
//! up live as the person where the rows cannot tell), then mapped and diagnosed by
//! [`crate::views::service::page_around`].
//!
//! ```text
//! service_page(who, cluster, ns, name) ─► within `timeout`:
//!   ├─ read::list_in Services (forbidden / absent → typed error: the page answers 403 / 404)
//!   ├─ read::list_in EndpointSlices, Pods, Events, NetworkPolicies, Ingresses, HPAs, PDBs,
//!   │                Deployments, StatefulSets, DaemonSets                                  (forbidden → None)
//!   ├─ read::list HTTPRoutes (any namespace may route here)                                (failed → None)
//!   └─ read::nodes (cluster-wide or not at all)                                           (forbidden → None)
//!   └─► backing pods' owners ─► the workload rows (related::cached_workloads); the rest: GET ReplicaSet →
//!       Deployment, StatefulSet, DaemonSet as `who` (forbidden: said so)
//!   └─► views::service::page_around (the doctor with NodeIndex + WorkloadIndex) ─► ServiceDetail (+ freshness)
//! doctor_metrics, alongside the reads (Prometheus within triage::TRAFFIC_BUDGET, scoped as the person):
//!   rates (the rate column's cached answer) + p99 and callers (metrics::facts) ─► callers' workloads read as
//!   `who` in their namespaces (unreadable: left out) ─► Surroundings::metrics
//! ```

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use fleetpane_app::model::services::{Freshness, ServiceDetail, WorkloadView};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use kube::Api;

use crate::{
    access::{Access, Scope},
    config::ClusterMode,
    diagnose::{
        facts::{CallerFacts, MetricsFacts},
        from_rows::{NodeIndex, Surroundings, WorkloadIndex, caller_facts, metrics_facts},
    },
    fleet::{Fleet, Impersonation},
    metrics::{
        Metrics,
        facts::{Caller, service_facts},
        service_rates,
    },
    read::{self, Kind, Listed},
    triage::TRAFFIC_BUDGET,
    views::service::{PageContext, ServiceInput, backing_pods, page_around, related},
    watch::{
        Caches, ClusterCaches,
        rows::{
            DaemonSetRow, DeploymentRow, EndpointSliceRow, EventRow, HpaRow, HttpRouteRow, IngressRow,
            NetworkPolicyRow, NodeRow, PdbRow, PodRow, ServiceRow, StatefulSetRow, WorkloadKind, WorkloadRow,
        },
        store::SyncState,
    },
};

/// How long the cluster may take to answer before the page says it is unavailable.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(4);

/// How long the nodes and the namespace's workloads may take (they may be read live, as the person, where
/// Fleetpane may not watch them): past it the page is diagnosed without them rather than not shown.
pub const AROUND_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the page cannot be shown. Every variant is something the person can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cluster has this name.
    #[error("no cluster is named {0:?}")]
    UnknownCluster(String),
    /// The person may not list Services in the namespace.
    #[error("you can't read Services in {namespace} on {cluster}")]
    Forbidden {
        /// The cluster.
        cluster: String,
        /// The namespace.
        namespace: String,
    },
    /// No such Service (that the person may see).
    #[error("there is no Service {namespace}/{name} in {cluster}")]
    NotFound {
        /// The cluster.
        cluster: String,
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// The cluster did not answer in time.
    #[error("{cluster} did not answer within {} s", .timeout.as_secs())]
    Timeout {
        /// The cluster.
        cluster: String,
        /// The limit.
        timeout: Duration,
    },
    /// The cluster could not be read.
    #[error("{cluster} cannot be read right now")]
    Read {
        /// The cluster.
        cluster: String,
        /// Why.
        #[source]
        source: read::Error,
    },
}

/// One namespaced kind in the namespace, `None` when forbidden or failed (logged).
async fn rows_in<R: Kind>(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    namespace: &str,
) -> Option<Vec<Arc<R>>> {
    match read::list_in::<R>(fleet, caches, access, who, cluster, namespace).await {
        Ok(listed) => listed.rows(),
        Err(e) => {
            let kind = <R::Object as kube::Resource>::kind(&());
            tracing::warn!(cluster, namespace, kind = kind.as_ref(), error = %e, "not readable for the service page");
            None
        }
    }
}

/// The rows the page reads, each `None` when the person may not list that kind (or it failed).
struct PageRows {
    service: Arc<ServiceRow>,
    slices: Option<Vec<Arc<EndpointSliceRow>>>,
    pods: Option<Vec<Arc<PodRow>>>,
    events: Option<Vec<Arc<EventRow>>>,
    network_policies: Option<Vec<Arc<NetworkPolicyRow>>>,
    ingresses: Option<Vec<Arc<IngressRow>>>,
    http_routes: Option<Vec<Arc<HttpRouteRow>>>,
    hpas: Option<Vec<Arc<HpaRow>>>,
    pdbs: Option<Vec<Arc<PdbRow>>>,
    deployments: Option<Vec<Arc<DeploymentRow>>>,
    stateful_sets: Option<Vec<Arc<StatefulSetRow>>>,
    daemon_sets: Option<Vec<Arc<DaemonSetRow>>>,
    nodes: Option<Vec<Arc<NodeRow>>>,
}

async fn read_rows(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<PageRows, Error> {
    let (
        (services, slices, pods, events, network_policies, ingresses, http_routes, hpas, pdbs),
        (deployments, stateful_sets, daemon_sets, nodes),
    ) = tokio::join!(
        async {
            tokio::join!(
                read::list_in::<ServiceRow>(fleet, caches, access, who, cluster, namespace),
                rows_in::<EndpointSliceRow>(fleet, caches, access, who, cluster, namespace),
                rows_in::<PodRow>(fleet, caches, access, who, cluster, namespace),
                rows_in::<EventRow>(fleet, caches, access, who, cluster, namespace),
                rows_in::<NetworkPolicyRow>(fleet, caches, access, who, cluster, namespace),
                rows_in::<IngressRow>(fleet, caches, access, who, cluster, namespace),
                read::list::<HttpRouteRow>(fleet, caches, access, who, cluster),
                rows_in::<HpaRow>(fleet, caches, access, who, cluster, namespace),
                rows_in::<PdbRow>(fleet, caches, access, who, cluster, namespace),
            )
        },
        async {
            let around = async {
                let (deployments, stateful_sets, daemon_sets, nodes) = tokio::join!(
                    rows_in::<DeploymentRow>(fleet, caches, access, who, cluster, namespace),
                    rows_in::<StatefulSetRow>(fleet, caches, access, who, cluster, namespace),
                    rows_in::<DaemonSetRow>(fleet, caches, access, who, cluster, namespace),
                    read::nodes(fleet, caches, access, who, cluster),
                );
                let nodes = nodes
                    .inspect_err(
                        |e| tracing::warn!(cluster, error = %e, "nodes not readable for the service page"),
                    )
                    .ok()
                    .flatten();
                (deployments, stateful_sets, daemon_sets, nodes)
            };
            tokio::time::timeout(AROUND_TIMEOUT, around).await.unwrap_or_else(|_| {
                tracing::warn!(cluster, ?AROUND_TIMEOUT, "nodes and workloads too slow for the service page");
                (None, None, None, None)
            })
        },
    );
    let services = match services {
        Ok(Listed::Rows(rows)) => rows,
        Ok(Listed::Forbidden) => {
            return Err(Error::Forbidden { cluster: cluster.to_owned(), namespace: namespace.to_owned() });
        }
        Err(read::Error::UnknownCluster(c)) => return Err(Error::UnknownCluster(c)),
        Err(source) => return Err(Error::Read { cluster: cluster.to_owned(), source }),
    };
    let service = services.into_iter().find(|s| s.name == name).ok_or_else(|| Error::NotFound {
        cluster: cluster.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })?;
    let http_routes = http_routes
        .inspect_err(|e| tracing::warn!(cluster, error = %e, "httproutes not readable for the service page"))
        .ok();
    Ok(PageRows {
        service,
        slices,
        pods,
        events,
        network_policies,
        ingresses,
        http_routes,
        hpas,
        pdbs,
        deployments,
        stateful_sets,
        daemon_sets,
        nodes,
    })
}

/// Adds one workload kind, read in `namespace` (`None`: the person may not list it there), to `index`.
fn add_workloads<'a, R>(
    index: &mut WorkloadIndex<'a>,
    kind: WorkloadKind,
    namespace: &str,
    rows: &'a Option<Vec<Arc<R>>>,
) where
    R: std::ops::Deref<Target = WorkloadRow>,
{
    let readable = Scope::Namespaces(rows.iter().map(|_| namespace.to_owned()).collect());
    index.add(kind, readable, rows.iter().flatten().map(|r| &***r));
}

/// `Ok(None)`: absent; `Err(true)`: forbidden; `Err(false)`: failed otherwise.
async fn get_as<K>(api: Api<K>, name: &str) -> Result<Option<K>, bool>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(found) => Ok(found),
        Err(kube::Error::Api(s)) if s.code == 403 => Err(true),
        Err(e) => {
            tracing::warn!(error = %e, name, "workload lookup failed");
            Err(false)
        }
    }
}

fn ratio(ready: Option<i32>, desired: Option<i32>) -> Option<String> {
    desired.map(|d| format!("{}/{d}", ready.unwrap_or(0)))
}

/// The owning workloads of `owners` (`(kind, name)` → pods), looked up as `who`: a ReplicaSet's controlling
/// Deployment, a StatefulSet's or DaemonSet's ready replicas. What cannot be read is shown as named, with why.
async fn workloads(
    client: kube::Client,
    cluster: &str,
    namespace: &str,
    owners: BTreeMap<(String, String), u32>,
) -> Vec<WorkloadView> {
    let cant = |what: &str| format!("you can't read {what} in {namespace} on {cluster}");
    let mut out: Vec<WorkloadView> = Vec::new();
    for ((kind, name), pods) in owners {
        let mut view =
            WorkloadView { kind: kind.clone(), name: name.clone(), replicas: None, pods, note: None };
        match kind.as_str() {
            "ReplicaSet" => {
                match get_as(Api::<ReplicaSet>::namespaced(client.clone(), namespace), &name).await {
                    Ok(Some(rs)) => {
                        let owner = rs
                            .metadata
                            .owner_references
                            .iter()
                            .flatten()
                            .find(|o| o.controller == Some(true) && o.kind == "Deployment")
                            .map(|o| o.name.clone());
                        let status = rs.status.as_ref();
                        view.replicas =
                            ratio(status.and_then(|s| s.ready_replicas), status.map(|s| s.replicas));
                        if let Some(deployment) = owner {
                            view.kind = "Deployment".to_owned();
                            view.name = deployment.clone();
                            view.note = Some(format!("through ReplicaSet {name}"));
                            match get_as(
                                Api::<Deployment>::namespaced(client.clone(), namespace),
                                &deployment,
                            )
                            .await
                            {
                                Ok(Some(d)) => {
                                    let s = d.status.as_ref();
                                    view.replicas = ratio(
                                        s.and_then(|s| s.ready_replicas),
                                        d.spec.as_ref().and_then(|spec| spec.replicas),
                                    );
                                }
                                Ok(None) => {}
                                Err(true) => {
                                    view.note =
                                        Some(format!("through ReplicaSet {name}; {}", cant("Deployments")));
                                }
                                Err(false) => {}
                            }
                        }
                    }
                    Ok(None) => view.note = Some("its ReplicaSet is gone".to_owned()),
                    Err(true) => {
                        view.note = Some(format!("{}: its Deployment is not known", cant("ReplicaSets")));
                    }
                    Err(false) => view.note = Some("the ReplicaSet could not be read".to_owned()),
                }
            }
            "StatefulSet" => {
                match get_as(Api::<StatefulSet>::namespaced(client.clone(), namespace), &name).await {
                    Ok(Some(s)) => {
                        view.replicas = ratio(
                            s.status.as_ref().and_then(|st| st.ready_replicas),
                            s.spec.as_ref().and_then(|spec| spec.replicas),
                        );
                    }
                    Err(true) => view.note = Some(cant("StatefulSets")),
                    _ => {}
                }
            }
            "DaemonSet" => match get_as(Api::<DaemonSet>::namespaced(client.clone(), namespace), &name).await
            {
                Ok(Some(d)) => {
                    let s = d.status.as_ref();
                    view.replicas = ratio(s.map(|s| s.number_ready), s.map(|s| s.desired_number_scheduled));
                }
                Err(true) => view.note = Some(cant("DaemonSets")),
                _ => {}
            },
            _ => {}
        }
        out.push(view);
    }
    out
}

/// How current the cluster's caches of the kinds the page reads are.
pub fn freshness(caches: Option<&ClusterCaches>, mode: ClusterMode, now: Timestamp) -> Freshness {
    let Some(c) = caches.filter(|_| mode == ClusterMode::Cached) else {
        return Freshness::ReadNow;
    };
    let states = c.states();
    let since = |pick: fn(&SyncState) -> Option<Timestamp>| states.iter().filter_map(|(_, s)| pick(s)).min();
    if let Some(t) = since(|s| match s {
        SyncState::Unreachable { since, .. } => Some(*since),
        _ => None,
    }) {
        return Freshness::Unreachable { since: related::when(t, Some(now)) };
    }
    if let Some(t) = since(|s| match s {
        SyncState::Stale { since, .. } => Some(*since),
        _ => None,
    }) {
        return Freshness::Stale { since: related::when(t, Some(now)) };
    }
    if states.iter().any(|(_, s)| *s == SyncState::Syncing) { Freshness::Syncing } else { Freshness::Live }
}

/// The doctor's traffic facts for the Service page, from Prometheus within [`TRAFFIC_BUDGET`] (what answers
/// later is left out): the request and 5xx rates (the rate column's cached answer), the p99 latency and the
/// callers ([`service_facts`]: the same namespace scoping for `who`). Each caller gets its pods' labels from the
/// workload of its name that `who` may read in its namespace (within [`AROUND_TIMEOUT`] in all); the others
/// are left out. `None` when nothing is known (no Prometheus answer in time, or `who` may not read it).
#[allow(clippy::too_many_arguments)]
pub async fn doctor_metrics(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    metrics: &Metrics,
    who: &Impersonation,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Option<MetricsFacts> {
    let c = fleet.get(cluster)?;
    let started = tokio::time::Instant::now();
    let now = Timestamp::now().as_second();
    let facts = async {
        tokio::time::timeout(TRAFFIC_BUDGET, service_facts(c, access, metrics, who, namespace, name, now))
            .await
            .unwrap_or_else(|_| {
                tracing::debug!(cluster, ?TRAFFIC_BUDGET, "p99 and callers too slow for the doctor");
                Default::default()
            })
    };
    let (rates, facts) =
        tokio::join!(service_rates(c, caches, access, metrics, who, now, TRAFFIC_BUDGET), facts);
    let rates = rates.get(namespace).and_then(|by_name| by_name.get(name)).map(|r| (r.rate, r.errors));
    let callers = if facts.callers.is_empty() {
        Vec::new()
    } else {
        let left = AROUND_TIMEOUT.saturating_sub(started.elapsed());
        tokio::time::timeout(left, caller_workloads(fleet, caches, access, who, cluster, &facts.callers))
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(cluster, ?AROUND_TIMEOUT, "callers' workloads too slow for the doctor");
                Vec::new()
            })
    };
    metrics_facts(rates, facts.p99_ms, callers)
}

/// `callers` with their pods' labels, from the Deployments, StatefulSets and DaemonSets `who` may list in
/// each caller's namespace (read as everywhere else, [`read::list_in`]); callers whose workload `who` may not
/// read are left out.
async fn caller_workloads(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    callers: &[Caller],
) -> Vec<CallerFacts> {
    let namespaces: std::collections::BTreeSet<&str> = callers.iter().map(|c| c.namespace.as_str()).collect();
    let read = futures::future::join_all(namespaces.into_iter().map(|ns| async move {
        let (deployments, stateful_sets, daemon_sets) = tokio::join!(
            rows_in::<DeploymentRow>(fleet, caches, access, who, cluster, ns),
            rows_in::<StatefulSetRow>(fleet, caches, access, who, cluster, ns),
            rows_in::<DaemonSetRow>(fleet, caches, access, who, cluster, ns),
        );
        (ns, deployments, stateful_sets, daemon_sets)
    }))
    .await;
    let mut index = WorkloadIndex::default();
    for (ns, deployments, stateful_sets, daemon_sets) in &read {
        add_workloads(&mut index, WorkloadKind::Deployment, ns, deployments);
        add_workloads(&mut index, WorkloadKind::StatefulSet, ns, stateful_sets);
        add_workloads(&mut index, WorkloadKind::DaemonSet, ns, daemon_sets);
    }
    caller_facts(callers.iter().map(|c| (c.namespace.as_str(), c.workload.as_str())), &index)
}

/// Borrows the rows of an `Option<Vec<Arc<R>>>`.
fn refs<R>(rows: &Option<Vec<Arc<R>>>) -> Option<Vec<&R>> {
    rows.as_ref().map(|v| v.iter().map(|r| &**r).collect())
}

/// What the page needs to know about the cluster.
pub struct Target<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// Its DNS domain.
    pub cluster_domain: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The Service's name.
    pub name: &'a str,
}

/// The Service page as `who` may see it, within `timeout`.
pub async fn service_page(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    metrics: Option<&Metrics>,
    who: &Impersonation,
    target: &Target<'_>,
    timeout: Duration,
) -> Result<ServiceDetail, Error> {
    let Target { cluster, cluster_domain, namespace, name } = *target;
    let c = fleet.get(cluster).ok_or_else(|| Error::UnknownCluster(cluster.to_owned()))?;
    let timed_out = || Error::Timeout { cluster: cluster.to_owned(), timeout };
    let started = tokio::time::Instant::now();
    // Nine concurrent reads make a large future: boxed, so callers' futures stay small.
    let reads = Box::pin(read_rows(fleet, caches, access, who, cluster, namespace, name));
    // The Service's traffic for the doctor, read alongside (cached, capped).
    let traffic = async {
        match metrics {
            Some(m) => {
                Box::pin(doctor_metrics(fleet, caches, access, m, who, cluster, namespace, name)).await
            }
            None => None,
        }
    };
    let (rows, traffic) = tokio::join!(tokio::time::timeout(timeout, reads), traffic);
    let rows = rows.map_err(|_| timed_out())??;
    let now = Timestamp::now();
    let pods: Option<Vec<&PodRow>> = rows.pods.as_ref().map(|p| p.iter().map(|p| &**p).collect());
    let backing = backing_pods(&rows.service, pods.iter().flatten().copied());
    let mut workload_index = WorkloadIndex::default();
    add_workloads(&mut workload_index, WorkloadKind::Deployment, namespace, &rows.deployments);
    add_workloads(&mut workload_index, WorkloadKind::StatefulSet, namespace, &rows.stateful_sets);
    add_workloads(&mut workload_index, WorkloadKind::DaemonSet, namespace, &rows.daemon_sets);
    let (mut views, unknown) = related::cached_workloads(&rows.service, &backing, &workload_index);
    if !unknown.is_empty() {
        let looked_up = match c.client_as(who) {
            Ok(client) => {
                let left = timeout.saturating_sub(started.elapsed());
                tokio::time::timeout(left, workloads(client, cluster, namespace, unknown.clone())).await.ok()
            }
            Err(_) => None,
        };
        // Not looked up in time: as the pods' owners name them.
        views.extend(looked_up.unwrap_or_else(|| {
            unknown
                .into_iter()
                .map(|((kind, name), pods)| WorkloadView { kind, name, replicas: None, pods, note: None })
                .collect()
        }));
    }
    views.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    let workloads = (!views.is_empty()).then_some(views);
    let node_index = rows.nodes.as_ref().map(|nodes| NodeIndex::new(nodes.iter().map(|n| &**n)));
    let around = Surroundings {
        nodes: node_index.as_ref(),
        workloads: Some(&workload_index),
        metrics: traffic,
        ..Default::default()
    };
    let input = ServiceInput {
        cluster,
        cluster_domain,
        service: &rows.service,
        slices: refs(&rows.slices),
        pods,
        events: refs(&rows.events),
        network_policies: refs(&rows.network_policies),
        ingresses: refs(&rows.ingresses),
        http_routes: refs(&rows.http_routes),
        hpas: refs(&rows.hpas),
        pdbs: refs(&rows.pdbs),
    };
    let mut detail = page_around(&input, &around, &PageContext { now: Some(now), workloads });
    detail.freshness = freshness(caches.cluster(cluster), c.mode(), now);
    Ok(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_without_caches_is_a_live_read() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(freshness(None, ClusterMode::Cached, now), Freshness::ReadNow);
        assert_eq!(freshness(None, ClusterMode::ImpersonationOnly, now), Freshness::ReadNow);
        assert_eq!(ratio(Some(2), Some(3)).as_deref(), Some("2/3"));
        assert_eq!(ratio(None, Some(3)).as_deref(), Some("0/3"));
        assert_eq!(ratio(Some(1), None), None);
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = Error::Forbidden { cluster: "prod-eu".into(), namespace: "team-b".into() };
        assert_eq!(e.to_string(), "you can't read Services in team-b on prod-eu");
        let e =
            Error::NotFound { cluster: "prod-eu".into(), namespace: "team-a".into(), name: "nope".into() };
        assert_eq!(e.to_string(), "there is no Service team-a/nope in prod-eu");
        let e = Error::Timeout { cluster: "prod-us".into(), timeout: Duration::from_secs(4) };
        assert_eq!(e.to_string(), "prod-us did not answer within 4 s");
    }
}
