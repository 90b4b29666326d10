//! Reads for a person: from the shared caches, or live through the impersonated client.
//!
//! ```text
//! list::<R>(who, cluster) ──► cluster mode "cached", cache present and held ──► Access::scope ──► filter(cache)
//!                         └─► "impersonation_only", or the cache withheld ──► cluster-wide review allowed?
//!                                                                          yes: one LIST as `who`
//!                                                                          no:  Access::scope over the
//!                                                                               namespaces, one LIST as `who`
//!                                                                               per allowed namespace
//! ```
//!
//! Both paths return the same rows, in the same order (namespace, then name), and decide access the same way:
//! the cluster's answers to impersonated access reviews. A cache is withheld when the cluster does not let
//! Fleetpane list its kind (see [`crate::watch`]): it is read as the person, live, as in impersonation-only mode.
//!
//! Nodes are cluster-scoped: [`nodes`] asks only the cluster-wide question ("may list nodes"), and a person who
//! may not gets `None`, never a partial list.

use std::sync::Arc;

use k8s_openapi::{
    NamespaceResourceScope,
    api::core::v1::{Namespace, Node},
};
use kube::{Api, api::ListParams};

use crate::{
    access::{self, Access, Resource},
    config::ClusterMode,
    fleet::{Cluster, Fleet, Impersonation, impersonate},
    watch::{
        Cache, Caches, ClusterCaches,
        rows::{
            DaemonSetRow, DeploymentRow, EndpointSliceRow, EventRow, HpaRow, HttpRouteRow, IngressRow,
            NetworkPolicyRow, NodeRow, PdbRow, PodRow, Row, ServiceRow, StatefulSetRow,
        },
    },
};

/// Objects per page of a live LIST.
const PAGE_SIZE: u32 = 500;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cluster has this name.
    #[error("unknown cluster {0:?}")]
    UnknownCluster(String),
    /// The access decision could not be made.
    #[error(transparent)]
    Access(#[from] access::Error),
    /// The person cannot be impersonated in this cluster.
    #[error("cannot act as this person in cluster {cluster}")]
    Impersonation {
        /// The cluster's name.
        cluster: String,
        /// Why.
        #[source]
        source: impersonate::Error,
    },
    /// A live LIST failed.
    #[error("cluster {cluster}: list failed")]
    List {
        /// The cluster's name.
        cluster: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A namespaced kind that can be read for a person: its RBAC name and its cache.
pub trait Kind: Row<Object: kube::Resource<Scope = NamespaceResourceScope>> {
    /// The resource as RBAC names it.
    const RESOURCE: Resource;

    /// Its cache among a cluster's caches.
    fn cache(caches: &ClusterCaches) -> &Cache<Self>;
}

macro_rules! kind {
    ($row:ty, $resource:expr, $field:ident) => {
        impl Kind for $row {
            const RESOURCE: Resource = $resource;
            fn cache(caches: &ClusterCaches) -> &Cache<Self> {
                &caches.$field
            }
        }
    };
}

kind!(ServiceRow, access::SERVICES, services);
kind!(EndpointSliceRow, access::ENDPOINT_SLICES, endpoint_slices);
kind!(PodRow, access::PODS, pods);
kind!(EventRow, access::EVENTS, events);
kind!(NetworkPolicyRow, access::NETWORK_POLICIES, network_policies);
kind!(IngressRow, access::INGRESSES, ingresses);
kind!(HpaRow, access::HPAS, hpas);
kind!(PdbRow, access::PDBS, pdbs);
kind!(HttpRouteRow, access::HTTP_ROUTES, http_routes);
kind!(DeploymentRow, access::DEPLOYMENTS, deployments);
kind!(StatefulSetRow, access::STATEFUL_SETS, stateful_sets);
kind!(DaemonSetRow, access::DAEMON_SETS, daemon_sets);

/// Where a cluster's reads come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The shared caches, filtered.
    Cache,
    /// Live LISTs through the impersonated client.
    Live,
}

/// Where reads of a cluster in `mode` come from, given whether caches run for it. Pure.
pub fn select(mode: ClusterMode, has_caches: bool) -> Source {
    match (mode, has_caches) {
        (ClusterMode::Cached, true) => Source::Cache,
        // A cached cluster without caches only happens when they were not started (tools, tests): live is
        // still correct.
        (ClusterMode::Cached, false) | (ClusterMode::ImpersonationOnly, _) => Source::Live,
    }
}

/// The rows of kind `R` in `cluster` that `who` may list, by namespace then name.
pub async fn list<R: Kind>(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
) -> Result<Vec<Arc<R>>> {
    let c = fleet.get(cluster).ok_or_else(|| Error::UnknownCluster(cluster.to_owned()))?;
    let cached = holding::<R>(caches, cluster);
    match (select(c.mode(), cached.is_some()), cached) {
        (Source::Cache, Some(cached)) => {
            let namespaces = access::namespace_names(&cached.namespaces.read());
            let scope = access.scope(who, cluster, "list", R::RESOURCE, namespaces).await?;
            Ok(access::filter(&R::cache(cached).read(), &scope))
        }
        _ => live::<R>(c, access, who).await,
    }
}

/// What a read of one namespace found: the rows, or that the person may not list that kind there. Forbidden
/// is an answer, not an error: the page says so where the rows would be.
#[derive(Debug)]
pub enum Listed<R> {
    /// The rows, by name.
    Rows(Vec<Arc<R>>),
    /// The cluster does not let the person list this kind in the namespace.
    Forbidden,
}

impl<R> Listed<R> {
    /// The rows, `None` when forbidden.
    pub fn rows(self) -> Option<Vec<Arc<R>>> {
        match self {
            Self::Rows(rows) => Some(rows),
            Self::Forbidden => None,
        }
    }
}

/// The rows of kind `R` in `namespace` of `cluster`, if `who` may list them there: the same access decision
/// as [`list`] (cluster-wide first, then the namespace), then the shared cache's namespace, or one LIST as
/// `who` in that namespace (impersonation-only clusters).
pub async fn list_in<R: Kind>(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    namespace: &str,
) -> Result<Listed<R>> {
    let c = fleet.get(cluster).ok_or_else(|| Error::UnknownCluster(cluster.to_owned()))?;
    let scope = access.scope(who, cluster, "list", R::RESOURCE, [namespace.to_owned()]).await?;
    if !scope.contains(namespace) {
        return Ok(Listed::Forbidden);
    }
    let cached = holding::<R>(caches, cluster);
    match (select(c.mode(), cached.is_some()), cached) {
        (Source::Cache, Some(cached)) => {
            Ok(Listed::Rows(R::cache(cached).read().in_namespace(namespace).cloned().collect()))
        }
        _ => live_in::<R>(c, who, namespace).await,
    }
}

/// The cluster's caches, if they hold kind `R` (a withheld cache is read as the person instead).
fn holding<'a, R: Kind>(caches: &'a Caches, cluster: &str) -> Option<&'a ClusterCaches> {
    caches.cluster(cluster).filter(|cached| R::cache(cached).read().held())
}

/// The nodes of `cluster`, by name, if `who` may list nodes (cluster-wide: nodes have no namespace); `Ok(None)`
/// when they may not. From the shared cache when it holds them, else one LIST as `who`.
pub async fn nodes(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
) -> Result<Option<Vec<Arc<NodeRow>>>> {
    let c = fleet.get(cluster).ok_or_else(|| Error::UnknownCluster(cluster.to_owned()))?;
    if !access.allowed(who, cluster, "list", access::NODES, None).await? {
        return Ok(None);
    }
    let cached = caches.cluster(cluster).filter(|cached| cached.nodes.read().held());
    if let (Source::Cache, Some(cached)) = (select(c.mode(), cached.is_some()), cached) {
        return Ok(Some(cached.nodes.read().rows().cloned().collect()));
    }
    let client =
        c.client_as(who).map_err(|source| Error::Impersonation { cluster: cluster.to_owned(), source })?;
    let nodes = match list_pages(&Api::<Node>::all(client)).await {
        Ok(nodes) => nodes,
        // The decision was cached a moment too long.
        Err(kube::Error::Api(s)) if s.code == 403 => return Ok(None),
        Err(source) => return Err(Error::List { cluster: cluster.to_owned(), source }),
    };
    let mut rows: Vec<NodeRow> = nodes.iter().map(NodeRow::from_object).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(rows.into_iter().map(Arc::new).collect()))
}

/// Live: one LIST as `who` in `namespace`. A 403 (the decision was cached a moment too long) is forbidden.
async fn live_in<R: Kind>(cluster: &Cluster, who: &Impersonation, namespace: &str) -> Result<Listed<R>> {
    let name = cluster.name();
    let client =
        cluster.client_as(who).map_err(|source| Error::Impersonation { cluster: name.to_owned(), source })?;
    let objects = match list_pages(&Api::<R::Object>::namespaced(client, namespace)).await {
        Ok(objects) => objects,
        Err(kube::Error::Api(s)) if s.code == 403 => return Ok(Listed::Forbidden),
        Err(source) => return Err(Error::List { cluster: name.to_owned(), source }),
    };
    let now = jiff::Timestamp::now();
    let mut rows: Vec<R> = objects.iter().map(R::from_object).filter(|r| r.retained(now)).collect();
    rows.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(Listed::Rows(rows.into_iter().map(Arc::new).collect()))
}

/// The labels of namespace `name` in `cluster`, if `who` may get that namespace (NetworkPolicy namespace
/// selectors match them): the access decision, then the shared namespace cache; or one GET as `who`
/// (impersonation-only clusters). `Ok(None)`: forbidden, or no such namespace.
pub async fn namespace_labels(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    cluster: &str,
    name: &str,
) -> Result<Option<crate::watch::rows::Labels>> {
    let c = fleet.get(cluster).ok_or_else(|| Error::UnknownCluster(cluster.to_owned()))?;
    let cached = caches.cluster(cluster);
    match (select(c.mode(), cached.is_some()), cached) {
        (Source::Cache, Some(cached)) => {
            if !access.allowed(who, cluster, "get", access::NAMESPACES, Some(name)).await? {
                return Ok(None);
            }
            Ok(cached.namespaces.read().get("", name).map(|n| n.labels.clone()))
        }
        _ => {
            let client = c
                .client_as(who)
                .map_err(|source| Error::Impersonation { cluster: cluster.to_owned(), source })?;
            match Api::<Namespace>::all(client).get_opt(name).await {
                Ok(ns) => Ok(ns.map(|n| n.metadata.labels.map(Into::into).unwrap_or_default())),
                Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
                Err(source) => Err(Error::List { cluster: cluster.to_owned(), source }),
            }
        }
    }
}

/// Live: one LIST as `who` when the cluster allows it cluster-wide, else one per allowed namespace.
async fn live<R: Kind>(cluster: &Cluster, access: &Access, who: &Impersonation) -> Result<Vec<Arc<R>>> {
    let name = cluster.name();
    let client =
        cluster.client_as(who).map_err(|source| Error::Impersonation { cluster: name.to_owned(), source })?;
    let list_error = |source| Error::List { cluster: name.to_owned(), source };
    let mut objects = Vec::new();
    if access.allowed(who, name, "list", R::RESOURCE, None).await? {
        objects = list_pages(&Api::<R::Object>::all(client)).await.map_err(list_error)?;
    } else {
        let namespaces = namespace_names(cluster, &client).await.map_err(list_error)?;
        let scope = access.scope(who, name, "list", R::RESOURCE, namespaces).await?;
        if let access::Scope::Namespaces(allowed) = scope {
            for ns in allowed {
                let api = Api::<R::Object>::namespaced(client.clone(), &ns);
                objects.extend(list_pages(&api).await.map_err(list_error)?);
            }
        }
    }
    let now = jiff::Timestamp::now();
    let mut rows: Vec<R> = objects.iter().map(R::from_object).filter(|r| r.retained(now)).collect();
    rows.sort_by(|a, b| (a.namespace(), a.name()).cmp(&(b.namespace(), b.name())));
    Ok(rows.into_iter().map(Arc::new).collect())
}

/// The cluster's namespaces: listed as Fleetpane (a read, not a watch) or, where Fleetpane may not, as the
/// person.
async fn namespace_names(cluster: &Cluster, as_who: &kube::Client) -> kube::Result<Vec<String>> {
    let names = |list: Vec<Namespace>| list.into_iter().filter_map(|n| n.metadata.name).collect();
    match list_pages(&Api::<Namespace>::all(cluster.client().clone())).await {
        Ok(list) => Ok(names(list)),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(names(list_pages(&Api::all(as_who.clone())).await?)),
        Err(e) => Err(e),
    }
}

/// Every object, page by page. A kind the cluster does not serve (404: an absent CRD, such as the Gateway
/// API's) has no objects.
async fn list_pages<K>(api: &Api<K>) -> kube::Result<Vec<K>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match list_all_pages(api).await {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
        other => other,
    }
}

async fn list_all_pages<K>(api: &Api<K>) -> kube::Result<Vec<K>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(PAGE_SIZE);
    loop {
        let page = api.list(&params).await?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{ClusterConfig, Credentials};

    #[test]
    fn reads_come_from_the_caches_only_in_cached_mode_with_caches() {
        assert_eq!(select(ClusterMode::Cached, true), Source::Cache);
        assert_eq!(select(ClusterMode::Cached, false), Source::Live);
        assert_eq!(select(ClusterMode::ImpersonationOnly, false), Source::Live);
        assert_eq!(select(ClusterMode::ImpersonationOnly, true), Source::Live);
    }

    fn mk_cluster(name: &str, mode: ClusterMode) -> ClusterConfig {
        let pki = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pki");
        ClusterConfig {
            name: name.into(),
            // A closed port: the watches fail, which is fine here.
            api_url: "https://127.0.0.1:9".parse().unwrap(),
            ca: crate::config::CaSource::File(pki.join("ca.crt")),
            cluster_domain: "cluster.local".into(),
            credentials: Credentials::ClientCert {
                cert_file: pki.join("client.crt"),
                key_file: pki.join("client.key"),
            },
            prometheus: None,
            impersonation: Default::default(),
            mode,
        }
    }

    #[tokio::test]
    async fn impersonation_only_clusters_get_no_shared_watches() {
        let fleet = Fleet::from_config(&[
            mk_cluster("cached", ClusterMode::Cached),
            mk_cluster("strict", ClusterMode::ImpersonationOnly),
        ])
        .unwrap();
        let caches = Caches::start(&fleet);
        assert!(caches.cluster("cached").is_some());
        assert!(caches.cluster("strict").is_none());
        assert_eq!(fleet.get("strict").unwrap().mode(), ClusterMode::ImpersonationOnly);
        let names: Vec<_> = caches.clusters().map(|(name, _)| name).collect();
        assert_eq!(names, ["cached"]);
    }
}
