//! The doctor's findings, most severe first, each with its evidence (linked) and the fix to try.

use leptos::prelude::*;

use crate::{
    components::{Health, StatusBadge},
    model::doctor::{EvidenceView, FindingView, Severity},
};

/// The badge of a severity: icon + word + color.
pub fn severity_badge(severity: Severity) -> impl IntoView {
    let health = match severity {
        Severity::Critical => Health::Bad,
        Severity::Warning => Health::Warn,
        Severity::Info => Health::Unknown,
    };
    view! { <StatusBadge health text=severity.label()/> }
}

fn evidence_item(e: EvidenceView) -> impl IntoView {
    let who = if e.object.namespace.is_empty() {
        format!("{} {}", e.object.kind, e.object.name)
    } else {
        format!("{} {}/{}", e.object.kind, e.object.namespace, e.object.name)
    };
    let object = match e.object.href {
        Some(href) => view! { <a class="mono" href=href>{who}</a> }.into_any(),
        None => view! { <span class="mono">{who}</span> }.into_any(),
    };
    view! {
        <li>
            {object}
            " · "
            <span class="mono field">{e.field}</span>
            ": "
            <span class="detail">{e.detail}</span>
        </li>
    }
}

/// The FINDINGS section of the Service page: "No problems found" plainly when there are none. The findings
/// come sorted from the server (most severe first) and are shown in that order.
#[component]
pub fn Findings(
    /// The findings, most severe first.
    findings: Vec<FindingView>,
) -> impl IntoView {
    if findings.is_empty() {
        return view! {
            <section id="findings" class="findings svc-section" aria-labelledby="findings-title">
                <h2 id="findings-title">"Findings"</h2>
                <p class="no-findings">
                    <StatusBadge health=Health::Ok text="OK"/>
                    " No problems found."
                </p>
            </section>
        }
        .into_any();
    }
    let count = findings.len();
    let items = findings
        .into_iter()
        .map(|f| {
            let class = format!("finding finding-{}", f.severity.as_str());
            view! {
                <li class=class data-code=f.code>
                    <p class="finding-title">{severity_badge(f.severity)} " " <strong>{f.title}</strong></p>
                    <ul class="evidence" aria-label="Evidence">
                        {f.evidence.into_iter().map(evidence_item).collect_view()}
                    </ul>
                    <p class="fix"><span class="fix-label">"Fix: "</span>{f.fix}</p>
                </li>
            }
        })
        .collect_view();
    view! {
        <section id="findings" class="findings svc-section" aria-labelledby="findings-title">
            <h2 id="findings-title">"Findings " <span class="count">{format!("({count})")}</span></h2>
            <ol class="finding-list">{items}</ol>
        </section>
    }
    .into_any()
}
