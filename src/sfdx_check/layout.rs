//! Source-format layout: which metadata type a file is, from its folder and suffix, the way the
//! Salesforce CLI's registry decides it.

use std::path::Path;

use super::xml::suggestion;

/// A metadata type this checker understands.
#[derive(Debug)]
pub(crate) struct SourceType {
    /// Name in `package.xml`.
    pub type_name: &'static str,
    /// Folder the files live in (for custom fields: `objects/<Object>/fields`).
    pub dir: &'static str,
    /// File suffix before `-meta.xml`.
    pub suffix: &'static str,
    /// Root element; empty for settings, whose root is `<Name>Settings`.
    pub root: &'static str,
}

pub(crate) const CUSTOM_FIELD: &str = "CustomField";
pub(crate) const MATCHING_RULES: &str = "MatchingRules";
pub(crate) const DUPLICATE_RULE: &str = "DuplicateRule";
pub(crate) const PERMISSION_SET: &str = "PermissionSet";
pub(crate) const ECA: &str = "ExternalClientApplication";
pub(crate) const ECA_OAUTH: &str = "ExtlClntAppOauthSettings";
pub(crate) const ECA_GLOBAL_OAUTH: &str = "ExtlClntAppGlobalOauthSettings";
pub(crate) const ECA_OAUTH_POLICIES: &str = "ExtlClntAppOauthConfigurablePolicies";
pub(crate) const ECA_POLICIES: &str = "ExtlClntAppConfigurablePolicies";
pub(crate) const SETTINGS: &str = "Settings";

pub(crate) const SOURCE_TYPES: &[SourceType] = &[
    SourceType {
        type_name: CUSTOM_FIELD,
        dir: "fields",
        suffix: "field",
        root: "CustomField",
    },
    SourceType {
        type_name: MATCHING_RULES,
        dir: "matchingRules",
        suffix: "matchingRule",
        root: "MatchingRules",
    },
    SourceType {
        type_name: DUPLICATE_RULE,
        dir: "duplicateRules",
        suffix: "duplicateRule",
        root: "DuplicateRule",
    },
    SourceType {
        type_name: PERMISSION_SET,
        dir: "permissionsets",
        suffix: "permissionset",
        root: "PermissionSet",
    },
    SourceType {
        type_name: ECA,
        dir: "externalClientApps",
        suffix: "eca",
        root: "ExternalClientApplication",
    },
    SourceType {
        type_name: ECA_OAUTH,
        dir: "extlClntAppOauthSettings",
        suffix: "ecaOauth",
        root: "ExtlClntAppOauthSettings",
    },
    SourceType {
        type_name: ECA_GLOBAL_OAUTH,
        dir: "extlClntAppGlobalOauthSets",
        suffix: "ecaGlblOauth",
        root: "ExtlClntAppGlobalOauthSettings",
    },
    SourceType {
        type_name: ECA_OAUTH_POLICIES,
        dir: "extlClntAppOauthPolicies",
        suffix: "ecaOauthPlcy",
        root: "ExtlClntAppOauthConfigurablePolicies",
    },
    SourceType {
        type_name: ECA_POLICIES,
        dir: "extlClntAppPolicies",
        suffix: "ecaPlcy",
        root: "ExtlClntAppConfigurablePolicies",
    },
    SourceType {
        type_name: SETTINGS,
        dir: "settings",
        suffix: "settings",
        root: "",
    },
];

const META: &str = "-meta.xml";

/// Metadata types the Salesforce CLI knows but this project must not ship or this checker
/// does not cover, by suffix.
const OTHER_SUFFIXES: &[(&str, &str)] = &[
    (
        "connectedApp",
        "ConnectedApp files cannot be deployed to most orgs since Spring '26 (new connected apps \
         can no longer be created through the Metadata API); ship an External Client App \
         (externalClientApps/*.eca-meta.xml) instead",
    ),
    (
        "object",
        "CustomObject files are not covered by `shopforce sfdx check`; the project only adds \
         fields to standard objects (objects/<Object>/fields/)",
    ),
];

/// A file resolved to its metadata type.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub ty: &'static SourceType,
    /// The file name without `.<suffix>-meta.xml`.
    pub stem: String,
    /// For custom fields: the object folder.
    pub object: Option<String>,
}

/// Resolves a file (path relative to the project) that ends in `-meta.xml` (after removing a
/// `.template` extension). Errors explain what the CLI would do with the file instead.
pub(crate) fn resolve(path: &Path, file_name: &str) -> Result<Resolved, String> {
    let Some(base) = file_name.strip_suffix(META) else {
        return Err(not_metadata(file_name));
    };
    let Some((stem, suffix)) = base.rsplit_once('.') else {
        return Err(format!(
            "'{file_name}' has no metadata suffix (expected <Name>.<suffix>-meta.xml)"
        ));
    };
    let Some(ty) = SOURCE_TYPES.iter().find(|t| t.suffix == suffix) else {
        if let Some((_, why)) = OTHER_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
            return Err(why.to_string());
        }
        if let Some(t) = SOURCE_TYPES
            .iter()
            .find(|t| t.suffix.eq_ignore_ascii_case(suffix))
        {
            return Err(format!(
                "suffix '.{suffix}-meta.xml' has the wrong case: the Salesforce CLI only \
                 recognises '.{}-meta.xml'",
                t.suffix
            ));
        }
        return Err(format!(
            "unknown metadata suffix '.{suffix}-meta.xml'{} (this checker knows: {})",
            suggestion(
                suffix,
                SOURCE_TYPES.iter().map(|t| t.suffix),
                "'.",
                "-meta.xml'"
            ),
            SOURCE_TYPES
                .iter()
                .map(|t| format!(".{}-meta.xml", t.suffix))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let folder = |p: Option<&Path>| {
        p.and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .map(str::to_string)
    };
    let parent = path.parent();
    let parent_name = folder(parent);
    let object = if ty.type_name == CUSTOM_FIELD {
        let object_dir = parent.and_then(Path::parent);
        let objects = folder(object_dir.and_then(Path::parent));
        if parent_name.as_deref() != Some("fields") || objects.as_deref() != Some("objects") {
            return Err(
                "custom field files must live in objects/<Object>/fields/ (the Salesforce CLI \
                 cannot tell which object they belong to anywhere else)"
                    .to_string(),
            );
        }
        folder(object_dir)
    } else {
        if parent_name.as_deref() != Some(ty.dir) {
            return Err(format!(
                "{} files must live in a folder named {}/ (found in {}/)",
                ty.type_name,
                ty.dir,
                parent_name.unwrap_or_default()
            ));
        }
        None
    };
    if stem.is_empty() {
        return Err(format!("'{file_name}' has an empty name"));
    }
    Ok(Resolved {
        ty,
        stem: stem.to_string(),
        object,
    })
}

fn not_metadata(file_name: &str) -> String {
    if let Some(base) = file_name.strip_suffix(".xml")
        && let Some((_, suffix)) = base.rsplit_once('.')
        && SOURCE_TYPES.iter().any(|t| t.suffix == suffix)
    {
        return format!(
            "'{file_name}' is missing '-meta' in its suffix: the Salesforce CLI silently skips \
             it, so it would never be deployed (rename it to {base}-meta.xml)"
        );
    }
    format!(
        "'{file_name}' is not part of any metadata component: the Salesforce CLI ignores or \
         rejects it (move it out of the package directory or list it in .forceignore)"
    )
}

/// A developer name: a letter first, then letters, digits and single underscores, not ending
/// in an underscore, at most `max` characters.
pub(crate) fn check_developer_name(name: &str, max: usize) -> Result<(), String> {
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("'{name}' must start with a letter"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "'{name}' may only contain letters, digits and underscores"
        ));
    }
    if name.contains("__") || name.ends_with('_') {
        return Err(format!(
            "'{name}' may not contain two underscores in a row or end with one"
        ));
    }
    if name.chars().count() > max {
        return Err(format!("'{name}' is longer than {max} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_str(path: &str) -> Result<Resolved, String> {
        let p = Path::new(path);
        resolve(p, p.file_name().unwrap().to_str().unwrap())
    }

    #[test]
    fn files_resolve_to_their_type_stem_and_object() {
        let f = resolve_str("force-app/main/default/objects/Contact/fields/A__c.field-meta.xml")
            .unwrap();
        assert_eq!(
            (f.ty.type_name, f.stem.as_str(), f.object.as_deref()),
            ("CustomField", "A__c", Some("Contact"))
        );
        let d = resolve_str("x/duplicateRules/Contact.Rule.duplicateRule-meta.xml").unwrap();
        assert_eq!(
            (d.ty.type_name, d.stem.as_str()),
            ("DuplicateRule", "Contact.Rule")
        );
        let g = resolve_str("x/extlClntAppGlobalOauthSets/App_g.ecaGlblOauth-meta.xml").unwrap();
        assert_eq!(g.ty.root, "ExtlClntAppGlobalOauthSettings");
    }

    #[test]
    fn misnamed_and_misplaced_files_explain_what_the_cli_does() {
        let err = |p| resolve_str(p).unwrap_err();
        assert!(err("o/objects/Contact/fields/A__c.field.xml").contains("missing '-meta'"));
        assert!(
            err("o/objects/Contact/fields/A__c.fields-meta.xml")
                .contains("(did you mean '.field-meta.xml'?)")
        );
        assert!(err("x/duplicateRules/C.R.duplicaterule-meta.xml").contains("wrong case"));
        assert!(
            err("x/extlClntAppGlobalOauthSets/A.ecaGlobalOauth-meta.xml")
                .contains("did you mean '.ecaGlblOauth-meta.xml'")
        );
        assert!(err("x/connectedApps/A.connectedApp-meta.xml").contains("External Client App"));
        assert!(err("x/fields/A__c.field-meta.xml").contains("objects/<Object>/fields/"));
        assert!(
            err("x/permissionset/P.permissionset-meta.xml")
                .contains("must live in a folder named permissionsets/")
        );
        assert!(err("x/README.md").contains("not part of any metadata component"));
    }

    #[test]
    fn developer_names() {
        assert!(check_developer_name("Shopify_Sync_Engine", 40).is_ok());
        assert!(check_developer_name("1abc", 40).is_err());
        assert!(check_developer_name("a__b", 40).is_err());
        assert!(check_developer_name("a-b", 40).is_err());
        assert!(check_developer_name("ab_", 40).is_err());
        assert!(check_developer_name(&"a".repeat(41), 40).is_err());
    }
}
