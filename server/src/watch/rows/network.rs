//! NetworkPolicies and Ingresses, summarised for display.

use k8s_openapi::api::networking::v1::{
    Ingress, IngressBackend, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort,
};

use super::{Row, ns_name, port_text, selector_text};

/// A NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicyRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The pods it selects, as a selector (see [`selector_text`]); empty: every pod of the namespace.
    pub pod_selector: String,
    /// `Ingress` and/or `Egress`; when unset, as Kubernetes defaults it: `Ingress`, plus `Egress` when there
    /// are egress rules.
    pub policy_types: Vec<String>,
    /// Allowed incoming traffic, one entry per rule.
    pub ingress: Vec<PolicyRuleRow>,
    /// Allowed outgoing traffic, one entry per rule.
    pub egress: Vec<PolicyRuleRow>,
}

/// One ingress or egress rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRuleRow {
    /// The peers, one line each: `pods app=web`, `namespaces team=a, pods role=db`, `ipBlock 10.0.0.0/8
    /// except 10.1.0.0/16`. Empty: any peer.
    pub peers: Vec<String>,
    /// The ports: `TCP 80`, `TCP 8000-9000`, `UDP dns`. Empty: every port.
    pub ports: Vec<String>,
}

fn peer_text(p: &NetworkPolicyPeer) -> String {
    if let Some(block) = &p.ip_block {
        let except = block.except.clone().unwrap_or_default();
        return if except.is_empty() {
            format!("ipBlock {}", block.cidr)
        } else {
            format!("ipBlock {} except {}", block.cidr, except.join(", "))
        };
    }
    let all = |s: String| if s.is_empty() { "all".to_owned() } else { s };
    match (&p.namespace_selector, &p.pod_selector) {
        (Some(ns), Some(pods)) => {
            format!("namespaces {}, pods {}", all(selector_text(ns)), all(selector_text(pods)))
        }
        (Some(ns), None) => format!("namespaces {}", all(selector_text(ns))),
        (None, Some(pods)) => format!("pods {}", all(selector_text(pods))),
        (None, None) => "any".to_owned(),
    }
}

fn policy_port_text(p: &NetworkPolicyPort) -> String {
    let protocol = p.protocol.as_deref().unwrap_or("TCP");
    match (&p.port, p.end_port) {
        (Some(port), Some(end)) => format!("{protocol} {}-{end}", port_text(port)),
        (Some(port), None) => format!("{protocol} {}", port_text(port)),
        (None, _) => format!("{protocol} all ports"),
    }
}

fn rule(peers: Option<&Vec<NetworkPolicyPeer>>, ports: Option<&Vec<NetworkPolicyPort>>) -> PolicyRuleRow {
    PolicyRuleRow {
        peers: peers.into_iter().flatten().map(peer_text).collect(),
        ports: ports.into_iter().flatten().map(policy_port_text).collect(),
    }
}

impl From<&NetworkPolicy> for NetworkPolicyRow {
    fn from(p: &NetworkPolicy) -> Self {
        let (namespace, name) = ns_name(&p.metadata);
        let spec = p.spec.clone().unwrap_or_default();
        let ingress: Vec<_> =
            spec.ingress.iter().flatten().map(|r| rule(r.from.as_ref(), r.ports.as_ref())).collect();
        let egress: Vec<_> =
            spec.egress.iter().flatten().map(|r| rule(r.to.as_ref(), r.ports.as_ref())).collect();
        let policy_types = spec.policy_types.unwrap_or_else(|| {
            let mut types = vec!["Ingress".to_owned()];
            if !egress.is_empty() {
                types.push("Egress".to_owned());
            }
            types
        });
        Self {
            namespace,
            name,
            pod_selector: spec.pod_selector.as_ref().map(selector_text).unwrap_or_default(),
            policy_types,
            ingress,
            egress,
        }
    }
}

/// An Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.ingressClassName`, else the legacy `kubernetes.io/ingress.class` annotation.
    pub class: Option<String>,
    /// One entry per (host, path).
    pub routes: Vec<IngressRouteRow>,
    /// `spec.defaultBackend`.
    pub default_backend: Option<BackendRow>,
    /// Hosts with TLS.
    pub tls_hosts: Vec<String>,
    /// Load-balancer addresses, IP or hostname.
    pub load_balancer: Vec<String>,
}

/// One (host, path) of an Ingress and where it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressRouteRow {
    /// The host; `None` matches every host.
    pub host: Option<String>,
    /// The path.
    pub path: Option<String>,
    /// `Exact`, `Prefix` or `ImplementationSpecific`.
    pub path_type: String,
    /// The backend.
    pub backend: BackendRow,
}

/// Where an Ingress path goes: a Service and port, or another resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendRow {
    /// The Service's name.
    pub service: Option<String>,
    /// The Service port, a number or a port name.
    pub port: Option<String>,
    /// A non-Service backend, as `Kind/name`.
    pub resource: Option<String>,
}

impl From<&IngressBackend> for BackendRow {
    fn from(b: &IngressBackend) -> Self {
        let port = b
            .service
            .as_ref()
            .and_then(|s| s.port.as_ref())
            .and_then(|p| p.number.map(|n| n.to_string()).or_else(|| p.name.clone()));
        Self {
            service: b.service.as_ref().map(|s| s.name.clone()),
            port,
            resource: b.resource.as_ref().map(|r| format!("{}/{}", r.kind, r.name)),
        }
    }
}

impl From<&Ingress> for IngressRow {
    fn from(i: &Ingress) -> Self {
        let (namespace, name) = ns_name(&i.metadata);
        let spec = i.spec.clone().unwrap_or_default();
        let routes = spec
            .rules
            .iter()
            .flatten()
            .flat_map(|rule| {
                rule.http.iter().flat_map(|http| &http.paths).map(|path| IngressRouteRow {
                    host: rule.host.clone(),
                    path: path.path.clone(),
                    path_type: path.path_type.clone(),
                    backend: BackendRow::from(&path.backend),
                })
            })
            .collect();
        let class = spec.ingress_class_name.clone().or_else(|| {
            i.metadata.annotations.as_ref().and_then(|a| a.get("kubernetes.io/ingress.class")).cloned()
        });
        Self {
            namespace,
            name,
            class,
            routes,
            default_backend: spec.default_backend.as_ref().map(BackendRow::from),
            tls_hosts: spec.tls.iter().flatten().flat_map(|t| t.hosts.iter().flatten().cloned()).collect(),
            load_balancer: i
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .map(|lb| lb.iter().filter_map(|e| e.ip.clone().or_else(|| e.hostname.clone())).collect())
                .unwrap_or_default(),
        }
    }
}

row!(NetworkPolicyRow, NetworkPolicy, namespaced);

row!(IngressRow, Ingress, namespaced);

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::networking::v1::{
            HTTPIngressPath, HTTPIngressRuleValue, IPBlock, IngressLoadBalancerIngress,
            IngressLoadBalancerStatus, IngressRule, IngressServiceBackend, IngressSpec, IngressStatus,
            IngressTLS, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicySpec,
            ServiceBackendPort,
        },
        apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
    };

    use super::*;
    use crate::watch::rows::tests::mk_meta;

    fn mk_selector(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
            ..Default::default()
        }
    }

    fn mk_policy() -> NetworkPolicy {
        NetworkPolicy {
            metadata: mk_meta("team-a", "checkout-in", &[]),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(mk_selector(&[("app", "checkout")])),
                ingress: Some(vec![
                    NetworkPolicyIngressRule {
                        from: Some(vec![
                            NetworkPolicyPeer {
                                pod_selector: Some(mk_selector(&[("app", "web")])),
                                ..Default::default()
                            },
                            NetworkPolicyPeer {
                                namespace_selector: Some(mk_selector(&[("team", "b")])),
                                pod_selector: Some(LabelSelector::default()),
                                ..Default::default()
                            },
                            NetworkPolicyPeer {
                                ip_block: Some(IPBlock {
                                    cidr: "10.0.0.0/8".into(),
                                    except: Some(vec!["10.1.0.0/16".into()]),
                                }),
                                ..Default::default()
                            },
                        ]),
                        ports: Some(vec![
                            NetworkPolicyPort { port: Some(IntOrString::Int(8080)), ..Default::default() },
                            NetworkPolicyPort {
                                port: Some(IntOrString::Int(9000)),
                                end_port: Some(9100),
                                protocol: Some("UDP".into()),
                            },
                        ]),
                    },
                    NetworkPolicyIngressRule::default(),
                ]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: None,
                    ports: Some(vec![NetworkPolicyPort {
                        port: Some(IntOrString::String("dns".into())),
                        protocol: Some("UDP".into()),
                        ..Default::default()
                    }]),
                }]),
                policy_types: None,
            }),
        }
    }

    #[test]
    fn network_policy_row_summarises_peers_and_ports() {
        let row = NetworkPolicyRow::from(&mk_policy());
        assert_eq!(row.pod_selector, "app=checkout");
        assert_eq!(row.policy_types, ["Ingress", "Egress"], "defaulted as Kubernetes does");
        assert_eq!(
            row.ingress[0],
            PolicyRuleRow {
                peers: vec![
                    "pods app=web".into(),
                    "namespaces team=b, pods all".into(),
                    "ipBlock 10.0.0.0/8 except 10.1.0.0/16".into(),
                ],
                ports: vec!["TCP 8080".into(), "UDP 9000-9100".into()],
            }
        );
        assert_eq!(row.ingress[1], PolicyRuleRow::default(), "an empty rule allows everything");
        assert_eq!(row.egress[0].ports, ["UDP dns"]);
        assert!(row.egress[0].peers.is_empty());
    }

    #[test]
    fn deny_all_policy_selects_every_pod() {
        let policy = NetworkPolicy {
            metadata: mk_meta("team-a", "deny", &[]),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ..Default::default()
            }),
        };
        let row = NetworkPolicyRow::from(&policy);
        assert_eq!(row.pod_selector, "");
        assert_eq!(row.policy_types, ["Ingress", "Egress"]);
        assert!(row.ingress.is_empty() && row.egress.is_empty());
    }

    fn mk_backend(service: &str, port: ServiceBackendPort) -> IngressBackend {
        IngressBackend {
            service: Some(IngressServiceBackend { name: service.into(), port: Some(port) }),
            resource: None,
        }
    }

    #[test]
    fn ingress_row_lists_host_path_backends_tls_and_lb() {
        let ingress = Ingress {
            metadata: mk_meta("team-a", "shop", &[]),
            spec: Some(IngressSpec {
                ingress_class_name: Some("nginx".into()),
                rules: Some(vec![IngressRule {
                    host: Some("shop.example.com".into()),
                    http: Some(HTTPIngressRuleValue {
                        paths: vec![
                            HTTPIngressPath {
                                path: Some("/api".into()),
                                path_type: "Prefix".into(),
                                backend: mk_backend(
                                    "checkout",
                                    ServiceBackendPort { number: Some(80), name: None },
                                ),
                            },
                            HTTPIngressPath {
                                path: Some("/".into()),
                                path_type: "Prefix".into(),
                                backend: mk_backend(
                                    "web",
                                    ServiceBackendPort { name: Some("http".into()), number: None },
                                ),
                            },
                        ],
                    }),
                }]),
                tls: Some(vec![IngressTLS {
                    hosts: Some(vec!["shop.example.com".into()]),
                    secret_name: Some("shop-tls".into()),
                }]),
                ..Default::default()
            }),
            status: Some(IngressStatus {
                load_balancer: Some(IngressLoadBalancerStatus {
                    ingress: Some(vec![IngressLoadBalancerIngress {
                        ip: Some("192.0.2.9".into()),
                        ..Default::default()
                    }]),
                }),
            }),
        };
        let row = IngressRow::from(&ingress);
        assert_eq!(row.class.as_deref(), Some("nginx"));
        assert_eq!(row.routes.len(), 2);
        assert_eq!(row.routes[0].host.as_deref(), Some("shop.example.com"));
        assert_eq!(row.routes[0].path.as_deref(), Some("/api"));
        assert_eq!(
            row.routes[0].backend,
            BackendRow { service: Some("checkout".into()), port: Some("80".into()), resource: None }
        );
        assert_eq!(row.routes[1].backend.port.as_deref(), Some("http"));
        assert_eq!(row.tls_hosts, ["shop.example.com"]);
        assert_eq!(row.load_balancer, ["192.0.2.9"]);
        assert_eq!(row.default_backend, None);
    }
}
