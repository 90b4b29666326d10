//! Fleetpane's one configuration file, validated completely at start.
//!
//! The file is TOML (schema in the README). [`Config::load`] reads it, checks every field, reads every file
//! it names, and reports *all* problems at once, one line per problem, each naming the field:
//!
//! ```text
//! clusters[1].api_url: "htp://x" is not an http(s) URL
//! clusters[1].credentials: set either client_cert_file and client_key_file, or token_file, not both
//! ```
//!
//! Relative paths are resolved against the directory of the config file. Secrets read from files are kept
//! in [`Secret`]s.

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use url::Url;

pub use crate::fleet::source::CaSource;
use crate::{
    auth::{
        google,
        groups::{AccessRules, GroupsConfig},
    },
    secret::Secret,
};

/// The environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "FLEETPANE_CONFIG";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from.
    pub path: PathBuf,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[session]`: where sessions live and how long they last.
    pub session: SessionConfig,
    /// `[[providers]]`: OpenID Connect providers, in file order; at least one.
    pub providers: Vec<ProviderConfig>,
    /// `[[clusters]]`, in file order.
    pub clusters: Vec<ClusterConfig>,
    /// `[drift]`: how the drift views compare the copies of a Service.
    pub drift: DriftConfig,
}

/// `[drift]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftConfig {
    /// `expected`: fields whose differences between clusters are expected everywhere (e.g. `replicas`,
    /// `ready_endpoints`), shown as expected instead of highlighted.
    pub expected: Vec<fleetpane_app::model::drift::DriftKey>,
}

/// `[server]`: where Fleetpane listens and how browsers reach it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The socket address to bind.
    pub listen: SocketAddr,
    /// The URL browsers use to reach Fleetpane (redirect URIs are built from it).
    pub public_url: Url,
    /// A bearer token, read from `metrics_token_file`, that lets a scraper read `/metrics` without a session.
    /// Unset: `/metrics` needs a signed-in session like every page.
    pub metrics_token: Option<Secret<String>>,
}

/// One `[[providers]]` entry: an OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Short unique name, `[a-z0-9-]`.
    pub name: String,
    /// Shown on the sign-in page.
    pub display_name: String,
    /// The issuer URL (discovery lives below it).
    pub issuer: Url,
    /// The issuer exactly as written: compared byte for byte with discovery's `issuer` and the `iss` claim
    /// (a parsed URL would add a trailing `/`).
    pub issuer_id: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret, read from `client_secret_file`.
    pub client_secret: Secret<String>,
    /// Scopes asked for besides `openid` (and `offline_access`, always added); default `email`, `profile`.
    pub scopes: Vec<String>,
    /// `allowed_email_domains` and `allowed_groups`: who may sign in (empty lists: everyone).
    pub access: AccessRules,
    /// `[providers.groups]`: where the groups come from and how they are renamed.
    pub groups: GroupsConfig,
}

/// `[session]`.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The server-side store.
    pub store: SessionStoreConfig,
    /// A session unused this long ends; default 30 min.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not; default 8 h.
    pub absolute_timeout: Duration,
    /// Whether the cookie is `Secure` (and so `__Host-` prefixed). False only for plain-http loopback dev.
    pub cookie_secure: bool,
}

/// `session.store` with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStoreConfig {
    /// SQLite database on disk (the default): sessions survive restarts.
    Sqlite {
        /// The database file; default `fleetpane-sessions.db` beside the config file.
        path: PathBuf,
    },
    /// In process memory: for tests only, sessions end with the process.
    Memory,
    /// Redis, for several replicas.
    Redis {
        /// `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS.
        url: Secret<String>,
    },
    /// Postgres, for several replicas.
    Postgres {
        /// `postgres://user:password@host[:port]/db[?sslmode=disable|prefer|require]` (or `postgresql://`).
        url: Secret<String>,
    },
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            store: SessionStoreConfig::Sqlite { path: PathBuf::from("fleetpane-sessions.db") },
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(8 * 3600),
            cookie_secure: true,
        }
    }
}

/// One `[[clusters]]` entry.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Unique DNS label.
    pub name: String,
    /// The apiserver's URL.
    pub api_url: Url,
    /// The CA certificate(s) that sign the apiserver's serving certificate: `ca_file`, or from the kubeconfig
    /// or the pod's service account.
    pub ca: CaSource,
    /// The cluster's DNS domain; default `cluster.local`.
    pub cluster_domain: String,
    /// How Fleetpane's own identity authenticates to the apiserver.
    pub credentials: Credentials,
    /// The Prometheus that holds this cluster's metrics, if any.
    pub prometheus: Option<PrometheusConfig>,
    /// `[clusters.impersonation]`: which names Fleetpane impersonates there.
    pub impersonation: crate::fleet::impersonate::Policy,
    /// `mode`: shared watch caches (`"cached"`, the default) or every read live through the impersonated
    /// client (`"impersonation_only"`, for clusters that do not grant Fleetpane list and watch).
    pub mode: ClusterMode,
}

/// How Fleetpane reads a cluster for a person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClusterMode {
    /// From the shared watch caches, filtered by the cluster's access decisions.
    #[default]
    Cached,
    /// No shared watches: every read is a LIST through the impersonated client. Slower, same answers.
    ImpersonationOnly,
}

/// Fleetpane's identity in one cluster: exactly one kind.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A client certificate and its private key (PEM files).
    ClientCert {
        /// The certificate (chain), PEM.
        cert_file: PathBuf,
        /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
        key_file: PathBuf,
    },
    /// A bearer token in a file, re-read by the client when it changes (also the pod's service account
    /// token with `in_cluster = true`).
    TokenFile {
        /// The file holding the token.
        token_file: PathBuf,
    },
    /// A client-go credential plugin (`[clusters.credentials.exec]`), run by the client when it needs a
    /// token or certificate (EKS, GKE, AKS and OIDC helpers).
    Exec(Box<kube::config::ExecConfig>),
    /// The user of a kubeconfig context (`kubeconfig` + `context`): whatever it holds (client certificate,
    /// token, token file or exec plugin), as kube reads it.
    Kubeconfig(Box<kube::config::AuthInfo>),
}

/// `[clusters.prometheus]` (parsed by [`crate::metrics::config::parse`]).
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    /// Prometheus's base URL (path prefixes allowed), or the apiserver's service-proxy URL of its Service.
    pub url: Url,
    /// How it is reached, which metrics it holds, the timeout.
    pub settings: crate::metrics::config::Settings,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No config path given.
    #[error("no config file: pass --config PATH or set {CONFIG_ENV}")]
    NoPath,
    /// The file could not be read.
    #[error("{path}: cannot read the config file: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{path}: not valid TOML: {message}")]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file is TOML, but fields are missing or wrong.
    #[error("{}", problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// One line per problem, for stderr.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Invalid { problems } => problems.iter().map(Problem::to_string).collect(),
            other => other.to_string().lines().map(str::to_owned).collect(),
        }
    }
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field's path, e.g. `clusters[1].api_url`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Config {
    /// The config path from `--config PATH` / `--config=PATH` in `args`, else from [`CONFIG_ENV`].
    pub fn path_from(args: &[String], env: Option<String>) -> Result<PathBuf, ConfigError> {
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if let Some(path) = arg.strip_prefix("--config=") {
                return Ok(PathBuf::from(path));
            }
            if arg == "--config" {
                return iter.next().map(PathBuf::from).ok_or(ConfigError::NoPath);
            }
        }
        env.filter(|p| !p.is_empty()).map(PathBuf::from).ok_or(ConfigError::NoPath)
    }

    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let mut config = Self::parse(&text, base).map_err(|e| match e {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax { path: path.to_owned(), message },
            other => other,
        })?;
        config.path = path.to_owned();
        Ok(config)
    }

    /// Validates config text; relative paths resolve against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        let root: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: PathBuf::from("<config>"),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let mut c = Checker { problems: Vec::new(), base: base_dir.to_owned() };
        let root = Section { path: String::new(), table: &root };
        c.unknown_keys(&root, &["server", "session", "providers", "clusters", "drift"]);

        let server = c.table(&root, "server").and_then(|s| c.server(&s));
        let session = match c.optional_table(&root, "session") {
            None if root.table.contains_key("session") => None,
            None => Some(SessionConfig {
                store: SessionStoreConfig::Sqlite { path: base_dir.join("fleetpane-sessions.db") },
                ..SessionConfig::default()
            }),
            Some(s) => c.session(&s, server.as_ref()),
        };
        let providers = c.array(&root, "providers", true).iter().filter_map(|p| c.provider(p)).collect();
        let cluster_sections = c.array(&root, "clusters", true);
        let clusters = cluster_sections.iter().filter_map(|s| c.cluster(s)).collect();
        c.unique_names(&root, "providers");
        c.unique_names(&root, "clusters");
        let drift = c.optional_table(&root, "drift").map_or_else(DriftConfig::default, |s| c.drift(&s));

        match (c.problems.is_empty(), server, session) {
            (true, Some(server), Some(session)) => {
                Ok(Self { path: PathBuf::new(), server, session, providers, clusters, drift })
            }
            _ => Err(ConfigError::Invalid { problems: c.problems }),
        }
    }
}

/// A table inside the file, with its path for messages.
struct Section<'a> {
    path: String,
    table: &'a toml::Table,
}

impl Section<'_> {
    fn field(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }
}

/// Walks the file and collects problems instead of stopping at the first one.
struct Checker {
    problems: Vec<Problem>,
    base: PathBuf,
}

/// What a file named in the config must hold.
#[derive(Clone, Copy)]
enum FileKind {
    CaCertificates,
    Certificate,
    PrivateKey,
    Secret,
}

impl Checker {
    fn problem(&mut self, field: String, message: impl Into<String>) {
        self.problems.push(Problem { field, message: message.into() });
    }

    fn unknown_keys(&mut self, s: &Section<'_>, known: &[&str]) {
        for key in s.table.keys().filter(|k| !known.contains(&k.as_str())) {
            self.problem(s.field(key), "unknown field");
        }
    }

    fn optional_str<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<&'t str> {
        match s.table.get(key)? {
            toml::Value::String(v) => Some(v.as_str()),
            other => {
                self.problem(s.field(key), format!("must be a string, not {}", type_name(other)));
                None
            }
        }
    }

    fn required_str<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<&'t str> {
        if !s.table.contains_key(key) {
            self.problem(s.field(key), "missing");
            return None;
        }
        let value = self.optional_str(s, key)?;
        if value.trim().is_empty() {
            self.problem(s.field(key), "must not be empty");
            return None;
        }
        Some(value)
    }

    fn table<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<Section<'t>> {
        match s.table.get(key) {
            None => {
                let header = strip_indices(&s.field(key));
                self.problem(s.field(key), format!("missing (add a [{header}] table)"));
                None
            }
            Some(toml::Value::Table(t)) => Some(Section { path: s.field(key), table: t }),
            Some(other) => {
                self.problem(s.field(key), format!("must be a table, not {}", type_name(other)));
                None
            }
        }
    }

    fn optional_table<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<Section<'t>> {
        if s.table.contains_key(key) { self.table(s, key) } else { None }
    }

    fn array<'t>(&mut self, s: &Section<'t>, key: &str, required: bool) -> Vec<Section<'t>> {
        let items = match s.table.get(key) {
            None if required => {
                self.problem(s.field(key), format!("missing: at least one [[{key}]] entry is required"));
                return Vec::new();
            }
            None => return Vec::new(),
            Some(toml::Value::Array(items)) => items,
            Some(other) => {
                self.problem(
                    s.field(key),
                    format!("must be an array of tables ([[{key}]]), not {}", type_name(other)),
                );
                return Vec::new();
            }
        };
        if required && items.is_empty() {
            self.problem(s.field(key), format!("at least one [[{key}]] entry is required"));
        }
        let mut sections = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", s.field(key));
            match item {
                toml::Value::Table(table) => sections.push(Section { path, table }),
                other => self.problem(path, format!("must be a table, not {}", type_name(other))),
            }
        }
        sections
    }

    fn server(&mut self, s: &Section<'_>) -> Option<ServerConfig> {
        self.unknown_keys(s, &["listen", "public_url", "metrics_token_file"]);
        let listen = self.required_str(s, "listen").and_then(|v| match v.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.problem(
                    s.field("listen"),
                    format!("{v:?} is not a socket address (like 127.0.0.1:3000)"),
                );
                None
            }
        });
        let public_url = self.url(s, "public_url");
        let metrics_token = match s.table.get("metrics_token_file") {
            None => Some(None),
            Some(_) => self.file(s, "metrics_token_file", FileKind::Secret).and_then(|path| {
                // Already checked readable and non-empty by `file`.
                let token = std::fs::read_to_string(path).ok()?;
                Some(Some(Secret::new(token.trim().to_owned())))
            }),
        };
        Some(ServerConfig { listen: listen?, public_url: public_url?, metrics_token: metrics_token? })
    }

    fn session(&mut self, s: &Section<'_>, server: Option<&ServerConfig>) -> Option<SessionConfig> {
        self.unknown_keys(
            s,
            &["store", "sqlite_path", "url", "idle_timeout", "absolute_timeout", "cookie_secure"],
        );
        let defaults = SessionConfig::default();
        let url = |c: &mut Self, kind: &str| -> Option<Secret<String>> {
            let url = c.required_str(s, "url")?;
            let tls_redis = kind == "redis" && url.starts_with("rediss://");
            let long_postgres = kind == "postgres" && url.starts_with("postgresql://");
            if !(url.starts_with(&format!("{kind}://")) || tls_redis || long_postgres) {
                c.problem(s.field("url"), format!("must be a {kind}:// URL for store = {kind:?}"));
                return None;
            }
            Some(Secret::new(url.to_owned()))
        };
        let store = match self.optional_str(s, "store").unwrap_or("sqlite") {
            "sqlite" => {
                let path = match s.table.get("sqlite_path") {
                    None => Some("fleetpane-sessions.db"),
                    Some(_) => self.required_str(s, "sqlite_path"),
                };
                path.map(|p| SessionStoreConfig::Sqlite { path: self.base.join(p) })
            }
            "memory" => Some(SessionStoreConfig::Memory),
            "redis" => url(self, "redis").map(|url| SessionStoreConfig::Redis { url }),
            "postgres" => url(self, "postgres").map(|url| SessionStoreConfig::Postgres { url }),
            other => {
                self.problem(
                    s.field("store"),
                    format!("{other:?} is not a session store (sqlite, redis, postgres or memory)"),
                );
                None
            }
        };
        let idle_timeout = self.duration(s, "idle_timeout", defaults.idle_timeout);
        let absolute_timeout = self.duration(s, "absolute_timeout", defaults.absolute_timeout);
        let cookie_secure = match s.table.get("cookie_secure") {
            None => Some(true),
            Some(toml::Value::Boolean(b)) => Some(*b),
            Some(other) => {
                self.problem(
                    s.field("cookie_secure"),
                    format!("must be a boolean, not {}", type_name(other)),
                );
                None
            }
        };
        if cookie_secure == Some(false)
            && let Some(server) = server
            && !is_plain_http_loopback(&server.public_url)
        {
            self.problem(
                s.field("cookie_secure"),
                "false is allowed only when server.public_url is http:// on a loopback host",
            );
        }
        if let (Some(idle), Some(absolute)) = (idle_timeout, absolute_timeout)
            && idle > absolute
        {
            self.problem(s.field("idle_timeout"), "must not be longer than absolute_timeout");
        }
        Some(SessionConfig {
            store: store?,
            idle_timeout: idle_timeout?,
            absolute_timeout: absolute_timeout?,
            cookie_secure: cookie_secure?,
        })
    }

    fn duration(&mut self, s: &Section<'_>, key: &str, default: Duration) -> Option<Duration> {
        if !s.table.contains_key(key) {
            return Some(default);
        }
        let raw = self.required_str(s, key)?;
        match parse_duration(raw) {
            Ok(d) => Some(d),
            Err(message) => {
                self.problem(s.field(key), message);
                None
            }
        }
    }

    fn string_list(&mut self, s: &Section<'_>, key: &str) -> Option<Vec<String>> {
        match s.table.get(key) {
            None => Some(Vec::new()),
            Some(toml::Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(v) if !v.trim().is_empty() => out.push(v.to_owned()),
                        _ => {
                            self.problem(format!("{}[{i}]", s.field(key)), "must be a non-empty string");
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Some(other) => {
                self.problem(s.field(key), format!("must be an array of strings, not {}", type_name(other)));
                None
            }
        }
    }

    fn drift(&mut self, s: &Section<'_>) -> DriftConfig {
        use fleetpane_app::model::drift::DriftKey;
        self.unknown_keys(s, &["expected"]);
        let mut expected = Vec::new();
        for (i, name) in self.string_list(s, "expected").unwrap_or_default().iter().enumerate() {
            match DriftKey::parse(name) {
                Some(key) => expected.push(key),
                None => {
                    let known: Vec<&str> = DriftKey::ALL.iter().map(|k| k.as_str()).collect();
                    self.problem(
                        format!("{}[{i}]", s.field("expected")),
                        format!("unknown drift field {name:?} (use {})", known.join(", ")),
                    );
                }
            }
        }
        DriftConfig { expected }
    }

    fn provider(&mut self, s: &Section<'_>) -> Option<ProviderConfig> {
        self.unknown_keys(
            s,
            &[
                "name",
                "display_name",
                "issuer",
                "client_id",
                "client_secret_file",
                "scopes",
                "allowed_email_domains",
                "allowed_groups",
                "groups",
            ],
        );
        let name = self.name(s, NameRule::Slug);
        let display_name = self.required_str(s, "display_name");
        let issuer = self.url(s, "issuer");
        let client_id = self.required_str(s, "client_id");
        let client_secret = self.file(s, "client_secret_file", FileKind::Secret).and_then(|path| {
            // Already checked readable and non-empty by `file`.
            let secret = std::fs::read_to_string(path).ok()?;
            Some(Secret::new(secret.trim().to_owned()))
        });
        let scopes = match s.table.get("scopes") {
            None => Some(vec!["email".to_owned(), "profile".to_owned()]),
            Some(_) => self.string_list(s, "scopes"),
        };
        let access =
            match (self.string_list(s, "allowed_email_domains"), self.string_list(s, "allowed_groups")) {
                (Some(domains), Some(groups)) => {
                    let rules = AccessRules::new(domains, groups);
                    let problems = rules.validate(&s.path);
                    let ok = problems.is_empty();
                    self.problems.extend(problems);
                    ok.then_some(rules)
                }
                _ => None,
            };
        let groups = match s.table.get("groups") {
            None => Some(GroupsConfig::default()),
            Some(value) => match GroupsConfig::from_toml(value, &s.field("groups"), &self.base) {
                Ok(groups) => {
                    let key_problem = groups.google_directory.as_ref().and_then(|g| {
                        google::check_key_file(&g.service_account_file).err().map(|message| Problem {
                            field: format!("{}.google_directory.service_account_file", s.field("groups")),
                            message,
                        })
                    });
                    match key_problem {
                        Some(problem) => {
                            self.problems.push(problem);
                            None
                        }
                        None => Some(groups),
                    }
                }
                Err(problems) => {
                    self.problems.extend(problems);
                    None
                }
            },
        };
        Some(ProviderConfig {
            name: name?,
            display_name: display_name?.to_owned(),
            issuer_id: issuer
                .as_ref()
                .and_then(|_| s.table.get("issuer")?.as_str())
                .unwrap_or_default()
                .to_owned(),
            issuer: issuer?,
            client_id: client_id?.to_owned(),
            client_secret: client_secret?,
            scopes: scopes?,
            access: access?,
            groups: groups?,
        })
    }

    fn cluster(&mut self, s: &Section<'_>) -> Option<ClusterConfig> {
        self.unknown_keys(
            s,
            &[
                "name",
                "api_url",
                "ca_file",
                "kubeconfig",
                "context",
                "in_cluster",
                "cluster_domain",
                "credentials",
                "prometheus",
                "impersonation",
                "mode",
            ],
        );
        let mode = match self.optional_str(s, "mode") {
            None if s.table.contains_key("mode") => None,
            None | Some("cached") => Some(ClusterMode::Cached),
            Some("impersonation_only") => Some(ClusterMode::ImpersonationOnly),
            Some(other) => {
                self.problem(
                    s.field("mode"),
                    format!("{other:?} is not one of \"cached\", \"impersonation_only\""),
                );
                None
            }
        };
        let name = self.name(s, NameRule::DnsLabel);
        let connection = self.connection(s);
        let cluster_domain = match s.table.get("cluster_domain") {
            None => Some("cluster.local".to_owned()),
            Some(_) => self.required_str(s, "cluster_domain").and_then(|d| {
                if d.split('.').all(is_dns_label) {
                    Some(d.to_owned())
                } else {
                    self.problem(s.field("cluster_domain"), format!("{d:?} is not a DNS domain"));
                    None
                }
            }),
        };
        let prometheus = match self.optional_table(s, "prometheus") {
            None if s.table.contains_key("prometheus") => return None,
            None => Some(None),
            Some(p) => {
                let parsed = crate::metrics::config::parse(
                    p.table,
                    &p.path,
                    &self.base,
                    connection.as_ref().map(|c| &c.0),
                );
                parsed.map_err(|problems| self.problems.extend(problems)).ok().map(Some)
            }
        };
        let impersonation = match self.optional_table(s, "impersonation") {
            None if s.table.contains_key("impersonation") => return None,
            None => Some(crate::fleet::impersonate::Policy::default()),
            Some(i) => self.impersonation(&i),
        };
        let (api_url, ca, credentials) = connection?;
        Some(ClusterConfig {
            name: name?,
            api_url,
            ca,
            cluster_domain: cluster_domain?,
            credentials,
            prometheus: prometheus?,
            impersonation: impersonation?,
            mode: mode?,
        })
    }

    fn impersonation(&mut self, s: &Section<'_>) -> Option<crate::fleet::impersonate::Policy> {
        use crate::fleet::impersonate::{Policy, SYSTEM_PREFIX, SystemNames};
        self.unknown_keys(s, &["system_names", "prefix", "allowed_groups"]);
        let defaults = Policy::default();
        let system_names = match self.optional_str(s, "system_names") {
            None if s.table.contains_key("system_names") => None,
            None => Some(defaults.system_names),
            Some("drop") => Some(SystemNames::Drop),
            Some("prefix") => Some(SystemNames::Prefix),
            Some(other) => {
                self.problem(
                    s.field("system_names"),
                    format!("{other:?} is not one of \"drop\", \"prefix\""),
                );
                None
            }
        };
        let prefix = match self.optional_str(s, "prefix") {
            None if s.table.contains_key("prefix") => None,
            None => Some(defaults.prefix),
            Some(p) if p.trim().is_empty() => {
                self.problem(s.field("prefix"), "must not be empty");
                None
            }
            Some(p) if p.starts_with(SYSTEM_PREFIX) => {
                self.problem(s.field("prefix"), format!("{p:?} must not begin with {SYSTEM_PREFIX:?}"));
                None
            }
            Some(p) => Some(p.to_owned()),
        };
        let allowed_groups = match s.table.get("allowed_groups") {
            None => Some(None),
            Some(_) => self.string_list(s, "allowed_groups").and_then(|groups| {
                let mut ok = true;
                for (i, g) in groups.iter().enumerate() {
                    if g.starts_with(SYSTEM_PREFIX) {
                        self.problem(
                            format!("{}[{i}]", s.field("allowed_groups")),
                            format!("{g:?} is a system: group, which Fleetpane never impersonates"),
                        );
                        ok = false;
                    }
                }
                ok.then_some(Some(groups))
            }),
        };
        Some(Policy { system_names: system_names?, prefix: prefix?, allowed_groups: allowed_groups? })
    }

    /// Where the cluster is and who Fleetpane is there: written out (`api_url`, `ca_file`,
    /// `[clusters.credentials]`), a kubeconfig context (`kubeconfig` + `context`), or the pod Fleetpane runs
    /// in (`in_cluster = true`).
    fn connection(&mut self, s: &Section<'_>) -> Option<(Url, CaSource, Credentials)> {
        let in_cluster = match s.table.get("in_cluster") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(other) => {
                self.problem(
                    s.field("in_cluster"),
                    format!("expected true or false, found {}", type_name(other)),
                );
                return None;
            }
        };
        let kubeconfig = s.table.contains_key("kubeconfig");
        let explicit: Vec<&str> =
            ["api_url", "ca_file", "credentials"].into_iter().filter(|k| s.table.contains_key(*k)).collect();
        if in_cluster || kubeconfig {
            let from = if in_cluster { "in_cluster" } else { "kubeconfig" };
            let mut clash = false;
            for key in
                explicit.iter().copied().chain(in_cluster.then_some("kubeconfig").filter(|_| kubeconfig))
            {
                self.problem(s.field(key), format!("comes from {from}; remove it (or {from})"));
                clash = true;
            }
            if in_cluster && s.table.contains_key("context") {
                self.problem(s.field("context"), "only with kubeconfig");
                clash = true;
            }
            if clash {
                return None;
            }
        } else if s.table.contains_key("context") {
            self.problem(s.field("context"), "only with kubeconfig (add kubeconfig = \"path\")");
        }
        if in_cluster {
            let host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
            let port = std::env::var("KUBERNETES_SERVICE_PORT").ok();
            let dir = Path::new(crate::fleet::source::SERVICE_ACCOUNT_DIR);
            return match crate::fleet::source::in_cluster(host.as_deref(), port.as_deref(), dir) {
                Ok((url, ca, token_file)) => {
                    Some((url, CaSource::File(ca), Credentials::TokenFile { token_file }))
                }
                Err(message) => {
                    self.problem(s.field("in_cluster"), message);
                    None
                }
            };
        }
        if kubeconfig {
            let path = self.required_str(s, "kubeconfig").map(|p| self.base.join(p));
            let context = self.required_str(s, "context");
            let (path, context) = (path?, context?);
            return match crate::fleet::source::import(&path, context) {
                Ok(i) => Some((i.api_url, i.ca, Credentials::Kubeconfig(Box::new(i.auth_info)))),
                Err(e) => {
                    self.problem(s.field("kubeconfig"), e.to_string());
                    None
                }
            };
        }
        let api_url = self.url(s, "api_url");
        let ca_file = self.file(s, "ca_file", FileKind::CaCertificates);
        let credentials = self.table(s, "credentials").and_then(|c| self.credentials(&c));
        Some((api_url?, CaSource::File(ca_file?), credentials?))
    }

    fn credentials(&mut self, s: &Section<'_>) -> Option<Credentials> {
        self.unknown_keys(s, &["client_cert_file", "client_key_file", "token_file", "exec"]);
        let has = |k: &str| s.table.contains_key(k);
        let kinds = [has("client_cert_file") || has("client_key_file"), has("token_file"), has("exec")];
        match kinds {
            [false, false, true] => {
                let exec = self.table(s, "exec")?;
                self.exec(&exec).map(|e| Credentials::Exec(Box::new(e)))
            }
            _ if kinds.iter().filter(|k| **k).count() > 1 => {
                self.problem(
                    s.path.clone(),
                    "set only one of: client_cert_file and client_key_file, token_file, or [exec]",
                );
                None
            }
            [false, false, false] => {
                self.problem(
                    s.path.clone(),
                    "set client_cert_file and client_key_file, or token_file, or an [exec] plugin",
                );
                None
            }
            [true, _, _] => {
                let cert =
                    self.file_with_partner(s, "client_cert_file", "client_key_file", FileKind::Certificate);
                let key =
                    self.file_with_partner(s, "client_key_file", "client_cert_file", FileKind::PrivateKey);
                let (cert_file, key_file) = (cert?, key?);
                if let Err(message) = check_client_identity(&cert_file, &key_file) {
                    self.problem(s.path.clone(), message);
                    return None;
                }
                Some(Credentials::ClientCert { cert_file, key_file })
            }
            _ => {
                let token_file = self.file(s, "token_file", FileKind::Secret)?;
                Some(Credentials::TokenFile { token_file })
            }
        }
    }

    /// `[clusters.credentials.exec]`: a client-go credential plugin, like a kubeconfig's `exec`.
    fn exec(&mut self, s: &Section<'_>) -> Option<kube::config::ExecConfig> {
        self.unknown_keys(s, &["command", "args", "env", "api_version"]);
        let command = self.required_str(s, "command").and_then(|c| match find_command(c, &self.base) {
            Ok(path) => Some(path),
            Err(message) => {
                self.problem(s.field("command"), message);
                None
            }
        });
        let args = match s.table.get("args") {
            None => Some(Vec::new()),
            Some(_) => self.string_list(s, "args"),
        };
        let env = match s.table.get("env") {
            None => Some(Vec::new()),
            Some(toml::Value::Table(t)) => {
                let mut vars = Vec::new();
                for (k, v) in t {
                    match v.as_str() {
                        Some(v) => vars.push(HashMap::from([
                            ("name".to_owned(), k.clone()),
                            ("value".to_owned(), v.to_owned()),
                        ])),
                        None => self.problem(
                            format!("{}.{k}", s.field("env")),
                            format!("expected a string, found {}", type_name(v)),
                        ),
                    }
                }
                (vars.len() == t.len()).then_some(vars)
            }
            Some(other) => {
                self.problem(s.field("env"), format!("expected a table, found {}", type_name(other)));
                None
            }
        };
        let api_version = match self.optional_str(s, "api_version") {
            None if s.table.contains_key("api_version") => None,
            None => Some("client.authentication.k8s.io/v1".to_owned()),
            Some(v @ ("client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1")) => {
                Some(v.to_owned())
            }
            Some(other) => {
                self.problem(
                    s.field("api_version"),
                    format!("{other:?} is not client.authentication.k8s.io/v1 or v1beta1"),
                );
                None
            }
        };
        Some(kube::config::ExecConfig {
            api_version: Some(api_version?),
            command: Some(command?.display().to_string()),
            args: Some(args?),
            env: Some(env?),
            interactive_mode: Some(kube::config::ExecInteractiveMode::Never),
            ..Default::default()
        })
    }

    /// Like [`Self::file`], but a missing field says which partner field made it required.
    fn file_with_partner(
        &mut self,
        s: &Section<'_>,
        key: &str,
        partner: &str,
        kind: FileKind,
    ) -> Option<PathBuf> {
        if !s.table.contains_key(key) {
            self.problem(s.field(key), format!("missing ({partner} is set)"));
            return None;
        }
        self.file(s, key, kind)
    }

    fn name(&mut self, s: &Section<'_>, rule: NameRule) -> Option<String> {
        let name = self.required_str(s, "name")?;
        let ok = match rule {
            NameRule::DnsLabel => is_dns_label(name),
            NameRule::Slug => {
                name.len() <= 63
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }
        };
        if !ok {
            let rule = match rule {
                NameRule::DnsLabel => {
                    "is not a DNS label (lowercase letters, digits and '-', starting and ending with a letter or \
                     digit, at most 63 characters)"
                }
                NameRule::Slug => "may only hold lowercase letters, digits and '-' (at most 63 characters)",
            };
            self.problem(s.field("name"), format!("{name:?} {rule}"));
            return None;
        }
        Some(name.to_owned())
    }

    /// Reports every name used twice in `[[key]]`, naming the first user.
    fn unique_names(&mut self, root: &Section<'_>, key: &str) {
        let Some(toml::Value::Array(items)) = root.table.get(key) else {
            return;
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let Some(name) = item.get("name").and_then(toml::Value::as_str) else {
                continue;
            };
            if let Some(first) = seen.get(name) {
                self.problem(
                    format!("{key}[{i}].name"),
                    format!("{name:?} is already used by {key}[{first}]"),
                );
            } else {
                seen.insert(name, i);
            }
        }
    }

    fn url(&mut self, s: &Section<'_>, key: &str) -> Option<Url> {
        let raw = self.required_str(s, key)?;
        match check_url(raw) {
            Ok(url) => Some(url),
            Err(message) => {
                self.problem(s.field(key), message);
                None
            }
        }
    }

    /// Resolves the path, reads the file, and checks its content is what `kind` needs.
    fn file(&mut self, s: &Section<'_>, key: &str, kind: FileKind) -> Option<PathBuf> {
        let raw = self.required_str(s, key)?;
        let path = self.base.join(raw);
        match check_file(&path, kind) {
            Ok(()) => Some(path),
            Err(message) => {
                self.problem(s.field(key), message);
                None
            }
        }
    }
}

/// A humane duration: a whole number and a unit, `90s`, `30m`, `8h` or `1d`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let unit_at = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(unit_at);
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{raw:?} is not a duration (like 90s, 30m, 8h or 1d)")),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => {
            n.checked_mul(seconds_per).map(Duration::from_secs).ok_or_else(|| format!("{raw:?} is too long"))
        }
        _ => Err(format!("{raw:?} is not a duration (like 90s, 30m, 8h or 1d)")),
    }
}

/// `http://` on 127.0.0.0/8, ::1 or `localhost`: the only place a cookie may go without `Secure`.
fn is_plain_http_loopback(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        }
}

#[derive(Clone, Copy)]
enum NameRule {
    DnsLabel,
    Slug,
}

/// `clusters[0].credentials` -> `clusters.credentials`, the table header as written in TOML.
fn strip_indices(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut in_index = false;
    for ch in field.chars() {
        match ch {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// RFC 1123 label: what Kubernetes accepts as a namespace or Service name.
fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

fn check_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{raw:?} is not an http(s) URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} has no host"));
    }
    Ok(url)
}

/// An exec plugin's command: a path (relative to the config file's directory) or a name found on `PATH`.
fn find_command(command: &str, base: &Path) -> Result<PathBuf, String> {
    fn is_executable(p: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt as _;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    if command.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if command.contains('/') {
        let path = base.join(command);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!("{:?} is not an executable file", path.display()))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(command))
        .find(|p| is_executable(p))
        .ok_or_else(|| format!("{command:?} is not on PATH"))
}

fn check_file(path: &Path, kind: FileKind) -> Result<(), String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown:?}: {e}"))?;
    match kind {
        FileKind::Secret => {
            if String::from_utf8_lossy(&bytes).trim().is_empty() {
                return Err(format!("{shown:?} is empty"));
            }
        }
        FileKind::CaCertificates | FileKind::Certificate => {
            let certs = CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{shown:?} is not valid PEM: {e}"))?;
            if certs.is_empty() {
                return Err(format!("{shown:?} holds no PEM certificate"));
            }
            if matches!(kind, FileKind::CaCertificates) {
                let mut roots = rustls::RootCertStore::empty();
                for (i, cert) in certs.into_iter().enumerate() {
                    roots.add(cert).map_err(|e| {
                        format!("{shown:?}: certificate {} is not a usable CA certificate: {e}", i + 1)
                    })?;
                }
            }
        }
        FileKind::PrivateKey => {
            let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
                rustls_pki_types::pem::Error::NoItemsFound => format!("{shown:?} holds no PEM private key"),
                e => format!("{shown:?} is not a valid PEM private key: {e}"),
            })?;
            rustls::crypto::ring::sign::any_supported_type(&key)
                .map_err(|e| format!("{shown:?}: unsupported private key: {e}"))?;
        }
    }
    Ok(())
}

/// Whether the certificate and key make a TLS client identity (parseable v3 certificate, matching key), the
/// same check the client does when it is built.
fn check_client_identity(cert_file: &Path, key_file: &Path) -> Result<(), String> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read {:?}: {e}", cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("cannot read {:?}: {e}", key_file.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("client_cert_file and client_key_file are not a usable pair: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pki");

    /// A temp dir with valid PKI files, a client secret and a token, for configs to point at.
    fn mk_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        for f in ["ca.crt", "client.crt", "client.key"] {
            fs::copy(Path::new(FIXTURES).join(f), dir.path().join(f))
                .unwrap_or_else(|e| panic!("copy {f}: {e}"));
        }
        fs::write(dir.path().join("client-secret"), "s3cret\n").unwrap();
        fs::write(dir.path().join("token"), "tok3n\n").unwrap();
        dir
    }

    const VALID: &str = r#"
[server]
listen = "127.0.0.1:3000"
public_url = "http://127.0.0.1:3000"

[[providers]]
name = "local"
display_name = "Local IdP"
issuer = "http://127.0.0.1:15556"
client_id = "fleetpane"
client_secret_file = "client-secret"

[[clusters]]
name = "prod-eu"
api_url = "https://127.0.0.1:16443"
ca_file = "ca.crt"
[clusters.credentials]
client_cert_file = "client.crt"
client_key_file = "client.key"
[clusters.prometheus]
url = "http://127.0.0.1:19090"

[[clusters]]
name = "prod-us"
api_url = "https://127.0.0.1:16444"
ca_file = "ca.crt"
cluster_domain = "example.internal"
[clusters.credentials]
token_file = "token"
"#;

    /// Problems of `text` as "field: message" lines; panics if it is valid.
    fn problems(dir: &tempfile::TempDir, text: &str) -> Vec<String> {
        match Config::parse(text, dir.path()) {
            Ok(_) => panic!("expected problems, config was accepted"),
            Err(e) => e.lines(),
        }
    }

    fn assert_has(lines: &[String], expected: &str) {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "no line contains {expected:?} in:\n{}",
            lines.join("\n")
        );
    }

    #[test]
    fn valid_config_loads_with_defaults_and_resolved_paths() {
        let dir = mk_dir();
        let path = dir.path().join("fleetpane.toml");
        fs::write(&path, VALID).unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(c.providers[0].groups.claim, "groups");
        assert_eq!(c.providers[0].scopes, ["email", "profile"]);
        assert_eq!(
            c.session.store,
            SessionStoreConfig::Sqlite { path: dir.path().join("fleetpane-sessions.db") }
        );
        assert_eq!(c.session.idle_timeout, Duration::from_secs(1800));
        assert_eq!(c.session.absolute_timeout, Duration::from_secs(8 * 3600));
        assert!(c.session.cookie_secure);
        assert_eq!(c.providers[0].client_secret.expose(), "s3cret");
        assert_eq!(c.clusters.len(), 2);
        assert_eq!(c.clusters[0].cluster_domain, "cluster.local");
        assert_eq!(c.clusters[0].ca, CaSource::File(dir.path().join("ca.crt")));
        assert!(matches!(
            &c.clusters[0].credentials,
            Credentials::ClientCert { cert_file, key_file }
                if *cert_file == dir.path().join("client.crt") && *key_file == dir.path().join("client.key")
        ));
        assert!(c.clusters[0].prometheus.is_some());
        assert_eq!(c.clusters[1].cluster_domain, "example.internal");
        assert!(matches!(
            &c.clusters[1].credentials,
            Credentials::TokenFile { token_file } if *token_file == dir.path().join("token")
        ));
        assert!(c.clusters[1].prometheus.is_none());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let dir = mk_dir();
        let c = Config::parse(VALID, dir.path()).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn missing_fields_are_each_named() {
        let dir = mk_dir();
        let lines = problems(
            &dir,
            r#"
[server]
listen = "127.0.0.1:3000"
[[clusters]]
name = "a"
[clusters.credentials]
token_file = "token"
"#,
        );
        assert_has(&lines, "server.public_url: missing");
        assert_has(&lines, "providers: missing: at least one [[providers]] entry is required");
        assert_has(&lines, "clusters[0].api_url: missing");
        assert_has(&lines, "clusters[0].ca_file: missing");
        assert_eq!(lines.len(), 4, "{lines:?}");
    }

    #[test]
    fn missing_sections() {
        let dir = mk_dir();
        let lines = problems(&dir, "");
        assert_has(&lines, "server: missing");
        assert_has(&lines, "clusters: missing: at least one [[clusters]] entry is required");
        let lines =
            problems(&dir, "clusters = []\n[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"http://x\"\n");
        assert_has(&lines, "clusters: at least one [[clusters]] entry is required");
    }

    #[test]
    fn bad_urls() {
        let dir = mk_dir();
        let text = VALID
            .replace("https://127.0.0.1:16443", "htp://x")
            .replace("http://127.0.0.1:19090", "http://:9090")
            .replace("http://127.0.0.1:15556", "not a url");
        let lines = problems(&dir, &text);
        assert_has(&lines, r#"clusters[0].api_url: "htp://x" is not an http(s) URL"#);
        assert_has(&lines, r#"clusters[0].prometheus.url: "http://:9090" is not a valid URL"#);
        assert_has(&lines, r#"providers[0].issuer: "not a url" is not a valid URL"#);
        assert_eq!(lines.len(), 3, "{lines:?}");
    }

    #[test]
    fn metrics_token_is_optional_read_and_redacted() {
        let dir = mk_dir();
        assert!(Config::parse(VALID, dir.path()).unwrap().server.metrics_token.is_none());
        let with = VALID.replace(
            "public_url = \"http://127.0.0.1:3000\"\n",
            "public_url = \"http://127.0.0.1:3000\"\nmetrics_token_file = \"token\"\n",
        );
        let c = Config::parse(&with, dir.path()).unwrap();
        let token = c.server.metrics_token.as_ref().unwrap();
        assert_eq!(token.expose(), "tok3n");
        assert!(!format!("{c:?}").contains("tok3n"));
        let missing = with.replace("metrics_token_file = \"token\"", "metrics_token_file = \"nope\"");
        let lines = problems(&dir, &missing);
        assert!(lines.iter().any(|l| l.starts_with("server.metrics_token_file: ")), "{lines:?}");
    }

    #[test]
    fn cluster_mode_defaults_to_cached_and_is_validated() {
        let dir = mk_dir();
        let c = Config::parse(VALID, dir.path()).unwrap();
        assert_eq!(c.clusters[0].mode, ClusterMode::Cached);
        let only =
            VALID.replace("name = \"prod-eu\"\n", "name = \"prod-eu\"\nmode = \"impersonation_only\"\n");
        let c = Config::parse(&only, dir.path()).unwrap();
        assert_eq!(
            (c.clusters[0].mode, c.clusters[1].mode),
            (ClusterMode::ImpersonationOnly, ClusterMode::Cached)
        );
        let cached = VALID.replace("name = \"prod-eu\"\n", "name = \"prod-eu\"\nmode = \"cached\"\n");
        assert_eq!(Config::parse(&cached, dir.path()).unwrap().clusters[0].mode, ClusterMode::Cached);
        let bad = VALID.replace("name = \"prod-eu\"\n", "name = \"prod-eu\"\nmode = \"live\"\n");
        assert_has(
            &problems(&dir, &bad),
            r#"clusters[0].mode: "live" is not one of "cached", "impersonation_only""#,
        );
        let wrong_type = VALID.replace("name = \"prod-eu\"\n", "name = \"prod-eu\"\nmode = 1\n");
        assert_eq!(problems(&dir, &wrong_type).len(), 1);
    }

    #[test]
    fn impersonation_defaults_and_values() {
        use crate::fleet::impersonate::{Policy, SystemNames};
        let dir = mk_dir();
        let c = Config::parse(VALID, dir.path()).unwrap();
        assert_eq!(c.clusters[0].impersonation, Policy::default());
        let text = VALID.replace(
            "[clusters.prometheus]",
            "[clusters.impersonation]\nsystem_names = \"prefix\"\nprefix = \"sso:\"\n\
             allowed_groups = [\"sre\", \"a,b\"]\n[clusters.prometheus]",
        );
        let c = Config::parse(&text, dir.path()).unwrap();
        assert_eq!(
            c.clusters[0].impersonation,
            Policy {
                system_names: SystemNames::Prefix,
                prefix: "sso:".into(),
                allowed_groups: Some(vec!["sre".into(), "a,b".into()])
            }
        );
    }

    #[test]
    fn bad_impersonation_fields_are_each_named() {
        let dir = mk_dir();
        let text = VALID.replace(
            "[clusters.prometheus]",
            "[clusters.impersonation]\nsystem_names = \"keep\"\nprefix = \"system:x:\"\n\
             allowed_groups = [\"sre\", \"system:masters\"]\nother = 1\n[clusters.prometheus]",
        );
        let lines = problems(&dir, &text);
        assert_has(
            &lines,
            r#"clusters[0].impersonation.system_names: "keep" is not one of "drop", "prefix""#,
        );
        assert_has(&lines, r#"clusters[0].impersonation.prefix: "system:x:" must not begin with "system:""#);
        assert_has(
            &lines,
            r#"clusters[0].impersonation.allowed_groups[1]: "system:masters" is a system: group"#,
        );
        assert_has(&lines, "clusters[0].impersonation.other: unknown field");
        assert_eq!(lines.len(), 4, "{lines:?}");
    }

    #[test]
    fn url_without_host_is_rejected() {
        assert!(check_url("https://127.0.0.1:6443").is_ok());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("unix:/run/x").is_err());
        let Err(e) = check_url("http://") else { panic!("accepted a URL without host") };
        assert!(e.contains("not a valid URL") || e.contains("no host"), "{e}");
    }

    #[test]
    fn unreadable_files() {
        let dir = mk_dir();
        let text = VALID
            .replace("ca_file = \"ca.crt\"\ncluster_domain", "ca_file = \"nope.crt\"\ncluster_domain")
            .replace("token_file = \"token\"", "token_file = \"missing-token\"")
            .replace("client-secret", "no-secret");
        let lines = problems(&dir, &text);
        assert_has(&lines, "clusters[1].ca_file: cannot read");
        assert_has(&lines, "nope.crt");
        assert_has(&lines, "clusters[1].credentials.token_file: cannot read");
        assert_has(&lines, "providers[0].client_secret_file: cannot read");
        assert_eq!(lines.len(), 3, "{lines:?}");
    }

    #[test]
    fn pem_that_does_not_parse() {
        let dir = mk_dir();
        fs::write(dir.path().join("junk.crt"), "hello\n").unwrap();
        fs::write(
            dir.path().join("broken.crt"),
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        // Valid PEM, but the DER inside is not a certificate.
        fs::write(
            dir.path().join("notder.crt"),
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let text = VALID
            .replacen("ca_file = \"ca.crt\"", "ca_file = \"notder.crt\"", 1)
            .replace("client_cert_file = \"client.crt\"", "client_cert_file = \"broken.crt\"")
            .replace("client_key_file = \"client.key\"", "client_key_file = \"client.crt\"")
            .replacen("ca_file = \"ca.crt\"", "ca_file = \"junk.crt\"", 1);
        let lines = problems(&dir, &text);
        assert_has(&lines, "clusters[0].ca_file: ");
        assert_has(&lines, "not a usable CA certificate");
        assert_has(&lines, "clusters[0].credentials.client_cert_file: ");
        assert_has(&lines, "is not valid PEM");
        assert_has(&lines, "clusters[0].credentials.client_key_file: ");
        assert_has(&lines, "holds no PEM private key");
        assert_has(&lines, "clusters[1].ca_file: ");
        assert_has(&lines, "holds no PEM certificate");
        assert_eq!(lines.len(), 4, "{lines:?}");
    }

    #[test]
    fn client_certificate_and_key_must_match() {
        let dir = mk_dir();
        fs::copy(Path::new(FIXTURES).join("other.key"), dir.path().join("other.key")).unwrap();
        let text = VALID.replace("client_key_file = \"client.key\"", "client_key_file = \"other.key\"");
        let lines = problems(&dir, &text);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "clusters[0].credentials: client_cert_file and client_key_file are not a usable pair"
            ),
            "{lines:?}"
        );
    }

    #[test]
    fn empty_secret_files() {
        let dir = mk_dir();
        fs::write(dir.path().join("token"), "\n").unwrap();
        let lines = problems(&dir, VALID);
        assert_has(&lines, "clusters[1].credentials.token_file: ");
        assert_has(&lines, "is empty");
    }

    #[test]
    fn duplicate_names() {
        let dir = mk_dir();
        let text = VALID.replace("name = \"prod-us\"", "name = \"prod-eu\"")
            + "\n[[providers]]\nname = \"local\"\ndisplay_name = \"x\"\nissuer = \"http://127.0.0.1:1\"\nclient_id = \"c\"\nclient_secret_file = \"client-secret\"\n";
        let lines = problems(&dir, &text);
        assert_has(&lines, r#"clusters[1].name: "prod-eu" is already used by clusters[0]"#);
        assert_has(&lines, r#"providers[1].name: "local" is already used by providers[0]"#);
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn invalid_names() {
        let dir = mk_dir();
        let text = VALID
            .replace("name = \"prod-eu\"", "name = \"Prod_EU\"")
            .replace("name = \"local\"", "name = \"Local IdP\"");
        let lines = problems(&dir, &text);
        assert_has(&lines, r#"clusters[0].name: "Prod_EU" is not a DNS label"#);
        assert_has(&lines, r#"providers[0].name: "Local IdP" may only hold"#);
        assert!(
            !is_dns_label("-a")
                && !is_dns_label("a-")
                && !is_dns_label(&"a".repeat(64))
                && is_dns_label("a-1")
        );
    }

    #[test]
    fn bad_listen_address() {
        let dir = mk_dir();
        let lines = problems(&dir, &VALID.replace("listen = \"127.0.0.1:3000\"", "listen = \"localhost\""));
        assert_eq!(
            lines,
            vec![r#"server.listen: "localhost" is not a socket address (like 127.0.0.1:3000)"#]
        );
    }

    #[test]
    fn credentials_both_none_or_half() {
        let dir = mk_dir();
        let both = VALID
            .replace("token_file = \"token\"", "token_file = \"token\"\nclient_cert_file = \"client.crt\"");
        assert_eq!(
            problems(&dir, &both),
            vec![
                "clusters[1].credentials: set only one of: client_cert_file and client_key_file, token_file, or [exec]"
            ]
        );
        let none = VALID.replace("token_file = \"token\"", "");
        assert_eq!(
            problems(&dir, &none),
            vec![
                "clusters[1].credentials: set client_cert_file and client_key_file, or token_file, or an [exec] plugin"
            ]
        );
        let half = VALID.replace("client_key_file = \"client.key\"", "");
        assert_eq!(
            problems(&dir, &half),
            vec!["clusters[0].credentials.client_key_file: missing (client_cert_file is set)"]
        );
        let no_table = VALID.replace("[clusters.credentials]\ntoken_file = \"token\"", "");
        assert_eq!(
            problems(&dir, &no_table),
            vec!["clusters[1].credentials: missing (add a [clusters.credentials] table)"]
        );
    }

    #[test]
    fn exec_plugin_credentials() {
        let dir = mk_dir();
        let exec = VALID.replace(
            "[clusters.credentials]\ntoken_file = \"token\"",
            "[clusters.credentials.exec]\ncommand = \"sh\"\nargs = [\"-c\", \"echo\"]\nenv = { AWS_PROFILE = \"fleet\" }",
        );
        let c = Config::parse(&exec, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let Credentials::Exec(e) = &c.clusters[1].credentials else {
            panic!("{:?}", c.clusters[1].credentials)
        };
        assert!(e.command.as_deref().is_some_and(|c| c.ends_with("/sh")), "{:?}", e.command);
        assert_eq!(e.args, Some(vec!["-c".to_owned(), "echo".to_owned()]));
        assert_eq!(e.api_version.as_deref(), Some("client.authentication.k8s.io/v1"));
        assert_eq!(e.env.as_ref().map(|v| v[0]["name"].as_str()), Some("AWS_PROFILE"));

        let missing = exec.replace("command = \"sh\"", "command = \"no-such-plugin-here\"");
        assert_eq!(
            problems(&dir, &missing),
            vec!["clusters[1].credentials.exec.command: \"no-such-plugin-here\" is not on PATH"]
        );
        let bad = exec
            .replace("AWS_PROFILE = \"fleet\"", "AWS_PROFILE = 1")
            .replace("args = [", "api_version = \"v2\"\nargs = [");
        let lines = problems(&dir, &bad);
        assert_has(&lines, "clusters[1].credentials.exec.env.AWS_PROFILE: expected a string");
        assert_has(&lines, "clusters[1].credentials.exec.api_version: \"v2\" is not");
        let two = exec.replace(
            "[clusters.credentials.exec]",
            "[clusters.credentials]\ntoken_file = \"token\"\n[clusters.credentials.exec]",
        );
        assert_has(&problems(&dir, &two), "clusters[1].credentials: set only one of");
    }

    #[test]
    fn kubeconfig_contexts_are_imported() {
        let dir = mk_dir();
        fs::write(
            dir.path().join("kubeconfig"),
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://10.1.2.3:6443', certificate-authority: ca.crt}\ncontexts:\n- name: prod-us-admin\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {client-certificate: client.crt, client-key: client.key}\n",
        )
        .unwrap();
        let imported = VALID.replace(
            "api_url = \"https://127.0.0.1:16444\"\nca_file = \"ca.crt\"",
            "kubeconfig = \"kubeconfig\"\ncontext = \"prod-us-admin\"",
        );
        let imported = imported.replace("[clusters.credentials]\ntoken_file = \"token\"\n", "");
        let c = Config::parse(&imported, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.clusters[1].api_url.as_str(), "https://10.1.2.3:6443/");
        assert_eq!(c.clusters[1].ca, CaSource::File(dir.path().join("ca.crt")));
        assert!(matches!(&c.clusters[1].credentials, Credentials::Kubeconfig(u) if u.client_key.is_some()));
        // The kube client can be built from it (paths, CA and identity).
        assert!(crate::fleet::kube_config(&c.clusters[1]).is_ok());

        let unknown = imported.replace("context = \"prod-us-admin\"", "context = \"staging\"");
        assert_eq!(
            problems(&dir, &unknown),
            vec![format!(
                "clusters[1].kubeconfig: no context \"staging\" in {:?} (contexts: prod-us-admin)",
                dir.path().join("kubeconfig").display().to_string()
            )]
        );
        let clash = imported.replace("kubeconfig = ", "ca_file = \"ca.crt\"\nkubeconfig = ");
        assert_eq!(
            problems(&dir, &clash),
            vec!["clusters[1].ca_file: comes from kubeconfig; remove it (or kubeconfig)"]
        );
        let no_context = imported.replace("context = \"prod-us-admin\"\n", "");
        assert_eq!(problems(&dir, &no_context), vec!["clusters[1].context: missing"]);
    }

    #[test]
    fn in_cluster_needs_a_pod() {
        let dir = mk_dir();
        let text = VALID
            .replace("api_url = \"https://127.0.0.1:16444\"\nca_file = \"ca.crt\"", "in_cluster = true")
            .replace("[clusters.credentials]\ntoken_file = \"token\"\n", "");
        // This test does not run in a pod: the message says so (the resolution itself is tested in
        // fleet::source with a service-account directory).
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
            assert_eq!(
                problems(&dir, &text),
                vec![
                    "clusters[1].in_cluster: KUBERNETES_SERVICE_HOST is not set: Fleetpane is not running in a pod"
                ]
            );
        }
        let clash = text.replace("in_cluster = true", "in_cluster = true\napi_url = \"https://x\"");
        assert_eq!(
            problems(&dir, &clash),
            vec!["clusters[1].api_url: comes from in_cluster; remove it (or in_cluster)"]
        );
        let typed = text.replace("in_cluster = true", "in_cluster = \"yes\"");
        assert_has(&problems(&dir, &typed), "clusters[1].in_cluster: expected true or false, found");
    }

    #[test]
    fn wrong_types_and_unknown_fields() {
        let dir = mk_dir();
        let text = VALID
            .replace("listen = \"127.0.0.1:3000\"", "listen = 3000")
            .replace("api_url = \"https://127.0.0.1:16444\"", "api_ur = \"https://127.0.0.1:16444\"");
        let lines = problems(&dir, &text);
        assert_has(&lines, "server.listen: must be a string, not an integer");
        assert_has(&lines, "clusters[1].api_ur: unknown field");
        assert_has(&lines, "clusters[1].api_url: missing");
        assert_eq!(lines.len(), 3, "{lines:?}");
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let dir = mk_dir();
        let text = VALID
            .replace("listen = \"127.0.0.1:3000\"", "listen = \"nope\"")
            .replace("https://127.0.0.1:16443", "ftp://x")
            .replace("name = \"prod-us\"", "name = \"prod-eu\"");
        assert_eq!(problems(&dir, &text).len(), 3);
    }

    #[test]
    fn drift_section() {
        use fleetpane_app::model::drift::DriftKey;
        let dir = mk_dir();
        let base = VALID;
        let config = Config::parse(base, dir.path()).unwrap();
        assert!(config.drift.expected.is_empty(), "no [drift]: nothing expected");
        let text = format!("{base}\n[drift]\nexpected = [\"replicas\", \"ready-endpoints\"]\n");
        let config = Config::parse(&text, dir.path()).unwrap();
        assert_eq!(config.drift.expected, [DriftKey::Replicas, DriftKey::ReadyEndpoints]);
        let lines = problems(&dir, &format!("{base}\n[drift]\nexpected = [\"replicaz\"]\nbogus = 1\n"));
        assert_has(&lines, "drift.expected[0]: unknown drift field \"replicaz\"");
        assert_has(&lines, "drift.bogus");
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let dir = mk_dir();
        let path = dir.path().join("bad.toml");
        fs::write(&path, "[server\n").unwrap();
        let Err(e) = Config::load(&path) else { panic!("accepted broken TOML") };
        let lines = e.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(&format!("{}: not valid TOML", path.display())), "{lines:?}");
        let Err(e) = Config::load(&dir.path().join("absent.toml")) else { panic!("loaded a missing file") };
        assert!(e.to_string().contains("cannot read the config file"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(28_800)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "30", "m", "0s", "-5m", "1.5h", "5 m", "10x", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn session_section() {
        let dir = mk_dir();
        let text = VALID.replace(
            "[[providers]]",
            "[session]\nstore = \"sqlite\"\nsqlite_path = \"state/sessions.db\"\nidle_timeout = \"90s\"\n\
             absolute_timeout = \"2h\"\ncookie_secure = false\n\n[[providers]]",
        );
        let c = Config::parse(&text, dir.path()).unwrap();
        assert_eq!(
            c.session.store,
            SessionStoreConfig::Sqlite { path: dir.path().join("state/sessions.db") }
        );
        assert_eq!(c.session.idle_timeout, Duration::from_secs(90));
        assert_eq!(c.session.absolute_timeout, Duration::from_secs(7200));
        assert!(!c.session.cookie_secure);

        let memory = VALID.replace("[[providers]]", "[session]\nstore = \"memory\"\n[[providers]]");
        assert_eq!(Config::parse(&memory, dir.path()).unwrap().session.store, SessionStoreConfig::Memory);
        let redis = VALID.replace(
            "[[providers]]",
            "[session]\nstore = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n[[providers]]",
        );
        let c = Config::parse(&redis, dir.path()).unwrap();
        assert!(matches!(c.session.store, SessionStoreConfig::Redis { .. }));
        assert!(!format!("{c:?}").contains("6379"), "the store URL may hold a password");
        for url in
            ["postgres://fleetpane@db/fleetpane", "postgresql://fleetpane@db/fleetpane?sslmode=require"]
        {
            let postgres = VALID.replace(
                "[[providers]]",
                &format!("[session]\nstore = \"postgres\"\nurl = \"{url}\"\n[[providers]]"),
            );
            let c = Config::parse(&postgres, dir.path()).unwrap();
            assert!(matches!(c.session.store, SessionStoreConfig::Postgres { .. }), "{url}");
        }
    }

    #[test]
    fn session_problems() {
        let dir = mk_dir();
        let text = VALID.replace(
            "[[providers]]",
            "[session]\nstore = \"mongo\"\nidle_timeout = \"soon\"\nabsolute_timeout = 8\ncookie_secure = \"no\"\n\
             colour = 1\n[[providers]]",
        );
        let lines = problems(&dir, &text);
        assert_has(&lines, r#"session.store: "mongo" is not a session store"#);
        assert_has(&lines, r#"session.idle_timeout: "soon" is not a duration"#);
        assert_has(&lines, "session.absolute_timeout: must be a string, not an integer");
        assert_has(&lines, "session.cookie_secure: must be a boolean");
        assert_has(&lines, "session.colour: unknown field");
        assert_eq!(lines.len(), 5, "{lines:?}");

        let redis = VALID.replace("[[providers]]", "[session]\nstore = \"postgres\"\n[[providers]]");
        assert_eq!(problems(&dir, &redis), vec!["session.url: missing"]);
        let wrong =
            VALID.replace("[[providers]]", "[session]\nstore = \"redis\"\nurl = \"http://x\"\n[[providers]]");
        assert_eq!(
            problems(&dir, &wrong),
            vec![r#"session.url: must be a redis:// URL for store = "redis""#]
        );
        let idle = VALID.replace("[[providers]]", "[session]\nidle_timeout = \"9h\"\n[[providers]]");
        assert_eq!(
            problems(&dir, &idle),
            vec!["session.idle_timeout: must not be longer than absolute_timeout"]
        );
    }

    #[test]
    fn insecure_cookies_only_on_plain_http_loopback() {
        let dir = mk_dir();
        let insecure = |url: &str| {
            VALID
                .replace("public_url = \"http://127.0.0.1:3000\"", &format!("public_url = \"{url}\""))
                .replace("[[providers]]", "[session]\ncookie_secure = false\n[[providers]]")
        };
        for ok in ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000"] {
            assert!(Config::parse(&insecure(ok), dir.path()).is_ok(), "{ok}");
        }
        for bad in ["https://127.0.0.1:3000", "http://fleetpane.example.com", "http://10.0.0.1:3000"] {
            assert_eq!(
                problems(&dir, &insecure(bad)),
                vec![
                    "session.cookie_secure: false is allowed only when server.public_url is http:// on a loopback host"
                ],
                "{bad}"
            );
        }
    }

    #[test]
    fn provider_fields() {
        let dir = mk_dir();
        let text = VALID.replace(
            "client_secret_file = \"client-secret\"",
            "client_secret_file = \"client-secret\"\nscopes = [\"email\", \"groups\"]\n\
             allowed_email_domains = [\"@Example.com\"]\nallowed_groups = [\"sre\"]\n\
             [providers.groups]\nclaim = \"roles\"\nprefix = \"oidc:\"\nmapping = { \"okta-sre\" = \"sre\" }",
        );
        let c = Config::parse(&text, dir.path()).unwrap();
        let p = &c.providers[0];
        assert_eq!(p.scopes, ["email", "groups"]);
        assert_eq!(p.access.allowed_email_domains, ["example.com"]);
        assert_eq!(p.access.allowed_groups, ["sre"]);
        assert_eq!(p.groups.claim, "roles");
        assert_eq!(p.groups.prefix, "oidc:");
        assert_eq!(p.groups.mapping["okta-sre"], "sre");
        assert_eq!(p.issuer_id, "http://127.0.0.1:15556", "kept as written, without a trailing slash");

        let bad = VALID.replace(
            "client_secret_file = \"client-secret\"",
            "client_secret_file = \"client-secret\"\nscopes = \"email\"\nallowed_groups = [\"\"]\n\
             groups_claim = \"groups\"\n[providers.groups]\nclaimz = \"x\"",
        );
        let lines = problems(&dir, &bad);
        assert_has(&lines, "providers[0].scopes: must be an array of strings, not a string");
        assert_has(&lines, "providers[0].allowed_groups[0]: must be a non-empty string");
        assert_has(&lines, "providers[0].groups_claim: unknown field");
        assert_has(&lines, "providers[0].groups: ");
        assert_eq!(lines.len(), 4, "{lines:?}");
    }

    #[test]
    fn config_path_from_flag_or_env() {
        let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let p =
            |r: Result<PathBuf, ConfigError>| r.map_or_else(|e| e.to_string(), |p| p.display().to_string());
        assert_eq!(p(Config::path_from(&args(&["--config", "a.toml"]), Some("b.toml".into()))), "a.toml");
        assert_eq!(p(Config::path_from(&args(&["--config=a.toml"]), None)), "a.toml");
        assert_eq!(p(Config::path_from(&args(&[]), Some("b.toml".into()))), "b.toml");
        assert!(matches!(Config::path_from(&args(&[]), None), Err(ConfigError::NoPath)));
        assert!(matches!(Config::path_from(&args(&["--config"]), None), Err(ConfigError::NoPath)));
    }
}
