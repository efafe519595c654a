//! A deterministic generator of realistic, messy Shopify stores, written as the JSONL a
//! GraphQL bulk operation produces (API 2026-01, `groupObjects: false`), with the ground
//! truth of who is who.
//!
//! ```text
//! DIR/customers.jsonl   Customer lines (+ MailingAddress children)
//! DIR/orders.jsonl      Order lines + LineItem children
//! DIR/companies.jsonl   Company lines + CompanyLocation and CompanyContact children
//! DIR/truth.csv         shop,record,gid,person_id: every customer and guest order → person
//! ```
//!
//! With [`StoreShape::shops`] > 1 each shop gets its own folder, `DIR/store-1.myshopify.com/`,
//! `DIR/store-2.myshopify.com/`, …, and `DIR/truth.csv` holds the rows of all of them.
//!
//! # Properties
//!
//! - **Deterministic**: the same shape and seed give the same bytes, on any platform.
//! - **Streaming**: memory does not grow with the number of customers or orders. Every record
//!   is a pure function of (seed, shop, index) with its own random generator, so an order
//!   rebuilds its customer's email instead of looking it up, and [`ShopGenerator`] can serve
//!   any record alone (what a Shopify emulator paging through a store needs).
//! - **Legal**: the data breaks integrations, not Shopify's rules. Email and phone are unique
//!   per shop (by construction, see `people.rs`); a person appears twice only across shops or
//!   as guest checkouts; enum values are those of the 2026-01 schema (`REDACTED` email consent
//!   only on the deprecated `emailMarketingConsent`, whose enum has it); money strings are
//!   Shopify's `Decimal`s; every order's `shopMoney` is in the shop currency; no unknown
//!   currency is generated (tests inject their own).
//!
//! # The messiness catalogue
//!
//! | What is generated | Why it breaks a naive integration |
//! |---|---|
//! | Both customer shapes: `defaultEmailAddress` / `defaultPhoneNumber` (consent inside), and for ~12% only the deprecated `email`, `phone`, `emailMarketingConsent`, `smsMarketingConsent` | a reader of one shape sees no contact details, or no consent, on the others |
//! | All six email consent states (`SUBSCRIBED`, `NOT_SUBSCRIBED`, `PENDING`, `UNSUBSCRIBED`, `INVALID`, `REDACTED`), opt-in levels (`SINGLE_OPT_IN`, `CONFIRMED_OPT_IN`, `UNKNOWN`, null), `marketingUpdatedAt` / `consentUpdatedAt` that is null, or older than the customer (imported consent); SMS consent likewise | "not subscribed" is not "opted out"; a boolean `accepts_marketing` loses four states; a null date is not "never" |
//! | Names with accents, apostrophes (`O'Brien`), commas (`Smith, Jr.`), double quotes (`Robert "Bob"`), embedded `\n` / `\r\n`, local scripts (`田中`), an emoji, the whole name in `firstName`, ALL CAPS, no last name, no first name | hand-rolled CSV, string equality on names, "LastName is required" targets, `split(' ')` |
//! | Customers with email and phone, email only, phone only (~9%), neither (~3%, a name only) | keying on email; "every customer has an email" |
//! | Phones as E.164 and as typed: `(512) 555-0123`, `512.555.0123`, `+44 (0)7700 900123`, `0044 …`, `0151/23456789`, `090-1234-5678`, extensions (`x204`, `;ext=3`) on address and location phones, a household landline shared by two people | string comparison of phones; the same number in two shops looks different (see [`crate::shopify::phone`]) |
//! | Emails with capitals (`Ana.Silva12@Example.com`), plus-tags, apostrophes, subdomains (all under `example.*`, never a real mailbox) | case-sensitive matching; "plus addresses are different people" |
//! | Repeat customers (orders per customer skewed: a few buy hundreds of times, many never) | per-order upserts of the same customer; lock contention on one parent |
//! | Guest checkouts (~8%, `customer: null`): 40% with the email (any case) or phone of an existing customer, the rest with a guest's own email or phone (some guests come back), 3% with no contact at all | treating every order as having a customer; merging or not merging guests with customers |
//! | Several storefronts (`shops > 1`): a person in two shops has a different email (mostly) and the same phone, written differently; order names collide across shops (`#1001` vs `#EU1001`); each shop has its own currency | keying on email or order name without the shop; comparing phones as strings |
//! | B2B companies with 1–6 locations and 1–5 contacts, a company without a main contact, duplicate company names, `externalId` that is an ERP key, a Salesforce-looking Id or null, shipping address null or different | one Account per company assumed flat; externalId assumed unique or present |
//! | Orders: long tail of line items (up to `max_line_items`, e.g. ~50), the same variant twice in an order, custom items (no product, no variant), deleted products (text kept, links null), gift cards, quantities up to 50 on B2B orders | fixed-size line arrays; keying lines by (order, SKU) or by variant |
//! | SKUs shared by all variants of a product, a SKU reused by another product, empty (`""`) and null SKUs | SKU as a unique product key |
//! | Money: shop currency per shop, presentment currency (Shopify Markets) for foreign buyers, tax included (VAT) or added (US), discounts, shipping, zero-decimal JPY (`"1200.0"`), amounts as `Decimal` strings (`"30.0"`, `"29.9"`), price changes between orders | reading `presentmentMoney` as revenue; parsing amounts as fixed two-decimal strings; totals recomputed from lines |
//! | Refunds (partial: one unit and maybe goodwill; full: one or two refunds), cancellations (`cancelledAt`, `cancelReason`, voided or refunded), every financial status incl. null, fulfillment statuses, test orders, `currentQuantity` below `quantity` | counting refunded and cancelled orders as revenue; `displayFinancialStatus` assumed non-null |
//! | Dates: `processedAt` before `createdAt` for imported orders, `updatedAt` after refunds, timestamps in UTC | using `createdAt` as the sale date |
//! | Ids: per-type gids, some above 2^53 (customers, companies), unique across shops | parsing ids as JSON numbers / `f64` |
//! | Line order: children before or after their parent, interleaved with other records (a shuffle window) | assuming children follow their parent |
//!
//! Ground truth: `truth.csv` gives, for every customer and every guest order, the gid and a
//! `person_id` shared by all records of one real person, across shops and guest checkouts:
//! the answer key for identity resolution.

mod people;
pub mod records;
mod rng;
mod shop;
pub mod values;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use records::Line;
pub use shop::{
    Buyer, CompanyRecord, CustomerRecord, ExportFile, NOW, OrderRecord, SHOP_STRIDE, ShopGenerator,
    ShopInfo, Shuffled,
};
pub use values::{Amount, Gid, Ts};

/// How big a store to generate.
#[derive(Debug, Clone, Copy)]
pub struct StoreShape {
    /// Customers per shop (at least 1).
    pub customers: u64,
    /// Orders per shop.
    pub orders: u64,
    /// Line items per order: 1 to 5 for most orders, and a long tail up to this many when
    /// it is above 5.
    pub max_line_items: u64,
    /// Products in the catalogue (each with 1 to 4 variants).
    pub products: u64,
    /// B2B companies per shop.
    pub companies: u64,
    /// The first shop's currency (later shops use EUR, GBP, CAD, JPY, AUD, BRL, EUR, USD).
    pub currency: &'static str,
    pub seed: u64,
    /// Storefronts: 1 writes into the folder itself, more write one folder per shop.
    pub shops: u32,
}

impl Default for StoreShape {
    fn default() -> StoreShape {
        StoreShape {
            customers: 100,
            orders: 300,
            max_line_items: 50,
            products: 50,
            companies: 5,
            currency: "USD",
            seed: 7,
            shops: 1,
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

impl Generated {
    /// Adds another shop's counts.
    pub fn add(&mut self, other: &Generated) {
        self.customers += other.customers;
        self.companies += other.companies;
        self.locations += other.locations;
        self.company_contacts += other.company_contacts;
        self.orders += other.orders;
        self.guest_orders += other.guest_orders;
        self.b2b_orders += other.b2b_orders;
        self.line_items += other.line_items;
        self.variants_used += other.variants_used;
    }
}

/// One shop's part of a generated export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopExport {
    pub info: ShopInfo,
    /// The folder holding the shop's files.
    pub dir: PathBuf,
    pub generated: Generated,
}

/// The `person_id` written to `truth.csv` for person number `p`.
pub fn person_label(p: u64) -> String {
    format!("person-{p}")
}

/// The header of `truth.csv`.
pub const TRUTH_HEADER: &str = "shop,record,gid,person_id";

struct TruthWriter {
    out: BufWriter<File>,
}

impl TruthWriter {
    fn create(path: &Path) -> std::io::Result<TruthWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(out, "{TRUTH_HEADER}")?;
        Ok(TruthWriter { out })
    }

    fn row(&mut self, shop: &str, record: &str, gid: Gid, person: u64) -> std::io::Result<()> {
        writeln!(self.out, "{shop},{record},{gid},person-{person}")
    }
}

/// Writes one file's lines through the file's shuffle window.
struct LineWriter {
    out: BufWriter<File>,
    shuffle: shop::ShuffleBuffer,
}

impl LineWriter {
    fn create(path: &Path, shuffle: shop::ShuffleBuffer) -> std::io::Result<LineWriter> {
        Ok(LineWriter {
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
            shuffle,
        })
    }

    fn write(&mut self, line: &Line) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
        self.out.write_all(b"\n")
    }

    fn push_all(&mut self, lines: Vec<Line>) -> std::io::Result<()> {
        for line in lines {
            if let Some(out) = self.shuffle.push(line) {
                self.write(&out)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        while let Some(line) = self.shuffle.drain_one() {
            self.write(&line)?;
        }
        self.out.flush()
    }
}

/// Writes `customers.jsonl`, `orders.jsonl`, `companies.jsonl` (when `companies > 0`) and
/// `truth.csv` into `dir` (one folder per shop under `dir` when `shops > 1`). Returns the
/// counts summed over the shops.
pub fn generate(dir: &Path, shape: &StoreShape) -> std::io::Result<Generated> {
    let mut total = Generated::default();
    for shop in generate_shops(dir, shape)? {
        total.add(&shop.generated);
    }
    Ok(total)
}

/// [`generate`], with each shop's folder and counts.
pub fn generate_shops(dir: &Path, shape: &StoreShape) -> std::io::Result<Vec<ShopExport>> {
    std::fs::create_dir_all(dir)?;
    let shops = shape.shops.max(1);
    let mut all_truth = match shops {
        1 => None,
        _ => Some(TruthWriter::create(&dir.join("truth.csv"))?),
    };
    let mut exports = Vec::with_capacity(shops as usize);
    for s in 0..shops {
        let generator = ShopGenerator::new(shape, s);
        let shop_dir = match shops {
            1 => dir.to_path_buf(),
            _ => dir.join(&generator.info().domain),
        };
        let generated = write_shop(&generator, &shop_dir, all_truth.as_mut())?;
        exports.push(ShopExport {
            info: generator.info().clone(),
            dir: shop_dir,
            generated,
        });
    }
    if let Some(mut t) = all_truth {
        t.out.flush()?;
    }
    Ok(exports)
}

/// Writes one shop's files into `dir`.
pub fn write_shop_files(generator: &ShopGenerator, dir: &Path) -> std::io::Result<Generated> {
    write_shop(generator, dir, None)
}

fn write_shop(
    generator: &ShopGenerator,
    dir: &Path,
    mut all_truth: Option<&mut TruthWriter>,
) -> std::io::Result<Generated> {
    std::fs::create_dir_all(dir)?;
    let mut g = Generated::default();
    let domain = generator.info().domain.clone();
    let mut truth = TruthWriter::create(&dir.join("truth.csv"))?;
    let mut truth_row = |record: &str, gid: Gid, person: u64| -> std::io::Result<()> {
        truth.row(&domain, record, gid, person)?;
        if let Some(all) = all_truth.as_deref_mut() {
            all.row(&domain, record, gid, person)?;
        }
        Ok(())
    };
    let file = |f: ExportFile| dir.join(f.file_name());

    let mut out = LineWriter::create(
        &file(ExportFile::Customers),
        generator.shuffler(ExportFile::Customers),
    )?;
    for record in generator.customers() {
        g.customers += 1;
        truth_row("customer", record.customer.id, record.person)?;
        out.push_all(record.into_lines())?;
    }
    out.finish()?;

    if generator.company_count() > 0 {
        let mut out = LineWriter::create(
            &file(ExportFile::Companies),
            generator.shuffler(ExportFile::Companies),
        )?;
        for record in generator.companies() {
            g.companies += 1;
            g.locations += record.locations.len() as u64;
            g.company_contacts += record.contacts.len() as u64;
            out.push_all(record.into_lines())?;
        }
        out.finish()?;
    }

    let mut used = vec![0u64; (generator.catalog_size() as usize).div_ceil(64)];
    let mut out = LineWriter::create(
        &file(ExportFile::Orders),
        generator.shuffler(ExportFile::Orders),
    )?;
    for record in generator.orders() {
        g.orders += 1;
        g.line_items += record.line_items.len() as u64;
        match record.buyer {
            Buyer::Guest { .. } => {
                g.guest_orders += 1;
                truth_row("guest_order", record.order.id, record.person)?;
            }
            Buyer::Company { .. } => g.b2b_orders += 1,
            Buyer::Customer { .. } => {}
        }
        for item in &record.line_items {
            if let Some(i) = item
                .variant
                .as_ref()
                .and_then(|v| generator.variant_index(&v.id))
            {
                used[(i / 64) as usize] |= 1 << (i % 64);
            }
        }
        out.push_all(record.into_lines())?;
    }
    out.finish()?;
    g.variants_used = used.iter().map(|w| u64::from(w.count_ones())).sum();
    truth.out.flush()?;
    Ok(g)
}
