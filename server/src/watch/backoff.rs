//! How a watch retries after an error: quickly at first, then every few seconds, never minutes.
//!
//! kube-runtime's default backoff grows to 30 s, so a cluster back from an outage could stay "unreachable" in
//! Fleetpane for half a minute. On-call needs it back within seconds; the price is one LIST attempt per kind
//! every [`MAX_DELAY`] while a cluster is down, which an apiserver that is down does not feel. A little
//! jitter keeps the watches of many clusters from retrying in lockstep.

use std::time::Duration;

use kube::runtime::utils::Backoff;

/// The first retry.
pub const MIN_DELAY: Duration = Duration::from_millis(250);
/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(4);

/// Exponential from [`MIN_DELAY`] to [`MAX_DELAY`], doubled each time, up to 20 % shorter at random; reset
/// by the watcher once a connection succeeds.
#[derive(Debug, Clone)]
pub struct Reconnect {
    next: Duration,
    seed: u64,
}

impl Default for Reconnect {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        Self { next: MIN_DELAY, seed }
    }
}

impl Reconnect {
    /// A backoff whose jitter follows `seed` (for tests).
    pub fn seeded(seed: u64) -> Self {
        Self { next: MIN_DELAY, seed }
    }
}

impl Iterator for Reconnect {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // xorshift: cheap, good enough to spread retries.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let cut = self.next.mul_f64((self.seed % 1000) as f64 / 5000.0);
        let delay = self.next - cut;
        self.next = (self.next * 2).min(MAX_DELAY);
        Some(delay)
    }
}

impl Backoff for Reconnect {
    fn reset(&mut self) {
        self.next = MIN_DELAY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut b = Reconnect::seeded(42);
        let delays: Vec<Duration> = b.by_ref().take(8).collect();
        let nominal = [250, 500, 1000, 2000, 4000, 4000, 4000, 4000].map(Duration::from_millis);
        for (d, n) in delays.iter().zip(nominal) {
            assert!(*d <= n && *d >= n.mul_f64(0.8), "{d:?} vs {n:?}");
        }
        assert!(delays.windows(2).any(|w| w[0] != w[1]), "jitter: {delays:?}");
        b.reset();
        assert!(b.next().is_some_and(|d| d <= MIN_DELAY));
    }
}
