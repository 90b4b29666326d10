//! PromQL text, built safely. Pure.
//!
//! ```text
//! Kubernetes name ──► KubeName::new (rejects what no namespace/Service/pod can be called)
//!                 ──► string()  "…"   PromQL string escaping of \ " and control characters
//!                 ──► regex()         RE2 metacharacters escaped, then string-escaped
//! any PromQL      ──► scoped(query, scope, label) ──► ScopedQuery: every vector selector carries
//!                                                    `label=~"<readable namespaces>"` (prom-label-proxy style)
//! ```
//!
//! [`ScopedQuery`] is the only thing the Prometheus client accepts, and [`scoped`] is the only way to make one,
//! so no query leaves Fleetpane without the namespace matcher.

use std::{collections::BTreeSet, fmt};

/// Why a name or a query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The name is not a Kubernetes object name, so it is no valid label value to ask about.
    #[error("{what} {value:?} is not a valid Kubernetes name")]
    InvalidName {
        /// What the name was for: `namespace`, `service`, `pod`.
        what: &'static str,
        /// The name as given (shown escaped by `{:?}`).
        value: String,
    },
    /// The query could not be read far enough to add the namespace matcher (so it is not sent).
    #[error("cannot scope the query: {0}")]
    Unparsable(String),
    /// The person may read no namespace here: there is nothing to ask.
    #[error("no readable namespace to query")]
    EmptyScope,
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Kubernetes object name checked to be one: lowercase letters, digits, `-` and `.` (DNS-1123 subdomain, at
/// most 253 characters). Everything else (quotes, braces, `|~`, newlines, ...) is refused before any PromQL is
/// built.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeName(String);

impl KubeName {
    /// Checks `value`; `what` names it in the error.
    pub fn new(what: &'static str, value: &str) -> Result<Self> {
        let ok = !value.is_empty()
            && value.len() <= 253
            && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && value.split('.').all(|part| {
                !part.is_empty() && !part.starts_with('-') && !part.ends_with('-') && part.len() <= 63
            });
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::InvalidName { what, value: value.to_owned() })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KubeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `value` escaped for the inside of a double-quoted PromQL string: `\`, `"`, newline, carriage return, tab
/// and every other control character. The result can never end the string early.
pub fn escape_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// `value` as a literal in an RE2 regular expression (every metacharacter escaped). Not yet string-escaped.
pub fn escape_regex(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A double-quoted PromQL string holding exactly `value`.
pub fn quoted(value: &str) -> String {
    format!("\"{}\"", escape_string(value))
}

/// A double-quoted PromQL regex string matching exactly one of `values` (none: matches nothing).
pub fn alternation<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let parts: Vec<String> = values.into_iter().map(escape_regex).collect();
    if parts.is_empty() {
        // An empty alternation would match the empty string; this matches nothing.
        return quoted("$^");
    }
    quoted(&parts.join("|"))
}

/// Which namespaces a person may read in one cluster (from [`crate::access::Scope`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NamespaceScope {
    /// Every namespace: the matcher still requires the label (`=~".+"`).
    All,
    /// Only these (never empty: an empty scope is not queried at all).
    Only(BTreeSet<String>),
}

impl From<&crate::access::Scope> for NamespaceScope {
    fn from(scope: &crate::access::Scope) -> Self {
        match scope {
            crate::access::Scope::All => Self::All,
            crate::access::Scope::Namespaces(set) => Self::Only(set.clone()),
        }
    }
}

/// The label that holds the namespace in a preset's series, and how a namespace appears in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopeLabel {
    /// The label name, e.g. `namespace` or `destination_service_namespace`.
    pub label: String,
    /// The value's shape around the namespace: `{ns}` is replaced by the (regex) namespace. Usually just
    /// `{ns}`; Envoy Gateway's cluster names are `httproute/{ns}/<route>/rule/<n>`, so `httproute/{ns}/.*`.
    pub pattern: String,
}

impl ScopeLabel {
    /// A label whose value is the namespace itself.
    pub fn plain(label: &str) -> Self {
        Self { label: label.to_owned(), pattern: "{ns}".to_owned() }
    }

    /// The matcher for `scope`, e.g. `namespace=~"team\\-a|team\\-b"`.
    pub fn matcher(&self, scope: &NamespaceScope) -> Result<String> {
        let namespaces = match scope {
            NamespaceScope::All => ".+".to_owned(),
            NamespaceScope::Only(set) if set.is_empty() => return Err(Error::EmptyScope),
            NamespaceScope::Only(set) => {
                format!("(?:{})", set.iter().map(|ns| escape_regex(ns)).collect::<Vec<_>>().join("|"))
            }
        };
        let regex = self.pattern.replace("{ns}", &namespaces);
        Ok(format!("{}=~{}", self.label, quoted(&regex)))
    }
}

/// A query that carries the namespace matcher in every vector selector. Only [`scoped`] makes one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopedQuery(String);

impl ScopedQuery {
    /// The PromQL text, as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScopedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds `label.matcher(scope)` to every vector selector of `query`, the way prom-label-proxy does: a selector
/// that already names the label gets a second matcher, and both must hold. A query that does not tokenize is
/// refused, never sent unscoped.
pub fn scoped(query: &str, scope: &NamespaceScope, label: &ScopeLabel) -> Result<ScopedQuery> {
    let matcher = label.matcher(scope)?;
    let tokens = tokenize(query)?;
    balanced(&tokens)?;
    // (byte offset, text to insert there), in order.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t.kind {
            Kind::Ident => {
                let next = tokens.get(i + 1);
                let word = &query[t.start..t.end];
                let lower = word.to_ascii_lowercase();
                if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                    // `by (a, b)`: label names, not selectors.
                    if next.is_some_and(|n| n.kind == Kind::Open('(')) {
                        i = closing(&tokens, i + 1)? + 1;
                    } else {
                        i += 1;
                    }
                    continue;
                }
                if next.is_some_and(|n| n.kind == Kind::Open('('))
                    || KEYWORDS.contains(&lower.as_str())
                    || (AGGREGATIONS.contains(&lower.as_str())
                        && next.is_some_and(|n| {
                            n.kind == Kind::Ident
                                && matches!(
                                    query[n.start..n.end].to_ascii_lowercase().as_str(),
                                    "by" | "without"
                                )
                        }))
                {
                    i += 1;
                    continue;
                }
                // A metric name: the selector is the name and its braces, if any.
                if next.is_some_and(|n| n.kind == Kind::Open('{')) {
                    let close = closing(&tokens, i + 1)?;
                    inserts.push(brace_insert(&tokens, i + 1, close, &matcher));
                    i = close + 1;
                } else {
                    inserts.push((t.end, format!("{{{matcher}}}")));
                    i += 1;
                }
            }
            Kind::Open('{') => {
                // A selector without a metric name: `{__name__=~"..."}`.
                let close = closing(&tokens, i)?;
                inserts.push(brace_insert(&tokens, i, close, &matcher));
                i = close + 1;
            }
            Kind::Open('[') => i = closing(&tokens, i)? + 1,
            _ => i += 1,
        }
    }
    let mut out = String::with_capacity(query.len() + inserts.len() * matcher.len());
    let mut at = 0;
    for (offset, text) in inserts {
        out.push_str(&query[at..offset]);
        out.push_str(&text);
        at = offset;
    }
    out.push_str(&query[at..]);
    Ok(ScopedQuery(out))
}

/// What to insert into the braces `tokens[open]..=tokens[close]`.
fn brace_insert(tokens: &[Token], open: usize, close: usize, matcher: &str) -> (usize, String) {
    let end = tokens[close].start;
    let last = &tokens[close - 1];
    if close == open + 1 || last.kind == Kind::Comma {
        (end, matcher.to_owned())
    } else {
        (end, format!(",{matcher}"))
    }
}

/// After these, a parenthesized list holds label names.
const LABEL_LIST_KEYWORDS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
/// Words that are never metric names where they appear without parentheses.
const KEYWORDS: [&str; 8] = ["and", "or", "unless", "atan2", "bool", "offset", "inf", "nan"];
/// Aggregations, which may take `by (...)` before their parentheses.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    Str,
    Open(char),
    Close(char),
    Comma,
    Op,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// The index of the token closing `tokens[open]`.
fn closing(tokens: &[Token], open: usize) -> Result<usize> {
    let Kind::Open(o) = tokens[open].kind else {
        return Err(Error::Unparsable("expected an opening bracket".into()));
    };
    let want = match o {
        '(' => ')',
        '{' => '}',
        _ => ']',
    };
    let mut depth = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        match t.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close(c) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return if c == want {
                        Ok(j)
                    } else {
                        Err(Error::Unparsable(format!("{o:?} closed by {c:?}")))
                    };
                }
            }
            _ => {}
        }
    }
    Err(Error::Unparsable(format!("unclosed {o:?}")))
}

/// Every bracket is closed by its partner, in order.
fn balanced(tokens: &[Token]) -> Result<()> {
    let mut open: Vec<char> = Vec::new();
    for t in tokens {
        match t.kind {
            Kind::Open(c) => open.push(c),
            Kind::Close(c) => {
                let want = match open.pop() {
                    Some('(') => ')',
                    Some('{') => '}',
                    Some(_) => ']',
                    None => return Err(Error::Unparsable(format!("unbalanced {c:?}"))),
                };
                if c != want {
                    return Err(Error::Unparsable(format!("{want:?} expected, found {c:?}")));
                }
            }
            _ => {}
        }
    }
    match open.last() {
        Some(c) => Err(Error::Unparsable(format!("unclosed {c:?}"))),
        None => Ok(()),
    }
}

fn tokenize(q: &str) -> Result<Vec<Token>> {
    let bytes = q.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' | b'`' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(Error::Unparsable("unterminated string".into())),
                        Some(b'\\') if b != b'`' => i += 2,
                        Some(c) if *c == b => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                Kind::Str
            }
            b'(' | b'{' | b'[' => {
                i += 1;
                Kind::Open(char::from(b))
            }
            b')' | b'}' | b']' => {
                i += 1;
                Kind::Close(char::from(b))
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b'0'..=b'9' | b'.' => {
                while i < bytes.len() {
                    let c = bytes[i];
                    let exponent_sign = (c == b'+' || c == b'-') && matches!(bytes[i - 1], b'e' | b'E');
                    if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                Kind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
                {
                    i += 1;
                }
                Kind::Ident
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' | b'~' | b'@' => {
                i += 1;
                Kind::Op
            }
            other => {
                return Err(Error::Unparsable(format!(
                    "unexpected character {:?}",
                    q[start..].chars().next().unwrap_or(char::from(other))
                )));
            }
        };
        tokens.push(Token { kind, start, end: i });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(ns: &[&str]) -> NamespaceScope {
        NamespaceScope::Only(ns.iter().map(|s| (*s).to_owned()).collect())
    }

    fn ns() -> ScopeLabel {
        ScopeLabel::plain("namespace")
    }

    #[test]
    fn names_that_are_not_kubernetes_names_are_refused() {
        for bad in [
            "",
            "checkout\"}",
            "a|~b",
            "x\"} or up{a=\"",
            "Checkout",
            "a b",
            "a\nb",
            "-a",
            "a-",
            "a..b",
            "a\\",
            "{namespace}",
        ] {
            assert!(KubeName::new("service", bad).is_err(), "{bad:?}");
        }
        for good in ["checkout", "team-a", "checkout-7d9f-abc12", "a.b-c", "x1"] {
            assert_eq!(KubeName::new("pod", good).unwrap().as_str(), good);
        }
        let e = KubeName::new("service", "x\"}").unwrap_err();
        assert_eq!(e.to_string(), r#"service "x\"}" is not a valid Kubernetes name"#);
    }

    #[test]
    fn strings_are_escaped_so_they_cannot_end_early() {
        assert_eq!(quoted(r#"a"}b"#), r#""a\"}b""#);
        assert_eq!(quoted("a\\b"), r#""a\\b""#);
        assert_eq!(quoted("a\nb\r\t"), r#""a\nb\r\t""#);
        assert_eq!(quoted("a\u{7}"), r#""a\u0007""#);
        // `"}` followed by more PromQL stays inside one string token.
        let evil = r#"x"} or vector(1) or up{a=""#;
        let q = format!("up{{service={}}}", quoted(evil));
        let tokens = tokenize(&q).unwrap();
        let strings: Vec<_> = tokens.iter().filter(|t| t.kind == Kind::Str).collect();
        assert_eq!(strings.len(), 1, "{q}");
        assert!(!q.contains(r#"x"} or"#), "{q}");
    }

    #[test]
    fn regex_metacharacters_are_escaped() {
        assert_eq!(escape_regex("a.b|~c"), r"a\.b\|~c");
        assert_eq!(alternation(["a.b", "c|d"]), r#""a\\.b|c\\|d""#);
        assert_eq!(alternation([]), r#""$^""#);
    }

    #[test]
    fn every_selector_gets_the_matcher() {
        let scope = only(&["team-a"]);
        let m = r#"namespace=~"(?:team-a)""#;
        let cases = [
            ("up", format!("up{{{m}}}")),
            (r#"up{job="x"}"#, format!(r#"up{{job="x",{m}}}"#)),
            (r#"up{job="x",}"#, format!(r#"up{{job="x",{m}}}"#)),
            ("up{}", format!("up{{{m}}}")),
            (r#"{__name__="up"}"#, format!(r#"{{__name__="up",{m}}}"#)),
            (
                "sum by (namespace, pod) (rate(cpu_total[5m]))",
                format!("sum by (namespace, pod) (rate(cpu_total{{{m}}}[5m]))"),
            ),
            (
                "sum(rate(a[5m])) by (le) / ignoring(code) group_left(x) b offset 1h",
                format!("sum(rate(a{{{m}}}[5m])) by (le) / ignoring(code) group_left(x) b{{{m}}} offset 1h"),
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(h_bucket{a=\"}\"}[1m:10s])))",
                format!("histogram_quantile(0.99, sum by (le) (rate(h_bucket{{a=\"}}\",{m}}}[1m:10s])))"),
            ),
            ("a and on(x) b or vector(0)", format!("a{{{m}}} and on(x) b{{{m}}} or vector(0)")),
            ("1e-3 * x", format!("1e-3 * x{{{m}}}")),
            ("node:cpu:rate5m", format!("node:cpu:rate5m{{{m}}}")),
            ("x @ start()", format!("x{{{m}}} @ start()")),
        ];
        for (query, want) in cases {
            assert_eq!(scoped(query, &scope, &ns()).unwrap().as_str(), want, "{query}");
        }
    }

    #[test]
    fn a_crafted_matcher_cannot_widen_the_scope() {
        // The query asks for team-b; the added matcher still requires team-a, so nothing matches.
        let q = scoped(r#"up{namespace="team-b"}"#, &only(&["team-a"]), &ns()).unwrap();
        assert_eq!(q.as_str(), r#"up{namespace="team-b",namespace=~"(?:team-a)"}"#);
        // Regex characters in namespace names are literals.
        let q = scoped("up", &only(&["a.b", "c"]), &ns()).unwrap();
        assert_eq!(q.as_str(), r#"up{namespace=~"(?:a\\.b|c)"}"#);
    }

    #[test]
    fn all_namespaces_still_requires_the_label_and_none_sends_nothing() {
        assert_eq!(scoped("up", &NamespaceScope::All, &ns()).unwrap().as_str(), r#"up{namespace=~".+"}"#);
        assert_eq!(scoped("up", &only(&[]), &ns()), Err(Error::EmptyScope));
        let envoy = ScopeLabel { label: "envoy_cluster_name".into(), pattern: "httproute/{ns}/.*".into() };
        assert_eq!(
            scoped("x", &only(&["team-a"]), &envoy).unwrap().as_str(),
            r#"x{envoy_cluster_name=~"httproute/(?:team-a)/.*"}"#
        );
    }

    #[test]
    fn unparsable_queries_are_refused() {
        for bad in ["up{", "sum(up", "up}", "up{a=\"x}", "rate(x[5m)", "up ; drop"] {
            assert!(scoped(bad, &NamespaceScope::All, &ns()).is_err(), "{bad}");
        }
    }
}
