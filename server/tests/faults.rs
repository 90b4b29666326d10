//! Fault tests against the local real fleet (`testenv up`): one apiserver stopped, its recovery, and a
//! forced watch expiry (410 Gone).
//!
//! They stop prod-us's kube-apiserver with `testenv pause prod-us` and always `resume` it, also when a
//! test fails (a guard resumes on drop). Run them one at a time:
//!
//! ```sh
//! LEPTOS_OUTPUT_NAME=fleetpane RUSTFLAGS="--cfg erase_components" \
//!   cargo test -p fleetpane-server --test access_equivalence --test faults -- --ignored --test-threads=1
//! ```

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fleetenv.rs"]
mod fleetenv;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use fleetenv::{
    ByNamespace, Paused, admin_client, cached, config, facts, fleet, fleet_of, listed_all, run_id, within,
};
use fleetpane_server::{
    access::{self, Access, filter, namespace_names},
    fleet::{Cluster, Impersonation},
    watch::{Caches, ClusterCaches, store::SyncState},
};
use futures::{FutureExt, StreamExt, future::join_all};
use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service, ServicePort, ServiceSpec},
    discovery::v1::EndpointSlice,
};
use kube::api::{
    Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};

/// The cluster whose apiserver the tests stop.
const PAUSED: &str = "prod-us";
const SUITE_LABEL: &str = "fleetpane.test/suite";
const SUITE: &str = "faults";

fn alice() -> Impersonation {
    Impersonation::new("alice@example.com", ["sre"])
}

fn bob() -> Impersonation {
    Impersonation::new("bob@example.com", ["team-a"])
}

/// One cluster's part of a fleet-wide answer: for each person, the Services, Pods and EndpointSlices
/// Fleetpane would show (counts), with fresh access reviews.
async fn cluster_answer(
    access: &Access,
    caches: &ClusterCaches,
    cluster: &Cluster,
) -> Result<Vec<[usize; 3]>, access::Error> {
    let namespaces = namespace_names(&caches.namespaces.read());
    let mut out = Vec::new();
    for who in [alice(), bob()] {
        let name = cluster.name();
        let services = access.scope(&who, name, "list", access::SERVICES, namespaces.clone()).await?;
        let pods = access.scope(&who, name, "list", access::PODS, namespaces.clone()).await?;
        let slices = access.scope(&who, name, "list", access::ENDPOINT_SLICES, namespaces.clone()).await?;
        out.push([
            filter(&caches.services.read(), &services).len(),
            filter(&caches.pods.read(), &pods).len(),
            filter(&caches.endpoint_slices.read(), &slices).len(),
        ]);
    }
    Ok(out)
}

/// The states of the kinds that answers are made of.
fn core_states(c: &ClusterCaches) -> [SyncState; 4] {
    [c.services.state(), c.endpoint_slices.state(), c.pods.state(), c.namespaces.state()]
}

fn is_marked_since(state: &SyncState, after: jiff::Timestamp) -> bool {
    matches!(state, SyncState::Unreachable { since, .. } if *since >= after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn a_stopped_apiserver_delays_no_other_cluster_and_recovers_by_itself() {
    let facts = facts();
    let fleet = fleet();
    let paused_facts = facts.clusters.iter().find(|c| c.name == PAUSED).expect("the fleet has prod-us");
    assert!(fleet.clusters().len() >= 3, "the fault tests want three clusters");
    let caches = Caches::start(&fleet);
    let access = Access::start(&fleet, access::DECISION_TTL);
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");

    let before = jiff::Timestamp::now();
    let paused = Paused::start(PAUSED).await;

    // Fleet-wide answers with fresh reviews everywhere: the others come within 2 s, prod-us fails fast.
    for round in 0..3 {
        for cluster in fleet.clusters() {
            access.invalidate(cluster.name());
        }
        let t0 = Instant::now();
        let answers = tokio::time::timeout(
            Duration::from_secs(2),
            join_all(fleet.clusters().iter().map(|cluster| {
                let caches = caches.cluster(cluster.name()).unwrap();
                let access = &access;
                async move {
                    let t = Instant::now();
                    (cluster.name(), cluster_answer(access, caches, cluster).await, t.elapsed())
                }
            })),
        )
        .await
        .unwrap_or_else(|_| panic!("round {round}: the fleet-wide answer took more than 2 s"));
        for (name, answer, took) in answers {
            if name == PAUSED {
                assert!(answer.is_err(), "{name} is stopped, yet answered {answer:?}");
            } else {
                let answer = answer.unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert!(answer[0].iter().all(|n| *n > 0), "{name}: alice sees everything: {answer:?}");
                assert!(
                    answer[1][0] > 0 && answer[1][0] < answer[0][0],
                    "{name}: bob sees team-a: {answer:?}"
                );
            }
            eprintln!("paused, round {round}: {name} answered in {took:.1?}");
        }
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    // prod-us's caches are marked unreachable since the pause, keep their rows; the others stay live.
    let paused_caches = caches.cluster(PAUSED).unwrap();
    let marked = within(Duration::from_secs(20), || async {
        core_states(paused_caches).iter().all(|s| is_marked_since(s, before))
    })
    .await;
    assert!(marked.is_some(), "{PAUSED} not marked unreachable: {:?}", paused_caches.states());
    eprintln!("{PAUSED} marked: {:?}", paused_caches.states());
    assert!(!paused_caches.services.read().is_empty(), "the last known rows are kept, marked");
    for (name, c) in caches.clusters().filter(|(name, _)| *name != PAUSED) {
        assert!(c.is_live(), "{name}: {:?}", c.states());
    }

    paused.resume().await;
    let resumed = Instant::now();
    // The watches retry at most every 4 s (watch::backoff): back within seconds, not half a minute.
    let live = within(Duration::from_secs(10), || async { paused_caches.is_live() }).await;
    assert!(live.is_some(), "{PAUSED} not live 10 s after resume: {:?}", paused_caches.states());
    eprintln!("{PAUSED} live again {:.1?} after resume", resumed.elapsed());
    let allowed = access.allowed(&alice(), PAUSED, "list", access::SERVICES, None).await;
    assert!(matches!(allowed, Ok(true)), "{PAUSED}: decisions after resume: {allowed:?}");
    let admin = admin_client(paused_facts);
    assert_cache_equals_list(paused_caches, &admin, Duration::from_secs(10)).await;
}

/// Asserts that the caches equal fresh admin LISTs (names by namespace), retrying for `limit`: pods and
/// slices may change between the two reads.
async fn assert_cache_equals_list(caches: &ClusterCaches, admin: &kube::Client, limit: Duration) {
    let start = Instant::now();
    loop {
        let listed = [
            ("services", cached(&caches.services), listed_all::<Service>(admin).await),
            ("pods", cached(&caches.pods), listed_all::<Pod>(admin).await),
            ("endpointslices", cached(&caches.endpoint_slices), listed_all::<EndpointSlice>(admin).await),
            ("namespaces", cached(&caches.namespaces), listed_all::<Namespace>(admin).await),
        ];
        let last: Vec<(&str, ByNamespace, ByNamespace)> =
            listed.into_iter().filter(|(_, cache, list)| cache != list).collect();
        if last.is_empty() && caches.is_live() {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "cache differs from a fresh LIST after {limit:?} ({:?}):\n{}",
            caches.states(),
            last.iter()
                .map(|(k, c, l)| format!(" {k}:\n  cache: {c:?}\n  LIST:  {l:?}\n"))
                .collect::<String>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A loopback TCP proxy in front of one apiserver, which a test can cut (every connection closed, new
/// ones dropped) and restore. TLS passes through untouched.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (cut, connections) = (Arc::clone(&cut), Arc::clone(&connections));
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped
                    }
                    let relay = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(relay.abort_handle());
                }
            }
        });
        Self { addr, cut, connections, task }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// Compacts the shared etcd at its current revision through its v3 JSON gateway; returns the revision.
async fn compact_etcd() -> i64 {
    let base = std::env::var("FLEETPANE_TESTENV_ETCD").unwrap_or_else(|_| "http://127.0.0.1:16379".into());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    // Any key will do: the response header carries the store's revision. "Lw==" is base64 of "/".
    let range: serde_json::Value = http
        .post(format!("{base}/v3/kv/range"))
        .json(&serde_json::json!({ "key": "Lw==" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revision: i64 = range["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no revision in {range}"));
    let response = http
        .post(format!("{base}/v3/kv/compaction"))
        .json(&serde_json::json!({ "revision": revision.to_string(), "physical": true }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "compaction: {} {}",
        response.status(),
        response.text().await.unwrap()
    );
    revision
}

fn mk_service(name: &str) -> Service {
    Service {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort { port: 80, ..Default::default() }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn delete_test_namespaces(admin: &kube::Client) {
    let namespaces = Api::<Namespace>::all(admin.clone());
    if let Ok(list) = namespaces.list(&ListParams::default().labels(&format!("{SUITE_LABEL}={SUITE}"))).await
    {
        for ns in list.items {
            let _ = namespaces
                .delete(ns.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default())
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn after_a_forced_watch_expiry_the_cache_equals_a_fresh_list() {
    let facts = facts();
    let c = facts.clusters.iter().find(|c| c.name == PAUSED).expect("the fleet has prod-us");
    let admin = admin_client(c);
    delete_test_namespaces(&admin).await;

    // Fleetpane's caches of prod-us, through a proxy the test can cut while the admin changes things.
    let mut cluster = config().clusters.into_iter().find(|c| c.name == PAUSED).unwrap();
    let upstream: SocketAddr =
        format!("{}:{}", cluster.api_url.host_str().unwrap(), cluster.api_url.port().unwrap())
            .parse()
            .unwrap();
    let proxy = Proxy::start(upstream).await;
    cluster.api_url.set_port(Some(proxy.addr.port())).unwrap();
    let fleet = fleet_of(&[cluster]);
    let caches = Caches::start(&fleet);
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");
    let cc = caches.cluster(PAUSED).unwrap();

    let ns = format!("ft-{}", run_id());
    let body = async {
        let pp = PostParams::default();
        let meta = ObjectMeta {
            name: Some(ns.clone()),
            labels: Some(BTreeMap::from([(SUITE_LABEL.to_owned(), SUITE.to_owned())])),
            ..Default::default()
        };
        Api::<Namespace>::all(admin.clone())
            .create(&pp, &Namespace { metadata: meta, ..Default::default() })
            .await
            .unwrap();
        let services = Api::<Service>::namespaced(admin.clone(), &ns);
        for name in ["keep-0", "keep-1", "gone-0", "gone-1"] {
            services.create(&pp, &mk_service(name)).await.unwrap();
        }
        let seen =
            within(Duration::from_secs(10), || async { cc.services.read().in_namespace(&ns).count() == 4 })
                .await;
        assert!(seen.is_some(), "the cache never saw the test services");
        let old = services.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();

        // Fleetpane's watches lose the apiserver; meanwhile the admin deletes, creates and changes.
        proxy.cut();
        let noticed = within(Duration::from_secs(10), || async { !cc.is_live() }).await;
        assert!(noticed.is_some(), "the caches never noticed the cut: {:?}", cc.states());
        for name in ["gone-0", "gone-1"] {
            services.delete(name, &DeleteParams::default()).await.unwrap();
        }
        for name in ["new-0", "new-1"] {
            services.create(&pp, &mk_service(name)).await.unwrap();
        }
        let label = serde_json::json!({ "metadata": { "labels": { "changed": "while-cut" } } });
        services.patch("keep-0", &PatchParams::default(), &Patch::Merge(&label)).await.unwrap();
        let revision = compact_etcd().await;
        // A restart gives the apiserver a fresh watch cache: the caches' resource version is now too old.
        Paused::start(PAUSED).await.resume().await;

        // The expiry is real: a watch from the old resource version gets 410 Gone.
        let mut events = services.watch(&WatchParams::default().timeout(5), &old).await.map(StreamExt::boxed);
        let first = match &mut events {
            Ok(stream) => stream.next().await,
            Err(_) => None,
        };
        let expired = match (&events, &first) {
            (Err(kube::Error::Api(s)), _) => s.code == 410,
            (_, Some(Ok(WatchEvent::Error(e)))) => e.code == 410,
            _ => false,
        };
        assert!(expired, "watch from {old} (etcd compacted at {revision}): {first:?}");
        drop(events);

        let ghosts: Vec<_> = cc.services.read().in_namespace(&ns).map(|r| r.name.clone()).collect();
        assert!(
            ghosts.contains(&"gone-0".to_owned()),
            "the cut cache still holds the deleted rows: {ghosts:?}"
        );
        proxy.restore();
        let restored = Instant::now();
        // The watchers back off while cut (kube-runtime's default: up to 30 s between tries).
        assert_cache_equals_list(cc, &admin, Duration::from_secs(60)).await;
        eprintln!("after the 410: cache equal to a fresh LIST {:.1?} after restore", restored.elapsed());
        let now: Vec<_> = cc.services.read().in_namespace(&ns).map(|r| r.name.clone()).collect();
        assert_eq!(now, ["keep-0", "keep-1", "new-0", "new-1"]);
        let keep = cc.services.read().get(&ns, "keep-0").cloned().unwrap();
        assert_eq!(keep.labels.get("changed").map(String::as_str), Some("while-cut"), "updated row");
    };
    let result = AssertUnwindSafe(body).catch_unwind().await;
    delete_test_namespaces(&admin).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
