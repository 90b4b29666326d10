//! Sign-in through Fleetpane's real router against a rogue OpenID provider under the test's control
//! (tests/support/rogue.rs): the happy path, cookie attributes, key rotation, groups from UserInfo and from
//! a Google Directory stand-in, and every refusal of issue 3's "Done when" list. No fleet needed.
//!
//! Each refusal must give a 4xx page with a clear message, no stack trace, and no signed-in session: a
//! following `GET /` with the browser's cookies still goes to sign-in.

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{
    app::{Browser, Login, Options, PUBLIC_URL, Resp, TestApp},
    google::{ADMIN_EMAIL, GoogleStandIn},
    now,
    rogue::{CLIENT_ID, CLIENT_SECRET, Grant, RogueIssuer, Signing, s256},
};

/// A started login in a fresh browser.
async fn begin(app: &TestApp) -> (Browser, Login) {
    let mut browser = app.browser();
    let login = browser.start_login("rogue", "/whoami").await;
    (browser, login)
}

/// Finishes `login` with `id_token` as the IdP's answer for a fresh code.
async fn finish(issuer: &RogueIssuer, browser: &mut Browser, login: &Login, id_token: String) -> Resp {
    let code = format!("code-{}", login.state());
    issuer.grant(&code, id_token);
    browser.callback("rogue", &code, login.state()).await
}

/// A refusal: the expected 4xx, a page that says what went wrong and nothing more, no session.
async fn assert_refused(browser: &mut Browser, resp: &Resp, status: StatusCode, what: &str) {
    assert_eq!(resp.status, status, "{what}: {resp:?}");
    let body = resp.body.to_lowercase();
    assert!(body.contains("sign"), "{what}: the page should say sign-in failed: {}", resp.body);
    for leak in ["panicked", "backtrace", "stack backtrace", "src/", ".rs:", "eyj"] {
        assert!(!body.contains(leak), "{what}: the page leaks {leak:?}: {}", resp.body);
    }
    assert!(!browser.is_signed_in().await, "{what}: a session was created");
}

/// Signs in completely with good claims (changed by `change`), asserting success.
async fn sign_in(
    issuer: &RogueIssuer,
    app: &TestApp,
    kid: &'static str,
    change: impl FnOnce(&mut Value),
) -> Browser {
    let (mut browser, login) = begin(app).await;
    let mut claims = issuer.claims(login.nonce());
    change(&mut claims);
    let resp = finish(issuer, &mut browser, &login, issuer.sign(&claims, &Signing::Rs256(kid))).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "sign-in failed: {resp:?}");
    assert_eq!(resp.location(), "/whoami");
    browser
}

#[tokio::test]
async fn happy_path_signs_in_with_pkce_and_lands_on_the_page_asked_for() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;

    // The authorization request.
    assert_eq!(login.url.as_str().split('?').next().unwrap(), format!("{}/authorize", issuer.issuer));
    assert_eq!(login.param("response_type"), "code");
    assert_eq!(login.param("client_id"), CLIENT_ID);
    assert_eq!(login.param("redirect_uri"), format!("{PUBLIC_URL}/auth/callback/rogue"));
    assert!(login.param("scope").split(' ').any(|s| s == "openid"), "{}", login.url);
    assert_eq!(login.param("code_challenge_method"), "S256");
    assert!(login.state().len() >= 16 && login.nonce().len() >= 16);
    let cookie_before = browser.cookies.get("fleetpane-session").cloned();

    let claims = issuer.claims(login.nonce());
    let resp = finish(&issuer, &mut browser, &login, issuer.sign(&claims, &Signing::Rs256("rogue-1"))).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{resp:?}");
    assert_eq!(resp.location(), "/whoami");

    // The code exchange carried the PKCE verifier of the challenge, and the client's credentials.
    let requests = issuer.token_requests();
    assert_eq!(requests.len(), 1);
    let verifier = requests[0].code_verifier().expect("Fleetpane sent no code_verifier");
    assert_eq!(s256(verifier), login.param("code_challenge"), "verifier does not match the S256 challenge");
    assert_eq!(requests[0].form["grant_type"], "authorization_code");
    assert_eq!(requests[0].form["redirect_uri"], format!("{PUBLIC_URL}/auth/callback/rogue"));
    let basic = requests[0].authorization.clone().unwrap_or_default();
    let post = requests[0].form.get("client_secret").cloned().unwrap_or_default();
    assert!(basic.starts_with("Basic ") || post == CLIENT_SECRET, "no client authentication: {requests:?}");

    // Session fixation: the session id changed at login.
    let set = resp.set_cookie("fleetpane-session").expect("no session cookie at login");
    let cookie_after = browser.cookies.get("fleetpane-session").cloned();
    assert!(cookie_after.is_some());
    assert_ne!(cookie_before, cookie_after, "session id not rotated at login: {set}");

    // The page asked for shows who is signed in.
    let page = browser.get("/whoami").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    for text in ["alice@example.com", "sre", "dev"] {
        assert!(page.body.contains(text), "/whoami lacks {text:?}: {}", page.body);
    }
    assert!(browser.is_signed_in().await);
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

#[tokio::test]
async fn session_cookie_attributes_plain_http_dev() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;
    let claims = issuer.claims(login.nonce());
    let resp = finish(&issuer, &mut browser, &login, issuer.sign(&claims, &Signing::Rs256("rogue-1"))).await;
    let set = resp.set_cookie("fleetpane-session").expect("no session cookie");
    let attrs = attributes(&set);
    for a in ["httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&a.to_owned()), "{a} missing: {set}");
    }
    assert!(!attrs.contains(&"secure".to_owned()), "cookie_secure = false: {set}");
    assert!(resp.set_cookie("__Host-fleetpane-session").is_none());
}

#[tokio::test]
async fn session_cookie_attributes_secure() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::with(&issuer.issuer, Options { cookie_secure: true, ..Options::default() }).await;
    let (mut browser, login) = begin(&app).await;
    let claims = issuer.claims(login.nonce());
    let resp = finish(&issuer, &mut browser, &login, issuer.sign(&claims, &Signing::Rs256("rogue-1"))).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{resp:?}");
    let set = resp.set_cookie("__Host-fleetpane-session").expect("no __Host- session cookie");
    let attrs = attributes(&set);
    for a in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&a.to_owned()), "{a} missing: {set}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("domain=")), "__Host- forbids Domain: {set}");
    assert!(resp.set_cookie("fleetpane-session").is_none());
    assert!(browser.is_signed_in().await);
}

#[tokio::test]
async fn key_rotation_at_the_issuer_does_not_break_sign_in() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let mut first = sign_in(&issuer, &app, "rogue-1", |_| {}).await;
    assert!(first.is_signed_in().await);

    // The issuer rotates: the old key is gone, a new kid signs.
    issuer.publish(&["rogue-2"]);
    let fetches = issuer.jwks_fetches();
    let mut second = sign_in(&issuer, &app, "rogue-2", |_| {}).await;
    assert!(second.is_signed_in().await);
    assert_eq!(issuer.jwks_fetches(), fetches + 1, "the unknown kid should refetch the JWKS once");

    // The new key is cached now: further logins need no fetch.
    sign_in(&issuer, &app, "rogue-2", |_| {}).await;
    assert_eq!(issuer.jwks_fetches(), fetches + 1);
    // (A retired key that Fleetpane still has cached may keep working until the cache is refreshed; a kid
    // never published is refused: `refuses_an_unknown_kid`.)
}

/// One refusal case: a token crafted from good claims by `craft`.
async fn refused_token(what: &str, craft: impl FnOnce(&RogueIssuer, Value) -> String) {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;
    let token = craft(&issuer, issuer.claims(login.nonce()));
    let resp = finish(&issuer, &mut browser, &login, token).await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, what).await;
}

#[tokio::test]
async fn refuses_a_bad_signature() {
    refused_token("signed by another key", |i, c| {
        i.sign(&c, &Signing::WrongKey { signer: "rogue-3", kid: "rogue-1" })
    })
    .await;
    refused_token("payload changed after signing", |i, c| {
        i.tampered(&c, |c| c["groups"] = json!(["system:masters"]))
    })
    .await;
}

#[tokio::test]
async fn refuses_alg_none() {
    refused_token("alg none", |i, c| i.sign(&c, &Signing::None)).await;
}

#[tokio::test]
async fn refuses_hs256_signed_with_the_rsa_public_key() {
    refused_token("HS256 with the RSA public key", |i, c| {
        i.sign(&c, &Signing::Hs256WithPublicKey("rogue-1"))
    })
    .await;
}

#[tokio::test]
async fn refuses_a_wrong_issuer() {
    refused_token("wrong iss", |i, mut c| {
        c["iss"] = json!("http://127.0.0.1:9/other-issuer");
        i.sign(&c, &Signing::Rs256("rogue-1"))
    })
    .await;
}

#[tokio::test]
async fn refuses_a_wrong_audience() {
    refused_token("wrong aud", |i, mut c| {
        c["aud"] = json!("another-client");
        i.sign(&c, &Signing::Rs256("rogue-1"))
    })
    .await;
}

#[tokio::test]
async fn refuses_an_expired_token() {
    refused_token("expired", |i, mut c| {
        let now = now();
        c["iat"] = json!(now - 7200);
        c["exp"] = json!(now - 3600);
        i.sign(&c, &Signing::Rs256("rogue-1"))
    })
    .await;
}

#[tokio::test]
async fn refuses_a_nonce_mismatch() {
    refused_token("nonce mismatch", |i, mut c| {
        c["nonce"] = json!("not-the-nonce-of-this-login");
        i.sign(&c, &Signing::Rs256("rogue-1"))
    })
    .await;
    refused_token("nonce missing", |i, mut c| {
        c.as_object_mut().unwrap().remove("nonce");
        i.sign(&c, &Signing::Rs256("rogue-1"))
    })
    .await;
}

#[tokio::test]
async fn refuses_an_unknown_kid() {
    // rogue-3 is never published, not even after Fleetpane refetches the JWKS.
    refused_token("unknown kid", |i, c| i.sign(&c, &Signing::Rs256("rogue-3"))).await;
}

#[tokio::test]
async fn refuses_a_state_mismatch_without_redeeming_the_code() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;
    let claims = issuer.claims(login.nonce());
    issuer.grant("code-x", issuer.sign(&claims, &Signing::Rs256("rogue-1")));
    let resp = browser.callback("rogue", "code-x", "forged-state").await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, "state mismatch").await;
    assert!(issuer.token_requests().is_empty(), "the code was redeemed despite a wrong state");

    // A callback without any pending login (no session cookie at all), and one without state.
    let mut stranger = app.browser();
    let resp = stranger.callback("rogue", "code-x", login.state()).await;
    assert_refused(&mut stranger, &resp, StatusCode::BAD_REQUEST, "no pending login").await;
    let resp = browser.get("/auth/callback/rogue?code=code-x").await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, "state missing").await;
    assert!(issuer.token_requests().is_empty());
}

#[tokio::test]
async fn refuses_a_replayed_state() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;
    let cookies_at_login_start = browser.cookies.clone();
    let claims = issuer.claims(login.nonce());
    let resp = finish(&issuer, &mut browser, &login, issuer.sign(&claims, &Signing::Rs256("rogue-1"))).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{resp:?}");

    // The same state again, with a fresh code the IdP would honour: in a browser holding the cookie the
    // login started with (an attacker who copied it), and in the signed-in browser.
    issuer.grant("code-again", issuer.sign(&claims, &Signing::Rs256("rogue-1")));
    let mut copy = app.browser();
    copy.cookies = cookies_at_login_start;
    let resp = copy.callback("rogue", "code-again", login.state()).await;
    assert_refused(&mut copy, &resp, StatusCode::BAD_REQUEST, "replayed state, other browser").await;
    let resp = browser.callback("rogue", "code-again", login.state()).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "replayed state, same browser: {resp:?}");
    assert_eq!(issuer.token_requests().len(), 1, "a replayed state reached the token endpoint");
}

#[tokio::test]
async fn a_failed_callback_uses_up_the_state() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;
    let claims = issuer.claims(login.nonce());
    let resp = finish(&issuer, &mut browser, &login, issuer.sign(&claims, &Signing::None)).await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, "alg none").await;
    // Retrying the same state with a good token must not work: a state is single use.
    issuer.grant("code-retry", issuer.sign(&claims, &Signing::Rs256("rogue-1")));
    let resp = browser.callback("rogue", "code-retry", login.state()).await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, "state reused after a failure").await;
}

#[tokio::test]
async fn missing_pkce_verifier_is_refused_and_never_sent() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    // The IdP refuses the exchange (as it does without a verifier, or with the wrong one): no code
    // registered here answers `invalid_grant`.
    let (mut browser, login) = begin(&app).await;
    let resp = browser.callback("rogue", "code-never-granted", login.state()).await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, "IdP refused the code exchange").await;
    // And Fleetpane did send a verifier, the one of its challenge.
    let requests = issuer.token_requests();
    assert_eq!(requests.len(), 1);
    let verifier = requests[0].code_verifier().expect("token request without code_verifier");
    assert!((43..=128).contains(&verifier.len()), "RFC 7636 verifier length: {verifier}");
    assert_eq!(s256(verifier), login.param("code_challenge"));
}

#[tokio::test]
async fn groups_from_userinfo_when_the_claim_is_absent() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;
    let mut claims = issuer.claims(login.nonce());
    claims.as_object_mut().unwrap().remove("groups");
    let grant = Grant {
        id_token: issuer.sign(&claims, &Signing::Rs256("rogue-1")),
        access_token: "at-userinfo".to_owned(),
        refresh_token: None,
        userinfo: Some(
            json!({ "sub": "alice-sub", "email": "alice@example.com", "groups": ["from-userinfo"] }),
        ),
        expires_in: 300,
    };
    issuer.grant_with("code-ui", grant);
    let resp = browser.callback("rogue", "code-ui", login.state()).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{resp:?}");
    let page = browser.get("/whoami").await;
    assert!(page.body.contains("from-userinfo"), "{}", page.body);
    assert!(page.body.to_lowercase().contains("userinfo"), "source not shown: {}", page.body);
}

#[tokio::test]
async fn a_user_outside_the_allowed_domains_or_groups_is_refused() {
    let issuer = RogueIssuer::start().await;
    let lines = "allowed_email_domains = [\"example.com\"]\nallowed_groups = [\"sre\"]".to_owned();
    let app = TestApp::with(&issuer.issuer, Options { provider_lines: lines, ..Options::default() }).await;
    for (what, change) in [
        ("other domain", json!({ "email": "mallory@evil.test" })),
        ("not in an allowed group", json!({ "groups": ["dev"] })),
        ("unverified email", json!({ "email_verified": false })),
    ] {
        let (mut browser, login) = begin(&app).await;
        let mut claims = issuer.claims(login.nonce());
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let resp =
            finish(&issuer, &mut browser, &login, issuer.sign(&claims, &Signing::Rs256("rogue-1"))).await;
        assert_refused(&mut browser, &resp, StatusCode::FORBIDDEN, what).await;
    }
    sign_in(&issuer, &app, "rogue-1", |_| {}).await;
}

#[tokio::test]
async fn google_workspace_groups_come_from_the_directory() {
    let issuer = RogueIssuer::start().await;
    let google = GoogleStandIn::start().await;
    google.add_user("alice@example.com", &["platform@example.com", "oncall@example.com"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("google-sa.json"), google.key_json()).unwrap();
    let tables = format!(
        "[providers.groups]\nuserinfo = \"never\"\n[providers.groups.google_directory]\n\
         service_account_file = \"google-sa.json\"\nadmin_email = \"{ADMIN_EMAIL}\"\napi_base = \"{}\"\n",
        google.api_base
    );
    let lines = "allowed_email_domains = [\"example.com\"]".to_owned();
    let options = Options { provider_lines: lines, provider_tables: tables, ..Options::default() };
    let app = TestApp::with_dir(dir, &issuer.issuer, options).await;

    // Google's ID tokens carry no groups, but `hd`.
    let mut browser = sign_in(&issuer, &app, "rogue-1", |c| {
        c.as_object_mut().unwrap().remove("groups");
        c["hd"] = json!("example.com");
    })
    .await;
    let page = browser.get("/whoami").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    for text in ["platform@example.com", "oncall@example.com"] {
        assert!(page.body.contains(text), "/whoami lacks {text}: {}", page.body);
    }
    assert!(page.body.to_lowercase().contains("directory"), "source not shown: {}", page.body);
    assert_eq!(google.group_requests()[0]["userKey"], "alice@example.com");
    assert_eq!(google.token_requests(), 1);
}

#[tokio::test]
async fn refuses_a_wrong_at_hash() {
    refused_token("at_hash of another access token", |i, mut c| {
        c["at_hash"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
        i.sign(&c, &Signing::Rs256("rogue-1"))
    })
    .await;
}

#[tokio::test]
async fn a_correct_at_hash_is_accepted() {
    let issuer = RogueIssuer::start().await;
    let app = TestApp::start(&issuer.issuer).await;
    let (mut browser, login) = begin(&app).await;
    let mut claims = issuer.claims(login.nonce());
    // The access token `grant` hands out for this code is "at-code-{state}".
    claims["at_hash"] = json!(support::rogue::at_hash(&format!("at-code-{}", login.state())));
    let resp = finish(&issuer, &mut browser, &login, issuer.sign(&claims, &Signing::Rs256("rogue-1"))).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{resp:?}");
}

#[tokio::test]
async fn a_callback_at_another_provider_is_refused() {
    // RFC 9700 mix-up defense: the state of a login at "rogue" is not valid at "other"'s callback.
    let issuer = RogueIssuer::start().await;
    let other = RogueIssuer::start().await;
    let tables = format!(
        "[[providers]]\nname = \"other\"\ndisplay_name = \"Other\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
         client_secret_file = \"client-secret\"\n",
        other.issuer
    );
    let app = TestApp::with(&issuer.issuer, Options { provider_tables: tables, ..Options::default() }).await;
    let (mut browser, login) = begin(&app).await;
    let claims = issuer.claims(login.nonce());
    other.grant("code-mixup", other.sign(&claims, &Signing::Rs256("rogue-1")));
    issuer.grant("code-mixup", issuer.sign(&claims, &Signing::Rs256("rogue-1")));
    let resp = browser.callback("other", "code-mixup", login.state()).await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, "callback at another provider").await;
    assert!(other.token_requests().is_empty() && issuer.token_requests().is_empty());

    // RFC 9207: an `iss` in the callback that is not the provider's is refused too.
    let (mut browser, login) = begin(&app).await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", "code-mixup")
        .append_pair("state", login.state())
        .append_pair("iss", &other.issuer)
        .finish();
    let resp = browser.get(&format!("/auth/callback/rogue?{query}")).await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_REQUEST, "iss of another provider").await;
}

#[tokio::test]
async fn an_identity_provider_that_is_down_gives_a_502_page() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = TestApp::start(&format!("http://{dead}/rogue")).await;
    let mut browser = app.browser();
    let resp = browser.get("/auth/login/rogue?return_to=/").await;
    assert_refused(&mut browser, &resp, StatusCode::BAD_GATEWAY, "IdP down").await;
}

/// Short configured timeouts, through a real sign-in: activity keeps a session past its idle timeout, the
/// absolute timeout ends it anyway.
#[tokio::test]
async fn configured_absolute_timeout_ends_an_active_session() {
    let issuer = RogueIssuer::start().await;
    let options = Options {
        session_store: "store = \"memory\"\nidle_timeout = \"2s\"\nabsolute_timeout = \"4s\"".to_owned(),
        ..Options::default()
    };
    let app = TestApp::with(&issuer.issuer, options).await;
    let (mut browser, login) = begin(&app).await;
    let resp = finish(
        &issuer,
        &mut browser,
        &login,
        issuer.sign(&issuer.claims(login.nonce()), &Signing::Rs256("rogue-1")),
    )
    .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{resp:?}");
    assert_eq!(resp.location(), "/whoami");

    // Active every 1.5 s: past the 2 s idle timeout, still signed in.
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert!(browser.is_signed_in().await, "an active session outlived its idle timeout only to be cut");
    }
    // Past 4 s from sign-in, although active.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(!browser.is_signed_in().await, "the absolute timeout did not end the session");
}
