//! HTTP surface: the router, authentication, API usage accounting, fault injection and
//! the small REST resources (versions, resource map, identity, limits).

// Handlers return `Err(Response)` to answer early; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{Value as Json, json};
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

use super::faults::HttpFault;
use super::ids::SfId;
use super::oauth::{self, verify_jwt_bearer};
use super::state::{EmulatorState, Session};
use super::{admin, bulk, rest};

pub type SharedState = Arc<EmulatorState>;

/// Lowest and highest API versions served.
pub const MIN_API_VERSION: u32 = 31;
pub const MAX_API_VERSION: u32 = 66;

/// A JSON response.
pub fn json_response(status: StatusCode, body: Json) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}

/// Salesforce's REST error body: a JSON array of `{message, errorCode}`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, json!([{"message": message, "errorCode": code}]))
}

/// A mutex was poisoned by a panicking thread: answer 500 instead of panicking again.
pub fn lock_poisoned() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN_EXCEPTION",
        "state lock poisoned",
    )
}

pub fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

pub fn method_not_allowed(method: &Method) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("HTTP Method '{method}' not allowed. Allowed are GET,HEAD,POST,PATCH,PUT,DELETE"),
    )
}

/// Parses a JSON request body, or answers Salesforce's `JSON_PARSER_ERROR`.
pub fn parse_json_body(body: &[u8]) -> Result<Json, Response> {
    if body.is_empty() {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body is empty; a JSON object was expected.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        error_response(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            &format!("Unexpected character or end of input in the request body at [line:{}, column:{}]: {e}", e.line(), e.column()),
        )
    })
}

/// Parses `a=b&c=d` query strings (percent-decoded).
pub fn query_params(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Builds the router over the shared state.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/services/oauth2/token", post(token))
        .route("/services/oauth2/token/", post(token))
        .route("/services/data", get(versions))
        .route("/services/data/", get(versions))
        .route("/services/data/{*rest}", any(services_data))
        .route("/id/{org}/{user}", get(identity))
        .route("/id/{org}/{user}/", get(identity))
        .nest("/__admin", admin::router())
        .fallback(fallback)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestDecompressionLayer::new())
        // Fastest gzip: result files are large and the emulator must not be the bottleneck.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .with_state(state)
}

async fn fallback() -> Response {
    not_found()
}

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    assertion: Option<String>,
}

/// `POST /services/oauth2/token` — the JWT bearer flow.
async fn token(State(state): State<SharedState>, body: Bytes) -> Response {
    state.stats.count_route("POST oauth2/token");
    let form: TokenForm = match serde_urlencoded_from(&body) {
        Some(f) => f,
        None => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "request body must be application/x-www-form-urlencoded"}),
            );
        }
    };
    let now = Utc::now();
    let verified = verify_jwt_bearer(
        form.grant_type.as_deref(),
        form.assertion.as_deref(),
        &state.config.certificate,
        &state.jwt_policy(),
        now.timestamp(),
    );
    let grant = match verified {
        Ok(g) => g,
        Err(e) => {
            tracing::info!(error = %e, "JWT bearer grant refused.");
            return json_response(
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                json!({"error": e.error(), "error_description": e.description()}),
            );
        }
    };
    let (user_id, active) = {
        let Ok(org) = state.org.lock() else {
            return lock_poisoned();
        };
        find_user(&org, &grant.username)
    };
    let Some(user_id) = user_id else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}),
        );
    };
    if !active {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "inactive user"}),
        );
    }
    let org_id = state.org_id();
    let access_token = {
        let Ok(mut rng) = state.rng.lock() else {
            return lock_poisoned();
        };
        oauth::new_access_token(&org_id.as_str()[..15], &mut *rng)
    };
    let ttl =
        chrono::Duration::from_std(state.config.token_ttl).unwrap_or(chrono::Duration::hours(2));
    if let Ok(mut sessions) = state.sessions.lock() {
        sessions.insert(
            access_token.clone(),
            Session {
                user: user_id,
                username: grant.username.clone(),
                expires_at: now + ttl,
                requests: 0,
            },
        );
    }
    let issued_at = now.timestamp_millis().to_string();
    let id_url = format!("{}/id/{}/{}", state.base_url, org_id, user_id);
    // The signature proves id + issued_at came from the server; a keyed digest of both.
    let signature = {
        use base64::Engine;
        let digest = simple_digest(&format!("{id_url}{issued_at}{}", state.config.consumer_key));
        base64::engine::general_purpose::STANDARD.encode(digest)
    };
    json_response(
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "scope": "api full",
            "instance_url": state.base_url,
            "id": id_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
        }),
    )
}

/// A non-cryptographic 32-byte digest (FNV-1a lanes): the emulator's `signature` only
/// needs the right shape.
fn simple_digest(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (lane, chunk) in out.chunks_mut(8).enumerate() {
        let mut h: u64 = 0xcbf29ce484222325 ^ (lane as u64);
        for b in text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        chunk.copy_from_slice(&h.to_be_bytes());
    }
    out
}

fn serde_urlencoded_from(body: &[u8]) -> Option<TokenForm> {
    let mut grant_type = None;
    let mut assertion = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "grant_type" => grant_type = Some(v.into_owned()),
            "assertion" => assertion = Some(v.into_owned()),
            _ => {}
        }
    }
    Some(TokenForm {
        grant_type,
        assertion,
    })
}

fn find_user(org: &super::org::Org, username: &str) -> (Option<SfId>, bool) {
    let Some(user_obj) = org.schema().position("User") else {
        return (None, false);
    };
    let Some(field) = org.object_def(user_obj).field_position("Username") else {
        return (None, false);
    };
    let Some(slot) = org.lookup(user_obj, field, username).into_iter().next() else {
        return (None, false);
    };
    let active =
        org.value_by_name(user_obj, slot, "IsActive") == super::schema::Value::Boolean(true);
    (org.record(user_obj, slot).map(|r| r.id), active)
}

/// `GET /services/data` — the versions list (no authentication, no usage counted).
async fn versions(State(state): State<SharedState>) -> Response {
    state.stats.count_route("GET versions");
    let list: Vec<Json> = (MIN_API_VERSION..=MAX_API_VERSION)
        .map(|v| {
            json!({
                "label": release_label(v),
                "url": format!("/services/data/v{v}.0"),
                "version": format!("{v}.0"),
            })
        })
        .collect();
    json_response(StatusCode::OK, Json::Array(list))
}

fn release_label(version: u32) -> String {
    // v66 = Spring '26; three releases a year.
    let seasons = ["Spring", "Summer", "Winter"];
    let offset = version as i64 - 66;
    let index = offset.rem_euclid(3) as usize;
    let year = 26 + offset.div_euclid(3) + if index == 2 { 1 } else { 0 };
    format!("{} '{:02}", seasons[index], year.rem_euclid(100))
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: SfId,
    pub username: String,
}

/// Checks the bearer token, counts the request against the session and the daily
/// allowance. Returns the caller or the error response.
fn authenticate(state: &EmulatorState, headers: &HeaderMap) -> Result<Caller, Response> {
    let invalid = || {
        error_response(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(str::trim)
        .ok_or_else(invalid)?;
    let token_requests = state
        .faults
        .lock()
        .ok()
        .and_then(|f| f.profile.token_requests);
    let mut sessions = state.sessions.lock().map_err(|_| invalid())?;
    let session = sessions.get_mut(token).ok_or_else(invalid)?;
    if session.expires_at <= Utc::now() {
        sessions.remove(token);
        return Err(invalid());
    }
    if let Some(limit) = token_requests
        && session.requests >= limit
    {
        sessions.remove(token);
        return Err(invalid());
    }
    session.requests += 1;
    Ok(Caller {
        user: session.user,
        username: session.username.clone(),
    })
}

fn limit_header(state: &EmulatorState) -> HeaderValue {
    let used = state.stats.api_requests.load(Ordering::Relaxed);
    HeaderValue::from_str(&format!("api-usage={used}/{}", state.api_limit()))
        .unwrap_or(HeaderValue::from_static("api-usage=0/0"))
}

/// A request to `/services/data/vXX.X/...` after authentication.
pub struct ApiRequest {
    pub method: Method,
    pub version: f64,
    /// Path segments after the version, empty segments removed.
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Body,
    pub caller: Caller,
}

impl ApiRequest {
    /// Segment `i`, lower-cased for keyword comparison.
    pub fn keyword(&self, i: usize) -> Option<String> {
        self.segments.get(i).map(|s| s.to_ascii_lowercase())
    }

    /// Reads the whole body, up to `limit` bytes.
    pub async fn read_body(self, limit: usize) -> Result<(Bytes, ApiRequestHead), Response> {
        let head = ApiRequestHead {
            method: self.method,
            version: self.version,
            segments: self.segments,
            query: self.query,
            headers: self.headers,
            caller: self.caller,
        };
        let too_large = || {
            error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "EXCEEDED_MAX_SIZE_REQUEST",
                &format!("Request body exceeds the maximum size of {limit} bytes"),
            )
        };
        // Sized once from Content-Length (a hint: gzip bodies grow past it) instead of
        // collecting frames and copying them together.
        let hint = head
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if hint > limit {
            return Err(too_large());
        }
        let mut buffer = bytes::BytesMut::with_capacity(hint);
        let mut body = self.body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                error_response(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    &format!("The request body could not be read: {e}"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                if buffer.len() + data.len() > limit {
                    return Err(too_large());
                }
                buffer.extend_from_slice(&data);
            }
        }
        Ok((buffer.freeze(), head))
    }
}

/// An [`ApiRequest`] whose body has been read.
pub struct ApiRequestHead {
    pub method: Method,
    pub version: f64,
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub caller: Caller,
}

impl ApiRequestHead {
    pub fn keyword(&self, i: usize) -> Option<String> {
        self.segments.get(i).map(|s| s.to_ascii_lowercase())
    }
}

/// Everything under `/services/data/` except the versions list.
async fn services_data(
    State(state): State<SharedState>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut segments = rest.split('/').filter(|s| !s.is_empty()).map(|s| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    });
    let Some(version_text) = segments.next() else {
        return versions(State(state)).await;
    };
    let segments: Vec<String> = segments.collect();
    let Some(version) = parse_version(&version_text) else {
        return not_found();
    };
    if version < MIN_API_VERSION as f64 {
        return error_response(
            StatusCode::GONE,
            "API_DISABLED_FOR_ORG",
            &format!(
                "API version {version:.1} has been retired. Use version {MIN_API_VERSION}.0 or later."
            ),
        );
    }
    if version > MAX_API_VERSION as f64 {
        return not_found();
    }
    let route = route_label(&method, &segments);
    state.stats.count_route(&route);
    let caller = match authenticate(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let used = state.stats.api_requests.fetch_add(1, Ordering::Relaxed) + 1;
    if used > state.api_limit() {
        let mut r = error_response(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        );
        r.headers_mut()
            .insert("Sforce-Limit-Info", limit_header(&state));
        return r;
    }
    let fault = state.faults.lock().ok().and_then(|mut f| f.draw_http());
    let mut response = match fault {
        Some(f) => {
            state.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            fault_response(f)
        }
        None => {
            let request = ApiRequest {
                method,
                version,
                segments,
                query: query_params(raw_query.as_deref()),
                headers,
                body,
                caller,
            };
            dispatch(state.clone(), request).await
        }
    };
    response
        .headers_mut()
        .insert("Sforce-Limit-Info", limit_header(&state));
    response
}

fn fault_response(fault: HttpFault) -> Response {
    match fault {
        HttpFault::Internal => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: 1839203847-42 (-1283746)",
        ),
        HttpFault::Unavailable => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server temporarily unavailable. Please try again later.",
        ),
        HttpFault::TooManyRequests => {
            let mut r = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

fn parse_version(text: &str) -> Option<f64> {
    let v = text.strip_prefix('v').or_else(|| text.strip_prefix('V'))?;
    let n: f64 = v.parse().ok()?;
    (n.fract() == 0.0).then_some(n)
}

/// A stable label for statistics: method plus the keyword segments (ids replaced).
fn route_label(method: &Method, segments: &[String]) -> String {
    let mut parts = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let lower = s.to_ascii_lowercase();
        let keep = matches!(
            lower.as_str(),
            "jobs"
                | "ingest"
                | "query"
                | "queryall"
                | "batches"
                | "successfulresults"
                | "failedresults"
                | "unprocessedrecords"
                | "results"
                | "resultpages"
                | "sobjects"
                | "describe"
                | "composite"
                | "limits"
        ) || (i == 1
            && segments
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("sobjects")));
        parts.push(if keep { s.as_str() } else { "{id}" });
    }
    if parts.is_empty() {
        format!("{method} resources")
    } else {
        format!("{method} {}", parts.join("/"))
    }
}

async fn dispatch(state: SharedState, request: ApiRequest) -> Response {
    match request.keyword(0).as_deref() {
        None => resources(&state, &request),
        Some("limits") => limits(&state),
        Some("jobs") => bulk::handle(state, request).await,
        Some("query") | Some("queryall") => rest::query(state, request).await,
        Some("sobjects") => rest::sobjects(state, request).await,
        Some("composite") => rest::composite(state, request).await,
        _ => not_found(),
    }
}

fn resources(state: &EmulatorState, request: &ApiRequest) -> Response {
    let v = format!("/services/data/v{:.1}", request.version);
    json_response(
        StatusCode::OK,
        json!({
            "tooling": format!("{v}/tooling"),
            "metadata": format!("{v}/metadata"),
            "eclair": format!("{v}/eclair"),
            "folders": format!("{v}/folders"),
            "prechatForms": format!("{v}/prechatForms"),
            "jobs": format!("{v}/jobs"),
            "limits": format!("{v}/limits"),
            "query": format!("{v}/query"),
            "queryAll": format!("{v}/queryAll"),
            "sobjects": format!("{v}/sobjects"),
            "composite": format!("{v}/composite"),
            "search": format!("{v}/search"),
            "recent": format!("{v}/recent"),
            "identity": format!("{}/id/{}/{}", state.base_url, state.org_id(), request.caller.user),
        }),
    )
}

fn limits(state: &EmulatorState) -> Response {
    let max = state.api_limit();
    let used = state.stats.api_requests.load(Ordering::Relaxed);
    let (bulk_batches, bulk_queries) = {
        let ingest = state
            .ingest_jobs
            .lock()
            .map(|j| j.len() as u64)
            .unwrap_or(0);
        let query = state.query_jobs.lock().map(|j| j.len() as u64).unwrap_or(0);
        (ingest, query)
    };
    json_response(
        StatusCode::OK,
        json!({
            "DailyApiRequests": {"Max": max, "Remaining": max.saturating_sub(used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000u64.saturating_sub(bulk_batches)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000u64.saturating_sub(bulk_queries)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }),
    )
}

/// `GET /id/{org}/{user}` — the identity service.
async fn identity(
    State(state): State<SharedState>,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    state.stats.count_route("GET id");
    let caller = match authenticate(&state, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let expected_org = state.org_id();
    let Some(user) = SfId::parse(&user_id) else {
        return error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "Bad_Id");
    };
    if SfId::parse(&org_id) != Some(expected_org) || user != caller.user {
        return error_response(StatusCode::FORBIDDEN, "FORBIDDEN", "Bad_Id");
    }
    let (first, last, email, display) = {
        let Ok(org) = state.org.lock() else {
            return lock_poisoned();
        };
        match org.find_id(&user) {
            Some((o, s)) => (
                org.value_by_name(o, s, "FirstName").to_text(),
                org.value_by_name(o, s, "LastName").to_text(),
                org.value_by_name(o, s, "Email").to_text(),
                org.value_by_name(o, s, "Name").to_text(),
            ),
            None => return not_found(),
        }
    };
    let base = &state.base_url;
    let v = format!("{MAX_API_VERSION}.0");
    json_response(
        StatusCode::OK,
        json!({
            "id": format!("{base}/id/{expected_org}/{user}"),
            "asserted_user": true,
            "user_id": user.as_str(),
            "organization_id": expected_org.as_str(),
            "username": caller.username,
            "nick_name": first.to_lowercase(),
            "display_name": display,
            "email": email,
            "email_verified": true,
            "first_name": first,
            "last_name": last,
            "timezone": "America/Los_Angeles",
            "active": true,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -28800000,
            "last_modified_date": "2026-01-01T00:00:00Z",
            "is_app_installed": true,
            "urls": {
                "enterprise": format!("{base}/services/Soap/c/{{version}}/{expected_org}"),
                "partner": format!("{base}/services/Soap/u/{{version}}/{expected_org}"),
                "rest": format!("{base}/services/data/v{{version}}/"),
                "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
                "search": format!("{base}/services/data/v{{version}}/search/"),
                "query": format!("{base}/services/data/v{{version}}/query/"),
                "recent": format!("{base}/services/data/v{{version}}/recent/"),
                "limits": format!("{base}/services/data/v{{version}}/limits/"),
                "profile": format!("{base}/{user}"),
                "custom_domain": base,
            },
            "api_version": v,
        }),
    )
}

/// Responds to an unexpected URI under a known prefix.
pub fn unknown_uri(uri: &Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("Could not find a match for URL {}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_only_whole_numbers() {
        assert_eq!(parse_version("v64.0"), Some(64.0));
        assert_eq!(parse_version("v64.5"), None);
        assert_eq!(parse_version("64.0"), None);
    }

    #[test]
    fn release_labels_follow_the_salesforce_calendar() {
        assert_eq!(release_label(66), "Spring '26");
        assert_eq!(release_label(64), "Summer '25");
        assert_eq!(release_label(65), "Winter '26");
    }

    #[test]
    fn route_labels_hide_ids() {
        let segs: Vec<String> = ["jobs", "ingest", "7505g0000000001AAA", "batches"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            route_label(&Method::PUT, &segs),
            "PUT jobs/ingest/{id}/batches"
        );
    }
}
