//! Ingest throughput of the in-process Salesforce emulator (`instant` mode).
//!
//! Runs one Bulk API 2.0 Contact upsert job (all inserts), a second one with the same CSV
//! (all updates) and a Bulk query over every Contact, through real HTTP on 127.0.0.1, and
//! reports rows per second and memory.
//!
//! ```text
//! cargo bench --bench emulator_ingest                     # 1,000,000 rows
//! cargo bench --bench emulator_ingest -- --quick          # 50,000 rows
//! cargo bench --bench emulator_ingest -- --rows 200000
//! cargo bench --bench emulator_ingest -- --no-gzip        # no Accept-Encoding: gzip
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Client, StatusCode};
use serde_json::{Value as Json, json};
use shopforce::emulator::salesforce::oauth::{self, ClientCertificate};
use shopforce::emulator::salesforce::{self as sf, EmulatorConfig, Processing};

/// The allocator the `shopforce` binary uses, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const API: &str = "v62.0";
const CONSUMER_KEY: &str = "3MVG9bench.emulator.ingest";
const USERNAME: &str = "bench@shopforce.example";
const HEADER: &str = "Shopify_Customer_ID__c,FirstName,LastName,Email,Phone,Email_Consent_Status__c,Order_Count__c,Total_Spend__c,Last_Order_Date__c";
const POLL: Duration = Duration::from_millis(20);
const QUERY_PAGE: usize = 100_000;
const TARGET_ROWS_PER_SEC: f64 = 200_000.0;

type Res<T> = Result<T, String>;

struct Options {
    rows: usize,
    gzip: bool,
}

fn parse_args() -> Res<Options> {
    let mut options = Options {
        rows: 1_000_000,
        gzip: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.rows = 50_000,
            "--rows" => {
                let n = args.next().ok_or("--rows needs a number")?;
                options.rows = n
                    .replace(['_', ','], "")
                    .parse()
                    .map_err(|_| format!("--rows: '{n}' is not a number"))?;
            }
            "--no-gzip" => options.gzip = false,
            // `cargo bench` passes `--bench`; test-harness filters are ignored.
            _ => {}
        }
    }
    if options.rows == 0 {
        return Err("--rows must be positive".into());
    }
    Ok(options)
}

// ------------------------------------------------------------------ data

/// splitmix64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "José",
    "Zoë",
    "François",
    "Åsa",
    "Søren",
    "Chloé",
    "Mary Ann",
    "Li",
    "Aoife",
    "Björn",
    "Renée",
    "Nuño",
    "Jean-Luc",
    "Robert \"Bob\"",
    "Ngozi",
    "Émile",
    "Łukasz",
    "Fatima",
    "Dmitri",
    "O'Neil",
    "Kai",
    "Marta",
    "Hiroshi",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "García",
    "O'Brien",
    "Müller",
    "Nguyen",
    "Smith, Jr.",
    "van der Berg",
    "Østergaard",
    "Dubois-Lefèvre",
    "Kowalski",
    "Núñez, III",
    "\"The Rock\" Johnson",
    "Żółć",
    "Papadopoulos",
    "Okafor",
    "Lindqvist",
    "Chen",
    "Hernández",
    "Doe, \"JD\"",
    "Yamamoto",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "shop.example.net",
    "customers.example.co.uk",
    "example.io",
];
const CONSENT: &[&str] = &["Subscribed", "Not Opted In", "Pending", "Unsubscribed"];

fn ascii_slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let mapped = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'á' | 'à' | 'å' | 'ä' | 'Å' => Some('a'),
            'é' | 'è' | 'ë' | 'É' => Some('e'),
            'í' | 'ì' | 'ï' => Some('i'),
            'ç' => Some('c'),
            'ñ' | 'Ñ' => Some('n'),
            'ó' | 'ø' | 'ö' | 'Ø' => Some('o'),
            'ú' | 'ü' => Some('u'),
            'ł' | 'Ł' => Some('l'),
            'ż' | 'Ż' => Some('z'),
            _ => None,
        };
        if let Some(m) = mapped {
            out.push(m);
        }
    }
    out
}

/// The upsert CSV (LF line endings, quoting where needed) for `rows` unique customers.
fn generate_csv(rows: usize) -> Res<Bytes> {
    let mut rng = Rng(0x5eed_0fc0_ffee);
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(rows * 130 + 256));
    let header: Vec<&str> = HEADER.split(',').collect();
    writer.write_record(&header).map_err(|e| e.to_string())?;
    let mut cells: [String; 9] = Default::default();
    for i in 0..rows as u64 {
        let first = rng.pick(FIRST_NAMES);
        let last = rng.pick(LAST_NAMES);
        let orders = match rng.below(10) {
            0 => 0,
            1..=6 => 1 + rng.below(5),
            _ => 5 + rng.below(195),
        };
        cells[0] = (6_100_000_000_000 + i * 17 + rng.below(17)).to_string();
        cells[1] = first.to_string();
        cells[2] = last.to_string();
        cells[3] = format!(
            "{}.{}{}@{}",
            ascii_slug(first),
            ascii_slug(last),
            i,
            rng.pick(DOMAINS)
        );
        cells[4] = if rng.below(4) == 0 {
            String::new()
        } else {
            format!(
                "+1 {:03}-{:03}-{:04}",
                200 + rng.below(800),
                rng.below(1000),
                rng.below(10_000)
            )
        };
        cells[5] = rng.pick(CONSENT).to_string();
        cells[6] = orders.to_string();
        if orders == 0 {
            cells[7] = "0.00".to_string();
            cells[8] = String::new();
        } else {
            let cents = orders * (1_500 + rng.below(25_000));
            cells[7] = format!("{}.{:02}", cents / 100, cents % 100);
            cells[8] = format!(
                "{:04}-{:02}-{:02}",
                2019 + rng.below(7),
                1 + rng.below(12),
                1 + rng.below(28)
            );
        }
        writer.write_record(&cells).map_err(|e| e.to_string())?;
    }
    let data = writer.into_inner().map_err(|e| e.to_string())?;
    Ok(Bytes::from(data))
}

// ------------------------------------------------------------------ process memory

/// (VmRSS, VmHWM) in bytes.
fn memory() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` 5), so each phase has its own peak.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ------------------------------------------------------------------ HTTP

struct Api {
    http: Client,
    base: String,
    token: String,
}

async fn check(response: reqwest::Response, what: &str) -> Res<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(format!("{what}: HTTP {status}: {body}"))
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}/services/data/{API}/{path}", self.base)
    }

    async fn json(&self, request: reqwest::RequestBuilder, what: &str) -> Res<Json> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        check(response, what)
            .await?
            .json()
            .await
            .map_err(|e| format!("{what}: {e}"))
    }

    async fn csv(&self, url: &str, what: &str) -> Res<(Bytes, Option<String>)> {
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let response = check(response, what).await?;
        let locator = response
            .headers()
            .get("Sforce-Locator")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await.map_err(|e| format!("{what}: {e}"))?;
        Ok((body, locator))
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

async fn login(http: &Client, base: &str, key_pem: &[u8]) -> Res<String> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem)
        .map_err(|e| format!("private key: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = Claims {
        iss: CONSUMER_KEY,
        sub: USERNAME,
        aud: base,
        exp: now + 180,
    };
    let assertion = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| format!("signing the assertion: {e}"))?;
    let response = http
        .post(format!("{base}/services/oauth2/token"))
        .form(&[
            ("grant_type", oauth::JWT_BEARER_GRANT_TYPE),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("token request: {e}"))?;
    let body: Json = check(response, "token request")
        .await?
        .json()
        .await
        .map_err(|e| format!("token response: {e}"))?;
    body.get("access_token")
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("token response has no access_token: {body}"))
}

// ------------------------------------------------------------------ jobs

struct IngestReport {
    label: &'static str,
    rows: usize,
    upload: Duration,
    processing: Duration,
    server_processing_ms: u64,
    results: Duration,
    end_to_end: Duration,
    successful: usize,
    created: usize,
    failed: usize,
    result_bytes: usize,
    rss_after: u64,
    peak_rss: u64,
}

impl IngestReport {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.end_to_end.as_secs_f64()
    }
    fn processing_rate(&self) -> f64 {
        self.rows as f64 / self.processing.as_secs_f64()
    }
}

/// Counts data lines (the header excluded) and, for successful results, rows whose
/// `sf__Created` is `true`.
fn count_result_rows(body: &[u8], created_column: bool) -> (usize, usize) {
    let mut lines = body.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    lines.next();
    let mut rows = 0;
    let mut created = 0;
    for line in lines {
        rows += 1;
        if created_column {
            // "sf__Id","sf__Created",...: the second quoted cell.
            let mut cells = line.splitn(3, |b| *b == b',');
            cells.next();
            if cells.next() == Some(b"\"true\"".as_slice()) {
                created += 1;
            }
        }
    }
    (rows, created)
}

async fn ingest_job(api: &Api, label: &'static str, csv: &Bytes, rows: usize) -> Res<IngestReport> {
    reset_peak();
    let started = Instant::now();
    let created = api
        .json(
            api.http.post(api.url("jobs/ingest")).json(&json!({
                "object": "Contact",
                "operation": "upsert",
                "externalIdFieldName": "Shopify_Customer_ID__c",
                "contentType": "CSV",
                "lineEnding": "LF",
                "columnDelimiter": "COMMA",
            })),
            "create job",
        )
        .await?;
    let id = created
        .get("id")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("create job: no id in {created}"))?
        .to_string();

    let upload_started = Instant::now();
    let response = api
        .http
        .put(api.url(&format!("jobs/ingest/{id}/batches")))
        .bearer_auth(&api.token)
        .header(reqwest::header::CONTENT_TYPE, "text/csv")
        .body(csv.clone())
        .send()
        .await
        .map_err(|e| format!("upload: {e}"))?;
    let response = check(response, "upload").await?;
    if response.status() != StatusCode::CREATED {
        return Err(format!(
            "upload: expected 201 Created, got {}",
            response.status()
        ));
    }
    let upload = upload_started.elapsed();

    let closed_at = Instant::now();
    api.json(
        api.http
            .patch(api.url(&format!("jobs/ingest/{id}")))
            .json(&json!({"state": "UploadComplete"})),
        "close job",
    )
    .await?;
    let info = loop {
        tokio::time::sleep(POLL).await;
        let info = api
            .json(
                api.http.get(api.url(&format!("jobs/ingest/{id}"))),
                "job info",
            )
            .await?;
        match info.get("state").and_then(Json::as_str) {
            Some("JobComplete") => break info,
            Some("Failed" | "Aborted") => return Err(format!("{label} job ended: {info}")),
            _ => {}
        }
    };
    let processing = closed_at.elapsed();
    let server_processing_ms = info
        .get("totalProcessingTime")
        .and_then(Json::as_u64)
        .unwrap_or(0);
    let failed_reported = info
        .get("numberRecordsFailed")
        .and_then(Json::as_u64)
        .unwrap_or(0) as usize;

    let results_started = Instant::now();
    let (ok_body, _) = api
        .csv(
            &api.url(&format!("jobs/ingest/{id}/successfulResults")),
            "successfulResults",
        )
        .await?;
    let (failed_body, _) = api
        .csv(
            &api.url(&format!("jobs/ingest/{id}/failedResults")),
            "failedResults",
        )
        .await?;
    let results = results_started.elapsed();
    let end_to_end = started.elapsed();

    let (successful, created) = count_result_rows(&ok_body, true);
    let (failed, _) = count_result_rows(&failed_body, false);
    if failed > 0 {
        let sample: String = String::from_utf8_lossy(&failed_body)
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!("{label}: {failed} failed rows; first ones:\n{sample}");
    }
    let (rss_after, peak_rss) = memory();
    Ok(IngestReport {
        label,
        rows,
        upload,
        processing,
        server_processing_ms,
        results,
        end_to_end,
        successful,
        created,
        failed: failed.max(failed_reported),
        result_bytes: ok_body.len() + failed_body.len(),
        rss_after,
        peak_rss,
    })
}

struct QueryReport {
    rows: usize,
    pages: usize,
    processing: Duration,
    download: Duration,
    end_to_end: Duration,
    peak_rss: u64,
}

async fn query_job(api: &Api) -> Res<QueryReport> {
    reset_peak();
    let started = Instant::now();
    let created = api
        .json(
            api.http.post(api.url("jobs/query")).json(&json!({
                "operation": "query",
                "query": "SELECT Id, Shopify_Customer_ID__c, Email FROM Contact",
            })),
            "create query job",
        )
        .await?;
    let id = created
        .get("id")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("create query job: no id in {created}"))?
        .to_string();
    loop {
        tokio::time::sleep(POLL).await;
        let info = api
            .json(
                api.http.get(api.url(&format!("jobs/query/{id}"))),
                "query job info",
            )
            .await?;
        match info.get("state").and_then(Json::as_str) {
            Some("JobComplete") => break,
            Some("Failed" | "Aborted") => return Err(format!("query job ended: {info}")),
            _ => {}
        }
    }
    let processing = started.elapsed();
    let download_started = Instant::now();
    let mut rows = 0;
    let mut pages = 0;
    let mut locator: Option<String> = None;
    loop {
        let mut url = format!(
            "{}?maxRecords={QUERY_PAGE}",
            api.url(&format!("jobs/query/{id}/results"))
        );
        if let Some(l) = &locator {
            url.push_str("&locator=");
            url.push_str(l);
        }
        let (body, next) = api.csv(&url, "query results").await?;
        pages += 1;
        rows += count_result_rows(&body, false).0;
        match next.as_deref() {
            Some("null") => break,
            Some(l) if !l.is_empty() => locator = Some(l.to_string()),
            other => {
                return Err(format!(
                    "query results: unexpected Sforce-Locator {other:?}"
                ));
            }
        }
    }
    let download = download_started.elapsed();
    Ok(QueryReport {
        rows,
        pages,
        processing,
        download,
        end_to_end: started.elapsed(),
        peak_rss: memory().1,
    })
}

// ------------------------------------------------------------------ main

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn rate(n: f64) -> String {
    let n = n.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn run(options: Options) -> Res<bool> {
    let rows = options.rows;
    let (rss_start, _) = memory();

    let generated_at = Instant::now();
    let csv = generate_csv(rows)?;
    println!(
        "generated {} rows, {:.1} MB of CSV in {}",
        rate(rows as f64),
        mb(csv.len() as u64),
        secs(generated_at.elapsed())
    );

    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let creds = oauth::ensure_dev_credentials(dir.path()).map_err(|e| e.to_string())?;
    let certificate =
        ClientCertificate::from_file(&creds.certificate_path).map_err(|e| e.to_string())?;
    let key_pem =
        std::fs::read(&creds.private_key_path).map_err(|e| format!("private key: {e}"))?;
    let mut config =
        EmulatorConfig::new(CONSUMER_KEY.to_string(), certificate, USERNAME.to_string());
    config.sfdx_dir = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/sfdx").into());
    config.processing = Processing::Instant;
    let addr: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let emulator = sf::start(config, addr).await.map_err(|e| e.to_string())?;

    let http = Client::builder()
        .gzip(options.gzip)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let token = login(&http, &emulator.base_url, &key_pem).await?;
    let api = Api {
        http,
        base: emulator.base_url.clone(),
        token,
    };
    let (rss_before, _) = memory();

    let insert = ingest_job(&api, "insert", &csv, rows).await?;
    let update = ingest_job(&api, "update", &csv, rows).await?;
    let query = query_job(&api).await?;
    let (_, peak_total) = memory();
    let peak = [insert.peak_rss, update.peak_rss, query.peak_rss, peak_total]
        .into_iter()
        .max()
        .unwrap_or(0);

    println!(
        "\nemulator_ingest: {rows} rows, CSV {:.1} MB, gzip responses {}, processing Instant, {} cores",
        mb(csv.len() as u64),
        if options.gzip { "on" } else { "off" },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>12} {:>12} {:>7} {:>10} {:>10}",
        "job",
        "rows",
        "upload",
        "processing",
        "results",
        "e2e",
        "rows/s e2e",
        "rows/s proc",
        "failed",
        "RSS after",
        "peak RSS"
    );
    for r in [&insert, &update] {
        println!(
            "{:<7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>12} {:>12} {:>7} {:>7.0} MB {:>7.0} MB",
            r.label,
            r.rows,
            secs(r.upload),
            secs(r.processing),
            secs(r.results),
            secs(r.end_to_end),
            rate(r.rate()),
            rate(r.processing_rate()),
            r.failed,
            mb(r.rss_after),
            mb(r.peak_rss),
        );
    }
    println!(
        "{:<7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>12} {:>12} {:>7} {:>10} {:>7.0} MB",
        "query",
        query.rows,
        "-",
        secs(query.processing),
        secs(query.download),
        secs(query.end_to_end),
        rate(query.rows as f64 / query.end_to_end.as_secs_f64()),
        rate(query.rows as f64 / query.processing.as_secs_f64()),
        0,
        "-",
        mb(query.peak_rss),
    );
    println!(
        "server totalProcessingTime: insert {} ms, update {} ms; result files downloaded: insert {:.1} MB, update {:.1} MB; query pages {}",
        insert.server_processing_ms,
        update.server_processing_ms,
        mb(insert.result_bytes as u64),
        mb(update.result_bytes as u64),
        query.pages
    );
    let grown = insert.rss_after.saturating_sub(rss_before);
    println!(
        "memory: RSS at start {:.0} MB, before jobs {:.0} MB (CSV held by the client), after insert {:.0} MB: {} bytes per stored record (RSS after load / rows {}), peak {:.0} MB",
        mb(rss_start),
        mb(rss_before),
        mb(insert.rss_after),
        grown / rows as u64,
        insert.rss_after / rows as u64,
        mb(peak),
    );

    let mut ok = true;
    for r in [&insert, &update] {
        if r.failed > 0 || r.successful != r.rows {
            eprintln!(
                "error: {} job: {} successful, {} failed of {} rows",
                r.label, r.successful, r.failed, r.rows
            );
            ok = false;
        }
    }
    if insert.created != rows {
        eprintln!(
            "error: insert job created {} of {rows} rows",
            insert.created
        );
        ok = false;
    }
    if update.created != 0 {
        eprintln!(
            "error: update job created {} rows; all should be updates",
            update.created
        );
        ok = false;
    }
    if query.rows < rows {
        eprintln!(
            "error: the query returned {} Contacts, fewer than the {rows} loaded",
            query.rows
        );
        ok = false;
    }
    for r in [&insert, &update] {
        if r.rate() < TARGET_ROWS_PER_SEC {
            eprintln!(
                "note: {} end-to-end throughput {} rows/s is below the {} rows/s goal",
                r.label,
                rate(r.rate()),
                rate(TARGET_ROWS_PER_SEC)
            );
        }
    }
    println!(
        "bench emulator_ingest: {rows} rows, insert {:.0} rows/s, update {:.0} rows/s, peak RSS {:.0} MB",
        insert.rate(),
        update.rate(),
        mb(peak)
    );
    drop(api);
    emulator.shutdown().await.map_err(|e| e.to_string())?;
    Ok(ok)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
