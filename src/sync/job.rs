//! One Bulk API 2.0 upsert job per CSV part, recorded in the state store at every step so a
//! restarted process knows where each job stood, and its results turned into id mappings,
//! payload hashes, dead letters and retries.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::mapping::csv_file::CsvWriter;
use crate::mapping::ownership::OwnershipMatrix;
use crate::mapping::target::Target;
use crate::salesforce::{
    IngestJobSpec, JobInfo, JobState, ResultBytes, ResultKind, SalesforceClient, UploadSource,
};
use crate::store::{
    JobKey, JobPhase, MappedRecord, NewDeadLetter, NewJob, RunId, StateStore, Store,
};

use super::SyncError;
use super::outcome::{RowFate, classify, split_error};
use super::prepare::{FailedKeys, key_space, row_json};
use super::result_rows::ResultRows;

/// Shared by every job of a run.
pub struct JobContext<'a> {
    pub client: &'a SalesforceClient,
    pub store: &'a Store,
    pub run: RunId,
    pub shop: &'a str,
    pub work_dir: &'a Path,
    pub max_row_retries: u32,
    pub failed: &'a Mutex<FailedKeys>,
    pub pace: &'a Pace,
    pub progress: &'a super::SyncProgress,
    /// Where a job's successes go to be stored while the run moves on (see
    /// [`PendingWrite`]); `None` stores them before the job's results count as handled.
    pub writes: Option<&'a tokio::sync::mpsc::Sender<ResultWrite>>,
    /// Field ownership: the stored hash covers only the cells a row always writes.
    pub ownership: &'a OwnershipMatrix,
}

/// How fast the org has been processing rows, learned from finished jobs, so the first
/// status poll of a job lands about when it should finish: fewer API calls than polling
/// on a fixed schedule, and no fixed 5-second waits.
///
/// Jobs closed together are assumed to be processed one after another (what an org busy
/// with one object's lock does), so a job's first poll waits for the rows queued before it
/// too; an org that processes in parallel costs a little latency, never extra calls.
///
/// When a job is seen finished, the jobs still waiting for their first poll are timed
/// again ([`Pace::until_first_poll`]): the rows queued ahead of them have gone. (A small
/// price book job closed beside 300,000 Orders was otherwise first polled when the Orders
/// and itself should both be done, though the org ran it beside them: its level, and the
/// line items after it, waited 0.35 s for it in about half the benchmark runs.)
///
/// The pace is rows over seconds summed over the finished jobs, each earlier job counting
/// half as much as the one after it: a job counts by its size, so a few hundred rows that
/// took a fixed overhead's time do not make a hundred thousand look slow.
#[derive(Debug, Default)]
pub struct Pace {
    /// (rows, seconds) of the finished jobs, decayed.
    observed: Mutex<Option<(f64, f64)>>,
    /// Rows of jobs closed and not yet seen finished.
    in_flight: std::sync::atomic::AtomicU64,
    /// Told whenever a job is seen finished.
    a_job_finished: tokio::sync::Notify,
}

/// A job's first poll, as timed when it was closed.
#[derive(Debug, Clone, Copy)]
pub struct FirstPoll {
    /// Rows of the jobs in flight when it was closed, its own included: the most that can
    /// be queued ahead of it, or be it.
    pub queued: u64,
    /// How long after the close the poll is due.
    pub after: std::time::Duration,
}

impl Pace {
    /// Rows per second assumed before any job has finished. Optimistic for a real org
    /// (a first look that finds the job running times the next one from its own pace),
    /// and not so optimistic that the first job is looked at before it can be done.
    const FIRST_GUESS: f64 = 100_000.0;
    /// How much a finished job's rows and seconds count once another job has finished.
    const DECAY: f64 = 0.5;
    /// The longest wait before the first poll.
    const MAX_FIRST_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

    /// Records a job of `rows` rows as closed; returns when to make its first poll.
    pub fn closed(&self, rows: u64) -> FirstPoll {
        let queued = self
            .in_flight
            .fetch_add(rows, std::sync::atomic::Ordering::SeqCst)
            + rows;
        FirstPoll {
            queued,
            after: Self::first_look(self.first_poll_after(queued)),
        }
    }

    /// Records a job of `rows` rows as finished.
    pub fn finished(&self, rows: u64) {
        let _ = self.in_flight.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| Some(n.saturating_sub(rows)),
        );
        self.a_job_finished.notify_waiters();
    }

    /// Waits until a job's first poll is due: `first.after` from `closed_at`, or sooner
    /// once other jobs finish first. The rows still ahead of it (its own included) are then
    /// at most those in flight, and at most those queued when it was closed; the poll is
    /// timed again from that, never later than first planned.
    pub async fn until_first_poll(&self, closed_at: tokio::time::Instant, first: FirstPoll) {
        let mut due = closed_at + first.after;
        loop {
            let finished = self.a_job_finished.notified();
            tokio::pin!(finished);
            // Registered before the sleep starts, so a finish in between is not missed.
            finished.as_mut().enable();
            tokio::select! {
                () = tokio::time::sleep_until(due) => return,
                () = &mut finished => {
                    let ahead = self
                        .in_flight
                        .load(std::sync::atomic::Ordering::SeqCst)
                        .min(first.queued);
                    let sooner = tokio::time::Instant::now()
                        + Self::first_look(self.first_poll_after(ahead));
                    due = due.min(sooner);
                }
            }
        }
    }

    /// A job expected to take longer than this is first looked at part-way
    /// ([`Pace::first_look`]). (At 2 s, the 300,000 Orders, expected in 1.9 s at the pace
    /// the Accounts and Contacts had shown, were processed in 1.06 s and first polled when
    /// expected: 0.8 s late, with the line items waiting on them.)
    const LONG_JOB: std::time::Duration = std::time::Duration::from_secs(1);
    /// How far into a long job's expected time its first poll comes.
    const LONG_JOB_FIRST_LOOK: f64 = 0.6;

    /// When to make the first poll of a job expected to take `expected`. A short job is
    /// polled when it should be done. A long one is polled part-way: the pace learned from
    /// other objects may be off by a second or more for this one, and the progress Salesforce
    /// reports by then (records processed, processing time) times the next poll to within a
    /// few percent of the end ([`SalesforceClient::wait_for_ingest`]), for one more status
    /// call.
    pub fn first_look(expected: std::time::Duration) -> std::time::Duration {
        if expected > Self::LONG_JOB {
            expected.mul_f64(Self::LONG_JOB_FIRST_LOOK)
        } else {
            expected
        }
    }

    /// How long `rows` rows take at the learned pace (capped).
    pub fn first_poll_after(&self, rows: u64) -> std::time::Duration {
        let rate = self
            .observed
            .lock()
            .ok()
            .and_then(|o| *o)
            .map_or(Self::FIRST_GUESS, |(rows, seconds)| rows / seconds);
        let seconds = rows as f64 / rate.max(1.0);
        std::time::Duration::from_secs_f64(seconds).min(Self::MAX_FIRST_WAIT)
    }

    /// Learns from a finished job, by Salesforce's own processing time. A job reported as
    /// taking none (under a millisecond) teaches nothing: the time it waited is queueing and
    /// polling, not pace. (Taking that instead once made a 200-row job that waited 0.1 s set
    /// the pace at 1,800 rows a second, and the 99,524-row job closed after it waited 18 s
    /// for its first poll, in about one benchmark run in seven.)
    pub fn learn(&self, info: &JobInfo) {
        if info.number_records_processed < 100 || info.total_processing_time == 0 {
            return;
        }
        let seconds = info.total_processing_time as f64 / 1000.0;
        let rows = info.number_records_processed as f64;
        if let Ok(mut observed) = self.observed.lock() {
            let (past_rows, past_seconds) = observed.unwrap_or((0.0, 0.0));
            *observed = Some((
                past_rows * Self::DECAY + rows,
                past_seconds * Self::DECAY + seconds,
            ));
        }
    }
}

/// What happened to the rows of one part (over all its attempts).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct JobTally {
    pub jobs: u64,
    pub uploaded: u64,
    pub created: u64,
    pub updated: u64,
    pub dead_lettered: u64,
    pub retried: u64,
}

impl JobTally {
    pub fn add(&mut self, other: JobTally) {
        self.jobs += other.jobs;
        self.uploaded += other.uploaded;
        self.created += other.created;
        self.updated += other.updated;
        self.dead_lettered += other.dead_lettered;
        self.retried += other.retried;
    }
}

/// Rows per state-store write. Large batches, sorted by key, touch each B-tree page once
/// per transaction instead of once per row.
const STORE_BATCH: usize = 50_000;

/// A job created and its data uploaded, not yet closed (see [`open_job`]).
#[derive(Debug)]
pub struct OpenedJob {
    key: JobKey,
    info: JobInfo,
    rows: u64,
    upload_ms: u64,
    /// Once closed ([`close_job`]): when, and when its first poll is due.
    closed: Option<(std::time::Instant, FirstPoll)>,
}

impl OpenedJob {
    /// Whether it was closed (Salesforce has it queued or is processing it).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }
}

/// Closes an opened job (`UploadComplete`: Salesforce queues it) and records it uploaded;
/// a job already closed is left as it is. Returns when it was closed and when its first
/// poll is due.
pub async fn close_job(
    ctx: &JobContext<'_>,
    target: Target,
    job: &mut OpenedJob,
) -> Result<(std::time::Instant, FirstPoll), SyncError> {
    if let Some(closed) = job.closed {
        return Ok(closed);
    }
    ctx.client.close_job(&job.info.id).await?;
    // The wait is timed from the close, not from the state write below, which may queue
    // behind the result writer's transactions.
    let closed = (std::time::Instant::now(), ctx.pace.closed(job.rows));
    job.closed = Some(closed);
    tracing::debug!(
        target_name = target.name(),
        job = %job.info.id,
        rows = job.rows,
        upload_ms = job.upload_ms,
        first_poll_ms = closed.1.after.as_millis() as u64,
        "uploaded and closed"
    );
    ctx.progress
        .update(target.name(), |t| t.uploaded += job.rows);
    ctx.store.set_job_state(job.key, JobPhase::Uploaded).await?;
    crash_point("after-upload");
    Ok(closed)
}

/// The parts of a level that can no longer add a failure: their last job finished with
/// none, or their results are all handled. Once every part has, the next level's staged
/// jobs may be closed without waiting for the results' downloads.
#[derive(Debug)]
pub struct SettledParts {
    settled: Mutex<Vec<bool>>,
    /// A part stopped with an error: the level will fail, nothing is closed early.
    broken: std::sync::atomic::AtomicBool,
    changed: tokio::sync::Notify,
}

impl SettledParts {
    pub fn new(parts: usize) -> SettledParts {
        SettledParts {
            settled: Mutex::new(vec![false; parts]),
            broken: std::sync::atomic::AtomicBool::new(false),
            changed: tokio::sync::Notify::new(),
        }
    }

    pub fn settle(&self, part: usize) {
        if let Ok(mut s) = self.settled.lock()
            && let Some(p) = s.get_mut(part)
        {
            *p = true;
        }
        self.changed.notify_one();
    }

    pub fn break_off(&self) {
        self.broken.store(true, std::sync::atomic::Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// Waits until every part has settled (true) or one broke off (false).
    pub async fn all(&self) -> bool {
        loop {
            let changed = self.changed.notified();
            if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
                return false;
            }
            if self.settled.lock().is_ok_and(|s| s.iter().all(|p| *p)) {
                return true;
            }
            changed.await;
        }
    }
}

/// Records a job, creates it in Salesforce and uploads its data, leaving it open: it does
/// not start until closed ([`run_part`] closes it). The record comes first, so a restart
/// finds and aborts a job this process left open.
pub async fn open_job(
    ctx: &JobContext<'_>,
    target: Target,
    part_no: i32,
    attempt: u32,
    source: &Path,
    rows: u64,
) -> Result<OpenedJob, SyncError> {
    let spec = target.spec();
    ctx.client.ensure_allowance()?;
    let key = ctx
        .store
        .record_job(&NewJob {
            run: ctx.run,
            object: target.name().to_string(),
            operation: "upsert".to_string(),
            external_id_field: Some(spec.external_id.to_string()),
            part: part_no,
            attempt: attempt as i32,
            row_count: rows as i64,
            payload_path: Some(source.display().to_string()),
        })
        .await?;
    let info = ctx
        .client
        .create_ingest_job(&IngestJobSpec::upsert(spec.object, spec.external_id))
        .await?;
    ctx.store.set_job_salesforce_id(key, &info.id).await?;
    ctx.store.set_job_state(key, JobPhase::Created).await?;
    crash_point("before-upload");
    let upload_started = std::time::Instant::now();
    ctx.client
        .upload_job_data(&info.id, UploadSource::File(source.to_path_buf()))
        .await?;
    Ok(OpenedJob {
        key,
        info,
        rows,
        upload_ms: upload_started.elapsed().as_millis() as u64,
        closed: None,
    })
}

/// Aborts the Salesforce job and records it aborted. A job Salesforce will not abort
/// (already closed and finished, or gone) has nothing left to abort.
pub async fn abort_recorded_job(
    client: &SalesforceClient,
    store: &Store,
    key: JobKey,
    job_id: &str,
) -> Result<(), SyncError> {
    match client.abort_job(job_id).await {
        Ok(_) => {}
        Err(crate::salesforce::SalesforceError::Api { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    store.set_job_state(key, JobPhase::Aborted).await?;
    Ok(())
}

/// Aborts a job [`open_job`] opened and that will not be run.
pub async fn abort_open_job(ctx: &JobContext<'_>, opened: OpenedJob) -> Result<(), SyncError> {
    abort_recorded_job(ctx.client, ctx.store, opened.key, &opened.info.id).await
}

/// Runs a part through Salesforce, then its transient failures again in new jobs, up to
/// the retry limit; what still fails is dead-lettered. `opened`: the part's job, already
/// created and uploaded ([`open_job`]), perhaps closed; otherwise it is opened here.
/// `settled` is told as soon as a job of the part finishes without a failure (its results
/// can add none).
pub async fn run_part(
    ctx: &JobContext<'_>,
    target: Target,
    part_no: i32,
    path: &Path,
    rows: u64,
    mut opened: Option<OpenedJob>,
    settled: Option<(&SettledParts, usize)>,
) -> Result<JobTally, SyncError> {
    let mut tally = JobTally::default();
    let mut source = path.to_path_buf();
    let mut row_count = rows;
    let mut attempt: u32 = 1;
    loop {
        let mut job = match opened.take() {
            Some(job) => job,
            None => open_job(ctx, target, part_no, attempt, &source, row_count).await?,
        };
        let (waiting, first_poll) = close_job(ctx, target, &mut job).await?;
        let OpenedJob { key, info, .. } = job;
        if crash_armed("mid-poll") {
            ctx.client.job_info(&info.id).await?;
            crash_point("mid-poll");
        }
        tally.jobs += 1;
        tally.uploaded += row_count;
        ctx.pace.until_first_poll(waiting.into(), first_poll).await;
        let done = ctx.client.wait_for_ingest(&info.id, row_count).await;
        ctx.pace.finished(row_count);
        let done = done?;
        ctx.pace.learn(&done);
        if done.state == JobState::JobComplete
            && done.number_records_failed == 0
            && let Some((parts, n)) = settled
        {
            parts.settle(n);
        }
        tracing::info!(
            target_name = target.name(),
            job = %info.id,
            state = done.state.as_str(),
            processed = done.number_records_processed,
            failed = done.number_records_failed,
            processing_ms = done.total_processing_time,
            waited_ms = waiting.elapsed().as_millis() as u64,
            attempt,
            "bulk job finished"
        );
        let results_started = std::time::Instant::now();
        let outcome = store_results(ctx, key, target, &done, true).await?;
        tracing::info!(
            target_name = target.name(),
            elapsed_ms = results_started.elapsed().as_millis() as u64,
            "results handled"
        );
        ctx.progress.update(target.name(), |t| {
            t.succeeded += outcome.created + outcome.updated;
            t.failed += outcome.dead_lettered;
        });
        tally.created += outcome.created;
        tally.updated += outcome.updated;
        tally.dead_lettered += outcome.dead_lettered;
        let Some((retry_path, retry_rows)) = outcome.retry else {
            break;
        };
        if attempt > ctx.max_row_retries {
            let exhausted = dead_letter_file(
                ctx,
                target,
                &retry_path,
                "RETRIES_EXHAUSTED",
                &format!("still failing for a transient reason after {attempt} attempts"),
                "Salesforce kept the rows locked or unprocessed; run the sync again later or retry from the dead-letter queue",
            )
            .await?;
            ctx.progress
                .update(target.name(), |t| t.failed += exhausted);
            tally.dead_lettered += exhausted;
            break;
        }
        tally.retried += retry_rows;
        source = retry_path;
        row_count = retry_rows;
        attempt += 1;
    }
    Ok(tally)
}

/// What a finished job's results held.
#[derive(Debug, Default)]
pub struct StoredResults {
    pub created: u64,
    pub updated: u64,
    pub dead_lettered: u64,
    /// Rows to send again (transient failures, unprocessed rows), as a CSV part.
    pub retry: Option<(PathBuf, u64)>,
}

/// Downloads a finished job's result files and stores what they say: mappings and payload
/// hashes for successes, dead letters for permanent failures, a retry part for the rest
/// (when `retry`; otherwise those rows are left for the next run to send). Matching is by
/// the external ID echoed in each result row, never by row order.
pub async fn store_results(
    ctx: &JobContext<'_>,
    key: JobKey,
    target: Target,
    info: &JobInfo,
    retry: bool,
) -> Result<StoredResults, SyncError> {
    ctx.store.set_job_state(key, JobPhase::Completed).await?;
    ctx.store
        .set_job_counts(
            key,
            info.number_records_processed as i64,
            info.number_records_failed as i64,
        )
        .await?;
    let dir = ctx.work_dir.join("results");
    std::fs::create_dir_all(&dir).map_err(|e| SyncError::io(&dir, e))?;
    let base = dir.join(format!("job{}-{}", key.0, info.id));
    let mut out = StoredResults::default();

    // A result file the job's counts say is empty is not asked for: a finished job has
    // no unprocessed rows, one with no failures no failed rows, and one whose rows all
    // failed no successes. Three calls per job become one in the usual case.
    let complete = info.state == JobState::JobComplete;
    let any_failed = !complete || info.number_records_failed > 0;
    let any_succeeded = !complete || info.number_records_processed > info.number_records_failed;

    // Successes, read while they download. Written in key order (the id-mapping table is
    // a B-tree: inserting in key order is several times faster than in the parent-grouped
    // order results come in): in batches as they arrive while each batch lies above the
    // ones before, as when the keys grow with their parents' (line items under orders
    // sent in id order); otherwise gathered and sorted whole.
    let successes = if any_succeeded {
        let expected = info
            .number_records_processed
            .saturating_sub(info.number_records_failed);
        stream_successes(ctx, key, target, &info.id, expected, &mut out).await?
    } else {
        Successes::default()
    };

    // Failures and unprocessed rows.
    let retry_path = base.with_extension("retry.csv");
    let mut retry_writer = if retry {
        let file = std::fs::File::create(&retry_path).map_err(|e| SyncError::io(&retry_path, e))?;
        Some(
            CsvWriter::new(target, std::io::BufWriter::new(file))
                .map_err(|e| SyncError::io(&retry_path, e))?,
        )
    } else {
        None
    };
    let mut letters = Vec::new();
    if any_failed {
        let path = base.with_extension("failed.csv");
        read_result_rows(ctx, target, &info.id, ResultKind::Failed, &path, |record| {
            let error = record.get(1).unwrap_or("");
            let (code, message) = split_error(error);
            match classify(code, message) {
                RowFate::Retry => {
                    if let Some(w) = retry_writer.as_mut() {
                        w.write_texts(record.iter().skip(2))
                            .map_err(|e| SyncError::io(&retry_path, e))?;
                    }
                }
                RowFate::DeadLetter { hint } => {
                    let cells = csv::StringRecord::from(record.iter().skip(2).collect::<Vec<_>>());
                    letters.push(row_letter(ctx, target, &cells, code, message, hint));
                }
            }
            Ok(())
        })
        .await?;
    }
    if !complete {
        let path = base.with_extension("unprocessed.csv");
        read_result_rows(
            ctx,
            target,
            &info.id,
            ResultKind::Unprocessed,
            &path,
            |record| {
                if let Some(w) = retry_writer.as_mut() {
                    w.write_texts(record.iter())
                        .map_err(|e| SyncError::io(&retry_path, e))?;
                }
                Ok(())
            },
        )
        .await?;
    }
    out.dead_lettered += write_dead_letters(ctx.store, ctx.failed, target, &letters).await?;
    if let Some(w) = retry_writer {
        let rows = w.rows();
        let mut inner = w.finish().map_err(|e| SyncError::io(&retry_path, e))?;
        std::io::Write::flush(&mut inner).map_err(|e| SyncError::io(&retry_path, e))?;
        if rows > 0 {
            out.retry = Some((retry_path, rows));
        }
    }
    hand_over(
        ctx,
        PendingWrite {
            job: Some(key),
            target,
            shop: ctx.shop.to_string(),
            successes,
        },
    )
    .await?;
    Ok(out)
}

/// Gives successes to the run's result writer, or (no writer) stores them now.
async fn hand_over(ctx: &JobContext<'_>, pending: PendingWrite) -> Result<(), SyncError> {
    match ctx.writes {
        Some(writes) => writes
            .send(ResultWrite::Successes(pending))
            .await
            .map_err(|_| SyncError::Input("the result writer stopped".into())),
        None => pending.finish(ctx.store).await,
    }
}

/// A finished job's successes (or a batch of them) on their way into the state store.
/// Children never need their parents' mappings (rows point at parents by external ID), so
/// the run goes on to the next level while these are written; the job is marked
/// `ResultsStored` only once its last write is stored, so a crash before that makes the
/// next run fetch the results again.
pub struct PendingWrite {
    /// The job whose last write this is (marked `ResultsStored` once it is stored);
    /// `None`: a batch sent while the rest download, the job's last write follows.
    job: Option<JobKey>,
    target: Target,
    shop: String,
    successes: Successes,
}

impl PendingWrite {
    /// Writes the id mappings (with payload hashes) and, for a job's last write, marks
    /// the job's results stored.
    pub async fn finish(self, store: &Store) -> Result<(), SyncError> {
        let started = std::time::Instant::now();
        let rows = self.successes.rows.len();
        self.successes.write(store, &self.shop, self.target).await?;
        let Some(job) = self.job else {
            return Ok(());
        };
        store.set_job_state(job, JobPhase::ResultsStored).await?;
        tracing::debug!(
            target_name = self.target.name(),
            rows,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "results stored"
        );
        crash_point("after-results");
        Ok(())
    }
}

/// Downloads one result file of a finished job to `path`, hands each of its rows to
/// `visit`, and removes the file once read.
async fn read_result_rows(
    ctx: &JobContext<'_>,
    target: Target,
    job_id: &str,
    kind: ResultKind,
    path: &Path,
    mut visit: impl FnMut(&csv::StringRecord) -> Result<(), SyncError>,
) -> Result<(), SyncError> {
    let timer = std::time::Instant::now();
    ctx.client.download_results(job_id, kind, path).await?;
    let downloaded_ms = timer.elapsed().as_millis() as u64;
    let mut reader = csv_reader(path)?;
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    while read(&mut reader, &mut record, path)? {
        visit(&record)?;
        rows += 1;
    }
    tracing::debug!(
        target_name = target.name(),
        ?kind,
        downloaded_ms,
        parsed_ms = timer.elapsed().as_millis() as u64 - downloaded_ms,
        rows,
        "results read"
    );
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// What the result writer is sent.
pub enum ResultWrite {
    /// Successes to store: a job's last write (then the job counts as handled) or a
    /// batch sent while the rest download.
    Successes(PendingWrite),
    /// Answered once every write sent before it is stored: a step that reads mappings
    /// (the commerce metrics) starts before the run's later levels are done.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// Stores the [`PendingWrite`]s it receives, in order, until the channel closes. After
/// a failure it stops taking writes (senders then fail; barriers are dropped unanswered)
/// and returns the failure.
pub async fn write_results(
    store: &Store,
    mut writes: tokio::sync::mpsc::Receiver<ResultWrite>,
) -> Result<(), SyncError> {
    while let Some(write) = writes.recv().await {
        match write {
            ResultWrite::Successes(pending) => {
                if let Err(error) = pending.finish(store).await {
                    writes.close();
                    return Err(error);
                }
            }
            // The reader may have stopped waiting (its run failed): nothing to answer.
            ResultWrite::Barrier(stored) => {
                let _ = stored.send(());
            }
        }
    }
    Ok(())
}

/// Downloads a job's successful rows, records their id mappings and payload hashes (in
/// batches sent to the writer as they arrive, where key order allows) and counts them
/// created or updated. Returns the rows still to be written.
async fn stream_successes(
    ctx: &JobContext<'_>,
    key: JobKey,
    target: Target,
    job_id: &str,
    expected: u64,
    out: &mut StoredResults,
) -> Result<Successes, SyncError> {
    let timer = std::time::Instant::now();
    // Room for the first batch up front (the job's counts say how many rows to expect).
    let first_batch = usize::try_from(expected).map_or(STORE_BATCH, |n| n.min(STORE_BATCH));
    let rules = ctx.ownership.rules(target);
    let (sink, mut received) = tokio::sync::mpsc::channel(8);
    let download = async move {
        ctx.client
            .stream_results(job_id, ResultKind::Successful, &sink)
            .await
    };
    // Owns the receiving end: a reader that stops early closes it, which stops the
    // download instead of leaving it waiting for room.
    let read = async move {
        let mut batches = SuccessBatches::expecting(first_batch);
        let mut rows = ResultRows::new();
        let bad = |e: String| {
            SyncError::Input(format!(
                "the successful results of job {job_id} are not CSV: {e}"
            ))
        };
        while let Some(bytes) = received.recv().await {
            match bytes {
                // A retried download: what the last attempt sent to be written is
                // written again (the same values), the counts start over.
                ResultBytes::Restart => {
                    batches = SuccessBatches::default();
                    rows = ResultRows::new();
                }
                ResultBytes::Data(data) => {
                    rows.push(&data, |r| batches.visit(r, &rules), bad)?;
                    if let Some(batch) = batches.ready() {
                        let batch = PendingWrite {
                            job: None,
                            target,
                            shop: ctx.shop.to_string(),
                            successes: batch,
                        };
                        hand_over(ctx, batch).await?;
                    }
                }
            }
        }
        rows.finish(|r| batches.visit(r, &rules), bad)?;
        Ok::<_, SyncError>((batches, rows.rows()))
    };
    let (downloaded, read) = tokio::join!(download, read);
    // A reader that stopped explains the download's "reader stopped".
    let (batches, rows) = read?;
    downloaded?;
    tracing::debug!(
        target_name = target.name(),
        job = key.0,
        rows,
        batches_sent = batches.sent,
        elapsed_ms = timer.elapsed().as_millis() as u64,
        "successful results read"
    );
    out.created += batches.created;
    out.updated += batches.updated;
    Ok(batches.current)
}

/// Successful rows gathered while their result file downloads, given to the writer in
/// key-ordered batches of [`STORE_BATCH`] while each batch lies (all but 1 % of it) above
/// the keys sent before: written as they come, the B-tree pages they touch are mostly new
/// ones. From the first batch that does not, the rest is kept and sorted whole at the end.
#[derive(Default)]
struct SuccessBatches {
    current: Successes,
    /// The highest key sent in a batch; `None` before the first.
    sent_up_to: Option<String>,
    /// A batch overlapped the ones before: no more are sent.
    gathering: bool,
    sent: u64,
    created: u64,
    updated: u64,
}

impl SuccessBatches {
    /// Batches whose first has room for `rows` rows.
    fn expecting(rows: usize) -> SuccessBatches {
        SuccessBatches {
            current: Successes::with_room(rows, rows * Successes::KEY_BYTES_GUESS),
            ..SuccessBatches::default()
        }
    }

    fn visit(
        &mut self,
        record: &csv::StringRecord,
        rules: &crate::mapping::ownership::TargetRules,
    ) -> Result<(), SyncError> {
        if let (Some(id), Some(created), Some(external)) =
            (record.get(0), record.get(1), record.get(2))
        {
            if created.eq_ignore_ascii_case("true") {
                self.created += 1;
            } else {
                self.updated += 1;
            }
            self.current
                .push(external, id, rules.delta_hash(record.iter().skip(2)));
        }
        Ok(())
    }

    /// A batch to write now, if one is full and lies above every key sent before.
    fn ready(&mut self) -> Option<Successes> {
        if self.gathering || self.current.rows.len() < STORE_BATCH {
            return None;
        }
        self.current.sort();
        let (first, last) = match (self.current.rows.first(), self.current.rows.last()) {
            (Some(first), Some(last)) => (self.current.key(first), self.current.key(last)),
            _ => return None,
        };
        if let Some(sent) = self.sent_up_to.as_deref()
            && first <= sent
        {
            // A few rows below the keys sent (an export's records are only nearly in
            // order; one parent's children may straddle two batches) cost a few pages
            // written twice. More mean the rows come in no useful order.
            let rows = &self.current.rows;
            let below = rows.partition_point(|r| self.current.key(r) <= sent);
            if below * 100 > rows.len() {
                self.gathering = true;
                return None;
            }
        }
        if self.sent_up_to.as_deref().is_none_or(|sent| last > sent) {
            self.sent_up_to = Some(last.to_string());
        }
        self.sent += 1;
        let next = Successes::sized_like(&self.current);
        Some(std::mem::replace(&mut self.current, next))
    }
}

/// A job's successful rows: external IDs in one text arena, Salesforce Ids inline
/// (about 40 bytes a row).
#[derive(Default)]
struct Successes {
    keys: String,
    rows: Vec<SuccessRow>,
}

struct SuccessRow {
    key_start: u32,
    key_len: u32,
    sf_id: [u8; 18],
    sf_id_len: u8,
    hash: i64,
}

impl Successes {
    /// Bytes of an external ID, about (a Shopify legacy id is 13-14 digits).
    const KEY_BYTES_GUESS: usize = 16;

    /// Empty, with room for as many rows and key bytes as `batch` holds: the next batch
    /// is filled without growing (each doubling of a multi-megabyte vector is a fresh block
    /// of pages to fault in).
    fn sized_like(batch: &Successes) -> Successes {
        Successes::with_room(batch.rows.len(), batch.keys.len())
    }

    fn with_room(rows: usize, key_bytes: usize) -> Successes {
        Successes {
            keys: String::with_capacity(key_bytes),
            rows: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, key: &str, sf_id: &str, hash: i64) {
        let mut id = [0u8; 18];
        let n = sf_id.len().min(18);
        id[..n].copy_from_slice(&sf_id.as_bytes()[..n]);
        self.rows.push(SuccessRow {
            key_start: self.keys.len() as u32,
            key_len: key.len() as u32,
            sf_id: id,
            sf_id_len: n as u8,
            hash,
        });
        self.keys.push_str(key);
    }

    fn key(&self, row: &SuccessRow) -> &str {
        &self.keys[row.key_start as usize..(row.key_start + row.key_len) as usize]
    }

    /// Puts the rows in key order (already sorted rows cost one pass).
    fn sort(&mut self) {
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_unstable_by(|a, b| self.key(a).cmp(self.key(b)));
        self.rows = rows;
    }

    async fn write(mut self, store: &Store, shop: &str, target: Target) -> Result<(), SyncError> {
        let spec = target.spec();
        self.sort();
        for chunk in self.rows.chunks(STORE_BATCH) {
            let records: Vec<MappedRecord<'_>> = chunk
                .iter()
                .map(|r| MappedRecord {
                    shopify_id: self.key(r),
                    sf_id: std::str::from_utf8(&r.sf_id[..r.sf_id_len as usize]).unwrap_or(""),
                    payload_hash: Some(r.hash),
                })
                .collect();
            store
                .put_mapped(shop, spec.mapping_kind, spec.object, &records)
                .await?;
        }
        Ok(())
    }
}

/// The dead letter of one row of `target` (`cells` in the target's column order).
fn row_letter(
    ctx: &JobContext<'_>,
    target: Target,
    cells: &csv::StringRecord,
    code: &str,
    message: &str,
    hint: &str,
) -> NewDeadLetter {
    NewDeadLetter {
        run: Some(ctx.run),
        shop: ctx.shop.to_string(),
        object: target.name().to_string(),
        external_id: cells.get(0).unwrap_or("").to_string(),
        payload: row_json(target.spec().columns, cells),
        error_code: code.to_string(),
        message: message.to_string(),
        hint: Some(hint.to_string()),
    }
}

/// Stores dead letters of `target`'s rows and adds their keys to the failed set, so rows
/// pointing at them are held back. Returns how many.
pub async fn write_dead_letters(
    store: &Store,
    failed: &Mutex<FailedKeys>,
    target: Target,
    letters: &[NewDeadLetter],
) -> Result<u64, SyncError> {
    if letters.is_empty() {
        return Ok(0);
    }
    for chunk in letters.chunks(STORE_BATCH) {
        store.dead_letter(chunk).await?;
    }
    if let Ok(mut keys) = failed.lock() {
        keys.entry(key_space(target))
            .or_default()
            .extend(letters.iter().map(|l| l.external_id.clone()));
    }
    Ok(letters.len() as u64)
}

/// Dead-letters every row of a part file with one reason; returns how many.
pub async fn dead_letter_file(
    ctx: &JobContext<'_>,
    target: Target,
    path: &Path,
    code: &str,
    message: &str,
    hint: &str,
) -> Result<u64, SyncError> {
    let mut reader = csv_reader(path)?;
    let mut record = csv::StringRecord::new();
    let mut letters = Vec::new();
    while read(&mut reader, &mut record, path)? {
        letters.push(row_letter(ctx, target, &record, code, message, hint));
    }
    write_dead_letters(ctx.store, ctx.failed, target, &letters).await
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>, SyncError> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| SyncError::Spool(format!("{}: {e}", path.display())))
}

fn read(
    reader: &mut csv::Reader<std::fs::File>,
    record: &mut csv::StringRecord,
    path: &Path,
) -> Result<bool, SyncError> {
    reader
        .read_record(record)
        .map_err(|e| SyncError::Spool(format!("{}: {e}", path.display())))
}

/// Fault injection for crash-safety tests: with `SHOPFORCE_CRASH_AT=<point>` (or
/// `<point>#<n>` for the n-th time) the process aborts on the spot when a job reaches that
/// point, as `kill -9` would stop it. Points: `before-upload` (the Salesforce job exists,
/// nothing uploaded), `after-upload` (`UploadComplete` sent), `mid-poll` (after the first
/// status poll), `after-results` (results stored). Unset, it costs one environment lookup
/// per job.
pub fn crash_point(point: &str) {
    static SEEN: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());
    let Ok(spec) = std::env::var("SHOPFORCE_CRASH_AT") else {
        return;
    };
    let (name, nth) = match spec.split_once('#') {
        Some((n, k)) => (n.to_string(), k.parse::<u32>().unwrap_or(1)),
        None => (spec.clone(), 1),
    };
    if name != point {
        return;
    }
    let count = match SEEN.lock() {
        Ok(mut seen) => match seen.iter_mut().find(|(p, _)| p == point) {
            Some((_, c)) => {
                *c += 1;
                *c
            }
            None => {
                seen.push((point.to_string(), 1));
                1
            }
        },
        Err(_) => return,
    };
    if count == nth {
        eprintln!("SHOPFORCE_CRASH_AT={spec}: aborting at {point}");
        std::process::abort();
    }
}

/// Whether a crash point is armed (so the extra poll of `mid-poll` is only made then).
fn crash_armed(point: &str) -> bool {
    std::env::var("SHOPFORCE_CRASH_AT").is_ok_and(|s| s.split('#').next() == Some(point))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished_job(rows: u64, ms: u64) -> JobInfo {
        serde_json::from_value(serde_json::json!({
            "id": "7505g0000000001AAA", "state": "JobComplete", "object": "Contact",
            "operation": "upsert", "numberRecordsProcessed": rows, "totalProcessingTime": ms,
        }))
        .unwrap()
    }

    #[test]
    fn a_long_job_is_first_looked_at_part_way() {
        let ms = std::time::Duration::from_millis;
        // Short jobs: polled when they should be done.
        assert_eq!(Pace::first_look(ms(300)), ms(300));
        assert_eq!(Pace::first_look(ms(1000)), ms(1000));
        // Long ones: at 60 % of the expected time, to learn their own pace.
        assert_eq!(Pace::first_look(ms(2000)), ms(1200));
        assert_eq!(Pace::first_look(ms(10_000)), ms(6000));
    }

    #[test]
    fn the_first_poll_waits_for_the_rows_queued_ahead() {
        let pace = Pace::default();
        pace.learn(&finished_job(100_000, 1000));
        // 100,000 rows a second, from Salesforce's own processing time.
        assert_eq!(
            pace.first_poll_after(50_000),
            std::time::Duration::from_millis(500)
        );
        let first = pace.closed(100_000);
        let second = pace.closed(10_000);
        assert_eq!(first.after, std::time::Duration::from_secs(1));
        // 1.1 s of rows ahead and its own: a long wait, first looked at part-way.
        assert_eq!(second.after, std::time::Duration::from_millis(660));
        assert_eq!(second.queued, 110_000);
        pace.finished(100_000);
        pace.finished(10_000);
        assert_eq!(
            pace.closed(10_000).after,
            std::time::Duration::from_millis(100)
        );
        // Tiny jobs teach nothing.
        pace.learn(&finished_job(10, 1000));
        assert_eq!(
            pace.first_poll_after(100_000),
            std::time::Duration::from_secs(1)
        );
        // Nor does a job Salesforce reports as taking no time (under a millisecond), however
        // long it waited to be polled.
        pace.learn(&finished_job(200, 0));
        assert_eq!(
            pace.first_poll_after(100_000),
            std::time::Duration::from_secs(1)
        );
    }

    /// The time a job waiting for its first poll waits, with others finishing meanwhile
    /// (`finishes`: rows, at that many milliseconds after the close).
    async fn first_poll_wait(pace: &Pace, first: FirstPoll, finishes: &[(u64, u64)]) -> u64 {
        let start = tokio::time::Instant::now();
        let finishing = async {
            for &(rows, at_ms) in finishes {
                tokio::time::sleep_until(start + std::time::Duration::from_millis(at_ms)).await;
                pace.finished(rows);
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            () = pace.until_first_poll(start, first) => {}
            () = finishing => unreachable!("pending forever"),
        }
        start.elapsed().as_millis() as u64
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_queued_behind_another_is_polled_soon_after_it_finishes() {
        let pace = Pace::default();
        pace.learn(&finished_job(100_000, 1000));
        pace.closed(100_000);
        let small = pace.closed(10_000);
        assert_eq!(small.after, std::time::Duration::from_millis(660));
        // The big job is seen finished at 0.3 s: the small one is polled 0.1 s later, not
        // at 0.66 s.
        assert_eq!(first_poll_wait(&pace, small, &[(100_000, 300)]).await, 400);
        pace.finished(10_000);

        // A job closed after the one waiting does not hold it back: a finish never makes
        // the poll later than planned.
        let waiting = pace.closed(10_000);
        pace.closed(500_000);
        assert_eq!(first_poll_wait(&pace, waiting, &[(1, 50)]).await, 100);
        pace.finished(510_000 - 1);

        // Nothing finishes: the poll comes when first planned.
        let alone = pace.closed(20_000);
        assert_eq!(first_poll_wait(&pace, alone, &[]).await, 200);
    }

    #[test]
    fn the_pace_weighs_jobs_by_their_rows() {
        let pace = Pace::default();
        pace.learn(&finished_job(100_000, 1000));
        // A thousand rows at 10,000 a second (mostly fixed overhead): 51,000 rows in 0.6 s.
        pace.learn(&finished_job(1000, 100));
        let close = |got: std::time::Duration, want_ms: f64| {
            (got.as_secs_f64() * 1000.0 - want_ms).abs() < 1.0
        };
        assert!(close(pace.first_poll_after(85_000), 1000.0));
        // A large job at 50,000 rows a second: 225,500 rows in 4.3 s.
        pace.learn(&finished_job(200_000, 4000));
        let got = pace.first_poll_after(225_500);
        assert!(close(got, 4300.0), "{got:?}");
    }
}
