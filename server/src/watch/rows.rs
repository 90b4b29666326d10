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
mod network;
mod scaling;

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    api::{
        core::v1::{Container, Namespace, Pod, Probe, Service, ServicePort},
        discovery::v1::{Endpoint, EndpointPort, EndpointSlice},
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta},
        util::intstr::IntOrString,
    },
};

pub use self::{
    event::{EVENT_MAX_AGE, EventRow},
    gateway::{GATEWAY_GROUP, HttpRoute, HttpRouteRow, HttpRouteRuleRow},
    network::{BackendRow, IngressRouteRow, IngressRow, NetworkPolicyRow, PolicyRuleRow},
    scaling::{ConditionRow, HpaMetricRow, HpaRow, PdbRow},
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
    pub selector: BTreeMap<String, String>,
    /// The Service's labels.
    pub labels: BTreeMap<String, String>,
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
}

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
            ports: spec.ports.iter().flatten().map(ServicePortRow::from).collect(),
            selector: spec.selector.unwrap_or_default(),
            labels: s.metadata.labels.clone().unwrap_or_default(),
            load_balancer_ingress,
            external_name: spec.external_name,
            external_traffic_policy: spec.external_traffic_policy,
            internal_traffic_policy: spec.internal_traffic_policy,
            session_affinity: spec.session_affinity,
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
            endpoints: s.endpoints.iter().flatten().map(EndpointRow::from).collect(),
            ports: s.ports.iter().flatten().map(EndpointPortRow::from).collect(),
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
    pub labels: BTreeMap<String, String>,
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
    /// The containers' ports and probes.
    pub containers: Vec<ContainerRow>,
}

/// A container's ports and probes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerRow {
    /// Container name.
    pub name: String,
    /// Declared ports.
    pub ports: Vec<ContainerPortRow>,
    /// Readiness probe.
    pub readiness: Option<ProbeRow>,
    /// Liveness probe.
    pub liveness: Option<ProbeRow>,
    /// Startup probe.
    pub startup: Option<ProbeRow>,
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

/// What a probe checks, in one line: `http GET :8080/healthz`, `tcp :5432`, `grpc :9090`, `exec`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeRow {
    /// The summary.
    pub action: String,
    /// `periodSeconds` (default 10).
    pub period_seconds: i32,
    /// `failureThreshold` (default 3).
    pub failure_threshold: i32,
}

impl From<&Probe> for ProbeRow {
    fn from(p: &Probe) -> Self {
        let action = if let Some(h) = &p.http_get {
            format!("http GET :{}{}", port_text(&h.port), h.path.as_deref().unwrap_or("/"))
        } else if let Some(t) = &p.tcp_socket {
            format!("tcp :{}", port_text(&t.port))
        } else if let Some(g) = &p.grpc {
            format!("grpc :{}", g.port)
        } else if p.exec.is_some() {
            "exec".to_owned()
        } else {
            "unknown".to_owned()
        };
        Self {
            action,
            period_seconds: p.period_seconds.unwrap_or(10),
            failure_threshold: p.failure_threshold.unwrap_or(3),
        }
    }
}

impl From<&Container> for ContainerRow {
    fn from(c: &Container) -> Self {
        Self {
            name: c.name.clone(),
            ports: c
                .ports
                .iter()
                .flatten()
                .map(|p| ContainerPortRow {
                    name: p.name.clone(),
                    container_port: p.container_port,
                    protocol: p.protocol.clone(),
                })
                .collect(),
            readiness: c.readiness_probe.as_ref().map(ProbeRow::from),
            liveness: c.liveness_probe.as_ref().map(ProbeRow::from),
            startup: c.startup_probe.as_ref().map(ProbeRow::from),
        }
    }
}

impl From<&Pod> for PodRow {
    fn from(p: &Pod) -> Self {
        let (namespace, name) = ns_name(&p.metadata);
        let status = p.status.as_ref();
        let spec = p.spec.as_ref();
        Self {
            namespace,
            name,
            labels: p.metadata.labels.clone().unwrap_or_default(),
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
            containers: spec
                .map(|s| s.containers.iter().map(ContainerRow::from).collect())
                .unwrap_or_default(),
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
    pub labels: BTreeMap<String, String>,
}

impl From<&Namespace> for NamespaceRow {
    fn from(n: &Namespace) -> Self {
        Self {
            name: n.metadata.name.clone().unwrap_or_default(),
            phase: n.status.as_ref().and_then(|s| s.phase.clone()),
            labels: n.metadata.labels.clone().unwrap_or_default(),
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
                ContainerPort, ContainerStatus, HTTPGetAction, LoadBalancerIngress, LoadBalancerStatus,
                ObjectReference, PodCondition, PodSpec, PodStatus, ServiceSpec, ServiceStatus,
                TCPSocketAction,
            },
            discovery::v1::{EndpointConditions, EndpointHints, ForZone},
        },
        apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference},
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
            metadata: mk_meta("team-a", "checkout", &[("app", "checkout")]),
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
                session_affinity: Some("None".into()),
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
        assert_eq!(row.session_affinity.as_deref(), Some("None"));
    }

    #[test]
    fn bare_service_defaults_to_cluster_ip() {
        let row = ServiceRow::from(&Service { metadata: mk_meta("ns", "s", &[]), ..Default::default() });
        assert_eq!(row.type_, "ClusterIP");
        assert!(row.cluster_ips.is_empty() && row.ports.is_empty() && row.selector.is_empty());
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
        let c = &row.containers[0];
        assert_eq!(c.ports[0].name.as_deref(), Some("web"));
        assert_eq!(c.readiness.as_ref().unwrap().action, "http GET :web/healthz");
        assert_eq!(
            c.liveness,
            Some(ProbeRow { action: "tcp :8080".into(), period_seconds: 5, failure_threshold: 1 })
        );
        assert_eq!(c.startup, None);
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
