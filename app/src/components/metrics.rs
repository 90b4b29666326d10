//! Traffic and resource metrics: the Service page's Traffic section, its charts and bars, and the fleet list's
//! rate column.
//!
//! Charts are inline SVG rendered on the server, so they work without JavaScript; every point carries a
//! `<title>` (its time and value) that the browser shows on hover. The metrics load in their own `Resource`
//! under their own `Suspense`, so a slow Prometheus never holds up the rest of a page.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::{
    api::{fleet_rates, service_metrics},
    components::ErrorTemplate,
    model::metrics::{
        Doctor, FleetRates, MetricsRange, Panel, PodResources, Series, ServiceMetrics, Traffic, format_bytes,
        format_cores, format_percent, format_rate, format_seconds,
    },
};

/// What a chart's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Requests per second.
    Rate,
    /// A share 0..1, shown in percent.
    Share,
    /// Seconds, shown in ms or s.
    Seconds,
    /// CPU cores.
    Cores,
    /// Bytes.
    Bytes,
}

impl Unit {
    /// `value` for people.
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Rate => format_rate(value),
            Self::Share => format_percent(value),
            Self::Seconds => format_seconds(value),
            Self::Cores => format_cores(value),
            Self::Bytes => format_bytes(value),
        }
    }
}

/// `HH:MM` UTC of unix seconds.
pub fn clock(t: i64) -> String {
    let day = t.rem_euclid(86_400);
    format!("{:02}:{:02}", day / 3600, (day % 3600) / 60)
}

/// Geometry of the charts (SVG user units).
const W: f64 = 640.0;
const H: f64 = 180.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// A "nice" top for the y axis: 1, 2 or 5 times a power of ten, at least `max`.
pub fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * magnitude >= max {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

/// One SVG point `(x, y)` for `(t, v)`. Pure.
pub fn project(t: i64, v: f64, start: i64, end: i64, top: f64) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss)] // Unix seconds are far below 2^52.
    let span = (end - start).max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let x = LEFT + (t - start) as f64 / span * (W - LEFT - RIGHT);
    let y = TOP + (1.0 - (v / top).clamp(0.0, 1.0)) * (H - TOP - BOTTOM);
    (x, y)
}

/// A line chart with axes, units, a legend with the latest values, and a `<title>` on every point.
#[component]
pub fn LineChart(
    /// The chart's name, e.g. "Request rate".
    title: &'static str,
    /// What the values are.
    unit: Unit,
    /// The lines.
    series: Vec<Series>,
    /// Left edge, unix seconds.
    start: i64,
    /// Right edge, unix seconds.
    end: i64,
    /// An id for the chart (for tests and links).
    id: &'static str,
) -> impl IntoView {
    let max = series.iter().flat_map(|s| s.points.iter().map(|(_, v)| *v)).fold(0.0_f64, f64::max);
    let top = nice_max(max);
    let latest: Vec<String> = series
        .iter()
        .map(|s| format!("{} {}", s.label, s.last().map_or_else(|| "–".to_owned(), |v| unit.format(v))))
        .collect();
    let summary = format!("{title}, {} to {} UTC: {}", clock(start), clock(end), latest.join(", "));
    let aria = summary.clone();
    let empty = series.iter().all(|s| s.points.is_empty());
    let grid = [0.0, 0.5, 1.0]
        .into_iter()
        .map(|f| {
            let (_, y) = project(start, top * f, start, end, top);
            view! {
                <line class="grid" x1=LEFT x2=W - RIGHT y1=y y2=y/>
                <text class="axis" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{unit.format(top * f)}</text>
            }
        })
        .collect_view();
    let lines = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let points: String = s
                .points
                .iter()
                .map(|(t, v)| {
                    let (x, y) = project(*t, *v, start, end, top);
                    format!("{x:.1},{y:.1}")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let dots = s
                .points
                .iter()
                .map(|(t, v)| {
                    let (x, y) = project(*t, *v, start, end, top);
                    let tip = format!("{} UTC · {} {}", clock(*t), s.label, unit.format(*v));
                    view! {
                        <circle class="pt" cx=format!("{x:.1}") cy=format!("{y:.1}") r="4">
                            <title>{tip}</title>
                        </circle>
                    }
                })
                .collect_view();
            view! {
                <g class=format!("series series-{i}") data-series=s.label.clone()>
                    <polyline points=points fill="none"/>
                    {dots}
                </g>
            }
        })
        .collect_view();
    let legend = series
        .iter()
        .zip(latest)
        .enumerate()
        .map(|(i, (_, text))| view! { <li class=format!("series-{i}")>{text}</li> })
        .collect_view();
    view! {
        <figure class="chart" id=id data-chart=id>
            <figcaption>
                <strong>{title}</strong>
                <ul class="legend">{legend}</ul>
            </figcaption>
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=aria preserveAspectRatio="none">
                <title>{summary}</title>
                {grid}
                <line class="axis-line" x1=LEFT x2=LEFT y1=TOP y2=H - BOTTOM/>
                <text class="axis" x=LEFT y=H - 6.0>{clock(start)}</text>
                <text class="axis" x=W - RIGHT y=H - 6.0 text-anchor="end">{format!("{} UTC", clock(end))}</text>
                {lines}
                {empty.then(|| view! {
                    <text class="axis" x=W / 2.0 y=H / 2.0 text-anchor="middle">"No data in this range"</text>
                })}
            </svg>
        </figure>
    }
}

/// Why a panel is empty and what to configure, in place of the panel.
#[component]
pub fn DoctorNote(
    /// The diagnosis.
    doctor: Doctor,
) -> impl IntoView {
    let state = format!("{:?}", doctor.state);
    view! {
        <div class="doctor" role="status" data-doctor=state>
            <p><strong>{doctor.state.title()}</strong>": "{doctor.message}</p>
            <p class="fix">"What to do: "{doctor.fix}</p>
        </div>
    }
}

/// The range links: `?range=15m|1h|6h|24h` on the current page.
#[component]
fn RangePicker(current: MetricsRange) -> impl IntoView {
    let path = use_location().pathname.get_untracked();
    let links = MetricsRange::ALL
        .into_iter()
        .map(|r| {
            let href = format!("{path}?range={}#traffic", r.as_str());
            let aria = (r == current).then_some("page");
            view! { <a href=href aria-current=aria class="range">{r.as_str()}</a> }
        })
        .collect_view();
    view! { <nav class="ranges" aria-label="Time range">{links}</nav> }
}

/// The Service page's metrics for one Service: one resource per page and `?range=`, created by the page (not
/// by [`TrafficSection`]), so that the section, re-rendered on every live update of the page, neither fetches
/// again nor flashes "Loading".
pub type ServiceMetricsResource = Resource<Result<ServiceMetrics, crate::error::AppError>, crate::wire::Wire>;

/// The metrics of `key` (cluster, namespace, name) over the range in the URL (`?range=`, default 15m).
pub fn use_service_metrics(
    key: Memo<(String, String, String)>,
) -> (ServiceMetricsResource, Memo<MetricsRange>) {
    let query = use_query_map();
    let range = Memo::new(move |_| {
        query.with(|q| q.get("range").and_then(|r| MetricsRange::parse(&r)).unwrap_or_default())
    });
    let metrics = crate::wire::resource(
        move || (key.get(), range.get()),
        |((cluster, namespace, name), range)| {
            service_metrics(cluster, namespace, name, range.as_str().to_owned())
        },
    );
    (metrics, range)
}

/// The Traffic section of the Service page: rate, 5xx share and latency charts, and each backing pod's CPU
/// and memory against its requests and limits.
#[component]
pub fn TrafficSection(
    /// The page's metrics ([`use_service_metrics`]).
    metrics: ServiceMetricsResource,
    /// The range shown.
    range: Memo<MetricsRange>,
) -> impl IntoView {
    view! {
        <section id="traffic" class="traffic" aria-labelledby="traffic-title">
            <h2 id="traffic-title">"Traffic"</h2>
            {move || view! { <RangePicker current=range.get()/> }}
            <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading metrics…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                    {move || Suspend::new(async move { metrics.await.map(|m| view! { <MetricsBody m/> }) })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn MetricsBody(m: ServiceMetrics) -> impl IntoView {
    let start = m.end - m.range.seconds();
    let end = m.end;
    let traffic = match m.traffic {
        Panel::Ok { data } => view! { <TrafficCharts t=data start end/> }.into_any(),
        Panel::Doctor { doctor } => view! { <DoctorNote doctor/> }.into_any(),
    };
    let resources = match m.resources {
        Panel::Ok { data } if data.is_empty() => {
            view! { <p class="empty">"No backing pods to show."</p> }.into_any()
        }
        Panel::Ok { data } => view! { <PodResourceTable pods=data/> }.into_any(),
        Panel::Doctor { doctor } => view! { <DoctorNote doctor/> }.into_any(),
    };
    view! {
        <div class="traffic-panel" data-range=m.range.as_str()>{traffic}</div>
        <h3>"Pods: CPU and memory"</h3>
        <div class="resources-panel">{resources}</div>
    }
}

#[component]
fn TrafficCharts(t: Traffic, start: i64, end: i64) -> impl IntoView {
    let headline = format!(
        "rate {} · errors {} · p99 {}",
        t.rate.last().map_or_else(|| "–".to_owned(), format_rate),
        t.error_share.last().map_or_else(|| "–".to_owned(), format_percent),
        t.latency.get(2).and_then(Series::last).map_or_else(|| "–".to_owned(), format_seconds),
    );
    let queries = t
        .queries
        .into_iter()
        .map(|(label, q)| view! { <dt>{label}</dt><dd><code>{q}</code></dd> })
        .collect_view();
    view! {
        <p class="headline" data-testid="traffic-headline">{headline}" "<span class="source">{format!("({})", t.source)}</span></p>
        <div class="charts">
            <LineChart id="chart-rate" title="Request rate" unit=Unit::Rate series=vec![t.rate] start end/>
            <LineChart id="chart-errors" title="Error rate (5xx share)" unit=Unit::Share series=vec![t.error_share] start end/>
            <LineChart id="chart-latency" title="Latency" unit=Unit::Seconds series=t.latency start end/>
        </div>
        <details class="promql">
            <summary>"PromQL sent"</summary>
            <dl>{queries}</dl>
        </details>
    }
}

/// Usage against request and limit as a bar: SVG, so it needs no CSS to be read.
#[component]
pub fn UsageBar(
    /// What it is: "CPU" or "Memory".
    what: &'static str,
    /// Current usage.
    used: Option<f64>,
    /// The request.
    request: Option<f64>,
    /// The limit.
    limit: Option<f64>,
    /// Units.
    unit: Unit,
) -> impl IntoView {
    let fmt = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |v| unit.format(v));
    let text = format!("{} used · request {} · limit {}", fmt(used), fmt(request), fmt(limit));
    let scale = [used, request, limit].into_iter().flatten().fold(0.0_f64, f64::max) * 1.15;
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let x = |v: f64| (v / scale * 200.0).clamp(0.0, 200.0);
    let level = match (used, request, limit) {
        (Some(u), _, Some(l)) if u >= 0.9 * l => "bad",
        (Some(u), Some(r), _) if u > r => "warn",
        _ => "ok",
    };
    let state = match level {
        "bad" => " · at or over 90% of the limit",
        "warn" => " · over the request",
        _ => "",
    };
    let text = format!("{text}{state}");
    let label = format!("{what}: {text}");
    let aria = label.clone();
    view! {
        <div class="usage" data-level=level>
            <svg viewBox="0 0 200 14" width="200" height="14" role="img" aria-label=aria>
                <title>{label}</title>
                <rect class="track" x="0" y="2" width="200" height="10"/>
                {used.map(|u| view! { <rect class=format!("used {level}") x="0" y="2" width=format!("{:.1}", x(u)) height="10"/> })}
                {request.map(|r| view! { <line class="request" x1=x(r) x2=x(r) y1="0" y2="14"/> })}
                {limit.map(|l| view! { <line class="limit" x1=x(l) x2=x(l) y1="0" y2="14"/> })}
            </svg>
            <span class="usage-text">{text}</span>
        </div>
    }
}

#[component]
fn PodResourceTable(pods: Vec<PodResources>) -> impl IntoView {
    let rows = pods
        .into_iter()
        .map(|p| {
            let pod = p.pod.clone();
            view! {
                <tr data-pod=pod>
                    <th scope="row" class="mono">{p.pod}</th>
                    <td class="num">{p.restarts}</td>
                    <td><UsageBar what="CPU" used=p.cpu.last() request=p.cpu_request limit=p.cpu_limit unit=Unit::Cores/></td>
                    <td><UsageBar what="Memory" used=p.memory.last() request=p.memory_request limit=p.memory_limit unit=Unit::Bytes/></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="pod-resources">
                <caption class="visually-hidden">"CPU and memory of each backing pod against its requests and limits"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Pod"</th>
                        <th scope="col" class="num">"Restarts"</th>
                        <th scope="col">"CPU (bar: used; ticks: request, limit)"</th>
                        <th scope="col">"Memory"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Starts loading the fleet list's rates (one query per cluster) and provides them to the [`RateCell`]s.
/// Loaded in the browser only, after hydration, into a plain signal (not a resource): the list's own
/// `Suspense` never waits for Prometheus, on the server or in the browser, and the server-rendered cells ("…")
/// match what hydration expects.
pub fn provide_fleet_rates() {
    let rates = RwSignal::new(None::<Result<FleetRates, crate::error::AppError>>);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            rates.set(Some(fleet_rates().await));
        });
    });
    provide_context(FleetRatesContext(rates));
}

/// The rates in context: `None` until they arrive.
#[derive(Clone, Copy)]
pub struct FleetRatesContext(RwSignal<Option<Result<FleetRates, crate::error::AppError>>>);

/// [`RateCell`] as a plain function, for tables built outside `view!`.
pub fn rate_cell(namespace: String, name: String) -> impl IntoView {
    view! { <RateCell namespace name/> }
}

/// The list's rate column: current rate and 5xx share of `namespace/name`, summed over its clusters. Plain
/// reactive text (no `Suspense` per cell): "…" until the rates arrive, "–" without data.
#[component]
pub fn RateCell(
    /// Namespace.
    namespace: String,
    /// Service.
    name: String,
) -> impl IntoView {
    let rates = use_context::<FleetRatesContext>().map(|c| c.0);
    let value = move || -> Result<Option<(f64, f64)>, ()> {
        let Some(rates) = rates else { return Err(()) };
        match &*rates.read() {
            None => Ok(None),
            Some(Ok(r)) => Ok(r.of(&namespace, &name)),
            Some(Err(_)) => Err(()),
        }
    };
    let value = Memo::new(move |_| value());
    let main = move || match value.get() {
        Ok(None) => "…".to_owned(),
        Ok(Some((rate, _))) => format_rate(rate),
        Err(()) => "–".to_owned(),
    };
    let share = move || match value.get() {
        Ok(Some((rate, share))) if rate > 0.0 => format_percent(share),
        _ => String::new(),
    };
    let data = move || match value.get() {
        Ok(Some((rate, _))) => format!("{rate:.3}"),
        _ => String::new(),
    };
    view! {
        <span class="rate" data-rate=data title="requests per second and 5xx share over 5 min, all clusters">
            {main}" "<span class="err">{share}</span>
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_and_projection() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(0.18), 0.2);
        assert_eq!(nice_max(0.001), 0.001);
        let (x0, y0) = project(100, 0.0, 100, 200, 10.0);
        let (x1, y1) = project(200, 10.0, 100, 200, 10.0);
        assert_eq!((x0, y0), (LEFT, H - BOTTOM));
        assert_eq!((x1, y1), (W - RIGHT, TOP));
        assert_eq!(clock(3600 * 25 + 61), "01:01");
    }
}
