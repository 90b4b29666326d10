//! One cluster's Prometheus: HTTP (direct, or the apiserver's service proxy as the person), a per-query
//! timeout, a short cache keyed by the exact query, a counter of queries sent, and preset detection.
//!
//! ```text
//! query(ScopedQuery, Eval) ─► cache (10 s, key: query text + eval [+ person, via the proxy])
//!                          └► miss: sent += 1 ─► GET <base>/api/v1/query[_range] within the timeout
//!                                               ─► JSON vector/matrix ─► Vec<PromSeries>
//! ```

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Deserialize;
use url::Url;

use super::{
    config::{Auth, Endpoint, PresetChoice, Settings},
    presets::{self, Preset, Source},
    promql::{NamespaceScope, ScopedQuery, scoped},
};
use crate::fleet::{Cluster, Impersonation};

/// How long an answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// How long a detected preset is reused.
const DETECTED_TTL: Duration = Duration::from_secs(300);
/// How long "no preset's series exist" is reused (short: someone may be fixing it right now).
const UNDETECTED_TTL: Duration = Duration::from_secs(30);
/// Answers larger than this are refused (a runaway template).
const MAX_BODY: usize = 16 << 20;

/// Why a query got no data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No answer: refused, timed out, TLS, an HTTP error that is not Prometheus rejecting the query.
    #[error("{0}")]
    Unreachable(String),
    /// Prometheus answered with an error about the query.
    #[error("{0}")]
    Rejected(String),
    /// The cluster refused the person the service proxy (their RBAC).
    #[error("{0}")]
    Forbidden(String),
    /// The query could not be scoped, so it was not sent.
    #[error(transparent)]
    Scope(#[from] super::promql::Error),
}

/// When to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Eval {
    /// At one instant (unix seconds).
    Instant(i64),
    /// From `start` to `end` every `step` seconds.
    Range {
        /// Unix seconds.
        start: i64,
        /// Unix seconds.
        end: i64,
        /// Seconds.
        step: i64,
    },
}

/// One series of an answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PromSeries {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)`, finite values only.
    pub points: Vec<(i64, f64)>,
}

/// What preset detection found.
#[derive(Clone, Debug, PartialEq)]
pub enum Detected {
    /// This source.
    Source(Source),
    /// None of the presets' request metrics has a series.
    Nothing {
        /// The metrics looked for.
        looked_for: Vec<&'static str>,
    },
}

type CacheKey = (String, Eval, Option<Impersonation>);
type Answer = Result<Vec<PromSeries>, QueryError>;

/// One cluster's Prometheus. Cheap to clone.
#[derive(Clone)]
pub struct Prometheus {
    inner: Arc<Inner>,
}

struct Inner {
    url: Url,
    settings: Settings,
    http: reqwest::Client,
    cache: Mutex<HashMap<CacheKey, (Instant, Answer)>>,
    detected: Mutex<Option<(Instant, Detected)>>,
    sent: AtomicU64,
}

impl Prometheus {
    /// A client for the Prometheus at `url` (direct) or behind the service proxy that `url` names.
    pub fn new(url: Url, settings: Settings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                url,
                settings,
                http,
                cache: Mutex::default(),
                detected: Mutex::default(),
                sent: AtomicU64::new(0),
            }),
        })
    }

    /// The base URL as configured (direct), or the service-proxy URL.
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Queries sent to this Prometheus so far (cache hits not counted).
    pub fn queries_sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    /// Runs `query` as `who` (who matters only through the service proxy), from the cache when fresh.
    pub async fn query(
        &self,
        cluster: &Cluster,
        who: &Impersonation,
        query: &ScopedQuery,
        eval: Eval,
    ) -> Answer {
        let proxied = matches!(self.inner.settings.endpoint, Endpoint::ServiceProxy { .. });
        let key: CacheKey = (query.as_str().to_owned(), eval, proxied.then(|| who.clone()));
        let now = Instant::now();
        {
            let mut cache = self.inner.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, answer)) = cache.get(&key)
                && now.duration_since(*at) < CACHE_TTL
            {
                return answer.clone();
            }
            if cache.len() > 2000 {
                cache.retain(|_, (at, _)| now.duration_since(*at) < CACHE_TTL);
            }
        }
        self.inner.sent.fetch_add(1, Ordering::Relaxed);
        let answer = self.send(cluster, who, query, eval).await;
        if let Err(e) = &answer {
            tracing::info!(cluster = cluster.name(), error = %e, "prometheus query failed");
        }
        self.inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, (Instant::now(), answer.clone()));
        answer
    }

    async fn send(&self, cluster: &Cluster, who: &Impersonation, query: &ScopedQuery, eval: Eval) -> Answer {
        let (api, mut params) = match eval {
            Eval::Instant(t) => ("api/v1/query", vec![("time", t.to_string())]),
            Eval::Range { start, end, step } => (
                "api/v1/query_range",
                vec![("start", start.to_string()), ("end", end.to_string()), ("step", step.to_string())],
            ),
        };
        params.push(("query", query.as_str().to_owned()));
        let timeout = self.inner.settings.timeout;
        let (status, body) = match &self.inner.settings.endpoint {
            Endpoint::Direct(base) => {
                let url = join(base, api);
                let mut request = self.inner.http.get(url).query(&params);
                request = match &self.inner.settings.auth {
                    Auth::None => request,
                    Auth::Bearer { token_file } => {
                        let token = std::fs::read_to_string(token_file).map_err(|e| {
                            QueryError::Unreachable(format!("cannot read bearer_token_file: {e}"))
                        })?;
                        request.bearer_auth(token.trim())
                    }
                    Auth::Basic { username, password_file } => {
                        let password = std::fs::read_to_string(password_file).map_err(|e| {
                            QueryError::Unreachable(format!("cannot read basic_auth_password_file: {e}"))
                        })?;
                        request.basic_auth(username, Some(password.trim()))
                    }
                };
                let response = request
                    .send()
                    .await
                    .map_err(|e| QueryError::Unreachable(describe(&e.without_url(), timeout)))?;
                let status = response.status().as_u16();
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| QueryError::Unreachable(describe(&e.without_url(), timeout)))?;
                (status, body.to_vec())
            }
            Endpoint::ServiceProxy { namespace, service, port, https, path } => {
                let client = cluster.client_as(who).map_err(|e| QueryError::Forbidden(e.to_string()))?;
                let uri = proxy_uri(namespace, service, port, *https, path, api, &params);
                let request = http::Request::get(uri)
                    .body(kube::client::Body::empty())
                    .map_err(|e| QueryError::Unreachable(e.to_string()))?;
                let response = tokio::time::timeout(timeout, async {
                    let response = client.send(request).await?;
                    let status = response.status().as_u16();
                    let body = response.into_body().collect_bytes().await?;
                    Ok::<_, kube::Error>((status, body.to_vec()))
                })
                .await
                .map_err(|_| QueryError::Unreachable(format!("no answer within {} ms", timeout.as_millis())))?
                .map_err(|e| QueryError::Unreachable(e.to_string()))?;
                if response.0 == 403 && !String::from_utf8_lossy(&response.1).contains("\"status\":\"error\"")
                {
                    return Err(QueryError::Forbidden(format!(
                        "the cluster does not let you use the service proxy to {namespace}/{service}"
                    )));
                }
                response
            }
        };
        if body.len() > MAX_BODY {
            return Err(QueryError::Rejected(format!("answer larger than {} MiB", MAX_BODY >> 20)));
        }
        parse_answer(status, &body)
    }

    /// The metrics source: the configured one, or the detected one (cached).
    pub async fn source(
        &self,
        cluster: &Cluster,
        who: &Impersonation,
        now: i64,
    ) -> Result<Detected, QueryError> {
        if let PresetChoice::Fixed(source) = &self.inner.settings.preset {
            return Ok(Detected::Source(source.clone()));
        }
        {
            let detected = self.inner.detected.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, d)) = &*detected {
                let ttl = if matches!(d, Detected::Source(_)) { DETECTED_TTL } else { UNDETECTED_TTL };
                if at.elapsed() < ttl {
                    return Ok(d.clone());
                }
            }
        }
        let probes = presets::ALL.map(|p| async move { (p, self.has_series(cluster, who, p, now).await) });
        let answers = futures::future::join_all(probes).await;
        let mut first_error = None;
        let mut found = None;
        for (preset, answer) in answers {
            match answer {
                Ok(true) if found.is_none() => found = Some(preset),
                Ok(_) => {}
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        let detected = match (found, first_error) {
            (Some(p), _) => Detected::Source(Source::Preset(p)),
            (None, Some(e)) => return Err(e),
            (None, None) => {
                Detected::Nothing { looked_for: presets::ALL.map(Preset::request_metric).to_vec() }
            }
        };
        *self.inner.detected.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), detected.clone()));
        Ok(detected)
    }

    /// Whether `preset`'s request metric has any series (in any namespace: this asks about names only).
    async fn has_series(
        &self,
        cluster: &Cluster,
        who: &Impersonation,
        preset: Preset,
        now: i64,
    ) -> Result<bool, QueryError> {
        let source = Source::Preset(preset);
        let query = scoped(
            &format!("count({})", preset.request_metric()),
            &NamespaceScope::All,
            &source.scope_label(),
        )?;
        Ok(!self.query(cluster, who, &query, Eval::Instant(now)).await?.is_empty())
    }
}

/// The apiserver path of `api` on the Service's proxy, with `params` form-encoded. Pure.
fn proxy_uri(
    namespace: &str,
    service: &str,
    port: &str,
    https: bool,
    path: &str,
    api: &str,
    params: &[(&str, String)],
) -> String {
    let scheme = if https { "https:" } else { "" };
    let encoded: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("/api/v1/namespaces/{namespace}/services/{scheme}{service}:{port}/proxy{path}/{api}?{encoded}")
}

/// `base` with `api` appended to its path (a path prefix such as `/prometheus` is kept).
fn join(base: &Url, api: &str) -> Url {
    let mut url = base.clone();
    let path = format!("{}/{api}", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    message
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Parses Prometheus' JSON answer. Pure.
pub fn parse_answer(status: u16, body: &[u8]) -> Answer {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        let text = String::from_utf8_lossy(body);
        let text: String = text.trim().chars().take(200).collect();
        return Err(QueryError::Unreachable(format!("HTTP {status}, not a Prometheus API answer: {text}")));
    };
    if envelope.status != "success" {
        let message = envelope.error.unwrap_or_else(|| "unknown error".into());
        let kind = envelope.error_type.unwrap_or_default();
        return Err(if matches!(kind.as_str(), "bad_data" | "execution") || status == 400 || status == 422 {
            QueryError::Rejected(message)
        } else {
            QueryError::Unreachable(format!("HTTP {status}: {kind}: {message}"))
        });
    }
    let Some(data) = envelope.data else { return Ok(Vec::new()) };
    let point = |(t, v): &(f64, String)| -> Option<(i64, f64)> {
        let v: f64 = v.parse().ok()?;
        #[allow(clippy::cast_possible_truncation)] // Unix seconds.
        v.is_finite().then_some((t.round() as i64, v))
    };
    match data.result_type.as_str() {
        "vector" | "matrix" => {
            let raw: Vec<RawSeries> = serde_json::from_value(data.result)
                .map_err(|e| QueryError::Unreachable(format!("unexpected answer: {e}")))?;
            Ok(raw
                .into_iter()
                .map(|s| PromSeries {
                    labels: s.metric,
                    points: s.value.iter().chain(s.values.iter()).filter_map(point).collect(),
                })
                .collect())
        }
        "scalar" => {
            let pair: (f64, String) = serde_json::from_value(data.result)
                .map_err(|e| QueryError::Unreachable(format!("unexpected answer: {e}")))?;
            Ok(vec![PromSeries { labels: BTreeMap::new(), points: point(&pair).into_iter().collect() }])
        }
        other => Err(QueryError::Rejected(format!("unsupported result type {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1700000000.5,"120"]},{"metric":{},"value":[1700000000,"NaN"]}]}}"#;
        let got = parse_answer(200, vector).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].labels["a"], "b");
        assert_eq!(got[0].points, vec![(1_700_000_001, 120.0)]);
        assert!(got[1].points.is_empty(), "NaN is dropped");
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2.5"]]}]}}"#;
        assert_eq!(parse_answer(200, matrix).unwrap()[0].points, vec![(1, 1.0), (2, 2.5)]);
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert_eq!(parse_answer(400, bad), Err(QueryError::Rejected("parse error at char 5".into())));
        let unavailable = br#"{"status":"error","errorType":"unavailable","error":"down"}"#;
        assert!(
            matches!(parse_answer(503, unavailable), Err(QueryError::Unreachable(m)) if m.contains("down"))
        );
        let html = b"<html>404 page not found</html>";
        assert!(
            matches!(parse_answer(404, html), Err(QueryError::Unreachable(m)) if m.starts_with("HTTP 404, not a Prometheus API answer"))
        );
    }

    #[test]
    fn service_proxy_paths_encode_the_query() {
        let params = [("time", "1".to_owned()), ("query", r#"up{namespace=~"a|b"} & x"#.to_owned())];
        assert_eq!(
            proxy_uri("monitoring", "prometheus", "web", true, "/prom", "api/v1/query", &params),
            "/api/v1/namespaces/monitoring/services/https:prometheus:web/proxy/prom/api/v1/query?time=1&query=\
             up%7Bnamespace%3D%7E%22a%7Cb%22%7D+%26+x"
        );
        assert!(
            proxy_uri("m", "p", "9090", false, "", "api/v1/query_range", &[])
                .ends_with("/services/p:9090/proxy/api/v1/query_range?")
        );
    }

    #[test]
    fn path_prefixes_are_kept() {
        let base = Url::parse("https://mimir.example.com/prometheus/").unwrap();
        assert_eq!(join(&base, "api/v1/query").as_str(), "https://mimir.example.com/prometheus/api/v1/query");
        let base = Url::parse("http://127.0.0.1:19090").unwrap();
        assert_eq!(join(&base, "api/v1/query").as_str(), "http://127.0.0.1:19090/api/v1/query");
    }
}
