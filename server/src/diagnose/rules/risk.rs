//! Risks: nothing is down, but something makes the next incident likelier or worse.

use std::collections::BTreeSet;

use crate::diagnose::{Ctx, Evidence, Finding, ObjectRef, Severity, pod_evidence};

pub(super) fn pdb_no_disruption(ctx: &Ctx<'_>) -> Option<Finding> {
    let stuck: Vec<_> =
        ctx.facts.pdbs.iter().filter(|p| p.disruptions_allowed <= 0 && p.expected_pods > 0).collect();
    let first = stuck.first()?;
    Some(Finding {
        severity: Severity::Warning,
        code: "risk.pdb-no-disruption",
        title: format!("PodDisruptionBudget {} allows no disruption: node drains will block", first.name),
        evidence: stuck
            .iter()
            .map(|p| Evidence {
                object: ObjectRef::new("PodDisruptionBudget", &p.namespace, &p.name),
                field: "status.disruptionsAllowed".into(),
                detail: format!("{} of {} expected pods may go", p.disruptions_allowed, p.expected_pods),
            })
            .collect(),
        fix: "Run more replicas than minAvailable (or set maxUnavailable >= 1), and fix unready pods first"
            .into(),
    })
}

pub(super) fn hpa_at_max(ctx: &Ctx<'_>) -> Option<Finding> {
    let hpa = ctx.facts.hpas.iter().find(|h| h.max_replicas > 0 && h.current_replicas >= h.max_replicas)?;
    Some(Finding {
        severity: Severity::Warning,
        code: "risk.hpa-at-max",
        title: format!("HPA {} is at its maximum of {} replicas", hpa.name, hpa.max_replicas),
        evidence: vec![Evidence {
            object: ObjectRef::new("HorizontalPodAutoscaler", &hpa.namespace, &hpa.name),
            field: "status.currentReplicas".into(),
            detail: format!(
                "{} current, {} desired, max {}",
                hpa.current_replicas, hpa.desired_replicas, hpa.max_replicas
            ),
        }],
        fix: "Raise maxReplicas if the cluster has room, or find what drives the load".into(),
    })
}

pub(super) fn hpa_metrics_unavailable(ctx: &Ctx<'_>) -> Option<Finding> {
    let (hpa, cond) = ctx.facts.hpas.iter().find_map(|h| {
        h.conditions
            .iter()
            .find(|c| (c.type_ == "ScalingActive" || c.type_ == "AbleToScale") && !c.status)
            .map(|c| (h, c))
    })?;
    Some(Finding {
        severity: Severity::Warning,
        code: "risk.hpa-cannot-scale",
        title: format!("HPA {} cannot scale: {}", hpa.name, cond.reason),
        evidence: vec![Evidence {
            object: ObjectRef::new("HorizontalPodAutoscaler", &hpa.namespace, &hpa.name),
            field: format!("status.conditions[{}]", cond.type_),
            detail: format!("False, {}: {}", cond.reason, cond.message),
        }],
        fix:
            "Check the metrics pipeline (metrics-server or the custom metrics adapter) and that the pods set \
              requests for the scaled resource"
                .into(),
    })
}

pub(super) fn single_zone(ctx: &Ctx<'_>) -> Option<Finding> {
    let ready_zones: BTreeSet<&str> =
        ctx.endpoints().filter(|e| e.ready).filter_map(|e| e.zone.as_deref()).collect();
    let cluster_zones: BTreeSet<&str> =
        ctx.facts.nodes.iter().filter(|n| n.ready).filter_map(|n| n.zone.as_deref()).collect();
    if ready_zones.len() != 1 || cluster_zones.len() < 2 {
        return None;
    }
    let zone = ready_zones.first().copied().unwrap_or_default();
    Some(Finding {
        severity: Severity::Warning,
        code: "risk.single-zone",
        title: format!("All {} ready endpoints are in zone {zone}", ctx.ready_endpoints()),
        evidence: vec![ctx.svc_evidence(
            "EndpointSlices",
            format!(
                "ready endpoints in {zone} only; the cluster has {}",
                cluster_zones.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )],
        fix: "Add topologySpreadConstraints on topology.kubernetes.io/zone (and enough replicas)".into(),
    })
}

pub(super) fn no_readiness_probe(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits: Vec<_> = ctx
        .selected
        .iter()
        .filter_map(|p| p.containers.first().filter(|c| c.readiness_probe.is_none()).map(|c| (*p, c)))
        .collect();
    let (_, first) = hits.first()?;
    Some(Finding {
        severity: Severity::Warning,
        code: "risk.no-readiness-probe",
        title: format!(
            "Container {} has no readiness probe: pods get traffic before they can serve",
            first.name
        ),
        evidence: hits
            .iter()
            .take(5)
            .map(|(p, c)| pod_evidence(p, &format!("spec.containers[{}].readinessProbe", c.name), "not set"))
            .collect(),
        fix: "Add a readinessProbe on the serving port (httpGet on a health path, or tcpSocket)".into(),
    })
}

pub(super) fn no_resources(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits: Vec<_> = ctx
        .selected
        .iter()
        .filter_map(|p| p.containers.first().filter(|c| !c.has_requests || !c.has_limits).map(|c| (*p, c)))
        .collect();
    let (_, first) = hits.first()?;
    let missing = |c: &crate::diagnose::facts::ContainerFacts| match (c.has_requests, c.has_limits) {
        (false, false) => "requests and limits",
        (false, true) => "requests",
        _ => "limits",
    };
    Some(Finding {
        severity: Severity::Info,
        code: "risk.no-resources",
        title: format!("Container {} sets no resource {}", first.name, missing(first)),
        evidence: hits
            .iter()
            .take(5)
            .map(|(p, c)| {
                pod_evidence(
                    p,
                    &format!("spec.containers[{}].resources", c.name),
                    format!("no {}", missing(c)),
                )
            })
            .collect(),
        fix: "Set requests (scheduling, HPA) and a memory limit from observed usage".into(),
    })
}

pub(super) fn error_rate(ctx: &Ctx<'_>) -> Option<Finding> {
    let rate = ctx.facts.metrics.as_ref()?.error_rate.filter(|r| *r > ctx.thresholds.error_rate)?;
    Some(Finding {
        severity: Severity::Warning,
        code: "risk.error-rate",
        title: format!("Error rate {:.1}% is over {:.1}%", rate * 100.0, ctx.thresholds.error_rate * 100.0),
        evidence: vec![ctx.svc_evidence("metrics error rate", format!("{:.2}%", rate * 100.0))],
        fix: "Look at the failing requests (status codes, logs) and recent rollouts of the backend".into(),
    })
}

pub(super) fn latency(ctx: &Ctx<'_>) -> Option<Finding> {
    let p99 = ctx.facts.metrics.as_ref()?.p99_latency_ms.filter(|l| *l > ctx.thresholds.p99_latency_ms)?;
    Some(Finding {
        severity: Severity::Warning,
        code: "risk.latency",
        title: format!("p99 latency {p99:.0} ms is over {:.0} ms", ctx.thresholds.p99_latency_ms),
        evidence: vec![ctx.svc_evidence("metrics p99 latency", format!("{p99:.0} ms"))],
        fix: "Check saturation (CPU throttling, HPA at max) and slow dependencies".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testing::*;

    #[test]
    fn pdb_without_room() {
        let mut f = mk_healthy();
        assert!(run(pdb_no_disruption, &f).is_none());
        f.pdbs[0].disruptions_allowed = 0;
        assert!(run(pdb_no_disruption, &f).unwrap().title.contains("checkout"));
    }

    #[test]
    fn hpa_at_its_max() {
        let mut f = mk_healthy();
        assert!(run(hpa_at_max, &f).is_none());
        f.hpas[0].current_replicas = 6;
        assert!(run(hpa_at_max, &f).unwrap().title.contains("maximum of 6"));
    }

    #[test]
    fn hpa_without_metrics() {
        let mut f = mk_healthy();
        assert!(run(hpa_metrics_unavailable, &f).is_none());
        f.hpas[0].conditions[0].status = false;
        f.hpas[0].conditions[0].reason = "FailedGetResourceMetric".into();
        assert!(run(hpa_metrics_unavailable, &f).unwrap().title.contains("FailedGetResourceMetric"));
    }

    #[test]
    fn all_ready_endpoints_in_one_zone() {
        let mut f = mk_healthy();
        assert!(run(single_zone, &f).is_none());
        for e in &mut f.slices[0].endpoints {
            e.zone = Some("zone-1".into());
        }
        assert!(run(single_zone, &f).unwrap().title.contains("zone-1"));
        f.nodes.iter_mut().for_each(|n| n.zone = Some("zone-1".into()));
        assert!(run(single_zone, &f).is_none(), "a one-zone cluster cannot do better");
    }

    #[test]
    fn missing_readiness_probe() {
        let mut f = mk_healthy();
        assert!(run(no_readiness_probe, &f).is_none());
        f.pods[0].containers[0].readiness_probe = None;
        assert_eq!(run(no_readiness_probe, &f).unwrap().evidence.len(), 1);
    }

    #[test]
    fn missing_resources() {
        let mut f = mk_healthy();
        assert!(run(no_resources, &f).is_none());
        f.pods[0].containers[0].has_limits = false;
        let finding = run(no_resources, &f).unwrap();
        assert_eq!(finding.severity, Severity::Info);
        assert!(finding.title.ends_with("limits"));
    }

    #[test]
    fn metrics_over_thresholds() {
        let mut f = mk_healthy();
        assert!(run(error_rate, &f).is_none() && run(latency, &f).is_none());
        let m = f.metrics.as_mut().unwrap();
        m.error_rate = Some(0.12);
        m.p99_latency_ms = Some(2500.0);
        assert!(run(error_rate, &f).unwrap().title.contains("12.0%"));
        assert!(run(latency, &f).unwrap().title.contains("2500 ms"));
        f.metrics = None;
        assert!(run(error_rate, &f).is_none() && run(latency, &f).is_none());
    }
}
