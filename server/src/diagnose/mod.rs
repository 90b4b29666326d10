//! The service doctor: pure rules that turn a Service and its related objects into findings.
//!
//! ```text
//! views (caches -> facts::Facts) ── diagnose(&facts, &Thresholds) ── Vec<Finding>, most severe first
//!
//! rules/selector   selector matches nothing / other namespace / likely typo / several workloads; no endpoints
//! rules/pods       why endpoints are not ready: probes, crash loops, image pulls, OOM, scheduling, nodes,
//!                  scaled to zero, only terminating endpoints left
//! rules/ports      targetPort not exposed / only by a sidecar / named port missing on some pods / protocol
//! rules/traffic    traffic policy Local on nodes without a ready local endpoint
//! rules/exposure   LoadBalancer pending, ExternalName problems, routes to a missing port
//! rules/netpol     NetworkPolicies that deny all ingress, block known callers, allow ports nobody listens on
//! rules/risk       PDB, HPA, single zone, probes, resources, error rate and latency
//! ```
//!
//! No I/O and no Kubernetes types: the input is [`facts::Facts`], built by the views layer. Findings of the same
//! severity keep the rule order above, so outages come before risks.

pub mod facts;
pub mod from_rows;
mod rules;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt;

use facts::{Facts, PodFacts};

/// How bad a finding is; ordered, `Critical` greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; no action needed now.
    Info,
    /// A risk or a partial outage.
    Warning,
    /// The Service does not serve (or not as intended).
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        })
    }
}

/// An object a finding points at (the page links it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// `Service`, `Pod`, `Node`, `NetworkPolicy`, ...
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// An object reference.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self { kind: kind.to_owned(), namespace: namespace.to_owned(), name: name.to_owned() }
    }
}

/// One piece of evidence: which object, which field or event, what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The object.
    pub object: ObjectRef,
    /// The field path (`spec.selector`) or `event <Reason>`.
    pub field: String,
    /// What was found there.
    pub detail: String,
}

/// A problem or risk the doctor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// A stable identifier, e.g. `selector.matches-nothing`.
    pub code: &'static str,
    /// One line for the page.
    pub title: String,
    /// Never empty: what the finding is based on.
    pub evidence: Vec<Evidence>,
    /// What to try.
    pub fix: String,
}

/// Limits for the metric and risk rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Error rate (0.0-1.0) above which a finding is raised.
    pub error_rate: f64,
    /// p99 latency in milliseconds above which a finding is raised.
    pub p99_latency_ms: f64,
    /// Largest edit distance between a selector term and a real label still called a likely typo.
    pub typo_distance: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { error_rate: 0.05, p99_latency_ms: 1000.0, typo_distance: 2 }
    }
}

/// Diagnoses one Service: its findings, most severe first (rule order within a severity).
pub fn diagnose(facts: &Facts, thresholds: &Thresholds) -> Vec<Finding> {
    let ctx = Ctx::new(facts, thresholds);
    let mut findings: Vec<Finding> = rules::ALL.iter().filter_map(|rule| rule(&ctx)).collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}

/// What every rule gets: the facts plus what is derived once (the selected pods).
pub(crate) struct Ctx<'a> {
    pub facts: &'a Facts,
    pub thresholds: &'a Thresholds,
    /// Pods of the Service's namespace its selector matches (not Succeeded/Failed).
    pub selected: Vec<&'a PodFacts>,
}

impl<'a> Ctx<'a> {
    pub fn new(facts: &'a Facts, thresholds: &'a Thresholds) -> Self {
        let selected = match facts.service.effective_selector() {
            Some(sel) => facts
                .pods
                .iter()
                .filter(|p| p.namespace == facts.service.namespace && facts::selector_matches(sel, &p.labels))
                .filter(|p| !matches!(p.phase, facts::PodPhase::Succeeded | facts::PodPhase::Failed))
                .collect(),
            None => Vec::new(),
        };
        Self { facts, thresholds, selected }
    }

    /// The Service as an evidence object.
    pub fn svc_ref(&self) -> ObjectRef {
        ObjectRef::new("Service", &self.facts.service.namespace, &self.facts.service.name)
    }

    /// Evidence on the Service.
    pub fn svc_evidence(&self, field: &str, detail: impl Into<String>) -> Evidence {
        Evidence { object: self.svc_ref(), field: field.to_owned(), detail: detail.into() }
    }

    /// All endpoints of all slices.
    pub fn endpoints(&self) -> impl Iterator<Item = &'a facts::EndpointFacts> + 'a {
        self.facts.slices.iter().flat_map(|s| s.endpoints.iter())
    }

    /// Number of ready endpoints.
    pub fn ready_endpoints(&self) -> usize {
        self.endpoints().filter(|e| e.ready).count()
    }

    /// Critical when the Service has no ready endpoint at all, otherwise Warning (a partial outage).
    pub fn outage_severity(&self) -> Severity {
        if self.ready_endpoints() == 0 { Severity::Critical } else { Severity::Warning }
    }

    /// Events about one object, most recent first.
    pub fn events_for(&self, kind: &str, name: &str) -> Vec<&'a facts::EventFacts> {
        let mut events: Vec<_> = self
            .facts
            .events
            .iter()
            .filter(|e| {
                e.involved_kind == kind
                    && e.involved_name == name
                    && e.involved_namespace == self.facts.service.namespace
            })
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        events
    }
}

/// Evidence on a pod.
pub(crate) fn pod_evidence(pod: &PodFacts, field: &str, detail: impl Into<String>) -> Evidence {
    Evidence {
        object: ObjectRef::new("Pod", &pod.namespace, &pod.name),
        field: field.to_owned(),
        detail: detail.into(),
    }
}

/// Evidence from an event.
pub(crate) fn event_evidence(e: &facts::EventFacts) -> Evidence {
    let when = e.last_seen.map(|t| format!(", last {t}")).unwrap_or_default();
    Evidence {
        object: ObjectRef::new(&e.involved_kind, &e.involved_namespace, &e.involved_name),
        field: format!("event {}", e.reason),
        detail: format!("{} (x{}{when})", e.message, e.count.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::{testing::*, *};

    #[test]
    fn a_healthy_service_has_no_findings() {
        let findings = diagnose(&mk_healthy(), &Thresholds::default());
        assert!(findings.is_empty(), "{findings:#?}");
    }

    #[test]
    fn findings_come_most_severe_first_and_always_with_evidence() {
        let mut facts = mk_healthy();
        // A risk (no readiness probe) and an outage (selector typo) together.
        for pod in &mut facts.pods {
            pod.containers[0].readiness_probe = None;
        }
        facts.service.selector = Some(labels(&[("app", "chekout")]));
        facts.slices.clear();
        let findings = diagnose(&facts, &Thresholds::default());
        assert_eq!(findings[0].code, "selector.matches-nothing", "{findings:#?}");
        assert!(findings.windows(2).all(|w| w[0].severity >= w[1].severity));
        assert!(findings.iter().all(|f| !f.evidence.is_empty()), "{findings:#?}");
        assert!(findings.iter().any(|f| f.code == "selector.likely-typo"));
    }

    #[test]
    fn a_full_crash_loop_puts_the_crash_loop_first() {
        let mut f = mk_healthy();
        for (pod, e) in f.pods.iter_mut().zip(&mut f.slices[0].endpoints) {
            pod.ready = false;
            e.ready = false;
            let c = &mut pod.containers[0];
            c.ready = false;
            c.waiting_reason = Some("CrashLoopBackOff".into());
            c.last_termination_reason = Some("OOMKilled".into());
        }
        let findings = diagnose(&f, &Thresholds::default());
        let codes: Vec<_> = findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["pods.crash-loop", "pods.oom-killed"], "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Critical);
    }

    #[test]
    fn risks_sort_below_partial_outages_of_the_same_severity() {
        let mut f = mk_healthy();
        f.pdbs[0].disruptions_allowed = 0;
        f.nodes[0].ready = false;
        let codes: Vec<_> = diagnose(&f, &Thresholds::default()).iter().map(|f| f.code).collect();
        assert_eq!(codes, ["pods.node-not-ready", "risk.pdb-no-disruption"]);
    }

    #[test]
    fn thresholds_are_configurable() {
        let mut f = mk_healthy();
        f.metrics.as_mut().unwrap().error_rate = Some(0.02);
        assert!(diagnose(&f, &Thresholds::default()).is_empty());
        let strict = Thresholds { error_rate: 0.01, ..Thresholds::default() };
        assert_eq!(diagnose(&f, &strict)[0].code, "risk.error-rate");
    }

    #[test]
    fn severity_is_ordered() {
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
        assert_eq!(Severity::Critical.to_string(), "critical");
    }
}
