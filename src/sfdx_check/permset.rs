//! Permission sets, and the engine's field contract against them.

use std::path::PathBuf;

use crate::salesforce_fields::{self, Access, Fls, ObjectAccess, PERMISSION_SET};

use super::layout::check_developer_name;
use super::xml::{child_bool, child_text, children};
use super::{Checker, FieldPermission, FileContext, ObjectPermission, PermissionSetInfo};

pub(crate) fn check_file(checker: &mut Checker, ctx: &FileContext<'_, '_>) {
    let root = ctx.doc.root_element();
    let file = ctx.file.to_path_buf();
    let name = ctx.resolved.stem.clone();
    if let Err(e) = check_developer_name(&name, 80) {
        checker.problem(&file, format!("permission set name {e}"));
    }
    let mut fields: Vec<FieldPermission> = Vec::new();
    for entry in children(root, "fieldPermissions") {
        let line = ctx.line(entry);
        let Some(field) = child_text(entry, "field") else {
            continue;
        };
        let editable = child_bool(entry, "editable");
        let readable = child_bool(entry, "readable");
        if field.split('.').count() != 2 || field.split('.').any(str::is_empty) {
            checker.problem(
                &file,
                format!("line {line}: <field> '{field}' must be <Object>.<Field>"),
            );
            continue;
        }
        if editable && !readable {
            checker.problem(
                &file,
                format!(
                    "line {line}: {field} is editable but not readable; editing a field needs \
                     read access (set <readable>true</readable>)"
                ),
            );
        }
        if fields.iter().any(|f| f.field == field) {
            checker.problem(&file, format!("line {line}: {field} is listed twice"));
        }
        fields.push(FieldPermission {
            field: field.to_string(),
            editable,
            readable,
            line,
        });
    }
    let mut objects: Vec<ObjectPermission> = Vec::new();
    for entry in children(root, "objectPermissions") {
        let line = ctx.line(entry);
        let Some(object) = child_text(entry, "object") else {
            continue;
        };
        let flag = |name| child_bool(entry, name);
        let (create, read, edit, delete) = (
            flag("allowCreate"),
            flag("allowRead"),
            flag("allowEdit"),
            flag("allowDelete"),
        );
        let (view_all, modify_all) = (flag("viewAllRecords"), flag("modifyAllRecords"));
        let mut needs = |ok: bool, what: &str| {
            if !ok {
                checker.problem(&file, format!("line {line}: {object}: {what}"));
            }
        };
        needs(
            read || !(create || edit || delete || view_all),
            "create, edit, delete and view all need allowRead",
        );
        needs(!delete || edit, "allowDelete needs allowEdit");
        needs(
            !modify_all || (edit && delete && view_all),
            "modifyAllRecords needs allowEdit, allowDelete and viewAllRecords",
        );
        if objects.iter().any(|o| o.object == object) {
            checker.problem(&file, format!("line {line}: {object} is listed twice"));
        }
        objects.push(ObjectPermission {
            object: object.to_string(),
            create,
            read,
            edit,
            line,
        });
    }
    if !ctx.template {
        checker.model.permission_sets.push(PermissionSetInfo {
            file,
            name,
            fields,
            objects,
        });
    }
}

/// Every entry against the project and the contract; the integration permission set against
/// the contract.
pub(crate) fn check_across(checker: &mut Checker) {
    let sets = checker.model.permission_sets.clone();
    for set in &sets {
        for fp in &set.fields {
            if let Some(message) = field_entry_problem(checker, fp) {
                checker.problem(&set.file, format!("line {}: {message}", fp.line));
            }
        }
        for op in &set.objects {
            let message = match salesforce_fields::object(&op.object).map(|o| o.access) {
                Some(ObjectAccess::ControlledBy(parents)) => Some(format!(
                    "{} cannot have object permissions: its record access follows {} \
                     (Salesforce rejects the entry)",
                    op.object,
                    parents.join(" and ")
                )),
                Some(ObjectAccess::Permission { .. }) => None,
                None if op.object.ends_with("__c") => None,
                None => Some(format!(
                    "{} is not an object the sync engine uses (src/salesforce_fields.rs); the \
                     integration user needs no access to it",
                    op.object
                )),
            };
            if let Some(message) = message {
                checker.problem(&set.file, format!("line {}: {message}", op.line));
            }
        }
    }
    check_contract(checker, &sets);
}

/// Why a `fieldPermissions` entry would fail to deploy or contradict the contract.
fn field_entry_problem(checker: &Checker, fp: &FieldPermission) -> Option<String> {
    let (object, field) = fp.field.split_once('.')?;
    if field.ends_with("__c") {
        let Some(info) = checker.model.field(object, field) else {
            return Some(format!(
                "{} is not a custom field in this project (the deploy fails with \"no \
                 CustomField named {} found\")",
                fp.field, fp.field
            ));
        };
        if info.required {
            return Some(format!(
                "{} is a required field; required fields cannot be listed in a permission set \
                 (\"You cannot deploy to a required field\"): remove the entry",
                fp.field
            ));
        }
        if info.formula && fp.editable {
            return Some(format!(
                "{} is a formula field, so it cannot be editable; set <editable>false</editable>",
                fp.field
            ));
        }
        return None;
    }
    let contract = salesforce_fields::object(object);
    let entry = contract.and_then(|o| o.field(field));
    let is_compound = contract.is_some_and(|o| {
        o.fields
            .iter()
            .any(|f| matches!(f.fls, Fls::Compound(c) if c == field))
    });
    match entry.map(|f| f.fls) {
        Some(Fls::PermissionSet) => None,
        Some(Fls::Required) => Some(format!(
            "{} is a required field; required fields cannot be listed in a permission set (\"You \
             cannot deploy to a required field\"): remove the entry",
            fp.field
        )),
        Some(Fls::Compound(compound)) => Some(format!(
            "{} is part of the compound field {object}.{compound}, which carries its \
             field-level security; list {object}.{compound} instead",
            fp.field
        )),
        Some(Fls::NotListed) => Some(format!(
            "{} has no field-level security of its own (or none verified offline); the engine's \
             field contract (src/salesforce_fields.rs) keeps it out of the permission set",
            fp.field
        )),
        None if is_compound => None,
        None => Some(format!(
            "{} is not in the engine's field contract (src/salesforce_fields.rs), so this checker \
             cannot tell whether the field exists and has field-level security",
            fp.field
        )),
    }
}

/// The integration permission set grants what the contract needs; the contract's custom fields
/// exist and are writable.
fn check_contract(checker: &mut Checker, sets: &[PermissionSetInfo]) {
    let default_dir = checker.model.default_dir.clone();
    let Some(set) = sets.iter().find(|s| s.name == PERMISSION_SET) else {
        checker.problem(
            &default_dir
                .join("permissionsets")
                .join(format!("{PERMISSION_SET}.permissionset-meta.xml")),
            format!(
                "missing: the integration user's permission set {PERMISSION_SET} (object access \
                 and field-level security for the sync engine) is not in the project"
            ),
        );
        return;
    };
    for object in salesforce_fields::OBJECTS {
        if let ObjectAccess::Permission { create, edit } = object.access {
            match set.objects.iter().find(|o| o.object == object.name) {
                None => checker.problem(
                    &set.file,
                    format!(
                        "no <objectPermissions> for {}: the sync engine {} it",
                        object.name,
                        if create {
                            "creates and updates"
                        } else {
                            "reads"
                        }
                    ),
                ),
                Some(op) => {
                    let missing: Vec<&str> = [
                        (!op.read, "allowRead"),
                        (create && !op.create, "allowCreate"),
                        (edit && !op.edit, "allowEdit"),
                    ]
                    .into_iter()
                    .filter(|(m, _)| *m)
                    .map(|(_, n)| n)
                    .collect();
                    if !missing.is_empty() {
                        checker.problem(
                            &set.file,
                            format!(
                                "line {}: {} needs {} for the sync engine",
                                op.line,
                                object.name,
                                missing.join(", ")
                            ),
                        );
                    }
                }
            }
        }
        let mut compounds: Vec<(&str, bool)> = Vec::new();
        for field in object.fields {
            let qualified = format!("{}.{}", object.name, field.name);
            let writes = field.access == Access::Write;
            if field.is_custom() {
                match checker.model.field(object.name, field.name) {
                    None => {
                        let path: PathBuf = default_dir
                            .join("objects")
                            .join(object.name)
                            .join("fields")
                            .join(format!("{}.field-meta.xml", field.name));
                        checker.problem(
                            &path,
                            format!(
                                "missing: the sync engine {} {qualified} \
                                 (src/salesforce_fields.rs), but no file defines it",
                                if writes { "writes" } else { "reads" }
                            ),
                        );
                        continue;
                    }
                    Some(info) if writes && info.formula => {
                        let file = info.file.clone();
                        checker.problem(
                            &file,
                            format!(
                                "the sync engine writes {qualified}, but it is a formula field \
                                 (read-only)"
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
            let formula = checker
                .model
                .field(object.name, field.name)
                .is_some_and(|f| f.formula);
            match field.fls {
                Fls::PermissionSet => {
                    require_entry(checker, set, &qualified, writes && !formula, &qualified)
                }
                Fls::Compound(c) => match compounds.iter_mut().find(|(n, _)| *n == c) {
                    Some(entry) => entry.1 |= writes,
                    None => compounds.push((c, writes)),
                },
                Fls::Required | Fls::NotListed => {}
            }
        }
        for (compound, writes) in compounds {
            let qualified = format!("{}.{compound}", object.name);
            let parts = object
                .fields
                .iter()
                .filter(|f| f.fls == Fls::Compound(compound))
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(", ");
            require_entry(
                checker,
                set,
                &qualified,
                writes,
                &format!("{qualified} (for {parts})"),
            );
        }
    }
}

fn require_entry(
    checker: &mut Checker,
    set: &PermissionSetInfo,
    field: &str,
    editable: bool,
    what: &str,
) {
    let verb = if editable { "writes" } else { "reads" };
    match set.fields.iter().find(|f| f.field == field) {
        None => checker.problem(
            &set.file,
            format!(
                "no field-level security for {what}, which the sync engine {verb}: add \
                 <fieldPermissions> with <editable>{editable}</editable> and \
                 <readable>true</readable> (without it Bulk API writes fail or silently drop \
                 the field)"
            ),
        ),
        Some(fp) if !fp.readable || (editable && !fp.editable) => checker.problem(
            &set.file,
            format!(
                "line {}: {what} must be readable{} for the sync engine, which {verb} it",
                fp.line,
                if editable { " and editable" } else { "" }
            ),
        ),
        Some(_) => {}
    }
}
