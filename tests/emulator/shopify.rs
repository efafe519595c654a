//! The Shopify emulator over HTTP on 127.0.0.1:0: authentication, versions, bulk exports (what
//! `generate` wrote, every customer in both contact shapes), incremental filters, the bulk state machine and its faults, cost and
//! throttling, the consent mutation, metafields, webhooks, and secrets kept out of sight.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use shopforce::emulator::shopify::{self as emu, EmulatorConfig, RunningEmulator, WebhookConfig};
use shopforce::shopify::generate::{ShopGenerator, StoreShape, generate};

const TOKEN: &str = "shpat_test_token_0123456789abcdef";
const SECRET: &str = "whsec_test_secret_fedcba9876543210";
const V: &str = "2026-01";

fn shape() -> StoreShape {
    StoreShape {
        customers: 60,
        orders: 90,
        companies: 3,
        products: 20,
        max_line_items: 12,
        seed: 11,
        ..StoreShape::default()
    }
}

struct Shop {
    emulator: RunningEmulator,
    http: Client,
    url: String,
    base: String,
}

impl Shop {
    async fn start(tweak: impl FnOnce(&mut EmulatorConfig)) -> Shop {
        let mut config = EmulatorConfig::new(TOKEN, shape());
        config.bulk_min_duration = Duration::from_millis(20);
        tweak(&mut config);
        let emulator = emu::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let url = emulator.graphql_url(emulator.shop_domain(), V);
        Shop {
            base: emulator.base_url.clone(),
            url,
            http: Client::new(),
            emulator,
        }
    }

    async fn post(&self, token: Option<&str>, url: &str, body: Value) -> reqwest::Response {
        let mut request = self.http.post(url).json(&body);
        if let Some(t) = token {
            request = request.header("X-Shopify-Access-Token", t);
        }
        request.send().await.unwrap()
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .post(
                Some(TOKEN),
                &self.url,
                json!({"query": query, "variables": variables}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn admin(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/__admin/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    async fn admin_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/__admin/{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `customer(id:)` with `selection`.
    async fn customer(&self, id: &str, selection: &str) -> Value {
        let body = self
            .gql(
                &format!("query($id: ID!) {{ customer(id: $id) {{ id {selection} }} }}"),
                json!({"id": id}),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["customer"].clone()
    }

    /// Starts a bulk query; returns the payload.
    async fn start_bulk(&self, query: &str) -> Value {
        let body = self
            .gql(
                "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } } }",
                json!({"q": query}),
            )
            .await;
        body["data"]["bulkOperationRunQuery"].clone()
    }

    async fn operation(&self, id: &str) -> Value {
        let body = self
            .gql(
                "query($id: ID!) { bulkOperation(id: $id) { id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl query } }",
                json!({"id": id}),
            )
            .await;
        body["data"]["bulkOperation"].clone()
    }

    async fn wait(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let op = self.operation(id).await;
            let status = op["status"].as_str().unwrap_or("").to_string();
            if ["COMPLETED", "FAILED", "CANCELED", "EXPIRED"].contains(&status.as_str()) {
                return op;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "stuck: {op}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs a bulk query to its end.
    async fn bulk(&self, query: &str) -> Value {
        let started = self.start_bulk(query).await;
        assert_eq!(started["userErrors"], json!([]), "{started}");
        assert_eq!(started["bulkOperation"]["status"], "CREATED");
        let id = started["bulkOperation"]["id"].as_str().unwrap().to_string();
        self.wait(&id).await
    }

    async fn download(&self, url: &str) -> Vec<Value> {
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/jsonl"
        );
        let text = response.text().await.unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// Lines as sorted canonical JSON strings (a multiset).
fn multiset(lines: impl IntoIterator<Item = Value>) -> Vec<String> {
    let mut out: Vec<String> = lines.into_iter().map(|v| v.to_string()).collect();
    out.sort();
    out
}

const MONEY: &str = "fragment M on MoneyBag { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }";

fn customers_query() -> String {
    "{ customers { edges { node { id firstName lastName createdAt updatedAt state locale note tags verifiedEmail taxExempt
        defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
        defaultPhoneNumber { phoneNumber marketingState marketingOptInLevel marketingUpdatedAt marketingCollectedFrom }
        email phone
        emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
        smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom }
        defaultAddress { firstName lastName address1 address2 city province provinceCode country countryCodeV2 zip phone company }
        addressesV2 { edges { node { id address1 city countryCodeV2 zip } } } } } } }"
        .to_string()
}

fn orders_query() -> String {
    format!(
        "{{ orders {{ edges {{ node {{ id name createdAt updatedAt processedAt cancelledAt cancelReason closed test
        currencyCode presentmentCurrencyCode email phone displayFinancialStatus displayFulfillmentStatus sourceName tags note
        customer {{ id }}
        purchasingEntity {{ __typename ... on Customer {{ id }} ... on PurchasingCompany {{ company {{ id }} location {{ id }} contact {{ id customer {{ id }} }} }} }}
        subtotalPriceSet {{ ...M }} totalDiscountsSet {{ ...M }} totalShippingPriceSet {{ ...M }} totalTaxSet {{ ...M }}
        totalPriceSet {{ ...M }} totalRefundedSet {{ ...M }} currentTotalPriceSet {{ ...M }}
        refunds {{ id createdAt note totalRefundedSet {{ ...M }} }}
        lineItems {{ edges {{ node {{ id sku title name variantTitle vendor quantity currentQuantity isGiftCard
            originalUnitPriceSet {{ ...M }} product {{ id }} variant {{ id sku title displayName }} }} }} }}
        }} }} }} }} {MONEY}"
    )
}

fn companies_query() -> String {
    "{ companies { edges { node { id name externalId note createdAt updatedAt customerSince
        locations { edges { node { id name externalId phone locale
            billingAddress { address1 address2 city province zoneCode countryCode zip recipient }
            shippingAddress { address1 address2 city province zoneCode countryCode zip recipient } } } }
        contacts { edges { node { id title isMainContact locale
            customer { id firstName lastName email phone tags defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt } } } } }
        } } } }"
        .to_string()
}

fn read_jsonl(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn the_access_token_is_required_with_shopifys_error() {
    let shop = Shop::start(|_| {}).await;
    let body = json!({"query": "{ shop { name } }"});
    for token in [None, Some("shpat_wrong")] {
        let response = shop.post(token, &shop.url, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let text = response.text().await.unwrap();
        assert_eq!(
            text,
            r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#
        );
    }
    let ok = shop
        .gql("{ shop { name myshopifyDomain } }", json!({}))
        .await;
    assert_eq!(
        ok["data"]["shop"]["myshopifyDomain"],
        "store-1.myshopify.com"
    );
    assert!(ok["extensions"]["cost"]["throttleStatus"]["maximumAvailable"].is_number());
    // The default route (no /shops/… prefix) is the first shop.
    let response = shop
        .post(
            Some(TOKEN),
            &format!("{}/admin/api/{V}/graphql.json", shop.base),
            body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(shop.admin_get("stats").await["unauthorized"], 2);
    // Keys in Shopify's order, counts as Shopify writes them.
    let raw = shop
        .post(
            Some(TOKEN),
            &shop.url,
            json!({"query": "{ shop { name } }"}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains(r#""extensions":{"cost":{"requestedQueryCost":1,"actualQueryCost":1,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":"#),
        "{raw}"
    );
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn unknown_versions_are_404_and_old_ones_fall_forward() {
    let shop = Shop::start(|_| {}).await;
    let body = json!({"query": "{ shop { name } }"});
    for version in ["2031-01", "latest", "2026-02"] {
        let url = shop
            .emulator
            .graphql_url(shop.emulator.shop_domain(), version);
        let response = shop.post(Some(TOKEN), &url, body.clone()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{version}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"errors": "Not Found"})
        );
    }
    let url = shop
        .emulator
        .graphql_url(shop.emulator.shop_domain(), "2023-04");
    let response = shop.post(Some(TOKEN), &url, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-shopify-api-version"], "2025-10");
    // Unknown fields are GraphQL errors at HTTP 200.
    let body = shop
        .gql(
            "query Probe { customers(first: 1) { nodes { id nope } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "Field 'nope' doesn't exist on type 'Customer'"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "undefinedField");
    assert_eq!(body["errors"][0]["path"][0], "query Probe");
    assert!(body.get("data").is_none());
    let body = shop.gql("mutation { nope { id } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["message"],
        "Field 'nope' doesn't exist on type 'Mutation'"
    );
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn a_full_bulk_export_equals_the_generated_files() {
    let shop = Shop::start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &shape()).unwrap();
    for (query, file) in [
        (customers_query(), "customers.jsonl"),
        (orders_query(), "orders.jsonl"),
        (companies_query(), "companies.jsonl"),
    ] {
        let op = shop.bulk(&query).await;
        assert_eq!(op["status"], "COMPLETED", "{op}");
        assert_eq!(op["errorCode"], Value::Null);
        assert!(op["completedAt"].is_string());
        let lines = shop.download(op["url"].as_str().unwrap()).await;
        let expected = read_jsonl(&dir.path().join(file));
        assert_eq!(op["objectCount"], expected.len().to_string());
        assert_eq!(
            op["rootObjectCount"],
            expected
                .iter()
                .filter(|l| l.get("__parentId").is_none())
                .count()
                .to_string()
        );
        assert!(op["fileSize"].as_str().unwrap().parse::<u64>().unwrap() > 0);
        let lines = if file == "customers.jsonl" {
            both_contact_shapes_as_generated(lines, &expected)
        } else {
            lines
        };
        assert_eq!(multiset(lines), multiset(expected), "{file}");
    }
    // The engine's documented selection works too: only the selected fields come back.
    let op = shop
        .bulk("{ customers { edges { node { id updatedAt defaultEmailAddress { emailAddress marketingState } } } } }")
        .await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    assert_eq!(lines.len(), 60);
    for line in &lines {
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert!(keys.len() <= 3, "{line}");
        assert!(
            line["id"]
                .as_str()
                .unwrap()
                .starts_with("gid://shopify/Customer/")
        );
    }
    // Grouped output puts every child right after its parent.
    let started = shop
        .gql(
            "mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: true) { bulkOperation { id } userErrors { message } } }",
            json!({"q": "{ orders { edges { node { id lineItems { edges { node { id } } } } } } }"}),
        )
        .await;
    let id = started["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let op = shop.wait(&id).await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    let mut current = String::new();
    for line in lines {
        match line.get("__parentId") {
            None => current = line["id"].as_str().unwrap().to_string(),
            Some(parent) => assert_eq!(parent, &json!(current)),
        }
    }
    shop.emulator.shutdown().await;
}

/// Checks every exported customer line carries both contact shapes and that they agree, then
/// cuts each to the fields the generator's line has (the generator writes one shape only).
fn both_contact_shapes_as_generated(exported: Vec<Value>, generated: &[Value]) -> Vec<Value> {
    let by_id: HashMap<&str, &Value> = generated
        .iter()
        .filter(|l| l.get("__parentId").is_none())
        .map(|l| (l["id"].as_str().unwrap(), l))
        .collect();
    exported
        .into_iter()
        .map(|line| {
            let Some(file_line) = line["id"].as_str().and_then(|id| by_id.get(id)) else {
                return line;
            };
            for field in emu::customer::FIELDS {
                assert!(line.get(field).is_some(), "{field} missing: {line}");
            }
            assert_same_contact_details(&line);
            let keep = file_line.as_object().unwrap();
            Value::Object(
                line.as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| keep.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
        .collect()
}

/// The current and the deprecated contact fields of one customer say the same thing.
fn assert_same_contact_details(c: &Value) {
    for (value, current, address, legacy) in [
        (
            "email",
            "defaultEmailAddress",
            "emailAddress",
            "emailMarketingConsent",
        ),
        (
            "phone",
            "defaultPhoneNumber",
            "phoneNumber",
            "smsMarketingConsent",
        ),
    ] {
        let (current, legacy) = (&c[current], &c[legacy]);
        assert_eq!(current[address], c[value], "{c}");
        if c[value].is_null() {
            assert!(current.is_null() && legacy.is_null(), "{c}");
            continue;
        }
        // `REDACTED` is only in the deprecated email enum; the current one says INVALID.
        let state = match legacy["marketingState"].as_str() {
            Some("REDACTED") if value == "email" => "INVALID",
            other => other.unwrap(),
        };
        assert_eq!(current["marketingState"], state, "{c}");
        assert_eq!(
            current["marketingUpdatedAt"], legacy["consentUpdatedAt"],
            "{c}"
        );
        // The deprecated SMS opt-in level is non-null: UNKNOWN where the current one is null.
        let level = match current["marketingOptInLevel"] {
            Value::Null if value == "phone" => json!("UNKNOWN"),
            ref level => level.clone(),
        };
        assert_eq!(legacy["marketingOptInLevel"], level, "{c}");
    }
    assert_eq!(
        c["defaultPhoneNumber"]["marketingCollectedFrom"],
        c["smsMarketingConsent"]["consentCollectedFrom"],
        "{c}"
    );
}

const CURRENT_CONTACT: &str = "defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
    defaultPhoneNumber { phoneNumber marketingState marketingOptInLevel marketingUpdatedAt marketingCollectedFrom }";
const DEPRECATED_CONTACT: &str = "email phone
    emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
    smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom }";

#[tokio::test]
async fn a_customer_of_either_generated_shape_answers_both_selections_alike() {
    use shopforce::shopify::queries::Export;
    let shop = Shop::start(|_| {}).await;
    let generator = ShopGenerator::new(&shape(), 0);
    let generated = |deprecated: bool| {
        (0..60)
            .map(|n| generator.customer(n).customer)
            .find(|c| {
                c.uses_deprecated_fields() == deprecated
                    && c.email_address().is_some()
                    && c.phone_number().is_some()
            })
            .expect("a customer of that shape with an email and a phone")
    };
    let (old_shape, new_shape) = (generated(true), generated(false));
    for customer in [&old_shape, &new_shape] {
        let id = customer.id.to_string();
        let current = shop.customer(&id, CURRENT_CONTACT).await;
        let deprecated = shop.customer(&id, DEPRECATED_CONTACT).await;
        // Each selection gets only its fields…
        assert!(current.get("email").is_none(), "{current}");
        assert!(
            deprecated.get("defaultEmailAddress").is_none(),
            "{deprecated}"
        );
        // …with the generated email and phone in both.
        let email = customer.email_address().unwrap();
        let phone = customer.phone_number().unwrap();
        assert_eq!(current["defaultEmailAddress"]["emailAddress"], email);
        assert_eq!(current["defaultPhoneNumber"]["phoneNumber"], phone);
        assert_eq!(deprecated["email"], email);
        assert_eq!(deprecated["phone"], phone);
        let mut both = current.clone();
        both.as_object_mut()
            .unwrap()
            .extend(deprecated.as_object().unwrap().clone());
        assert_same_contact_details(&both);
    }
    // The deprecated-shape customer's consent, as generated, in the current fields.
    let legacy = old_shape.email_marketing_consent.clone().flatten().unwrap();
    let current = shop
        .customer(&old_shape.id.to_string(), CURRENT_CONTACT)
        .await;
    assert_eq!(
        current["defaultEmailAddress"]["marketingOptInLevel"],
        json!(legacy.marketing_opt_in_level)
    );
    assert_eq!(
        current["defaultEmailAddress"]["marketingUpdatedAt"],
        json!(legacy.consent_updated_at.map(|t| t.to_string()))
    );

    // The engine's bulk query (current fields only): every customer's email comes back in
    // `defaultEmailAddress`, and a line holds only what was selected.
    let op = shop.bulk(&Export::Customers.bulk_query(None)).await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    let line = lines
        .iter()
        .find(|l| l["id"] == json!(old_shape.id.to_string()))
        .unwrap();
    assert_eq!(
        line["defaultEmailAddress"]["emailAddress"],
        old_shape.email_address().unwrap()
    );
    assert_eq!(
        line["defaultPhoneNumber"]["phoneNumber"],
        old_shape.phone_number().unwrap()
    );
    let selected = [
        "id",
        "firstName",
        "lastName",
        "createdAt",
        "updatedAt",
        "tags",
        "verifiedEmail",
        "defaultEmailAddress",
        "defaultPhoneNumber",
        "defaultAddress",
    ];
    for l in &lines {
        for key in l.as_object().unwrap().keys() {
            assert!(selected.contains(&key.as_str()), "{key} not selected: {l}");
        }
        let generated_email = generator
            .customer(generator.customer_index(parse_id(l)).unwrap())
            .customer
            .email_address()
            .map(str::to_string);
        assert_eq!(
            l["defaultEmailAddress"]["emailAddress"]
                .as_str()
                .map(str::to_string),
            generated_email,
            "{l}"
        );
    }

    // A change reaches both shapes; REDACTED (deprecated enum only) is INVALID in the
    // current one.
    let numeric = old_shape.id.id;
    let (status, _) = shop
        .admin(
            &format!("customers/{numeric}/email"),
            json!({"email": "moved@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = shop
        .admin(
            &format!("customers/{}/consent", new_shape.id.id),
            json!({"marketingState": "REDACTED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let both = format!("{CURRENT_CONTACT} {DEPRECATED_CONTACT}");
    let moved = shop.customer(&old_shape.id.to_string(), &both).await;
    assert_eq!(moved["email"], "moved@example.com");
    assert_eq!(
        moved["defaultEmailAddress"]["emailAddress"],
        "moved@example.com"
    );
    let redacted = shop.customer(&new_shape.id.to_string(), &both).await;
    assert_eq!(
        redacted["emailMarketingConsent"]["marketingState"],
        "REDACTED"
    );
    assert_eq!(redacted["defaultEmailAddress"]["marketingState"], "INVALID");
    assert_same_contact_details(&redacted);
    shop.emulator.shutdown().await;
}

/// The numeric id of a customer line.
fn parse_id(line: &Value) -> u64 {
    line["id"]
        .as_str()
        .and_then(|id| id.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn updated_at_filters_return_only_what_changed_after_an_admin_change() {
    let shop = Shop::start(|c| c.clock_start = Some("2027-01-10T12:00:00Z".parse().unwrap())).await;
    let generator = ShopGenerator::new(&shape(), 0);
    let target = generator.customer(5).customer.id.to_string();
    let (status, changed) = shop
        .admin(
            &format!("customers/{}/email", generator.customer(5).customer.id.id),
            json!({"email": "changed.person@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["updatedAt"], "2027-01-10T12:00:00Z");
    let (status, order) = shop
        .admin(
            "orders",
            json!({"customerId": target, "lineItems": [{"title": "Mug", "sku": "MUG-1", "quantity": 2, "price": "12.50"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let filter = "updated_at:>='2027-01-01T00:00:00Z'";
    let op = shop
        .bulk(&format!(
            "{{ customers(query: \"{filter}\") {{ edges {{ node {{ id updatedAt email defaultEmailAddress {{ emailAddress }} }} }} }} }}"
        ))
        .await;
    assert_eq!(op["status"], "COMPLETED");
    assert_eq!(op["rootObjectCount"], "1");
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], json!(target));
    let email = lines[0]["defaultEmailAddress"]["emailAddress"]
        .as_str()
        .or(lines[0]["email"].as_str());
    assert_eq!(email, Some("changed.person@example.com"));
    let op = shop
        .bulk(&format!(
            "{{ orders(query: \"{filter}\") {{ edges {{ node {{ id name customer {{ id }} totalPriceSet {{ shopMoney {{ amount }} }} lineItems {{ edges {{ node {{ id sku quantity }} }} }} }} }} }} }}"
        ))
        .await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let parent = lines
        .iter()
        .find(|l| l.get("__parentId").is_none())
        .unwrap();
    assert_eq!(parent["customer"]["id"], json!(target));
    assert_eq!(parent["totalPriceSet"]["shopMoney"]["amount"], "25.0");
    let child = lines
        .iter()
        .find(|l| l.get("__parentId").is_some())
        .unwrap();
    assert_eq!(child["__parentId"], parent["id"]);
    assert_eq!(child["sku"], "MUG-1");
    // orders/create… is not configured here; the lookup sees the change too.
    let found = shop
        .gql(
            "query($q: String!) { customers(first: 5, query: $q) { edges { node { id } } } }",
            json!({"q": "email:CHANGED.person@example.com"}),
        )
        .await;
    assert_eq!(
        found["data"]["customers"]["edges"][0]["node"]["id"],
        json!(target)
    );
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn an_export_that_matches_nothing_completes_without_a_url() {
    let shop = Shop::start(|_| {}).await;
    let op = shop
        .bulk("{ customers(query: \"updated_at:>'2099-01-01T00:00:00Z'\") { edges { node { id } } } }")
        .await;
    assert_eq!(op["status"], "COMPLETED");
    assert_eq!(op["url"], Value::Null);
    assert_eq!(op["objectCount"], "0");
    assert_eq!(op["fileSize"], Value::Null);
    // An invalid inner query is a userError, not a job.
    let started = shop
        .start_bulk("{ customers { edges { node { id nope } } } }")
        .await;
    assert_eq!(started["bulkOperation"], Value::Null);
    assert_eq!(started["userErrors"][0]["code"], "INVALID");
    assert_eq!(started["userErrors"][0]["field"], json!(["query"]));
    assert!(
        started["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid bulk query: Field 'nope' doesn't exist on type 'Customer'")
    );
    let started = shop.start_bulk("{ shop { name } }").await;
    assert_eq!(
        started["userErrors"][0]["message"],
        "Bulk queries must contain at least one connection."
    );
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn concurrent_bulk_queries_are_limited_by_api_version() {
    // Before 2026-01: one at a time.
    let shop = Shop::start(|c| {
        c.api_version = "2025-10".into();
        c.bulk_min_duration = Duration::from_secs(20);
    })
    .await;
    let first = shop
        .start_bulk("{ customers { edges { node { id } } } }")
        .await;
    let id = first["bulkOperation"]["id"].as_str().unwrap().to_string();
    let second = shop
        .start_bulk("{ orders { edges { node { id } } } }")
        .await;
    assert_eq!(second["bulkOperation"], Value::Null);
    assert_eq!(
        second["userErrors"],
        json!([{"field": null, "code": "OPERATION_IN_PROGRESS",
            "message": format!("A bulk query operation for this app and shop is already in progress: {id}.")}])
    );
    shop.emulator.shutdown().await;

    // 2026-01: five at a time; the sixth is refused.
    let shop = Shop::start(|c| c.bulk_min_duration = Duration::from_secs(20)).await;
    for _ in 0..5 {
        let started = shop
            .start_bulk("{ customers { edges { node { id } } } }")
            .await;
        assert_eq!(started["userErrors"], json!([]));
    }
    let sixth = shop
        .start_bulk("{ customers { edges { node { id } } } }")
        .await;
    assert_eq!(sixth["userErrors"][0]["code"], "OPERATION_IN_PROGRESS");
    // The fault refuses one even when nothing runs.
    shop.emulator.shutdown().await;
    let shop = Shop::start(|_| {}).await;
    let (status, _) = shop.admin("faults", json!({"reject_next_bulk": 1})).await;
    assert_eq!(status, StatusCode::OK);
    let refused = shop
        .start_bulk("{ customers { edges { node { id } } } }")
        .await;
    assert_eq!(refused["userErrors"][0]["code"], "OPERATION_IN_PROGRESS");
    let accepted = shop
        .start_bulk("{ customers { edges { node { id } } } }")
        .await;
    assert_eq!(accepted["userErrors"], json!([]));
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn a_bulk_operation_can_be_canceled() {
    let shop = Shop::start(|c| c.bulk_min_duration = Duration::from_secs(20)).await;
    let started = shop
        .start_bulk("{ orders { edges { node { id } } } }")
        .await;
    let id = started["bulkOperation"]["id"].as_str().unwrap().to_string();
    let cancel = "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } } }";
    let body = shop.gql(cancel, json!({"id": id})).await;
    let payload = &body["data"]["bulkOperationCancel"];
    assert_eq!(payload["bulkOperation"]["status"], "CANCELING");
    assert_eq!(payload["userErrors"], json!([]));
    let op = shop.wait(&id).await;
    assert_eq!(op["status"], "CANCELED");
    assert_eq!(op["url"], Value::Null);
    let again = shop.gql(cancel, json!({"id": id})).await;
    assert_eq!(
        again["data"]["bulkOperationCancel"]["userErrors"][0]["message"],
        "A bulk operation cannot be canceled when it is canceled"
    );
    let unknown = shop
        .gql(cancel, json!({"id": "gid://shopify/BulkOperation/1"}))
        .await;
    assert_eq!(
        unknown["data"]["bulkOperationCancel"],
        json!({"bulkOperation": null, "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}]})
    );
    // currentBulkOperation reports the latest, finished or not.
    let current = shop
        .gql("{ currentBulkOperation { id status } }", json!({}))
        .await;
    assert_eq!(current["data"]["currentBulkOperation"]["id"], json!(id));
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn an_injected_failure_ends_failed_with_partial_data() {
    let shop = Shop::start(|_| {}).await;
    let (status, faults) = shop
        .admin("faults", json!({"fail_next_bulk": "TIMEOUT"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{faults}");
    let query = "{ orders { edges { node { id name lineItems { edges { node { id sku } } } } } } }";
    let failed = shop.bulk(query).await;
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["errorCode"], "TIMEOUT");
    assert_eq!(failed["url"], Value::Null);
    let partial = shop
        .download(failed["partialDataUrl"].as_str().unwrap())
        .await;
    assert!(!partial.is_empty());
    let complete = shop.bulk(query).await;
    assert_eq!(complete["status"], "COMPLETED");
    let full = shop.download(complete["url"].as_str().unwrap()).await;
    assert!(partial.len() < full.len());
    let full_set = multiset(full);
    for line in multiset(partial) {
        assert!(full_set.binary_search(&line).is_ok(), "{line}");
    }
    // A bad fault is refused.
    let (status, _) = shop
        .admin("faults", json!({"fail_next_bulk": "NOPE"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn the_cost_bucket_drains_throttles_and_restores() {
    let shop = Shop::start(|c| {
        c.bucket_size = 50.0;
        c.restore_rate = 40.0;
    })
    .await;
    let query = "{ customers(first: 10) { nodes { id } } }";
    let mut available = Vec::new();
    let throttled = loop {
        let body = shop.gql(query, json!({})).await;
        if body.get("errors").is_some() {
            break body;
        }
        assert_eq!(body["extensions"]["cost"]["requestedQueryCost"], 12);
        assert_eq!(body["extensions"]["cost"]["actualQueryCost"], 12);
        available.push(
            body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
                .as_u64()
                .unwrap(),
        );
        assert!(available.len() < 10, "never throttled: {available:?}");
    };
    assert!(available.windows(2).all(|w| w[1] < w[0]), "{available:?}");
    assert_eq!(throttled["errors"][0]["message"], "Throttled");
    assert_eq!(throttled["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(
        throttled["extensions"]["cost"]["actualQueryCost"],
        Value::Null
    );
    assert_eq!(
        throttled["extensions"]["cost"]["throttleStatus"]["maximumAvailable"],
        50.0
    );
    assert!(throttled.get("data").is_none());
    // 40 points a second: 12 are back well within half a second.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let body = shop.gql(query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(shop.admin_get("stats").await["throttled"].as_u64().unwrap() >= 1);
    // Injected: a THROTTLED whatever the bucket, then 429 and 503 with Retry-After.
    shop.admin(
        "faults",
        json!({"throttle_next": 1, "http429_next": 1, "http503_next": 1, "retry_after_secs": 1.0}),
    )
    .await;
    for expected in [
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SERVICE_UNAVAILABLE,
    ] {
        let response = shop
            .post(
                Some(TOKEN),
                &shop.url,
                json!({"query": "{ shop { name } }"}),
            )
            .await;
        assert_eq!(response.status(), expected);
        assert_eq!(response.headers()["retry-after"], "1.0");
    }
    let body = shop.gql("{ shop { name } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    let body = shop.gql("{ shop { name } }", json!({})).await;
    assert!(body.get("errors").is_none());
    shop.emulator.shutdown().await;
}

const CONSENT: &str = "mutation($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id updatedAt defaultEmailAddress { marketingState marketingOptInLevel marketingUpdatedAt } emailMarketingConsent { marketingState consentUpdatedAt } }
    userErrors { field message code }
  }
}";

/// A customer of the current shape with an email.
fn current_shape_customer() -> String {
    let generator = ShopGenerator::new(&shape(), 0);
    (0..60)
        .map(|n| generator.customer(n).customer)
        .find(|c| !c.uses_deprecated_fields() && c.email_address().is_some())
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn consent_updates_follow_shopifys_rules_and_bump_updated_at() {
    let shop = Shop::start(|c| c.clock_start = Some("2027-02-03T04:05:06Z".parse().unwrap())).await;
    let id = current_shape_customer();
    let input = |state: &str, level: &str, at: Option<&str>| {
        let mut consent = json!({"marketingState": state, "marketingOptInLevel": level});
        if let Some(at) = at {
            consent["consentUpdatedAt"] = json!(at);
        }
        json!({"input": {"customerId": id, "emailMarketingConsent": consent}})
    };
    for state in ["REDACTED", "INVALID", "NOT_SUBSCRIBED"] {
        let body = shop.gql(CONSENT, input(state, "SINGLE_OPT_IN", None)).await;
        assert_eq!(
            body["errors"][0]["message"],
            format!("Cannot specify {state} as a marketing state input")
        );
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID");
        assert_eq!(
            body["errors"][0]["path"],
            json!(["customerEmailMarketingConsentUpdate"])
        );
        assert_eq!(
            body["data"]["customerEmailMarketingConsentUpdate"],
            Value::Null
        );
    }
    let body = shop
        .gql(CONSENT, input("BOGUS", "SINGLE_OPT_IN", None))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_VARIABLE");
    let body = shop
        .gql(CONSENT, input("PENDING", "SINGLE_OPT_IN", None))
        .await;
    assert_eq!(
        body["data"]["customerEmailMarketingConsentUpdate"]["userErrors"][0]["message"],
        "Marketing opt in level must be confirmed opt-in for pending consent state"
    );
    let body = shop
        .gql(
            CONSENT,
            input("SUBSCRIBED", "SINGLE_OPT_IN", Some("2999-01-01T00:00:00Z")),
        )
        .await;
    assert_eq!(
        body["data"]["customerEmailMarketingConsentUpdate"]["userErrors"][0]["field"],
        json!(["input", "emailMarketingConsent", "consentUpdatedAt"])
    );
    let unknown = shop
        .gql(
            CONSENT,
            json!({"input": {"customerId": "gid://shopify/Customer/1", "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}}}),
        )
        .await;
    assert_eq!(
        unknown["data"]["customerEmailMarketingConsentUpdate"],
        json!({"customer": null, "userErrors": [{"field": ["input", "customerId"], "message": "Customer not found", "code": "INVALID"}]})
    );
    let body = shop
        .gql(
            CONSENT,
            input(
                "UNSUBSCRIBED",
                "SINGLE_OPT_IN",
                Some("2027-02-01T00:00:00Z"),
            ),
        )
        .await;
    let payload = &body["data"]["customerEmailMarketingConsentUpdate"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(payload["customer"]["updatedAt"], "2027-02-03T04:05:06Z");
    assert_eq!(
        payload["customer"]["defaultEmailAddress"],
        json!({"marketingState": "UNSUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN", "marketingUpdatedAt": "2027-02-01T00:00:00Z"})
    );
    assert_eq!(body["extensions"]["cost"]["actualQueryCost"], 10);
    // The change is what later reads and incremental exports see.
    let read = shop
        .gql(
            "query($id: ID!) { customer(id: $id) { updatedAt defaultEmailAddress { marketingState } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        read["data"]["customer"]["defaultEmailAddress"]["marketingState"],
        "UNSUBSCRIBED"
    );
    let op = shop
        .bulk("{ customers(query: \"updated_at:>'2027-02-03T00:00:00Z'\") { edges { node { id } } } }")
        .await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    assert_eq!(lines, vec![json!({"id": id})]);
    shop.emulator.shutdown().await;
}

#[tokio::test]
async fn metafields_are_stored_and_read_back() {
    let shop = Shop::start(|_| {}).await;
    let id = current_shape_customer();
    let set = "mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { id namespace key value type compareDigest } userErrors { field message code elementIndex } } }";
    let body = shop
        .gql(set, json!({"m": [{"ownerId": id, "namespace": "$app:sync", "key": "sf_contact_id", "type": "single_line_text_field", "value": "003000000000001AAA"}]}))
        .await;
    let payload = &body["data"]["metafieldsSet"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(payload["metafields"][0]["namespace"], "app--4242424--sync");
    let digest = payload["metafields"][0]["compareDigest"]
        .as_str()
        .unwrap()
        .to_string();
    // Atomic: one bad entry, nothing written.
    let body = shop
        .gql(set, json!({"m": [
            {"ownerId": id, "namespace": "custom", "key": "count", "type": "number_integer", "value": "7"},
            {"ownerId": id, "namespace": "custom", "key": "bad", "type": "number_integer", "value": "seven"}]}))
        .await;
    assert_eq!(
        body["data"]["metafieldsSet"]["userErrors"][0]["code"],
        "INVALID_VALUE"
    );
    assert_eq!(
        body["data"]["metafieldsSet"]["userErrors"][0]["elementIndex"],
        1
    );
    // compareDigest: stale is refused, current is accepted.
    let body = shop
        .gql(set, json!({"m": [{"ownerId": id, "namespace": "$app:sync", "key": "sf_contact_id", "value": "003B", "compareDigest": "stale"}]}))
        .await;
    assert_eq!(
        body["data"]["metafieldsSet"]["userErrors"][0]["code"],
        "STALE_OBJECT"
    );
    let body = shop
        .gql(set, json!({"m": [{"ownerId": id, "namespace": "$app:sync", "key": "sf_contact_id", "value": "003000000000002AAA", "compareDigest": digest}]}))
        .await;
    assert_eq!(body["data"]["metafieldsSet"]["userErrors"], json!([]));
    let read = shop
        .gql(
            "query($id: ID!) { customer(id: $id) { id mf: metafield(namespace: \"$app:sync\", key: \"sf_contact_id\") { value type }
               metafields(first: 5) { edges { node { namespace key value } } } } }",
            json!({"id": id}),
        )
        .await;
    let customer = &read["data"]["customer"];
    assert_eq!(
        customer["mf"],
        json!({"value": "003000000000002AAA", "type": "single_line_text_field"})
    );
    assert_eq!(customer["metafields"]["edges"].as_array().unwrap().len(), 1);
    // And in a bulk export that selects them, as child lines.
    let op = shop
        .bulk("{ customers { edges { node { id metafields { edges { node { key value } } } } } } }")
        .await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    let child = lines
        .iter()
        .find(|l| l.get("__parentId").is_some())
        .unwrap();
    assert_eq!(
        child,
        &json!({"key": "sf_contact_id", "value": "003000000000002AAA", "__parentId": id})
    );
    shop.emulator.shutdown().await;
}

/// A webhook receiver: records every delivery; answers 500 to the first one.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route(
            "/hooks",
            axum::routing::post(
                |axum::extract::State(r): axum::extract::State<Receiver>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let mut seen = r.seen.lock().unwrap();
                    seen.push((headers, body));
                    if seen.len() == 1 {
                        AxumStatus::INTERNAL_SERVER_ERROR
                    } else {
                        AxumStatus::OK
                    }
                },
            ),
        )
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (receiver, url)
}

fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(given) = headers.get("x-shopify-hmac-sha256") else {
        return false;
    };
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.as_bytes()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[tokio::test]
async fn webhooks_are_signed_and_retried_after_a_500() {
    let (receiver, url) = start_receiver().await;
    let shop = Shop::start(|c| {
        let mut hook = WebhookConfig::new(url, SECRET);
        hook.backoff = Duration::from_millis(20);
        c.webhook = Some(hook);
    })
    .await;
    let generator = ShopGenerator::new(&shape(), 0);
    let customer = generator.customer(7).customer;
    let (status, _) = shop
        .admin(
            &format!("customers/{}/email", customer.id.id),
            json!({"email": "webhook.person@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    while receiver.seen.lock().unwrap().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no retry arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = receiver.seen.lock().unwrap().clone();
    let (first, second) = (&seen[0], &seen[1]);
    assert_eq!(first.1, second.1, "a retry carries the original payload");
    for (headers, body) in [first, second] {
        assert!(verify(headers, body), "bad HMAC");
        assert_eq!(headers["x-shopify-topic"], "customers/update");
        assert_eq!(headers["x-shopify-shop-domain"], "store-1.myshopify.com");
        assert_eq!(headers["x-shopify-api-version"], V);
        assert!(headers.contains_key("x-shopify-event-id"));
        assert!(headers.contains_key("x-shopify-triggered-at"));
    }
    assert_eq!(
        first.0["x-shopify-webhook-id"],
        second.0["x-shopify-webhook-id"]
    );
    assert_eq!(
        first.0["x-shopify-triggered-at"],
        second.0["x-shopify-triggered-at"]
    );
    let payload: Value = serde_json::from_slice(&first.1).unwrap();
    assert_eq!(payload["id"], json!(customer.id.id));
    assert_eq!(payload["email"], "webhook.person@example.com");
    assert_eq!(
        payload["admin_graphql_api_id"],
        json!(customer.id.to_string())
    );
    assert!(payload.get("email_marketing_consent").is_none());
    // The admin API lists the delivery with both attempts.
    let mut deliveries = Value::Null;
    for _ in 0..100 {
        deliveries = shop.admin_get("webhooks").await;
        if deliveries["deliveries"][0]["delivered"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivery = &deliveries["deliveries"][0];
    assert_eq!(delivery["delivered"], true);
    let statuses: Vec<&Value> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, vec![&json!(500), &json!(200)]);
    // A consent change is one event with two topics.
    let id = current_shape_customer();
    let body = shop
        .gql(
            CONSENT,
            json!({"input": {"customerId": id, "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED"}}}),
        )
        .await;
    assert_eq!(
        body["data"]["customerEmailMarketingConsentUpdate"]["userErrors"],
        json!([])
    );
    while receiver.seen.lock().unwrap().len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "consent webhooks missing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = receiver.seen.lock().unwrap().clone();
    let topics: HashMap<String, (HeaderMap, Bytes)> = seen[2..]
        .iter()
        .map(|(h, b)| {
            (
                h["x-shopify-topic"].to_str().unwrap().to_string(),
                (h.clone(), b.clone()),
            )
        })
        .collect();
    let consent = &topics["customers_email_marketing_consent/update"];
    let update = &topics["customers/update"];
    assert!(verify(&consent.0, &consent.1));
    assert_eq!(
        consent.0["x-shopify-event-id"],
        update.0["x-shopify-event-id"]
    );
    let payload: Value = serde_json::from_slice(&consent.1).unwrap();
    assert_eq!(payload["email_marketing_consent"]["state"], "unsubscribed");
    // An added order is orders/create.
    let (status, _) = shop
        .admin(
            "orders",
            json!({"customerId": id, "lineItems": [{"title": "Tea", "price": "4.5"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    while receiver.seen.lock().unwrap().len() < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "orders/create missing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = receiver.seen.lock().unwrap().clone();
    let (headers, body) = seen.last().unwrap();
    assert_eq!(headers["x-shopify-topic"], "orders/create");
    let order: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(order["total_price"], "4.5");
    assert_eq!(order["line_items"][0]["title"], "Tea");
    shop.emulator.shutdown().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_stay_out_of_logs_errors_and_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (_receiver, url) = start_receiver().await;
    let shop = Shop::start(|c| {
        let mut hook = WebhookConfig::new(url, SECRET);
        hook.backoff = Duration::from_millis(5);
        c.webhook = Some(hook);
    })
    .await;
    let mut texts = vec![
        format!("{:?}", shop.emulator),
        format!("{:?}", shop.emulator.state().config),
    ];
    let response = shop
        .post(
            Some("shpat_not_it"),
            &shop.url,
            json!({"query": "{ shop { name } }"}),
        )
        .await;
    texts.push(response.text().await.unwrap());
    let generator = ShopGenerator::new(&shape(), 0);
    shop.admin(
        &format!("customers/{}/email", generator.customer(3).customer.id.id),
        json!({"email": "quiet.person@example.com"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    texts.push(shop.admin_get("webhooks").await.to_string());
    texts.push(shop.admin_get("stats").await.to_string());
    texts.push(shop.admin_get("faults").await.to_string());
    shop.emulator.shutdown().await;
    texts.push(String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned());
    for text in texts {
        assert!(!text.contains(TOKEN), "access token leaked: {text}");
        assert!(!text.contains(SECRET), "webhook secret leaked: {text}");
    }
}

#[tokio::test]
async fn several_shops_have_their_own_data_and_buckets() {
    let shop = Shop::start(|c| {
        c.shape.shops = 2;
        c.bucket_size = 30.0;
        c.restore_rate = 1.0;
    })
    .await;
    let domains = shop.emulator.shop_domains();
    assert_eq!(
        domains,
        vec!["store-1.myshopify.com", "store-2.myshopify.com"]
    );
    let query = json!({"query": "{ shop { myshopifyDomain currencyCode } customers(first: 10) { nodes { id } } }"});
    let mut ids = Vec::new();
    for domain in &domains {
        let url = shop.emulator.graphql_url(domain, V);
        let body: Value = shop
            .post(Some(TOKEN), &url, query.clone())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["data"]["shop"]["myshopifyDomain"], json!(domain));
        ids.push(body["data"]["customers"]["nodes"][0]["id"].clone());
        // Two requests of 13 points each fit in 30; the third does not, per shop.
        let body: Value = shop
            .post(Some(TOKEN), &url, query.clone())
            .await
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none());
        let body: Value = shop
            .post(Some(TOKEN), &url, query.clone())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    }
    assert_ne!(ids[0], ids[1]);
    shop.emulator.shutdown().await;
}

#[test]
fn the_cli_serves_until_terminated() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopforce"))
        .args([
            "emulator",
            "shopify",
            "--listen",
            "127.0.0.1:0",
            "--customers",
            "20",
            "--seed",
            "3",
            "--shop",
            "acme.myshopify.com",
            "--ready-file",
        ])
        .arg(&ready)
        .env("SHOPFORCE_SHOPIFY_EMULATOR_ACCESS_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let started = Instant::now();
    while !ready.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let base = std::fs::read_to_string(&ready).unwrap().trim().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body: Value = runtime.block_on(async {
        Client::new()
            .post(format!("{base}/shops/acme.myshopify.com/admin/api/{V}/graphql.json"))
            .header("X-Shopify-Access-Token", TOKEN)
            .json(&json!({"query": "{ shop { myshopifyDomain } customers(first: 30) { nodes { id } } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(
        body["data"]["shop"]["myshopifyDomain"],
        "acme.myshopify.com"
    );
    assert_eq!(
        body["data"]["customers"]["nodes"].as_array().unwrap().len(),
        20
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut banner = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut banner).unwrap();
    assert!(banner.contains("acme.myshopify.com"), "{banner}");
    assert!(
        !banner.contains(TOKEN),
        "a given token is not printed: {banner}"
    );
}

#[tokio::test]
async fn the_engines_bulk_queries_export_lines_its_reader_accepts() {
    use shopforce::shopify::bulk_jsonl::{
        CompanyLine, CustomerLine, OrderLine, parse_company_line, parse_customer_line,
        parse_order_line,
    };
    use shopforce::shopify::queries::Export;
    let shop = Shop::start(|_| {}).await;
    let text = |lines: &[Value]| lines.iter().map(Value::to_string).collect::<Vec<_>>();
    let op = shop.bulk(&Export::Customers.bulk_query(None)).await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    let customers = text(&lines)
        .iter()
        .map(|l| parse_customer_line(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|l| matches!(l, CustomerLine::Customer(_)))
        .count();
    assert_eq!(customers, 60);
    let op = shop.bulk(&Export::Orders.bulk_query(None)).await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    let (mut orders, mut items) = (0, 0);
    for l in text(&lines) {
        match parse_order_line(&l).unwrap_or_else(|e| panic!("{e}: {l}")) {
            OrderLine::Order(_) => orders += 1,
            OrderLine::LineItem(_) => items += 1,
            OrderLine::Ignored => {}
        }
    }
    assert_eq!(orders, 90);
    assert!(items >= 90);
    let op = shop.bulk(&Export::Companies.bulk_query(None)).await;
    let lines = shop.download(op["url"].as_str().unwrap()).await;
    let mut kinds = HashMap::new();
    for l in text(&lines) {
        let kind = match parse_company_line(&l).unwrap_or_else(|e| panic!("{e}: {l}")) {
            CompanyLine::Company(_) => "company",
            CompanyLine::Location(_) => "location",
            CompanyLine::Contact(_) => "contact",
            CompanyLine::Ignored => "ignored",
        };
        *kinds.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(kinds["company"], 3);
    assert!(kinds["location"] >= 3 && kinds["contact"] >= 3, "{kinds:?}");
    // The incremental form: nothing changed since the generator's last write.
    let since = "2026-11-01T00:00:00Z".parse().unwrap();
    let op = shop.bulk(&Export::Orders.bulk_query(Some(since))).await;
    assert_eq!(op["status"], "COMPLETED");
    assert_eq!(op["url"], Value::Null);
    shop.emulator.shutdown().await;
}
