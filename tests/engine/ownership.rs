//! Field ownership end to end: a sales rep edits synced records over the emulator's REST
//! API, Shopify changes the same customers, and a sync writes what it owns and nothing else.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shopforce::mapping::ownership::{OwnershipConfig, OwnershipMatrix};
use shopforce::store::StateStore;
use shopforce::sync::{SyncOptions, run_sync};

use super::sync::{Backend, Harness, by, small_shape};
use crate::support::Options;

/// A B2C customer line of the export with an email, a phone and tags (the generator writes
/// the B2B contacts first, so the last customers are B2C).
fn b2c_customer(source: &Path) -> Value {
    std::fs::read_to_string(source.join("customers.jsonl"))
        .unwrap()
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c.get("__parentId").is_none())
        .find(|c| {
            c["defaultEmailAddress"]["emailAddress"].is_string()
                && c["defaultPhoneNumber"]["phoneNumber"].is_string()
        })
        .expect("a customer in the current shape with an email and a phone")
}

fn legacy(gid: &str) -> String {
    gid.rsplit('/').next().unwrap().to_string()
}

/// The default matrix plus `Contact.Shopify_Tags__c` as CRM-owned: a field the engine would
/// otherwise write on every sync.
fn matrix_with_crm_tags() -> OwnershipMatrix {
    let mut config = OwnershipConfig::default();
    config.crm.push("Contact.Shopify_Tags__c".to_string());
    OwnershipMatrix::new(&config).unwrap()
}

async fn a_reps_edits_survive_a_sync_that_changes_the_same_customer(backend: Backend) {
    let h = Harness::new(backend, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let client = h.client();
    let ctx = h.context(&client).await;
    let options = SyncOptions {
        ownership: matrix_with_crm_tags(),
        ..h.options(&source)
    };
    let store = h.store().await;
    let first = run_sync(Some(&client), &store, &ctx, &options)
        .await
        .expect("full sync");
    let total = first.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{first:#?}");
    // CRM-owned: never written, not even when the record is created.
    assert!(
        first.withheld["Contact.Shopify_Tags__c"].crm > 0,
        "{first:#?}"
    );
    assert_eq!(first.withheld["Contact.Shopify_Tags__c"].on_create, 0);
    let contacts = h.org.records("Contact").await;
    assert!(contacts.iter().all(|c| c["Shopify_Tags__c"].is_null()));
    // On-create fields are written when the record is created.
    let customer = b2c_customer(&source);
    let key = legacy(customer["id"].as_str().unwrap());
    let before = by(&contacts, "Shopify_Customer_ID__c")[&key].clone();
    assert_eq!(
        before["Email"].as_str().map(str::to_lowercase),
        customer["defaultEmailAddress"]["emailAddress"]
            .as_str()
            .map(str::to_lowercase)
    );
    assert!(before["Phone"].is_string());
    assert!(before["LastName"].is_string());
    // Nothing was withheld from a record that did not exist yet.
    assert!(
        first.withheld.values().all(|t| t.on_create == 0),
        "{first:#?}"
    );

    // A sales rep corrects the phone and the last name (Shopify-on-create fields), writes a
    // note (CRM-owned by default) and tags the Contact (CRM-owned by this config).
    let id = before["Id"].as_str().unwrap();
    let rep = json!({
        "Phone": "+1 512 555 0100",
        "LastName": "Rep-Corrected",
        "Description": "Call before large orders",
        "Shopify_Tags__c": "key account",
    });
    let (status, body) = h
        .org
        .send_json(
            Method::PATCH,
            &format!("sobjects/Contact/{id}"),
            rep.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Shopify changes the same customer (phone, name, tags, unsubscribes from email) and a
    // new customer signs up.
    let mut changed = customer.clone();
    changed["lastName"] = json!("Shopify-Renamed");
    changed["defaultPhoneNumber"]["phoneNumber"] = json!("+13125550177");
    changed["tags"] = json!(["changed-in-shopify"]);
    changed["defaultEmailAddress"]["marketingState"] = json!("UNSUBSCRIBED");
    changed["defaultEmailAddress"]["marketingUpdatedAt"] = json!("2026-11-20T10:00:00Z");
    changed["updatedAt"] = json!("2026-11-20T10:00:00Z");
    let mut newcomer = customer.clone();
    newcomer["id"] = json!("gid://shopify/Customer/990000000000000001");
    newcomer["lastName"] = json!("Newcomer");
    newcomer["defaultEmailAddress"]["emailAddress"] = json!("newcomer990@example.com");
    newcomer["defaultPhoneNumber"]["phoneNumber"] = json!("+13125550188");
    let increment = h.dir.path().join("increment");
    std::fs::create_dir_all(&increment).unwrap();
    std::fs::write(
        increment.join("customers.jsonl"),
        format!("{changed}\n{newcomer}\n"),
    )
    .unwrap();
    std::fs::write(increment.join("orders.jsonl"), "").unwrap();
    let second = run_sync(
        Some(&client),
        &store,
        &ctx,
        &SyncOptions {
            ownership: matrix_with_crm_tags(),
            ..h.options(&increment)
        },
    )
    .await
    .expect("incremental sync");
    let total = second.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{second:#?}");
    assert_eq!(second.targets["contact-customer"].jobs.uploaded, 2);

    let contacts = by(&h.org.records("Contact").await, "Shopify_Customer_ID__c");
    let after = &contacts[&key];
    // Everything the rep wrote survived…
    for field in ["Phone", "LastName", "Description", "Shopify_Tags__c"] {
        assert_eq!(after[field], rep[field], "{field}");
    }
    // …beside the consent change, which the integration owns.
    assert_eq!(after["Email_Consent_Status__c"], "Unsubscribed");
    assert_eq!(after["HasOptedOutOfEmail"], true);
    assert!(
        after["Email_Consent_Updated_At__c"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-11-20T10:00:00")),
        "{after}"
    );
    // The new customer's Contact got Shopify's values (created by this sync).
    let created = &contacts["990000000000000001"];
    assert_eq!(created["LastName"], "Newcomer");
    assert_eq!(created["Email"], "newcomer990@example.com");
    assert_eq!(created["Phone"], "+13125550188");
    assert!(created["Shopify_Tags__c"].is_null());

    // Each withheld value is counted against its field, in the run and in the store.
    for field in ["Contact.Phone", "Contact.LastName", "Contact.Email"] {
        assert_eq!(second.withheld[field].on_create, 1, "{field}: {second:#?}");
    }
    assert_eq!(second.withheld["Contact.Shopify_Tags__c"].crm, 2);
    let totals = store.withheld_writes().await.unwrap();
    let total_of = |field: &str, reason: &str| {
        totals
            .iter()
            .find(|t| t.object == "Contact" && t.field == field && t.reason == reason)
            .map(|t| (t.total, t.last_run_count))
    };
    assert_eq!(total_of("Phone", "on_create"), Some((1, 1)));
    let tags = total_of("Shopify_Tags__c", "crm").unwrap();
    assert_eq!(tags.1, 2);
    assert_eq!(
        tags.0,
        first.withheld["Contact.Shopify_Tags__c"].crm as i64 + 2
    );

    // The same export again: nothing changed, nothing is sent.
    let third = run_sync(
        Some(&client),
        &store,
        &ctx,
        &SyncOptions {
            ownership: matrix_with_crm_tags(),
            ..h.options(&increment)
        },
    )
    .await
    .expect("rerun");
    assert_eq!(third.total().jobs.uploaded, 0, "{third:#?}");
    store.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_edits_survive_a_sync_on_sqlite() {
    a_reps_edits_survive_a_sync_that_changes_the_same_customer(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_edits_survive_a_sync_on_postgres() {
    a_reps_edits_survive_a_sync_that_changes_the_same_customer(Backend::Postgres).await;
}

/// A Shopify change to an on-create field alone sends nothing: the row is unchanged in
/// what it may write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_an_on_create_field_alone_sends_nothing() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    h.sync(&source).await;
    let customer = b2c_customer(&source);
    let mut changed = customer.clone();
    changed["firstName"] = json!("Renamed");
    changed["defaultPhoneNumber"]["phoneNumber"] = json!("+13125550199");
    let increment = h.dir.path().join("increment");
    std::fs::create_dir_all(&increment).unwrap();
    std::fs::write(increment.join("customers.jsonl"), format!("{changed}\n")).unwrap();
    std::fs::write(increment.join("orders.jsonl"), "").unwrap();
    let report = h.sync(&increment).await;
    assert_eq!(report.total().jobs.uploaded, 0, "{report:#?}");
    assert_eq!(report.targets["contact-customer"].unchanged, 1);
    h.finish().await;
}

/// `shopforce fields --markdown` for the default config is what the docs say.
#[test]
fn the_ownership_document_is_generated_from_the_defaults() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/field-ownership.md"),
    )
    .unwrap();
    let table = OwnershipMatrix::default().markdown();
    assert!(
        doc.contains(&table),
        "docs/field-ownership.md is out of date: regenerate its table with `shopforce fields --markdown`"
    );
}
