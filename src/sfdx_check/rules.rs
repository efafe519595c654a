//! Matching rules (`matchingRules/<Object>.matchingRule-meta.xml`, one file per object holding
//! its rules) and duplicate rules (`duplicateRules/<Object>.<Rule>.duplicateRule-meta.xml`).

use crate::salesforce_fields;

use super::layout::check_developer_name;
use super::xml::{child_text, children, is_nil, suggestion};
use super::{Checker, DuplicateRuleInfo, FileContext, MatchingRuleInfo};

/// Salesforce limits: active matching rules per object, matching rules per duplicate rule.
const MAX_ACTIVE_MATCHING_RULES: usize = 5;
const MAX_RULES_PER_DUPLICATE_RULE: usize = 3;

/// Whether `field` exists on `object`: a custom field in the project or a standard field in the
/// engine's field contract (including the compound fields it names).
pub(crate) fn field_exists(checker: &Checker, object: &str, field: &str) -> bool {
    if field.ends_with("__c") {
        return checker.model.field(object, field).is_some();
    }
    salesforce_fields::object(object).is_some_and(|o| {
        o.fields.iter().any(|f| {
            f.name == field || matches!(f.fls, salesforce_fields::Fls::Compound(c) if c == field)
        })
    })
}

pub(crate) fn check_matching_rules_file(checker: &mut Checker, ctx: &FileContext<'_, '_>) {
    let object = ctx.resolved.stem.clone();
    let root = ctx.doc.root_element();
    let file = ctx.file.to_path_buf();
    if object.contains('.') {
        checker.problem(
            &file,
            format!(
                "matching rules live in one file per object, named <Object>.matchingRule-meta.xml \
                 (found '{object}')"
            ),
        );
        return;
    }
    checker
        .model
        .matching_rule_files
        .push((object.clone(), file.clone()));
    let mut names: Vec<String> = Vec::new();
    let mut active = 0;
    for rule in children(root, "matchingRules") {
        let line = ctx.line(rule);
        let Some(name) = child_text(rule, "fullName") else {
            checker.problem(
                &file,
                format!(
                    "line {line}: each <matchingRules> entry needs a <fullName> (its API name)"
                ),
            );
            continue;
        };
        if let Err(e) = check_developer_name(name, 40) {
            checker.problem(&file, format!("line {line}: matching rule name {e}"));
        }
        if names.iter().any(|n| n == name) {
            checker.problem(
                &file,
                format!("line {line}: matching rule {name} is defined twice"),
            );
        }
        names.push(name.to_string());
        match child_text(rule, "ruleStatus") {
            Some("Active") => active += 1,
            Some("Inactive") | None => {}
            Some(other) => checker.problem(
                &file,
                format!(
                    "line {line}: matching rule {name} has ruleStatus {other}, a transient state; \
                     only Active or Inactive can be deployed"
                ),
            ),
        }
        let items: Vec<_> = children(rule, "matchingRuleItems").collect();
        if items.is_empty() {
            checker.problem(
                &file,
                format!("line {line}: matching rule {name} has no <matchingRuleItems>"),
            );
        }
        for item in &items {
            if let Some(field) = child_text(*item, "fieldName")
                && !field_exists(checker, &object, field)
            {
                checker.problem(
                    &file,
                    format!(
                        "line {}: matching rule {name} matches on {object}.{field}, which is \
                         neither a custom field in this project nor a standard field in the \
                         engine's field contract (src/salesforce_fields.rs)",
                        ctx.line(*item)
                    ),
                );
            }
        }
        if let Some(filter) = child_text(rule, "booleanFilter") {
            for n in filter
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|d| d.parse::<usize>().ok())
            {
                if n == 0 || n > items.len() {
                    checker.problem(
                        &file,
                        format!(
                            "line {line}: booleanFilter '{filter}' of {name} refers to item {n}, \
                             but the rule has {} items",
                            items.len()
                        ),
                    );
                }
            }
        }
        if !ctx.template {
            checker.model.matching_rules.push(MatchingRuleInfo {
                object: object.clone(),
                name: name.to_string(),
            });
            checker
                .model
                .components
                .insert(("MatchingRule".to_string(), format!("{object}.{name}")));
        }
    }
    if active > MAX_ACTIVE_MATCHING_RULES {
        checker.problem(
            &file,
            format!(
                "{active} active matching rules on {object}; Salesforce allows at most \
                 {MAX_ACTIVE_MATCHING_RULES}"
            ),
        );
    }
}

pub(crate) fn check_duplicate_rule_file(checker: &mut Checker, ctx: &FileContext<'_, '_>) {
    let root = ctx.doc.root_element();
    let file = ctx.file.to_path_buf();
    let Some((object, name)) = ctx.resolved.stem.split_once('.') else {
        checker.problem(
            &file,
            format!(
                "duplicate rule files are named <Object>.<RuleName>.duplicateRule-meta.xml \
                 (found '{}')",
                ctx.resolved.stem
            ),
        );
        return;
    };
    if let Err(e) = check_developer_name(name, 40) {
        checker.problem(&file, format!("duplicate rule name {e}"));
    }
    let line_of = |element: &str| {
        children(root, element)
            .next()
            .map(|n| ctx.line(n))
            .unwrap_or(1)
    };
    for (action, operations) in [
        ("actionOnInsert", "operationsOnInsert"),
        ("actionOnUpdate", "operationsOnUpdate"),
    ] {
        if child_text(root, action) == Some("Block") {
            checker.problem(
                &file,
                format!(
                    "line {}: {action} is Block: duplicate rules on objects the sync engine \
                     writes must Allow (Block rejects the engine's writes)",
                    line_of(action)
                ),
            );
        }
        for op in children(root, operations) {
            match op.text().map(str::trim) {
                Some("Report") => {}
                Some("Alert") => checker.problem(
                    &file,
                    format!(
                        "line {}: {operations} includes Alert, which makes API inserts and \
                         updates of a matching record fail with DUPLICATES_DETECTED (the Bulk \
                         API cannot send the header that allows the save); use Report only",
                        ctx.line(op)
                    ),
                ),
                other => checker.problem(
                    &file,
                    format!(
                        "line {}: {operations} is '{}'; the valid values are Alert and Report{}",
                        ctx.line(op),
                        other.unwrap_or(""),
                        suggestion(
                            other.unwrap_or(""),
                            ["Alert", "Report"].into_iter(),
                            "'",
                            "'"
                        )
                    ),
                ),
            }
        }
    }
    if let Some(order) = child_text(root, "sortOrder").and_then(|t| t.parse::<i64>().ok())
        && order < 1
    {
        checker.problem(
            &file,
            format!(
                "line {}: sortOrder must be 1 or more (rules on an object are numbered from 1)",
                line_of("sortOrder")
            ),
        );
    }
    let mut match_rules = Vec::new();
    for entry in children(root, "duplicateRuleMatchRules") {
        if is_nil(entry) {
            continue;
        }
        let line = ctx.line(entry);
        let sobject = child_text(entry, "matchRuleSObjectType").unwrap_or("");
        let rule = child_text(entry, "matchingRule").unwrap_or("");
        let mapped = children(entry, "objectMapping").any(|m| !is_nil(m));
        if sobject != object && !mapped {
            checker.problem(
                &file,
                format!(
                    "line {line}: matching rule {sobject}.{rule} is on another object than this \
                     {object} rule; add an <objectMapping> or use a {object} matching rule"
                ),
            );
        }
        match_rules.push((sobject.to_string(), rule.to_string(), line));
    }
    if match_rules.is_empty() {
        checker.problem(
            &file,
            "a duplicate rule needs at least one <duplicateRuleMatchRules> entry",
        );
    }
    if match_rules.len() > MAX_RULES_PER_DUPLICATE_RULE {
        checker.problem(
            &file,
            format!(
                "{} matching rules; a duplicate rule may use at most \
                 {MAX_RULES_PER_DUPLICATE_RULE}",
                match_rules.len()
            ),
        );
    }
    if !ctx.template {
        checker.model.duplicate_rules.push(DuplicateRuleInfo {
            file,
            object: object.to_string(),
            name: name.to_string(),
            active: super::xml::child_bool(root, "isActive"),
            match_rules,
        });
    }
}

/// Duplicate rules against the project's matching rules.
pub(crate) fn check_across(checker: &mut Checker) {
    let rules = checker.model.duplicate_rules.clone();
    for rule in rules {
        let mut shipped_here = Vec::new();
        for (sobject, name, line) in &rule.match_rules {
            let defined = checker
                .model
                .matching_rules
                .iter()
                .any(|m| &m.object == sobject && &m.name == name);
            if defined {
                shipped_here.push(name.clone());
                continue;
            }
            if name.starts_with("Standard_") {
                // A Salesforce standard matching rule: present in every org, never shipped.
                continue;
            }
            let candidates: Vec<&str> = checker
                .model
                .matching_rules
                .iter()
                .filter(|m| &m.object == sobject)
                .map(|m| m.name.as_str())
                .collect();
            let file_hint = checker
                .model
                .matching_rule_files
                .iter()
                .find(|(o, _)| o == sobject)
                .map(|(_, f)| f.display().to_string())
                .unwrap_or_else(|| {
                    format!(
                        "the project (there is no matchingRules/{sobject}.matchingRule-meta.xml)"
                    )
                });
            checker.problem(
                &rule.file,
                format!(
                    "line {line}: duplicate rule {}.{} uses matching rule {sobject}.{name}, which \
                     is not defined in {file_hint}{}",
                    rule.object,
                    rule.name,
                    suggestion(name, candidates.into_iter(), "", "")
                ),
            );
        }
        if rule.active && !shipped_here.is_empty() {
            checker.problem(
                &rule.file,
                format!(
                    "isActive is true, but its matching rules ({}) are deployed with it: \
                     Salesforce activates matching rules asynchronously, so activating the \
                     duplicate rule in the same deploy fails; ship <isActive>false</isActive> \
                     and activate it after the first deploy (sfdx/README.md)",
                    shipped_here.join(", ")
                ),
            );
        }
    }
}
