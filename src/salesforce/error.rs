//! [`SalesforceError`]: every way a Salesforce call can fail, with
//! [`SalesforceError::is_transient`] deciding whether trying again may help.

use std::time::Duration;

use serde_json::Value;

use super::auth::AuthError;
use super::bulk::JobState;
use super::retry;

/// A failed Salesforce call. Messages never contain the access token or the private key.
#[derive(Debug, thiserror::Error)]
pub enum SalesforceError {
    /// Logging in failed, or Salesforce refused a freshly issued token.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Salesforce answered with an error (after retries, if the error was transient).
    #[error("Salesforce answered HTTP {status} {error_code} to {call}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Salesforce's `errorCode` (`HTTP_<status>` when the body had none).
        error_code: String,
        /// Salesforce's message (truncated).
        message: String,
        /// What was being done.
        call: String,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// `403 REQUEST_LIMIT_EXCEEDED`: the org's API allowance is used up. Not retried.
    #[error(
        "Salesforce refused {call} with REQUEST_LIMIT_EXCEEDED ({message}): the org's API request limit is used up; nothing is retried until the rolling 24-hour allowance recovers"
    )]
    RequestLimitExceeded {
        /// Salesforce's message, e.g. "TotalRequests Limit exceeded.".
        message: String,
        /// What was being done.
        call: String,
    },
    /// The last `Sforce-Limit-Info` put usage at or above the configured stop fraction.
    #[error(
        "the org's daily API allowance is nearly used ({used} of {max} requests, stop at {stop_percent}%): the engine stops starting new work until usage falls"
    )]
    AllowanceNearlyUsed {
        /// Requests used in the rolling 24 hours.
        used: u64,
        /// The allowance.
        max: u64,
        /// The configured stop fraction, in percent.
        stop_percent: u32,
    },
    /// Salesforce could not be reached or the connection broke (after retries).
    #[error("could not complete {call}: {source}")]
    Transport {
        /// What was being done.
        call: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration or a call's arguments are invalid.
    #[error("invalid Salesforce client configuration: {0}")]
    Config(String),
    /// Salesforce answered 2xx with a body the client cannot read.
    #[error("unexpected answer from Salesforce to {call}: {detail}")]
    Protocol {
        /// What was being done.
        call: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// A job is in a state the operation cannot work with (e.g. waiting on an `Open` job).
    #[error("job {job_id} is {state}: {hint}")]
    JobState {
        /// The job.
        job_id: String,
        /// Its state.
        state: JobState,
        /// What to do.
        hint: &'static str,
    },
    /// A job did not reach a final state within the poll timeout.
    #[error(
        "job {job_id} is still {state} after {waited:?}; giving up waiting (the job keeps running in Salesforce)"
    )]
    JobTimeout {
        /// The job.
        job_id: String,
        /// Its last state.
        state: JobState,
        /// How long the client waited.
        waited: Duration,
    },
}

impl SalesforceError {
    /// Whether trying the same call again may succeed: 5xx, 429, lock contention and
    /// connection failures. `REQUEST_LIMIT_EXCEEDED`, auth, data and config errors are not.
    pub fn is_transient(&self) -> bool {
        match self {
            SalesforceError::Api {
                status, error_code, ..
            } => retry::is_transient_api(*status, error_code),
            SalesforceError::Transport { source, .. } => retry::is_transient_transport(source),
            SalesforceError::Auth(_)
            | SalesforceError::RequestLimitExceeded { .. }
            | SalesforceError::AllowanceNearlyUsed { .. }
            | SalesforceError::Io { .. }
            | SalesforceError::Config(_)
            | SalesforceError::Protocol { .. }
            | SalesforceError::JobState { .. }
            | SalesforceError::JobTimeout { .. } => false,
        }
    }

    /// The server's `Retry-After` for this error, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SalesforceError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Salesforce's `errorCode`, for API errors.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            SalesforceError::Api { error_code, .. } => Some(error_code),
            SalesforceError::RequestLimitExceeded { .. } => Some("REQUEST_LIMIT_EXCEEDED"),
            _ => None,
        }
    }

    pub(crate) fn transport(call: &str, source: reqwest::Error) -> SalesforceError {
        SalesforceError::Transport {
            call: call.to_string(),
            source: source.without_url(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> SalesforceError {
        SalesforceError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn protocol(call: &str, detail: impl Into<String>) -> SalesforceError {
        SalesforceError::Protocol {
            call: call.to_string(),
            detail: detail.into(),
        }
    }
}

/// Longest error message kept from a response body.
const MAX_MESSAGE_CHARS: usize = 600;

/// The `errorCode` and `message` of an error body: Salesforce's JSON array
/// `[{"errorCode": "...", "message": "..."}]`, a single such object, an OAuth
/// `{"error", "error_description"}` pair, or anything else (HTML, text) as the message.
pub fn parse_error_body(status: u16, body: &[u8]) -> (String, String) {
    let fallback_code = || format!("HTTP_{status}");
    let first = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items.into_iter().next(),
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    };
    if let Some(v) = first {
        let code = v
            .get("errorCode")
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let message = v
            .get("message")
            .or_else(|| v.get("error_description"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if code.is_some() || message.is_some() {
            return (
                code.unwrap_or_else(fallback_code),
                truncate(message.unwrap_or_default()),
            );
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (fallback_code(), truncate(text))
}

fn truncate(mut s: String) -> String {
    if let Some((cut, _)) = s.char_indices().nth(MAX_MESSAGE_CHARS) {
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_every_shape_give_a_code_and_message() {
        assert_eq!(
            parse_error_body(
                404,
                br#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#
            ),
            (
                "NOT_FOUND".into(),
                "The requested resource does not exist".into()
            )
        );
        assert_eq!(
            parse_error_body(
                400,
                br#"{"error":"invalid_grant","error_description":"audience is invalid"}"#
            ),
            ("invalid_grant".into(), "audience is invalid".into())
        );
        assert_eq!(
            parse_error_body(503, b"<html>\n<body>Down for maintenance</body></html>"),
            (
                "HTTP_503".into(),
                "<html> <body>Down for maintenance</body></html>".into()
            )
        );
        let (_, long) = parse_error_body(500, "x".repeat(5000).as_bytes());
        assert!(long.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn transience_follows_the_status_and_code() {
        let api = |status: u16, code: &str| SalesforceError::Api {
            status,
            error_code: code.into(),
            message: String::new(),
            call: "test".into(),
            retry_after: None,
        };
        assert!(api(503, "SERVER_UNAVAILABLE").is_transient());
        assert!(api(500, "UNKNOWN_EXCEPTION").is_transient());
        assert!(api(429, "REQUEST_LIMIT_EXCEEDED").is_transient());
        assert!(!api(400, "INVALIDJOBSTATE").is_transient());
        assert!(!api(404, "NOT_FOUND").is_transient());
        assert!(
            !SalesforceError::RequestLimitExceeded {
                message: "TotalRequests Limit exceeded.".into(),
                call: "x".into()
            }
            .is_transient()
        );
        let e = SalesforceError::AllowanceNearlyUsed {
            used: 91,
            max: 100,
            stop_percent: 90,
        };
        assert!(!e.is_transient());
        assert!(e.to_string().contains("daily API allowance is nearly used"));
        assert!(e.to_string().contains("stops starting new work"));
    }
}
