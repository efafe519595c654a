//! Consent changes made in Salesforce, pushed to Shopify with
//! `customerEmailMarketingConsentUpdate` (a live sync does it after the run: the file path
//! has no Shopify connection, and the changes wait in the state store).
//!
//! Each push carries the CRM change's own time as `consentUpdatedAt`, so the echo that
//! comes back in the next export is recognised ([`crate::consent::ToCrm::Echo`]) and not
//! written again. Every failed attempt is logged at error level and counted as it happens,
//! retried ones included; a change whose retries run out stays queued for the next run.

use crate::shopify::client::ShopifyClient;
use crate::store::{ConsentMark, ConsentUpdate, StateStore, Store};

use super::SyncError;

const MUTATION: &str = "mutation($input: CustomerEmailMarketingConsentUpdateInput!) { \
     customerEmailMarketingConsentUpdate(input: $input) { \
     customer { id } userErrors { field message code } } }";

/// What a push did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PushTally {
    pub pushed: u64,
    /// Changes that could not be written this run (they stay queued).
    pub failed: u64,
    /// Every failed attempt, retried ones included, counted as it happened.
    pub failed_attempts: u64,
}

/// Pushes every queued consent change of `shop`.
pub async fn push_pending(
    shopify: &ShopifyClient,
    store: &Store,
    shop: &str,
) -> Result<PushTally, SyncError> {
    let mut tally = PushTally::default();
    let now = chrono::Utc::now().timestamp_millis();
    for (customer, log) in store.pending_consent(shop).await? {
        let Some(mark) = log.pending else { continue };
        // Shopify refuses a consentUpdatedAt in the future (clock skew between the two) and
        // keeps whole seconds: the echo carries exactly the time sent.
        let at = mark
            .at
            .map(|ms| ms.min(now))
            .map(|ms| ms - ms.rem_euclid(1000))
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let level = if mark.state == "PENDING" {
            "CONFIRMED_OPT_IN"
        } else {
            "SINGLE_OPT_IN"
        };
        let variables = serde_json::json!({"input": {
            "customerId": format!("gid://shopify/Customer/{customer}"),
            "emailMarketingConsent": {
                "marketingState": mark.state,
                "marketingOptInLevel": level,
                "consentUpdatedAt": at,
            }
        }});
        let mut attempts_failed = 0u64;
        let answer = shopify
            .graphql_reporting(MUTATION, variables, |error, retry_in| {
                attempts_failed += 1;
                tracing::error!(
                    shop,
                    customer = %customer,
                    attempt = attempts_failed,
                    retry_in_ms = retry_in.as_millis() as u64,
                    error = %error,
                    "a consent write to Shopify failed; retrying"
                );
            })
            .await;
        tally.failed_attempts += attempts_failed;
        let failure = match answer {
            Ok(data) => {
                let errors = &data["customerEmailMarketingConsentUpdate"]["userErrors"];
                match errors.as_array() {
                    Some(list) if !list.is_empty() => Some(errors.to_string()),
                    _ => None,
                }
            }
            Err(e) => Some(e.to_string()),
        };
        match failure {
            None => {
                tally.pushed += 1;
                let pushed = ConsentMark {
                    state: mark.state.clone(),
                    at: at.as_deref().and_then(super::identity::epoch_ms),
                };
                store
                    .update_consent_log(shop, &[(customer.clone(), ConsentUpdate::Pushed(pushed))])
                    .await?;
                tracing::info!(shop, customer, state = %mark.state, "consent change pushed to Shopify");
            }
            Some(error) => {
                tally.failed += 1;
                tally.failed_attempts += 1;
                tracing::error!(
                    shop,
                    customer,
                    state = %mark.state,
                    failed_so_far = tally.failed,
                    error = %error,
                    "a consent change could not be written to Shopify; it stays queued for the next run"
                );
            }
        }
    }
    Ok(tally)
}
