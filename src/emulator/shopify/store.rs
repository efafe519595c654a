//! The shops' data: generated records (rebuilt on demand from seed and index, so memory does
//! not grow with the store) plus an overlay of what changed since start-up (customer email and
//! consent, orders added, metafields). Every change stamps `updatedAt` with the emulator clock.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value as Json, json};

use super::customer::{ContactPoints, MarketingConsent};
use crate::shopify::generate::records::{
    IdRef, LineItemNode, Money, MoneyBag, OrderNode, PurchasingEntityNode,
};
use crate::shopify::generate::values::Currency;
use crate::shopify::generate::{
    Buyer, CompanyRecord, CustomerRecord, Gid, OrderRecord, ShopGenerator, ShopInfo, Ts,
};

/// The email marketing states a customer's `defaultEmailAddress` can hold
/// (`CustomerEmailAddressMarketingState`) plus `REDACTED` of the deprecated
/// `emailMarketingConsent` (`CustomerEmailMarketingState`).
pub const EMAIL_STATES: [&str; 6] = [
    "SUBSCRIBED",
    "NOT_SUBSCRIBED",
    "UNSUBSCRIBED",
    "PENDING",
    "INVALID",
    "REDACTED",
];

/// `CustomerMarketingOptInLevel`.
pub const OPT_IN_LEVELS: [&str; 3] = ["SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"];

/// The `&'static` spelling of a known enum value.
pub fn known(values: &[&'static str], value: &str) -> Option<&'static str> {
    values.iter().copied().find(|v| *v == value)
}

/// A gid split into its type and numeric id (`gid://shopify/Customer/7` → `("Customer", 7)`);
/// a query-string suffix is ignored.
pub fn parse_gid(gid: &str) -> Option<(&str, u64)> {
    let rest = gid.strip_prefix("gid://shopify/")?;
    let (kind, id) = rest.split_once('/')?;
    let id = id.split('?').next()?;
    if kind.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, id.parse().ok()?))
}

/// What changed on one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub email: Option<String>,
    /// The email marketing consent.
    pub consent: Option<MarketingConsent>,
    pub updated_at: Option<Ts>,
}

/// A metafield as `metafieldsSet` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metafield {
    pub id: u64,
    pub owner: String,
    pub namespace: String,
    pub key: String,
    pub kind: String,
    pub value: String,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl Metafield {
    pub fn gid(&self) -> String {
        format!("gid://shopify/Metafield/{}", self.id)
    }

    /// The compare-and-set token of the current value (opaque to clients).
    pub fn compare_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.namespace.as_bytes());
        h.update([0]);
        h.update(self.key.as_bytes());
        h.update([0]);
        h.update(self.value.as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The `Metafield` object (every field; the selection picks).
    pub fn to_json(&self) -> Json {
        let owner_type = parse_gid(&self.owner)
            .map(|(k, _)| k.to_ascii_uppercase())
            .unwrap_or_default();
        let json_value = match self.kind.as_str() {
            "json" | "number_integer" | "number_decimal" | "boolean" => {
                serde_json::from_str(&self.value).unwrap_or(Json::String(self.value.clone()))
            }
            _ => Json::String(self.value.clone()),
        };
        json!({
            "__typename": "Metafield",
            "id": self.gid(),
            "namespace": self.namespace,
            "key": self.key,
            "type": self.kind,
            "value": self.value,
            "jsonValue": json_value,
            "compareDigest": self.compare_digest(),
            "ownerType": owner_type,
            "createdAt": self.created_at.to_string(),
            "updatedAt": self.updated_at.to_string(),
        })
    }
}

/// Everything changed since start-up, for one shop. Small: it grows with changes only.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    /// By customer index.
    pub customers: HashMap<u64, CustomerPatch>,
    /// Orders added after generation; order index = generated count + position.
    pub orders: Vec<OrderRecord>,
    /// By owner gid, in creation order.
    pub metafields: BTreeMap<String, Vec<Metafield>>,
    pub next_metafield: u64,
}

/// One shop: its generator and what it looks like (`domain` may differ from the
/// generator's when `--shop DOMAIN` names it).
pub struct ShopData {
    pub generator: ShopGenerator,
    pub info: ShopInfo,
}

/// A consistent read of one shop: its generated records with an overlay applied.
pub struct ShopView<'a> {
    pub data: &'a ShopData,
    pub overlay: &'a Overlay,
}

impl<'a> ShopView<'a> {
    pub fn new(data: &'a ShopData, overlay: &'a Overlay) -> ShopView<'a> {
        ShopView { data, overlay }
    }

    fn generator(&self) -> &ShopGenerator {
        &self.data.generator
    }

    pub fn customer_count(&self) -> u64 {
        self.generator().customer_count()
    }

    pub fn order_count(&self) -> u64 {
        self.generator().order_count() + self.overlay.orders.len() as u64
    }

    pub fn company_count(&self) -> u64 {
        self.generator().company_count()
    }

    /// The index of a customer gid of this shop.
    pub fn customer_index(&self, gid: &str) -> Option<u64> {
        match parse_gid(gid)? {
            ("Customer", id) => self.generator().customer_index(id),
            _ => None,
        }
    }

    pub fn order_index(&self, gid: &str) -> Option<u64> {
        match parse_gid(gid)? {
            ("Order", id) => self
                .generator()
                .order_index(id)
                .filter(|o| *o < self.order_count()),
            _ => None,
        }
    }

    pub fn company_index(&self, gid: &str) -> Option<u64> {
        match parse_gid(gid)? {
            ("Company", id) => self.generator().company_index(id),
            _ => None,
        }
    }

    /// Customer `n` as it is now, its email and phone in both API shapes (see
    /// [`super::customer`]).
    pub fn customer(&self, n: u64) -> CustomerRecord {
        let mut record = self.generator().customer(n);
        let patch = self.overlay.customers.get(&n);
        let mut points = ContactPoints::of(&record.customer);
        if let Some(patch) = patch {
            points.apply(patch);
            if let Some(ts) = patch.updated_at {
                record.customer.updated_at = ts;
            }
        }
        points.write(&mut record.customer);
        record
    }

    /// Customer `n`'s email and phone with their consent, as they are now.
    pub fn contact_points(&self, n: u64) -> ContactPoints {
        let mut points = ContactPoints::of(&self.generator().customer(n).customer);
        if let Some(patch) = self.overlay.customers.get(&n) {
            points.apply(patch);
        }
        points
    }

    /// Order `o` as it is now (generated, or added since start-up).
    pub fn order(&self, o: u64) -> Option<OrderRecord> {
        let generated = self.generator().order_count();
        if o < generated {
            Some(self.generator().order(o))
        } else {
            self.overlay.orders.get((o - generated) as usize).cloned()
        }
    }

    /// Company `c`, its contacts' customers as they are now.
    pub fn company(&self, c: u64) -> CompanyRecord {
        let mut record = self.generator().company(c);
        for contact in &mut record.contacts {
            if let Some(n) = self.customer_index(&contact.customer.id.to_string()) {
                self.contact_points(n).write_contact(&mut contact.customer);
            }
        }
        record
    }

    /// Customer `n` as a JSON object (the `Customer` fields the store has).
    pub fn customer_json(&self, n: u64) -> Json {
        typed(
            serde_json::to_value(&self.customer(n).customer).unwrap_or(Json::Null),
            "Customer",
        )
    }

    pub fn order_json(&self, o: u64) -> Option<Json> {
        self.order(o).map(|r| {
            typed(
                serde_json::to_value(&r.order).unwrap_or(Json::Null),
                "Order",
            )
        })
    }

    pub fn company_json(&self, c: u64) -> Json {
        typed(
            serde_json::to_value(&self.company(c).company).unwrap_or(Json::Null),
            "Company",
        )
    }

    /// The full object behind a gid, when the store can rebuild it.
    pub fn node_json(&self, gid: &str) -> Option<Json> {
        match parse_gid(gid)?.0 {
            "Customer" => self.customer_index(gid).map(|n| self.customer_json(n)),
            "Order" => self.order_index(gid).and_then(|o| self.order_json(o)),
            "Company" => self.company_index(gid).map(|c| self.company_json(c)),
            _ => None,
        }
    }

    /// The customers whose email is `email` (case-insensitive, as Shopify matches it).
    pub fn customers_with_email(&self, email: &str) -> Vec<u64> {
        (0..self.customer_count())
            .filter(|n| {
                self.customer(*n)
                    .customer
                    .email_address()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .collect()
    }

    pub fn metafields(&self, owner: &str) -> &[Metafield] {
        self.overlay
            .metafields
            .get(owner)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Marks a node's JSON with its type, for projection (`__typename` is only written when
/// selected).
fn typed(mut value: Json, kind: &str) -> Json {
    if let Json::Object(map) = &mut value {
        map.insert("__typename".into(), Json::String(kind.into()));
    }
    value
}

/// A line of an order added through the admin API.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewLineItem {
    pub title: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default = "one")]
    pub quantity: u32,
    /// Unit price in the shop currency, a decimal string (`"19.99"`).
    pub price: String,
    #[serde(default)]
    pub variant_id: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
}

fn one() -> u32 {
    1
}

/// `"19.99"` in minor units of a currency with `exponent` decimals.
pub fn parse_price(text: &str, exponent: u8) -> Result<i64, String> {
    let bad = || format!("price {text:?} is not a decimal amount");
    let t = text.trim();
    let (units, frac) = t.split_once('.').unwrap_or((t, ""));
    if units.is_empty()
        || !units.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > usize::from(exponent).max(1)
    {
        return Err(bad());
    }
    let scale = 10i64.pow(u32::from(exponent));
    let units: i64 = units.parse().map_err(|_| bad())?;
    let mut f = frac.to_string();
    while f.len() < usize::from(exponent) {
        f.push('0');
    }
    let frac: i64 = if f.is_empty() || exponent == 0 {
        0
    } else {
        f[..usize::from(exponent)].parse().map_err(|_| bad())?
    };
    units
        .checked_mul(scale)
        .and_then(|u| u.checked_add(frac))
        .ok_or_else(bad)
}

/// Builds an order for customer `n`, placed at `now`, as the next order of the shop.
pub fn build_order(
    view: &ShopView<'_>,
    n: u64,
    lines: &[NewLineItem],
    now: Ts,
) -> Result<OrderRecord, String> {
    let generator = &view.data.generator;
    let o = view.order_count();
    if lines.is_empty() {
        return Err("an order needs at least one line item".into());
    }
    if lines.len() as u64 > generator.max_line_items_per_order() {
        return Err(format!(
            "an order can have at most {} line items here",
            generator.max_line_items_per_order()
        ));
    }
    let currency = Currency::of(view.data.info.currency);
    let customer = view.customer(n).customer;
    let order_gid = generator.order_gid(o);
    let money = |minor: i64| MoneyBag {
        shop_money: Money {
            amount: currency.amount(minor),
            currency_code: currency.code,
        },
        presentment_money: Money {
            amount: currency.amount(minor),
            currency_code: currency.code,
        },
    };
    let mut total = 0i64;
    let mut items = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.quantity == 0 {
            return Err(format!("line item {i}: quantity must be at least 1"));
        }
        let unit = parse_price(&line.price, currency.exponent)
            .map_err(|e| format!("line item {i}: {e}"))?;
        total += unit * i64::from(line.quantity);
        let gid_of = |s: &Option<String>, kind: &'static str| -> Result<Option<IdRef>, String> {
            match s {
                None => Ok(None),
                Some(g) => match parse_gid(g) {
                    Some((k, id)) if k == kind => Ok(Some(IdRef {
                        id: Gid::new(kind, id),
                    })),
                    _ => Err(format!("line item {i}: {g:?} is not a {kind} gid")),
                },
            }
        };
        let variant = gid_of(&line.variant_id, "ProductVariant")?;
        items.push(LineItemNode {
            id: generator.line_item_gid(o, i as u64),
            sku: line.sku.clone(),
            title: line.title.clone(),
            name: line.title.clone(),
            variant_title: None,
            vendor: None,
            quantity: line.quantity,
            current_quantity: line.quantity,
            is_gift_card: false,
            original_unit_price_set: money(unit),
            product: gid_of(&line.product_id, "Product")?,
            variant: variant.map(|v| crate::shopify::generate::records::VariantNode {
                id: v.id,
                sku: line.sku.clone(),
                title: "Default Title".into(),
                display_name: line.title.clone(),
            }),
            parent_id: order_gid,
        });
    }
    let order = OrderNode {
        id: order_gid,
        name: format!("{}{}", view.data.info.order_prefix, 1001 + o),
        created_at: now,
        updated_at: now,
        processed_at: now,
        cancelled_at: None,
        cancel_reason: None,
        closed: false,
        test: false,
        currency_code: currency.code,
        presentment_currency_code: currency.code,
        email: customer.email_address().map(str::to_string),
        phone: None,
        display_financial_status: Some("PAID"),
        display_fulfillment_status: "UNFULFILLED",
        source_name: Some("shopify_draft_order"),
        tags: Vec::new(),
        note: None,
        customer: Some(IdRef { id: customer.id }),
        purchasing_entity: Some(PurchasingEntityNode::Customer {
            typename: "Customer",
            id: customer.id,
        }),
        subtotal_price_set: money(total),
        total_discounts_set: money(0),
        total_shipping_price_set: money(0),
        total_tax_set: money(0),
        total_price_set: money(total),
        total_refunded_set: money(0),
        current_total_price_set: money(total),
        refunds: Vec::new(),
    };
    Ok(OrderRecord {
        index: o,
        order,
        line_items: items,
        buyer: Buyer::Customer { index: n },
        person: view.data.generator.person_of(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::generate::StoreShape;

    fn shop() -> ShopData {
        let shape = StoreShape {
            customers: 40,
            orders: 30,
            companies: 3,
            ..StoreShape::default()
        };
        let generator = ShopGenerator::new(&shape, 0);
        let info = generator.info().clone();
        ShopData { generator, info }
    }

    #[test]
    fn gids_parse_with_and_without_suffixes() {
        assert_eq!(
            parse_gid("gid://shopify/Customer/706405506930370084"),
            Some(("Customer", 706405506930370084))
        );
        assert_eq!(
            parse_gid("gid://shopify/MailingAddress/9?model_name=CustomerAddress"),
            Some(("MailingAddress", 9))
        );
        assert_eq!(parse_gid("gid://shopify/Customer/x"), None);
        assert_eq!(parse_gid("Customer/1"), None);
    }

    #[test]
    fn prices_parse_in_minor_units() {
        assert_eq!(parse_price("19.99", 2), Ok(1999));
        assert_eq!(parse_price("19.9", 2), Ok(1990));
        assert_eq!(parse_price("20", 2), Ok(2000));
        assert_eq!(parse_price("1200", 0), Ok(1200));
        assert!(parse_price("1.234", 2).is_err());
        assert!(parse_price("abc", 2).is_err());
    }

    #[test]
    fn patches_change_either_customer_shape_and_the_contact_copy() {
        let data = shop();
        let mut overlay = Overlay::default();
        // One customer of each generated shape, both with an email.
        let pick = |deprecated: bool| {
            (0..40)
                .find(|n| {
                    let c = data.generator.customer(*n).customer;
                    c.uses_deprecated_fields() == deprecated && c.email_address().is_some()
                })
                .expect("a customer of that shape")
        };
        let (new_shape, old_shape) = (pick(false), pick(true));
        for n in [new_shape, old_shape, 0] {
            overlay.customers.insert(
                n,
                CustomerPatch {
                    email: Some(format!("changed{n}@example.com")),
                    consent: Some(MarketingConsent {
                        state: "UNSUBSCRIBED",
                        opt_in_level: Some("SINGLE_OPT_IN"),
                        updated_at: Some(Ts(1_800_000_000)),
                    }),
                    updated_at: Some(Ts(1_800_000_001)),
                },
            );
        }
        let view = ShopView::new(&data, &overlay);
        for n in [new_shape, old_shape] {
            let c = view.customer(n).customer;
            let expected = format!("changed{n}@example.com");
            // Both shapes, whichever the customer was generated in.
            assert_eq!(c.email, Some(Some(expected.clone())));
            let current = c.default_email_address.clone().flatten().unwrap();
            assert_eq!(current.email_address, expected);
            assert_eq!(current.marketing_state, "UNSUBSCRIBED");
            let legacy = c.email_marketing_consent.clone().flatten().unwrap();
            assert_eq!(legacy.marketing_state, "UNSUBSCRIBED");
            assert_eq!(legacy.consent_updated_at, Some(Ts(1_800_000_000)));
            assert_eq!(c.updated_at, Ts(1_800_000_001));
        }
        // Customer 0 is a company contact (contacts are the first customers).
        let company = view.company(0);
        let contact = company
            .contacts
            .iter()
            .find(|c| c.customer.id == data.generator.customer_gid(0))
            .expect("customer 0 is a contact of company 0");
        assert_eq!(
            contact.customer.email.as_deref(),
            Some("changed0@example.com")
        );
    }

    #[test]
    fn added_orders_follow_the_generated_ones() {
        let data = shop();
        let mut overlay = Overlay::default();
        let view = ShopView::new(&data, &overlay);
        let lines = [NewLineItem {
            title: "Mug".into(),
            sku: Some("MUG-1".into()),
            quantity: 2,
            price: "12.50".into(),
            variant_id: None,
            product_id: None,
        }];
        let order = build_order(&view, 3, &lines, Ts(1_800_000_000)).unwrap();
        assert_eq!(order.index, 30);
        assert_eq!(
            order.order.total_price_set.shop_money.amount.to_string(),
            "25.0"
        );
        assert_eq!(order.line_items[0].parent_id, order.order.id);
        let gid = order.order.id.to_string();
        overlay.orders.push(order);
        let view = ShopView::new(&data, &overlay);
        assert_eq!(view.order_index(&gid), Some(30));
        assert_eq!(view.order_count(), 31);
        assert!(view.order(30).is_some());
        assert!(build_order(&view, 3, &[], Ts(0)).is_err());
    }
}
