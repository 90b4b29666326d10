//! Fleetpane's own observability: per-cluster, per-kind cache state and size, requests sent to each
//! apiserver, and the access-decision cache's hit rate, as Prometheus text at `/metrics`.
//!
//! ```text
//! AppState ──► snapshot() ──► Snapshot ──► render() ──► text/plain; version=0.0.4
//! ```
//!
//! `/metrics` needs a signed-in session, or `Authorization: Bearer <token>` with the token from
//! `[server] metrics_token_file` (see [`crate::auth::session::require_session`]).

use std::fmt::Write as _;

use fleetpane_app::model::{CacheState, ClusterHealth, FleetHealth, KindHealth};
use jiff::Timestamp;

use crate::{
    access::Access,
    config::ClusterMode,
    fleet::Fleet,
    watch::{Caches, store::SyncState},
};

/// The path.
pub const METRICS_PATH: &str = "/metrics";

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything `/metrics` reports, at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// One entry per cluster, in configuration order.
    pub clusters: Vec<ClusterSnapshot>,
    /// Access decisions answered from the cache.
    pub decision_hits: u64,
    /// Access decisions not in the cache (a review was sent, or is about to be).
    pub decision_misses: u64,
    /// Access reviews sent.
    pub reviews_sent: u64,
    /// Open live-update streams (`/api/live`).
    pub live_subscribers: usize,
    /// Queries sent to each cluster's Prometheus (clusters with one only), from [`crate::metrics::Metrics`].
    pub prometheus_queries: Vec<(String, u64)>,
}

/// One cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSnapshot {
    /// Its name.
    pub name: String,
    /// Cached or impersonation only.
    pub mode: ClusterMode,
    /// HTTP requests sent to its apiserver.
    pub requests: u64,
    /// Its caches (none in impersonation-only mode).
    pub kinds: Vec<KindSnapshot>,
}

/// One (cluster, kind) cache.
#[derive(Clone, Debug, PartialEq)]
pub struct KindSnapshot {
    /// The kind, e.g. `Service`.
    pub kind: &'static str,
    /// How current it is.
    pub state: SyncState,
    /// How many rows it holds.
    pub rows: usize,
}

/// Reads the counters and cache states now.
pub fn snapshot(fleet: &Fleet, caches: &Caches, access: &Access) -> Snapshot {
    let (decision_hits, decision_misses, reviews_sent) = access.stats();
    let clusters = fleet
        .clusters()
        .iter()
        .map(|c| ClusterSnapshot {
            name: c.name().to_owned(),
            mode: c.mode(),
            requests: c.requests_sent(),
            kinds: caches
                .cluster(c.name())
                .map(|cached| {
                    cached
                        .states()
                        .into_iter()
                        .zip(cached.sizes())
                        .map(|((kind, state), (_, rows))| KindSnapshot { kind, state, rows })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    Snapshot {
        clusters,
        decision_hits,
        decision_misses,
        reviews_sent,
        live_subscribers: caches.subscribers(),
        prometheus_queries: Vec::new(),
    }
}

/// The snapshot as the status page's wire type. Pure.
pub fn to_wire(s: &Snapshot) -> FleetHealth {
    let time = |t: &Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let asked = s.decision_hits + s.decision_misses;
    #[allow(clippy::cast_precision_loss)] // Counters far below 2^52.
    let decision_hit_ratio = (asked > 0).then(|| s.decision_hits as f64 / asked as f64);
    FleetHealth {
        clusters: s
            .clusters
            .iter()
            .map(|c| ClusterHealth {
                name: c.name.clone(),
                impersonation_only: c.mode == ClusterMode::ImpersonationOnly,
                requests: c.requests,
                kinds: c
                    .kinds
                    .iter()
                    .map(|k| KindHealth {
                        kind: k.kind.to_owned(),
                        state: match &k.state {
                            SyncState::Syncing => CacheState::Syncing,
                            SyncState::Live => CacheState::Live,
                            SyncState::Stale { since, error } => {
                                CacheState::Stale { since: time(since), error: error.clone() }
                            }
                            SyncState::Unreachable { since, error } => {
                                CacheState::Unreachable { since: time(since), error: error.clone() }
                            }
                        },
                        rows: k.rows as u64,
                    })
                    .collect(),
            })
            .collect(),
        decision_hit_ratio,
        reviews_sent: s.reviews_sent,
    }
}

/// The name of a state, as the `state` label and the status page show it.
pub fn state_name(state: &SyncState) -> &'static str {
    match state {
        SyncState::Syncing => "syncing",
        SyncState::Live => "live",
        SyncState::Stale { .. } => "stale",
        SyncState::Unreachable { .. } => "unreachable",
    }
}

const STATES: [&str; 4] = ["syncing", "live", "stale", "unreachable"];

/// A label value, escaped as the text format requires.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, type_: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {type_}");
}

/// The snapshot in the Prometheus text format (version 0.0.4). Pure.
pub fn render(s: &Snapshot, now: Timestamp) -> String {
    let mut out = String::new();
    header(&mut out, "fleetpane_cluster_mode", "gauge", "1 for the cluster's read mode.");
    for c in &s.clusters {
        let mode = match c.mode {
            ClusterMode::Cached => "cached",
            ClusterMode::ImpersonationOnly => "impersonation_only",
        };
        let _ = writeln!(out, "fleetpane_cluster_mode{{cluster=\"{}\",mode=\"{mode}\"}} 1", label(&c.name));
    }
    header(&mut out, "fleetpane_apiserver_requests_total", "counter", "HTTP requests sent to the apiserver.");
    for c in &s.clusters {
        let _ = writeln!(
            out,
            "fleetpane_apiserver_requests_total{{cluster=\"{}\"}} {}",
            label(&c.name),
            c.requests
        );
    }
    header(&mut out, "fleetpane_cache_state", "gauge", "1 for the cache's current sync state, else 0.");
    for c in &s.clusters {
        for k in &c.kinds {
            let current = state_name(&k.state);
            for state in STATES {
                let _ = writeln!(
                    out,
                    "fleetpane_cache_state{{cluster=\"{}\",kind=\"{}\",state=\"{state}\"}} {}",
                    label(&c.name),
                    k.kind,
                    u8::from(state == current)
                );
            }
        }
    }
    header(
        &mut out,
        "fleetpane_cache_not_live_seconds",
        "gauge",
        "Seconds since the cache became stale or unreachable; 0 when syncing or live.",
    );
    for c in &s.clusters {
        for k in &c.kinds {
            let seconds = match &k.state {
                SyncState::Stale { since, .. } | SyncState::Unreachable { since, .. } => {
                    now.duration_since(*since).as_secs_f64().max(0.0)
                }
                SyncState::Syncing | SyncState::Live => 0.0,
            };
            let _ = writeln!(
                out,
                "fleetpane_cache_not_live_seconds{{cluster=\"{}\",kind=\"{}\"}} {seconds}",
                label(&c.name),
                k.kind
            );
        }
    }
    header(&mut out, "fleetpane_cache_rows", "gauge", "Rows held by the cache.");
    for c in &s.clusters {
        for k in &c.kinds {
            let _ = writeln!(
                out,
                "fleetpane_cache_rows{{cluster=\"{}\",kind=\"{}\"}} {}",
                label(&c.name),
                k.kind,
                k.rows
            );
        }
    }
    header(
        &mut out,
        "fleetpane_access_decisions_total",
        "counter",
        "Access decisions asked of the decision cache, by whether it had the answer.",
    );
    let _ = writeln!(out, "fleetpane_access_decisions_total{{result=\"hit\"}} {}", s.decision_hits);
    let _ = writeln!(out, "fleetpane_access_decisions_total{{result=\"miss\"}} {}", s.decision_misses);
    header(
        &mut out,
        "fleetpane_access_decision_hit_ratio",
        "gauge",
        "Hits over all access decisions since start; 0 before the first.",
    );
    let asked = s.decision_hits + s.decision_misses;
    #[allow(clippy::cast_precision_loss)] // Counters far below 2^52.
    let ratio = if asked == 0 { 0.0 } else { s.decision_hits as f64 / asked as f64 };
    let _ = writeln!(out, "fleetpane_access_decision_hit_ratio {ratio}");
    header(&mut out, "fleetpane_access_reviews_total", "counter", "Access reviews sent to the clusters.");
    let _ = writeln!(out, "fleetpane_access_reviews_total {}", s.reviews_sent);
    header(&mut out, "fleetpane_live_subscribers", "gauge", "Open live-update streams (/api/live).");
    let _ = writeln!(out, "fleetpane_live_subscribers {}", s.live_subscribers);
    header(
        &mut out,
        "fleetpane_prometheus_queries_total",
        "counter",
        "Queries sent to the cluster's Prometheus (answers from the short cache not counted).",
    );
    for (cluster, sent) in &s.prometheus_queries {
        let _ = writeln!(out, "fleetpane_prometheus_queries_total{{cluster=\"{}\"}} {sent}", label(cluster));
    }
    out
}

/// Whether `authorization` (the header's value) carries `token` as a bearer token. Constant time in the
/// token's content.
pub fn bearer_matches(authorization: Option<&str>, token: &str) -> bool {
    let Some(sent) = authorization.and_then(|v| v.strip_prefix("Bearer ")) else { return false };
    crate::secret::constant_time_eq(sent.trim().as_bytes(), token.as_bytes())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn mk_snapshot() -> Snapshot {
        Snapshot {
            clusters: vec![
                ClusterSnapshot {
                    name: "prod-eu".into(),
                    mode: ClusterMode::Cached,
                    requests: 42,
                    kinds: vec![
                        KindSnapshot { kind: "Service", state: SyncState::Live, rows: 7 },
                        KindSnapshot {
                            kind: "Pod",
                            state: SyncState::Unreachable { since: t(100), error: "refused".into() },
                            rows: 0,
                        },
                    ],
                },
                ClusterSnapshot {
                    name: "strict".into(),
                    mode: ClusterMode::ImpersonationOnly,
                    requests: 3,
                    kinds: vec![],
                },
            ],
            decision_hits: 3,
            decision_misses: 1,
            reviews_sent: 1,
            live_subscribers: 2,
            prometheus_queries: vec![("prod-eu".into(), 4)],
        }
    }

    /// A small checker of the text format: every sample has a HELP and TYPE before it, a metric name, a
    /// well-formed label set, and a float value. Returns the samples as (name{labels}, value).
    pub(crate) fn parse(text: &str) -> Vec<(String, f64)> {
        let mut typed = std::collections::BTreeSet::new();
        let mut helped = std::collections::BTreeSet::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().unwrap().to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                typed.insert(parts.next().unwrap().to_owned());
                assert!(matches!(parts.next(), Some("gauge" | "counter")), "{line}");
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
                let name = series.split('{').next().unwrap();
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad name: {line}"
                );
                assert!(typed.contains(name) && helped.contains(name), "no HELP/TYPE before {line}");
                if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                    let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')).unwrap();
                    for pair in inner.split("\",") {
                        let (key, value) =
                            pair.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                        assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
                        assert!(!value.trim_end_matches('"').contains('"'), "{line}");
                    }
                }
                samples
                    .push((series.to_owned(), value.parse().unwrap_or_else(|_| panic!("bad value: {line}"))));
            }
        }
        samples
    }

    fn value(samples: &[(String, f64)], series: &str) -> f64 {
        samples.iter().find(|(s, _)| s == series).unwrap_or_else(|| panic!("no {series}")).1
    }

    #[test]
    fn render_reports_states_sizes_requests_and_hit_ratio() {
        let text = render(&mk_snapshot(), t(160));
        let samples = parse(&text);
        assert_eq!(value(&samples, r#"fleetpane_apiserver_requests_total{cluster="prod-eu"}"#), 42.0);
        assert_eq!(value(&samples, r#"fleetpane_apiserver_requests_total{cluster="strict"}"#), 3.0);
        assert_eq!(
            value(&samples, r#"fleetpane_cluster_mode{cluster="strict",mode="impersonation_only"}"#),
            1.0
        );
        assert_eq!(
            value(&samples, r#"fleetpane_cache_state{cluster="prod-eu",kind="Service",state="live"}"#),
            1.0
        );
        assert_eq!(
            value(&samples, r#"fleetpane_cache_state{cluster="prod-eu",kind="Service",state="stale"}"#),
            0.0
        );
        assert_eq!(
            value(&samples, r#"fleetpane_cache_state{cluster="prod-eu",kind="Pod",state="unreachable"}"#),
            1.0
        );
        assert_eq!(
            value(&samples, r#"fleetpane_cache_not_live_seconds{cluster="prod-eu",kind="Pod"}"#),
            60.0
        );
        assert_eq!(value(&samples, r#"fleetpane_cache_rows{cluster="prod-eu",kind="Service"}"#), 7.0);
        assert_eq!(value(&samples, r#"fleetpane_access_decisions_total{result="hit"}"#), 3.0);
        assert_eq!(value(&samples, "fleetpane_access_decision_hit_ratio"), 0.75);
        assert_eq!(value(&samples, "fleetpane_access_reviews_total"), 1.0);
        assert_eq!(value(&samples, "fleetpane_live_subscribers"), 2.0);
        assert_eq!(value(&samples, r#"fleetpane_prometheus_queries_total{cluster="prod-eu"}"#), 4.0);
        assert!(!text.contains("refused"), "errors stay out of label values");
    }

    #[test]
    fn status_data_pairs_each_state_with_its_time_and_error() {
        let wire = to_wire(&mk_snapshot());
        assert_eq!(wire.decision_hit_ratio, Some(0.75));
        assert_eq!(wire.reviews_sent, 1);
        let eu = &wire.clusters[0];
        assert_eq!((eu.name.as_str(), eu.impersonation_only, eu.requests), ("prod-eu", false, 42));
        assert_eq!(eu.kinds[0].state, CacheState::Live);
        assert_eq!(eu.kinds[0].rows, 7);
        assert_eq!(
            eu.kinds[1].state,
            CacheState::Unreachable { since: "1970-01-01T00:01:40Z".into(), error: "refused".into() }
        );
        assert!(wire.clusters[1].impersonation_only && wire.clusters[1].kinds.is_empty());
        assert_eq!(to_wire(&Snapshot::default()).decision_hit_ratio, None);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cretX"), "s3cret"));
        assert!(!bearer_matches(Some("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
    }
}
