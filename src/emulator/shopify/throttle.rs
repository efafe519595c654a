//! The cost-based leaky bucket of the GraphQL Admin API, one per shop (Shopify keeps one per
//! app and shop). A request is admitted when its *requested* cost fits in what is available;
//! the *actual* cost is then kept and the difference refunded. Points come back continuously
//! at the restore rate, up to the bucket size.

use std::time::Instant;

use serde_json::{Value as Json, json};

/// A single query may not request more than this, on any plan (`MAX_COST_EXCEEDED`).
pub const MAX_SINGLE_QUERY_COST: u64 = 1000;

/// Standard plan: 100 points a second ([shopify.md] §7).
pub const DEFAULT_RESTORE_RATE: f64 = 100.0;

/// Standard plan bucket: 2000 points (Airbyte's captured `maximumAvailable`; the 20× rule).
pub const DEFAULT_BUCKET_SIZE: f64 = 2000.0;

#[derive(Debug, Clone)]
pub struct Bucket {
    pub maximum: f64,
    pub restore_rate: f64,
    available: f64,
    last: Instant,
}

/// `extensions.cost.throttleStatus`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: u64,
    pub restore_rate: f64,
}

impl ThrottleStatus {
    pub fn to_json(self) -> Json {
        json!({
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": self.currently_available,
            "restoreRate": self.restore_rate,
        })
    }
}

impl Bucket {
    pub fn new(maximum: f64, restore_rate: f64) -> Bucket {
        Bucket::new_at(maximum, restore_rate, Instant::now())
    }

    pub fn new_at(maximum: f64, restore_rate: f64, now: Instant) -> Bucket {
        Bucket {
            maximum,
            restore_rate,
            available: maximum,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.available = (self.available + elapsed * self.restore_rate).min(self.maximum);
        self.last = now;
    }

    /// Takes `cost` points if they are available; `false` (nothing taken) when throttled.
    pub fn try_take(&mut self, cost: u64, now: Instant) -> bool {
        self.refill(now);
        if cost as f64 > self.available {
            return false;
        }
        self.available -= cost as f64;
        true
    }

    /// Gives back the part of the requested cost a query did not use.
    pub fn refund(&mut self, points: u64) {
        self.available = (self.available + points as f64).min(self.maximum);
    }

    /// Empties the bucket (an injected throttle).
    pub fn drain(&mut self, now: Instant) {
        self.refill(now);
        self.available = 0.0;
    }

    pub fn status(&mut self, now: Instant) -> ThrottleStatus {
        self.refill(now);
        ThrottleStatus {
            maximum_available: self.maximum,
            currently_available: self.available.floor().max(0.0) as u64,
            restore_rate: self.restore_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_drains_throttles_and_restores() {
        let start = Instant::now();
        let mut b = Bucket::new_at(100.0, 50.0, start);
        assert!(b.try_take(60, start));
        assert!(
            !b.try_take(60, start),
            "40 left: a 60-point request is throttled"
        );
        assert_eq!(b.status(start).currently_available, 40);
        b.refund(10);
        assert_eq!(b.status(start).currently_available, 50);
        let later = start + Duration::from_millis(500);
        assert_eq!(b.status(later).currently_available, 75);
        assert!(b.try_take(60, later));
        let much_later = later + Duration::from_secs(60);
        assert_eq!(b.status(much_later).currently_available, 100);
        b.drain(much_later);
        assert_eq!(b.status(much_later).currently_available, 0);
    }

    #[test]
    fn throttle_status_has_shopify_field_names() {
        let mut b = Bucket::new(2000.0, 100.0);
        let s = b.status(Instant::now()).to_json();
        assert_eq!(s["maximumAvailable"], 2000.0);
        assert_eq!(s["restoreRate"], 100.0);
        assert_eq!(s["currentlyAvailable"], 2000);
    }
}
