//! Wire types of the fleet Services list and the Service page.
//!
//! The server builds them from its caches (`server/src/views/`); the browser only renders them. Everything is
//! already decided here: health, verdict text, drift, DNS names, resolved target ports, kubectl commands.

use serde::{Deserialize, Serialize};

/// How well a Service serves, worst first: the derived order is the list's default sort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No ready endpoint: traffic to it fails.
    NotServing,
    /// Some endpoints are not ready.
    Degraded,
    /// A LoadBalancer without an ingress point yet.
    Pending,
    /// Not enough data to say (e.g. endpoints forbidden or not synced).
    Unknown,
    /// Every endpoint is ready.
    Serving,
    /// An ExternalName: DNS only, nothing to be ready.
    External,
}

impl Health {
    /// Every value, worst first.
    pub const ALL: [Health; 6] =
        [Self::NotServing, Self::Degraded, Self::Pending, Self::Unknown, Self::Serving, Self::External];

    /// The name used in URLs and in `health:` searches.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotServing => "failing",
            Self::Degraded => "degraded",
            Self::Pending => "pending",
            Self::Unknown => "unknown",
            Self::Serving => "serving",
            Self::External => "external",
        }
    }

    /// Parses [`Health::as_str`] and a few synonyms (`not-serving`, `ok`, `healthy`), case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        Some(match s.as_str() {
            "failing" | "not-serving" | "notserving" | "down" => Self::NotServing,
            "degraded" | "warning" => Self::Degraded,
            "pending" => Self::Pending,
            "unknown" => Self::Unknown,
            "serving" | "ok" | "healthy" => Self::Serving,
            "external" | "externalname" => Self::External,
            _ => return None,
        })
    }

    /// The badge's text, paired with its color so the meaning survives without color.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotServing => "Not serving",
            Self::Degraded => "Degraded",
            Self::Pending => "Pending",
            Self::Unknown => "Unknown",
            Self::Serving => "Serving",
            Self::External => "External",
        }
    }
}

/// The answer a page opens with: a health and one line saying why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The health.
    pub health: Health,
    /// One line, e.g. "Serving: 6/6 endpoints ready in 2 zones", "Not serving: selector matches no pods".
    pub text: String,
}

/// A column of the Services list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortColumn {
    /// Health, worst first (then namespace, name).
    #[default]
    Health,
    /// Name.
    Name,
    /// Namespace.
    Namespace,
    /// The first cluster's name.
    Cluster,
    /// Type.
    Type,
    /// The first port number.
    Ports,
    /// Ready endpoints.
    Ready,
    /// All endpoints.
    Endpoints,
}

impl SortColumn {
    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Name => "name",
            Self::Namespace => "namespace",
            Self::Cluster => "cluster",
            Self::Type => "type",
            Self::Ports => "ports",
            Self::Ready => "ready",
            Self::Endpoints => "endpoints",
        }
    }

    /// Parses [`SortColumn::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Health,
            Self::Name,
            Self::Namespace,
            Self::Cluster,
            Self::Type,
            Self::Ports,
            Self::Ready,
            Self::Endpoints,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// What the list page asks for; lives in the URL (`?q=&sort=&desc=&offset=&limit=`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceListRequest {
    /// The search text (grammar: `server/src/views/list.rs`).
    #[serde(default)]
    pub q: String,
    /// The sort column.
    #[serde(default)]
    pub sort: SortColumn,
    /// Descending.
    #[serde(default)]
    pub desc: bool,
    /// First row, 0-based.
    #[serde(default)]
    pub offset: usize,
    /// Rows per page; the server caps it at [`ServiceListRequest::MAX_LIMIT`].
    #[serde(default = "ServiceListRequest::default_limit")]
    pub limit: usize,
    /// The cluster dropdown (`?cluster=`): a configured cluster name, or empty for any.
    #[serde(default)]
    pub cluster: String,
    /// The namespace dropdown (`?namespace=`), or empty for any.
    #[serde(default)]
    pub namespace: String,
    /// The type dropdown (`?type=`): `ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName` or `headless`,
    /// or empty for any.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// The health dropdown (`?health=`, [`Health::as_str`]), or empty for any.
    #[serde(default)]
    pub health: String,
}

impl ServiceListRequest {
    /// Rows per page unless asked otherwise.
    pub const DEFAULT_LIMIT: usize = 50;
    /// The most rows one page carries.
    pub const MAX_LIMIT: usize = 500;

    fn default_limit() -> usize {
        Self::DEFAULT_LIMIT
    }
}

impl Default for ServiceListRequest {
    fn default() -> Self {
        Self {
            q: String::new(),
            sort: SortColumn::Health,
            desc: false,
            offset: 0,
            limit: Self::DEFAULT_LIMIT,
            cluster: String::new(),
            namespace: String::new(),
            type_: String::new(),
            health: String::new(),
        }
    }
}

/// One option of a filter dropdown: a value and how many Services (namespace/name groups) have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    /// The value the filter takes (cluster name, namespace, type, health).
    pub value: String,
    /// Services visible to the person with at least one copy having this value.
    pub count: usize,
}

/// The filter dropdowns' options, computed from what the person may see (before the search), so a
/// namespace they cannot read never appears.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFacets {
    /// Every configured cluster, in configuration order (count 0 when none of its Services is visible).
    pub clusters: Vec<Facet>,
    /// Namespaces with visible Services, sorted.
    pub namespaces: Vec<Facet>,
    /// Service types present, sorted.
    pub types: Vec<Facet>,
    /// Healths present, worst first.
    pub health: Vec<Facet>,
}

/// One namespace/name in one cluster, inside a list row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterCopy {
    /// The cluster.
    pub cluster: String,
    /// Type in that cluster.
    pub type_: String,
    /// Ports in that cluster, e.g. `http 80→8080`.
    pub ports: String,
    /// Ready endpoints.
    pub ready: u32,
    /// All endpoints.
    pub total: u32,
    /// Its health.
    pub health: Health,
}

/// A field that differs between the copies of a Service across clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftField {
    /// `spec.type`.
    Type,
    /// `spec.ports`.
    Ports,
    /// `spec.selector`.
    Selector,
}

/// One row of the fleet Services list: one namespace/name, with every cluster that has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceListRow {
    /// The worst health among the copies.
    pub health: Health,
    /// The verdict of the worst copy, prefixed with its cluster when there are several.
    pub verdict: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// One entry per cluster, sorted by cluster name.
    pub clusters: Vec<ClusterCopy>,
    /// The copies differ ("≠" in the cluster column, a link to the drift view).
    pub differs: bool,
    /// What differs.
    pub drift: Vec<DriftField>,
    /// Type of the first copy.
    pub type_: String,
    /// Ports of the first copy.
    pub ports: String,
    /// Ready endpoints over all copies.
    pub ready: u32,
    /// All endpoints over all copies.
    pub total: u32,
}

/// One page of the fleet Services list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceListPage {
    /// The rows of this page.
    pub rows: Vec<ServiceListRow>,
    /// Rows matching the search, over all pages.
    pub total: usize,
    /// Rows visible to the person before the search.
    pub fleet_total: usize,
    /// The first row's index.
    pub offset: usize,
    /// The (capped) page size used.
    pub limit: usize,
    /// Clusters that did not answer in time or failed; their Services are missing from this page.
    #[serde(default)]
    pub unavailable: Vec<String>,
    /// The filter dropdowns' options.
    #[serde(default)]
    pub facets: ServiceFacets,
}

impl ServiceListPage {
    /// "showing 50 of 12,340".
    pub fn showing(&self) -> String {
        format!("showing {} of {}", thousands(self.rows.len()), thousands(self.total))
    }

    /// Whether a next page exists.
    pub fn has_next(&self) -> bool {
        self.offset + self.rows.len() < self.total
    }
}

/// `12340` → `12,340`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks one part of a Service page path (`/c/{cluster}/ns/{namespace}/svc/{name}`): each is a DNS label
/// (RFC 1123: 1-63 lowercase letters, digits and `-`, starting and ending alphanumeric). The error says which
/// part is wrong and why.
pub fn check_path_part(what: &str, value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let problem = if value.is_empty() {
        Some("is empty")
    } else if value.len() > 63 {
        Some("is longer than 63 characters")
    } else if !bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-') {
        Some("may hold only lowercase letters, digits and '-'")
    } else if bytes.first() == Some(&b'-') || bytes.last() == Some(&b'-') {
        Some("must start and end with a letter or digit")
    } else {
        None
    };
    match problem {
        Some(p) => {
            let shown: String = value.chars().take(70).collect();
            Err(format!("{what} {shown:?} {p}"))
        }
        None => Ok(()),
    }
}

/// The Service page's address.
pub fn service_href(cluster: &str, namespace: &str, name: &str) -> String {
    format!("/c/{cluster}/ns/{namespace}/svc/{name}")
}

/// The Service page's data for one Service in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDetail {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The verdict at the top.
    pub verdict: Verdict,
    /// The spec and LoadBalancer status.
    pub spec: ServiceSpecView,
    /// DNS names, each copyable.
    pub dns: Vec<DnsName>,
    /// Endpoints per zone.
    pub zones: Vec<ZoneSummary>,
    /// The EndpointSlices.
    pub slices: Vec<SliceSummary>,
    /// Every endpoint of every slice.
    pub endpoints: Vec<EndpointView>,
    /// The pods the selector picks in the Service's namespace.
    pub pods: Vec<BackingPod>,
    /// Commands that show the same data.
    pub kubectl: Vec<KubectlCommand>,
    /// `false`: the person may not read the EndpointSlices; the page says so where they would be.
    pub endpoints_readable: bool,
    /// `false`: the person may not list pods in the namespace; the page says so where they would be.
    pub pods_readable: bool,
    /// When the data was read, RFC 3339.
    #[serde(default)]
    pub generated_at: String,
    /// How current the data is.
    #[serde(default)]
    pub freshness: Freshness,
    /// When the Service was created.
    #[serde(default)]
    pub created: Option<When>,
    /// Ingresses, HTTPRoutes, workloads, HPA, PDB and NetworkPolicies around the Service.
    #[serde(default)]
    pub related: RelatedView,
    /// Recent Events of the Service and its EndpointSlices, and the backing pods' warnings, newest first.
    /// `None`: the person may not list Events in the namespace.
    #[serde(default)]
    pub events: Option<Vec<EventView>>,
    /// The doctor's findings, most severe first; empty: nothing wrong (that the person may see).
    #[serde(default)]
    pub findings: Vec<crate::model::doctor::FindingView>,
}

/// A moment: absolute, and relative to when the page's data was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct When {
    /// RFC 3339, UTC.
    pub at: String,
    /// How long before the read, e.g. `2h16m`; empty when not known.
    pub ago: String,
}

/// How current a page's data is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    /// From the shared caches, which are watching.
    #[default]
    Live,
    /// Read just now, live from the cluster (no shared cache for it).
    ReadNow,
    /// The caches have not finished their first list.
    Syncing,
    /// The caches' watches failed: the data may be out of date.
    Stale {
        /// Since when.
        since: When,
    },
    /// The cluster does not answer.
    Unreachable {
        /// Since when.
        since: When,
    },
}

impl Freshness {
    /// One word or phrase: `live`, `read now`, `syncing`, `stale since …`, `unreachable since …`.
    pub fn label(&self) -> String {
        match self {
            Self::Live => "live".to_owned(),
            Self::ReadNow => "read now".to_owned(),
            Self::Syncing => "syncing".to_owned(),
            Self::Stale { since } => format!("stale since {}", since.at),
            Self::Unreachable { since } => format!("unreachable since {}", since.at),
        }
    }
}

/// What is around the Service. `None` in a field: the person may not list that kind in the namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedView {
    /// Ingresses that send to the Service.
    pub ingresses: Option<Vec<RouteView>>,
    /// HTTPRoutes that send to the Service.
    pub http_routes: Option<Vec<RouteView>>,
    /// The workloads owning the backing pods.
    pub workloads: Vec<WorkloadView>,
    /// HPAs scaling those workloads.
    pub hpas: Option<Vec<HpaView>>,
    /// PDBs covering the backing pods.
    pub pdbs: Option<Vec<PdbView>>,
    /// NetworkPolicies selecting the backing pods.
    pub network_policies: Option<Vec<NetworkPolicyView>>,
}

/// An Ingress or HTTPRoute that sends to the Service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    /// `Ingress` or `HTTPRoute`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The rules that send to the Service.
    pub rules: Vec<RouteRuleView>,
    /// HTTPRoute parents or the Ingress class, one line.
    pub via: Option<String>,
}

/// One rule of a route that sends to the Service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRuleView {
    /// What matches, e.g. `*/checkout (Prefix)`, `PathPrefix /api`, `default backend`.
    pub matches: String,
    /// The Service port it names, a number or a name; `None`: none given.
    pub port: Option<String>,
    /// Whether the Service has that port (`true` when none is given).
    pub port_found: bool,
    /// The weight (HTTPRoute).
    pub weight: Option<i32>,
}

/// A workload owning backing pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadView {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, ...
    pub kind: String,
    /// Name.
    pub name: String,
    /// Ready/desired replicas, e.g. `3/3`, when read.
    pub replicas: Option<String>,
    /// Backing pods it owns.
    pub pods: u32,
    /// Why it is shown as it is, e.g. that its ReplicaSet's owner could not be read.
    pub note: Option<String>,
}

/// An HPA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpaView {
    /// Name.
    pub name: String,
    /// What it scales, `Kind/name`.
    pub target: String,
    /// minReplicas.
    pub min: i32,
    /// maxReplicas.
    pub max: i32,
    /// status.currentReplicas.
    pub current: Option<i32>,
    /// status.desiredReplicas.
    pub desired: Option<i32>,
    /// Metrics: `resource cpu 62%/70%` (current/target; `?` when unknown).
    pub metrics: Vec<String>,
    /// Conditions that are not `True`, `Type: reason: message`.
    pub problems: Vec<String>,
}

/// A PDB covering the backing pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdbView {
    /// Name.
    pub name: String,
    /// Its selector.
    pub selector: String,
    /// `minAvailable 2` or `maxUnavailable 25%`.
    pub budget: String,
    /// status.disruptionsAllowed.
    pub disruptions_allowed: i32,
    /// status.currentHealthy.
    pub current_healthy: i32,
    /// status.desiredHealthy.
    pub desired_healthy: i32,
    /// status.expectedPods.
    pub expected_pods: i32,
    /// Backing pods it covers.
    pub covers: u32,
}

/// A NetworkPolicy selecting backing pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPolicyView {
    /// Name.
    pub name: String,
    /// Its pod selector; empty: every pod of the namespace.
    pub pod_selector: String,
    /// `Ingress`, `Egress`.
    pub policy_types: Vec<String>,
    /// Allowed incoming traffic, one line per rule: `from pods app=web on TCP 8080`.
    pub ingress: Vec<String>,
    /// Allowed outgoing traffic, one line per rule.
    pub egress: Vec<String>,
    /// Backing pods it selects.
    pub selects: u32,
}

/// An Event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// What it is about, `Kind/name`.
    pub object: String,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// How often.
    pub count: i32,
    /// Last seen.
    pub last_seen: Option<When>,
    /// Who reported it.
    pub source: Option<String>,
}

/// The Service's spec as shown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpecView {
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    pub type_: String,
    /// `clusterIP: None`.
    pub headless: bool,
    /// Cluster IPs (empty for headless).
    pub cluster_ips: Vec<String>,
    /// `IPv4` / `IPv6`, derived from the cluster IPs.
    pub ip_families: Vec<String>,
    /// Ports with their resolved target ports.
    pub ports: Vec<ServicePortView>,
    /// The selector, sorted by key.
    pub selector: Vec<(String, String)>,
    /// The selector as `kubectl -l` takes it; empty if none.
    pub selector_text: String,
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// `externalTrafficPolicy`.
    pub external_traffic_policy: Option<String>,
    /// `internalTrafficPolicy`.
    pub internal_traffic_policy: Option<String>,
    /// `sessionAffinity`.
    pub session_affinity: Option<String>,
    /// `sessionAffinityConfig.clientIP.timeoutSeconds`.
    #[serde(default)]
    pub session_affinity_timeout: Option<i32>,
    /// `ipFamilyPolicy`.
    #[serde(default)]
    pub ip_family_policy: Option<String>,
    /// `trafficDistribution`.
    #[serde(default)]
    pub traffic_distribution: Option<String>,
    /// A pending LoadBalancer is pending since the Service was created.
    #[serde(default)]
    pub load_balancer_pending_since: Option<When>,
    /// LoadBalancer ingress IPs or hostnames.
    pub load_balancer_ingress: Vec<String>,
    /// A LoadBalancer without ingress yet.
    pub load_balancer_pending: bool,
    /// `externalName`.
    pub external_name: Option<String>,
}

/// One Service port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePortView {
    /// Name.
    pub name: Option<String>,
    /// Port.
    pub port: i32,
    /// targetPort as written (a number or a container port name); defaults to the port.
    pub target_port: String,
    /// nodePort.
    pub node_port: Option<i32>,
    /// Protocol, default `TCP`.
    pub protocol: String,
    /// appProtocol.
    pub app_protocol: Option<String>,
    /// What the targetPort means on the backing pods.
    pub resolution: TargetPortResolution,
    /// The backing containers' probes that check the resolved port: `readiness`, `liveness`, `startup`.
    #[serde(default)]
    pub probed_by: Vec<String>,
}

/// What a Service's targetPort resolves to on the backing pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetPortResolution {
    /// Every backing pod has it: this container port.
    Resolved {
        /// The container port.
        port: i32,
        /// The container declaring it, if one does (a numeric targetPort needs no declaration).
        container: Option<String>,
    },
    /// A named targetPort that maps to different numbers on different pods.
    Mixed {
        /// The distinct numbers, ascending.
        ports: Vec<i32>,
    },
    /// A named targetPort some backing pods do not declare: traffic to them fails.
    Unresolved {
        /// Pods without the name.
        pods_without: u32,
        /// Backing pods.
        pods: u32,
    },
    /// No backing pod to check against; `from_endpoints` is what the EndpointSlices say, if anything.
    NotChecked {
        /// The port number the EndpointSlices carry for this port's name.
        from_endpoints: Option<i32>,
    },
}

impl TargetPortResolution {
    /// Whether this needs attention (shown flagged).
    pub fn is_problem(&self) -> bool {
        matches!(self, Self::Mixed { .. } | Self::Unresolved { .. })
    }
}

/// The kind of a DNS name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsKind {
    /// Resolves inside the Service's namespace.
    Short,
    /// `name.namespace`.
    Namespaced,
    /// The fully qualified name.
    Fqdn,
    /// An SRV record of a named port.
    Srv,
    /// A per-pod record of a headless Service.
    Pod,
    /// The CNAME target of an ExternalName.
    Cname,
}

/// One DNS name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsName {
    /// What kind.
    pub kind: DnsKind,
    /// The name.
    pub name: String,
    /// What it points at: the pod IP of a per-pod record, the CNAME target, the port of an SRV record.
    pub target: Option<String>,
}

/// Endpoints of one zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSummary {
    /// The zone, or `(none)`.
    pub zone: String,
    /// Ready.
    pub ready: u32,
    /// Serving (ready or not).
    pub serving: u32,
    /// Terminating.
    pub terminating: u32,
    /// All.
    pub total: u32,
}

/// One EndpointSlice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceSummary {
    /// Name.
    pub name: String,
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    /// Endpoints in it.
    pub endpoints: u32,
    /// Ports, `name:port/proto`.
    pub ports: Vec<String>,
}

/// One endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointView {
    /// The slice it is in.
    pub slice: String,
    /// Addresses.
    pub addresses: Vec<String>,
    /// Ready (unset counts as ready).
    pub ready: bool,
    /// Serving (unset: as ready).
    pub serving: bool,
    /// Terminating.
    pub terminating: bool,
    /// Node.
    pub node: Option<String>,
    /// Zone.
    pub zone: Option<String>,
    /// The target pod's name, when the target is a pod.
    pub pod: Option<String>,
    /// Topology hints: zones.
    pub hint_zones: Vec<String>,
    /// Topology hints: nodes.
    pub hint_nodes: Vec<String>,
}

/// A pod the Service's selector picks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackingPod {
    /// Name.
    pub name: String,
    /// Phase.
    pub phase: Option<String>,
    /// Ready condition.
    pub ready: bool,
    /// Restarts over all containers.
    pub restarts: i32,
    /// Node.
    pub node: Option<String>,
    /// Zone, from the pod's endpoint.
    pub zone: Option<String>,
    /// Pod IP.
    pub pod_ip: Option<String>,
    /// Controlling owner, `Kind/name`.
    pub owner: Option<String>,
    /// Start time, RFC 3339 (the page shows the age).
    pub start_time: Option<String>,
    /// Created (its age).
    #[serde(default)]
    pub created: Option<When>,
    /// Containers.
    pub containers: Vec<ContainerView>,
    /// Recent `Unhealthy` and `BackOff` Events of the pod, newest first.
    #[serde(default)]
    pub events: Vec<EventView>,
}

/// A container of a backing pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerView {
    /// Name.
    pub name: String,
    /// Declared ports, `name:port/proto`.
    pub ports: Vec<String>,
    /// Readiness probe.
    pub readiness: Option<ProbeView>,
    /// Liveness probe.
    pub liveness: Option<ProbeView>,
    /// Startup probe.
    pub startup: Option<ProbeView>,
}

/// A probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeView {
    /// `http GET :8080/healthz`, `tcp :5432`, `grpc :9090`, `exec`.
    pub action: String,
    /// Period in seconds.
    pub period_seconds: i32,
    /// Failures before it counts as failed.
    pub failure_threshold: i32,
    /// `httpGet`, `tcpSocket`, `grpc`, `exec` or `unknown`.
    #[serde(default)]
    pub kind: String,
    /// The port as written, a number or a container port name.
    #[serde(default)]
    pub port: Option<String>,
    /// The container port it checks; `None` for a name the container does not declare (the probe fails).
    #[serde(default)]
    pub resolved_port: Option<i32>,
    /// The name of that container port, when declared.
    #[serde(default)]
    pub port_name: Option<String>,
    /// HTTP path.
    #[serde(default)]
    pub path: Option<String>,
    /// HTTP scheme.
    #[serde(default)]
    pub scheme: Option<String>,
    /// Host, when not the pod IP.
    #[serde(default)]
    pub host: Option<String>,
    /// exec command.
    #[serde(default)]
    pub command: Vec<String>,
    /// gRPC service.
    #[serde(default)]
    pub grpc_service: Option<String>,
    /// initialDelaySeconds.
    #[serde(default)]
    pub initial_delay_seconds: i32,
    /// timeoutSeconds.
    #[serde(default)]
    pub timeout_seconds: i32,
    /// successThreshold.
    #[serde(default)]
    pub success_threshold: i32,
}

impl ProbeView {
    /// Whether the probe names a port the container does not declare.
    pub fn port_problem(&self) -> bool {
        self.port.is_some() && self.resolved_port.is_none()
    }
}

/// A command that shows the same data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubectlCommand {
    /// What it shows.
    pub label: String,
    /// The command line.
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts_are_dns_labels() {
        assert_eq!(check_path_part("cluster", "prod-eu"), Ok(()));
        assert_eq!(check_path_part("name", "a1"), Ok(()));
        assert_eq!(
            check_path_part("namespace", "Team_A"),
            Err("namespace \"Team_A\" may hold only lowercase letters, digits and '-'".into())
        );
        assert!(check_path_part("name", "").unwrap_err().contains("is empty"));
        assert!(check_path_part("name", "-x").unwrap_err().contains("must start and end"));
        assert!(check_path_part("name", &"a".repeat(64)).unwrap_err().contains("longer than 63"));
        assert!(check_path_part("name", "a.b").is_err());
        assert_eq!(service_href("prod-eu", "team-a", "checkout"), "/c/prod-eu/ns/team-a/svc/checkout");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_340), "12,340");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn health_orders_worst_first_and_round_trips() {
        assert!(Health::NotServing < Health::Degraded && Health::Degraded < Health::Serving);
        for h in Health::ALL {
            assert_eq!(Health::parse(h.as_str()), Some(h));
        }
        assert_eq!(Health::parse("OK"), Some(Health::Serving));
        assert_eq!(Health::parse("nope"), None);
        for c in ["health", "name", "ready"] {
            assert_eq!(SortColumn::parse(c).map(SortColumn::as_str), Some(c));
        }
    }

    #[test]
    fn page_counts_and_request_defaults() {
        let page = ServiceListPage { total: 12_340, offset: 0, limit: 50, ..Default::default() };
        assert_eq!(page.showing(), "showing 0 of 12,340");
        assert!(page.has_next());
        let req: ServiceListRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(req, ServiceListRequest::default());
    }
}
