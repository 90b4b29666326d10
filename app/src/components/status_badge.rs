use leptos::prelude::*;

/// A state that gets a color. Color never stands alone: every badge also carries an icon and a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Answers, serving, ready.
    Ok,
    /// Partly working.
    Warn,
    /// Down, not serving.
    Bad,
    /// Not known (yet).
    Unknown,
}

impl Health {
    fn class(self) -> &'static str {
        match self {
            Self::Ok => "badge badge-ok",
            Self::Warn => "badge badge-warn",
            Self::Bad => "badge badge-bad",
            Self::Unknown => "badge badge-unknown",
        }
    }

    /// The icon, distinct in shape, not only in color.
    fn icon(self) -> &'static str {
        match self {
            Self::Ok => "●",
            Self::Warn => "▲",
            Self::Bad => "✕",
            Self::Unknown => "?",
        }
    }
}

/// A colored badge: icon plus text.
#[component]
pub fn StatusBadge(
    /// Which state, and so which color and icon.
    health: Health,
    /// The word shown beside the icon.
    #[prop(into)]
    text: String,
) -> impl IntoView {
    view! {
        <span class=health.class()>
            <span class="badge-icon" aria-hidden="true">{health.icon()}</span>
            {text}
        </span>
    }
}
