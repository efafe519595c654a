//! `shopforce dlq retry`: sends dead-lettered rows again, as they were built, with the
//! field-ownership rules applied as in a sync (a record that exists by now gets no
//! on-create values).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use crate::mapping::csv_file::CsvWriter;
use crate::mapping::ownership::{OwnershipMatrix, blank_cells};
use crate::mapping::target::Target;
use crate::salesforce::SalesforceClient;
use crate::store::{
    DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus, RunStatus, StateStore, Store,
};

use super::SyncError;
use super::job::{JobContext, run_part};
use super::prepare::FailedKeys;

/// What a retry did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetrySummary {
    pub sent: u64,
    pub written: u64,
    pub failed_again: u64,
    /// Dead letters with no row to send (bad source lines, unmappable records).
    pub not_resendable: u64,
}

/// Every open dead letter, oldest first, read a page at a time.
pub async fn open_dead_letters(store: &Store) -> Result<Vec<DeadLetter>, SyncError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_dead_letters(&DeadLetterFilter {
                status: Some(DeadLetterStatus::Open),
                object: None,
                shop: None,
                after,
                limit: 1000,
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        out.extend(page);
    }
    Ok(out)
}

pub async fn retry_dead_letters(
    client: &SalesforceClient,
    store: &Store,
    work_dir: &Path,
    ids: &[DeadLetterId],
    max_row_retries: u32,
    ownership: &OwnershipMatrix,
) -> Result<RetrySummary, SyncError> {
    let wanted: HashSet<i64> = ids.iter().map(|i| i.0).collect();
    let letters: Vec<DeadLetter> = open_dead_letters(store)
        .await?
        .into_iter()
        .filter(|d| wanted.contains(&d.id.0))
        .collect();
    let mut summary = RetrySummary::default();
    // (target, shop) → rows.
    let mut groups: BTreeMap<(Target, String), Vec<&DeadLetter>> = BTreeMap::new();
    for d in &letters {
        let target = Target::from_name(&d.object);
        let complete = target.is_some_and(|t| {
            t.spec()
                .columns
                .iter()
                .all(|c| d.payload.get(*c).and_then(|v| v.as_str()).is_some())
        });
        match target {
            Some(t) if complete => groups.entry((t, d.shop.clone())).or_default().push(d),
            _ => summary.not_resendable += 1,
        }
    }
    let dir = work_dir.join("dlq-retry");
    std::fs::create_dir_all(&dir).map_err(|e| SyncError::io(&dir, e))?;
    let failed = Mutex::new(FailedKeys::new());
    let pace = super::job::Pace::default();
    for ((target, shop), rows) in groups {
        let run = store.start_run(&shop, "dlq-retry").await?;
        let path = dir.join(format!("run{}-{}.csv", run.0, target.name()));
        let file = std::fs::File::create(&path).map_err(|e| SyncError::io(&path, e))?;
        let mut writer = CsvWriter::new(target, std::io::BufWriter::new(file))
            .map_err(|e| SyncError::io(&path, e))?;
        let rules = ownership.rules(target);
        let keys: Vec<&str> = rows.iter().map(|d| d.external_id.as_str()).collect();
        let existing = store
            .get_written_records(&shop, target.spec().mapping_kind, &keys)
            .await?;
        for d in &rows {
            let record: csv::StringRecord = target
                .spec()
                .columns
                .iter()
                .map(|c| d.payload[*c].as_str().unwrap_or(""))
                .collect();
            let blank = rules.withheld(record.iter()).mask(
                target
                    .spec()
                    .record_exists(existing.contains_key(&d.external_id)),
            );
            writer
                .write_texts(blank_cells(&record, blank).iter())
                .map_err(|e| SyncError::io(&path, e))?;
        }
        let mut inner = writer.finish().map_err(|e| SyncError::io(&path, e))?;
        std::io::Write::flush(&mut inner).map_err(|e| SyncError::io(&path, e))?;
        let ctx = JobContext {
            client,
            store,
            run,
            shop: &shop,
            work_dir: &dir,
            max_row_retries,
            failed: &failed,
            pace: &pace,
            progress: &super::SyncProgress::default(),
            writes: None,
            ownership,
        };
        let ids: Vec<DeadLetterId> = rows.iter().map(|d| d.id).collect();
        store.bump_attempts(&ids).await?;
        // Closed before the rows are sent, so that a row failing again opens a new letter
        // (at most one letter per record is open).
        store
            .mark_dead_letters(&ids, DeadLetterStatus::Retried)
            .await?;
        let result = run_part(&ctx, target, 1, &path, rows.len() as u64, None, None).await;
        let _ = std::fs::remove_file(&path);
        let tally = match result {
            Ok(t) => t,
            Err(e) => {
                // Nothing was settled: the letters stay open.
                store
                    .mark_dead_letters(&ids, DeadLetterStatus::Open)
                    .await?;
                store
                    .finish_run(
                        run,
                        RunStatus::Failed,
                        &serde_json::json!({"error": e.to_string()}),
                    )
                    .await?;
                return Err(e);
            }
        };
        store
            .finish_run(
                run,
                RunStatus::Succeeded,
                &serde_json::to_value(tally).unwrap_or_default(),
            )
            .await?;
        summary.sent += rows.len() as u64;
        summary.written += tally.created + tally.updated;
        summary.failed_again += tally.dead_lettered;
    }
    Ok(summary)
}
