//! Rows built from real Kubernetes objects (the fixture fleet's shapes), through [`facts`] and the rules: each
//! broken case beside a healthy look-alike.

use k8s_openapi::{
    api::{
        core::v1::{
            Container, ContainerPort, ContainerState, ContainerStateTerminated, ContainerStateWaiting,
            ContainerStatus, Event, ExecAction, ObjectReference, Pod, PodCondition, PodSpec, PodStatus,
            Probe, ResourceRequirements, Service, ServicePort, ServiceSpec,
        },
        discovery::v1::{Endpoint, EndpointConditions, EndpointSlice},
        networking::v1::{
            NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
        },
        policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus},
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{LabelSelector as K8sSelector, OwnerReference, Time},
        util::intstr::IntOrString,
    },
};

use super::*;
use crate::{
    diagnose::{ObjectRef, Severity},
    watch::rows::{BackendRefRow, HttpRouteRuleRow, PdbRow, Row, tests::mk_meta},
};

const NS: &str = "team-a";

fn labels(app: &str) -> Vec<(&str, &str)> {
    vec![("app", app), ("pod-template-hash", "5d5d75d5b5")]
}

fn mk_service(name: &str, type_: &str, selector: &str, target: IntOrString) -> ServiceRow {
    ServiceRow::from_object(&Service {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            creation_timestamp: Some(Time("2026-11-26T10:00:00Z".parse().unwrap())),
            ..mk_meta(NS, name, &[])
        },
        spec: Some(ServiceSpec {
            type_: Some(type_.into()),
            selector: (!selector.is_empty()).then(|| [("app".to_owned(), selector.to_owned())].into()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(target),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    })
}

/// A running pod `<app>-<i>` of Deployment `<app>` with container port http:8080, an exec readiness probe,
/// requests and limits; `ready` sets both the pod condition and the container status.
fn mk_pod(app: &str, i: usize, ready: bool) -> Pod {
    let status = if ready { "True" } else { "False" };
    Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                kind: "ReplicaSet".into(),
                name: format!("{app}-5d5d75d5b5"),
                controller: Some(true),
                ..Default::default()
            }]),
            ..mk_meta(NS, &format!("{app}-{i}"), &labels(app))
        },
        spec: Some(PodSpec {
            node_name: Some(format!("node-{i}")),
            containers: vec![Container {
                name: app.into(),
                image: Some(format!("fleetpane-demo/{app}:v1")),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                readiness_probe: Some(Probe {
                    exec: Some(ExecAction {
                        command: Some(vec!["/app/healthcheck".into(), "--ready".into()]),
                    }),
                    ..Default::default()
                }),
                resources: Some(ResourceRequirements {
                    requests: Some([("cpu".to_owned(), Quantity("100m".into()))].into()),
                    limits: Some([("memory".to_owned(), Quantity("128Mi".into()))].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: status.into(),
                last_transition_time: Some(Time("2026-11-26T11:00:00Z".parse().unwrap())),
                ..Default::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: app.into(),
                ready,
                state: Some(ContainerState::default()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn pod_row(p: &Pod) -> PodRow {
    PodRow::from_object(p)
}

fn mk_slice(svc: &str, app: &str, ready: &[bool]) -> EndpointSliceRow {
    EndpointSliceRow::from_object(&EndpointSlice {
        metadata: mk_meta(NS, &format!("{svc}-abcde"), &[(crate::watch::rows::SERVICE_NAME_LABEL, svc)]),
        address_type: "IPv4".into(),
        endpoints: Some(
            ready
                .iter()
                .enumerate()
                .map(|(i, r)| Endpoint {
                    addresses: vec![format!("10.64.0.{i}")],
                    conditions: Some(EndpointConditions {
                        ready: Some(*r),
                        serving: Some(*r),
                        terminating: Some(false),
                    }),
                    node_name: Some(format!("node-{i}")),
                    zone: Some(if i % 2 == 0 { "zone-a" } else { "zone-b" }.into()),
                    target_ref: Some(ObjectReference {
                        kind: Some("Pod".into()),
                        namespace: Some(NS.into()),
                        name: Some(format!("{app}-{i}")),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
        ),
        ports: None,
    })
}

fn mk_event(kind: &str, name: &str, reason: &str, message: &str) -> EventRow {
    EventRow::from_object(&Event {
        metadata: mk_meta(NS, &format!("{name}.1"), &[]),
        reason: Some(reason.into()),
        message: Some(message.into()),
        type_: Some("Warning".into()),
        count: Some(4),
        last_timestamp: Some(Time("2026-11-26T12:00:00Z".parse().unwrap())),
        involved_object: ObjectReference {
            kind: Some(kind.into()),
            namespace: Some(NS.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// The owned rows of one case; [`Case::input`] borrows them.
struct Case {
    svc: ServiceRow,
    slices: Vec<EndpointSliceRow>,
    pods: Vec<PodRow>,
    events: Vec<EventRow>,
    policies: Vec<NetworkPolicyRow>,
    routes: Vec<HttpRouteRow>,
    pdbs: Vec<PdbRow>,
}

impl Case {
    /// A Service over `n` ready pods of `app`, port 80 → `target`.
    fn new(name: &str, app: &str, n: usize, target: IntOrString) -> Self {
        let ready = vec![true; n];
        Self {
            svc: mk_service(name, "ClusterIP", app, target),
            slices: vec![mk_slice(name, app, &ready)],
            pods: (0..n).map(|i| pod_row(&mk_pod(app, i, true))).collect(),
            events: vec![],
            policies: vec![],
            routes: vec![],
            pdbs: vec![],
        }
    }

    fn input(&self) -> ServiceInput<'_> {
        ServiceInput {
            cluster: "prod-eu",
            cluster_domain: "cluster.local",
            service: &self.svc,
            slices: Some(self.slices.iter().collect()),
            pods: Some(self.pods.iter().collect()),
            events: Some(self.events.iter().collect()),
            network_policies: Some(self.policies.iter().collect()),
            ingresses: Some(vec![]),
            http_routes: Some(self.routes.iter().collect()),
            hpas: Some(vec![]),
            pdbs: Some(self.pdbs.iter().collect()),
        }
    }

    fn findings(&self) -> Vec<Finding> {
        diagnose_rows(&self.input(), &Surroundings::default(), &Thresholds::default())
    }

    fn codes(&self) -> Vec<&'static str> {
        self.findings().iter().map(|f| f.code).collect()
    }
}

fn http() -> IntOrString {
    IntOrString::String("http".into())
}

#[test]
fn healthy_service_has_no_findings_and_maps_every_field() {
    let case = Case::new("checkout", "checkout", 3, http());
    assert!(case.findings().is_empty(), "{:#?}", case.findings());
    let f = facts(&case.input(), &Surroundings::default());
    assert_eq!(f.service.selector, Some([("app".to_owned(), "checkout".to_owned())].into()));
    assert_eq!(f.service.ports[0].target_port, PortRef::Name("http".into()));
    assert_eq!(f.service.lb_pending_since, Some("2026-11-26T10:00:00Z".parse().unwrap()));
    assert_eq!(f.slices[0].endpoints.len(), 3);
    assert_eq!(f.slices[0].endpoints[1].pod.as_deref(), Some("checkout-1"));
    let pod = &f.pods[0];
    assert_eq!(pod.owner, Some(WorkloadRef { kind: "Deployment".into(), name: "checkout".into() }));
    assert_eq!(pod.phase, PodPhase::Running);
    let c = &pod.containers[0];
    assert_eq!(c.readiness_probe.as_deref(), Some("exec /app/healthcheck --ready"));
    assert!(c.has_requests && c.has_limits && c.ready);
    assert_eq!(c.image, "fleetpane-demo/checkout:v1");
    assert_eq!(
        c.ports[0],
        ContainerPortFacts { name: Some("http".into()), port: 8080, protocol: Protocol::Tcp }
    );
}

#[test]
fn orphan_selector_matching_nothing() {
    let mut case = Case::new("orphan", "inventory", 2, IntOrString::Int(8080));
    case.svc.selector = [("app".to_owned(), "does-not-exist".to_owned())].into();
    case.slices = vec![mk_slice("orphan", "x", &[])];
    let findings = case.findings();
    assert_eq!(findings[0].code, "selector.matches-nothing", "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Critical);
    assert!(findings[0].title.contains("app=does-not-exist"));
    // A near miss is called a typo.
    case.svc.selector = [("app".to_owned(), "inventry".to_owned())].into();
    assert!(case.codes().contains(&"selector.likely-typo"));
}

#[test]
fn pods_of_another_namespace_are_named() {
    let mut case = Case::new("checkout", "checkout", 2, http());
    case.slices.clear();
    for p in &mut case.pods {
        p.namespace = "team-b".into();
    }
    // Only foreign pods in the input: they count as foreign matches, not as the Service's own.
    assert_eq!(case.codes()[0], "selector.matches-other-namespace");
    let f = facts(&case.input(), &Surroundings::default());
    assert!(f.pods.is_empty() && f.foreign_matches.len() == 2);
    // Also when they come through the surroundings.
    let foreign = case.pods.clone();
    case.pods.clear();
    let around = Surroundings { foreign_pods: foreign.iter().collect(), ..Default::default() };
    let findings = diagnose_rows(&case.input(), &around, &Thresholds::default());
    assert_eq!(findings[0].code, "selector.matches-other-namespace");
}

#[test]
fn wrong_target_port_beside_the_right_one() {
    let good = Case::new("inventory", "inventory", 2, IntOrString::Int(8080));
    assert!(good.findings().is_empty(), "{:#?}", good.findings());
    let bad = Case::new("wrong-port", "inventory", 2, IntOrString::Int(9999));
    let findings = bad.findings();
    assert_eq!(findings[0].code, "ports.target-not-exposed", "{findings:#?}");
    assert!(findings[0].title.contains("9999"));
    // A missing *named* port is critical: the endpoints get no port at all.
    let named = Case::new("named", "inventory", 2, IntOrString::String("web".into()));
    assert_eq!(named.findings()[0].severity, Severity::Critical);
}

#[test]
fn payments_one_pod_failing_readiness_with_its_unhealthy_event() {
    let mut case = Case::new("payments", "payments", 2, http());
    case.pods[1] = pod_row(&mk_pod("payments", 1, false));
    case.slices = vec![mk_slice("payments", "payments", &[true, false])];
    case.events.push(mk_event(
        "Pod",
        "payments-1",
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
    ));
    // Another pod's and another kind's events are not evidence.
    case.events.push(mk_event("Pod", "elsewhere-1", "Unhealthy", "not ours"));
    let findings = case.findings();
    assert_eq!(findings[0].code, "pods.readiness-failing", "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Warning, "one of two still serves");
    assert!(findings[0].title.contains("1 of 2 pods"), "{}", findings[0].title);
    assert!(findings[0].evidence.iter().any(|e| e.field == "event Unhealthy" && e.detail.contains("503")));
    assert!(!findings[0].evidence.iter().any(|e| e.detail.contains("not ours")));
    // Both failing: critical.
    case.pods[0] = pod_row(&mk_pod("payments", 0, false));
    case.slices = vec![mk_slice("payments", "payments", &[false, false])];
    assert_eq!(case.findings()[0].severity, Severity::Critical);
}

#[test]
fn load_balancer_pending_since_creation_beside_one_with_an_address() {
    let mut case = Case::new("frontend", "frontend", 2, http());
    case.svc.type_ = "LoadBalancer".into();
    let findings = case.findings();
    assert_eq!(findings[0].code, "exposure.lb-pending");
    assert!(findings[0].title.contains("since 2026-11-26T10:00:00Z"), "{}", findings[0].title);
    case.svc.load_balancer_ingress = vec!["192.0.2.10".into()];
    assert!(case.findings().is_empty());
}

fn set_state(pod: &mut Pod, waiting: Option<&str>, terminated: Option<(&str, i32)>) {
    let status = pod.status.as_mut().unwrap();
    let cs = &mut status.container_statuses.as_mut().unwrap()[0];
    cs.ready = false;
    cs.restart_count = 5;
    cs.state = Some(ContainerState {
        waiting: waiting
            .map(|r| ContainerStateWaiting { reason: Some(r.into()), message: Some("msg".into()) }),
        ..Default::default()
    });
    cs.last_state = terminated.map(|(reason, code)| ContainerState {
        terminated: Some(ContainerStateTerminated {
            reason: Some(reason.into()),
            exit_code: code,
            ..Default::default()
        }),
        ..Default::default()
    });
    status.conditions.as_mut().unwrap()[0].status = "False".into();
}

#[test]
fn crash_loop_with_oom_kill_image_pull_and_unschedulable() {
    let broken = |edit: &dyn Fn(&mut Pod)| {
        let mut case = Case::new("checkout", "checkout", 2, http());
        let pods: Vec<PodRow> = (0..2)
            .map(|i| {
                let mut p = mk_pod("checkout", i, true);
                edit(&mut p);
                pod_row(&p)
            })
            .collect();
        case.pods = pods;
        case.slices = vec![mk_slice("checkout", "checkout", &[false, false])];
        case
    };
    let crash = broken(&|p| set_state(p, Some("CrashLoopBackOff"), Some(("OOMKilled", 137))));
    let findings = crash.findings();
    assert_eq!(
        findings.iter().map(|f| f.code).collect::<Vec<_>>(),
        ["pods.crash-loop", "pods.oom-killed"],
        "{findings:#?}"
    );
    assert!(findings[0].title.contains("OOMKilled (exit code 137)"), "{}", findings[0].title);

    let pull = broken(&|p| set_state(p, Some("ImagePullBackOff"), None));
    assert_eq!(pull.codes()[0], "pods.image-pull");
    assert!(pull.findings()[0].title.contains("fleetpane-demo/checkout:v1"));

    let pending = broken(&|p| {
        p.spec.as_mut().unwrap().node_name = None;
        let status = p.status.as_mut().unwrap();
        status.phase = Some("Pending".into());
        status.container_statuses = None;
        status.conditions = Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("Unschedulable".into()),
            message: Some("0/4 nodes are available: 4 Insufficient cpu.".into()),
            ..Default::default()
        }]);
    });
    let findings = pending.findings();
    assert_eq!(findings[0].code, "pods.unschedulable", "{findings:#?}");
    assert!(findings[0].title.contains("Insufficient cpu"));
}

fn mk_policy(
    name: &str,
    pods: &[(&str, &str)],
    ingress: Option<NetworkPolicyIngressRule>,
) -> NetworkPolicyRow {
    let selector = |pairs: &[(&str, &str)]| K8sSelector {
        match_labels: Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
        match_expressions: None,
    };
    NetworkPolicyRow::from_object(&NetworkPolicy {
        metadata: mk_meta(NS, name, &[]),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(pods)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: ingress.map(|r| vec![r]),
            ..Default::default()
        }),
    })
}

fn allow_from_frontend(port: i32) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(K8sSelector {
                match_labels: Some([("kubernetes.io/metadata.name".to_owned(), NS.to_owned())].into()),
                match_expressions: None,
            }),
            pod_selector: Some(K8sSelector {
                match_labels: Some([("app".to_owned(), "frontend".to_owned())].into()),
                match_expressions: None,
            }),
            ip_block: None,
        }]),
        ports: Some(vec![NetworkPolicyPort {
            protocol: Some("TCP".into()),
            port: Some(IntOrString::Int(port)),
            end_port: None,
        }]),
    }
}

#[test]
fn default_deny_alone_beside_default_deny_with_an_allow() {
    let mut case = Case::new("inventory", "inventory", 2, IntOrString::Int(8080));
    case.policies.push(mk_policy("default-deny", &[], None));
    assert_eq!(case.codes()[0], "netpol.denies-all-ingress");
    case.policies.push(mk_policy("allow-frontend", &[("app", "inventory")], Some(allow_from_frontend(8080))));
    assert!(case.findings().is_empty(), "{:#?}", case.findings());
    // Allowing a port nobody listens on.
    case.policies[1] = mk_policy("allow-frontend", &[("app", "inventory")], Some(allow_from_frontend(9999)));
    assert_eq!(case.codes(), ["netpol.port-mismatch"]);
}

#[test]
fn policy_text_parses_back_to_what_the_policy_says() {
    let row = mk_policy("p", &[("app", "inventory"), ("tier", "db")], Some(allow_from_frontend(8080)));
    let f = policy_facts(&row);
    assert_eq!(f.pod_selector.match_labels.len(), 2);
    let peer = &f.ingress[0].from[0];
    assert_eq!(
        peer.namespace_selector.as_ref().unwrap().match_labels["kubernetes.io/metadata.name"],
        "team-a"
    );
    assert_eq!(peer.pod_selector.as_ref().unwrap().match_labels["app"], "frontend");
    assert_eq!(
        f.ingress[0].ports[0],
        PolicyPortFacts { port: Some(PortRef::Number(8080)), end_port: None, protocol: Protocol::Tcp }
    );

    let sel = parse_selector("app=web,tier in (a,b),env notin (dev),!canary,team");
    let labels = |pairs: &[(&str, &str)]| -> crate::diagnose::facts::Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "x")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "x")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("team", "x"), ("canary", "1")])));
    assert!(parse_selector("").matches(&labels(&[("x", "y")])), "empty selects all");
    assert!(parse_selector("all").matches(&labels(&[])));
}

#[test]
fn routes_to_a_port_the_service_lacks() {
    let route = |ns: &str, port: i32| HttpRouteRow {
        namespace: NS.into(),
        name: "checkout".into(),
        rules: vec![HttpRouteRuleRow {
            backend_refs: vec![BackendRefRow {
                kind: "Service".into(),
                namespace: ns.into(),
                name: "checkout".into(),
                port: Some(port),
                weight: Some(10),
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut case = Case::new("checkout", "checkout", 2, http());
    case.routes.push(route(NS, 80));
    // A route to another namespace's Service of that name is not about this one.
    case.routes.push(route("team-b", 8080));
    assert!(case.findings().is_empty(), "{:#?}", case.findings());
    case.routes.push(route(NS, 8080));
    let findings = case.findings();
    assert_eq!(findings[0].code, "exposure.route-missing-port", "{findings:#?}");
    assert_eq!(findings[0].evidence[0].object.kind, "HTTPRoute");
}

#[test]
fn pdb_allowing_no_disruption_only_when_it_selects_the_pods() {
    let pdb = |selector: &str, allowed: i32| {
        PdbRow::from_object(&PodDisruptionBudget {
            metadata: mk_meta(NS, "checkout", &[]),
            spec: Some(PodDisruptionBudgetSpec {
                min_available: Some(IntOrString::Int(2)),
                selector: Some(K8sSelector {
                    match_labels: Some([("app".to_owned(), selector.to_owned())].into()),
                    match_expressions: None,
                }),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                disruptions_allowed: Some(allowed),
                expected_pods: Some(2),
                ..Default::default()
            }),
        })
    };
    let mut case = Case::new("checkout", "checkout", 2, http());
    case.pdbs.push(pdb("checkout", 1));
    assert!(case.findings().is_empty());
    case.pdbs = vec![pdb("other", 0)];
    assert!(case.findings().is_empty(), "selects other pods");
    case.pdbs = vec![pdb("checkout", 0)];
    assert_eq!(case.codes(), ["risk.pdb-no-disruption"]);
}

#[test]
fn unreadable_kinds_never_read_as_outages() {
    let mut case = Case::new("checkout", "checkout", 2, http());
    case.slices = vec![mk_slice("checkout", "checkout", &[false, false])];
    case.pods.clear();
    let input = ServiceInput { pods: None, ..case.input() };
    let findings = diagnose_rows(&input, &Surroundings::default(), &Thresholds::default());
    assert!(findings.is_empty(), "pods unknown is not 'matches nothing': {findings:#?}");
    let input = ServiceInput { pods: Some(vec![]), ..case.input() };
    assert_eq!(
        diagnose_rows(&input, &Surroundings::default(), &Thresholds::default())[0].code,
        "selector.matches-nothing"
    );

    let mut manual = Case::new("ext", "x", 0, IntOrString::Int(80));
    manual.svc.selector.clear();
    manual.slices.clear();
    assert_eq!(manual.codes(), ["selector.none-and-no-endpoints"]);
    let input = ServiceInput { slices: None, ..manual.input() };
    assert!(diagnose_rows(&input, &Surroundings::default(), &Thresholds::default()).is_empty());
}

#[test]
fn dual_stack_slices_count_each_backend_once() {
    let mut case = Case::new("checkout", "checkout", 2, http());
    let mut v6 = case.slices[0].clone();
    v6.name = "checkout-v6".into();
    v6.address_type = "IPv6".into();
    for e in &mut v6.endpoints {
        e.ready = Some(false);
    }
    case.slices.push(v6);
    let f = facts(&case.input(), &Surroundings::default());
    assert_eq!(f.slices.len(), 1);
    assert_eq!(f.slices[0].endpoints.len(), 2);
}

fn mk_node(name: &str, zone: &str, ready: &str) -> NodeRow {
    use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeStatus};
    NodeRow::from_object(&Node {
        metadata: mk_meta("", name, &[(crate::watch::rows::ZONE_LABEL, zone)]),
        spec: None,
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: ready.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    })
}

/// Deployment `name` of `replicas` whose selector and pod template are `app=<app>`.
fn mk_deployment(name: &str, app: &str, replicas: i32) -> crate::watch::rows::DeploymentRow {
    use k8s_openapi::api::{
        apps::v1::{Deployment, DeploymentSpec, DeploymentStatus},
        core::v1::PodTemplateSpec,
    };
    crate::watch::rows::DeploymentRow::from_object(&Deployment {
        metadata: mk_meta(NS, name, &[]),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: K8sSelector {
                match_labels: Some([("app".to_owned(), app.to_owned())].into()),
                match_expressions: None,
            },
            template: PodTemplateSpec { metadata: Some(mk_meta(NS, "", &[("app", app)])), spec: None },
            ..Default::default()
        }),
        status: Some(DeploymentStatus { ready_replicas: Some(replicas), ..Default::default() }),
    })
}

fn with_nodes<'a>(nodes: &'a NodeIndex<'a>) -> Surroundings<'a> {
    Surroundings { nodes: Some(nodes), ..Default::default() }
}

fn with_workloads<'a>(workloads: &'a WorkloadIndex<'a>) -> Surroundings<'a> {
    Surroundings { workloads: Some(workloads), ..Default::default() }
}

fn deployments<'a>(readable: Scope, rows: &'a [crate::watch::rows::DeploymentRow]) -> WorkloadIndex<'a> {
    let mut index = WorkloadIndex::default();
    index.add(WorkloadKind::Deployment, readable, rows.iter().map(|d| &d.0));
    index
}

fn codes_around(case: &Case, around: &Surroundings<'_>) -> Vec<&'static str> {
    diagnose_rows(&case.input(), around, &Thresholds::default()).iter().map(|f| f.code).collect()
}

#[test]
fn a_pod_on_an_unready_node_is_named_only_for_who_may_list_nodes() {
    // checkout-<i> runs on node-<i>; node-1's kubelet stopped reporting.
    let case = Case::new("checkout", "checkout", 3, http());
    let nodes = [
        mk_node("node-0", "zone-a", "True"),
        mk_node("node-1", "zone-b", "Unknown"),
        mk_node("node-2", "zone-a", "True"),
    ];
    let index = NodeIndex::new(&nodes);
    let findings = diagnose_rows(&case.input(), &with_nodes(&index), &Thresholds::default());
    assert_eq!(findings.iter().map(|f| f.code).collect::<Vec<_>>(), ["pods.node-not-ready"], "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding.severity, Severity::Warning, "two pods on ready nodes still serve");
    assert!(finding.title.contains("1 of 3 pods") && finding.title.contains("node-1"), "{}", finding.title);
    let objects: Vec<&ObjectRef> = finding.evidence.iter().map(|e| &e.object).collect();
    assert!(objects.contains(&&ObjectRef::new("Pod", NS, "checkout-1")), "{objects:?}");
    assert!(objects.contains(&&ObjectRef::new("Node", "", "node-1")), "{objects:?}");
    // A person who may not list nodes: not a word about nodes (the same pods, the same endpoints).
    assert!(case.findings().is_empty(), "{:#?}", case.findings());
    assert!(facts(&case.input(), &Surroundings::default()).nodes.is_empty());
    // All nodes ready: nothing either.
    let ready = [mk_node("node-0", "zone-a", "True"), mk_node("node-1", "zone-b", "True")];
    let index = NodeIndex::new(&ready);
    assert!(codes_around(&case, &with_nodes(&index)).is_empty());
}

#[test]
fn local_traffic_policy_names_ready_nodes_without_a_ready_local_endpoint() {
    // Endpoints on node-0 and node-1; node-2 is ready with none, node-3 is not ready (gets no traffic).
    let mut case = Case::new("payments", "payments", 2, http());
    case.svc.type_ = "NodePort".into();
    case.svc.external_traffic_policy = Some("Local".into());
    let nodes = [
        mk_node("node-0", "zone-a", "True"),
        mk_node("node-1", "zone-b", "True"),
        mk_node("node-2", "zone-c", "True"),
        mk_node("node-3", "zone-a", "False"),
    ];
    let index = NodeIndex::new(&nodes);
    let findings = diagnose_rows(&case.input(), &with_nodes(&index), &Thresholds::default());
    assert_eq!(findings[0].code, "traffic.external-local-no-endpoint", "{findings:#?}");
    let named: Vec<&str> = findings[0]
        .evidence
        .iter()
        .filter(|e| e.object.kind == "Node")
        .map(|e| e.object.name.as_str())
        .collect();
    assert_eq!(named, ["node-2"]);
    // Under Local every node is read; otherwise only the pods' nodes and one ready node per zone.
    let names = |case: &Case| -> Vec<String> {
        facts(&case.input(), &with_nodes(&index)).nodes.into_iter().map(|n| n.name).collect()
    };
    assert_eq!(names(&case), ["node-0", "node-1", "node-2", "node-3"]);
    case.svc.external_traffic_policy = None;
    assert_eq!(names(&case), ["node-0", "node-1", "node-2"], "a ready node of each zone");
    assert!(codes_around(&case, &with_nodes(&index)).is_empty());
    // An unready node a pod runs on is read too.
    let mut on_3 = case.pods[1].clone();
    on_3.node_name = Some("node-3".into());
    case.pods[1] = on_3;
    assert_eq!(names(&case), ["node-0", "node-1", "node-2", "node-3"]);
    assert_eq!(codes_around(&case, &with_nodes(&index)), ["pods.node-not-ready"]);
}

#[test]
fn a_deployment_scaled_to_zero_is_named_with_the_deployment_as_evidence() {
    let mut case = Case::new("checkout", "checkout", 0, http());
    case.slices = vec![mk_slice("checkout", "checkout", &[])];
    // Without workloads, all the doctor can say is that nothing matches.
    assert_eq!(case.codes(), ["selector.matches-nothing"]);
    let rows = [mk_deployment("checkout", "checkout", 0), mk_deployment("other", "other", 0)];
    let index = deployments(Scope::All, &rows);
    let findings = diagnose_rows(&case.input(), &with_workloads(&index), &Thresholds::default());
    assert_eq!(findings.iter().map(|f| f.code).collect::<Vec<_>>(), ["pods.scaled-to-zero"], "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.title, "Workload scaled to zero: Deployment/checkout", "not the other Deployment");
    assert_eq!(finding.evidence[0].object, ObjectRef::new("Deployment", NS, "checkout"));
    assert_eq!(
        (finding.evidence[0].field.as_str(), finding.evidence[0].detail.as_str()),
        ("spec.replicas", "0")
    );
    // Deployments readable only elsewhere: as without them.
    let elsewhere = deployments(Scope::Namespaces(["team-b".to_owned()].into()), &rows);
    assert_eq!(codes_around(&case, &with_workloads(&elsewhere)), ["selector.matches-nothing"]);
    // Scaled up again: nothing about workloads.
    let up = [mk_deployment("checkout", "checkout", 3)];
    let index = deployments(Scope::All, &up);
    let f = facts(&case.input(), &with_workloads(&index));
    assert_eq!(
        f.workloads
            .iter()
            .map(|w| (w.kind.as_str(), w.name.as_str(), w.replicas_desired))
            .collect::<Vec<_>>(),
        [("Deployment", "checkout", 3)]
    );
    assert!(!codes_around(&case, &with_workloads(&index)).contains(&"pods.scaled-to-zero"));
}

#[test]
fn a_daemon_set_no_node_wants_is_not_scaled_to_zero() {
    use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
    let mut case = Case::new("agent", "agent", 0, http());
    case.slices = vec![mk_slice("agent", "agent", &[])];
    let agent = crate::watch::rows::DaemonSetRow::from_object(&DaemonSet {
        metadata: mk_meta(NS, "agent", &[]),
        spec: Some(DaemonSetSpec {
            template: k8s_openapi::api::core::v1::PodTemplateSpec {
                metadata: Some(mk_meta(NS, "", &[("app", "agent")])),
                spec: None,
            },
            ..Default::default()
        }),
        status: None,
    });
    let mut index = WorkloadIndex::default();
    index.add(WorkloadKind::DaemonSet, Scope::All, [&agent.0]);
    assert!(facts(&case.input(), &with_workloads(&index)).workloads.is_empty());
    assert_eq!(codes_around(&case, &with_workloads(&index)), ["selector.matches-nothing"]);
}

#[test]
fn owners_are_real_workloads_where_deployments_are_readable() {
    // The pods' owner is ReplicaSet checkout-5d5d75d5b5, their pod-template-hash 5d5d75d5b5.
    let case = Case::new("checkout", "checkout", 2, http());
    let owner = |around: &Surroundings<'_>| facts(&case.input(), around).pods[0].owner.clone().unwrap();
    let deployment = WorkloadRef { kind: "Deployment".into(), name: "checkout".into() };
    let replica_set = WorkloadRef { kind: "ReplicaSet".into(), name: "checkout-5d5d75d5b5".into() };
    // Deployments not read: the controller's naming tells.
    assert_eq!(owner(&Surroundings::default()), deployment);
    let real = [mk_deployment("checkout", "checkout", 2)];
    assert_eq!(owner(&with_workloads(&deployments(Scope::All, &real))), deployment);
    // Readable, and no such Deployment (or one that selects other pods): the ReplicaSet is the owner.
    assert_eq!(owner(&with_workloads(&deployments(Scope::All, &[]))), replica_set);
    let other = [mk_deployment("checkout", "other", 2)];
    assert_eq!(owner(&with_workloads(&deployments(Scope::All, &other))), replica_set);
    // Readable only in another namespace: the naming again.
    let elsewhere = deployments(Scope::Namespaces(["team-b".to_owned()].into()), &[]);
    assert_eq!(owner(&with_workloads(&elsewhere)), deployment);
}

/// A rule admitting pods `app=<app>` of this namespace on `port`.
fn allow_from_app(app: &str, port: i32) -> NetworkPolicyIngressRule {
    let mut rule = allow_from_frontend(port);
    if let Some(peer) = rule.from.as_mut().and_then(|peers| peers.first_mut()) {
        peer.pod_selector = Some(K8sSelector {
            match_labels: Some([("app".to_owned(), app.to_owned())].into()),
            match_expressions: None,
        });
    }
    rule
}

/// Istio's answer to the callers query of checkout: frontend (team-a) at 120/s, and a workload of team-c.
fn checkout_callers() -> Vec<crate::metrics::facts::Caller> {
    use crate::metrics::{
        client::parse_answer,
        facts::callers_from,
        presets::{Preset, Source, Target},
        promql::KubeName,
    };
    let answer = parse_answer(
        200,
        br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"source_workload":"frontend","source_workload_namespace":"team-a"},"value":[1,"120"]},
            {"metric":{"source_workload":"reports","source_workload_namespace":"team-c"},"value":[1,"1"]}]}}"#,
    )
    .unwrap();
    let ns = KubeName::new("namespace", NS).unwrap();
    let svc = KubeName::new("service", "checkout").unwrap();
    let q = Source::Preset(Preset::Istio)
        .callers_query(&Target { namespace: &ns, service: &svc, pods: &[] }, "5m")
        .unwrap();
    callers_from(&answer, &q)
}

#[test]
fn a_policy_admitting_another_app_blocks_the_metrics_caller_named_by_its_workload() {
    let mut case = Case::new("checkout", "checkout", 2, IntOrString::Int(8080));
    case.policies.push(mk_policy("allow-batch", &[("app", "checkout")], Some(allow_from_app("batch", 8080))));
    let callers = checkout_callers();
    let frontend = [mk_deployment("frontend", "frontend", 2)];
    // The person reads Deployments in team-a only: reports (team-c) is left out, never guessed.
    let readable = deployments(Scope::Namespaces([NS.to_owned()].into()), &frontend);
    let known = caller_facts(callers.iter().map(|c| (c.namespace.as_str(), c.workload.as_str())), &readable);
    assert_eq!(known.len(), 1, "{known:?}");
    let around =
        Surroundings { metrics: metrics_facts(Some((120.0, 0.0)), Some(180.0), known), ..Default::default() };
    let findings = diagnose_rows(&case.input(), &around, &Thresholds::default());
    let blocked = findings.iter().find(|f| f.code == "netpol.blocks-known-callers").unwrap_or_else(|| {
        panic!("no netpol finding: {findings:#?}");
    });
    assert_eq!(blocked.severity, Severity::Critical, "the only known caller is blocked");
    assert!(blocked.title.contains("block 1 of 1 known callers: deploy/frontend"), "{}", blocked.title);
    assert!(blocked.evidence.iter().any(|e| e.detail == "deploy/frontend in team-a is not allowed in"));

    // The same policy admitting frontend: nothing to say.
    case.policies[0] =
        mk_policy("allow-frontend", &[("app", "checkout")], Some(allow_from_app("frontend", 8080)));
    let known = caller_facts(callers.iter().map(|c| (c.namespace.as_str(), c.workload.as_str())), &readable);
    let around = Surroundings { metrics: metrics_facts(None, None, known), ..Default::default() };
    assert!(diagnose_rows(&case.input(), &around, &Thresholds::default()).is_empty());
}

#[test]
fn callers_whose_workload_is_unreadable_or_absent_are_left_out() {
    let mut case = Case::new("checkout", "checkout", 2, IntOrString::Int(8080));
    case.policies.push(mk_policy("allow-batch", &[("app", "checkout")], Some(allow_from_app("batch", 8080))));
    let callers = checkout_callers();
    let pairs = || callers.iter().map(|c| (c.namespace.as_str(), c.workload.as_str()));
    let frontend = [mk_deployment("frontend", "frontend", 2)];
    // Deployments not readable in team-a; readable, but no frontend there.
    for index in [
        deployments(Scope::Namespaces(["team-c".to_owned()].into()), &frontend),
        deployments(Scope::All, &[]),
    ] {
        let known = caller_facts(pairs(), &index);
        assert!(known.is_empty(), "{known:?}");
        let around = Surroundings { metrics: metrics_facts(None, None, known), ..Default::default() };
        assert!(diagnose_rows(&case.input(), &around, &Thresholds::default()).is_empty());
    }
    // A name that a Deployment and a StatefulSet both hold: which one calls is not known.
    let sts = WorkloadRow {
        kind: WorkloadKind::StatefulSet,
        namespace: NS.into(),
        name: "frontend".into(),
        ..Default::default()
    };
    let mut both = deployments(Scope::All, &frontend);
    both.add(WorkloadKind::StatefulSet, Scope::All, [&sts]);
    assert!(caller_facts(pairs(), &both).is_empty());
}

#[test]
fn metrics_facts_carry_p99_and_stay_empty_when_nothing_is_known() {
    assert!(metrics_facts(None, None, Vec::new()).is_none());
    let m = metrics_facts(None, Some(2500.0), Vec::new()).unwrap();
    assert_eq!((m.request_rate, m.error_rate, m.p99_latency_ms), (None, None, Some(2500.0)));
    let m = metrics_facts(Some((40.0, 0.92)), Some(600.0), Vec::new()).unwrap();
    assert_eq!(m.request_rate, Some(40.0));
    assert!((m.error_rate.unwrap() - 0.023).abs() < 1e-9);
    // p99 over the threshold is a finding on the Service page.
    let case = Case::new("payments", "payments", 2, http());
    let around =
        Surroundings { metrics: metrics_facts(None, Some(2500.0), Vec::new()), ..Default::default() };
    let codes: Vec<_> =
        diagnose_rows(&case.input(), &around, &Thresholds::default()).iter().map(|f| f.code).collect();
    assert!(codes.contains(&"risk.latency"), "{codes:?}");
    let around = Surroundings { metrics: metrics_facts(None, Some(180.0), Vec::new()), ..Default::default() };
    assert!(!codes_around(&case, &around).contains(&"risk.latency"), "180 ms is under the threshold");
}
