//! The lines of a bulk export as typed, serialisable nodes (API 2026-01 field names).
//!
//! A field that is selected but empty is written as `null`; a field that is not selected is
//! left out. `Option<Option<T>>` with `skip_serializing_if` expresses both: the outer `None`
//! is "not selected" (the deprecated-field customers do not carry `defaultEmailAddress` at
//! all), `Some(None)` is `null`.

use serde::Serialize;

use super::values::{Amount, Gid, Ts};

/// `MoneyV2`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub amount: Amount,
    pub currency_code: &'static str,
}

/// `MoneyBag`: the shop's currency and the buyer's.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MoneyBag {
    pub shop_money: Money,
    pub presentment_money: Money,
}

/// `{ id }` of another node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IdRef {
    pub id: Gid,
}

/// `CustomerEmailAddress` (`Customer.defaultEmailAddress`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EmailAddressNode {
    pub email_address: String,
    pub marketing_state: &'static str,
    pub marketing_opt_in_level: Option<&'static str>,
    pub marketing_updated_at: Option<Ts>,
}

/// `CustomerPhoneNumber` (`Customer.defaultPhoneNumber`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberNode {
    pub phone_number: String,
    pub marketing_state: &'static str,
    pub marketing_opt_in_level: Option<&'static str>,
    pub marketing_updated_at: Option<Ts>,
    pub marketing_collected_from: Option<&'static str>,
}

/// The deprecated `emailMarketingConsent` / `smsMarketingConsent`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LegacyConsentNode {
    pub marketing_state: &'static str,
    pub marketing_opt_in_level: Option<&'static str>,
    pub consent_updated_at: Option<Ts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_collected_from: Option<&'static str>,
}

/// `MailingAddress` inline on its customer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AddressNode {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub address1: String,
    pub address2: Option<String>,
    pub city: &'static str,
    pub province: Option<&'static str>,
    pub province_code: Option<&'static str>,
    pub country: &'static str,
    pub country_code_v2: &'static str,
    pub zip: String,
    pub phone: Option<String>,
    pub company: Option<String>,
}

/// `Customer`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomerNode {
    pub id: Gid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub state: &'static str,
    pub locale: &'static str,
    pub note: Option<String>,
    pub tags: Vec<&'static str>,
    pub verified_email: bool,
    pub tax_exempt: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_email_address: Option<Option<EmailAddressNode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_phone_number: Option<Option<PhoneNumberNode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_marketing_consent: Option<Option<LegacyConsentNode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_marketing_consent: Option<Option<LegacyConsentNode>>,
    pub default_address: Option<AddressNode>,
}

impl CustomerNode {
    /// The email address, whichever field holds it.
    pub fn email_address(&self) -> Option<&str> {
        match (&self.default_email_address, &self.email) {
            (Some(Some(e)), _) => Some(&e.email_address),
            (_, Some(Some(e))) => Some(e),
            _ => None,
        }
    }

    /// The phone number as written, whichever field holds it.
    pub fn phone_number(&self) -> Option<&str> {
        match (&self.default_phone_number, &self.phone) {
            (Some(Some(p)), _) => Some(&p.phone_number),
            (_, Some(Some(p))) => Some(p),
            _ => None,
        }
    }

    /// The email marketing state, whichever field holds it.
    pub fn email_marketing_state(&self) -> Option<&'static str> {
        match (&self.default_email_address, &self.email_marketing_consent) {
            (Some(Some(e)), _) => Some(e.marketing_state),
            (_, Some(Some(c))) => Some(c.marketing_state),
            _ => None,
        }
    }

    /// Whether only the deprecated contact fields were written.
    pub fn uses_deprecated_fields(&self) -> bool {
        self.default_email_address.is_none()
    }
}

/// A child `MailingAddress` of the `addressesV2` connection.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MailingAddressLine {
    pub id: Gid,
    pub address1: String,
    pub city: &'static str,
    pub country_code_v2: &'static str,
    pub zip: String,
    #[serde(rename = "__parentId")]
    pub parent_id: Gid,
}

/// `PurchasingEntity`: a customer, or a company buying through a location and a contact.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum PurchasingEntityNode {
    Customer {
        #[serde(rename = "__typename")]
        typename: &'static str,
        id: Gid,
    },
    Company {
        #[serde(rename = "__typename")]
        typename: &'static str,
        company: IdRef,
        location: IdRef,
        contact: PurchasingContactNode,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PurchasingContactNode {
    pub id: Gid,
    pub customer: IdRef,
}

/// An entry of the `refunds` list (a list, not a connection: inline on the order).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RefundNode {
    pub id: Gid,
    pub created_at: Ts,
    pub note: Option<String>,
    pub total_refunded_set: MoneyBag,
}

/// `Order`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrderNode {
    pub id: Gid,
    pub name: String,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub processed_at: Ts,
    pub cancelled_at: Option<Ts>,
    pub cancel_reason: Option<&'static str>,
    pub closed: bool,
    pub test: bool,
    pub currency_code: &'static str,
    pub presentment_currency_code: &'static str,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub display_financial_status: Option<&'static str>,
    pub display_fulfillment_status: &'static str,
    pub source_name: Option<&'static str>,
    pub tags: Vec<&'static str>,
    pub note: Option<String>,
    pub customer: Option<IdRef>,
    pub purchasing_entity: Option<PurchasingEntityNode>,
    pub subtotal_price_set: MoneyBag,
    pub total_discounts_set: MoneyBag,
    pub total_shipping_price_set: MoneyBag,
    pub total_tax_set: MoneyBag,
    pub total_price_set: MoneyBag,
    pub total_refunded_set: MoneyBag,
    pub current_total_price_set: MoneyBag,
    pub refunds: Vec<RefundNode>,
}

/// `ProductVariant` as a line item references it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VariantNode {
    pub id: Gid,
    pub sku: Option<String>,
    pub title: String,
    pub display_name: String,
}

/// `LineItem` (a child line of its order).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LineItemNode {
    pub id: Gid,
    pub sku: Option<String>,
    pub title: String,
    pub name: String,
    pub variant_title: Option<String>,
    pub vendor: Option<&'static str>,
    pub quantity: u32,
    pub current_quantity: u32,
    pub is_gift_card: bool,
    pub original_unit_price_set: MoneyBag,
    pub product: Option<IdRef>,
    pub variant: Option<VariantNode>,
    #[serde(rename = "__parentId")]
    pub parent_id: Gid,
}

/// `Company`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompanyNode {
    pub id: Gid,
    pub name: String,
    pub external_id: Option<String>,
    pub note: Option<String>,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub customer_since: Ts,
}

/// `CompanyAddress`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompanyAddressNode {
    pub address1: String,
    pub address2: Option<String>,
    pub city: &'static str,
    pub province: Option<&'static str>,
    pub zone_code: Option<&'static str>,
    pub country_code: &'static str,
    pub zip: String,
    pub recipient: Option<String>,
}

/// `CompanyLocation` (a child line of its company).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LocationNode {
    pub id: Gid,
    pub name: String,
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub locale: &'static str,
    pub billing_address: CompanyAddressNode,
    pub shipping_address: Option<CompanyAddressNode>,
    #[serde(rename = "__parentId")]
    pub parent_id: Gid,
}

/// The customer inline on a company contact (`customer { id firstName lastName email phone
/// tags defaultEmailAddress { … } }`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContactCustomerNode {
    pub id: Gid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<&'static str>,
    pub default_email_address: Option<EmailAddressNode>,
}

/// `CompanyContact` (a child line of its company).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContactNode {
    pub id: Gid,
    pub title: Option<String>,
    pub is_main_contact: bool,
    pub locale: &'static str,
    pub customer: ContactCustomerNode,
    #[serde(rename = "__parentId")]
    pub parent_id: Gid,
}

/// One line of a bulk-export file.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Line {
    Customer(Box<CustomerNode>),
    CustomerAddress(Box<MailingAddressLine>),
    Order(Box<OrderNode>),
    LineItem(Box<LineItemNode>),
    Company(Box<CompanyNode>),
    Location(Box<LocationNode>),
    Contact(Box<ContactNode>),
}

impl Line {
    /// The line as JSON text (no trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("generated lines always serialise")
    }

    /// The line as a JSON value (what an emulator's bulk operation would hold).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("generated lines always serialise")
    }

    /// The gid of the line's own node.
    pub fn id(&self) -> Gid {
        match self {
            Line::Customer(n) => n.id,
            Line::CustomerAddress(n) => n.id,
            Line::Order(n) => n.id,
            Line::LineItem(n) => n.id,
            Line::Company(n) => n.id,
            Line::Location(n) => n.id,
            Line::Contact(n) => n.id,
        }
    }

    /// The gid of the parent, for connection children.
    pub fn parent_id(&self) -> Option<Gid> {
        match self {
            Line::CustomerAddress(n) => Some(n.parent_id),
            Line::LineItem(n) => Some(n.parent_id),
            Line::Location(n) => Some(n.parent_id),
            Line::Contact(n) => Some(n.parent_id),
            _ => None,
        }
    }
}
