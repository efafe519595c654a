//! Shopify objects → Salesforce rows. Pure functions: values in, rows (or a reason the
//! record cannot be written) out.

use crate::shopify::model::{
    Address, Company, CompanyLocation, Consent, Customer, LineItem, Order, legacy_id,
};

use super::row::{Cell, Row};
use super::target::Target;

/// Salesforce requires `Contact.LastName`; Shopify does not. This is what a customer without
/// one gets (the text Salesforce itself uses for missing required lead data).
pub const MISSING_LAST_NAME: &str = "[not provided]";

/// How B2C customers get the Account every Contact and Order needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountModel {
    /// One Account per customer, keyed on `Account.Shopify_Customer_ID__c`.
    PerCustomer,
    /// One shared Account per shop for all B2C customers.
    Bucket,
    /// One Person Account per customer (orgs with Person Accounts enabled), keyed on
    /// `Account.Shopify_Customer_ID__c`; its person contact carries the same id in
    /// `Shopify_Customer_ID__pc`, so orders bill to it by relationship.
    PersonAccount,
}

/// Facts every row builder needs.
#[derive(Debug, Clone)]
pub struct MappingContext {
    /// The shop's `*.myshopify.com` domain (written to `Shopify_Store__c`).
    pub shop: String,
    /// The org's currency (ISO code): a single-currency org rejects prices in any other.
    pub org_currency: String,
    /// Id of the org's standard price book.
    pub standard_pricebook_id: String,
    pub account_model: AccountModel,
    /// Id of the Person Account record type ([`AccountModel::PersonAccount`] only).
    pub person_record_type_id: Option<String>,
}

/// Why a record cannot become a row; it goes to the dead-letter queue, the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    pub target: Target,
    pub key: String,
    pub code: &'static str,
    pub message: String,
    pub hint: &'static str,
}

impl MappingContext {
    /// The key of the shared B2C Account of this shop ([`AccountModel::Bucket`]).
    pub fn bucket_account_key(&self) -> String {
        format!("bucket:{}", self.shop)
    }

    /// The key of the Account that holds guest checkouts (orders without a customer).
    pub fn guest_account_key(&self) -> String {
        format!("guest:{}", self.shop)
    }

    /// The key of the Contact that guest checkouts are billed to.
    pub fn guest_contact_key(&self) -> String {
        format!("guest:{}", self.shop)
    }

    /// The B2C Account key a customer's Contact and Orders point at.
    pub fn customer_account_key(&self, customer_gid: &str) -> String {
        match self.account_model {
            AccountModel::PerCustomer | AccountModel::PersonAccount => {
                legacy_id(customer_gid).to_string()
            }
            AccountModel::Bucket => self.bucket_account_key(),
        }
    }

    fn store(&self) -> Cell {
        Cell::Text(self.shop.clone())
    }
}

fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn address_cells(address: Option<&Address>) -> [Cell; 5] {
    let a = address.cloned().unwrap_or_default();
    [
        Cell::clear_if_none(a.street()),
        Cell::clear_if_none(text(a.city.as_deref())),
        Cell::clear_if_none(text(a.province_code.as_deref().or(a.province.as_deref()))),
        Cell::clear_if_none(text(a.zip.as_deref())),
        Cell::clear_if_none(text(a.country_code().or(a.country.as_deref()))),
    ]
}

/// Shopify's consent state → the `Email_Consent_Status__c` / `SMS_Consent_Status__c`
/// picklist value. Unknown states map to nothing (the field is left as it is).
pub fn consent_status(state: &str) -> Option<&'static str> {
    Some(match state.to_ascii_uppercase().as_str() {
        "SUBSCRIBED" => "Subscribed",
        "NOT_SUBSCRIBED" => "Not Opted In",
        "PENDING" => "Pending",
        "UNSUBSCRIBED" => "Unsubscribed",
        "REDACTED" => "Redacted",
        "INVALID" => "Invalid",
        _ => return None,
    })
}

/// The Contact columns that carry email consent (left as they are when the CRM's consent
/// stands).
pub const EMAIL_CONSENT_COLUMNS: [&str; 4] = [
    "HasOptedOutOfEmail",
    "Email_Consent_Status__c",
    "Email_Consent_Updated_At__c",
    "Email_Opt_In_Level__c",
];

/// `HasOptedOutOfEmail`: only a customer Shopify reports as subscribed may be emailed;
/// every other known state opts out. An unknown state leaves the field alone rather than
/// guess (never upgrade consent by mistake).
pub fn has_opted_out_of_email(consent: &Consent) -> Option<bool> {
    let state = consent.state.as_deref()?;
    consent_status(state).map(|s| s != "Subscribed")
}

fn opt_in_level(level: Option<&str>) -> Option<String> {
    let level = level?.to_ascii_uppercase();
    matches!(
        level.as_str(),
        "SINGLE_OPT_IN" | "CONFIRMED_OPT_IN" | "UNKNOWN"
    )
    .then_some(level)
}

fn contact_common(ctx: &MappingContext, customer: &Customer) -> Vec<Cell> {
    let email = customer.email_consent();
    let sms = customer.sms_consent();
    let last_name =
        text(customer.last_name.as_deref()).unwrap_or_else(|| MISSING_LAST_NAME.to_string());
    let mut cells = vec![
        Cell::clear_if_none(text(customer.first_name.as_deref())),
        Cell::Text(last_name),
        Cell::clear_if_none(customer.email().map(str::to_string)),
        Cell::clear_if_none(customer.phone().map(str::to_string)),
    ];
    cells.extend(address_cells(customer.default_address.as_ref()));
    cells.extend([
        has_opted_out_of_email(&email).map_or(Cell::Keep, Cell::bool),
        Cell::keep_if_none(email.state.as_deref().and_then(consent_status)),
        Cell::keep_if_none(email.updated_at.clone()),
        Cell::keep_if_none(opt_in_level(email.opt_in_level.as_deref())),
        Cell::keep_if_none(sms.state.as_deref().and_then(consent_status)),
        Cell::keep_if_none(sms.updated_at.clone()),
        Cell::clear_if_none((!customer.tags.is_empty()).then(|| customer.tags.join(", "))),
        customer.verified_email.map_or(Cell::Keep, Cell::bool),
        Cell::keep_if_none(customer.created_at.clone()),
        ctx.store(),
    ]);
    cells
}

/// A B2C customer's Contact, under the customer's Account.
pub fn customer_contact(ctx: &MappingContext, customer: &Customer) -> Row {
    let mut cells = vec![
        Cell::Text(legacy_id(&customer.id).to_string()),
        Cell::Text(ctx.customer_account_key(&customer.id)),
    ];
    cells.extend(contact_common(ctx, customer));
    Row::new(Target::CustomerContact, cells)
}

/// A B2C customer linked by identity resolution to an existing Contact (`contact_id`):
/// written by Id, without an Account (the Contact stays where the CRM keeps it). The first
/// customer linked to a Contact gives it the Shopify key (`primary`); a customer of another
/// shop linked to the same person leaves the key as it is.
pub fn contact_link(
    ctx: &MappingContext,
    contact_id: &str,
    customer: &Customer,
    primary: bool,
) -> Row {
    let mut cells = vec![
        Cell::Text(contact_id.to_string()),
        if primary {
            Cell::Text(legacy_id(&customer.id).to_string())
        } else {
            Cell::Keep
        },
    ];
    cells.extend(contact_common(ctx, customer));
    Row::new(Target::ContactLink, cells)
}

/// [`company_contact`] from the company export's copy of the customer, used when the
/// customer is not in the customers export (an incremental export where only the company
/// changed). That copy carries names, email, phone and email consent only, so every other
/// field is left as Salesforce has it rather than cleared.
pub fn company_contact_from_company_export(
    ctx: &MappingContext,
    company_gid: &str,
    customer: &Customer,
    title: Option<&str>,
) -> Row {
    let mut row = company_contact(ctx, company_gid, customer, title);
    let spec = Target::CompanyContact.spec();
    const NOT_IN_THE_COMPANY_EXPORT: &[&str] = &[
        "MailingStreet",
        "MailingCity",
        "MailingState",
        "MailingPostalCode",
        "MailingCountry",
        "Shopify_Tags__c",
    ];
    for (cell, column) in row.cells.iter_mut().zip(spec.columns) {
        if NOT_IN_THE_COMPANY_EXPORT.contains(column) && matches!(cell, Cell::Clear) {
            *cell = Cell::Keep;
        }
    }
    row
}

/// A B2B company contact's Contact, under the company's Account.
pub fn company_contact(
    ctx: &MappingContext,
    company_gid: &str,
    customer: &Customer,
    title: Option<&str>,
) -> Row {
    let mut cells = vec![
        Cell::Text(legacy_id(&customer.id).to_string()),
        Cell::Text(legacy_id(company_gid).to_string()),
        Cell::clear_if_none(text(title)),
    ];
    cells.extend(contact_common(ctx, customer));
    // OwnerId: set by owner routing (`crate::mapping::routing`) when it is on.
    cells.push(Cell::Keep);
    Row::new(Target::CompanyContact, cells)
}

fn customer_display_name(customer: &Customer) -> String {
    let name: Vec<&str> = [
        customer.first_name.as_deref(),
        customer.last_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .collect();
    if !name.is_empty() {
        name.join(" ")
    } else if let Some(email) = customer.email() {
        email.to_string()
    } else {
        format!("Shopify customer {}", legacy_id(&customer.id))
    }
}

/// The B2C Account of one customer ([`AccountModel::PerCustomer`]).
pub fn customer_account(ctx: &MappingContext, customer: &Customer) -> Row {
    let mut cells = vec![
        Cell::Text(legacy_id(&customer.id).to_string()),
        Cell::Text(customer_display_name(customer)),
        Cell::clear_if_none(customer.phone().map(str::to_string)),
    ];
    cells.extend(address_cells(customer.default_address.as_ref()));
    cells.push(ctx.store());
    Row::new(Target::CustomerAccount, cells)
}

/// A B2C customer as a Person Account ([`AccountModel::PersonAccount`]): the Contact
/// fields go to their person-field twins, and `Shopify_Customer_ID__pc` gives the person
/// contact the customer's id, so that orders' `BillToContact` relationship finds it.
pub fn person_account(ctx: &MappingContext, customer: &Customer) -> Row {
    let id = legacy_id(&customer.id).to_string();
    person_account_row(ctx, id, customer)
}

fn person_account_row(ctx: &MappingContext, key: String, customer: &Customer) -> Row {
    let mut cells = vec![
        Cell::Text(key.clone()),
        Cell::keep_if_none(ctx.person_record_type_id.clone()),
        Cell::Text(key),
    ];
    cells.extend(contact_common(ctx, customer));
    Row::new(Target::PersonAccount, cells)
}

/// The Person Account guest checkouts are billed to ([`AccountModel::PersonAccount`]).
pub fn guest_person_account(ctx: &MappingContext) -> Row {
    person_account_row(ctx, ctx.guest_account_key(), &guest_customer())
}

/// A shared Account (the B2C bucket, or guest checkouts).
pub fn shared_account(ctx: &MappingContext, key: String, name: String) -> Row {
    let mut cells = vec![Cell::Text(key), Cell::Text(name), Cell::Keep];
    cells.extend(std::array::from_fn::<_, 5, _>(|_| Cell::Keep));
    cells.push(ctx.store());
    Row::new(Target::CustomerAccount, cells)
}

fn guest_customer() -> Customer {
    Customer {
        id: String::new(),
        last_name: Some("Guest checkouts".to_string()),
        first_name: Some("Shopify".to_string()),
        ..Customer::default()
    }
}

/// The Contact guest checkouts are billed to.
pub fn guest_contact(ctx: &MappingContext) -> Row {
    let guest = guest_customer();
    let mut cells = vec![
        Cell::Text(ctx.guest_contact_key()),
        Cell::Text(ctx.guest_account_key()),
    ];
    cells.extend(contact_common(ctx, &guest));
    Row::new(Target::CustomerContact, cells)
}

/// A B2B company's Account.
pub fn company_account(ctx: &MappingContext, company: &Company) -> Row {
    let name = text(company.name.as_deref())
        .unwrap_or_else(|| format!("Shopify company {}", legacy_id(&company.id)));
    Row::new(
        Target::CompanyAccount,
        vec![
            Cell::Text(legacy_id(&company.id).to_string()),
            Cell::Text(name),
            Cell::clear_if_none(text(company.external_id.as_deref())),
            ctx.store(),
            // OwnerId: set by owner routing (`crate::mapping::routing`) when it is on.
            Cell::Keep,
        ],
    )
}

/// A B2B company location: a child Account of its company's.
pub fn location_account(ctx: &MappingContext, location: &CompanyLocation) -> Row {
    let name = text(location.name.as_deref())
        .unwrap_or_else(|| format!("Shopify location {}", legacy_id(&location.id)));
    let mut cells = vec![
        Cell::Text(legacy_id(&location.id).to_string()),
        Cell::Text(legacy_id(&location.parent_id).to_string()),
        Cell::Text(name),
        Cell::clear_if_none(text(location.phone.as_deref())),
    ];
    cells.extend(address_cells(
        location
            .billing_address
            .as_ref()
            .or(location.shipping_address.as_ref()),
    ));
    cells.push(ctx.store());
    // OwnerId: set by owner routing (`crate::mapping::routing`) when it is on.
    cells.push(Cell::Keep);
    Row::new(Target::LocationAccount, cells)
}

/// Active ISO 4217 currency codes (and the ones Shopify still reports for older orders).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR",
    "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB",
    "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD",
    "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD",
    "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR",
    "ZMW", "ZWG", "ZWL",
];

/// A known ISO 4217 code, or `None`.
fn currency_code(code: Option<&str>) -> Option<&str> {
    code.filter(|c| ISO_4217.binary_search(c).is_ok())
}

fn check_currency(
    ctx: &MappingContext,
    target: Target,
    key: &str,
    code: Option<&str>,
) -> Result<(), MappingError> {
    match currency_code(code) {
        None => Err(MappingError {
            target,
            key: key.to_string(),
            code: "UNKNOWN_CURRENCY",
            message: format!(
                "currency code {:?} is not an ISO 4217 code",
                code.unwrap_or("(none)")
            ),
            hint: "Shopify sent no usable currency for this record; check the bulk query selects currencyCode",
        }),
        Some(c) if !c.eq_ignore_ascii_case(&ctx.org_currency) => Err(MappingError {
            target,
            key: key.to_string(),
            code: "CURRENCY_NOT_IN_ORG",
            message: format!(
                "amounts are in {c} but the Salesforce org's currency is {}",
                ctx.org_currency
            ),
            hint: "enable multi-currency in Salesforce with this currency, or set salesforce.currency in shopforce.toml to the org's currency",
        }),
        Some(_) => Ok(()),
    }
}

fn decimal(amount: &str) -> Option<String> {
    let trimmed = amount.trim();
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|_| trimmed.to_string())
}

/// The Order of a Shopify order. Its Account is the customer's (B2C), the company
/// location's (B2B), or the shop's guest-checkout Account.
///
/// `buyer_company` is the company (gid or legacy id) of the order's customer when that
/// customer is a B2B company contact: an order they placed without a purchasing company
/// still belongs under their company's Account, where their Contact is.
pub fn order(
    ctx: &MappingContext,
    order: &Order,
    buyer_company: Option<&str>,
) -> Result<Row, MappingError> {
    let key = legacy_id(&order.id).to_string();
    let fail = |code: &'static str, message: String, hint: &'static str| MappingError {
        target: Target::CustomerOrder,
        key: key.clone(),
        code,
        message,
        hint,
    };
    let total = order.total();
    let currency = total
        .and_then(|m| m.currency_code.as_deref())
        .or(order.currency_code.as_deref());
    check_currency(ctx, Target::CustomerOrder, &key, currency)?;
    let effective = order
        .processed_at
        .as_deref()
        .or(order.created_at.as_deref())
        .filter(|d| d.len() >= 10 && d.is_char_boundary(10))
        .map(|d| d[..10].to_string())
        .ok_or_else(|| {
            fail(
                "MISSING_DATE",
                "the order has neither processedAt nor createdAt".to_string(),
                "select processedAt in the orders bulk query",
            )
        })?;
    let amount = match total {
        Some(m) => Some(decimal(&m.amount).ok_or_else(|| {
            fail(
                "BAD_AMOUNT",
                format!("total {:?} is not a number", m.amount),
                "check totalPriceSet.shopMoney.amount in the export",
            )
        })?),
        None => None,
    };
    let b2c = match ctx.account_model {
        AccountModel::PersonAccount => Target::PersonOrder,
        AccountModel::PerCustomer | AccountModel::Bucket => Target::CustomerOrder,
    };
    let (target, account) = match (order.company_location(), order.customer_id()) {
        (Some(location), _) => (Target::LocationOrder, legacy_id(location).to_string()),
        (None, Some(_)) if let Some(company) = buyer_company => {
            (Target::CompanyOrder, legacy_id(company).to_string())
        }
        (None, Some(customer)) => (b2c, ctx.customer_account_key(customer)),
        (None, None) => (b2c, ctx.guest_account_key()),
    };
    let contact = match order.customer_id() {
        Some(c) => legacy_id(c).to_string(),
        None => ctx.guest_contact_key(),
    };
    let cells = vec![
        Cell::Text(key.clone()),
        Cell::Text(account),
        Cell::Text(contact),
        Cell::Text(ctx.standard_pricebook_id.clone()),
        Cell::Text(effective),
        Cell::Text("Draft".to_string()),
        Cell::clear_if_none(text(order.name.as_deref())),
        Cell::clear_if_none(amount),
        Cell::clear_if_none(currency.map(str::to_string)),
        Cell::clear_if_none(text(order.display_financial_status.as_deref())),
        Cell::clear_if_none(text(order.display_fulfillment_status.as_deref())),
        Cell::clear_if_none(text(order.cancelled_at.as_deref())),
        ctx.store(),
    ];
    Ok(Row::new(target, cells))
}

/// The Product2 key of a line item: its variant, or for custom items (no variant) a key
/// derived from the title so that equal custom items share one product.
pub fn product_key(item: &LineItem) -> String {
    match product_key_source(item) {
        ProductKeySource::Variant(id) => id.to_string(),
        ProductKeySource::Custom(title) => format!(
            "custom-{:016x}",
            super::csv_file::payload_hash([title]) as u64
        ),
    }
}

/// What a line item's product key is made from: its variant's legacy id, or for a custom
/// item its trimmed title.
#[derive(Hash)]
enum ProductKeySource<'a> {
    Variant(&'a str),
    Custom(&'a str),
}

fn product_key_source(item: &LineItem) -> ProductKeySource<'_> {
    match &item.variant {
        Some(v) if !v.id.is_empty() => ProductKeySource::Variant(legacy_id(&v.id)),
        _ => ProductKeySource::Custom(item.title.as_deref().unwrap_or("").trim()),
    }
}

/// The PricebookEntry key: product and currency.
pub fn price_key(product_key: &str, currency: &str) -> String {
    format!("{product_key}-{currency}")
}

/// The rows one line item yields: its Product2, its standard PricebookEntry and its
/// OrderItem.
pub fn line_item(ctx: &MappingContext, item: &LineItem) -> Result<[Row; 3], MappingError> {
    let parts = line_item_parts(ctx, item)?;
    let [product, price] = catalog_rows(ctx, item, &parts);
    Ok([product, price, order_item_row(parts)])
}

/// A line item's OrderItem row alone: for when the Product2 and PricebookEntry rows of an
/// equal [`catalog_fingerprint`] are already spooled (a variant sold on many orders yields
/// the same two rows each time; building them again only to find them repeated was about a
/// fifth of the orders reader's work).
pub fn line_item_alone(ctx: &MappingContext, item: &LineItem) -> Result<Row, MappingError> {
    Ok(order_item_row(line_item_parts(ctx, item)?))
}

/// Fingerprints of what a line item's Product2 and PricebookEntry rows are built from
/// (beside the mapping context, fixed for a run): of the product's key, and of everything
/// else. Line items with equal fingerprints yield equal rows.
pub fn catalog_fingerprint(item: &LineItem) -> (u64, u64) {
    use std::hash::BuildHasher;
    let state = foldhash::fast::FixedState::with_seed(0x0063_6174_616c_6f67);
    // What the product key is made from, so that two items with one key never have two
    // fingerprints (and no key string is built to find out).
    let key = state.hash_one(product_key_source(item));
    let rest = state.hash_one((
        item.variant.as_ref().map(|v| (&v.display_name, &v.sku)),
        &item.name,
        &item.title,
        &item.sku,
        item.product.as_ref().map(|p| p.id.as_str()),
        item.unit_price().map(|m| (&m.amount, &m.currency_code)),
    ));
    (key, rest)
}

/// What a line item's rows share, checked.
struct LineItemParts {
    key: String,
    order: String,
    product: String,
    price_key: String,
    unit_price: String,
    quantity: f64,
    sku: Option<String>,
}

fn line_item_parts(ctx: &MappingContext, item: &LineItem) -> Result<LineItemParts, MappingError> {
    let key = legacy_id(&item.id).to_string();
    let fail = |code: &'static str, message: String, hint: &'static str| MappingError {
        target: Target::OrderItem,
        key: key.clone(),
        code,
        message,
        hint,
    };
    let price = item.unit_price().ok_or_else(|| {
        fail(
            "MISSING_PRICE",
            "the line item has no originalUnitPriceSet".to_string(),
            "select originalUnitPriceSet { shopMoney { amount currencyCode } } in the orders bulk query",
        )
    })?;
    check_currency(ctx, Target::OrderItem, &key, price.currency_code.as_deref())?;
    let currency = price.currency_code.as_deref().unwrap_or_default();
    let unit_price = decimal(&price.amount).ok_or_else(|| {
        fail(
            "BAD_AMOUNT",
            format!("unit price {:?} is not a number", price.amount),
            "check originalUnitPriceSet.shopMoney.amount in the export",
        )
    })?;
    let quantity = item
        .quantity
        .filter(|q| q.is_finite() && *q > 0.0)
        .ok_or_else(|| {
            fail(
                "BAD_QUANTITY",
                format!("quantity {:?} is not a positive number", item.quantity),
                "Salesforce order products need a positive quantity; zero-quantity (fully removed) lines are skipped upstream",
            )
        })?;
    let product = product_key(item);
    let sku = text(item.sku.as_deref())
        .or_else(|| item.variant.as_ref().and_then(|v| text(v.sku.as_deref())));
    Ok(LineItemParts {
        price_key: price_key(&product, currency),
        key,
        order: legacy_id(&item.parent_id).to_string(),
        product,
        unit_price,
        quantity,
        sku,
    })
}

/// The Product2 and standard PricebookEntry rows of a line item.
fn catalog_rows(ctx: &MappingContext, item: &LineItem, parts: &LineItemParts) -> [Row; 2] {
    let name = item
        .variant
        .as_ref()
        .and_then(|v| text(v.display_name.as_deref()))
        .or_else(|| text(item.name.as_deref()))
        .or_else(|| text(item.title.as_deref()))
        .unwrap_or_else(|| format!("Shopify item {}", parts.product));
    let product_row = Row::new(
        Target::Product,
        vec![
            Cell::Text(parts.product.clone()),
            Cell::Text(name),
            Cell::clear_if_none(parts.sku.clone()),
            Cell::bool(true),
            Cell::clear_if_none(item.product.as_ref().map(|p| legacy_id(&p.id).to_string())),
        ],
    );
    let price_row = Row::new(
        Target::PriceEntry,
        vec![
            Cell::Text(parts.price_key.clone()),
            Cell::Text(parts.product.clone()),
            Cell::Text(ctx.standard_pricebook_id.clone()),
            Cell::Text(parts.unit_price.clone()),
            Cell::bool(true),
        ],
    );
    [product_row, price_row]
}

/// The OrderItem row of a line item.
fn order_item_row(parts: LineItemParts) -> Row {
    Row::new(
        Target::OrderItem,
        vec![
            Cell::Text(parts.key),
            Cell::Text(parts.order),
            Cell::Text(parts.price_key),
            Cell::Text(format_quantity(parts.quantity)),
            Cell::Text(parts.unit_price),
            Cell::clear_if_none(parts.sku),
        ],
    )
}

fn format_quantity(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{}", q as i64)
    } else {
        format!("{q}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::target::column;

    fn ctx() -> MappingContext {
        MappingContext {
            shop: "acme.myshopify.com".into(),
            org_currency: "USD".into(),
            standard_pricebook_id: "01s5g0000000000AAA".into(),
            account_model: AccountModel::PerCustomer,
            person_record_type_id: None,
        }
    }

    fn cell<'a>(row: &'a Row, name: &str) -> &'a str {
        row.cells[column(row.target, name)].as_csv()
    }

    #[test]
    fn customer_becomes_contact_with_consent_and_default_last_name() {
        let c: Customer = serde_json::from_str(r#"{"id":"gid://shopify/Customer/7301","firstName":"Ana","createdAt":"2026-09-30T10:00:00Z","tags":["vip","b2b"],"verifiedEmail":true,"defaultEmailAddress":{"emailAddress":"ana@example.com","marketingState":"UNSUBSCRIBED","marketingOptInLevel":"SINGLE_OPT_IN"},"defaultAddress":{"address1":"Rua A 1","address2":"2º","city":"Lisboa","countryCodeV2":"PT","zip":"1000-001"}}"#).unwrap();
        let row = customer_contact(&ctx(), &c);
        assert_eq!(row.key(), "7301");
        assert_eq!(cell(&row, "Account.Shopify_Customer_ID__c"), "7301");
        assert_eq!(cell(&row, "LastName"), MISSING_LAST_NAME);
        assert_eq!(cell(&row, "Phone"), "#N/A");
        assert_eq!(cell(&row, "MailingStreet"), "Rua A 1\n2º");
        assert_eq!(cell(&row, "HasOptedOutOfEmail"), "true");
        assert_eq!(cell(&row, "Email_Consent_Status__c"), "Unsubscribed");
        assert_eq!(cell(&row, "SMS_Consent_Status__c"), "");
        assert_eq!(cell(&row, "Shopify_Tags__c"), "vip, b2b");
        assert_eq!(cell(&row, "Shopify_Store__c"), "acme.myshopify.com");
    }

    #[test]
    fn only_subscribed_may_be_emailed_and_unknown_states_are_left_alone() {
        let consent = |s: &str| Consent {
            state: Some(s.into()),
            ..Consent::default()
        };
        assert_eq!(has_opted_out_of_email(&consent("SUBSCRIBED")), Some(false));
        for s in [
            "NOT_SUBSCRIBED",
            "PENDING",
            "UNSUBSCRIBED",
            "REDACTED",
            "INVALID",
        ] {
            assert_eq!(has_opted_out_of_email(&consent(s)), Some(true), "{s}");
        }
        assert_eq!(has_opted_out_of_email(&consent("SOMETHING_NEW")), None);
        assert_eq!(has_opted_out_of_email(&Consent::default()), None);
    }

    #[test]
    fn orders_route_to_customer_location_or_guest_accounts() {
        let b2c: Order = serde_json::from_str(r#"{"id":"gid://shopify/Order/1","processedAt":"2026-10-01T09:00:00Z","customer":{"id":"gid://shopify/Customer/5"},"totalPriceSet":{"shopMoney":{"amount":"150.00","currencyCode":"USD"}}}"#).unwrap();
        let row = order(&ctx(), &b2c, None).unwrap();
        assert_eq!(row.target, Target::CustomerOrder);
        assert_eq!(cell(&row, "Account.Shopify_Customer_ID__c"), "5");
        assert_eq!(cell(&row, "EffectiveDate"), "2026-10-01");
        assert_eq!(cell(&row, "Shopify_Total_Price__c"), "150.00");

        let b2b: Order = serde_json::from_str(r#"{"id":"gid://shopify/Order/2","processedAt":"2026-10-01T09:00:00Z","currencyCode":"USD","purchasingEntity":{"location":{"id":"gid://shopify/CompanyLocation/6"},"contact":{"customer":{"id":"gid://shopify/Customer/8"}}}}"#).unwrap();
        let row = order(&ctx(), &b2b, None).unwrap();
        assert_eq!(row.target, Target::LocationOrder);
        assert_eq!(cell(&row, "Account.Shopify_Location_ID__c"), "6");
        assert_eq!(cell(&row, "BillToContact.Shopify_Customer_ID__c"), "8");

        // A company contact buying for themselves: under their company, billed to them.
        let row = order(&ctx(), &b2c, Some("gid://shopify/Company/9")).unwrap();
        assert_eq!(row.target, Target::CompanyOrder);
        assert_eq!(cell(&row, "Account.Shopify_Company_ID__c"), "9");
        assert_eq!(cell(&row, "BillToContact.Shopify_Customer_ID__c"), "5");
        // The purchasing location still decides a B2B order.
        let row = order(&ctx(), &b2b, Some("9")).unwrap();
        assert_eq!(row.target, Target::LocationOrder);

        let guest: Order = serde_json::from_str(r#"{"id":"gid://shopify/Order/3","createdAt":"2026-10-02T00:00:00Z","currencyCode":"USD"}"#).unwrap();
        let row = order(&ctx(), &guest, None).unwrap();
        assert_eq!(
            cell(&row, "Account.Shopify_Customer_ID__c"),
            "guest:acme.myshopify.com"
        );
    }

    #[test]
    fn unknown_or_foreign_currency_is_a_mapping_error() {
        let eur: Order = serde_json::from_str(r#"{"id":"gid://shopify/Order/1","processedAt":"2026-10-01","totalPriceSet":{"shopMoney":{"amount":"1","currencyCode":"EUR"}}}"#).unwrap();
        assert_eq!(
            order(&ctx(), &eur, None).unwrap_err().code,
            "CURRENCY_NOT_IN_ORG"
        );
        for code in ["dollars", "XYZ", "usd"] {
            let text = format!(
                r#"{{"id":"gid://shopify/Order/1","processedAt":"2026-10-01","currencyCode":"{code}"}}"#
            );
            let bad: Order = serde_json::from_str(&text).unwrap();
            let e = order(&ctx(), &bad, None).unwrap_err();
            assert_eq!(e.code, "UNKNOWN_CURRENCY");
            assert!(e.message.contains(code));
        }
        assert!(
            ISO_4217.windows(2).all(|w| w[0] < w[1]),
            "sorted for binary search"
        );
    }

    #[test]
    fn line_item_yields_product_price_entry_and_order_item() {
        let item: LineItem = serde_json::from_str(r#"{"id":"gid://shopify/LineItem/2001","sku":"SKU-1","title":"Widget A","quantity":2,"originalUnitPriceSet":{"shopMoney":{"amount":"50.00","currencyCode":"USD"}},"product":{"id":"gid://shopify/Product/3001"},"variant":{"id":"gid://shopify/ProductVariant/4001"},"__parentId":"gid://shopify/Order/1001"}"#).unwrap();
        let [product, price, line] = line_item(&ctx(), &item).unwrap();
        assert_eq!(product.key(), "4001");
        assert_eq!(cell(&product, "ProductCode"), "SKU-1");
        assert_eq!(price.key(), "4001-USD");
        assert_eq!(cell(&price, "Product2.Shopify_Variant_ID__c"), "4001");
        assert_eq!(line.key(), "2001");
        assert_eq!(cell(&line, "Order.Shopify_Order_ID__c"), "1001");
        assert_eq!(
            cell(&line, "PricebookEntry.Shopify_Price_Key__c"),
            "4001-USD"
        );
        assert_eq!(cell(&line, "Quantity"), "2");

        let custom: LineItem = serde_json::from_str(r#"{"id":"gid://shopify/LineItem/2002","title":"Gift wrap","quantity":1,"originalUnitPriceSet":{"shopMoney":{"amount":"5","currencyCode":"USD"}},"variant":null,"__parentId":"gid://shopify/Order/1001"}"#).unwrap();
        let [p, _, _] = line_item(&ctx(), &custom).unwrap();
        assert!(p.key().starts_with("custom-"));
    }

    #[test]
    fn catalog_fingerprints_are_equal_exactly_when_the_catalogue_rows_are() {
        let base = r#"{"id":"gid://shopify/LineItem/2001","sku":"SKU-1","title":"Widget A","name":"Widget A - Red","quantity":2,"originalUnitPriceSet":{"shopMoney":{"amount":"50.00","currencyCode":"USD"}},"product":{"id":"gid://shopify/Product/3001"},"variant":{"id":"gid://shopify/ProductVariant/4001","sku":"V-SKU","displayName":"Widget A - Red"},"__parentId":"gid://shopify/Order/1001"}"#;
        let item = |edit: &dyn Fn(&mut LineItem)| {
            let mut item: LineItem = serde_json::from_str(base).unwrap();
            edit(&mut item);
            item
        };
        let first = item(&|_| {});
        let [product, price, _] = line_item(&ctx(), &first).unwrap();
        // Another order, line and quantity: the same catalogue rows, the same fingerprints,
        // and the OrderItem row alone is the full build's.
        let again = item(&|i| {
            i.id = "gid://shopify/LineItem/2002".into();
            i.parent_id = "gid://shopify/Order/1002".into();
            i.quantity = Some(5.0);
        });
        assert_eq!(catalog_fingerprint(&again), catalog_fingerprint(&first));
        let [p, pr, row] = line_item(&ctx(), &again).unwrap();
        assert_eq!((p, pr), (product, price));
        assert_eq!(line_item_alone(&ctx(), &again).unwrap(), row);
        // Anything the catalogue rows are built from changes the second fingerprint (the
        // first is the product key's).
        let changes: [&dyn Fn(&mut LineItem); 7] = [
            &|i| {
                i.original_unit_price_set
                    .as_mut()
                    .unwrap()
                    .shop_money
                    .as_mut()
                    .unwrap()
                    .amount = "45.00".into()
            },
            &|i| i.variant.as_mut().unwrap().display_name = Some("Widget A - Blue".into()),
            &|i| i.variant.as_mut().unwrap().sku = None,
            &|i| i.sku = None,
            &|i| i.name = None,
            &|i| i.title = Some("Widget B".into()),
            &|i| i.product = None,
        ];
        for (n, change) in changes.iter().enumerate() {
            let changed = item(change);
            let (key, inputs) = catalog_fingerprint(&changed);
            assert_eq!(key, catalog_fingerprint(&first).0, "change {n}");
            assert_ne!(inputs, catalog_fingerprint(&first).1, "change {n}");
        }
        // Another variant is another product.
        let other_variant =
            item(&|i| i.variant.as_mut().unwrap().id = "gid://shopify/ProductVariant/4002".into());
        assert_ne!(
            catalog_fingerprint(&other_variant).0,
            catalog_fingerprint(&first).0
        );
        let custom = item(&|i| i.variant = None);
        let custom_again = item(&|i| {
            i.variant = None;
            i.title = Some("  Widget A ".into());
        });
        assert_eq!(
            catalog_fingerprint(&custom).0,
            catalog_fingerprint(&custom_again).0,
            "a custom item's key is its trimmed title"
        );
    }

    #[test]
    fn bucket_model_points_every_customer_at_one_account() {
        let mut c = ctx();
        c.account_model = AccountModel::Bucket;
        let customer = Customer {
            id: "gid://shopify/Customer/9".into(),
            ..Customer::default()
        };
        let row = customer_contact(&c, &customer);
        assert_eq!(
            cell(&row, "Account.Shopify_Customer_ID__c"),
            "bucket:acme.myshopify.com"
        );
    }

    #[test]
    fn a_contact_from_the_company_export_leaves_what_that_export_lacks() {
        let c = ctx();
        let customer = Customer {
            id: "gid://shopify/Customer/42".into(),
            last_name: Some("Okafor".into()),
            ..Customer::default()
        };
        let full = company_contact(&c, "gid://shopify/Company/7", &customer, None);
        let partial =
            company_contact_from_company_export(&c, "gid://shopify/Company/7", &customer, None);
        let columns = Target::CompanyContact.spec().columns;
        let cell = |row: &Row, name: &str| {
            row.cells[columns.iter().position(|c| *c == name).unwrap()].clone()
        };
        assert_eq!(cell(&full, "MailingCity"), Cell::Clear);
        assert_eq!(cell(&partial, "MailingCity"), Cell::Keep);
        assert_eq!(cell(&partial, "Shopify_Tags__c"), Cell::Keep);
        // What the company export does carry is written as usual.
        assert_eq!(cell(&partial, "LastName"), Cell::Text("Okafor".into()));
        assert_eq!(cell(&partial, "Email"), Cell::Clear);
    }
}
