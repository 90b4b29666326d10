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
#[server(endpoint = "list_services", client = crate::api::client::CsrfClient)]
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

/// Fleetpane's own health: every cluster's cache states and sizes, requests sent, decision-cache hits.
#[server(endpoint = "fleetpane_status", client = crate::api::client::CsrfClient)]
pub async fn fleetpane_status() -> Result<FleetHealth, AppError> {
    let _user = ssr::current_user()?;
    Ok(ssr::backend()?.fleet_health())
}

/// Probes every configured cluster's apiserver and returns the results in configuration order.
#[server(endpoint = "probe_clusters", client = crate::api::client::CsrfClient)]
pub async fn probe_clusters() -> Result<FleetStatus, AppError> {
    let _user = ssr::current_user()?;
    let backend = ssr::backend()?;
    Ok(backend.fleet_status().await)
}

/// Who is signed in: email, provider, groups with their sources, session end.
#[server(endpoint = "whoami", client = crate::api::client::CsrfClient)]
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
