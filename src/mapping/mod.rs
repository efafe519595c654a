//! The pure core: Shopify objects in, Salesforce rows and CSV out. No I/O here.

pub mod build;
pub mod csv_file;
pub mod ownership;
pub mod routing;
pub mod row;
pub mod target;
