use leptos::prelude::*;
use leptos_meta::Title;

use crate::{api::whoami, components::ErrorTemplate, model::WhoAmI};

/// `/whoami`: the signed-in identity, each group with where it came from, and when the session ends.
#[component]
pub fn WhoAmIPage() -> impl IntoView {
    let me = crate::wire::resource(|| (), |()| whoami());
    view! {
        <Title text="Who am I · Fleetpane"/>
        <section class="page-head">
            <h1>"Who am I"</h1>
        </section>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move { me.await.map(|me| view! { <Identity me/> }) })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Identity(me: WhoAmI) -> impl IntoView {
    let groups = if me.groups.is_empty() {
        view! { <p id="whoami-no-groups">"No groups."</p> }.into_any()
    } else {
        view! {
            <table class="whoami-groups">
                <caption>"Groups"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Group"</th>
                        <th scope="col">"Source"</th>
                    </tr>
                </thead>
                <tbody>
                    {me
                        .groups
                        .into_iter()
                        .map(|g| {
                            let name = g.name.clone();
                            view! {
                                <tr data-group=name>
                                    <td>{g.name}</td>
                                    <td>{g.source.label()}</td>
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
        <dl class="whoami">
            <dt>"Email"</dt>
            <dd id="whoami-email">{me.email}</dd>
            <dt>"Provider"</dt>
            <dd id="whoami-provider">{me.provider}</dd>
            <dt>"Session ends"</dt>
            <dd id="whoami-expires">{me.session_expires_at}</dd>
        </dl>
        {groups}
    }
}
