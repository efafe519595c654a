//! Shopify Admin GraphQL objects as the bulk-operation JSONL writes them (API 2026-01).
//!
//! Only the fields the engine maps are declared; unknown fields are ignored, so a wider
//! selection never breaks parsing. Both the current customer contact fields
//! (`defaultEmailAddress`, `defaultPhoneNumber`) and the deprecated ones (`email`, `phone`,
//! `emailMarketingConsent`, `smsMarketingConsent`) are accepted; the current ones win.

use serde::Deserialize;

/// `MoneyV2`: amounts are decimal strings in JSON.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub amount: String,
    pub currency_code: Option<String>,
}

/// `MoneyBag`: the shop-currency and presentment-currency amounts.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MoneyBag {
    pub shop_money: Option<Money>,
    pub presentment_money: Option<Money>,
}

/// A `MailingAddress` or B2B `CompanyAddress` (inline on its parent's line).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub country: Option<String>,
    pub country_code_v2: Option<String>,
    /// `CompanyAddress` spells the country code `countryCode`.
    pub country_code: Option<String>,
    /// `CompanyAddress` spells the state code `zoneCode`.
    pub zone_code: Option<String>,
    pub zip: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
}

impl Address {
    /// Street lines joined as Salesforce's multi-line street field holds them.
    pub fn street(&self) -> Option<String> {
        let lines: Vec<&str> = [self.address1.as_deref(), self.address2.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }

    pub fn country_code(&self) -> Option<&str> {
        self.country_code_v2
            .as_deref()
            .or(self.country_code.as_deref())
    }
}

/// `CustomerEmailAddress` (`Customer.defaultEmailAddress`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailAddress {
    pub email_address: Option<String>,
    pub marketing_state: Option<String>,
    pub marketing_opt_in_level: Option<String>,
    pub marketing_updated_at: Option<String>,
}

/// `CustomerPhoneNumber` (`Customer.defaultPhoneNumber`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PhoneNumber {
    pub phone_number: Option<String>,
    pub marketing_state: Option<String>,
    pub marketing_opt_in_level: Option<String>,
    pub marketing_updated_at: Option<String>,
}

/// The deprecated `emailMarketingConsent` / `smsMarketingConsent` objects.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyConsent {
    pub marketing_state: Option<String>,
    pub marketing_opt_in_level: Option<String>,
    pub consent_updated_at: Option<String>,
}

/// Marketing consent for one channel, whichever field it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consent {
    /// Shopify's state enum, upper case (`SUBSCRIBED`, `NOT_SUBSCRIBED`, …).
    pub state: Option<String>,
    pub opt_in_level: Option<String>,
    pub updated_at: Option<String>,
}

/// A reference to another node (`customer { id }`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct NodeRef {
    pub id: String,
}

/// `Customer`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Customer {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub tags: Vec<String>,
    pub verified_email: Option<bool>,
    pub default_email_address: Option<EmailAddress>,
    pub default_phone_number: Option<PhoneNumber>,
    pub default_address: Option<Address>,
    /// Deprecated in 2025-04 in favour of `defaultEmailAddress`.
    pub email: Option<String>,
    /// Deprecated in 2025-04 in favour of `defaultPhoneNumber`.
    pub phone: Option<String>,
    pub email_marketing_consent: Option<LegacyConsent>,
    pub sms_marketing_consent: Option<LegacyConsent>,
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl Customer {
    pub fn email(&self) -> Option<&str> {
        non_blank(
            self.default_email_address
                .as_ref()
                .and_then(|e| e.email_address.as_deref()),
        )
        .or(non_blank(self.email.as_deref()))
    }

    pub fn phone(&self) -> Option<&str> {
        non_blank(
            self.default_phone_number
                .as_ref()
                .and_then(|p| p.phone_number.as_deref()),
        )
        .or(non_blank(self.phone.as_deref()))
    }

    /// Email marketing consent: `defaultEmailAddress` when selected, else the deprecated
    /// `emailMarketingConsent`.
    pub fn email_consent(&self) -> Consent {
        match (&self.default_email_address, &self.email_marketing_consent) {
            (Some(e), _) if e.marketing_state.is_some() => Consent {
                state: e.marketing_state.clone(),
                opt_in_level: e.marketing_opt_in_level.clone(),
                updated_at: e.marketing_updated_at.clone(),
            },
            (_, Some(c)) => Consent {
                state: c.marketing_state.clone(),
                opt_in_level: c.marketing_opt_in_level.clone(),
                updated_at: c.consent_updated_at.clone(),
            },
            _ => Consent::default(),
        }
    }

    pub fn sms_consent(&self) -> Consent {
        match (&self.default_phone_number, &self.sms_marketing_consent) {
            (Some(p), _) if p.marketing_state.is_some() => Consent {
                state: p.marketing_state.clone(),
                opt_in_level: p.marketing_opt_in_level.clone(),
                updated_at: p.marketing_updated_at.clone(),
            },
            (_, Some(c)) => Consent {
                state: c.marketing_state.clone(),
                opt_in_level: c.marketing_opt_in_level.clone(),
                updated_at: c.consent_updated_at.clone(),
            },
            _ => Consent::default(),
        }
    }
}

/// `PurchasingEntity`: a customer, or a B2B company with location and contact.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PurchasingEntity {
    /// `Customer` or `PurchasingCompany` when `__typename` is selected.
    #[serde(rename = "__typename")]
    pub typename: Option<String>,
    /// Set when the entity is a customer.
    pub id: Option<String>,
    pub company: Option<NodeRef>,
    pub location: Option<NodeRef>,
    pub contact: Option<PurchasingContact>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PurchasingContact {
    pub id: Option<String>,
    pub customer: Option<NodeRef>,
}

/// `Order` (its line items are separate lines).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Order {
    pub id: String,
    pub name: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub processed_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub currency_code: Option<String>,
    pub display_financial_status: Option<String>,
    pub display_fulfillment_status: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub customer: Option<NodeRef>,
    pub total_price_set: Option<MoneyBag>,
    /// What was refunded so far (all refunds together).
    pub total_refunded_set: Option<MoneyBag>,
    /// A test order (placed with Shopify's bogus gateway).
    pub test: bool,
    pub purchasing_entity: Option<PurchasingEntity>,
}

impl Order {
    /// The order total in the shop's currency.
    pub fn total(&self) -> Option<&Money> {
        self.total_price_set.as_ref()?.shop_money.as_ref()
    }

    /// What was refunded so far, in the shop's currency.
    pub fn refunded(&self) -> Option<&Money> {
        self.total_refunded_set.as_ref()?.shop_money.as_ref()
    }

    /// The B2B company the order was placed for, if any.
    pub fn company(&self) -> Option<&str> {
        let entity = self.purchasing_entity.as_ref()?;
        entity.company.as_ref().map(|c| c.id.as_str())
    }

    /// The B2B company location the order was placed for, if any.
    pub fn company_location(&self) -> Option<&str> {
        let entity = self.purchasing_entity.as_ref()?;
        entity.location.as_ref().map(|l| l.id.as_str())
    }

    pub fn customer_id(&self) -> Option<&str> {
        if let Some(c) = &self.customer {
            return Some(&c.id);
        }
        let entity = self.purchasing_entity.as_ref()?;
        entity
            .contact
            .as_ref()
            .and_then(|c| c.customer.as_ref())
            .map(|c| c.id.as_str())
            .or_else(|| {
                entity
                    .id
                    .as_deref()
                    .filter(|id| id.starts_with("gid://shopify/Customer/"))
            })
    }
}

/// A `ProductVariant` reference on a line item.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VariantRef {
    pub id: String,
    pub sku: Option<String>,
    pub title: Option<String>,
    pub display_name: Option<String>,
}

/// `LineItem` (a child line of an order: `__parentId` is the order).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LineItem {
    pub id: String,
    #[serde(rename = "__parentId")]
    pub parent_id: String,
    pub sku: Option<String>,
    pub title: Option<String>,
    pub name: Option<String>,
    pub quantity: Option<f64>,
    pub original_unit_price_set: Option<MoneyBag>,
    pub product: Option<NodeRef>,
    pub variant: Option<VariantRef>,
}

impl LineItem {
    pub fn unit_price(&self) -> Option<&Money> {
        self.original_unit_price_set.as_ref()?.shop_money.as_ref()
    }
}

/// `Company` (B2B).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Company {
    pub id: String,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub note: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// `CompanyLocation` (a child line of a company).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CompanyLocation {
    pub id: String,
    #[serde(rename = "__parentId")]
    pub parent_id: String,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
}

/// `CompanyContact` (a child line of a company): the customer is inline.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CompanyContact {
    pub id: String,
    #[serde(rename = "__parentId")]
    pub parent_id: String,
    pub title: Option<String>,
    pub is_main_contact: Option<bool>,
    pub customer: Option<Customer>,
}

/// The numeric tail of a Shopify gid (`gid://shopify/Customer/7301` → `7301`), without any
/// query string. Text that is not a gid is returned trimmed.
pub fn legacy_id(gid: &str) -> &str {
    let tail = gid.rsplit('/').next().unwrap_or(gid);
    tail.split('?').next().unwrap_or(tail).trim()
}

/// The object type named by a gid (`gid://shopify/LineItem/1` → `LineItem`).
pub fn gid_type(gid: &str) -> Option<&str> {
    let rest = gid.strip_prefix("gid://shopify/")?;
    rest.split('/').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ids_drop_the_prefix_and_query() {
        assert_eq!(legacy_id("gid://shopify/Customer/7301"), "7301");
        assert_eq!(
            legacy_id("gid://shopify/MailingAddress/9901?model_name=CustomerAddress"),
            "9901"
        );
        assert_eq!(gid_type("gid://shopify/LineItem/1"), Some("LineItem"));
        assert_eq!(gid_type("7301"), None);
    }

    #[test]
    fn current_contact_fields_win_over_deprecated_ones() {
        let c: Customer = serde_json::from_str(
            r#"{"id":"gid://shopify/Customer/1","email":"old@x.com","defaultEmailAddress":{"emailAddress":"new@x.com","marketingState":"SUBSCRIBED"},"emailMarketingConsent":{"marketingState":"UNSUBSCRIBED"},"phone":"+15550001111"}"#,
        )
        .unwrap();
        assert_eq!(c.email(), Some("new@x.com"));
        assert_eq!(c.phone(), Some("+15550001111"));
        assert_eq!(c.email_consent().state.as_deref(), Some("SUBSCRIBED"));
    }

    #[test]
    fn deprecated_fields_alone_are_enough() {
        let c: Customer = serde_json::from_str(
            r#"{"id":"gid://shopify/Customer/2","email":" a@b.co ","emailMarketingConsent":{"marketingState":"PENDING","marketingOptInLevel":"CONFIRMED_OPT_IN","consentUpdatedAt":"2026-01-01T00:00:00Z"},"unknownField":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(c.email(), Some("a@b.co"));
        let consent = c.email_consent();
        assert_eq!(consent.state.as_deref(), Some("PENDING"));
        assert_eq!(consent.opt_in_level.as_deref(), Some("CONFIRMED_OPT_IN"));
    }

    #[test]
    fn b2b_orders_name_their_location_and_contact_customer() {
        let o: Order = serde_json::from_str(
            r#"{"id":"gid://shopify/Order/9","purchasingEntity":{"__typename":"PurchasingCompany","company":{"id":"gid://shopify/Company/5"},"location":{"id":"gid://shopify/CompanyLocation/6"},"contact":{"id":"gid://shopify/CompanyContact/7","customer":{"id":"gid://shopify/Customer/8"}}}}"#,
        )
        .unwrap();
        assert_eq!(
            o.company_location(),
            Some("gid://shopify/CompanyLocation/6")
        );
        assert_eq!(o.customer_id(), Some("gid://shopify/Customer/8"));
    }
}
