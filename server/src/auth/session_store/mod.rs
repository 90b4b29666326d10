//! Shared session stores for several Fleetpane replicas: Redis and Postgres, on tower-sessions 0.15.
//!
//! The published Redis and Postgres stores are built on tower-sessions-core 0.14, whose `SessionStore` trait
//! is a different trait from the one tower-sessions 0.15 asks for, so Fleetpane carries its own two.
//!
//! Both keep the whole [`Record`] as JSON under its id, with the record's expiry as the store's own expiry:
//! - [`redis::RedisStore`]: key `fleetpane:session:<id>`, `SET ... PXAT <expiry>`, so Redis drops expired
//!   sessions by itself.
//! - [`postgres::PostgresStore`]: table `fleetpane_sessions (id, data, expiry_date)`, created if missing;
//!   loads ignore expired rows and a periodic task deletes them.
//!
//! `create` never overwrites a live session: on an id collision it draws a new id and tries again (the
//! trait's docs leave that to the store), at most [`CREATE_ATTEMPTS`] times.
//!
//! Errors are typed per store and mapped to [`session_store::Error`] at the trait boundary: encoding and
//! decoding problems keep their kind, everything else is `Backend`. Messages never carry the store's URL
//! (it may hold a password).

pub mod postgres;
pub mod redis;

use time::OffsetDateTime;
use tower_sessions::{session::Record, session_store};

pub use self::{postgres::PostgresStore, redis::RedisStore};

/// How many fresh ids `create` tries before giving up. A collision of two random 128-bit ids is already
/// unheard of; several in a row mean something else is wrong.
pub const CREATE_ATTEMPTS: usize = 8;

/// The record as stored: JSON (the session data is JSON already).
fn encode(record: &Record) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(record)
}

/// A stored record back.
fn decode(bytes: &[u8]) -> Result<Record, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Whether `record` is still valid now.
fn is_active(record: &Record) -> bool {
    record.expiry_date > OffsetDateTime::now_utc()
}

/// The error `create` gives when every id it drew was taken.
fn collisions() -> session_store::Error {
    session_store::Error::Backend(format!("no free session id after {CREATE_ATTEMPTS} attempts"))
}
