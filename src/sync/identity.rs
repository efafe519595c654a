//! The edge of identity resolution: reading the org's Contacts into the state store with a
//! Bulk API query (all of them the first time, then those changed since the last
//! `SystemModstamp`), and loading them into a [`ContactIndex`].

use std::path::Path;

use crate::identity::{ContactIndex, CrmContact, IdentityConfig, Region, index::crm_contact};
use crate::salesforce::{JobState, Operation, SalesforceClient};
use crate::store::{StateStore, Store};

use super::SyncError;

/// The cursor (shop `*`: the org is shared by every shop) of the last Contact read.
pub const CURSOR_SHOP: &str = "*";
pub const CURSOR_RESOURCE: &str = "crm_contacts";

const SELECT: &str = "SELECT Id, AccountId, Shopify_Customer_ID__c, Shopify_Store__c, Email, \
     Phone, MobilePhone, MailingCountry, FirstName, LastName, MailingPostalCode, CreatedDate, \
     SystemModstamp, IsDeleted FROM Contact";

const STORE_BATCH: usize = 10_000;

/// What a refresh read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RefreshTally {
    /// Contacts read from Salesforce (new or changed since the last refresh).
    pub read: u64,
    /// Of those, deleted in Salesforce (removed from the index).
    pub removed: u64,
    /// Contacts in the index after the refresh.
    pub indexed: u64,
}

/// Reads the Contacts changed since the last refresh into the store, then loads every
/// stored Contact into an index.
pub async fn refresh(
    client: &SalesforceClient,
    store: &Store,
    config: &IdentityConfig,
    work_dir: &Path,
) -> Result<(ContactIndex, RefreshTally), SyncError> {
    let mut tally = RefreshTally::default();
    let since = store.get_cursor(CURSOR_SHOP, CURSOR_RESOURCE).await?;
    let soql = match &since {
        Some(stamp) => format!("{SELECT} WHERE SystemModstamp > {stamp} ORDER BY SystemModstamp"),
        None => SELECT.to_string(),
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
    let mut batch: Vec<CrmContact> = Vec::with_capacity(STORE_BATCH);
    let mut removed: Vec<String> = Vec::new();
    for file in &download.files {
        let mut reader = csv::Reader::from_path(file)
            .map_err(|e| SyncError::Input(format!("{}: {e}", file.display())))?;
        let headers = reader
            .headers()
            .map_err(|e| SyncError::Input(format!("{}: {e}", file.display())))?
            .clone();
        let at = |name: &str| headers.iter().position(|h| h == name);
        let columns: Vec<Option<usize>> = [
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
        ]
        .iter()
        .map(|c| at(c))
        .collect();
        let mut record = csv::StringRecord::new();
        while reader
            .read_record(&mut record)
            .map_err(|e| SyncError::Input(format!("{}: {e}", file.display())))?
        {
            let get = |i: usize| columns[i].and_then(|c| record.get(c)).unwrap_or("");
            tally.read += 1;
            let stamp = get(12);
            if !stamp.is_empty() && newest.as_deref().is_none_or(|n| stamp > n) {
                newest = Some(stamp.to_string());
            }
            if get(13).eq_ignore_ascii_case("true") {
                removed.push(get(0).to_string());
                continue;
            }
            let country = Region::parse(get(7));
            let created = chrono::DateTime::parse_from_rfc3339(get(11))
                .or_else(|_| chrono::DateTime::parse_from_str(get(11), "%Y-%m-%dT%H:%M:%S%.f%z"))
                .map(|t| t.timestamp())
                .unwrap_or(0);
            if let Some(contact) = crm_contact(
                get(0),
                get(1),
                get(2),
                get(3),
                get(4),
                &[(get(5), country), (get(6), country)],
                region,
                get(8),
                get(9),
                get(10),
                created,
                config.plus_tags,
            ) {
                batch.push(contact);
            }
            if batch.len() >= STORE_BATCH {
                store.put_crm_contacts(&batch).await?;
                batch.clear();
            }
        }
    }
    store.put_crm_contacts(&batch).await?;
    tally.removed = store.remove_crm_contacts(&removed).await?;
    if let Some(stamp) = newest.filter(|n| Some(n) != since.as_ref()) {
        store
            .set_cursor(CURSOR_SHOP, CURSOR_RESOURCE, &stamp)
            .await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let index = load(store).await?;
    tally.indexed = index.len() as u64;
    tracing::info!(
        read = tally.read,
        removed = tally.removed,
        indexed = tally.indexed,
        "identity index refreshed"
    );
    Ok((index, tally))
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
