//! The Salesforce DX project admins deploy (`sfdx/`): it validates clean, every kind of broken
//! file is caught with a message naming the file and the problem, and the emulator started
//! from it describes every field the engine's contract names.
//!
//! `tests/sfdx/validate.sh` adds the Salesforce CLI's own offline checks (run by `.ci/run`).

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;
use shopforce::salesforce_fields::{self, Access, Fls, OBJECTS};
use shopforce::sfdx_check::{Problem, validate_project};
use tempfile::TempDir;

use crate::support::{Org, project_sfdx};

const DEFAULT: &str = "force-app/main/default";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of the project's `sfdx/` folder to break.
struct Copy {
    dir: TempDir,
}

impl Copy {
    fn new() -> Copy {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&project_sfdx(), dir.path());
        Copy { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Replaces exactly one occurrence of `from` in a file.
    fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = self.read(relative);
        assert_eq!(
            text.matches(from).count(),
            1,
            "{relative} should contain {from:?} exactly once"
        );
        self.write(relative, &text.replacen(from, to, 1));
    }

    fn problems(&self) -> Vec<Problem> {
        match validate_project(self.dir.path()) {
            Ok(report) => panic!("expected problems, the copy validated clean:\n{report}"),
            Err(problems) => problems,
        }
    }
}

fn field_file(object: &str, field: &str) -> String {
    format!("{DEFAULT}/objects/{object}/fields/{field}.field-meta.xml")
}

const PERMISSION_SET_FILE: &str =
    "force-app/main/default/permissionsets/Shopify_Sync_Integration.permissionset-meta.xml";
const DUPLICATE_RULE_FILE: &str = "force-app/main/default/duplicateRules/Contact.Shopify_Contact_Duplicate_Rule.duplicateRule-meta.xml";
const MATCHING_RULES_FILE: &str =
    "force-app/main/default/matchingRules/Contact.matchingRule-meta.xml";

fn show(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts a problem names `file` and contains every needle.
#[track_caller]
fn assert_problem(problems: &[Problem], file: &str, needles: &[&str]) {
    assert!(
        problems
            .iter()
            .any(|p| p.file == Path::new(file) && needles.iter().all(|n| p.message.contains(n))),
        "no problem for {file} containing {needles:?} in:\n{}",
        show(problems)
    );
}

/// Asserts the only problem is that one.
#[track_caller]
fn assert_only_problem(problems: &[Problem], file: &str, needles: &[&str]) {
    assert_problem(problems, file, needles);
    assert_eq!(problems.len(), 1, "{}", show(problems));
}

// ---------------------------------------------------------------- the committed folder

#[test]
fn the_committed_sfdx_folder_validates_clean() {
    let report = validate_project(&project_sfdx())
        .unwrap_or_else(|problems| panic!("sfdx/ has problems:\n{}", show(&problems)));
    assert_eq!(report.api_version, "66.0");
    let custom_fields = OBJECTS
        .iter()
        .flat_map(|o| o.fields)
        .filter(|f| f.is_custom())
        .count();
    assert_eq!(report.components["CustomField"], custom_fields);
    for (ty, n) in [
        ("PermissionSet", 1),
        ("MatchingRules", 1),
        ("MatchingRule", 2),
        ("DuplicateRule", 1),
        ("ExternalClientApplication", 1),
        ("ExtlClntAppOauthSettings", 1),
        ("ExtlClntAppOauthConfigurablePolicies", 1),
        ("ExtlClntAppConfigurablePolicies", 1),
        ("Settings", 1),
    ] {
        assert_eq!(report.components.get(ty), Some(&n), "{ty}");
    }
    // The certificate part ships only as a template; no filled-in copy is committed.
    assert_eq!(
        report.templates,
        [PathBuf::from(
            "force-app/main/default/extlClntAppGlobalOauthSets/Shopify_Sync_Engine_glbloauth.ecaGlblOauth-meta.xml.template"
        )]
    );
    // A filled-in copy may exist in an admin's checkout; it is git-ignored, never committed.
    for local in &report.local_only {
        assert!(
            local.to_string_lossy().ends_with(".ecaGlblOauth-meta.xml"),
            "{local:?}"
        );
    }
    let text = report.to_string();
    assert!(
        text.contains("Salesforce DX project OK (API 66.0"),
        "{text}"
    );
}

#[test]
fn the_duplicate_rule_ships_inactive_and_report_only() {
    let xml = std::fs::read_to_string(project_sfdx().join(DUPLICATE_RULE_FILE)).unwrap();
    for expected in [
        "<isActive>false</isActive>",
        "<actionOnInsert>Allow</actionOnInsert>",
        "<actionOnUpdate>Allow</actionOnUpdate>",
        "<operationsOnInsert>Report</operationsOnInsert>",
        "<operationsOnUpdate>Report</operationsOnUpdate>",
    ] {
        assert!(xml.contains(expected), "{expected}");
    }
    assert!(!xml.contains("Alert</operations"));
}

#[test]
fn no_secret_or_certificate_is_committed() {
    let root = project_sfdx();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.to_string_lossy().ends_with(".ecaGlblOauth-meta.xml") {
                // An admin's filled-in template: git-ignored (asserted below), never committed.
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for secret in ["PRIVATE KEY", "<consumerSecret>", "BEGIN CERTIFICATE"] {
                assert!(!text.contains(secret), "{}: {secret}", path.display());
            }
            // The only certificate element is the template's placeholder.
            if text.contains("<certificate>") {
                assert!(
                    path.to_string_lossy().ends_with(".template"),
                    "{}",
                    path.display()
                );
                assert!(
                    text.contains("<certificate>PASTE_BASE64_DER_CERTIFICATE_HERE</certificate>")
                );
            }
        }
    }
    let forceignore = std::fs::read_to_string(root.join(".forceignore")).unwrap();
    assert!(forceignore.lines().any(|l| l == "**/*.template"));
    let gitignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    assert!(gitignore.contains("extlClntAppGlobalOauthSets/*.ecaGlblOauth-meta.xml"));
}

// ---------------------------------------------------------------- one broken file each

#[test]
fn a_misspelled_element_names_the_file_line_and_likely_element() {
    let copy = Copy::new();
    let file = field_file("Contact", "Shopify_Customer_ID__c");
    copy.edit(
        &file,
        "<externalId>true</externalId>",
        "<externalID>true</externalID>",
    );
    assert_only_problem(
        &copy.problems(),
        &file,
        &["line 6: unknown element <externalID> in <CustomField> (did you mean <externalId>?)"],
    );
}

#[test]
fn a_misspelled_nested_element_names_its_path() {
    let copy = Copy::new();
    let file = field_file("Contact", "CLV_Tier__c");
    copy.edit(&file, "<label>Medium</label>", "<lable>Medium</lable>");
    assert_only_problem(
        &copy.problems(),
        &file,
        &[
            "unknown element <lable> in <CustomField/valueSet/valueSetDefinition/value> (did you mean <label>?)",
        ],
    );
}

#[test]
fn a_bad_field_type_lists_the_valid_ones() {
    let copy = Copy::new();
    let file = field_file("Order", "Shopify_Store__c");
    copy.edit(&file, "<type>Text</type>", "<type>Txt</type>");
    assert_only_problem(
        &copy.problems(),
        &file,
        &[
            "<type> is 'Txt', which is not a valid FieldType (did you mean 'Text'?)",
            "LongTextArea",
        ],
    );
}

#[test]
fn bad_enumeration_values_in_other_types_are_caught() {
    let copy = Copy::new();
    copy.edit(
        MATCHING_RULES_FILE,
        "<matchingMethod>Phone</matchingMethod>",
        "<matchingMethod>Fuzzy</matchingMethod>",
    );
    copy.edit(
        DUPLICATE_RULE_FILE,
        "<actionOnUpdate>Allow</actionOnUpdate>",
        "<actionOnUpdate>Warn</actionOnUpdate>",
    );
    copy.edit(
        PERMISSION_SET_FILE,
        "<hasActivationRequired>false</hasActivationRequired>",
        "<hasActivationRequired>no</hasActivationRequired>",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        MATCHING_RULES_FILE,
        &[
            "<matchingMethod> is 'Fuzzy', which is not a valid MatchingMethod",
            "Exact, FirstName",
        ],
    );
    assert_problem(
        &problems,
        DUPLICATE_RULE_FILE,
        &["<actionOnUpdate> is 'Warn', which is not a valid DupeActionType (valid: Allow, Block)"],
    );
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &["<hasActivationRequired> is 'no', expected true or false"],
    );
    assert_eq!(problems.len(), 3, "{}", show(&problems));
}

#[test]
fn a_custom_field_without_the_suffix_is_caught() {
    let copy = Copy::new();
    let old = field_file("Product2", "Shopify_Product_ID__c");
    let new = field_file("Product2", "Shopify_Product_ID");
    let text = copy
        .read(&old)
        .replace("Shopify_Product_ID__c", "Shopify_Product_ID");
    std::fs::remove_file(copy.path(&old)).unwrap();
    copy.write(&new, &text);
    let problems = copy.problems();
    assert_problem(
        &problems,
        &new,
        &["custom field name 'Shopify_Product_ID' must end in __c"],
    );
    // The engine's contract notices the field it writes is gone.
    assert_problem(
        &problems,
        &old,
        &["missing: the sync engine writes Product2.Shopify_Product_ID__c"],
    );
}

#[test]
fn a_file_the_cli_would_silently_skip_is_caught() {
    let copy = Copy::new();
    let old = field_file("OrderItem", "Shopify_SKU__c");
    let new = old.replace(".field-meta.xml", ".field.xml");
    std::fs::rename(copy.path(&old), copy.path(&new)).unwrap();
    assert_problem(
        &copy.problems(),
        &new,
        &["missing '-meta' in its suffix: the Salesforce CLI silently skips it"],
    );
}

#[test]
fn a_permission_for_a_missing_field_is_caught() {
    let copy = Copy::new();
    copy.edit(
        PERMISSION_SET_FILE,
        "<field>Order.Shopify_Store__c</field>",
        "<field>Order.Shopify_Shop__c</field>",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &[
            "Order.Shopify_Shop__c is not a custom field in this project",
            "no CustomField named",
        ],
    );
    // ... and the field the engine writes has lost its field-level security.
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &["no field-level security for Order.Shopify_Store__c, which the sync engine writes"],
    );
    assert_eq!(problems.len(), 2, "{}", show(&problems));
}

#[test]
fn a_permission_set_missing_an_engine_field_is_caught() {
    let copy = Copy::new();
    copy.edit(
        PERMISSION_SET_FILE,
        "    <fieldPermissions>\n        <editable>true</editable>\n        <field>Contact.MailingAddress</field>\n        <readable>true</readable>\n    </fieldPermissions>\n",
        "",
    );
    assert_only_problem(
        &copy.problems(),
        PERMISSION_SET_FILE,
        &["no field-level security for Contact.MailingAddress (for MailingStreet, MailingCity"],
    );
}

#[test]
fn a_required_field_in_the_permission_set_is_caught() {
    let copy = Copy::new();
    copy.edit(
        &field_file("Contact", "Shopify_Store__c"),
        "<required>false</required>",
        "<required>true</required>",
    );
    assert_only_problem(
        &copy.problems(),
        PERMISSION_SET_FILE,
        &[
            "Contact.Shopify_Store__c is a required field",
            "You cannot deploy to a required field",
        ],
    );
}

#[test]
fn required_standard_fields_address_parts_and_editable_formulas_are_caught() {
    let copy = Copy::new();
    let extra = "    <fieldPermissions>\n        <editable>true</editable>\n        <field>Contact.LastName</field>\n        <readable>true</readable>\n    </fieldPermissions>\n    <fieldPermissions>\n        <editable>true</editable>\n        <field>Contact.MailingCity</field>\n        <readable>true</readable>\n    </fieldPermissions>\n    <hasActivationRequired>";
    copy.edit(PERMISSION_SET_FILE, "    <hasActivationRequired>", extra);
    copy.edit(
        PERMISSION_SET_FILE,
        "<editable>false</editable>\n        <field>Contact.Days_Since_Last_Order__c</field>",
        "<editable>true</editable>\n        <field>Contact.Days_Since_Last_Order__c</field>",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &["Contact.LastName is a required field"],
    );
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &["Contact.MailingCity is part of the compound field Contact.MailingAddress"],
    );
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &["Contact.Days_Since_Last_Order__c is a formula field, so it cannot be editable"],
    );
    assert_eq!(problems.len(), 3, "{}", show(&problems));
}

#[test]
fn object_permissions_salesforce_rejects_are_caught() {
    let copy = Copy::new();
    copy.edit(
        PERMISSION_SET_FILE,
        "<object>Product2</object>",
        "<object>PricebookEntry</object>",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &[
            "PricebookEntry cannot have object permissions: its record access follows Pricebook2 and Product2",
        ],
    );
    assert_problem(
        &problems,
        PERMISSION_SET_FILE,
        &["no <objectPermissions> for Product2"],
    );
}

#[test]
fn a_duplicate_rule_pointing_at_a_missing_matching_rule_is_caught() {
    let copy = Copy::new();
    copy.edit(
        DUPLICATE_RULE_FILE,
        "<matchingRule>Shopify_Contact_Email_Match</matchingRule>",
        "<matchingRule>Shopify_Contact_Emial_Match</matchingRule>",
    );
    assert_only_problem(
        &copy.problems(),
        DUPLICATE_RULE_FILE,
        &[
            "uses matching rule Contact.Shopify_Contact_Emial_Match, which is not defined in force-app/main/default/matchingRules/Contact.matchingRule-meta.xml",
            "(did you mean Shopify_Contact_Email_Match?)",
        ],
    );
}

#[test]
fn an_active_duplicate_rule_shipped_with_its_matching_rules_is_caught() {
    let copy = Copy::new();
    copy.edit(
        DUPLICATE_RULE_FILE,
        "<isActive>false</isActive>",
        "<isActive>true</isActive>",
    );
    assert_only_problem(
        &copy.problems(),
        DUPLICATE_RULE_FILE,
        &[
            "isActive is true",
            "activating the duplicate rule in the same deploy fails",
        ],
    );
}

#[test]
fn an_alerting_or_blocking_duplicate_rule_is_caught() {
    let copy = Copy::new();
    copy.edit(
        DUPLICATE_RULE_FILE,
        "<operationsOnInsert>Report</operationsOnInsert>",
        "<operationsOnInsert>Alert</operationsOnInsert>\n    <operationsOnInsert>Report</operationsOnInsert>",
    );
    copy.edit(
        DUPLICATE_RULE_FILE,
        "<actionOnUpdate>Allow</actionOnUpdate>",
        "<actionOnUpdate>Block</actionOnUpdate>",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        DUPLICATE_RULE_FILE,
        &["operationsOnInsert includes Alert", "DUPLICATES_DETECTED"],
    );
    assert_problem(&problems, DUPLICATE_RULE_FILE, &["actionOnUpdate is Block"]);
    assert_eq!(problems.len(), 2, "{}", show(&problems));
}

#[test]
fn a_full_name_that_differs_from_the_file_name_is_caught() {
    let copy = Copy::new();
    let file = field_file("Account", "Total_Spend__c");
    copy.edit(
        &file,
        "<fullName>Total_Spend__c</fullName>",
        "<fullName>Total_Spent__c</fullName>",
    );
    assert_only_problem(
        &copy.problems(),
        &file,
        &["fullName 'Total_Spent__c' does not match the file name 'Total_Spend__c'"],
    );
}

#[test]
fn more_than_25_external_ids_on_an_object_is_caught() {
    let copy = Copy::new();
    // Contact ships one external ID; 25 more make 26.
    for i in 0..25 {
        let name = format!("Extra_Key_{i}__c");
        copy.write(
            &field_file("Contact", &name),
            &format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CustomField xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n    <fullName>{name}</fullName>\n    <externalId>true</externalId>\n    <label>Extra Key {i}</label>\n    <length>20</length>\n    <type>Text</type>\n</CustomField>\n"
            ),
        );
    }
    assert_problem(
        &copy.problems(),
        &format!("{DEFAULT}/objects/Contact/fields"),
        &["Contact has 26 external ID fields; Salesforce allows at most 25 per object"],
    );
    // 24 more (25 in all) is within the limit.
    std::fs::remove_file(copy.path(&field_file("Contact", "Extra_Key_24__c"))).unwrap();
    let problems = copy.problems();
    assert!(
        !problems
            .iter()
            .any(|p| p.message.contains("external ID fields")),
        "{}",
        show(&problems)
    );
}

#[test]
fn field_type_companions_are_required() {
    let copy = Copy::new();
    copy.edit(
        &field_file("Order", "Shopify_Order_Name__c"),
        "    <length>64</length>\n",
        "",
    );
    copy.edit(
        &field_file("Contact", "Total_Spend__c"),
        "    <scale>2</scale>\n",
        "",
    );
    copy.edit(
        &field_file("Contact", "Shopify_Verified_Email__c"),
        "    <defaultValue>false</defaultValue>\n",
        "",
    );
    copy.edit(
        &field_file("Contact", "Order_Count__c"),
        "<precision>10</precision>",
        "<precision>30</precision>",
    );
    copy.edit(
        &field_file("Contact", "First_Order_Date__c"),
        "<type>Date</type>",
        "<type>Date</type>\n    <unique>true</unique>",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        &field_file("Order", "Shopify_Order_Name__c"),
        &["Text fields need <length> (1 to 255)"],
    );
    assert_problem(
        &problems,
        &field_file("Contact", "Total_Spend__c"),
        &["Currency fields need <scale>"],
    );
    assert_problem(
        &problems,
        &field_file("Contact", "Shopify_Verified_Email__c"),
        &["Checkbox fields need <defaultValue>false</defaultValue>"],
    );
    assert_problem(
        &problems,
        &field_file("Contact", "Order_Count__c"),
        &["<precision> is 30; Number fields allow 1 to 18"],
    );
    assert_problem(
        &problems,
        &field_file("Contact", "First_Order_Date__c"),
        &["unique is only allowed on Text, Number and Email fields, not Date"],
    );
    assert_eq!(problems.len(), 5, "{}", show(&problems));
}

#[test]
fn picklist_shape_is_checked() {
    let copy = Copy::new();
    let file = field_file("Contact", "Churn_Risk__c");
    copy.edit(
        &file,
        "<fullName>medium</fullName>",
        "<fullName>LOW</fullName>",
    );
    copy.edit(&file, "<sorted>false</sorted>\n", "");
    let problems = copy.problems();
    assert_problem(&problems, &file, &["picklist value 'LOW' is listed twice"]);
    assert_problem(
        &problems,
        &file,
        &["required element <sorted> is missing from <CustomField/valueSet/valueSetDefinition>"],
    );
    assert_eq!(problems.len(), 2, "{}", show(&problems));
}

#[test]
fn the_external_client_app_must_stay_consistent() {
    let copy = Copy::new();
    let oauth =
        format!("{DEFAULT}/extlClntAppOauthSettings/Shopify_Sync_Engine_oauth.ecaOauth-meta.xml");
    let policies = format!(
        "{DEFAULT}/extlClntAppOauthPolicies/Shopify_Sync_Engine_oauthPlcy.ecaOauthPlcy-meta.xml"
    );
    copy.edit(&oauth, "Api,RefreshToken", "api,RefreshToken");
    copy.edit(&policies, "AdminApprovedPreAuthorized", "AllSelfAuthorized");
    copy.edit(
        &policies,
        "<commaSeparatedPermissionSet>Shopify_Sync_Integration<",
        "<commaSeparatedPermissionSet>Shopify_Sync_Integraton<",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        &oauth,
        &["unknown OAuth scope 'api' (did you mean 'Api'?)"],
    );
    assert_problem(
        &problems,
        &oauth,
        &["commaSeparatedOauthScopes must include Api"],
    );
    assert_problem(
        &problems,
        &policies,
        &["permittedUsersPolicyType must be AdminApprovedPreAuthorized"],
    );
    assert_problem(
        &problems,
        &policies,
        &[
            "names Shopify_Sync_Integraton, which is not a permission set in this project (did you mean Shopify_Sync_Integration?)",
        ],
    );
    assert_problem(
        &problems,
        &policies,
        &["must include Shopify_Sync_Integration"],
    );
    assert_eq!(problems.len(), 5, "{}", show(&problems));
}

#[test]
fn a_filled_in_certificate_template_is_checked_and_stays_out_of_package_xml() {
    let copy = Copy::new();
    let template = format!(
        "{DEFAULT}/extlClntAppGlobalOauthSets/Shopify_Sync_Engine_glbloauth.ecaGlblOauth-meta.xml.template"
    );
    let filled = template.trim_end_matches(".template").to_string();
    // Copied but not filled in: the placeholder is reported.
    copy.write(&filled, &copy.read(&template));
    assert_only_problem(
        &copy.problems(),
        &filled,
        &["<certificate> still holds the template placeholder"],
    );
    // Filled in with a real certificate, the way sfdx/README.md says: clean.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["shopforce".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let body: String = cert
        .pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    copy.write(
        &filled,
        &copy
            .read(&template)
            .replace("PASTE_BASE64_DER_CERTIFICATE_HERE", &body),
    );
    let report = validate_project(copy.dir.path())
        .unwrap_or_else(|p| panic!("filled-in template:\n{}", show(&p)));
    assert_eq!(report.local_only, [PathBuf::from(&filled)]);
    assert_eq!(
        report.components.get("ExtlClntAppGlobalOauthSettings"),
        Some(&1)
    );
    // A consumer secret never belongs in the project.
    copy.edit(
        &filled,
        "<externalClientApplication>",
        "<consumerSecret>s3cret</consumerSecret>\n    <externalClientApplication>",
    );
    assert_only_problem(&copy.problems(), &filled, &["remove <consumerSecret>"]);
}

#[test]
fn a_template_the_cli_would_try_to_deploy_is_caught() {
    let copy = Copy::new();
    copy.edit(".forceignore", "**/*.template\n", "");
    assert_only_problem(
        &copy.problems(),
        &format!(
            "{DEFAULT}/extlClntAppGlobalOauthSets/Shopify_Sync_Engine_glbloauth.ecaGlblOauth-meta.xml.template"
        ),
        &["templates must be listed in .forceignore"],
    );
}

#[test]
fn package_xml_must_list_exactly_the_components_present() {
    let copy = Copy::new();
    copy.edit(
        "manifest/package.xml",
        "        <members>Contact.Shopify_Contact_Phone_Match</members>\n",
        "",
    );
    copy.edit(
        "manifest/package.xml",
        "<members>Order</members>",
        "<members>Account</members>",
    );
    let problems = copy.problems();
    assert_problem(
        &problems,
        "manifest/package.xml",
        &[
            "does not list MatchingRule Contact.Shopify_Contact_Phone_Match",
            "sf project generate manifest",
        ],
    );
    assert_problem(
        &problems,
        "manifest/package.xml",
        &["does not list Settings Order"],
    );
    assert_problem(
        &problems,
        "manifest/package.xml",
        &["lists Settings Account, which is not in the project"],
    );
    assert_eq!(problems.len(), 3, "{}", show(&problems));
}

#[test]
fn project_json_order_settings_and_broken_xml_are_caught() {
    let copy = Copy::new();
    copy.edit("sfdx-project.json", "\"66.0\"", "\"66\"");
    copy.edit(
        &format!("{DEFAULT}/settings/Order.settings-meta.xml"),
        "<enableOrders>true</enableOrders>",
        "<enableOrders>false</enableOrders>",
    );
    let broken = field_file("Order", "Shopify_Currency__c");
    copy.edit(&broken, "</label>", "<label>");
    let problems = copy.problems();
    assert_problem(
        &problems,
        "sfdx-project.json",
        &["sourceApiVersion '66' is not an API version like \"66.0\""],
    );
    assert_problem(
        &problems,
        &format!("{DEFAULT}/settings/Order.settings-meta.xml"),
        &["enableOrders must be true"],
    );
    assert_problem(&problems, &broken, &["not well-formed XML"]);
}

#[test]
fn unsupported_metadata_is_refused_with_the_reason() {
    let copy = Copy::new();
    let app = format!("{DEFAULT}/connectedApps/Shopify.connectedApp-meta.xml");
    copy.write(
        &app,
        "<ConnectedApp xmlns=\"http://soap.sforce.com/2006/04/metadata\"/>",
    );
    let settings = format!("{DEFAULT}/settings/Account.settings-meta.xml");
    copy.write(
        &settings,
        "<AccountSettings xmlns=\"http://soap.sforce.com/2006/04/metadata\"/>",
    );
    let problems = copy.problems();
    assert_problem(&problems, &app, &["ship an External Client App"]);
    assert_problem(
        &problems,
        &settings,
        &[
            "settings type AccountSettings is not covered by `shopforce sfdx check` (it knows OrderSettings)",
        ],
    );
    assert_eq!(problems.len(), 2, "{}", show(&problems));
}

// ---------------------------------------------------------------- the command line

#[test]
fn shopforce_sfdx_check_prints_a_summary_or_the_problems() {
    let ok = Command::new(env!("CARGO_BIN_EXE_shopforce"))
        .args(["sfdx", "check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.starts_with("sfdx: Salesforce DX project OK (API 66.0"),
        "{stdout}"
    );
    assert!(stdout.contains("PermissionSet"), "{stdout}");

    let copy = Copy::new();
    let file = field_file("Contact", "Shopify_Tags__c");
    copy.edit(&file, "<type>LongTextArea</type>", "<type>LongText</type>");
    let bad = Command::new(env!("CARGO_BIN_EXE_shopforce"))
        .args(["sfdx", "check", "--dir"])
        .arg(copy.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "{}: line 8: <type> is 'LongText', which is not a valid FieldType",
        copy.dir.path().join(&file).display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("error: 1 problem in the Salesforce DX project"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- the emulator started from sfdx/

async fn describe(org: &Org, object: &str) -> Value {
    let url = format!(
        "{}/services/data/v66.0/sobjects/{object}/describe",
        org.base
    );
    let response = org
        .http
        .get(url)
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "describe {object}");
    response.json().await.unwrap()
}

fn described<'a>(describe: &'a Value, object: &str, field: &str) -> &'a Value {
    describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == field)
        .unwrap_or_else(|| panic!("the emulator started from sfdx/ has no field {object}.{field}"))
}

/// The Person Account contract is what an org with Person Accounts enabled describes on
/// Account (and an org without them does not).
#[tokio::test]
async fn a_person_account_org_describes_the_person_account_contract() {
    use salesforce_fields::person_account;
    let org = Org::start_with(crate::support::Options {
        person_accounts: true,
        ..Default::default()
    })
    .await;
    let d = describe(&org, person_account::SOBJECT.name).await;
    for field in person_account::SOBJECT.fields {
        let f = described(&d, "Account", field.name);
        let what = format!("Account.{}", field.name);
        assert_eq!(f["custom"].as_bool(), Some(field.is_custom()), "{what}");
        if field.access == Access::Write {
            assert!(f["createable"] == true && f["updateable"] == true, "{what}");
        }
    }
    org.shutdown().await;
    let plain = Org::start().await;
    let d = describe(&plain, "Account").await;
    assert!(
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["name"] != person_account::PERSON_EMAIL),
        "PersonEmail exists only where Person Accounts are enabled"
    );
    plain.shutdown().await;
}

#[tokio::test]
async fn the_emulator_started_from_sfdx_describes_every_contract_field() {
    let org = Org::start().await;
    let mut checked = 0;
    for object in OBJECTS {
        let d = describe(&org, object.name).await;
        for field in object.fields {
            let f = described(&d, object.name, field.name);
            let what = format!("{}.{}", object.name, field.name);
            assert_eq!(f["custom"].as_bool(), Some(field.is_custom()), "{what}");
            match field.access {
                Access::Write => assert!(
                    f["createable"] == true || f["updateable"] == true,
                    "the engine writes {what}, but the emulator says it is read-only"
                ),
                Access::Read => {}
            }
            if field.fls == Fls::Required {
                assert_eq!(f["nillable"], false, "{what} is required");
            }
            checked += 1;
        }
        for key in object.upsert_keys {
            let f = described(&d, object.name, key);
            assert_eq!(
                (
                    f["externalId"].as_bool(),
                    f["unique"].as_bool(),
                    f["idLookup"].as_bool()
                ),
                (Some(true), Some(true), Some(true)),
                "{}.{key} is an upsert key",
                object.name
            );
        }
        for reference in object.references {
            let f = described(&d, object.name, reference.field);
            assert_eq!(
                f["type"], "reference",
                "{}.{}",
                object.name, reference.field
            );
            assert!(
                f["referenceTo"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == reference.target),
                "{}.{} points at {}",
                object.name,
                reference.field,
                reference.target
            );
            assert_eq!(f["relationshipName"], reference.relationship);
        }
    }
    // The formula is computed by Salesforce, never written.
    let contact = describe(&org, salesforce_fields::contact::OBJECT).await;
    let days = described(
        &contact,
        "Contact",
        salesforce_fields::contact::DAYS_SINCE_LAST_ORDER,
    );
    assert_eq!(
        (days["calculated"].as_bool(), days["updateable"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(checked > 60, "{checked}");
    org.shutdown().await;
}

#[tokio::test]
async fn a_relationship_column_from_the_contract_resolves_in_the_emulator() {
    use salesforce_fields::{account, contact};
    let org = Org::start().await;
    let reference = contact::SOBJECT.references[0];
    org.upsert(
        account::OBJECT,
        account::SHOPIFY_COMPANY_ID,
        &format!(
            "{},{}\nC9,Acme\n",
            account::SHOPIFY_COMPANY_ID,
            account::NAME
        ),
    )
    .await;
    let (_, info) = org
        .upsert(
            contact::OBJECT,
            contact::SHOPIFY_CUSTOMER_ID,
            &format!(
                "{},{},{}.{}\n7,Lovelace,C9\n",
                contact::SHOPIFY_CUSTOMER_ID,
                contact::LAST_NAME,
                reference.relationship,
                account::SHOPIFY_COMPANY_ID
            ),
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
    let contacts = org.records(contact::OBJECT).await;
    assert!(
        contacts[0][contact::ACCOUNT_ID].is_string(),
        "{}",
        contacts[0]
    );
    org.shutdown().await;
}
