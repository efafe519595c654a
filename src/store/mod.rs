//! The engine's durable state: runs, bulk jobs, id mappings, cursors, B2B membership, the
//! order cache, the dead-letter queue, payload hashes and the identity review queue.
//!
//! # Backends
//!
//! [`Store::connect`] picks the backend from the URL:
//!
//! - **SQLite** (`sqlite:PATH`, `sqlite://PATH`, or a bare file path): the default for one
//!   engine process. The file (and its directory) is created on first use; it runs in WAL
//!   mode with `synchronous = NORMAL`, foreign keys on and a 30 s busy timeout.
//!   `sqlite::memory:` gives a throwaway in-memory database.
//! - **PostgreSQL** (`postgres://…` / `postgresql://…`): for deployments that keep state in
//!   a managed database.
//!
//! Both implement [`StateStore`] with the same SQL where it is portable (`$N` placeholders,
//! `ON CONFLICT … DO UPDATE`, `RETURNING`, partial indexes) and typed pools underneath, so
//! PostgreSQL keeps `TIMESTAMPTZ`, `JSONB` and `BOOLEAN` columns. The schema is embedded
//! from `migrations/sqlite/` and `migrations/postgres/` (same versions and names in both) and
//! applied on every connect; applying it again is a no-op. Queries are checked at run time
//! (`sqlx::query`, not `query!`), so building needs no database. A URL is only ever logged,
//! shown by `Debug`/`Display`, or put in an error with its password replaced by `***`.
//!
//! # Tables
//!
//! | table | what | written by |
//! |---|---|---|
//! | `runs` | one row per engine run: shop, kind, status, start/finish, JSON summary | [`StateStore::start_run`], [`StateStore::finish_run`] |
//! | `bulk_jobs` | every Bulk API 2.0 ingest job: object, operation, part, attempt, Salesforce job id, [`JobPhase`], counters | [`StateStore::record_job`] and the `set_job_*` methods |
//! | `id_mappings` | (shop, Shopify kind, Shopify id) → (Salesforce object, Salesforce Id, hash of the payload last accepted) | [`StateStore::put_mappings`] |
//! | `cursors` | incremental-sync position per (shop, resource) | [`StateStore::set_cursor`] |
//! | `company_contacts` | (shop, customer id) → company id of each B2B contact, as the last companies export said | [`StateStore::put_company_contacts`] |
//! | `order_cache` | orders kept for commerce metrics (amounts and refunds in minor units, B2B company, test flag) | [`StateStore::put_orders`], [`StateStore::order_aggregates`] |
//! | `withheld_writes` | per (object, field, reason): values field ownership kept from Salesforce, in total and in the last run | [`StateStore::add_withheld_writes`] |
//! | `crm_contacts` | the org's Contacts as identity resolution matches them (normalised), refreshed by `SystemModstamp` | [`StateStore::put_crm_contacts`] |
//! | `identity_links` | (shop, customer id) → the Contact identity resolution linked it to | [`StateStore::put_identity_links`] |
//! | `consent_log` | per (shop, customer): Shopify's latest email consent, the last CRM change pushed to Shopify, one waiting to be pushed | [`StateStore::update_consent_log`] |
//! | `dead_letters` | records Salesforce rejected permanently, with error, hint and status | [`StateStore::dead_letter`] |
//! | `reviews` | ambiguous identity matches waiting for a human | [`StateStore::add_review`] |
//!
//! # Crash safety
//!
//! The engine is at-least-once; upserts by external ID make replays harmless. The store is
//! what lets a restarted process pick up where the old one stopped:
//!
//! 1. A bulk job is **recorded before its data is uploaded** ([`JobPhase::Planned`]), and each
//!    step is written after Salesforce confirms it: the Salesforce job id as soon as the job
//!    exists, then `Uploaded` after `UploadComplete`, `Completed` when Salesforce finishes,
//!    `ResultsStored` once the per-record results are in the store. After a crash,
//!    [`StateStore::unfinished_jobs`] lists what to resume (poll, fetch results) or abort.
//!    Phases only move forward; final phases are final.
//! 2. **Cursors advance only after results are stored**: the engine calls
//!    [`StateStore::set_cursor`] once every job covering the data before the cursor is
//!    `ResultsStored`. A crash before that re-reads the same window from Shopify.
//! 3. A run still `running` when a new run of the same shop and kind starts belonged to a
//!    process that died; [`StateStore::start_run`] marks it interrupted
//!    ([`StateStore::interrupted_runs`]).
//!
//! Batched writes ([`StateStore::put_mappings`], [`StateStore::put_orders`],
//! [`StateStore::dead_letter`]) run in one transaction of
//! multi-row `INSERT … ON CONFLICT DO UPDATE` statements, chunked to the backend's bind
//! parameter limit (SQLite 32 766, PostgreSQL 65 535): a batch is stored entirely or not at
//! all. Within a batch, the last row for a key wins.
//!
//! Timestamps are stored with microsecond precision on both backends.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;

mod error;
mod imp;
mod migrate;
mod postgres;
mod sqlite;
mod target;
mod ts;
mod types;

pub use error::{Backend, StoreError};
pub use migrate::{POSTGRES as POSTGRES_MIGRATOR, SQLITE as SQLITE_MIGRATOR};
pub use postgres::PostgresStore;
pub use sqlite::{SqliteStore, keep_c_heap};
pub use types::{
    AggregateBy, CachedOrder, ConsentLog, ConsentMark, ConsentUpdate, CustomerOrderStats,
    DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus, IdentityLink, JobKey, JobPhase,
    JobRecord, MappedRecord, Mapping, MappingRecord, NewDeadLetter, NewJob, NewReview,
    OrderAggregate, Review, ReviewId, ReviewStatus, RunId, RunRecord, RunStatus, WithheldCount,
    WithheldTotal,
};

use target::Target;

/// The engine's persistent state. Implemented by [`SqliteStore`], [`PostgresStore`] and
/// [`Store`] (either of them, chosen by URL).
///
/// Every method returns a `Send` future, so calls can be spawned. Implementations are cheap
/// to clone (a connection pool) and safe to share between tasks.
pub trait StateStore: Send + Sync {
    // ---- runs ----

    /// Starts a run of `kind` for `shop`. Runs of the same shop and kind still `running`
    /// are marked [`RunStatus::Interrupted`] first (their process died).
    fn start_run(
        &self,
        shop: &str,
        kind: &str,
    ) -> impl Future<Output = Result<RunId, StoreError>> + Send;

    /// Finishes a run with its final status (not `Running`) and a JSON summary.
    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One run.
    fn get_run(
        &self,
        run: RunId,
    ) -> impl Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    /// The latest `limit` runs, newest first.
    fn recent_runs(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RunRecord>, StoreError>> + Send;

    /// Runs that were interrupted (found unfinished, or finished as interrupted), oldest
    /// first.
    fn interrupted_runs(&self) -> impl Future<Output = Result<Vec<RunRecord>, StoreError>> + Send;

    // ---- bulk jobs ----

    /// Records a bulk job in [`JobPhase::Planned`] before anything is sent to Salesforce.
    fn record_job(&self, job: &NewJob) -> impl Future<Output = Result<JobKey, StoreError>> + Send;

    /// Stores the Salesforce job id once the job exists (unique across jobs).
    fn set_job_salesforce_id(
        &self,
        key: JobKey,
        sf_job_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves a job to `phase`. Jobs only move forward; final phases cannot be left
    /// ([`StoreError::InvalidState`]); setting the current phase again is a no-op.
    fn set_job_state(
        &self,
        key: JobKey,
        phase: JobPhase,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores Salesforce's processed/failed record counts for a job.
    fn set_job_counts(
        &self,
        key: JobKey,
        processed: i64,
        failed: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One job.
    fn get_job(
        &self,
        key: JobKey,
    ) -> impl Future<Output = Result<Option<JobRecord>, StoreError>> + Send;

    /// Jobs not in a final phase (to resume or abort after a restart), oldest first.
    fn unfinished_jobs(&self) -> impl Future<Output = Result<Vec<JobRecord>, StoreError>> + Send;

    /// A run's jobs, oldest first.
    fn jobs_for_run(
        &self,
        run: RunId,
    ) -> impl Future<Output = Result<Vec<JobRecord>, StoreError>> + Send;

    // ---- id mappings ----

    /// Inserts or updates mappings in one transaction; returns how many distinct keys were
    /// written.
    fn put_mappings(
        &self,
        rows: &[Mapping],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// [`put_mappings`](Self::put_mappings) for a batch of one shop, kind and Salesforce
    /// object (a bulk job's successes): the shared values are sent once, not per row.
    fn put_mapped(
        &self,
        shop: &str,
        kind: &str,
        sf_object: &str,
        records: &[MappedRecord<'_>],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// One mapping.
    fn get_mapping(
        &self,
        shop: &str,
        kind: &str,
        shopify_id: &str,
    ) -> impl Future<Output = Result<Option<MappingRecord>, StoreError>> + Send;

    /// The mappings of `shopify_ids` that exist, keyed by Shopify id.
    fn get_mappings<S: AsRef<str> + Sync>(
        &self,
        shop: &str,
        kind: &str,
        shopify_ids: &[S],
    ) -> impl Future<Output = Result<HashMap<String, MappingRecord>, StoreError>> + Send;

    /// Whether a shop has any mapping of a kind (one index probe: a first run's prepare
    /// skips looking up records that cannot exist).
    fn has_mappings(
        &self,
        shop: &str,
        kind: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// How many mappings exist, optionally only for one shop and/or kind.
    fn count_mappings(
        &self,
        shop: Option<&str>,
        kind: Option<&str>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    // ---- cursors ----

    /// A resource's sync position for a shop.
    fn get_cursor(
        &self,
        shop: &str,
        resource: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Sets a sync position. Call only once the results of everything before it are stored.
    fn set_cursor(
        &self,
        shop: &str,
        resource: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- B2B membership ----

    /// Records which company each B2B contact belongs to (`(customer id, company id)`,
    /// legacy ids), as a companies export lists them; a later pair for a customer wins.
    fn put_company_contacts(
        &self,
        shop: &str,
        members: &[(String, String)],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every known B2B contact of a shop: customer id → company id.
    fn company_contacts(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<HashMap<String, String>, StoreError>> + Send;

    // ---- order cache ----

    /// Hashes of the Contact rows last built from the companies export's copy of a contact
    /// (customer id → hash), for contacts still in the company they were built for.
    fn company_contact_export_hashes(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<HashMap<String, i64>, StoreError>> + Send;

    /// Records those hashes (`(customer id, hash)`) once the run that sent the rows succeeded.
    fn set_company_contact_export_hashes(
        &self,
        shop: &str,
        hashes: &[(String, i64)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Inserts or updates cached orders in one transaction; returns how many distinct orders
    /// were new or changed (an order identical to its cached copy is not rewritten).
    fn put_orders(
        &self,
        orders: &[CachedOrder],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Before a first load of the order cache: when it holds no order at all (of any
    /// shop), drops its per-customer index, which [`Self::restore_order_index`] builds in
    /// one pass once the orders are in. Kept up order by order, that index is most of the
    /// cost of storing them. Returns whether it was dropped. Only reads of the cache per
    /// customer use the index (the commerce metrics, which restore it first); they find
    /// nothing to read before the load anyway.
    fn suspend_order_index(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Builds the order cache's per-customer index when it is missing (after
    /// [`Self::suspend_order_index`], or when the process stopped in between); returns
    /// whether it had to. When the index is there, the cost is one catalog read.
    fn restore_order_index(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A customer's cached orders (cancelled ones included), oldest first.
    fn orders_for_customer(
        &self,
        shop: &str,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<CachedOrder>, StoreError>> + Send;

    /// Per customer and currency: order count, total spent, first and last order, over the
    /// shop's orders that are not cancelled; computed in SQL, ordered by customer id.
    fn customer_order_stats(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<Vec<CustomerOrderStats>, StoreError>> + Send;

    /// The commerce-metrics totals of a shop's customers or companies (`by`), computed in SQL
    /// (one `GROUP BY`, nothing loaded per order): a page of at most `limit` keys greater
    /// than `after`, ordered by key. With `mapped_as`, only keys that have an id mapping of
    /// that kind (records the engine wrote to Salesforce: `customer` for Contacts, `company`
    /// for company Accounts). See [`OrderAggregate`] for what is summed.
    fn order_aggregates(
        &self,
        shop: &str,
        by: AggregateBy,
        mapped_as: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OrderAggregate>, StoreError>> + Send;

    // ---- dead-letter queue ----

    /// Dead-letters records in one transaction (refreshing a record's open letter and
    /// counting the attempt if it has one); returns how many distinct records were written.
    fn dead_letter(
        &self,
        letters: &[NewDeadLetter],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Dead letters matching `filter`, oldest first.
    fn list_dead_letters(
        &self,
        filter: &DeadLetterFilter,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send;

    /// How many dead letters are open.
    fn dead_letter_depth(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Sets the status of dead letters; returns how many exist among `ids`.
    fn mark_dead_letters(
        &self,
        ids: &[DeadLetterId],
        status: DeadLetterStatus,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Counts one more attempt for each of `ids`; returns how many exist.
    fn bump_attempts(
        &self,
        ids: &[DeadLetterId],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    // ---- payload hashes (delta detection) ----

    /// The payload hashes stored with the mappings of `shopify_ids` (those that have one).
    fn get_payload_hashes<S: AsRef<str> + Sync>(
        &self,
        shop: &str,
        kind: &str,
        shopify_ids: &[S],
    ) -> impl Future<Output = Result<HashMap<String, i64>, StoreError>> + Send;

    /// Which of `shopify_ids` have a mapping (the record exists in Salesforce), each with
    /// the payload hash it was last written with, if any.
    fn get_written_records<S: AsRef<str> + Sync>(
        &self,
        shop: &str,
        kind: &str,
        shopify_ids: &[S],
    ) -> impl Future<Output = Result<HashMap<String, Option<i64>>, StoreError>> + Send;

    /// Adds a run's withheld writes (field ownership) to the per-field totals.
    fn add_withheld_writes(
        &self,
        run: RunId,
        counts: &[WithheldCount],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every field a sync has withheld a value from, with totals, most withheld first.
    fn withheld_writes(
        &self,
    ) -> impl Future<Output = Result<Vec<WithheldTotal>, StoreError>> + Send;

    /// Adds or replaces Contacts of the identity index.
    fn put_crm_contacts(
        &self,
        contacts: &[crate::identity::CrmContact],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Removes Contacts (deleted or merged away in Salesforce) from the identity index.
    fn remove_crm_contacts(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Up to `limit` indexed Contacts with an Id above `after`, by Id.
    fn crm_contacts_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::identity::CrmContact>, StoreError>> + Send;

    /// One indexed Contact.
    fn crm_contact(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<crate::identity::CrmContact>, StoreError>> + Send;

    /// The decision of the latest resolved review of a record (a Contact Id, or
    /// `create_new`).
    fn review_decision(
        &self,
        shop: &str,
        kind: &str,
        shopify_id: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Applies consent-log updates of a shop, in order.
    fn update_consent_log(
        &self,
        shop: &str,
        updates: &[(String, ConsentUpdate)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The consent logs of `customers` that exist.
    fn consent_logs<S: AsRef<str> + Sync>(
        &self,
        shop: &str,
        customers: &[S],
    ) -> impl Future<Output = Result<HashMap<String, ConsentLog>, StoreError>> + Send;

    /// Customers of a shop with a CRM consent change waiting to be pushed.
    fn pending_consent(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<Vec<(String, ConsentLog)>, StoreError>> + Send;

    /// Records links (a later one for the same customer replaces it).
    fn put_identity_links(
        &self,
        links: &[IdentityLink],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// A shop's links, by customer id.
    fn identity_links(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<HashMap<String, IdentityLink>, StoreError>> + Send;

    /// Forgets the payload hashes of mappings (so the next sync sends those records again,
    /// whatever their content); returns how many had one.
    fn forget_payload_hashes<S: AsRef<str> + Sync>(
        &self,
        shop: &str,
        kind: &str,
        shopify_ids: &[S],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    // ---- identity review queue ----

    /// Queues an ambiguous match for review, or refreshes the record's open review; returns
    /// the review's id.
    fn add_review(
        &self,
        review: &NewReview,
    ) -> impl Future<Output = Result<ReviewId, StoreError>> + Send;

    /// One review.
    fn get_review(
        &self,
        id: ReviewId,
    ) -> impl Future<Output = Result<Option<Review>, StoreError>> + Send;

    /// Reviews in `status`, oldest first, at most `limit`.
    fn list_reviews(
        &self,
        status: ReviewStatus,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Review>, StoreError>> + Send;

    /// Resolves an open review with the decision (the chosen Salesforce Id, or a word such
    /// as `create_new`).
    fn resolve_review(
        &self,
        id: ReviewId,
        resolution: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The state store the URL selects.
#[derive(Debug, Clone)]
pub enum Store {
    /// A SQLite file (or in-memory database).
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

impl Store {
    /// Opens the store at `url` and applies the migrations.
    ///
    /// `postgres://…` / `postgresql://…` select PostgreSQL; `sqlite:PATH`, `sqlite://PATH` or
    /// a bare file path select a SQLite file (created with its directory if missing);
    /// `sqlite::memory:` an in-memory SQLite database.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let store = match target::classify(url)? {
            Target::Postgres => Store::Postgres(PostgresStore::connect(url).await?),
            Target::SqliteFile(path) => Store::Sqlite(SqliteStore::connect(url, Some(path)).await?),
            Target::SqliteMemory => Store::Sqlite(SqliteStore::connect(url, None).await?),
        };
        tracing::info!(message = "State store ready.", store = %store);
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection. Later calls fail.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}

impl fmt::Display for Store {
    /// `SQLite state store at sqlite:…` / `PostgreSQL state store at postgres://u:***@…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match self {
            Store::Sqlite(s) => s.url(),
            Store::Postgres(s) => s.url(),
        };
        write!(f, "{} state store at {url}", self.backend())
    }
}

/// Forwards each [`StateStore`] method of [`Store`] to the selected backend.
macro_rules! delegate {
    ($(
        fn $name:ident $(<$g:ident: $b0:ident<$b0arg:ty> $(+ $b:ident)*>)? (
            &self $(, $arg:ident: $ty:ty)*
        ) -> $ret:ty;
    )+) => {
        impl StateStore for Store {
            $(
                async fn $name $(<$g: $b0<$b0arg> $(+ $b)*>)? (&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Store::Sqlite(s) => s.$name($($arg),*).await,
                        Store::Postgres(s) => s.$name($($arg),*).await,
                    }
                }
            )+
        }
    };
}

delegate! {
    fn start_run(&self, shop: &str, kind: &str) -> Result<RunId, StoreError>;
    fn finish_run(&self, run: RunId, status: RunStatus, summary: &serde_json::Value)
        -> Result<(), StoreError>;
    fn get_run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError>;
    fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError>;
    fn interrupted_runs(&self) -> Result<Vec<RunRecord>, StoreError>;
    fn record_job(&self, job: &NewJob) -> Result<JobKey, StoreError>;
    fn set_job_salesforce_id(&self, key: JobKey, sf_job_id: &str) -> Result<(), StoreError>;
    fn set_job_state(&self, key: JobKey, phase: JobPhase) -> Result<(), StoreError>;
    fn set_job_counts(&self, key: JobKey, processed: i64, failed: i64) -> Result<(), StoreError>;
    fn get_job(&self, key: JobKey) -> Result<Option<JobRecord>, StoreError>;
    fn unfinished_jobs(&self) -> Result<Vec<JobRecord>, StoreError>;
    fn jobs_for_run(&self, run: RunId) -> Result<Vec<JobRecord>, StoreError>;
    fn put_mappings(&self, rows: &[Mapping]) -> Result<u64, StoreError>;
    fn put_mapped(&self, shop: &str, kind: &str, sf_object: &str, records: &[MappedRecord<'_>])
        -> Result<u64, StoreError>;
    fn get_mapping(&self, shop: &str, kind: &str, shopify_id: &str)
        -> Result<Option<MappingRecord>, StoreError>;
    fn get_mappings<S: AsRef<str> + Sync>(&self, shop: &str, kind: &str, shopify_ids: &[S])
        -> Result<HashMap<String, MappingRecord>, StoreError>;
    fn has_mappings(&self, shop: &str, kind: &str) -> Result<bool, StoreError>;
    fn count_mappings(&self, shop: Option<&str>, kind: Option<&str>) -> Result<u64, StoreError>;
    fn get_cursor(&self, shop: &str, resource: &str) -> Result<Option<String>, StoreError>;
    fn set_cursor(&self, shop: &str, resource: &str, value: &str) -> Result<(), StoreError>;
    fn put_company_contacts(&self, shop: &str, members: &[(String, String)])
        -> Result<u64, StoreError>;
    fn company_contacts(&self, shop: &str) -> Result<HashMap<String, String>, StoreError>;
    fn company_contact_export_hashes(&self, shop: &str) -> Result<HashMap<String, i64>, StoreError>;
    fn set_company_contact_export_hashes(&self, shop: &str, hashes: &[(String, i64)])
        -> Result<(), StoreError>;
    fn put_orders(&self, orders: &[CachedOrder]) -> Result<u64, StoreError>;
    fn suspend_order_index(&self) -> Result<bool, StoreError>;
    fn restore_order_index(&self) -> Result<bool, StoreError>;
    fn orders_for_customer(&self, shop: &str, customer_id: &str)
        -> Result<Vec<CachedOrder>, StoreError>;
    fn customer_order_stats(&self, shop: &str) -> Result<Vec<CustomerOrderStats>, StoreError>;
    fn order_aggregates(&self, shop: &str, by: AggregateBy, mapped_as: Option<&str>,
        after: Option<&str>, limit: u32) -> Result<Vec<OrderAggregate>, StoreError>;
    fn dead_letter(&self, letters: &[NewDeadLetter]) -> Result<u64, StoreError>;
    fn list_dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError>;
    fn dead_letter_depth(&self) -> Result<u64, StoreError>;
    fn mark_dead_letters(&self, ids: &[DeadLetterId], status: DeadLetterStatus)
        -> Result<u64, StoreError>;
    fn bump_attempts(&self, ids: &[DeadLetterId]) -> Result<u64, StoreError>;
    fn get_payload_hashes<S: AsRef<str> + Sync>(&self, shop: &str, kind: &str, shopify_ids: &[S])
        -> Result<HashMap<String, i64>, StoreError>;
    fn get_written_records<S: AsRef<str> + Sync>(&self, shop: &str, kind: &str, shopify_ids: &[S])
        -> Result<HashMap<String, Option<i64>>, StoreError>;
    fn add_withheld_writes(&self, run: RunId, counts: &[WithheldCount]) -> Result<(), StoreError>;
    fn withheld_writes(&self) -> Result<Vec<WithheldTotal>, StoreError>;
    fn put_crm_contacts(&self, contacts: &[crate::identity::CrmContact]) -> Result<u64, StoreError>;
    fn remove_crm_contacts(&self, ids: &[String]) -> Result<u64, StoreError>;
    fn crm_contacts_page(&self, after: Option<&str>, limit: u32)
        -> Result<Vec<crate::identity::CrmContact>, StoreError>;
    fn crm_contact(&self, id: &str) -> Result<Option<crate::identity::CrmContact>, StoreError>;
    fn review_decision(&self, shop: &str, kind: &str, shopify_id: &str)
        -> Result<Option<String>, StoreError>;
    fn update_consent_log(&self, shop: &str, updates: &[(String, ConsentUpdate)])
        -> Result<(), StoreError>;
    fn consent_logs<S: AsRef<str> + Sync>(&self, shop: &str, customers: &[S])
        -> Result<HashMap<String, ConsentLog>, StoreError>;
    fn pending_consent(&self, shop: &str) -> Result<Vec<(String, ConsentLog)>, StoreError>;
    fn put_identity_links(&self, links: &[IdentityLink]) -> Result<u64, StoreError>;
    fn identity_links(&self, shop: &str) -> Result<HashMap<String, IdentityLink>, StoreError>;
    fn forget_payload_hashes<S: AsRef<str> + Sync>(&self, shop: &str, kind: &str, shopify_ids: &[S])
        -> Result<u64, StoreError>;
    fn add_review(&self, review: &NewReview) -> Result<ReviewId, StoreError>;
    fn get_review(&self, id: ReviewId) -> Result<Option<Review>, StoreError>;
    fn list_reviews(&self, status: ReviewStatus, limit: u32) -> Result<Vec<Review>, StoreError>;
    fn resolve_review(&self, id: ReviewId, resolution: &str) -> Result<(), StoreError>;
}
