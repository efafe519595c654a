//! Reads the custom fields the project deploys to Salesforce from its Salesforce DX folder
//! (`sfdx/`, source format), so the emulator's schema is exactly what a real org gets.
//!
//! Each `objects/<Object>/fields/<Field>.field-meta.xml` holds one Metadata API
//! `CustomField`. Parsing is strict where a real deploy would fail or the Salesforce CLI
//! would silently do something else (misspelled elements, a file named `X.field.xml`,
//! `fullName` not matching the file name), so a mistake shows up in the emulator's tests
//! rather than in a customer's org.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::formula::Formula;
use super::schema::{FieldDef, FieldType, Picklist, Value, label_from_api_name};

/// The Metadata API namespace every `CustomField` document declares.
pub const METADATA_NAMESPACE: &str = "http://soap.sforce.com/2006/04/metadata";

/// `CustomField` child elements in Metadata API (WSDL v66) sequence order, `fullName` first.
const CUSTOM_FIELD_ELEMENTS: &[&str] = &[
    "fullName",
    "businessOwnerGroup",
    "businessOwnerUser",
    "businessStatus",
    "caseSensitive",
    "complianceGroup",
    "customDataType",
    "defaultValue",
    "deleteConstraint",
    "deprecated",
    "description",
    "displayFormat",
    "displayLocationInDecimal",
    "elementType",
    "encryptionScheme",
    "escapeMarkup",
    "externalDeveloperName",
    "externalId",
    "fieldManageability",
    "formula",
    "formulaTreatBlanksAs",
    "inlineHelpText",
    "isAIPredictionField",
    "isConvertLeadDisabled",
    "isFilteringDisabled",
    "isNameField",
    "isSortingDisabled",
    "label",
    "length",
    "lookupFilter",
    "maskChar",
    "maskType",
    "metadataRelationshipControllingField",
    "mktDataLakeFieldAttributes",
    "mktDataModelFieldAttributes",
    "picklist",
    "populateExistingRows",
    "precision",
    "readOnlyProxy",
    "referenceTargetField",
    "referenceTo",
    "relationshipLabel",
    "relationshipName",
    "relationshipOrder",
    "reparentableMasterDetail",
    "required",
    "restrictedAdminField",
    "scale",
    "securityClassification",
    "startingNumber",
    "stripMarkup",
    "summarizedField",
    "summaryFilterItems",
    "summaryForeignKey",
    "summaryOperation",
    "trackFeedHistory",
    "trackHistory",
    "trackTrending",
    "translateData",
    "type",
    "unique",
    "valueSet",
    "visibleLines",
    "writeRequiresMasterRead",
];

/// Metadata `type` values the emulator models, and what they become.
const SUPPORTED_TYPES: &[(&str, FieldType)] = &[
    ("Text", FieldType::Text),
    ("TextArea", FieldType::TextArea),
    ("LongTextArea", FieldType::LongTextArea),
    ("Html", FieldType::LongTextArea),
    ("Email", FieldType::Email),
    ("Phone", FieldType::Phone),
    ("Url", FieldType::Url),
    ("Picklist", FieldType::Picklist),
    ("MultiselectPicklist", FieldType::MultiselectPicklist),
    ("Number", FieldType::Number),
    ("Currency", FieldType::Currency),
    ("Percent", FieldType::Percent),
    ("Checkbox", FieldType::Checkbox),
    ("Date", FieldType::Date),
    ("DateTime", FieldType::DateTime),
    ("Lookup", FieldType::Reference),
    ("MasterDetail", FieldType::Reference),
    ("AutoNumber", FieldType::AutoNumber),
];

/// Valid Metadata API field types the emulator does not model.
const UNSUPPORTED_TYPES: &[&str] = &[
    "EncryptedText",
    "Summary",
    "Hierarchy",
    "File",
    "MetadataRelationship",
    "Location",
    "ExternalLookup",
    "IndirectLookup",
    "CustomDataType",
    "Time",
    "Address",
    "Array",
    "Integer",
    "Long",
];

fn supported_type_names() -> String {
    SUPPORTED_TYPES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A problem with the `sfdx/` folder. Every message starts with the offending path.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not well-formed XML: {message}", .path.display())]
    Xml { path: PathBuf, message: String },
    #[error(
        "{}: root element is {found}; expected <CustomField xmlns=\"{METADATA_NAMESPACE}\">",
        .path.display()
    )]
    NotCustomField { path: PathBuf, found: String },
    #[error("{}: missing required element <{element}>{hint}", .path.display())]
    MissingElement {
        path: PathBuf,
        element: &'static str,
        /// Extra explanation, empty or starting with a space.
        hint: String,
    },
    #[error(
        "{}: unknown element <{element}> in CustomField (misspelled? the Salesforce CLI would not \
         catch this, but a deploy fails)",
        .path.display()
    )]
    UnknownElement { path: PathBuf, element: String },
    #[error("{}: element <{element}> appears more than once", .path.display())]
    DuplicateElement { path: PathBuf, element: String },
    #[error(
        "{}: fullName '{full_name}' is not a custom field API name: {reason}",
        .path.display()
    )]
    BadFieldName {
        path: PathBuf,
        full_name: String,
        reason: String,
    },
    #[error(
        "{}: fullName '{full_name}' does not match the file name '{stem}' (rename the file to \
         {full_name}.field-meta.xml or set <fullName>{stem}</fullName>)",
        .path.display()
    )]
    NameMismatch {
        path: PathBuf,
        full_name: String,
        stem: String,
    },
    #[error(
        "{}: unknown field type '{found}' (expected one of {})",
        .path.display(),
        supported_type_names()
    )]
    UnknownType { path: PathBuf, found: String },
    #[error(
        "{}: field type '{found}' is valid in Salesforce but not modelled by the emulator \
         (supported: {})",
        .path.display(),
        supported_type_names()
    )]
    UnsupportedType { path: PathBuf, found: String },
    #[error("{}: <{element}> is '{value}', expected {expected}", .path.display())]
    InvalidValue {
        path: PathBuf,
        element: &'static str,
        value: String,
        expected: String,
    },
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: <{element}> does not parse as a formula: {message}", .path.display())]
    Formula {
        path: PathBuf,
        element: &'static str,
        message: String,
    },
    #[error(
        "{}: expected custom field files to be named <Field>.field-meta.xml and to live in \
         objects/<Object>/fields/ (the Salesforce CLI silently ignores other names)",
        .path.display()
    )]
    BadFileName { path: PathBuf },
    #[error(
        "{}: field {object}.{field} is already defined in {}",
        .path.display(),
        .first.display()
    )]
    DuplicateField {
        path: PathBuf,
        first: PathBuf,
        object: String,
        field: String,
    },
}

/// One parsed `objects/<Object>/fields/<Field>.field-meta.xml`.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldFile {
    /// The object folder name (`Contact`, `Order`, …).
    pub object: String,
    pub field: FieldDef,
    pub path: PathBuf,
}

const FIELD_SUFFIX: &str = ".field-meta.xml";

/// Walk `<sfdx_dir>/**/objects/<Object>/fields/*.field-meta.xml` (any package directory, any
/// depth), parse each. Files come back sorted by path. Hidden directories and
/// `node_modules` are skipped.
pub fn load_custom_fields(sfdx_dir: &Path) -> Result<Vec<CustomFieldFile>, MetadataError> {
    let mut paths = Vec::new();
    walk(sfdx_dir, &mut paths)?;
    paths.sort();
    let mut out: Vec<CustomFieldFile> = Vec::with_capacity(paths.len());
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for path in paths {
        let object =
            object_of(&path).ok_or_else(|| MetadataError::BadFileName { path: path.clone() })?;
        let xml = std::fs::read_to_string(&path).map_err(|source| MetadataError::Io {
            path: path.clone(),
            source,
        })?;
        let field = parse_custom_field(&object, &path, &xml)?;
        let key = (object.to_ascii_lowercase(), field.name.to_ascii_lowercase());
        if let Some(&i) = seen.get(&key) {
            return Err(MetadataError::DuplicateField {
                path,
                first: out[i].path.clone(),
                object,
                field: field.name,
            });
        }
        seen.insert(key, out.len());
        out.push(CustomFieldFile {
            object,
            field,
            path,
        });
    }
    Ok(out)
}

/// `…/objects/<Object>/fields/<file>` → `<Object>`.
fn object_of(path: &Path) -> Option<String> {
    let fields_dir = path.parent()?;
    if fields_dir.file_name()? != "fields" {
        return None;
    }
    let object_dir = fields_dir.parent()?;
    if object_dir.parent()?.file_name()? != "objects" {
        return None;
    }
    object_dir.file_name()?.to_str().map(str::to_string)
}

/// Collects field files; flags XML files in a `fields` folder that the CLI would skip and
/// field files outside `objects/<Object>/fields/`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), MetadataError> {
    let io = |source| MetadataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if file_type.is_dir() {
            if name.starts_with('.') || name == "node_modules" {
                continue;
            }
            walk(&path, out)?;
        } else if file_type.is_file() {
            let in_fields_dir = object_of(&path).is_some();
            if name.ends_with(FIELD_SUFFIX) {
                if !in_fields_dir {
                    return Err(MetadataError::BadFileName { path });
                }
                out.push(path);
            } else if in_fields_dir && name.ends_with(".xml") {
                return Err(MetadataError::BadFileName { path });
            }
        }
    }
    Ok(())
}

/// The child elements of one XML element, by local name.
struct Elements<'a, 'input> {
    path: &'a Path,
    nodes: Vec<(&'a str, roxmltree::Node<'a, 'input>)>,
}

impl<'a, 'input> Elements<'a, 'input> {
    fn of(path: &'a Path, parent: roxmltree::Node<'a, 'input>) -> Self {
        let nodes = parent
            .children()
            .filter(|n| n.is_element())
            .map(|n| (n.tag_name().name(), n))
            .collect();
        Elements { path, nodes }
    }

    fn node(&self, name: &str) -> Option<roxmltree::Node<'a, 'input>> {
        self.nodes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, node)| *node)
    }

    fn all(&self, name: &str) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> + '_ {
        let name = name.to_string();
        self.nodes
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, node)| *node)
    }

    /// Trimmed text; `None` when the element is absent or empty.
    fn text(&self, name: &str) -> Option<&'a str> {
        self.node(name)
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn required(&self, name: &'static str, hint: &str) -> Result<&'a str, MetadataError> {
        self.text(name)
            .ok_or_else(|| MetadataError::MissingElement {
                path: self.path.to_path_buf(),
                element: name,
                hint: hint.to_string(),
            })
    }

    fn bool(&self, name: &'static str) -> Result<Option<bool>, MetadataError> {
        match self.text(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(MetadataError::InvalidValue {
                path: self.path.to_path_buf(),
                element: name,
                value: other.to_string(),
                expected: "true or false".to_string(),
            }),
        }
    }

    fn number(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Option<u32>, MetadataError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        match text.parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(MetadataError::InvalidValue {
                path: self.path.to_path_buf(),
                element: name,
                value: text.to_string(),
                expected: format!("a whole number from {} to {}", range.start(), range.end()),
            }),
        }
    }
}

/// Checks a custom field API name: letters, digits and single underscores, starting with a
/// letter, at most 40 characters before the `__c` suffix.
fn check_field_name(path: &Path, full_name: &str) -> Result<(), MetadataError> {
    let bad = |reason: &str| MetadataError::BadFieldName {
        path: path.to_path_buf(),
        full_name: full_name.to_string(),
        reason: reason.to_string(),
    };
    let Some(base) = full_name.strip_suffix("__c") else {
        return Err(bad("custom field names must end in __c"));
    };
    if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(bad("it must start with a letter"));
    }
    if !base.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad("only letters, digits and underscores are allowed"));
    }
    if base.contains("__") || base.ends_with('_') {
        return Err(bad(
            "underscores may not be doubled or come right before the __c suffix",
        ));
    }
    if base.len() > 40 {
        return Err(bad("at most 40 characters are allowed before __c"));
    }
    Ok(())
}

/// Parse one file's text (object name and path given for messages).
pub fn parse_custom_field(object: &str, path: &Path, xml: &str) -> Result<FieldDef, MetadataError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| MetadataError::Xml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "CustomField"
        || root.tag_name().namespace() != Some(METADATA_NAMESPACE)
    {
        let found = match root.tag_name().namespace() {
            Some(ns) => format!("<{} xmlns=\"{ns}\">", root.tag_name().name()),
            None => format!("<{}> without a namespace", root.tag_name().name()),
        };
        return Err(MetadataError::NotCustomField {
            path: path.to_path_buf(),
            found,
        });
    }
    let el = Elements::of(path, root);
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in &el.nodes {
        if !CUSTOM_FIELD_ELEMENTS.contains(name) {
            return Err(MetadataError::UnknownElement {
                path: path.to_path_buf(),
                element: name.to_string(),
            });
        }
        if seen.contains(name) && *name != "summaryFilterItems" {
            return Err(MetadataError::DuplicateElement {
                path: path.to_path_buf(),
                element: name.to_string(),
            });
        }
        seen.push(name);
    }

    let full_name = el.required("fullName", "")?;
    check_field_name(path, full_name)?;
    if let Some(stem) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(FIELD_SUFFIX))
        && stem != full_name
    {
        return Err(MetadataError::NameMismatch {
            path: path.to_path_buf(),
            full_name: full_name.to_string(),
            stem: stem.to_string(),
        });
    }

    let type_name = el.required("type", &format!(" (one of {})", supported_type_names()))?;
    let field_type = match SUPPORTED_TYPES.iter().find(|(n, _)| *n == type_name) {
        Some((_, t)) => *t,
        None if UNSUPPORTED_TYPES.contains(&type_name) => {
            return Err(MetadataError::UnsupportedType {
                path: path.to_path_buf(),
                found: type_name.to_string(),
            });
        }
        None => {
            return Err(MetadataError::UnknownType {
                path: path.to_path_buf(),
                found: type_name.to_string(),
            });
        }
    };
    let invalid = |message: String| MetadataError::Invalid {
        path: path.to_path_buf(),
        message: format!("{object}.{full_name}: {message}"),
    };

    let mut field = FieldDef::new(full_name, field_type);
    let formula = el.text("formula");
    let is_formula = formula.is_some();

    field.label = match el.text("label") {
        Some(label) => label.to_string(),
        None if is_formula => label_from_api_name(full_name),
        None => {
            return Err(MetadataError::MissingElement {
                path: path.to_path_buf(),
                element: "label",
                hint: format!(" (e.g. <label>{}</label>)", label_from_api_name(full_name)),
            });
        }
    };
    if field.label.chars().count() > 40 {
        return Err(MetadataError::InvalidValue {
            path: path.to_path_buf(),
            element: "label",
            value: field.label.clone(),
            expected: "at most 40 characters".to_string(),
        });
    }

    // Sizes.
    match type_name {
        "Text" => {
            field.length = el.number("length", 1..=255)?;
            if field.length.is_none() && !is_formula {
                el.required("length", " (Text fields need a length from 1 to 255)")?;
            }
        }
        "LongTextArea" | "Html" => {
            field.length = el.number("length", 256..=131_072)?;
            if !is_formula {
                el.required(
                    "length",
                    " (long text fields need a length from 256 to 131072)",
                )?;
                el.required("visibleLines", " (long text fields need visibleLines)")?;
            }
        }
        "Number" | "Currency" | "Percent" => {
            field.precision = el.number("precision", 1..=18)?;
            field.scale = el.number("scale", 0..=18)?;
            let hint = format!(" ({type_name} fields need precision and scale)");
            el.required("precision", &hint)?;
            el.required("scale", &hint)?;
            if field.scale > field.precision {
                return Err(invalid(format!(
                    "scale {} is larger than precision {}",
                    field.scale.unwrap_or(0),
                    field.precision.unwrap_or(0)
                )));
            }
        }
        _ => {}
    }

    field.required = el.bool("required")?.unwrap_or(false);
    field.external_id = el.bool("externalId")?.unwrap_or(false);
    field.unique = el.bool("unique")?.unwrap_or(false);
    field.case_sensitive = el.bool("caseSensitive")?.unwrap_or(false);
    if field.external_id && !matches!(type_name, "Text" | "Number" | "Email" | "AutoNumber") {
        return Err(invalid(format!(
            "externalId is only allowed on Text, Number, Email and AutoNumber fields, not {type_name}"
        )));
    }
    if field.unique && !matches!(type_name, "Text" | "Number" | "Email") {
        return Err(invalid(format!(
            "unique is only allowed on Text, Number and Email fields, not {type_name}"
        )));
    }

    // References.
    if let "Lookup" | "MasterDetail" = type_name {
        let hint = format!(" ({type_name} fields need referenceTo and relationshipName)");
        let target = el.required("referenceTo", &hint)?;
        let relationship = el.required("relationshipName", &hint)?;
        field.reference_to = vec![target.to_string()];
        field.relationship_name = Some(format!("{relationship}__r"));
        if type_name == "MasterDetail" {
            field.required = true;
        }
    }

    // Picklists.
    if field_type == FieldType::Picklist || field_type == FieldType::MultiselectPicklist {
        let picklist = parse_value_set(path, &el, field_type == FieldType::MultiselectPicklist)?;
        field.default_value = picklist.default.clone().map(|s| Value::String(s.into()));
        field.picklist = Some(picklist);
    }

    // Defaults.
    if let Some(text) = el.text("defaultValue") {
        field.default_value = Some(match field_type {
            FieldType::Checkbox => match text {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                other => {
                    return Err(MetadataError::InvalidValue {
                        path: path.to_path_buf(),
                        element: "defaultValue",
                        value: other.to_string(),
                        expected: "true or false for a Checkbox".to_string(),
                    });
                }
            },
            _ => constant_default(path, text, field_type)?,
        });
    } else if field_type == FieldType::Checkbox && !is_formula {
        el.required(
            "defaultValue",
            " (Checkbox fields need <defaultValue>false</defaultValue> or true)",
        )?;
    }

    // Formulas: read-only, never required, never keys.
    if let Some(source) = formula {
        Formula::parse(source).map_err(|e| MetadataError::Formula {
            path: path.to_path_buf(),
            element: "formula",
            message: e.message,
        })?;
        if field.external_id || field.unique || field.default_value.is_some() {
            return Err(invalid(
                "a formula field cannot be an external id, unique or have a defaultValue"
                    .to_string(),
            ));
        }
        field.formula = Some(source.to_string());
        field.createable = false;
        field.updateable = false;
        field.required = false;
        field.formula_blanks_as_zero = match el.text("formulaTreatBlanksAs") {
            None | Some("BlankAsBlank") => false,
            Some("BlankAsZero") => true,
            Some(other) => {
                return Err(MetadataError::InvalidValue {
                    path: path.to_path_buf(),
                    element: "formulaTreatBlanksAs",
                    value: other.to_string(),
                    expected: "BlankAsBlank or BlankAsZero".to_string(),
                });
            }
        };
    }
    Ok(field)
}

/// A non-checkbox `defaultValue` is a formula; the emulator supports constant ones.
fn constant_default(
    path: &Path,
    text: &str,
    field_type: FieldType,
) -> Result<Value, MetadataError> {
    let formula_error = |message: String| MetadataError::Formula {
        path: path.to_path_buf(),
        element: "defaultValue",
        message,
    };
    let formula = Formula::parse(text).map_err(|e| formula_error(e.message))?;
    if !formula.is_constant() {
        return Err(formula_error(
            "the emulator only supports constant default values (no fields, TODAY() or NOW())"
                .to_string(),
        ));
    }
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    Ok(formula.evaluate(&|_| Value::Null, field_type, false, epoch))
}

fn parse_value_set(
    path: &Path,
    el: &Elements<'_, '_>,
    multi: bool,
) -> Result<Picklist, MetadataError> {
    let hint = " (picklists need <valueSet><valueSetDefinition> with <value> entries)";
    let Some(value_set) = el.node("valueSet") else {
        el.required("valueSet", hint)?;
        unreachable!("required() fails for a missing element");
    };
    let vs = Elements::of(path, value_set);
    if vs.text("valueSetName").is_some() {
        return Err(MetadataError::Invalid {
            path: path.to_path_buf(),
            message:
                "global value sets (<valueSetName>) are not supported by the emulator; define \
                      the values inline in <valueSetDefinition>"
                    .to_string(),
        });
    }
    let restricted = vs.bool("restricted")?.unwrap_or(false);
    let Some(definition) = vs.node("valueSetDefinition") else {
        vs.required("valueSetDefinition", hint)?;
        unreachable!("required() fails for a missing element");
    };
    let def = Elements::of(path, definition);
    let mut values: Vec<String> = Vec::new();
    let mut default = None;
    for value in def.all("value") {
        let v = Elements::of(path, value);
        let name = v
            .required("fullName", " (in a picklist <value>)")?
            .to_string();
        if v.bool("isActive")? == Some(false) {
            continue;
        }
        if values.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            return Err(MetadataError::Invalid {
                path: path.to_path_buf(),
                message: format!("picklist value '{name}' is listed twice"),
            });
        }
        if v.bool("default")? == Some(true) {
            if default.is_some() && !multi {
                return Err(MetadataError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "picklist values '{}' and '{name}' are both marked <default>true</default>",
                        default.as_deref().unwrap_or("")
                    ),
                });
            }
            default.get_or_insert_with(|| name.clone());
        }
        values.push(name);
    }
    if values.is_empty() {
        return Err(MetadataError::Invalid {
            path: path.to_path_buf(),
            message: "picklist has no active values".to_string(),
        });
    }
    Ok(Picklist {
        values,
        restricted,
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <CustomField xmlns=\"http://soap.sforce.com/2006/04/metadata\">";

    fn doc(name: &str, body: &str) -> String {
        format!("{HEAD}<fullName>{name}</fullName>{body}</CustomField>")
    }

    fn path_for(object: &str, name: &str) -> PathBuf {
        PathBuf::from(format!(
            "sfdx/force-app/main/default/objects/{object}/fields/{name}.field-meta.xml"
        ))
    }

    fn parse(name: &str, body: &str) -> Result<FieldDef, MetadataError> {
        parse_custom_field("Contact", &path_for("Contact", name), &doc(name, body))
    }

    fn parse_err(name: &str, body: &str) -> String {
        let msg = parse(name, body).unwrap_err().to_string();
        let path = path_for("Contact", name).display().to_string();
        assert!(msg.starts_with(&path), "message lacks the path: {msg}");
        msg
    }

    #[test]
    fn every_supported_field_type_parses() {
        let label = "<label>X</label>";
        let cases: &[(&str, &str, FieldType)] = &[
            ("Text", "<length>20</length>", FieldType::Text),
            ("TextArea", "", FieldType::TextArea),
            (
                "LongTextArea",
                "<length>32768</length><visibleLines>3</visibleLines>",
                FieldType::LongTextArea,
            ),
            (
                "Html",
                "<length>32768</length><visibleLines>25</visibleLines>",
                FieldType::LongTextArea,
            ),
            ("Email", "", FieldType::Email),
            ("Phone", "", FieldType::Phone),
            ("Url", "", FieldType::Url),
            (
                "Picklist",
                "<valueSet><valueSetDefinition><sorted>false</sorted><value><fullName>a</fullName>\
                 <default>false</default></value></valueSetDefinition></valueSet>",
                FieldType::Picklist,
            ),
            (
                "MultiselectPicklist",
                "<valueSet><valueSetDefinition><sorted>false</sorted><value><fullName>a</fullName>\
                 <default>false</default></value></valueSetDefinition></valueSet><visibleLines>4</visibleLines>",
                FieldType::MultiselectPicklist,
            ),
            (
                "Number",
                "<precision>10</precision><scale>0</scale>",
                FieldType::Number,
            ),
            (
                "Currency",
                "<precision>16</precision><scale>2</scale>",
                FieldType::Currency,
            ),
            (
                "Percent",
                "<precision>5</precision><scale>2</scale>",
                FieldType::Percent,
            ),
            (
                "Checkbox",
                "<defaultValue>true</defaultValue>",
                FieldType::Checkbox,
            ),
            ("Date", "", FieldType::Date),
            ("DateTime", "", FieldType::DateTime),
            (
                "Lookup",
                "<referenceTo>Account</referenceTo><relationshipName>Parent</relationshipName>",
                FieldType::Reference,
            ),
            (
                "MasterDetail",
                "<referenceTo>Account</referenceTo><relationshipName>Owner_Account</relationshipName>",
                FieldType::Reference,
            ),
            (
                "AutoNumber",
                "<displayFormat>A-{0000}</displayFormat>",
                FieldType::AutoNumber,
            ),
        ];
        for (type_name, extra, expected) in cases {
            // Elements in any order parse; the sfdx folder itself keeps WSDL order.
            let body = format!("{label}{extra}<type>{type_name}</type>");
            let f = parse("X__c", &body).unwrap_or_else(|e| panic!("{type_name}: {e}"));
            assert_eq!(f.field_type, *expected, "{type_name}");
            assert_eq!(f.name, "X__c");
            assert_eq!(f.label, "X");
            assert!(f.custom);
            assert!(f.formula.is_none());
        }
        let text = parse(
            "X__c",
            "<label>X</label><length>20</length><type>Text</type>",
        )
        .unwrap();
        assert_eq!(text.length, Some(20));
        assert!(text.createable && text.updateable && !text.required);
        let money = parse(
            "X__c",
            "<label>X</label><precision>16</precision><required>true</required><scale>2</scale><type>Currency</type>",
        )
        .unwrap();
        assert_eq!(
            (money.precision, money.scale, money.required),
            (Some(16), Some(2), true)
        );
        let check = parse(
            "X__c",
            "<defaultValue>true</defaultValue><label>X</label><type>Checkbox</type>",
        )
        .unwrap();
        assert_eq!(check.default_value, Some(Value::Boolean(true)));
        let lookup = parse(
            "Parent__c",
            "<label>P</label><referenceTo>Account</referenceTo><relationshipName>Parent</relationshipName><type>Lookup</type>",
        )
        .unwrap();
        assert_eq!(lookup.reference_to, vec!["Account".to_string()]);
        assert_eq!(lookup.relationship_name.as_deref(), Some("Parent__r"));
        assert!(!lookup.required);
        let master = parse(
            "Owner__c",
            "<label>O</label><referenceTo>Account</referenceTo><relationshipName>Owner</relationshipName><type>MasterDetail</type>",
        )
        .unwrap();
        assert!(master.required, "master-detail fields are always required");
        let auto = parse("X__c", "<label>X</label><type>AutoNumber</type>").unwrap();
        assert!(!auto.createable && !auto.updateable);
    }

    #[test]
    fn external_id_flags_are_read() {
        let f = parse(
            "Shopify_Customer_ID__c",
            "<caseSensitive>true</caseSensitive><externalId>true</externalId><label>Shopify Customer ID</label>\
             <length>64</length><required>false</required><type>Text</type><unique>true</unique>",
        )
        .unwrap();
        assert!(f.external_id && f.unique && f.case_sensitive);
        assert!(f.is_indexed_lookup());
        assert_eq!(f.label, "Shopify Customer ID");
    }

    #[test]
    fn a_restricted_picklist_keeps_values_in_order_with_its_default() {
        let body = "<label>Status</label><type>Picklist</type><valueSet><restricted>true</restricted>\
            <valueSetDefinition><sorted>false</sorted>\
            <value><fullName>Subscribed</fullName><default>false</default><label>Subscribed</label></value>\
            <value><fullName>Not Opted In</fullName><default>true</default><label>Not Opted In</label></value>\
            <value><fullName>Old</fullName><default>false</default><isActive>false</isActive></value>\
            <value><fullName>Pending</fullName><default>false</default><label>Pending</label></value>\
            </valueSetDefinition></valueSet>";
        let f = parse("Status__c", body).unwrap();
        let p = f.picklist.expect("picklist");
        assert_eq!(p.values, vec!["Subscribed", "Not Opted In", "Pending"]);
        assert!(p.restricted);
        assert_eq!(p.default.as_deref(), Some("Not Opted In"));
        assert_eq!(f.default_value, Some(Value::String("Not Opted In".into())));

        let unrestricted = body.replace("<restricted>true</restricted>", "");
        assert!(
            !parse("Status__c", &unrestricted)
                .unwrap()
                .picklist
                .unwrap()
                .restricted
        );
        let twice = body.replace(
            "<fullName>Pending</fullName>",
            "<fullName>subscribed</fullName>",
        );
        assert!(parse_err("Status__c", &twice).contains("listed twice"));
        let two_defaults = body.replace(
            "<default>false</default><label>Pending</label>",
            "<default>true</default><label>Pending</label>",
        );
        assert!(parse_err("Status__c", &two_defaults).contains("both marked"));
        assert!(
            parse_err("Status__c", "<label>S</label><type>Picklist</type>").contains("<valueSet>")
        );
    }

    #[test]
    fn a_formula_field_is_read_only() {
        let f = parse(
            "Days_Since_Last_Order__c",
            "<formula>TODAY() - Last_Order_Date__c</formula><formulaTreatBlanksAs>BlankAsBlank</formulaTreatBlanksAs>\
             <label>Days Since Last Order</label><precision>18</precision><required>false</required><scale>0</scale>\
             <type>Number</type>",
        )
        .unwrap();
        assert_eq!(f.formula.as_deref(), Some("TODAY() - Last_Order_Date__c"));
        assert!(!f.createable && !f.updateable && !f.is_writable());
        assert!(!f.formula_blanks_as_zero);
        let zero = parse(
            "Avg__c",
            "<formula>IF(Order_Count__c &gt; 0, Total_Spend__c / Order_Count__c, NULL)</formula>\
             <formulaTreatBlanksAs>BlankAsZero</formulaTreatBlanksAs><precision>18</precision><scale>2</scale>\
             <type>Currency</type>",
        )
        .unwrap();
        assert!(zero.formula_blanks_as_zero);
        assert_eq!(
            zero.label, "Avg",
            "a formula without a label gets a derived one"
        );
        let broken = parse_err(
            "Avg__c",
            "<formula>1 +</formula><label>A</label><precision>18</precision><scale>2</scale><type>Currency</type>",
        );
        assert!(broken.contains("<formula> does not parse"), "{broken}");
    }

    #[test]
    fn constant_default_values_are_evaluated() {
        let f = parse("X__c", "<defaultValue>'web'</defaultValue><label>X</label><length>10</length><type>Text</type>").unwrap();
        assert_eq!(f.default_value, Some(Value::String("web".into())));
        let n = parse("N__c", "<defaultValue>2 * 5</defaultValue><label>N</label><precision>4</precision><scale>0</scale><type>Number</type>").unwrap();
        assert_eq!(n.default_value, Some(Value::Number(10.0)));
        let msg = parse_err(
            "D__c",
            "<defaultValue>TODAY()</defaultValue><label>D</label><type>Date</type>",
        );
        assert!(msg.contains("constant"), "{msg}");
    }

    #[test]
    fn a_misspelled_type_is_an_error_naming_the_file_and_the_choices() {
        let msg = parse_err(
            "X__c",
            "<label>X</label><length>10</length><type>Txt</type>",
        );
        assert!(msg.contains("unknown field type 'Txt'"), "{msg}");
        assert!(msg.contains("expected one of Text, TextArea"), "{msg}");
        let msg = parse_err("X__c", "<label>X</label><type>Summary</type>");
        assert!(msg.contains("not modelled by the emulator"), "{msg}");
    }

    #[test]
    fn a_full_name_that_differs_from_the_file_name_is_an_error_naming_both() {
        let path = path_for("Contact", "Total_Spend__c");
        let err = parse_custom_field(
            "Contact",
            &path,
            &doc("Total_Spent__c", "<label>T</label><type>Date</type>"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(
            err.contains("'Total_Spent__c'") && err.contains("'Total_Spend__c'"),
            "{err}"
        );
    }

    #[test]
    fn a_name_without_the_custom_suffix_is_an_error() {
        let msg = parse_err("Total_Spend", "<label>T</label><type>Date</type>");
        assert!(msg.contains("must end in __c"), "{msg}");
        let msg = parse_err("Total__Spend__c", "<label>T</label><type>Date</type>");
        assert!(msg.contains("doubled"), "{msg}");
    }

    #[test]
    fn malformed_xml_is_an_error_naming_the_file() {
        let path = path_for("Contact", "X__c");
        let err = parse_custom_field(
            "Contact",
            &path,
            &format!("{HEAD}<fullName>X__c</fullName><label>X</CustomField>"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("not well-formed XML"), "{err}");
        let no_ns = "<CustomField><fullName>X__c</fullName></CustomField>";
        let err = parse_custom_field("Contact", &path, no_ns)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("without a namespace") && err.contains(METADATA_NAMESPACE),
            "{err}"
        );
    }

    #[test]
    fn missing_or_misspelled_elements_are_errors() {
        assert!(parse_err("X__c", "<label>X</label>").contains("missing required element <type>"));
        assert!(
            parse_err("X__c", "<type>Date</type>").contains("missing required element <label>")
        );
        assert!(parse_err("X__c", "<label>X</label><type>Text</type>").contains("<length>"));
        assert!(
            parse_err("X__c", "<label>X</label><type>Checkbox</type>").contains("<defaultValue>")
        );
        assert!(
            parse_err(
                "X__c",
                "<label>X</label><precision>5</precision><type>Number</type>"
            )
            .contains("<scale>")
        );
        let msg = parse_err(
            "X__c",
            "<label>X</label><lenght>10</lenght><type>Text</type>",
        );
        assert!(msg.contains("unknown element <lenght>"), "{msg}");
        let msg = parse_err("X__c", "<label>X</label><label>Y</label><type>Date</type>");
        assert!(msg.contains("more than once"), "{msg}");
        let msg = parse_err(
            "X__c",
            "<label>X</label><required>yes</required><type>Date</type>",
        );
        assert!(
            msg.contains("<required> is 'yes', expected true or false"),
            "{msg}"
        );
        let msg = parse_err(
            "X__c",
            "<label>X</label><length>300</length><type>Text</type>",
        );
        assert!(msg.contains("from 1 to 255"), "{msg}");
        let msg = parse_err(
            "X__c",
            "<externalId>true</externalId><label>X</label><type>Date</type>",
        );
        assert!(msg.contains("externalId is only allowed"), "{msg}");
        let path = path_for("Contact", "X__c");
        let err = parse_custom_field(
            "Contact",
            &path,
            &format!("{HEAD}<label>X</label></CustomField>"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing required element <fullName>"), "{err}");
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn load_walks_every_package_directory_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let date = |name: &str| doc(name, "<label>L</label><type>Date</type>");
        write(root, "sfdx-project.json", "{}");
        write(
            root,
            "force-app/main/default/objects/Order/fields/B__c.field-meta.xml",
            &date("B__c"),
        );
        write(
            root,
            "force-app/main/default/objects/Contact/fields/Z__c.field-meta.xml",
            &date("Z__c"),
        );
        write(
            root,
            "force-app/main/default/objects/Contact/fields/A__c.field-meta.xml",
            &date("A__c"),
        );
        write(
            root,
            "extra/objects/Account/fields/C__c.field-meta.xml",
            &date("C__c"),
        );
        write(
            root,
            "force-app/main/default/objects/Contact/Contact.object-meta.xml",
            "<x/>",
        );
        write(
            root,
            ".sf/objects/Contact/fields/Hidden__c.field-meta.xml",
            "not xml",
        );
        let found = load_custom_fields(root).unwrap();
        let names: Vec<(String, String)> = found
            .iter()
            .map(|f| (f.object.clone(), f.field.name.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Account".to_string(), "C__c".to_string()),
                ("Contact".to_string(), "A__c".to_string()),
                ("Contact".to_string(), "Z__c".to_string()),
                ("Order".to_string(), "B__c".to_string()),
            ]
        );
        assert!(
            found[0]
                .path
                .ends_with("extra/objects/Account/fields/C__c.field-meta.xml")
        );
    }

    #[test]
    fn load_rejects_files_the_cli_would_skip_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let date = |name: &str| doc(name, "<label>L</label><type>Date</type>");
        write(
            root,
            "a/objects/Contact/fields/X__c.field.xml",
            &date("X__c"),
        );
        let err = load_custom_fields(root).unwrap_err().to_string();
        assert!(
            err.contains("X__c.field.xml") && err.contains("silently ignores"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "a/objects/Contact/fields/X__c.field-meta.xml",
            &date("X__c"),
        );
        write(
            root,
            "b/objects/contact/fields/X__c.field-meta.xml",
            &date("X__c"),
        );
        let err = load_custom_fields(root).unwrap_err().to_string();
        assert!(
            err.contains("already defined in") && err.contains("a/objects/Contact"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a/objects/Contact/fields/X__c.field-meta.xml",
            "<oops",
        );
        let err = load_custom_fields(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("X__c.field-meta.xml: not well-formed XML"),
            "{err}"
        );

        let missing = dir.path().join("nope");
        let err = load_custom_fields(&missing).unwrap_err().to_string();
        assert!(err.starts_with(&missing.display().to_string()), "{err}");
    }

    fn project_sfdx_dir() -> PathBuf {
        std::env::var_os("SHOPFORCE_SFDX_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/sfdx")))
    }

    /// (object, field, type, length, precision, scale, external id + unique)
    type Contract = (
        &'static str,
        &'static str,
        FieldType,
        Option<u32>,
        Option<u32>,
        Option<u32>,
        bool,
    );

    #[rustfmt::skip]
    const CONTRACT: &[Contract] = &[
        ("Contact", "Shopify_Customer_ID__c", FieldType::Text, Some(64), None, None, true),
        ("Contact", "Total_Spend__c", FieldType::Currency, None, Some(16), Some(2), false),
        ("Contact", "Order_Count__c", FieldType::Number, None, Some(10), Some(0), false),
        ("Contact", "Average_Order_Value__c", FieldType::Currency, None, Some(16), Some(2), false),
        ("Contact", "First_Order_Date__c", FieldType::Date, None, None, None, false),
        ("Contact", "Last_Order_Date__c", FieldType::Date, None, None, None, false),
        ("Contact", "Purchase_Frequency__c", FieldType::Number, None, Some(8), Some(2), false),
        ("Contact", "Churn_Risk__c", FieldType::Picklist, Some(255), None, None, false),
        ("Contact", "CLV_Tier__c", FieldType::Picklist, Some(255), None, None, false),
        ("Contact", "Days_Since_Last_Order__c", FieldType::Number, None, Some(18), Some(0), false),
        ("Contact", "Email_Consent_Status__c", FieldType::Picklist, Some(255), None, None, false),
        ("Contact", "Email_Consent_Updated_At__c", FieldType::DateTime, None, None, None, false),
        ("Contact", "Email_Opt_In_Level__c", FieldType::Picklist, Some(255), None, None, false),
        ("Contact", "SMS_Consent_Status__c", FieldType::Picklist, Some(255), None, None, false),
        ("Contact", "SMS_Consent_Updated_At__c", FieldType::DateTime, None, None, None, false),
        ("Contact", "Shopify_Tags__c", FieldType::LongTextArea, Some(32768), None, None, false),
        ("Contact", "Shopify_Verified_Email__c", FieldType::Checkbox, None, None, None, false),
        ("Contact", "Shopify_Created_At__c", FieldType::DateTime, None, None, None, false),
        ("Contact", "Shopify_Store__c", FieldType::Text, Some(255), None, None, false),
        ("Account", "Shopify_Company_ID__c", FieldType::Text, Some(64), None, None, true),
        ("Account", "Shopify_Location_ID__c", FieldType::Text, Some(64), None, None, true),
        ("Account", "Shopify_Customer_ID__c", FieldType::Text, Some(64), None, None, true),
        ("Account", "Shopify_Store__c", FieldType::Text, Some(255), None, None, false),
        ("Account", "Shopify_Company_External_ID__c", FieldType::Text, Some(255), None, None, false),
        ("Account", "Total_Spend__c", FieldType::Currency, None, Some(16), Some(2), false),
        ("Account", "Order_Count__c", FieldType::Number, None, Some(10), Some(0), false),
        ("Account", "Last_Order_Date__c", FieldType::Date, None, None, None, false),
        ("Order", "Shopify_Order_ID__c", FieldType::Text, Some(64), None, None, true),
        ("Order", "Shopify_Order_Name__c", FieldType::Text, Some(64), None, None, false),
        ("Order", "Shopify_Total_Price__c", FieldType::Currency, None, Some(16), Some(2), false),
        ("Order", "Shopify_Currency__c", FieldType::Text, Some(3), None, None, false),
        ("Order", "Shopify_Financial_Status__c", FieldType::Text, Some(40), None, None, false),
        ("Order", "Shopify_Fulfillment_Status__c", FieldType::Text, Some(40), None, None, false),
        ("Order", "Shopify_Cancelled_At__c", FieldType::DateTime, None, None, None, false),
        ("Order", "Shopify_Store__c", FieldType::Text, Some(255), None, None, false),
        ("OrderItem", "Shopify_Line_Item_ID__c", FieldType::Text, Some(64), None, None, true),
        ("OrderItem", "Shopify_SKU__c", FieldType::Text, Some(255), None, None, false),
        ("Product2", "Shopify_Variant_ID__c", FieldType::Text, Some(64), None, None, true),
        ("Product2", "Shopify_Product_ID__c", FieldType::Text, Some(64), None, None, false),
        ("PricebookEntry", "Shopify_Price_Key__c", FieldType::Text, Some(128), None, None, true),
    ];

    #[test]
    fn the_project_sfdx_folder_defines_every_contract_field() {
        let dir = project_sfdx_dir();
        let files = load_custom_fields(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            files.len(),
            CONTRACT.len(),
            "unexpected extra or missing field files"
        );
        for &(object, name, field_type, length, precision, scale, key) in CONTRACT {
            let file = files
                .iter()
                .find(|f| f.object == object && f.field.name == name)
                .unwrap_or_else(|| panic!("{object}.{name} is missing from {}", dir.display()));
            let f = &file.field;
            let what = format!("{object}.{name}");
            assert_eq!(f.field_type, field_type, "{what}");
            assert_eq!(
                (f.length, f.precision, f.scale),
                (length, precision, scale),
                "{what}"
            );
            assert_eq!(f.external_id, key, "{what} externalId");
            assert_eq!(f.unique, key, "{what} unique");
            assert!(!f.case_sensitive && !f.required, "{what}");
            assert_eq!(
                f.formula.is_some(),
                name == "Days_Since_Last_Order__c",
                "{what}"
            );
            assert!(f.is_writable() != f.formula.is_some(), "{what}");
        }
        let contact = |name: &str| {
            &files
                .iter()
                .find(|f| f.object == "Contact" && f.field.name == name)
                .unwrap()
                .field
        };
        let values = |name: &str| {
            let p = contact(name).picklist.clone().unwrap();
            assert!(p.restricted, "{name} is restricted");
            assert_eq!(p.default, None, "{name} has no default");
            p.values
        };
        assert_eq!(values("Churn_Risk__c"), ["low", "medium", "high"]);
        assert_eq!(values("CLV_Tier__c"), ["low", "medium", "high"]);
        let consent = [
            "Subscribed",
            "Not Opted In",
            "Pending",
            "Unsubscribed",
            "Redacted",
            "Invalid",
        ];
        assert_eq!(values("Email_Consent_Status__c"), consent);
        assert_eq!(values("SMS_Consent_Status__c"), consent);
        assert_eq!(
            values("Email_Opt_In_Level__c"),
            ["SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"]
        );
        let days = contact("Days_Since_Last_Order__c");
        assert_eq!(
            days.formula.as_deref(),
            Some("TODAY() - Last_Order_Date__c")
        );
        assert!(!days.formula_blanks_as_zero);
        assert_eq!(
            contact("Shopify_Verified_Email__c").default_value,
            Some(Value::Boolean(false))
        );
    }

    #[test]
    fn the_project_sfdx_files_keep_metadata_api_element_order_and_describe_each_field() {
        let dir = project_sfdx_dir();
        for file in load_custom_fields(&dir).unwrap() {
            let xml = std::fs::read_to_string(&file.path).unwrap();
            assert!(
                xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
                "{}",
                file.path.display()
            );
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let positions: Vec<usize> = doc
                .root_element()
                .children()
                .filter(|n| n.is_element())
                .map(|n| {
                    CUSTOM_FIELD_ELEMENTS
                        .iter()
                        .position(|e| *e == n.tag_name().name())
                        .unwrap()
                })
                .collect();
            assert!(
                positions.is_sorted(),
                "{}: elements out of WSDL order",
                file.path.display()
            );
            assert!(
                xml.contains("<description>"),
                "{}: no description",
                file.path.display()
            );
        }
        let project = std::fs::read_to_string(dir.join("sfdx-project.json")).unwrap();
        let project: serde_json::Value = serde_json::from_str(&project).unwrap();
        assert_eq!(project["packageDirectories"][0]["path"], "force-app");
        assert_eq!(project["sourceApiVersion"], "66.0");
        assert!(dir.join(".forceignore").is_file());
    }
}
