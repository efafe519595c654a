//! B2B owner routing end to end: companies routed by rules to sales reps read from the
//! emulator's users, OwnerId written on create only, a rep's reassignment kept, new
//! Contacts of a reassigned Account following its owner, inactive owners falling back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shopforce::mapping::routing::{OwnerRoutingConfig, OwnerRule};
use shopforce::salesforce::SalesforceClient;
use shopforce::sync::{SyncOptions, run_sync};

use super::sync::{Backend, Harness, by};
use crate::support::Options;

const AVERY: &str = "avery.nakamura@example.com";
const JORDAN: &str = "jordan.okafor@example.com";
const RILEY: &str = "riley.fernandez@example.com";
/// Seeded as a rep who has left (inactive).
const MORGAN: &str = "morgan.lindqvist@example.com";
/// An extra active user: the default owner.
const DESK: &str = "sales.desk@example.com";

fn rule(owner: &str) -> OwnerRule {
    OwnerRule {
        name: None,
        owner: owner.to_string(),
        country: vec![],
        state: vec![],
        min_locations: None,
        max_locations: None,
        min_contacts: None,
        max_contacts: None,
        tag: None,
    }
}

fn routing(default_owner: &str) -> OwnerRoutingConfig {
    OwnerRoutingConfig {
        default_owner: default_owner.to_string(),
        rules: vec![
            OwnerRule {
                name: Some("key accounts".into()),
                tag: Some("enterprise".into()),
                ..rule(RILEY)
            },
            OwnerRule {
                min_locations: Some(3),
                ..rule(JORDAN)
            },
            OwnerRule {
                name: Some("west".into()),
                state: vec!["US-CA".into(), "US-WA".into()],
                ..rule(AVERY)
            },
            OwnerRule {
                country: vec!["CA".into()],
                ..rule(MORGAN)
            },
        ],
    }
}

fn company(id: u64, name: &str, external_id: &str) -> Value {
    json!({
        "id": format!("gid://shopify/Company/{id}"),
        "name": name,
        "externalId": external_id,
        "updatedAt": "2026-10-01T00:00:00Z",
    })
}

fn location(id: u64, company: u64, country: &str, zone: &str) -> Value {
    json!({
        "id": format!("gid://shopify/CompanyLocation/{id}"),
        "name": format!("Location {id}"),
        "billingAddress": {"address1": "1 Main St", "city": "Town", "zoneCode": zone, "countryCode": country, "zip": "12345"},
        "__parentId": format!("gid://shopify/Company/{company}"),
    })
}

fn contact(customer: u64, company: u64, tags: &[&str]) -> Value {
    json!({
        "id": format!("gid://shopify/CompanyContact/{}", customer + 1000),
        "title": "Buyer",
        "isMainContact": true,
        "customer": {
            "id": format!("gid://shopify/Customer/{customer}"),
            "firstName": "Buyer",
            "lastName": format!("No{customer}"),
            "email": format!("buyer{customer}@example.com"),
            "tags": tags,
        },
        "__parentId": format!("gid://shopify/Company/{company}"),
    })
}

/// A companies export of these lines (no customers or orders changed).
fn export(h: &Harness, name: &str, lines: &[Value]) -> PathBuf {
    let dir = h.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("companies.jsonl"), text).unwrap();
    std::fs::write(dir.join("customers.jsonl"), "").unwrap();
    std::fs::write(dir.join("orders.jsonl"), "").unwrap();
    dir
}

/// Five companies: one per rule, one no rule matches.
fn first_export(h: &Harness) -> PathBuf {
    export(
        h,
        "first",
        &[
            // Tagged (a contact's tag): key accounts, although it is in California too.
            company(101, "Tagged Co", "ERP-101"),
            location(1011, 101, "US", "CA"),
            contact(9101, 101, &["Wholesale", "Enterprise"]),
            // Three locations: the size rule.
            company(102, "Big Co", "ERP-102"),
            location(1021, 102, "DE", "BE"),
            location(1022, 102, "DE", "HH"),
            location(1023, 102, "DE", "BY"),
            contact(9102, 102, &[]),
            // California: west.
            company(103, "West Co", "ERP-103"),
            location(1031, 103, "US", "CA"),
            contact(9103, 103, &[]),
            // Canada: its rule's owner has left, so the default owner.
            company(104, "Maple Co", "ERP-104"),
            location(1041, 104, "CA", "ON"),
            contact(9104, 104, &[]),
            // No rule matches: the default owner.
            company(105, "Thames Co", "ERP-105"),
            location(1051, 105, "GB", "LND"),
            contact(9105, 105, &[]),
        ],
    )
}

async fn user_ids(client: &SalesforceClient) -> HashMap<String, String> {
    client
        .query("SELECT Id, Email FROM User")
        .await
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["Email"].as_str().unwrap().to_lowercase(),
                u["Id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn options(h: &Harness, source: &Path, routing: OwnerRoutingConfig) -> SyncOptions {
    SyncOptions {
        owner_routing: Some(routing),
        ..h.options(source)
    }
}

fn owner(records: &HashMap<String, Value>, key: &str) -> String {
    records
        .get(key)
        .unwrap_or_else(|| panic!("no record {key}"))["OwnerId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn companies_route_to_reps_and_a_reps_reassignment_survives(backend: Backend) {
    let h = Harness::new(
        backend,
        Options {
            extra_users: vec![DESK.to_string()],
            ..Options::default()
        },
    )
    .await;
    let client = h.client();
    let users = user_ids(&client).await;
    let id = |email: &str| users[email].clone();
    let store = h.store().await;
    let ctx = h.context(&client).await;

    let source = first_export(&h);
    let first = run_sync(
        Some(&client),
        &store,
        &ctx,
        &options(&h, &source, routing(DESK)),
    )
    .await
    .expect("first sync");
    let total = first.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{first:#?}");
    let tally = first.owner_routing.clone().expect("routing on");
    assert_eq!(tally.new_companies, 5);
    assert_eq!(
        tally.by_rule,
        [
            ("key accounts", 1),
            ("rules[1]", 1),
            ("west", 1),
            ("rules[3]", 1)
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    );
    assert_eq!(tally.unmatched, 1);
    assert_eq!(tally.inactive_owner, 1);
    assert_eq!(tally.inactive_owners, [MORGAN]);
    assert_eq!(
        tally.by_owner,
        [(RILEY, 1), (JORDAN, 1), (AVERY, 1), (DESK, 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    );
    // Nothing was withheld: every record was new.
    assert!(
        !first.withheld.contains_key("Account.OwnerId"),
        "{first:#?}"
    );

    let accounts = h.org.records("Account").await;
    let companies = by(&accounts, "Shopify_Company_ID__c");
    let locations = by(&accounts, "Shopify_Location_ID__c");
    let contacts = by(&h.org.records("Contact").await, "Shopify_Customer_ID__c");
    for (company, loc, customer, rep) in [
        ("101", "1011", "9101", RILEY),
        ("102", "1021", "9102", JORDAN),
        ("103", "1031", "9103", AVERY),
        ("104", "1041", "9104", DESK),
        ("105", "1051", "9105", DESK),
    ] {
        assert_eq!(owner(&companies, company), id(rep), "company {company}");
        assert_eq!(owner(&locations, loc), id(rep), "location {loc}");
        assert_eq!(owner(&contacts, customer), id(rep), "contact {customer}");
    }
    for loc in ["1022", "1023"] {
        assert_eq!(owner(&locations, loc), id(JORDAN));
    }

    // A sales manager gives West Co to Jordan.
    let west = companies["103"]["Id"].as_str().unwrap().to_string();
    let (status, body) = h
        .org
        .send_json(
            Method::PATCH,
            &format!("sobjects/Account/{west}"),
            json!({ "OwnerId": id(JORDAN) }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Shopify changes West Co (its external id, a field the integration owns, so the row is
    // sent) and adds a buyer to it; a new Californian company signs up.
    let second_source = export(
        &h,
        "second",
        &[
            company(103, "West Co Renamed", "ERP-103-B"),
            location(1031, 103, "US", "CA"),
            contact(9103, 103, &[]),
            contact(9106, 103, &[]),
            company(106, "Bay Co", "ERP-106"),
            location(1061, 106, "US", "WA"),
            contact(9107, 106, &[]),
        ],
    );
    let second = run_sync(
        Some(&client),
        &store,
        &ctx,
        &options(&h, &second_source, routing(DESK)),
    )
    .await
    .expect("second sync");
    let total = second.total();
    assert_eq!(total.jobs.dead_lettered + total.held, 0, "{second:#?}");
    assert_eq!(second.targets["account-company"].jobs.uploaded, 2);
    let tally = second.owner_routing.clone().unwrap();
    assert_eq!(tally.new_companies, 1);
    assert_eq!(tally.by_rule.get("west"), Some(&1));
    assert_eq!(tally.unmatched, 0);
    // The new buyer of West Co follows the Account's owner now.
    assert_eq!(tally.following_account_owner, 1);
    // West Co's OwnerId (the rules still say Avery) was withheld: the record existed.
    assert!(
        second.withheld["Account.OwnerId"].on_create >= 1,
        "{second:#?}"
    );

    let accounts = h.org.records("Account").await;
    let companies = by(&accounts, "Shopify_Company_ID__c");
    let contacts = by(&h.org.records("Contact").await, "Shopify_Customer_ID__c");
    // The rep's choice stands, beside Shopify's change.
    assert_eq!(owner(&companies, "103"), id(JORDAN));
    assert_eq!(
        companies["103"]["Shopify_Company_External_ID__c"],
        "ERP-103-B"
    );
    assert_eq!(companies["103"]["Name"], "West Co");
    assert_eq!(owner(&contacts, "9106"), id(JORDAN));
    // The buyer who was there keeps the owner it was created with.
    assert_eq!(owner(&contacts, "9103"), id(AVERY));
    // The new company is routed by the rules.
    assert_eq!(owner(&companies, "106"), id(AVERY));
    assert_eq!(owner(&contacts, "9107"), id(AVERY));
    store.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_route_to_reps_on_sqlite() {
    companies_route_to_reps_and_a_reps_reassignment_survives(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_route_to_reps_on_postgres() {
    companies_route_to_reps_and_a_reps_reassignment_survives(Backend::Postgres).await;
}

/// A default owner who is not an active user stops the run before anything is sent: there
/// is nobody to fall back to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_or_unknown_default_owner_stops_the_run_before_anything_is_sent() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let client = h.client();
    let store = h.store().await;
    let ctx = h.context(&client).await;
    let source = first_export(&h);
    for default_owner in [MORGAN, "nobody@example.com"] {
        let e = run_sync(
            Some(&client),
            &store,
            &ctx,
            &options(&h, &source, routing(default_owner)),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("owner_routing.default_owner:") && e.contains(default_owner),
            "{e}"
        );
    }
    assert!(h.org.records("Account").await.is_empty());
    // Without routing the same export syncs, owned by the integration user.
    let report = run_sync(Some(&client), &store, &ctx, &h.options(&source))
        .await
        .unwrap();
    assert!(report.owner_routing.is_none());
    let users = user_ids(&client).await;
    let accounts = h.org.records("Account").await;
    assert_eq!(accounts.len(), 12);
    assert!(
        accounts
            .iter()
            .all(|a| a["OwnerId"].as_str() == Some(users[crate::support::USERNAME].as_str()))
    );
    store.close().await;
    h.finish().await;
}
