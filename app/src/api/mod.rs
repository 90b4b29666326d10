//! Server functions: thin adapters from the browser to the server's domain code.
//!
//! Each one takes the signed-in user from the request context, calls one plain function of the server, and
//! returns wire types from [`crate::model`]. The server crate implements [`ssr::Backend`] and hands it (and
//! the request's [`ssr::CurrentUser`]) to Leptos as context, so this crate never depends on the server crate
//! (or on kube). Every call from the browser goes through [`client::CsrfClient`].

pub mod client;

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{
        FleetHealth, FleetStatus, WhoAmI,
        services::{ServiceListPage, ServiceListRequest},
    },
};

/// One page of the fleet Services list: only Services the signed-in person may list, searched, grouped
/// across clusters, sorted and paged on the server. A search that does not parse is a
/// [`AppError::BadRequest`] (HTTP 400) whose message says what is wrong.
#[server(endpoint = "list_services", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn list_services(
    /// The search, sort and page, as the URL carries them.
    req: ServiceListRequest,
) -> Result<ServiceListPage, AppError> {
    let user = ssr::current_user()?;
    let result = ssr::backend()?.list_services(user, req).await;
    if let (Err(e), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(e.status_code());
    }
    result
}

/// One Service in one cluster, as the signed-in person may see it: spec, DNS names, endpoints, backing pods
/// with probes, related objects and Events. Each path part must be a DNS label ([`AppError::BadRequest`], 400);
/// an unknown cluster or Service is [`AppError::NoSuch`] (404), a namespace whose Services the person may not
/// list [`AppError::Forbidden`] (403), a cluster that does not answer [`AppError::Unavailable`] (503).
#[server(endpoint = "service_detail", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn service_detail(
    /// The cluster's configured name.
    cluster: String,
    /// The namespace.
    namespace: String,
    /// The Service's name.
    name: String,
) -> Result<crate::model::services::ServiceDetail, AppError> {
    use crate::model::services::check_path_part;
    let user = ssr::current_user()?;
    let checked = check_path_part("cluster", &cluster)
        .and_then(|()| check_path_part("namespace", &namespace))
        .and_then(|()| check_path_part("name", &name))
        .map_err(AppError::BadRequest);
    let result = match checked {
        Ok(()) => ssr::backend()?.service_detail(user, cluster, namespace, name).await,
        Err(e) => Err(e),
    };
    if let (Err(e), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(e.status_code());
    }
    result
}

/// "Can A reach B": whether the source (a pod, or a namespace with labels) may open a connection to a Service
/// port under the NetworkPolicies, pod by pod, with the deciding policies and rules. An empty form is
/// `Ok(None)`; a malformed question, an unknown cluster, Service, port or pod is [`AppError::BadRequest`]
/// (400) with a message saying what is wrong.
#[server(endpoint = "reach", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn reach(
    /// The question, as the GET form carries it.
    req: crate::model::reach::ReachRequest,
) -> Result<Option<crate::model::reach::ReachAnswer>, AppError> {
    let user = ssr::current_user()?;
    if req.is_empty() {
        return Ok(None);
    }
    let result = ssr::backend()?.reach(user, req).await.map(Some);
    if let (Err(e), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(e.status_code());
    }
    result
}

/// One namespace/name side by side across the clusters that have it, as the signed-in person may see it.
/// A namespace or name that is not a valid name is [`AppError::BadRequest`] (400).
#[server(endpoint = "drift_service", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn drift_service(
    /// The namespace.
    namespace: String,
    /// The Service's name.
    name: String,
) -> Result<crate::model::drift::DriftPage, AppError> {
    let user = ssr::current_user()?;
    let result = ssr::backend()?.drift_service(user, namespace, name).await;
    if let (Err(e), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(e.status_code());
    }
    result
}

/// The fleet's Services whose copies differ between clusters.
#[server(endpoint = "drift_fleet", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn drift_fleet() -> Result<crate::model::drift::DriftList, AppError> {
    let user = ssr::current_user()?;
    Ok(ssr::backend()?.drift_fleet(user).await)
}

/// Traffic (rate, 5xx share, latency) and per-pod CPU and memory of one Service from its cluster's Prometheus,
/// over `range` (`15m`, `1h`, `6h`, `24h`; anything else is [`AppError::BadRequest`], 400, as is a name that is
/// no Kubernetes name). Only namespaces the person may read are queried; a panel without data says why.
#[server(endpoint = "service_metrics", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn service_metrics(
    /// The cluster's configured name.
    cluster: String,
    /// The namespace.
    namespace: String,
    /// The Service's name.
    name: String,
    /// The range.
    range: String,
) -> Result<crate::model::metrics::ServiceMetrics, AppError> {
    let user = ssr::current_user()?;
    let result = ssr::backend()?.service_metrics(user, cluster, namespace, name, range).await;
    if let (Err(e), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(e.status_code());
    }
    result
}

/// The current request rate and 5xx share of every Service the person may read, for the fleet list: one
/// Prometheus query per cluster.
#[server(endpoint = "fleet_rates", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn fleet_rates() -> Result<crate::model::metrics::FleetRates, AppError> {
    let user = ssr::current_user()?;
    Ok(ssr::backend()?.fleet_rates(user).await)
}

/// The on-call triage view: every Service the signed-in person may see, fleet-wide, that the doctor has
/// findings for, worst first; filtered by cluster, namespace and team on the server. A cluster that does not
/// answer in time is named in [`crate::model::doctor::TriagePage::unavailable`].
#[server(endpoint = "triage", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn triage(
    /// The filters, as the URL carries them.
    req: crate::model::doctor::TriageRequest,
) -> Result<crate::model::doctor::TriagePage, AppError> {
    let user = ssr::current_user()?;
    Ok(ssr::backend()?.triage(user, req).await)
}

/// Fleetpane's own health: every cluster's cache states and sizes, requests sent, decision-cache hits.
#[server(endpoint = "fleetpane_status", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn fleetpane_status() -> Result<FleetHealth, AppError> {
    let _user = ssr::current_user()?;
    Ok(ssr::backend()?.fleet_health())
}

/// Probes every configured cluster's apiserver and returns the results in configuration order.
#[server(endpoint = "probe_clusters", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn probe_clusters() -> Result<FleetStatus, AppError> {
    let _user = ssr::current_user()?;
    let backend = ssr::backend()?;
    Ok(backend.fleet_status().await)
}

/// Who is signed in: email, provider, groups with their sources, session end.
#[server(endpoint = "whoami", client = crate::api::client::CsrfClient, output = server_fn::codec::Postcard)]
pub async fn whoami() -> Result<WhoAmI, AppError> {
    ssr::current_user()
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! The server's side of the server functions: the interface the server implements.

    use std::{future::Future, pin::Pin, sync::Arc};

    use leptos::prelude::use_context;

    use crate::{
        error::AppError,
        model::{
            FleetHealth, FleetStatus, WhoAmI,
            services::{ServiceListPage, ServiceListRequest},
        },
    };

    /// A boxed, sendable future, so [`Backend`] stays object-safe.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// What the server functions need from the server. Implemented by the server crate.
    pub trait Backend: Send + Sync + 'static {
        /// Probes every cluster concurrently; never fails as a whole, a dead cluster is a result.
        fn fleet_status(&self) -> BoxFuture<'_, FleetStatus>;

        /// Fleetpane's own health, read from memory (no cluster is contacted).
        fn fleet_health(&self) -> FleetHealth;

        /// One page of the Services list as `who` may see it; each cluster answers within a short timeout or
        /// is named as unavailable. Fails only for a search that does not parse ([`AppError::BadRequest`]).
        fn list_services(
            &self,
            who: WhoAmI,
            request: ServiceListRequest,
        ) -> BoxFuture<'_, Result<ServiceListPage, AppError>>;

        /// One Service as `who` may see it (path parts already checked). Forbidden sections are `None` in the
        /// answer; only the Service itself being unreadable, absent or unreachable is an error.
        fn service_detail(
            &self,
            who: WhoAmI,
            cluster: String,
            namespace: String,
            name: String,
        ) -> BoxFuture<'_, Result<crate::model::services::ServiceDetail, AppError>>;

        /// The triage view as `who` may see it; never fails as a whole (a dead cluster is named).
        fn triage(
            &self,
            who: WhoAmI,
            request: crate::model::doctor::TriageRequest,
        ) -> BoxFuture<'_, crate::model::doctor::TriagePage>;

        /// Answers "can A reach B" as `who` (the form is not empty).
        fn reach(
            &self,
            who: WhoAmI,
            request: crate::model::reach::ReachRequest,
        ) -> BoxFuture<'_, Result<crate::model::reach::ReachAnswer, AppError>>;

        /// One namespace/name across the clusters, as `who` may see it.
        fn drift_service(
            &self,
            who: WhoAmI,
            namespace: String,
            name: String,
        ) -> BoxFuture<'_, Result<crate::model::drift::DriftPage, AppError>>;

        /// The fleet's Services whose copies differ, as `who` may see them.
        fn drift_fleet(&self, who: WhoAmI) -> BoxFuture<'_, crate::model::drift::DriftList>;

        /// Traffic and resource metrics of one Service as `who` may see them. Only a bad range or name
        /// ([`AppError::BadRequest`]) or an unknown cluster is an error; every other problem is a panel's doctor.
        fn service_metrics(
            &self,
            who: WhoAmI,
            cluster: String,
            namespace: String,
            name: String,
            range: String,
        ) -> BoxFuture<'_, Result<crate::model::metrics::ServiceMetrics, AppError>>;

        /// The fleet list's rate column as `who` may see it: one Prometheus query per cluster.
        fn fleet_rates(&self, who: WhoAmI) -> BoxFuture<'_, crate::model::metrics::FleetRates>;
    }

    /// The backend as it is stored in the Leptos context.
    pub type SharedBackend = Arc<dyn Backend>;

    /// The signed-in user of the current request, provided by the server's auth middleware. Absent: no
    /// session (the middleware answers 401 / redirects before Leptos runs, so this is defense in depth).
    #[derive(Clone, Debug)]
    pub struct CurrentUser(pub WhoAmI);

    /// The backend from the current request's context.
    pub fn backend() -> Result<SharedBackend, AppError> {
        use_context::<SharedBackend>().ok_or_else(|| AppError::Internal("server state is missing".into()))
    }

    /// The signed-in user from the current request's context.
    pub fn current_user() -> Result<WhoAmI, AppError> {
        use_context::<CurrentUser>().map(|u| u.0).ok_or(AppError::Unauthorized)
    }
}
