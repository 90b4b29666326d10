//! Google Workspace groups through the Admin SDK Directory API.
//!
//! Google never puts groups in its ID tokens. A service account with domain-wide delegation asks the
//! Directory API instead, as Google documents it for server-to-server OAuth:
//!
//! ```text
//! JWT (RS256; iss = client_email, sub = admin_email, scope = admin.directory.group.readonly,
//!      aud = token_uri, iat, exp = iat + 1 h)
//!   ── POST token_uri  grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>
//!   ◀─ { access_token, expires_in, token_type }            (cached until shortly before it expires)
//! GET {api_base}/admin/directory/v1/groups?userKey=<email>&maxResults=200[&pageToken=..]
//!   Authorization: Bearer <access_token>  ── following nextPageToken
//! ```
//!
//! A group is known by its `email`. The HTTP client follows no redirects and has a deadline.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    auth::groups::{DirectorySource, GoogleDirectoryConfig, SourceError},
    secret::Secret,
};

/// The one scope Fleetpane asks for: read groups.
pub const SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.group.readonly";
/// The OAuth grant type of a signed JWT assertion (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long an assertion is valid; Google's maximum.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
/// A cached access token is renewed this long before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// The default deadline of one HTTP request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Page size of the groups list (the API's maximum).
const PAGE_SIZE: &str = "200";
/// A bound on pages (200 groups each), against a directory that never stops paging.
const MAX_PAGES: usize = 50;

/// Why the directory could not list a user's groups.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service account key file could not be read.
    #[error("cannot read the service account key {path:?}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file is not a service account JSON key.
    #[error("not a service account JSON key (client_email, private_key, token_uri): {0}")]
    KeyJson(#[source] serde_json::Error),
    /// The key's `private_key` is not an RSA private key in PEM.
    #[error("the service account's private_key is not an RSA PEM key")]
    KeyPem(#[source] jsonwebtoken::errors::Error),
    /// The key's `token_uri` is not an http(s) URL.
    #[error("the service account's token_uri {0:?} is not an http(s) URL")]
    TokenUri(String),
    /// Signing the assertion failed.
    #[error("cannot sign the JWT assertion")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// Google refused the assertion (`unauthorized_client` when delegation is not granted, `invalid_grant`, ...).
    #[error("token request refused ({status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenRefused {
        /// The HTTP status.
        status: u16,
        /// Google's `error`.
        error: String,
        /// Google's `error_description`.
        description: Option<String>,
    },
    /// The Directory API answered 403: the admin lacks rights, or the scope is not delegated.
    #[error("directory API refused access: {message}")]
    Forbidden {
        /// Google's `error.message`.
        message: String,
    },
    /// The Directory API does not know the user (404).
    #[error("the directory does not know the user {email:?}")]
    UserNotFound {
        /// The user key asked for.
        email: String,
    },
    /// Another error status from the Directory API.
    #[error("directory API answered {status}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// Google's `error.message`, or the start of the body.
        message: String,
    },
    /// A request did not finish within the deadline.
    #[error("{what} timed out")]
    Timeout {
        /// Which request.
        what: &'static str,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// A request failed below HTTP (connection refused, TLS, a redirect, ...), or the body did not parse.
    #[error("{what} failed")]
    Http {
        /// Which request.
        what: &'static str,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer did not have the documented shape.
    #[error("{what}: unexpected response: {detail}")]
    BadResponse {
        /// Which request.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// `pub type Result<T, E = Error>`, as in kube's modules.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn from_reqwest(what: &'static str, source: reqwest::Error) -> Self {
        if source.is_timeout() { Self::Timeout { what, source } } else { Self::Http { what, source } }
    }

    /// Whether the failure was a deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

/// The fields Fleetpane uses from a service account's JSON key.
#[derive(Clone, Debug, Deserialize)]
pub struct ServiceAccountKey {
    /// The service account's email: the JWT's `iss`.
    pub client_email: String,
    /// The RSA private key, PEM.
    #[serde(deserialize_with = "secret")]
    private_key: Secret<String>,
    /// Its id, sent as the JWT's `kid`.
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Where the assertion is exchanged: the JWT's `aud`.
    pub token_uri: String,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Secret<String>, D::Error> {
    String::deserialize(d).map(Secret::new)
}

impl ServiceAccountKey {
    /// Parses a JSON key and checks that the key and `token_uri` are usable.
    pub fn from_json(text: &str) -> Result<Self> {
        let key: Self = serde_json::from_str(text).map_err(Error::KeyJson)?;
        EncodingKey::from_rsa_pem(key.private_key.expose().as_bytes()).map_err(Error::KeyPem)?;
        match Url::parse(&key.token_uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(key),
            _ => Err(Error::TokenUri(key.token_uri)),
        }
    }

    /// Reads and checks a JSON key file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::KeyFile { path: path.to_owned(), source })?;
        Self::from_json(&text)
    }
}

/// For config validation: `Err` holds the one-line problem text.
pub fn check_key_file(path: &Path) -> std::result::Result<(), String> {
    match ServiceAccountKey::load(path) {
        Ok(_) => Ok(()),
        Err(e @ Error::KeyFile { .. }) => Err(format!(
            "{e}: {}",
            std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default()
        )),
        Err(e) => Err(format!("{:?}: {e}", path.display().to_string())),
    }
}

/// One group as the Directory API lists it (`admin#directory#group`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryGroup {
    /// The group's unique id.
    pub id: String,
    /// The group's email: Fleetpane's name for it.
    pub email: String,
    /// The display name.
    #[serde(default)]
    pub name: String,
}

/// The Admin SDK Directory client of one provider. Build it once and share it: it caches the token.
pub struct DirectoryClient {
    key: ServiceAccountKey,
    signing_key: EncodingKey,
    admin_email: String,
    groups_url: Url,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for DirectoryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryClient")
            .field("client_email", &self.key.client_email)
            .field("admin_email", &self.admin_email)
            .field("groups_url", &self.groups_url.as_str())
            .finish_non_exhaustive()
    }
}

struct CachedToken {
    value: Secret<String>,
    renew_at: Instant,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(deserialize_with = "secret")]
    access_token: Secret<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupsPage {
    #[serde(default)]
    groups: Vec<DirectoryGroup>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    error: ApiErrorBody,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    message: String,
}

impl DirectoryClient {
    /// Reads the key file and builds the client (no redirects, [`DEFAULT_TIMEOUT`]).
    pub fn new(cfg: &GoogleDirectoryConfig) -> Result<Self> {
        let key = ServiceAccountKey::load(&cfg.service_account_file)?;
        Self::with_key(key, &cfg.admin_email, &cfg.api_base, DEFAULT_TIMEOUT)
    }

    /// Builds the client from a parsed key.
    pub fn with_key(
        key: ServiceAccountKey,
        admin_email: &str,
        api_base: &Url,
        timeout: Duration,
    ) -> Result<Self> {
        let signing_key =
            EncodingKey::from_rsa_pem(key.private_key.expose().as_bytes()).map_err(Error::KeyPem)?;
        let mut groups_url = api_base.clone();
        groups_url.set_path(&format!("{}/admin/directory/v1/groups", api_base.path().trim_end_matches('/')));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|source| Error::Http { what: "building the HTTP client", source })?;
        Ok(Self {
            key,
            signing_key,
            admin_email: admin_email.to_owned(),
            groups_url,
            http,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The groups of the user with this email, every page.
    pub async fn list_groups(&self, email: &str) -> Result<Vec<DirectoryGroup>> {
        match self.list_groups_once(email).await {
            // A token revoked before its time: fetch a new one, once.
            Err(Error::Api { status: 401, .. }) => {
                *self.token.lock().await = None;
                self.list_groups_once(email).await
            }
            other => other,
        }
    }

    async fn list_groups_once(&self, email: &str) -> Result<Vec<DirectoryGroup>> {
        const WHAT: &str = "directory groups request";
        let token = self.access_token().await?;
        let mut groups = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("userKey", email), ("maxResults", PAGE_SIZE)];
            if let Some(t) = &page_token {
                query.push(("pageToken", t));
            }
            let response = self
                .http
                .get(self.groups_url.clone())
                .query(&query)
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(|e| Error::from_reqwest(WHAT, e))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| Error::from_reqwest(WHAT, e))?;
            if !status.is_success() {
                let message = serde_json::from_slice::<ApiError>(&body).map_or_else(
                    |_| String::from_utf8_lossy(&body).chars().take(200).collect(),
                    |e| e.error.message,
                );
                return Err(match status.as_u16() {
                    403 => Error::Forbidden { message },
                    404 => Error::UserNotFound { email: email.to_owned() },
                    status => Error::Api { status, message },
                });
            }
            let page: GroupsPage = serde_json::from_slice(&body)
                .map_err(|e| Error::BadResponse { what: WHAT, detail: e.to_string() })?;
            groups.extend(page.groups);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) == page_token.as_ref() => {
                    return Err(Error::BadResponse {
                        what: WHAT,
                        detail: "the same page token twice".to_owned(),
                    });
                }
                Some(next) => page_token = Some(next),
                None => return Ok(groups),
            }
        }
        Err(Error::BadResponse { what: WHAT, detail: format!("more than {MAX_PAGES} pages") })
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub async fn access_token(&self) -> Result<Secret<String>> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(t.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<CachedToken> {
        const WHAT: &str = "token request";
        let assertion = self.assertion()?;
        let started = Instant::now();
        let response = self
            .http
            .post(&self.key.token_uri)
            .form(&[("grant_type", JWT_BEARER_GRANT), ("assertion", assertion.expose())])
            .send()
            .await
            .map_err(|e| Error::from_reqwest(WHAT, e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| Error::from_reqwest(WHAT, e))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<OAuthError>(&body) {
                Ok(e) => Error::TokenRefused {
                    status: status.as_u16(),
                    error: e.error,
                    description: e.error_description,
                },
                Err(_) => Error::TokenRefused {
                    status: status.as_u16(),
                    error: "(no OAuth error body)".to_owned(),
                    description: None,
                },
            });
        }
        let token: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Error::BadResponse { what: WHAT, detail: e.to_string() })?;
        if let Some(t) = token.token_type.as_deref().filter(|t| !t.eq_ignore_ascii_case("bearer")) {
            return Err(Error::BadResponse { what: WHAT, detail: format!("token_type {t:?}, not Bearer") });
        }
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        Ok(CachedToken {
            value: token.access_token,
            renew_at: started + lifetime.saturating_sub(EXPIRY_MARGIN),
        })
    }

    fn assertion(&self) -> Result<Secret<String>> {
        let iat =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = AssertionClaims {
            iss: &self.key.client_email,
            sub: &self.admin_email,
            scope: SCOPE,
            aud: &self.key.token_uri,
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key.private_key_id);
        jsonwebtoken::encode(&header, &claims, &self.signing_key).map(Secret::new).map_err(Error::Sign)
    }
}

impl DirectorySource for DirectoryClient {
    fn groups_of<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Vec<String>, SourceError>> {
        Box::pin(async move {
            match self.list_groups(email).await {
                Ok(groups) => Ok(groups.into_iter().map(|g| g.email).collect()),
                // Not in this Workspace (e.g. a guest): no directory groups, not a failure.
                Err(Error::UserNotFound { .. }) => {
                    tracing::info!(email, "user not in the Google directory: no directory groups");
                    Ok(Vec::new())
                }
                Err(e) if e.is_timeout() => Err(SourceError::timeout(e)),
                Err(e) => Err(SourceError::failed(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../tests/fixtures/auth/google-sa.key");

    fn mk_json(token_uri: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "client_email": "fleetpane@proj.iam.gserviceaccount.com",
            "private_key_id": "k1",
            "private_key": KEY,
            "token_uri": token_uri,
        })
        .to_string()
    }

    #[test]
    fn key_json_is_checked() {
        assert!(ServiceAccountKey::from_json(&mk_json("https://oauth2.example/token")).is_ok());
        assert!(matches!(ServiceAccountKey::from_json("{}"), Err(Error::KeyJson(_))));
        let bad_pem = mk_json("https://x.example/t").replace("BEGIN PRIVATE KEY", "BEGIN NOTHING");
        assert!(matches!(ServiceAccountKey::from_json(&bad_pem), Err(Error::KeyPem(_))));
        assert!(matches!(ServiceAccountKey::from_json(&mk_json("file:///t")), Err(Error::TokenUri(_))));
    }

    #[test]
    fn debug_output_holds_no_key() {
        let key = ServiceAccountKey::from_json(&mk_json("https://x.example/t")).unwrap();
        let debug = format!("{key:?}");
        assert!(!debug.contains("PRIVATE KEY") && debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn check_key_file_gives_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let missing = check_key_file(&dir.path().join("nope.json")).unwrap_err();
        assert!(missing.contains("cannot read") && !missing.contains('\n'), "{missing}");
        std::fs::write(dir.path().join("k.json"), "{\"x\": 1}").unwrap();
        let bad = check_key_file(&dir.path().join("k.json")).unwrap_err();
        assert!(bad.contains("not a service account JSON key"), "{bad}");
        std::fs::write(dir.path().join("k.json"), mk_json("https://x.example/t")).unwrap();
        assert!(check_key_file(&dir.path().join("k.json")).is_ok());
    }

    #[test]
    fn groups_url_keeps_the_base_path() {
        let key = ServiceAccountKey::from_json(&mk_json("https://x.example/t")).unwrap();
        let base = Url::parse("http://127.0.0.1:1/google/").unwrap();
        let c = DirectoryClient::with_key(key, "admin@example.com", &base, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(c.groups_url.as_str(), "http://127.0.0.1:1/google/admin/directory/v1/groups");
    }

    #[test]
    fn assertion_follows_googles_contract() {
        let key = ServiceAccountKey::from_json(&mk_json("https://oauth2.example/token")).unwrap();
        let base = Url::parse("https://admin.example").unwrap();
        let c = DirectoryClient::with_key(key, "admin@example.com", &base, DEFAULT_TIMEOUT).unwrap();
        let jwt = c.assertion().unwrap();
        let public = include_bytes!("../../tests/fixtures/auth/google-sa.pub.pem");
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://oauth2.example/token"]);
        validation.set_issuer(&["fleetpane@proj.iam.gserviceaccount.com"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(
            jwt.expose(),
            &jsonwebtoken::DecodingKey::from_rsa_pem(public).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        let claims = data.claims;
        assert_eq!(claims["sub"], "admin@example.com");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3600);
    }
}
