//! The `shopforce` command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub mod engine;
/// `gen` is reserved in edition 2024; the module is `cli::r#gen` (file `src/cli/gen.rs`).
pub mod r#gen;
pub mod progress;
pub mod review;

use crate::emulator::salesforce::oauth::{self, ClientCertificate};
use crate::emulator::salesforce::{self as sf_emulator, EmulatorConfig, FaultProfile, Processing};
use crate::emulator::shopify as shopify_emulator;

/// Keeps Salesforce in step with Shopify.
#[derive(Debug, Parser)]
#[command(name = "shopforce", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync a Shopify bulk export into Salesforce (Bulk API 2.0 upserts, crash-safe).
    Sync(engine::SyncArgs),
    /// Show recent runs, unfinished jobs, id mappings and the dead-letter depth.
    Status(engine::StatusArgs),
    /// Inspect, resend or drop dead-lettered records.
    #[command(subcommand)]
    Dlq(engine::DlqCommand),
    /// Print the field-ownership matrix the config gives: which fields shopforce writes on
    /// every sync, only on create, or never.
    Fields(engine::FieldsArgs),
    /// Ambiguous identity matches waiting for a person: list them, decide them.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Write a generated Shopify store as bulk-export JSONL (messy, deterministic), with a
    /// truth.csv of which records are the same person.
    Gen(r#gen::GenArgs),
    /// The whole product with no shop and no org: both emulators, a generated store, a full
    /// and an incremental sync over real HTTP, and a report.
    Demo(crate::demo::DemoArgs),
    /// Run a local emulator of Salesforce or Shopify for dry runs and tests.
    #[command(subcommand)]
    Emulator(EmulatorCommand),
    /// Print a signed JWT bearer assertion (RS256) for a Salesforce token request.
    JwtAssertion(JwtAssertionArgs),
    /// Work with the Salesforce DX project admins deploy (`sfdx/`).
    #[command(subcommand)]
    Sfdx(SfdxCommand),
}

#[derive(Debug, Subcommand)]
pub enum SfdxCommand {
    /// Validate the project offline (what `sf project convert source` does not check): element
    /// names and values, field rules, permission-set coverage of the engine's fields, duplicate
    /// and matching rules, the External Client App, package.xml. Exits non-zero on problems.
    Check(SfdxCheckArgs),
}

#[derive(Debug, Args)]
pub struct SfdxCheckArgs {
    /// The Salesforce DX project folder (holding sfdx-project.json).
    #[arg(long, default_value = "sfdx")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum EmulatorCommand {
    /// Emulate a Salesforce org: OAuth JWT bearer, Bulk API 2.0, REST basics.
    Salesforce(SalesforceEmulatorArgs),
    /// Emulate Shopify stores: Admin GraphQL (bulk exports, consent, metafields), cost-based
    /// throttling and webhooks, over a generated store (same seed, same data as `gen`).
    Shopify(ShopifyEmulatorArgs),
}

#[derive(Debug, Args)]
pub struct ShopifyEmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        default_value = "127.0.0.1:8444",
        env = "SHOPFORCE_SHOPIFY_EMULATOR_LISTEN"
    )]
    pub listen: SocketAddr,
    /// The `X-Shopify-Access-Token` the shops accept (default: a random one, printed).
    #[arg(
        long,
        env = "SHOPFORCE_SHOPIFY_EMULATOR_ACCESS_TOKEN",
        hide_env_values = true
    )]
    pub access_token: Option<String>,
    #[command(flatten)]
    pub shape: r#gen::StoreShapeArgs,
    /// The domain of the (single) shop, instead of store-1.myshopify.com.
    #[arg(long, value_name = "DOMAIN")]
    pub shop: Option<String>,
    /// The API version whose rules apply (requests may use any accessible version).
    #[arg(long, default_value = shopify_emulator::DEFAULT_API_VERSION)]
    pub api_version: String,
    /// Cost points restored per second (standard plan: 100).
    #[arg(long, default_value_t = 100.0)]
    pub restore_rate: f64,
    /// Cost bucket size (standard plan: 2000).
    #[arg(long, default_value_t = 2000.0)]
    pub bucket_size: f64,
    /// Where to POST webhooks.
    #[arg(long, requires = "webhook_secret")]
    pub webhook_url: Option<String>,
    /// The secret webhooks are signed with (X-Shopify-Hmac-Sha256).
    #[arg(
        long,
        requires = "webhook_url",
        env = "SHOPFORCE_SHOPIFY_EMULATOR_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// Shortest time a bulk operation takes, in milliseconds (longer ones grow with size).
    #[arg(long, default_value_t = 50)]
    pub bulk_min_ms: u64,
    /// Write the base URL to this file once serving (for scripts).
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

/// Default OAuth consumer key of the emulator's connected app.
pub const DEFAULT_CONSUMER_KEY: &str = "3MVG9shopforce.emulator.consumer.key";
/// Default integration username.
pub const DEFAULT_USERNAME: &str = "integration@shopforce.example";

#[derive(Debug, Args)]
pub struct SalesforceEmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        default_value = "127.0.0.1:8443",
        env = "SHOPFORCE_EMULATOR_LISTEN"
    )]
    pub listen: SocketAddr,
    /// OAuth consumer key (client id) the JWT `iss` must carry.
    #[arg(long, default_value = DEFAULT_CONSUMER_KEY)]
    pub consumer_key: String,
    /// X.509 certificate or public-key PEM of the key that signs assertions. Without it, a
    /// development key pair is generated in the data directory.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Username of the pre-authorized integration user (the JWT `sub`).
    #[arg(long, default_value = DEFAULT_USERNAME)]
    pub username: String,
    /// Salesforce DX folder whose custom fields the org has (default: ./sfdx if present).
    #[arg(long)]
    pub sfdx: Option<PathBuf>,
    /// `instant` (as fast as possible) or `realistic` (Salesforce-like latency).
    #[arg(long, default_value = "instant")]
    pub processing: Processing,
    /// Fault profile, e.g. `seed=7,http503=0.05,lock=0.01,fail_jobs=1`.
    #[arg(long)]
    pub faults: Option<String>,
    /// Org snapshot: loaded at start if it exists, written at shutdown.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Where generated development credentials live.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Write the base URL to this file once serving (for scripts).
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Access-token lifetime in seconds (the org's session timeout).
    #[arg(long, default_value_t = 7200)]
    pub token_ttl: u64,
    /// Daily API request allowance.
    #[arg(long, default_value_t = 1_000_000)]
    pub api_limit: u64,
    /// Enable Person Accounts in the org (person record type, person fields, person
    /// contacts), as an org with the feature turned on has.
    #[arg(long)]
    pub person_accounts: bool,
}

#[derive(Debug, Args)]
pub struct JwtAssertionArgs {
    /// PEM private key (PKCS#8 or PKCS#1 RSA).
    #[arg(long)]
    pub key: PathBuf,
    /// OAuth consumer key (`iss`).
    #[arg(long)]
    pub client_id: String,
    /// Salesforce username (`sub`).
    #[arg(long)]
    pub username: String,
    /// Login URL (`aud`), e.g. https://login.salesforce.com.
    #[arg(long, default_value = "https://login.salesforce.com")]
    pub audience: String,
    /// Seconds until the assertion expires.
    #[arg(long, default_value_t = 180)]
    pub expires_in: u64,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    crate::store::keep_c_heap();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Sync(_) | Command::Dlq(_)) {
        init_tracing();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Emulator(EmulatorCommand::Salesforce(args)) => {
                run_salesforce_emulator(args).await
            }
            Command::Emulator(EmulatorCommand::Shopify(args)) => run_shopify_emulator(args).await,
            Command::Sync(args) => engine::sync(args).await,
            Command::Status(args) => engine::status(args).await,
            Command::Dlq(command) => engine::dlq(command).await,
            Command::Fields(args) => engine::fields(args).await,
            Command::Review(command) => review::run(command).await,
            Command::Gen(args) => r#gen::run(&args),
            Command::Demo(args) => crate::demo::run(args).await,
            Command::JwtAssertion(args) => jwt_assertion(&args).map(|a| println!("{a}")),
            Command::Sfdx(SfdxCommand::Check(args)) => sfdx_check(&args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("shopforce/emulator");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/share/shopforce/emulator");
    }
    PathBuf::from(".shopforce/emulator")
}

async fn run_salesforce_emulator(args: SalesforceEmulatorArgs) -> Result<(), String> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let (cert_path, dev_key) = match &args.cert {
        Some(p) => (p.clone(), None),
        None => {
            let creds = oauth::ensure_dev_credentials(&data_dir).map_err(|e| e.to_string())?;
            (creds.certificate_path, Some(creds.private_key_path))
        }
    };
    let certificate = ClientCertificate::from_file(&cert_path).map_err(|e| e.to_string())?;
    let sfdx = args.sfdx.clone().or_else(|| {
        let here = PathBuf::from("sfdx");
        here.join("force-app").is_dir().then_some(here)
    });
    let faults = match &args.faults {
        Some(spec) => FaultProfile::parse(spec).map_err(|e| format!("--faults: {e}"))?,
        None => FaultProfile::default(),
    };
    let mut config = EmulatorConfig::new(
        args.consumer_key.clone(),
        certificate,
        args.username.clone(),
    );
    config.sfdx_dir = sfdx.clone();
    config.processing = args.processing;
    config.faults = faults;
    config.state_file = args.state.clone();
    config.token_ttl = Duration::from_secs(args.token_ttl);
    config.api_limit = args.api_limit;
    config.person_accounts = args.person_accounts;
    let running = sf_emulator::start(config, args.listen)
        .await
        .map_err(|e| e.to_string())?;
    let base = running.base_url.clone();
    print_banner(
        &args,
        &base,
        &cert_path,
        dev_key.as_deref(),
        sfdx.as_deref(),
    );
    if let Some(ready) = &args.ready_file {
        std::fs::write(ready, format!("{base}\n"))
            .map_err(|e| format!("cannot write --ready-file {}: {e}", ready.display()))?;
    }
    shutdown_signal().await;
    eprintln!("Shutting down…");
    running.shutdown().await.map_err(|e| e.to_string())?;
    if let Some(state) = &args.state {
        eprintln!("Org snapshot written to {}", state.display());
    }
    Ok(())
}

async fn run_shopify_emulator(args: ShopifyEmulatorArgs) -> Result<(), String> {
    let shape = args.shape.shape()?;
    if args.shop.is_some() && shape.shops > 1 {
        return Err("--shop names a single shop; it cannot be combined with --shops".into());
    }
    let generated_token = args.access_token.is_none();
    let token = args.access_token.clone().unwrap_or_else(|| {
        use rand::Rng;
        let bytes: [u8; 16] = rand::rng().random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("shpat_{hex}")
    });
    let mut config = shopify_emulator::EmulatorConfig::new(token, shape);
    config.shop_domain = args.shop.clone();
    config.api_version = args.api_version.clone();
    config.restore_rate = args.restore_rate;
    config.bucket_size = args.bucket_size;
    config.bulk_min_duration = Duration::from_millis(args.bulk_min_ms);
    if let (Some(url), Some(secret)) = (&args.webhook_url, &args.webhook_secret) {
        config.webhook = Some(shopify_emulator::WebhookConfig::new(
            url.clone(),
            secret.clone(),
        ));
    }
    let running = shopify_emulator::start(config, args.listen)
        .await
        .map_err(|e| e.to_string())?;
    let base = running.base_url.clone();
    println!("shopforce Shopify emulator is serving.\n");
    println!("  base URL       {base}");
    for domain in running.shop_domains() {
        println!(
            "  shop           {domain}   {}",
            running.graphql_url(&domain, &args.api_version)
        );
    }
    println!(
        "  default shop   {base}/admin/api/{}/graphql.json",
        args.api_version
    );
    if generated_token {
        println!(
            "  access token   {}   (generated for this run; pass --access-token to choose one)",
            running.access_token()
        );
    } else {
        println!("  access token   as given with --access-token");
    }
    println!(
        "  store          {} customers, {} orders, {} companies per shop, seed {}",
        shape.customers, shape.orders, shape.companies, shape.seed
    );
    println!(
        "  cost bucket    {} points, {} restored a second",
        args.bucket_size, args.restore_rate
    );
    match &args.webhook_url {
        Some(url) => println!("  webhooks       {url}"),
        None => println!("  webhooks       off (pass --webhook-url and --webhook-secret)"),
    }
    println!(
        "  admin API      {base}/__admin/stats, {base}/__admin/shops, {base}/__admin/webhooks"
    );
    println!("\nTry it:");
    println!(
        "  curl -s {} -H 'Content-Type: application/json' -H \"X-Shopify-Access-Token: $TOKEN\" \\",
        running.graphql_url(running.shop_domain(), &args.api_version)
    );
    println!("    -d '{{\"query\":\"{{ shop {{ name currencyCode }} }}\"}}'");
    println!("\nPress Ctrl-C to stop.");
    if let Some(ready) = &args.ready_file {
        std::fs::write(ready, format!("{base}\n"))
            .map_err(|e| format!("cannot write --ready-file {}: {e}", ready.display()))?;
    }
    shutdown_signal().await;
    eprintln!("Shutting down…");
    running.shutdown().await;
    Ok(())
}

fn print_banner(
    args: &SalesforceEmulatorArgs,
    base: &str,
    cert: &Path,
    dev_key: Option<&Path>,
    sfdx: Option<&Path>,
) {
    let exe = std::env::args()
        .next()
        .unwrap_or_else(|| "shopforce".to_string());
    println!("shopforce Salesforce emulator is serving.\n");
    println!("  instance URL   {base}");
    println!(
        "  token URL      {base}/services/oauth2/token   (JWT bearer; aud may be this URL or https://login.salesforce.com)"
    );
    println!("  consumer key   {}", args.consumer_key);
    println!("  username       {}", args.username);
    println!("  certificate    {}", cert.display());
    if let Some(key) = dev_key {
        println!(
            "  private key    {}   (generated for development; never use it with a real org)",
            key.display()
        );
    }
    match sfdx {
        Some(dir) => println!("  custom fields  from {}", dir.display()),
        None => {
            println!("  custom fields  none (pass --sfdx DIR to load the project's sfdx/ folder)")
        }
    }
    println!("  processing     {:?}", args.processing);
    println!("  admin API      {base}/__admin/stats, {base}/__admin/sobjects/Contact");
    let key_arg = dev_key
        .map(|k| k.display().to_string())
        .unwrap_or_else(|| "PRIVATE_KEY.pem".to_string());
    println!("\nLog in with curl:");
    println!("  curl -s {base}/services/oauth2/token \\");
    println!("    -d grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer \\");
    println!(
        "    -d assertion=\"$({exe} jwt-assertion --key {key_arg} --client-id {} --username {} --audience {base})\"",
        args.consumer_key, args.username
    );
    println!("\nPress Ctrl-C to stop.");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// `shopforce sfdx check`: prints the summary, or every problem (one per line, `file: problem`)
/// and fails.
fn sfdx_check(args: &SfdxCheckArgs) -> Result<(), String> {
    match crate::sfdx_check::validate_project(&args.dir) {
        Ok(report) => {
            print!("{report}");
            Ok(())
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!(
                    "{}: {}",
                    args.dir.join(&problem.file).display(),
                    problem.message
                );
            }
            Err(format!(
                "{} problem{} in the Salesforce DX project {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                args.dir.display()
            ))
        }
    }
}

#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

/// Signs an RS256 JWT bearer assertion.
pub fn jwt_assertion(args: &JwtAssertionArgs) -> Result<String, String> {
    let pem = std::fs::read(&args.key)
        .map_err(|e| format!("cannot read --key {}: {e}", args.key.display()))?;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
        format!(
            "--key {} is not an RSA private key PEM: {e}",
            args.key.display()
        )
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = AssertionClaims {
        iss: &args.client_id,
        sub: &args.username,
        aud: &args.audience,
        exp: now + args.expires_in,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| format!("cannot sign the assertion: {e}"))
}
