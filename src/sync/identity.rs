//! The edge of identity resolution: reading the org's Contacts into the state store with a
//! Bulk API query (all of them the first time, then those changed since the last
//! `SystemModstamp`), and loading them into a [`ContactIndex`].

use std::path::Path;

use std::collections::HashMap;

use crate::consent::{CrmConsent, EmailState, Event, crm_to_shopify};
use crate::identity::{ContactIndex, CrmContact, IdentityConfig, Region, index::crm_contact};
use crate::salesforce::{JobState, Operation, SalesforceClient};
use crate::store::{ConsentLog, ConsentMark, ConsentUpdate, StateStore, Store};

use super::SyncError;

/// The cursor (shop `*`: the org is shared by every shop) of the last Contact read.
pub const CURSOR_SHOP: &str = "*";
pub const CURSOR_RESOURCE: &str = "crm_contacts";

const STORE_BATCH: usize = 10_000;

/// The cursor of an org that had no Contacts at its first refresh.
const EPOCH: &str = "1970-01-01T00:00:00.000+0000";

/// What a refresh read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RefreshTally {
    /// Contacts read from Salesforce (new or changed since the last refresh).
    pub read: u64,
    /// Of those, deleted in Salesforce (removed from the index).
    pub removed: u64,
    /// Contacts in the index after the refresh.
    pub indexed: u64,
    /// Consent changes made in the CRM (not by shopforce) that were found.
    pub crm_consent_changes: u64,
    /// Of those, queued to be pushed to Shopify (a live sync pushes them).
    pub consent_pushes_queued: u64,
}

/// A datetime as epoch milliseconds.
pub fn epoch_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// One Contact row of the query, with its consent.
struct Read {
    contact: CrmContact,
    modstamp: Option<i64>,
}

/// Reads the Contacts changed since the last refresh into the store and the index, and
/// notes consent changes made in the CRM: a Contact whose consent changed since it was last
/// read, to a state Shopify does not hold for its customer, was changed by a person (or a
/// flow) in Salesforce, at its `SystemModstamp`; if it belongs to a customer, the change is
/// queued for Shopify. On the first refresh every Contact's consent counts as the CRM's,
/// from the beginning of time (an opt-out made before shopforce is never overwritten by an
/// undated subscription).
pub async fn refresh(
    client: &SalesforceClient,
    store: &Store,
    config: &IdentityConfig,
    work_dir: &Path,
) -> Result<(ContactIndex, RefreshTally), SyncError> {
    let mut tally = RefreshTally::default();
    let mut index = load(store).await?;
    let since = store.get_cursor(CURSOR_SHOP, CURSOR_RESOURCE).await?;
    let first = since.is_none();
    let select = format!("SELECT {} FROM Contact", COLUMNS.join(", "));
    let soql = match &since {
        Some(stamp) => format!("{select} WHERE SystemModstamp > {stamp} ORDER BY SystemModstamp"),
        None => select,
    };
    // queryAll: Contacts deleted (or merged away) since the last refresh come back with
    // IsDeleted = true and leave the index.
    let job = client
        .create_query_job_with(&soql, Operation::QueryAll)
        .await?;
    let info = client.wait_for_query(&job.id).await?;
    if info.state != JobState::JobComplete {
        return Err(SyncError::Input(format!(
            "the Contact query for identity resolution ended {}: {}",
            info.state,
            info.error_message.as_deref().unwrap_or("no reason given")
        )));
    }
    let dir = work_dir.join("crm-contacts");
    let download = client.download_query_results(&job.id, &dir, None).await?;
    let region = config.region();
    let mut newest = since.clone();
    let mut batch: Vec<Read> = Vec::with_capacity(STORE_BATCH);
    let mut removed: Vec<String> = Vec::new();
    for file in &download.files {
        let mut reader = csv::Reader::from_path(file)
            .map_err(|e| SyncError::Input(format!("{}: {e}", file.display())))?;
        let headers = reader
            .headers()
            .map_err(|e| SyncError::Input(format!("{}: {e}", file.display())))?
            .clone();
        let at = |name: &str| headers.iter().position(|h| h == name);
        let columns: Vec<Option<usize>> = COLUMNS.iter().map(|c| at(c)).collect();
        let mut record = csv::StringRecord::new();
        while reader
            .read_record(&mut record)
            .map_err(|e| SyncError::Input(format!("{}: {e}", file.display())))?
        {
            let get = |i: usize| columns[i].and_then(|c| record.get(c)).unwrap_or("");
            tally.read += 1;
            let stamp = get(SYSTEM_MODSTAMP);
            if !stamp.is_empty() && newest.as_deref().is_none_or(|n| stamp > n) {
                newest = Some(stamp.to_string());
            }
            if get(IS_DELETED).eq_ignore_ascii_case("true") {
                removed.push(get(ID).to_string());
                continue;
            }
            let country = Region::parse(get(MAILING_COUNTRY));
            let created = epoch_ms(get(CREATED_DATE)).map_or(0, |ms| ms / 1000);
            let Some(mut contact) = crm_contact(
                get(ID),
                get(ACCOUNT_ID),
                get(CUSTOMER_KEY),
                get(STORE),
                get(EMAIL),
                &[(get(PHONE), country), (get(MOBILE_PHONE), country)],
                region,
                get(FIRST_NAME),
                get(LAST_NAME),
                get(POSTAL_CODE),
                created,
                config.plus_tags,
            ) else {
                continue;
            };
            let consent = CrmConsent {
                opted_out: get(OPTED_OUT).eq_ignore_ascii_case("true"),
                status: EmailState::from_salesforce(get(CONSENT_STATUS)),
            };
            contact.consent_state = consent.state().map(|s| s.as_shopify().into());
            batch.push(Read {
                contact,
                modstamp: epoch_ms(stamp),
            });
            if batch.len() >= STORE_BATCH {
                apply(store, &mut index, &mut batch, first, &mut tally).await?;
            }
        }
    }
    apply(store, &mut index, &mut batch, first, &mut tally).await?;
    for id in &removed {
        index.remove(id);
    }
    tally.removed = store.remove_crm_contacts(&removed).await?;
    // An org with no Contacts yet still gets a cursor: the next refresh is incremental, so
    // consent changes on the Contacts this run creates are told apart from their creation.
    let newest = newest.or_else(|| Some(EPOCH.to_string()));
    if let Some(stamp) = newest.filter(|n| Some(n) != since.as_ref()) {
        store
            .set_cursor(CURSOR_SHOP, CURSOR_RESOURCE, &stamp)
            .await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    tally.indexed = index.len() as u64;
    tracing::info!(
        read = tally.read,
        removed = tally.removed,
        indexed = tally.indexed,
        crm_consent_changes = tally.crm_consent_changes,
        "identity index refreshed"
    );
    Ok((index, tally))
}

/// Positions in [`COLUMNS`].
const ID: usize = 0;
const ACCOUNT_ID: usize = 1;
const CUSTOMER_KEY: usize = 2;
const STORE: usize = 3;
const EMAIL: usize = 4;
const PHONE: usize = 5;
const MOBILE_PHONE: usize = 6;
const MAILING_COUNTRY: usize = 7;
const FIRST_NAME: usize = 8;
const LAST_NAME: usize = 9;
const POSTAL_CODE: usize = 10;
const CREATED_DATE: usize = 11;
const SYSTEM_MODSTAMP: usize = 12;
const IS_DELETED: usize = 13;
const OPTED_OUT: usize = 14;
const CONSENT_STATUS: usize = 15;

/// The Contact fields the refresh reads, in this order.
const COLUMNS: [&str; 16] = [
    "Id",
    "AccountId",
    "Shopify_Customer_ID__c",
    "Shopify_Store__c",
    "Email",
    "Phone",
    "MobilePhone",
    "MailingCountry",
    "FirstName",
    "LastName",
    "MailingPostalCode",
    "CreatedDate",
    "SystemModstamp",
    "IsDeleted",
    "HasOptedOutOfEmail",
    "Email_Consent_Status__c",
];

/// Decides the consent origin of a batch of read Contacts, queues pushes, and stores them.
async fn apply(
    store: &Store,
    index: &mut ContactIndex,
    batch: &mut Vec<Read>,
    first: bool,
    tally: &mut RefreshTally,
) -> Result<(), SyncError> {
    if batch.is_empty() {
        return Ok(());
    }
    // Shopify's consent of the customers these Contacts are keyed on, per shop.
    let mut keys_by_shop: HashMap<String, Vec<String>> = HashMap::new();
    for r in batch.iter() {
        if let (Some(key), Some(shop)) = (&r.contact.shopify_customer_id, &r.contact.shopify_store)
        {
            keys_by_shop
                .entry(shop.to_string())
                .or_default()
                .push(key.to_string());
        }
    }
    let mut logs: HashMap<(String, String), ConsentLog> = HashMap::new();
    for (shop, keys) in &keys_by_shop {
        for (key, log) in store.consent_logs(shop, keys).await? {
            logs.insert((shop.clone(), key), log);
        }
    }
    let mut pushes: HashMap<String, Vec<(String, ConsentUpdate)>> = HashMap::new();
    let mut contacts = Vec::with_capacity(batch.len());
    for Read {
        mut contact,
        modstamp,
    } in batch.drain(..)
    {
        let previous = index.by_id(&contact.id).and_then(|s| index.get(s)).cloned();
        contact.crm_consent_at = previous.as_ref().and_then(|p| p.crm_consent_at);
        if first {
            // Whatever the org holds before shopforce is the CRM's.
            if contact.consent_state.is_some() {
                contact.crm_consent_at = Some(0);
            }
        } else if previous.as_ref().map(|p| &p.consent_state) != Some(&contact.consent_state)
            && let Some(state) = contact.consent_state.as_deref()
        {
            let key = contact
                .shopify_customer_id
                .as_deref()
                .zip(contact.shopify_store.as_deref())
                .map(|(k, s)| (s.to_string(), k.to_string()));
            let log = key.as_ref().and_then(|k| logs.get(k));
            let shopify = log.and_then(|l| l.shopify.as_ref());
            let ours = shopify.is_some_and(|m| m.state == state)
                || log
                    .and_then(|l| l.pushed.as_ref())
                    .is_some_and(|m| m.state == state);
            // A Contact seen for the first time whose customer's Shopify consent is not
            // known cannot be told apart from one shopforce just wrote: not a change.
            let unknown = previous.is_none() && shopify.is_none();
            if !ours && !unknown {
                tally.crm_consent_changes += 1;
                contact.crm_consent_at = modstamp;
                if let (Some((shop, customer)), Some(parsed)) = (key, EmailState::parse(state)) {
                    let held = shopify.and_then(|m| {
                        EmailState::parse(&m.state).map(|s| Event {
                            state: s,
                            at: m.at.and_then(chrono::DateTime::from_timestamp_millis),
                        })
                    });
                    let crm = CrmConsent {
                        opted_out: parsed == EmailState::Unsubscribed,
                        status: Some(parsed),
                    };
                    let at = modstamp.and_then(chrono::DateTime::from_timestamp_millis);
                    if let Some(push) = crm_to_shopify(&crm, at, held.as_ref()) {
                        tally.consent_pushes_queued += 1;
                        pushes.entry(shop).or_default().push((
                            customer,
                            ConsentUpdate::Pending(ConsentMark {
                                state: push.as_shopify().to_string(),
                                at: modstamp,
                            }),
                        ));
                    }
                }
            }
        }
        contacts.push(contact);
    }
    store.put_crm_contacts(&contacts).await?;
    for (shop, updates) in pushes {
        store.update_consent_log(&shop, &updates).await?;
    }
    for contact in contacts {
        index.upsert(contact);
    }
    Ok(())
}

/// Every Contact the store holds, as an index.
pub async fn load(store: &Store) -> Result<ContactIndex, SyncError> {
    const PAGE: u32 = 50_000;
    let mut index = ContactIndex::default();
    let mut after: Option<String> = None;
    loop {
        let page = store.crm_contacts_page(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.to_string());
        let full = page.len() as u32 == PAGE;
        for contact in page {
            index.upsert(contact);
        }
        if !full {
            break;
        }
    }
    Ok(index)
}
