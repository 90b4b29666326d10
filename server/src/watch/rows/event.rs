//! Recent Events: what happened to an object, kept for [`EVENT_MAX_AGE`].

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Event;

use super::{Row, ns_name};

/// How long an Event stays in the cache after it was last seen. The apiserver's own `--event-ttl` defaults to
/// one hour too; this bound keeps the cache small even where it is set longer.
pub const EVENT_MAX_AGE: SignedDuration = SignedDuration::from_hours(1);

/// An Event (core/v1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `reason`, e.g. `BackOff`.
    pub reason: Option<String>,
    /// `Normal` or `Warning`.
    pub type_: Option<String>,
    /// The message.
    pub message: Option<String>,
    /// How often it happened (`series.count`, else `count`, else 1).
    pub count: i32,
    /// When it was last seen: `series.lastObservedTime`, `lastTimestamp`, `eventTime`, `firstTimestamp` or the
    /// creation time, the first that is set.
    pub last_seen: Option<Timestamp>,
    /// The object it is about: kind.
    pub object_kind: Option<String>,
    /// The object it is about: namespace.
    pub object_namespace: Option<String>,
    /// The object it is about: name.
    pub object_name: Option<String>,
    /// `source.component`, else `reportingComponent`.
    pub source: Option<String>,
}

impl From<&Event> for EventRow {
    fn from(e: &Event) -> Self {
        let (namespace, name) = ns_name(&e.metadata);
        let series = e.series.as_ref();
        let last_seen = series
            .and_then(|s| s.last_observed_time.as_ref())
            .map(|t| t.0)
            .or_else(|| e.last_timestamp.as_ref().map(|t| t.0))
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
            .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Self {
            namespace,
            name,
            reason: e.reason.clone(),
            type_: e.type_.clone(),
            message: e.message.clone(),
            count: series.and_then(|s| s.count).or(e.count).unwrap_or(1),
            last_seen,
            object_kind: e.involved_object.kind.clone(),
            object_namespace: e.involved_object.namespace.clone(),
            object_name: e.involved_object.name.clone(),
            source: e
                .source
                .as_ref()
                .and_then(|s| non_empty(&s.component))
                .or_else(|| non_empty(&e.reporting_component)),
        }
    }
}

impl Row for EventRow {
    type Object = Event;
    fn from_object(object: &Event) -> Self {
        Self::from(object)
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
    const EXPIRES: bool = true;

    /// Recent only: seen within [`EVENT_MAX_AGE`] of `now`. An Event without any time is kept (until deleted).
    fn retained(&self, now: Timestamp) -> bool {
        self.last_seen.is_none_or(|t| now.duration_since(t) < EVENT_MAX_AGE)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{EventSeries, EventSource, ObjectReference},
        apimachinery::pkg::apis::meta::v1::{MicroTime, Time},
    };

    use super::*;
    use crate::watch::rows::tests::mk_meta;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn mk_event(name: &str, last: i64) -> Event {
        Event {
            metadata: mk_meta("team-a", name, &[]),
            reason: Some("BackOff".into()),
            type_: Some("Warning".into()),
            message: Some("Back-off restarting failed container".into()),
            count: Some(4),
            first_timestamp: Some(Time(t(last - 60))),
            last_timestamp: Some(Time(t(last))),
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some("team-a".into()),
                name: Some("checkout-1".into()),
                ..Default::default()
            },
            source: Some(EventSource { component: Some("kubelet".into()), host: Some("node-1".into()) }),
            ..Default::default()
        }
    }

    #[test]
    fn event_row_keeps_reason_count_time_object_and_source() {
        let row = EventRow::from(&mk_event("checkout-1.abc", 1_000));
        assert_eq!(row.reason.as_deref(), Some("BackOff"));
        assert_eq!(row.type_.as_deref(), Some("Warning"));
        assert_eq!(row.count, 4);
        assert_eq!(row.last_seen, Some(t(1_000)));
        assert_eq!(
            (row.object_kind.as_deref(), row.object_namespace.as_deref(), row.object_name.as_deref()),
            (Some("Pod"), Some("team-a"), Some("checkout-1"))
        );
        assert_eq!(row.source.as_deref(), Some("kubelet"));
    }

    #[test]
    fn new_style_events_use_series_and_reporting_component() {
        let event = Event {
            metadata: mk_meta("team-a", "e", &[]),
            event_time: Some(MicroTime(t(500))),
            series: Some(EventSeries { count: Some(9), last_observed_time: Some(MicroTime(t(900))) }),
            reporting_component: Some("default-scheduler".into()),
            source: Some(EventSource::default()),
            ..Default::default()
        };
        let row = EventRow::from(&event);
        assert_eq!((row.count, row.last_seen), (9, Some(t(900))));
        assert_eq!(row.source.as_deref(), Some("default-scheduler"));
        let bare = EventRow::from(&Event { metadata: mk_meta("n", "e", &[]), ..Default::default() });
        assert_eq!((bare.count, bare.last_seen), (1, None));
    }

    #[test]
    fn only_recent_events_are_retained() {
        let row = EventRow::from(&mk_event("e", 10_000));
        assert!(row.retained(t(10_000 + 3_599)));
        assert!(!row.retained(t(10_000 + 3_600)));
        assert!(EventRow::default().retained(t(10_000_000)));
    }
}
