//! `[clusters.prometheus]`, validated like the rest of the config: one problem per line, each naming the field.
//!
//! ```toml
//! [clusters.prometheus]
//! url = "https://mimir.example.com/prometheus"   # direct (path prefixes allowed), or:
//! # service = "monitoring/prometheus-k8s:9090"  # through the apiserver's service proxy, as the person
//! preset = "auto"                                # or istio, linkerd, ingress-nginx, envoy-gateway, generic, custom
//! timeout = "2s"
//! bearer_token_file = "prom-token"              # or basic_auth_username + basic_auth_password_file
//! [clusters.prometheus.templates]               # preset = "custom"
//! request_rate = 'sum(rate(http_requests_total{namespace="{namespace}",service="{service}"}[{window}]))'
//! ```

use std::{path::Path, path::PathBuf, time::Duration};

use url::Url;

use super::presets::{Preset, Source, Templates, check_template};
use crate::config::{Problem, PrometheusConfig, parse_duration};

/// How Fleetpane reaches the Prometheus API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Directly, at this base URL (`/api/v1/...` is appended to its path).
    Direct(Url),
    /// Through the cluster's apiserver service proxy, with the person's impersonation.
    ServiceProxy {
        /// The Service's namespace.
        namespace: String,
        /// The Service.
        service: String,
        /// Its port (number or name).
        port: String,
        /// `https` when the port speaks TLS.
        https: bool,
        /// A path prefix below the Service, e.g. `/prometheus` (empty: none).
        path: String,
    },
}

/// Credentials for a direct Prometheus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// None.
    None,
    /// `Authorization: Bearer <file content>`, read at every request (rotation works).
    Bearer {
        /// The token file.
        token_file: PathBuf,
    },
    /// HTTP basic auth; the password file is read at every request.
    Basic {
        /// The user.
        username: String,
        /// The password file.
        password_file: PathBuf,
    },
}

/// Which request metrics to use.
#[derive(Clone, Debug, PartialEq)]
pub enum PresetChoice {
    /// Detect by probing which series exist (cached).
    Auto,
    /// This preset or these templates.
    Fixed(Source),
}

/// The validated `[clusters.prometheus]` beyond its URL.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// How to reach it.
    pub endpoint: Endpoint,
    /// Credentials (direct only).
    pub auth: Auth,
    /// Which metrics.
    pub preset: PresetChoice,
    /// Per query; default 2 s.
    pub timeout: Duration,
}

/// The default per-query timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

const KEYS: [&str; 8] = [
    "url",
    "service",
    "path",
    "preset",
    "timeout",
    "bearer_token_file",
    "basic_auth_username",
    "basic_auth_password_file",
];

/// Parses `[clusters.prometheus]` at `field` (e.g. `clusters[0].prometheus`). `api_url` is the cluster's
/// apiserver (for the service-proxy URL shown on pages), `base` the config file's directory.
pub fn parse(
    table: &toml::Table,
    field: &str,
    base: &Path,
    api_url: Option<&Url>,
) -> Result<PrometheusConfig, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem = |key: &str, message: String| {
        problems.push(Problem {
            field: if key.is_empty() { field.to_owned() } else { format!("{field}.{key}") },
            message,
        });
    };
    for key in table.keys().filter(|k| !KEYS.contains(&k.as_str()) && *k != "templates") {
        problem(key, "unknown field".into());
    }
    let string = |key: &str, problem: &mut dyn FnMut(&str, String)| -> Option<String> {
        match table.get(key)? {
            toml::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            toml::Value::String(_) => {
                problem(key, "must not be empty".into());
                None
            }
            _ => {
                problem(key, "must be a string".into());
                None
            }
        }
    };
    let url = string("url", &mut problem);
    let service = string("service", &mut problem);
    let path = string("path", &mut problem).unwrap_or_default();
    let endpoint = match (url, service) {
        (Some(_), Some(_)) => {
            problem("", "set either url or service, not both".into());
            None
        }
        (None, None) => {
            problem("", "set url (Prometheus' base URL) or service (\"namespace/name:port\")".into());
            None
        }
        (Some(raw), None) => {
            if !path.is_empty() {
                problem("path", "only for service; put a direct URL's path prefix into url".into());
            }
            match Url::parse(&raw) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some_and(|h| !h.is_empty()) =>
                {
                    Some(Endpoint::Direct(u))
                }
                Ok(_) => {
                    problem("url", format!("{raw:?} is not an http(s) URL"));
                    None
                }
                Err(e) => {
                    problem("url", format!("{raw:?} is not a valid URL ({e})"));
                    None
                }
            }
        }
        (None, Some(raw)) => match parse_service(&raw) {
            Ok((namespace, service, port, https)) => {
                if !path.is_empty() && !path.starts_with('/') {
                    problem("path", format!("{path:?} must start with /"));
                }
                Some(Endpoint::ServiceProxy {
                    namespace,
                    service,
                    port,
                    https,
                    path: path.trim_end_matches('/').to_owned(),
                })
            }
            Err(message) => {
                problem("service", message);
                None
            }
        },
    };
    let timeout = match string("timeout", &mut problem) {
        None => Some(DEFAULT_TIMEOUT),
        Some(raw) => match parse_duration(&raw) {
            Ok(d) if d <= Duration::from_secs(30) => Some(d),
            Ok(_) => {
                problem("timeout", "must be at most 30s (a slow panel should say so, not hang)".into());
                None
            }
            Err(message) => {
                problem("timeout", message);
                None
            }
        },
    };
    let bearer = string("bearer_token_file", &mut problem);
    let user = string("basic_auth_username", &mut problem);
    let password = string("basic_auth_password_file", &mut problem);
    let readable = |key: &str, raw: &str, problem: &mut dyn FnMut(&str, String)| -> Option<PathBuf> {
        let path = base.join(raw);
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => Some(path),
            Ok(_) => {
                problem(key, format!("{:?} is empty", path.display()));
                None
            }
            Err(e) => {
                problem(key, format!("cannot read {:?}: {e}", path.display()));
                None
            }
        }
    };
    let auth = match (bearer, user, password) {
        (None, None, None) => Some(Auth::None),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            problem("", "set either bearer_token_file or basic auth, not both".into());
            None
        }
        (Some(file), None, None) => {
            readable("bearer_token_file", &file, &mut problem).map(|token_file| Auth::Bearer { token_file })
        }
        (None, Some(username), Some(file)) => readable("basic_auth_password_file", &file, &mut problem)
            .map(|password_file| Auth::Basic { username, password_file }),
        (None, Some(_), None) => {
            problem("basic_auth_password_file", "missing (basic_auth_username is set)".into());
            None
        }
        (None, None, Some(_)) => {
            problem("basic_auth_username", "missing (basic_auth_password_file is set)".into());
            None
        }
    };
    if matches!(endpoint, Some(Endpoint::ServiceProxy { .. })) && !matches!(auth, Some(Auth::None) | None) {
        problem(
            "",
            "auth applies to url only: through the service proxy the person's own access is used".into(),
        );
    }
    let templates = match table.get("templates") {
        None => Some(None),
        Some(toml::Value::Table(t)) => templates(t, &format!("{field}.templates"), &mut problems).map(Some),
        Some(_) => {
            problems.push(Problem { field: format!("{field}.templates"), message: "must be a table".into() });
            None
        }
    };
    let mut problem = |key: &str, message: String| {
        problems.push(Problem { field: format!("{field}.{key}"), message });
    };
    let preset = match (string("preset", &mut problem).as_deref(), templates) {
        (_, None) => None,
        (None | Some("custom"), Some(Some(t))) => Some(PresetChoice::Fixed(Source::Templates(Box::new(t)))),
        (Some("custom"), Some(None)) => {
            problem(
                "templates",
                "missing: preset = \"custom\" needs a [clusters.prometheus.templates] table".into(),
            );
            None
        }
        (Some(other), Some(Some(_))) => {
            problem(
                "preset",
                format!("{other:?} ignores the templates: use preset = \"custom\" or remove them"),
            );
            None
        }
        (None | Some("auto"), Some(None)) => Some(PresetChoice::Auto),
        (Some(name), Some(None)) => match Preset::parse(name) {
            Some(p) => Some(PresetChoice::Fixed(Source::Preset(p))),
            None => {
                problem(
                    "preset",
                    format!(
                        "{name:?} is not one of \"auto\", \"istio\", \"linkerd\", \"ingress-nginx\", \"envoy-gateway\", \
                         \"generic\", \"custom\""
                    ),
                );
                None
            }
        },
    };
    let url = match &endpoint {
        Some(Endpoint::Direct(u)) => Some(u.clone()),
        Some(Endpoint::ServiceProxy { namespace, service, port, https, path }) => {
            let api = api_url.cloned().or_else(|| Url::parse("https://apiserver.invalid").ok());
            api.and_then(|api| {
                let scheme = if *https { "https:" } else { "" };
                api.join(&format!(
                    "api/v1/namespaces/{namespace}/services/{scheme}{service}:{port}/proxy{path}/"
                ))
                .ok()
            })
        }
        None => None,
    };
    match (problems.is_empty(), url, endpoint, auth, preset, timeout) {
        (true, Some(url), Some(endpoint), Some(auth), Some(preset), Some(timeout)) => {
            Ok(PrometheusConfig { url, settings: Settings { endpoint, auth, preset, timeout } })
        }
        _ => Err(problems),
    }
}

/// `[https:]namespace/name:port`.
fn parse_service(raw: &str) -> Result<(String, String, String, bool), String> {
    let (https, rest) = match raw.strip_prefix("https:") {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let shape = || format!("{raw:?} is not \"namespace/name:port\" (optionally prefixed \"https:\")");
    let (namespace, name_port) = rest.split_once('/').ok_or_else(shape)?;
    let (name, port) = name_port.split_once(':').ok_or_else(shape)?;
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    if !label(namespace) || !label(name) || !label(port) {
        return Err(shape());
    }
    Ok((namespace.to_owned(), name.to_owned(), port.to_owned(), https))
}

fn templates(t: &toml::Table, field: &str, problems: &mut Vec<Problem>) -> Option<Templates> {
    const KEYS: [&str; 6] =
        ["request_rate", "error_share", "latency", "fleet_rate", "namespace_label", "service_label"];
    let before = problems.len();
    for key in t.keys().filter(|k| !KEYS.contains(&k.as_str())) {
        problems.push(Problem { field: format!("{field}.{key}"), message: "unknown field".into() });
    }
    let mut get = |key: &str, required: bool, latency: bool| -> Option<String> {
        let value = match t.get(key) {
            None if required => {
                problems.push(Problem { field: format!("{field}.{key}"), message: "missing".into() });
                return None;
            }
            None => return None,
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(_) => {
                problems.push(Problem {
                    field: format!("{field}.{key}"),
                    message: "must be a non-empty string".into(),
                });
                return None;
            }
        };
        if key.ends_with("_label") {
            let ok = value
                .bytes()
                .enumerate()
                .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()));
            if !ok {
                problems.push(Problem {
                    field: format!("{field}.{key}"),
                    message: format!("{value:?} is not a Prometheus label name"),
                });
                return None;
            }
        } else if let Err(message) = check_template(&value, latency) {
            problems.push(Problem { field: format!("{field}.{key}"), message });
            return None;
        }
        Some(value)
    };
    let request_rate = get("request_rate", true, false);
    let error_share = get("error_share", true, false);
    let latency = get("latency", true, true);
    let fleet_rate = get("fleet_rate", false, false);
    let namespace_label = get("namespace_label", false, false).unwrap_or_else(|| "namespace".into());
    let service_label = get("service_label", false, false).unwrap_or_else(|| "service".into());
    if problems.len() > before {
        return None;
    }
    Some(Templates {
        request_rate: request_rate?,
        error_share: error_share?,
        latency: latency?,
        fleet_rate,
        namespace_label,
        service_label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<PrometheusConfig, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let table: toml::Table = toml::from_str(text).unwrap();
        let api = Url::parse("https://127.0.0.1:6443").unwrap();
        parse(&table, "clusters[0].prometheus", dir.path(), Some(&api))
            .map_err(|p| p.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn direct_url_with_prefix_and_defaults() {
        let c = parse_text(r#"url = "https://thanos.example.com/prometheus""#).unwrap();
        assert_eq!(c.url.as_str(), "https://thanos.example.com/prometheus");
        assert_eq!(c.settings.preset, PresetChoice::Auto);
        assert_eq!(c.settings.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.settings.auth, Auth::None);
    }

    #[test]
    fn service_proxy() {
        let c = parse_text(
            "service = \"https:monitoring/prometheus-k8s:web\"\npath = \"/prom\"\npreset = \"istio\"",
        )
        .unwrap();
        assert_eq!(
            c.url.as_str(),
            "https://127.0.0.1:6443/api/v1/namespaces/monitoring/services/https:prometheus-k8s:web/proxy/prom/"
        );
        assert_eq!(c.settings.preset, PresetChoice::Fixed(Source::Preset(Preset::Istio)));
        assert!(matches!(c.settings.endpoint, Endpoint::ServiceProxy { https: true, .. }));
    }

    #[test]
    fn auth() {
        let c = parse_text("url = \"http://p:9090\"\nbearer_token_file = \"token\"").unwrap();
        assert!(matches!(c.settings.auth, Auth::Bearer { .. }));
        let c = parse_text(
            "url = \"http://p:9090\"\nbasic_auth_username = \"u\"\nbasic_auth_password_file = \"token\"",
        )
        .unwrap();
        assert!(matches!(c.settings.auth, Auth::Basic { ref username, .. } if username == "u"));
    }

    #[test]
    fn problems_name_the_field() {
        let lines = parse_text(
            "url = \"ftp://x\"\npreset = \"nginx\"\ntimeout = \"1m\"\nbearer_token_file = \"empty\"\ncolour = 1",
        )
        .unwrap_err();
        for want in [
            "clusters[0].prometheus.colour: unknown field",
            "clusters[0].prometheus.url: \"ftp://x\" is not an http(s) URL",
            "clusters[0].prometheus.timeout: must be at most 30s (a slow panel should say so, not hang)",
            "clusters[0].prometheus.preset: \"nginx\" is not one of \"auto\", \"istio\", \"linkerd\", \"ingress-nginx\", \"envoy-gateway\", \"generic\", \"custom\"",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want}\n{lines:?}");
        }
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("clusters[0].prometheus.bearer_token_file: ")
                    && l.ends_with("is empty"))
        );
        assert_eq!(
            parse_text("").unwrap_err(),
            ["clusters[0].prometheus: set url (Prometheus' base URL) or service (\"namespace/name:port\")"]
        );
        assert_eq!(
            parse_text("url = \"http://p\"\nservice = \"a/b:1\"").unwrap_err(),
            ["clusters[0].prometheus: set either url or service, not both"]
        );
        assert_eq!(
            parse_text("service = \"a/b\"").unwrap_err(),
            [
                "clusters[0].prometheus.service: \"a/b\" is not \"namespace/name:port\" (optionally prefixed \"https:\")"
            ]
        );
        assert_eq!(
            parse_text("service = \"a/b:1\"\nbearer_token_file = \"token\"").unwrap_err(),
            [
                "clusters[0].prometheus: auth applies to url only: through the service proxy the person's own access is used"
            ]
        );
        assert_eq!(
            parse_text("url = \"http://p\"\nbasic_auth_username = \"u\"").unwrap_err(),
            ["clusters[0].prometheus.basic_auth_password_file: missing (basic_auth_username is set)"]
        );
    }

    #[test]
    fn templates() {
        let ok = parse_text(
            "url = \"http://p\"\n[templates]\nrequest_rate = 'sum(rate(r{namespace=\"{namespace}\",service=\"{service}\"}[{window}]))'\n\
             error_share = '0'\nlatency = 'histogram_quantile({quantile}, sum by (le) (rate(b{namespace=\"{namespace}\"}[{window}])))'",
        )
        .unwrap();
        assert!(matches!(ok.settings.preset, PresetChoice::Fixed(Source::Templates(_))));
        let bad = parse_text(
            "url = \"http://p\"\npreset = \"istio\"\n[templates]\nrequest_rate = 'x{a=\"{svc}\"}'\nerror_share = 'sum(x'\n\
             latency = 'x'\nnamespace_label = 'a-b'",
        )
        .unwrap_err();
        assert!(
            bad.iter()
                .any(|l| l
                    .starts_with("clusters[0].prometheus.templates.request_rate: unknown placeholder {svc}")),
            "{bad:?}"
        );
        assert!(
            bad.iter().any(|l| l.starts_with("clusters[0].prometheus.templates.error_share: cannot scope")),
            "{bad:?}"
        );
        assert!(
            bad.iter()
                .any(|l| l.starts_with("clusters[0].prometheus.templates.latency: must use {quantile}")),
            "{bad:?}"
        );
        assert!(bad.iter().any(|l| l == "clusters[0].prometheus.templates.namespace_label: \"a-b\" is not a Prometheus label name"), "{bad:?}");
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert_eq!(
            parse_text("url = \"http://p\"\npreset = \"custom\"").unwrap_err(),
            [
                "clusters[0].prometheus.templates: missing: preset = \"custom\" needs a [clusters.prometheus.templates] table"
            ]
        );
    }
}
