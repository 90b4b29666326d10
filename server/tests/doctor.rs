//! The service doctor against the local real fleet (`testenv up`): every broken fixture Service gets the right
//! finding first, in the triage view and on its page, and the healthy ones none at warning or above.
//!
//! ```sh
//! LEPTOS_OUTPUT_NAME=fleetpane RUSTFLAGS="--cfg erase_components" \
//!   cargo test -p fleetpane-server --test doctor -- --ignored --test-threads=1
//! ```

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use fleetpane_app::model::doctor::{Severity, TriagePage, TriageRequest};
use fleetpane_server::{
    access::{self, Access},
    fleet::{Fleet, Impersonation},
    read, triage,
    views::service::{ServiceInput, detail},
    watch::{
        Caches,
        rows::{
            EndpointSliceRow, EventRow, HpaRow, HttpRouteRow, IngressRow, NetworkPolicyRow, PdbRow, PodRow,
            ServiceRow,
        },
    },
};

#[path = "support/fleetenv.rs"]
mod fleetenv;

use fleetenv::{facts, fleet};

/// (namespace, name, the finding that must come first, its severity) of every deliberately broken fixture.
const BROKEN: &[(&str, &str, &str, Severity)] = &[
    ("team-b", "orphan", "selector.matches-nothing", Severity::Critical),
    ("team-a", "frontend", "exposure.lb-pending", Severity::Critical),
    ("team-b", "wrong-port", "ports.target-not-exposed", Severity::Warning),
    ("team-a", "payments", "pods.readiness-failing", Severity::Warning),
];

/// Fixtures that serve as intended: none gets a finding at warning or above (checkout's HPA computes replicas
/// from the fleet's metrics-server, and its PDB allows a disruption in every cluster).
const HEALTHY: &[(&str, &str)] = &[
    ("team-a", "checkout"),
    ("team-a", "checkout-headless"),
    ("team-a", "legacy-db"),
    ("team-b", "inventory"),
    ("platform", "cache"),
];

fn alice() -> Impersonation {
    Impersonation::new("alice@example.com", ["sre"])
}

async fn started() -> (Fleet, Caches, Access) {
    let fleet = fleet();
    let caches = Caches::start(&fleet);
    let access = Access::start(&fleet, access::DECISION_TTL);
    assert!(caches.wait_until_live(Duration::from_secs(60)).await, "the caches did not sync within 60 s");
    (fleet, caches, access)
}

async fn triage_as(fleet: &Fleet, caches: &Caches, access: &Access, who: &Impersonation) -> TriagePage {
    triage::triage(fleet, caches, access, None, who, &TriageRequest::default(), Duration::from_secs(10)).await
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn triage_puts_the_right_finding_first_for_every_broken_fixture() {
    let facts = facts();
    let (fleet, caches, access) = started().await;
    let page = triage_as(&fleet, &caches, &access, &alice()).await;
    assert!(page.unavailable.is_empty(), "{:?}", page.unavailable);
    for cluster in &facts.clusters {
        for (ns, name, code, severity) in BROKEN {
            let row = page
                .rows
                .iter()
                .find(|r| r.cluster == cluster.name && r.namespace == *ns && r.name == *name)
                .unwrap_or_else(|| {
                    panic!("{}: {ns}/{name} is not in the triage view: {page:#?}", cluster.name)
                });
            assert_eq!((row.code.as_str(), row.severity), (*code, *severity), "{}: {row:#?}", cluster.name);
            assert_eq!(row.href, format!("/c/{}/ns/{ns}/svc/{name}", cluster.name));
            assert_eq!(row.team.as_deref(), Some(*ns), "the fixtures' fleetpane.dev/team label");
        }
        let payments = page.rows.iter().find(|r| r.cluster == cluster.name && r.name == "payments").unwrap();
        assert_eq!((payments.not_ready, payments.endpoints), (1, 2), "{payments:#?}");
        assert!(payments.since.is_some(), "the unready pod's Ready condition time");
        for (ns, name) in HEALTHY {
            for r in page
                .rows
                .iter()
                .filter(|r| r.cluster == cluster.name && r.namespace == *ns && r.name == *name)
            {
                assert!(r.severity < Severity::Warning, "{}: healthy {ns}/{name} has {r:#?}", cluster.name);
            }
        }
    }
    // Worst first: every critical row before every warning row.
    let first_warning =
        page.rows.iter().position(|r| r.severity < Severity::Critical).unwrap_or(page.rows.len());
    assert!(page.rows[first_warning..].iter().all(|r| r.severity < Severity::Critical), "{page:#?}");
    // Filters are applied on the server.
    let team_b = triage::triage(
        &fleet,
        &caches,
        &access,
        None,
        &alice(),
        &TriageRequest { cluster: "prod-eu".into(), team: "team-b".into(), ..Default::default() },
        Duration::from_secs(10),
    )
    .await;
    let names: Vec<_> = team_b.rows.iter().map(|r| (r.cluster.as_str(), r.name.as_str())).collect();
    assert_eq!(names, [("prod-eu", "orphan"), ("prod-eu", "wrong-port")], "{team_b:#?}");
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn bob_sees_only_his_namespace_and_carol_nothing() {
    let (fleet, caches, access) = started().await;
    let bob = triage_as(&fleet, &caches, &access, &Impersonation::new("bob@example.com", ["team-a"])).await;
    assert!(bob.rows.iter().all(|r| r.namespace == "team-a"), "{bob:#?}");
    assert!(bob.rows.iter().any(|r| r.name == "frontend"));
    assert!(bob.rows.iter().any(|r| r.name == "payments" && r.code == "pods.readiness-failing"));
    let carol =
        triage_as(&fleet, &caches, &access, &Impersonation::new("carol@example.com", Vec::<String>::new()))
            .await;
    assert!(carol.rows.is_empty() && carol.checked == 0, "{carol:#?}");
}

/// The Service page's findings, built as the page builds them from the same reads.
#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn the_service_page_shows_the_same_finding_first() {
    let facts = facts();
    let (fleet, caches, access) = started().await;
    let who = alice();
    for cluster in &facts.clusters {
        let c = cluster.name.as_str();
        macro_rules! rows {
            ($row:ty) => {
                read::list::<$row>(&fleet, &caches, &access, &who, c).await.unwrap()
            };
        }
        let services = rows!(ServiceRow);
        let (slices, pods, events) = (rows!(EndpointSliceRow), rows!(PodRow), rows!(EventRow));
        let (policies, ingresses, routes) = (rows!(NetworkPolicyRow), rows!(IngressRow), rows!(HttpRouteRow));
        let (hpas, pdbs) = (rows!(HpaRow), rows!(PdbRow));
        let page = |ns: &str, name: &str| {
            let svc = services.iter().find(|s| s.namespace == ns && s.name == name).unwrap();
            detail(&ServiceInput {
                cluster: c,
                cluster_domain: "cluster.local",
                service: svc,
                slices: Some(slices.iter().filter(|r| r.namespace == ns).map(|r| &**r).collect()),
                pods: Some(pods.iter().filter(|r| r.namespace == ns).map(|r| &**r).collect()),
                events: Some(events.iter().filter(|r| r.namespace == ns).map(|r| &**r).collect()),
                network_policies: Some(policies.iter().filter(|r| r.namespace == ns).map(|r| &**r).collect()),
                ingresses: Some(ingresses.iter().filter(|r| r.namespace == ns).map(|r| &**r).collect()),
                http_routes: Some(routes.iter().map(|r| &**r).collect()),
                hpas: Some(hpas.iter().filter(|r| r.namespace == ns).map(|r| &**r).collect()),
                pdbs: Some(pdbs.iter().filter(|r| r.namespace == ns).map(|r| &**r).collect()),
            })
        };
        for (ns, name, code, severity) in BROKEN {
            let d = page(ns, name);
            let first = d.findings.first().unwrap_or_else(|| panic!("{c}: {ns}/{name} has no findings"));
            assert_eq!((first.code.as_str(), first.severity), (*code, *severity), "{c}: {:#?}", d.findings);
            assert!(!first.evidence.is_empty());
        }
        let payments = page("team-a", "payments");
        assert!(
            payments.findings[0].evidence.iter().any(|e| e.field == "event Unhealthy"
                && e.object.href.as_deref().is_some_and(|h| h.starts_with("#pod-payments-"))),
            "{c}: the Unhealthy event, linked to the pod on the page: {:#?}",
            payments.findings[0]
        );
        for (ns, name) in HEALTHY {
            let d = page(ns, name);
            let serious: Vec<_> = d.findings.iter().filter(|f| f.severity >= Severity::Warning).collect();
            assert!(serious.is_empty(), "{c}: healthy {ns}/{name} has {serious:#?}");
        }
    }
}

/// Workloads and nodes reach the doctor as the person may read them: a Deployment scaled to zero behind a
/// Service of its own is the first finding, in the triage view and on the Service page (its evidence links to
/// the Deployment the page lists); nodes come only to whoever the cluster lets list them.
#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn workloads_and_nodes_reach_the_doctor_as_the_person_may_read_them() {
    use fleetpane_server::service_page::{Target, service_page};
    use k8s_openapi::{
        api::{
            apps::v1::{Deployment, DeploymentSpec},
            core::v1::{
                Container, Namespace, Node, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
            },
        },
        apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
    };
    use kube::{
        Api,
        api::{DeleteParams, ListParams, PostParams},
    };

    let facts = facts();
    let (fleet, caches, access) = started().await;
    let cluster = &facts.clusters[0];
    let c = cluster.name.as_str();
    let admin = fleetenv::admin_client(cluster);
    let ns = format!("doctor-{}", fleetenv::run_id());
    let pp = PostParams::default();
    let meta = |name: &str| ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.clone()),
        ..Default::default()
    };
    let app: std::collections::BTreeMap<String, String> = [("app".to_owned(), "parked".to_owned())].into();
    let namespace = Namespace {
        metadata: ObjectMeta { name: Some(ns.clone()), ..Default::default() },
        ..Default::default()
    };
    Api::<Namespace>::all(admin.clone()).create(&pp, &namespace).await.unwrap();
    let body = async {
        let deployment = Deployment {
            metadata: meta("parked"),
            spec: Some(DeploymentSpec {
                replicas: Some(0),
                selector: LabelSelector { match_labels: Some(app.clone()), match_expressions: None },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(app.clone()), ..Default::default() }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "web".into(),
                            image: Some("fleetpane-demo/parked:1".into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        };
        Api::<Deployment>::namespaced(admin.clone(), &ns).create(&pp, &deployment).await.unwrap();
        let service = Service {
            metadata: meta("parked"),
            spec: Some(ServiceSpec {
                selector: Some(app.clone()),
                ports: Some(vec![ServicePort { port: 80, ..Default::default() }]),
                ..Default::default()
            }),
            status: None,
        };
        Api::<Service>::namespaced(admin.clone(), &ns).create(&pp, &service).await.unwrap();

        let alice = alice();
        let request = TriageRequest { cluster: c.to_owned(), namespace: ns.clone(), ..Default::default() };
        let mut row = None;
        for _ in 0..50 {
            let page =
                triage::triage(&fleet, &caches, &access, None, &alice, &request, Duration::from_secs(10))
                    .await;
            row = page.rows.into_iter().find(|r| r.name == "parked");
            if row.as_ref().is_some_and(|r| r.code == "pods.scaled-to-zero") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let row = row.unwrap_or_else(|| panic!("{c}: {ns}/parked never reached the triage view"));
        assert_eq!(
            (row.code.as_str(), row.severity),
            ("pods.scaled-to-zero", Severity::Critical),
            "{row:#?}"
        );
        assert!(row.title.contains("Deployment/parked"), "{row:#?}");

        let target = Target { cluster: c, cluster_domain: "cluster.local", namespace: &ns, name: "parked" };
        let detail = service_page(&fleet, &caches, &access, None, &alice, &target, Duration::from_secs(10))
            .await
            .unwrap();
        let first = &detail.findings[0];
        assert_eq!((first.code.as_str(), first.severity), ("pods.scaled-to-zero", Severity::Critical));
        assert_eq!(first.evidence[0].object.href.as_deref(), Some("#workload-parked"), "{first:#?}");
        let listed = detail.related.workloads.iter().find(|w| w.kind == "Deployment" && w.name == "parked");
        let listed = listed.unwrap_or_else(|| panic!("the page lists the Deployment: {:#?}", detail.related));
        assert_eq!((listed.pods, listed.replicas.as_deref()), (0, Some("0/0")));

        // Nodes: exactly what the cluster itself answers each person's LIST.
        let admin_nodes: Vec<String> = Api::<Node>::all(admin.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        for who in [alice.clone(), Impersonation::new("bob@example.com", ["team-a"])] {
            let client = fleet.get(c).unwrap().client_as(&who).unwrap();
            let direct = match Api::<Node>::all(client).list(&ListParams::default()).await {
                Ok(_) => true,
                Err(kube::Error::Api(s)) if s.code == 403 => false,
                Err(e) => panic!("{c}: listing nodes as {who:?}: {e}"),
            };
            let read = read::nodes(&fleet, &caches, &access, &who, c).await.unwrap();
            assert_eq!(read.is_some(), direct, "{c}: {who:?}");
            if let Some(nodes) = read {
                let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
                assert_eq!(names, admin_nodes, "{c}: every node, by name");
                assert!(nodes.iter().all(|n| n.zone.is_some()), "{c}: the fixture nodes' zones: {nodes:#?}");
            }
        }
        assert!(
            read::nodes(&fleet, &caches, &access, &Impersonation::new("bob@example.com", ["team-a"]), c)
                .await
                .unwrap()
                .is_none(),
            "{c}: team-a may not list nodes"
        );
    };
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(body)).await;
    let _ = Api::<Namespace>::all(admin).delete(&ns, &DeleteParams::default()).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
