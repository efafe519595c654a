//! Bulk API 2.0 job records (ingest and query) and their JSON shapes.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use super::ids::SfId;
use super::ingest::{Dialect, Operation, RowOutcome};
use super::schema::format_datetime;

/// Job states, named as Salesforce names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Open,
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Open => "Open",
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        )
    }
}

/// One ingest job.
#[derive(Debug)]
pub struct IngestJob {
    pub id: SfId,
    pub object: String,
    pub operation: Operation,
    pub external_id_field: Option<String>,
    pub assignment_rule_id: Option<String>,
    pub dialect: Dialect,
    pub state: JobState,
    pub created_by: SfId,
    pub created_date: DateTime<Utc>,
    pub system_modstamp: DateTime<Utc>,
    pub api_version: f64,
    /// The uploaded CSV (one upload per job).
    pub data: Option<Bytes>,
    /// Per-row outcomes, by row position in the upload.
    pub outcomes: Arc<Vec<RowOutcome>>,
    pub records_processed: u64,
    pub records_failed: u64,
    pub retries: u64,
    pub total_processing_ms: u64,
    pub error_message: Option<String>,
    /// Row order used in result files (None = upload order).
    pub result_order: Option<Vec<u32>>,
    /// Set when an abort arrives while processing; the runner stops at the next batch.
    pub abort_requested: bool,
}

/// What ingest and query jobs both report about themselves.
struct JobHead<'a> {
    id: SfId,
    operation: &'a str,
    object: &'a str,
    created_by: SfId,
    created_date: DateTime<Utc>,
    system_modstamp: DateTime<Utc>,
    state: JobState,
    api_version: f64,
}

/// The job-info fields every Bulk API 2.0 job has.
fn common_json(head: JobHead<'_>) -> serde_json::Map<String, Json> {
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(head.id.as_str()));
    m.insert("operation".into(), json!(head.operation));
    m.insert("object".into(), json!(head.object));
    m.insert("createdById".into(), json!(head.created_by.as_str()));
    m.insert(
        "createdDate".into(),
        json!(format_datetime(&head.created_date)),
    );
    m.insert(
        "systemModstamp".into(),
        json!(format_datetime(&head.system_modstamp)),
    );
    m.insert("state".into(), json!(head.state.as_str()));
    m.insert("concurrencyMode".into(), json!("Parallel"));
    m.insert("contentType".into(), json!("CSV"));
    m.insert("apiVersion".into(), api_version_json(head.api_version));
    m
}

impl IngestJob {
    fn base_json(&self) -> serde_json::Map<String, Json> {
        let mut m = common_json(JobHead {
            id: self.id,
            operation: self.operation.as_str(),
            object: &self.object,
            created_by: self.created_by,
            created_date: self.created_date,
            system_modstamp: self.system_modstamp,
            state: self.state,
            api_version: self.api_version,
        });
        if let Some(ext) = &self.external_id_field {
            m.insert("externalIdFieldName".into(), json!(ext));
        }
        if let Some(rule) = &self.assignment_rule_id {
            m.insert("assignmentRuleId".into(), json!(rule));
        }
        m
    }

    fn content_url(&self) -> String {
        format!(
            "services/data/v{:.1}/jobs/ingest/{}/batches",
            self.api_version, self.id
        )
    }

    /// The body returned by create and close/abort.
    pub fn summary_json(&self) -> Json {
        let mut m = self.base_json();
        m.insert("contentUrl".into(), json!(self.content_url()));
        m.insert(
            "lineEnding".into(),
            json!(self.dialect.line_ending.as_str()),
        );
        m.insert(
            "columnDelimiter".into(),
            json!(self.dialect.delimiter.as_str()),
        );
        Json::Object(m)
    }

    /// The full job info (GET), with numeric counters always present.
    pub fn info_json(&self) -> Json {
        let mut m = self.base_json();
        m.insert("jobType".into(), json!("V2Ingest"));
        m.insert("contentUrl".into(), json!(self.content_url()));
        m.insert(
            "lineEnding".into(),
            json!(self.dialect.line_ending.as_str()),
        );
        m.insert(
            "columnDelimiter".into(),
            json!(self.dialect.delimiter.as_str()),
        );
        m.insert(
            "numberRecordsProcessed".into(),
            json!(self.records_processed),
        );
        m.insert("numberRecordsFailed".into(), json!(self.records_failed));
        m.insert("retries".into(), json!(self.retries));
        m.insert(
            "totalProcessingTime".into(),
            json!(self.total_processing_ms),
        );
        m.insert(
            "apiActiveProcessingTime".into(),
            json!(self.total_processing_ms),
        );
        m.insert("apexProcessingTime".into(), json!(0));
        if let Some(msg) = &self.error_message {
            m.insert("errorMessage".into(), json!(msg));
        }
        Json::Object(m)
    }

    /// The shorter shape used in job lists.
    pub fn list_json(&self) -> Json {
        let mut m = self.base_json();
        m.insert("jobType".into(), json!("V2Ingest"));
        m.insert("contentUrl".into(), json!(self.content_url()));
        m.insert(
            "lineEnding".into(),
            json!(self.dialect.line_ending.as_str()),
        );
        m.insert(
            "columnDelimiter".into(),
            json!(self.dialect.delimiter.as_str()),
        );
        Json::Object(m)
    }
}

/// `apiVersion` is a JSON number (`66.0`).
pub fn api_version_json(v: f64) -> Json {
    serde_json::Number::from_f64(v)
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

/// A query job's rendered results: CSV rows (without header) and where each row starts.
#[derive(Debug, Default)]
pub struct QueryResults {
    pub header: Bytes,
    pub body: Vec<u8>,
    pub row_starts: Vec<usize>,
}

impl QueryResults {
    pub fn len(&self) -> usize {
        self.row_starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.row_starts.is_empty()
    }

    /// The bytes of rows `from..to`.
    pub fn rows(&self, from: usize, to: usize) -> &[u8] {
        if from >= to || from >= self.row_starts.len() {
            return &[];
        }
        let start = self.row_starts[from];
        let end = self.row_starts.get(to).copied().unwrap_or(self.body.len());
        &self.body[start..end]
    }
}

/// One query job.
#[derive(Debug)]
pub struct QueryJob {
    pub id: SfId,
    pub operation: String,
    pub object: String,
    pub query: String,
    pub dialect: Dialect,
    pub state: JobState,
    pub created_by: SfId,
    pub created_date: DateTime<Utc>,
    pub system_modstamp: DateTime<Utc>,
    pub api_version: f64,
    pub results: Option<QueryResults>,
    pub total_processing_ms: u64,
    pub error_message: Option<String>,
}

impl QueryJob {
    fn base_json(&self) -> serde_json::Map<String, Json> {
        let mut m = common_json(JobHead {
            id: self.id,
            operation: &self.operation,
            object: &self.object,
            created_by: self.created_by,
            created_date: self.created_date,
            system_modstamp: self.system_modstamp,
            state: self.state,
            api_version: self.api_version,
        });
        m.insert(
            "lineEnding".into(),
            json!(self.dialect.line_ending.as_str()),
        );
        m.insert(
            "columnDelimiter".into(),
            json!(self.dialect.delimiter.as_str()),
        );
        m
    }

    pub fn summary_json(&self) -> Json {
        Json::Object(self.base_json())
    }

    pub fn info_json(&self) -> Json {
        let mut m = self.base_json();
        m.insert("jobType".into(), json!("V2Query"));
        let processed = self.results.as_ref().map(QueryResults::len).unwrap_or(0);
        m.insert("numberRecordsProcessed".into(), json!(processed));
        m.insert("retries".into(), json!(0));
        m.insert(
            "totalProcessingTime".into(),
            json!(self.total_processing_ms),
        );
        m.insert("isPkChunkingSupported".into(), json!(true));
        if let Some(msg) = &self.error_message {
            m.insert("errorMessage".into(), json!(msg));
        }
        Json::Object(m)
    }

    pub fn list_json(&self) -> Json {
        let mut m = self.base_json();
        m.insert("jobType".into(), json!("V2Query"));
        Json::Object(m)
    }
}
