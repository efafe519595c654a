//! # shopforce
//!
//! shopforce keeps Salesforce in step with Shopify. It pulls Shopify data (GraphQL bulk
//! operations and webhooks) and upserts it into Salesforce with Bulk API 2.0 ingest jobs
//! keyed on external ID fields, authenticated with the OAuth 2.0 JWT bearer flow.
//!
//! ## Data flow
//!
//! ```text
//!  Shopify (bulk JSONL, webhooks)
//!        │
//!        ▼
//!  identity resolution ─► mapping / ownership / consent ─► batching ─► CSV
//!                                                                      │
//!                                                                      ▼
//!  state store (mappings, cursors, jobs, DLQ) ◄── results ◄── Bulk API 2.0 ingest job
//! ```
//!
//! The engine is being built issue by issue; what exists today is the foundation and the
//! Salesforce emulator every engine test runs against.
//!
//! # Layout
//! - [`emulator`]: faithful local emulators of the services shopforce talks to. Engine code
//!   never imports it. [`emulator::salesforce`] serves OAuth JWT bearer, Bulk API 2.0 ingest
//!   and query, and REST basics, with custom fields loaded from the project's `sfdx/` folder.
//! - [`cli`]: the `shopforce` command line (a thin layer; `src/main.rs` only calls it).

pub mod cli;
pub mod emulator;
