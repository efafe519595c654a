//! `shopforce demo`: the whole product in one command, with no shop and no org.
//!
//! Like the emulator commands of [`crate::cli`], this is a front that wires the engine to the
//! emulators; no engine module imports it or them.
//!
//! Starts both emulators on loopback, serves a generated store from the Shopify one, runs a
//! full sync over real HTTP with the real JWT bearer login into an embedded SQLite store,
//! changes the shop (a new order, an email change, consent changes), has a sales rep edit a
//! synced Contact in Salesforce (REST, her own login: a CRM-owned note and a corrected phone
//! number, an on-create field), runs an incremental sync, and prints what happened, read
//! back from the org: the rep's edits are still there beside Shopify's consent change. The org snapshot,
//! the state store and the configuration it used are left in the output folder.

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
/// A sales rep of the org, pre-authorized for the app like the integration user.
const REP_USERNAME: &str = "sales.rep@demo.shopforce.example";
/// What the rep writes, in a Contact field the engine never writes.
const REP_FIELD: &str = "Description";
const REP_NOTE: &str = "Prefers a phone call before large orders (note by the sales rep)";
/// The rep's correction of the Contact's phone (on-create: shopforce never overwrites it).
const REP_PHONE: &str = "+1 512 555 0199";

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
    sf.extra_users = vec![REP_USERNAME.to_string()];
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

    println!("\n== Changes in Shopify: a new order, an email change, consent changes ==");
    let http = reqwest::Client::new();
    let lookup = http
        .post(format!("{}/admin/api/2026-01/graphql.json", shop.base_url))
        .header("X-Shopify-Access-Token", shop.access_token())
        .json(&json!({"query": "{ customers(last: 100, query: \"email:*\") { edges { node { id } } } }"}));
    let customers = send_json(lookup, "the customer lookup").await?;
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
    // The last customers are B2C ones (the generator makes its first customers the B2B
    // companies' contacts, whose orders go through the company).
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
        for id in &ids[1..3] {
            admin(
                &http,
                &shop.base_url,
                &format!("customers/{id}/consent"),
                json!({"marketingState": "UNSUBSCRIBED"}),
            )
            .await?;
        }
    }

    // A sales rep edits the Contact of the customer whose email and consent just changed,
    // so the incremental sync writes to that very Contact.
    let rep_edit = match ids.get(1).filter(|_| ids.len() >= 3) {
        Some(customer) => {
            println!("\n== An edit a sales rep makes in Salesforce ==");
            let rep = SalesRep::login(
                &http,
                &org.base_url,
                &creds.private_key_path,
                &config.salesforce.api_version,
            )
            .await?;
            let contact = rep.contact_of_customer(customer).await?;
            rep.edit_contact(&contact, REP_FIELD, REP_NOTE).await?;
            rep.edit_contact(&contact, "Phone", REP_PHONE).await?;
            println!(
                "  {REP_USERNAME} sets {REP_FIELD} and corrects Phone of Contact {contact} (Shopify customer {customer}) over REST"
            );
            Some((rep, contact, customer.clone()))
        }
        None => None,
    };

    println!("\n== Incremental sync ==");
    sync_shop(&sync_args(false), &config, &store, SHOP).await?;

    // What the org holds, from the emulator's admin API.
    let stats = send_json(
        http.get(format!("{}/__admin/stats", org.base_url)),
        "the org's statistics",
    )
    .await?;
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
    if let Some((rep, contact, customer)) = &rep_edit {
        // Read back from the org, after the incremental sync.
        let now = rep
            .contact(
                contact,
                &[REP_FIELD, "Phone", "Email", "Email_Consent_Status__c"],
            )
            .await?;
        let kept = now[REP_FIELD].as_str() == Some(REP_NOTE);
        let new_email = format!("new.address.{customer}@example.com");
        println!(
            "  rep's edit      {} on Contact {contact}: {REP_FIELD} = {}",
            if kept { "kept" } else { "LOST" },
            now[REP_FIELD]
        );
        println!(
            "                  Phone = {} ({})",
            now["Phone"],
            if now["Phone"].as_str() == Some(REP_PHONE) {
                "kept: the rep's correction of an on-create field"
            } else {
                "LOST: overwritten"
            }
        );
        println!(
            "                  Email = {} ({})",
            now["Email"],
            if now["Email"].as_str() == Some(new_email.as_str()) {
                "Shopify's new address, written"
            } else {
                "kept: Shopify's new address is not written to an existing Contact (on-create)"
            }
        );
        println!(
            "                  Email_Consent_Status__c = {} ({})",
            now["Email_Consent_Status__c"],
            if now["Email_Consent_Status__c"].as_str() == Some("Unsubscribed") {
                "the Shopify change, written beside the rep's edits"
            } else {
                "not the Shopify change"
            }
        );
    }
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
    let request = http.post(format!("{base}/__admin/{path}")).json(&body);
    send(request, &format!("the Shopify emulator's {path}"))
        .await
        .map(drop)
}

/// Sends a request; a failure or refusal is an error that names `what`.
async fn send(request: reqwest::RequestBuilder, what: &str) -> Result<reqwest::Response, String> {
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    Err(format!("{what} was refused ({status}): {text}"))
}

/// Sends a request and reads its JSON answer.
async fn send_json(request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
    let text = send(request, what)
        .await?
        .text()
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{what}: {e}: {text}"))
}

/// A sales rep working in the org through the REST API, logged in with the JWT bearer flow
/// as the engine logs in (the demo's app has her pre-authorized).
struct SalesRep {
    http: reqwest::Client,
    /// `{instance_url}/services/data/v{version}`.
    data_url: String,
    token: String,
}

impl SalesRep {
    async fn login(
        http: &reqwest::Client,
        login_url: &str,
        key: &Path,
        api_version: &str,
    ) -> Result<SalesRep, String> {
        let assertion = crate::cli::jwt_assertion(&crate::cli::JwtAssertionArgs {
            key: key.to_path_buf(),
            client_id: CONSUMER_KEY.to_string(),
            username: REP_USERNAME.to_string(),
            audience: crate::salesforce::config::default_audience(login_url),
            expires_in: 180,
        })?;
        let form = [
            ("grant_type", oauth::JWT_BEARER_GRANT_TYPE),
            ("assertion", assertion.as_str()),
        ];
        let request = http
            .post(format!("{login_url}/services/oauth2/token"))
            .form(&form);
        let body = send_json(request, "the sales rep's login").await?;
        let (Some(token), Some(instance)) =
            (body["access_token"].as_str(), body["instance_url"].as_str())
        else {
            return Err(format!("the sales rep's login answered {body}"));
        };
        Ok(SalesRep {
            http: http.clone(),
            data_url: format!("{instance}/services/data/v{api_version}"),
            token: token.to_string(),
        })
    }

    /// A REST request under `/services/data/vXX.X/` with the rep's token.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.data_url))
            .bearer_auth(&self.token)
    }

    /// The Id of the Contact synced from a Shopify customer (by its external ID).
    async fn contact_of_customer(&self, customer: &str) -> Result<String, String> {
        let path = format!("sobjects/Contact/Shopify_Customer_ID__c/{customer}");
        let contact = send_json(
            self.request(reqwest::Method::GET, &path),
            "the Contact lookup",
        )
        .await?;
        contact["Id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no Contact for Shopify customer {customer}: {contact}"))
    }

    async fn edit_contact(&self, id: &str, field: &str, value: &str) -> Result<(), String> {
        let request = self
            .request(reqwest::Method::PATCH, &format!("sobjects/Contact/{id}"))
            .json(&json!({ field: value }));
        send(request, "the sales rep's edit").await.map(drop)
    }

    async fn contact(&self, id: &str, fields: &[&str]) -> Result<Value, String> {
        let request = self
            .request(reqwest::Method::GET, &format!("sobjects/Contact/{id}"))
            .query(&[("fields", fields.join(","))]);
        send_json(request, "reading the Contact back").await
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
