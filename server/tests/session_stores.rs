//! The shared session stores (server/src/auth/session_store/) against real Redis and Postgres servers that
//! each test starts for itself on loopback (tests/support/stores.rs): create/load/save/delete, expiry, id
//! collisions, and two Fleetpane replicas sharing sessions through one store.
//!
//! Needs the Debian packages `redis-server` and `postgresql` (`./dev setup`); without them these tests fail
//! and say so, they never skip.

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use fleetpane_server::{
    auth::{
        session::Store,
        session_store::{PostgresStore, RedisStore, redis::KEY_PREFIX},
    },
    config::SessionStoreConfig,
    secret::Secret,
};
use serde_json::json;
use support::{
    app::{Options, PUBLIC_URL, TestApp},
    rogue::{RogueIssuer, Signing},
    stores::{PostgresServer, RedisServer},
};
use time::OffsetDateTime;
use tower_sessions::{
    ExpiredDeletion, SessionStore,
    session::{Id, Record},
};

/// A new record holding `value` under `"k"`, expiring `ttl` from now.
fn record(value: &str, ttl: time::Duration) -> Record {
    Record {
        id: Id::default(),
        data: HashMap::from([("k".to_owned(), json!(value))]),
        expiry_date: OffsetDateTime::now_utc() + ttl,
    }
}

/// create, load, save, load, delete, load: what tower-sessions does over a session's life.
async fn round_trip(store: &impl SessionStore) {
    let mut r = record("first", time::Duration::minutes(5));
    let drawn = r.id;
    store.create(&mut r).await.unwrap();
    assert_eq!(r.id, drawn, "a free id must be kept");
    assert_eq!(store.load(&r.id).await.unwrap(), Some(r.clone()));

    r.data.insert("k".to_owned(), json!("second"));
    r.expiry_date += time::Duration::minutes(1);
    store.save(&r).await.unwrap();
    assert_eq!(store.load(&r.id).await.unwrap(), Some(r.clone()));

    store.delete(&r.id).await.unwrap();
    assert_eq!(store.load(&r.id).await.unwrap(), None);
    store.delete(&r.id).await.unwrap(); // deleting twice is fine
    assert_eq!(store.load(&Id::default()).await.unwrap(), None, "an unknown id loads nothing");
}

/// A record is gone once its expiry passed; saving an expired record leaves nothing loadable.
async fn expiry(store: &impl SessionStore) {
    let mut short = record("short", time::Duration::milliseconds(1200));
    store.create(&mut short).await.unwrap();
    assert!(store.load(&short.id).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(store.load(&short.id).await.unwrap(), None, "expired session still loads");

    let mut live = record("live", time::Duration::minutes(5));
    store.create(&mut live).await.unwrap();
    live.expiry_date = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    store.save(&live).await.unwrap();
    assert_eq!(store.load(&live.id).await.unwrap(), None, "a session saved as expired still loads");
}

/// `create` with an id that a live session holds draws a new id and leaves the other session alone.
async fn collision(store: &impl SessionStore) {
    let mut first = record("first", time::Duration::minutes(5));
    store.create(&mut first).await.unwrap();
    let mut second = record("second", time::Duration::minutes(5));
    second.id = first.id;
    store.create(&mut second).await.unwrap();
    assert_ne!(second.id, first.id, "create reused a taken id");
    assert_eq!(store.load(&first.id).await.unwrap(), Some(first.clone()), "create overwrote a session");
    assert_eq!(store.load(&second.id).await.unwrap(), Some(second));
}

#[tokio::test]
async fn redis_round_trip() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    round_trip(&store).await;

    // The key layout and the server-side expiry.
    let mut r = record("layout", time::Duration::minutes(5));
    store.create(&mut r).await.unwrap();
    let mut conn =
        redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{KEY_PREFIX}{}", r.id);
    assert_eq!(RedisStore::key(&r.id), key);
    assert!(key.starts_with("fleetpane:session:"));
    let ttl_ms: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!((240_000..=300_000).contains(&ttl_ms), "expiry not set on {key}: PTTL {ttl_ms}");
}

#[tokio::test]
async fn redis_expiry() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    expiry(&store).await;
    // Redis itself dropped the expired keys.
    let mut conn =
        redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{KEY_PREFIX}*")).query_async(&mut conn).await.unwrap();
    assert!(keys.is_empty(), "expired sessions left in redis: {keys:?}");
}

#[tokio::test]
async fn redis_create_never_overwrites() {
    let redis = RedisServer::start();
    collision(&RedisStore::connect(&redis.url()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_round_trip() {
    let pg = PostgresServer::start();
    let store = PostgresStore::connect(&pg.url()).await.unwrap();
    round_trip(&store).await;
    // Connecting again (a second replica, a restart) finds the table and keeps its rows.
    let mut r = record("kept", time::Duration::minutes(5));
    store.create(&mut r).await.unwrap();
    let again = PostgresStore::connect(&pg.url()).await.unwrap();
    assert_eq!(again.load(&r.id).await.unwrap(), Some(r));
}

#[tokio::test]
async fn postgres_expiry_and_cleanup() {
    let pg = PostgresServer::start();
    let store = PostgresStore::connect(&pg.url()).await.unwrap();
    expiry(&store).await;

    let rows = || async {
        let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.query_one("SELECT count(*) FROM fleetpane_sessions", &[]).await.unwrap().get::<_, i64>(0)
    };
    assert_eq!(rows().await, 2, "expired rows stay until the cleanup");
    let mut live = record("live", time::Duration::minutes(5));
    store.create(&mut live).await.unwrap();
    store.delete_expired().await.unwrap();
    assert_eq!(rows().await, 1, "the cleanup must remove exactly the expired rows");
    assert!(store.load(&live.id).await.unwrap().is_some());
}

#[tokio::test]
async fn postgres_create_never_overwrites() {
    let pg = PostgresServer::start();
    let store = PostgresStore::connect(&pg.url()).await.unwrap();
    collision(&store).await;

    // An expired session's id is free again: create takes the row over.
    let mut old = record("old", time::Duration::minutes(5));
    store.create(&mut old).await.unwrap();
    old.expiry_date = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    store.save(&old).await.unwrap();
    let mut new = record("new", time::Duration::minutes(5));
    new.id = old.id;
    store.create(&mut new).await.unwrap();
    assert_eq!(new.id, old.id);
    assert_eq!(store.load(&new.id).await.unwrap(), Some(new));
}

#[tokio::test]
async fn unreachable_stores_stop_startup_with_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let redis = SessionStoreConfig::Redis { url: Secret::new(format!("redis://:hunter2@127.0.0.1:{port}")) };
    let postgres = SessionStoreConfig::Postgres {
        url: Secret::new(format!("postgres://fleetpane:hunter2@127.0.0.1:{port}/fleetpane")),
    };
    for (config, expected) in [(redis, "cannot connect to redis"), (postgres, "cannot connect to postgres")] {
        let message = Store::open(&config).await.unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains("hunter2"), "the password leaks: {message}");
    }
}

/// Two Fleetpane replicas on one shared store: a login started at replica 1 finishes at replica 2 (no
/// sticky sessions needed), replica 1 then serves the signed-in pages, and a logout at replica 2 ends the
/// session for replica 1 too.
async fn replicas_share_sessions(session_store: String) {
    let issuer = RogueIssuer::start().await;
    let options = Options { session_store, ..Options::default() };
    let one = TestApp::with(&issuer.issuer, options.clone()).await;
    let two = one.replica(&issuer.issuer, options).await;

    let mut at_one = one.browser();
    let login = at_one.start_login("rogue", "/whoami").await;
    let mut at_two = two.browser();
    at_two.cookies = at_one.cookies.clone();
    let code = format!("code-{}", login.state());
    issuer.grant(&code, issuer.sign(&issuer.claims(login.nonce()), &Signing::Rs256("rogue-1")));
    let resp = at_two.callback("rogue", &code, login.state()).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "callback at replica 2: {resp:?}");
    assert_eq!(resp.location(), "/whoami");

    at_one.cookies = at_two.cookies.clone();
    let page = at_one.get("/whoami").await;
    assert_eq!(page.status, StatusCode::OK, "replica 1 refused replica 2's session: {page:?}");
    assert!(page.body.contains("alice@example.com"), "{}", page.body);
    assert!(at_two.is_signed_in().await);

    // Sign out at replica 2 (form with the page's CSRF token, same origin).
    let csrf = page
        .body
        .split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| panic!("no csrf-token meta in /whoami: {}", page.body))
        .to_owned();
    let stale_cookies = at_one.cookies.clone();
    let logout = Request::post("/auth/logout")
        .header(header::ORIGIN, PUBLIC_URL)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf_token={csrf}")))
        .unwrap();
    let resp = at_two.send(logout).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "logout at replica 2: {resp:?}");
    at_one.cookies = stale_cookies;
    assert!(!at_one.is_signed_in().await, "replica 1 still accepts a session ended at replica 2");
}

#[tokio::test]
async fn redis_replicas_share_sessions() {
    let redis = RedisServer::start();
    replicas_share_sessions(format!("store = \"redis\"\nurl = \"{}\"", redis.url())).await;
}

#[tokio::test]
async fn postgres_replicas_share_sessions() {
    let pg = PostgresServer::start();
    replicas_share_sessions(format!("store = \"postgres\"\nurl = \"{}\"", pg.url())).await;
}
