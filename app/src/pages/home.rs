use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::probe_clusters,
    components::{ClusterTable, ErrorTemplate, Health, StatusBadge},
    model::FleetStatus,
};

/// `/`: the configured clusters and whether each apiserver answers.
#[component]
pub fn HomePage() -> impl IntoView {
    // Bumped by "Check again"; the resource refetches whenever it changes.
    let checks = RwSignal::new(0_u32);
    let status = crate::wire::resource(move || checks.get(), |_| probe_clusters());

    view! {
        <Title text="Clusters · Fleetpane"/>
        <section class="page-head">
            <h1>"Clusters"</h1>
            // Without JavaScript the form reloads the page (and so probes again); hydrated, the click
            // refetches in place.
            <form method="get" action="/">
                <button
                    type="submit"
                    class="button"
                    on:click=move |ev| {
                        ev.prevent_default();
                        checks.update(|n| *n = n.wrapping_add(1));
                    }
                >
                    "Check again"
                </button>
            </form>
        </section>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Checking clusters…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move { status.await.map(|fleet| view! { <FleetOverview fleet/> }) })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn FleetOverview(fleet: FleetStatus) -> impl IntoView {
    let health = match (fleet.clusters.len(), fleet.unreachable().count()) {
        (0, _) => Health::Unknown,
        (_, 0) => Health::Ok,
        (total, down) if down == total => Health::Bad,
        _ => Health::Warn,
    };
    let word = match health {
        Health::Ok => "healthy",
        Health::Warn => "degraded",
        Health::Bad => "down",
        Health::Unknown => "empty",
    };
    let verdict = fleet.verdict();
    view! {
        <p class="verdict" aria-live="polite">
            <StatusBadge health text=word/>
            " "
            <span class="verdict-text">{verdict}</span>
        </p>
        <ClusterTable clusters=fleet.clusters/>
    }
}
