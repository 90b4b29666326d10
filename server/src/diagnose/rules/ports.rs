//! Ports: the targetPort must be a port the selected containers expose, by the main container, with the
//! Service port's protocol.

use crate::diagnose::{
    Ctx, Finding, Severity,
    facts::{ContainerFacts, ContainerPortFacts, PodFacts, PortRef, ServicePortFacts},
    pod_evidence,
};

/// Containers that are known sidecars wherever they sit in the pod.
const SIDECAR_NAMES: &[&str] = &[
    "istio-proxy",
    "linkerd-proxy",
    "envoy",
    "envoy-sidecar",
    "daprd",
    "vault-agent",
    "cloud-sql-proxy",
    "cloudsql-proxy",
    "oauth2-proxy",
    "fluent-bit",
    "fluentd",
];

/// A sidecar is any container but the first, or one with a well-known sidecar name.
pub(crate) fn is_sidecar(pod: &PodFacts, container: &ContainerFacts) -> bool {
    let first = pod.containers.first().is_some_and(|c| c.name == container.name);
    !first || SIDECAR_NAMES.contains(&container.name.as_str())
}

fn port_matches(target: &PortRef, p: &ContainerPortFacts) -> bool {
    match target {
        PortRef::Number(n) => p.port == *n,
        PortRef::Name(name) => p.name.as_deref() == Some(name.as_str()),
    }
}

/// The containers of `pod` exposing `target`, with the matching port.
fn exposing<'a>(pod: &'a PodFacts, target: &PortRef) -> Vec<(&'a ContainerFacts, &'a ContainerPortFacts)> {
    pod.containers
        .iter()
        .flat_map(|c| c.ports.iter().filter(|p| port_matches(target, p)).map(move |p| (c, p)))
        .collect()
}

fn port_label(p: &ServicePortFacts) -> String {
    match &p.name {
        Some(name) => format!("{name} {}→{}", p.port, p.target_port),
        None => format!("{}→{}", p.port, p.target_port),
    }
}

/// Service ports for which `check` says something, with the evidence it gave.
fn per_port(
    ctx: &Ctx<'_>,
    check: impl Fn(&ServicePortFacts) -> Option<(String, Vec<crate::diagnose::Evidence>)>,
) -> Vec<(String, Vec<crate::diagnose::Evidence>)> {
    if ctx.selected.is_empty() {
        return Vec::new();
    }
    ctx.facts.service.ports.iter().filter_map(check).collect()
}

fn finding(
    severity: Severity,
    code: &'static str,
    hits: Vec<(String, Vec<crate::diagnose::Evidence>)>,
    fix: &str,
) -> Option<Finding> {
    let title = hits.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join("; ");
    let evidence: Vec<_> = hits.into_iter().flat_map(|(_, e)| e).collect();
    (!evidence.is_empty()).then(|| Finding { severity, code, title, evidence, fix: fix.to_owned() })
}

pub(super) fn target_not_exposed(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits = per_port(ctx, |sp| {
        if ctx.selected.iter().any(|p| !exposing(p, &sp.target_port).is_empty()) {
            return None;
        }
        let declared: Vec<String> = ctx.selected[0]
            .containers
            .iter()
            .flat_map(|c| {
                c.ports
                    .iter()
                    .map(move |p| format!("{}:{}/{}", c.name, p.name.as_deref().unwrap_or(""), p.port))
            })
            .collect();
        Some((
            format!(
                "targetPort {} of port {} is exposed by no selected container",
                sp.target_port,
                port_label(sp)
            ),
            vec![
                ctx.svc_evidence("spec.ports[].targetPort", port_label(sp)),
                pod_evidence(
                    ctx.selected[0],
                    "spec.containers[].ports",
                    format!(
                        "declares {}",
                        if declared.is_empty() { "no ports".to_owned() } else { declared.join(", ") }
                    ),
                ),
            ],
        ))
    });
    // A named port that resolves nowhere gives endpoints without that port; an undeclared number may still
    // be listened on.
    let named = ctx.facts.service.ports.iter().any(|sp| {
        matches!(sp.target_port, PortRef::Name(_))
            && ctx.selected.iter().all(|p| exposing(p, &sp.target_port).is_empty())
    });
    let severity = if named { Severity::Critical } else { Severity::Warning };
    finding(
        severity,
        "ports.target-not-exposed",
        hits,
        "Point targetPort at a port the main container declares (by name, so renumbering stays safe), or \
         declare the port the app listens on",
    )
}

pub(super) fn only_sidecar(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits = per_port(ctx, |sp| {
        let found: Vec<_> = ctx
            .selected
            .iter()
            .flat_map(|p| exposing(p, &sp.target_port).into_iter().map(move |x| (*p, x)))
            .collect();
        let (pod, (sidecar, _)) = found.first()?;
        if !found.iter().all(|(p, (c, _))| is_sidecar(p, c)) {
            return None;
        }
        Some((
            format!("targetPort {} reaches only the sidecar {}", sp.target_port, sidecar.name),
            vec![
                ctx.svc_evidence("spec.ports[].targetPort", port_label(sp)),
                pod_evidence(
                    pod,
                    &format!("spec.containers[{}].ports", sidecar.name),
                    "a sidecar, not the main container",
                ),
            ],
        ))
    });
    finding(
        Severity::Warning,
        "ports.only-sidecar",
        hits,
        "Unless the sidecar is meant to front the app (an auth proxy), point targetPort at the main container's port",
    )
}

pub(super) fn named_port_missing_on_some(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits = per_port(ctx, |sp| {
        if !matches!(sp.target_port, PortRef::Name(_)) {
            return None;
        }
        let missing: Vec<_> =
            ctx.selected.iter().filter(|p| exposing(p, &sp.target_port).is_empty()).collect();
        if missing.is_empty() || missing.len() == ctx.selected.len() {
            return None;
        }
        let mut evidence = vec![ctx.svc_evidence("spec.ports[].targetPort", port_label(sp))];
        evidence.extend(missing.iter().take(5).map(|p| {
            pod_evidence(p, "spec.containers[].ports", format!("no port named {}", sp.target_port))
        }));
        Some((
            format!(
                "{} of {} pods lack the named port {}",
                missing.len(),
                ctx.selected.len(),
                sp.target_port
            ),
            evidence,
        ))
    });
    finding(
        Severity::Warning,
        "ports.named-port-missing",
        hits,
        "Those pods get no endpoint for this port: roll them to a template that names the port, or stop selecting them",
    )
}

pub(super) fn protocol_mismatch(ctx: &Ctx<'_>) -> Option<Finding> {
    let hits = per_port(ctx, |sp| {
        let (pod, (c, p)) = ctx
            .selected
            .iter()
            .flat_map(|pod| exposing(pod, &sp.target_port).into_iter().map(move |x| (*pod, x)))
            .find(|(_, (_, p))| p.protocol != sp.protocol)?;
        Some((
            format!(
                "port {} is {} but container {} declares {}",
                port_label(sp),
                sp.protocol,
                c.name,
                p.protocol
            ),
            vec![
                ctx.svc_evidence("spec.ports[].protocol", sp.protocol.to_string()),
                pod_evidence(
                    pod,
                    &format!("spec.containers[{}].ports[].protocol", c.name),
                    p.protocol.to_string(),
                ),
            ],
        ))
    });
    finding(
        Severity::Warning,
        "ports.protocol-mismatch",
        hits,
        "Make the Service port's protocol match the container's",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{facts::*, testing::*};

    #[test]
    fn sidecar_definition() {
        let mut pod = mk_pod(1);
        pod.containers.push(mk_container("metrics", &[]));
        assert!(!is_sidecar(&pod, &pod.containers[0]));
        assert!(is_sidecar(&pod, &pod.containers[1]), "not the first");
        pod.containers[0].name = "istio-proxy".into();
        assert!(is_sidecar(&pod, &pod.containers[0]), "a known sidecar name");
    }

    #[test]
    fn target_port_exposed_by_no_container() {
        let mut f = mk_healthy();
        assert!(run(target_not_exposed, &f).is_none());
        f.service.ports[0].target_port = PortRef::Number(8080);
        assert!(run(target_not_exposed, &f).is_none(), "by number too");
        f.service.ports[0].target_port = PortRef::Number(9090);
        assert_eq!(run(target_not_exposed, &f).unwrap().severity, Severity::Warning);
        f.service.ports[0].target_port = PortRef::Name("htpp".into());
        let finding = run(target_not_exposed, &f).unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert!(finding.evidence[1].detail.contains("web:http/8080"), "{:?}", finding.evidence);
    }

    #[test]
    fn target_port_only_on_a_sidecar() {
        let mut f = mk_healthy();
        for p in &mut f.pods {
            p.containers.push(mk_container("istio-proxy", &[(Some("http-envoy"), 15001)]));
        }
        assert!(run(only_sidecar, &f).is_none());
        f.service.ports[0].target_port = PortRef::Number(15001);
        assert!(run(only_sidecar, &f).unwrap().title.contains("istio-proxy"));
    }

    #[test]
    fn named_port_missing_on_some_pods() {
        let mut f = mk_healthy();
        assert!(run(named_port_missing_on_some, &f).is_none());
        f.pods[0].containers[0].ports[0].name = None;
        let finding = run(named_port_missing_on_some, &f).unwrap();
        assert!(finding.title.starts_with("1 of 3 pods"), "{}", finding.title);
        for p in &mut f.pods {
            p.containers[0].ports[0].name = None;
        }
        assert!(run(named_port_missing_on_some, &f).is_none(), "missing everywhere is target-not-exposed");
    }

    #[test]
    fn protocol_mismatch_between_service_and_container() {
        let mut f = mk_healthy();
        assert!(run(protocol_mismatch, &f).is_none());
        f.service.ports[0].protocol = Protocol::Udp;
        assert!(run(protocol_mismatch, &f).unwrap().title.contains("UDP"));
    }
}
