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
    drift_page,
    fleet::{
        self, Fleet,
        probe::{PROBE_TIMEOUT, probe_all},
    },
    listing, observability, reach_page, service_page,
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
    /// A Prometheus client could not be built.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::Error),
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
    /// Each cluster's Prometheus client (cache, counter, detected preset).
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// Builds the state: one kube client per cluster, the providers (not discovered yet), the session
    /// store (created when missing). Must run inside a Tokio runtime.
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, StateError> {
        let fleet = Fleet::from_config(&config.clusters)?;
        let metrics = crate::metrics::Metrics::from_config(&config.clusters)?;
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
            metrics,
        })
    }

    /// The server-function backend, handed to Leptos as context.
    pub fn backend(&self) -> SharedBackend {
        Arc::new(ServerBackend {
            fleet: self.fleet.clone(),
            caches: self.caches.clone(),
            access: self.access.clone(),
            config: Arc::clone(&self.config),
            metrics: self.metrics.clone(),
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
    /// For per-cluster settings (the cluster DNS domain).
    config: Arc<Config>,
    /// Each cluster's Prometheus.
    metrics: crate::metrics::Metrics,
}

impl Backend for ServerBackend {
    fn service_metrics(
        &self,
        who: WhoAmI,
        cluster: String,
        namespace: String,
        name: String,
        range: String,
    ) -> BoxFuture<'_, Result<fleetpane_app::model::metrics::ServiceMetrics, AppError>> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            let now = jiff::Timestamp::now().as_second();
            crate::metrics::service_metrics(
                &self.fleet,
                &self.caches,
                &self.access,
                &self.metrics,
                &who,
                &cluster,
                &namespace,
                &name,
                &range,
                now,
            )
            .await
            .map_err(|e| match e {
                crate::metrics::panels::Error::BadRequest(m) => AppError::BadRequest(m),
                e @ crate::metrics::panels::Error::UnknownCluster(_) => AppError::NoSuch(e.to_string()),
            })
        })
    }

    fn fleet_rates(&self, who: WhoAmI) -> BoxFuture<'_, fleetpane_app::model::metrics::FleetRates> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            let now = jiff::Timestamp::now().as_second();
            crate::metrics::fleet_rates(&self.fleet, &self.caches, &self.access, &self.metrics, &who, now)
                .await
        })
    }

    fn triage(
        &self,
        who: WhoAmI,
        request: fleetpane_app::model::doctor::TriageRequest,
    ) -> BoxFuture<'_, fleetpane_app::model::doctor::TriagePage> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            crate::triage::triage(
                &self.fleet,
                &self.caches,
                &self.access,
                Some(&self.metrics),
                &who,
                &request,
                crate::triage::CLUSTER_TIMEOUT,
            )
            .await
        })
    }

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

    fn service_detail(
        &self,
        who: WhoAmI,
        cluster: String,
        namespace: String,
        name: String,
    ) -> BoxFuture<'_, Result<fleetpane_app::model::services::ServiceDetail, AppError>> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            let domain =
                self.config.clusters.iter().find(|c| c.name == cluster).map(|c| c.cluster_domain.clone());
            let target = service_page::Target {
                cluster: &cluster,
                cluster_domain: domain.as_deref().unwrap_or("cluster.local"),
                namespace: &namespace,
                name: &name,
            };
            service_page::service_page(
                &self.fleet,
                &self.caches,
                &self.access,
                Some(&self.metrics),
                &who,
                &target,
                service_page::CLUSTER_TIMEOUT,
            )
            .await
            .map_err(|e| {
                use service_page::Error as E;
                match &e {
                    E::UnknownCluster(_) | E::NotFound { .. } => AppError::NoSuch(e.to_string()),
                    E::Forbidden { .. } => AppError::Forbidden(e.to_string()),
                    E::Timeout { .. } => AppError::Unavailable(e.to_string()),
                    E::Read { source, .. } => {
                        tracing::warn!(error = %source, "service page: cluster not readable");
                        AppError::Unavailable(e.to_string())
                    }
                }
            })
        })
    }

    fn reach(
        &self,
        who: WhoAmI,
        request: fleetpane_app::model::reach::ReachRequest,
    ) -> BoxFuture<'_, Result<fleetpane_app::model::reach::ReachAnswer, AppError>> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            reach_page::answer(&self.fleet, &self.caches, &self.access, &who, &request).await.map_err(|e| {
                if e.is_bad_request() {
                    AppError::BadRequest(e.to_string())
                } else {
                    tracing::warn!(error = %e, "reach: cluster not readable");
                    AppError::Internal("a cluster could not be read; try again".into())
                }
            })
        })
    }

    fn drift_service(
        &self,
        who: WhoAmI,
        namespace: String,
        name: String,
    ) -> BoxFuture<'_, Result<fleetpane_app::model::drift::DriftPage, AppError>> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            drift_page::drift_page(
                &self.fleet,
                &self.caches,
                &self.access,
                &who,
                &namespace,
                &name,
                &self.config.drift.expected,
                drift_page::CLUSTER_TIMEOUT,
            )
            .await
            .map_err(|e| AppError::BadRequest(e.to_string()))
        })
    }

    fn drift_fleet(&self, who: WhoAmI) -> BoxFuture<'_, fleetpane_app::model::drift::DriftList> {
        Box::pin(async move {
            let who = fleet::Impersonation::new(who.email, who.groups.into_iter().map(|g| g.name));
            drift_page::drift_list(
                &self.fleet,
                &self.caches,
                &self.access,
                &who,
                &self.config.drift.expected,
                drift_page::CLUSTER_TIMEOUT,
            )
            .await
        })
    }
}
