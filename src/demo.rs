//! `shopforce demo`: the whole product in one command, with no shop and no org.
//!
//! Like the emulator commands of [`crate::cli`], this is a front that wires the engine to the
//! emulators; no engine module imports it or them.
//!
//! Starts both emulators on loopback, serves a generated store from the Shopify one, runs a
//! full sync over real HTTP with the real JWT bearer login into an embedded SQLite store,
//! changes the shop (a new order, an email change, a consent change), runs an incremental
//! sync, and prints what happened. The org snapshot, the state store and the configuration
//! it used are left in the output folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};

use crate::config::Config;
use crate::emulator::salesforce::oauth::{self, ClientCertificate};
use crate::emulator::salesforce::{self as sf_emulator};
use crate::emulator::shopify as shop_emulator;
use crate::shopify::generate::StoreShape;
use crate::store::{StateStore, Store};

use crate::cli::engine::{ConfigArgs, SyncArgs, sync_shop};

const CONSUMER_KEY: &str = "3MVG9demo.shopforce.consumer.key";
const USERNAME: &str = "integration@demo.shopforce.example";
const SHOP: &str = "demo-store.myshopify.com";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Customers in the generated store (orders: three per customer).
    #[arg(long, default_value_t = 20_000)]
    pub customers: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where the org snapshot, state store and configuration are left (emptied first).
    #[arg(long, default_value = ".shopforce/demo")]
    pub out: PathBuf,
}

pub async fn run(args: DemoArgs) -> Result<(), String> {
    let started = Instant::now();
    let out = &args.out;
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;

    // Salesforce: the org emulator, with the project's sfdx/ fields and a dev certificate.
    let creds =
        oauth::ensure_dev_credentials(&out.join("salesforce")).map_err(|e| e.to_string())?;
    let certificate =
        ClientCertificate::from_file(&creds.certificate_path).map_err(|e| e.to_string())?;
    let mut sf = sf_emulator::EmulatorConfig::new(
        CONSUMER_KEY.to_string(),
        certificate,
        USERNAME.to_string(),
    );
    sf.sfdx_dir = Some(sfdx_dir());
    sf.state_file = Some(out.join("org-snapshot.json"));
    let org = sf_emulator::start(sf, "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
        .await
        .map_err(|e| e.to_string())?;

    // Shopify: a generated store of `customers`.
    let shape = StoreShape {
        customers: args.customers,
        orders: args.customers * 3,
        companies: (args.customers / 400).max(2),
        products: (args.customers / 20).clamp(20, 2000),
        max_line_items: 5,
        seed: args.seed,
        ..StoreShape::default()
    };
    let mut shop_config = shop_emulator::EmulatorConfig::new("shpat_demo_token", shape);
    shop_config.shop_domain = Some(SHOP.to_string());
    let shop = shop_emulator::start(
        shop_config,
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "Salesforce org emulator at {}, Shopify emulator at {} ({SHOP}, {} customers)",
        org.base_url, shop.base_url, args.customers
    );

    // The configuration a real deployment would have, pointed at the emulators.
    let config_path = out.join("shopforce.toml");
    let toml = format!(
        "[salesforce]\nlogin_url = \"{}\"\nclient_id = \"{CONSUMER_KEY}\"\nusername = \"{USERNAME}\"\nprivate_key_path = \"{}\"\nrequests_per_second = 500\n\n[shopify]\napi_url = \"{}\"\n# access_token: set SHOPFORCE_SHOPIFY_ACCESS_TOKEN (the emulator's token is shpat_demo_token)\n\n[[shopify.shops]]\ndomain = \"{SHOP}\"\n\n[database]\nurl = \"sqlite:{}\"\n\n[sync]\nwork_dir = \"{}\"\n",
        org.base_url,
        creds.private_key_path.display(),
        shop.base_url,
        out.join("state.db").display(),
        out.join("work").display()
    );
    std::fs::write(&config_path, toml).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let mut config = Config::load(Some(&config_path), true, |_| None).map_err(|e| e.to_string())?;
    config.shopify.access_token = shop.access_token().to_string();
    let store = Store::connect(&config.database.url)
        .await
        .map_err(|e| e.to_string())?;
    let sync_args = |full| SyncArgs {
        shop: Some(SHOP.to_string()),
        from_jsonl: None,
        dry_run: None,
        full,
        config: ConfigArgs {
            config: config_path.clone(),
        },
    };

    println!("\n== Full sync ==");
    let full_started = Instant::now();
    sync_shop(&sync_args(false), &config, &store, SHOP).await?;
    let full_secs = full_started.elapsed().as_secs_f64();

    println!("\n== Changes in Shopify: a new order, an email change, a consent change ==");
    let http = reqwest::Client::new();
    let customers: Value = http
        .post(format!("{}/admin/api/2026-01/graphql.json", shop.base_url))
        .header("X-Shopify-Access-Token", shop.access_token())
        .json(&json!({"query": "{ customers(first: 100, query: \"email:*\") { edges { node { id } } } }"}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let ids: Vec<String> = customers["data"]["customers"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| e["node"]["id"].as_str())
                .map(|id| id.rsplit('/').next().unwrap_or(id).to_string())
                .collect()
        })
        .unwrap_or_default();
    // The last of the first hundred: B2C customers (the generator makes its first customers
    // the B2B companies' contacts, whose orders go through the company).
    let ids: Vec<String> = ids.into_iter().rev().take(3).collect();
    if ids.len() >= 3 {
        admin(
            &http,
            &shop.base_url,
            "orders",
            json!({"customerId": ids[0]}),
        )
        .await?;
        admin(
            &http,
            &shop.base_url,
            &format!("customers/{}/email", ids[1]),
            json!({"email": format!("new.address.{}@example.com", ids[1])}),
        )
        .await?;
        admin(
            &http,
            &shop.base_url,
            &format!("customers/{}/consent", ids[2]),
            json!({"marketingState": "UNSUBSCRIBED"}),
        )
        .await?;
    }

    println!("\n== Incremental sync ==");
    sync_shop(&sync_args(false), &config, &store, SHOP).await?;

    // What the org holds, from the emulator's admin API.
    let stats: Value = http
        .get(format!("{}/__admin/stats", org.base_url))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let letters = store.dead_letter_depth().await.map_err(|e| e.to_string())?;
    let mappings = store
        .count_mappings(Some(SHOP), None)
        .await
        .map_err(|e| e.to_string())?;
    println!("\n== Report ==");
    if let Some(records) = stats["recordsByObject"].as_object() {
        for object in [
            "Account",
            "Contact",
            "Product2",
            "PricebookEntry",
            "Order",
            "OrderItem",
        ] {
            println!(
                "  {object:<15} {:>9} records in the org",
                records.get(object).and_then(Value::as_u64).unwrap_or(0)
            );
        }
    }
    println!("  id mappings     {mappings:>9} in the state store");
    println!(
        "  dead letters    {letters:>9} open (shopforce dlq list --config {})",
        config_path.display()
    );
    println!(
        "  API calls       {:>9} Salesforce (of the daily allowance)",
        stats["apiUsage"]["used"].as_u64().unwrap_or(0)
    );
    println!(
        "  full sync {full_secs:.1} s; demo {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    shop.shutdown().await;
    org.shutdown().await.map_err(|e| e.to_string())?;
    println!(
        "\nLeft in {}: org-snapshot.json (every record the org holds), state.db (mappings, jobs, dead letters), shopforce.toml.\n\
         To run against a real org and shop: deploy sfdx/ (see sfdx/README.md), then in shopforce.toml set\n\
         salesforce.login_url/client_id/username/private_key_path to your External Client App and integration user,\n\
         remove shopify.api_url, list your shops under [[shopify.shops]], set SHOPFORCE_SHOPIFY_ACCESS_TOKEN, and run\n\
         `shopforce sync --config shopforce.toml` (add --dry-run DIR first to see the CSVs without sending).",
        out.display()
    );
    Ok(())
}

async fn admin(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Result<(), String> {
    let response = http
        .post(format!("{base}/__admin/{path}"))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "Shopify emulator refused {path}: {}",
            response.text().await.unwrap_or_default()
        ))
    }
}

/// The project's `sfdx/` folder: here, or where the binary was built from.
fn sfdx_dir() -> PathBuf {
    let here = Path::new("sfdx");
    if here.join("force-app").is_dir() {
        here.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sfdx")
    }
}
