//! What the Service page's doctor reads from Prometheus besides the rates: the p99 latency and who calls the
//! Service. Every query is scoped to the Service's namespace by [`promql::scoped`], for a person who may list
//! Services there, and goes through the client's cache; the answers are mapped by the pure functions below.
//!
//! ```text
//! service_facts(who, cluster, ns, svc, now)
//!   ├─ access: may `who` list services in ns?            no ─► nothing known, no query
//!   ├─ source: preset or templates (detection cached)
//!   ├─ p99:     source.latency_query(0.99, 5m), instant ─┐ promql::scoped(ns) ─► prom.query (cached)
//!   └─ callers: source.callers_query(5m), instant       ─┘ (Istio only: other sources name no callers)
//!   ─► p99_ms(answer), callers_from(answer)
//! ```
//!
//! The callers' namespaces come from the answer, not from the person's access: the Service page looks each
//! caller's workload up as the person ([`crate::service_page::doctor_metrics`]) and leaves out those it may
//! not read.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Metrics,
    client::{Detected, Eval, PromSeries, QueryError},
    presets::{CallersQuery, Target},
    promql::{KubeName, NamespaceScope, ScopeLabel, scoped},
};
use crate::{
    access::{self, Access},
    fleet::{Cluster, Impersonation},
};

/// The rate window of the doctor's p99 and callers.
pub const WINDOW: &str = "5m";

/// The latency quantile the doctor reads.
pub const P99: &str = "0.99";

/// At most this many callers are kept (the busiest): each one costs a workload lookup in its namespace.
pub const MAX_CALLERS: usize = 20;

/// A calling workload, as the request metrics name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Caller {
    /// Its namespace.
    pub namespace: String,
    /// Its workload's name (a Deployment, StatefulSet or DaemonSet, as the mesh names workloads).
    pub workload: String,
}

/// What Prometheus told about one Service, beyond its rates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceFacts {
    /// p99 latency over [`WINDOW`], in milliseconds; `None` without requests or an answer.
    pub p99_ms: Option<f64>,
    /// The workloads that sent requests over [`WINDOW`], by namespace then name; empty where the source does
    /// not name callers.
    pub callers: Vec<Caller>,
}

/// The p99 latency and the callers of `namespace/name` in cluster `c`, as `who` may see them (nothing unless
/// they may list Services in `namespace`). `now` is unix seconds. Any failure gives nothing for that part
/// (logged): the doctor then says nothing about it. The caller bounds the time.
pub async fn service_facts(
    c: &Cluster,
    access: &Access,
    metrics: &Metrics,
    who: &Impersonation,
    namespace: &str,
    name: &str,
    now: i64,
) -> ServiceFacts {
    let cluster = c.name();
    let (Ok(ns), Ok(svc)) = (KubeName::new("namespace", namespace), KubeName::new("service", name)) else {
        return ServiceFacts::default();
    };
    let Some(prom) = metrics.get(cluster) else { return ServiceFacts::default() };
    if !access.allowed(who, cluster, "list", access::SERVICES, Some(ns.as_str())).await.unwrap_or(false) {
        return ServiceFacts::default();
    }
    let source = match prom.source(c, who, now).await {
        Ok(Detected::Source(s)) => s,
        Ok(Detected::Nothing { .. }) => return ServiceFacts::default(),
        Err(e) => {
            tracing::debug!(cluster, error = %e, "no metrics source for the doctor");
            return ServiceFacts::default();
        }
    };
    let target = Target { namespace: &ns, service: &svc, pods: &[] };
    let scope = NamespaceScope::Only(BTreeSet::from([ns.to_string()]));
    // Aligned like the rate column, so that page loads within 15 s share the cached answers.
    let at = Eval::Instant(now - now.rem_euclid(15));
    let run = |query: String, label: ScopeLabel| {
        let scope = &scope;
        async move {
            let q = scoped(&query, scope, &label)?;
            prom.query(c, who, &q, at).await
        }
    };
    // Custom latency templates that filter by `{pod}` get no pods here (they are not known yet), so they
    // match nothing and give no p99: nothing is said rather than something wrong.
    let p99 = run(source.latency_query(&target, WINDOW, P99), source.scope_label());
    let callers = async {
        match source.callers_query(&target, WINDOW) {
            Some(q) => run(q.query.clone(), q.scope.clone()).await.map(|answer| callers_from(&answer, &q)),
            None => Ok(Vec::new()),
        }
    };
    let (p99, callers) = tokio::join!(p99, callers);
    let log = |what: &str, e: &QueryError| tracing::debug!(cluster, error = %e, "no {what} for the doctor");
    ServiceFacts {
        p99_ms: p99.inspect_err(|e| log("p99 latency", e)).ok().and_then(|a| p99_ms(&a)),
        callers: callers.inspect_err(|e| log("callers", e)).unwrap_or_default(),
    }
}

/// The p99 latency in milliseconds from the answer to [`super::presets::Source::latency_query`] (seconds,
/// labelled `quantile="0.99"`). `None` without such a series or with a negative value. Pure.
pub fn p99_ms(answer: &[PromSeries]) -> Option<f64> {
    answer
        .iter()
        .find(|s| s.labels.get("quantile").map(String::as_str) == Some(P99))
        .and_then(|s| s.points.last())
        .map(|(_, seconds)| seconds * 1000.0)
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
}

/// The callers in the answer to `q`: series naming both a workload and its namespace (Istio's `unknown`, an
/// empty label or a value that is no Kubernetes name is no caller) with requests in the window; the
/// [`MAX_CALLERS`] busiest, by namespace then name. Pure.
pub fn callers_from(answer: &[PromSeries], q: &CallersQuery) -> Vec<Caller> {
    let mut rates: BTreeMap<Caller, f64> = BTreeMap::new();
    for s in answer {
        let (Some(workload), Some(namespace), Some((_, rate))) =
            (s.labels.get(&q.workload_label), s.labels.get(&q.namespace_label), s.points.last())
        else {
            continue;
        };
        let named = |v: &str| v != "unknown" && KubeName::new("workload", v).is_ok();
        if *rate > 0.0 && named(workload) && named(namespace) {
            *rates.entry(Caller { namespace: namespace.clone(), workload: workload.clone() }).or_default() +=
                rate;
        }
    }
    let mut busiest: Vec<(Caller, f64)> = rates.into_iter().collect();
    busiest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    busiest.truncate(MAX_CALLERS);
    let mut callers: Vec<Caller> = busiest.into_iter().map(|(c, _)| c).collect();
    callers.sort();
    callers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{
        client::parse_answer,
        presets::{Preset, Source},
    };

    fn istio_callers() -> CallersQuery {
        let ns = KubeName::new("namespace", "team-a").unwrap();
        let svc = KubeName::new("service", "checkout").unwrap();
        Source::Preset(Preset::Istio)
            .callers_query(&Target { namespace: &ns, service: &svc, pods: &[] }, WINDOW)
            .unwrap()
    }

    #[test]
    fn p99_is_the_labelled_quantile_in_milliseconds() {
        let answer = parse_answer(
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"quantile":"0.99"},"value":[1700000000,"0.18"]}]}}"#,
        )
        .unwrap();
        let ms = p99_ms(&answer).unwrap();
        assert!((ms - 180.0).abs() < 1e-9, "{ms}");
        // No requests in the window: histogram_quantile gives NaN, which the client drops.
        let idle = parse_answer(
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"quantile":"0.99"},"value":[1700000000,"NaN"]}]}}"#,
        )
        .unwrap();
        assert_eq!(p99_ms(&idle), None);
        let other = parse_answer(
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"quantile":"0.5"},"value":[1700000000,"0.04"]}]}}"#,
        )
        .unwrap();
        assert_eq!(p99_ms(&other), None, "only the 0.99 series counts");
        assert_eq!(p99_ms(&[]), None);
    }

    #[test]
    fn callers_name_a_workload_and_its_namespace() {
        let answer = parse_answer(
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"source_workload":"frontend","source_workload_namespace":"team-a"},"value":[1,"119.8"]},
                {"metric":{"source_workload":"batch","source_workload_namespace":"team-c"},"value":[1,"0.5"]},
                {"metric":{"source_workload":"unknown","source_workload_namespace":"unknown"},"value":[1,"3"]},
                {"metric":{"source_workload":"istio-ingressgateway"},"value":[1,"2"]},
                {"metric":{"source_workload":"idle","source_workload_namespace":"team-a"},"value":[1,"0"]},
                {"metric":{"source_workload":"Bad_Name","source_workload_namespace":"team-a"},"value":[1,"1"]}]}}"#,
        )
        .unwrap();
        let callers = callers_from(&answer, &istio_callers());
        let named: Vec<(&str, &str)> =
            callers.iter().map(|c| (c.namespace.as_str(), c.workload.as_str())).collect();
        assert_eq!(named, [("team-a", "frontend"), ("team-c", "batch")]);
    }

    #[test]
    fn only_the_busiest_callers_are_kept() {
        let answer: Vec<PromSeries> = (0..MAX_CALLERS + 5)
            .map(|i| PromSeries {
                labels: [
                    ("source_workload".to_owned(), format!("w{i:02}")),
                    ("source_workload_namespace".to_owned(), "team-a".to_owned()),
                ]
                .into(),
                #[allow(clippy::cast_precision_loss)] // Small test numbers.
                points: vec![(1, (i + 1) as f64)],
            })
            .collect();
        let callers = callers_from(&answer, &istio_callers());
        assert_eq!(callers.len(), MAX_CALLERS);
        assert_eq!(callers[0].workload, "w05", "the five least busy are left out");
    }
}
