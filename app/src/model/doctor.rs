//! Wire types of the service doctor: findings on the Service page, and the on-call triage view.
//!
//! The server decides everything (severity, words, links); the browser only renders.

use serde::{Deserialize, Serialize};

use super::services::thousands;

/// How bad a finding is. Ordered: `Critical` is greatest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; no action needed now.
    Info,
    /// A risk or a partial outage.
    Warning,
    /// The Service does not serve (or not as intended).
    Critical,
}

impl Severity {
    /// The word shown beside the icon (color never carries the meaning alone).
    pub fn label(self) -> &'static str {
        match self {
            Self::Info => "Info",
            Self::Warning => "Warning",
            Self::Critical => "Critical",
        }
    }

    /// The name used in CSS classes and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// A text icon that survives screenshots and color blindness.
    pub fn icon(self) -> &'static str {
        match self {
            Self::Info => "ℹ",
            Self::Warning => "▲",
            Self::Critical => "✕",
        }
    }
}

/// An object a finding names, with where to see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLink {
    /// `Service`, `Pod`, `EndpointSlice`, `NetworkPolicy`, `Node`, ...
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// A Service's page, or an anchor on the Service page where the object is shown (`#pod-NAME`,
    /// `#endpoints`, `#netpol-NAME`, ...); `None` when Fleetpane does not show it.
    pub href: Option<String>,
}

/// One piece of evidence: which object, which field or event, what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceView {
    /// The object.
    pub object: ObjectLink,
    /// The field path (`spec.selector`) or `event <Reason>`.
    pub field: String,
    /// What was found there.
    pub detail: String,
}

/// A problem or risk the doctor found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingView {
    /// How bad.
    pub severity: Severity,
    /// A stable identifier, e.g. `selector.matches-nothing`.
    pub code: String,
    /// One line.
    pub title: String,
    /// Never empty: what the finding is based on.
    pub evidence: Vec<EvidenceView>,
    /// What to try.
    pub fix: String,
}

/// The triage view's filters and page, as the URL carries them (`?cluster=&namespace=&team=&offset=&limit=`).
/// Empty filter: no filter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TriageRequest {
    /// Only this cluster.
    #[serde(default)]
    pub cluster: String,
    /// Only this namespace.
    #[serde(default)]
    pub namespace: String,
    /// Only namespaces with this team label value.
    #[serde(default)]
    pub team: String,
    /// First row of the page, 0-based.
    #[serde(default)]
    pub offset: usize,
    /// Rows per page; the server caps it at [`TriageRequest::MAX_LIMIT`].
    #[serde(default = "TriageRequest::default_limit")]
    pub limit: usize,
}

impl TriageRequest {
    /// Rows per page unless asked otherwise.
    pub const DEFAULT_LIMIT: usize = 100;
    /// The most rows one page carries.
    pub const MAX_LIMIT: usize = 500;

    fn default_limit() -> usize {
        Self::DEFAULT_LIMIT
    }
}

impl Default for TriageRequest {
    fn default() -> Self {
        Self {
            cluster: String::new(),
            namespace: String::new(),
            team: String::new(),
            offset: 0,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// The namespace label that names a namespace's team.
pub const TEAM_LABEL: &str = "fleetpane.dev/team";

/// One Service with findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageRow {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The Service page.
    pub href: String,
    /// The namespace's team label, when known.
    pub team: Option<String>,
    /// The top finding's severity.
    pub severity: Severity,
    /// The top finding's code.
    pub code: String,
    /// The top finding in words.
    pub title: String,
    /// How many other findings (any severity).
    pub others: u32,
    /// Endpoints that exist but are not ready: the blast radius.
    pub not_ready: u32,
    /// Endpoints in all.
    pub endpoints: u32,
    /// Since when, RFC 3339, where an event or condition tells.
    pub since: Option<String>,
    /// Its traffic in words (`120 req/s · 0.10% 5xx`), where Prometheus answered.
    pub traffic: Option<String>,
}

/// The triage view's data: one page of the ranked rows, with totals over all pages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriagePage {
    /// This page of the Services with at least one finding (after the filters), worst first.
    pub rows: Vec<TriageRow>,
    /// Services with at least one finding (after the filters), over all pages.
    #[serde(default)]
    pub total: usize,
    /// Of `total`, how many by top severity.
    #[serde(default)]
    pub by_severity: SeverityCounts,
    /// The first row's index in the ranking.
    #[serde(default)]
    pub offset: usize,
    /// The (capped) page size used.
    #[serde(default)]
    pub limit: usize,
    /// Services looked at (after the filters).
    pub checked: u32,
    /// Clusters that did not answer in time or could not be read: named, never waited for.
    pub unavailable: Vec<String>,
    /// Every cluster, for the filter.
    pub clusters: Vec<String>,
    /// Every namespace with a visible Service, for the filter.
    pub namespaces: Vec<String>,
    /// Every team label value seen, for the filter.
    pub teams: Vec<String>,
    /// Server-side time to gather and rank, in milliseconds.
    pub elapsed_ms: u64,
}

/// Rows by their top finding's severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    /// Critical.
    pub critical: usize,
    /// Warning.
    pub warning: usize,
    /// Info.
    pub info: usize,
}

impl SeverityCounts {
    /// Counts one more row of `severity`.
    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::Warning => self.warning += 1,
            Severity::Info => self.info += 1,
        }
    }
}

impl TriagePage {
    /// Keeps only the page `request` asks for (limit capped at [`TriageRequest::MAX_LIMIT`], at least 1),
    /// after counting every row into `total` and `by_severity`.
    pub fn paginate(&mut self, request: &TriageRequest) {
        self.total = self.rows.len();
        self.by_severity = SeverityCounts::default();
        for r in &self.rows {
            self.by_severity.add(r.severity);
        }
        self.limit = request.limit.clamp(1, TriageRequest::MAX_LIMIT);
        self.offset = request.offset.min(self.total);
        let end = (self.offset + self.limit).min(self.total);
        self.rows.truncate(end);
        self.rows.drain(..self.offset);
    }

    /// "showing 1–100 of 6,021", "showing 0 of 0".
    pub fn showing(&self) -> String {
        if self.rows.is_empty() {
            return format!("showing 0 of {}", thousands(self.total));
        }
        format!(
            "showing {}–{} of {}",
            thousands(self.offset + 1),
            thousands(self.offset + self.rows.len()),
            thousands(self.total)
        )
    }

    /// Whether a next page exists.
    pub fn has_next(&self) -> bool {
        self.offset + self.rows.len() < self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_row(i: usize, severity: Severity) -> TriageRow {
        TriageRow {
            cluster: "prod-eu".into(),
            namespace: "team-a".into(),
            name: format!("svc-{i}"),
            href: String::new(),
            team: None,
            severity,
            code: String::new(),
            title: String::new(),
            others: 0,
            not_ready: 0,
            endpoints: 0,
            since: None,
            traffic: None,
        }
    }

    fn ranked(n: usize) -> TriagePage {
        let rows = (0..n)
            .map(|i| {
                let severity = match i % 3 {
                    0 => Severity::Critical,
                    1 => Severity::Warning,
                    _ => Severity::Info,
                };
                mk_row(i, severity)
            })
            .collect();
        TriagePage { rows, ..Default::default() }
    }

    #[test]
    fn a_page_keeps_its_rows_and_counts_all_of_them() {
        let mut page = ranked(6_021);
        page.paginate(&TriageRequest::default());
        assert_eq!(page.rows.len(), 100);
        assert_eq!(page.rows[0].name, "svc-0");
        assert_eq!((page.total, page.offset, page.limit), (6_021, 0, 100));
        assert_eq!(page.by_severity, SeverityCounts { critical: 2_007, warning: 2_007, info: 2_007 });
        assert_eq!(page.showing(), "showing 1–100 of 6,021");
        assert!(page.has_next());

        let mut last = ranked(6_021);
        last.paginate(&TriageRequest { offset: 6_000, ..Default::default() });
        assert_eq!(last.rows.len(), 21);
        assert_eq!(last.rows[0].name, "svc-6000");
        assert_eq!(last.showing(), "showing 6,001–6,021 of 6,021");
        assert!(!last.has_next());
    }

    #[test]
    fn the_limit_is_capped_and_an_offset_past_the_end_shows_nothing() {
        let mut big = ranked(1_000);
        big.paginate(&TriageRequest { limit: 10_000, ..Default::default() });
        assert_eq!((big.rows.len(), big.limit), (TriageRequest::MAX_LIMIT, TriageRequest::MAX_LIMIT));
        let mut zero = ranked(10);
        zero.paginate(&TriageRequest { limit: 0, ..Default::default() });
        assert_eq!(zero.rows.len(), 1);
        let mut past = ranked(10);
        past.paginate(&TriageRequest { offset: 50, ..Default::default() });
        assert!(past.rows.is_empty());
        assert_eq!((past.offset, past.total), (10, 10));
        assert_eq!(past.showing(), "showing 0 of 10");
        let mut none = ranked(0);
        none.paginate(&TriageRequest::default());
        assert_eq!(none.showing(), "showing 0 of 0");
    }

    #[test]
    fn an_old_request_without_a_page_gets_the_default_page() {
        let r: TriageRequest = serde_json::from_str(r#"{"cluster":"prod-eu"}"#).unwrap();
        assert_eq!(r, TriageRequest { cluster: "prod-eu".into(), ..Default::default() });
    }
}
