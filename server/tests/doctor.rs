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

/// Fixtures that serve as intended.
const HEALTHY: &[(&str, &str)] = &[
    ("team-a", "checkout"),
    ("team-a", "checkout-headless"),
    ("team-a", "legacy-db"),
    ("team-b", "inventory"),
    ("platform", "cache"),
];

/// Real risks of the local fleet on healthy fixtures, expected at warning: the fleet has no metrics API, so
/// checkout's HPA cannot compute replicas (ScalingActive=False everywhere); prod-us runs checkout with 2
/// replicas under a PDB of minAvailable 2 (the deliberate per-cluster difference), so it allows no disruption.
/// checkout-headless selects the same pods, so it shares both.
fn known_risk(cluster: &str, namespace: &str, name: &str, code: &str) -> bool {
    namespace == "team-a"
        && (name == "checkout" || name == "checkout-headless")
        && (code == "risk.hpa-cannot-scale" || (cluster == "prod-us" && code == "risk.pdb-no-disruption"))
}

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
    triage::triage(fleet, caches, access, who, &TriageRequest::default(), Duration::from_secs(10)).await
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
                assert!(
                    r.severity < Severity::Warning || known_risk(&cluster.name, ns, name, &r.code),
                    "{}: healthy {ns}/{name} has {r:#?}",
                    cluster.name
                );
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
            for f in d.findings.iter().filter(|f| f.severity >= Severity::Warning) {
                assert!(known_risk(c, ns, name, &f.code), "{c}: healthy {ns}/{name} has {f:#?}");
            }
        }
    }
}
