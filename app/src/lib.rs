//! Fleetpane's user interface: the HTML shell, the router, the pages, and the server functions they call.
//!
//! Built twice: with `ssr` into the server (server-side rendering and server functions), and with
//! `hydrate` into WebAssembly for the browser. Data flows one way:
//!
//! ```text
//! browser -> api::* (#[server] fn, thin) -> api::ssr::Backend (implemented by the server crate)
//!         <- model::* (wire types)       <- pure mapping on the server
//! ```

#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod live;
pub mod model;
pub mod pages;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{Link, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{A, Route, Router, Routes},
};

use crate::{
    components::{QuickSwitcher, UserMenu},
    pages::{
        DriftListPage, DriftServicePage, HomePage, NotFound, ReachPage, ServicePage, ServicesPage,
        StatusPage, TriagePage, WhoAmIPage,
    },
};

/// The HTML document around the app, rendered on the server only. The head carries the session's CSRF
/// token for [`api::client::CsrfClient`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let csrf_token = use_context::<api::ssr::CurrentUser>().map(|u| u.0.csrf_token).unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let csrf_token = String::new();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <meta name="csrf-token" content=csrf_token/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: header, routes, and the 404 page for everything else.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/fleetpane.css"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title text="Fleetpane"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">
                    <img src="/favicon.svg" alt="" width="20" height="20"/>
                    "Fleetpane"
                </a>
                <nav aria-label="Main">
                    <A href="/services">"Services"</A>
                    <A href="/triage">"Triage"</A>
                    <A href="/drift">"Drift"</A>
                    <A href="/reach">"Can A reach B"</A>
                    <A href="/">"Clusters"</A>
                    <A href="/status">"Status"</A>
                    <A href="/whoami">"Who am I"</A>
                </nav>
                <QuickSwitcher/>
                <UserMenu/>
            </header>
            <main id="main">
                <Routes fallback=|| view! { <NotFound/> }>
                    // Async: the HTML is sent once every probe has answered or timed out (2 s at most), so a
                    // client without JavaScript sees the statuses too.
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("services") view=ServicesPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("triage") view=TriagePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("whoami") view=WhoAmIPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("reach") view=ReachPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("drift") view=DriftListPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("drift"), ParamSegment("namespace"), ParamSegment("name"))
                        view=DriftServicePage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("status") view=StatusPage ssr=SsrMode::Async/>
                    <Route
                        path=(
                            StaticSegment("c"),
                            ParamSegment("cluster"),
                            StaticSegment("ns"),
                            ParamSegment("namespace"),
                            StaticSegment("svc"),
                            ParamSegment("name"),
                        )
                        view=ServicePage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The browser entry point: attaches the app to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // For people and tests alike: from here on, clicks and keys are the app's, not the plain page's.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
