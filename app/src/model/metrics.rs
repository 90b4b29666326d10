//! Traffic and resource metrics of a Service, and the fleet list's rate column.

use serde::{Deserialize, Serialize};

/// The time range of the charts, as the URL carries it (`?range=1h`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetricsRange {
    /// The last 15 minutes.
    #[serde(rename = "15m")]
    M15,
    /// The last hour (the default).
    #[default]
    #[serde(rename = "1h")]
    H1,
    /// The last 6 hours.
    #[serde(rename = "6h")]
    H6,
    /// The last 24 hours.
    #[serde(rename = "24h")]
    H24,
}

impl MetricsRange {
    /// Every range, shortest first.
    pub const ALL: [Self; 4] = [Self::M15, Self::H1, Self::H6, Self::H24];

    /// The URL form: `15m`, `1h`, `6h`, `24h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::M15 => "15m",
            Self::H1 => "1h",
            Self::H6 => "6h",
            Self::H24 => "24h",
        }
    }

    /// The range called `s`, if it is one of the four.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Its length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::M15 => 15 * 60,
            Self::H1 => 3600,
            Self::H6 => 6 * 3600,
            Self::H24 => 24 * 3600,
        }
    }

    /// Seconds between two points of a chart (about 60-72 points per chart).
    pub fn step(self) -> i64 {
        match self {
            Self::M15 => 15,
            Self::H1 => 60,
            Self::H6 => 300,
            Self::H24 => 1200,
        }
    }

    /// The `rate()` window used for this range.
    pub fn window(self) -> &'static str {
        match self {
            Self::M15 => "1m",
            Self::H1 => "2m",
            Self::H6 => "5m",
            Self::H24 => "20m",
        }
    }
}

/// One line of a chart: `(unix seconds, value)`, oldest first. Gaps are simply missing points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// What the line is, e.g. `p99`.
    pub label: String,
    /// The points.
    pub points: Vec<(i64, f64)>,
}

impl Series {
    /// The newest value, if any.
    pub fn last(&self) -> Option<f64> {
        self.points.last().map(|(_, v)| *v)
    }
}

/// Why a metrics panel has no data, and what to configure. Shown in place of the empty panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doctor {
    /// The kind of problem.
    pub state: DoctorState,
    /// What happened, in one sentence (may quote Prometheus' error).
    pub message: String,
    /// What to configure or check.
    pub fix: String,
}

/// The kinds of "why is this empty".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoctorState {
    /// The cluster has no `[clusters.prometheus]`.
    NotConfigured,
    /// Prometheus did not answer (refused, timed out, TLS, 5xx, 401/403).
    Unreachable,
    /// Prometheus answers, but has no series of the metric the preset uses.
    NoSeries,
    /// Prometheus rejected the query.
    QueryError,
    /// The person may not read this namespace (nothing was asked of Prometheus).
    NotAllowed,
}

impl DoctorState {
    /// A short title.
    pub fn title(self) -> &'static str {
        match self {
            Self::NotConfigured => "No Prometheus configured",
            Self::Unreachable => "Prometheus unreachable",
            Self::NoSeries => "No series for this preset",
            Self::QueryError => "Query error",
            Self::NotAllowed => "Not allowed",
        }
    }
}

/// A panel's content, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Panel<T> {
    /// The data.
    Ok {
        /// It.
        data: T,
    },
    /// Why not.
    Doctor {
        /// The diagnosis.
        doctor: Doctor,
    },
}

/// Request rate, 5xx share and latency of one Service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// Requests per second.
    pub rate: Series,
    /// 5xx share, 0..1.
    pub error_share: Series,
    /// p50, p95, p99 in seconds (in this order; a quantile without data has no points).
    pub latency: Vec<Series>,
    /// Where the numbers come from: `istio`, `linkerd`, ..., or `custom`.
    pub source: String,
    /// The PromQL sent (after the namespace matcher was added), labelled, for "show query".
    pub queries: Vec<(String, String)>,
}

/// CPU and memory of one backing pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodResources {
    /// Pod name.
    pub pod: String,
    /// Restarts summed over its containers.
    pub restarts: i32,
    /// CPU used, cores.
    pub cpu: Series,
    /// Working-set memory, bytes.
    pub memory: Series,
    /// Sum of the containers' CPU requests, cores (`None`: some container sets none).
    pub cpu_request: Option<f64>,
    /// Sum of CPU limits, cores.
    pub cpu_limit: Option<f64>,
    /// Sum of memory requests, bytes.
    pub memory_request: Option<f64>,
    /// Sum of memory limits, bytes.
    pub memory_limit: Option<f64>,
}

/// Everything the Traffic section of the Service page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceMetrics {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Service.
    pub name: String,
    /// The range shown.
    pub range: MetricsRange,
    /// End of the range, unix seconds (the charts' right edge).
    pub end: i64,
    /// Request metrics.
    pub traffic: Panel<Traffic>,
    /// Per backing pod: CPU and memory against requests and limits, restarts.
    pub resources: Panel<Vec<PodResources>>,
}

/// The current rate of one Service in one cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRate {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Service.
    pub name: String,
    /// Requests per second.
    pub rate: f64,
    /// 5xx responses per second.
    pub errors: f64,
}

/// The fleet list's rate column: one query per cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetRates {
    /// Every Service with traffic that the person may read.
    pub rates: Vec<ServiceRate>,
    /// Clusters without rates, and why.
    pub doctors: Vec<(String, Doctor)>,
}

impl FleetRates {
    /// The rate and 5xx share of `namespace/name` summed over its clusters, if any has traffic data.
    pub fn of(&self, namespace: &str, name: &str) -> Option<(f64, f64)> {
        let mut rate = 0.0;
        let mut errors = 0.0;
        let mut any = false;
        for r in self.rates.iter().filter(|r| r.namespace == namespace && r.name == name) {
            rate += r.rate;
            errors += r.errors;
            any = true;
        }
        any.then(|| (rate, if rate > 0.0 { errors / rate } else { 0.0 }))
    }
}

/// A rate for people: `120/s`, `2.5/s`, `0.04/s`, `1.2k/s`.
pub fn format_rate(per_second: f64) -> String {
    if per_second >= 1000.0 {
        format!("{:.1}k/s", per_second / 1000.0)
    } else if per_second >= 10.0 {
        format!("{per_second:.0}/s")
    } else if per_second >= 0.1 {
        format!("{per_second:.1}/s")
    } else if per_second > 0.0 {
        format!("{per_second:.2}/s")
    } else {
        "0/s".to_owned()
    }
}

/// A share for people: `0.1%`, `2.3%`, `0%`.
pub fn format_percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".to_owned()
    } else if p < 0.01 {
        "<0.01%".to_owned()
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// Seconds for people: `40 ms`, `1.2 s`.
pub fn format_seconds(s: f64) -> String {
    if s < 1.0 { format!("{:.0} ms", s * 1000.0) } else { format!("{s:.2} s") }
}

/// Cores for people: `250m`, `1.5 cores`.
pub fn format_cores(c: f64) -> String {
    if c < 1.0 { format!("{:.0}m", c * 1000.0) } else { format!("{c:.2} cores") }
}

/// Bytes for people, binary units: `180 MiB`, `1.5 GiB`.
pub fn format_bytes(b: f64) -> String {
    const MI: f64 = 1024.0 * 1024.0;
    if b >= 1024.0 * MI {
        format!("{:.1} GiB", b / (1024.0 * MI))
    } else if b >= MI {
        format!("{:.0} MiB", b / MI)
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_survive_the_wire() {
        let doctor = Panel::<Traffic>::Doctor {
            doctor: Doctor {
                state: DoctorState::Unreachable,
                message: "Prometheus did not answer in 2 s".into(),
                fix: "check [clusters.prometheus] url".into(),
            },
        };
        let ok = Panel::Ok { data: Traffic::default() };
        for panel in [doctor, ok] {
            let bytes = <crate::wire::Wire as codee::Encoder<_>>::encode(&panel).unwrap_or_default();
            assert_eq!(crate::wire::decode::<Panel<Traffic>>(&bytes), Ok(panel));
        }
    }

    #[test]
    fn ranges_round_trip() {
        for r in MetricsRange::ALL {
            assert_eq!(MetricsRange::parse(r.as_str()), Some(r));
            assert_eq!(r.seconds() % r.step(), 0);
        }
        assert_eq!(MetricsRange::parse("2h"), None);
        assert_eq!(serde_json::to_string(&MetricsRange::H6).unwrap(), "\"6h\"");
    }

    #[test]
    fn fleet_rates_sum_over_clusters() {
        let r = |cluster: &str, rate, errors| ServiceRate {
            cluster: cluster.into(),
            namespace: "team-a".into(),
            name: "checkout".into(),
            rate,
            errors,
        };
        let rates = FleetRates { rates: vec![r("a", 100.0, 1.0), r("b", 300.0, 3.0)], doctors: vec![] };
        assert_eq!(rates.of("team-a", "checkout"), Some((400.0, 0.01)));
        assert_eq!(rates.of("team-a", "other"), None);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(format_rate(120.0), "120/s");
        assert_eq!(format_rate(2.46), "2.5/s");
        assert_eq!(format_rate(1500.0), "1.5k/s");
        assert_eq!(format_percent(0.001), "0.10%");
        assert_eq!(format_percent(0.023), "2.3%");
        assert_eq!(format_percent(0.0), "0%");
        assert_eq!(format_seconds(0.04), "40 ms");
        assert_eq!(format_cores(0.25), "250m");
        assert_eq!(format_bytes(180.0 * 1024.0 * 1024.0), "180 MiB");
    }
}
