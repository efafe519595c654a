//! The emulator's shared state: configuration, the org, jobs, sessions, faults and
//! request statistics.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::faults::{FaultProfile, Faults};
use super::ids::SfId;
use super::jobs::{IngestJob, QueryJob};
use super::metadata;
use super::oauth::{ClientCertificate, JwtBearerPolicy};
use super::org::{Org, OrgProfile, SeedUser, default_users};
use super::schema::Schema;
use super::standard::standard_objects;

/// How fast jobs are processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Processing {
    /// As fast as the machine allows.
    #[default]
    Instant,
    /// With Salesforce-like queueing and per-batch latency.
    Realistic,
}

impl std::str::FromStr for Processing {
    type Err = String;
    fn from_str(s: &str) -> Result<Processing, String> {
        match s {
            "instant" => Ok(Processing::Instant),
            "realistic" => Ok(Processing::Realistic),
            other => Err(format!(
                "processing mode '{other}' is not one of: instant, realistic"
            )),
        }
    }
}

/// Everything the emulator is started with.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// OAuth client id the JWT `iss` must equal.
    pub consumer_key: String,
    /// The certificate (public key) uploaded to the OAuth client.
    pub certificate: ClientCertificate,
    /// The integration user's username (the JWT `sub`).
    pub username: String,
    /// Further pre-authorized usernames.
    pub extra_users: Vec<String>,
    /// Extra accepted JWT audiences besides the emulator's own URL and login/test.
    pub extra_audiences: Vec<String>,
    /// The Salesforce DX folder whose custom fields the org has.
    pub sfdx_dir: Option<PathBuf>,
    pub processing: Processing,
    pub faults: FaultProfile,
    /// Snapshot file loaded at start and written at shutdown.
    pub state_file: Option<PathBuf>,
    /// Lifetime of an access token (the org's session timeout).
    pub token_ttl: Duration,
    /// The daily API allowance (overridden by the `api_limit` fault).
    pub api_limit: u64,
    /// Upload cap per ingest job (Salesforce: 150 MB).
    pub max_upload_bytes: usize,
    /// Rows per internal batch (Salesforce: 10,000).
    pub batch_size: usize,
    /// The org has Person Accounts enabled ([`super::person`]).
    pub person_accounts: bool,
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("consumer_key", &self.consumer_key)
            .field("certificate", &self.certificate)
            .field("username", &self.username)
            .field("sfdx_dir", &self.sfdx_dir)
            .field("processing", &self.processing)
            .field("faults", &self.faults)
            .field("state_file", &self.state_file)
            .field("person_accounts", &self.person_accounts)
            .finish_non_exhaustive()
    }
}

impl EmulatorConfig {
    /// Defaults for everything but the credentials.
    pub fn new(
        consumer_key: String,
        certificate: ClientCertificate,
        username: String,
    ) -> EmulatorConfig {
        EmulatorConfig {
            consumer_key,
            certificate,
            username,
            extra_users: Vec::new(),
            extra_audiences: Vec::new(),
            sfdx_dir: None,
            processing: Processing::Instant,
            faults: FaultProfile::default(),
            state_file: None,
            token_ttl: Duration::from_secs(2 * 3600),
            api_limit: 1_000_000,
            max_upload_bytes: 150 * 1000 * 1000,
            batch_size: 10_000,
            person_accounts: false,
        }
    }

    pub fn seed_users(&self) -> Vec<SeedUser> {
        let mut users = default_users(&self.username);
        for extra in &self.extra_users {
            users.push(SeedUser {
                username: extra.clone(),
                first_name: "API".into(),
                last_name: "User".into(),
                email: extra.clone(),
                active: true,
            });
        }
        users
    }
}

/// Standard objects plus the custom fields of `sfdx_dir`, and the person-account fields
/// when the org has them.
pub fn build_schema(
    sfdx_dir: Option<&std::path::Path>,
    person_accounts: bool,
) -> Result<Schema, String> {
    let mut schema = Schema::new(standard_objects());
    if let Some(dir) = sfdx_dir {
        let files = metadata::load_custom_fields(dir).map_err(|e| e.to_string())?;
        for file in files {
            let object = schema.object_mut(&file.object).ok_or_else(|| {
                format!(
                    "{}: object '{}' is not one the emulator models (custom objects are not supported; known: {})",
                    file.path.display(),
                    file.object,
                    standard_objects().iter().map(|o| o.name.clone()).collect::<Vec<_>>().join(", ")
                )
            })?;
            object.upsert_field(file.field);
        }
    }
    if person_accounts {
        super::person::enable(&mut schema);
    }
    Ok(schema)
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: SfId,
    pub username: String,
    pub expires_at: DateTime<Utc>,
    pub requests: u64,
}

/// Request statistics for `/__admin/stats`.
#[derive(Default)]
pub struct Stats {
    pub by_route: Mutex<BTreeMap<String, u64>>,
    pub api_requests: AtomicU64,
    pub rows_ingested: AtomicU64,
    pub faults_injected: AtomicU64,
}

impl Stats {
    pub fn count_route(&self, route: &str) {
        if let Ok(mut map) = self.by_route.lock() {
            *map.entry(route.to_string()).or_insert(0) += 1;
        }
    }
}

/// REST query cursors (`nextRecordsUrl`).
pub struct QueryCursor {
    pub records: Vec<serde_json::Value>,
    pub position: usize,
}

/// All mutable state. Locks are never held across an `.await`.
pub struct EmulatorState {
    pub config: EmulatorConfig,
    /// Set once the listener is bound.
    pub base_url: String,
    pub org: Mutex<Org>,
    pub ingest_jobs: Mutex<HashMap<SfId, IngestJob>>,
    pub query_jobs: Mutex<HashMap<SfId, QueryJob>>,
    pub sessions: Mutex<HashMap<String, Session>>,
    pub faults: Mutex<Faults>,
    /// Parent records locked by running ingest jobs (lock contention simulation).
    pub row_locks: Mutex<HashMap<SfId, SfId>>,
    pub cursors: Mutex<HashMap<String, QueryCursor>>,
    pub stats: Stats,
    pub rng: Mutex<StdRng>,
    job_sequence: AtomicU64,
}

impl EmulatorState {
    pub fn new(config: EmulatorConfig, base_url: String) -> Result<EmulatorState, String> {
        let schema = build_schema(config.sfdx_dir.as_deref(), config.person_accounts)?;
        let org = Org::new(
            schema,
            OrgProfile::default(),
            &config.seed_users(),
            Utc::now(),
        )?;
        let faults = Faults::new(config.faults.clone());
        let seed = config.faults.seed;
        Ok(EmulatorState {
            config,
            base_url,
            org: Mutex::new(org),
            ingest_jobs: Mutex::new(HashMap::new()),
            query_jobs: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            faults: Mutex::new(faults),
            row_locks: Mutex::new(HashMap::new()),
            cursors: Mutex::new(HashMap::new()),
            stats: Stats::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed)),
            job_sequence: AtomicU64::new(1),
        })
    }

    /// Accepted JWT audiences.
    pub fn jwt_policy(&self) -> JwtBearerPolicy {
        let mut audiences = vec![
            self.base_url.clone(),
            "https://login.salesforce.com".to_string(),
            "https://test.salesforce.com".to_string(),
        ];
        audiences.extend(self.config.extra_audiences.iter().cloned());
        let mut users = vec![self.config.username.clone()];
        users.extend(self.config.extra_users.iter().cloned());
        JwtBearerPolicy {
            consumer_key: self.config.consumer_key.clone(),
            authorized_users: users,
            audiences,
            clock_skew_secs: 300,
        }
    }

    /// The next job Id (key prefix `750`).
    pub fn next_job_id(&self) -> SfId {
        SfId::new(
            "750",
            "5g",
            self.job_sequence.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// The daily API allowance in force.
    pub fn api_limit(&self) -> u64 {
        self.faults
            .lock()
            .ok()
            .and_then(|f| f.profile.api_limit)
            .unwrap_or(self.config.api_limit)
    }

    pub fn org_id(&self) -> SfId {
        self.org
            .lock()
            .map(|o| o.profile.org_id)
            .unwrap_or_else(|_| SfId::new("00D", "5g", 1))
    }
}
