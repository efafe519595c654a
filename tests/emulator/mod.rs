//! The Salesforce emulator over HTTP.

mod auth;
mod ingest;
mod objects;
mod operations;
mod query;
mod rest;
