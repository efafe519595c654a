//! Where a run's export comes from when it is not a folder given on the command line: the
//! live shop, through bulk operations (`shopify::client`), written to the same three JSONL
//! files `--from-jsonl` reads.
//!
//! Incremental: each export asks only for records updated since the cursor the last
//! successful run stored for it, minus an overlap (re-reading is harmless: upserts are
//! idempotent and unchanged rows are not sent). A shop without B2B (no `companies` access)
//! simply has no companies file.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::shopify::client::{ShopifyClient, ShopifyError};
use crate::shopify::queries::Export;
use crate::store::{StateStore, Store};

use super::SyncError;

/// What was fetched.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fetched {
    /// Per export file: (objects Shopify counted, bytes, updated since).
    pub exports: Vec<(String, u64, u64, Option<String>)>,
}

/// Downloads the shop's exports into `dir`, incrementally from the stored cursors unless
/// `full`.
pub async fn fetch_exports(
    client: &ShopifyClient,
    store: &Store,
    dir: &Path,
    full: bool,
    overlap: Duration,
) -> Result<Fetched, SyncError> {
    std::fs::create_dir_all(dir).map_err(|e| SyncError::io(dir, e))?;
    let mut fetched = Fetched::default();
    for export in Export::ALL {
        let since = if full {
            None
        } else {
            store
                .get_cursor(client.shop(), export.resource())
                .await?
                .and_then(|c| since_cursor(&c, overlap))
        };
        match client.export(export, since, dir).await {
            Ok(done) => fetched.exports.push((
                export.file_name().to_string(),
                done.objects,
                done.bytes,
                since.map(|s| s.to_rfc3339()),
            )),
            Err(ShopifyError::AccessDenied { message, .. }) if export == Export::Companies => {
                tracing::warn!(shop = %client.shop(), %message, "no access to B2B companies; syncing without them");
            }
            Err(e) => return Err(SyncError::Shopify(e)),
        }
    }
    Ok(fetched)
}

/// The time to read from for a stored cursor (the newest `updatedAt` stored), `overlap`
/// earlier; `None` when the cursor is not a timestamp (then everything is read).
pub fn since_cursor(cursor: &str, overlap: Duration) -> Option<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(cursor)
        .ok()?
        .with_timezone(&Utc);
    Some(at - chrono::Duration::from_std(overlap).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_read_back_with_an_overlap() {
        let since = since_cursor("2026-11-01T10:05:00-05:00", Duration::from_secs(300)).unwrap();
        assert_eq!(since.to_rfc3339(), "2026-11-01T15:00:00+00:00");
        assert_eq!(since_cursor("not a time", Duration::ZERO), None);
    }
}
