//! The access-decision cache. Pure: time is passed in.
//!
//! Decisions live for a short TTL, and a cluster's decisions are all dropped when its RBAC objects change.
//! A per-cluster generation guards the race between the two: an answer asked for before an invalidation
//! is not stored after it.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use crate::fleet::Impersonation;

/// What is asked: may `who` `verb` `resource` in `namespace` (`None`: cluster-wide) of `cluster`?
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Question {
    /// The cluster's name.
    pub cluster: String,
    /// Who is asked about, after the cluster's impersonation policy.
    pub who: Impersonation,
    /// The verb, e.g. `list`.
    pub verb: String,
    /// The API group, empty for core.
    pub group: String,
    /// The resource (plural), e.g. `services`.
    pub resource: String,
    /// The namespace, or `None` for all namespaces.
    pub namespace: Option<String>,
}

/// The cache.
#[derive(Debug)]
pub struct Decisions {
    ttl: Duration,
    entries: HashMap<Question, (bool, Instant)>,
    generations: HashMap<String, u64>,
    hits: u64,
    misses: u64,
}

impl Decisions {
    /// An empty cache whose answers live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: HashMap::new(), generations: HashMap::new(), hits: 0, misses: 0 }
    }

    /// The cached answer, if still fresh at `now`.
    pub fn get(&mut self, question: &Question, now: Instant) -> Option<bool> {
        let fresh = self
            .entries
            .get(question)
            .filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(allowed, _)| *allowed);
        if fresh.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        fresh
    }

    /// The cluster's generation: read it before asking the cluster, hand it to [`Decisions::put`].
    pub fn generation(&self, cluster: &str) -> u64 {
        self.generations.get(cluster).copied().unwrap_or(0)
    }

    /// Stores an answer obtained at `now`, unless the cluster's RBAC changed since `generation` was read.
    pub fn put(&mut self, question: Question, allowed: bool, generation: u64, now: Instant) {
        if generation != self.generation(&question.cluster) {
            return;
        }
        if self.entries.len() >= 100_000 {
            self.expire(now);
        }
        self.entries.insert(question, (allowed, now));
    }

    /// Forgets every answer about `cluster`.
    pub fn invalidate(&mut self, cluster: &str) {
        *self.generations.entry(cluster.to_owned()).or_default() += 1;
        self.entries.retain(|q, _| q.cluster != cluster);
    }

    /// Drops answers older than the TTL.
    pub fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
    }

    /// Cache hits and misses so far.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// How many answers are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no answers are held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_question(cluster: &str, user: &str, namespace: Option<&str>) -> Question {
        Question {
            cluster: cluster.into(),
            who: Impersonation::new(user, ["team-a"]),
            verb: "list".into(),
            group: String::new(),
            resource: "services".into(),
            namespace: namespace.map(Into::into),
        }
    }

    #[test]
    fn answers_live_for_the_ttl() {
        let t0 = Instant::now();
        let mut d = Decisions::new(Duration::from_secs(30));
        let q = mk_question("eu", "bob", Some("team-a"));
        assert_eq!(d.get(&q, t0), None);
        d.put(q.clone(), true, d.generation("eu"), t0);
        assert_eq!(d.get(&q, t0 + Duration::from_secs(29)), Some(true));
        assert_eq!(d.get(&q, t0 + Duration::from_secs(30)), None);
        assert_eq!(d.hits_and_misses(), (1, 2));
        d.expire(t0 + Duration::from_secs(31));
        assert!(d.is_empty());
    }

    #[test]
    fn questions_differ_by_every_part() {
        let t0 = Instant::now();
        let mut d = Decisions::new(Duration::from_secs(30));
        d.put(mk_question("eu", "bob", Some("team-a")), true, 0, t0);
        assert_eq!(d.get(&mk_question("eu", "bob", None), t0), None);
        assert_eq!(d.get(&mk_question("us", "bob", Some("team-a")), t0), None);
        assert_eq!(d.get(&mk_question("eu", "carol", Some("team-a")), t0), None);
        let mut other_verb = mk_question("eu", "bob", Some("team-a"));
        other_verb.verb = "watch".into();
        assert_eq!(d.get(&other_verb, t0), None);
    }

    #[test]
    fn invalidation_drops_only_that_cluster() {
        let t0 = Instant::now();
        let mut d = Decisions::new(Duration::from_secs(30));
        d.put(mk_question("eu", "bob", None), false, 0, t0);
        d.put(mk_question("us", "bob", None), false, 0, t0);
        d.invalidate("eu");
        assert_eq!(d.get(&mk_question("eu", "bob", None), t0), None);
        assert_eq!(d.get(&mk_question("us", "bob", None), t0), Some(false));
    }

    #[test]
    fn an_answer_asked_before_an_invalidation_is_not_stored() {
        let t0 = Instant::now();
        let mut d = Decisions::new(Duration::from_secs(30));
        let generation = d.generation("eu");
        d.invalidate("eu"); // RBAC changed while the review was in flight.
        d.put(mk_question("eu", "bob", None), true, generation, t0);
        assert_eq!(d.get(&mk_question("eu", "bob", None), t0), None);
        d.put(mk_question("eu", "bob", None), true, d.generation("eu"), t0);
        assert_eq!(d.get(&mk_question("eu", "bob", None), t0), Some(true));
    }
}
