//! Identity resolution: which Salesforce Contact a Shopify customer (or a guest checkout)
//! is, decided before anything is created.
//!
//! Tiers, in order: the state store's mapping from an earlier run; the Contact's own
//! `Shopify_Customer_ID__c`; exact normalised email; phone in E.164; optionally a
//! probabilistic tier (names, postal code, phone tail) above a configured threshold. One
//! match links the customer to that Contact; several are ambiguous and go to the review
//! queue, handled by the configured rule ([`AmbiguousRule`]); none creates a Contact. The
//! Contacts are read with one Bulk API query into a local [`ContactIndex`] (refreshed by
//! `SystemModstamp`), never with one search per customer.
//!
//! Pure: values in, values out. Reading the org and the store is the sync's job.

pub mod index;
pub mod normalize;

pub use index::{ContactIndex, CrmContact, Identity, Resolution, ResolveOptions, Tier};
pub use normalize::{PlusTags, Region};

/// What to do when several Contacts match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguousRule {
    /// Hold the customer (no Contact row, no orders) until a person resolves the review.
    #[default]
    Hold,
    /// Link to the oldest candidate (by `CreatedDate`); the review is still queued.
    Oldest,
}

/// The `[identity]` config section.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Resolve customers against the org's Contacts before creating any.
    pub enabled: bool,
    /// Region for reading national phone numbers when the record's own country is unknown
    /// (ISO 3166-1 alpha-2).
    pub default_region: String,
    pub plus_tags: PlusTags,
    pub ambiguous: AmbiguousRule,
    /// The probabilistic tier (off by default).
    pub probabilistic: bool,
    /// Its threshold, 0.5–1.
    pub probabilistic_threshold: f64,
}

impl Default for IdentityConfig {
    fn default() -> IdentityConfig {
        IdentityConfig {
            enabled: true,
            default_region: "US".to_string(),
            plus_tags: PlusTags::Keep,
            ambiguous: AmbiguousRule::Hold,
            probabilistic: false,
            probabilistic_threshold: 0.9,
        }
    }
}

impl IdentityConfig {
    /// Checks the section; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if Region::parse(&self.default_region).is_none() {
            return Err(format!(
                "identity.default_region: {:?} is not a region code such as US or GB",
                self.default_region
            ));
        }
        if !(0.5..=1.0).contains(&self.probabilistic_threshold) {
            return Err(format!(
                "identity.probabilistic_threshold: {} must be between 0.5 and 1",
                self.probabilistic_threshold
            ));
        }
        Ok(())
    }

    pub fn region(&self) -> Option<Region> {
        Region::parse(&self.default_region)
    }

    pub fn options(&self) -> ResolveOptions {
        ResolveOptions {
            probabilistic: self.probabilistic.then_some(self.probabilistic_threshold),
        }
    }
}
