//! Request building. An [`ApiRequest`] describes one call without host or token, so the
//! service can rebuild it for every attempt: after a retry delay, and after a new login
//! (which may change the instance URL). Upload files are re-opened for each attempt.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use url::Url;

use super::auth::Session;
use super::error::SalesforceError;

/// JSON request bodies.
pub const JSON: &str = "application/json; charset=UTF-8";
/// CSV request bodies and result downloads.
pub const CSV: &str = "text/csv";

/// Bytes of an upload file read and sent at a time.
const UPLOAD_CHUNK: usize = 512 * 1024;

/// CSV data for an ingest job: a file streamed from disk, or bytes in memory.
#[derive(Debug, Clone)]
pub enum UploadSource {
    /// A file, streamed with its length as `Content-Length`; re-opened on every attempt.
    File(PathBuf),
    /// An in-memory CSV (cheap to clone for retries).
    Bytes(Bytes),
}

impl From<PathBuf> for UploadSource {
    fn from(path: PathBuf) -> UploadSource {
        UploadSource::File(path)
    }
}

impl From<&std::path::Path> for UploadSource {
    fn from(path: &std::path::Path) -> UploadSource {
        UploadSource::File(path.to_path_buf())
    }
}

impl From<Bytes> for UploadSource {
    fn from(bytes: Bytes) -> UploadSource {
        UploadSource::Bytes(bytes)
    }
}

impl From<Vec<u8>> for UploadSource {
    fn from(bytes: Vec<u8>) -> UploadSource {
        UploadSource::Bytes(Bytes::from(bytes))
    }
}

impl From<String> for UploadSource {
    fn from(text: String) -> UploadSource {
        UploadSource::Bytes(Bytes::from(text))
    }
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// Path segments under `/services/data/v{api_version}/` (each one percent-encoded).
    Data(Vec<String>),
    /// A server-provided path such as `nextRecordsUrl` (`/services/data/v66.0/query/...`).
    Path(String),
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Payload {
    /// No body.
    Empty,
    /// Serialized JSON.
    Json(Bytes),
    /// CSV data.
    Csv(UploadSource),
}

/// One API call, rebuilt for every attempt.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Target.
    pub endpoint: Endpoint,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Body.
    pub payload: Payload,
    /// `Accept` header.
    pub accept: &'static str,
    /// Whole-request deadline.
    pub timeout: Duration,
    /// What the call does, for logs and errors ("create ingest job").
    pub call: String,
}

impl ApiRequest {
    /// A bodiless request under `/services/data/vXX.X/`.
    pub fn data(method: Method, segments: &[&str], call: impl Into<String>) -> ApiRequest {
        ApiRequest {
            method,
            endpoint: Endpoint::Data(segments.iter().map(|s| s.to_string()).collect()),
            query: Vec::new(),
            payload: Payload::Empty,
            accept: "application/json",
            timeout: Duration::from_secs(60),
            call: call.into(),
        }
    }

    /// Adds a JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Result<ApiRequest, SalesforceError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            SalesforceError::Config(format!("cannot serialize the body of {}: {e}", self.call))
        })?;
        self.payload = Payload::Json(Bytes::from(bytes));
        Ok(self)
    }

    /// Adds a query parameter.
    pub fn param(mut self, key: &str, value: impl Into<String>) -> ApiRequest {
        self.query.push((key.to_string(), value.into()));
        self
    }

    /// Sets the deadline.
    pub fn timeout(mut self, timeout: Duration) -> ApiRequest {
        self.timeout = timeout;
        self
    }

    /// Sets `Accept`.
    pub fn accept(mut self, accept: &'static str) -> ApiRequest {
        self.accept = accept;
        self
    }

    /// The absolute URL on `instance_url`.
    pub fn url(&self, instance_url: &str, api_version: &str) -> Result<Url, SalesforceError> {
        let bad = |detail: String| SalesforceError::protocol(&self.call, detail);
        let mut url = Url::parse(instance_url)
            .map_err(|e| bad(format!("instance_url '{instance_url}' is not a URL: {e}")))?;
        match &self.endpoint {
            Endpoint::Data(segments) => {
                let version = format!("v{api_version}");
                url.path_segments_mut()
                    .map_err(|()| bad(format!("instance_url '{instance_url}' cannot have a path")))?
                    .pop_if_empty()
                    .extend(["services", "data", version.as_str()])
                    .extend(segments);
            }
            Endpoint::Path(path) => {
                if !path.starts_with("/services/") {
                    return Err(bad(format!(
                        "refusing to follow '{path}' outside /services/"
                    )));
                }
                url = url
                    .join(path)
                    .map_err(|e| bad(format!("bad path '{path}': {e}")))?;
            }
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        Ok(url)
    }

    /// A ready-to-send request for one attempt. Upload files are opened here, so each
    /// attempt streams the file from the start.
    pub async fn build(
        &self,
        http: &reqwest::Client,
        session: &Session,
        api_version: &str,
    ) -> Result<RequestBuilder, SalesforceError> {
        let url = self.url(session.instance_url(), api_version)?;
        let builder = http
            .request(self.method.clone(), url)
            .bearer_auth(session.access_token())
            .header(ACCEPT, self.accept)
            .timeout(self.timeout);
        Ok(match &self.payload {
            Payload::Empty => builder,
            Payload::Json(bytes) => builder.header(CONTENT_TYPE, JSON).body(bytes.clone()),
            Payload::Csv(UploadSource::Bytes(bytes)) => {
                builder.header(CONTENT_TYPE, CSV).body(bytes.clone())
            }
            Payload::Csv(UploadSource::File(path)) => {
                let io = |e| {
                    SalesforceError::io(
                        format!("cannot read the upload file {}", path.display()),
                        e,
                    )
                };
                let mut file = tokio::fs::File::open(path).await.map_err(io)?;
                let length = file.metadata().await.map_err(io)?.len();
                // Read in large chunks: each read of a tokio file is a trip to the blocking
                // pool, and each chunk a write to the connection. `Body::from(File)` reads
                // 4 KiB at a time: 34,000 of each for a 140 MB part.
                file.set_max_buf_size(UPLOAD_CHUNK);
                let chunks = tokio_util::io::ReaderStream::with_capacity(file, UPLOAD_CHUNK);
                builder
                    .header(CONTENT_TYPE, CSV)
                    .header(CONTENT_LENGTH, length)
                    .body(reqwest::Body::wrap_stream(chunks))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_are_versioned_and_encoded() {
        let r = ApiRequest::data(Method::GET, &["sobjects", "My Obj__c", "describe"], "d");
        let url = r.url("https://acme.my.salesforce.com", "66.0").unwrap();
        assert_eq!(
            url.as_str(),
            "https://acme.my.salesforce.com/services/data/v66.0/sobjects/My%20Obj__c/describe"
        );
        let r = ApiRequest::data(Method::GET, &["query"], "q").param("q", "SELECT Id FROM Contact");
        let url = r.url("http://127.0.0.1:9/", "64.0").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/services/data/v64.0/query?q=SELECT+Id+FROM+Contact"
        );
    }

    #[test]
    fn server_paths_stay_on_the_instance_and_under_services() {
        let mut r = ApiRequest::data(Method::GET, &[], "next page");
        r.endpoint = Endpoint::Path("/services/data/v66.0/query/01gxx-2000".into());
        assert_eq!(
            r.url("https://a.my.salesforce.com", "66.0")
                .unwrap()
                .as_str(),
            "https://a.my.salesforce.com/services/data/v66.0/query/01gxx-2000"
        );
        r.endpoint = Endpoint::Path("https://evil.example/services/x".into());
        assert!(r.url("https://a.my.salesforce.com", "66.0").is_err());
    }
}
