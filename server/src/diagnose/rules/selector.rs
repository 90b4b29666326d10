//! Selector problems: it matches nothing, only other namespaces, is a likely typo, or spans workloads.

use std::collections::BTreeSet;

use crate::diagnose::{
    Ctx, Finding, Severity,
    facts::{Labels, ServiceType},
    pod_evidence,
};

fn show(selector: &Labels) -> String {
    selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The selector of a Service that should select pods, when it selects none in its namespace.
fn unmatched_selector<'a>(ctx: &Ctx<'a>) -> Option<&'a Labels> {
    let svc = &ctx.facts.service;
    if svc.type_ == ServiceType::ExternalName || !ctx.selected.is_empty() {
        return None;
    }
    svc.effective_selector()
}

pub(super) fn matches_other_namespace(ctx: &Ctx<'_>) -> Option<Finding> {
    let selector = unmatched_selector(ctx)?;
    if ctx.facts.foreign_matches.is_empty() {
        return None;
    }
    let namespaces: BTreeSet<&str> = ctx.facts.foreign_matches.iter().map(|p| p.namespace.as_str()).collect();
    let mut evidence =
        vec![ctx.svc_evidence("spec.selector", format!("{} selects no pod here", show(selector)))];
    evidence.extend(ctx.facts.foreign_matches.iter().take(5).map(|p| {
        pod_evidence(p, "metadata.labels", format!("matches, but lives in namespace {}", p.namespace))
    }));
    Some(Finding {
        severity: Severity::Critical,
        code: "selector.matches-other-namespace",
        title: format!(
            "Selector matches pods only in another namespace ({})",
            namespaces.into_iter().collect::<Vec<_>>().join(", ")
        ),
        evidence,
        fix: format!(
            "A Service only selects pods in its own namespace ({}): deploy the Service next to the pods, or \
             use an ExternalName to <svc>.<namespace>.svc",
            ctx.facts.service.namespace
        ),
    })
}

pub(super) fn matches_nothing(ctx: &Ctx<'_>) -> Option<Finding> {
    let selector = unmatched_selector(ctx)?;
    // Both have their own, more precise finding.
    let scaled_to_zero = ctx.facts.workloads.iter().any(|w| w.replicas_desired == 0);
    if !ctx.facts.foreign_matches.is_empty() || scaled_to_zero {
        return None;
    }
    let in_ns = ctx.facts.pods_in_namespace.unwrap_or_else(|| {
        ctx.facts.pods.iter().filter(|p| p.namespace == ctx.facts.service.namespace).count()
    });
    Some(Finding {
        severity: Severity::Critical,
        code: "selector.matches-nothing",
        title: format!("Selector {} matches no pod", show(selector)),
        evidence: vec![ctx.svc_evidence(
            "spec.selector",
            format!(
                "{} matches none of the {in_ns} pods in namespace {}",
                show(selector),
                ctx.facts.service.namespace
            ),
        )],
        fix: "Compare spec.selector with the pod template labels of the workload that should serve it".into(),
    })
}

/// Levenshtein distance over chars (the reference [`within_edit_distance`] is tested against).
#[cfg(test)]
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // Two rows, reused: no allocation per character.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Whether `a` and `b` are at most `max` edits apart; cheap when they are not (lengths too far apart, or
/// every cell of a row already over `max`).
pub(crate) fn within_edit_distance(a: &str, b: &str, max: usize) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() && b.len() < SHORT {
        return within_edit_distance_short(a.as_bytes(), b.as_bytes(), max);
    }
    let b: Vec<char> = b.chars().collect();
    if a.chars().count().abs_diff(b.len()) > max {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return false;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] <= max
}

/// Label values up to this many bytes are compared on the stack.
const SHORT: usize = 64;

/// [`within_edit_distance`] for ASCII `b` shorter than [`SHORT`]: no allocation.
fn within_edit_distance_short(a: &[u8], b: &[u8], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let mut prev = [0usize; SHORT];
    let mut cur = [0usize; SHORT];
    for (j, cell) in prev.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return false;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] <= max
}

pub(super) fn likely_typo(ctx: &Ctx<'_>) -> Option<Finding> {
    let selector = unmatched_selector(ctx)?;
    let max = ctx.thresholds.typo_distance;
    let close = |a: &str, b: &str| a != b && within_edit_distance(a, b, max);
    let mut evidence = Vec::new();
    let mut fixes = BTreeSet::new();
    for pod in ctx.facts.pods.iter().filter(|p| p.namespace == ctx.facts.service.namespace) {
        for (k, v) in selector {
            let near =
                pod.labels.iter().find(|(pk, pv)| (*pk == k && close(pv, v)) || (close(pk, k) && *pv == v));
            if let Some((pk, pv)) = near {
                fixes.insert(format!("{k}={v} -> {pk}={pv}"));
                if evidence.len() < 5 {
                    evidence.push(pod_evidence(
                        pod,
                        "metadata.labels",
                        format!("has {pk}={pv}, selector wants {k}={v}"),
                    ));
                }
            }
        }
    }
    if evidence.is_empty() {
        return None;
    }
    evidence.insert(0, ctx.svc_evidence("spec.selector", show(selector)));
    let fixes: Vec<_> = fixes.into_iter().collect();
    Some(Finding {
        severity: Severity::Warning,
        code: "selector.likely-typo",
        title: format!("Selector is close to existing labels: likely a typo ({})", fixes.join("; ")),
        evidence,
        fix: format!("Correct the selector (or the pod labels): {}", fixes.join("; ")),
    })
}

pub(super) fn no_selector_no_endpoints(ctx: &Ctx<'_>) -> Option<Finding> {
    let svc = &ctx.facts.service;
    if svc.type_ == ServiceType::ExternalName || svc.effective_selector().is_some() {
        return None;
    }
    if ctx.endpoints().any(|e| !e.addresses.is_empty()) {
        return None;
    }
    Some(Finding {
        severity: Severity::Critical,
        code: "selector.none-and-no-endpoints",
        title: "No selector and no endpoints: nothing serves this Service".into(),
        evidence: vec![
            ctx.svc_evidence("spec.selector", "not set"),
            ctx.svc_evidence("EndpointSlices", format!("{} slices, no addresses", ctx.facts.slices.len())),
        ],
        fix:
            "Add a selector, or create an EndpointSlice (label kubernetes.io/service-name) with the backend \
              addresses"
                .into(),
    })
}

pub(super) fn manual_endpoints_nowhere(ctx: &Ctx<'_>) -> Option<Finding> {
    let svc = &ctx.facts.service;
    if svc.type_ == ServiceType::ExternalName || svc.effective_selector().is_some() {
        return None;
    }
    let with_address: Vec<_> = ctx.endpoints().filter(|e| !e.addresses.is_empty()).collect();
    // A pod the endpoint names but which is gone, or an endpoint nobody marks ready.
    let missing_pod = |e: &&crate::diagnose::facts::EndpointFacts| {
        e.pod.as_ref().is_some_and(|name| !ctx.facts.pods.iter().any(|p| &p.name == name))
    };
    let dead: Vec<_> = with_address.iter().filter(|e| !e.ready || missing_pod(e)).collect();
    if with_address.is_empty() || dead.len() < with_address.len() {
        return None;
    }
    let mut evidence = vec![ctx.svc_evidence("spec.selector", "not set: endpoints are managed by hand")];
    evidence.extend(dead.iter().take(5).map(|e| {
        let why = if missing_pod(e) {
            format!("targets pod {}, which does not exist", e.pod.as_deref().unwrap_or_default())
        } else {
            "not ready".to_owned()
        };
        ctx.svc_evidence("EndpointSlice endpoints", format!("{} {why}", e.addresses.join(",")))
    }));
    Some(Finding {
        severity: Severity::Critical,
        code: "selector.manual-endpoints-nowhere",
        title: format!("No selector, and none of the {} manual endpoints can serve", with_address.len()),
        evidence,
        fix: "Update the hand-made EndpointSlice to live backend addresses (or give the Service a selector)"
            .into(),
    })
}

pub(super) fn multiple_workloads(ctx: &Ctx<'_>) -> Option<Finding> {
    let owners: BTreeSet<_> = ctx.selected.iter().filter_map(|p| p.owner.as_ref()).collect();
    if owners.len() < 2 {
        return None;
    }
    let names: Vec<String> = owners.iter().map(|o| format!("{}/{}", o.kind, o.name)).collect();
    let mut evidence =
        vec![ctx.svc_evidence("spec.selector", format!("selects pods of {}", names.join(", ")))];
    for owner in &owners {
        if let Some(pod) = ctx.selected.iter().find(|p| p.owner.as_ref() == Some(owner)) {
            evidence.push(pod_evidence(
                pod,
                "metadata.ownerReferences",
                format!("{}/{}", owner.kind, owner.name),
            ));
        }
    }
    Some(Finding {
        severity: Severity::Warning,
        code: "selector.multiple-workloads",
        title: format!("Selector matches pods of {} workloads: {}", owners.len(), names.join(", ")),
        evidence,
        fix: "Unless this is a deliberate canary, add a label that only one workload's pods carry to the selector"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{facts::*, testing::*};

    #[test]
    fn distance() {
        assert_eq!(edit_distance("checkout", "chekout"), 1);
        assert_eq!(edit_distance("app", "app"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        // The bounded check agrees with the distance, both ways.
        let long = "x".repeat(70);
        let pairs = [
            ("checkout", "chekout"),
            ("app", "app"),
            ("", "ab"),
            ("kitten", "sitting"),
            ("gone-1", "app-1"),
            ("zürich", "zurich"),
            (long.as_str(), "xx"),
            (&long[..66], &long[..65]),
        ];
        for (a, b) in pairs {
            for max in 0..4 {
                assert_eq!(within_edit_distance(a, b, max), edit_distance(a, b) <= max, "{a} {b} {max}");
                assert_eq!(within_edit_distance(b, a, max), edit_distance(a, b) <= max, "{b} {a} {max}");
            }
        }
    }

    #[test]
    fn matches_nothing_fires_only_without_matching_pods() {
        assert!(run(matches_nothing, &mk_healthy()).is_none());
        let mut f = mk_healthy();
        f.service.selector = Some(labels(&[("app", "payments")]));
        let finding = run(matches_nothing, &f).unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert!(finding.title.contains("app=payments"), "{}", finding.title);
        // Scaled to zero has its own finding.
        f.workloads[0].replicas_desired = 0;
        assert!(run(matches_nothing, &f).is_none());
    }

    #[test]
    fn other_namespace() {
        let mut f = mk_healthy();
        assert!(run(matches_other_namespace, &f).is_none());
        for p in &mut f.pods {
            p.namespace = "shop-v2".into();
        }
        assert!(run(matches_other_namespace, &f).is_none(), "the input names cross-namespace matches");
        f.foreign_matches = f.pods.clone();
        let finding = run(matches_other_namespace, &f).unwrap();
        assert!(finding.title.contains("shop-v2"));
        assert!(run(matches_nothing, &f).is_none());
    }

    #[test]
    fn typo_in_value_or_key() {
        assert!(run(likely_typo, &mk_healthy()).is_none());
        let mut f = mk_healthy();
        f.service.selector = Some(labels(&[("app", "chekout")]));
        let finding = run(likely_typo, &f).unwrap();
        assert!(finding.fix.contains("app=chekout -> app=checkout"), "{}", finding.fix);
        f.service.selector = Some(labels(&[("ap", "checkout")]));
        assert!(run(likely_typo, &f).unwrap().fix.contains("ap=checkout -> app=checkout"));
        // Far from anything: no hint.
        f.service.selector = Some(labels(&[("app", "payments")]));
        assert!(run(likely_typo, &f).is_none());
    }

    #[test]
    fn no_selector() {
        let mut f = mk_healthy();
        assert!(run(no_selector_no_endpoints, &f).is_none());
        f.service.selector = None;
        assert!(run(no_selector_no_endpoints, &f).is_none(), "manual endpoints exist");
        f.slices.clear();
        assert_eq!(run(no_selector_no_endpoints, &f).unwrap().code, "selector.none-and-no-endpoints");
        f.service.type_ = ServiceType::ExternalName;
        assert!(run(no_selector_no_endpoints, &f).is_none());
    }

    #[test]
    fn manual_endpoints_pointing_nowhere() {
        let mut f = mk_healthy();
        assert!(run(manual_endpoints_nowhere, &f).is_none(), "selected by a selector");
        f.service.selector = None;
        assert!(run(manual_endpoints_nowhere, &f).is_none(), "live manual endpoints");
        f.pods.clear();
        let finding = run(manual_endpoints_nowhere, &f).unwrap();
        assert!(
            finding.evidence[1].detail.contains("checkout-1, which does not exist"),
            "{:?}",
            finding.evidence
        );
        f.slices.clear();
        assert!(run(manual_endpoints_nowhere, &f).is_none(), "no endpoints at all is the other rule");
    }

    #[test]
    fn several_workloads() {
        let mut f = mk_healthy();
        assert!(run(multiple_workloads, &f).is_none());
        f.pods[2].owner = Some(WorkloadRef { kind: "Deployment".into(), name: "checkout-canary".into() });
        let finding = run(multiple_workloads, &f).unwrap();
        assert!(finding.title.contains("Deployment/checkout-canary"), "{}", finding.title);
        assert_eq!(finding.evidence.len(), 3);
    }
}
