//! Live updates: the page refetches its data when the server says something changed.
//!
//! ```text
//! server: caches ──► GET /api/live?cluster=&namespace=&kinds= (SSE, no object data)
//!                     event: changed   something the person may read changed (≤ 1 per 200 ms)
//!                     event: state     each cluster's sync state, one line per cluster ([`encode_states`])
//! browser: use_live ──► version +1 on `changed` (and on each open) ──► Resources keyed on it refetch
//!                      through the normal server functions, so access is applied as always
//!          LiveIndicator ──► "live" · "reconnecting…" · "prod-us: stale since 14:03:05 UTC"
//! ```
//!
//! Only the hydrated app opens the connection; the server-rendered page (and a browser without JavaScript)
//! shows "not live".

use leptos::prelude::*;

/// The path of the live-update stream.
pub const PATH: &str = "/api/live";

/// The SSE event sent when something changed.
pub const EVENT_CHANGED: &str = "changed";

/// The SSE event carrying every watched cluster's sync state.
pub const EVENT_STATE: &str = "state";

/// What a page wants to hear about. Empty fields mean everything the person may read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveScope {
    /// One cluster, or the whole fleet.
    pub cluster: Option<String>,
    /// One namespace, or all.
    pub namespace: Option<String>,
    /// Only changes of these kinds (as the caches name them, e.g. `Service`); empty: every kind.
    pub kinds: Vec<&'static str>,
}

impl LiveScope {
    /// The stream's URL for this scope.
    pub fn url(&self) -> String {
        let mut params = Vec::new();
        if let Some(c) = &self.cluster {
            params.push(("cluster", c.clone()));
        }
        if let Some(n) = &self.namespace {
            params.push(("namespace", n.clone()));
        }
        if !self.kinds.is_empty() {
            params.push(("kinds", self.kinds.join(",")));
        }
        crate::pages::with_query(PATH, params)
    }
}

/// How current one cluster's cached data is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Still loading.
    Syncing,
    /// Watching: changes arrive within a second.
    Live,
    /// Shown, but possibly out of date since this time (RFC 3339, UTC).
    Stale(String),
    /// The cluster has not answered since this time (RFC 3339, UTC).
    Unreachable(String),
}

/// One cluster's sync state, as the `state` event carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSync {
    /// The cluster's name.
    pub cluster: String,
    /// Its state.
    pub sync: Sync,
}

/// The `state` event's data: one line per cluster, `name state [since]`.
pub fn encode_states(states: &[ClusterSync]) -> String {
    states
        .iter()
        .map(|s| match &s.sync {
            Sync::Syncing => format!("{} syncing", s.cluster),
            Sync::Live => format!("{} live", s.cluster),
            Sync::Stale(since) => format!("{} stale {since}", s.cluster),
            Sync::Unreachable(since) => format!("{} unreachable {since}", s.cluster),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads [`encode_states`]'s format; lines it does not understand are skipped.
pub fn decode_states(data: &str) -> Vec<ClusterSync> {
    data.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let cluster = parts.next()?.to_owned();
            let sync = match (parts.next()?, parts.next()) {
                ("syncing", _) => Sync::Syncing,
                ("live", _) => Sync::Live,
                ("stale", Some(since)) => Sync::Stale(since.to_owned()),
                ("unreachable", Some(since)) => Sync::Unreachable(since.to_owned()),
                _ => return None,
            };
            Some(ClusterSync { cluster, sync })
        })
        .collect()
}

/// The connection to the live-update stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// No connection: server-side rendering, or no JavaScript.
    Off,
    /// Opening for the first time.
    Connecting,
    /// Open: changes arrive.
    Open,
    /// Lost; trying again (with backoff).
    Reconnecting,
}

/// What the indicator shows: a state name (for styling and tests) and its text.
pub fn indicator(connection: Connection, clusters: &[ClusterSync]) -> (&'static str, String) {
    match connection {
        Connection::Off => ("off", "not live: reload to update".to_owned()),
        Connection::Connecting => ("connecting", "connecting…".to_owned()),
        Connection::Reconnecting => ("reconnecting", "reconnecting…".to_owned()),
        Connection::Open => {
            let names = |pick: fn(&Sync) -> Option<&String>| {
                let mut hits: Vec<(&str, &str)> = clusters
                    .iter()
                    .filter_map(|c| pick(&c.sync).map(|t| (c.cluster.as_str(), t.as_str())))
                    .collect();
                hits.sort_by(|a, b| a.1.cmp(b.1));
                let since = hits.first().map(|(_, t)| clock(t));
                (hits.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "), since)
            };
            let unreachable = names(|s| if let Sync::Unreachable(t) = s { Some(t) } else { None });
            let stale = names(|s| if let Sync::Stale(t) = s { Some(t) } else { None });
            let syncing: Vec<&str> =
                clusters.iter().filter(|c| c.sync == Sync::Syncing).map(|c| c.cluster.as_str()).collect();
            let mut parts = Vec::new();
            if let (names, Some(since)) = &unreachable {
                parts.push(format!("{names}: unreachable since {since}"));
            }
            if let (names, Some(since)) = &stale {
                parts.push(format!("{names}: stale since {since}"));
            }
            if !syncing.is_empty() {
                parts.push(format!("{}: loading", syncing.join(", ")));
            }
            match (unreachable.1.is_some() || stale.1.is_some(), parts.is_empty()) {
                (_, true) => ("live", "live".to_owned()),
                (true, false) => ("stale", format!("live · {}", parts.join(" · "))),
                (false, false) => ("syncing", format!("live · {}", parts.join(" · "))),
            }
        }
    }
}

/// `14:03:05 UTC` from `2026-11-26T14:03:05Z`; anything else as it is.
fn clock(rfc3339: &str) -> String {
    match rfc3339.get(11..19) {
        Some(time) if rfc3339.ends_with('Z') && rfc3339.as_bytes().get(10) == Some(&b'T') => {
            format!("{time} UTC")
        }
        _ => rfc3339.to_owned(),
    }
}

/// A page's live-update state.
#[derive(Clone, Copy, Debug)]
pub struct Live {
    /// Bumps on every change the server announces (and each time the stream opens): key Resources on it.
    pub version: ReadSignal<u64>,
    /// The connection.
    pub connection: ReadSignal<Connection>,
    /// Each watched cluster's sync state, as last announced.
    pub clusters: ReadSignal<Vec<ClusterSync>>,
}

impl Live {
    /// Whether `cluster`'s data is stale or unreachable (as last announced).
    pub fn is_stale(&self, cluster: &str) -> bool {
        self.clusters.with(|cs| {
            cs.iter().any(|c| c.cluster == cluster && matches!(c.sync, Sync::Stale(_) | Sync::Unreachable(_)))
        })
    }
}

/// Opens the live-update stream for `scope` (re-opened when it changes) while the calling component lives.
/// On the server it only returns the signals at their starting values.
pub fn use_live(scope: impl Fn() -> LiveScope + 'static) -> Live {
    let (version, set_version) = signal(0_u64);
    let (connection, set_connection) = signal(Connection::Off);
    let (clusters, set_clusters) = signal(Vec::<ClusterSync>::new());
    #[cfg(feature = "hydrate")]
    {
        let stream = StoredValue::new_local(browser::Stream::new(browser::Outputs {
            version: set_version,
            connection: set_connection,
            clusters: set_clusters,
        }));
        Effect::new(move |_| {
            let url = scope().url();
            stream.with_value(|s| s.connect(url));
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (scope, set_version, set_connection, set_clusters);
    Live { version, connection, clusters }
}

/// The small "live" / "reconnecting…" / "stale since T" badge, in words (not colour alone).
#[component]
pub fn LiveIndicator(
    /// The page's live state.
    live: Live,
) -> impl IntoView {
    let shown = Memo::new(move |_| live.clusters.with(|c| indicator(live.connection.get(), c)));
    view! {
        <span class="live-indicator" role="status" aria-live="polite" data-live=move || shown.get().0>
            <span class="live-dot" aria-hidden="true"></span>
            " "
            {move || shown.get().1}
        </span>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The `EventSource` and its reconnects.

    use std::{cell::RefCell, rc::Rc, time::Duration};

    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{EventSource, MessageEvent};

    use super::{ClusterSync, Connection, EVENT_CHANGED, EVENT_STATE, decode_states};

    /// The first reconnect waits this long; each further one twice as long, up to [`MAX_BACKOFF`].
    const FIRST_BACKOFF: Duration = Duration::from_secs(1);
    /// The longest wait between reconnects.
    const MAX_BACKOFF: Duration = Duration::from_secs(30);

    /// Where the stream's news goes.
    pub(super) struct Outputs {
        pub version: WriteSignal<u64>,
        pub connection: WriteSignal<Connection>,
        pub clusters: WriteSignal<Vec<ClusterSync>>,
    }

    /// One page's stream; closes it on drop.
    pub(super) struct Stream(Rc<RefCell<Inner>>);

    struct Inner {
        out: Outputs,
        url: Option<String>,
        source: Option<EventSource>,
        handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
        timer: Option<TimeoutHandle>,
        failures: u32,
    }

    impl Stream {
        pub(super) fn new(out: Outputs) -> Self {
            Self(Rc::new(RefCell::new(Inner {
                out,
                url: None,
                source: None,
                handlers: Vec::new(),
                timer: None,
                failures: 0,
            })))
        }

        /// (Re)connects to `url`, unless already connected there.
        pub(super) fn connect(&self, url: String) {
            {
                let mut inner = self.0.borrow_mut();
                if inner.url.as_deref() == Some(url.as_str()) && inner.source.is_some() {
                    return;
                }
                inner.close();
                inner.url = Some(url);
                inner.failures = 0;
                inner.out.connection.set(Connection::Connecting);
            }
            open(&self.0);
        }
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            self.0.borrow_mut().close();
        }
    }

    impl Inner {
        fn close(&mut self) {
            if let Some(source) = self.source.take() {
                source.close();
            }
            if let Some(timer) = self.timer.take() {
                timer.clear();
            }
            self.handlers.clear();
        }
    }

    fn open(inner: &Rc<RefCell<Inner>>) {
        let Some(url) = inner.borrow().url.clone() else { return };
        let Ok(source) = EventSource::new(&url) else { return retry_later(inner) };
        let weak = Rc::downgrade(inner);
        let on = |f: Box<dyn FnMut(web_sys::Event)>| Closure::wrap(f);
        let opened = on(Box::new({
            let weak = weak.clone();
            move |_| {
                let Some(inner) = weak.upgrade() else { return };
                let mut i = inner.borrow_mut();
                i.failures = 0;
                i.out.connection.set(Connection::Open);
                // Changes may have been missed before the stream opened: while it was down, and on the first
                // open between the page's read on the server and now (hydration may take seconds on a slow
                // link). One refetch closes that gap.
                i.out.version.update(|v| *v += 1);
            }
        }));
        let failed = on(Box::new({
            let weak = weak.clone();
            move |_| {
                if let Some(inner) = weak.upgrade() {
                    retry_later(&inner);
                }
            }
        }));
        let changed = on(Box::new({
            let weak = weak.clone();
            move |_| {
                if let Some(inner) = weak.upgrade() {
                    inner.borrow().out.version.update(|v| *v += 1);
                }
            }
        }));
        let state = on(Box::new(move |event: web_sys::Event| {
            let Some(inner) = weak.upgrade() else { return };
            if let Some(data) = event.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) {
                inner.borrow().out.clusters.set(decode_states(&data));
            }
        }));
        source.set_onopen(Some(opened.as_ref().unchecked_ref()));
        source.set_onerror(Some(failed.as_ref().unchecked_ref()));
        let _ = source.add_event_listener_with_callback(EVENT_CHANGED, changed.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback(EVENT_STATE, state.as_ref().unchecked_ref());
        let mut i = inner.borrow_mut();
        i.handlers = vec![opened, failed, changed, state];
        i.source = Some(source);
    }

    /// Closes the broken stream and opens a new one after a growing wait. The browser's own retry is not
    /// used: it does not back off.
    fn retry_later(inner: &Rc<RefCell<Inner>>) {
        let wait = {
            let mut i = inner.borrow_mut();
            if let Some(source) = i.source.take() {
                source.close();
            }
            if let Some(timer) = i.timer.take() {
                timer.clear();
            }
            i.out.connection.set(Connection::Reconnecting);
            let wait = FIRST_BACKOFF.saturating_mul(2_u32.saturating_pow(i.failures.min(5))).min(MAX_BACKOFF);
            i.failures = i.failures.saturating_add(1);
            wait
        };
        let weak = Rc::downgrade(inner);
        let timer = set_timeout_with_handle(
            move || {
                if let Some(inner) = weak.upgrade() {
                    inner.borrow_mut().timer = None;
                    open(&inner);
                }
            },
            wait,
        );
        inner.borrow_mut().timer = timer.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_only_what_is_set() {
        assert_eq!(LiveScope::default().url(), "/api/live");
        let scope = LiveScope {
            cluster: Some("prod-eu".into()),
            namespace: Some("team-a".into()),
            kinds: vec!["Service", "EndpointSlice"],
        };
        assert_eq!(scope.url(), "/api/live?cluster=prod-eu&namespace=team-a&kinds=Service%2CEndpointSlice");
    }

    #[test]
    fn states_round_trip_and_junk_is_skipped() {
        let states = vec![
            ClusterSync { cluster: "prod-eu".into(), sync: Sync::Live },
            ClusterSync { cluster: "prod-us".into(), sync: Sync::Stale("2026-11-26T14:03:05Z".into()) },
            ClusterSync { cluster: "staging".into(), sync: Sync::Unreachable("2026-11-26T14:00:00Z".into()) },
            ClusterSync { cluster: "new".into(), sync: Sync::Syncing },
        ];
        let text = encode_states(&states);
        assert_eq!(decode_states(&text), states);
        assert_eq!(
            decode_states("x sideways\nstale\ny stale\nz live"),
            [ClusterSync { cluster: "z".into(), sync: Sync::Live }]
        );
    }

    #[test]
    fn the_indicator_says_in_words_what_is_live_and_what_is_stale() {
        assert_eq!(indicator(Connection::Off, &[]).1, "not live: reload to update");
        assert_eq!(indicator(Connection::Reconnecting, &[]), ("reconnecting", "reconnecting…".into()));
        let live = ClusterSync { cluster: "prod-eu".into(), sync: Sync::Live };
        assert_eq!(indicator(Connection::Open, std::slice::from_ref(&live)), ("live", "live".into()));
        let stale = |c: &str, t: &str| ClusterSync { cluster: c.into(), sync: Sync::Stale(t.into()) };
        let shown = indicator(
            Connection::Open,
            &[live, stale("prod-us", "2026-11-26T14:03:05Z"), stale("staging", "2026-11-26T14:01:00Z")],
        );
        assert_eq!(shown, ("stale", "live · staging, prod-us: stale since 14:01:00 UTC".into()));
        let down = ClusterSync { cluster: "prod-us".into(), sync: Sync::Unreachable("later".into()) };
        assert_eq!(indicator(Connection::Open, &[down]).1, "live · prod-us: unreachable since later");
        let loading = ClusterSync { cluster: "new".into(), sync: Sync::Syncing };
        assert_eq!(indicator(Connection::Open, &[loading]), ("syncing", "live · new: loading".into()));
    }
}
