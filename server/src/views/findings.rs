//! The doctor's findings → wire types, with a link for every object the evidence names. Pure.
//!
//! A Service links to its page; an object the Service page shows links to its anchor there (`#pod-NAME`,
//! `#endpoints`, `#netpol-NAME`, `#ingress-NAME`, `#httproute-NAME`, `#hpa-NAME`, `#pdb-NAME`,
//! `#workload-NAME`); anything else (a node, another namespace's pod) has no link.

use fleetpane_app::model::{
    doctor::{EvidenceView, FindingView, ObjectLink, Severity as WireSeverity},
    services::service_href,
};

use crate::diagnose::{Finding, ObjectRef, Severity};

fn severity(s: Severity) -> WireSeverity {
    match s {
        Severity::Info => WireSeverity::Info,
        Severity::Warning => WireSeverity::Warning,
        Severity::Critical => WireSeverity::Critical,
    }
}

/// Where `object` is shown: its own page (a Service), or an anchor on the page of the Service in
/// `namespace` that shows `pods`.
pub fn href(cluster: &str, namespace: &str, pods: &[&str], object: &ObjectRef) -> Option<String> {
    if object.kind == "Service" {
        return Some(service_href(cluster, &object.namespace, &object.name));
    }
    if object.namespace != namespace {
        return None;
    }
    let anchor = match object.kind.as_str() {
        "Pod" if pods.contains(&object.name.as_str()) => "pod",
        "EndpointSlice" => return Some("#endpoints".to_owned()),
        "NetworkPolicy" => "netpol",
        "Ingress" => "ingress",
        "HTTPRoute" => "httproute",
        "HorizontalPodAutoscaler" => "hpa",
        "PodDisruptionBudget" => "pdb",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "workload",
        _ => return None,
    };
    Some(format!("#{anchor}-{}", object.name))
}

/// The findings of the Service `namespace/…` in `cluster` as the page shows them, in the doctor's order (most
/// severe first). `pods`: the pods the page lists (only those get an anchor).
pub fn finding_views(
    cluster: &str,
    namespace: &str,
    pods: &[&str],
    findings: &[Finding],
) -> Vec<FindingView> {
    findings
        .iter()
        .map(|f| FindingView {
            severity: severity(f.severity),
            code: f.code.to_owned(),
            title: f.title.clone(),
            evidence: f
                .evidence
                .iter()
                .map(|e| EvidenceView {
                    object: ObjectLink {
                        kind: e.object.kind.clone(),
                        namespace: e.object.namespace.clone(),
                        name: e.object.name.clone(),
                        href: href(cluster, namespace, pods, &e.object),
                    },
                    field: e.field.clone(),
                    detail: e.detail.clone(),
                })
                .collect(),
            fix: f.fix.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Evidence;

    #[test]
    fn evidence_links_to_pages_and_anchors() {
        let obj = |kind: &str, ns: &str, name: &str| ObjectRef::new(kind, ns, name);
        let pods = ["checkout-1"];
        let at = |o: &ObjectRef| href("prod-eu", "team-a", &pods, o);
        assert_eq!(
            at(&obj("Service", "team-a", "checkout")).as_deref(),
            Some("/c/prod-eu/ns/team-a/svc/checkout")
        );
        assert_eq!(at(&obj("Pod", "team-a", "checkout-1")).as_deref(), Some("#pod-checkout-1"));
        assert_eq!(at(&obj("Pod", "team-a", "other-1")), None, "not on the page");
        assert_eq!(at(&obj("Pod", "team-b", "checkout-1")), None, "another namespace");
        assert_eq!(at(&obj("NetworkPolicy", "team-a", "deny")).as_deref(), Some("#netpol-deny"));
        assert_eq!(at(&obj("EndpointSlice", "team-a", "checkout-x")).as_deref(), Some("#endpoints"));
        assert_eq!(at(&obj("Node", "", "node-1")), None);

        let finding = Finding {
            severity: Severity::Critical,
            code: "selector.matches-nothing",
            title: "Selector app=x matches no pod".into(),
            evidence: vec![Evidence {
                object: obj("Service", "team-a", "checkout"),
                field: "spec.selector".into(),
                detail: "app=x".into(),
            }],
            fix: "Compare".into(),
        };
        let views = finding_views("prod-eu", "team-a", &pods, std::slice::from_ref(&finding));
        assert_eq!(views[0].severity, WireSeverity::Critical);
        assert_eq!(views[0].code, "selector.matches-nothing");
        assert_eq!(views[0].evidence[0].object.href.as_deref(), Some("/c/prod-eu/ns/team-a/svc/checkout"));
    }

    #[test]
    fn the_service_page_carries_the_findings_first_problem_first() {
        use crate::views::{
            service::{ServiceInput, detail},
            tests::{mk_endpoint, mk_pod, mk_service, mk_slice},
        };
        let svc = mk_service("team-a", "web");
        let other = mk_pod("team-a", "api-1", "api", &[]);
        let mut pod = mk_pod("team-a", "web-1", "web", &[("", 8080)]);
        pod.containers[0].readiness = Some(Default::default());
        pod.containers[0].has_requests = true;
        pod.containers[0].has_limits = true;
        pod.containers[0].state.ready = true;
        let slice = mk_slice(&svc, "a", "IPv4", vec![mk_endpoint("10.0.0.1", true, "z1", "web-1")]);
        let input = ServiceInput {
            cluster: "prod-eu",
            cluster_domain: "cluster.local",
            service: &svc,
            slices: Some(vec![]),
            pods: Some(vec![&other]),
            events: None,
            network_policies: None,
            ingresses: None,
            http_routes: None,
            hpas: None,
            pdbs: None,
        };
        // The selector matches nothing: one critical finding, linking the Service's own page.
        let d = detail(&input);
        assert_eq!(d.findings[0].code, "selector.matches-nothing", "{:#?}", d.findings);
        assert_eq!(d.findings[0].severity, WireSeverity::Critical);
        assert_eq!(d.findings[0].evidence[0].object.href.as_deref(), Some("/c/prod-eu/ns/team-a/svc/web"));
        // A healthy look-alike: none.
        let d = detail(&ServiceInput { slices: Some(vec![&slice]), pods: Some(vec![&other, &pod]), ..input });
        assert!(d.findings.is_empty(), "{:#?}", d.findings);
    }
}
