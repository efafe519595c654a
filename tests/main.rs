//! shopforce integration tests, compiled as one binary (one link, shared helpers).
//!
//! Every emulator test talks to a real emulator over HTTP on `127.0.0.1:0`; `sfdx` checks the
//! Salesforce DX project admins deploy.

mod cli;
mod emulator;
mod engine;
mod sfdx;
mod support;
