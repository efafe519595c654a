//! Retry *classification*: which Salesforce answers are transient, which mean "log in
//! again", and which must stop the caller. Timing lives in [`crate::backoff`].
//!
//! Sources: Salesforce REST status codes (500 / 503 are transient, 401 `INVALID_SESSION_ID`
//! means an expired session, 403 `REQUEST_LIMIT_EXCEEDED` is the daily allowance) and the
//! behaviour of real clients (jsforce does not renew on "This session is not valid for use
//! with the REST API", which is an access policy, not an expiry).

use std::time::Duration;

use reqwest::StatusCode;

use super::error::SalesforceError;
use crate::backoff::RetryLogic;

/// What to do with one non-2xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    /// Try again after a delay (5xx, 429, lock contention).
    Transient,
    /// The session expired: log in again and repeat the call once.
    RenewSession,
    /// The session is refused for a reason a new login does not fix.
    SessionRefused,
    /// `403 REQUEST_LIMIT_EXCEEDED`: the daily allowance is used up. Stop.
    RequestLimitExceeded,
    /// Anything else: the request itself is wrong. Stop.
    Permanent,
}

/// Error codes that are transient whatever the status.
const TRANSIENT_CODES: &[&str] = &[
    "SERVER_UNAVAILABLE",
    "UNKNOWN_EXCEPTION",
    "UNABLE_TO_LOCK_ROW",
    "TOOMANYLOCKFAILURE",
];

/// 401 messages that carry `INVALID_SESSION_ID` but are not an expiry (jsforce's list).
const NOT_AN_EXPIRY: &[&str] = &[
    "not valid for use with the REST API",
    "Connected app is not attached to Agent",
];

/// Classifies a non-2xx answer by status, `errorCode` and message.
pub fn classify(status: StatusCode, error_code: &str, message: &str) -> Classification {
    if status == StatusCode::UNAUTHORIZED {
        let renewable = error_code.eq_ignore_ascii_case("INVALID_SESSION_ID")
            && !NOT_AN_EXPIRY.iter().any(|m| message.contains(m));
        return if renewable {
            Classification::RenewSession
        } else {
            Classification::SessionRefused
        };
    }
    if status == StatusCode::FORBIDDEN && error_code == "REQUEST_LIMIT_EXCEEDED" {
        return Classification::RequestLimitExceeded;
    }
    if is_transient_api(status.as_u16(), error_code) {
        Classification::Transient
    } else {
        Classification::Permanent
    }
}

/// Transient API answers: 500, 502, 503, 504, 429, and lock/availability error codes.
pub fn is_transient_api(status: u16, error_code: &str) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
        || TRANSIENT_CODES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(error_code))
}

/// Transient transport failures: connect errors, timeouts, connections dropped while
/// sending or while reading the body. Builder and redirect errors are permanent.
pub fn is_transient_transport(error: &reqwest::Error) -> bool {
    !(error.is_builder() || error.is_redirect() || error.is_status())
}

pub use crate::backoff::retry_after;

/// The Salesforce [`RetryLogic`]: retry what [`SalesforceError::is_transient`] says.
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceRetryLogic;

impl RetryLogic for SalesforceRetryLogic {
    type Error = SalesforceError;

    fn is_retriable(&self, error: &SalesforceError) -> bool {
        error.is_transient()
    }

    fn retry_after(&self, error: &SalesforceError) -> Option<Duration> {
        error.retry_after()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, RETRY_AFTER};

    #[test]
    fn answers_are_classified_like_salesforce_means_them() {
        use Classification::*;
        let c =
            |s: u16, code: &str, msg: &str| classify(StatusCode::from_u16(s).unwrap(), code, msg);
        assert_eq!(
            c(401, "INVALID_SESSION_ID", "Session expired or invalid"),
            RenewSession
        );
        assert_eq!(
            c(
                401,
                "INVALID_SESSION_ID",
                "This session is not valid for use with the REST API"
            ),
            SessionRefused
        );
        assert_eq!(
            c(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded."
            ),
            RequestLimitExceeded
        );
        assert_eq!(
            c(
                429,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded."
            ),
            Transient
        );
        assert_eq!(c(503, "SERVER_UNAVAILABLE", ""), Transient);
        assert_eq!(c(500, "UNKNOWN_EXCEPTION", ""), Transient);
        assert_eq!(c(502, "HTTP_502", "<html>"), Transient);
        assert_eq!(c(400, "UNABLE_TO_LOCK_ROW", ""), Transient);
        assert_eq!(c(400, "INVALIDJOBSTATE", ""), Permanent);
        assert_eq!(c(403, "INSUFFICIENT_ACCESS", ""), Permanent);
        assert_eq!(c(404, "NOT_FOUND", ""), Permanent);
        assert_eq!(c(501, "HTTP_501", ""), Permanent);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
