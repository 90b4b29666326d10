//! Traffic policy `Local`: traffic reaching a node without a ready local endpoint is dropped.

use std::collections::BTreeSet;

use crate::diagnose::{
    Ctx, Evidence, Finding, ObjectRef, Severity,
    facts::{ServiceType, TrafficPolicy},
};

/// Ready nodes that have no ready endpoint of the Service (empty when no endpoint is ready at all: other
/// rules explain that).
fn nodes_without_local_endpoint<'a>(ctx: &Ctx<'a>) -> Vec<&'a str> {
    let with: BTreeSet<&str> =
        ctx.endpoints().filter(|e| e.ready).filter_map(|e| e.node.as_deref()).collect();
    if with.is_empty() {
        return Vec::new();
    }
    ctx.facts
        .nodes
        .iter()
        .filter(|n| n.ready && !with.contains(n.name.as_str()))
        .map(|n| n.name.as_str())
        .collect()
}

fn node_evidence(nodes: &[&str]) -> impl Iterator<Item = Evidence> {
    nodes.iter().take(5).map(|n| Evidence {
        object: ObjectRef::new("Node", "", n),
        field: "EndpointSlices".into(),
        detail: "no ready endpoint on this node".into(),
    })
}

pub(super) fn external_local(ctx: &Ctx<'_>) -> Option<Finding> {
    let svc = &ctx.facts.service;
    if svc.external_traffic_policy != TrafficPolicy::Local
        || !matches!(svc.type_, ServiceType::NodePort | ServiceType::LoadBalancer)
    {
        return None;
    }
    let nodes = nodes_without_local_endpoint(ctx);
    if nodes.is_empty() {
        return None;
    }
    // A load balancer health-checks the nodes and skips these; a NodePort client hitting them gets nothing.
    let severity = if svc.type_ == ServiceType::NodePort { Severity::Warning } else { Severity::Info };
    let mut evidence = vec![ctx.svc_evidence("spec.externalTrafficPolicy", "Local")];
    evidence.extend(node_evidence(&nodes));
    Some(Finding {
        severity,
        code: "traffic.external-local-no-endpoint",
        title: format!("externalTrafficPolicy Local: {} nodes have no ready local endpoint", nodes.len()),
        evidence,
        fix: "Run a ready pod on every node that receives traffic (DaemonSet, spread), or use policy Cluster if \
              the client source IP need not be kept"
            .into(),
    })
}

pub(super) fn internal_local(ctx: &Ctx<'_>) -> Option<Finding> {
    if ctx.facts.service.internal_traffic_policy != TrafficPolicy::Local {
        return None;
    }
    let nodes = nodes_without_local_endpoint(ctx);
    if nodes.is_empty() {
        return None;
    }
    let mut evidence = vec![ctx.svc_evidence("spec.internalTrafficPolicy", "Local")];
    evidence.extend(node_evidence(&nodes));
    Some(Finding {
        severity: Severity::Warning,
        code: "traffic.internal-local-no-endpoint",
        title: format!(
            "internalTrafficPolicy Local: in-cluster clients on {} nodes have no ready local endpoint",
            nodes.len()
        ),
        evidence,
        fix: "Run the backend on every node (DaemonSet), or set internalTrafficPolicy Cluster".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testing::*;

    #[test]
    fn external_local_flags_nodes_without_endpoints() {
        let mut f = mk_healthy();
        f.service.type_ = ServiceType::NodePort;
        f.service.external_traffic_policy = TrafficPolicy::Local;
        assert!(run(external_local, &f).is_none(), "every node has one");
        f.nodes.push(mk_node(4));
        let finding = run(external_local, &f).unwrap();
        assert_eq!(finding.severity, Severity::Warning);
        assert_eq!(finding.evidence[1].object.name, "node-4");
        f.service.type_ = ServiceType::LoadBalancer;
        assert_eq!(run(external_local, &f).unwrap().severity, Severity::Info);
        f.service.external_traffic_policy = TrafficPolicy::Cluster;
        assert!(run(external_local, &f).is_none());
    }

    #[test]
    fn internal_local_flags_nodes_without_endpoints() {
        let mut f = mk_healthy();
        f.nodes.push(mk_node(4));
        assert!(run(internal_local, &f).is_none());
        f.service.internal_traffic_policy = TrafficPolicy::Local;
        assert!(run(internal_local, &f).unwrap().title.contains("1 nodes"));
        f.nodes[3].ready = false;
        assert!(run(internal_local, &f).is_none(), "an unready node gets no traffic");
    }
}
