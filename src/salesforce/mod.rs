//! The engine's Salesforce client: OAuth 2.0 JWT bearer login, Bulk API 2.0 ingest and
//! query jobs, and the few REST calls the engine needs for small lookups.
//!
//! One [`SalesforceClient`] (cheap to clone, shared state behind an `Arc`) serves the whole
//! process. Every API call goes through the same path: wait on a local rate limiter, attach
//! the cached access token, send, record the `Sforce-Limit-Info` API usage, renew the token
//! once on `401 INVALID_SESSION_ID`, and retry transient failures (5xx, 429, dropped
//! connections) with exponential backoff and jitter, honouring `Retry-After`.
//! `403 REQUEST_LIMIT_EXCEEDED` is never retried.
//!
//! Contract: the engine is at-least-once. Ingest jobs upsert by external ID, so replaying a
//! job after a crash or an ambiguous failure is safe. Creating a job is not idempotent: a
//! create whose response was lost and then retried can leave an orphaned `Open` job, which
//! Salesforce deletes after 24 hours.
//!
//! # Layout
//! - [`config`]: [`SalesforceConfig`] (login URL, audience, credentials, API version, rate,
//!   retry and poll timing, allowance stop fraction). Pure validation, no I/O but the key
//!   file read.
//! - [`auth`]: the RS256 JWT bearer assertion, the token request, the shared token cache
//!   (concurrent callers trigger one login), and [`AuthError`] with an actionable message for
//!   every refusal Salesforce sends.
//! - [`request`]: request building. An [`request::ApiRequest`] describes a call without a
//!   token or host, so it can be rebuilt for every attempt (upload files are re-opened).
//! - [`service`]: [`SalesforceClient`], the send path described above.
//! - [`retry`]: retry *classification*, the domain part: which Salesforce answers are
//!   transient, which renew the session, which stop.
//! - [`backoff`] (crate level, shared with the Shopify client): retry and poll *timing*, generic: exponential delays with jitter and caps
//!   (backon), `Retry-After` handling, the [`backoff::RetryLogic`] seam.
//! - [`limits`]: [`ApiUsage`] from the `Sforce-Limit-Info` header.
//! - [`bulk`]: Bulk API 2.0 ingest jobs (create, upload, close, abort, poll, results).
//! - [`query`]: Bulk API 2.0 query jobs with `Sforce-Locator` paging.
//! - [`rest`]: REST `describe`, SOQL `query` (following `nextRecordsUrl`), `limits`.
//! - [`error`]: [`SalesforceError`] and its [`SalesforceError::is_transient`] classification.
//!
//! Secrets: the private key and the access token are held in [`SecretString`] and never
//! appear in `Debug`, `Display`, logs or errors.
//!
//! [`SalesforceClient`]: crate::salesforce::SalesforceClient
//! [`SalesforceConfig`]: crate::salesforce::SalesforceConfig
//! [`AuthError`]: crate::salesforce::AuthError
//! [`ApiUsage`]: crate::salesforce::ApiUsage
//! [`SalesforceError`]: crate::salesforce::SalesforceError
//! [`SalesforceError::is_transient`]: crate::salesforce::SalesforceError::is_transient
//! [`SecretString`]: secrecy::SecretString
//! [`config`]: crate::salesforce::config
//! [`auth`]: crate::salesforce::auth
//! [`request`]: crate::salesforce::request
//! [`request::ApiRequest`]: crate::salesforce::request::ApiRequest
//! [`service`]: crate::salesforce::service
//! [`retry`]: crate::salesforce::retry
//! [`backoff`]: crate::backoff
//! [`backoff::RetryLogic`]: crate::backoff::RetryLogic
//! [`limits`]: crate::salesforce::limits
//! [`bulk`]: crate::salesforce::bulk
//! [`query`]: crate::salesforce::query
//! [`rest`]: crate::salesforce::rest
//! [`error`]: crate::salesforce::error

pub mod auth;
pub mod bulk;
pub mod config;
pub mod error;
pub mod limits;
pub mod query;
pub mod request;
pub mod rest;
pub mod retry;
pub mod service;

pub use auth::AuthError;
pub use bulk::{
    ColumnDelimiter, IngestJobSpec, JobInfo, JobState, LineEnding, Operation, ResultBytes,
    ResultKind,
};
pub use config::{PollBackoff, SalesforceConfig};
pub use error::SalesforceError;
pub use limits::ApiUsage;
pub use query::{QueryDownload, QueryPage};
pub use request::UploadSource;
pub use service::SalesforceClient;
