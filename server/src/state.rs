//! The one application state, shared by handlers, server-side rendering and server functions.

use std::sync::Arc;

use axum::extract::FromRef;
use fleetpane_app::{
    api::ssr::{Backend, BoxFuture, SharedBackend},
    model::FleetStatus,
};
use leptos::config::LeptosOptions;

use crate::{
    config::Config,
    fleet::{
        self, Fleet,
        probe::{PROBE_TIMEOUT, probe_all},
    },
};

/// Everything a request may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Leptos's settings (site root, output name, ...).
    pub leptos_options: LeptosOptions,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// One shared client per cluster.
    pub fleet: Fleet,
}

impl AppState {
    /// Builds the state: one kube client per cluster. Must run inside a Tokio runtime.
    pub fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, fleet::Error> {
        let fleet = Fleet::from_config(&config.clusters)?;
        Ok(Self { leptos_options, config: Arc::new(config), fleet })
    }

    /// The server-function backend, handed to Leptos as context.
    pub fn backend(&self) -> SharedBackend {
        Arc::new(self.fleet.clone())
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl Backend for Fleet {
    fn fleet_status(&self) -> BoxFuture<'_, FleetStatus> {
        Box::pin(probe_all(self, PROBE_TIMEOUT))
    }
}
