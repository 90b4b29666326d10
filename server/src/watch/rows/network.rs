//! NetworkPolicies and Ingresses, summarised for display.
//!
//! A [`NetworkPolicyRow`] keeps two forms of the same policy: one-line texts for display (`pod_selector`,
//! [`PolicyRuleRow::peers`], [`PolicyRuleRow::ports`]) and the structured selectors, peers and ports the
//! reachability evaluator (`crate::reach`) needs.

use k8s_openapi::{
    api::networking::v1::{Ingress, IngressBackend, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort},
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};

use super::{Labels, Row, ns_name, port_text, selector_text};

/// A NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicyRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The pods it selects, as a selector (see [`selector_text`]); empty: every pod of the namespace.
    pub pod_selector: String,
    /// The same `spec.podSelector`, structured.
    pub selector: SelectorRow,
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
    /// The peers, structured, in the same order as `peers` (`from` of an ingress rule, `to` of an egress
    /// rule). Empty: any peer.
    pub peer_specs: Vec<PolicyPeerRow>,
    /// The ports, structured, in the same order as `ports`. Empty: every port.
    pub port_specs: Vec<PolicyPortRow>,
}

/// A label selector: `matchLabels` and `matchExpressions`. Empty: selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectorRow {
    /// `matchLabels`.
    pub match_labels: Labels,
    /// `matchExpressions`.
    pub match_expressions: Vec<SelectorRequirementRow>,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectorRequirementRow {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values (for `In` and `NotIn`).
    pub values: Vec<String>,
}

impl SelectorRow {
    /// Whether `labels` satisfy every requirement. An empty selector matches everything; an unknown operator
    /// matches nothing (the apiserver rejects such selectors, so it cannot select by accident).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    /// Whether it has no requirement at all (selects everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// One line, kubectl style (see [`selector_text`]); empty when it selects everything.
    pub fn text(&self) -> String {
        selector_text(&self.to_label_selector())
    }

    fn to_label_selector(&self) -> LabelSelector {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        LabelSelector {
            match_labels: Some(self.match_labels.to_map()),
            match_expressions: Some(
                self.match_expressions
                    .iter()
                    .map(|r| LabelSelectorRequirement {
                        key: r.key.clone(),
                        operator: r.operator.clone(),
                        values: Some(r.values.clone()),
                    })
                    .collect(),
            ),
        }
    }
}

impl From<&LabelSelector> for SelectorRow {
    fn from(s: &LabelSelector) -> Self {
        Self {
            match_labels: s.match_labels.as_ref().map(Labels::from).unwrap_or_default(),
            match_expressions: s
                .match_expressions
                .iter()
                .flatten()
                .map(|e| SelectorRequirementRow {
                    key: e.key.clone(),
                    operator: e.operator.clone(),
                    values: e.values.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// One peer of a rule. Kubernetes allows either `ipBlock` alone, or `podSelector` and/or `namespaceSelector`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyPeerRow {
    /// `podSelector`.
    pub pod_selector: Option<SelectorRow>,
    /// `namespaceSelector`.
    pub namespace_selector: Option<SelectorRow>,
    /// `ipBlock`.
    pub ip_block: Option<IpBlockRow>,
}

/// An `ipBlock`: a CIDR minus exceptions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpBlockRow {
    /// `cidr`, e.g. `10.0.0.0/8`.
    pub cidr: String,
    /// `except`: CIDRs inside `cidr` that are not included.
    pub except: Vec<String>,
}

/// A port of a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyPortRow {
    /// `protocol`, defaulted to `TCP`.
    pub protocol: String,
    /// `port`: a number or a named container port; `None`: every port of the protocol.
    pub port: Option<PortRef>,
    /// `endPort`: with a numeric `port`, the range `port..=endPort`.
    pub end_port: Option<i32>,
}

/// A port by number or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortRef {
    /// A number.
    Number(i32),
    /// A container port name.
    Name(String),
}

impl From<&IntOrString> for PortRef {
    fn from(p: &IntOrString) -> Self {
        match p {
            IntOrString::Int(n) => Self::Number(*n),
            // The API allows a numeric string too ("8080"); it means the number.
            IntOrString::String(s) => s.parse().map_or_else(|_| Self::Name(s.clone()), Self::Number),
        }
    }
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(s) => f.write_str(s),
        }
    }
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

impl From<&NetworkPolicyPeer> for PolicyPeerRow {
    fn from(p: &NetworkPolicyPeer) -> Self {
        Self {
            pod_selector: p.pod_selector.as_ref().map(SelectorRow::from),
            namespace_selector: p.namespace_selector.as_ref().map(SelectorRow::from),
            ip_block: p
                .ip_block
                .as_ref()
                .map(|b| IpBlockRow { cidr: b.cidr.clone(), except: b.except.clone().unwrap_or_default() }),
        }
    }
}

impl From<&NetworkPolicyPort> for PolicyPortRow {
    fn from(p: &NetworkPolicyPort) -> Self {
        Self {
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
            port: p.port.as_ref().map(PortRef::from),
            end_port: p.end_port,
        }
    }
}

fn rule(peers: Option<&Vec<NetworkPolicyPeer>>, ports: Option<&Vec<NetworkPolicyPort>>) -> PolicyRuleRow {
    PolicyRuleRow {
        peers: peers.into_iter().flatten().map(peer_text).collect(),
        ports: ports.into_iter().flatten().map(policy_port_text).collect(),
        peer_specs: peers.into_iter().flatten().map(PolicyPeerRow::from).collect(),
        port_specs: ports.into_iter().flatten().map(PolicyPortRow::from).collect(),
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
        // The apiserver's default (SetDefaults_NetworkPolicySpec): an unset or empty list means `Ingress`,
        // plus `Egress` when there are egress rules.
        let policy_types = spec.policy_types.filter(|t| !t.is_empty()).unwrap_or_else(|| {
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
            selector: spec.pod_selector.as_ref().map(SelectorRow::from).unwrap_or_default(),
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
                peer_specs: vec![
                    PolicyPeerRow {
                        pod_selector: Some(SelectorRow {
                            match_labels: [("app".to_owned(), "web".to_owned())].into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    PolicyPeerRow {
                        namespace_selector: Some(SelectorRow {
                            match_labels: [("team".to_owned(), "b".to_owned())].into(),
                            ..Default::default()
                        }),
                        pod_selector: Some(SelectorRow::default()),
                        ip_block: None,
                    },
                    PolicyPeerRow {
                        ip_block: Some(IpBlockRow {
                            cidr: "10.0.0.0/8".into(),
                            except: vec!["10.1.0.0/16".into()],
                        }),
                        ..Default::default()
                    },
                ],
                port_specs: vec![
                    PolicyPortRow {
                        protocol: "TCP".into(),
                        port: Some(PortRef::Number(8080)),
                        end_port: None
                    },
                    PolicyPortRow {
                        protocol: "UDP".into(),
                        port: Some(PortRef::Number(9000)),
                        end_port: Some(9100),
                    },
                ],
            }
        );
        assert_eq!(row.selector.match_labels["app"], "checkout");
        assert_eq!(row.selector.text(), "app=checkout");
        assert_eq!(row.ingress[1], PolicyRuleRow::default(), "an empty rule allows everything");
        assert_eq!(row.egress[0].ports, ["UDP dns"]);
        assert_eq!(
            row.egress[0].port_specs,
            [PolicyPortRow {
                protocol: "UDP".into(),
                port: Some(PortRef::Name("dns".into())),
                end_port: None
            }]
        );
        assert!(row.egress[0].peers.is_empty() && row.egress[0].peer_specs.is_empty());
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
        assert!(row.selector.is_empty());
        assert_eq!(row.policy_types, ["Ingress", "Egress"]);
        assert!(row.ingress.is_empty() && row.egress.is_empty());
    }

    #[test]
    fn empty_policy_types_default_like_unset_ones() {
        let mut policy = mk_policy();
        policy.spec.as_mut().unwrap().policy_types = Some(Vec::new());
        assert_eq!(NetworkPolicyRow::from(&policy).policy_types, ["Ingress", "Egress"]);
        policy.spec.as_mut().unwrap().egress = Some(Vec::new());
        assert_eq!(NetworkPolicyRow::from(&policy).policy_types, ["Ingress"], "no egress rule: no Egress");
    }

    #[test]
    fn selector_row_matches_like_kubernetes() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let req = |key: &str, operator: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| (*v).into()).collect()),
        };
        let selector = SelectorRow::from(&LabelSelector {
            match_labels: Some([("app".to_owned(), "web".to_owned())].into()),
            match_expressions: Some(vec![
                req("tier", "In", &["a", "b"]),
                req("env", "NotIn", &["dev"]),
                req("canary", "DoesNotExist", &[]),
            ]),
        });
        let labels = |l: &[(&str, &str)]| -> Labels {
            l.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "c")])), "In");
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "a"), ("env", "dev")])), "NotIn");
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "a"), ("canary", "")])), "DoesNotExist");
        assert!(!selector.matches(&labels(&[("tier", "a")])), "matchLabels");
        assert_eq!(selector.text(), "app=web,tier in (a,b),env notin (dev),!canary");
        assert!(SelectorRow::default().matches(&labels(&[])), "empty selects everything");
        let bogus = SelectorRow {
            match_expressions: vec![SelectorRequirementRow {
                key: "a".into(),
                operator: "Bogus".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        assert!(!bogus.matches(&labels(&[("a", "1")])));
        assert_eq!(PortRef::from(&IntOrString::String("8080".into())), PortRef::Number(8080));
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
