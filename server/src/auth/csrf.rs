//! Cross-site request checks for state-changing requests: the `Origin` (or `Sec-Fetch-Site`) must be ours,
//! and the per-session CSRF token must come along (header `x-csrf-token`, or form field `csrf_token`).

use axum::http::{HeaderMap, Method};

/// The header Leptos server functions carry the token in (set by the app's `CsrfClient`).
pub const HEADER: &str = "x-csrf-token";
/// The form field of plain HTML forms (sign out).
pub const FORM_FIELD: &str = "csrf_token";

/// Why a state-changing request was refused. Logged; the client only sees 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `Origin` names another origin.
    #[error("cross-origin request (Origin {0:?})")]
    CrossOrigin(String),
    /// `Sec-Fetch-Site` says the request did not come from our own pages.
    #[error("cross-site request (Sec-Fetch-Site {0:?})")]
    CrossSite(String),
    /// No token, or not the session's.
    #[error("missing or wrong CSRF token")]
    Token,
}

/// Whether `method` changes state (and so needs the checks).
pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The origin check. `expected_origin` is `public_url`'s origin, e.g. `http://127.0.0.1:3000`. A request
/// with neither header (not a browser) passes here and relies on the token alone.
pub fn check_origin(headers: &HeaderMap, expected_origin: &str) -> Result<(), Refused> {
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if origin == expected_origin {
            return Ok(());
        }
        // Privacy settings make browsers send `Origin: null`; then Sec-Fetch-Site must vouch for it.
        if origin != "null" || headers.get("sec-fetch-site").is_none() {
            return Err(Refused::CrossOrigin(origin.to_owned()));
        }
    }
    match headers.get("sec-fetch-site").map(|v| v.to_str().unwrap_or("(not text)")) {
        None | Some("same-origin") => Ok(()),
        Some(other) => Err(Refused::CrossSite(other.to_owned())),
    }
}

/// Compares the token sent with the session's, in constant time.
pub fn check_token(sent: Option<&str>, expected: &str) -> Result<(), Refused> {
    let Some(sent) = sent else { return Err(Refused::Token) };
    if !expected.is_empty() && crate::secret::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(Refused::Token)
    }
}

/// A fresh random token (128 bits, base64url).
pub fn new_token() -> String {
    openidconnect::CsrfToken::new_random().secret().clone()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const ME: &str = "http://127.0.0.1:3000";

    #[test]
    fn origin_must_be_ours() {
        assert_eq!(check_origin(&headers(&[("origin", ME)]), ME), Ok(()));
        assert!(matches!(
            check_origin(&headers(&[("origin", "http://evil.example")]), ME),
            Err(Refused::CrossOrigin(_))
        ));
        assert!(matches!(check_origin(&headers(&[("origin", "null")]), ME), Err(Refused::CrossOrigin(_))));
        assert_eq!(
            check_origin(&headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]), ME),
            Ok(())
        );
        assert!(matches!(
            check_origin(&headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]), ME),
            Err(Refused::CrossSite(_))
        ));
        // Origin wins over Sec-Fetch-Site.
        assert!(
            check_origin(&headers(&[("origin", "http://x"), ("sec-fetch-site", "same-origin")]), ME).is_err()
        );
    }

    #[test]
    fn sec_fetch_site_when_no_origin() {
        assert_eq!(check_origin(&headers(&[("sec-fetch-site", "same-origin")]), ME), Ok(()));
        for bad in ["cross-site", "same-site", "none"] {
            let mut h = HeaderMap::new();
            h.insert("sec-fetch-site", HeaderValue::from_str(bad).unwrap());
            assert!(matches!(check_origin(&h, ME), Err(Refused::CrossSite(_))), "{bad}");
        }
        assert_eq!(check_origin(&HeaderMap::new(), ME), Ok(()));
    }

    #[test]
    fn token_must_match() {
        let t = new_token();
        assert!(t.len() >= 22);
        assert_ne!(t, new_token());
        assert_eq!(check_token(Some(&t), &t), Ok(()));
        assert_eq!(check_token(None, &t), Err(Refused::Token));
        assert_eq!(check_token(Some("x"), &t), Err(Refused::Token));
        assert_eq!(check_token(Some(""), ""), Err(Refused::Token));
        let mut wrong = t.clone().into_bytes();
        wrong[0] ^= 1;
        assert_eq!(check_token(Some(&String::from_utf8(wrong).unwrap()), &t), Err(Refused::Token));
        assert!(is_state_changing(&Method::POST) && !is_state_changing(&Method::GET));
    }
}
