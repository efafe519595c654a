//! A local emulator of the Salesforce endpoints shopforce uses: OAuth 2.0 JWT bearer,
//! Bulk API 2.0 ingest and query, and the REST basics real clients probe.
//!
//! # Layout
//! - [`schema`], [`standard`], [`metadata`]: the data dictionary — standard objects
//!   declared in code, custom fields read from the project's `sfdx/` folder.
//! - [`org`]: records ([`record`]: packed field values) with Id and external-ID indexes; [`formula`] computes formula
//!   fields on read.
//! - [`values`] and [`dml`]: typed values and save semantics (insert / update / upsert /
//!   delete) with Salesforce's error codes and wording; shared by Bulk and REST.
//! - [`ingest`] and [`jobs`]: Bulk 2.0 CSV dialects, header planning, result files, and
//!   job records; [`bulk`] serves them and runs jobs in 10,000-row batches.
//! - [`soql`]: the SOQL subset for REST and Bulk queries.
//! - [`person`]: Person Accounts, an org setting ([`EmulatorConfig::person_accounts`]).
//! - [`oauth`]: JWT bearer verification and development credentials.
//! - [`http`], [`rest`], [`admin`]: the HTTP surface; [`faults`] injects failures.
//! - [`state`] and [`server`]: configuration, shared state, start and shutdown.

pub mod admin;
pub mod bulk;
pub mod dml;
pub mod faults;
pub mod formula;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod jobs;
pub mod metadata;
pub mod oauth;
pub mod org;
pub mod person;
pub mod record;
pub mod rest;
pub mod schema;
pub mod server;
pub mod soql;
pub mod standard;
pub mod state;
pub mod values;

pub use faults::FaultProfile;
pub use server::{EmulatorError, RunningEmulator, start};
pub use state::{EmulatorConfig, Processing};
