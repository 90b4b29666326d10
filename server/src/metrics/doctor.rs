//! The metrics doctor: why a panel is empty, and what to configure. Pure.

use fleetpane_app::model::metrics::{Doctor, DoctorState};

use super::client::QueryError;

/// Why a panel has no data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diagnosis<'a> {
    /// The cluster has no `[clusters.prometheus]`.
    NotConfigured {
        /// The cluster.
        cluster: &'a str,
    },
    /// A query failed.
    Failed {
        /// The cluster.
        cluster: &'a str,
        /// Prometheus' URL (direct) or service-proxy URL.
        url: &'a str,
        /// What failed.
        error: &'a QueryError,
    },
    /// Prometheus answers, but has none of these series.
    NoSeries {
        /// The cluster.
        cluster: &'a str,
        /// The preset (or `custom`, or `auto` when detection found nothing).
        preset: &'a str,
        /// The metric(s) looked for.
        metrics: &'a [&'a str],
    },
    /// The person may not read this (no query was sent).
    NotAllowed {
        /// What they may not do, e.g. "list pods in team-b on prod-eu".
        what: String,
    },
}

/// The doctor's message for `diagnosis`.
pub fn doctor(diagnosis: &Diagnosis<'_>) -> Doctor {
    match diagnosis {
        Diagnosis::NotConfigured { cluster } => Doctor {
            state: DoctorState::NotConfigured,
            message: format!("No Prometheus is configured for cluster {cluster}."),
            fix: "Add a [clusters.prometheus] table to this cluster in the Fleetpane config, with url = \
                  \"http://prometheus.monitoring:9090\" (Thanos, Mimir and VictoriaMetrics work too, path prefixes \
                  included) or service = \"monitoring/prometheus:9090\" to go through the apiserver's service proxy."
                .into(),
        },
        Diagnosis::Failed { cluster, url, error } => match error {
            QueryError::Unreachable(e) => Doctor {
                state: DoctorState::Unreachable,
                message: format!("Prometheus of {cluster} at {url} is unreachable: {e}."),
                fix: "Check that Prometheus runs and that Fleetpane can reach it: [clusters.prometheus] url (include a \
                      path prefix such as /prometheus for Thanos or Mimir) or service, timeout, and \
                      bearer_token_file or basic_auth_* when it needs credentials (HTTP 401/403)."
                    .into(),
            },
            QueryError::Rejected(e) => Doctor {
                state: DoctorState::QueryError,
                message: format!("Prometheus of {cluster} rejected the query: {e}."),
                fix: "Check [clusters.prometheus.templates] (or the preset) against the metrics this Prometheus \
                      has; the query sent is shown under the charts."
                    .into(),
            },
            QueryError::Forbidden(e) => Doctor {
                state: DoctorState::NotAllowed,
                message: format!("Prometheus of {cluster} through the service proxy: {e}."),
                fix: "Through the service proxy your own access counts: you need get on services/proxy for the \
                      Prometheus Service. Ask the cluster's admins, or configure a direct url."
                    .into(),
            },
            QueryError::Scope(e) => Doctor {
                state: DoctorState::QueryError,
                message: format!("The query for {cluster} was not sent: {e}."),
                fix: "Fix [clusters.prometheus.templates]: every query must be valid PromQL so that Fleetpane can \
                      add the namespace matcher."
                    .into(),
            },
        },
        Diagnosis::NoSeries { cluster, preset, metrics } => Doctor {
            state: DoctorState::NoSeries,
            message: format!(
                "Prometheus of {cluster} answers, but has no {} series (preset {preset}).",
                metrics.join(" / ")
            ),
            fix: "Set [clusters.prometheus] preset to what this cluster runs (istio, linkerd, ingress-nginx, \
                  envoy-gateway, generic) or preset = \"custom\" with templates, and check that Prometheus scrapes \
                  it (Status → Targets in Prometheus)."
                .into(),
        },
        Diagnosis::NotAllowed { what } => Doctor {
            state: DoctorState::NotAllowed,
            message: format!("You can't {what}, so no metrics are queried for it."),
            fix: "Ask the cluster's admins for access to this namespace.".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_says_what_to_configure() {
        let unreachable = QueryError::Unreachable("connection refused".into());
        let rejected = QueryError::Rejected("parse error".into());
        let cases = [
            (
                Diagnosis::NotConfigured { cluster: "prod-eu" },
                DoctorState::NotConfigured,
                "[clusters.prometheus]",
            ),
            (
                Diagnosis::Failed { cluster: "prod-eu", url: "http://p:9090/", error: &unreachable },
                DoctorState::Unreachable,
                "url",
            ),
            (
                Diagnosis::Failed { cluster: "prod-eu", url: "http://p:9090/", error: &rejected },
                DoctorState::QueryError,
                "templates",
            ),
            (
                Diagnosis::NoSeries {
                    cluster: "prod-eu",
                    preset: "istio",
                    metrics: &["istio_requests_total"],
                },
                DoctorState::NoSeries,
                "preset",
            ),
            (
                Diagnosis::NotAllowed { what: "list pods in team-b on prod-eu".into() },
                DoctorState::NotAllowed,
                "access",
            ),
        ];
        for (diagnosis, state, fix) in cases {
            let d = doctor(&diagnosis);
            assert_eq!(d.state, state);
            assert!(d.fix.contains(fix), "{d:?}");
        }
        let d = doctor(&Diagnosis::Failed { cluster: "prod-eu", url: "http://p:9090/", error: &unreachable });
        assert_eq!(d.message, "Prometheus of prod-eu at http://p:9090/ is unreachable: connection refused.");
        let d = doctor(&Diagnosis::NoSeries {
            cluster: "c",
            preset: "istio",
            metrics: &["istio_requests_total"],
        });
        assert!(d.message.contains("no istio_requests_total series (preset istio)"), "{}", d.message);
        let d = doctor(&Diagnosis::Failed { cluster: "c", url: "u", error: &rejected });
        assert!(d.message.contains("rejected the query: parse error"), "{}", d.message);
    }
}
