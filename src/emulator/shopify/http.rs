//! The HTTP surface: routing, the API version in the path, the access token, fault
//! injection, cost and throttling around each GraphQL request, and the result files.
//!
//! ```text
//! POST /admin/api/{version}/graphql.json                  the first shop (or the shop named by Host)
//! POST /shops/{domain}/admin/api/{version}/graphql.json   any shop
//! GET  /bulk-results/{opaque}.jsonl                       bulk results (no token, like a signed URL)
//! /__admin/…                                              the admin API (admin.rs)
//! ```

// Handlers return `Err(Response)` to answer early; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value as Json, json};

use super::admin;
use super::execute::{MUTATION_COST, cost_extensions, execute, variables_of};
use super::faults::{HttpFault, retry_after_header};
use super::graphql::{GqlError, OpKind, compile};
use super::project::{Out, requested_cost};
use super::state::{EmulatorState, resolve_version};
use super::throttle::MAX_SINGLE_QUERY_COST;

pub type SharedState = Arc<EmulatorState>;

/// Shopify's answer to a missing or wrong access token.
pub const INVALID_TOKEN: &str =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";

/// A JSON response.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

pub fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({"errors": "Not Found"}))
}

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql_default))
        .route(
            "/shops/{shop}/admin/api/{version}/graphql.json",
            post(graphql_for_shop),
        )
        .route("/bulk-results/{file}", get(result_file))
        .nest("/__admin", admin::router())
        .fallback(|| async { not_found() })
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state)
}

async fn graphql_default(
    State(state): State<SharedState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A client that sets Host to a shop's domain reaches that shop.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h).to_string());
    let shop = host
        .as_deref()
        .and_then(|h| state.shop(Some(h)))
        .map(|(i, _)| i)
        .unwrap_or(0);
    graphql(state, shop, &version, &headers, &body).await
}

async fn graphql_for_shop(
    State(state): State<SharedState>,
    Path((shop, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((index, _)) = state.shop(Some(&shop)) else {
        state.stats.requests.fetch_add(1, Ordering::Relaxed);
        return not_found();
    };
    graphql(state, index, &version, &headers, &body).await
}

/// Parses the request body: JSON `{query, variables, operationName}`, or a bare query with
/// `Content-Type: application/graphql`.
/// A request: the query text, its variables, the operation name.
type GraphqlRequest = (String, Map<String, Json>, Option<String>);

fn request_of(headers: &HeaderMap, body: &[u8]) -> Result<GraphqlRequest, Response> {
    let bad = || {
        json_response(
            StatusCode::BAD_REQUEST,
            &json!({"errors": {"query": "Required parameter missing or invalid"}}),
        )
    };
    let is_graphql = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/graphql"));
    if is_graphql {
        let text = std::str::from_utf8(body).map_err(|_| bad())?;
        return Ok((text.to_string(), Map::new(), None));
    }
    let value: Json = serde_json::from_slice(body).map_err(|_| bad())?;
    let query = value
        .get("query")
        .and_then(Json::as_str)
        .ok_or_else(bad)?
        .to_string();
    let operation = value
        .get("operationName")
        .and_then(Json::as_str)
        .map(str::to_string);
    Ok((query, variables_of(&value), operation))
}

fn with_version(mut response: Response, version: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(version) {
        response.headers_mut().insert("X-Shopify-API-Version", v);
    }
    response
}

fn errors_body(errors: &[GqlError], extensions: Option<Out>) -> Out {
    let mut body = vec![(
        "errors".to_string(),
        Out::Json(Json::Array(errors.iter().map(GqlError::to_json).collect())),
    )];
    if let Some(ext) = extensions {
        body.push(("extensions".into(), ext));
    }
    Out::Obj(body)
}

async fn graphql(
    state: SharedState,
    shop: usize,
    version: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    state.stats.requests.fetch_add(1, Ordering::Relaxed);
    let Some(version) = resolve_version(version) else {
        return not_found();
    };
    let token = headers
        .get("X-Shopify-Access-Token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !state.config.token_matches(token) {
        state.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        return json_response(StatusCode::UNAUTHORIZED, &json!({"errors": INVALID_TOKEN}));
    }
    state.stats.graphql_requests.fetch_add(1, Ordering::Relaxed);
    let fault = state.faults.lock().ok().and_then(|mut f| f.take_http());
    if let Some(fault) = fault {
        state.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
        let (status, retry_after, body) = match fault {
            HttpFault::TooManyRequests { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                retry_after,
                json!({"errors": "Exceeded the rate limit for this app. Reduce request rates to resume uninterrupted service."}),
            ),
            HttpFault::Unavailable { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                retry_after,
                json!({"errors": "Service Unavailable"}),
            ),
        };
        let mut response = json_response(status, &body);
        if let Ok(v) = HeaderValue::from_str(&retry_after_header(retry_after)) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return with_version(response, version);
    }
    let (query, variables, operation) = match request_of(headers, body) {
        Ok(r) => r,
        Err(response) => return with_version(response, version),
    };
    let plan = match compile(&query, operation.as_deref(), &variables) {
        Ok(p) => p,
        Err(errors) => {
            return with_version(
                json_response(StatusCode::OK, &errors_body(&errors, None)),
                version,
            );
        }
    };
    for field in &plan.fields {
        state.stats.count_operation(&field.name);
    }
    let requested = match plan.kind {
        OpKind::Query => requested_cost(&plan.fields),
        OpKind::Mutation => {
            MUTATION_COST
                * plan
                    .fields
                    .iter()
                    .filter(|f| f.name != "__typename")
                    .count() as u64
        }
    };
    let shop_ref = &state.shops[shop];
    let status_now = || {
        shop_ref
            .bucket
            .lock()
            .ok()
            .map(|mut b| b.status(Instant::now()))
    };
    if requested > MAX_SINGLE_QUERY_COST {
        let error = GqlError::new(
            format!(
                "Query cost is {requested}, which exceeds the single query max cost limit ({MAX_SINGLE_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
            ),
            "MAX_COST_EXCEEDED",
        )
        .ext("cost", Json::from(requested))
        .ext("maxCost", Json::from(MAX_SINGLE_QUERY_COST))
        .ext(
            "documentation",
            Json::String("https://shopify.dev/api/usage/limits#rate-limits".into()),
        );
        let body = errors_body(
            &[error],
            Some(cost_extensions(requested, None, status_now())),
        );
        return with_version(json_response(StatusCode::OK, &body), version);
    }
    let forced = state
        .faults
        .lock()
        .map(|mut f| f.take_throttle())
        .unwrap_or(false);
    let admitted = if forced {
        state.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
        false
    } else {
        shop_ref
            .bucket
            .lock()
            .map(|mut b| b.try_take(requested, Instant::now()))
            .unwrap_or(false)
    };
    if !admitted {
        state.stats.throttled.fetch_add(1, Ordering::Relaxed);
        let error = GqlError::new("Throttled", "THROTTLED").ext(
            "documentation",
            Json::String("https://shopify.dev/api/usage/rate-limits".into()),
        );
        let body = errors_body(
            &[error],
            Some(cost_extensions(requested, None, status_now())),
        );
        return with_version(json_response(StatusCode::OK, &body), version);
    }
    let executed = execute(&state, shop, &plan);
    let actual = executed.actual_cost.min(requested);
    if let Ok(mut bucket) = shop_ref.bucket.lock() {
        bucket.refund(requested - actual);
    }
    state.stats.cost_used.fetch_add(actual, Ordering::Relaxed);
    let mut response: Vec<(String, Out)> = Vec::new();
    if !executed.errors.is_empty() {
        response.push((
            "errors".into(),
            Out::Json(Json::Array(
                executed.errors.iter().map(GqlError::to_json).collect(),
            )),
        ));
    }
    response.push(("data".into(), executed.data));
    response.push((
        "extensions".into(),
        cost_extensions(requested, Some(actual), status_now()),
    ));
    with_version(json_response(StatusCode::OK, &Out::Obj(response)), version)
}

/// `GET /bulk-results/{opaque}.jsonl`: a result file, streamed.
async fn result_file(State(state): State<SharedState>, Path(file): Path<String>) -> Response {
    let name = file.strip_suffix(".jsonl").unwrap_or(&file);
    let path = state.results.lock().ok().and_then(|r| r.get(name).cloned());
    let Some(path) = path else {
        // What a storage bucket says for an unknown object.
        let mut r = (StatusCode::NOT_FOUND, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>").into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=UTF-8"),
        );
        return r;
    };
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return not_found();
    };
    let length = file.metadata().await.map(|m| m.len()).ok();
    state.stats.result_downloads.fetch_add(1, Ordering::Relaxed);
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jsonl"),
    );
    if let Some(len) = length
        && let Ok(v) = HeaderValue::from_str(&len.to_string())
    {
        response.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    response
}
