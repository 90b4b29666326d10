//! Fleetpane's real router on a test config, and a small cookie-keeping browser to drive it.
//!
//! The config has one provider named `rogue` (the [`super::rogue::RogueIssuer`]), an in-memory session
//! store unless [`Options::session_store`] names another, and one cluster whose apiserver port has nothing
//! listening (the fleet is not needed here). [`TestApp::replica`] builds a second Fleetpane beside the first
//! (same issuer, same shared store) for the multi-replica tests.
//! If `AppState`'s constructor changes, this is the one place to adapt.
//!
//! Test apps run one at a time per test binary: Leptos' server-side rendering keeps process-wide state
//! (its executor spawns onto "the current runtime"), and with one Tokio runtime per `#[tokio::test]` a
//! signed-in page render sometimes never finished when another test's runtime ran or shut down beside it
//! (about 1 run in 5 under load). Fleetpane itself runs one runtime, so this is a test-harness constraint.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
};

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use fleetpane_server::{AppState, Config, router};
use leptos::config::LeptosOptions;
use tower::ServiceExt;
use url::Url;

use super::rogue::{CLIENT_ID, CLIENT_SECRET};

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pki");

/// `server.public_url` of the test app.
pub const PUBLIC_URL: &str = "http://127.0.0.1:3000";

/// Options for the test app's config.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `session.cookie_secure`.
    pub cookie_secure: bool,
    /// Extra lines inside the `[[providers]]` table (before any sub-table), e.g. `allowed_groups = [...]`.
    pub provider_lines: String,
    /// Extra TOML appended after the provider (sub-tables such as `[providers.groups]`).
    pub provider_tables: String,
    /// The `[session]` lines naming the store, e.g. `store = "redis"` and `url = "..."`; empty: memory.
    pub session_store: String,
}

/// Held by the one test app alive in this process (see the module docs).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A running Fleetpane (router only, no socket) and its temp dir. One per test: it holds the process-wide
/// turn until dropped (a second one in the same test would wait forever).
pub struct TestApp {
    router: Router,
    /// Holds the client secret and whatever files a test adds.
    pub dir: tempfile::TempDir,
    // Last: dropped after the router. `None` for a replica, which lives within its first app's turn.
    _turn: Option<MutexGuard<'static, ()>>,
}

impl TestApp {
    /// Builds Fleetpane for `issuer` with default options.
    pub async fn start(issuer: &str) -> Self {
        Self::with(issuer, Options::default()).await
    }

    /// Builds Fleetpane for `issuer`. Files a test wants beside the config go into `dir` first via
    /// [`TestApp::with_dir`].
    pub async fn with(issuer: &str, options: Options) -> Self {
        Self::with_dir(tempfile::tempdir().unwrap(), issuer, options).await
    }

    /// Like [`TestApp::with`], with a prepared config directory.
    #[expect(
        clippy::await_holding_lock,
        reason = "the turn is meant to be held for the test's whole life; each test has its own thread"
    )]
    pub async fn with_dir(dir: tempfile::TempDir, issuer: &str, options: Options) -> Self {
        // A test that failed still hands the turn on.
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let router = build(dir.path(), issuer, options).await;
        Self { router, dir, _turn: Some(turn) }
    }

    /// Another Fleetpane for `issuer` beside this one, within this app's turn: a second replica when both
    /// name the same shared session store in `options`.
    pub async fn replica(&self, issuer: &str, options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let router = build(dir.path(), issuer, options).await;
        Self { router, dir, _turn: None }
    }

    /// A browser with no cookies.
    pub fn browser(&self) -> Browser {
        Browser { router: self.router.clone(), cookies: HashMap::new() }
    }
}

/// Fleetpane's router on the test config in `dir`.
async fn build(dir: &std::path::Path, issuer: &str, options: Options) -> Router {
    std::fs::write(dir.join("client-secret"), format!("{CLIENT_SECRET}\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let Options { cookie_secure, provider_lines, provider_tables, session_store } = options;
    let session_store =
        if session_store.is_empty() { "store = \"memory\"".to_owned() } else { session_store };
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "{PUBLIC_URL}"

[session]
{session_store}
cookie_secure = {cookie_secure}

[[providers]]
name = "rogue"
display_name = "Rogue IdP"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret_file = "client-secret"
{provider_lines}
{provider_tables}

[[clusters]]
name = "dead"
api_url = "http://127.0.0.1:{port}"
ca_file = "{PKI}/ca.crt"
[clusters.credentials]
client_cert_file = "{PKI}/client.crt"
client_key_file = "{PKI}/client.key"
"#
    );
    let config = Config::parse(&toml, dir).unwrap_or_else(|e| panic!("test config: {e}\n{toml}"));
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("favicon.ico"), b"icon").unwrap();
    let options =
        LeptosOptions::builder().output_name("fleetpane").site_root(site.display().to_string()).build();
    let state = AppState::new(config, options).await.unwrap();
    router(state)
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: axum::http::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Resp {
    /// The `Location` header.
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// The `Set-Cookie` header for the cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find(|c| c.split('=').next() == Some(name))
    }
}

/// What a started login sent the browser to the IdP with.
#[derive(Debug, Clone)]
pub struct Login {
    /// The full authorization URL.
    pub url: Url,
    /// Its query parameters.
    pub params: HashMap<String, String>,
}

impl Login {
    /// One query parameter; panics when absent.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or_else(|| panic!("no {name} in {}", self.url))
    }

    /// `state`.
    pub fn state(&self) -> &str {
        self.param("state")
    }

    /// `nonce`.
    pub fn nonce(&self) -> &str {
        self.param("nonce")
    }
}

/// Keeps cookies between requests like a browser (no expiry handling beyond removal).
#[derive(Clone)]
pub struct Browser {
    router: Router,
    /// name -> value.
    pub cookies: HashMap<String, String>,
}

impl Browser {
    /// Sends a request with the browser's cookies, and keeps the cookies the answer sets.
    pub async fn send(&mut self, request: Request<Body>) -> Resp {
        let (mut parts, body) = request.into_parts();
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            parts.headers.insert(header::COOKIE, cookie.parse().unwrap());
        }
        let response = self.router.clone().oneshot(Request::from_parts(parts, body)).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, 4 << 20).await.unwrap();
        let resp = Resp {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into(),
        };
        for set in resp.set_cookies() {
            let first = set.split(';').next().unwrap_or_default();
            let (name, value) = first.split_once('=').unwrap_or((first, ""));
            let lower = set.to_ascii_lowercase();
            let removed =
                value.is_empty() || lower.contains("max-age=0") || lower.contains("expires=thu, 01 jan 1970");
            if removed {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        resp
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(Request::get(path).body(Body::empty()).unwrap()).await
    }

    /// Starts a login at `provider`, returning to `return_to`; asserts the 303 to the IdP.
    pub async fn start_login(&mut self, provider: &str, return_to: &str) -> Login {
        let return_to = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>();
        let resp = self.get(&format!("/auth/login/{provider}?return_to={return_to}")).await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "login start: {resp:?}");
        let url =
            Url::parse(resp.location()).unwrap_or_else(|e| panic!("Location {:?}: {e}", resp.location()));
        let params = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        Login { url, params }
    }

    /// `GET /auth/callback/{provider}?code=..&state=..`.
    pub async fn callback(&mut self, provider: &str, code: &str, state: &str) -> Resp {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", code)
            .append_pair("state", state)
            .finish();
        self.get(&format!("/auth/callback/{provider}?{query}")).await
    }

    /// Whether this browser is signed in: `GET /` answers the page instead of sending to sign-in.
    pub async fn is_signed_in(&mut self) -> bool {
        let resp = self.get("/").await;
        match resp.status {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER | StatusCode::FOUND | StatusCode::TEMPORARY_REDIRECT => {
                assert!(resp.location().starts_with("/auth/signin"), "redirect elsewhere: {resp:?}");
                false
            }
            other => panic!("GET / answered {other}: {resp:?}"),
        }
    }
}
