//! Retry and poll *timing*: exponential delays with jitter and caps, built on backon.
//!
//! Nothing here knows Salesforce or Shopify. Which failures are worth another attempt is
//! decided by a [`RetryLogic`] (one per service: `salesforce::retry`, `shopify::client`); this
//! module only decides *when* the next attempt happens.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

/// Decides which errors are retried and whether the server asked for a specific wait.
pub trait RetryLogic {
    /// The error of one attempt.
    type Error;
    /// Whether another attempt may succeed.
    fn is_retriable(&self, error: &Self::Error) -> bool;
    /// A server-provided wait (`Retry-After`), if any.
    fn retry_after(&self, error: &Self::Error) -> Option<Duration>;
}

/// Timing of retries of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryTiming {
    /// Attempts after the first one.
    pub max_retries: usize,
    /// First delay before jitter.
    pub min_delay: Duration,
    /// Longest delay before jitter (jitter adds up to the same amount again).
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl RetryTiming {
    /// Exponential (factor 2) with jitter, `min_delay..=max_delay`, `max_retries` times.
    pub fn builder(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
    }

    /// The wait before the next attempt: `None` when the retries are used up; otherwise
    /// the computed delay, or the server's `Retry-After` (capped) when that is longer.
    pub fn next_delay(
        &self,
        computed: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let computed = computed?;
        match retry_after {
            Some(hint) => Some(hint.min(self.max_retry_after).max(computed)),
            None => Some(computed),
        }
    }
}

/// How job polling waits between checks: exponential growth with jitter, capped.
///
/// Delay `n` is `initial * factor^n`, held at `max / 2` when jitter is on (at `max` when it
/// is off); jitter then adds a random share of up to the same amount again, so no delay
/// exceeds `max`. Never a fixed interval: many jobs polled together spread out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollBackoff {
    /// The first delay (before jitter).
    pub initial: Duration,
    /// Growth per poll (`>= 1.0`).
    pub factor: f32,
    /// No delay of the schedule is longer than this. (A Bulk job's next poll timed from
    /// the pace it has shown may be: see `SalesforceClient::wait_for_ingest`.)
    pub max: Duration,
    /// Randomize each delay so concurrent pollers do not march in step.
    pub jitter: bool,
}

impl Default for PollBackoff {
    fn default() -> PollBackoff {
        PollBackoff {
            initial: Duration::from_millis(250),
            factor: 2.0,
            max: Duration::from_secs(10),
            jitter: true,
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Shopify writes fractional seconds ("2.0").
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Runs `operation` until it succeeds, fails with an error `logic` does not retry, or the
/// retries of `timing` are used up (the last error is returned).
pub async fn retry_with<L, T, F, Fut>(
    timing: &RetryTiming,
    logic: &L,
    what: &str,
    operation: F,
) -> Result<T, L::Error>
where
    L: RetryLogic,
    L::Error: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, L::Error>>,
{
    retry_notifying(timing, logic, what, operation, |_, _| {}).await
}

/// [`retry_with`], calling `on_retry` with each failure that is retried, as it happens
/// (a caller that must report every failed attempt, not only the last).
pub async fn retry_notifying<L, T, F, Fut, N>(
    timing: &RetryTiming,
    logic: &L,
    what: &str,
    operation: F,
    mut on_retry: N,
) -> Result<T, L::Error>
where
    L: RetryLogic,
    L::Error: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, L::Error>>,
    N: FnMut(&L::Error, Duration),
{
    operation
        .retry(timing.builder())
        .sleep(tokio::time::sleep)
        .when(|e| logic.is_retriable(e))
        .adjust(|e, computed| timing.next_delay(computed, logic.retry_after(e)))
        .notify(|e, delay| {
            tracing::warn!(
                message = "Call failed; retrying.",
                call = what,
                error = %e,
                delay_ms = delay.as_millis() as u64,
            );
            on_retry(e, delay);
        })
        .await
}

impl PollBackoff {
    /// An endless series of poll delays (see [`PollBackoff`] for the shape).
    pub fn delays(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        let cap = self.max;
        let base_cap = if self.jitter { cap / 2 } else { cap };
        let mut builder = ExponentialBuilder::default()
            .with_factor(self.factor)
            .with_min_delay(self.initial.min(base_cap.max(Duration::from_millis(1))))
            .with_max_delay(base_cap.max(Duration::from_millis(1)))
            .without_max_times();
        if self.jitter {
            builder = builder.with_jitter();
        }
        builder.build().map(move |d| d.min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn poll_delays_grow_jitter_and_never_pass_the_cap() {
        let poll = PollBackoff {
            initial: Duration::from_millis(250),
            factor: 2.0,
            max: Duration::from_secs(10),
            jitter: true,
        };
        let delays: Vec<Duration> = poll.delays().take(40).collect();
        assert!(delays[0] >= Duration::from_millis(250));
        assert!(delays[0] < Duration::from_millis(500));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(10)));
        assert!(delays[39] >= Duration::from_secs(5), "{:?}", delays[39]);
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 30, "jitter spreads the delays");
    }

    #[test]
    fn without_jitter_polls_double_up_to_the_cap() {
        let poll = PollBackoff {
            initial: Duration::from_millis(100),
            factor: 2.0,
            max: Duration::from_millis(500),
            jitter: false,
        };
        let ms: Vec<u128> = poll.delays().take(5).map(|d| d.as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let t = RetryTiming {
            max_retries: 3,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
        };
        let ms = Duration::from_millis;
        assert_eq!(t.next_delay(None, Some(ms(10))), None);
        assert_eq!(t.next_delay(Some(ms(100)), None), Some(ms(100)));
        assert_eq!(t.next_delay(Some(ms(100)), Some(ms(2000))), Some(ms(2000)));
        assert_eq!(
            t.next_delay(Some(ms(100)), Some(Duration::from_secs(600))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(t.next_delay(Some(ms(300)), Some(ms(1))), Some(ms(300)));
    }

    struct EveryError;
    impl RetryLogic for EveryError {
        type Error = String;
        fn is_retriable(&self, e: &String) -> bool {
            e != "fatal"
        }
        fn retry_after(&self, _: &String) -> Option<Duration> {
            None
        }
    }

    #[tokio::test]
    async fn retries_stop_at_the_limit_or_at_a_permanent_error() {
        let t = RetryTiming {
            max_retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_retry_after: Duration::from_millis(2),
        };
        let calls = AtomicUsize::new(0);
        let r: Result<(), String> = retry_with(&t, &EveryError, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err("flaky".to_string())
        })
        .await;
        assert_eq!(r.unwrap_err(), "flaky");
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        calls.store(0, Ordering::SeqCst);
        let r: Result<(), String> = retry_with(&t, &EveryError, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err("fatal".to_string())
        })
        .await;
        assert_eq!(r.unwrap_err(), "fatal");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
