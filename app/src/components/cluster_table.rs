use leptos::prelude::*;

use super::{Health, StatusBadge};
use crate::model::{ClusterStatus, Probe};

/// One row per cluster: whether its apiserver answers, and the facts that go with it.
#[component]
pub fn ClusterTable(
    /// The probe results, in configuration order.
    clusters: Vec<ClusterStatus>,
) -> impl IntoView {
    let rows = clusters.into_iter().map(|c| view! { <ClusterRow cluster=c/> }).collect_view();
    view! {
        <div class="table-wrap">
            <table class="clusters">
                <caption class="visually-hidden">"Configured clusters and whether their apiservers answer"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Cluster"</th>
                        <th scope="col">"API server"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col" class="num">"Latency"</th>
                        <th scope="col">"Checked"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn ClusterRow(cluster: ClusterStatus) -> impl IntoView {
    let ClusterStatus { name, api_url, probe, checked_at } = cluster;
    let row_key = name.clone();
    let checked_text = checked_at.replace('T', " ");
    let state = if probe.is_reachable() { "reachable" } else { "unreachable" };
    let cells = match probe {
        Probe::Reachable { version, latency_ms } => view! {
            <td><StatusBadge health=Health::Ok text="reachable"/></td>
            <th scope="row" class="mono">{name}</th>
            <td class="mono">{api_url}</td>
            <td class="mono">{version}</td>
            <td class="num mono">{format!("{latency_ms} ms")}</td>
        }
        .into_any(),
        Probe::Unreachable { reason, detail } => view! {
            <td><StatusBadge health=Health::Bad text="unreachable"/></td>
            <th scope="row" class="mono">{name}</th>
            <td class="mono">{api_url}</td>
            <td colspan="2" class="reason">
                <strong>{reason.label()}</strong>
                {(!detail.is_empty()).then(|| view! { <span class="detail">{detail}</span> })}
            </td>
        }
        .into_any(),
    };
    view! {
        <tr data-cluster=row_key data-state=state>
            {cells}
            <td><time datetime=checked_at>{checked_text}</time></td>
        </tr>
    }
}
