//! Wire types: what the server sends the browser.
//!
//! These are plain data, serializable on both sides, and free of any Kubernetes or HTTP client type, so the
//! browser build stays small and the server's internals can change without touching the view.

pub mod doctor;
pub mod drift;
pub mod metrics;
pub mod reach;
pub mod services;

use serde::{Deserialize, Serialize};

/// The result of asking one cluster's apiserver whether it answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The cluster's configured name (a DNS label).
    pub name: String,
    /// The apiserver URL from the configuration.
    pub api_url: String,
    /// What the probe found.
    pub probe: Probe,
    /// When the probe finished, RFC 3339 in UTC, to the second.
    pub checked_at: String,
}

/// What one probe of an apiserver found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// The apiserver answered `/version`.
    Reachable {
        /// The server's `gitVersion`, e.g. `v1.36.0`.
        version: String,
        /// Round-trip time of the probe in milliseconds.
        latency_ms: u64,
    },
    /// The apiserver did not answer in time, or answered with an error.
    Unreachable {
        /// The kind of failure, for the badge.
        reason: UnreachableReason,
        /// One short line with the detail, safe to show (no secrets, no stack).
        detail: String,
    },
}

impl Probe {
    /// Whether the apiserver answered.
    pub fn is_reachable(&self) -> bool {
        matches!(self, Self::Reachable { .. })
    }
}

/// Why a cluster counts as unreachable, coarse enough to read at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnreachableReason {
    /// Nothing listens at the address (TCP connection refused).
    ConnectionRefused,
    /// No answer within the probe's deadline.
    Timeout,
    /// The TLS handshake failed: unknown CA, wrong name, rejected client certificate, ...
    Tls,
    /// The host name did not resolve.
    Dns,
    /// The apiserver answered with an HTTP error status.
    HttpStatus,
    /// Anything else.
    Other,
}

impl UnreachableReason {
    /// A short human label, e.g. "connection refused".
    pub fn label(self) -> &'static str {
        match self {
            Self::ConnectionRefused => "connection refused",
            Self::Timeout => "timeout",
            Self::Tls => "TLS error",
            Self::Dns => "name not resolved",
            Self::HttpStatus => "HTTP error",
            Self::Other => "error",
        }
    }
}

/// The fleet overview: every configured cluster's probe result, in configuration order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetStatus {
    /// One entry per configured cluster.
    pub clusters: Vec<ClusterStatus>,
}

impl FleetStatus {
    /// The names of the clusters that did not answer.
    pub fn unreachable(&self) -> impl Iterator<Item = &str> {
        self.clusters.iter().filter(|c| !c.probe.is_reachable()).map(|c| c.name.as_str())
    }

    /// A one-line verdict for the top of the page, e.g. "All 3 clusters reachable".
    pub fn verdict(&self) -> String {
        let total = self.clusters.len();
        let down: Vec<&str> = self.unreachable().collect();
        match (total, down.len()) {
            (0, _) => "No clusters configured".to_owned(),
            (1, 0) => "The cluster is reachable".to_owned(),
            (t, 0) => format!("All {t} clusters reachable"),
            (t, d) if d == t => format!("No cluster reachable ({t} of {t} down)"),
            (t, d) => format!("{d} of {t} clusters unreachable: {}", down.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_status(name: &str, up: bool) -> ClusterStatus {
        ClusterStatus {
            name: name.to_owned(),
            api_url: "https://127.0.0.1:16443".to_owned(),
            probe: if up {
                Probe::Reachable { version: "v1.36.0".to_owned(), latency_ms: 3 }
            } else {
                Probe::Unreachable { reason: UnreachableReason::ConnectionRefused, detail: String::new() }
            },
            checked_at: "2026-01-01T00:00:00Z".to_owned(),
        }
    }

    #[test]
    fn verdict_names_the_unreachable_clusters() {
        let fleet = FleetStatus {
            clusters: vec![
                mk_status("prod-eu", true),
                mk_status("prod-us", false),
                mk_status("staging", true),
            ],
        };
        assert_eq!(fleet.verdict(), "1 of 3 clusters unreachable: prod-us");
    }

    #[test]
    fn verdict_all_up_and_all_down() {
        let up = FleetStatus { clusters: vec![mk_status("a", true), mk_status("b", true)] };
        assert_eq!(up.verdict(), "All 2 clusters reachable");
        let down = FleetStatus { clusters: vec![mk_status("a", false), mk_status("b", false)] };
        assert_eq!(down.verdict(), "No cluster reachable (2 of 2 down)");
        assert_eq!(FleetStatus::default().verdict(), "No clusters configured");
    }

    #[test]
    fn statuses_and_cache_states_survive_the_wire() {
        let status = FleetStatus { clusters: vec![mk_status("a", false), mk_status("b", true)] };
        let bytes = postcard_bytes(&status);
        assert_eq!(crate::wire::decode::<FleetStatus>(&bytes), Ok(status));
        let stale =
            CacheState::Stale { since: "2026-11-26T17:00:00Z".into(), error: "watch: 410 Gone".into() };
        assert_eq!(crate::wire::decode::<CacheState>(&postcard_bytes(&stale)), Ok(stale));
    }

    fn postcard_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
        <crate::wire::Wire as codee::Encoder<T>>::encode(value).unwrap_or_default()
    }
}

/// Who is signed in, for the header and the "who am I" page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// The verified email address.
    pub email: String,
    /// The provider's configured name.
    pub provider: String,
    /// Every group, with where it came from.
    pub groups: Vec<WhoAmIGroup>,
    /// When the session ends at the latest, RFC 3339 in UTC.
    pub session_expires_at: String,
    /// The session's CSRF token, for the sign-out form (the page's `<meta name="csrf-token">` holds it too).
    pub csrf_token: String,
}

/// One group of the signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmIGroup {
    /// The group's name as Fleetpane uses it.
    pub name: String,
    /// Where it came from.
    pub source: GroupOrigin,
}

/// Where a group came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupOrigin {
    /// The ID token's groups claim.
    Claim,
    /// The provider's UserInfo endpoint.
    UserInfo,
    /// Google's Directory API.
    Directory,
}

impl GroupOrigin {
    /// How the page names the source.
    pub fn label(self) -> &'static str {
        match self {
            Self::Claim => "ID token claim",
            Self::UserInfo => "UserInfo",
            Self::Directory => "directory",
        }
    }
}

/// Fleetpane's own health, for the status page: every cluster's caches and requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetHealth {
    /// One entry per cluster, in configuration order.
    pub clusters: Vec<ClusterHealth>,
    /// Share of access decisions answered from the cache since start; `None` before the first.
    pub decision_hit_ratio: Option<f64>,
    /// Access reviews sent since start.
    pub reviews_sent: u64,
}

/// One cluster's caches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterHealth {
    /// The cluster's name.
    pub name: String,
    /// `true`: no shared caches, every read goes live through the impersonated client.
    pub impersonation_only: bool,
    /// HTTP requests sent to its apiserver since start.
    pub requests: u64,
    /// One entry per cached kind (none in impersonation-only mode).
    pub kinds: Vec<KindHealth>,
}

/// One (cluster, kind) cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindHealth {
    /// The kind, e.g. `Service`.
    pub kind: String,
    /// How current it is.
    pub state: CacheState,
    /// Rows held.
    pub rows: u64,
}

/// How current a cache is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheState {
    /// The first list has not completed.
    Syncing,
    /// Listed and watching.
    Live,
    /// Rows may be out of date since `since` (RFC 3339); the watch retries.
    Stale {
        /// Since when.
        since: String,
        /// The latest error, one line.
        error: String,
    },
    /// The apiserver has not answered since `since` (RFC 3339).
    Unreachable {
        /// Since when.
        since: String,
        /// The latest error, one line.
        error: String,
    },
}
