//! Nodes: what the doctor reads of them (readiness, zone, whether new pods may land there).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;

use super::Row;

/// The label naming a node's zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A node's `Ready` condition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NodeReady {
    /// `True`: the kubelet is healthy and takes pods.
    True,
    /// `False`: the kubelet reports it is not ready.
    False,
    /// `Unknown` (the kubelet stopped reporting), a status the API does not define, or no `Ready` condition at
    /// all (the kubelet never reported). Kubernetes treats all of these as not ready.
    #[default]
    Unknown,
}

/// A Node (cluster-scoped: its namespace is empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeRow {
    /// Name.
    pub name: String,
    /// The `Ready` condition.
    pub ready: NodeReady,
    /// When the `Ready` condition last changed.
    pub ready_since: Option<Timestamp>,
    /// The label [`ZONE_LABEL`].
    pub zone: Option<String>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
}

impl NodeRow {
    /// Whether the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.ready == NodeReady::True
    }
}

impl From<&Node> for NodeRow {
    fn from(n: &Node) -> Self {
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"));
        Self {
            name: n.metadata.name.clone().unwrap_or_default(),
            ready: match ready.map(|c| c.status.as_str()) {
                Some("True") => NodeReady::True,
                Some("False") => NodeReady::False,
                _ => NodeReady::Unknown,
            },
            ready_since: ready.and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0),
            zone: n.metadata.labels.as_ref().and_then(|l| l.get(ZONE_LABEL)).cloned(),
            unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
        }
    }
}

impl Row for NodeRow {
    type Object = Node;
    fn from_object(object: &Node) -> Self {
        Self::from(object)
    }
    fn namespace(&self) -> &str {
        ""
    }
    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{NodeCondition, NodeSpec, NodeStatus},
        apimachinery::pkg::apis::meta::v1::Time,
    };

    use super::*;
    use crate::watch::rows::tests::mk_meta;

    fn condition(type_: &str, status: &str) -> NodeCondition {
        NodeCondition {
            type_: type_.into(),
            status: status.into(),
            last_transition_time: Some(Time("2026-01-02T03:04:05Z".parse().unwrap())),
            ..Default::default()
        }
    }

    fn mk_node(conditions: Option<Vec<NodeCondition>>) -> Node {
        Node {
            metadata: mk_meta("", "node-a1", &[(ZONE_LABEL, "zone-a"), ("kubernetes.io/os", "linux")]),
            spec: Some(NodeSpec { unschedulable: Some(true), ..Default::default() }),
            status: Some(NodeStatus { conditions, ..Default::default() }),
        }
    }

    #[test]
    fn node_row_keeps_readiness_zone_and_cordon() {
        let node = mk_node(Some(vec![condition("MemoryPressure", "False"), condition("Ready", "True")]));
        let row = NodeRow::from_object(&node);
        assert_eq!((row.namespace(), row.name()), ("", "node-a1"));
        assert_eq!(row.ready, NodeReady::True);
        assert!(row.is_ready());
        assert_eq!(row.ready_since, Some("2026-01-02T03:04:05Z".parse().unwrap()));
        assert_eq!(row.zone.as_deref(), Some("zone-a"));
        assert!(row.unschedulable);
    }

    #[test]
    fn only_ready_true_is_ready() {
        let ready = |conditions| NodeRow::from(&mk_node(conditions)).ready;
        assert_eq!(ready(Some(vec![condition("Ready", "False")])), NodeReady::False);
        assert_eq!(ready(Some(vec![condition("Ready", "Unknown")])), NodeReady::Unknown);
        // A status the API does not define, only other conditions, or none at all: not ready, never a guess.
        assert_eq!(ready(Some(vec![condition("Ready", "Maybe")])), NodeReady::Unknown);
        assert_eq!(ready(Some(vec![condition("DiskPressure", "True")])), NodeReady::Unknown);
        assert_eq!(ready(None), NodeReady::Unknown);
        assert!(!NodeRow::from(&mk_node(None)).is_ready());
    }

    #[test]
    fn a_bare_node_has_no_zone_and_is_schedulable() {
        let row = NodeRow::from(&Node { metadata: mk_meta("", "n", &[]), ..Default::default() });
        assert_eq!(row.name, "n");
        assert_eq!((row.zone, row.ready_since, row.unschedulable), (None, None, false));
        assert_eq!(row.ready, NodeReady::Unknown);
    }
}
