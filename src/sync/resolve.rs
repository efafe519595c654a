//! Identity resolution during a sync: every B2C customer the export holds is matched to the
//! org's Contacts before any row is built for them, in batches (one state-store lookup per
//! batch for the mappings of earlier runs), and guest checkouts are matched once both sides
//! of the export have been read.
//!
//! Outcomes:
//! - the customer's own Contact (a mapping or its `Shopify_Customer_ID__c`): rows as usual;
//! - a Contact found by email, phone or the probabilistic tier: a link; the Contact is
//!   written by Id ([`Target::ContactLink`]) and keeps its Account, the customer's orders
//!   bill to it;
//! - several Contacts: a review, then the configured rule (hold the customer, or link to
//!   the oldest candidate);
//! - none: a new Contact.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::consent::{self, EmailState, Event, ToCrm};
use crate::identity::{
    AmbiguousRule, ContactIndex, Identity, IdentityConfig, Resolution, Tier, normalize,
};
use crate::mapping::build::MappingContext;
use crate::mapping::target::{Target, column};
use crate::shopify::model::{Customer, legacy_id};
use crate::store::{
    ConsentMark, ConsentUpdate, IdentityLink, Mapping, NewReview, StateStore, Store,
};

use super::identity::epoch_ms;

use super::SyncError;
use super::prepare::RowEdits;

/// What became of one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Rows keyed on the customer, as without identity resolution.
    Own,
    /// Linked to an existing Contact: written by Id.
    Linked(IdentityLink),
    /// Ambiguous and held until a person resolves the review.
    Held { reason: String },
}

/// The resolver's state for one run of one shop.
pub struct Resolver {
    index: Arc<ContactIndex>,
    config: IdentityConfig,
    shop: String,
    links: HashMap<String, IdentityLink>,
    /// Outcome counts: `mapping`, `external_id`, `email`, `phone`, `probabilistic`,
    /// `ambiguous`, `held`, `created`, and for guest checkouts `guest_*`.
    pub outcomes: BTreeMap<String, u64>,
    /// This run's B2C customers by normalised email and phone (for guest checkouts), with
    /// the Contact key their orders bill to.
    by_email: HashMap<String, String>,
    by_phone: HashMap<String, String>,
    /// Customers whose orders bill to another customer's Contact key (linked to a Contact
    /// that carries another shop's customer id).
    pub bill_to: HashMap<String, String>,
    /// Customers held for review: their orders are held too.
    pub held: HashSet<String>,
}

fn count(outcomes: &mut BTreeMap<String, u64>, what: &str) {
    *outcomes.entry(what.to_string()).or_default() += 1;
}

impl Resolver {
    pub async fn new(
        store: &Store,
        index: Arc<ContactIndex>,
        config: &IdentityConfig,
        shop: &str,
    ) -> Result<Resolver, SyncError> {
        Ok(Resolver {
            index,
            config: config.clone(),
            shop: shop.to_string(),
            links: store.identity_links(shop).await?,
            outcomes: BTreeMap::new(),
            by_email: HashMap::new(),
            by_phone: HashMap::new(),
            bill_to: HashMap::new(),
            held: HashSet::new(),
        })
    }

    /// Decides a batch of B2C customers; with each decision, whether the customer's Contact
    /// keeps its consent (the CRM holds a later opt-out, or Shopify's state is the echo of
    /// a push) instead of taking Shopify's.
    /// `b2b[i]`: the customer is a B2B company contact (not a buyer guest checkouts can
    /// be attributed to).
    pub async fn decide(
        &mut self,
        store: &Store,
        batch: &[Customer],
        b2b: &[bool],
    ) -> Result<Vec<(Decision, bool)>, SyncError> {
        let keys: Vec<&str> = batch.iter().map(|c| legacy_id(&c.id)).collect();
        let logs = store.consent_logs(&self.shop, &keys).await?;
        let mut consent_updates = Vec::new();
        let unlinked: Vec<&str> = batch
            .iter()
            .map(|c| legacy_id(&c.id))
            .filter(|k| !self.links.contains_key(*k))
            .collect();
        let mapped = store
            .get_written_records(&self.shop, "customer", &unlinked)
            .await?;
        let region = self.config.region();
        let mut decisions = Vec::with_capacity(batch.len());
        let mut new_links = Vec::new();
        let mut new_mappings = Vec::new();
        let mut reviews = Vec::new();
        for (n, customer) in batch.iter().enumerate() {
            let b2b = b2b.get(n).copied().unwrap_or(false);
            let key = legacy_id(&customer.id).to_string();
            let email = customer
                .email()
                .and_then(|e| normalize::email(e, self.config.plus_tags));
            let country = customer
                .default_address
                .as_ref()
                .and_then(|a| a.country_code())
                .and_then(normalize::Region::parse);
            let phone = customer
                .phone()
                .and_then(|p| normalize::phone(p, country, region));
            let folded = (
                normalize::name(customer.first_name.as_deref().unwrap_or("")),
                normalize::name(customer.last_name.as_deref().unwrap_or("")),
                normalize::postal_code(
                    customer
                        .default_address
                        .as_ref()
                        .and_then(|a| a.zip.as_deref())
                        .unwrap_or(""),
                ),
            );
            let decision = if let Some(link) = self.links.get(&key) {
                count(&mut self.outcomes, Tier::Mapping.as_str());
                Decision::Linked(link.clone())
            } else if mapped.contains_key(&key) {
                count(&mut self.outcomes, Tier::Mapping.as_str());
                Decision::Own
            } else {
                let who = Identity {
                    shop: &self.shop,
                    customer_id: Some(&key),
                    email: email.as_deref(),
                    phone: phone.as_deref(),
                    first_name: &folded.0,
                    last_name: &folded.1,
                    postal_code: &folded.2,
                };
                let resolution = self.index.resolve(&who, self.config.options());
                // A person already decided an earlier review of this customer.
                let reviewed = match &resolution {
                    Resolution::Ambiguous { .. } => {
                        store.review_decision(&self.shop, "customer", &key).await?
                    }
                    Resolution::Match { tier, .. } if *tier != Tier::ExternalId => {
                        store.review_decision(&self.shop, "customer", &key).await?
                    }
                    Resolution::Match { .. } | Resolution::New => None,
                };
                match (resolution, reviewed) {
                    (_, Some(decision)) if decision == CREATE_NEW => {
                        count(&mut self.outcomes, "reviewed");
                        count(&mut self.outcomes, "created");
                        Decision::Own
                    }
                    (_, Some(contact_id)) => {
                        match self
                            .index
                            .by_id(&contact_id)
                            .and_then(|slot| self.link(&key, slot, "review"))
                        {
                            Some(link) => {
                                count(&mut self.outcomes, "reviewed");
                                new_links.push(link.clone());
                                Decision::Linked(link)
                            }
                            None => {
                                count(&mut self.outcomes, "held");
                                Decision::Held {
                                    reason: format!(
                                        "the review chose Contact {contact_id}, which is not in the org (or has no Account)"
                                    ),
                                }
                            }
                        }
                    }
                    (Resolution::New, None) => {
                        count(&mut self.outcomes, "created");
                        Decision::Own
                    }
                    (
                        Resolution::Match {
                            slot,
                            tier: Tier::ExternalId,
                        },
                        None,
                    ) => {
                        count(&mut self.outcomes, Tier::ExternalId.as_str());
                        if let Some(c) = self.index.get(slot) {
                            // Known to exist: on-create fields are not written.
                            new_mappings.push(Mapping {
                                shop: self.shop.clone(),
                                kind: "customer".to_string(),
                                shopify_id: key.clone(),
                                sf_object: "Contact".to_string(),
                                sf_id: c.id.to_string(),
                                payload_hash: None,
                            });
                        }
                        Decision::Own
                    }
                    (Resolution::Match { slot, tier }, None) => {
                        match self.link(&key, slot, tier.as_str()) {
                            Some(link) => {
                                count(&mut self.outcomes, tier.as_str());
                                new_links.push(link.clone());
                                Decision::Linked(link)
                            }
                            None => {
                                let reason = format!(
                                    "{} matches Contact {} which has no Account",
                                    tier.as_str(),
                                    self.index.get(slot).map_or("?", |c| &c.id)
                                );
                                count(&mut self.outcomes, "ambiguous");
                                reviews.push(self.review(&key, &reason, &[slot]));
                                count(&mut self.outcomes, "held");
                                Decision::Held { reason }
                            }
                        }
                    }
                    (Resolution::Ambiguous { tier, candidates }, None) => {
                        count(&mut self.outcomes, "ambiguous");
                        let reason =
                            format!("{} matches {} Contacts", tier.as_str(), candidates.len());
                        reviews.push(self.review(&key, &reason, &candidates));
                        let oldest = match self.config.ambiguous {
                            AmbiguousRule::Oldest => self
                                .index
                                .oldest(&candidates)
                                .and_then(|slot| self.link(&key, slot, "oldest")),
                            AmbiguousRule::Hold => None,
                        };
                        match oldest {
                            Some(link) => {
                                count(&mut self.outcomes, "oldest");
                                new_links.push(link.clone());
                                Decision::Linked(link)
                            }
                            None => {
                                count(&mut self.outcomes, "held");
                                Decision::Held { reason }
                            }
                        }
                    }
                }
            };
            // Where this customer's orders bill to, for guest checkouts with their details.
            let bill_key = match &decision {
                Decision::Held { .. } => {
                    self.held.insert(key.clone());
                    None
                }
                Decision::Linked(link) if !link.primary => {
                    let other = self
                        .index
                        .by_id(&link.contact_id)
                        .and_then(|s| self.index.get(s))
                        .and_then(|c| c.shopify_customer_id.as_deref())
                        .map(str::to_string);
                    if let Some(other) = &other {
                        self.bill_to.insert(key.clone(), other.clone());
                    }
                    other.map(|_| key.clone())
                }
                _ => Some(key.clone()),
            };
            if let Some(bill) = bill_key.filter(|_| !b2b) {
                if let Some(e) = email {
                    self.by_email.insert(e, bill.clone());
                }
                if let Some(p) = phone {
                    self.by_phone.insert(p, bill);
                }
            }
            // Email consent: Shopify's event against the CRM's own latest one.
            let shopify_mark = shopify_consent(customer);
            let log = logs.get(&key);
            if log.and_then(|l| l.shopify.as_ref()) != shopify_mark.as_ref() {
                consent_updates.push((key.clone(), ConsentUpdate::Shopify(shopify_mark.clone())));
            }
            let contact = match &decision {
                Decision::Linked(link) => self.index.by_id(&link.contact_id),
                _ => self.index.by_key(&key),
            }
            .and_then(|slot| self.index.get(slot));
            let event = |m: &ConsentMark| {
                EmailState::parse(&m.state).map(|state| Event {
                    state,
                    at: m.at.and_then(chrono::DateTime::from_timestamp_millis),
                })
            };
            let crm = contact.and_then(|c| {
                let at = c.crm_consent_at?;
                Some(Event {
                    state: EmailState::parse(c.consent_state.as_deref()?)?,
                    at: chrono::DateTime::from_timestamp_millis(at),
                })
            });
            let to_crm = consent::shopify_to_crm(
                shopify_mark.as_ref().and_then(event).as_ref(),
                crm.as_ref(),
                log.and_then(|l| l.pushed.as_ref()).and_then(event).as_ref(),
            );
            let keep_consent = match to_crm {
                ToCrm::Write => false,
                ToCrm::KeepCrm => {
                    if shopify_mark.is_some() {
                        count(&mut self.outcomes, "consent_kept_crm");
                    }
                    true
                }
                // The echo of a push: written once so the Contact's consent fields agree
                // with each other; never pushed back.
                ToCrm::Echo => {
                    count(&mut self.outcomes, "consent_echo");
                    false
                }
            };
            // A Contact's consent follows the customer whose key it carries: another
            // storefront's consent for the same person stays in that storefront (Shopify keeps
            // consent per store), so a secondary link never writes it.
            let keep_consent =
                keep_consent || matches!(&decision, Decision::Linked(link) if !link.primary);
            decisions.push((decision, keep_consent));
        }
        store
            .update_consent_log(&self.shop, &consent_updates)
            .await?;
        store.put_identity_links(&new_links).await?;
        for link in new_links {
            self.links.insert(link.customer_id.clone(), link);
        }
        store.put_mappings(&new_mappings).await?;
        for review in &reviews {
            store.add_review(review).await?;
        }
        Ok(decisions)
    }

    /// A link to the Contact in `slot`, if it has an Account (orders need one).
    fn link(&self, key: &str, slot: u32, tier: &str) -> Option<IdentityLink> {
        let c = self.index.get(slot)?;
        Some(IdentityLink {
            shop: self.shop.clone(),
            customer_id: key.to_string(),
            contact_id: c.id.to_string(),
            account_id: c.account_id.as_deref()?.to_string(),
            tier: tier.to_string(),
            primary: c.shopify_customer_id.is_none(),
        })
    }

    fn review(&self, key: &str, reason: &str, candidates: &[u32]) -> NewReview {
        NewReview {
            shop: self.shop.clone(),
            shopify_kind: "customer".to_string(),
            shopify_id: key.to_string(),
            sf_object: "Contact".to_string(),
            reason: reason.to_string(),
            candidates: candidates
                .iter()
                .filter_map(|s| self.index.get(*s).map(|c| c.id.to_string()))
                .collect(),
        }
    }

    /// Guest checkouts (order id, email, phone) → the customer whose Contact their order
    /// bills to: a B2C customer of this run with the same email or phone, else a Contact of
    /// the org the engine keyed on a B2C customer (whose Account the order can go under).
    /// Returns the cell edits for the order rows; guests that match nobody stay on the
    /// shop's guest Contact. `b2b` are this shop's company contacts (their orders belong to
    /// their company, so a guest checkout is not attributed to them).
    pub async fn guests(
        &mut self,
        store: &Store,
        ctx: &MappingContext,
        guests: &[GuestOrder],
        b2b: &HashMap<String, String>,
    ) -> Result<RowEdits, SyncError> {
        let mut edits = RowEdits::default();
        let region = self.config.region();
        let account_col = 1;
        let contact_col = column(
            Target::CustomerOrder,
            "BillToContact.Shopify_Customer_ID__c",
        );
        for g in guests {
            let email = g
                .email
                .as_deref()
                .and_then(|e| normalize::email(e, self.config.plus_tags));
            let phone = g
                .phone
                .as_deref()
                .and_then(|p| normalize::phone(p, None, region));
            if email.is_none() && phone.is_none() {
                count(&mut self.outcomes, "guest_anonymous");
                continue;
            }
            let from_run = email
                .as_ref()
                .and_then(|e| self.by_email.get(e).map(|k| (k.clone(), "guest_email")))
                .or_else(|| {
                    phone
                        .as_ref()
                        .and_then(|p| self.by_phone.get(p).map(|k| (k.clone(), "guest_phone")))
                });
            let found = match from_run {
                Some(found) => Some(found),
                None => {
                    self.guest_in_org(store, ctx, email.as_deref(), phone.as_deref(), b2b)
                        .await?
                }
            };
            let Some((customer, how)) = found else {
                count(&mut self.outcomes, "guest_unmatched");
                continue;
            };
            count(&mut self.outcomes, how);
            let contact = self
                .bill_to
                .get(&customer)
                .cloned()
                .unwrap_or(customer.clone());
            edits.by_key.insert(
                g.order_id.clone(),
                vec![
                    (account_col, ctx.customer_account_key(&customer)),
                    (contact_col, contact),
                ],
            );
        }
        Ok(edits)
    }

    /// A guest checkout matched against the org: a Contact keyed on a B2C customer whose
    /// Account the engine wrote (per-customer model; with one bucket Account, a customer of
    /// this shop that is not a company contact).
    async fn guest_in_org(
        &mut self,
        store: &Store,
        ctx: &MappingContext,
        email: Option<&str>,
        phone: Option<&str>,
        b2b: &HashMap<String, String>,
    ) -> Result<Option<(String, &'static str)>, SyncError> {
        let who = Identity {
            shop: &self.shop,
            customer_id: None,
            email,
            phone,
            ..Identity::default()
        };
        let (slot, tier) = match self.index.resolve(&who, self.config.options()) {
            Resolution::Match { slot, tier } => (slot, tier),
            Resolution::Ambiguous { .. } => {
                count(&mut self.outcomes, "guest_ambiguous");
                return Ok(None);
            }
            Resolution::New => return Ok(None),
        };
        let Some(contact) = self.index.get(slot) else {
            return Ok(None);
        };
        let (Some(key), Some(shop)) = (
            contact.shopify_customer_id.as_deref(),
            contact.shopify_store.as_deref(),
        ) else {
            return Ok(None);
        };
        let usable = match ctx.account_model {
            crate::mapping::build::AccountModel::PerCustomer => !store
                .get_written_records(shop, "customer_account", &[key])
                .await?
                .is_empty(),
            _ => shop == self.shop && !b2b.contains_key(key),
        };
        let how = if tier == Tier::Email {
            "guest_email"
        } else {
            "guest_phone"
        };
        Ok(usable.then(|| (key.to_string(), how)))
    }
}

/// A customer's email consent as Shopify holds it.
pub fn shopify_consent(customer: &Customer) -> Option<ConsentMark> {
    let consent = customer.email_consent();
    consent
        .state
        .as_deref()
        .and_then(EmailState::parse)
        .map(|state| ConsentMark {
            state: state.as_shopify().to_string(),
            at: consent.updated_at.as_deref().and_then(epoch_ms),
        })
}

/// The review decision that gives the customer a Contact of their own.
pub const CREATE_NEW: &str = "create_new";

/// A guest checkout as the orders reader saw it.
#[derive(Debug, Clone)]
pub struct GuestOrder {
    /// The legacy order id (the row key).
    pub order_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}
