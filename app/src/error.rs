//! The one error type that crosses the wire.
//!
//! Server functions return `Result<_, AppError>`; the type survives the network hop through
//! [`FromServerFnError`], so the browser can match on it. Every variant maps to an HTTP status and a plain
//! message that is safe to show; details belong in the server's log, never in the page.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use server_fn::{
    codec::PostcardEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

/// What went wrong, as the person in front of the page should learn it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    /// The request cannot be answered as asked (e.g. a search that does not parse); the message says why.
    #[error("{0}")]
    BadRequest(String),
    /// No such page or object.
    #[error("not found")]
    NotFound,
    /// No such object, and which one: e.g. "there is no Service team-a/x in prod-eu".
    #[error("{0}")]
    NoSuch(String),
    /// The cluster does not let the person read this; the message says what and where.
    #[error("{0}")]
    Forbidden(String),
    /// A cluster did not answer (in time); the message names it.
    #[error("{0}")]
    Unavailable(String),
    /// No valid session: sign in (again).
    #[error("not signed in")]
    Unauthorized,
    /// The server could not do its part; the log has the details.
    #[error("internal error: {0}")]
    Internal(String),
    /// The request or its answer did not make it across the network (raised in the browser or by the
    /// server-function plumbing).
    #[error("request failed: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status to answer with when this error ends a server-side render.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::NoSuch(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Transport(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = PostcardEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(detail)
            | ServerFnErrorErr::Response(detail)
            | ServerFnErrorErr::Serialization(detail)
            | ServerFnErrorErr::Deserialization(detail) => Self::Transport(detail),
            // The request's arguments did not parse: the caller's mistake, said as such (HTTP 400).
            ServerFnErrorErr::Args(detail) => Self::BadRequest(format!("bad arguments: {detail}")),
            ServerFnErrorErr::MissingArg(detail) => Self::BadRequest(format!("missing argument: {detail}")),
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(AppError::NotFound.status_code(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::BadRequest("x".into()).status_code(), StatusCode::BAD_REQUEST);
        assert_eq!(AppError::Internal("x".into()).status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(AppError::Forbidden("x".into()).status_code(), StatusCode::FORBIDDEN);
        assert_eq!(AppError::NoSuch("x".into()).status_code(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::Unavailable("x".into()).status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn round_trips_through_the_server_fn_codec() {
        let err = AppError::Internal("fleet not configured".into());
        assert_eq!(AppError::de(err.ser()), err);
    }
}
