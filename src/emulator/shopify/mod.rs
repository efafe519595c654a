//! A local emulator of the Shopify Admin GraphQL API (2026-01) endpoints the engine uses:
//! bulk exports of customers, orders and companies, the consent and metafield mutations, the
//! lookups, cost-based throttling and webhooks — over a store built by the deterministic
//! generator ([`crate::shopify::generate`]), so a full export equals `shopforce gen`'s files
//! for the same seed and shape.
//!
//! # Layout
//! - [`server`]: start (`127.0.0.1:0` in tests), [`RunningEmulator`], shutdown.
//! - [`http`]: routing, the API version in the path, the access token, HTTP faults, cost and
//!   throttling around each request, result-file downloads.
//! - [`graphql`]: parsing (`async-graphql-parser`), operation selection, variable coercion and
//!   validation against [`schema`] into a plan; [`execute`] runs its root fields; [`project`]
//!   cuts records to the selection (key order as asked) and counts the actual cost.
//! - [`bulk`]: `bulkOperationRunQuery` / `bulkOperationCancel`, the job state machine and the
//!   JSONL writer; [`search`]: the `query:` filter syntax.
//! - [`throttle`]: the leaky bucket; [`faults`]: injected failures.
//! - [`store`]: generated records plus the overlay of changes; [`customer`]: a customer's
//!   email and phone with their consent, held once and written in both API shapes; [`state`]:
//!   configuration, clock, shops, statistics.
//! - [`webhooks`]: payloads, signing, delivery with retries; [`admin`]: `/__admin/…`.
//!
//! # Emulated (as Shopify does it)
//! - `POST /admin/api/{version}/graphql.json` (and `/shops/{domain}/admin/api/…` for each
//!   shop), header `X-Shopify-Access-Token`, body `{"query", "variables", "operationName"}` or
//!   `application/graphql`. A missing or wrong token is HTTP 401
//!   `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`.
//!   Accessible versions are 2025-10 to 2026-10 and `unstable`; an older well-formed version
//!   falls forward to the oldest accessible one (the `X-Shopify-API-Version` response header
//!   says which served it), anything else is HTTP 404 `{"errors":"Not Found"}`.
//! - GraphQL errors at HTTP 200 with graphql-ruby's messages and codes: `PARSE_ERROR`,
//!   `undefinedField` (`Field 'x' doesn't exist on type 'Customer'`), `selectionMismatch`,
//!   `missingRequiredArguments`, `argumentNotAccepted`, `INVALID_VARIABLE` with `problems`;
//!   error paths start with `query Name` / `mutation`. Fragments, inline fragments, aliases,
//!   `@skip`/`@include`, variables with defaults.
//! - Queries: `customer(id:)`, `customers(first/last/after/before/reverse, query:)` (e.g.
//!   `"email:ana@example.com"`), `order`, `orders`, `company`, `companies`, `node(id:)`,
//!   `shop`, `bulkOperation(id:)`, `currentBulkOperation(type:)` (the latest, even finished),
//!   `bulkOperations(first:, query: "status:running")` (newest first). Nested connections
//!   (`lineItems`, `addressesV2`, `locations`, `contacts`, `metafields`) and
//!   `metafield(namespace:, key:)`; a `customer { id }` reference asked for more fields is
//!   looked up. Connections need `first` or `last` (at most 250).
//! - Bulk operations: `bulkOperationRunQuery(query:, groupObjects:)` validates the inner query
//!   (parse and schema errors as `Invalid bulk query: …`; at least one connection, at most five,
//!   nested at most two deep; one top-level field; userErrors with code `INVALID` and field
//!   `["query"]`) and exports `customers` (with `addressesV2`, `metafields`), `orders` (with
//!   `lineItems`, `metafields`) or `companies` (with `locations`, `contacts`), `first` ignored,
//!   `query:` applied (`updated_at`, `created_at`, `processed_at`, `email`, `id`, … with
//!   `:`, `:>`, `:>=`, `:<`, `:<=`, joined by spaces or `AND`). Statuses `CREATED` → `RUNNING` →
//!   `COMPLETED`; `bulkOperationCancel` → `CANCELING` → `CANCELED` ("Bulk operation does not
//!   exist" for an unknown id; "A bulk operation cannot be canceled when it is completed" for a
//!   finished one). Counts are `UnsignedInt64` strings; `url` is `null` when nothing matched.
//!   From 2026-01 five bulk queries may run at once per shop (one before): past that the
//!   userError is `OPERATION_IN_PROGRESS`, "A bulk query operation for this app and shop is
//!   already in progress: gid://shopify/BulkOperation/N.". The JSONL has one object per line,
//!   connection nodes on their own lines with `__parentId` last, keys in query order; children
//!   are scattered around their parents (the generator's shuffle) unless `groupObjects: true`.
//!   Results are served at `/bulk-results/{opaque}.jsonl` without a token.
//! - Cost: every response carries `extensions.cost` (`requestedQueryCost`, `actualQueryCost`,
//!   `throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}`). Scalars cost 0,
//!   objects 1, connections 2 + `first` × node, mutations 10; the unused part is refunded. One
//!   bucket per shop, standard plan by default (2000 points, 100 a second). Not enough points:
//!   HTTP 200 `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}]}` with
//!   `actualQueryCost: null`; over 1000 requested: `MAX_COST_EXCEEDED`.
//! - `customerEmailMarketingConsentUpdate`: SUBSCRIBED, UNSUBSCRIBED, PENDING only
//!   (NOT_SUBSCRIBED, REDACTED, INVALID: top-level error "Cannot specify X as a marketing state
//!   input", code `INVALID`, payload `null`); PENDING needs CONFIRMED_OPT_IN; a future
//!   `consentUpdatedAt` is a userError; an unknown customer is "Customer not found" on
//!   `["input","customerId"]`; a customer with no email is left unchanged (all as captured from
//!   Shopify 2026-04). A change updates the consent (`marketingUpdatedAt` = `consentUpdatedAt`,
//!   or now) and the customer's `updatedAt`, and sends `customers/update` and
//!   `customers_email_marketing_consent/update`.
//! - `metafieldsSet`: at most 25, atomic, `$app` / `$app:x` namespaces stored as `app--{id}` /
//!   `app--{id}--x`, type-checked values, `compareDigest` compare-and-set (`STALE_OBJECT`),
//!   owners must exist (customers, orders, companies). Read back with `metafields` /
//!   `metafield` and in bulk exports that select `metafields`.
//! - Webhooks to one URL: `customers/update`, `customers_email_marketing_consent/update`,
//!   `orders/create`, `bulk_operations/finish`, REST-style payloads of the 2025-01+ shapes,
//!   headers `X-Shopify-Topic`, `-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body),
//!   `-Shop-Domain`, `-API-Version`, `-Webhook-Id`, `-Event-Id` (shared by the topics of one
//!   change), `-Triggered-At` (kept on retries); retries with exponential backoff on non-2xx.
//! - Several shops (`--shops K`), each its own data, bucket and bulk operations; ids unique
//!   across shops.
//!
//! # Where the emulator decides (Shopify's docs are silent or unconfirmed)
//! - The code for a sixth concurrent bulk query in 2026-01 is not documented: the emulator
//!   answers `OPERATION_IN_PROGRESS`, as for the one-at-a-time versions.
//! - `completedAt` is set on every finished operation (failed and canceled too); a failed
//!   operation's `partialDataUrl` holds the first half of the lines; `url` is `null` then.
//! - Consent: a `consentUpdatedAt` older than the one held leaves the consent as it is (Shopify
//!   keeps the latest); an identical repeat does not bump `updatedAt`.
//! - A selected field the record does not carry is left out of the line. Every customer
//!   carries both contact shapes, as on Shopify 2026-01: the current `defaultEmailAddress` /
//!   `defaultPhoneNumber` and the deprecated `email`, `phone`, `emailMarketingConsent`,
//!   `smsMarketingConsent`, from one held email and phone ([`customer`]), whichever shape the
//!   generator wrote. So a full export has, for each customer, what `shopforce gen` wrote plus
//!   the other shape, and a query for one shape gets every customer's email in it.
//! - Email consent `REDACTED` (the deprecated enum only; the generator writes it on some
//!   deprecated-shape customers) is `INVALID` in `defaultEmailAddress.marketingState`, whose
//!   enum has no `REDACTED`: the other state only Shopify sets. Undocumented on Shopify, where
//!   a redacted customer's email is erased too.
//! - `metafieldsSet` neither changes the owner's `updatedAt` nor sends a webhook (unconfirmed on
//!   Shopify); adding an order does not change its customer's `updatedAt`.
//! - Search: `OR`, `NOT`, parentheses and free text are not supported; unknown filter fields
//!   are ignored, as Shopify ignores them. `customers(query:)` scans the store (fine for test
//!   sizes).
//! - Webhooks go to every topic the emulator emits (no subscriptions); retries default to 4
//!   attempts from 1 s apart, not Shopify's 8 over 4 hours.
//!
//! # Not emulated
//! REST Admin API, OAuth and app installation, scopes and protected customer data, the 60-day
//! order window of `read_all_orders`, bulk mutations (`bulkOperationRunMutation`, staged
//! uploads), products and other resources, `customerUpdate`/`customerSet` and SMS consent,
//! result URL expiry (`EXPIRED`), webhook subscriptions (`webhookSubscriptionCreate`), and
//! Shopify's exact cursor format.
//!
//! # Use from Rust
//! ```text
//! let config = EmulatorConfig::new("shpat_test", StoreShape { customers: 50, ..Default::default() });
//! let emulator = shopforce::emulator::shopify::start(config, "127.0.0.1:0".parse()?).await?;
//! emulator.graphql_url(emulator.shop_domain(), "2026-01");   // POST here with emulator.access_token()
//! emulator.shutdown().await;
//! ```

pub mod admin;
pub mod bulk;
pub mod customer;
pub mod execute;
pub mod faults;
pub mod graphql;
pub mod http;
pub mod project;
pub mod schema;
pub mod search;
pub mod server;
pub mod state;
pub mod store;
pub mod throttle;
pub mod webhooks;

pub use faults::Faults;
pub use server::{EmulatorError, RunningEmulator, start};
pub use state::{DEFAULT_API_VERSION, EmulatorConfig};
pub use webhooks::WebhookConfig;
