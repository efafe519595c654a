//! Delta detection: what a sync sends when little or nothing changed.

use serde_json::{Value, json};
use shopforce::shopify::generate::StoreShape;
use shopforce::store::StateStore;

use super::sync::{Backend, Harness};
use crate::support::Options;

/// A full export again with 1% of its customers changed: only their Contacts go out, and
/// `--full` sends everything.
async fn one_percent_changed_sends_one_percent(backend: Backend) {
    let h = Harness::new(backend, Options::default()).await;
    let (source, _) = h.export(&StoreShape {
        customers: 500,
        orders: 600,
        max_line_items: 3,
        products: 40,
        companies: 5,
        currency: "USD",
        seed: 5,
        ..StoreShape::default()
    });
    let first = h.sync(&source).await;
    let written = first.total().jobs.uploaded;
    assert_eq!(first.total().jobs.dead_lettered, 0, "{first:#?}");
    let jobs_before = jobs_in_org(&h).await;

    // The same export again: no ingest job at all.
    let rerun = h.sync(&source).await;

    assert_eq!(rerun.total().jobs.uploaded, 0, "{rerun:#?}");
    assert_eq!(jobs_in_org(&h).await, jobs_before, "no job was created");

    // Every 100th customer gets a new tag (an integration-owned field).
    let changed_dir = h.dir.path().join("changed");
    std::fs::create_dir_all(&changed_dir).unwrap();
    for name in ["orders.jsonl", "companies.jsonl"] {
        std::fs::copy(source.join(name), changed_dir.join(name)).unwrap();
    }
    let mut seen = 0;
    let mut changed = 0;
    let lines: Vec<String> = std::fs::read_to_string(source.join("customers.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            if v.get("__parentId").is_some() {
                return line.to_string();
            }
            seen += 1;
            if seen % 100 == 0 {
                changed += 1;
                v["tags"] = json!(["changed-by-the-test"]);
            }
            v.to_string()
        })
        .collect();
    std::fs::write(changed_dir.join("customers.jsonl"), lines.join("\n") + "\n").unwrap();
    assert_eq!(changed, 5);
    let delta = h.sync(&changed_dir).await;
    let total = delta.total();
    assert_eq!(total.jobs.uploaded, changed, "{delta:#?}");
    assert_eq!(total.jobs.updated, changed);
    assert!(
        (total.jobs.uploaded as f64) <= 0.01 * written as f64,
        "{} of {written} rows",
        total.jobs.uploaded
    );
    let tagged = h
        .org
        .records("Contact")
        .await
        .into_iter()
        .filter(|c| c["Shopify_Tags__c"] == "changed-by-the-test")
        .count() as u64;
    assert_eq!(tagged, changed);

    // --full sends every row again.
    let store = h.store().await;
    let client = h.client();
    let ctx = h.context(&client).await;
    let full = shopforce::sync::run_sync(
        Some(&client),
        &store,
        &ctx,
        &shopforce::sync::SyncOptions {
            full: true,
            ..h.options(&changed_dir)
        },
    )
    .await
    .unwrap();
    assert_eq!(full.total().jobs.uploaded, written, "{full:#?}");
    assert_eq!(full.total().jobs.created, 0);
    assert!(store.dead_letter_depth().await.unwrap() == 0);
    store.close().await;
    h.finish().await;
}

async fn jobs_in_org(h: &Harness) -> usize {
    let (_, body) = h.org.get_json("jobs/ingest").await;
    body["records"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_percent_changed_sends_one_percent_on_sqlite() {
    one_percent_changed_sends_one_percent(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_percent_changed_sends_one_percent_on_postgres() {
    one_percent_changed_sends_one_percent(Backend::Postgres).await;
}
