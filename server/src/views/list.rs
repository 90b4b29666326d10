//! The fleet Services list: search, grouping across clusters with drift, sorting and paging, on the server.
//!
//! # Search grammar
//! The search text is a list of whitespace-separated terms; a row must satisfy every term (AND).
//!
//! | term                         | matches                                                              |
//! |------------------------------|----------------------------------------------------------------------|
//! | `word`                       | name or namespace contains `word` (case-insensitive)                 |
//! | `ns/name`                    | namespace is `ns` and name contains `name` (`ns/` alone: namespace)   |
//! | `key=value`, `key==value`    | the Service's label `key` equals `value`                             |
//! | `key!=value`                 | label `key` is absent or differs (kubectl semantics)                 |
//! | `a=b,c!=d`                   | several label terms at once, like `kubectl -l`                        |
//! | `ns:team-a` (`namespace:`)   | namespace is exactly `team-a`                                        |
//! | `cluster:prod-eu`            | in cluster `prod-eu`                                                 |
//! | `type:LoadBalancer`          | type, case-insensitive; `type:headless` for `clusterIP: None`        |
//! | `health:failing`             | health: `failing`, `degraded`, `pending`, `unknown`, `serving`, `external` |
//!
//! A filter's values may be comma-separated (`cluster:prod-eu,prod-us`), and repeating a filter adds values:
//! both mean "any of". An unknown `prefix:` or an empty value is an error, so a typo never silently matches all.
//!
//! # Filter dropdowns
//! The list page's dropdowns arrive as separate URL parameters (`cluster=`, `namespace=`, `type=`, `health=`)
//! and are folded into the same [`Query`] by [`Query::from_request`], so they AND with the search text. Each
//! is checked: an unknown cluster, a namespace that is not a DNS label, an unknown type or health is a
//! [`QueryError`] (HTTP 400). Their options come from [`facets`], computed over what the person may see.
//!
//! A group (one namespace/name across clusters) is shown when any of its copies matches; it is shown with all
//! its copies, so drift stays visible.
//!
//! # Cost
//! Grouping sorts an index of `u32`, filtering and sorting borrow the rows, and only the page's rows are turned
//! into owned wire rows: a 50k-row fleet allocates a handful of vectors, not one per row.

use std::cmp::Ordering;

use fleetpane_app::model::services::{
    ClusterCopy, DriftField, Facet, Health, ServiceFacets, ServiceListPage, ServiceListRequest,
    ServiceListRow, SortColumn, check_path_part,
};

use super::{EndpointCounts, assess, count_endpoints, is_headless, ports_text};
use crate::watch::rows::{EndpointSliceRow, ServiceRow};

/// Why a search text was refused; the message is shown under the search box.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `foo:bar` with an unknown `foo`.
    #[error("unknown filter \"{0}:\" (use ns:, cluster:, type: or health:)")]
    UnknownFilter(String),
    /// `ns:` with nothing after it.
    #[error("\"{0}:\" needs a value")]
    EmptyValue(String),
    /// `health:` with a value that is not a health.
    #[error("unknown health \"{0}\" (use failing, degraded, pending, unknown, serving or external)")]
    UnknownHealth(String),
    /// `=value` or `!=` without a key.
    #[error("label selector \"{0}\" needs a key")]
    BadSelector(String),
    /// `?cluster=` names no configured cluster.
    #[error("unknown cluster \"{0}\"")]
    UnknownCluster(String),
    /// `?namespace=` is not a namespace name.
    #[error("bad namespace filter: {0}")]
    BadNamespace(String),
    /// `?type=` is not a Service type.
    #[error("unknown type \"{0}\" (use ClusterIP, NodePort, LoadBalancer, ExternalName or headless)")]
    UnknownType(String),
}

/// The values the `type` dropdown accepts (compared case-insensitively).
pub const SERVICE_TYPES: [&str; 5] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "headless"];

/// One label term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelTerm {
    /// Label key.
    pub key: String,
    /// Label value.
    pub value: String,
    /// `!=`.
    pub negated: bool,
}

/// A parsed search. Empty lists constrain nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Free words (lowercase), each a substring of the name or the namespace.
    pub words: Vec<String>,
    /// `ns/name` terms: exact namespace, name substring (may be empty).
    pub paths: Vec<(String, String)>,
    /// Label terms, all must hold.
    pub labels: Vec<LabelTerm>,
    /// Any of these namespaces.
    pub namespaces: Vec<String>,
    /// Any of these clusters.
    pub clusters: Vec<String>,
    /// Any of these types (as typed; compared case-insensitively).
    pub types: Vec<String>,
    /// Any of these healths.
    pub health: Vec<Health>,
}

impl Query {
    /// Parses a search text (see the module docs).
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let mut q = Self::default();
        for token in text.split_whitespace() {
            if let Some((prefix, values)) = token.split_once(':') {
                let prefix = prefix.to_ascii_lowercase();
                let values = values.split(',').filter(|v| !v.is_empty());
                match prefix.as_str() {
                    "ns" | "namespace" => q.namespaces.extend(values.map(str::to_ascii_lowercase)),
                    "cluster" => q.clusters.extend(values.map(str::to_ascii_lowercase)),
                    "type" => q.types.extend(values.map(str::to_owned)),
                    "health" => {
                        for v in values {
                            q.health.push(
                                Health::parse(v).ok_or_else(|| QueryError::UnknownHealth(v.to_owned()))?,
                            );
                        }
                    }
                    _ => return Err(QueryError::UnknownFilter(prefix)),
                }
                if !token.split_once(':').is_some_and(|(_, v)| v.split(',').any(|v| !v.is_empty())) {
                    return Err(QueryError::EmptyValue(prefix));
                }
            } else if token.contains('=') {
                for part in token.split(',').filter(|p| !p.is_empty()) {
                    let (key, value, negated) = if let Some((k, v)) = part.split_once("!=") {
                        (k, v, true)
                    } else if let Some((k, v)) = part.split_once("==") {
                        (k, v, false)
                    } else if let Some((k, v)) = part.split_once('=') {
                        (k, v, false)
                    } else {
                        return Err(QueryError::BadSelector(part.to_owned()));
                    };
                    if key.is_empty() {
                        return Err(QueryError::BadSelector(part.to_owned()));
                    }
                    q.labels.push(LabelTerm { key: key.to_owned(), value: value.to_owned(), negated });
                }
            } else if let Some((ns, name)) = token.split_once('/') {
                q.paths.push((ns.to_ascii_lowercase(), name.to_ascii_lowercase()));
            } else {
                q.words.push(token.to_ascii_lowercase());
            }
        }
        Ok(q)
    }

    /// Parses the request's search text and folds in its dropdown parameters (empty ones constrain nothing).
    /// `clusters` are the configured cluster names a `cluster=` value must be one of.
    pub fn from_request(request: &ServiceListRequest, clusters: &[&str]) -> Result<Self, QueryError> {
        let mut q = Self::parse(&request.q)?;
        let cluster = request.cluster.trim();
        if !cluster.is_empty() {
            let known = clusters
                .iter()
                .find(|c| c.eq_ignore_ascii_case(cluster))
                .ok_or_else(|| QueryError::UnknownCluster(cluster.to_owned()))?;
            q.clusters.push(known.to_ascii_lowercase());
        }
        let namespace = request.namespace.trim();
        if !namespace.is_empty() {
            check_path_part("namespace", namespace).map_err(QueryError::BadNamespace)?;
            q.namespaces.push(namespace.to_ascii_lowercase());
        }
        let type_ = request.type_.trim();
        if !type_.is_empty() {
            let known = SERVICE_TYPES
                .iter()
                .find(|t| t.eq_ignore_ascii_case(type_))
                .ok_or_else(|| QueryError::UnknownType(type_.to_owned()))?;
            q.types.push((*known).to_owned());
        }
        let health = request.health.trim();
        if !health.is_empty() {
            q.health.push(Health::parse(health).ok_or_else(|| QueryError::UnknownHealth(health.to_owned()))?);
        }
        Ok(q)
    }

    /// Whether one copy matches. Allocation-free.
    pub fn matches(&self, e: &ServiceEntry<'_>) -> bool {
        let s = e.service;
        self.words.iter().all(|w| s.name.contains(w.as_str()) || s.namespace.contains(w.as_str()))
            && self.paths.iter().all(|(ns, name)| s.namespace == *ns && s.name.contains(name.as_str()))
            && self.labels.iter().all(|l| (s.labels.get(&l.key) == Some(&l.value)) != l.negated)
            && (self.namespaces.is_empty() || self.namespaces.contains(&s.namespace))
            && (self.clusters.is_empty() || self.clusters.iter().any(|c| c == e.cluster))
            && (self.types.is_empty()
                || self.types.iter().any(|t| {
                    t.eq_ignore_ascii_case(&s.type_) || (t.eq_ignore_ascii_case("headless") && is_headless(s))
                }))
            && (self.health.is_empty() || self.health.contains(&e.health))
    }
}

/// One Service in one cluster, with its endpoint counts and health, ready to be listed.
#[derive(Clone, Copy, Debug)]
pub struct ServiceEntry<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// The Service.
    pub service: &'a ServiceRow,
    /// Its endpoint counts; `None` when the person may not read EndpointSlices there.
    pub endpoints: Option<EndpointCounts>,
    /// Its health.
    pub health: Health,
}

impl<'a> ServiceEntry<'a> {
    /// Judges the Service.
    pub fn new(cluster: &'a str, service: &'a ServiceRow, endpoints: Option<EndpointCounts>) -> Self {
        Self { cluster, service, endpoints, health: assess(service, endpoints, None).health() }
    }
}

/// Appends one cluster's entries to `out`. `slices` is `None` when the person may not read EndpointSlices in
/// that cluster (health then is unknown); slices are matched to Services by namespace and service label.
pub fn cluster_entries<'a, S, E>(
    cluster: &'a str,
    services: S,
    slices: Option<E>,
    out: &mut Vec<ServiceEntry<'a>>,
) where
    S: IntoIterator<Item = &'a ServiceRow>,
    E: IntoIterator<Item = &'a EndpointSliceRow>,
{
    let Some(slices) = slices else {
        out.extend(services.into_iter().map(|s| ServiceEntry::new(cluster, s, None)));
        return;
    };
    // Sorted by (namespace, service) so each Service finds its slices by binary search, no map of vectors.
    let mut slices: Vec<&EndpointSliceRow> = slices.into_iter().filter(|s| s.service.is_some()).collect();
    let key = |s: &&'a EndpointSliceRow| (s.namespace.as_str(), s.service.as_deref().unwrap_or(""));
    slices.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    for svc in services {
        let want = (svc.namespace.as_str(), svc.name.as_str());
        let start = slices.partition_point(|s| key(s) < want);
        let end = start + slices[start..].partition_point(|s| key(s) == want);
        out.push(ServiceEntry::new(cluster, svc, Some(count_endpoints(&slices[start..end]))));
    }
}

struct Group {
    /// Range into the sorted index.
    start: usize,
    end: usize,
    health: Health,
    ready: u32,
    total: u32,
}

fn counts(e: &ServiceEntry<'_>) -> EndpointCounts {
    e.endpoints.unwrap_or_default()
}

fn first_port(e: &ServiceEntry<'_>) -> i32 {
    e.service.ports.first().map_or(i32::MAX, |p| p.port)
}

/// The dropdowns' options over `entries` (all the Services the person may see, before the search): every
/// configured cluster in `clusters` order, then the namespaces, types and healths present. Each count is the
/// number of namespace/name groups with at least one copy having the value, as the list counts rows.
pub fn facets(entries: &[ServiceEntry<'_>], clusters: &[&str]) -> ServiceFacets {
    use std::collections::{BTreeMap, BTreeSet};
    let mut by_cluster: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    let mut by_namespace: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut by_type: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    let mut by_health: BTreeMap<Health, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for e in entries {
        let key = (e.service.namespace.as_str(), e.service.name.as_str());
        by_cluster.entry(e.cluster).or_default().insert(key);
        by_namespace.entry(key.0).or_default().insert(key.1);
        by_type.entry(e.service.type_.as_str()).or_default().insert(key);
        if is_headless(e.service) {
            by_type.entry("headless").or_default().insert(key);
        }
        by_health.entry(e.health).or_default().insert(key);
    }
    let facet = |value: &str, count: usize| Facet { value: value.to_owned(), count };
    ServiceFacets {
        clusters: clusters.iter().map(|c| facet(c, by_cluster.get(c).map_or(0, BTreeSet::len))).collect(),
        namespaces: by_namespace.iter().map(|(ns, names)| facet(ns, names.len())).collect(),
        types: by_type.iter().filter(|(t, _)| !t.is_empty()).map(|(t, keys)| facet(t, keys.len())).collect(),
        health: by_health.iter().map(|(h, keys)| facet(h.as_str(), keys.len())).collect(),
    }
}

/// Searches (with `query`, from [`Query::from_request`]), groups, sorts and pages `entries` (all the Services
/// the person may see, any order).
pub fn list(
    entries: &[ServiceEntry<'_>],
    query: &Query,
    request: &ServiceListRequest,
) -> Result<ServiceListPage, QueryError> {
    let mut index: Vec<u32> = (0..u32::try_from(entries.len()).unwrap_or(u32::MAX)).collect();
    let at = |i: u32| &entries[i as usize];
    index.sort_unstable_by(|&a, &b| {
        let (a, b) = (at(a), at(b));
        (a.service.namespace.as_str(), a.service.name.as_str(), a.cluster).cmp(&(
            b.service.namespace.as_str(),
            b.service.name.as_str(),
            b.cluster,
        ))
    });

    let mut groups: Vec<Group> = Vec::new();
    let mut fleet_total = 0;
    let mut start = 0;
    while start < index.len() {
        let first = at(index[start]).service;
        let mut end = start + 1;
        while end < index.len() && {
            let s = at(index[end]).service;
            s.namespace == first.namespace && s.name == first.name
        } {
            end += 1;
        }
        fleet_total += 1;
        let copies = &index[start..end];
        if copies.iter().any(|&i| query.matches(at(i))) {
            groups.push(Group {
                start,
                end,
                health: copies.iter().map(|&i| at(i).health).min().unwrap_or(Health::Unknown),
                ready: copies.iter().map(|&i| counts(at(i)).ready).sum(),
                total: copies.iter().map(|&i| counts(at(i)).total).sum(),
            });
        }
        start = end;
    }

    // Groups are in (namespace, name) order; a stable sort on the column keeps that as the tie-break.
    let head = |g: &Group| at(index[g.start]);
    let primary = |a: &Group, b: &Group| -> Ordering {
        match request.sort {
            SortColumn::Health => a.health.cmp(&b.health),
            SortColumn::Name => a_name(head(a)).cmp(a_name(head(b))),
            SortColumn::Namespace => Ordering::Equal,
            SortColumn::Cluster => head(a).cluster.cmp(head(b).cluster),
            SortColumn::Type => head(a).service.type_.cmp(&head(b).service.type_),
            SortColumn::Ports => first_port(head(a)).cmp(&first_port(head(b))),
            SortColumn::Ready => a.ready.cmp(&b.ready),
            SortColumn::Endpoints => a.total.cmp(&b.total),
        }
    };
    if request.desc && request.sort == SortColumn::Namespace {
        groups.reverse();
    } else if request.desc {
        groups.sort_by(|a, b| primary(b, a));
    } else if request.sort != SortColumn::Namespace {
        groups.sort_by(primary);
    }

    let limit = request.limit.clamp(1, ServiceListRequest::MAX_LIMIT);
    let offset = request.offset.min(groups.len());
    let rows = groups[offset..(offset + limit).min(groups.len())]
        .iter()
        .map(|g| list_row(g, index[g.start..g.end].iter().map(|&i| at(i))))
        .collect();
    Ok(ServiceListPage {
        rows,
        total: groups.len(),
        fleet_total,
        offset,
        limit,
        unavailable: Vec::new(),
        facets: ServiceFacets::default(),
    })
}

fn a_name<'a>(e: &ServiceEntry<'a>) -> &'a str {
    &e.service.name
}

fn list_row<'a>(g: &Group, copies: impl Iterator<Item = &'a ServiceEntry<'a>> + Clone) -> ServiceListRow {
    let mut iter = copies.clone();
    let Some(first) = iter.next() else {
        return ServiceListRow {
            health: g.health,
            verdict: String::new(),
            namespace: String::new(),
            name: String::new(),
            clusters: Vec::new(),
            differs: false,
            drift: Vec::new(),
            type_: String::new(),
            ports: String::new(),
            ready: 0,
            total: 0,
        };
    };
    let f = first.service;
    let mut drift = Vec::new();
    if iter.clone().any(|e| e.service.type_ != f.type_) {
        drift.push(DriftField::Type);
    }
    if iter.clone().any(|e| e.service.ports != f.ports) {
        drift.push(DriftField::Ports);
    }
    if iter.clone().any(|e| e.service.selector != f.selector) {
        drift.push(DriftField::Selector);
    }
    let several = iter.next().is_some();
    let worst = copies.clone().min_by_key(|e| e.health).unwrap_or(first);
    let text = assess(worst.service, worst.endpoints, None).text();
    ServiceListRow {
        health: g.health,
        verdict: if several { format!("{}: {text}", worst.cluster) } else { text },
        namespace: f.namespace.clone(),
        name: f.name.clone(),
        clusters: copies
            .map(|e| ClusterCopy {
                cluster: e.cluster.to_owned(),
                type_: e.service.type_.clone(),
                ports: ports_text(&e.service.ports),
                ready: counts(e).ready,
                total: counts(e).total,
                health: e.health,
            })
            .collect(),
        differs: !drift.is_empty(),
        drift,
        type_: f.type_.clone(),
        ports: ports_text(&f.ports),
        ready: g.ready,
        total: g.total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::tests::{labels, mk_endpoint, mk_service, mk_slice};

    fn req(q: &str) -> ServiceListRequest {
        ServiceListRequest { q: q.to_owned(), ..Default::default() }
    }

    const CLUSTERS: [&str; 3] = ["prod-eu", "prod-us", "staging"];

    fn list_req(
        entries: &[ServiceEntry<'_>],
        request: &ServiceListRequest,
    ) -> Result<ServiceListPage, QueryError> {
        list(entries, &Query::from_request(request, &CLUSTERS)?, request)
    }

    fn names(page: &ServiceListPage) -> Vec<String> {
        page.rows.iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect()
    }

    #[test]
    fn parses_the_grammar() {
        let q = Query::parse("check shop/cart app=web,tier!=db env==prod ns:team-a,team-b cluster:prod-eu type:LoadBalancer health:failing,ok")
            .unwrap();
        assert_eq!(q.words, ["check"]);
        assert_eq!(q.paths, [("shop".to_owned(), "cart".to_owned())]);
        assert_eq!(
            q.labels,
            [
                LabelTerm { key: "app".into(), value: "web".into(), negated: false },
                LabelTerm { key: "tier".into(), value: "db".into(), negated: true },
                LabelTerm { key: "env".into(), value: "prod".into(), negated: false },
            ]
        );
        assert_eq!(q.namespaces, ["team-a", "team-b"]);
        assert_eq!(q.clusters, ["prod-eu"]);
        assert_eq!(q.types, ["LoadBalancer"]);
        assert_eq!(q.health, [Health::NotServing, Health::Serving]);
        assert_eq!(Query::parse("  ").unwrap(), Query::default());
        assert_eq!(Query::parse("foo:bar"), Err(QueryError::UnknownFilter("foo".into())));
        assert_eq!(Query::parse("ns:"), Err(QueryError::EmptyValue("ns".into())));
        assert_eq!(Query::parse("health:meh"), Err(QueryError::UnknownHealth("meh".into())));
        assert_eq!(Query::parse("=x"), Err(QueryError::BadSelector("=x".into())));
    }

    struct Fleet {
        services: Vec<(&'static str, ServiceRow)>,
        slices: Vec<(&'static str, EndpointSliceRow)>,
    }

    impl Fleet {
        fn entries(&self) -> Vec<ServiceEntry<'_>> {
            let mut out = Vec::new();
            for cluster in ["prod-eu", "prod-us", "staging"] {
                cluster_entries(
                    cluster,
                    self.services.iter().filter(|(c, _)| *c == cluster).map(|(_, s)| s),
                    Some(self.slices.iter().filter(|(c, _)| *c == cluster).map(|(_, s)| s)),
                    &mut out,
                );
            }
            out
        }
    }

    fn small_fleet() -> Fleet {
        let checkout = mk_service("shop", "checkout");
        let mut pay_us = mk_service("pay", "payments-api");
        pay_us.ports[0].target_port = Some("9443".into());
        let pay_eu = mk_service("pay", "payments-api");
        let mut search = mk_service("search", "search");
        search.type_ = "LoadBalancer".into();
        let mut team = mk_service("team-a", "web");
        team.labels = labels(&[("app", "web"), ("tier", "fe")]);
        let ok = |s: &ServiceRow, n: usize| {
            mk_slice(
                s,
                "x",
                "IPv4",
                (0..n).map(|i| mk_endpoint(&format!("10.0.0.{i}"), true, "z1", "p")).collect(),
            )
        };
        let mut half = ok(&pay_us, 3);
        half.endpoints[2].ready = Some(false);
        Fleet {
            slices: vec![
                ("prod-eu", ok(&checkout, 3)),
                ("prod-us", ok(&checkout, 3)),
                ("prod-eu", ok(&pay_eu, 2)),
                ("prod-us", half),
                ("prod-eu", ok(&team, 1)),
            ],
            services: vec![
                ("prod-eu", checkout.clone()),
                ("prod-us", checkout),
                ("prod-eu", pay_eu),
                ("prod-us", pay_us),
                ("staging", search),
                ("prod-eu", team),
            ],
        }
    }

    #[test]
    fn groups_across_clusters_with_drift_and_health_first() {
        let fleet = small_fleet();
        let entries = fleet.entries();
        let page = list_req(&entries, &req("")).unwrap();
        assert_eq!(page.fleet_total, 4);
        assert_eq!(page.total, 4);
        assert_eq!(names(&page), ["search/search", "pay/payments-api", "shop/checkout", "team-a/web"]);
        let search = &page.rows[0];
        assert_eq!(search.health, Health::NotServing);
        assert_eq!(search.verdict, "Not serving: no endpoints");
        let pay = &page.rows[1];
        assert_eq!(pay.health, Health::Degraded);
        assert!(pay.differs);
        assert_eq!(pay.drift, [DriftField::Ports]);
        assert_eq!(pay.verdict, "prod-us: Degraded: 2/3 endpoints ready in 1 zone");
        assert_eq!((pay.ready, pay.total), (4, 5));
        assert_eq!(
            pay.clusters.iter().map(|c| c.cluster.as_str()).collect::<Vec<_>>(),
            ["prod-eu", "prod-us"]
        );
        assert_eq!(pay.clusters[1].ports, "http 80→9443");
        let checkout = &page.rows[2];
        assert!(!checkout.differs && checkout.drift.is_empty());
        assert_eq!((checkout.ready, checkout.total, checkout.ports.as_str()), (6, 6, "http 80→8080"));
        assert_eq!(page.showing(), "showing 4 of 4");
    }

    #[test]
    fn filters() {
        let fleet = small_fleet();
        let entries = fleet.entries();
        let find = |q: &str| names(&list_req(&entries, &req(q)).unwrap());
        assert_eq!(find("check"), ["shop/checkout"]);
        assert_eq!(find("sho"), ["shop/checkout"], "namespace substring");
        assert_eq!(find("pay/pay"), ["pay/payments-api"]);
        assert_eq!(find("pa/pay"), Vec::<String>::new(), "path namespace is exact");
        assert_eq!(find("tier=fe"), ["team-a/web"]);
        assert_eq!(find("app=web tier!=fe"), Vec::<String>::new());
        assert_eq!(find("tier!=fe").len(), 3, "absent label counts as different");
        assert_eq!(find("ns:team-a"), ["team-a/web"]);
        assert_eq!(find("cluster:staging"), ["search/search"]);
        assert_eq!(find("cluster:prod-us,staging").len(), 3);
        assert_eq!(find("type:loadbalancer"), ["search/search"]);
        assert_eq!(find("health:failing"), ["search/search"]);
        assert_eq!(find("health:degraded"), ["pay/payments-api"]);
        assert_eq!(
            find("health:serving cluster:prod-eu"),
            ["pay/payments-api", "shop/checkout", "team-a/web"]
        );
        let page = list_req(&entries, &req("cluster:prod-us pay")).unwrap();
        assert_eq!(page.rows[0].clusters.len(), 2, "a matching group keeps all its copies");
        assert!(list_req(&entries, &req("bogus:1")).is_err());
    }

    #[test]
    fn dropdown_params_fold_into_the_search_and_bad_values_are_refused() {
        let fleet = small_fleet();
        let entries = fleet.entries();
        let with = |f: fn(&mut ServiceListRequest)| {
            let mut r = req("");
            f(&mut r);
            list_req(&entries, &r).map(|p| names(&p))
        };
        assert_eq!(with(|r| r.cluster = "staging".into()).unwrap(), ["search/search"]);
        assert_eq!(with(|r| r.cluster = "Prod-US".into()).unwrap(), ["pay/payments-api", "shop/checkout"]);
        assert_eq!(with(|r| r.namespace = "team-a".into()).unwrap(), ["team-a/web"]);
        assert_eq!(with(|r| r.type_ = "loadbalancer".into()).unwrap(), ["search/search"]);
        assert_eq!(with(|r| r.health = "degraded".into()).unwrap(), ["pay/payments-api"]);
        // Dropdowns AND with the search text and with each other.
        assert_eq!(
            with(|r| {
                r.q = "pay".into();
                r.cluster = "prod-eu".into();
            })
            .unwrap(),
            ["pay/payments-api"]
        );
        assert_eq!(
            with(|r| {
                r.cluster = "staging".into();
                r.type_ = "ClusterIP".into();
            })
            .unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(with(|r| r.cluster = "  ".into()).unwrap().len(), 4, "blank means any");

        assert_eq!(with(|r| r.cluster = "mars".into()), Err(QueryError::UnknownCluster("mars".into())));
        assert_eq!(
            with(|r| r.namespace = "Team_A".into()),
            Err(QueryError::BadNamespace(
                "namespace \"Team_A\" may hold only lowercase letters, digits and '-'".into()
            ))
        );
        assert_eq!(with(|r| r.type_ = "Ingress".into()), Err(QueryError::UnknownType("Ingress".into())));
        assert_eq!(with(|r| r.health = "meh".into()), Err(QueryError::UnknownHealth("meh".into())));
        assert_eq!(
            QueryError::UnknownCluster("mars".into()).to_string(),
            "unknown cluster \"mars\"",
            "the 400's message"
        );
    }

    #[test]
    fn facets_come_from_the_visible_rows_and_count_groups() {
        let fleet = small_fleet();
        let mut entries = fleet.entries();
        let mut headless = mk_service("team-a", "db");
        headless.cluster_ips = vec!["None".into()];
        cluster_entries("staging", [&headless], None::<Vec<&EndpointSliceRow>>, &mut entries);
        let f = facets(&entries, &["prod-eu", "prod-us", "staging", "empty"]);
        let pairs = |v: &[Facet]| v.iter().map(|f| (f.value.clone(), f.count)).collect::<Vec<_>>();
        let p = |v: &[(&str, usize)]| v.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect::<Vec<_>>();
        assert_eq!(
            pairs(&f.clusters),
            p(&[("prod-eu", 3), ("prod-us", 2), ("staging", 2), ("empty", 0)]),
            "configured clusters, in config order, even those without visible Services"
        );
        // checkout is in two clusters but one group.
        assert_eq!(pairs(&f.namespaces), p(&[("pay", 1), ("search", 1), ("shop", 1), ("team-a", 2)]));
        assert_eq!(pairs(&f.types), p(&[("ClusterIP", 4), ("LoadBalancer", 1), ("headless", 1)]));
        assert_eq!(
            pairs(&f.health),
            p(&[("failing", 1), ("degraded", 1), ("unknown", 1), ("serving", 3)]),
            "worst first"
        );

        // A person who sees only team-a gets only team-a as a namespace option.
        let team_a: Vec<ServiceEntry<'_>> =
            entries.iter().copied().filter(|e| e.service.namespace == "team-a").collect();
        let f = facets(&team_a, &CLUSTERS);
        assert_eq!(pairs(&f.namespaces), p(&[("team-a", 2)]));
        assert_eq!(pairs(&f.clusters), p(&[("prod-eu", 1), ("prod-us", 0), ("staging", 1)]));
        assert_eq!(facets(&[], &[]), ServiceFacets::default());
    }

    #[test]
    fn sorts_any_column_both_ways() {
        let fleet = small_fleet();
        let entries = fleet.entries();
        let sorted = |sort, desc| {
            names(&list_req(&entries, &ServiceListRequest { sort, desc, ..Default::default() }).unwrap())
        };
        assert_eq!(
            sorted(SortColumn::Name, false),
            ["shop/checkout", "pay/payments-api", "search/search", "team-a/web"]
        );
        assert_eq!(
            sorted(SortColumn::Namespace, true),
            ["team-a/web", "shop/checkout", "search/search", "pay/payments-api"]
        );
        assert_eq!(sorted(SortColumn::Endpoints, true)[0], "shop/checkout");
        assert_eq!(sorted(SortColumn::Health, true)[0], "shop/checkout", "serving first, ties by namespace");
        assert_eq!(sorted(SortColumn::Type, false)[3], "search/search");
        assert_eq!(sorted(SortColumn::Cluster, true)[0], "search/search");
    }

    #[test]
    fn unreadable_slices_make_health_unknown() {
        let svc = mk_service("ns", "a");
        let mut entries = Vec::new();
        cluster_entries("c", [&svc], None::<Vec<&EndpointSliceRow>>, &mut entries);
        let page = list_req(&entries, &req("")).unwrap();
        assert_eq!(page.rows[0].health, Health::Unknown);
        assert_eq!(page.rows[0].verdict, "Unknown: endpoints not readable");
    }

    #[test]
    fn fifty_thousand_rows() {
        let clusters = ["prod-eu", "prod-us", "staging"];
        let mut services = Vec::new();
        let mut slices = Vec::new();
        for i in 0..50_000u32 {
            let cluster = clusters[(i % 3) as usize];
            // Groups of three: the same namespace/name in the three clusters.
            let mut s = mk_service(&format!("ns-{}", i / 3 % 100), &format!("svc-{}", i / 3));
            s.labels = labels(&[("team", if i % 2 == 0 { "even" } else { "odd" })]);
            let ready = i % 7 != 0;
            if i % 11 == 0 {
                s.type_ = "NodePort".into();
            }
            slices
                .push((cluster, mk_slice(&s, "a", "IPv4", vec![mk_endpoint("10.0.0.1", ready, "z1", "p")])));
            services.push((cluster, s));
        }
        let fleet = Fleet { services, slices };
        let started = std::time::Instant::now();
        let entries = fleet.entries();
        let page =
            list_req(&entries, &ServiceListRequest { offset: 100, limit: 10_000, ..Default::default() })
                .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(entries.len(), 50_000);
        assert_eq!(page.fleet_total, 16_667);
        assert_eq!(page.total, 16_667);
        assert_eq!(page.limit, ServiceListRequest::MAX_LIMIT);
        assert_eq!(page.rows.len(), 500);
        // Not-serving groups (some copy with i % 7 == 0) come first.
        let failing = entries.iter().filter(|e| e.health == Health::NotServing).map(|e| &e.service.name);
        let failing_groups: std::collections::BTreeSet<_> = failing.collect();
        assert!(failing_groups.len() > 600);
        assert!(page.rows.iter().all(|r| r.health == Health::NotServing));
        let drift = list_req(&entries, &req("health:failing")).unwrap();
        assert_eq!(drift.total, failing_groups.len());
        // i % 11 == 0 makes some copies NodePort: those groups drift on type.
        let g = list_req(&entries, &req("ns:ns-0 svc-0")).unwrap();
        let row = g.rows.iter().find(|r| r.name == "svc-0").unwrap();
        assert_eq!(row.drift, [DriftField::Type]);
        assert_eq!(row.clusters.len(), 3);
        let odd = list_req(&entries, &req("team=odd type:nodeport")).unwrap();
        assert!(odd.total > 0 && odd.rows.iter().all(|r| r.clusters.iter().any(|c| c.type_ == "NodePort")));
        let last = list_req(&entries, &ServiceListRequest { offset: 16_660, ..Default::default() }).unwrap();
        assert_eq!(last.rows.len(), 7);
        assert!(!last.has_next());
        // Debug build, shared 2-core machine: generous, but catches a quadratic slip.
        assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    }
}
