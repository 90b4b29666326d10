//! One cache's contents and sync state, driven by watcher events. Pure: no I/O, time passed in.
//!
//! A (re)list arrives as `Init`, `InitApply`*, `InitDone`. The listed rows collect in a buffer that replaces
//! the whole map at `InitDone`, so after a relist (for instance after a 410 Gone) nothing deleted meanwhile
//! survives as a ghost row, and readers never see a half-filled cache.

use std::{collections::BTreeMap, sync::Arc};

use jiff::Timestamp;
use kube::runtime::watcher::Event;

use super::rows::Row;

/// A row's key: namespace (empty for cluster-scoped kinds) and name.
pub type Key = (String, String);

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
    rows: BTreeMap<Key, Arc<R>>,
    relist: Option<BTreeMap<Key, Arc<R>>>,
    state: SyncState,
}

impl<R: Row> Default for Store<R> {
    fn default() -> Self {
        Self { rows: BTreeMap::new(), relist: None, state: SyncState::Syncing }
    }
}

fn key_of<R: Row>(row: &R) -> Key {
    (row.namespace().to_owned(), row.name().to_owned())
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
            Event::Init => self.relist = Some(BTreeMap::new()),
            Event::InitApply(object) => {
                let row = R::from_object(object);
                if row.retained(now) {
                    self.relist.get_or_insert_default().insert(key_of(&row), Arc::new(row));
                }
            }
            Event::InitDone => {
                if let Some(rows) = self.relist.take() {
                    self.rows = rows;
                }
                self.state = SyncState::Live;
            }
            Event::Apply(object) => {
                let row = R::from_object(object);
                if row.retained(now) {
                    self.rows.insert(key_of(&row), Arc::new(row));
                } else {
                    self.rows.remove(&key_of(&row));
                }
                self.recovered();
            }
            Event::Delete(object) => {
                let row = R::from_object(object);
                self.rows.remove(&key_of(&row));
                self.recovered();
            }
        }
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
        self.rows.retain(|_, row| row.retained(now));
        before - self.rows.len()
    }

    /// Marks the cache live with no rows: the kind does not exist in the cluster (an absent CRD).
    pub fn absent(&mut self) {
        self.rows.clear();
        self.relist = None;
        self.state = SyncState::Live;
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
        self.rows.values()
    }

    /// The rows of one namespace.
    pub fn in_namespace<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Arc<R>> + 'a {
        self.rows
            .range((namespace.to_owned(), String::new())..)
            .take_while(move |((ns, _), _)| ns == namespace)
            .map(|(_, row)| row)
    }

    /// One row.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Arc<R>> {
        self.rows.get(&(namespace.to_owned(), name.to_owned()))
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
