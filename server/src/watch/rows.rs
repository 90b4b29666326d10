//! Trimmed rows: only the fields the views need, converted from the typed objects as they arrive.
//!
//! A typed Pod costs about 28 KiB of heap, a [`PodRow`] well under 1 KiB. managedFields, annotations, status
//! history and the rest never reach the caches: the typed object is dropped right after conversion.

/// Implements [`Row`] for a namespaced row with `namespace` and `name` fields, made `From` its object.
/// Defined before the submodules so their rows use it too.
macro_rules! row {
    ($row:ty, $object:ty, namespaced) => {
        impl Row for $row {
            type Object = $object;
            fn from_object(object: &$object) -> Self {
                Self::from(object)
            }
            fn namespace(&self) -> &str {
                &self.namespace
            }
            fn name(&self) -> &str {
                &self.name
            }
        }
    };
}

mod event;
mod gateway;
mod labels;
mod network;
mod node;
mod scaling;
mod workload;

use jiff::Timestamp;
use k8s_openapi::{
    api::{
        core::v1::{Container, ContainerStatus, Namespace, Pod, Probe, Service, ServicePort},
        discovery::v1::{Endpoint, EndpointPort, EndpointSlice},
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta},
        util::intstr::IntOrString,
    },
};

pub use self::{
    event::{EVENT_MAX_AGE, EventRow},
    gateway::{BackendRefRow, GATEWAY_GROUP, HttpRoute, HttpRouteRow, HttpRouteRuleRow},
    labels::Labels,
    network::{
        BackendRow, IngressRouteRow, IngressRow, IpBlockRow, NetworkPolicyRow, PolicyPeerRow, PolicyPortRow,
        PolicyRuleRow, PortRef, SelectorRequirementRow, SelectorRow,
    },
    node::{NodeReady, NodeRow, ZONE_LABEL},
    scaling::{ConditionRow, HpaMetricRow, HpaRow, PdbRow},
    workload::{DaemonSetRow, DeploymentRow, StatefulSetRow, WorkloadKind, WorkloadRow},
};

/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A row the caches hold: built from one Kubernetes kind, keyed by namespace and name.
pub trait Row: Clone + Send + Sync + 'static {
    /// The Kubernetes kind it is made from.
    type Object: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static;

    /// The trimmed row.
    fn from_object(object: &Self::Object) -> Self;

    /// Namespace, empty for cluster-scoped kinds.
    fn namespace(&self) -> &str;

    /// Name.
    fn name(&self) -> &str;

    /// Whether [`Row::retained`] depends on time, so the caches sweep old rows out periodically.
    const EXPIRES: bool = false;

    /// Whether the row is still worth keeping at `now`; the caches drop rows that are not. Every row is,
    /// except old Events.
    fn retained(&self, _now: Timestamp) -> bool {
        true
    }
}

/// Splits a selector's text (as [`selector_text`] writes it) on commas outside parentheses:
/// `a=b,c in (d,e)` → `a=b`, `c in (d,e)`.
pub fn selector_terms(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

/// A label selector in one line, kubectl style: `app=web,tier in (a,b),!canary`. Empty: selects everything.
pub fn selector_text(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> =
        selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => format!("{} {other} ({values})", e.key),
        });
    }
    parts.join(",")
}

fn ns_name(meta: &ObjectMeta) -> (String, String) {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

/// The items of an optional list. Collecting from it (rather than from `iter().flatten()`, whose size is unknown
/// up front) allocates exactly as many elements as there are, not a minimum of four.
fn each<T>(items: &Option<Vec<T>>) -> &[T] {
    items.as_deref().unwrap_or_default()
}

fn port_text(port: &IntOrString) -> String {
    match port {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// A Service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    pub type_: String,
    /// `spec.clusterIPs` (or `clusterIP` when only that is set); `None` for headless.
    pub cluster_ips: Vec<String>,
    /// The ports.
    pub ports: Vec<ServicePortRow>,
    /// `spec.selector`; empty means the endpoints are managed by hand.
    pub selector: Labels,
    /// The Service's labels.
    pub labels: Labels,
    /// Load-balancer ingress points, IP or hostname.
    pub load_balancer_ingress: Vec<String>,
    /// `spec.externalName`.
    pub external_name: Option<String>,
    /// `spec.externalTrafficPolicy`.
    pub external_traffic_policy: Option<String>,
    /// `spec.internalTrafficPolicy`.
    pub internal_traffic_policy: Option<String>,
    /// `spec.sessionAffinity`.
    pub session_affinity: Option<String>,
    /// `spec.sessionAffinityConfig.clientIP.timeoutSeconds`.
    pub session_affinity_timeout: Option<i32>,
    /// `spec.ipFamilies`.
    pub ip_families: Vec<String>,
    /// `spec.ipFamilyPolicy`.
    pub ip_family_policy: Option<String>,
    /// `spec.trafficDistribution`.
    pub traffic_distribution: Option<String>,
    /// `metadata.creationTimestamp` (a pending LoadBalancer is pending since then).
    pub created: Option<Timestamp>,
    /// The annotation [`DRIFT_EXPECTED_ANNOTATION`] (the only annotation kept): fields whose differences
    /// between clusters are expected, comma-separated.
    pub drift_expected: Option<String>,
}

/// The Service annotation that marks drift fields as expected: `fleetpane.io/drift-expected: "replicas,images"`.
pub const DRIFT_EXPECTED_ANNOTATION: &str = "fleetpane.io/drift-expected";

/// One port of a Service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServicePortRow {
    /// Port name.
    pub name: Option<String>,
    /// The Service port.
    pub port: i32,
    /// Target port, a number or a container port name.
    pub target_port: Option<String>,
    /// Node port.
    pub node_port: Option<i32>,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// `appProtocol`.
    pub app_protocol: Option<String>,
}

impl From<&ServicePort> for ServicePortRow {
    fn from(p: &ServicePort) -> Self {
        Self {
            name: p.name.clone(),
            port: p.port,
            target_port: p.target_port.as_ref().map(port_text),
            node_port: p.node_port,
            protocol: p.protocol.clone(),
            app_protocol: p.app_protocol.clone(),
        }
    }
}

impl From<&Service> for ServiceRow {
    fn from(s: &Service) -> Self {
        let (namespace, name) = ns_name(&s.metadata);
        let spec = s.spec.clone().unwrap_or_default();
        let cluster_ips = match (spec.cluster_ips, spec.cluster_ip) {
            (Some(ips), _) if !ips.is_empty() => ips,
            (_, Some(ip)) => vec![ip],
            _ => Vec::new(),
        };
        let load_balancer_ingress = s
            .status
            .as_ref()
            .and_then(|st| st.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|ingress| {
                ingress.iter().filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone())).collect()
            })
            .unwrap_or_default();
        Self {
            namespace,
            name,
            type_: spec.type_.unwrap_or_else(|| "ClusterIP".to_owned()),
            cluster_ips,
            ports: each(&spec.ports).iter().map(ServicePortRow::from).collect(),
            selector: spec.selector.map(Labels::from).unwrap_or_default(),
            labels: s.metadata.labels.as_ref().map(Labels::from).unwrap_or_default(),
            load_balancer_ingress,
            external_name: spec.external_name,
            external_traffic_policy: spec.external_traffic_policy,
            internal_traffic_policy: spec.internal_traffic_policy,
            session_affinity: spec.session_affinity,
            session_affinity_timeout: spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds),
            ip_families: spec.ip_families.unwrap_or_default(),
            ip_family_policy: spec.ip_family_policy,
            traffic_distribution: spec.traffic_distribution,
            created: s.metadata.creation_timestamp.as_ref().map(|t| t.0),
            drift_expected: s
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DRIFT_EXPECTED_ANNOTATION))
                .cloned(),
        }
    }
}

/// An EndpointSlice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointSliceRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The owning Service (label `kubernetes.io/service-name`).
    pub service: Option<String>,
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    /// The endpoints.
    pub endpoints: Vec<EndpointRow>,
    /// The ports.
    pub ports: Vec<EndpointPortRow>,
}

/// One endpoint of a slice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointRow {
    /// Its addresses.
    pub addresses: Vec<String>,
    /// `conditions.ready`; unset means ready.
    pub ready: Option<bool>,
    /// `conditions.serving`.
    pub serving: Option<bool>,
    /// `conditions.terminating`.
    pub terminating: Option<bool>,
    /// Node.
    pub node_name: Option<String>,
    /// Zone.
    pub zone: Option<String>,
    /// What it points at, as `Kind/namespace/name`.
    pub target: Option<String>,
    /// Topology hints: zones.
    pub hint_zones: Vec<String>,
    /// Topology hints: nodes.
    pub hint_nodes: Vec<String>,
    /// `hostname` (set for the pods of a StatefulSet's governing Service).
    pub hostname: Option<String>,
}

/// One port of a slice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointPortRow {
    /// Port name (matches the Service port's name).
    pub name: Option<String>,
    /// The port number.
    pub port: Option<i32>,
    /// Protocol.
    pub protocol: Option<String>,
    /// `appProtocol`.
    pub app_protocol: Option<String>,
}

impl From<&Endpoint> for EndpointRow {
    fn from(e: &Endpoint) -> Self {
        let conditions = e.conditions.clone().unwrap_or_default();
        let hints = e.hints.clone().unwrap_or_default();
        Self {
            addresses: e.addresses.clone(),
            ready: conditions.ready,
            serving: conditions.serving,
            terminating: conditions.terminating,
            node_name: e.node_name.clone(),
            zone: e.zone.clone(),
            target: e.target_ref.as_ref().map(|t| {
                format!(
                    "{}/{}/{}",
                    t.kind.as_deref().unwrap_or_default(),
                    t.namespace.as_deref().unwrap_or_default(),
                    t.name.as_deref().unwrap_or_default()
                )
            }),
            hint_zones: hints.for_zones.into_iter().flatten().map(|z| z.name).collect(),
            hint_nodes: hints.for_nodes.into_iter().flatten().map(|n| n.name).collect(),
            hostname: e.hostname.clone(),
        }
    }
}

impl From<&EndpointPort> for EndpointPortRow {
    fn from(p: &EndpointPort) -> Self {
        Self {
            name: p.name.clone(),
            port: p.port,
            protocol: p.protocol.clone(),
            app_protocol: p.app_protocol.clone(),
        }
    }
}

impl From<&EndpointSlice> for EndpointSliceRow {
    fn from(s: &EndpointSlice) -> Self {
        let (namespace, name) = ns_name(&s.metadata);
        Self {
            namespace,
            name,
            service: s.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)).cloned(),
            address_type: s.address_type.clone(),
            endpoints: each(&s.endpoints).iter().map(EndpointRow::from).collect(),
            ports: each(&s.ports).iter().map(EndpointPortRow::from).collect(),
        }
    }
}

/// A Pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels (what Service selectors match).
    pub labels: Labels,
    /// `status.phase`.
    pub phase: Option<String>,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// Restarts summed over the containers.
    pub restarts: i32,
    /// Node.
    pub node_name: Option<String>,
    /// `status.podIP`.
    pub pod_ip: Option<String>,
    /// The controlling owner, as `Kind/name`.
    pub owner: Option<String>,
    /// `status.startTime`, RFC 3339.
    pub start_time: Option<String>,
    /// `metadata.creationTimestamp` (the pod's age).
    pub created: Option<Timestamp>,
    /// The containers' ports and probes.
    pub containers: Vec<ContainerRow>,
    /// Has a deletion timestamp (terminating).
    pub deleting: bool,
    /// The scheduler's message while the `PodScheduled` condition is `False`.
    pub unschedulable: Option<String>,
    /// When the `Ready` condition last changed (how long it has been ready, or not).
    pub ready_since: Option<Timestamp>,
}

/// A container's ports and probes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerRow {
    /// Container name.
    pub name: String,
    /// Declared ports.
    pub ports: Vec<ContainerPortRow>,
    /// Readiness probe.
    pub readiness: Option<Box<ProbeRow>>,
    /// Liveness probe.
    pub liveness: Option<Box<ProbeRow>>,
    /// Startup probe.
    pub startup: Option<Box<ProbeRow>>,
    /// Image.
    pub image: Option<String>,
    /// `resources.requests` is set.
    pub has_requests: bool,
    /// `resources.limits` is set.
    pub has_limits: bool,
    /// From `status.containerStatuses` (default while the pod has none).
    pub state: ContainerStateRow,
    /// CPU and memory requests and limits, as numbers (the metrics panel compares usage with them).
    pub resources: crate::metrics::ResourceAmounts,
}

/// What the kubelet reports about one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerStateRow {
    /// `ready`.
    pub ready: bool,
    /// `restartCount`.
    pub restart_count: i32,
    /// `state.waiting.reason`: `CrashLoopBackOff`, `ImagePullBackOff`, ...
    pub waiting_reason: Option<String>,
    /// `state.waiting.message`.
    pub waiting_message: Option<String>,
    /// `lastState.terminated.reason`: `Error`, `OOMKilled`, ...
    pub last_termination_reason: Option<String>,
    /// `lastState.terminated.exitCode`.
    pub last_exit_code: Option<i32>,
}

impl From<&ContainerStatus> for ContainerStateRow {
    fn from(s: &ContainerStatus) -> Self {
        let waiting = s.state.as_ref().and_then(|st| st.waiting.as_ref());
        let terminated = s.last_state.as_ref().and_then(|st| st.terminated.as_ref());
        Self {
            ready: s.ready,
            restart_count: s.restart_count,
            waiting_reason: waiting.and_then(|w| w.reason.clone()),
            waiting_message: waiting.and_then(|w| w.message.clone()),
            last_termination_reason: terminated.and_then(|t| t.reason.clone()),
            last_exit_code: terminated.map(|t| t.exit_code),
        }
    }
}

/// A declared container port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerPortRow {
    /// Name (what a Service's named targetPort refers to).
    pub name: Option<String>,
    /// The port.
    pub container_port: i32,
    /// Protocol.
    pub protocol: Option<String>,
}

/// A probe: what it checks and when.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeRow {
    /// The summary in one line: `http GET :8080/healthz`, `tcp :5432`, `grpc :9090`, `exec`.
    pub action: String,
    /// `httpGet`, `tcpSocket`, `grpc`, `exec`, or `unknown`.
    pub kind: String,
    /// The port as written: a number or a container port name (`httpGet`, `tcpSocket`, `grpc`).
    pub port: Option<String>,
    /// `httpGet.path`.
    pub path: Option<String>,
    /// `httpGet.scheme` (`HTTP` when unset).
    pub scheme: Option<String>,
    /// `httpGet.host` / `tcpSocket.host`, when set (unset: the pod IP).
    pub host: Option<String>,
    /// `exec.command`.
    pub command: Vec<String>,
    /// `grpc.service`.
    pub grpc_service: Option<String>,
    /// `initialDelaySeconds` (default 0).
    pub initial_delay_seconds: i32,
    /// `periodSeconds` (default 10).
    pub period_seconds: i32,
    /// `timeoutSeconds` (default 1).
    pub timeout_seconds: i32,
    /// `successThreshold` (default 1).
    pub success_threshold: i32,
    /// `failureThreshold` (default 3).
    pub failure_threshold: i32,
}

impl From<&Probe> for ProbeRow {
    fn from(p: &Probe) -> Self {
        let mut row = Self {
            initial_delay_seconds: p.initial_delay_seconds.unwrap_or(0),
            period_seconds: p.period_seconds.unwrap_or(10),
            timeout_seconds: p.timeout_seconds.unwrap_or(1),
            success_threshold: p.success_threshold.unwrap_or(1),
            failure_threshold: p.failure_threshold.unwrap_or(3),
            ..Default::default()
        };
        if let Some(h) = &p.http_get {
            row.kind = "httpGet".to_owned();
            row.port = Some(port_text(&h.port));
            row.path = h.path.clone();
            row.scheme = h.scheme.clone();
            row.host = h.host.clone().filter(|h| !h.is_empty());
            row.action = format!("http GET :{}{}", port_text(&h.port), h.path.as_deref().unwrap_or("/"));
        } else if let Some(t) = &p.tcp_socket {
            row.kind = "tcpSocket".to_owned();
            row.port = Some(port_text(&t.port));
            row.host = t.host.clone().filter(|h| !h.is_empty());
            row.action = format!("tcp :{}", port_text(&t.port));
        } else if let Some(g) = &p.grpc {
            row.kind = "grpc".to_owned();
            row.port = Some(g.port.to_string());
            row.grpc_service = g.service.clone().filter(|s| !s.is_empty());
            row.action = format!("grpc :{}", g.port);
        } else if let Some(e) = &p.exec {
            row.kind = "exec".to_owned();
            row.command = e.command.clone().unwrap_or_default();
            row.action = "exec".to_owned();
        } else {
            row.kind = "unknown".to_owned();
            row.action = "unknown".to_owned();
        }
        row
    }
}

impl From<&Container> for ContainerRow {
    fn from(c: &Container) -> Self {
        Self {
            name: c.name.clone(),
            ports: each(&c.ports)
                .iter()
                .map(|p| ContainerPortRow {
                    name: p.name.clone(),
                    container_port: p.container_port,
                    protocol: p.protocol.clone(),
                })
                .collect(),
            readiness: c.readiness_probe.as_ref().map(|p| Box::new(ProbeRow::from(p))),
            liveness: c.liveness_probe.as_ref().map(|p| Box::new(ProbeRow::from(p))),
            startup: c.startup_probe.as_ref().map(|p| Box::new(ProbeRow::from(p))),
            image: c.image.clone(),
            has_requests: c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|r| !r.is_empty()),
            has_limits: c.resources.as_ref().and_then(|r| r.limits.as_ref()).is_some_and(|r| !r.is_empty()),
            state: ContainerStateRow::default(),
            resources: crate::metrics::ResourceAmounts::of(c.resources.as_ref()),
        }
    }
}

impl From<&Pod> for PodRow {
    fn from(p: &Pod) -> Self {
        let (namespace, name) = ns_name(&p.metadata);
        let status = p.status.as_ref();
        let spec = p.spec.as_ref();
        let statuses: Vec<&ContainerStatus> =
            status.and_then(|s| s.container_statuses.as_ref()).into_iter().flatten().collect();
        let condition = |type_: &str| {
            status.and_then(|s| s.conditions.as_ref()).into_iter().flatten().find(|c| c.type_ == type_)
        };
        Self {
            namespace,
            name,
            labels: p.metadata.labels.as_ref().map(Labels::from).unwrap_or_default(),
            phase: status.and_then(|s| s.phase.clone()),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            restarts: status
                .and_then(|s| s.container_statuses.as_ref())
                .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum()),
            node_name: spec.and_then(|s| s.node_name.clone()),
            pod_ip: status.and_then(|s| s.pod_ip.clone()),
            owner: p
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| format!("{}/{}", o.kind, o.name)),
            start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0.to_string()),
            created: p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            containers: spec
                .map(|s| {
                    s.containers
                        .iter()
                        .map(|c| {
                            let mut row = ContainerRow::from(c);
                            if let Some(st) = statuses.iter().find(|st| st.name == c.name) {
                                row.state = ContainerStateRow::from(*st);
                            }
                            row
                        })
                        .collect()
                })
                .unwrap_or_default(),
            deleting: p.metadata.deletion_timestamp.is_some(),
            unschedulable: condition("PodScheduled")
                .filter(|c| c.status == "False")
                .map(|c| c.message.clone().or_else(|| c.reason.clone()).unwrap_or_default()),
            ready_since: condition("Ready").and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0),
        }
    }
}

/// A Namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceRow {
    /// Name.
    pub name: String,
    /// `status.phase`: `Active` or `Terminating`.
    pub phase: Option<String>,
    /// Labels.
    pub labels: Labels,
}

impl From<&Namespace> for NamespaceRow {
    fn from(n: &Namespace) -> Self {
        Self {
            name: n.metadata.name.clone().unwrap_or_default(),
            phase: n.status.as_ref().and_then(|s| s.phase.clone()),
            labels: n.metadata.labels.as_ref().map(Labels::from).unwrap_or_default(),
        }
    }
}

row!(ServiceRow, Service, namespaced);
row!(EndpointSliceRow, EndpointSlice, namespaced);
row!(PodRow, Pod, namespaced);

impl Row for NamespaceRow {
    type Object = Namespace;
    fn from_object(object: &Namespace) -> Self {
        Self::from(object)
    }
    fn namespace(&self) -> &str {
        ""
    }
    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use k8s_openapi::{
        api::{
            core::v1::{
                ClientIPConfig, ContainerPort, ContainerStatus, ExecAction, GRPCAction, HTTPGetAction,
                LoadBalancerIngress, LoadBalancerStatus, ObjectReference, PodCondition, PodSpec, PodStatus,
                ServiceSpec, ServiceStatus, SessionAffinityConfig, TCPSocketAction,
            },
            discovery::v1::{EndpointConditions, EndpointHints, ForZone},
        },
        apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference, Time},
    };

    use super::*;

    pub(crate) fn mk_meta(ns: &str, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
            managed_fields: Some(vec![ManagedFieldsEntry::default()]),
            ..Default::default()
        }
    }

    fn mk_service() -> Service {
        Service {
            metadata: ObjectMeta {
                creation_timestamp: Some(Time("2026-01-02T03:04:05Z".parse().unwrap())),
                annotations: Some(
                    [
                        (DRIFT_EXPECTED_ANNOTATION.to_owned(), "replicas,images".to_owned()),
                        ("other".to_owned(), "dropped".to_owned()),
                    ]
                    .into(),
                ),
                ..mk_meta("team-a", "checkout", &[("app", "checkout")])
            },
            spec: Some(ServiceSpec {
                type_: Some("LoadBalancer".into()),
                cluster_ip: Some("10.0.0.7".into()),
                cluster_ips: Some(vec!["10.0.0.7".into(), "fd00::7".into()]),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    target_port: Some(IntOrString::String("web".into())),
                    node_port: Some(30080),
                    protocol: Some("TCP".into()),
                    app_protocol: Some("http".into()),
                }]),
                selector: Some([("app".to_owned(), "checkout".to_owned())].into()),
                external_traffic_policy: Some("Local".into()),
                internal_traffic_policy: Some("Cluster".into()),
                session_affinity: Some("ClientIP".into()),
                session_affinity_config: Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig { timeout_seconds: Some(600) }),
                }),
                ip_families: Some(vec!["IPv4".into(), "IPv6".into()]),
                ip_family_policy: Some("PreferDualStack".into()),
                traffic_distribution: Some("PreferClose".into()),
                ..Default::default()
            }),
            status: Some(ServiceStatus {
                load_balancer: Some(LoadBalancerStatus {
                    ingress: Some(vec![
                        LoadBalancerIngress { ip: Some("192.0.2.1".into()), ..Default::default() },
                        LoadBalancerIngress { hostname: Some("lb.example.com".into()), ..Default::default() },
                    ]),
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn service_row_keeps_what_the_views_need() {
        let row = ServiceRow::from(&mk_service());
        assert_eq!((row.namespace.as_str(), row.name.as_str()), ("team-a", "checkout"));
        assert_eq!(row.type_, "LoadBalancer");
        assert_eq!(row.cluster_ips, ["10.0.0.7", "fd00::7"]);
        assert_eq!(
            row.ports,
            [ServicePortRow {
                name: Some("http".into()),
                port: 80,
                target_port: Some("web".into()),
                node_port: Some(30080),
                protocol: Some("TCP".into()),
                app_protocol: Some("http".into()),
            }]
        );
        assert_eq!(row.selector["app"], "checkout");
        assert_eq!(row.labels["app"], "checkout");
        assert_eq!(row.load_balancer_ingress, ["192.0.2.1", "lb.example.com"]);
        assert_eq!(row.external_traffic_policy.as_deref(), Some("Local"));
        assert_eq!(row.session_affinity.as_deref(), Some("ClientIP"));
        assert_eq!(row.session_affinity_timeout, Some(600));
        assert_eq!(row.ip_families, ["IPv4", "IPv6"]);
        assert_eq!(row.ip_family_policy.as_deref(), Some("PreferDualStack"));
        assert_eq!(row.traffic_distribution.as_deref(), Some("PreferClose"));
        assert_eq!(row.created, Some("2026-01-02T03:04:05Z".parse().unwrap()));
        assert_eq!(row.drift_expected.as_deref(), Some("replicas,images"));
    }

    #[test]
    fn bare_service_defaults_to_cluster_ip() {
        let row = ServiceRow::from(&Service { metadata: mk_meta("ns", "s", &[]), ..Default::default() });
        assert_eq!(row.type_, "ClusterIP");
        assert!(row.cluster_ips.is_empty() && row.ports.is_empty() && row.selector.is_empty());
        assert!(row.ip_families.is_empty());
        assert_eq!((row.session_affinity_timeout, row.traffic_distribution, row.created), (None, None, None));
    }

    #[test]
    fn endpoint_slice_row_names_its_service_and_endpoints() {
        let slice = EndpointSlice {
            metadata: mk_meta("team-a", "checkout-abc", &[(SERVICE_NAME_LABEL, "checkout")]),
            address_type: "IPv4".into(),
            endpoints: Some(vec![Endpoint {
                addresses: vec!["10.1.0.5".into()],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    serving: Some(true),
                    terminating: Some(false),
                }),
                node_name: Some("node-1".into()),
                zone: Some("z1".into()),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    namespace: Some("team-a".into()),
                    name: Some("checkout-1".into()),
                    ..Default::default()
                }),
                hints: Some(EndpointHints {
                    for_zones: Some(vec![ForZone { name: "z1".into() }]),
                    ..Default::default()
                }),
                hostname: Some("cache-0".into()),
                ..Default::default()
            }]),
            ports: Some(vec![EndpointPort {
                name: Some("http".into()),
                port: Some(8080),
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        };
        let row = EndpointSliceRow::from(&slice);
        assert_eq!(row.service.as_deref(), Some("checkout"));
        assert_eq!(row.address_type, "IPv4");
        let e = &row.endpoints[0];
        assert_eq!(e.addresses, ["10.1.0.5"]);
        assert_eq!((e.ready, e.serving, e.terminating), (Some(true), Some(true), Some(false)));
        assert_eq!(e.target.as_deref(), Some("Pod/team-a/checkout-1"));
        assert_eq!(e.hint_zones, ["z1"]);
        assert_eq!(e.hostname.as_deref(), Some("cache-0"));
        assert_eq!(row.ports[0].port, Some(8080));
    }

    fn mk_pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                owner_references: Some(vec![
                    OwnerReference { kind: "Node".into(), name: "n".into(), ..Default::default() },
                    OwnerReference {
                        kind: "ReplicaSet".into(),
                        name: "checkout-7d9".into(),
                        controller: Some(true),
                        ..Default::default()
                    },
                ]),
                creation_timestamp: Some(Time("2026-01-02T03:04:00Z".parse().unwrap())),
                ..mk_meta("team-a", "checkout-1", &[("app", "checkout")])
            },
            spec: Some(PodSpec {
                node_name: Some("node-1".into()),
                containers: vec![Container {
                    name: "web".into(),
                    ports: Some(vec![ContainerPort {
                        name: Some("web".into()),
                        container_port: 8080,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    }]),
                    readiness_probe: Some(Probe {
                        http_get: Some(HTTPGetAction {
                            path: Some("/healthz".into()),
                            port: IntOrString::String("web".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    liveness_probe: Some(Probe {
                        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(8080), host: None }),
                        period_seconds: Some(5),
                        failure_threshold: Some(1),
                        initial_delay_seconds: Some(15),
                        timeout_seconds: Some(2),
                        success_threshold: Some(1),
                        ..Default::default()
                    }),
                    startup_probe: Some(Probe {
                        grpc: Some(GRPCAction { port: 9090, service: Some("health".into()) }),
                        period_seconds: Some(5),
                        failure_threshold: Some(30),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some("10.1.0.5".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                container_statuses: Some(vec![
                    ContainerStatus { restart_count: 2, ..Default::default() },
                    ContainerStatus { restart_count: 1, ..Default::default() },
                ]),
                start_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    "2026-01-02T03:04:05Z".parse().unwrap(),
                )),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn pod_row_summarises_status_owner_and_probes() {
        let row = PodRow::from(&mk_pod());
        assert_eq!(row.phase.as_deref(), Some("Running"));
        assert!(row.ready);
        assert_eq!(row.restarts, 3);
        assert_eq!(row.node_name.as_deref(), Some("node-1"));
        assert_eq!(row.pod_ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(row.owner.as_deref(), Some("ReplicaSet/checkout-7d9"));
        assert_eq!(row.start_time.as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(row.created, Some("2026-01-02T03:04:00Z".parse().unwrap()));
        let c = &row.containers[0];
        assert_eq!(c.ports[0].name.as_deref(), Some("web"));
        let readiness = c.readiness.as_ref().unwrap();
        assert_eq!(readiness.action, "http GET :web/healthz");
        assert_eq!(
            (readiness.kind.as_str(), readiness.port.as_deref(), readiness.path.as_deref()),
            ("httpGet", Some("web"), Some("/healthz"))
        );
        // Kubernetes' defaults where the spec leaves them out.
        assert_eq!(
            (
                readiness.initial_delay_seconds,
                readiness.period_seconds,
                readiness.timeout_seconds,
                readiness.success_threshold,
                readiness.failure_threshold
            ),
            (0, 10, 1, 1, 3)
        );
        assert_eq!(
            c.liveness.as_deref(),
            Some(&ProbeRow {
                action: "tcp :8080".into(),
                kind: "tcpSocket".into(),
                port: Some("8080".into()),
                initial_delay_seconds: 15,
                period_seconds: 5,
                timeout_seconds: 2,
                success_threshold: 1,
                failure_threshold: 1,
                ..Default::default()
            })
        );
        let startup = c.startup.as_ref().unwrap();
        assert_eq!(
            (startup.kind.as_str(), startup.port.as_deref(), startup.grpc_service.as_deref()),
            ("grpc", Some("9090"), Some("health"))
        );
        assert_eq!((startup.period_seconds, startup.failure_threshold), (5, 30));
    }

    #[test]
    fn exec_and_empty_probes() {
        let exec = ProbeRow::from(&Probe {
            exec: Some(ExecAction { command: Some(vec!["/app/healthcheck".into(), "--ready".into()]) }),
            ..Default::default()
        });
        assert_eq!((exec.kind.as_str(), exec.action.as_str()), ("exec", "exec"));
        assert_eq!(exec.command, ["/app/healthcheck", "--ready"]);
        assert_eq!(exec.port, None);
        let empty = ProbeRow::from(&Probe::default());
        assert_eq!((empty.kind.as_str(), empty.port, empty.command.len()), ("unknown", None, 0));
    }

    #[test]
    fn pod_row_keeps_container_states_and_scheduling() {
        use k8s_openapi::{
            api::core::v1::{
                ContainerState, ContainerStateTerminated, ContainerStateWaiting, ResourceRequirements,
            },
            apimachinery::pkg::api::resource::Quantity,
        };
        let mut pod = mk_pod();
        let spec = pod.spec.as_mut().unwrap();
        spec.containers[0].image = Some("registry.example/web:1".into());
        spec.containers[0].resources = Some(ResourceRequirements {
            requests: Some([("cpu".to_owned(), Quantity("100m".into()))].into()),
            ..Default::default()
        });
        let status = pod.status.as_mut().unwrap();
        status.container_statuses = Some(vec![ContainerStatus {
            name: "web".into(),
            restart_count: 7,
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".into()),
                    message: Some("back-off 5m0s".into()),
                }),
                ..Default::default()
            }),
            last_state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    reason: Some("OOMKilled".into()),
                    exit_code: 137,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        status.conditions = Some(vec![
            PodCondition {
                type_: "Ready".into(),
                status: "False".into(),
                last_transition_time: Some(Time("2026-01-02T04:00:00Z".parse().unwrap())),
                ..Default::default()
            },
            PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                message: Some("not shown while scheduled".into()),
                ..Default::default()
            },
        ]);
        let row = PodRow::from(&pod);
        let c = &row.containers[0];
        assert_eq!(c.image.as_deref(), Some("registry.example/web:1"));
        assert!(c.has_requests && !c.has_limits);
        assert_eq!(
            c.state,
            ContainerStateRow {
                ready: false,
                restart_count: 7,
                waiting_reason: Some("CrashLoopBackOff".into()),
                waiting_message: Some("back-off 5m0s".into()),
                last_termination_reason: Some("OOMKilled".into()),
                last_exit_code: Some(137),
            }
        );
        assert!(!row.ready && !row.deleting);
        assert_eq!(row.ready_since, Some("2026-01-02T04:00:00Z".parse().unwrap()));
        assert_eq!(row.unschedulable, None, "PodScheduled is True");

        let pending = Pod {
            metadata: ObjectMeta {
                deletion_timestamp: Some(Time("2026-01-02T05:00:00Z".parse().unwrap())),
                ..mk_meta("ns", "p", &[])
            },
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                conditions: Some(vec![PodCondition {
                    type_: "PodScheduled".into(),
                    status: "False".into(),
                    reason: Some("Unschedulable".into()),
                    message: Some("0/4 nodes are available: 4 Insufficient cpu.".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let row = PodRow::from(&pending);
        assert_eq!(row.unschedulable.as_deref(), Some("0/4 nodes are available: 4 Insufficient cpu."));
        assert!(row.deleting);
        assert_eq!(row.ready_since, None);
    }

    #[test]
    fn pending_pod_is_not_ready() {
        let row = PodRow::from(&Pod { metadata: mk_meta("ns", "p", &[]), ..Default::default() });
        assert!(!row.ready);
        assert_eq!((row.restarts, row.phase, row.owner), (0, None, None));
    }

    #[test]
    fn selector_text_reads_like_kubectl() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let req = |key: &str, operator: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).into()).collect()),
        };
        let selector = LabelSelector {
            match_labels: Some([("app".to_owned(), "web".to_owned())].into()),
            match_expressions: Some(vec![
                req("tier", "In", &["a", "b"]),
                req("env", "NotIn", &["dev"]),
                req("canary", "DoesNotExist", &[]),
                req("team", "Exists", &[]),
            ]),
        };
        assert_eq!(selector_text(&selector), "app=web,tier in (a,b),env notin (dev),!canary,team");
        assert_eq!(selector_text(&LabelSelector::default()), "");
    }

    #[test]
    fn namespace_row_is_cluster_scoped() {
        let ns = Namespace { metadata: mk_meta("", "team-a", &[("team", "a")]), ..Default::default() };
        let row = NamespaceRow::from_object(&ns);
        assert_eq!((row.namespace(), row.name()), ("", "team-a"));
        assert_eq!(row.labels["team"], "a");
    }
}
