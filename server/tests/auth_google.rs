//! Google Workspace groups: Fleetpane's Directory client against a local stand-in of Google's token
//! endpoint and Admin SDK Directory API (tests/support/google.rs). No network beyond loopback.

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use fleetpane_server::auth::{
    google::{DirectoryClient, Error, ServiceAccountKey},
    groups::{
        self, AccessRules, DirectorySource, GoogleDirectoryConfig, GroupSource, GroupsConfig, NoUserInfo,
        UserInfoMode,
    },
};
use support::google::{ADMIN_EMAIL, GoogleStandIn};
use url::Url;

fn mk_client(g: &GoogleStandIn, admin: &str, timeout: Duration) -> DirectoryClient {
    let key = ServiceAccountKey::from_json(&g.key_json()).unwrap();
    DirectoryClient::with_key(key, admin, &Url::parse(&g.api_base).unwrap(), timeout).unwrap()
}

#[tokio::test]
async fn lists_groups_across_pages_with_one_token() {
    let g = GoogleStandIn::start().await;
    let names: Vec<String> = (0..7).map(|i| format!("team-{i}@example.com")).collect();
    g.add_user("alice@example.com", &names.iter().map(String::as_str).collect::<Vec<_>>());
    g.page_size(3);
    let c = mk_client(&g, ADMIN_EMAIL, Duration::from_secs(5));

    let groups = c.list_groups("alice@example.com").await.unwrap();
    assert_eq!(groups.iter().map(|g| g.email.clone()).collect::<Vec<_>>(), names);
    assert_eq!(groups[0].name, "team-0");
    let requests = g.group_requests();
    assert_eq!(requests.len(), 3, "7 groups in pages of 3: {requests:?}");
    assert_eq!(requests[0]["userKey"], "alice@example.com");
    assert_eq!(requests[0]["maxResults"], "200");
    assert!(!requests[0].contains_key("pageToken"));
    assert_eq!(requests[1]["pageToken"], "page-3");

    // The token is cached: a second lookup asks no new token.
    c.list_groups("alice@example.com").await.unwrap();
    assert_eq!(g.token_requests(), 1);
}

#[tokio::test]
async fn a_user_without_groups_has_none() {
    let g = GoogleStandIn::start().await;
    g.add_user("bob@example.com", &[]);
    let c = mk_client(&g, ADMIN_EMAIL, Duration::from_secs(5));
    assert!(c.list_groups("bob@example.com").await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_user_is_typed_and_means_no_directory_groups() {
    let g = GoogleStandIn::start().await;
    let c = mk_client(&g, ADMIN_EMAIL, Duration::from_secs(5));
    let e = c.list_groups("guest@other.org").await.unwrap_err();
    assert!(matches!(&e, Error::UserNotFound { email } if email == "guest@other.org"), "{e:?}");
    assert_eq!(c.groups_of("guest@other.org").await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn refused_delegation_reports_googles_error() {
    let g = GoogleStandIn::start().await;
    g.add_user("alice@example.com", &["sre@example.com"]);
    // The service account may act only for ADMIN_EMAIL.
    let c = mk_client(&g, "someone-else@example.com", Duration::from_secs(5));
    let e = c.list_groups("alice@example.com").await.unwrap_err();
    match &e {
        Error::TokenRefused { status, error, description } => {
            assert_eq!((*status, error.as_str()), (401, "unauthorized_client"));
            assert!(description.as_deref().unwrap_or_default().contains("unauthorized"), "{e}");
        }
        other => panic!("expected TokenRefused, got {other:?}"),
    }
    assert!(e.to_string().contains("unauthorized_client"), "{e}");
}

#[tokio::test]
async fn a_key_google_does_not_know_is_refused() {
    let g = GoogleStandIn::start().await;
    // Same shape, but the private key is another one: the signature does not verify.
    let other = String::from_utf8(support::fixture("rogue-1.key")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&g.key_json()).unwrap();
    json["private_key"] = other.into();
    let key = ServiceAccountKey::from_json(&json.to_string()).unwrap();
    let c = DirectoryClient::with_key(
        key,
        ADMIN_EMAIL,
        &Url::parse(&g.api_base).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let e = c.list_groups("alice@example.com").await.unwrap_err();
    assert!(
        matches!(&e, Error::TokenRefused { status: 400, error, .. } if error == "invalid_grant"),
        "{e:?}"
    );
}

#[tokio::test]
async fn forbidden_directory_is_typed() {
    let g = GoogleStandIn::start().await;
    g.add_user("alice@example.com", &["sre@example.com"]);
    g.forbid();
    let c = mk_client(&g, ADMIN_EMAIL, Duration::from_secs(5));
    let e = c.list_groups("alice@example.com").await.unwrap_err();
    assert!(matches!(&e, Error::Forbidden { message } if message.contains("Not Authorized")), "{e:?}");
    let source_error = c.groups_of("alice@example.com").await.unwrap_err();
    assert!(!source_error.is_timeout());
}

#[tokio::test]
async fn a_slow_directory_times_out() {
    let g = GoogleStandIn::start().await;
    g.add_user("alice@example.com", &["sre@example.com"]);
    g.delay(Duration::from_secs(3));
    let c = mk_client(&g, ADMIN_EMAIL, Duration::from_millis(300));
    let e = c.list_groups("alice@example.com").await.unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert!(c.groups_of("alice@example.com").await.unwrap_err().is_timeout());
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once() {
    let g = GoogleStandIn::start().await;
    g.add_user("alice@example.com", &["sre@example.com"]);
    let c = mk_client(&g, ADMIN_EMAIL, Duration::from_secs(5));
    c.list_groups("alice@example.com").await.unwrap();
    g.revoke_tokens();
    assert_eq!(c.list_groups("alice@example.com").await.unwrap().len(), 1);
    assert_eq!(g.token_requests(), 2);
}

#[tokio::test]
async fn client_from_config_reads_the_key_file() {
    let g = GoogleStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("google-sa.json");
    std::fs::write(&path, g.key_json()).unwrap();
    let cfg = GoogleDirectoryConfig {
        service_account_file: path,
        admin_email: ADMIN_EMAIL.to_owned(),
        api_base: Url::parse(&g.api_base).unwrap(),
    };
    g.add_user("alice@example.com", &["sre@example.com"]);
    let c = DirectoryClient::new(&cfg).unwrap();
    assert_eq!(c.groups_of("alice@example.com").await.unwrap(), ["sre@example.com"]);
    let missing = GoogleDirectoryConfig { service_account_file: dir.path().join("nope.json"), ..cfg };
    assert!(matches!(DirectoryClient::new(&missing), Err(Error::KeyFile { .. })));
}

#[tokio::test]
async fn resolve_puts_directory_groups_after_the_claim() {
    let g = GoogleStandIn::start().await;
    g.add_user("alice@example.com", &["eng@example.com", "sre@example.com"]);
    let c = mk_client(&g, ADMIN_EMAIL, Duration::from_secs(5));
    let cfg = GroupsConfig {
        userinfo: UserInfoMode::Never,
        mapping: [("sre@example.com".to_owned(), "sre".to_owned())].into(),
        ..GroupsConfig::default()
    };
    let rules = AccessRules::new(vec!["example.com".to_owned()], vec!["sre".to_owned()]);
    // Google's ID token: no groups, an hd claim.
    let claims = serde_json::json!({ "sub": "1", "email": "alice@example.com", "email_verified": true, "hd": "example.com" });
    let groups =
        groups::resolve(&cfg, &rules, "alice@example.com", &claims, &NoUserInfo, Some(&c)).await.unwrap();
    let got: Vec<(&str, GroupSource)> = groups.iter().map(|g| (g.name.as_str(), g.source)).collect();
    assert_eq!(got, [("eng@example.com", GroupSource::Directory), ("sre", GroupSource::Directory)]);

    // A user of another hosted domain is refused before the directory is asked.
    let before = g.group_requests().len();
    let claims = serde_json::json!({ "sub": "2", "email_verified": true, "hd": "other.org" });
    let e = groups::resolve(&cfg, &rules, "mallory@example.com", &claims, &NoUserInfo, Some(&c))
        .await
        .unwrap_err();
    assert!(matches!(e, groups::Error::HostedDomainNotAllowed { .. }), "{e:?}");
    assert_eq!(g.group_requests().len(), before);
}
