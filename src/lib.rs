//! # shopforce
//!
//! shopforce keeps Salesforce in step with Shopify. It pulls Shopify data (GraphQL bulk
//! operations and webhooks) and upserts it into Salesforce with Bulk API 2.0 ingest jobs
//! keyed on external ID fields, authenticated with the OAuth 2.0 JWT bearer flow.
//!
//! ## Data flow
//!
//! ```text
//!  sync::identity: the org's Contacts (Bulk queryAll, by SystemModstamp) ─► identity index,
//!        │          CRM consent changes noted and queued for Shopify
//!  shopify::client (bulk operations, streamed to disk; or --from-jsonl files)
//!        ▼
//!  Shopify bulk JSONL ─► shopify::bulk_jsonl (line by line) ─► sync::resolve (identity,
//!                        consent rule) ─► mapping::build ─► rows
//!                                                                       │
//!                      sync::spool (one CSV per target, duplicates collapsed) ◄┘
//!                                                                       │
//!  sync::prepare: hold back children of failed parents, skip unchanged  │
//!  rows (payload hashes), blank what the row may not write              │
//!  (mapping::ownership), sort by parent, split into ≤100 MB parts ◄─────┘
//!        │
//!        ▼  parents before children, several jobs at once; the customer side's jobs
//!           run while orders.jsonl is still read
//!  sync::job ─► salesforce (JWT bearer, governor, backon) ─► Bulk API 2.0 ingest job
//!        │                                                          │
//!        ◄──────── successful / failed / unprocessed results ◄──────┘
//!        ▼  (successes written by a writer task while the next level runs)
//!  store (SQLite or PostgreSQL): runs, jobs (recorded before upload), id mappings with
//!  payload hashes, cursors, order cache, dead letters, review queue
//! ```
//!
//! Pure parts take values and return values ([`mapping`], [`shopify::model`],
//! [`sync::outcome`]); I/O lives at the edges ([`salesforce`], [`store`], the file reading in
//! [`sync`]), [`identity`] and [`consent`] (decisions), [`metrics`].
//!
//! # Layout
//! - [`cli`]: the `shopforce` command line (a thin layer; `src/main.rs` only calls it):
//!   `sync`, `status`, `dlq`, `fields`, `review`, `gen`, `demo`, `emulator`, `sfdx check`, `jwt-assertion`; progress
//!   bars or log lines for a running sync.
//! - [`demo`]: `shopforce demo`, wiring the engine to both emulators (a front, like the
//!   emulator commands).
//! - [`backoff`]: retry and poll timing (backon), shared by the Salesforce and Shopify clients.
//! - [`config`]: `shopforce.toml` and its `SHOPFORCE_*` overrides.
//! - [`shopify`]: Shopify objects, the bulk JSONL reader, the bulk queries, the Admin GraphQL
//!   client, a deterministic messy store generator.
//! - [`mapping`]: upsert targets, rows, CSV, payload hashes and the field-ownership matrix.
//! - [`identity`]: identity resolution's pure core: normalised email and E.164 phone, the
//!   index of the org's Contacts and its tiers.
//! - [`consent`]: the email-consent rule in both directions (pure).
//! - [`sync`]: the pipeline, crash resume, dead-letter retries, the Contact refresh and
//!   per-run resolution, consent pushes to Shopify, B2B owner routing.
//! - [`salesforce`]: the engine's Salesforce client.
//! - [`store`]: the state store trait with SQLite and PostgreSQL implementations.
//! - [`salesforce_fields`]: the engine's field contract: every Salesforce object and field the
//!   engine writes or reads, and where the integration user's access to it comes from.
//! - [`sfdx_check`]: offline validation of the `sfdx/` project admins deploy (what the
//!   Salesforce CLI does not check), run by `shopforce sfdx check`.
//! - [`emulator`]: faithful local emulators of the services shopforce talks to. Engine code
//!   never imports it. [`emulator::salesforce`] serves OAuth JWT bearer, Bulk API 2.0 ingest
//!   and query, and REST basics, with custom fields loaded from the project's `sfdx/` folder.
//!   [`emulator::shopify`] serves the Shopify Admin GraphQL API (bulk exports, consent and
//!   metafield mutations, cost-based throttling, webhooks) over the generated store.

pub mod backoff;
pub mod cli;
/// `shopforce.toml` and its `SHOPFORCE_*` environment overrides.
pub mod config;
/// Email marketing consent in both directions: the more recent event wins.
pub mod consent;
/// `shopforce demo`: both emulators, a generated store, a full and an incremental sync.
pub mod demo;
pub mod emulator;
pub mod identity;
/// Shopify objects → Salesforce rows and CSV (pure: values in, values out).
pub mod mapping;
/// Commerce metrics (spend, AOV, churn risk, CLV tier) from the order cache's totals (pure).
pub mod metrics;
/// The engine's Salesforce client: JWT bearer login, Bulk API 2.0 ingest and query, REST basics.
pub mod salesforce;
/// The Salesforce objects and fields the sync engine writes and reads.
pub mod salesforce_fields;
/// Offline validation of the Salesforce DX project in `sfdx/`.
pub mod sfdx_check;
/// Shopify objects and the bulk-operation JSONL they arrive in.
pub mod shopify;
/// The engine's durable state (runs, bulk jobs, mappings, cursors, DLQ) on SQLite or PostgreSQL.
pub mod store;
/// The bulk sync pipeline: scan, spool, prepare, Bulk API jobs, results.
pub mod sync;
