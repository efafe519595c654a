//! The bulk sync: a Shopify bulk export in, every record upserted into Salesforce in
//! dependency order, every outcome accounted for.
//!
//! ```text
//!  resume: jobs a crashed run left behind are finished (results stored) or aborted
//!     │
//!  scan (scan.rs): JSONL line by line ─► mapping::build ─► spool (one CSV per target,
//!     │             duplicates collapsed)   bad lines / unmappable records ─► dead letters
//!     │  orders.jsonl on one task, the customer side on another; the customer side's rows
//!     │  are handed over as soon as they are read (and the guest records are known to be
//!     │  needed or not), the orders side's when the read ends
//!     ▼
//!  for each level of the dependency graph (parents before children), targets in parallel;
//!  the customer side's levels first (they run while orders.jsonl is read), then products,
//!  price book entries beside orders, line items:
//!  prepare (prepare.rs): drop superseded, hold back children of failed parents, skip rows
//!     │                   unchanged since last stored, sort by parent, split into parts
//!     │  (done for the next level while a level's jobs run: its jobs are created and
//!     │   uploaded but left open, closed once the level is done, or aborted and prepared
//!     │   again if a record they point at failed meanwhile; when the orders side's rows
//!     │   arrive, the level after the products is staged at once too, and its Orders,
//!     │   which point at no product, start before the products are done)
//!     ▼
//!  job (job.rs): record ─► create ─► upload ─► UploadComplete ─► poll ─► results
//!                 successes (read while they download) ─► id mappings + payload hashes;
//!                 permanent failures ─► dead letters; lock errors and unprocessed rows
//!                 ─► a new job (bounded)
//!     ▼
//!  commerce metrics (metrics_step), the last level: computed beside the line-item level
//!     │  (while Salesforce processes it and the engine mostly waits), once the result
//!     │  writer has stored the Contacts' and Accounts' mappings: totals per customer and
//!     │  company over the order cache (complete since the read), for the records the
//!     │  engine has written ─► one row each
//!     │  (crate::metrics) ─► staged like any level, its jobs closed once every data job is
//!     │  done (their results may still be being stored; unchanged rows skipped)
//!     ▼
//!  cursors advance, the run is recorded as finished
//! ```
//!
//! Crash safety: a job is recorded in the state store before anything is uploaded and its
//! phase is updated after each step; results are stored before a job is marked done. A
//! restarted run first polls every job that was uploaded and stores its results, aborts
//! jobs that were still open, then reads the source again: rows whose results were stored
//! are unchanged and skipped, every other row is sent (upserts by external ID, so nothing
//! is ever created twice).

pub mod consent_push;
pub mod identity;
pub mod job;
pub mod metrics_step;
pub mod outcome;
pub mod owner;
pub mod prepare;
pub mod progress;
pub mod resolve;
pub mod result_rows;
pub mod retry;
pub mod scan;
pub mod source;
pub mod spool;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::mapping::build::MappingContext;
use crate::mapping::ownership::{Owner, OwnershipMatrix};
use crate::mapping::target::Target;
use crate::salesforce::{SalesforceClient, SalesforceError};
use crate::store::{
    JobPhase, NewDeadLetter, RunId, RunStatus, StateStore, Store, StoreError, WithheldCount,
};

use job::{JobContext, JobTally, run_part, store_results};
use prepare::{FailedKeys, key_space, prepare};
pub use progress::{ProgressState, SyncProgress, TargetProgress};
use scan::ScanTally;

/// Resident memory of this process in MiB (Linux; 0 elsewhere), for progress logs.
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Salesforce(#[from] SalesforceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Shopify(#[from] crate::shopify::client::ShopifyError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Input(String),
    #[error("work file: {0}")]
    Spool(String),
}

impl SyncError {
    pub fn io(path: &Path, source: std::io::Error) -> SyncError {
        SyncError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to sync and how.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Folder with `customers.jsonl`, `orders.jsonl` and (B2B) `companies.jsonl`.
    pub source_dir: PathBuf,
    /// Write the CSVs that would be uploaded into this folder and send nothing.
    pub dry_run: Option<PathBuf>,
    /// Send every row, even those unchanged since they were last written.
    pub full: bool,
    pub work_dir: PathBuf,
    pub part_size: u64,
    pub max_concurrent_jobs: usize,
    pub max_row_retries: u32,
    /// Who writes each field: cells a row may not write are blanked before upload.
    pub ownership: OwnershipMatrix,
    /// Thresholds of the commerce metrics.
    pub metrics: crate::metrics::MetricsConfig,
    /// "Now" for the commerce metrics (churn risk counts days up to it); `None`: the clock.
    /// Set by tests so results do not depend on the day they run.
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Identity resolution; `None` (or `enabled = false`) creates a Contact for every
    /// customer without a mapping.
    pub identity: Option<crate::identity::IdentityConfig>,
    /// B2B owner routing ([`owner`]); `None`: `OwnerId` is left to Salesforce.
    pub owner_routing: Option<crate::mapping::routing::OwnerRoutingConfig>,
}

/// Values field ownership kept from Salesforce in one run, for one field.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WithheldTally {
    /// The field is CRM-owned.
    pub crm: u64,
    /// The field is written on create only and the record existed.
    pub on_create: u64,
}

/// Per-target counts of one run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct TargetReport {
    /// Distinct records read from the source.
    pub read: u64,
    /// Skipped: unchanged since they were last written.
    pub unchanged: u64,
    /// Held back: a record they point at failed.
    pub held: u64,
    #[serde(flatten)]
    pub jobs: JobTally,
}

/// The outcome of a run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SyncReport {
    pub run: i64,
    pub resumed_jobs: u64,
    pub aborted_jobs: u64,
    pub scan: ScanTally,
    pub targets: BTreeMap<String, TargetReport>,
    /// Identity resolution: the Contact index refresh and the outcomes by kind (`mapping`,
    /// `external_id`, `email`, `phone`, `probabilistic`, `ambiguous`, `held`, `oldest`,
    /// `created`, and `guest_*` for guest checkouts).
    pub identity_index: identity::RefreshTally,
    pub identity: BTreeMap<String, u64>,
    /// Per `Object.Field`: values withheld by field ownership from the rows sent.
    pub withheld: BTreeMap<String, WithheldTally>,
    /// What the commerce-metrics step built.
    pub metrics: crate::metrics::MetricsTally,
    /// B2B owner routing: new companies per rule and owner, fallbacks (`None`: off).
    pub owner_routing: Option<owner::OwnerRoutingTally>,
    /// Dry run: the files written.
    pub dry_run_files: Vec<PathBuf>,
}

impl SyncReport {
    pub fn total(&self) -> TargetReport {
        let mut t = TargetReport::default();
        for r in self.targets.values() {
            t.read += r.read;
            t.unchanged += r.unchanged;
            t.held += r.held;
            t.jobs.add(r.jobs);
        }
        t
    }
}

/// Targets grouped so that every target's parents are in an earlier group. Targets with
/// the same object and external ID (Contacts of either kind, Orders of either kind) are one
/// key space: a child waits for all of them. The metrics targets are not in any group: they
/// run in a step of their own after every group ([`metrics_step`]).
///
/// The customer side's targets come first: their groups run while `orders.jsonl` is still
/// being read. The groups of the targets read from `orders.jsonl` follow, each target as
/// late as its children allow: an Order goes beside the price book entries rather than
/// beside the products, so the line items are prepared and uploaded while the Orders run.
pub fn levels() -> Vec<Vec<Target>> {
    let mut groups = side_levels(false);
    groups.extend(side_levels(true));
    groups
}

/// The groups of one side's targets (parents on the other side are in earlier groups);
/// the orders side as late as possible.
fn side_levels(orders_side: bool) -> Vec<Vec<Target>> {
    let side: Vec<Target> = Target::ALL
        .into_iter()
        .filter(|t| !t.is_metrics() && t.read_from_orders() == orders_side)
        .collect();
    // Whether `child` waits for `parent`: it points at a target of the parent's key space.
    let waits_for = |child: Target, parent: Target| {
        let space = key_space(parent);
        child.parent_targets().any(|p| key_space(p) == space)
    };
    // As early as possible: one past the latest parent (`ALL` lists parents first).
    let mut level: HashMap<Target, usize> = HashMap::new();
    for &target in &side {
        let l = side
            .iter()
            .filter(|p| waits_for(target, **p))
            .map(|p| level.get(p).copied().unwrap_or(0) + 1)
            .max()
            .unwrap_or(0);
        level.insert(target, l);
    }
    if orders_side {
        // As late as possible: one before the earliest child, children first.
        for &target in side.iter().rev() {
            let latest = side
                .iter()
                .filter(|c| waits_for(**c, target))
                .map(|c| level[c].saturating_sub(1))
                .min();
            if let Some(latest) = latest {
                let l = level[&target].max(latest);
                level.insert(target, l);
            }
        }
    }
    let depth = level.values().copied().max().map_or(0, |d| d + 1);
    (0..depth)
        .map(|d| side.iter().copied().filter(|t| level[t] == d).collect())
        .collect()
}

/// Finishes what an earlier, interrupted run left: jobs whose data was uploaded are
/// polled and their results stored; jobs still open are aborted (their rows are sent again
/// by this run). Returns (resumed, aborted).
pub async fn resume(
    client: &SalesforceClient,
    store: &Store,
    shop: &str,
    work_dir: &Path,
    ownership: &OwnershipMatrix,
) -> Result<(u64, u64), SyncError> {
    let unfinished = store.unfinished_jobs().await?;
    let (mut resumed, mut aborted) = (0, 0);
    let failed = Mutex::new(FailedKeys::new());
    let pace = job::Pace::default();
    for record in unfinished {
        let Some(target) = Target::from_name(&record.object) else {
            store.set_job_state(record.key, JobPhase::Failed).await?;
            continue;
        };
        let ctx = JobContext {
            client,
            store,
            run: record.run,
            shop,
            work_dir,
            max_row_retries: 0,
            failed: &failed,
            pace: &pace,
            progress: &SyncProgress::default(),
            writes: None,
            ownership,
        };
        match (&record.sf_job_id, record.phase) {
            (Some(id), JobPhase::Uploaded | JobPhase::Completed) => {
                tracing::info!(job = %id, target_name = target.name(), "resuming a job an interrupted run uploaded");
                let info = client.wait_for_job(id).await?;
                store_results(&ctx, record.key, target, &info, false).await?;
                resumed += 1;
            }
            (Some(id), _) => {
                tracing::info!(job = %id, target_name = target.name(), "aborting a job an interrupted run left open");
                job::abort_recorded_job(client, store, record.key, id).await?;
                aborted += 1;
            }
            (None, _) => {
                store.set_job_state(record.key, JobPhase::Aborted).await?;
                aborted += 1;
            }
        }
    }
    for run in store.interrupted_runs().await? {
        store
            .finish_run(
                run.id,
                RunStatus::Interrupted,
                &serde_json::json!({"note": "interrupted; resumed by a later run"}),
            )
            .await?;
    }
    Ok((resumed, aborted))
}

/// Runs one sync of one shop's export.
pub async fn run_sync(
    client: Option<&SalesforceClient>,
    store: &Store,
    ctx: &MappingContext,
    options: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    run_sync_with_progress(client, store, ctx, options, &Arc::default()).await
}

/// [`run_sync`], counting what it does in `progress` as it goes (for a display).
pub async fn run_sync_with_progress(
    client: Option<&SalesforceClient>,
    store: &Store,
    ctx: &MappingContext,
    options: &SyncOptions,
    progress: &Arc<SyncProgress>,
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    if let Some(client) = client {
        let (resumed, aborted) = resume(
            client,
            store,
            &ctx.shop,
            &options.work_dir,
            &options.ownership,
        )
        .await?;
        report.resumed_jobs = resumed;
        report.aborted_jobs = aborted;
    }
    let run = store
        .start_run(
            &ctx.shop,
            if options.dry_run.is_some() {
                "dry-run"
            } else {
                "bulk"
            },
        )
        .await?;
    report.run = run.0;
    let result = sync_inner(client, store, ctx, options, run, &mut report, progress).await;
    progress.set_phase(if result.is_ok() { "done" } else { "failed" });
    let summary = serde_json::to_value(&report).unwrap_or_default();
    match &result {
        Ok(()) => {
            store
                .finish_run(run, RunStatus::Succeeded, &summary)
                .await?;
            if options.dry_run.is_none() {
                store
                    .add_withheld_writes(run, &withheld_counts(&report.withheld))
                    .await?;
                store
                    .set_company_contact_export_hashes(
                        &ctx.shop,
                        &report.scan.company_export_hashes,
                    )
                    .await?;
                for (resource, cursor) in &report.scan.cursors {
                    store.set_cursor(&ctx.shop, resource, cursor).await?;
                }
            }
        }
        Err(e) => {
            let summary = serde_json::json!({ "error": e.to_string(), "report": summary });
            store.finish_run(run, RunStatus::Failed, &summary).await?;
        }
    }
    result.map(|()| report)
}

async fn sync_inner(
    client: Option<&SalesforceClient>,
    store: &Store,
    ctx: &MappingContext,
    options: &SyncOptions,
    run: RunId,
    report: &mut SyncReport,
    progress: &Arc<SyncProgress>,
) -> Result<(), SyncError> {
    let run_dir = options.work_dir.join(format!("run-{}", run.0));
    let started = std::time::Instant::now();
    let resolver = match (client, &options.identity) {
        (Some(client), Some(config))
            if config.enabled
                && options.dry_run.is_none()
                && ctx.account_model != crate::mapping::build::AccountModel::PersonAccount =>
        {
            progress.set_phase("reading the org's Contacts");
            let (index, tally) = identity::refresh(client, store, config, &run_dir).await?;
            report.identity_index = tally;
            Some(resolve::Resolver::new(store, Arc::new(index), config, &ctx.shop).await?)
        }
        _ => None,
    };
    let owners = match &options.owner_routing {
        Some(config) => {
            progress.set_phase("routing B2B owners");
            let plan = owner::plan(client, store, &ctx.shop, config, &options.source_dir).await?;
            report.owner_routing = Some(plan.tally.clone());
            plan.edits
        }
        None => HashMap::new(),
    };
    progress.set_phase("reading the export");
    // Owner routing's edits go to whichever side's rows they change.
    let (order_side_edits, customer_side_edits): (HashMap<_, _>, HashMap<_, _>) =
        owners.into_iter().partition(|(t, _)| t.read_from_orders());
    let failed = Mutex::new(FailedKeys::new());
    let parts_dir = options
        .dry_run
        .clone()
        .unwrap_or_else(|| run_dir.join("parts"));
    // The read hands over the customer side as soon as it is read and the orders side at
    // the end; the order cache is complete once it returns.
    let (customer_side, customer_side_read) = tokio::sync::oneshot::channel();
    let (orders_side, orders_side_read) = tokio::sync::oneshot::channel();
    let (order_cache_written, order_cache_complete) = tokio::sync::oneshot::channel::<()>();
    let read = async {
        let (scanned, order_cache) = scan::scan_export(
            store,
            run,
            ctx,
            &options.source_dir,
            &run_dir,
            progress,
            resolver,
            customer_side,
        )
        .await?;
        tracing::info!(
            lines = scanned.tally.lines,
            elapsed_ms = started.elapsed().as_millis() as u64,
            rss_mib = rss_mib(),
            "source read and spooled"
        );
        let mut edits = scanned.edits;
        for (target, e) in order_side_edits {
            let entry = edits.entry(target).or_default();
            entry.by_key.extend(e.by_key);
            entry.by_value.extend(e.by_value);
        }
        let mut spools = scanned.spools;
        attach_edits(&mut spools, edits);
        // Unanswered: the run stopped, and its error explains why. The orders side's levels
        // need not wait for the order cache; the commerce metrics do.
        let _ = orders_side.send(LateRows {
            spools,
            failed: scanned.failed,
        });
        order_cache.finish().await?;
        let _ = order_cache_written.send(());
        Ok::<_, SyncError>((scanned.tally, scanned.identity))
    };

    let pace = job::Pace::default();
    // Successes are stored by a writer running beside the levels (children need only
    // their parents' failures, not their mappings); the run ends when both are done.
    // Capacity 1: at most one job's successes wait while another's are written.
    let (writes, written) = tokio::sync::mpsc::channel(1);
    let writer = job::write_results(store, written);
    // The customer side's levels run while orders.jsonl is read; the orders side's rows
    // reach their first level when the read is done. The commerce metrics are the last
    // level: computed beside the line-item level (they need the order cache,
    // complete once the read is, and the mappings of the Contacts and Accounts, stored
    // once the writer passes the barrier sent after their level), their rows reach that
    // level when ready.
    let mut levels = levels();
    let barrier_level = metrics_wait_level(&levels);
    let orders_level = levels
        .iter()
        .position(|l| l.iter().any(|t| t.read_from_orders()))
        .unwrap_or(levels.len());
    let metrics_level = levels.len();
    levels.push(Target::METRICS.to_vec());
    let (metric_spools, late_spools) = tokio::sync::oneshot::channel();
    let (accounts_stored, metrics_may_start) = tokio::sync::oneshot::channel();
    // The last data level (the line items) is under way: from then on the engine mostly
    // waits on Salesforce, so the metrics' scan of the order cache no longer competes with
    // the read, the preparing and uploading of the orders side and the storing of results.
    let (last_level_started, metrics_in_turn) = tokio::sync::oneshot::channel();
    let as_of = options.as_of.unwrap_or_else(chrono::Utc::now);
    let metrics_dir = run_dir.join("metrics");
    let metrics = async {
        // No answer: the read, the writer or the levels stopped, and their error explains
        // the run's.
        if metrics_may_start.await.is_err()
            || order_cache_complete.await.is_err()
            || metrics_in_turn.await.is_err()
        {
            return Ok(None);
        }
        restore_order_index(store).await?;
        let (spools, tally) =
            metrics_step::build_spools(store, ctx, &options.metrics, as_of, &metrics_dir).await?;
        tracing::info!(
            customers = tally.customers,
            companies = tally.companies,
            rss_mib = rss_mib(),
            "commerce metrics computed"
        );
        // The levels stopped: their error explains the run's.
        let _ = metric_spools.send(LateRows {
            spools,
            failed: FailedKeys::new(),
        });
        Ok::<_, SyncError>(Some(tally))
    };
    let pipeline = async {
        // Not read: the read's error explains the run's.
        let Ok(customers) = customer_side_read.await else {
            return Ok(());
        };
        let mut spools = customers.spools;
        attach_edits(&mut spools, customer_side_edits);
        add_failures(&failed, customers.failed);
        run_levels(
            client,
            store,
            ctx,
            options,
            run,
            report,
            &levels,
            spools,
            &failed,
            &parts_dir,
            &run_dir,
            &pace,
            progress,
            writes,
            Some((barrier_level, accounts_stored)),
            Some((metrics_level.saturating_sub(1), last_level_started)),
            vec![
                (orders_level, orders_side_read),
                (metrics_level, late_spools),
            ],
        )
        .await
    };
    let (read, levels, metrics, writer) = tokio::join!(read, pipeline, metrics, writer);
    // Whatever stopped the run, the order cache is left indexed (the metrics step, which
    // builds the index otherwise, may not have run). The run's own failure explains more
    // than this one's.
    let indexed = restore_order_index(store).await;
    // The read's failure explains everything after it; the writer's explains the levels'
    // ("the result writer stopped"), and a failed computation of the metrics their "not
    // computed".
    let (tally, identity) = read?;
    report.scan = tally;
    report.identity = identity;
    writer?;
    let metrics = metrics?;
    levels?;
    indexed?;
    report.metrics = metrics.unwrap_or_default();
    tracing::info!(rss_mib = rss_mib(), "results stored");
    if options.dry_run.is_none() {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    Ok(())
}

/// Hands each spool the cell edits decided for its target.
fn attach_edits(
    spools: &mut HashMap<Target, spool::SpoolFile>,
    mut edits: HashMap<Target, prepare::RowEdits>,
) {
    for (target, spool) in spools.iter_mut() {
        if let Some(e) = edits.remove(target) {
            spool.edits = e;
        }
    }
}

/// Adds keys that cannot be written to the run's failures.
fn add_failures(failed: &Mutex<FailedKeys>, more: FailedKeys) {
    if let Ok(mut failed) = failed.lock() {
        for (space, keys) in more {
            failed.entry(space).or_default().extend(keys);
        }
    }
}

/// The last data level writing the objects the commerce metrics go on (Contacts and
/// Accounts): the metrics read the mappings those levels store.
fn metrics_wait_level(levels: &[Vec<Target>]) -> usize {
    let objects: Vec<&str> = Target::METRICS.iter().map(|t| t.spec().object).collect();
    levels
        .iter()
        .rposition(|level| level.iter().any(|t| objects.contains(&t.spec().object)))
        .unwrap_or(0)
}

/// Sends `barrier` to the result writer, which answers it once every write sent before
/// is stored. Sent from a task of its own: the writer's queue may be full, and the next
/// level need not wait for room in it.
fn send_barrier(
    writes: &tokio::sync::mpsc::Sender<job::ResultWrite>,
    barrier: tokio::sync::oneshot::Sender<()>,
) {
    let writes = writes.clone();
    tokio::spawn(async move {
        // A closed writer drops the barrier; its waiter then sees the run failed.
        let _ = writes.send(job::ResultWrite::Barrier(barrier)).await;
    });
}

/// Rows that reach a level while the levels before it run: the orders side of the export
/// (read while the customer side's levels run) and the commerce metrics.
struct LateRows {
    spools: HashMap<Target, spool::SpoolFile>,
    /// Keys among them that cannot be written (their children are held back).
    failed: FailedKeys,
}

/// Where a level's late rows arrive; a dropped sender means the read or the computation
/// that makes them stopped.
type LateSpools = tokio::sync::oneshot::Receiver<LateRows>;

/// Waits for the rows due at `level`, if any, and adds them to `spools` (their failures to
/// `failed`).
async fn receive_late(
    spools: &mut HashMap<Target, spool::SpoolFile>,
    late: &mut Vec<(usize, LateSpools)>,
    level: usize,
    failed: &Mutex<FailedKeys>,
    progress: &SyncProgress,
) -> Result<(), SyncError> {
    let Some(at) = late.iter().position(|(due, _)| *due == level) else {
        return Ok(());
    };
    let (_, receiver) = late.swap_remove(at);
    let arrived = receiver.await.map_err(|_| {
        SyncError::Input(format!(
            "the rows of level {} did not arrive (the read of the export, the commerce \
             metrics or the result writer stopped)",
            level + 1
        ))
    })?;
    for spool in arrived.spools.values() {
        progress.update(spool.target.name(), |t| t.read = spool.distinct() as u64);
    }
    add_failures(failed, arrived.failed);
    spools.extend(arrived.spools);
    Ok(())
}

/// One target of a level, prepared: its parts, and what prepare set aside.
struct PreparedTarget {
    target: Target,
    prepared: prepare::Prepared,
    /// Per part, the job already created and uploaded for it (staged levels only).
    opened: Vec<Option<job::OpenedJob>>,
}

/// A level prepared, and its first jobs (as many as may run at once) created and uploaded
/// but not closed, while the level before it ran. Salesforce starts a job only at
/// `UploadComplete`, so an open job waits harmlessly; closing it when the parents are done
/// takes the prepare, the job creation and the upload off the run's critical path.
struct StagedLevel {
    /// The failures it was prepared against. A parent key failing since (a record that did
    /// not land) that one of its rows points at means a row that must be held back: the
    /// stage is then aborted and the level prepared again.
    failed_before: FailedKeys,
    targets: Vec<PreparedTarget>,
}

impl StagedLevel {
    /// Whether its jobs may be closed as uploaded: no row points at a key that failed
    /// after it was prepared. Once every job of the level before has settled (see
    /// [`job::SettledParts`]) no key fails any more, so a stage found valid then (and
    /// closed early) is still valid when its level's turn comes.
    fn still_valid(&self, failed: &Mutex<FailedKeys>) -> bool {
        failed
            .lock()
            .is_ok_and(|now| !self.targets.iter().any(|t| self.is_stale(t, &now)))
    }

    /// Whether one of its targets may still be sent as staged (see [`Self::still_valid`]).
    fn target_valid(&self, target: &PreparedTarget, failed: &Mutex<FailedKeys>) -> bool {
        failed.lock().is_ok_and(|now| !self.is_stale(target, &now))
    }

    /// Whether a row of `target` points at a key in `now` that had not failed when the
    /// stage was prepared.
    fn is_stale(&self, target: &PreparedTarget, now: &FailedKeys) -> bool {
        target
            .prepared
            .points_at_new_failure(&self.failed_before, now)
    }

    /// Closes the open jobs of the targets `may_close` allows, when still valid.
    async fn close_where(
        &mut self,
        job_ctx: &JobContext<'_>,
        failed: &Mutex<FailedKeys>,
        may_close: impl Fn(Target) -> bool,
    ) -> Result<(), SyncError> {
        for i in 0..self.targets.len() {
            let target = self.targets[i].target;
            if !may_close(target) || !self.target_valid(&self.targets[i], failed) {
                continue;
            }
            for opened in self.targets[i].opened.iter_mut().flatten() {
                job::close_job(job_ctx, target, opened).await?;
            }
        }
        Ok(())
    }

    /// Opens its jobs (created, data uploaded, not closed), no more than may run at once
    /// beside `open_elsewhere` jobs opened and not closed: the staged jobs may be closed
    /// together, before the level's own run (whose permits the rest wait for) begins.
    /// `prepared_ms`: how long its preparation took, for the log.
    async fn open(
        &mut self,
        job_ctx: &JobContext<'_>,
        options: &SyncOptions,
        open_elsewhere: usize,
        prepared_ms: u64,
    ) -> Result<(), SyncError> {
        let started = std::time::Instant::now();
        let mut room = options
            .max_concurrent_jobs
            .max(1)
            .saturating_sub(open_elsewhere);
        for t in &mut self.targets {
            for (n, part) in t.prepared.parts.iter().enumerate() {
                if room == 0 {
                    break;
                }
                room -= 1;
                t.opened[n] = Some(
                    job::open_job(job_ctx, t.target, n as i32 + 1, 1, &part.path, part.rows)
                        .await?,
                );
            }
        }
        tracing::info!(
            targets = ?self.targets.iter().map(|t| t.target.name()).collect::<Vec<_>>(),
            prepared_ms,
            uploaded_ms = started.elapsed().as_millis() as u64,
            "level staged"
        );
        Ok(())
    }

    /// Jobs created for it and not yet closed.
    fn open_jobs(&self) -> usize {
        self.targets
            .iter()
            .flat_map(|t| t.opened.iter().flatten())
            .filter(|o| !o.is_closed())
            .count()
    }

    /// Its targets split into those to send as staged and those to prepare again: a
    /// target whose rows point at a key that failed since, unless one of its jobs was
    /// closed already (Salesforce has those rows; a job is closed early only once nothing
    /// its rows point at can fail any more).
    fn split_invalid(
        self,
        failed: &Mutex<FailedKeys>,
    ) -> (Vec<PreparedTarget>, Vec<PreparedTarget>) {
        let now = failures_now(failed);
        self.targets.into_iter().partition(|t| {
            t.opened.iter().flatten().any(job::OpenedJob::is_closed)
                || !t.prepared.points_at_new_failure(&self.failed_before, &now)
        })
    }
}

/// The latest level before `target`'s own holding a target its rows depend on: one whose
/// records they point at, or one writing the records they update (the commerce metrics
/// update the Contacts and Accounts written by the data levels). `None`: none.
fn latest_predecessor_level(levels: &[Vec<Target>], target: Target) -> Option<usize> {
    let own = levels
        .iter()
        .position(|level| level.contains(&target))
        .unwrap_or(levels.len());
    let mut spaces: Vec<String> = target.parent_targets().map(key_space).collect();
    spaces.push(key_space(target));
    levels[..own]
        .iter()
        .rposition(|level| level.iter().any(|t| spaces.contains(&key_space(*t))))
}

/// A copy of the failures so far.
fn failures_now(failed: &Mutex<FailedKeys>) -> FailedKeys {
    failed.lock().map(|f| f.clone()).unwrap_or_default()
}

/// Prepares every target of a level against `snapshot`, the failures so far.
async fn prepare_level(
    store: &Store,
    ctx: &MappingContext,
    options: &SyncOptions,
    level: &[Target],
    spools: &HashMap<Target, spool::SpoolFile>,
    snapshot: &FailedKeys,
    parts_dir: &Path,
) -> Result<Vec<PreparedTarget>, SyncError> {
    let mut out = Vec::new();
    for &target in level {
        let Some(spool) = spools.get(&target) else {
            continue;
        };
        let rules = options.ownership.rules(target);
        let prepared = prepare(
            store,
            &ctx.shop,
            spool,
            &rules,
            &spool.edits,
            snapshot,
            options.part_size,
            options.full,
            parts_dir,
        )
        .await?;
        let opened = prepared.parts.iter().map(|_| None).collect();
        out.push(PreparedTarget {
            target,
            prepared,
            opened,
        });
    }
    Ok(out)
}

/// Prepares the level and opens its jobs (created, data uploaded, not closed).
async fn stage_level(
    job_ctx: &JobContext<'_>,
    ctx: &MappingContext,
    options: &SyncOptions,
    level: &[Target],
    spools: &HashMap<Target, spool::SpoolFile>,
    parts_dir: &Path,
    open_elsewhere: usize,
) -> Result<StagedLevel, SyncError> {
    let (mut stage, prepared_ms) =
        prepare_stage(job_ctx, ctx, options, level, spools, parts_dir).await?;
    stage
        .open(job_ctx, options, open_elsewhere, prepared_ms)
        .await?;
    Ok(stage)
}

/// Prepares the level against the failures so far, opening no job yet; with the time it
/// took in milliseconds.
async fn prepare_stage(
    job_ctx: &JobContext<'_>,
    ctx: &MappingContext,
    options: &SyncOptions,
    level: &[Target],
    spools: &HashMap<Target, spool::SpoolFile>,
    parts_dir: &Path,
) -> Result<(StagedLevel, u64), SyncError> {
    let failed_before = failures_now(job_ctx.failed);
    let started = std::time::Instant::now();
    let targets = prepare_level(
        job_ctx.store,
        ctx,
        options,
        level,
        spools,
        &failed_before,
        parts_dir,
    )
    .await?;
    let stage = StagedLevel {
        failed_before,
        targets,
    };
    Ok((stage, started.elapsed().as_millis() as u64))
}

/// Aborts a stage's open jobs (their rows are sent by jobs of the level prepared again).
async fn discard_stage(job_ctx: &JobContext<'_>, stage: StagedLevel) -> Result<(), SyncError> {
    discard_targets(job_ctx, stage.targets).await
}

/// Aborts the open jobs of staged targets.
async fn discard_targets(
    job_ctx: &JobContext<'_>,
    targets: Vec<PreparedTarget>,
) -> Result<(), SyncError> {
    for opened in targets.into_iter().flat_map(|t| t.opened).flatten() {
        job::abort_open_job(job_ctx, opened).await?;
    }
    Ok(())
}

/// Prepares and runs the levels of the dependency graph in order; while a level's jobs
/// run, the next level is staged ([`StagedLevel`]). `barrier` (level, sender) is passed to
/// the result writer once that level's jobs are done (see [`send_barrier`]); `started`
/// (level, sender) is answered when that level begins. `late` says which levels' rows
/// arrive while the levels before them run.
#[allow(clippy::too_many_arguments)]
async fn run_levels(
    client: Option<&SalesforceClient>,
    store: &Store,
    ctx: &MappingContext,
    options: &SyncOptions,
    run: RunId,
    report: &mut SyncReport,
    levels: &[Vec<Target>],
    spools: HashMap<Target, spool::SpoolFile>,
    failed: &Mutex<FailedKeys>,
    parts_dir: &Path,
    run_dir: &Path,
    pace: &job::Pace,
    progress: &SyncProgress,
    writes: tokio::sync::mpsc::Sender<job::ResultWrite>,
    mut barrier: Option<(usize, tokio::sync::oneshot::Sender<()>)>,
    mut started: Option<(usize, tokio::sync::oneshot::Sender<()>)>,
    mut late: Vec<(usize, LateSpools)>,
) -> Result<(), SyncError> {
    let mut spools = spools;
    for spool in spools.values() {
        progress.update(spool.target.name(), |t| t.read = spool.distinct() as u64);
    }
    let job_ctx = client.map(|client| JobContext {
        client,
        store,
        run,
        shop: &ctx.shop,
        work_dir: run_dir,
        max_row_retries: options.max_row_retries,
        failed,
        pace,
        progress,
        writes: Some(&writes),
        ownership: &options.ownership,
    });
    let mut staged: Option<StagedLevel> = None;
    // The level after the next one, when staged early (see `next` below).
    let mut ahead: Option<StagedLevel> = None;
    for (n, level) in levels.iter().enumerate() {
        if let Some((_, sender)) = barrier.take_if(|(after, _)| *after < n) {
            send_barrier(&writes, sender);
        }
        if let Some((_, sender)) = started.take_if(|(level, _)| *level <= n) {
            let _ = sender.send(());
        }
        progress.set_phase(format!("level {} of {}", n + 1, levels.len()));
        let level_started = std::time::Instant::now();
        // Not staged (a dry run stages nothing): its rows are waited for now.
        receive_late(&mut spools, &mut late, n, failed, progress).await?;
        // The stage is used, but for its targets with a row that points at a key that
        // failed since it was prepared: their open jobs are aborted and they are prepared
        // again.
        let prepared = match (staged.take(), &job_ctx) {
            (Some(stage), Some(job_ctx)) if !stage.still_valid(failed) => {
                let (mut kept, invalid) = stage.split_invalid(failed);
                let again: Vec<Target> = invalid.iter().map(|t| t.target).collect();
                tracing::info!(
                    level = n + 1,
                    targets = ?again.iter().map(|t| t.name()).collect::<Vec<_>>(),
                    "records these targets point at failed while they were staged; their open jobs are aborted and they are prepared again"
                );
                discard_targets(job_ctx, invalid).await?;
                let snapshot = failures_now(failed);
                kept.extend(
                    prepare_level(store, ctx, options, &again, &spools, &snapshot, parts_dir)
                        .await?,
                );
                // In the level's order.
                kept.sort_by_key(|t| level.iter().position(|l| *l == t.target));
                kept
            }
            (Some(stage), _) => stage.targets,
            (None, _) => {
                let snapshot = failures_now(failed);
                prepare_level(store, ctx, options, level, &spools, &snapshot, parts_dir).await?
            }
        };
        let mut work = Vec::new();
        for PreparedTarget {
            target,
            prepared,
            opened,
        } in prepared
        {
            let rules = options.ownership.rules(target);
            for (column, count) in prepared.withheld.iter().enumerate() {
                if *count == 0 {
                    continue;
                }
                let rule = &rules.columns[column];
                let tally = report
                    .withheld
                    .entry(format!("{}.{}", rule.object, rule.field))
                    .or_default();
                match rule.owner {
                    Owner::Crm => tally.crm += count,
                    Owner::OnCreate => tally.on_create += count,
                    Owner::Integration => {}
                }
            }
            let spool = &spools[&target];
            let entry = report.targets.entry(target.name().to_string()).or_default();
            entry.read = spool.distinct() as u64;
            entry.unchanged = prepared.unchanged;
            entry.held = prepared.held.len() as u64;
            progress.update(target.name(), |t| {
                t.unchanged += prepared.unchanged;
                t.failed += prepared.held.len() as u64;
            });
            let letters: Vec<NewDeadLetter> = prepared
                .held
                .iter()
                .map(|h| NewDeadLetter {
                    run: Some(run),
                    shop: ctx.shop.clone(),
                    object: target.name().to_string(),
                    external_id: h.key.clone(),
                    payload: h.payload.clone(),
                    error_code: "PARENT_FAILED".to_string(),
                    message: format!("held back: {} {} failed", h.parent_space, h.parent_key),
                    hint: Some("fix the parent record's dead letter first; this row is sent again on the next run".to_string()),
                })
                .collect();
            job::write_dead_letters(store, failed, target, &letters).await?;
            if options.dry_run.is_some() {
                report
                    .dry_run_files
                    .extend(prepared.parts.iter().map(|p| p.path.clone()));
                continue;
            }
            for (n, (part, opened)) in prepared.parts.into_iter().zip(opened).enumerate() {
                work.push((target, n as i32 + 1, part, opened));
            }
        }
        tracing::info!(
            targets = ?work.iter().map(|(t, _, p, _)| (t.name(), p.rows)).collect::<Vec<_>>(),
            elapsed_ms = level_started.elapsed().as_millis() as u64,
            rss_mib = rss_mib(),
            "level prepared"
        );
        let Some(job_ctx) = &job_ctx else {
            continue;
        };
        // Run the level's jobs, a bounded number at once, and stage the next level meanwhile.
        let semaphore = tokio::sync::Semaphore::new(options.max_concurrent_jobs.max(1));
        let settled = job::SettledParts::new(work.len());
        let jobs = futures_util::future::join_all(work.into_iter().enumerate().map(
            |(i, (target, n, part, opened))| {
                let (semaphore, settled) = (&semaphore, &settled);
                async move {
                    let run = async {
                        let _permit = semaphore
                            .acquire()
                            .await
                            .map_err(|_| SyncError::Input("job pool closed".into()))?;
                        run_part(
                            job_ctx,
                            target,
                            n,
                            &part.path,
                            part.rows,
                            opened,
                            Some((settled, i)),
                        )
                        .await
                    };
                    let tally = run.await;
                    match &tally {
                        Ok(_) => settled.settle(i),
                        Err(_) => settled.break_off(),
                    }
                    Ok::<_, SyncError>((target, tally?))
                }
            },
        ));
        let carried = ahead.take();
        let next = async {
            let Some(next) = levels.get(n + 1) else {
                return Ok((None, None));
            };
            // The next level's rows arrived while this level waited for them, done (the
            // orders side, at the end of the read): the level after it has its rows too,
            // and is prepared beside the next level's staging (whose job openings mostly
            // wait on Salesforce and the store) rather than after the next level's jobs
            // are under way.
            let (mut stage, prepared_after) = match carried {
                Some(stage) => (stage, None),
                None => {
                    let late_rows = late.iter().any(|(due, _)| *due == n + 1);
                    receive_late(&mut spools, &mut late, n + 1, failed, progress).await?;
                    let level_after = levels
                        .get(n + 2)
                        .filter(|_| late_rows && !late.iter().any(|(due, _)| *due == n + 2));
                    let stage_next =
                        stage_level(job_ctx, ctx, options, next, &spools, parts_dir, 0);
                    match level_after {
                        Some(level_after) => {
                            let prepare_after = prepare_stage(
                                job_ctx,
                                ctx,
                                options,
                                level_after,
                                &spools,
                                parts_dir,
                            );
                            let (stage, after) = tokio::try_join!(stage_next, prepare_after)?;
                            (stage, Some(after))
                        }
                        None => (stage_next.await?, None),
                    }
                }
            };
            // Every job of this level finished without a failure (or had its results
            // handled): nothing more can fail that the stage's rows point at, so its jobs
            // start now instead of after this level's result downloads.
            let settled_now = settled.all().await;
            if settled_now {
                stage.close_where(job_ctx, failed, |_| true).await?;
            }
            // The level after next, when prepared: its jobs are opened, and those of its
            // targets whose parents are all in this level or before (the Orders, beside the
            // price book entries that wait for the products) start at once. A target that
            // points at a key failed since it was prepared is not closed here, and is
            // prepared again when its level comes (`split_invalid`).
            let mut after = None;
            if settled_now && let Some((mut stage_after, prepared_ms)) = prepared_after {
                stage_after
                    .open(job_ctx, options, stage.open_jobs(), prepared_ms)
                    .await?;
                stage_after
                    .close_where(job_ctx, failed, |t| {
                        latest_predecessor_level(levels, t).is_none_or(|l| l <= n)
                    })
                    .await?;
                after = Some(stage_after);
            }
            Ok::<_, SyncError>((Some(stage), after))
        };
        let (results, next) = tokio::join!(jobs, next);
        tracing::info!(
            elapsed_ms = level_started.elapsed().as_millis() as u64,
            rss_mib = rss_mib(),
            "level done"
        );
        let mut outcome = Ok(());
        for result in results {
            match result {
                Ok((target, tally)) => report
                    .targets
                    .entry(target.name().to_string())
                    .or_default()
                    .jobs
                    .add(tally),
                Err(e) => {
                    if outcome.is_ok() {
                        outcome = Err(e);
                    }
                }
            }
        }
        match (outcome, next) {
            (Ok(()), Ok((next, after))) => {
                staged = next;
                ahead = after;
            }
            (Err(e), next) => {
                // The run stops here; the next levels' open jobs are not left behind.
                if let Ok((next, after)) = next {
                    for stage in next.into_iter().chain(after) {
                        let _ = discard_stage(job_ctx, stage).await;
                    }
                }
                return Err(e);
            }
            (Ok(()), Err(e)) => return Err(e),
        }
    }
    if let Some((_, sender)) = barrier {
        send_barrier(&writes, sender);
    }
    Ok(())
}

/// Builds the order cache's per-customer index if a first load left it out (see
/// [`StateStore::suspend_order_index`]).
async fn restore_order_index(store: &Store) -> Result<(), SyncError> {
    let started = std::time::Instant::now();
    if store.restore_order_index().await? {
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "order cache's per-customer index built"
        );
    }
    Ok(())
}

/// A run's withheld values as the store counts them.
fn withheld_counts(withheld: &BTreeMap<String, WithheldTally>) -> Vec<WithheldCount> {
    let mut out = Vec::new();
    for (name, tally) in withheld {
        let (object, field) = name.split_once('.').unwrap_or((name.as_str(), ""));
        for (reason, count) in [(Owner::Crm, tally.crm), (Owner::OnCreate, tally.on_create)] {
            if count > 0 {
                out.push(WithheldCount {
                    object: object.to_string(),
                    field: field.to_string(),
                    reason: reason.as_str().to_string(),
                    count: count as i64,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orders_depend_on_no_level_of_the_catalog() {
        let levels = levels();
        let index = |t: Target| levels.iter().position(|l| l.contains(&t)).unwrap();
        let products = index(Target::Product);
        // Staged with the price book entries, the Orders may start before the products
        // are done; the price book entries wait for them, the line items for both.
        for order in [
            Target::CustomerOrder,
            Target::LocationOrder,
            Target::CompanyOrder,
        ] {
            let before = latest_predecessor_level(&levels, order).unwrap();
            assert!(before < products, "{}", order.name());
            assert_eq!(index(order), products + 1, "{}", order.name());
        }
        assert_eq!(
            latest_predecessor_level(&levels, Target::PriceEntry),
            Some(products)
        );
        assert_eq!(
            latest_predecessor_level(&levels, Target::OrderItem),
            Some(index(Target::PriceEntry))
        );
        assert_eq!(latest_predecessor_level(&levels, Target::Product), None);
        // The metrics update the records of the customer side's levels.
        assert_eq!(
            latest_predecessor_level(&levels, Target::ContactMetrics),
            Some(index(Target::CustomerContact))
        );
    }

    #[test]
    fn levels_put_parents_first_and_key_spaces_together() {
        let levels = levels();
        let index = |t: Target| levels.iter().position(|l| l.contains(&t)).unwrap();
        for t in Target::ALL {
            if t.is_metrics() {
                assert!(levels.iter().all(|l| !l.contains(&t)), "{}", t.name());
                continue;
            }
            for p in t.parent_targets() {
                assert!(index(p) < index(t), "{} before {}", p.name(), t.name());
            }
        }
        // The metrics wait for every Contact and Account, not for the orders.
        let wait = metrics_wait_level(&levels);
        for (_, kind, _) in metrics_step::PLAN {
            for t in Target::ALL.iter().filter(|t| t.spec().mapping_kind == kind) {
                assert!(index(*t) <= wait, "{} read by the metrics", t.name());
            }
        }
        assert!(wait < index(Target::CustomerOrder));
        // The customer side runs first (while orders.jsonl is read), then the orders side,
        // whose Orders go beside the price book entries (not the products).
        let last_customer = Target::ALL
            .into_iter()
            .filter(|t| !t.is_metrics() && !t.read_from_orders())
            .map(index)
            .max()
            .unwrap();
        for t in Target::ALL.into_iter().filter(|t| t.read_from_orders()) {
            assert!(
                index(t) > last_customer,
                "{} after the customer side",
                t.name()
            );
        }
        assert!(index(Target::Product) < index(Target::CustomerOrder));
        assert_eq!(index(Target::PriceEntry), index(Target::CustomerOrder));
        assert_eq!(index(Target::OrderItem), index(Target::CustomerOrder) + 1);
        // Line items wait for both kinds of order.
        assert!(index(Target::LocationOrder) < index(Target::OrderItem));
        assert!(index(Target::CompanyContact) < index(Target::CustomerOrder));
    }
}
