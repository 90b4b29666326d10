//! Cached rows → the doctor's [`Facts`]. Pure: the caller has read (and access-filtered) the rows.
//!
//! ```text
//! ServiceInput (Service, slices, pods, events, policies, ingresses, routes, HPAs, PDBs) ─────┐
//! Surroundings (namespaces with labels, pods elsewhere the selector matches,                 ├─► facts() ─► Facts
//!               NodeIndex, WorkloadIndex: built once per cluster or page, shared by Services) ┘
//! ```
//!
//! Kubernetes defaults are applied here (an omitted targetPort is the port, an unset endpoint `ready` is ready,
//! a missing protocol is TCP), so the rules never guess. A kind the person may not read (`None`) gives no facts
//! of that kind: the rules then say nothing about it rather than something wrong. So without nodes nothing is
//! said about nodes, zones or `Local` traffic policies; without workloads [`Facts::workloads`] stays empty (no
//! "scaled to zero") and a pod's ReplicaSet `<deployment>-<pod-template-hash>` is taken for that Deployment, as
//! the Deployment controller names them. Where the person may read Deployments, it is that Deployment only if
//! it exists and selects the pod; otherwise the ReplicaSet itself.

use std::collections::{BTreeSet, HashMap};

use super::{
    Finding, Thresholds, diagnose,
    facts::{
        BackendFacts, CallerFacts, ConditionFacts, ContainerFacts, ContainerPortFacts, EndpointFacts,
        EndpointSliceFacts, EventFacts, EventType, Facts, HpaFacts, IngressRuleFacts, LabelSelector, Labels,
        MetricsFacts, NamespaceFacts, NetworkPolicyFacts, NodeFacts, PdbFacts, PeerFacts, PodFacts, PodPhase,
        PolicyPortFacts, PolicyType, PortRef, Protocol, RouteFacts, RouteKind, SelectorOperator,
        SelectorRequirement, ServiceFacts, ServicePortFacts, ServiceType, TrafficPolicy, WorkloadFacts,
        WorkloadRef,
    },
    rules::selector::within_edit_distance,
};
use crate::{
    access::Scope,
    views::{counted_family, is_ready, is_serving, selects, service::ServiceInput},
    watch::rows::{
        ContainerRow, EndpointSliceRow, EventRow, HpaRow, HttpRouteRow, IngressRow, NamespaceRow,
        NetworkPolicyRow, NodeRow, PodRow, PolicyPeerRow, PolicyPortRow, PortRef as RowPortRef, ProbeRow,
        SelectorRow, ServiceRow, WorkloadKind, WorkloadRow,
    },
};

/// What the doctor reads besides the Service's own rows. Everything is optional.
#[derive(Clone, Debug, Default)]
pub struct Surroundings<'a> {
    /// The cluster's namespaces with their labels (for NetworkPolicy namespace selectors); empty when the
    /// person may not list them.
    pub namespaces: Vec<&'a NamespaceRow>,
    /// Pods of *other* namespaces (only those the selector matches are kept), for "matches pods only in
    /// another namespace".
    pub foreign_pods: Vec<&'a PodRow>,
    /// The cluster's nodes; `None` when the person may not list nodes (then nothing is said about nodes).
    pub nodes: Option<&'a NodeIndex<'a>>,
    /// The workloads the person may read; `None` when none were read.
    pub workloads: Option<&'a WorkloadIndex<'a>>,
    /// The Service's traffic, when Prometheus answered ([`traffic_facts`]).
    pub metrics: Option<MetricsFacts>,
}

/// The doctor's traffic facts from a Service's request and 5xx rates (per second): the error share only when
/// there are requests. p99 latency and callers are not known from these rates.
pub fn traffic_facts(rate: f64, errors: f64) -> MetricsFacts {
    MetricsFacts {
        request_rate: Some(rate),
        error_rate: (rate > 0.0).then(|| (errors / rate).clamp(0.0, 1.0)),
        p99_latency_ms: None,
        callers: Vec::new(),
    }
}

/// The Service page's traffic facts: the request and 5xx rates per second (`None`: not known), the p99
/// latency in milliseconds and the callers ([`caller_facts`]). `None` when nothing at all is known, so that the
/// rules say nothing about traffic.
pub fn metrics_facts(
    rates: Option<(f64, f64)>,
    p99_latency_ms: Option<f64>,
    callers: Vec<CallerFacts>,
) -> Option<MetricsFacts> {
    if rates.is_none() && p99_latency_ms.is_none() && callers.is_empty() {
        return None;
    }
    let mut facts = rates.map(|(rate, errors)| traffic_facts(rate, errors)).unwrap_or_default();
    facts.p99_latency_ms = p99_latency_ms;
    facts.callers = callers;
    Some(facts)
}

/// The callers that metrics name as `(namespace, workload)`, with their pods' labels: the template labels of
/// the Deployment, StatefulSet or DaemonSet of that name in `workloads` (which holds only what the person may
/// read). A caller whose workload is not there, or whose name several kinds hold, is left out: its labels are
/// never guessed.
pub fn caller_facts<'a>(
    callers: impl IntoIterator<Item = (&'a str, &'a str)>,
    workloads: &WorkloadIndex<'_>,
) -> Vec<CallerFacts> {
    let kinds = [
        (WorkloadKind::Deployment, "deploy"),
        (WorkloadKind::StatefulSet, "sts"),
        (WorkloadKind::DaemonSet, "ds"),
    ];
    callers
        .into_iter()
        .filter_map(|(namespace, name)| {
            let mut found = kinds
                .iter()
                .filter_map(|(kind, short)| workloads.get(namespace, *kind, name).map(|w| (short, w)));
            let (short, w) = found.next()?;
            if found.next().is_some() {
                return None;
            }
            Some(CallerFacts {
                description: format!("{short}/{name}"),
                namespace: namespace.to_owned(),
                labels: w.template_labels.clone(),
            })
        })
        .collect()
}

/// A cluster's nodes, indexed once (per triage request or Service page) so that each Service's facts cost only
/// the nodes its rules read.
#[derive(Clone, Debug, Default)]
pub struct NodeIndex<'a> {
    /// Every node, by name.
    by_name: HashMap<&'a str, &'a NodeRow>,
    /// Every node, sorted by name.
    all: Vec<&'a NodeRow>,
    /// One ready node of each zone, by zone: the single-zone risk compares zones, not nodes.
    zones: Vec<NodeFacts>,
}

impl<'a> NodeIndex<'a> {
    /// Indexes `nodes` (the person's: all of the cluster's, as nodes are listed cluster-wide or not at all).
    pub fn new(nodes: impl IntoIterator<Item = &'a NodeRow>) -> Self {
        let mut all: Vec<&NodeRow> = nodes.into_iter().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all.dedup_by(|a, b| a.name == b.name);
        let mut zones: Vec<NodeFacts> = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for node in all.iter().filter(|n| n.is_ready()) {
            if let Some(zone) = node.zone.as_deref()
                && seen.insert(zone)
            {
                zones.push(node_fact(node));
            }
        }
        zones.sort_by(|a, b| a.name.cmp(&b.name));
        Self { by_name: all.iter().map(|n| (n.name.as_str(), *n)).collect(), all, zones }
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

/// Workloads, indexed once (per triage request or Service page): by name for the pods' owners, and by template
/// label for the workloads a Service selector matches. Each kind is added with where the person may read it.
#[derive(Clone, Debug, Default)]
pub struct WorkloadIndex<'a> {
    /// By (namespace, kind, name).
    by_name: HashMap<(&'a str, WorkloadKind, &'a str), &'a WorkloadRow>,
    /// By one template label: (namespace, key, value).
    by_template_label: HashMap<(&'a str, &'a str, &'a str), Vec<&'a WorkloadRow>>,
    /// Where each kind added is readable.
    readable: Vec<(WorkloadKind, Scope)>,
}

impl<'a> WorkloadIndex<'a> {
    /// Adds the workloads of `kind` the person may list, which is in `readable` (elsewhere the index knows
    /// nothing about that kind, and says so through [`WorkloadIndex::readable`]).
    pub fn add(
        &mut self,
        kind: WorkloadKind,
        readable: Scope,
        rows: impl IntoIterator<Item = &'a WorkloadRow>,
    ) {
        for w in rows.into_iter().filter(|w| w.kind == kind && readable.contains(&w.namespace)) {
            self.by_name.insert((w.namespace.as_str(), w.kind, w.name.as_str()), w);
            for (k, v) in &w.template_labels {
                self.by_template_label
                    .entry((w.namespace.as_str(), k.as_str(), v.as_str()))
                    .or_default()
                    .push(w);
            }
        }
        self.readable.push((kind, readable));
    }

    /// Whether the person may read workloads of `kind` in `namespace`.
    pub fn readable(&self, kind: WorkloadKind, namespace: &str) -> bool {
        self.readable.iter().any(|(k, scope)| *k == kind && scope.contains(namespace))
    }

    /// One workload.
    pub fn get(&self, namespace: &str, kind: WorkloadKind, name: &str) -> Option<&'a WorkloadRow> {
        self.by_name.get(&(namespace, kind, name)).copied()
    }

    /// The workloads of `namespace` whose pod template `selector` matches (none for an empty selector), by
    /// kind and name.
    pub fn templated(&self, namespace: &str, selector: &Labels) -> Vec<&'a WorkloadRow> {
        let Some((k, v)) = selector.iter().next() else { return Vec::new() };
        let mut out: Vec<&WorkloadRow> = self
            .by_template_label
            .get(&(namespace, k.as_str(), v.as_str()))
            .into_iter()
            .flatten()
            .copied()
            .filter(|w| selects(selector, &w.template_labels))
            .collect();
        out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        out
    }

    /// The workload owning pod `p` as its `ownerReferences` name it: a ReplicaSet `<deployment>-<hash>` (the
    /// pod's `pod-template-hash`) is that Deployment when it exists and selects the pod, where Deployments are
    /// readable; where they are not, it is taken for that Deployment (the controller's naming).
    pub fn owner(&self, p: &PodRow) -> Option<WorkloadRef> {
        owner(p, Some(self))
    }
}

/// The Service's findings, most severe first. Rules that need a kind the person may not read are left out
/// (pods unreadable: nothing about selectors matching, pods, ports or policies; EndpointSlices unreadable:
/// nothing about endpoints), so a missing permission never reads as an outage.
pub fn diagnose_rows(
    input: &ServiceInput<'_>,
    around: &Surroundings<'_>,
    thresholds: &Thresholds,
) -> Vec<Finding> {
    let mut findings = diagnose(&facts_within(input, around, thresholds.typo_distance), thresholds);
    if input.pods.is_none() {
        findings.retain(|f| !NEEDS_PODS.iter().any(|p| f.code.starts_with(p)));
    }
    if input.slices.is_none() {
        findings.retain(|f| !NEEDS_ENDPOINTS.iter().any(|p| f.code.starts_with(p)));
    }
    findings
}

/// Finding codes (prefixes) that are only right when the pods are known.
const NEEDS_PODS: &[&str] = &[
    "selector.matches",
    "selector.likely-typo",
    "selector.multiple-workloads",
    "selector.manual-endpoints-nowhere",
    "pods.",
    "ports.",
    "netpol.",
    "risk.no-readiness-probe",
    "risk.no-resources",
    "risk.pdb",
    "risk.hpa",
];

/// Finding codes (prefixes) that are only right when the EndpointSlices are known.
const NEEDS_ENDPOINTS: &[&str] = &[
    "selector.none-and-no-endpoints",
    "selector.manual-endpoints-nowhere",
    "pods.only-terminating",
    "traffic.",
    "risk.single-zone",
];

/// The doctor's facts about `input.service`.
pub fn facts(input: &ServiceInput<'_>, around: &Surroundings<'_>) -> Facts {
    facts_within(input, around, Thresholds::default().typo_distance)
}

/// Whether some label is within `distance` edits of a selector term (same key and a close value, or a close
/// key and the same value): a pod a typo hint could name.
fn near(selector: &Labels, labels: &Labels, distance: usize) -> bool {
    let close = |a: &str, b: &str| within_edit_distance(a, b, distance);
    selector
        .iter()
        .any(|(k, v)| labels.iter().any(|(pk, pv)| (pk == k && close(pv, v)) || (pv == v && close(pk, k))))
}

/// Whether a NetworkPolicy of the Service's namespace has a `namespaceSelector` peer (only then do the
/// rules look at namespaces).
fn policies_select_namespaces(input: &ServiceInput<'_>) -> bool {
    input.network_policies.iter().flatten().any(|np| {
        np.namespace == input.service.namespace
            && np.ingress.iter().flat_map(|r| &r.peer_specs).any(|p| p.namespace_selector.is_some())
    })
}

/// [`facts`], keeping of an unmatched selector's namespace only the pods a typo hint (within `typo_distance`)
/// could name: a large namespace then costs nothing to copy.
fn facts_within(input: &ServiceInput<'_>, around: &Surroundings<'_>, typo_distance: usize) -> Facts {
    let svc = input.service;
    let service = service_facts(svc);
    let home_pods: Vec<&PodRow> =
        input.pods.iter().flatten().copied().filter(|p| p.namespace == svc.namespace).collect();
    let selected: Vec<&PodRow> = home_pods
        .iter()
        .copied()
        .filter(|p| !svc.selector.is_empty() && selects(&svc.selector, &p.labels))
        .collect();
    let workloads = around.workloads;
    let owners: BTreeSet<String> = selected
        .iter()
        .filter_map(|p| owner(p, workloads))
        .map(|o| format!("{}/{}", o.kind, o.name))
        .collect();
    let foreign_matches = if svc.selector.is_empty() || !selected.is_empty() {
        Vec::new()
    } else {
        around
            .foreign_pods
            .iter()
            .chain(input.pods.iter().flatten())
            .filter(|p| p.namespace != svc.namespace && selects(&svc.selector, &p.labels))
            .map(|p| pod_facts(p, workloads))
            .collect()
    };
    // The unselected pods only matter when nothing is selected (typo hints, "none of the N pods") or there is
    // no selector (do hand-made endpoints name live pods?): leaving them out keeps large namespaces cheap.
    let near_misses: Vec<&PodRow>;
    let known_pods = if !selected.is_empty() {
        &selected
    } else if svc.selector.is_empty() {
        // Hand-made endpoints: whether the pods they name exist.
        &home_pods
    } else {
        near_misses =
            home_pods.iter().copied().filter(|p| near(&svc.selector, &p.labels, typo_distance)).collect();
        &near_misses
    };
    let pod_names: BTreeSet<&str> = known_pods.iter().map(|p| p.name.as_str()).collect();
    Facts {
        slices: slices(svc, input.slices.iter().flatten().copied()),
        pods: known_pods.iter().map(|p| pod_facts(p, workloads)).collect(),
        foreign_matches,
        pods_in_namespace: (known_pods.len() != home_pods.len()).then_some(home_pods.len()),
        nodes: around.nodes.map(|nodes| node_facts(&service, known_pods, nodes)).unwrap_or_default(),
        // Only NetworkPolicy namespace selectors read the namespaces: copying every namespace's labels for
        // every Service was a hot spot of the triage view.
        namespaces: if policies_select_namespaces(input) {
            around
                .namespaces
                .iter()
                .map(|n| NamespaceFacts { name: n.name.clone(), labels: n.labels.clone() })
                .collect()
        } else {
            Vec::new()
        },
        events: input
            .events
            .iter()
            .flatten()
            .filter(|e| is_about(e, svc, &pod_names))
            .map(|e| event_facts(e))
            .collect(),
        network_policies: input
            .network_policies
            .iter()
            .flatten()
            .filter(|np| np.namespace == svc.namespace)
            .map(|np| policy_facts(np))
            .collect(),
        routes: input
            .ingresses
            .iter()
            .flatten()
            .map(|i| ingress_facts(i))
            .chain(input.http_routes.iter().flatten().map(|r| http_route_facts(r)))
            .filter(|r| r.backends.iter().any(|b| b.namespace == svc.namespace && b.service == svc.name))
            .collect(),
        workloads: workloads.map(|w| workload_facts(svc, w)).unwrap_or_default(),
        hpas: input
            .hpas
            .iter()
            .flatten()
            .filter(|h| h.namespace == svc.namespace && owners.contains(&h.target))
            .map(|h| hpa_facts(h))
            .collect(),
        pdbs: input
            .pdbs
            .iter()
            .flatten()
            .filter(|p| p.namespace == svc.namespace)
            .filter(|p| {
                let selector = parse_selector(&p.selector);
                selected.iter().any(|pod| selector.matches(&pod.labels))
            })
            .map(|p| PdbFacts {
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                disruptions_allowed: p.disruptions_allowed,
                expected_pods: p.expected_pods,
            })
            .collect(),
        metrics: around.metrics.clone(),
        ingress_controller: None,
        service,
    }
}

fn protocol(p: Option<&str>) -> Protocol {
    match p {
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

fn port_ref(s: &str) -> PortRef {
    s.parse().map_or_else(|_| PortRef::Name(s.to_owned()), PortRef::Number)
}

fn traffic_policy(p: Option<&str>) -> TrafficPolicy {
    if p == Some("Local") { TrafficPolicy::Local } else { TrafficPolicy::Cluster }
}

/// The Service's own facts.
pub fn service_facts(svc: &ServiceRow) -> ServiceFacts {
    ServiceFacts {
        namespace: svc.namespace.clone(),
        name: svc.name.clone(),
        type_: match svc.type_.as_str() {
            "NodePort" => ServiceType::NodePort,
            "LoadBalancer" => ServiceType::LoadBalancer,
            "ExternalName" => ServiceType::ExternalName,
            _ => ServiceType::ClusterIp,
        },
        ports: svc
            .ports
            .iter()
            .map(|p| ServicePortFacts {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: p.port,
                target_port: p.target_port.as_deref().map_or(PortRef::Number(p.port), port_ref),
                protocol: protocol(p.protocol.as_deref()),
            })
            .collect(),
        selector: (!svc.selector.is_empty()).then(|| svc.selector.clone()),
        external_name: svc.external_name.clone(),
        external_traffic_policy: traffic_policy(svc.external_traffic_policy.as_deref()),
        internal_traffic_policy: traffic_policy(svc.internal_traffic_policy.as_deref()),
        lb_addresses: svc.load_balancer_ingress.clone(),
        lb_pending_since: svc.created,
    }
}

/// The pod name of an endpoint target `Pod/ns/name`.
fn target_pod(target: Option<&str>) -> Option<&str> {
    target?.strip_prefix("Pod/")?.split_once('/').map(|(_, name)| name)
}

/// The Service's slices of one address family (dual-stack lists every backend once per family).
fn slices<'a>(svc: &ServiceRow, all: impl Iterator<Item = &'a EndpointSliceRow>) -> Vec<EndpointSliceFacts> {
    let own: Vec<&EndpointSliceRow> = all
        .filter(|s| s.namespace == svc.namespace && s.service.as_deref() == Some(svc.name.as_str()))
        .collect();
    let Some(family) = counted_family(&own) else { return Vec::new() };
    own.iter()
        .filter(|s| s.address_type == family)
        .map(|s| EndpointSliceFacts {
            name: s.name.clone(),
            endpoints: s
                .endpoints
                .iter()
                .map(|e| EndpointFacts {
                    addresses: e.addresses.clone(),
                    ready: is_ready(e),
                    serving: is_serving(e),
                    terminating: e.terminating.unwrap_or(false),
                    node: e.node_name.clone(),
                    zone: e.zone.clone(),
                    pod: target_pod(e.target.as_deref()).map(str::to_owned),
                })
                .collect(),
        })
        .collect()
}

/// The workload owning a pod: a ReplicaSet `<name>-<pod-template-hash>` is Deployment `<name>`, unless
/// `workloads` can tell (Deployments readable in the pod's namespace) that no such Deployment selects the pod.
fn owner(p: &PodRow, workloads: Option<&WorkloadIndex<'_>>) -> Option<WorkloadRef> {
    let (kind, name) = p.owner.as_deref()?.split_once('/')?;
    if kind == "ReplicaSet"
        && let Some(hash) = p.labels.get("pod-template-hash")
        && let Some(deployment) = name.strip_suffix(hash.as_str()).and_then(|n| n.strip_suffix('-'))
    {
        let known = workloads.filter(|w| w.readable(WorkloadKind::Deployment, &p.namespace));
        let real = known.is_none_or(|w| {
            w.get(&p.namespace, WorkloadKind::Deployment, deployment)
                .is_some_and(|d| d.selector.matches(&p.labels))
        });
        if real {
            return Some(WorkloadRef { kind: "Deployment".into(), name: deployment.to_owned() });
        }
    }
    Some(WorkloadRef { kind: kind.to_owned(), name: name.to_owned() })
}

/// Whether a traffic policy `Local` applies: then which nodes lack a ready local endpoint matters.
fn local_traffic(service: &ServiceFacts) -> bool {
    service.internal_traffic_policy == TrafficPolicy::Local
        || (service.external_traffic_policy == TrafficPolicy::Local
            && matches!(service.type_, ServiceType::NodePort | ServiceType::LoadBalancer))
}

fn node_fact(n: &NodeRow) -> NodeFacts {
    NodeFacts { name: n.name.clone(), ready: n.is_ready(), zone: n.zone.clone() }
}

/// The nodes the rules read: every node under a `Local` traffic policy (which ready nodes lack a local
/// endpoint); otherwise the unready nodes `pods` run on (pods on unready nodes) and one ready node per zone
/// (which zones the cluster has, for the single-zone risk). Copying every node for every Service would make
/// the triage view scan all nodes once per Service.
fn node_facts(service: &ServiceFacts, pods: &[&PodRow], nodes: &NodeIndex<'_>) -> Vec<NodeFacts> {
    if local_traffic(service) {
        return nodes.all.iter().map(|n| node_fact(n)).collect();
    }
    let mut out = nodes.zones.clone();
    let mut unready: Vec<&NodeRow> = pods
        .iter()
        .filter_map(|p| nodes.by_name.get(p.node_name.as_deref()?))
        .copied()
        .filter(|n| !n.is_ready())
        .collect();
    if !unready.is_empty() {
        unready.sort_by(|a, b| a.name.cmp(&b.name));
        unready.dedup_by(|a, b| a.name == b.name);
        out.extend(unready.into_iter().map(node_fact));
        out.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

/// The workloads of the Service's namespace whose pod template its selector matches. A DaemonSet that wants no
/// pod (no node is eligible) is left out: it is not "scaled to zero", and has no replicas to scale.
fn workload_facts(svc: &ServiceRow, workloads: &WorkloadIndex<'_>) -> Vec<WorkloadFacts> {
    workloads
        .templated(&svc.namespace, &svc.selector)
        .into_iter()
        .filter(|w| w.kind != WorkloadKind::DaemonSet || w.desired > 0)
        .map(|w| WorkloadFacts {
            kind: w.kind.as_str().to_owned(),
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            replicas_desired: w.desired,
            replicas_ready: w.ready,
        })
        .collect()
}

fn probe_text(p: &ProbeRow) -> String {
    if p.kind == "exec" && !p.command.is_empty() {
        format!("exec {}", p.command.join(" "))
    } else {
        p.action.clone()
    }
}

fn container_facts(c: &ContainerRow) -> ContainerFacts {
    ContainerFacts {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        ports: c
            .ports
            .iter()
            .map(|p| ContainerPortFacts {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: p.container_port,
                protocol: protocol(p.protocol.as_deref()),
            })
            .collect(),
        readiness_probe: c.readiness.as_deref().map(probe_text),
        liveness_probe: c.liveness.as_deref().map(probe_text),
        has_requests: c.has_requests,
        has_limits: c.has_limits,
        ready: c.state.ready,
        restart_count: u32::try_from(c.state.restart_count).unwrap_or(0),
        waiting_reason: c.state.waiting_reason.clone(),
        waiting_message: c.state.waiting_message.clone(),
        last_termination_reason: c.state.last_termination_reason.clone(),
        last_exit_code: c.state.last_exit_code,
    }
}

fn pod_facts(p: &PodRow, workloads: Option<&WorkloadIndex<'_>>) -> PodFacts {
    PodFacts {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        labels: p.labels.clone(),
        phase: match p.phase.as_deref() {
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            Some("Unknown") => PodPhase::Unknown,
            _ => PodPhase::Pending,
        },
        ready: p.ready,
        terminating: p.deleting,
        node: p.node_name.clone(),
        owner: owner(p, workloads),
        unschedulable: p.unschedulable.clone(),
        containers: p.containers.iter().map(container_facts).collect(),
    }
}

/// Whether an event is about the Service, one of its slices, or a pod of its namespace.
fn is_about(e: &EventRow, svc: &ServiceRow, pods: &BTreeSet<&str>) -> bool {
    if e.object_namespace.as_deref().unwrap_or(&e.namespace) != svc.namespace {
        return false;
    }
    let name = e.object_name.as_deref().unwrap_or_default();
    match e.object_kind.as_deref() {
        Some("Service") => name == svc.name,
        Some("EndpointSlice") => name.starts_with(&svc.name),
        Some("Pod") => pods.contains(name),
        _ => false,
    }
}

/// An event as the doctor reads it.
pub fn event_facts(e: &EventRow) -> EventFacts {
    EventFacts {
        involved_kind: e.object_kind.clone().unwrap_or_default(),
        involved_namespace: e.object_namespace.clone().unwrap_or_else(|| e.namespace.clone()),
        involved_name: e.object_name.clone().unwrap_or_default(),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        type_: if e.type_.as_deref() == Some("Warning") { EventType::Warning } else { EventType::Normal },
        count: u32::try_from(e.count).unwrap_or(1),
        last_seen: e.last_seen,
    }
}

/// Parses a selector in the one-line form of [`crate::watch::rows::selector_text`] (`all` or empty: everything),
/// as PDB rows keep it. Label keys and values hold no commas, spaces or parentheses, so the form is unambiguous.
pub fn parse_selector(text: &str) -> LabelSelector {
    let mut selector = LabelSelector::default();
    if text.trim() == "all" {
        return selector;
    }
    for part in crate::watch::rows::selector_terms(text) {
        let values = |rest: &str| -> Vec<String> {
            rest.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|v| v.trim().to_owned())
                .collect()
        };
        let requirement = if let Some((key, rest)) = part.split_once(" notin ") {
            Some((key, SelectorOperator::NotIn, values(rest)))
        } else if let Some((key, rest)) = part.split_once(" in ") {
            Some((key, SelectorOperator::In, values(rest)))
        } else if let Some((key, _)) = part.split_once(' ') {
            // An operator the API does not know: select nothing rather than everything.
            Some((key, SelectorOperator::In, Vec::new()))
        } else if let Some(key) = part.strip_prefix('!') {
            Some((key, SelectorOperator::DoesNotExist, Vec::new()))
        } else if let Some((k, v)) = part.split_once('=') {
            selector.match_labels.insert(k.to_owned(), v.to_owned());
            None
        } else {
            Some((part, SelectorOperator::Exists, Vec::new()))
        };
        if let Some((key, operator, values)) = requirement {
            selector.match_expressions.push(SelectorRequirement { key: key.to_owned(), operator, values });
        }
    }
    selector
}

fn selector_facts(s: &SelectorRow) -> LabelSelector {
    LabelSelector {
        match_labels: s.match_labels.clone(),
        match_expressions: s
            .match_expressions
            .iter()
            .map(|r| {
                let operator = match r.operator.as_str() {
                    "NotIn" => SelectorOperator::NotIn,
                    "Exists" => SelectorOperator::Exists,
                    "DoesNotExist" => SelectorOperator::DoesNotExist,
                    // `In`, and an operator the API does not know: In with its values selects no more than
                    // the policy would.
                    _ => SelectorOperator::In,
                };
                let values = if matches!(r.operator.as_str(), "In" | "NotIn" | "Exists" | "DoesNotExist") {
                    r.values.clone()
                } else {
                    Vec::new()
                };
                SelectorRequirement { key: r.key.clone(), operator, values }
            })
            .collect(),
    }
}

fn peer_facts(p: &PolicyPeerRow) -> PeerFacts {
    PeerFacts {
        pod_selector: p.pod_selector.as_ref().map(selector_facts),
        namespace_selector: p.namespace_selector.as_ref().map(selector_facts),
        ip_block: p.ip_block.as_ref().map(|b| b.cidr.clone()),
    }
}

fn policy_port_facts(p: &PolicyPortRow) -> PolicyPortFacts {
    PolicyPortFacts {
        port: p.port.as_ref().map(|port| match port {
            RowPortRef::Number(n) => PortRef::Number(*n),
            RowPortRef::Name(name) => PortRef::Name(name.clone()),
        }),
        end_port: p.end_port,
        protocol: protocol(Some(p.protocol.as_str())),
    }
}

fn policy_facts(np: &NetworkPolicyRow) -> NetworkPolicyFacts {
    NetworkPolicyFacts {
        namespace: np.namespace.clone(),
        name: np.name.clone(),
        pod_selector: selector_facts(&np.selector),
        policy_types: np
            .policy_types
            .iter()
            .filter_map(|t| match t.as_str() {
                "Ingress" => Some(PolicyType::Ingress),
                "Egress" => Some(PolicyType::Egress),
                _ => None,
            })
            .collect(),
        ingress: np
            .ingress
            .iter()
            .map(|r| IngressRuleFacts {
                from: r.peer_specs.iter().map(peer_facts).collect(),
                ports: r.port_specs.iter().map(policy_port_facts).collect(),
            })
            .collect(),
    }
}

fn ingress_facts(i: &IngressRow) -> RouteFacts {
    RouteFacts {
        kind: RouteKind::Ingress,
        namespace: i.namespace.clone(),
        name: i.name.clone(),
        backends: i
            .routes
            .iter()
            .map(|r| &r.backend)
            .chain(i.default_backend.as_ref())
            .filter_map(|b| {
                Some(BackendFacts {
                    namespace: i.namespace.clone(),
                    service: b.service.clone()?,
                    port: b.port.as_deref().map(port_ref),
                })
            })
            .collect(),
    }
}

fn http_route_facts(r: &HttpRouteRow) -> RouteFacts {
    RouteFacts {
        kind: RouteKind::HttpRoute,
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        backends: r
            .rules
            .iter()
            .flat_map(|rule| &rule.backend_refs)
            .filter(|b| b.kind == "Service")
            .map(|b| BackendFacts {
                namespace: b.namespace.clone(),
                service: b.name.clone(),
                port: b.port.map(PortRef::Number),
            })
            .collect(),
    }
}

fn hpa_facts(h: &HpaRow) -> HpaFacts {
    HpaFacts {
        namespace: h.namespace.clone(),
        name: h.name.clone(),
        min_replicas: h.min_replicas,
        max_replicas: h.max_replicas,
        current_replicas: h.current_replicas.unwrap_or(0),
        desired_replicas: h.desired_replicas.unwrap_or(0),
        conditions: h
            .conditions
            .iter()
            .map(|c| ConditionFacts {
                type_: c.type_.clone(),
                status: c.status == "True",
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
