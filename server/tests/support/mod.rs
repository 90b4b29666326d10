//! Test support: servers under the tests' control, and Fleetpane driven through its real router.
//!
//! - [`rogue`]: an OpenID provider that signs whatever a test asks for (forged, expired, `alg: none`, ...).
//! - [`google`]: a stand-in of Google's OAuth token endpoint and Admin SDK Directory API.
//! - [`app`]: Fleetpane's router on a config pointing at those, and a tiny cookie-keeping browser.
//! - [`stores`]: real Redis and Postgres servers for the shared session stores.
//!
//! Every server listens on a free loopback port and stops when its handle is dropped.

// Each test binary uses a different part of the support code.
#![allow(dead_code)]

pub mod app;
pub mod google;
pub mod rogue;
pub mod stores;

use std::net::SocketAddr;

/// A server task on 127.0.0.1:0; aborted on drop.
pub struct Served {
    /// The address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Serves `router` on a fresh loopback port.
    pub async fn start(router: axum::Router) -> Self {
        Self::on(Self::listener().await, router)
    }

    /// A fresh loopback listener, for servers that must know their address before they build the router.
    pub async fn listener() -> tokio::net::TcpListener {
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
    }

    /// Serves `router` on `listener`.
    pub fn on(listener: tokio::net::TcpListener, router: axum::Router) -> Self {
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { addr, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A fixture file under tests/fixtures/auth.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/auth").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
