//! Email consent both ways, over HTTP: a sales rep's opt-out in Salesforce survives a
//! Shopify export that still says subscribed, is pushed to Shopify with its own time, and
//! the echo that comes back is recognised, not pushed again.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shopforce::shopify::generate::StoreShape;
use shopforce::store::StateStore;

use super::sync::{Backend, Harness, SHOP, by, run_live, shop_emulator, small_shape, uploaded};
use crate::support::Options;

fn legacy(gid: &str) -> String {
    gid.rsplit('/').next().unwrap().to_string()
}

/// A B2C customer whose current-shape email consent is SUBSCRIBED, dated.
fn subscribed_customer(source: &Path) -> Value {
    let b2b: std::collections::HashSet<String> =
        std::fs::read_to_string(source.join("companies.jsonl"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["customer"]["id"].as_str().map(legacy)
            })
            .collect();
    std::fs::read_to_string(source.join("customers.jsonl"))
        .unwrap()
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|c| {
            c.get("__parentId").is_none()
                && c["defaultEmailAddress"]["marketingState"] == "SUBSCRIBED"
                && c["defaultEmailAddress"]["marketingUpdatedAt"].is_string()
                && !b2b.contains(&legacy(c["id"].as_str().unwrap()))
        })
        .expect("a subscribed B2C customer")
}

async fn opt_out_as_a_rep(h: &Harness, key: &str) -> String {
    let contacts = h.org.records("Contact").await;
    let contact = &by(&contacts, "Shopify_Customer_ID__c")[key];
    assert_eq!(contact["Email_Consent_Status__c"], "Subscribed");
    assert_eq!(contact["HasOptedOutOfEmail"], false);
    let id = contact["Id"].as_str().unwrap().to_string();
    let (status, body) = h
        .org
        .send_json(
            Method::PATCH,
            &format!("sobjects/Contact/{id}"),
            json!({"HasOptedOutOfEmail": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    id
}

async fn a_reps_opt_out_outlives_an_older_subscription(backend: Backend) {
    let h = Harness::new(backend, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    h.sync(&source).await;
    let customer = subscribed_customer(&source);
    let key = legacy(customer["id"].as_str().unwrap());
    let contact_id = opt_out_as_a_rep(&h, &key).await;

    // Shopify still says SUBSCRIBED (an older event) and the customer changed otherwise.
    let increment = h.dir.path().join("increment");
    std::fs::create_dir_all(&increment).unwrap();
    let mut changed = customer.clone();
    changed["tags"] = json!(["vip"]);
    std::fs::write(increment.join("customers.jsonl"), format!("{changed}\n")).unwrap();
    std::fs::write(increment.join("orders.jsonl"), "").unwrap();
    let report = h.sync(&increment).await;
    assert_eq!(report.identity_index.crm_consent_changes, 1, "{report:#?}");
    assert_eq!(report.identity_index.consent_pushes_queued, 1);
    assert_eq!(report.identity.get("consent_kept_crm"), Some(&1));
    let contacts = h.org.records("Contact").await;
    let after = &by(&contacts, "Id")[&contact_id];
    assert_eq!(
        after["HasOptedOutOfEmail"], true,
        "the rep's opt-out stands"
    );
    assert_eq!(
        after["Shopify_Tags__c"], "vip",
        "the rest of the row was written"
    );
    // Queued for Shopify (a file sync cannot reach it).
    let store = h.store().await;
    let pending = store.pending_consent(SHOP).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, key);
    assert_eq!(pending[0].1.pending.as_ref().unwrap().state, "UNSUBSCRIBED");

    // A later subscription in Shopify (dated after the rep's opt-out) wins again.
    let mut resubscribed = changed.clone();
    resubscribed["defaultEmailAddress"]["marketingUpdatedAt"] =
        json!((chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339());
    std::fs::write(
        increment.join("customers.jsonl"),
        format!("{resubscribed}\n"),
    )
    .unwrap();
    let report = h.sync(&increment).await;
    assert_eq!(report.identity.get("consent_kept_crm"), None, "{report:#?}");
    let contacts = h.org.records("Contact").await;
    let after = &by(&contacts, "Id")[&contact_id];
    assert_eq!(after["HasOptedOutOfEmail"], false);
    assert_eq!(after["Email_Consent_Status__c"], "Subscribed");
    store.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_opt_out_outlives_an_older_subscription_on_sqlite() {
    a_reps_opt_out_outlives_an_older_subscription(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_opt_out_outlives_an_older_subscription_on_postgres() {
    a_reps_opt_out_outlives_an_older_subscription(Backend::Postgres).await;
}

/// Live: the rep's opt-out reaches Shopify with its own time; the echo comes back in the
/// next export, is written once and never pushed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_opt_out_reaches_shopify_and_its_echo_is_not_pushed_back() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let shape: StoreShape = small_shape();
    let (files, _) = h.export(&shape);
    let shop = shop_emulator(&shape).await;
    let first = run_live(&h, &shop, &[]).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let customer = subscribed_customer(&files);
    let key = legacy(customer["id"].as_str().unwrap());
    let contact_id = opt_out_as_a_rep(&h, &key).await;

    let second = run_live(&h, &shop, &[]).await;
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    assert!(
        stdout.contains("consent: 1 CRM changes pushed to Shopify, 0 failed"),
        "{stdout}"
    );
    let now: Value = reqwest::get(format!("{}/__admin/customers/{key}", shop.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        now["defaultEmailAddress"]["marketingState"], "UNSUBSCRIBED",
        "{now}"
    );

    // The echo: recognised, written once (the Contact's consent fields now agree), not
    // pushed again.
    let third = run_live(&h, &shop, &[]).await;
    let stdout = String::from_utf8_lossy(&third.stdout);
    assert!(third.status.success(), "{stdout}");
    assert!(stdout.contains("consent_echo 1"), "{stdout}");
    assert!(!stdout.contains("pushed to Shopify"), "{stdout}");
    let contacts = h.org.records("Contact").await;
    let after = &by(&contacts, "Id")[&contact_id];
    assert_eq!(after["HasOptedOutOfEmail"], true);
    assert_eq!(after["Email_Consent_Status__c"], "Unsubscribed");
    // And then all is quiet.
    let fourth = run_live(&h, &shop, &[]).await;
    let stdout = String::from_utf8_lossy(&fourth.stdout);
    assert!(fourth.status.success(), "{stdout}");
    assert_eq!(
        uploaded(&stdout, "contact-customer"),
        0,
        "nothing left to write: {stdout}"
    );
    assert!(!stdout.contains("pushed to Shopify"), "{stdout}");
    shop.shutdown().await;
    h.finish().await;
}

/// Every failed consent write is counted and logged as it happens, retried attempts
/// included; a change whose retries run out stays queued and goes out next time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_consent_write_is_counted_as_it_happens() {
    use super::sync::admin;
    use shopforce::shopify::client::{ShopifyClient, ShopifyConfig};
    use shopforce::store::{ConsentMark, ConsentUpdate};
    use shopforce::sync::consent_push::push_pending;
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let shape = small_shape();
    let (files, _) = h.export(&shape);
    let shop = shop_emulator(&shape).await;
    let key = legacy(subscribed_customer(&files)["id"].as_str().unwrap());
    let store = h.store().await;
    let mut config = ShopifyConfig::new(SHOP, shop.access_token().to_string().into());
    config.api_url = Some(shop.base_url.clone());
    config.retry.max_retries = 3;
    config.retry.min_delay = std::time::Duration::from_millis(1);
    config.retry.max_delay = std::time::Duration::from_millis(5);
    let client = ShopifyClient::new(config).unwrap();
    let queue = |state: &str, ago_secs: i64| {
        vec![(
            key.clone(),
            ConsentUpdate::Pending(ConsentMark {
                state: state.to_string(),
                at: Some((chrono::Utc::now().timestamp() - ago_secs) * 1000),
            }),
        )]
    };

    // One 503: counted at once, retried, written.
    store
        .update_consent_log(SHOP, &queue("UNSUBSCRIBED", 120))
        .await
        .unwrap();
    admin(&shop, "faults", json!({"http503_next": 1})).await;
    let t = push_pending(&client, &store, SHOP).await.unwrap();
    assert_eq!((t.pushed, t.failed, t.failed_attempts), (1, 0, 1));
    assert!(store.pending_consent(SHOP).await.unwrap().is_empty());
    let now: Value = reqwest::get(format!("{}/__admin/customers/{key}", shop.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["defaultEmailAddress"]["marketingState"], "UNSUBSCRIBED");

    // More failures than retries: each attempt counted, the change stays queued…
    store
        .update_consent_log(SHOP, &queue("SUBSCRIBED", 60))
        .await
        .unwrap();
    admin(&shop, "faults", json!({"http503_next": 10})).await;
    let t = push_pending(&client, &store, SHOP).await.unwrap();
    assert_eq!((t.pushed, t.failed, t.failed_attempts), (0, 1, 4));
    assert_eq!(store.pending_consent(SHOP).await.unwrap().len(), 1);
    // …and goes out once Shopify answers.
    admin(&shop, "faults", json!({"http503_next": 0})).await;
    let t = push_pending(&client, &store, SHOP).await.unwrap();
    assert_eq!((t.pushed, t.failed), (1, 0));
    store.close().await;
    shop.shutdown().await;
    h.finish().await;
}
