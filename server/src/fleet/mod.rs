//! The cluster registry: one shared [`kube::Client`] per configured cluster.
//!
//! ```text
//! Config.clusters ──► Fleet ──► Cluster { name, api_url, client }     (Fleetpane's own identity)
//!                                  │
//!                                  └─ client_as(Impersonation) ──► kube::Client sending
//!                                     Impersonate-User/Group on the same connection pool
//! ```
//!
//! Every `kube::Client` owns a connection pool and a buffer task, so the fleet builds exactly one per
//! cluster at start and everything else shares it (clients are cheap to clone).

pub mod impersonate;
pub mod probe;
pub mod source;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rustls_pki_types::{CertificateDer, pem::PemObject};
use url::Url;

pub use self::impersonate::Impersonation;
use crate::config::{CaSource, ClusterConfig, ClusterMode, Credentials};

/// Connect timeout of the shared clients: a dead cluster fails fast for every caller, not only the probe.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the fleet could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The apiserver URL is not a valid HTTP URI.
    #[error("cluster {cluster}: api_url {url:?} is not a valid URI")]
    Uri {
        /// The cluster's name.
        cluster: String,
        /// The URL as configured.
        url: String,
        /// Why.
        #[source]
        source: http::uri::InvalidUri,
    },
    /// The CA file could not be read as PEM (it changed since the config was validated).
    #[error("cluster {cluster}: cannot read the CA file {path:?}")]
    CaFile {
        /// The cluster's name.
        cluster: String,
        /// The CA file.
        path: String,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// kube rejected the client configuration (unreadable key, bad certificate, ...).
    #[error("cluster {cluster}: cannot build a Kubernetes client")]
    Client {
        /// The cluster's name.
        cluster: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every configured cluster, in configuration order.
#[derive(Clone)]
pub struct Fleet {
    clusters: Vec<Cluster>,
}

/// One cluster and Fleetpane's shared client for it.
#[derive(Clone)]
pub struct Cluster {
    name: String,
    api_url: Url,
    prometheus_url: Option<Url>,
    client: kube::Client,
    policy: impersonate::Policy,
    mode: ClusterMode,
    requests: Arc<AtomicU64>,
}

impl Fleet {
    /// Builds one client per cluster. Must run inside a Tokio runtime (each client spawns its buffer task).
    ///
    /// Nothing is contacted here: a cluster that is down at start is reported by the probes, not here.
    pub fn from_config(clusters: &[ClusterConfig]) -> Result<Self> {
        let clusters = clusters.iter().map(Cluster::from_config).collect::<Result<_>>()?;
        Ok(Self { clusters })
    }

    /// The clusters, in configuration order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster with this name.
    pub fn get(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
}

impl Cluster {
    fn from_config(config: &ClusterConfig) -> Result<Self> {
        // Every request to this apiserver goes through this one client (impersonated clients send through it
        // too), so counting here counts them all: watches, access reviews, live reads, probes.
        let requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&requests);
        let client = kube::client::ClientBuilder::try_from(kube_config(config)?)
            .map_err(|source| Error::Client { cluster: config.name.clone(), source })?
            .with_layer(&tower::util::MapRequestLayer::new(
                move |request: http::Request<kube::client::Body>| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    request
                },
            ))
            .build();
        Ok(Self {
            name: config.name.clone(),
            api_url: config.api_url.clone(),
            prometheus_url: config.prometheus.as_ref().map(|p| p.url.clone()),
            client,
            policy: config.impersonation.clone(),
            mode: config.mode,
            requests,
        })
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The apiserver URL.
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// Whether reads come from the shared caches or live through the impersonated client.
    pub fn mode(&self) -> ClusterMode {
        self.mode
    }

    /// HTTP requests sent to this apiserver so far, by everyone (a watch counts once per (re)start).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The cluster's Prometheus, if configured.
    pub fn prometheus_url(&self) -> Option<&Url> {
        self.prometheus_url.as_ref()
    }

    /// The client acting as Fleetpane itself. Use it only for what Fleetpane may read on its own behalf
    /// (public info, shared caches); reads for a person go through [`Cluster::client_as`].
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// A client acting as `who`, sharing this cluster's connection pool. The cluster decides what `who`
    /// may do: Fleetpane's identity needs the `impersonate` verb for that user and those groups.
    ///
    /// `who` goes through this cluster's [`impersonate::Policy`] first: no `system:` name is sent as such,
    /// and only the groups the cluster lets Fleetpane impersonate.
    pub fn client_as(&self, who: &Impersonation) -> Result<kube::Client, impersonate::Error> {
        self.sent_as(who)?.client(&self.client)
    }

    /// Who the cluster is told `who` is: `who` after this cluster's policy.
    pub fn sent_as(&self, who: &Impersonation) -> Result<Impersonation, impersonate::Error> {
        self.policy.apply(who)
    }
}

/// The kube configuration for one cluster, from the validated config.
pub fn kube_config(c: &ClusterConfig) -> Result<kube::Config> {
    let uri = c.api_url.as_str().trim_end_matches('/').parse::<http::Uri>().map_err(|source| Error::Uri {
        cluster: c.name.clone(),
        url: c.api_url.to_string(),
        source,
    })?;
    let mut config = kube::Config::new(uri);
    match &c.ca {
        CaSource::File(path) => {
            let ca_error =
                |source| Error::CaFile { cluster: c.name.clone(), path: path.display().to_string(), source };
            let roots = CertificateDer::pem_file_iter(path)
                .map_err(ca_error)?
                .map(|cert| cert.map(|der| der.to_vec()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(ca_error)?;
            config.root_cert = Some(roots);
            // kube re-reads the file every minute, so a rotated CA is picked up without a restart.
            config.root_cert_file = Some(path.clone());
        }
        CaSource::Pem(pem) => {
            let roots = CertificateDer::pem_slice_iter(pem)
                .map(|cert| cert.map(|der| der.to_vec()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|source| Error::CaFile {
                    cluster: c.name.clone(),
                    path: "certificate-authority-data".to_owned(),
                    source,
                })?;
            config.root_cert = Some(roots);
        }
    }
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    match &c.credentials {
        Credentials::ClientCert { cert_file, key_file } => {
            config.auth_info.client_certificate = Some(cert_file.display().to_string());
            config.auth_info.client_key = Some(key_file.display().to_string());
        }
        // kube re-reads token files, so rotated tokens work.
        Credentials::TokenFile { token_file } => {
            config.auth_info.token_file = Some(token_file.display().to_string());
        }
        // kube runs the plugin when it needs credentials and again before they expire.
        Credentials::Exec(exec) => config.auth_info.exec = Some((**exec).clone()),
        Credentials::Kubeconfig(user) => config.auth_info = (**user).clone(),
    }
    Ok(config)
}
