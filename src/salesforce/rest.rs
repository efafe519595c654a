//! The few REST calls the engine needs beside Bulk: `describe`, SOQL `query` (for small
//! lookups and tests) and `limits`.

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::error::SalesforceError;
use super::request::Endpoint;
use super::service::SalesforceClient;

/// One page of a REST query.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryPage {
    #[serde(default)]
    records: Vec<Value>,
    #[serde(default)]
    next_records_url: Option<String>,
}

impl SalesforceClient {
    /// `GET sobjects/{object}/describe`: fields, types, external-ID flags.
    pub async fn describe(&self, object: &str) -> Result<Value, SalesforceError> {
        let request = self.request(
            Method::GET,
            &["sobjects", object, "describe"],
            format!("describe {object}"),
        );
        self.execute_json(&request).await
    }

    /// Runs SOQL through REST and returns every record, following `nextRecordsUrl`.
    /// Holds all rows in memory: for small lookups; use a Bulk query for large sets.
    pub async fn query(&self, soql: &str) -> Result<Vec<Value>, SalesforceError> {
        let mut request = self
            .request(Method::GET, &["query"], "SOQL query")
            .param("q", soql);
        let mut records = Vec::new();
        loop {
            let page: QueryPage = self.execute_json(&request).await?;
            records.extend(page.records);
            match page.next_records_url {
                Some(next) if !next.is_empty() => {
                    request.endpoint = Endpoint::Path(next);
                    request.query.clear();
                }
                _ => return Ok(records),
            }
        }
    }

    /// `GET limits`: the org's limits (`DailyApiRequests`, …) as Salesforce reports them.
    pub async fn limits(&self) -> Result<Value, SalesforceError> {
        let request = self.request(Method::GET, &["limits"], "read limits");
        self.execute_json(&request).await
    }
}
