//! Change notices from the caches, for live updates ([`crate::live`]).
//!
//! Every cache holds a [`Notifier`]; after each applied watch event, relist or sync-state change it sends a
//! [`Change`] on the fleet's one broadcast channel. A notice names where something changed, never what: the
//! browser reads the data again through the server functions. Sending never blocks the watcher (a full
//! channel overwrites the oldest notice, and a slow subscriber sees `Lagged`), and costs nothing while
//! nobody subscribes (no notice is even built).

use std::sync::Arc;

use tokio::sync::broadcast;

/// Notices buffered for each subscriber; one that falls further behind is told it lagged.
pub const CAPACITY: usize = 1024;

/// Something changed in one (cluster, kind) cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The cluster's name.
    pub cluster: Arc<str>,
    /// The kind, e.g. `Service`.
    pub kind: Arc<str>,
    /// What changed.
    pub what: Changed,
}

/// What changed in a cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changed {
    /// One object in this namespace (empty for a cluster-scoped kind) was added, changed or deleted.
    Object {
        /// The object's namespace.
        namespace: String,
    },
    /// The cache was listed again (or emptied): anything in it may have changed.
    Relisted,
    /// The cache's sync state changed, e.g. from live to stale.
    State,
}

/// Sends the change notices of one (cluster, kind) cache. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Notifier {
    cluster: Arc<str>,
    kind: Arc<str>,
    sender: broadcast::Sender<Change>,
}

impl Notifier {
    /// A notifier for `kind` in `cluster` sending on `sender`.
    pub fn new(cluster: &str, kind: &str, sender: broadcast::Sender<Change>) -> Self {
        Self { cluster: Arc::from(cluster), kind: Arc::from(kind), sender }
    }

    /// Sends the notice `what` builds, if anyone listens. Never blocks.
    pub fn send(&self, what: impl FnOnce() -> Changed) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        // An error only means the last subscriber left meanwhile.
        let _ = self.sender.send(Change {
            cluster: Arc::clone(&self.cluster),
            kind: Arc::clone(&self.kind),
            what: what(),
        });
    }
}
