//! NetworkPolicies that select the Service's pods: do they let anyone in, and the known callers in particular?

use crate::diagnose::{
    Ctx, Evidence, Finding, ObjectRef, Severity,
    facts::{
        CallerFacts, ContainerPortFacts, LabelSelector, Labels, NetworkPolicyFacts, PeerFacts,
        PolicyPortFacts, PolicyType, PortRef,
    },
};

fn policy_ref(np: &NetworkPolicyFacts) -> ObjectRef {
    ObjectRef::new("NetworkPolicy", &np.namespace, &np.name)
}

/// Policies that restrict ingress to at least one selected pod.
fn selecting<'a>(ctx: &Ctx<'a>) -> Vec<&'a NetworkPolicyFacts> {
    ctx.facts
        .network_policies
        .iter()
        .filter(|np| {
            np.namespace == ctx.facts.service.namespace && np.policy_types.contains(&PolicyType::Ingress)
        })
        .filter(|np| ctx.selected.iter().any(|p| np.pod_selector.matches(&p.labels)))
        .collect()
}

fn show_selector(s: &LabelSelector) -> String {
    if s.match_labels.is_empty() && s.match_expressions.is_empty() {
        return "{} (all)".into();
    }
    let mut parts: Vec<String> = s.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.extend(s.match_expressions.iter().map(|r| format!("{} {:?} {:?}", r.key, r.operator, r.values)));
    parts.join(",")
}

/// A namespace's labels, with the label the apiserver always sets.
fn namespace_labels(ctx: &Ctx<'_>, name: &str) -> Labels {
    let mut labels =
        ctx.facts.namespaces.iter().find(|n| n.name == name).map(|n| n.labels.clone()).unwrap_or_default();
    if !labels.contains_key("kubernetes.io/metadata.name") {
        labels.insert("kubernetes.io/metadata.name".into(), name.to_owned());
    }
    labels
}

fn peer_admits(ctx: &Ctx<'_>, np: &NetworkPolicyFacts, peer: &PeerFacts, caller: &CallerFacts) -> bool {
    if let Some(cidr) = &peer.ip_block {
        // Pod IPs are not known here: only a block of everything certainly admits the caller.
        return cidr == "0.0.0.0/0" || cidr == "::/0";
    }
    let pods_ok = peer.pod_selector.as_ref().is_none_or(|s| s.matches(&caller.labels));
    match &peer.namespace_selector {
        Some(ns) => ns.matches(&namespace_labels(ctx, &caller.namespace)) && pods_ok,
        None => peer.pod_selector.is_some() && caller.namespace == np.namespace && pods_ok,
    }
}

/// The container ports the Service's targetPorts resolve to on the selected pods.
fn target_ports<'a>(ctx: &Ctx<'a>) -> Vec<ContainerPortFacts> {
    let mut out = Vec::new();
    for sp in &ctx.facts.service.ports {
        let found: Vec<_> = ctx
            .selected
            .iter()
            .flat_map(|p| p.containers.iter().flat_map(|c| c.ports.iter()))
            .filter(|cp| match &sp.target_port {
                PortRef::Number(n) => cp.port == *n,
                PortRef::Name(name) => cp.name.as_deref() == Some(name.as_str()),
            })
            .cloned()
            .collect();
        match (&sp.target_port, found.is_empty()) {
            (PortRef::Number(n), true) => {
                out.push(ContainerPortFacts { name: None, port: *n, protocol: sp.protocol });
            }
            _ => out.extend(found),
        }
    }
    out
}

fn port_admits(pp: &PolicyPortFacts, cp: &ContainerPortFacts) -> bool {
    pp.protocol == cp.protocol
        && match &pp.port {
            None => true,
            Some(PortRef::Number(n)) => (*n..=pp.end_port.unwrap_or(*n)).contains(&cp.port),
            Some(PortRef::Name(name)) => cp.name.as_deref() == Some(name.as_str()),
        }
}

/// Whether any rule of the selecting policies lets `caller` reach any target port.
fn caller_allowed(ctx: &Ctx<'_>, policies: &[&NetworkPolicyFacts], caller: &CallerFacts) -> bool {
    let targets = target_ports(ctx);
    policies.iter().any(|np| {
        np.ingress.iter().any(|rule| {
            (rule.from.is_empty() || rule.from.iter().any(|peer| peer_admits(ctx, np, peer, caller)))
                && (rule.ports.is_empty()
                    || rule.ports.iter().any(|pp| targets.iter().any(|cp| port_admits(pp, cp))))
        })
    })
}

/// Callers we know of: the ingress controller when an Ingress or HTTPRoute routes here, and metrics' callers.
fn known_callers<'a>(ctx: &Ctx<'a>) -> Vec<&'a CallerFacts> {
    let svc = &ctx.facts.service;
    let routed = ctx
        .facts
        .routes
        .iter()
        .flat_map(|r| &r.backends)
        .any(|b| b.namespace == svc.namespace && b.service == svc.name);
    let mut callers: Vec<_> = ctx.facts.ingress_controller.iter().filter(|_| routed).collect();
    callers.extend(ctx.facts.metrics.iter().flat_map(|m| &m.callers));
    callers
}

pub(super) fn denies_all_ingress(ctx: &Ctx<'_>) -> Option<Finding> {
    let policies = selecting(ctx);
    if policies.is_empty() || policies.iter().any(|np| !np.ingress.is_empty()) {
        return None;
    }
    Some(Finding {
        severity: Severity::Critical,
        code: "netpol.denies-all-ingress",
        title: format!(
            "NetworkPolicies select the pods and allow no ingress at all ({})",
            policies.iter().map(|np| np.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
        evidence: policies
            .iter()
            .map(|np| Evidence {
                object: policy_ref(np),
                field: "spec.ingress".into(),
                detail: format!("empty; podSelector {}", show_selector(&np.pod_selector)),
            })
            .collect(),
        fix: "Add an ingress rule for the Service's callers and port, or narrow the default-deny policy's \
              podSelector"
            .into(),
    })
}

pub(super) fn blocks_known_callers(ctx: &Ctx<'_>) -> Option<Finding> {
    let policies = selecting(ctx);
    if policies.is_empty() || policies.iter().all(|np| np.ingress.is_empty()) {
        return None;
    }
    let callers = known_callers(ctx);
    let blocked: Vec<_> = callers.iter().filter(|c| !caller_allowed(ctx, &policies, c)).collect();
    if blocked.is_empty() {
        return None;
    }
    let severity = if blocked.len() == callers.len() { Severity::Critical } else { Severity::Warning };
    let mut evidence: Vec<Evidence> = blocked
        .iter()
        .map(|c| Evidence {
            object: ObjectRef::new("Namespace", "", &c.namespace),
            field: "caller".into(),
            detail: format!("{} in {} is not allowed in", c.description, c.namespace),
        })
        .collect();
    evidence.extend(policies.iter().map(|np| Evidence {
        object: policy_ref(np),
        field: "spec.ingress".into(),
        detail: format!("{} rule(s), none admits the caller on the target port", np.ingress.len()),
    }));
    Some(Finding {
        severity,
        code: "netpol.blocks-known-callers",
        title: format!(
            "NetworkPolicies block {} of {} known callers: {}",
            blocked.len(),
            callers.len(),
            blocked.iter().map(|c| c.description.as_str()).collect::<Vec<_>>().join(", ")
        ),
        evidence,
        fix: "Allow the callers' namespace (namespaceSelector kubernetes.io/metadata.name) and pods on the \
              container port the Service targets"
            .into(),
    })
}

pub(super) fn port_mismatch(ctx: &Ctx<'_>) -> Option<Finding> {
    let declared: Vec<ContainerPortFacts> = ctx
        .selected
        .iter()
        .flat_map(|p| p.containers.iter().flat_map(|c| c.ports.iter().cloned()))
        .chain(target_ports(ctx))
        .collect();
    if ctx.selected.is_empty() {
        return None;
    }
    let mut evidence = Vec::new();
    for np in selecting(ctx) {
        for pp in np.ingress.iter().flat_map(|r| &r.ports) {
            if pp.port.is_some() && !declared.iter().any(|cp| port_admits(pp, cp)) {
                let port = pp.port.as_ref().map(ToString::to_string).unwrap_or_default();
                let range = pp.end_port.map(|e| format!("-{e}")).unwrap_or_default();
                evidence.push(Evidence {
                    object: policy_ref(np),
                    field: "spec.ingress[].ports".into(),
                    detail: format!(
                        "allows {port}{range}/{}, which no selected container exposes",
                        pp.protocol
                    ),
                });
            }
        }
    }
    if evidence.is_empty() {
        return None;
    }
    let listening: Vec<String> = target_ports(ctx).iter().map(|cp| cp.port.to_string()).collect();
    Some(Finding {
        severity: Severity::Warning,
        code: "netpol.port-mismatch",
        title: format!(
            "NetworkPolicy allows ports the pods do not expose (they serve {})",
            listening.join(", ")
        ),
        evidence,
        fix: "Use the container port (or its name) in the policy, not the Service port".into(),
    })
}

pub(super) fn namespace_mismatch(ctx: &Ctx<'_>) -> Option<Finding> {
    if ctx.facts.namespaces.is_empty() {
        return None;
    }
    let mut evidence = Vec::new();
    for np in selecting(ctx) {
        for sel in np.ingress.iter().flat_map(|r| &r.from).filter_map(|p| p.namespace_selector.as_ref()) {
            if !ctx.facts.namespaces.iter().any(|n| sel.matches(&namespace_labels(ctx, &n.name))) {
                evidence.push(Evidence {
                    object: policy_ref(np),
                    field: "spec.ingress[].from[].namespaceSelector".into(),
                    detail: format!("{} matches no namespace", show_selector(sel)),
                });
            }
        }
    }
    (!evidence.is_empty()).then(|| Finding {
        severity: Severity::Warning,
        code: "netpol.namespace-mismatch",
        title: "NetworkPolicy allows namespaces that do not exist (or lack the label)".into(),
        evidence,
        fix: "Select namespaces by kubernetes.io/metadata.name, or add the expected label to the namespace"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{facts::*, testing::*};

    #[test]
    fn default_deny_without_rules() {
        let mut f = mk_healthy();
        assert!(run(denies_all_ingress, &f).is_none());
        f.network_policies.push(NetworkPolicyFacts {
            namespace: "shop".into(),
            name: "default-deny".into(),
            policy_types: vec![PolicyType::Ingress],
            ..Default::default()
        });
        assert!(run(denies_all_ingress, &f).is_none(), "allow-ingress still admits");
        f.network_policies.remove(0);
        let finding = run(denies_all_ingress, &f).unwrap();
        assert!(finding.evidence[0].detail.contains("{} (all)"));
        // An egress-only policy does not restrict ingress.
        f.network_policies[0].policy_types = vec![PolicyType::Egress];
        assert!(run(denies_all_ingress, &f).is_none());
    }

    #[test]
    fn policy_that_admits_not_the_ingress_controller() {
        let mut f = mk_healthy();
        assert!(run(blocks_known_callers, &f).is_none());
        // Same peer, but the Service port instead of the container port.
        f.network_policies[0].ingress[0].ports = vec![mk_policy_port(PortRef::Number(80))];
        let finding = run(blocks_known_callers, &f).unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert!(finding.title.contains("ingress controller"));
        // The port by name is fine.
        f.network_policies[0].ingress[0].ports = vec![mk_policy_port(PortRef::Name("http".into()))];
        assert!(run(blocks_known_callers, &f).is_none());
        // A podSelector-only peer means the policy's own namespace.
        f.network_policies[0].ingress[0].from = vec![PeerFacts {
            pod_selector: Some(LabelSelector {
                match_labels: labels(&[("app.kubernetes.io/name", "ingress-nginx")]),
                ..Default::default()
            }),
            ..Default::default()
        }];
        assert!(run(blocks_known_callers, &f).is_some());
        // Without a route, the controller is not a caller.
        f.routes.clear();
        assert!(run(blocks_known_callers, &f).is_none());
    }

    #[test]
    fn metrics_callers_partially_blocked() {
        let mut f = mk_healthy();
        f.metrics.as_mut().unwrap().callers.push(CallerFacts {
            description: "deploy/frontend".into(),
            namespace: "web".into(),
            labels: labels(&[("app", "frontend")]),
        });
        let finding = run(blocks_known_callers, &f).unwrap();
        assert_eq!(finding.severity, Severity::Warning, "the ingress controller still gets in");
        assert!(finding.title.contains("1 of 2"));
        f.network_policies[0].ingress[0]
            .from
            .push(PeerFacts { ip_block: Some("0.0.0.0/0".into()), ..Default::default() });
        assert!(run(blocks_known_callers, &f).is_none());
    }

    #[test]
    fn policy_port_nobody_listens_on() {
        let mut f = mk_healthy();
        assert!(run(port_mismatch, &f).is_none());
        f.network_policies[0].ingress[0].ports.push(mk_policy_port(PortRef::Number(8081)));
        let finding = run(port_mismatch, &f).unwrap();
        assert!(finding.evidence[0].detail.contains("8081"));
        f.network_policies[0].ingress[0].ports[1].port = Some(PortRef::Number(8000));
        f.network_policies[0].ingress[0].ports[1].end_port = Some(8100);
        assert!(run(port_mismatch, &f).is_none(), "a range covering 8080");
    }

    #[test]
    fn policy_namespace_that_does_not_exist() {
        let mut f = mk_healthy();
        assert!(run(namespace_mismatch, &f).is_none());
        f.network_policies[0].ingress[0].from[0].namespace_selector =
            Some(LabelSelector { match_labels: labels(&[("name", "ingress-nginx")]), ..Default::default() });
        assert!(run(namespace_mismatch, &f).unwrap().evidence[0].detail.contains("name=ingress-nginx"));
    }
}
