//! Sign-in with OpenID Connect, sessions, and the identity every request carries.
//!
//! ```text
//! GET  /auth/signin             sign-in page: one button per provider
//! GET  /auth/login/{provider}   PKCE + state + nonce into the session, 303 to the IdP   (oidc.rs)
//! GET  /auth/callback/{provider}  validate everything, resolve groups (groups.rs, google.rs),
//!                               cycle the session id, store the identity, 303 to return_to
//! POST /auth/logout             CSRF-checked; delete the session, 303 to end_session or sign-in
//! every other route             needs a session (identity.rs): pages 303 to sign-in, /api/* 401
//! every response                security headers with a per-request CSP nonce (headers.rs)
//! ```

pub mod csrf;
pub mod google;
pub mod groups;
pub mod headers;
pub mod identity;
pub mod oidc;
pub mod pages;
pub mod return_to;
pub mod routes;
pub mod session;
pub mod session_store;
