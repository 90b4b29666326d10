//! HorizontalPodAutoscalers (autoscaling/v2) and PodDisruptionBudgets (policy/v1).

use k8s_openapi::api::{
    autoscaling::v2::{HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus},
    policy::v1::PodDisruptionBudget,
};

use super::{Row, ns_name, port_text, selector_text};

/// A HorizontalPodAutoscaler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HpaRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What it scales, as `Kind/name`.
    pub target: String,
    /// `minReplicas` (default 1).
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// `status.currentReplicas`.
    pub current_replicas: Option<i32>,
    /// `status.desiredReplicas`.
    pub desired_replicas: Option<i32>,
    /// The metrics, each with its target and current value.
    pub metrics: Vec<HpaMetricRow>,
    /// The conditions (`AbleToScale`, `ScalingActive`, `ScalingLimited`).
    pub conditions: Vec<ConditionRow>,
}

/// One metric of an HPA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HpaMetricRow {
    /// Which metric: `resource cpu`, `container-resource web/cpu`, `pods requests_per_second`,
    /// `object Ingress/shop requests`, `external queue_depth`.
    pub metric: String,
    /// The target: `60%`, `avg 100m`, `500`.
    pub target: String,
    /// The current value, in the same form, when the status reports it.
    pub current: Option<String>,
}

/// A status condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConditionRow {
    /// Type.
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Reason.
    pub reason: Option<String>,
    /// Message.
    pub message: Option<String>,
}

fn target_text(t: &MetricTarget) -> String {
    match (t.average_utilization, &t.average_value, &t.value) {
        (Some(pct), _, _) => format!("{pct}%"),
        (None, Some(avg), _) => format!("avg {}", avg.0),
        (None, None, Some(v)) => v.0.clone(),
        (None, None, None) => t.type_.clone(),
    }
}

fn value_text(v: &MetricValueStatus) -> Option<String> {
    match (v.average_utilization, &v.average_value, &v.value) {
        (Some(pct), _, _) => Some(format!("{pct}%")),
        (None, Some(avg), _) => Some(format!("avg {}", avg.0)),
        (None, None, Some(v)) => Some(v.0.clone()),
        (None, None, None) => None,
    }
}

fn spec_metric(m: &MetricSpec) -> (String, String) {
    if let Some(r) = &m.resource {
        (format!("resource {}", r.name), target_text(&r.target))
    } else if let Some(c) = &m.container_resource {
        (format!("container-resource {}/{}", c.container, c.name), target_text(&c.target))
    } else if let Some(p) = &m.pods {
        (format!("pods {}", p.metric.name), target_text(&p.target))
    } else if let Some(o) = &m.object {
        (
            format!("object {}/{} {}", o.described_object.kind, o.described_object.name, o.metric.name),
            target_text(&o.target),
        )
    } else if let Some(e) = &m.external {
        (format!("external {}", e.metric.name), target_text(&e.target))
    } else {
        (m.type_.clone(), String::new())
    }
}

fn status_metric(m: &MetricStatus) -> Option<(String, Option<String>)> {
    if let Some(r) = &m.resource {
        Some((format!("resource {}", r.name), value_text(&r.current)))
    } else if let Some(c) = &m.container_resource {
        Some((format!("container-resource {}/{}", c.container, c.name), value_text(&c.current)))
    } else if let Some(p) = &m.pods {
        Some((format!("pods {}", p.metric.name), value_text(&p.current)))
    } else if let Some(o) = &m.object {
        Some((
            format!("object {}/{} {}", o.described_object.kind, o.described_object.name, o.metric.name),
            value_text(&o.current),
        ))
    } else {
        m.external.as_ref().map(|e| (format!("external {}", e.metric.name), value_text(&e.current)))
    }
}

impl From<&HorizontalPodAutoscaler> for HpaRow {
    fn from(h: &HorizontalPodAutoscaler) -> Self {
        let (namespace, name) = ns_name(&h.metadata);
        let spec = &h.spec;
        let status = h.status.clone();
        let current: Vec<(String, Option<String>)> = status
            .as_ref()
            .and_then(|s| s.current_metrics.as_ref())
            .into_iter()
            .flatten()
            .filter_map(status_metric)
            .collect();
        let metrics = spec
            .metrics
            .iter()
            .flatten()
            .map(|m| {
                let (metric, target) = spec_metric(m);
                let current = current.iter().find(|(name, _)| *name == metric).and_then(|(_, v)| v.clone());
                HpaMetricRow { metric, target, current }
            })
            .collect();
        Self {
            namespace,
            name,
            target: format!("{}/{}", spec.scale_target_ref.kind, spec.scale_target_ref.name),
            min_replicas: spec.min_replicas.unwrap_or(1),
            max_replicas: spec.max_replicas,
            current_replicas: status.as_ref().and_then(|s| s.current_replicas),
            desired_replicas: status.as_ref().map(|s| s.desired_replicas),
            metrics,
            conditions: status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .map(|c| ConditionRow {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                })
                .collect(),
        }
    }
}

/// A PodDisruptionBudget.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PdbRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The pods it covers, as a selector (see [`selector_text`]).
    pub selector: String,
    /// `minAvailable`, a number or a percentage.
    pub min_available: Option<String>,
    /// `maxUnavailable`, a number or a percentage.
    pub max_unavailable: Option<String>,
    /// `status.currentHealthy`.
    pub current_healthy: i32,
    /// `status.desiredHealthy`.
    pub desired_healthy: i32,
    /// `status.disruptionsAllowed`: how many pods may be evicted now.
    pub disruptions_allowed: i32,
    /// `status.expectedPods`.
    pub expected_pods: i32,
}

impl From<&PodDisruptionBudget> for PdbRow {
    fn from(p: &PodDisruptionBudget) -> Self {
        let (namespace, name) = ns_name(&p.metadata);
        let spec = p.spec.clone().unwrap_or_default();
        let status = p.status.clone().unwrap_or_default();
        Self {
            namespace,
            name,
            selector: spec.selector.as_ref().map(selector_text).unwrap_or_default(),
            min_available: spec.min_available.as_ref().map(port_text),
            max_unavailable: spec.max_unavailable.as_ref().map(port_text),
            current_healthy: status.current_healthy.unwrap_or(0),
            desired_healthy: status.desired_healthy.unwrap_or(0),
            disruptions_allowed: status.disruptions_allowed.unwrap_or(0),
            expected_pods: status.expected_pods.unwrap_or(0),
        }
    }
}

row!(HpaRow, HorizontalPodAutoscaler, namespaced);

row!(PdbRow, PodDisruptionBudget, namespaced);

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::{
            autoscaling::v2::{
                CrossVersionObjectReference, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerSpec,
                HorizontalPodAutoscalerStatus, MetricIdentifier, PodsMetricSource, ResourceMetricSource,
                ResourceMetricStatus,
            },
            policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus},
        },
        apimachinery::pkg::{
            api::resource::Quantity, apis::meta::v1::LabelSelector, util::intstr::IntOrString,
        },
    };

    use super::*;
    use crate::watch::rows::tests::mk_meta;

    fn mk_hpa() -> HorizontalPodAutoscaler {
        HorizontalPodAutoscaler {
            metadata: mk_meta("team-a", "checkout", &[]),
            spec: HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".into()),
                    kind: "Deployment".into(),
                    name: "checkout".into(),
                },
                min_replicas: Some(2),
                max_replicas: 10,
                metrics: Some(vec![
                    MetricSpec {
                        type_: "Resource".into(),
                        resource: Some(ResourceMetricSource {
                            name: "cpu".into(),
                            target: MetricTarget {
                                type_: "Utilization".into(),
                                average_utilization: Some(60),
                                ..Default::default()
                            },
                        }),
                        ..Default::default()
                    },
                    MetricSpec {
                        type_: "Pods".into(),
                        pods: Some(PodsMetricSource {
                            metric: MetricIdentifier { name: "rps".into(), selector: None },
                            target: MetricTarget {
                                type_: "AverageValue".into(),
                                average_value: Some(Quantity("100".into())),
                                ..Default::default()
                            },
                        }),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            },
            status: Some(HorizontalPodAutoscalerStatus {
                current_replicas: Some(3),
                desired_replicas: 4,
                current_metrics: Some(vec![MetricStatus {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricStatus {
                        name: "cpu".into(),
                        current: MetricValueStatus { average_utilization: Some(85), ..Default::default() },
                    }),
                    ..Default::default()
                }]),
                conditions: Some(vec![HorizontalPodAutoscalerCondition {
                    type_: "ScalingLimited".into(),
                    status: "False".into(),
                    reason: Some("DesiredWithinRange".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn hpa_row_pairs_metric_targets_with_current_values() {
        let row = HpaRow::from(&mk_hpa());
        assert_eq!(row.target, "Deployment/checkout");
        assert_eq!((row.min_replicas, row.max_replicas), (2, 10));
        assert_eq!((row.current_replicas, row.desired_replicas), (Some(3), Some(4)));
        assert_eq!(
            row.metrics,
            [
                HpaMetricRow {
                    metric: "resource cpu".into(),
                    target: "60%".into(),
                    current: Some("85%".into())
                },
                HpaMetricRow { metric: "pods rps".into(), target: "avg 100".into(), current: None },
            ]
        );
        assert_eq!(row.conditions[0].type_, "ScalingLimited");
        assert_eq!(row.conditions[0].reason.as_deref(), Some("DesiredWithinRange"));
    }

    #[test]
    fn new_hpa_without_status_defaults_min_replicas() {
        let mut hpa = mk_hpa();
        hpa.status = None;
        hpa.spec.min_replicas = None;
        let row = HpaRow::from(&hpa);
        assert_eq!(row.min_replicas, 1);
        assert_eq!((row.current_replicas, row.desired_replicas), (None, None));
        assert!(row.metrics.iter().all(|m| m.current.is_none()));
    }

    #[test]
    fn pdb_row_keeps_budget_and_health() {
        let pdb = PodDisruptionBudget {
            metadata: mk_meta("team-a", "checkout", &[]),
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_owned(), "checkout".to_owned())].into()),
                    ..Default::default()
                }),
                max_unavailable: Some(IntOrString::String("25%".into())),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                current_healthy: Some(3),
                desired_healthy: Some(3),
                disruptions_allowed: Some(0),
                expected_pods: Some(4),
                ..Default::default()
            }),
        };
        let row = PdbRow::from(&pdb);
        assert_eq!(row.selector, "app=checkout");
        assert_eq!((row.min_available, row.max_unavailable.as_deref()), (None, Some("25%")));
        assert_eq!(
            (row.current_healthy, row.desired_healthy, row.disruptions_allowed, row.expected_pods),
            (3, 3, 0, 4)
        );
    }
}
