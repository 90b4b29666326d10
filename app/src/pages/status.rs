use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::fleetpane_status,
    components::{ErrorTemplate, Health, StatusBadge},
    model::{CacheState, ClusterHealth, FleetHealth},
};

/// `/status`: Fleetpane's own health, a table per cluster: kind, state, rows; and requests sent.
#[component]
pub fn StatusPage() -> impl IntoView {
    let health = crate::wire::resource(|| (), |()| fleetpane_status());
    view! {
        <Title text="Status · Fleetpane"/>
        <section class="page-head">
            <h1>"Status"</h1>
        </section>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move { health.await.map(|h| view! { <Fleet h/> }) })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Fleet(h: FleetHealth) -> impl IntoView {
    let ratio = h
        .decision_hit_ratio
        .map_or_else(|| "no decisions yet".to_owned(), |r| format!("{:.0} % from the cache", r * 100.0));
    view! {
        <dl class="status-summary">
            <dt>"Access decisions"</dt>
            <dd id="status-hit-ratio">{ratio}</dd>
            <dt>"Access reviews sent"</dt>
            <dd id="status-reviews">{h.reviews_sent}</dd>
        </dl>
        {h.clusters.into_iter().map(|c| view! { <Cluster c/> }).collect_view()}
    }
}

/// The badge of a cache state: color, icon and word, with the time and error for the bad ones.
fn state_badge(state: &CacheState) -> (Health, String) {
    match state {
        CacheState::Syncing => (Health::Unknown, "syncing".to_owned()),
        CacheState::Live => (Health::Ok, "live".to_owned()),
        CacheState::Stale { since, error } => (Health::Warn, format!("stale since {since}: {error}")),
        CacheState::Unreachable { since, error } => {
            (Health::Bad, format!("unreachable since {since}: {error}"))
        }
    }
}

#[component]
fn Cluster(c: ClusterHealth) -> impl IntoView {
    let name = c.name.clone();
    let body = if c.impersonation_only {
        view! {
            <p class="status-mode">
                "Impersonation only: no shared caches; every read goes live to the cluster as the signed-in person."
            </p>
        }
        .into_any()
    } else {
        view! {
            <table class="status-kinds">
                <caption>{format!("Caches of {}", c.name)}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"State"</th>
                        <th scope="col" class="num">"Rows"</th>
                    </tr>
                </thead>
                <tbody>
                    {c
                        .kinds
                        .into_iter()
                        .map(|k| {
                            let (health, text) = state_badge(&k.state);
                            let kind = k.kind.clone();
                            view! {
                                <tr data-kind=kind>
                                    <td>{k.kind}</td>
                                    <td>
                                        <StatusBadge health text/>
                                    </td>
                                    <td class="num">{k.rows}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="status-cluster" data-cluster=name>
            <h2>{c.name.clone()}</h2>
            <p class="status-requests">{format!("{} requests sent to the apiserver", c.requests)}</p>
            {body}
        </section>
    }
}
