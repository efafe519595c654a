//! The Shopify side of the engine: the objects it reads, the bulk-operation JSONL they
//! arrive in, the queries that produce it and the Admin GraphQL client that runs them.

pub mod bulk_jsonl;
pub mod client;
pub mod generate;
pub mod model;
pub mod phone;
pub mod queries;
