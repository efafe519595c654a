//! `sfdx-project.json` and `manifest/package.xml`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Checker;
use super::types::complex_type;
use super::xml::{METADATA_NAMESPACE, check_root, child_text, children, line_of};

pub(crate) const PROJECT_JSON: &str = "sfdx-project.json";
pub(crate) const PACKAGE_XML: &str = "manifest/package.xml";
const REGENERATE: &str = "regenerate it inside sfdx/ with `sf project generate manifest \
                          --source-dir force-app --output-dir manifest`";

/// What `sfdx-project.json` says.
#[derive(Debug, Default)]
pub(crate) struct ProjectJson {
    pub package_dirs: Vec<String>,
    pub api_version: String,
}

pub(crate) fn read_project_json(checker: &mut Checker) -> ProjectJson {
    let file = Path::new(PROJECT_JSON);
    let mut project = ProjectJson::default();
    let text = match std::fs::read_to_string(checker.root.join(file)) {
        Ok(t) => t,
        Err(e) => {
            checker.problem(
                file,
                format!(
                    "cannot read ({e}); is {} a Salesforce DX project folder?",
                    checker.root.display()
                ),
            );
            return project;
        }
    };
    let json: serde_json::Value = match serde_json::from_str(&text) {
        Ok(j) => j,
        Err(e) => {
            checker.problem(
                file,
                format!(
                    "not valid JSON ({e}); the Salesforce CLI would silently fall back to API \
                     version 58.0"
                ),
            );
            return project;
        }
    };
    match json["packageDirectories"].as_array() {
        Some(dirs) if !dirs.is_empty() => {
            for dir in dirs {
                match dir["path"].as_str() {
                    Some(path) if checker.root.join(path).is_dir() => {
                        project.package_dirs.push(path.to_string())
                    }
                    Some(path) => {
                        checker.problem(file, format!("package directory '{path}' does not exist"))
                    }
                    None => {
                        checker.problem(file, "every packageDirectories entry needs a \"path\"")
                    }
                }
            }
        }
        _ => checker.problem(
            file,
            "packageDirectories must list at least one folder, e.g. [{\"path\": \"force-app\", \
             \"default\": true}]",
        ),
    }
    match json["sourceApiVersion"].as_str() {
        Some(v)
            if v.split_once('.').is_some_and(|(major, minor)| {
                !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && minor == "0"
            }) =>
        {
            project.api_version = v.to_string()
        }
        Some(v) => checker.problem(
            file,
            format!(
                "sourceApiVersion '{v}' is not an API version like \"66.0\" (the CLI copies it \
                 into package.xml unchecked)"
            ),
        ),
        None => checker.problem(
            file,
            "sourceApiVersion is missing; set it (e.g. \"66.0\") so every deploy uses the same \
             API version",
        ),
    }
    if let Some(ns) = json["namespace"].as_str()
        && !ns.is_empty()
    {
        checker.problem(
            file,
            format!(
                "namespace is '{ns}'; a folder admins deploy unpackaged must have namespace \"\""
            ),
        );
    }
    let default_dir = project
        .package_dirs
        .first()
        .map(|d| {
            let main = Path::new(d).join("main/default");
            if checker.root.join(&main).is_dir() {
                main
            } else {
                PathBuf::from(d)
            }
        })
        .unwrap_or_else(|| PathBuf::from("force-app/main/default"));
    checker.model.default_dir = default_dir;
    project
}

pub(crate) fn check_package_xml(checker: &mut Checker, api_version: &str) {
    let file = Path::new(PACKAGE_XML);
    let text = match std::fs::read_to_string(checker.root.join(file)) {
        Ok(t) => t,
        Err(_) => {
            checker.problem(file, format!("missing; {REGENERATE}"));
            return;
        }
    };
    let doc = match roxmltree::Document::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            checker.problem(file, format!("not well-formed XML: {e}"));
            return;
        }
    };
    let root = doc.root_element();
    if root.tag_name().name() != "Package"
        || root.tag_name().namespace() != Some(METADATA_NAMESPACE)
    {
        checker.problem(
            file,
            format!("root element must be <Package xmlns=\"{METADATA_NAMESPACE}\">"),
        );
        return;
    }
    let mut messages = Vec::new();
    if let Some(ty) = complex_type("Package") {
        check_root(&doc, ty, &mut messages);
    }
    for m in messages {
        checker.problem(file, m);
    }
    if let Some(version) = child_text(root, "version")
        && !api_version.is_empty()
        && version != api_version
    {
        checker.problem(
            file,
            format!(
                "version {version} differs from sourceApiVersion {api_version} in \
                 {}; {REGENERATE}",
                PROJECT_JSON
            ),
        );
    }
    let mut listed: BTreeSet<(String, String)> = BTreeSet::new();
    let mut wildcards: BTreeSet<String> = BTreeSet::new();
    for types in children(root, "types") {
        let Some(name) = child_text(types, "name") else {
            continue;
        };
        for member in children(types, "members") {
            let m = member.text().unwrap_or("").trim();
            if m == "*" {
                wildcards.insert(name.to_string());
            } else if !listed.insert((name.to_string(), m.to_string())) {
                checker.problem(
                    file,
                    format!("line {}: {name} {m} is listed twice", line_of(&doc, member)),
                );
            }
        }
    }
    let present = &checker.model.components;
    let local = &checker.model.local_components;
    let mut problems = Vec::new();
    for (ty, member) in present {
        if !listed.contains(&(ty.clone(), member.clone())) && !wildcards.contains(ty) {
            problems.push(format!(
                "does not list {ty} {member}, which the project contains; {REGENERATE}"
            ));
        }
    }
    for (ty, member) in &listed {
        let key = (ty.clone(), member.clone());
        if !present.contains(&key) && !local.contains(&key) {
            problems.push(format!(
                "lists {ty} {member}, which is not in the project; {REGENERATE}"
            ));
        }
    }
    for p in problems {
        checker.problem(file, p);
    }
}
