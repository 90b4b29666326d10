//! Shared watch caches: one watch per (cluster, kind), for every user.
//!
//! ```text
//! Fleet ──► Caches ──► ClusterCaches (per cluster) ──► Cache<ServiceRow>        one watcher task each,
//!                                                      Cache<EndpointSliceRow>  as Fleetpane's identity
//!                                                      Cache<PodRow>
//!                                                      Cache<NamespaceRow>
//!                                                      Cache<EventRow>          (the last hour only)
//!                                                      Cache<NetworkPolicyRow>
//!                                                      Cache<IngressRow>
//!                                                      Cache<HpaRow>            (autoscaling/v2)
//!                                                      Cache<PdbRow>            (policy/v1)
//!                                                      Cache<HttpRouteRow>      (when the CRD exists)
//!                                                      Cache<NodeRow>           ┐ withheld while Fleetpane
//!                                                      Cache<DeploymentRow>     │ may not list them
//!                                                      Cache<StatefulSetRow>    │
//!                                                      Cache<DaemonSetRow>      ┘
//! ```
//!
//! Each cache is a [`store::Store`] of trimmed [`rows`] behind a lock, fed by a `kube_runtime::watcher` with
//! a short backoff ([`backoff`]: 0.25 s doubling to 4 s) and a paged initial list. The typed object is
//! dropped right after conversion, so managedFields and everything else not in the row never stay in memory. Nothing here decides who may see
//! what: readers filter with [`crate::access`].
//!
//! HTTPRoutes are watched as `DynamicObject`s at the version the cluster serves, found through API discovery;
//! while the Gateway API CRD is absent that cache is live and empty, and discovery is repeated every
//! [`CRD_RECHECK`].
//!
//! Nodes and workloads came after the first RBAC grants Fleetpane was deployed with: when the cluster answers 403
//! to their list or watch, the cache is [withheld](store::Store::withhold) (live, empty, and known not to hold
//! the kind, so readers read as the person instead, see [`crate::read`]), and the list is tried again every
//! [`FORBIDDEN_RECHECK`].
//!
//! After every applied event, relist and sync-state change, a cache sends a [`changes::Change`] notice on the
//! fleet's broadcast channel ([`Caches::subscribe`]), for live updates.

pub mod backoff;
pub mod changes;
pub mod rows;
pub mod store;

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock, RwLockReadGuard},
    time::Duration,
};

use futures::{Stream, StreamExt};
use kube::{
    Api,
    api::{ApiResource, DynamicObject},
    runtime::{WatchStreamExt, watcher},
};
use tokio::sync::broadcast;

use self::{
    changes::{Change, Changed, Notifier},
    rows::{
        DaemonSetRow, DeploymentRow, EndpointSliceRow, EventRow, GATEWAY_GROUP, HpaRow, HttpRoute,
        HttpRouteRow, IngressRow, NamespaceRow, NetworkPolicyRow, NodeRow, PdbRow, PodRow, Row, ServiceRow,
        StatefulSetRow,
    },
    store::{Store, SyncState},
};
use crate::{
    config::ClusterMode,
    fleet::{Cluster, Fleet, probe::classify},
};

/// Objects per page of the initial list: bounded memory per response on large clusters.
const PAGE_SIZE: u32 = 500;

/// How often rows that expire (Events) are swept out when no event arrives.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How often a cluster without the Gateway API is asked again whether it has it now.
pub const CRD_RECHECK: Duration = Duration::from_secs(300);

/// How often a kind the cluster does not let Fleetpane list (403) is tried again.
pub const FORBIDDEN_RECHECK: Duration = Duration::from_secs(300);

/// One (cluster, kind) cache. Cheap to clone; every clone reads the same rows.
pub struct Cache<R> {
    store: Arc<RwLock<Store<R>>>,
    notifier: Notifier,
}

impl<R> Clone for Cache<R> {
    fn clone(&self) -> Self {
        Self { store: Arc::clone(&self.store), notifier: self.notifier.clone() }
    }
}

impl<R: Row> Cache<R> {
    /// An empty cache of `cluster` whose changes are announced on `changes`.
    fn new(cluster: &str, changes: &broadcast::Sender<Change>) -> Self {
        let kind = <R::Object as kube::Resource>::kind(&());
        Self {
            store: Arc::new(RwLock::new(Store::default())),
            notifier: Notifier::new(cluster, &kind, changes.clone()),
        }
    }

    /// Runs `update` on the store and announces the sync-state change it made, if any.
    fn update<T>(&self, update: impl FnOnce(&mut Store<R>) -> T) -> T {
        let (out, state_changed) = {
            let mut store = self.write();
            let before = std::mem::discriminant(store.state());
            let out = update(&mut store);
            (out, before != std::mem::discriminant(store.state()))
        };
        if state_changed {
            self.notifier.send(|| Changed::State);
        }
        out
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

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store<R>> {
        self.store.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Watches `api` until the returned future is dropped, feeding the rows.
    async fn run(self, api: Api<R::Object>, cluster: String) {
        let config = watcher::Config::default().page_size(PAGE_SIZE);
        self.feed(watcher(api, config).backoff(backoff::Reconnect::default()), &cluster, |_| false).await;
    }

    /// Watches `api` as [`Cache::run`] does, for a kind Fleetpane's grants may lack: when the cluster answers
    /// 403, the cache is [withheld](Store::withhold) and the watch starts again after [`FORBIDDEN_RECHECK`].
    async fn run_unless_forbidden(self, api: Api<R::Object>, cluster: String) {
        loop {
            let config = watcher::Config::default().page_size(PAGE_SIZE);
            let events = watcher(api.clone(), config).backoff(backoff::Reconnect::default());
            if !self.feed_unless_forbidden(events, &cluster).await {
                return;
            }
            tokio::time::sleep(FORBIDDEN_RECHECK).await;
        }
    }

    /// Feeds the rows from `events` until it ends (false) or the cluster answers 403: then the cache is
    /// withheld (true).
    async fn feed_unless_forbidden(
        &self,
        events: impl Stream<Item = Result<watcher::Event<R::Object>, watcher::Error>> + Send,
        cluster: &str,
    ) -> bool {
        let forbidden = |e: &watcher::Error| api_status(e) == Some(403);
        let Some(error) = self.feed(events, cluster, forbidden).await else { return false };
        let (_, detail) = describe(&error);
        tracing::warn!(
            cluster,
            kind = <R::Object as kube::Resource>::kind(&()).as_ref(),
            error = detail,
            retry_in = ?FORBIDDEN_RECHECK,
            "Fleetpane may not list this kind: it is read as each person instead"
        );
        self.update(|store| store.withhold(detail));
        self.notifier.send(|| Changed::Relisted);
        true
    }

    /// Feeds the rows from `events` until it ends or an error for which `stop` says so (returned).
    async fn feed(
        &self,
        events: impl Stream<Item = Result<watcher::Event<R::Object>, watcher::Error>> + Send,
        cluster: &str,
        stop: impl Fn(&watcher::Error) -> bool,
    ) -> Option<watcher::Error> {
        let mut events = std::pin::pin!(events);
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                event = events.next() => event?,
                _ = sweep.tick(), if R::EXPIRES => {
                    self.write().expire(jiff::Timestamp::now());
                    continue;
                }
            };
            match event {
                Ok(event) => {
                    self.update(|store| store.apply(&event));
                    match &event {
                        watcher::Event::Apply(o) | watcher::Event::Delete(o) => {
                            self.notifier.send(|| Changed::Object {
                                namespace: kube::Resource::meta(o).namespace.clone().unwrap_or_default(),
                            });
                        }
                        watcher::Event::InitDone => self.notifier.send(|| Changed::Relisted),
                        watcher::Event::Init | watcher::Event::InitApply(_) => {}
                    }
                }
                Err(error) => {
                    let (unreachable, detail) = describe(&error);
                    tracing::warn!(
                        cluster,
                        kind = <R::Object as kube::Resource>::kind(&()).as_ref(),
                        error = detail,
                        "watch failed"
                    );
                    self.update(|store| store.failed(detail, unreachable, jiff::Timestamp::now()));
                    if stop(&error) {
                        return Some(error);
                    }
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
    /// Events of the last hour ([`rows::EVENT_MAX_AGE`]).
    pub events: Cache<EventRow>,
    /// NetworkPolicies.
    pub network_policies: Cache<NetworkPolicyRow>,
    /// Ingresses.
    pub ingresses: Cache<IngressRow>,
    /// HorizontalPodAutoscalers.
    pub hpas: Cache<HpaRow>,
    /// PodDisruptionBudgets.
    pub pdbs: Cache<PdbRow>,
    /// Gateway API HTTPRoutes: live and empty while the cluster has no such CRD.
    pub http_routes: Cache<HttpRouteRow>,
    /// Nodes ([withheld](Store::withhold) while Fleetpane may not list them).
    pub nodes: Cache<NodeRow>,
    /// Deployments (withheld while Fleetpane may not list them).
    pub deployments: Cache<DeploymentRow>,
    /// StatefulSets (withheld while Fleetpane may not list them).
    pub stateful_sets: Cache<StatefulSetRow>,
    /// DaemonSets (withheld while Fleetpane may not list them).
    pub daemon_sets: Cache<DaemonSetRow>,
}

impl ClusterCaches {
    /// Every kind's sync state, by kind name.
    pub fn states(&self) -> Vec<(&'static str, SyncState)> {
        vec![
            ("Service", self.services.state()),
            ("EndpointSlice", self.endpoint_slices.state()),
            ("Pod", self.pods.state()),
            ("Namespace", self.namespaces.state()),
            ("Event", self.events.state()),
            ("NetworkPolicy", self.network_policies.state()),
            ("Ingress", self.ingresses.state()),
            ("HorizontalPodAutoscaler", self.hpas.state()),
            ("PodDisruptionBudget", self.pdbs.state()),
            ("HTTPRoute", self.http_routes.state()),
            ("Node", self.nodes.state()),
            ("Deployment", self.deployments.state()),
            ("StatefulSet", self.stateful_sets.state()),
            ("DaemonSet", self.daemon_sets.state()),
        ]
    }

    /// Every kind's row count, by kind name, in the order of [`ClusterCaches::states`].
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("Service", self.services.read().len()),
            ("EndpointSlice", self.endpoint_slices.read().len()),
            ("Pod", self.pods.read().len()),
            ("Namespace", self.namespaces.read().len()),
            ("Event", self.events.read().len()),
            ("NetworkPolicy", self.network_policies.read().len()),
            ("Ingress", self.ingresses.read().len()),
            ("HorizontalPodAutoscaler", self.hpas.read().len()),
            ("PodDisruptionBudget", self.pdbs.read().len()),
            ("HTTPRoute", self.http_routes.read().len()),
            ("Node", self.nodes.read().len()),
            ("Deployment", self.deployments.read().len()),
            ("StatefulSet", self.stateful_sets.read().len()),
            ("DaemonSet", self.daemon_sets.read().len()),
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
    changes: broadcast::Sender<Change>,
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
    /// Starts one watch per (cluster, kind), as Fleetpane's identity, for every cluster in
    /// [`ClusterMode::Cached`] (an `impersonation_only` cluster gets none, and no entry). Must run inside a
    /// Tokio runtime; returns at once (the caches fill in the background, see [`Caches::wait_until_live`]).
    pub fn start(fleet: &Fleet) -> Self {
        let mut clusters = BTreeMap::new();
        let mut tasks = Vec::new();
        let (changes, _) = broadcast::channel(changes::CAPACITY);
        for cluster in fleet.clusters().iter().filter(|c| c.mode() == ClusterMode::Cached) {
            let name = cluster.name();
            let caches = ClusterCaches {
                services: Cache::new(name, &changes),
                endpoint_slices: Cache::new(name, &changes),
                pods: Cache::new(name, &changes),
                namespaces: Cache::new(name, &changes),
                events: Cache::new(name, &changes),
                network_policies: Cache::new(name, &changes),
                ingresses: Cache::new(name, &changes),
                hpas: Cache::new(name, &changes),
                pdbs: Cache::new(name, &changes),
                http_routes: Cache::new(name, &changes),
                nodes: Cache::new(name, &changes),
                deployments: Cache::new(name, &changes),
                stateful_sets: Cache::new(name, &changes),
                daemon_sets: Cache::new(name, &changes),
            };
            tasks.push(spawn(&caches.services, cluster));
            tasks.push(spawn(&caches.endpoint_slices, cluster));
            tasks.push(spawn(&caches.pods, cluster));
            tasks.push(spawn(&caches.namespaces, cluster));
            tasks.push(spawn(&caches.events, cluster));
            tasks.push(spawn(&caches.network_policies, cluster));
            tasks.push(spawn(&caches.ingresses, cluster));
            tasks.push(spawn(&caches.hpas, cluster));
            tasks.push(spawn(&caches.pdbs, cluster));
            tasks.push(spawn_unless_forbidden(&caches.nodes, cluster));
            tasks.push(spawn_unless_forbidden(&caches.deployments, cluster));
            tasks.push(spawn_unless_forbidden(&caches.stateful_sets, cluster));
            tasks.push(spawn_unless_forbidden(&caches.daemon_sets, cluster));
            let routes = caches.http_routes.clone();
            let (client, name) = (cluster.client().clone(), cluster.name().to_owned());
            tasks.push(tokio::spawn(run_http_routes(routes, client, name)).abort_handle());
            clusters.insert(cluster.name().to_owned(), caches);
        }
        Self { clusters: Arc::new(clusters), changes, _tasks: Arc::new(Tasks(tasks)) }
    }

    /// Every cache's change notices from now on, until the receiver is dropped.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// How many receivers of change notices are open (one per live-update connection).
    pub fn subscribers(&self) -> usize {
        self.changes.receiver_count()
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

fn spawn_unless_forbidden<R: Row>(cache: &Cache<R>, cluster: &Cluster) -> tokio::task::AbortHandle {
    let api = Api::<R::Object>::all(cluster.client().clone());
    tokio::spawn(cache.clone().run_unless_forbidden(api, cluster.name().to_owned())).abort_handle()
}

/// Watches HTTPRoutes at the version the cluster serves; while it serves none, keeps the cache live and empty
/// and asks again every [`CRD_RECHECK`]. A watch answered 404 (the CRD was removed) goes back to discovery.
async fn run_http_routes(cache: Cache<HttpRouteRow>, client: kube::Client, cluster: String) {
    let mut retry = Duration::from_secs(1);
    loop {
        match discover_http_routes(&client).await {
            Ok(Some(resource)) => {
                retry = Duration::from_secs(1);
                let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
                let config = watcher::Config::default().page_size(PAGE_SIZE);
                let events = watcher(api, config).backoff(backoff::Reconnect::default()).map(|event| {
                    event.map(|e| match e {
                        watcher::Event::Init => watcher::Event::Init,
                        watcher::Event::InitDone => watcher::Event::InitDone,
                        watcher::Event::InitApply(o) => watcher::Event::InitApply(parse_route(o)),
                        watcher::Event::Apply(o) => watcher::Event::Apply(parse_route(o)),
                        watcher::Event::Delete(o) => watcher::Event::Delete(parse_route(o)),
                    })
                });
                let gone = |e: &watcher::Error| matches!(api_status(e), Some(404));
                cache.feed(events, &cluster, gone).await;
            }
            Ok(None) => {
                cache.update(Store::absent);
                cache.notifier.send(|| Changed::Relisted);
                tokio::time::sleep(CRD_RECHECK).await;
            }
            Err(error) => {
                let (unreachable, detail) = match &error {
                    kube::Error::Api(s) => (false, format!("{} {}", s.code, s.message)),
                    other => (true, classify(other).1),
                };
                tracing::warn!(cluster, error = detail, "API discovery for HTTPRoutes failed");
                cache.update(|store| store.failed(detail, unreachable, jiff::Timestamp::now()));
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// The HTTP status of an apiserver's answer inside a watcher error.
fn api_status(error: &watcher::Error) -> Option<u16> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    }
}

/// An HTTPRoute from the dynamic object; one that does not parse keeps its name (so deletes still match) and
/// is logged.
fn parse_route(object: DynamicObject) -> HttpRoute {
    let metadata = object.metadata.clone();
    object.try_parse::<HttpRoute>().unwrap_or_else(|error| {
        tracing::warn!(name = metadata.name.as_deref(), %error, "HTTPRoute does not parse; shown empty");
        HttpRoute { metadata, ..Default::default() }
    })
}

/// The HTTPRoute resource at the first version of the Gateway API group (preferred first) that serves it, or
/// `None` when the cluster has no such CRD.
async fn discover_http_routes(client: &kube::Client) -> kube::Result<Option<ApiResource>> {
    let groups = client.list_api_groups().await?;
    let Some(group) = groups.groups.into_iter().find(|g| g.name == GATEWAY_GROUP) else { return Ok(None) };
    let mut versions = group.versions;
    if let Some(preferred) = group.preferred_version {
        versions.retain(|v| v.version != preferred.version);
        versions.insert(0, preferred);
    }
    for version in versions {
        let resources = client.list_api_group_resources(&version.group_version).await?;
        if let Some(r) = resources.resources.iter().find(|r| r.name == "httproutes") {
            return Ok(Some(ApiResource {
                group: GATEWAY_GROUP.to_owned(),
                version: version.version.clone(),
                api_version: version.group_version.clone(),
                kind: r.kind.clone(),
                plural: r.name.clone(),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{api::core::v1::Service, apimachinery::pkg::apis::meta::v1::ObjectMeta};

    use super::*;

    fn mk_svc(ns: &str, name: &str) -> Service {
        Service {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn drain(rx: &mut broadcast::Receiver<Change>) -> Vec<(String, String, Changed)> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|c| (c.cluster.to_string(), c.kind.to_string(), c.what))
            .collect()
    }

    #[tokio::test]
    async fn applied_events_relists_and_state_changes_are_announced() {
        let (changes, _) = broadcast::channel(changes::CAPACITY);
        let cache = Cache::<ServiceRow>::new("prod-eu", &changes);
        let mut rx = changes.subscribe();
        let events = futures::stream::iter([
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(mk_svc("team-a", "x"))),
            Ok(watcher::Event::InitDone),
            Ok(watcher::Event::Apply(mk_svc("team-b", "y"))),
            Ok(watcher::Event::Delete(mk_svc("team-a", "x"))),
            Err(watcher::Error::NoResourceVersion),
            Err(watcher::Error::NoResourceVersion),
        ]);
        cache.feed(events, "prod-eu", |_| false).await;
        let ns = |n: &str| Changed::Object { namespace: n.into() };
        let got: Vec<Changed> = drain(&mut rx)
            .into_iter()
            .map(|(cluster, kind, what)| {
                assert_eq!((cluster.as_str(), kind.as_str()), ("prod-eu", "Service"));
                what
            })
            .collect();
        // Syncing -> Live at the end of the list; Live -> Stale at the first failure only.
        assert_eq!(
            got,
            [Changed::State, Changed::Relisted, ns("team-b"), ns("team-a"), Changed::State],
            "nothing for Init/InitApply, one State per state change"
        );
    }

    #[tokio::test]
    async fn a_kind_answered_403_is_withheld_and_other_failures_are_not() {
        let (changes, _) = broadcast::channel(changes::CAPACITY);
        let cache = Cache::<ServiceRow>::new("prod-eu", &changes);
        let status = |code: u16| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: "services is forbidden".into(),
                ..Default::default()
            }))
        };
        // A failure that is not a 403 keeps the watch going: the stream's end is the end.
        let events = futures::stream::iter([
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(mk_svc("team-a", "x"))),
            Ok(watcher::Event::InitDone),
            Err(watcher::Error::WatchStartFailed(status(500))),
        ]);
        assert!(!cache.feed_unless_forbidden(events, "prod-eu").await);
        assert!(cache.read().held() && cache.read().len() == 1);
        // A 403 withholds the cache: no rows, live (nothing to wait for), and readers know it holds nothing.
        let mut rx = changes.subscribe();
        let events = futures::stream::iter([
            Err(watcher::Error::WatchStartFailed(status(403))),
            Ok(watcher::Event::Apply(mk_svc("team-a", "never"))),
        ]);
        assert!(cache.feed_unless_forbidden(events, "prod-eu").await);
        let store = cache.read();
        assert!(!store.held() && store.is_empty());
        assert_eq!(store.withheld(), Some("403 services is forbidden"));
        assert_eq!(store.state(), &SyncState::Live);
        assert!(drain(&mut rx).iter().any(|(_, _, what)| *what == Changed::Relisted), "pages refresh");
    }

    #[tokio::test]
    async fn nothing_is_sent_without_subscribers_and_each_subscriber_is_counted() {
        let (changes, _) = broadcast::channel(changes::CAPACITY);
        let cache = Cache::<ServiceRow>::new("c", &changes);
        let events = futures::stream::iter([Ok(watcher::Event::Apply(mk_svc("a", "x")))]);
        cache.feed(events, "c", |_| false).await;
        assert_eq!(changes.len(), 0, "no notice is queued while nobody listens");
        let rx = changes.subscribe();
        assert_eq!(changes.receiver_count(), 1);
        drop(rx);
        assert_eq!(changes.receiver_count(), 0);
    }
}
