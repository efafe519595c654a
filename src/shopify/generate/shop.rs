//! One storefront's records, each rebuilt on demand from (seed, shop, index).

use super::StoreShape;
use super::people::{
    self, COUNTRIES, Country, Person, PhoneStyle, ascii_letters, email_case, recase, write_phone,
};
use super::records::{
    AddressNode, CompanyAddressNode, CompanyNode, ContactCustomerNode, ContactNode, CustomerNode,
    EmailAddressNode, IdRef, LegacyConsentNode, Line, LineItemNode, LocationNode,
    MailingAddressLine, Money, MoneyBag, OrderNode, PhoneNumberNode, PurchasingContactNode,
    PurchasingEntityNode, RefundNode, VariantNode,
};
use super::rng::{Affine, Rng, Stream, hash, unit_of};
use super::values::{Currency, Gid, Ts};

/// Shopify ids: per type, a base like real ids (some above 2^53, as real ones are), then
/// `SHOP_STRIDE` per shop so ids are unique across shops, as real gids are.
pub const SHOP_STRIDE: u64 = 10_000_000_000;
const CUSTOMER_BASE: u64 = 706_405_506_000_000_000;
const ADDRESS_BASE: u64 = 9_901_000_000_000;
const ORDER_BASE: u64 = 5_812_000_000_000;
const LINE_ITEM_BASE: u64 = 14_500_000_000_000;
const REFUND_BASE: u64 = 9_100_000_000_000;
const PRODUCT_BASE: u64 = 8_100_000_000_000;
const VARIANT_BASE: u64 = 44_100_000_000_000;
const COMPANY_BASE: u64 = 408_372_092_144_000_000;
const LOCATION_BASE: u64 = 408_372_092_145_000_000;
const CONTACT_BASE: u64 = 408_372_092_146_000_000;
/// Line item ids are `order × 256 + line`.
const LINES_PER_ORDER_ID: u64 = 256;
/// At most this many variants per product (variant ids are `product × 4 + variant`).
const VARIANTS_PER_PRODUCT: u64 = 4;

/// The export's clock: nothing happens after this.
pub const NOW: Ts = Ts(Ts::at(2026, 10, 31).0 + 86_399);
const SHOP_OPENED: Ts = Ts::at(2019, 1, 1);
const ORDERS_FROM: Ts = Ts::at(2022, 1, 1);
const DAY: i64 = 86_400;

/// The storefronts after the first: country, currency, order-name prefix.
const OTHER_SHOPS: &[(&str, &str, &str)] = &[
    ("DE", "EUR", "#EU"),
    ("GB", "GBP", "UK-"),
    ("CA", "CAD", "#CA"),
    ("JP", "JPY", "#JP"),
    ("AU", "AUD", "#AU-"),
    ("BR", "BRL", "#BR"),
    ("FR", "EUR", "#FR"),
    ("US", "USD", "#US"),
];

/// A storefront.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopInfo {
    /// 0 for the first shop.
    pub index: u32,
    /// `store-1.myshopify.com`, `store-2.myshopify.com`, …
    pub domain: String,
    /// The shop currency: every `shopMoney` is in it.
    pub currency: &'static str,
    /// ISO code of the shop's home country.
    pub country: &'static str,
    /// The order-name prefix (`#1001`, `#EU1001`, `UK-1001`).
    pub order_prefix: &'static str,
}

/// Country, currency and order-name prefix of shop `index`.
fn shop_profile(
    index: u32,
    first_currency: &'static str,
) -> (&'static str, &'static str, &'static str) {
    if index == 0 {
        (
            people::country_of_currency(first_currency).code,
            first_currency,
            "#",
        )
    } else {
        OTHER_SHOPS[(index as usize - 1) % OTHER_SHOPS.len()]
    }
}

fn shop_country(index: u32, first_currency: &'static str) -> &'static str {
    shop_profile(index, first_currency).0
}

impl ShopInfo {
    /// Shop `index`; the first shop's currency is `first_currency`, the others' are fixed
    /// (EUR, GBP, CAD, JPY, AUD, BRL, EUR, USD, then again).
    pub fn new(index: u32, first_currency: &'static str) -> ShopInfo {
        let (country, currency, order_prefix) = shop_profile(index, first_currency);
        ShopInfo {
            index,
            domain: format!("store-{}.myshopify.com", index + 1),
            currency,
            country,
            order_prefix,
        }
    }
}

/// A customer and its child lines.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecord {
    /// Position in the shop (0-based).
    pub index: u64,
    pub customer: CustomerNode,
    /// `addressesV2` children.
    pub addresses: Vec<MailingAddressLine>,
    /// The real person (same number in every shop and on their guest checkouts).
    pub person: u64,
    /// The B2B company this customer is a contact of.
    pub company: Option<u64>,
}

impl CustomerRecord {
    pub fn into_lines(self) -> Vec<Line> {
        let mut lines = Vec::with_capacity(1 + self.addresses.len());
        lines.push(Line::Customer(Box::new(self.customer)));
        lines.extend(
            self.addresses
                .into_iter()
                .map(|a| Line::CustomerAddress(Box::new(a))),
        );
        lines
    }
}

/// Who placed an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buyer {
    /// A customer of the shop, buying for themselves.
    Customer { index: u64 },
    /// A company contact buying for a location of their company.
    Company {
        index: u64,
        company: u64,
        location: u64,
    },
    /// No customer record: a guest checkout. `matches` is the customer whose email or
    /// phone the checkout used, if any.
    Guest { matches: Option<u64> },
}

/// An order and its line items.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub index: u64,
    pub order: OrderNode,
    pub line_items: Vec<LineItemNode>,
    pub buyer: Buyer,
    /// The real person who placed it.
    pub person: u64,
}

impl OrderRecord {
    pub fn into_lines(self) -> Vec<Line> {
        let mut lines = Vec::with_capacity(1 + self.line_items.len());
        lines.push(Line::Order(Box::new(self.order)));
        lines.extend(
            self.line_items
                .into_iter()
                .map(|l| Line::LineItem(Box::new(l))),
        );
        lines
    }

    pub fn is_guest(&self) -> bool {
        matches!(self.buyer, Buyer::Guest { .. })
    }
}

/// A B2B company with its locations and contacts.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyRecord {
    pub index: u64,
    pub company: CompanyNode,
    pub locations: Vec<LocationNode>,
    pub contacts: Vec<ContactNode>,
}

impl CompanyRecord {
    pub fn into_lines(self) -> Vec<Line> {
        let mut lines = Vec::with_capacity(1 + self.locations.len() + self.contacts.len());
        lines.push(Line::Company(Box::new(self.company)));
        lines.extend(
            self.locations
                .into_iter()
                .map(|l| Line::Location(Box::new(l))),
        );
        lines.extend(
            self.contacts
                .into_iter()
                .map(|c| Line::Contact(Box::new(c))),
        );
        lines
    }
}

/// What every record derivation of a customer starts from (orders need it too).
struct Core {
    id: Gid,
    person: Person,
    company: Option<u64>,
    first: Option<String>,
    last: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    has_address: bool,
    deprecated: bool,
    created: Ts,
}

/// One catalogue variant.
struct Variant {
    index: u64,
    product: u64,
    sku: Option<String>,
    title: String,
    product_title: String,
    vendor: &'static str,
    usd_cents: i64,
    gift_card: bool,
}

/// Generates the records of one shop, in any order, each on its own.
///
/// Records are pure functions of (seed, shop, index): [`ShopGenerator::customer`] `(n)`
/// returns the same customer whether asked first or after a million others, which is what
/// lets orders carry their customer's email without a table, and what a Shopify emulator
/// needs to page through a store that never sits in memory. The only state is per company
/// (where each company's contacts and locations start), a few bytes per company.
#[derive(Debug, Clone)]
pub struct ShopGenerator {
    seed: u64,
    info: ShopInfo,
    shop: u64,
    shops: u64,
    customers: u64,
    orders: u64,
    products: u64,
    max_line_items: u64,
    currency: Currency,
    country: &'static Country,
    first_currency: &'static str,
    /// Company `c`'s contacts are customers `contact_start[c]..contact_start[c + 1]`.
    contact_start: Vec<u64>,
    /// Company `c`'s locations are `location_start[c]..location_start[c + 1]`.
    location_start: Vec<u64>,
    customer_ranks: Affine,
    share: Affine,
    guests: u64,
    guest_ranks: Affine,
    product_ranks: Affine,
}

fn ts_between(rng: &mut Rng, from: Ts, to: Ts) -> Ts {
    if to.0 <= from.0 {
        return from;
    }
    Ts(from.0 + rng.below((to.0 - from.0) as u64) as i64)
}

fn later(a: Ts, seconds: i64) -> Ts {
    Ts((a.0 + seconds).min(NOW.0))
}

const EMAIL_STATES: [&str; 6] = [
    "SUBSCRIBED",
    "NOT_SUBSCRIBED",
    "UNSUBSCRIBED",
    "PENDING",
    "INVALID",
    "REDACTED",
];
const SMS_STATES: [&str; 5] = [
    "NOT_SUBSCRIBED",
    "SUBSCRIBED",
    "UNSUBSCRIBED",
    "PENDING",
    "REDACTED",
];

/// One channel's consent: state, opt-in level, when it last changed.
struct Consent {
    state: &'static str,
    level: Option<&'static str>,
    updated: Option<Ts>,
}

fn consent(rng: &mut Rng, state: &'static str, created: Ts) -> Consent {
    let level = match state {
        "SUBSCRIBED" => Some(*rng.weighted(&[
            ("SINGLE_OPT_IN", 55),
            ("CONFIRMED_OPT_IN", 35),
            ("UNKNOWN", 10),
        ])),
        "PENDING" => Some("CONFIRMED_OPT_IN"),
        "UNSUBSCRIBED" => *rng.weighted(&[
            (Some("SINGLE_OPT_IN"), 50),
            (Some("CONFIRMED_OPT_IN"), 20),
            (Some("UNKNOWN"), 15),
            (None, 15),
        ]),
        "NOT_SUBSCRIBED" => *rng.weighted(&[(None, 70), (Some("SINGLE_OPT_IN"), 30)]),
        "INVALID" => *rng.weighted(&[(None, 60), (Some("UNKNOWN"), 40)]),
        _ => None,
    };
    let updated = match state {
        // Consent imported from another system predates the customer record; some
        // imports carry no date at all.
        "SUBSCRIBED" if rng.chance(0.08) => None,
        "SUBSCRIBED" if rng.chance(0.1) => {
            Some(ts_between(rng, Ts(created.0 - 700 * DAY), created))
        }
        "NOT_SUBSCRIBED" if rng.chance(0.8) => None,
        _ => Some(ts_between(rng, created, NOW)),
    };
    Consent {
        state,
        level,
        updated,
    }
}

const TAGS: &[(&[&str], u32)] = &[
    (&[], 60),
    (&["vip"], 8),
    (&["VIP", "newsletter"], 5),
    (&["newsletter"], 8),
    (&["Imported from Magento"], 6),
    (&["Black Friday 2025", "repeat"], 4),
    (&["wholesale-pending"], 2),
    (&["café-club", "Lisboa"], 2),
    (&["do-not-contact"], 2),
];

const CUSTOMER_NOTES: &[&str] = &[
    "Prefers delivery after 5pm.\nRing twice.",
    "Said \"no calls\", email only",
    "VIP, see ticket #4411",
    "Allergic to latex; ship without gloves",
    "Chargeback 2024 — verify address, then ship",
];

const COMPANY_WORDS: &[&str] = &[
    "Acme Trading",
    "Müller & Söhne",
    "O'Reilly Supplies",
    "\"Blue Ocean\" Imports",
    "Café Lumière",
    "Nordic Outfitters",
    "Sakura Shōji",
    "Globex",
    "Initech",
    "Dunder Mifflin Paper",
    "Casa do Azulejo",
    "Bäckerei Groß",
];
const COMPANY_SUFFIXES: &[&str] = &[
    " Ltd.",
    " GmbH",
    ", Inc.",
    ", LLC",
    " S.A.R.L.",
    " Lda.",
    " K.K.",
    " A/S",
    "",
];
const TITLES: &[(Option<&str>, u32)] = &[
    (Some("Buyer"), 35),
    (Some("Head of Procurement, EMEA"), 10),
    (Some("Owner / Founder"), 10),
    (Some("Accounts Payable"), 10),
    (Some("Store Manager \"North\""), 5),
    (None, 30),
];
const ADJECTIVES: &[&str] = &[
    "Merino",
    "Organic Cotton",
    "Café",
    "Vintage",
    "Heavy-Duty",
    "Kids'",
    "Hand-Thrown",
    "Waxed Canvas",
    "Recycled",
    "Crème",
];
const NOUNS: &[&str] = &[
    "Beanie",
    "Mug \"Classic\"",
    "Crew Socks, 3-Pack",
    "T-Shirt",
    "Tote Bag",
    "Notebook",
    "Candle",
    "Apron",
    "Gift Card",
    "Tea Towel",
];
const OPTIONS: &[&str] = &[
    "S / Black",
    "M / Black",
    "L / Navy",
    "XL / Crème",
    "One Size",
    "Small",
    "Large",
    "250 g",
];
const VENDORS: &[&str] = &[
    "Acme Goods",
    "Nordisk Design",
    "Maison Lumière",
    "Otsuka & Co.",
    "Fábrica Lusitana",
];
const CUSTOM_ITEMS: &[&str] = &[
    "Gift wrap",
    "Custom engraving: \"Love, Mum\"",
    "Shipping protection",
    "Rush handling",
];
const ORDER_NOTES: &[&str] = &[
    "Leave at the back door, \"beware of dog\"\nThanks!",
    "Gift — please don't include the invoice",
    "PO 4471-B, deliver to dock 3",
];

/// A word of a variant title for a SKU: ASCII letters (accents folded) and digits, upper case.
fn sku_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push_str(&ascii_letters(c.encode_utf8(&mut [0; 4]), false).to_uppercase());
        }
    }
    out
}

/// Up to three initials of a product title, for its SKU.
fn initials(title: &str) -> String {
    title
        .split([' ', '-'])
        .filter_map(|w| ascii_letters(w, false).chars().next())
        .take(3)
        .collect::<String>()
        .to_uppercase()
}

impl ShopGenerator {
    /// The generator of shop `shop` (0-based) of a run shaped by `shape`.
    pub fn new(shape: &StoreShape, shop: u32) -> ShopGenerator {
        let info = ShopInfo::new(shop, shape.currency);
        let seed = shape.seed;
        let s = u64::from(shop);
        let customers = shape.customers.max(1);
        let mut contact_start = Vec::with_capacity(shape.companies as usize + 1);
        let mut location_start = Vec::with_capacity(shape.companies as usize + 1);
        let budget = customers / 2;
        let (mut contacts, mut locations) = (0u64, 0u64);
        for c in 0..shape.companies {
            contact_start.push(contacts);
            location_start.push(locations);
            let mut rng = Rng::new(seed, Stream::Company, s, c);
            let (l, k) = Self::company_sizes(&mut rng);
            locations += l;
            contacts += k.min(budget - contacts);
        }
        contact_start.push(contacts);
        location_start.push(locations);
        let guests = (customers / 4).max(1);
        let products = shape.products.max(1);
        ShopGenerator {
            seed,
            shop: s,
            shops: u64::from(shape.shops.max(1)),
            customers,
            orders: shape.orders,
            products,
            max_line_items: shape.max_line_items.clamp(1, LINES_PER_ORDER_ID - 1),
            currency: Currency::of(info.currency),
            country: people::country(info.country),
            first_currency: shape.currency,
            contact_start,
            location_start,
            customer_ranks: Affine::new(customers, hash(&[seed, Stream::Permutation as u64, s, 1])),
            share: Affine::new(customers, hash(&[seed, Stream::Share as u64, s])),
            guests,
            guest_ranks: Affine::new(guests, hash(&[seed, Stream::Permutation as u64, s, 2])),
            product_ranks: Affine::new(products, hash(&[seed, Stream::Permutation as u64, 3])),
            info,
        }
    }

    /// A company's location and contact counts: the first draws of its generator.
    fn company_sizes(rng: &mut Rng) -> (u64, u64) {
        let locations = *rng.weighted(&[(1u64, 40), (2, 25), (3, 15), (4, 10), (5, 6), (6, 4)]);
        let contacts = *rng.weighted(&[(1u64, 30), (2, 30), (3, 20), (4, 12), (5, 8)]);
        (locations, contacts)
    }

    pub fn info(&self) -> &ShopInfo {
        &self.info
    }

    pub fn customer_count(&self) -> u64 {
        self.customers
    }

    pub fn order_count(&self) -> u64 {
        self.orders
    }

    pub fn company_count(&self) -> u64 {
        self.contact_start.len() as u64 - 1
    }

    /// Customers that are B2B company contacts (the first ones).
    pub fn company_contact_count(&self) -> u64 {
        *self.contact_start.last().unwrap_or(&0)
    }

    fn id(&self, base: u64, n: u64) -> u64 {
        base + self.shop * SHOP_STRIDE + n
    }

    pub fn customer_gid(&self, n: u64) -> Gid {
        Gid::new("Customer", self.id(CUSTOMER_BASE, n))
    }

    pub fn order_gid(&self, o: u64) -> Gid {
        Gid::new("Order", self.id(ORDER_BASE, o))
    }

    /// The gid of company `c`.
    pub fn company_gid(&self, c: u64) -> Gid {
        Gid::new("Company", self.id(COMPANY_BASE, c))
    }

    /// The gid line item `i` of order `o` has (orders added after generation, as an
    /// emulator adds them, number their lines the same way).
    pub fn line_item_gid(&self, o: u64, i: u64) -> Gid {
        Gid::new(
            "LineItem",
            self.id(LINE_ITEM_BASE, o * LINES_PER_ORDER_ID + i),
        )
    }

    /// The most line items an order's ids leave room for.
    pub fn max_line_items_per_order(&self) -> u64 {
        LINES_PER_ORDER_ID - 1
    }

    /// The index of the record whose gid has numeric id `id`, for a type numbered from
    /// `first` (this shop's gid of index 0): any index, in range or not.
    fn index_of(id: u64, first: Gid) -> Option<u64> {
        id.checked_sub(first.id).filter(|n| *n < SHOP_STRIDE)
    }

    /// The index of the customer with numeric id `id`, if it is one of this shop's.
    pub fn customer_index(&self, id: u64) -> Option<u64> {
        Self::index_of(id, self.customer_gid(0)).filter(|n| *n < self.customers)
    }

    /// The index of the order with numeric id `id` (any index: orders added later follow
    /// the generated ones).
    pub fn order_index(&self, id: u64) -> Option<u64> {
        Self::index_of(id, self.order_gid(0))
    }

    /// The index of the company with numeric id `id`, if it is one of this shop's.
    pub fn company_index(&self, id: u64) -> Option<u64> {
        Self::index_of(id, self.company_gid(0)).filter(|n| *n < self.company_count())
    }

    /// The catalogue index of a variant gid of this shop.
    pub fn variant_index(&self, gid: &Gid) -> Option<u64> {
        (gid.kind == "ProductVariant")
            .then(|| gid.id.checked_sub(self.id(VARIANT_BASE, 0)))
            .flatten()
            .filter(|i| *i < self.catalog_size())
    }

    /// The number of variant slots in the catalogue (an upper bound of distinct variants).
    pub fn catalog_size(&self) -> u64 {
        self.products * VARIANTS_PER_PRODUCT
    }

    /// The person behind customer `n`: in shops after the first, some customers are people
    /// who are also customers of the first shop (the person numbered like their index
    /// there); everyone else is new.
    pub fn person_of(&self, n: u64) -> u64 {
        if self.shop == 0 {
            return n;
        }
        let m = self.share.apply(n);
        if self.in_shop(m, self.shop) {
            m
        } else {
            self.shop * self.customers + n
        }
    }

    /// Whether person `m` of the first shop is also a customer of shop `k`.
    fn in_shop(&self, m: u64, k: u64) -> bool {
        k < self.shops
            && unit_of(hash(&[self.seed, Stream::Share as u64, m])) < 0.3
            && unit_of(hash(&[self.seed, Stream::Share as u64, m, k])) < 0.6
    }

    /// Whether person `p` is a customer of more than one shop.
    fn in_several_shops(&self, p: u64) -> bool {
        p < self.customers && (1..self.shops).any(|k| self.in_shop(p, k))
    }

    fn home_of(&self, person: u64) -> &'static Country {
        let shop = person / self.customers;
        if shop < self.shops {
            people::country(shop_country(shop as u32, self.first_currency))
        } else {
            self.country
        }
    }

    /// The company whose contact customer `n` is.
    fn company_of(&self, n: u64) -> Option<u64> {
        (n < self.company_contact_count())
            .then(|| self.contact_start.partition_point(|&s| s <= n) as u64 - 1)
    }

    fn company_slug(&self, c: u64) -> String {
        ascii_letters(self.company_start(c).1, false)
    }

    fn core(&self, n: u64) -> (Core, Rng) {
        let mut rng = Rng::new(self.seed, Stream::Customer, self.shop, n);
        let p = self.person_of(n);
        let person = Person::new(self.seed, p, self.home_of(p));
        let company = self.company_of(n);
        let shared = if self.shop == 0 {
            self.in_several_shops(p)
        } else {
            p < self.customers
        };
        // (email, phone) present?
        let (has_email, has_phone) = if shared {
            *rng.weighted(&[((true, true), 82), ((false, true), 18)])
        } else if company.is_some() {
            *rng.weighted(&[((true, true), 70), ((true, false), 30)])
        } else {
            *rng.weighted(&[
                ((true, true), 58),
                ((true, false), 30),
                ((false, true), 9),
                ((false, false), 3),
            ])
        };
        let deprecated = rng.chance(0.12);
        let has_address = rng.chance(if company.is_some() { 0.6 } else { 0.85 });
        let first = recase(&mut rng, person.first.clone());
        let last = recase(&mut rng, person.last.clone());
        let email = has_email.then(|| {
            let address = match company {
                Some(c) => person.work_email(&self.company_slug(c)),
                // The same person in another shop: mostly another address.
                None if shared && self.shop > 0 && rng.chance(0.75) => person.other_email(),
                None => person.email(),
            };
            email_case(&mut rng, address)
        });
        let phone = has_phone.then(|| {
            let style = if rng.chance(0.78) {
                PhoneStyle::E164
            } else {
                PhoneStyle::Any {
                    national_ok: has_address,
                    extension: false,
                }
            };
            person.phone(&mut rng, style)
        });
        let u = rng.unit();
        let created =
            Ts(SHOP_OPENED.0 + ((NOW.0 - DAY - SHOP_OPENED.0) as f64 * (1.0 - u * u)) as i64);
        let core = Core {
            id: self.customer_gid(n),
            person,
            company,
            first,
            last,
            email,
            phone,
            has_address,
            deprecated,
            created,
        };
        (core, rng)
    }
}

/// The files of a bulk export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFile {
    Customers,
    Orders,
    Companies,
}

impl ExportFile {
    pub const ALL: [ExportFile; 3] = [
        ExportFile::Customers,
        ExportFile::Orders,
        ExportFile::Companies,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            ExportFile::Customers => "customers.jsonl",
            ExportFile::Orders => "orders.jsonl",
            ExportFile::Companies => "companies.jsonl",
        }
    }

    /// How many lines may be held back and reordered: children land before or after their
    /// parent and interleave with neighbours, as `groupObjects: false` allows.
    pub(super) fn window(self) -> usize {
        match self {
            ExportFile::Orders => 48,
            _ => 8,
        }
    }
}

/// Shop money and presentment money of one amount.
struct Priced {
    shop: i64,
    presented: i64,
}

/// Where a line item goes: its order, and the order's buyer kind and currency.
#[derive(Clone, Copy)]
struct LineAt {
    order: Gid,
    o: u64,
    b2b: bool,
    presentment: Currency,
}

struct DraftLine {
    node: LineItemNode,
    unit: Priced,
}

/// An order's totals in one currency.
#[derive(Clone, Copy)]
struct Totals {
    discount: i64,
    subtotal: i64,
    shipping: i64,
    tax: i64,
    total: i64,
}

fn totals(sum: i64, discount_pct: i64, shipping: i64, country: &Country) -> Totals {
    let discount = sum * discount_pct / 100;
    let subtotal = sum - discount;
    let taxable = subtotal + shipping;
    let (tax, total) = if country.tax_included {
        let tax =
            (taxable as i128 * country.tax_bp as i128 / (10_000 + country.tax_bp) as i128) as i64;
        (tax, taxable)
    } else {
        let tax = (taxable as i128 * country.tax_bp as i128 / 10_000) as i64;
        (tax, taxable + tax)
    };
    Totals {
        discount,
        subtotal,
        shipping,
        tax,
        total,
    }
}

impl ShopGenerator {
    fn company_start(&self, c: u64) -> (Rng, &'static str) {
        let mut rng = Rng::new(self.seed, Stream::Company, self.shop, c);
        Self::company_sizes(&mut rng);
        let word = rng.one(COMPANY_WORDS);
        (rng, word)
    }

    fn company_name(&self, c: u64) -> String {
        let (mut rng, word) = self.company_start(c);
        format!("{word}{}", rng.pick(COMPANY_SUFFIXES))
    }

    fn zip(rng: &mut Rng, country: &Country, zip: &str) -> String {
        match (country.code, rng.below(100)) {
            ("US", 0..=9) => format!("{zip}-{:04}", rng.below(10_000)),
            ("CA", 0..=19) | ("GB", 0..=9) => zip.replace(' ', ""),
            ("CA", 20..=24) => zip.to_lowercase(),
            _ => zip.to_string(),
        }
    }

    fn street(country: &Country, street: usize, house: u64) -> String {
        country.streets[street].replace("{num}", &house.to_string())
    }

    fn address(&self, rng: &mut Rng, core: &Core) -> AddressNode {
        let person = &core.person;
        let country = person.country;
        let city = &country.cities[person.city];
        let address2 = *rng.weighted(&[
            (None, 75),
            (Some("Apt. 4B"), 8),
            (Some("c/o \"Acme, Inc.\""), 4),
            (Some("Floor 3\nReception"), 3),
            (Some("2º Dto."), 5),
            (Some("Building C, Unit 12"), 5),
        ]);
        let phone = match rng.below(100) {
            0..=39 => {
                let extension = rng.chance(0.15);
                let style = PhoneStyle::Any {
                    national_ok: true,
                    extension,
                };
                Some(person.phone(rng, style))
            }
            // The household landline: someone else's number too.
            40..=44 => Some(write_phone(
                country,
                &people::national_number(country, person.id ^ 1),
                rng,
                PhoneStyle::Any {
                    national_ok: true,
                    extension: false,
                },
            )),
            _ => None,
        };
        let company = match core.company {
            Some(c) => Some(self.company_name(c)),
            None => rng.chance(0.04).then(|| {
                rng.pick(&["Acme Corp", "Self-employed", "N/A", "-"])
                    .to_string()
            }),
        };
        // Usually the customer's own name; sometimes a gift recipient's.
        let (first_name, last_name) = if rng.chance(0.05) {
            (
                Some(rng.pick(country.first).to_string()),
                Some(rng.pick(country.last).to_string()),
            )
        } else {
            (core.first.clone(), core.last.clone())
        };
        AddressNode {
            first_name,
            last_name,
            address1: Self::street(country, person.street, person.house),
            address2: address2.map(str::to_string),
            city: city.name,
            province: city.province,
            province_code: city.province_code,
            country: country.name,
            country_code_v2: country.code,
            zip: Self::zip(rng, country, city.zip),
            phone,
            company,
        }
    }

    /// Customer `n` (0-based) of this shop.
    pub fn customer(&self, n: u64) -> CustomerRecord {
        let (core, mut rng) = self.core(n);
        let b2b = core.company.is_some();
        let email_consent = core.email.as_ref().map(|_| {
            let redacted = if core.deprecated && !b2b { 9 } else { 0 };
            let state = *rng.weighted(&[
                (EMAIL_STATES[0], 30),
                (EMAIL_STATES[1], 38),
                (EMAIL_STATES[2], 12),
                (EMAIL_STATES[3], 6),
                (EMAIL_STATES[4], 5),
                (EMAIL_STATES[5], redacted),
            ]);
            consent(&mut rng, state, core.created)
        });
        let sms_consent = core.phone.as_ref().map(|_| {
            let redacted = if core.deprecated { 4 } else { 0 };
            let state = *rng.weighted(&[
                (SMS_STATES[0], 55),
                (SMS_STATES[1], 20),
                (SMS_STATES[2], 12),
                (SMS_STATES[3], 5),
                (SMS_STATES[4], redacted),
            ]);
            consent(&mut rng, state, core.created)
        });
        let collected_from = rng.one(&["SHOPIFY", "OTHER"]);
        let state = *rng.weighted(&[
            ("ENABLED", 40),
            ("DISABLED", 50),
            ("INVITED", 7),
            ("DECLINED", 3),
        ]);
        let locale = if rng.chance(0.1) {
            "en"
        } else {
            core.person.country.locale
        };
        let note = rng
            .chance(0.05)
            .then(|| rng.pick(CUSTOMER_NOTES).to_string());
        let mut tags: Vec<&'static str> = rng.weighted(TAGS).to_vec();
        if b2b {
            tags.push("b2b");
        }
        let verified_email = core.email.is_some() && rng.chance(0.8);
        let tax_exempt = rng.chance(if b2b { 0.3 } else { 0.01 });
        let updated = ts_between(&mut rng, core.created, NOW);
        let default_address = core.has_address.then(|| self.address(&mut rng, &core));
        let extra = if rng.chance(0.2) {
            rng.between(1, 2)
        } else {
            0
        };
        let addresses = (0..extra)
            .map(|i| {
                let country = core.person.country;
                let city = rng.pick(country.cities);
                MailingAddressLine {
                    id: Gid {
                        kind: "MailingAddress",
                        id: self.id(ADDRESS_BASE, n * 4 + i),
                        suffix: "?model_name=CustomerAddress",
                    },
                    address1: Self::street(
                        country,
                        rng.index(country.streets.len()),
                        rng.between(1, 400),
                    ),
                    city: city.name,
                    country_code_v2: country.code,
                    zip: Self::zip(&mut rng, country, city.zip),
                    parent_id: core.id,
                }
            })
            .collect();
        let mut customer = CustomerNode {
            id: core.id,
            first_name: core.first,
            last_name: core.last,
            created_at: core.created,
            updated_at: updated,
            state,
            locale,
            note,
            tags,
            verified_email,
            tax_exempt,
            default_email_address: None,
            default_phone_number: None,
            email: None,
            phone: None,
            email_marketing_consent: None,
            sms_marketing_consent: None,
            default_address,
        };
        if core.deprecated {
            customer.email = Some(core.email);
            customer.phone = Some(core.phone);
            customer.email_marketing_consent = Some(email_consent.map(|c| LegacyConsentNode {
                marketing_state: c.state,
                marketing_opt_in_level: c.level,
                consent_updated_at: c.updated,
                consent_collected_from: None,
            }));
            customer.sms_marketing_consent = Some(sms_consent.map(|c| LegacyConsentNode {
                marketing_state: c.state,
                // Non-null on the deprecated SMS object.
                marketing_opt_in_level: Some(c.level.unwrap_or("UNKNOWN")),
                consent_updated_at: c.updated,
                consent_collected_from: Some(collected_from),
            }));
        } else {
            customer.default_email_address =
                Some(
                    core.email
                        .zip(email_consent)
                        .map(|(e, c)| EmailAddressNode {
                            email_address: e,
                            marketing_state: c.state,
                            marketing_opt_in_level: c.level,
                            marketing_updated_at: c.updated,
                        }),
                );
            customer.default_phone_number =
                Some(core.phone.zip(sms_consent).map(|(p, c)| PhoneNumberNode {
                    phone_number: p,
                    marketing_state: c.state,
                    marketing_opt_in_level: c.level,
                    marketing_updated_at: c.updated,
                    marketing_collected_from: Some(collected_from),
                }));
        }
        CustomerRecord {
            index: n,
            customer,
            addresses,
            person: core.person.id,
            company: core.company,
        }
    }

    /// Variant `j` (modulo the product's variant count) of product `p`. The catalogue is
    /// the same in every shop (same titles and SKUs); the ids are the shop's own.
    fn variant(&self, p: u64, j: u64) -> Variant {
        let mut rng = Rng::new(self.seed, Stream::Catalog, 0, p);
        let count = rng.between(1, VARIANTS_PER_PRODUCT);
        let adjective = rng.one(ADJECTIVES);
        let noun = rng.one(NOUNS);
        let gift_card = noun == "Gift Card";
        let vendor = rng.one(VENDORS);
        let sku_quirk = rng.below(100);
        let option_offset = rng.index(OPTIONS.len());
        let usd_cents = (5 + rng.below(195) as i64) * 100 + [99, 0, 50][rng.index(3)];
        let j = j % count;
        let product_title = format!("{adjective} {noun}");
        let title = match (count, gift_card) {
            (1, _) => "Default Title".to_string(),
            (_, true) => ["$25", "$50", "$100", "$250"][j as usize].to_string(),
            _ => OPTIONS[(option_offset + j as usize) % OPTIONS.len()].to_string(),
        };
        let usd_cents = match gift_card {
            true => [2500, 5000, 10_000, 25_000][j as usize],
            false => usd_cents + j as i64 * 200,
        };
        let sku_for = |product: u64| format!("{}-{product:04}", initials(&product_title));
        let suffix: String = title
            .split([' ', '/'])
            .map(sku_word)
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let sku = match sku_quirk {
            _ if gift_card => None,
            // Every variant of the product shares one SKU.
            0..=5 => Some(sku_for(p)),
            6..=8 => Some(String::new()),
            9..=10 => None,
            // Another product's SKU.
            11 if p > 0 => Some(format!("{}-{suffix}", sku_for(p - 1))),
            _ => Some(format!("{}-{suffix}", sku_for(p))),
        };
        Variant {
            index: p * VARIANTS_PER_PRODUCT + j,
            product: p,
            sku,
            title,
            product_title,
            vendor,
            usd_cents,
            gift_card,
        }
    }

    /// A catalogue price (US cents) in the shop's currency, rounded as shops price.
    fn shop_price(&self, usd_cents: i64) -> i64 {
        if self.currency.code == "USD" {
            return usd_cents;
        }
        let minor = self.currency.convert(usd_cents, &Currency::of("USD"));
        match self.currency.exponent {
            0 => (minor + 5) / 10 * 10,
            _ if minor >= 100 => minor / 100 * 100 + 99,
            _ => minor.max(1),
        }
    }

    fn bag(&self, shop: i64, presentment: &Currency, presented: i64) -> MoneyBag {
        MoneyBag {
            shop_money: Money {
                amount: self.currency.amount(shop),
                currency_code: self.currency.code,
            },
            presentment_money: Money {
                amount: presentment.amount(presented),
                currency_code: presentment.code,
            },
        }
    }

    fn line_count(&self, rng: &mut Rng) -> u64 {
        let cap = self.max_line_items;
        if cap > 5 && rng.chance(0.05) {
            // The long tail: a few orders with dozens of lines.
            let u = rng.unit();
            (6 + (u * u * u * (cap - 5) as f64) as u64).min(cap)
        } else {
            1 + rng.below(cap.min(5))
        }
    }

    fn draft_line(
        &self,
        rng: &mut Rng,
        at: &LineAt,
        i: u64,
        previous: Option<(u64, u64)>,
    ) -> (DraftLine, Option<(u64, u64)>) {
        let LineAt {
            order,
            o,
            b2b,
            presentment,
        } = *at;
        let presentment = &presentment;
        let quantity = if b2b {
            *rng.weighted(&[(1u32, 30), (2, 20), (5, 20), (10, 15), (24, 10), (50, 5)])
        } else {
            *rng.weighted(&[(1u32, 85), (2, 9), (3, 4), (6, 2)])
        };
        let kind = rng.below(1000);
        let id = Gid::new(
            "LineItem",
            self.id(LINE_ITEM_BASE, o * LINES_PER_ORDER_ID + i),
        );
        let (node, usd_cents, picked) = if kind < 15 {
            // A custom item: no product, no variant.
            let title = rng.pick(CUSTOM_ITEMS).to_string();
            let cents = rng.one(&[0i64, 299, 500, 1500]);
            let node = LineItemNode {
                id,
                sku: None,
                title: title.clone(),
                name: title,
                variant_title: None,
                vendor: None,
                quantity,
                current_quantity: quantity,
                is_gift_card: false,
                original_unit_price_set: self.bag(0, presentment, 0),
                product: None,
                variant: None,
                parent_id: order,
            };
            (node, cents, None)
        } else {
            // The same variant twice in one order now and then (different properties).
            let (p, j) = match previous {
                Some(prev) if kind < 35 => prev,
                _ => (
                    self.product_ranks.apply(rng.skewed(self.products)),
                    rng.below(VARIANTS_PER_PRODUCT),
                ),
            };
            let v = self.variant(p, j);
            let display_name = format!("{} - {}", v.product_title, v.title);
            let default = v.title == "Default Title";
            let name = if default {
                v.product_title.clone()
            } else {
                display_name.clone()
            };
            // A product deleted since: the line keeps its text, loses its links.
            let deleted = kind >= 995;
            let node = LineItemNode {
                id,
                sku: v.sku.clone(),
                title: v.product_title.clone(),
                name,
                variant_title: (!default).then(|| v.title.clone()),
                vendor: Some(v.vendor),
                quantity,
                current_quantity: quantity,
                is_gift_card: v.gift_card,
                original_unit_price_set: self.bag(0, presentment, 0),
                product: (!deleted).then(|| IdRef {
                    id: Gid::new("Product", self.id(PRODUCT_BASE, v.product)),
                }),
                variant: (!deleted).then(|| VariantNode {
                    id: Gid::new("ProductVariant", self.id(VARIANT_BASE, v.index)),
                    sku: v.sku.clone(),
                    title: v.title.clone(),
                    display_name,
                }),
                parent_id: order,
            };
            (node, v.usd_cents, Some((p, j)))
        };
        let mut shop = self.shop_price(usd_cents);
        if rng.chance(0.08) {
            // Bought before (or after) a price change.
            shop = shop * rng.one(&[90i64, 85, 110]) / 100;
        }
        let presented = if presentment.code == self.currency.code {
            shop
        } else {
            presentment.convert(shop, &self.currency)
        };
        let mut node = node;
        node.original_unit_price_set = self.bag(shop, presentment, presented);
        let unit = Priced { shop, presented };
        (DraftLine { node, unit }, picked)
    }

    /// Order `o` (0-based) of this shop.
    pub fn order(&self, o: u64) -> OrderRecord {
        let mut rng = Rng::new(self.seed, Stream::Order, self.shop, o);
        let order_gid = self.order_gid(o);
        let span = (NOW.0 - 30 * DAY - ORDERS_FROM.0) as f64;
        let base = ORDERS_FROM.0 + (span * o as f64 / self.orders.max(1) as f64) as i64;
        let jitter = rng.below(6 * DAY as u64) as i64 - 3 * DAY;
        let mut processed = Ts((base + jitter).clamp(SHOP_OPENED.0, NOW.0 - DAY));
        let international = PhoneStyle::Any {
            national_ok: false,
            extension: false,
        };
        let (mut email, mut phone, mut customer, mut entity) = (None, None, None, None);
        let guest = rng.below(1000) < 80;
        let (buyer, person, country): (Buyer, u64, &'static Country) = if guest {
            // A checkout without a customer record: sometimes with the email (or phone) of
            // an existing customer, mostly someone who never made an account.
            let mut matched = None;
            if rng.chance(0.4) {
                let n = self.customer_ranks.apply(rng.skewed(self.customers));
                let (core, _) = self.core(n);
                if let Some(e) = core.email {
                    email = Some(match rng.below(10) {
                        0..=6 => e,
                        7..=8 => e.to_lowercase(),
                        _ => e.to_uppercase(),
                    });
                    matched = Some((n, core.person));
                } else if core.phone.is_some() {
                    phone = Some(core.person.phone(&mut rng, international));
                    matched = Some((n, core.person));
                }
            }
            match matched {
                Some((n, p)) => (Buyer::Guest { matches: Some(n) }, p.id, p.country),
                None if rng.chance(0.03) => {
                    // A walk-in: no contact details at all.
                    (
                        Buyer::Guest { matches: None },
                        self.anonymous_person(o),
                        self.country,
                    )
                }
                None => {
                    let g = self.guest_ranks.apply(rng.skewed(self.guests));
                    let id = self.shops * self.customers + self.shop * self.guests + g;
                    let p = Person::new(self.seed, id, self.country);
                    if rng.chance(0.85) {
                        email = Some(email_case(&mut rng, p.email()));
                    } else {
                        phone = Some(p.phone(&mut rng, international));
                    }
                    (Buyer::Guest { matches: None }, id, p.country)
                }
            }
        } else {
            let n = self.customer_ranks.apply(rng.skewed(self.customers));
            let (core, _) = self.core(n);
            processed = processed.max(later(
                core.created,
                rng.between(600, 30 * DAY as u64) as i64,
            ));
            email = match core.email {
                // The address at checkout, since changed on the customer.
                Some(current) if rng.chance(0.04) => {
                    let usual = core.person.email();
                    Some(if current.eq_ignore_ascii_case(&usual) {
                        core.person.other_email()
                    } else {
                        usual
                    })
                }
                e => e,
            };
            if core.phone.is_some() && rng.chance(0.3) {
                phone = Some(core.person.phone(&mut rng, international));
            }
            customer = Some(IdRef { id: core.id });
            let buyer = match core.company {
                Some(c) => {
                    let first = self.location_start[c as usize];
                    let count = self.location_start[c as usize + 1] - first;
                    let location = first + rng.below(count);
                    entity = Some(PurchasingEntityNode::Company {
                        typename: "PurchasingCompany",
                        company: IdRef {
                            id: Gid::new("Company", self.id(COMPANY_BASE, c)),
                        },
                        location: IdRef {
                            id: Gid::new("CompanyLocation", self.id(LOCATION_BASE, location)),
                        },
                        contact: PurchasingContactNode {
                            id: Gid::new("CompanyContact", self.id(CONTACT_BASE, n)),
                            customer: IdRef { id: core.id },
                        },
                    });
                    Buyer::Company {
                        index: n,
                        company: c,
                        location,
                    }
                }
                None => {
                    entity = Some(PurchasingEntityNode::Customer {
                        typename: "Customer",
                        id: core.id,
                    });
                    Buyer::Customer { index: n }
                }
            };
            (buyer, core.person.id, core.person.country)
        };
        let b2b = matches!(buyer, Buyer::Company { .. });

        // Shopify Markets: foreign buyers often pay in their own currency.
        let local = Currency::of(country.currency);
        let presentment = if local.code != self.currency.code && rng.chance(0.6) {
            local
        } else {
            self.currency
        };
        let count = self.line_count(&mut rng);
        let mut lines: Vec<DraftLine> = Vec::with_capacity(count as usize);
        let mut previous = None;
        for i in 0..count {
            let at = LineAt {
                order: order_gid,
                o,
                b2b,
                presentment,
            };
            let (line, picked) = self.draft_line(&mut rng, &at, i, previous);
            previous = picked.or(previous);
            lines.push(line);
        }
        let sum = |f: fn(&Priced) -> i64| -> i64 {
            lines
                .iter()
                .map(|l| f(&l.unit) * i64::from(l.node.quantity))
                .sum()
        };
        let (shop_sum, presented_sum) = (sum(|p| p.shop), sum(|p| p.presented));
        let discount_pct = if rng.chance(0.15) {
            rng.one(&[10i64, 15, 20])
        } else {
            0
        };
        let usd = Currency::of("USD");
        let free_from = self.currency.convert(7500, &usd);
        let shipping = if b2b || shop_sum >= free_from {
            0
        } else {
            self.currency.convert(599, &usd)
        };
        let presented_shipping = if presentment.code == self.currency.code {
            shipping
        } else {
            presentment.convert(shipping, &self.currency)
        };
        let shop_totals = totals(shop_sum, discount_pct, shipping, self.country);
        let presented_totals = totals(
            presented_sum,
            discount_pct,
            presented_shipping,
            self.country,
        );
        let to_presented = |shop: i64| -> i64 {
            if shop_totals.total == 0 {
                0
            } else {
                (shop as i128 * presented_totals.total as i128 / shop_totals.total as i128) as i64
            }
        };

        // Money flow: paid, refunded (in part or in full), pending, cancelled.
        let cancelled = rng.chance(0.04);
        let (financial, fulfillment, cancel_reason, refund): (
            Option<&'static str>,
            &'static str,
            Option<&'static str>,
            u8,
        ) = if cancelled {
            let financial = *rng.weighted(&[
                (Some("REFUNDED"), 45),
                (Some("VOIDED"), 45),
                (Some("PENDING"), 5),
                (Some("EXPIRED"), 5),
            ]);
            let reason = *rng.weighted(&[
                ("CUSTOMER", 40),
                ("FRAUD", 10),
                ("INVENTORY", 15),
                ("DECLINED", 15),
                ("STAFF", 10),
                ("OTHER", 10),
            ]);
            let fulfillment = *rng.weighted(&[("UNFULFILLED", 70), ("RESTOCKED", 30)]);
            let refund = if financial == Some("REFUNDED") { 2 } else { 0 };
            (financial, fulfillment, Some(reason), refund)
        } else {
            let mut financial = *rng.weighted(&[
                (Some("PAID"), 74),
                (Some("PARTIALLY_REFUNDED"), 7),
                (Some("REFUNDED"), 5),
                (Some("PENDING"), 5),
                (Some("AUTHORIZED"), 4),
                (Some("PARTIALLY_PAID"), 2),
                (Some("EXPIRED"), 1),
                (None, 1),
            ]);
            if b2b && financial == Some("PAID") && rng.chance(0.3) {
                // Net terms: paid later.
                financial = Some("PENDING");
            }
            let fulfillment = match financial {
                Some("PAID" | "PARTIALLY_REFUNDED") => *rng.weighted(&[
                    ("FULFILLED", 70),
                    ("UNFULFILLED", 12),
                    ("PARTIALLY_FULFILLED", 8),
                    ("IN_PROGRESS", 3),
                    ("ON_HOLD", 3),
                    ("SCHEDULED", 2),
                    ("REQUEST_DECLINED", 2),
                ]),
                Some("REFUNDED") => {
                    *rng.weighted(&[("RESTOCKED", 50), ("FULFILLED", 30), ("UNFULFILLED", 20)])
                }
                _ => *rng.weighted(&[
                    ("UNFULFILLED", 80),
                    ("ON_HOLD", 10),
                    ("PENDING_FULFILLMENT", 10),
                ]),
            };
            let refund = match financial {
                Some("PARTIALLY_REFUNDED") => 1,
                Some("REFUNDED") => 2,
                _ => 0,
            };
            (financial, fulfillment, None, refund)
        };
        let cancelled_at =
            cancelled.then(|| later(processed, rng.between(3600, 5 * DAY as u64) as i64));
        let mut refunds = Vec::new();
        let mut refund_amounts = Vec::new();
        match refund {
            1 => {
                // One unit of one line back, and maybe a goodwill amount on top.
                let i = rng.index(lines.len());
                let line = &mut lines[i];
                let mut amount = line.unit.shop;
                if line.node.current_quantity > 0 && amount < shop_totals.total {
                    line.node.current_quantity -= 1;
                } else {
                    amount = shop_totals.total / 2;
                }
                refund_amounts.push(amount);
                let goodwill = (shop_totals.total / 20).max(1);
                if rng.chance(0.3) && amount + goodwill < shop_totals.total {
                    refund_amounts.push(goodwill);
                }
            }
            2 => {
                if rng.chance(0.2) && shop_totals.total > 1 {
                    let half = shop_totals.total / 2;
                    refund_amounts.extend([half, shop_totals.total - half]);
                } else {
                    refund_amounts.push(shop_totals.total);
                }
            }
            _ => {}
        }
        if refund == 2 || cancelled {
            for line in &mut lines {
                line.node.current_quantity = 0;
            }
        }
        let mut last_event = cancelled_at.unwrap_or(processed);
        for (k, amount) in refund_amounts.iter().enumerate() {
            let at = later(processed, rng.between(DAY as u64, 60 * DAY as u64) as i64);
            last_event = last_event.max(at);
            refunds.push(RefundNode {
                id: Gid::new("Refund", self.id(REFUND_BASE, o * 4 + k as u64)),
                created_at: at,
                note: rng
                    .weighted(&[
                        (None, 60),
                        (Some("Damaged in transit"), 20),
                        (Some("Goodwill, \"late delivery\""), 20),
                    ])
                    .map(str::to_string),
                total_refunded_set: self.bag(*amount, &presentment, to_presented(*amount)),
            });
        }
        let refunded: i64 = refund_amounts.iter().sum();
        let current_total = if cancelled {
            0
        } else {
            shop_totals.total - refunded
        };
        let created_at = if rng.chance(0.03) {
            // Imported later: createdAt is the import, processedAt the sale.
            later(processed, rng.between(DAY as u64, 700 * DAY as u64) as i64)
        } else {
            later(processed, rng.below(120) as i64)
        };
        let updated_at = later(created_at.max(last_event), rng.below(2 * DAY as u64) as i64);
        let closed = cancelled
            || (fulfillment == "FULFILLED" && processed.0 < NOW.0 - 90 * DAY && rng.chance(0.7));
        let test = rng.chance(0.004);
        let source_name = *rng.weighted(&[
            (Some("web"), 60),
            (Some("pos"), 10),
            (Some("shopify_draft_order"), 6),
            (Some("iphone"), 5),
            (Some("android"), 3),
            (Some("580111"), 6),
            (None, 10),
        ]);
        let tags: Vec<&'static str> = if b2b {
            vec!["wholesale"]
        } else {
            rng.weighted(&[
                (&[][..], 85),
                (&["gift"][..], 5),
                (&["Black Friday"][..], 5),
                (&["fraud-review", "manual"][..], 2),
                (&["Imported"][..], 3),
            ])
            .to_vec()
        };
        let note = rng.chance(0.03).then(|| rng.pick(ORDER_NOTES).to_string());
        let money = |shop: i64, presented: i64| self.bag(shop, &presentment, presented);
        let order = OrderNode {
            id: order_gid,
            name: format!("{}{}", self.info.order_prefix, 1001 + o),
            created_at,
            updated_at,
            processed_at: processed,
            cancelled_at,
            cancel_reason,
            closed,
            test,
            currency_code: self.currency.code,
            presentment_currency_code: presentment.code,
            email,
            phone,
            display_financial_status: financial,
            display_fulfillment_status: fulfillment,
            source_name,
            tags,
            note,
            customer,
            purchasing_entity: entity,
            subtotal_price_set: money(shop_totals.subtotal, presented_totals.subtotal),
            total_discounts_set: money(shop_totals.discount, presented_totals.discount),
            total_shipping_price_set: money(shop_totals.shipping, presented_totals.shipping),
            total_tax_set: money(shop_totals.tax, presented_totals.tax),
            total_price_set: money(shop_totals.total, presented_totals.total),
            total_refunded_set: money(refunded, to_presented(refunded)),
            current_total_price_set: money(current_total, to_presented(current_total)),
            refunds,
        };
        OrderRecord {
            index: o,
            order,
            line_items: lines.into_iter().map(|l| l.node).collect(),
            buyer,
            person,
        }
    }

    /// The person number of the walk-in (no contact details) behind guest order `o`.
    fn anonymous_person(&self, o: u64) -> u64 {
        self.shops * (self.customers + self.guests) + self.shop * self.orders + o
    }

    /// Company `c` (0-based) of this shop, with its locations and contacts.
    pub fn company(&self, c: u64) -> CompanyRecord {
        let (mut rng, word) = self.company_start(c);
        let name = format!("{word}{}", rng.pick(COMPANY_SUFFIXES));
        let country: &'static Country = if rng.chance(0.7) {
            self.country
        } else {
            rng.pick(COUNTRIES)
        };
        let external_id = match rng.below(10) {
            0..=5 => Some(format!("ERP-{c:05}")),
            // The merchant already keeps the Salesforce Account Id there.
            6 => Some(format!("001Dn{:010X}", hash(&[self.seed, c]) % (1 << 40))),
            _ => None,
        };
        let note = rng.chance(0.2).then(|| {
            rng.pick(&[
                "Net 30 terms.\nCredit limit: 5,000",
                "Tax-exempt; certificate on file (\"EX-77\")",
                "Ships only Mon–Wed",
            ])
            .to_string()
        });
        let created = ts_between(&mut rng, SHOP_OPENED, Ts(NOW.0 - 30 * DAY));
        let customer_since = if rng.chance(0.3) {
            ts_between(&mut rng, Ts(SHOP_OPENED.0 - 2000 * DAY), created)
        } else {
            created
        };
        let updated = ts_between(&mut rng, created, NOW);
        let company_gid = Gid::new("Company", self.id(COMPANY_BASE, c));
        let main_phone = people::national_number(
            country,
            // Numbers from the top of the plan, far from the people's.
            people::NUMBERS_PER_COUNTRY - 1 - (self.shop * 100_000 + c) % 2_000_000,
        );
        let address = |rng: &mut Rng| {
            let city = rng.pick(country.cities);
            CompanyAddressNode {
                address1: Self::street(
                    country,
                    rng.index(country.streets.len()),
                    rng.between(1, 300),
                ),
                address2: rng
                    .weighted(&[
                        (None, 70),
                        (Some("Loading dock 3"), 15),
                        (Some("Attn: Accounts Payable\nBuilding 2"), 15),
                    ])
                    .map(str::to_string),
                city: city.name,
                province: city.province,
                zone_code: city.province_code,
                country_code: country.code,
                zip: Self::zip(rng, country, city.zip),
                recipient: rng.chance(0.5).then(|| name.clone()),
            }
        };
        let (first_location, last_location) = (
            self.location_start[c as usize],
            self.location_start[c as usize + 1],
        );
        let locations = (first_location..last_location)
            .enumerate()
            .map(|(l, index)| {
                let billing = address(&mut rng);
                let shipping = match rng.below(10) {
                    0..=6 => Some(billing.clone()),
                    7..=8 => Some(address(&mut rng)),
                    _ => None,
                };
                let location_name = match l {
                    0 => rng.pick(&["HQ", "Head Office", "Main"]).to_string(),
                    _ => format!(
                        "{} — {}, \"{}\"",
                        word,
                        billing.city,
                        rng.pick(&["North", "Dock", "Outlet"])
                    ),
                };
                let phone = rng.chance(0.9).then(|| {
                    write_phone(
                        country,
                        &main_phone,
                        &mut rng,
                        PhoneStyle::Any {
                            national_ok: true,
                            extension: l > 0,
                        },
                    )
                });
                LocationNode {
                    id: Gid::new("CompanyLocation", self.id(LOCATION_BASE, index)),
                    name: location_name,
                    external_id: rng.chance(0.5).then(|| format!("LOC-{c}-{l}")),
                    phone,
                    locale: country.locale,
                    billing_address: billing,
                    shipping_address: shipping,
                    parent_id: company_gid,
                }
            })
            .collect();
        let has_main = rng.chance(0.9);
        let contacts = (self.contact_start[c as usize]..self.contact_start[c as usize + 1])
            .enumerate()
            .map(|(k, n)| {
                let customer = self.customer(n).customer;
                let default_email_address = match (
                    &customer.default_email_address,
                    &customer.email_marketing_consent,
                ) {
                    (Some(e), _) => e.clone(),
                    (None, Some(Some(c))) => customer.email_address().map(|e| EmailAddressNode {
                        email_address: e.to_string(),
                        marketing_state: c.marketing_state,
                        marketing_opt_in_level: c.marketing_opt_in_level,
                        marketing_updated_at: c.consent_updated_at,
                    }),
                    _ => None,
                };
                ContactNode {
                    id: Gid::new("CompanyContact", self.id(CONTACT_BASE, n)),
                    title: (*rng.weighted(TITLES)).map(str::to_string),
                    is_main_contact: has_main && k == 0,
                    locale: customer.locale,
                    customer: ContactCustomerNode {
                        id: customer.id,
                        email: customer.email_address().map(str::to_string),
                        phone: customer.phone_number().map(str::to_string),
                        first_name: customer.first_name,
                        last_name: customer.last_name,
                        tags: customer.tags,
                        default_email_address,
                    },
                    parent_id: company_gid,
                }
            })
            .collect();
        CompanyRecord {
            index: c,
            company: CompanyNode {
                id: company_gid,
                name,
                external_id,
                note,
                created_at: created,
                updated_at: updated,
                customer_since,
            },
            locations,
            contacts,
        }
    }

    pub fn customers(&self) -> impl Iterator<Item = CustomerRecord> + '_ {
        (0..self.customers).map(move |n| self.customer(n))
    }

    pub fn orders(&self) -> impl Iterator<Item = OrderRecord> + '_ {
        (0..self.orders).map(move |o| self.order(o))
    }

    pub fn companies(&self) -> impl Iterator<Item = CompanyRecord> + '_ {
        (0..self.company_count()).map(move |c| self.company(c))
    }

    /// The shuffler of one file's lines (the same one the file writer uses).
    pub(super) fn shuffler(&self, file: ExportFile) -> ShuffleBuffer {
        ShuffleBuffer::new(
            Rng::new(self.seed, Stream::Shuffle, self.shop, file as u64),
            file.window(),
        )
    }

    /// `lines` passed through the shuffle window [`super::generate`] uses for `file`: the
    /// records of [`ShopGenerator::lines`], or a subset of them, in a bulk operation's order.
    pub fn shuffle<I: Iterator<Item = Line>>(&self, file: ExportFile, lines: I) -> Shuffled<I> {
        Shuffled {
            inner: lines,
            buffer: self.shuffler(file),
        }
    }

    /// The lines of one file, exactly as [`super::generate`] writes them.
    pub fn lines(&self, file: ExportFile) -> Shuffled<Box<dyn Iterator<Item = Line> + '_>> {
        let records: Box<dyn Iterator<Item = Line> + '_> = match file {
            ExportFile::Customers => {
                Box::new(self.customers().flat_map(CustomerRecord::into_lines))
            }
            ExportFile::Orders => Box::new(self.orders().flat_map(OrderRecord::into_lines)),
            ExportFile::Companies => Box::new(self.companies().flat_map(CompanyRecord::into_lines)),
        };
        Shuffled {
            inner: records,
            buffer: self.shuffler(file),
        }
    }
}

/// Holds back up to `window` lines and releases a random one for each pushed past that.
pub struct ShuffleBuffer {
    rng: Rng,
    window: usize,
    held: Vec<Line>,
}

impl ShuffleBuffer {
    fn new(rng: Rng, window: usize) -> ShuffleBuffer {
        ShuffleBuffer {
            rng,
            window: window.max(1),
            held: Vec::with_capacity(window + 1),
        }
    }

    /// Takes a line; returns one to write once the window is full.
    pub fn push(&mut self, line: Line) -> Option<Line> {
        self.held.push(line);
        (self.held.len() > self.window).then(|| self.pop_any())
    }

    fn pop_any(&mut self) -> Line {
        let i = self.rng.index(self.held.len());
        self.held.swap_remove(i)
    }

    /// The lines still held, in release order, one at a time.
    pub fn drain_one(&mut self) -> Option<Line> {
        (!self.held.is_empty()).then(|| self.pop_any())
    }
}

/// An iterator of lines passed through a [`ShuffleBuffer`].
pub struct Shuffled<I> {
    inner: I,
    buffer: ShuffleBuffer,
}

impl<I: Iterator<Item = Line>> Iterator for Shuffled<I> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        for line in self.inner.by_ref() {
            if let Some(out) = self.buffer.push(line) {
                return Some(out);
            }
        }
        self.buffer.drain_one()
    }
}
