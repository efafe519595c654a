//! Benchmark: identity resolution (issue 6), at scale and against ground truth.
//!
//! ```text
//! cargo bench --bench identity                    # both parts, full size
//! cargo bench --bench identity -- --scale         # 1,000,000 customers vs 1,000,000 Contacts
//! cargo bench --bench identity -- --truth         # generated multi-shop store through run_sync
//! cargo bench --bench identity -- --quick         # small sizes (a smoke run)
//! cargo bench --bench identity -- --scale --no-store   # skip the state-store part
//! ```
//!
//! **Scale** builds, in this process, a Bulk query result of N Contacts (CSV, as the org
//! returns it: emails in mixed case, phones in national and international written forms,
//! US and UK numbers, `MailingCountry` codes) and N Shopify customers with planted outcomes:
//! 10% keyed on a Contact (`Shopify_Customer_ID__c`), 30% matching one by email (other
//! case), 20% by phone (another written form), 5% sharing the email of two Contacts
//! (twins: ambiguous), 35% new. Timed separately: parsing and normalising the Contacts
//! (`crm_contact`), building the `ContactIndex`, resolving every customer (its email, phone,
//! names and postal code normalised as the sync does), then writing the Contacts to an
//! SQLite state store (`put_crm_contacts`, 10,000 per call as the refresh does) and loading
//! the index back (`sync::identity::load`). Exits non-zero if the outcome counts differ from
//! the planted ones.
//!
//! **Truth** generates a multi-shop store (`shopify::generate`, with `truth.csv`), starts
//! the Salesforce emulator as its own process, syncs each shop in turn with identity
//! resolution on, reads the org's Contacts and Orders and the store's identity links, and
//! compares every customer's and guest order's Contact with the answer key: duplicates (one
//! person on several Contacts), merges (several people on one Contact), pairwise precision
//! and recall of "same person", per tier. Then again with the probabilistic tier on. Exits
//! non-zero if the exact tiers merge two different people.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use shopforce::identity::index::crm_contact;
use shopforce::identity::normalize::{self, PlusTags, Region};
use shopforce::identity::{
    ContactIndex, CrmContact, Identity, IdentityConfig, Resolution, ResolveOptions, Tier,
};
use shopforce::mapping::build::{AccountModel, MappingContext};
use shopforce::salesforce::{PollBackoff, SalesforceClient, SalesforceConfig};
use shopforce::shopify::bulk_jsonl::{
    CustomerLine, OrderLine, parse_customer_line, parse_order_line,
};
use shopforce::shopify::generate::{StoreShape, generate_shops};
use shopforce::store::{ReviewStatus, StateStore, Store};
use shopforce::sync::{SyncOptions, SyncReport, run_sync};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const CONSUMER_KEY: &str = "3MVG9bench.consumer.key";
const USERNAME: &str = "integration@bench.example";

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn mb(kb: u64) -> u64 {
    kb / 1024
}

struct Args {
    scale: bool,
    truth: bool,
    quick: bool,
    store: bool,
    size: Option<u64>,
}

fn main() -> ExitCode {
    let mut args = Args {
        scale: false,
        truth: false,
        quick: false,
        store: true,
        size: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--scale" => args.scale = true,
            "--truth" => args.truth = true,
            "--quick" => args.quick = true,
            "--no-store" => args.store = false,
            "--size" => args.size = it.next().and_then(|n| n.parse().ok()),
            "--bench" => {}
            other => {
                eprintln!("bench identity: unknown argument {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !args.scale && !args.truth {
        args.scale = true;
        args.truth = true;
    }
    let mut ok = true;
    if args.scale {
        match scale(&args) {
            Ok(pass) => ok &= pass,
            Err(e) => {
                eprintln!("bench identity (scale): {e}");
                ok = false;
            }
        }
    }
    if args.truth {
        match truth(&args) {
            Ok(pass) => ok &= pass,
            Err(e) => {
                eprintln!("bench identity (truth): {e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------------------

/// A 64-bit mix of a few numbers (splitmix64 finaliser): every generated value is a pure
/// function of (stream, index), so customers are rebuilt from their Contact's index.
fn mix(parts: &[u64]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for p in parts {
        h ^= p.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_add(h << 6);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
    }
    h
}

fn pick<'a>(list: &[&'a str], h: u64) -> &'a str {
    list[(h % list.len() as u64) as usize]
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "Michael",
    "Jennifer",
    "DeShawn",
    "Zoë",
    "Chloé",
    "José",
    "Mary-Kate",
    "Jo Ann",
    "Aaliyah",
    "Connor",
    "Madison",
    "Luis",
    "Oliver",
    "Amelia",
    "Harry",
    "Isla",
    "Siobhán",
    "Niamh",
    "Ana",
    "João",
    "Wei",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Lena",
    "Jonas",
    "Sofía",
    "Mateo",
    "Élodie",
    "Lucas",
    "Ingrid",
    "Bjørn",
    "Yuki",
    "Hiro",
    "Grace",
    "Ethan",
    "Noah",
    "Emma",
    "Ava",
    "Liam",
    "Mia",
    "Elijah",
    "Harper",
];
const SYLLABLE_A: &[&str] = &[
    "Sm", "John", "Br", "Will", "Gar", "Mart", "And", "Thom", "Rob", "Lew", "Walk", "Hall", "Al",
    "Young", "King", "Wright", "Hill", "Scott", "Green", "Ad", "Bak", "Nel", "Carr", "Mitch",
    "Per", "Rob", "Turn", "Phil", "Camp", "Park", "Ev", "Ed", "Coll", "Stew", "Mor", "Murph",
    "Cook", "Rog", "Peter", "Reed", "Bail", "Bell", "Gom", "Kel", "How", "Ward",
];
const SYLLABLE_B: &[&str] = &[
    "ith", "son", "own", "iams", "cía", "in", "ers", "as", "erts", "is", "er", "en", "ez", "ley",
    "ton", "ford", "man", "wood", "ski", "elli", "ard", "ett", "ing", "ow", "ris",
];
const US_AREAS: &[&str] = &[
    "212", "512", "415", "617", "808", "312", "713", "206", "303", "404", "503", "602", "702",
    "801", "919", "305",
];
const US_ZIPS: &[&str] = &[
    "10001",
    "78701",
    "94103",
    "02108",
    "96813",
    "83814",
    "60601-1234",
];
const GB_POSTCODES: &[&str] = &["SW1A 1AA", "M1 1AE", "EH1 1YZ", "B1 1AA", "LS1 4AP"];
const DOMAINS: &[&str] = &[
    "Example.com",
    "mail.example.org",
    "example.net",
    "corp.Example.co.uk",
];

fn last_name(h: u64) -> String {
    let base = format!("{}{}", pick(SYLLABLE_A, h), pick(SYLLABLE_B, h >> 8));
    match (h >> 16) % 20 {
        0 => format!("O'{base}"),
        1 => format!("{base}-{}", pick(SYLLABLE_A, h >> 24)),
        2 => base.to_uppercase(),
        _ => base,
    }
}

fn ascii_letters(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphabetic).collect()
}

fn recase(s: &str, h: u64) -> String {
    match h % 4 {
        0 => s.to_lowercase(),
        1 => s.to_uppercase(),
        _ => s.to_string(),
    }
}

/// A phone number, unique per `u`: US (16 area codes × 8,000,000) or a UK mobile.
#[derive(Clone, Copy)]
enum Number {
    Us {
        area: &'static str,
        exchange: u64,
        line: u64,
    },
    Gb {
        block: u64,
        rest: u64,
    },
}

impl Number {
    fn new(u: u64, uk: bool) -> Number {
        if uk {
            Number::Gb {
                block: 700 + (u / 1_000_000) % 300,
                rest: u % 1_000_000,
            }
        } else {
            Number::Us {
                area: US_AREAS[((u / 8_000_000) as usize) % US_AREAS.len()],
                exchange: 200 + (u / 10_000) % 800,
                line: u % 10_000,
            }
        }
    }

    fn e164(self) -> String {
        match self {
            Number::Us {
                area,
                exchange,
                line,
            } => format!("+1{area}{exchange}{line:04}"),
            Number::Gb { block, rest } => format!("+447{block}{rest:06}"),
        }
    }

    /// A written form; national forms only when `country_known`.
    fn written(self, h: u64, country_known: bool) -> String {
        match self {
            Number::Us {
                area,
                exchange,
                line,
            } => match h % 8 {
                0 => format!("({area}) {exchange}-{line:04}"),
                1 => format!("{area}.{exchange}.{line:04}"),
                2 => format!("{area}-{exchange}-{line:04}"),
                3 => format!("+1 {area} {exchange} {line:04}"),
                4 => format!("1-{area}-{exchange}-{line:04}"),
                5 => format!("{area}-{exchange}-{line:04} x{}", 100 + h % 900),
                6 => format!("+1 ({area}) {exchange}-{line:04}"),
                _ => self.e164(),
            },
            Number::Gb { block, rest } => match (h % 5, country_known) {
                // Without the Contact's country, `+44 (0)…` and `0044 …` are misread by
                // `normalize::phone` (see BENCHMARKS.md): only written with the country.
                (0, true) => format!("07{block} {rest:06}"),
                (1, true) => format!("+44 (0)7{block} {rest:06}"),
                (2, true) => format!("0044 7{block} {rest:06}"),
                (3, _) => format!("+44 7{block} {rest:06}"),
                _ => self.e164(),
            },
        }
    }
}

/// Planted outcome of customer `j` (and the role of Contact `j`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Plant {
    ExternalId,
    Email,
    Phone,
    Twin,
    New,
}

struct Layout {
    n: u64,
}

impl Layout {
    fn plant(&self, j: u64) -> Plant {
        let f = j * 100 / self.n;
        match f {
            0..10 => Plant::ExternalId,
            10..40 => Plant::Email,
            40..60 => Plant::Phone,
            60..65 => Plant::Twin,
            _ => Plant::New,
        }
    }

    fn twin_source(&self, j: u64) -> Option<u64> {
        let start = self.n * 60 / 100;
        let end = self.n * 65 / 100;
        let len = end - start;
        (j >= end && j < end + len).then(|| j - len)
    }
}

const SHOP: &str = "bench.myshopify.com";
const CUSTOMER_BASE: u64 = 7_000_000_000_000;

/// The person behind Contact `j` (and, with the same `j`, customer `j`).
struct Person {
    first: &'static str,
    last: String,
    uk: bool,
    email: String,
    number: Number,
    zip: &'static str,
}

fn person(j: u64) -> Person {
    let h = mix(&[1, j]);
    let first = pick(FIRST, h);
    let last = last_name(h >> 8);
    let uk = h.is_multiple_of(10);
    let local = format!("{}.{}{}", ascii_letters(first), ascii_letters(&last), j);
    let email = format!("{local}@{}", pick(DOMAINS, h >> 20));
    Person {
        first,
        last,
        uk,
        email: recase(&email, h >> 24),
        number: Number::new(j, uk),
        zip: if uk {
            pick(GB_POSTCODES, h >> 28)
        } else {
            pick(US_ZIPS, h >> 28)
        },
    }
}

/// The org's Contacts as a Bulk query result (the CSV the refresh reads).
fn crm_csv(layout: &Layout) -> Res<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(layout.n as usize * 170));
    w.write_record([
        "Id",
        "AccountId",
        "Shopify_Customer_ID__c",
        "Shopify_Store__c",
        "Email",
        "Phone",
        "MobilePhone",
        "MailingCountry",
        "FirstName",
        "LastName",
        "MailingPostalCode",
        "CreatedDate",
        "SystemModstamp",
        "IsDeleted",
    ])?;
    for j in 0..layout.n {
        let h = mix(&[2, j]);
        let p = person(layout.twin_source(j).unwrap_or(j));
        let me = person(j);
        let plant = layout.plant(j);
        let country_known = !me.uk || h % 10 < 7;
        let country = match (me.uk, country_known) {
            (true, true) => "GB",
            (true, false) => "",
            (false, _) if h.is_multiple_of(3) => "",
            (false, _) => "US",
        };
        // Which details the Contact has: the planted roles need theirs.
        let (has_email, has_phone) = match plant {
            Plant::ExternalId | Plant::Twin => (true, h % 10 < 7),
            Plant::Email => (true, h % 10 < 6),
            Plant::Phone => (h % 10 < 5, true),
            Plant::New => (
                h % 100 < 85 || layout.twin_source(j).is_some(),
                h % 100 >= 10,
            ),
        };
        // The second twin carries the first one's email (in its own case).
        let email = if layout.twin_source(j).is_some() {
            recase(&p.email.to_lowercase(), h >> 4)
        } else {
            me.email.clone()
        };
        let written = me.number.written(h >> 8, country_known);
        let (phone, mobile) = match (has_phone, (h >> 12) & 3) {
            (false, 0) if plant == Plant::New => ("n/a".to_string(), String::new()),
            (false, _) => (String::new(), String::new()),
            (true, 0) => (String::new(), written),
            (true, _) => (written, String::new()),
        };
        let key = match plant {
            Plant::ExternalId => (CUSTOMER_BASE + j).to_string(),
            _ => String::new(),
        };
        let store = if key.is_empty() { "" } else { SHOP };
        let account = if plant == Plant::New && h % 10 == 9 {
            String::new()
        } else {
            format!("001{:012}AAA", j / 3)
        };
        let created = format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:00.000+0000",
            15 + h % 10,
            1 + (h >> 5) % 12,
            1 + (h >> 9) % 28,
            (h >> 13) % 24,
            (h >> 17) % 60
        );
        w.write_record([
            format!("003{j:012}AAA").as_str(),
            &account,
            &key,
            store,
            if has_email { &email } else { "" },
            &phone,
            &mobile,
            country,
            me.first,
            &me.last,
            me.zip,
            &created,
            &created,
            "false",
        ])?;
    }
    Ok(w.into_inner().map_err(|e| e.to_string())?)
}

/// Customers' text fields in one arena (no allocation per customer).
struct Customers {
    text: String,
    ends: Vec<u32>,
}

const CUSTOMER_FIELDS: usize = 9; // shop, id, email, phone, country, first, last, zip, plant

impl Customers {
    fn len(&self) -> usize {
        self.ends.len() / CUSTOMER_FIELDS
    }

    fn field(&self, row: usize, f: usize) -> &str {
        let i = row * CUSTOMER_FIELDS + f;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// The Shopify customers, in a shuffled order, with their planted outcome.
fn customers(layout: &Layout) -> (Customers, BTreeMap<Plant, u64>) {
    let n = layout.n as usize;
    let mut c = Customers {
        text: String::with_capacity(n * 90),
        ends: Vec::with_capacity(n * CUSTOMER_FIELDS),
    };
    let mut planted = BTreeMap::new();
    // A fixed permutation: j → (a·j + b) mod n with a coprime to n.
    let mut a = 2_654_435_761u64 % layout.n.max(2);
    while gcd(a, layout.n) != 1 {
        a += 1;
    }
    for p in 0..layout.n {
        let j = (a * p + 12_345) % layout.n;
        let h = mix(&[3, j]);
        let me = person(j);
        let plant = layout.plant(j);
        *planted.entry(plant).or_insert(0) += 1;
        let fresh_email = || {
            format!(
                "{}{}.{j}@fresh.example",
                ascii_letters(me.first),
                ascii_letters(&me.last)
            )
        };
        let fresh_number = Number::new(10_000_000 + j, me.uk);
        let country = if me.uk { "GB" } else { "US" };
        // Shopify keeps customers' phones mostly in E.164, else as typed.
        let shopify_phone = |number: Number| {
            if h.is_multiple_of(4) {
                number.written(h >> 3, true)
            } else {
                number.e164()
            }
        };
        let (email, phone) = match plant {
            Plant::ExternalId => (me.email.clone(), shopify_phone(me.number)),
            Plant::Email => (
                match (h >> 7) & 3 {
                    0 => me.email.to_uppercase(),
                    1 => format!(" {} ", me.email.to_lowercase()),
                    _ => me.email.to_lowercase(),
                },
                if (h >> 9) & 1 == 0 {
                    shopify_phone(fresh_number)
                } else {
                    String::new()
                },
            ),
            Plant::Phone => (
                if (h >> 7) & 1 == 0 {
                    fresh_email()
                } else {
                    String::new()
                },
                shopify_phone(me.number),
            ),
            Plant::Twin => (me.email.to_lowercase(), String::new()),
            Plant::New => (
                if h % 10 < 9 {
                    fresh_email()
                } else {
                    String::new()
                },
                if h % 10 >= 2 {
                    shopify_phone(fresh_number)
                } else {
                    String::new()
                },
            ),
        };
        for f in [
            SHOP,
            &(CUSTOMER_BASE + j).to_string(),
            &email,
            &phone,
            country,
            me.first,
            &me.last,
            me.zip,
            planted_name(plant),
        ] {
            c.text.push_str(f);
            c.ends.push(c.text.len() as u32);
        }
    }
    (c, planted)
}

fn planted_name(plant: Plant) -> &'static str {
    match plant {
        Plant::ExternalId => Tier::ExternalId.as_str(),
        Plant::Email => Tier::Email.as_str(),
        Plant::Phone => Tier::Phone.as_str(),
        Plant::Twin => "ambiguous",
        Plant::New => "created",
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Parses and normalises the Contacts as `sync::identity::refresh` does.
fn parse_contacts(csv_bytes: &[u8], region: Option<Region>) -> Res<Vec<CrmContact>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let mut record = csv::StringRecord::new();
    let mut out = Vec::new();
    while reader.read_record(&mut record)? {
        let get = |i: usize| record.get(i).unwrap_or("");
        let country = Region::parse(get(7));
        let created = chrono::DateTime::parse_from_rfc3339(get(11))
            .or_else(|_| chrono::DateTime::parse_from_str(get(11), "%Y-%m-%dT%H:%M:%S%.f%z"))
            .map(|t| t.timestamp())
            .unwrap_or(0);
        if let Some(c) = crm_contact(
            get(0),
            get(1),
            get(2),
            get(3),
            get(4),
            &[(get(5), country), (get(6), country)],
            region,
            get(8),
            get(9),
            get(10),
            created,
            PlusTags::Keep,
        ) {
            out.push(c);
        }
    }
    Ok(out)
}

fn resolve_all(
    index: &ContactIndex,
    customers: &Customers,
    region: Option<Region>,
    mismatches: &mut u64,
) -> BTreeMap<&'static str, u64> {
    let options = ResolveOptions {
        probabilistic: None,
    };
    let mut outcomes: BTreeMap<&'static str, u64> = BTreeMap::new();
    for row in 0..customers.len() {
        let f = |i| customers.field(row, i);
        let email = normalize::email(f(2), PlusTags::Keep);
        let country = Region::parse(f(4));
        let phone = normalize::phone(f(3), country, region);
        let first = normalize::name(f(5));
        let last = normalize::name(f(6));
        let zip = normalize::postal_code(f(7));
        let who = Identity {
            shop: f(0),
            customer_id: Some(f(1)),
            email: email.as_deref(),
            phone: phone.as_deref(),
            first_name: &first,
            last_name: &last,
            postal_code: &zip,
        };
        let outcome = match index.resolve(&who, options) {
            Resolution::Match { tier, .. } => tier.as_str(),
            Resolution::Ambiguous { .. } => "ambiguous",
            Resolution::New => "created",
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
        if outcome != f(8) {
            *mismatches += 1;
            if *mismatches <= 5 {
                println!(
                    "  customer {} planted {} resolved {outcome}: email {:?} → {email:?}, phone {:?} ({}) → {phone:?}",
                    f(1),
                    f(8),
                    f(2),
                    f(3),
                    f(4)
                );
            }
        }
    }
    outcomes
}

fn scale(args: &Args) -> Res<bool> {
    let n = args
        .size
        .unwrap_or(if args.quick { 50_000 } else { 1_000_000 });
    let layout = Layout { n };
    let region = Region::parse("US");
    println!("== identity resolution at scale: {n} Shopify customers against {n} Contacts ==");
    let t = Instant::now();
    let csv_bytes = crm_csv(&layout)?;
    if let Some(path) = std::env::var_os("IDBENCH_DUMP_CSV") {
        std::fs::write(path, &csv_bytes)?;
    }
    println!(
        "generated the Contacts' Bulk query CSV: {:.1} MB in {:.2} s (not timed below)",
        csv_bytes.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let rss_start = status_kb("VmRSS:");

    let t = Instant::now();
    let contacts = parse_contacts(&csv_bytes, region)?;
    let t_parse = t.elapsed();
    drop(csv_bytes);
    let hwm_parse = status_kb("VmHWM:");

    let t = Instant::now();
    let mut index = ContactIndex::with_capacity(contacts.len());
    for c in contacts {
        index.upsert(c);
    }
    let t_index = t.elapsed();
    let rss_index = status_kb("VmRSS:");

    let t = Instant::now();
    let (customers, planted) = customers(&layout);
    println!(
        "generated {} customers: {:.1} MB of text in {:.2} s (not timed below)",
        customers.len(),
        customers.text.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut mismatches = 0;
    let outcomes = resolve_all(&index, &customers, region, &mut mismatches);
    let t_resolve = t.elapsed();
    let hwm_resolve = status_kb("VmHWM:");
    drop(customers);

    let expected: BTreeMap<&'static str, u64> = planted
        .iter()
        .map(|(plant, count)| (planted_name(*plant), *count))
        .collect();
    let counts_ok = outcomes == expected && mismatches == 0;

    // Through the state store: what the first sync of a large org does.
    let mut t_put = None;
    let mut t_load = None;
    let mut hwm_store = 0;
    if args.store {
        let dir = tempfile::tempdir()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let (put, load, loaded) = runtime.block_on(async {
            let store =
                Store::connect(&format!("sqlite:{}", dir.path().join("state.db").display()))
                    .await?;
            let t = Instant::now();
            let mut batch = Vec::with_capacity(10_000);
            for slot in 0..n as u32 {
                if let Some(c) = index.get(slot) {
                    batch.push(c.clone());
                }
                if batch.len() == 10_000 {
                    store.put_crm_contacts(&batch).await?;
                    batch.clear();
                }
            }
            store.put_crm_contacts(&batch).await?;
            drop(batch);
            let put = t.elapsed();
            drop(std::mem::take(&mut index));
            let t = Instant::now();
            let loaded = shopforce::sync::identity::load(&store).await?;
            let load = t.elapsed();
            store.close().await;
            Ok::<_, Box<dyn std::error::Error>>((put, load, loaded))
        })?;
        t_put = Some(put);
        t_load = Some(load);
        hwm_store = status_kb("VmHWM:");
        if loaded.len() as u64 != n {
            println!("the store gave back {} Contacts of {n}", loaded.len());
            return Ok(false);
        }
        drop(loaded);
    }
    let peak = status_kb("VmHWM:");

    println!();
    println!("{:<46} {:>10}", "part", "time");
    println!(
        "{:<46} {:>8.2} s",
        "parse + normalise Contacts (crm_contact)",
        t_parse.as_secs_f64()
    );
    println!(
        "{:<46} {:>8.2} s",
        "build the ContactIndex",
        t_index.as_secs_f64()
    );
    println!(
        "{:<46} {:>8.2} s",
        "normalise + resolve every customer",
        t_resolve.as_secs_f64()
    );
    let in_memory = t_parse + t_index + t_resolve;
    println!(
        "{:<46} {:>8.2} s",
        "total, in memory",
        in_memory.as_secs_f64()
    );
    if let (Some(put), Some(load)) = (t_put, t_load) {
        println!(
            "{:<46} {:>8.2} s",
            "store: put_crm_contacts (SQLite, 10k per call)",
            put.as_secs_f64()
        );
        println!(
            "{:<46} {:>8.2} s",
            "store: sync::identity::load (index from store)",
            load.as_secs_f64()
        );
        let through = t_parse + put + load + t_resolve;
        println!(
            "{:<46} {:>8.2} s",
            "total, through the store (parse+put+load+resolve)",
            through.as_secs_f64()
        );
    }
    println!();
    println!(
        "RSS before parsing {} MB; after the index {} MB; peak after parsing {} MB, after resolving {} MB, after the store part {} MB",
        mb(rss_start),
        mb(rss_index),
        mb(hwm_parse),
        mb(hwm_resolve),
        mb(hwm_store)
    );
    println!("peak RSS (VmHWM)     {} MB (target < 1024 MB)", mb(peak));
    println!();
    println!("{:<12} {:>10} {:>10}", "outcome", "planted", "resolved");
    let names: HashSet<&str> = expected.keys().chain(outcomes.keys()).copied().collect();
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort();
    for name in names {
        println!(
            "{:<12} {:>10} {:>10}",
            name,
            expected.get(name).copied().unwrap_or(0),
            outcomes.get(name).copied().unwrap_or(0)
        );
    }
    let total = t_put.map_or(in_memory, |p| {
        t_parse + p + t_load.unwrap_or_default() + t_resolve
    });
    println!(
        "bench identity scale: {n} vs {n}, {:.2} s total ({}), peak RSS {} MB, outcomes {}",
        total.as_secs_f64(),
        if t_put.is_some() {
            "through the store"
        } else {
            "in memory"
        },
        mb(peak),
        if counts_ok {
            "as planted"
        } else {
            "DIFFERENT FROM PLANTED"
        }
    );
    Ok(counts_ok)
}

// ---------------------------------------------------------------------------------------
// Truth
// ---------------------------------------------------------------------------------------

struct Emulator {
    child: Child,
    base: String,
    key: PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(dir: &Path) -> Res<Emulator> {
    let ready = dir.join("ready");
    let data = dir.join("emulator");
    let child = Command::new(env!("CARGO_BIN_EXE_shopforce"))
        .args([
            "emulator",
            "salesforce",
            "--listen",
            "127.0.0.1:0",
            "--consumer-key",
            CONSUMER_KEY,
            "--username",
            USERNAME,
            "--sfdx",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/sfdx"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut emulator = Emulator {
        child,
        base: String::new(),
        key: PathBuf::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    emulator.base = loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && !text.trim().is_empty()
        {
            break text.trim().to_string();
        }
        if Instant::now() > deadline {
            return Err("the emulator did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    emulator.key = std::fs::read_dir(&data)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("private-key"))
        })
        .ok_or("no development key in the emulator's data dir")?;
    Ok(emulator)
}

fn legacy(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

/// One customer or guest checkout of the answer key.
#[derive(Debug, Clone)]
struct Rec {
    shop: usize,
    guest: bool,
    id: String,
    person: String,
    email: Option<String>,
    phone: Option<String>,
    b2b: bool,
    /// The Contact it ended on (`None`: held, not written, or the shop's guest Contact).
    contact: Option<String>,
    on_guest_contact: bool,
    /// The rule that put it there.
    tier: String,
}

impl Rec {
    fn label(&self) -> String {
        format!(
            "shop {} {} {} ({}) email={} phone={} tier={}",
            self.shop + 1,
            if self.guest {
                "guest order"
            } else {
                "customer"
            },
            self.id,
            self.person,
            self.email.as_deref().unwrap_or("-"),
            self.phone.as_deref().unwrap_or("-"),
            self.tier
        )
    }
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

struct Find(Vec<usize>);

impl Find {
    fn root(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        self.0[a] = b;
    }
}

struct TruthOutcome {
    merges: usize,
    linkable_duplicates: usize,
    summary: String,
}

fn truth(args: &Args) -> Res<bool> {
    let shape = if args.quick {
        StoreShape {
            shops: 2,
            customers: 500,
            orders: 1_500,
            max_line_items: 3,
            products: 30,
            companies: 5,
            currency: "USD",
            seed: 6,
        }
    } else {
        StoreShape {
            shops: 3,
            customers: args.size.unwrap_or(4_000),
            orders: args.size.unwrap_or(4_000) * 3,
            max_line_items: 3,
            products: 50,
            companies: 20,
            currency: "USD",
            seed: 6,
        }
    };
    let mut ok = true;
    let mut summaries = Vec::new();
    for probabilistic in [false, true] {
        let config = IdentityConfig {
            probabilistic,
            ..IdentityConfig::default()
        };
        let label = if probabilistic {
            "exact tiers + probabilistic (threshold 0.9)"
        } else {
            "default: exact tiers"
        };
        println!();
        println!("== identity against ground truth, {label} ==");
        let outcome = truth_run(&shape, &config)?;
        if outcome.merges > 0 && !probabilistic {
            println!("FAIL: the exact tiers merged different people into one Contact");
            ok = false;
        }
        summaries.push(format!("{label}: {}", outcome.summary));
        let _ = outcome.linkable_duplicates;
    }
    for s in summaries {
        println!("bench identity truth: {s}");
    }
    Ok(ok)
}

fn truth_run(shape: &StoreShape, config: &IdentityConfig) -> Res<TruthOutcome> {
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("export");
    let t = Instant::now();
    let shops = generate_shops(&source, shape)?;
    println!(
        "generated {} shops × {} customers, {} orders: {:.1} s",
        shops.len(),
        shape.customers,
        shape.orders,
        t.elapsed().as_secs_f64()
    );
    let emulator = start_emulator(dir.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let base = emulator.base.clone();
    let key = emulator.key.clone();
    let (reports, contacts, orders, links, held_keys) = runtime.block_on(async {
        let mut sf = SalesforceConfig::with_key_file(&base, CONSUMER_KEY, USERNAME, &key)?;
        sf.requests_per_second = std::num::NonZeroU32::new(500).ok_or("rps")?;
        sf.poll = PollBackoff {
            initial: Duration::from_millis(50),
            factor: 1.5,
            max: Duration::from_secs(1),
            jitter: true,
        };
        let client = SalesforceClient::new(sf)?;
        let store =
            Store::connect(&format!("sqlite:{}", dir.path().join("state.db").display())).await?;
        client.login().await?;
        let pricebook = client
            .query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")
            .await?;
        let pricebook = pricebook[0]["Id"]
            .as_str()
            .ok_or("no price book")?
            .to_string();
        let mut reports: Vec<SyncReport> = Vec::new();
        let mut links = HashMap::new();
        for shop in &shops {
            let ctx = MappingContext {
                shop: shop.info.domain.clone(),
                // The engine checks amounts against one org currency; each shop's run is
                // given its own so that its orders (and guest checkouts) are written.
                org_currency: shop.info.currency.to_string(),
                standard_pricebook_id: pricebook.clone(),
                account_model: AccountModel::PerCustomer,
                person_record_type_id: None,
            };
            let options = SyncOptions {
                source_dir: shop.dir.clone(),
                dry_run: None,
                full: false,
                work_dir: dir.path().join("work"),
                part_size: 100_000_000,
                max_concurrent_jobs: 4,
                max_row_retries: 3,
                ownership: Default::default(),
                metrics: Default::default(),
                as_of: None,
                identity: Some(config.clone()),
                owner_routing: None,
            };
            let t = Instant::now();
            let report = run_sync(Some(&client), &store, &ctx, &options).await?;
            println!(
                "synced {} in {:.1} s: index {} Contacts; outcomes {:?}",
                shop.info.domain,
                t.elapsed().as_secs_f64(),
                report.identity_index.indexed,
                report.identity
            );
            let total = report.total();
            if total.jobs.dead_lettered + total.held + report.scan.unmappable > 0 {
                println!(
                    "  not written: {} dead letters, {} held, {} unmappable",
                    total.jobs.dead_lettered, total.held, report.scan.unmappable
                );
            }
            for (customer, link) in store.identity_links(&shop.info.domain).await? {
                links.insert((shop.info.domain.clone(), customer), link);
            }
            reports.push(report);
        }
        let letters = store
            .list_dead_letters(&shopforce::store::DeadLetterFilter::default())
            .await?;
        let mut kinds: BTreeMap<(String, String, String), (u64, String)> = BTreeMap::new();
        for l in &letters {
            let e = kinds
                .entry((l.shop.clone(), l.object.clone(), l.error_code.clone()))
                .or_insert((0, format!("{} {}", l.external_id, l.message)));
            e.0 += 1;
        }
        for ((shop, object, code), (n, example)) in &kinds {
            println!("  dead letters: {shop} {object} {code} ×{n}, e.g. {example}");
        }
        let held: HashSet<(String, String)> = store
            .list_reviews(ReviewStatus::Open, 1_000_000)
            .await?
            .into_iter()
            .map(|r| (r.shop, r.shopify_id))
            .collect();
        let http = reqwest::Client::new();
        let mut records = Vec::new();
        for object in ["Contact", "Order"] {
            let body: serde_json::Value = http
                .get(format!("{base}/__admin/sobjects/{object}"))
                .send()
                .await?
                .json()
                .await?;
            records.push(body["records"].as_array().cloned().unwrap_or_default());
        }
        store.close().await;
        let orders = records.pop().unwrap_or_default();
        let contacts = records.pop().unwrap_or_default();
        Ok::<_, Box<dyn std::error::Error>>((reports, contacts, orders, links, held))
    })?;
    drop(emulator);

    // The org as it ended.
    let text = |v: &serde_json::Value, f: &str| v[f].as_str().map(str::to_string);
    let contact_by_key: HashMap<String, String> = contacts
        .iter()
        .filter_map(|c| Some((text(c, "Shopify_Customer_ID__c")?, text(c, "Id")?)))
        .collect();
    let guest_contacts: HashSet<String> = contacts
        .iter()
        .filter(|c| {
            c["Shopify_Customer_ID__c"]
                .as_str()
                .is_some_and(|k| k.starts_with("guest:"))
        })
        .filter_map(|c| text(c, "Id"))
        .collect();
    let bill_to: HashMap<String, String> = orders
        .iter()
        .filter_map(|o| Some((text(o, "Shopify_Order_ID__c")?, text(o, "BillToContactId")?)))
        .collect();

    // The answer key, with each record's contact details as the engine normalises them.
    let region = config.region();
    let mut recs: Vec<Rec> = Vec::new();
    let mut truth_rows: HashMap<(String, String), String> = HashMap::new();
    let mut reader = csv::Reader::from_path(source.join("truth.csv"))?;
    for row in reader.records() {
        let row = row?;
        truth_rows.insert((row[0].to_string(), row[2].to_string()), row[3].to_string());
    }
    for (s, shop) in shops.iter().enumerate() {
        let domain = &shop.info.domain;
        let mut b2b: HashSet<String> = HashSet::new();
        if let Ok(text) = std::fs::read_to_string(shop.dir.join("companies.jsonl")) {
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line)?;
                if let Some(id) = v["customer"]["id"].as_str() {
                    b2b.insert(legacy(id).to_string());
                }
            }
        }
        let person_of = |gid: &str| truth_rows.get(&(domain.clone(), gid.to_string())).cloned();
        for line in std::fs::read_to_string(shop.dir.join("customers.jsonl"))?.lines() {
            let CustomerLine::Customer(c) = parse_customer_line(line)? else {
                continue;
            };
            let country = c
                .default_address
                .as_ref()
                .and_then(|a| a.country_code())
                .and_then(Region::parse);
            let id = legacy(&c.id).to_string();
            recs.push(Rec {
                shop: s,
                guest: false,
                person: person_of(&c.id).ok_or_else(|| format!("{} not in truth.csv", c.id))?,
                email: c
                    .email()
                    .and_then(|e| normalize::email(e, config.plus_tags)),
                phone: c.phone().and_then(|p| normalize::phone(p, country, region)),
                b2b: b2b.contains(&id),
                contact: None,
                on_guest_contact: false,
                tier: String::new(),
                id,
            });
        }
        for line in std::fs::read_to_string(shop.dir.join("orders.jsonl"))?.lines() {
            let OrderLine::Order(o) = parse_order_line(line)? else {
                continue;
            };
            if o.customer.is_some() {
                continue;
            }
            let email = o
                .email
                .as_deref()
                .and_then(|e| normalize::email(e, config.plus_tags));
            let phone = o
                .phone
                .as_deref()
                .and_then(|p| normalize::phone(p, None, region));
            if email.is_none() && phone.is_none() {
                continue; // a walk-in: unresolvable by design
            }
            recs.push(Rec {
                shop: s,
                guest: true,
                person: person_of(&o.id).ok_or_else(|| format!("{} not in truth.csv", o.id))?,
                email,
                phone,
                b2b: false,
                contact: None,
                on_guest_contact: false,
                tier: String::new(),
                id: legacy(&o.id).to_string(),
            });
        }
    }

    // Where each record ended, and by which rule.
    let mut held = 0;
    let mut not_written = 0;
    for r in recs.iter_mut().filter(|r| !r.guest) {
        let domain = &shops[r.shop].info.domain;
        if let Some(link) = links.get(&(domain.clone(), r.id.clone())) {
            r.contact = Some(link.contact_id.clone());
            r.tier = link.tier.clone();
        } else if let Some(id) = contact_by_key.get(&r.id) {
            r.contact = Some(id.clone());
            r.tier = if r.b2b { "b2b (own)" } else { "created" }.to_string();
        } else if held_keys.contains(&(domain.clone(), r.id.clone())) {
            r.tier = "held".to_string();
            held += 1;
        } else {
            r.tier = "not written".to_string();
            not_written += 1;
        }
    }
    // A guest's tier: email if its email is on a customer record of the Contact it bills to.
    let mut emails_on: HashMap<String, HashSet<String>> = HashMap::new();
    for r in recs.iter().filter(|r| !r.guest) {
        if let (Some(c), Some(e)) = (&r.contact, &r.email) {
            emails_on.entry(c.clone()).or_default().insert(e.clone());
        }
    }
    for r in recs.iter_mut().filter(|r| r.guest) {
        match bill_to.get(&r.id) {
            Some(c) if guest_contacts.contains(c) => {
                r.on_guest_contact = true;
                r.tier = "guest_unmatched".to_string();
            }
            Some(c) => {
                let by_email = r
                    .email
                    .as_ref()
                    .is_some_and(|e| emails_on.get(c).is_some_and(|s| s.contains(e)));
                r.tier = if by_email {
                    "guest_email"
                } else {
                    "guest_phone"
                }
                .to_string();
                r.contact = Some(c.clone());
            }
            None => {
                r.tier = "not written".to_string();
                not_written += 1;
            }
        }
    }

    // Merges: several people on one Contact.
    let mut by_contact: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in recs.iter().enumerate() {
        if let Some(c) = &r.contact {
            by_contact.entry(c).or_default().push(i);
        }
    }
    let mut merges = Vec::new();
    for (c, members) in &by_contact {
        let people: HashSet<&str> = members.iter().map(|i| recs[*i].person.as_str()).collect();
        if people.len() > 1 {
            merges.push((*c, members.clone()));
        }
    }
    // Duplicates: one person on several Contacts; "linkable" when two of those records share
    // a normalised email or phone (directly or through the person's other records).
    let mut by_person: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in recs.iter().enumerate() {
        by_person.entry(&r.person).or_default().push(i);
    }
    let mut find = Find((0..recs.len()).collect());
    for members in by_person.values() {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for &i in members {
            for v in [recs[i].email.as_deref(), recs[i].phone.as_deref()]
                .into_iter()
                .flatten()
            {
                match seen.get(v) {
                    Some(&j) => find.join(i, j),
                    None => {
                        seen.insert(v, i);
                    }
                }
            }
        }
    }
    let mut duplicates = Vec::new();
    let mut linkable_duplicates = Vec::new();
    for (p, members) in &by_person {
        let placed: HashSet<&str> = members
            .iter()
            .filter_map(|i| recs[*i].contact.as_deref())
            .collect();
        if placed.len() < 2 {
            continue;
        }
        duplicates.push(*p);
        let mut component_contacts: HashMap<usize, HashSet<&str>> = HashMap::new();
        for &i in members {
            if let Some(c) = recs[i].contact.as_deref() {
                component_contacts
                    .entry(find.root(i))
                    .or_default()
                    .insert(c);
            }
        }
        if component_contacts.values().any(|s| s.len() > 1) {
            linkable_duplicates.push((*p, members.clone()));
        }
    }

    // Pairwise: predicted pairs (same Contact), true pairs (same person), per tier by the
    // later record of the pair (the one a rule linked to the other).
    let order = |i: usize| (recs[i].shop, recs[i].guest, i);
    let mut predicted: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for members in by_contact.values() {
        for (a, &i) in members.iter().enumerate() {
            for &j in &members[a + 1..] {
                let later = if order(i) > order(j) { i } else { j };
                let e = predicted.entry(recs[later].tier.clone()).or_default();
                e.0 += 1;
                if recs[i].person == recs[j].person {
                    e.1 += 1;
                }
            }
        }
    }
    let true_pairs: u64 = by_person.values().map(|m| pairs(m.len() as u64)).sum();
    let mut component_sizes: HashMap<usize, u64> = HashMap::new();
    for i in 0..recs.len() {
        *component_sizes.entry(find.root(i)).or_default() += 1;
    }
    let linkable_pairs: u64 = component_sizes.values().map(|n| pairs(*n)).sum();
    let mut linkable_found = 0u64;
    for members in by_contact.values() {
        let mut cells: HashMap<usize, u64> = HashMap::new();
        for &i in members {
            *cells.entry(find.root(i)).or_default() += 1;
        }
        linkable_found += cells.values().map(|n| pairs(*n)).sum::<u64>();
    }
    let (pred_all, tp_all) = predicted
        .values()
        .fold((0, 0), |(a, b), (p, t)| (a + p, b + t));

    // Record level: per tier, decisions and wrong ones.
    let mut decisions: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (c, members) in &by_contact {
        let _ = c;
        for &i in members {
            let others: HashSet<&str> = members
                .iter()
                .filter(|j| **j != i && order(**j) < order(i))
                .map(|j| recs[*j].person.as_str())
                .collect();
            let e = decisions.entry(recs[i].tier.clone()).or_default();
            e.0 += 1;
            if others.iter().any(|p| *p != recs[i].person) {
                e.1 += 1;
            }
        }
    }
    for r in recs.iter().filter(|r| r.contact.is_none()) {
        decisions.entry(r.tier.clone()).or_default().0 += 1;
    }

    let mut engine: BTreeMap<String, u64> = BTreeMap::new();
    for report in &reports {
        for (k, v) in &report.identity {
            *engine.entry(k.clone()).or_default() += v;
        }
    }
    let customers = recs.iter().filter(|r| !r.guest).count();
    let guests = recs.len() - customers;
    let people: HashSet<&str> = recs.iter().map(|r| r.person.as_str()).collect();
    println!();
    println!(
        "records: {customers} customers, {guests} guest orders with an email or phone (walk-ins excluded), {} people; {} Contacts in the org ({} guest Contacts)",
        people.len(),
        contacts.len(),
        guest_contacts.len()
    );
    println!("engine outcome counts (all shops): {engine:?}");
    println!();
    println!(
        "{:<18} {:>9} {:>9} | {:>12} {:>10} {:>10}",
        "tier (record)", "records", "wrong", "pairs", "correct", "precision"
    );
    let tiers: HashSet<&String> = decisions.keys().chain(predicted.keys()).collect();
    let mut tiers: Vec<&String> = tiers.into_iter().collect();
    tiers.sort();
    for tier in tiers {
        let (n, wrong) = decisions.get(tier).copied().unwrap_or_default();
        let (p, tp) = predicted.get(tier).copied().unwrap_or_default();
        println!(
            "{:<18} {:>9} {:>9} | {:>12} {:>10} {:>10}",
            tier,
            n,
            wrong,
            p,
            tp,
            if p > 0 {
                format!("{:.4}", tp as f64 / p as f64)
            } else {
                "–".to_string()
            }
        );
    }
    let precision = if pred_all > 0 {
        tp_all as f64 / pred_all as f64
    } else {
        1.0
    };
    let recall = tp_all as f64 / true_pairs.max(1) as f64;
    let recall_linkable = linkable_found as f64 / linkable_pairs.max(1) as f64;
    println!();
    println!(
        "pairwise precision   {precision:.4} ({tp_all} of {pred_all} same-Contact pairs are one person)"
    );
    println!(
        "pairwise recall      {recall:.4} ({tp_all} of {true_pairs} same-person pairs share a Contact)"
    );
    println!(
        "recall, linkable     {recall_linkable:.4} ({linkable_found} of {linkable_pairs} same-person pairs joined by a shared email or phone)"
    );
    for (tier, (_, tp)) in &predicted {
        if *tp > 0 {
            println!(
                "  recall from {tier:<14} {:.4}",
                *tp as f64 / true_pairs.max(1) as f64
            );
        }
    }
    let left_on_guest = recs.iter().filter(|r| r.on_guest_contact).count();
    let left_known: usize = recs
        .iter()
        .filter(|r| r.on_guest_contact)
        .filter(|r| {
            by_person[r.person.as_str()]
                .iter()
                .any(|i| recs[*i].contact.is_some())
        })
        .count();
    println!(
        "guests left on the shared guest Contact: {left_on_guest} ({left_known} of them are a person with a Contact: a known gap)"
    );
    println!("customers held for review: {held}; records not written: {not_written}");
    println!(
        "people on several Contacts: {} ({} sharing an email or phone across those records)",
        duplicates.len(),
        linkable_duplicates.len()
    );
    for (p, members) in linkable_duplicates.iter().take(5) {
        println!("  duplicate {p}:");
        for &i in members {
            println!(
                "    {} → {}",
                recs[i].label(),
                recs[i].contact.as_deref().unwrap_or("-")
            );
        }
    }
    println!("Contacts holding several people: {}", merges.len());
    for (c, members) in merges.iter().take(5) {
        println!("  merge on Contact {c}:");
        for &i in members {
            println!("    {}", recs[i].label());
        }
    }
    Ok(TruthOutcome {
        merges: merges.len(),
        linkable_duplicates: linkable_duplicates.len(),
        summary: format!(
            "precision {precision:.4}, recall {recall:.4} (linkable {recall_linkable:.4}), {} merges, {} duplicates ({} linkable), {left_on_guest} guests left on guest Contacts",
            merges.len(),
            duplicates.len(),
            linkable_duplicates.len()
        ),
    })
}
