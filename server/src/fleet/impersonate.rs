//! Acting as a person: Kubernetes user impersonation.
//!
//! Impersonation is just request headers (`Impersonate-User`, one `Impersonate-Group` per group). Rather than
//! building a kube client (and a connection pool) per person, [`Impersonation::client`] wraps the cluster's
//! shared client: the returned client adds the headers and sends through the shared one.

use http::{HeaderName, HeaderValue, Request};
use kube::client::Body;

const USER: HeaderName = HeaderName::from_static("impersonate-user");
const GROUP: HeaderName = HeaderName::from_static("impersonate-group");
const UID: HeaderName = HeaderName::from_static("impersonate-uid");

/// Why an impersonating client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user name is empty.
    #[error("impersonated user name is empty")]
    EmptyUser,
    /// A name cannot be sent as an HTTP header value.
    #[error("{what} {value:?} cannot be sent as a header value")]
    InvalidHeader {
        /// "user" or "group".
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

/// Who to act as: a user name and the groups to claim for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impersonation {
    /// The Kubernetes user name, e.g. `alice@example.com`.
    pub user: String,
    /// The groups, e.g. `["sre"]`. The apiserver adds `system:authenticated` itself.
    pub groups: Vec<String>,
}

impl Impersonation {
    /// A user with these groups.
    pub fn new(user: impl Into<String>, groups: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { user: user.into(), groups: groups.into_iter().map(Into::into).collect() }
    }

    /// The headers to send, in order.
    pub fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        if self.user.is_empty() {
            return Err(Error::EmptyUser);
        }
        let value = |what, v: &str| {
            HeaderValue::from_str(v).map_err(|_| Error::InvalidHeader { what, value: v.to_owned() })
        };
        let mut headers = vec![(USER, value("user", &self.user)?)];
        for group in &self.groups {
            headers.push((GROUP, value("group", group)?));
        }
        Ok(headers)
    }

    /// A client that sends every request through `base` as this person.
    pub fn client(&self, base: &kube::Client) -> Result<kube::Client, Error> {
        let headers = self.headers()?;
        let base_for_svc = base.clone();
        let service = tower::service_fn(move |mut request: Request<Body>| {
            apply(&mut request, &headers);
            let base = base_for_svc.clone();
            async move { base.send(request).await }
        });
        Ok(kube::Client::new(service, base.default_namespace()))
    }
}

/// Replaces any impersonation headers on `request` with `headers`.
fn apply<B>(request: &mut Request<B>, headers: &[(HeaderName, HeaderValue)]) {
    let map = request.headers_mut();
    map.remove(USER);
    map.remove(GROUP);
    map.remove(UID);
    for (name, value) in headers {
        map.append(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_user_and_each_group() {
        let who = Impersonation::new("alice@example.com", ["sre", "team-a"]);
        let mut request = Request::new(());
        request.headers_mut().insert(GROUP, HeaderValue::from_static("system:masters"));
        apply(&mut request, &who.headers().unwrap());
        let groups: Vec<_> = request.headers().get_all(GROUP).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(groups, ["sre", "team-a"]);
        assert_eq!(request.headers()[USER], "alice@example.com");
    }

    #[test]
    fn rejects_what_cannot_be_a_header() {
        assert!(matches!(Impersonation::new("", ["sre"]).headers(), Err(Error::EmptyUser)));
        assert!(matches!(
            Impersonation::new("a\nb", Vec::<String>::new()).headers(),
            Err(Error::InvalidHeader { what: "user", .. })
        ));
    }
}
