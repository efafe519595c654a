//! Webhook deliveries: when data changes (admin endpoints, the consent mutation, a finished
//! bulk operation), a POST to the configured URL with Shopify's headers and its REST-style
//! payload for the topic, signed `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(secret, raw
//! body)). A non-2xx answer (or no answer within the timeout) is retried with exponential
//! backoff, the original payload and `X-Shopify-Triggered-At` kept, as Shopify does. Every
//! delivery and attempt is recorded for `GET /__admin/webhooks`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Value as Json, json};
use sha2::Sha256;
use tokio::sync::Notify;

use super::state::EmulatorState;
use super::store::ShopView;
use crate::shopify::generate::records::{AddressNode, MoneyBag};
use crate::shopify::generate::{OrderRecord, ShopInfo, Ts};

/// Where webhooks go and how hard the emulator tries.
#[derive(Clone)]
pub struct WebhookConfig {
    pub url: String,
    /// The app's client secret the payloads are signed with.
    pub secret: SecretString,
    /// Attempts per delivery (Shopify: 8 over 4 hours; the emulator is quicker).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub backoff: Duration,
    /// Per attempt (Shopify: 5 s in total).
    pub timeout: Duration,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: SecretString::from(secret.into()),
            max_attempts: 4,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"[REDACTED]")
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One try at delivering.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub at: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One delivery (one topic, one subscription), with its attempts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub webhook_id: String,
    pub event_id: String,
    pub topic: String,
    pub shop: String,
    pub api_version: String,
    pub triggered_at: String,
    pub payload: Json,
    pub attempts: Vec<Attempt>,
    pub delivered: bool,
    pub gave_up: bool,
}

/// The delivery machinery and its record.
pub struct Webhooks {
    config: Option<WebhookConfig>,
    client: reqwest::Client,
    pub deliveries: Mutex<Vec<Delivery>>,
    stopped: AtomicBool,
    stop: Notify,
}

impl Webhooks {
    pub fn new(config: Option<WebhookConfig>) -> Result<Webhooks, String> {
        let timeout = config
            .as_ref()
            .map(|c| c.timeout)
            .unwrap_or(Duration::from_secs(5));
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1).min(timeout))
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        Ok(Webhooks {
            config,
            client,
            deliveries: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            stop: Notify::new(),
        })
    }

    pub fn enabled(&self) -> bool {
        self.config.is_some()
    }

    /// Stops retrying (at shutdown); deliveries in flight finish their current attempt.
    pub fn shutdown(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
    }
}

/// A random UUID (version 4), as Shopify's webhook and event ids are.
pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// base64(HMAC-SHA256(secret, body)): `X-Shopify-Hmac-Sha256`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Queues the deliveries of one event (one merchant action; topics share the event id).
pub fn emit(state: &Arc<EmulatorState>, shop: &str, event: Vec<(&'static str, Json)>) {
    if !state.webhooks.enabled() {
        return;
    }
    let event_id = uuid();
    let triggered_at = state
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    for (topic, payload) in event {
        let delivery = Delivery {
            webhook_id: uuid(),
            event_id: event_id.clone(),
            topic: topic.to_string(),
            shop: shop.to_string(),
            api_version: state.config.api_version.clone(),
            triggered_at: triggered_at.clone(),
            payload,
            attempts: Vec::new(),
            delivered: false,
            gave_up: false,
        };
        let index = match state.webhooks.deliveries.lock() {
            Ok(mut list) => {
                list.push(delivery);
                list.len() - 1
            }
            Err(_) => continue,
        };
        let state = Arc::clone(state);
        tokio::spawn(async move { deliver(state, index).await });
    }
}

async fn deliver(state: Arc<EmulatorState>, index: usize) {
    let hooks = &state.webhooks;
    let Some(config) = hooks.config.clone() else {
        return;
    };
    let Some(delivery) = hooks
        .deliveries
        .lock()
        .ok()
        .and_then(|l| l.get(index).cloned())
    else {
        return;
    };
    let body = match serde_json::to_vec(&delivery.payload) {
        Ok(b) => b,
        Err(_) => return,
    };
    let hmac = sign(config.secret.expose_secret().as_bytes(), &body);
    for attempt in 0..config.max_attempts.max(1) {
        if attempt > 0 {
            let wait = config.backoff.saturating_mul(1 << (attempt - 1).min(16));
            let stopped = hooks.stop.notified();
            if hooks.stopped.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped => break,
            }
        }
        if hooks.stopped.load(Ordering::SeqCst) {
            break;
        }
        let sent = hooks
            .client
            .post(&config.url)
            .header("Content-Type", "application/json")
            .header("X-Shopify-Topic", &delivery.topic)
            .header("X-Shopify-Hmac-Sha256", &hmac)
            .header("X-Shopify-Shop-Domain", &delivery.shop)
            .header("X-Shopify-API-Version", &delivery.api_version)
            .header("X-Shopify-Webhook-Id", &delivery.webhook_id)
            .header("X-Shopify-Event-Id", &delivery.event_id)
            .header("X-Shopify-Triggered-At", &delivery.triggered_at)
            .body(body.clone())
            .send()
            .await;
        let record = Attempt {
            at: state
                .clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            status: sent.as_ref().ok().map(|r| r.status().as_u16()),
            // The error text names the URL, never the secret.
            error: sent.as_ref().err().map(|e| e.to_string()),
        };
        let ok = sent.is_ok_and(|r| r.status().is_success());
        if let Ok(mut list) = hooks.deliveries.lock()
            && let Some(d) = list.get_mut(index)
        {
            d.attempts.push(record);
            d.delivered = ok;
        }
        if ok {
            tracing::debug!(topic = %delivery.topic, attempt, "Webhook delivered.");
            return;
        }
        tracing::debug!(topic = %delivery.topic, attempt, "Webhook delivery failed.");
    }
    if let Ok(mut list) = hooks.deliveries.lock()
        && let Some(d) = list.get_mut(index)
    {
        d.gave_up = true;
    }
}

// ---------------------------------------------------------------------------------------------
// Payloads (REST-style, snake_case; webhook API 2025-01+ shapes)

/// A timestamp as REST payloads write it (an offset, never `Z`).
pub fn rest_time(ts: Ts) -> String {
    let text = ts.to_string();
    match text.strip_suffix('Z') {
        Some(t) => format!("{t}+00:00"),
        None => text,
    }
}

fn lower(value: Option<&str>) -> Json {
    value
        .map(|v| Json::String(v.to_ascii_lowercase()))
        .unwrap_or(Json::Null)
}

fn numeric_id(gid: &str) -> Json {
    super::store::parse_gid(gid)
        .map(|(_, id)| Json::from(id))
        .unwrap_or(Json::Null)
}

fn rest_address(address: &AddressNode, customer_id: u64) -> Json {
    let name = [address.first_name.as_deref(), address.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "id": customer_id,
        "customer_id": customer_id,
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": address.company,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province,
        "country": address.country,
        "zip": address.zip,
        "phone": address.phone,
        "name": name,
        "province_code": address.province_code,
        "country_code": address.country_code_v2,
        "country_name": address.country,
        "default": true,
    })
}

/// `customers/create|update` (2025-01+: no consent, tags or order totals in it).
pub fn customer_payload(view: &ShopView<'_>, n: u64, info: &ShopInfo) -> Json {
    let c = view.customer(n).customer;
    let id = c.id.id;
    let address = c.default_address.as_ref().map(|a| rest_address(a, id));
    json!({
        "id": id,
        "created_at": rest_time(c.created_at),
        "updated_at": rest_time(c.updated_at),
        "first_name": c.first_name,
        "last_name": c.last_name,
        "state": c.state.to_ascii_lowercase(),
        "note": c.note,
        "verified_email": c.verified_email,
        "multipass_identifier": null,
        "tax_exempt": c.tax_exempt,
        "email": c.email_address(),
        "phone": c.phone_number(),
        "currency": info.currency,
        "addresses": address.iter().cloned().collect::<Vec<_>>(),
        "tax_exemptions": [],
        "admin_graphql_api_id": c.id.to_string(),
        "default_address": address,
    })
}

/// `customers_email_marketing_consent/update`.
pub fn consent_payload(view: &ShopView<'_>, n: u64) -> Json {
    let email = view.contact_points(n).email;
    let consent = email.as_ref().map(|e| &e.consent);
    let (state, level, updated) = (
        consent.map(|c| c.state),
        consent.and_then(|c| c.opt_in_level),
        consent.and_then(|c| c.updated_at),
    );
    json!({
        "customer_id": view.data.generator.customer_gid(n).id,
        "email_address": email.as_ref().map(|e| e.address.as_str()),
        "email_marketing_consent": {
            "state": lower(state),
            "opt_in_level": lower(level),
            "consent_updated_at": updated.map(rest_time),
        },
    })
}

fn money_set(bag: &MoneyBag) -> Json {
    json!({
        "shop_money": {"amount": bag.shop_money.amount.to_string(), "currency_code": bag.shop_money.currency_code},
        "presentment_money": {"amount": bag.presentment_money.amount.to_string(), "currency_code": bag.presentment_money.currency_code},
    })
}

/// `orders/create`.
pub fn order_payload(view: &ShopView<'_>, record: &OrderRecord) -> Json {
    let o = &record.order;
    let number = o
        .name
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse::<u64>()
        .unwrap_or(0);
    let customer = o
        .customer
        .as_ref()
        .and_then(|c| view.customer_index(&c.id.to_string()))
        .map(|n| {
            let c = view.customer(n).customer;
            json!({
                "id": c.id.id,
                "email": c.email_address(),
                "created_at": rest_time(c.created_at),
                "updated_at": rest_time(c.updated_at),
                "first_name": c.first_name,
                "last_name": c.last_name,
                "state": c.state.to_ascii_lowercase(),
                "note": c.note,
                "verified_email": c.verified_email,
                "multipass_identifier": null,
                "tax_exempt": c.tax_exempt,
                "phone": c.phone_number(),
                "currency": o.currency_code,
                "tax_exemptions": [],
                "admin_graphql_api_id": c.id.to_string(),
            })
        });
    let line_items: Vec<Json> = record
        .line_items
        .iter()
        .map(|l| {
            json!({
                "id": l.id.id,
                "admin_graphql_api_id": l.id.to_string(),
                "sku": l.sku,
                "title": l.title,
                "name": l.name,
                "quantity": l.quantity,
                "current_quantity": l.current_quantity,
                "price": l.original_unit_price_set.shop_money.amount.to_string(),
                "price_set": money_set(&l.original_unit_price_set),
                "product_id": l.product.as_ref().map(|p| p.id.id),
                "variant_id": l.variant.as_ref().map(|v| v.id.id),
                "variant_title": l.variant_title,
                "vendor": l.vendor,
                "gift_card": l.is_gift_card,
                "taxable": true,
                "tax_lines": [],
                "discount_allocations": [],
                "total_discount": "0.00",
                "fulfillment_status": null,
                "grams": 0,
            })
        })
        .collect();
    let amount = |bag: &MoneyBag| bag.shop_money.amount.to_string();
    let mut payload = json!({
        "id": o.id.id,
        "admin_graphql_api_id": o.id.to_string(),
        "name": o.name,
        "number": number.saturating_sub(1000),
        "order_number": number,
        "email": o.email,
        "contact_email": o.email,
        "phone": o.phone,
        "created_at": rest_time(o.created_at),
        "updated_at": rest_time(o.updated_at),
        "processed_at": rest_time(o.processed_at),
        "cancelled_at": o.cancelled_at.map(rest_time),
        "cancel_reason": lower(o.cancel_reason),
        "closed_at": null,
        "currency": o.currency_code,
        "presentment_currency": o.presentment_currency_code,
    });
    let money = json!({
        "total_price": amount(&o.total_price_set),
        "total_price_set": money_set(&o.total_price_set),
        "subtotal_price": amount(&o.subtotal_price_set),
        "subtotal_price_set": money_set(&o.subtotal_price_set),
        "total_tax": amount(&o.total_tax_set),
        "total_tax_set": money_set(&o.total_tax_set),
        "total_discounts": amount(&o.total_discounts_set),
        "total_discounts_set": money_set(&o.total_discounts_set),
        "total_line_items_price": amount(&o.subtotal_price_set),
        "current_total_price": amount(&o.current_total_price_set),
        "current_total_price_set": money_set(&o.current_total_price_set),
        "total_outstanding": "0.00",
    });
    let rest = json!({
        "financial_status": lower(o.display_financial_status),
        "fulfillment_status": null,
        "tags": o.tags.join(", "),
        "test": o.test,
        "source_name": o.source_name,
        "note": o.note,
        "customer": customer,
        "line_items": line_items,
        "refunds": [],
        "billing_address": null,
        "shipping_address": null,
        "shipping_lines": [],
        "discount_applications": [],
        "payment_gateway_names": ["manual"],
        "company": null,
    });
    if let Json::Object(map) = &mut payload {
        for part in [money, rest] {
            if let Json::Object(more) = part {
                map.extend(more);
            }
        }
    }
    payload
}

/// `bulk_operations/finish` (status and type lowercase, as Shopify's example shows).
pub fn bulk_finish_payload(op: &Json) -> Json {
    let lower_of = |key: &str| lower(op.get(key).and_then(Json::as_str));
    json!({
        "admin_graphql_api_id": op.get("id"),
        "completed_at": op.get("completedAt"),
        "created_at": op.get("createdAt"),
        "error_code": lower_of("errorCode"),
        "status": lower_of("status"),
        "type": lower_of("type"),
    })
}

/// The numeric id of a gid, for payloads.
pub fn id_of(gid: &str) -> Json {
    numeric_id(gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_base64_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            base64::engine::general_purpose::STANDARD.encode([
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
                0x64, 0xec, 0x38, 0x43
            ])
        );
    }

    #[test]
    fn ids_look_like_uuids_and_secrets_do_not_show() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        let config = WebhookConfig::new("http://127.0.0.1:1/hooks", "whsec_very_secret");
        assert!(!format!("{config:?}").contains("whsec_very_secret"));
        assert_eq!(rest_time(Ts(0)), "1970-01-01T00:00:00+00:00");
    }
}
