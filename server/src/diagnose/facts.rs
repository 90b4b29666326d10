//! The doctor's input: plain owned facts about a Service and the objects around it.
//!
//! The `views` layer fills these from the watch caches; nothing here knows about kube or k8s-openapi. Kubernetes
//! defaults (a nil `ready` condition means ready, empty `policyTypes` means `Ingress`, ...) are applied by whoever
//! builds the facts, so the rules never guess.

use jiff::Timestamp;

/// Labels or a label selector's `matchLabels`: the compact sorted map the caches keep, so facts are filled
/// from rows without converting.
pub use crate::watch::rows::Labels;

/// Everything the doctor knows about one Service.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The Service itself.
    pub service: ServiceFacts,
    /// Its EndpointSlices.
    pub slices: Vec<EndpointSliceFacts>,
    /// Pods of the Service's namespace (all of them: unselected pods are what typo hints are made of), or only
    /// those that matter when [`Facts::pods_in_namespace`] is set.
    pub pods: Vec<PodFacts>,
    /// How many pods the namespace has, when `pods` holds only some of them (the selected ones, or those with
    /// labels close to an unmatched selector).
    pub pods_in_namespace: Option<usize>,
    /// Pods in *other* namespaces whose labels match the Service's selector.
    pub foreign_matches: Vec<PodFacts>,
    /// Nodes of the cluster.
    pub nodes: Vec<NodeFacts>,
    /// Namespaces with their labels (for NetworkPolicy namespace selectors).
    pub namespaces: Vec<NamespaceFacts>,
    /// Events about the Service, its pods and its workloads.
    pub events: Vec<EventFacts>,
    /// NetworkPolicies of the Service's namespace.
    pub network_policies: Vec<NetworkPolicyFacts>,
    /// Ingresses and HTTPRoutes that name the Service as a backend.
    pub routes: Vec<RouteFacts>,
    /// Workloads whose pod template the selector matches (also when scaled to zero).
    pub workloads: Vec<WorkloadFacts>,
    /// HPAs scaling those workloads.
    pub hpas: Vec<HpaFacts>,
    /// PDBs selecting the Service's pods.
    pub pdbs: Vec<PdbFacts>,
    /// Traffic metrics, when Prometheus has them.
    pub metrics: Option<MetricsFacts>,
    /// Where the ingress controller runs: the caller behind every Ingress and HTTPRoute.
    pub ingress_controller: Option<CallerFacts>,
}

/// A `spec.type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceType {
    /// `ClusterIP` (also headless).
    #[default]
    ClusterIp,
    /// `NodePort`.
    NodePort,
    /// `LoadBalancer`.
    LoadBalancer,
    /// `ExternalName`.
    ExternalName,
}

/// A port protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, the default.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        })
    }
}

/// A port given by number or by name (`targetPort`, a policy port, a backend port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// A number.
    Number(i32),
    /// A container port name.
    Name(String),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(s) => f.write_str(s),
        }
    }
}

/// `externalTrafficPolicy` / `internalTrafficPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrafficPolicy {
    /// Any endpoint in the cluster.
    #[default]
    Cluster,
    /// Only endpoints on the receiving node.
    Local,
}

/// A Service.
#[derive(Debug, Clone, Default)]
pub struct ServiceFacts {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.type`.
    pub type_: ServiceType,
    /// `spec.ports`.
    pub ports: Vec<ServicePortFacts>,
    /// `spec.selector`; `None` (or empty) for a Service without selector.
    pub selector: Option<Labels>,
    /// `spec.externalName`.
    pub external_name: Option<String>,
    /// `spec.externalTrafficPolicy`.
    pub external_traffic_policy: TrafficPolicy,
    /// `spec.internalTrafficPolicy`.
    pub internal_traffic_policy: TrafficPolicy,
    /// `status.loadBalancer.ingress` (IPs or host names).
    pub lb_addresses: Vec<String>,
    /// Since when the load balancer has no address (usually the creation time).
    pub lb_pending_since: Option<Timestamp>,
}

impl ServiceFacts {
    /// The selector, if it selects anything at all (`None` and `{}` both mean "no selector").
    pub fn effective_selector(&self) -> Option<&Labels> {
        self.selector.as_ref().filter(|s| !s.is_empty())
    }
}

/// One entry of `spec.ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePortFacts {
    /// `name`.
    pub name: Option<String>,
    /// `port`.
    pub port: i32,
    /// `targetPort` (Kubernetes defaults it to `port`).
    pub target_port: PortRef,
    /// `protocol`.
    pub protocol: Protocol,
}

/// An EndpointSlice.
#[derive(Debug, Clone, Default)]
pub struct EndpointSliceFacts {
    /// Name.
    pub name: String,
    /// Its endpoints.
    pub endpoints: Vec<EndpointFacts>,
}

/// One endpoint with its conditions.
#[derive(Debug, Clone, Default)]
pub struct EndpointFacts {
    /// Addresses.
    pub addresses: Vec<String>,
    /// `conditions.ready` (nil already read as true).
    pub ready: bool,
    /// `conditions.serving`.
    pub serving: bool,
    /// `conditions.terminating`.
    pub terminating: bool,
    /// `nodeName`.
    pub node: Option<String>,
    /// `zone`.
    pub zone: Option<String>,
    /// `targetRef` name when it is a Pod.
    pub pod: Option<String>,
}

/// A pod's phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PodPhase {
    /// Pending.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// Unknown.
    Unknown,
}

/// Which workload a pod belongs to (Deployments already resolved through their ReplicaSet).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WorkloadRef {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, ...
    pub kind: String,
    /// Name.
    pub name: String,
}

/// A pod.
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// `status.phase`.
    pub phase: PodPhase,
    /// The `Ready` condition.
    pub ready: bool,
    /// Has a deletion timestamp.
    pub terminating: bool,
    /// `spec.nodeName`.
    pub node: Option<String>,
    /// The owning workload.
    pub owner: Option<WorkloadRef>,
    /// The `PodScheduled=False` message when the scheduler could not place it.
    pub unschedulable: Option<String>,
    /// Containers in spec order (the first is the main one).
    pub containers: Vec<ContainerFacts>,
}

/// A container, from spec and status.
#[derive(Debug, Clone, Default)]
pub struct ContainerFacts {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Declared ports.
    pub ports: Vec<ContainerPortFacts>,
    /// The readiness probe's target (e.g. `httpGet :8080/healthz`), if there is one.
    pub readiness_probe: Option<String>,
    /// The liveness probe's target, if there is one.
    pub liveness_probe: Option<String>,
    /// `resources.requests` is set.
    pub has_requests: bool,
    /// `resources.limits` is set.
    pub has_limits: bool,
    /// Container status `ready`.
    pub ready: bool,
    /// `restartCount`.
    pub restart_count: u32,
    /// `state.waiting.reason` (`CrashLoopBackOff`, `ImagePullBackOff`, ...).
    pub waiting_reason: Option<String>,
    /// `state.waiting.message`.
    pub waiting_message: Option<String>,
    /// `lastState.terminated.reason` (`Error`, `OOMKilled`, ...).
    pub last_termination_reason: Option<String>,
    /// `lastState.terminated.exitCode`.
    pub last_exit_code: Option<i32>,
}

/// A declared container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPortFacts {
    /// `name`.
    pub name: Option<String>,
    /// `containerPort`.
    pub port: i32,
    /// `protocol`.
    pub protocol: Protocol,
}

/// A node.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    /// Name.
    pub name: String,
    /// The `Ready` condition is True.
    pub ready: bool,
    /// `topology.kubernetes.io/zone`.
    pub zone: Option<String>,
}

/// A namespace and its labels.
#[derive(Debug, Clone, Default)]
pub struct NamespaceFacts {
    /// Name.
    pub name: String,
    /// Labels (`kubernetes.io/metadata.name` is implied if missing).
    pub labels: Labels,
}

/// An event's type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventType {
    /// Normal.
    #[default]
    Normal,
    /// Warning.
    Warning,
}

/// An event.
#[derive(Debug, Clone, Default)]
pub struct EventFacts {
    /// The object it is about.
    pub involved_kind: String,
    /// Its namespace.
    pub involved_namespace: String,
    /// Its name.
    pub involved_name: String,
    /// `reason` (`Unhealthy`, `FailedScheduling`, `SyncLoadBalancerFailed`, ...).
    pub reason: String,
    /// `message`.
    pub message: String,
    /// `type`.
    pub type_: EventType,
    /// `count` (or the series count).
    pub count: u32,
    /// When it last happened.
    pub last_seen: Option<Timestamp>,
}

/// A label selector with expressions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// `matchLabels`.
    pub match_labels: Labels,
    /// `matchExpressions`.
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorRequirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values for `In` / `NotIn`.
    pub values: Vec<String>,
}

/// A `matchExpressions` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorOperator {
    /// `In`.
    In,
    /// `NotIn`.
    NotIn,
    /// `Exists`.
    Exists,
    /// `DoesNotExist`.
    DoesNotExist,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector (an empty selector matches everything).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    SelectorOperator::In => value.is_some_and(|v| r.values.contains(v)),
                    SelectorOperator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    SelectorOperator::Exists => value.is_some(),
                    SelectorOperator::DoesNotExist => value.is_none(),
                }
            })
    }
}

/// Whether a Service selector (plain equality) matches `labels`.
pub fn selector_matches(selector: &Labels, labels: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A `policyTypes` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    /// `Ingress`.
    Ingress,
    /// `Egress`.
    Egress,
}

/// A NetworkPolicy (ingress side; egress is the reachability evaluator's business).
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicyFacts {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.podSelector`.
    pub pod_selector: LabelSelector,
    /// `spec.policyTypes`, with the Kubernetes default already applied.
    pub policy_types: Vec<PolicyType>,
    /// `spec.ingress`.
    pub ingress: Vec<IngressRuleFacts>,
}

/// One ingress rule: traffic from any of `from` to any of `ports` is allowed.
#[derive(Debug, Clone, Default)]
pub struct IngressRuleFacts {
    /// Peers; empty means every source.
    pub from: Vec<PeerFacts>,
    /// Ports; empty means every port.
    pub ports: Vec<PolicyPortFacts>,
}

/// A `from` peer.
#[derive(Debug, Clone, Default)]
pub struct PeerFacts {
    /// `podSelector`.
    pub pod_selector: Option<LabelSelector>,
    /// `namespaceSelector`.
    pub namespace_selector: Option<LabelSelector>,
    /// `ipBlock.cidr`.
    pub ip_block: Option<String>,
}

/// A policy port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPortFacts {
    /// `port`; `None` means every port.
    pub port: Option<PortRef>,
    /// `endPort`.
    pub end_port: Option<i32>,
    /// `protocol`.
    pub protocol: Protocol,
}

/// Ingress or HTTPRoute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RouteKind {
    /// `networking.k8s.io` Ingress.
    #[default]
    Ingress,
    /// Gateway API HTTPRoute.
    HttpRoute,
}

/// An Ingress or HTTPRoute with its backends.
#[derive(Debug, Clone, Default)]
pub struct RouteFacts {
    /// Which kind.
    pub kind: RouteKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Backends (all of them; the rules pick those naming this Service).
    pub backends: Vec<BackendFacts>,
}

/// An Ingress or HTTPRoute with its backends (the same shape).
pub type IngressFacts = RouteFacts;

/// A backend reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendFacts {
    /// Service namespace (the route's own, unless a cross-namespace ref).
    pub namespace: String,
    /// Service name.
    pub service: String,
    /// Service port by number or name.
    pub port: Option<PortRef>,
}

/// A workload.
#[derive(Debug, Clone, Default)]
pub struct WorkloadFacts {
    /// `Deployment`, `StatefulSet`, ...
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.replicas`.
    pub replicas_desired: i32,
    /// `status.readyReplicas`.
    pub replicas_ready: i32,
}

/// A status condition.
#[derive(Debug, Clone, Default)]
pub struct ConditionFacts {
    /// `type`.
    pub type_: String,
    /// `status == "True"`.
    pub status: bool,
    /// `reason`.
    pub reason: String,
    /// `message`.
    pub message: String,
}

/// A HorizontalPodAutoscaler.
#[derive(Debug, Clone, Default)]
pub struct HpaFacts {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `minReplicas`.
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// `status.currentReplicas`.
    pub current_replicas: i32,
    /// `status.desiredReplicas`.
    pub desired_replicas: i32,
    /// `status.conditions`.
    pub conditions: Vec<ConditionFacts>,
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone, Default)]
pub struct PdbFacts {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
    /// `status.expectedPods`.
    pub expected_pods: i32,
}

/// Traffic metrics over the recent window.
#[derive(Debug, Clone, Default)]
pub struct MetricsFacts {
    /// Requests per second.
    pub request_rate: Option<f64>,
    /// Share of failed requests, 0.0-1.0.
    pub error_rate: Option<f64>,
    /// p99 latency in milliseconds.
    pub p99_latency_ms: Option<f64>,
    /// Who calls the Service, where the mesh or metrics tell.
    pub callers: Vec<CallerFacts>,
}

/// A known caller of the Service.
#[derive(Debug, Clone, Default)]
pub struct CallerFacts {
    /// What it is, for the finding ("ingress controller", "deploy/frontend").
    pub description: String,
    /// Its namespace.
    pub namespace: String,
    /// Its pod labels.
    pub labels: Labels,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn label_selector_semantics() {
        let pod = labels(&[("app", "web"), ("tier", "front")]);
        assert!(LabelSelector::default().matches(&pod), "empty selects all");
        let req = |key: &str, operator, values: &[&str]| SelectorRequirement {
            key: key.to_owned(),
            operator,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        let sel = |r| LabelSelector { match_expressions: vec![r], ..Default::default() };
        assert!(sel(req("app", SelectorOperator::In, &["web", "api"])).matches(&pod));
        assert!(!sel(req("app", SelectorOperator::NotIn, &["web"])).matches(&pod));
        assert!(sel(req("zone", SelectorOperator::NotIn, &["x"])).matches(&pod));
        assert!(sel(req("tier", SelectorOperator::Exists, &[])).matches(&pod));
        assert!(!sel(req("tier", SelectorOperator::DoesNotExist, &[])).matches(&pod));
        let ml = LabelSelector { match_labels: labels(&[("app", "api")]), ..Default::default() };
        assert!(!ml.matches(&pod));
        assert!(selector_matches(&labels(&[("app", "web")]), &pod));
        assert!(!selector_matches(&labels(&[("app", "webb")]), &pod));
    }
}
