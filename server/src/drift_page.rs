//! The drift views for one person: every cluster read concurrently through [`crate::read`] as that person,
//! then compared by [`crate::views::drift`].
//!
//! ```text
//! drift_page(ns, name) ─► per cluster, within CLUSTER_TIMEOUT: read::list_in Services, pods, EndpointSlices,
//!                         NetworkPolicies of ns (forbidden: that cell says so) ─► views::drift::page
//! drift_list()         ─► per cluster: read::list Services ─► namespace/names in 2+ clusters
//!                         ─► per (cluster, namespace) of those: the same namespace reads ─► views::drift::list
//! ```
//! A cluster that fails or is too slow is named as unavailable; it never fails the page.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use fleetpane_app::model::drift::{DriftKey, DriftList, DriftPage};

use crate::{
    access::Access,
    fleet::{Fleet, Impersonation},
    read::{self, Kind, Listed},
    views::drift::{self, Copy},
    watch::{
        Caches,
        rows::{EndpointSliceRow, NetworkPolicyRow, PodRow, ServiceRow},
    },
};

/// How long one cluster may take before the view is served without it.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a drift view could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A namespace or name that cannot exist (400).
    #[error("{0:?} is not a valid Kubernetes name")]
    BadName(String),
}

/// One namespace of one cluster, as the person may read it (`None`: forbidden).
struct NamespaceRows {
    services: Option<Vec<Arc<ServiceRow>>>,
    pods: Option<Vec<Arc<PodRow>>>,
    slices: Option<Vec<Arc<EndpointSliceRow>>>,
    policies: Option<Vec<Arc<NetworkPolicyRow>>>,
}

async fn read_namespace(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    namespace: &str,
) -> Result<NamespaceRows, read::Error> {
    async fn one<R: Kind>(
        ctx: (&Fleet, &Caches, &Access, &Impersonation),
        cluster: &str,
        namespace: &str,
    ) -> Result<Option<Vec<Arc<R>>>, read::Error> {
        Ok(match read::list_in::<R>(ctx.0, ctx.1, ctx.2, ctx.3, cluster, namespace).await? {
            Listed::Rows(rows) => Some(rows),
            Listed::Forbidden => None,
        })
    }
    let ctx = (fleet, caches, access, who);
    let (services, pods, slices, policies) = tokio::try_join!(
        one::<ServiceRow>(ctx, cluster, namespace),
        one::<PodRow>(ctx, cluster, namespace),
        one::<EndpointSliceRow>(ctx, cluster, namespace),
        one::<NetworkPolicyRow>(ctx, cluster, namespace),
    )?;
    Ok(NamespaceRows { services, pods, slices, policies })
}

fn copy_of<'a>(cluster: &'a str, service: &'a ServiceRow, rows: &'a NamespaceRows) -> Copy<'a> {
    Copy {
        cluster,
        service,
        pods: rows.pods.as_ref().map(|v| v.iter().map(|r| &**r).collect()),
        slices: rows.slices.as_ref().map(|v| v.iter().map(|r| &**r).collect()),
        policies: rows.policies.as_ref().map(|v| v.iter().map(|r| &**r).collect()),
    }
}

fn valid_name(s: &str) -> Result<(), Error> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok { Ok(()) } else { Err(Error::BadName(s.to_owned())) }
}

/// The side-by-side of `namespace/name` across the clusters, as `who` may see it.
#[allow(clippy::too_many_arguments)]
pub async fn drift_page(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    namespace: &str,
    name: &str,
    expected: &[DriftKey],
    timeout: Duration,
) -> Result<DriftPage, Error> {
    valid_name(namespace)?;
    valid_name(name)?;
    let reads = fleet.clusters().iter().map(|c| async move {
        let read = read_namespace(fleet, caches, access, who, c.name(), namespace);
        (c.name(), tokio::time::timeout(timeout, read).await)
    });
    let mut found: Vec<(&str, NamespaceRows)> = Vec::new();
    let (mut missing, mut unavailable) = (Vec::new(), Vec::new());
    for (cluster, result) in futures::future::join_all(reads).await {
        match result {
            Ok(Ok(rows)) => found.push((cluster, rows)),
            Ok(Err(e)) => {
                tracing::warn!(cluster, error = %e, "drift: cluster not readable");
                unavailable.push(cluster.to_owned());
            }
            Err(_) => {
                tracing::warn!(cluster, ?timeout, "drift: cluster too slow");
                unavailable.push(cluster.to_owned());
            }
        }
    }
    let mut copies = Vec::new();
    for (cluster, rows) in &found {
        match rows.services.iter().flatten().find(|s| s.name == name) {
            Some(service) => copies.push(copy_of(cluster, service, rows)),
            None => missing.push((*cluster).to_owned()),
        }
    }
    Ok(drift::page(namespace, name, &copies, missing, unavailable, expected))
}

/// The fleet's Services whose copies differ, as `who` may see them.
pub async fn drift_list(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    expected: &[DriftKey],
    timeout: Duration,
) -> DriftList {
    let clusters: Vec<&str> = fleet.clusters().iter().map(|c| c.name()).collect();
    // 1. Services everywhere: which namespace/names have copies in two clusters or more.
    let reads = clusters.iter().map(|&c| async move {
        let read = read::list::<ServiceRow>(fleet, caches, access, who, c);
        (c, tokio::time::timeout(timeout, read).await)
    });
    let mut unavailable = Vec::new();
    let mut seen: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    for (cluster, result) in futures::future::join_all(reads).await {
        match result {
            Ok(Ok(services)) => {
                for s in services {
                    seen.entry((s.namespace.clone(), s.name.clone())).or_default().insert(cluster);
                }
            }
            _ => {
                tracing::warn!(cluster, "drift list: services not readable in time");
                unavailable.push(cluster.to_owned());
            }
        }
    }
    let mut wanted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for ((namespace, _), in_clusters) in &seen {
        if in_clusters.len() >= 2 {
            for c in in_clusters {
                wanted.entry(*c).or_default().insert(namespace.as_str());
            }
        }
    }
    // 2. The namespaces of those, cluster by cluster, concurrently.
    let reads = wanted.iter().flat_map(|(&cluster, namespaces)| {
        namespaces.iter().map(move |&ns| async move {
            let read = read_namespace(fleet, caches, access, who, cluster, ns);
            (cluster, ns, tokio::time::timeout(timeout, read).await)
        })
    });
    let mut rows: Vec<(&str, NamespaceRows)> = Vec::new();
    for (cluster, ns, result) in futures::future::join_all(reads).await {
        match result {
            Ok(Ok(r)) => rows.push((cluster, r)),
            _ => {
                tracing::warn!(cluster, namespace = ns, "drift list: namespace not readable in time");
                if !unavailable.iter().any(|u| u == cluster) {
                    unavailable.push(cluster.to_owned());
                }
            }
        }
    }
    // Fleet order within each group.
    rows.sort_by_key(|(c, _)| clusters.iter().position(|x| x == c));
    let copies: Vec<Copy<'_>> = rows
        .iter()
        .flat_map(|(cluster, r)| {
            r.services
                .iter()
                .flatten()
                .filter(|s| seen.get(&(s.namespace.clone(), s.name.clone())).is_some_and(|c| c.len() >= 2))
                .map(move |s| copy_of(cluster, s, r))
        })
        .collect();
    drift::list(&copies, unavailable, expected)
}
