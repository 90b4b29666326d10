//! Sessions in Postgres, shared by every replica pointing at the same database.
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS fleetpane_sessions (
//!     id          TEXT PRIMARY KEY,       -- the session id (the cookie's value)
//!     data        BYTEA NOT NULL,         -- the whole record, JSON
//!     expiry_date TIMESTAMPTZ NOT NULL    -- moves with activity (idle timeout)
//! );
//! ```
//! [`PostgresStore::connect`] creates the table (and an index on `expiry_date`) when missing, under an
//! advisory lock so replicas starting together do not trip over each other. Loads ignore expired rows;
//! [`ExpiredDeletion::delete_expired`] removes them, run periodically by the caller
//! (`continuously_delete_expired`). `create` inserts with `ON CONFLICT DO NOTHING` and draws a new id when
//! a live session holds it (an expired one is taken over).
//!
//! Connections come from a small deadpool pool. TLS goes through rustls, verified against the system's
//! trusted certificates and the webpki roots, as the URL's `sslmode` says: `disable`, `prefer` (tokio-postgres' default: TLS when the server
//! offers it) or `require`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fleetpane_server::auth::session_store::postgres::Error> {
//! use fleetpane_server::auth::session_store::PostgresStore;
//! let store = PostgresStore::connect("postgres://fleetpane:secret@127.0.0.1:5432/fleetpane").await?;
//! # drop(store); Ok(()) }
//! ```

use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use time::OffsetDateTime;
use tower_sessions::{
    ExpiredDeletion, SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{CREATE_ATTEMPTS, collisions, decode, encode, is_active};

/// The table sessions live in.
pub const TABLE: &str = "fleetpane_sessions";

/// How long connecting, and waiting for a free pooled connection, may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per replica: requests touch the store briefly, a few connections carry many requests.
const POOL_SIZE: usize = 8;
/// Serializes the table creation across replicas (an arbitrary constant: "fpsessio").
const MIGRATION_LOCK: i64 = 0x6670_7365_7373_696f;

/// What went wrong talking to Postgres.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not a Postgres connection string.
    #[error("invalid postgres url: {0}")]
    Url(#[source] tokio_postgres::Error),
    /// The connection pool could not be built.
    #[error("cannot build the postgres pool: {0}")]
    Pool(#[source] deadpool_postgres::BuildError),
    /// No connection could be had (connecting failed, or the pool stayed busy).
    #[error("cannot connect to postgres: {0}")]
    Connect(#[source] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("postgres {action} failed: {source}")]
    Query {
        /// What it was doing, e.g. `insert`.
        action: &'static str,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The record could not be turned into JSON.
    #[error("cannot encode the session: {0}")]
    Encode(#[source] serde_json::Error),
    /// A stored row is not a session record.
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
            Error::Url(_) | Error::Pool(_) | Error::Connect(_) | Error::Query { .. } => {
                Self::Backend(e.to_string())
            }
        }
    }
}

/// The Postgres session store. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl fmt::Debug for PostgresStore {
    // Never the URL: it may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").field("table", &TABLE).finish_non_exhaustive()
    }
}

/// A query error with what it was doing.
fn query(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |source| Error::Query { action, source }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?sslmode=...`) and creates the table when
    /// missing. Fails when Postgres cannot be reached now; later outages are retried per request.
    pub async fn connect(url: &str) -> Result<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(Error::Url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("fleetpane");
        }
        let manager =
            Manager::from_config(config, tls(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(Error::Pool)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates the table and its index when missing.
    async fn migrate(&self) -> Result<()> {
        let mut client = self.pool.get().await.map_err(Error::Connect)?;
        let tx = client.transaction().await.map_err(query("migration"))?;
        // Two replicas running CREATE TABLE IF NOT EXISTS at once can still collide in the catalog.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(query("migration"))?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                 id TEXT PRIMARY KEY,
                 data BYTEA NOT NULL,
                 expiry_date TIMESTAMPTZ NOT NULL
             );
             CREATE INDEX IF NOT EXISTS {TABLE}_expiry_date ON {TABLE} (expiry_date);"
        ))
        .await
        .map_err(query("migration"))?;
        tx.commit().await.map_err(query("migration"))
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(Error::Connect)
    }
}

/// rustls trusting the system's certificates (where a private CA is added) and the webpki roots, used when
/// the URL's `sslmode` asks for TLS.
fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let system = rustls_native_certs::load_native_certs();
    if !system.errors.is_empty() {
        tracing::debug!(errors = ?system.errors, "some system certificates could not be read");
    }
    // Unparseable system certificates are skipped, as a browser would.
    let _ = roots.add_parsable_certificates(system.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let client = self.client().await?;
        // An expired row with the same id is taken over; a live one is left alone.
        let insert = client
            .prepare_cached(&format!(
                "INSERT INTO {TABLE} (id, data, expiry_date) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expiry_date = EXCLUDED.expiry_date
                 WHERE {TABLE}.expiry_date <= $4"
            ))
            .await
            .map_err(query("insert"))?;
        for _ in 0..CREATE_ATTEMPTS {
            // Encoded per attempt: the record carries its id.
            let data = encode(record).map_err(Error::Encode)?;
            let now = OffsetDateTime::now_utc();
            let inserted = client
                .execute(&insert, &[&record.id.to_string(), &data, &record.expiry_date, &now])
                .await
                .map_err(query("insert"))?;
            if inserted == 1 {
                return Ok(());
            }
            tracing::warn!("session id collision in postgres, drawing a new id");
            record.id = Id::default();
        }
        Err(collisions())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record).map_err(Error::Encode)?;
        let client = self.client().await?;
        let upsert = client
            .prepare_cached(&format!(
                "INSERT INTO {TABLE} (id, data, expiry_date) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expiry_date = EXCLUDED.expiry_date"
            ))
            .await
            .map_err(query("upsert"))?;
        client
            .execute(&upsert, &[&record.id.to_string(), &data, &record.expiry_date])
            .await
            .map_err(query("upsert"))?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!("SELECT data FROM {TABLE} WHERE id = $1 AND expiry_date > $2"))
            .await
            .map_err(query("select"))?;
        let row = client
            .query_opt(&select, &[&id.to_string(), &OffsetDateTime::now_utc()])
            .await
            .map_err(query("select"))?;
        let Some(row) = row else { return Ok(None) };
        let data: Vec<u8> = row.try_get(0).map_err(query("select"))?;
        let record = decode(&data).map_err(Error::Decode)?;
        Ok(Some(record).filter(is_active))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let client = self.client().await?;
        let delete = client
            .prepare_cached(&format!("DELETE FROM {TABLE} WHERE id = $1"))
            .await
            .map_err(query("delete"))?;
        client.execute(&delete, &[&id.to_string()]).await.map_err(query("delete"))?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for PostgresStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let client = self.client().await?;
        client
            .execute(&format!("DELETE FROM {TABLE} WHERE expiry_date <= $1"), &[&OffsetDateTime::now_utc()])
            .await
            .map_err(query("cleanup"))?;
        Ok(())
    }
}
