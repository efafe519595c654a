//! B2B owner routing: which sales rep owns a new company Account and its Contacts.
//!
//! The `[owner_routing]` config section holds a default owner and ordered rules; each rule
//! names an owner (a Salesforce user's email) and conditions on the company as Shopify
//! describes it (where its locations are, how many locations and contacts it has, the tags
//! of its contacts). The first rule whose conditions all hold decides; a company no rule
//! matches goes to the default owner (counted).
//!
//! Pure: a [`CompanyProfile`] and the rules in, an owner out. Turning emails into User Ids
//! and writing `OwnerId` is the sync's job ([`crate::sync::owner`]); `OwnerId` is on-create
//! in the field-ownership matrix, so a record that exists keeps the owner the CRM gave it.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::shopify::model::{Address, CompanyContact, CompanyLocation};

/// The `[owner_routing]` section. Routing is off when the section is absent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRoutingConfig {
    /// Owner of a company no rule matches (and of companies whose rule's owner is not an
    /// active user).
    pub default_owner: String,
    /// Tried in order; the first match wins.
    #[serde(default)]
    pub rules: Vec<OwnerRule>,
}

/// One `[[owner_routing.rules]]` entry. Every condition given must hold; a list condition
/// holds when any of its values does.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRule {
    /// A label for the run report (default `rules[N]`).
    #[serde(default)]
    pub name: Option<String>,
    /// The sales rep's email (their Salesforce user's `Email`).
    pub owner: String,
    /// ISO country codes: some location of the company is in one of them.
    #[serde(default)]
    pub country: Vec<String>,
    /// States or provinces: `CA` (a code or name, in any country) or `US-CA` (country and
    /// code): some location of the company is in one of them.
    #[serde(default)]
    pub state: Vec<String>,
    /// Company size: its number of locations, inclusive bounds.
    #[serde(default)]
    pub min_locations: Option<u32>,
    #[serde(default)]
    pub max_locations: Option<u32>,
    /// Company size: its number of contacts, inclusive bounds.
    #[serde(default)]
    pub min_contacts: Option<u32>,
    #[serde(default)]
    pub max_contacts: Option<u32>,
    /// A tag one of the company's contacts carries (Shopify companies have no tags of
    /// their own; their contacts are customers, which do). Case-insensitive.
    #[serde(default)]
    pub tag: Option<String>,
}

/// What routing knows of a company: read from its lines of `companies.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyProfile {
    pub locations: u32,
    pub contacts: u32,
    /// Each location's place (billing address, else shipping).
    pub places: Vec<Place>,
    /// Tags of the company's contacts, trimmed and lower-cased.
    pub tags: BTreeSet<String>,
}

/// Where a location is: upper-cased country code and the state's code and name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub country: Option<String>,
    pub states: Vec<String>,
}

fn upper(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_uppercase)
}

impl Place {
    pub fn of(address: &Address) -> Place {
        let mut states: Vec<String> = [
            address.zone_code.as_deref(),
            address.province_code.as_deref(),
            address.province.as_deref(),
        ]
        .into_iter()
        .filter_map(upper)
        .collect();
        states.dedup();
        Place {
            country: upper(address.country_code()).or(upper(address.country.as_deref())),
            states,
        }
    }
}

impl CompanyProfile {
    pub fn add_location(&mut self, location: &CompanyLocation) {
        self.locations += 1;
        if let Some(a) = location
            .billing_address
            .as_ref()
            .or(location.shipping_address.as_ref())
        {
            self.places.push(Place::of(a));
        }
    }

    pub fn add_contact(&mut self, contact: &CompanyContact) {
        self.contacts += 1;
        if let Some(customer) = &contact.customer {
            self.tags.extend(
                customer
                    .tags
                    .iter()
                    .map(|t| t.trim().to_lowercase())
                    .filter(|t| !t.is_empty()),
            );
        }
    }
}

/// A routing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// Rule `index` matched.
    Rule { index: usize, owner: &'a str },
    /// No rule matched: the default owner.
    Default { owner: &'a str },
}

impl Route<'_> {
    pub fn owner(&self) -> &str {
        match self {
            Route::Rule { owner, .. } | Route::Default { owner } => owner,
        }
    }
}

impl OwnerRule {
    /// Whether the company meets every condition of the rule.
    pub fn matches(&self, company: &CompanyProfile) -> bool {
        let within = |n: u32, min: Option<u32>, max: Option<u32>| {
            min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
        };
        let country = self.country.is_empty()
            || company.places.iter().any(|p| {
                p.country
                    .as_deref()
                    .is_some_and(|c| self.country.iter().any(|r| r.eq_ignore_ascii_case(c)))
            });
        let state = self.state.is_empty()
            || company.places.iter().any(|p| {
                self.state.iter().any(|wanted| {
                    let wanted = wanted.trim().to_uppercase();
                    match wanted.split_once('-') {
                        Some((country, code)) if country.len() == 2 => {
                            p.country.as_deref() == Some(country)
                                && p.states.iter().any(|s| s == code)
                        }
                        _ => p.states.contains(&wanted),
                    }
                })
            });
        let tag = self
            .tag
            .as_deref()
            .is_none_or(|t| company.tags.contains(&t.trim().to_lowercase()));
        country
            && state
            && tag
            && within(company.locations, self.min_locations, self.max_locations)
            && within(company.contacts, self.min_contacts, self.max_contacts)
    }

    fn has_condition(&self) -> bool {
        !self.country.is_empty()
            || !self.state.is_empty()
            || self.min_locations.is_some()
            || self.max_locations.is_some()
            || self.min_contacts.is_some()
            || self.max_contacts.is_some()
            || self.tag.is_some()
    }
}

impl OwnerRoutingConfig {
    /// The owner of `company`: the first rule that matches, else the default owner.
    pub fn route(&self, company: &CompanyProfile) -> Route<'_> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(company))
            .map_or(
                Route::Default {
                    owner: &self.default_owner,
                },
                |(index, r)| Route::Rule {
                    index,
                    owner: &r.owner,
                },
            )
    }

    /// The rule's label in the run report: its name, or `rules[N]`.
    pub fn label(&self, index: usize) -> String {
        self.rules
            .get(index)
            .and_then(|r| r.name.clone())
            .unwrap_or_else(|| format!("rules[{index}]"))
    }

    /// Every owner email the rules name, the default first, lower-cased, each once.
    pub fn owner_emails(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        std::iter::once(&self.default_owner)
            .chain(self.rules.iter().map(|r| &r.owner))
            .map(|e| e.trim().to_lowercase())
            .filter(|e| seen.insert(e.clone()))
            .collect()
    }

    /// Checks the section; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        check_email("owner_routing.default_owner", &self.default_owner)?;
        for (n, rule) in self.rules.iter().enumerate() {
            let key = |name: &str| format!("owner_routing.rules[{n}].{name}");
            check_email(&key("owner"), &rule.owner)?;
            if !rule.has_condition() {
                return Err(format!(
                    "owner_routing.rules[{n}]: the rule has no condition (give country, state, min_locations, max_locations, min_contacts, max_contacts or tag); the default_owner already takes every company"
                ));
            }
            for c in &rule.country {
                if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(format!(
                        "{}: {c:?} is not a two-letter ISO country code such as US",
                        key("country")
                    ));
                }
            }
            for s in &rule.state {
                if s.trim().is_empty() {
                    return Err(format!("{}: a state is empty", key("state")));
                }
            }
            for (name, min, max) in [
                ("locations", rule.min_locations, rule.max_locations),
                ("contacts", rule.min_contacts, rule.max_contacts),
            ] {
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    return Err(format!(
                        "{}: {lo} is more than max_{name} {hi}",
                        key(&format!("min_{name}"))
                    ));
                }
            }
            if rule.tag.as_deref().is_some_and(|t| t.trim().is_empty()) {
                return Err(format!("{}: the tag is empty", key("tag")));
            }
        }
        Ok(())
    }
}

/// An email address a Salesforce user could have: one `@`, a local part, a dotted domain,
/// no spaces or quotes.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '\'' | '"' | '\\'))
}

fn check_email(key: &str, text: &str) -> Result<(), String> {
    if is_email(text.trim()) {
        Ok(())
    } else {
        Err(format!(
            "{key}: {text:?} is not an email address (a Salesforce user's Email)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(owner: &str) -> OwnerRule {
        OwnerRule {
            name: None,
            owner: owner.to_string(),
            country: vec![],
            state: vec![],
            min_locations: None,
            max_locations: None,
            min_contacts: None,
            max_contacts: None,
            tag: None,
        }
    }

    fn place(country: &str, state: &str) -> Place {
        Place {
            country: Some(country.to_string()),
            states: vec![state.to_string()],
        }
    }

    fn company(places: Vec<Place>, locations: u32, contacts: u32, tags: &[&str]) -> CompanyProfile {
        CompanyProfile {
            locations,
            contacts,
            places,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn config() -> OwnerRoutingConfig {
        OwnerRoutingConfig {
            default_owner: "default@example.com".into(),
            rules: vec![
                OwnerRule {
                    tag: Some("Enterprise".into()),
                    name: Some("key accounts".into()),
                    ..rule("key@example.com")
                },
                OwnerRule {
                    min_locations: Some(3),
                    ..rule("big@example.com")
                },
                OwnerRule {
                    state: vec!["US-CA".into(), "WA".into()],
                    ..rule("west@example.com")
                },
                OwnerRule {
                    country: vec!["us".into(), "CA".into()],
                    ..rule("na@example.com")
                },
            ],
        }
    }

    #[test]
    fn the_first_matching_rule_wins_and_the_rest_fall_back_to_the_default() {
        let c = config();
        let route = |p: &CompanyProfile| c.route(p).owner().to_string();
        // Tag beats everything after it, whatever the country or size.
        let tagged = company(vec![place("US", "CA")], 5, 2, &["enterprise"]);
        assert_eq!(
            c.route(&tagged),
            Route::Rule {
                index: 0,
                owner: "key@example.com"
            }
        );
        assert_eq!(c.label(0), "key accounts");
        assert_eq!(c.label(1), "rules[1]");
        assert_eq!(
            route(&company(vec![place("US", "CA")], 3, 1, &[])),
            "big@example.com"
        );
        assert_eq!(
            route(&company(vec![place("US", "CA")], 1, 1, &[])),
            "west@example.com"
        );
        // `WA` in any country; `US-CA` only in the US (Canada's CA is no state).
        assert_eq!(
            route(&company(vec![place("AU", "WA")], 1, 1, &[])),
            "west@example.com"
        );
        assert_eq!(
            route(&company(vec![place("CA", "ON")], 1, 1, &[])),
            "na@example.com"
        );
        assert_eq!(
            route(&company(vec![place("MX", "CA")], 1, 1, &[])),
            "default@example.com"
        );
        // Any location counts.
        let spread = company(vec![place("DE", "BE"), place("US", "NY")], 2, 1, &[]);
        assert_eq!(route(&spread), "na@example.com");
        let nowhere = company(vec![], 0, 0, &[]);
        assert_eq!(
            c.route(&nowhere),
            Route::Default {
                owner: "default@example.com"
            }
        );
    }

    #[test]
    fn every_condition_of_a_rule_must_hold() {
        let r = OwnerRule {
            country: vec!["US".into()],
            min_contacts: Some(2),
            max_contacts: Some(4),
            max_locations: Some(1),
            ..rule("a@example.com")
        };
        assert!(r.matches(&company(vec![place("US", "TX")], 1, 2, &[])));
        assert!(r.matches(&company(vec![place("US", "TX")], 1, 4, &[])));
        assert!(!r.matches(&company(vec![place("US", "TX")], 1, 5, &[])));
        assert!(!r.matches(&company(vec![place("US", "TX")], 1, 1, &[])));
        assert!(!r.matches(&company(vec![place("US", "TX")], 2, 2, &[])));
        assert!(!r.matches(&company(vec![place("GB", "LND")], 1, 2, &[])));
    }

    #[test]
    fn a_profile_reads_locations_addresses_and_contact_tags() {
        let location: CompanyLocation = serde_json::from_str(r#"{"id":"gid://shopify/CompanyLocation/1","__parentId":"gid://shopify/Company/9","billingAddress":{"city":"Austin","province":"Texas","zoneCode":"TX","countryCode":"US"}}"#).unwrap();
        let shipping_only: CompanyLocation = serde_json::from_str(r#"{"id":"gid://shopify/CompanyLocation/2","__parentId":"gid://shopify/Company/9","shippingAddress":{"province":"Ontario","countryCode":"ca"}}"#).unwrap();
        let contact: CompanyContact = serde_json::from_str(r#"{"id":"gid://shopify/CompanyContact/3","__parentId":"gid://shopify/Company/9","customer":{"id":"gid://shopify/Customer/4","tags":[" Wholesale ","VIP"]}}"#).unwrap();
        let mut p = CompanyProfile::default();
        p.add_location(&location);
        p.add_location(&shipping_only);
        p.add_contact(&contact);
        assert_eq!(p.locations, 2);
        assert_eq!(p.contacts, 1);
        assert_eq!(
            p.places[0],
            Place {
                country: Some("US".into()),
                states: vec!["TX".into(), "TEXAS".into()]
            }
        );
        assert_eq!(p.places[1].country.as_deref(), Some("CA"));
        assert_eq!(
            p.tags,
            BTreeSet::from(["vip".to_string(), "wholesale".to_string()])
        );
        let r = OwnerRule {
            state: vec!["ontario".into()],
            ..rule("x@example.com")
        };
        assert!(r.matches(&p));
        let r = OwnerRule {
            tag: Some("WHOLESALE".into()),
            ..rule("x@example.com")
        };
        assert!(r.matches(&p));
    }

    #[test]
    fn validation_names_the_key() {
        assert_eq!(config().validate(), Ok(()));
        let mut c = config();
        c.default_owner = "sales team".into();
        let e = c.validate().unwrap_err();
        assert!(
            e.starts_with("owner_routing.default_owner: \"sales team\" is not an email"),
            "{e}"
        );
        let mut c = config();
        c.rules[2].owner = "west@example".into();
        assert!(
            c.validate()
                .unwrap_err()
                .starts_with("owner_routing.rules[2].owner:")
        );
        let mut c = config();
        c.rules.push(rule("lazy@example.com"));
        let e = c.validate().unwrap_err();
        assert!(
            e.starts_with("owner_routing.rules[4]: the rule has no condition"),
            "{e}"
        );
        let mut c = config();
        c.rules[3].country.push("USA".into());
        assert!(
            c.validate()
                .unwrap_err()
                .starts_with("owner_routing.rules[3].country:")
        );
        let mut c = config();
        c.rules[1].max_locations = Some(2);
        assert!(
            c.validate().unwrap_err().starts_with(
                "owner_routing.rules[1].min_locations: 3 is more than max_locations 2"
            )
        );
        let mut c = config();
        c.rules[0].tag = Some(" ".into());
        assert!(
            c.validate()
                .unwrap_err()
                .starts_with("owner_routing.rules[0].tag:")
        );
        for bad in [
            "",
            "a@b",
            "@example.com",
            "a@@example.com",
            "o'neil@example.com",
            "a b@example.com",
            "a@example.com.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_email("first.last+b2b@sales.example.co.uk"));
    }

    #[test]
    fn owner_emails_are_listed_once_lower_cased_default_first() {
        let mut c = config();
        c.rules[1].owner = "KEY@example.com".into();
        assert_eq!(
            c.owner_emails(),
            [
                "default@example.com",
                "key@example.com",
                "west@example.com",
                "na@example.com"
            ]
        );
    }
}
