//! Commerce metrics: what a sales rep sees of a customer's (or a B2B company's) buying, from
//! the order totals the state store computes over its order cache.
//!
//! Pure functions: an [`OrderAggregate`](crate::store::OrderAggregate), the time "now" is taken to be and the thresholds
//! in, [`Metrics`](crate::metrics::Metrics) (and the Salesforce row that carries them) out. Nothing here reads a
//! clock or a database, so every result can be reproduced.
//!
//! # Definitions
//!
//! * **Counted order**: not cancelled, not a test order, and financially `PAID`,
//!   `PARTIALLY_PAID` or `PARTIALLY_REFUNDED` ([`CachedOrder::counts_in_metrics`](crate::store::CachedOrder::counts_in_metrics)). A fully
//!   `REFUNDED` order, and pending, authorized, expired or voided ones, do not count.
//! * **Total spend**: the sum over counted orders of their total less what was refunded
//!   (never below zero per order), in the shop's currency (`shopMoney`).
//! * **Order count**: the number of counted orders.
//! * **Average order value (AOV)**: total spend ÷ order count, rounded half away from zero
//!   to the currency's minor unit; blank with no counted order.
//! * **First / last order date**: the UTC dates of the earliest and latest counted order's
//!   `processedAt`.
//! * **Purchase frequency** (orders per 30 days): the customer's repeat rate while active,
//!   `(order count − 1) × 30 ÷ days from first to last order` (the span is at least one day;
//!   capped at 999 999.99, the field's limit). Blank for fewer than two orders: one order has
//!   no rate. It does not depend on today's date, so it changes only when orders do.
//! * **Purchase interval**: days from first to last order ÷ (order count − 1).
//! * **Churn risk**: from the days since the last order (`as_of` date − last order date).
//!   It is `high` from `max(churn_high_days, churn_high_intervals × interval)` days,
//!   `medium` from `max(churn_medium_days, churn_medium_intervals × interval)` days, `low`
//!   before (fractional thresholds round up to whole days). A customer with one order has
//!   no interval: the day thresholds alone apply. So a customer who buys every 200 days is
//!   not at risk after 90, and nobody is flagged sooner than the day thresholds.
//! * **CLV tier**: `high` from a total spend of `clv_high_spend`, `medium` from
//!   `clv_medium_spend`, else `low`; thresholds are amounts in the Salesforce org's
//!   currency.
//!
//! # Currency
//!
//! Amounts are the shop's money. They are written to the Salesforce currency fields only
//! when they are in the org's currency (`salesforce.currency`); otherwise (a shop selling in
//! another currency, or a customer whose orders span two currencies because the shop
//! changed currency) total spend, AOV and CLV tier are cleared, not written in the wrong
//! currency, and the run counts them ([`MetricsTally::currency_withheld`](crate::metrics::MetricsTally::currency_withheld)). Counts, dates,
//! frequency and churn risk do not depend on currency and are always written.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::mapping::row::{Cell, Row};
use crate::mapping::target::Target;
use crate::store::OrderAggregate;

/// The `[metrics]` section of `shopforce.toml`: thresholds of the churn-risk and CLV
/// buckets. Defaults are in [`MetricsConfig::default`].
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Days since the last order from which churn risk is at least `medium` (90).
    pub churn_medium_days: u32,
    /// Days since the last order from which churn risk is `high` (180).
    pub churn_high_days: u32,
    /// Purchase intervals since the last order from which churn risk is at least `medium`,
    /// for customers with two or more orders (2.0).
    pub churn_medium_intervals: f64,
    /// Purchase intervals since the last order from which churn risk is `high` (3.0).
    pub churn_high_intervals: f64,
    /// Total spend, in the org's currency, from which the CLV tier is at least `medium`
    /// (500).
    pub clv_medium_spend: f64,
    /// Total spend, in the org's currency, from which the CLV tier is `high` (2000).
    pub clv_high_spend: f64,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            churn_medium_days: 90,
            churn_high_days: 180,
            churn_medium_intervals: 2.0,
            churn_high_intervals: 3.0,
            clv_medium_spend: 500.0,
            clv_high_spend: 2000.0,
        }
    }
}

impl MetricsConfig {
    /// Checks the thresholds; the error names the key (`metrics.churn_high_days`) and says
    /// what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |key: &str, why: String| Err(format!("metrics.{key}: {why}"));
        if self.churn_medium_days == 0 {
            return bad("churn_medium_days", "must be at least 1".into());
        }
        if self.churn_high_days <= self.churn_medium_days {
            return bad(
                "churn_high_days",
                format!(
                    "{} must be greater than metrics.churn_medium_days ({})",
                    self.churn_high_days, self.churn_medium_days
                ),
            );
        }
        for (key, value) in [
            ("churn_medium_intervals", self.churn_medium_intervals),
            ("churn_high_intervals", self.churn_high_intervals),
        ] {
            if !value.is_finite() || value <= 0.0 {
                return bad(key, format!("{value} must be a number above 0"));
            }
        }
        if self.churn_high_intervals <= self.churn_medium_intervals {
            return bad(
                "churn_high_intervals",
                format!(
                    "{} must be greater than metrics.churn_medium_intervals ({})",
                    self.churn_high_intervals, self.churn_medium_intervals
                ),
            );
        }
        for (key, value) in [
            ("clv_medium_spend", self.clv_medium_spend),
            ("clv_high_spend", self.clv_high_spend),
        ] {
            if !value.is_finite() || !(0.0..=1e13).contains(&value) {
                return bad(
                    key,
                    format!("{value} must be an amount between 0 and 10000000000000"),
                );
            }
        }
        if self.clv_high_spend <= self.clv_medium_spend {
            return bad(
                "clv_high_spend",
                format!(
                    "{} must be greater than metrics.clv_medium_spend ({})",
                    self.clv_high_spend, self.clv_medium_spend
                ),
            );
        }
        Ok(())
    }
}

/// A churn-risk or CLV bucket: the values of the restricted picklists `Churn_Risk__c` and
/// `CLV_Tier__c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    /// The picklist value.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

/// An amount in minor units of a currency with `exponent` decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub minor: i64,
    pub exponent: u32,
}

impl Amount {
    /// The decimal text Salesforce reads (`12.34`, `1200`, `0.005`).
    pub fn to_decimal(self) -> String {
        format_minor(self.minor, self.exponent)
    }
}

/// One customer's or company's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub order_count: i64,
    /// `None` when the amounts are not in the org's currency (see the module docs).
    pub total_spend: Option<Amount>,
    /// `None` with no counted order, or when the amounts are not in the org's currency.
    pub average_order_value: Option<Amount>,
    pub first_order: Option<NaiveDate>,
    pub last_order: Option<NaiveDate>,
    /// Orders per 30 days (two decimals); `None` for fewer than two orders.
    pub orders_per_30_days: Option<f64>,
    /// Days from the first to the last order ÷ (orders − 1); `None` for fewer than two.
    pub purchase_interval_days: Option<f64>,
    /// Whole days from the last order's date to `as_of`'s (0 if the order is later).
    pub days_since_last_order: Option<i64>,
    pub churn_risk: Option<Level>,
    pub clv_tier: Option<Level>,
    /// The amounts were left out because of their currency.
    pub currency_withheld: bool,
}

/// What the metrics step of one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MetricsTally {
    /// Customers whose metrics row was built (before unchanged rows are skipped).
    pub customers: u64,
    /// Companies whose metrics row was built.
    pub companies: u64,
    /// Rows whose amounts were cleared, not written, because they are not in the org's
    /// currency.
    pub currency_withheld: u64,
}

/// The largest value `Purchase_Frequency__c` (precision 8, scale 2) holds.
const MAX_FREQUENCY: f64 = 999_999.99;

/// Computes the metrics of one aggregate. `as_of` is "now" (injected, so results are
/// reproducible); `org_currency` the Salesforce org's currency code.
pub fn compute(
    aggregate: &OrderAggregate,
    org_currency: &str,
    as_of: DateTime<Utc>,
    config: &MetricsConfig,
) -> Metrics {
    let count = aggregate.order_count.max(0);
    let counted = count > 0;
    let currency = aggregate.currency.as_deref().unwrap_or(org_currency);
    let in_org_currency = aggregate.currencies <= 1 && currency.eq_ignore_ascii_case(org_currency);
    let exponent = minor_unit_exponent(currency);
    let spend_minor = aggregate.spend_minor.max(0);
    let total_spend = in_org_currency.then_some(Amount {
        minor: spend_minor,
        exponent,
    });
    let average_order_value = total_spend.filter(|_| counted).map(|spend| Amount {
        minor: div_round(spend.minor, count),
        exponent,
    });
    let first = aggregate.first_order_at.filter(|_| counted);
    let last = aggregate.last_order_at.filter(|_| counted);
    let interval = match (first, last) {
        (Some(first), Some(last)) if count >= 2 => {
            let span_days = (last - first).num_seconds().max(0) as f64 / 86_400.0;
            Some(span_days / (count - 1) as f64)
        }
        _ => None,
    };
    let orders_per_30_days = match (first, last) {
        (Some(first), Some(last)) if count >= 2 => {
            let span_days = ((last - first).num_seconds() as f64 / 86_400.0).max(1.0);
            let rate = (count - 1) as f64 * 30.0 / span_days;
            Some(((rate * 100.0).round() / 100.0).min(MAX_FREQUENCY))
        }
        _ => None,
    };
    let days_since = last.map(|last| (as_of.date_naive() - last.date_naive()).num_days().max(0));
    let churn_risk = days_since.map(|days| churn_risk(days, interval, config));
    let clv_tier = total_spend
        .filter(|_| counted)
        .map(|spend| clv_tier(spend, config));
    Metrics {
        order_count: count,
        total_spend,
        average_order_value,
        first_order: first.map(|t| t.date_naive()),
        last_order: last.map(|t| t.date_naive()),
        orders_per_30_days,
        purchase_interval_days: interval,
        days_since_last_order: days_since,
        churn_risk,
        clv_tier,
        currency_withheld: !in_org_currency,
    }
}

/// The churn-risk bucket of a customer whose last order was `days_since` days ago and who
/// orders every `interval` days (`None`: fewer than two orders).
pub fn churn_risk(days_since: i64, interval: Option<f64>, config: &MetricsConfig) -> Level {
    let threshold = |days: u32, intervals: f64| -> i64 {
        let relative = interval.map_or(0.0, |i| (i * intervals).ceil());
        // Bounded: the interval is at most a few thousand days.
        (f64::from(days)).max(relative.min(1e12)) as i64
    };
    if days_since >= threshold(config.churn_high_days, config.churn_high_intervals) {
        Level::High
    } else if days_since >= threshold(config.churn_medium_days, config.churn_medium_intervals) {
        Level::Medium
    } else {
        Level::Low
    }
}

/// The CLV tier of a total spend in the org's currency.
pub fn clv_tier(spend: Amount, config: &MetricsConfig) -> Level {
    let to_minor = |major: f64| (major * 10f64.powi(spend.exponent as i32)).round() as i64;
    if spend.minor >= to_minor(config.clv_high_spend) {
        Level::High
    } else if spend.minor >= to_minor(config.clv_medium_spend) {
        Level::Medium
    } else {
        Level::Low
    }
}

fn div_round(numerator: i64, denominator: i64) -> i64 {
    if denominator <= 0 {
        return 0;
    }
    let (n, d) = (i128::from(numerator), i128::from(denominator));
    let q = if n >= 0 {
        (2 * n + d) / (2 * d)
    } else {
        -((-2 * n + d) / (2 * d))
    };
    q as i64
}

/// Decimals of a currency's minor unit (ISO 4217): 0 for JPY, KRW, …; 3 for KWD, BHD, …;
/// 2 otherwise.
pub fn minor_unit_exponent(currency: &str) -> u32 {
    const ZERO: [&str; 17] = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    let code = currency.to_ascii_uppercase();
    if ZERO.contains(&code.as_str()) {
        0
    } else if THREE.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

/// A decimal amount (`"12.34"`, `"-1"`, `"1200.0"`) in minor units with `exponent`
/// decimals, rounded half away from zero; `None` when it is not a decimal number or does
/// not fit.
pub fn parse_minor(amount: &str, exponent: u32) -> Option<i64> {
    let text = amount.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = 10i128.checked_pow(exponent)?;
    let mut minor = if whole.is_empty() {
        0
    } else {
        whole.parse::<i128>().ok()?.checked_mul(scale)?
    };
    let kept: String = fraction.chars().take(exponent as usize).collect();
    if !kept.is_empty() {
        let padded = format!("{kept:0<width$}", width = exponent as usize);
        minor += padded.parse::<i128>().ok()?;
    }
    if fraction
        .as_bytes()
        .get(exponent as usize)
        .is_some_and(|b| *b >= b'5')
    {
        minor += 1;
    }
    let minor = if negative { -minor } else { minor };
    i64::try_from(minor).ok()
}

/// Minor units as decimal text with `exponent` decimals (`1234, 2` → `12.34`).
pub fn format_minor(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10u64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
}

fn money_cell(amount: Option<Amount>) -> Cell {
    Cell::clear_if_none(amount.map(Amount::to_decimal))
}

fn date_cell(date: Option<NaiveDate>) -> Cell {
    Cell::clear_if_none(date.map(|d| d.format("%Y-%m-%d").to_string()))
}

fn level_cell(level: Option<Level>) -> Cell {
    Cell::clear_if_none(level.map(Level::as_str))
}

/// The metrics row of a customer: `target` is [`Target::ContactMetrics`] (a Contact) or
/// [`Target::PersonMetrics`] (a Person Account's `__pc` fields); `customer_id` the Shopify
/// customer id (legacy). A value that is not known is cleared (`#N/A`): the integration
/// owns these fields.
pub fn customer_row(target: Target, customer_id: &str, metrics: &Metrics) -> Row {
    debug_assert!(matches!(
        target,
        Target::ContactMetrics | Target::PersonMetrics
    ));
    Row::new(
        target,
        vec![
            Cell::Text(customer_id.to_string()),
            money_cell(metrics.total_spend),
            Cell::Text(metrics.order_count.to_string()),
            money_cell(metrics.average_order_value),
            date_cell(metrics.first_order),
            date_cell(metrics.last_order),
            Cell::clear_if_none(metrics.orders_per_30_days.map(|f| format!("{f:.2}"))),
            level_cell(metrics.churn_risk),
            level_cell(metrics.clv_tier),
        ],
    )
}

/// The metrics row of a B2B company's Account (`Account.Shopify_Company_ID__c`): total
/// spend, order count and last order date, the Account fields `sfdx/` deploys.
pub fn company_row(company_id: &str, metrics: &Metrics) -> Row {
    Row::new(
        Target::CompanyMetrics,
        vec![
            Cell::Text(company_id.to_string()),
            money_cell(metrics.total_spend),
            Cell::Text(metrics.order_count.to_string()),
            date_cell(metrics.last_order),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn aggregate(
        count: i64,
        spend: i64,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
    ) -> OrderAggregate {
        OrderAggregate {
            key: "1".into(),
            order_count: count,
            spend_minor: spend,
            currency: Some("USD".into()),
            currencies: 1,
            first_order_at: Some(first),
            last_order_at: Some(last),
        }
    }

    #[test]
    fn money_text_round_trips_through_minor_units() {
        assert_eq!(parse_minor("12.34", 2), Some(1234));
        assert_eq!(parse_minor("12.3", 2), Some(1230));
        assert_eq!(parse_minor("12", 2), Some(1200));
        assert_eq!(parse_minor("1200.0", 0), Some(1200));
        assert_eq!(
            parse_minor("0.005", 2),
            Some(1),
            "half rounds away from zero"
        );
        assert_eq!(parse_minor("-0.004", 2), Some(0));
        assert_eq!(parse_minor("1.234", 3), Some(1234));
        assert_eq!(parse_minor(".5", 2), Some(50));
        assert_eq!(parse_minor("", 2), None);
        assert_eq!(parse_minor("1e3", 2), None);
        assert_eq!(parse_minor("99999999999999999999", 2), None);
        assert_eq!(format_minor(1234, 2), "12.34");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(1200, 0), "1200");
        assert_eq!(format_minor(1234, 3), "1.234");
        assert_eq!(minor_unit_exponent("jpy"), 0);
        assert_eq!(minor_unit_exponent("KWD"), 3);
        assert_eq!(minor_unit_exponent("EUR"), 2);
    }

    #[test]
    fn spend_aov_dates_and_frequency() {
        // Three orders over 60 days: two repeats in 60 days = 1 order per 30 days.
        let m = compute(
            &aggregate(3, 10_000, at(2026, 1, 1), at(2026, 3, 2)),
            "USD",
            at(2026, 3, 12),
            &MetricsConfig::default(),
        );
        assert_eq!(m.order_count, 3);
        assert_eq!(m.total_spend.unwrap().to_decimal(), "100.00");
        assert_eq!(m.average_order_value.unwrap().to_decimal(), "33.33");
        assert_eq!(m.first_order, NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(m.last_order, NaiveDate::from_ymd_opt(2026, 3, 2));
        assert_eq!(m.orders_per_30_days, Some(1.0));
        assert_eq!(m.purchase_interval_days, Some(30.0));
        assert_eq!(m.days_since_last_order, Some(10));
        assert_eq!(m.churn_risk, Some(Level::Low));
        assert_eq!(m.clv_tier, Some(Level::Low));
        assert!(!m.currency_withheld);
        let row = customer_row(Target::ContactMetrics, "1", &m);
        let csv: Vec<&str> = row.cells.iter().map(Cell::as_csv).collect();
        assert_eq!(
            csv,
            [
                "1",
                "100.00",
                "3",
                "33.33",
                "2026-01-01",
                "2026-03-02",
                "1.00",
                "low",
                "low"
            ]
        );
    }

    #[test]
    fn one_order_has_no_frequency_and_uses_the_day_thresholds() {
        let config = MetricsConfig::default();
        let first = at(2026, 1, 1);
        let m = |as_of| compute(&aggregate(1, 2_500, first, first), "USD", as_of, &config);
        let none = m(at(2026, 1, 1));
        assert_eq!(none.orders_per_30_days, None);
        assert_eq!(none.purchase_interval_days, None);
        assert_eq!(none.average_order_value.unwrap().minor, 2_500);
        // Edges: 89 days low, 90 medium, 179 medium, 180 high.
        let day = |n| first + chrono::Duration::days(n);
        assert_eq!(m(day(89)).churn_risk, Some(Level::Low));
        assert_eq!(m(day(90)).churn_risk, Some(Level::Medium));
        assert_eq!(m(day(179)).churn_risk, Some(Level::Medium));
        assert_eq!(m(day(180)).churn_risk, Some(Level::High));
    }

    #[test]
    fn churn_is_relative_to_the_customers_own_interval() {
        let config = MetricsConfig::default();
        // Every 100 days: medium from 200 days (2 intervals), high from 300 (3 intervals).
        assert_eq!(churn_risk(199, Some(100.0), &config), Level::Low);
        assert_eq!(churn_risk(200, Some(100.0), &config), Level::Medium);
        assert_eq!(churn_risk(299, Some(100.0), &config), Level::Medium);
        assert_eq!(churn_risk(300, Some(100.0), &config), Level::High);
        // Every 10 days: the day thresholds are floors.
        assert_eq!(churn_risk(89, Some(10.0), &config), Level::Low);
        assert_eq!(churn_risk(90, Some(10.0), &config), Level::Medium);
        // Fractional thresholds round up: 2 × 45.2 = 90.4 → 91 days.
        assert_eq!(churn_risk(90, Some(45.2), &config), Level::Low);
        assert_eq!(churn_risk(91, Some(45.2), &config), Level::Medium);
    }

    #[test]
    fn clv_tiers_at_their_edges() {
        let config = MetricsConfig::default();
        let tier = |minor| clv_tier(Amount { minor, exponent: 2 }, &config);
        assert_eq!(tier(49_999), Level::Low);
        assert_eq!(tier(50_000), Level::Medium);
        assert_eq!(tier(199_999), Level::Medium);
        assert_eq!(tier(200_000), Level::High);
        // JPY: thresholds are whole yen.
        let yen = |minor| clv_tier(Amount { minor, exponent: 0 }, &config);
        assert_eq!(yen(499), Level::Low);
        assert_eq!(yen(500), Level::Medium);
    }

    #[test]
    fn amounts_in_another_currency_are_withheld_not_written() {
        let mut agg = aggregate(2, 5_000, at(2026, 1, 1), at(2026, 1, 31));
        agg.currency = Some("EUR".into());
        let m = compute(&agg, "USD", at(2026, 2, 1), &MetricsConfig::default());
        assert!(m.currency_withheld);
        assert_eq!(
            (m.total_spend, m.average_order_value, m.clv_tier),
            (None, None, None)
        );
        assert_eq!(m.order_count, 2);
        assert_eq!(m.churn_risk, Some(Level::Low));
        let row = customer_row(Target::ContactMetrics, "1", &m);
        assert_eq!(row.cells[1], Cell::Clear);
        assert_eq!(row.cells[3], Cell::Clear);
        assert_eq!(row.cells[8], Cell::Clear);
        // Two currencies (the shop changed currency): mixed sums are not money either.
        let mut mixed = aggregate(2, 5_000, at(2026, 1, 1), at(2026, 1, 31));
        mixed.currencies = 2;
        assert!(
            compute(&mixed, "USD", at(2026, 2, 1), &MetricsConfig::default()).currency_withheld
        );
    }

    #[test]
    fn no_counted_order_resets_the_metrics() {
        let agg = OrderAggregate {
            key: "7".into(),
            order_count: 0,
            spend_minor: 0,
            currency: None,
            currencies: 0,
            first_order_at: None,
            last_order_at: None,
        };
        let m = compute(&agg, "USD", at(2026, 2, 1), &MetricsConfig::default());
        let row = customer_row(Target::ContactMetrics, "7", &m);
        let csv: Vec<&str> = row.cells.iter().map(Cell::as_csv).collect();
        assert_eq!(
            csv,
            [
                "7", "0.00", "0", "#N/A", "#N/A", "#N/A", "#N/A", "#N/A", "#N/A"
            ]
        );
        let company = company_row("9", &m);
        let csv: Vec<&str> = company.cells.iter().map(Cell::as_csv).collect();
        assert_eq!(csv, ["9", "0.00", "0", "#N/A"]);
    }

    #[test]
    fn config_mistakes_name_the_key() {
        let ok = MetricsConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        let cases: [(MetricsConfig, &str); 5] = [
            (
                MetricsConfig {
                    churn_medium_days: 0,
                    ..ok.clone()
                },
                "metrics.churn_medium_days",
            ),
            (
                MetricsConfig {
                    churn_high_days: 90,
                    ..ok.clone()
                },
                "metrics.churn_high_days",
            ),
            (
                MetricsConfig {
                    churn_medium_intervals: f64::NAN,
                    ..ok.clone()
                },
                "metrics.churn_medium_intervals",
            ),
            (
                MetricsConfig {
                    churn_high_intervals: 1.0,
                    ..ok.clone()
                },
                "metrics.churn_high_intervals",
            ),
            (
                MetricsConfig {
                    clv_high_spend: 100.0,
                    ..ok.clone()
                },
                "metrics.clv_high_spend",
            ),
        ];
        for (config, key) in cases {
            let e = config.validate().unwrap_err();
            assert!(e.starts_with(key), "{e}");
        }
    }

    fn arb_aggregate() -> impl Strategy<Value = (OrderAggregate, i64)> {
        (
            0i64..500,
            0i64..1_000_000_000,
            0i64..3_000,
            0i64..3_000,
            0i64..2_000,
        )
            .prop_map(|(count, spend, first_day, span, since)| {
                let first = at(2020, 1, 1) + chrono::Duration::days(first_day);
                let last = first + chrono::Duration::days(span);
                let mut agg = aggregate(count, if count == 0 { 0 } else { spend }, first, last);
                if count == 0 {
                    agg.first_order_at = None;
                    agg.last_order_at = None;
                    agg.currency = None;
                    agg.currencies = 0;
                }
                (agg, since)
            })
    }

    proptest! {
        #[test]
        fn spend_is_never_negative_and_aov_times_count_is_spend(
            (agg, since) in arb_aggregate()
        ) {
            let as_of = agg.last_order_at.unwrap_or(at(2026, 1, 1)) + chrono::Duration::days(since);
            let m = compute(&agg, "USD", as_of, &MetricsConfig::default());
            let spend = m.total_spend.unwrap();
            prop_assert!(spend.minor >= 0);
            if m.order_count > 0 {
                let aov = m.average_order_value.unwrap();
                prop_assert!(aov.minor >= 0);
                // Rounded to the cent: off by at most half a cent per order.
                let diff = (aov.minor * m.order_count - spend.minor).abs();
                prop_assert!(diff * 2 <= m.order_count, "aov {} × {} vs {}", aov.minor, m.order_count, spend.minor);
            } else {
                prop_assert_eq!(m.average_order_value, None);
                prop_assert_eq!(m.churn_risk, None);
            }
            if let Some(f) = m.orders_per_30_days {
                prop_assert!((0.0..=MAX_FREQUENCY).contains(&f));
            }
            prop_assert!(m.first_order <= m.last_order);
        }

        #[test]
        fn churn_risk_never_falls_as_time_passes(
            days in 0i64..5_000, later in 0i64..5_000, interval in proptest::option::of(0.0f64..2_000.0)
        ) {
            let config = MetricsConfig::default();
            prop_assert!(churn_risk(days, interval, &config) <= churn_risk(days + later, interval, &config));
        }

        #[test]
        fn clv_tier_never_falls_as_spend_grows(a in 0i64..10_000_000, b in 0i64..10_000_000) {
            let config = MetricsConfig::default();
            let tier = |minor| clv_tier(Amount { minor, exponent: 2 }, &config);
            prop_assert!(tier(a.min(b)) <= tier(a.max(b)));
        }

        #[test]
        fn parse_and_format_are_inverse(minor in -1_000_000_000_000i64..1_000_000_000_000, exponent in 0u32..4) {
            prop_assert_eq!(parse_minor(&format_minor(minor, exponent), exponent), Some(minor));
        }
    }
}
