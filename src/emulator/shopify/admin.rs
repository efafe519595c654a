//! The admin API (under `/__admin`, no token; not part of Shopify): what a merchant or a
//! customer would do in the store (add an order, change an email or the email consent), the
//! clock, faults, statistics, webhook deliveries. Every change stamps `updatedAt` with the
//! emulator clock and sends the webhooks Shopify would.
//!
//! ```text
//! GET  /__admin/stats                      requests, GraphQL calls, throttled, cost used, bulk operations, faults
//! GET  /__admin/shops                      shops with their GraphQL URLs and sizes
//! GET  /__admin/customers/{id}             a customer as it is now (id: numeric or gid)
//! POST /__admin/customers/{id}/email       {"email": "…"}                          → customers/update
//! POST /__admin/customers/{id}/consent     {"marketingState", "marketingOptInLevel"?, "consentUpdatedAt"?}
//!                                          → customers/update + customers_email_marketing_consent/update
//! POST /__admin/orders                     {"customerId", "lineItems": [{"title", "price", "quantity"?, "sku"?}]}
//!                                          → orders/create
//! GET  /__admin/bulk-operations            every bulk operation of the shop
//! GET  /__admin/faults, POST /__admin/faults   {"throttle_next", "http429_next", "http503_next",
//!                                          "retry_after_secs", "fail_next_bulk", "fail_with_partial_data",
//!                                          "reject_next_bulk"}
//! GET  /__admin/clock, POST /__admin/clock {"now": "RFC 3339"} or {"advanceSeconds": N}
//! GET  /__admin/webhooks                   deliveries with their attempts
//! ```
//! Every route takes `?shop=DOMAIN` (default: the first shop).

// Handlers return `Err(Response)` to answer early; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::bulk::BulkOperation;
use super::customer::MarketingConsent;
use super::execute::customer_changed;
use super::faults::Faults;
use super::http::{SharedState, json_response};
use super::store::{CustomerPatch, EMAIL_STATES, NewLineItem, OPT_IN_LEVELS, build_order, known};
use super::webhooks;
use crate::shopify::generate::Ts;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/stats", get(stats))
        .route("/shops", get(shops))
        .route("/customers/{id}", get(customer))
        .route("/customers/{id}/email", post(change_email))
        .route("/customers/{id}/consent", post(change_consent))
        .route("/orders", post(add_order))
        .route("/bulk-operations", get(bulk_operations))
        .route("/faults", get(get_faults).post(set_faults))
        .route("/clock", get(get_clock).post(set_clock))
        .route("/webhooks", get(deliveries))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, &json!({"errors": message.into()}))
}

type Params = Query<HashMap<String, String>>;

fn shop_of(state: &SharedState, params: &HashMap<String, String>) -> Result<usize, Response> {
    state
        .shop(params.get("shop").map(String::as_str))
        .map(|(i, _)| i)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such shop"))
}

/// A customer id in a path: numeric or a gid.
fn customer_index(state: &SharedState, shop: usize, id: &str) -> Result<u64, Response> {
    let gid = if id.starts_with("gid://") {
        id.to_string()
    } else {
        format!("gid://shopify/Customer/{id}")
    };
    state.shops[shop]
        .read(|view| view.customer_index(&gid))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                format!("no customer {id} in this shop"),
            )
        })
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
}

async fn stats(State(state): State<SharedState>) -> Response {
    let s = &state.stats;
    let mut bulk_by_status: HashMap<&'static str, u64> = HashMap::new();
    for shop in &state.shops {
        if let Ok(ops) = shop.bulk.lock() {
            for op in ops.iter() {
                *bulk_by_status.entry(op.status.as_str()).or_insert(0) += 1;
            }
        }
    }
    let (delivered, failed, pending) = state
        .webhooks
        .deliveries
        .lock()
        .map(|d| {
            (
                d.iter().filter(|x| x.delivered).count(),
                d.iter().filter(|x| x.gave_up).count(),
                d.iter().filter(|x| !x.delivered && !x.gave_up).count(),
            )
        })
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        &json!({
            "requests": s.requests.load(Ordering::Relaxed),
            "graphqlRequests": s.graphql_requests.load(Ordering::Relaxed),
            "unauthorized": s.unauthorized.load(Ordering::Relaxed),
            "throttled": s.throttled.load(Ordering::Relaxed),
            "costUsed": s.cost_used.load(Ordering::Relaxed),
            "bulkOperations": s.bulk_operations.load(Ordering::Relaxed),
            "bulkOperationsByStatus": bulk_by_status,
            "resultDownloads": s.result_downloads.load(Ordering::Relaxed),
            "faultsInjected": s.faults_injected.load(Ordering::Relaxed),
            "byOperation": s.by_operation.lock().map(|m| m.clone()).unwrap_or_default(),
            "webhooks": {"delivered": delivered, "failed": failed, "pending": pending},
        }),
    )
}

async fn shops(State(state): State<SharedState>) -> Response {
    let list: Vec<Json> = state
        .shops
        .iter()
        .map(|shop| {
            shop.read(|view| {
                json!({
                    "domain": shop.domain(),
                    "currency": shop.data.info.currency,
                    "graphqlUrl": format!("{}/shops/{}/admin/api/{}/graphql.json", state.base_url, shop.domain(), state.config.api_version),
                    "customers": view.customer_count(),
                    "orders": view.order_count(),
                    "companies": view.company_count(),
                })
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({"shops": list}))
}

async fn customer(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    let result = (|| {
        let shop = shop_of(&state, &params)?;
        let n = customer_index(&state, shop, &id)?;
        Ok::<_, Response>(state.shops[shop].read(|view| view.customer_json(n)))
    })();
    match result {
        Ok(c) => json_response(StatusCode::OK, &c),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailChange {
    email: String,
}

async fn change_email(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let shop = match shop_of(&state, &params) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let n = match customer_index(&state, shop, &id) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let change: EmailChange = match parse_body(&body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let email = change.email.trim().to_string();
    if !email.contains('@') || email.len() > 255 {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Email is invalid");
    }
    // Email is unique per shop, as on Shopify.
    let taken = state.shops[shop].read(|view| {
        view.customers_with_email(&email)
            .into_iter()
            .any(|other| other != n)
    });
    if taken {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Email has already been taken",
        );
    }
    let now = state.clock.now_ts();
    if let Ok(mut overlay) = state.shops[shop].overlay.lock() {
        let patch = overlay
            .customers
            .entry(n)
            .or_insert_with(CustomerPatch::default);
        patch.email = Some(email);
        patch.updated_at = Some(now);
    }
    customer_changed(&state, shop, n, false);
    json_response(
        StatusCode::OK,
        &state.shops[shop].read(|view| view.customer_json(n)),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConsentChange {
    marketing_state: String,
    #[serde(default)]
    marketing_opt_in_level: Option<String>,
    #[serde(default)]
    consent_updated_at: Option<String>,
}

/// A consent change made in the store (the customer unsubscribing from an email, a bounce
/// marking the address INVALID, …): any state, unlike the mutation.
async fn change_consent(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let shop = match shop_of(&state, &params) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let n = match customer_index(&state, shop, &id) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let change: ConsentChange = match parse_body(&body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(marketing_state) = known(&EMAIL_STATES, &change.marketing_state) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("marketingState must be one of {}", EMAIL_STATES.join(", ")),
        );
    };
    let level = match change.marketing_opt_in_level.as_deref() {
        None => None,
        Some(l) => match known(&OPT_IN_LEVELS, l) {
            Some(l) => Some(l),
            None => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "marketingOptInLevel must be one of {}",
                        OPT_IN_LEVELS.join(", ")
                    ),
                );
            }
        },
    };
    let now = state.clock.now_ts();
    let at = match change.consent_updated_at.as_deref() {
        None => now,
        Some(text) => match super::search::parse_time(text) {
            Some(t) => Ts(t),
            None => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "consentUpdatedAt is not a date",
                );
            }
        },
    };
    let has_email = state.shops[shop].read(|view| view.contact_points(n).email.is_some());
    if !has_email {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the customer has no email address",
        );
    }
    if let Ok(mut overlay) = state.shops[shop].overlay.lock() {
        let patch = overlay
            .customers
            .entry(n)
            .or_insert_with(CustomerPatch::default);
        patch.consent = Some(MarketingConsent {
            state: marketing_state,
            opt_in_level: level,
            updated_at: Some(at),
        });
        patch.updated_at = Some(now);
    }
    customer_changed(&state, shop, n, true);
    json_response(
        StatusCode::OK,
        &state.shops[shop].read(|view| view.customer_json(n)),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrderInput {
    customer_id: String,
    #[serde(default)]
    line_items: Option<Vec<NewLineItem>>,
}

async fn add_order(
    State(state): State<SharedState>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let shop = match shop_of(&state, &params) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let input: OrderInput = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let n = match customer_index(&state, shop, &input.customer_id) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let lines = input.line_items.unwrap_or_else(|| {
        vec![NewLineItem {
            title: "Emulator Test Item".into(),
            sku: Some("EMU-1".into()),
            quantity: 1,
            price: "10.00".into(),
            variant_id: None,
            product_id: None,
        }]
    });
    let now = state.clock.now_ts();
    let shop_ref = &state.shops[shop];
    let Ok(mut overlay) = shop_ref.overlay.lock() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "state lock poisoned");
    };
    let built = {
        let view = super::store::ShopView::new(&shop_ref.data, &overlay);
        build_order(&view, n, &lines, now)
    };
    let order = match built {
        Ok(o) => o,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    overlay.orders.push(order.clone());
    drop(overlay);
    let (payload, json_order) = shop_ref.read(|view| {
        (
            webhooks::order_payload(view, &order),
            view.order_json(order.index).unwrap_or(Json::Null),
        )
    });
    webhooks::emit(&state, shop_ref.domain(), vec![("orders/create", payload)]);
    let lines: Vec<Json> = order
        .line_items
        .iter()
        .filter_map(|l| serde_json::to_value(l).ok())
        .collect();
    json_response(
        StatusCode::CREATED,
        &json!({"order": json_order, "lineItems": lines}),
    )
}

async fn bulk_operations(State(state): State<SharedState>, Query(params): Params) -> Response {
    let shop = match shop_of(&state, &params) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ops: Vec<Json> = state.shops[shop]
        .bulk
        .lock()
        .map(|ops| ops.iter().map(BulkOperation::to_json).collect())
        .unwrap_or_default();
    json_response(StatusCode::OK, &json!({"bulkOperations": ops}))
}

async fn get_faults(State(state): State<SharedState>) -> Response {
    let faults = state.faults.lock().map(|f| f.clone()).unwrap_or_default();
    json_response(StatusCode::OK, &faults)
}

/// Replaces the pending faults.
async fn set_faults(State(state): State<SharedState>, body: Bytes) -> Response {
    let faults: Faults = match parse_body(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(message) = faults.validate() {
        return error(StatusCode::BAD_REQUEST, message);
    }
    if let Ok(mut f) = state.faults.lock() {
        *f = faults.clone();
    }
    json_response(StatusCode::OK, &faults)
}

async fn get_clock(State(state): State<SharedState>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"now": state.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockChange {
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    advance_seconds: Option<i64>,
}

async fn set_clock(State(state): State<SharedState>, body: Bytes) -> Response {
    let change: ClockChange = match parse_body(&body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match (change.now, change.advance_seconds) {
        (Some(now), None) => match chrono::DateTime::parse_from_rfc3339(&now) {
            Ok(t) => state.clock.set(t.with_timezone(&chrono::Utc)),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("now: {e}")),
        },
        (None, Some(seconds)) => state.clock.advance(seconds),
        _ => return error(StatusCode::BAD_REQUEST, "give either now or advanceSeconds"),
    }
    get_clock(State(state)).await
}

async fn deliveries(State(state): State<SharedState>) -> Response {
    let list = state
        .webhooks
        .deliveries
        .lock()
        .map(|d| d.clone())
        .unwrap_or_default();
    json_response(StatusCode::OK, &json!({"deliveries": list}))
}
