//! Workloads (apps/v1 Deployments, StatefulSets and DaemonSets) as one row shape, [`WorkloadRow`], kept per kind
//! in [`DeploymentRow`], [`StatefulSetRow`] and [`DaemonSetRow`] (one cache per kind, one row type per cache).

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, StatefulSet},
        core::v1::PodTemplateSpec,
    },
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};

use super::{Labels, Row, SelectorRow, ns_name};

/// Which workload kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    #[default]
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
}

impl WorkloadKind {
    /// The Kubernetes kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
        }
    }
}

/// A Deployment, StatefulSet or DaemonSet: its replica counts, and what its pods look like.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadRow {
    /// Which kind.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// How many pods it wants: `spec.replicas` (Kubernetes' default 1 when unset) of a Deployment or
    /// StatefulSet; a DaemonSet's `status.desiredNumberScheduled` (how many nodes should run one).
    pub desired: i32,
    /// `status.readyReplicas` (a DaemonSet's `numberReady`); 0 when unset.
    pub ready: i32,
    /// `status.availableReplicas` (a DaemonSet's `numberAvailable`); 0 when unset.
    pub available: i32,
    /// `spec.selector`: the pods it owns.
    pub selector: SelectorRow,
    /// `spec.template.metadata.labels`: the labels its new pods get (what a Service selector must match).
    pub template_labels: Labels,
}

impl WorkloadRow {
    fn new(kind: WorkloadKind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Self {
        let (namespace, name) = ns_name(meta);
        Self { kind, namespace, name, ..Default::default() }
    }

    fn with_pods(mut self, selector: &LabelSelector, template: &PodTemplateSpec) -> Self {
        self.selector = SelectorRow::from(selector);
        self.template_labels =
            template.metadata.as_ref().and_then(|m| m.labels.as_ref()).map(Labels::from).unwrap_or_default();
        self
    }
}

impl From<&Deployment> for WorkloadRow {
    fn from(d: &Deployment) -> Self {
        let row = Self::new(WorkloadKind::Deployment, &d.metadata);
        let row = match &d.spec {
            Some(spec) => {
                Self { desired: spec.replicas.unwrap_or(1), ..row.with_pods(&spec.selector, &spec.template) }
            }
            None => Self { desired: 1, ..row },
        };
        let status = d.status.as_ref();
        Self {
            ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
            available: status.and_then(|s| s.available_replicas).unwrap_or(0),
            ..row
        }
    }
}

impl From<&StatefulSet> for WorkloadRow {
    fn from(s: &StatefulSet) -> Self {
        let row = Self::new(WorkloadKind::StatefulSet, &s.metadata);
        let row = match &s.spec {
            Some(spec) => {
                Self { desired: spec.replicas.unwrap_or(1), ..row.with_pods(&spec.selector, &spec.template) }
            }
            None => Self { desired: 1, ..row },
        };
        let status = s.status.as_ref();
        Self {
            ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
            available: status.and_then(|s| s.available_replicas).unwrap_or(0),
            ..row
        }
    }
}

impl From<&DaemonSet> for WorkloadRow {
    fn from(d: &DaemonSet) -> Self {
        let row = Self::new(WorkloadKind::DaemonSet, &d.metadata);
        let row = match &d.spec {
            Some(spec) => row.with_pods(&spec.selector, &spec.template),
            None => row,
        };
        let status = d.status.as_ref();
        Self {
            desired: status.map_or(0, |s| s.desired_number_scheduled),
            ready: status.map_or(0, |s| s.number_ready),
            available: status.and_then(|s| s.number_available).unwrap_or(0),
            ..row
        }
    }
}

/// One row type per workload kind, each a [`WorkloadRow`] (deref to it).
macro_rules! workload_row {
    ($(#[$doc:meta])* $row:ident, $object:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $row(pub WorkloadRow);

        impl std::ops::Deref for $row {
            type Target = WorkloadRow;
            fn deref(&self) -> &WorkloadRow {
                &self.0
            }
        }

        impl Row for $row {
            type Object = $object;
            fn from_object(object: &$object) -> Self {
                Self(WorkloadRow::from(object))
            }
            fn namespace(&self) -> &str {
                &self.0.namespace
            }
            fn name(&self) -> &str {
                &self.0.name
            }
        }
    };
}

workload_row!(
    /// A Deployment.
    DeploymentRow,
    Deployment
);

workload_row!(
    /// A StatefulSet.
    StatefulSetRow,
    StatefulSet
);

workload_row!(
    /// A DaemonSet.
    DaemonSetRow,
    DaemonSet
);

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::apps::v1::{
            DaemonSetSpec, DaemonSetStatus, DeploymentSpec, DeploymentStatus, StatefulSetSpec,
            StatefulSetStatus,
        },
        apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta},
    };

    use super::*;
    use crate::watch::rows::tests::mk_meta;

    fn selector(app: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some([("app".to_owned(), app.to_owned())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "track".into(),
                operator: "NotIn".into(),
                values: Some(vec!["canary".into()]),
            }]),
        }
    }

    fn template(labels: &[(&str, &str)]) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
                ..Default::default()
            }),
            spec: None,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn deployment_row_keeps_counts_selector_and_template_labels() {
        let d = Deployment {
            metadata: mk_meta("team-a", "checkout", &[("team", "a")]),
            spec: Some(DeploymentSpec {
                replicas: Some(3),
                selector: selector("checkout"),
                template: template(&[("app", "checkout"), ("tier", "web")]),
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                ready_replicas: Some(2),
                available_replicas: Some(1),
                replicas: Some(3),
                ..Default::default()
            }),
        };
        let row = DeploymentRow::from_object(&d);
        assert_eq!((row.namespace(), row.name()), ("team-a", "checkout"));
        assert_eq!((row.kind, row.kind.as_str()), (WorkloadKind::Deployment, "Deployment"));
        assert_eq!((row.desired, row.ready, row.available), (3, 2, 1));
        assert_eq!(row.template_labels, labels(&[("app", "checkout"), ("tier", "web")]));
        assert!(row.selector.matches(&labels(&[("app", "checkout")])));
        assert!(!row.selector.matches(&labels(&[("app", "checkout"), ("track", "canary")])));
    }

    #[test]
    fn missing_fields_take_kubernetes_defaults() {
        // No spec, no status: one replica wanted (the API's default), none ready, a selector that is empty.
        let bare = DeploymentRow::from_object(&Deployment {
            metadata: mk_meta("ns", "d", &[]),
            ..Default::default()
        });
        assert_eq!((bare.desired, bare.ready, bare.available), (1, 0, 0));
        assert!(bare.template_labels.is_empty() && bare.selector == SelectorRow::default());
        // Replicas unset in the spec, a template without labels, a status without counts.
        let unset = DeploymentRow::from_object(&Deployment {
            metadata: mk_meta("ns", "d", &[]),
            spec: Some(DeploymentSpec {
                selector: selector("d"),
                template: PodTemplateSpec::default(),
                ..Default::default()
            }),
            status: Some(DeploymentStatus::default()),
        });
        assert_eq!((unset.desired, unset.ready, unset.available), (1, 0, 0));
        assert!(unset.template_labels.is_empty());
        // Scaled to zero is kept as zero, not defaulted.
        let zero = DeploymentRow::from_object(&Deployment {
            metadata: mk_meta("ns", "d", &[]),
            spec: Some(DeploymentSpec { replicas: Some(0), ..Default::default() }),
            status: None,
        });
        assert_eq!(zero.desired, 0);
    }

    #[test]
    fn stateful_set_and_daemon_set_rows() {
        let s = StatefulSetRow::from_object(&StatefulSet {
            metadata: mk_meta("platform", "cache", &[]),
            spec: Some(StatefulSetSpec {
                replicas: Some(2),
                selector: selector("cache"),
                template: template(&[("app", "cache")]),
                ..Default::default()
            }),
            status: Some(StatefulSetStatus { replicas: 2, ready_replicas: Some(2), ..Default::default() }),
        });
        assert_eq!((s.kind, s.desired, s.ready, s.available), (WorkloadKind::StatefulSet, 2, 2, 0));
        assert_eq!(s.template_labels, labels(&[("app", "cache")]));

        let d = DaemonSetRow::from_object(&DaemonSet {
            metadata: mk_meta("kube-system", "agent", &[]),
            spec: Some(DaemonSetSpec {
                selector: selector("agent"),
                template: template(&[("app", "agent")]),
                ..Default::default()
            }),
            status: Some(DaemonSetStatus {
                desired_number_scheduled: 4,
                number_ready: 3,
                number_available: None,
                ..Default::default()
            }),
        });
        assert_eq!((d.kind.as_str(), d.desired, d.ready, d.available), ("DaemonSet", 4, 3, 0));
        // A DaemonSet no controller has looked at yet wants nothing yet.
        let fresh =
            DaemonSetRow::from_object(&DaemonSet { metadata: mk_meta("ns", "x", &[]), ..Default::default() });
        assert_eq!((fresh.desired, fresh.ready), (0, 0));
    }
}
