//! The sign-in page and the sign-in error pages: plain server-rendered HTML, no script.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::auth::oidc::Provider;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn document(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · Fleetpane</title>\
         <link rel=\"stylesheet\" href=\"/pkg/fleetpane.css\">\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"></head>\
         <body><header class=\"topbar\"><a class=\"brand\" href=\"/\">\
         <img src=\"/favicon.svg\" alt=\"\" width=\"20\" height=\"20\">Fleetpane</a></header>\
         <main id=\"main\">{body}</main></body></html>\n",
        title = escape(title),
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// `/auth/signin`: one button per provider, each carrying `return_to` on.
pub fn signin(providers: &[std::sync::Arc<Provider>], return_to: &str) -> Response {
    let query = if return_to == "/" { String::new() } else { format!("?return_to={}", encode(return_to)) };
    let buttons: String = providers
        .iter()
        .map(|p| {
            format!(
                "<li><a class=\"button signin-provider\" data-provider=\"{name}\" href=\"/auth/login/{name}{query}\">\
                 Sign in with {display}</a></li>",
                name = escape(&p.config.name),
                query = escape(&query),
                display = escape(&p.config.display_name),
            )
        })
        .collect();
    document(
        StatusCode::OK,
        "Sign in",
        &format!(
            "<section class=\"page-head\"><h1>Sign in</h1></section>\
             <p>Sign in with your company account to see the fleet.</p>\
             <ul class=\"signin-providers\">{buttons}</ul>"
        ),
    )
}

/// A refused or failed sign-in: what went wrong (safe text only) and a way forward.
pub fn error(status: StatusCode, message: &str, return_to: &str) -> Response {
    let again = if return_to == "/" {
        "/auth/signin".to_owned()
    } else {
        format!("/auth/signin?return_to={}", encode(return_to))
    };
    let heading = match status {
        StatusCode::FORBIDDEN => "Access denied",
        s if s.is_server_error() => "Sign-in provider unavailable",
        _ => "Sign-in failed",
    };
    document(
        status,
        heading,
        &format!(
            "<section class=\"page-head\"><h1>{heading}</h1></section>\
             <p class=\"signin-error\" role=\"alert\">{message}</p>\
             <p><a class=\"button\" id=\"signin-again\" href=\"{again}\">Try signing in again</a></p>",
            message = escape(message),
            again = escape(&again),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
