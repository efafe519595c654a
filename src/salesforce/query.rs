//! Bulk API 2.0 query jobs: create → poll → fetch result pages, following
//! `Sforce-Locator` until it reads `null`.
//!
//! Each page is a standalone CSV with its own header row. Pages go to files (streamed
//! chunk by chunk) or to a callback, one page at a time; `max_records` bounds a page.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use reqwest::{Method, Response};
use serde::Serialize;

use super::bulk::{JobInfo, JobKind, JobState, Operation, stream_to_file};
use super::error::SalesforceError;
use super::request::{ApiRequest, CSV};
use super::service::SalesforceClient;

/// The locator header of query result pages.
pub const LOCATOR_HEADER: &str = "Sforce-Locator";
/// The page's row count header.
pub const NUMBER_OF_RECORDS_HEADER: &str = "Sforce-NumberOfRecords";

/// One result page held in memory.
#[derive(Debug, Clone)]
pub struct QueryPage {
    /// 0-based page number.
    pub index: usize,
    /// Rows in the page (`Sforce-NumberOfRecords`), when reported.
    pub records: Option<u64>,
    /// The CSV, header row included.
    pub csv: Bytes,
}

/// What [`SalesforceClient::download_query_results`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDownload {
    /// One CSV per page, in order (`page-00001.csv`, …), each with a header row.
    pub files: Vec<PathBuf>,
    /// Rows over all pages (from `Sforce-NumberOfRecords`).
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
}

#[derive(Serialize)]
struct CreateQueryBody<'a> {
    operation: Operation,
    query: &'a str,
    #[serde(rename = "contentType")]
    content_type: &'static str,
}

/// Headers of a page: the next locator (`None` after the last page) and the row count.
fn page_headers(response: &Response) -> (Option<String>, Option<u64>) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    let locator = header(LOCATOR_HEADER).filter(|l| !l.is_empty() && l != "null");
    let records = header(NUMBER_OF_RECORDS_HEADER).and_then(|n| n.parse().ok());
    (locator, records)
}

impl SalesforceClient {
    /// Creates a Bulk query job (`query`). Checks the API allowance first: this starts
    /// new work.
    pub async fn create_query_job(&self, soql: &str) -> Result<JobInfo, SalesforceError> {
        self.create_query_job_with(soql, Operation::Query).await
    }

    /// Creates a Bulk query job with `operation` `Query` or `QueryAll` (deleted and
    /// archived rows too).
    pub async fn create_query_job_with(
        &self,
        soql: &str,
        operation: Operation,
    ) -> Result<JobInfo, SalesforceError> {
        if !matches!(operation, Operation::Query | Operation::QueryAll) {
            return Err(SalesforceError::Config(format!(
                "{operation} is not a query operation (query or queryAll)"
            )));
        }
        self.ensure_allowance()?;
        let request = self
            .request(Method::POST, &["jobs", "query"], "create query job")
            .json(&CreateQueryBody {
                operation,
                query: soql,
                content_type: "CSV",
            })?;
        let info: JobInfo = self.execute_json(&request).await?;
        tracing::info!(message = "Bulk query job created.", job_id = %info.id, object = %info.object);
        Ok(info)
    }

    /// The query job's current info.
    pub async fn query_job_info(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        self.job_info_of(JobKind::Query, job_id).await
    }

    /// Polls until the query job is `JobComplete`, `Failed` or `Aborted`.
    pub async fn wait_for_query(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        self.poll_until_done(JobKind::Query, job_id, None).await
    }

    /// Aborts a running query job.
    pub async fn abort_query_job(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        self.set_job_state(JobKind::Query, job_id, JobState::Aborted)
            .await
    }

    /// Streams every result page into `dest_dir` (`page-00001.csv`, …), following the
    /// locator. `max_records` bounds each page (Salesforce's default otherwise).
    pub async fn download_query_results(
        &self,
        job_id: &str,
        dest_dir: &Path,
        max_records: Option<u64>,
    ) -> Result<QueryDownload, SalesforceError> {
        tokio::fs::create_dir_all(dest_dir)
            .await
            .map_err(|e| SalesforceError::io(format!("cannot create {}", dest_dir.display()), e))?;
        let mut download = QueryDownload {
            files: Vec::new(),
            records: 0,
            bytes: 0,
        };
        let mut locator: Option<String> = None;
        loop {
            let request = self.page_request(job_id, locator.as_deref(), max_records);
            let dest = dest_dir.join(format!("page-{:05}.csv", download.files.len() + 1));
            let call = request.call.as_str();
            let dest_ref = dest.as_path();
            let (bytes, next, records) = self
                .execute(&request, |response| async move {
                    let (next, records) = page_headers(&response);
                    let bytes = stream_to_file(response, dest_ref, call).await?;
                    Ok((bytes, next, records))
                })
                .await?;
            download.files.push(dest);
            download.bytes += bytes;
            download.records += records.unwrap_or(0);
            match next {
                Some(n) => locator = Some(n),
                None => break,
            }
        }
        tracing::info!(
            message = "Bulk query results downloaded.",
            job_id,
            pages = download.files.len(),
            records = download.records,
        );
        Ok(download)
    }

    /// Calls `on_page` with each result page in order, one page in memory at a time.
    /// Returns the rows over all pages. An error from `on_page` stops the paging.
    pub async fn for_each_query_page<F>(
        &self,
        job_id: &str,
        max_records: Option<u64>,
        mut on_page: F,
    ) -> Result<u64, SalesforceError>
    where
        F: FnMut(QueryPage) -> Result<(), SalesforceError>,
    {
        let mut locator: Option<String> = None;
        let mut total = 0;
        for index in 0.. {
            let request = self.page_request(job_id, locator.as_deref(), max_records);
            let call = request.call.as_str();
            let (csv, next, records) = self
                .execute(&request, |response| async move {
                    let (next, records) = page_headers(&response);
                    let csv = response
                        .bytes()
                        .await
                        .map_err(|e| SalesforceError::transport(call, e))?;
                    Ok((csv, next, records))
                })
                .await?;
            total += records.unwrap_or(0);
            on_page(QueryPage {
                index,
                records,
                csv,
            })?;
            match next {
                Some(n) => locator = Some(n),
                None => break,
            }
        }
        Ok(total)
    }

    fn page_request(
        &self,
        job_id: &str,
        locator: Option<&str>,
        max_records: Option<u64>,
    ) -> ApiRequest {
        let mut request = self
            .request(
                Method::GET,
                &["jobs", "query", job_id, "results"],
                format!("download results of query job {job_id}"),
            )
            .accept(CSV)
            .timeout(self.transfer_timeout());
        if let Some(l) = locator {
            request = request.param("locator", l);
        }
        if let Some(m) = max_records {
            request = request.param("maxRecords", m.to_string());
        }
        request
    }
}
