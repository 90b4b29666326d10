use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::{
    api::list_services,
    components::{ErrorTemplate, Health as Badge, StatusBadge},
    live::{LiveIndicator, LiveScope, use_live},
    model::services::{
        Facet, Health, ServiceFacets, ServiceListPage, ServiceListRequest, ServiceListRow, SortColumn,
    },
};

/// The list's request as the URL carries it: `?q=&sort=&desc=1&offset=&cluster=&namespace=&type=&health=`.
/// Unknown sort/paging values fall back to the defaults, so a hand-edited link still opens; the filters are
/// passed on as they are and checked by the server (a bad one is a 400 that says why).
fn request_from(get: impl Fn(&str) -> Option<String>) -> ServiceListRequest {
    ServiceListRequest {
        q: get("q").unwrap_or_default(),
        sort: get("sort").and_then(|s| SortColumn::parse(&s)).unwrap_or_default(),
        desc: get("desc").is_some_and(|d| d == "1" || d == "true"),
        offset: get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
        limit: get("limit").and_then(|l| l.parse().ok()).unwrap_or(ServiceListRequest::DEFAULT_LIMIT),
        cluster: get("cluster").unwrap_or_default(),
        namespace: get("namespace").unwrap_or_default(),
        type_: get("type").unwrap_or_default(),
        health: get("health").unwrap_or_default(),
    }
}

/// The URL of `request`, leaving out defaults so links stay short and stable.
fn href(request: &ServiceListRequest) -> String {
    let mut params: Vec<(&str, String)> = Vec::new();
    if !request.q.is_empty() {
        params.push(("q", request.q.clone()));
    }
    for (key, value) in [
        ("cluster", &request.cluster),
        ("namespace", &request.namespace),
        ("type", &request.type_),
        ("health", &request.health),
    ] {
        if !value.is_empty() {
            params.push((key, value.clone()));
        }
    }
    if request.sort != SortColumn::default() {
        params.push(("sort", request.sort.as_str().to_owned()));
    }
    if request.desc {
        params.push(("desc", "1".to_owned()));
    }
    if request.offset > 0 {
        params.push(("offset", request.offset.to_string()));
    }
    if request.limit != ServiceListRequest::DEFAULT_LIMIT {
        params.push(("limit", request.limit.to_string()));
    }
    super::with_query("/services", params)
}

fn badge(health: Health) -> Badge {
    match health {
        Health::Serving => Badge::Ok,
        Health::Degraded | Health::Pending => Badge::Warn,
        Health::NotServing => Badge::Bad,
        Health::Unknown | Health::External => Badge::Unknown,
    }
}

/// `/services`: every Service the signed-in person may list, across the fleet.
#[component]
pub fn ServicesPage() -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| query.with(|q| request_from(|k| q.get(k))));
    // Live: the rows' Services and their EndpointSlices (ready/total) anywhere in the fleet. Each tick
    // refetches through `list_services`; the Transition keeps the old rows up meanwhile.
    let live = use_live(|| LiveScope { kinds: vec!["Service", "EndpointSlice"], ..Default::default() });
    provide_context(live);
    let page = crate::wire::resource(
        move || (request.get(), live.version.get()),
        |(request, _)| list_services(request),
    );
    crate::components::metrics::provide_fleet_rates();
    let search = NodeRef::<leptos::html::Input>::new();
    // With JavaScript the form navigates in place, leaving empty filters out of the URL; without it, it is
    // a plain GET (empty parameters mean "any").
    let navigate = use_navigate();
    let go = Callback::new(move |mut next: ServiceListRequest| {
        if let Some(input) = search.get_untracked() {
            next.q = input.value();
        }
        next.offset = 0;
        navigate(&href(&next), Default::default());
    });

    // `/` focuses the search box unless the person is typing somewhere already.
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let typing = document()
                .active_element()
                .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if ev.key() == "/"
                && !typing
                && !ev.ctrl_key()
                && !ev.meta_key()
                && !ev.alt_key()
                && let Some(input) = search.get_untracked()
            {
                ev.prevent_default();
                let _ = input.focus();
            }
        });
        on_cleanup(move || handle.remove());
    }

    view! {
        <Title text="Services · Fleetpane"/>
        <section class="page-head">
            <h1>"Services"</h1>
            <LiveIndicator live/>
            <form
                method="get"
                action="/services"
                role="search"
                class="search"
                on:submit=move |ev| {
                    ev.prevent_default();
                    go.run(request.get_untracked());
                }
            >
                <label for="service-search">"Search"</label>
                " "
                <input
                    id="service-search"
                    type="search"
                    name="q"
                    node_ref=search
                    placeholder="name, ns/name, label=value, cluster:, type:, health:"
                    aria-keyshortcuts="/"
                    value=request.with_untracked(|r| r.q.clone())
                    prop:value=move || request.with(|r| r.q.clone())
                    size="48"
                />
                " "
                <Transition fallback=move || {
                    view! { <Filters facets=ServiceFacets::default() request=request.get_untracked() go/> }
                }>
                    {move || Suspend::new(async move {
                        let request = request.get_untracked();
                        let facets = page.await.map(|p| p.facets).unwrap_or_default();
                        view! { <Filters facets request go/> }
                    })}
                </Transition>
                " "
                <button type="submit" class="button">"Search"</button>
            </form>
        </section>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Loading Services…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move {
                    let request = request.get_untracked();
                    page.await.map(|page| view! { <ServiceList page request/> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The filter dropdowns, part of the search form: options from the page's facets (what the person may see),
/// plus the current value if it is not among them. With JavaScript, picking a value applies it at once.
#[component]
fn Filters(
    facets: ServiceFacets,
    request: ServiceListRequest,
    go: Callback<ServiceListRequest>,
) -> impl IntoView {
    let ServiceFacets { clusters, namespaces, types, health } = facets;
    let select = |name: &'static str,
                  label: &'static str,
                  any: &'static str,
                  options: Vec<Facet>,
                  current: String,
                  text: fn(&str) -> String,
                  set: fn(&mut ServiceListRequest, String)| {
        let id = format!("filter-{name}");
        let mut values: Vec<(String, String)> =
            options.iter().map(|f| (f.value.clone(), format!("{} ({})", text(&f.value), f.count))).collect();
        if !current.is_empty() && !options.iter().any(|f| f.value == current) {
            values.push((current.clone(), text(&current)));
        }
        let options = values
            .into_iter()
            .map(|(value, shown)| {
                let selected = value == current;
                view! { <option value=value selected=selected>{shown}</option> }
            })
            .collect_view();
        let base = request.clone();
        view! {
            <label for=id.clone() class="visually-hidden">{label}</label>
            <select
                id=id
                name=name
                class="filter"
                on:change=move |ev| {
                    let mut next = base.clone();
                    set(&mut next, event_target_value(&ev));
                    go.run(next);
                }
            >
                <option value="" selected=current.is_empty()>{any}</option>
                {options}
            </select>
            " "
        }
    };
    let same = |v: &str| v.to_owned();
    let health_text = |v: &str| Health::parse(v).map_or_else(|| v.to_owned(), |h| h.label().to_owned());
    view! {
        {select("cluster", "Cluster", "any cluster", clusters, request.cluster.clone(), same, |r, v| r.cluster = v)}
        {select(
            "namespace",
            "Namespace",
            "any namespace",
            namespaces,
            request.namespace.clone(),
            same,
            |r, v| r.namespace = v,
        )}
        {select("type", "Type", "any type", types, request.type_.clone(), same, |r, v| r.type_ = v)}
        {select("health", "Health", "any health", health, request.health.clone(), health_text, |r, v| r.health = v)}
    }
}

#[component]
fn ServiceList(page: ServiceListPage, request: ServiceListRequest) -> impl IntoView {
    let showing = page.showing();
    let prev = (page.offset > 0)
        .then(|| ServiceListRequest { offset: page.offset.saturating_sub(page.limit), ..request.clone() });
    let next = page
        .has_next()
        .then(|| ServiceListRequest { offset: page.offset + page.rows.len(), ..request.clone() });
    let unavailable = (!page.unavailable.is_empty()).then(|| {
        view! {
            <p class="error-panel" role="status">
                {format!(
                    "No answer in time from {}: their Services are missing below.",
                    page.unavailable.join(", "),
                )}
            </p>
        }
    });
    let header = |label: &'static str, column: SortColumn, class: &'static str| {
        let active = request.sort == column;
        let target =
            ServiceListRequest { sort: column, desc: active && !request.desc, offset: 0, ..request.clone() };
        let aria = match (active, request.desc) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        let arrow = match (active, request.desc) {
            (false, _) => "",
            (true, false) => " ↑",
            (true, true) => " ↓",
        };
        view! {
            <th scope="col" class=class aria-sort=aria>
                <a href=href(&target)>{label}{arrow}</a>
            </th>
        }
    };
    let empty = page.rows.is_empty().then(|| {
        view! { <p class="empty">"No Service matches."</p> }
    });
    let rows = page.rows.into_iter().map(|row| view! { <ServiceRow row/> }).collect_view();
    view! {
        <p class="showing" aria-live="polite">
            {format!("{showing} ({} visible to you)", crate::model::services::thousands(page.fleet_total))}
        </p>
        {unavailable}
        <div class="table-wrap">
            <table class="services">
                <caption class="visually-hidden">"Services across the fleet; column headers sort"</caption>
                <thead>
                    <tr>
                        {header("Health", SortColumn::Health, "")}
                        {header("Service", SortColumn::Name, "")}
                        {header("Namespace", SortColumn::Namespace, "")}
                        {header("Clusters", SortColumn::Cluster, "")}
                        {header("Type", SortColumn::Type, "")}
                        {header("Ports", SortColumn::Ports, "")}
                        {header("Endpoints", SortColumn::Ready, "num")}
                        <th scope="col" class="num">"Rate · 5xx"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty}
        <nav class="pager" aria-label="Pages">
            {prev.map(|r| view! { <a rel="prev" href=href(&r)>"← Previous"</a> })}
            " "
            {next.map(|r| view! { <a rel="next" href=href(&r)>"Next →"</a> })}
        </nav>
    }
}

#[component]
fn ServiceRow(row: ServiceListRow) -> impl IntoView {
    let key = format!("{}/{}", row.namespace, row.name);
    let drift: Vec<&str> = row
        .drift
        .iter()
        .map(|d| match d {
            crate::model::services::DriftField::Type => "type",
            crate::model::services::DriftField::Ports => "ports",
            crate::model::services::DriftField::Selector => "selector",
        })
        .collect();
    let drift_text = format!("copies differ: {}", drift.join(", "));
    let clusters: Vec<String> = row.clusters.iter().map(|c| c.cluster.clone()).collect();
    let cluster_list = clusters.join(" ");
    let cells = clusters
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            // "≠" links to the drift view of this namespace/name.
            let sep = (i > 0).then(|| {
                if row.differs {
                    let href = crate::pages::drift_href(&row.namespace, &row.name);
                    leptos::either::Either::Left(view! {
                        " " <a class="drift-link" href=href title=drift_text.clone()>"≠"</a> " "
                    })
                } else {
                    leptos::either::Either::Right(" ")
                }
            });
            view! {
                {sep}
                <a
                    class="cluster"
                    href=crate::model::services::service_href(&c, &row.namespace, &row.name)
                    title=format!("{} in {c}", row.name)
                >
                    {c.clone()}
                </a>
            }
        })
        .collect_view();
    let differs =
        row.differs.then(|| view! { <span class="visually-hidden">{format!(" ({drift_text})")}</span> });
    let rate_cell = crate::components::metrics::rate_cell(row.namespace.clone(), row.name.clone());
    view! {
        <tr data-service=key data-clusters=cluster_list data-differs=row.differs.to_string()>
            <td title=row.verdict.clone()>
                <StatusBadge health=badge(row.health) text=row.health.label()/>
                <span class="visually-hidden">{format!(" {}", row.verdict)}</span>
            </td>
            <th scope="row">{row.name}</th>
            <td>{row.namespace}</td>
            <td title=row.differs.then_some(drift_text)>{cells}{differs}</td>
            <td>{row.type_}</td>
            <td class="mono">{row.ports}</td>
            <td class="num mono">{format!("{}/{}", row.ready, row.total)}</td>
            <td class="num mono">
                {rate_cell}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_round_trip_and_leave_out_defaults() {
        assert_eq!(href(&ServiceListRequest::default()), "/services");
        let r = ServiceListRequest {
            q: "team-a/check app=web".into(),
            sort: SortColumn::Name,
            desc: true,
            offset: 50,
            ..Default::default()
        };
        assert_eq!(href(&r), "/services?q=team-a%2Fcheck%20app%3Dweb&sort=name&desc=1&offset=50");
        let back = request_from(|k| match k {
            "q" => Some(r.q.clone()),
            "sort" => Some("name".into()),
            "desc" => Some("1".into()),
            "offset" => Some("50".into()),
            _ => None,
        });
        assert_eq!(back, r);
        assert_eq!(request_from(|_| Some("bogus".into())).sort, SortColumn::Health);

        let filtered = ServiceListRequest {
            cluster: "staging".into(),
            namespace: "team-a".into(),
            type_: "LoadBalancer".into(),
            health: "failing".into(),
            ..Default::default()
        };
        let url = href(&filtered);
        assert_eq!(url, "/services?cluster=staging&namespace=team-a&type=LoadBalancer&health=failing");
        let params: Vec<(String, String)> = url
            .trim_start_matches("/services?")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let back = request_from(|k| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()));
        assert_eq!(back, filtered);
    }
}
