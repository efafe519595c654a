use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::*;
use crate::shopify::bulk_jsonl::{
    CompanyLine, CustomerLine, OrderLine, for_each_line, parse_company_line, parse_customer_line,
    parse_order_line,
};
use crate::shopify::model::{Company, CompanyContact, CompanyLocation, Customer, LineItem, Order};
use crate::shopify::phone::normalize_e164;

/// One shop's export, parsed back with the engine's own reader.
#[derive(Default)]
struct Parsed {
    customers: Vec<Customer>,
    orders: Vec<Order>,
    items: Vec<LineItem>,
    companies: Vec<Company>,
    locations: Vec<CompanyLocation>,
    contacts: Vec<CompanyContact>,
    /// Lines that are not customers (address children).
    customer_children: usize,
    /// Line items written before their order.
    items_before_order: usize,
    /// (shop, record, gid, person) rows of the shop's truth.csv.
    truth: Vec<(String, String, String, String)>,
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

fn parse(dir: &Path) -> Parsed {
    let mut p = Parsed::default();
    let text = read(dir, "customers.jsonl");
    for_each_line(
        "customers.jsonl",
        text.as_bytes(),
        parse_customer_line,
        |r| match r.unwrap_or_else(|e| panic!("{e}")) {
            CustomerLine::Customer(c) => p.customers.push(*c),
            CustomerLine::Ignored => p.customer_children += 1,
        },
    )
    .unwrap();
    let text = read(dir, "orders.jsonl");
    let mut seen_orders = HashSet::new();
    for_each_line(
        "orders.jsonl",
        text.as_bytes(),
        parse_order_line,
        |r| match r.unwrap_or_else(|e| panic!("{e}")) {
            OrderLine::Order(o) => {
                seen_orders.insert(o.id.clone());
                p.orders.push(*o)
            }
            OrderLine::LineItem(li) => {
                if !seen_orders.contains(&li.parent_id) {
                    p.items_before_order += 1;
                }
                p.items.push(*li)
            }
            OrderLine::Ignored => panic!("an order line the engine ignores"),
        },
    )
    .unwrap();
    let text = read(dir, "companies.jsonl");
    for_each_line(
        "companies.jsonl",
        text.as_bytes(),
        parse_company_line,
        |r| match r.unwrap_or_else(|e| panic!("{e}")) {
            CompanyLine::Company(c) => p.companies.push(*c),
            CompanyLine::Location(l) => p.locations.push(*l),
            CompanyLine::Contact(c) => p.contacts.push(*c),
            CompanyLine::Ignored => panic!("a company line the engine ignores"),
        },
    )
    .unwrap();
    let truth = read(dir, "truth.csv");
    let mut lines = truth.lines();
    assert_eq!(lines.next(), Some(TRUTH_HEADER));
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "{line}");
        p.truth
            .push((f[0].into(), f[1].into(), f[2].into(), f[3].into()));
    }
    p
}

fn shape(customers: u64, orders: u64, shops: u32, seed: u64) -> StoreShape {
    StoreShape {
        customers,
        orders,
        max_line_items: 50,
        products: 80,
        companies: customers / 40,
        currency: "USD",
        seed,
        shops,
    }
}

fn export(shape: &StoreShape) -> (tempfile::TempDir, Vec<ShopExport>) {
    let dir = tempfile::tempdir().unwrap();
    let shops = generate_shops(dir.path(), shape).unwrap();
    (dir, shops)
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let (a, _) = export(&shape(300, 600, 2, 11));
    let (b, _) = export(&shape(300, 600, 2, 11));
    let (c, _) = export(&shape(300, 600, 2, 12));
    let (fa, fb, fc) = (files_of(a.path()), files_of(b.path()), files_of(c.path()));
    let names: Vec<&str> = fa.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "store-1.myshopify.com/companies.jsonl",
            "store-1.myshopify.com/customers.jsonl",
            "store-1.myshopify.com/orders.jsonl",
            "store-1.myshopify.com/truth.csv",
            "store-2.myshopify.com/companies.jsonl",
            "store-2.myshopify.com/customers.jsonl",
            "store-2.myshopify.com/orders.jsonl",
            "store-2.myshopify.com/truth.csv",
            "truth.csv",
        ]
    );
    assert!(fa == fb, "same seed, same bytes");
    for ((name, x), (_, z)) in fa.iter().zip(&fc) {
        assert_ne!(x, z, "{name} does not depend on the seed");
    }
}

#[test]
fn every_line_parses_with_the_engine_reader_and_matches_the_counts() {
    let (dir, shops) = export(&shape(400, 1200, 1, 3));
    assert_eq!(shops.len(), 1);
    assert_eq!(shops[0].dir, dir.path());
    let g = shops[0].generated;
    let p = parse(dir.path());
    assert_eq!(p.customers.len() as u64, g.customers);
    assert_eq!(g.customers, 400);
    assert!(p.customer_children > 0, "addressesV2 children are written");
    assert_eq!(p.orders.len() as u64, g.orders);
    assert_eq!(p.items.len() as u64, g.line_items);
    assert_eq!(p.companies.len() as u64, g.companies);
    assert_eq!(p.locations.len() as u64, g.locations);
    assert_eq!(p.contacts.len() as u64, g.company_contacts);
    let guests = p
        .orders
        .iter()
        .filter(|o| o.customer_id().is_none() && o.company_location().is_none())
        .count() as u64;
    assert_eq!(guests, g.guest_orders);
    let b2b = p
        .orders
        .iter()
        .filter(|o| o.company_location().is_some())
        .count() as u64;
    assert_eq!(b2b, g.b2b_orders);
    assert!(g.guest_orders > 0 && g.b2b_orders > 0);
    let variants: HashSet<&str> = p
        .items
        .iter()
        .filter_map(|i| i.variant.as_ref().map(|v| v.id.as_str()))
        .collect();
    assert_eq!(variants.len() as u64, g.variants_used);

    // Every reference resolves within the export.
    let customers: HashSet<&str> = p.customers.iter().map(|c| c.id.as_str()).collect();
    let orders: HashSet<&str> = p.orders.iter().map(|o| o.id.as_str()).collect();
    let locations: HashMap<&str, &str> = p
        .locations
        .iter()
        .map(|l| (l.id.as_str(), l.parent_id.as_str()))
        .collect();
    let companies: HashSet<&str> = p.companies.iter().map(|c| c.id.as_str()).collect();
    let contact_customers: HashSet<&str> = p
        .contacts
        .iter()
        .map(|c| c.customer.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(
        contact_customers.len(),
        p.contacts.len(),
        "one contact per customer"
    );
    for c in &p.contacts {
        assert!(companies.contains(c.parent_id.as_str()));
        assert!(customers.contains(c.customer.as_ref().unwrap().id.as_str()));
    }
    for l in &p.locations {
        assert!(companies.contains(l.parent_id.as_str()));
    }
    for i in &p.items {
        assert!(orders.contains(i.parent_id.as_str()));
        assert!(i.quantity.unwrap() >= 1.0);
        assert_eq!(
            i.unit_price().unwrap().currency_code.as_deref(),
            Some("USD")
        );
    }
    for o in &p.orders {
        assert_eq!(o.total().unwrap().currency_code.as_deref(), Some("USD"));
        if let Some(c) = o.customer_id() {
            assert!(customers.contains(c));
        }
        if let Some(l) = o.company_location() {
            let company = &o.purchasing_entity.as_ref().unwrap().company;
            assert_eq!(Some(locations[l]), company.as_ref().map(|c| c.id.as_str()));
            // B2B buyers are contacts; B2C buyers are not.
            assert!(contact_customers.contains(o.customer_id().unwrap()));
        } else if let Some(c) = o.customer_id() {
            assert!(!contact_customers.contains(c), "a contact ordered B2C");
        }
    }
    assert!(
        p.items_before_order > 0,
        "children may precede their parent"
    );
}

#[test]
fn emails_and_phones_are_unique_within_each_shop() {
    let (_dir, shops) = export(&shape(1500, 10, 3, 5));
    for shop in &shops {
        let p = parse(&shop.dir);
        let mut emails = HashSet::new();
        let mut phones = HashSet::new();
        let (mut with_email, mut with_phone, mut written_national) = (0, 0, 0);
        for c in &p.customers {
            if let Some(e) = c.email() {
                with_email += 1;
                assert!(emails.insert(e.to_lowercase()), "duplicate email {e}");
            }
            if let Some(raw) = c.phone() {
                with_phone += 1;
                let country = c
                    .default_address
                    .as_ref()
                    .and_then(|a| a.country_code())
                    .unwrap_or(shop.info.country);
                let e164 = normalize_e164(raw, Some(country))
                    .unwrap_or_else(|| panic!("{raw} does not normalise"));
                written_national += usize::from(!raw.trim_start_matches('(').starts_with('+'));
                assert!(
                    phones.insert(e164.clone()),
                    "duplicate phone {raw} = {e164}"
                );
            }
        }
        assert!(
            with_email > 1000 && with_phone > 800,
            "{with_email} {with_phone}"
        );
        assert!(
            written_national > 20,
            "phones are written in national forms too"
        );
    }
}

#[test]
fn a_person_in_two_shops_keeps_the_phone_under_another_email() {
    let (dir, shops) = export(&shape(1200, 10, 2, 8));
    let truth = read(dir.path(), "truth.csv");
    let parsed: Vec<Parsed> = shops.iter().map(|s| parse(&s.dir)).collect();
    assert_eq!(
        truth.lines().count() - 1,
        parsed.iter().map(|p| p.truth.len()).sum::<usize>(),
        "the root truth.csv holds every shop's rows"
    );
    let mut by_person: HashMap<&str, Vec<(usize, &Customer)>> = HashMap::new();
    for (s, p) in parsed.iter().enumerate() {
        let customers: HashMap<&str, &Customer> =
            p.customers.iter().map(|c| (c.id.as_str(), c)).collect();
        for (_, record, gid, person) in &p.truth {
            if record == "customer" {
                by_person
                    .entry(person)
                    .or_default()
                    .push((s, customers[gid.as_str()]));
            }
        }
    }
    let (mut shared, mut other_email, mut written_differently) = (0, 0, 0);
    for records in by_person.values().filter(|r| r.len() > 1) {
        assert_eq!(records.len(), 2, "at most once per shop");
        assert_ne!(records[0].0, records[1].0);
        shared += 1;
        let e164: Vec<String> = records
            .iter()
            .map(|(s, c)| {
                let raw = c
                    .phone()
                    .expect("a person in two shops has a phone in both");
                let country = c
                    .default_address
                    .as_ref()
                    .and_then(|a| a.country_code())
                    .unwrap_or(shops[*s].info.country);
                normalize_e164(raw, Some(country)).unwrap()
            })
            .collect();
        assert_eq!(e164[0], e164[1], "the same phone in both shops");
        written_differently += usize::from(records[0].1.phone() != records[1].1.phone());
        let emails: Vec<Option<String>> = records
            .iter()
            .map(|(_, c)| c.email().map(str::to_lowercase))
            .collect();
        other_email += usize::from(emails[0] != emails[1]);
    }
    assert!(shared > 100, "{shared} people in two shops");
    assert!(
        other_email * 10 > shared * 6,
        "{other_email} of {shared} use another email"
    );
    assert!(
        written_differently > 10,
        "the same number is written differently"
    );
    // Ids are unique across shops.
    let ids: HashSet<&str> = parsed
        .iter()
        .flat_map(|p| p.customers.iter().map(|c| c.id.as_str()))
        .collect();
    assert_eq!(ids.len(), 2400);
}

#[test]
fn consent_states_names_and_contact_gaps_cover_the_catalogue() {
    let (dir, _) = export(&shape(3000, 10, 1, 21));
    let p = parse(dir.path());
    let text = read(dir.path(), "customers.jsonl");
    let raw: HashMap<String, serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("__parentId").is_none())
        .map(|v| (v["id"].as_str().unwrap().to_string(), v))
        .collect();
    let mut states: HashMap<String, usize> = HashMap::new();
    let (mut current, mut deprecated) = (0, 0);
    for c in &p.customers {
        let v = &raw[&c.id];
        if v.get("defaultEmailAddress").is_some() {
            current += 1;
            assert!(v.get("email").is_none() && v.get("emailMarketingConsent").is_none());
            // The current enum has no REDACTED.
            assert_ne!(v["defaultEmailAddress"]["marketingState"], "REDACTED");
        } else {
            deprecated += 1;
            assert!(v.get("email").is_some() && v.get("defaultPhoneNumber").is_none());
        }
        if let Some(s) = c.email_consent().state {
            *states.entry(s).or_default() += 1;
        }
        assert_eq!(c.email_consent().state.is_some(), c.email().is_some());
    }
    assert!(deprecated > 200 && current > 2000, "{deprecated} {current}");
    for s in [
        "SUBSCRIBED",
        "NOT_SUBSCRIBED",
        "PENDING",
        "UNSUBSCRIBED",
        "REDACTED",
        "INVALID",
    ] {
        assert!(states.get(s).copied().unwrap_or(0) > 0, "{s}: {states:?}");
    }
    let levels: HashSet<Option<String>> = p
        .customers
        .iter()
        .map(|c| c.email_consent().opt_in_level)
        .collect();
    assert!(levels.len() >= 4, "{levels:?}");
    assert!(
        p.customers
            .iter()
            .any(|c| c.sms_consent().state.as_deref() == Some("SUBSCRIBED"))
    );

    let names = || {
        p.customers
            .iter()
            .flat_map(|c| [c.first_name.as_deref(), c.last_name.as_deref()])
            .flatten()
    };
    for (what, found) in [
        ("a double quote", names().any(|n| n.contains('"'))),
        ("a comma", names().any(|n| n.contains(','))),
        ("a line break", names().any(|n| n.contains('\n'))),
        ("an apostrophe", names().any(|n| n.contains('\''))),
        (
            "an accent",
            names().any(|n| n.contains('é') || n.contains('ü')),
        ),
        (
            "a local script",
            names().any(|n| n.contains('田') || n.chars().any(|c| c > '\u{3000}')),
        ),
    ] {
        assert!(found, "no name with {what}");
    }
    assert!(names().all(|n| n.chars().count() <= 40 && n == n.trim()));
    let no_last = p.customers.iter().filter(|c| c.last_name.is_none()).count();
    let phone_only = p
        .customers
        .iter()
        .filter(|c| c.email().is_none() && c.phone().is_some())
        .count();
    let neither: Vec<&Customer> = p
        .customers
        .iter()
        .filter(|c| c.email().is_none() && c.phone().is_none())
        .collect();
    assert!(no_last > 30, "{no_last}");
    assert!(phone_only > 100, "{phone_only}");
    assert!(
        !neither.is_empty() && neither.len() < 300,
        "{}",
        neither.len()
    );
    // Shopify needs a name, an email or a phone.
    assert!(
        neither
            .iter()
            .all(|c| c.first_name.is_some() || c.last_name.is_some())
    );
    assert!(
        p.customers
            .iter()
            .filter_map(|c| c.email())
            .any(|e| e.chars().any(|c| c.is_ascii_uppercase())),
        "emails with capitals"
    );
}

#[test]
fn guest_checkouts_match_customers_or_nobody_and_truth_says_who() {
    let (dir, shops) = export(&shape(500, 3000, 1, 4));
    let p = parse(dir.path());
    let by_email: HashMap<String, &Customer> = p
        .customers
        .iter()
        .filter_map(|c| c.email().map(|e| (e.to_lowercase(), c)))
        .collect();
    let person_of: HashMap<&str, &str> = p
        .truth
        .iter()
        .map(|(_, _, gid, person)| (gid.as_str(), person.as_str()))
        .collect();
    let (mut matching, mut other, mut exact_case, mut no_contact) = (0, 0, 0, 0);
    let mut guest_people: HashMap<&str, usize> = HashMap::new();
    for o in p.orders.iter().filter(|o| o.customer_id().is_none()) {
        assert!(o.company_location().is_none());
        let person = person_of[o.id.as_str()];
        *guest_people.entry(person).or_default() += 1;
        match o.email.as_deref() {
            Some(e) => match by_email.get(&e.to_lowercase()) {
                Some(c) => {
                    matching += 1;
                    exact_case += usize::from(c.email() == Some(e));
                    assert_eq!(person, person_of[c.id.as_str()], "same email, same person");
                }
                None => {
                    other += 1;
                    assert!(
                        p.customers
                            .iter()
                            .all(|c| person_of[c.id.as_str()] != person)
                    );
                }
            },
            None if o.phone.is_none() => no_contact += 1,
            None => {}
        }
    }
    assert!(
        matching > 20 && other > 40,
        "{matching} matching, {other} not"
    );
    assert!(
        exact_case < matching,
        "some guest emails differ in case only"
    );
    assert!(no_contact > 0);
    assert!(guest_people.values().any(|n| *n > 1), "a guest came back");
    assert_eq!(
        p.truth.iter().filter(|t| t.1 == "guest_order").count() as u64,
        shops[0].generated.guest_orders
    );
    // Every customer once, every guest order once, nothing else.
    let customers: HashSet<&str> = p.customers.iter().map(|c| c.id.as_str()).collect();
    let truth_customers: HashSet<&str> = p
        .truth
        .iter()
        .filter(|t| t.1 == "customer")
        .map(|t| t.2.as_str())
        .collect();
    assert_eq!(customers, truth_customers);
    assert_eq!(
        p.truth.len(),
        p.customers.len() + shops[0].generated.guest_orders as usize
    );
    assert!(p.truth.iter().all(|t| t.0 == "store-1.myshopify.com"));
    let persons: HashSet<&str> = p
        .truth
        .iter()
        .filter(|t| t.1 == "customer")
        .map(|t| t.3.as_str())
        .collect();
    assert_eq!(
        persons.len(),
        p.customers.len(),
        "one person per customer in one shop"
    );
}

#[test]
fn orders_carry_the_money_and_status_mess() {
    let (dir, _) = export(&StoreShape {
        shops: 1,
        ..shape(600, 4000, 1, 9)
    });
    let p = parse(dir.path());
    let text = read(dir.path(), "orders.jsonl");
    let values: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let orders: Vec<&serde_json::Value> = values
        .iter()
        .filter(|v| v.get("__parentId").is_none())
        .collect();
    let statuses: HashSet<&str> = orders
        .iter()
        .filter_map(|o| o["displayFinancialStatus"].as_str())
        .collect();
    for s in [
        "PAID",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
        "PENDING",
        "AUTHORIZED",
        "VOIDED",
    ] {
        assert!(statuses.contains(s), "{s}: {statuses:?}");
    }
    assert!(orders.iter().any(|o| o["cancelledAt"].is_string()));
    assert!(orders.iter().any(|o| o["presentmentCurrencyCode"] != "USD"));
    let cents = |v: &serde_json::Value| -> i64 {
        let s = v.as_str().unwrap();
        let (units, frac) = s.split_once('.').unwrap();
        units.parse::<i64>().unwrap() * 100 + format!("{frac:0<2}").parse::<i64>().unwrap()
    };
    let mut lines_per_order: HashMap<&str, (i64, usize)> = HashMap::new();
    for v in values.iter().filter(|v| v.get("__parentId").is_some()) {
        let e = lines_per_order
            .entry(v["__parentId"].as_str().unwrap())
            .or_default();
        e.0 += cents(&v["originalUnitPriceSet"]["shopMoney"]["amount"])
            * v["quantity"].as_i64().unwrap();
        e.1 += 1;
        assert!(v["currentQuantity"].as_i64().unwrap() <= v["quantity"].as_i64().unwrap());
    }
    let (mut partial, mut full) = (0, 0);
    for o in &orders {
        let money = |field: &str| cents(&o[field]["shopMoney"]["amount"]);
        let (sum, _) = lines_per_order[o["id"].as_str().unwrap()];
        assert_eq!(sum - money("totalDiscountsSet"), money("subtotalPriceSet"));
        // A US shop adds tax on top.
        assert_eq!(
            money("subtotalPriceSet") + money("totalShippingPriceSet") + money("totalTaxSet"),
            money("totalPriceSet")
        );
        let refunded: i64 = o["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| cents(&r["totalRefundedSet"]["shopMoney"]["amount"]))
            .sum();
        assert_eq!(refunded, money("totalRefundedSet"));
        match o["displayFinancialStatus"].as_str() {
            Some("PARTIALLY_REFUNDED") => {
                partial += 1;
                assert!(refunded > 0 && refunded < money("totalPriceSet"));
            }
            Some("REFUNDED") if money("totalPriceSet") > 0 => {
                full += 1;
                assert_eq!(refunded, money("totalPriceSet"));
            }
            _ => {}
        }
    }
    assert!(partial > 50 && full > 50, "{partial} {full}");
    let most = lines_per_order.values().map(|(_, n)| *n).max().unwrap();
    assert!((20..=50).contains(&most), "longest order has {most} lines");
    // One SKU on several variants.
    let mut variants_of_sku: HashMap<&str, HashSet<&str>> = HashMap::new();
    for i in &p.items {
        if let (Some(sku), Some(v)) = (i.sku.as_deref().filter(|s| !s.is_empty()), &i.variant) {
            variants_of_sku
                .entry(sku)
                .or_default()
                .insert(v.id.as_str());
        }
    }
    assert!(variants_of_sku.values().any(|v| v.len() > 1));
    assert!(p.items.iter().any(|i| i.variant.is_none()), "custom items");
    // Order names and amounts look like Shopify's.
    assert!(
        orders
            .iter()
            .all(|o| o["name"].as_str().unwrap().starts_with("#10")
                || o["name"].as_str().unwrap().starts_with('#'))
    );
    assert!(text.contains(".0\""), "decimals such as \"30.0\"");
}

#[test]
fn the_emulator_api_serves_the_same_records_as_the_files() {
    let s = StoreShape {
        companies: 6,
        ..shape(120, 300, 2, 17)
    };
    let (_dir, shops) = export(&s);
    for export in &shops {
        let generator = ShopGenerator::new(&s, export.info.index);
        assert_eq!(generator.info(), &export.info);
        for file in ExportFile::ALL {
            let mut expected = String::new();
            for line in generator.lines(file) {
                expected.push_str(&line.to_json());
                expected.push('\n');
            }
            assert_eq!(read(&export.dir, file.file_name()), expected, "{file:?}");
        }
        // Random access agrees with iteration, and values with text.
        let all: Vec<CustomerRecord> = generator.customers().collect();
        assert_eq!(generator.customer(77), all[77]);
        let order = generator.order(123);
        assert_eq!(order, generator.orders().nth(123).unwrap());
        let value = Line::Order(Box::new(order.order.clone())).to_value();
        assert_eq!(value["id"], order.order.id.to_string());
        let company = generator.company(5);
        assert_eq!(company.contacts.len() as u64, {
            let p = parse(&export.dir);
            p.contacts
                .iter()
                .filter(|c| c.parent_id == company.company.id.to_string())
                .count() as u64
        });
    }
    assert_ne!(shops[0].info.currency, shops[1].info.currency);
    assert_eq!(shops[1].info.domain, "store-2.myshopify.com");
}
