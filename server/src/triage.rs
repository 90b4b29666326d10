//! The on-call triage view: every Service the person may see, fleet-wide, that the doctor has findings for,
//! ranked by severity and then blast radius.
//!
//! ```text
//! triage(who, request) ─► every cluster at once, each within its own timeout (a slow or failed cluster is
//!   │                     named in `unavailable`, never waited for):
//!   │   read::list Services, EndpointSlices, Pods, Events, NetworkPolicies, Ingresses, HTTPRoutes, HPAs, PDBs,
//!   │              Deployments, StatefulSets, DaemonSets;  read::nodes (cluster-wide or not at all)
//!   │   access scopes of Pods, EndpointSlices and workloads (which namespaces are readable), namespace labels
//!   └─► rank(clusters, request, thresholds)   pure: per cluster one index (pods by label, slices by Service,
//!                                              events by object, workloads by name and template label, nodes
//!                                              by name and zone, the rest by namespace), then per Service
//!                                              from_rows::diagnose_rows on just its rows
//! ```

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use fleetpane_app::model::{
    doctor::{Severity as WireSeverity, TEAM_LABEL, TriagePage, TriageRequest, TriageRow},
    services::service_href,
};
use jiff::Timestamp;

use crate::{
    access::{self, Access, Scope},
    diagnose::{
        Finding, Severity, Thresholds,
        from_rows::{NodeIndex, Surroundings, WorkloadIndex, diagnose_rows, traffic_facts},
    },
    fleet::{Fleet, Impersonation},
    metrics::{Metrics, RatesByService, service_rates},
    read,
    views::{count_endpoints, selects, service::ServiceInput},
    watch::{
        Caches,
        rows::{
            DaemonSetRow, DeploymentRow, EndpointSliceRow, EventRow, HpaRow, HttpRouteRow, IngressRow,
            NamespaceRow, NetworkPolicyRow, NodeRow, PdbRow, PodRow, ServiceRow, StatefulSetRow,
            WorkloadKind,
        },
    },
};

/// How long one cluster may take before the view is served without it.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(2);

/// One cluster's rows as the person may read them.
#[derive(Clone, Debug)]
pub struct ClusterRows {
    /// The cluster's name.
    pub name: String,
    /// Services.
    pub services: Vec<Arc<ServiceRow>>,
    /// EndpointSlices.
    pub slices: Vec<Arc<EndpointSliceRow>>,
    /// Where EndpointSlices are readable (elsewhere nothing is said about endpoints).
    pub slices_readable: Scope,
    /// Pods.
    pub pods: Vec<Arc<PodRow>>,
    /// Where Pods are readable (elsewhere nothing is said about pods, selectors or ports).
    pub pods_readable: Scope,
    /// Recent Events.
    pub events: Vec<Arc<EventRow>>,
    /// NetworkPolicies.
    pub network_policies: Vec<Arc<NetworkPolicyRow>>,
    /// Ingresses.
    pub ingresses: Vec<Arc<IngressRow>>,
    /// HTTPRoutes.
    pub http_routes: Vec<Arc<HttpRouteRow>>,
    /// HPAs.
    pub hpas: Vec<Arc<HpaRow>>,
    /// PDBs.
    pub pdbs: Vec<Arc<PdbRow>>,
    /// Every namespace with its labels when the person may list namespaces, else only those they may get:
    /// the team filter reads [`TEAM_LABEL`] here.
    pub namespaces: Vec<Arc<NamespaceRow>>,
    /// Whether `namespaces` is all of them (only then do NetworkPolicy namespace selectors get checked).
    pub namespaces_complete: bool,
    /// The cluster's nodes; `None` when the person may not list nodes (nothing is said about nodes then).
    pub nodes: Option<Vec<Arc<NodeRow>>>,
    /// Deployments.
    pub deployments: Vec<Arc<DeploymentRow>>,
    /// Where Deployments are readable (elsewhere a pod's ReplicaSet is taken for its Deployment by name, and
    /// nothing is said about scaled-to-zero Deployments).
    pub deployments_readable: Scope,
    /// StatefulSets.
    pub stateful_sets: Vec<Arc<StatefulSetRow>>,
    /// Where StatefulSets are readable.
    pub stateful_sets_readable: Scope,
    /// DaemonSets.
    pub daemon_sets: Vec<Arc<DaemonSetRow>>,
    /// Where DaemonSets are readable.
    pub daemon_sets_readable: Scope,
    /// Each Service's request and 5xx rates, where Prometheus answered in time (empty otherwise).
    pub rates: RatesByService,
}

impl ClusterRows {
    /// A cluster with these Services and nothing else readable.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            services: Vec::new(),
            slices: Vec::new(),
            slices_readable: Scope::All,
            pods: Vec::new(),
            pods_readable: Scope::All,
            events: Vec::new(),
            network_policies: Vec::new(),
            ingresses: Vec::new(),
            http_routes: Vec::new(),
            hpas: Vec::new(),
            pdbs: Vec::new(),
            namespaces: Vec::new(),
            namespaces_complete: false,
            nodes: None,
            deployments: Vec::new(),
            deployments_readable: Scope::Namespaces(BTreeSet::new()),
            stateful_sets: Vec::new(),
            stateful_sets_readable: Scope::Namespaces(BTreeSet::new()),
            daemon_sets: Vec::new(),
            daemon_sets_readable: Scope::Namespaces(BTreeSet::new()),
            rates: RatesByService::new(),
        }
    }
}

/// Rows of one kind by namespace.
fn by_namespace<R>(rows: &[Arc<R>], ns: impl Fn(&R) -> &str) -> HashMap<&str, Vec<&R>> {
    let mut out: HashMap<&str, Vec<&R>> = HashMap::new();
    for r in rows {
        out.entry(ns(r)).or_default().push(r);
    }
    out
}

/// One cluster's rows, indexed once so each Service costs only its own rows.
struct Index<'a> {
    /// Pods by one label (`key`, `value`), every namespace.
    pods_by_label: HashMap<(&'a str, &'a str), Vec<&'a PodRow>>,
    pods_by_ns: HashMap<&'a str, Vec<&'a PodRow>>,
    slices_by_service: HashMap<(&'a str, &'a str), Vec<&'a EndpointSliceRow>>,
    /// Events by (namespace, kind, name) of the object they are about.
    events_by_object: HashMap<(&'a str, &'a str, &'a str), Vec<&'a EventRow>>,
    policies: HashMap<&'a str, Vec<&'a NetworkPolicyRow>>,
    ingresses: HashMap<&'a str, Vec<&'a IngressRow>>,
    routes_by_backend: HashMap<(&'a str, &'a str), Vec<&'a HttpRouteRow>>,
    hpas: HashMap<&'a str, Vec<&'a HpaRow>>,
    pdbs: HashMap<&'a str, Vec<&'a PdbRow>>,
    teams: HashMap<&'a str, &'a str>,
    /// `None` when the person may not list nodes.
    nodes: Option<NodeIndex<'a>>,
    workloads: WorkloadIndex<'a>,
}

impl<'a> Index<'a> {
    fn new(c: &'a ClusterRows) -> Self {
        let mut pods_by_label: HashMap<(&str, &str), Vec<&PodRow>> = HashMap::new();
        for p in &c.pods {
            for (k, v) in &p.labels {
                pods_by_label.entry((k.as_str(), v.as_str())).or_default().push(p);
            }
        }
        let mut slices_by_service: HashMap<(&str, &str), Vec<&EndpointSliceRow>> = HashMap::new();
        for s in &c.slices {
            if let Some(svc) = s.service.as_deref() {
                slices_by_service.entry((s.namespace.as_str(), svc)).or_default().push(s);
            }
        }
        let mut events_by_object: HashMap<(&str, &str, &str), Vec<&EventRow>> = HashMap::new();
        for e in &c.events {
            let ns = e.object_namespace.as_deref().unwrap_or(&e.namespace);
            let key = (
                ns,
                e.object_kind.as_deref().unwrap_or_default(),
                e.object_name.as_deref().unwrap_or_default(),
            );
            events_by_object.entry(key).or_default().push(e);
        }
        let mut routes_by_backend: HashMap<(&str, &str), Vec<&HttpRouteRow>> = HashMap::new();
        for r in &c.http_routes {
            let targets: BTreeSet<(&str, &str)> = r
                .rules
                .iter()
                .flat_map(|rule| &rule.backend_refs)
                .filter(|b| b.kind == "Service")
                .map(|b| (b.namespace.as_str(), b.name.as_str()))
                .collect();
            for t in targets {
                routes_by_backend.entry(t).or_default().push(r);
            }
        }
        let mut workloads = WorkloadIndex::default();
        let readable = c.deployments_readable.clone();
        workloads.add(WorkloadKind::Deployment, readable, c.deployments.iter().map(|w| &w.0));
        let readable = c.stateful_sets_readable.clone();
        workloads.add(WorkloadKind::StatefulSet, readable, c.stateful_sets.iter().map(|w| &w.0));
        let readable = c.daemon_sets_readable.clone();
        workloads.add(WorkloadKind::DaemonSet, readable, c.daemon_sets.iter().map(|w| &w.0));
        Self {
            nodes: c.nodes.as_ref().map(|nodes| NodeIndex::new(nodes.iter().map(|n| &**n))),
            workloads,
            pods_by_label,
            pods_by_ns: by_namespace(&c.pods, |p| &p.namespace),
            slices_by_service,
            events_by_object,
            policies: by_namespace(&c.network_policies, |p| &p.namespace),
            ingresses: by_namespace(&c.ingresses, |i| &i.namespace),
            routes_by_backend,
            hpas: by_namespace(&c.hpas, |h| &h.namespace),
            pdbs: by_namespace(&c.pdbs, |p| &p.namespace),
            teams: c
                .namespaces
                .iter()
                .filter_map(|n| n.labels.get(TEAM_LABEL).map(|t| (n.name.as_str(), t.as_str())))
                .collect(),
        }
    }
}

fn wire(s: Severity) -> WireSeverity {
    match s {
        Severity::Info => WireSeverity::Info,
        Severity::Warning => WireSeverity::Warning,
        Severity::Critical => WireSeverity::Critical,
    }
}

/// Since when the top finding holds, where something tells: a pending LoadBalancer since the Service's
/// creation; a pod problem since the earliest Ready change of the unready pods it names.
fn since(finding: &Finding, svc: &ServiceRow, pods: &[&PodRow]) -> Option<Timestamp> {
    if finding.code == "exposure.lb-pending" {
        return svc.created;
    }
    finding
        .evidence
        .iter()
        .filter(|e| e.object.kind == "Pod")
        .filter_map(|e| pods.iter().find(|p| p.name == e.object.name && p.namespace == e.object.namespace))
        .filter(|p| !p.ready)
        .filter_map(|p| p.ready_since)
        .min()
}

/// One cluster's Services with findings (after the filters), and how many Services were looked at.
/// A ranked row and its requests per second (the blast radius after endpoints lost).
type Ranked = (TriageRow, f64);

fn rank_cluster(c: &ClusterRows, request: &TriageRequest, thresholds: &Thresholds) -> (Vec<Ranked>, u32) {
    let index = Index::new(c);
    let namespaces: Vec<&NamespaceRow> =
        if c.namespaces_complete { c.namespaces.iter().map(|n| &**n).collect() } else { Vec::new() };
    let mut rows = Vec::new();
    let mut checked = 0u32;
    for svc in &c.services {
        let ns = svc.namespace.as_str();
        let team = index.teams.get(ns).copied();
        if (!request.namespace.is_empty() && request.namespace != ns)
            || (!request.team.is_empty() && team != Some(request.team.as_str()))
        {
            continue;
        }
        checked += 1;
        // Pods: those the selector picks; all of the namespace's when it picks none or there is no selector.
        let (home, foreign): (Vec<&PodRow>, Vec<&PodRow>) = match svc.selector.iter().next() {
            Some((k, v)) => index
                .pods_by_label
                .get(&(k.as_str(), v.as_str()))
                .into_iter()
                .flatten()
                .copied()
                .filter(|p| selects(&svc.selector, &p.labels))
                .partition(|p| p.namespace == ns),
            None => (Vec::new(), Vec::new()),
        };
        let pods: Vec<&PodRow> = if home.is_empty() {
            index.pods_by_ns.get(ns).cloned().unwrap_or_default()
        } else {
            home.clone()
        };
        let mut events: Vec<&EventRow> =
            index.events_by_object.get(&(ns, "Service", svc.name.as_str())).cloned().unwrap_or_default();
        for p in &home {
            events.extend(index.events_by_object.get(&(ns, "Pod", p.name.as_str())).into_iter().flatten());
        }
        let slices: Vec<&EndpointSliceRow> =
            index.slices_by_service.get(&(ns, svc.name.as_str())).cloned().unwrap_or_default();
        let pods_readable = c.pods_readable.contains(ns);
        let rate = c.rates.get(ns).and_then(|by_name| by_name.get(&svc.name));
        let input = ServiceInput {
            cluster: &c.name,
            cluster_domain: "cluster.local",
            service: svc,
            slices: c.slices_readable.contains(ns).then(|| slices.clone()),
            pods: pods_readable.then(|| pods.clone()),
            events: Some(events),
            network_policies: Some(index.policies.get(ns).cloned().unwrap_or_default()),
            ingresses: Some(index.ingresses.get(ns).cloned().unwrap_or_default()),
            http_routes: Some(
                index.routes_by_backend.get(&(ns, svc.name.as_str())).cloned().unwrap_or_default(),
            ),
            hpas: Some(index.hpas.get(ns).cloned().unwrap_or_default()),
            pdbs: Some(index.pdbs.get(ns).cloned().unwrap_or_default()),
        };
        let around = Surroundings {
            namespaces: namespaces.clone(),
            // Only other namespaces the person may read pods in.
            foreign_pods: foreign.into_iter().filter(|p| c.pods_readable.contains(&p.namespace)).collect(),
            nodes: index.nodes.as_ref(),
            workloads: Some(&index.workloads),
            metrics: rate.map(|r| traffic_facts(r.rate, r.errors)),
        };
        let findings = diagnose_rows(&input, &around, thresholds);
        let Some(top) = findings.first() else { continue };
        let counts = count_endpoints(&slices);
        rows.push((
            TriageRow {
                cluster: c.name.clone(),
                namespace: svc.namespace.clone(),
                name: svc.name.clone(),
                href: service_href(&c.name, &svc.namespace, &svc.name),
                team: team.map(str::to_owned),
                severity: wire(top.severity),
                code: top.code.to_owned(),
                title: top.title.clone(),
                others: u32::try_from(findings.len() - 1).unwrap_or(u32::MAX),
                not_ready: counts.total - counts.ready,
                endpoints: counts.total,
                since: since(top, svc, &pods).map(|t| t.to_string()),
                traffic: rate.map(|r| traffic_words(r.rate, r.errors)),
            },
            rate.map_or(0.0, |r| r.rate),
        ));
    }
    (rows, checked)
}

/// Ranks the Services of `clusters` that have findings: most severe first, then most endpoints lost, then by
/// cluster, namespace and name. Applies the request's cluster, namespace and team filters, then keeps the
/// request's page (totals and counts by severity are over all pages). Pure (clusters are ranked on parallel
/// threads); `elapsed_ms` and `unavailable` are left for the caller.
pub fn rank(clusters: &[ClusterRows], request: &TriageRequest, thresholds: &Thresholds) -> TriagePage {
    let wanted: Vec<&ClusterRows> =
        clusters.iter().filter(|c| request.cluster.is_empty() || c.name == request.cluster).collect();
    let results: Vec<(Vec<Ranked>, u32)> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            wanted.iter().map(|c| scope.spawn(move || rank_cluster(c, request, thresholds))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut page =
        TriagePage { clusters: clusters.iter().map(|c| c.name.clone()).collect(), ..Default::default() };
    let mut ranked: Vec<Ranked> = Vec::new();
    for (rows, checked) in results {
        ranked.extend(rows);
        page.checked += checked;
    }
    // Worst first, then the blast radius: endpoints lost, then traffic (requests per second).
    ranked.sort_by(|(a, a_rate), (b, b_rate)| {
        b.severity
            .cmp(&a.severity)
            .then(b.not_ready.cmp(&a.not_ready))
            .then(b_rate.total_cmp(a_rate))
            .then_with(|| (&a.cluster, &a.namespace, &a.name).cmp(&(&b.cluster, &b.namespace, &b.name)))
    });
    page.rows = ranked.into_iter().map(|(row, _)| row).collect();
    let mut namespaces = BTreeSet::new();
    let mut teams = BTreeSet::new();
    for c in &wanted {
        namespaces.extend(c.services.iter().map(|s| s.namespace.clone()));
        teams.extend(c.namespaces.iter().filter_map(|n| n.labels.get(TEAM_LABEL).cloned()));
    }
    page.namespaces = namespaces.into_iter().collect();
    page.teams = teams.into_iter().collect();
    page.paginate(request);
    page
}

/// A Service's traffic in words for the triage row, e.g. `120 req/s · 0.10% 5xx`.
fn traffic_words(rate: f64, errors: f64) -> String {
    let share = if rate > 0.0 { errors / rate * 100.0 } else { 0.0 };
    if rate >= 10.0 {
        format!("{rate:.0} req/s · {share:.2}% 5xx")
    } else {
        format!("{rate:.2} req/s · {share:.2}% 5xx")
    }
}

/// How long the traffic rates may take (Prometheus answers from its cache within it, or is left out).
pub const TRAFFIC_BUDGET: Duration = Duration::from_millis(500);

/// How long a cluster's nodes and workloads may take (they may be read live, as the person, where Fleetpane may
/// not watch them): past it they are left out, and nothing is said about them, rather than about the cluster.
pub const AROUND_TIMEOUT: Duration = Duration::from_secs(1);

/// A read the view can do without: its rows, or `None` (logged) when it failed.
fn optional<T>(cluster: &str, kind: &str, read: Result<T, read::Error>) -> Option<T> {
    read.inspect_err(|e| tracing::warn!(cluster, kind, error = %e, "not readable for triage")).ok()
}

/// Reads one cluster as `who` for the triage view.
async fn read_cluster(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
) -> Result<ClusterRows, read::Error> {
    let (
        (services, slices, pods, events, network_policies, ingresses, http_routes, hpas, pdbs),
        (deployments, stateful_sets, daemon_sets, nodes),
    ) = tokio::join!(
        async {
            tokio::join!(
                read::list::<ServiceRow>(fleet, caches, access, who, cluster),
                read::list::<EndpointSliceRow>(fleet, caches, access, who, cluster),
                read::list::<PodRow>(fleet, caches, access, who, cluster),
                read::list::<EventRow>(fleet, caches, access, who, cluster),
                read::list::<NetworkPolicyRow>(fleet, caches, access, who, cluster),
                read::list::<IngressRow>(fleet, caches, access, who, cluster),
                read::list::<HttpRouteRow>(fleet, caches, access, who, cluster),
                read::list::<HpaRow>(fleet, caches, access, who, cluster),
                read::list::<PdbRow>(fleet, caches, access, who, cluster),
            )
        },
        async {
            let around = async {
                let (deployments, stateful_sets, daemon_sets, nodes) = tokio::join!(
                    read::list::<DeploymentRow>(fleet, caches, access, who, cluster),
                    read::list::<StatefulSetRow>(fleet, caches, access, who, cluster),
                    read::list::<DaemonSetRow>(fleet, caches, access, who, cluster),
                    read::nodes(fleet, caches, access, who, cluster),
                );
                (
                    optional(cluster, "Deployment", deployments),
                    optional(cluster, "StatefulSet", stateful_sets),
                    optional(cluster, "DaemonSet", daemon_sets),
                    optional(cluster, "Node", nodes).flatten(),
                )
            };
            tokio::time::timeout(AROUND_TIMEOUT, around).await.unwrap_or_else(|_| {
                tracing::warn!(cluster, ?AROUND_TIMEOUT, "nodes and workloads too slow for triage: left out");
                (None, None, None, None)
            })
        },
    );
    let services = services?;
    let visible: BTreeSet<String> = services.iter().map(|s| s.namespace.clone()).collect();
    // The same (cached) decisions read::list just made: which namespaces' pods and slices are readable.
    let scope_of = |resource, rows_ok: bool| {
        let visible = visible.clone();
        async move {
            if !rows_ok {
                return Scope::Namespaces(BTreeSet::new());
            }
            access
                .scope(who, cluster, "list", resource, visible)
                .await
                .unwrap_or_else(|_| Scope::Namespaces(BTreeSet::new()))
        }
    };
    let (slices_readable, pods_readable, deployments_readable, stateful_sets_readable, daemon_sets_readable) = tokio::join!(
        scope_of(access::ENDPOINT_SLICES, slices.is_ok()),
        scope_of(access::PODS, pods.is_ok()),
        scope_of(access::DEPLOYMENTS, deployments.is_some()),
        scope_of(access::STATEFUL_SETS, stateful_sets.is_some()),
        scope_of(access::DAEMON_SETS, daemon_sets.is_some()),
    );
    fn ok<R>(cluster: &str, kind: &str, r: Result<Vec<Arc<R>>, read::Error>) -> Vec<Arc<R>> {
        r.inspect_err(|e| tracing::warn!(cluster, kind, error = %e, "not readable for triage"))
            .unwrap_or_default()
    }
    let (namespaces, namespaces_complete) = namespaces(fleet, caches, access, who, cluster, &visible).await;
    Ok(ClusterRows {
        name: cluster.to_owned(),
        services,
        slices: ok(cluster, "EndpointSlice", slices),
        slices_readable,
        pods: ok(cluster, "Pod", pods),
        pods_readable,
        events: ok(cluster, "Event", events),
        network_policies: ok(cluster, "NetworkPolicy", network_policies),
        ingresses: ok(cluster, "Ingress", ingresses),
        http_routes: ok(cluster, "HTTPRoute", http_routes),
        hpas: ok(cluster, "HorizontalPodAutoscaler", hpas),
        pdbs: ok(cluster, "PodDisruptionBudget", pdbs),
        namespaces,
        namespaces_complete,
        nodes,
        deployments: deployments.unwrap_or_default(),
        deployments_readable,
        stateful_sets: stateful_sets.unwrap_or_default(),
        stateful_sets_readable,
        daemon_sets: daemon_sets.unwrap_or_default(),
        daemon_sets_readable,
        rates: RatesByService::new(),
    })
}

/// The namespaces (with labels) the person may see: all of them from the shared cache when they may list
/// namespaces there; otherwise each namespace of a visible Service they may get.
async fn namespaces(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    visible: &BTreeSet<String>,
) -> (Vec<Arc<NamespaceRow>>, bool) {
    let may_list = access.allowed(who, cluster, "list", access::NAMESPACES, None).await.unwrap_or(false);
    if may_list
        && fleet.get(cluster).is_some_and(|c| c.mode() == crate::config::ClusterMode::Cached)
        && let Some(cached) = caches.cluster(cluster)
    {
        return (cached.namespaces.read().rows().cloned().collect(), true);
    }
    let lookups = visible.iter().map(|ns| async move {
        let labels = read::namespace_labels(fleet, caches, access, who, cluster, ns).await.ok().flatten()?;
        Some(Arc::new(NamespaceRow { name: ns.clone(), phase: None, labels }))
    });
    (futures::future::join_all(lookups).await.into_iter().flatten().collect(), false)
}

/// The triage view as `who` may see it: every cluster read at once, each within `timeout` (a cluster that
/// fails or is too slow is named in [`TriagePage::unavailable`]), then [`rank`]ed.
pub async fn triage(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    metrics: Option<&Metrics>,
    who: &Impersonation,
    request: &TriageRequest,
    timeout: Duration,
) -> TriagePage {
    let started = Instant::now();
    let now = Timestamp::now().as_second();
    let names: Vec<&str> = fleet
        .clusters()
        .iter()
        .map(|c| c.name())
        .filter(|n| request.cluster.is_empty() || *n == request.cluster)
        .collect();
    let reads = names.iter().map(|cluster| async move {
        let rates = async {
            match (metrics, fleet.get(cluster)) {
                (Some(m), Some(c)) => service_rates(c, caches, access, m, who, now, TRAFFIC_BUDGET).await,
                _ => RatesByService::new(),
            }
        };
        let rows = tokio::time::timeout(timeout, Box::pin(read_cluster(fleet, caches, access, who, cluster)));
        let (rows, rates) = tokio::join!(rows, rates);
        match rows {
            Ok(Ok(mut rows)) => {
                rows.rates = rates;
                Ok(rows)
            }
            Ok(Err(e)) => {
                tracing::warn!(cluster, error = %e, "cluster not readable for triage");
                Err((*cluster).to_owned())
            }
            Err(_) => {
                tracing::warn!(cluster, ?timeout, "cluster too slow for triage");
                Err((*cluster).to_owned())
            }
        }
    });
    let mut read = Vec::new();
    let mut unavailable = Vec::new();
    for result in futures::future::join_all(reads).await {
        match result {
            Ok(rows) => read.push(rows),
            Err(cluster) => unavailable.push(cluster),
        }
    }
    let request_owned = request.clone();
    let ranked =
        tokio::task::spawn_blocking(move || rank(&read, &request_owned, &Thresholds::default())).await;
    let mut page = ranked.unwrap_or_default();
    page.clusters = fleet.clusters().iter().map(|c| c.name().to_owned()).collect();
    page.unavailable = unavailable;
    page.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    page
}

#[cfg(test)]
mod tests;
