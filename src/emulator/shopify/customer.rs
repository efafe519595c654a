//! A customer's email and phone with their marketing consent: held once, in one shape of the
//! emulator's own, and written into every customer in both API shapes.
//!
//! Shopify 2026-01 answers the current fields (`defaultEmailAddress`, `defaultPhoneNumber`)
//! and the deprecated ones (`email`, `phone`, `emailMarketingConsent`, `smsMarketingConsent`)
//! on every customer, from the same data. The generator writes each customer in one shape
//! only; [`ContactPoints::of`] reads either, a change ([`CustomerPatch`]) is applied here, and
//! [`ContactPoints::write`] fills in both, so the projector answers whichever the query
//! selects.

use super::store::CustomerPatch;
use crate::shopify::generate::Ts;
use crate::shopify::generate::records::{
    ContactCustomerNode, CustomerNode, EmailAddressNode, LegacyConsentNode, PhoneNumberNode,
};

/// The customer fields [`ContactPoints::write`] fills in: both shapes.
pub const FIELDS: [&str; 6] = [
    "defaultEmailAddress",
    "defaultPhoneNumber",
    "email",
    "phone",
    "emailMarketingConsent",
    "smsMarketingConsent",
];

/// Marketing consent for one channel. `state` is a value of the deprecated enums
/// (`CustomerEmailMarketingState`, `CustomerSmsMarketingState`): they are the wider ones
/// (email `REDACTED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketingConsent {
    pub state: &'static str,
    pub opt_in_level: Option<&'static str>,
    pub updated_at: Option<Ts>,
}

impl MarketingConsent {
    /// What an address nobody asked for consent has.
    fn not_subscribed() -> MarketingConsent {
        MarketingConsent {
            state: "NOT_SUBSCRIBED",
            opt_in_level: None,
            updated_at: None,
        }
    }

    fn legacy(&self, opt_in_level: Option<&'static str>) -> LegacyConsentNode {
        LegacyConsentNode {
            marketing_state: self.state,
            marketing_opt_in_level: opt_in_level,
            consent_updated_at: self.updated_at,
            consent_collected_from: None,
        }
    }
}

impl From<&LegacyConsentNode> for MarketingConsent {
    fn from(c: &LegacyConsentNode) -> MarketingConsent {
        MarketingConsent {
            state: c.marketing_state,
            opt_in_level: c.marketing_opt_in_level,
            updated_at: c.consent_updated_at,
        }
    }
}

/// The customer's email address and its consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub address: String,
    pub consent: MarketingConsent,
}

/// The customer's phone number and its SMS consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub number: String,
    pub consent: MarketingConsent,
    /// `CustomerConsentCollectedFrom` (`SHOPIFY`, `OTHER`).
    pub collected_from: Option<&'static str>,
}

/// How a customer can be reached, whichever shape the record was generated in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPoints {
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

impl ContactPoints {
    /// Reads a customer record: the current fields when it has them, else the deprecated
    /// ones; email consent from `emailMarketingConsent` when there is one (its enum is the
    /// wider), so reading back what [`ContactPoints::write`] wrote gives the same.
    pub fn of(node: &CustomerNode) -> ContactPoints {
        let legacy_email_consent = match &node.email_marketing_consent {
            Some(Some(c)) => Some(MarketingConsent::from(c)),
            _ => None,
        };
        let email = match (&node.default_email_address, &node.email) {
            (Some(Some(e)), _) => Some(Email {
                address: e.email_address.clone(),
                consent: legacy_email_consent.unwrap_or(MarketingConsent {
                    state: e.marketing_state,
                    opt_in_level: e.marketing_opt_in_level,
                    updated_at: e.marketing_updated_at,
                }),
            }),
            (None, Some(Some(address))) => Some(Email {
                address: address.clone(),
                consent: legacy_email_consent.unwrap_or_else(MarketingConsent::not_subscribed),
            }),
            _ => None,
        };
        let phone = match (&node.default_phone_number, &node.phone) {
            (Some(Some(p)), _) => Some(Phone {
                number: p.phone_number.clone(),
                consent: MarketingConsent {
                    state: p.marketing_state,
                    opt_in_level: p.marketing_opt_in_level,
                    updated_at: p.marketing_updated_at,
                },
                collected_from: p.marketing_collected_from,
            }),
            (None, Some(Some(number))) => {
                let legacy = match &node.sms_marketing_consent {
                    Some(Some(c)) => Some(c),
                    _ => None,
                };
                Some(Phone {
                    number: number.clone(),
                    consent: legacy
                        .map(MarketingConsent::from)
                        .unwrap_or_else(MarketingConsent::not_subscribed),
                    collected_from: legacy.and_then(|c| c.consent_collected_from),
                })
            }
            _ => None,
        };
        ContactPoints { email, phone }
    }

    /// Applies what changed in the store: a new address keeps the consent it had (or starts
    /// not subscribed); a consent change needs an address.
    pub fn apply(&mut self, patch: &CustomerPatch) {
        if let Some(address) = &patch.email {
            match &mut self.email {
                Some(email) => email.address = address.clone(),
                None => {
                    self.email = Some(Email {
                        address: address.clone(),
                        consent: MarketingConsent::not_subscribed(),
                    })
                }
            }
        }
        if let (Some(consent), Some(email)) = (&patch.consent, &mut self.email) {
            email.consent = consent.clone();
        }
    }

    /// The current `defaultEmailAddress`.
    fn email_address(&self) -> Option<EmailAddressNode> {
        self.email.as_ref().map(|e| EmailAddressNode {
            email_address: e.address.clone(),
            marketing_state: address_marketing_state(e.consent.state),
            marketing_opt_in_level: e.consent.opt_in_level,
            marketing_updated_at: e.consent.updated_at,
        })
    }

    /// Writes both shapes into a customer record (`null` where there is no email or phone).
    pub fn write(&self, node: &mut CustomerNode) {
        node.default_email_address = Some(self.email_address());
        node.email = Some(self.email.as_ref().map(|e| e.address.clone()));
        node.email_marketing_consent = Some(
            self.email
                .as_ref()
                .map(|e| e.consent.legacy(e.consent.opt_in_level)),
        );
        node.default_phone_number = Some(self.phone.as_ref().map(|p| PhoneNumberNode {
            phone_number: p.number.clone(),
            marketing_state: p.consent.state,
            marketing_opt_in_level: p.consent.opt_in_level,
            marketing_updated_at: p.consent.updated_at,
            marketing_collected_from: p.collected_from,
        }));
        node.phone = Some(self.phone.as_ref().map(|p| p.number.clone()));
        node.sms_marketing_consent = Some(self.phone.as_ref().map(|p| {
            LegacyConsentNode {
                consent_collected_from: p.collected_from,
                // Non-null on the deprecated SMS object.
                ..p.consent
                    .legacy(Some(p.consent.opt_in_level.unwrap_or("UNKNOWN")))
            }
        }));
    }

    /// Writes the customer inline on a company contact.
    pub fn write_contact(&self, customer: &mut ContactCustomerNode) {
        customer.email = self.email.as_ref().map(|e| e.address.clone());
        customer.phone = self.phone.as_ref().map(|p| p.number.clone());
        customer.default_email_address = self.email_address();
    }
}

/// `defaultEmailAddress.marketingState` for a held email consent state.
/// `CustomerEmailAddressMarketingState` has no `REDACTED` (the customer's data erased, set by
/// Shopify only); the emulator answers `INVALID`, the other state only Shopify sets, which
/// no one may market to either.
pub fn address_marketing_state(state: &'static str) -> &'static str {
    match state {
        "REDACTED" => "INVALID",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::generate::{ShopGenerator, StoreShape};

    fn generator() -> ShopGenerator {
        let shape = StoreShape {
            customers: 400,
            ..StoreShape::default()
        };
        ShopGenerator::new(&shape, 0)
    }

    #[test]
    fn both_shapes_hold_the_same_contact_points_once_written() {
        let generator = generator();
        let (mut deprecated, mut current) = (0, 0);
        for n in 0..generator.customer_count() {
            let generated = generator.customer(n).customer;
            let points = ContactPoints::of(&generated);
            if generated.uses_deprecated_fields() {
                deprecated += 1;
            } else {
                current += 1;
            }
            let mut written = generated.clone();
            points.write(&mut written);
            // Whatever the generated shape held is still there, unchanged…
            let generated_json = serde_json::to_value(&generated).unwrap();
            let written_json = serde_json::to_value(&written).unwrap();
            for (key, value) in generated_json.as_object().unwrap() {
                assert_eq!(&written_json[key], value, "customer {n}: {key}");
            }
            // …and reading the written record back gives the same contact points.
            assert_eq!(ContactPoints::of(&written), points, "customer {n}");
            // Both shapes are there.
            for key in FIELDS {
                assert!(written_json.get(key).is_some(), "customer {n}: {key}");
            }
            assert_eq!(
                written.email.clone().flatten(),
                points.email.as_ref().map(|e| e.address.clone())
            );
            assert_eq!(
                written.phone.clone().flatten(),
                points.phone.as_ref().map(|p| p.number.clone())
            );
        }
        assert!(deprecated > 10 && current > 100, "{deprecated} {current}");
    }

    #[test]
    fn redacted_email_consent_is_invalid_in_the_current_shape_only() {
        let mut node = generator().customer(0).customer;
        let points = ContactPoints {
            email: Some(Email {
                address: "gone@example.com".into(),
                consent: MarketingConsent {
                    state: "REDACTED",
                    opt_in_level: None,
                    updated_at: Some(Ts(1_800_000_000)),
                },
            }),
            phone: None,
        };
        points.write(&mut node);
        let json = serde_json::to_value(&node).unwrap();
        assert_eq!(json["defaultEmailAddress"]["marketingState"], "INVALID");
        assert_eq!(json["emailMarketingConsent"]["marketingState"], "REDACTED");
        assert_eq!(json["email"], "gone@example.com");
        assert_eq!(json["phone"], serde_json::Value::Null);
        assert_eq!(json["defaultPhoneNumber"], serde_json::Value::Null);
        assert_eq!(json["smsMarketingConsent"], serde_json::Value::Null);
    }

    #[test]
    fn a_new_address_keeps_its_consent_and_a_first_one_starts_not_subscribed() {
        let mut points = ContactPoints::default();
        points.apply(&CustomerPatch {
            consent: Some(MarketingConsent {
                state: "SUBSCRIBED",
                opt_in_level: None,
                updated_at: None,
            }),
            ..CustomerPatch::default()
        });
        assert_eq!(points.email, None, "no address, no consent");
        points.apply(&CustomerPatch {
            email: Some("a@example.com".into()),
            ..CustomerPatch::default()
        });
        assert_eq!(
            points.email.as_ref().unwrap().consent.state,
            "NOT_SUBSCRIBED"
        );
        points.apply(&CustomerPatch {
            email: Some("b@example.com".into()),
            consent: Some(MarketingConsent {
                state: "UNSUBSCRIBED",
                opt_in_level: Some("SINGLE_OPT_IN"),
                updated_at: Some(Ts(5)),
            }),
            ..CustomerPatch::default()
        });
        let email = points.email.unwrap();
        assert_eq!(email.address, "b@example.com");
        assert_eq!(email.consent.state, "UNSUBSCRIBED");
    }
}
