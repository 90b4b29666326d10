use leptos::prelude::*;
use leptos_meta::Title;

/// Any path no route matches. Answers with status 404 during server-side rendering.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Fleetpane"/>
        <section class="page-head">
            <h1>"Page not found"</h1>
        </section>
        <p>
            <span class="badge badge-unknown"><span class="badge-icon" aria-hidden="true">"?"</span>"404"</span>
            " There is nothing at this address. "
            <a href="/">"Go to the cluster overview"</a>
        </p>
    }
}
