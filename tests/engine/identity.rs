//! Identity resolution end to end: Contacts a sales team already has in the org are found
//! by email and phone and linked, never duplicated; an ambiguous match is queued for review
//! and never guessed; guest checkouts bill to the customer they are.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shopforce::identity::{AmbiguousRule, IdentityConfig};
use shopforce::store::{DeadLetterFilter, ReviewStatus, StateStore};
use shopforce::sync::{SyncOptions, run_sync};

use super::sync::{Backend, Harness, by, small_shape};
use crate::support::Options;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn legacy(gid: &str) -> String {
    gid.rsplit('/').next().unwrap().to_string()
}

/// Three B2C customers in the current shape, with an email, a US phone and orders.
fn three_customers(source: &Path) -> Vec<Value> {
    let ordering: HashSet<String> = lines(&source.join("orders.jsonl"))
        .iter()
        .filter_map(|o| o["customer"]["id"].as_str().map(legacy))
        .collect();
    let b2b: HashSet<String> = lines(&source.join("companies.jsonl"))
        .iter()
        .filter_map(|c| c["customer"]["id"].as_str().map(legacy))
        .collect();
    let picked: Vec<Value> = lines(&source.join("customers.jsonl"))
        .into_iter()
        .rev()
        .filter(|c| c.get("__parentId").is_none())
        .filter(|c| {
            let id = legacy(c["id"].as_str().unwrap());
            c["defaultEmailAddress"]["emailAddress"].is_string()
                && c["defaultPhoneNumber"]["phoneNumber"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("+1") && p.len() == 12)
                && ordering.contains(&id)
                && !b2b.contains(&id)
        })
        .take(3)
        .collect();
    assert_eq!(picked.len(), 3, "the export has three such customers");
    picked
}

async fn create(h: &Harness, object: &str, body: Value) -> String {
    let (status, out) = h
        .org
        .send_json(Method::POST, &format!("sobjects/{object}"), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    out["id"].as_str().unwrap().to_string()
}

struct Crm {
    account: String,
    by_email: String,
    by_phone: String,
    twins: [String; 2],
    customers: Vec<Value>,
}

/// What the sales team had before shopforce: an Account with four Contacts. One has the
/// first customer's email in capitals, one the second customer's phone as a person types
/// it, two share the third customer's email.
async fn seed_the_crm(h: &Harness, source: &Path) -> Crm {
    let customers = three_customers(source);
    let email = |c: &Value| {
        c["defaultEmailAddress"]["emailAddress"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let account = create(h, "Account", json!({"Name": "Trade show leads"})).await;
    let by_email = create(
        h,
        "Contact",
        json!({"LastName": "Crm-Email", "Email": email(&customers[0]).to_uppercase(), "AccountId": account}),
    )
    .await;
    let e164 = customers[1]["defaultPhoneNumber"]["phoneNumber"]
        .as_str()
        .unwrap();
    let national = format!("({}) {}-{}", &e164[2..5], &e164[5..8], &e164[8..]);
    let by_phone = create(
        h,
        "Contact",
        json!({"LastName": "Crm-Phone", "Phone": national, "AccountId": account}),
    )
    .await;
    let mut twins = Vec::new();
    for n in 0..2 {
        twins.push(
            create(
                h,
                "Contact",
                json!({"LastName": format!("Crm-Twin-{n}"), "Email": email(&customers[2]), "AccountId": account}),
            )
            .await,
        );
    }
    Crm {
        account,
        by_email,
        by_phone,
        twins: [twins[0].clone(), twins[1].clone()],
        customers,
    }
}

async fn existing_contacts_are_linked_and_ambiguity_is_held(backend: Backend) {
    let h = Harness::new(backend, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let crm = seed_the_crm(&h, &source).await;
    let contacts_before = h.org.records("Contact").await.len();
    let report = h.sync(&source).await;
    assert_eq!(
        report.identity.get("email"),
        Some(&1),
        "{:?}",
        report.identity
    );
    assert_eq!(
        report.identity.get("phone"),
        Some(&1),
        "{:?}",
        report.identity
    );
    assert_eq!(report.identity.get("ambiguous"), Some(&1));
    assert_eq!(report.identity.get("held"), Some(&1));
    assert_eq!(report.identity_index.read, contacts_before as u64);

    let contacts = h.org.records("Contact").await;
    let by_key = by(&contacts, "Shopify_Customer_ID__c");
    let ids = by(&contacts, "Id");
    let key = |n: usize| legacy(crm.customers[n]["id"].as_str().unwrap());
    // Linked, not duplicated: the Contact the team had carries the customer's key, keeps
    // its name (Shopify-on-create) and its Account, and gets the integration's fields.
    for (n, id, last_name) in [
        (0, &crm.by_email, "Crm-Email"),
        (1, &crm.by_phone, "Crm-Phone"),
    ] {
        let linked = &by_key[&key(n)];
        assert_eq!(linked["Id"].as_str(), Some(id.as_str()), "customer {n}");
        assert_eq!(linked["LastName"], last_name);
        assert_eq!(linked["AccountId"].as_str(), Some(crm.account.as_str()));
        assert_eq!(linked["Shopify_Store__c"], "acme.myshopify.com");
        assert_eq!(
            contacts
                .iter()
                .filter(|c| c["Shopify_Customer_ID__c"].as_str() == Some(&key(n)))
                .count(),
            1
        );
    }
    // Their orders bill to that Contact.
    let orders = h.org.records("Order").await;
    for (n, id) in [(0, &crm.by_email), (1, &crm.by_phone)] {
        let theirs: Vec<&Value> = lines(&source.join("orders.jsonl"))
            .iter()
            .filter(|o| o["customer"]["id"].as_str().map(legacy) == Some(key(n)))
            .map(|o| legacy(o["id"].as_str().unwrap()))
            .collect::<Vec<_>>()
            .iter()
            .filter_map(|order_id| {
                orders
                    .iter()
                    .find(|o| o["Shopify_Order_ID__c"].as_str() == Some(order_id))
            })
            .collect();
        assert!(!theirs.is_empty(), "customer {n}'s orders landed");
        for o in theirs {
            assert_eq!(o["BillToContactId"].as_str(), Some(id.as_str()));
        }
    }
    // The twins: no Contact made, a review with both candidates, held with its orders.
    assert!(!by_key.contains_key(&key(2)));
    for twin in &crm.twins {
        assert!(ids[twin]["Shopify_Customer_ID__c"].is_null());
    }
    let store = h.store().await;
    let reviews = store.list_reviews(ReviewStatus::Open, 10).await.unwrap();
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    assert_eq!(reviews[0].shopify_id, key(2));
    let candidates: HashSet<&String> = reviews[0].candidates.iter().collect();
    assert_eq!(candidates, crm.twins.iter().collect());
    let letters = store
        .list_dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert!(
        letters
            .iter()
            .any(|d| d.error_code == "IDENTITY_REVIEW" && d.external_id == key(2)),
        "{letters:?}"
    );
    let held_orders = letters
        .iter()
        .filter(|d| d.object == "order-customer" && d.error_code == "PARENT_FAILED")
        .count();
    assert!(held_orders > 0, "the held customer's orders are held too");
    // Everyone else got a Contact of their own: one per B2C customer, none twice.
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for c in &contacts {
        if let Some(k) = c["Shopify_Customer_ID__c"].as_str() {
            *keys.entry(k).or_default() += 1;
        }
    }
    assert!(keys.values().all(|n| *n == 1), "no key twice");

    // Again: the links are remembered, nothing is sent, the review stays one.
    let again = h.sync(&source).await;
    assert_eq!(again.total().jobs.uploaded, 0, "{again:#?}");
    assert_eq!(again.identity.get("email"), None);
    assert!(again.identity["mapping"] > 2);
    // The refresh reads only the Contacts written since the last one: every one the first
    // sync created or linked, not the untouched twins.
    let read = again.identity_index.read;
    assert!(
        (contacts.len() as u64 - 2..=contacts.len() as u64).contains(&read),
        "{read} of {}",
        contacts.len()
    );
    let third = h.sync(&source).await;
    assert_eq!(third.identity_index.read, 0, "nothing changed in the org");
    assert_eq!(third.total().jobs.uploaded, 0);
    assert_eq!(
        store
            .list_reviews(ReviewStatus::Open, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_contacts_are_linked_and_ambiguity_is_held_on_sqlite() {
    existing_contacts_are_linked_and_ambiguity_is_held(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_contacts_are_linked_and_ambiguity_is_held_on_postgres() {
    existing_contacts_are_linked_and_ambiguity_is_held(Backend::Postgres).await;
}

/// With `ambiguous = "oldest"` the customer is linked to the oldest candidate, and the
/// review is still queued (never a silent guess).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_rule_links_and_still_asks_for_review() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let crm = seed_the_crm(&h, &source).await;
    let client = h.client();
    let store = h.store().await;
    let ctx = h.context(&client).await;
    let options = SyncOptions {
        identity: Some(IdentityConfig {
            ambiguous: AmbiguousRule::Oldest,
            ..IdentityConfig::default()
        }),
        ..h.options(&source)
    };
    let report = run_sync(Some(&client), &store, &ctx, &options)
        .await
        .unwrap();
    assert_eq!(
        report.identity.get("oldest"),
        Some(&1),
        "{:?}",
        report.identity
    );
    assert_eq!(report.total().jobs.dead_lettered, 0, "{report:#?}");
    let contacts = h.org.records("Contact").await;
    let ids = by(&contacts, "Id");
    let key = legacy(crm.customers[2]["id"].as_str().unwrap());
    let oldest = crm.twins.iter().min().unwrap();
    assert_eq!(
        ids[oldest]["Shopify_Customer_ID__c"].as_str(),
        Some(key.as_str())
    );
    assert_eq!(
        store
            .list_reviews(ReviewStatus::Open, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.close().await;
    h.finish().await;
}

/// A held customer's review resolved from the command line: linked to the Contact the
/// person chose (not the oldest), the next sync writes them and their orders there; a
/// `--create-new` decision gives the customer a Contact of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_resolved_from_the_command_line_is_applied_by_the_next_sync() {
    use super::sync::run_command;
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let crm = seed_the_crm(&h, &source).await;
    let first = h.sync(&source).await;
    assert_eq!(first.identity.get("held"), Some(&1));

    let listed = run_command(&h, &["review", "list", "--json"], &[]).await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let reviews: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let review = reviews[0]["id"].as_i64().unwrap().to_string();
    let chosen = crm.twins.iter().max().unwrap().clone();
    // A Contact the org does not have is refused with what to do.
    let wrong = run_command(
        &h,
        &[
            "review",
            "resolve",
            &review,
            "--contact",
            "003000000000000AAA",
        ],
        &[],
    )
    .await;
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("is not among the org's Contacts"));
    let resolved = run_command(
        &h,
        &["review", "resolve", &review, "--contact", &chosen],
        &[],
    )
    .await;
    let out = String::from_utf8_lossy(&resolved.stdout);
    assert!(
        resolved.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&resolved.stderr)
    );
    assert!(out.contains(&format!("Contact {chosen}")), "{out}");

    let second = h.sync(&source).await;
    assert_eq!(second.identity.get("held"), None, "{:?}", second.identity);
    assert_eq!(second.total().jobs.dead_lettered, 0, "{second:#?}");
    let key = legacy(crm.customers[2]["id"].as_str().unwrap());
    let contacts = h.org.records("Contact").await;
    let linked = &by(&contacts, "Shopify_Customer_ID__c")[&key];
    assert_eq!(linked["Id"].as_str(), Some(chosen.as_str()));
    let orders = h.org.records("Order").await;
    let theirs: Vec<&Value> = orders
        .iter()
        .filter(|o| o["BillToContactId"].as_str() == Some(chosen.as_str()))
        .collect();
    assert!(
        !theirs.is_empty(),
        "the held orders landed on the chosen Contact"
    );
    let store = h.store().await;
    assert!(
        store
            .list_dead_letters(&DeadLetterFilter::default())
            .await
            .unwrap()
            .iter()
            .all(|d| d.error_code != "IDENTITY_REVIEW"
                || d.status != shopforce::store::DeadLetterStatus::Open),
        "the held row's letter is closed"
    );
    store.close().await;
    h.finish().await;
}

/// Several storefronts, in turn, against one org: a person who shops in both (with the
/// same phone written differently, or the same email) ends up with one Contact, and no
/// Contact holds two people (checked against the generator's `truth.csv`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_of_several_storefronts_resolve_to_one_contact() {
    use shopforce::identity::normalize;
    use shopforce::mapping::build::MappingContext;
    use shopforce::shopify::generate::{StoreShape, generate_shops};
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let dir = h.dir.path().join("shops");
    let shops = generate_shops(
        &dir,
        &StoreShape {
            customers: 80,
            orders: 60,
            max_line_items: 2,
            products: 10,
            companies: 2,
            currency: "USD",
            seed: 23,
            shops: 2,
        },
    )
    .unwrap();
    let client = h.client();
    let store = h.store().await;
    let base = h.context(&client).await;
    let mut linked_by_phone_or_email = 0;
    for shop in &shops {
        let ctx = MappingContext {
            shop: shop.info.domain.clone(),
            ..base.clone()
        };
        let report = run_sync(Some(&client), &store, &ctx, &h.options(&shop.dir))
            .await
            .unwrap();
        linked_by_phone_or_email +=
            report.identity.get("email").unwrap_or(&0) + report.identity.get("phone").unwrap_or(&0);
    }
    assert!(
        linked_by_phone_or_email > 0,
        "the second shop found people of the first"
    );

    // Who is who.
    let mut person_of: HashMap<(String, String), String> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("truth.csv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split(',').collect();
        if f[1] == "customer" {
            person_of.insert((f[0].to_string(), legacy(f[2])), f[3].to_string());
        }
    }
    // Every customer's Contact: by its own key, or by the link identity resolution made.
    let contacts = h.org.records("Contact").await;
    let by_key = by(&contacts, "Shopify_Customer_ID__c");
    let mut contact_of: HashMap<(String, String), String> = HashMap::new();
    // (shop, customer) → (email, phone, is a B2B contact).
    type Details = (Option<String>, Option<String>, bool);
    let mut details: HashMap<(String, String), Details> = HashMap::new();
    for shop in &shops {
        let domain = shop.info.domain.clone();
        let links = store.identity_links(&domain).await.unwrap();
        let b2b: HashSet<String> = lines(&shop.dir.join("companies.jsonl"))
            .iter()
            .filter_map(|c| c["customer"]["id"].as_str().map(legacy))
            .collect();
        for c in lines(&shop.dir.join("customers.jsonl")) {
            if c.get("__parentId").is_some() {
                continue;
            }
            let key = legacy(c["id"].as_str().unwrap());
            let contact = match links.get(&key) {
                Some(l) => Some(l.contact_id.clone()),
                None => by_key
                    .get(&key)
                    .map(|c| c["Id"].as_str().unwrap().to_string()),
            };
            let email = c["defaultEmailAddress"]["emailAddress"]
                .as_str()
                .or(c["email"].as_str())
                .and_then(|e| normalize::email(e, normalize::PlusTags::Keep));
            let phone = c["defaultPhoneNumber"]["phoneNumber"]
                .as_str()
                .or(c["phone"].as_str())
                .and_then(|p| normalize::phone(p, None, normalize::Region::parse("US")));
            details.insert(
                (domain.clone(), key.clone()),
                (email, phone, b2b.contains(&key)),
            );
            if let Some(contact) = contact {
                contact_of.insert((domain.clone(), key), contact);
            }
        }
    }
    // No merges: every Contact holds one person.
    let mut people_in: HashMap<&String, HashSet<&String>> = HashMap::new();
    for (record, contact) in &contact_of {
        people_in
            .entry(contact)
            .or_default()
            .insert(&person_of[record]);
    }
    for (contact, people) in &people_in {
        assert_eq!(people.len(), 1, "Contact {contact} holds {people:?}");
    }
    // No duplicates: a B2C person whose records share an email or a phone has one Contact.
    let mut records_of: HashMap<&String, Vec<&(String, String)>> = HashMap::new();
    for record in contact_of.keys() {
        records_of
            .entry(&person_of[record])
            .or_default()
            .push(record);
    }
    let mut checked = 0;
    for (person, records) in records_of {
        if records.len() < 2 || records.iter().any(|r| details[*r].2) {
            continue;
        }
        let shares = |a: &(String, String), b: &(String, String)| {
            let (da, db) = (&details[a], &details[b]);
            (da.0.is_some() && da.0 == db.0) || (da.1.is_some() && da.1 == db.1)
        };
        if !shares(records[0], records[1]) {
            continue;
        }
        checked += 1;
        let distinct: HashSet<&String> = records.iter().map(|r| &contact_of[*r]).collect();
        assert_eq!(distinct.len(), 1, "{person} has {distinct:?}");
    }
    assert!(checked > 0, "the store has people in both shops");
    store.close().await;
    h.finish().await;
}

/// A B2B company contact the sales team already has as a Contact is linked, not duplicated,
/// and their company's orders bill to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_contact_the_org_has_is_linked_not_duplicated() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let ordering: HashSet<String> = lines(&source.join("orders.jsonl"))
        .iter()
        .filter_map(|o| o["customer"]["id"].as_str().map(legacy))
        .collect();
    let member = lines(&source.join("companies.jsonl"))
        .into_iter()
        .find(|c| {
            c["customer"]["email"].is_string()
                && c["customer"]["id"]
                    .as_str()
                    .is_some_and(|id| ordering.contains(&legacy(id)))
        })
        .expect("a company contact with an email and orders");
    let key = legacy(member["customer"]["id"].as_str().unwrap());
    let account = create(&h, "Account", json!({"Name": "Existing key account"})).await;
    let existing = create(
        &h,
        "Contact",
        json!({"LastName": "Known-Buyer", "AccountId": account,
               "Email": member["customer"]["email"].as_str().unwrap().to_uppercase()}),
    )
    .await;
    let report = h.sync(&source).await;
    assert!(
        report.identity.get("email").is_some_and(|n| *n >= 1),
        "{:?}",
        report.identity
    );
    assert_eq!(report.total().jobs.dead_lettered, 0, "{report:#?}");
    let contacts = h.org.records("Contact").await;
    let keyed: Vec<&Value> = contacts
        .iter()
        .filter(|c| c["Shopify_Customer_ID__c"].as_str() == Some(key.as_str()))
        .collect();
    assert_eq!(keyed.len(), 1, "one Contact for the company contact");
    assert_eq!(keyed[0]["Id"].as_str(), Some(existing.as_str()));
    assert_eq!(keyed[0]["LastName"], "Known-Buyer");
    let orders = h.org.records("Order").await;
    let billed = orders
        .iter()
        .filter(|o| o["BillToContactId"].as_str() == Some(existing.as_str()))
        .count();
    assert!(billed > 0, "their orders bill to the existing Contact");
    h.finish().await;
}

/// The probabilistic tier, when turned on: a Contact with the customer's name, postal code
/// and a phone that differs only in a mistyped area code is linked above the threshold; a
/// namesake with the same postal code but no phone is not (names and a postal code are
/// not a person).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probabilistic_tier_links_only_above_its_threshold() {
    let h = Harness::new(Backend::Sqlite, Options::default()).await;
    let (source, _) = h.export(&small_shape());
    let customer = three_customers(&source).remove(0);
    let zip = customer["defaultAddress"]["zip"]
        .as_str()
        .expect("an address")
        .to_string();
    let (first, last) = (
        customer["firstName"].as_str().unwrap().to_string(),
        customer["lastName"].as_str().unwrap().to_string(),
    );
    let account = create(&h, "Account", json!({"Name": "Walk-in records"})).await;
    // The customer's number with another area code: the exact phone tier cannot see it.
    let e164 = customer["defaultPhoneNumber"]["phoneNumber"]
        .as_str()
        .unwrap();
    let area: u32 = e164[2..5].parse().unwrap();
    let mistyped = format!(
        "({}) {}-{}",
        if area == 999 { 998 } else { area + 1 },
        &e164[5..8],
        &e164[8..]
    );
    let same_person = create(
        &h,
        "Contact",
        json!({"FirstName": first, "LastName": last, "MailingPostalCode": zip,
               "Phone": mistyped, "AccountId": account}),
    )
    .await;
    let namesake = create(
        &h,
        "Contact",
        json!({"FirstName": first, "LastName": last, "MailingPostalCode": zip, "AccountId": account}),
    )
    .await;
    let client = h.client();
    let store = h.store().await;
    let ctx = h.context(&client).await;
    let options = SyncOptions {
        identity: Some(IdentityConfig {
            probabilistic: true,
            probabilistic_threshold: 0.9,
            ..IdentityConfig::default()
        }),
        ..h.options(&source)
    };
    let report = run_sync(Some(&client), &store, &ctx, &options)
        .await
        .unwrap();
    assert_eq!(
        report.identity.get("probabilistic"),
        Some(&1),
        "{:?}",
        report.identity
    );
    let key = legacy(customer["id"].as_str().unwrap());
    let ids = by(&h.org.records("Contact").await, "Id");
    assert_eq!(
        ids[&same_person]["Shopify_Customer_ID__c"].as_str(),
        Some(key.as_str())
    );
    assert!(ids[&namesake]["Shopify_Customer_ID__c"].is_null());
    store.close().await;
    h.finish().await;
}
