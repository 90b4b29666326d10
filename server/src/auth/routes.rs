//! The sign-in flow's routes: `/auth/signin`, `/auth/login/{provider}`, `/auth/callback/{provider}`,
//! `POST /auth/logout`.

use axum::{
    Form, Router,
    extract::{Path, Query, State, rejection::FormRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;

use crate::{
    auth::{
        csrf,
        oidc::{CallbackParams, LoginError},
        pages, return_to,
        session::{self, MAX_PENDING, PENDING_TTL_SECS, PendingLogin, Session, SessionData, SignedIn, now},
    },
    state::AppState,
};

/// The `/auth/*` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signin", get(signin))
        .route("/auth/login/{provider}", get(login))
        .route("/auth/callback/{provider}", get(callback))
        .route("/auth/logout", post(logout))
}

#[derive(Debug, Default, Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LogoutForm {
    csrf_token: Option<String>,
}

async fn signin(State(state): State<AppState>, Query(q): Query<ReturnTo>) -> Response {
    pages::signin(&state.auth.providers, &return_to::sanitize(q.return_to.as_deref()))
}

async fn login(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ReturnTo>,
    session: Session,
) -> Response {
    let return_to = return_to::sanitize(q.return_to.as_deref());
    let started = match state.auth.provider(&name) {
        Ok(provider) => state.auth.start(provider, return_to.clone()).await,
        Err(e) => Err(e),
    };
    let (url, pending) = match started {
        Ok(started) => started,
        Err(e) => return refused(&name, &e, &return_to),
    };
    let mut data = session::load(&session).await;
    let now = now();
    data.pending.retain(|p| now - p.created_at <= PENDING_TTL_SECS);
    data.pending.push(pending);
    let excess = data.pending.len().saturating_sub(MAX_PENDING);
    data.pending.drain(..excess);
    if data.csrf_token.is_empty() {
        data.csrf_token = csrf::new_token();
    }
    if let Err(e) = session::store(&session, &data).await {
        tracing::error!(error = %e, "cannot store the pending login");
        return pages::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Fleetpane could not start the sign-in.",
            &return_to,
        );
    }
    Redirect::to(url.as_str()).into_response()
}

async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<CallbackParams>,
    session: Session,
) -> Response {
    let mut data = session::load(&session).await;
    let pending = take_pending(&mut data, params.state.as_deref());
    let return_to = pending.as_ref().map_or_else(|| "/".to_owned(), |p| p.return_to.clone());
    let finished = match (&pending, state.auth.provider(&name)) {
        (_, Err(e)) => Err(e),
        (None, Ok(_)) if params.state.is_none() => Err(LoginError::BadCallback("no state parameter".into())),
        (None, Ok(_)) => Err(LoginError::BadCallback("unknown, expired or already used state".into())),
        (Some(pending), Ok(provider)) => state.auth.finish(provider, pending, &params).await,
    };
    let (identity, tokens) = match finished {
        Ok(done) => done,
        Err(e) => {
            // No session from a failed sign-in: drop the pending login, and the whole session unless
            // someone was already signed in in it.
            if data.user.is_none() {
                session::end(&session).await;
            } else if let Err(e) = session::store(&session, &data).await {
                tracing::warn!(error = %e, "cannot update the session");
            }
            return refused(&name, &e, &return_to);
        }
    };
    // Against session fixation: a new id for the signed-in session.
    if let Err(e) = session.cycle_id().await {
        tracing::error!(error = %e, "cannot rotate the session id");
        return pages::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Fleetpane could not store your session.",
            &return_to,
        );
    }
    tracing::info!(
        provider = name,
        email = identity.email,
        groups = identity.groups.len(),
        refresh = tokens.refresh_token.is_some(),
        "signed in"
    );
    let data = SessionData {
        csrf_token: csrf::new_token(),
        pending: Vec::new(),
        user: Some(SignedIn { identity, tokens, last_seen: now() }),
    };
    if let Err(e) = session::store(&session, &data).await {
        tracing::error!(error = %e, "cannot store the session");
        return pages::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Fleetpane could not store your session.",
            &return_to,
        );
    }
    Redirect::to(&return_to).into_response()
}

/// Removes and returns the pending login with this `state`: each one is used once.
fn take_pending(data: &mut SessionData, state: Option<&str>) -> Option<PendingLogin> {
    let state = state?;
    let index = data.pending.iter().position(|p| csrf::check_token(Some(state), p.state.expose()).is_ok())?;
    Some(data.pending.remove(index))
}

/// One log line with the reason, and the page with the safe text.
fn refused(provider: &str, e: &LoginError, return_to: &str) -> Response {
    let status = e.status();
    tracing::warn!(provider, status = status.as_u16(), reason = %e, "sign-in refused");
    pages::error(status, e.public_message(), return_to)
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let data = session::load(&session).await;
    let Some(user) = data.user else {
        session::end(&session).await;
        return Redirect::to("/auth/signin").into_response();
    };
    let sent = form.ok().and_then(|Form(f)| f.csrf_token);
    if let Err(refused) = csrf::check_origin(&headers, &state.auth.public_origin)
        .and_then(|()| csrf::check_token(sent.as_deref(), &data.csrf_token))
    {
        tracing::warn!(email = user.identity.email, reason = %refused, "sign-out refused");
        return pages::error(
            StatusCode::FORBIDDEN,
            "The sign-out request was refused. Reload the page and try again.",
            "/",
        );
    }
    session::end(&session).await;
    tracing::info!(email = user.identity.email, provider = user.identity.provider, "signed out");
    match state.auth.end_session_url(&user.identity, &user.tokens).await {
        Some(url) => Redirect::to(url.as_str()).into_response(),
        None => Redirect::to("/auth/signin").into_response(),
    }
}
