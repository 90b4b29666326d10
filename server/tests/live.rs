//! Live updates against the local real fleet (`testenv up`): a change reaches a subscriber who may read it
//! within a second, and never one who may not.
//!
//! ```sh
//! LEPTOS_OUTPUT_NAME=fleetpane RUSTFLAGS="--cfg erase_components" \
//!   cargo test -p fleetpane-server --test live -- --ignored
//! ```

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::BTreeSet, pin::Pin, time::Duration};

use fleetpane_app::live::Sync;
use fleetpane_server::{
    access::{self, Access},
    fleet::Impersonation,
    live::{LiveEvent, LiveQuery, subscribe},
    watch::Caches,
};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

#[path = "support/fleetenv.rs"]
mod fleetenv;

use fleetenv::{admin_client, facts, fleet, run_id};

const CLUSTER: &str = "prod-eu";

type Events = Pin<Box<dyn Stream<Item = LiveEvent> + Send>>;

/// A subscription of `who` to `namespace` of prod-eu, Services only; its first event (the states) is read.
async fn subscribed(caches: &Caches, access: &Access, who: Impersonation, namespace: &str) -> Events {
    let query = LiveQuery {
        cluster: Some(CLUSTER.to_owned()),
        namespace: Some(namespace.to_owned()),
        kinds: BTreeSet::from(["Service"]),
    };
    let mut events: Events = Box::pin(subscribe(caches, access, who, query, Duration::from_secs(120)));
    match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
        Ok(Some(LiveEvent::States(states))) => {
            assert_eq!(states.len(), 1, "{states:?}");
            assert_eq!((states[0].cluster.as_str(), &states[0].sync), (CLUSTER, &Sync::Live));
        }
        other => panic!("the first event is not the states: {other:?}"),
    }
    events
}

/// The next tick within `limit`, if any.
async fn tick_within(events: &mut Events, limit: Duration) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(LiveEvent::Changed(n))) => return Some(n),
            Ok(Some(LiveEvent::States(_))) => {}
            Ok(None) => panic!("the stream ended"),
            Err(_) => return None,
        }
    }
}

fn mk_service(namespace: &str, name: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort { port: 80, ..Default::default() }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn a_change_reaches_who_may_read_it_within_a_second_and_nobody_else() {
    let facts = facts();
    let fleet = fleet();
    let caches = Caches::start(&fleet);
    let access = Access::start(&fleet, access::DECISION_TTL);
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");
    let admin = admin_client(facts.clusters.iter().find(|c| c.name == CLUSTER).unwrap());

    let bob = || Impersonation::new("bob@example.com", ["team-a"]);
    let alice = || Impersonation::new("alice@example.com", ["sre"]);
    let mut bob_a = subscribed(&caches, &access, bob(), "team-a").await;
    let mut bob_b = subscribed(&caches, &access, bob(), "team-b").await;
    let mut alice_b = subscribed(&caches, &access, alice(), "team-b").await;
    assert_eq!(caches.subscribers(), 3);

    let name = format!("live-itest-{}", run_id());
    let in_b = Api::<Service>::namespaced(admin.clone(), "team-b");
    let in_a = Api::<Service>::namespaced(admin, "team-a");
    in_b.create(&PostParams::default(), &mk_service("team-b", &name)).await.unwrap();
    let created_b = tokio::time::Instant::now();
    let a_result = in_a.create(&PostParams::default(), &mk_service("team-a", &name)).await;
    let created_a = tokio::time::Instant::now();

    let alice_saw_b = tick_within(&mut alice_b, Duration::from_secs(1)).await;
    let alice_latency = created_b.elapsed();
    let bob_saw_a = tick_within(&mut bob_a, Duration::from_secs(1)).await;
    let bob_latency = created_a.elapsed();
    let bob_saw_b = tick_within(&mut bob_b, Duration::from_millis(1500)).await;

    let _ = in_b.delete(&name, &DeleteParams::default()).await;
    let _ = in_a.delete(&name, &DeleteParams::default()).await;
    a_result.unwrap();

    assert!(alice_saw_b.is_some(), "alice (sre) may read team-b: a tick within 1 s");
    assert!(bob_saw_a.is_some(), "bob may read team-a: a tick within 1 s");
    assert_eq!(bob_saw_b, None, "bob may not read team-b: no tick, ever");
    eprintln!("tick after the create returned: alice {alice_latency:?}, bob {bob_latency:?}");

    drop((bob_a, bob_b, alice_b));
    assert_eq!(caches.subscribers(), 0);
}
