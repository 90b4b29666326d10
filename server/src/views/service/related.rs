//! What sits around a Service, for its page: the routes that send to it, the workloads owning its pods, their
//! HPA, the PDBs and NetworkPolicies covering the pods, and recent Events. Pure: time comes in as `now`.

use std::collections::{BTreeMap, BTreeSet};

use fleetpane_app::model::services::{
    EventView, HpaView, NetworkPolicyView, PdbView, RouteRuleView, RouteView, When, WorkloadView,
};
use jiff::Timestamp;

use crate::{
    diagnose::from_rows::WorkloadIndex,
    watch::rows::{
        BackendRow, EventRow, HpaRow, HttpRouteRow, IngressRow, Labels, NetworkPolicyRow, PdbRow, PodRow,
        PolicyRuleRow, ServiceRow, WorkloadKind, WorkloadRow,
    },
};

/// `2h16m`, `45s`, `3d4h`: how long before `now` `then` was. A time after `now` (clock skew) is `0s`.
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{m}m"),
        3_600..86_400 if m == 0 => format!("{h}h"),
        3_600..86_400 => format!("{h}h{m}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d{h}h"),
    }
}

/// A moment for the page: RFC 3339 to the second, and how long before `now` (empty without `now`).
pub fn when(then: Timestamp, now: Option<Timestamp>) -> When {
    When {
        at: then.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ago: now.map(|now| ago(then, now)).unwrap_or_default(),
    }
}

fn value_set(rest: &str) -> Option<Vec<&str>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(str::trim).filter(|v| !v.is_empty()).collect())
}

/// Whether a selector written as [`crate::watch::rows::selector_text`] writes it (`app=web,tier in (a,b),
/// env notin (dev),!canary,team`) selects `labels`. Empty selects everything. `None`: not in that form (then
/// the page cannot tell, and says nothing rather than guess).
pub fn selector_text_matches(text: &str, labels: &Labels) -> Option<bool> {
    let mut all = true;
    for term in crate::watch::rows::selector_terms(text) {
        let ok = if let Some((key, rest)) = term.split_once(" notin ") {
            let set = value_set(rest)?;
            labels.get(key.trim()).is_none_or(|v| !set.contains(&v.as_str()))
        } else if let Some((key, rest)) = term.split_once(" in ") {
            let set = value_set(rest)?;
            labels.get(key.trim()).is_some_and(|v| set.contains(&v.as_str()))
        } else if term.contains(' ') || term.contains('(') {
            return None;
        } else if let Some(key) = term.strip_prefix('!') {
            !labels.contains_key(key)
        } else if let Some((k, v)) = term.split_once("!=") {
            labels.get(k).is_none_or(|x| x != v)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels.get(k).is_some_and(|x| x == v)
        } else {
            labels.contains_key(term)
        };
        all &= ok;
    }
    Some(all)
}

/// How many of `pods` a selector text selects (an unparseable one selects none).
fn count_selected(text: &str, pods: &[&PodRow]) -> u32 {
    let n = pods.iter().filter(|p| selector_text_matches(text, &p.labels) == Some(true)).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether the Service has the port a route names (a number is the Service `port`, a name a port's name).
fn service_has_port(svc: &ServiceRow, port: &str) -> bool {
    match port.parse::<i32>() {
        Ok(n) => svc.ports.iter().any(|p| p.port == n),
        Err(_) => svc.ports.iter().any(|p| p.name.as_deref() == Some(port)),
    }
}

fn ingress_rule(svc: &ServiceRow, matches: String, backend: &BackendRow) -> Option<RouteRuleView> {
    (backend.service.as_deref() == Some(svc.name.as_str())).then(|| RouteRuleView {
        matches,
        port: backend.port.clone(),
        port_found: backend.port.as_deref().is_none_or(|p| service_has_port(svc, p)),
        weight: None,
    })
}

/// The Ingresses of the Service's namespace with a path (or default backend) sending to it, by name.
pub fn ingresses(svc: &ServiceRow, ingresses: &[&IngressRow]) -> Vec<RouteView> {
    let mut out: Vec<RouteView> = ingresses
        .iter()
        .filter(|i| i.namespace == svc.namespace)
        .filter_map(|i| {
            let mut rules: Vec<RouteRuleView> = i
                .routes
                .iter()
                .filter_map(|r| {
                    let host = r.host.as_deref().unwrap_or("*");
                    let path = r.path.as_deref().unwrap_or("/");
                    ingress_rule(svc, format!("{host}{path} ({})", r.path_type), &r.backend)
                })
                .collect();
            rules.extend(
                i.default_backend.as_ref().and_then(|b| ingress_rule(svc, "default backend".to_owned(), b)),
            );
            (!rules.is_empty()).then(|| RouteView {
                kind: "Ingress".to_owned(),
                namespace: i.namespace.clone(),
                name: i.name.clone(),
                rules,
                via: i.class.as_ref().map(|c| format!("class {c}")),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The HTTPRoutes (of any namespace) with a Service `backendRef` to this Service, by namespace and name.
pub fn http_routes(svc: &ServiceRow, routes: &[&HttpRouteRow]) -> Vec<RouteView> {
    let mut out: Vec<RouteView> = routes
        .iter()
        .filter_map(|r| {
            let rules: Vec<RouteRuleView> = r
                .rules
                .iter()
                .flat_map(|rule| {
                    let matches = if rule.matches.is_empty() {
                        "everything".to_owned()
                    } else {
                        rule.matches.join(" | ")
                    };
                    rule.backend_refs
                        .iter()
                        .filter(|b| b.kind == "Service" && b.namespace == svc.namespace && b.name == svc.name)
                        .map(move |b| RouteRuleView {
                            matches: matches.clone(),
                            port: b.port.map(|p| p.to_string()),
                            port_found: b.port.is_none_or(|p| svc.ports.iter().any(|sp| sp.port == p)),
                            weight: b.weight,
                        })
                })
                .collect();
            (!rules.is_empty()).then(|| RouteView {
                kind: "HTTPRoute".to_owned(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                rules,
                via: (!r.parents.is_empty()).then(|| r.parents.join(", ")),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

/// The pods' controlling owners, `(kind, name)` → how many pods, from [`PodRow::owner`] (`Kind/name`).
pub fn owners(pods: &[&PodRow]) -> BTreeMap<(String, String), u32> {
    let mut out: BTreeMap<(String, String), u32> = BTreeMap::new();
    for owner in pods.iter().filter_map(|p| p.owner.as_deref()) {
        if let Some((kind, name)) = owner.split_once('/') {
            *out.entry((kind.to_owned(), name.to_owned())).or_default() += 1;
        }
    }
    out
}

/// The workloads as the pods' owners name them, without looking any up (a ReplicaSet stays a ReplicaSet).
pub fn owner_workloads(pods: &[&PodRow]) -> Vec<WorkloadView> {
    owners(pods)
        .into_iter()
        .map(|((kind, name), pods)| WorkloadView { kind, name, replicas: None, pods, note: None })
        .collect()
}

/// Owners whose workload the cached rows cannot tell, `(kind, name)` → how many pods: for a live lookup.
pub type UnknownOwners = BTreeMap<(String, String), u32>;

/// The workloads owning `pods` (the Service's backing pods) as the cached `workloads` tell, where the person may
/// read that kind: a ReplicaSet `<deployment>-<hash>` is shown as that Deployment when it exists and selects
/// its pods, a StatefulSet or DaemonSet with its ready/desired replicas. Owners the rows cannot tell are
/// returned apart, for a live lookup. Workloads whose pod template the selector matches but that own none of
/// `pods` (scaled to zero, or failing to create pods) come last, with 0 pods: the doctor names them.
pub fn cached_workloads(
    svc: &ServiceRow,
    pods: &[&PodRow],
    workloads: &WorkloadIndex<'_>,
) -> (Vec<WorkloadView>, UnknownOwners) {
    let ns = svc.namespace.as_str();
    let replicas = |w: &WorkloadRow| Some(format!("{}/{}", w.ready, w.desired));
    let mut views = Vec::new();
    let mut unknown = UnknownOwners::new();
    for ((kind, name), count) in owners(pods) {
        let owned = format!("{kind}/{name}");
        let known = match kind.as_str() {
            "ReplicaSet" => pods
                .iter()
                .find(|p| p.owner.as_deref() == Some(owned.as_str()))
                .and_then(|p| workloads.owner(p))
                .filter(|o| o.kind == "Deployment" && workloads.readable(WorkloadKind::Deployment, ns))
                .and_then(|o| workloads.get(ns, WorkloadKind::Deployment, &o.name))
                .map(|d| WorkloadView {
                    kind: "Deployment".to_owned(),
                    name: d.name.clone(),
                    replicas: replicas(d),
                    pods: count,
                    note: Some(format!("through ReplicaSet {name}")),
                }),
            "StatefulSet" | "DaemonSet" => {
                let k =
                    if kind == "StatefulSet" { WorkloadKind::StatefulSet } else { WorkloadKind::DaemonSet };
                workloads.readable(k, ns).then(|| WorkloadView {
                    replicas: workloads.get(ns, k, &name).and_then(replicas),
                    kind: kind.clone(),
                    name: name.clone(),
                    pods: count,
                    note: None,
                })
            }
            _ => None,
        };
        match known {
            Some(view) => views.push(view),
            None => {
                unknown.insert((kind, name), count);
            }
        }
    }
    let owning: BTreeSet<(String, String)> =
        pods.iter().filter_map(|p| workloads.owner(p)).map(|o| (o.kind, o.name)).collect();
    for w in workloads.templated(ns, &svc.selector) {
        if !owning.contains(&(w.kind.as_str().to_owned(), w.name.clone())) {
            views.push(WorkloadView {
                kind: w.kind.as_str().to_owned(),
                name: w.name.clone(),
                replicas: replicas(w),
                pods: 0,
                note: (w.desired == 0).then(|| "scaled to zero".to_owned()),
            });
        }
    }
    (views, unknown)
}

/// The Deployment that a ReplicaSet named by the Deployment controller (`<deployment>-<hash>`) belongs to.
fn deployment_of_replica_set(name: &str) -> Option<&str> {
    name.rsplit_once('-').map(|(deployment, _)| deployment)
}

/// The HPAs that scale one of the workloads (a ReplicaSet whose Deployment is unknown matches an HPA on
/// the Deployment its name points at).
pub fn hpas(hpas: &[&HpaRow], workloads: &[WorkloadView]) -> Vec<HpaView> {
    let scales = |target: &str| {
        workloads.iter().any(|w| {
            target == format!("{}/{}", w.kind, w.name)
                || (w.kind == "ReplicaSet"
                    && deployment_of_replica_set(&w.name)
                        .is_some_and(|d| target == format!("Deployment/{d}")))
        })
    };
    hpas.iter()
        .filter(|h| scales(&h.target))
        .map(|h| HpaView {
            name: h.name.clone(),
            target: h.target.clone(),
            min: h.min_replicas,
            max: h.max_replicas,
            current: h.current_replicas,
            desired: h.desired_replicas,
            metrics: h
                .metrics
                .iter()
                .map(|m| format!("{} {}/{}", m.metric, m.current.as_deref().unwrap_or("?"), m.target))
                .collect(),
            problems: h
                .conditions
                .iter()
                .filter(|c| c.status != "True")
                .map(|c| {
                    let mut line = format!("{}={}", c.type_, c.status);
                    if let Some(r) = &c.reason {
                        line.push_str(&format!(": {r}"));
                    }
                    if let Some(m) = c.message.as_deref().filter(|m| !m.is_empty()) {
                        line.push_str(&format!(": {m}"));
                    }
                    line
                })
                .collect(),
        })
        .collect()
}

/// The PDBs of the namespace whose selector covers at least one backing pod.
pub fn pdbs(svc: &ServiceRow, pdbs: &[&PdbRow], pods: &[&PodRow]) -> Vec<PdbView> {
    pdbs.iter()
        .filter(|p| p.namespace == svc.namespace)
        .map(|p| (p, count_selected(&p.selector, pods)))
        .filter(|(_, covers)| *covers > 0)
        .map(|(p, covers)| PdbView {
            name: p.name.clone(),
            selector: p.selector.clone(),
            budget: match (&p.min_available, &p.max_unavailable) {
                (Some(min), _) => format!("minAvailable {min}"),
                (None, Some(max)) => format!("maxUnavailable {max}"),
                (None, None) => "no budget".to_owned(),
            },
            disruptions_allowed: p.disruptions_allowed,
            current_healthy: p.current_healthy,
            desired_healthy: p.desired_healthy,
            expected_pods: p.expected_pods,
            covers,
        })
        .collect()
}

fn rule_line(direction: &str, rule: &PolicyRuleRow) -> String {
    let peers = if rule.peers.is_empty() { "anyone".to_owned() } else { rule.peers.join("; ") };
    let ports = if rule.ports.is_empty() { "every port".to_owned() } else { rule.ports.join(", ") };
    format!("{direction} {peers} on {ports}")
}

/// The NetworkPolicies of the namespace that select at least one backing pod. Without readable pods, the
/// Service's selector stands in for the pods' labels (every backing pod carries those).
pub fn network_policies(
    svc: &ServiceRow,
    policies: &[&NetworkPolicyRow],
    pods: Option<&[&PodRow]>,
) -> Vec<NetworkPolicyView> {
    let stand_in = PodRow { labels: svc.selector.clone(), ..Default::default() };
    let stand_ins = [&stand_in];
    let pods = pods.unwrap_or(&stand_ins);
    policies
        .iter()
        .filter(|p| p.namespace == svc.namespace)
        .map(|p| (p, count_selected(&p.pod_selector, pods)))
        .filter(|(_, n)| *n > 0)
        .map(|(p, selects)| NetworkPolicyView {
            name: p.name.clone(),
            pod_selector: p.pod_selector.clone(),
            policy_types: p.policy_types.clone(),
            ingress: p.ingress.iter().map(|r| rule_line("from", r)).collect(),
            egress: p.egress.iter().map(|r| rule_line("to", r)).collect(),
            selects,
        })
        .collect()
}

fn event_view(e: &EventRow, now: Option<Timestamp>) -> EventView {
    EventView {
        object: format!(
            "{}/{}",
            e.object_kind.as_deref().unwrap_or("?"),
            e.object_name.as_deref().unwrap_or("?")
        ),
        type_: e.type_.clone().unwrap_or_else(|| "Normal".to_owned()),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        count: e.count,
        last_seen: e.last_seen.map(|t| when(t, now)),
        source: e.source.clone(),
    }
}

fn about(e: &EventRow, namespace: &str, kind: &str, names: &BTreeSet<&str>) -> bool {
    e.object_kind.as_deref() == Some(kind)
        && e.object_namespace.as_deref().is_none_or(|ns| ns == namespace)
        && e.object_name.as_deref().is_some_and(|n| names.contains(n))
}

fn newest_first(mut events: Vec<&EventRow>, now: Option<Timestamp>) -> Vec<EventView> {
    events.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.name.cmp(&b.name)));
    events.into_iter().map(|e| event_view(e, now)).collect()
}

/// The Events of the Service and its EndpointSlices, and the Warnings of its backing pods, newest first.
pub fn events(
    svc: &ServiceRow,
    slices: &[&str],
    pods: &[&PodRow],
    events: &[&EventRow],
    now: Option<Timestamp>,
) -> Vec<EventView> {
    let service: BTreeSet<&str> = [svc.name.as_str()].into();
    let slices: BTreeSet<&str> = slices.iter().copied().collect();
    let pods: BTreeSet<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    let ns = svc.namespace.as_str();
    let keep = events
        .iter()
        .copied()
        .filter(|e| e.namespace == ns)
        .filter(|e| {
            about(e, ns, "Service", &service)
                || about(e, ns, "EndpointSlice", &slices)
                || (about(e, ns, "Pod", &pods) && e.type_.as_deref() == Some("Warning"))
        })
        .collect();
    newest_first(keep, now)
}

/// One pod's recent `Unhealthy` and `BackOff` Events, newest first.
pub fn pod_events(pod: &PodRow, events: &[&EventRow], now: Option<Timestamp>) -> Vec<EventView> {
    let name: BTreeSet<&str> = [pod.name.as_str()].into();
    let keep = events
        .iter()
        .copied()
        .filter(|e| e.namespace == pod.namespace && about(e, &pod.namespace, "Pod", &name))
        .filter(|e| matches!(e.reason.as_deref(), Some("Unhealthy" | "BackOff")))
        .collect();
    newest_first(keep, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::tests::{labels, mk_pod, mk_port, mk_service};
    use crate::watch::rows::{BackendRefRow, ConditionRow, HpaMetricRow, HttpRouteRuleRow, IngressRouteRow};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn ages_read_short() {
        assert_eq!(ago(t(1_000), t(1_045)), "45s");
        assert_eq!(ago(t(0), t(12 * 60 + 5)), "12m");
        assert_eq!(ago(t(0), t(2 * 3_600 + 16 * 60)), "2h16m");
        assert_eq!(ago(t(0), t(3_600)), "1h");
        assert_eq!(ago(t(0), t(3 * 86_400 + 4 * 3_600)), "3d4h");
        assert_eq!(ago(t(0), t(86_400)), "1d");
        assert_eq!(ago(t(100), t(50)), "0s", "skew");
        let w =
            when("2026-11-26T11:50:22.5Z".parse().unwrap(), Some("2026-11-26T12:50:22Z".parse().unwrap()));
        assert_eq!((w.at.as_str(), w.ago.as_str()), ("2026-11-26T11:50:22Z", "1h"));
        assert_eq!(when(t(0), None).ago, "");
    }

    #[test]
    fn selector_texts_match_like_kubernetes() {
        let l = labels(&[("app", "web"), ("tier", "a"), ("team", "x")]);
        let m = |s: &str| selector_text_matches(s, &l);
        assert_eq!(m(""), Some(true), "empty selects everything");
        assert_eq!(m("app=web"), Some(true));
        assert_eq!(m("app==web,tier=a"), Some(true));
        assert_eq!(m("app=api"), Some(false));
        assert_eq!(m("app!=api"), Some(true));
        assert_eq!(m("tier in (a,b)"), Some(true));
        assert_eq!(m("tier in (b,c)"), Some(false));
        assert_eq!(m("app=web,tier notin (b),!canary,team"), Some(true));
        assert_eq!(m("tier notin (a)"), Some(false));
        assert_eq!(m("env notin (dev)"), Some(true), "absent key is not in the set");
        assert_eq!(m("!team"), Some(false));
        assert_eq!(m("env"), Some(false));
        assert_eq!(m("tier Gt (3)"), None, "an operator the form does not have");
    }

    fn mk_ingress(rules: Vec<(&str, &str, Option<&str>)>) -> IngressRow {
        IngressRow {
            namespace: "team-a".into(),
            name: "web".into(),
            routes: rules
                .into_iter()
                .map(|(path, svc, port)| IngressRouteRow {
                    host: None,
                    path: Some(path.into()),
                    path_type: "Prefix".into(),
                    backend: BackendRow {
                        service: Some(svc.into()),
                        port: port.map(Into::into),
                        resource: None,
                    },
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ingresses_that_send_to_the_service_with_port_checks() {
        let mut svc = mk_service("team-a", "checkout");
        svc.ports = vec![mk_port(Some("http"), 80, Some("http")), mk_port(Some("grpc"), 9090, Some("grpc"))];
        let web = mk_ingress(vec![
            ("/", "frontend", Some("80")),
            ("/checkout", "checkout", Some("80")),
            ("/rpc", "checkout", Some("grpc")),
            ("/old", "checkout", Some("8443")),
        ]);
        let mut other_ns = mk_ingress(vec![("/", "checkout", Some("80"))]);
        other_ns.namespace = "team-b".into();
        let mut default_only = IngressRow { name: "fallback".into(), ..mk_ingress(vec![]) };
        default_only.default_backend =
            Some(BackendRow { service: Some("checkout".into()), port: Some("http".into()), resource: None });
        let unrelated = mk_ingress(vec![("/", "frontend", Some("80"))]);
        let out = ingresses(&svc, &[&web, &other_ns, &default_only, &unrelated]);
        assert_eq!(out.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["fallback", "web"]);
        assert_eq!(out[0].rules[0].matches, "default backend");
        let rules = &out[1].rules;
        assert_eq!(
            rules.iter().map(|r| (r.matches.as_str(), r.port.as_deref(), r.port_found)).collect::<Vec<_>>(),
            [
                ("*/checkout (Prefix)", Some("80"), true),
                ("*/rpc (Prefix)", Some("grpc"), true),
                ("*/old (Prefix)", Some("8443"), false),
            ]
        );
    }

    #[test]
    fn http_routes_match_service_backend_refs_across_namespaces() {
        let svc = mk_service("team-a", "checkout");
        let backend = |ns: &str, name: &str, port: Option<i32>| BackendRefRow {
            kind: "Service".into(),
            namespace: ns.into(),
            name: name.into(),
            port,
            weight: Some(90),
        };
        let route = HttpRouteRow {
            namespace: "edge".into(),
            name: "shop".into(),
            parents: vec!["Gateway/infra/edge".into()],
            rules: vec![
                HttpRouteRuleRow {
                    matches: vec!["PathPrefix /api".into()],
                    backend_refs: vec![
                        backend("team-a", "checkout", Some(80)),
                        backend("edge", "checkout", None),
                    ],
                    ..Default::default()
                },
                HttpRouteRuleRow {
                    backend_refs: vec![backend("team-a", "checkout", Some(81))],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = http_routes(&svc, &[&route]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].via.as_deref(), Some("Gateway/infra/edge"));
        assert_eq!(
            out[0].rules.iter().map(|r| (r.matches.as_str(), r.port_found)).collect::<Vec<_>>(),
            [("PathPrefix /api", true), ("everything", false)],
            "same-named Service of another namespace is not this one; port 81 is missing"
        );
        assert!(http_routes(&svc, &[]).is_empty());
    }

    fn mk_hpa(target: &str) -> HpaRow {
        HpaRow {
            namespace: "team-a".into(),
            name: "checkout".into(),
            target: target.into(),
            min_replicas: 2,
            max_replicas: 6,
            current_replicas: Some(3),
            desired_replicas: Some(3),
            metrics: vec![HpaMetricRow {
                metric: "resource cpu".into(),
                target: "70%".into(),
                current: None,
            }],
            conditions: vec![
                ConditionRow { type_: "AbleToScale".into(), status: "True".into(), ..Default::default() },
                ConditionRow {
                    type_: "ScalingActive".into(),
                    status: "False".into(),
                    reason: Some("FailedGetResourceMetric".into()),
                    message: Some("no metrics".into()),
                },
            ],
        }
    }

    #[test]
    fn hpa_of_the_owning_workload_even_through_an_unresolved_replica_set() {
        let hpa = mk_hpa("Deployment/checkout");
        let deployment = WorkloadView {
            kind: "Deployment".into(),
            name: "checkout".into(),
            replicas: None,
            pods: 3,
            note: None,
        };
        let out = hpas(&[&hpa], std::slice::from_ref(&deployment));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].min, out[0].max, out[0].current), (2, 6, Some(3)));
        assert_eq!(out[0].metrics, ["resource cpu ?/70%"]);
        assert_eq!(out[0].problems, ["ScalingActive=False: FailedGetResourceMetric: no metrics"]);
        let rs = WorkloadView { kind: "ReplicaSet".into(), name: "checkout-5d5d75d5b5".into(), ..deployment };
        assert_eq!(hpas(&[&hpa], std::slice::from_ref(&rs)).len(), 1);
        assert!(hpas(&[&mk_hpa("Deployment/cart")], &[rs]).is_empty());
    }

    #[test]
    fn pdb_covering_backing_pods_says_how_many_disruptions_it_allows() {
        let svc = mk_service("team-a", "checkout");
        let pods = [mk_pod("team-a", "c-1", "checkout", &[]), mk_pod("team-a", "c-2", "checkout", &[])];
        let pods: Vec<&PodRow> = pods.iter().collect();
        let pdb = PdbRow {
            namespace: "team-a".into(),
            name: "checkout".into(),
            selector: "app=checkout".into(),
            min_available: Some("2".into()),
            current_healthy: 3,
            desired_healthy: 2,
            disruptions_allowed: 1,
            expected_pods: 3,
            ..Default::default()
        };
        let other = PdbRow { name: "cart".into(), selector: "app=cart".into(), ..pdb.clone() };
        let out = pdbs(&svc, &[&pdb, &other], &pods);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].budget.as_str(), out[0].disruptions_allowed, out[0].covers),
            ("minAvailable 2", 1, 2)
        );
        let max = PdbRow { min_available: None, max_unavailable: Some("25%".into()), ..pdb };
        assert_eq!(pdbs(&svc, &[&max], &pods)[0].budget, "maxUnavailable 25%");
    }

    #[test]
    fn network_policies_selecting_the_pods_or_the_selector_when_pods_are_hidden() {
        let mut svc = mk_service("team-b", "inventory");
        svc.selector = labels(&[("app", "inventory")]);
        let pod = mk_pod("team-b", "inv-1", "inventory", &[]);
        let deny = NetworkPolicyRow {
            namespace: "team-b".into(),
            name: "default-deny".into(),
            policy_types: vec!["Ingress".into()],
            ..Default::default()
        };
        let allow = NetworkPolicyRow {
            name: "allow-frontend".into(),
            pod_selector: "app=inventory".into(),
            ingress: vec![PolicyRuleRow {
                peers: vec!["namespaces kubernetes.io/metadata.name=team-a, pods app=frontend".into()],
                ports: vec!["TCP 8080".into()],
                ..Default::default()
            }],
            ..deny.clone()
        };
        let other = NetworkPolicyRow { name: "db".into(), pod_selector: "app=db".into(), ..deny.clone() };
        let out = network_policies(&svc, &[&deny, &allow, &other], Some(&[&pod]));
        assert_eq!(
            out.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["default-deny", "allow-frontend"]
        );
        assert_eq!(out[0].ingress, Vec::<String>::new(), "deny-all: no rule");
        assert_eq!(
            out[1].ingress,
            ["from namespaces kubernetes.io/metadata.name=team-a, pods app=frontend on TCP 8080"]
        );
        assert_eq!(network_policies(&svc, &[&deny, &allow, &other], None).len(), 2);
    }

    #[test]
    fn events_of_service_slices_and_pod_warnings_newest_first() {
        let svc = mk_service("team-a", "checkout");
        let pod = mk_pod("team-a", "checkout-1", "checkout", &[]);
        let ev = |name: &str, kind: &str, object: &str, type_: &str, reason: &str, at: i64| EventRow {
            namespace: "team-a".into(),
            name: name.into(),
            reason: Some(reason.into()),
            type_: Some(type_.into()),
            message: Some(format!("{reason} happened")),
            count: 2,
            last_seen: Some(t(at)),
            object_kind: Some(kind.into()),
            object_namespace: Some("team-a".into()),
            object_name: Some(object.into()),
            source: Some("kubelet".into()),
        };
        let all = [
            ev("e1", "Service", "checkout", "Normal", "Created", 100),
            ev("e2", "EndpointSlice", "checkout-abc", "Warning", "FailedToUpdate", 300),
            ev("e3", "Pod", "checkout-1", "Warning", "Unhealthy", 200),
            ev("e4", "Pod", "checkout-1", "Normal", "Pulled", 400),
            ev("e5", "Pod", "checkout-1", "Warning", "BackOff", 150),
            ev("e6", "Service", "cart", "Normal", "Created", 500),
            ev("e7", "Pod", "cart-1", "Warning", "Unhealthy", 500),
        ];
        let all: Vec<&EventRow> = all.iter().collect();
        let out = events(&svc, &["checkout-abc"], &[&pod], &all, Some(t(400)));
        assert_eq!(
            out.iter().map(|e| (e.object.as_str(), e.reason.as_str())).collect::<Vec<_>>(),
            [
                ("EndpointSlice/checkout-abc", "FailedToUpdate"),
                ("Pod/checkout-1", "Unhealthy"),
                ("Pod/checkout-1", "BackOff"),
                ("Service/checkout", "Created"),
            ]
        );
        assert_eq!(out[0].last_seen.as_ref().map(|w| w.ago.as_str()), Some("1m"));
        let per_pod = pod_events(&pod, &all, None);
        assert_eq!(per_pod.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), ["Unhealthy", "BackOff"]);
    }

    fn mk_workload(kind: WorkloadKind, name: &str, app: &str, desired: i32, ready: i32) -> WorkloadRow {
        WorkloadRow {
            kind,
            namespace: "ns".into(),
            name: name.into(),
            desired,
            ready,
            selector: crate::watch::rows::SelectorRow {
                match_labels: labels(&[("app", app)]),
                ..Default::default()
            },
            template_labels: labels(&[("app", app)]),
            ..Default::default()
        }
    }

    #[test]
    fn workloads_come_from_the_rows_where_readable_and_the_rest_is_looked_up() {
        use crate::access::Scope;
        let svc = mk_service("ns", "web");
        let mut a = mk_pod("ns", "web-1", "web", &[]);
        a.owner = Some("ReplicaSet/web-5d5d75d5b5".into());
        a.labels.insert("pod-template-hash".into(), "5d5d75d5b5".into());
        let mut b = mk_pod("ns", "web-2", "web", &[]);
        b.owner = Some("StatefulSet/web-cache".into());
        let mut c = mk_pod("ns", "web-3", "web", &[]);
        c.owner = Some("Job/web-migrate".into());
        let deployments = [
            mk_workload(WorkloadKind::Deployment, "web", "web", 3, 2),
            // Its template matches the selector, and it has no pod: scaled to zero.
            mk_workload(WorkloadKind::Deployment, "web-canary", "web", 0, 0),
            mk_workload(WorkloadKind::Deployment, "api", "api", 0, 0),
        ];
        let mut index = WorkloadIndex::default();
        index.add(WorkloadKind::Deployment, Scope::All, &deployments);
        // StatefulSets are not readable here: looked up live (which says why it cannot, if it cannot).
        index.add(WorkloadKind::StatefulSet, Scope::Namespaces(Default::default()), []);
        let (views, unknown) = cached_workloads(&svc, &[&a, &b, &c], &index);
        let shown: Vec<_> = views
            .iter()
            .map(|w| (w.kind.as_str(), w.name.as_str(), w.replicas.as_deref(), w.pods, w.note.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("Deployment", "web", Some("2/3"), 1, Some("through ReplicaSet web-5d5d75d5b5")),
                ("Deployment", "web-canary", Some("0/0"), 0, Some("scaled to zero")),
            ]
        );
        assert_eq!(
            unknown.into_iter().collect::<Vec<_>>(),
            [
                (("Job".to_owned(), "web-migrate".to_owned()), 1),
                (("StatefulSet".to_owned(), "web-cache".to_owned()), 1)
            ]
        );
        // No workload rows at all: every owner is looked up, as before the caches.
        let (views, unknown) = cached_workloads(&svc, &[&a, &b], &WorkloadIndex::default());
        assert!(views.is_empty());
        assert_eq!(unknown.len(), 2);
    }

    #[test]
    fn owners_count_pods_and_name_replica_set_deployments() {
        let mut a = mk_pod("ns", "a", "x", &[]);
        a.owner = Some("ReplicaSet/checkout-5d5d75d5b5".into());
        let mut b = a.clone();
        b.name = "b".into();
        let mut c = mk_pod("ns", "c", "x", &[]);
        c.owner = Some("StatefulSet/cache".into());
        let d = mk_pod("ns", "d", "x", &[]);
        let w = owner_workloads(&[&a, &b, &c, &d]);
        assert_eq!(
            w.iter().map(|w| (w.kind.as_str(), w.name.as_str(), w.pods)).collect::<Vec<_>>(),
            [("ReplicaSet", "checkout-5d5d75d5b5", 2), ("StatefulSet", "cache", 1)]
        );
        assert_eq!(deployment_of_replica_set("checkout-5d5d75d5b5"), Some("checkout"));
    }
}
