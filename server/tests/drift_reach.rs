//! Drift and "can A reach B" against the local real fleet (`testenv up`).
//!
//! The fixtures (testenv/internal/fixtures) give team-a/checkout deliberate differences: prod-us runs 2
//! replicas of image v1.4.1 (prod-eu and staging: 3 of v1.4.2), staging adds the port `metrics` 9102 and
//! sessionAffinity ClientIP. team-b has `default-deny` (all pods, Ingress) and `allow-frontend` (pods
//! app=inventory, from team-a pods app=frontend, TCP 8080).
//!
//! ```sh
//! LEPTOS_OUTPUT_NAME=fleetpane RUSTFLAGS="--cfg erase_components" \
//!   cargo test -p fleetpane-server --test drift_reach -- --ignored
//! ```

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use fleetpane_app::model::{
    drift::{DriftKey, DriftPage, DriftRow, DriftState},
    reach::{ReachRequest, Reachability},
};
use fleetpane_server::{
    access::{self, Access},
    drift_page::{CLUSTER_TIMEOUT, drift_list, drift_page},
    fleet::{Fleet, Impersonation},
    reach_page,
    watch::Caches,
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

#[path = "support/fleetenv.rs"]
mod fleetenv;

use fleetenv::{admin_client, facts, fleet};

fn alice() -> Impersonation {
    Impersonation::new("alice@example.com", ["sre"])
}

async fn started() -> (Fleet, Caches, Access) {
    let fleet = fleet();
    let caches = Caches::start(&fleet);
    let access = Access::start(&fleet, access::DECISION_TTL);
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");
    (fleet, caches, access)
}

fn row(page: &DriftPage, key: DriftKey) -> &DriftRow {
    page.rows.iter().find(|r| r.key == key).unwrap()
}

fn lines(page: &DriftPage, key: DriftKey) -> Vec<Vec<String>> {
    row(page, key).cells.iter().map(|c| c.lines.clone()).collect()
}

fn differs(page: &DriftPage, key: DriftKey) -> Vec<bool> {
    row(page, key).cells.iter().map(|c| c.differs).collect()
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn checkout_drifts_field_by_field() {
    let (fleet, caches, access) = started().await;
    let page = drift_page(&fleet, &caches, &access, &alice(), "team-a", "checkout", &[], CLUSTER_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(page.clusters, ["prod-eu", "prod-us", "staging"], "{page:#?}");
    assert!(page.unavailable.is_empty() && page.missing_in.is_empty());
    assert_eq!(
        page.differing(),
        [
            DriftKey::Ports,
            DriftKey::SessionAffinity,
            DriftKey::Images,
            DriftKey::Replicas,
            DriftKey::ReadyEndpoints
        ]
    );
    let v142 = vec!["checkout: fleetpane-demo/checkout:v1.4.2".to_owned()];
    let v141 = vec!["checkout: fleetpane-demo/checkout:v1.4.1".to_owned()];
    assert_eq!(lines(&page, DriftKey::Images), [v142.clone(), v141, v142]);
    assert_eq!(differs(&page, DriftKey::Images), [false, true, false]);
    assert_eq!(
        lines(&page, DriftKey::Replicas),
        [["3/3 pods ready"], ["2/2 pods ready"], ["3/3 pods ready"]]
    );
    assert_eq!(lines(&page, DriftKey::ReadyEndpoints), [["3/3 ready"], ["2/2 ready"], ["3/3 ready"]]);
    assert_eq!(differs(&page, DriftKey::ReadyEndpoints), [false, true, false]);
    assert_eq!(lines(&page, DriftKey::SessionAffinity), [["None"], ["None"], ["ClientIP"]]);
    let ports = lines(&page, DriftKey::Ports);
    assert_eq!(ports[0], ["http 80→http/TCP", "grpc 9090→grpc/TCP"]);
    assert_eq!(ports[2], ["http 80→http/TCP", "grpc 9090→grpc/TCP", "metrics 9102→metrics/TCP"]);
    assert_eq!(differs(&page, DriftKey::Ports), [false, false, true]);
    for same in [
        DriftKey::Type,
        DriftKey::Selector,
        DriftKey::TrafficPolicies,
        DriftKey::Probes,
        DriftKey::NetworkPolicies,
    ] {
        assert_eq!(row(&page, same).state, DriftState::Same, "{same:?}: {:?}", lines(&page, same));
    }
    assert_eq!(lines(&page, DriftKey::NetworkPolicies)[0], ["(none)"]);
    assert!(lines(&page, DriftKey::Probes)[0].iter().any(|l| l.contains("readiness http GET :http/healthz")));

    // Marked expected in config: shown as expected, no longer "differs".
    let expected = [DriftKey::Replicas, DriftKey::ReadyEndpoints];
    let page =
        drift_page(&fleet, &caches, &access, &alice(), "team-a", "checkout", &expected, CLUSTER_TIMEOUT)
            .await
            .unwrap();
    assert_eq!(row(&page, DriftKey::Replicas).state, DriftState::Expected);
    assert_eq!(page.differing(), [DriftKey::Ports, DriftKey::SessionAffinity, DriftKey::Images]);

    // inventory (team-b) is configured alike everywhere and its policies are the same.
    let inventory =
        drift_page(&fleet, &caches, &access, &alice(), "team-b", "inventory", &[], CLUSTER_TIMEOUT)
            .await
            .unwrap();
    assert!(inventory.differing().is_empty(), "{inventory:#?}");
    assert_eq!(lines(&inventory, DriftKey::NetworkPolicies)[0], ["allow-frontend", "default-deny"]);

    // bob (team-a) may not read team-b: no copy to compare, never a guess.
    let bob = Impersonation::new("bob@example.com", ["team-a"]);
    let hidden = drift_page(&fleet, &caches, &access, &bob, "team-b", "inventory", &[], CLUSTER_TIMEOUT)
        .await
        .unwrap();
    assert!(hidden.clusters.is_empty(), "{hidden:#?}");

    // The fleet list names checkout, and not inventory.
    let list = drift_list(&fleet, &caches, &access, &alice(), &[], CLUSTER_TIMEOUT).await;
    let checkout = list.rows.iter().find(|r| r.namespace == "team-a" && r.name == "checkout").unwrap();
    assert!(checkout.differing.contains(&DriftKey::Images), "{checkout:?}");
    assert!(!list.rows.iter().any(|r| r.name == "inventory"), "{list:#?}");
    assert!(list.compared >= 5, "{list:#?}");
}

async fn pod_named(cluster: &str, namespace: &str, app: &str) -> String {
    let c = facts().clusters.into_iter().find(|c| c.name == cluster).unwrap();
    let pods = Api::<Pod>::namespaced(admin_client(&c), namespace)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap();
    let name = pods.items[0].metadata.name.clone().unwrap();
    format!("{namespace}/{name}")
}

fn ask(from_pod: &str, from_namespace: &str, from_labels: &str, port: &str) -> ReachRequest {
    ReachRequest {
        cluster: "prod-eu".into(),
        from_pod: from_pod.into(),
        from_namespace: from_namespace.into(),
        from_labels: from_labels.into(),
        to_service: "team-b/inventory".into(),
        port: port.into(),
    }
}

#[tokio::test]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn frontend_reaches_inventory_and_checkout_does_not() {
    let (fleet, caches, access) = started().await;
    let answer = |req: ReachRequest, who: Impersonation| {
        let (fleet, caches, access) = (fleet.clone(), caches.clone(), access.clone());
        async move { reach_page::answer(&fleet, &caches, &access, &who, &req).await }
    };
    let frontend = pod_named("prod-eu", "team-a", "frontend").await;
    let a = answer(ask(&frontend, "", "", "80"), alice()).await.unwrap();
    assert_eq!(a.verdict, Reachability::Allowed, "{a:#?}");
    assert_eq!(a.pods.len(), 2, "inventory runs 2 pods");
    for pod in &a.pods {
        assert_eq!(pod.port, Some(8080));
        let ingress = pod.ingress.as_ref().unwrap();
        assert_eq!(ingress.isolating, ["team-b/allow-frontend", "team-b/default-deny"]);
        assert_eq!(ingress.rules[0].policy, "team-b/allow-frontend");
        assert_eq!(ingress.rules[0].port, "TCP 8080");
        assert!(pod.egress.as_ref().unwrap().isolating.is_empty());
    }

    let checkout = pod_named("prod-eu", "team-a", "checkout").await;
    let a = answer(ask(&checkout, "", "", "http"), alice()).await.unwrap();
    assert_eq!(a.verdict, Reachability::Denied, "{a:#?}");
    assert!(a.pods[0].ingress.as_ref().unwrap().text.contains("no rule allows it"));

    // Namespace + labels, both ways.
    let a = answer(ask("", "team-a", "app=frontend", ""), alice()).await.unwrap();
    assert_eq!(a.verdict, Reachability::Allowed, "{a:#?}");
    let a = answer(ask("", "team-a", "app=checkout", ""), alice()).await.unwrap();
    assert_eq!(a.verdict, Reachability::Denied, "{a:#?}");

    // Bad input: 400-class errors with a message.
    let e = answer(ask("", "team-a", "app=frontend", "9999"), alice()).await.unwrap_err();
    assert!(e.is_bad_request() && e.to_string().contains("has no port \"9999\""), "{e}");
    let e = answer(ask("team-a/nope", "", "", ""), alice()).await.unwrap_err();
    assert!(e.is_bad_request() && e.to_string().contains("no pod team-a/nope"), "{e}");

    // bob (team-a) may not read team-b: cannot tell, and says why.
    let bob = Impersonation::new("bob@example.com", ["team-a"]);
    let a = answer(ask("", "team-a", "app=frontend", ""), bob).await.unwrap();
    assert_eq!(a.verdict, Reachability::Unknown, "{a:#?}");
    assert!(a.unreadable.iter().any(|u| u.contains("team-b")), "{a:#?}");
}
