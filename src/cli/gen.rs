//! `shopforce gen`: write a generated Shopify bulk export (and its identity ground truth).

use std::path::PathBuf;

use clap::Args;

use crate::shopify::generate::{StoreShape, generate_shops};

#[derive(Debug, Args)]
pub struct GenArgs {
    #[command(flatten)]
    pub shape: StoreShapeArgs,
    /// Where to write customers.jsonl, orders.jsonl, companies.jsonl and truth.csv.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The size and seed of a generated store (`gen` and `emulator shopify` share them).
#[derive(Debug, Clone, Args)]
pub struct StoreShapeArgs {
    /// Customers per shop.
    #[arg(long, default_value_t = 1000)]
    pub customers: u64,
    /// Orders per shop (default: three per customer).
    #[arg(long)]
    pub orders: Option<u64>,
    /// B2B companies per shop (default: one per 100 customers).
    #[arg(long)]
    pub companies: Option<u64>,
    /// Products in the catalogue, 1 to 4 variants each (default: one per 50 customers,
    /// 20 to 5000).
    #[arg(long)]
    pub products: Option<u64>,
    /// Most line items on one order (most orders have 1 to 5; a long tail reaches this).
    #[arg(long, default_value_t = 50)]
    pub max_line_items: u64,
    /// Storefronts: more than one writes DIR/<shop-domain>/ per shop, sharing people.
    #[arg(long, default_value_t = 1)]
    pub shops: u32,
    /// The first shop's currency (ISO 4217).
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Same seed, same bytes.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

impl GenArgs {
    pub fn shape(&self) -> Result<StoreShape, String> {
        self.shape.shape()
    }
}

impl StoreShapeArgs {
    pub fn shape(&self) -> Result<StoreShape, String> {
        let code = self.currency.trim().to_ascii_uppercase();
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "--currency {:?} is not an ISO 4217 code",
                self.currency
            ));
        }
        if self.shops == 0 {
            return Err("--shops must be at least 1".to_string());
        }
        let currency: &'static str = match crate::shopify::generate::values::CURRENCIES
            .iter()
            .find(|c| c.code == code)
        {
            Some(c) => c.code,
            // A one-shot process: the code lives as long as the run.
            None => Box::leak(code.into_boxed_str()),
        };
        let customers = self.customers.max(1);
        Ok(StoreShape {
            customers,
            orders: self.orders.unwrap_or(customers * 3),
            max_line_items: self.max_line_items.max(1),
            products: self.products.unwrap_or((customers / 50).clamp(20, 5000)),
            companies: self.companies.unwrap_or(customers / 100),
            currency,
            seed: self.seed,
            shops: self.shops,
        })
    }
}

/// Writes the export and prints a one-line summary.
pub fn run(args: &GenArgs) -> Result<(), String> {
    let shape = args.shape()?;
    let started = std::time::Instant::now();
    let shops = generate_shops(&args.out, &shape)
        .map_err(|e| format!("cannot write into {}: {e}", args.out.display()))?;
    let mut total = crate::shopify::generate::Generated::default();
    for s in &shops {
        total.add(&s.generated);
    }
    let domains: Vec<&str> = shops.iter().map(|s| s.info.domain.as_str()).collect();
    println!(
        "generated {} shop{} ({}) in {}: {} customers, {} orders ({} guest, {} B2B), {} line items, {} companies ({} locations, {} contacts), {} variants, seed {}, {:.1} s",
        shops.len(),
        if shops.len() == 1 { "" } else { "s" },
        domains.join(", "),
        args.out.display(),
        total.customers,
        total.orders,
        total.guest_orders,
        total.b2b_orders,
        total.line_items,
        total.companies,
        total.locations,
        total.company_contacts,
        total.variants_used,
        shape.seed,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
