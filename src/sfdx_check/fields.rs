//! Custom fields (`objects/<Object>/fields/<Field>__c.field-meta.xml`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use roxmltree::Node;

use super::layout::check_developer_name;
use super::types::enum_values;
use super::xml::{child_bool, child_text, children};
use super::{Checker, FieldInfo, FileContext};

/// Salesforce's default limit of external ID fields per object.
pub const MAX_EXTERNAL_IDS: usize = 25;

/// Field types a formula may return.
const FORMULA_TYPES: &[&str] = &[
    "Checkbox", "Currency", "Date", "DateTime", "Number", "Percent", "Text", "Time",
];

fn int(node: Node<'_, '_>, name: &str) -> Option<i64> {
    child_text(node, name).and_then(|t| t.parse().ok())
}

pub(crate) fn check_file(checker: &mut Checker, ctx: &FileContext<'_, '_>) {
    let root = ctx.doc.root_element();
    let file = ctx.file;
    let object = ctx.resolved.object.clone().unwrap_or_default();
    let name = ctx.resolved.stem.clone();
    let mut problems: Vec<String> = Vec::new();
    let line_of = |element: &str| {
        children(root, element)
            .next()
            .map(|n| format!("line {}: ", ctx.line(n)))
            .unwrap_or_default()
    };

    match name.strip_suffix("__c") {
        None => problems.push(format!(
            "custom field name '{name}' must end in __c (custom field API names always carry \
             the suffix; Salesforce rejects the file)"
        )),
        Some(base) => {
            if let Err(e) = check_developer_name(base, 40) {
                problems.push(format!("custom field name {name}: {e} before __c"));
            }
        }
    }
    if child_text(root, "fullName").is_none() {
        problems.push(format!(
            "missing <fullName>{name}</fullName> (Salesforce writes it into every field file)"
        ));
    }
    let formula = child_text(root, "formula").is_some();
    match child_text(root, "label") {
        None => problems.push(format!(
            "missing <label> (every custom field needs one, e.g. <label>{}</label>)",
            name.trim_end_matches("__c").replace('_', " ")
        )),
        Some(label) if label.chars().count() > 40 => problems.push(format!(
            "{}<label> '{label}' is longer than 40 characters",
            line_of("label")
        )),
        Some(_) => {}
    }

    let field_types = enum_values("FieldType").unwrap_or(&[]);
    let field_type = child_text(root, "type");
    let valid_type = field_type.filter(|t| field_types.contains(t));
    if field_type.is_none() {
        problems.push("missing <type> (e.g. <type>Text</type>)".to_string());
    }
    let required = child_bool(root, "required");
    let external_id = child_bool(root, "externalId");
    let unique = child_bool(root, "unique");

    if let Some(t) = valid_type {
        let t = t.to_string();
        let need = |problems: &mut Vec<String>, element: &str, why: &str| {
            if child_text(root, element).is_none() {
                problems.push(format!("{t} fields need <{element}> ({why})"));
            }
        };
        let range = |problems: &mut Vec<String>, element: &str, lo: i64, hi: i64| {
            if let Some(v) = int(root, element)
                && !(lo..=hi).contains(&v)
            {
                problems.push(format!(
                    "{}<{element}> is {v}; {t} fields allow {lo} to {hi}",
                    line_of(element)
                ));
            }
        };
        if formula {
            if !FORMULA_TYPES.contains(&t.as_str()) {
                problems.push(format!(
                    "{}a formula cannot return {t} (formula types: {})",
                    line_of("type"),
                    FORMULA_TYPES.join(", ")
                ));
            }
            if external_id || unique || required || child_text(root, "defaultValue").is_some() {
                problems.push(
                    "a formula field cannot be an external ID, unique, required or have a \
                     defaultValue"
                        .to_string(),
                );
            }
        }
        match t.as_str() {
            "Text" if !formula => {
                need(&mut problems, "length", "1 to 255");
                range(&mut problems, "length", 1, 255);
            }
            "LongTextArea" | "Html" => {
                need(&mut problems, "length", "256 to 131072");
                need(
                    &mut problems,
                    "visibleLines",
                    "how many lines the editor shows",
                );
                range(&mut problems, "length", 256, 131_072);
            }
            "EncryptedText" => {
                need(&mut problems, "length", "1 to 175");
                need(&mut problems, "maskChar", "asterisk or X");
                need(&mut problems, "maskType", "e.g. all or lastFour");
                range(&mut problems, "length", 1, 175);
            }
            "Number" | "Currency" | "Percent" => {
                need(&mut problems, "precision", "total digits, 1 to 18");
                need(&mut problems, "scale", "digits after the decimal point");
                range(&mut problems, "precision", 1, 18);
                if let (Some(p), Some(s)) = (int(root, "precision"), int(root, "scale"))
                    && !(0..=p).contains(&s)
                {
                    problems.push(format!(
                        "{}<scale> {s} must be from 0 to the precision ({p})",
                        line_of("scale")
                    ));
                }
            }
            "Checkbox" if !formula => {
                match child_text(root, "defaultValue") {
                    None => problems.push(
                        "Checkbox fields need <defaultValue>false</defaultValue> (or true)"
                            .to_string(),
                    ),
                    Some("true" | "false") => {}
                    Some(other) => problems.push(format!(
                        "{}a Checkbox <defaultValue> must be true or false, not '{other}'",
                        line_of("defaultValue")
                    )),
                }
                if required {
                    problems.push("a Checkbox cannot be required".to_string());
                }
            }
            "Picklist" | "MultiselectPicklist" => {
                check_value_set(ctx, root, &t, &mut problems);
                if t == "MultiselectPicklist" {
                    need(
                        &mut problems,
                        "visibleLines",
                        "how many values the list shows",
                    );
                }
            }
            "Lookup" | "MasterDetail" => {
                need(&mut problems, "referenceTo", "the parent object");
                need(
                    &mut problems,
                    "relationshipName",
                    "the relationship's API name",
                );
                need(&mut problems, "relationshipLabel", "the related list label");
            }
            "AutoNumber" => need(&mut problems, "displayFormat", "e.g. A-{0000}"),
            "Summary" => {
                need(&mut problems, "summaryOperation", "count, sum, min or max");
                need(
                    &mut problems,
                    "summaryForeignKey",
                    "the master-detail field",
                );
            }
            _ => {}
        }
        let sized = matches!(
            t.as_str(),
            "Text" | "TextArea" | "LongTextArea" | "Html" | "EncryptedText"
        );
        if child_text(root, "length").is_some() && !sized && !formula {
            problems.push(format!(
                "{}<length> does not apply to {t} fields",
                line_of("length")
            ));
        }
        let numeric = matches!(t.as_str(), "Number" | "Currency" | "Percent");
        for element in ["precision", "scale"] {
            if child_text(root, element).is_some() && !numeric {
                problems.push(format!(
                    "{}<{element}> does not apply to {t} fields",
                    line_of(element)
                ));
            }
        }
        if external_id && !matches!(t.as_str(), "Text" | "Number" | "Email" | "AutoNumber") {
            problems.push(format!(
                "{}externalId is only allowed on Text, Number, Email and AutoNumber fields, not \
                 {t}",
                line_of("externalId")
            ));
        }
        if unique && !matches!(t.as_str(), "Text" | "Number" | "Email") {
            problems.push(format!(
                "{}unique is only allowed on Text, Number and Email fields, not {t}",
                line_of("unique")
            ));
        }
    }

    for p in problems {
        checker.problem(file, p);
    }
    if !ctx.template {
        let required = required || valid_type == Some("MasterDetail");
        checker.model.fields.push(FieldInfo {
            file: file.to_path_buf(),
            object,
            name,
            required,
            external_id,
            formula,
        });
    }
}

/// Picklist shape: an inline `valueSetDefinition` with values, or a global `valueSetName`.
fn check_value_set(
    ctx: &FileContext<'_, '_>,
    root: Node<'_, '_>,
    field_type: &str,
    problems: &mut Vec<String>,
) {
    let Some(value_set) = children(root, "valueSet").next() else {
        problems.push(format!(
            "{field_type} fields need <valueSet> with <valueSetDefinition> (inline values) or \
             <valueSetName> (a global value set)"
        ));
        return;
    };
    let definition = children(value_set, "valueSetDefinition").next();
    let global = child_text(value_set, "valueSetName");
    match (definition, global) {
        (None, None) => problems.push(format!(
            "line {}: <valueSet> needs <valueSetDefinition> (inline values) or <valueSetName> \
             (a global value set)",
            ctx.line(value_set)
        )),
        (Some(_), Some(_)) => problems.push(format!(
            "line {}: <valueSet> has both <valueSetDefinition> and <valueSetName>; use one",
            ctx.line(value_set)
        )),
        (None, Some(_)) => {
            if children(value_set, "restricted").next().is_some() {
                problems.push(format!(
                    "line {}: <restricted> only applies to inline values (a global value set \
                     is always restricted)",
                    ctx.line(value_set)
                ));
            }
        }
        (Some(definition), None) => {
            let mut names: Vec<String> = Vec::new();
            let mut defaults = 0;
            for value in children(definition, "value") {
                let line = ctx.line(value);
                let Some(name) = child_text(value, "fullName") else {
                    problems.push(format!(
                        "line {line}: picklist <value> needs a <fullName> (its API name)"
                    ));
                    continue;
                };
                if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    problems.push(format!(
                        "line {line}: picklist value '{name}' is listed twice"
                    ));
                }
                if name.chars().count() > 255 {
                    problems.push(format!(
                        "line {line}: picklist value '{name}' is longer than 255 characters"
                    ));
                }
                if child_bool(value, "default") {
                    defaults += 1;
                }
                names.push(name.to_string());
            }
            if names.is_empty() {
                problems.push(format!(
                    "line {}: <valueSetDefinition> has no <value> entries",
                    ctx.line(definition)
                ));
            }
            if defaults > 1 && field_type == "Picklist" {
                problems.push(format!(
                    "line {}: {defaults} picklist values are marked <default>true</default>; a \
                     Picklist has at most one default",
                    ctx.line(definition)
                ));
            }
        }
    }
}

/// Checks across all field files: duplicates and the external ID limit.
pub(crate) fn check_across(checker: &mut Checker) {
    let mut by_object: BTreeMap<String, Vec<FieldInfo>> = BTreeMap::new();
    for f in &checker.model.fields {
        by_object
            .entry(f.object.clone())
            .or_default()
            .push(f.clone());
    }
    for (object, fields) in by_object {
        for (i, f) in fields.iter().enumerate() {
            if let Some(first) = fields[..i]
                .iter()
                .find(|g| g.name.eq_ignore_ascii_case(&f.name))
            {
                checker.problem(
                    &f.file,
                    format!(
                        "field {object}.{} is already defined in {}",
                        f.name,
                        first.file.display()
                    ),
                );
            }
        }
        let keys: Vec<&str> = fields
            .iter()
            .filter(|f| f.external_id)
            .map(|f| f.name.as_str())
            .collect();
        if keys.len() > MAX_EXTERNAL_IDS {
            let folder: PathBuf = fields[0]
                .file
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default();
            checker.problem(
                &folder,
                format!(
                    "{object} has {} external ID fields; Salesforce allows at most \
                     {MAX_EXTERNAL_IDS} per object ({})",
                    keys.len(),
                    keys.join(", ")
                ),
            );
        }
    }
}
