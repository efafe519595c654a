//! Values the state store reads and writes.
//!
//! Timestamps are `DateTime<Utc>` and are stored with microsecond precision on both backends
//! (finer digits are truncated), so a value read back equals the truncated value written.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// Defines a string-backed enum with `as_str`, `Display` and `FromStr` (the stored text).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(concat!("unknown ", stringify!($name), " `{}`"), other)),
                }
            }
        }
    };
}

/// Identifies an engine run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

/// Identifies a bulk job row in the store (not the Salesforce job id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey(pub i64);

/// Identifies a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeadLetterId(pub i64);

/// Identifies an identity-review item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReviewId(pub i64);

macro_rules! display_id {
    ($($t:ty),+) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    )+};
}
display_id!(RunId, JobKey, DeadLetterId, ReviewId);

text_enum! {
    /// Where a run stands.
    pub enum RunStatus {
        /// Started and not finished (or its process died; see [`RunStatus::Interrupted`]).
        Running = "running",
        /// Finished; everything it planned was attempted and its results stored.
        Succeeded = "succeeded",
        /// Finished with an error that stopped it.
        Failed = "failed",
        /// Stopped early: by a shutdown signal, or found still running when a new run of the
        /// same shop and kind started (its process died).
        Interrupted = "interrupted",
    }
}

/// One engine run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run.
    pub id: RunId,
    /// The shop it synced (`example.myshopify.com`).
    pub shop: String,
    /// What kind of run (`backfill`, `incremental`, `webhooks`, `dlq_replay`, …).
    pub kind: String,
    /// Where it stands.
    pub status: RunStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished (or was found interrupted); `None` while running.
    pub finished_at: Option<DateTime<Utc>>,
    /// The summary given to `finish_run`; `None` until then.
    pub summary: Option<serde_json::Value>,
}

text_enum! {
    /// The life of a Bulk API 2.0 ingest job as the engine tracks it. The order of the
    /// variants is the order a job moves through them; the last three are final.
    pub enum JobPhase {
        /// Recorded, nothing sent to Salesforce yet (its CSV may already be on disk).
        Planned = "planned",
        /// The Salesforce job exists (its id is stored); data not fully uploaded.
        Created = "created",
        /// All data uploaded and `UploadComplete` sent; Salesforce is processing it.
        Uploaded = "uploaded",
        /// Salesforce finished the job (`JobComplete` or `Failed`); results not yet stored.
        Completed = "completed",
        /// Per-record results are stored (mappings, hashes, dead letters). Final.
        ResultsStored = "results_stored",
        /// The engine aborted the job. Final.
        Aborted = "aborted",
        /// The job could not be completed and will not be resumed. Final.
        Failed = "failed",
    }
}

impl JobPhase {
    /// Whether the job will not move again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobPhase::ResultsStored | JobPhase::Aborted | JobPhase::Failed
        )
    }
}

/// A bulk job about to be created, recorded before any data is uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The run that plans it.
    pub run: RunId,
    /// The Salesforce object (`Contact`, `Account`, `Order`, …).
    pub object: String,
    /// The Bulk API operation (`upsert`, `insert`, `update`, `delete`).
    pub operation: String,
    /// The external ID field for `upsert` jobs.
    pub external_id_field: Option<String>,
    /// Which part of the run's data for this object and operation (0-based).
    pub part: i32,
    /// Which attempt at this part (1 for the first).
    pub attempt: i32,
    /// How many rows the job's CSV holds.
    pub row_count: i64,
    /// Where the job's CSV is kept until its results are stored, if it is kept on disk.
    pub payload_path: Option<String>,
}

/// A bulk job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The job's row.
    pub key: JobKey,
    /// The run that planned it.
    pub run: RunId,
    /// The Salesforce object.
    pub object: String,
    /// The Bulk API operation.
    pub operation: String,
    /// The external ID field for `upsert` jobs.
    pub external_id_field: Option<String>,
    /// Which part.
    pub part: i32,
    /// Which attempt.
    pub attempt: i32,
    /// Rows in the job's CSV.
    pub row_count: i64,
    /// Where the CSV is kept, if on disk.
    pub payload_path: Option<String>,
    /// The Salesforce job id, once the job exists.
    pub sf_job_id: Option<String>,
    /// Where the job stands.
    pub phase: JobPhase,
    /// Records Salesforce processed (from the job info).
    pub processed: i64,
    /// Records Salesforce rejected (from the job info).
    pub failed: i64,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A Shopify record's Salesforce counterpart, to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The shop (`example.myshopify.com`).
    pub shop: String,
    /// The Shopify record kind: `customer`, `order`, `line_item`, `variant`, `company`,
    /// `location`, …
    pub kind: String,
    /// The Shopify id (numeric id or GID, as the engine uses it).
    pub shopify_id: String,
    /// The Salesforce object the record became (`Contact`, `Account`, `Order`, …).
    pub sf_object: String,
    /// The Salesforce record Id.
    pub sf_id: String,
    /// Digest of the payload Salesforce last accepted for the record (delta detection);
    /// `None` when no payload is known to be in Salesforce, so the next sync sends it.
    pub payload_hash: Option<i64>,
}

/// One record of a batch of mappings sharing shop, kind and Salesforce object
/// ([`StateStore::put_mapped`](super::StateStore::put_mapped)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedRecord<'a> {
    /// The Shopify id.
    pub shopify_id: &'a str,
    /// The Salesforce record Id.
    pub sf_id: &'a str,
    /// Digest of the payload Salesforce accepted, if known.
    pub payload_hash: Option<i64>,
}

/// A mapping as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRecord {
    /// The shop.
    pub shop: String,
    /// The Shopify record kind.
    pub kind: String,
    /// The Shopify id.
    pub shopify_id: String,
    /// The Salesforce object.
    pub sf_object: String,
    /// The Salesforce record Id.
    pub sf_id: String,
    /// Digest of the payload Salesforce last accepted, if known.
    pub payload_hash: Option<i64>,
    /// When the mapping was last written.
    pub updated_at: DateTime<Utc>,
}

/// An order kept locally for commerce metrics (lifetime value, order count, first/last order).
///
/// Amounts are integers in the currency's minor unit (cents for USD/EUR, yen for JPY, fils
/// for KWD): sums stay exact in SQL. Convert Shopify's decimal `shopMoney.amount` with the
/// currency's exponent before storing, and divide again when writing Salesforce currency
/// fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedOrder {
    /// The shop.
    pub shop: String,
    /// The Shopify order id.
    pub order_id: String,
    /// The Shopify customer id; `None` for guest checkouts.
    pub customer_id: Option<String>,
    /// The order's email.
    pub email: Option<String>,
    /// The order's phone.
    pub phone: Option<String>,
    /// When the order was processed.
    pub processed_at: DateTime<Utc>,
    /// The order total in minor units of `currency` (shop money).
    pub total_minor: i64,
    /// ISO 4217 currency code of `total_minor`.
    pub currency: String,
    /// Whether the order was cancelled (cancelled orders do not count in the aggregates).
    pub cancelled: bool,
    /// Shopify's financial status (`PAID`, `REFUNDED`, …), if known.
    pub financial_status: Option<String>,
    /// The amount refunded so far (`totalRefundedSet.shopMoney`), in minor units of
    /// `currency`; 0 when nothing was refunded.
    pub refunded_minor: i64,
    /// The B2B company the order was placed for (`purchasingEntity.company`, legacy id);
    /// `None` for B2C orders.
    pub company_id: Option<String>,
    /// A test order (Shopify's bogus gateway): never counted in the metrics.
    pub test: bool,
}

impl CachedOrder {
    /// Financial statuses whose orders count in the metrics: money was taken and not all of
    /// it given back. `REFUNDED` (all of it given back), `PENDING`, `AUTHORIZED`, `EXPIRED`,
    /// `VOIDED` and an unknown status do not count.
    pub const COUNTED_FINANCIAL_STATUSES: [&'static str; 3] =
        ["PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED"];

    /// Whether the order counts in the commerce metrics: not cancelled, not a test order, and
    /// in one of [`COUNTED_FINANCIAL_STATUSES`](Self::COUNTED_FINANCIAL_STATUSES). The store
    /// applies the same rule in SQL ([`StateStore::order_aggregates`]).
    ///
    /// [`StateStore::order_aggregates`]: super::StateStore::order_aggregates
    pub fn counts_in_metrics(&self) -> bool {
        !self.cancelled
            && !self.test
            && self
                .financial_status
                .as_deref()
                .is_some_and(|s| Self::COUNTED_FINANCIAL_STATUSES.contains(&s))
    }

    /// What the order adds to spend: its total less refunds, never below zero.
    pub fn net_minor(&self) -> i64 {
        (self.total_minor - self.refunded_minor).max(0)
    }
}

/// Whose orders an [`OrderAggregate`] sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateBy {
    /// The Shopify customer who placed the order (guest checkouts have none and are not
    /// aggregated). A B2B contact's aggregate includes the orders they placed for their
    /// company.
    Customer,
    /// The B2B company: the order's purchasing company, else (an order a company contact
    /// placed for themselves) the company the contact belongs to (`company_contacts`), which
    /// is the Account such an order is written under.
    Company,
}

/// One customer's or company's order totals, computed in SQL over the order cache.
///
/// Only orders that count ([`CachedOrder::counts_in_metrics`]) enter the sums; a key whose
/// cached orders all stopped counting (cancelled, refunded in full) still appears, with a
/// count of 0, so its metrics can be reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAggregate {
    /// The customer or company id (legacy id).
    pub key: String,
    /// Orders that count.
    pub order_count: i64,
    /// Their totals less refunds ([`CachedOrder::net_minor`]), in minor units of `currency`.
    pub spend_minor: i64,
    /// The currency of `spend_minor` (the smallest code when there are several).
    pub currency: Option<String>,
    /// How many currencies the counted orders are in (normally 1: shop money is in the shop's
    /// currency); above 1, `spend_minor` mixes currencies and must not be written as money.
    pub currencies: i64,
    /// The earliest `processed_at` of a counted order.
    pub first_order_at: Option<DateTime<Utc>>,
    /// The latest `processed_at` of a counted order.
    pub last_order_at: Option<DateTime<Utc>>,
}

/// One customer's order aggregates in one currency, computed in SQL over the order cache.
/// Cancelled orders are excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerOrderStats {
    /// The Shopify customer id.
    pub customer_id: String,
    /// The currency of `total_spent_minor`.
    pub currency: String,
    /// Number of orders that are not cancelled.
    pub order_count: i64,
    /// Their total, in minor units.
    pub total_spent_minor: i64,
    /// The earliest `processed_at`.
    pub first_order_at: DateTime<Utc>,
    /// The latest `processed_at`.
    pub last_order_at: DateTime<Utc>,
}

text_enum! {
    /// Where a dead letter stands.
    pub enum DeadLetterStatus {
        /// Waiting for an operator (or an automatic replay).
        Open = "open",
        /// Handed back to the pipeline.
        Retried = "retried",
        /// Given up on by an operator.
        Dropped = "dropped",
    }
}

/// A record Salesforce rejected permanently, to put in the dead-letter queue.
///
/// There is at most one *open* dead letter per (`object`, `external_id`): writing another for
/// the same record refreshes the open one (payload, error, run) and increments its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeadLetter {
    /// The run that sent the record, if any.
    pub run: Option<RunId>,
    /// The shop.
    pub shop: String,
    /// The Salesforce object.
    pub object: String,
    /// The record's external ID value.
    pub external_id: String,
    /// The record as sent (field → value).
    pub payload: serde_json::Value,
    /// Salesforce's error code (`INVALID_EMAIL_ADDRESS`, …) or an engine code.
    pub error_code: String,
    /// Salesforce's message.
    pub message: String,
    /// What an operator can do about it, if known.
    pub hint: Option<String>,
}

/// A dead letter as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The letter.
    pub id: DeadLetterId,
    /// The run that last sent the record, if any.
    pub run: Option<RunId>,
    /// The shop.
    pub shop: String,
    /// The Salesforce object.
    pub object: String,
    /// The record's external ID value.
    pub external_id: String,
    /// The record as last sent.
    pub payload: serde_json::Value,
    /// The last error code.
    pub error_code: String,
    /// The last error message.
    pub message: String,
    /// What an operator can do about it.
    pub hint: Option<String>,
    /// Where it stands.
    pub status: DeadLetterStatus,
    /// How many times the record failed (1 when first dead-lettered).
    pub attempts: i32,
    /// When it was first dead-lettered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Which dead letters to list. The default lists open and closed letters of every object,
/// oldest first, at most 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only letters in this status.
    pub status: Option<DeadLetterStatus>,
    /// Only letters for this Salesforce object.
    pub object: Option<String>,
    /// Only letters for this shop.
    pub shop: Option<String>,
    /// Only letters with an id greater than this (for paging).
    pub after: Option<DeadLetterId>,
    /// At most this many.
    pub limit: u32,
}

impl Default for DeadLetterFilter {
    fn default() -> Self {
        DeadLetterFilter {
            status: None,
            object: None,
            shop: None,
            after: None,
            limit: 100,
        }
    }
}

text_enum! {
    /// Where an identity review stands.
    pub enum ReviewStatus {
        /// Waiting for a human.
        Open = "open",
        /// Decided.
        Resolved = "resolved",
    }
}

/// An ambiguous identity match for a human to decide.
///
/// There is at most one *open* review per (`shop`, `shopify_kind`, `shopify_id`): adding
/// another refreshes the open one (reason, candidates) and returns its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    /// The shop.
    pub shop: String,
    /// The Shopify record kind (`customer`, `company`, …).
    pub shopify_kind: String,
    /// The Shopify id.
    pub shopify_id: String,
    /// The Salesforce object the candidates are records of (`Contact`, `Account`, …).
    pub sf_object: String,
    /// Why it is ambiguous (`email matches 2 contacts`, …).
    pub reason: String,
    /// The candidate Salesforce record Ids.
    pub candidates: Vec<String>,
}

/// A review as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The review.
    pub id: ReviewId,
    /// The shop.
    pub shop: String,
    /// The Shopify record kind.
    pub shopify_kind: String,
    /// The Shopify id.
    pub shopify_id: String,
    /// The Salesforce object of the candidates.
    pub sf_object: String,
    /// Why it is ambiguous.
    pub reason: String,
    /// The candidate Salesforce record Ids.
    pub candidates: Vec<String>,
    /// Where it stands.
    pub status: ReviewStatus,
    /// The decision: the chosen Salesforce Id, or a word such as `create_new`.
    pub resolution: Option<String>,
    /// When it was first raised.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_enums_round_trip() {
        for p in JobPhase::ALL {
            assert_eq!(p.as_str().parse::<JobPhase>().unwrap(), *p);
        }
        for s in RunStatus::ALL {
            assert_eq!(s.to_string().parse::<RunStatus>().unwrap(), *s);
        }
        for s in DeadLetterStatus::ALL {
            assert_eq!(s.as_str().parse::<DeadLetterStatus>().unwrap(), *s);
        }
        for s in ReviewStatus::ALL {
            assert_eq!(s.as_str().parse::<ReviewStatus>().unwrap(), *s);
        }
        assert_eq!(
            "nope".parse::<JobPhase>().unwrap_err(),
            "unknown JobPhase `nope`"
        );
    }

    #[test]
    fn final_phases() {
        let finals: Vec<_> = JobPhase::ALL.iter().filter(|p| p.is_final()).collect();
        assert_eq!(
            finals,
            [
                &JobPhase::ResultsStored,
                &JobPhase::Aborted,
                &JobPhase::Failed
            ]
        );
    }
}

/// Values one run withheld from one field (field ownership).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithheldCount {
    pub object: String,
    pub field: String,
    /// `crm` (the field is CRM-owned) or `on_create` (the record already existed).
    pub reason: String,
    pub count: i64,
}

/// A field's withheld values over all runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WithheldTotal {
    pub object: String,
    pub field: String,
    pub reason: String,
    pub total: i64,
    pub last_run: i64,
    pub last_run_count: i64,
}

/// A Shopify customer linked to a Contact identity resolution found (not created by the
/// engine): its Contact is written by Id and its orders go to that Contact's Account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentityLink {
    pub shop: String,
    pub customer_id: String,
    pub contact_id: String,
    pub account_id: String,
    /// The tier that found it (`email`, `phone`, `probabilistic`, `review`, `oldest`).
    pub tier: String,
    /// The Contact carries this customer's id in `Shopify_Customer_ID__c`.
    pub primary: bool,
}

/// A consent state at a time (epoch milliseconds; `None`: undated).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsentMark {
    /// A Shopify email marketing state (`SUBSCRIBED`, `UNSUBSCRIBED`, …).
    pub state: String,
    pub at: Option<i64>,
}

/// What the state store knows of one customer's email consent.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConsentLog {
    /// Shopify's latest state, as the last export showed it.
    pub shopify: Option<ConsentMark>,
    /// The last CRM change pushed to Shopify.
    pub pushed: Option<ConsentMark>,
    /// A CRM change waiting to be pushed.
    pub pending: Option<ConsentMark>,
}

/// A change to a customer's consent log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentUpdate {
    /// Shopify's state as an export showed it.
    Shopify(Option<ConsentMark>),
    /// A CRM change to push.
    Pending(ConsentMark),
    /// The pending change reached Shopify.
    Pushed(ConsentMark),
}
