//! Where to go after sign-in: only same-origin paths, never an open redirect.

/// `raw` if it is a path on this origin (starts with one `/`, no `\`, no scheme, no control characters),
/// else `/`.
pub fn sanitize(raw: Option<&str>) -> String {
    match raw {
        Some(path) if is_local_path(path) => path.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
        && path.len() <= 2048
        // The sign-in flow itself is not a destination (loops).
        && !path.starts_with("/auth/")
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn same_origin_paths_pass() {
        for ok in ["/", "/whoami", "/clusters/prod-eu?tab=pods&x=1", "/a/b#frag", "/%2F%2Fevil.example"] {
            assert_eq!(sanitize(Some(ok)), ok);
        }
    }

    #[test]
    fn anything_else_becomes_root() {
        for bad in [
            "",
            "whoami",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/\tevil",
            "/ok\r\nSet-Cookie: x=1",
            "/auth/signin",
            "/auth/login/local",
        ] {
            assert_eq!(sanitize(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(sanitize(None), "/");
        assert_eq!(sanitize(Some(&format!("/{}", "a".repeat(3000)))), "/");
    }
}
