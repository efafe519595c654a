//! Commerce metrics end to end: a hand-written Shopify export with known answers, synced
//! into the Salesforce emulator over HTTP with a real state store (SQLite and PostgreSQL),
//! "now" fixed so churn risk is reproducible.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use shopforce::mapping::build::AccountModel;
use shopforce::salesforce::SalesforceClient;
use shopforce::sync::{SyncOptions, SyncReport, run_sync};

use super::sync::{Backend, Harness, by};
use crate::support::Options;

/// "Now" for every run of these tests.
fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap()
}

fn customer(id: u64, first: &str) -> Value {
    json!({
        "id": format!("gid://shopify/Customer/{id}"),
        "firstName": first,
        "lastName": "Tester",
        "defaultEmailAddress": {"emailAddress": format!("{}@example.com", first.to_lowercase()),
                                "marketingState": "NOT_SUBSCRIBED"},
    })
}

/// An order of `customer` (None: a guest checkout) on `date`, `amount` in USD.
fn order(id: u64, customer: Option<u64>, date: &str, amount: &str, status: &str) -> Value {
    let mut o = json!({
        "id": format!("gid://shopify/Order/{id}"),
        "name": format!("#{id}"),
        "processedAt": format!("{date}T10:00:00Z"),
        "updatedAt": format!("{date}T10:00:00Z"),
        "currencyCode": "USD",
        "displayFinancialStatus": status,
        "test": false,
        "totalPriceSet": {"shopMoney": {"amount": amount, "currencyCode": "USD"}},
        "totalRefundedSet": {"shopMoney": {"amount": "0.00", "currencyCode": "USD"}},
    });
    if let Some(c) = customer {
        o["customer"] = json!({"id": format!("gid://shopify/Customer/{c}")});
    }
    o
}

fn refunded(mut o: Value, amount: &str) -> Value {
    o["totalRefundedSet"] = json!({"shopMoney": {"amount": amount, "currencyCode": "USD"}});
    o
}

fn write(dir: &Path, name: &str, lines: &[Value]) {
    std::fs::create_dir_all(dir).unwrap();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join(name), text).unwrap();
}

/// The export:
/// * Ada (1001): 100.00 paid; 80.00 of which 30.00 refunded; a cancelled 500.00; a fully
///   refunded 200.00; 450.00 paid; a 1000.00 test order. Counted: 100 + 50 + 450 = 600.00
///   over 3 orders (Jan 1 – May 31).
/// * Bob (1002): one order of 499.99, 90 days before "now" (churn and CLV edges).
/// * Cy (1003): one order of 2000.00, 180 days before "now".
/// * Dee (1004): a contact of company 5001; 300.00 for the company, 100.00 for herself.
/// * Eve (1005): no orders. A guest checkout of 50.00.
fn export(dir: &Path) -> PathBuf {
    let source = dir.join("metrics-export");
    let mut dee = customer(1004, "Dee");
    dee["email"] = json!("dee@example.com");
    write(
        &source,
        "companies.jsonl",
        &[
            json!({"id": "gid://shopify/Company/5001", "name": "Koala Corp"}),
            json!({"id": "gid://shopify/CompanyLocation/6001", "name": "Koala HQ",
                   "__parentId": "gid://shopify/Company/5001"}),
            json!({"id": "gid://shopify/CompanyContact/7001", "title": "Buyer",
                   "customer": dee, "__parentId": "gid://shopify/Company/5001"}),
        ],
    );
    write(
        &source,
        "customers.jsonl",
        &[
            customer(1001, "Ada"),
            customer(1002, "Bob"),
            customer(1003, "Cy"),
            customer(1004, "Dee"),
            customer(1005, "Eve"),
        ],
    );
    let mut cancelled = order(9103, Some(1001), "2026-04-01", "500.00", "VOIDED");
    cancelled["cancelledAt"] = json!("2026-04-02T10:00:00Z");
    let mut test = order(9106, Some(1001), "2026-06-01", "1000.00", "PAID");
    test["test"] = json!(true);
    let mut for_company = order(9401, Some(1004), "2026-06-01", "300.00", "PAID");
    for_company["purchasingEntity"] = json!({
        "__typename": "PurchasingCompany",
        "company": {"id": "gid://shopify/Company/5001"},
        "location": {"id": "gid://shopify/CompanyLocation/6001"},
        "contact": {"id": "gid://shopify/CompanyContact/7001",
                    "customer": {"id": "gid://shopify/Customer/1004"}},
    });
    write(
        &source,
        "orders.jsonl",
        &[
            order(9101, Some(1001), "2026-01-01", "100.00", "PAID"),
            refunded(
                order(
                    9102,
                    Some(1001),
                    "2026-03-01",
                    "80.00",
                    "PARTIALLY_REFUNDED",
                ),
                "30.00",
            ),
            cancelled,
            refunded(
                order(9104, Some(1001), "2026-05-01", "200.00", "REFUNDED"),
                "200.00",
            ),
            order(9105, Some(1001), "2026-05-31", "450.00", "PAID"),
            test,
            order(9201, Some(1002), "2026-04-01", "499.99", "PAID"),
            order(9301, Some(1003), "2026-01-01", "2000.00", "PAID"),
            for_company,
            order(9402, Some(1004), "2026-06-10", "100.00", "PAID"),
            order(9501, None, "2026-06-15", "50.00", "PAID"),
        ],
    );
    source
}

fn options(h: &Harness, source: &Path) -> SyncOptions {
    SyncOptions {
        as_of: Some(as_of()),
        ..h.options(source)
    }
}

async fn sync(h: &Harness, client: &SalesforceClient, source: &Path) -> SyncReport {
    let store = h.store().await;
    let ctx = h.context(client).await;
    let report = run_sync(Some(client), &store, &ctx, &options(h, source))
        .await
        .expect("sync");
    store.close().await;
    report
}

fn num(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Metrics rows sent in a run for a target (jobs' created + updated rows).
fn sent(report: &SyncReport, target: &str) -> u64 {
    report
        .targets
        .get(target)
        .map_or(0, |t| t.jobs.created + t.jobs.updated)
}

async fn metrics_land_and_only_change_with_orders(backend: Backend) {
    let h = Harness::new(backend, Options::default()).await;
    let client = h.client();
    let source = export(h.dir.path());
    let report = sync(&h, &client, &source).await;
    let total = report.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{report:#?}");
    // Ada, Bob, Cy, Dee have orders; Eve and the guest contact have none.
    assert_eq!(sent(&report, "contact-metrics"), 4, "{report:#?}");
    assert_eq!(sent(&report, "account-company-metrics"), 1, "{report:#?}");
    assert_eq!((report.metrics.customers, report.metrics.companies), (4, 1));
    assert_eq!(report.metrics.currency_withheld, 0);

    let contacts = by(&h.org.records("Contact").await, "Shopify_Customer_ID__c");
    let ada = &contacts["1001"];
    assert_eq!(
        num(&ada["Total_Spend__c"]),
        600.0,
        "cancelled, refunded and test orders excluded: {ada}"
    );
    assert_eq!(num(&ada["Order_Count__c"]), 3.0);
    assert_eq!(num(&ada["Average_Order_Value__c"]), 200.0);
    assert_eq!(ada["First_Order_Date__c"], "2026-01-01");
    assert_eq!(ada["Last_Order_Date__c"], "2026-05-31");
    // Two repeats in 150 days.
    assert_eq!(num(&ada["Purchase_Frequency__c"]), 0.4);
    assert_eq!(ada["Churn_Risk__c"], "low");
    assert_eq!(ada["CLV_Tier__c"], "medium");

    let bob = &contacts["1002"];
    assert_eq!(num(&bob["Total_Spend__c"]), 499.99);
    assert_eq!(bob["CLV_Tier__c"], "low", "just under 500.00");
    assert_eq!(bob["Churn_Risk__c"], "medium", "exactly 90 days");
    assert!(
        bob.get("Purchase_Frequency__c").is_none_or(Value::is_null),
        "one order: no rate"
    );
    let cy = &contacts["1003"];
    assert_eq!(cy["CLV_Tier__c"], "high", "exactly 2000.00");
    assert_eq!(cy["Churn_Risk__c"], "high", "exactly 180 days");
    let dee = &contacts["1004"];
    assert_eq!(num(&dee["Total_Spend__c"]), 400.0);
    assert_eq!(num(&dee["Order_Count__c"]), 2.0);
    for quiet in ["1005", "guest:acme.myshopify.com"] {
        assert!(
            contacts[quiet]
                .get("Total_Spend__c")
                .is_none_or(Value::is_null),
            "{quiet} has no orders: {}",
            contacts[quiet]
        );
    }

    // The company Account totals its orders and its contact's own order.
    let accounts = by(&h.org.records("Account").await, "Shopify_Company_ID__c");
    let koala = &accounts["5001"];
    assert_eq!(num(&koala["Total_Spend__c"]), 400.0, "{koala}");
    assert_eq!(num(&koala["Order_Count__c"]), 2.0);
    assert_eq!(koala["Last_Order_Date__c"], "2026-06-10");

    // Days since the last order is Salesforce's formula, read back through the API (the
    // emulator's TODAY() is the real date, not the injected one).
    let rows = client
        .query("SELECT Shopify_Customer_ID__c, Days_Since_Last_Order__c FROM Contact WHERE Shopify_Customer_ID__c = '1001'")
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    let expected = (today - NaiveDate::from_ymd_opt(2026, 5, 31).unwrap()).num_days();
    assert_eq!(num(&rows[0]["Days_Since_Last_Order__c"]) as i64, expected);

    // The same export again, same "now": no metrics row is sent.
    let again = sync(&h, &client, &source).await;
    assert_eq!(sent(&again, "contact-metrics"), 0, "{again:#?}");
    assert_eq!(sent(&again, "account-company-metrics"), 0, "{again:#?}");
    assert_eq!(again.targets["contact-metrics"].unchanged, 4);

    // Bob orders again: only his metrics row is sent.
    let increment = h.dir.path().join("increment");
    write(
        &increment,
        "orders.jsonl",
        &[order(9202, Some(1002), "2026-06-29", "10.00", "PAID")],
    );
    let third = sync(&h, &client, &increment).await;
    assert_eq!(third.total().jobs.dead_lettered, 0, "{third:#?}");
    assert_eq!(sent(&third, "contact-metrics"), 1, "{third:#?}");
    assert_eq!(third.targets["contact-metrics"].unchanged, 3);
    assert_eq!(sent(&third, "account-company-metrics"), 0);
    let contacts = by(&h.org.records("Contact").await, "Shopify_Customer_ID__c");
    let bob = &contacts["1002"];
    assert_eq!(num(&bob["Total_Spend__c"]), 509.99);
    assert_eq!(num(&bob["Order_Count__c"]), 2.0);
    assert_eq!(bob["CLV_Tier__c"], "medium");
    assert_eq!(bob["Churn_Risk__c"], "low");
    assert_eq!(bob["Last_Order_Date__c"], "2026-06-29");
    // One repeat in 89 days: 30 / 89 = 0.34 orders per 30 days.
    assert_eq!(num(&bob["Purchase_Frequency__c"]), 0.34);
    assert_eq!(
        contacts["1001"]["LastModifiedDate"], ada["LastModifiedDate"],
        "Ada untouched"
    );

    // Ada's last counted order is cancelled: her metrics move back to the earlier orders.
    let mut cancel = order(9105, Some(1001), "2026-05-31", "450.00", "VOIDED");
    cancel["cancelledAt"] = json!("2026-06-29T10:00:00Z");
    let fourth_dir = h.dir.path().join("cancel");
    write(&fourth_dir, "orders.jsonl", &[cancel]);
    let fourth = sync(&h, &client, &fourth_dir).await;
    assert_eq!(sent(&fourth, "contact-metrics"), 1, "{fourth:#?}");
    let ada = &by(&h.org.records("Contact").await, "Shopify_Customer_ID__c")["1001"];
    assert_eq!(num(&ada["Total_Spend__c"]), 150.0);
    assert_eq!(num(&ada["Order_Count__c"]), 2.0);
    assert_eq!(ada["Last_Order_Date__c"], "2026-03-01");
    assert_eq!(ada["CLV_Tier__c"], "low");
    // 121 days since March 1; her interval is 59 days: medium from max(90, 118) days.
    assert_eq!(ada["Churn_Risk__c"], "medium");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_land_and_only_change_with_orders_on_sqlite() {
    metrics_land_and_only_change_with_orders(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_land_and_only_change_with_orders_on_postgres() {
    metrics_land_and_only_change_with_orders(Backend::Postgres).await;
}

/// The customer side is handed over before `orders.jsonl` is read through only once it is
/// known whether the guest-checkout records belong to it: a guest order on the last line of
/// `orders.jsonl` still gets its Account and Contact, and without one there are none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_records_follow_the_orders_whether_the_guest_comes_last_or_never() {
    let guest_key = "guest:acme.myshopify.com";
    // The export above ends with its only guest order.
    let (h, records) = sync_guest_export(|_| {}).await;
    let [accounts, contacts, orders] = &records;
    assert!(
        accounts.contains_key(guest_key),
        "guest Account: {accounts:?}"
    );
    assert_eq!(contacts[guest_key]["AccountId"], accounts[guest_key]["Id"]);
    assert_eq!(orders["9501"]["AccountId"], accounts[guest_key]["Id"]);
    assert_eq!(orders["9501"]["BillToContactId"], contacts[guest_key]["Id"]);
    h.finish().await;

    // The same export without the guest order, into a fresh org: no guest records.
    let (h, records) = sync_guest_export(|source| {
        let orders_file = source.join("orders.jsonl");
        let text = std::fs::read_to_string(&orders_file).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| !l.contains("Order/9501"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&orders_file, kept).unwrap();
    })
    .await;
    let [accounts, contacts, orders] = &records;
    assert!(!accounts.contains_key(guest_key), "{accounts:?}");
    assert!(!contacts.contains_key(guest_key), "{contacts:?}");
    assert_eq!(orders.len(), 10);
    h.finish().await;
}

/// Syncs [`export`], changed by `edit`, into a fresh org (SQLite) and expects nothing
/// dead-lettered or held; returns the harness and the Accounts and Contacts by Shopify
/// customer id and the Orders by Shopify order id.
async fn sync_guest_export(
    edit: impl FnOnce(&Path),
) -> (Harness, [std::collections::HashMap<String, Value>; 3]) {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let client = h.client();
    let source = export(h.dir.path());
    edit(&source);
    let report = sync(&h, &client, &source).await;
    let total = report.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{report:#?}");
    let records = [
        by(&h.org.records("Account").await, "Shopify_Customer_ID__c"),
        by(&h.org.records("Contact").await, "Shopify_Customer_ID__c"),
        by(&h.org.records("Order").await, "Shopify_Order_ID__c"),
    ];
    (h, records)
}

/// With Person Accounts, a B2C customer's metrics go to the person contact's `__pc` fields
/// on their Account (and so to the person Contact), a B2B contact's to their Contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn person_accounts_get_their_metrics_on_the_person_fields() {
    use shopforce::cli::engine::person_record_type;
    let h = Harness::new(
        Backend::Sqlite,
        Options {
            person_accounts: true,
            ..Options::default()
        },
    )
    .await;
    let client = h.client();
    let source = export(h.dir.path());
    let mut ctx = h.context(&client).await;
    ctx.account_model = AccountModel::PersonAccount;
    ctx.person_record_type_id = Some(person_record_type(&client, "PersonAccount").await.unwrap());
    let store = h.store().await;
    let report = run_sync(Some(&client), &store, &ctx, &options(&h, &source))
        .await
        .expect("sync");
    let total = report.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{report:#?}");
    assert_eq!(sent(&report, "account-person-metrics"), 3, "{report:#?}");
    assert_eq!(
        sent(&report, "contact-metrics"),
        1,
        "Dee, a company contact"
    );
    let accounts = by(&h.org.records("Account").await, "Shopify_Customer_ID__c");
    let ada = &accounts["1001"];
    assert_eq!(num(&ada["Total_Spend__pc"]), 600.0, "{ada}");
    assert_eq!(ada["CLV_Tier__pc"], "medium");
    let contacts = by(&h.org.records("Contact").await, "Shopify_Customer_ID__c");
    assert_eq!(
        num(&contacts["1001"]["Total_Spend__c"]),
        600.0,
        "the person contact"
    );
    assert_eq!(num(&contacts["1004"]["Total_Spend__c"]), 400.0);
    let again = run_sync(Some(&client), &store, &ctx, &options(&h, &source))
        .await
        .expect("sync");
    assert_eq!(sent(&again, "account-person-metrics"), 0, "{again:#?}");
    store.close().await;
    h.finish().await;
}

/// A shop selling in another currency than the org's: counts, dates and churn risk are
/// written; total spend, AOV and CLV tier are not (never an amount in the wrong currency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_in_another_currency_than_the_orgs_are_not_written() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let client = h.client();
    let source = h.dir.path().join("eur");
    write(&source, "customers.jsonl", &[customer(2001, "Eva")]);
    let mut eur = order(9801, Some(2001), "2026-06-01", "75.00", "PAID");
    eur["currencyCode"] = json!("EUR");
    eur["totalPriceSet"] = json!({"shopMoney": {"amount": "75.00", "currencyCode": "EUR"}});
    write(&source, "orders.jsonl", &[eur]);
    let report = sync(&h, &client, &source).await;
    assert_eq!(report.metrics.currency_withheld, 1, "{report:#?}");
    assert_eq!(sent(&report, "contact-metrics"), 1);
    let eva = &by(&h.org.records("Contact").await, "Shopify_Customer_ID__c")["2001"];
    assert_eq!(num(&eva["Order_Count__c"]), 1.0, "{eva}");
    assert_eq!(eva["Last_Order_Date__c"], "2026-06-01");
    assert_eq!(eva["Churn_Risk__c"], "low");
    for field in ["Total_Spend__c", "Average_Order_Value__c", "CLV_Tier__c"] {
        assert!(eva.get(field).is_none_or(Value::is_null), "{field}: {eva}");
    }
    h.finish().await;
}
