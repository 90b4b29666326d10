//! `mk_*` builders for the rule tests: a healthy Service to break one field at a time.

use super::facts::*;

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

pub fn mk_service(selector: &[(&str, &str)]) -> ServiceFacts {
    ServiceFacts {
        namespace: "shop".into(),
        name: "checkout".into(),
        ports: vec![mk_svc_port(Some("http"), 80, PortRef::Name("http".into()))],
        selector: Some(labels(selector)),
        ..Default::default()
    }
}

pub fn mk_svc_port(name: Option<&str>, port: i32, target: PortRef) -> ServicePortFacts {
    ServicePortFacts { name: name.map(str::to_owned), port, target_port: target, protocol: Protocol::Tcp }
}

pub fn mk_container(name: &str, ports: &[(Option<&str>, i32)]) -> ContainerFacts {
    ContainerFacts {
        name: name.into(),
        image: format!("registry.example/{name}:1"),
        ports: ports
            .iter()
            .map(|(n, p)| ContainerPortFacts {
                name: n.map(str::to_owned),
                port: *p,
                protocol: Protocol::Tcp,
            })
            .collect(),
        readiness_probe: Some("httpGet :8080/healthz".into()),
        liveness_probe: Some("tcpSocket :8080".into()),
        has_requests: true,
        has_limits: true,
        ready: true,
        ..Default::default()
    }
}

/// A ready pod `checkout-<i>` on `node-<i>`, owned by Deployment checkout.
pub fn mk_pod(i: usize) -> PodFacts {
    PodFacts {
        namespace: "shop".into(),
        name: format!("checkout-{i}"),
        labels: labels(&[("app", "checkout"), ("pod-template-hash", "7d9f")]),
        phase: PodPhase::Running,
        ready: true,
        node: Some(format!("node-{i}")),
        owner: Some(WorkloadRef { kind: "Deployment".into(), name: "checkout".into() }),
        containers: vec![mk_container("web", &[(Some("http"), 8080)])],
        ..Default::default()
    }
}

pub fn mk_node(i: usize) -> NodeFacts {
    NodeFacts { name: format!("node-{i}"), ready: true, zone: Some(format!("zone-{i}")) }
}

pub fn mk_endpoint(i: usize, ready: bool) -> EndpointFacts {
    EndpointFacts {
        addresses: vec![format!("10.0.0.{i}")],
        ready,
        serving: ready,
        terminating: false,
        node: Some(format!("node-{i}")),
        zone: Some(format!("zone-{i}")),
        pod: Some(format!("checkout-{i}")),
    }
}

pub fn mk_event(kind: &str, name: &str, reason: &str, message: &str) -> EventFacts {
    EventFacts {
        involved_kind: kind.into(),
        involved_namespace: "shop".into(),
        involved_name: name.into(),
        reason: reason.into(),
        message: message.into(),
        type_: EventType::Warning,
        count: 3,
        last_seen: None,
    }
}

pub fn mk_namespace(name: &str) -> NamespaceFacts {
    NamespaceFacts { name: name.into(), labels: labels(&[("kubernetes.io/metadata.name", name)]) }
}

/// Allows the ingress controller's namespace to port 8080 of the checkout pods.
pub fn mk_policy(name: &str) -> NetworkPolicyFacts {
    NetworkPolicyFacts {
        namespace: "shop".into(),
        name: name.into(),
        pod_selector: LabelSelector { match_labels: labels(&[("app", "checkout")]), ..Default::default() },
        policy_types: vec![PolicyType::Ingress],
        ingress: vec![IngressRuleFacts {
            from: vec![PeerFacts {
                namespace_selector: Some(LabelSelector {
                    match_labels: labels(&[("kubernetes.io/metadata.name", "ingress-nginx")]),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ports: vec![mk_policy_port(PortRef::Number(8080))],
        }],
    }
}

pub fn mk_policy_port(port: PortRef) -> PolicyPortFacts {
    PolicyPortFacts { port: Some(port), end_port: None, protocol: Protocol::Tcp }
}

pub fn mk_route(kind: RouteKind, port: PortRef) -> RouteFacts {
    RouteFacts {
        kind,
        namespace: "shop".into(),
        name: "web".into(),
        backends: vec![BackendFacts {
            namespace: "shop".into(),
            service: "checkout".into(),
            port: Some(port),
        }],
    }
}

pub fn mk_hpa() -> HpaFacts {
    HpaFacts {
        namespace: "shop".into(),
        name: "checkout".into(),
        min_replicas: 2,
        max_replicas: 6,
        current_replicas: 3,
        desired_replicas: 3,
        conditions: vec![ConditionFacts {
            type_: "ScalingActive".into(),
            status: true,
            reason: "ValidMetricFound".into(),
            message: String::new(),
        }],
    }
}

/// checkout in shop: 3 ready pods in 3 zones behind an Ingress, a policy allowing the ingress controller, an
/// HPA, a PDB and good metrics.
pub fn mk_healthy() -> Facts {
    Facts {
        service: mk_service(&[("app", "checkout")]),
        slices: vec![EndpointSliceFacts {
            name: "checkout-x7k2".into(),
            endpoints: (1..=3).map(|i| mk_endpoint(i, true)).collect(),
        }],
        pods: (1..=3).map(mk_pod).collect(),
        foreign_matches: vec![],
        pods_in_namespace: None,
        nodes: (1..=3).map(mk_node).collect(),
        namespaces: vec![mk_namespace("shop"), mk_namespace("ingress-nginx")],
        events: vec![],
        network_policies: vec![mk_policy("allow-ingress")],
        routes: vec![mk_route(RouteKind::Ingress, PortRef::Number(80))],
        workloads: vec![WorkloadFacts {
            kind: "Deployment".into(),
            namespace: "shop".into(),
            name: "checkout".into(),
            replicas_desired: 3,
            replicas_ready: 3,
        }],
        hpas: vec![mk_hpa()],
        pdbs: vec![PdbFacts {
            namespace: "shop".into(),
            name: "checkout".into(),
            disruptions_allowed: 1,
            expected_pods: 3,
        }],
        metrics: Some(MetricsFacts {
            request_rate: Some(120.0),
            error_rate: Some(0.001),
            p99_latency_ms: Some(120.0),
            callers: vec![],
        }),
        ingress_controller: Some(CallerFacts {
            description: "ingress controller".into(),
            namespace: "ingress-nginx".into(),
            labels: labels(&[("app.kubernetes.io/name", "ingress-nginx")]),
        }),
    }
}

/// Runs one rule on `facts` with default thresholds.
pub fn run(rule: super::rules::Rule, facts: &Facts) -> Option<super::Finding> {
    let thresholds = super::Thresholds::default();
    rule(&super::Ctx::new(facts, &thresholds))
}
