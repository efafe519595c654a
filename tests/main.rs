//! shopforce integration tests, compiled as one binary (one link, shared helpers).
//!
//! Every test talks to a real emulator over HTTP on `127.0.0.1:0`.

mod cli;
mod emulator;
mod support;
