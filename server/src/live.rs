//! Live updates by server push: `GET /api/live` (Server-Sent Events), behind the session like the server
//! functions.
//!
//! ```text
//! watchers ──► Change (cluster, kind, namespace | relisted | state) ──► broadcast ──► one Subscription
//!   per open page: relevant(query)? ──► may this person list that kind there? (access decisions, cached)
//!   ──► Coalescer (at most one tick per WINDOW) ──► `event: changed`
//!   sync-state changes ──► `event: state` (each cluster's state, fleetpane_app::live::encode_states)
//!   every 15 s a keep-alive comment; the stream ends at the session's end or after MAX_STREAM (the browser
//!   reconnects, which checks the session again)
//! browser ──► on `changed`: refetch through the server functions, which apply access as always
//! ```
//!
//! No object data ever goes out here: a tick says only "something you may read changed".

use std::{collections::BTreeSet, convert::Infallible, time::Duration};

use axum::{
    extract::{RawQuery, State},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use fleetpane_app::live::{ClusterSync, EVENT_CHANGED, EVENT_STATE, Sync, encode_states};
use futures::Stream;
use http::StatusCode;
use tokio::{sync::broadcast, time::Instant};

use crate::{
    access::{self, Access, Resource},
    auth::identity::Identity,
    fleet::Impersonation,
    state::AppState,
    watch::{
        Caches,
        changes::{Change, Changed},
        store::SyncState,
    },
};

/// At most one `changed` tick per subscription in this window: a burst of changes is one tick.
pub const WINDOW: Duration = Duration::from_millis(200);

/// How often a keep-alive comment goes out (proxies close idle connections).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A stream ends after this long at most; the browser reconnects, and the session is checked again.
pub const MAX_STREAM: Duration = Duration::from_secs(600);

/// Every kind the caches hold, by the name the caches use, with the resource access is asked about.
pub const KINDS: [(&str, Resource); 10] = [
    ("Service", access::SERVICES),
    ("EndpointSlice", access::ENDPOINT_SLICES),
    ("Pod", access::PODS),
    ("Namespace", access::NAMESPACES),
    ("Event", access::EVENTS),
    ("NetworkPolicy", access::NETWORK_POLICIES),
    ("Ingress", access::INGRESSES),
    ("HorizontalPodAutoscaler", access::HPAS),
    ("PodDisruptionBudget", access::PDBS),
    ("HTTPRoute", access::HTTP_ROUTES),
];

/// What a live query asks for. `None` / empty: everything the person may read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveQuery {
    /// One cluster.
    pub cluster: Option<String>,
    /// One namespace.
    pub namespace: Option<String>,
    /// Only these kinds.
    pub kinds: BTreeSet<&'static str>,
}

/// Why a live query was refused (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    /// A parameter this endpoint does not know.
    #[error("unknown parameter {0:?} (use cluster, namespace or kinds)")]
    UnknownParameter(String),
    /// A parameter given twice.
    #[error("parameter {0:?} given twice")]
    Repeated(String),
    /// Not a DNS label.
    #[error("{field}: {value:?} is not a valid {field} name")]
    BadName {
        /// `cluster` or `namespace`.
        field: &'static str,
        /// What was sent.
        value: String,
    },
    /// No such cluster in the configuration.
    #[error("cluster: no cluster is named {0:?}")]
    UnknownCluster(String),
    /// A kind the caches do not hold.
    #[error("kinds: unknown kind {0:?}")]
    UnknownKind(String),
}

/// Reads `?cluster=&namespace=&kinds=A,B` (the raw query string); `clusters` are the configured names. Pure.
pub fn parse_query(raw: Option<&str>, clusters: &[&str]) -> Result<LiveQuery, QueryError> {
    let mut query = LiveQuery::default();
    let mut seen = BTreeSet::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !seen.insert(key.to_string()) {
            return Err(QueryError::Repeated(key.into_owned()));
        }
        match key.as_ref() {
            "cluster" => {
                if !is_dns_label(&value) {
                    return Err(QueryError::BadName { field: "cluster", value: value.into_owned() });
                }
                if !clusters.contains(&value.as_ref()) {
                    return Err(QueryError::UnknownCluster(value.into_owned()));
                }
                query.cluster = Some(value.into_owned());
            }
            "namespace" => {
                if !is_dns_label(&value) {
                    return Err(QueryError::BadName { field: "namespace", value: value.into_owned() });
                }
                query.namespace = Some(value.into_owned());
            }
            "kinds" => {
                for kind in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                    let (known, _) = KINDS
                        .iter()
                        .find(|(name, _)| *name == kind)
                        .ok_or_else(|| QueryError::UnknownKind(kind.to_owned()))?;
                    query.kinds.insert(known);
                }
            }
            other => return Err(QueryError::UnknownParameter(other.to_owned())),
        }
    }
    Ok(query)
}

/// RFC 1123 label: a Kubernetes namespace, or a cluster's configured name.
fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// What a subscription does with one change notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relevance {
    /// Not its business.
    Ignore,
    /// A tick, if the person may list `resource` in `namespace` (`None`: cluster-wide) of the cluster.
    TickIfAllowed {
        /// What to ask about.
        resource: Resource,
        /// Where.
        namespace: Option<String>,
    },
    /// A tick that reveals nothing about any namespace (the cache was listed again).
    Tick,
    /// The sync state may have changed: send the states again if they differ.
    State,
}

impl LiveQuery {
    /// What `change` means for this query. Pure.
    pub fn relevance(&self, change: &Change) -> Relevance {
        if self.cluster.as_deref().is_some_and(|c| c != &*change.cluster) {
            return Relevance::Ignore;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&*change.kind) {
            return Relevance::Ignore;
        }
        let Some((_, resource)) = KINDS.iter().find(|(name, _)| *name == &*change.kind) else {
            return Relevance::Ignore;
        };
        match &change.what {
            Changed::State => Relevance::State,
            Changed::Relisted => Relevance::Tick,
            Changed::Object { namespace } if namespace.is_empty() => match self.namespace {
                // A cluster-scoped object (a Namespace): only for whoever may list them all.
                None => Relevance::TickIfAllowed { resource: *resource, namespace: None },
                Some(_) => Relevance::Ignore,
            },
            Changed::Object { namespace } => {
                if self.namespace.as_ref().is_some_and(|n| n != namespace) {
                    return Relevance::Ignore;
                }
                Relevance::TickIfAllowed { resource: *resource, namespace: Some(namespace.clone()) }
            }
        }
    }
}

/// Turns changes into ticks: the first change opens a window of [`WINDOW`], and one tick goes out when it
/// closes, however many changes came in it. Pure: time is passed in.
#[derive(Debug)]
pub struct Coalescer {
    window: Duration,
    due: Option<Instant>,
}

impl Coalescer {
    /// A coalescer with this window.
    pub fn new(window: Duration) -> Self {
        Self { window, due: None }
    }

    /// A change arrived at `now`.
    pub fn change(&mut self, now: Instant) {
        self.due.get_or_insert(now + self.window);
    }

    /// When the next tick is due, if one is.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Whether a tick goes out at `now` (and the window closes).
    pub fn fire(&mut self, now: Instant) -> bool {
        match self.due {
            Some(due) if due <= now => {
                self.due = None;
                true
            }
            _ => false,
        }
    }
}

/// One cluster's state over `kinds` (every kind when empty): the least current of them. Pure.
pub fn cluster_sync<'a>(
    cluster: &str,
    states: impl IntoIterator<Item = (&'a str, SyncState)>,
    kinds: &BTreeSet<&'static str>,
) -> ClusterSync {
    let time = |t: &jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let rank = |s: &SyncState| match s {
        SyncState::Live => 0,
        SyncState::Syncing => 1,
        SyncState::Stale { .. } => 2,
        SyncState::Unreachable { .. } => 3,
    };
    let worst = states
        .into_iter()
        .filter(|(kind, _)| kinds.is_empty() || kinds.contains(kind))
        .map(|(_, state)| state)
        .max_by(|a, b| {
            let since = |s: &SyncState| match s {
                SyncState::Stale { since, .. } | SyncState::Unreachable { since, .. } => Some(*since),
                SyncState::Live | SyncState::Syncing => None,
            };
            // The same rank: the earlier `since` is the worse.
            rank(a).cmp(&rank(b)).then_with(|| since(b).cmp(&since(a)))
        });
    let sync = match worst {
        None | Some(SyncState::Live) => Sync::Live,
        Some(SyncState::Syncing) => Sync::Syncing,
        Some(SyncState::Stale { since, .. }) => Sync::Stale(time(&since)),
        Some(SyncState::Unreachable { since, .. }) => Sync::Unreachable(time(&since)),
    };
    ClusterSync { cluster: cluster.to_owned(), sync }
}

/// One event of a live stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveEvent {
    /// Something the person may read changed: the n-th tick of this stream.
    Changed(u64),
    /// The sync state of every cluster the query covers.
    States(Vec<ClusterSync>),
}

impl LiveEvent {
    /// As a Server-Sent Event.
    pub fn to_sse(&self) -> Event {
        match self {
            Self::Changed(n) => Event::default().event(EVENT_CHANGED).data(n.to_string()),
            Self::States(states) => Event::default().event(EVENT_STATE).data(encode_states(states)),
        }
    }
}

/// The live events of `who` for `query`: the states first, then ticks and state changes, until `lifetime`
/// has passed (or the caches are gone). Dropping the stream unsubscribes.
pub fn subscribe(
    caches: &Caches,
    access: &Access,
    who: Impersonation,
    query: LiveQuery,
    lifetime: Duration,
) -> impl Stream<Item = LiveEvent> + Send + use<> {
    let subscription = Subscription {
        receiver: caches.subscribe(),
        who,
        query,
        caches: caches.clone(),
        access: access.clone(),
        coalescer: Coalescer::new(WINDOW),
        sent_states: None,
        states_due: true,
        ticks: 0,
        end: Instant::now() + lifetime,
    };
    futures::stream::unfold(subscription, |mut s| async move {
        let event = s.next_event().await?;
        Some((event, s))
    })
}

/// `GET /api/live`: the person's live-update stream. 400 for a query that does not parse; 401 without a
/// session (the session middleware answers before this runs).
pub async fn handler(State(state): State<AppState>, identity: Identity, RawQuery(raw): RawQuery) -> Response {
    let names: Vec<&str> = state.fleet.clusters().iter().map(crate::fleet::Cluster::name).collect();
    let query = match parse_query(raw.as_deref(), &names) {
        Ok(query) => query,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, [(http::header::CACHE_CONTROL, "no-store")], format!("{e}\n"))
                .into_response();
        }
    };
    let session_end =
        u64::try_from(identity.expires_at.saturating_sub(crate::auth::session::now())).unwrap_or(0);
    let lifetime = MAX_STREAM.min(Duration::from_secs(session_end));
    let events = subscribe(&state.caches, &state.access, Impersonation::of(&identity), query, lifetime);
    tracing::debug!(email = identity.email, "live updates subscribed");
    let events = futures::StreamExt::map(events, |e| Ok::<_, Infallible>(e.to_sse()));
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response()
}

/// One open stream. Dropping it (the browser went away) drops its receiver.
struct Subscription {
    receiver: broadcast::Receiver<Change>,
    who: Impersonation,
    query: LiveQuery,
    caches: Caches,
    access: Access,
    coalescer: Coalescer,
    /// The states last sent.
    sent_states: Option<Vec<ClusterSync>>,
    /// Whether the states must be looked at again.
    states_due: bool,
    ticks: u64,
    end: Instant,
}

impl Subscription {
    /// The next event to send; `None` ends the stream.
    async fn next_event(&mut self) -> Option<LiveEvent> {
        loop {
            if std::mem::take(&mut self.states_due) {
                let states = self.states();
                if self.sent_states.as_ref() != Some(&states) {
                    self.sent_states = Some(states.clone());
                    return Some(LiveEvent::States(states));
                }
            }
            let due = self.coalescer.due();
            tokio::select! {
                () = tokio::time::sleep_until(self.end) => return None,
                () = sleep_until_some(due) => {
                    if self.coalescer.fire(Instant::now()) {
                        self.ticks += 1;
                        return Some(LiveEvent::Changed(self.ticks));
                    }
                }
                received = self.receiver.recv() => match received {
                    Ok(change) => self.consider(&change).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        // Notices were lost: anything may have changed.
                        tracing::debug!(missed, "live subscriber lagged");
                        self.coalescer.change(Instant::now());
                        self.states_due = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    async fn consider(&mut self, change: &Change) {
        match self.query.relevance(change) {
            Relevance::Ignore => {}
            Relevance::State => self.states_due = true,
            Relevance::Tick => self.coalescer.change(Instant::now()),
            Relevance::TickIfAllowed { resource, namespace } => {
                // A tick is already coming: no need to ask.
                if self.coalescer.due().is_none()
                    && self.may_list(&change.cluster, resource, namespace.as_deref()).await
                {
                    self.coalescer.change(Instant::now());
                }
            }
        }
    }

    /// Whether the person may list `resource` in `namespace` (or cluster-wide) of `cluster`. An error is a
    /// no: never widen access.
    async fn may_list(&self, cluster: &str, resource: Resource, namespace: Option<&str>) -> bool {
        let ask = |ns| self.access.allowed(&self.who, cluster, "list", resource, ns);
        match ask(None).await {
            Ok(true) => true,
            Ok(false) => match namespace {
                Some(ns) => ask(Some(ns)).await.unwrap_or(false),
                None => false,
            },
            Err(e) => {
                tracing::debug!(cluster, error = %e, "live: access decision failed, change not forwarded");
                false
            }
        }
    }

    /// The sync state of every cluster the query covers.
    fn states(&self) -> Vec<ClusterSync> {
        self.caches
            .clusters()
            .filter(|(name, _)| self.query.cluster.as_deref().is_none_or(|c| c == *name))
            .map(|(name, caches)| cluster_sync(name, caches.states(), &self.query.kinds))
            .collect()
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn change(cluster: &str, kind: &str, what: Changed) -> Change {
        Change { cluster: Arc::from(cluster), kind: Arc::from(kind), what }
    }

    fn object(ns: &str) -> Changed {
        Changed::Object { namespace: ns.into() }
    }

    const CLUSTERS: [&str; 3] = ["prod-eu", "prod-us", "staging"];

    #[test]
    fn queries_parse_and_bad_ones_say_why() {
        assert_eq!(parse_query(None, &CLUSTERS), Ok(LiveQuery::default()));
        let q = parse_query(Some("cluster=prod-eu&namespace=team-a&kinds=Service,EndpointSlice"), &CLUSTERS)
            .unwrap();
        assert_eq!(q.cluster.as_deref(), Some("prod-eu"));
        assert_eq!(q.namespace.as_deref(), Some("team-a"));
        assert_eq!(q.kinds, BTreeSet::from(["Service", "EndpointSlice"]));
        let err = |raw: &str| parse_query(Some(raw), &CLUSTERS).unwrap_err().to_string();
        assert_eq!(err("cluster=Prod_EU"), "cluster: \"Prod_EU\" is not a valid cluster name");
        assert_eq!(err("cluster=nowhere"), "cluster: no cluster is named \"nowhere\"");
        assert_eq!(err("namespace=-x"), "namespace: \"-x\" is not a valid namespace name");
        assert_eq!(err("namespace="), "namespace: \"\" is not a valid namespace name");
        assert_eq!(err("kinds=Service,Secret"), "kinds: unknown kind \"Secret\"");
        assert_eq!(err("cluster=prod-eu&cluster=prod-us"), "parameter \"cluster\" given twice");
        assert_eq!(err("watch=all"), "unknown parameter \"watch\" (use cluster, namespace or kinds)");
    }

    #[test]
    fn relevance_follows_cluster_namespace_and_kind_and_asks_about_the_right_resource() {
        let fleet = LiveQuery::default();
        assert_eq!(
            fleet.relevance(&change("prod-eu", "Service", object("team-a"))),
            Relevance::TickIfAllowed { resource: access::SERVICES, namespace: Some("team-a".into()) }
        );
        assert_eq!(
            fleet.relevance(&change("prod-eu", "EndpointSlice", object("team-b"))),
            Relevance::TickIfAllowed { resource: access::ENDPOINT_SLICES, namespace: Some("team-b".into()) }
        );
        // A Namespace object: only for someone who may list namespaces cluster-wide.
        assert_eq!(
            fleet.relevance(&change("prod-eu", "Namespace", object(""))),
            Relevance::TickIfAllowed { resource: access::NAMESPACES, namespace: None }
        );
        assert_eq!(fleet.relevance(&change("prod-eu", "Pod", Changed::Relisted)), Relevance::Tick);
        assert_eq!(fleet.relevance(&change("prod-eu", "Pod", Changed::State)), Relevance::State);
        assert_eq!(fleet.relevance(&change("prod-eu", "Secret", object("a"))), Relevance::Ignore);

        let one = LiveQuery {
            cluster: Some("prod-eu".into()),
            namespace: Some("team-a".into()),
            kinds: BTreeSet::from(["Service", "EndpointSlice"]),
        };
        assert_eq!(one.relevance(&change("prod-us", "Service", object("team-a"))), Relevance::Ignore);
        assert_eq!(one.relevance(&change("prod-eu", "Service", object("team-b"))), Relevance::Ignore);
        assert_eq!(one.relevance(&change("prod-eu", "Pod", object("team-a"))), Relevance::Ignore);
        assert_eq!(one.relevance(&change("prod-eu", "Pod", Changed::State)), Relevance::Ignore);
        assert_eq!(one.relevance(&change("prod-eu", "Namespace", object(""))), Relevance::Ignore);
        assert_eq!(
            one.relevance(&change("prod-eu", "EndpointSlice", object("team-a"))),
            Relevance::TickIfAllowed { resource: access::ENDPOINT_SLICES, namespace: Some("team-a".into()) }
        );
        assert_eq!(one.relevance(&change("prod-eu", "Service", Changed::State)), Relevance::State);
    }

    #[test]
    fn a_burst_is_one_tick_and_ticks_are_a_window_apart() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut c = Coalescer::new(WINDOW);
        assert_eq!(c.due(), None);
        assert!(!c.fire(ms(1000)), "nothing changed, no tick");
        for n in [0, 10, 50, 199] {
            c.change(ms(n));
        }
        assert_eq!(c.due(), Some(ms(200)));
        assert!(!c.fire(ms(199)));
        assert!(c.fire(ms(200)), "one tick for the burst");
        assert!(!c.fire(ms(201)), "and only one");
        c.change(ms(250));
        assert_eq!(c.due(), Some(ms(450)), "the next change opens a new window");
        assert!(c.fire(ms(460)));
    }

    #[test]
    fn a_clusters_state_is_its_least_current_kind() {
        let t = |s: i64| jiff::Timestamp::from_second(s).unwrap();
        let stale = |s: i64| SyncState::Stale { since: t(s), error: "x".into() };
        let states = vec![
            ("Service", SyncState::Live),
            ("Pod", stale(200)),
            ("Event", stale(100)),
            ("Ingress", SyncState::Syncing),
        ];
        let all = BTreeSet::new();
        assert_eq!(cluster_sync("eu", states.clone(), &all).sync, Sync::Stale("1970-01-01T00:01:40Z".into()));
        assert_eq!(cluster_sync("eu", states.clone(), &BTreeSet::from(["Service"])).sync, Sync::Live);
        assert_eq!(
            cluster_sync("eu", states.clone(), &BTreeSet::from(["Service", "Ingress"])).sync,
            Sync::Syncing
        );
        let down =
            vec![("Service", SyncState::Unreachable { since: t(300), error: "x".into() }), ("Pod", stale(1))];
        assert_eq!(cluster_sync("eu", down, &all).sync, Sync::Unreachable("1970-01-01T00:05:00Z".into()));
        assert_eq!(
            cluster_sync("eu", Vec::new(), &all),
            ClusterSync { cluster: "eu".into(), sync: Sync::Live }
        );
    }
}
