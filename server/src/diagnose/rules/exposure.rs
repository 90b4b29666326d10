//! Exposure: load balancers without an address, ExternalName mistakes, routes to a port the Service lacks.

use std::net::IpAddr;

use crate::diagnose::{
    Ctx, Evidence, Finding, ObjectRef, Severity, event_evidence,
    facts::{PortRef, RouteKind, ServiceType},
};

pub(super) fn external_name_is_ip(ctx: &Ctx<'_>) -> Option<Finding> {
    let svc = &ctx.facts.service;
    let target = svc.external_name.as_deref().filter(|_| svc.type_ == ServiceType::ExternalName)?;
    target.parse::<IpAddr>().ok()?;
    Some(Finding {
        severity: Severity::Critical,
        code: "exposure.external-name-is-ip",
        title: format!("ExternalName points at the IP {target}: DNS cannot CNAME to an address"),
        evidence: vec![ctx.svc_evidence("spec.externalName", target)],
        fix: "Use a DNS name as externalName, or a Service without selector plus an EndpointSlice holding the IP"
            .into(),
    })
}

pub(super) fn external_name_with_selector(ctx: &Ctx<'_>) -> Option<Finding> {
    let svc = &ctx.facts.service;
    if svc.type_ != ServiceType::ExternalName {
        return None;
    }
    let selector = svc.effective_selector()?;
    let shown: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Some(Finding {
        severity: Severity::Warning,
        code: "exposure.external-name-with-selector",
        title: "ExternalName Service also has a selector, which is ignored".into(),
        evidence: vec![
            ctx.svc_evidence("spec.type", "ExternalName"),
            ctx.svc_evidence("spec.selector", shown.join(",")),
        ],
        fix: "Decide which it is: drop the selector, or make it a ClusterIP Service".into(),
    })
}

pub(super) fn lb_pending(ctx: &Ctx<'_>) -> Option<Finding> {
    let svc = &ctx.facts.service;
    if svc.type_ != ServiceType::LoadBalancer || !svc.lb_addresses.is_empty() {
        return None;
    }
    let since = svc.lb_pending_since.map(|t| format!(" since {t}")).unwrap_or_default();
    let mut evidence = vec![ctx.svc_evidence("status.loadBalancer.ingress", format!("empty{since}"))];
    evidence.extend(
        ctx.events_for("Service", &svc.name)
            .into_iter()
            .filter(|e| e.reason.contains("LoadBalancer"))
            .take(3)
            .map(event_evidence),
    );
    let cause = ctx
        .events_for("Service", &svc.name)
        .into_iter()
        .find(|e| e.reason.contains("LoadBalancer") && e.type_ == crate::diagnose::facts::EventType::Warning)
        .map(|e| format!(": {}", e.message))
        .unwrap_or_default();
    Some(Finding {
        severity: Severity::Critical,
        code: "exposure.lb-pending",
        title: format!("LoadBalancer has no address{since}{cause}"),
        evidence,
        fix: "Check the cloud controller (its events above and logs): quota, subnet tags, annotations, or a \
              cluster with no load-balancer implementation (MetalLB, cloud-provider-kind)"
            .into(),
    })
}

pub(super) fn route_missing_port(ctx: &Ctx<'_>) -> Option<Finding> {
    let svc = &ctx.facts.service;
    let has = |port: &PortRef| match port {
        PortRef::Number(n) => svc.ports.iter().any(|p| p.port == *n),
        PortRef::Name(name) => svc.ports.iter().any(|p| p.name.as_deref() == Some(name.as_str())),
    };
    let mut evidence = Vec::new();
    for route in &ctx.facts.routes {
        let kind = match route.kind {
            RouteKind::Ingress => "Ingress",
            RouteKind::HttpRoute => "HTTPRoute",
        };
        for b in route.backends.iter().filter(|b| b.namespace == svc.namespace && b.service == svc.name) {
            if let Some(port) = b.port.as_ref().filter(|p| !has(p)) {
                evidence.push(Evidence {
                    object: ObjectRef::new(kind, &route.namespace, &route.name),
                    field: "backend port".into(),
                    detail: format!("{}:{port}", b.service),
                });
            }
        }
    }
    if evidence.is_empty() {
        return None;
    }
    let ports: Vec<String> = svc
        .ports
        .iter()
        .map(|p| p.name.as_ref().map_or_else(|| p.port.to_string(), |n| format!("{n}/{}", p.port)))
        .collect();
    let title = format!(
        "{} route(s) point at a port the Service does not have ({})",
        evidence.len(),
        evidence
            .iter()
            .map(|e| format!("{}/{}", e.object.kind, e.object.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    evidence.push(ctx.svc_evidence("spec.ports", ports.join(", ")));
    Some(Finding {
        severity: Severity::Critical,
        code: "exposure.route-missing-port",
        title,
        evidence,
        fix:
            "Point the backend at one of the Service's ports (number or name), or add the port to the Service"
                .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{facts::*, testing::*};

    fn external(name: &str) -> Facts {
        let mut f = mk_healthy();
        f.service.type_ = ServiceType::ExternalName;
        f.service.external_name = Some(name.into());
        f.service.selector = None;
        f
    }

    #[test]
    fn external_name_ip() {
        assert!(run(external_name_is_ip, &mk_healthy()).is_none());
        assert!(run(external_name_is_ip, &external("db.example.com")).is_none());
        assert!(run(external_name_is_ip, &external("10.1.2.3")).is_some());
        assert!(run(external_name_is_ip, &external("fd00::1")).is_some());
    }

    #[test]
    fn external_name_selector() {
        let mut f = external("db.example.com");
        assert!(run(external_name_with_selector, &f).is_none());
        f.service.selector = Some(labels(&[("app", "db")]));
        assert!(run(external_name_with_selector, &f).is_some());
        assert!(run(external_name_with_selector, &mk_healthy()).is_none(), "a ClusterIP may have one");
    }

    #[test]
    fn lb_pending_with_the_cloud_controllers_event() {
        let mut f = mk_healthy();
        f.service.type_ = ServiceType::LoadBalancer;
        f.service.lb_addresses = vec!["203.0.113.7".into()];
        assert!(run(lb_pending, &f).is_none());
        f.service.lb_addresses.clear();
        f.service.lb_pending_since = Some("2026-11-26T10:00:00Z".parse().unwrap());
        f.events.push(mk_event("Service", "checkout", "SyncLoadBalancerFailed", "quota exceeded"));
        f.events.push(mk_event("Pod", "checkout-1", "Unhealthy", "not about the LB"));
        let finding = run(lb_pending, &f).unwrap();
        assert!(
            finding.title.contains("since 2026-11-26T10:00:00Z") && finding.title.contains("quota exceeded")
        );
        assert_eq!(finding.evidence.len(), 2);
    }

    #[test]
    fn routes_to_a_missing_port() {
        let mut f = mk_healthy();
        f.routes.push(mk_route(RouteKind::HttpRoute, PortRef::Name("http".into())));
        assert!(run(route_missing_port, &f).is_none());
        f.routes.push(mk_route(RouteKind::HttpRoute, PortRef::Number(8080)));
        f.routes.push(mk_route(RouteKind::Ingress, PortRef::Name("https".into())));
        let finding = run(route_missing_port, &f).unwrap();
        assert!(finding.title.starts_with("2 route(s)"), "{}", finding.title);
        assert_eq!(finding.evidence[0].object.kind, "HTTPRoute");
        // Another Service's backend is not ours.
        let mut f = mk_healthy();
        f.routes[0].backends[0].service = "other".into();
        f.routes[0].backends[0].port = Some(PortRef::Number(1));
        assert!(run(route_missing_port, &f).is_none());
    }
}
