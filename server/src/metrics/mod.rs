//! Traffic and resource metrics from each cluster's Prometheus, scoped to what the person may read.
//!
//! ```text
//! service_metrics(who, cluster, ns, svc, range) / fleet_rates(who)
//!   ├─ access: may `who` list services (traffic) / pods (CPU, memory) in ns?   no ─► Doctor NotAllowed, no query
//!   ├─ source: preset from config, or detected by probing which request metric exists (cached)
//!   ├─ presets: PromQL for the Service, names checked (KubeName) and escaped
//!   ├─ promql::scoped: the namespace matcher added to every selector (the one place; fails closed)
//!   ├─ client: GET /api/v1/query[_range], 2 s timeout, 10 s cache, queries counted per cluster
//!   └─ doctor: not configured / unreachable / no series / query error, each with what to configure
//! service_facts(who, cluster, ns, svc): the Service page doctor's p99 latency and callers (same scoping, cache)
//! ```

pub mod client;
pub mod config;
pub mod doctor;
pub mod facts;
pub mod panels;
pub mod presets;
pub mod promql;
pub mod quantity;

use std::sync::Arc;

use k8s_openapi::api::core::v1::ResourceRequirements;

pub use self::{
    client::Prometheus,
    panels::{RatesByService, fleet_rates, service_metrics, service_rates},
};
use crate::config::ClusterConfig;

/// Why the Prometheus clients could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client could not be built (TLS setup).
    #[error("cluster {cluster}: cannot build the Prometheus client")]
    Client {
        /// The cluster.
        cluster: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
}

/// Every cluster's Prometheus client, by cluster name. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    clusters: Arc<Vec<(String, Prometheus)>>,
}

impl Metrics {
    /// One client per cluster that has `[clusters.prometheus]`. Nothing is contacted here.
    pub fn from_config(clusters: &[ClusterConfig]) -> Result<Self, Error> {
        let mut out = Vec::new();
        for c in clusters {
            if let Some(p) = &c.prometheus {
                let client = Prometheus::new(p.url.clone(), p.settings.clone())
                    .map_err(|source| Error::Client { cluster: c.name.clone(), source })?;
                out.push((c.name.clone(), client));
            }
        }
        Ok(Self { clusters: Arc::new(out) })
    }

    /// The Prometheus of `cluster`, if configured.
    pub fn get(&self, cluster: &str) -> Option<&Prometheus> {
        self.clusters.iter().find(|(name, _)| name == cluster).map(|(_, p)| p)
    }

    /// Queries sent so far, per configured cluster (for `/metrics`).
    pub fn queries_sent(&self) -> Vec<(String, u64)> {
        self.clusters.iter().map(|(name, p)| (name.clone(), p.queries_sent())).collect()
    }
}

/// A container's CPU and memory requests and limits, as numbers (`None`: not set or not a quantity).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceAmounts {
    /// CPU request, millicores.
    pub cpu_request_millis: Option<i64>,
    /// CPU limit, millicores.
    pub cpu_limit_millis: Option<i64>,
    /// Memory request, bytes.
    pub memory_request_bytes: Option<i64>,
    /// Memory limit, bytes.
    pub memory_limit_bytes: Option<i64>,
}

impl ResourceAmounts {
    /// From a container's `resources`.
    pub fn of(resources: Option<&ResourceRequirements>) -> Self {
        let get = |list: Option<
            &std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
        >,
                   key: &str| list.and_then(|l| l.get(key)).map(|q| q.0.clone());
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = resources.and_then(|r| r.limits.as_ref());
        Self {
            cpu_request_millis: get(requests, "cpu").and_then(|q| quantity::millicores(&q)),
            cpu_limit_millis: get(limits, "cpu").and_then(|q| quantity::millicores(&q)),
            memory_request_bytes: get(requests, "memory").and_then(|q| quantity::bytes(&q)),
            memory_limit_bytes: get(limits, "memory").and_then(|q| quantity::bytes(&q)),
        }
    }
}
