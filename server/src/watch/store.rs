//! One cache's contents and sync state, driven by watcher events. Pure: no I/O, time passed in.
//!
//! A (re)list arrives as `Init`, `InitApply`*, `InitDone`. The listed rows collect in a buffer that replaces
//! the whole map at `InitDone`, so after a relist (for instance after a 410 Gone) nothing deleted meanwhile
//! survives as a ghost row, and readers never see a half-filled cache.
//!
//! The rows are kept in a `BTreeSet` ordered by each row's own namespace and name, so a key costs no copy of
//! those strings, and a listed batch is bulk-built into tightly packed nodes: the store adds about 10 bytes per
//! row, where a `BTreeMap<(String, String), Arc<R>>` added over 100.

use std::{borrow::Borrow, cmp::Ordering, collections::BTreeSet, ops::Bound, sync::Arc};

use jiff::Timestamp;
use kube::runtime::watcher::Event;

use super::rows::Row;

/// A row's key, as namespace (empty for cluster-scoped kinds) and name. The set of rows is ordered by it, and
/// looked up by `(&str, &str)` through the same trait, without building owned keys.
trait Keyed {
    fn key(&self) -> (&str, &str);
}

impl Keyed for (&str, &str) {
    fn key(&self) -> (&str, &str) {
        *self
    }
}

impl PartialEq for dyn Keyed + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for dyn Keyed + '_ {}

impl PartialOrd for dyn Keyed + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn Keyed + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A stored row, ordered by its key.
#[derive(Debug)]
struct Entry<R>(Arc<R>);

impl<R: Row> Keyed for Entry<R> {
    fn key(&self) -> (&str, &str) {
        (self.0.namespace(), self.0.name())
    }
}

impl<R: Row> PartialEq for Entry<R> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<R: Row> Eq for Entry<R> {}

impl<R: Row> PartialOrd for Entry<R> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<R: Row> Ord for Entry<R> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl<'a, R: Row> Borrow<dyn Keyed + 'a> for Entry<R> {
    fn borrow(&self) -> &(dyn Keyed + 'a) {
        self
    }
}

/// How current a cache is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// The first list has not completed.
    Syncing,
    /// Listed, and watching.
    Live,
    /// Was live; the watch has failed since `since` and the rows may be out of date. The watcher retries.
    Stale {
        /// When the first failure of this run happened.
        since: Timestamp,
        /// The latest error, one line.
        error: String,
    },
    /// Has never listed, or the apiserver cannot be reached at all, since `since`.
    Unreachable {
        /// When the first failure of this run happened.
        since: Timestamp,
        /// The latest error, one line.
        error: String,
    },
}

/// The rows of one (cluster, kind) and how current they are.
#[derive(Debug)]
pub struct Store<R> {
    rows: BTreeSet<Entry<R>>,
    /// The rows of a relist under way, in arrival order (the apiserver lists in key order).
    relist: Option<Vec<Entry<R>>>,
    state: SyncState,
    /// Why Fleetpane may not list this kind, while it may not (see [`Store::withhold`]).
    withheld: Option<String>,
}

impl<R: Row> Default for Store<R> {
    fn default() -> Self {
        Self { rows: BTreeSet::new(), relist: None, state: SyncState::Syncing, withheld: None }
    }
}

impl<R: Row> Store<R> {
    /// Applies one watcher event, now.
    pub fn apply(&mut self, event: &Event<R::Object>) {
        self.apply_at(event, Timestamp::now());
    }

    /// Applies one watcher event arriving at `now`: a row that is not [`Row::retained`] at `now` (an old
    /// Event) is dropped instead of stored.
    pub fn apply_at(&mut self, event: &Event<R::Object>, now: Timestamp) {
        match event {
            Event::Init => self.relist = Some(Vec::new()),
            Event::InitApply(object) => {
                let row = R::from_object(object);
                if row.retained(now) {
                    self.relist.get_or_insert_default().push(Entry(Arc::new(row)));
                }
            }
            Event::InitDone => {
                if let Some(rows) = self.relist.take() {
                    // Sorted, and of a key listed twice the later row kept (as repeated inserts would), then
                    // bulk-built into full nodes.
                    self.rows = rows.into_iter().collect();
                }
                self.state = SyncState::Live;
                self.withheld = None;
            }
            Event::Apply(object) => {
                let row = R::from_object(object);
                if row.retained(now) {
                    self.rows.replace(Entry(Arc::new(row)));
                } else {
                    self.remove(&row);
                }
                self.recovered();
            }
            Event::Delete(object) => {
                let row = R::from_object(object);
                self.remove(&row);
                self.recovered();
            }
        }
    }

    fn remove(&mut self, row: &R) {
        self.rows.remove(&(row.namespace(), row.name()) as &dyn Keyed);
    }

    /// A watch event after failures: live again, unless a relist is still under way.
    fn recovered(&mut self) {
        if self.relist.is_none() && !matches!(self.state, SyncState::Syncing) {
            self.state = SyncState::Live;
        }
    }

    /// Drops the rows no longer [`Row::retained`] at `now`; returns how many.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let before = self.rows.len();
        self.rows.retain(|entry| entry.0.retained(now));
        before - self.rows.len()
    }

    /// Marks the cache live with no rows: the kind does not exist in the cluster (an absent CRD).
    pub fn absent(&mut self) {
        self.rows.clear();
        self.relist = None;
        self.state = SyncState::Live;
    }

    /// Marks the cache live with no rows because Fleetpane may not list the kind (`reason`, one line): it
    /// holds nothing until a list succeeds again, and readers must not take its emptiness for an answer (they
    /// read as the person instead, see [`Store::held`]).
    pub fn withhold(&mut self, reason: String) {
        self.absent();
        self.withheld = Some(reason);
    }

    /// Whether the cache holds the kind: false while [withheld](Store::withhold).
    pub fn held(&self) -> bool {
        self.withheld.is_none()
    }

    /// Why the cache is [withheld](Store::withhold), if it is.
    pub fn withheld(&self) -> Option<&str> {
        self.withheld.as_deref()
    }

    /// Records a failed request. `unreachable` is true when the apiserver did not answer at all.
    pub fn failed(&mut self, error: String, unreachable: bool, now: Timestamp) {
        let since = match &self.state {
            SyncState::Stale { since, .. } | SyncState::Unreachable { since, .. } => *since,
            SyncState::Syncing | SyncState::Live => now,
        };
        let never_listed =
            matches!(self.state, SyncState::Syncing | SyncState::Unreachable { .. }) && self.rows.is_empty();
        self.state = if unreachable || never_listed {
            SyncState::Unreachable { since, error }
        } else {
            SyncState::Stale { since, error }
        };
    }

    /// How current the rows are.
    pub fn state(&self) -> &SyncState {
        &self.state
    }

    /// Every row, by namespace then name.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<R>> {
        self.rows.iter().map(|entry| &entry.0)
    }

    /// The rows of one namespace.
    pub fn in_namespace<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Arc<R>> + 'a {
        let start: &dyn Keyed = &(namespace, "");
        self.rows
            .range::<dyn Keyed, _>((Bound::Included(start), Bound::Unbounded))
            .take_while(move |entry| entry.0.namespace() == namespace)
            .map(|entry| &entry.0)
    }

    /// One row.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Arc<R>> {
        self.rows.get(&(namespace, name) as &dyn Keyed).map(|entry| &entry.0)
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{api::core::v1::Service, apimachinery::pkg::apis::meta::v1::ObjectMeta};

    use super::*;
    use crate::watch::rows::ServiceRow;

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

    fn names(store: &Store<ServiceRow>) -> Vec<String> {
        store.rows().map(|r| format!("{}/{}", r.namespace, r.name)).collect()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn first_list_fills_at_init_done() {
        let mut store = Store::<ServiceRow>::default();
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(mk_svc("a", "x")));
        assert!(store.is_empty(), "readers never see a half list");
        assert_eq!(store.state(), &SyncState::Syncing);
        store.apply(&Event::InitDone);
        assert_eq!(names(&store), ["a/x"]);
        assert_eq!(store.state(), &SyncState::Live);
    }

    #[test]
    fn watch_events_apply_and_delete() {
        let mut store = Store::<ServiceRow>::default();
        store.apply(&Event::Init);
        store.apply(&Event::InitDone);
        store.apply(&Event::Apply(mk_svc("b", "y")));
        store.apply(&Event::Apply(mk_svc("a", "x")));
        store.apply(&Event::Apply(mk_svc("a", "z")));
        store.apply(&Event::Delete(mk_svc("a", "x")));
        assert_eq!(names(&store), ["a/z", "b/y"]);
        let in_a: Vec<_> = store.in_namespace("a").map(|r| r.name.clone()).collect();
        assert_eq!(in_a, ["z"]);
        assert!(store.get("b", "y").is_some());
        assert_eq!(store.in_namespace("c").count(), 0);
    }

    #[test]
    fn relist_after_410_leaves_no_ghost_rows() {
        let mut store = Store::<ServiceRow>::default();
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(mk_svc("a", "gone")));
        store.apply(&Event::InitApply(mk_svc("a", "kept")));
        store.apply(&Event::InitDone);
        // The watch expired (410); "gone" was deleted while no watch was open.
        store.failed("410 Gone".into(), false, t(100));
        assert!(matches!(store.state(), SyncState::Stale { since, .. } if *since == t(100)));
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(mk_svc("a", "kept")));
        assert_eq!(names(&store), ["a/gone", "a/kept"], "old rows served until the relist is complete");
        store.apply(&Event::InitDone);
        assert_eq!(names(&store), ["a/kept"]);
        assert_eq!(store.state(), &SyncState::Live);
    }

    #[test]
    fn lookups_by_key_and_namespace() {
        let mut store = Store::<ServiceRow>::default();
        store.apply(&Event::Init);
        for (ns, name) in [("ab", "x"), ("a", "y"), ("b", "z"), ("a", "x"), ("", "c")] {
            store.apply(&Event::InitApply(mk_svc(ns, name)));
        }
        // Listed twice in one relist (not expected from an apiserver): the later row is kept, as an update would.
        let mut again = mk_svc("a", "x");
        again.spec = Some(k8s_openapi::api::core::v1::ServiceSpec {
            type_: Some("NodePort".into()),
            ..Default::default()
        });
        store.apply(&Event::InitApply(again));
        store.apply(&Event::InitDone);
        assert_eq!(names(&store), ["/c", "a/x", "a/y", "ab/x", "b/z"]);
        assert_eq!(store.get("a", "x").map(|r| r.type_.as_str()), Some("NodePort"));
        assert!(store.get("a", "z").is_none() && store.get("", "x").is_none());
        let in_a: Vec<_> = store.in_namespace("a").map(|r| r.name.as_str()).collect();
        assert_eq!(in_a, ["x", "y"], "not the rows of namespace ab");
        assert_eq!(store.in_namespace("").count(), 1);
        // An update replaces the row under its key.
        store.apply(&Event::Apply(mk_svc("a", "x")));
        assert_eq!(store.get("a", "x").map(|r| r.type_.as_str()), Some("ClusterIP"));
        assert_eq!(store.len(), 5);
    }

    fn mk_event(name: &str, last: i64) -> k8s_openapi::api::core::v1::Event {
        k8s_openapi::api::core::v1::Event {
            metadata: ObjectMeta {
                namespace: Some("a".into()),
                name: Some(name.into()),
                ..Default::default()
            },
            last_timestamp: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(last))),
            ..Default::default()
        }
    }

    #[test]
    fn only_recent_events_are_kept() {
        use crate::watch::rows::EventRow;
        let mut store = Store::<EventRow>::default();
        let now = 10_000;
        store.apply_at(&Event::Init, t(now));
        store.apply_at(&Event::InitApply(mk_event("old", now - 4_000)), t(now));
        store.apply_at(&Event::InitApply(mk_event("recent", now - 100)), t(now));
        store.apply_at(&Event::InitDone, t(now));
        let names: Vec<_> = store.rows().map(|r| r.name.clone()).collect();
        assert_eq!(names, ["recent"]);
        store.apply_at(&Event::Apply(mk_event("new", now)), t(now));
        assert_eq!(store.len(), 2);
        // An update that is already old (replayed) removes the row rather than keeping a stale copy.
        store.apply_at(&Event::Apply(mk_event("new", now - 5_000)), t(now));
        assert_eq!(store.len(), 1);
        assert_eq!(store.expire(t(now + 3_600)), 1);
        assert!(store.is_empty());
    }

    #[test]
    fn an_absent_kind_is_live_and_empty() {
        let mut store = Store::<ServiceRow>::default();
        store.failed("connection refused".into(), true, t(1));
        store.absent();
        assert_eq!(store.state(), &SyncState::Live);
        assert!(store.is_empty());
    }

    #[test]
    fn a_kind_fleetpane_may_not_list_is_withheld_until_a_list_succeeds() {
        let mut store = Store::<ServiceRow>::default();
        assert!(store.held());
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(mk_svc("a", "x")));
        store.apply(&Event::InitDone);
        // The grant was revoked: the rows go, the cache says why, and is not waited for.
        store.withhold("403 services is forbidden".into());
        assert!(!store.held() && store.is_empty());
        assert_eq!(store.withheld(), Some("403 services is forbidden"));
        assert_eq!(store.state(), &SyncState::Live);
        // A relist under way does not count yet; its end does.
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(mk_svc("a", "y")));
        assert!(!store.held());
        store.apply(&Event::InitDone);
        assert!(store.held() && store.withheld().is_none());
        assert_eq!(names(&store), ["a/y"]);
    }

    #[test]
    fn failures_keep_the_first_since_and_the_last_error() {
        let mut store = Store::<ServiceRow>::default();
        store.failed("connection refused".into(), true, t(10));
        store.failed("timed out".into(), true, t(20));
        assert_eq!(store.state(), &SyncState::Unreachable { since: t(10), error: "timed out".into() });
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(mk_svc("a", "x")));
        store.apply(&Event::InitDone);
        assert_eq!(store.state(), &SyncState::Live);
        store.failed("500".into(), false, t(30));
        store.failed("connection refused".into(), true, t(40));
        assert_eq!(
            store.state(),
            &SyncState::Unreachable { since: t(30), error: "connection refused".into() }
        );
        // The watch resumes without a relist: live again.
        store.apply(&Event::Apply(mk_svc("a", "y")));
        assert_eq!(store.state(), &SyncState::Live);
    }
}
