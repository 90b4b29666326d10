//! "Can A reach B" for one person: parse the question, read what it needs as that person through
//! [`crate::read`], and let [`crate::reach`] answer.
//!
//! ```text
//! ReachRequest ─► reach::parse_question (400 on bad input, no cluster round trip)
//!   ├─ Services, pods, NetworkPolicies of the Service's namespace   read::list_in, as the person
//!   ├─ pods and NetworkPolicies of the source's namespace           read::list_in, as the person
//!   └─ labels of both namespaces                                    read::namespace_labels, as the person
//!   └─► anything forbidden: "cannot tell", naming what is not readable (never a guess)
//!   └─► reach::answer ─► ReachAnswer
//! ```

use std::sync::Arc;

use fleetpane_app::model::reach::{ReachAnswer, ReachRequest, Reachability};

use crate::{
    access::Access,
    fleet::{Fleet, Impersonation},
    reach::{self, Endpoint, Evidence, QuestionError, Source, pod_endpoint},
    read::{self, Kind, Listed},
    watch::{
        Caches,
        rows::{NetworkPolicyRow, PodRow, ServiceRow},
    },
};

/// Why the question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The question is malformed, or names something that does not exist (400).
    #[error(transparent)]
    Question(#[from] QuestionError),
    /// The question names something that is not there (400, with what).
    #[error("{0}")]
    NotThere(String),
    /// A read failed.
    #[error(transparent)]
    Read(#[from] read::Error),
}

impl Error {
    /// Whether the person's input is at fault (HTTP 400) rather than the server or a cluster.
    pub fn is_bad_request(&self) -> bool {
        match self {
            Self::Question(_) | Self::NotThere(_) => true,
            Self::Read(read::Error::UnknownCluster(_)) => true,
            Self::Read(_) => false,
        }
    }
}

/// What the reads found, and what they could not read.
struct Reads<'a> {
    fleet: &'a Fleet,
    caches: &'a Caches,
    access: &'a Access,
    who: &'a Impersonation,
    cluster: String,
    unreadable: Vec<String>,
}

impl Reads<'_> {
    async fn list<R: Kind>(&mut self, namespace: &str, what: &str) -> Result<Vec<Arc<R>>, Error> {
        match read::list_in::<R>(self.fleet, self.caches, self.access, self.who, &self.cluster, namespace)
            .await?
        {
            Listed::Rows(rows) => Ok(rows),
            Listed::Forbidden => {
                self.unreadable.push(format!("you can't list {what} in {namespace} on {}", self.cluster));
                Ok(Vec::new())
            }
        }
    }

    async fn labels(&mut self, namespace: &str) -> Result<crate::reach::Labels, Error> {
        let (fleet, caches, access, who) = (self.fleet, self.caches, self.access, self.who);
        match read::namespace_labels(fleet, caches, access, who, &self.cluster, namespace).await? {
            Some(labels) => Ok(labels),
            None => {
                self.unreadable.push(format!(
                    "you can't read namespace {namespace} on {} (its labels decide namespaceSelectors)",
                    self.cluster
                ));
                Ok(crate::reach::Labels::new())
            }
        }
    }
}

/// Answers `request` as `who` would see it.
pub async fn answer(
    fleet: &Fleet,
    caches: &Caches,
    access: &Access,
    who: &Impersonation,
    request: &ReachRequest,
) -> Result<ReachAnswer, Error> {
    let q = reach::parse_question(
        &request.cluster,
        &request.from_pod,
        &request.from_namespace,
        &request.from_labels,
        &request.to_service,
        &request.port,
    )?;
    if fleet.get(&q.cluster).is_none() {
        return Err(read::Error::UnknownCluster(q.cluster).into());
    }
    let mut reads = Reads { fleet, caches, access, who, cluster: q.cluster.clone(), unreadable: Vec::new() };
    let services = reads.list::<ServiceRow>(&q.namespace, "Services").await?;
    let service_key = format!("{}/{}", q.namespace, q.service);
    let service = services.iter().find(|s| s.name == q.service).cloned();
    if service.is_none() && reads.unreadable.is_empty() {
        return Err(Error::NotThere(format!("no Service {service_key} in cluster {}", q.cluster)));
    }
    let dest_pods = reads.list::<PodRow>(&q.namespace, "pods").await?;
    let dest_policies = reads.list::<NetworkPolicyRow>(&q.namespace, "NetworkPolicies").await?;
    let dest_labels = reads.labels(&q.namespace).await?;
    let source_ns = q.source.namespace().to_owned();
    let same_ns = source_ns == q.namespace;
    let (source_pods, source_policies, source_labels) = if same_ns {
        (dest_pods.clone(), Vec::new(), dest_labels.clone())
    } else {
        let pods = match &q.source {
            Source::Pod { .. } => reads.list::<PodRow>(&source_ns, "pods").await?,
            Source::Labels { .. } => Vec::new(),
        };
        let policies = reads.list::<NetworkPolicyRow>(&source_ns, "NetworkPolicies").await?;
        (pods, policies, reads.labels(&source_ns).await?)
    };
    let source = match &q.source {
        Source::Pod { namespace, name } => {
            match source_pods.iter().find(|p| p.name == *name) {
                Some(pod) => pod_endpoint(pod, &source_labels),
                None if reads.unreadable.is_empty() => {
                    return Err(Error::NotThere(format!(
                        "no pod {namespace}/{name} in cluster {}",
                        q.cluster
                    )));
                }
                // Not readable: the answer says so below.
                None => {
                    Endpoint { namespace: namespace.clone(), name: Some(name.clone()), ..Default::default() }
                }
            }
        }
        Source::Labels { namespace, labels } => Endpoint {
            namespace: namespace.clone(),
            name: None,
            labels: labels.clone(),
            namespace_labels: source_labels,
            ip: None,
            ports: Vec::new(),
        },
    };
    let Some(service) = service.filter(|_| reads.unreadable.is_empty()) else {
        return Ok(ReachAnswer {
            verdict: Reachability::Unknown,
            summary: format!("Cannot tell: Fleetpane would have to guess ({})", reads.unreadable.join("; ")),
            source: source.display(),
            destination: format!("{service_key} port {}", q.port),
            pods: Vec::new(),
            unreadable: reads.unreadable,
            notes: Vec::new(),
        });
    };
    let port = reach::service_port(&service, &q.port)?;
    let evidence = Evidence {
        source,
        service: &service,
        port,
        pods: dest_pods.iter().map(|p| &**p).collect(),
        namespace_labels: dest_labels,
        policies: dest_policies.iter().chain(&source_policies).map(|p| &**p).collect(),
    };
    Ok(reach::answer(&evidence))
}
