//! Shared watch caches: one watch per (cluster, kind), for every user.
//!
//! ```text
//! Fleet ──► Caches ──► ClusterCaches (per cluster) ──► Cache<ServiceRow>        one watcher task each,
//!                                                      Cache<EndpointSliceRow>  as Fleetpane's identity
//!                                                      Cache<PodRow>
//!                                                      Cache<NamespaceRow>
//! ```
//!
//! Each cache is a [`store::Store`] of trimmed [`rows`] behind a lock, fed by a `kube_runtime::watcher` with
//! the default backoff and a paged initial list. Nothing here decides who may see what: readers filter with
//! [`crate::access`].

pub mod rows;
pub mod store;

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock, RwLockReadGuard},
    time::Duration,
};

use futures::StreamExt;
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};

use self::{
    rows::{EndpointSliceRow, NamespaceRow, PodRow, Row, ServiceRow},
    store::{Store, SyncState},
};
use crate::fleet::{Cluster, Fleet, probe::classify};

/// Objects per page of the initial list: bounded memory per response on large clusters.
const PAGE_SIZE: u32 = 500;

/// One (cluster, kind) cache. Cheap to clone; every clone reads the same rows.
pub struct Cache<R> {
    store: Arc<RwLock<Store<R>>>,
}

impl<R> Clone for Cache<R> {
    fn clone(&self) -> Self {
        Self { store: Arc::clone(&self.store) }
    }
}

impl<R: Row> Cache<R> {
    fn new() -> Self {
        Self { store: Arc::new(RwLock::new(Store::default())) }
    }

    /// A read view. Hold it briefly: the watcher waits for it.
    pub fn read(&self) -> RwLockReadGuard<'_, Store<R>> {
        // A panic while holding the lock leaves consistent rows (every update is one map operation).
        self.store.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How current it is.
    pub fn state(&self) -> SyncState {
        self.read().state().clone()
    }

    /// Watches `api` until the returned future is dropped, feeding the rows.
    async fn run(self, api: Api<R::Object>, cluster: String) {
        let config = watcher::Config::default().page_size(PAGE_SIZE);
        let mut events = watcher(api, config).default_backoff().boxed();
        while let Some(event) = events.next().await {
            let mut store = self.store.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            match event {
                Ok(event) => store.apply(&event),
                Err(error) => {
                    let (unreachable, detail) = describe(&error);
                    tracing::warn!(
                        cluster,
                        kind = <R::Object as kube::Resource>::kind(&()).as_ref(),
                        error = detail,
                        "watch failed"
                    );
                    store.failed(detail, unreachable, jiff::Timestamp::now());
                }
            }
        }
    }
}

/// One line for a watcher error, and whether the apiserver did not answer at all.
fn describe(error: &watcher::Error) -> (bool, String) {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => (false, format!("{} {}", s.code, s.message)),
        watcher::Error::WatchError(s) => (false, format!("{} {}", s.code, s.message)),
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => (true, classify(e).1),
        other => (false, other.to_string()),
    }
}

/// The caches of one cluster.
#[derive(Clone)]
pub struct ClusterCaches {
    /// Services.
    pub services: Cache<ServiceRow>,
    /// EndpointSlices.
    pub endpoint_slices: Cache<EndpointSliceRow>,
    /// Pods.
    pub pods: Cache<PodRow>,
    /// Namespaces.
    pub namespaces: Cache<NamespaceRow>,
}

impl ClusterCaches {
    /// Every kind's sync state, by kind name.
    pub fn states(&self) -> Vec<(&'static str, SyncState)> {
        vec![
            ("Service", self.services.state()),
            ("EndpointSlice", self.endpoint_slices.state()),
            ("Pod", self.pods.state()),
            ("Namespace", self.namespaces.state()),
        ]
    }

    /// Whether every kind is live.
    pub fn is_live(&self) -> bool {
        self.states().iter().all(|(_, s)| *s == SyncState::Live)
    }
}

/// Every cluster's caches. Cheap to clone; the watches stop when the last clone is dropped.
#[derive(Clone)]
pub struct Caches {
    clusters: Arc<BTreeMap<String, ClusterCaches>>,
    _tasks: Arc<Tasks>,
}

/// Aborts the watch tasks on drop.
struct Tasks(Vec<tokio::task::AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Caches {
    /// Starts one watch per (cluster, kind), as Fleetpane's identity. Must run inside a Tokio runtime;
    /// returns at once (the caches fill in the background, see [`Caches::wait_until_live`]).
    pub fn start(fleet: &Fleet) -> Self {
        let mut clusters = BTreeMap::new();
        let mut tasks = Vec::new();
        for cluster in fleet.clusters() {
            let caches = ClusterCaches {
                services: Cache::new(),
                endpoint_slices: Cache::new(),
                pods: Cache::new(),
                namespaces: Cache::new(),
            };
            tasks.push(spawn(&caches.services, cluster));
            tasks.push(spawn(&caches.endpoint_slices, cluster));
            tasks.push(spawn(&caches.pods, cluster));
            tasks.push(spawn(&caches.namespaces, cluster));
            clusters.insert(cluster.name().to_owned(), caches);
        }
        Self { clusters: Arc::new(clusters), _tasks: Arc::new(Tasks(tasks)) }
    }

    /// One cluster's caches.
    pub fn cluster(&self, name: &str) -> Option<&ClusterCaches> {
        self.clusters.get(name)
    }

    /// Every cluster's caches, by name.
    pub fn clusters(&self) -> impl Iterator<Item = (&str, &ClusterCaches)> {
        self.clusters.iter().map(|(name, c)| (name.as_str(), c))
    }

    /// Waits until every cache of every cluster is live, or `timeout` passes; returns whether they are.
    pub async fn wait_until_live(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.clusters.values().all(ClusterCaches::is_live) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn spawn<R: Row>(cache: &Cache<R>, cluster: &Cluster) -> tokio::task::AbortHandle {
    let api = Api::<R::Object>::all(cluster.client().clone());
    tokio::spawn(cache.clone().run(api, cluster.name().to_owned())).abort_handle()
}
