//! The commerce-metrics step of a run: once the Contacts' and Accounts' results are stored
//! (the run goes on with the orders meanwhile), the state store sums the order cache per
//! customer and per company (in SQL, a page of keys at a time) and each total becomes one
//! metrics row ([`crate::metrics`]), spooled for the metrics targets; their jobs run after
//! every other target's. Prepare then skips the rows whose content Salesforce already has, so a
//! run sends only the metrics that changed: new or changed orders, and churn-risk buckets
//! that moved with time.
//!
//! Only records the engine has written get metrics (a stored id mapping: `customer` for
//! Contacts, `customer_account` for Person Accounts, `company` for company Accounts): a
//! metrics row must never create a Contact or Account of its own, and a customer whose
//! Contact failed gets their metrics once it exists. Guest checkouts have no customer and
//! so no metrics.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::mapping::build::{AccountModel, MappingContext};
use crate::mapping::target::Target;
use crate::metrics::{self, MetricsConfig, MetricsTally};
use crate::store::{AggregateBy, StateStore, Store};

use super::SyncError;
use super::spool::{Spool, SpoolFile};

/// Keys per aggregate query.
const PAGE: u32 = 10_000;

/// What gets metrics: (aggregate by, id-mapping kind of the record written, target of its
/// metrics row). Person Accounts only under that account model.
pub const PLAN: [(AggregateBy, &str, Target); 3] = [
    (AggregateBy::Customer, "customer", Target::ContactMetrics),
    (
        AggregateBy::Customer,
        "customer_account",
        Target::PersonMetrics,
    ),
    (AggregateBy::Company, "company", Target::CompanyMetrics),
];

/// Builds the metrics rows of a shop into spools (one file per metrics target).
pub async fn build_spools(
    store: &Store,
    ctx: &MappingContext,
    config: &MetricsConfig,
    as_of: DateTime<Utc>,
    dir: &Path,
) -> Result<(HashMap<Target, SpoolFile>, MetricsTally), SyncError> {
    let mut spool = Spool::new(dir).map_err(|e| SyncError::io(dir, e))?;
    let mut tally = MetricsTally::default();
    let plan = PLAN.into_iter().filter(|(_, _, target)| {
        *target != Target::PersonMetrics || ctx.account_model == AccountModel::PersonAccount
    });
    for (by, kind, target) in plan {
        let mut after: Option<String> = None;
        loop {
            let page = store
                .order_aggregates(&ctx.shop, by, Some(kind), after.as_deref(), PAGE)
                .await?;
            for aggregate in &page {
                let m = metrics::compute(aggregate, &ctx.org_currency, as_of, config);
                let row = match target {
                    Target::CompanyMetrics => {
                        tally.companies += 1;
                        metrics::company_row(&aggregate.key, &m)
                    }
                    _ => {
                        tally.customers += 1;
                        metrics::customer_row(target, &aggregate.key, &m)
                    }
                };
                tally.currency_withheld += u64::from(m.currency_withheld);
                spool.push(&row).map_err(|e| {
                    SyncError::Spool(format!("writing the {} spool: {e}", target.name()))
                })?;
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = Some(last.key.clone()),
                _ => break,
            }
        }
    }
    if tally.currency_withheld > 0 {
        tracing::warn!(
            records = tally.currency_withheld,
            org_currency = %ctx.org_currency,
            "commerce metrics: amounts not in the org's currency were cleared, not written (total spend, AOV, CLV tier)"
        );
    }
    let spools = spool
        .finish()
        .map_err(|e| SyncError::Spool(e.to_string()))?;
    Ok((spools, tally))
}
