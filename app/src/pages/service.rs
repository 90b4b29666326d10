//! `/c/{cluster}/ns/{namespace}/svc/{name}`: one Service in one cluster, on one page.
//!
//! The page is a sequence of sections with anchors, verdict first:
//!
//! ```text
//! header (cluster / ns / name, verdict, freshness)   section nav
//! [findings slot]  EXPOSURE  DNS  ENDPOINTS  PODS  [traffic slot]  RELATED  EVENTS  KUBECTL
//! ```
//!
//! A section the person may not read says so in place. The endpoint filter lives in the URL (`?endpoints=`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    api::service_detail,
    components::{ErrorTemplate, Health as Badge, StatusBadge},
    model::services::{
        BackingPod, ContainerView, DnsKind, DnsName, EndpointView, EventView, Freshness, Health, ProbeView,
        RelatedView, RouteView, ServiceDetail, ServicePortView, TargetPortResolution, When, ZoneSummary,
    },
};

fn badge(health: Health) -> Badge {
    match health {
        Health::Serving => Badge::Ok,
        Health::Degraded | Health::Pending => Badge::Warn,
        Health::NotServing => Badge::Bad,
        Health::Unknown | Health::External => Badge::Unknown,
    }
}

/// The sections, in page order: anchor id and title.
const SECTIONS: [(&str, &str); 8] = [
    ("exposure", "Exposure"),
    ("dns", "DNS"),
    ("endpoints", "Endpoints"),
    ("pods", "Pods"),
    ("traffic", "Traffic"),
    ("related", "Related"),
    ("events", "Events"),
    ("kubectl", "kubectl"),
];

/// Which endpoints the table shows; `?endpoints=not-ready` in the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EndpointFilter {
    All,
    NotReady,
}

impl EndpointFilter {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("not-ready") => Self::NotReady,
            _ => Self::All,
        }
    }

    fn keeps(self, e: &EndpointView) -> bool {
        self == Self::All || !e.ready
    }
}

/// `/c/:cluster/ns/:namespace/svc/:name`.
#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        params.with(|p| {
            (
                p.get("cluster").unwrap_or_default(),
                p.get("namespace").unwrap_or_default(),
                p.get("name").unwrap_or_default(),
            )
        })
    });
    // Live: anything in this Service's namespace of its cluster; each tick refetches (old data stays up).
    let live = crate::live::use_live(move || {
        let (c, ns, _) = key.get();
        crate::live::LiveScope {
            cluster: (!c.is_empty()).then_some(c),
            namespace: (!ns.is_empty()).then_some(ns),
            kinds: Vec::new(),
        }
    });
    let detail = crate::wire::resource(
        move || (key.get(), live.version.get()),
        |((c, ns, n), _)| service_detail(c, ns, n),
    );
    let (metrics, range) = crate::components::metrics::use_service_metrics(key);
    let filter = Memo::new(move |_| query.with(|q| EndpointFilter::parse(q.get("endpoints").as_deref())));
    let title = move || {
        let (c, ns, n) = key.get();
        format!("{n} · {ns} · {c} · Fleetpane")
    };
    view! {
        <Title text=title/>
        <crate::live::LiveIndicator live/>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Loading the Service…"</p> }>
            <ErrorBoundary fallback=move |errors| {
                let (c, ns, n) = key.get_untracked();
                view! {
                    <section class="page-head">
                        <h1>
                            <span class="crumbs mono">{format!("{c} / {ns} / ")}</span>
                            {n}
                        </h1>
                    </section>
                    <ErrorTemplate errors/>
                    <p><a href="/services">"Back to the Services list"</a></p>
                }
            }>
                {move || Suspend::new(async move {
                    detail.await.map(|d| view! { <ServiceView d filter metrics range/> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The page once the data is there: the sections in order. Helpers' sections (findings at the top, traffic
/// after the pods) slot in where marked.
#[component]
fn ServiceView(
    d: ServiceDetail,
    filter: Memo<EndpointFilter>,
    metrics: crate::components::metrics::ServiceMetricsResource,
    range: Memo<crate::model::metrics::MetricsRange>,
) -> impl IntoView {
    let where_ = (d.cluster.clone(), d.namespace.clone());
    view! {
        <Header d=d.clone()/>
        // Findings (issue 7) go here, above everything else.
        <crate::components::Findings findings=d.findings.clone()/>
        <Exposure d=d.clone()/>
        <Dns dns=d.dns.clone()/>
        <Endpoints d=d.clone() filter/>
        <Pods pods=d.pods.clone() readable=d.pods_readable where_=where_.clone()/>
        <crate::components::metrics::TrafficSection metrics range/>
        <Related related=d.related.clone() where_=where_.clone()/>
        <Events events=d.events.clone() where_/>
        <Kubectl d/>
    }
}

/// "you can't list pods in team-b on prod-eu", where the rows would be.
#[component]
fn Forbidden(what: &'static str, where_: (String, String)) -> impl IntoView {
    view! {
        <p class="forbidden">
            <StatusBadge health=Badge::Unknown text="forbidden"/>
            {format!(" You can't list {what} in {} on {}.", where_.1, where_.0)}
        </p>
    }
}

/// A time: relative text, absolute in the title and `datetime`.
#[component]
fn Ago(when: When) -> impl IntoView {
    let text = if when.ago.is_empty() { when.at.clone() } else { format!("{} ago", when.ago) };
    view! { <time datetime=when.at.clone() title=when.at>{text}</time> }
}

/// A button copying `text` to the clipboard once hydrated; the text beside it stays selectable without it.
#[component]
fn CopyButton(#[prop(into)] text: String, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if copy_to_clipboard(&text) {
                copied.set(true);
                set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <button type="button" class="copy" aria-label=format!("Copy {label}") on:click=on_click>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// `navigator.clipboard.writeText(text)`, through reflection (no extra web-sys features needed).
#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) -> bool {
    use leptos::{wasm_bindgen::JsCast, web_sys::js_sys};
    let get =
        |target: &leptos::wasm_bindgen::JsValue, key: &str| js_sys::Reflect::get(target, &key.into()).ok();
    let Some(clipboard) = get(&window().into(), "navigator").and_then(|n| get(&n, "clipboard")) else {
        return false;
    };
    let Some(write) = get(&clipboard, "writeText").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) else {
        return false;
    };
    write.call1(&clipboard, &text.into()).is_ok()
}

fn freshness_badge(f: &Freshness) -> impl IntoView + use<> {
    let (health, text, title) = match f {
        Freshness::Live => {
            (Badge::Ok, "live".to_owned(), "from the shared caches, which are watching".to_owned())
        }
        Freshness::ReadNow => (Badge::Ok, "read now".to_owned(), "read live from the cluster".to_owned()),
        Freshness::Syncing => {
            (Badge::Unknown, "syncing".to_owned(), "the caches are still listing".to_owned())
        }
        Freshness::Stale { since } => (Badge::Warn, format!("stale since {}", since.ago), since.at.clone()),
        Freshness::Unreachable { since } => {
            (Badge::Bad, format!("unreachable since {}", since.ago), since.at.clone())
        }
    };
    view! {
        <span class="freshness" title=title id="freshness">
            <StatusBadge health text/>
        </span>
    }
}

#[component]
fn Header(d: ServiceDetail) -> impl IntoView {
    let crumbs = format!("{} / {} / ", d.cluster, d.namespace);
    let read = (!d.generated_at.is_empty()).then(|| {
        view! {
            <span class="read-at">
                "read " <time datetime=d.generated_at.clone() title=d.generated_at.clone()>{d.generated_at.clone()}</time>
            </span>
        }
    });
    let nav = SECTIONS
        .iter()
        .map(|(id, title)| view! { <li><a href=format!("#{id}")>{*title}</a></li> })
        .collect_view();
    view! {
        <section class="service-head" aria-label="Service">
            <h1>
                <span class="crumbs mono">{crumbs}</span>
                <span class="mono">{d.name.clone()}</span>
            </h1>
            <p class="verdict" id="verdict">
                <StatusBadge health=badge(d.verdict.health) text=d.verdict.health.label()/>
                <span class="verdict-text">{d.verdict.text.clone()}</span>
                {freshness_badge(&d.freshness)}
                {read}
                <a class="button" href="#kubectl">"Copy as kubectl"</a>
            </p>
            <nav class="section-nav" aria-label="Sections">
                <ul>{nav}</ul>
            </nav>
        </section>
    }
}

fn resolution_cell(p: &ServicePortView) -> impl IntoView + use<> {
    let (mark, text, class) = match &p.resolution {
        TargetPortResolution::Resolved { port, container } => (
            "✓",
            match container {
                Some(c) => format!("{c}:{port}"),
                None => format!("{port} (not declared)"),
            },
            "ok",
        ),
        TargetPortResolution::Mixed { ports } => (
            "▲",
            format!(
                "differs per pod: {}",
                ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ),
            "warn",
        ),
        TargetPortResolution::Unresolved { pods_without, pods } => {
            ("✕", format!("{pods_without} of {pods} pods lack this port"), "bad")
        }
        TargetPortResolution::NotChecked { from_endpoints } => (
            "?",
            match from_endpoints {
                Some(n) => format!("{n} (from EndpointSlices)"),
                None => "not checked: no backing pod visible".to_owned(),
            },
            "unknown",
        ),
    };
    let probed = (!p.probed_by.is_empty()).then(|| format!(" · probed by {}", p.probed_by.join(", ")));
    view! {
        <td class=format!("resolution mono state-{class}")>
            <span aria-hidden="true">{mark}" "</span>
            <span class="visually-hidden">{if class == "ok" { "resolves to " } else { "check: " }}</span>
            {text}
            <span class="muted">{probed}</span>
        </td>
    }
}

#[component]
fn Exposure(d: ServiceDetail) -> impl IntoView {
    let spec = d.spec;
    let ips = if spec.cluster_ips.is_empty() {
        if spec.headless { "None (headless)".to_owned() } else { "-".to_owned() }
    } else {
        spec.cluster_ips.join(", ")
    };
    let families = if spec.ip_families.is_empty() { "-".to_owned() } else { spec.ip_families.join(", ") };
    let families = match &spec.ip_family_policy {
        Some(p) => format!("{families} ({p})"),
        None => families,
    };
    let affinity = match (&spec.session_affinity, spec.session_affinity_timeout) {
        (Some(a), Some(t)) if a != "None" => format!("{a}, timeout {t}s"),
        (Some(a), _) => a.clone(),
        (None, _) => "None".to_owned(),
    };
    let lb = if spec.type_ == "LoadBalancer" {
        let text = if spec.load_balancer_ingress.is_empty() {
            view! {
                <StatusBadge health=Badge::Warn text="pending"/>
                {spec.load_balancer_pending_since.clone().map(|w| view! { " since " <Ago when=w/> })}
            }
            .into_any()
        } else {
            view! { <span class="mono">{spec.load_balancer_ingress.join(", ")}</span> }.into_any()
        };
        Some(view! { <dt>"LoadBalancer"</dt><dd id="lb-status">{text}</dd> })
    } else {
        None
    };
    let external = spec.external_name.clone().map(|e| {
        view! {
            <dt>"externalName"</dt>
            <dd class="mono">{e.clone()}" "<CopyButton text=e label="externalName"/></dd>
        }
    });
    let selector = if spec.selector_text.is_empty() {
        view! { <span class="muted">"none (endpoints managed by hand)"</span> }.into_any()
    } else {
        let s = spec.selector_text.clone();
        view! { <span class="mono">{s.clone()}</span>" "<CopyButton text=s label="selector"/> }.into_any()
    };
    let rows = spec
        .ports
        .iter()
        .map(|p| {
            let name = p.name.clone().unwrap_or_else(|| "-".to_owned());
            view! {
                <tr data-port=p.port>
                    <th scope="row" class="mono">{name}</th>
                    <td class="mono num">{p.port}</td>
                    <td class="mono">{p.target_port.clone()}</td>
                    {resolution_cell(p)}
                    <td class="mono">{p.node_port.map_or_else(|| "-".into(), |n| n.to_string())}</td>
                    <td class="mono">{p.protocol.clone()}</td>
                    <td class="mono">{p.app_protocol.clone().unwrap_or_else(|| "-".into())}</td>
                </tr>
            }
        })
        .collect_view();
    let ports = if spec.ports.is_empty() {
        view! { <p class="muted">"No ports."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="ports">
                    <caption class="visually-hidden">"Service ports and what their targetPort resolves to"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col" class="num">"Port"</th>
                            <th scope="col">"targetPort"</th>
                            <th scope="col">"Container port"</th>
                            <th scope="col">"nodePort"</th>
                            <th scope="col">"Protocol"</th>
                            <th scope="col">"appProtocol"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    view! {
        <section id="exposure" class="svc-section" aria-labelledby="exposure-h">
            <h2 id="exposure-h">"Exposure"</h2>
            <dl class="facts">
                <dt>"Type"</dt>
                <dd id="svc-type">{spec.type_.clone()}</dd>
                <dt>"Cluster IPs"</dt>
                <dd class="mono" id="cluster-ips">{ips}</dd>
                <dt>"IP families"</dt>
                <dd class="mono" id="ip-families">{families}</dd>
                <dt>"Selector"</dt>
                <dd id="selector">{selector}</dd>
                <dt>"Traffic policy"</dt>
                <dd class="mono">
                    {format!(
                        "external {} · internal {}",
                        opt(&spec.external_traffic_policy),
                        opt(&spec.internal_traffic_policy),
                    )}
                </dd>
                <dt>"Session affinity"</dt>
                <dd class="mono" id="affinity">{affinity}</dd>
                <dt>"Traffic distribution"</dt>
                <dd class="mono">{opt(&spec.traffic_distribution)}</dd>
                {lb}
                {external}
                <dt>"Created"</dt>
                <dd>{d.created.map(|w| view! { <Ago when=w/> })}</dd>
            </dl>
            {ports}
        </section>
    }
}

fn dns_kind(k: DnsKind) -> &'static str {
    match k {
        DnsKind::Short => "in the namespace",
        DnsKind::Namespaced => "in the cluster",
        DnsKind::Fqdn => "fully qualified",
        DnsKind::Srv => "SRV",
        DnsKind::Pod => "pod (headless)",
        DnsKind::Cname => "CNAME target",
    }
}

#[component]
fn Dns(dns: Vec<DnsName>) -> impl IntoView {
    let rows = dns
        .into_iter()
        .map(|n| {
            let (key, shown, copied, label) = (n.name.clone(), n.name.clone(), n.name.clone(), n.name);
            view! {
                <li data-dns=key>
                    <span class="dns-kind">{dns_kind(n.kind)}</span>
                    <code class="mono dns-name">{shown}</code>
                    {n.target.map(|t| view! { <span class="muted mono">{format!(" → {t}")}</span> })}
                    " "
                    <CopyButton text=copied label/>
                </li>
            }
        })
        .collect_view();
    view! {
        <section id="dns" class="svc-section" aria-labelledby="dns-h">
            <h2 id="dns-h">"DNS names"</h2>
            <ul class="dns">{rows}</ul>
        </section>
    }
}

#[component]
fn ZoneBar(z: ZoneSummary) -> impl IntoView {
    let pct = (z.ready * 100).checked_div(z.total).unwrap_or(0);
    let state = if z.total > 0 && z.ready == z.total {
        "ok"
    } else if z.ready == 0 {
        "bad"
    } else {
        "warn"
    };
    let label = format!("{}: {}/{} ready", z.zone, z.ready, z.total);
    view! {
        <li class="zone" data-zone=z.zone>
            <span class="mono zone-name">{z.zone.clone()}</span>
            // SVG geometry, not an inline style: the CSP allows no style attributes.
            <svg
                class=format!("bar state-{state}")
                viewBox="0 0 100 10"
                preserveAspectRatio="none"
                role="img"
                aria-label=label
            >
                <rect class="bar-track" x="0" y="0" width="100" height="10"></rect>
                <rect class="bar-fill" x="0" y="0" width=pct.to_string() height="10"></rect>
            </svg>
            <span class="mono zone-count">{format!("{}/{}", z.ready, z.total)}</span>
            {(z.terminating > 0).then(|| view! { <span class="muted">{format!(" ({} terminating)", z.terminating)}</span> })}
        </li>
    }
}

fn yes_no(v: bool, yes: &'static str, no: &'static str) -> impl IntoView + use<> {
    let (class, text, icon) = if v { ("state-ok", yes, "●") } else { ("state-bad", no, "✕") };
    view! { <span class=class><span aria-hidden="true">{icon}" "</span>{text}</span> }
}

#[component]
fn Endpoints(d: ServiceDetail, filter: Memo<EndpointFilter>) -> impl IntoView {
    let where_ = (d.cluster.clone(), d.namespace.clone());
    if !d.endpoints_readable {
        return view! {
            <section id="endpoints" class="svc-section" aria-labelledby="endpoints-h">
                <h2 id="endpoints-h">"Endpoints"</h2>
                <Forbidden what="EndpointSlices" where_/>
            </section>
        }
        .into_any();
    }
    let zones = d.zones.into_iter().map(|z| view! { <ZoneBar z/> }).collect_view();
    let slices = d
        .slices
        .iter()
        .map(|s| format!("{} ({}, {} endpoints, {})", s.name, s.address_type, s.endpoints, s.ports.join(" ")))
        .collect::<Vec<_>>()
        .join(" · ");
    let not_ready = d.endpoints.iter().filter(|e| !e.ready).count();
    let total = d.endpoints.len();
    let endpoints = d.endpoints;
    let rows = move || {
        let f = filter.get();
        endpoints
            .iter()
            .filter(|e| f.keeps(e))
            .map(|e| {
                let hints = [e.hint_zones.join(","), e.hint_nodes.join(",")]
                    .into_iter()
                    .filter(|h| !h.is_empty())
                    .collect::<Vec<_>>()
                    .join(" / ");
                view! {
                    <tr data-endpoint=e.addresses.join(",") data-ready=e.ready.to_string()>
                        <th scope="row" class="mono">{e.addresses.join(", ")}</th>
                        <td>{yes_no(e.ready, "ready", "not ready")}</td>
                        <td>{yes_no(e.serving, "serving", "not serving")}</td>
                        <td>{if e.terminating { "terminating" } else { "-" }}</td>
                        <td class="mono">{e.node.clone().unwrap_or_else(|| "-".into())}</td>
                        <td class="mono">{e.zone.clone().unwrap_or_else(|| "-".into())}</td>
                        <td class="mono">{e.pod.clone().unwrap_or_else(|| "-".into())}</td>
                        <td class="mono">{if hints.is_empty() { "-".to_owned() } else { hints }}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let tab = move |value: EndpointFilter, href: &'static str, text: String| {
        view! {
            <a href=href aria-current=move || (filter.get() == value).then_some("true")>{text}</a>
        }
    };
    let empty = (total == 0).then(|| view! { <p class="muted">"No endpoints."</p> });
    view! {
        <section id="endpoints" class="svc-section" aria-labelledby="endpoints-h">
            <h2 id="endpoints-h">"Endpoints"</h2>
            <ul class="zones" aria-label="Ready endpoints per zone">{zones}</ul>
            <p class="muted mono slices">{format!("slices: {slices}")}</p>
            <nav class="filter" aria-label="Endpoint filter">
                {tab(EndpointFilter::All, "?#endpoints", format!("all ({total})"))}
                " · "
                {tab(EndpointFilter::NotReady, "?endpoints=not-ready#endpoints", format!("not ready ({not_ready})"))}
            </nav>
            {empty}
            <div class="table-wrap">
                <table class="endpoints">
                    <caption class="visually-hidden">"Endpoints of the Service's EndpointSlices"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Address"</th>
                            <th scope="col">"Ready"</th>
                            <th scope="col">"Serving"</th>
                            <th scope="col">"Terminating"</th>
                            <th scope="col">"Node"</th>
                            <th scope="col">"Zone"</th>
                            <th scope="col">"Pod"</th>
                            <th scope="col">"Hints"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

fn probe_text(p: &ProbeView) -> String {
    let port = match (&p.port, p.resolved_port, &p.port_name) {
        (None, _, _) => String::new(),
        (Some(written), Some(n), _) if *written != n.to_string() => format!(" :{written}→{n}"),
        (Some(_), Some(n), Some(name)) => format!(" :{n} ({name})"),
        (Some(_), Some(n), None) => format!(" :{n}"),
        (Some(written), None, _) => format!(" :{written} (no such container port)"),
    };
    let what = match p.kind.as_str() {
        "httpGet" => {
            let scheme =
                p.scheme.as_deref().filter(|s| *s != "HTTP").map(|s| format!(" {s}")).unwrap_or_default();
            format!("httpGet{scheme}{port} {}", p.path.as_deref().unwrap_or("/"))
        }
        "tcpSocket" => format!("tcpSocket{port}"),
        "grpc" => match &p.grpc_service {
            Some(s) => format!("grpc{port} service {s}"),
            None => format!("grpc{port}"),
        },
        "exec" => format!("exec {}", p.command.join(" ")),
        other => other.to_owned(),
    };
    let host = p.host.as_ref().map(|h| format!(" host {h}")).unwrap_or_default();
    format!("{what}{host}")
}

fn probe_timing(p: &ProbeView) -> String {
    format!(
        "delay {}s · every {}s · timeout {}s · success {} · failure {}",
        p.initial_delay_seconds,
        p.period_seconds,
        p.timeout_seconds,
        p.success_threshold,
        p.failure_threshold
    )
}

#[component]
fn Container(c: ContainerView) -> impl IntoView {
    let probe = |which: &'static str, p: Option<ProbeView>| match p {
        Some(p) => {
            let problem = p.port_problem();
            view! {
                <li data-probe=which data-kind=p.kind class:state-bad=problem>
                    <span class="probe-which">{which}</span>
                    <code class="mono">{probe_text(&p)}</code>
                    {problem.then(|| view! { <span class="state-bad">" ✕ port not declared"</span> })}
                    <span class="muted mono probe-timing">{probe_timing(&p)}</span>
                </li>
            }
            .into_any()
        }
        None => view! {
            <li data-probe=which data-kind="none">
                <span class="probe-which">{which}</span>
                <span class="muted">"none"</span>
            </li>
        }
        .into_any(),
    };
    let ports = if c.ports.is_empty() { "no ports".to_owned() } else { c.ports.join(" ") };
    view! {
        <div class="container" data-container=c.name>
            <p>
                <span class="mono container-name">{c.name.clone()}</span>
                " "
                <span class="mono muted">{ports}</span>
            </p>
            <ul class="probes">
                {probe("readiness", c.readiness)}
                {probe("liveness", c.liveness)}
                {probe("startup", c.startup)}
            </ul>
        </div>
    }
}

fn event_line(e: EventView) -> impl IntoView {
    let warn = e.type_ == "Warning";
    view! {
        <li class:event-warning=warn>
            <span class=if warn { "state-warn" } else { "muted" }>{e.type_.clone()}</span>
            " "
            <strong>{e.reason.clone()}</strong>
            " "
            <span class="mono muted">{e.object.clone()}</span>
            {(e.count > 1).then(|| format!(" ×{}", e.count))}
            " "
            {e.last_seen.map(|w| view! { <Ago when=w/> })}
            <span class="event-message">{e.message}</span>
        </li>
    }
}

#[component]
fn Pods(pods: Vec<BackingPod>, readable: bool, where_: (String, String)) -> impl IntoView {
    let body = if !readable {
        view! { <Forbidden what="pods" where_/> }.into_any()
    } else if pods.is_empty() {
        view! { <p class="muted">"The selector picks no pod."</p> }.into_any()
    } else {
        pods.into_iter()
            .map(|p| {
                let ready = if p.ready { Badge::Ok } else { Badge::Bad };
                let containers = p.containers.into_iter().map(|c| view! { <Container c/> }).collect_view();
                let events = (!p.events.is_empty()).then(|| {
                    let lines = p.events.into_iter().map(event_line).collect_view();
                    view! { <ul class="events pod-events" aria-label="Recent Unhealthy and BackOff events">{lines}</ul> }
                });
                view! {
                    <article class="pod" id=format!("pod-{}", p.name) data-pod=p.name.clone() aria-label=format!("Pod {}", p.name)>
                        <p class="pod-line">
                            <span class="mono pod-name">{p.name.clone()}</span>
                            <StatusBadge health=ready text=if p.ready { "ready" } else { "not ready" }/>
                            <span>{p.phase.clone().unwrap_or_else(|| "-".into())}</span>
                            <span>{format!("restarts {}", p.restarts)}</span>
                            <span class="mono">{p.node.clone().unwrap_or_else(|| "-".into())}</span>
                            <span class="mono">{p.zone.clone().unwrap_or_else(|| "-".into())}</span>
                            <span class="mono">{p.pod_ip.clone().unwrap_or_default()}</span>
                            {p.created.map(|w| view! { <span>"age " <Ago when=w/></span> })}
                            <span class="muted mono">{p.owner.clone().unwrap_or_default()}</span>
                        </p>
                        {containers}
                        {events}
                    </article>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <section id="pods" class="svc-section" aria-labelledby="pods-h">
            <h2 id="pods-h">"Pods"</h2>
            {body}
        </section>
    }
}

fn route_items(routes: Vec<RouteView>) -> impl IntoView {
    routes
        .into_iter()
        .map(|r| {
            let rules = r
                .rules
                .into_iter()
                .map(|rule| {
                    let port = rule.port.clone().map(|p| format!(" → port {p}")).unwrap_or_default();
                    let weight = rule.weight.map(|w| format!(" weight {w}")).unwrap_or_default();
                    view! {
                        <li>
                            <code class="mono">{format!("{}{port}{weight}", rule.matches)}</code>
                            {(!rule.port_found).then(|| view! {
                                <span class="state-bad">" ✕ the Service has no such port"</span>
                            })}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <li id=format!("{}-{}", r.kind.to_lowercase(), r.name) data-route=format!("{}/{}/{}", r.kind, r.namespace, r.name)>
                    <span>{r.kind.clone()}</span>" "
                    <span class="mono">{format!("{}/{}", r.namespace, r.name)}</span>
                    {r.via.map(|v| view! { <span class="muted">{format!(" via {v}")}</span> })}
                    <ul>{rules}</ul>
                </li>
            }
        })
        .collect_view()
}

#[component]
fn Related(related: RelatedView, where_: (String, String)) -> impl IntoView {
    let w = where_;
    let forbidden = move |what: &'static str| view! { <Forbidden what where_=w.clone()/> }.into_any();
    let none = |text: &'static str| view! { <p class="muted">{text}</p> }.into_any();
    let routes = match (related.ingresses, related.http_routes) {
        (None, None) => forbidden("Ingresses or HTTPRoutes"),
        (i, h) => {
            let missing: Vec<&str> =
                [i.is_none().then_some("Ingresses"), h.is_none().then_some("HTTPRoutes")]
                    .into_iter()
                    .flatten()
                    .collect();
            let all: Vec<RouteView> = i.into_iter().flatten().chain(h.into_iter().flatten()).collect();
            let note = (!missing.is_empty()).then(
                || view! { <p class="forbidden">{format!("You can't list {}.", missing.join(" or "))}</p> },
            );
            if all.is_empty() {
                view! { {note} <p class="muted">"No Ingress or HTTPRoute sends to this Service."</p> }
                    .into_any()
            } else {
                view! { {note} <ul class="related-list">{route_items(all)}</ul> }.into_any()
            }
        }
    };
    let workloads = if related.workloads.is_empty() {
        none("No owning workload (no backing pod visible).")
    } else {
        let items = related
            .workloads
            .into_iter()
            .map(|w| {
                view! {
                    <li id=format!("workload-{}", w.name) data-workload=format!("{}/{}", w.kind, w.name)>
                        <span>{w.kind.clone()}</span>" "
                        <span class="mono">{w.name.clone()}</span>
                        {w.replicas.map(|r| format!(" ({r} ready)"))}
                        {format!(" · {} backing pods", w.pods)}
                        {w.note.map(|n| view! { <span class="muted">{format!(" · {n}")}</span> })}
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="related-list">{items}</ul> }.into_any()
    };
    let hpas = match related.hpas {
        None => forbidden("HorizontalPodAutoscalers"),
        Some(h) if h.is_empty() => none("No HorizontalPodAutoscaler scales these pods."),
        Some(h) => {
            let items = h
            .into_iter()
            .map(|h| {
                let current = h.current.map_or_else(|| "?".to_owned(), |c| c.to_string());
                view! {
                    <li data-hpa=h.name.clone() id=format!("hpa-{}", h.name)>
                        "HPA "<span class="mono">{h.name.clone()}</span>
                        {format!(" → {} · min {} · max {} · current {current}", h.target, h.min, h.max)}
                        {h.desired.map(|d| format!(" · desired {d}"))}
                        <span class="mono">{format!(" · {}", h.metrics.join(", "))}</span>
                        {(!h.problems.is_empty()).then(|| view! {
                            <span class="state-warn hpa-problems">{format!(" ▲ {}", h.problems.join("; "))}</span>
                        })}
                    </li>
                }
            })
            .collect_view();
            view! { <ul class="related-list">{items}</ul> }.into_any()
        }
    };
    let pdbs = match related.pdbs {
        None => forbidden("PodDisruptionBudgets"),
        Some(p) if p.is_empty() => none("No PodDisruptionBudget covers these pods."),
        Some(p) => {
            let items = p
            .into_iter()
            .map(|p| {
                let allows = match p.disruptions_allowed {
                    0 => view! { <span class="state-warn">" allows no disruption now"</span> }.into_any(),
                    1 => view! { <span class="state-ok">" allows 1 disruption now"</span> }.into_any(),
                    n => view! { <span class="state-ok">{format!(" allows {n} disruptions now")}</span> }.into_any(),
                };
                view! {
                    <li data-pdb=p.name.clone() id=format!("pdb-{}", p.name)>
                        "PDB "<span class="mono">{p.name.clone()}</span>
                        {format!(
                            " · {} · {} healthy of {} expected, {} needed ·",
                            p.budget, p.current_healthy, p.expected_pods, p.desired_healthy,
                        )}
                        {allows}
                        <span class="muted mono">{format!(" · selector {} · covers {} pods", p.selector, p.covers)}</span>
                    </li>
                }
            })
            .collect_view();
            view! { <ul class="related-list">{items}</ul> }.into_any()
        }
    };
    let policies = match related.network_policies {
        None => forbidden("NetworkPolicies"),
        Some(n) if n.is_empty() => none("No NetworkPolicy selects these pods: all traffic is allowed."),
        Some(n) => {
            let items = n
            .into_iter()
            .map(|p| {
                let selector = if p.pod_selector.is_empty() { "all pods".to_owned() } else { p.pod_selector.clone() };
                let rules: Vec<String> = p.ingress.iter().chain(&p.egress).cloned().collect();
                let denies: Vec<&str> = p
                    .policy_types
                    .iter()
                    .map(String::as_str)
                    .filter(|t| match *t {
                        "Ingress" => p.ingress.is_empty(),
                        "Egress" => p.egress.is_empty(),
                        _ => false,
                    })
                    .collect();
                let rules = rules.into_iter().map(|r| view! { <li class="mono">{r}</li> }).collect_view();
                view! {
                    <li id=format!("netpol-{}", p.name) data-netpol=p.name.clone()>
                        "NetworkPolicy "<span class="mono">{p.name.clone()}</span>
                        <span class="muted">{format!(" · {} · selects {} ({} pods)", p.policy_types.join("+"), selector, p.selects)}</span>
                        {(!denies.is_empty()).then(|| view! {
                            <span class="state-warn">{format!(" ▲ denies all {}", denies.join(" and ").to_lowercase())}</span>
                        })}
                        <ul>{rules}</ul>
                    </li>
                }
            })
            .collect_view();
            view! { <ul class="related-list">{items}</ul> }.into_any()
        }
    };
    view! {
        <section id="related" class="svc-section" aria-labelledby="related-h">
            <h2 id="related-h">"Related"</h2>
            <h3>"Routed from"</h3>
            <div id="related-routes">{routes}</div>
            <h3>"Workload"</h3>
            <div id="related-workloads">{workloads}</div>
            <h3>"Autoscaling and disruption budget"</h3>
            <div id="related-hpa">{hpas}</div>
            <div id="related-pdb">{pdbs}</div>
            <h3>"NetworkPolicies"</h3>
            <div id="related-netpol">{policies}</div>
        </section>
    }
}

#[component]
fn Events(events: Option<Vec<EventView>>, where_: (String, String)) -> impl IntoView {
    let body = match events {
        None => view! { <Forbidden what="events" where_/> }.into_any(),
        Some(e) if e.is_empty() => {
            view! { <p class="muted">"No recent events (the last hour)."</p> }.into_any()
        }
        Some(e) => {
            view! { <ul class="events">{e.into_iter().map(event_line).collect_view()}</ul> }.into_any()
        }
    };
    view! {
        <section id="events" class="svc-section" aria-labelledby="events-h">
            <h2 id="events-h">"Events"</h2>
            {body}
        </section>
    }
}

#[component]
fn Kubectl(d: ServiceDetail) -> impl IntoView {
    let all = d.kubectl.iter().map(|k| k.command.clone()).collect::<Vec<_>>().join("\n");
    let rows = d
        .kubectl
        .into_iter()
        .map(|k| {
            view! {
                <li>
                    <span class="kubectl-label">{k.label.clone()}</span>
                    <code class="mono">{k.command.clone()}</code>
                    " "
                    <CopyButton text=k.command label=k.label/>
                </li>
            }
        })
        .collect_view();
    view! {
        <section id="kubectl" class="svc-section" aria-labelledby="kubectl-h">
            <h2 id="kubectl-h">"kubectl"</h2>
            <p><CopyButton text=all label="all kubectl commands"/>" the same data from a terminal:"</p>
            <ul class="kubectl">{rows}</ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_filter_comes_from_the_url() {
        assert_eq!(EndpointFilter::parse(Some("not-ready")), EndpointFilter::NotReady);
        assert_eq!(EndpointFilter::parse(Some("bogus")), EndpointFilter::All);
        assert_eq!(EndpointFilter::parse(None), EndpointFilter::All);
    }

    #[test]
    fn probes_read_like_the_spec() {
        let http = ProbeView {
            kind: "httpGet".into(),
            port: Some("http".into()),
            resolved_port: Some(8080),
            port_name: Some("http".into()),
            path: Some("/healthz".into()),
            period_seconds: 10,
            failure_threshold: 3,
            timeout_seconds: 1,
            success_threshold: 1,
            ..Default::default()
        };
        assert_eq!(probe_text(&http), "httpGet :http→8080 /healthz");
        assert_eq!(probe_timing(&http), "delay 0s · every 10s · timeout 1s · success 1 · failure 3");
        let tcp = ProbeView {
            kind: "tcpSocket".into(),
            port: Some("8080".into()),
            resolved_port: Some(8080),
            port_name: Some("http".into()),
            ..Default::default()
        };
        assert_eq!(probe_text(&tcp), "tcpSocket :8080 (http)");
        let bad = ProbeView { kind: "tcpSocket".into(), port: Some("web".into()), ..Default::default() };
        assert!(bad.port_problem());
        assert_eq!(probe_text(&bad), "tcpSocket :web (no such container port)");
        let exec = ProbeView {
            kind: "exec".into(),
            command: vec!["/app/healthcheck".into(), "--ready".into()],
            ..Default::default()
        };
        assert_eq!(probe_text(&exec), "exec /app/healthcheck --ready");
    }
}
