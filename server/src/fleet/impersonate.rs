//! Acting as a person: Kubernetes user impersonation.
//!
//! Impersonation is just request headers (`Impersonate-User`, one `Impersonate-Group` per group). Rather than
//! building a kube client (and a connection pool) per person, [`Impersonation::client`] wraps the cluster's
//! shared client: the returned client adds the headers and sends through the shared one.
//!
//! What the IdP said is not sent blindly. Each cluster's [`Policy`] first:
//! - never impersonates a `system:` user or group as such: it is dropped, or prefixed (`oidc:system:...`);
//! - sends only the groups the cluster lets Fleetpane impersonate, when those are configured (they mirror the
//!   `resourceNames` of Fleetpane's impersonator ClusterRole; any other group would fail the whole request);
//! - drops a group that cannot travel exactly: HTTP trims leading and trailing whitespace and forbids control
//!   characters, so such a name would reach the cluster altered.
//!
//! Names with commas, inner spaces or non-ASCII characters pass exactly, one header each: a header value may
//! hold any byte but controls, and the apiserver (Go) reads the raw bytes back as the UTF-8 string they encode.
//! It reads each `Impersonate-Group` line on its own, so commas never split a group.

use http::{HeaderName, HeaderValue, Request};
use kube::client::Body;

const USER: HeaderName = HeaderName::from_static("impersonate-user");
const GROUP: HeaderName = HeaderName::from_static("impersonate-group");

/// Every header name the apiserver treats as impersonation starts with this.
const IMPERSONATE_PREFIX: &str = "impersonate-";

/// Kubernetes' reserved name space: `system:masters` is cluster admin.
pub const SYSTEM_PREFIX: &str = "system:";

/// Why an impersonating client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user name is empty.
    #[error("impersonated user name is empty")]
    EmptyUser,
    /// The user name is a `system:` name and the policy drops those.
    #[error("user {0:?} is a system: name, which this cluster's policy does not impersonate")]
    SystemUser(String),
    /// A name cannot be sent as an HTTP header value exactly.
    #[error("{what} {value:?} cannot be sent as a header value")]
    InvalidHeader {
        /// "user" or "group".
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

/// Who to act as: a user name and the groups to claim for them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Impersonation {
    /// The Kubernetes user name, e.g. `alice@example.com`.
    pub user: String,
    /// The groups, e.g. `["sre"]`. The apiserver adds `system:authenticated` itself.
    pub groups: Vec<String>,
}

/// What to do with a `system:` user or group name from the IdP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SystemNames {
    /// Leave the group out; refuse a `system:` user.
    #[default]
    Drop,
    /// Send it behind the policy's prefix (`oidc:system:foo`), which RBAC can bind like any other name.
    Prefix,
}

/// One cluster's rules for what Fleetpane impersonates (`[clusters.impersonation]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// What happens to `system:` names.
    pub system_names: SystemNames,
    /// The prefix for [`SystemNames::Prefix`]; never itself a `system:` name.
    pub prefix: String,
    /// When set, only these groups are sent (the `resourceNames` Fleetpane may impersonate there).
    pub allowed_groups: Option<Vec<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Self { system_names: SystemNames::Drop, prefix: "oidc:".to_owned(), allowed_groups: None }
    }
}

impl Policy {
    /// `who` as this cluster may see them: `system:` names dropped or prefixed, groups not allowed here and
    /// groups that cannot travel exactly left out. Every change is logged.
    pub fn apply(&self, who: &Impersonation) -> Result<Impersonation, Error> {
        if who.user.is_empty() {
            return Err(Error::EmptyUser);
        }
        let Some(user) = self.system_name(&who.user) else {
            tracing::warn!(user = who.user, "refusing to impersonate a system: user");
            return Err(Error::SystemUser(who.user.clone()));
        };
        if user != who.user {
            tracing::warn!(user = who.user, sent = user, "impersonating a system: user under a prefix");
        }
        let mut groups = Vec::with_capacity(who.groups.len());
        for group in &who.groups {
            let Some(name) = self.system_name(group) else {
                tracing::warn!(user = who.user, group, "not impersonating a system: group");
                continue;
            };
            if name != *group {
                tracing::warn!(
                    user = who.user,
                    group,
                    sent = name,
                    "impersonating a system: group under a prefix"
                );
            }
            if !travels_exactly(&name) {
                tracing::warn!(user = who.user, group, "not impersonating a group that HTTP would alter");
                continue;
            }
            if let Some(allowed) = &self.allowed_groups
                && !allowed.contains(&name)
            {
                tracing::debug!(user = who.user, group = name, "group not impersonable in this cluster");
                continue;
            }
            if !groups.contains(&name) {
                groups.push(name);
            }
        }
        Ok(Impersonation { user, groups })
    }

    /// The name to send for `name`, or `None` to leave it out.
    fn system_name(&self, name: &str) -> Option<String> {
        if !name.starts_with(SYSTEM_PREFIX) {
            return Some(name.to_owned());
        }
        match self.system_names {
            SystemNames::Drop => None,
            SystemNames::Prefix => Some(format!("{}{name}", self.prefix)),
        }
    }
}

/// Whether `value` reaches the apiserver byte for byte: not empty, no control characters, no whitespace
/// at either end (HTTP strips it).
fn travels_exactly(value: &str) -> bool {
    !value.is_empty()
        && !value.chars().any(char::is_control)
        && !value.starts_with(char::is_whitespace)
        && !value.ends_with(char::is_whitespace)
}

impl Impersonation {
    /// A user with these groups.
    pub fn new(user: impl Into<String>, groups: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { user: user.into(), groups: groups.into_iter().map(Into::into).collect() }
    }

    /// The signed-in person: the email as user name, and every group.
    pub fn of(identity: &crate::auth::identity::Identity) -> Self {
        Self::new(identity.email.clone(), identity.groups.iter().map(|g| g.name.clone()))
    }

    /// The headers to send, in order. Values are the names' UTF-8 bytes, unchanged.
    pub fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        if self.user.is_empty() {
            return Err(Error::EmptyUser);
        }
        let value = |what, v: &str| {
            if !travels_exactly(v) {
                return Err(Error::InvalidHeader { what, value: v.to_owned() });
            }
            // from_bytes, not from_str: it documents that non-ASCII (obs-text) bytes are accepted.
            HeaderValue::from_bytes(v.as_bytes())
                .map_err(|_| Error::InvalidHeader { what, value: v.to_owned() })
        };
        let mut headers = vec![(USER, value("user", &self.user)?)];
        for group in &self.groups {
            headers.push((GROUP, value("group", group)?));
        }
        Ok(headers)
    }

    /// A client that sends every request through `base` as this person, exactly as given (apply a
    /// [`Policy`] first; [`crate::fleet::Cluster::client_as`] does).
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

/// Replaces every impersonation header on `request` (user, group, uid, extra-*) with `headers`, and drops a
/// `Connection` header naming any: only Fleetpane's own headers reach the cluster.
fn apply<B>(request: &mut Request<B>, headers: &[(HeaderName, HeaderValue)]) {
    let map = request.headers_mut();
    let foreign: Vec<HeaderName> =
        map.keys().filter(|name| name.as_str().starts_with(IMPERSONATE_PREFIX)).cloned().collect();
    for name in foreign {
        map.remove(name);
    }
    let names_impersonation = map
        .get_all(http::header::CONNECTION)
        .iter()
        .any(|v| v.to_str().map_or(true, |v| v.to_ascii_lowercase().contains(IMPERSONATE_PREFIX)));
    if names_impersonation {
        map.remove(http::header::CONNECTION);
    }
    for (name, value) in headers {
        map.append(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_policy(system_names: SystemNames, allowed: Option<&[&str]>) -> Policy {
        Policy {
            system_names,
            prefix: "oidc:".into(),
            allowed_groups: allowed.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn sent_groups<B>(request: &Request<B>) -> Vec<String> {
        request
            .headers()
            .get_all(GROUP)
            .iter()
            .map(|v| String::from_utf8(v.as_bytes().to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn headers_carry_user_and_each_group() {
        let who = Impersonation::new("alice@example.com", ["sre", "team-a"]);
        let mut request = Request::new(());
        request.headers_mut().insert(GROUP, HeaderValue::from_static("system:masters"));
        apply(&mut request, &who.headers().unwrap());
        assert_eq!(sent_groups(&request), ["sre", "team-a"]);
        assert_eq!(request.headers()[USER], "alice@example.com");
    }

    #[test]
    fn foreign_impersonation_headers_never_pass() {
        let who = Impersonation::new("alice@example.com", ["sre"]);
        let mut request = Request::new(());
        for (name, value) in [
            ("impersonate-user", "admin"),
            ("impersonate-group", "system:masters"),
            ("impersonate-uid", "0"),
            ("impersonate-extra-scopes", "all"),
            ("connection", "Impersonate-User"),
        ] {
            request.headers_mut().append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        apply(&mut request, &who.headers().unwrap());
        let mut names: Vec<_> = request.headers().keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["impersonate-group", "impersonate-user"]);
        assert_eq!(sent_groups(&request), ["sre"]);
        assert_eq!(request.headers()[USER], "alice@example.com");
    }

    #[test]
    fn odd_group_names_pass_exactly_one_header_each() {
        let groups = ["a,b", "with space", "Ünïcødé-组", "sre"];
        let who = Impersonation::new("zoë@example.com", groups);
        let mut request = Request::new(());
        apply(&mut request, &who.headers().unwrap());
        assert_eq!(sent_groups(&request), groups);
        assert_eq!(request.headers()[USER].as_bytes(), "zoë@example.com".as_bytes());
    }

    #[test]
    fn rejects_what_cannot_be_a_header() {
        assert!(matches!(Impersonation::new("", ["sre"]).headers(), Err(Error::EmptyUser)));
        assert!(matches!(
            Impersonation::new("a\nb", Vec::<String>::new()).headers(),
            Err(Error::InvalidHeader { what: "user", .. })
        ));
        assert!(matches!(
            Impersonation::new("alice", [" padded"]).headers(),
            Err(Error::InvalidHeader { what: "group", .. })
        ));
    }

    #[test]
    fn system_groups_are_dropped_by_default() {
        let who = Impersonation::new("alice@example.com", ["system:masters", "sre", "system:nodes"]);
        let sent = Policy::default().apply(&who).unwrap();
        assert_eq!(sent, Impersonation::new("alice@example.com", ["sre"]));
    }

    #[test]
    fn system_names_can_be_prefixed() {
        let policy = mk_policy(SystemNames::Prefix, None);
        let sent = policy.apply(&Impersonation::new("system:admin", ["system:masters", "sre"])).unwrap();
        assert_eq!(sent, Impersonation::new("oidc:system:admin", ["oidc:system:masters", "sre"]));
    }

    #[test]
    fn a_system_user_is_refused_when_dropping() {
        let result = Policy::default().apply(&Impersonation::new("system:admin", ["sre"]));
        assert!(matches!(result, Err(Error::SystemUser(u)) if u == "system:admin"));
    }

    #[test]
    fn only_allowed_groups_are_sent_when_configured() {
        let policy = mk_policy(SystemNames::Prefix, Some(&["sre", "team-a", "a,b"]));
        let who = Impersonation::new("bob@example.com", ["team-a", "unknown", "system:masters", "a,b"]);
        assert_eq!(policy.apply(&who).unwrap().groups, ["team-a", "a,b"]);
    }

    #[test]
    fn groups_http_would_alter_are_dropped_and_duplicates_once() {
        let who = Impersonation::new("bob@example.com", ["team-a", " team-a", "tab\there", "", "team-a"]);
        assert_eq!(Policy::default().apply(&who).unwrap().groups, ["team-a"]);
    }

    #[test]
    fn no_system_name_survives_any_policy() {
        let who = Impersonation::new("u@example.com", ["system:masters", "system:authenticated", "x"]);
        for policy in [
            mk_policy(SystemNames::Drop, None),
            mk_policy(SystemNames::Prefix, None),
            mk_policy(SystemNames::Prefix, Some(&["system:masters", "x"])),
        ] {
            let sent = policy.apply(&who).unwrap();
            assert!(!sent.user.starts_with(SYSTEM_PREFIX));
            assert!(sent.groups.iter().all(|g| !g.starts_with(SYSTEM_PREFIX)), "{policy:?}: {sent:?}");
        }
    }
}
