//! Faithful local emulators of the third-party services shopforce talks to. Engine code
//! never imports this module; tests and `shopforce emulator …` do.

pub mod salesforce;
pub mod serve;
pub mod shopify;
