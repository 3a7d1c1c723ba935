//! The per-source request rate limit: a token bucket for each source
//! address, kept in a bounded map.
//!
//! A source is an IPv4 address, or an IPv6 address's /64 (the block one
//! host is usually given, so an attacker cannot dodge the limit by changing
//! the low bits). It only answers "admit or wait this long"; the server
//! turns a refusal into `429` with `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sources tracked at most: past this, idle sources are forgotten first,
/// then the longest unseen. A forgotten source starts again with a full
/// bucket, which is what an idle one has anyway.
pub const MAX_SOURCES: usize = 10_000;

/// The rate allowed to each source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second a source may keep up; `0` (or less) turns the
    /// limit off.
    pub per_sec: f64,
    /// Requests a source may send at once before the rate applies.
    pub burst: u32,
}

impl RateLimit {
    /// No limit.
    pub const OFF: RateLimit = RateLimit {
        per_sec: 0.0,
        burst: 1,
    };

    fn is_off(&self) -> bool {
        !(self.per_sec > 0.0 && self.per_sec.is_finite())
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by source.
#[derive(Debug)]
pub(super) struct RateLimiter {
    limit: RateLimit,
    max_sources: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(super) fn new(limit: RateLimit) -> Self {
        Self::bounded(limit, MAX_SOURCES)
    }

    fn bounded(limit: RateLimit, max_sources: usize) -> Self {
        RateLimiter {
            limit,
            max_sources: max_sources.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `source` at `now`: `Ok` to serve it, or how
    /// long until the source may send the next one.
    pub(super) fn admit(&self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.limit.is_off() {
            return Ok(());
        }
        let source = key(source);
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&source) && buckets.len() >= self.max_sources {
            self.evict(&mut buckets, now, burst);
        }
        let bucket = buckets.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens = self.refilled(bucket, now, burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_secs_f64(missing / self.limit.per_sec))
        }
    }

    /// Gives `source` back the request it was charged (never past its
    /// burst): for a request that turned out to be welcome.
    pub(super) fn refund(&self, source: IpAddr) {
        if self.limit.is_off() {
            return;
        }
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = buckets.get_mut(&key(source)) {
            bucket.tokens = (bucket.tokens + 1.0).min(burst);
        }
    }

    /// Sources tracked now.
    #[cfg(test)]
    fn sources(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn refilled(&self, bucket: &Bucket, now: Instant, burst: f64) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.limit.per_sec).min(burst)
    }

    /// Makes room: first every source whose bucket is full again (it is
    /// as if never seen), then, if that freed too little, the longest
    /// unseen quarter, so a flood of new sources costs one sort per
    /// quarter of the map rather than one scan per request.
    fn evict(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant, burst: f64) {
        buckets.retain(|_, b| self.refilled(b, now, burst) < burst);
        let keep = self.max_sources - self.max_sources.div_ceil(4);
        if buckets.len() > keep {
            let mut seen: Vec<(Instant, IpAddr)> =
                buckets.iter().map(|(k, b)| (b.at, *k)).collect();
            seen.sort_unstable();
            for (_, source) in seen.iter().take(buckets.len() - keep) {
                buckets.remove(source);
            }
        }
    }
}

/// The source an address counts as: itself for IPv4 (and IPv4-mapped
/// IPv6), its /64 for IPv6.
fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_source_gets_its_burst_then_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_sec: 2.0,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(ip("192.0.2.1"), t0), Ok(()));
        }
        let wait = limiter.admit(ip("192.0.2.1"), t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another source is not affected.
        assert_eq!(limiter.admit(ip("192.0.2.2"), t0), Ok(()));
        // Half a second later, one more.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.admit(ip("192.0.2.1"), t1), Ok(()));
        assert!(limiter.admit(ip("192.0.2.1"), t1).is_err());
        // A long pause refills the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limiter.admit(ip("192.0.2.1"), t2), Ok(()));
        }
        assert!(limiter.admit(ip("192.0.2.1"), t2).is_err());
    }

    #[test]
    fn a_refunded_request_is_not_counted() {
        let limiter = RateLimiter::new(RateLimit {
            per_sec: 0.001,
            burst: 2,
        });
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(limiter.admit(ip("192.0.2.1"), now), Ok(()));
            limiter.refund(ip("192.0.2.1"));
        }
        assert_eq!(limiter.admit(ip("192.0.2.1"), now), Ok(()));
        assert_eq!(limiter.admit(ip("192.0.2.1"), now), Ok(()));
        assert!(limiter.admit(ip("192.0.2.1"), now).is_err());
        limiter.refund(ip("192.0.2.1"));
        limiter.refund(ip("192.0.2.1"));
        limiter.refund(ip("192.0.2.1"));
        assert_eq!(limiter.admit(ip("192.0.2.1"), now), Ok(()));
        assert_eq!(limiter.admit(ip("192.0.2.1"), now), Ok(()));
        assert!(
            limiter.admit(ip("192.0.2.1"), now).is_err(),
            "never past the burst"
        );
    }

    #[test]
    fn an_ipv6_source_is_its_slash_64() {
        let limiter = RateLimiter::new(RateLimit {
            per_sec: 1.0,
            burst: 1,
        });
        let now = Instant::now();
        assert_eq!(limiter.admit(ip("2001:db8:1:2::1"), now), Ok(()));
        assert!(limiter.admit(ip("2001:db8:1:2::ffff"), now).is_err());
        assert_eq!(limiter.admit(ip("2001:db8:1:3::1"), now), Ok(()));
        assert_eq!(limiter.admit(ip("::ffff:192.0.2.9"), now), Ok(()));
        assert!(limiter.admit(ip("192.0.2.9"), now).is_err(), "mapped = v4");
    }

    #[test]
    fn off_admits_everything() {
        let limiter = RateLimiter::new(RateLimit::OFF);
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(limiter.admit(ip("192.0.2.1"), now), Ok(()));
        }
        assert_eq!(limiter.sources(), 0);
    }

    #[test]
    fn the_map_stays_bounded_and_forgets_the_longest_unseen() {
        let limiter = RateLimiter::bounded(
            RateLimit {
                per_sec: 0.001,
                burst: 1,
            },
            100,
        );
        let t0 = Instant::now();
        // The first source is throttled.
        assert_eq!(limiter.admit(ip("198.51.100.1"), t0), Ok(()));
        assert!(limiter.admit(ip("198.51.100.1"), t0).is_err());
        // A thousand others arrive later, one after the other.
        for i in 0..1000u32 {
            let at = t0 + Duration::from_millis(u64::from(i) + 1);
            let source = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(limiter.admit(source, at), Ok(()));
            assert!(limiter.sources() <= 100);
        }
        // The first was forgotten: it starts again with a full bucket.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(limiter.admit(ip("198.51.100.1"), later), Ok(()));
        // The most recent ones are still throttled.
        let recent = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + 999));
        assert!(limiter.admit(recent, later).is_err());
    }
}
