//! Bulk API 2.0 ingest jobs: create → upload one CSV → close (`UploadComplete`) → poll
//! until `JobComplete` / `Failed` / `Aborted` → download the result files.
//!
//! Salesforce accepts exactly one upload per job; to send more data, create more jobs.
//! A `Failed` job is a normal outcome of [`SalesforceClient::wait_for_job`] (a value with
//! `error_message`), not an error: rows saved before the failure stay saved, and the
//! unprocessed rows can be fetched with [`ResultKind::Unprocessed`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, Response};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::error::SalesforceError;
use super::request::{ApiRequest, CSV, Payload, UploadSource};
use super::service::SalesforceClient;

/// Ingest operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Create records.
    Insert,
    /// Update records by `Id`.
    Update,
    /// Create or update by an external ID field.
    Upsert,
    /// Delete by `Id` (to the recycle bin).
    Delete,
    /// Delete by `Id`, skipping the recycle bin.
    HardDelete,
    /// A query job.
    Query,
    /// A query job including deleted and archived records.
    QueryAll,
    /// An operation this client does not know.
    #[serde(other)]
    Other,
}

impl Operation {
    /// The wire name (`insert`, `upsert`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
            Operation::HardDelete => "hardDelete",
            Operation::Query => "query",
            Operation::QueryAll => "queryAll",
            Operation::Other => "other",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Line ending of the uploaded CSV (must match the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LineEnding {
    /// `\n`.
    #[default]
    Lf,
    /// `\r\n`.
    Crlf,
}

/// Column delimiter of the uploaded CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ColumnDelimiter {
    /// `` ` ``
    Backquote,
    /// `^`
    Caret,
    /// `,`
    #[default]
    Comma,
    /// `|`
    Pipe,
    /// `;`
    Semicolon,
    /// Tab.
    Tab,
}

/// What an ingest job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestJobSpec {
    /// sObject API name, e.g. `Contact`.
    pub object: String,
    /// insert / update / upsert / delete / hardDelete.
    pub operation: Operation,
    /// External ID field for upserts (required for them, refused for the rest).
    pub external_id_field: Option<String>,
    /// Must match the uploaded file.
    pub line_ending: LineEnding,
    /// Must match the uploaded file.
    pub column_delimiter: ColumnDelimiter,
}

impl IngestJobSpec {
    /// An upsert keyed on `external_id_field`.
    pub fn upsert(
        object: impl Into<String>,
        external_id_field: impl Into<String>,
    ) -> IngestJobSpec {
        IngestJobSpec {
            object: object.into(),
            operation: Operation::Upsert,
            external_id_field: Some(external_id_field.into()),
            line_ending: LineEnding::Lf,
            column_delimiter: ColumnDelimiter::Comma,
        }
    }

    /// A job of `operation` (not upsert) on `object`.
    pub fn new(object: impl Into<String>, operation: Operation) -> IngestJobSpec {
        IngestJobSpec {
            object: object.into(),
            operation,
            external_id_field: None,
            line_ending: LineEnding::Lf,
            column_delimiter: ColumnDelimiter::Comma,
        }
    }

    fn validate(&self) -> Result<(), SalesforceError> {
        let bad = |m: String| Err(SalesforceError::Config(m));
        if self.object.trim().is_empty() {
            return bad("an ingest job needs an object".into());
        }
        match (self.operation, &self.external_id_field) {
            (Operation::Upsert, None) => bad(format!(
                "an upsert job on {} needs an external ID field",
                self.object
            )),
            (Operation::Upsert, Some(_)) => Ok(()),
            (
                Operation::Insert | Operation::Update | Operation::Delete | Operation::HardDelete,
                None,
            ) => Ok(()),
            (
                op @ (Operation::Insert
                | Operation::Update
                | Operation::Delete
                | Operation::HardDelete),
                Some(_),
            ) => bad(format!(
                "an external ID field only applies to upserts, not {op}"
            )),
            (op, _) => bad(format!("{op} is not an ingest operation")),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateIngestBody<'a> {
    object: &'a str,
    operation: Operation,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id_field_name: Option<&'a str>,
    content_type: &'static str,
    line_ending: LineEnding,
    column_delimiter: ColumnDelimiter,
}

/// Job states of Bulk API 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Created, waiting for data (ingest only).
    Open,
    /// Closed; queued for processing.
    UploadComplete,
    /// Being processed.
    InProgress,
    /// Finished (rows may still have failed).
    JobComplete,
    /// Could not finish; saved rows stay saved.
    Failed,
    /// Aborted by a client.
    Aborted,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

impl JobState {
    /// `JobComplete`, `Failed` or `Aborted`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        )
    }

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Open => "Open",
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
            JobState::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's info as Salesforce reports it (ingest or query). Absent counters read as 0.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// Job Id (`750…`).
    pub id: String,
    /// State.
    pub state: JobState,
    /// The sObject.
    pub object: String,
    /// The operation.
    pub operation: Operation,
    /// Upsert key, for upserts.
    #[serde(default)]
    pub external_id_field_name: Option<String>,
    /// Rows processed so far, failed ones included.
    #[serde(default)]
    pub number_records_processed: u64,
    /// Rows that failed.
    #[serde(default)]
    pub number_records_failed: u64,
    /// Why a job failed (`Failed` jobs only).
    #[serde(default)]
    pub error_message: Option<String>,
    /// `V2Ingest` or `V2Query`.
    #[serde(default)]
    pub job_type: Option<String>,
    /// API version the job was created with.
    #[serde(default)]
    pub api_version: Option<f64>,
    /// Creation time as Salesforce formats it.
    #[serde(default)]
    pub created_date: Option<String>,
    /// Last change.
    #[serde(default)]
    pub system_modstamp: Option<String>,
    /// Salesforce's internal retries (lock contention).
    #[serde(default)]
    pub retries: u64,
    /// Processing time in milliseconds.
    #[serde(default)]
    pub total_processing_time: u64,
}

impl JobInfo {
    /// Rows that succeeded (`processed - failed`).
    pub fn number_records_succeeded(&self) -> u64 {
        self.number_records_processed
            .saturating_sub(self.number_records_failed)
    }
}

/// The result files of an ingest job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// `sf__Id`, `sf__Created`, then the uploaded columns.
    Successful,
    /// `sf__Id`, `sf__Error`, then the uploaded columns.
    Failed,
    /// The uploaded columns of rows never attempted.
    Unprocessed,
}

impl ResultKind {
    fn segment(&self) -> &'static str {
        match self {
            ResultKind::Successful => "successfulResults",
            ResultKind::Failed => "failedResults",
            ResultKind::Unprocessed => "unprocessedrecords",
        }
    }
}

/// What [`SalesforceClient::stream_results`] hands its reader.
#[derive(Debug)]
pub enum ResultBytes {
    /// A new attempt starts at the file's first byte.
    Restart,
    /// The next bytes of the file (as sent: any decompression already undone).
    Data(bytes::Bytes),
}

/// Which Bulk job family a call addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    Ingest,
    Query,
}

impl JobKind {
    fn segment(&self) -> &'static str {
        match self {
            JobKind::Ingest => "ingest",
            JobKind::Query => "query",
        }
    }
}

impl SalesforceClient {
    /// Creates an ingest job (state `Open`). Checks the API allowance first
    /// ([`SalesforceClient::ensure_allowance`]): this starts new work.
    pub async fn create_ingest_job(
        &self,
        spec: &IngestJobSpec,
    ) -> Result<JobInfo, SalesforceError> {
        spec.validate()?;
        self.ensure_allowance()?;
        let body = CreateIngestBody {
            object: &spec.object,
            operation: spec.operation,
            external_id_field_name: spec.external_id_field.as_deref(),
            content_type: "CSV",
            line_ending: spec.line_ending,
            column_delimiter: spec.column_delimiter,
        };
        let request = self
            .request(
                Method::POST,
                &["jobs", "ingest"],
                format!("create {} {} ingest job", spec.operation, spec.object),
            )
            .json(&body)?;
        let info: JobInfo = self.execute_json(&request).await?;
        tracing::info!(
            message = "Bulk ingest job created.",
            job_id = %info.id,
            object = %info.object,
            operation = %info.operation,
        );
        Ok(info)
    }

    /// Uploads the job's CSV (once per job). A file is streamed from disk with its
    /// length; it is re-opened if the upload is retried. Returns the bytes sent.
    ///
    /// Salesforce refuses a second upload to a job ("Found multiple contents for job"). If
    /// an upload's answer is lost and the retry meets that refusal, the data did arrive;
    /// the error is returned all the same, and the caller can check the job after closing
    /// it, or abort it and send the CSV in a new job (upserts make that safe).
    pub async fn upload_job_data(
        &self,
        job_id: &str,
        source: impl Into<UploadSource>,
    ) -> Result<u64, SalesforceError> {
        let source = source.into();
        let length = match &source {
            UploadSource::Bytes(b) => b.len() as u64,
            UploadSource::File(path) => tokio::fs::metadata(path)
                .await
                .map_err(|e| {
                    SalesforceError::io(
                        format!("cannot read the upload file {}", path.display()),
                        e,
                    )
                })?
                .len(),
        };
        let mut request = self
            .request(
                Method::PUT,
                &["jobs", "ingest", job_id, "batches"],
                format!("upload data of job {job_id}"),
            )
            .timeout(self.transfer_timeout());
        request.payload = Payload::Csv(source);
        self.execute_empty(&request).await?;
        tracing::info!(message = "Bulk job data uploaded.", job_id, bytes = length);
        Ok(length)
    }

    /// Closes the job (`UploadComplete`): Salesforce starts processing.
    pub async fn close_job(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        self.set_job_state(JobKind::Ingest, job_id, JobState::UploadComplete)
            .await
    }

    /// Aborts an ingest job.
    pub async fn abort_job(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        self.set_job_state(JobKind::Ingest, job_id, JobState::Aborted)
            .await
    }

    /// Deletes a finished ingest job and its data.
    pub async fn delete_job(&self, job_id: &str) -> Result<(), SalesforceError> {
        let request = self.request(
            Method::DELETE,
            &["jobs", "ingest", job_id],
            format!("delete job {job_id}"),
        );
        self.execute_empty(&request).await
    }

    /// The ingest job's current info.
    pub async fn job_info(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        self.job_info_of(JobKind::Ingest, job_id).await
    }

    /// Polls until the ingest job is `JobComplete`, `Failed` or `Aborted` (exponential
    /// delays with jitter, capped; see [`super::PollBackoff`]). A `Failed` job is returned,
    /// not raised. Waiting on an `Open` job is an error: it never starts until closed.
    pub async fn wait_for_job(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        self.poll_until_done(JobKind::Ingest, job_id, None).await
    }

    /// [`wait_for_job`](Self::wait_for_job) for a job of `rows` uploaded rows: once
    /// Salesforce reports progress (records processed and processing time so far), the next
    /// poll is timed for when the rest should be done instead of by the backoff schedule,
    /// which saves status calls on large jobs (no sooner than the backoff's first delay,
    /// and no later than a minute, even past the backoff's cap).
    pub async fn wait_for_ingest(
        &self,
        job_id: &str,
        rows: u64,
    ) -> Result<JobInfo, SalesforceError> {
        self.poll_until_done(JobKind::Ingest, job_id, Some(rows))
            .await
    }

    /// Streams a result file of the ingest job to `dest`, chunk by chunk (written to
    /// `dest` + `.part`, renamed when complete). Returns the bytes written.
    pub async fn download_results(
        &self,
        job_id: &str,
        kind: ResultKind,
        dest: &Path,
    ) -> Result<u64, SalesforceError> {
        let request = self.results_request(job_id, kind);
        let call = request.call.as_str();
        let written = self
            .execute(&request, |response| stream_to_file(response, dest, call))
            .await?;
        results_downloaded(job_id, kind, written);
        Ok(written)
    }

    /// The download of one result file of an ingest job (a transfer: its own deadline).
    fn results_request(&self, job_id: &str, kind: ResultKind) -> ApiRequest {
        self.request(
            Method::GET,
            &["jobs", "ingest", job_id, kind.segment()],
            format!("download {} of job {job_id}", kind.segment()),
        )
        .accept(CSV)
        .timeout(self.transfer_timeout())
    }

    /// Streams a result file of the ingest job into `sink` as it arrives, for a reader
    /// that handles rows while the rest is still downloading. Each attempt starts with
    /// [`ResultBytes::Restart`]: a transient failure mid-body is retried from the first
    /// byte, so the reader must drop what it made of an earlier attempt (or have done only
    /// what is harmless to do twice). Returns the bytes of the attempt that completed; an
    /// error if `sink` is closed.
    pub async fn stream_results(
        &self,
        job_id: &str,
        kind: ResultKind,
        sink: &tokio::sync::mpsc::Sender<ResultBytes>,
    ) -> Result<u64, SalesforceError> {
        let request = self.results_request(job_id, kind);
        let call = request.call.as_str();
        let closed = || SalesforceError::protocol(call, "the reader of the results stopped");
        let received = self
            .execute(&request, |mut response| async move {
                sink.send(ResultBytes::Restart)
                    .await
                    .map_err(|_| closed())?;
                let mut received = 0u64;
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            received += chunk.len() as u64;
                            sink.send(ResultBytes::Data(chunk))
                                .await
                                .map_err(|_| closed())?;
                        }
                        Ok(None) => return Ok(received),
                        Err(e) => return Err(SalesforceError::transport(call, e)),
                    }
                }
            })
            .await?;
        results_downloaded(job_id, kind, received);
        Ok(received)
    }

    pub(crate) async fn job_info_of(
        &self,
        kind: JobKind,
        job_id: &str,
    ) -> Result<JobInfo, SalesforceError> {
        let request = self.request(
            Method::GET,
            &["jobs", kind.segment(), job_id],
            format!("get {} job {job_id}", kind.segment()),
        );
        self.execute_json(&request).await
    }

    pub(crate) async fn set_job_state(
        &self,
        kind: JobKind,
        job_id: &str,
        state: JobState,
    ) -> Result<JobInfo, SalesforceError> {
        let request = self
            .request(
                Method::PATCH,
                &["jobs", kind.segment(), job_id],
                format!("set {} job {job_id} to {state}", kind.segment()),
            )
            .json(&serde_json::json!({ "state": state }))?;
        let info = match self.execute_json::<JobInfo>(&request).await {
            Ok(info) => info,
            // A retried PATCH whose first attempt did land answers INVALIDJOBSTATE: if the
            // job already is where we wanted it, that is success.
            Err(error) if error.error_code() == Some("INVALIDJOBSTATE") => {
                let info = self.job_info_of(kind, job_id).await?;
                let reached = match state {
                    JobState::UploadComplete => {
                        !matches!(info.state, JobState::Open | JobState::Aborted)
                    }
                    other => info.state == other,
                };
                if !reached {
                    return Err(error);
                }
                info
            }
            Err(error) => return Err(error),
        };
        tracing::info!(message = "Bulk job state changed.", job_id, state = %info.state);
        Ok(info)
    }

    pub(crate) async fn poll_until_done(
        &self,
        kind: JobKind,
        job_id: &str,
        rows: Option<u64>,
    ) -> Result<JobInfo, SalesforceError> {
        let config = self.config();
        let started = Instant::now();
        let mut delays = config.poll.delays();
        let mut last_look: Option<Look> = None;
        loop {
            let info = self.job_info_of(kind, job_id).await?;
            let look = Look {
                processed: info.number_records_processed,
                at: Instant::now(),
            };
            if info.state.is_terminal() {
                tracing::info!(
                    message = "Bulk job finished.",
                    job_id,
                    state = %info.state,
                    processed = info.number_records_processed,
                    failed = info.number_records_failed,
                );
                return Ok(info);
            }
            if info.state == JobState::Open {
                return Err(SalesforceError::JobState {
                    job_id: job_id.to_string(),
                    state: info.state,
                    hint: "close it (UploadComplete) before waiting; an open job never starts",
                });
            }
            let scheduled = delays.next().unwrap_or(config.poll.max);
            let delay = next_poll_delay(&info, rows, last_look, scheduled, &config.poll);
            last_look = Some(look);
            tracing::debug!(
                job_id,
                state = %info.state,
                processed = info.number_records_processed,
                next_poll_ms = delay.as_millis() as u64,
                "Bulk job still in progress."
            );
            if started.elapsed() + delay > config.poll_timeout {
                return Err(SalesforceError::JobTimeout {
                    job_id: job_id.to_string(),
                    state: info.state,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(delay).await;
        }
    }
}

/// The longest wait before the next status call that a job's shown pace may set (see
/// [`time_to_finish`]); the backoff schedule's cap applies to polls without an estimate.
const LONGEST_ESTIMATED_WAIT: Duration = Duration::from_secs(60);

/// An estimated wait longer than this is not taken whole: the next status call comes
/// half-way ([`SPLIT_LOOK`]), to see the pace again. A job's pace changes while it runs
/// (the org's load changes; on a shared machine, so does the CPU left to it), and a wait
/// timed from a slow start finds the job long finished: the benchmark's 899,490-row
/// OrderItem job, slowed at its start while the engine stores the Orders' results, was
/// seen done 1.0-1.9 s after it finished. The look costs one status call on a long job.
/// (Above 3 s, the same job, first looked at while the engine computed its commerce
/// metrics beside it, was seen done 0.3-0.6 s late: a 2.1 s estimate from that slower
/// first half was taken whole.)
const SPLIT_ABOVE: Duration = Duration::from_millis(1500);
const SPLIT_LOOK: f64 = 0.5;

/// A status call's view of a running job: records processed, and when it was seen.
#[derive(Debug, Clone, Copy)]
struct Look {
    processed: u64,
    at: Instant,
}

/// The wait before the next status call of a job still running: until it should be done
/// at the pace it has shown (`rows` known), else the backoff schedule's next delay. The
/// job's own pace says when it ends better than the schedule does: held to the schedule's
/// cap, a long job's estimate would only buy a status call that finds it still running.
/// A long estimate is split ([`SPLIT_ABOVE`]).
fn next_poll_delay(
    info: &JobInfo,
    rows: Option<u64>,
    last_look: Option<Look>,
    scheduled: Duration,
    poll: &crate::backoff::PollBackoff,
) -> Duration {
    rows.and_then(|rows| time_to_finish(info, rows, last_look, Instant::now()))
        .map_or(scheduled, |d| {
            let d = if d > SPLIT_ABOVE {
                d.mul_f64(SPLIT_LOOK)
            } else {
                d
            };
            d.clamp(poll.initial, poll.max.max(LONGEST_ESTIMATED_WAIT))
        })
}

/// How long a job of `rows` rows still needs, with a little margin; `None` before it
/// shows any progress. The pace is the one seen since `last_look` (records processed
/// over the time between the two status calls) when the job moved in between, else its
/// records processed over Salesforce's processing time so far.
fn time_to_finish(
    info: &JobInfo,
    rows: u64,
    last_look: Option<Look>,
    now: Instant,
) -> Option<Duration> {
    let done = info.number_records_processed;
    if done == 0 || done >= rows {
        return None;
    }
    let recent = last_look
        .filter(|look| done > look.processed && now > look.at)
        .map(|look| now.duration_since(look.at).as_secs_f64() / (done - look.processed) as f64);
    let per_row = match recent {
        Some(per_row) => per_row,
        None if info.total_processing_time > 0 => {
            info.total_processing_time as f64 / 1000.0 / done as f64
        }
        None => return None,
    };
    Some(Duration::from_secs_f64(
        (rows - done) as f64 * per_row * 1.05 + 0.02,
    ))
}

fn results_downloaded(job_id: &str, kind: ResultKind, bytes: u64) {
    tracing::info!(
        message = "Bulk job results downloaded.",
        job_id,
        kind = kind.segment(),
        bytes,
    );
}

/// `dest` + `.part`: where a download is written until it is complete.
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Writes a response body to `dest` chunk by chunk (via a `.part` file and a rename).
/// A connection that breaks mid-body is a transient error: the caller's retry starts the
/// file over.
pub(crate) async fn stream_to_file(
    mut response: Response,
    dest: &Path,
    call: &str,
) -> Result<u64, SalesforceError> {
    let part = part_path(dest);
    let io = |what: &str, e| SalesforceError::io(format!("cannot {what} {}", part.display()), e);
    let file = tokio::fs::File::create(&part)
        .await
        .map_err(|e| io("create", e))?;
    let mut writer = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                drop(writer);
                let _ = tokio::fs::remove_file(&part).await;
                return Err(SalesforceError::transport(call, e));
            }
        };
        writer.write_all(&chunk).await.map_err(|e| io("write", e))?;
        written += chunk.len() as u64;
    }
    // Not synced to disk: the file is a work file read right away; after a crash the
    // results are fetched again.
    writer.flush().await.map_err(|e| io("write", e))?;
    tokio::fs::rename(&part, dest).await.map_err(|e| {
        SalesforceError::io(format!("cannot move the download to {}", dest.display()), e)
    })?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_poll_is_timed_from_the_pace_shown_so_far() {
        let info = |processed: u64, ms: u64| -> JobInfo {
            serde_json::from_value(serde_json::json!({
                "id": "750x", "operation": "upsert", "object": "OrderItem", "state": "InProgress",
                "numberRecordsProcessed": processed, "totalProcessingTime": ms,
            }))
            .unwrap()
        };
        let now = Instant::now();
        // 100,000 rows in 1 s; 200,000 to go: 2 s, plus 5 % and 20 ms.
        let wait = time_to_finish(&info(100_000, 1000), 300_000, None, now).unwrap();
        assert_eq!(wait.as_millis(), 2120);
        // Nothing shown yet, or nothing left: no estimate.
        assert_eq!(time_to_finish(&info(0, 0), 400_000, None, now), None);
        assert_eq!(time_to_finish(&info(10, 0), 400_000, None, now), None);
        assert_eq!(
            time_to_finish(&info(400_000, 4000), 400_000, None, now),
            None
        );

        // The estimate stands even past the schedule's cap (2 s here), up to a minute;
        // without one, the schedule's delay is used; never below its first delay.
        let poll = crate::backoff::PollBackoff {
            initial: Duration::from_millis(100),
            factor: 1.5,
            max: Duration::from_secs(2),
            jitter: true,
        };
        let scheduled = Duration::from_millis(700);
        let next = |processed, ms, rows| {
            next_poll_delay(&info(processed, ms), rows, None, scheduled, &poll)
        };
        // 100,000 to go: 1.07 s, taken whole.
        assert_eq!(next(100_000, 1000, Some(200_000)).as_millis(), 1070);
        // 400,000 to go: 4.22 s, looked at half-way, past the cap.
        assert_eq!(next(100_000, 1000, Some(500_000)).as_millis(), 2110);
        assert_eq!(
            next(100_000, 1000, Some(100_000_000)),
            LONGEST_ESTIMATED_WAIT
        );
        assert_eq!(next(100_000, 1000, None), scheduled);
        assert_eq!(next(0, 0, Some(400_000)), scheduled);
        assert_eq!(next(100_000, 10, Some(100_001)), poll.initial);
        // A long estimate is not taken whole: 300,000 to go is 3.17 s, looked at half-way.
        let split = next(100_000, 1000, Some(400_000)).as_secs_f64();
        assert!((split - 3.17 * SPLIT_LOOK).abs() < 0.001, "{split}");
    }

    #[test]
    fn a_job_that_speeds_up_is_timed_by_its_pace_since_the_last_look() {
        let info = |processed: u64, ms: u64| -> JobInfo {
            serde_json::from_value(serde_json::json!({
                "id": "750x", "operation": "upsert", "object": "OrderItem", "state": "InProgress",
                "numberRecordsProcessed": processed, "totalProcessingTime": ms,
            }))
            .unwrap()
        };
        let now = Instant::now();
        // A slow start: 400,000 rows in 4 s. Since the last look, 2 s ago, 400,000 more.
        let last = Look {
            processed: 400_000,
            at: now - Duration::from_secs(2),
        };
        let wait = time_to_finish(&info(800_000, 6000), 900_000, Some(last), now).unwrap();
        // 100,000 to go at 200,000 a second: 0.5 s (plus 5 % and 20 ms), not the 0.75 s
        // the whole job's pace would say.
        assert_eq!(wait.as_millis(), 545);
        let whole = time_to_finish(&info(800_000, 6000), 900_000, None, now).unwrap();
        assert_eq!(whole.as_millis(), 807);
        // A look that saw no progress since the last one falls back to the whole pace.
        let stalled = Look {
            processed: 800_000,
            at: now - Duration::from_secs(1),
        };
        assert_eq!(
            time_to_finish(&info(800_000, 6000), 900_000, Some(stalled), now),
            Some(whole)
        );
    }

    #[test]
    fn job_info_reads_the_salesforce_shape() {
        let info: JobInfo = serde_json::from_str(
            r#"{"id":"7505g000000001AAA","operation":"upsert","object":"Contact","createdById":"005x",
                "createdDate":"2026-01-01T00:00:00.000+0000","systemModstamp":"2026-01-01T00:00:01.000+0000",
                "state":"Failed","externalIdFieldName":"Shopify_Customer_ID__c","concurrencyMode":"Parallel",
                "contentType":"CSV","apiVersion":66.0,"jobType":"V2Ingest","numberRecordsProcessed":10,
                "numberRecordsFailed":3,"retries":0,"totalProcessingTime":12,
                "errorMessage":"InvalidBatch : Field name not found : Foo"}"#,
        )
        .unwrap();
        assert_eq!(info.state, JobState::Failed);
        assert_eq!(info.operation, Operation::Upsert);
        assert_eq!(info.number_records_succeeded(), 7);
        assert_eq!(info.api_version, Some(66.0));
        assert!(info.error_message.unwrap().contains("Field name not found"));
        let open: JobInfo = serde_json::from_str(
            r#"{"id":"750x","operation":"insert","object":"Account","state":"Open"}"#,
        )
        .unwrap();
        assert_eq!(open.number_records_processed, 0);
        let odd: JobInfo = serde_json::from_str(
            r#"{"id":"750x","operation":"refresh","object":"Account","state":"Paused"}"#,
        )
        .unwrap();
        assert_eq!(
            (odd.operation, odd.state),
            (Operation::Other, JobState::Unknown)
        );
    }

    #[test]
    fn create_bodies_use_the_wire_names() {
        let spec = IngestJobSpec::upsert("Contact", "Shopify_Customer_ID__c");
        let body = CreateIngestBody {
            object: &spec.object,
            operation: spec.operation,
            external_id_field_name: spec.external_id_field.as_deref(),
            content_type: "CSV",
            line_ending: spec.line_ending,
            column_delimiter: spec.column_delimiter,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"object":"Contact","operation":"upsert","externalIdFieldName":"Shopify_Customer_ID__c",
                "contentType":"CSV","lineEnding":"LF","columnDelimiter":"COMMA"})
        );
        assert_eq!(
            serde_json::to_value(Operation::HardDelete).unwrap(),
            "hardDelete"
        );
    }

    #[test]
    fn specs_are_checked_before_any_call() {
        assert!(
            IngestJobSpec::upsert("Contact", "Key__c")
                .validate()
                .is_ok()
        );
        assert!(
            IngestJobSpec::new("Contact", Operation::Insert)
                .validate()
                .is_ok()
        );
        let mut upsert_without_key = IngestJobSpec::new("Contact", Operation::Upsert);
        assert!(upsert_without_key.validate().is_err());
        upsert_without_key.operation = Operation::Query;
        assert!(upsert_without_key.validate().is_err());
        let mut insert_with_key = IngestJobSpec::upsert("Contact", "Key__c");
        insert_with_key.operation = Operation::Insert;
        assert!(insert_with_key.validate().is_err());
    }

    #[test]
    fn partial_downloads_sit_beside_the_destination() {
        assert_eq!(
            part_path(Path::new("/tmp/x/failed.csv")),
            PathBuf::from("/tmp/x/failed.csv.part")
        );
    }
}
