//! Bulk API 2.0 endpoints (`/jobs/ingest`, `/jobs/query`) and the job runners.

// Handlers return `Err(Response)` to answer early; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value as Json, json};

use super::dml::SaveContext;
use super::http::{
    ApiRequest, ApiRequestHead, SharedState, error_response, json_response, lock_poisoned,
    method_not_allowed, not_found, parse_json_body,
};
use super::ids::SfId;
use super::ingest::{
    self, ColumnDelimiter, Dialect, LineEnding, Operation, ResultKind, RowGate, RowOutcome,
};
use super::jobs::{IngestJob, JobState, QueryJob, QueryResults};
use super::soql;
use super::state::{EmulatorState, Processing};
use super::values::RecordError;

/// Locators are opaque to clients; ours are base64 row offsets, as Salesforce's look.
fn encode_locator(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(offset.to_string())
}

fn decode_locator(locator: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(locator.trim_end_matches('='))
        .ok()?;
    String::from_utf8(bytes).ok()?.parse().ok()
}

fn invalid_job_state(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "INVALIDJOBSTATE", message)
}

fn invalid_job(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

fn csv_response(body: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    r
}

/// Routes `/jobs/...`.
pub async fn handle(state: SharedState, request: ApiRequest) -> Response {
    match request.keyword(1).as_deref() {
        Some("ingest") => ingest_route(state, request).await,
        Some("query") => query_route(state, request).await,
        _ => not_found(),
    }
}

async fn ingest_route(state: SharedState, request: ApiRequest) -> Response {
    let method = request.method.clone();
    let job_id = request.segments.get(2).cloned();
    let sub = request.keyword(3);
    if request.segments.len() > 4 {
        return not_found();
    }
    match (job_id, sub.as_deref(), &method) {
        (None, None, &Method::POST) => match request.read_body(1 << 20).await {
            Ok((body, head)) => create_ingest(&state, &head, &body),
            Err(r) => r,
        },
        (None, None, &Method::GET) => list_jobs(&state, &request, true),
        (None, None, m) => method_not_allowed(m),
        (None, Some(_), _) => not_found(),
        (Some(id), None, &Method::GET) => with_ingest_job(&state, &id, |job| {
            json_response(StatusCode::OK, job.info_json())
        }),
        (Some(id), None, &Method::PATCH) => match request.read_body(1 << 20).await {
            Ok((body, _)) => patch_ingest(&state, &id, &body),
            Err(r) => r,
        },
        (Some(id), None, &Method::DELETE) => delete_ingest(&state, &id),
        (Some(id), Some("batches"), &Method::PUT) => {
            let limit = state.config.max_upload_bytes;
            upload(&state, &id, request, limit).await
        }
        (Some(_), Some("batches"), m) => method_not_allowed(m),
        (Some(id), Some("successfulresults"), &Method::GET) => {
            results(&state, &id, ResultKind::Successful).await
        }
        (Some(id), Some("failedresults"), &Method::GET) => {
            results(&state, &id, ResultKind::Failed).await
        }
        (Some(id), Some("unprocessedrecords"), &Method::GET) => {
            results(&state, &id, ResultKind::Unprocessed).await
        }
        (Some(_), Some(_), _) => not_found(),
        (Some(_), None, m) => method_not_allowed(m),
    }
}

/// Runs `f` on the job with this Id under the jobs lock; 404 when there is none.
fn with_job<J>(
    jobs: &Mutex<HashMap<SfId, J>>,
    id: &str,
    f: impl FnOnce(&mut J) -> Response,
) -> Response {
    let Some(id) = SfId::parse(id) else {
        return not_found();
    };
    let Ok(mut jobs) = jobs.lock() else {
        return lock_poisoned();
    };
    match jobs.get_mut(&id) {
        Some(job) => f(job),
        None => not_found(),
    }
}

fn with_ingest_job(
    state: &EmulatorState,
    id: &str,
    f: impl FnOnce(&mut IngestJob) -> Response,
) -> Response {
    with_job(&state.ingest_jobs, id, f)
}

fn with_query_job(
    state: &EmulatorState,
    id: &str,
    f: impl FnOnce(&mut QueryJob) -> Response,
) -> Response {
    with_job(&state.query_jobs, id, f)
}

fn string_field<'a>(body: &'a Json, name: &str) -> Result<Option<&'a str>, Response> {
    match body.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(error_response(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            &format!("Cannot deserialize value of '{name}': a string is expected"),
        )),
    }
}

fn parse_dialect(body: &Json) -> Result<Dialect, Response> {
    let delimiter = match string_field(body, "columnDelimiter")? {
        None => ColumnDelimiter::Comma,
        Some(d) => ColumnDelimiter::parse(d).ok_or_else(|| {
            invalid_job(&format!(
                "InvalidJob : Invalid column delimiter: {d}. Valid values are BACKQUOTE, CARET, COMMA, PIPE, SEMICOLON, TAB"
            ))
        })?,
    };
    let line_ending = match string_field(body, "lineEnding")? {
        None => LineEnding::Lf,
        Some(l) => LineEnding::parse(l).ok_or_else(|| {
            invalid_job(&format!(
                "InvalidJob : Invalid line ending: {l}. Valid values are LF, CRLF"
            ))
        })?,
    };
    if let Some(ct) = string_field(body, "contentType")?
        && ct != "CSV"
    {
        return Err(invalid_job(&format!(
            "InvalidJob : Invalid content type: {ct}. Only CSV is supported"
        )));
    }
    Ok(Dialect {
        delimiter,
        line_ending,
    })
}

fn create_ingest(state: &EmulatorState, head: &ApiRequestHead, body: &[u8]) -> Response {
    let body = match parse_json_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let fields = (|| -> Result<_, Response> {
        let object = string_field(&body, "object")?
            .ok_or_else(|| invalid_job("InvalidJob : Required field is missing: object"))?;
        let operation_text = string_field(&body, "operation")?
            .ok_or_else(|| invalid_job("InvalidJob : Required field is missing: operation"))?;
        let operation = Operation::parse(operation_text).ok_or_else(|| {
            invalid_job(&format!(
                "InvalidJob : Invalid operation: {operation_text}. Valid values are insert, delete, hardDelete, update, upsert"
            ))
        })?;
        let ext = string_field(&body, "externalIdFieldName")?;
        let rule = string_field(&body, "assignmentRuleId")?;
        Ok((
            object.to_string(),
            operation,
            ext.map(str::to_string),
            rule.map(str::to_string),
        ))
    })();
    let (object, operation, ext, rule) = match fields {
        Ok(f) => f,
        Err(r) => return r,
    };
    let dialect = match parse_dialect(&body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let canonical = {
        let Ok(org) = state.org.lock() else {
            return lock_poisoned();
        };
        let Some(def) = org.schema().object(&object) else {
            return invalid_job(&format!("InvalidJob : Unable to find object: {object}"));
        };
        if !def.fields.iter().any(|f| f.createable || f.updateable) {
            return invalid_job(&format!(
                "InvalidJob : Entity '{}' is not supported by the Bulk API for {}",
                def.name,
                operation.as_str()
            ));
        }
        let ext = match (operation, &ext) {
            (Operation::Upsert, None) => {
                return invalid_job(
                    "InvalidJob : External ID was blank for upsert: externalIdFieldName is required",
                );
            }
            (Operation::Upsert, Some(name)) => match def.field(name) {
                Some(f) if f.external_id || f.name == "Id" => Some(f.name.clone()),
                _ => {
                    return invalid_job(&format!(
                        "InvalidJob : Field name provided, {name} is not an External ID or indexed field for {}",
                        def.name
                    ));
                }
            },
            (_, _) => None,
        };
        (def.name.clone(), ext)
    };
    let now = Utc::now();
    let job = IngestJob {
        id: state.next_job_id(),
        object: canonical.0,
        operation,
        external_id_field: canonical.1,
        assignment_rule_id: rule,
        dialect,
        state: JobState::Open,
        created_by: head.caller.user,
        created_date: now,
        system_modstamp: now,
        api_version: head.version,
        data: None,
        outcomes: Arc::default(),
        records_processed: 0,
        records_failed: 0,
        retries: 0,
        total_processing_ms: 0,
        error_message: None,
        result_order: None,
        abort_requested: false,
    };
    let body = job.summary_json();
    if let Ok(mut jobs) = state.ingest_jobs.lock() {
        jobs.insert(job.id, job);
    }
    json_response(StatusCode::OK, body)
}

async fn upload(state: &SharedState, id: &str, request: ApiRequest, limit: usize) -> Response {
    // State check before reading a large body.
    let precheck = with_ingest_job(state, id, |job| {
        if job.state != JobState::Open {
            return invalid_job_state(&format!(
                "Job {} is not in the Open state (state: {}); data can only be uploaded to an Open job.",
                job.id,
                job.state.as_str()
            ));
        }
        if job.data.is_some() {
            return invalid_job_state(&multiple_contents(job.id));
        }
        StatusCode::CONTINUE.into_response()
    });
    if precheck.status() != StatusCode::CONTINUE {
        return precheck;
    }
    let (body, _) = match request.read_body(limit).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "CLIENTINPUTERROR",
                &format!(
                    "ClientInputError : Upload exceeds the maximum size of {limit} bytes per job; split the data into several jobs"
                ),
            );
        }
    };
    with_ingest_job(state, id, |job| {
        if job.state != JobState::Open {
            return invalid_job_state(&format!("Job {} is not in the Open state", job.id));
        }
        if job.data.is_some() {
            return invalid_job_state(&multiple_contents(job.id));
        }
        job.data = Some(body);
        job.system_modstamp = Utc::now();
        StatusCode::CREATED.into_response()
    })
}

fn multiple_contents(id: SfId) -> String {
    format!(
        "Found multiple contents for job: <{id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job."
    )
}

fn patch_ingest(state: &SharedState, id: &str, body: &[u8]) -> Response {
    let body = match parse_json_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let target = match body.get("state").and_then(Json::as_str) {
        Some(s) => s.to_string(),
        None => return invalid_job("InvalidJob : Required field is missing: state"),
    };
    let mut start_runner = None;
    let response = with_ingest_job(state, id, |job| match (target.as_str(), job.state) {
        ("UploadComplete", JobState::Open) => {
            job.state = JobState::UploadComplete;
            job.system_modstamp = Utc::now();
            start_runner = Some(job.id);
            json_response(StatusCode::OK, job.summary_json())
        }
        ("UploadComplete", s) => invalid_job_state(&format!(
            "Closing a job in the {} state is not allowed",
            s.as_str()
        )),
        ("Aborted", JobState::Open | JobState::UploadComplete | JobState::InProgress) => {
            if job.state == JobState::InProgress {
                job.abort_requested = true;
            } else {
                mark_unprocessed_rest(job);
                job.state = JobState::Aborted;
            }
            job.state = JobState::Aborted;
            job.system_modstamp = Utc::now();
            json_response(StatusCode::OK, job.summary_json())
        }
        ("Aborted", s) => invalid_job_state(&format!(
            "Aborting already {} Job not allowed",
            completed_word(s)
        )),
        (other, _) => invalid_job_state(&format!(
            "Invalid state transition to '{other}'. Valid values are UploadComplete and Aborted"
        )),
    });
    if let Some(job_id) = start_runner {
        let state = Arc::clone(state);
        tokio::spawn(async move { run_ingest(state, job_id).await });
    }
    response
}

fn completed_word(s: JobState) -> &'static str {
    match s {
        JobState::JobComplete => "Completed",
        JobState::Failed => "Failed",
        JobState::Aborted => "Aborted",
        _ => s.as_str(),
    }
}

/// Marks every row without an outcome as unprocessed (for aborted and failed jobs).
fn mark_unprocessed_rest(job: &mut IngestJob) {
    if let Some(data) = &job.data
        && job.outcomes.is_empty()
    {
        let rows = job.dialect.reader(data).records().count().saturating_sub(1);
        job.outcomes = Arc::new(vec![RowOutcome::Unprocessed; rows]);
    }
}

fn delete_ingest(state: &EmulatorState, id: &str) -> Response {
    let Some(job_id) = SfId::parse(id) else {
        return not_found();
    };
    let Ok(mut jobs) = state.ingest_jobs.lock() else {
        return lock_poisoned();
    };
    match jobs.get(&job_id) {
        None => not_found(),
        Some(job) if matches!(job.state, JobState::Open | JobState::InProgress) => error_response(
            StatusCode::BAD_REQUEST,
            "API_ERROR",
            "Error encountered when deleting the job because the job is not terminated",
        ),
        Some(_) => {
            jobs.remove(&job_id);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn results(state: &EmulatorState, id: &str, kind: ResultKind) -> Response {
    let snapshot = {
        let Some(job_id) = SfId::parse(id) else {
            return not_found();
        };
        let Ok(jobs) = state.ingest_jobs.lock() else {
            return lock_poisoned();
        };
        let Some(job) = jobs.get(&job_id) else {
            return not_found();
        };
        if !job.state.is_terminal() {
            return invalid_job_state(&format!(
                "Results are not available for job {} in state {}; wait until the job is JobComplete, Failed or Aborted",
                job.id,
                job.state.as_str()
            ));
        }
        (
            job.dialect,
            job.data.clone(),
            job.outcomes.clone(),
            job.result_order.clone(),
        )
    };
    let (dialect, data, outcomes, order) = snapshot;
    let cut = state.faults.lock().is_ok_and(|mut f| f.take_cut());
    let data = data.unwrap_or_default();
    // A million-row file takes a while to render: it is written on a blocking thread and
    // sent in chunks as it is written, so compression and the download overlap with it and
    // the whole file is never held in memory.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        ingest::render_results_in_chunks(
            kind,
            dialect,
            &data,
            &outcomes,
            order.as_deref(),
            RESULT_CHUNK_BYTES,
            &mut |chunk| sender.blocking_send(Bytes::from(chunk)).is_ok(),
        );
    });
    let mut response = Response::new(axum::body::Body::new(ChunkedBody {
        chunks: receiver,
        cut: cut.then_some(Cut::Half),
    }));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    if cut {
        // Sent uncompressed, so the half piece reaches the client before the break (a
        // compressor would hold it back until the end of the body, which never comes).
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    response
}

/// Size of the pieces a result file is streamed in.
const RESULT_CHUNK_BYTES: usize = 256 * 1024;

/// A response body fed from a channel, chunk by chunk.
struct ChunkedBody {
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
    /// Fault injection (`cut_results`).
    cut: Option<Cut>,
}

/// How far a cut-off download has got.
enum Cut {
    /// Half of the first piece is sent next.
    Half,
    /// Sent; the break comes once it has had time to leave (an error straight away would
    /// discard it with the connection).
    Break(std::pin::Pin<Box<tokio::time::Sleep>>),
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        match &mut self.cut {
            None => {}
            Some(Cut::Break(timer)) => {
                return timer.as_mut().poll(cx).map(|()| {
                    Some(Err(std::io::Error::other(
                        "result download cut off (fault injection)",
                    )))
                });
            }
            Some(Cut::Half) => {
                let Poll::Ready(chunk) = self.chunks.poll_recv(cx) else {
                    return Poll::Pending;
                };
                let mut bytes = chunk.unwrap_or_default();
                let half = bytes.split_to(bytes.len() / 2);
                self.cut = Some(Cut::Break(Box::pin(tokio::time::sleep(
                    std::time::Duration::from_millis(50),
                ))));
                return Poll::Ready(Some(Ok(http_body::Frame::data(half))));
            }
        }
        self.chunks
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

fn list_jobs(state: &EmulatorState, request: &ApiRequest, ingest: bool) -> Response {
    let mut records: Vec<(chrono::DateTime<Utc>, Json)> = if ingest {
        state
            .ingest_jobs
            .lock()
            .map(|jobs| {
                jobs.values()
                    .map(|j| (j.created_date, j.list_json()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        state
            .query_jobs
            .lock()
            .map(|jobs| {
                jobs.values()
                    .map(|j| (j.created_date, j.list_json()))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(job_type) = request.query.get("jobType") {
        records.retain(|(_, j)| j.get("jobType").and_then(Json::as_str) == Some(job_type.as_str()));
    }
    records.sort_by_key(|a| a.0);
    let start: usize = request
        .query
        .get("queryLocator")
        .and_then(|l| decode_locator(l))
        .unwrap_or(0);
    let page: Vec<Json> = records
        .iter()
        .skip(start)
        .take(1000)
        .map(|(_, j)| j.clone())
        .collect();
    let next = start + page.len();
    let done = next >= records.len();
    let kind = if ingest { "ingest" } else { "query" };
    json_response(
        StatusCode::OK,
        json!({
            "done": done,
            "records": page,
            "nextRecordsUrl": if done { Json::Null } else {
                json!(format!("/services/data/v{:.1}/jobs/{kind}?queryLocator={}", request.version,
                    encode_locator(next)))
            },
        }),
    )
}

/// Fails rows whose parents another running job holds, and draws random lock failures.
struct LockGate<'a> {
    state: &'a EmulatorState,
    job: SfId,
    contention: bool,
}

impl RowGate for LockGate<'_> {
    fn check(&mut self, parents: &[SfId]) -> Option<RecordError> {
        let lock_failure = |id: &SfId| {
            RecordError::new(
                "UNABLE_TO_LOCK_ROW",
                format!("unable to obtain exclusive access to this record or 1 records: {id}"),
            )
        };
        if self.contention
            && !parents.is_empty()
            && let Ok(mut locks) = self.state.row_locks.lock()
        {
            for p in parents {
                match locks.get(p) {
                    Some(holder) if *holder != self.job => return Some(lock_failure(p)),
                    _ => {
                        locks.insert(*p, self.job);
                    }
                }
            }
        }
        let random = self
            .state
            .faults
            .lock()
            .map(|mut f| f.draw_lock())
            .unwrap_or(false);
        if random {
            let id = parents.first().copied().unwrap_or(self.job);
            return Some(lock_failure(&id));
        }
        None
    }
}

/// Processes an ingest job after `UploadComplete`, in internal batches.
pub async fn run_ingest(state: SharedState, job_id: SfId) {
    let realistic = state.config.processing == Processing::Realistic;
    if realistic {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let started = Instant::now();
    let prepared = {
        let Ok(mut jobs) = state.ingest_jobs.lock() else {
            return;
        };
        let Some(job) = jobs.get_mut(&job_id) else {
            return;
        };
        if job.state != JobState::UploadComplete {
            return;
        }
        job.state = JobState::InProgress;
        job.system_modstamp = Utc::now();
        (
            job.data.clone().unwrap_or_default(),
            job.dialect,
            job.object.clone(),
            job.operation,
            job.external_id_field.clone(),
            job.created_by,
        )
    };
    let (data, dialect, object, operation, ext, user) = prepared;
    let fail_part_way = state
        .faults
        .lock()
        .map(|mut f| f.take_job_failure())
        .unwrap_or(false);
    let worker_state = Arc::clone(&state);
    let batch_size = state.config.batch_size.max(1);
    let outcome = tokio::task::spawn_blocking(move || {
        process_ingest(
            &worker_state,
            job_id,
            &data,
            dialect,
            &object,
            operation,
            ext.as_deref(),
            user,
            batch_size,
            fail_part_way,
            realistic,
        )
    })
    .await;
    // Release this job's row locks.
    if let Ok(mut locks) = state.row_locks.lock() {
        locks.retain(|_, holder| *holder != job_id);
    }
    let elapsed = started.elapsed().as_millis() as u64;
    let order_len;
    {
        let Ok(mut jobs) = state.ingest_jobs.lock() else {
            return;
        };
        let Some(job) = jobs.get_mut(&job_id) else {
            return;
        };
        job.total_processing_ms = elapsed;
        job.system_modstamp = Utc::now();
        match outcome {
            Ok(Ok(())) => {
                if job.abort_requested {
                    job.state = JobState::Aborted;
                } else if job.state == JobState::InProgress {
                    job.state = JobState::JobComplete;
                }
            }
            Ok(Err(message)) => {
                job.state = JobState::Failed;
                job.error_message = Some(message);
                mark_unprocessed_rest(job);
            }
            Err(join_error) => {
                job.state = JobState::Failed;
                job.error_message = Some(format!("InternalServerError : {join_error}"));
            }
        }
        order_len = job.outcomes.len();
    }
    let order = state
        .faults
        .lock()
        .ok()
        .and_then(|mut f| f.shuffled_order(order_len));
    if let Ok(mut jobs) = state.ingest_jobs.lock()
        && let Some(job) = jobs.get_mut(&job_id)
    {
        job.result_order = order;
    }
}

#[allow(clippy::too_many_arguments)]
fn process_ingest(
    state: &EmulatorState,
    job_id: SfId,
    data: &Bytes,
    dialect: Dialect,
    object: &str,
    operation: Operation,
    external_id_field: Option<&str>,
    user: SfId,
    batch_size: usize,
    fail_part_way: bool,
    realistic: bool,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    dialect.check_line_ending(data)?;
    let mut reader = dialect.reader(data);
    let mut records = reader.records();
    let mut header: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(str::to_string).collect(),
        Some(Err(e)) => {
            return Err(format!(
                "ClientInputError : CSV header could not be parsed: {e}"
            ));
        }
        None => {
            return Err(
                "ClientInputError : The uploaded CSV is empty; a header row is required"
                    .to_string(),
            );
        }
    };
    // The csv crate strips a UTF-8 byte-order mark; Salesforce does not, and reads it as
    // part of the first column name.
    if data.starts_with(b"\xEF\xBB\xBF")
        && let Some(first) = header.first_mut()
    {
        first.insert(0, '\u{feff}');
    }
    drop(records);
    drop(reader);
    // First pass: every row parses, and which keys repeat. Nothing is saved before it.
    let (plan, scan) = {
        let mut org = state
            .org
            .lock()
            .map_err(|_| "InternalServerError : state lock poisoned".to_string())?;
        let object_pos = org
            .schema()
            .position(object)
            .ok_or_else(|| format!("InvalidJob : Unable to find object: {object}"))?;
        let plan = ingest::plan(&org, object_pos, operation, external_id_field, &header)?;
        let scan = ingest::scan_upload(&org, &plan, dialect, data)?;
        // Room for the new records up front. An upsert's rows may all be updates, so it
        // reserves only what the table could not already be matching.
        let expected_new = match operation {
            Operation::Insert => scan.rows,
            Operation::Upsert => scan.rows.saturating_sub(org.count(object_pos)),
            _ => 0,
        };
        org.reserve(object_pos, expected_new);
        (plan, scan)
    };
    let total = scan.rows;
    let contention = state
        .faults
        .lock()
        .map(|f| f.profile.lock_contention)
        .unwrap_or(false);
    let mut outcomes: Vec<RowOutcome> = Vec::with_capacity(total);
    // A job told to fail stops half-way, as a real job that exhausts its retries does.
    let limit = if fail_part_way { total / 2 } else { total };
    // Second pass: rows are parsed again as they are saved, one internal batch (one hold
    // of the org lock) at a time, so a job never holds its parsed rows in memory.
    let mut reader = dialect.reader(data);
    let mut row = csv::StringRecord::new();
    // The header was read above; skip it.
    reader
        .read_record(&mut row)
        .map_err(|e| format!("ClientInputError : CSV header could not be parsed: {e}"))?;
    let batch_size = batch_size.max(1);
    while outcomes.len() < limit {
        let aborted = state
            .ingest_jobs
            .lock()
            .map(|jobs| jobs.get(&job_id).is_none_or(|j| j.abort_requested))
            .unwrap_or(true);
        if aborted {
            break;
        }
        let mut gate = LockGate {
            state,
            job: job_id,
            contention,
        };
        let batch_len = batch_size.min(limit - outcomes.len());
        let before = outcomes.len();
        {
            let mut org = state
                .org
                .lock()
                .map_err(|_| "InternalServerError : state lock poisoned".to_string())?;
            let ctx = SaveContext {
                user,
                now: Utc::now(),
            };
            for _ in 0..batch_len {
                match reader.read_record(&mut row) {
                    Ok(true) => outcomes.push(ingest::apply_row(
                        &mut org,
                        &plan,
                        &row,
                        &scan.duplicates,
                        &mut gate,
                        ctx,
                    )),
                    Ok(false) => break,
                    Err(e) => {
                        return Err(format!(
                            "ClientInputError : CSV row {} could not be parsed: {e}",
                            outcomes.len() + 2
                        ));
                    }
                }
            }
        }
        let batch = &outcomes[before..];
        if batch.is_empty() {
            break;
        }
        let failed = batch.iter().filter(|o| !o.is_success()).count() as u64;
        state
            .stats
            .rows_ingested
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        if let Ok(mut jobs) = state.ingest_jobs.lock()
            && let Some(job) = jobs.get_mut(&job_id)
        {
            job.records_processed += batch.len() as u64;
            job.records_failed += failed;
            // Salesforce adds each batch's time as it goes, so a poller can tell the pace.
            job.total_processing_ms = started.elapsed().as_millis() as u64;
            job.system_modstamp = Utc::now();
        }
        if realistic {
            std::thread::sleep(Duration::from_millis(50 + batch.len() as u64 / 20));
        }
    }
    let processed = outcomes.len();
    outcomes.resize(total, RowOutcome::Unprocessed);
    if let Ok(mut jobs) = state.ingest_jobs.lock()
        && let Some(job) = jobs.get_mut(&job_id)
    {
        job.outcomes = Arc::new(outcomes);
    }
    if fail_part_way {
        return Err(format!(
            "InternalServerError : Batch processing failed after {processed} of {total} records; resubmit the unprocessed records"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- query jobs

async fn query_route(state: SharedState, request: ApiRequest) -> Response {
    let method = request.method.clone();
    let job_id = request.segments.get(2).cloned();
    let sub = request.keyword(3);
    match (job_id, sub.as_deref(), &method) {
        (None, None, &Method::POST) => match request.read_body(1 << 20).await {
            Ok((body, head)) => create_query(&state, &head, &body),
            Err(r) => r,
        },
        (None, None, &Method::GET) => list_jobs(&state, &request, false),
        (Some(id), None, &Method::GET) => with_query_job(&state, &id, |job| {
            json_response(StatusCode::OK, job.info_json())
        }),
        (Some(id), None, &Method::PATCH) => match request.read_body(1 << 20).await {
            Ok((body, _)) => abort_query(&state, &id, &body),
            Err(r) => r,
        },
        (Some(id), None, &Method::DELETE) => delete_query(&state, &id),
        (Some(id), Some("results"), &Method::GET) => query_results(&state, &id, &request),
        (_, _, m) if m != Method::GET && m != Method::POST => method_not_allowed(m),
        _ => not_found(),
    }
}

fn create_query(state: &SharedState, head: &ApiRequestHead, body: &[u8]) -> Response {
    let body = match parse_json_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(text) = body.get("query").and_then(Json::as_str) else {
        return invalid_job("InvalidJob : Required field is missing: query");
    };
    let operation = body
        .get("operation")
        .and_then(Json::as_str)
        .unwrap_or("query");
    if operation != "query" && operation != "queryAll" {
        return invalid_job(&format!(
            "InvalidJob : Invalid operation: {operation}. Valid values are query, queryAll"
        ));
    }
    let dialect = match parse_dialect(&body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let parsed = match soql::parse(text) {
        Ok(q) => q,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    if parsed
        .select
        .iter()
        .any(|s| matches!(s, soql::SelectItem::Count { .. }))
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            "INVALIDJOB",
            "InvalidJob : Aggregate queries are not supported by Bulk API 2.0 query jobs",
        );
    }
    let object = {
        let Ok(org) = state.org.lock() else {
            return lock_poisoned();
        };
        if let Err(e) = soql::validate(&parsed, org.schema()) {
            return error_response(StatusCode::BAD_REQUEST, e.code, &e.message);
        }
        org.schema()
            .object(&parsed.object)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    };
    let now = Utc::now();
    let job = QueryJob {
        id: state.next_job_id(),
        operation: operation.to_string(),
        object,
        query: text.to_string(),
        dialect,
        state: JobState::UploadComplete,
        created_by: head.caller.user,
        created_date: now,
        system_modstamp: now,
        api_version: head.version,
        results: None,
        total_processing_ms: 0,
        error_message: None,
    };
    let id = job.id;
    let response = json_response(StatusCode::OK, job.summary_json());
    if let Ok(mut jobs) = state.query_jobs.lock() {
        jobs.insert(id, job);
    }
    let state = Arc::clone(state);
    tokio::spawn(async move { run_query(state, id, parsed).await });
    response
}

async fn run_query(state: SharedState, job_id: SfId, query: soql::Query) {
    if state.config.processing == Processing::Realistic {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let dialect = {
        let Ok(mut jobs) = state.query_jobs.lock() else {
            return;
        };
        let Some(job) = jobs.get_mut(&job_id) else {
            return;
        };
        if job.state != JobState::UploadComplete {
            return;
        }
        job.state = JobState::InProgress;
        job.dialect
    };
    let started = Instant::now();
    let worker = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        let org = worker
            .org
            .lock()
            .map_err(|_| "state lock poisoned".to_string())?;
        let output = soql::execute(&query, &super::rest::OrgSource(&org), Utc::now())
            .map_err(|e| e.message)?;
        Ok::<QueryResults, String>(render_query_csv(output, dialect))
    })
    .await;
    let Ok(mut jobs) = state.query_jobs.lock() else {
        return;
    };
    let Some(job) = jobs.get_mut(&job_id) else {
        return;
    };
    job.total_processing_ms = started.elapsed().as_millis() as u64;
    job.system_modstamp = Utc::now();
    if job.state == JobState::Aborted {
        return;
    }
    match result {
        Ok(Ok(results)) => {
            job.results = Some(results);
            job.state = JobState::JobComplete;
        }
        Ok(Err(message)) => {
            job.state = JobState::Failed;
            job.error_message = Some(message);
        }
        Err(e) => {
            job.state = JobState::Failed;
            job.error_message = Some(e.to_string());
        }
    }
}

fn render_query_csv(output: soql::QueryOutput, dialect: Dialect) -> QueryResults {
    let soql::QueryOutput::Rows { columns, rows, .. } = output else {
        return QueryResults::default();
    };
    let terminator = match dialect.line_ending {
        LineEnding::Lf => csv::Terminator::Any(b'\n'),
        LineEnding::Crlf => csv::Terminator::CRLF,
    };
    let mut header = csv::WriterBuilder::new()
        .delimiter(dialect.delimiter.byte())
        .terminator(terminator)
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let _ = header.write_record(columns.iter().map(|c| c.label.as_str()));
    let header = header.into_inner().unwrap_or_default();
    let mut row_starts = Vec::with_capacity(rows.len());
    let mut writer = csv::WriterBuilder::new()
        .delimiter(dialect.delimiter.byte())
        .terminator(terminator)
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::with_capacity(rows.len() * 64));
    let mut cells: Vec<String> = Vec::with_capacity(columns.len());
    for row in rows {
        cells.clear();
        cells.extend(row.iter().map(|v| v.to_text()));
        let _ = writer.flush();
        row_starts.push(writer.get_ref().len());
        let _ = writer.write_record(&cells);
    }
    let body = writer.into_inner().unwrap_or_default();
    QueryResults {
        header: Bytes::from(header),
        body,
        row_starts,
    }
}

fn abort_query(state: &EmulatorState, id: &str, body: &[u8]) -> Response {
    let body = match parse_json_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body.get("state").and_then(Json::as_str) != Some("Aborted") {
        return invalid_job_state("Only the Aborted state can be set on a query job");
    }
    with_query_job(state, id, |job| {
        if job.state.is_terminal() {
            return invalid_job_state(&format!(
                "Aborting already {} Job not allowed",
                completed_word(job.state)
            ));
        }
        job.state = JobState::Aborted;
        job.system_modstamp = Utc::now();
        json_response(StatusCode::OK, job.summary_json())
    })
}

fn delete_query(state: &EmulatorState, id: &str) -> Response {
    let Some(job_id) = SfId::parse(id) else {
        return not_found();
    };
    let Ok(mut jobs) = state.query_jobs.lock() else {
        return lock_poisoned();
    };
    match jobs.get(&job_id) {
        None => not_found(),
        Some(job) if !job.state.is_terminal() => error_response(
            StatusCode::BAD_REQUEST,
            "API_ERROR",
            "Error encountered when deleting the job because the job is not terminated",
        ),
        Some(_) => {
            jobs.remove(&job_id);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// Default page size when `maxRecords` is not given.
const DEFAULT_PAGE: usize = 50_000;

fn query_results(state: &EmulatorState, id: &str, request: &ApiRequest) -> Response {
    let Some(job_id) = SfId::parse(id) else {
        return not_found();
    };
    let Ok(jobs) = state.query_jobs.lock() else {
        return lock_poisoned();
    };
    let Some(job) = jobs.get(&job_id) else {
        return not_found();
    };
    if (job.api_version - request.version).abs() > f64::EPSILON {
        return error_response(
            StatusCode::CONFLICT,
            "INVALIDJOBSTATE",
            &format!(
                "Results must be retrieved with the API version the job was created with (v{:.1})",
                job.api_version
            ),
        );
    }
    if job.state != JobState::JobComplete {
        return invalid_job_state(&format!(
            "Job {} is not complete (state: {})",
            job.id,
            job.state.as_str()
        ));
    }
    let Some(results) = &job.results else {
        return not_found();
    };
    let start = match request
        .query
        .get("locator")
        .filter(|l| !l.is_empty() && l.as_str() != "null")
    {
        None => 0,
        Some(locator) => match decode_locator(locator) {
            Some(n) if n <= results.len() => n,
            _ => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "INVALIDLOCATOR",
                    &format!("Invalid locator: {locator}"),
                );
            }
        },
    };
    let max = match request.query.get("maxRecords") {
        None => DEFAULT_PAGE,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "INVALIDMAXRECORDS",
                    &format!("maxRecords must be a positive integer, got: {m}"),
                );
            }
        },
    };
    let end = (start + max).min(results.len());
    let mut body = Vec::with_capacity(results.header.len() + results.rows(start, end).len());
    body.extend_from_slice(&results.header);
    body.extend_from_slice(results.rows(start, end));
    let locator = if end >= results.len() {
        "null".to_string()
    } else {
        encode_locator(end)
    };
    let mut response = csv_response(body);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&locator) {
        headers.insert("Sforce-Locator", v);
    }
    if let Ok(v) = HeaderValue::from_str(&(end - start).to_string()) {
        headers.insert("Sforce-NumberOfRecords", v);
    }
    response
}
