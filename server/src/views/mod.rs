//! Kubernetes rows → the app's wire types. Pure: no I/O, no clock, no access decisions.
//!
//! ```text
//! watch caches (rows) ─┬─ list::entries ── ServiceEntry (per cluster) ── list::list ── ServiceListPage
//!  ServiceRow          │                                                   (search, group, drift, sort, page)
//!  EndpointSliceRow    └─ service::detail ───────────────────────────────── ServiceDetail
//!  PodRow                  (DNS, targetPorts, zones, backing pods, verdict, kubectl)
//! ```
//!
//! The caller has already kept only the rows the person may read ([`crate::access`]); a kind the person may not
//! read is passed as `None`, which the verdict turns into [`Health::Unknown`] rather than "not serving".

pub mod drift;
pub mod findings;
pub mod list;
pub mod service;

use fleetpane_app::model::services::{Health, Verdict};

use crate::watch::rows::{EndpointRow, EndpointSliceRow, Labels, ServicePortRow, ServiceRow};

/// Endpoint counts of one Service, counted once per backend even when dual-stack slices list it twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointCounts {
    /// Ready endpoints.
    pub ready: u32,
    /// All endpoints.
    pub total: u32,
    /// Distinct zones with a ready endpoint.
    pub zones: u32,
}

/// `conditions.ready`: unset means ready (the API's advice for consumers).
pub(crate) fn is_ready(e: &EndpointRow) -> bool {
    e.ready.unwrap_or(true)
}

/// `conditions.serving`: unset falls back to ready.
pub(crate) fn is_serving(e: &EndpointRow) -> bool {
    e.serving.unwrap_or_else(|| is_ready(e))
}

/// The address family whose slices are counted. A dual-stack Service has one set of slices per family, each
/// listing the same pods; counting both would double every endpoint. The family with most endpoints wins (ties:
/// the alphabetically first, so `IPv4`).
pub(crate) fn counted_family<'a>(slices: &[&'a EndpointSliceRow]) -> Option<&'a str> {
    let mut best: Option<(&str, usize)> = None;
    for s in slices {
        let family = s.address_type.as_str();
        if best.is_some_and(|(f, _)| f == family) {
            continue;
        }
        let n: usize = slices.iter().filter(|o| o.address_type == family).map(|o| o.endpoints.len()).sum();
        best = match best {
            Some((f, m)) if m > n || (m == n && f <= family) => Some((f, m)),
            _ => Some((family, n)),
        };
    }
    best.map(|(f, _)| f)
}

/// Counts the endpoints of one Service's slices.
pub fn count_endpoints(slices: &[&EndpointSliceRow]) -> EndpointCounts {
    let Some(family) = counted_family(slices) else {
        return EndpointCounts::default();
    };
    let mut counts = EndpointCounts::default();
    let mut zones: Vec<&str> = Vec::new();
    for e in slices.iter().filter(|s| s.address_type == family).flat_map(|s| &s.endpoints) {
        counts.total += 1;
        if is_ready(e) {
            counts.ready += 1;
            if let Some(z) = e.zone.as_deref()
                && !zones.contains(&z)
            {
                zones.push(z);
            }
        }
    }
    counts.zones = u32::try_from(zones.len()).unwrap_or(u32::MAX);
    counts
}

/// Whether a Service selector picks a pod with these labels. An empty selector picks nothing: such a Service's
/// endpoints are managed by hand.
pub fn selects(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `clusterIP: None`.
pub fn is_headless(service: &ServiceRow) -> bool {
    service.cluster_ips.iter().any(|ip| ip == "None")
}

/// A LoadBalancer without an ingress point yet.
pub fn load_balancer_pending(service: &ServiceRow) -> bool {
    service.type_ == "LoadBalancer" && service.load_balancer_ingress.is_empty()
}

/// Ports in one line: `http 80→8080, dns 53/UDP, 443:30443`.
pub fn ports_text(ports: &[ServicePortRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (i, p) in ports.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if let Some(name) = &p.name {
            let _ = write!(out, "{name} ");
        }
        let _ = write!(out, "{}", p.port);
        if let Some(node) = p.node_port {
            let _ = write!(out, ":{node}");
        }
        if let Some(t) = p.target_port.as_deref()
            && t != p.port.to_string()
        {
            let _ = write!(out, "→{t}");
        }
        if let Some(proto) = p.protocol.as_deref()
            && proto != "TCP"
        {
            let _ = write!(out, "/{proto}");
        }
    }
    out
}

/// What the pods of the namespace say about the selector, when the person may list them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodMatch {
    /// Pods the selector picks.
    pub matched: u32,
}

/// Why a Service has its health; [`Assessment::health`] and [`Assessment::text`] read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assessment<'a> {
    /// An ExternalName.
    External(&'a str),
    /// The endpoints cannot be read.
    EndpointsUnknown,
    /// A selector that picks no pod.
    SelectorMatchesNoPods,
    /// No selector and no endpoints.
    NoSelectorNoEndpoints,
    /// Pods match but none has an endpoint.
    PodsWithoutEndpoints(u32),
    /// No endpoints (pods not visible).
    NoEndpoints,
    /// Endpoints, none ready.
    NoneReady(EndpointCounts),
    /// A LoadBalancer still waiting for its ingress.
    LoadBalancerPending(EndpointCounts),
    /// Some endpoints are not ready.
    SomeReady(EndpointCounts),
    /// Every endpoint is ready.
    AllReady(EndpointCounts),
}

/// Judges a Service from its endpoint counts (`None`: not readable) and, when known, its matching pods.
/// Allocation-free, so the list can judge every row.
pub fn assess(
    service: &ServiceRow,
    endpoints: Option<EndpointCounts>,
    pods: Option<PodMatch>,
) -> Assessment<'_> {
    if service.type_ == "ExternalName" {
        return Assessment::External(service.external_name.as_deref().unwrap_or(""));
    }
    let Some(c) = endpoints else {
        return Assessment::EndpointsUnknown;
    };
    if !service.selector.is_empty() && pods.is_some_and(|p| p.matched == 0) {
        return Assessment::SelectorMatchesNoPods;
    }
    if c.total == 0 {
        return match pods {
            _ if service.selector.is_empty() => Assessment::NoSelectorNoEndpoints,
            Some(p) => Assessment::PodsWithoutEndpoints(p.matched),
            None => Assessment::NoEndpoints,
        };
    }
    if c.ready == 0 {
        Assessment::NoneReady(c)
    } else if load_balancer_pending(service) {
        Assessment::LoadBalancerPending(c)
    } else if c.ready < c.total {
        Assessment::SomeReady(c)
    } else {
        Assessment::AllReady(c)
    }
}

fn in_zones(zones: u32) -> String {
    match zones {
        0 => String::new(),
        1 => " in 1 zone".to_owned(),
        n => format!(" in {n} zones"),
    }
}

impl Assessment<'_> {
    /// The health.
    pub fn health(self) -> Health {
        match self {
            Self::External(_) => Health::External,
            Self::EndpointsUnknown => Health::Unknown,
            Self::SelectorMatchesNoPods
            | Self::NoSelectorNoEndpoints
            | Self::PodsWithoutEndpoints(_)
            | Self::NoEndpoints
            | Self::NoneReady(_) => Health::NotServing,
            Self::LoadBalancerPending(_) => Health::Pending,
            Self::SomeReady(_) => Health::Degraded,
            Self::AllReady(_) => Health::Serving,
        }
    }

    /// The one-line verdict.
    pub fn text(self) -> String {
        match self {
            Self::External(target) => format!("ExternalName → {target}"),
            Self::EndpointsUnknown => "Unknown: endpoints not readable".to_owned(),
            Self::SelectorMatchesNoPods => "Not serving: selector matches no pods".to_owned(),
            Self::NoSelectorNoEndpoints => "Not serving: no selector and no endpoints".to_owned(),
            Self::PodsWithoutEndpoints(n) => {
                format!("Not serving: {n} pod{} match, none has an endpoint", if n == 1 { "" } else { "s" })
            }
            Self::NoEndpoints => "Not serving: no endpoints".to_owned(),
            Self::NoneReady(c) => format!("Not serving: 0/{} endpoints ready", c.total),
            Self::LoadBalancerPending(c) => {
                format!("LoadBalancer pending ({}/{} endpoints ready)", c.ready, c.total)
            }
            Self::SomeReady(c) => {
                format!("Degraded: {}/{} endpoints ready{}", c.ready, c.total, in_zones(c.zones))
            }
            Self::AllReady(c) => {
                format!("Serving: {}/{} endpoints ready{}", c.ready, c.total, in_zones(c.zones))
            }
        }
    }

    /// Health and text together.
    pub fn verdict(self) -> Verdict {
        Verdict { health: self.health(), text: self.text() }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Builders shared by the view tests.

    use super::*;
    use crate::watch::rows::{ContainerPortRow, ContainerRow, PodRow};

    pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    pub(crate) fn mk_port(name: Option<&str>, port: i32, target: Option<&str>) -> ServicePortRow {
        ServicePortRow {
            name: name.map(str::to_owned),
            port,
            target_port: target.map(str::to_owned),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }
    }

    pub(crate) fn mk_service(ns: &str, name: &str) -> ServiceRow {
        ServiceRow {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            type_: "ClusterIP".to_owned(),
            cluster_ips: vec!["10.96.0.10".to_owned()],
            ports: vec![mk_port(Some("http"), 80, Some("8080"))],
            selector: labels(&[("app", name)]),
            labels: labels(&[("app", name)]),
            ..Default::default()
        }
    }

    pub(crate) fn mk_endpoint(ip: &str, ready: bool, zone: &str, pod: &str) -> EndpointRow {
        EndpointRow {
            addresses: vec![ip.to_owned()],
            ready: Some(ready),
            serving: Some(ready),
            terminating: Some(false),
            node_name: Some(format!("node-{zone}")),
            zone: Some(zone.to_owned()),
            target: Some(format!("Pod/ns/{pod}")),
            ..Default::default()
        }
    }

    pub(crate) fn mk_slice(
        svc: &ServiceRow,
        suffix: &str,
        family: &str,
        endpoints: Vec<EndpointRow>,
    ) -> EndpointSliceRow {
        EndpointSliceRow {
            namespace: svc.namespace.clone(),
            name: format!("{}-{suffix}", svc.name),
            service: Some(svc.name.clone()),
            address_type: family.to_owned(),
            endpoints,
            ports: Vec::new(),
        }
    }

    pub(crate) fn mk_pod(ns: &str, name: &str, app: &str, ports: &[(&str, i32)]) -> PodRow {
        PodRow {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            labels: labels(&[("app", app)]),
            phase: Some("Running".to_owned()),
            ready: true,
            containers: vec![ContainerRow {
                name: "main".to_owned(),
                ports: ports
                    .iter()
                    .map(|(n, p)| ContainerPortRow {
                        name: (!n.is_empty()).then(|| (*n).to_owned()),
                        container_port: *p,
                        protocol: Some("TCP".to_owned()),
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn dual_stack_endpoints_are_counted_once() {
        let svc = mk_service("ns", "web");
        let v4 = mk_slice(
            &svc,
            "a",
            "IPv4",
            vec![mk_endpoint("10.0.0.1", true, "z1", "p1"), mk_endpoint("10.0.0.2", false, "z2", "p2")],
        );
        let v6 = mk_slice(
            &svc,
            "b",
            "IPv6",
            vec![mk_endpoint("fd00::1", true, "z1", "p1"), mk_endpoint("fd00::2", false, "z2", "p2")],
        );
        assert_eq!(count_endpoints(&[&v4, &v6]), EndpointCounts { ready: 1, total: 2, zones: 1 });
        assert_eq!(count_endpoints(&[]), EndpointCounts::default());
    }

    #[test]
    fn selector_semantics() {
        assert!(selects(&labels(&[("app", "a")]), &labels(&[("app", "a"), ("x", "y")])));
        assert!(!selects(&labels(&[("app", "a"), ("x", "z")]), &labels(&[("app", "a"), ("x", "y")])));
        assert!(!selects(&Labels::new(), &labels(&[("app", "a")])));
    }

    #[test]
    fn ports_text_is_compact() {
        let mut udp = mk_port(Some("dns"), 53, Some("53"));
        udp.protocol = Some("UDP".to_owned());
        let mut node = mk_port(None, 443, None);
        node.node_port = Some(30443);
        let ports = [mk_port(Some("http"), 80, Some("8080")), udp, node];
        assert_eq!(ports_text(&ports), "http 80→8080, dns 53/UDP, 443:30443");
        assert_eq!(ports_text(&[]), "");
    }

    #[test]
    fn verdicts() {
        let svc = mk_service("ns", "web");
        let c = |ready, total, zones| Some(EndpointCounts { ready, total, zones });
        let text = |s: &ServiceRow, e, p| assess(s, e, p).text();
        assert_eq!(text(&svc, c(6, 6, 2), None), "Serving: 6/6 endpoints ready in 2 zones");
        assert_eq!(text(&svc, c(1, 1, 1), None), "Serving: 1/1 endpoints ready in 1 zone");
        assert_eq!(text(&svc, c(2, 3, 0), None), "Degraded: 2/3 endpoints ready");
        assert_eq!(text(&svc, c(0, 3, 0), None), "Not serving: 0/3 endpoints ready");
        assert_eq!(text(&svc, c(0, 0, 0), None), "Not serving: no endpoints");
        assert_eq!(
            text(&svc, c(0, 0, 0), Some(PodMatch { matched: 0 })),
            "Not serving: selector matches no pods"
        );
        assert_eq!(
            text(&svc, c(0, 0, 0), Some(PodMatch { matched: 2 })),
            "Not serving: 2 pods match, none has an endpoint"
        );
        assert_eq!(assess(&svc, None, None).health(), Health::Unknown);
        let mut manual = svc.clone();
        manual.selector.clear();
        assert_eq!(
            text(&manual, c(0, 0, 0), Some(PodMatch { matched: 0 })),
            "Not serving: no selector and no endpoints"
        );
        assert_eq!(assess(&manual, c(2, 2, 1), None).health(), Health::Serving);
        let mut lb = svc;
        lb.type_ = "LoadBalancer".to_owned();
        let a = assess(&lb, c(2, 2, 1), None);
        assert_eq!(
            (a.health(), a.text().as_str()),
            (Health::Pending, "LoadBalancer pending (2/2 endpoints ready)")
        );
        lb.load_balancer_ingress = vec!["192.0.2.1".to_owned()];
        assert_eq!(assess(&lb, c(2, 2, 1), None).health(), Health::Serving);
        let ext = ServiceRow {
            type_: "ExternalName".to_owned(),
            external_name: Some("db.example.com".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            assess(&ext, None, None).verdict(),
            Verdict { health: Health::External, text: "ExternalName → db.example.com".to_owned() }
        );
    }
}
