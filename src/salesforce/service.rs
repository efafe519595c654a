//! [`SalesforceClient`]: the one send path every Salesforce API call takes.
//!
//! Per attempt: wait on the rate limiter → attach the cached token (logging in if there is
//! none) → send → record `Sforce-Limit-Info` → on `401 INVALID_SESSION_ID` log in again and
//! repeat once → hand a 2xx response to the caller's handler, or turn the answer into a
//! [`SalesforceError`]. Attempts are repeated by [`backoff::retry_with`] while the error is
//! transient (classified in [`super::retry`]).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Response;
use serde::de::DeserializeOwned;

use super::auth::{AuthError, TokenCache};
use super::config::SalesforceConfig;
use super::error::{SalesforceError, parse_error_body};
use super::limits::{ApiUsage, UsageTracker};
use super::request::ApiRequest;
use super::retry::{self, Classification, SalesforceRetryLogic};
use crate::backoff::{self, RetryTiming};

/// Longest error body read (HTML error pages can be large).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A Salesforce org connection. Clones share the HTTP client, the session, the rate
/// limiter and the usage counter. `Debug` shows no token or key.
#[derive(Clone)]
pub struct SalesforceClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: SalesforceConfig,
    http: reqwest::Client,
    tokens: TokenCache,
    limiter: DefaultDirectRateLimiter,
    usage: UsageTracker,
    retry: RetryTiming,
}

impl SalesforceClient {
    /// Validates the configuration, parses the private key and builds the HTTP client.
    /// Does not log in yet (see [`SalesforceClient::login`]).
    pub fn new(config: SalesforceConfig) -> Result<SalesforceClient, SalesforceError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("shopforce/", env!("CARGO_PKG_VERSION")))
            .gzip(true)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| SalesforceError::Config(format!("cannot build the HTTP client: {e}")))?;
        SalesforceClient::with_http_client(config, http)
    }

    /// Like [`SalesforceClient::new`] over an existing HTTP client (one per process).
    pub fn with_http_client(
        config: SalesforceConfig,
        http: reqwest::Client,
    ) -> Result<SalesforceClient, SalesforceError> {
        config.validate()?;
        let tokens = TokenCache::new(&config)?;
        let rate = config.requests_per_second;
        let limiter = RateLimiter::direct(Quota::per_second(rate).allow_burst(rate));
        let retry = config.retry_timing();
        Ok(SalesforceClient {
            inner: Arc::new(Inner {
                config,
                http,
                tokens,
                limiter,
                usage: UsageTracker::default(),
                retry,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &SalesforceConfig {
        &self.inner.config
    }

    /// Logs in now unless a session is cached, so bad credentials show at start-up.
    /// Transient failures (5xx, connection errors) are retried.
    pub async fn login(&self) -> Result<(), SalesforceError> {
        self.session_url().await.map(|_| ())
    }

    /// The instance URL of the current session (logging in if needed).
    pub async fn instance_url(&self) -> Result<String, SalesforceError> {
        self.session_url().await
    }

    async fn session_url(&self) -> Result<String, SalesforceError> {
        let inner = &self.inner;
        backoff::retry_with(&inner.retry, &SalesforceRetryLogic, "login", || async {
            let session = inner.tokens.session(&inner.http, &inner.config).await?;
            Ok(session.instance_url().to_string())
        })
        .await
    }

    /// Successful logins by this client (and its clones) so far.
    pub fn login_count(&self) -> u64 {
        self.inner.tokens.logins()
    }

    /// The org's API usage from the latest response that reported it.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.inner.usage.latest()
    }

    /// Fails with [`SalesforceError::AllowanceNearlyUsed`] once the last reported usage
    /// reaches `api_usage_stop_fraction` of the daily allowance. Unknown usage (no call
    /// made yet) passes. The engine calls this before starting new work; jobs already
    /// running are still polled and their results fetched.
    pub fn ensure_allowance(&self) -> Result<(), SalesforceError> {
        let stop = self.inner.config.api_usage_stop_fraction;
        match self.api_usage() {
            Some(usage) if usage.fraction() >= stop => {
                tracing::warn!(
                    message = "Daily API allowance nearly used; not starting new work.",
                    used = usage.used,
                    max = usage.max,
                );
                Err(SalesforceError::AllowanceNearlyUsed {
                    used: usage.used,
                    max: usage.max,
                    stop_percent: (stop * 100.0).round() as u32,
                })
            }
            _ => Ok(()),
        }
    }

    /// Sends `request` (with retries) and passes the 2xx response to `handle`. Errors of
    /// `handle` that are transient (a body cut off mid-stream) repeat the whole call.
    pub(crate) async fn execute<T, H, Fut>(
        &self,
        request: &ApiRequest,
        handle: H,
    ) -> Result<T, SalesforceError>
    where
        H: Fn(Response) -> Fut,
        Fut: Future<Output = Result<T, SalesforceError>>,
    {
        backoff::retry_with(
            &self.inner.retry,
            &SalesforceRetryLogic,
            &request.call,
            || self.attempt(request, &handle),
        )
        .await
    }

    /// Sends `request` and parses the JSON answer.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
    ) -> Result<T, SalesforceError> {
        let call = request.call.as_str();
        self.execute(request, |response| async move {
            let body = response
                .bytes()
                .await
                .map_err(|e| SalesforceError::transport(call, e))?;
            serde_json::from_slice(&body)
                .map_err(|e| SalesforceError::protocol(call, format!("unreadable JSON: {e}")))
        })
        .await
    }

    /// Sends `request` and ignores the (2xx) answer's body.
    pub(crate) async fn execute_empty(&self, request: &ApiRequest) -> Result<(), SalesforceError> {
        let call = request.call.as_str();
        self.execute(request, |response| async move {
            response
                .bytes()
                .await
                .map_err(|e| SalesforceError::transport(call, e))?;
            Ok(())
        })
        .await
    }

    /// One attempt, including at most one renewal of an expired session.
    async fn attempt<T, H, Fut>(
        &self,
        request: &ApiRequest,
        handle: &H,
    ) -> Result<T, SalesforceError>
    where
        H: Fn(Response) -> Fut,
        Fut: Future<Output = Result<T, SalesforceError>>,
    {
        let inner = &self.inner;
        let mut renewed = false;
        loop {
            inner.limiter.until_ready().await;
            let session = inner.tokens.session(&inner.http, &inner.config).await?;
            let response = request
                .build(&inner.http, &session, &inner.config.api_version)
                .await?
                .send()
                .await
                .map_err(|e| SalesforceError::transport(&request.call, e))?;
            inner.usage.observe(response.headers());
            let status = response.status();
            if status.is_success() {
                return handle(response).await;
            }
            let retry_after = retry::retry_after(response.headers());
            let body = read_limited(response, MAX_ERROR_BODY).await;
            let (error_code, message) = parse_error_body(status.as_u16(), &body);
            match retry::classify(status, &error_code, &message) {
                Classification::RenewSession if !renewed => {
                    tracing::info!(
                        message = "Salesforce session expired; logging in again.",
                        call = %request.call,
                    );
                    inner.tokens.invalidate(&session).await;
                    renewed = true;
                }
                Classification::RenewSession | Classification::SessionRefused => {
                    return Err(AuthError::SessionRefused { message }.into());
                }
                Classification::RequestLimitExceeded => {
                    tracing::error!(
                        message = "Salesforce API request limit exceeded.",
                        call = %request.call,
                        detail = %message,
                    );
                    return Err(SalesforceError::RequestLimitExceeded {
                        message,
                        call: request.call.clone(),
                    });
                }
                Classification::Transient | Classification::Permanent => {
                    return Err(SalesforceError::Api {
                        status: status.as_u16(),
                        error_code,
                        message,
                        call: request.call.clone(),
                        retry_after,
                    });
                }
            }
        }
    }

    /// Default per-call deadline for small requests.
    pub(crate) fn request_timeout(&self) -> std::time::Duration {
        self.inner.config.request_timeout
    }

    /// Deadline for uploads and downloads.
    pub(crate) fn transfer_timeout(&self) -> std::time::Duration {
        self.inner.config.transfer_timeout
    }

    /// A request builder preset with the small-request deadline.
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        call: impl Into<String>,
    ) -> ApiRequest {
        ApiRequest::data(method, segments, call).timeout(self.request_timeout())
    }
}

/// Reads up to `limit` bytes of an error body; a broken body reads as what arrived.
async fn read_limited(mut response: Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

impl fmt::Debug for SalesforceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("SalesforceClient")
            .field("login_url", &c.login_url)
            .field("username", &c.username)
            .field("api_version", &c.api_version)
            .field("session", &self.inner.tokens.state())
            .field("logins", &self.login_count())
            .field("api_usage", &self.api_usage())
            .finish_non_exhaustive()
    }
}
