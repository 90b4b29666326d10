//! Why endpoints are not ready: one rule per cause, each grouping the pods it applies to.

use crate::diagnose::{
    Ctx, Evidence, Finding, ObjectRef, Severity, event_evidence,
    facts::{ContainerFacts, PodFacts, PodPhase},
    pod_evidence,
};

/// At most this many pods are named as evidence.
const MAX_PODS: usize = 5;

/// Selected pods with a container that satisfies `pred`.
fn containers_where<'a>(
    ctx: &Ctx<'a>,
    pred: impl Fn(&ContainerFacts) -> bool,
) -> Vec<(&'a PodFacts, &'a ContainerFacts)> {
    ctx.selected.iter().filter_map(|p| p.containers.iter().find(|c| pred(c)).map(|c| (*p, c))).collect()
}

fn pods_title(n: usize, total: usize) -> String {
    format!("{n} of {total} pods")
}

pub(super) fn scaled_to_zero(ctx: &Ctx<'_>) -> Option<Finding> {
    let zero: Vec<_> = ctx.facts.workloads.iter().filter(|w| w.replicas_desired == 0).collect();
    if zero.is_empty() {
        return None;
    }
    // With other workloads serving, a zero-replica one (a parked canary) is only worth knowing.
    let severity = if ctx.ready_endpoints() == 0 { Severity::Critical } else { Severity::Info };
    let names: Vec<String> = zero.iter().map(|w| format!("{}/{}", w.kind, w.name)).collect();
    Some(Finding {
        severity,
        code: "pods.scaled-to-zero",
        title: format!("Workload scaled to zero: {}", names.join(", ")),
        evidence: zero
            .iter()
            .map(|w| Evidence {
                object: ObjectRef::new(&w.kind, &w.namespace, &w.name),
                field: "spec.replicas".into(),
                detail: "0".into(),
            })
            .collect(),
        fix: "Scale it up (kubectl scale --replicas=N), and check whether an HPA, a KEDA scaler or a deploy \
              pipeline set it to zero"
            .into(),
    })
}

pub(super) fn only_terminating(ctx: &Ctx<'_>) -> Option<Finding> {
    if ctx.ready_endpoints() > 0 {
        return None;
    }
    let terminating: Vec<_> = ctx.endpoints().filter(|e| e.terminating).collect();
    if terminating.is_empty() {
        return None;
    }
    let evidence = terminating
        .iter()
        .take(MAX_PODS)
        .map(|e| {
            let object = match &e.pod {
                Some(pod) => ObjectRef::new("Pod", &ctx.facts.service.namespace, pod),
                None => ctx.svc_ref(),
            };
            Evidence {
                object,
                field: "endpoint conditions".into(),
                detail: format!("{} terminating (serving: {})", e.addresses.join(","), e.serving),
            }
        })
        .collect();
    Some(Finding {
        severity: Severity::Critical,
        code: "pods.only-terminating",
        title: format!("Only terminating endpoints left ({})", terminating.len()),
        evidence,
        fix: "A rollout or drain removed every ready pod: check that new pods are being created and become ready, \
              and that the PDB and maxUnavailable protect the Service"
            .into(),
    })
}

pub(super) fn crash_loop(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits = containers_where(ctx, |c| c.waiting_reason.as_deref() == Some("CrashLoopBackOff"));
    let (_, first) = hits.first()?;
    let last = |c: &ContainerFacts| match (&c.last_termination_reason, c.last_exit_code) {
        (Some(r), Some(code)) => format!("{r} (exit code {code})"),
        (Some(r), None) => r.clone(),
        (None, Some(code)) => format!("exit code {code}"),
        (None, None) => "unknown".into(),
    };
    Some(Finding {
        severity: ctx.outage_severity(),
        code: "pods.crash-loop",
        title: format!(
            "{} crash-looping, last termination: {}",
            pods_title(hits.len(), ctx.selected.len()),
            last(first)
        ),
        evidence: hits
            .iter()
            .take(MAX_PODS)
            .map(|(p, c)| {
                pod_evidence(
                    p,
                    &format!("status.containerStatuses[{}]", c.name),
                    format!("CrashLoopBackOff, {} restarts, last terminated: {}", c.restart_count, last(c)),
                )
            })
            .collect(),
        fix: "Read the previous container's logs (kubectl logs --previous); an exit code 137 or OOMKilled \
              means memory, 1 usually a startup error such as missing config"
            .into(),
    })
}

const PULL_REASONS: &[&str] = &["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"];

pub(super) fn image_pull(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits =
        containers_where(ctx, |c| c.waiting_reason.as_deref().is_some_and(|r| PULL_REASONS.contains(&r)));
    let (_, first) = hits.first()?;
    Some(Finding {
        severity: ctx.outage_severity(),
        code: "pods.image-pull",
        title: format!("{} cannot pull image {}", pods_title(hits.len(), ctx.selected.len()), first.image),
        evidence: hits
            .iter()
            .take(MAX_PODS)
            .map(|(p, c)| {
                pod_evidence(
                    p,
                    &format!("status.containerStatuses[{}]", c.name),
                    format!(
                        "{}: {} ({})",
                        c.waiting_reason.as_deref().unwrap_or_default(),
                        c.image,
                        c.waiting_message.as_deref().unwrap_or("no message")
                    ),
                )
            })
            .collect(),
        fix: "Check the image name and tag, that it exists in the registry, and the pull secret \
              (imagePullSecrets) for private registries"
            .into(),
    })
}

pub(super) fn unschedulable(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits: Vec<_> = ctx
        .selected
        .iter()
        .filter(|p| p.phase == PodPhase::Pending && p.node.is_none())
        .filter_map(|p| {
            let events = ctx.events_for("Pod", &p.name);
            let scheduling = events.iter().find(|e| e.reason == "FailedScheduling").copied();
            let reason = p.unschedulable.clone().or_else(|| scheduling.map(|e| e.message.clone()))?;
            Some((*p, reason, scheduling))
        })
        .collect();
    let (_, reason, _) = hits.first()?;
    let mut evidence = Vec::new();
    for (p, reason, event) in hits.iter().take(MAX_PODS) {
        evidence.push(pod_evidence(p, "status.conditions[PodScheduled]", reason.clone()));
        evidence.extend(event.map(event_evidence));
    }
    Some(Finding {
        severity: ctx.outage_severity(),
        code: "pods.unschedulable",
        title: format!("{} cannot be scheduled: {reason}", pods_title(hits.len(), ctx.selected.len())),
        evidence,
        fix: "Free or add capacity, or relax the pod's requests, nodeSelector, affinity, tolerations or \
              topology spread constraints the scheduler names"
            .into(),
    })
}

pub(super) fn node_not_ready(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits: Vec<_> = ctx
        .selected
        .iter()
        .filter_map(|p| {
            let node = ctx.facts.nodes.iter().find(|n| Some(&n.name) == p.node.as_ref())?;
            (!node.ready).then_some((*p, node))
        })
        .collect();
    if hits.is_empty() {
        return None;
    }
    let mut nodes: Vec<&str> = hits.iter().map(|(_, n)| n.name.as_str()).collect();
    nodes.dedup();
    let mut evidence: Vec<Evidence> = hits
        .iter()
        .take(MAX_PODS)
        .map(|(p, n)| pod_evidence(p, "spec.nodeName", format!("runs on {}", n.name)))
        .collect();
    evidence.extend(nodes.iter().map(|n| Evidence {
        object: ObjectRef::new("Node", "", n),
        field: "status.conditions[Ready]".into(),
        detail: "not True".into(),
    }));
    Some(Finding {
        severity: ctx.outage_severity(),
        code: "pods.node-not-ready",
        title: format!(
            "{} run on unready nodes ({})",
            pods_title(hits.len(), ctx.selected.len()),
            nodes.join(", ")
        ),
        evidence,
        fix: "Check the node (kubelet, network, pressure conditions); pods are evicted after the \
              not-ready toleration (5 min by default), or drain the node to move them now"
            .into(),
    })
}

pub(super) fn readiness_failing(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits: Vec<_> = ctx
        .selected
        .iter()
        .filter(|p| p.phase == PodPhase::Running && !p.ready && !p.terminating)
        .filter_map(|p| {
            let c = p
                .containers
                .iter()
                .find(|c| !c.ready && c.waiting_reason.is_none() && c.readiness_probe.is_some())?;
            Some((*p, c))
        })
        .collect();
    let (_, first) = hits.first()?;
    let mut evidence = Vec::new();
    for (p, c) in hits.iter().take(MAX_PODS) {
        evidence.push(pod_evidence(
            p,
            &format!("spec.containers[{}].readinessProbe", c.name),
            format!("{} failing", c.readiness_probe.as_deref().unwrap_or_default()),
        ));
        let events = ctx.events_for("Pod", &p.name);
        evidence.extend(events.into_iter().filter(|e| e.reason == "Unhealthy").take(2).map(event_evidence));
    }
    Some(Finding {
        severity: ctx.outage_severity(),
        code: "pods.readiness-failing",
        title: format!(
            "{} fail their readiness probe ({})",
            pods_title(hits.len(), ctx.selected.len()),
            first.readiness_probe.as_deref().unwrap_or_default()
        ),
        evidence,
        fix: "Call the probe target from inside the pod (kubectl exec ... curl); check the path, port and \
              timeout, and what the app's health check depends on"
            .into(),
    })
}

pub(super) fn oom_killed(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits = containers_where(ctx, |c| c.last_termination_reason.as_deref() == Some("OOMKilled"));
    if hits.is_empty() {
        return None;
    }
    Some(Finding {
        severity: Severity::Warning,
        code: "pods.oom-killed",
        title: format!("{} were OOM-killed", pods_title(hits.len(), ctx.selected.len())),
        evidence: hits
            .iter()
            .take(MAX_PODS)
            .map(|(p, c)| {
                pod_evidence(
                    p,
                    &format!("status.containerStatuses[{}].lastState.terminated", c.name),
                    format!("OOMKilled, {} restarts", c.restart_count),
                )
            })
            .collect(),
        fix: "Raise the container's memory limit, or find the leak (memory graph before the kill)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{facts::*, testing::*};

    fn unready(f: &mut Facts, i: usize) {
        f.pods[i].ready = false;
        f.pods[i].containers[0].ready = false;
        f.slices[0].endpoints[i].ready = false;
    }

    #[test]
    fn scaled_to_zero_needs_a_zero_workload() {
        let mut f = mk_healthy();
        assert!(run(scaled_to_zero, &f).is_none());
        f.workloads[0].replicas_desired = 0;
        f.pods.clear();
        f.slices.clear();
        let finding = run(scaled_to_zero, &f).unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert!(finding.title.contains("Deployment/checkout"));
        // A parked canary beside a serving workload is only worth knowing.
        let mut f = mk_healthy();
        f.workloads.push(WorkloadFacts {
            kind: "Deployment".into(),
            name: "canary".into(),
            ..Default::default()
        });
        assert_eq!(run(scaled_to_zero, &f).unwrap().severity, Severity::Info);
    }

    #[test]
    fn only_terminating_endpoints() {
        let mut f = mk_healthy();
        assert!(run(only_terminating, &f).is_none());
        for e in &mut f.slices[0].endpoints {
            e.ready = false;
            e.terminating = true;
        }
        assert_eq!(run(only_terminating, &f).unwrap().evidence.len(), 3);
        f.slices[0].endpoints[0].ready = true;
        assert!(run(only_terminating, &f).is_none(), "one ready endpoint still serves");
    }

    #[test]
    fn crash_loop_names_the_last_termination() {
        let mut f = mk_healthy();
        assert!(run(crash_loop, &f).is_none());
        unready(&mut f, 0);
        let c = &mut f.pods[0].containers[0];
        c.waiting_reason = Some("CrashLoopBackOff".into());
        c.last_termination_reason = Some("Error".into());
        c.last_exit_code = Some(1);
        c.restart_count = 7;
        let finding = run(crash_loop, &f).unwrap();
        assert_eq!(finding.severity, Severity::Warning, "two pods still serve");
        assert!(finding.title.contains("1 of 3 pods") && finding.title.contains("Error (exit code 1)"));
        assert!(finding.evidence[0].detail.contains("7 restarts"));
    }

    #[test]
    fn image_pull_failures() {
        let mut f = mk_healthy();
        assert!(run(image_pull, &f).is_none());
        for i in 0..3 {
            unready(&mut f, i);
            f.pods[i].containers[0].waiting_reason = Some("ImagePullBackOff".into());
        }
        let finding = run(image_pull, &f).unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert!(finding.title.contains("registry.example/web:1"));
    }

    #[test]
    fn unschedulable_with_the_schedulers_reason() {
        let mut f = mk_healthy();
        assert!(run(unschedulable, &f).is_none());
        f.pods[0].phase = PodPhase::Pending;
        f.pods[0].node = None;
        assert!(run(unschedulable, &f).is_none(), "pending without a scheduling failure yet");
        f.events.push(mk_event(
            "Pod",
            "checkout-1",
            "FailedScheduling",
            "0/3 nodes are available: Insufficient cpu",
        ));
        let finding = run(unschedulable, &f).unwrap();
        assert!(finding.title.contains("Insufficient cpu"), "{}", finding.title);
        assert!(finding.evidence.iter().any(|e| e.field == "event FailedScheduling"));
    }

    #[test]
    fn pods_on_unready_nodes() {
        let mut f = mk_healthy();
        assert!(run(node_not_ready, &f).is_none());
        f.nodes[1].ready = false;
        let finding = run(node_not_ready, &f).unwrap();
        assert!(finding.title.contains("node-2"));
        assert!(finding.evidence.iter().any(|e| e.object.kind == "Node"));
    }

    #[test]
    fn readiness_failing_with_unhealthy_events_and_target() {
        let mut f = mk_healthy();
        assert!(run(readiness_failing, &f).is_none());
        unready(&mut f, 1);
        f.events.push(mk_event(
            "Pod",
            "checkout-2",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        ));
        let finding = run(readiness_failing, &f).unwrap();
        assert!(finding.title.contains("httpGet :8080/healthz"));
        assert!(finding.evidence.iter().any(|e| e.field == "event Unhealthy" && e.detail.contains("503")));
        // A crash-looping container is the crash loop rule's.
        f.pods[1].containers[0].waiting_reason = Some("CrashLoopBackOff".into());
        assert!(run(readiness_failing, &f).is_none());
    }

    #[test]
    fn oom_kills() {
        let mut f = mk_healthy();
        assert!(run(oom_killed, &f).is_none());
        f.pods[2].containers[0].last_termination_reason = Some("OOMKilled".into());
        assert_eq!(run(oom_killed, &f).unwrap().severity, Severity::Warning);
    }
}
