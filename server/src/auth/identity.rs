//! Who is signed in: the [`Identity`] every handler and server function works with.
//!
//! The auth middleware ([`crate::auth::session::require_session`]) puts the identity of a valid session into
//! the request's extensions; handlers take it with the [`Identity`] extractor, server functions through the
//! Leptos context (the server's context closure copies it there).

use axum::{
    extract::FromRequestParts,
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

pub use crate::auth::groups::{Group, GroupSource};

/// A signed-in person, as Fleetpane knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The verified email address, lowercase.
    pub email: String,
    /// The `[[providers]]` name they signed in with.
    pub provider: String,
    /// The IdP's `sub` claim.
    pub subject: String,
    /// Every group, mapped and prefixed, with where it came from.
    pub groups: Vec<Group>,
    /// When they signed in, Unix seconds.
    pub login_at: i64,
    /// When the session ends at the latest (absolute timeout), Unix seconds.
    pub expires_at: i64,
}

impl Identity {
    /// The wire type for the browser.
    pub fn to_wire(&self, csrf_token: &str) -> fleetpane_app::model::WhoAmI {
        use fleetpane_app::model::{GroupOrigin, WhoAmI, WhoAmIGroup};
        WhoAmI {
            email: self.email.clone(),
            provider: self.provider.clone(),
            groups: self
                .groups
                .iter()
                .map(|g| WhoAmIGroup {
                    name: g.name.clone(),
                    source: match g.source {
                        GroupSource::Claim => GroupOrigin::Claim,
                        GroupSource::UserInfo => GroupOrigin::UserInfo,
                        GroupSource::Directory => GroupOrigin::Directory,
                    },
                })
                .collect(),
            session_expires_at: jiff::Timestamp::from_second(self.expires_at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            csrf_token: csrf_token.to_owned(),
        }
    }
}

/// The extractor's rejection: no valid session.
#[derive(Debug)]
pub struct NotSignedIn;

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, "sign in first\n").into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Identity>().cloned().ok_or(NotSignedIn)
    }
}
