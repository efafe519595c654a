//! `shopforce.toml`: the engine's configuration, every value overridable from the
//! environment.
//!
//! Precedence: built-in defaults < the TOML file < `SHOPFORCE_*` environment variables.
//! A mistake names the key (and the environment variable, when that is where the value came
//! from) and says what is wrong.

use std::path::PathBuf;

use serde::Deserialize;

use crate::identity::IdentityConfig;
use crate::mapping::build::AccountModel;
use crate::mapping::ownership::{OwnershipConfig, OwnershipMatrix};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub salesforce: SalesforceSection,
    pub shopify: ShopifySection,
    pub sync: SyncSection,
    pub database: DatabaseSection,
    pub log: LogSection,
    /// Who writes each Salesforce field ([`crate::mapping::ownership`]).
    pub ownership: OwnershipConfig,
    /// Identity resolution ([`crate::identity`]).
    pub identity: IdentityConfig,
    /// Thresholds of the commerce metrics (`[metrics]`).
    pub metrics: crate::metrics::MetricsConfig,
    /// B2B owner routing (`[owner_routing]`, [`crate::mapping::routing`]); off when absent.
    pub owner_routing: Option<crate::mapping::routing::OwnerRoutingConfig>,
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SalesforceSection {
    /// Where the JWT bearer login goes: `https://login.salesforce.com` (production),
    /// `https://test.salesforce.com` (sandbox) or the org's My Domain URL.
    pub login_url: String,
    /// The JWT `aud` claim; defaults to the login URL (use `https://login.salesforce.com` or
    /// `https://test.salesforce.com` when logging in through a My Domain URL).
    pub audience: Option<String>,
    /// Consumer key of the External Client App.
    pub client_id: String,
    /// The integration user's username.
    pub username: String,
    /// PEM private key whose certificate is uploaded to the External Client App.
    pub private_key_path: PathBuf,
    pub api_version: String,
    /// The org's currency (single-currency orgs reject prices in any other).
    pub currency: String,
    /// Salesforce API requests per second (a floor under the org's own limits).
    pub requests_per_second: u32,
    /// Stop starting new work when this share of the daily API allowance is used.
    pub api_usage_stop_fraction: f64,
}

impl std::fmt::Debug for SalesforceSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key path is not secret, but keep the habit: no credential material here.
        f.debug_struct("SalesforceSection")
            .field("login_url", &self.login_url)
            .field("audience", &self.audience)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("private_key_path", &self.private_key_path)
            .field("api_version", &self.api_version)
            .field("currency", &self.currency)
            .field("requests_per_second", &self.requests_per_second)
            .field("api_usage_stop_fraction", &self.api_usage_stop_fraction)
            .finish()
    }
}

impl Default for SalesforceSection {
    fn default() -> SalesforceSection {
        SalesforceSection {
            login_url: "https://login.salesforce.com".to_string(),
            audience: None,
            client_id: String::new(),
            username: String::new(),
            private_key_path: PathBuf::new(),
            api_version: "66.0".to_string(),
            currency: "USD".to_string(),
            requests_per_second: 25,
            api_usage_stop_fraction: 0.9,
        }
    }
}

/// The shops to read from (the Admin GraphQL API).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ShopifySection {
    /// Admin API access token (`shpat_…`) for every shop that has none of its own.
    pub access_token: String,
    pub api_version: String,
    /// Base URL override for every shop (the local emulator, `http://127.0.0.1:PORT`);
    /// default `https://{shop}`.
    pub api_url: Option<String>,
    /// GraphQL calls per second at most per shop (Shopify's cost bucket paces below this).
    pub requests_per_second: u32,
    /// Incremental syncs re-read this many minutes before the stored cursor (re-reading is
    /// harmless: upserts are idempotent and unchanged rows are not sent).
    pub cursor_overlap_minutes: u32,
    /// Shops `shopforce sync` reads in turn when no `--shop` is given.
    pub shops: Vec<ShopEntry>,
}

/// One shop of [`ShopifySection::shops`].
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ShopEntry {
    /// `example.myshopify.com`.
    pub domain: String,
    /// This shop's own token (else `shopify.access_token`).
    #[serde(default)]
    pub access_token: Option<String>,
}

impl std::fmt::Debug for ShopEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopEntry")
            .field("domain", &self.domain)
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl std::fmt::Debug for ShopifySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifySection")
            .field(
                "access_token",
                &if self.access_token.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("api_version", &self.api_version)
            .field("api_url", &self.api_url)
            .field("requests_per_second", &self.requests_per_second)
            .field("cursor_overlap_minutes", &self.cursor_overlap_minutes)
            .field("shops", &self.shops)
            .finish()
    }
}

impl Default for ShopifySection {
    fn default() -> ShopifySection {
        ShopifySection {
            access_token: String::new(),
            api_version: crate::shopify::client::DEFAULT_API_VERSION.to_string(),
            api_url: None,
            requests_per_second: 10,
            cursor_overlap_minutes: 5,
            shops: Vec::new(),
        }
    }
}

impl ShopifySection {
    /// The token for `shop`: its own, else the shared one; an error names what to set.
    pub fn token_for(&self, shop: &str) -> Result<String, ConfigError> {
        let own = self
            .shops
            .iter()
            .find(|s| s.domain == shop)
            .and_then(|s| s.access_token.clone());
        match own.or_else(|| Some(self.access_token.clone()).filter(|t| !t.is_empty())) {
            Some(token) => Ok(token),
            None => Err(ConfigError(format!(
                "no Shopify access token for {shop}: set shopify.access_token (or SHOPFORCE_SHOPIFY_ACCESS_TOKEN), or access_token in its [[shopify.shops]] entry"
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSection {
    pub account_model: AccountModel,
    /// `DeveloperName` of the Account record type Person Accounts are created with
    /// (`account_model = "person_account"`; the org's person record type is looked up by it).
    pub person_record_type: String,
    /// Bulk API jobs running at once.
    pub max_concurrent_jobs: usize,
    /// Largest upload per job, in bytes of CSV (Salesforce allows 150 MB base64-encoded,
    /// about 100 MB raw).
    pub part_size_bytes: u64,
    /// New jobs for rows that failed for a transient reason (`UNABLE_TO_LOCK_ROW`,
    /// unprocessed rows) before they go to the dead-letter queue.
    pub max_row_retries: u32,
    /// Where CSV parts and result files are written during a run.
    pub work_dir: PathBuf,
}

impl Default for SyncSection {
    fn default() -> SyncSection {
        SyncSection {
            account_model: AccountModel::PerCustomer,
            person_record_type: "PersonAccount".to_string(),
            max_concurrent_jobs: 4,
            part_size_bytes: 100 * 1000 * 1000,
            max_row_retries: 3,
            work_dir: PathBuf::from(".shopforce/work"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// `sqlite:PATH` (default, created on first use) or `postgres://…`.
    pub url: String,
}

impl Default for DatabaseSection {
    fn default() -> DatabaseSection {
        DatabaseSection {
            url: "sqlite:.shopforce/state.db".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub format: LogFormat,
}

/// A configuration mistake.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Environment variables that override a key: (variable, `section.key`).
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("SHOPFORCE_SF_LOGIN_URL", "salesforce.login_url"),
    ("SHOPFORCE_SF_AUDIENCE", "salesforce.audience"),
    ("SHOPFORCE_SF_CLIENT_ID", "salesforce.client_id"),
    ("SHOPFORCE_SF_USERNAME", "salesforce.username"),
    (
        "SHOPFORCE_SF_PRIVATE_KEY_PATH",
        "salesforce.private_key_path",
    ),
    ("SHOPFORCE_SF_API_VERSION", "salesforce.api_version"),
    ("SHOPFORCE_SF_CURRENCY", "salesforce.currency"),
    (
        "SHOPFORCE_SF_REQUESTS_PER_SECOND",
        "salesforce.requests_per_second",
    ),
    (
        "SHOPFORCE_SF_API_USAGE_STOP_FRACTION",
        "salesforce.api_usage_stop_fraction",
    ),
    ("SHOPFORCE_SHOPIFY_ACCESS_TOKEN", "shopify.access_token"),
    ("SHOPFORCE_SHOPIFY_API_VERSION", "shopify.api_version"),
    ("SHOPFORCE_SHOPIFY_API_URL", "shopify.api_url"),
    (
        "SHOPFORCE_SHOPIFY_REQUESTS_PER_SECOND",
        "shopify.requests_per_second",
    ),
    ("SHOPFORCE_SYNC_ACCOUNT_MODEL", "sync.account_model"),
    (
        "SHOPFORCE_SYNC_PERSON_RECORD_TYPE",
        "sync.person_record_type",
    ),
    (
        "SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS",
        "sync.max_concurrent_jobs",
    ),
    ("SHOPFORCE_SYNC_PART_SIZE_BYTES", "sync.part_size_bytes"),
    ("SHOPFORCE_SYNC_MAX_ROW_RETRIES", "sync.max_row_retries"),
    ("SHOPFORCE_SYNC_WORK_DIR", "sync.work_dir"),
    ("SHOPFORCE_DATABASE_URL", "database.url"),
    ("SHOPFORCE_LOG_FORMAT", "log.format"),
    (
        "SHOPFORCE_METRICS_CHURN_MEDIUM_DAYS",
        "metrics.churn_medium_days",
    ),
    (
        "SHOPFORCE_METRICS_CHURN_HIGH_DAYS",
        "metrics.churn_high_days",
    ),
    (
        "SHOPFORCE_METRICS_CHURN_MEDIUM_INTERVALS",
        "metrics.churn_medium_intervals",
    ),
    (
        "SHOPFORCE_METRICS_CHURN_HIGH_INTERVALS",
        "metrics.churn_high_intervals",
    ),
    (
        "SHOPFORCE_METRICS_CLV_MEDIUM_SPEND",
        "metrics.clv_medium_spend",
    ),
    ("SHOPFORCE_METRICS_CLV_HIGH_SPEND", "metrics.clv_high_spend"),
    (
        "SHOPFORCE_OWNER_ROUTING_DEFAULT_OWNER",
        "owner_routing.default_owner",
    ),
];

impl Config {
    /// Reads `path` (a missing file is an error only when `required`), then applies the
    /// environment (`env` is a lookup so tests need not touch the process environment).
    pub fn load(
        path: Option<&std::path::Path>,
        required: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => text.parse::<toml::Table>().map_err(|e| {
                    ConfigError(format!("{}: not valid TOML: {}", p.display(), e.message()))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                    toml::Table::new()
                }
                Err(e) => {
                    return Err(ConfigError(format!(
                        "{}: cannot read the config file: {e}",
                        p.display()
                    )));
                }
            },
            None => toml::Table::new(),
        };
        let source = path.map_or("the configuration".to_string(), |p| p.display().to_string());
        let mut from_env = Vec::new();
        for (var, key) in ENV_OVERRIDES {
            if let Some(value) = env(var) {
                set_key(&mut table, key, &value);
                from_env.push((*var, *key));
            }
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let via_env = from_env
                    .iter()
                    .find(|(_, k)| *k == key)
                    .map(|(var, _)| format!(" (set by {var})"))
                    .unwrap_or_default();
                ConfigError(format!("{source}: {key}: {}{via_env}", e.inner().message()))
            })?;
        config.validate()?;
        Ok(config)
    }

    /// The field-ownership matrix of `[ownership]` (checked by [`Config::validate`]).
    pub fn ownership_matrix(&self) -> Result<OwnershipMatrix, ConfigError> {
        OwnershipMatrix::new(&self.ownership).map_err(|e| ConfigError(e.to_string()))
    }

    /// Checks that need more than types.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sf = &self.salesforce;
        let bad = |key: &str, why: String| Err(ConfigError(format!("{key}: {why}")));
        match url::Url::parse(&sf.login_url) {
            Ok(u) if u.scheme() == "https" => {}
            Ok(u) if u.scheme() == "http" && is_loopback(&u) => {}
            Ok(_) => {
                return bad(
                    "salesforce.login_url",
                    format!(
                        "{:?} must be an https:// URL (http is allowed only for a local emulator on 127.0.0.1)",
                        sf.login_url
                    ),
                );
            }
            Err(e) => {
                return bad(
                    "salesforce.login_url",
                    format!("{:?} is not a URL: {e}", sf.login_url),
                );
            }
        }
        if sf.currency.len() != 3 || !sf.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return bad(
                "salesforce.currency",
                format!(
                    "{:?} is not an ISO 4217 currency code such as USD",
                    sf.currency
                ),
            );
        }
        if !(0.0..=1.0).contains(&sf.api_usage_stop_fraction) || sf.api_usage_stop_fraction == 0.0 {
            return bad(
                "salesforce.api_usage_stop_fraction",
                format!(
                    "{} must be between 0 (exclusive) and 1",
                    sf.api_usage_stop_fraction
                ),
            );
        }
        if sf.requests_per_second == 0 {
            return bad(
                "salesforce.requests_per_second",
                "must be at least 1".to_string(),
            );
        }
        if self.shopify.requests_per_second == 0 {
            return bad(
                "shopify.requests_per_second",
                "must be at least 1".to_string(),
            );
        }
        if let Some(api_url) = &self.shopify.api_url {
            match url::Url::parse(api_url) {
                Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)) => {}
                _ => {
                    return bad(
                        "shopify.api_url",
                        format!(
                            "{api_url:?} must be an https:// URL (http only for a local emulator on 127.0.0.1)"
                        ),
                    );
                }
            }
        }
        for shop in &self.shopify.shops {
            if !shop.domain.ends_with(".myshopify.com") {
                return bad(
                    "shopify.shops",
                    format!(
                        "{:?} is not a shop domain such as example.myshopify.com",
                        shop.domain
                    ),
                );
            }
        }
        self.ownership_matrix()?;
        self.identity.validate().map_err(ConfigError)?;
        if self.sync.max_concurrent_jobs == 0 {
            return bad("sync.max_concurrent_jobs", "must be at least 1".to_string());
        }
        if self.sync.part_size_bytes < 1024 || self.sync.part_size_bytes > 100 * 1000 * 1000 {
            return bad(
                "sync.part_size_bytes",
                format!(
                    "{} must be between 1024 and 100000000 (Salesforce accepts at most 150 MB base64-encoded per job)",
                    self.sync.part_size_bytes
                ),
            );
        }
        self.metrics.validate().map_err(ConfigError)?;
        if let Some(routing) = &self.owner_routing {
            routing.validate().map_err(ConfigError)?;
        }
        Ok(())
    }

    /// Checks that Salesforce can be reached with these credentials (not needed by
    /// `--dry-run`).
    pub fn require_salesforce(&self) -> Result<(), ConfigError> {
        let sf = &self.salesforce;
        for (key, var, empty) in [
            (
                "salesforce.client_id",
                "SHOPFORCE_SF_CLIENT_ID",
                sf.client_id.is_empty(),
            ),
            (
                "salesforce.username",
                "SHOPFORCE_SF_USERNAME",
                sf.username.is_empty(),
            ),
            (
                "salesforce.private_key_path",
                "SHOPFORCE_SF_PRIVATE_KEY_PATH",
                sf.private_key_path.as_os_str().is_empty(),
            ),
        ] {
            if empty {
                return Err(ConfigError(format!(
                    "{key} is not set: put it in shopforce.toml or set {var}"
                )));
            }
        }
        Ok(())
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Sets `section.key` in a TOML table from environment text, typed by what the key holds.
fn set_key(table: &mut toml::Table, key: &str, text: &str) {
    let (section, name) = key.split_once('.').unwrap_or(("", key));
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = entry {
        let value = if let Ok(i) = text.parse::<i64>() {
            toml::Value::Integer(i)
        } else if let Ok(f) = text.parse::<f64>() {
            toml::Value::Float(f)
        } else {
            toml::Value::String(text.to_string())
        };
        // Text keys keep digits as text (a username or client id may look numeric).
        let keep_text = matches!(
            name,
            "login_url"
                | "audience"
                | "client_id"
                | "username"
                | "private_key_path"
                | "api_version"
                | "currency"
                | "account_model"
                | "person_record_type"
                | "work_dir"
                | "url"
                | "format"
        );
        t.insert(
            name.to_string(),
            if keep_text {
                toml::Value::String(text.to_string())
            } else {
                value
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml_text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shopforce.toml");
        std::fs::write(&path, toml_text).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(Some(&path), true, |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_file_then_environment() {
        let c = load(
            "[salesforce]\nclient_id = \"from-file\"\ncurrency = \"EUR\"\n[sync]\nmax_concurrent_jobs = 2\n",
            &[("SHOPFORCE_SF_CLIENT_ID", "from-env"), ("SHOPFORCE_SYNC_PART_SIZE_BYTES", "5000")],
        )
        .unwrap();
        assert_eq!(c.salesforce.client_id, "from-env");
        assert_eq!(c.salesforce.currency, "EUR");
        assert_eq!(c.sync.max_concurrent_jobs, 2);
        assert_eq!(c.sync.part_size_bytes, 5000);
        assert_eq!(c.salesforce.api_version, "66.0");
    }

    #[test]
    fn mistakes_name_the_key() {
        let e = load("[salesforce]\nclinet_id = \"x\"\n", &[]).unwrap_err();
        assert!(e.0.contains("clinet_id"), "{e}");
        let e = load("[sync]\nmax_concurrent_jobs = \"four\"\n", &[]).unwrap_err();
        assert!(
            e.0.contains("max_concurrent_jobs") || e.0.contains("invalid type"),
            "{e}"
        );
        let e = load("", &[("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS", "lots")]).unwrap_err();
        assert!(e.0.contains("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS"), "{e}");
        let e = load(
            "[salesforce]\nlogin_url = \"http://login.salesforce.com\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.0.starts_with("salesforce.login_url"), "{e}");
        let e = load("[salesforce]\ncurrency = \"usd\"\n", &[]).unwrap_err();
        assert!(e.0.starts_with("salesforce.currency"), "{e}");
        let e = load("[sync]\naccount_model = \"person\"\n", &[]).unwrap_err();
        assert!(e.0.contains("person"), "{e}");
        let e = Config::default().require_salesforce().unwrap_err();
        assert!(e.0.contains("SHOPFORCE_SF_CLIENT_ID"), "{e}");
    }

    #[test]
    fn the_ownership_section_replaces_a_default_list_and_is_checked() {
        use crate::mapping::ownership::Owner;
        let c = load(
            "[ownership]\ncrm = [\"Contact.Lifecycle_Stage__c\", \"Contact.Shopify_Tags__c\"]\n",
            &[],
        )
        .unwrap();
        let m = c.ownership_matrix().unwrap();
        assert_eq!(m.owner("Contact", "Shopify_Tags__c"), Owner::Crm);
        assert_eq!(m.owner("Contact", "Lifecycle_Stage__c"), Owner::Crm);
        // The crm list was replaced; on_create keeps its default.
        assert_eq!(m.owner("Contact", "Description"), Owner::Integration);
        assert_eq!(m.owner("Contact", "Phone"), Owner::OnCreate);
        let e = load("[ownership]\ncrm = [\"Contact.LastName\"]\n", &[]).unwrap_err();
        assert!(
            e.0.starts_with("ownership.crm: Contact.LastName is needed to create a Contact"),
            "{e}"
        );
        let e = load("[ownership]\nintegration = []\n", &[]).unwrap_err();
        assert!(e.0.contains("integration"), "{e}");
    }

    #[test]
    fn metrics_thresholds_have_defaults_file_values_and_env_overrides() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.metrics, crate::metrics::MetricsConfig::default());
        let c = load(
            "[metrics]\nchurn_medium_days = 30\nchurn_high_days = 60\nclv_medium_spend = 100\n",
            &[("SHOPFORCE_METRICS_CLV_HIGH_SPEND", "250.5")],
        )
        .unwrap();
        assert_eq!(c.metrics.churn_medium_days, 30);
        assert_eq!(c.metrics.churn_high_days, 60);
        assert_eq!(c.metrics.clv_medium_spend, 100.0);
        assert_eq!(c.metrics.clv_high_spend, 250.5);
        let e = load("[metrics]\nchurn_high_days = 10\n", &[]).unwrap_err();
        assert!(e.0.starts_with("metrics.churn_high_days"), "{e}");
        let e = load("[metrics]\nchurn_risk_days = 10\n", &[]).unwrap_err();
        assert!(e.0.contains("churn_risk_days"), "{e}");
        let e = load("", &[("SHOPFORCE_METRICS_CLV_MEDIUM_SPEND", "3000")]).unwrap_err();
        assert!(e.0.starts_with("metrics.clv_high_spend"), "{e}");
    }

    #[test]
    fn owner_routing_is_off_unless_configured_and_its_mistakes_name_the_key() {
        assert_eq!(load("", &[]).unwrap().owner_routing, None);
        let c = load(
            "[owner_routing]\ndefault_owner = \"desk@example.com\"\n\n[[owner_routing.rules]]\nname = \"west\"\nowner = \"avery@example.com\"\nstate = [\"US-CA\", \"US-WA\"]\n\n[[owner_routing.rules]]\nowner = \"jordan@example.com\"\nmin_locations = 3\n",
            &[("SHOPFORCE_OWNER_ROUTING_DEFAULT_OWNER", "lead@example.com")],
        )
        .unwrap();
        let routing = c.owner_routing.unwrap();
        assert_eq!(routing.default_owner, "lead@example.com");
        assert_eq!(routing.rules.len(), 2);
        assert_eq!(routing.rules[0].state, ["US-CA", "US-WA"]);
        assert_eq!(routing.rules[1].min_locations, Some(3));
        let e = load("[owner_routing]\ndefault_owner = \"desk\"\n", &[]).unwrap_err();
        assert!(
            e.0.starts_with("owner_routing.default_owner: \"desk\" is not an email"),
            "{e}"
        );
        let e = load(
            "[owner_routing]\ndefault_owner = \"desk@example.com\"\n[[owner_routing.rules]]\nowner = \"a@example.com\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("owner_routing.rules[0]: the rule has no condition"),
            "{e}"
        );
        let e = load(
            "[owner_routing]\ndefault_owner = \"desk@example.com\"\n[[owner_routing.rules]]\nowner = \"a@example.com\"\ncountry = [\"US\"]\nregion = \"west\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            e.0.contains("owner_routing.rules[0]") && e.0.contains("region"),
            "{e}"
        );
        let e = load(
            "[owner_routing]\n[[owner_routing.rules]]\nowner = \"a@example.com\"\ntag = \"vip\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.0.contains("default_owner"), "{e}");
    }

    #[test]
    fn a_loopback_emulator_may_use_http() {
        let c = load("[salesforce]\nlogin_url = \"http://127.0.0.1:8443\"\n", &[]).unwrap();
        assert_eq!(c.salesforce.login_url, "http://127.0.0.1:8443");
    }
}
