//! Writes a generated Shopify bulk export (customers.jsonl, orders.jsonl, companies.jsonl).
//!
//! ```text
//! cargo run --release --example generate_export -- DIR [CUSTOMERS] [ORDERS] [COMPANIES]
//! ```

use shopforce::shopify::generate::{StoreShape, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: generate_export DIR [CUSTOMERS] [ORDERS] [COMPANIES]")?;
    let mut shape = StoreShape::default();
    if let Some(n) = args.next() {
        shape.customers = n.parse()?;
    }
    if let Some(n) = args.next() {
        shape.orders = n.parse()?;
    }
    if let Some(n) = args.next() {
        shape.companies = n.parse()?;
    }
    shape.products = 2_000;
    let g = generate(std::path::Path::new(&dir), &shape)?;
    println!("{g:?}");
    Ok(())
}
