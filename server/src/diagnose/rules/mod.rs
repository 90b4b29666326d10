//! The rules, one small function each, grouped by topic. Order matters: within a severity, findings keep it.

mod exposure;
mod netpol;
mod pods;
mod ports;
mod risk;
pub(crate) mod selector;
mod traffic;

use super::{Ctx, Finding};

/// A rule: at most one finding (several offending objects become several pieces of evidence).
pub(crate) type Rule = fn(&Ctx<'_>) -> Option<Finding>;

/// Every rule, outages first, risks last.
pub(crate) const ALL: &[Rule] = &[
    selector::matches_other_namespace,
    selector::matches_nothing,
    selector::likely_typo,
    selector::no_selector_no_endpoints,
    selector::manual_endpoints_nowhere,
    exposure::external_name_is_ip,
    exposure::external_name_with_selector,
    exposure::lb_pending,
    exposure::route_missing_port,
    pods::scaled_to_zero,
    pods::only_terminating,
    pods::crash_loop,
    pods::image_pull,
    pods::unschedulable,
    pods::node_not_ready,
    pods::readiness_failing,
    pods::oom_killed,
    ports::target_not_exposed,
    ports::only_sidecar,
    ports::named_port_missing_on_some,
    ports::protocol_mismatch,
    traffic::external_local,
    traffic::internal_local,
    netpol::denies_all_ingress,
    netpol::blocks_known_callers,
    netpol::port_mismatch,
    netpol::namespace_mismatch,
    selector::multiple_workloads,
    risk::pdb_no_disruption,
    risk::hpa_at_max,
    risk::hpa_metrics_unavailable,
    risk::single_zone,
    risk::no_readiness_probe,
    risk::no_resources,
    risk::error_rate,
    risk::latency,
];
