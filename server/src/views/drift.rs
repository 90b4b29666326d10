//! Drift: the copies of one namespace/name in several clusters, field by field. Pure.
//!
//! Each copy brings its Service and, read as the person, the Service namespace's pods, EndpointSlices and
//! NetworkPolicies (`None` when not readable: that cell says so and takes no part in the comparison). Every
//! field becomes a list of lines per cluster; the first readable copy is the reference, and a cell differs
//! when its lines differ from the reference's.
//!
//! A difference can be expected: globally (`[drift] expected = ["replicas"]` in the config) or per Service
//! (the annotation `fleetpane.io/drift-expected: "replicas,images"` on any copy). Expected differences are
//! shown as such and do not put a Service on the fleet drift list's "differs" side.

use std::collections::{BTreeMap, BTreeSet};

use fleetpane_app::model::drift::{
    DriftCell, DriftKey, DriftList, DriftListRow, DriftPage, DriftRow, DriftState,
};

use super::{count_endpoints, is_headless, selects};
use crate::watch::rows::{EndpointSliceRow, NetworkPolicyRow, PodRow, ProbeRow, ServiceRow};

/// One cluster's copy of a Service, with what was readable around it.
#[derive(Clone, Debug)]
pub struct Copy<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// The Service.
    pub service: &'a ServiceRow,
    /// Pods of the Service's namespace; `None`: not readable.
    pub pods: Option<Vec<&'a PodRow>>,
    /// EndpointSlices of the Service's namespace; `None`: not readable.
    pub slices: Option<Vec<&'a EndpointSliceRow>>,
    /// NetworkPolicies of the Service's namespace; `None`: not readable.
    pub policies: Option<Vec<&'a NetworkPolicyRow>>,
}

/// The expected fields of a Service's annotation value (`"replicas, images"`); unknown names are skipped.
pub fn parse_expected(annotation: &str) -> Vec<DriftKey> {
    annotation.split(',').filter(|s| !s.trim().is_empty()).filter_map(DriftKey::parse).collect()
}

/// The pods the Service selects (not terminating). A Service without selector selects none.
fn backing<'a>(service: &ServiceRow, pods: &[&'a PodRow]) -> Vec<&'a PodRow> {
    pods.iter()
        .copied()
        .filter(|p| p.namespace == service.namespace && !p.deleting && selects(&service.selector, &p.labels))
        .collect()
}

fn probe_text(kind: &str, p: &ProbeRow) -> String {
    format!("{kind} {} every {}s, {} fails", p.action, p.period_seconds, p.failure_threshold)
}

fn sorted(set: BTreeSet<String>) -> Vec<String> {
    set.into_iter().collect()
}

fn none_if_empty(lines: Vec<String>) -> Vec<String> {
    if lines.is_empty() { vec!["(none)".to_owned()] } else { lines }
}

/// One field's value for one copy; `Err(reason)` when it cannot be read.
fn value(key: DriftKey, c: &Copy<'_>) -> Result<Vec<String>, String> {
    let s = c.service;
    let pods_unreadable = || format!("pods not readable in {} on {}", s.namespace, c.cluster);
    let pods = || c.pods.as_ref().map(|p| backing(s, p)).ok_or_else(pods_unreadable);
    Ok(match key {
        DriftKey::Type => {
            vec![if is_headless(s) { format!("{} (headless)", s.type_) } else { s.type_.clone() }]
        }
        DriftKey::Ports => none_if_empty(
            s.ports
                .iter()
                .map(|p| {
                    let name = p.name.as_deref().map(|n| format!("{n} ")).unwrap_or_default();
                    let target = p.target_port.clone().unwrap_or_else(|| p.port.to_string());
                    format!("{name}{}→{target}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP"))
                })
                .collect(),
        ),
        DriftKey::Selector => {
            let pairs: Vec<String> = s.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![if pairs.is_empty() { "(none)".to_owned() } else { pairs.join(",") }]
        }
        DriftKey::TrafficPolicies => {
            let mut lines =
                vec![format!("internal {}", s.internal_traffic_policy.as_deref().unwrap_or("Cluster"))];
            if let Some(external) = &s.external_traffic_policy {
                lines.push(format!("external {external}"));
            }
            lines
        }
        DriftKey::SessionAffinity => vec![s.session_affinity.clone().unwrap_or_else(|| "None".to_owned())],
        DriftKey::Images => none_if_empty(sorted(
            pods()?
                .iter()
                .flat_map(|p| &p.containers)
                .map(|c| format!("{}: {}", c.name, c.image.as_deref().unwrap_or("(no image)")))
                .collect(),
        )),
        DriftKey::Replicas => {
            let pods = pods()?;
            let ready = pods.iter().filter(|p| p.ready).count();
            vec![format!("{ready}/{} pods ready", pods.len())]
        }
        DriftKey::ReadyEndpoints => {
            let slices = c
                .slices
                .as_ref()
                .ok_or_else(|| format!("EndpointSlices not readable in {} on {}", s.namespace, c.cluster))?;
            let mine: Vec<&EndpointSliceRow> = slices
                .iter()
                .copied()
                .filter(|sl| sl.namespace == s.namespace && sl.service.as_deref() == Some(s.name.as_str()))
                .collect();
            let counts = count_endpoints(&mine);
            vec![format!("{}/{} ready", counts.ready, counts.total)]
        }
        DriftKey::Probes => none_if_empty(sorted(
            pods()?
                .iter()
                .flat_map(|p| &p.containers)
                .flat_map(|c| {
                    [("readiness", &c.readiness), ("liveness", &c.liveness), ("startup", &c.startup)]
                        .into_iter()
                        .filter_map(move |(kind, p)| {
                            p.as_ref().map(|p| format!("{}: {}", c.name, probe_text(kind, p)))
                        })
                })
                .collect(),
        )),
        DriftKey::NetworkPolicies => {
            let pods = pods()?;
            let policies = c
                .policies
                .as_ref()
                .ok_or_else(|| format!("NetworkPolicies not readable in {} on {}", s.namespace, c.cluster))?;
            none_if_empty(sorted(
                policies
                    .iter()
                    .filter(|np| {
                        np.namespace == s.namespace && pods.iter().any(|p| np.selector.matches(&p.labels))
                    })
                    .map(|np| np.name.clone())
                    .collect(),
            ))
        }
    })
}

/// The fields marked expected for these copies: the global list plus every copy's annotation.
pub fn expected_fields(copies: &[Copy<'_>], global: &[DriftKey]) -> Vec<DriftKey> {
    let mut out: BTreeSet<DriftKey> = global.iter().copied().collect();
    for c in copies {
        out.extend(c.service.drift_expected.as_deref().map(parse_expected).unwrap_or_default());
    }
    out.into_iter().collect()
}

/// Every field across the copies (in [`DriftKey::ALL`] order), and the expected fields.
pub fn compare(copies: &[Copy<'_>], global_expected: &[DriftKey]) -> (Vec<DriftRow>, Vec<DriftKey>) {
    let expected = expected_fields(copies, global_expected);
    let rows = DriftKey::ALL
        .into_iter()
        .map(|key| {
            let values: Vec<Result<Vec<String>, String>> = copies.iter().map(|c| value(key, c)).collect();
            let reference = values.iter().find_map(|v| v.as_ref().ok());
            let cells: Vec<DriftCell> = values
                .iter()
                .map(|v| match v {
                    Ok(lines) => DriftCell {
                        lines: lines.clone(),
                        readable: true,
                        differs: reference.is_some_and(|r| r != lines),
                    },
                    Err(reason) => DriftCell { lines: vec![reason.clone()], readable: false, differs: false },
                })
                .collect();
            let state = match (cells.iter().any(|c| c.differs), expected.contains(&key)) {
                (false, _) => DriftState::Same,
                (true, true) => DriftState::Expected,
                (true, false) => DriftState::Differs,
            };
            DriftRow { key, state, cells }
        })
        .collect();
    (rows, expected)
}

/// The drift page of one namespace/name. `copies` in fleet order; `missing_in`: clusters that answered
/// without a (readable) copy; `unavailable`: clusters that did not answer.
pub fn page(
    namespace: &str,
    name: &str,
    copies: &[Copy<'_>],
    missing_in: Vec<String>,
    unavailable: Vec<String>,
    global_expected: &[DriftKey],
) -> DriftPage {
    let (rows, expected) = compare(copies, global_expected);
    DriftPage {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        clusters: copies.iter().map(|c| c.cluster.to_owned()).collect(),
        missing_in,
        unavailable,
        rows,
        expected,
    }
}

/// The fleet drift list: every namespace/name with copies in at least two clusters whose copies differ.
/// `copies` in any order; within a group, the order given is kept (pass them in fleet order).
pub fn list(copies: &[Copy<'_>], unavailable: Vec<String>, global_expected: &[DriftKey]) -> DriftList {
    let mut groups: BTreeMap<(&str, &str), Vec<Copy<'_>>> = BTreeMap::new();
    for c in copies {
        groups.entry((c.service.namespace.as_str(), c.service.name.as_str())).or_default().push(c.clone());
    }
    let mut compared = 0;
    let mut rows: Vec<DriftListRow> = Vec::new();
    for ((namespace, name), group) in groups {
        if group.len() < 2 {
            continue;
        }
        compared += 1;
        let (fields, _) = compare(&group, global_expected);
        let of = |state: DriftState| -> Vec<DriftKey> {
            fields.iter().filter(|r| r.state == state).map(|r| r.key).collect()
        };
        let (differing, expected) = (of(DriftState::Differs), of(DriftState::Expected));
        if differing.is_empty() && expected.is_empty() {
            continue;
        }
        rows.push(DriftListRow {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            clusters: group.iter().map(|c| c.cluster.to_owned()).collect(),
            differing,
            expected,
        });
    }
    // Unexpected differences first; stable, so (namespace, name) order stays within each part.
    rows.sort_by_key(|r| r.differing.is_empty());
    DriftList { rows, compared, unavailable }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        views::tests::{labels, mk_endpoint, mk_pod, mk_service, mk_slice},
        watch::rows::SelectorRow,
    };

    struct Cluster {
        name: &'static str,
        service: ServiceRow,
        pods: Vec<PodRow>,
        slices: Vec<EndpointSliceRow>,
        policies: Vec<NetworkPolicyRow>,
    }

    fn mk_cluster(name: &'static str, replicas: usize, image: &str) -> Cluster {
        let service = mk_service("shop", "checkout");
        let pods: Vec<PodRow> = (0..replicas)
            .map(|i| {
                let mut p = mk_pod("shop", &format!("checkout-{i}"), "checkout", &[("http", 8080)]);
                p.containers[0].image = Some(image.to_owned());
                p.containers[0].readiness = Some(Box::new(ProbeRow {
                    action: "http GET :http/healthz".into(),
                    period_seconds: 10,
                    failure_threshold: 3,
                    ..Default::default()
                }));
                p
            })
            .collect();
        let slices = vec![mk_slice(
            &service,
            "a",
            "IPv4",
            (0..replicas).map(|i| mk_endpoint(&format!("10.0.0.{i}"), true, "z1", "p")).collect(),
        )];
        let policies = vec![NetworkPolicyRow {
            namespace: "shop".into(),
            name: "allow-web".into(),
            selector: SelectorRow { match_labels: labels(&[("app", "checkout")]), ..Default::default() },
            ..Default::default()
        }];
        Cluster { name, service, pods, slices, policies }
    }

    fn copies(clusters: &[Cluster]) -> Vec<Copy<'_>> {
        clusters
            .iter()
            .map(|c| Copy {
                cluster: c.name,
                service: &c.service,
                pods: Some(c.pods.iter().collect()),
                slices: Some(c.slices.iter().collect()),
                policies: Some(c.policies.iter().collect()),
            })
            .collect()
    }

    fn row(rows: &[DriftRow], key: DriftKey) -> &DriftRow {
        rows.iter().find(|r| r.key == key).unwrap()
    }

    #[test]
    fn identical_copies_do_not_drift() {
        let clusters = [mk_cluster("eu", 3, "shop/checkout:1"), mk_cluster("us", 3, "shop/checkout:1")];
        let (rows, _) = compare(&copies(&clusters), &[]);
        assert_eq!(rows.len(), DriftKey::ALL.len());
        assert!(rows.iter().all(|r| r.state == DriftState::Same), "{rows:#?}");
        assert_eq!(row(&rows, DriftKey::Images).cells[0].lines, ["main: shop/checkout:1"]);
        assert_eq!(row(&rows, DriftKey::Replicas).cells[0].lines, ["3/3 pods ready"]);
        assert_eq!(row(&rows, DriftKey::ReadyEndpoints).cells[0].lines, ["3/3 ready"]);
        assert_eq!(row(&rows, DriftKey::NetworkPolicies).cells[0].lines, ["allow-web"]);
        assert_eq!(row(&rows, DriftKey::Ports).cells[0].lines, ["http 80→8080/TCP"]);
        assert_eq!(row(&rows, DriftKey::Selector).cells[0].lines, ["app=checkout"]);
        assert_eq!(row(&rows, DriftKey::TrafficPolicies).cells[0].lines, ["internal Cluster"]);
        assert_eq!(
            row(&rows, DriftKey::Probes).cells[0].lines,
            ["main: readiness http GET :http/healthz every 10s, 3 fails"]
        );
    }

    #[test]
    fn each_field_drifts_on_its_own() {
        let mut us = mk_cluster("us", 2, "shop/checkout:0");
        us.service.ports.push(crate::views::tests::mk_port(Some("metrics"), 9102, Some("metrics")));
        us.service.session_affinity = Some("ClientIP".into());
        us.service.type_ = "NodePort".into();
        us.service.external_traffic_policy = Some("Local".into());
        us.policies.clear();
        for p in &mut us.pods {
            p.containers[0].readiness = None;
        }
        let clusters = [mk_cluster("eu", 3, "shop/checkout:1"), us];
        let (rows, expected) = compare(&copies(&clusters), &[]);
        assert!(expected.is_empty());
        let differing: Vec<DriftKey> =
            rows.iter().filter(|r| r.state == DriftState::Differs).map(|r| r.key).collect();
        assert_eq!(
            differing,
            [
                DriftKey::Type,
                DriftKey::Ports,
                DriftKey::TrafficPolicies,
                DriftKey::SessionAffinity,
                DriftKey::Images,
                DriftKey::Replicas,
                DriftKey::ReadyEndpoints,
                DriftKey::Probes,
                DriftKey::NetworkPolicies,
            ]
        );
        let images = row(&rows, DriftKey::Images);
        assert!(!images.cells[0].differs && images.cells[1].differs, "the first copy is the reference");
        assert_eq!(images.cells[1].lines, ["main: shop/checkout:0"]);
        assert_eq!(row(&rows, DriftKey::Replicas).cells[1].lines, ["2/2 pods ready"]);
        assert_eq!(row(&rows, DriftKey::SessionAffinity).cells[1].lines, ["ClientIP"]);
        assert_eq!(row(&rows, DriftKey::NetworkPolicies).cells[1].lines, ["(none)"]);
        assert_eq!(row(&rows, DriftKey::Selector).state, DriftState::Same);
    }

    #[test]
    fn expected_differences_from_config_and_annotation() {
        let mut us = mk_cluster("us", 2, "shop/checkout:0");
        us.service.drift_expected = Some("images, bogus".into());
        let clusters = [mk_cluster("eu", 3, "shop/checkout:1"), us];
        let (rows, expected) = compare(&copies(&clusters), &[DriftKey::Replicas]);
        assert_eq!(expected, [DriftKey::Images, DriftKey::Replicas]);
        assert_eq!(row(&rows, DriftKey::Images).state, DriftState::Expected);
        assert_eq!(row(&rows, DriftKey::Replicas).state, DriftState::Expected);
        assert_eq!(row(&rows, DriftKey::ReadyEndpoints).state, DriftState::Differs, "not marked");
        // Expected but equal stays "same".
        let same = [mk_cluster("eu", 3, "x"), mk_cluster("us", 3, "x")];
        let (rows, _) = compare(&copies(&same), &[DriftKey::Replicas]);
        assert_eq!(row(&rows, DriftKey::Replicas).state, DriftState::Same);
    }

    #[test]
    fn unreadable_cells_say_so_and_do_not_count() {
        let clusters = [mk_cluster("eu", 3, "a"), mk_cluster("us", 2, "b")];
        let mut c = copies(&clusters);
        c[1].pods = None;
        c[1].slices = None;
        let (rows, _) = compare(&c, &[]);
        let images = row(&rows, DriftKey::Images);
        assert_eq!(images.state, DriftState::Same, "nothing readable to compare with");
        assert!(!images.cells[1].readable);
        assert_eq!(images.cells[1].lines, ["pods not readable in shop on us"]);
        assert_eq!(
            row(&rows, DriftKey::ReadyEndpoints).cells[1].lines,
            ["EndpointSlices not readable in shop on us"]
        );
        // The first copy unreadable: the reference is the first readable one.
        let mut c = copies(&clusters);
        c[0].pods = None;
        let (rows, _) = compare(&c, &[]);
        assert_eq!(row(&rows, DriftKey::Images).state, DriftState::Same);
    }

    #[test]
    fn fleet_list_keeps_groups_that_differ() {
        let eu = mk_cluster("eu", 3, "a");
        let us = mk_cluster("us", 2, "a");
        let mut other_eu = mk_cluster("eu", 1, "a");
        other_eu.service.name = "same".into();
        let mut other_us = mk_cluster("us", 1, "a");
        other_us.service.name = "same".into();
        let mut lonely = mk_cluster("eu", 1, "a");
        lonely.service.name = "lonely".into();
        // Same pods as checkout (same selector), no slices of its own: only the replicas differ.
        let mut expected_eu = mk_cluster("eu", 3, "a");
        expected_eu.service.name = "cart".into();
        let mut expected_us = mk_cluster("us", 2, "a");
        expected_us.service.name = "cart".into();
        expected_us.service.drift_expected = Some("replicas,ready_endpoints".into());
        let all = [eu, us, other_eu, other_us, lonely, expected_eu, expected_us];
        let c = copies(&all);
        let list = list(&c, vec!["staging".into()], &[]);
        assert_eq!(list.compared, 3, "lonely is in one cluster only");
        let names: Vec<String> = list.rows.iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect();
        assert_eq!(names, ["shop/checkout", "shop/cart"], "unexpected first; `same` does not differ");
        assert_eq!(list.rows[0].differing, [DriftKey::Replicas, DriftKey::ReadyEndpoints]);
        assert_eq!(list.rows[0].clusters, ["eu", "us"]);
        assert!(list.rows[1].differing.is_empty());
        assert_eq!(list.rows[1].expected, [DriftKey::Replicas]);
        assert_eq!(list.unavailable, ["staging"]);
    }

    #[test]
    fn annotation_parsing() {
        assert_eq!(
            parse_expected("replicas, images ,,Ready-Endpoints"),
            [DriftKey::Replicas, DriftKey::Images, DriftKey::ReadyEndpoints]
        );
        assert!(parse_expected("nonsense").is_empty());
    }
}
