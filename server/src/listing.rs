//! The fleet Services list for one person: every cluster read concurrently through [`crate::read`] (so the same
//! access decisions as everywhere, cached and impersonation-only clusters alike), then searched, grouped,
//! sorted and paged by [`crate::views::list`].
//!
//! ```text
//! list_services(who, request) ─► Query::parse (a bad search costs no cluster round trip)
//!   ├─ cluster 1: read::list Services + EndpointSlices ─┐  each under CLUSTER_TIMEOUT; a cluster that fails or
//!   ├─ cluster 2: ...                                    ├─ is too slow is left out and named in `unavailable`
//!   └─ cluster n: ...                                    ┘
//!   └─► cluster_entries ─► views::list ─► ServiceListPage
//! ```

use std::{sync::Arc, time::Duration};

use fleetpane_app::model::services::{ServiceListPage, ServiceListRequest};

use crate::{
    access::Access,
    fleet::{Fleet, Impersonation},
    read,
    views::list::{Query, QueryError, ServiceEntry, cluster_entries, facets, list},
    watch::{
        Caches,
        rows::{EndpointSliceRow, ServiceRow},
    },
};

/// How long one cluster may take to answer before the list is served without it.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(2);

/// One cluster's readable rows.
struct ClusterRows {
    name: String,
    services: Vec<Arc<ServiceRow>>,
    /// `None`: EndpointSlices could not be read (health is then unknown, not "not serving").
    slices: Option<Vec<Arc<EndpointSliceRow>>>,
}

/// Reads one cluster's Services and EndpointSlices as `who`, within `timeout`.
async fn read_cluster(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    timeout: Duration,
) -> Result<ClusterRows, String> {
    let reads = async {
        tokio::join!(
            read::list::<ServiceRow>(fleet, caches, access, who, cluster),
            read::list::<EndpointSliceRow>(fleet, caches, access, who, cluster),
        )
    };
    match tokio::time::timeout(timeout, reads).await {
        Ok((Ok(services), slices)) => {
            let slices = slices
                .inspect_err(
                    |e| tracing::warn!(cluster, error = %e, "endpointslices not readable for the list"),
                )
                .ok();
            Ok(ClusterRows { name: cluster.to_owned(), services, slices })
        }
        Ok((Err(e), _)) => {
            tracing::warn!(cluster, error = %e, "services not readable for the list");
            Err(cluster.to_owned())
        }
        Err(_) => {
            tracing::warn!(cluster, ?timeout, "cluster too slow for the list");
            Err(cluster.to_owned())
        }
    }
}

/// The page of the fleet Services list that `who` asked for, with the filter dropdowns' options computed from
/// the same rows (so only namespaces `who` may see). Only a search or filter that does not parse is an error;
/// a cluster that fails or times out is named in [`ServiceListPage::unavailable`].
pub async fn list_services(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    request: &ServiceListRequest,
    timeout: Duration,
) -> Result<ServiceListPage, QueryError> {
    let cluster_names: Vec<&str> = fleet.clusters().iter().map(|c| c.name()).collect();
    let query = Query::from_request(request, &cluster_names)?;
    let reads = fleet.clusters().iter().map(|c| read_cluster(fleet, caches, access, who, c.name(), timeout));
    let mut read = Vec::new();
    let mut unavailable = Vec::new();
    for result in futures::future::join_all(reads).await {
        match result {
            Ok(rows) => read.push(rows),
            Err(cluster) => unavailable.push(cluster),
        }
    }
    let mut entries: Vec<ServiceEntry<'_>> = Vec::new();
    for c in &read {
        cluster_entries(
            &c.name,
            c.services.iter().map(|s| &**s),
            c.slices.as_ref().map(|v| v.iter().map(|s| &**s)),
            &mut entries,
        );
    }
    let mut page = list(&entries, &query, request)?;
    page.unavailable = unavailable;
    page.facets = facets(&entries, &cluster_names);
    Ok(page)
}
