//! Executing a compiled operation against one shop: the query and mutation root fields the
//! engine calls, each producing the source JSON the projector cuts to the selection.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value as Json, json};

use super::bulk;
use super::customer::MarketingConsent;
use super::graphql::{GqlError, OpKind, Plan, PlanField};
use super::project::{Mode, Out, Page, Projector, Resolver, runtime_type};
use super::search::Search;
use super::state::EmulatorState;
use super::store::{CustomerPatch, Metafield, OPT_IN_LEVELS, ShopView, known, parse_gid};
use super::throttle::ThrottleStatus;
use super::webhooks;
use crate::shopify::generate::Ts;

/// Most items a connection page may ask for (`first`/`last`).
pub const MAX_PAGE: u64 = 250;

/// Most metafields one `metafieldsSet` call may set.
pub const MAX_METAFIELDS_PER_CALL: usize = 25;

/// What the projector needs from the store.
pub struct StoreResolver<'a> {
    pub view: &'a ShopView<'a>,
    pub app_namespace: &'a str,
}

/// `$app` / `$app:sync` as stored (`app--{id}`, `app--{id}--sync`); other namespaces as given.
pub fn resolve_namespace(namespace: Option<&str>, app: &str) -> String {
    match namespace {
        None | Some("$app") => app.to_string(),
        Some(ns) => match ns.strip_prefix("$app:") {
            Some(rest) => format!("{app}--{rest}"),
            None => ns.to_string(),
        },
    }
}

fn cursor(index: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"last_index\":{index}}}"))
}

fn cursor_index(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let value: Json = serde_json::from_slice(&bytes).ok()?;
    value.get("last_index")?.as_u64().map(|n| n as usize)
}

/// The positions of one page of `total` items per `first`/`last`/`after`/`before`/`reverse`.
pub fn page_window(total: usize, field: &PlanField) -> Result<(Vec<usize>, bool, bool), GqlError> {
    let first = field.arg_u64("first");
    let last = field.arg_u64("last");
    if first.is_none() && last.is_none() {
        return Err(GqlError::new(
            "you must provide one of first or last",
            "BAD_REQUEST",
        ));
    }
    if first.or(last).is_some_and(|n| n > MAX_PAGE) {
        return Err(GqlError::new(
            format!(
                "The connection must not be larger than {MAX_PAGE}: first or last may be at most {MAX_PAGE}"
            ),
            "BAD_REQUEST",
        ));
    }
    let mut order: Vec<usize> = (0..total).collect();
    if field.arg_bool("reverse") == Some(true) {
        order.reverse();
    }
    let mut start = 0usize;
    let mut end = order.len();
    if let Some(after) = field.arg_str("after").and_then(cursor_index) {
        start = order
            .iter()
            .position(|i| *i == after)
            .map_or(end, |p| p + 1);
    }
    if let Some(before) = field.arg_str("before").and_then(cursor_index) {
        end = order.iter().position(|i| *i == before).unwrap_or(end);
    }
    let mut window = &order[start.min(end)..end];
    let (mut has_next, mut has_previous) = (end < order.len(), start > 0);
    if let Some(n) = first
        && window.len() > n as usize
    {
        window = &window[..n as usize];
        has_next = true;
    }
    if let Some(n) = last
        && window.len() > n as usize
    {
        window = &window[window.len() - n as usize..];
        has_previous = true;
    }
    Ok((window.to_vec(), has_next, has_previous))
}

/// A page of already-built items.
fn page_of(items: Vec<(Json, String)>, field: &PlanField) -> Result<Page, GqlError> {
    let (window, has_next, has_previous) = page_window(items.len(), field)?;
    Ok(Page {
        items: window
            .into_iter()
            .map(|i| (items[i].0.clone(), items[i].1.clone(), cursor(i)))
            .collect(),
        has_next,
        has_previous,
    })
}

impl Resolver for StoreResolver<'_> {
    fn expand(&self, gid: &str) -> Option<Json> {
        self.view.node_json(gid)
    }

    fn connection(
        &self,
        parent: &Json,
        parent_type: &str,
        field: &PlanField,
    ) -> Result<Page, GqlError> {
        let gid = parent.get("id").and_then(Json::as_str).unwrap_or("");
        let typed = |values: Vec<Json>, kind: &str| -> Vec<(Json, String)> {
            values.into_iter().map(|v| (v, kind.to_string())).collect()
        };
        let items = match (parent_type, field.name.as_str()) {
            (_, "metafields" | "metafield") => {
                let namespace = field
                    .arg_str("namespace")
                    .map(|ns| resolve_namespace(Some(ns), self.app_namespace));
                let keys: Option<Vec<String>> = field.args.get("keys").and_then(|k| {
                    k.as_array().map(|a| {
                        a.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                });
                let wanted_key = field.arg_str("key");
                let wanted_ns = match (field.name.as_str(), namespace) {
                    ("metafield", None) => Some(self.app_namespace.to_string()),
                    (_, ns) => ns,
                };
                let found: Vec<Json> = self
                    .view
                    .metafields(gid)
                    .iter()
                    .filter(|m| wanted_ns.as_ref().is_none_or(|ns| &m.namespace == ns))
                    .filter(|m| wanted_key.is_none_or(|k| m.key == k))
                    .filter(|m| {
                        keys.as_ref()
                            .is_none_or(|ks| ks.contains(&format!("{}.{}", m.namespace, m.key)))
                    })
                    .map(Metafield::to_json)
                    .collect();
                if field.name == "metafield" {
                    return Ok(Page {
                        items: found
                            .into_iter()
                            .take(1)
                            .map(|m| (m, "Metafield".to_string(), cursor(0)))
                            .collect(),
                        ..Page::default()
                    });
                }
                typed(found, "Metafield")
            }
            ("Customer", "addressesV2") => match self.view.customer_index(gid) {
                Some(n) => typed(
                    self.view
                        .customer(n)
                        .addresses
                        .iter()
                        .filter_map(|a| serde_json::to_value(a).ok())
                        .collect(),
                    "MailingAddress",
                ),
                None => Vec::new(),
            },
            ("Order", "lineItems") => {
                match self.view.order_index(gid).and_then(|o| self.view.order(o)) {
                    Some(order) => typed(
                        order
                            .line_items
                            .iter()
                            .filter_map(|l| serde_json::to_value(l).ok())
                            .collect(),
                        "LineItem",
                    ),
                    None => Vec::new(),
                }
            }
            ("Company", "locations" | "contacts") => match self.view.company_index(gid) {
                Some(c) => {
                    let company = self.view.company(c);
                    if field.name == "locations" {
                        typed(
                            company
                                .locations
                                .iter()
                                .filter_map(|l| serde_json::to_value(l).ok())
                                .collect(),
                            "CompanyLocation",
                        )
                    } else {
                        typed(
                            company
                                .contacts
                                .iter()
                                .filter_map(|l| serde_json::to_value(l).ok())
                                .collect(),
                            "CompanyContact",
                        )
                    }
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        page_of(items, field)
    }
}

/// The result of executing an operation.
pub struct Executed {
    pub data: Out,
    pub errors: Vec<GqlError>,
    pub actual_cost: u64,
}

fn invalid_id(id: &str, field: &PlanField, label: &str) -> GqlError {
    GqlError::new(
        format!("Invalid global id '{id}'"),
        "argumentLiteralsIncompatible",
    )
    .at(async_graphql_parser::Pos {
        line: field.pos.0,
        column: field.pos.1,
    })
    .with_path(vec![
        Json::String(label.into()),
        Json::String(field.key.clone()),
    ])
    .ext("typeName", Json::String("CoercionError".into()))
}

fn field_error(field: &PlanField, error: GqlError) -> GqlError {
    let mut e = error;
    if e.locations.is_empty() {
        e.locations.push(field.pos);
    }
    if e.path.is_none() {
        e.path = Some(vec![Json::String(field.key.clone())]);
    }
    e
}

/// Runs the plan's root fields for shop `shop`.
pub fn execute(state: &Arc<EmulatorState>, shop: usize, plan: &Plan) -> Executed {
    match plan.kind {
        OpKind::Query => state.shops[shop].read(|view| query(state, shop, view, plan)),
        OpKind::Mutation => mutation(state, shop, plan),
    }
}

fn query(state: &EmulatorState, shop: usize, view: &ShopView<'_>, plan: &Plan) -> Executed {
    let app = state.app_namespace();
    let resolver = StoreResolver {
        view,
        app_namespace: &app,
    };
    let mut projector = Projector::new(Mode::Nested, &resolver);
    let mut errors = Vec::new();
    let mut data = Vec::new();
    for field in &plan.fields {
        if field.name == "__typename" {
            data.push((field.key.clone(), Out::Json(json!("QueryRoot"))));
            continue;
        }
        let value = match root_query(state, shop, view, field, &plan.label, &mut projector) {
            Ok(v) => v,
            Err(e) => {
                errors.push(field_error(field, e));
                Out::null()
            }
        };
        data.push((field.key.clone(), value));
    }
    errors.append(&mut projector.errors);
    Executed {
        data: Out::Obj(data),
        errors,
        actual_cost: projector.cost,
    }
}

/// One object source value projected as `field`.
fn object(projector: &mut Projector<'_>, value: Option<Json>, field: &PlanField) -> Out {
    match value {
        Some(v) if !v.is_null() => {
            projector.cost += 1;
            let static_type = match field.ty {
                super::schema::Ty::Obj(t) | super::schema::Ty::Abstract(t) => t,
                _ => "",
            };
            let runtime = runtime_type(&v, static_type);
            projector.object(&v, &runtime, &field.sub)
        }
        _ => Out::null(),
    }
}

/// The index of a record among those matching `search`, as a page.
fn record_page(
    total: u64,
    search: &Search,
    matches: impl Fn(u64) -> bool,
    build: impl Fn(u64) -> Option<Json>,
    kind: &str,
    field: &PlanField,
) -> Result<Page, GqlError> {
    let indices: Vec<u64> = if search.is_empty() {
        (0..total).collect()
    } else {
        (0..total).filter(|i| matches(*i)).collect()
    };
    let (window, has_next, has_previous) = page_window(indices.len(), field)?;
    Ok(Page {
        items: window
            .into_iter()
            .filter_map(|p| build(indices[p]).map(|v| (v, kind.to_string(), cursor(p))))
            .collect(),
        has_next,
        has_previous,
    })
}

fn root_query(
    state: &EmulatorState,
    shop: usize,
    view: &ShopView<'_>,
    field: &PlanField,
    label: &str,
    projector: &mut Projector<'_>,
) -> Result<Out, GqlError> {
    let id_arg = || field.arg_str("id").unwrap_or("");
    let checked_id = || -> Result<&str, GqlError> {
        let id = id_arg();
        match parse_gid(id) {
            Some(_) => Ok(id),
            None => Err(invalid_id(id, field, label)),
        }
    };
    let search = Search::parse(field.arg_str("query").unwrap_or(""));
    Ok(match field.name.as_str() {
        "customer" => {
            let id = checked_id()?;
            object(
                projector,
                view.customer_index(id).map(|n| view.customer_json(n)),
                field,
            )
        }
        "order" => {
            let id = checked_id()?;
            object(
                projector,
                view.order_index(id).and_then(|o| view.order_json(o)),
                field,
            )
        }
        "company" => {
            let id = checked_id()?;
            object(
                projector,
                view.company_index(id).map(|c| view.company_json(c)),
                field,
            )
        }
        "node" => {
            let id = checked_id()?;
            let value = match parse_gid(id) {
                Some(("BulkOperation", n)) => bulk_op(state, shop, n),
                _ => view.node_json(id),
            };
            object(projector, value, field)
        }
        "customers" => {
            let page = record_page(
                view.customer_count(),
                &search,
                |n| bulk::customer_matches(&search, &view.customer(n).customer),
                |n| Some(view.customer_json(n)),
                "Customer",
                field,
            )?;
            projector.connection(&page, field)
        }
        "orders" => {
            let page = record_page(
                view.order_count(),
                &search,
                |o| {
                    view.order(o)
                        .is_some_and(|r| bulk::order_matches(&search, &r.order))
                },
                |o| view.order_json(o),
                "Order",
                field,
            )?;
            projector.connection(&page, field)
        }
        "companies" => {
            let page = record_page(
                view.company_count(),
                &search,
                |c| bulk::company_matches(&search, &view.company(c).company),
                |c| Some(view.company_json(c)),
                "Company",
                field,
            )?;
            projector.connection(&page, field)
        }
        "bulkOperation" => {
            let id = checked_id()?;
            let value = match parse_gid(id) {
                Some(("BulkOperation", n)) => bulk_op(state, shop, n),
                _ => None,
            };
            object(projector, value, field)
        }
        "currentBulkOperation" => {
            let value = match field.arg_str("type").unwrap_or("QUERY") {
                "QUERY" => state.shops[shop]
                    .bulk
                    .lock()
                    .ok()
                    .and_then(|ops| ops.last().map(bulk::BulkOperation::to_json)),
                _ => None,
            };
            object(projector, value, field)
        }
        "bulkOperations" => {
            let ops: Vec<Json> = state.shops[shop]
                .bulk
                .lock()
                .map(|ops| ops.iter().rev().map(bulk::BulkOperation::to_json).collect())
                .unwrap_or_default();
            let filtered: Vec<(Json, String)> = ops
                .into_iter()
                .filter(|op| {
                    search.terms.iter().all(|t| match t.field.as_str() {
                        "status" => op["status"]
                            .as_str()
                            .is_some_and(|s| s.eq_ignore_ascii_case(&t.value)),
                        "operation_type" => t.value.eq_ignore_ascii_case("query"),
                        _ => true,
                    })
                })
                .map(|op| (op, "BulkOperation".to_string()))
                .collect();
            let page = page_of(filtered, field)?;
            projector.connection(&page, field)
        }
        "shop" => {
            let info = &state.shops[shop].data.info;
            object(
                projector,
                Some(json!({
                    "__typename": "Shop",
                    "id": format!("gid://shopify/Shop/{}", 60_000_000_000u64 + info.index as u64 + 1),
                    "name": info.domain.trim_end_matches(".myshopify.com"),
                    "myshopifyDomain": info.domain,
                    "currencyCode": info.currency,
                    "ianaTimezone": "Etc/UTC",
                })),
                field,
            )
        }
        other => {
            return Err(GqlError::new(
                format!("Field '{other}' is not served by the emulator"),
                "undefinedField",
            ));
        }
    })
}

fn bulk_op(state: &EmulatorState, shop: usize, id: u64) -> Option<Json> {
    state.shops[shop].bulk.lock().ok().and_then(|ops| {
        ops.iter()
            .find(|o| o.id == id)
            .map(bulk::BulkOperation::to_json)
    })
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Each mutation root field costs 10 points, as on Shopify.
pub const MUTATION_COST: u64 = 10;

fn mutation(state: &Arc<EmulatorState>, shop: usize, plan: &Plan) -> Executed {
    let mut errors = Vec::new();
    let mut data = Vec::new();
    let mut cost = 0;
    for field in &plan.fields {
        if field.name == "__typename" {
            data.push((field.key.clone(), Out::Json(json!("Mutation"))));
            continue;
        }
        cost += MUTATION_COST;
        let payload: Result<Json, GqlError> = match field.name.as_str() {
            "bulkOperationRunQuery" => Ok(bulk::run_query(
                state,
                shop,
                field.arg_str("query").unwrap_or(""),
                field.arg_bool("groupObjects").unwrap_or(false),
            )),
            "bulkOperationCancel" => {
                Ok(bulk::cancel(state, shop, field.arg_str("id").unwrap_or("")))
            }
            "customerEmailMarketingConsentUpdate" => consent_update(state, shop, field),
            "metafieldsSet" => metafields_set(state, shop, field),
            other => Err(GqlError::new(
                format!("Field '{other}' is not served by the emulator"),
                "undefinedField",
            )),
        };
        let value = match payload {
            Ok(payload) => state.shops[shop].read(|view| {
                let app = state.app_namespace();
                let resolver = StoreResolver {
                    view,
                    app_namespace: &app,
                };
                let mut projector = Projector::new(Mode::Nested, &resolver);
                let kind = match field.ty {
                    super::schema::Ty::Obj(t) => t,
                    _ => "",
                };
                let out = projector.object(&payload, kind, &field.sub);
                errors.extend(projector.errors);
                out
            }),
            Err(e) => {
                errors.push(field_error(field, e));
                Out::null()
            }
        };
        data.push((field.key.clone(), value));
    }
    Executed {
        data: Out::Obj(data),
        errors,
        actual_cost: cost,
    }
}

/// `customerEmailMarketingConsentUpdate`, with Shopify's rules (captured from 2026-04):
/// only SUBSCRIBED, UNSUBSCRIBED and PENDING may be written (others: a top-level `INVALID`
/// error); PENDING needs CONFIRMED_OPT_IN; `consentUpdatedAt` may not be in the future; a
/// customer without an email is left as it is; an older `consentUpdatedAt` than the one held
/// does not replace it.
fn consent_update(
    state: &Arc<EmulatorState>,
    shop: usize,
    field: &PlanField,
) -> Result<Json, GqlError> {
    let input = field.args.get("input").cloned().unwrap_or(Json::Null);
    let consent = &input["emailMarketingConsent"];
    let requested_state = consent["marketingState"].as_str().unwrap_or("");
    let Some(new_state) = known(&["SUBSCRIBED", "UNSUBSCRIBED", "PENDING"], requested_state) else {
        return Err(GqlError::new(
            format!("Cannot specify {requested_state} as a marketing state input"),
            "INVALID",
        ));
    };
    let user_error = |customer: Json, path: &[&str], message: &str| json!({"customer": customer, "userErrors": [{"field": path, "message": message, "code": "INVALID"}]});
    let customer_id = input["customerId"].as_str().unwrap_or("");
    let shop_ref = &state.shops[shop];
    let Some(n) = shop_ref.read(|view| view.customer_index(customer_id)) else {
        return Ok(user_error(
            Json::Null,
            &["input", "customerId"],
            "Customer not found",
        ));
    };
    let now = state.clock.now_ts();
    let at = match consent["consentUpdatedAt"].as_str() {
        Some(text) => match super::search::parse_time(text) {
            Some(t) => Ts(t),
            None => {
                return Ok(user_error(
                    Json::Null,
                    &["input", "emailMarketingConsent", "consentUpdatedAt"],
                    "Consent updated at is invalid",
                ));
            }
        },
        None => now,
    };
    let current = shop_ref.read(|view| view.customer_json(n));
    if at.0 > now.0 {
        return Ok(user_error(
            current,
            &["input", "emailMarketingConsent", "consentUpdatedAt"],
            "Consent updated at must not be in the future",
        ));
    }
    let held = shop_ref.read(|view| view.contact_points(n).email.map(|e| e.consent));
    let held_level = held.as_ref().and_then(|c| c.opt_in_level);
    let held_at = held.as_ref().and_then(|c| c.updated_at);
    let level = match consent["marketingOptInLevel"].as_str() {
        Some(l) => known(&OPT_IN_LEVELS, l),
        None => held_level.or(Some("SINGLE_OPT_IN")),
    };
    if new_state == "PENDING" && level != Some("CONFIRMED_OPT_IN") {
        return Ok(user_error(
            current,
            &["input", "emailMarketingConsent", "marketingOptInLevel"],
            "Marketing opt in level must be confirmed opt-in for pending consent state",
        ));
    }
    let has_email = held.is_some();
    let older = held_at.is_some_and(|h| at.0 < h.0);
    let unchanged = held.as_ref().map(|c| c.state) == Some(new_state)
        && held_level == level
        && held_at == Some(at);
    if has_email && !older && !unchanged {
        if let Ok(mut overlay) = shop_ref.overlay.lock() {
            let patch = overlay
                .customers
                .entry(n)
                .or_insert_with(CustomerPatch::default);
            patch.consent = Some(MarketingConsent {
                state: new_state,
                opt_in_level: level,
                updated_at: Some(at),
            });
            patch.updated_at = Some(now);
        }
        customer_changed(state, shop, n, true);
    }
    Ok(json!({"customer": shop_ref.read(|view| view.customer_json(n)), "userErrors": []}))
}

/// Sends `customers/update` (and, for consent, `customers_email_marketing_consent/update`)
/// for a change to customer `n`, as one event.
pub fn customer_changed(state: &Arc<EmulatorState>, shop: usize, n: u64, consent: bool) {
    let shop_ref = &state.shops[shop];
    let mut topics = Vec::new();
    shop_ref.read(|view| {
        topics.push((
            "customers/update",
            webhooks::customer_payload(view, n, &shop_ref.data.info),
        ));
        if consent {
            topics.push((
                "customers_email_marketing_consent/update",
                webhooks::consent_payload(view, n),
            ));
        }
    });
    webhooks::emit(state, shop_ref.domain(), topics);
}

const METAFIELD_TYPES: &[&str] = &[
    "single_line_text_field",
    "multi_line_text_field",
    "json",
    "boolean",
    "number_integer",
    "number_decimal",
    "date",
    "date_time",
    "url",
    "color",
    "rich_text_field",
    "id",
];

fn value_problem(kind: &str, value: &str) -> Option<String> {
    let ok = match kind {
        "number_integer" => value.parse::<i64>().is_ok(),
        "number_decimal" => value.parse::<f64>().is_ok_and(f64::is_finite),
        "boolean" => matches!(value, "true" | "false"),
        "json" | "rich_text_field" => serde_json::from_str::<Json>(value).is_ok(),
        "date_time" => {
            chrono::DateTime::parse_from_rfc3339(value).is_ok()
                || super::search::parse_time(value).is_some()
        }
        "date" => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
        "single_line_text_field" => !value.contains('\n'),
        "url" => url::Url::parse(value).is_ok(),
        _ => true,
    };
    (!ok).then(|| format!("Value is invalid for type {kind}."))
}

/// `metafieldsSet`: atomic (any error, nothing is written), at most 25 per call, created or
/// updated by (owner, namespace, key), `compareDigest` honoured.
fn metafields_set(
    state: &Arc<EmulatorState>,
    shop: usize,
    field: &PlanField,
) -> Result<Json, GqlError> {
    let inputs = match field.args.get("metafields") {
        Some(Json::Array(items)) => items.clone(),
        Some(single @ Json::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    if inputs.len() > MAX_METAFIELDS_PER_CALL {
        return Err(GqlError::new(
            format!(
                "The input array size of {} is greater than the maximum allowed of {MAX_METAFIELDS_PER_CALL}.",
                inputs.len()
            ),
            "MAX_INPUT_SIZE_EXCEEDED",
        ));
    }
    let app = state.app_namespace();
    let now = state.clock.now_ts();
    let shop_ref = &state.shops[shop];
    let Ok(mut overlay) = shop_ref.overlay.lock() else {
        return Err(GqlError::new("Internal error", "INTERNAL_SERVER_ERROR"));
    };
    let mut errors: Vec<Json> = Vec::new();
    let mut planned: Vec<(String, String, String, Option<String>, String)> = Vec::new();
    {
        let view = ShopView::new(&shop_ref.data, &overlay);
        for (i, input) in inputs.iter().enumerate() {
            let error = |name: &str, message: String, code: &str| json!({"field": ["metafields", i.to_string(), name], "message": message, "code": code, "elementIndex": i});
            let owner = input["ownerId"].as_str().unwrap_or("").to_string();
            let exists = match parse_gid(&owner) {
                Some(("Customer", _)) => view.customer_index(&owner).is_some(),
                Some(("Order", _)) => view.order_index(&owner).is_some(),
                Some(("Company", _)) => view.company_index(&owner).is_some(),
                _ => false,
            };
            if !exists {
                errors.push(error("ownerId", "Owner does not exist.".into(), "INVALID"));
                continue;
            }
            let namespace = resolve_namespace(input["namespace"].as_str(), &app);
            let key = input["key"].as_str().unwrap_or("").to_string();
            let value = input["value"].as_str().unwrap_or("").to_string();
            if namespace.len() < 2 || namespace.len() > 255 {
                errors.push(error(
                    "namespace",
                    "Namespace is too short or too long (2 to 255 characters).".into(),
                    "INVALID",
                ));
                continue;
            }
            if key.len() < 2 {
                errors.push(error(
                    "key",
                    "Key is too short (minimum is 2 characters)".into(),
                    "TOO_SHORT",
                ));
                continue;
            }
            if key.len() > 64 {
                errors.push(error(
                    "key",
                    "Key is too long (maximum is 64 characters)".into(),
                    "TOO_LONG",
                ));
                continue;
            }
            if value.is_empty() {
                errors.push(error("value", "Value can't be blank.".into(), "BLANK"));
                continue;
            }
            let existing = view
                .metafields(&owner)
                .iter()
                .find(|m| m.namespace == namespace && m.key == key);
            let kind = match (input["type"].as_str(), existing) {
                (Some(t), _) => t.to_string(),
                (None, Some(m)) => m.kind.clone(),
                (None, None) => {
                    errors.push(error("type", "Type can't be blank.".into(), "BLANK"));
                    continue;
                }
            };
            if !METAFIELD_TYPES.contains(&kind.as_str()) && !kind.starts_with("list.") {
                errors.push(error(
                    "type",
                    format!("Type '{kind}' is not a valid metafield type."),
                    "INVALID_TYPE",
                ));
                continue;
            }
            if let Some(problem) = value_problem(&kind, &value) {
                errors.push(error("value", problem, "INVALID_VALUE"));
                continue;
            }
            if let Some(digest) = input["compareDigest"].as_str() {
                let current = existing.map(Metafield::compare_digest);
                if current.as_deref() != Some(digest) {
                    errors.push(error(
                        "compareDigest",
                        "The resource has been updated since it was loaded. Try again with an updated `compareDigest` value.".into(),
                        "STALE_OBJECT",
                    ));
                    continue;
                }
            }
            planned.push((owner, namespace, key, Some(kind), value));
        }
    }
    if !errors.is_empty() {
        return Ok(json!({"metafields": [], "userErrors": errors}));
    }
    let mut written = Vec::new();
    for (owner, namespace, key, kind, value) in planned {
        let next_id = 26_000_000_000_000 + overlay.next_metafield;
        let list = overlay.metafields.entry(owner.clone()).or_default();
        let index = match list
            .iter()
            .position(|m| m.namespace == namespace && m.key == key)
        {
            Some(p) => {
                let m = &mut list[p];
                m.value = value;
                if let Some(k) = kind {
                    m.kind = k;
                }
                m.updated_at = now;
                p
            }
            None => {
                list.push(Metafield {
                    id: next_id,
                    owner: owner.clone(),
                    namespace,
                    key,
                    kind: kind.unwrap_or_default(),
                    value,
                    created_at: now,
                    updated_at: now,
                });
                overlay.next_metafield += 1;
                overlay.metafields.get(&owner).map_or(0, |l| l.len() - 1)
            }
        };
        if let Some(m) = overlay.metafields.get(&owner).and_then(|l| l.get(index)) {
            written.push(m.to_json());
        }
    }
    Ok(json!({"metafields": written, "userErrors": []}))
}

/// A response's `extensions` with its `cost`, keys in Shopify's order.
pub fn cost_extensions(requested: u64, actual: Option<u64>, status: Option<ThrottleStatus>) -> Out {
    let throttle = match status {
        Some(s) => Out::Obj(vec![
            (
                "maximumAvailable".into(),
                Out::Json(json!(s.maximum_available)),
            ),
            (
                "currentlyAvailable".into(),
                Out::Json(json!(s.currently_available)),
            ),
            ("restoreRate".into(), Out::Json(json!(s.restore_rate))),
        ]),
        None => Out::null(),
    };
    Out::Obj(vec![(
        "cost".into(),
        Out::Obj(vec![
            ("requestedQueryCost".into(), Out::Json(json!(requested))),
            ("actualQueryCost".into(), Out::Json(json!(actual))),
            ("throttleStatus".into(), throttle),
        ]),
    )])
}

/// Variables of a request body (an object, or nothing).
pub fn variables_of(body: &Json) -> Map<String, Json> {
    match body.get("variables") {
        Some(Json::Object(map)) => map.clone(),
        Some(Json::String(text)) => serde_json::from_str(text).unwrap_or_default(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shopify::graphql::compile;

    fn connection_field(args: &str) -> PlanField {
        let plan = compile(
            &format!("{{ customers({args}) {{ nodes {{ id }} }} }}"),
            None,
            &Map::new(),
        )
        .unwrap();
        plan.fields[0].clone()
    }

    #[test]
    fn pages_follow_first_after_last_and_reverse() {
        let (w, next, prev) = page_window(10, &connection_field("first: 3")).unwrap();
        assert_eq!((w, next, prev), (vec![0, 1, 2], true, false));
        let after = cursor(2);
        let (w, next, prev) = page_window(
            10,
            &connection_field(&format!("first: 3, after: \"{after}\"")),
        )
        .unwrap();
        assert_eq!((w, next, prev), (vec![3, 4, 5], true, true));
        let (w, _, _) = page_window(10, &connection_field("last: 2")).unwrap();
        assert_eq!(w, vec![8, 9]);
        let (w, _, _) = page_window(10, &connection_field("first: 2, reverse: true")).unwrap();
        assert_eq!(w, vec![9, 8]);
        assert!(page_window(10, &connection_field("query: \"x\"")).is_err());
        assert!(page_window(10, &connection_field("first: 251")).is_err());
    }

    #[test]
    fn app_namespaces_resolve() {
        assert_eq!(
            resolve_namespace(Some("$app:sync"), "app--7"),
            "app--7--sync"
        );
        assert_eq!(resolve_namespace(None, "app--7"), "app--7");
        assert_eq!(resolve_namespace(Some("custom"), "app--7"), "custom");
        assert!(value_problem("number_integer", "12").is_none());
        assert!(value_problem("number_integer", "1.5").is_some());
        assert!(value_problem("boolean", "yes").is_some());
    }
}
