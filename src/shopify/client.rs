//! The Shopify Admin GraphQL client: bulk-operation exports streamed to disk, cost-aware
//! throttling, retries.
//!
//! ```text
//!  export(Export, since) ─► bulkOperationRunQuery ─► poll bulkOperation(id) with backoff
//!        │                  (OPERATION_IN_PROGRESS: wait, try again)
//!        ▼
//!  COMPLETED: stream `url` to DIR/<file>.jsonl (url null: nothing matched, empty file)
//!  FAILED / CANCELED / EXPIRED: an error naming the code (and the partial data, if any)
//! ```
//!
//! Every call passes a `governor` floor per shop, then the server's own signal: the
//! `extensions.cost.throttleStatus` of each answer is remembered, and a call that would
//! overdraw the bucket waits for it to refill; a `THROTTLED` answer (HTTP 200) or HTTP
//! 429/503 with `Retry-After` waits and tries again. A wrong access token fails at once
//! with a message saying so. The token never appears in `Debug`, logs or errors.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::queries::Export;
use crate::backoff::{PollBackoff, RetryLogic, RetryTiming, retry_with};

/// The API version the client speaks unless told otherwise.
pub const DEFAULT_API_VERSION: &str = "2026-01";

/// How to reach one shop.
#[derive(Clone)]
pub struct ShopifyConfig {
    /// `example.myshopify.com`.
    pub shop: String,
    /// The Admin API access token (`shpat_…`).
    pub access_token: SecretString,
    pub api_version: String,
    /// Base URL override (`http://127.0.0.1:PORT` for the emulator); default
    /// `https://{shop}`.
    pub api_url: Option<String>,
    /// Calls per second at most, whatever the bucket says (a floor under Shopify's limits).
    pub requests_per_second: NonZeroU32,
    /// Waits between bulk-operation status checks.
    pub poll: PollBackoff,
    /// Give up on a bulk operation after this long.
    pub bulk_timeout: Duration,
    /// Retries of one call on transport errors, 5xx, 429 and `THROTTLED`.
    pub retry: RetryTiming,
}

impl std::fmt::Debug for ShopifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyConfig")
            .field("shop", &self.shop)
            .field("access_token", &"***")
            .field("api_version", &self.api_version)
            .field("api_url", &self.api_url)
            .field("requests_per_second", &self.requests_per_second)
            .finish_non_exhaustive()
    }
}

impl ShopifyConfig {
    /// Defaults for `shop` with `access_token`.
    pub fn new(shop: impl Into<String>, access_token: SecretString) -> ShopifyConfig {
        ShopifyConfig {
            shop: shop.into(),
            access_token,
            api_version: DEFAULT_API_VERSION.to_string(),
            api_url: None,
            requests_per_second: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            poll: PollBackoff {
                initial: Duration::from_millis(500),
                factor: 1.5,
                max: Duration::from_secs(15),
                jitter: true,
            },
            bulk_timeout: Duration::from_secs(24 * 3600),
            retry: RetryTiming {
                max_retries: 8,
                min_delay: Duration::from_millis(250),
                max_delay: Duration::from_secs(30),
                max_retry_after: Duration::from_secs(120),
            },
        }
    }

    fn endpoint(&self) -> String {
        let base = self
            .api_url
            .clone()
            .unwrap_or_else(|| format!("https://{}", self.shop));
        format!(
            "{}/admin/api/{}/graphql.json",
            base.trim_end_matches('/'),
            self.api_version
        )
    }
}

/// What went wrong talking to Shopify.
#[derive(Debug, thiserror::Error)]
pub enum ShopifyError {
    #[error(
        "Shopify refused the access token for {shop} (HTTP 401): check SHOPFORCE_SHOPIFY_ACCESS_TOKEN or shopify.access_token (an Admin API token, shpat_…, of an app installed on this shop)"
    )]
    Unauthorized { shop: String },
    #[error(
        "Shopify denied access for {shop}: {message}. The app needs the read_customers, read_orders and (B2B) read_companies scopes; orders older than 60 days also need read_all_orders"
    )]
    AccessDenied { shop: String, message: String },
    #[error("Shopify is throttling {shop}: {detail}")]
    Throttled {
        shop: String,
        detail: String,
        wait: Option<Duration>,
    },
    #[error("Shopify answered HTTP {status} for {shop}: {body}")]
    Http {
        shop: String,
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("cannot reach Shopify ({shop}): {0}", shop = .1)]
    Transport(#[source] reqwest::Error, String),
    #[error("Shopify GraphQL error for {shop}: {message}")]
    GraphQl { shop: String, message: String },
    #[error("Shopify bulk operation {id} of {shop} ended {status}{code}{partial}", code = .error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(), partial = .partial_data_url.as_ref().map(|_| "; partial data is available").unwrap_or_default())]
    BulkFailed {
        shop: String,
        id: String,
        status: String,
        error_code: Option<String>,
        partial_data_url: Option<String>,
    },
    #[error("Shopify bulk operation {id} of {shop} did not finish within {waited:?}")]
    BulkTimeout {
        shop: String,
        id: String,
        waited: Duration,
    },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

impl ShopifyError {
    /// Whether another attempt of the same call may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ShopifyError::Throttled { .. } | ShopifyError::Transport(..) => true,
            ShopifyError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Retries what [`ShopifyError::is_transient`] says, waiting as the server asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShopifyRetryLogic;

impl RetryLogic for ShopifyRetryLogic {
    type Error = ShopifyError;

    fn is_retriable(&self, error: &ShopifyError) -> bool {
        error.is_transient()
    }

    fn retry_after(&self, error: &ShopifyError) -> Option<Duration> {
        match error {
            ShopifyError::Throttled { wait, .. } => *wait,
            ShopifyError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The cost bucket as Shopify last reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

impl ThrottleStatus {
    fn from_extensions(extensions: &Value) -> Option<ThrottleStatus> {
        let t = &extensions["cost"]["throttleStatus"];
        Some(ThrottleStatus {
            maximum_available: t["maximumAvailable"].as_f64()?,
            currently_available: t["currentlyAvailable"].as_f64()?,
            restore_rate: t["restoreRate"].as_f64()?,
        })
    }

    /// How long until `cost` points are available, from `elapsed` after this was read.
    pub fn wait_for(&self, cost: f64, elapsed: Duration) -> Duration {
        let now = (self.currently_available + self.restore_rate * elapsed.as_secs_f64())
            .min(self.maximum_available);
        if now >= cost || self.restore_rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((cost - now) / self.restore_rate)
    }
}

/// A bulk operation as Shopify describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperation {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub error_code: Option<String>,
    /// `UnsignedInt64` travels as a string.
    #[serde(default)]
    pub object_count: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub partial_data_url: Option<String>,
}

impl BulkOperation {
    fn is_finished(&self) -> bool {
        matches!(
            self.status.as_str(),
            "COMPLETED" | "FAILED" | "CANCELED" | "EXPIRED"
        )
    }
}

/// One downloaded export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub export: Export,
    pub path: PathBuf,
    pub bytes: u64,
    /// Objects Shopify counted (children included).
    pub objects: u64,
}

/// A client for one shop. Cheap to clone; clones share the pacing.
#[derive(Clone)]
pub struct ShopifyClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ShopifyConfig,
    endpoint: String,
    http: reqwest::Client,
    floor: DefaultDirectRateLimiter,
    bucket: Mutex<Option<(ThrottleStatus, std::time::Instant)>>,
    calls: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Cost assumed for a call before Shopify has said what calls cost (a small query; a
/// mutation costs 10).
const ASSUMED_COST: f64 = 10.0;

impl ShopifyClient {
    pub fn new(config: ShopifyConfig) -> Result<ShopifyClient, ShopifyError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ShopifyError::Transport(e, config.shop.clone()))?;
        let floor = RateLimiter::direct(Quota::per_second(config.requests_per_second));
        Ok(ShopifyClient {
            inner: Arc::new(Inner {
                endpoint: config.endpoint(),
                config,
                http,
                floor,
                bucket: Mutex::new(None),
                calls: Default::default(),
            }),
        })
    }

    pub fn shop(&self) -> &str {
        &self.inner.config.shop
    }

    /// GraphQL calls made (attempts included).
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs a GraphQL document; returns `data`. Throttling and transient failures are
    /// waited out and retried; GraphQL errors become [`ShopifyError::GraphQl`] (or
    /// [`ShopifyError::AccessDenied`]).
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Value, ShopifyError> {
        let body = json!({ "query": query, "variables": variables });
        retry_with(
            &self.inner.config.retry,
            &ShopifyRetryLogic,
            "shopify graphql",
            || self.attempt(&body),
        )
        .await
    }

    /// [`ShopifyClient::graphql`], calling `on_failure` with every failed attempt as it
    /// happens (retried ones included), for writes whose every failure must be reported.
    pub async fn graphql_reporting(
        &self,
        query: &str,
        variables: Value,
        on_failure: impl FnMut(&ShopifyError, Duration),
    ) -> Result<Value, ShopifyError> {
        let body = json!({ "query": query, "variables": variables });
        crate::backoff::retry_notifying(
            &self.inner.config.retry,
            &ShopifyRetryLogic,
            "shopify graphql",
            || self.attempt(&body),
            on_failure,
        )
        .await
    }

    async fn attempt(&self, body: &Value) -> Result<Value, ShopifyError> {
        let inner = &self.inner;
        let shop = || inner.config.shop.clone();
        inner.floor.until_ready().await;
        let wait = inner
            .bucket
            .lock()
            .ok()
            .and_then(|b| *b)
            .map(|(status, at)| status.wait_for(ASSUMED_COST, at.elapsed()))
            .unwrap_or_default();
        if !wait.is_zero() {
            tracing::debug!(shop = %inner.config.shop, wait_ms = wait.as_millis() as u64, "waiting for Shopify's cost bucket");
            tokio::time::sleep(wait).await;
        }
        inner
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = inner
            .http
            .post(&inner.endpoint)
            .header(
                "X-Shopify-Access-Token",
                inner.config.access_token.expose_secret(),
            )
            .json(body)
            .send()
            .await
            .map_err(|e| ShopifyError::Transport(e.without_url(), shop()))?;
        let status = response.status();
        let retry_after = crate::backoff::retry_after(response.headers());
        if status == StatusCode::UNAUTHORIZED {
            return Err(ShopifyError::Unauthorized { shop: shop() });
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(ShopifyError::Http {
                shop: shop(),
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
                retry_after,
            });
        }
        let mut answer: Value = response
            .json()
            .await
            .map_err(|e| ShopifyError::Transport(e.without_url(), shop()))?;
        let throttle = ThrottleStatus::from_extensions(&answer["extensions"]);
        if let (Some(t), Ok(mut bucket)) = (throttle, inner.bucket.lock()) {
            *bucket = Some((t, std::time::Instant::now()));
        }
        if let Some(errors) = answer["errors"].as_array().filter(|e| !e.is_empty()) {
            let code = |e: &Value| e["extensions"]["code"].as_str().unwrap_or("").to_string();
            let message = errors
                .iter()
                .map(|e| e["message"].as_str().unwrap_or("(no message)"))
                .collect::<Vec<_>>()
                .join("; ");
            if errors.iter().any(|e| code(e) == "THROTTLED") {
                let requested = answer["extensions"]["cost"]["requestedQueryCost"]
                    .as_f64()
                    .unwrap_or(ASSUMED_COST);
                return Err(ShopifyError::Throttled {
                    shop: shop(),
                    detail: message,
                    wait: throttle.map(|t| t.wait_for(requested, Duration::ZERO)),
                });
            }
            if errors
                .iter()
                .any(|e| code(e) == "ACCESS_DENIED" || message.contains("not approved to access"))
            {
                return Err(ShopifyError::AccessDenied {
                    shop: shop(),
                    message,
                });
            }
            if errors.iter().any(|e| code(e) == "INTERNAL_SERVER_ERROR") {
                return Err(ShopifyError::Http {
                    shop: shop(),
                    status: 500,
                    body: message,
                    retry_after: None,
                });
            }
            return Err(ShopifyError::GraphQl {
                shop: shop(),
                message,
            });
        }
        Ok(answer["data"].take())
    }

    /// Starts a bulk query. While the shop's bulk-operation slots are taken
    /// (`OPERATION_IN_PROGRESS`), waits and asks again, up to the poll schedule's patience.
    pub async fn start_bulk_query(&self, query: &str) -> Result<BulkOperation, ShopifyError> {
        const RUN: &str = "mutation Run($query: String!) { bulkOperationRunQuery(query: $query, groupObjects: false) { bulkOperation { id status } userErrors { field message code } } }";
        let mut delays = self.inner.config.poll.delays();
        let started = std::time::Instant::now();
        loop {
            let data = self.graphql(RUN, json!({ "query": query })).await?;
            let payload = &data["bulkOperationRunQuery"];
            let errors = payload["userErrors"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if errors.is_empty() {
                return serde_json::from_value(payload["bulkOperation"].clone()).map_err(|e| {
                    ShopifyError::GraphQl {
                        shop: self.shop().to_string(),
                        message: format!("unexpected bulkOperationRunQuery answer: {e}"),
                    }
                });
            }
            let message = errors
                .iter()
                .map(|e| e["message"].as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("; ");
            let in_progress = errors
                .iter()
                .any(|e| e["code"].as_str() == Some("OPERATION_IN_PROGRESS"));
            if !in_progress || started.elapsed() > self.inner.config.bulk_timeout {
                return Err(ShopifyError::GraphQl {
                    shop: self.shop().to_string(),
                    message: format!("bulkOperationRunQuery refused: {message}"),
                });
            }
            let delay = delays.next().unwrap_or(self.inner.config.poll.max);
            tracing::info!(shop = %self.shop(), delay_ms = delay.as_millis() as u64, "another bulk operation is running; waiting to start ours");
            tokio::time::sleep(delay).await;
        }
    }

    /// The bulk operation's current state.
    pub async fn bulk_operation(&self, id: &str) -> Result<BulkOperation, ShopifyError> {
        const POLL: &str = "query Poll($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount url partialDataUrl } }";
        let data = self.graphql(POLL, json!({ "id": id })).await?;
        serde_json::from_value(data["bulkOperation"].clone()).map_err(|e| ShopifyError::GraphQl {
            shop: self.shop().to_string(),
            message: format!("unexpected bulkOperation answer for {id}: {e}"),
        })
    }

    /// Asks Shopify to cancel a bulk operation.
    pub async fn cancel_bulk(&self, id: &str) -> Result<(), ShopifyError> {
        const CANCEL: &str = "mutation Cancel($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } } }";
        self.graphql(CANCEL, json!({ "id": id })).await.map(|_| ())
    }

    /// Polls until the operation is finished; `COMPLETED` is returned, anything else is
    /// [`ShopifyError::BulkFailed`].
    pub async fn wait_bulk(&self, id: &str) -> Result<BulkOperation, ShopifyError> {
        let config = &self.inner.config;
        let started = std::time::Instant::now();
        let mut delays = config.poll.delays();
        loop {
            let op = self.bulk_operation(id).await?;
            if op.is_finished() {
                if op.status == "COMPLETED" {
                    return Ok(op);
                }
                return Err(ShopifyError::BulkFailed {
                    shop: self.shop().to_string(),
                    id: op.id,
                    status: op.status,
                    error_code: op.error_code,
                    partial_data_url: op.partial_data_url,
                });
            }
            if started.elapsed() > config.bulk_timeout {
                return Err(ShopifyError::BulkTimeout {
                    shop: self.shop().to_string(),
                    id: id.to_string(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(delays.next().unwrap_or(config.poll.max)).await;
        }
    }

    /// Runs one export and streams its JSONL to `dir/<file>` (an empty file when nothing
    /// matched). `since`: only records updated at or after it.
    pub async fn export(
        &self,
        export: Export,
        since: Option<DateTime<Utc>>,
        dir: &Path,
    ) -> Result<Downloaded, ShopifyError> {
        let started = self.start_bulk_query(&export.bulk_query(since)).await?;
        tracing::info!(shop = %self.shop(), export = export.file_name(), id = %started.id, "Shopify bulk operation started");
        let done = self.wait_bulk(&started.id).await?;
        let path = dir.join(export.file_name());
        let objects = done
            .object_count
            .as_deref()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let bytes = match &done.url {
            Some(url) => self.download(url, &path).await?,
            None => {
                std::fs::write(&path, b"")
                    .map_err(|e| ShopifyError::Io(path.display().to_string(), e))?;
                0
            }
        };
        tracing::info!(shop = %self.shop(), export = export.file_name(), objects, bytes, "Shopify export downloaded");
        Ok(Downloaded {
            export,
            path,
            bytes,
            objects,
        })
    }

    /// Streams a result file to `dest` chunk by chunk (never whole in memory). The URL is
    /// pre-signed: no access token is sent with it.
    async fn download(&self, url: &str, dest: &Path) -> Result<u64, ShopifyError> {
        use futures_util::StreamExt;
        use std::io::Write;
        let shop = || self.shop().to_string();
        let response = self
            .inner
            .http
            .get(url)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .map_err(|e| ShopifyError::Transport(e.without_url(), shop()))?;
        if !response.status().is_success() {
            return Err(ShopifyError::Http {
                shop: shop(),
                status: response.status().as_u16(),
                body: "downloading a bulk operation's result".to_string(),
                retry_after: None,
            });
        }
        let io = |e| ShopifyError::Io(dest.display().to_string(), e);
        let mut file =
            std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(dest).map_err(io)?);
        let mut stream = response.bytes_stream();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ShopifyError::Transport(e.without_url(), shop()))?;
            file.write_all(&chunk).map_err(io)?;
            written += chunk.len() as u64;
        }
        file.flush().map_err(io)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_the_restore_rate() {
        let t = ThrottleStatus {
            maximum_available: 2000.0,
            currently_available: 5.0,
            restore_rate: 100.0,
        };
        assert_eq!(t.wait_for(10.0, Duration::ZERO), Duration::from_millis(50));
        assert_eq!(t.wait_for(10.0, Duration::from_millis(50)), Duration::ZERO);
        assert_eq!(t.wait_for(5.0, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_token_never_shows() {
        let config =
            ShopifyConfig::new("acme.myshopify.com", SecretString::from("shpat_secret123"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret123"), "{shown}");
        let client = ShopifyClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("secret123"));
        let err = ShopifyError::Unauthorized {
            shop: "acme.myshopify.com".into(),
        };
        assert!(!err.to_string().contains("secret123"));
    }

    #[test]
    fn endpoints_follow_the_shop_or_the_override() {
        let mut config = ShopifyConfig::new("acme.myshopify.com", SecretString::from("t"));
        assert_eq!(
            config.endpoint(),
            "https://acme.myshopify.com/admin/api/2026-01/graphql.json"
        );
        config.api_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(
            config.endpoint(),
            "http://127.0.0.1:9/admin/api/2026-01/graphql.json"
        );
    }

    #[test]
    fn transient_failures_are_the_ones_worth_repeating() {
        let http = |status| ShopifyError::Http {
            shop: "s".into(),
            status,
            body: String::new(),
            retry_after: None,
        };
        assert!(http(429).is_transient());
        assert!(http(503).is_transient());
        assert!(!http(404).is_transient());
        assert!(!ShopifyError::Unauthorized { shop: "s".into() }.is_transient());
        assert!(
            ShopifyError::Throttled {
                shop: "s".into(),
                detail: "Throttled".into(),
                wait: None
            }
            .is_transient()
        );
    }
}
