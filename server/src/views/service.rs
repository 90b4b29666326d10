//! One Service in one cluster → [`ServiceDetail`]: spec, DNS names, resolved target ports, endpoints per zone,
//! backing pods, verdict and kubectl commands.

pub mod related;

use fleetpane_app::model::services::{
    BackingPod, ContainerView, DnsKind, DnsName, EndpointView, Freshness, KubectlCommand, ProbeView,
    RelatedView, ServiceDetail, ServicePortView, ServiceSpecView, SliceSummary, TargetPortResolution,
    WorkloadView, ZoneSummary,
};
use jiff::Timestamp;

use super::{
    PodMatch, assess, count_endpoints, counted_family, is_headless, is_ready, is_serving,
    load_balancer_pending, selects,
};
use crate::diagnose::from_rows::Surroundings;
use crate::watch::rows::{
    ContainerPortRow, ContainerRow, EndpointSliceRow, EventRow, HpaRow, HttpRouteRow, IngressRow,
    NetworkPolicyRow, PdbRow, PodRow, ProbeRow, SERVICE_NAME_LABEL, ServicePortRow, ServiceRow,
};

/// What the Service page is built from. Rows are already filtered to what the person may read.
#[derive(Clone, Debug)]
pub struct ServiceInput<'a> {
    /// The cluster's name (also the kubectl context).
    pub cluster: &'a str,
    /// The cluster's DNS domain, e.g. `cluster.local`.
    pub cluster_domain: &'a str,
    /// The Service.
    pub service: &'a ServiceRow,
    /// Its EndpointSlices; `None` when the person may not read them.
    pub slices: Option<Vec<&'a EndpointSliceRow>>,
    /// Pods of its namespace (others are ignored); `None` when the person may not list them.
    pub pods: Option<Vec<&'a PodRow>>,
    /// Events of its namespace (the page keeps those about the Service, its slices and its pods).
    pub events: Option<Vec<&'a EventRow>>,
    /// NetworkPolicies of its namespace.
    pub network_policies: Option<Vec<&'a NetworkPolicyRow>>,
    /// Ingresses of its namespace.
    pub ingresses: Option<Vec<&'a IngressRow>>,
    /// Gateway API HTTPRoutes of the cluster that the person may read (a route may live in another namespace).
    pub http_routes: Option<Vec<&'a HttpRouteRow>>,
    /// HorizontalPodAutoscalers of its namespace.
    pub hpas: Option<Vec<&'a HpaRow>>,
    /// PodDisruptionBudgets of its namespace.
    pub pdbs: Option<Vec<&'a PdbRow>>,
}

/// What the Service page needs besides the rows: the time of the read (for ages) and the owning workloads as
/// looked up live. The default has neither: no ages, and the workloads as the pods' owners name them.
#[derive(Clone, Debug, Default)]
pub struct PageContext {
    /// When the rows were read; ages are relative to it.
    pub now: Option<Timestamp>,
    /// The workloads owning the backing pods, resolved through their ReplicaSets; `None`: not looked up.
    pub workloads: Option<Vec<WorkloadView>>,
}

/// Builds the Service page without a clock or live lookups (see [`page`]).
pub fn detail(input: &ServiceInput<'_>) -> ServiceDetail {
    page(input, &PageContext::default())
}

/// Builds the Service page, diagnosed without surroundings (see [`page_around`]).
pub fn page(input: &ServiceInput<'_>, ctx: &PageContext) -> ServiceDetail {
    page_around(input, &Surroundings::default(), ctx)
}

/// Builds the Service page, diagnosed with what the person may read around the Service: the cluster's nodes and
/// the namespace's workloads.
pub fn page_around(input: &ServiceInput<'_>, around: &Surroundings<'_>, ctx: &PageContext) -> ServiceDetail {
    let svc = input.service;
    let now = ctx.now;
    let slices: Vec<&EndpointSliceRow> = input
        .slices
        .iter()
        .flatten()
        .copied()
        .filter(|s| s.namespace == svc.namespace && s.service.as_deref() == Some(svc.name.as_str()))
        .collect();
    let pods: Vec<&PodRow> = backing_pods(svc, input.pods.iter().flatten().copied());
    let counts = input.slices.as_ref().map(|_| count_endpoints(&slices));
    let pod_match = input.pods.as_ref().map(|_| PodMatch { matched: u32::try_from(pods.len()).unwrap_or(0) });
    let mut slice_views: Vec<&EndpointSliceRow> = slices.clone();
    slice_views.sort_by(|a, b| a.name.cmp(&b.name));
    let slice_names: Vec<&str> = slice_views.iter().map(|s| s.name.as_str()).collect();
    let no_events: Vec<&EventRow> = Vec::new();
    let events = input.events.as_ref().unwrap_or(&no_events);
    let workloads = ctx.workloads.clone().unwrap_or_else(|| related::owner_workloads(&pods));
    let mut spec = spec_view(svc, &slices, input.pods.as_ref().map(|_| pods.as_slice()));
    if spec.load_balancer_pending {
        spec.load_balancer_pending_since = svc.created.map(|t| related::when(t, now));
    }
    let related = RelatedView {
        ingresses: input.ingresses.as_ref().map(|i| related::ingresses(svc, i)),
        http_routes: input.http_routes.as_ref().map(|r| related::http_routes(svc, r)),
        hpas: input.hpas.as_ref().map(|h| related::hpas(h, &workloads)),
        pdbs: input.pdbs.as_ref().map(|p| related::pdbs(svc, p, &pods)),
        network_policies: input
            .network_policies
            .as_ref()
            .map(|n| related::network_policies(svc, n, input.pods.as_ref().map(|_| pods.as_slice()))),
        workloads,
    };
    ServiceDetail {
        cluster: input.cluster.to_owned(),
        namespace: svc.namespace.clone(),
        name: svc.name.clone(),
        verdict: assess(svc, counts, pod_match).verdict(),
        spec,
        dns: dns_names(svc, input.cluster_domain, &slices),
        zones: zone_summary(&slices),
        slices: slice_views.iter().map(|s| slice_summary(s)).collect(),
        endpoints: slice_views.iter().flat_map(|s| endpoint_views(s)).collect(),
        pods: pods
            .iter()
            .map(|p| BackingPod {
                created: p.created.map(|t| related::when(t, now)),
                events: related::pod_events(p, events, now),
                ..backing_pod(p, &slices)
            })
            .collect(),
        kubectl: kubectl_commands(input.cluster, svc),
        endpoints_readable: input.slices.is_some(),
        pods_readable: input.pods.is_some(),
        generated_at: now.map(|t| related::when(t, None).at).unwrap_or_default(),
        freshness: Freshness::default(),
        created: svc.created.map(|t| related::when(t, now)),
        related,
        events: input.events.as_ref().map(|e| related::events(svc, &slice_names, &pods, e, now)),
        findings: super::findings::finding_views(
            input.cluster,
            &svc.namespace,
            &pods.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            &crate::diagnose::from_rows::diagnose_rows(
                input,
                around,
                &crate::diagnose::Thresholds::default(),
            ),
        ),
    }
}

/// The pods the selector picks in the Service's namespace, sorted by name. An empty selector picks none.
pub fn backing_pods<'a>(svc: &ServiceRow, pods: impl IntoIterator<Item = &'a PodRow>) -> Vec<&'a PodRow> {
    let mut out: Vec<&PodRow> = pods
        .into_iter()
        .filter(|p| p.namespace == svc.namespace && selects(&svc.selector, &p.labels))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn ip_family(ip: &str) -> &'static str {
    if ip.contains(':') { "IPv6" } else { "IPv4" }
}

fn protocol(p: Option<&str>) -> &str {
    p.unwrap_or("TCP")
}

/// The spec, with every port's targetPort resolved against `pods` (`None`: pods not readable).
pub fn spec_view(
    svc: &ServiceRow,
    slices: &[&EndpointSliceRow],
    pods: Option<&[&PodRow]>,
) -> ServiceSpecView {
    let cluster_ips: Vec<String> = svc.cluster_ips.iter().filter(|ip| *ip != "None").cloned().collect();
    // spec.ipFamilies when set (a headless Service has families but no IPs), else from the IPs.
    let mut ip_families: Vec<String> = svc.ip_families.clone();
    if ip_families.is_empty() {
        for f in cluster_ips.iter().map(|ip| ip_family(ip)) {
            if !ip_families.iter().any(|x| x == f) {
                ip_families.push(f.to_owned());
            }
        }
    }
    let selector: Vec<(String, String)> = svc.selector.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    ServiceSpecView {
        type_: svc.type_.clone(),
        headless: is_headless(svc),
        cluster_ips,
        ip_families,
        ports: svc
            .ports
            .iter()
            .map(|p| {
                let resolution = if svc.type_ == "ExternalName" {
                    TargetPortResolution::NotChecked { from_endpoints: None }
                } else {
                    resolve_target_port(p, slices, pods.unwrap_or(&[]))
                };
                ServicePortView {
                    name: p.name.clone(),
                    port: p.port,
                    target_port: p.target_port.clone().unwrap_or_else(|| p.port.to_string()),
                    node_port: p.node_port,
                    protocol: protocol(p.protocol.as_deref()).to_owned(),
                    app_protocol: p.app_protocol.clone(),
                    probed_by: match &resolution {
                        TargetPortResolution::Resolved { port, .. } => probed_by(*port, pods.unwrap_or(&[])),
                        _ => Vec::new(),
                    },
                    resolution,
                }
            })
            .collect(),
        selector_text: selector_text(svc),
        selector,
        labels: svc.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        external_traffic_policy: svc.external_traffic_policy.clone(),
        internal_traffic_policy: svc.internal_traffic_policy.clone(),
        session_affinity: svc.session_affinity.clone(),
        session_affinity_timeout: svc.session_affinity_timeout,
        ip_family_policy: svc.ip_family_policy.clone(),
        traffic_distribution: svc.traffic_distribution.clone(),
        load_balancer_pending_since: None,
        load_balancer_ingress: svc.load_balancer_ingress.clone(),
        load_balancer_pending: load_balancer_pending(svc),
        external_name: svc.external_name.clone(),
    }
}

fn declares(pod: &PodRow, want: impl Fn(&ContainerPortRow) -> bool) -> Option<(&str, i32)> {
    pod.containers
        .iter()
        .find_map(|c| c.ports.iter().find(|p| want(p)).map(|p| (c.name.as_str(), p.container_port)))
}

/// What a Service port's targetPort is on the backing pods. A number needs no declaration; a name must be a
/// container port name (same protocol) on every pod, else traffic to the pods without it fails.
pub fn resolve_target_port(
    port: &ServicePortRow,
    slices: &[&EndpointSliceRow],
    pods: &[&PodRow],
) -> TargetPortResolution {
    let proto = protocol(port.protocol.as_deref());
    let same_proto = |p: &ContainerPortRow| protocol(p.protocol.as_deref()) == proto;
    let target = port.target_port.clone().unwrap_or_else(|| port.port.to_string());
    if let Ok(n) = target.parse::<i32>() {
        let container = pods
            .iter()
            .find_map(|pod| declares(pod, |p| p.container_port == n && same_proto(p)))
            .map(|(c, _)| c.to_owned());
        return TargetPortResolution::Resolved { port: n, container };
    }
    if pods.is_empty() {
        // The EndpointSlice controller resolved it already: its ports carry the Service port's name.
        let from_endpoints =
            slices.iter().flat_map(|s| &s.ports).find(|p| p.name == port.name).and_then(|p| p.port);
        return TargetPortResolution::NotChecked { from_endpoints };
    }
    let mut numbers: Vec<i32> = Vec::new();
    let mut first_container = None;
    let mut pods_without = 0u32;
    for pod in pods {
        match declares(pod, |p| p.name.as_deref() == Some(target.as_str()) && same_proto(p)) {
            Some((c, n)) => {
                first_container.get_or_insert(c);
                if !numbers.contains(&n) {
                    numbers.push(n);
                }
            }
            None => pods_without += 1,
        }
    }
    if pods_without > 0 {
        TargetPortResolution::Unresolved { pods_without, pods: u32::try_from(pods.len()).unwrap_or(u32::MAX) }
    } else if numbers.len() > 1 {
        numbers.sort_unstable();
        TargetPortResolution::Mixed { ports: numbers }
    } else {
        TargetPortResolution::Resolved {
            port: numbers.first().copied().unwrap_or_default(),
            container: first_container.map(str::to_owned),
        }
    }
}

/// The cluster domain without stray dots; `cluster.local` if empty.
fn domain(d: &str) -> &str {
    let d = d.trim_matches('.');
    if d.is_empty() { "cluster.local" } else { d }
}

/// The DNS names of a Service: `name`, `name.ns`, `name.ns.svc.<domain>`, SRV names of named ports, per-pod
/// records of a headless Service (one per ready address, CoreDNS's dashed-IP form), the CNAME target of an
/// ExternalName.
pub fn dns_names(svc: &ServiceRow, cluster_domain: &str, slices: &[&EndpointSliceRow]) -> Vec<DnsName> {
    let domain = domain(cluster_domain);
    let fqdn = format!("{}.{}.svc.{domain}", svc.name, svc.namespace);
    let external = (svc.type_ == "ExternalName").then_some(svc.external_name.as_deref()).flatten();
    let ips: Vec<&str> = svc.cluster_ips.iter().map(String::as_str).filter(|ip| *ip != "None").collect();
    let target = match external {
        Some(e) => Some(e.to_owned()),
        None if !ips.is_empty() => Some(ips.join(", ")),
        None => None,
    };
    let mut out = vec![
        DnsName { kind: DnsKind::Short, name: svc.name.clone(), target: target.clone() },
        DnsName {
            kind: DnsKind::Namespaced,
            name: format!("{}.{}", svc.name, svc.namespace),
            target: target.clone(),
        },
        DnsName { kind: DnsKind::Fqdn, name: fqdn.clone(), target },
    ];
    if let Some(e) = external {
        out.push(DnsName { kind: DnsKind::Cname, name: e.to_owned(), target: None });
        return out;
    }
    for p in &svc.ports {
        if let Some(name) = &p.name {
            out.push(DnsName {
                kind: DnsKind::Srv,
                name: format!("_{name}._{}.{fqdn}", protocol(p.protocol.as_deref()).to_ascii_lowercase()),
                target: Some(p.port.to_string()),
            });
        }
    }
    if is_headless(svc) {
        let mut records: Vec<DnsName> = slices
            .iter()
            .filter(|s| s.address_type != "FQDN")
            .flat_map(|s| &s.endpoints)
            .filter(|e| is_ready(e))
            .flat_map(|e| &e.addresses)
            .map(|ip| DnsName {
                kind: DnsKind::Pod,
                name: format!("{}.{fqdn}", ip.replace([':', '.'], "-")),
                target: Some(ip.clone()),
            })
            .collect();
        records.sort_by(|a, b| a.name.cmp(&b.name));
        records.dedup_by(|a, b| a.name == b.name);
        out.extend(records);
    }
    out
}

/// Endpoints per zone (zone `(none)` when unset), counted on one address family so dual-stack is not doubled.
pub fn zone_summary(slices: &[&EndpointSliceRow]) -> Vec<ZoneSummary> {
    let Some(family) = counted_family(slices) else {
        return Vec::new();
    };
    let mut zones: Vec<ZoneSummary> = Vec::new();
    for e in slices.iter().filter(|s| s.address_type == family).flat_map(|s| &s.endpoints) {
        let name = e.zone.as_deref().unwrap_or("(none)");
        let i = match zones.iter().position(|z| z.zone == name) {
            Some(i) => i,
            None => {
                zones.push(ZoneSummary {
                    zone: name.to_owned(),
                    ready: 0,
                    serving: 0,
                    terminating: 0,
                    total: 0,
                });
                zones.len() - 1
            }
        };
        let z = &mut zones[i];
        z.total += 1;
        z.ready += u32::from(is_ready(e));
        z.serving += u32::from(is_serving(e));
        z.terminating += u32::from(e.terminating.unwrap_or(false));
    }
    zones.sort_by(|a, b| a.zone.cmp(&b.zone));
    zones
}

fn slice_summary(s: &EndpointSliceRow) -> SliceSummary {
    SliceSummary {
        name: s.name.clone(),
        address_type: s.address_type.clone(),
        endpoints: u32::try_from(s.endpoints.len()).unwrap_or(u32::MAX),
        ports: s
            .ports
            .iter()
            .map(|p| {
                let port = p.port.map_or_else(|| "?".to_owned(), |n| n.to_string());
                let proto = protocol(p.protocol.as_deref());
                match &p.name {
                    Some(n) if !n.is_empty() => format!("{n}:{port}/{proto}"),
                    _ => format!("{port}/{proto}"),
                }
            })
            .collect(),
    }
}

/// The pod name of an endpoint target `Pod/ns/name`.
fn target_pod(target: Option<&str>) -> Option<&str> {
    target?.strip_prefix("Pod/")?.split_once('/').map(|(_, name)| name)
}

fn endpoint_views(s: &EndpointSliceRow) -> impl Iterator<Item = EndpointView> + '_ {
    s.endpoints.iter().map(|e| EndpointView {
        slice: s.name.clone(),
        addresses: e.addresses.clone(),
        ready: is_ready(e),
        serving: is_serving(e),
        terminating: e.terminating.unwrap_or(false),
        node: e.node_name.clone(),
        zone: e.zone.clone(),
        pod: target_pod(e.target.as_deref()).map(str::to_owned),
        hint_zones: e.hint_zones.clone(),
        hint_nodes: e.hint_nodes.clone(),
    })
}

/// A probe, its port resolved against its own container's ports (as the kubelet does: a name must be a
/// declared port of that container; a number is checked as is).
pub fn probe_view(p: &ProbeRow, container: &ContainerRow) -> ProbeView {
    let (resolved_port, port_name) = match p.port.as_deref() {
        None => (None, None),
        Some(port) => match port.parse::<i32>() {
            Ok(n) => (
                Some(n),
                container.ports.iter().find(|cp| cp.container_port == n).and_then(|cp| cp.name.clone()),
            ),
            Err(_) => match container.ports.iter().find(|cp| cp.name.as_deref() == Some(port)) {
                Some(cp) => (Some(cp.container_port), Some(port.to_owned())),
                None => (None, None),
            },
        },
    };
    ProbeView {
        action: p.action.clone(),
        period_seconds: p.period_seconds,
        failure_threshold: p.failure_threshold,
        kind: p.kind.clone(),
        port: p.port.clone(),
        resolved_port,
        port_name,
        path: p.path.clone(),
        scheme: p.scheme.clone(),
        host: p.host.clone(),
        command: p.command.clone(),
        grpc_service: p.grpc_service.clone(),
        initial_delay_seconds: p.initial_delay_seconds,
        timeout_seconds: p.timeout_seconds,
        success_threshold: p.success_threshold,
    }
}

/// Which probes of the backing containers check container port `port`.
fn probed_by(port: i32, pods: &[&PodRow]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in pods.iter().flat_map(|p| &p.containers) {
        for (which, probe) in
            [("readiness", &c.readiness), ("liveness", &c.liveness), ("startup", &c.startup)]
        {
            if probe.as_ref().is_some_and(|p| probe_view(p, c).resolved_port == Some(port))
                && !out.iter().any(|w| w == which)
            {
                out.push(which.to_owned());
            }
        }
    }
    out
}

fn backing_pod(p: &PodRow, slices: &[&EndpointSliceRow]) -> BackingPod {
    // PodRow has no zone: the pod's endpoint knows it.
    let zone = slices
        .iter()
        .flat_map(|s| &s.endpoints)
        .find(|e| target_pod(e.target.as_deref()) == Some(p.name.as_str()))
        .and_then(|e| e.zone.clone());
    BackingPod {
        name: p.name.clone(),
        phase: p.phase.clone(),
        ready: p.ready,
        restarts: p.restarts,
        node: p.node_name.clone(),
        zone,
        pod_ip: p.pod_ip.clone(),
        owner: p.owner.clone(),
        start_time: p.start_time.clone(),
        created: None,
        events: Vec::new(),
        containers: p
            .containers
            .iter()
            .map(|c| ContainerView {
                name: c.name.clone(),
                ports: c
                    .ports
                    .iter()
                    .map(|cp| {
                        let proto = protocol(cp.protocol.as_deref());
                        match &cp.name {
                            Some(n) => format!("{n}:{}/{proto}", cp.container_port),
                            None => format!("{}/{proto}", cp.container_port),
                        }
                    })
                    .collect(),
                readiness: c.readiness.as_ref().map(|p| probe_view(p, c)),
                liveness: c.liveness.as_ref().map(|p| probe_view(p, c)),
                startup: c.startup.as_ref().map(|p| probe_view(p, c)),
            })
            .collect(),
    }
}

fn selector_text(svc: &ServiceRow) -> String {
    svc.selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Single-quotes a word for a POSIX shell unless it is plainly safe.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:@".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// "Copy as kubectl": commands that show the same data. The context is the cluster's name.
pub fn kubectl_commands(cluster: &str, svc: &ServiceRow) -> Vec<KubectlCommand> {
    let base = format!("kubectl --context {} -n {}", shell_word(cluster), shell_word(&svc.namespace));
    let name = shell_word(&svc.name);
    let slices = shell_word(&format!("{SERVICE_NAME_LABEL}={}", svc.name));
    let cmd = |label: &str, command: String| KubectlCommand { label: label.to_owned(), command };
    let mut out = vec![
        cmd("Service", format!("{base} get svc {name} -o yaml")),
        cmd("Describe Service", format!("{base} describe svc {name}")),
        cmd("EndpointSlices", format!("{base} get endpointslices -l {slices} -o wide")),
        cmd("Describe EndpointSlices", format!("{base} describe endpointslices -l {slices}")),
    ];
    if !svc.selector.is_empty() {
        let selector = shell_word(&selector_text(svc));
        out.push(cmd("Backing pods", format!("{base} get pods -l {selector} -o wide")));
        out.push(cmd("Describe backing pods", format!("{base} describe pods -l {selector}")));
    }
    out.push(cmd("Events", format!("{base} events --for svc/{name}")));
    out
}

#[cfg(test)]
mod tests {
    use fleetpane_app::model::services::Health;

    use super::*;
    use crate::views::tests::{labels, mk_endpoint, mk_pod, mk_port, mk_service, mk_slice};
    use crate::watch::rows::{EndpointPortRow, EndpointRow};

    fn mk_input<'a>(
        svc: &'a ServiceRow,
        slices: &[&'a EndpointSliceRow],
        pods: &[&'a PodRow],
    ) -> ServiceInput<'a> {
        ServiceInput {
            cluster: "prod-eu",
            cluster_domain: "cluster.local",
            service: svc,
            slices: Some(slices.to_vec()),
            pods: Some(pods.to_vec()),
            events: Some(Vec::new()),
            network_policies: Some(Vec::new()),
            ingresses: Some(Vec::new()),
            http_routes: Some(Vec::new()),
            hpas: Some(Vec::new()),
            pdbs: Some(Vec::new()),
        }
    }

    fn names(d: &[DnsName], kind: DnsKind) -> Vec<&str> {
        d.iter().filter(|n| n.kind == kind).map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn serving_service_in_two_zones() {
        let svc = mk_service("shop", "checkout");
        let slice = mk_slice(
            &svc,
            "x7k2",
            "IPv4",
            vec![
                mk_endpoint("10.1.0.1", true, "zone-a", "checkout-1"),
                mk_endpoint("10.1.0.2", true, "zone-b", "checkout-2"),
            ],
        );
        let p1 = mk_pod("shop", "checkout-1", "checkout", &[("", 8080)]);
        let p2 = mk_pod("shop", "checkout-2", "checkout", &[("", 8080)]);
        let other = mk_pod("shop", "cart-1", "cart", &[]);
        let elsewhere = mk_pod("other", "checkout-9", "checkout", &[]);
        let d = detail(&mk_input(&svc, &[&slice], &[&p2, &other, &p1, &elsewhere]));
        assert_eq!(d.verdict.health, Health::Serving);
        assert_eq!(d.verdict.text, "Serving: 2/2 endpoints ready in 2 zones");
        assert_eq!(d.pods.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["checkout-1", "checkout-2"]);
        assert_eq!(d.pods[0].zone.as_deref(), Some("zone-a"));
        assert_eq!(d.pods[0].containers[0].ports, ["8080/TCP"]);
        assert_eq!(d.endpoints.len(), 2);
        assert_eq!(d.endpoints[1].pod.as_deref(), Some("checkout-2"));
        assert_eq!(
            d.zones.iter().map(|z| (z.zone.as_str(), z.ready)).collect::<Vec<_>>(),
            [("zone-a", 1), ("zone-b", 1)]
        );
        assert_eq!(
            d.spec.ports[0].resolution,
            TargetPortResolution::Resolved { port: 8080, container: Some("main".into()) }
        );
        assert_eq!(d.spec.ip_families, ["IPv4"]);
        assert!(!d.spec.headless && d.endpoints_readable && d.pods_readable);
        assert_eq!(names(&d.dns, DnsKind::Short), ["checkout"]);
        assert_eq!(names(&d.dns, DnsKind::Namespaced), ["checkout.shop"]);
        assert_eq!(names(&d.dns, DnsKind::Fqdn), ["checkout.shop.svc.cluster.local"]);
        assert_eq!(names(&d.dns, DnsKind::Srv), ["_http._tcp.checkout.shop.svc.cluster.local"]);
        assert_eq!(d.dns[0].target.as_deref(), Some("10.96.0.10"));
    }

    #[test]
    fn named_target_ports_resolve_per_pod() {
        let mut svc = mk_service("shop", "web");
        svc.ports =
            vec![mk_port(Some("http"), 80, Some("web")), mk_port(Some("metrics"), 9090, Some("metrics"))];
        let a = mk_pod("shop", "web-a", "web", &[("web", 8080), ("metrics", 9100)]);
        let b = mk_pod("shop", "web-b", "web", &[("web", 8080)]);
        let d = detail(&mk_input(&svc, &[], &[&a, &b]));
        assert_eq!(
            d.spec.ports[0].resolution,
            TargetPortResolution::Resolved { port: 8080, container: Some("main".into()) }
        );
        assert_eq!(d.spec.ports[0].target_port, "web");
        assert_eq!(d.spec.ports[1].resolution, TargetPortResolution::Unresolved { pods_without: 1, pods: 2 });
        assert!(d.spec.ports[1].resolution.is_problem());

        let c = mk_pod("shop", "web-c", "web", &[("web", 8081)]);
        let r = resolve_target_port(&svc.ports[0], &[], &[&a, &c]);
        assert_eq!(r, TargetPortResolution::Mixed { ports: vec![8080, 8081] });

        // A UDP name does not satisfy a TCP port.
        let mut udp = mk_pod("shop", "web-u", "web", &[("web", 8080)]);
        udp.containers[0].ports[0].protocol = Some("UDP".into());
        assert!(resolve_target_port(&svc.ports[0], &[], &[&udp]).is_problem());

        // No pods visible: the slices' port for the Service port's name.
        let mut slice = mk_slice(&svc, "a", "IPv4", vec![]);
        slice.ports =
            vec![EndpointPortRow { name: Some("http".into()), port: Some(8080), ..Default::default() }];
        assert_eq!(
            resolve_target_port(&svc.ports[0], &[&slice], &[]),
            TargetPortResolution::NotChecked { from_endpoints: Some(8080) }
        );
        // Omitted targetPort means the port itself.
        let bare = mk_port(None, 5432, None);
        assert_eq!(
            resolve_target_port(&bare, &[], &[]),
            TargetPortResolution::Resolved { port: 5432, container: None }
        );
    }

    #[test]
    fn headless_service_has_per_pod_records_and_no_cluster_ip() {
        let mut svc = mk_service("db", "pg");
        svc.cluster_ips = vec!["None".into()];
        svc.ports = vec![mk_port(None, 5432, None)];
        let slice = mk_slice(
            &svc,
            "a",
            "IPv4",
            vec![mk_endpoint("10.1.0.5", true, "z1", "pg-0"), mk_endpoint("10.1.0.6", false, "z1", "pg-1")],
        );
        let d = detail(&mk_input(&svc, &[&slice], &[]));
        assert!(d.spec.headless && d.spec.cluster_ips.is_empty() && d.spec.ip_families.is_empty());
        assert_eq!(names(&d.dns, DnsKind::Pod), ["10-1-0-5.pg.db.svc.cluster.local"]);
        assert_eq!(
            d.dns.iter().find(|n| n.kind == DnsKind::Pod).and_then(|n| n.target.as_deref()),
            Some("10.1.0.5")
        );
        assert!(names(&d.dns, DnsKind::Srv).is_empty(), "unnamed port: no SRV");
        assert_eq!(d.dns[0].target, None);
        // Pods list given but empty: the selector matches nothing.
        assert_eq!(d.verdict.text, "Not serving: selector matches no pods");
    }

    #[test]
    fn external_name_is_a_cname() {
        let svc = ServiceRow {
            namespace: "shop".into(),
            name: "db".into(),
            type_: "ExternalName".into(),
            external_name: Some("db.example.com".into()),
            ..Default::default()
        };
        let d = detail(&mk_input(&svc, &[], &[]));
        assert_eq!(d.verdict.health, Health::External);
        assert_eq!(d.verdict.text, "ExternalName → db.example.com");
        assert_eq!(names(&d.dns, DnsKind::Cname), ["db.example.com"]);
        assert_eq!(d.dns[2].target.as_deref(), Some("db.example.com"));
        assert_eq!(d.spec.external_name.as_deref(), Some("db.example.com"));
        assert!(d.pods.is_empty() && d.zones.is_empty());
    }

    #[test]
    fn dual_stack_counts_once_and_lists_both_addresses() {
        let mut svc = mk_service("shop", "web");
        svc.cluster_ips = vec!["10.96.0.7".into(), "fd00::7".into()];
        let v4 = mk_slice(&svc, "v4", "IPv4", vec![mk_endpoint("10.1.0.1", true, "z1", "web-1")]);
        let v6 = mk_slice(&svc, "v6", "IPv6", vec![mk_endpoint("fd00:1::1", true, "z1", "web-1")]);
        let p = mk_pod("shop", "web-1", "web", &[("", 8080)]);
        let d = detail(&mk_input(&svc, &[&v4, &v6], &[&p]));
        assert_eq!(d.spec.ip_families, ["IPv4", "IPv6"]);
        assert_eq!(d.verdict.text, "Serving: 1/1 endpoints ready in 1 zone");
        assert_eq!(d.zones.len(), 1);
        assert_eq!(d.zones[0].total, 1);
        assert_eq!(d.endpoints.len(), 2);
        assert_eq!(d.slices.iter().map(|s| s.address_type.as_str()).collect::<Vec<_>>(), ["IPv4", "IPv6"]);
        assert_eq!(d.dns[0].target.as_deref(), Some("10.96.0.7, fd00::7"));
    }

    #[test]
    fn headless_dual_stack_pod_records_dash_ipv6() {
        let mut svc = mk_service("db", "pg");
        svc.cluster_ips = vec!["None".into()];
        let v6 = mk_slice(&svc, "v6", "IPv6", vec![mk_endpoint("fd00::5", true, "z1", "pg-0")]);
        assert_eq!(
            names(&dns_names(&svc, ".cluster.local.", &[&v6]), DnsKind::Pod),
            ["fd00--5.pg.db.svc.cluster.local"]
        );
    }

    #[test]
    fn node_port_and_pending_load_balancer() {
        let mut svc = mk_service("shop", "edge");
        svc.type_ = "NodePort".into();
        svc.ports[0].node_port = Some(30080);
        let slice = mk_slice(&svc, "a", "IPv4", vec![mk_endpoint("10.1.0.1", true, "z1", "edge-1")]);
        let p = mk_pod("shop", "edge-1", "edge", &[("", 8080)]);
        let d = detail(&mk_input(&svc, &[&slice], &[&p]));
        assert_eq!(d.spec.ports[0].node_port, Some(30080));
        assert_eq!(d.verdict.health, Health::Serving);

        svc.type_ = "LoadBalancer".into();
        let d = detail(&mk_input(&svc, &[&slice], &[&p]));
        assert!(d.spec.load_balancer_pending);
        assert_eq!(d.verdict.health, Health::Pending);
        assert!(d.verdict.text.starts_with("LoadBalancer pending"), "{}", d.verdict.text);
        svc.load_balancer_ingress = vec!["lb.example.com".into()];
        let d = detail(&mk_input(&svc, &[&slice], &[&p]));
        assert!(!d.spec.load_balancer_pending);
        assert_eq!(d.verdict.health, Health::Serving);
    }

    #[test]
    fn missing_fields_no_selector_no_ports_no_endpoints() {
        let svc = ServiceRow {
            namespace: "ns".into(),
            name: "bare".into(),
            type_: "ClusterIP".into(),
            ..Default::default()
        };
        let stray = mk_pod("ns", "p", "bare", &[]);
        let d = detail(&mk_input(&svc, &[], &[&stray]));
        assert_eq!(d.verdict.text, "Not serving: no selector and no endpoints");
        assert!(d.pods.is_empty(), "an empty selector selects nothing");
        assert!(d.spec.ports.is_empty() && d.spec.selector.is_empty() && d.spec.selector_text.is_empty());
        assert_eq!(d.dns.len(), 3, "no SRV, no pod records");
        assert!(d.kubectl.iter().all(|k| !k.command.contains("get pods")));
        assert!(d.zones.is_empty() && d.slices.is_empty());

        // Unreadable kinds: unknown, not "not serving".
        let input = ServiceInput { slices: None, pods: None, ..mk_input(&svc, &[], &[]) };
        let d = detail(&input);
        assert_eq!(d.verdict.health, Health::Unknown);
        assert!(!d.endpoints_readable && !d.pods_readable);

        // An endpoint with no conditions, zone or target.
        let mut svc = mk_service("ns", "web");
        svc.ports = vec![mk_port(Some("http"), 80, Some("web"))];
        let slice = mk_slice(
            &svc,
            "a",
            "IPv4",
            vec![EndpointRow { addresses: vec!["10.0.0.1".into()], ..Default::default() }],
        );
        let d = detail(&ServiceInput { pods: None, ..mk_input(&svc, &[&slice], &[]) });
        assert_eq!(d.verdict.text, "Serving: 1/1 endpoints ready");
        assert_eq!(d.zones[0].zone, "(none)");
        assert_eq!(d.endpoints[0].pod, None);
        assert_eq!(d.spec.ports[0].resolution, TargetPortResolution::NotChecked { from_endpoints: None });
    }

    #[test]
    fn selector_matching_nothing_and_terminating_endpoints() {
        let svc = mk_service("shop", "web");
        let other = mk_pod("shop", "api-1", "api", &[]);
        let d = detail(&mk_input(&svc, &[], &[&other]));
        assert_eq!(d.verdict.health, Health::NotServing);
        assert_eq!(d.verdict.text, "Not serving: selector matches no pods");

        let mut term = mk_endpoint("10.0.0.2", false, "z1", "web-2");
        term.terminating = Some(true);
        term.serving = Some(true);
        let slice = mk_slice(&svc, "a", "IPv4", vec![mk_endpoint("10.0.0.1", true, "z1", "web-1"), term]);
        let zones = zone_summary(&[&slice]);
        assert_eq!(
            zones,
            [ZoneSummary { zone: "z1".into(), ready: 1, serving: 2, terminating: 1, total: 2 }]
        );
    }

    fn mk_probe(kind: &str, port: Option<&str>) -> ProbeRow {
        ProbeRow {
            action: format!("{kind} :{}", port.unwrap_or("")),
            kind: kind.into(),
            port: port.map(Into::into),
            period_seconds: 10,
            failure_threshold: 3,
            timeout_seconds: 1,
            success_threshold: 1,
            ..Default::default()
        }
    }

    #[test]
    fn probes_resolve_ports_against_their_container_and_mark_probed_service_ports() {
        let mut svc = mk_service("team-a", "checkout");
        svc.ports = vec![mk_port(Some("http"), 80, Some("http")), mk_port(Some("grpc"), 9090, Some("grpc"))];
        let mut pod = mk_pod("team-a", "checkout-1", "checkout", &[("http", 8080), ("grpc", 9090)]);
        let c = &mut pod.containers[0];
        c.readiness =
            Some(Box::new(ProbeRow { path: Some("/healthz".into()), ..mk_probe("httpGet", Some("http")) }));
        c.liveness = Some(Box::new(mk_probe("tcpSocket", Some("8080"))));
        c.startup = Some(Box::new(mk_probe("grpc", Some("9090"))));
        let d = detail(&mk_input(&svc, &[], &[&pod]));
        let c = &d.pods[0].containers[0];
        let r = c.readiness.as_ref().unwrap();
        assert_eq!(
            (r.kind.as_str(), r.resolved_port, r.port_name.as_deref()),
            ("httpGet", Some(8080), Some("http"))
        );
        assert_eq!(r.path.as_deref(), Some("/healthz"));
        let l = c.liveness.as_ref().unwrap();
        assert_eq!(
            (l.resolved_port, l.port_name.as_deref()),
            (Some(8080), Some("http")),
            "a number names its port"
        );
        assert_eq!(c.startup.as_ref().unwrap().resolved_port, Some(9090));
        assert_eq!(d.spec.ports[0].probed_by, ["readiness", "liveness"]);
        assert_eq!(d.spec.ports[1].probed_by, ["startup"]);

        // A named probe port the container does not declare: the probe cannot work.
        let container = ContainerRow { name: "x".into(), ..Default::default() };
        let v = probe_view(&mk_probe("httpGet", Some("web")), &container);
        assert_eq!(v.resolved_port, None);
        assert!(v.port_problem());
        // An exec probe has no port, and that is no problem.
        let exec = probe_view(
            &ProbeRow { command: vec!["/bin/check".into()], ..mk_probe("exec", None) },
            &container,
        );
        assert!(!exec.port_problem() && exec.command == ["/bin/check"]);
    }

    #[test]
    fn spec_families_timeouts_and_pending_since_with_a_clock() {
        let mut svc = mk_service("db", "pg");
        svc.cluster_ips = vec!["None".into()];
        svc.ip_families = vec!["IPv4".into(), "IPv6".into()];
        svc.ip_family_policy = Some("RequireDualStack".into());
        svc.session_affinity = Some("ClientIP".into());
        svc.session_affinity_timeout = Some(600);
        svc.traffic_distribution = Some("PreferClose".into());
        let d = detail(&mk_input(&svc, &[], &[]));
        assert_eq!(d.spec.ip_families, ["IPv4", "IPv6"], "headless: the spec's families, no IPs");
        assert!(d.spec.cluster_ips.is_empty());
        assert_eq!(d.spec.session_affinity_timeout, Some(600));
        assert_eq!(d.spec.traffic_distribution.as_deref(), Some("PreferClose"));

        let mut lb = mk_service("team-a", "frontend");
        lb.type_ = "LoadBalancer".into();
        lb.created = Some("2026-11-26T11:50:00Z".parse().unwrap());
        let now: Timestamp = "2026-11-26T14:00:00Z".parse().unwrap();
        let d = page(&mk_input(&lb, &[], &[]), &PageContext { now: Some(now), workloads: None });
        let since = d.spec.load_balancer_pending_since.unwrap();
        assert_eq!((since.at.as_str(), since.ago.as_str()), ("2026-11-26T11:50:00Z", "2h10m"));
        assert_eq!(d.generated_at, "2026-11-26T14:00:00Z");
        assert_eq!(d.created.map(|c| c.ago).as_deref(), Some("2h10m"));
        // Without a clock: no ages, and not pending once it has an ingress.
        lb.load_balancer_ingress = vec!["192.0.2.1".into()];
        let d = detail(&mk_input(&lb, &[], &[]));
        assert_eq!(d.spec.load_balancer_pending_since, None);
        assert_eq!(d.created.map(|c| c.ago).as_deref(), Some(""));
    }

    #[test]
    fn related_sections_are_none_when_forbidden_and_found_when_readable() {
        let svc = mk_service("team-a", "checkout");
        let mut pod = mk_pod("team-a", "checkout-1", "checkout", &[("http", 8080)]);
        pod.owner = Some("ReplicaSet/checkout-5d5d75d5b5".into());
        let hpa = HpaRow {
            namespace: "team-a".into(),
            name: "checkout".into(),
            target: "Deployment/checkout".into(),
            ..Default::default()
        };
        let pdb = PdbRow {
            namespace: "team-a".into(),
            name: "checkout".into(),
            selector: "app=checkout".into(),
            disruptions_allowed: 1,
            ..Default::default()
        };
        let input = ServiceInput {
            hpas: Some(vec![&hpa]),
            pdbs: Some(vec![&pdb]),
            events: None,
            network_policies: None,
            ingresses: None,
            http_routes: None,
            ..mk_input(&svc, &[], &[&pod])
        };
        let d = detail(&input);
        assert_eq!(d.related.workloads.len(), 1);
        assert_eq!(d.related.workloads[0].kind, "ReplicaSet");
        assert_eq!(d.related.hpas.as_ref().map(Vec::len), Some(1), "through the ReplicaSet's name");
        assert_eq!(d.related.pdbs.as_ref().map(|p| p[0].disruptions_allowed), Some(1));
        assert_eq!(
            (d.related.network_policies, d.related.ingresses, d.related.http_routes),
            (None, None, None)
        );
        assert_eq!(d.events, None);
        // Looked-up workloads replace the owners' names.
        let ctx = PageContext {
            now: None,
            workloads: Some(vec![WorkloadView {
                kind: "Deployment".into(),
                name: "checkout".into(),
                replicas: Some("3/3".into()),
                pods: 1,
                note: None,
            }]),
        };
        let d = page(&input, &ctx);
        assert_eq!(d.related.workloads[0].name, "checkout");
        assert_eq!(d.related.hpas.map(|h| h.len()), Some(1));
    }

    #[test]
    fn the_doctor_on_the_page_reads_nodes_and_workloads_around_the_service() {
        use crate::{
            access::Scope,
            diagnose::from_rows::{NodeIndex, WorkloadIndex},
            watch::rows::{NodeReady, NodeRow, SelectorRow, WorkloadKind, WorkloadRow},
        };
        // checkout is scaled to zero: no pod, no endpoint.
        let svc = mk_service("team-a", "checkout");
        let slice = mk_slice(&svc, "x", "IPv4", Vec::new());
        let input = mk_input(&svc, &[&slice], &[]);
        let zero = WorkloadRow {
            kind: WorkloadKind::Deployment,
            namespace: "team-a".into(),
            name: "checkout".into(),
            selector: SelectorRow { match_labels: labels(&[("app", "checkout")]), ..Default::default() },
            template_labels: labels(&[("app", "checkout")]),
            ..Default::default()
        };
        let mut workloads = WorkloadIndex::default();
        workloads.add(WorkloadKind::Deployment, Scope::All, [&zero]);
        let (views, _) = related::cached_workloads(&svc, &[], &workloads);
        let node = NodeRow { name: "node-1".into(), ready: NodeReady::False, ..Default::default() };
        let nodes = NodeIndex::new([&node]);
        let around = Surroundings { nodes: Some(&nodes), workloads: Some(&workloads), ..Default::default() };
        let d = page_around(&input, &around, &PageContext { now: None, workloads: Some(views) });
        assert_eq!(d.findings[0].code, "pods.scaled-to-zero", "{:#?}", d.findings);
        // The evidence links to the workload the page lists.
        assert_eq!(d.findings[0].evidence[0].object.href.as_deref(), Some("#workload-checkout"));
        assert_eq!(d.related.workloads[0].name, "checkout");
        assert_eq!(d.related.workloads[0].note.as_deref(), Some("scaled to zero"));
        // Without what is around, the same rows say only that the selector matches nothing.
        assert_eq!(page(&input, &PageContext::default()).findings[0].code, "selector.matches-nothing");
    }

    #[test]
    fn kubectl_commands_name_context_namespace_and_selector() {
        let mut svc = mk_service("team-a", "checkout");
        svc.selector = labels(&[("app", "checkout"), ("tier", "web")]);
        let cmds: Vec<String> = kubectl_commands("prod-eu", &svc).into_iter().map(|c| c.command).collect();
        assert!(
            cmds.contains(&"kubectl --context prod-eu -n team-a get svc checkout -o yaml".to_owned()),
            "{cmds:?}"
        );
        assert!(cmds.contains(
            &"kubectl --context prod-eu -n team-a get endpointslices -l kubernetes.io/service-name=checkout -o wide"
                .to_owned()
        ));
        assert!(cmds.contains(
            &"kubectl --context prod-eu -n team-a get pods -l app=checkout,tier=web -o wide".to_owned()
        ));
        assert!(cmds.contains(&"kubectl --context prod-eu -n team-a describe svc checkout".to_owned()));
        assert_eq!(shell_word("a b'c"), r"'a b'\''c'");
    }
}
