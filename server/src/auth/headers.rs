//! Security headers on every response, with a per-request CSP nonce.
//!
//! The middleware makes a nonce, puts it into the request's extensions ([`CspNonce`]); the Leptos context
//! closure hands the same value to Leptos (`leptos::nonce::Nonce`), which writes it on the hydration
//! scripts; the response's `Content-Security-Policy` allows exactly that nonce.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// This request's CSP nonce.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// The parts of the policy fixed at start.
#[derive(Debug, Clone)]
pub struct HeaderPolicy {
    /// `form-action` sources besides `'self'`: the IdPs (logout redirects there).
    form_action: String,
    /// `connect-src` sources besides `'self'` (the dev auto-reload websocket under `cargo leptos watch`).
    connect_src: String,
}

impl HeaderPolicy {
    /// `issuer_origins`: where the logout form may end up; `reload`: the websocket of `cargo leptos watch`.
    pub fn new(issuer_origins: &[String], reload: Option<String>) -> Self {
        let form_action = issuer_origins.iter().map(|o| format!(" {o}")).collect();
        let connect_src = reload.map(|r| format!(" {r}")).unwrap_or_default();
        Self { form_action, connect_src }
    }

    /// The full `Content-Security-Policy` for one response.
    pub fn csp(&self, nonce: &str) -> String {
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; font-src 'self'; connect-src 'self'{}; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'; form-action 'self'{}",
            self.connect_src, self.form_action
        )
    }
}

/// Adds CSP (with a fresh nonce), `nosniff`, `Referrer-Policy`, `X-Frame-Options`, and `no-store` on
/// everything but static assets.
pub async fn security_headers(
    State(policy): State<Arc<HeaderPolicy>>,
    mut req: Request,
    next: Next,
) -> Response {
    let nonce = crate::auth::csrf::new_token();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let is_asset = req.uri().path().starts_with("/pkg/") || req.uri().path().starts_with("/favicon.");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&policy.csp(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: with it Chromium sends `Origin: null` on our own form posts (sign out).
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_has_the_nonce_and_no_unsafe_inline_scripts() {
        let p = HeaderPolicy::new(&["http://127.0.0.1:15556".to_owned()], None);
        let csp = p.csp("abc");
        assert!(csp.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("form-action 'self' http://127.0.0.1:15556"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
}
