//! Fleetpane's web server: configuration, fleet clients, and the HTTP routes around the Leptos app.
//!
//! ```text
//! main.rs ── Config::load ── AppState::new (Fleet: one kube::Client per cluster) ── serve(router(state))
//!
//! router(state):  /healthz                  plain "ok" for scripts
//!                 /metrics                  Prometheus text (observability); a session or the metrics token
//!                 /auth/*                   sign-in flow (auth::routes), public
//!                 /api/live                 live updates (SSE change ticks); 401 without a session
//!                 /api/*                    Leptos server functions (context: Backend, CurrentUser); 401
//!                                           without a session, origin + CSRF checked on POST
//!                 / (and every app route)   server-side rendered Leptos pages; 303 to sign-in without one
//!                 anything else             static files from the site root, else the app's 404 page
//!                 every response            security headers with a CSP nonce; a panic becomes a 500 page
//! ```

pub mod access;
pub mod auth;
pub mod config;
/// The service doctor: pure rules turning a Service and its related objects into findings.
pub mod diagnose;
/// Pure mappings from cached rows to the app's wire types: the Services list and the Service page.
pub mod drift_page;
pub mod fleet;
pub mod listing;
pub mod live;
pub mod metrics;
pub mod observability;
pub mod reach;
pub mod reach_page;
pub mod read;
pub mod secret;
pub mod service_page;
pub mod state;
pub mod triage;
pub mod views;
pub mod watch;

use std::{any::Any, net::SocketAddr};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use fleetpane_app::{App, api::ssr::CurrentUser, error::AppError, shell};
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tower_http::{
    CompressionLevel, catch_panic::CatchPanicLayer, compression::CompressionLayer, services::ServeDir,
    trace::TraceLayer,
};

use crate::auth::{
    headers::{CspNonce, security_headers},
    identity::Identity,
    session::{self, RequestCsrf},
};
pub use crate::{config::Config, state::AppState};

/// Why the server stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Leptos's settings (from the environment cargo-leptos sets) are invalid.
    #[error("leptos configuration: {0}")]
    Leptos(String),
    /// The state (cluster clients, session store, providers) could not be built.
    #[error(transparent)]
    State(#[from] state::StateError),
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
    let context = move || {
        provide_context(backend.clone());
        request_context();
    };
    let options = state.leptos_options.clone();

    Router::new()
        .route("/healthz", get(healthz))
        .route(observability::METRICS_PATH, get(metrics))
        .route(fleetpane_app::live::PATH, get(live::handler))
        .merge(auth::routes::routes())
        .nest_service(&format!("/{}", options.site_pkg_dir), static_assets(&options))
        .leptos_routes_with_context(&state, routes, context.clone(), move || shell(options.clone()))
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(axum::middleware::from_fn_with_state(state.clone(), session::require_session))
        .layer(session::layer(state.sessions.clone(), &state.config.session))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(state.headers.clone(), security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A server function that failed answers with the status its [`AppError`] names (400 for arguments that do not
/// parse, 403, 404, 503, ...): the server-function plumbing alone would say 500 for all of them.
async fn server_fn_status(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, SERVER_FN_ERROR_LIMIT).await {
        Ok(bytes) => {
            if let Ok(error) = fleetpane_app::wire::decode::<AppError>(&bytes) {
                parts.status = error.status_code();
            }
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(_) => Response::from_parts(parts, Body::from("server function error too large to read")),
    }
}

/// The largest server-function error body read back (errors are one message).
const SERVER_FN_ERROR_LIMIT: usize = 64 * 1024;

/// The site's `pkg/` (WASM, JS, CSS), compressed: a release build's precompressed `.br` / `.gz` next to a file
/// is sent as is (`brotli -q 11` is what `./dev bench --wasm` measures), anything else is compressed on the fly
/// at the fastest level (the dev WASM). Only these public files: pages and server-function answers carry the
/// session's CSRF token next to reflected input, so they are never compressed (BREACH).
fn static_assets(options: &leptos::config::LeptosOptions) -> Router {
    let dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    Router::new()
        .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
}

/// Hands the request's CSP nonce and signed-in user (put into the request by the middleware) to Leptos:
/// the hydration scripts carry that nonce, server functions and the shell see the user.
fn request_context() {
    let Some(parts) = use_context::<http::request::Parts>() else { return };
    if let Some(CspNonce(nonce)) = parts.extensions.get::<CspNonce>() {
        provide_context(leptos::nonce::Nonce::from_value(nonce.as_str()));
    }
    if let (Some(identity), Some(RequestCsrf(csrf))) =
        (parts.extensions.get::<Identity>(), parts.extensions.get::<RequestCsrf>())
    {
        provide_context(CurrentUser(identity.to_wire(csrf)));
    }
}

/// Loads Leptos's settings, builds the state, binds `server.listen`, and serves until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let mut leptos_options = leptos::config::get_configuration(None)
        .map_err(|e| ServeError::Leptos(e.to_string()))?
        .leptos_options;
    let addr = config.server.listen;
    leptos_options.site_addr = addr;

    let state = AppState::new(config, leptos_options).await?;
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

/// Fleetpane's own metrics; the session middleware has checked the session or the bearer token.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let mut snapshot = observability::snapshot(&state.fleet, &state.caches, &state.access);
    snapshot.prometheus_queries = state.metrics.queries_sent();
    (
        [(header::CONTENT_TYPE, observability::CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")],
        observability::render(&snapshot, jiff::Timestamp::now()),
    )
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
    use crate::auth::session::testing;

    const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pki");

    /// A port with nothing listening.
    fn dead_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port()
    }

    /// A state with one cluster whose apiserver port has nothing listening, one provider at `issuer`,
    /// sessions in memory, and a site root holding a favicon.
    async fn mk_state_with(site_root: &std::path::Path, issuer: &str) -> AppState {
        mk_state_custom(site_root, issuer, "store = \"memory\"").await
    }

    /// Like [`mk_state_with`], with `session` as the `[session]` table's lines besides `cookie_secure`.
    async fn mk_state_custom(site_root: &std::path::Path, issuer: &str, session: &str) -> AppState {
        let port = dead_port();
        std::fs::write(site_root.join("client-secret"), "s3cret\n").unwrap();
        std::fs::write(site_root.join("favicon.ico"), b"icon").unwrap();
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:3000"
[session]
{session}
cookie_secure = false
[[providers]]
name = "local"
display_name = "Local IdP"
issuer = "{issuer}"
client_id = "fleetpane"
client_secret_file = "client-secret"
[[clusters]]
name = "dead"
api_url = "http://127.0.0.1:{port}"
ca_file = "{PKI}/ca.crt"
[clusters.credentials]
client_cert_file = "{PKI}/client.crt"
client_key_file = "{PKI}/client.key"
"#
        );
        let config = Config::parse(&toml, site_root).unwrap();
        let options = LeptosOptions::builder()
            .output_name("fleetpane")
            .site_root(site_root.display().to_string())
            .build();
        AppState::new(config, options).await.unwrap()
    }

    async fn mk_state(site_root: &std::path::Path) -> AppState {
        mk_state_with(site_root, &format!("http://127.0.0.1:{}", dead_port())).await
    }

    struct Answer {
        status: StatusCode,
        headers: http::HeaderMap,
        body: String,
        bytes: axum::body::Bytes,
    }

    impl Answer {
        /// The body as a server function's answer (postcard), as the browser reads it.
        fn wire<T: serde::de::DeserializeOwned>(&self) -> T {
            fleetpane_app::wire::decode(&self.bytes).unwrap()
        }
    }

    async fn send(state: &AppState, request: Request<Body>) -> Answer {
        let response = router(state.clone()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            bytes: body,
        }
    }

    fn get_as(path: &str, cookie: Option<&str>) -> Request<Body> {
        let mut r = Request::get(path);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        r.body(Body::empty()).unwrap()
    }

    fn probe_request(cookie: &str, csrf: Option<&str>, origin: Option<&str>) -> Request<Body> {
        let mut r = Request::post("/api/probe_clusters")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, cookie);
        if let Some(t) = csrf {
            r = r.header("x-csrf-token", t);
        }
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        r.body(Body::empty()).unwrap()
    }

    fn assert_security_headers(headers: &http::HeaderMap) {
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    }

    /// The nonce in the CSP header.
    fn csp_nonce(headers: &http::HeaderMap) -> String {
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        let start = csp.find("'nonce-").expect("CSP has a nonce") + "'nonce-".len();
        csp[start..].split('\'').next().unwrap().to_owned()
    }

    #[tokio::test]
    async fn healthz_answers_ok_without_a_session() {
        let site = tempfile::tempdir().unwrap();
        let a = send(&mk_state(site.path()).await, get_as("/healthz", None)).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body, "ok\n");
        assert_security_headers(&a.headers);
    }

    #[tokio::test]
    async fn pages_without_a_session_go_to_sign_in_and_come_back() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let a = send(&state, get_as("/", None)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.headers[header::LOCATION], "/auth/signin");
        assert_security_headers(&a.headers);
        let a = send(&state, get_as("/whoami?tab=groups", None)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.headers[header::LOCATION], "/auth/signin?return_to=%2Fwhoami%3Ftab%3Dgroups");
        // Unknown pages too: nothing is revealed before sign-in.
        let a = send(&state, get_as("/no/such/page", None)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        // A cookie of no session is no session (and is removed).
        let a = send(&state, get_as("/", Some("fleetpane-session=AAAAAAAAAAAAAAAAAAAAAA"))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
    }

    #[tokio::test]
    async fn live_updates_need_a_session_and_a_valid_query_and_are_counted() {
        use http_body_util::BodyExt as _;
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let a = send(&state, get_as("/api/live", None)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let (cookie, _) = testing::sign_in(&state, testing::identity("bob@example.com", &["team-a"])).await;
        for (query, message) in [
            ("cluster=Dead!", "cluster: \"Dead!\" is not a valid cluster name\n"),
            ("cluster=elsewhere", "cluster: no cluster is named \"elsewhere\"\n"),
            ("namespace=team-a&kinds=Secret", "kinds: unknown kind \"Secret\"\n"),
        ] {
            let a = send(&state, get_as(&format!("/api/live?{query}"), Some(&cookie))).await;
            assert_eq!((a.status, a.body.as_str()), (StatusCode::BAD_REQUEST, message), "{query}");
        }
        assert_eq!(state.caches.subscribers(), 0);
        let response = router(state.clone())
            .oneshot(get_as("/api/live?cluster=dead&namespace=team-a&kinds=Service", Some(&cookie)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
        assert_eq!(state.caches.subscribers(), 1, "one open stream, one subscriber");
        let metrics = send(&state, get_as(observability::METRICS_PATH, Some(&cookie))).await;
        assert!(metrics.body.contains("\nfleetpane_live_subscribers 1\n"), "{}", metrics.body);
        // The first event is the cluster's sync state (nothing listens at its port: not live).
        let mut body = response.into_body();
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("an event at once")
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(frame.data_ref().unwrap()).into_owned();
        assert!(text.starts_with("event: state\ndata: dead "), "{text}");
        drop(body);
        assert_eq!(state.caches.subscribers(), 0, "a closed stream is no subscriber");
    }

    #[tokio::test]
    async fn server_functions_without_a_session_answer_401() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        for path in ["/api/probe_clusters", "/api/whoami"] {
            let request = Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::empty())
                .unwrap();
            let a = send(&state, request).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
            assert!(a.headers.get(header::SET_COOKIE).is_none(), "{path}");
        }
    }

    #[tokio::test]
    async fn sign_in_page_lists_the_providers_and_keeps_return_to() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let a = send(&state, get_as("/auth/signin?return_to=%2Fwhoami", None)).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body.contains(r#"href="/auth/login/local?return_to=%2Fwhoami""#), "{}", a.body);
        assert!(a.body.contains("Sign in with Local IdP"), "{}", a.body);
        assert!(!a.body.contains("<script"), "{}", a.body);
        let a = send(&state, get_as("/auth/signin?return_to=https%3A%2F%2Fevil.example", None)).await;
        assert!(a.body.contains(r#"href="/auth/login/local""#), "{}", a.body);
        assert!(!a.body.contains("evil"), "{}", a.body);
    }

    #[tokio::test]
    async fn home_page_is_server_rendered_for_a_signed_in_user_with_a_csp_nonce() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;
        let a = send(&state, get_as("/", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_security_headers(&a.headers);
        let body = &a.body;
        assert!(body.contains("<h1>Clusters</h1>"), "{body}");
        assert!(body.contains(r#"data-cluster="dead""#), "{body}");
        assert!(body.contains(r#"data-state="unreachable""#), "{body}");
        assert!(body.contains("No cluster reachable (1 of 1 down)"), "{body}");
        assert!(body.contains("/pkg/fleetpane.js"), "hydration script missing: {body}");
        // The header knows who is signed in.
        assert!(body.contains("alice@example.com"), "{body}");
        assert!(body.contains(&format!(r#"<meta name="csrf-token" content="{csrf}""#)), "{body}");
        assert!(body.contains(r#"action="/auth/logout""#), "{body}");
        // Every script carries the nonce of the CSP header.
        let nonce = csp_nonce(&a.headers);
        assert!(nonce.len() >= 16, "{nonce}");
        let scripts: Vec<&str> = body.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "{body}");
        for script in scripts {
            let tag = script.split('>').next().unwrap();
            assert!(
                tag.contains(&format!(r#"nonce="{nonce}""#)),
                "script without the CSP nonce: <script{tag}>"
            );
        }
        // A new request, a new nonce.
        let b = send(&state, get_as("/", Some(&cookie))).await;
        assert_ne!(csp_nonce(&b.headers), nonce);
    }

    #[tokio::test]
    async fn whoami_page_shows_email_groups_and_sources() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, _) =
            testing::sign_in(&state, testing::identity("alice@example.com", &["sre", "dev"])).await;
        let a = send(&state, get_as("/whoami", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(a.body.contains(r#"<dd id="whoami-email">alice@example.com"#), "{}", a.body);
        assert!(a.body.contains(r#"data-group="sre""#), "{}", a.body);
        assert!(a.body.contains("ID token claim"), "{}", a.body);
    }

    #[tokio::test]
    async fn unknown_routes_get_the_404_page() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, _) = testing::sign_in(&state, testing::identity("alice@example.com", &[])).await;
        let a = send(&state, get_as("/no/such/page", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_security_headers(&a.headers);
        assert!(a.body.contains("Page not found"), "{}", a.body);
        assert!(a.body.contains("<!DOCTYPE html>"), "{}", a.body);
    }

    #[tokio::test]
    async fn static_files_come_from_the_site_root_without_a_session() {
        let site = tempfile::tempdir().unwrap();
        let a = send(&mk_state(site.path()).await, get_as("/favicon.ico", None)).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body, "icon");
        assert_security_headers(&a.headers);
    }

    #[tokio::test]
    async fn site_files_are_sent_compressed_precompressed_first() {
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        let script = "export function hydrate() { return 'fleetpane'; }\n".repeat(200);
        std::fs::write(pkg.join("fleetpane.js"), &script).unwrap();
        std::fs::write(pkg.join("fleetpane.wasm"), b"\0asm raw").unwrap();
        std::fs::write(pkg.join("fleetpane.wasm.br"), b"brotli bytes").unwrap();
        let state = mk_state(site.path()).await;
        let get = |path: &str, encoding: Option<&str>| {
            let mut r = Request::get(path);
            if let Some(e) = encoding {
                r = r.header(header::ACCEPT_ENCODING, e);
            }
            r.body(Body::empty()).unwrap()
        };

        let a = send(&state, get("/pkg/fleetpane.wasm", Some("gzip, br"))).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers[header::CONTENT_ENCODING], "br");
        assert_eq!(a.headers[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(&a.bytes[..], b"brotli bytes", "the precompressed file, not a recompression");
        assert_security_headers(&a.headers);

        let a = send(&state, get("/pkg/fleetpane.wasm", None)).await;
        assert!(a.headers.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(&a.bytes[..], b"\0asm raw");

        let a = send(&state, get("/pkg/fleetpane.js", Some("gzip"))).await;
        assert_eq!(a.headers[header::CONTENT_ENCODING], "gzip", "no .gz on disk: compressed on the fly");
        assert!(a.bytes.len() < script.len() / 10, "{} bytes", a.bytes.len());

        let a = send(&state, get("/pkg/missing.wasm", Some("br"))).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn server_function_arguments_that_do_not_parse_are_a_400_that_says_why() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;
        let call = |body: &'static str| {
            Request::post("/api/triage")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &cookie)
                .header("x-csrf-token", &csrf)
                .header("sec-fetch-site", "same-origin")
                .body(Body::from(body))
                .unwrap()
        };
        let a = send(&state, call("")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        let e: AppError = a.wire();
        assert!(matches!(&e, AppError::BadRequest(m) if m.contains("missing field `req`")), "{e:?}");
        let a = send(&state, call("req[limit]=many")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    }

    #[tokio::test]
    async fn pages_and_server_functions_are_never_compressed() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;
        let mut page = get_as("/whoami", Some(&cookie));
        page.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
        let a = send(&state, page).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.headers.get(header::CONTENT_ENCODING).is_none());
        assert!(a.body.contains(&csrf));
        let mut call = probe_request(&cookie, Some(&csrf), Some("http://127.0.0.1:3000"));
        call.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
        let a = send(&state, call).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.headers.get(header::CONTENT_ENCODING).is_none());
    }

    #[tokio::test]
    async fn server_function_needs_the_csrf_token_and_our_origin() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;

        let a = send(&state, probe_request(&cookie, None, Some("http://127.0.0.1:3000"))).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "no token");
        let a = send(&state, probe_request(&cookie, Some("wrong"), None)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "wrong token");
        let a = send(&state, probe_request(&cookie, Some(&csrf), Some("http://evil.example"))).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "cross-origin");

        let a = send(&state, probe_request(&cookie, Some(&csrf), Some("http://127.0.0.1:3000"))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let fleet: fleetpane_app::model::FleetStatus = a.wire();
        assert_eq!(fleet.clusters.len(), 1);
        assert_eq!(fleet.clusters[0].name, "dead");
        assert!(!fleet.clusters[0].probe.is_reachable());
    }

    #[tokio::test]
    async fn whoami_server_function_returns_the_identity() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;
        let request = Request::post("/api/whoami")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap();
        let a = send(&state, request).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let me: fleetpane_app::model::WhoAmI = a.wire();
        assert_eq!(me.email, "alice@example.com");
        assert_eq!(me.groups[0].name, "sre");
        assert_eq!(me.csrf_token, csrf);
    }

    fn metrics_request(cookie: Option<&str>, bearer: Option<&str>) -> Request<Body> {
        let mut r = Request::get("/metrics");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        if let Some(b) = bearer {
            r = r.header(header::AUTHORIZATION, format!("Bearer {b}"));
        }
        r.body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn metrics_need_a_session_or_the_configured_token() {
        let site = tempfile::tempdir().unwrap();
        let mut state = mk_state(site.path()).await;
        // No token configured: a bearer token means nothing.
        let a = send(&state, metrics_request(None, Some("anything"))).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "a scraper gets a 401, not a sign-in redirect");

        let mut config = (*state.config).clone();
        config.server.metrics_token = Some(crate::secret::Secret::new("m3trics".to_owned()));
        state.config = std::sync::Arc::new(config);
        assert_eq!(send(&state, metrics_request(None, None)).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(send(&state, metrics_request(None, Some("wrong"))).await.status, StatusCode::UNAUTHORIZED);

        let a = send(&state, metrics_request(None, Some("m3trics"))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.headers[header::CONTENT_TYPE], observability::CONTENT_TYPE);
        let samples = observability::tests::parse(&a.body);
        assert!(samples.iter().any(|(s, _)| s == r#"fleetpane_cache_rows{cluster="dead",kind="Service"}"#));
        assert!(samples.iter().any(|(s, _)| s == r#"fleetpane_apiserver_requests_total{cluster="dead"}"#));
        assert!(samples.iter().any(|(s, _)| s == "fleetpane_access_decision_hit_ratio"));

        let (cookie, _) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;
        let a = send(&state, metrics_request(Some(&cookie), None)).await;
        assert_eq!(a.status, StatusCode::OK);
        observability::tests::parse(&a.body);
    }

    #[tokio::test]
    async fn fleet_health_server_function_reports_every_cached_kind() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) =
            testing::sign_in(&state, testing::identity("bob@example.com", &["team-a"])).await;
        let request = Request::post("/api/fleetpane_status")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap();
        let a = send(&state, request).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let health: fleetpane_app::model::FleetHealth = a.wire();
        let dead = &health.clusters[0];
        assert_eq!(dead.name, "dead");
        assert!(!dead.impersonation_only);
        let kinds: Vec<_> = dead.kinds.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Service",
                "EndpointSlice",
                "Pod",
                "Namespace",
                "Event",
                "NetworkPolicy",
                "Ingress",
                "HorizontalPodAutoscaler",
                "PodDisruptionBudget",
                "HTTPRoute",
                "Node",
                "Deployment",
                "StatefulSet",
                "DaemonSet"
            ]
        );
        // Nothing listens at the cluster's port: no cache is live, and none has rows.
        assert!(dead.kinds.iter().all(|k| k.state != fleetpane_app::model::CacheState::Live && k.rows == 0));
        assert_eq!(health.decision_hit_ratio, None);
    }

    fn list_request(cookie: &str, csrf: &str, body: &str) -> Request<Body> {
        Request::post("/api/list_services")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .header("x-csrf-token", csrf)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    #[tokio::test]
    async fn list_services_names_a_dead_cluster_and_refuses_a_bad_search_with_400() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) =
            testing::sign_in(&state, testing::identity("bob@example.com", &["team-a"])).await;
        let started = std::time::Instant::now();
        let a =
            send(&state, list_request(&cookie, &csrf, "req[q]=checkout&req[sort]=name&req[offset]=0")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(started.elapsed() < listing::CLUSTER_TIMEOUT + std::time::Duration::from_secs(1));
        let page: fleetpane_app::model::services::ServiceListPage = a.wire();
        assert!(page.rows.is_empty());
        assert_eq!(page.unavailable, ["dead"]);

        let a = send(&state, list_request(&cookie, &csrf, "req[q]=colour:blue")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        let e: fleetpane_app::error::AppError = a.wire();
        assert_eq!(
            e,
            fleetpane_app::error::AppError::BadRequest(
                "unknown filter \"colour:\" (use ns:, cluster:, type: or health:)".into()
            )
        );
    }

    #[tokio::test]
    async fn services_page_is_server_rendered_with_its_search_and_a_bad_search_is_400() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, _) = testing::sign_in(&state, testing::identity("bob@example.com", &["team-a"])).await;
        let a = send(&state, get_as("/services?q=checkout&sort=name", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(a.body.contains("name=\"q\""), "{}", a.body);
        assert!(a.body.contains("value=\"checkout\""), "{}", a.body);
        assert!(a.body.contains("showing 0 of 0"), "{}", a.body);
        assert!(a.body.contains("No answer in time from dead"), "{}", a.body);
        assert!(a.body.contains("href=\"/services?q=checkout&amp;sort=name&amp;desc=1\""), "{}", a.body);
        let a = send(&state, get_as("/services?q=health:sideways", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        assert!(a.body.contains("unknown health"), "{}", a.body);
    }

    #[tokio::test]
    async fn services_filter_dropdowns_are_checked_bad_values_are_400_and_options_are_rendered() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) =
            testing::sign_in(&state, testing::identity("bob@example.com", &["team-a"])).await;
        // A good filter: 200, the configured cluster is an option and is selected.
        let a = send(&state, get_as("/services?cluster=dead&type=LoadBalancer", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(a.body.contains("name=\"cluster\""), "{}", a.body);
        assert!(a.body.contains("<option value=\"dead\" selected"), "{}", a.body);
        // Bad values of each dropdown: 400 with a message saying what is wrong, page and server fn alike.
        for (query, message) in [
            ("cluster=mars", "unknown cluster"),
            ("namespace=Team_A", "may hold only lowercase letters"),
            ("type=Ingress", "unknown type"),
            ("health=sideways", "unknown health"),
        ] {
            let a = send(&state, get_as(&format!("/services?{query}"), Some(&cookie))).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {}", a.body);
            assert!(a.body.contains(message), "{query}: {}", a.body);
        }
        let a = send(&state, list_request(&cookie, &csrf, "req[q]=&req[cluster]=mars")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        let e: fleetpane_app::error::AppError = a.wire();
        assert_eq!(e, fleetpane_app::error::AppError::BadRequest("unknown cluster \"mars\"".into()));
        let a = send(&state, list_request(&cookie, &csrf, "req[type]=Ingress")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    }

    #[tokio::test]
    async fn service_page_is_server_rendered_and_bad_paths_are_400_or_404_never_500() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) =
            testing::sign_in(&state, testing::identity("bob@example.com", &["team-a"])).await;
        // The only cluster does not answer: the page still renders, and says so with a 503.
        let a = send(&state, get_as("/c/dead/ns/team-a/svc/checkout", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
        assert!(a.body.contains("<!DOCTYPE html>"), "{}", a.body);
        assert!(a.body.contains("dead / team-a / "), "{}", a.body);
        assert!(a.body.contains("dead cannot be read right now"), "{}", a.body);
        assert_security_headers(&a.headers);
        // A path part that is no DNS label: 400 naming the part.
        let a = send(&state, get_as("/c/dead/ns/Team_A/svc/checkout", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        assert!(a.body.contains("may hold only lowercase letters"), "{}", a.body);
        // An unknown cluster: 404 with its name.
        let a = send(&state, get_as("/c/nowhere/ns/team-a/svc/checkout", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
        assert!(a.body.contains("no cluster is named"), "{}", a.body);
        // Extra segments match no route: the 404 page.
        let a = send(&state, get_as("/c/dead/ns/team-a/svc/checkout/extra", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
        // The server function refuses a bad part with a typed 400 too.
        let request = Request::post("/api/service_detail")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from("cluster=dead&namespace=team-a&name=-x"))
            .unwrap();
        let a = send(&state, request).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        let e: fleetpane_app::error::AppError = a.wire();
        assert_eq!(
            e,
            fleetpane_app::error::AppError::BadRequest(
                "name \"-x\" must start and end with a letter or digit".into()
            )
        );
    }

    #[tokio::test]
    async fn status_page_is_behind_sign_in_and_shows_each_cluster() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        assert_eq!(send(&state, get_as("/status", None)).await.status, StatusCode::SEE_OTHER);
        let (cookie, _) = testing::sign_in(&state, testing::identity("bob@example.com", &["team-a"])).await;
        let a = send(&state, get_as("/status", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body.contains("data-cluster=\"dead\""), "{}", a.body);
        assert!(a.body.contains("data-kind=\"HTTPRoute\""), "{}", a.body);
    }

    fn logout_request(cookie: &str, csrf: Option<&str>) -> Request<Body> {
        let body = csrf.map(|t| format!("csrf_token={t}")).unwrap_or_default();
        Request::post("/auth/logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .header(header::ORIGIN, "http://127.0.0.1:3000")
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn logout_needs_the_csrf_token_and_ends_the_session() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let (cookie, csrf) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;

        let a = send(&state, logout_request(&cookie, None)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let a = send(&state, logout_request(&cookie, Some("wrong"))).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(send(&state, get_as("/", Some(&cookie))).await.status, StatusCode::OK, "still signed in");

        let a = send(&state, logout_request(&cookie, Some(&csrf))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        // The provider is down here, so no end_session redirect: back to sign-in.
        assert_eq!(a.headers[header::LOCATION], "/auth/signin");
        let removal = a.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(removal.starts_with("fleetpane-session="), "{removal}");
        assert!(removal.contains("Max-Age=0"), "{removal}");

        // The old cookie no longer works.
        let a = send(&state, get_as("/", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.headers[header::LOCATION], "/auth/signin");
    }

    #[tokio::test]
    async fn absolute_timeout_ends_the_session() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let mut identity = testing::identity("alice@example.com", &["sre"]);
        identity.expires_at = session::now() - 1;
        let (cookie, _) = testing::sign_in(&state, identity).await;
        let a = send(&state, get_as("/whoami", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.headers[header::LOCATION], "/auth/signin?return_to=%2Fwhoami");
    }

    #[tokio::test]
    async fn idle_timeout_ends_the_session() {
        let site = tempfile::tempdir().unwrap();
        let issuer = format!("http://127.0.0.1:{}", dead_port());
        let state = mk_state_custom(site.path(), &issuer, "store = \"memory\"\nidle_timeout = \"2s\"").await;
        let (cookie, _) = testing::sign_in(&state, testing::identity("alice@example.com", &["sre"])).await;
        assert_eq!(send(&state, get_as("/whoami", Some(&cookie))).await.status, StatusCode::OK);
        // Activity keeps it alive...
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        assert_eq!(send(&state, get_as("/whoami", Some(&cookie))).await.status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        assert_eq!(send(&state, get_as("/whoami", Some(&cookie))).await.status, StatusCode::OK);
        // ...idleness ends it.
        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
        let a = send(&state, get_as("/whoami", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.headers[header::LOCATION], "/auth/signin?return_to=%2Fwhoami");
    }

    #[tokio::test]
    async fn a_session_survives_a_restart_with_the_sqlite_store() {
        let site = tempfile::tempdir().unwrap();
        let issuer = format!("http://127.0.0.1:{}", dead_port());
        let sqlite = "store = \"sqlite\"\nsqlite_path = \"state/sessions.db\"";
        let first = mk_state_custom(site.path(), &issuer, sqlite).await;
        let (cookie, _) = testing::sign_in(&first, testing::identity("alice@example.com", &["sre"])).await;
        assert_eq!(send(&first, get_as("/whoami", Some(&cookie))).await.status, StatusCode::OK);
        drop(first);
        let db = site.path().join("state/sessions.db");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&db).unwrap().permissions());
        assert_eq!(mode & 0o077, 0, "the session database holds tokens: owner only, got {mode:o}");

        let second = mk_state_custom(site.path(), &issuer, sqlite).await;
        let a = send(&second, get_as("/whoami", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body.contains("alice@example.com"), "{}", a.body);
    }

    #[tokio::test]
    async fn a_failed_token_refresh_means_a_clean_sign_in() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let mut data = session::SessionData { csrf_token: "t".repeat(22), ..Default::default() };
        data.user = Some(session::SignedIn {
            identity: testing::identity("alice@example.com", &["sre"]),
            tokens: auth::oidc::Tokens {
                id_token: secret::Secret::new("x.y.z".into()),
                access_token: secret::Secret::new("a".into()),
                refresh_token: Some(secret::Secret::new("r".into())),
                expires_at: session::now() - 10,
            },
            last_seen: session::now(),
        });
        let cookie = testing::store_data(&state, &data).await;
        // The provider is down: the refresh fails, the session ends, the page asks to sign in again.
        let a = send(&state, get_as("/whoami", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.headers[header::LOCATION], "/auth/signin?return_to=%2Fwhoami");
        assert!(a.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
        let a = send(&state, get_as("/whoami", Some(&cookie))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "the session is gone");
    }

    /// A provider that answers discovery (with an empty key set), on a loopback port.
    async fn fake_provider() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "offline_access", "email", "profile"],
            "authorization_response_iss_parameter_supported": true
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { axum::Json(doc) }))
            .route("/jwks", get(|| async { axum::Json(serde_json::json!({ "keys": [] })) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        issuer
    }

    #[tokio::test]
    async fn login_start_sets_the_session_cookie_and_sends_to_the_provider_with_pkce_state_nonce() {
        let site = tempfile::tempdir().unwrap();
        let issuer = fake_provider().await;
        let state = mk_state_with(site.path(), &issuer).await;
        let a = send(&state, get_as("/auth/login/local?return_to=%2Fwhoami", None)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        let location = url::Url::parse(a.headers[header::LOCATION].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(&format!("{issuer}/auth?")), "{location}");
        let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "fleetpane");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:3000/auth/callback/local");
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q["code_challenge"].len() >= 43);
        assert!(q["state"].len() >= 16 && q["nonce"].len() >= 16);
        assert!(q["scope"].split(' ').any(|s| s == "openid"), "{}", q["scope"]);
        assert!(q["scope"].split(' ').any(|s| s == "offline_access"), "{}", q["scope"]);
        assert_eq!(q["prompt"], "consent");

        let cookie = a.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("fleetpane-session="), "{cookie}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{attr} missing: {cookie}");
        }
        assert!(!cookie.contains("Domain="), "{cookie}");

        // A callback with another state is refused: 400, and no session is left behind.
        let session_cookie = cookie.split(';').next().unwrap();
        let a = send(&state, get_as("/auth/callback/local?code=x&state=forged", Some(session_cookie))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert!(a.body.contains("Try signing in again"), "{}", a.body);
        assert!(a.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
        // The real state, now replayed after the session was dropped: refused too.
        let a = send(
            &state,
            get_as(&format!("/auth/callback/local?code=x&state={}", q["state"]), Some(session_cookie)),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn secure_cookies_get_the_host_prefix() {
        let site = tempfile::tempdir().unwrap();
        let issuer = fake_provider().await;
        let mut state = mk_state_with(site.path(), &issuer).await;
        let mut config = (*state.config).clone();
        config.session.cookie_secure = true;
        state.config = std::sync::Arc::new(config);
        let a = send(&state, get_as("/auth/login/local", None)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        let cookie = a.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("__Host-fleetpane-session="), "{cookie}");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{attr} missing: {cookie}");
        }
    }

    #[tokio::test]
    async fn a_provider_that_is_down_gets_a_502_page_and_no_session() {
        let site = tempfile::tempdir().unwrap();
        let state = mk_state(site.path()).await;
        let a = send(&state, get_as("/auth/login/local", None)).await;
        assert_eq!(a.status, StatusCode::BAD_GATEWAY);
        assert!(a.body.contains("cannot be reached"), "{}", a.body);
        assert!(a.headers.get(header::SET_COOKIE).is_none());
        let a = send(&state, get_as("/auth/login/nope", None)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
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
