//! The client every server function uses: the browser's `fetch`, plus the page's CSRF token as a header.
//!
//! Leptos server functions have no CSRF protection of their own; the server refuses a state-changing
//! `/api/*` request without the session's token (see the server's `auth::csrf`).

use std::future::Future;

use bytes::Bytes;
use futures::{Sink, Stream};
use server_fn::{
    client::{Client, browser::BrowserClient},
    error::FromServerFnError,
    request::browser::BrowserRequest,
    response::browser::BrowserResponse,
};

/// The header the token travels in; the server reads the same name.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// [`BrowserClient`] that adds `x-csrf-token` from `<meta name="csrf-token">`.
pub struct CsrfClient;

impl<E, IS, OS> Client<E, IS, OS> for CsrfClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        if let Some(token) = page_csrf_token() {
            req.headers().set(CSRF_HEADER, &token);
        }
        <BrowserClient as Client<E, IS, OS>>::send(req)
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (impl Stream<Item = Result<Bytes, Bytes>> + Send + 'static, impl Sink<Bytes> + Send + 'static),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future);
    }
}

/// The token the server put into the page's head.
#[cfg(feature = "hydrate")]
fn page_csrf_token() -> Option<String> {
    leptos::prelude::document()
        .query_selector(r#"meta[name="csrf-token"]"#)
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"))
        .filter(|t| !t.is_empty())
}

/// On the server, server functions are called directly, never through this client.
#[cfg(not(feature = "hydrate"))]
fn page_csrf_token() -> Option<String> {
    None
}
