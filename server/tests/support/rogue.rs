//! A rogue OpenID provider under the test's control.
//!
//! It serves a real discovery document and JWKS (keys from tests/fixtures/auth, rotatable), and its token
//! endpoint answers each authorization code with the ID token the test crafted for it: well signed, or
//! forged in one of the ways an attacker would try. It records every token request, so tests can check the
//! PKCE `code_verifier`, and refuses a token request without one, as a real provider does.
//!
//! ```text
//! {issuer} = http://127.0.0.1:PORT/rogue
//! GET  {issuer}/.well-known/openid-configuration
//! GET  {issuer}/jwks                  the published keys (rotate with `publish`)
//! GET  {issuer}/authorize             records the query; tests do not follow it, they call the callback
//! POST {issuer}/token                 code (single use) -> the test's grant; needs code_verifier
//! GET  {issuer}/userinfo              Bearer access_token -> the grant's userinfo
//! GET  {issuer}/logout                end_session_endpoint; records the query
//! ```

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Served, fixture, now};

/// The client Fleetpane is registered as at the rogue issuer.
pub const CLIENT_ID: &str = "fleetpane-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "rogue-client-secret";

/// One of the fixture signing keys `rogue-1`, `rogue-2`, `rogue-3` (kid = name).
#[derive(Clone)]
pub struct TestKey {
    /// The key id.
    pub kid: String,
    encoding: EncodingKey,
    /// The public key, SPKI PEM (what the HS256 confusion attack uses as the HMAC secret).
    pub public_pem: Vec<u8>,
    /// The public JWK.
    pub jwk: Value,
}

impl TestKey {
    /// Loads `tests/fixtures/auth/{name}.*`.
    pub fn load(name: &str) -> Self {
        Self {
            kid: name.to_owned(),
            encoding: EncodingKey::from_rsa_pem(&fixture(&format!("{name}.key"))).unwrap(),
            public_pem: fixture(&format!("{name}.pub.pem")),
            jwk: serde_json::from_slice(&fixture(&format!("{name}.jwk.json"))).unwrap(),
        }
    }
}

/// How the test wants an ID token signed.
#[derive(Clone, Debug)]
pub enum Signing {
    /// RS256 with the named key, `kid` = its name: valid when that key is published.
    Rs256(&'static str),
    /// RS256 with key `signer`, but the header names `kid`: a bad signature for the published key.
    WrongKey {
        /// The key that really signs.
        signer: &'static str,
        /// The kid the header claims.
        kid: &'static str,
    },
    /// `alg: none`, empty signature.
    None,
    /// HS256 with the named key's public PEM as the HMAC secret (algorithm confusion).
    Hs256WithPublicKey(&'static str),
}

/// A token response the token endpoint gives for one code.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The ID token (compact JWS, or whatever the test wants to send).
    pub id_token: String,
    /// The access token; also the key for UserInfo.
    pub access_token: String,
    /// A refresh token, if the test wants one.
    pub refresh_token: Option<String>,
    /// What `/userinfo` answers for the access token; `None`: 401.
    pub userinfo: Option<Value>,
    /// `expires_in` of the access token.
    pub expires_in: u64,
}

/// One request the token endpoint received.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    /// Every form field.
    pub form: HashMap<String, String>,
    /// The `Authorization` header (client_secret_basic), if any.
    pub authorization: Option<String>,
}

impl TokenRequest {
    /// The PKCE `code_verifier`, if sent.
    pub fn code_verifier(&self) -> Option<&str> {
        self.form.get("code_verifier").map(String::as_str)
    }
}

#[derive(Default)]
struct Inner {
    keys: HashMap<String, TestKey>,
    published: Vec<String>,
    grants: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    token_requests: Vec<TokenRequest>,
    authorize_requests: Vec<HashMap<String, String>>,
    logout_requests: Vec<HashMap<String, String>>,
    jwks_fetches: usize,
    discovery_fetches: usize,
    userinfo_by_token: HashMap<String, Value>,
    token_delay: Option<std::time::Duration>,
}

/// The rogue provider. Dropping it stops the server.
pub struct RogueIssuer {
    /// `http://127.0.0.1:PORT/rogue` (no trailing slash).
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
    _served: Served,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    inner: Arc<Mutex<Inner>>,
}

impl RogueIssuer {
    /// Starts the issuer with keys rogue-1..3 loaded and rogue-1 published.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        {
            let mut i = inner.lock().unwrap();
            for name in ["rogue-1", "rogue-2", "rogue-3"] {
                i.keys.insert(name.to_owned(), TestKey::load(name));
            }
            i.published = vec!["rogue-1".to_owned()];
        }
        // The issuer URL needs the port, and the router needs the issuer: bind first.
        let listener = Served::listener().await;
        let issuer = format!("http://{}/rogue", listener.local_addr().unwrap());
        let shared = Shared { issuer: issuer.clone(), inner: inner.clone() };
        let router = Router::new()
            .route("/rogue/.well-known/openid-configuration", get(discovery))
            .route("/rogue/jwks", get(jwks))
            .route("/rogue/authorize", get(authorize))
            .route("/rogue/token", post(token))
            .route("/rogue/userinfo", get(userinfo))
            .route("/rogue/logout", get(logout))
            .with_state(shared);
        let served = Served::on(listener, router);
        Self { issuer, inner, _served: served }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// Publishes exactly these keys in the JWKS (key rotation).
    pub fn publish(&self, kids: &[&str]) {
        self.lock().published = kids.iter().map(|k| (*k).to_owned()).collect();
    }

    /// Good claims for a login with this nonce: the right iss and aud, fresh, one hour left.
    pub fn claims(&self, nonce: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "alice-sub",
            "email": "alice@example.com",
            "email_verified": true,
            "name": "Alice",
            "groups": ["sre", "dev"],
            "iat": now,
            "exp": now + 3600,
            "nonce": nonce,
        })
    }

    /// Signs claims as asked.
    pub fn sign(&self, claims: &Value, how: &Signing) -> String {
        let inner = self.lock();
        let key = |name: &str| inner.keys.get(name).unwrap_or_else(|| panic!("no test key {name}")).clone();
        match how {
            Signing::Rs256(name) => {
                let k = key(name);
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(k.kid.clone());
                jsonwebtoken::encode(&header, claims, &k.encoding).unwrap()
            }
            Signing::WrongKey { signer, kid } => {
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some((*kid).to_owned());
                jsonwebtoken::encode(&header, claims, &key(signer).encoding).unwrap()
            }
            Signing::None => {
                let kid = inner.published.first().cloned().unwrap_or_default();
                let header = json!({ "alg": "none", "typ": "JWT", "kid": kid });
                format!("{}.{}.", b64_json(&header), b64_json(claims))
            }
            Signing::Hs256WithPublicKey(name) => {
                let k = key(name);
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some(k.kid.clone());
                jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&k.public_pem)).unwrap()
            }
        }
    }

    /// A validly signed token whose payload was then changed: the signature no longer matches.
    pub fn tampered(&self, claims: &Value, change: impl FnOnce(&mut Value)) -> String {
        let token = self.sign(claims, &Signing::Rs256("rogue-1"));
        let parts: Vec<&str> = token.split('.').collect();
        let mut changed = claims.clone();
        change(&mut changed);
        format!("{}.{}.{}", parts[0], b64_json(&changed), parts[2])
    }

    /// Registers what the token endpoint answers for `code` (single use). Userinfo defaults to the
    /// ID-token claims' `sub` and `email`.
    pub fn grant(&self, code: &str, id_token: String) -> Grant {
        let grant = Grant {
            id_token,
            access_token: format!("at-{code}"),
            refresh_token: None,
            userinfo: None,
            expires_in: 300,
        };
        self.grant_with(code, grant.clone());
        grant
    }

    /// Registers a full grant for `code`.
    pub fn grant_with(&self, code: &str, grant: Grant) {
        let mut inner = self.lock();
        if let Some(info) = &grant.userinfo {
            inner.userinfo_by_token.insert(grant.access_token.clone(), info.clone());
        }
        inner.grants.insert(code.to_owned(), grant);
    }

    /// Registers what a refresh with `refresh_token` answers.
    pub fn on_refresh(&self, refresh_token: &str, grant: Grant) {
        let mut inner = self.lock();
        if let Some(info) = &grant.userinfo {
            inner.userinfo_by_token.insert(grant.access_token.clone(), info.clone());
        }
        inner.refresh.insert(refresh_token.to_owned(), grant);
    }

    /// Makes the token endpoint wait this long before answering (an IdP that is slow).
    pub fn delay_token_endpoint(&self, delay: std::time::Duration) {
        self.lock().token_delay = Some(delay);
    }

    /// Every token request so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().token_requests.clone()
    }

    /// Every authorize request so far (only when something followed the redirect).
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.lock().authorize_requests.clone()
    }

    /// Every end-session request so far.
    pub fn logout_requests(&self) -> Vec<HashMap<String, String>> {
        self.lock().logout_requests.clone()
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.lock().jwks_fetches
    }
}

/// The PKCE S256 challenge of a verifier (RFC 7636 4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The `at_hash` of an access token for RS256: the left half of its SHA-256, base64url.
pub fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    s.inner.lock().unwrap().discovery_fetches += 1;
    let i = &s.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "end_session_endpoint": format!("{i}/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "groups", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "groups"],
    }))
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    let mut inner = s.inner.lock().unwrap();
    inner.jwks_fetches += 1;
    let keys: Vec<Value> = inner.published.iter().map(|k| inner.keys[k].jwk.clone()).collect();
    Json(json!({ "keys": keys }))
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> &'static str {
    s.inner.lock().unwrap().authorize_requests.push(q);
    "rogue login page"
}

async fn logout(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> &'static str {
    s.inner.lock().unwrap().logout_requests.push(q);
    "signed out at the rogue issuer"
}

fn oauth_error(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error, "error_description": description })))
        .into_response()
}

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let delay = {
        let mut inner = s.inner.lock().unwrap();
        inner.token_requests.push(TokenRequest {
            form: form.clone(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        inner.token_delay
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let grant = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = form.get("code") else { return oauth_error("invalid_request", "code missing") };
            if form.get("code_verifier").is_none_or(String::is_empty) {
                return oauth_error("invalid_grant", "PKCE code_verifier required");
            }
            match s.inner.lock().unwrap().grants.remove(code) {
                Some(g) => g,
                None => return oauth_error("invalid_grant", "unknown or used code"),
            }
        }
        Some("refresh_token") => {
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            match s.inner.lock().unwrap().refresh.remove(&token) {
                Some(g) => g,
                None => return oauth_error("invalid_grant", "unknown refresh token"),
            }
        }
        _ => return oauth_error("unsupported_grant_type", "unsupported grant_type"),
    };
    let mut body = json!({
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
        "id_token": grant.id_token,
    });
    if let Some(r) = grant.refresh_token {
        body["refresh_token"] = Value::String(r);
    }
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn userinfo(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match s.inner.lock().unwrap().userinfo_by_token.get(token) {
        Some(info) => Json(info.clone()).into_response(),
        None => (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")])
            .into_response(),
    }
}
