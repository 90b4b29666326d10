//! Wire types of "Can A reach B" (`/reach`): the question as the form sends it, and the answer with the
//! deciding NetworkPolicies and rules.

use serde::{Deserialize, Serialize};

/// The question, as the GET form carries it. Empty fields are "not given".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachRequest {
    /// The cluster.
    pub cluster: String,
    /// The source pod as `namespace/name`; or empty, with `from_namespace` and `from_labels`.
    pub from_pod: String,
    /// The source namespace, when the source is namespace + labels.
    pub from_namespace: String,
    /// The source labels, `key=value,key=value` (may be empty: a pod with no labels).
    pub from_labels: String,
    /// The destination Service, `namespace/name`.
    pub to_service: String,
    /// The Service port, by number or name; empty: the Service's only port.
    pub port: String,
}

impl ReachRequest {
    /// Whether the form has been filled in at all (an empty form shows no answer, only the form).
    pub fn is_empty(&self) -> bool {
        self.from_pod.is_empty() && self.from_namespace.is_empty() && self.to_service.is_empty()
    }
}

/// The overall answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    /// Allowed to every backing pod.
    Allowed,
    /// Allowed to some backing pods only.
    Partial,
    /// Denied to every backing pod.
    Denied,
    /// Cannot be decided: something needed is not readable, or the Service has no pods.
    Unknown,
}

impl Reachability {
    /// Short text for the badge.
    pub fn label(self) -> &'static str {
        match self {
            Self::Allowed => "Allowed",
            Self::Partial => "Partly allowed",
            Self::Denied => "Denied",
            Self::Unknown => "Cannot tell",
        }
    }
}

/// A rule that allowed the connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleAnswer {
    /// The policy, `namespace/name`.
    pub policy: String,
    /// The rule's position in the policy's list, from 1.
    pub rule: usize,
    /// The matching peer in words.
    pub peer: String,
    /// The matching port in words.
    pub port: String,
    /// A caveat, when the match depends on implementation-defined behaviour.
    pub caveat: Option<String>,
}

/// One direction of one connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideAnswer {
    /// Allowed in this direction.
    pub allowed: bool,
    /// One line: why.
    pub text: String,
    /// The policies that select the pod for this direction.
    pub isolating: Vec<String>,
    /// The rules that allow it.
    pub rules: Vec<RuleAnswer>,
    /// Remarks.
    pub notes: Vec<String>,
}

/// The answer for one backing pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodAnswer {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// Its IP.
    pub ip: Option<String>,
    /// The destination port on the pod (the Service's targetPort, resolved); `None` when it does not resolve.
    pub port: Option<i32>,
    /// Allowed.
    pub allowed: bool,
    /// Egress of the source.
    pub egress: Option<SideAnswer>,
    /// Ingress of this pod.
    pub ingress: Option<SideAnswer>,
    /// Why it was not evaluated, if it was not (e.g. the named targetPort is not on this pod).
    pub problem: Option<String>,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachAnswer {
    /// Overall.
    pub verdict: Reachability,
    /// One line, e.g. "Allowed to all 2 pods of team-b/inventory on TCP 8080".
    pub summary: String,
    /// The source in words.
    pub source: String,
    /// The destination in words: `ns/name port 80 → targetPort 8080/TCP`.
    pub destination: String,
    /// Per backing pod.
    pub pods: Vec<PodAnswer>,
    /// What could not be read (the reason the answer is [`Reachability::Unknown`], if it is).
    pub unreadable: Vec<String>,
    /// General remarks.
    pub notes: Vec<String>,
}
