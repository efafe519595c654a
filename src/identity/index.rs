//! The local index of the org's Contacts that identity resolution matches against, and the
//! matching itself. Built from one Bulk API query (then refreshed by `SystemModstamp`), so a
//! million customers are resolved without a million searches.
//!
//! The maps are keyed by a 64-bit hash of the normalised value and hold slots; every hit is
//! checked against the Contact's own value, so a hash collision never produces a match.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use super::normalize;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// An exact-match tier: the value to look up, its map, and the field it is checked against.
type ExactTier<'a> = (
    Tier,
    Option<&'a str>,
    &'a FastMap<u64, Slots>,
    fn(&CrmContact) -> Option<&str>,
);

fn key_hash(value: &str) -> u64 {
    let mut hasher = foldhash::fast::FixedState::with_seed(0x5f0c_e1de).build_hasher();
    value.hash(&mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// A Contact of the org, as the index holds it (values already normalised).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrmContact {
    pub id: Box<str>,
    pub account_id: Option<Box<str>>,
    /// `Shopify_Customer_ID__c`: the customer the Contact is keyed on, if any.
    pub shopify_customer_id: Option<Box<str>>,
    /// `Shopify_Store__c`: the shop that customer belongs to.
    pub shopify_store: Option<Box<str>>,
    /// Normalised email ([`normalize::email`]).
    pub email: Option<Box<str>>,
    /// E.164 phone ([`normalize::phone`]).
    pub phone: Option<Box<str>>,
    /// Folded names and postal code ([`normalize::name`], [`normalize::postal_code`]).
    pub first_name: Box<str>,
    pub last_name: Box<str>,
    pub postal_code: Box<str>,
    /// `CreatedDate`, seconds since the epoch (the "link to the oldest" rule).
    pub created: i64,
    /// Email consent as the Contact shows it, as a Shopify state (`UNSUBSCRIBED` for an
    /// opt-out); `None` when it shows none.
    pub consent_state: Option<Box<str>>,
    /// When the CRM itself last changed that consent (epoch milliseconds), if known.
    pub crm_consent_at: Option<i64>,
}

/// Slots sharing one key: nearly always one.
#[derive(Debug, Clone)]
enum Slots {
    One(u32),
    Many(Vec<u32>),
}

impl Slots {
    fn as_slice(&self) -> &[u32] {
        match self {
            Slots::One(s) => std::slice::from_ref(s),
            Slots::Many(v) => v,
        }
    }

    fn push(&mut self, slot: u32) {
        match self {
            Slots::One(s) if *s == slot => {}
            Slots::One(s) => *self = Slots::Many(vec![*s, slot]),
            Slots::Many(v) if !v.contains(&slot) => v.push(slot),
            Slots::Many(_) => {}
        }
    }

    /// Removes `slot`; returns whether none are left.
    fn remove(&mut self, slot: u32) -> bool {
        match self {
            Slots::One(s) => *s == slot,
            Slots::Many(v) => {
                v.retain(|s| *s != slot);
                let empty = v.is_empty();
                if let [only] = v[..] {
                    *self = Slots::One(only);
                }
                empty
            }
        }
    }
}

/// Which rule found a customer's Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The state store's mapping from an earlier run.
    Mapping,
    /// The Contact's own `Shopify_Customer_ID__c`.
    ExternalId,
    Email,
    Phone,
    /// Name, postal code and phone similarity above the configured threshold.
    Probabilistic,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Mapping => "mapping",
            Tier::ExternalId => "external_id",
            Tier::Email => "email",
            Tier::Phone => "phone",
            Tier::Probabilistic => "probabilistic",
        }
    }
}

/// Who is being resolved: a Shopify customer, or a guest checkout (no key).
#[derive(Debug, Clone, Default)]
pub struct Identity<'a> {
    /// The shop the record comes from.
    pub shop: &'a str,
    /// The Shopify customer id (legacy digits); `None` for a guest checkout.
    pub customer_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    /// Folded, as in [`CrmContact`].
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub postal_code: &'a str,
}

/// What resolution found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Exactly one Contact.
    Match { slot: u32, tier: Tier },
    /// Several Contacts at the first tier that found any: never guessed.
    Ambiguous { tier: Tier, candidates: Vec<u32> },
    /// No Contact: one is created.
    New,
}

/// How resolution behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolveOptions {
    /// The probabilistic tier's threshold (0–1), or `None` when the tier is off.
    pub probabilistic: Option<f64>,
}

/// The org's Contacts, indexed for matching.
#[derive(Debug, Default)]
pub struct ContactIndex {
    contacts: Vec<Option<CrmContact>>,
    by_id: FastMap<u64, Slots>,
    by_key: FastMap<u64, Slots>,
    by_email: FastMap<u64, Slots>,
    by_phone: FastMap<u64, Slots>,
    by_last_name: FastMap<u64, Slots>,
    live: usize,
}

fn add(map: &mut FastMap<u64, Slots>, value: &str, slot: u32) {
    map.entry(key_hash(value))
        .and_modify(|s| s.push(slot))
        .or_insert(Slots::One(slot));
}

fn take(map: &mut FastMap<u64, Slots>, value: &str, slot: u32) {
    let h = key_hash(value);
    if map.get_mut(&h).is_some_and(|s| s.remove(slot)) {
        map.remove(&h);
    }
}

impl ContactIndex {
    pub fn with_capacity(n: usize) -> ContactIndex {
        let map = || FastMap::with_capacity_and_hasher(n, Default::default());
        ContactIndex {
            contacts: Vec::with_capacity(n),
            by_id: map(),
            by_key: map(),
            by_email: map(),
            by_phone: map(),
            by_last_name: FastMap::default(),
            live: 0,
        }
    }

    /// Contacts indexed.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn get(&self, slot: u32) -> Option<&CrmContact> {
        self.contacts.get(slot as usize).and_then(Option::as_ref)
    }

    fn slots<'a>(
        &'a self,
        map: &'a FastMap<u64, Slots>,
        value: &'a str,
        field: impl Fn(&CrmContact) -> Option<&str> + 'a,
    ) -> impl Iterator<Item = u32> + 'a {
        map.get(&key_hash(value))
            .map(Slots::as_slice)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(move |s| self.get(*s).and_then(&field) == Some(value))
    }

    /// The slot of the Contact with this Salesforce Id.
    pub fn by_id(&self, id: &str) -> Option<u32> {
        self.slots(&self.by_id, id, |c| Some(&c.id)).next()
    }

    /// The slot of the Contact keyed on this Shopify customer id.
    pub fn by_key(&self, key: &str) -> Option<u32> {
        self.slots(&self.by_key, key, |c| c.shopify_customer_id.as_deref())
            .next()
    }

    /// Adds a Contact, or replaces the one with the same Id (an incremental refresh).
    pub fn upsert(&mut self, contact: CrmContact) {
        if let Some(slot) = self.by_id(&contact.id) {
            self.unindex(slot);
            self.index(slot, contact);
        } else {
            let slot = self.contacts.len() as u32;
            self.contacts.push(None);
            self.index(slot, contact);
        }
    }

    /// Forgets a Contact (deleted or merged away in Salesforce).
    pub fn remove(&mut self, id: &str) -> bool {
        match self.by_id(id) {
            Some(slot) => {
                self.unindex(slot);
                true
            }
            None => false,
        }
    }

    fn index(&mut self, slot: u32, c: CrmContact) {
        add(&mut self.by_id, &c.id, slot);
        if let Some(k) = &c.shopify_customer_id {
            add(&mut self.by_key, k, slot);
        }
        if let Some(e) = &c.email {
            add(&mut self.by_email, e, slot);
        }
        if let Some(p) = &c.phone {
            add(&mut self.by_phone, p, slot);
        }
        if !c.last_name.is_empty() {
            add(&mut self.by_last_name, &c.last_name, slot);
        }
        self.contacts[slot as usize] = Some(c);
        self.live += 1;
    }

    fn unindex(&mut self, slot: u32) {
        let Some(c) = self.contacts[slot as usize].take() else {
            return;
        };
        take(&mut self.by_id, &c.id, slot);
        if let Some(k) = &c.shopify_customer_id {
            take(&mut self.by_key, k, slot);
        }
        if let Some(e) = &c.email {
            take(&mut self.by_email, e, slot);
        }
        if let Some(p) = &c.phone {
            take(&mut self.by_phone, p, slot);
        }
        if !c.last_name.is_empty() {
            take(&mut self.by_last_name, &c.last_name, slot);
        }
        self.live -= 1;
    }

    /// Finds the Contact of `who`: its own key, then email, then phone, then (if on) the
    /// probabilistic tier. A Contact keyed on another customer of the same shop is never a
    /// candidate: Shopify keeps emails and phones unique per shop, so it is someone else
    /// (or an address that moved between customers).
    pub fn resolve(&self, who: &Identity<'_>, options: ResolveOptions) -> Resolution {
        if let Some(key) = who.customer_id
            && let Some(slot) = self
                .slots(&self.by_key, key, |c| c.shopify_customer_id.as_deref())
                .next()
        {
            return Resolution::Match {
                slot,
                tier: Tier::ExternalId,
            };
        }
        let eligible = |slot: &u32| {
            self.get(*slot).is_some_and(|c| {
                !(c.shopify_customer_id.is_some()
                    && c.shopify_store.as_deref() == Some(who.shop)
                    && who.customer_id.is_some())
            })
        };
        let tiers: [ExactTier<'_>; 2] = [
            (Tier::Email, who.email, &self.by_email, |c| {
                c.email.as_deref()
            }),
            (Tier::Phone, who.phone, &self.by_phone, |c| {
                c.phone.as_deref()
            }),
        ];
        for (tier, value, map, field) in tiers {
            let Some(value) = value else { continue };
            let found: Vec<u32> = self.slots(map, value, field).filter(eligible).collect();
            match found.len() {
                0 => {}
                1 => {
                    return Resolution::Match {
                        slot: found[0],
                        tier,
                    };
                }
                _ => {
                    return Resolution::Ambiguous {
                        tier,
                        candidates: found,
                    };
                }
            }
        }
        if let Some(threshold) = options.probabilistic
            && !who.last_name.is_empty()
        {
            let mut scored: Vec<(u32, f64)> = self
                .slots(&self.by_last_name, who.last_name, |c| Some(&c.last_name))
                .filter(eligible)
                .filter_map(|slot| {
                    let score = similarity(who, self.get(slot)?);
                    // Scores are sums of decimal weights: compare with a rounding margin so
                    // that 0.4 + 0.3 + 0.2 reaches a threshold of 0.9.
                    (score >= threshold - 1e-9).then_some((slot, score))
                })
                .collect();
            match scored.len() {
                0 => {}
                1 => {
                    return Resolution::Match {
                        slot: scored[0].0,
                        tier: Tier::Probabilistic,
                    };
                }
                _ => {
                    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                    return Resolution::Ambiguous {
                        tier: Tier::Probabilistic,
                        candidates: scored.into_iter().map(|(s, _)| s).collect(),
                    };
                }
            }
        }
        Resolution::New
    }

    /// The oldest of `candidates` (by `CreatedDate`, then Id): the "link to the oldest"
    /// rule for ambiguous matches.
    pub fn oldest(&self, candidates: &[u32]) -> Option<u32> {
        candidates
            .iter()
            .copied()
            .filter_map(|s| self.get(s).map(|c| (c.created, c.id.clone(), s)))
            .min()
            .map(|(_, _, s)| s)
    }
}

/// How alike a person and a Contact with the same folded last name are (0–1): last name
/// 0.35 (equal by construction of the candidates), first name 0.25 × Jaro-Winkler, postal
/// code 0.15, the last seven digits of the phone 0.25. Names and a postal code alone reach
/// 0.75: people share those (the truth benchmark merged hundreds of namesakes at 0.9 when
/// they counted more); above 0.9 a phone tail must agree as well, which is what a mistyped
/// area code or a number written in a form the exact tier cannot read leaves. Only the
/// probabilistic tier uses it, and only above a threshold the admin chose.
pub fn similarity(who: &Identity<'_>, c: &CrmContact) -> f64 {
    let mut score = 0.35;
    if !who.first_name.is_empty() && !c.first_name.is_empty() {
        score += 0.25 * strsim::jaro_winkler(who.first_name, &c.first_name);
    }
    if !who.postal_code.is_empty() && who.postal_code == &*c.postal_code {
        score += 0.15;
    }
    let tail = |p: &str| p.chars().rev().take(7).collect::<String>();
    if let (Some(a), Some(b)) = (who.phone, c.phone.as_deref())
        && a.len() >= 7
        && tail(a) == tail(b)
    {
        score += 0.25;
    }
    score
}

/// A Contact row as a Bulk query returns it → the indexed form (`None` without an Id).
#[allow(clippy::too_many_arguments)]
pub fn crm_contact(
    id: &str,
    account_id: &str,
    shopify_customer_id: &str,
    shopify_store: &str,
    email: &str,
    phones: &[(&str, Option<normalize::Region>)],
    default_region: Option<normalize::Region>,
    first_name: &str,
    last_name: &str,
    postal_code: &str,
    created: i64,
    plus_tags: normalize::PlusTags,
) -> Option<CrmContact> {
    let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().into());
    if id.trim().is_empty() {
        return None;
    }
    Some(CrmContact {
        id: id.trim().into(),
        account_id: text(account_id),
        shopify_customer_id: text(shopify_customer_id),
        shopify_store: text(shopify_store),
        email: normalize::email(email, plus_tags).map(Into::into),
        phone: phones
            .iter()
            .find_map(|(p, region)| normalize::phone(p, *region, default_region))
            .map(Into::into),
        first_name: normalize::name(first_name).into(),
        last_name: normalize::name(last_name).into(),
        postal_code: normalize::postal_code(postal_code).into(),
        created,
        consent_state: None,
        crm_consent_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(
        id: &str,
        key: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> CrmContact {
        CrmContact {
            id: id.into(),
            account_id: Some("001000000000001AAA".into()),
            shopify_customer_id: key.map(Into::into),
            shopify_store: key.map(|_| "a.myshopify.com".into()),
            email: email.map(Into::into),
            phone: phone.map(Into::into),
            first_name: "ana".into(),
            last_name: "silva".into(),
            postal_code: "78701".into(),
            created: id.len() as i64,
            ..CrmContact::default()
        }
    }

    fn who<'a>(
        shop: &'a str,
        key: Option<&'a str>,
        email: Option<&'a str>,
        phone: Option<&'a str>,
    ) -> Identity<'a> {
        Identity {
            shop,
            customer_id: key,
            email,
            phone,
            first_name: "ana",
            last_name: "silva",
            postal_code: "78701",
        }
    }

    const OFF: ResolveOptions = ResolveOptions {
        probabilistic: None,
    };

    #[test]
    fn tiers_apply_in_order() {
        let mut index = ContactIndex::default();
        index.upsert(contact("003A", Some("1"), Some("a@example.com"), None));
        index.upsert(contact(
            "003B",
            None,
            Some("b@example.com"),
            Some("+15125550123"),
        ));
        let slot = |id| index.by_id(id).unwrap();
        assert_eq!(
            index.resolve(
                &who("a.myshopify.com", Some("1"), Some("b@example.com"), None),
                OFF
            ),
            Resolution::Match {
                slot: slot("003A"),
                tier: Tier::ExternalId
            }
        );
        assert_eq!(
            index.resolve(
                &who("b.myshopify.com", Some("9"), Some("b@example.com"), None),
                OFF
            ),
            Resolution::Match {
                slot: slot("003B"),
                tier: Tier::Email
            }
        );
        assert_eq!(
            index.resolve(
                &who(
                    "b.myshopify.com",
                    Some("9"),
                    Some("x@example.com"),
                    Some("+15125550123")
                ),
                OFF
            ),
            Resolution::Match {
                slot: slot("003B"),
                tier: Tier::Phone
            }
        );
        assert_eq!(
            index.resolve(
                &who("b.myshopify.com", Some("9"), Some("x@example.com"), None),
                OFF
            ),
            Resolution::New
        );
    }

    #[test]
    fn several_matches_are_ambiguous_never_guessed() {
        let mut index = ContactIndex::default();
        index.upsert(contact("003A", None, Some("a@example.com"), None));
        index.upsert(contact("003BB", None, Some("a@example.com"), None));
        let r = index.resolve(
            &who("s.myshopify.com", Some("9"), Some("a@example.com"), None),
            OFF,
        );
        let Resolution::Ambiguous { tier, candidates } = r else {
            panic!("{r:?}")
        };
        assert_eq!(tier, Tier::Email);
        assert_eq!(candidates.len(), 2);
        assert_eq!(index.oldest(&candidates), index.by_id("003A"));
    }

    #[test]
    fn another_customer_of_the_same_shop_is_never_a_candidate() {
        let mut index = ContactIndex::default();
        index.upsert(contact("003A", Some("1"), Some("a@example.com"), None));
        // Customer 2 of the same shop now has the address customer 1's Contact holds.
        assert_eq!(
            index.resolve(
                &who("a.myshopify.com", Some("2"), Some("a@example.com"), None),
                OFF
            ),
            Resolution::New
        );
        // The same address in another shop is the same person.
        assert!(matches!(
            index.resolve(
                &who("b.myshopify.com", Some("7"), Some("a@example.com"), None),
                OFF
            ),
            Resolution::Match {
                tier: Tier::Email,
                ..
            }
        ));
        // A guest checkout of the same shop is resolved to it.
        assert!(matches!(
            index.resolve(
                &who("a.myshopify.com", None, Some("a@example.com"), None),
                OFF
            ),
            Resolution::Match {
                tier: Tier::Email,
                ..
            }
        ));
    }

    #[test]
    fn refreshes_replace_and_remove() {
        let mut index = ContactIndex::default();
        index.upsert(contact("003A", None, Some("a@example.com"), None));
        index.upsert(contact("003A", None, Some("new@example.com"), None));
        assert_eq!(index.len(), 1);
        assert_eq!(
            index.resolve(&who("s", None, Some("a@example.com"), None), OFF),
            Resolution::New
        );
        assert!(matches!(
            index.resolve(&who("s", None, Some("new@example.com"), None), OFF),
            Resolution::Match { .. }
        ));
        assert!(index.remove("003A"));
        assert!(index.is_empty());
        assert_eq!(
            index.resolve(&who("s", None, Some("new@example.com"), None), OFF),
            Resolution::New
        );
    }

    #[test]
    fn the_probabilistic_tier_is_off_unless_asked_and_respects_its_threshold() {
        let mut index = ContactIndex::default();
        index.upsert(contact("003A", None, None, Some("+15125550123")));
        let person = who("s", Some("5"), None, Some("+4915125550123"));
        assert_eq!(index.resolve(&person, OFF), Resolution::New);
        let on = |t| ResolveOptions {
            probabilistic: Some(t),
        };
        // Same names and postal code, phone tails equal: 1.0.
        assert!(matches!(
            index.resolve(&person, on(0.95)),
            Resolution::Match {
                tier: Tier::Probabilistic,
                ..
            }
        ));
        // Names and postal code alone are not a person: 0.75.
        let no_phone = Identity {
            phone: None,
            ..person.clone()
        };
        assert_eq!(index.resolve(&no_phone, on(0.9)), Resolution::New);
        assert!(matches!(
            index.resolve(&no_phone, on(0.75)),
            Resolution::Match { .. }
        ));
        let stranger = Identity {
            first_name: "zoltan",
            postal_code: "10115",
            phone: None,
            ..person.clone()
        };
        assert_eq!(index.resolve(&stranger, on(0.9)), Resolution::New);
    }
}
