//! Server functions: thin adapters from the browser to the server's domain code.
//!
//! Each one fetches what it needs from the request context, calls one plain function of the server, and
//! returns wire types from [`crate::model`]. The server crate implements [`ssr::Backend`] and hands it to
//! Leptos as context, so this crate never depends on the server crate (or on kube).

use leptos::prelude::*;

use crate::{error::AppError, model::FleetStatus};

/// Probes every configured cluster's apiserver and returns the results in configuration order.
#[server(endpoint = "probe_clusters")]
pub async fn probe_clusters() -> Result<FleetStatus, AppError> {
    let backend = ssr::backend()?;
    Ok(backend.fleet_status().await)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! The server's side of the server functions: the interface the server implements.

    use std::{future::Future, pin::Pin, sync::Arc};

    use leptos::prelude::use_context;

    use crate::{error::AppError, model::FleetStatus};

    /// A boxed, sendable future, so [`Backend`] stays object-safe.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// What the server functions need from the server. Implemented by the server crate.
    pub trait Backend: Send + Sync + 'static {
        /// Probes every cluster concurrently; never fails as a whole, a dead cluster is a result.
        fn fleet_status(&self) -> BoxFuture<'_, FleetStatus>;
    }

    /// The backend as it is stored in the Leptos context.
    pub type SharedBackend = Arc<dyn Backend>;

    /// The backend from the current request's context.
    pub fn backend() -> Result<SharedBackend, AppError> {
        use_context::<SharedBackend>().ok_or_else(|| AppError::Internal("server state is missing".into()))
    }
}
