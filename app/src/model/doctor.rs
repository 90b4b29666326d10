//! Wire types of the service doctor: findings on the Service page, and the on-call triage view.
//!
//! The server decides everything (severity, words, links); the browser only renders.

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Critical` is greatest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; no action needed now.
    Info,
    /// A risk or a partial outage.
    Warning,
    /// The Service does not serve (or not as intended).
    Critical,
}

impl Severity {
    /// The word shown beside the icon (color never carries the meaning alone).
    pub fn label(self) -> &'static str {
        match self {
            Self::Info => "Info",
            Self::Warning => "Warning",
            Self::Critical => "Critical",
        }
    }

    /// The name used in CSS classes and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// A text icon that survives screenshots and color blindness.
    pub fn icon(self) -> &'static str {
        match self {
            Self::Info => "ℹ",
            Self::Warning => "▲",
            Self::Critical => "✕",
        }
    }
}

/// An object a finding names, with where to see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLink {
    /// `Service`, `Pod`, `EndpointSlice`, `NetworkPolicy`, `Node`, ...
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// A Service's page, or an anchor on the Service page where the object is shown (`#pod-NAME`,
    /// `#endpoints`, `#netpol-NAME`, ...); `None` when Fleetpane does not show it.
    pub href: Option<String>,
}

/// One piece of evidence: which object, which field or event, what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceView {
    /// The object.
    pub object: ObjectLink,
    /// The field path (`spec.selector`) or `event <Reason>`.
    pub field: String,
    /// What was found there.
    pub detail: String,
}

/// A problem or risk the doctor found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingView {
    /// How bad.
    pub severity: Severity,
    /// A stable identifier, e.g. `selector.matches-nothing`.
    pub code: String,
    /// One line.
    pub title: String,
    /// Never empty: what the finding is based on.
    pub evidence: Vec<EvidenceView>,
    /// What to try.
    pub fix: String,
}

/// The triage view's filters, as the URL carries them (`?cluster=&namespace=&team=`). Empty: no filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TriageRequest {
    /// Only this cluster.
    #[serde(default)]
    pub cluster: String,
    /// Only this namespace.
    #[serde(default)]
    pub namespace: String,
    /// Only namespaces with this team label value.
    #[serde(default)]
    pub team: String,
}

/// The namespace label that names a namespace's team.
pub const TEAM_LABEL: &str = "fleetpane.dev/team";

/// One Service with findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageRow {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The Service page.
    pub href: String,
    /// The namespace's team label, when known.
    pub team: Option<String>,
    /// The top finding's severity.
    pub severity: Severity,
    /// The top finding's code.
    pub code: String,
    /// The top finding in words.
    pub title: String,
    /// How many other findings (any severity).
    pub others: u32,
    /// Endpoints that exist but are not ready: the blast radius.
    pub not_ready: u32,
    /// Endpoints in all.
    pub endpoints: u32,
    /// Since when, RFC 3339, where an event or condition tells.
    pub since: Option<String>,
}

/// The triage view's data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriagePage {
    /// Services with at least one finding (after the filters), worst first.
    pub rows: Vec<TriageRow>,
    /// Services looked at (after the filters).
    pub checked: u32,
    /// Clusters that did not answer in time or could not be read: named, never waited for.
    pub unavailable: Vec<String>,
    /// Every cluster, for the filter.
    pub clusters: Vec<String>,
    /// Every namespace with a visible Service, for the filter.
    pub namespaces: Vec<String>,
    /// Every team label value seen, for the filter.
    pub teams: Vec<String>,
    /// Server-side time to gather and rank, in milliseconds.
    pub elapsed_ms: u64,
}
