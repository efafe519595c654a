//! The PostgreSQL backend: a shared database for production deployments.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};

use super::StateStore as _;
use super::error::{Backend, StoreError};
use super::imp::{
    AggregateRow, DeadLetterRow, JobRow, MappingRow, OrderRow, ReviewRow, RunRow, StatsRow,
    allowed_predecessors, count, db_error_kind, dedup_last, impl_state_store, query_error,
    rows_per_statement, shared,
};
use super::migrate;
use super::target::{redact, scrub};
use super::ts::Ts;
use super::types::*;

/// Connections in the pool.
const POOL_SIZE: u32 = 10;

/// How long a caller waits for a free connection (or for a new one to open).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL dialect of the statements that differ between backends: JSON columns are
/// `JSONB`, so JSON parameters are cast from text and JSON columns are read as text.
mod sql {
    /// The wire protocol's limit on bind parameters per statement (an `i16` count).
    pub const MAX_BIND_PARAMS: usize = 65_535;
    /// Cast for a JSON text parameter.
    pub const JSON_PARAM: &str = "::jsonb";
    /// Null-safe "differs" between two row constructors (NULL is not taken to differ from
    /// NULL).
    pub const DIFFERS: &str = "IS DISTINCT FROM";

    /// Upserts id mappings sharing shop ($1), kind ($2) and object ($3), given as one JSON
    /// array of `[shopify_id, sf_id, payload_hash]` rows ($5) stamped $4: one bound parameter
    /// per batch instead of seven per row.
    pub const MAPPED_UPSERT_JSON: &str = "INSERT INTO id_mappings (shop, kind, shopify_id, \
         sf_object, sf_id, payload_hash, updated_at) \
         SELECT $1, $2, r ->> 0, $3, r ->> 1, (r ->> 2)::bigint, $4 \
         FROM jsonb_array_elements($5::jsonb) AS t (r) \
         ON CONFLICT (shop, kind, shopify_id) DO UPDATE SET sf_object = excluded.sf_object, \
         sf_id = excluded.sf_id, payload_hash = excluded.payload_hash, \
         updated_at = excluded.updated_at";
    /// Payload hashes of the shop ($1) and kind ($2) mappings whose ids are in the JSON
    /// array $3, as one JSON array of `[shopify_id, payload_hash]` (`NULL` when none).
    pub const GET_WRITTEN_JSON: &str = "SELECT json_agg(json_build_array(m.shopify_id, \
         m.payload_hash))::text \
         FROM jsonb_array_elements_text($3::jsonb) AS j (id) \
         JOIN id_mappings AS m ON m.shop = $1 AND m.kind = $2 AND m.shopify_id = j.id";
    pub const GET_HASHES_JSON: &str = "SELECT json_agg(json_build_array(m.shopify_id, \
         m.payload_hash))::text \
         FROM jsonb_array_elements_text($3::jsonb) AS j (id) \
         JOIN id_mappings AS m ON m.shop = $1 AND m.kind = $2 AND m.shopify_id = j.id \
         WHERE m.payload_hash IS NOT NULL";

    /// Whether the order cache's per-customer index exists.
    pub const ORDER_INDEX_PRESENT: &str = "SELECT to_regclass('order_cache_customer') IS NOT NULL";
    /// The order cache's per-customer index as the migrations leave it (0007): the same
    /// definition, checked by a test against a freshly migrated store's.
    pub const ORDER_INDEX_CREATE: &str = "CREATE INDEX IF NOT EXISTS order_cache_customer \
         ON order_cache (shop, customer_id, processed_at) \
         INCLUDE (total_minor, refunded_minor, currency, cancelled, is_test, financial_status)";

    pub const FINISH_RUN: &str =
        "UPDATE runs SET status = $2, finished_at = $3, summary = $4::jsonb WHERE id = $1";
    pub const GET_RUN: &str = "SELECT id, shop, kind, status, started_at, finished_at, \
         summary::text AS summary FROM runs WHERE id = $1";
    pub const RECENT_RUNS: &str = "SELECT id, shop, kind, status, started_at, finished_at, \
         summary::text AS summary FROM runs ORDER BY id DESC LIMIT $1";
    pub const INTERRUPTED_RUNS: &str = "SELECT id, shop, kind, status, started_at, finished_at, \
         summary::text AS summary FROM runs WHERE status = 'interrupted' ORDER BY id";

    pub const LIST_DEAD_LETTERS: &str = "SELECT id, run_id, shop, object, external_id, \
         payload::text AS payload, error_code, message, hint, status, attempts, created_at, \
         updated_at FROM dead_letters \
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR object = $2) \
         AND ($3::text IS NULL OR shop = $3) AND id > $4 ORDER BY id LIMIT $5";

    pub const ADD_REVIEW: &str = "INSERT INTO reviews (shop, shopify_kind, shopify_id, \
         sf_object, reason, candidates, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, 'open', $7, $7) \
         ON CONFLICT (shop, shopify_kind, shopify_id) WHERE status = 'open' DO UPDATE SET \
         sf_object = excluded.sf_object, reason = excluded.reason, \
         candidates = excluded.candidates, updated_at = excluded.updated_at RETURNING id";
    pub const GET_REVIEW: &str = "SELECT id, shop, shopify_kind, shopify_id, sf_object, reason, \
         candidates::text AS candidates, status, resolution, created_at, updated_at, resolved_at \
         FROM reviews WHERE id = $1";
    pub const LIST_REVIEWS: &str = "SELECT id, shop, shopify_kind, shopify_id, sf_object, \
         reason, candidates::text AS candidates, status, resolution, created_at, updated_at, \
         resolved_at FROM reviews WHERE status = $1 ORDER BY id LIMIT $2";
}

/// The state store in a PostgreSQL database.
///
/// The URL is handed to the driver as is (`sslmode`, `options`, `application_name` and the
/// other libpq-style parameters work); it is only ever shown with its password redacted.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The URL with any password replaced by `***`.
    url: String,
}

impl PostgresStore {
    const BACKEND: Backend = Backend::Postgres;

    /// Connects to the database at `url` and applies the migrations.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let shown = redact(url);
        let connect_error = |message: String| StoreError::Connect {
            backend: Self::BACKEND,
            url: shown.clone(),
            message: scrub(&message, url),
        };
        let options = PgConnectOptions::from_str(url).map_err(|e| connect_error(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        migrate::POSTGRES
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: Self::BACKEND,
                url: shown.clone(),
                source,
            })?;
        tracing::debug!(message = "State store opened.", backend = %Self::BACKEND, url = %shown);
        let store = PostgresStore { pool, url: shown };
        // A run that stopped during a first load of the order cache left it unindexed.
        store.restore_order_index().await?;
        Ok(store)
    }

    /// The URL the store was opened with, password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection pool, for callers that need a statement the store does not offer.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .field("connections", &self.pool.size())
            .finish()
    }
}

impl_state_store!(PostgresStore, Postgres);
