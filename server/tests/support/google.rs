//! A local stand-in of Google's OAuth token endpoint and Admin SDK Directory API, following the documented
//! request and response shapes:
//!
//! - `POST /token` (the service account's `token_uri`): form `grant_type=urn:ietf:params:oauth:grant-type:
//!   jwt-bearer&assertion=<JWT>`. The JWT must be RS256, signed by the service account's key, with
//!   `iss` = client_email, `aud` = token_uri, `scope` = the group-readonly scope, `sub` = the delegated
//!   admin, and at most one hour between `iat` and `exp`. Success: `{access_token, expires_in, token_type}`;
//!   refusal: 400/401 `{error: "unauthorized_client" | "invalid_grant" | ..., error_description}`.
//! - `GET /admin/directory/v1/groups?userKey=&maxResults=&pageToken=` with `Authorization: Bearer`:
//!   `{kind: "admin#directory#groups", etag, groups: [admin#directory#group...], nextPageToken}`;
//!   401/403/404 `{error: {code, message, errors: [{message, domain, reason}]}}`.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{Served, fixture};

/// The scope the stand-in grants.
pub const SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.group.readonly";
/// The service account's email.
pub const CLIENT_EMAIL: &str = "fleetpane-groups@fleetpane-test.iam.gserviceaccount.com";
/// The admin the service account may act for (domain-wide delegation).
pub const ADMIN_EMAIL: &str = "admin@example.com";

#[derive(Default)]
struct Inner {
    /// userKey -> groups (as full directory group objects).
    users: HashMap<String, Vec<Value>>,
    issued: HashSet<String>,
    token_requests: usize,
    group_requests: Vec<HashMap<String, String>>,
    /// Answers pages of at most this many groups, whatever maxResults says (to test paging).
    page_size: Option<usize>,
    /// The Directory API answers 403 for everything.
    forbidden: bool,
    /// The groups endpoint waits this long.
    delay: Option<Duration>,
}

/// The stand-in. Dropping it stops the server.
pub struct GoogleStandIn {
    /// The Directory API base (config `api_base`), `http://127.0.0.1:PORT`.
    pub api_base: String,
    /// The token endpoint (the key file's `token_uri`).
    pub token_uri: String,
    inner: Arc<Mutex<Inner>>,
    _served: Served,
}

#[derive(Clone)]
struct Shared {
    token_uri: String,
    public_key: DecodingKey,
    inner: Arc<Mutex<Inner>>,
}

impl GoogleStandIn {
    /// Starts the stand-in with no users.
    pub async fn start() -> Self {
        let listener = Served::listener().await;
        let base = format!("http://{}", listener.local_addr().unwrap());
        let token_uri = format!("{base}/token");
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = Shared {
            token_uri: token_uri.clone(),
            public_key: DecodingKey::from_rsa_pem(&fixture("google-sa.pub.pem")).unwrap(),
            inner: inner.clone(),
        };
        let router = Router::new()
            .route("/token", post(token))
            .route("/admin/directory/v1/groups", get(groups))
            .with_state(shared);
        Self { api_base: base, token_uri, inner, _served: Served::on(listener, router) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// The service account JSON key, as Google's console downloads it, pointing at this stand-in.
    pub fn key_json(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "fleetpane-test",
            "private_key_id": "sa-key-1",
            "private_key": String::from_utf8(fixture("google-sa.key")).unwrap(),
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "http://127.0.0.1:9/auth",
            "token_uri": self.token_uri,
        })
        .to_string()
    }

    /// Adds a user with groups given by email; name and id are derived.
    pub fn add_user(&self, email: &str, group_emails: &[&str]) {
        let groups = group_emails
            .iter()
            .enumerate()
            .map(|(i, g)| {
                json!({
                    "kind": "admin#directory#group",
                    "id": format!("0{i:015x}"),
                    "etag": format!("\"etag-{i}\""),
                    "email": g,
                    "name": g.split('@').next().unwrap_or_default(),
                    "directMembersCount": "3",
                    "description": format!("test group {g}"),
                    "adminCreated": true,
                })
            })
            .collect();
        self.lock().users.insert(email.to_owned(), groups);
    }

    /// Pages hold at most `n` groups from now on.
    pub fn page_size(&self, n: usize) {
        self.lock().page_size = Some(n);
    }

    /// The Directory API answers 403 from now on.
    pub fn forbid(&self) {
        self.lock().forbidden = true;
    }

    /// The groups endpoint waits this long before answering.
    pub fn delay(&self, d: Duration) {
        self.lock().delay = Some(d);
    }

    /// How many token requests arrived (successful or not).
    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    /// The query of every groups request.
    pub fn group_requests(&self) -> Vec<HashMap<String, String>> {
        self.lock().group_requests.clone()
    }

    /// Forgets every issued access token (as if revoked).
    pub fn revoke_tokens(&self) {
        self.lock().issued.clear();
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

fn api_error(status: StatusCode, message: &str, reason: &str) -> Response {
    let body = json!({ "error": {
        "code": status.as_u16(),
        "message": message,
        "errors": [{ "message": message, "domain": "global", "reason": reason }],
    }});
    (status, Json(body)).into_response()
}

async fn token(State(s): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let count = {
        let mut inner = s.inner.lock().unwrap();
        inner.token_requests += 1;
        inner.token_requests
    };
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&s.token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = match jsonwebtoken::decode::<Value>(assertion, &s.public_key, &validation) {
        Ok(data) => data.claims,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &format!("Invalid JWT: {e}")),
    };
    let (iat, exp) = (claims["iat"].as_i64().unwrap_or(0), claims["exp"].as_i64().unwrap_or(0));
    if exp - iat > 3600 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    let unauthorized = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for \
             any of the scopes requested.",
        )
    };
    if claims["sub"] != ADMIN_EMAIL {
        return unauthorized();
    }
    let scopes: Vec<&str> = claims["scope"].as_str().unwrap_or_default().split(' ').collect();
    if scopes != [SCOPE] {
        return unauthorized();
    }
    let access_token = format!("ya29.stand-in-{count}");
    s.inner.lock().unwrap().issued.insert(access_token.clone());
    Json(json!({ "access_token": access_token, "expires_in": 3599, "token_type": "Bearer" })).into_response()
}

async fn groups(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let delay = {
        let mut inner = s.inner.lock().unwrap();
        inner.group_requests.push(q.clone());
        inner.delay
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let inner = s.inner.lock().unwrap();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !inner.issued.contains(bearer) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or \
             other valid authentication credential.",
            "authError",
        );
    }
    if inner.forbidden {
        return api_error(StatusCode::FORBIDDEN, "Not Authorized to access this resource/api", "forbidden");
    }
    let Some(user) = q.get("userKey") else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Missing required field: [userKey or domain or customer]",
            "required",
        );
    };
    let Some(all) = inner.users.get(user) else {
        return api_error(StatusCode::NOT_FOUND, "Resource Not Found: userKey", "notFound");
    };
    let max = q.get("maxResults").and_then(|m| m.parse::<usize>().ok()).unwrap_or(200).clamp(1, 200);
    let size = inner.page_size.map_or(max, |p| p.min(max));
    let start = match q.get("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n <= all.len() => n,
            _ => return api_error(StatusCode::BAD_REQUEST, "Invalid Input: pageToken", "invalid"),
        },
    };
    let end = (start + size).min(all.len());
    let mut body = json!({ "kind": "admin#directory#groups", "etag": "\"list-etag\"" });
    // Google leaves `groups` out when there are none.
    if end > start {
        body["groups"] = Value::Array(all[start..end].to_vec());
    }
    if end < all.len() {
        body["nextPageToken"] = Value::String(format!("page-{end}"));
    }
    Json(body).into_response()
}
