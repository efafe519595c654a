//! The Salesforce objects and fields the sync engine writes and reads: its contract with the
//! org.
//!
//! Engine code names Salesforce fields only through these constants. Every custom field here is
//! deployed by the project's `sfdx/` folder, and three checks hold the two sides together:
//! `shopforce sfdx check` ([`crate::sfdx_check`]) fails when a custom field is missing from
//! `sfdx/` or lacks field-level security in the permission set
//! ([`PERMISSION_SET`](crate::salesforce_fields::PERMISSION_SET)); the emulator, which loads its
//! custom fields from `sfdx/`, must describe every field listed here (integration tests in
//! `tests/sfdx/`); and unit tests below keep the tables consistent.
//!
//! Access to a field comes from one of the places [`Fls`](crate::salesforce_fields::Fls) names:
//! the permission set for custom fields and the standard fields that have field-level security,
//! nothing for required fields (always accessible, and a permission set may not list them), the
//! compound field for address parts, or the object permission for fields without field-level
//! security of their own.

/// API name of the permission set the integration user is assigned
/// (`sfdx/force-app/main/default/permissionsets/`).
pub const PERMISSION_SET: &str = "Shopify_Sync_Integration";

/// API name of the External Client App the engine's JWT bearer flow uses.
pub const EXTERNAL_CLIENT_APP: &str = "Shopify_Sync_Engine";

/// What the engine does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Sent in upserts (and read back).
    Write,
    /// Only read (queries, formula results).
    Read,
}

/// Where the integration user's field-level access comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fls {
    /// A `fieldPermissions` entry in [`PERMISSION_SET`]: every custom field, and the standard
    /// fields that have field-level security.
    PermissionSet,
    /// Required on create, so always accessible; a permission set must not list it (the deploy
    /// fails with "You cannot deploy to a required field").
    Required,
    /// A part of a compound field; field-level security is set on the compound field named
    /// here (`Contact.MailingAddress`), never on the part (`Contact.MailingCity`).
    Compound(&'static str),
    /// No field-level security of its own (access follows the object permission) or none that
    /// can be verified offline; `sfdx/README.md` tells the admin to check these.
    NotListed,
}

/// One field the engine writes or reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub access: Access,
    pub fls: Fls,
}

impl Field {
    /// Custom fields end in `__c` (`__pc`: a custom Contact field as a Person Account
    /// carries it).
    pub fn is_custom(&self) -> bool {
        self.name.ends_with("__c") || self.name.ends_with("__pc")
    }
}

/// A lookup the engine sets, either through a Bulk API 2.0 relationship column keyed on one of
/// the parent's external IDs (`Account.Shopify_Company_ID__c`) or, with no keys, by record Id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// The lookup field (`AccountId`).
    pub field: &'static str,
    /// Its relationship name, the prefix of relationship columns (`Account`).
    pub relationship: &'static str,
    /// The parent object.
    pub target: &'static str,
    /// External ID fields on the parent the engine matches on.
    pub keys: &'static [&'static str],
}

/// How the integration user gets record access to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectAccess {
    /// An `objectPermissions` entry in [`PERMISSION_SET`] (read is always granted).
    Permission { create: bool, edit: bool },
    /// No object permission of its own: access follows these objects (Salesforce rejects an
    /// `objectPermissions` entry for it).
    ControlledBy(&'static [&'static str]),
}

/// One object the engine touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SObject {
    pub name: &'static str,
    /// External ID fields the engine upserts on.
    pub upsert_keys: &'static [&'static str],
    pub access: ObjectAccess,
    pub fields: &'static [Field],
    pub references: &'static [Reference],
}

impl SObject {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn write(name: &'static str) -> Field {
    Field {
        name,
        access: Access::Write,
        fls: Fls::PermissionSet,
    }
}

const fn read(name: &'static str) -> Field {
    Field {
        name,
        access: Access::Read,
        fls: Fls::PermissionSet,
    }
}

const fn required(name: &'static str) -> Field {
    Field {
        name,
        access: Access::Write,
        fls: Fls::Required,
    }
}

const fn part_of(compound: &'static str, name: &'static str) -> Field {
    Field {
        name,
        access: Access::Write,
        fls: Fls::Compound(compound),
    }
}

const fn not_listed(access: Access, name: &'static str) -> Field {
    Field {
        name,
        access,
        fls: Fls::NotListed,
    }
}

/// Contacts: one per Shopify customer.
pub mod contact {
    use super::*;

    pub const OBJECT: &str = "Contact";
    pub const SHOPIFY_CUSTOMER_ID: &str = "Shopify_Customer_ID__c";
    pub const TOTAL_SPEND: &str = "Total_Spend__c";
    pub const ORDER_COUNT: &str = "Order_Count__c";
    pub const AVERAGE_ORDER_VALUE: &str = "Average_Order_Value__c";
    pub const FIRST_ORDER_DATE: &str = "First_Order_Date__c";
    pub const LAST_ORDER_DATE: &str = "Last_Order_Date__c";
    /// Orders per 30 days.
    pub const PURCHASE_FREQUENCY: &str = "Purchase_Frequency__c";
    /// Restricted picklist: low, medium, high.
    pub const CHURN_RISK: &str = "Churn_Risk__c";
    /// Restricted picklist: low, medium, high.
    pub const CLV_TIER: &str = "CLV_Tier__c";
    /// Formula (`TODAY() - Last_Order_Date__c`): read only.
    pub const DAYS_SINCE_LAST_ORDER: &str = "Days_Since_Last_Order__c";
    /// Restricted picklist: Subscribed, Not Opted In, Pending, Unsubscribed, Redacted, Invalid.
    pub const EMAIL_CONSENT_STATUS: &str = "Email_Consent_Status__c";
    pub const EMAIL_CONSENT_UPDATED_AT: &str = "Email_Consent_Updated_At__c";
    pub const EMAIL_OPT_IN_LEVEL: &str = "Email_Opt_In_Level__c";
    pub const SMS_CONSENT_STATUS: &str = "SMS_Consent_Status__c";
    pub const SMS_CONSENT_UPDATED_AT: &str = "SMS_Consent_Updated_At__c";
    pub const SHOPIFY_TAGS: &str = "Shopify_Tags__c";
    pub const SHOPIFY_VERIFIED_EMAIL: &str = "Shopify_Verified_Email__c";
    pub const SHOPIFY_CREATED_AT: &str = "Shopify_Created_At__c";
    pub const SHOPIFY_STORE: &str = "Shopify_Store__c";
    pub const FIRST_NAME: &str = "FirstName";
    pub const LAST_NAME: &str = "LastName";
    pub const EMAIL: &str = "Email";
    pub const PHONE: &str = "Phone";
    /// Job title (B2B company contacts).
    pub const TITLE: &str = "Title";
    pub const MAILING_STREET: &str = "MailingStreet";
    pub const MAILING_CITY: &str = "MailingCity";
    pub const MAILING_STATE: &str = "MailingState";
    pub const MAILING_POSTAL_CODE: &str = "MailingPostalCode";
    pub const MAILING_COUNTRY: &str = "MailingCountry";
    /// The compound address field that carries field-level security for `Mailing*`.
    pub const MAILING_ADDRESS: &str = "MailingAddress";
    pub const HAS_OPTED_OUT_OF_EMAIL: &str = "HasOptedOutOfEmail";
    pub const ACCOUNT_ID: &str = "AccountId";
    /// The owning User (B2B owner routing; written on create only).
    pub const OWNER_ID: &str = "OwnerId";

    pub const SOBJECT: SObject = SObject {
        name: OBJECT,
        upsert_keys: &[SHOPIFY_CUSTOMER_ID],
        access: ObjectAccess::Permission {
            create: true,
            edit: true,
        },
        fields: &[
            write(SHOPIFY_CUSTOMER_ID),
            write(TOTAL_SPEND),
            write(ORDER_COUNT),
            write(AVERAGE_ORDER_VALUE),
            write(FIRST_ORDER_DATE),
            write(LAST_ORDER_DATE),
            write(PURCHASE_FREQUENCY),
            write(CHURN_RISK),
            write(CLV_TIER),
            read(DAYS_SINCE_LAST_ORDER),
            write(EMAIL_CONSENT_STATUS),
            write(EMAIL_CONSENT_UPDATED_AT),
            write(EMAIL_OPT_IN_LEVEL),
            write(SMS_CONSENT_STATUS),
            write(SMS_CONSENT_UPDATED_AT),
            write(SHOPIFY_TAGS),
            write(SHOPIFY_VERIFIED_EMAIL),
            write(SHOPIFY_CREATED_AT),
            write(SHOPIFY_STORE),
            not_listed(Access::Write, FIRST_NAME),
            required(LAST_NAME),
            write(EMAIL),
            write(PHONE),
            write(TITLE),
            part_of(MAILING_ADDRESS, MAILING_STREET),
            part_of(MAILING_ADDRESS, MAILING_CITY),
            part_of(MAILING_ADDRESS, MAILING_STATE),
            part_of(MAILING_ADDRESS, MAILING_POSTAL_CODE),
            part_of(MAILING_ADDRESS, MAILING_COUNTRY),
            write(HAS_OPTED_OUT_OF_EMAIL),
            write(ACCOUNT_ID),
            not_listed(Access::Write, OWNER_ID),
        ],
        references: &[Reference {
            field: ACCOUNT_ID,
            relationship: "Account",
            target: account::OBJECT,
            keys: &[
                account::SHOPIFY_CUSTOMER_ID,
                account::SHOPIFY_COMPANY_ID,
                account::SHOPIFY_LOCATION_ID,
            ],
        }],
    };
}

/// Accounts: a B2B company, its locations (child Accounts), or one per B2C customer.
pub mod account {
    use super::*;

    pub const OBJECT: &str = "Account";
    pub const SHOPIFY_CUSTOMER_ID: &str = "Shopify_Customer_ID__c";
    pub const SHOPIFY_COMPANY_ID: &str = "Shopify_Company_ID__c";
    pub const SHOPIFY_LOCATION_ID: &str = "Shopify_Location_ID__c";
    /// The merchant's own company id (Shopify `Company.externalId`); not unique.
    pub const SHOPIFY_COMPANY_EXTERNAL_ID: &str = "Shopify_Company_External_ID__c";
    pub const SHOPIFY_STORE: &str = "Shopify_Store__c";
    pub const TOTAL_SPEND: &str = "Total_Spend__c";
    pub const ORDER_COUNT: &str = "Order_Count__c";
    pub const LAST_ORDER_DATE: &str = "Last_Order_Date__c";
    pub const NAME: &str = "Name";
    pub const PARENT_ID: &str = "ParentId";
    pub const PHONE: &str = "Phone";
    pub const BILLING_STREET: &str = "BillingStreet";
    pub const BILLING_CITY: &str = "BillingCity";
    pub const BILLING_STATE: &str = "BillingState";
    pub const BILLING_POSTAL_CODE: &str = "BillingPostalCode";
    pub const BILLING_COUNTRY: &str = "BillingCountry";
    /// The compound address field that carries field-level security for `Billing*`.
    pub const BILLING_ADDRESS: &str = "BillingAddress";
    /// The owning User (B2B owner routing; written on create only).
    pub const OWNER_ID: &str = "OwnerId";

    pub const SOBJECT: SObject = SObject {
        name: OBJECT,
        upsert_keys: &[SHOPIFY_CUSTOMER_ID, SHOPIFY_COMPANY_ID, SHOPIFY_LOCATION_ID],
        access: ObjectAccess::Permission {
            create: true,
            edit: true,
        },
        fields: &[
            write(SHOPIFY_CUSTOMER_ID),
            write(SHOPIFY_COMPANY_ID),
            write(SHOPIFY_LOCATION_ID),
            write(SHOPIFY_COMPANY_EXTERNAL_ID),
            write(SHOPIFY_STORE),
            write(TOTAL_SPEND),
            write(ORDER_COUNT),
            write(LAST_ORDER_DATE),
            required(NAME),
            write(PARENT_ID),
            write(PHONE),
            part_of(BILLING_ADDRESS, BILLING_STREET),
            part_of(BILLING_ADDRESS, BILLING_CITY),
            part_of(BILLING_ADDRESS, BILLING_STATE),
            part_of(BILLING_ADDRESS, BILLING_POSTAL_CODE),
            part_of(BILLING_ADDRESS, BILLING_COUNTRY),
            not_listed(Access::Write, OWNER_ID),
        ],
        references: &[Reference {
            field: PARENT_ID,
            relationship: "Parent",
            target: OBJECT,
            keys: &[SHOPIFY_COMPANY_ID],
        }],
    };
}

/// Person Accounts, in orgs that have them enabled: one Account per B2C customer that is
/// also the customer's Contact. Not part of [`OBJECTS`]: its fields exist only in such orgs,
/// so `sfdx/` cannot deploy or check them. The person fields follow the field-level security
/// of the Contact fields they mirror (`Email_Consent_Status__pc` is
/// `Contact.Email_Consent_Status__c`), which the permission set grants; the integration user
/// also needs the Person Account record type visible (`sfdx/README.md`).
pub mod person_account {
    use super::*;

    pub const RECORD_TYPE_ID: &str = "RecordTypeId";
    pub const IS_PERSON_ACCOUNT: &str = "IsPersonAccount";
    pub const PERSON_EMAIL: &str = "PersonEmail";
    pub const PERSON_CONTACT_ID: &str = "PersonContactId";
    pub const PERSON_HAS_OPTED_OUT_OF_EMAIL: &str = "PersonHasOptedOutOfEmail";
    /// The person contact's `Shopify_Customer_ID__c`: what an Order's
    /// `BillToContact.Shopify_Customer_ID__c` resolves to.
    pub const SHOPIFY_CUSTOMER_ID_PC: &str = "Shopify_Customer_ID__pc";

    const fn person(name: &'static str) -> Field {
        not_listed(Access::Write, name)
    }

    pub const SOBJECT: SObject = SObject {
        name: account::OBJECT,
        upsert_keys: &[account::SHOPIFY_CUSTOMER_ID],
        access: ObjectAccess::Permission {
            create: true,
            edit: true,
        },
        fields: &[
            write(account::SHOPIFY_CUSTOMER_ID),
            write(account::SHOPIFY_STORE),
            write(account::PHONE),
            not_listed(Access::Write, RECORD_TYPE_ID),
            not_listed(Access::Read, IS_PERSON_ACCOUNT),
            not_listed(Access::Read, PERSON_CONTACT_ID),
            person("FirstName"),
            person("LastName"),
            person(PERSON_EMAIL),
            person("PersonMailingStreet"),
            person("PersonMailingCity"),
            person("PersonMailingState"),
            person("PersonMailingPostalCode"),
            person("PersonMailingCountry"),
            person(PERSON_HAS_OPTED_OUT_OF_EMAIL),
            person(SHOPIFY_CUSTOMER_ID_PC),
            person("Email_Consent_Status__pc"),
            person("Email_Consent_Updated_At__pc"),
            person("Email_Opt_In_Level__pc"),
            person("SMS_Consent_Status__pc"),
            person("SMS_Consent_Updated_At__pc"),
            person("Shopify_Tags__pc"),
            person("Shopify_Verified_Email__pc"),
            person("Shopify_Created_At__pc"),
            person("Total_Spend__pc"),
            person("Order_Count__pc"),
            person("Average_Order_Value__pc"),
            person("First_Order_Date__pc"),
            person("Last_Order_Date__pc"),
            person("Purchase_Frequency__pc"),
            person("Churn_Risk__pc"),
            person("CLV_Tier__pc"),
            not_listed(Access::Read, "Days_Since_Last_Order__pc"),
        ],
        references: &[],
    };
}

/// Products: one per Shopify product variant.
pub mod product2 {
    use super::*;

    pub const OBJECT: &str = "Product2";
    pub const SHOPIFY_VARIANT_ID: &str = "Shopify_Variant_ID__c";
    pub const SHOPIFY_PRODUCT_ID: &str = "Shopify_Product_ID__c";
    pub const NAME: &str = "Name";
    pub const PRODUCT_CODE: &str = "ProductCode";
    pub const IS_ACTIVE: &str = "IsActive";
    pub const DESCRIPTION: &str = "Description";

    pub const SOBJECT: SObject = SObject {
        name: OBJECT,
        upsert_keys: &[SHOPIFY_VARIANT_ID],
        access: ObjectAccess::Permission {
            create: true,
            edit: true,
        },
        fields: &[
            write(SHOPIFY_VARIANT_ID),
            write(SHOPIFY_PRODUCT_ID),
            required(NAME),
            write(PRODUCT_CODE),
            not_listed(Access::Write, IS_ACTIVE),
            write(DESCRIPTION),
        ],
        references: &[],
    };
}

/// Price books: the engine reads the standard one.
pub mod pricebook2 {
    use super::*;

    pub const OBJECT: &str = "Pricebook2";
    pub const IS_STANDARD: &str = "IsStandard";

    pub const SOBJECT: SObject = SObject {
        name: OBJECT,
        upsert_keys: &[],
        // Adding entries to a price book needs edit access to it; the engine creates none.
        access: ObjectAccess::Permission {
            create: false,
            edit: true,
        },
        fields: &[not_listed(Access::Read, IS_STANDARD)],
        references: &[],
    };
}

/// Price book entries: one per variant and currency, in the standard price book.
pub mod pricebook_entry {
    use super::*;

    pub const OBJECT: &str = "PricebookEntry";
    /// `<variant id>:<currency code>`.
    pub const SHOPIFY_PRICE_KEY: &str = "Shopify_Price_Key__c";
    pub const PRICEBOOK2_ID: &str = "Pricebook2Id";
    pub const PRODUCT2_ID: &str = "Product2Id";
    pub const UNIT_PRICE: &str = "UnitPrice";
    pub const IS_ACTIVE: &str = "IsActive";

    pub const SOBJECT: SObject = SObject {
        name: OBJECT,
        upsert_keys: &[SHOPIFY_PRICE_KEY],
        access: ObjectAccess::ControlledBy(&[pricebook2::OBJECT, product2::OBJECT]),
        fields: &[
            write(SHOPIFY_PRICE_KEY),
            required(PRICEBOOK2_ID),
            required(PRODUCT2_ID),
            required(UNIT_PRICE),
            not_listed(Access::Write, IS_ACTIVE),
        ],
        references: &[
            Reference {
                field: PRICEBOOK2_ID,
                relationship: "Pricebook2",
                target: pricebook2::OBJECT,
                keys: &[],
            },
            Reference {
                field: PRODUCT2_ID,
                relationship: "Product2",
                target: product2::OBJECT,
                keys: &[product2::SHOPIFY_VARIANT_ID],
            },
        ],
    };
}

/// Orders: one per Shopify order, kept in Draft.
pub mod order {
    use super::*;

    pub const OBJECT: &str = "Order";
    pub const SHOPIFY_ORDER_ID: &str = "Shopify_Order_ID__c";
    pub const SHOPIFY_ORDER_NAME: &str = "Shopify_Order_Name__c";
    /// The Shopify total (`TotalAmount` is read-only in Salesforce).
    pub const SHOPIFY_TOTAL_PRICE: &str = "Shopify_Total_Price__c";
    pub const SHOPIFY_CURRENCY: &str = "Shopify_Currency__c";
    pub const SHOPIFY_FINANCIAL_STATUS: &str = "Shopify_Financial_Status__c";
    pub const SHOPIFY_FULFILLMENT_STATUS: &str = "Shopify_Fulfillment_Status__c";
    pub const SHOPIFY_CANCELLED_AT: &str = "Shopify_Cancelled_At__c";
    pub const SHOPIFY_STORE: &str = "Shopify_Store__c";
    pub const ACCOUNT_ID: &str = "AccountId";
    pub const EFFECTIVE_DATE: &str = "EffectiveDate";
    pub const STATUS: &str = "Status";
    pub const PRICEBOOK2_ID: &str = "Pricebook2Id";
    pub const BILL_TO_CONTACT_ID: &str = "BillToContactId";

    pub const SOBJECT: SObject = SObject {
        name: OBJECT,
        upsert_keys: &[SHOPIFY_ORDER_ID],
        access: ObjectAccess::Permission {
            create: true,
            edit: true,
        },
        fields: &[
            write(SHOPIFY_ORDER_ID),
            write(SHOPIFY_ORDER_NAME),
            write(SHOPIFY_TOTAL_PRICE),
            write(SHOPIFY_CURRENCY),
            write(SHOPIFY_FINANCIAL_STATUS),
            write(SHOPIFY_FULFILLMENT_STATUS),
            write(SHOPIFY_CANCELLED_AT),
            write(SHOPIFY_STORE),
            required(ACCOUNT_ID),
            required(EFFECTIVE_DATE),
            required(STATUS),
            not_listed(Access::Write, PRICEBOOK2_ID),
            write(BILL_TO_CONTACT_ID),
        ],
        references: &[
            Reference {
                field: ACCOUNT_ID,
                relationship: "Account",
                target: account::OBJECT,
                keys: &[
                    account::SHOPIFY_CUSTOMER_ID,
                    account::SHOPIFY_COMPANY_ID,
                    account::SHOPIFY_LOCATION_ID,
                ],
            },
            Reference {
                field: PRICEBOOK2_ID,
                relationship: "Pricebook2",
                target: pricebook2::OBJECT,
                keys: &[],
            },
            Reference {
                field: BILL_TO_CONTACT_ID,
                relationship: "BillToContact",
                target: contact::OBJECT,
                keys: &[contact::SHOPIFY_CUSTOMER_ID],
            },
        ],
    };
}

/// Order products: one per Shopify line item.
pub mod order_item {
    use super::*;

    pub const OBJECT: &str = "OrderItem";
    pub const SHOPIFY_LINE_ITEM_ID: &str = "Shopify_Line_Item_ID__c";
    pub const SHOPIFY_SKU: &str = "Shopify_SKU__c";
    pub const ORDER_ID: &str = "OrderId";
    pub const PRICEBOOK_ENTRY_ID: &str = "PricebookEntryId";
    pub const QUANTITY: &str = "Quantity";
    pub const UNIT_PRICE: &str = "UnitPrice";

    pub const SOBJECT: SObject = SObject {
        name: OBJECT,
        upsert_keys: &[SHOPIFY_LINE_ITEM_ID],
        access: ObjectAccess::ControlledBy(&[order::OBJECT]),
        fields: &[
            write(SHOPIFY_LINE_ITEM_ID),
            write(SHOPIFY_SKU),
            required(ORDER_ID),
            required(PRICEBOOK_ENTRY_ID),
            required(QUANTITY),
            required(UNIT_PRICE),
        ],
        references: &[
            Reference {
                field: ORDER_ID,
                relationship: "Order",
                target: order::OBJECT,
                keys: &[order::SHOPIFY_ORDER_ID],
            },
            Reference {
                field: PRICEBOOK_ENTRY_ID,
                relationship: "PricebookEntry",
                target: pricebook_entry::OBJECT,
                keys: &[pricebook_entry::SHOPIFY_PRICE_KEY],
            },
        ],
    };
}

/// Every object the engine touches, parents before children.
pub const OBJECTS: &[SObject] = &[
    account::SOBJECT,
    contact::SOBJECT,
    product2::SOBJECT,
    pricebook2::SOBJECT,
    pricebook_entry::SOBJECT,
    order::SOBJECT,
    order_item::SOBJECT,
];

/// The contract entry for an object.
pub fn object(name: &str) -> Option<&'static SObject> {
    OBJECTS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut objects = HashSet::new();
        for o in OBJECTS {
            assert!(objects.insert(o.name), "{} twice", o.name);
            let mut fields = HashSet::new();
            for f in o.fields {
                assert!(fields.insert(f.name), "{}.{} twice", o.name, f.name);
                assert!(
                    f.name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{}.{}",
                    o.name,
                    f.name
                );
                if f.is_custom() {
                    assert_eq!(f.fls, Fls::PermissionSet, "{}.{}", o.name, f.name);
                }
            }
        }
    }

    #[test]
    fn keys_references_and_access_point_at_known_things() {
        for o in OBJECTS {
            for key in o.upsert_keys {
                let f = o.field(key).unwrap_or_else(|| panic!("{}.{key}", o.name));
                assert!(
                    f.is_custom() && f.access == Access::Write,
                    "{}.{key}",
                    o.name
                );
            }
            for r in o.references {
                assert!(o.field(r.field).is_some(), "{}.{}", o.name, r.field);
                let target = object(r.target).unwrap_or_else(|| panic!("{}", r.target));
                for key in r.keys {
                    assert!(target.upsert_keys.contains(key), "{}.{key}", r.target);
                }
            }
            if let ObjectAccess::ControlledBy(parents) = o.access {
                for parent in parents {
                    assert!(
                        matches!(
                            object(parent).map(|p| p.access),
                            Some(ObjectAccess::Permission { .. })
                        ),
                        "{} is controlled by {parent}",
                        o.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_engine_writes_every_field_the_issue_names() {
        for (o, f) in [
            (contact::OBJECT, contact::HAS_OPTED_OUT_OF_EMAIL),
            (contact::OBJECT, contact::EMAIL_CONSENT_STATUS),
            (account::OBJECT, account::SHOPIFY_LOCATION_ID),
            (order::OBJECT, order::SHOPIFY_TOTAL_PRICE),
            (order_item::OBJECT, order_item::SHOPIFY_SKU),
            (pricebook_entry::OBJECT, pricebook_entry::SHOPIFY_PRICE_KEY),
        ] {
            assert_eq!(
                object(o).and_then(|x| x.field(f)).map(|x| x.access),
                Some(Access::Write),
                "{o}.{f}"
            );
        }
        assert_eq!(
            contact::SOBJECT
                .field(contact::DAYS_SINCE_LAST_ORDER)
                .map(|f| f.access),
            Some(Access::Read)
        );
    }
}
