//! `/triage`: the on-call view. Every Service the person may see that the doctor has findings for, worst first,
//! with the top finding in words; filters and the page in the URL (`?cluster=&namespace=&team=&offset=&limit=`),
//! applied on the server, which sends only the page (totals by severity cover every page).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::triage,
    components::{ErrorTemplate, findings::severity_badge},
    live::{LiveIndicator, LiveScope, use_live},
    model::{
        doctor::{TEAM_LABEL, TriagePage as Page, TriageRequest, TriageRow},
        services::thousands,
    },
};

/// The request as the URL carries it.
fn request_from(get: impl Fn(&str) -> Option<String>) -> TriageRequest {
    TriageRequest {
        cluster: get("cluster").unwrap_or_default(),
        namespace: get("namespace").unwrap_or_default(),
        team: get("team").unwrap_or_default(),
        offset: get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
        limit: get("limit").and_then(|l| l.parse().ok()).unwrap_or(TriageRequest::DEFAULT_LIMIT),
    }
}

/// The URL of `request`, leaving out defaults so links stay short and stable.
fn href(request: &TriageRequest) -> String {
    let mut params: Vec<(&str, String)> = Vec::new();
    for (key, value) in
        [("cluster", &request.cluster), ("namespace", &request.namespace), ("team", &request.team)]
    {
        if !value.is_empty() {
            params.push((key, value.clone()));
        }
    }
    if request.offset > 0 {
        params.push(("offset", request.offset.to_string()));
    }
    if request.limit != TriageRequest::DEFAULT_LIMIT {
        params.push(("limit", request.limit.to_string()));
    }
    super::with_query("/triage", params)
}

/// A `<select>` of `options` named `name`, with "all" first and `current` selected.
fn filter(label: &'static str, name: &'static str, options: Vec<String>, current: String) -> impl IntoView {
    let id = format!("triage-{name}");
    let mut options = options;
    if !current.is_empty() && !options.contains(&current) {
        options.push(current.clone());
    }
    view! {
        <label for=id.clone()>{label}</label>
        " "
        <select id=id name=name>
            <option value="" selected=current.is_empty()>"all"</option>
            {options
                .into_iter()
                .map(|o| {
                    let selected = o == current;
                    let label = o.clone();
                    view! { <option value=o selected=selected>{label}</option> }
                })
                .collect_view()}
        </select>
        " "
    }
}

fn row(r: TriageRow) -> impl IntoView {
    let others = if r.others == 0 { String::new() } else { format!("+{} more", r.others) };
    let lost = if r.endpoints == 0 { "-".to_owned() } else { format!("{}/{}", r.not_ready, r.endpoints) };
    let since = r.since.clone().unwrap_or_else(|| "-".to_owned());
    let traffic = r.traffic.clone().unwrap_or_else(|| "-".to_owned());
    view! {
        <tr class=format!("triage-row sev-{}", r.severity.as_str()) data-code=r.code>
            <td>{severity_badge(r.severity)}</td>
            <td class="mono">{r.cluster.clone()}</td>
            <td class="mono">{r.namespace.clone()}</td>
            <th scope="row" class="mono"><a href=r.href.clone()>{r.name.clone()}</a></th>
            <td class="top-finding">{r.title.clone()}</td>
            <td class="num">{others}</td>
            <td class="num" title="endpoints not ready / all">{lost}</td>
            <td class="num mono">{traffic}</td>
            <td class="mono">{since}</td>
        </tr>
    }
}

fn table(page: Page, request: TriageRequest) -> impl IntoView {
    let unavailable = (!page.unavailable.is_empty()).then(|| {
        view! {
            <p class="error-panel" role="status">
                "Not included, the cluster did not answer in time: "
                <span class="mono">{page.unavailable.join(", ")}</span>
            </p>
        }
    });
    let counts = page.by_severity;
    let summary = format!(
        "{} of {} Services with findings: {} critical · {} warning · {} info · ranked in {} ms",
        thousands(page.total),
        thousands(usize::try_from(page.checked).unwrap_or(usize::MAX)),
        thousands(counts.critical),
        thousands(counts.warning),
        thousands(counts.info),
        page.elapsed_ms
    );
    let showing = page.showing();
    let prev = (page.offset > 0)
        .then(|| TriageRequest { offset: page.offset.saturating_sub(page.limit), ..request.clone() });
    let next =
        page.has_next().then(|| TriageRequest { offset: page.offset + page.rows.len(), ..request.clone() });
    let pager = (prev.is_some() || next.is_some()).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                {prev.map(|r| view! { <a rel="prev" href=href(&r)>"← Previous"</a> })}
                " "
                {next.map(|r| view! { <a rel="next" href=href(&r)>"Next →"</a> })}
            </nav>
        }
    });
    // Keeps a chosen page size when the filters change (the page itself starts over).
    let limit_field = (request.limit != TriageRequest::DEFAULT_LIMIT)
        .then(|| view! { <input type="hidden" name="limit" value=request.limit.to_string()/> });
    let body = if page.total == 0 {
        view! { <p class="no-findings">"No problems found in the Services you can see."</p> }.into_any()
    } else if page.rows.is_empty() {
        view! { <p class="empty">"No rows on this page."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="triage">
                    <caption class="visually-hidden">"Services with findings, worst first"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Severity"</th>
                            <th scope="col">"Cluster"</th>
                            <th scope="col">"Namespace"</th>
                            <th scope="col">"Service"</th>
                            <th scope="col">"Top finding"</th>
                            <th scope="col">"Others"</th>
                            <th scope="col">"Not ready"</th>
                            <th scope="col" title="requests per second and 5xx share, over 5 minutes">"Traffic"</th>
                            <th scope="col">"Since"</th>
                        </tr>
                    </thead>
                    <tbody>{page.rows.into_iter().map(row).collect_view()}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <form method="get" action="/triage" class="search triage-filters" aria-label="Filters">
            {filter("Cluster", "cluster", page.clusters, request.cluster)}
            {filter("Namespace", "namespace", page.namespaces, request.namespace)}
            {filter("Team", "team", page.teams, request.team)}
            {limit_field}
            <button type="submit" class="button">"Filter"</button>
            " "
            <a href="/triage">"Clear"</a>
        </form>
        {unavailable}
        <p class="muted triage-summary">{summary}</p>
        <p class="showing triage-showing" aria-live="polite">{showing}</p>
        {body}
        {pager}
    }
}

/// `/triage`.
#[component]
pub fn TriagePage() -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| query.with(|q| request_from(|k| q.get(k))));
    let live = use_live(move || {
        let r = request.get();
        LiveScope {
            cluster: (!r.cluster.is_empty()).then_some(r.cluster),
            namespace: (!r.namespace.is_empty()).then_some(r.namespace),
            kinds: Vec::new(),
        }
    });
    let page = crate::wire::resource(move || (request.get(), live.version.get()), |(r, _)| triage(r));
    view! {
        <Title text="Triage · Fleetpane"/>
        <section class="page-head">
            <h1>"Triage"</h1>
            <LiveIndicator live/>
        </section>
        <p class="muted">
            "Every Service you can see with a finding, worst first, then by endpoints lost. Team is the namespace label "
            <span class="mono">{TEAM_LABEL}</span>
            "."
        </p>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Checking every Service…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move {
                    let request = request.get_untracked();
                    page.await.map(|data| table(data, request))
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_round_trip_and_leave_out_defaults() {
        assert_eq!(href(&TriageRequest::default()), "/triage");
        let r = TriageRequest {
            cluster: "prod-eu".into(),
            namespace: String::new(),
            team: "team b".into(),
            offset: 200,
            limit: 50,
        };
        assert_eq!(href(&r), "/triage?cluster=prod-eu&team=team%20b&offset=200&limit=50");
        let back = request_from(|k| match k {
            "cluster" => Some("prod-eu".into()),
            "team" => Some("team b".into()),
            "offset" => Some("200".into()),
            "limit" => Some("50".into()),
            _ => None,
        });
        assert_eq!(back, r);
        // A hand-edited page that does not parse opens the first page.
        let bogus = request_from(|k| matches!(k, "offset" | "limit").then(|| "x".to_owned()));
        assert_eq!((bogus.offset, bogus.limit), (0, TriageRequest::DEFAULT_LIMIT));
    }
}
