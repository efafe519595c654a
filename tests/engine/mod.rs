//! Engine tests: each part of the sync engine against real SQLite / PostgreSQL and the
//! Salesforce emulator over HTTP.

mod salesforce_client;
mod store;
mod sync;
