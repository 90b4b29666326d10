//! Keeps access reviews from storming a cluster: identical questions in flight at the same time share one
//! review ([`SingleFlight`]), and each cluster answers at most a fixed number of reviews at once (a
//! [`tokio::sync::Semaphore`] per cluster; further reviews wait for a permit rather than fail).
//!
//! No cluster is needed here: the tests drive it with plain futures.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use tokio::sync::Semaphore;

/// How many access reviews one cluster is asked at once (per Fleetpane process).
pub const REVIEWS_PER_CLUSTER: usize = 24;

/// Calls in flight by key: a second caller with the same key awaits the first one's answer instead of
/// starting its own call.
pub struct SingleFlight<K, V> {
    in_flight: Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self { in_flight: Mutex::new(HashMap::new()) }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Clone + Eq + Hash,
    V: Clone + Send + Sync + 'static,
{
    /// The answer for `key`: `call()`'s, or that of the identical call already in flight. The call runs
    /// as long as any caller awaits it; when every caller is gone it stops, and the next caller with the
    /// same key resumes it.
    pub async fn run<F>(&self, key: K, call: impl FnOnce() -> F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let shared = {
            let mut in_flight = self.lock();
            in_flight.entry(key.clone()).or_insert_with(|| call().boxed().shared()).clone()
        };
        let answer = shared.clone().await;
        let mut in_flight = self.lock();
        if in_flight.get(&key).is_some_and(|current| current.ptr_eq(&shared)) {
            in_flight.remove(&key);
        }
        answer
    }

    /// How many distinct calls are in flight.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no call is in flight.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Shared<BoxFuture<'static, V>>>> {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One semaphore per cluster, each with `permits` permits.
pub fn limits<'a>(
    clusters: impl IntoIterator<Item = &'a str>,
    permits: usize,
) -> HashMap<String, Arc<Semaphore>> {
    clusters.into_iter().map(|c| (c.to_owned(), Arc::new(Semaphore::new(permits)))).collect()
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use futures::future::join_all;

    use super::*;

    #[tokio::test]
    async fn identical_calls_in_flight_share_one_answer() {
        let flights: Arc<SingleFlight<&str, u32>> = Arc::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = released.shared();
        let ask = |key: &'static str| {
            let flights = Arc::clone(&flights);
            let calls = Arc::clone(&calls);
            let released = released.clone();
            tokio::spawn(async move {
                flights
                    .run(key, move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let _ = released.await;
                        7
                    })
                    .await
            })
        };
        let waiting: Vec<_> = (0..10).map(|_| ask("eu/bob/pods/team-a")).collect();
        let other = ask("eu/bob/pods/team-b");
        // Let every task reach the map before the call finishes.
        while flights.len() < 2 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = release.send(());
        for answer in join_all(waiting).await {
            assert_eq!(answer.ok(), Some(7));
        }
        assert_eq!(other.await.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one call per distinct key");
        assert!(flights.is_empty(), "finished calls leave the map");
        // A later call with the same key asks again (answers are the cache's business, not ours).
        let again = flights.run("eu/bob/pods/team-a", || async { 8 }).await;
        assert_eq!(again, 8);
    }

    #[tokio::test]
    async fn a_call_whose_callers_all_left_is_resumed_by_the_next_caller() {
        let flights: SingleFlight<u8, u8> = SingleFlight::default();
        let started = AtomicUsize::new(0);
        let first = flights.run(1, || {
            started.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                1
            }
        });
        // The only caller gives up before the answer.
        assert!(tokio::time::timeout(Duration::from_millis(5), first).await.is_err());
        assert_eq!(flights.len(), 1);
        let second = flights.run(1, || async { 2 }).await;
        assert_eq!(second, 1, "joined the call in flight");
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn a_cluster_answers_at_most_its_permits_at_once_and_the_rest_wait() {
        let limits = limits(["prod-eu", "prod-us"], 4);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks = (0..100).map(|_| {
            let limit = Arc::clone(&limits["prod-eu"]);
            let running = Arc::clone(&running);
            let most = Arc::clone(&most);
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.ok()?;
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Some(())
            })
        });
        let done = join_all(tasks).await;
        assert!(done.iter().all(|d| matches!(d, Ok(Some(())))), "every review waited, none failed");
        assert_eq!(most.load(Ordering::SeqCst), 4);
        // Another cluster's permits are its own.
        assert_eq!(limits["prod-us"].available_permits(), 4);
        assert_eq!(limits["prod-eu"].available_permits(), 4);
    }
}
