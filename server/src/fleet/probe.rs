//! Is each cluster's apiserver answering? Probes `/version` as Fleetpane's own identity.
//!
//! All clusters are probed concurrently, each under its own deadline, so one dead cluster never delays the
//! others. Failures become a coarse [`UnreachableReason`] plus one short line of detail.

use std::{error::Error as StdError, time::Duration};

use fleetpane_app::model::{ClusterStatus, FleetStatus, Probe, UnreachableReason};
use futures::future::join_all;
use tokio::time::Instant;

use super::{Cluster, Fleet};

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest detail line shown on the page.
const MAX_DETAIL: usize = 160;

/// Probes every cluster of the fleet concurrently, each with `timeout`.
pub async fn probe_all(fleet: &Fleet, timeout: Duration) -> FleetStatus {
    FleetStatus { clusters: join_all(fleet.clusters().iter().map(|c| probe(c, timeout))).await }
}

/// Probes one cluster: `GET /version` within `timeout`.
pub async fn probe(cluster: &Cluster, timeout: Duration) -> ClusterStatus {
    let started = Instant::now();
    let answer = tokio::time::timeout(timeout, cluster.client().apiserver_version()).await;
    let latency = started.elapsed();
    let probe = match answer {
        Ok(Ok(info)) => Probe::Reachable {
            version: info.git_version,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        },
        Ok(Err(error)) => {
            tracing::warn!(cluster = cluster.name(), error = %chain(&error), "apiserver probe failed");
            unreachable(&error)
        }
        Err(_elapsed) => Probe::Unreachable {
            reason: UnreachableReason::Timeout,
            detail: format!("no answer within {} ms", timeout.as_millis()),
        },
    };
    ClusterStatus {
        name: cluster.name().to_owned(),
        api_url: cluster.api_url().as_str().trim_end_matches('/').to_owned(),
        probe,
        checked_at: now_rfc3339(),
    }
}

/// The probe result for a failed request.
pub fn unreachable(error: &kube::Error) -> Probe {
    let (reason, detail) = match error {
        kube::Error::Api(status) => {
            (UnreachableReason::HttpStatus, format!("{} {}", status.code, status.reason))
        }
        other => classify(other),
    };
    Probe::Unreachable { reason, detail: shorten(&detail) }
}

/// Finds the most telling cause in an error chain: the first I/O error kind or TLS error wins, otherwise the
/// innermost message.
pub fn classify(error: &(dyn StdError + 'static)) -> (UnreachableReason, String) {
    let mut innermost = error.to_string();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(err) = current {
        if let Some(tls) = find_tls(err) {
            return (UnreachableReason::Tls, tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return (UnreachableReason::ConnectionRefused, io.to_string()),
                TimedOut => return (UnreachableReason::Timeout, io.to_string()),
                _ => {}
            }
        }
        let text = err.to_string();
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            return (UnreachableReason::Dns, innermost_message(err));
        }
        innermost = text;
        current = err.source();
    }
    (UnreachableReason::Other, innermost)
}

/// A rustls error, directly or inside an `io::Error` (where `source()` would skip it).
fn find_tls<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    err.downcast_ref::<rustls::Error>().or_else(|| {
        err.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    })
}

fn innermost_message(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The whole chain on one line, for the log.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        out.push_str(": ");
        out.push_str(&e.to_string());
        current = e.source();
    }
    out
}

fn shorten(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= MAX_DETAIL {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(MAX_DETAIL - 1).collect();
        format!("{cut}…")
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::{fmt, io};

    use super::*;

    /// An error with a source, like hyper-util's `ConnectError` around an `io::Error`.
    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn StdError + Send + Sync>);
    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(self.1.as_ref())
        }
    }

    fn reason_of(e: kube::Error) -> (UnreachableReason, String) {
        match unreachable(&e) {
            Probe::Unreachable { reason, detail } => (reason, detail),
            Probe::Reachable { .. } => panic!("an error mapped to reachable"),
        }
    }

    #[test]
    fn connection_refused() {
        let io = io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
        let e = kube::Error::Service(Box::new(Wrap(
            "client error (Connect)",
            Box::new(Wrap("tcp connect error", Box::new(io))),
        )));
        assert_eq!(
            reason_of(e),
            (UnreachableReason::ConnectionRefused, "Connection refused (os error 111)".into())
        );
    }

    #[test]
    fn tls_error_hidden_inside_io_error() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, tls);
        let e = kube::Error::Service(Box::new(Wrap("client error (Connect)", Box::new(io))));
        let (reason, detail) = reason_of(e);
        assert_eq!(reason, UnreachableReason::Tls);
        assert!(detail.contains("UnknownIssuer") || detail.contains("unknown issuer"), "{detail}");
    }

    #[test]
    fn os_timeout_and_dns() {
        let io = io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
        assert_eq!(classify(&Wrap("connect", Box::new(io))).0, UnreachableReason::Timeout);
        let dns = Wrap("dns error", Box::new(io::Error::other("failed to lookup address information")));
        assert_eq!(classify(&dns), (UnreachableReason::Dns, "failed to lookup address information".into()));
    }

    #[test]
    fn api_status_is_an_http_error() {
        let status = kube::core::Status::failure("forbidden", "Forbidden").with_code(403);
        assert_eq!(
            reason_of(kube::Error::Api(status.boxed())),
            (UnreachableReason::HttpStatus, "403 Forbidden".into())
        );
    }

    #[test]
    fn anything_else_keeps_the_innermost_message() {
        let e = Wrap("outer", Box::new(io::Error::other("the real cause")));
        assert_eq!(classify(&e), (UnreachableReason::Other, "the real cause".into()));
    }

    #[test]
    fn details_are_one_short_line() {
        assert_eq!(shorten("a\nb"), "a");
        assert_eq!(shorten(&"x".repeat(500)).chars().count(), MAX_DETAIL);
    }

    #[tokio::test]
    async fn a_silent_apiserver_times_out_at_the_deadline() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let _accept = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let cluster = Cluster {
            name: "silent".into(),
            api_url: url.parse().unwrap(),
            prometheus_url: None,
            policy: Default::default(),
            mode: Default::default(),
            requests: Default::default(),
            client: kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap(),
        };
        let status = probe(&cluster, Duration::from_millis(300)).await;
        assert_eq!(
            status.probe,
            Probe::Unreachable {
                reason: UnreachableReason::Timeout,
                detail: "no answer within 300 ms".into()
            }
        );
    }

    #[tokio::test]
    async fn a_dead_cluster_answers_connection_refused_quickly() {
        // Bind then drop: nothing listens on the port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
        let cluster = Cluster {
            name: "dead".into(),
            api_url: format!("http://127.0.0.1:{port}").parse().unwrap(),
            prometheus_url: None,
            policy: Default::default(),
            mode: Default::default(),
            requests: Default::default(),
            client: kube::Client::try_from(config).unwrap(),
        };
        let fleet = Fleet { clusters: vec![cluster.clone(), Cluster { name: "dead-2".into(), ..cluster }] };
        let started = std::time::Instant::now();
        let status = probe_all(&fleet, PROBE_TIMEOUT).await;
        assert!(started.elapsed() < PROBE_TIMEOUT, "took {:?}", started.elapsed());
        assert_eq!(status.clusters.len(), 2);
        for c in &status.clusters {
            assert!(
                matches!(c.probe, Probe::Unreachable { reason: UnreachableReason::ConnectionRefused, .. }),
                "{c:?}"
            );
            assert!(c.checked_at.ends_with('Z'), "{}", c.checked_at);
        }
    }
}
