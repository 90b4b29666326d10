//! Where request metrics come from: a preset per mesh or ingress, or custom templates. Pure.
//!
//! Each source yields the same four queries for a Service (request rate, 5xx share, latency quantiles in
//! seconds) and one for the fleet list (rate and 5xx rate of every Service, in one query); Istio also one for a
//! Service's callers (the doctor's). Values reach the text only through [`super::promql`]'s escaping; the
//! namespace matcher is added later, by [`super::promql::scoped`], with the source's [`ScopeLabel`].

use std::fmt;

use super::promql::{self, KubeName, ScopeLabel, alternation, quoted};

/// A known metrics layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Istio's standard metrics (`istio_requests_total`, `istio_request_duration_milliseconds`), as reported
    /// by the destination.
    Istio,
    /// Linkerd's proxy metrics (`response_total`, `response_latency_ms`), outbound towards the Service.
    Linkerd,
    /// ingress-nginx (`nginx_ingress_controller_requests`, `..._request_duration_seconds`): traffic that enters
    /// through the ingress only.
    IngressNginx,
    /// Envoy Gateway (`envoy_cluster_upstream_rq_*`), by HTTPRoute: a route named like the Service.
    EnvoyGateway,
    /// The common client-library names `http_requests_total` / `http_request_duration_seconds`, labelled with
    /// `namespace` and `service` (as Prometheus' Kubernetes service discovery adds them).
    Generic,
}

/// Every preset, in detection order (a mesh describes a Service best; the generic names come last).
pub const ALL: [Preset; 5] =
    [Preset::Istio, Preset::Linkerd, Preset::IngressNginx, Preset::EnvoyGateway, Preset::Generic];

impl Preset {
    /// The name used in the config (`preset = "istio"`) and on the page.
    pub fn name(self) -> &'static str {
        match self {
            Self::Istio => "istio",
            Self::Linkerd => "linkerd",
            Self::IngressNginx => "ingress-nginx",
            Self::EnvoyGateway => "envoy-gateway",
            Self::Generic => "generic",
        }
    }

    /// The preset called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|p| p.name() == name)
    }

    /// The request counter whose presence detects the preset.
    pub fn request_metric(self) -> &'static str {
        self.layout().requests
    }

    fn layout(self) -> Layout {
        match self {
            Self::Istio => Layout {
                requests: "istio_requests_total",
                base: r#"reporter="destination""#,
                server_error: r#"response_code=~"5..""#,
                buckets: "istio_request_duration_milliseconds_bucket",
                seconds_per_unit: 0.001,
                namespace: "destination_service_namespace",
                service: Some("destination_service_name"),
                source: Some(SourceLabels {
                    workload: "source_workload",
                    namespace: "source_workload_namespace",
                }),
            },
            Self::Linkerd => Layout {
                requests: "response_total",
                base: r#"direction="outbound""#,
                server_error: r#"status_code=~"5..""#,
                buckets: "response_latency_ms_bucket",
                seconds_per_unit: 0.001,
                namespace: "dst_namespace",
                service: Some("dst_service"),
                source: None,
            },
            Self::IngressNginx => Layout {
                requests: "nginx_ingress_controller_requests",
                base: "",
                server_error: r#"status=~"5..""#,
                buckets: "nginx_ingress_controller_request_duration_seconds_bucket",
                seconds_per_unit: 1.0,
                namespace: "exported_namespace",
                service: Some("service"),
                source: None,
            },
            Self::EnvoyGateway => Layout {
                requests: "envoy_cluster_upstream_rq_total",
                base: "",
                server_error: "",
                buckets: "envoy_cluster_upstream_rq_time_bucket",
                seconds_per_unit: 0.001,
                namespace: "envoy_cluster_name",
                service: None,
                source: None,
            },
            Self::Generic => Layout {
                requests: "http_requests_total",
                base: "",
                server_error: r#"code=~"5..""#,
                buckets: "http_request_duration_seconds_bucket",
                seconds_per_unit: 1.0,
                namespace: "namespace",
                service: Some("service"),
                source: None,
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The label names and metric names of a preset.
struct Layout {
    requests: &'static str,
    /// Matchers every request selector carries (may be empty).
    base: &'static str,
    /// The matcher for 5xx responses (Envoy: a separate counter instead).
    server_error: &'static str,
    buckets: &'static str,
    seconds_per_unit: f64,
    namespace: &'static str,
    /// `None`: Envoy Gateway, whose Service identity is inside `envoy_cluster_name`.
    service: Option<&'static str>,
    /// The labels naming the calling workload and its namespace, where the layout has them (Istio only).
    source: Option<SourceLabels>,
}

/// The labels of a request metric that name the calling workload.
#[derive(Clone, Copy)]
struct SourceLabels {
    workload: &'static str,
    namespace: &'static str,
}

/// Custom PromQL, from `[clusters.prometheus.templates]`. Placeholders: `{namespace}`, `{service}` and `{pod}`
/// (escaped for a double-quoted string: write `"{service}"`; `{pod}` is a regex of the backing pods for
/// `pod=~"{pod}"`), `{window}` (a rate window such as `5m`) and, in `latency`, `{quantile}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Templates {
    /// Requests per second of one Service.
    pub request_rate: String,
    /// The 5xx share of one Service (0..1).
    pub error_share: String,
    /// One latency quantile of one Service, in seconds.
    pub latency: String,
    /// Requests per second of every Service, `by (namespace, service)` as named in `namespace_label` and
    /// `service_label`. Optional: without it the list shows no rate column for this cluster.
    pub fleet_rate: Option<String>,
    /// The label holding the namespace (the matcher Fleetpane adds to every selector); default `namespace`.
    pub namespace_label: String,
    /// The label holding the Service in `fleet_rate`'s result; default `service`.
    pub service_label: String,
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 5] = ["{namespace}", "{service}", "{pod}", "{window}", "{quantile}"];

/// Where a cluster's request metrics come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A preset.
    Preset(Preset),
    /// Custom templates.
    Templates(Box<Templates>),
}

/// The Service a query is about, names already checked.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// Namespace.
    pub namespace: &'a KubeName,
    /// Service name.
    pub service: &'a KubeName,
    /// Its backing pods (for `{pod}`).
    pub pods: &'a [KubeName],
}

/// The queries for one Service, before scoping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceQueries {
    /// Requests per second.
    pub rate: String,
    /// 5xx share, 0..1 (0 while there is traffic and no 5xx).
    pub error_share: String,
    /// p50, p95 and p99 in seconds, in one query: each series labelled `quantile="0.5"` etc.
    pub latency: String,
    /// The namespace label for the matcher.
    pub scope: ScopeLabel,
    /// The series whose absence means "no series for this preset".
    pub probe_metric: String,
}

/// The fleet list's query: rate of every Service, and the 5xx rate labelled `fleetpane_part="errors"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetQuery {
    /// The PromQL, before scoping.
    pub query: String,
    /// The namespace label for the matcher.
    pub scope: ScopeLabel,
    /// The label holding the namespace in the result.
    pub namespace_label: String,
    /// The label holding the Service in the result.
    pub service_label: String,
}

/// The query for a Service's callers: requests per second `by` the calling workload and its namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallersQuery {
    /// The PromQL, before scoping.
    pub query: String,
    /// The namespace label for the matcher (the Service's namespace, not the callers').
    pub scope: ScopeLabel,
    /// The label holding the calling workload's name in the result.
    pub workload_label: String,
    /// The label holding the calling workload's namespace in the result.
    pub namespace_label: String,
}

/// The label that marks the error series in [`FleetQuery`]'s result.
pub const PART_LABEL: &str = "fleetpane_part";

/// The latency quantiles shown.
pub const QUANTILES: [&str; 3] = ["0.5", "0.95", "0.99"];

fn selector(metric: &str, matchers: &[&str]) -> String {
    let inner: Vec<&str> = matchers.iter().copied().filter(|m| !m.is_empty()).collect();
    format!("{metric}{{{}}}", inner.join(","))
}

/// Envoy Gateway's cluster name of the route named like the Service.
fn envoy_route(target: &Target<'_>) -> String {
    format!(
        "envoy_cluster_name=~{}",
        quoted(&format!(
            "httproute/{}/{}/.*",
            promql::escape_regex(target.namespace.as_str()),
            promql::escape_regex(target.service.as_str())
        ))
    )
}

impl Source {
    /// The label holding the namespace.
    pub fn scope_label(&self) -> ScopeLabel {
        match self {
            Self::Preset(Preset::EnvoyGateway) => {
                ScopeLabel { label: "envoy_cluster_name".into(), pattern: "httproute/{ns}/.*".into() }
            }
            Self::Preset(p) => ScopeLabel::plain(p.layout().namespace),
            Self::Templates(t) => ScopeLabel::plain(&t.namespace_label),
        }
    }

    /// The queries for one Service over rate windows of `window` (e.g. `5m`).
    pub fn service_queries(&self, target: &Target<'_>, window: &str) -> ServiceQueries {
        let latency =
            QUANTILES.iter().map(|q| self.latency_query(target, window, q)).collect::<Vec<_>>().join(" or ");
        match self {
            Self::Preset(p) => preset_queries(*p, target, window, latency, self.scope_label()),
            Self::Templates(t) => {
                let fill = |template: &str| substitute(template, target, window, "");
                ServiceQueries {
                    rate: fill(&t.request_rate),
                    error_share: fill(&t.error_share),
                    latency,
                    scope: self.scope_label(),
                    probe_metric: fill(&t.request_rate),
                }
            }
        }
    }

    /// One latency quantile (e.g. `0.99`, one of [`QUANTILES`]) of one Service in seconds, labelled
    /// `quantile="<quantile>"`: the same text as that quantile's part of [`ServiceQueries::latency`].
    pub fn latency_query(&self, target: &Target<'_>, window: &str, quantile: &str) -> String {
        match self {
            Self::Preset(p) => {
                let l = p.layout();
                let who = preset_matchers(*p, target);
                let matchers: Vec<&str> = who.iter().map(String::as_str).collect();
                let buckets = selector(l.buckets, &matchers);
                let scale = if (l.seconds_per_unit - 1.0).abs() < f64::EPSILON {
                    String::new()
                } else {
                    format!(" * {}", l.seconds_per_unit)
                };
                format!(
                    r#"label_replace(histogram_quantile({quantile}, sum by (le) (rate({buckets}[{window}]))){scale}, "quantile", "{quantile}", "", "")"#
                )
            }
            Self::Templates(t) => format!(
                r#"label_replace(({}), "quantile", "{quantile}", "", "")"#,
                substitute(&t.latency, target, window, quantile)
            ),
        }
    }

    /// The query for one Service's callers over `window`, where the source knows who sends the requests:
    /// Istio only (`source_workload`, `source_workload_namespace`, as the destination reports them). Linkerd,
    /// ingress-nginx, Envoy Gateway, the generic names and custom templates give no callers (`None`): their
    /// request metrics either lack the caller or name it in a shape that is not a workload.
    pub fn callers_query(&self, target: &Target<'_>, window: &str) -> Option<CallersQuery> {
        let Self::Preset(p) = self else { return None };
        let l = p.layout();
        let source = l.source?;
        let who = preset_matchers(*p, target);
        let matchers: Vec<&str> = who.iter().map(String::as_str).collect();
        Some(CallersQuery {
            query: format!(
                "sum by ({}, {}) (rate({}[{window}]))",
                source.workload,
                source.namespace,
                selector(l.requests, &matchers)
            ),
            scope: self.scope_label(),
            workload_label: source.workload.to_owned(),
            namespace_label: source.namespace.to_owned(),
        })
    }

    /// The fleet list's query, if this source has one.
    pub fn fleet_query(&self, window: &str) -> Option<FleetQuery> {
        let scope = self.scope_label();
        match self {
            Self::Templates(t) => {
                let rate = t.fleet_rate.as_ref()?.replace("{window}", window);
                Some(FleetQuery {
                    query: rate,
                    scope,
                    namespace_label: t.namespace_label.clone(),
                    service_label: t.service_label.clone(),
                })
            }
            Self::Preset(Preset::EnvoyGateway) => {
                let l = Preset::EnvoyGateway.layout();
                let by = |inner: String| {
                    format!(
                        r#"sum by (namespace, service) (label_replace(label_replace({inner}, "namespace", "$1", "envoy_cluster_name", "httproute/([^/]+)/.*"), "service", "$1", "envoy_cluster_name", "httproute/[^/]+/([^/]+)/.*"))"#
                    )
                };
                let all = by(format!("rate({}[{window}])", selector(l.requests, &[])));
                let errors = by(format!(
                    "rate({}[{window}])",
                    selector("envoy_cluster_upstream_rq_xx", &[r#"envoy_response_code_class="5""#])
                ));
                Some(FleetQuery {
                    query: format!(r#"{all} or label_replace({errors}, "{PART_LABEL}", "errors", "", "")"#),
                    scope,
                    namespace_label: "namespace".into(),
                    service_label: "service".into(),
                })
            }
            Self::Preset(p) => {
                let l = p.layout();
                let service = l.service.unwrap_or("service");
                let by = format!("sum by ({}, {service})", l.namespace);
                let all = format!("{by} (rate({}[{window}]))", selector(l.requests, &[l.base]));
                let errors =
                    format!("{by} (rate({}[{window}]))", selector(l.requests, &[l.base, l.server_error]));
                Some(FleetQuery {
                    query: format!(r#"{all} or label_replace({errors}, "{PART_LABEL}", "errors", "", "")"#),
                    scope,
                    namespace_label: l.namespace.into(),
                    service_label: service.into(),
                })
            }
        }
    }
}

/// The matchers that pick one Service's series in `p`'s layout, the layout's base matchers first.
fn preset_matchers(p: Preset, target: &Target<'_>) -> Vec<String> {
    let l = p.layout();
    let ns = format!("{}={}", l.namespace, quoted(target.namespace.as_str()));
    match l.service {
        Some(s) => vec![l.base.to_owned(), ns, format!("{s}={}", quoted(target.service.as_str()))],
        None => vec![l.base.to_owned(), envoy_route(target)],
    }
}

fn preset_queries(
    p: Preset,
    target: &Target<'_>,
    window: &str,
    latency: String,
    scope: ScopeLabel,
) -> ServiceQueries {
    let l = p.layout();
    let who = preset_matchers(p, target);
    let matchers: Vec<&str> = who.iter().map(String::as_str).collect();
    let requests = selector(l.requests, &matchers);
    let rate = format!("sum(rate({requests}[{window}]))");
    let errors_selector = if p == Preset::EnvoyGateway {
        let mut m = matchers.clone();
        m.push(r#"envoy_response_code_class="5""#);
        selector("envoy_cluster_upstream_rq_xx", &m)
    } else {
        let mut m = matchers.clone();
        m.push(l.server_error);
        selector(l.requests, &m)
    };
    let error_share = format!("(sum(rate({errors_selector}[{window}])) or vector(0)) / {rate}");
    ServiceQueries { rate, error_share, latency, scope, probe_metric: l.requests.to_owned() }
}

/// Fills a template's placeholders with escaped values. Only the five placeholders are replaced, each value
/// is a checked Kubernetes name escaped for a PromQL string (pods: an escaped regex alternation), so a template
/// can never receive raw input.
pub fn substitute(template: &str, target: &Target<'_>, window: &str, quantile: &str) -> String {
    let pods = alternation(target.pods.iter().map(KubeName::as_str));
    // `alternation` quotes; the template supplies its own quotes.
    let pods = pods.trim_start_matches('"').trim_end_matches('"');
    template
        .replace("{namespace}", &promql::escape_string(target.namespace.as_str()))
        .replace("{service}", &promql::escape_string(target.service.as_str()))
        .replace("{pod}", pods)
        .replace("{window}", window)
        .replace("{quantile}", quantile)
}

/// Checks a template: it uses only known placeholders, and with them filled it tokenizes (so it can be
/// scoped). Returns what is wrong.
pub fn check_template(template: &str, latency: bool) -> Result<(), String> {
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        let after = &rest[at..];
        if let Some(end) = after.find('}') {
            let candidate = &after[..=end];
            let is_word =
                candidate[1..candidate.len() - 1].bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && candidate.len() > 2;
            if is_word && !PLACEHOLDERS.contains(&candidate) {
                return Err(format!("unknown placeholder {candidate} (use {})", PLACEHOLDERS.join(", ")));
            }
        }
        rest = &rest[at + 1..];
    }
    if latency && !template.contains("{quantile}") {
        return Err("must use {quantile} (0.5, 0.95 and 0.99 are filled in)".into());
    }
    let ns = KubeName::new("namespace", "ns").map_err(|e| e.to_string())?;
    let svc = KubeName::new("service", "svc").map_err(|e| e.to_string())?;
    let filled = substitute(template, &Target { namespace: &ns, service: &svc, pods: &[] }, "5m", "0.5");
    promql::scoped(&filled, &promql::NamespaceScope::All, &ScopeLabel::plain("namespace"))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> (KubeName, KubeName, Vec<KubeName>) {
        (
            KubeName::new("namespace", "team-a").unwrap(),
            KubeName::new("service", "checkout").unwrap(),
            vec![KubeName::new("pod", "checkout-1").unwrap(), KubeName::new("pod", "checkout-2.x").unwrap()],
        )
    }

    #[test]
    fn istio_queries() {
        let (ns, svc, pods) = names();
        let q = Source::Preset(Preset::Istio)
            .service_queries(&Target { namespace: &ns, service: &svc, pods: &pods }, "1m");
        let sel = r#"istio_requests_total{reporter="destination",destination_service_namespace="team-a",destination_service_name="checkout"}"#;
        assert_eq!(q.rate, format!("sum(rate({sel}[1m]))"));
        assert_eq!(
            q.error_share,
            format!(
                r#"(sum(rate(istio_requests_total{{reporter="destination",destination_service_namespace="team-a",destination_service_name="checkout",response_code=~"5.."}}[1m])) or vector(0)) / sum(rate({sel}[1m]))"#
            )
        );
        assert!(q.latency.starts_with(r#"label_replace(histogram_quantile(0.5, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="team-a",destination_service_name="checkout"}[1m]))) * 0.001, "quantile", "0.5", "", "") or "#), "{}", q.latency);
        assert_eq!(q.latency.matches("histogram_quantile").count(), 3);
        assert_eq!(q.scope, ScopeLabel::plain("destination_service_namespace"));
        assert_eq!(q.probe_metric, "istio_requests_total");
    }

    #[test]
    fn every_preset_builds_queries_that_can_be_scoped() {
        let (ns, svc, pods) = names();
        let target = Target { namespace: &ns, service: &svc, pods: &pods };
        for p in ALL {
            let source = Source::Preset(p);
            let q = source.service_queries(&target, "5m");
            for text in [&q.rate, &q.error_share, &q.latency] {
                let scoped = promql::scoped(text, &promql::NamespaceScope::All, &q.scope).unwrap();
                assert!(scoped.as_str().contains(&q.scope.label), "{p}: {scoped}");
            }
            let fleet = source.fleet_query("5m").unwrap();
            promql::scoped(&fleet.query, &promql::NamespaceScope::All, &fleet.scope).unwrap();
            assert!(fleet.query.contains(PART_LABEL), "{p}");
            assert_eq!(Preset::parse(p.name()), Some(p));
        }
        let envoy = Source::Preset(Preset::EnvoyGateway).service_queries(&target, "5m");
        assert!(
            envoy.rate.contains(r#"envoy_cluster_name=~"httproute/team-a/checkout/.*""#),
            "{}",
            envoy.rate
        );
    }

    #[test]
    fn one_quantile_is_that_part_of_the_latency_query() {
        let (ns, svc, pods) = names();
        let target = Target { namespace: &ns, service: &svc, pods: &pods };
        for p in ALL {
            let source = Source::Preset(p);
            let all = source.service_queries(&target, "5m").latency;
            let p99 = source.latency_query(&target, "5m", "0.99");
            assert!(all.ends_with(&format!(" or {p99}")), "{p}: {p99} not the last part of {all}");
            assert!(
                p99.contains("histogram_quantile(0.99, ") && p99.contains(r#""quantile", "0.99""#),
                "{p99}"
            );
            promql::scoped(&p99, &promql::NamespaceScope::All, &source.scope_label()).unwrap();
        }
    }

    #[test]
    fn only_istio_names_the_callers() {
        let (ns, svc, pods) = names();
        let target = Target { namespace: &ns, service: &svc, pods: &pods };
        let q = Source::Preset(Preset::Istio).callers_query(&target, "5m").unwrap();
        assert_eq!(
            q.query,
            r#"sum by (source_workload, source_workload_namespace) (rate(istio_requests_total{reporter="destination",destination_service_namespace="team-a",destination_service_name="checkout"}[5m]))"#
        );
        assert_eq!(
            (q.workload_label.as_str(), q.namespace_label.as_str()),
            ("source_workload", "source_workload_namespace")
        );
        // Scoped by the Service's namespace: the callers' namespaces do not widen what is asked.
        let only = promql::NamespaceScope::Only(["team-a".to_owned()].into());
        let scoped = promql::scoped(&q.query, &only, &q.scope).unwrap();
        assert!(scoped.as_str().contains("destination_service_namespace"), "{scoped}");
        for p in [Preset::Linkerd, Preset::IngressNginx, Preset::EnvoyGateway, Preset::Generic] {
            assert_eq!(Source::Preset(p).callers_query(&target, "5m"), None, "{p}");
        }
    }

    #[test]
    fn templates_get_escaped_values_only() {
        let (ns, svc, pods) = names();
        let t = Templates {
            request_rate: r#"sum(rate(hits{ns="{namespace}",svc="{service}",pod=~"{pod}"}[{window}]))"#
                .into(),
            error_share: "0".into(),
            latency: "histogram_quantile({quantile}, x)".into(),
            fleet_rate: None,
            namespace_label: "ns".into(),
            service_label: "svc".into(),
        };
        let source = Source::Templates(Box::new(t));
        let q = source.service_queries(&Target { namespace: &ns, service: &svc, pods: &pods }, "2m");
        assert_eq!(
            q.rate,
            r#"sum(rate(hits{ns="team-a",svc="checkout",pod=~"checkout-1|checkout-2\\.x"}[2m]))"#
        );
        assert!(q.latency.contains("histogram_quantile(0.99, x)"), "{}", q.latency);
        assert_eq!(
            source.latency_query(&Target { namespace: &ns, service: &svc, pods: &pods }, "5m", "0.99"),
            r#"label_replace((histogram_quantile(0.99, x)), "quantile", "0.99", "", "")"#
        );
        assert!(source.callers_query(&Target { namespace: &ns, service: &svc, pods: &pods }, "5m").is_none());
        assert_eq!(source.scope_label(), ScopeLabel::plain("ns"));
        assert!(source.fleet_query("5m").is_none());
    }

    #[test]
    fn template_checks() {
        assert!(check_template(r#"sum(rate(x{namespace="{namespace}"}[{window}]))"#, false).is_ok());
        let e = check_template(r#"x{a="{svc}"}"#, false).unwrap_err();
        assert!(e.contains("unknown placeholder {svc}"), "{e}");
        assert!(check_template("histogram_quantile(0.9, x)", true).unwrap_err().contains("{quantile}"));
        assert!(check_template("sum(x", false).is_err());
    }
}
