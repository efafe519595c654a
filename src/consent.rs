//! Email marketing consent in both directions, decided by one rule: **the more recent
//! consent event wins, whichever side it came from, and nothing ever becomes subscribed by
//! mistake.** Pure: values in, decisions out.
//!
//! - Shopify → Salesforce: a customer's consent is written to the Contact unless the CRM
//!   holds a later opt-out of its own (a sales rep's), or Shopify's event is the echo of a
//!   change shopforce itself pushed. A subscription made in the CRM is pushed to Shopify
//!   and shows on the Contact once Shopify holds it: the Contact is never subscribed while
//!   Shopify's latest state is anything else.
//! - Salesforce → Shopify: a consent change made in the CRM (opt-out through
//!   `HasOptedOutOfEmail`, or `Email_Consent_Status__c`) is pushed with
//!   `customerEmailMarketingConsentUpdate`, which accepts only SUBSCRIBED, UNSUBSCRIBED and
//!   PENDING, with the CRM event's own timestamp so its echo is recognised.
//! - When the order of two events cannot be told (one has no timestamp, or both have the
//!   same), the one that says "do not email" wins.

use chrono::{DateTime, Utc};

/// Shopify's email marketing states (the deprecated enum has all six; the current field
/// has no REDACTED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailState {
    Subscribed,
    NotSubscribed,
    Pending,
    Unsubscribed,
    Redacted,
    Invalid,
}

impl EmailState {
    pub fn parse(text: &str) -> Option<EmailState> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "SUBSCRIBED" => EmailState::Subscribed,
            "NOT_SUBSCRIBED" => EmailState::NotSubscribed,
            "PENDING" => EmailState::Pending,
            "UNSUBSCRIBED" => EmailState::Unsubscribed,
            "REDACTED" => EmailState::Redacted,
            "INVALID" => EmailState::Invalid,
            _ => return None,
        })
    }

    pub fn as_shopify(self) -> &'static str {
        match self {
            EmailState::Subscribed => "SUBSCRIBED",
            EmailState::NotSubscribed => "NOT_SUBSCRIBED",
            EmailState::Pending => "PENDING",
            EmailState::Unsubscribed => "UNSUBSCRIBED",
            EmailState::Redacted => "REDACTED",
            EmailState::Invalid => "INVALID",
        }
    }

    /// The `Email_Consent_Status__c` picklist value.
    pub fn as_salesforce(self) -> &'static str {
        match self {
            EmailState::Subscribed => "Subscribed",
            EmailState::NotSubscribed => "Not Opted In",
            EmailState::Pending => "Pending",
            EmailState::Unsubscribed => "Unsubscribed",
            EmailState::Redacted => "Redacted",
            EmailState::Invalid => "Invalid",
        }
    }

    pub fn from_salesforce(text: &str) -> Option<EmailState> {
        Some(match text.trim() {
            "Subscribed" => EmailState::Subscribed,
            "Not Opted In" => EmailState::NotSubscribed,
            "Pending" => EmailState::Pending,
            "Unsubscribed" => EmailState::Unsubscribed,
            "Redacted" => EmailState::Redacted,
            "Invalid" => EmailState::Invalid,
            _ => return None,
        })
    }

    /// Only a subscribed customer may be emailed (`HasOptedOutOfEmail` is the negation).
    pub fn may_email(self) -> bool {
        self == EmailState::Subscribed
    }

    /// Whether Shopify's consent mutation accepts this state.
    pub fn writable_in_shopify(self) -> bool {
        matches!(
            self,
            EmailState::Subscribed | EmailState::Unsubscribed | EmailState::Pending
        )
    }
}

/// One consent event: a state and when it happened (if known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub state: EmailState,
    pub at: Option<DateTime<Utc>>,
}

/// Whether `a` happened after `b`. Undated events never come after dated ones; two undated
/// events are unordered (`None`).
pub fn later(a: &Event, b: &Event) -> Option<bool> {
    match (a.at, b.at) {
        (Some(x), Some(y)) if x != y => Some(x > y),
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        _ => None,
    }
}

/// What to do with Shopify's consent for a Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToCrm {
    /// Write Shopify's state to the Contact.
    Write,
    /// Leave the Contact's consent as it is: the CRM's event is later (or cannot be
    /// ordered and is an opt-out), or Shopify has no consent data.
    KeepCrm,
    /// Shopify's event is the echo of the CRM change shopforce pushed: nothing to write.
    Echo,
}

/// Shopify's consent event against the CRM's latest own consent event and the last push.
pub fn shopify_to_crm(
    shopify: Option<&Event>,
    crm: Option<&Event>,
    pushed: Option<&Event>,
) -> ToCrm {
    let Some(s) = shopify else {
        return ToCrm::KeepCrm;
    };
    if pushed.is_some_and(|p| p.state == s.state && p.at.is_some() && p.at == s.at) {
        return ToCrm::Echo;
    }
    let Some(c) = crm else {
        return ToCrm::Write;
    };
    // A subscription made in the CRM reaches Shopify by a push and counts once Shopify
    // holds it: against Shopify's state it never holds on its own.
    if c.state.may_email() {
        return ToCrm::Write;
    }
    match (c.at, s.at) {
        (Some(crm_at), Some(shopify_at)) if crm_at != shopify_at => {
            if crm_at > shopify_at {
                ToCrm::KeepCrm
            } else {
                ToCrm::Write
            }
        }
        // The order cannot be told (an undated event, or the same instant): whichever side
        // says "do not email" wins; never an upgrade.
        _ if !c.state.may_email() && s.state.may_email() => ToCrm::KeepCrm,
        _ => ToCrm::Write,
    }
}

/// A consent change made in the CRM, as the Contact now shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmConsent {
    pub opted_out: bool,
    /// `Email_Consent_Status__c`.
    pub status: Option<EmailState>,
}

impl CrmConsent {
    /// The Shopify state this CRM consent means: the status, unless the opt-out box
    /// contradicts it (ticked while the status says subscribed or nothing: UNSUBSCRIBED).
    pub fn state(&self) -> Option<EmailState> {
        match self.status {
            Some(s) if self.opted_out && s.may_email() => Some(EmailState::Unsubscribed),
            None if self.opted_out => Some(EmailState::Unsubscribed),
            other => other,
        }
    }
}

/// What to push to Shopify for a CRM consent change made at `at`, if it can be pushed: only
/// SUBSCRIBED, UNSUBSCRIBED and PENDING are writable there. The same state Shopify already
/// holds is pushed again only when the CRM's event is later (it becomes Shopify's latest).
pub fn crm_to_shopify(
    crm: &CrmConsent,
    at: Option<DateTime<Utc>>,
    shopify_latest: Option<&Event>,
) -> Option<EmailState> {
    let state = crm.state()?;
    if !state.writable_in_shopify() {
        return None;
    }
    match shopify_latest {
        Some(held) if held.state == state => {
            let event = Event { state, at };
            (later(&event, held) == Some(true)).then_some(state)
        }
        _ => Some(state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0)
    }

    fn ev(state: EmailState, secs: Option<i64>) -> Event {
        Event {
            state,
            at: secs.and_then(at),
        }
    }

    #[test]
    fn the_later_event_wins_whichever_side() {
        use EmailState::*;
        let shopify = ev(Subscribed, Some(10));
        assert_eq!(shopify_to_crm(Some(&shopify), None, None), ToCrm::Write);
        assert_eq!(
            shopify_to_crm(Some(&shopify), Some(&ev(Unsubscribed, Some(20))), None),
            ToCrm::KeepCrm
        );
        assert_eq!(
            shopify_to_crm(Some(&shopify), Some(&ev(Unsubscribed, Some(5))), None),
            ToCrm::Write
        );
        // Missing data never writes anything.
        assert_eq!(shopify_to_crm(None, None, None), ToCrm::KeepCrm);
        // An undated Shopify subscription never beats a CRM opt-out…
        assert_eq!(
            shopify_to_crm(
                Some(&ev(Subscribed, None)),
                Some(&ev(Unsubscribed, Some(1))),
                None
            ),
            ToCrm::KeepCrm
        );
        // …and an undated Shopify opt-out is written over a CRM subscription.
        assert_eq!(
            shopify_to_crm(
                Some(&ev(NotSubscribed, None)),
                Some(&ev(Subscribed, Some(9))),
                None
            ),
            ToCrm::Write
        );
        // Same instant: the opt-out wins.
        assert_eq!(
            shopify_to_crm(
                Some(&ev(Subscribed, Some(3))),
                Some(&ev(Unsubscribed, Some(3))),
                None
            ),
            ToCrm::KeepCrm
        );
        // The echo of a push is recognised.
        let pushed = ev(Unsubscribed, Some(30));
        assert_eq!(
            shopify_to_crm(Some(&pushed), None, Some(&pushed)),
            ToCrm::Echo
        );
    }

    #[test]
    fn only_writable_changes_are_pushed() {
        use EmailState::*;
        let opt_out = CrmConsent {
            opted_out: true,
            status: Some(Subscribed),
        };
        let held = |state, secs| Some(ev(state, Some(secs)));
        assert_eq!(
            crm_to_shopify(&opt_out, at(20), held(Subscribed, 10).as_ref()),
            Some(Unsubscribed)
        );
        assert_eq!(
            crm_to_shopify(&opt_out, at(20), held(Unsubscribed, 30).as_ref()),
            None
        );
        // Re-affirmed later in the CRM: pushed so it becomes Shopify's latest.
        assert_eq!(
            crm_to_shopify(&opt_out, at(40), held(Unsubscribed, 30).as_ref()),
            Some(Unsubscribed)
        );
        // What shopforce writes for a not-subscribed customer reads back as that state.
        let written = CrmConsent {
            opted_out: true,
            status: Some(NotSubscribed),
        };
        assert_eq!(written.state(), Some(NotSubscribed));
        let not_opted_in = CrmConsent {
            opted_out: false,
            status: Some(NotSubscribed),
        };
        assert_eq!(
            crm_to_shopify(&not_opted_in, at(20), held(Subscribed, 1).as_ref()),
            None
        );
        let nothing = CrmConsent {
            opted_out: false,
            status: None,
        };
        assert_eq!(crm_to_shopify(&nothing, at(1), None), None);
    }

    #[test]
    fn states_round_trip_through_both_vocabularies() {
        for s in [
            EmailState::Subscribed,
            EmailState::NotSubscribed,
            EmailState::Pending,
            EmailState::Unsubscribed,
            EmailState::Redacted,
            EmailState::Invalid,
        ] {
            assert_eq!(EmailState::parse(s.as_shopify()), Some(s));
            assert_eq!(EmailState::from_salesforce(s.as_salesforce()), Some(s));
        }
        assert_eq!(
            EmailState::parse("subscribed"),
            Some(EmailState::Subscribed)
        );
        assert_eq!(EmailState::parse("maybe"), None);
    }

    /// One step of the world: an event on one side, at a time (or undated).
    #[derive(Debug, Clone)]
    enum Step {
        Shopify(EmailState, Option<i64>),
        Crm(EmailState, Option<i64>),
    }

    fn state() -> impl Strategy<Value = EmailState> {
        prop_oneof![
            Just(EmailState::Subscribed),
            Just(EmailState::NotSubscribed),
            Just(EmailState::Pending),
            Just(EmailState::Unsubscribed),
            Just(EmailState::Redacted),
            Just(EmailState::Invalid),
        ]
    }

    /// Shopify events may be undated (a null `marketingUpdatedAt`) or older than what came
    /// before (imported consent); a CRM event is always dated (its `SystemModstamp`) and
    /// later than the CRM's previous one.
    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (state(), prop::option::weighted(0.8, 0i64..50)).prop_map(|(s, t)| Step::Shopify(s, t)),
            (state(), 0i64..50).prop_map(|(s, t)| Step::Crm(s, Some(t))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever happens on either side, in whatever order the syncs see it, the Contact
        /// is subscribed only if Shopify's latest state is SUBSCRIBED and no opt-out came
        /// after it.
        #[test]
        fn nothing_becomes_subscribed_by_mistake(steps in prop::collection::vec(step(), 1..12)) {
            // What the Contact shows, Shopify's latest event, the CRM's latest own event, the
            // last push, and every opt-out seen (for the check).
            let mut contact: Option<EmailState> = None;
            let mut shopify: Option<Event> = None;
            let mut crm: Option<Event> = None;
            let mut pushed: Option<Event> = None;
            let mut opt_outs: Vec<Event> = Vec::new();
            let mut crm_clock = -1i64;
            for s in &steps {
                match *s {
                    Step::Shopify(state, t) => {
                        let event = ev(state, t);
                        // Shopify keeps the latest by consentUpdatedAt.
                        if shopify.as_ref().is_none_or(|held| later(held, &event) != Some(true)) {
                            shopify = Some(event);
                        }
                        if !state.may_email() {
                            opt_outs.push(event);
                        }
                    }
                    Step::Crm(state, t) => {
                        let t = t.map(|t| t.max(crm_clock + 1));
                        crm_clock = t.unwrap_or(crm_clock);
                        let event = ev(state, t);
                        contact = Some(state);
                        crm = Some(event);
                        if !state.may_email() {
                            opt_outs.push(event);
                        }
                        // The change is pushed to Shopify, with its own timestamp.
                        let c = CrmConsent { opted_out: !state.may_email(), status: Some(state) };
                        if let Some(p) = crm_to_shopify(&c, event.at, shopify.as_ref())
                            && shopify.as_ref().is_none_or(|held| later(held, &event) != Some(true))
                        {
                            let p = Event { state: p, at: event.at };
                            shopify = Some(p);
                            pushed = Some(p);
                        }
                    }
                }
                // A sync: Shopify → Salesforce.
                if shopify_to_crm(shopify.as_ref(), crm.as_ref(), pushed.as_ref()) == ToCrm::Write {
                    contact = shopify.map(|e| e.state);
                }
            }
            if contact == Some(EmailState::Subscribed) {
                let latest = shopify.expect("subscribed needs a Shopify state");
                prop_assert_eq!(latest.state, EmailState::Subscribed);
                for o in &opt_outs {
                    prop_assert_ne!(later(o, &latest), Some(true), "an opt-out came after {:?}", latest);
                }
            }
        }
    }
}
