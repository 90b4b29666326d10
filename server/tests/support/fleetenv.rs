//! The local real fleet for the integration tests (fleet, access-equivalence and faults): its facts, Fleetpane's config and
//! clients for it, admin clients, `testenv pause`/`resume` with a guard that always resumes, and the two
//! answers the tests compare (direct impersonated LISTs, and Fleetpane's filtered caches).
//!
//! Included by path (`#[path = "support/fleetenv.rs"] mod fleetenv;`) so that these test binaries do not
//! compile the auth support servers.

// Each test binary uses a different part of it.
#![allow(dead_code)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use fleetpane_server::{
    Config,
    access::{Access, Resource, by_namespace, filter},
    config::{ClusterConfig, Credentials},
    fleet::{self, Cluster, Fleet, Impersonation},
    watch::{Cache, rows::Row},
};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, ListParams};
use serde::Deserialize;

/// Names by namespace.
pub type ByNamespace = BTreeMap<String, BTreeSet<String>>;

/// fleet.json, the parts these tests read.
#[derive(Debug, Deserialize)]
pub struct FleetFacts {
    /// The clusters, in fleet order.
    pub clusters: Vec<ClusterFacts>,
    /// The OpenID provider.
    pub idp: IdpFacts,
}

/// The IdP of fleet.json.
#[derive(Debug, Deserialize)]
pub struct IdpFacts {
    /// Its issuer URL.
    pub issuer: String,
}

/// One cluster of fleet.json.
#[derive(Debug, Deserialize)]
pub struct ClusterFacts {
    /// Its name.
    pub name: String,
    /// Its apiserver.
    pub api_url: String,
    /// The apiserver's CA.
    pub ca_file: PathBuf,
    /// The admin's client certificate (system:masters).
    pub admin: CertPair,
    /// The cluster's Prometheus, if any.
    pub prometheus_url: Option<String>,
}

/// A client certificate and key.
#[derive(Debug, Deserialize)]
pub struct CertPair {
    /// PEM certificate.
    pub client_cert_file: PathBuf,
    /// PEM key.
    pub client_key_file: PathBuf,
}

/// The testenv state dir.
pub fn testenv_dir() -> PathBuf {
    std::env::var_os("FLEETPANE_TESTENV_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.testenv"), PathBuf::from)
}

/// fleet.json, or a panic that says how to get it.
pub fn facts() -> FleetFacts {
    let path = testenv_dir().join("fleet.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nThe local fleet is not up. Start it with `.testenv/bin/testenv up` (or run ./dev test), \
             or point FLEETPANE_TESTENV_DIR at its state dir.",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not the expected fleet.json: {e}", path.display()))
}

/// Fleetpane's own config for the fleet, through Fleetpane's loader.
pub fn config() -> Config {
    let path = testenv_dir().join("fleetpane.toml");
    Config::load(&path).unwrap_or_else(|e| panic!("{}:\n{}", path.display(), e.lines().join("\n")))
}

/// Fleetpane's clients (Fleetpane's identity) for `clusters`.
pub fn fleet_of(clusters: &[ClusterConfig]) -> Fleet {
    Fleet::from_config(clusters).unwrap_or_else(|e| panic!("building the fleet: {e:?}"))
}

/// Fleetpane's clients for the whole fleet.
pub fn fleet() -> Fleet {
    fleet_of(&config().clusters)
}

/// An admin client, built by Fleetpane's `kube_config` from the cluster's entry in Fleetpane's config with
/// the admin's certificate instead of Fleetpane's.
pub fn admin_client(c: &ClusterFacts) -> kube::Client {
    let mut cluster = config()
        .clusters
        .into_iter()
        .find(|cluster| cluster.name == c.name)
        .unwrap_or_else(|| panic!("{}: not in fleetpane.toml", c.name));
    cluster.credentials = Credentials::ClientCert {
        cert_file: c.admin.client_cert_file.clone(),
        key_file: c.admin.client_key_file.clone(),
    };
    kube::Client::try_from(fleet::kube_config(&cluster).unwrap()).unwrap()
}

/// A loopback-unique, DNS-label-safe id for this run's object names.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:06x}", (nanos as u64 ^ u64::from(std::process::id())) & 0xff_ffff)
}

/// Runs `testenv <verb> <cluster>` (blocking).
fn testenv(verb: &str, cluster: &str) -> Result<(), String> {
    let dir = testenv_dir();
    let bin = dir.join("bin/testenv");
    let out = Command::new(&bin)
        .args([verb, cluster, "--dir"])
        .arg(&dir)
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "testenv {verb} {cluster}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A paused apiserver. Resumes it when dropped (also on a panic), unless [`Paused::resume`] did.
pub struct Paused {
    cluster: String,
    resumed: bool,
}

impl Paused {
    /// `testenv pause <cluster>` (stops that kube-apiserver; takes about 5 s).
    pub async fn start(cluster: &str) -> Self {
        let name = cluster.to_owned();
        // Constructed first, so that even a failed pause is resumed.
        let guard = Self { cluster: cluster.to_owned(), resumed: false };
        tokio::task::spawn_blocking(move || testenv("pause", &name)).await.unwrap().unwrap();
        guard
    }

    /// `testenv resume <cluster>` (starts it again and waits for /readyz).
    pub async fn resume(mut self) {
        let name = self.cluster.clone();
        self.resumed = true;
        tokio::task::spawn_blocking(move || testenv("resume", &name)).await.unwrap().unwrap();
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if !self.resumed
            && let Err(e) = testenv("resume", &self.cluster)
        {
            eprintln!("resuming {} failed: {e}", self.cluster);
        }
    }
}

/// What `who` gets from direct LISTs through Fleetpane's impersonating client, namespace by namespace
/// (forbidden: nothing; empty namespaces are left out).
pub async fn listed<K>(cluster: &Cluster, who: &Impersonation, namespaces: &[String]) -> ByNamespace
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let client = cluster.client_as(who).unwrap();
    let mut out = ByNamespace::new();
    for ns in namespaces {
        match Api::<K>::namespaced(client.clone(), ns).list(&ListParams::default()).await {
            Ok(list) => {
                let names: BTreeSet<String> =
                    list.items.iter().filter_map(|o| o.meta().name.clone()).collect();
                if !names.is_empty() {
                    out.insert(ns.clone(), names);
                }
            }
            Err(kube::Error::Api(status)) if status.code == 403 => {}
            Err(e) => panic!("{}: {} listing {ns}: {e}", cluster.name(), who.user),
        }
    }
    out
}

/// What Fleetpane's shared cache returns for `who`, filtered by the cluster's access decisions, within
/// `namespaces`.
pub async fn served<R: Row>(
    access: &Access,
    cache: &Cache<R>,
    cluster: &str,
    who: &Impersonation,
    resource: Resource,
    namespaces: &[String],
) -> ByNamespace {
    let scope = access.scope(who, cluster, "list", resource, namespaces.iter().cloned()).await.unwrap();
    let rows = filter(&cache.read(), &scope);
    let mut out = by_namespace(&rows);
    out.retain(|ns, _| namespaces.contains(ns));
    out
}

/// Everything in a cache, by namespace.
pub fn cached<R: Row>(cache: &Cache<R>) -> ByNamespace {
    let rows: Vec<_> = cache.read().rows().cloned().collect();
    by_namespace(&rows)
}

/// Everything an admin LIST returns, by namespace.
pub async fn listed_all<K>(admin: &kube::Client) -> ByNamespace
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = Api::<K>::all(admin.clone()).list(&ListParams::default()).await.unwrap();
    let mut out = ByNamespace::new();
    for o in &list.items {
        out.entry(o.meta().namespace.clone().unwrap_or_default())
            .or_default()
            .insert(o.meta().name.clone().unwrap_or_default());
    }
    out
}

/// Polls `check` every 50 ms until it is true or `limit` passes; returns the time it took, if it did.
pub async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
