//! The Salesforce and Shopify emulators over HTTP.

mod auth;
mod ingest;
mod objects;
mod operations;
mod query;
mod rest;
mod shopify;
