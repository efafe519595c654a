//! A deterministic generator of Shopify bulk exports (the JSONL a bulk operation writes),
//! for tests, benchmarks and demos: customers with consent and addresses, B2B companies with
//! locations and contacts, orders with line items, children written before or after their
//! parent as `groupObjects: false` allows. Streams to disk; memory does not grow with size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// How big a store to generate.
#[derive(Debug, Clone, Copy)]
pub struct StoreShape {
    pub customers: u64,
    pub orders: u64,
    /// Line items per order: 1 to this many, 3 on average when 5.
    pub max_line_items: u64,
    pub products: u64,
    pub companies: u64,
    pub currency: &'static str,
    pub seed: u64,
}

impl Default for StoreShape {
    fn default() -> StoreShape {
        StoreShape {
            customers: 100,
            orders: 300,
            max_line_items: 5,
            products: 50,
            companies: 5,
            currency: "USD",
            seed: 7,
        }
    }
}

/// Counts of what was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub customers: u64,
    pub companies: u64,
    pub locations: u64,
    pub company_contacts: u64,
    pub orders: u64,
    pub guest_orders: u64,
    pub b2b_orders: u64,
    pub line_items: u64,
    /// Distinct variants that appear on line items.
    pub variants_used: u64,
}

const FIRST: &[&str] = &[
    "Ana", "Bo", "Chloé", "Dmitri", "Eve", "Farah", "Guo", "Hiro", "Ines", "José", "Kofi", "Lena",
    "Mía", "Nour", "Oskar", "Priya",
];
const LAST: &[&str] = &[
    "Silva",
    "O'Brien",
    "Nguyen",
    "Müller",
    "Smith, Jr.",
    "Kowalski",
    "Okafor",
    "Tanaka",
    "García",
    "Larsen",
    "Haddad",
    "Dubois",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Lisboa", "11", "PT", "1000-001"),
    ("Austin", "TX", "US", "73301"),
    ("Toronto", "ON", "CA", "M5V 2T6"),
    ("Berlin", "BE", "DE", "10115"),
    ("Osaka", "27", "JP", "530-0001"),
];
const STATES: &[&str] = &["SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING"];

fn gid(kind: &str, n: u64) -> String {
    format!("gid://shopify/{kind}/{n}")
}

/// Shopify ids of generated objects (distinct ranges per type, like real ids).
pub fn customer_id(n: u64) -> u64 {
    7_000_000 + n
}
pub fn order_id(n: u64) -> u64 {
    5_000_000 + n
}
pub fn variant_id(n: u64) -> u64 {
    4_000_000 + n
}
pub fn company_id(n: u64) -> u64 {
    900_000 + n
}
pub fn location_id(n: u64) -> u64 {
    800_000 + n
}

fn line(out: &mut impl Write, value: &serde_json::Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Writes `customers.jsonl`, `orders.jsonl` and (when `companies > 0`) `companies.jsonl`.
pub fn generate(dir: &Path, shape: &StoreShape) -> std::io::Result<Generated> {
    std::fs::create_dir_all(dir)?;
    let mut rng = SmallRng::seed_from_u64(shape.seed);
    let mut g = Generated::default();
    let customer_count = shape.customers.max(1);
    let b2b_customers = shape.companies.min(customer_count / 2) * 2;

    // Customers: the first `b2b_customers` are company contacts.
    let mut out = BufWriter::with_capacity(1 << 16, File::create(dir.join("customers.jsonl"))?);
    for n in 0..customer_count {
        let id = customer_id(n);
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let (city, province, country, zip) = CITIES[rng.random_range(0..CITIES.len())];
        let state = STATES[rng.random_range(0..STATES.len())];
        let mut customer = json!({
            "id": gid("Customer", id),
            "firstName": first,
            "lastName": last,
            "createdAt": format!("2025-{:02}-{:02}T10:00:00Z", 1 + n % 12, 1 + n % 28),
            "updatedAt": format!("2026-{:02}-{:02}T08:00:00Z", 1 + n % 10, 1 + n % 28),
            "tags": if n % 3 == 0 { json!(["vip", "newsletter"]) } else { json!([]) },
            "verifiedEmail": n % 5 != 0,
            "numberOfOrders": "0",
            "amountSpent": {"amount": "0.0", "currencyCode": shape.currency},
            "defaultAddress": {"address1": format!("{} Main St", 1 + n % 999), "city": city, "provinceCode": province, "countryCodeV2": country, "zip": zip},
        });
        if n % 10 == 9 {
            // The deprecated fields only, as an app on an older selection sends them.
            customer["email"] = json!(format!(
                "{}.{}@example.com",
                first.to_lowercase().replace(['é', 'í'], "e"),
                id
            ));
            customer["emailMarketingConsent"] = json!({"marketingState": state, "marketingOptInLevel": "SINGLE_OPT_IN", "consentUpdatedAt": "2026-01-02T03:04:05Z"});
        } else {
            customer["defaultEmailAddress"] = json!({"emailAddress": format!("customer{id}@example.com"), "marketingState": state, "marketingOptInLevel": "CONFIRMED_OPT_IN", "marketingUpdatedAt": "2026-01-02T03:04:05Z"});
            customer["defaultPhoneNumber"] = json!({"phoneNumber": format!("+1555{:07}", id % 10_000_000), "marketingState": "NOT_SUBSCRIBED"});
        }
        line(&mut out, &customer)?;
        if n % 4 == 0 {
            line(
                &mut out,
                &json!({"id": format!("gid://shopify/MailingAddress/{}?model_name=CustomerAddress", 60_000_000 + n), "address1": "Other St 2", "__parentId": gid("Customer", id)}),
            )?;
        }
        g.customers += 1;
    }
    out.flush()?;

    // Companies, their locations and contacts (children may precede the parent).
    if shape.companies > 0 {
        let mut out = BufWriter::new(File::create(dir.join("companies.jsonl"))?);
        let mut contact = 0u64;
        for c in 0..shape.companies {
            let company = json!({"id": gid("Company", company_id(c)), "name": format!("Acme Trading {c} Ltd."), "externalId": format!("ERP-{c:04}"), "updatedAt": "2026-03-01T00:00:00Z"});
            let mut children = Vec::new();
            for l in 0..2u64 {
                let (city, province, country, zip) = CITIES[((c + l) as usize) % CITIES.len()];
                children.push(json!({"id": gid("CompanyLocation", location_id(c * 2 + l)), "__parentId": gid("Company", company_id(c)), "name": format!("Acme {c} — {city}"), "phone": "+15550000000", "billingAddress": {"address1": "1 Dock Rd", "city": city, "zoneCode": province, "countryCode": country, "zip": zip}}));
                g.locations += 1;
            }
            for _ in 0..2 {
                if contact >= b2b_customers {
                    break;
                }
                let id = customer_id(contact);
                children.push(json!({"id": gid("CompanyContact", 300_000 + contact), "__parentId": gid("Company", company_id(c)), "title": "Buyer", "isMainContact": contact.is_multiple_of(2), "customer": {"id": gid("Customer", id), "firstName": "Buyer", "lastName": format!("No. {contact}"), "email": format!("customer{id}@example.com")}}));
                contact += 1;
                g.company_contacts += 1;
            }
            if c % 2 == 0 {
                line(&mut out, &company)?;
                for ch in &children {
                    line(&mut out, ch)?;
                }
            } else {
                for ch in &children {
                    line(&mut out, ch)?;
                }
                line(&mut out, &company)?;
            }
            g.companies += 1;
        }
        out.flush()?;
    }

    // Orders with line items.
    let mut out = BufWriter::with_capacity(1 << 16, File::create(dir.join("orders.jsonl"))?);
    let mut item = 0u64;
    let products = shape.products.max(1);
    let mut used = vec![false; products as usize];
    for o in 0..shape.orders {
        let id = order_id(o);
        let customer_n = rng.random_range(0..customer_count);
        let guest = o % 50 == 49;
        let b2b = !guest && customer_n < b2b_customers && shape.companies > 0;
        let lines = 1 + rng.random_range(0..shape.max_line_items.max(1));
        let mut children = Vec::with_capacity(lines as usize);
        let mut total = 0.0f64;
        for _ in 0..lines {
            let p = rng.random_range(0..products);
            used[p as usize] = true;
            let price = 5.0 + (p % 40) as f64 * 2.5;
            let qty = 1 + rng.random_range(0..3u64);
            total += price * qty as f64;
            let variant = if p % 97 == 96 {
                // A custom item: no variant.
                serde_json::Value::Null
            } else {
                json!({"id": gid("ProductVariant", variant_id(p)), "sku": format!("SKU-{p:05}"), "displayName": format!("Widget {p} - Default")})
            };
            children.push(json!({"id": gid("LineItem", 10_000_000 + item), "__parentId": gid("Order", id), "sku": format!("SKU-{p:05}"), "title": format!("Widget {p}"), "quantity": qty, "originalUnitPriceSet": {"shopMoney": {"amount": format!("{price:.2}"), "currencyCode": shape.currency}}, "product": {"id": gid("Product", 3_000_000 + p)}, "variant": variant}));
            item += 1;
        }
        let mut order = json!({
            "id": gid("Order", id),
            "name": format!("#{}", 1001 + o),
            "createdAt": format!("2026-{:02}-{:02}T09:00:00Z", 1 + o % 10, 1 + o % 28),
            "updatedAt": format!("2026-{:02}-{:02}T09:05:00Z", 1 + o % 10, 1 + o % 28),
            "processedAt": format!("2026-{:02}-{:02}T09:00:00Z", 1 + o % 10, 1 + o % 28),
            "currencyCode": shape.currency,
            "displayFinancialStatus": if o % 7 == 0 { "REFUNDED" } else { "PAID" },
            "displayFulfillmentStatus": "FULFILLED",
            "cancelledAt": if o % 31 == 30 { json!("2026-11-01T00:00:00Z") } else { serde_json::Value::Null },
            "totalPriceSet": {"shopMoney": {"amount": format!("{total:.2}"), "currencyCode": shape.currency}},
        });
        if guest {
            order["email"] = json!(format!("guest{o}@example.net"));
            g.guest_orders += 1;
        } else if b2b {
            let company = customer_n / 2;
            order["customer"] = json!({"id": gid("Customer", customer_id(customer_n))});
            order["purchasingEntity"] = json!({"__typename": "PurchasingCompany", "company": {"id": gid("Company", company_id(company))}, "location": {"id": gid("CompanyLocation", location_id(company * 2))}, "contact": {"id": gid("CompanyContact", 300_000 + customer_n), "customer": {"id": gid("Customer", customer_id(customer_n))}}});
            g.b2b_orders += 1;
        } else {
            let cid = gid("Customer", customer_id(customer_n));
            order["customer"] = json!({"id": cid});
            order["purchasingEntity"] = json!({"__typename": "Customer", "id": cid});
        }
        if o % 3 == 1 {
            for ch in &children {
                line(&mut out, ch)?;
            }
            line(&mut out, &order)?;
        } else {
            line(&mut out, &order)?;
            for ch in &children {
                line(&mut out, ch)?;
            }
        }
        g.orders += 1;
        g.line_items += lines;
    }
    out.flush()?;
    g.variants_used = used.iter().filter(|u| **u).count() as u64;
    Ok(g)
}
