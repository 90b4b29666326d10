//! One module per route.

mod drift;
mod home;
mod not_found;
mod reach;
mod service;
mod services;
mod status;
mod triage;
mod whoami;

pub use drift::{DriftListPage, DriftServicePage, drift_href};
pub use home::HomePage;
pub use not_found::NotFound;
pub use reach::ReachPage;
pub use service::ServicePage;
pub use services::ServicesPage;
pub use status::StatusPage;
pub use triage::TriagePage;
pub use whoami::WhoAmIPage;

/// `path` with `params` as its query string (`?k=v&...`, values percent-encoded; none: the bare path).
pub(crate) fn with_query(path: &str, params: Vec<(&str, String)>) -> String {
    let query: Vec<String> = params.into_iter().map(|(k, v)| format!("{k}={}", encode(&v))).collect();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) }
}

/// Percent-encodes a query value (unreserved characters stay as they are).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
