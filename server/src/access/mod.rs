//! What a person may read, decided by each cluster, never by Fleetpane.
//!
//! ```text
//! (who, cluster, verb, resource) ──► cluster-wide SelfSubjectAccessReview, impersonated
//!                                      allowed ──► Scope::All
//!                                      denied  ──► one review per namespace ──► Scope::Namespaces
//! every review: identical questions in flight share one; at most REVIEWS_PER_CLUSTER at once per cluster
//! answers ──► Decisions (30 s TTL; dropped when the cluster's Roles/Bindings change: one metadata watch each)
//! cached rows ──► filter(scope) ──► only what `who` could have listed
//! ```

pub mod decisions;
pub mod flight;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{StreamExt, future::try_join_all, stream::select_all};
use k8s_openapi::api::{
    authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use kube::{
    Api,
    api::PostParams,
    core::PartialObjectMeta,
    runtime::{WatchStreamExt, watcher},
};

use self::{
    decisions::{Decisions, Question},
    flight::{REVIEWS_PER_CLUSTER, SingleFlight},
};
use crate::{
    fleet::{Fleet, Impersonation, impersonate},
    watch::{rows::Row, store::Store},
};

/// How long an access decision is reused.
pub const DECISION_TTL: Duration = Duration::from_secs(30);

/// Why a decision could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cluster has this name.
    #[error("unknown cluster {0:?}")]
    UnknownCluster(String),
    /// The person cannot be impersonated in this cluster.
    #[error("cannot act as this person in cluster {cluster}")]
    Impersonation {
        /// The cluster's name.
        cluster: String,
        /// Why.
        #[source]
        source: impersonate::Error,
    },
    /// The access review failed.
    #[error("cluster {cluster}: access review failed")]
    Review {
        /// The cluster's name.
        cluster: String,
        /// Why (shared by every caller that asked the same question at the same time).
        #[source]
        source: Arc<kube::Error>,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A resource as RBAC names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    /// API group, empty for core.
    pub group: &'static str,
    /// Plural resource name.
    pub resource: &'static str,
}

/// Services.
pub const SERVICES: Resource = Resource { group: "", resource: "services" };
/// Pods.
pub const PODS: Resource = Resource { group: "", resource: "pods" };
/// EndpointSlices.
pub const ENDPOINT_SLICES: Resource = Resource { group: "discovery.k8s.io", resource: "endpointslices" };
/// Namespaces (cluster-scoped: only the cluster-wide question is meaningful).
pub const NAMESPACES: Resource = Resource { group: "", resource: "namespaces" };
/// Events (core/v1).
pub const EVENTS: Resource = Resource { group: "", resource: "events" };
/// NetworkPolicies.
pub const NETWORK_POLICIES: Resource = Resource { group: "networking.k8s.io", resource: "networkpolicies" };
/// Ingresses.
pub const INGRESSES: Resource = Resource { group: "networking.k8s.io", resource: "ingresses" };
/// HorizontalPodAutoscalers.
pub const HPAS: Resource = Resource { group: "autoscaling", resource: "horizontalpodautoscalers" };
/// PodDisruptionBudgets.
pub const PDBS: Resource = Resource { group: "policy", resource: "poddisruptionbudgets" };
/// Gateway API HTTPRoutes.
pub const HTTP_ROUTES: Resource = Resource { group: "gateway.networking.k8s.io", resource: "httproutes" };
/// Nodes (cluster-scoped: only the cluster-wide question is meaningful).
pub const NODES: Resource = Resource { group: "", resource: "nodes" };
/// Deployments.
pub const DEPLOYMENTS: Resource = Resource { group: "apps", resource: "deployments" };
/// StatefulSets.
pub const STATEFUL_SETS: Resource = Resource { group: "apps", resource: "statefulsets" };
/// DaemonSets.
pub const DAEMON_SETS: Resource = Resource { group: "apps", resource: "daemonsets" };

/// Where someone may do something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In every namespace.
    All,
    /// Only in these namespaces (possibly none).
    Namespaces(BTreeSet<String>),
}

impl Scope {
    /// Whether `namespace` is inside.
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            Self::All => true,
            Self::Namespaces(set) => set.contains(namespace),
        }
    }
}

/// The rows of `store` inside `scope`. Pure.
pub fn filter<R: Row>(store: &Store<R>, scope: &Scope) -> Vec<Arc<R>> {
    match scope {
        Scope::All => store.rows().cloned().collect(),
        Scope::Namespaces(set) => set.iter().flat_map(|ns| store.in_namespace(ns).cloned()).collect(),
    }
}

/// Reviews in flight, by question and the cluster's generation when asked; the answer is shared.
type ReviewsInFlight = SingleFlight<(Question, u64), Result<bool, Arc<kube::Error>>>;

/// Access decisions for the whole fleet. Cheap to clone.
#[derive(Clone)]
pub struct Access {
    fleet: Fleet,
    decisions: Arc<Mutex<Decisions>>,
    reviews_sent: Arc<std::sync::atomic::AtomicU64>,
    /// Reviews in flight, by question and the cluster's generation when asked.
    in_flight: Arc<ReviewsInFlight>,
    /// Reviews each cluster may answer at once.
    limits: Arc<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
    _watches: Arc<Watches>,
}

/// Aborts the RBAC watches on drop.
struct Watches(Vec<tokio::task::AbortHandle>);

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Access {
    /// Starts one RBAC watch per cluster (as Fleetpane's identity) that drops the cluster's decisions on
    /// any change. Must run inside a Tokio runtime.
    pub fn start(fleet: &Fleet, ttl: Duration) -> Self {
        let decisions = Arc::new(Mutex::new(Decisions::new(ttl)));
        let watches = fleet
            .clusters()
            .iter()
            .map(|cluster| {
                let client = cluster.client().clone();
                let name = cluster.name().to_owned();
                let decisions = Arc::clone(&decisions);
                tokio::spawn(invalidate_on_rbac_change(client, name, decisions)).abort_handle()
            })
            .collect();
        Self {
            fleet: fleet.clone(),
            decisions,
            reviews_sent: Arc::default(),
            in_flight: Arc::default(),
            limits: Arc::new(flight::limits(fleet.clusters().iter().map(|c| c.name()), REVIEWS_PER_CLUSTER)),
            _watches: Arc::new(Watches(watches)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Decisions> {
        self.decisions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May `who` `verb` `resource` in `namespace` (`None`: in all namespaces) of `cluster`? Cached; an
    /// identical question already in flight is awaited rather than asked again, and each cluster answers
    /// at most [`REVIEWS_PER_CLUSTER`] reviews at once (the others wait their turn).
    pub async fn allowed(
        &self,
        who: &Impersonation,
        cluster: &str,
        verb: &str,
        resource: Resource,
        namespace: Option<&str>,
    ) -> Result<bool> {
        let c = self.fleet.get(cluster).ok_or_else(|| Error::UnknownCluster(cluster.to_owned()))?;
        let sent =
            c.sent_as(who).map_err(|source| Error::Impersonation { cluster: cluster.to_owned(), source })?;
        let question = Question {
            cluster: cluster.to_owned(),
            who: sent,
            verb: verb.to_owned(),
            group: resource.group.to_owned(),
            resource: resource.resource.to_owned(),
            namespace: namespace.map(str::to_owned),
        };
        let generation = {
            let mut decisions = self.lock();
            if let Some(allowed) = decisions.get(&question, Instant::now()) {
                return Ok(allowed);
            }
            decisions.generation(cluster)
        };
        let client = c
            .client_as(who)
            .map_err(|source| Error::Impersonation { cluster: cluster.to_owned(), source })?;
        let limit = self.limits.get(cluster).cloned();
        let reviews_sent = Arc::clone(&self.reviews_sent);
        let decisions = Arc::clone(&self.decisions);
        // The generation is part of the key: a question asked after an RBAC change never joins a review
        // sent before it.
        let key = (question.clone(), generation);
        self.in_flight
            .run(key, move || async move {
                // Never closed: waiting is the only outcome.
                let _permit = match limit {
                    Some(limit) => limit.acquire_owned().await.ok(),
                    None => None,
                };
                reviews_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let allowed = review(client, &question).await.map_err(Arc::new)?;
                decisions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).put(
                    question,
                    allowed,
                    generation,
                    Instant::now(),
                );
                Ok(allowed)
            })
            .await
            .map_err(|source| Error::Review { cluster: cluster.to_owned(), source })
    }

    /// Where `who` may `verb` `resource` in `cluster`, among `namespaces`: cluster scope first; only when
    /// that is denied, each namespace (concurrently).
    pub async fn scope(
        &self,
        who: &Impersonation,
        cluster: &str,
        verb: &str,
        resource: Resource,
        namespaces: impl IntoIterator<Item = String>,
    ) -> Result<Scope> {
        if self.allowed(who, cluster, verb, resource, None).await? {
            return Ok(Scope::All);
        }
        let namespaces: Vec<String> = namespaces.into_iter().collect();
        let answers = try_join_all(
            namespaces.iter().map(|ns| self.allowed(who, cluster, verb, resource, Some(ns.as_str()))),
        )
        .await?;
        Ok(Scope::Namespaces(
            namespaces.into_iter().zip(answers).filter_map(|(ns, allowed)| allowed.then_some(ns)).collect(),
        ))
    }

    /// Decision-cache hits and misses, and access reviews sent, so far.
    pub fn stats(&self) -> (u64, u64, u64) {
        let (hits, misses) = self.lock().hits_and_misses();
        (hits, misses, self.reviews_sent.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Drops every decision about `cluster` (the RBAC watch does this on every change).
    pub fn invalidate(&self, cluster: &str) {
        self.lock().invalidate(cluster);
    }
}

/// Sends one impersonated SelfSubjectAccessReview.
async fn review(client: kube::Client, q: &Question) -> Result<bool, kube::Error> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(q.verb.clone()),
                group: Some(q.group.clone()),
                resource: Some(q.resource.clone()),
                namespace: q.namespace.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client).create(&PostParams::default(), &review).await?;
    Ok(answer.status.is_some_and(|s| s.allowed && s.denied != Some(true)))
}

/// Watches the cluster's Roles, ClusterRoles and their bindings (metadata only) and drops the cluster's
/// decisions on every change, and after every relist (changes may have been missed meanwhile).
async fn invalidate_on_rbac_change(client: kube::Client, cluster: String, decisions: Arc<Mutex<Decisions>>) {
    fn changes<K>(client: &kube::Client) -> futures::stream::BoxStream<'static, Result<bool, watcher::Error>>
    where
        K: kube::Resource<DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
    {
        // Metadata only: the rules themselves are the cluster's business.
        let api = Api::<PartialObjectMeta<K>>::all(client.clone());
        watcher(api, watcher::Config::default())
            .backoff(crate::watch::backoff::Reconnect::default())
            .map(kind_of)
            .boxed()
    }
    let streams = vec![
        changes::<Role>(&client),
        changes::<RoleBinding>(&client),
        changes::<ClusterRole>(&client),
        changes::<ClusterRoleBinding>(&client),
    ];
    let mut changes = select_all(streams);
    let invalidate =
        || decisions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).invalidate(&cluster);
    // The apiserver's authorizer learns of an RBAC change through its own informers, a little after our
    // watch does: a review answered in between would cache the old answer. So drop the decisions again a
    // moment after the last change, while the authorizer catches up.
    let mut follow_ups: Vec<tokio::time::Instant> = Vec::new();
    loop {
        let next_follow_up = follow_ups.first().copied();
        tokio::select! {
            change = changes.next() => match change {
                Some(Ok(true)) => {
                    invalidate();
                    let now = tokio::time::Instant::now();
                    follow_ups = AUTHORIZER_LAG.iter().map(|lag| now + *lag).collect();
                }
                Some(Ok(false)) => {}
                Some(Err(error)) => tracing::warn!(cluster, %error, "RBAC watch failed"),
                None => return,
            },
            () = sleep_until_some(next_follow_up) => {
                invalidate();
                follow_ups.remove(0);
            }
        }
    }
}

/// When the decisions are dropped again after an RBAC change (see [`invalidate_on_rbac_change`]).
const AUTHORIZER_LAG: [Duration; 2] = [Duration::from_millis(750), Duration::from_millis(2500)];

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Whether a watch event may change access decisions.
fn kind_of<K>(event: Result<watcher::Event<K>, watcher::Error>) -> Result<bool, watcher::Error> {
    event
        .map(|e| matches!(e, watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone))
}

/// The namespaces in a store of namespace rows, by name.
pub fn namespace_names<R: Row>(namespaces: &Store<R>) -> Vec<String> {
    namespaces.rows().map(|r| r.name().to_owned()).collect::<BTreeSet<_>>().into_iter().collect()
}

/// Groups rows by namespace, for comparisons and views. Pure.
pub fn by_namespace<R: Row>(rows: &[Arc<R>]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        out.entry(row.namespace().to_owned()).or_default().insert(row.name().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{api::core::v1::Service, apimachinery::pkg::apis::meta::v1::ObjectMeta};
    use kube::runtime::watcher::Event;

    use super::*;
    use crate::watch::rows::ServiceRow;

    fn mk_store(names: &[(&str, &str)]) -> Store<ServiceRow> {
        let mut store = Store::default();
        store.apply(&Event::Init);
        for (ns, name) in names {
            store.apply(&Event::InitApply(Service {
                metadata: ObjectMeta {
                    namespace: Some((*ns).into()),
                    name: Some((*name).into()),
                    ..Default::default()
                },
                ..Default::default()
            }));
        }
        store.apply(&Event::InitDone);
        store
    }

    #[test]
    fn filter_keeps_only_the_scope() {
        let store = mk_store(&[("team-a", "checkout"), ("team-b", "payments"), ("team-ab", "x")]);
        let all = filter(&store, &Scope::All);
        assert_eq!(all.len(), 3);
        let a = filter(&store, &Scope::Namespaces(["team-a".to_owned()].into()));
        assert_eq!(
            by_namespace(&a),
            BTreeMap::from([("team-a".into(), BTreeSet::from(["checkout".into()]))])
        );
        assert!(filter(&store, &Scope::Namespaces(BTreeSet::new())).is_empty());
        assert!(Scope::All.contains("anything"));
        assert!(!Scope::Namespaces(BTreeSet::new()).contains("team-a"));
    }

    #[test]
    fn rbac_changes_invalidate() {
        assert!(kind_of::<()>(Ok(Event::Apply(()))).unwrap());
        assert!(kind_of::<()>(Ok(Event::Delete(()))).unwrap());
        assert!(kind_of::<()>(Ok(Event::InitDone)).unwrap());
        assert!(!kind_of::<()>(Ok(Event::InitApply(()))).unwrap());
    }
}
