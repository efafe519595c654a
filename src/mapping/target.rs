//! The Salesforce upsert targets the engine writes: one per (object, external ID, header).
//!
//! An object can need several targets: Accounts are keyed on the company, the location or
//! the customer id, and one Bulk API job has one header, so a Contact whose Account is a
//! company and one whose Account is a B2C account go to different jobs.

/// Where a row goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    CompanyAccount,
    LocationAccount,
    CustomerAccount,
    CustomerContact,
    CompanyContact,
    /// A customer linked by identity resolution to a Contact the engine did not create:
    /// written by `Id`, so the Contact gets the Shopify key (the first customer linked to
    /// it) and the integration-owned fields, and stays under its own Account.
    ContactLink,
    /// A B2C customer as a Person Account (Account and Contact in one record).
    PersonAccount,
    Product,
    PriceEntry,
    CustomerOrder,
    LocationOrder,
    /// An order a B2B company contact placed for themselves (no purchasing company): it
    /// belongs to the contact's company Account, since their Contact lives there.
    CompanyOrder,
    /// An order of a Person Account customer (its bill-to Contact is the person contact).
    PersonOrder,
    OrderItem,
    /// A customer's commerce metrics on their Contact ([`crate::metrics`]).
    ContactMetrics,
    /// A Person Account customer's commerce metrics (the person contact's `__pc` fields).
    PersonMetrics,
    /// A B2B company's commerce metrics on its Account.
    CompanyMetrics,
}

/// A relationship column: its position in the header and the target whose key it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentColumn {
    pub column: usize,
    pub parent: Target,
}

/// What a target writes.
#[derive(Debug, Clone, Copy)]
pub struct TargetSpec {
    pub target: Target,
    pub object: &'static str,
    /// The external ID the upsert keys on; always column 0.
    pub external_id: &'static str,
    /// The CSV header, external ID first.
    pub columns: &'static [&'static str],
    /// Relationship columns to rows of other targets (their jobs must finish first).
    pub parents: &'static [ParentColumn],
    /// The Shopify kind recorded in the id mapping (`customer`, `order`, …).
    pub mapping_kind: &'static str,
    /// Every row updates a record that exists (upserts keyed on `Id`): on-create fields are
    /// never written.
    pub updates_only: bool,
}

impl TargetSpec {
    /// Whether a row's record already exists in Salesforce, so that its on-create fields
    /// are withheld: the target only updates, or the engine stored an id mapping for the
    /// row's key (`mapped`).
    pub fn record_exists(&self, mapped: bool) -> bool {
        self.updates_only || mapped
    }
}

const ACCOUNT_ADDRESS: [&str; 5] = [
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
];

macro_rules! columns {
    ($($part:expr),* $(,)?) => {{
        const PARTS: &[&[&str]] = &[$($part),*];
        const LEN: usize = {
            let mut n = 0;
            let mut i = 0;
            while i < PARTS.len() {
                n += PARTS[i].len();
                i += 1;
            }
            n
        };
        const COLUMNS: [&str; LEN] = {
            let mut out = [""; LEN];
            let mut n = 0;
            let mut i = 0;
            while i < PARTS.len() {
                let mut j = 0;
                while j < PARTS[i].len() {
                    out[n] = PARTS[i][j];
                    n += 1;
                    j += 1;
                }
                i += 1;
            }
            out
        };
        &COLUMNS
    }};
}

const CONTACT_COMMON: &[&str] = &[
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MailingStreet",
    "MailingCity",
    "MailingState",
    "MailingPostalCode",
    "MailingCountry",
    "HasOptedOutOfEmail",
    "Email_Consent_Status__c",
    "Email_Consent_Updated_At__c",
    "Email_Opt_In_Level__c",
    "SMS_Consent_Status__c",
    "SMS_Consent_Updated_At__c",
    "Shopify_Tags__c",
    "Shopify_Verified_Email__c",
    "Shopify_Created_At__c",
    "Shopify_Store__c",
];

/// [`CONTACT_COMMON`] as a Person Account names the same Contact fields, in the same order.
const PERSON_COMMON: &[&str] = &[
    "FirstName",
    "LastName",
    "PersonEmail",
    "Phone",
    "PersonMailingStreet",
    "PersonMailingCity",
    "PersonMailingState",
    "PersonMailingPostalCode",
    "PersonMailingCountry",
    "PersonHasOptedOutOfEmail",
    "Email_Consent_Status__pc",
    "Email_Consent_Updated_At__pc",
    "Email_Opt_In_Level__pc",
    "SMS_Consent_Status__pc",
    "SMS_Consent_Updated_At__pc",
    "Shopify_Tags__pc",
    "Shopify_Verified_Email__pc",
    "Shopify_Created_At__pc",
    "Shopify_Store__c",
];

const ORDER_COMMON: &[&str] = &[
    "BillToContact.Shopify_Customer_ID__c",
    "Pricebook2Id",
    "EffectiveDate",
    "Status",
    "Shopify_Order_Name__c",
    "Shopify_Total_Price__c",
    "Shopify_Currency__c",
    "Shopify_Financial_Status__c",
    "Shopify_Fulfillment_Status__c",
    "Shopify_Cancelled_At__c",
    "Shopify_Store__c",
];

/// The metric columns of a customer (Contact), after the key.
const CONTACT_METRICS: &[&str] = &[
    "Total_Spend__c",
    "Order_Count__c",
    "Average_Order_Value__c",
    "First_Order_Date__c",
    "Last_Order_Date__c",
    "Purchase_Frequency__c",
    "Churn_Risk__c",
    "CLV_Tier__c",
];

/// [`CONTACT_METRICS`] as a Person Account names them, in the same order.
const PERSON_METRICS: &[&str] = &[
    "Total_Spend__pc",
    "Order_Count__pc",
    "Average_Order_Value__pc",
    "First_Order_Date__pc",
    "Last_Order_Date__pc",
    "Purchase_Frequency__pc",
    "Churn_Risk__pc",
    "CLV_Tier__pc",
];

impl Target {
    /// Every target, parents before children; the metrics targets last.
    pub const ALL: [Target; 17] = [
        Target::CompanyAccount,
        Target::LocationAccount,
        Target::CustomerAccount,
        Target::CustomerContact,
        Target::CompanyContact,
        Target::ContactLink,
        Target::PersonAccount,
        Target::Product,
        Target::PriceEntry,
        Target::CustomerOrder,
        Target::LocationOrder,
        Target::CompanyOrder,
        Target::PersonOrder,
        Target::OrderItem,
        Target::ContactMetrics,
        Target::PersonMetrics,
        Target::CompanyMetrics,
    ];

    /// The commerce-metrics targets. Their rows are built from the state store's order
    /// cache once the Contacts' and Accounts' results are stored (only for records the
    /// engine has written), and they run after all the others, in a step of their own.
    pub const METRICS: [Target; 3] = [
        Target::ContactMetrics,
        Target::PersonMetrics,
        Target::CompanyMetrics,
    ];

    /// Whether this is one of [`Target::METRICS`].
    pub fn is_metrics(self) -> bool {
        Target::METRICS.contains(&self)
    }

    /// Whether the rows come from `orders.jsonl` (products, price book entries, orders and
    /// their line items) rather than from the customer side of the export
    /// (`companies.jsonl`, `customers.jsonl`, and the guest-checkout records).
    pub fn read_from_orders(self) -> bool {
        matches!(
            self,
            Target::Product
                | Target::PriceEntry
                | Target::CustomerOrder
                | Target::LocationOrder
                | Target::CompanyOrder
                | Target::PersonOrder
                | Target::OrderItem
        )
    }

    pub fn spec(self) -> &'static TargetSpec {
        &SPECS[self as usize]
    }

    /// Targets this one's rows point at.
    pub fn parent_targets(self) -> impl Iterator<Item = Target> {
        self.spec().parents.iter().map(|p| p.parent)
    }

    /// A short stable name (file names, job records, logs).
    pub fn name(self) -> &'static str {
        match self {
            Target::CompanyAccount => "account-company",
            Target::LocationAccount => "account-location",
            Target::CustomerAccount => "account-customer",
            Target::CustomerContact => "contact-customer",
            Target::CompanyContact => "contact-company",
            Target::PersonAccount => "account-person",
            Target::Product => "product",
            Target::PriceEntry => "pricebook-entry",
            Target::CustomerOrder => "order-customer",
            Target::LocationOrder => "order-location",
            Target::CompanyOrder => "order-company",
            Target::PersonOrder => "order-person",
            Target::OrderItem => "order-item",
            Target::ContactMetrics => "contact-metrics",
            Target::PersonMetrics => "account-person-metrics",
            Target::CompanyMetrics => "account-company-metrics",
            Target::ContactLink => "contact-link",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }
}

static SPECS: [TargetSpec; 17] = [
    TargetSpec {
        target: Target::CompanyAccount,
        object: "Account",
        external_id: "Shopify_Company_ID__c",
        columns: columns!(&[
            "Shopify_Company_ID__c",
            "Name",
            "Shopify_Company_External_ID__c",
            "Shopify_Store__c",
            "OwnerId"
        ],),
        parents: &[],
        mapping_kind: "company",
        updates_only: false,
    },
    TargetSpec {
        target: Target::LocationAccount,
        object: "Account",
        external_id: "Shopify_Location_ID__c",
        columns: columns!(
            &[
                "Shopify_Location_ID__c",
                "Parent.Shopify_Company_ID__c",
                "Name",
                "Phone"
            ],
            &ACCOUNT_ADDRESS,
            &["Shopify_Store__c", "OwnerId"],
        ),
        parents: &[ParentColumn {
            column: 1,
            parent: Target::CompanyAccount,
        }],
        mapping_kind: "company_location",
        updates_only: false,
    },
    TargetSpec {
        target: Target::CustomerAccount,
        object: "Account",
        external_id: "Shopify_Customer_ID__c",
        columns: columns!(
            &["Shopify_Customer_ID__c", "Name", "Phone"],
            &ACCOUNT_ADDRESS,
            &["Shopify_Store__c"],
        ),
        parents: &[],
        mapping_kind: "customer_account",
        updates_only: false,
    },
    TargetSpec {
        target: Target::CustomerContact,
        object: "Contact",
        external_id: "Shopify_Customer_ID__c",
        columns: columns!(
            &["Shopify_Customer_ID__c", "Account.Shopify_Customer_ID__c"],
            CONTACT_COMMON,
        ),
        parents: &[ParentColumn {
            column: 1,
            parent: Target::CustomerAccount,
        }],
        mapping_kind: "customer",
        updates_only: false,
    },
    TargetSpec {
        target: Target::CompanyContact,
        object: "Contact",
        external_id: "Shopify_Customer_ID__c",
        columns: columns!(
            &[
                "Shopify_Customer_ID__c",
                "Account.Shopify_Company_ID__c",
                "Title"
            ],
            CONTACT_COMMON,
            &["OwnerId"],
        ),
        parents: &[ParentColumn {
            column: 1,
            parent: Target::CompanyAccount,
        }],
        mapping_kind: "customer",
        updates_only: false,
    },
    TargetSpec {
        target: Target::ContactLink,
        object: "Contact",
        external_id: "Id",
        columns: columns!(&["Id", "Shopify_Customer_ID__c"], CONTACT_COMMON),
        parents: &[],
        mapping_kind: "contact_link",
        updates_only: true,
    },
    TargetSpec {
        target: Target::PersonAccount,
        object: "Account",
        external_id: "Shopify_Customer_ID__c",
        columns: columns!(
            &[
                "Shopify_Customer_ID__c",
                "RecordTypeId",
                "Shopify_Customer_ID__pc"
            ],
            PERSON_COMMON,
        ),
        parents: &[],
        mapping_kind: "customer_account",
        updates_only: false,
    },
    TargetSpec {
        target: Target::Product,
        object: "Product2",
        external_id: "Shopify_Variant_ID__c",
        columns: columns!(&[
            "Shopify_Variant_ID__c",
            "Name",
            "ProductCode",
            "IsActive",
            "Shopify_Product_ID__c",
        ]),
        parents: &[],
        mapping_kind: "variant",
        updates_only: false,
    },
    TargetSpec {
        target: Target::PriceEntry,
        object: "PricebookEntry",
        external_id: "Shopify_Price_Key__c",
        columns: columns!(&[
            "Shopify_Price_Key__c",
            "Product2.Shopify_Variant_ID__c",
            "Pricebook2Id",
            "UnitPrice",
            "IsActive",
        ]),
        parents: &[ParentColumn {
            column: 1,
            parent: Target::Product,
        }],
        mapping_kind: "price",
        updates_only: false,
    },
    TargetSpec {
        target: Target::CustomerOrder,
        object: "Order",
        external_id: "Shopify_Order_ID__c",
        columns: columns!(
            &["Shopify_Order_ID__c", "Account.Shopify_Customer_ID__c"],
            ORDER_COMMON,
        ),
        parents: &[
            ParentColumn {
                column: 1,
                parent: Target::CustomerAccount,
            },
            ParentColumn {
                column: 2,
                parent: Target::CustomerContact,
            },
            // A linked customer's orders bill to the Contact the link gives their key.
            ParentColumn {
                column: 2,
                parent: Target::ContactLink,
            },
        ],
        mapping_kind: "order",
        updates_only: false,
    },
    TargetSpec {
        target: Target::LocationOrder,
        object: "Order",
        external_id: "Shopify_Order_ID__c",
        columns: columns!(
            &["Shopify_Order_ID__c", "Account.Shopify_Location_ID__c"],
            ORDER_COMMON,
        ),
        parents: &[
            ParentColumn {
                column: 1,
                parent: Target::LocationAccount,
            },
            ParentColumn {
                column: 2,
                parent: Target::CompanyContact,
            },
        ],
        mapping_kind: "order",
        updates_only: false,
    },
    TargetSpec {
        target: Target::CompanyOrder,
        object: "Order",
        external_id: "Shopify_Order_ID__c",
        columns: columns!(
            &["Shopify_Order_ID__c", "Account.Shopify_Company_ID__c"],
            ORDER_COMMON,
        ),
        parents: &[
            ParentColumn {
                column: 1,
                parent: Target::CompanyAccount,
            },
            ParentColumn {
                column: 2,
                parent: Target::CompanyContact,
            },
        ],
        mapping_kind: "order",
        updates_only: false,
    },
    TargetSpec {
        target: Target::PersonOrder,
        object: "Order",
        external_id: "Shopify_Order_ID__c",
        columns: columns!(
            &["Shopify_Order_ID__c", "Account.Shopify_Customer_ID__c"],
            ORDER_COMMON,
        ),
        parents: &[
            ParentColumn {
                column: 1,
                parent: Target::PersonAccount,
            },
            ParentColumn {
                column: 2,
                parent: Target::PersonAccount,
            },
        ],
        mapping_kind: "order",
        updates_only: false,
    },
    TargetSpec {
        target: Target::OrderItem,
        object: "OrderItem",
        external_id: "Shopify_Line_Item_ID__c",
        columns: columns!(&[
            "Shopify_Line_Item_ID__c",
            "Order.Shopify_Order_ID__c",
            "PricebookEntry.Shopify_Price_Key__c",
            "Quantity",
            "UnitPrice",
            "Shopify_SKU__c",
        ]),
        parents: &[
            ParentColumn {
                column: 1,
                parent: Target::CustomerOrder,
            },
            ParentColumn {
                column: 2,
                parent: Target::PriceEntry,
            },
        ],
        mapping_kind: "line_item",
        updates_only: false,
    },
    TargetSpec {
        target: Target::ContactMetrics,
        object: "Contact",
        external_id: "Shopify_Customer_ID__c",
        columns: columns!(&["Shopify_Customer_ID__c"], CONTACT_METRICS),
        parents: &[],
        mapping_kind: "customer_metrics",
        updates_only: false,
    },
    TargetSpec {
        target: Target::PersonMetrics,
        object: "Account",
        external_id: "Shopify_Customer_ID__c",
        columns: columns!(&["Shopify_Customer_ID__c"], PERSON_METRICS),
        parents: &[],
        mapping_kind: "customer_account_metrics",
        updates_only: false,
    },
    TargetSpec {
        target: Target::CompanyMetrics,
        object: "Account",
        external_id: "Shopify_Company_ID__c",
        columns: columns!(&[
            "Shopify_Company_ID__c",
            "Total_Spend__c",
            "Order_Count__c",
            "Last_Order_Date__c",
        ]),
        parents: &[],
        mapping_kind: "company_metrics",
        updates_only: false,
    },
];

/// The column index of `name` in a target's header.
pub fn column(target: Target, name: &str) -> usize {
    target
        .spec()
        .columns
        .iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| panic!("{} has no column {name}", target.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column a target writes is in the engine's field contract
    /// ([`crate::salesforce_fields`]), which `shopforce sfdx check` holds against `sfdx/` and
    /// an integration test holds against the emulator's describe: a field the mapping writes
    /// but the admin never deployed fails here.
    #[test]
    fn every_column_written_is_in_the_field_contract() {
        use crate::salesforce_fields::{Access, object};
        for target in Target::ALL {
            let spec = target.spec();
            let contract = match target {
                Target::PersonAccount | Target::PersonMetrics => {
                    &crate::salesforce_fields::person_account::SOBJECT
                }
                _ => object(spec.object)
                    .unwrap_or_else(|| panic!("{} is not in salesforce_fields", spec.object)),
            };
            assert!(
                spec.external_id == "Id" || contract.upsert_keys.contains(&spec.external_id),
                "{} key {}",
                spec.object,
                spec.external_id
            );
            for column in spec.columns.iter().filter(|c| **c != "Id") {
                match column.split_once('.') {
                    Some((relationship, key)) => {
                        let reference = contract
                            .references
                            .iter()
                            .find(|r| r.relationship == relationship)
                            .unwrap_or_else(|| {
                                panic!("{}.{relationship} is not a contract reference", spec.object)
                            });
                        assert!(
                            reference.keys.contains(&key),
                            "{}.{column}: {key} is not a key of {}",
                            spec.object,
                            reference.target
                        );
                    }
                    None => {
                        let field = contract
                            .field(column)
                            .or_else(|| {
                                contract
                                    .references
                                    .iter()
                                    .find(|r| r.field == *column)
                                    .map(|_| &WRITE_REFERENCE)
                            })
                            .unwrap_or_else(|| {
                                panic!(
                                    "{}.{column} is written but not in the field contract",
                                    spec.object
                                )
                            });
                        assert_eq!(
                            field.access,
                            Access::Write,
                            "{}.{column} is written",
                            spec.object
                        );
                    }
                }
            }
        }
    }

    const WRITE_REFERENCE: crate::salesforce_fields::Field = crate::salesforce_fields::Field {
        name: "",
        access: crate::salesforce_fields::Access::Write,
        fls: crate::salesforce_fields::Fls::NotListed,
    };

    /// The state store keeps a record's payload hash on its id mapping, so a mapping kind
    /// must always be written to the same Salesforce key space (object + external ID), and
    /// the store's migration 0002 carried hashes over with exactly this table.
    #[test]
    fn each_mapping_kind_writes_one_key_space() {
        let mut seen: std::collections::HashMap<&str, (&str, &str)> = Default::default();
        for target in Target::ALL {
            let spec = target.spec();
            let space = (spec.object, spec.external_id);
            let first = *seen.entry(spec.mapping_kind).or_insert(space);
            assert_eq!(
                first, space,
                "mapping kind {} written to two key spaces",
                spec.mapping_kind
            );
        }
        let migration = include_str!("../../migrations/sqlite/0002_mapping_payload_hash.sql");
        // Kinds that came after migration 0002 had no hashes to carry over.
        const LATER_KINDS: [&str; 4] = [
            "contact_link",
            "customer_metrics",
            "customer_account_metrics",
            "company_metrics",
        ];
        for (kind, (object, external_id)) in seen {
            if LATER_KINDS.contains(&kind) {
                assert!(!migration.contains(&format!("'{kind}'")));
                continue;
            }
            let arm = format!("WHEN '{kind}'");
            let line = migration
                .lines()
                .find(|l| l.contains(&arm))
                .unwrap_or_else(|| panic!("migration 0002 does not carry kind {kind} over"));
            assert!(
                line.contains(&format!("'{object}.{external_id}'")),
                "migration 0002 maps {kind} to the wrong key space: {line}"
            );
        }
    }

    #[test]
    fn specs_are_indexed_by_target_and_keyed_on_column_zero() {
        for target in Target::ALL {
            let spec = target.spec();
            assert_eq!(spec.target, target);
            assert_eq!(spec.columns[0], spec.external_id);
            assert_eq!(Target::from_name(target.name()), Some(target));
            for p in spec.parents {
                assert!(p.column < spec.columns.len());
                assert!(
                    spec.columns[p.column].contains('.'),
                    "{}",
                    spec.columns[p.column]
                );
                // Parents come earlier in the dependency order.
                assert!((p.parent as usize) < (target as usize));
            }
            let mut seen = std::collections::HashSet::new();
            for c in spec.columns {
                assert!(
                    seen.insert(c.to_ascii_lowercase()),
                    "{} repeats {c}",
                    target.name()
                );
            }
        }
    }
}
