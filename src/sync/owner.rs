//! The edge of B2B owner routing ([`crate::mapping::routing`]): before the rows are
//! prepared, the companies of `companies.jsonl` are routed to owners, the owners' emails
//! are turned into User Ids with one REST query (`SELECT Id, Email FROM User WHERE
//! IsActive = true AND Email IN (…)`), and the `OwnerId` cells of the company, location and
//! company-contact rows are filled in ([`RowEdits`] by key).
//!
//! `OwnerId` is on-create in the field-ownership matrix: field ownership blanks it in rows
//! of records that already exist, so an Account or Contact a sales rep reassigned keeps the
//! rep's owner. A new location or Contact of a company whose Account exists follows the
//! Account's current owner (read from Salesforce, when that user is active) rather than the
//! rules, so a reassigned Account's new Contacts go to the rep who owns it now.
//!
//! An owner email with no active Salesforce user: for a rule's owner, its companies go to
//! the default owner (warned at run start, counted); for the default owner, the run stops
//! before anything is sent (there is nobody to fall back to).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::mapping::routing::{CompanyProfile, OwnerRoutingConfig, Route};
use crate::mapping::target::{Target, column};
use crate::salesforce::SalesforceClient;
use crate::shopify::bulk_jsonl::{CompanyLine, JsonlLines, parse_company_line};
use crate::shopify::model::legacy_id;
use crate::store::{StateStore, Store};

use super::SyncError;
use super::prepare::RowEdits;

/// Emails (or company keys) per SOQL `IN` list: keeps the query URL short.
const IN_LIST: usize = 100;
/// Keys per state-store lookup.
const LOOKUP_BATCH: usize = 2000;

/// What owner routing decided in one run. Counts cover new companies only (those without
/// an Account yet): theirs is the only `OwnerId` that is written.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OwnerRoutingTally {
    /// Companies in the export without an Account yet.
    pub new_companies: u64,
    /// Per rule (its `name`, else `rules[N]`): new companies it matched.
    pub by_rule: BTreeMap<String, u64>,
    /// Per owner email: new companies assigned to them.
    pub by_owner: BTreeMap<String, u64>,
    /// New companies no rule matched (they went to the default owner).
    pub unmatched: u64,
    /// New companies whose rule's owner has no active user (they went to the default
    /// owner).
    pub inactive_owner: u64,
    /// Owner emails of the rules with no active Salesforce user.
    pub inactive_owners: Vec<String>,
    /// New locations and Contacts of companies whose Account exists, given the Account's
    /// current owner.
    pub following_account_owner: u64,
    /// `false` in a dry run without Salesforce: decisions counted, no `OwnerId` written.
    pub owner_ids_resolved: bool,
}

/// The `OwnerId` cells to set, per target, and what was decided.
#[derive(Debug, Default)]
pub struct OwnerPlan {
    pub edits: HashMap<Target, RowEdits>,
    pub tally: OwnerRoutingTally,
}

/// The companies of an export: profiles by company id, and which company each location and
/// contact (customer) belongs to (legacy ids).
#[derive(Debug, Default)]
struct Companies {
    profiles: BTreeMap<String, CompanyProfile>,
    locations: BTreeMap<String, String>,
    contacts: BTreeMap<String, String>,
}

fn read_companies(path: &Path) -> Result<Companies, SyncError> {
    let mut out = Companies::default();
    let file = File::open(path).map_err(|e| SyncError::io(path, e))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    // Bad lines are skipped here: the reader of the export reports them.
    for line in JsonlLines::new("companies.jsonl", reader, parse_company_line) {
        match line.map_err(|e| SyncError::io(path, e))? {
            Ok(CompanyLine::Company(c)) => {
                out.profiles
                    .entry(legacy_id(&c.id).to_string())
                    .or_default();
            }
            Ok(CompanyLine::Location(l)) => {
                let company = legacy_id(&l.parent_id).to_string();
                out.profiles
                    .entry(company.clone())
                    .or_default()
                    .add_location(&l);
                out.locations.insert(legacy_id(&l.id).to_string(), company);
            }
            Ok(CompanyLine::Contact(c)) => {
                let company = legacy_id(&c.parent_id).to_string();
                out.profiles
                    .entry(company.clone())
                    .or_default()
                    .add_contact(&c);
                if let Some(customer) = &c.customer {
                    out.contacts
                        .insert(legacy_id(&customer.id).to_string(), company);
                }
            }
            Ok(CompanyLine::Ignored) | Err(_) => {}
        }
    }
    Ok(out)
}

/// SOQL string literal text: backslash and quote escaped.
fn soql_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if matches!(c, '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Active users by lower-cased email → User Id. Two active users with one email: the
/// smaller Id (stable from run to run), warned.
pub async fn active_users(
    client: &SalesforceClient,
    emails: &[String],
) -> Result<HashMap<String, String>, SyncError> {
    let mut users: HashMap<String, String> = HashMap::new();
    for chunk in emails.chunks(IN_LIST) {
        let list: Vec<String> = chunk.iter().map(|e| soql_quote(e)).collect();
        let soql = format!(
            "SELECT Id, Email FROM User WHERE IsActive = true AND Email IN ({})",
            list.join(", ")
        );
        for row in client.query(&soql).await? {
            let (Some(id), Some(email)) = (row["Id"].as_str(), row["Email"].as_str()) else {
                continue;
            };
            let email = email.trim().to_lowercase();
            match users.get(&email) {
                Some(other) if other.as_str() <= id => {
                    tracing::warn!(%email, kept = %other, other = %id, "two active users have this email: the first by Id owns routed records");
                }
                _ => {
                    users.insert(email, id.to_string());
                }
            }
        }
    }
    Ok(users)
}

/// Current owners of existing company Accounts, by company id, where that owner is active.
async fn account_owners(
    client: &SalesforceClient,
    companies: &[&str],
) -> Result<HashMap<String, String>, SyncError> {
    let mut owners = HashMap::new();
    for chunk in companies.chunks(IN_LIST) {
        let list: Vec<String> = chunk.iter().map(|c| soql_quote(c)).collect();
        let soql = format!(
            "SELECT Shopify_Company_ID__c, OwnerId, Owner.IsActive FROM Account WHERE Shopify_Company_ID__c IN ({})",
            list.join(", ")
        );
        for row in client.query(&soql).await? {
            let (Some(company), Some(owner)) = (
                row["Shopify_Company_ID__c"].as_str(),
                row["OwnerId"].as_str(),
            ) else {
                continue;
            };
            if row["Owner"]["IsActive"].as_bool() == Some(true) {
                owners.insert(company.to_string(), owner.to_string());
            }
        }
    }
    Ok(owners)
}

/// Which of `keys` (of one mapping kind) have a record already.
async fn existing(
    store: &Store,
    shop: &str,
    kind: &str,
    keys: impl Iterator<Item = &String>,
) -> Result<BTreeSet<String>, SyncError> {
    let keys: Vec<&String> = keys.collect();
    let mut out = BTreeSet::new();
    for chunk in keys.chunks(LOOKUP_BATCH) {
        out.extend(
            store
                .get_written_records(shop, kind, chunk)
                .await?
                .into_keys(),
        );
    }
    Ok(out)
}

/// Routes the companies of `source_dir/companies.jsonl`. `client` is `None` in a dry run
/// without Salesforce: decisions are counted but no `OwnerId` is set.
pub async fn plan(
    client: Option<&SalesforceClient>,
    store: &Store,
    shop: &str,
    config: &OwnerRoutingConfig,
    source_dir: &Path,
) -> Result<OwnerPlan, SyncError> {
    let mut plan = OwnerPlan::default();
    let path = source_dir.join("companies.jsonl");
    if !path.exists() {
        return Ok(plan);
    }
    let companies = read_companies(&path)?;
    let default_email = config.default_owner.trim().to_lowercase();
    let users = match client {
        Some(client) => {
            let users = active_users(client, &config.owner_emails()).await?;
            if !users.contains_key(&default_email) {
                return Err(SyncError::Input(format!(
                    "owner_routing.default_owner: {default_email} is not the Email of an active Salesforce user; activate the user or name another default owner"
                )));
            }
            for (n, rule) in config.rules.iter().enumerate() {
                let email = rule.owner.trim().to_lowercase();
                if !users.contains_key(&email) && !plan.tally.inactive_owners.contains(&email) {
                    tracing::warn!(
                        rule = %config.label(n),
                        owner = %email,
                        default_owner = %default_email,
                        "owner_routing.rules[{n}].owner is not the Email of an active Salesforce user: the companies this rule matches go to the default owner"
                    );
                    plan.tally.inactive_owners.push(email);
                }
            }
            plan.tally.owner_ids_resolved = true;
            Some(users)
        }
        None => {
            tracing::info!(
                "dry run without Salesforce: owner routing is counted, OwnerId is not set"
            );
            None
        }
    };

    let existing_companies = existing(store, shop, "company", companies.profiles.keys()).await?;
    // Each company's routed owner (email, User Id when known).
    let mut routed: HashMap<&str, Option<&str>> = HashMap::new();
    let account_column = column(Target::CompanyAccount, "OwnerId");
    let mut account_edits = RowEdits::default();
    for (company, profile) in &companies.profiles {
        let route = config.route(profile);
        let email = route.owner().trim().to_lowercase();
        let (email, inactive) = match &users {
            Some(users) if !users.contains_key(&email) => (default_email.clone(), true),
            _ => (email, false),
        };
        let id = users
            .as_ref()
            .and_then(|u| u.get(&email))
            .map(String::as_str);
        routed.insert(company.as_str(), id);
        if let Some(id) = id {
            account_edits
                .by_key
                .insert(company.clone(), vec![(account_column, id.to_string())]);
        }
        if existing_companies.contains(company) {
            continue;
        }
        let tally = &mut plan.tally;
        tally.new_companies += 1;
        match route {
            Route::Rule { index, .. } => {
                *tally.by_rule.entry(config.label(index)).or_default() += 1;
            }
            Route::Default { .. } => tally.unmatched += 1,
        }
        if inactive {
            tally.inactive_owner += 1;
        }
        *tally.by_owner.entry(email).or_default() += 1;
    }
    plan.edits.insert(Target::CompanyAccount, account_edits);
    let Some(_) = users else {
        return Ok(plan);
    };

    // Locations and Contacts: their company's owner; new ones under an existing Account
    // follow that Account's current owner.
    let existing_locations =
        existing(store, shop, "company_location", companies.locations.keys()).await?;
    let existing_contacts = existing(store, shop, "customer", companies.contacts.keys()).await?;
    let mut follow: BTreeSet<&str> = BTreeSet::new();
    for (children, existing_children) in [
        (&companies.locations, &existing_locations),
        (&companies.contacts, &existing_contacts),
    ] {
        for (child, company) in children {
            if existing_companies.contains(company) && !existing_children.contains(child) {
                follow.insert(company.as_str());
            }
        }
    }
    let current = match (client, follow.is_empty()) {
        (Some(client), false) => {
            let list: Vec<&str> = follow.iter().copied().collect();
            account_owners(client, &list).await?
        }
        _ => HashMap::new(),
    };
    for (target, children, existing_children) in [
        (
            Target::LocationAccount,
            &companies.locations,
            &existing_locations,
        ),
        (
            Target::CompanyContact,
            &companies.contacts,
            &existing_contacts,
        ),
    ] {
        let owner_column = column(target, "OwnerId");
        let mut edits = RowEdits::default();
        for (child, company) in children {
            let following = (!existing_children.contains(child))
                .then(|| current.get(company))
                .flatten();
            if following.is_some() {
                plan.tally.following_account_owner += 1;
            }
            let id = following
                .map(String::as_str)
                .or(routed.get(company.as_str()).copied().flatten());
            if let Some(id) = id {
                edits
                    .by_key
                    .insert(child.clone(), vec![(owner_column, id.to_string())]);
            }
        }
        plan.edits.insert(target, edits);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soql_literals_escape_quotes_and_backslashes() {
        assert_eq!(soql_quote("a@example.com"), "'a@example.com'");
        assert_eq!(soql_quote(r"o'ne\il"), r"'o\'ne\\il'");
    }

    #[test]
    fn companies_are_read_with_their_locations_and_contacts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("companies.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"id":"gid://shopify/CompanyLocation/11","__parentId":"gid://shopify/Company/1","billingAddress":{"countryCode":"US","zoneCode":"CA"}}"#,
                "\n",
                r#"{"id":"gid://shopify/Company/1","name":"Acme"}"#,
                "\n",
                "not json\n",
                r#"{"id":"gid://shopify/CompanyContact/21","__parentId":"gid://shopify/Company/1","customer":{"id":"gid://shopify/Customer/31","tags":["VIP"]}}"#,
                "\n",
                r#"{"id":"gid://shopify/Company/2","name":"Lone"}"#,
                "\n",
            ),
        )
        .unwrap();
        let c = read_companies(&path).unwrap();
        assert_eq!(c.profiles.len(), 2);
        let acme = &c.profiles["1"];
        assert_eq!((acme.locations, acme.contacts), (1, 1));
        assert!(acme.tags.contains("vip"));
        assert_eq!(acme.places[0].country.as_deref(), Some("US"));
        assert_eq!(c.profiles["2"], CompanyProfile::default());
        assert_eq!(c.locations["11"], "1");
        assert_eq!(c.contacts["31"], "1");
    }
}
