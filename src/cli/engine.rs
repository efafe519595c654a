//! The engine's commands: `sync`, `status`, `dlq`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::config::{Config, LogFormat};
use crate::mapping::build::{AccountModel, MappingContext};
use crate::salesforce::{SalesforceClient, SalesforceConfig};
use crate::store::{DeadLetterFilter, DeadLetterId, DeadLetterStatus, StateStore, Store};
use secrecy::SecretString;

use crate::shopify::client::{ShopifyClient, ShopifyConfig};
use crate::sync::{SyncOptions, SyncProgress, SyncReport, run_sync_with_progress};

use super::progress::{self, Display, LogWriter};

/// Where the configuration comes from.
#[derive(Debug, Args, Clone)]
pub struct ConfigArgs {
    /// The TOML configuration (every key can also be set with a SHOPFORCE_* variable).
    #[arg(long, default_value = "shopforce.toml", env = "SHOPFORCE_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The shop's myshopify.com domain (recorded with every mapping). Without it, every
    /// shop of `[[shopify.shops]]` is synced in turn.
    #[arg(long)]
    pub shop: Option<String>,
    /// Read a Shopify bulk export from this folder (customers.jsonl, orders.jsonl,
    /// companies.jsonl) instead of the live Shopify API (needs --shop).
    #[arg(long, value_name = "DIR", requires = "shop")]
    pub from_jsonl: Option<PathBuf>,
    /// Write the CSV files that would be uploaded into DIR and send nothing.
    #[arg(long, value_name = "DIR")]
    pub dry_run: Option<PathBuf>,
    /// Send every record, even those unchanged since they were last written.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// How many recent runs to show.
    #[arg(long, default_value_t = 10)]
    pub runs: u32,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct FieldsArgs {
    /// Print a Markdown table (what docs/field-ownership.md holds for the defaults).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Also show how many values syncs have withheld from each field (reads the state
    /// store).
    #[arg(long)]
    pub counts: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters (open ones by default).
    List(DlqListArgs),
    /// Send dead-lettered rows to Salesforce again (rows the mapping produced; bad source
    /// lines must be fixed at the source and exported again).
    Retry(DlqSelectArgs),
    /// Mark dead letters as dropped (kept for the record, no longer open).
    Drop(DlqSelectArgs),
}

#[derive(Debug, Args)]
pub struct DlqListArgs {
    /// open, retried or dropped.
    #[arg(long, default_value = "open")]
    pub status: String,
    /// Only this target (e.g. contact-customer) or source file (jsonl:orders.jsonl).
    #[arg(long)]
    pub object: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct DlqSelectArgs {
    /// Dead-letter ids (see `dlq list`).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<i64>,
    /// Every open dead letter.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Loads the configuration; the file is optional unless named explicitly.
pub fn load_config(args: &ConfigArgs) -> Result<Config, String> {
    let explicit = std::env::var_os("SHOPFORCE_CONFIG").is_some()
        || args.config != std::path::Path::new("shopforce.toml");
    Config::load(Some(&args.config), explicit, |k| std::env::var(k).ok()).map_err(|e| e.to_string())
}

/// Starts logging as the configuration says (text or JSON lines on stderr).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,shopforce=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub(crate) async fn open_store(config: &Config) -> Result<Store, String> {
    if let Some(path) = config.database.url.strip_prefix("sqlite:")
        && let Some(parent) = std::path::Path::new(path.trim_start_matches("//")).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    Store::connect(&config.database.url)
        .await
        .map_err(|e| format!("state store: {e}"))
}

/// The Salesforce client the configuration describes.
pub fn salesforce_client(config: &Config) -> Result<SalesforceClient, String> {
    config.require_salesforce().map_err(|e| e.to_string())?;
    let sf = &config.salesforce;
    let mut c = SalesforceConfig::with_key_file(
        sf.login_url.clone(),
        sf.client_id.clone(),
        sf.username.clone(),
        &sf.private_key_path,
    )
    .map_err(|e| format!("salesforce.private_key_path: {e}"))?;
    c.audience = sf.audience.clone();
    c.api_version = sf.api_version.clone();
    if let Some(rps) = std::num::NonZeroU32::new(sf.requests_per_second) {
        c.requests_per_second = rps;
    }
    c.api_usage_stop_fraction = sf.api_usage_stop_fraction;
    SalesforceClient::new(c).map_err(|e| e.to_string())
}

/// The Id of the org's standard price book (order products need it).
pub async fn standard_pricebook(client: &SalesforceClient) -> Result<String, String> {
    let rows = client
        .query("SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1")
        .await
        .map_err(|e| e.to_string())?;
    rows.first()
        .and_then(|r| r.get("Id"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| "the org has no standard price book (Pricebook2 with IsStandard = true); activate it in Setup".to_string())
}

/// The Id of the Account record type Person Accounts are created with: the active person
/// record type whose `DeveloperName` is `developer_name`.
pub async fn person_record_type(
    client: &SalesforceClient,
    developer_name: &str,
) -> Result<String, String> {
    let rows = client
        .query("SELECT Id, DeveloperName FROM RecordType WHERE SobjectType = 'Account' AND IsPersonType = true AND IsActive = true")
        .await
        .map_err(|e| {
            format!("cannot read the org's Person Account record types ({e}); sync.account_model = \"person_account\" needs an org with Person Accounts enabled")
        })?;
    let name_of = |r: &serde_json::Value| {
        r.get("DeveloperName")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    if let Some(row) = rows.iter().find(|r| name_of(r) == developer_name) {
        return row
            .get("Id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| "RecordType query returned a row without Id".to_string());
    }
    if rows.is_empty() {
        return Err("the org has no active Person Account record type: enable Person Accounts (Setup → Account Settings) or set sync.account_model to \"per_customer\" or \"bucket\"".to_string());
    }
    let names: Vec<String> = rows.iter().map(name_of).collect();
    Err(format!(
        "sync.person_record_type: the org has no active person record type named {developer_name:?}; it has: {}",
        names.join(", ")
    ))
}

pub async fn sync(args: SyncArgs) -> Result<(), String> {
    let config = load_config(&args.config)?;
    init_logging(config.log.format);
    let shops: Vec<String> = match &args.shop {
        Some(shop) => vec![shop.clone()],
        None => config
            .shopify
            .shops
            .iter()
            .map(|s| s.domain.clone())
            .collect(),
    };
    if shops.is_empty() {
        return Err("no shop to sync: give --shop DOMAIN or list shops in [[shopify.shops]] of shopforce.toml".to_string());
    }
    let store = open_store(&config).await?;
    for shop in shops {
        sync_shop(&args, &config, &store, &shop).await?;
    }
    store.close().await;
    Ok(())
}

/// The Shopify client for `shop` as the configuration describes it.
pub fn shopify_client(config: &Config, shop: &str) -> Result<ShopifyClient, String> {
    let section = &config.shopify;
    let token = section.token_for(shop).map_err(|e| e.to_string())?;
    let mut c = ShopifyConfig::new(shop, SecretString::from(token));
    c.api_version = section.api_version.clone();
    c.api_url = section.api_url.clone();
    c.requests_per_second =
        std::num::NonZeroU32::new(section.requests_per_second).unwrap_or(std::num::NonZeroU32::MIN);
    ShopifyClient::new(c).map_err(|e| e.to_string())
}

pub(crate) async fn sync_shop(
    args: &SyncArgs,
    config: &Config,
    store: &Store,
    shop: &str,
) -> Result<(), String> {
    // Salesforce first: wrong credentials should stop the run before a long Shopify export.
    let client = if args.dry_run.is_some() {
        None
    } else {
        let client = salesforce_client(config)?;
        client.login().await.map_err(|e| e.to_string())?;
        Some(client)
    };
    let shopify = match &args.from_jsonl {
        Some(_) => None,
        None => Some(shopify_client(config, shop)?),
    };
    let source_dir = match (&args.from_jsonl, &shopify) {
        (Some(dir), _) => dir.clone(),
        (None, None) => unreachable!("a live sync has a Shopify client"),
        (None, Some(client)) => {
            let dir = config.sync.work_dir.join("exports").join(shop);
            let overlap = std::time::Duration::from_secs(
                u64::from(config.shopify.cursor_overlap_minutes) * 60,
            );
            let fetched =
                crate::sync::source::fetch_exports(client, store, &dir, args.full, overlap)
                    .await
                    .map_err(|e| e.to_string())?;
            for (file, objects, bytes, since) in &fetched.exports {
                println!(
                    "{shop}: {file}: {objects} objects, {bytes} bytes{}",
                    since
                        .as_ref()
                        .map(|s| format!(" (updated since {s})"))
                        .unwrap_or_default()
                );
            }
            dir
        }
    };
    let standard_pricebook_id = match &client {
        Some(c) => standard_pricebook(c).await?,
        None => "STANDARD_PRICEBOOK_ID".to_string(),
    };
    let person_record_type_id = match (&client, config.sync.account_model) {
        (Some(c), AccountModel::PersonAccount) => {
            Some(person_record_type(c, &config.sync.person_record_type).await?)
        }
        (None, AccountModel::PersonAccount) => Some("PERSON_RECORD_TYPE_ID".to_string()),
        _ => None,
    };
    let ctx = MappingContext {
        shop: shop.to_string(),
        org_currency: config.salesforce.currency.clone(),
        standard_pricebook_id,
        account_model: config.sync.account_model,
        person_record_type_id,
    };
    let options = SyncOptions {
        source_dir,
        dry_run: args.dry_run.clone(),
        full: args.full,
        work_dir: config.sync.work_dir.clone(),
        part_size: config.sync.part_size_bytes,
        max_concurrent_jobs: config.sync.max_concurrent_jobs,
        max_row_retries: config.sync.max_row_retries,
        ownership: config.ownership_matrix().map_err(|e| e.to_string())?,
        metrics: config.metrics.clone(),
        as_of: None,
        identity: Some(config.identity.clone()),
        owner_routing: config.owner_routing.clone(),
    };
    let started = std::time::Instant::now();
    let progress = std::sync::Arc::new(SyncProgress::default());
    let display = if std::io::stderr().is_terminal() && matches!(config.log.format, LogFormat::Text)
    {
        Display::Bars
    } else {
        Display::LogLines {
            every: std::time::Duration::from_secs(15),
        }
    };
    let shown = progress::show(std::sync::Arc::clone(&progress), display);
    let result = run_sync_with_progress(client.as_ref(), store, &ctx, &options, &progress).await;
    shown.stop().await;
    let report = result.map_err(|e| e.to_string())?;
    print_report(&report, started.elapsed());
    // Consent changes made in Salesforce go to Shopify (a live sync only).
    if let (Some(shopify), Some(_)) = (&shopify, &client)
        && config.identity.enabled
    {
        let pushed = crate::sync::consent_push::push_pending(shopify, store, shop)
            .await
            .map_err(|e| e.to_string())?;
        if pushed.pushed + pushed.failed > 0 {
            println!(
                "consent: {} CRM changes pushed to Shopify, {} failed (kept for the next run)",
                pushed.pushed, pushed.failed
            );
        }
    } else if args.from_jsonl.is_some() {
        let waiting = store
            .pending_consent(shop)
            .await
            .map_err(|e| e.to_string())?
            .len();
        if waiting > 0 {
            println!("consent: {waiting} CRM changes wait for a live sync to reach Shopify");
        }
    }
    let depth = store.dead_letter_depth().await.map_err(|e| e.to_string())?;
    if depth > 0 {
        println!("dead-letter queue: {depth} open (see `shopforce dlq list`)");
    }
    Ok(())
}

fn print_report(report: &SyncReport, elapsed: std::time::Duration) {
    println!(
        "run {}: {} lines read ({} bad), {} jobs resumed, {} aborted",
        report.run,
        report.scan.lines,
        report.scan.bad_lines,
        report.resumed_jobs,
        report.aborted_jobs
    );
    println!(
        "{:<18} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>7} {:>6}",
        "target", "read", "unchanged", "held", "uploaded", "created", "updated", "failed", "jobs"
    );
    for (name, t) in &report.targets {
        println!(
            "{:<18} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>7} {:>6}",
            name,
            t.read,
            t.unchanged,
            t.held,
            t.jobs.uploaded,
            t.jobs.created,
            t.jobs.updated,
            t.jobs.dead_lettered,
            t.jobs.jobs
        );
    }
    if !report.identity.is_empty() {
        let outcomes: Vec<String> = report
            .identity
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        println!("identity: {}", outcomes.join(", "));
    }
    let total = report.total();
    let rows = total.jobs.created + total.jobs.updated;
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "total: {} written ({} created, {} updated), {} unchanged, {} dead-lettered, in {:.1} s ({:.0} rows/s)",
        rows,
        total.jobs.created,
        total.jobs.updated,
        total.unchanged,
        total.jobs.dead_lettered + total.held + report.scan.unmappable + report.scan.bad_lines,
        secs,
        rows as f64 / secs
    );
    if let Some(routing) = &report.owner_routing {
        let owners: Vec<String> = routing
            .by_owner
            .iter()
            .map(|(email, n)| format!("{email} {n}"))
            .collect();
        println!(
            "owner routing: {} new companies ({}); {} matched no rule, {} had an inactive rule owner (default owner)",
            routing.new_companies,
            if owners.is_empty() {
                "-".to_string()
            } else {
                owners.join(", ")
            },
            routing.unmatched,
            routing.inactive_owner
        );
    }
    if !report.dry_run_files.is_empty() {
        println!("dry run: nothing sent; CSV files written:");
        for f in &report.dry_run_files {
            println!("  {}", f.display());
        }
    }
}

/// `shopforce fields`: the ownership matrix, generated from the config.
pub async fn fields(args: FieldsArgs) -> Result<(), String> {
    let config = load_config(&args.config)?;
    let matrix = config.ownership_matrix().map_err(|e| e.to_string())?;
    let withheld = if args.counts {
        let store = open_store(&config).await?;
        let totals = store.withheld_writes().await.map_err(|e| e.to_string())?;
        store.close().await;
        Some(totals)
    } else {
        None
    };
    if args.json {
        let value = serde_json::json!({
            "fields": matrix.table(),
            "withheld": withheld,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else if args.markdown {
        print!("{}", matrix.markdown());
    } else {
        print!("{}", matrix.text_table());
    }
    if let Some(totals) = withheld.filter(|_| !args.json) {
        println!();
        if totals.is_empty() {
            println!("No values withheld yet.");
        } else {
            println!(
                "{:<10} {:<32} {:<10} {:>10} {:>10}",
                "OBJECT", "FIELD", "REASON", "TOTAL", "LAST RUN"
            );
            for t in totals {
                println!(
                    "{:<10} {:<32} {:<10} {:>10} {:>10}",
                    t.object, t.field, t.reason, t.total, t.last_run_count
                );
            }
            println!(
                "A CRM-owned field that keeps being withheld is one Shopify keeps changing: check that the matrix means it."
            );
        }
    }
    Ok(())
}

pub async fn status(args: StatusArgs) -> Result<(), String> {
    let config = load_config(&args.config)?;
    let store = open_store(&config).await?;
    let runs = store
        .recent_runs(args.runs)
        .await
        .map_err(|e| e.to_string())?;
    let unfinished = store.unfinished_jobs().await.map_err(|e| e.to_string())?;
    let depth = store.dead_letter_depth().await.map_err(|e| e.to_string())?;
    let mappings = store
        .count_mappings(None, None)
        .await
        .map_err(|e| e.to_string())?;
    if args.json {
        let value = serde_json::json!({
            "runs": runs.iter().map(|r| serde_json::json!({
                "id": r.id.0, "shop": r.shop, "kind": r.kind, "status": r.status.to_string(),
                "started_at": r.started_at, "finished_at": r.finished_at, "summary": r.summary,
            })).collect::<Vec<_>>(),
            "unfinished_jobs": unfinished.iter().map(|j| serde_json::json!({
                "key": j.key.0, "run": j.run.0, "target": j.object, "salesforce_job": j.sf_job_id,
                "phase": j.phase.to_string(), "rows": j.row_count,
            })).collect::<Vec<_>>(),
            "dead_letter_depth": depth,
            "mappings": mappings,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        println!(
            "{:>5}  {:<28} {:<8} {:<11} {:<25} written  dead-lettered",
            "run", "shop", "kind", "status", "started"
        );
        for r in &runs {
            let totals = r.summary.as_ref().map(run_totals).unwrap_or_default();
            println!(
                "{:>5}  {:<28} {:<8} {:<11} {:<25} {:>7}  {:>13}",
                r.id.0,
                r.shop,
                r.kind,
                r.status.to_string(),
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                totals.0,
                totals.1
            );
        }
        println!("unfinished jobs: {}", unfinished.len());
        for j in &unfinished {
            println!(
                "  job {} ({}) {} rows, {}",
                j.sf_job_id.as_deref().unwrap_or("not created"),
                j.object,
                j.row_count,
                j.phase
            );
        }
        println!("id mappings: {mappings}");
        println!("dead-letter queue: {depth} open");
    }
    store.close().await;
    Ok(())
}

fn run_totals(summary: &serde_json::Value) -> (u64, u64) {
    let summary = summary.get("report").unwrap_or(summary);
    let mut written = 0;
    let mut failed = 0;
    if let Some(targets) = summary.get("targets").and_then(|t| t.as_object()) {
        for t in targets.values() {
            let n = |k: &str| t.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            written += n("created") + n("updated");
            failed += n("dead_lettered") + n("held");
        }
    }
    (written, failed)
}

pub async fn dlq(command: DlqCommand) -> Result<(), String> {
    match command {
        DlqCommand::List(args) => {
            let config = load_config(&args.config)?;
            let store = open_store(&config).await?;
            let status: DeadLetterStatus = args
                .status
                .parse()
                .map_err(|_| format!("--status {:?}: use open, retried or dropped", args.status))?;
            let letters = store
                .list_dead_letters(&DeadLetterFilter {
                    status: Some(status),
                    object: args.object.clone(),
                    shop: None,
                    after: None,
                    limit: args.limit,
                })
                .await
                .map_err(|e| e.to_string())?;
            if args.json {
                let value: Vec<_> = letters
                    .iter()
                    .map(|d| serde_json::json!({
                        "id": d.id.0, "shop": d.shop, "object": d.object, "external_id": d.external_id,
                        "error_code": d.error_code, "message": d.message, "hint": d.hint,
                        "attempts": d.attempts, "status": d.status.to_string(), "created_at": d.created_at,
                        "payload": d.payload,
                    }))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
            } else {
                for d in &letters {
                    println!(
                        "#{} {} {} [{}] {}",
                        d.id.0, d.object, d.external_id, d.error_code, d.message
                    );
                    if let Some(h) = &d.hint {
                        println!("     hint: {h}");
                    }
                }
                println!("{} shown", letters.len());
            }
            store.close().await;
            Ok(())
        }
        DlqCommand::Drop(args) => {
            let config = load_config(&args.config)?;
            let store = open_store(&config).await?;
            let ids = select(&store, &args).await?;
            let n = store
                .mark_dead_letters(&ids, DeadLetterStatus::Dropped)
                .await
                .map_err(|e| e.to_string())?;
            println!("{n} dead letters dropped");
            store.close().await;
            Ok(())
        }
        DlqCommand::Retry(args) => {
            let config = load_config(&args.config)?;
            init_logging(config.log.format);
            let store = open_store(&config).await?;
            let ids = select(&store, &args).await?;
            let client = salesforce_client(&config)?;
            let summary = crate::sync::retry::retry_dead_letters(
                &client,
                &store,
                &config.sync.work_dir,
                &ids,
                config.sync.max_row_retries,
                &config.ownership_matrix().map_err(|e| e.to_string())?,
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "{} rows sent again: {} written, {} failed again (new dead letters); {} could not be sent (fix at the source)",
                summary.sent, summary.written, summary.failed_again, summary.not_resendable
            );
            store.close().await;
            Ok(())
        }
    }
}

async fn select(store: &Store, args: &DlqSelectArgs) -> Result<Vec<DeadLetterId>, String> {
    if args.all {
        let letters = crate::sync::retry::open_dead_letters(store)
            .await
            .map_err(|e| e.to_string())?;
        Ok(letters.iter().map(|d| d.id).collect())
    } else if args.ids.is_empty() {
        Err("name dead letters with --id N (repeatable) or use --all".to_string())
    } else {
        Ok(args.ids.iter().map(|i| DeadLetterId(*i)).collect())
    }
}
