//! Configuration and shared state: the shops (generated data, overlay, cost bucket, bulk
//! operations), the emulator clock, faults, statistics and webhook deliveries.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::bulk::BulkOperation;
use super::faults::Faults;
use super::store::{Overlay, ShopData, ShopView};
use super::throttle::{Bucket, DEFAULT_BUCKET_SIZE, DEFAULT_RESTORE_RATE};
use super::webhooks::{WebhookConfig, Webhooks};
use crate::shopify::generate::{ShopGenerator, StoreShape, Ts};

/// The API version the emulator implements (its 2026-01 rules: five concurrent bulk queries,
/// `groupObjects` false by default).
pub const DEFAULT_API_VERSION: &str = "2026-01";

/// Stable versions still accessible late in 2026 (shopify.md §1); older well-formed versions
/// fall forward to the oldest of these, as on Shopify.
pub const ACCESSIBLE_VERSIONS: &[&str] = &[
    "2025-10", "2026-01", "2026-04", "2026-07", "2026-10", "unstable",
];

/// Everything the emulator is started with.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The `X-Shopify-Access-Token` every shop accepts.
    pub access_token: SecretString,
    /// What to generate (customers, orders, companies, seed, shops, currency).
    pub shape: StoreShape,
    /// With one shop: its domain instead of `store-1.myshopify.com`.
    pub shop_domain: Option<String>,
    /// The version whose rules apply; requests may use any accessible version.
    pub api_version: String,
    /// Cost bucket: points restored per second.
    pub restore_rate: f64,
    /// Cost bucket: size (`maximumAvailable`).
    pub bucket_size: f64,
    /// Where webhooks go, if anywhere.
    pub webhook: Option<WebhookConfig>,
    /// A bulk operation takes at least this long from `CREATED` to done.
    pub bulk_min_duration: Duration,
    /// …plus this much per exported object.
    pub bulk_per_object: Duration,
    /// Concurrent bulk queries per shop; `None`: by API version (5 from 2026-01, 1 before).
    pub max_concurrent_bulk_queries: Option<usize>,
    /// Where result files are written (default: a fresh temporary folder, removed at stop).
    pub results_dir: Option<PathBuf>,
    /// The clock at start (default: the machine's).
    pub clock_start: Option<DateTime<Utc>>,
    /// The app's API client id: `$app` namespaces are stored as `app--{id}`.
    pub app_id: u64,
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("access_token", &"[REDACTED]")
            .field("shape", &self.shape)
            .field("shop_domain", &self.shop_domain)
            .field("api_version", &self.api_version)
            .field("restore_rate", &self.restore_rate)
            .field("bucket_size", &self.bucket_size)
            .field("webhook", &self.webhook)
            .field("bulk_min_duration", &self.bulk_min_duration)
            .field("bulk_per_object", &self.bulk_per_object)
            .finish_non_exhaustive()
    }
}

impl EmulatorConfig {
    /// Defaults (a standard plan's bucket, API 2026-01, short bulk operations) for a store
    /// of `shape` reached with `access_token`.
    pub fn new(access_token: impl Into<String>, shape: StoreShape) -> EmulatorConfig {
        EmulatorConfig {
            access_token: SecretString::from(access_token.into()),
            shape,
            shop_domain: None,
            api_version: DEFAULT_API_VERSION.to_string(),
            restore_rate: DEFAULT_RESTORE_RATE,
            bucket_size: DEFAULT_BUCKET_SIZE,
            webhook: None,
            bulk_min_duration: Duration::from_millis(50),
            bulk_per_object: Duration::from_micros(10),
            max_concurrent_bulk_queries: None,
            results_dir: None,
            clock_start: None,
            app_id: 4_242_424,
        }
    }

    /// How many bulk queries may run at once per shop.
    pub fn bulk_query_limit(&self) -> usize {
        self.max_concurrent_bulk_queries
            .unwrap_or(if version_at_least(&self.api_version, "2026-01") {
                5
            } else {
                1
            })
            .max(1)
    }

    pub fn token_matches(&self, presented: &str) -> bool {
        let expected = self.access_token.expose_secret().as_bytes();
        let presented = presented.as_bytes();
        // Length leaks; the bytes are compared without early exit.
        expected.len() == presented.len()
            && expected
                .iter()
                .zip(presented)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// Whether `version` (`YYYY-MM` or `unstable`) is `minimum` or later.
pub fn version_at_least(version: &str, minimum: &str) -> bool {
    version == "unstable" || version >= minimum
}

/// What version a request path's version resolves to: accessible versions as they are,
/// older well-formed ones fall forward to the oldest accessible, anything else is unknown.
pub fn resolve_version(requested: &str) -> Option<&'static str> {
    if let Some(v) = ACCESSIBLE_VERSIONS.iter().find(|v| **v == requested) {
        return Some(v);
    }
    let well_formed = requested.len() == 7
        && requested.as_bytes()[4] == b'-'
        && requested[..4].bytes().all(|b| b.is_ascii_digit())
        && matches!(&requested[5..], "01" | "04" | "07" | "10");
    (well_formed && requested < ACCESSIBLE_VERSIONS[0]).then_some(ACCESSIBLE_VERSIONS[0])
}

/// The emulator's clock: the machine's, shifted by what `/__admin/clock` set.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn starting_at(start: Option<DateTime<Utc>>) -> Clock {
        let clock = Clock::default();
        if let Some(t) = start {
            clock.set(t);
        }
        clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// The time as the generator's second-resolution timestamp.
    pub fn now_ts(&self) -> Ts {
        Ts(self.now().timestamp())
    }

    pub fn set(&self, t: DateTime<Utc>) {
        let offset = (t - Utc::now()).num_milliseconds();
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    pub fn advance(&self, seconds: i64) {
        self.offset_ms
            .fetch_add(seconds.saturating_mul(1000), Ordering::Relaxed);
    }
}

/// One shop and everything that changes about it.
pub struct Shop {
    pub data: ShopData,
    pub overlay: Mutex<Overlay>,
    pub bucket: Mutex<Bucket>,
    pub bulk: Mutex<Vec<BulkOperation>>,
}

impl Shop {
    pub fn domain(&self) -> &str {
        &self.data.info.domain
    }

    /// Runs `f` over a consistent view of the shop (overlay locked for the duration).
    pub fn read<T>(&self, f: impl FnOnce(&ShopView<'_>) -> T) -> T {
        let overlay = match self.overlay.lock() {
            Ok(o) => o,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&ShopView::new(&self.data, &overlay))
    }
}

/// Counters for `/__admin/stats`.
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub graphql_requests: AtomicU64,
    pub unauthorized: AtomicU64,
    pub throttled: AtomicU64,
    pub cost_used: AtomicU64,
    pub bulk_operations: AtomicU64,
    pub faults_injected: AtomicU64,
    pub result_downloads: AtomicU64,
    pub by_operation: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn count_operation(&self, name: &str) {
        if let Ok(mut map) = self.by_operation.lock() {
            *map.entry(name.to_string()).or_insert(0) += 1;
        }
    }
}

/// All state. Locks are never held across an `.await`.
pub struct EmulatorState {
    pub config: EmulatorConfig,
    /// `http://127.0.0.1:PORT`, set once bound.
    pub base_url: String,
    pub shops: Vec<Shop>,
    pub clock: Clock,
    pub faults: Mutex<Faults>,
    pub stats: Stats,
    /// Result files by their opaque name.
    pub results: Mutex<HashMap<String, PathBuf>>,
    pub results_dir: PathBuf,
    /// Whether `results_dir` is ours to delete at stop.
    pub owns_results_dir: bool,
    pub webhooks: Webhooks,
    next_bulk_id: AtomicU64,
}

impl EmulatorState {
    pub fn new(config: EmulatorConfig, base_url: String) -> Result<EmulatorState, String> {
        if resolve_version(&config.api_version).is_none() {
            return Err(format!(
                "API version {:?} is not one the emulator serves ({})",
                config.api_version,
                ACCESSIBLE_VERSIONS.join(", ")
            ));
        }
        if !(config.bucket_size > 0.0 && config.restore_rate > 0.0) {
            return Err("bucket size and restore rate must be positive".into());
        }
        let count = config.shape.shops.max(1);
        if config.shop_domain.is_some() && count > 1 {
            return Err("a shop domain can only be given for a single shop".into());
        }
        let shops = (0..count)
            .map(|s| {
                let generator = ShopGenerator::new(&config.shape, s);
                let mut info = generator.info().clone();
                if let Some(domain) = &config.shop_domain {
                    info.domain = domain.clone();
                }
                Shop {
                    data: ShopData { generator, info },
                    overlay: Mutex::new(Overlay::default()),
                    bucket: Mutex::new(Bucket::new(config.bucket_size, config.restore_rate)),
                    bulk: Mutex::new(Vec::new()),
                }
            })
            .collect();
        let (results_dir, owns_results_dir) = match &config.results_dir {
            Some(dir) => (dir.clone(), false),
            None => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let dir = std::env::temp_dir().join(format!(
                    "shopforce-shopify-emulator-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                (dir, true)
            }
        };
        std::fs::create_dir_all(&results_dir)
            .map_err(|e| format!("cannot create {}: {e}", results_dir.display()))?;
        let webhooks = Webhooks::new(config.webhook.clone())?;
        Ok(EmulatorState {
            clock: Clock::starting_at(config.clock_start),
            config,
            base_url,
            shops,
            faults: Mutex::new(Faults::default()),
            stats: Stats::default(),
            results: Mutex::new(HashMap::new()),
            results_dir,
            owns_results_dir,
            webhooks,
            next_bulk_id: AtomicU64::new(4_039_184_154_813),
        })
    }

    /// The shop with `domain`, or the first shop for `None`.
    pub fn shop(&self, domain: Option<&str>) -> Option<(usize, &Shop)> {
        match domain {
            None => self.shops.first().map(|s| (0, s)),
            Some(d) => self
                .shops
                .iter()
                .enumerate()
                .find(|(_, s)| s.domain().eq_ignore_ascii_case(d)),
        }
    }

    pub fn next_bulk_id(&self) -> u64 {
        self.next_bulk_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The `$app` namespace prefix of this app.
    pub fn app_namespace(&self) -> String {
        format!("app--{}", self.config.app_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_resolve_or_fall_forward() {
        assert_eq!(resolve_version("2026-01"), Some("2026-01"));
        assert_eq!(resolve_version("2024-01"), Some("2025-10"));
        assert_eq!(resolve_version("2031-01"), None);
        assert_eq!(resolve_version("2026-02"), None);
        assert_eq!(resolve_version("latest"), None);
        assert!(version_at_least("2026-04", "2026-01"));
        assert!(!version_at_least("2025-10", "2026-01"));
    }

    #[test]
    fn secrets_stay_out_of_debug_and_limits_follow_the_version() {
        let mut config = EmulatorConfig::new("shpat_secret_value", StoreShape::default());
        assert!(!format!("{config:?}").contains("shpat_secret_value"));
        assert!(config.token_matches("shpat_secret_value"));
        assert!(!config.token_matches("shpat_secret_valuE"));
        assert_eq!(config.bulk_query_limit(), 5);
        config.api_version = "2025-10".into();
        assert_eq!(config.bulk_query_limit(), 1);
    }

    #[test]
    fn the_clock_can_be_set_and_advanced() {
        let clock = Clock::starting_at(Some("2030-01-01T00:00:00Z".parse().unwrap()));
        let t = clock.now_ts().0;
        assert!((t - 1_893_456_000).abs() <= 1);
        clock.advance(60);
        assert!((clock.now_ts().0 - 1_893_456_060).abs() <= 1);
    }
}
