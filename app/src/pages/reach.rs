use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::reach,
    components::{ErrorTemplate, Health as Badge, StatusBadge},
    model::reach::{PodAnswer, ReachAnswer, ReachRequest, Reachability, SideAnswer},
};

/// The question as the URL carries it (`?cluster=&from_pod=&from_namespace=&from_labels=&to_service=&port=`).
fn request_from(get: impl Fn(&str) -> Option<String>) -> ReachRequest {
    ReachRequest {
        cluster: get("cluster").unwrap_or_default(),
        from_pod: get("from_pod").unwrap_or_default(),
        from_namespace: get("from_namespace").unwrap_or_default(),
        from_labels: get("from_labels").unwrap_or_default(),
        to_service: get("to_service").unwrap_or_default(),
        port: get("port").unwrap_or_default(),
    }
}

fn badge(r: Reachability) -> Badge {
    match r {
        Reachability::Allowed => Badge::Ok,
        Reachability::Partial => Badge::Warn,
        Reachability::Denied => Badge::Bad,
        Reachability::Unknown => Badge::Unknown,
    }
}

/// `/reach`: "Can A reach B" — a GET form (works without JavaScript) and the answer.
#[component]
pub fn ReachPage() -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| query.with(|q| request_from(|k| q.get(k))));
    let answer = crate::wire::resource(move || request.get(), reach);
    let field = move |get: fn(&ReachRequest) -> String| request.with_untracked(get);
    view! {
        <Title text="Can A reach B · Fleetpane"/>
        <section class="page-head">
            <h1>"Can A reach B?"</h1>
        </section>
        <p class="hint">
            "Evaluates every NetworkPolicy of the two namespaces: egress of the source, ingress of each pod behind the Service."
        </p>
        <form method="get" action="/reach" class="reach-form" aria-label="Reachability question">
            <fieldset>
                <legend>"Where"</legend>
                <label for="reach-cluster">"Cluster"</label>
                <input id="reach-cluster" name="cluster" required placeholder="prod-eu"
                    value=field(|r| r.cluster.clone())/>
            </fieldset>
            <fieldset>
                <legend>"Source: a pod, or a namespace with labels"</legend>
                <label for="reach-from-pod">"Pod (namespace/name)"</label>
                <input id="reach-from-pod" name="from_pod" class="mono" placeholder="team-a/frontend-7d9f-abcde"
                    value=field(|r| r.from_pod.clone())/>
                <span class="or">" or "</span>
                <label for="reach-from-namespace">"Namespace"</label>
                <input id="reach-from-namespace" name="from_namespace" class="mono" placeholder="team-a"
                    value=field(|r| r.from_namespace.clone())/>
                <label for="reach-from-labels">"Labels"</label>
                <input id="reach-from-labels" name="from_labels" class="mono" placeholder="app=frontend"
                    value=field(|r| r.from_labels.clone())/>
            </fieldset>
            <fieldset>
                <legend>"Destination"</legend>
                <label for="reach-to-service">"Service (namespace/name)"</label>
                <input id="reach-to-service" name="to_service" class="mono" placeholder="team-b/inventory"
                    value=field(|r| r.to_service.clone())/>
                <label for="reach-port">"Port (number or name)"</label>
                <input id="reach-port" name="port" class="mono" size="8" placeholder="80"
                    value=field(|r| r.port.clone())/>
            </fieldset>
            <button type="submit" class="button">"Check"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Evaluating…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || Suspend::new(async move {
                    answer.await.map(|a| a.map(|answer| view! { <Answer answer/> }))
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Answer(answer: ReachAnswer) -> impl IntoView {
    let unreadable = (!answer.unreadable.is_empty()).then(|| {
        let items = answer.unreadable.into_iter().map(|u| view! { <li>{u}</li> }).collect_view();
        view! {
            <div class="error-panel" role="status">
                <p>"Not readable with your access, so Fleetpane does not guess:"</p>
                <ul>{items}</ul>
            </div>
        }
    });
    let notes = answer.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view();
    let pods = answer.pods.into_iter().map(|pod| view! { <PodRow pod/> }).collect_view();
    view! {
        <section class="reach-answer" aria-label="Answer" data-verdict=format!("{:?}", answer.verdict)>
            <p class="verdict">
                <StatusBadge health=badge(answer.verdict) text=answer.verdict.label()/>
                " "
                <span class="reach-summary">{answer.summary}</span>
            </p>
            <p>"From " <span class="mono">{answer.source}</span> " to " <span class="mono">{answer.destination}</span></p>
            {unreadable}
            <ul class="notes">{notes}</ul>
            <div class="table-wrap">
                <table class="reach-pods">
                    <caption class="visually-hidden">"The answer for each pod behind the Service"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Pod"</th>
                            <th scope="col">"Port"</th>
                            <th scope="col">"Answer"</th>
                            <th scope="col">"Egress of the source"</th>
                            <th scope="col">"Ingress of the pod"</th>
                        </tr>
                    </thead>
                    <tbody>{pods}</tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Side(side: Option<SideAnswer>) -> impl IntoView {
    side.map(|s| {
        let has_rules = !s.rules.is_empty();
        let rules = s
            .rules
            .into_iter()
            .map(|r| {
                let caveat = r.caveat.map(|c| view! { <span class="detail">" ⚠ " {c}</span> });
                view! {
                    <li>
                        <span class="mono">{format!("{} rule {}", r.policy, r.rule)}</span>
                        {format!(": peer {}, port {}", r.peer, r.port)}
                        {caveat}
                    </li>
                }
            })
            .collect_view();
        let notes = s.notes.into_iter().map(|n| view! { <li class="detail">{n}</li> }).collect_view();
        let (health, word) = if s.allowed { (Badge::Ok, "allowed") } else { (Badge::Bad, "denied") };
        // With allowing rules, the list says it all; otherwise the one-line reason.
        let text =
            if !has_rules { s.text } else { format!("selected by {}; allowed by:", s.isolating.join(", ")) };
        view! {
            <StatusBadge health text=word/>
            " "
            <span>{text}</span>
            <ul class="rules">{rules}{notes}</ul>
        }
    })
}

#[component]
fn PodRow(pod: PodAnswer) -> impl IntoView {
    let (health, word) = if pod.allowed { (Badge::Ok, "Allowed") } else { (Badge::Bad, "Denied") };
    let ip = pod.ip.map(|ip| format!(" ({ip})")).unwrap_or_default();
    let key = pod.pod.clone();
    view! {
        <tr data-pod=key data-allowed=pod.allowed.to_string()>
            <th scope="row" class="mono">{pod.pod}{ip}</th>
            <td class="mono">{pod.port.map_or_else(|| "-".to_owned(), |p| p.to_string())}</td>
            <td>
                <StatusBadge health text=word/>
                {pod.problem.map(|p| view! { <span class="detail">" " {p}</span> })}
            </td>
            <td><Side side=pod.egress/></td>
            <td><Side side=pod.ingress/></td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_the_question() {
        let r = request_from(|k| match k {
            "cluster" => Some("prod-eu".into()),
            "from_pod" => Some("team-a/frontend-1".into()),
            "to_service" => Some("team-b/inventory".into()),
            "port" => Some("80".into()),
            _ => None,
        });
        assert_eq!(r.cluster, "prod-eu");
        assert_eq!(r.from_pod, "team-a/frontend-1");
        assert!(r.from_namespace.is_empty() && !r.is_empty());
        assert!(request_from(|_| None).is_empty());
    }
}
