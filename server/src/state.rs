//! The one application state, shared by handlers, server-side rendering and server functions.

use std::sync::Arc;

use axum::extract::FromRef;
use fleetpane_app::{
    api::ssr::{Backend, BoxFuture, SharedBackend},
    error::AppError,
    model::{
        FleetHealth, FleetStatus, WhoAmI,
        services::{ServiceListPage, ServiceListRequest},
    },
};
use leptos::config::LeptosOptions;

use crate::{
    access::{self, Access},
    auth::{headers::HeaderPolicy, oidc, session},
    config::Config,
    fleet::{
        self, Fleet,
        probe::{PROBE_TIMEOUT, probe_all},
    },
    listing, observability,
    watch::Caches,
};

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A cluster client could not be built.
    #[error(transparent)]
    Fleet(#[from] fleet::Error),
    /// The session store could not be opened.
    #[error(transparent)]
    Sessions(#[from] session::StoreError),
    /// Sign-in could not be set up.
    #[error(transparent)]
    Auth(#[from] oidc::SetupError),
}

/// Everything a request may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Leptos's settings (site root, output name, ...).
    pub leptos_options: LeptosOptions,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// One shared client per cluster.
    pub fleet: Fleet,
    /// One shared watch cache per (cluster, kind), for every user.
    pub caches: Caches,
    /// Access decisions, asked of each cluster.
    pub access: Access,
    /// Sign-in: providers, the HTTP client towards them.
    pub auth: Arc<oidc::Auth>,
    /// The session store.
    pub sessions: session::Store,
    /// The fixed parts of the security headers.
    pub headers: Arc<HeaderPolicy>,
}

impl AppState {
    /// Builds the state: one kube client per cluster, the providers (not discovered yet), the session
    /// store (created when missing). Must run inside a Tokio runtime.
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, StateError> {
        let fleet = Fleet::from_config(&config.clusters)?;
        let caches = Caches::start(&fleet);
        let access = Access::start(&fleet, access::DECISION_TTL);
        let auth = oidc::Auth::new(&config)?;
        let sessions = session::Store::open(&config.session.store).await?;
        // `cargo leptos watch` serves its reload websocket next to the site.
        let reload = std::env::var_os("LEPTOS_WATCH")
            .map(|_| format!("ws://{}:{}", leptos_options.site_addr.ip(), leptos_options.reload_port));
        let headers = HeaderPolicy::new(&auth.issuer_origins(), reload);
        Ok(Self {
            leptos_options,
            config: Arc::new(config),
            fleet,
            caches,
            access,
            auth: Arc::new(auth),
            sessions,
            headers: Arc::new(headers),
        })
    }

    /// The server-function backend, handed to Leptos as context.
    pub fn backend(&self) -> SharedBackend {
        Arc::new(ServerBackend {
            fleet: self.fleet.clone(),
            caches: self.caches.clone(),
            access: self.access.clone(),
        })
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// What the server functions reach: the fleet, its caches, the access decisions.
struct ServerBackend {
    fleet: Fleet,
    caches: Caches,
    access: Access,
}

impl Backend for ServerBackend {
    fn fleet_status(&self) -> BoxFuture<'_, FleetStatus> {
        Box::pin(probe_all(&self.fleet, PROBE_TIMEOUT))
    }

    fn fleet_health(&self) -> FleetHealth {
        observability::to_wire(&observability::snapshot(&self.fleet, &self.caches, &self.access))
    }

    fn list_services(
        &self,
        who: WhoAmI,
        request: ServiceListRequest,
    ) -> BoxFuture<'_, Result<ServiceListPage, AppError>> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            listing::list_services(
                &self.fleet,
                &self.caches,
                &self.access,
                &who,
                &request,
                listing::CLUSTER_TIMEOUT,
            )
            .await
            .map_err(|e| AppError::BadRequest(e.to_string()))
        })
    }
}
