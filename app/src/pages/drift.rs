use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{drift_fleet, drift_service},
    components::{ErrorTemplate, Health as Badge, StatusBadge},
    model::drift::{DriftCell, DriftKey, DriftList, DriftPage, DriftRow, DriftState},
};

/// The drift page of a namespace/name.
pub fn drift_href(namespace: &str, name: &str) -> String {
    format!("/drift/{namespace}/{name}")
}

fn keys_text(keys: &[DriftKey]) -> String {
    keys.iter().map(|k| k.label().to_ascii_lowercase()).collect::<Vec<_>>().join(", ")
}

/// `/drift/:namespace/:name`: one Service's copies side by side, one column per cluster.
#[component]
pub fn DriftServicePage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        params.with(|p| (p.get("namespace").unwrap_or_default(), p.get("name").unwrap_or_default()))
    });
    let page = crate::wire::resource(move || key.get(), |(ns, name)| drift_service(ns, name));
    view! {
        <Title text=move || format!("Drift {}/{} · Fleetpane", key.get().0, key.get().1)/>
        <section class="page-head">
            <h1>"Drift: " <span class="mono">{move || format!("{}/{}", key.get().0, key.get().1)}</span></h1>
            <a href="/drift">"All Services that drift"</a>
        </section>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Comparing the clusters…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move { page.await.map(|page| view! { <Comparison page/> }) })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Comparison(page: DriftPage) -> impl IntoView {
    let differing = page.differing();
    let expected_differing: Vec<DriftKey> =
        page.rows.iter().filter(|r| r.state == DriftState::Expected).map(|r| r.key).collect();
    let (health, word, text) = match (page.clusters.len(), differing.is_empty()) {
        (0, _) => (Badge::Unknown, "Not found", "No cluster has a copy you may read.".to_owned()),
        (1, _) => {
            (Badge::Unknown, "One copy", format!("Only {} has it: nothing to compare.", page.clusters[0]))
        }
        (n, true) => (Badge::Ok, "Same", format!("The {n} copies agree on every field you may read.")),
        (n, false) => {
            (Badge::Warn, "Differs", format!("The {n} copies differ in: {}.", keys_text(&differing)))
        }
    };
    let expected_note = (!expected_differing.is_empty()).then(|| {
        view! { <p class="expected-note">{format!("Expected differences: {}.", keys_text(&expected_differing))}</p> }
    });
    let missing = (!page.missing_in.is_empty()).then(
        || view! { <p>{format!("No copy (that you may read) in: {}.", page.missing_in.join(", "))}</p> },
    );
    let unavailable = (!page.unavailable.is_empty()).then(|| {
        view! {
            <p class="error-panel" role="status">
                {format!("No answer in time from {}: not compared.", page.unavailable.join(", "))}
            </p>
        }
    });
    let headers = page
        .clusters
        .iter()
        .map(|c| {
            let href = format!("/c/{c}/ns/{}/svc/{}", page.namespace, page.name);
            view! { <th scope="col"><a href=href>{c.clone()}</a></th> }
        })
        .collect_view();
    let reference = page.clusters.first().cloned().unwrap_or_default();
    let rows =
        page.rows.into_iter().map(|row| view! { <FieldRow row reference=reference.clone()/> }).collect_view();
    view! {
        <p class="verdict"><StatusBadge health text=word/> " " <span class="drift-summary">{text}</span></p>
        {expected_note}
        {missing}
        {unavailable}
        <div class="table-wrap">
            <table class="drift">
                <caption class="visually-hidden">
                    "Each field per cluster; cells that differ from the first readable cluster are marked ≠"
                </caption>
                <thead>
                    <tr><th scope="col">"Field"</th>{headers}</tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn FieldRow(row: DriftRow, reference: String) -> impl IntoView {
    let state = match row.state {
        DriftState::Same => view! { <span class="drift-same">" = same"</span> }.into_any(),
        DriftState::Differs => view! { <span class="drift-differs-tag">" ≠ differs"</span> }.into_any(),
        DriftState::Expected => {
            view! { <span class="drift-expected-tag">" ≈ expected difference"</span> }.into_any()
        }
    };
    let expected = row.state == DriftState::Expected;
    let cells = row
        .cells
        .into_iter()
        .map(|cell| view! { <Cell cell expected reference=reference.clone()/> })
        .collect_view();
    view! {
        <tr data-field=row.key.as_str() data-state=format!("{:?}", row.state).to_ascii_lowercase()>
            <th scope="row">{row.key.label()}{state}</th>
            {cells}
        </tr>
    }
}

#[component]
fn Cell(cell: DriftCell, expected: bool, reference: String) -> impl IntoView {
    let class = match (cell.readable, cell.differs, expected) {
        (false, _, _) => "drift-cell drift-unreadable",
        (true, true, true) => "drift-cell drift-expected",
        (true, true, false) => "drift-cell drift-differs",
        (true, false, _) => "drift-cell",
    };
    let marker = match (cell.readable, cell.differs, expected) {
        (false, _, _) => Some("🔒 not readable: ".to_owned()),
        (true, true, true) => Some(format!("≈ expected, differs from {reference}: ")),
        (true, true, false) => Some(format!("≠ differs from {reference}: ")),
        (true, false, _) => None,
    };
    let lines = cell.lines.into_iter().map(|l| view! { <li class="mono">{l}</li> }).collect_view();
    view! {
        <td class=class data-differs=cell.differs.to_string()>
            {marker.map(|m| view! { <span class="drift-marker">{m}</span> })}
            <ul class="drift-lines">{lines}</ul>
        </td>
    }
}

/// `/drift`: the Services whose copies differ between clusters.
#[component]
pub fn DriftListPage() -> impl IntoView {
    let list = crate::wire::resource(|| (), |()| drift_fleet());
    view! {
        <Title text="Drift · Fleetpane"/>
        <section class="page-head">
            <h1>"Drift between clusters"</h1>
        </section>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Comparing the clusters…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move { list.await.map(|list| view! { <DriftTable list/> }) })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn DriftTable(list: DriftList) -> impl IntoView {
    let unavailable = (!list.unavailable.is_empty()).then(|| {
        view! {
            <p class="error-panel" role="status">
                {format!("No answer in time from {}: not compared.", list.unavailable.join(", "))}
            </p>
        }
    });
    let summary =
        format!("{} of {} Services present in several clusters differ.", list.rows.len(), list.compared);
    let empty = list.rows.is_empty().then(|| view! { <p class="empty">"Every copy agrees."</p> });
    let rows = list
        .rows
        .into_iter()
        .map(|r| {
            let href = drift_href(&r.namespace, &r.name);
            let key = format!("{}/{}", r.namespace, r.name);
            let (health, word) =
                if r.differing.is_empty() { (Badge::Ok, "Expected only") } else { (Badge::Warn, "Differs") };
            view! {
                <tr data-service=key>
                    <td><StatusBadge health text=word/></td>
                    <th scope="row"><a href=href>{r.name}</a></th>
                    <td>{r.namespace}</td>
                    <td>{r.clusters.join(" ≠ ")}</td>
                    <td>{keys_text(&r.differing)}</td>
                    <td>{keys_text(&r.expected)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="showing">{summary}</p>
        {unavailable}
        <div class="table-wrap">
            <table class="drift-list">
                <caption class="visually-hidden">"Services whose copies differ, unexpected differences first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"State"</th>
                        <th scope="col">"Service"</th>
                        <th scope="col">"Namespace"</th>
                        <th scope="col">"Clusters"</th>
                        <th scope="col">"Differs in"</th>
                        <th scope="col">"Expected differences"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty}
    }
}
