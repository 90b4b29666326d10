//! [`Labels`]: a small sorted map of labels, compact in memory.
//!
//! A `BTreeMap<String, String>` allocates a whole B-tree leaf (11 keys and 11 values, over 500 bytes) as soon as
//! it holds one label. Every cached pod and Service holds labels, so the caches keep them as one boxed slice of
//! pairs sorted by key instead: two labels cost 96 bytes plus their text. Lookups are binary searches; the few
//! writers (tests, parsers) rebuild the slice.

use std::{collections::BTreeMap, fmt};

/// Labels (or a selector's `matchLabels`): keys unique and sorted, like a `BTreeMap<String, String>` with the
/// same reading API (`get`, `iter`, `len`, `contains_key`, indexing by key).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Box<[(String, String)]>);

impl Labels {
    /// No labels.
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// The labels, by key.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &String)> + ExactSizeIterator + Clone {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + Clone {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values, by key.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + Clone {
        self.0.iter().map(|(_, v)| v)
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets `key` to `value`; returns the previous value.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                let mut pairs = std::mem::take(&mut self.0).into_vec();
                pairs.insert(i, (key, value));
                self.0 = pairs.into_boxed_slice();
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.position(key).ok()?;
        let mut pairs = std::mem::take(&mut self.0).into_vec();
        let (_, value) = pairs.remove(i);
        self.0 = pairs.into_boxed_slice();
        Some(value)
    }

    /// Removes every label.
    pub fn clear(&mut self) {
        self.0 = Box::default();
    }

    /// A copy as a `BTreeMap`.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Labels {
    /// Sorted by key; a repeated key keeps its last value, as when collecting into a map.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut pairs: Vec<(String, String)> = iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        // Stable: equal keys keep their order, so the last one is the one kept below.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match unique.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => unique.push(pair),
            }
        }
        Self(unique.into_boxed_slice())
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        // Already sorted and unique.
        Self(map.into_iter().collect::<Vec<_>>().into_boxed_slice())
    }
}

impl From<&BTreeMap<String, String>> for Labels {
    fn from(map: &BTreeMap<String, String>) -> Self {
        Self(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>().into_boxed_slice())
    }
}

impl<const N: usize> From<[(String, String); N]> for Labels {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a String, &'a String);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, String)>, fn(&'a (String, String)) -> Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for Labels {
    type Output = String;

    /// The value of `key`; panics when it is not set (as a `BTreeMap` does).
    #[allow(clippy::panic)] // Indexing's contract, as for maps: a missing key is the caller's bug (use `get`).
    fn index(&self, key: &str) -> &String {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no label {key:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn reads_like_a_sorted_map() {
        let l = labels(&[("tier", "web"), ("app", "checkout"), ("app", "cart")]);
        assert_eq!(l.len(), 2, "a repeated key keeps one entry");
        assert_eq!(l.get("app").map(String::as_str), Some("cart"), "the last value wins");
        assert_eq!(l["tier"], "web");
        assert!(l.contains_key("tier") && !l.contains_key("zone"));
        assert_eq!(l.get("zone"), None);
        let keys: Vec<&str> = l.keys().map(String::as_str).collect();
        assert_eq!(keys, ["app", "tier"]);
        let pairs: Vec<(&String, &String)> = (&l).into_iter().collect();
        assert_eq!(pairs, l.iter().collect::<Vec<_>>());
        assert_eq!(format!("{l:?}"), r#"{"app": "cart", "tier": "web"}"#);
    }

    #[test]
    fn equals_the_map_it_was_made_from() {
        let map: BTreeMap<String, String> =
            [("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())].into();
        let l = Labels::from(&map);
        assert_eq!(l, Labels::from(map.clone()));
        assert_eq!(l, labels(&[("a", "1"), ("b", "2")]));
        assert_ne!(l, labels(&[("a", "1")]));
        assert_eq!(l.to_map(), map);
    }

    #[test]
    fn insert_remove_and_clear_keep_it_sorted() {
        let mut l = Labels::new();
        assert!(l.is_empty());
        assert_eq!(l.insert("b".into(), "2".into()), None);
        assert_eq!(l.insert("a".into(), "1".into()), None);
        assert_eq!(l.insert("b".into(), "3".into()), Some("2".into()));
        assert_eq!(l, labels(&[("a", "1"), ("b", "3")]));
        assert_eq!(l.remove("a"), Some("1".into()));
        assert_eq!(l.remove("a"), None);
        assert_eq!(l, labels(&[("b", "3")]));
        l.clear();
        assert!(l.is_empty());
    }
}
