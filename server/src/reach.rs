//! "Can A reach B": NetworkPolicy evaluation, pure.
//!
//! Follows the upstream semantics (kubernetes.io "Network Policies" and the `networking.k8s.io/v1` types):
//!
//! ```text
//! connection source pod S ──► destination pod D, port P/protocol
//!   egress  of S: policies of S's namespace whose podSelector selects S and whose policyTypes has Egress.
//!                 None: S is not isolated for egress, allowed. Else some egress rule must match D and P.
//!   ingress of D: policies of D's namespace whose podSelector selects D and whose policyTypes has Ingress.
//!                 None: D is not isolated for ingress, allowed. Else some ingress rule must match S and P.
//!   allowed = egress allowed AND ingress allowed. Rules are additive (a union); there is no deny rule.
//! ```
//!
//! - A rule matches when one of its peers matches (an empty peer list matches every peer) and one of its
//!   ports matches (an empty port list matches every port). A policy with no rules for a direction it
//!   isolates allows nothing in that direction.
//! - An empty podSelector selects every pod of the policy's namespace. A peer with podSelector only selects
//!   pods of the policy's own namespace; with namespaceSelector only, every pod of the matching namespaces;
//!   with both in one peer, pods matching podSelector in namespaces matching namespaceSelector (AND). Two
//!   peers are two alternatives (OR). `namespaceSelector: {}` matches every namespace.
//! - A port has a protocol (default TCP) and a number, a number range (`port..=endPort`), a container port
//!   name (resolved against the destination pod's container ports, name and protocol), or nothing (every
//!   port of the protocol).
//! - `ipBlock` matches an IP inside `cidr` and outside every `except`. The docs say ipBlock is meant for
//!   cluster-external IPs and that whether it applies to pod IPs depends on the network plugin. Decision:
//!   we match the pod's IP literally (as the API text reads and as most plugins do) and attach a caveat to
//!   every answer that depends on such a match. A source given as namespace + labels has no IP, so no
//!   ipBlock matches it (also said in the answer).
//! - A pod can always reach itself.
//! - Traffic to a Service is evaluated against each backing pod and the resolved target port (policies
//!   see the connection after the Service's address translation).

use std::net::IpAddr;

use fleetpane_app::model::reach::{PodAnswer, ReachAnswer, Reachability, RuleAnswer, SideAnswer};

use crate::watch::rows::{
    NetworkPolicyRow, PodRow, PolicyPeerRow, PolicyPortRow, PolicyRuleRow, PortRef, ServicePortRow,
    ServiceRow,
};

pub use crate::watch::rows::Labels;

/// A declared container port of a destination pod (what named ports resolve against).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPort {
    /// The port's name.
    pub name: String,
    /// The number.
    pub port: i32,
    /// The protocol, `TCP` when unset.
    pub protocol: String,
}

/// One end of a connection: a pod, or a hypothetical pod given by namespace and labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// Namespace.
    pub namespace: String,
    /// The pod's name; `None` for a namespace + labels source.
    pub name: Option<String>,
    /// The pod's labels.
    pub labels: Labels,
    /// Its namespace's labels (`kubernetes.io/metadata.name` included, as the apiserver sets it).
    pub namespace_labels: Labels,
    /// The pod IP, if known.
    pub ip: Option<IpAddr>,
    /// Declared container ports, for named ports.
    pub ports: Vec<NamedPort>,
}

impl Endpoint {
    /// `ns/name`, or `ns/{labels}` for a labels-only source.
    pub fn display(&self) -> String {
        match &self.name {
            Some(name) => format!("{}/{name}", self.namespace),
            None => {
                let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{}/{{{}}}", self.namespace, labels.join(","))
            }
        }
    }
}

/// Ingress or egress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Incoming, on the destination pod.
    Ingress,
    /// Outgoing, on the source pod.
    Egress,
}

impl Direction {
    /// `Ingress` or `Egress`, as in `policyTypes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "Ingress",
            Self::Egress => "Egress",
        }
    }
}

/// A rule that allowed the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMatch {
    /// The policy, `ns/name`.
    pub policy: String,
    /// The rule's position in the policy's `ingress` or `egress` list, from 0.
    pub rule: usize,
    /// The peer that matched, in words (`any peer` for an empty `from`/`to`).
    pub peer: String,
    /// The port that matched, in words (`any port` for an empty `ports`).
    pub port: String,
    /// A caveat on the match (ipBlock against a pod IP).
    pub caveat: Option<String>,
}

/// One direction's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideVerdict {
    /// Which direction.
    pub direction: Direction,
    /// Policies (`ns/name`) that select the pod for this direction: the pod is isolated when there is any.
    pub isolating: Vec<String>,
    /// The rules that allow the connection.
    pub allowing: Vec<RuleMatch>,
    /// Remarks that bear on the answer (e.g. ipBlock peers that could not be evaluated).
    pub notes: Vec<String>,
}

impl SideVerdict {
    /// Allowed: not isolated, or some rule allows it.
    pub fn allowed(&self) -> bool {
        self.isolating.is_empty() || !self.allowing.is_empty()
    }

    /// One line: why this direction allows or denies.
    pub fn explain(&self) -> String {
        let dir = self.direction.as_str().to_ascii_lowercase();
        if self.isolating.is_empty() {
            format!("allowed: no NetworkPolicy selects the pod for {dir}")
        } else if let Some(first) = self.allowing.first() {
            format!(
                "allowed by {} {dir} rule {} (peer {}, port {})",
                first.policy,
                first.rule + 1,
                first.peer,
                first.port
            )
        } else {
            format!("denied: {} select the pod for {dir} and no rule allows it", self.isolating.join(", "))
        }
    }
}

/// The answer for one (source, destination pod, port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Egress of the source.
    pub egress: SideVerdict,
    /// Ingress of the destination.
    pub ingress: SideVerdict,
    /// Source and destination are the same pod (always allowed).
    pub same_pod: bool,
}

impl Verdict {
    /// Both directions allow it (or it is the pod talking to itself).
    pub fn allowed(&self) -> bool {
        self.same_pod || (self.egress.allowed() && self.ingress.allowed())
    }
}

fn has_type(policy: &NetworkPolicyRow, direction: Direction) -> bool {
    policy.policy_types.iter().any(|t| t == direction.as_str())
}

/// Whether `ip` is inside `cidr` (`a.b.c.d/n` or IPv6); a bare address is a /32 (/128). `None`: not a CIDR.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (addr, len) = match cidr.split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, Some(l.parse::<u32>().ok()?)),
        None => (cidr.parse::<IpAddr>().ok()?, None),
    };
    let (net, ip, bits) = match (addr, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        // A valid CIDR of the other family never contains the address.
        (IpAddr::V4(_), _) => return (len.unwrap_or(32) <= 32).then_some(false),
        (IpAddr::V6(_), _) => return (len.unwrap_or(128) <= 128).then_some(false),
    };
    let len = len.unwrap_or(bits);
    if len > bits {
        return None;
    }
    let shift = bits - len;
    let mask = if shift >= 128 { 0 } else { (u128::MAX << shift) & (u128::MAX >> (128 - bits)) };
    Some(net & mask == ip & mask)
}

fn peer_text(peer: &PolicyPeerRow) -> String {
    if let Some(b) = &peer.ip_block {
        return if b.except.is_empty() {
            format!("ipBlock {}", b.cidr)
        } else {
            format!("ipBlock {} except {}", b.cidr, b.except.join(", "))
        };
    }
    let all = |s: String| if s.is_empty() { "all".to_owned() } else { s };
    match (&peer.namespace_selector, &peer.pod_selector) {
        (Some(ns), Some(pods)) => format!("namespaces {}, pods {}", all(ns.text()), all(pods.text())),
        (Some(ns), None) => format!("namespaces {}", all(ns.text())),
        (None, Some(pods)) => format!("pods {}", all(pods.text())),
        (None, None) => "empty peer".to_owned(),
    }
}

fn port_text(port: &PolicyPortRow) -> String {
    match (&port.port, port.end_port) {
        (Some(PortRef::Number(p)), Some(end)) => format!("{} {p}-{end}", port.protocol),
        (Some(p), _) => format!("{} {p}", port.protocol),
        (None, _) => format!("{} all ports", port.protocol),
    }
}

/// How a peer matched.
enum PeerMatch {
    No,
    Yes,
    /// Through ipBlock against a pod IP.
    ByIp,
}

/// Whether `peer` of a policy in `policy_ns` matches `other` (the remote end). `notes` collects remarks.
fn peer_matches(
    peer: &PolicyPeerRow,
    policy_ns: &str,
    other: &Endpoint,
    notes: &mut Vec<String>,
) -> PeerMatch {
    if let Some(block) = &peer.ip_block {
        let Some(ip) = other.ip else {
            notes.push(format!(
                "{} has no IP: peer ipBlock {} not evaluated (treated as not matching)",
                other.display(),
                block.cidr
            ));
            return PeerMatch::No;
        };
        let Some(inside) = cidr_contains(&block.cidr, ip) else {
            notes.push(format!("ipBlock {:?} is not a CIDR: it matches nothing", block.cidr));
            return PeerMatch::No;
        };
        let excepted = block.except.iter().any(|e| cidr_contains(e, ip) == Some(true));
        return if inside && !excepted { PeerMatch::ByIp } else { PeerMatch::No };
    }
    let yes = match (&peer.namespace_selector, &peer.pod_selector) {
        (Some(ns), Some(pods)) => ns.matches(&other.namespace_labels) && pods.matches(&other.labels),
        (Some(ns), None) => ns.matches(&other.namespace_labels),
        (None, Some(pods)) => other.namespace == policy_ns && pods.matches(&other.labels),
        // The apiserver rejects a peer with no field set.
        (None, None) => false,
    };
    if yes { PeerMatch::Yes } else { PeerMatch::No }
}

/// Whether `port` allows `number`/`protocol` on the destination `dest` (named ports resolve there).
fn port_matches(port: &PolicyPortRow, number: i32, protocol: &str, dest: &Endpoint) -> bool {
    if !port.protocol.eq_ignore_ascii_case(protocol) {
        return false;
    }
    match (&port.port, port.end_port) {
        (None, _) => true,
        (Some(PortRef::Number(p)), None) => *p == number,
        (Some(PortRef::Number(p)), Some(end)) => (*p..=end).contains(&number),
        (Some(PortRef::Name(name)), _) => dest
            .ports
            .iter()
            .any(|c| c.name == *name && c.port == number && c.protocol.eq_ignore_ascii_case(protocol)),
    }
}

const IP_BLOCK_CAVEAT: &str = "matched by ipBlock on a pod IP: the docs mean ipBlock for cluster-external \
                               IPs, and whether a network plugin applies it to pod IPs is implementation-defined";

/// The connection as one side's rules see it.
struct Conn<'a> {
    /// The remote end (the source for ingress, the destination for egress).
    other: &'a Endpoint,
    /// The destination pod (where named ports resolve).
    dest: &'a Endpoint,
    /// The destination port.
    number: i32,
    /// Its protocol.
    protocol: &'a str,
}

fn rule_match(
    policy: &NetworkPolicyRow,
    index: usize,
    rule: &PolicyRuleRow,
    conn: &Conn<'_>,
    notes: &mut Vec<String>,
) -> Option<RuleMatch> {
    let Conn { other, dest, number, protocol } = *conn;
    let port = if rule.port_specs.is_empty() {
        "any port".to_owned()
    } else {
        port_text(rule.port_specs.iter().find(|p| port_matches(p, number, protocol, dest))?)
    };
    let (peer, caveat) = if rule.peer_specs.is_empty() {
        ("any peer".to_owned(), None)
    } else {
        let mut by_ip = None;
        let mut found = None;
        for p in &rule.peer_specs {
            match peer_matches(p, &policy.namespace, other, notes) {
                PeerMatch::Yes => {
                    found = Some(p);
                    break;
                }
                PeerMatch::ByIp => by_ip = by_ip.or(Some(p)),
                PeerMatch::No => {}
            }
        }
        match (found, by_ip) {
            (Some(p), _) => (peer_text(p), None),
            (None, Some(p)) => (peer_text(p), Some(IP_BLOCK_CAVEAT.to_owned())),
            (None, None) => return None,
        }
    };
    Some(RuleMatch {
        policy: format!("{}/{}", policy.namespace, policy.name),
        rule: index,
        peer,
        port,
        caveat,
    })
}

/// One direction: `pod` is the end the policies apply to, `other` the remote end, `dest` the destination
/// (where named ports resolve).
fn side<'a>(
    direction: Direction,
    policies: impl IntoIterator<Item = &'a NetworkPolicyRow>,
    pod: &Endpoint,
    conn: &Conn<'_>,
) -> SideVerdict {
    let mut verdict =
        SideVerdict { direction, isolating: Vec::new(), allowing: Vec::new(), notes: Vec::new() };
    for policy in policies {
        if policy.namespace != pod.namespace
            || !has_type(policy, direction)
            || !policy.selector.matches(&pod.labels)
        {
            continue;
        }
        verdict.isolating.push(format!("{}/{}", policy.namespace, policy.name));
        let rules = match direction {
            Direction::Ingress => &policy.ingress,
            Direction::Egress => &policy.egress,
        };
        for (i, rule) in rules.iter().enumerate() {
            if let Some(m) = rule_match(policy, i, rule, conn, &mut verdict.notes) {
                verdict.allowing.push(m);
            }
        }
    }
    verdict.notes.dedup();
    // Plain peer matches first: they decide without a caveat.
    verdict.allowing.sort_by_key(|m| m.caveat.is_some());
    verdict
}

/// Whether `source` may open a connection to `dest` on `port`/`protocol` (the destination pod's port, after
/// any Service translation), given every NetworkPolicy of the two namespaces (others are ignored).
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a NetworkPolicyRow> + Clone,
    source: &Endpoint,
    dest: &Endpoint,
    port: i32,
    protocol: &str,
) -> Verdict {
    let to_dest = Conn { other: dest, dest, number: port, protocol };
    let from_source = Conn { other: source, dest, number: port, protocol };
    Verdict {
        egress: side(Direction::Egress, policies.clone(), source, &to_dest),
        ingress: side(Direction::Ingress, policies, dest, &from_source),
        same_pod: source.name.is_some() && source.name == dest.name && source.namespace == dest.namespace,
    }
}

// ---------------------------------------------------------------------------------------------------------
// The question of the `/reach` page: a source, a Service port; the answer per backing pod.

/// Why a question cannot be asked as it was put; shown as a 400 with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuestionError {
    /// A required field is empty.
    #[error("{0} is required")]
    Missing(&'static str),
    /// `ns/name` expected.
    #[error("{field} must be namespace/name, not {value:?}")]
    NotNamespaced {
        /// The form field.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// Both kinds of source, or neither.
    #[error("give the source either as a pod (namespace/name) or as a namespace with labels, not both")]
    TwoSources,
    /// A label list that does not parse.
    #[error("labels must be key=value pairs separated by commas, not {0:?}")]
    BadLabels(String),
    /// A namespace or name that cannot exist.
    #[error("{0:?} is not a valid Kubernetes name")]
    BadName(String),
    /// The Service has no such port.
    #[error("Service {service} has no port {port:?} (its ports: {known})")]
    NoSuchPort {
        /// The Service.
        service: String,
        /// What was asked.
        port: String,
        /// Its ports.
        known: String,
    },
    /// The port was left out but the Service has several (or none).
    #[error("Service {service} has {count} ports: choose one ({known})")]
    ChoosePort {
        /// The Service.
        service: String,
        /// How many.
        count: usize,
        /// Its ports.
        known: String,
    },
}

/// The source of the question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An existing pod.
    Pod {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// Any pod with these labels in this namespace.
    Labels {
        /// Namespace.
        namespace: String,
        /// Labels.
        labels: Labels,
    },
}

impl Source {
    /// The source's namespace.
    pub fn namespace(&self) -> &str {
        match self {
            Self::Pod { namespace, .. } | Self::Labels { namespace, .. } => namespace,
        }
    }
}

/// A parsed question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The cluster.
    pub cluster: String,
    /// The source.
    pub source: Source,
    /// The destination Service's namespace.
    pub namespace: String,
    /// The destination Service's name.
    pub service: String,
    /// The Service port, number or name; empty: its only port.
    pub port: String,
}

fn valid_name(s: &str) -> Result<String, QuestionError> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok { Ok(s.to_owned()) } else { Err(QuestionError::BadName(s.to_owned())) }
}

fn namespaced(field: &'static str, value: &str) -> Result<(String, String), QuestionError> {
    let (ns, name) = value
        .trim()
        .split_once('/')
        .ok_or_else(|| QuestionError::NotNamespaced { field, value: value.to_owned() })?;
    Ok((valid_name(ns)?, valid_name(name)?))
}

/// Parses `key=value,key=value` (spaces allowed around the commas).
pub fn parse_labels(text: &str) -> Result<Labels, QuestionError> {
    let mut out = Labels::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| QuestionError::BadLabels(text.to_owned()))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.contains(char::is_whitespace) || v.contains(char::is_whitespace) {
            return Err(QuestionError::BadLabels(text.to_owned()));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// Parses the form: cluster, source (pod, or namespace + labels), Service and port.
pub fn parse_question(
    cluster: &str,
    from_pod: &str,
    from_namespace: &str,
    from_labels: &str,
    to_service: &str,
    port: &str,
) -> Result<Question, QuestionError> {
    let cluster = cluster.trim();
    if cluster.is_empty() {
        return Err(QuestionError::Missing("cluster"));
    }
    let (from_pod, from_namespace) = (from_pod.trim(), from_namespace.trim());
    let source = match (from_pod.is_empty(), from_namespace.is_empty()) {
        (false, true) => {
            let (namespace, name) = namespaced("source pod", from_pod)?;
            Source::Pod { namespace, name }
        }
        (true, false) => {
            Source::Labels { namespace: valid_name(from_namespace)?, labels: parse_labels(from_labels)? }
        }
        (true, true) => return Err(QuestionError::Missing("source (a pod, or a namespace with labels)")),
        (false, false) => return Err(QuestionError::TwoSources),
    };
    if to_service.trim().is_empty() {
        return Err(QuestionError::Missing("destination Service"));
    }
    let (namespace, service) = namespaced("destination Service", to_service)?;
    Ok(Question { cluster: cluster.to_owned(), source, namespace, service, port: port.trim().to_owned() })
}

/// A pod as an end of a connection.
pub fn pod_endpoint(pod: &PodRow, namespace_labels: &Labels) -> Endpoint {
    Endpoint {
        namespace: pod.namespace.clone(),
        name: Some(pod.name.clone()),
        labels: pod.labels.clone(),
        namespace_labels: namespace_labels.clone(),
        ip: pod.pod_ip.as_deref().and_then(|ip| ip.parse().ok()),
        ports: pod
            .containers
            .iter()
            .flat_map(|c| &c.ports)
            .filter_map(|p| {
                Some(NamedPort {
                    name: p.name.clone()?,
                    port: p.container_port,
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                })
            })
            .collect(),
    }
}

fn ports_list(service: &ServiceRow) -> String {
    let list: Vec<String> = service
        .ports
        .iter()
        .map(|p| match &p.name {
            Some(n) => format!("{n} {}", p.port),
            None => p.port.to_string(),
        })
        .collect();
    if list.is_empty() { "none".to_owned() } else { list.join(", ") }
}

/// The Service port the question names.
pub fn service_port<'a>(service: &'a ServiceRow, port: &str) -> Result<&'a ServicePortRow, QuestionError> {
    let key = format!("{}/{}", service.namespace, service.name);
    if port.is_empty() {
        return match service.ports.as_slice() {
            [only] => Ok(only),
            ports => Err(QuestionError::ChoosePort {
                service: key,
                count: ports.len(),
                known: ports_list(service),
            }),
        };
    }
    let found = match port.parse::<i32>() {
        Ok(n) => service.ports.iter().find(|p| p.port == n),
        Err(_) => service.ports.iter().find(|p| p.name.as_deref() == Some(port)),
    };
    found.ok_or_else(|| QuestionError::NoSuchPort {
        service: key,
        port: port.to_owned(),
        known: ports_list(service),
    })
}

/// The destination port on `pod` for a Service port: the targetPort number, or the named container port
/// with the Service port's protocol. `None`: the pod does not expose that name.
pub fn target_port(port: &ServicePortRow, pod: &PodRow) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match port.target_port.as_deref().map(|t| (t, t.parse::<i32>())) {
        None => Some(port.port),
        Some((_, Ok(n))) => Some(n),
        Some((name, Err(_))) => pod.containers.iter().flat_map(|c| &c.ports).find_map(|p| {
            (p.name.as_deref() == Some(name) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                .then_some(p.container_port)
        }),
    }
}

fn side_answer(side: &SideVerdict) -> SideAnswer {
    SideAnswer {
        allowed: side.allowed(),
        text: side.explain(),
        isolating: side.isolating.clone(),
        rules: side
            .allowing
            .iter()
            .map(|m| RuleAnswer {
                policy: m.policy.clone(),
                rule: m.rule + 1,
                peer: m.peer.clone(),
                port: m.port.clone(),
                caveat: m.caveat.clone(),
            })
            .collect(),
        notes: side.notes.clone(),
    }
}

/// Everything the answer needs, read as the person.
pub struct Evidence<'a> {
    /// The source.
    pub source: Endpoint,
    /// The destination Service.
    pub service: &'a ServiceRow,
    /// The Service port.
    pub port: &'a ServicePortRow,
    /// Pods of the Service's namespace.
    pub pods: Vec<&'a PodRow>,
    /// Labels of the Service's namespace.
    pub namespace_labels: Labels,
    /// NetworkPolicies of the source's and the Service's namespaces.
    pub policies: Vec<&'a NetworkPolicyRow>,
}

/// The answer to "can the source reach this Service port", pod by pod. Pure.
pub fn answer(e: &Evidence<'_>) -> ReachAnswer {
    let svc = format!("{}/{}", e.service.namespace, e.service.name);
    let protocol = e.port.protocol.clone().unwrap_or_else(|| "TCP".to_owned());
    let target = e.port.target_port.clone().unwrap_or_else(|| e.port.port.to_string());
    let destination = format!("{svc} port {} → targetPort {target}/{protocol}", e.port.port);
    let source = match &e.source.ip {
        Some(ip) => format!("{} ({ip})", e.source.display()),
        None => e.source.display(),
    };
    let mut notes = Vec::new();
    if e.source.name.is_none() {
        notes.push(
            "The source is any pod with these labels: it has no IP, so ipBlock peers cannot match it.".into(),
        );
    }
    if e.service.selector.is_empty() {
        return ReachAnswer {
            verdict: Reachability::Unknown,
            summary: format!("Cannot tell: {svc} has no selector, so its pods are not known"),
            source,
            destination,
            pods: Vec::new(),
            unreadable: Vec::new(),
            notes,
        };
    }
    let backing: Vec<&PodRow> = e
        .pods
        .iter()
        .copied()
        .filter(|p| !p.deleting && crate::views::selects(&e.service.selector, &p.labels))
        .collect();
    let pods: Vec<PodAnswer> = backing
        .iter()
        .map(|pod| {
            let dest = pod_endpoint(pod, &e.namespace_labels);
            let key = format!("{}/{}", pod.namespace, pod.name);
            match target_port(e.port, pod) {
                None => PodAnswer {
                    pod: key,
                    ip: pod.pod_ip.clone(),
                    port: None,
                    allowed: false,
                    egress: None,
                    ingress: None,
                    problem: Some(format!("no container port named {target} ({protocol}) on this pod")),
                },
                Some(number) => {
                    let v = evaluate(e.policies.iter().copied(), &e.source, &dest, number, &protocol);
                    PodAnswer {
                        pod: key,
                        ip: pod.pod_ip.clone(),
                        port: Some(number),
                        allowed: v.allowed(),
                        egress: Some(side_answer(&v.egress)),
                        ingress: Some(side_answer(&v.ingress)),
                        problem: v
                            .same_pod
                            .then(|| "the source is this pod: a pod always reaches itself".into()),
                    }
                }
            }
        })
        .collect();
    let allowed = pods.iter().filter(|p| p.allowed).count();
    let (verdict, summary) = match (allowed, pods.len()) {
        (_, 0) => (Reachability::Unknown, format!("Cannot tell: {svc} selects no running pod")),
        (a, n) if a == n => (
            Reachability::Allowed,
            format!("Allowed: {source} can reach {svc} port {} on all {n} pod(s)", e.port.port),
        ),
        (0, n) => (
            Reachability::Denied,
            format!("Denied: {source} cannot reach {svc} port {} on any of its {n} pod(s)", e.port.port),
        ),
        (a, n) => (
            Reachability::Partial,
            format!("Partly allowed: {source} can reach {svc} port {} on {a} of {n} pods", e.port.port),
        ),
    };
    ReachAnswer { verdict, summary, source, destination, pods, unreadable: Vec::new(), notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::rows::{IpBlockRow, SelectorRequirementRow, SelectorRow};

    fn labels(l: &[(&str, &str)]) -> Labels {
        l.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn sel(l: &[(&str, &str)]) -> SelectorRow {
        SelectorRow { match_labels: labels(l), ..Default::default() }
    }

    fn pod(ns: &str, name: &str, l: &[(&str, &str)], ip: &str) -> Endpoint {
        Endpoint {
            namespace: ns.into(),
            name: Some(name.into()),
            labels: labels(l),
            namespace_labels: labels(&[("kubernetes.io/metadata.name", ns)]),
            ip: ip.parse().ok(),
            ports: vec![NamedPort { name: "http".into(), port: 8080, protocol: "TCP".into() }],
        }
    }

    fn policy(ns: &str, name: &str, selector: SelectorRow, types: &[&str]) -> NetworkPolicyRow {
        NetworkPolicyRow {
            namespace: ns.into(),
            name: name.into(),
            selector,
            policy_types: types.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        }
    }

    fn rule(peers: Vec<PolicyPeerRow>, ports: Vec<PolicyPortRow>) -> PolicyRuleRow {
        PolicyRuleRow { peer_specs: peers, port_specs: ports, ..Default::default() }
    }

    fn tcp(port: i32) -> PolicyPortRow {
        PolicyPortRow { protocol: "TCP".into(), port: Some(PortRef::Number(port)), end_port: None }
    }

    fn pods_peer(l: &[(&str, &str)]) -> PolicyPeerRow {
        PolicyPeerRow { pod_selector: Some(sel(l)), ..Default::default() }
    }

    fn ns_peer(l: &[(&str, &str)]) -> PolicyPeerRow {
        PolicyPeerRow { namespace_selector: Some(sel(l)), ..Default::default() }
    }

    fn web() -> Endpoint {
        pod("shop", "web-1", &[("app", "web")], "10.1.0.1")
    }

    fn db() -> Endpoint {
        pod("shop", "db-1", &[("app", "db")], "10.1.0.2")
    }

    fn check(policies: &[NetworkPolicyRow], src: &Endpoint, dst: &Endpoint, port: i32) -> Verdict {
        evaluate(policies, src, dst, port, "TCP")
    }

    #[test]
    fn no_policy_allows_everything() {
        let v = check(&[], &web(), &db(), 8080);
        assert!(v.allowed());
        assert!(v.ingress.isolating.is_empty() && v.egress.isolating.is_empty());
        assert_eq!(v.ingress.explain(), "allowed: no NetworkPolicy selects the pod for ingress");
    }

    #[test]
    fn empty_pod_selector_selects_every_pod_and_no_rule_denies() {
        let deny = policy("shop", "default-deny", SelectorRow::default(), &["Ingress"]);
        let v = check(std::slice::from_ref(&deny), &web(), &db(), 8080);
        assert!(!v.allowed());
        assert_eq!(v.ingress.isolating, ["shop/default-deny"]);
        assert_eq!(
            v.ingress.explain(),
            "denied: shop/default-deny select the pod for ingress and no rule allows it"
        );
        // Look-alike: the same policy in another namespace does not select the pod.
        let elsewhere = policy("other", "default-deny", SelectorRow::default(), &["Ingress"]);
        assert!(check(&[elsewhere], &web(), &db(), 8080).allowed());
        // Look-alike: a selector that does not match the destination leaves it unisolated.
        let narrow = policy("shop", "deny-cache", sel(&[("app", "cache")]), &["Ingress"]);
        assert!(check(&[narrow], &web(), &db(), 8080).allowed());
    }

    #[test]
    fn empty_rule_allows_every_peer_and_port() {
        let mut allow_all = policy("shop", "allow-all", SelectorRow::default(), &["Ingress"]);
        allow_all.ingress = vec![rule(vec![], vec![])];
        let deny = policy("shop", "default-deny", SelectorRow::default(), &["Ingress"]);
        let v = check(&[deny, allow_all], &pod("far", "x", &[], "192.0.2.1"), &db(), 1234);
        assert!(v.allowed());
        assert_eq!(v.ingress.allowing[0].peer, "any peer");
        assert_eq!(v.ingress.allowing[0].port, "any port");
        assert_eq!(v.ingress.allowing[0].policy, "shop/allow-all");
        assert_eq!(v.ingress.isolating, ["shop/default-deny", "shop/allow-all"]);
    }

    #[test]
    fn pod_selector_peer_is_limited_to_the_policy_namespace() {
        let mut p = policy("shop", "from-web", sel(&[("app", "db")]), &["Ingress"]);
        p.ingress = vec![rule(vec![pods_peer(&[("app", "web")])], vec![])];
        assert!(check(std::slice::from_ref(&p), &web(), &db(), 8080).allowed());
        // Look-alike: same labels, other namespace.
        let foreign = pod("other", "web-1", &[("app", "web")], "10.2.0.1");
        let v = check(&[p], &foreign, &db(), 8080);
        assert!(!v.allowed());
        assert_eq!(v.ingress.isolating, ["shop/from-web"]);
    }

    #[test]
    fn namespace_selector_and_pod_selector_in_one_peer_is_and() {
        let mut p = policy("shop", "and", sel(&[("app", "db")]), &["Ingress"]);
        p.ingress = vec![rule(
            vec![PolicyPeerRow {
                namespace_selector: Some(sel(&[("kubernetes.io/metadata.name", "front")])),
                pod_selector: Some(sel(&[("app", "web")])),
                ip_block: None,
            }],
            vec![],
        )];
        let front_web = pod("front", "web-1", &[("app", "web")], "10.2.0.1");
        let front_other = pod("front", "batch-1", &[("app", "batch")], "10.2.0.2");
        let shop_web = web();
        let v = check(std::slice::from_ref(&p), &front_web, &db(), 8080);
        assert!(v.allowed());
        assert_eq!(v.ingress.allowing[0].peer, "namespaces kubernetes.io/metadata.name=front, pods app=web");
        assert!(!check(std::slice::from_ref(&p), &front_other, &db(), 8080).allowed(), "right ns, wrong pod");
        assert!(!check(std::slice::from_ref(&p), &shop_web, &db(), 8080).allowed(), "right pod, wrong ns");
    }

    #[test]
    fn namespace_selector_and_pod_selector_in_two_peers_is_or() {
        let mut p = policy("shop", "or", sel(&[("app", "db")]), &["Ingress"]);
        p.ingress = vec![rule(
            vec![ns_peer(&[("kubernetes.io/metadata.name", "front")]), pods_peer(&[("app", "web")])],
            vec![],
        )];
        let front_other = pod("front", "batch-1", &[("app", "batch")], "10.2.0.2");
        let v = check(std::slice::from_ref(&p), &front_other, &db(), 8080);
        assert!(v.allowed(), "any pod of the namespace");
        assert_eq!(v.ingress.allowing[0].peer, "namespaces kubernetes.io/metadata.name=front");
        let v = check(std::slice::from_ref(&p), &web(), &db(), 8080);
        assert!(v.allowed(), "the labelled pods of the policy's namespace");
        assert_eq!(v.ingress.allowing[0].peer, "pods app=web");
        let outsider = pod("other", "x", &[("app", "batch")], "10.3.0.1");
        assert!(!check(&[p], &outsider, &db(), 8080).allowed(), "neither");
    }

    #[test]
    fn empty_namespace_selector_matches_every_namespace() {
        let mut p = policy("shop", "any-ns", sel(&[("app", "db")]), &["Ingress"]);
        p.ingress = vec![rule(vec![ns_peer(&[])], vec![])];
        let far = pod("far", "x", &[], "10.9.0.1");
        let v = check(std::slice::from_ref(&p), &far, &db(), 8080);
        assert!(v.allowed());
        assert_eq!(v.ingress.allowing[0].peer, "namespaces all");
        // Look-alike: an empty podSelector alone means every pod of the policy's namespace only.
        let mut q = policy("shop", "own-ns", sel(&[("app", "db")]), &["Ingress"]);
        q.ingress = vec![rule(vec![pods_peer(&[])], vec![])];
        assert!(!check(std::slice::from_ref(&q), &far, &db(), 8080).allowed());
        assert!(check(&[q], &web(), &db(), 8080).allowed());
    }

    #[test]
    fn match_expressions_count() {
        let mut p = policy("shop", "expr", sel(&[("app", "db")]), &["Ingress"]);
        p.ingress = vec![rule(
            vec![PolicyPeerRow {
                pod_selector: Some(SelectorRow {
                    match_expressions: vec![SelectorRequirementRow {
                        key: "app".into(),
                        operator: "In".into(),
                        values: vec!["web".into(), "api".into()],
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            vec![],
        )];
        assert!(check(std::slice::from_ref(&p), &web(), &db(), 8080).allowed());
        let batch = pod("shop", "batch", &[("app", "batch")], "10.1.0.9");
        assert!(!check(&[p], &batch, &db(), 8080).allowed());
    }

    fn ip_policy(except: &[&str]) -> NetworkPolicyRow {
        let mut p = policy("shop", "from-office", sel(&[("app", "db")]), &["Ingress"]);
        p.ingress = vec![rule(
            vec![PolicyPeerRow {
                ip_block: Some(IpBlockRow {
                    cidr: "192.0.2.0/24".into(),
                    except: except.iter().map(|e| (*e).to_owned()).collect(),
                }),
                ..Default::default()
            }],
            vec![tcp(8080)],
        )];
        p
    }

    #[test]
    fn ip_block_with_except() {
        let p = ip_policy(&["192.0.2.128/25"]);
        let inside = pod("far", "a", &[], "192.0.2.10");
        let excepted = pod("far", "b", &[], "192.0.2.200");
        let outside = pod("far", "c", &[], "198.51.100.1");
        let v = check(std::slice::from_ref(&p), &inside, &db(), 8080);
        assert!(v.allowed());
        assert_eq!(v.ingress.allowing[0].peer, "ipBlock 192.0.2.0/24 except 192.0.2.128/25");
        assert!(
            v.ingress.allowing[0].caveat.as_deref().is_some_and(|c| c.contains("implementation-defined"))
        );
        assert!(!check(std::slice::from_ref(&p), &excepted, &db(), 8080).allowed(), "in except");
        assert!(!check(std::slice::from_ref(&p), &outside, &db(), 8080).allowed(), "outside cidr");
        // Look-alike: without the except, the same address is allowed.
        assert!(check(&[ip_policy(&[])], &excepted, &db(), 8080).allowed());
    }

    #[test]
    fn ip_block_cannot_match_a_source_without_ip() {
        let p = ip_policy(&[]);
        let mut labels_only = pod("far", "x", &[("app", "x")], "");
        labels_only.name = None;
        assert_eq!(labels_only.ip, None);
        let v = check(&[p], &labels_only, &db(), 8080);
        assert!(!v.allowed());
        assert!(v.ingress.notes[0].contains("has no IP"), "{:?}", v.ingress.notes);
    }

    #[test]
    fn cidrs() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(cidr_contains("10.0.0.0/8", ip("10.200.1.1")), Some(true));
        assert_eq!(cidr_contains("10.0.0.0/8", ip("11.0.0.1")), Some(false));
        assert_eq!(cidr_contains("0.0.0.0/0", ip("203.0.113.9")), Some(true));
        assert_eq!(cidr_contains("10.1.2.3/32", ip("10.1.2.3")), Some(true));
        assert_eq!(cidr_contains("10.1.2.3", ip("10.1.2.4")), Some(false));
        assert_eq!(cidr_contains("fd00::/8", ip("fd12::1")), Some(true));
        assert_eq!(cidr_contains("fd00::/8", ip("10.0.0.1")), Some(false));
        assert_eq!(cidr_contains("::/0", ip("2001:db8::1")), Some(true));
        assert_eq!(cidr_contains("10.0.0.0/33", ip("10.0.0.1")), None);
        assert_eq!(cidr_contains("nonsense", ip("10.0.0.1")), None);
    }

    fn port_policy(port: PolicyPortRow) -> NetworkPolicyRow {
        let mut p = policy("shop", "ports", sel(&[("app", "db")]), &["Ingress"]);
        p.ingress = vec![rule(vec![pods_peer(&[("app", "web")])], vec![port])];
        p
    }

    #[test]
    fn named_ports_resolve_against_the_destination_container() {
        let named = port_policy(PolicyPortRow {
            protocol: "TCP".into(),
            port: Some(PortRef::Name("http".into())),
            end_port: None,
        });
        let v = check(std::slice::from_ref(&named), &web(), &db(), 8080);
        assert!(v.allowed());
        assert_eq!(v.ingress.allowing[0].port, "TCP http");
        // Look-alike: the destination names 8080 differently.
        let mut other_name = db();
        other_name.ports[0].name = "web".into();
        assert!(!check(std::slice::from_ref(&named), &web(), &other_name, 8080).allowed());
        // Look-alike: the name exists, but for another port.
        assert!(!check(std::slice::from_ref(&named), &web(), &db(), 9090).allowed());
        // Look-alike: same name, UDP container port.
        let mut udp = db();
        udp.ports[0].protocol = "UDP".into();
        assert!(!check(&[named], &web(), &udp, 8080).allowed());
    }

    #[test]
    fn end_port_ranges() {
        let range = port_policy(PolicyPortRow {
            protocol: "TCP".into(),
            port: Some(PortRef::Number(8000)),
            end_port: Some(8080),
        });
        let v = check(std::slice::from_ref(&range), &web(), &db(), 8080);
        assert!(v.allowed(), "end is inclusive");
        assert_eq!(v.ingress.allowing[0].port, "TCP 8000-8080");
        assert!(check(std::slice::from_ref(&range), &web(), &db(), 8000).allowed(), "start is inclusive");
        assert!(!check(std::slice::from_ref(&range), &web(), &db(), 8081).allowed(), "past the end");
        // Look-alike: without endPort only the start port.
        let single = port_policy(tcp(8000));
        assert!(!check(&[single], &web(), &db(), 8080).allowed());
    }

    #[test]
    fn protocol_defaults_to_tcp_and_must_match() {
        let p = port_policy(tcp(8080));
        assert!(evaluate(std::slice::from_ref(&p), &web(), &db(), 8080, "TCP").allowed());
        assert!(!evaluate(std::slice::from_ref(&p), &web(), &db(), 8080, "UDP").allowed());
        let every_udp = port_policy(PolicyPortRow { protocol: "UDP".into(), port: None, end_port: None });
        assert!(evaluate(std::slice::from_ref(&every_udp), &web(), &db(), 53, "UDP").allowed());
        assert!(!evaluate(&[every_udp], &web(), &db(), 53, "TCP").allowed());
    }

    #[test]
    fn policy_types_decide_which_direction_isolates() {
        // Egress-only policy with no rules: isolates the source for egress, not the destination for ingress.
        let egress_deny = policy("shop", "egress-deny", SelectorRow::default(), &["Egress"]);
        let v = check(std::slice::from_ref(&egress_deny), &web(), &db(), 8080);
        assert!(!v.allowed());
        assert!(!v.egress.allowed() && v.ingress.allowed());
        assert_eq!(v.egress.isolating, ["shop/egress-deny"]);
        // Look-alike: the same policy as the apiserver defaults it without policyTypes and without egress
        // rules is Ingress-only: then it is ingress that is denied, egress is open.
        let defaulted = policy("shop", "egress-deny", SelectorRow::default(), &["Ingress"]);
        let v = check(&[defaulted], &web(), &db(), 8080);
        assert!(v.egress.allowed() && !v.ingress.allowed());
    }

    #[test]
    fn policy_types_default_from_the_row() {
        use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicySpec};
        let mk = |egress: Option<Vec<NetworkPolicyEgressRule>>| {
            NetworkPolicyRow::from(&NetworkPolicy {
                metadata: kube::api::ObjectMeta {
                    namespace: Some("shop".into()),
                    name: Some("p".into()),
                    ..Default::default()
                },
                spec: Some(NetworkPolicySpec { egress, policy_types: None, ..Default::default() }),
            })
        };
        // No egress rules, no policyTypes: Ingress only, so egress stays open and ingress is denied.
        let ingress_only = mk(None);
        let v = check(std::slice::from_ref(&ingress_only), &web(), &db(), 8080);
        assert!(v.egress.isolating.is_empty() && !v.ingress.allowed());
        // Look-alike: an egress rule (to other pods) makes it Ingress+Egress, and egress to db is denied.
        let with_egress = mk(Some(vec![NetworkPolicyEgressRule {
            to: Some(vec![k8s_openapi::api::networking::v1::NetworkPolicyPeer {
                pod_selector: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                    match_labels: Some(labels(&[("app", "cache")]).to_map()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ports: None,
        }]));
        let v = check(&[with_egress], &web(), &db(), 8080);
        assert_eq!(v.egress.isolating, ["shop/p"]);
        assert!(!v.egress.allowed());
    }

    #[test]
    fn egress_rules_allow_to_the_destination() {
        let mut p = policy("shop", "web-out", sel(&[("app", "web")]), &["Egress"]);
        p.egress = vec![rule(vec![pods_peer(&[("app", "db")])], vec![tcp(8080)])];
        let v = check(std::slice::from_ref(&p), &web(), &db(), 8080);
        assert!(v.allowed());
        assert_eq!(
            v.egress.explain(),
            "allowed by shop/web-out egress rule 1 (peer pods app=db, port TCP 8080)"
        );
        let cache = pod("shop", "cache-1", &[("app", "cache")], "10.1.0.3");
        assert!(!check(&[p], &web(), &cache, 8080).allowed());
    }

    #[test]
    fn both_directions_must_allow() {
        let mut out = policy("shop", "web-out", sel(&[("app", "web")]), &["Egress"]);
        out.egress = vec![rule(vec![pods_peer(&[("app", "db")])], vec![])];
        let deny_in = policy("shop", "db-deny", sel(&[("app", "db")]), &["Ingress"]);
        let v = check(&[out.clone(), deny_in.clone()], &web(), &db(), 8080);
        assert!(v.egress.allowed() && !v.ingress.allowed() && !v.allowed());
        let mut allow_in = deny_in;
        allow_in.ingress = vec![rule(vec![pods_peer(&[("app", "web")])], vec![])];
        assert!(check(&[out, allow_in], &web(), &db(), 8080).allowed());
    }

    #[test]
    fn a_pod_reaches_itself() {
        let deny = policy("shop", "deny", SelectorRow::default(), &["Ingress", "Egress"]);
        let v = check(std::slice::from_ref(&deny), &db(), &db(), 8080);
        assert!(v.same_pod && v.allowed());
        assert!(!check(&[deny], &web(), &db(), 8080).allowed());
    }

    #[test]
    fn questions_parse_or_say_what_is_wrong() {
        let q = parse_question("prod-eu", "team-a/frontend-1", "", "", "team-b/inventory", "80").unwrap();
        assert_eq!(q.source, Source::Pod { namespace: "team-a".into(), name: "frontend-1".into() });
        assert_eq!(
            (q.namespace.as_str(), q.service.as_str(), q.port.as_str()),
            ("team-b", "inventory", "80")
        );
        let q = parse_question("c", "", "team-a", "app=frontend, tier=web", "team-b/inventory", "").unwrap();
        assert_eq!(
            q.source,
            Source::Labels {
                namespace: "team-a".into(),
                labels: labels(&[("app", "frontend"), ("tier", "web")])
            }
        );
        let err = |a: [&str; 6]| parse_question(a[0], a[1], a[2], a[3], a[4], a[5]).unwrap_err().to_string();
        assert_eq!(err(["", "a/b", "", "", "c/d", ""]), "cluster is required");
        assert_eq!(
            err(["c", "", "", "", "c/d", ""]),
            "source (a pod, or a namespace with labels) is required"
        );
        assert!(err(["c", "a/b", "x", "", "c/d", ""]).contains("not both"));
        assert_eq!(err(["c", "ab", "", "", "c/d", ""]), "source pod must be namespace/name, not \"ab\"");
        assert_eq!(err(["c", "a/b", "", "", "", ""]), "destination Service is required");
        assert_eq!(err(["c", "A/b", "", "", "c/d", ""]), "\"A\" is not a valid Kubernetes name");
        assert!(err(["c", "", "ns", "app", "c/d", ""]).starts_with("labels must be key=value"));
    }

    fn mk_row_pod(name: &str, app: &str, ip: &str) -> PodRow {
        let mut p = crate::views::tests::mk_pod("team-b", name, app, &[("http", 8080)]);
        p.pod_ip = Some(ip.into());
        p
    }

    fn inventory() -> ServiceRow {
        let mut s = crate::views::tests::mk_service("team-b", "inventory");
        s.ports = vec![
            crate::views::tests::mk_port(Some("http"), 80, Some("http")),
            crate::views::tests::mk_port(Some("admin"), 81, Some("9999")),
        ];
        s
    }

    /// The fixture's team-b policies: default-deny, and allow-frontend (team-a app=frontend, TCP 8080).
    fn team_b_policies() -> Vec<NetworkPolicyRow> {
        let deny = policy("team-b", "default-deny", SelectorRow::default(), &["Ingress"]);
        let mut allow = policy("team-b", "allow-frontend", sel(&[("app", "inventory")]), &["Ingress"]);
        allow.ingress = vec![rule(
            vec![PolicyPeerRow {
                namespace_selector: Some(sel(&[("kubernetes.io/metadata.name", "team-a")])),
                pod_selector: Some(sel(&[("app", "frontend")])),
                ip_block: None,
            }],
            vec![tcp(8080)],
        )];
        vec![deny, allow]
    }

    #[test]
    fn service_answers_name_the_deciding_policies() {
        let svc = inventory();
        let pods = [
            mk_row_pod("inventory-1", "inventory", "10.1.0.1"),
            mk_row_pod("inventory-2", "inventory", "10.1.0.2"),
        ];
        let other = mk_row_pod("orphan-1", "other", "10.1.0.9");
        let policies = team_b_policies();
        let evidence = |source: Endpoint, port: &str| {
            let port = service_port(&svc, port).unwrap().clone();
            (source, port)
        };
        let frontend = pod("team-a", "frontend-1", &[("app", "frontend")], "10.2.0.1");
        let (source, port) = evidence(frontend, "http");
        let e = Evidence {
            source,
            service: &svc,
            port: &port,
            pods: pods.iter().chain([&other]).collect(),
            namespace_labels: labels(&[("kubernetes.io/metadata.name", "team-b")]),
            policies: policies.iter().collect(),
        };
        let a = answer(&e);
        assert_eq!(a.verdict, Reachability::Allowed, "{a:#?}");
        assert_eq!(a.pods.len(), 2, "only the selected pods");
        assert_eq!(a.pods[0].port, Some(8080), "named targetPort resolved");
        let ingress = a.pods[0].ingress.as_ref().unwrap();
        assert_eq!(ingress.isolating, ["team-b/default-deny", "team-b/allow-frontend"]);
        assert_eq!(ingress.rules[0].policy, "team-b/allow-frontend");
        assert_eq!(ingress.rules[0].rule, 1);
        assert_eq!(ingress.rules[0].port, "TCP 8080");
        assert_eq!(a.destination, "team-b/inventory port 80 → targetPort http/TCP");
        // Look-alike: another team-a pod.
        let checkout = pod("team-a", "checkout-1", &[("app", "checkout")], "10.2.0.2");
        let a = answer(&Evidence { source: checkout, ..e });
        assert_eq!(a.verdict, Reachability::Denied);
        assert!(
            a.summary
                .starts_with("Denied: team-a/checkout-1 (10.2.0.2) cannot reach team-b/inventory port 80")
        );
        assert!(a.pods[0].ingress.as_ref().unwrap().text.contains("no rule allows it"));
    }

    #[test]
    fn service_answers_per_pod_and_port() {
        let svc = inventory();
        let mut renamed = mk_row_pod("inventory-2", "inventory", "10.1.0.2");
        renamed.containers[0].ports[0].name = Some("web".into());
        let pods = [mk_row_pod("inventory-1", "inventory", "10.1.0.1"), renamed];
        let port = service_port(&svc, "80").unwrap().clone();
        let e = Evidence {
            source: pod("team-a", "frontend-1", &[("app", "frontend")], "10.2.0.1"),
            service: &svc,
            port: &port,
            pods: pods.iter().collect(),
            namespace_labels: labels(&[("kubernetes.io/metadata.name", "team-b")]),
            policies: Vec::new(),
        };
        let a = answer(&e);
        assert_eq!(a.verdict, Reachability::Partial);
        assert_eq!(a.pods[1].problem.as_deref(), Some("no container port named http (TCP) on this pod"));
        // The admin port's numeric targetPort 9999 is allowed by no policy here... and denied by team-b's.
        let admin = service_port(&svc, "admin").unwrap().clone();
        let policies = team_b_policies();
        let a = answer(&Evidence { port: &admin, policies: policies.iter().collect(), ..e });
        assert_eq!(a.verdict, Reachability::Denied);
        assert_eq!(a.pods[0].port, Some(9999));
        assert_eq!(
            service_port(&svc, "").unwrap_err().to_string(),
            "Service team-b/inventory has 2 ports: choose one (http 80, admin 81)"
        );
        assert_eq!(
            service_port(&svc, "8080").unwrap_err().to_string(),
            "Service team-b/inventory has no port \"8080\" (its ports: http 80, admin 81)"
        );
    }

    #[test]
    fn service_without_selector_or_pods_cannot_tell() {
        let svc = inventory();
        let port = service_port(&svc, "80").unwrap().clone();
        let e = Evidence {
            source: web(),
            service: &svc,
            port: &port,
            pods: Vec::new(),
            namespace_labels: Labels::new(),
            policies: Vec::new(),
        };
        assert_eq!(answer(&e).verdict, Reachability::Unknown);
        assert!(answer(&e).summary.contains("selects no running pod"));
        let mut manual = svc.clone();
        manual.selector.clear();
        let e = Evidence { service: &manual, ..e };
        assert!(answer(&e).summary.contains("has no selector"));
    }
}
