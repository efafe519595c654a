//! The admin API (outside `/services`, no authentication): inspect and reset the org,
//! set faults, read statistics. For tests and operators, not part of Salesforce.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value as Json, json};

use super::faults::FaultProfile;
use super::http::{SharedState, error_response, json_response, lock_poisoned, query_params};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/sobjects/{object}", get(records))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route("/faults", get(get_faults).post(set_faults))
}

/// `GET /__admin/sobjects/{Object}` — every record as JSON, or CSV with `?format=csv`.
async fn records(
    State(state): State<SharedState>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = query_params(raw.as_deref());
    let Ok(org) = state.org.lock() else {
        return lock_poisoned();
    };
    let Some(o) = org.schema().position(&object) else {
        return error_response(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Unknown object: {object}"),
        );
    };
    let def = org.object_def(o);
    if params.get("format").is_some_and(|f| f == "csv") {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let names: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
        let _ = writer.write_record(&names);
        for slot in org.slots(o) {
            let row: Vec<String> = (0..def.fields.len())
                .map(|i| org.value(o, slot, i).to_text())
                .collect();
            let _ = writer.write_record(&row);
        }
        let body = writer.into_inner().unwrap_or_default();
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
        return r;
    }
    let records: Vec<Json> = org
        .slots(o)
        .map(|s| Json::Object(org.record_json(o, s)))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"object": def.name, "totalSize": records.len(), "records": records}),
    )
}

/// `GET /__admin/stats` — requests by route, API usage, jobs by state, records by object.
async fn stats(State(state): State<SharedState>) -> Response {
    let by_route = state
        .stats
        .by_route
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    let mut ingest_states: BTreeMap<&'static str, u64> = BTreeMap::new();
    if let Ok(jobs) = state.ingest_jobs.lock() {
        for j in jobs.values() {
            *ingest_states.entry(j.state.as_str()).or_insert(0) += 1;
        }
    }
    let mut query_states: BTreeMap<&'static str, u64> = BTreeMap::new();
    if let Ok(jobs) = state.query_jobs.lock() {
        for j in jobs.values() {
            *query_states.entry(j.state.as_str()).or_insert(0) += 1;
        }
    }
    let records: BTreeMap<String, usize> = state
        .org
        .lock()
        .map(|org| {
            org.schema()
                .objects()
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name.clone(), org.count(i)))
                .collect()
        })
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        json!({
            "requestsByRoute": by_route,
            "apiUsage": {"used": state.stats.api_requests.load(Ordering::Relaxed), "max": state.api_limit()},
            "ingestJobsByState": ingest_states,
            "queryJobsByState": query_states,
            "recordsByObject": records,
            "rowsIngested": state.stats.rows_ingested.load(Ordering::Relaxed),
            "faultsInjected": state.stats.faults_injected.load(Ordering::Relaxed),
        }),
    )
}

/// `POST /__admin/reset` — empties the org (users, price book and org record are
/// re-seeded), drops jobs, sessions stay valid, counters reset.
async fn reset(State(state): State<SharedState>) -> Response {
    let users = state.config.seed_users();
    if let Ok(mut org) = state.org.lock() {
        org.reset(&users, Utc::now());
    }
    if let Ok(mut jobs) = state.ingest_jobs.lock() {
        jobs.clear();
    }
    if let Ok(mut jobs) = state.query_jobs.lock() {
        jobs.clear();
    }
    if let Ok(mut locks) = state.row_locks.lock() {
        locks.clear();
    }
    if let Ok(mut map) = state.stats.by_route.lock() {
        map.clear();
    }
    state.stats.api_requests.store(0, Ordering::Relaxed);
    state.stats.rows_ingested.store(0, Ordering::Relaxed);
    state.stats.faults_injected.store(0, Ordering::Relaxed);
    json_response(StatusCode::OK, json!({"reset": true}))
}

async fn get_faults(State(state): State<SharedState>) -> Response {
    let profile = state
        .faults
        .lock()
        .map(|f| f.profile.clone())
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        serde_json::to_value(profile).unwrap_or(Json::Null),
    )
}

/// `POST /__admin/faults` — a JSON fault profile (same keys as `--faults`), or
/// `{"expire_tokens": true}` to end every session now.
async fn set_faults(State(state): State<SharedState>, body: Bytes) -> Response {
    let value: Json = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error_response(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", &e.to_string());
        }
    };
    if value.get("expire_tokens").and_then(Json::as_bool) == Some(true) {
        let expired = state.sessions.lock().map(|mut s| {
            let n = s.len();
            s.clear();
            n
        });
        return json_response(
            StatusCode::OK,
            json!({"expiredSessions": expired.unwrap_or(0)}),
        );
    }
    let profile: FaultProfile = match serde_json::from_value(value) {
        Ok(p) => p,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                &format!("bad fault profile: {e}"),
            );
        }
    };
    if let Ok(mut faults) = state.faults.lock() {
        faults.set(profile.clone());
    }
    json_response(
        StatusCode::OK,
        serde_json::to_value(profile).unwrap_or(Json::Null),
    )
}
