//! Sessions in Redis, shared by every replica pointing at the same server.
//!
//! One string key per session, `fleetpane:session:<id>`, holding the record as JSON, with the record's
//! expiry as the key's absolute expiry (`PXAT`): Redis forgets ended sessions by itself, no cleanup task.
//! `create` uses `SET ... NX`, so it never overwrites another session.
//!
//! The connection is a [`ConnectionManager`]: one multiplexed connection shared by all requests, which
//! reconnects by itself after Redis restarts or the network drops. `rediss://` URLs connect over TLS
//! (rustls, verified against the system's trusted certificates, where a private CA is added).
//!
//! ```no_run
//! # async fn demo() -> Result<(), fleetpane_server::auth::session_store::redis::Error> {
//! use fleetpane_server::auth::session_store::RedisStore;
//! let store = RedisStore::connect("redis://127.0.0.1:6379/0").await?;
//! # drop(store); Ok(()) }
//! ```

use std::{fmt, time::Duration};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{CREATE_ATTEMPTS, collisions, decode, encode, is_active};

/// Every session key starts with this.
pub const KEY_PREFIX: &str = "fleetpane:session:";

/// How long connecting and each command may take before the request fails (and the manager reconnects).
const TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not a Redis URL this build understands.
    #[error("invalid redis url: {0}")]
    Url(#[source] redis::RedisError),
    /// The first connection failed.
    #[error("cannot connect to redis: {0}")]
    Connect(#[source] redis::RedisError),
    /// A command failed.
    #[error("redis {command} failed: {source}")]
    Command {
        /// The command, e.g. `SET`.
        command: &'static str,
        /// Why.
        #[source]
        source: redis::RedisError,
    },
    /// The record could not be turned into JSON.
    #[error("cannot encode the session: {0}")]
    Encode(#[source] serde_json::Error),
    /// A stored value is not a session record.
    #[error("cannot decode the session: {0}")]
    Decode(#[source] serde_json::Error),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for session_store::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Encode(_) => Self::Encode(e.to_string()),
            Error::Decode(_) => Self::Decode(e.to_string()),
            Error::Url(_) | Error::Connect(_) | Error::Command { .. } => Self::Backend(e.to_string()),
        }
    }
}

/// The Redis session store. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
}

impl fmt::Debug for RedisStore {
    // Never the URL: it may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").field("key_prefix", &KEY_PREFIX).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS). Fails when
    /// Redis cannot be reached now; later outages are retried per request.
    pub async fn connect(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(Error::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(Error::Connect)?;
        Ok(Self { conn })
    }

    /// The key of session `id`.
    pub fn key(id: &Id) -> String {
        format!("{KEY_PREFIX}{id}")
    }

    /// `SET key value PXAT expiry [NX]`; `Ok(false)` when `NX` found the key taken.
    async fn set(&self, record: &Record, only_new: bool) -> Result<bool> {
        let value = encode(record).map_err(Error::Encode)?;
        let expires_at_ms =
            i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let mut cmd = redis::cmd("SET");
        cmd.arg(Self::key(&record.id)).arg(value);
        if only_new {
            cmd.arg("NX");
        }
        cmd.arg("PXAT").arg(expires_at_ms);
        let reply: Option<String> = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|source| Error::Command { command: "SET", source })?;
        Ok(reply.is_some())
    }

    /// `DEL key`.
    async fn del(&self, id: &Id) -> Result<()> {
        redis::cmd("DEL")
            .arg(Self::key(id))
            .query_async::<i64>(&mut self.conn.clone())
            .await
            .map(drop)
            .map_err(|source| Error::Command { command: "DEL", source })
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        if !is_active(record) {
            // Nothing to keep: Redis would drop it at once anyway.
            return Ok(());
        }
        for _ in 0..CREATE_ATTEMPTS {
            if self.set(record, true).await? {
                return Ok(());
            }
            tracing::warn!("session id collision in redis, drawing a new id");
            record.id = Id::default();
        }
        Err(collisions())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if is_active(record) {
            self.set(record, false).await?;
        } else {
            self.del(&record.id).await?;
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(Self::key(id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|source| Error::Command { command: "GET", source })?;
        let Some(value) = value else { return Ok(None) };
        let record = decode(&value).map_err(Error::Decode)?;
        // Redis expires keys within a millisecond or so; this makes the boundary exact.
        Ok(Some(record).filter(is_active))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        Ok(self.del(id).await?)
    }
}
