//! The [`StateStore`](super::StateStore) implementation shared by both backends.
//!
//! The SQL is the same on SQLite and PostgreSQL (`$N` placeholders, `ON CONFLICT … DO UPDATE`,
//! `RETURNING`, partial indexes) except where a JSON column is written or read; those
//! statements live in each backend's `sql` module. The method bodies are written once, in
//! [`impl_state_store!`], and expanded for each typed pool, so every statement is compiled
//! against the driver that runs it (no `Any` driver, no lowest-common-denominator types).

use std::collections::HashSet;
use std::hash::Hash;

use sqlx::error::ErrorKind;

use super::error::{Backend, StoreError};
use super::ts::Ts;
use super::types::{
    CachedOrder, CustomerOrderStats, DeadLetter, DeadLetterId, JobKey, JobPhase, JobRecord,
    MappedRecord, MappingRecord, OrderAggregate, Review, ReviewId, RunId, RunRecord,
};

/// A `crm_contacts` row as read.
pub(crate) type CrmContactRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
);

/// A `consent_log` row as read.
pub(crate) type ConsentRow = (
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

pub(crate) fn consent_log(r: ConsentRow) -> (String, super::types::ConsentLog) {
    use super::types::ConsentMark;
    let mark =
        |state: Option<String>, at: Option<i64>| state.map(|state| ConsentMark { state, at });
    (
        r.0,
        super::types::ConsentLog {
            shopify: mark(r.1, r.2),
            pushed: mark(r.3, r.4),
            pending: mark(r.5, r.6),
        },
    )
}

pub(crate) fn crm_contact(r: CrmContactRow) -> crate::identity::CrmContact {
    crate::identity::CrmContact {
        id: r.0.into(),
        account_id: r.1.map(Into::into),
        shopify_customer_id: r.2.map(Into::into),
        shopify_store: r.3.map(Into::into),
        email: r.4.map(Into::into),
        phone: r.5.map(Into::into),
        first_name: r.6.into(),
        last_name: r.7.into(),
        postal_code: r.8.into(),
        created: r.9,
        consent_state: r.10.map(Into::into),
        crm_consent_at: r.11,
    }
}

/// Portable statements (identical text on both backends).
pub(crate) mod shared {
    pub const INTERRUPT_RUNNING: &str = "UPDATE runs SET status = 'interrupted', finished_at = $3 \
         WHERE shop = $1 AND kind = $2 AND status = 'running'";
    pub const INSERT_RUN: &str = "INSERT INTO runs (shop, kind, status, started_at) \
         VALUES ($1, $2, 'running', $3) RETURNING id";

    pub const INSERT_JOB: &str = "INSERT INTO bulk_jobs (run_id, object, operation, \
         external_id_field, part, attempt, row_count, payload_path, phase, processed, failed, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'planned', 0, 0, $9, $9) RETURNING id";
    pub const SET_JOB_SF_ID: &str =
        "UPDATE bulk_jobs SET sf_job_id = $2, updated_at = $3 WHERE id = $1";
    /// `$4..$8`: the phases the job may move from (padded with repeats).
    pub const SET_JOB_PHASE: &str = "UPDATE bulk_jobs SET phase = $2, updated_at = $3 \
         WHERE id = $1 AND phase IN ($4, $5, $6, $7, $8)";
    pub const JOB_PHASE: &str = "SELECT phase FROM bulk_jobs WHERE id = $1";
    pub const SET_JOB_COUNTS: &str =
        "UPDATE bulk_jobs SET processed = $2, failed = $3, updated_at = $4 WHERE id = $1";
    pub const GET_JOB: &str = "SELECT id, run_id, object, operation, external_id_field, part, \
         attempt, row_count, payload_path, sf_job_id, phase, processed, failed, created_at, \
         updated_at FROM bulk_jobs WHERE id = $1";
    pub const UNFINISHED_JOBS: &str = "SELECT id, run_id, object, operation, external_id_field, \
         part, attempt, row_count, payload_path, sf_job_id, phase, processed, failed, created_at, \
         updated_at FROM bulk_jobs \
         WHERE phase NOT IN ('results_stored', 'aborted', 'failed') ORDER BY id";
    pub const JOBS_FOR_RUN: &str = "SELECT id, run_id, object, operation, external_id_field, \
         part, attempt, row_count, payload_path, sf_job_id, phase, processed, failed, created_at, \
         updated_at FROM bulk_jobs WHERE run_id = $1 ORDER BY id";

    pub const GET_MAPPING: &str = "SELECT shop, kind, shopify_id, sf_object, sf_id, \
         payload_hash, updated_at \
         FROM id_mappings WHERE shop = $1 AND kind = $2 AND shopify_id = $3";
    pub const GET_MAPPINGS_HEAD: &str = "SELECT shop, kind, shopify_id, sf_object, sf_id, \
         payload_hash, updated_at FROM id_mappings WHERE shop = ";
    pub const HAS_MAPPINGS: &str =
        "SELECT 1 FROM id_mappings WHERE shop = $1 AND kind = $2 LIMIT 1";
    pub const COUNT_MAPPINGS: &str = "SELECT COUNT(*) FROM id_mappings \
         WHERE ($1 IS NULL OR shop = $1) AND ($2 IS NULL OR kind = $2)";

    pub const GET_CURSOR: &str = "SELECT value FROM cursors WHERE shop = $1 AND resource = $2";
    pub const SET_CURSOR: &str = "INSERT INTO cursors (shop, resource, value, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (shop, resource) DO UPDATE SET \
         value = excluded.value, updated_at = excluded.updated_at";

    pub const PUT_COMPANY_CONTACT: &str = "INSERT INTO company_contacts \
         (shop, customer_id, company_id, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (shop, customer_id) DO UPDATE SET company_id = excluded.company_id, \
         export_hash = CASE WHEN company_contacts.company_id = excluded.company_id \
             THEN company_contacts.export_hash ELSE NULL END, \
         updated_at = excluded.updated_at";
    pub const SET_COMPANY_CONTACT_HASH: &str = "UPDATE company_contacts SET export_hash = $3, \
         updated_at = $4 WHERE shop = $1 AND customer_id = $2";
    pub const COMPANY_CONTACT_HASHES: &str = "SELECT customer_id, export_hash \
         FROM company_contacts WHERE shop = $1 AND export_hash IS NOT NULL";
    pub const ADD_WITHHELD: &str = "INSERT INTO withheld_writes (object, field, reason, total, \
         last_run_id, last_run_count, updated_at) VALUES ($1, $2, $3, $4, $5, $4, $6) \
         ON CONFLICT (object, field, reason) DO UPDATE SET \
         total = withheld_writes.total + excluded.total, \
         last_run_count = CASE WHEN withheld_writes.last_run_id = excluded.last_run_id \
             THEN withheld_writes.last_run_count + excluded.last_run_count \
             ELSE excluded.last_run_count END, \
         last_run_id = excluded.last_run_id, updated_at = excluded.updated_at";
    pub const WITHHELD: &str = "SELECT object, field, reason, total, last_run_id, \
         last_run_count FROM withheld_writes ORDER BY total DESC, object, field, reason";

    pub const CRM_CONTACTS_HEAD: &str = "INSERT INTO crm_contacts (id, account_id, \
         shopify_customer_id, shopify_store, email, phone, first_name, last_name, postal_code, \
         created, consent_state, crm_consent_at) ";
    pub const CRM_CONTACTS_TAIL: &str = " ON CONFLICT (id) DO UPDATE SET \
         account_id = excluded.account_id, shopify_customer_id = excluded.shopify_customer_id, \
         shopify_store = excluded.shopify_store, email = excluded.email, phone = excluded.phone, \
         first_name = excluded.first_name, last_name = excluded.last_name, \
         postal_code = excluded.postal_code, created = excluded.created, \
         consent_state = excluded.consent_state, crm_consent_at = excluded.crm_consent_at";
    pub const CRM_CONTACTS_PAGE: &str = "SELECT id, account_id, shopify_customer_id, \
         shopify_store, email, phone, first_name, last_name, postal_code, created, \
         consent_state, crm_consent_at FROM crm_contacts WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2";
    pub const CRM_CONTACT: &str = "SELECT id, account_id, shopify_customer_id, \
         shopify_store, email, phone, first_name, last_name, postal_code, created, \
         consent_state, crm_consent_at FROM crm_contacts WHERE id = $1";
    pub const REVIEW_DECISION: &str = "SELECT resolution FROM reviews WHERE shop = $1 \
         AND shopify_kind = $2 AND shopify_id = $3 AND status = 'resolved' \
         ORDER BY id DESC LIMIT 1";
    pub const CONSENT_SHOPIFY: &str = "INSERT INTO consent_log (shop, customer_id, \
         shopify_state, shopify_at) VALUES ($1, $2, $3, $4) ON CONFLICT (shop, customer_id) \
         DO UPDATE SET shopify_state = excluded.shopify_state, shopify_at = excluded.shopify_at";
    pub const CONSENT_PENDING: &str = "INSERT INTO consent_log (shop, customer_id, \
         pending_state, pending_at) VALUES ($1, $2, $3, $4) ON CONFLICT (shop, customer_id) \
         DO UPDATE SET pending_state = excluded.pending_state, pending_at = excluded.pending_at";
    pub const CONSENT_PUSHED: &str = "INSERT INTO consent_log (shop, customer_id, \
         pushed_state, pushed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (shop, customer_id) \
         DO UPDATE SET pushed_state = excluded.pushed_state, pushed_at = excluded.pushed_at, \
         pending_state = NULL, pending_at = NULL";
    pub const CONSENT_SELECT: &str = "SELECT customer_id, shopify_state, shopify_at, \
         pushed_state, pushed_at, pending_state, pending_at FROM consent_log WHERE shop = ";
    pub const PUT_IDENTITY_LINK: &str = "INSERT INTO identity_links (shop, customer_id, \
         contact_id, account_id, tier, is_primary, linked_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (shop, customer_id) DO UPDATE SET contact_id = excluded.contact_id, \
         account_id = excluded.account_id, tier = excluded.tier, \
         is_primary = excluded.is_primary, linked_at = excluded.linked_at";
    pub const IDENTITY_LINKS: &str = "SELECT shop, customer_id, contact_id, account_id, tier, \
         is_primary FROM identity_links WHERE shop = $1";

    pub const COMPANY_CONTACTS: &str =
        "SELECT customer_id, company_id FROM company_contacts WHERE shop = $1";

    pub const ORDER_UPSERT_HEAD: &str = "INSERT INTO order_cache (shop, order_id, customer_id, \
         email, phone, processed_at, total_minor, currency, cancelled, financial_status, \
         refunded_minor, company_id, is_test, updated_at) ";
    /// The conflict clause of [`ORDER_UPSERT_HEAD`], up to the backend's "the order
    /// changed" test (`sql::DIFFERS`, then [`ORDER_UPSERT_EXCLUDED`]): an order identical
    /// to its cached copy is left as it is, so a rerun over an unchanged export rewrites no
    /// row and no index entry, and `updated_at` is when the cached order last changed.
    pub const ORDER_UPSERT_TAIL: &str = " ON CONFLICT (shop, order_id) DO UPDATE SET \
         customer_id = excluded.customer_id, email = excluded.email, phone = excluded.phone, \
         processed_at = excluded.processed_at, total_minor = excluded.total_minor, \
         currency = excluded.currency, cancelled = excluded.cancelled, \
         financial_status = excluded.financial_status, \
         refunded_minor = excluded.refunded_minor, company_id = excluded.company_id, \
         is_test = excluded.is_test, updated_at = excluded.updated_at \
         WHERE (order_cache.customer_id, order_cache.email, order_cache.phone, \
         order_cache.processed_at, order_cache.total_minor, order_cache.currency, \
         order_cache.cancelled, order_cache.financial_status, order_cache.refunded_minor, \
         order_cache.company_id, order_cache.is_test) ";
    /// The other side of the "changed" test after [`ORDER_UPSERT_TAIL`] and the backend's
    /// null-safe "differs" operator.
    pub const ORDER_UPSERT_EXCLUDED: &str = " (excluded.customer_id, excluded.email, \
         excluded.phone, excluded.processed_at, excluded.total_minor, excluded.currency, \
         excluded.cancelled, excluded.financial_status, excluded.refunded_minor, \
         excluded.company_id, excluded.is_test)";
    /// Whether the order cache holds any order (of any shop).
    pub const ORDER_CACHE_ANY: &str = "SELECT EXISTS (SELECT 1 FROM order_cache)";
    /// Drops the order cache's per-customer index (see `sql::ORDER_INDEX_CREATE`).
    pub const ORDER_INDEX_DROP: &str = "DROP INDEX IF EXISTS order_cache_customer";
    /// Columns of an order-cache row, as [`OrderRow`](super::OrderRow) reads them.
    pub const ORDERS_FOR_CUSTOMER: &str = "SELECT shop, order_id, customer_id, email, phone, \
         processed_at, total_minor, currency, cancelled, financial_status, refunded_minor, \
         company_id, is_test FROM order_cache \
         WHERE shop = $1 AND customer_id = $2 ORDER BY processed_at, order_id";
    pub const CUSTOMER_ORDER_STATS: &str = "SELECT customer_id, currency, \
         COUNT(*) AS order_count, CAST(SUM(total_minor) AS BIGINT) AS total_spent_minor, \
         MIN(processed_at) AS first_order_at, MAX(processed_at) AS last_order_at \
         FROM order_cache WHERE shop = $1 AND customer_id IS NOT NULL AND NOT cancelled \
         GROUP BY customer_id, currency ORDER BY customer_id, currency";

    /// The aggregates of [`order_aggregates`](crate::store::StateStore::order_aggregates)
    /// keyed on `$key` over the rows `$from`: `$1` shop, `$2` mapping kind (or NULL: every
    /// key), `$3` the key to page after (or NULL), `$4` the page size. The counted-order rule
    /// is [`CachedOrder::counts_in_metrics`](crate::store::CachedOrder::counts_in_metrics).
    ///
    /// The page bound is a range on the key itself (`k > COALESCE($3, '')`, which also drops
    /// NULL keys), not `$3 IS NULL OR k > $3`: a prepared plan cannot use an index for the
    /// latter, so every page re-read the shop's orders from the start (ten pages of 10,000
    /// customers took 6.6 s at 300,000 orders). The mapping check is a `HAVING`: once per
    /// key, not once per order.
    macro_rules! aggregates {
        ($key:literal, $from:literal) => {
            concat!(
                "SELECT k AS key, \
                 CAST(COALESCE(SUM(CASE WHEN counted THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 AS order_count, \
                 CAST(COALESCE(SUM(CASE WHEN counted AND total_minor > refunded_minor \
                 THEN total_minor - refunded_minor ELSE 0 END), 0) AS BIGINT) AS spend_minor, \
                 MIN(CASE WHEN counted THEN currency END) AS currency, \
                 CAST(COUNT(DISTINCT CASE WHEN counted THEN currency END) AS BIGINT) \
                 AS currencies, \
                 MIN(CASE WHEN counted THEN processed_at END) AS first_order_at, \
                 MAX(CASE WHEN counted THEN processed_at END) AS last_order_at \
                 FROM (SELECT ",
                $key,
                " AS k, o.total_minor, o.refunded_minor, o.currency, o.processed_at, \
                 (NOT o.cancelled AND NOT o.is_test AND o.financial_status IN \
                 ('PAID', 'PARTIALLY_PAID', 'PARTIALLY_REFUNDED')) AS counted FROM ",
                $from,
                " WHERE o.shop = $1 AND ",
                $key,
                " > COALESCE(CAST($3 AS TEXT), '')) t \
                 GROUP BY k \
                 HAVING CAST($2 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM id_mappings m \
                 WHERE m.shop = $1 AND m.kind = $2 AND m.shopify_id = k) \
                 ORDER BY k LIMIT $4"
            )
        };
    }

    /// Order aggregates per customer.
    pub const CUSTOMER_AGGREGATES: &str = aggregates!("o.customer_id", "order_cache o");

    /// Order aggregates per company: the purchasing company, else the company of the
    /// contact who placed the order for themselves.
    pub const COMPANY_AGGREGATES: &str = aggregates!(
        "COALESCE(o.company_id, cc.company_id)",
        "order_cache o LEFT JOIN company_contacts cc \
         ON cc.shop = o.shop AND cc.customer_id = o.customer_id"
    );

    pub const DEAD_LETTER_HEAD: &str = "INSERT INTO dead_letters (run_id, shop, object, \
         external_id, payload, error_code, message, hint, status, attempts, created_at, \
         updated_at) ";
    pub const DEAD_LETTER_TAIL: &str = " ON CONFLICT (object, external_id) WHERE status = 'open' \
         DO UPDATE SET run_id = excluded.run_id, shop = excluded.shop, \
         payload = excluded.payload, error_code = excluded.error_code, \
         message = excluded.message, hint = excluded.hint, \
         attempts = dead_letters.attempts + 1, updated_at = excluded.updated_at";
    pub const DEAD_LETTER_DEPTH: &str = "SELECT COUNT(*) FROM dead_letters WHERE status = 'open'";
    pub const MARK_DEAD_LETTERS_HEAD: &str = "UPDATE dead_letters SET status = ";
    pub const BUMP_ATTEMPTS_HEAD: &str =
        "UPDATE dead_letters SET attempts = attempts + 1, updated_at = ";

    pub const FORGET_HASHES_HEAD: &str = "UPDATE id_mappings SET payload_hash = NULL \
         WHERE payload_hash IS NOT NULL AND shop = ";

    pub const RESOLVE_REVIEW: &str = "UPDATE reviews SET status = 'resolved', resolution = $2, \
         resolved_at = $3, updated_at = $3 WHERE id = $1 AND status = 'open'";
    pub const REVIEW_STATUS: &str = "SELECT status FROM reviews WHERE id = $1";
}

/// Maps a driver error to [`StoreError::Query`].
pub(crate) fn query_error(
    backend: Backend,
    op: &'static str,
) -> impl Fn(sqlx::Error) -> StoreError {
    move |source| StoreError::Query {
        backend,
        op,
        source,
    }
}

/// The kind of database error behind `err`, if it is one.
pub(crate) fn db_error_kind(err: &sqlx::Error) -> Option<ErrorKind> {
    err.as_database_error().map(|e| e.kind())
}

/// The rows of `rows` whose key does not occur again later: one row per key, the last one
/// wins, original order kept. PostgreSQL refuses an `INSERT … ON CONFLICT DO UPDATE` that
/// touches the same row twice, so batches are deduplicated before they are written.
pub(crate) fn dedup_last<'a, T, K: Hash + Eq>(
    rows: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    if rows.len() < 2 {
        return rows.iter().collect();
    }
    let mut seen =
        HashSet::with_capacity_and_hasher(rows.len(), foldhash::fast::RandomState::default());
    let mut kept: Vec<&T> = Vec::with_capacity(rows.len());
    kept.extend(rows.iter().rev().filter(|r| seen.insert(key(r))));
    kept.reverse();
    kept
}

/// A batch bound as one JSON text parameter.
pub(crate) fn json_param(
    backend: Backend,
    op: &'static str,
    batch: &impl serde::Serialize,
) -> Result<String, StoreError> {
    serde_json::to_string(batch).map_err(|e| invalid_json_param(backend, op, e.to_string()))
}

/// [`json_param`] written into a buffer of `capacity` bytes to start with: a batch's JSON
/// is megabytes, and growing it by doubling allocates (and faults in) twice that.
pub(crate) fn json_param_sized(
    backend: Backend,
    op: &'static str,
    batch: &impl serde::Serialize,
    capacity: usize,
) -> Result<String, StoreError> {
    let mut json = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut json, batch)
        .map_err(|e| invalid_json_param(backend, op, e.to_string()))?;
    String::from_utf8(json).map_err(|e| invalid_json_param(backend, op, e.to_string()))
}

fn invalid_json_param(backend: Backend, op: &'static str, detail: String) -> StoreError {
    StoreError::InvalidArgument {
        backend,
        op,
        detail,
    }
}

/// Id mappings serialized as `[[shopify_id, sf_id, payload_hash], …]`, straight from the
/// records (no copy of the batch as tuples first).
pub(crate) struct MappedRows<'a, 'r>(pub &'a [&'a MappedRecord<'r>]);

impl MappedRows<'_, '_> {
    /// About the length of the JSON: the ids plus punctuation and a 19-digit hash.
    pub(crate) fn json_len_hint(&self) -> usize {
        self.0
            .iter()
            .map(|r| r.shopify_id.len() + r.sf_id.len() + 30)
            .sum::<usize>()
            + 2
    }
}

impl serde::Serialize for MappedRows<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .iter()
                .map(|r| (r.shopify_id, r.sf_id, r.payload_hash)),
        )
    }
}

/// The rows of a lookup that returns them as one JSON array (`NULL`: none). Thousands of
/// rows in one value: a driver hands rows over one at a time, each a hop between the
/// database's thread and the caller's, which costs more than the lookups themselves.
pub(crate) fn json_rows<T: serde::de::DeserializeOwned>(
    backend: Backend,
    op: &'static str,
    rows: Option<String>,
) -> Result<Vec<T>, StoreError> {
    match rows {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            corrupt(
                backend,
                op,
                format!("the rows the lookup returned are not the expected JSON: {e}"),
            )
        }),
    }
}

/// Rows per statement where a batch is bound as one JSON array (a few MB of text).
pub(crate) const JSON_ROWS_PER_STATEMENT: usize = 50_000;

/// Rows per multi-row statement: as many as fit in `max_params` bind parameters.
pub(crate) fn rows_per_statement(max_params: usize, params_per_row: usize) -> usize {
    (max_params / params_per_row).max(1)
}

/// The phases a job may be in for a move to `to` to be allowed, padded to five entries (the
/// `IN` list of [`shared::SET_JOB_PHASE`]). Jobs only move forward; a final phase is reached
/// from any phase that is not final; setting the current phase again is a no-op.
pub(crate) fn allowed_predecessors(to: JobPhase) -> [JobPhase; 5] {
    let rank = |p: JobPhase| {
        JobPhase::ALL
            .iter()
            .position(|q| *q == p)
            .unwrap_or(usize::MAX)
    };
    let mut out = [to; 5];
    let mut n = 1;
    for p in JobPhase::ALL.iter().copied() {
        if p != to && !p.is_final() && (to.is_final() || rank(p) < rank(to)) && n < out.len() {
            out[n] = p;
            n += 1;
        }
    }
    out
}

fn corrupt(backend: Backend, op: &'static str, detail: String) -> StoreError {
    StoreError::Corrupt {
        backend,
        op,
        detail,
    }
}

fn parse_json(
    backend: Backend,
    op: &'static str,
    what: &str,
    text: &str,
) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(backend, op, format!("{what} is not JSON: {e}")))
}

/// A `runs` row.
#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: i64,
    shop: String,
    kind: String,
    status: String,
    started_at: Ts,
    finished_at: Option<Ts>,
    summary: Option<String>,
}

impl RunRow {
    pub(crate) fn decode(
        self,
        backend: Backend,
        op: &'static str,
    ) -> Result<RunRecord, StoreError> {
        Ok(RunRecord {
            id: RunId(self.id),
            status: self.status.parse().map_err(|e| corrupt(backend, op, e))?,
            summary: self
                .summary
                .as_deref()
                .map(|s| parse_json(backend, op, "run summary", s))
                .transpose()?,
            shop: self.shop,
            kind: self.kind,
            started_at: self.started_at.0,
            finished_at: self.finished_at.map(|t| t.0),
        })
    }
}

/// A `bulk_jobs` row.
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: i64,
    run_id: i64,
    object: String,
    operation: String,
    external_id_field: Option<String>,
    part: i32,
    attempt: i32,
    row_count: i64,
    payload_path: Option<String>,
    sf_job_id: Option<String>,
    phase: String,
    processed: i64,
    failed: i64,
    created_at: Ts,
    updated_at: Ts,
}

impl JobRow {
    pub(crate) fn decode(
        self,
        backend: Backend,
        op: &'static str,
    ) -> Result<JobRecord, StoreError> {
        Ok(JobRecord {
            key: JobKey(self.id),
            run: RunId(self.run_id),
            phase: self.phase.parse().map_err(|e| corrupt(backend, op, e))?,
            object: self.object,
            operation: self.operation,
            external_id_field: self.external_id_field,
            part: self.part,
            attempt: self.attempt,
            row_count: self.row_count,
            payload_path: self.payload_path,
            sf_job_id: self.sf_job_id,
            processed: self.processed,
            failed: self.failed,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// An `id_mappings` row.
#[derive(sqlx::FromRow)]
pub(crate) struct MappingRow {
    shop: String,
    kind: String,
    shopify_id: String,
    sf_object: String,
    sf_id: String,
    payload_hash: Option<i64>,
    updated_at: Ts,
}

impl From<MappingRow> for MappingRecord {
    fn from(r: MappingRow) -> Self {
        MappingRecord {
            shop: r.shop,
            kind: r.kind,
            shopify_id: r.shopify_id,
            sf_object: r.sf_object,
            sf_id: r.sf_id,
            payload_hash: r.payload_hash,
            updated_at: r.updated_at.0,
        }
    }
}

/// An `order_cache` row.
#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    shop: String,
    order_id: String,
    customer_id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    processed_at: Ts,
    total_minor: i64,
    currency: String,
    cancelled: bool,
    financial_status: Option<String>,
    refunded_minor: i64,
    company_id: Option<String>,
    is_test: bool,
}

impl From<OrderRow> for CachedOrder {
    fn from(r: OrderRow) -> Self {
        CachedOrder {
            shop: r.shop,
            order_id: r.order_id,
            customer_id: r.customer_id,
            email: r.email,
            phone: r.phone,
            processed_at: r.processed_at.0,
            total_minor: r.total_minor,
            currency: r.currency,
            cancelled: r.cancelled,
            financial_status: r.financial_status,
            refunded_minor: r.refunded_minor,
            company_id: r.company_id,
            test: r.is_test,
        }
    }
}

/// One row of [`shared::CUSTOMER_ORDER_STATS`].
#[derive(sqlx::FromRow)]
pub(crate) struct StatsRow {
    customer_id: String,
    currency: String,
    order_count: i64,
    total_spent_minor: i64,
    first_order_at: Ts,
    last_order_at: Ts,
}

impl From<StatsRow> for CustomerOrderStats {
    fn from(r: StatsRow) -> Self {
        CustomerOrderStats {
            customer_id: r.customer_id,
            currency: r.currency,
            order_count: r.order_count,
            total_spent_minor: r.total_spent_minor,
            first_order_at: r.first_order_at.0,
            last_order_at: r.last_order_at.0,
        }
    }
}

/// One row of [`shared::CUSTOMER_AGGREGATES`] / [`shared::COMPANY_AGGREGATES`].
#[derive(sqlx::FromRow)]
pub(crate) struct AggregateRow {
    key: String,
    order_count: i64,
    spend_minor: i64,
    currency: Option<String>,
    currencies: i64,
    first_order_at: Option<Ts>,
    last_order_at: Option<Ts>,
}

impl From<AggregateRow> for OrderAggregate {
    fn from(r: AggregateRow) -> Self {
        OrderAggregate {
            key: r.key,
            order_count: r.order_count,
            spend_minor: r.spend_minor,
            currency: r.currency,
            currencies: r.currencies,
            first_order_at: r.first_order_at.map(|t| t.0),
            last_order_at: r.last_order_at.map(|t| t.0),
        }
    }
}

/// A `dead_letters` row.
#[derive(sqlx::FromRow)]
pub(crate) struct DeadLetterRow {
    id: i64,
    run_id: Option<i64>,
    shop: String,
    object: String,
    external_id: String,
    payload: String,
    error_code: String,
    message: String,
    hint: Option<String>,
    status: String,
    attempts: i32,
    created_at: Ts,
    updated_at: Ts,
}

impl DeadLetterRow {
    pub(crate) fn decode(
        self,
        backend: Backend,
        op: &'static str,
    ) -> Result<DeadLetter, StoreError> {
        Ok(DeadLetter {
            id: DeadLetterId(self.id),
            run: self.run_id.map(RunId),
            payload: parse_json(backend, op, "dead-letter payload", &self.payload)?,
            status: self.status.parse().map_err(|e| corrupt(backend, op, e))?,
            shop: self.shop,
            object: self.object,
            external_id: self.external_id,
            error_code: self.error_code,
            message: self.message,
            hint: self.hint,
            attempts: self.attempts,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// A `reviews` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ReviewRow {
    id: i64,
    shop: String,
    shopify_kind: String,
    shopify_id: String,
    sf_object: String,
    reason: String,
    candidates: String,
    status: String,
    resolution: Option<String>,
    created_at: Ts,
    updated_at: Ts,
    resolved_at: Option<Ts>,
}

impl ReviewRow {
    pub(crate) fn decode(self, backend: Backend, op: &'static str) -> Result<Review, StoreError> {
        Ok(Review {
            id: ReviewId(self.id),
            candidates: serde_json::from_str(&self.candidates).map_err(|e| {
                corrupt(
                    backend,
                    op,
                    format!("review candidates are not a JSON list of strings: {e}"),
                )
            })?,
            status: self.status.parse().map_err(|e| corrupt(backend, op, e))?,
            shop: self.shop,
            shopify_kind: self.shopify_kind,
            shopify_id: self.shopify_id,
            sf_object: self.sf_object,
            reason: self.reason,
            resolution: self.resolution,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            resolved_at: self.resolved_at.map(|t| t.0),
        })
    }
}

/// Converts a count read from the database.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// Expands the [`StateStore`](super::StateStore) implementation for one typed pool.
///
/// The invoking module provides: a store type with fields `pool: sqlx::Pool<$db>` and a
/// `const BACKEND: Backend`; a module `sql` with the dialect statements (`FINISH_RUN`,
/// `GET_RUN`, `RECENT_RUNS`, `INTERRUPTED_RUNS`, `DEAD_LETTER_COLUMNS`, `LIST_DEAD_LETTERS`,
/// `JSON_PARAM`, `ADD_REVIEW`, `GET_REVIEW`, `LIST_REVIEWS`) and `MAX_BIND_PARAMS`.
macro_rules! impl_state_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Runs a lookup of the shop's (`shop`, `kind`) mappings by id, `sql` taking the
            /// ids as one JSON array ($3) and answering one JSON array of rows, a chunk of
            /// ids at a time.
            async fn mapping_rows<T, S, C>(
                &self,
                op: &'static str,
                sql: &'static str,
                shop: &str,
                kind: &str,
                shopify_ids: &[S],
            ) -> Result<C, StoreError>
            where
                T: serde::de::DeserializeOwned,
                S: AsRef<str> + Sync,
                C: Default + Extend<T>,
            {
                let err = query_error(Self::BACKEND, op);
                let mut out = C::default();
                for chunk in shopify_ids.chunks($crate::store::imp::JSON_ROWS_PER_STATEMENT) {
                    let ids: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
                    let json = $crate::store::imp::json_param(Self::BACKEND, op, &ids)?;
                    let (found,): (Option<String>,) = sqlx::query_as(sql)
                        .bind(shop)
                        .bind(kind)
                        .bind(json)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(&err)?;
                    out.extend($crate::store::imp::json_rows::<T>(
                        Self::BACKEND,
                        op,
                        found,
                    )?);
                }
                Ok(out)
            }

            /// Upserts id mappings of one shop, kind and object inside `tx`, one JSON array
            /// of `[shopify_id, sf_id, payload_hash]` per statement.
            async fn upsert_mapped(
                tx: &mut sqlx::Transaction<'_, $db>,
                op: &'static str,
                shop: &str,
                kind: &str,
                sf_object: &str,
                records: &[&MappedRecord<'_>],
                now: Ts,
            ) -> Result<(), StoreError> {
                for chunk in records.chunks($crate::store::imp::JSON_ROWS_PER_STATEMENT) {
                    let rows = $crate::store::imp::MappedRows(chunk);
                    let json = $crate::store::imp::json_param_sized(
                        Self::BACKEND,
                        op,
                        &rows,
                        rows.json_len_hint(),
                    )?;
                    sqlx::query(sql::MAPPED_UPSERT_JSON)
                        .bind(shop)
                        .bind(kind)
                        .bind(sf_object)
                        .bind(now)
                        .bind(json)
                        .execute(&mut **tx)
                        .await
                        .map_err(query_error(Self::BACKEND, op))?;
                }
                Ok(())
            }
        }

        impl $crate::store::StateStore for $store {
            async fn start_run(&self, shop: &str, kind: &str) -> Result<RunId, StoreError> {
                const OP: &str = "start_run";
                let err = query_error(Self::BACKEND, OP);
                let now = Ts::now();
                let mut tx = self.pool.begin().await.map_err(&err)?;
                let interrupted = sqlx::query(shared::INTERRUPT_RUNNING)
                    .bind(shop)
                    .bind(kind)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(&err)?
                    .rows_affected();
                let id: i64 = sqlx::query_scalar(shared::INSERT_RUN)
                    .bind(shop)
                    .bind(kind)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(&err)?;
                tx.commit().await.map_err(&err)?;
                if interrupted > 0 {
                    tracing::warn!(
                        message = "Earlier runs never finished; marked them interrupted.",
                        shop,
                        kind,
                        count = interrupted,
                        run = id,
                    );
                }
                Ok(RunId(id))
            }

            async fn finish_run(
                &self,
                run: RunId,
                status: RunStatus,
                summary: &serde_json::Value,
            ) -> Result<(), StoreError> {
                const OP: &str = "finish_run";
                if status == RunStatus::Running {
                    return Err(StoreError::InvalidArgument {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: "a run cannot finish as `running`".to_owned(),
                    });
                }
                let done = sqlx::query(sql::FINISH_RUN)
                    .bind(run.0)
                    .bind(status.as_str())
                    .bind(Ts::now())
                    .bind(summary.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound {
                        backend: Self::BACKEND,
                        op: OP,
                        entity: "run",
                        id: run.0,
                    });
                }
                Ok(())
            }

            async fn get_run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError> {
                const OP: &str = "get_run";
                sqlx::query_as::<_, RunRow>(sql::GET_RUN)
                    .bind(run.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .transpose()
            }

            async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
                const OP: &str = "recent_runs";
                sqlx::query_as::<_, RunRow>(sql::RECENT_RUNS)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .collect()
            }

            async fn interrupted_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
                const OP: &str = "interrupted_runs";
                sqlx::query_as::<_, RunRow>(sql::INTERRUPTED_RUNS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .collect()
            }

            async fn record_job(&self, job: &NewJob) -> Result<JobKey, StoreError> {
                const OP: &str = "record_job";
                if job.row_count < 0 {
                    return Err(StoreError::InvalidArgument {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: format!("row_count {} is negative", job.row_count),
                    });
                }
                let id: i64 = sqlx::query_scalar(shared::INSERT_JOB)
                    .bind(job.run.0)
                    .bind(job.object.as_str())
                    .bind(job.operation.as_str())
                    .bind(job.external_id_field.as_deref())
                    .bind(job.part)
                    .bind(job.attempt)
                    .bind(job.row_count)
                    .bind(job.payload_path.as_deref())
                    .bind(Ts::now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| match db_error_kind(&e) {
                        Some(ErrorKind::ForeignKeyViolation) => StoreError::NotFound {
                            backend: Self::BACKEND,
                            op: OP,
                            entity: "run",
                            id: job.run.0,
                        },
                        _ => query_error(Self::BACKEND, OP)(e),
                    })?;
                Ok(JobKey(id))
            }

            async fn set_job_salesforce_id(
                &self,
                key: JobKey,
                sf_job_id: &str,
            ) -> Result<(), StoreError> {
                const OP: &str = "set_job_salesforce_id";
                let done = sqlx::query(shared::SET_JOB_SF_ID)
                    .bind(key.0)
                    .bind(sf_job_id)
                    .bind(Ts::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| match db_error_kind(&e) {
                        Some(ErrorKind::UniqueViolation) => StoreError::InvalidState {
                            backend: Self::BACKEND,
                            op: OP,
                            detail: format!(
                                "Salesforce job {sf_job_id} is already recorded for another \
                                 bulk job"
                            ),
                        },
                        _ => query_error(Self::BACKEND, OP)(e),
                    })?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound {
                        backend: Self::BACKEND,
                        op: OP,
                        entity: "bulk job",
                        id: key.0,
                    });
                }
                Ok(())
            }

            async fn set_job_state(&self, key: JobKey, phase: JobPhase) -> Result<(), StoreError> {
                const OP: &str = "set_job_state";
                let err = query_error(Self::BACKEND, OP);
                let from = allowed_predecessors(phase);
                let done = sqlx::query(shared::SET_JOB_PHASE)
                    .bind(key.0)
                    .bind(phase.as_str())
                    .bind(Ts::now())
                    .bind(from[0].as_str())
                    .bind(from[1].as_str())
                    .bind(from[2].as_str())
                    .bind(from[3].as_str())
                    .bind(from[4].as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(&err)?;
                if done.rows_affected() > 0 {
                    return Ok(());
                }
                let current: Option<String> = sqlx::query_scalar(shared::JOB_PHASE)
                    .bind(key.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(&err)?;
                Err(match current {
                    None => StoreError::NotFound {
                        backend: Self::BACKEND,
                        op: OP,
                        entity: "bulk job",
                        id: key.0,
                    },
                    Some(current) => StoreError::InvalidState {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: format!(
                            "bulk job {key} is `{current}` and cannot move to `{phase}` \
                             (jobs only move forward, and final phases are final)"
                        ),
                    },
                })
            }

            async fn set_job_counts(
                &self,
                key: JobKey,
                processed: i64,
                failed: i64,
            ) -> Result<(), StoreError> {
                const OP: &str = "set_job_counts";
                if processed < 0 || failed < 0 {
                    return Err(StoreError::InvalidArgument {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: format!("negative count (processed {processed}, failed {failed})"),
                    });
                }
                let done = sqlx::query(shared::SET_JOB_COUNTS)
                    .bind(key.0)
                    .bind(processed)
                    .bind(failed)
                    .bind(Ts::now())
                    .execute(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound {
                        backend: Self::BACKEND,
                        op: OP,
                        entity: "bulk job",
                        id: key.0,
                    });
                }
                Ok(())
            }

            async fn get_job(&self, key: JobKey) -> Result<Option<JobRecord>, StoreError> {
                const OP: &str = "get_job";
                sqlx::query_as::<_, JobRow>(shared::GET_JOB)
                    .bind(key.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .transpose()
            }

            async fn unfinished_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
                const OP: &str = "unfinished_jobs";
                sqlx::query_as::<_, JobRow>(shared::UNFINISHED_JOBS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .collect()
            }

            async fn jobs_for_run(&self, run: RunId) -> Result<Vec<JobRecord>, StoreError> {
                const OP: &str = "jobs_for_run";
                sqlx::query_as::<_, JobRow>(shared::JOBS_FOR_RUN)
                    .bind(run.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .collect()
            }

            async fn put_mappings(&self, rows: &[Mapping]) -> Result<u64, StoreError> {
                const OP: &str = "put_mappings";
                let rows = dedup_last(rows, |m| (&m.shop, &m.kind, &m.shopify_id));
                if rows.is_empty() {
                    return Ok(0);
                }
                // Batches share shop, kind and object (one statement shape for both methods).
                let mut groups: std::collections::BTreeMap<
                    (&str, &str, &str),
                    Vec<MappedRecord<'_>>,
                > = std::collections::BTreeMap::new();
                for m in &rows {
                    groups
                        .entry((&m.shop, &m.kind, &m.sf_object))
                        .or_default()
                        .push(MappedRecord {
                            shopify_id: &m.shopify_id,
                            sf_id: &m.sf_id,
                            payload_hash: m.payload_hash,
                        });
                }
                let err = query_error(Self::BACKEND, OP);
                let now = Ts::now();
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for ((shop, kind, sf_object), records) in &groups {
                    let records: Vec<&MappedRecord<'_>> = records.iter().collect();
                    Self::upsert_mapped(&mut tx, OP, shop, kind, sf_object, &records, now).await?;
                }
                tx.commit().await.map_err(&err)?;
                Ok(rows.len() as u64)
            }

            async fn put_mapped(
                &self,
                shop: &str,
                kind: &str,
                sf_object: &str,
                records: &[MappedRecord<'_>],
            ) -> Result<u64, StoreError> {
                const OP: &str = "put_mapped";
                let records = dedup_last(records, |r| r.shopify_id);
                if records.is_empty() {
                    return Ok(0);
                }
                let err = query_error(Self::BACKEND, OP);
                let mut tx = self.pool.begin().await.map_err(&err)?;
                Self::upsert_mapped(&mut tx, OP, shop, kind, sf_object, &records, Ts::now())
                    .await?;
                tx.commit().await.map_err(&err)?;
                Ok(records.len() as u64)
            }

            async fn get_mapping(
                &self,
                shop: &str,
                kind: &str,
                shopify_id: &str,
            ) -> Result<Option<MappingRecord>, StoreError> {
                const OP: &str = "get_mapping";
                Ok(sqlx::query_as::<_, MappingRow>(shared::GET_MAPPING)
                    .bind(shop)
                    .bind(kind)
                    .bind(shopify_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .map(MappingRecord::from))
            }

            async fn get_mappings<S: AsRef<str> + Sync>(
                &self,
                shop: &str,
                kind: &str,
                shopify_ids: &[S],
            ) -> Result<HashMap<String, MappingRecord>, StoreError> {
                const OP: &str = "get_mappings";
                let err = query_error(Self::BACKEND, OP);
                let mut out = HashMap::with_capacity(shopify_ids.len());
                for chunk in shopify_ids.chunks(sql::MAX_BIND_PARAMS - 2) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::GET_MAPPINGS_HEAD);
                    qb.push_bind(shop).push(" AND kind = ").push_bind(kind);
                    qb.push(" AND shopify_id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id.as_ref());
                    }
                    qb.push(")");
                    let rows = qb
                        .build_query_as::<MappingRow>()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(&err)?;
                    for record in rows.into_iter().map(MappingRecord::from) {
                        out.insert(record.shopify_id.clone(), record);
                    }
                }
                Ok(out)
            }

            async fn has_mappings(&self, shop: &str, kind: &str) -> Result<bool, StoreError> {
                const OP: &str = "has_mappings";
                let found: Option<i32> = sqlx::query_scalar(shared::HAS_MAPPINGS)
                    .bind(shop)
                    .bind(kind)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(found.is_some())
            }

            async fn count_mappings(
                &self,
                shop: Option<&str>,
                kind: Option<&str>,
            ) -> Result<u64, StoreError> {
                const OP: &str = "count_mappings";
                let n: i64 = sqlx::query_scalar(shared::COUNT_MAPPINGS)
                    .bind(shop)
                    .bind(kind)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(count(n))
            }

            async fn get_cursor(
                &self,
                shop: &str,
                resource: &str,
            ) -> Result<Option<String>, StoreError> {
                const OP: &str = "get_cursor";
                sqlx::query_scalar(shared::GET_CURSOR)
                    .bind(shop)
                    .bind(resource)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))
            }

            async fn set_cursor(
                &self,
                shop: &str,
                resource: &str,
                value: &str,
            ) -> Result<(), StoreError> {
                const OP: &str = "set_cursor";
                sqlx::query(shared::SET_CURSOR)
                    .bind(shop)
                    .bind(resource)
                    .bind(value)
                    .bind(Ts::now())
                    .execute(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(())
            }

            async fn put_company_contacts(
                &self,
                shop: &str,
                members: &[(String, String)],
            ) -> Result<u64, StoreError> {
                const OP: &str = "put_company_contacts";
                let err = query_error(Self::BACKEND, OP);
                if members.is_empty() {
                    return Ok(0);
                }
                let now = Ts::now();
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for (customer, company) in members {
                    sqlx::query(shared::PUT_COMPANY_CONTACT)
                        .bind(shop)
                        .bind(customer)
                        .bind(company)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?;
                }
                tx.commit().await.map_err(&err)?;
                Ok(members.len() as u64)
            }

            async fn company_contacts(
                &self,
                shop: &str,
            ) -> Result<HashMap<String, String>, StoreError> {
                const OP: &str = "company_contacts";
                let rows: Vec<(String, String)> = sqlx::query_as(shared::COMPANY_CONTACTS)
                    .bind(shop)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(rows.into_iter().collect())
            }

            async fn company_contact_export_hashes(
                &self,
                shop: &str,
            ) -> Result<HashMap<String, i64>, StoreError> {
                const OP: &str = "company_contact_export_hashes";
                let rows: Vec<(String, i64)> = sqlx::query_as(shared::COMPANY_CONTACT_HASHES)
                    .bind(shop)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(rows.into_iter().collect())
            }

            async fn set_company_contact_export_hashes(
                &self,
                shop: &str,
                hashes: &[(String, i64)],
            ) -> Result<(), StoreError> {
                const OP: &str = "set_company_contact_export_hashes";
                let err = query_error(Self::BACKEND, OP);
                if hashes.is_empty() {
                    return Ok(());
                }
                let now = Ts::now();
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for (customer, hash) in hashes {
                    sqlx::query(shared::SET_COMPANY_CONTACT_HASH)
                        .bind(shop)
                        .bind(customer)
                        .bind(*hash)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?;
                }
                tx.commit().await.map_err(&err)?;
                Ok(())
            }

            async fn put_orders(&self, orders: &[CachedOrder]) -> Result<u64, StoreError> {
                const OP: &str = "put_orders";
                let orders = dedup_last(orders, |o| (&o.shop, &o.order_id));
                if orders.is_empty() {
                    return Ok(0);
                }
                let err = query_error(Self::BACKEND, OP);
                let now = Ts::now();
                // In customer order: the customer index's pages are then visited once each
                // per batch instead of at random (customer ids arrive in no order).
                let mut orders = orders;
                orders.sort_unstable_by(|a, b| a.customer_id.cmp(&b.customer_id));
                let mut tx = self.pool.begin().await.map_err(&err)?;
                let mut written = 0;
                for chunk in orders.chunks(rows_per_statement(sql::MAX_BIND_PARAMS, 14)) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::ORDER_UPSERT_HEAD);
                    qb.push_values(chunk, |mut b, o| {
                        b.push_bind(o.shop.as_str())
                            .push_bind(o.order_id.as_str())
                            .push_bind(o.customer_id.as_deref())
                            .push_bind(o.email.as_deref())
                            .push_bind(o.phone.as_deref())
                            .push_bind(Ts::new(o.processed_at))
                            .push_bind(o.total_minor)
                            .push_bind(o.currency.as_str())
                            .push_bind(o.cancelled)
                            .push_bind(o.financial_status.as_deref())
                            .push_bind(o.refunded_minor)
                            .push_bind(o.company_id.as_deref())
                            .push_bind(o.test)
                            .push_bind(now);
                    });
                    qb.push(shared::ORDER_UPSERT_TAIL);
                    qb.push(sql::DIFFERS);
                    qb.push(shared::ORDER_UPSERT_EXCLUDED);
                    written += qb
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?
                        .rows_affected();
                }
                tx.commit().await.map_err(&err)?;
                Ok(written)
            }

            async fn suspend_order_index(&self) -> Result<bool, StoreError> {
                const OP: &str = "suspend_order_index";
                let err = query_error(Self::BACKEND, OP);
                // Two statements, no transaction: a SQLite read that turns into a write
                // fails at once (SQLITE_BUSY_SNAPSHOT) when another connection wrote in
                // between. Orders stored between the two leave nothing wrong: the index is
                // restored whatever the cache holds.
                let any: bool = sqlx::query_scalar(shared::ORDER_CACHE_ANY)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(&err)?;
                if any {
                    return Ok(false);
                }
                sqlx::query(shared::ORDER_INDEX_DROP)
                    .execute(&self.pool)
                    .await
                    .map_err(&err)?;
                Ok(true)
            }

            async fn restore_order_index(&self) -> Result<bool, StoreError> {
                const OP: &str = "restore_order_index";
                let err = query_error(Self::BACKEND, OP);
                let present: bool = sqlx::query_scalar(sql::ORDER_INDEX_PRESENT)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(&err)?;
                if present {
                    return Ok(false);
                }
                sqlx::query(sql::ORDER_INDEX_CREATE)
                    .execute(&self.pool)
                    .await
                    .map_err(&err)?;
                Ok(true)
            }

            async fn orders_for_customer(
                &self,
                shop: &str,
                customer_id: &str,
            ) -> Result<Vec<CachedOrder>, StoreError> {
                const OP: &str = "orders_for_customer";
                Ok(sqlx::query_as::<_, OrderRow>(shared::ORDERS_FOR_CUSTOMER)
                    .bind(shop)
                    .bind(customer_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(CachedOrder::from)
                    .collect())
            }

            async fn customer_order_stats(
                &self,
                shop: &str,
            ) -> Result<Vec<CustomerOrderStats>, StoreError> {
                const OP: &str = "customer_order_stats";
                Ok(sqlx::query_as::<_, StatsRow>(shared::CUSTOMER_ORDER_STATS)
                    .bind(shop)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(CustomerOrderStats::from)
                    .collect())
            }

            async fn order_aggregates(
                &self,
                shop: &str,
                by: AggregateBy,
                mapped_as: Option<&str>,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<OrderAggregate>, StoreError> {
                const OP: &str = "order_aggregates";
                let statement = match by {
                    AggregateBy::Customer => shared::CUSTOMER_AGGREGATES,
                    AggregateBy::Company => shared::COMPANY_AGGREGATES,
                };
                Ok(sqlx::query_as::<_, AggregateRow>(statement)
                    .bind(shop)
                    .bind(mapped_as)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(OrderAggregate::from)
                    .collect())
            }

            async fn dead_letter(&self, letters: &[NewDeadLetter]) -> Result<u64, StoreError> {
                const OP: &str = "dead_letter";
                let letters = dedup_last(letters, |l| (&l.object, &l.external_id));
                if letters.is_empty() {
                    return Ok(0);
                }
                let err = |e: sqlx::Error| match db_error_kind(&e) {
                    Some(ErrorKind::ForeignKeyViolation) => StoreError::InvalidArgument {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: "a dead letter names a run that does not exist".to_owned(),
                    },
                    _ => query_error(Self::BACKEND, OP)(e),
                };
                let now = Ts::now();
                let mut tx = self.pool.begin().await.map_err(err)?;
                for chunk in letters.chunks(rows_per_statement(sql::MAX_BIND_PARAMS, 10)) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::DEAD_LETTER_HEAD);
                    qb.push_values(chunk, |mut b, l| {
                        b.push_bind(l.run.map(|r| r.0))
                            .push_bind(l.shop.as_str())
                            .push_bind(l.object.as_str())
                            .push_bind(l.external_id.as_str())
                            .push_bind(l.payload.to_string())
                            .push_unseparated(sql::JSON_PARAM)
                            .push_bind(l.error_code.as_str())
                            .push_bind(l.message.as_str())
                            .push_bind(l.hint.as_deref())
                            .push("'open'")
                            .push("1")
                            .push_bind(now)
                            .push_bind(now);
                    });
                    qb.push(shared::DEAD_LETTER_TAIL);
                    qb.build().execute(&mut *tx).await.map_err(err)?;
                }
                tx.commit().await.map_err(err)?;
                Ok(letters.len() as u64)
            }

            async fn list_dead_letters(
                &self,
                filter: &DeadLetterFilter,
            ) -> Result<Vec<DeadLetter>, StoreError> {
                const OP: &str = "list_dead_letters";
                sqlx::query_as::<_, DeadLetterRow>(sql::LIST_DEAD_LETTERS)
                    .bind(filter.status.map(DeadLetterStatus::as_str))
                    .bind(filter.object.as_deref())
                    .bind(filter.shop.as_deref())
                    .bind(filter.after.map_or(0, |id| id.0))
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .collect()
            }

            async fn dead_letter_depth(&self) -> Result<u64, StoreError> {
                const OP: &str = "dead_letter_depth";
                let n: i64 = sqlx::query_scalar(shared::DEAD_LETTER_DEPTH)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(count(n))
            }

            async fn mark_dead_letters(
                &self,
                ids: &[DeadLetterId],
                status: DeadLetterStatus,
            ) -> Result<u64, StoreError> {
                const OP: &str = "mark_dead_letters";
                if ids.is_empty() {
                    return Ok(0);
                }
                let err = |e: sqlx::Error| match db_error_kind(&e) {
                    Some(ErrorKind::UniqueViolation) => StoreError::InvalidState {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: "cannot reopen a dead letter: its record already has an open one"
                            .to_owned(),
                    },
                    _ => query_error(Self::BACKEND, OP)(e),
                };
                let now = Ts::now();
                let mut changed = 0;
                let mut tx = self.pool.begin().await.map_err(err)?;
                for chunk in ids.chunks(sql::MAX_BIND_PARAMS - 2) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::MARK_DEAD_LETTERS_HEAD);
                    qb.push_bind(status.as_str())
                        .push(", updated_at = ")
                        .push_bind(now);
                    qb.push(" WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id.0);
                    }
                    qb.push(")");
                    changed += qb
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?
                        .rows_affected();
                }
                tx.commit().await.map_err(err)?;
                Ok(changed)
            }

            async fn bump_attempts(&self, ids: &[DeadLetterId]) -> Result<u64, StoreError> {
                const OP: &str = "bump_attempts";
                if ids.is_empty() {
                    return Ok(0);
                }
                let err = query_error(Self::BACKEND, OP);
                let now = Ts::now();
                let mut changed = 0;
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for chunk in ids.chunks(sql::MAX_BIND_PARAMS - 1) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::BUMP_ATTEMPTS_HEAD);
                    qb.push_bind(now).push(" WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id.0);
                    }
                    qb.push(")");
                    changed += qb
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?
                        .rows_affected();
                }
                tx.commit().await.map_err(&err)?;
                Ok(changed)
            }

            async fn get_payload_hashes<S: AsRef<str> + Sync>(
                &self,
                shop: &str,
                kind: &str,
                shopify_ids: &[S],
            ) -> Result<HashMap<String, i64>, StoreError> {
                self.mapping_rows::<(String, i64), _, _>(
                    "get_payload_hashes",
                    sql::GET_HASHES_JSON,
                    shop,
                    kind,
                    shopify_ids,
                )
                .await
            }

            async fn get_written_records<S: AsRef<str> + Sync>(
                &self,
                shop: &str,
                kind: &str,
                shopify_ids: &[S],
            ) -> Result<HashMap<String, Option<i64>>, StoreError> {
                self.mapping_rows::<(String, Option<i64>), _, _>(
                    "get_written_records",
                    sql::GET_WRITTEN_JSON,
                    shop,
                    kind,
                    shopify_ids,
                )
                .await
            }

            async fn add_withheld_writes(
                &self,
                run: RunId,
                counts: &[WithheldCount],
            ) -> Result<(), StoreError> {
                const OP: &str = "add_withheld_writes";
                let err = query_error(Self::BACKEND, OP);
                if counts.iter().all(|c| c.count == 0) {
                    return Ok(());
                }
                let now = Ts::now();
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for c in counts.iter().filter(|c| c.count > 0) {
                    sqlx::query(shared::ADD_WITHHELD)
                        .bind(&c.object)
                        .bind(&c.field)
                        .bind(&c.reason)
                        .bind(c.count)
                        .bind(run.0)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?;
                }
                tx.commit().await.map_err(&err)?;
                Ok(())
            }

            async fn withheld_writes(&self) -> Result<Vec<WithheldTotal>, StoreError> {
                const OP: &str = "withheld_writes";
                let rows: Vec<(String, String, String, i64, i64, i64)> =
                    sqlx::query_as(shared::WITHHELD)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(query_error(Self::BACKEND, OP))?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(object, field, reason, total, last_run, last_run_count)| WithheldTotal {
                            object,
                            field,
                            reason,
                            total,
                            last_run,
                            last_run_count,
                        },
                    )
                    .collect())
            }

            async fn put_crm_contacts(
                &self,
                contacts: &[crate::identity::CrmContact],
            ) -> Result<u64, StoreError> {
                const OP: &str = "put_crm_contacts";
                let contacts = dedup_last(contacts, |c| &c.id);
                if contacts.is_empty() {
                    return Ok(0);
                }
                let err = query_error(Self::BACKEND, OP);
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for chunk in contacts.chunks(sql::MAX_BIND_PARAMS / 12) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::CRM_CONTACTS_HEAD);
                    qb.push_values(chunk, |mut b, c| {
                        b.push_bind(&*c.id)
                            .push_bind(c.account_id.as_deref())
                            .push_bind(c.shopify_customer_id.as_deref())
                            .push_bind(c.shopify_store.as_deref())
                            .push_bind(c.email.as_deref())
                            .push_bind(c.phone.as_deref())
                            .push_bind(&*c.first_name)
                            .push_bind(&*c.last_name)
                            .push_bind(&*c.postal_code)
                            .push_bind(c.created)
                            .push_bind(c.consent_state.as_deref())
                            .push_bind(c.crm_consent_at);
                    });
                    qb.push(shared::CRM_CONTACTS_TAIL);
                    qb.build().execute(&mut *tx).await.map_err(&err)?;
                }
                tx.commit().await.map_err(&err)?;
                Ok(contacts.len() as u64)
            }

            async fn remove_crm_contacts(&self, ids: &[String]) -> Result<u64, StoreError> {
                const OP: &str = "remove_crm_contacts";
                if ids.is_empty() {
                    return Ok(0);
                }
                let err = query_error(Self::BACKEND, OP);
                let mut removed = 0;
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for chunk in ids.chunks(sql::MAX_BIND_PARAMS) {
                    let mut qb =
                        sqlx::QueryBuilder::<$db>::new("DELETE FROM crm_contacts WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id);
                    }
                    qb.push(")");
                    removed += qb
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?
                        .rows_affected();
                }
                tx.commit().await.map_err(&err)?;
                Ok(removed)
            }

            async fn crm_contacts_page(
                &self,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<crate::identity::CrmContact>, StoreError> {
                const OP: &str = "crm_contacts_page";
                let rows: Vec<$crate::store::imp::CrmContactRow> =
                    sqlx::query_as(shared::CRM_CONTACTS_PAGE)
                        .bind(after)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(query_error(Self::BACKEND, OP))?;
                Ok(rows
                    .into_iter()
                    .map($crate::store::imp::crm_contact)
                    .collect())
            }

            async fn crm_contact(
                &self,
                id: &str,
            ) -> Result<Option<crate::identity::CrmContact>, StoreError> {
                const OP: &str = "crm_contact";
                let row: Option<$crate::store::imp::CrmContactRow> =
                    sqlx::query_as(shared::CRM_CONTACT)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(query_error(Self::BACKEND, OP))?;
                Ok(row.map($crate::store::imp::crm_contact))
            }

            async fn review_decision(
                &self,
                shop: &str,
                kind: &str,
                shopify_id: &str,
            ) -> Result<Option<String>, StoreError> {
                const OP: &str = "review_decision";
                let row: Option<Option<String>> = sqlx::query_scalar(shared::REVIEW_DECISION)
                    .bind(shop)
                    .bind(kind)
                    .bind(shopify_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(row.flatten())
            }

            async fn update_consent_log(
                &self,
                shop: &str,
                updates: &[(String, ConsentUpdate)],
            ) -> Result<(), StoreError> {
                const OP: &str = "update_consent_log";
                if updates.is_empty() {
                    return Ok(());
                }
                let err = query_error(Self::BACKEND, OP);
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for (customer, update) in updates {
                    let (sql, mark) = match update {
                        ConsentUpdate::Shopify(mark) => (shared::CONSENT_SHOPIFY, mark.as_ref()),
                        ConsentUpdate::Pending(mark) => (shared::CONSENT_PENDING, Some(mark)),
                        ConsentUpdate::Pushed(mark) => (shared::CONSENT_PUSHED, Some(mark)),
                    };
                    sqlx::query(sql)
                        .bind(shop)
                        .bind(customer)
                        .bind(mark.map(|m| m.state.as_str()))
                        .bind(mark.and_then(|m| m.at))
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?;
                }
                tx.commit().await.map_err(&err)?;
                Ok(())
            }

            async fn consent_logs<S: AsRef<str> + Sync>(
                &self,
                shop: &str,
                customers: &[S],
            ) -> Result<HashMap<String, ConsentLog>, StoreError> {
                const OP: &str = "consent_logs";
                let err = query_error(Self::BACKEND, OP);
                let mut out = HashMap::with_capacity(customers.len());
                for chunk in customers.chunks(sql::MAX_BIND_PARAMS - 1) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::CONSENT_SELECT);
                    qb.push_bind(shop).push(" AND customer_id IN (");
                    let mut list = qb.separated(", ");
                    for c in chunk {
                        list.push_bind(c.as_ref());
                    }
                    qb.push(")");
                    let rows: Vec<$crate::store::imp::ConsentRow> = qb
                        .build_query_as()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(&err)?;
                    out.extend(rows.into_iter().map($crate::store::imp::consent_log));
                }
                Ok(out)
            }

            async fn pending_consent(
                &self,
                shop: &str,
            ) -> Result<Vec<(String, ConsentLog)>, StoreError> {
                const OP: &str = "pending_consent";
                let mut qb = sqlx::QueryBuilder::<$db>::new(shared::CONSENT_SELECT);
                qb.push_bind(shop)
                    .push(" AND pending_state IS NOT NULL ORDER BY customer_id");
                let rows: Vec<$crate::store::imp::ConsentRow> = qb
                    .build_query_as()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(rows
                    .into_iter()
                    .map($crate::store::imp::consent_log)
                    .collect())
            }

            async fn put_identity_links(&self, links: &[IdentityLink]) -> Result<u64, StoreError> {
                const OP: &str = "put_identity_links";
                if links.is_empty() {
                    return Ok(0);
                }
                let err = query_error(Self::BACKEND, OP);
                let now = Ts::now();
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for l in links {
                    sqlx::query(shared::PUT_IDENTITY_LINK)
                        .bind(&l.shop)
                        .bind(&l.customer_id)
                        .bind(&l.contact_id)
                        .bind(&l.account_id)
                        .bind(&l.tier)
                        .bind(l.primary)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?;
                }
                tx.commit().await.map_err(&err)?;
                Ok(links.len() as u64)
            }

            async fn identity_links(
                &self,
                shop: &str,
            ) -> Result<HashMap<String, IdentityLink>, StoreError> {
                const OP: &str = "identity_links";
                let rows: Vec<(String, String, String, String, String, bool)> =
                    sqlx::query_as(shared::IDENTITY_LINKS)
                        .bind(shop)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(query_error(Self::BACKEND, OP))?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(shop, customer_id, contact_id, account_id, tier, primary)| {
                            (
                                customer_id.clone(),
                                IdentityLink {
                                    shop,
                                    customer_id,
                                    contact_id,
                                    account_id,
                                    tier,
                                    primary,
                                },
                            )
                        },
                    )
                    .collect())
            }

            async fn forget_payload_hashes<S: AsRef<str> + Sync>(
                &self,
                shop: &str,
                kind: &str,
                shopify_ids: &[S],
            ) -> Result<u64, StoreError> {
                const OP: &str = "forget_payload_hashes";
                if shopify_ids.is_empty() {
                    return Ok(0);
                }
                let err = query_error(Self::BACKEND, OP);
                let mut forgotten = 0;
                let mut tx = self.pool.begin().await.map_err(&err)?;
                for chunk in shopify_ids.chunks(sql::MAX_BIND_PARAMS - 2) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(shared::FORGET_HASHES_HEAD);
                    qb.push_bind(shop).push(" AND kind = ").push_bind(kind);
                    qb.push(" AND shopify_id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id.as_ref());
                    }
                    qb.push(")");
                    forgotten += qb
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?
                        .rows_affected();
                }
                tx.commit().await.map_err(&err)?;
                Ok(forgotten)
            }

            async fn add_review(&self, review: &NewReview) -> Result<ReviewId, StoreError> {
                const OP: &str = "add_review";
                let candidates = serde_json::Value::from(review.candidates.clone()).to_string();
                let id: i64 = sqlx::query_scalar(sql::ADD_REVIEW)
                    .bind(review.shop.as_str())
                    .bind(review.shopify_kind.as_str())
                    .bind(review.shopify_id.as_str())
                    .bind(review.sf_object.as_str())
                    .bind(review.reason.as_str())
                    .bind(candidates)
                    .bind(Ts::now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?;
                Ok(ReviewId(id))
            }

            async fn get_review(&self, id: ReviewId) -> Result<Option<Review>, StoreError> {
                const OP: &str = "get_review";
                sqlx::query_as::<_, ReviewRow>(sql::GET_REVIEW)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .transpose()
            }

            async fn list_reviews(
                &self,
                status: ReviewStatus,
                limit: u32,
            ) -> Result<Vec<Review>, StoreError> {
                const OP: &str = "list_reviews";
                sqlx::query_as::<_, ReviewRow>(sql::LIST_REVIEWS)
                    .bind(status.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_error(Self::BACKEND, OP))?
                    .into_iter()
                    .map(|r| r.decode(Self::BACKEND, OP))
                    .collect()
            }

            async fn resolve_review(
                &self,
                id: ReviewId,
                resolution: &str,
            ) -> Result<(), StoreError> {
                const OP: &str = "resolve_review";
                if resolution.trim().is_empty() {
                    return Err(StoreError::InvalidArgument {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: "the resolution is empty".to_owned(),
                    });
                }
                let err = query_error(Self::BACKEND, OP);
                let done = sqlx::query(shared::RESOLVE_REVIEW)
                    .bind(id.0)
                    .bind(resolution)
                    .bind(Ts::now())
                    .execute(&self.pool)
                    .await
                    .map_err(&err)?;
                if done.rows_affected() > 0 {
                    return Ok(());
                }
                let status: Option<String> = sqlx::query_scalar(shared::REVIEW_STATUS)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(&err)?;
                Err(match status {
                    None => StoreError::NotFound {
                        backend: Self::BACKEND,
                        op: OP,
                        entity: "review",
                        id: id.0,
                    },
                    Some(status) => StoreError::InvalidState {
                        backend: Self::BACKEND,
                        op: OP,
                        detail: format!("review {id} is already {status}"),
                    },
                })
            }
        }
    };
}
pub(crate) use impl_state_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_rows_serialize_as_id_id_hash_arrays_within_their_length_hint() {
        let records = [
            MappedRecord {
                shopify_id: "14500000000000",
                sf_id: "8025g0000000FfGAAU",
                payload_hash: Some(i64::MIN),
            },
            MappedRecord {
                shopify_id: "quote\"and\\backslash",
                sf_id: "",
                payload_hash: None,
            },
        ];
        let refs: Vec<&MappedRecord<'_>> = records.iter().collect();
        let rows = MappedRows(&refs);
        let json = json_param_sized(Backend::Sqlite, "test", &rows, rows.json_len_hint()).unwrap();
        assert_eq!(
            json,
            r#"[["14500000000000","8025g0000000FfGAAU",-9223372036854775808],["quote\"and\\backslash","",null]]"#
        );
        let plain: Vec<_> = records
            .iter()
            .map(|r| (r.shopify_id, r.sf_id, r.payload_hash))
            .collect();
        assert_eq!(json, json_param(Backend::Sqlite, "test", &plain).unwrap());
        // Ids needing no escapes fit the hint, so the buffer is not grown.
        let plain_ids = MappedRows(&refs[..1]);
        let one = json_param_sized(Backend::Sqlite, "test", &plain_ids, 0).unwrap();
        assert!(one.len() <= plain_ids.json_len_hint());
    }

    #[test]
    fn dedup_keeps_the_last_row_per_key_in_order() {
        let rows = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)];
        let kept: Vec<_> = dedup_last(&rows, |r| r.0).into_iter().copied().collect();
        assert_eq!(kept, [("a", 3), ("c", 4), ("b", 5)]);
    }

    /// The per-customer sums read the order cache's customer index alone (no lookup in
    /// the table per order: see migration 0007).
    #[tokio::test]
    async fn customer_aggregates_scan_only_the_customer_index() {
        let store = crate::store::sqlite::SqliteStore::open_in_memory()
            .await
            .unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            shared::CUSTOMER_AGGREGATES
        )))
        .bind("shop")
        .bind("customer")
        .bind(None::<String>)
        .bind(100_i64)
        .fetch_all(store.pool())
        .await
        .unwrap();
        let steps: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
        assert!(
            steps
                .iter()
                .any(|s| s.contains("COVERING INDEX order_cache_customer")),
            "{steps:?}"
        );
    }

    #[test]
    fn chunk_sizes_respect_the_parameter_limit() {
        assert_eq!(rows_per_statement(32_766, 6), 5_461);
        assert!(rows_per_statement(32_766, 11) * 11 <= 32_766);
        assert_eq!(rows_per_statement(3, 11), 1);
    }

    #[test]
    fn job_phases_only_move_forward() {
        use JobPhase::*;
        let allowed = |to| {
            let mut v: Vec<_> = allowed_predecessors(to).to_vec();
            v.sort_by_key(|p| p.as_str());
            v.dedup();
            v
        };
        assert_eq!(allowed(Planned), [Planned]);
        assert_eq!(allowed(Created), [Created, Planned]);
        assert_eq!(allowed(Completed), [Completed, Created, Planned, Uploaded]);
        assert_eq!(
            allowed(Aborted),
            [Aborted, Completed, Created, Planned, Uploaded]
        );
        assert_eq!(
            allowed(ResultsStored),
            [Completed, Created, Planned, ResultsStored, Uploaded]
        );
    }
}
