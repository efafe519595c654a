//! Fault injection, set with `POST /__admin/faults`: the next N requests throttled or answered
//! HTTP 429 / 503 with `Retry-After`, the next bulk operation `FAILED` (with partial data),
//! the next bulk query refused as already in progress. Each knob counts down as it fires.

use serde::{Deserialize, Serialize};

/// `BulkOperationErrorCode` values.
pub const BULK_ERROR_CODES: [&str; 3] = ["ACCESS_DENIED", "INTERNAL_SERVER_ERROR", "TIMEOUT"];

/// Pending faults. Every count is "the next N".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// GraphQL requests answered `THROTTLED` (HTTP 200) whatever the bucket holds.
    pub throttle_next: u32,
    /// GraphQL requests answered HTTP 429 with `Retry-After`.
    pub http429_next: u32,
    /// GraphQL requests answered HTTP 503 with `Retry-After`.
    pub http503_next: u32,
    /// The `Retry-After` value, in seconds (Shopify writes it as `2.0`).
    pub retry_after_secs: f64,
    /// The next bulk operation ends `FAILED` with this `errorCode`.
    pub fail_next_bulk: Option<String>,
    /// Whether that failed operation offers the lines written so far at `partialDataUrl`.
    pub fail_with_partial_data: bool,
    /// Bulk queries refused with `OPERATION_IN_PROGRESS` although none is running.
    pub reject_next_bulk: u32,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            throttle_next: 0,
            http429_next: 0,
            http503_next: 0,
            retry_after_secs: 2.0,
            fail_next_bulk: None,
            fail_with_partial_data: true,
            reject_next_bulk: 0,
        }
    }
}

/// An HTTP-level fault for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HttpFault {
    TooManyRequests { retry_after: f64 },
    Unavailable { retry_after: f64 },
}

/// How the next bulk operation is to fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkFailure {
    pub error_code: &'static str,
    pub partial_data: bool,
}

impl Faults {
    /// Checks a profile posted by a client.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(code) = &self.fail_next_bulk
            && !BULK_ERROR_CODES.contains(&code.as_str())
        {
            return Err(format!(
                "fail_next_bulk {code:?} is not a BulkOperationErrorCode (one of {})",
                BULK_ERROR_CODES.join(", ")
            ));
        }
        if !self.retry_after_secs.is_finite() || self.retry_after_secs < 0.0 {
            return Err("retry_after_secs must be a non-negative number".into());
        }
        Ok(())
    }

    /// The HTTP fault for the next GraphQL request, if one is pending (429 first).
    pub fn take_http(&mut self) -> Option<HttpFault> {
        let retry_after = self.retry_after_secs;
        if self.http429_next > 0 {
            self.http429_next -= 1;
            return Some(HttpFault::TooManyRequests { retry_after });
        }
        if self.http503_next > 0 {
            self.http503_next -= 1;
            return Some(HttpFault::Unavailable { retry_after });
        }
        None
    }

    pub fn take_throttle(&mut self) -> bool {
        take(&mut self.throttle_next)
    }

    pub fn take_bulk_rejection(&mut self) -> bool {
        take(&mut self.reject_next_bulk)
    }

    pub fn take_bulk_failure(&mut self) -> Option<BulkFailure> {
        let code = self.fail_next_bulk.take()?;
        let error_code = BULK_ERROR_CODES
            .iter()
            .copied()
            .find(|c| *c == code)
            .unwrap_or("INTERNAL_SERVER_ERROR");
        Some(BulkFailure {
            error_code,
            partial_data: self.fail_with_partial_data,
        })
    }
}

fn take(count: &mut u32) -> bool {
    if *count > 0 {
        *count -= 1;
        true
    } else {
        false
    }
}

/// `Retry-After` as Shopify writes it (`2.0`).
pub fn retry_after_header(seconds: f64) -> String {
    format!("{seconds:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_run_down_and_429_comes_before_503() {
        let mut f: Faults =
            serde_json::from_str(r#"{"http429_next": 1, "http503_next": 1, "throttle_next": 1}"#)
                .unwrap();
        assert!(matches!(
            f.take_http(),
            Some(HttpFault::TooManyRequests { .. })
        ));
        assert!(matches!(f.take_http(), Some(HttpFault::Unavailable { .. })));
        assert_eq!(f.take_http(), None);
        assert!(f.take_throttle());
        assert!(!f.take_throttle());
        assert_eq!(retry_after_header(2.0), "2.0");
    }

    #[test]
    fn bulk_failures_take_a_known_error_code() {
        let mut f = Faults {
            fail_next_bulk: Some("TIMEOUT".into()),
            ..Faults::default()
        };
        assert!(f.validate().is_ok());
        assert_eq!(
            f.take_bulk_failure(),
            Some(BulkFailure {
                error_code: "TIMEOUT",
                partial_data: true
            })
        );
        assert_eq!(f.take_bulk_failure(), None);
        let bad = Faults {
            fail_next_bulk: Some("NOPE".into()),
            ..Faults::default()
        };
        assert!(bad.validate().is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"bogus": 1}"#).is_err());
    }
}
