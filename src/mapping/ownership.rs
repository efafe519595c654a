//! Field ownership: which side may write each Salesforce field.
//!
//! Every field the engine could write has one owner:
//!
//! - **integration**: Shopify is the truth; written on every sync (ids, consent, tags, order
//!   data, metrics). A field is integration-owned unless the matrix says otherwise.
//! - **on_create**: Shopify's value seeds the record; once the record exists the CRM owns
//!   it (names, email, phone, addresses, owner). A sales rep's correction survives.
//! - **crm**: never written (notes, lead source, whatever the admin lists).
//!
//! The matrix comes from the `[ownership]` config section (lists of `Object.Field`, with
//! defaults below) and is enforced on every row just before upload, where the engine knows
//! whether the record already exists: a field the row may not write is left blank, and
//! Bulk API 2.0 leaves a blank field unchanged, so one job carries creates and updates. The
//! delta hash covers only the integration-owned cells, so a change Shopify makes to an
//! on-create field of an existing record does not resend the row. `shopforce fields` prints
//! the matrix from the same code.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::csv_file::payload_hash;
use super::target::Target;

/// Who writes a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    Integration,
    OnCreate,
    Crm,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Integration => "integration",
            Owner::OnCreate => "on_create",
            Owner::Crm => "crm",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Owner::Integration => "written on every sync",
            Owner::OnCreate => "written when shopforce creates the record, then CRM-owned",
            Owner::Crm => "never written by shopforce",
        }
    }
}

/// The `[ownership]` config section: `Object.Field` names. A list given in the config
/// replaces its default list. Compound fields expand: `Contact.MailingAddress` is the five
/// `Mailing*` parts (likewise `Billing`, `Shipping`, `Other`), `Contact.Name` is `FirstName`
/// and `LastName`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnershipConfig {
    /// Fields shopforce never writes.
    pub crm: Vec<String>,
    /// Fields shopforce writes only when it creates the record.
    pub on_create: Vec<String>,
}

/// CRM-owned by default: what sales reps keep on a record. Lifecycle-stage or lead-status
/// fields are custom in Salesforce; an admin adds theirs to `ownership.crm`.
pub const DEFAULT_CRM: &[&str] = &[
    "Contact.Description",
    "Contact.LeadSource",
    "Contact.Department",
    "Contact.ReportsToId",
    "Account.Description",
    "Account.Type",
    "Account.Rating",
    "Account.Industry",
];

/// Written on create only by default: Shopify seeds them, a sales rep may correct them.
/// `OwnerId` is set on create (B2B owner routing) and is the rep's from then on; an Order
/// is created as Draft and a rep who activates it is not overruled. A standard price book
/// entry is created with the price of the first sale seen: line-item prices vary from order
/// to order (sales, price changes), each sale's price is on its OrderItem, and an export
/// holding other orders must not move the list price back and forth.
pub const DEFAULT_ON_CREATE: &[&str] = &[
    "Contact.Name",
    "Contact.Email",
    "Contact.Phone",
    "Contact.MailingAddress",
    "Contact.Title",
    "Contact.OwnerId",
    "Account.Name",
    "Account.Phone",
    "Account.BillingAddress",
    "Account.OwnerId",
    "Order.Status",
    "PricebookEntry.UnitPrice",
];

impl Default for OwnershipConfig {
    fn default() -> OwnershipConfig {
        OwnershipConfig {
            crm: DEFAULT_CRM.iter().map(|s| s.to_string()).collect(),
            on_create: DEFAULT_ON_CREATE.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Objects the engine writes (the only ones an ownership entry may name).
pub const OBJECTS: &[&str] = &[
    "Account",
    "Contact",
    "Product2",
    "PricebookEntry",
    "Order",
    "OrderItem",
];

/// Fields Salesforce needs to create a record the engine creates: they may be `on_create`
/// but never `crm` (the create would fail).
const NEEDED_TO_CREATE: &[&str] = &[
    "Account.Name",
    "Contact.LastName",
    "Product2.Name",
    "PricebookEntry.Product2Id",
    "PricebookEntry.Pricebook2Id",
    "PricebookEntry.UnitPrice",
    "Order.AccountId",
    "Order.EffectiveDate",
    "Order.Status",
    "Order.Pricebook2Id",
    "OrderItem.OrderId",
    "OrderItem.PricebookEntryId",
    "OrderItem.Quantity",
    "OrderItem.UnitPrice",
];

/// An ownership entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct OwnershipError {
    /// The config key (`ownership.crm` or `ownership.on_create`).
    pub key: &'static str,
    pub message: String,
}

/// The field a column of a target writes: `(object, field)`. Relationship columns
/// (`Account.Shopify_Customer_ID__c`) write the lookup field (`AccountId`); a Person
/// Account's person columns are its person contact's fields.
pub fn column_field(target: Target, column: &str) -> (&'static str, String) {
    let object = target.spec().object;
    if let Some((relationship, _)) = column.split_once('.') {
        let field = match relationship.strip_suffix("__r") {
            Some(custom) => format!("{custom}__c"),
            None => format!("{relationship}Id"),
        };
        return (object, field);
    }
    if target == Target::PersonAccount
        && let Some(contact_field) = person_contact_field(column)
    {
        return ("Contact", contact_field);
    }
    (object, column.to_string())
}

/// A Person Account column that is really its person contact's field, by that field's
/// Contact name.
fn person_contact_field(column: &str) -> Option<String> {
    if let Some(custom) = column.strip_suffix("__pc") {
        return Some(format!("{custom}__c"));
    }
    if let Some(rest) = column.strip_prefix("Person") {
        return Some(rest.to_string());
    }
    matches!(column, "FirstName" | "LastName").then(|| column.to_string())
}

fn expand(object: &str, field: &str) -> Vec<String> {
    const ADDRESS_PARTS: [&str; 5] = ["Street", "City", "State", "PostalCode", "Country"];
    if let Some(prefix) = field.strip_suffix("Address")
        && matches!(prefix, "Mailing" | "Other" | "Billing" | "Shipping")
    {
        return ADDRESS_PARTS
            .iter()
            .map(|p| format!("{prefix}{p}"))
            .collect();
    }
    if object == "Contact" && field == "Name" {
        return vec!["FirstName".into(), "LastName".into()];
    }
    vec![field.to_string()]
}

fn is_api_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.as_bytes()[0].is_ascii_alphabetic()
}

/// One field of the matrix, as `shopforce fields` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatrixRow {
    pub object: String,
    pub field: String,
    pub owner: Owner,
    /// The targets (upsert jobs) that carry the field; empty for a field the engine never
    /// writes (listed as CRM-owned as a guard and as documentation).
    pub written_by: Vec<&'static str>,
}

/// The resolved ownership of every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipMatrix {
    /// Explicit entries; anything else is integration-owned.
    owners: BTreeMap<(String, String), Owner>,
}

impl Default for OwnershipMatrix {
    fn default() -> OwnershipMatrix {
        OwnershipMatrix::new(&OwnershipConfig::default())
            .unwrap_or_else(|e| panic!("the default ownership matrix is invalid: {e}"))
    }
}

impl OwnershipMatrix {
    /// Checks the config and resolves it.
    pub fn new(config: &OwnershipConfig) -> Result<OwnershipMatrix, OwnershipError> {
        let keys: BTreeSet<(&str, String)> = Target::ALL
            .iter()
            .map(|t| column_field(*t, t.spec().columns[0]))
            .collect();
        let mut owners = BTreeMap::new();
        for (key, owner, entries) in [
            ("ownership.on_create", Owner::OnCreate, &config.on_create),
            ("ownership.crm", Owner::Crm, &config.crm),
        ] {
            for entry in entries {
                let bad = |message: String| OwnershipError { key, message };
                let Some((object, field)) = entry.split_once('.') else {
                    return Err(bad(format!(
                        "{entry:?} must be Object.Field, for example Contact.Phone"
                    )));
                };
                if !OBJECTS.contains(&object) {
                    return Err(bad(format!(
                        "{entry:?}: shopforce writes only {}; {object:?} is not one of them",
                        OBJECTS.join(", ")
                    )));
                }
                if !is_api_name(field) {
                    return Err(bad(format!(
                        "{entry:?}: {field:?} is not a Salesforce field API name"
                    )));
                }
                for field in expand(object, field) {
                    let name = format!("{object}.{field}");
                    if keys.contains(&(object, field.clone())) {
                        return Err(bad(format!(
                            "{name} is the external ID shopforce upserts on; it must stay integration-owned"
                        )));
                    }
                    if owner == Owner::Crm && NEEDED_TO_CREATE.contains(&name.as_str()) {
                        return Err(bad(format!(
                            "{name} is needed to create a {object}; list it under ownership.on_create (written when the record is created) instead"
                        )));
                    }
                    if let Some(previous) = owners.insert((object.to_string(), field), owner)
                        && previous != owner
                    {
                        return Err(bad(format!(
                            "{name} is listed as both {} and {}; give it one owner",
                            previous.as_str(),
                            owner.as_str()
                        )));
                    }
                }
            }
        }
        Ok(OwnershipMatrix { owners })
    }

    /// The owner of `object.field`.
    pub fn owner(&self, object: &str, field: &str) -> Owner {
        self.owners
            .get(&(object.to_string(), field.to_string()))
            .copied()
            .unwrap_or(Owner::Integration)
    }

    /// How each column of `target` is written.
    pub fn rules(&self, target: Target) -> TargetRules {
        let columns = target
            .spec()
            .columns
            .iter()
            .map(|column| {
                let (object, field) = column_field(target, column);
                ColumnRule {
                    owner: self.owner(object, &field),
                    object,
                    field,
                }
            })
            .collect();
        TargetRules { target, columns }
    }

    /// Every field the engine writes or the matrix names, by object and field.
    pub fn table(&self) -> Vec<MatrixRow> {
        let mut rows: BTreeMap<(String, String), MatrixRow> = BTreeMap::new();
        for target in Target::ALL {
            for column in target.spec().columns {
                let (object, field) = column_field(target, column);
                let owner = self.owner(object, &field);
                let row = rows
                    .entry((object.to_string(), field.clone()))
                    .or_insert_with(|| MatrixRow {
                        object: object.to_string(),
                        field,
                        owner,
                        written_by: Vec::new(),
                    });
                if !row.written_by.contains(&target.name()) {
                    row.written_by.push(target.name());
                }
            }
        }
        for ((object, field), owner) in &self.owners {
            rows.entry((object.clone(), field.clone()))
                .or_insert_with(|| MatrixRow {
                    object: object.clone(),
                    field: field.clone(),
                    owner: *owner,
                    written_by: Vec::new(),
                });
        }
        let mut rows: Vec<MatrixRow> = rows.into_values().collect();
        let object_rank = |o: &str| OBJECTS.iter().position(|x| *x == o).unwrap_or(usize::MAX);
        rows.sort_by(|a, b| {
            (object_rank(&a.object), a.owner, &a.field).cmp(&(
                object_rank(&b.object),
                b.owner,
                &b.field,
            ))
        });
        rows
    }

    /// The matrix as a Markdown document (what `shopforce fields --markdown` prints).
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| Object | Field | Owner | Meaning | Written by |\n|---|---|---|---|---|\n",
        );
        for row in self.table() {
            let written = if row.written_by.is_empty() {
                "(not written by shopforce)".to_string()
            } else {
                row.written_by
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                row.object,
                row.field,
                row.owner.as_str(),
                row.owner.describe(),
                written
            ));
        }
        out
    }

    /// The matrix as a plain-text table for a terminal.
    pub fn text_table(&self) -> String {
        let rows = self.table();
        let width = |f: &dyn Fn(&MatrixRow) -> usize, title: &str| {
            rows.iter().map(f).max().unwrap_or(0).max(title.len())
        };
        let wo = width(&|r| r.object.len(), "OBJECT");
        let wf = width(&|r| r.field.len(), "FIELD");
        let wn = width(&|r| r.owner.as_str().len(), "OWNER");
        let mut out = format!(
            "{:wo$}  {:wf$}  {:wn$}  WRITTEN BY\n",
            "OBJECT", "FIELD", "OWNER"
        );
        for row in rows {
            let written = if row.written_by.is_empty() {
                "-".to_string()
            } else {
                row.written_by.join(", ")
            };
            out.push_str(&format!(
                "{:wo$}  {:wf$}  {:wn$}  {written}\n",
                row.object,
                row.field,
                row.owner.as_str()
            ));
        }
        out
    }
}

/// How one column of a target is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRule {
    pub owner: Owner,
    pub object: &'static str,
    pub field: String,
}

/// The ownership rules of one target's columns, in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRules {
    pub target: Target,
    pub columns: Vec<ColumnRule>,
}

/// The cells a row may not write, as bit masks over its columns (bit `i` = column `i`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Withheld {
    /// Non-empty CRM-owned cells: always blanked.
    pub crm: u64,
    /// Non-empty on-create cells: blanked when the record already exists.
    pub on_create: u64,
}

impl Withheld {
    /// The columns to blank in a row for a record that exists (or not).
    pub fn mask(self, exists: bool) -> u64 {
        if exists {
            self.crm | self.on_create
        } else {
            self.crm
        }
    }
}

impl TargetRules {
    /// Every column integration-owned: rows go out as built.
    pub fn writes_everything(&self) -> bool {
        self.columns.iter().all(|c| c.owner == Owner::Integration)
    }

    /// Which cells of a row are withheld from Salesforce. An empty cell (leave as is) is
    /// never counted as withheld.
    pub fn withheld<'a>(&self, cells: impl IntoIterator<Item = &'a str>) -> Withheld {
        let mut out = Withheld::default();
        for (i, (cell, rule)) in cells.into_iter().zip(&self.columns).enumerate() {
            if cell.is_empty() || i >= 64 {
                continue;
            }
            match rule.owner {
                Owner::Integration => {}
                Owner::OnCreate => out.on_create |= 1 << i,
                Owner::Crm => out.crm |= 1 << i,
            }
        }
        out
    }

    /// The delta hash of a row: the hash of its integration-owned cells (the others read
    /// as blank). What a sync compares with the hash stored at the last successful write,
    /// whether the row was sent as a create or an update.
    pub fn delta_hash<'a>(&self, cells: impl IntoIterator<Item = &'a str>) -> i64 {
        payload_hash(
            cells
                .into_iter()
                .zip(&self.columns)
                .map(|(cell, rule)| match rule.owner {
                    Owner::Integration => cell,
                    Owner::OnCreate | Owner::Crm => "",
                }),
        )
    }

    /// `Object.Field` of the columns in `mask`, in header order.
    pub fn fields_in(&self, mask: u64) -> impl Iterator<Item = (usize, &ColumnRule)> {
        self.columns
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i < 64 && mask & (1 << i) != 0)
    }
}

/// A row with the cells in `mask` blanked.
pub fn blank_cells(record: &csv::StringRecord, mask: u64) -> csv::StringRecord {
    record
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            if i < 64 && mask & (1 << i) != 0 {
                ""
            } else {
                cell
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(crm: &[&str], on_create: &[&str]) -> OwnershipConfig {
        OwnershipConfig {
            crm: crm.iter().map(|s| s.to_string()).collect(),
            on_create: on_create.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_follow_the_design() {
        let m = OwnershipMatrix::default();
        for field in ["FirstName", "LastName", "Email", "Phone", "MailingCity"] {
            assert_eq!(m.owner("Contact", field), Owner::OnCreate, "{field}");
        }
        for field in [
            "Shopify_Customer_ID__c",
            "Email_Consent_Status__c",
            "HasOptedOutOfEmail",
            "Shopify_Tags__c",
            "Shopify_Created_At__c",
            "Total_Spend__c",
        ] {
            assert_eq!(m.owner("Contact", field), Owner::Integration, "{field}");
        }
        assert_eq!(m.owner("Contact", "Description"), Owner::Crm);
        assert_eq!(m.owner("Contact", "OwnerId"), Owner::OnCreate);
        assert_eq!(m.owner("Order", "Status"), Owner::OnCreate);
        assert_eq!(m.owner("Order", "EffectiveDate"), Owner::Integration);
        assert_eq!(m.owner("PricebookEntry", "UnitPrice"), Owner::OnCreate);
    }

    #[test]
    fn relationship_and_person_columns_name_the_field_they_write() {
        assert_eq!(
            column_field(Target::CustomerContact, "Account.Shopify_Customer_ID__c"),
            ("Contact", "AccountId".to_string())
        );
        assert_eq!(
            column_field(Target::LocationAccount, "Parent.Shopify_Company_ID__c"),
            ("Account", "ParentId".to_string())
        );
        assert_eq!(
            column_field(Target::PersonAccount, "PersonEmail"),
            ("Contact", "Email".to_string())
        );
        assert_eq!(
            column_field(Target::PersonAccount, "Email_Consent_Status__pc"),
            ("Contact", "Email_Consent_Status__c".to_string())
        );
        assert_eq!(
            column_field(Target::PersonAccount, "Shopify_Store__c"),
            ("Account", "Shopify_Store__c".to_string())
        );
        assert_eq!(
            column_field(Target::PersonAccount, "PersonMailingCity"),
            ("Contact", "MailingCity".to_string())
        );
    }

    #[test]
    fn a_person_accounts_person_fields_follow_the_contact_rules() {
        let m = OwnershipMatrix::default();
        let rules = m.rules(Target::PersonAccount);
        let owner = |col: &str| {
            let i = Target::PersonAccount
                .spec()
                .columns
                .iter()
                .position(|c| *c == col)
                .unwrap();
            rules.columns[i].owner
        };
        assert_eq!(owner("PersonEmail"), Owner::OnCreate);
        assert_eq!(owner("LastName"), Owner::OnCreate);
        assert_eq!(owner("Email_Consent_Status__pc"), Owner::Integration);
        assert_eq!(owner("Shopify_Customer_ID__c"), Owner::Integration);
    }

    #[test]
    fn bad_entries_name_the_key_and_the_fix() {
        let err = |c: OwnershipConfig| OwnershipMatrix::new(&c).unwrap_err().to_string();
        assert!(
            err(config(&["Phone"], &[])).contains("ownership.crm: \"Phone\" must be Object.Field")
        );
        assert!(err(config(&["Lead.Status"], &[])).contains("\"Lead\" is not one of them"));
        assert!(
            err(config(&[], &["Contact.Shopify_Customer_ID__c"]))
                .contains("external ID shopforce upserts on")
        );
        assert!(err(config(&["Contact.LastName"], &[])).contains("needed to create a Contact"));
        assert!(err(config(&["Contact.Name"], &[])).contains("Contact.LastName is needed"));
        assert!(
            err(config(&["Contact.Phone"], &["Contact.Phone"]))
                .contains("listed as both on_create and crm")
        );
        assert!(err(config(&["Contact.Ph one"], &[])).contains("not a Salesforce field API name"));
    }

    #[test]
    fn compound_fields_expand_to_their_parts() {
        let m =
            OwnershipMatrix::new(&config(&["Account.ShippingAddress"], &["Contact.Name"])).unwrap();
        assert_eq!(m.owner("Account", "ShippingPostalCode"), Owner::Crm);
        assert_eq!(m.owner("Contact", "FirstName"), Owner::OnCreate);
        assert_eq!(m.owner("Contact", "LastName"), Owner::OnCreate);
        assert_eq!(m.owner("Contact", "Email"), Owner::Integration);
    }

    #[test]
    fn withheld_cells_depend_on_whether_the_record_exists() {
        let m = OwnershipMatrix::new(&config(&["Contact.Shopify_Tags__c"], &["Contact.Phone"]))
            .unwrap();
        let rules = m.rules(Target::CustomerContact);
        let columns = Target::CustomerContact.spec().columns;
        let mut cells: Vec<&str> = vec![""; columns.len()];
        let at = |name: &str| columns.iter().position(|c| *c == name).unwrap();
        cells[0] = "42";
        cells[at("Phone")] = "+15125550123";
        cells[at("Shopify_Tags__c")] = "vip";
        cells[at("Email")] = "a@example.com";
        let w = rules.withheld(cells.iter().copied());
        assert_eq!(w.crm, 1 << at("Shopify_Tags__c"));
        assert_eq!(w.on_create, 1 << at("Phone"));
        assert_eq!(w.mask(false), w.crm);
        assert_eq!(w.mask(true), w.crm | w.on_create);
        let record: csv::StringRecord = cells.iter().copied().collect();
        let blanked = blank_cells(&record, w.mask(true));
        assert_eq!(&blanked[at("Phone")], "");
        assert_eq!(&blanked[at("Shopify_Tags__c")], "");
        assert_eq!(&blanked[at("Email")], "a@example.com");
        let names: Vec<&str> = rules
            .fields_in(w.mask(true))
            .map(|(_, r)| r.field.as_str())
            .collect();
        assert_eq!(names, ["Phone", "Shopify_Tags__c"]);
    }

    #[test]
    fn the_delta_hash_ignores_cells_the_row_may_not_write() {
        let rules = OwnershipMatrix::default().rules(Target::CustomerContact);
        let columns = Target::CustomerContact.spec().columns;
        let at = |name: &str| columns.iter().position(|c| *c == name).unwrap();
        let mut a: Vec<&str> = vec!["x"; columns.len()];
        let base = rules.delta_hash(a.iter().copied());
        a[at("Phone")] = "changed";
        a[at("FirstName")] = "changed";
        assert_eq!(rules.delta_hash(a.iter().copied()), base);
        a[at("Shopify_Tags__c")] = "changed";
        assert_ne!(rules.delta_hash(a.iter().copied()), base);
    }

    #[test]
    fn the_table_lists_every_written_field_once_and_guards() {
        let m = OwnershipMatrix::default();
        let table = m.table();
        let find = |o: &str, f: &str| table.iter().find(|r| r.object == o && r.field == f);
        let phone = find("Contact", "Phone").unwrap();
        assert_eq!(phone.owner, Owner::OnCreate);
        assert!(phone.written_by.contains(&"contact-customer"));
        assert!(phone.written_by.contains(&"contact-company"));
        assert!(
            find("Contact", "Description")
                .unwrap()
                .written_by
                .is_empty()
        );
        let md = m.markdown();
        assert!(md.contains("| Contact | `Phone` | on_create |"));
        assert_eq!(
            table
                .iter()
                .filter(|r| r.object == "Contact" && r.field == "Email")
                .count(),
            1
        );
        assert!(m.text_table().starts_with("OBJECT"));
    }
}
