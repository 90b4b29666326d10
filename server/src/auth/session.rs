//! Server-side sessions (tower-sessions): the store, the typed data behind one key, the cookie, and the
//! middleware that turns a session into an [`Identity`] or sends the request to sign-in.
//!
//! Timeouts: the store's expiry moves with activity (idle timeout); the absolute timeout is the login time
//! plus `session.absolute_timeout`, kept in the identity and enforced here on every request.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use tower_sessions::{
    Expiry, MemoryStore, SessionManagerLayer, SessionStore,
    cookie::SameSite,
    session::{Id, Record},
    session_store,
};
use tower_sessions_rusqlite_store::{RusqliteStore, tokio_rusqlite};

pub use tower_sessions::Session;

use crate::{
    auth::{
        csrf,
        identity::Identity,
        oidc,
        session_store::{PostgresStore, RedisStore, postgres, redis},
    },
    config::{SessionConfig, SessionStoreConfig},
    secret::Secret,
    state::AppState,
};

/// The one key all of Fleetpane's session data lives under.
pub const KEY: &str = "fleetpane";
/// A login started but not finished is forgotten after this long.
pub const PENDING_TTL_SECS: i64 = 600;
/// At most this many logins in flight per browser (several tabs).
pub const MAX_PENDING: usize = 4;

/// Everything Fleetpane keeps about one browser session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionData {
    /// The per-session CSRF token (header `x-csrf-token`, form field `csrf_token`).
    pub csrf_token: String,
    /// Logins started in this browser and not finished yet.
    pub pending: Vec<PendingLogin>,
    /// The signed-in user, once a login finished.
    pub user: Option<SignedIn>,
}

/// A started login: what the callback must see again. Single use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The provider the login went to (the callback's path must name the same one).
    pub provider: String,
    /// The `state` sent to the IdP.
    pub state: Secret<String>,
    /// The `nonce` sent to the IdP.
    pub nonce: Secret<String>,
    /// The PKCE verifier.
    pub pkce_verifier: Secret<String>,
    /// Where to go afterwards (already sanitized).
    pub return_to: String,
    /// When the login started, Unix seconds.
    pub created_at: i64,
}

/// A finished login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    /// Who.
    pub identity: Identity,
    /// The IdP's tokens, for refresh and logout.
    pub tokens: oidc::Tokens,
    /// Last request seen, Unix seconds (idle timeout).
    pub last_seen: i64,
}

/// The store, chosen by `session.store`.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite on disk.
    Sqlite(RusqliteStore),
    /// In memory (tests).
    Memory(MemoryStore),
    /// Redis, shared by several replicas.
    Redis(RedisStore),
    /// Postgres, shared by several replicas.
    Postgres(PostgresStore),
}

/// Why the session store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite file could not be created or opened.
    #[error("session store {path:?}: {message}")]
    Sqlite {
        /// The database file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
    /// Redis could not be reached (or the URL is unusable).
    #[error("session store (redis): {0}")]
    Redis(#[from] redis::Error),
    /// Postgres could not be reached, or the table could not be created.
    #[error("session store (postgres): {0}")]
    Postgres(#[from] postgres::Error),
}

impl Store {
    /// Opens (and creates) the configured store, and starts its expired-session cleanup.
    pub async fn open(config: &SessionStoreConfig) -> Result<Self, StoreError> {
        match config {
            SessionStoreConfig::Memory => Ok(Self::Memory(MemoryStore::default())),
            SessionStoreConfig::Sqlite { path } => {
                let sqlite_err = |message: String| StoreError::Sqlite { path: path.clone(), message };
                create_private_file(path).map_err(|e| sqlite_err(e.to_string()))?;
                let conn =
                    tokio_rusqlite::Connection::open(path).await.map_err(|e| sqlite_err(e.to_string()))?;
                let store = RusqliteStore::new(conn);
                store.migrate().await.map_err(|e| sqlite_err(e.to_string()))?;
                spawn_cleanup(store.clone());
                Ok(Self::Sqlite(store))
            }
            // Redis expires keys by itself: no cleanup task.
            SessionStoreConfig::Redis { url } => Ok(Self::Redis(RedisStore::connect(url.expose()).await?)),
            SessionStoreConfig::Postgres { url } => {
                let store = PostgresStore::connect(url.expose()).await?;
                spawn_cleanup(store.clone());
                Ok(Self::Postgres(store))
            }
        }
    }
}

/// Deletes expired sessions every 5 minutes, for stores that keep them until told.
fn spawn_cleanup<S: tower_sessions::ExpiredDeletion + Clone>(store: S) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = store.clone().continuously_delete_expired(Duration::from_secs(300)).await {
                // A store outage must not end the cleanup for good: try again next round.
                tracing::warn!(error = %e, "expired-session cleanup failed");
            }
        }
    });
}

/// The session file holds tokens: only the owner may read it.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map(drop)
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.create(record).await,
            Self::Memory(s) => s.create(record).await,
            Self::Redis(s) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.save(record).await,
            Self::Memory(s) => s.save(record).await,
            Self::Redis(s) => s.save(record).await,
            Self::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(s) => s.load(id).await,
            Self::Memory(s) => s.load(id).await,
            Self::Redis(s) => s.load(id).await,
            Self::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete(id).await,
            Self::Memory(s) => s.delete(id).await,
            Self::Redis(s) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
        }
    }
}

/// The cookie's name: `__Host-` needs `Secure`, so plain-http dev drops the prefix.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-fleetpane-session" } else { "fleetpane-session" }
}

/// The session layer: cookie `Path=/; HttpOnly; SameSite=Lax` (+ `Secure`), expiry on inactivity.
pub fn layer(store: Store, config: &SessionConfig) -> SessionManagerLayer<Store> {
    SessionManagerLayer::new(store)
        .with_name(cookie_name(config.cookie_secure))
        .with_secure(config.cookie_secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            i64::try_from(config.idle_timeout.as_secs()).unwrap_or(i64::MAX),
        )))
}

/// Now, Unix seconds.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The session's data; a broken record counts as none.
pub async fn load(session: &Session) -> SessionData {
    match session.get::<SessionData>(KEY).await {
        Ok(data) => data.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable session data, starting over");
            SessionData::default()
        }
    }
}

/// Stores the data (marks the session modified, so the cookie is set and the expiry moves).
pub async fn store(session: &Session, data: &SessionData) -> Result<(), tower_sessions::session::Error> {
    session.insert(KEY, data).await
}

/// The CSRF token of the current request's session (inserted by [`require_session`]).
#[derive(Debug, Clone)]
pub struct RequestCsrf(pub String);

/// Paths anyone may load: the sign-in flow, health, and static assets.
pub fn is_public(path: &str) -> bool {
    path == "/healthz"
        || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
        || matches!(path, "/favicon.ico" | "/favicon.svg" | "/robots.txt")
}

/// The access rule: every non-public path needs a valid session. Pages without one go to sign-in (303,
/// coming back afterwards); `/api/*` and `/metrics` answer 401. `/metrics` also accepts the configured
/// bearer token (`[server] metrics_token_file`) instead of a session. State-changing `/api/*` requests also pass the origin and
/// CSRF checks.
pub async fn require_session(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if is_public(&path) {
        return next.run(req).await;
    }
    let metrics = path == crate::observability::METRICS_PATH;
    if metrics && let Some(token) = &state.config.server.metrics_token {
        let sent = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if crate::observability::bearer_matches(sent, token.expose()) {
            return next.run(req).await;
        }
    }
    // Scrapers and server functions get a 401, not a sign-in redirect.
    let api = path.starts_with("/api/") || metrics;
    let Some((identity, csrf_token)) = current_user(&state, &session).await else {
        if api {
            return (StatusCode::UNAUTHORIZED, [(header::CACHE_CONTROL, "no-store")], "sign in first\n")
                .into_response();
        }
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        return Redirect::to(&signin_url(target)).into_response();
    };
    if api && csrf::is_state_changing(req.method()) {
        let sent = req.headers().get(csrf::HEADER).and_then(|v| v.to_str().ok());
        if let Err(refused) = csrf::check_origin(req.headers(), &state.auth.public_origin)
            .and_then(|()| csrf::check_token(sent, &csrf_token))
        {
            tracing::warn!(path, reason = %refused, email = identity.email, "request refused");
            return (StatusCode::FORBIDDEN, "request refused: reload the page and try again\n")
                .into_response();
        }
    }
    req.extensions_mut().insert(identity);
    req.extensions_mut().insert(RequestCsrf(csrf_token));
    next.run(req).await
}

/// `/auth/signin?return_to=...` for `target` (a path and query of this origin).
pub fn signin_url(target: &str) -> String {
    let target = crate::auth::return_to::sanitize(Some(target));
    if target == "/" {
        "/auth/signin".to_owned()
    } else {
        format!(
            "/auth/signin?return_to={}",
            url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
        )
    }
}

/// The valid signed-in user of this session, after the timeouts and a token refresh when due. Anything
/// expired or failing clears the session (so the next step is a clean sign-in).
async fn current_user(state: &AppState, session: &Session) -> Option<(Identity, String)> {
    let mut data = load(session).await;
    let user = data.user.as_mut()?;
    let now = now();
    let idle = i64::try_from(state.config.session.idle_timeout.as_secs()).unwrap_or(i64::MAX);
    let reason = if now >= user.identity.expires_at {
        Some("absolute timeout")
    } else if now.saturating_sub(user.last_seen) > idle {
        Some("idle timeout")
    } else {
        None
    };
    if let Some(reason) = reason {
        tracing::info!(email = user.identity.email, reason, "session ended");
        end(session).await;
        return None;
    }
    let mut changed = false;
    if user.tokens.needs_refresh(now) {
        match state.auth.refresh(&user.identity, &user.tokens).await {
            Ok(tokens) => {
                user.tokens = tokens;
                changed = true;
            }
            Err(e) => {
                tracing::info!(email = user.identity.email, reason = %e, "token refresh failed, session ended");
                end(session).await;
                return None;
            }
        }
    }
    // Touch at most every minute (or a quarter of a short idle timeout): saving moves the store's expiry.
    if now.saturating_sub(user.last_seen) >= (idle / 4).clamp(1, 60) {
        user.last_seen = now;
        changed = true;
    }
    let identity = user.identity.clone();
    if data.csrf_token.is_empty() {
        data.csrf_token = csrf::new_token();
        changed = true;
    }
    if changed && let Err(e) = store(session, &data).await {
        tracing::warn!(error = %e, "cannot update the session");
    }
    Some((identity, data.csrf_token))
}

/// Ends the session: the server-side record is deleted and the cookie removed.
pub async fn end(session: &Session) {
    if session.id().is_none() {
        // Nothing stored yet: only forget what this request put in.
        session.clear().await;
        return;
    }
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "cannot delete the session");
    }
}

/// `Cache-Control: no-store` for responses that carry personal data or tokens.
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_names_follow_the_host_prefix_rule() {
        assert_eq!(cookie_name(true), "__Host-fleetpane-session");
        assert_eq!(cookie_name(false), "fleetpane-session");
    }

    #[test]
    fn public_paths() {
        for p in ["/healthz", "/auth/signin", "/auth/callback/local", "/pkg/fleetpane.wasm", "/favicon.ico"] {
            assert!(is_public(p), "{p}");
        }
        for p in ["/", "/whoami", "/api/whoami", "/no/such/page", "/authx", "/pkgx"] {
            assert!(!is_public(p), "{p}");
        }
    }

    #[test]
    fn signin_url_keeps_the_target_encoded() {
        assert_eq!(signin_url("/"), "/auth/signin");
        assert_eq!(signin_url("/whoami?a=1&b=2"), "/auth/signin?return_to=%2Fwhoami%3Fa%3D1%26b%3D2");
        assert_eq!(signin_url("//evil.example"), "/auth/signin");
    }
}

/// Test support (unit, router and integration tests): a signed-in session put straight into the store.
#[doc(hidden)]
pub mod testing {
    use std::collections::HashMap;

    use tower_sessions::SessionStore as _;

    use super::*;

    /// Stores a signed-in session for `identity` (no refresh token); returns the `Cookie` header value and
    /// the session's CSRF token.
    pub async fn sign_in(state: &AppState, identity: Identity) -> (String, String) {
        let tokens = oidc::Tokens {
            id_token: Secret::new("test.id.token".to_owned()),
            access_token: Secret::new("test-access-token".to_owned()),
            refresh_token: None,
            expires_at: now() + 3600,
        };
        let csrf_token = csrf::new_token();
        let data = SessionData {
            csrf_token: csrf_token.clone(),
            pending: Vec::new(),
            user: Some(SignedIn { identity, tokens, last_seen: now() }),
        };
        (store_data(state, &data).await, csrf_token)
    }

    /// Puts `data` into the store as a new session; returns the `Cookie` header value.
    pub async fn store_data(state: &AppState, data: &SessionData) -> String {
        let idle = time::Duration::seconds(
            i64::try_from(state.config.session.idle_timeout.as_secs()).unwrap_or(i64::MAX),
        );
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([(
                KEY.to_owned(),
                serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
            )]),
            expiry_date: time::OffsetDateTime::now_utc() + idle,
        };
        if let Err(e) = state.sessions.create(&mut record).await {
            tracing::error!(error = %e, "test session not stored");
        }
        format!("{}={}", cookie_name(state.config.session.cookie_secure), record.id)
    }

    /// An identity for tests: `email` in `groups` (from the claim), signed in now for 8 h.
    pub fn identity(email: &str, groups: &[&str]) -> Identity {
        Identity {
            email: email.to_owned(),
            provider: "local".to_owned(),
            subject: email.split('@').next().unwrap_or_default().to_owned(),
            groups: groups
                .iter()
                .map(|g| crate::auth::groups::Group {
                    name: (*g).to_owned(),
                    source: crate::auth::groups::GroupSource::Claim,
                })
                .collect(),
            login_at: now(),
            expires_at: now() + 8 * 3600,
        }
    }
}
