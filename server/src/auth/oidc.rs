//! OpenID Connect with the openidconnect crate: discovery, the authorization request, the callback's full
//! validation, token refresh and the logout URL.
//!
//! - Discovery is lazy (first login), cached, and retried on the next login after a failure.
//! - The HTTP client towards IdPs follows no redirects and gives up after 5 s (502 / 504 pages).
//! - ID tokens: signature through the JWKS (asymmetric algorithms only; an unknown `kid` refetches the JWKS
//!   once, so key rotation works), `iss`, `aud`, `exp` and `iat` with [`CLOCK_SKEW`], `nonce`, `at_hash`.
//! - Mix-up defense (RFC 9700): one redirect URI per provider, the login is bound to its provider, and the
//!   RFC 9207 `iss` parameter is checked (required when the provider announces it).

use std::{sync::Arc, time::Duration};

use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError,
    ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
        CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
        CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
        CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    },
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    auth::{
        google,
        groups::{self, DirectorySource, SourceError},
        identity::Identity,
        session::{PENDING_TTL_SECS, PendingLogin, now},
    },
    config::{Config, ProviderConfig},
    secret::Secret,
};

/// Every request to an IdP (and its UserInfo) gives up after this long.
pub const IDP_TIMEOUT: Duration = Duration::from_secs(5);
/// Tolerated clock difference with the IdP for `exp` and `iat`.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(30);
/// An ID token issued longer ago than this is refused (it should be minutes old at most).
const MAX_TOKEN_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Signature algorithms accepted for ID tokens: asymmetric only (no `none`, no HMAC with a public key).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Discovery fields beyond OpenID Connect Discovery 1.0 that Fleetpane uses.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<Url>,
    /// RFC 9207: the provider sends `iss` with the authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

/// A provider's discovery document with its JWKS.
pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The IdP's tokens of a session. Kept server-side only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    /// The ID token (for `id_token_hint` at logout).
    pub id_token: Secret<String>,
    /// The access token.
    pub access_token: Secret<String>,
    /// The refresh token, if the IdP issued one.
    pub refresh_token: Option<Secret<String>>,
    /// When the access or ID token expires (the earlier), Unix seconds.
    pub expires_at: i64,
}

impl Tokens {
    /// Whether to refresh now: only with a refresh token, shortly before expiry.
    pub fn needs_refresh(&self, now: i64) -> bool {
        self.refresh_token.is_some() && now >= self.expires_at.saturating_sub(30)
    }
}

/// Why a sign-in failed. [`LoginError::status`] and [`LoginError::public_message`] are for the page; the
/// `Display` text is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No `[[providers]]` entry of that name.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The callback does not belong to a login of this browser (state missing, wrong, used, expired, or
    /// for another provider), or misses its parameters.
    #[error("bad callback: {0}")]
    BadCallback(String),
    /// The IdP answered the authorization request with an error (e.g. the user cancelled).
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The token endpoint refused the code (wrong PKCE verifier, used code, ...).
    #[error("token request refused: {0}")]
    TokenRefused(String),
    /// The ID token failed validation.
    #[error("invalid ID token: {0}")]
    InvalidToken(String),
    /// The IdP could not be reached or answered nonsense.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// The IdP did not answer in time.
    #[error("identity provider timed out: {0}")]
    Timeout(String),
    /// Groups or the access rules.
    #[error(transparent)]
    Groups(#[from] groups::Error),
}

impl LoginError {
    /// The HTTP status of the error page.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::UnknownProvider(_) => StatusCode::NOT_FOUND,
            Self::BadCallback(_) | Self::Refused(_) | Self::TokenRefused(_) | Self::InvalidToken(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Unavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Groups(e) => e.status_code(),
        }
    }

    /// What the page says: clear, and nothing that helps an attacker.
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::UnknownProvider(_) => "There is no sign-in provider of that name.",
            Self::BadCallback(_) => {
                "This sign-in link is not valid any more: it was already used, has expired, or was started in \
                 another browser."
            }
            Self::Refused(_) => "Your identity provider did not sign you in.",
            Self::TokenRefused(_) | Self::InvalidToken(_) => {
                "The answer from your identity provider could not be verified."
            }
            Self::Unavailable(_) => {
                "Your identity provider cannot be reached right now. Try again in a moment."
            }
            Self::Timeout(_) => "Your identity provider did not answer in time. Try again in a moment.",
            Self::Groups(e) => e.public_message(),
        }
    }
}

/// One configured provider and what was discovered about it.
pub struct Provider {
    /// Its configuration.
    pub config: ProviderConfig,
    redirect_url: RedirectUrl,
    discovered: tokio::sync::Mutex<Option<Arc<Metadata>>>,
    directory: Option<google::DirectoryClient>,
}

/// Everything sign-in needs, shared by all requests.
pub struct Auth {
    /// The providers, in configuration order.
    pub providers: Vec<Arc<Provider>>,
    /// The client towards IdPs: no redirects, [`IDP_TIMEOUT`].
    pub http: reqwest::Client,
    /// `server.public_url`.
    pub public_url: Url,
    /// Its origin (`scheme://host[:port]`), what `Origin` headers must say.
    pub public_origin: String,
    /// `session.absolute_timeout` in seconds.
    pub absolute_timeout: i64,
}

/// Why [`Auth`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for identity providers")]
    Http(#[source] reqwest::Error),
    /// A redirect URI is not a URL.
    #[error("providers[{0}]: cannot build the redirect URI from server.public_url")]
    RedirectUri(usize),
    /// The Google directory client could not be built.
    #[error("providers[{index}].groups.google_directory")]
    Directory {
        /// Which provider.
        index: usize,
        /// Why.
        #[source]
        source: google::Error,
    },
}

impl Auth {
    /// Builds the providers (no network: discovery happens at the first login).
    pub fn new(config: &Config) -> Result<Self, SetupError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(IDP_TIMEOUT)
            .connect_timeout(IDP_TIMEOUT)
            .user_agent("fleetpane")
            .build()
            .map_err(SetupError::Http)?;
        let public_url = config.server.public_url.clone();
        let mut providers = Vec::new();
        for (index, p) in config.providers.iter().enumerate() {
            let redirect = public_url
                .join(&format!("/auth/callback/{}", p.name))
                .map_err(|_| SetupError::RedirectUri(index))?;
            let directory = p
                .groups
                .google_directory
                .as_ref()
                .map(google::DirectoryClient::new)
                .transpose()
                .map_err(|source| SetupError::Directory { index, source })?;
            providers.push(Arc::new(Provider {
                config: p.clone(),
                redirect_url: RedirectUrl::from_url(redirect),
                discovered: tokio::sync::Mutex::new(None),
                directory,
            }));
        }
        Ok(Self {
            providers,
            http,
            public_origin: public_url.origin().ascii_serialization(),
            public_url,
            absolute_timeout: i64::try_from(config.session.absolute_timeout.as_secs()).unwrap_or(i64::MAX),
        })
    }

    /// The provider of that name.
    pub fn provider(&self, name: &str) -> Result<&Arc<Provider>, LoginError> {
        self.providers
            .iter()
            .find(|p| p.config.name == name)
            .ok_or_else(|| LoginError::UnknownProvider(name.to_owned()))
    }

    /// Starts a login: the IdP URL to send the browser to, and what the callback must find again.
    pub async fn start(
        &self,
        provider: &Provider,
        return_to: String,
    ) -> Result<(Url, PendingLogin), LoginError> {
        let metadata = provider.metadata(&self.http).await?;
        let client = provider.client(&metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_scopes(provider.config.scopes.iter().map(|s| Scope::new(s.clone())));
        // A refresh token where the provider offers one. oidc-provider (and the spec) drop offline_access
        // unless consent is prompted.
        let offers_offline = metadata
            .scopes_supported()
            .is_some_and(|scopes| scopes.iter().any(|s| s.as_str() == "offline_access"));
        if offers_offline && !provider.config.scopes.iter().any(|s| s == "offline_access") {
            request = request
                .add_scope(Scope::new("offline_access".to_owned()))
                .add_prompt(CoreAuthPrompt::Consent);
        }
        let (url, state, nonce) = request.url();
        let pending = PendingLogin {
            provider: provider.config.name.clone(),
            state: Secret::new(state.secret().clone()),
            nonce: Secret::new(nonce.secret().clone()),
            pkce_verifier: Secret::new(verifier.secret().clone()),
            return_to,
            created_at: now(),
        };
        Ok((url, pending))
    }

    /// Finishes a login: checks the callback against the pending login, exchanges the code, validates the
    /// ID token, resolves the groups and applies the access rules.
    pub async fn finish(
        &self,
        provider: &Provider,
        pending: &PendingLogin,
        callback: &CallbackParams,
    ) -> Result<(Identity, Tokens), LoginError> {
        if pending.provider != provider.config.name {
            return Err(LoginError::BadCallback(format!(
                "login started at provider {:?}, callback came for {:?}",
                pending.provider, provider.config.name
            )));
        }
        if now() - pending.created_at > PENDING_TTL_SECS {
            return Err(LoginError::BadCallback("the login expired".into()));
        }
        let metadata = provider.metadata(&self.http).await?;
        // RFC 9207: the authorization response names its issuer.
        match &callback.iss {
            Some(iss) if iss != metadata.issuer().as_str() => {
                return Err(LoginError::BadCallback(format!(
                    "iss parameter {iss:?} is not the provider's issuer"
                )));
            }
            None if metadata.additional_metadata().authorization_response_iss_parameter_supported => {
                return Err(LoginError::BadCallback("iss parameter missing".into()));
            }
            _ => {}
        }
        if let Some(error) = &callback.error {
            return Err(LoginError::Refused(error.chars().take(100).collect()));
        }
        let code = callback.code.as_deref().filter(|c| !c.is_empty());
        let code = code.ok_or_else(|| LoginError::BadCallback("no code parameter".into()))?;

        let client = provider.client(&metadata);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| LoginError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.expose().clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("token request", e))?;
        let id_token = response.id_token().ok_or_else(|| LoginError::InvalidToken("no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce.expose().clone());
        let (claims, client) = match verify(&client, id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // Key rotation: the token names a key the cached JWKS does not hold. Refetch once.
                let metadata = provider.refetch_jwks(&self.http, &metadata).await?;
                let client = provider.client(&metadata);
                let claims =
                    verify(&client, id_token, &nonce).map_err(|e| LoginError::InvalidToken(e.to_string()))?;
                (claims, client)
            }
            other => (other.map_err(|e| LoginError::InvalidToken(e.to_string()))?, client),
        };
        check_at_hash(&client, id_token, &claims, response.access_token())?;

        let email = claims
            .email()
            .map(|e| e.as_str().trim().to_ascii_lowercase())
            .filter(|e| e.contains('@'))
            .ok_or_else(|| LoginError::InvalidToken("no email claim (ask for the email scope)".into()))?;
        let raw_claims = jwt_payload(&id_token.to_string())?;
        let userinfo = UserInfo {
            http: self.http.clone(),
            endpoint: metadata.userinfo_endpoint().map(|u| u.url().clone()),
            access_token: Secret::new(response.access_token().secret().clone()),
        };
        let userinfo_fn = move || userinfo.clone().fetch();
        let directory = provider.directory.as_ref().map(|d| d as &dyn DirectorySource);
        let groups = groups::resolve(
            &provider.config.groups,
            &provider.config.access,
            &email,
            &raw_claims,
            &userinfo_fn,
            directory,
        )
        .await?;

        let login_at = now();
        let identity = Identity {
            email,
            provider: provider.config.name.clone(),
            subject: claims.subject().as_str().to_owned(),
            groups,
            login_at,
            expires_at: login_at.saturating_add(self.absolute_timeout),
        };
        let tokens = Tokens {
            id_token: Secret::new(id_token.to_string()),
            access_token: Secret::new(response.access_token().secret().clone()),
            refresh_token: response.refresh_token().map(|t| Secret::new(t.secret().clone())),
            expires_at: expiry(response.expires_in(), claims.expiration().timestamp()),
        };
        Ok((identity, tokens))
    }

    /// New tokens from the refresh token. A refreshed ID token is validated and must be the same user's.
    pub async fn refresh(&self, identity: &Identity, tokens: &Tokens) -> Result<Tokens, LoginError> {
        let provider = self.provider(&identity.provider)?;
        let refresh_token = tokens
            .refresh_token
            .as_ref()
            .ok_or_else(|| LoginError::TokenRefused("no refresh token".into()))?;
        let metadata = provider.metadata(&self.http).await?;
        let client = provider.client(&metadata);
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().clone()))
            .map_err(|e| LoginError::Unavailable(format!("token endpoint: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("refresh", e))?;
        let (id_token, id_exp) = match response.id_token() {
            Some(id_token) => {
                // Refreshed ID tokens carry no nonce of ours (OpenID Connect Core 12.2).
                let no_nonce = |_: Option<&Nonce>| Ok(());
                let claims = id_token
                    .claims(&verifier(&client), no_nonce)
                    .map_err(|e| LoginError::InvalidToken(e.to_string()))?;
                if claims.subject().as_str() != identity.subject {
                    return Err(LoginError::InvalidToken("refreshed ID token is for another subject".into()));
                }
                (Secret::new(id_token.to_string()), Some(claims.expiration().timestamp()))
            }
            None => (tokens.id_token.clone(), None),
        };
        let fallback_exp = id_exp.unwrap_or_else(|| now().saturating_add(300));
        Ok(Tokens {
            id_token,
            access_token: Secret::new(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone()))
                .or_else(|| tokens.refresh_token.clone()),
            expires_at: expiry(response.expires_in(), fallback_exp),
        })
    }

    /// Where to send the browser after the local logout: the IdP's `end_session_endpoint` when it has one.
    pub async fn end_session_url(&self, identity: &Identity, tokens: &Tokens) -> Option<Url> {
        let provider = self.provider(&identity.provider).ok()?;
        let metadata = provider.metadata(&self.http).await.ok()?;
        let mut url = metadata.additional_metadata().end_session_endpoint.clone()?;
        let after = self.public_url.join("/").ok()?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", tokens.id_token.expose())
            .append_pair("post_logout_redirect_uri", after.as_str())
            .append_pair("client_id", &provider.config.client_id);
        Some(url)
    }

    /// The origins of the providers' issuers (the logout form's redirect goes there: CSP `form-action`).
    pub fn issuer_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> =
            self.providers.iter().map(|p| p.config.issuer.origin().ascii_serialization()).collect();
        origins.dedup();
        origins
    }
}

/// The callback's query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// Our `state`.
    pub state: Option<String>,
    /// RFC 9207 issuer identifier.
    pub iss: Option<String>,
    /// An error instead of a code.
    pub error: Option<String>,
}

impl Provider {
    /// The discovery document (with JWKS), fetched at first use and cached; a failure is retried next time.
    async fn metadata(&self, http: &reqwest::Client) -> Result<Arc<Metadata>, LoginError> {
        let mut cached = self.discovered.lock().await;
        if let Some(metadata) = cached.as_ref() {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer_id.clone())
            .map_err(|e| LoginError::Unavailable(format!("issuer: {e}")))?;
        let metadata = Metadata::discover_async(issuer, http).await.map_err(|e| upstream("discovery", &e))?;
        tracing::info!(
            provider = self.config.name,
            keys = metadata.jwks().keys().len(),
            "provider discovered"
        );
        let metadata = Arc::new(metadata);
        *cached = Some(metadata.clone());
        Ok(metadata)
    }

    /// Fetches the JWKS again (after an unknown `kid`) and caches the result.
    async fn refetch_jwks(
        &self,
        http: &reqwest::Client,
        seen: &Metadata,
    ) -> Result<Arc<Metadata>, LoginError> {
        let mut cached = self.discovered.lock().await;
        let jwks =
            JsonWebKeySet::fetch_async(seen.jwks_uri(), http).await.map_err(|e| upstream("jwks", &e))?;
        tracing::info!(provider = self.config.name, keys = jwks.keys().len(), "provider keys refetched");
        let metadata = Arc::new(seen.clone().set_jwks(jwks));
        *cached = Some(metadata.clone());
        Ok(metadata)
    }

    fn client(&self, metadata: &Metadata) -> OidcClient {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.expose().clone())),
        )
        .set_redirect_uri(self.redirect_url.clone())
    }
}

/// The ID-token verifier: the client's (iss, aud, signature) with Fleetpane's algorithms, skew and age.
fn verifier(client: &OidcClient) -> CoreIdTokenVerifier<'_> {
    client
        .id_token_verifier()
        .set_allowed_algs(ALLOWED_ALGS)
        .set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW)
        .set_issue_time_verifier_fn(|iat| {
            let now = chrono::Utc::now();
            if iat > now + CLOCK_SKEW {
                Err(format!("issued in the future ({iat})"))
            } else if iat < now - MAX_TOKEN_AGE {
                Err(format!("issued too long ago ({iat})"))
            } else {
                Ok(())
            }
        })
}

fn verify(
    client: &OidcClient,
    id_token: &CoreIdToken,
    nonce: &Nonce,
) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
    id_token.claims(&verifier(client), nonce).cloned()
}

/// `at_hash`, when present, must match the access token.
fn check_at_hash(
    client: &OidcClient,
    id_token: &CoreIdToken,
    claims: &CoreIdTokenClaims,
    access_token: &AccessToken,
) -> Result<(), LoginError> {
    let Some(expected) = claims.access_token_hash() else { return Ok(()) };
    let verifier = verifier(client);
    let alg = id_token.signing_alg().map_err(|e| LoginError::InvalidToken(e.to_string()))?;
    let key = id_token.signing_key(&verifier).map_err(|e| LoginError::InvalidToken(e.to_string()))?;
    let actual = AccessTokenHash::from_token(access_token, alg, key)
        .map_err(|e| LoginError::InvalidToken(format!("at_hash: {e}")))?;
    if actual == *expected { Ok(()) } else { Err(LoginError::InvalidToken("at_hash does not match".into())) }
}

/// The claims of a (verified) JWT as JSON, for the group resolution.
fn jwt_payload(jwt: &str) -> Result<serde_json::Value, LoginError> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).ok_or_else(|| LoginError::InvalidToken("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| LoginError::InvalidToken(format!("payload: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| LoginError::InvalidToken(format!("payload: {e}")))
}

/// The earlier of the access token's and the ID token's expiry.
fn expiry(expires_in: Option<Duration>, id_token_exp: i64) -> i64 {
    let access = expires_in.map(|d| now().saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    access.map_or(id_token_exp, |a| a.min(id_token_exp))
}

/// Token endpoint errors: an error answer is a refusal (400), the rest is the IdP's fault (502/504).
fn token_error<RE, T>(what: &str, e: RequestTokenError<RE, T>) -> LoginError
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match e {
        RequestTokenError::ServerResponse(answer) => LoginError::TokenRefused(format!("{what}: {answer}")),
        other => upstream(what, &other),
    }
}

/// An error talking to the IdP: 504 when it timed out, else 502. The log gets the whole chain.
fn upstream(what: &str, error: &(dyn std::error::Error + 'static)) -> LoginError {
    let mut chain = error.to_string();
    let is_timeout = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_timeout)
    };
    let mut timed_out = is_timeout(error);
    let mut source = error.source();
    while let Some(e) = source {
        timed_out |= is_timeout(e);
        chain.push_str(": ");
        chain.push_str(&e.to_string());
        source = e.source();
    }
    if timed_out {
        LoginError::Timeout(format!("{what}: {chain}"))
    } else {
        LoginError::Unavailable(format!("{what}: {chain}"))
    }
}

/// The provider's UserInfo endpoint for one login.
#[derive(Clone)]
struct UserInfo {
    http: reqwest::Client,
    endpoint: Option<Url>,
    access_token: Secret<String>,
}

impl UserInfo {
    async fn fetch(self) -> Result<Option<serde_json::Value>, SourceError> {
        let Some(endpoint) = self.endpoint else { return Ok(None) };
        let classify =
            |e: reqwest::Error| if e.is_timeout() { SourceError::timeout(e) } else { SourceError::failed(e) };
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(self.access_token.expose())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(classify)?
            .error_for_status()
            .map_err(classify)?;
        response.json().await.map(Some).map_err(classify)
    }
}
