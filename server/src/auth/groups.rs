//! Which groups a signed-in user is in, and whether the user may sign in at all.
//!
//! Pure: the network sits behind [`UserInfoSource`] and [`DirectorySource`], so every rule here is tested
//! without an IdP. One call, [`resolve`], runs in the callback once the ID token is validated:
//!
//! ```text
//! email domain + Google `hd`  ──(refused: 403)
//!        │
//! ID-token claim (name configurable; array or one string)
//!        │   absent, or looks truncated: Okta's 100, Entra's `_claim_names` overage
//! UserInfo (mode never | fallback | always)
//!        │
//! Google Directory (when configured)
//!        │
//! mapping, then prefix ── dedupe (first source wins) ── allowed_groups ──(refused: 403)
//! ```

use std::{
    collections::{BTreeMap, HashSet},
    fmt,
    future::Future,
    path::{Path, PathBuf},
};

use futures::future::BoxFuture;
use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::Problem;

/// Okta cuts the `groups` claim at this many entries; exactly this many may mean more exist.
pub const OKTA_CLAIM_LIMIT: usize = 100;

/// Where a group came from, shown on the "who am I" page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupSource {
    /// The ID token's groups claim.
    Claim,
    /// The provider's UserInfo endpoint.
    UserInfo,
    /// A directory (Google Workspace's Admin SDK).
    Directory,
}

impl GroupSource {
    /// A short human label: `claim`, `UserInfo` or `directory`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Claim => "claim",
            Self::UserInfo => "UserInfo",
            Self::Directory => "directory",
        }
    }
}

impl fmt::Display for GroupSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One group of the signed-in user, after mapping and prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Group {
    /// The Fleetpane group name (what clusters see when Fleetpane impersonates the user).
    pub name: String,
    /// Where it came from.
    pub source: GroupSource,
}

/// When to ask the provider's UserInfo endpoint for groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserInfoMode {
    /// Never: the claim is all there is.
    Never,
    /// When the claim is absent or looks truncated.
    #[default]
    Fallback,
    /// Always, added to the claim's groups.
    Always,
}

/// `[providers.groups]`: where groups come from and how they are named.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// The ID-token (and UserInfo) claim holding the groups; default `groups`.
    pub claim: String,
    /// When to ask UserInfo.
    pub userinfo: UserInfoMode,
    /// Prepended to every group after mapping, e.g. `oidc:`.
    pub prefix: String,
    /// Renames IdP groups to Fleetpane groups.
    pub mapping: BTreeMap<String, String>,
    /// Google Workspace groups through the Admin SDK Directory API.
    pub google_directory: Option<GoogleDirectoryConfig>,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        Self {
            claim: "groups".to_owned(),
            userinfo: UserInfoMode::default(),
            prefix: String::new(),
            mapping: BTreeMap::new(),
            google_directory: None,
        }
    }
}

/// `[providers.groups.google_directory]`: a service account with domain-wide delegation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleDirectoryConfig {
    /// The service account's JSON key (`client_email`, `private_key`, `token_uri`).
    pub service_account_file: PathBuf,
    /// The Workspace admin the service account acts as (the JWT's `sub`).
    pub admin_email: String,
    /// The Admin SDK's base URL; tests point it at a local stand-in.
    #[serde(default = "default_api_base", deserialize_with = "deserialize_url")]
    pub api_base: Url,
}

/// Google's Admin SDK base URL.
pub const GOOGLE_API_BASE: &str = "https://admin.googleapis.com";

fn default_api_base() -> Url {
    #[expect(clippy::expect_used, reason = "a constant that parses")]
    Url::parse(GOOGLE_API_BASE).expect("GOOGLE_API_BASE is a URL")
}

fn deserialize_url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let text = String::deserialize(d)?;
    Url::parse(&text).map_err(|e| serde::de::Error::custom(format!("{text:?} is not a valid URL: {e}")))
}

impl GroupsConfig {
    /// Reads the `[providers.groups]` table: parses, resolves `service_account_file` against `base_dir`,
    /// and validates. Reads no file. `field` is the table's path, e.g. `providers[0].groups`.
    pub fn from_toml(value: &toml::Value, field: &str, base_dir: &Path) -> Result<Self, Vec<Problem>> {
        let mut config: Self = value.clone().try_into().map_err(|e: toml::de::Error| {
            vec![Problem { field: field.to_owned(), message: e.message().trim().replace('\n', " ") }]
        })?;
        if let Some(g) = &mut config.google_directory
            && g.service_account_file.is_relative()
            && !g.service_account_file.as_os_str().is_empty()
        {
            g.service_account_file = base_dir.join(&g.service_account_file);
        }
        let problems = config.validate(field);
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }

    /// Every problem of the table, one per field, in config.rs' style.
    pub fn validate(&self, field: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(Problem { field: format!("{field}.{key}"), message });
        };
        if self.claim.trim().is_empty() {
            problem("claim", "must not be empty".to_owned());
        } else if self.claim.chars().any(char::is_whitespace) {
            problem("claim", format!("{:?} must not contain spaces", self.claim));
        }
        if self.prefix.chars().any(char::is_whitespace) {
            problem("prefix", format!("{:?} must not contain spaces", self.prefix));
        }
        for (from, to) in &self.mapping {
            if from.trim().is_empty() || to.trim().is_empty() {
                problem("mapping", format!("{from:?} = {to:?}: group names must not be empty"));
            }
        }
        if let Some(g) = &self.google_directory {
            let field = "google_directory";
            if g.service_account_file.as_os_str().is_empty() {
                problem(&format!("{field}.service_account_file"), "must not be empty".to_owned());
            }
            if !looks_like_email(&g.admin_email) {
                problem(
                    &format!("{field}.admin_email"),
                    format!("{:?} is not an email address", g.admin_email),
                );
            }
            if !matches!(g.api_base.scheme(), "http" | "https") || g.api_base.host_str().is_none() {
                problem(
                    &format!("{field}.api_base"),
                    format!("{:?} is not an http(s) URL", g.api_base.as_str()),
                );
            }
        }
        problems
    }
}

/// Who may sign in through one provider: `allowed_email_domains` and `allowed_groups` of `[[providers]]`.
/// Empty lists allow everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRules {
    /// Lowercase domains without `@`.
    pub allowed_email_domains: Vec<String>,
    /// Fleetpane group names (after mapping and prefix).
    pub allowed_groups: Vec<String>,
}

impl AccessRules {
    /// Normalizes domains (trimmed, lowercase, no leading `@`); groups are kept as given.
    pub fn new(allowed_email_domains: Vec<String>, allowed_groups: Vec<String>) -> Self {
        let allowed_email_domains = allowed_email_domains
            .into_iter()
            .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
            .collect();
        Self { allowed_email_domains, allowed_groups }
    }

    /// Problems with the rules; `field` is the provider's path, e.g. `providers[0]`.
    pub fn validate(&self, field: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, d) in self.allowed_email_domains.iter().enumerate() {
            let valid = !d.is_empty()
                && d.contains('.')
                && d.split('.')
                    .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            if !valid {
                problems.push(Problem {
                    field: format!("{field}.allowed_email_domains[{i}]"),
                    message: format!("{d:?} is not a domain (like example.com)"),
                });
            }
        }
        for (i, g) in self.allowed_groups.iter().enumerate() {
            if g.trim().is_empty() {
                problems.push(Problem {
                    field: format!("{field}.allowed_groups[{i}]"),
                    message: "must not be empty".to_owned(),
                });
            }
        }
        problems
    }
}

/// A failed UserInfo or directory lookup.
#[derive(Debug)]
pub struct SourceError {
    timed_out: bool,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl SourceError {
    /// The source answered with an error, or not at all.
    pub fn failed(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self { timed_out: false, source: source.into() }
    }

    /// The source did not answer in time.
    pub fn timeout(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self { timed_out: true, source: source.into() }
    }

    /// Whether the source was too slow (504) rather than failing (502).
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.timed_out { write!(f, "timed out: {}", self.source) } else { write!(f, "{}", self.source) }
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The provider's UserInfo endpoint, as the callback can reach it.
pub trait UserInfoSource: Send + Sync {
    /// The UserInfo claims; `Ok(None)` when the provider has no UserInfo endpoint.
    fn userinfo(&self) -> BoxFuture<'_, Result<Option<Value>, SourceError>>;
}

impl<F, Fut> UserInfoSource for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<Value>, SourceError>> + Send + 'static,
{
    fn userinfo(&self) -> BoxFuture<'_, Result<Option<Value>, SourceError>> {
        Box::pin(self())
    }
}

/// A provider without UserInfo (or a caller that must not use it).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoUserInfo;

impl UserInfoSource for NoUserInfo {
    fn userinfo(&self) -> BoxFuture<'_, Result<Option<Value>, SourceError>> {
        Box::pin(async { Ok(None) })
    }
}

/// A directory that lists a user's groups by email (Google Workspace).
pub trait DirectorySource: Send + Sync {
    /// The group names of the user with this email.
    fn groups_of<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Vec<String>, SourceError>>;
}

/// Why the user may not sign in, or their groups could not be found.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ID token says `email_verified: false`.
    #[error("the email address is not verified by the provider")]
    EmailNotVerified,
    /// The email's domain is not in `allowed_email_domains`.
    #[error("email domain {domain:?} is not allowed")]
    DomainNotAllowed {
        /// The email's domain (or `""` when the email has none).
        domain: String,
    },
    /// Google's `hd` claim is not in `allowed_email_domains`.
    #[error("hosted domain (hd) {hd:?} is not allowed")]
    HostedDomainNotAllowed {
        /// The `hd` claim.
        hd: String,
    },
    /// None of the user's groups is in `allowed_groups`.
    #[error("none of the user's {count} groups is allowed")]
    GroupNotAllowed {
        /// How many groups the user has.
        count: usize,
    },
    /// UserInfo was needed and failed.
    #[error("userinfo lookup failed")]
    UserInfo(#[source] SourceError),
    /// The directory lookup failed.
    #[error("directory lookup failed")]
    Directory(#[source] SourceError),
}

impl Error {
    /// 403 for a user who may not sign in, 504 for a slow source, 502 for a failing one.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::EmailNotVerified
            | Self::DomainNotAllowed { .. }
            | Self::HostedDomainNotAllowed { .. }
            | Self::GroupNotAllowed { .. } => StatusCode::FORBIDDEN,
            Self::UserInfo(e) | Self::Directory(e) if e.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            Self::UserInfo(_) | Self::Directory(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// What the sign-in error page may say: clear, and nothing that helps an attacker.
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::EmailNotVerified => "Your identity provider has not verified your email address.",
            Self::DomainNotAllowed { .. } | Self::HostedDomainNotAllowed { .. } => {
                "Accounts of your email domain may not sign in to Fleetpane."
            }
            Self::GroupNotAllowed { .. } => "Your account is not in a group that may sign in to Fleetpane.",
            Self::UserInfo(_) => {
                "Your identity provider did not answer the request for your groups. Try again later."
            }
            Self::Directory(_) => {
                "The group directory did not answer the request for your groups. Try again later."
            }
        }
    }
}

/// Resolves the user's groups and applies the access rules. `claims` are all claims of the validated ID
/// token; `email` is the verified email Fleetpane signs the user in as.
pub async fn resolve(
    cfg: &GroupsConfig,
    rules: &AccessRules,
    email: &str,
    claims: &Value,
    userinfo: &dyn UserInfoSource,
    directory: Option<&dyn DirectorySource>,
) -> Result<Vec<Group>, Error> {
    check_email(rules, email, claims)?;

    let mut raw: Vec<(String, GroupSource)> = Vec::new();
    let from_claim = claim_groups(claims, &cfg.claim, "id token");
    let (claim_names, ask_userinfo) = match (&from_claim, cfg.userinfo) {
        (ClaimGroups::Absent, mode) => (Vec::new(), mode != UserInfoMode::Never),
        (ClaimGroups::Complete(names), mode) => (names.clone(), mode == UserInfoMode::Always),
        (ClaimGroups::Truncated { names, why }, mode) => {
            if mode == UserInfoMode::Never {
                tracing::warn!(claim = %cfg.claim, why, "the groups claim looks truncated and userinfo = \"never\"");
            }
            (names.clone(), mode != UserInfoMode::Never)
        }
    };
    raw.extend(claim_names.into_iter().map(|n| (n, GroupSource::Claim)));

    if ask_userinfo {
        match userinfo.userinfo().await.map_err(Error::UserInfo)? {
            None => tracing::debug!("provider has no userinfo endpoint"),
            Some(info) => {
                check_same_subject(claims, &info)?;
                let names = match claim_groups(&info, &cfg.claim, "userinfo") {
                    ClaimGroups::Absent => Vec::new(),
                    ClaimGroups::Complete(names) | ClaimGroups::Truncated { names, .. } => names,
                };
                raw.extend(names.into_iter().map(|n| (n, GroupSource::UserInfo)));
            }
        }
    }

    if let Some(directory) = directory {
        let names = directory.groups_of(email).await.map_err(Error::Directory)?;
        raw.extend(names.into_iter().map(|n| (n, GroupSource::Directory)));
    }

    let groups = rename_and_dedupe(cfg, raw);
    check_groups(rules, &groups)?;
    Ok(groups)
}

/// `email_verified`, the email's domain and Google's `hd` against the rules.
pub fn check_email(rules: &AccessRules, email: &str, claims: &Value) -> Result<(), Error> {
    let unverified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => !b,
        // Some providers send it as a string.
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    };
    if unverified {
        return Err(Error::EmailNotVerified);
    }
    if rules.allowed_email_domains.is_empty() {
        return Ok(());
    }
    let allowed = |d: &str| rules.allowed_email_domains.iter().any(|a| a.eq_ignore_ascii_case(d));
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    if domain.is_empty() || !allowed(domain) {
        return Err(Error::DomainNotAllowed { domain: domain.to_ascii_lowercase() });
    }
    if let Some(hd) = claims.get("hd") {
        let hd = hd.as_str().unwrap_or_default();
        if !allowed(hd) {
            return Err(Error::HostedDomainNotAllowed { hd: hd.to_owned() });
        }
    }
    Ok(())
}

/// `allowed_groups`: the user must be in one of them.
pub fn check_groups(rules: &AccessRules, groups: &[Group]) -> Result<(), Error> {
    if rules.allowed_groups.is_empty() || groups.iter().any(|g| rules.allowed_groups.contains(&g.name)) {
        Ok(())
    } else {
        Err(Error::GroupNotAllowed { count: groups.len() })
    }
}

/// What a claim says about the groups.
#[derive(Debug, PartialEq, Eq)]
enum ClaimGroups {
    /// Not there.
    Absent,
    /// All of them, as far as can be told.
    Complete(Vec<String>),
    /// The IdP says or suggests that some are missing.
    Truncated { names: Vec<String>, why: &'static str },
}

/// Reads `claim` from a claims object: an array of strings, or one string. `what` names the document for
/// the log.
fn claim_groups(claims: &Value, claim: &str, what: &str) -> ClaimGroups {
    // Entra ID's overage: the claim is replaced by a pointer to Microsoft Graph.
    let overage = claims.get("_claim_names").and_then(|n| n.get(claim)).is_some()
        || claims.get("hasgroups").is_some_and(|v| v == &Value::Bool(true));
    let names = match claims.get(claim) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(if s.trim().is_empty() { Vec::new() } else { vec![s.clone()] }),
        Some(Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) if !s.trim().is_empty() => names.push(s.clone()),
                    other => {
                        tracing::warn!(claim, source = what, entry = %other, "ignoring a group that is not a name");
                    }
                }
            }
            if items.len() == OKTA_CLAIM_LIMIT {
                return ClaimGroups::Truncated { names, why: "exactly 100 entries (Okta's limit)" };
            }
            Some(names)
        }
        Some(other) => {
            tracing::warn!(
                claim,
                source = what,
                kind = json_kind(other),
                "ignoring a groups claim that is neither a list nor a name"
            );
            None
        }
    };
    match (names, overage) {
        (names, true) => {
            ClaimGroups::Truncated { names: names.unwrap_or_default(), why: "overage (_claim_names)" }
        }
        (None, false) => ClaimGroups::Absent,
        (Some(names), false) => ClaimGroups::Complete(names),
    }
}

/// OpenID Connect Core 5.3.2: UserInfo's `sub` must be the ID token's.
fn check_same_subject(claims: &Value, info: &Value) -> Result<(), Error> {
    match (claims.get("sub"), info.get("sub")) {
        (Some(a), Some(b)) if a != b => Err(Error::UserInfo(SourceError::failed(
            "the userinfo response is about another subject than the ID token",
        ))),
        _ => Ok(()),
    }
}

/// Mapping, then prefix; the first occurrence of a name keeps its source.
fn rename_and_dedupe(cfg: &GroupsConfig, raw: Vec<(String, GroupSource)>) -> Vec<Group> {
    let mut seen = HashSet::new();
    raw.into_iter()
        .filter_map(|(name, source)| {
            let mapped = cfg.mapping.get(&name).map_or(name.as_str(), String::as_str);
            let name = format!("{}{mapped}", cfg.prefix);
            seen.insert(name.clone()).then_some(Group { name, source })
        })
        .collect()
}

fn looks_like_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && domain.contains('.') && !s.chars().any(char::is_whitespace)
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    fn mk_cfg(userinfo: UserInfoMode) -> GroupsConfig {
        GroupsConfig { userinfo, ..GroupsConfig::default() }
    }

    fn mk_claims(groups: Value) -> Value {
        json!({ "sub": "u1", "email": "alice@example.com", "email_verified": true, "groups": groups })
    }

    fn mk_groups(n: usize) -> Value {
        Value::Array((0..n).map(|i| Value::String(format!("g{i}"))).collect())
    }

    /// A UserInfo source that counts its calls.
    struct Counting {
        calls: AtomicUsize,
        answer: Option<Value>,
    }

    impl Counting {
        fn new(answer: Option<Value>) -> Self {
            Self { calls: AtomicUsize::new(0), answer }
        }
    }

    impl UserInfoSource for Counting {
        fn userinfo(&self) -> BoxFuture<'_, Result<Option<Value>, SourceError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.clone();
            Box::pin(async move { Ok(answer) })
        }
    }

    struct Dir(Result<Vec<&'static str>, bool>);

    impl DirectorySource for Dir {
        fn groups_of<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Vec<String>, SourceError>> {
            assert_eq!(email, "alice@example.com");
            let answer = match &self.0 {
                Ok(names) => Ok(names.iter().map(|n| (*n).to_owned()).collect()),
                Err(true) => Err(SourceError::timeout("deadline")),
                Err(false) => Err(SourceError::failed("403")),
            };
            Box::pin(async move { answer })
        }
    }

    fn names(groups: &[Group]) -> Vec<(&str, GroupSource)> {
        groups.iter().map(|g| (g.name.as_str(), g.source)).collect()
    }

    async fn run(cfg: &GroupsConfig, claims: &Value, ui: &dyn UserInfoSource) -> Result<Vec<Group>, Error> {
        resolve(cfg, &AccessRules::default(), "alice@example.com", claims, ui, None).await
    }

    #[tokio::test]
    async fn claim_as_array_or_single_string() {
        let cfg = mk_cfg(UserInfoMode::Fallback);
        let ui = Counting::new(None);
        let g = run(&cfg, &mk_claims(json!(["sre", "dev"])), &ui).await.unwrap();
        assert_eq!(names(&g), [("sre", GroupSource::Claim), ("dev", GroupSource::Claim)]);
        let g = run(&cfg, &mk_claims(json!("sre")), &ui).await.unwrap();
        assert_eq!(names(&g), [("sre", GroupSource::Claim)]);
        assert_eq!(ui.calls.load(Ordering::SeqCst), 0, "complete claim: no userinfo in fallback mode");
    }

    #[tokio::test]
    async fn non_strings_in_the_claim_are_ignored() {
        let g = run(
            &mk_cfg(UserInfoMode::Never),
            &mk_claims(json!(["sre", 7, null, {"a": 1}, "", "dev"])),
            &NoUserInfo,
        )
        .await
        .unwrap();
        assert_eq!(names(&g), [("sre", GroupSource::Claim), ("dev", GroupSource::Claim)]);
        let g = run(&mk_cfg(UserInfoMode::Never), &mk_claims(json!({"not": "a list"})), &NoUserInfo)
            .await
            .unwrap();
        assert!(g.is_empty());
    }

    #[tokio::test]
    async fn configurable_claim_name() {
        let cfg = GroupsConfig {
            claim: "roles".to_owned(),
            userinfo: UserInfoMode::Never,
            ..GroupsConfig::default()
        };
        let claims = json!({ "sub": "u1", "groups": ["ignored"], "roles": ["admin"] });
        assert_eq!(names(&run(&cfg, &claims, &NoUserInfo).await.unwrap()), [("admin", GroupSource::Claim)]);
    }

    #[tokio::test]
    async fn absent_claim_falls_back_to_userinfo() {
        let ui = Counting::new(Some(json!({ "sub": "u1", "groups": ["ops", "sre"] })));
        let claims = json!({ "sub": "u1" });
        let g = run(&mk_cfg(UserInfoMode::Fallback), &claims, &ui).await.unwrap();
        assert_eq!(names(&g), [("ops", GroupSource::UserInfo), ("sre", GroupSource::UserInfo)]);
        assert_eq!(ui.calls.load(Ordering::SeqCst), 1);
        let g = run(&mk_cfg(UserInfoMode::Never), &claims, &ui).await.unwrap();
        assert!(g.is_empty());
        assert_eq!(ui.calls.load(Ordering::SeqCst), 1, "never means never");
    }

    #[tokio::test]
    async fn exactly_100_groups_is_treated_as_truncated() {
        let mut info_groups: Vec<String> = (0..120).map(|i| format!("g{i}")).collect();
        info_groups.reverse();
        let ui = Counting::new(Some(json!({ "sub": "u1", "groups": info_groups })));
        let g = run(&mk_cfg(UserInfoMode::Fallback), &mk_claims(mk_groups(100)), &ui).await.unwrap();
        assert_eq!(ui.calls.load(Ordering::SeqCst), 1);
        assert_eq!(g.len(), 120);
        assert_eq!(
            g.iter().filter(|g| g.source == GroupSource::Claim).count(),
            100,
            "claim wins on duplicates"
        );
        assert!(g.iter().any(|g| g.name == "g119" && g.source == GroupSource::UserInfo));
        // 99 or 101 entries are taken as complete.
        for n in [99, 101] {
            let ui = Counting::new(None);
            let g = run(&mk_cfg(UserInfoMode::Fallback), &mk_claims(mk_groups(n)), &ui).await.unwrap();
            assert_eq!((g.len(), ui.calls.load(Ordering::SeqCst)), (n, 0));
        }
    }

    #[tokio::test]
    async fn entra_overage_asks_userinfo() {
        let claims = json!({
            "sub": "u1",
            "_claim_names": { "groups": "src1" },
            "_claim_sources": { "src1": { "endpoint": "https://graph.example/v1.0/users/u1/getMemberObjects" } },
        });
        let ui = Counting::new(Some(json!({ "sub": "u1", "groups": ["a"] })));
        let g = run(&mk_cfg(UserInfoMode::Fallback), &claims, &ui).await.unwrap();
        assert_eq!(names(&g), [("a", GroupSource::UserInfo)]);
        assert_eq!(
            claim_groups(&claims, "groups", "t"),
            ClaimGroups::Truncated { names: vec![], why: "overage (_claim_names)" }
        );
        assert!(matches!(
            claim_groups(&json!({"hasgroups": true}), "groups", "t"),
            ClaimGroups::Truncated { .. }
        ));
    }

    #[tokio::test]
    async fn always_merges_claim_then_userinfo() {
        let ui = Counting::new(Some(json!({ "sub": "u1", "groups": "dev" })));
        let g = run(&mk_cfg(UserInfoMode::Always), &mk_claims(json!(["sre", "dev"])), &ui).await.unwrap();
        assert_eq!(names(&g), [("sre", GroupSource::Claim), ("dev", GroupSource::Claim)]);
        let ui = Counting::new(Some(json!({ "sub": "u1", "groups": ["ops"] })));
        let g = run(&mk_cfg(UserInfoMode::Always), &mk_claims(json!(["sre"])), &ui).await.unwrap();
        assert_eq!(names(&g), [("sre", GroupSource::Claim), ("ops", GroupSource::UserInfo)]);
    }

    #[tokio::test]
    async fn userinfo_about_another_subject_is_refused() {
        let ui = Counting::new(Some(json!({ "sub": "mallory", "groups": ["admin"] })));
        let e = run(&mk_cfg(UserInfoMode::Always), &mk_claims(json!([])), &ui).await.unwrap_err();
        assert!(matches!(e, Error::UserInfo(_)), "{e:?}");
        assert_eq!(e.status_code(), StatusCode::BAD_GATEWAY);
    }

    #[tokio::test]
    async fn userinfo_failures_are_typed_and_closures_are_sources() {
        let slow = || async { Err(SourceError::timeout("deadline")) };
        let e = run(&mk_cfg(UserInfoMode::Always), &mk_claims(json!([])), &slow).await.unwrap_err();
        assert_eq!(e.status_code(), StatusCode::GATEWAY_TIMEOUT);
        let down = || async { Err(SourceError::failed("connection refused")) };
        let e = run(&mk_cfg(UserInfoMode::Always), &mk_claims(json!([])), &down).await.unwrap_err();
        assert_eq!(e.status_code(), StatusCode::BAD_GATEWAY);
        assert!(!e.public_message().contains("refused"));
        let fine = || async { Ok(Some(json!({ "groups": ["x"] }))) };
        let g = run(&mk_cfg(UserInfoMode::Always), &mk_claims(json!([])), &fine).await.unwrap();
        assert_eq!(names(&g), [("x", GroupSource::UserInfo)]);
    }

    #[tokio::test]
    async fn directory_groups_come_last_and_failures_are_typed() {
        let cfg = mk_cfg(UserInfoMode::Never);
        let rules = AccessRules::default();
        let claims = mk_claims(json!(["sre"]));
        let dir = Dir(Ok(vec!["sre", "eng@example.com"]));
        let g = resolve(&cfg, &rules, "alice@example.com", &claims, &NoUserInfo, Some(&dir)).await.unwrap();
        assert_eq!(names(&g), [("sre", GroupSource::Claim), ("eng@example.com", GroupSource::Directory)]);
        for (timeout, status) in [(true, StatusCode::GATEWAY_TIMEOUT), (false, StatusCode::BAD_GATEWAY)] {
            let dir = Dir(Err(timeout));
            let e = resolve(&cfg, &rules, "alice@example.com", &claims, &NoUserInfo, Some(&dir))
                .await
                .unwrap_err();
            assert!(matches!(e, Error::Directory(_)));
            assert_eq!(e.status_code(), status);
        }
    }

    #[tokio::test]
    async fn mapping_then_prefix_then_dedupe() {
        let cfg = GroupsConfig {
            userinfo: UserInfoMode::Never,
            prefix: "oidc:".to_owned(),
            mapping: BTreeMap::from([("okta-sre".to_owned(), "sre".to_owned())]),
            ..GroupsConfig::default()
        };
        let g = run(&cfg, &mk_claims(json!(["okta-sre", "sre", "dev"])), &NoUserInfo).await.unwrap();
        assert_eq!(names(&g), [("oidc:sre", GroupSource::Claim), ("oidc:dev", GroupSource::Claim)]);
    }

    #[tokio::test]
    async fn allowed_groups_apply_after_mapping_and_prefix() {
        let cfg = GroupsConfig {
            userinfo: UserInfoMode::Never,
            prefix: "oidc:".to_owned(),
            mapping: BTreeMap::from([("okta-sre".to_owned(), "sre".to_owned())]),
            ..GroupsConfig::default()
        };
        let rules = AccessRules::new(vec![], vec!["oidc:sre".to_owned()]);
        let ok =
            resolve(&cfg, &rules, "alice@example.com", &mk_claims(json!(["okta-sre"])), &NoUserInfo, None)
                .await;
        assert!(ok.is_ok());
        let e = resolve(&cfg, &rules, "alice@example.com", &mk_claims(json!(["sre-x"])), &NoUserInfo, None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::GroupNotAllowed { count: 1 }));
        assert_eq!(e.status_code(), StatusCode::FORBIDDEN);
        let e = resolve(&cfg, &rules, "alice@example.com", &json!({"sub": "u1"}), &NoUserInfo, None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::GroupNotAllowed { count: 0 }));
    }

    #[tokio::test]
    async fn domains_are_checked_before_any_lookup() {
        let rules = AccessRules::new(vec!["@Example.com".to_owned()], vec![]);
        assert_eq!(rules.allowed_email_domains, ["example.com"]);
        let ui = Counting::new(Some(json!({"groups": ["x"]})));
        let cfg = mk_cfg(UserInfoMode::Always);
        let claims = mk_claims(json!([]));
        let e = resolve(&cfg, &rules, "mallory@evil.test", &claims, &ui, None).await.unwrap_err();
        assert!(matches!(&e, Error::DomainNotAllowed { domain } if domain == "evil.test"), "{e:?}");
        assert_eq!(e.status_code(), StatusCode::FORBIDDEN);
        assert_eq!(ui.calls.load(Ordering::SeqCst), 0);
        assert!(resolve(&cfg, &rules, "alice@EXAMPLE.com", &claims, &ui, None).await.is_ok());
        assert!(matches!(
            resolve(&cfg, &rules, "no-at-sign", &claims, &ui, None).await,
            Err(Error::DomainNotAllowed { .. })
        ));
    }

    #[test]
    fn google_hd_must_be_allowed_when_present() {
        let rules = AccessRules::new(vec!["example.com".to_owned()], vec![]);
        let with_hd = |hd: Value| json!({ "sub": "u1", "email_verified": true, "hd": hd });
        assert!(check_email(&rules, "alice@example.com", &with_hd(json!("example.com"))).is_ok());
        assert!(matches!(
            check_email(&rules, "alice@example.com", &with_hd(json!("other.org"))),
            Err(Error::HostedDomainNotAllowed { .. })
        ));
        assert!(matches!(
            check_email(&rules, "alice@example.com", &with_hd(json!(5))),
            Err(Error::HostedDomainNotAllowed { .. })
        ));
        // No rules: hd is not looked at.
        assert!(check_email(&AccessRules::default(), "a@x.org", &with_hd(json!("y.org"))).is_ok());
    }

    #[test]
    fn unverified_email_is_refused() {
        for v in [json!(false), json!("false")] {
            let claims = json!({ "email_verified": v });
            assert!(matches!(
                check_email(&AccessRules::default(), "a@x.org", &claims),
                Err(Error::EmailNotVerified)
            ));
        }
        assert!(check_email(&AccessRules::default(), "a@x.org", &json!({})).is_ok(), "absent: not refused");
    }

    #[test]
    fn group_source_serializes_lowercase() {
        let g = Group { name: "sre".to_owned(), source: GroupSource::UserInfo };
        assert_eq!(serde_json::to_value(&g).unwrap(), json!({ "name": "sre", "source": "userinfo" }));
        assert_eq!(GroupSource::UserInfo.label(), "UserInfo");
        assert_eq!(GroupSource::Directory.to_string(), "directory");
    }

    fn parse(text: &str) -> Result<GroupsConfig, Vec<String>> {
        let value: toml::Value = toml::from_str::<toml::Table>(text).unwrap().into();
        GroupsConfig::from_toml(&value, "providers[0].groups", Path::new("/etc/fleetpane"))
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn config_defaults_and_full_table() {
        assert_eq!(parse("").unwrap(), GroupsConfig::default());
        let c = parse(
            r#"
claim = "roles"
userinfo = "always"
prefix = "oidc:"
mapping = { "okta-sre" = "sre" }
[google_directory]
service_account_file = "google-sa.json"
admin_email = "admin@example.com"
"#,
        )
        .unwrap();
        assert_eq!(c.claim, "roles");
        assert_eq!(c.userinfo, UserInfoMode::Always);
        assert_eq!(c.mapping["okta-sre"], "sre");
        let g = c.google_directory.unwrap();
        assert_eq!(g.service_account_file, Path::new("/etc/fleetpane/google-sa.json"));
        assert_eq!(g.api_base.as_str(), "https://admin.googleapis.com/");
    }

    #[test]
    fn config_problems_name_the_field() {
        let e = parse("userinfo = \"sometimes\"").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("providers[0].groups: ") && e[0].contains("sometimes"), "{e:?}");
        let e = parse("claims = \"x\"").unwrap_err();
        assert!(e[0].starts_with("providers[0].groups: ") && e[0].contains("unknown field"), "{e:?}");
        let e = parse("claim = \"\"\nprefix = \"a b\"\nmapping = { \"x\" = \"\" }").unwrap_err();
        assert_eq!(
            e,
            [
                "providers[0].groups.claim: must not be empty",
                "providers[0].groups.prefix: \"a b\" must not contain spaces",
                "providers[0].groups.mapping: \"x\" = \"\": group names must not be empty",
            ]
        );
        let e = parse(
            "[google_directory]\nservice_account_file = \"k.json\"\nadmin_email = \"admin\"\napi_base = \"ftp://x\"",
        )
        .unwrap_err();
        assert_eq!(
            e,
            [
                "providers[0].groups.google_directory.admin_email: \"admin\" is not an email address",
                "providers[0].groups.google_directory.api_base: \"ftp://x/\" is not an http(s) URL",
            ]
        );
        let e = parse("[google_directory]\nadmin_email = \"a@example.com\"").unwrap_err();
        assert!(e[0].contains("service_account_file"), "{e:?}");
    }

    #[test]
    fn access_rules_validate() {
        let rules = AccessRules::new(
            vec!["example.com".to_owned(), "nodot".to_owned(), "a b.com".to_owned()],
            vec!["sre".to_owned(), " ".to_owned()],
        );
        let lines: Vec<String> = rules.validate("providers[1]").iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "providers[1].allowed_email_domains[1]: \"nodot\" is not a domain (like example.com)",
                "providers[1].allowed_email_domains[2]: \"a b.com\" is not a domain (like example.com)",
                "providers[1].allowed_groups[1]: must not be empty",
            ]
        );
    }
}
