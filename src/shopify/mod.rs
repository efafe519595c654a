//! The Shopify side of the engine: the objects it reads and the bulk-operation JSONL they
//! arrive in.

pub mod bulk_jsonl;
pub mod generate;
pub mod model;
pub mod phone;
