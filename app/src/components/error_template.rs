use leptos::prelude::*;

use crate::error::AppError;

/// Shows the errors an `ErrorBoundary` caught, and during server-side rendering sets the HTTP status of the
/// first one. Unknown error types show as an internal error: the page never shows raw internals.
#[component]
pub fn ErrorTemplate(
    /// The errors caught by the boundary.
    errors: ArcRwSignal<Errors>,
) -> impl IntoView {
    let errors: Vec<AppError> = errors
        .get_untracked()
        .into_iter()
        .map(|(_, e)| {
            e.downcast_ref::<AppError>()
                .cloned()
                .unwrap_or_else(|| AppError::Internal("unexpected error".into()))
        })
        .collect();

    #[cfg(feature = "ssr")]
    if let (Some(first), Some(response)) = (errors.first(), use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(first.status_code());
    }

    let items = errors
        .into_iter()
        .map(|e| {
            let status = e.status_code();
            view! {
                <li>
                    <span class="mono">{status.as_u16()}</span>" "
                    {status.canonical_reason().unwrap_or("Error")}": "{e.to_string()}
                </li>
            }
        })
        .collect_view();

    view! {
        <div class="error-panel" role="alert">
            <p class="error-title">
                <span class="badge badge-bad"><span class="badge-icon" aria-hidden="true">"✕"</span>"error"</span>
                " Something went wrong while loading this section."
            </p>
            <ul>{items}</ul>
            <p class="hint">"Reload the page to try again. If it keeps failing, the server log has the details."</p>
        </div>
    }
}
