//! The External Client App for the JWT bearer flow: `externalClientApps/<App>.eca-meta.xml` and
//! its parts (OAuth settings, global OAuth settings with the certificate, OAuth policies,
//! policies).

use base64::Engine as _;

use crate::salesforce_fields::PERMISSION_SET;

use super::layout::{self, check_developer_name};
use super::schema::CONNECTED_APP_OAUTH_ACCESS_SCOPE;
use super::xml::{child_bool, child_text, children, suggestion};
use super::{Checker, EcaPart, FileContext};

/// The text a template carries where the admin pastes the certificate.
pub const CERTIFICATE_PLACEHOLDER: &str = "PASTE_BASE64_DER_CERTIFICATE_HERE";

/// `ipRelaxationPolicyType` values (a plain string in the WSDL).
const IP_RELAXATION: &[&str] = &[
    "Enforce",
    "Bypass",
    "Bypass_2factor",
    "Enforce_RelaxRefresh",
];

/// Scopes the JWT bearer flow of the engine needs.
const REQUIRED_SCOPES: &[&str] = &["Api", "RefreshToken"];

pub(crate) fn check_file(checker: &mut Checker, ctx: &FileContext<'_, '_>) {
    let root = ctx.doc.root_element();
    let file = ctx.file.to_path_buf();
    let name = ctx.resolved.stem.clone();
    let type_name = ctx.resolved.ty.type_name;
    if let Err(e) = check_developer_name(&name, 80) {
        checker.problem(&file, format!("{type_name} name {e}"));
    }
    let line_of = |element: &str| {
        children(root, element)
            .next()
            .map(|n| ctx.line(n))
            .unwrap_or(1)
    };
    let mut part = EcaPart {
        file: file.clone(),
        type_name,
        name,
        app: child_text(root, "externalClientApplication").map(str::to_string),
        permission_sets: Vec::new(),
        enabled: false,
    };
    match type_name {
        layout::ECA => {
            if let Some(state) = child_text(root, "distributionState")
                && state != "Local"
            {
                checker.problem(
                    &file,
                    format!(
                        "line {}: distributionState is {state}; an app an admin deploys into \
                         their own org is Local",
                        line_of("distributionState")
                    ),
                );
            }
        }
        layout::ECA_OAUTH => {
            let scopes: Vec<&str> = child_text(root, "commaSeparatedOauthScopes")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            for scope in &scopes {
                if !CONNECTED_APP_OAUTH_ACCESS_SCOPE.contains(scope) {
                    checker.problem(
                        &file,
                        format!(
                            "line {}: unknown OAuth scope '{scope}'{} (scopes are \
                             case-sensitive: {})",
                            line_of("commaSeparatedOauthScopes"),
                            suggestion(
                                scope,
                                CONNECTED_APP_OAUTH_ACCESS_SCOPE.iter().copied(),
                                "'",
                                "'"
                            ),
                            CONNECTED_APP_OAUTH_ACCESS_SCOPE.join(", ")
                        ),
                    );
                }
            }
            for needed in REQUIRED_SCOPES {
                if !scopes.contains(needed) {
                    checker.problem(
                        &file,
                        format!(
                            "commaSeparatedOauthScopes must include {needed}: the sync engine's \
                             JWT bearer flow needs {}",
                            REQUIRED_SCOPES.join(" and ")
                        ),
                    );
                }
            }
        }
        layout::ECA_OAUTH_POLICIES => {
            if child_text(root, "permittedUsersPolicyType") != Some("AdminApprovedPreAuthorized") {
                checker.problem(
                    &file,
                    "permittedUsersPolicyType must be AdminApprovedPreAuthorized: the JWT bearer \
                     flow has no user to approve the app, so the integration user must be \
                     pre-authorized (through the permission set)",
                );
            }
            if let Some(value) = child_text(root, "ipRelaxationPolicyType")
                && !IP_RELAXATION.contains(&value)
            {
                checker.problem(
                    &file,
                    format!(
                        "line {}: ipRelaxationPolicyType '{value}' is not one of {}",
                        line_of("ipRelaxationPolicyType"),
                        IP_RELAXATION.join(", ")
                    ),
                );
            }
            part.permission_sets = child_text(root, "commaSeparatedPermissionSet")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        layout::ECA_POLICIES => {
            part.enabled =
                child_bool(root, "isEnabled") && child_bool(root, "isOauthPluginEnabled");
            if !part.enabled {
                checker.problem(
                    &file,
                    "isEnabled and isOauthPluginEnabled must both be true, or the app issues no \
                     OAuth tokens",
                );
            }
        }
        layout::ECA_GLOBAL_OAUTH => {
            if children(root, "consumerSecret").next().is_some() {
                checker.problem(
                    &file,
                    format!(
                        "line {}: remove <consumerSecret>: the JWT bearer flow does not use it, \
                         and secrets never belong in the project",
                        line_of("consumerSecret")
                    ),
                );
            }
            match child_text(root, "certificate") {
                None => checker.problem(
                    &file,
                    "missing <certificate>: the JWT bearer flow verifies the engine's \
                     assertions with it",
                ),
                Some(CERTIFICATE_PLACEHOLDER) if ctx.template => {}
                Some(CERTIFICATE_PLACEHOLDER) => checker.problem(
                    &file,
                    format!(
                        "line {}: <certificate> still holds the template placeholder; paste the \
                         base64 body of your certificate (sfdx/README.md)",
                        line_of("certificate")
                    ),
                ),
                Some(text) => {
                    if let Err(e) = check_certificate(text) {
                        checker.problem(
                            &file,
                            format!("line {}: <certificate> {e}", line_of("certificate")),
                        );
                    }
                }
            }
        }
        _ => {}
    }
    checker.model.eca.push(part);
}

/// The `<certificate>` text: base64 DER (the PEM body, armour lines optional) of a valid,
/// unexpired X.509 certificate.
pub(crate) fn check_certificate(text: &str) -> Result<(), String> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("is not base64 ({e}); paste the PEM body without line breaks"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("is not an X.509 certificate ({e})"))?;
    if !cert.validity().is_valid() {
        return Err(format!(
            "has expired or is not valid yet (valid {} to {})",
            cert.validity().not_before,
            cert.validity().not_after
        ));
    }
    Ok(())
}

/// Parts point at an app in the project; each app has all its parts; pre-authorization goes
/// through permission sets that exist, the integration one included.
pub(crate) fn check_across(checker: &mut Checker) {
    let parts = checker.model.eca.clone();
    let apps: Vec<&EcaPart> = parts
        .iter()
        .filter(|p| p.type_name == layout::ECA)
        .collect();
    for part in parts.iter().filter(|p| p.type_name != layout::ECA) {
        match &part.app {
            Some(app) if apps.iter().any(|a| &a.name == app) => {}
            Some(app) => checker.problem(
                &part.file,
                format!(
                    "externalClientApplication '{app}' is not an External Client App in this \
                     project{}",
                    suggestion(app, apps.iter().map(|a| a.name.as_str()), "'", "'")
                ),
            ),
            None => {}
        }
    }
    for app in &apps {
        for (ty, what) in [
            (
                layout::ECA_OAUTH,
                "OAuth settings (extlClntAppOauthSettings/)",
            ),
            (
                layout::ECA_OAUTH_POLICIES,
                "OAuth policies (extlClntAppOauthPolicies/)",
            ),
            (layout::ECA_POLICIES, "policies (extlClntAppPolicies/)"),
            (
                layout::ECA_GLOBAL_OAUTH,
                "global OAuth settings or their template (extlClntAppGlobalOauthSets/)",
            ),
        ] {
            if !parts
                .iter()
                .any(|p| p.type_name == ty && p.app.as_deref() == Some(app.name.as_str()))
            {
                checker.problem(
                    &app.file,
                    format!("External Client App {} has no {what}", app.name),
                );
            }
        }
    }
    let set_names: Vec<String> = checker
        .model
        .permission_sets
        .iter()
        .map(|s| s.name.clone())
        .collect();
    for part in parts
        .iter()
        .filter(|p| p.type_name == layout::ECA_OAUTH_POLICIES)
    {
        for name in &part.permission_sets {
            if !set_names.contains(name) {
                checker.problem(
                    &part.file,
                    format!(
                        "commaSeparatedPermissionSet names {name}, which is not a permission set \
                         in this project{}",
                        suggestion(name, set_names.iter().map(String::as_str), "", "")
                    ),
                );
            }
        }
        if !part.permission_sets.iter().any(|n| n == PERMISSION_SET) {
            checker.problem(
                &part.file,
                format!(
                    "commaSeparatedPermissionSet must include {PERMISSION_SET}: the integration \
                     user is pre-authorized through it"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_must_be_real_and_current() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["shopforce".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let pem = cert.pem();
        assert_eq!(check_certificate(&pem), Ok(()));
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_eq!(check_certificate(&body), Ok(()));
        assert!(
            check_certificate("not base64!")
                .unwrap_err()
                .contains("not base64")
        );
        assert!(
            check_certificate("aGVsbG8=")
                .unwrap_err()
                .contains("not an X.509 certificate")
        );
        let mut old = rcgen::CertificateParams::new(vec!["old".to_string()]).unwrap();
        old.not_before = rcgen::date_time_ymd(2000, 1, 1);
        old.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let old = old.self_signed(&key).unwrap();
        assert!(
            check_certificate(&old.pem())
                .unwrap_err()
                .contains("expired")
        );
    }
}
