//! Shared test helpers: start the Salesforce emulator in-process on port 0, log in with a
//! real JWT bearer assertion, and speak Bulk API 2.0 over HTTP.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use shopforce::emulator::salesforce::oauth::{self, ClientCertificate};
use shopforce::emulator::salesforce::{self as emu, EmulatorConfig, FaultProfile, RunningEmulator};
use tempfile::TempDir;

pub const CONSUMER_KEY: &str = "3MVG9test.consumer.key";
pub const USERNAME: &str = "integration@shopforce.test";
pub const V: &str = "v64.0";

/// The PostgreSQL server the PostgreSQL tests use: `SHOPFORCE_TEST_POSTGRES_URL`, else the
/// local server every development and CI machine runs (127.0.0.1:5432, trust auth, database
/// `test`; `.ci/run` starts it). Each test works in a schema of its own and drops it.
pub fn postgres_url() -> String {
    std::env::var("SHOPFORCE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A name no other test (or concurrent test process) uses: `prefix_pid_counter_nanos`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `base` with `options[search_path]=schema` added to its query.
pub fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options[search_path]={schema}")
}

/// A PostgreSQL schema of one test's own on [`postgres_url`], and the URL that works in it.
pub struct PgSchema {
    pub name: String,
    /// [`postgres_url`] with `options[search_path]` set to the schema.
    pub url: String,
}

impl PgSchema {
    pub async fn create(prefix: &str) -> PgSchema {
        use sqlx::Connection;
        let base = postgres_url();
        let name = unique_name(prefix);
        let mut admin = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!(
                "connect to PostgreSQL at {base} (set SHOPFORCE_TEST_POSTGRES_URL to another server): {e}"
            )
        });
        // The name is ours (letters, digits, underscores): safe to splice.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .expect("create schema");
        let _ = admin.close().await;
        PgSchema {
            url: with_search_path(&base, &name),
            name,
        }
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&postgres_url()).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await
    }
}

/// The project's own sfdx/ folder.
pub fn project_sfdx() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/sfdx"))
}

/// A running emulator plus a logged-in client.
pub struct Org {
    pub emulator: Option<RunningEmulator>,
    pub base: String,
    pub http: Client,
    pub token: String,
    pub key_path: PathBuf,
    pub dir: TempDir,
}

pub struct Options {
    pub sfdx: Option<PathBuf>,
    pub faults: FaultProfile,
    pub token_ttl: Duration,
    pub api_limit: u64,
    pub max_upload_bytes: usize,
    pub state_file: Option<PathBuf>,
    pub batch_size: usize,
    pub processing: shopforce::emulator::salesforce::Processing,
    /// The org has Person Accounts enabled.
    pub person_accounts: bool,
    /// Further active users (their username is their email), beside the default sales team.
    pub extra_users: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sfdx: Some(project_sfdx()),
            faults: FaultProfile::default(),
            token_ttl: Duration::from_secs(3600),
            api_limit: 1_000_000,
            max_upload_bytes: 150_000_000,
            state_file: None,
            batch_size: 10_000,
            processing: shopforce::emulator::salesforce::Processing::Instant,
            person_accounts: false,
            extra_users: Vec::new(),
        }
    }
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Signs an assertion with custom claims.
pub fn sign(key_path: &Path, claims: &Value) -> String {
    let pem = std::fs::read(key_path).expect("key");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("rsa key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        claims,
        &key,
    )
    .expect("sign")
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub async fn token_request(http: &Client, base: &str, assertion: &str) -> Response {
    http.post(format!("{base}/services/oauth2/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .expect("token request")
}

impl Org {
    pub async fn start() -> Org {
        Org::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Org {
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = oauth::ensure_dev_credentials(dir.path()).expect("dev credentials");
        let cert = ClientCertificate::from_file(&creds.certificate_path).expect("certificate");
        let mut config = EmulatorConfig::new(CONSUMER_KEY.into(), cert, USERNAME.into());
        config.sfdx_dir = options.sfdx;
        config.faults = options.faults;
        config.token_ttl = options.token_ttl;
        config.api_limit = options.api_limit;
        config.max_upload_bytes = options.max_upload_bytes;
        config.state_file = options.state_file;
        config.batch_size = options.batch_size;
        config.processing = options.processing;
        config.person_accounts = options.person_accounts;
        config.extra_users = options.extra_users.clone();
        let emulator = emu::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let base = emulator.base_url.clone();
        let http = client();
        let mut org = Org {
            emulator: Some(emulator),
            base,
            http,
            token: String::new(),
            key_path: creds.private_key_path,
            dir,
        };
        org.token = org.login().await;
        org
    }

    pub fn assertion(&self) -> String {
        sign(
            &self.key_path,
            &json!({"iss": CONSUMER_KEY, "sub": USERNAME, "aud": self.base, "exp": now_secs() + 180}),
        )
    }

    pub async fn login(&self) -> String {
        let response = token_request(&self.http, &self.base, &self.assertion()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/services/data/{V}/{}",
            self.base,
            path.trim_start_matches('/')
        )
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        request.send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.call(Method::GET, path, None).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send_json(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.call(method, path, Some(body)).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.call(Method::GET, path, None).await;
        (r.status(), r.text().await.unwrap())
    }

    /// Creates an ingest job and returns its id.
    pub async fn create_job(&self, spec: Value) -> String {
        let (status, body) = self.send_json(Method::POST, "jobs/ingest", spec).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn upload(&self, job: &str, csv: impl Into<reqwest::Body>) -> Response {
        self.http
            .put(self.url(&format!("jobs/ingest/{job}/batches")))
            .bearer_auth(&self.token)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap()
    }

    pub async fn close(&self, job: &str) -> (StatusCode, Value) {
        self.send_json(
            Method::PATCH,
            &format!("jobs/ingest/{job}"),
            json!({"state": "UploadComplete"}),
        )
        .await
    }

    /// Polls until the job is terminal; returns the job info.
    pub async fn wait(&self, kind: &str, job: &str) -> Value {
        for _ in 0..1000 {
            let (_, info) = self.get_json(&format!("jobs/{kind}/{job}")).await;
            match info["state"].as_str() {
                Some("JobComplete") | Some("Failed") | Some("Aborted") => return info,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        panic!("job {job} did not finish");
    }

    /// Runs a whole ingest job; returns (job id, final info).
    pub async fn ingest(&self, spec: Value, csv: &str) -> (String, Value) {
        let job = self.create_job(spec).await;
        let r = self.upload(&job, csv.to_string()).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let (status, _) = self.close(&job).await;
        assert_eq!(status, StatusCode::OK);
        let info = self.wait("ingest", &job).await;
        (job, info)
    }

    pub async fn upsert(&self, object: &str, key: &str, csv: &str) -> (String, Value) {
        self.ingest(
            json!({"object": object, "operation": "upsert", "externalIdFieldName": key}),
            csv,
        )
        .await
    }

    /// Result rows parsed into maps keyed by header.
    pub async fn results(
        &self,
        job: &str,
        which: &str,
    ) -> Vec<std::collections::HashMap<String, String>> {
        let (status, text) = self.get_text(&format!("jobs/ingest/{job}/{which}")).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        parse_csv(&text)
    }

    /// `GET /__admin/{path}` as JSON.
    async fn admin_json(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/__admin/{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every record of an object through the admin API.
    pub async fn records(&self, object: &str) -> Vec<Value> {
        let body = self.admin_json(&format!("sobjects/{object}")).await;
        body["records"].as_array().cloned().unwrap_or_default()
    }

    /// The emulator's admin statistics (`GET /__admin/stats`): records by object, jobs by
    /// state, requests by route, API usage.
    pub async fn stats(&self) -> Value {
        self.admin_json("stats").await
    }

    pub async fn set_faults(&self, faults: Value) {
        let r = self
            .http
            .post(format!("{}/__admin/faults", self.base))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    pub async fn shutdown(mut self) {
        if let Some(e) = self.emulator.take() {
            e.shutdown().await.expect("clean shutdown");
        }
    }
}

pub fn parse_csv(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

pub fn error_code(body: &Value) -> &str {
    body[0]["errorCode"].as_str().unwrap_or("")
}

pub fn find<'a>(records: &'a [Value], field: &str, value: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r[field].as_str() == Some(value))
        .unwrap_or_else(|| panic!("no record with {field}={value}"))
}
