//! The quick switcher (Ctrl-K / Cmd-K): a dialog that finds any Service in the fleet the person may see and
//! opens its page, and the shortcut help (`?`).
//!
//! Everything here is hydrate-only behaviour: the server renders the header link (a plain link to the
//! Services list, so it still leads somewhere without JavaScript) and both dialogs closed, which renders
//! nothing, identically on the client, so hydration never mismatches.
//!
//! The search goes through [`list_services`] with a small page, debounced, so it sees exactly what the list
//! would show (the server's access filter, the same search grammar).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::{
    api::list_services,
    model::services::{ServiceListPage, ServiceListRequest, SortColumn, service_href},
};

/// How many Services one switcher search asks for.
const SEARCH_LIMIT: usize = 8;
/// The most matches (one per cluster copy) the switcher lists.
const MAX_MATCHES: usize = 12;
/// Typing pauses this long before the switcher asks the server.
const DEBOUNCE_MS: u64 = 150;

/// One switcher match: a Service in one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitcherMatch {
    /// `cluster / namespace / name`.
    pub label: String,
    /// Its Service page.
    pub href: String,
}

/// The matches of a list page: one per cluster copy, in the page's order, at most `max`.
pub fn switcher_matches(page: &ServiceListPage, max: usize) -> Vec<SwitcherMatch> {
    page.rows
        .iter()
        .flat_map(|row| {
            row.clusters.iter().map(|copy| SwitcherMatch {
                label: format!("{} / {} / {}", copy.cluster, row.namespace, row.name),
                href: service_href(&copy.cluster, &row.namespace, &row.name),
            })
        })
        .take(max)
        .collect()
}

/// The request the switcher sends for `text`: names first, a small page.
fn switcher_request(text: &str) -> ServiceListRequest {
    ServiceListRequest {
        q: text.trim().to_owned(),
        sort: SortColumn::Name,
        limit: SEARCH_LIMIT,
        ..Default::default()
    }
}

/// Which dialog is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    Closed,
    Switcher,
    Help,
}

/// The header's "Go to Service" link and the two dialogs, with their global shortcuts: Ctrl-K / Cmd-K opens
/// the switcher, `?` the shortcut help (unless the person is typing), Escape closes either and returns focus.
#[component]
pub fn QuickSwitcher() -> impl IntoView {
    let open = RwSignal::new(Open::Closed);
    // The element that had focus before a dialog opened, focused again when it closes.
    #[cfg(feature = "hydrate")]
    let before = StoredValue::new_local(None::<web_sys::HtmlElement>);

    let show = move |which: Open| {
        #[cfg(feature = "hydrate")]
        if open.get_untracked() == Open::Closed {
            use wasm_bindgen::JsCast;
            before.set_value(
                document().active_element().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()),
            );
        }
        open.set(which);
    };
    let close = Callback::new(move |()| {
        open.set(Open::Closed);
        #[cfg(feature = "hydrate")]
        if let Some(element) = before.get_value() {
            let _ = element.focus();
        }
    });

    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let typing = document()
                .active_element()
                .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if (ev.ctrl_key() || ev.meta_key()) && !ev.alt_key() && ev.key().eq_ignore_ascii_case("k") {
                ev.prevent_default();
                if open.get_untracked() == Open::Switcher {
                    close.run(());
                } else {
                    show(Open::Switcher);
                }
            } else if ev.key() == "?" && !typing && !ev.ctrl_key() && !ev.meta_key() && !ev.alt_key() {
                ev.prevent_default();
                show(Open::Help);
            } else if ev.key() == "Escape" && open.get_untracked() != Open::Closed {
                ev.prevent_default();
                close.run(());
            }
        });
        on_cleanup(move || handle.remove());
    }

    view! {
        <a
            href="/services"
            class="switcher-open"
            aria-haspopup="dialog"
            aria-keyshortcuts="Control+K Meta+K"
            title="Go to any Service (Ctrl-K or ⌘K; ? lists the shortcuts)"
            on:click=move |ev| {
                ev.prevent_default();
                show(Open::Switcher);
            }
        >
            "Go to Service "
            <kbd>"Ctrl K"</kbd>
        </a>
        <Show when=move || open.get() == Open::Switcher>
            <SwitcherDialog close/>
        </Show>
        <Show when=move || open.get() == Open::Help>
            <ShortcutHelp close/>
        </Show>
    }
}

/// The open switcher: a search input, the matches, arrow keys + Enter, Escape, focus kept inside.
#[component]
fn SwitcherDialog(close: Callback<()>) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let close_button = NodeRef::<leptos::html::Button>::new();
    let matches = RwSignal::new(Vec::<SwitcherMatch>::new());
    let active = RwSignal::new(0_usize);
    let status = RwSignal::new("Type a name, namespace/name, label=value or cluster:…".to_owned());
    // Each keystroke bumps the generation; only the newest search may fill the list.
    let generation = StoredValue::new(0_u64);
    let navigate = use_navigate();

    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });

    let search = move |text: String| {
        let mine = generation.get_value() + 1;
        generation.set_value(mine);
        if text.trim().is_empty() {
            matches.set(Vec::new());
            status.set("Type a name, namespace/name, label=value or cluster:…".to_owned());
            return;
        }
        set_timeout(
            move || {
                if generation.get_value() != mine {
                    return;
                }
                status.set("Searching…".to_owned());
                leptos::task::spawn_local(async move {
                    let answer = list_services(switcher_request(&text)).await;
                    if generation.get_value() != mine {
                        return;
                    }
                    match answer {
                        Ok(page) => {
                            let found = switcher_matches(&page, MAX_MATCHES);
                            status.set(match found.len() {
                                0 => "No Service matches.".to_owned(),
                                1 => "1 match: Enter opens it.".to_owned(),
                                n => format!("{n} matches: arrows move, Enter opens."),
                            });
                            active.set(0);
                            matches.set(found);
                        }
                        Err(e) => {
                            matches.set(Vec::new());
                            status.set(e.to_string());
                        }
                    }
                });
            },
            std::time::Duration::from_millis(DEBOUNCE_MS),
        );
    };

    let on_input_key = move |ev: leptos::ev::KeyboardEvent| {
        let count = matches.with_untracked(Vec::len);
        match ev.key().as_str() {
            "ArrowDown" if count > 0 => {
                ev.prevent_default();
                active.update(|i| *i = (*i + 1) % count);
            }
            "ArrowUp" if count > 0 => {
                ev.prevent_default();
                active.update(|i| *i = (*i + count - 1) % count);
            }
            "Enter" => {
                ev.prevent_default();
                let target =
                    matches.with_untracked(|m| m.get(active.get_untracked()).map(|m| m.href.clone()));
                if let Some(href) = target {
                    close.run(());
                    navigate(&href, Default::default());
                }
            }
            _ => {}
        }
    };

    // Focus stays inside: Tab moves between the input and the Close button (the matches are reached with
    // the arrow keys, like options of a list box).
    let on_dialog_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            ev.stop_propagation();
            close.run(());
        }
        "Tab" => {
            ev.prevent_default();
            let on_input = input.get_untracked().is_some_and(|i| {
                document().active_element().is_some_and(|a| {
                    let a: &leptos::web_sys::Element = &a;
                    let i: &leptos::web_sys::Element = &i;
                    a == i
                })
            });
            if on_input {
                if let Some(b) = close_button.get_untracked() {
                    let _ = b.focus();
                }
            } else if let Some(i) = input.get_untracked() {
                let _ = i.focus();
            }
        }
        _ => {}
    };

    let list = move || {
        let current = active.get();
        matches
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let is_active = i == current;
                view! {
                    <li>
                        <a
                            href=m.href
                            tabindex="-1"
                            class:active=is_active
                            aria-current=is_active.then_some("true")
                            on:click=move |_| close.run(())
                        >
                            {m.label}
                        </a>
                    </li>
                }
            })
            .collect_view()
    };

    view! {
        <div class="dialog-backdrop" on:click=move |_| close.run(())></div>
        <div
            class="dialog switcher"
            role="dialog"
            aria-modal="true"
            aria-labelledby="switcher-title"
            aria-describedby="switcher-status"
            on:keydown=on_dialog_key
        >
            <h2 id="switcher-title">"Go to a Service"</h2>
            <input
                id="switcher-input"
                type="search"
                autocomplete="off"
                spellcheck="false"
                aria-label="Find a Service"
                aria-controls="switcher-results"
                node_ref=input
                on:input=move |ev| search(event_target_value(&ev))
                on:keydown=on_input_key
            />
            <p id="switcher-status" class="switcher-status" aria-live="polite">{move || status.get()}</p>
            <ul id="switcher-results" class="switcher-results" aria-label="Matches">{list}</ul>
            <p class="switcher-hint">
                <kbd>"↑"</kbd> <kbd>"↓"</kbd> " move · " <kbd>"Enter"</kbd> " open · " <kbd>"Esc"</kbd> " close"
            </p>
            <button type="button" class="button" node_ref=close_button on:click=move |_| close.run(())>
                "Close"
            </button>
        </div>
    }
}

/// The shortcut help (`?`).
#[component]
fn ShortcutHelp(close: Callback<()>) -> impl IntoView {
    let close_button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(b) = close_button.get() {
            let _ = b.focus();
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            ev.stop_propagation();
            close.run(());
        }
        // The Close button is the only focusable element: focus stays on it.
        "Tab" => ev.prevent_default(),
        _ => {}
    };
    view! {
        <div class="dialog-backdrop" on:click=move |_| close.run(())></div>
        <div
            class="dialog shortcuts"
            role="dialog"
            aria-modal="true"
            aria-labelledby="shortcuts-title"
            on:keydown=on_key
        >
            <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
            <dl>
                <dt><kbd>"/"</kbd></dt>
                <dd>"Focus the search (Services list)"</dd>
                <dt><kbd>"Ctrl K"</kbd> " or " <kbd>"⌘ K"</kbd></dt>
                <dd>"Go to any Service in the fleet"</dd>
                <dt><kbd>"?"</kbd></dt>
                <dd>"Show these shortcuts"</dd>
                <dt><kbd>"Esc"</kbd></dt>
                <dd>"Close a dialog"</dd>
            </dl>
            <button type="button" class="button" node_ref=close_button on:click=move |_| close.run(())>
                "Close"
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::services::{ClusterCopy, Health, ServiceListRow};

    fn row(namespace: &str, name: &str, clusters: &[&str]) -> ServiceListRow {
        ServiceListRow {
            health: Health::Serving,
            verdict: String::new(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            clusters: clusters
                .iter()
                .map(|c| ClusterCopy {
                    cluster: (*c).to_owned(),
                    type_: "ClusterIP".to_owned(),
                    ports: String::new(),
                    ready: 1,
                    total: 1,
                    health: Health::Serving,
                })
                .collect(),
            differs: false,
            drift: Vec::new(),
            type_: "ClusterIP".to_owned(),
            ports: String::new(),
            ready: 1,
            total: 1,
        }
    }

    #[test]
    fn one_match_per_cluster_copy_linking_its_service_page_capped() {
        let page = ServiceListPage {
            rows: vec![
                row("team-a", "checkout", &["prod-eu", "staging"]),
                row("team-b", "web", &["prod-us"]),
            ],
            ..Default::default()
        };
        let found = switcher_matches(&page, 10);
        assert_eq!(
            found,
            [
                SwitcherMatch {
                    label: "prod-eu / team-a / checkout".into(),
                    href: "/c/prod-eu/ns/team-a/svc/checkout".into()
                },
                SwitcherMatch {
                    label: "staging / team-a / checkout".into(),
                    href: "/c/staging/ns/team-a/svc/checkout".into()
                },
                SwitcherMatch {
                    label: "prod-us / team-b / web".into(),
                    href: "/c/prod-us/ns/team-b/svc/web".into()
                },
            ]
        );
        assert_eq!(switcher_matches(&page, 2).len(), 2);
        let r = switcher_request("  checkout ");
        assert_eq!(
            (r.q.as_str(), r.sort, r.limit, r.offset),
            ("checkout", SortColumn::Name, SEARCH_LIMIT, 0)
        );
    }
}
