//! The org's data dictionary: objects, fields and the values they hold.
//!
//! Standard objects are declared in [`super::standard`]; custom fields are read from the
//! project's `sfdx/` folder by [`super::metadata`]. Everything downstream (DML, SOQL,
//! describe) asks this module what a field is rather than hard-coding names.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Name → position. Looked up for every field of every row a job saves, so with a fast
/// hash rather than the standard SipHash (names come from the org's own schema).
type NameMap = HashMap<String, usize, foldhash::fast::FixedState>;

/// Positions by API name, found case-insensitively as Salesforce resolves names. The name
/// as declared is tried first: the usual spelling (the engine's, the rules' own) is found
/// without lower-casing a copy, an allocation, on every lookup.
#[derive(Debug, Clone, Default)]
struct NameIndex {
    exact: NameMap,
    lower: NameMap,
}

impl NameIndex {
    fn new<'a>(names: impl Iterator<Item = &'a str> + Clone) -> NameIndex {
        NameIndex {
            exact: names
                .clone()
                .enumerate()
                .map(|(i, n)| (n.to_string(), i))
                .collect(),
            lower: names
                .enumerate()
                .map(|(i, n)| (n.to_ascii_lowercase(), i))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.exact.get(name).or_else(|| self.lower.get(name)) {
            return Some(*i);
        }
        self.lower.get(&name.to_ascii_lowercase()).copied()
    }
}

/// Text as stored in records: up to 24 bytes (Ids, names, most emails, picklist values)
/// live inline without a heap allocation, which matters at millions of records.
pub type Text = compact_str::CompactString;

/// A stored field value. `Null` is "no value" (Salesforce does not distinguish empty text
/// from null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v")]
pub enum Value {
    Null,
    String(Text),
    Number(f64),
    Boolean(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as Salesforce writes it in CSV and JSON text (dates `yyyy-MM-dd`, datetimes
    /// `yyyy-MM-ddTHH:mm:ss.SSS+0000`, booleans `true`/`false`). Null is the empty string.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::String(s) => s.to_string(),
            Value::Number(n) => format_number(*n),
            Value::Boolean(b) => b.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(dt) => format_datetime(dt),
        }
    }

    /// The value as a JSON value, the way the REST API renders it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    serde_json::Value::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null)
                }
            }
            Value::Boolean(b) => serde_json::Value::Bool(*b),
            Value::Date(_) | Value::DateTime(_) => serde_json::Value::String(self.to_text()),
        }
    }
}

/// Salesforce's datetime text form: milliseconds and an offset without a colon.
pub fn format_datetime(dt: &DateTime<Utc>) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Numbers print without a trailing `.0` when integral, otherwise in shortest form.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// The field types the emulator models (Metadata API `FieldType` plus the standard-only
/// `Id` and `Reference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldType {
    Id,
    Reference,
    Text,
    TextArea,
    LongTextArea,
    Email,
    Phone,
    Url,
    Picklist,
    MultiselectPicklist,
    Number,
    Currency,
    Percent,
    Checkbox,
    Date,
    DateTime,
    AutoNumber,
}

impl FieldType {
    /// The `type` name used by `describe` (lower camel case, as Salesforce spells it).
    pub fn describe_name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::Reference => "reference",
            FieldType::Text | FieldType::AutoNumber => "string",
            FieldType::TextArea | FieldType::LongTextArea => "textarea",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Picklist => "picklist",
            FieldType::MultiselectPicklist => "multipicklist",
            FieldType::Number => "double",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Checkbox => "boolean",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
        }
    }

    /// Whether values of this type are text (stored as [`Value::String`]).
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            FieldType::Id
                | FieldType::Reference
                | FieldType::Text
                | FieldType::TextArea
                | FieldType::LongTextArea
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Picklist
                | FieldType::MultiselectPicklist
                | FieldType::AutoNumber
        )
    }
}

/// The allowed values of a picklist field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Picklist {
    /// API names of the values, in metadata order.
    pub values: Vec<String>,
    /// A restricted picklist rejects values outside `values`
    /// (`INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`).
    pub restricted: bool,
    /// The value used on insert when none is given.
    pub default: Option<String>,
}

/// One field of an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    /// API name, e.g. `LastName` or `Shopify_Customer_ID__c`.
    pub name: String,
    pub label: String,
    pub field_type: FieldType,
    /// Maximum characters for text types.
    pub length: Option<u32>,
    /// Total digits and digits after the point for numeric types.
    pub precision: Option<u32>,
    pub scale: Option<u32>,
    /// An insert must supply a value (`REQUIRED_FIELD_MISSING`).
    pub required: bool,
    /// The field may be set on insert / update through the API.
    pub createable: bool,
    pub updateable: bool,
    pub external_id: bool,
    pub unique: bool,
    pub case_sensitive: bool,
    /// Standard fields usable as relationship lookup keys (`idLookup` in describe).
    pub id_lookup: bool,
    pub picklist: Option<Picklist>,
    /// For references: the objects this field can point at (more than one = polymorphic).
    pub reference_to: Vec<String>,
    /// For references: the relationship name used in CSV headers and SOQL (`Account` for
    /// `AccountId`, `Parent__r` for `Parent__c`).
    pub relationship_name: Option<String>,
    /// For formula fields: the formula source, evaluated on read.
    pub formula: Option<String>,
    /// `formulaTreatBlanksAs` = `BlankAsZero`.
    pub formula_blanks_as_zero: bool,
    /// Value set on insert when the row does not give one (checkbox defaults, etc.).
    pub default_value: Option<Value>,
    /// Custom field (name ends in `__c`).
    pub custom: bool,
}

impl FieldDef {
    /// A plain, optional, createable and updateable field of the given type.
    pub fn new(name: &str, field_type: FieldType) -> FieldDef {
        FieldDef {
            name: name.to_string(),
            label: label_from_api_name(name),
            field_type,
            length: match field_type {
                FieldType::Text => Some(255),
                FieldType::Email | FieldType::Url => Some(255),
                FieldType::Phone => Some(40),
                FieldType::Picklist | FieldType::MultiselectPicklist => Some(255),
                FieldType::TextArea => Some(255),
                FieldType::LongTextArea => Some(32000),
                FieldType::Id | FieldType::Reference => Some(18),
                FieldType::AutoNumber => Some(30),
                _ => None,
            },
            precision: match field_type {
                FieldType::Number | FieldType::Currency | FieldType::Percent => Some(18),
                _ => None,
            },
            scale: match field_type {
                FieldType::Currency => Some(2),
                FieldType::Number | FieldType::Percent => Some(0),
                _ => None,
            },
            required: false,
            createable: field_type != FieldType::Id && field_type != FieldType::AutoNumber,
            updateable: field_type != FieldType::Id && field_type != FieldType::AutoNumber,
            external_id: false,
            unique: false,
            case_sensitive: false,
            id_lookup: field_type == FieldType::Id,
            picklist: None,
            reference_to: Vec::new(),
            relationship_name: None,
            formula: None,
            formula_blanks_as_zero: false,
            default_value: None,
            custom: name.ends_with("__c"),
        }
    }

    /// Whether the field can be written at all (not a formula, not system-maintained).
    pub fn is_writable(&self) -> bool {
        self.createable || self.updateable
    }

    /// Whether this field may serve as the key of a relationship column or upsert.
    pub fn is_indexed_lookup(&self) -> bool {
        self.external_id || self.id_lookup
    }
}

/// "Shopify_Customer_ID__c" → "Shopify Customer ID"; "LastName" → "Last Name".
pub fn label_from_api_name(name: &str) -> String {
    let base = name.strip_suffix("__c").unwrap_or(name);
    let mut out = String::with_capacity(base.len() + 4);
    let chars: Vec<char> = base.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            out.push(' ');
            continue;
        }
        if i > 0 && c.is_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || (prev.is_uppercase() && next_lower) {
                out.push(' ');
            }
        }
        out.push(c);
    }
    out
}

/// One sObject type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectDef {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    /// Three-character Id prefix (`001` Account, `003` Contact, …).
    pub key_prefix: String,
    pub fields: Vec<FieldDef>,
    /// Field name → position in `fields`.
    #[serde(skip)]
    names: NameIndex,
    /// Lower-cased relationship name → position of its reference field.
    #[serde(skip)]
    relationships: NameMap,
}

impl ObjectDef {
    pub fn new(
        name: &str,
        label_plural: &str,
        key_prefix: &str,
        fields: Vec<FieldDef>,
    ) -> ObjectDef {
        let mut def = ObjectDef {
            name: name.to_string(),
            label: label_from_api_name(name),
            label_plural: label_plural.to_string(),
            key_prefix: key_prefix.to_string(),
            fields,
            names: NameIndex::default(),
            relationships: NameMap::default(),
        };
        def.reindex();
        def
    }

    fn reindex(&mut self) {
        self.names = NameIndex::new(self.fields.iter().map(|f| f.name.as_str()));
        self.relationships = self
            .fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.relationship_name
                    .as_ref()
                    .map(|r| (r.to_ascii_lowercase(), i))
            })
            .collect();
    }

    /// Adds a field, or replaces the one with the same name (custom fields from `sfdx/`
    /// may refine a standard definition).
    pub fn upsert_field(&mut self, field: FieldDef) {
        match self.field_position(&field.name) {
            Some(i) => self.fields[i] = field,
            None => self.fields.push(field),
        }
        self.reindex();
    }

    /// Case-insensitive field lookup, as Salesforce resolves API names.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.field_position(name).map(|i| &self.fields[i])
    }

    pub fn field_position(&self, name: &str) -> Option<usize> {
        self.names.get(name)
    }

    /// The reference field behind a relationship name (`Account` → `AccountId`).
    pub fn relationship(&self, name: &str) -> Option<(usize, &FieldDef)> {
        self.relationships
            .get(&name.to_ascii_lowercase())
            .map(|&i| (i, &self.fields[i]))
    }

    /// External-ID fields (the ones an upsert may key on, besides `Id`).
    pub fn external_id_fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(|f| f.external_id)
    }

    /// Rebuilds lookup tables after deserialising.
    pub fn after_load(&mut self) {
        self.reindex();
    }
}

/// Every object of the org, by case-insensitive name and by key prefix.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    objects: Vec<ObjectDef>,
    /// By name (a reference check looks its target objects up for every row it saves).
    names: NameIndex,
    /// By key prefix, the first object declared with it: every Id lookup starts here.
    by_prefix: NameMap,
}

impl Schema {
    pub fn new(objects: Vec<ObjectDef>) -> Schema {
        let mut schema = Schema {
            objects,
            ..Schema::default()
        };
        schema.reindex();
        schema
    }

    fn reindex(&mut self) {
        self.names = NameIndex::new(self.objects.iter().map(|o| o.name.as_str()));
        self.by_prefix = NameMap::default();
        for (i, o) in self.objects.iter().enumerate() {
            self.by_prefix.entry(o.key_prefix.clone()).or_insert(i);
        }
    }

    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        self.position(name).map(|i| &self.objects[i])
    }

    pub fn object_mut(&mut self, name: &str) -> Option<&mut ObjectDef> {
        self.position(name).map(|i| &mut self.objects[i])
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.get(name)
    }

    pub fn objects(&self) -> &[ObjectDef] {
        &self.objects
    }

    /// Adds an object (org features such as Person Accounts bring their own).
    pub fn add_object(&mut self, object: ObjectDef) {
        self.objects.push(object);
        self.reindex();
    }

    /// Position of the object whose Ids start with `prefix`.
    pub fn position_by_prefix(&self, prefix: &str) -> Option<usize> {
        self.by_prefix.get(prefix).copied()
    }

    /// The object whose Ids start with `prefix`.
    pub fn object_by_prefix(&self, prefix: &str) -> Option<&ObjectDef> {
        self.position_by_prefix(prefix).map(|i| &self.objects[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_derived_from_api_names() {
        assert_eq!(
            label_from_api_name("Shopify_Customer_ID__c"),
            "Shopify Customer ID"
        );
        assert_eq!(label_from_api_name("LastName"), "Last Name");
        assert_eq!(
            label_from_api_name("HasOptedOutOfEmail"),
            "Has Opted Out Of Email"
        );
    }

    #[test]
    fn field_lookup_ignores_case() {
        let obj = ObjectDef::new(
            "Contact",
            "Contacts",
            "003",
            vec![FieldDef::new("LastName", FieldType::Text)],
        );
        assert!(obj.field("lastname").is_some());
        assert!(obj.field("LASTNAME").is_some());
        assert!(obj.field("FirstName").is_none());
    }

    #[test]
    fn datetimes_print_like_salesforce() {
        let dt = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_datetime(&dt), "2026-11-25T10:00:00.000+0000");
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(12.5), "12.5");
    }
}
