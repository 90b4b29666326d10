//! Wire types of the drift views: one Service's copies side by side (`/drift/:namespace/:name`), and the
//! fleet's Services whose copies differ (`/drift`).

use serde::{Deserialize, Serialize};

/// A compared field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKey {
    /// `spec.type`.
    Type,
    /// The ports.
    Ports,
    /// `spec.selector`.
    Selector,
    /// externalTrafficPolicy and internalTrafficPolicy.
    TrafficPolicies,
    /// sessionAffinity.
    SessionAffinity,
    /// The images of the backing pods' containers.
    Images,
    /// Backing pods and how many are ready.
    Replicas,
    /// Ready endpoints of the EndpointSlices.
    ReadyEndpoints,
    /// The backing containers' probes.
    Probes,
    /// NetworkPolicies that select the backing pods.
    NetworkPolicies,
}

impl DriftKey {
    /// Every field, in display order.
    pub const ALL: [DriftKey; 10] = [
        Self::Type,
        Self::Ports,
        Self::Selector,
        Self::TrafficPolicies,
        Self::SessionAffinity,
        Self::Images,
        Self::Replicas,
        Self::ReadyEndpoints,
        Self::Probes,
        Self::NetworkPolicies,
    ];

    /// The name used in config and in the `fleetpane.io/drift-expected` annotation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::Ports => "ports",
            Self::Selector => "selector",
            Self::TrafficPolicies => "traffic_policies",
            Self::SessionAffinity => "session_affinity",
            Self::Images => "images",
            Self::Replicas => "replicas",
            Self::ReadyEndpoints => "ready_endpoints",
            Self::Probes => "probes",
            Self::NetworkPolicies => "network_policies",
        }
    }

    /// Parses [`DriftKey::as_str`] (also with `-` for `_`, any case, and `affinity`, `image`, `policies`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|k| k.as_str() == s).or(match s.as_str() {
            "affinity" => Some(Self::SessionAffinity),
            "image" => Some(Self::Images),
            "policies" | "netpol" | "networkpolicies" => Some(Self::NetworkPolicies),
            "endpoints" => Some(Self::ReadyEndpoints),
            _ => None,
        })
    }

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Type => "Type",
            Self::Ports => "Ports",
            Self::Selector => "Selector",
            Self::TrafficPolicies => "Traffic policies",
            Self::SessionAffinity => "Session affinity",
            Self::Images => "Images",
            Self::Replicas => "Replicas (pods ready/total)",
            Self::ReadyEndpoints => "Ready endpoints",
            Self::Probes => "Probes",
            Self::NetworkPolicies => "NetworkPolicies",
        }
    }
}

/// How a field compares across the copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftState {
    /// Every readable copy has the same value.
    Same,
    /// The copies differ.
    Differs,
    /// The copies differ, and that is marked as expected.
    Expected,
}

/// One cell: a field's value in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCell {
    /// The value, one entry per line (empty: none). Unreadable: the reason instead.
    pub lines: Vec<String>,
    /// The person may read it.
    pub readable: bool,
    /// Differs from the first readable copy (the reference).
    pub differs: bool,
}

/// One field across the clusters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftRow {
    /// The field.
    pub key: DriftKey,
    /// How it compares.
    pub state: DriftState,
    /// One cell per cluster, in [`DriftPage::clusters`] order.
    pub cells: Vec<DriftCell>,
}

/// One Service's copies, side by side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftPage {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The clusters that have a copy the person may read, in fleet order: the columns.
    pub clusters: Vec<String>,
    /// Clusters that answered and have no copy (or none the person may read).
    pub missing_in: Vec<String>,
    /// Clusters that did not answer in time.
    pub unavailable: Vec<String>,
    /// The fields, in [`DriftKey::ALL`] order.
    pub rows: Vec<DriftRow>,
    /// Fields marked expected (config and annotation).
    pub expected: Vec<DriftKey>,
}

impl DriftPage {
    /// The fields that differ unexpectedly.
    pub fn differing(&self) -> Vec<DriftKey> {
        self.rows.iter().filter(|r| r.state == DriftState::Differs).map(|r| r.key).collect()
    }
}

/// One Service of the fleet drift list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftListRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The clusters with a copy.
    pub clusters: Vec<String>,
    /// Fields that differ unexpectedly.
    pub differing: Vec<DriftKey>,
    /// Fields that differ as expected.
    pub expected: Vec<DriftKey>,
}

/// The fleet's Services whose copies differ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftList {
    /// Services with unexpected differences first, then expected-only ones; by namespace and name.
    pub rows: Vec<DriftListRow>,
    /// Services present in several clusters (compared).
    pub compared: usize,
    /// Clusters that did not answer in time.
    pub unavailable: Vec<String>,
}
