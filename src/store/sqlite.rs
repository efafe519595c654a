//! The SQLite backend: one local file, WAL journal, one engine process.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

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

/// How long a statement waits for another connection's write lock before failing with
/// `SQLITE_BUSY`. Batched writes of a few hundred thousand rows hold it for about a second.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections in the pool. SQLite allows one writer at a time; in WAL mode readers do not
/// block it, so a few connections let reads run beside a batched write.
const POOL_SIZE: u32 = 4;

/// How often the [`Checkpointer`] copies committed pages from the WAL into the database
/// file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The SQLite dialect of the statements that differ between backends.
mod sql {
    /// `SQLITE_MAX_VARIABLE_NUMBER` of the bundled SQLite (3.32+).
    pub const MAX_BIND_PARAMS: usize = 32_766;
    /// JSON columns are TEXT: a JSON parameter needs no cast.
    pub const JSON_PARAM: &str = "";
    /// Null-safe "differs" between two row values (NULL is not taken to differ from NULL).
    pub const DIFFERS: &str = "IS NOT";

    /// Upserts id mappings sharing shop ($1), kind ($2) and object ($3), given as one JSON
    /// array of `[shopify_id, sf_id, payload_hash]` rows ($5) stamped $4: one bound parameter
    /// per batch instead of seven per row. `jsonb_each` hands each row over in SQLite's
    /// binary form, so `->>` reads it without parsing its text again (`json_each` gives
    /// each row as text: 900,000 rows upsert in 1.5-1.85 s instead of 2.15-2.25 s).
    pub const MAPPED_UPSERT_JSON: &str = "INSERT INTO id_mappings (shop, kind, shopify_id, \
         sf_object, sf_id, payload_hash, updated_at) \
         SELECT $1, $2, value ->> 0, $3, value ->> 1, value ->> 2, $4 \
         FROM jsonb_each($5) WHERE true \
         ON CONFLICT (shop, kind, shopify_id) DO UPDATE SET sf_object = excluded.sf_object, \
         sf_id = excluded.sf_id, payload_hash = excluded.payload_hash, \
         updated_at = excluded.updated_at";
    /// Payload hashes of the shop ($1) and kind ($2) mappings whose ids are in the JSON
    /// array $3, as one JSON array of `[shopify_id, payload_hash]` (one row per lookup).
    /// (`CROSS JOIN` keeps the array as the outer loop: one primary-key seek per id; left
    /// to itself the planner may scan the table once per id.)
    pub const GET_WRITTEN_JSON: &str = "SELECT json_group_array(json_array(m.shopify_id, \
         m.payload_hash)) FROM json_each($3) AS j CROSS JOIN id_mappings AS m \
         WHERE m.shop = $1 AND m.kind = $2 AND m.shopify_id = j.value";
    pub const GET_HASHES_JSON: &str = "SELECT json_group_array(json_array(m.shopify_id, \
         m.payload_hash)) FROM json_each($3) AS j CROSS JOIN id_mappings AS m \
         WHERE m.shop = $1 AND m.kind = $2 AND m.shopify_id = j.value \
         AND m.payload_hash IS NOT NULL";

    /// Whether the order cache's per-customer index exists.
    pub const ORDER_INDEX_PRESENT: &str = "SELECT EXISTS (SELECT 1 FROM sqlite_master \
         WHERE type = 'index' AND name = 'order_cache_customer')";
    /// The order cache's per-customer index as the migrations leave it (0007): the same
    /// definition, checked by a test against a freshly migrated store's. Its sort spills to
    /// temporary files, not to memory as the store's other statements do: in memory, the
    /// runs of a first load's 300,000 orders stayed in the C heap (kept for reuse, see
    /// `keep_c_heap`) and added tens of megabytes to the engine's peak RSS. The last
    /// statement puts back the connection's own setting (`temp_store` in `connect`).
    pub const ORDER_INDEX_CREATE: &str = "PRAGMA temp_store = FILE; \
         CREATE INDEX IF NOT EXISTS order_cache_customer \
         ON order_cache (shop, customer_id, processed_at, total_minor, refunded_minor, \
         currency, cancelled, is_test, financial_status); \
         PRAGMA temp_store = MEMORY";

    pub const FINISH_RUN: &str =
        "UPDATE runs SET status = $2, finished_at = $3, summary = $4 WHERE id = $1";
    pub const GET_RUN: &str = "SELECT id, shop, kind, status, started_at, finished_at, summary \
         FROM runs WHERE id = $1";
    pub const RECENT_RUNS: &str = "SELECT id, shop, kind, status, started_at, finished_at, \
         summary FROM runs ORDER BY id DESC LIMIT $1";
    pub const INTERRUPTED_RUNS: &str = "SELECT id, shop, kind, status, started_at, finished_at, \
         summary FROM runs WHERE status = 'interrupted' ORDER BY id";

    pub const LIST_DEAD_LETTERS: &str = "SELECT id, run_id, shop, object, external_id, payload, \
         error_code, message, hint, status, attempts, created_at, updated_at FROM dead_letters \
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR object = $2) \
         AND ($3 IS NULL OR shop = $3) AND id > $4 ORDER BY id LIMIT $5";

    pub const ADD_REVIEW: &str = "INSERT INTO reviews (shop, shopify_kind, shopify_id, \
         sf_object, reason, candidates, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $7) \
         ON CONFLICT (shop, shopify_kind, shopify_id) WHERE status = 'open' DO UPDATE SET \
         sf_object = excluded.sf_object, reason = excluded.reason, \
         candidates = excluded.candidates, updated_at = excluded.updated_at RETURNING id";
    pub const GET_REVIEW: &str = "SELECT id, shop, shopify_kind, shopify_id, sf_object, reason, \
         candidates, status, resolution, created_at, updated_at, resolved_at FROM reviews \
         WHERE id = $1";
    pub const LIST_REVIEWS: &str = "SELECT id, shop, shopify_kind, shopify_id, sf_object, \
         reason, candidates, status, resolution, created_at, updated_at, resolved_at \
         FROM reviews WHERE status = $1 ORDER BY id LIMIT $2";
}

/// Has the C library's allocator keep freed memory for reuse instead of handing it back
/// to the kernel after every batch. Call it once, at the start of the process, before any
/// thread is started.
///
/// SQLite allocates through the C library, not through Rust's allocator. Each batched
/// statement takes a few large blocks: its bound JSON array or values, copied on binding,
/// and the parsed form of the array. Left to itself, glibc maps blocks that large
/// separately and unmaps them on free, and trims the top of its heap as soon as 128 KiB
/// there are free. Every batch then touched fresh pages, which the kernel must fault in and
/// clear: a fifth of the engine's page faults in the sync benchmark (BENCHMARKS.md,
/// eleventh stop). With these settings, blocks up to 32 MiB come from the heap, the heap
/// keeps up to 64 MiB of free space at its top, so the next batch reuses the same pages,
/// and one arena serves every thread, so that what is kept is kept once, not once per
/// SQLite worker thread (Rust's own allocations do not go through glibc).
///
/// Does nothing on platforms other than Linux with glibc.
#[allow(unsafe_code)] // The project's only unsafe code: one libc call, see SAFETY below.
pub fn keep_c_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's largest mmap threshold on 64-bit platforms (`DEFAULT_MMAP_THRESHOLD_MAX`).
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 64 << 20;
        // SAFETY: mallopt only changes allocator parameters. glibc applies them under the
        // main arena's lock, and they take effect for later allocations only; no memory is
        // freed or moved by the call.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    }
}

/// The state store in a SQLite database.
///
/// Opened with WAL journaling, `synchronous = NORMAL` (a power cut may lose the last
/// transactions, never corrupt the file), foreign keys on, and a busy timeout. The file and
/// its parent directory are created on first use. The WAL is copied into the database file
/// mostly by a [`Checkpointer`] beside the writers; the commit that takes it over 64 MiB
/// copies only what is left.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The URL as given (SQLite URLs carry no secrets), for logs and errors.
    url: String,
    /// The database file; `None` for an in-memory database.
    path: Option<PathBuf>,
    /// `None` for an in-memory database (it has no WAL).
    checkpointer: Option<Arc<Checkpointer>>,
}

/// Copies committed pages from the WAL into the database file every [`CHECKPOINT_EVERY`],
/// on a connection of its own.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the WAL over its
/// threshold: that writer stops to copy the whole WAL (64 MiB) and sync both files while the
/// writes queued behind it wait (0.4 s each time in the sync benchmark, twice while the
/// 899,490 line-item mappings were stored). This task copies the pages as they come, on
/// the other core; the commit that crosses the threshold finds little left to copy. A
/// `PASSIVE` checkpoint takes no lock a writer or reader waits for, so while writes keep
/// coming it rarely finds the WAL complete, and the WAL starts over only after a complete
/// checkpoint (alone, it let the file grow to 500 MB in the benchmark). The commits' own
/// checkpoint is kept for that: it runs between one batch and the next, completes the WAL,
/// and the next write starts it over (the file peaked at 152 MB, against 98 MB with the
/// commits checkpointing alone).
struct Checkpointer {
    stop: tokio::sync::watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    /// Opens the checkpointing connection and starts checkpointing.
    async fn start(options: SqliteConnectOptions) -> Result<Checkpointer, sqlx::Error> {
        let mut connection = options.connect().await?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Stopped, or the store dropped without being closed.
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
                }
                let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&mut connection)
                    .await;
                if let Err(error) = done {
                    // Nothing is lost: the pages stay in the WAL for the next checkpoint (or
                    // the one SQLite makes when the last connection closes).
                    tracing::debug!(%error, "WAL checkpoint failed; retried at the next interval");
                }
            }
            let _ = connection.close().await;
        });
        Ok(Checkpointer {
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// Stops checkpointing and closes the connection.
    async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;

    /// Opens (creating if needed) the SQLite database at `path` and applies the migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        Self::connect(&path.display().to_string(), Some(path.to_path_buf())).await
    }

    /// Opens a private in-memory database (gone when the store is closed or dropped).
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::connect("sqlite::memory:", None).await
    }

    /// `path` is `None` for an in-memory database.
    pub(crate) async fn connect(
        url: &str,
        path: Option<PathBuf>,
    ) -> Result<SqliteStore, StoreError> {
        let shown = redact(url);
        let connect_error = |message: String| StoreError::Connect {
            backend: Self::BACKEND,
            url: shown.clone(),
            message: scrub(&message, url),
        };
        let (options, pool_options) = match &path {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir).await.map_err(|e| {
                        connect_error(format!("cannot create directory {}: {e}", dir.display()))
                    })?;
                }
                (
                    SqliteConnectOptions::new().filename(path),
                    SqlitePoolOptions::new().max_connections(POOL_SIZE),
                )
            }
            None => (
                // A uniquely named shared-cache database that every pool connection sees;
                // keep one connection open for good so it does not vanish.
                SqliteConnectOptions::from_str("sqlite::memory:")
                    .map_err(|e| connect_error(e.to_string()))?,
                SqlitePoolOptions::new()
                    .max_connections(POOL_SIZE)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None),
            ),
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // The default page cache (2 MiB) thrashes once the id-mapping and hash tables
            // outgrow it: every batched upsert then re-reads and re-writes pages, and a
            // million-row run writes gigabytes to the WAL. Up to 4 MiB per connection (16
            // cost 38 MB of peak RSS for no speed once writes were sorted); the memory is
            // taken only as pages are used.
            .pragma("cache_size", "-4096")
            // 16 KiB pages for a new database (an existing one keeps the size it was made
            // with): a quarter as many page reads and writes as with 4 KiB pages for the
            // same rows, each a system call and a copy, since the tables outgrow the page
            // cache. Standalone, storing 300,000 orders in the order cache took 3.5-4.3 s
            // instead of 5.2-6.7 s, and the benchmark's first sync was faster; 32 and 64
            // KiB were faster still on writes but made the rerun 15-30 % slower (one page
            // read per randomly placed key).
            .page_size(16_384)
            .pragma("temp_store", "memory")
            // A commit that finds the WAL over 64 MiB checkpoints what the Checkpointer has
            // not copied yet (little), and completes it, so the next write starts the WAL
            // over (see Checkpointer).
            .pragma("wal_autocheckpoint", "16384");
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        migrate::SQLITE
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: Self::BACKEND,
                url: shown.clone(),
                source,
            })?;
        let checkpointer = match path {
            Some(_) => Some(Arc::new(
                Checkpointer::start(options)
                    .await
                    .map_err(|e| connect_error(e.to_string()))?,
            )),
            None => None,
        };
        tracing::debug!(message = "State store opened.", backend = %Self::BACKEND, url = %shown);
        let store = SqliteStore {
            pool,
            url: shown,
            path,
            checkpointer,
        };
        // A run that stopped during a first load of the order cache left it unindexed.
        store.restore_order_index().await?;
        Ok(store)
    }

    /// The URL the store was opened with, password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file, or `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The connection pool, for callers that need a statement the store does not offer.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (checkpointing the WAL into the database file).
    pub async fn close(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop().await;
        }
        self.pool.close().await;
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("url", &self.url)
            .field("connections", &self.pool.size())
            .finish()
    }
}

impl_state_store!(SqliteStore, Sqlite);
