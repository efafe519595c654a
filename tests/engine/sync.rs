//! The bulk sync end to end: a generated Shopify export, the Salesforce emulator over
//! HTTP, and a real state store (SQLite file, and PostgreSQL).

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use shopforce::mapping::build::{AccountModel, MappingContext};
use shopforce::mapping::target::Target;
use shopforce::salesforce::{PollBackoff, SalesforceClient, SalesforceConfig};
use shopforce::shopify::bulk_jsonl::{CustomerLine, parse_customer_line};
use shopforce::shopify::generate::{self, Generated, StoreShape};
use shopforce::store::{DeadLetter, DeadLetterFilter, DeadLetterStatus, StateStore, Store};
use shopforce::sync::{SyncOptions, SyncReport, run_sync};
use tempfile::TempDir;

use crate::support::{CONSUMER_KEY, Options, Org, USERNAME};

pub(crate) const SHOP: &str = "acme.myshopify.com";

/// The state store's backends, as the tests pick them.
pub(crate) use shopforce::store::Backend;

/// Everything one sync test needs.
pub(crate) struct Harness {
    pub(crate) org: Org,
    pub(crate) dir: TempDir,
    db_url: String,
    pg_schema: Option<crate::support::PgSchema>,
}

impl Harness {
    pub(crate) async fn new(backend: Backend, options: Options) -> Harness {
        let org = Org::start_with(options).await;
        let dir = TempDir::new().unwrap();
        let (db_url, pg_schema) = match backend {
            Backend::Sqlite => (
                format!("sqlite:{}", dir.path().join("state.db").display()),
                None,
            ),
            Backend::Postgres => {
                let schema = crate::support::PgSchema::create("shopforce_sync").await;
                (schema.url.clone(), Some(schema))
            }
        };
        Harness {
            org,
            dir,
            db_url,
            pg_schema,
        }
    }

    pub(crate) async fn store(&self) -> Store {
        Store::connect(&self.db_url).await.expect("state store")
    }

    pub(crate) fn client(&self) -> SalesforceClient {
        let mut config = SalesforceConfig::with_key_file(
            &self.org.base,
            CONSUMER_KEY,
            USERNAME,
            &self.org.key_path,
        )
        .unwrap();
        config.requests_per_second = NonZeroU32::new(2000).unwrap();
        config.max_retries = 10;
        config.retry_min_delay = Duration::from_millis(2);
        config.retry_max_delay = Duration::from_millis(20);
        config.max_retry_after = Duration::from_millis(20);
        config.poll = PollBackoff {
            initial: Duration::from_millis(2),
            factor: 2.0,
            max: Duration::from_millis(50),
            jitter: true,
        };
        config.poll_timeout = Duration::from_secs(120);
        SalesforceClient::new(config).unwrap()
    }

    pub(super) fn export(&self, shape: &StoreShape) -> (PathBuf, Generated) {
        let path = self.dir.path().join("export");
        let generated = generate::generate(&path, shape).unwrap();
        (path, generated)
    }

    pub(crate) fn options(&self, source: &Path) -> SyncOptions {
        SyncOptions {
            source_dir: source.to_path_buf(),
            dry_run: None,
            full: false,
            work_dir: self.dir.path().join("work"),
            part_size: 100_000_000,
            max_concurrent_jobs: 4,
            max_row_retries: 3,
            ownership: Default::default(),
            metrics: Default::default(),
            as_of: None,
            identity: Some(Default::default()),
            owner_routing: None,
        }
    }

    pub(crate) async fn context(&self, client: &SalesforceClient) -> MappingContext {
        let rows = client
            .query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")
            .await
            .unwrap();
        MappingContext {
            shop: SHOP.to_string(),
            org_currency: "USD".to_string(),
            standard_pricebook_id: rows[0]["Id"].as_str().unwrap().to_string(),
            account_model: AccountModel::PerCustomer,
            person_record_type_id: None,
        }
    }

    pub(crate) async fn sync(&self, source: &Path) -> SyncReport {
        let client = self.client();
        let store = self.store().await;
        let ctx = self.context(&client).await;
        let report = run_sync(Some(&client), &store, &ctx, &self.options(source))
            .await
            .expect("sync");
        store.close().await;
        report
    }

    pub(crate) async fn finish(self) {
        self.org.shutdown().await;
        if let Some(schema) = self.pg_schema {
            // Best effort: a schema left behind does not affect other tests.
            let _ = schema.drop().await;
        }
    }
}

pub(super) fn small_shape() -> StoreShape {
    StoreShape {
        customers: 60,
        orders: 150,
        max_line_items: 4,
        products: 30,
        companies: 4,
        currency: "USD",
        seed: 11,
        ..StoreShape::default()
    }
}

pub(crate) fn by(records: &[Value], field: &str) -> HashMap<String, Value> {
    records
        .iter()
        .filter_map(|r| r[field].as_str().map(|k| (k.to_string(), r.clone())))
        .collect()
}

pub(super) fn ids_of(records: &[Value]) -> HashMap<String, Value> {
    by(records, "Id")
}

/// Checks every record of the export is in the org, related as it should be.
async fn assert_graph(org: &Org, source: &Path, g: &Generated) {
    let accounts = org.records("Account").await;
    let contacts = org.records("Contact").await;
    let orders = org.records("Order").await;
    let items = org.records("OrderItem").await;
    let products = org.records("Product2").await;
    let entries = org.records("PricebookEntry").await;
    let account_ids = ids_of(&accounts);
    let contact_ids = ids_of(&contacts);
    let order_by_key = by(&orders, "Shopify_Order_ID__c");
    let order_ids = ids_of(&orders);
    let entry_ids = ids_of(&entries);
    let product_ids = ids_of(&products);

    // Accounts: one per B2C customer, one per company and location, plus the guest account.
    let companies = accounts
        .iter()
        .filter(|a| a["Shopify_Company_ID__c"].is_string())
        .count() as u64;
    let locations: Vec<&Value> = accounts
        .iter()
        .filter(|a| a["Shopify_Location_ID__c"].is_string())
        .collect();
    assert_eq!(companies, g.companies);
    assert_eq!(locations.len() as u64, g.locations);
    for l in &locations {
        let parent = &account_ids[l["ParentId"].as_str().expect("location has a parent")];
        assert!(
            parent["Shopify_Company_ID__c"].is_string(),
            "a location's parent is its company"
        );
    }
    let b2c_customers = g.customers - g.company_contacts;
    let customer_accounts = accounts
        .iter()
        .filter(|a| a["Shopify_Customer_ID__c"].is_string())
        .count() as u64;
    assert_eq!(
        customer_accounts,
        b2c_customers + u64::from(g.guest_orders > 0)
    );

    // Contacts: every customer once (+ the guest contact), under the right Account.
    assert_eq!(
        contacts.len() as u64,
        g.customers + u64::from(g.guest_orders > 0)
    );
    let keys: HashSet<&str> = contacts
        .iter()
        .filter_map(|c| c["Shopify_Customer_ID__c"].as_str())
        .collect();
    assert_eq!(
        keys.len(),
        contacts.len(),
        "no customer became two Contacts"
    );
    for c in &contacts {
        let account = &account_ids[c["AccountId"].as_str().expect("contact has an account")];
        let key = c["Shopify_Customer_ID__c"].as_str().unwrap();
        if account["Shopify_Company_ID__c"].is_string() {
            continue;
        }
        assert_eq!(
            account["Shopify_Customer_ID__c"].as_str(),
            Some(key),
            "B2C contact under its own account"
        );
    }

    // Orders and items.
    assert_eq!(orders.len() as u64, g.orders);
    assert_eq!(items.len() as u64, g.line_items);
    let text = std::fs::read_to_string(source.join("orders.jsonl")).unwrap();
    let mut totals: HashMap<String, f64> = HashMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap();
        if id.contains("/Order/") {
            let key = id.rsplit('/').next().unwrap().to_string();
            let order = &order_by_key[&key];
            assert_eq!(order["Status"], "Draft");
            assert_eq!(order["Shopify_Order_Name__c"], v["name"]);
            let account = &account_ids[order["AccountId"].as_str().unwrap()];
            if let Some(loc) = v["purchasingEntity"]["location"]["id"].as_str() {
                assert_eq!(
                    account["Shopify_Location_ID__c"].as_str(),
                    Some(loc.rsplit('/').next().unwrap())
                );
            } else if let Some(c) = v["customer"]["id"].as_str() {
                assert_eq!(
                    account["Shopify_Customer_ID__c"].as_str(),
                    Some(c.rsplit('/').next().unwrap())
                );
                let contact = &contact_ids[order["BillToContactId"].as_str().unwrap()];
                assert_eq!(
                    contact["Shopify_Customer_ID__c"].as_str(),
                    Some(c.rsplit('/').next().unwrap())
                );
            }
            let expected: f64 = v["totalPriceSet"]["shopMoney"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((order["Shopify_Total_Price__c"].as_f64().unwrap() - expected).abs() < 0.005);
        } else if id.contains("/LineItem/") {
            let parent = v["__parentId"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            let price: f64 = v["originalUnitPriceSet"]["shopMoney"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            *totals.entry(parent).or_default() += price * v["quantity"].as_f64().unwrap();
        }
    }
    for item in &items {
        let order = &order_ids[item["OrderId"].as_str().unwrap()];
        let entry = &entry_ids[item["PricebookEntryId"].as_str().unwrap()];
        let product = &product_ids[entry["Product2Id"].as_str().unwrap()];
        assert_eq!(
            entry["Shopify_Price_Key__c"].as_str().unwrap(),
            format!("{}-USD", product["Shopify_Variant_ID__c"].as_str().unwrap())
        );
        assert_eq!(order["Pricebook2Id"], entry["Pricebook2Id"]);
    }
    // The order total rolls up from the items Salesforce now holds (an order of free items
    // only, a 0.00 gift wrap, totals 0).
    for (key, total) in totals {
        let order = &order_by_key[&key];
        let rolled_up = order["TotalAmount"]
            .as_f64()
            .unwrap_or_else(|| panic!("order {key} has no TotalAmount"));
        assert!((rolled_up - total).abs() < 0.005, "order {key}");
    }
}

/// What a record says, with its references written as the external key of the record they
/// point at (two orgs give the same rows different Ids) and without the fields the org sets
/// itself at insert time.
fn comparable(record: &Value, keys: &HashMap<String, String>) -> Value {
    const ORG_SET: [&str; 7] = [
        "Id",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "OrderNumber",
    ];
    Value::Object(
        record
            .as_object()
            .unwrap()
            .iter()
            .filter(|(field, _)| !ORG_SET.contains(&field.as_str()))
            .map(|(field, value)| {
                let value = match value.as_str().and_then(|id| keys.get(id)) {
                    Some(key) => Value::String(key.clone()),
                    None => value.clone(),
                };
                (field.clone(), value)
            })
            .collect(),
    )
}

/// The objects the engine writes, parents first.
fn synced_objects() -> Vec<&'static str> {
    let mut objects = Vec::new();
    for target in Target::ALL {
        if !objects.contains(&target.spec().object) {
            objects.push(target.spec().object);
        }
    }
    objects
}

/// The external key of a record synced by the engine (or of the standard price book).
fn external_key(object: &str, record: &Value) -> Option<String> {
    if object == "Pricebook2" && record["IsStandard"] == true {
        return Some("Pricebook2:standard".into());
    }
    Target::ALL
        .iter()
        .map(|t| t.spec())
        .filter(|spec| spec.object == object)
        .find_map(|spec| {
            let key = record[spec.external_id].as_str()?;
            Some(format!("{object}:{}:{key}", spec.external_id))
        })
}

/// Both orgs hold the same synced records, field for field.
async fn assert_same_records(expected: &Org, actual: &Org) {
    let objects: Vec<&str> = std::iter::once("Pricebook2")
        .chain(synced_objects())
        .collect();
    let mut records = Vec::new();
    for org in [expected, actual] {
        let mut by_object = Vec::new();
        for object in objects.iter().copied() {
            by_object.push((object, org.records(object).await));
        }
        let keys: HashMap<String, String> = by_object
            .iter()
            .flat_map(|(object, rows)| {
                rows.iter()
                    .filter_map(|r| Some((r["Id"].as_str()?.to_string(), external_key(object, r)?)))
            })
            .collect();
        let keys = &keys;
        let rows: HashMap<String, Value> = by_object
            .iter()
            .filter(|(object, _)| *object != "Pricebook2")
            .flat_map(|(object, rows)| {
                rows.iter().map(move |r| {
                    let key = external_key(object, r)
                        .unwrap_or_else(|| panic!("a {object} the engine did not write: {r}"));
                    (key, comparable(r, keys))
                })
            })
            .collect();
        records.push(rows);
    }
    let (expected, actual) = (&records[0], &records[1]);
    assert_eq!(expected.len(), actual.len());
    let mut emails = 0;
    for (key, want) in expected {
        let got = actual
            .get(key)
            .unwrap_or_else(|| panic!("{key} is missing"));
        assert_eq!(got, want, "{key}");
        emails += usize::from(key.starts_with("Contact:") && want["Email"].is_string());
    }
    assert!(emails > 0, "contacts have emails");
}

async fn counts(org: &Org) -> Vec<(String, usize, Vec<String>)> {
    let mut out = Vec::new();
    for object in synced_objects() {
        let records = org.records(object).await;
        let mut modified: Vec<String> = records
            .iter()
            .map(|r| {
                format!(
                    "{}@{}",
                    r["Id"].as_str().unwrap_or(""),
                    r["SystemModstamp"].as_str().unwrap_or("")
                )
            })
            .collect();
        modified.sort();
        out.push((object.to_string(), records.len(), modified));
    }
    out
}

async fn full_graph_then_a_rerun_that_changes_nothing(backend: Backend) {
    let h = Harness::new(backend, Options::default()).await;
    let (source, g) = h.export(&small_shape());
    let first = h.sync(&source).await;
    let total = first.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{first:#?}");
    assert_graph(&h.org, &source, &g).await;
    // A job whose counts show no failures has no failed or unprocessed rows to download:
    // one results call per job.
    let routes = h.org.stats().await["requestsByRoute"].clone();
    let route = |name: &str| routes[format!("GET jobs/ingest/{{id}}/{name}")].as_u64();
    assert_eq!(
        route("successfulResults"),
        Some(total.jobs.jobs),
        "{routes}"
    );
    assert_eq!(route("failedResults"), None, "{routes}");
    assert_eq!(route("unprocessedrecords"), None, "{routes}");
    // The first load of the order cache went in unindexed; the run built the index.
    assert!(
        super::store::order_index_at(&h.db_url, backend)
            .await
            .is_some(),
        "the order cache is left indexed"
    );
    let store = h.store().await;
    assert_eq!(store.dead_letter_depth().await.unwrap(), 0);
    let contacts = store
        .count_mappings(Some(SHOP), Some("customer"))
        .await
        .unwrap();
    assert_eq!(contacts, g.customers + 1);
    assert!(store.get_cursor(SHOP, "orders").await.unwrap().is_some());
    store.close().await;

    let before = counts(&h.org).await;
    let second = h.sync(&source).await;
    let t = second.total();
    assert_eq!(t.jobs.uploaded, 0, "nothing is re-sent: {second:#?}");
    assert_eq!(t.jobs.jobs, 0);
    assert_eq!(t.unchanged, first.total().jobs.uploaded);
    assert_eq!(
        counts(&h.org).await,
        before,
        "re-running changed or created nothing"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_graph_lands_and_a_rerun_changes_nothing_on_sqlite() {
    full_graph_then_a_rerun_that_changes_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_graph_lands_and_a_rerun_changes_nothing_on_postgres() {
    full_graph_then_a_rerun_that_changes_nothing(Backend::Postgres).await;
}

/// B2C customers as Person Accounts: one Account per customer whose person contact carries
/// the customer id, so orders bill to it; no separate B2C Contacts; B2B is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn person_accounts_hold_b2c_customers_and_their_orders_bill_to_the_person() {
    use shopforce::cli::engine::person_record_type;
    let h = Harness::new(
        Backend::Sqlite,
        Options {
            person_accounts: true,
            ..Options::default()
        },
    )
    .await;
    let (source, g) = h.export(&small_shape());
    let client = h.client();
    let mut ctx = h.context(&client).await;
    ctx.account_model = AccountModel::PersonAccount;
    ctx.person_record_type_id = Some(person_record_type(&client, "PersonAccount").await.unwrap());
    let wrong = person_record_type(&client, "Consumer").await.unwrap_err();
    assert!(
        wrong.contains("sync.person_record_type") && wrong.contains("PersonAccount"),
        "{wrong}"
    );
    let store = h.store().await;
    let report = run_sync(Some(&client), &store, &ctx, &h.options(&source))
        .await
        .unwrap();
    let total = report.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{report:#?}");
    assert!(
        !report.targets.contains_key("contact-customer")
            && !report.targets.contains_key("account-customer"),
        "{:?}",
        report.targets.keys()
    );

    let accounts = h.org.records("Account").await;
    let contacts = h.org.records("Contact").await;
    let orders = h.org.records("Order").await;
    let contact_ids = ids_of(&contacts);
    let persons: Vec<&Value> = accounts
        .iter()
        .filter(|a| a["IsPersonAccount"] == json!(true))
        .collect();
    let guest = u64::from(g.guest_orders > 0);
    assert_eq!(
        persons.len() as u64,
        g.customers - g.company_contacts + guest
    );
    for a in &persons {
        let key = a["Shopify_Customer_ID__c"].as_str().unwrap();
        let contact = &contact_ids[a["PersonContactId"].as_str().expect("a person contact")];
        assert_eq!(contact["AccountId"], a["Id"]);
        assert_eq!(contact["IsPersonAccount"], json!(true));
        assert_eq!(contact["Shopify_Customer_ID__c"].as_str(), Some(key));
        assert_eq!(contact["Email"], a["PersonEmail"]);
        assert_eq!(contact["LastName"], a["LastName"]);
        assert_eq!(
            contact["Email_Consent_Status__c"],
            a["Email_Consent_Status__pc"]
        );
        assert_eq!(contact["HasOptedOutOfEmail"], a["PersonHasOptedOutOfEmail"]);
        let name: Vec<&str> = [a["FirstName"].as_str(), a["LastName"].as_str()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(a["Name"].as_str(), Some(name.join(" ").as_str()));
    }
    // Every customer is one Contact: person contacts plus B2B company contacts.
    assert_eq!(contacts.len() as u64, g.customers + guest);
    let persons_by_id = ids_of(&accounts);
    let mut b2c_orders = 0;
    for o in &orders {
        let account = &persons_by_id[o["AccountId"].as_str().unwrap()];
        if account["IsPersonAccount"] == json!(true) {
            b2c_orders += 1;
            assert_eq!(o["BillToContactId"], account["PersonContactId"], "{o}");
        }
    }
    assert!(b2c_orders > 0);
    assert_eq!(orders.len() as u64, g.orders);
    assert_eq!(h.org.records("OrderItem").await.len() as u64, g.line_items);

    // A rerun sends nothing.
    let again = run_sync(Some(&client), &store, &ctx, &h.options(&source))
        .await
        .unwrap();
    assert_eq!(again.total().jobs.uploaded, 0, "{again:#?}");
    store.close().await;

    // An org without Person Accounts is refused with what to do.
    let plain = Org::start_with(Options::default()).await;
    let mut config =
        SalesforceConfig::with_key_file(&plain.base, CONSUMER_KEY, USERNAME, &plain.key_path)
            .unwrap();
    config.max_retries = 0;
    let e = person_record_type(&SalesforceClient::new(config).unwrap(), "PersonAccount")
        .await
        .unwrap_err();
    assert!(e.contains("Person Accounts"), "{e}");
    plain.shutdown().await;
    h.finish().await;
}

/// The store's open dead letters (up to 100).
async fn open_dead_letters(store: &Store) -> Vec<DeadLetter> {
    store
        .list_dead_letters(&DeadLetterFilter {
            status: Some(DeadLetterStatus::Open),
            object: None,
            shop: None,
            after: None,
            limit: 100,
        })
        .await
        .unwrap()
}

fn append(path: &Path, lines: &[&str]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// A B2B company contact who buys for themselves (no purchasing company): the order lands
/// under their company's Account, billed to their Contact, instead of failing for want of
/// a B2C Account they do not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_contacts_own_order_lands_under_their_company() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let companies = std::fs::read_to_string(source.join("companies.jsonl")).unwrap();
    let (customer, company) = companies
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find_map(|v| {
            let customer = v["customer"]["id"]
                .as_str()?
                .rsplit('/')
                .next()?
                .to_string();
            let company = v["__parentId"].as_str()?.rsplit('/').next()?.to_string();
            v["id"]
                .as_str()?
                .contains("/CompanyContact/")
                .then_some((customer, company))
        })
        .expect("the generator writes company contacts");
    let order = json!({
        "id": "gid://shopify/Order/990001",
        "name": "#B2B-OWN",
        "processedAt": "2026-10-05T10:00:00Z",
        "updatedAt": "2026-10-05T10:00:00Z",
        "currencyCode": "USD",
        "displayFinancialStatus": "PAID",
        "totalPriceSet": {"shopMoney": {"amount": "42.00", "currencyCode": "USD"}},
        "customer": {"id": format!("gid://shopify/Customer/{customer}")},
    });
    append(&source.join("orders.jsonl"), &[&order.to_string()]);
    let report = h.sync(&source).await;
    let total = report.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{report:#?}");
    assert_eq!(report.targets["order-company"].jobs.created, 1);
    let orders = by(&h.org.records("Order").await, "Shopify_Order_ID__c");
    let accounts = ids_of(&h.org.records("Account").await);
    let contacts = ids_of(&h.org.records("Contact").await);
    let landed = &orders["990001"];
    let account = &accounts[landed["AccountId"].as_str().unwrap()];
    assert_eq!(
        account["Shopify_Company_ID__c"].as_str(),
        Some(company.as_str())
    );
    let contact = &contacts[landed["BillToContactId"].as_str().unwrap()];
    assert_eq!(
        contact["Shopify_Customer_ID__c"].as_str(),
        Some(customer.as_str())
    );
    assert_eq!(contact["AccountId"], account["Id"]);

    // An incremental export where only that customer changed (their company did not, so
    // companies.jsonl does not list them) and they ordered again: the state store remembers
    // they are a company contact, so they stay under the company.
    let increment = h.dir.path().join("increment");
    std::fs::create_dir_all(&increment).unwrap();
    let mut line: Value = std::fs::read_to_string(source.join("customers.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"].as_str() == Some(&format!("gid://shopify/Customer/{customer}")))
        .expect("the company contact is a customer");
    let new_email = format!("moved.{customer}@example.com");
    line["email"] = json!(new_email);
    line["defaultEmailAddress"] =
        json!({"emailAddress": new_email, "marketingState": "NOT_SUBSCRIBED"});
    line["tags"] = json!(["moved-desk"]);
    std::fs::write(increment.join("customers.jsonl"), format!("{line}\n")).unwrap();
    let mut again = order.clone();
    again["id"] = json!("gid://shopify/Order/990002");
    again["name"] = json!("#B2B-OWN-2");
    std::fs::write(increment.join("orders.jsonl"), format!("{again}\n")).unwrap();
    let report = h.sync(&increment).await;
    let total = report.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{report:#?}");
    let accounts = h.org.records("Account").await;
    assert!(
        accounts
            .iter()
            .all(|a| a["Shopify_Customer_ID__c"].as_str() != Some(customer.as_str())),
        "no B2C Account was made for a company contact"
    );
    let after = by(&h.org.records("Contact").await, "Shopify_Customer_ID__c")[&customer].clone();
    assert_eq!(after["AccountId"], account["Id"], "still under the company");
    // The row went out (tags are integration-owned); the email is on-create, so the
    // Contact keeps the one it was created with.
    assert_eq!(after["Shopify_Tags__c"], "moved-desk");
    assert_eq!(after["Email"], contact["Email"]);
    assert_eq!(after["Title"], contact["Title"], "the title is kept");
    let orders = by(&h.org.records("Order").await, "Shopify_Order_ID__c");
    assert_eq!(orders["990002"]["AccountId"], account["Id"]);
    assert_eq!(orders["990002"]["BillToContactId"], after["Id"]);
    h.finish().await;
}

async fn bad_input_is_dead_lettered_and_the_rest_lands(backend: Backend) {
    let h = Harness::new(backend, Options::default()).await;
    let (source, g) = h.export(&StoreShape {
        customers: 20,
        orders: 30,
        companies: 0,
        ..small_shape()
    });
    let generated_without_email_or_phone = std::fs::read_to_string(source.join("customers.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| {
            matches!(parse_customer_line(l), Ok(CustomerLine::Customer(c))
                if c.email().is_none() && c.phone().is_none())
        })
        .count() as u64;
    append(
        &source.join("customers.jsonl"),
        &[
            // Salesforce rejects the email: the row fails, its job goes on.
            r#"{"id":"gid://shopify/Customer/999001","firstName":"Bad","lastName":"Email","defaultEmailAddress":{"emailAddress":"not an email","marketingState":"SUBSCRIBED"}}"#,
            // No last name: a default keeps Salesforce happy. No email and no phone: still synced.
            r#"{"id":"gid://shopify/Customer/999002","firstName":"Nameless"}"#,
            // Not JSON.
            r#"{"id":"gid://shopify/Customer/999003","firstName":"#,
        ],
    );
    append(
        &source.join("orders.jsonl"),
        &[
            // Unknown currency: dead-lettered, and its line item is held back.
            r#"{"id":"gid://shopify/Order/999100","processedAt":"2026-01-01T00:00:00Z","customer":{"id":"gid://shopify/Customer/999002"},"totalPriceSet":{"shopMoney":{"amount":"10.00","currencyCode":"EUR"}}}"#,
            r#"{"id":"gid://shopify/LineItem/999101","__parentId":"gid://shopify/Order/999100","quantity":1,"originalUnitPriceSet":{"shopMoney":{"amount":"10.00","currencyCode":"XYZ"}},"variant":{"id":"gid://shopify/ProductVariant/1"}}"#,
            r#"{"id":"gid://shopify/Order/999200","name":42}"#,
            // The customer with the bad email: Salesforce rejects the Contact while this
            // order's level is staged, so the order and its line item are held back.
            r#"{"id":"gid://shopify/Order/999300","processedAt":"2026-01-02T00:00:00Z","customer":{"id":"gid://shopify/Customer/999001"},"totalPriceSet":{"shopMoney":{"amount":"5.00","currencyCode":"USD"}}}"#,
            r#"{"id":"gid://shopify/LineItem/999301","__parentId":"gid://shopify/Order/999300","quantity":1,"originalUnitPriceSet":{"shopMoney":{"amount":"5.00","currencyCode":"USD"}},"variant":{"id":"gid://shopify/ProductVariant/1"}}"#,
        ],
    );
    let report = h.sync(&source).await;
    assert_eq!(report.scan.bad_lines, 2);
    // The generated store has customers with a name only too (Shopify allows it).
    assert_eq!(
        report.scan.customers_without_email_or_phone,
        generated_without_email_or_phone + 1
    );
    let store = h.store().await;
    let letters = open_dead_letters(&store).await;
    let find = |code: &str| {
        letters
            .iter()
            .find(|d| d.error_code == code)
            .unwrap_or_else(|| panic!("no {code} in {letters:#?}"))
    };
    let email = find("INVALID_EMAIL_ADDRESS");
    assert_eq!(email.external_id, "999001");
    assert!(email.hint.as_deref().unwrap().contains("email"));
    assert_eq!(email.payload["Email"], "not an email");
    for file in ["jsonl:customers.jsonl", "jsonl:orders.jsonl"] {
        assert!(
            letters
                .iter()
                .any(|d| d.error_code == "MALFORMED_JSONL" && d.object == file),
            "a bad line of {file} is dead-lettered"
        );
    }
    assert_eq!(find("CURRENCY_NOT_IN_ORG").external_id, "999100");
    assert!(
        letters
            .iter()
            .any(|d| d.error_code == "UNKNOWN_CURRENCY" && d.external_id == "999101")
    );
    for (object, key) in [("order-customer", "999300"), ("order-item", "999301")] {
        assert!(
            letters.iter().any(|d| d.error_code == "PARENT_FAILED"
                && d.object == object
                && d.external_id == key),
            "{object} {key} is held back: {letters:#?}"
        );
    }
    store.close().await;

    let contacts = h.org.records("Contact").await;
    let keyed = by(&contacts, "Shopify_Customer_ID__c");
    assert!(!keyed.contains_key("999001"));
    assert_eq!(keyed["999002"]["LastName"], "[not provided]");
    // Every other customer landed.
    assert_eq!(
        contacts.len() as u64,
        g.customers + 1 + u64::from(g.guest_orders > 0)
    );
    assert_eq!(h.org.records("Order").await.len() as u64, g.orders);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_and_bad_lines_are_dead_lettered_and_the_rest_lands_on_sqlite() {
    bad_input_is_dead_lettered_and_the_rest_lands(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_and_bad_lines_are_dead_lettered_and_the_rest_lands_on_postgres() {
    bad_input_is_dead_lettered_and_the_rest_lands(Backend::Postgres).await;
}

/// The orders side's levels are staged together when the read ends: the price book
/// entries and the Orders are uploaded while the products are, and the Orders (which need
/// no product) start at once. A product Salesforce rejects then holds back its price
/// book entry, prepared again without it, and its line item; the Orders, already under
/// way, land once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_product_holds_back_its_price_entry_and_line_item_and_the_orders_land_once() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, g) = h.export(&StoreShape {
        customers: 20,
        orders: 30,
        companies: 0,
        ..small_shape()
    });
    append(
        &source.join("customers.jsonl"),
        &[
            r#"{"id":"gid://shopify/Customer/999500","firstName":"Long","lastName":"Name","defaultEmailAddress":{"emailAddress":"long.name@example.com","marketingState":"NOT_SUBSCRIBED"}}"#,
        ],
    );
    let too_long = "x".repeat(300);
    let rejected = format!(
        r#"{{"id":"gid://shopify/LineItem/999601","__parentId":"gid://shopify/Order/999600","quantity":1,"originalUnitPriceSet":{{"shopMoney":{{"amount":"10.00","currencyCode":"USD"}}}},"variant":{{"id":"gid://shopify/ProductVariant/999700","displayName":"{too_long}"}}}}"#
    );
    append(
        &source.join("orders.jsonl"),
        &[
            r#"{"id":"gid://shopify/Order/999600","processedAt":"2026-01-03T00:00:00Z","customer":{"id":"gid://shopify/Customer/999500"},"totalPriceSet":{"shopMoney":{"amount":"15.00","currencyCode":"USD"}}}"#,
            &rejected,
            r#"{"id":"gid://shopify/LineItem/999602","__parentId":"gid://shopify/Order/999600","quantity":1,"originalUnitPriceSet":{"shopMoney":{"amount":"5.00","currencyCode":"USD"}},"variant":{"id":"gid://shopify/ProductVariant/999701","displayName":"Fine"}}"#,
        ],
    );
    let report = h.sync(&source).await;
    let store = h.store().await;
    let letters = open_dead_letters(&store).await;
    store.close().await;
    let codes: Vec<(&str, &str)> = letters
        .iter()
        .map(|d| (d.object.as_str(), d.error_code.as_str()))
        .collect();
    assert_eq!(
        codes.len(),
        3,
        "the product, its price book entry and its line item: {letters:#?}"
    );
    for expected in [
        ("product", "STRING_TOO_LONG"),
        ("pricebook-entry", "PARENT_FAILED"),
        ("order-item", "PARENT_FAILED"),
    ] {
        assert!(codes.contains(&expected), "{expected:?} in {letters:#?}");
    }
    assert!(
        letters
            .iter()
            .any(|d| d.object == "order-item" && d.external_id == "999601")
    );
    // Each target went in one job: nothing was aborted and sent again but the price book
    // entries, prepared again before any was sent.
    for target in ["order-customer", "pricebook-entry", "order-item"] {
        assert_eq!(report.targets[target].jobs.jobs, 1, "{target}: {report:#?}");
    }
    // The price book entries had been staged when the product failed: that job was
    // aborted unsent. The Orders' one job was closed before the products' was done.
    let (_, list) = h.org.get_json("jobs/ingest").await;
    let jobs = list["records"].as_array().unwrap();
    let of = |object: &str, state: &str| {
        jobs.iter()
            .filter(|j| j["object"] == object && j["state"] == state)
            .count()
    };
    assert_eq!(of("PricebookEntry", "Aborted"), 1, "{jobs:#?}");
    assert_eq!(of("PricebookEntry", "JobComplete"), 1, "{jobs:#?}");
    assert_eq!(of("Order", "JobComplete"), 1, "{jobs:#?}");
    assert!(
        jobs.iter()
            .all(|j| j["state"] != "Aborted" || j["object"] == "PricebookEntry"),
        "{jobs:#?}"
    );
    let orders = by(&h.org.records("Order").await, "Shopify_Order_ID__c");
    assert_eq!(orders.len() as u64, g.orders + 1);
    assert!(orders.contains_key("999600"));
    let items = by(&h.org.records("OrderItem").await, "Shopify_Line_Item_ID__c");
    assert_eq!(items.len() as u64, g.line_items + 1);
    assert!(items.contains_key("999602") && !items.contains_key("999601"));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_errors_are_retried_and_land() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    h.org.set_faults(json!({"seed": 3, "lock": 0.2})).await;
    let (source, g) = h.export(&small_shape());
    let client = h.client();
    let store = h.store().await;
    let ctx = h.context(&client).await;
    // 0.2⁹: no row should fail nine times in a row.
    let options = SyncOptions {
        max_row_retries: 8,
        ..h.options(&source)
    };
    let report = run_sync(Some(&client), &store, &ctx, &options)
        .await
        .expect("sync");
    store.close().await;
    let t = report.total();
    assert!(
        t.jobs.retried > 0,
        "some rows hit UNABLE_TO_LOCK_ROW: {report:#?}"
    );
    assert_eq!(t.jobs.dead_lettered, 0);
    h.org.set_faults(json!({})).await;
    assert_graph(&h.org, &source, &g).await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_downloads_cut_off_mid_file_are_read_again_and_counted_once() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    // Successful rows are handled while their file downloads; a download that breaks off
    // is fetched again from the start, and what the broken one delivered must not count
    // twice or leave a wrong mapping behind.
    h.org.set_faults(json!({"cut_results": 3})).await;
    let (source, g) = h.export(&small_shape());
    let first = h.sync(&source).await;
    h.org.set_faults(json!({})).await;
    let t = first.total();
    assert_eq!(t.jobs.dead_lettered + t.held, 0, "{first:#?}");
    for (name, target) in &first.targets {
        // Data rows are new records; metrics rows update the Contacts and Accounts.
        let (created, updated) = if name.ends_with("-metrics") {
            (0, target.jobs.uploaded)
        } else {
            (target.jobs.uploaded, 0)
        };
        assert_eq!(
            (target.jobs.created, target.jobs.updated),
            (created, updated),
            "{name}: every row counted once, however often its results were read"
        );
    }
    let routes = h.org.stats().await["requestsByRoute"].clone();
    assert_eq!(
        routes["GET jobs/ingest/{id}/successfulResults"].as_u64(),
        Some(t.jobs.jobs + 3),
        "three downloads were cut and fetched again: {routes}"
    );
    assert_graph(&h.org, &source, &g).await;
    let store = h.store().await;
    assert_eq!(
        store
            .count_mappings(Some(SHOP), Some("customer"))
            .await
            .unwrap(),
        g.customers + 1
    );
    store.close().await;
    // The payload hashes stored are the rows' own: nothing is sent again.
    let second = h.sync(&source).await;
    assert_eq!(second.total().jobs.uploaded, 0, "{second:#?}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_500_503_429_answers_are_survived() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    h.org
        .set_faults(json!({"seed": 5, "http500": 0.05, "http503": 0.05, "http429": 0.05, "token_requests": 25}))
        .await;
    let (source, g) = h.export(&small_shape());
    let client = h.client();
    let store = h.store().await;
    let ctx = h.context(&client).await;
    let report = run_sync(Some(&client), &store, &ctx, &h.options(&source))
        .await
        .expect("sync survives");
    assert_eq!(report.total().jobs.dead_lettered, 0);
    assert!(client.login_count() > 1, "the token was renewed mid-run");
    h.org.set_faults(json!({})).await;
    assert_graph(&h.org, &source, &g).await;
    store.close().await;
    h.finish().await;
}

/// A mapping context for dry runs (no org to ask for the standard price book).
fn dry_run_context() -> MappingContext {
    MappingContext {
        shop: SHOP.into(),
        org_currency: "USD".into(),
        standard_pricebook_id: "01sEXAMPLE".into(),
        person_record_type_id: None,
        account_model: AccountModel::PerCustomer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_the_csvs_and_sends_nothing() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let out = h.dir.path().join("dry");
    let store = h.store().await;
    let ctx = dry_run_context();
    let mut options = h.options(&source);
    options.dry_run = Some(out.clone());
    let report = run_sync(None, &store, &ctx, &options).await.unwrap();
    assert!(
        report.dry_run_files.len() >= 8,
        "{:?}",
        report.dry_run_files
    );
    let contacts = std::fs::read_to_string(out.join("contact-customer-part001.csv")).unwrap();
    assert!(
        contacts.starts_with("Shopify_Customer_ID__c,Account.Shopify_Customer_ID__c,FirstName")
    );
    assert!(h.org.records("Contact").await.is_empty());
    store.close().await;
    h.finish().await;
}

/// Orders in the state store's order cache (SQLite).
async fn cached_orders(store: &Store) -> i64 {
    let Store::Sqlite(sqlite) = store else {
        panic!("a SQLite store")
    };
    sqlx::query_scalar("SELECT COUNT(*) FROM order_cache")
        .fetch_one(sqlite.pool())
        .await
        .unwrap()
}

/// A read that fails on the customer side stops the orders reader and the order-cache
/// writer before the run returns: nothing goes on writing to the state store after the
/// error (on this single-threaded runtime the orders reader has not even started when the
/// customer side fails, so a reader left running would fill the cache afterwards).
#[tokio::test]
async fn a_failed_read_leaves_no_reader_or_writer_running() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    // customers.jsonl is there but cannot be read.
    std::fs::remove_file(source.join("customers.jsonl")).unwrap();
    std::fs::create_dir(source.join("customers.jsonl")).unwrap();
    let store = h.store().await;
    let ctx = dry_run_context();
    let mut options = h.options(&source);
    options.dry_run = Some(h.dir.path().join("dry"));
    let error = run_sync(None, &store, &ctx, &options)
        .await
        .expect_err("an unreadable customers.jsonl fails the run")
        .to_string();
    assert!(error.contains("customers.jsonl"), "{error}");
    let at_error = cached_orders(&store).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cached_orders(&store).await, at_error);
    store.close().await;
    h.finish().await;
}

/// Runs `shopforce sync` as its own process against the harness's emulator and store.
async fn run_cli(h: &Harness, source: &Path, extra_env: &[(&str, &str)]) -> std::process::Output {
    let source = source.to_str().expect("a UTF-8 temp path");
    let mut env = vec![("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS", "2")];
    env.extend_from_slice(extra_env);
    run_command(h, &["sync", "--shop", SHOP, "--from-jsonl", source], &env).await
}

/// Runs `shopforce ARGS` as its own process against the harness's emulator and store;
/// `extra_env` is applied last, so it overrides.
pub(crate) async fn run_command(
    h: &Harness,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shopforce"));
    command
        .args(args)
        .current_dir(h.dir.path())
        .env_remove("SHOPFORCE_CRASH_AT")
        .env("SHOPFORCE_SF_LOGIN_URL", &h.org.base)
        .env("SHOPFORCE_SF_CLIENT_ID", CONSUMER_KEY)
        .env("SHOPFORCE_SF_USERNAME", USERNAME)
        .env("SHOPFORCE_SF_PRIVATE_KEY_PATH", &h.org.key_path)
        .env("SHOPFORCE_SF_REQUESTS_PER_SECOND", "1000")
        .env("SHOPFORCE_DATABASE_URL", &h.db_url)
        .env("SHOPFORCE_SYNC_WORK_DIR", h.dir.path().join("work"));
    for (k, v) in extra_env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output().expect("run shopforce"))
        .await
        .unwrap()
}

/// The "N jobs resumed, M aborted" a run prints.
fn resumed_and_aborted(stdout: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.contains("jobs resumed"))
        .expect("run summary line");
    let number_before = |word: &str| -> u64 {
        let i = line.find(word).unwrap();
        line[..i]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number_before(" jobs resumed"), number_before(" aborted"))
}

/// `expect`: the (resumed, aborted) counts the rerun must report at least. Jobs whose
/// results were still queued for the writer beside the next level's work when the process
/// died are resumed too (at most two: one being written, one waiting), and the next level,
/// staged while this one ran, may have a job for each of its targets: open (aborted by the
/// rerun) or, once this level's jobs had all finished without a failure, closed (resumed).
async fn killed_at(point: &str, backend: Backend, expect: (u64, u64)) {
    let h = Harness::new(backend, Options::default()).await;
    let (source, g) = h.export(&small_shape());
    // One job at a time, so exactly one job is in flight when the process dies.
    let crashed = run_cli(
        &h,
        &source,
        &[
            ("SHOPFORCE_CRASH_AT", point),
            ("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS", "1"),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&crashed.stderr);
    assert!(
        !crashed.status.success(),
        "the process was meant to die at {point}"
    );
    assert!(stderr.contains("aborting at"), "{stderr}");

    let rerun = run_cli(&h, &source, &[]).await;
    let stdout = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        rerun.status.success(),
        "rerun after {point}: {stdout}\n{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let (resumed, aborted) = resumed_and_aborted(&stdout);
    let widest_level = shopforce::sync::levels()
        .iter()
        .map(Vec::len)
        .max()
        .unwrap() as u64;
    assert!(
        (expect.0..=expect.0 + 2 + widest_level).contains(&resumed)
            && (expect.1..=expect.1 + widest_level).contains(&aborted),
        "expected about {expect:?} (resumed, aborted): {stdout}"
    );
    assert_graph(&h.org, &source, &g).await;
    let store = h.store().await;
    assert!(
        store.unfinished_jobs().await.unwrap().is_empty(),
        "after {point}"
    );
    assert_eq!(store.dead_letter_depth().await.unwrap(), 0, "after {point}");
    store.close().await;
    // And a third run has nothing left to do.
    let third = run_cli(&h, &source, &[]).await;
    let stdout = String::from_utf8_lossy(&third.stdout);
    assert!(stdout.contains("total: 0 written"), "{stdout}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_before_upload_then_a_rerun_ends_with_exactly_the_expected_records() {
    killed_at("before-upload#3", Backend::Sqlite, (0, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_after_upload_then_a_rerun_ends_with_exactly_the_expected_records() {
    killed_at("after-upload#2", Backend::Sqlite, (1, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_poll_then_a_rerun_ends_with_exactly_the_expected_records() {
    killed_at("mid-poll#5", Backend::Postgres, (1, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_after_results_then_a_rerun_ends_with_exactly_the_expected_records() {
    killed_at("after-results#4", Backend::Sqlite, (0, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_logs_or_errors() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&StoreShape {
        customers: 10,
        orders: 10,
        companies: 1,
        ..small_shape()
    });
    let key = std::fs::read_to_string(&h.org.key_path).unwrap();
    let key_body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let check = |label: &str, out: &std::process::Output| {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains("!AQ"),
            "{label}: an access token leaked:\n{text}"
        );
        assert!(
            !text.contains("PRIVATE KEY"),
            "{label}: the private key leaked"
        );
        for l in &key_body {
            assert!(!text.contains(l), "{label}: key material leaked");
        }
        assert!(
            !text.contains("assertion="),
            "{label}: a signed assertion leaked"
        );
    };
    // A successful run with every log level on, in both formats.
    for format in ["text", "json"] {
        let out = run_cli(
            &h,
            &source,
            &[("RUST_LOG", "trace"), ("SHOPFORCE_LOG_FORMAT", format)],
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        check(format, &out);
    }
    // A refused login (wrong consumer key) and an expired token mid-run.
    let out = run_cli(
        &h,
        &source,
        &[
            ("RUST_LOG", "debug"),
            ("SHOPFORCE_SF_CLIENT_ID", "wrong-key"),
        ],
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.to_lowercase().contains("consumer key") || stderr.contains("client"),
        "{stderr}"
    );
    check("refused login", &out);
    h.org.set_faults(json!({"token_requests": 5})).await;
    let out = run_cli(
        &h,
        &source,
        &[
            ("RUST_LOG", "debug"),
            ("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS", "1"),
        ],
    )
    .await;
    check("token renewal", &out);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_the_dead_letter_commands_work_from_the_command_line() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&StoreShape {
        customers: 10,
        orders: 10,
        companies: 0,
        ..small_shape()
    });
    append(
        &source.join("customers.jsonl"),
        &[
            r#"{"id":"gid://shopify/Customer/999001","lastName":"Bad","defaultEmailAddress":{"emailAddress":"not an email"}}"#,
        ],
    );
    let out = run_cli(&h, &source, &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("dead-letter queue: 1 open"), "{stdout}");

    let status = run_command(&h, &["status", "--json"], &[]).await;
    let value: Value = serde_json::from_slice(&status.stdout).expect("status --json is JSON");
    assert_eq!(value["dead_letter_depth"], 1);
    assert_eq!(value["runs"][0]["status"], "succeeded");
    assert!(value["unfinished_jobs"].as_array().unwrap().is_empty());

    let list = run_command(&h, &["dlq", "list", "--json"], &[]).await;
    let letters: Value = serde_json::from_slice(&list.stdout).expect("dlq list --json is JSON");
    assert_eq!(letters.as_array().unwrap().len(), 1);
    assert_eq!(letters[0]["error_code"], "INVALID_EMAIL_ADDRESS");
    let id = letters[0]["id"].as_i64().unwrap().to_string();

    // Sent again as it was: Salesforce refuses it again, and it is dead-lettered again.
    let retry = run_command(&h, &["dlq", "retry", "--id", &id], &[]).await;
    let text = String::from_utf8_lossy(&retry.stdout);
    assert!(
        retry.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    assert!(
        text.contains("1 rows sent again: 0 written, 1 failed again"),
        "{text}"
    );
    let list = run_command(&h, &["dlq", "list", "--json"], &[]).await;
    let letters: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(letters.as_array().unwrap().len(), 1);
    let id = letters[0]["id"].as_i64().unwrap().to_string();

    let dropped = run_command(&h, &["dlq", "drop", "--id", &id], &[]).await;
    assert!(String::from_utf8_lossy(&dropped.stdout).contains("1 dead letters dropped"));
    let status = run_command(&h, &["status"], &[]).await;
    assert!(String::from_utf8_lossy(&status.stdout).contains("dead-letter queue: 0 open"));

    // A config mistake names the key and the variable.
    let bad = run_command(&h, &["status"], &[]).await;
    assert!(bad.status.success());
    let out = run_command(
        &h,
        &["status"],
        &[("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS", "lots")],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("sync.max_concurrent_jobs")
            && stderr.contains("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS"),
        "{stderr}"
    );
    h.finish().await;
}

// ---------------------------------------------------------------------------------------
// Straight from the shop: the Shopify emulator over HTTP instead of files
// ---------------------------------------------------------------------------------------

/// The Shopify emulator serving the store `shape` describes.
pub(crate) async fn shop_emulator(
    shape: &StoreShape,
) -> shopforce::emulator::shopify::RunningEmulator {
    let mut config =
        shopforce::emulator::shopify::EmulatorConfig::new("shpat_live_test_token", *shape);
    config.shop_domain = Some(SHOP.to_string());
    shopforce::emulator::shopify::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start the Shopify emulator")
}

/// `shopforce sync --shop SHOP` reading the live (emulated) shop.
pub(crate) async fn run_live(
    h: &Harness,
    shop: &shopforce::emulator::shopify::RunningEmulator,
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let mut env = vec![
        ("SHOPFORCE_SHOPIFY_API_URL", shop.base_url.as_str()),
        ("SHOPFORCE_SHOPIFY_ACCESS_TOKEN", shop.access_token()),
        ("SHOPFORCE_SYNC_MAX_CONCURRENT_JOBS", "2"),
    ];
    env.extend_from_slice(extra_env);
    run_command(h, &["sync", "--shop", SHOP], &env).await
}

pub(crate) async fn admin(
    shop: &shopforce::emulator::shopify::RunningEmulator,
    path: &str,
    body: Value,
) {
    let response = reqwest::Client::new()
        .post(format!("{}/__admin/{path}", shop.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.text().await.unwrap()
    );
}

async fn shop_stats(shop: &shopforce::emulator::shopify::RunningEmulator) -> Value {
    reqwest::get(format!("{}/__admin/stats", shop.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The "uploaded" column of a target in a run's report (0 when the target is not listed).
pub(crate) fn uploaded(stdout: &str, target: &str) -> u64 {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(target))
        .map(|l| l.split_whitespace().nth(4).unwrap().parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_from_the_shop_equals_a_sync_from_its_files_then_sends_only_what_changed() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let shape = small_shape();
    let (files, g) = h.export(&shape);
    let shop = shop_emulator(&shape).await;
    // Throttling and a busy bulk-operation slot on the way: both are waited out.
    admin(
        &shop,
        "faults",
        json!({"throttle_next": 2, "http429_next": 1, "retry_after_secs": 0.05, "reject_next_bulk": 1}),
    )
    .await;

    let first = run_live(&h, &shop, &[]).await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // The same org as a sync of the generator's files gives. The files hold both customer
    // shapes (some customers only in the deprecated `email`/`emailMarketingConsent`); the live
    // export answers the engine's query, which selects the current `defaultEmailAddress`, for
    // every customer. (This store has no email consent REDACTED, a state of the deprecated
    // enum only: the current field says INVALID for it, so such a Contact would read Invalid
    // where the files give Redacted, opted out either way.)
    assert_graph(&h.org, &files, &g).await;
    let from_files = Harness::new(Backend::Sqlite, Options::default()).await;
    let report = from_files.sync(&files).await;
    assert_eq!(report.total().jobs.dead_lettered, 0, "{report:#?}");
    assert_same_records(&from_files.org, &h.org).await;
    from_files.finish().await;
    let customers = std::fs::read_to_string(files.join("customers.jsonl")).unwrap();
    let deprecated_with_email = customers
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c.get("defaultEmailAddress").is_none() && c["email"].is_string())
        .count();
    assert!(
        deprecated_with_email > 0,
        "the store has deprecated-shape customers with an email"
    );
    let stats = shop_stats(&shop).await;
    assert!(stats["faultsInjected"].as_u64().unwrap() >= 4, "{stats}");
    assert!(
        stdout.contains("customers.jsonl:") && !stdout.contains("updated since"),
        "a first run reads everything: {stdout}"
    );

    // Nothing changed in the shop: the run reads only the overlap window and sends no
    // customer, order or line item again.
    let second = run_live(&h, &shop, &[]).await;
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    assert!(stdout.contains("updated since"), "incremental: {stdout}");
    for target in Target::ALL {
        let target = target.name();
        assert_eq!(uploaded(&stdout, target), 0, "{target}: {stdout}");
    }

    // One customer changes email and unsubscribes in Shopify: only that customer's rows go
    // out. A customer the generator wrote in the deprecated shape: the engine's query asks
    // for `defaultEmailAddress`, which Shopify answers for every customer.
    let customer: Value = customers
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|c| c["email"].is_string() && c.get("defaultEmailAddress").is_none())
        .expect("a customer with a deprecated-shape email");
    let id = customer["id"].as_str().unwrap();
    let legacy = id.rsplit('/').next().unwrap();
    admin(
        &shop,
        &format!("customers/{legacy}/email"),
        json!({"email": "changed.address@example.com"}),
    )
    .await;
    admin(
        &shop,
        &format!("customers/{legacy}/consent"),
        json!({"marketingState": "UNSUBSCRIBED"}),
    )
    .await;
    let third = run_live(&h, &shop, &[]).await;
    let stdout = String::from_utf8_lossy(&third.stdout);
    assert!(third.status.success(), "{stdout}");
    // The customer may be a B2B contact (then it stays under its company): one Contact is
    // sent either way.
    assert_eq!(
        uploaded(&stdout, "contact-customer") + uploaded(&stdout, "contact-company"),
        1,
        "{stdout}"
    );
    for target in ["order-customer", "order-item"] {
        assert_eq!(uploaded(&stdout, target), 0, "{target}: {stdout}");
    }
    let contact = h
        .org
        .records("Contact")
        .await
        .into_iter()
        .find(|c| c["Shopify_Customer_ID__c"] == legacy)
        .expect("the changed customer's Contact");
    // Email is Shopify-on-create by default: the Contact keeps the address it was created
    // with; consent is integration-owned and follows Shopify.
    assert_eq!(
        contact["Email"].as_str().map(str::to_lowercase),
        customer["email"].as_str().map(str::to_lowercase)
    );
    assert_eq!(contact["Email_Consent_Status__c"], "Unsubscribed");
    assert_eq!(contact["HasOptedOutOfEmail"], true);
    shop.shutdown().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_shopify_token_fails_fast_and_says_what_to_fix() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let shop = shop_emulator(&small_shape()).await;
    let started = std::time::Instant::now();
    let out = run_live(
        &h,
        &shop,
        &[("SHOPFORCE_SHOPIFY_ACCESS_TOKEN", "shpat_wrong_secret_value")],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("refused the access token"), "{stderr}");
    assert!(
        stderr.contains("SHOPFORCE_SHOPIFY_ACCESS_TOKEN"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong_secret_value"),
        "the token leaked: {stderr}"
    );
    // No retries: one refused call.
    assert_eq!(shop_stats(&shop).await["unauthorized"], 1);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(h.org.records("Contact").await.is_empty());
    shop.shutdown().await;
    h.finish().await;
}
