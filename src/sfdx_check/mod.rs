//! Offline validation of the Salesforce DX project admins deploy (`sfdx/`).
//!
//! No org is reachable in CI, and the Salesforce CLI's offline commands (`sf project convert
//! source`, `sf project generate manifest`) only catch wrong suffixes and folders: they accept
//! misspelled elements, bad enumeration values and missing required elements, and they never
//! look across files. [`validate_project`](crate::sfdx_check::validate_project) checks what the
//! CLI does not:
//!
//! - every file: it is a metadata type the project ships, in the right folder with the right
//!   suffix; it is well-formed XML in the Metadata API namespace; every element name, nesting,
//!   repetition, required element and value (booleans, numbers, enumerations) is valid for its
//!   type per the Metadata API WSDL (tables in `schema.rs`), in the order Salesforce writes;
//!   `fullName`, where present, matches the file name;
//! - custom fields: names end in `__c`; each type has its companions (length, precision and
//!   scale, visible lines, a default for checkboxes, a picklist value set); external IDs and
//!   unique only where Salesforce allows them; formulas are never keys or required; at most
//!   25 external IDs per object;
//! - matching and duplicate rules: matching methods, rule states, fields that exist; every
//!   duplicate rule points at a matching rule that exists, never blocks or alerts (either makes
//!   the engine's API writes fail) and ships inactive when its matching rules ship with it;
//! - the permission set [`crate::salesforce_fields::PERMISSION_SET`]: covers every field the
//!   engine writes or reads ([`crate::salesforce_fields`]), lists no required field, no field
//!   that does not exist and no editable formula, and grants object access the way Salesforce
//!   allows it;
//! - the External Client App: its parts reference it, its OAuth scopes are valid, users are
//!   admin-approved and pre-authorized through the permission set, and the certificate file
//!   ships only as a template (a filled-in copy is checked for a real certificate);
//! - `manifest/package.xml` lists exactly the components present, at `sourceApiVersion`.
//!
//! `shopforce sfdx check [--dir sfdx]` runs it from the command line.

mod eca;
mod fields;
mod forceignore;
mod layout;
mod manifest;
mod permset;
mod rules;
mod schema;
mod types;
mod xml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

pub use forceignore::ForceIgnore;
pub use xml::METADATA_NAMESPACE;

use layout::{Resolved, SourceType};

/// Settings files (`settings/<Name>.settings-meta.xml`, root `<Name>Settings`) the checker
/// knows.
const SETTINGS_TYPES: &[&str] = &["OrderSettings"];

/// One thing wrong with the project: the file (relative to the project folder) and what is
/// wrong with it, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// What a clean project holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The project folder as given.
    pub dir: PathBuf,
    /// `sourceApiVersion` from `sfdx-project.json`.
    pub api_version: String,
    /// Metadata API version of the WSDL the element tables come from.
    pub schema_version: &'static str,
    /// Metadata files checked (templates and local-only files included).
    pub files: usize,
    /// Deployable components by `package.xml` type name.
    pub components: BTreeMap<String, usize>,
    /// Templates the admin fills in (checked, not deployed as they are).
    pub templates: Vec<PathBuf>,
    /// Filled-in copies of templates (checked, deployed, never committed).
    pub local_only: Vec<PathBuf>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: usize = self.components.values().sum();
        writeln!(
            f,
            "{}: Salesforce DX project OK (API {}, checked against Metadata API {} tables; {} \
             files, {} components)",
            self.dir.display(),
            self.api_version,
            self.schema_version,
            self.files,
            total
        )?;
        for (ty, n) in &self.components {
            writeln!(f, "  {ty:<40} {n}")?;
        }
        for t in &self.templates {
            writeln!(f, "  template (admin fills it in): {}", t.display())?;
        }
        for t in &self.local_only {
            writeln!(f, "  filled-in template (never commit it): {}", t.display())?;
        }
        Ok(())
    }
}

/// Validates the Salesforce DX project in `dir` (the folder holding `sfdx-project.json`).
/// Problems come back sorted by file.
pub fn validate_project(dir: &Path) -> Result<Report, Vec<Problem>> {
    let mut checker = Checker {
        root: dir.to_path_buf(),
        problems: Vec::new(),
        model: Model::default(),
    };
    let report = checker.run();
    if checker.problems.is_empty() {
        Ok(report)
    } else {
        // By file; within a file in the order found (line order for most checks).
        let mut problems = checker.problems;
        problems.sort_by(|a, b| a.file.cmp(&b.file));
        problems.dedup();
        Err(problems)
    }
}

/// A custom field file.
#[derive(Debug, Clone)]
pub(crate) struct FieldInfo {
    pub file: PathBuf,
    pub object: String,
    pub name: String,
    /// Required, or a master-detail relationship (required by nature).
    pub required: bool,
    pub external_id: bool,
    pub formula: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct MatchingRuleInfo {
    pub object: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct DuplicateRuleInfo {
    pub file: PathBuf,
    pub object: String,
    pub name: String,
    pub active: bool,
    /// (matchRuleSObjectType, matchingRule, line)
    pub match_rules: Vec<(String, String, u32)>,
}

#[derive(Debug, Clone)]
pub(crate) struct FieldPermission {
    pub field: String,
    pub editable: bool,
    pub readable: bool,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct ObjectPermission {
    pub object: String,
    pub create: bool,
    pub read: bool,
    pub edit: bool,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct PermissionSetInfo {
    pub file: PathBuf,
    pub name: String,
    pub fields: Vec<FieldPermission>,
    pub objects: Vec<ObjectPermission>,
}

/// An External Client App or one of its parts.
#[derive(Debug, Clone)]
pub(crate) struct EcaPart {
    pub file: PathBuf,
    pub type_name: &'static str,
    pub name: String,
    /// `externalClientApplication` (parts only).
    pub app: Option<String>,
    /// For OAuth policies: `commaSeparatedPermissionSet` entries.
    pub permission_sets: Vec<String>,
    /// For policies: `isEnabled` and `isOauthPluginEnabled`.
    pub enabled: bool,
}

/// What the per-file checks learn, for the checks across files.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub fields: Vec<FieldInfo>,
    pub matching_rules: Vec<MatchingRuleInfo>,
    pub matching_rule_files: Vec<(String, PathBuf)>,
    pub duplicate_rules: Vec<DuplicateRuleInfo>,
    pub permission_sets: Vec<PermissionSetInfo>,
    pub eca: Vec<EcaPart>,
    /// Deployable (type, member) pairs.
    pub components: BTreeSet<(String, String)>,
    /// (type, member) pairs of filled-in templates: deployable, but not in package.xml.
    pub local_components: BTreeSet<(String, String)>,
    pub templates: Vec<PathBuf>,
    pub local_only: Vec<PathBuf>,
    pub files: usize,
    /// `<first package dir>/main/default`: where missing files are expected.
    pub default_dir: PathBuf,
}

impl Model {
    pub(crate) fn field(&self, object: &str, name: &str) -> Option<&FieldInfo> {
        self.fields
            .iter()
            .find(|f| f.object == object && f.name == name)
    }
}

pub(crate) struct Checker {
    root: PathBuf,
    problems: Vec<Problem>,
    model: Model,
}

impl Checker {
    pub(crate) fn problem(&mut self, file: &Path, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_path_buf(),
            message: message.into(),
        });
    }

    fn run(&mut self) -> Report {
        let project = manifest::read_project_json(self);
        let ignore = match std::fs::read_to_string(self.root.join(".forceignore")) {
            Ok(text) => ForceIgnore::parse(&text),
            Err(_) => ForceIgnore::default(),
        };
        for package_dir in &project.package_dirs {
            let mut files = Vec::new();
            let start = self.root.join(package_dir);
            if let Err(e) = walk(&start, &mut files) {
                self.problem(
                    Path::new(package_dir),
                    format!("cannot read the folder: {e}"),
                );
                continue;
            }
            files.sort();
            for file in files {
                let relative = file.strip_prefix(&self.root).unwrap_or(&file).to_path_buf();
                self.check_file(&file, &relative, &ignore);
            }
        }
        fields::check_across(self);
        rules::check_across(self);
        permset::check_across(self);
        eca::check_across(self);
        manifest::check_package_xml(self, &project.api_version);
        let mut components = BTreeMap::new();
        for (ty, _) in self
            .model
            .components
            .iter()
            .chain(&self.model.local_components)
        {
            *components.entry(ty.clone()).or_insert(0) += 1;
        }
        Report {
            dir: self.root.clone(),
            api_version: project.api_version,
            schema_version: schema::API_VERSION,
            files: self.model.files,
            components,
            templates: self.model.templates.clone(),
            local_only: self.model.local_only.clone(),
        }
    }

    fn check_file(&mut self, path: &Path, relative: &Path, ignore: &ForceIgnore) {
        let slashed = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            self.problem(relative, "file name is not valid UTF-8");
            return;
        };
        let template_of = file_name.strip_suffix(".template");
        if ignore.is_ignored(&slashed) && template_of.is_none() {
            return;
        }
        if let Some(inner) = template_of {
            if !ignore.is_ignored(&slashed) {
                self.problem(
                    relative,
                    "templates must be listed in .forceignore (e.g. **/*.template): the \
                     Salesforce CLI cannot deploy them as they are",
                );
            }
            match layout::resolve(relative, inner) {
                Ok(resolved) => {
                    self.model.templates.push(relative.to_path_buf());
                    self.check_metadata(path, relative, &resolved, true);
                }
                Err(message) => self.problem(relative, format!("template: {message}")),
            }
            return;
        }
        match layout::resolve(relative, file_name) {
            Ok(resolved) => self.check_metadata(path, relative, &resolved, false),
            Err(message) => self.problem(relative, message),
        }
    }

    fn check_metadata(&mut self, path: &Path, file: &Path, resolved: &Resolved, template: bool) {
        self.model.files += 1;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.problem(file, format!("cannot read: {e}"));
                return;
            }
        };
        let doc = match roxmltree::Document::parse(&text) {
            Ok(d) => d,
            Err(e) => {
                self.problem(file, format!("not well-formed XML: {e}"));
                return;
            }
        };
        let ty: &SourceType = resolved.ty;
        let expected_root = if ty.root.is_empty() {
            format!("{}Settings", resolved.stem)
        } else {
            ty.root.to_string()
        };
        let root = doc.root_element();
        let found = root.tag_name().name();
        if root.tag_name().namespace() != Some(METADATA_NAMESPACE) {
            self.problem(
                file,
                format!(
                    "root element <{found}> must declare xmlns=\"{METADATA_NAMESPACE}\" (the \
                     Metadata API ignores elements outside it)"
                ),
            );
            return;
        }
        if found != expected_root {
            self.problem(
                file,
                format!(
                    "root element is <{found}>, but a .{}-meta.xml file holds <{expected_root}>",
                    ty.suffix
                ),
            );
            return;
        }
        let schema = if ty.type_name == layout::SETTINGS
            && !SETTINGS_TYPES.contains(&expected_root.as_str())
        {
            None
        } else {
            types::complex_type(&expected_root)
        };
        let Some(schema) = schema else {
            self.problem(
                file,
                format!(
                    "settings type {expected_root} is not covered by `shopforce sfdx check` \
                     (it knows {}); add it to ROOTS in tests/sfdx/gen_schema.py and to \
                     SETTINGS_TYPES",
                    SETTINGS_TYPES.join(", ")
                ),
            );
            return;
        };
        let mut messages = Vec::new();
        xml::check_root(&doc, schema, &mut messages);
        for m in messages {
            self.problem(file, m);
        }
        // fullName, where present, must match the file name.
        if let Some(full_name) = xml::child_text(root, "fullName") {
            let expected = &resolved.stem;
            if full_name != expected {
                self.problem(
                    file,
                    format!(
                        "fullName '{full_name}' does not match the file name '{expected}' (the \
                         Salesforce CLI deploys the file under its file name; rename the file \
                         or fix <fullName>)"
                    ),
                );
            }
        }
        let member = match ty.type_name {
            layout::CUSTOM_FIELD => format!(
                "{}.{}",
                resolved.object.as_deref().unwrap_or(""),
                resolved.stem
            ),
            _ => resolved.stem.clone(),
        };
        let local = ty.type_name == layout::ECA_GLOBAL_OAUTH && !template;
        if local {
            self.model.local_only.push(file.to_path_buf());
        }
        if !template {
            let set = if local {
                &mut self.model.local_components
            } else {
                &mut self.model.components
            };
            set.insert((ty.type_name.to_string(), member));
        }
        let context = FileContext {
            doc: &doc,
            file,
            resolved,
            template,
        };
        match ty.type_name {
            layout::CUSTOM_FIELD => fields::check_file(self, &context),
            layout::MATCHING_RULES => rules::check_matching_rules_file(self, &context),
            layout::DUPLICATE_RULE => rules::check_duplicate_rule_file(self, &context),
            layout::PERMISSION_SET => permset::check_file(self, &context),
            layout::SETTINGS => check_settings_file(self, &context),
            _ => eca::check_file(self, &context),
        }
    }
}

/// One parsed metadata file.
pub(crate) struct FileContext<'a, 'input> {
    pub doc: &'a roxmltree::Document<'input>,
    pub file: &'a Path,
    pub resolved: &'a Resolved,
    pub template: bool,
}

impl FileContext<'_, '_> {
    pub(crate) fn line(&self, node: roxmltree::Node<'_, '_>) -> u32 {
        xml::line_of(self.doc, node)
    }
}

fn check_settings_file(checker: &mut Checker, ctx: &FileContext<'_, '_>) {
    let root = ctx.doc.root_element();
    if ctx.resolved.stem == "Order" && !xml::child_bool(root, "enableOrders") {
        checker.problem(
            ctx.file,
            "enableOrders must be true: the sync engine writes Orders and Order Products",
        );
    }
}

/// Every file under `dir`, skipping hidden files and folders and `node_modules`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry.file_type()?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if file_type.is_dir() {
            if name != "node_modules" {
                walk(&path, out)?;
            }
        } else if file_type.is_file() {
            out.push(path);
        }
    }
    Ok(())
}
