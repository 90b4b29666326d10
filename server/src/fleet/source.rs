//! Where a cluster's connection comes from, when it is not written out in the config: a kubeconfig context
//! (its server URL, its CA and the identity of its user), or the pod Fleetpane runs in (the service account).
//! Both are resolved once, at start, so a problem is a config problem with a clear message.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use kube::config::{AuthInfo, Kubeconfig};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use url::Url;

/// Where the service account's files are mounted in a pod.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The CA certificates that sign an apiserver's serving certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// A PEM file, re-read by the client every minute (a rotated CA is picked up without a restart).
    File(PathBuf),
    /// PEM text held in memory (a kubeconfig's `certificate-authority-data`).
    Pem(Vec<u8>),
}

/// A kubeconfig context, resolved.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The cluster's `server`.
    pub api_url: Url,
    /// The cluster's CA.
    pub ca: CaSource,
    /// The context's user: client certificate, token (file) or exec plugin, as kube reads them.
    pub auth_info: AuthInfo,
}

/// Why a kubeconfig context cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    /// The file is missing or not a kubeconfig.
    #[error("cannot read kubeconfig {path:?}: {message}")]
    Read {
        /// The kubeconfig.
        path: String,
        /// Why.
        message: String,
    },
    /// No context of that name.
    #[error("no context {context:?} in {path:?} (contexts: {available})")]
    NoContext {
        /// The kubeconfig.
        path: String,
        /// The name asked for.
        context: String,
        /// The names there are.
        available: String,
    },
    /// The context names a cluster or user the file does not define.
    #[error("context {context:?} names {what} {name:?}, which the kubeconfig does not define")]
    Dangling {
        /// The context.
        context: String,
        /// "cluster" or "user".
        what: &'static str,
        /// The missing name.
        name: String,
    },
    /// The cluster entry is not usable as it is.
    #[error("context {context:?}: {message}")]
    Cluster {
        /// The context.
        context: String,
        /// What is wrong.
        message: String,
    },
    /// The user entry has no credentials Fleetpane can use.
    #[error("context {context:?}: {message}")]
    User {
        /// The context.
        context: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads `path` and resolves `context` into a URL, a CA and the user's credentials.
pub fn import(path: &Path, context: &str) -> Result<Imported, ImportError> {
    let shown = path.display().to_string();
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| ImportError::Read { path: shown.clone(), message: e.to_string() })?;
    resolve(&kubeconfig, &shown, context)
}

/// Resolves `context` in an already parsed kubeconfig (relative paths already made absolute by kube).
pub fn resolve(kubeconfig: &Kubeconfig, shown: &str, context: &str) -> Result<Imported, ImportError> {
    let named = kubeconfig.contexts.iter().find(|c| c.name == context).ok_or_else(|| {
        let names: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        ImportError::NoContext {
            path: shown.to_owned(),
            context: context.to_owned(),
            available: if names.is_empty() { "none".to_owned() } else { names.join(", ") },
        }
    })?;
    let ctx = named.context.as_ref().ok_or_else(|| ImportError::Cluster {
        context: context.to_owned(),
        message: "the context is empty".to_owned(),
    })?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| ImportError::Dangling {
            context: context.to_owned(),
            what: "cluster",
            name: ctx.cluster.clone(),
        })?;
    let cluster_problem = |message: String| ImportError::Cluster { context: context.to_owned(), message };
    let server =
        cluster.server.as_deref().ok_or_else(|| cluster_problem("its cluster has no server".into()))?;
    let api_url = Url::parse(server)
        .ok()
        .filter(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| cluster_problem(format!("server {server:?} is not an https URL")))?;
    if cluster.insecure_skip_tls_verify == Some(true) {
        return Err(cluster_problem(
            "its cluster skips TLS verification (insecure-skip-tls-verify); Fleetpane needs the CA".into(),
        ));
    }
    if cluster.proxy_url.is_some() {
        return Err(cluster_problem("proxy-url is not supported; reach the apiserver directly".into()));
    }
    let ca = match (&cluster.certificate_authority, &cluster.certificate_authority_data) {
        (_, Some(data)) => {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| cluster_problem(format!("certificate-authority-data is not base64: {e}")))?;
            check_ca_pem(&pem).map_err(|m| cluster_problem(format!("certificate-authority-data {m}")))?;
            CaSource::Pem(pem)
        }
        (Some(file), None) => {
            let pem = std::fs::read(file)
                .map_err(|e| cluster_problem(format!("cannot read certificate-authority {file:?}: {e}")))?;
            check_ca_pem(&pem).map_err(|m| cluster_problem(format!("certificate-authority {file:?} {m}")))?;
            CaSource::File(PathBuf::from(file))
        }
        (None, None) => {
            return Err(cluster_problem(
                "its cluster has no certificate-authority or certificate-authority-data".into(),
            ));
        }
    };
    let user_problem =
        |message: &str| ImportError::User { context: context.to_owned(), message: message.into() };
    let user_name = ctx.user.as_deref().ok_or_else(|| user_problem("the context names no user"))?;
    let auth_info = kubeconfig
        .auth_infos
        .iter()
        .find(|u| u.name == user_name)
        .and_then(|u| u.auth_info.clone())
        .ok_or_else(|| ImportError::Dangling {
            context: context.to_owned(),
            what: "user",
            name: user_name.to_owned(),
        })?;
    check_user(&auth_info).map_err(user_problem)?;
    Ok(Imported { api_url, ca, auth_info })
}

/// The user must carry exactly the kinds of credentials the client can use without a person at a terminal.
fn check_user(user: &AuthInfo) -> Result<(), &'static str> {
    if user.auth_provider.is_some() {
        return Err("auth-provider plugins were removed from Kubernetes; use an exec plugin");
    }
    if user.username.is_some() || user.password.is_some() {
        return Err("basic authentication (username/password) is not supported by apiservers any more");
    }
    if user.impersonate.is_some() || user.impersonate_groups.is_some() {
        return Err("the user impersonates someone already; Fleetpane impersonates each person itself");
    }
    let cert = user.client_certificate.is_some() || user.client_certificate_data.is_some();
    let key = user.client_key.is_some() || user.client_key_data.is_some();
    if cert != key {
        return Err("the user has a client certificate without its key, or a key without its certificate");
    }
    let token = user.token.is_some() || user.token_file.is_some();
    if let Some(exec) = &user.exec {
        if exec.command.as_deref().is_none_or(str::is_empty) {
            return Err("the user's exec plugin has no command");
        }
        if exec.interactive_mode == Some(kube::config::ExecInteractiveMode::Always) {
            return Err("the user's exec plugin needs a terminal (interactiveMode: Always)");
        }
    }
    if !cert && !token && user.exec.is_none() {
        return Err("the user has no client certificate, token or exec plugin");
    }
    Ok(())
}

fn check_ca_pem(pem: &[u8]) -> Result<(), String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".to_owned());
    }
    Ok(())
}

/// The connection of the pod Fleetpane runs in: the apiserver from `KUBERNETES_SERVICE_HOST` and
/// `KUBERNETES_SERVICE_PORT`, the CA and token of the mounted service account (`dir`). The token file is
/// re-read by the client, so projected (rotating) tokens work.
pub fn in_cluster(
    host: Option<&str>,
    port: Option<&str>,
    dir: &Path,
) -> Result<(Url, PathBuf, PathBuf), String> {
    let host = host
        .filter(|h| !h.is_empty())
        .ok_or("KUBERNETES_SERVICE_HOST is not set: Fleetpane is not running in a pod")?;
    let port = port.filter(|p| !p.is_empty()).unwrap_or("443");
    let port: u16 = port.parse().map_err(|_| format!("KUBERNETES_SERVICE_PORT {port:?} is not a port"))?;
    // An IPv6 address needs brackets in a URL.
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
    let url = Url::parse(&format!("https://{host}:{port}"))
        .map_err(|e| format!("KUBERNETES_SERVICE_HOST {host:?} does not make a URL: {e}"))?;
    let ca = dir.join("ca.crt");
    let token = dir.join("token");
    let ca_pem = std::fs::read(&ca).map_err(|e| format!("cannot read {:?}: {e}", ca.display()))?;
    check_ca_pem(&ca_pem).map_err(|m| format!("{:?} {m}", ca.display()))?;
    let t = std::fs::read_to_string(&token).map_err(|e| format!("cannot read {:?}: {e}", token.display()))?;
    if t.trim().is_empty() {
        return Err(format!("{:?} is empty", token.display()));
    }
    Ok((url, ca, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pki");

    fn ca_pem() -> String {
        std::fs::read_to_string(format!("{PKI}/ca.crt")).unwrap()
    }

    fn kubeconfig(extra_user: &str, cluster: &str) -> Kubeconfig {
        let yaml = format!(
            r#"
apiVersion: v1
kind: Config
clusters:
- name: eks
  cluster:
{cluster}
contexts:
- name: prod
  context: {{cluster: eks, user: robot}}
- name: dangling
  context: {{cluster: nowhere, user: robot}}
users:
- name: robot
  user:
{extra_user}
"#
        );
        Kubeconfig::from_yaml(&yaml).unwrap()
    }

    fn good_cluster() -> String {
        let data = base64::engine::general_purpose::STANDARD.encode(ca_pem());
        format!("    server: https://10.0.0.1:6443\n    certificate-authority-data: {data}")
    }

    #[test]
    fn a_context_with_ca_data_and_a_token_resolves() {
        let k = kubeconfig("    token: abc", &good_cluster());
        let i = resolve(&k, "k.yaml", "prod").unwrap();
        assert_eq!(i.api_url.as_str(), "https://10.0.0.1:6443/");
        assert_eq!(i.ca, CaSource::Pem(ca_pem().into_bytes()));
        assert!(i.auth_info.token.is_some());
    }

    #[test]
    fn an_exec_plugin_is_kept_for_the_client() {
        let user = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n      args: [eks, get-token]\n      interactiveMode: Never";
        let i = resolve(&kubeconfig(user, &good_cluster()), "k.yaml", "prod").unwrap();
        let exec = i.auth_info.exec.unwrap();
        assert_eq!(exec.command.as_deref(), Some("aws"));
        assert_eq!(exec.args, Some(vec!["eks".to_owned(), "get-token".to_owned()]));
    }

    #[test]
    fn unknown_and_dangling_contexts_are_named() {
        let k = kubeconfig("    token: abc", &good_cluster());
        assert_eq!(
            resolve(&k, "k.yaml", "staging").unwrap_err().to_string(),
            "no context \"staging\" in \"k.yaml\" (contexts: prod, dangling)"
        );
        assert_eq!(
            resolve(&k, "k.yaml", "dangling").unwrap_err().to_string(),
            "context \"dangling\" names cluster \"nowhere\", which the kubeconfig does not define"
        );
    }

    #[test]
    fn unusable_clusters_and_users_say_why() {
        let cases = [
            (
                "    token: abc",
                "    server: https://10.0.0.1\n    insecure-skip-tls-verify: true",
                "skips TLS",
            ),
            (
                "    token: abc",
                "    server: http://10.0.0.1\n    certificate-authority-data: eA==",
                "not an https",
            ),
            ("    token: abc", "    server: https://10.0.0.1", "no certificate-authority"),
            (
                "    token: abc",
                "    server: https://10.0.0.1\n    certificate-authority-data: '%%'",
                "not base64",
            ),
            (
                "    token: abc",
                "    server: https://10.0.0.1\n    certificate-authority-data: aGVsbG8=",
                "no PEM",
            ),
            ("    username: u\n    password: p", &good_cluster(), "basic authentication"),
            ("    client-certificate: /x.crt", &good_cluster(), "without its key"),
            ("    as: admin\n    token: abc", &good_cluster(), "impersonates"),
            ("    exec:\n      command: login\n      interactiveMode: Always", &good_cluster(), "terminal"),
            ("    {}", &good_cluster(), "no client certificate, token or exec"),
        ];
        for (user, cluster, want) in cases {
            let e = resolve(&kubeconfig(user, cluster), "k.yaml", "prod").unwrap_err().to_string();
            assert!(e.contains(want), "{user} / {cluster}: {e}");
        }
    }

    #[test]
    fn a_kubeconfig_file_resolves_relative_paths_against_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(format!("{PKI}/ca.crt"), dir.path().join("ca.crt")).unwrap();
        let file = dir.path().join("config");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443', certificate-authority: ca.crt}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t}\n",
        )
        .unwrap();
        let i = import(&file, "x").unwrap();
        assert_eq!(i.ca, CaSource::File(dir.path().join("ca.crt")));
        let missing = import(&dir.path().join("nope"), "x").unwrap_err();
        assert!(matches!(missing, ImportError::Read { .. }), "{missing}");
    }

    #[test]
    fn in_cluster_reads_the_environment_and_the_service_account() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(format!("{PKI}/ca.crt"), dir.path().join("ca.crt")).unwrap();
        std::fs::write(dir.path().join("token"), "eyJ...\n").unwrap();
        let (url, ca, token) = in_cluster(Some("10.96.0.1"), Some("443"), dir.path()).unwrap();
        assert_eq!(url.as_str(), "https://10.96.0.1/");
        assert_eq!((ca, token), (dir.path().join("ca.crt"), dir.path().join("token")));
        let (v6, _, _) = in_cluster(Some("fd00::1"), None, dir.path()).unwrap();
        assert_eq!(v6.as_str(), "https://[fd00::1]/");
        assert!(in_cluster(None, None, dir.path()).unwrap_err().contains("not running in a pod"));
        assert!(in_cluster(Some("h"), Some("http"), dir.path()).unwrap_err().contains("not a port"));
        std::fs::write(dir.path().join("token"), "  \n").unwrap();
        assert!(in_cluster(Some("h"), None, dir.path()).unwrap_err().contains("is empty"));
    }
}
