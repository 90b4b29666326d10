//! Fleetpane's web server: configuration, fleet clients, and the HTTP routes around the Leptos app.
//!
//! ```text
//! main.rs ── Config::load ── AppState::new (Fleet: one kube::Client per cluster) ── serve(router(state))
//!
//! router(state):  /healthz                  plain "ok" for scripts
//!                 /api/*                    Leptos server functions (context: api::ssr::Backend)
//!                 / (and every app route)   server-side rendered Leptos pages
//!                 anything else             static files from the site root, else the app's 404 page
//!                 every response            security headers; a panic becomes a plain 500 page
//! ```

pub mod config;
pub mod fleet;
pub mod secret;
pub mod state;

use std::{any::Any, net::SocketAddr};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use fleetpane_app::{App, shell};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tower_http::{catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer};

pub use crate::{config::Config, state::AppState};

/// Why the server stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Leptos's settings (from the environment cargo-leptos sets) are invalid.
    #[error("leptos configuration: {0}")]
    Leptos(String),
    /// A cluster client could not be built.
    #[error(transparent)]
    Fleet(#[from] fleet::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured `server.listen`.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("server error")]
    Serve(#[source] std::io::Error),
}

/// Every route of Fleetpane, with its middleware. Tests call it with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let backend = state.backend();
    let context = move || provide_context(backend.clone());
    let options = state.leptos_options.clone();

    Router::new()
        .route("/healthz", get(healthz))
        .leptos_routes_with_context(&state, routes, context.clone(), move || shell(options.clone()))
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            // Script and style sources get a per-request nonce later (issue 3); these hold already.
            HeaderValue::from_static(
                "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Loads Leptos's settings, builds the state, binds `server.listen`, and serves until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let mut leptos_options = leptos::config::get_configuration(None)
        .map_err(|e| ServeError::Leptos(e.to_string()))?
        .leptos_options;
    let addr = config.server.listen;
    leptos_options.site_addr = addr;

    let state = AppState::new(config, leptos_options)?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!(%addr, clusters = state.fleet.clusters().len(), "listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(ServeError::Serve)
}

async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], "ok\n")
}

/// A panic in a handler: a plain page and a log line, never the panic message or a trace.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "handler panicked");
    let body = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error · Fleetpane</title>\
                </head><body><h1>500 Internal Server Error</h1><p>Something went wrong on the server. \
                The server log has the details.</p><p><a href=\"/\">Back to the overview</a></p></body></html>";
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use http::Request;
    use leptos::config::LeptosOptions;
    use tower::ServiceExt;

    use super::*;

    const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pki");

    /// A state with one cluster whose apiserver port has nothing listening, and a site root holding a
    /// favicon.
    fn mk_state(site_root: &std::path::Path) -> AppState {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:3000"
[[clusters]]
name = "dead"
api_url = "http://127.0.0.1:{port}"
ca_file = "{PKI}/ca.crt"
[clusters.credentials]
client_cert_file = "{PKI}/client.crt"
client_key_file = "{PKI}/client.key"
"#
        );
        let config = Config::parse(&toml, std::path::Path::new("/")).unwrap();
        let options = LeptosOptions::builder()
            .output_name("fleetpane")
            .site_root(site_root.display().to_string())
            .build();
        AppState::new(config, options).unwrap()
    }

    async fn get(path: &str) -> (StatusCode, http::HeaderMap, String) {
        let site = tempfile::tempdir().unwrap();
        std::fs::write(site.path().join("favicon.ico"), b"icon").unwrap();
        let response = router(mk_state(site.path()))
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap();
        (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn assert_security_headers(headers: &http::HeaderMap) {
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'")
        );
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    }

    #[tokio::test]
    async fn healthz_answers_ok() {
        let (status, headers, body) = get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "ok\n");
        assert_security_headers(&headers);
    }

    #[tokio::test]
    async fn home_page_is_server_rendered_with_the_probe_results() {
        let (status, headers, body) = get("/").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_security_headers(&headers);
        assert!(body.contains("<h1>Clusters</h1>"), "{body}");
        assert!(body.contains(r#"data-cluster="dead""#), "{body}");
        assert!(body.contains(r#"data-state="unreachable""#), "{body}");
        assert!(body.contains("connection refused"), "{body}");
        assert!(body.contains("No cluster reachable (1 of 1 down)"), "{body}");
        assert!(body.contains("/pkg/fleetpane.js"), "hydration script missing: {body}");
    }

    #[tokio::test]
    async fn unknown_routes_get_the_404_page() {
        let (status, headers, body) = get("/no/such/page").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_security_headers(&headers);
        assert!(body.contains("Page not found"), "{body}");
        assert!(body.contains("<!DOCTYPE html>"), "{body}");
    }

    #[tokio::test]
    async fn static_files_come_from_the_site_root() {
        let (status, headers, body) = get("/favicon.ico").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "icon");
        assert_security_headers(&headers);
    }

    #[tokio::test]
    async fn server_function_returns_the_fleet_status() {
        let site = tempfile::tempdir().unwrap();
        let request = Request::post("/api/probe_clusters")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .unwrap();
        let response = router(mk_state(site.path())).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let fleet: fleetpane_app::model::FleetStatus = serde_json::from_slice(&body).unwrap();
        assert_eq!(fleet.clusters.len(), 1);
        assert_eq!(fleet.clusters[0].name, "dead");
        assert!(!fleet.clusters[0].probe.is_reachable());
    }

    #[test]
    fn a_panic_becomes_a_plain_500_page() {
        let response = panic_response(Box::new("secret internals".to_owned()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = futures::executor::block_on(to_bytes(response.into_body(), 1 << 16)).unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("500 Internal Server Error"));
        assert!(!body.contains("secret internals"));
    }
}
