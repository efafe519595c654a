//! The state store against both real backends: every behaviour runs once on a SQLite file in
//! a temporary directory and once on PostgreSQL, in a fresh schema of the server at
//! `SHOPFORCE_TEST_POSTGRES_URL` (default: the local server, see `support::postgres_url`),
//! dropped afterwards, so tests run in parallel.

use std::future::Future;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;
use shopforce::store::{
    AggregateBy, Backend, CachedOrder, DeadLetterFilter, DeadLetterId, DeadLetterStatus, JobKey,
    JobPhase, MappedRecord, Mapping, NewDeadLetter, NewJob, NewReview, POSTGRES_MIGRATOR, ReviewId,
    ReviewStatus, RunId, RunStatus, SQLITE_MIGRATOR, SqliteStore, StateStore, Store, StoreError,
};
use tempfile::TempDir;

const SHOP: &str = "acme.myshopify.com";
const OTHER_SHOP: &str = "globex.myshopify.com";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A database a test may connect to (as often as it likes).
#[derive(Clone)]
struct Db {
    url: String,
    backend: Backend,
}

impl Db {
    async fn connect(&self) -> Store {
        let store = Store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.backend));
        assert_eq!(store.backend(), self.backend);
        store
    }
}

async fn on_sqlite<F, Fut>(check: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = TempDir::new().expect("temp dir");
    let db = Db {
        url: format!("sqlite:{}", dir.path().join("state.db").display()),
        backend: Backend::Sqlite,
    };
    let outcome = tokio::spawn(check(db)).await;
    drop(dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn on_postgres<F, Fut>(check: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = crate::support::PgSchema::create("shopforce_test").await;
    let db = Db {
        url: schema.url.clone(),
        backend: Backend::Postgres,
    };
    let outcome = tokio::spawn(check(db)).await;
    schema.drop().await.expect("drop schema");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// For each check `name`, tests `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::on_sqlite(super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::on_postgres(super::$name).await;
            }
        }
    )+};
}

on_both_backends!(
    runs_lifecycle,
    unfinished_runs_are_interrupted_by_the_next_start,
    bulk_jobs_lifecycle,
    bulk_job_phases_only_move_forward,
    mappings_upsert_in_batches,
    mappings_at_scale_cross_chunk_boundaries,
    cursors,
    company_contacts_are_remembered_per_shop,
    the_identity_index_and_links_persist,
    order_cache_and_customer_stats,
    a_first_order_load_builds_the_customer_index_afterwards,
    order_aggregates_for_metrics,
    dead_letter_queue_lifecycle,
    dead_letter_batches_are_atomic,
    payload_hashes,
    payload_hashes_of_schema_1_carry_over,
    mapped_batches_share_shop_kind_and_object,
    review_queue,
    reconnect_keeps_data_and_migrations_are_idempotent,
    store_futures_can_be_spawned_concurrently,
);

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn mapping(shop: &str, kind: &str, shopify_id: &str, sf_id: &str) -> Mapping {
    Mapping {
        shop: shop.into(),
        kind: kind.into(),
        shopify_id: shopify_id.into(),
        sf_object: "Contact".into(),
        sf_id: sf_id.into(),
        payload_hash: None,
    }
}

fn hashed(kind: &str, shopify_id: &str, hash: i64) -> Mapping {
    Mapping {
        payload_hash: Some(hash),
        ..mapping(SHOP, kind, shopify_id, "003H")
    }
}

fn new_job(run: RunId, object: &str, part: i32) -> NewJob {
    NewJob {
        run,
        object: object.into(),
        operation: "upsert".into(),
        external_id_field: Some("Shopify_Customer_ID__c".into()),
        part,
        attempt: 1,
        row_count: 1000,
        payload_path: Some(format!("/var/lib/shopforce/jobs/{object}-{part}.csv")),
    }
}

fn letter(object: &str, external_id: &str, run: Option<RunId>) -> NewDeadLetter {
    NewDeadLetter {
        run,
        shop: SHOP.into(),
        object: object.into(),
        external_id: external_id.into(),
        payload: json!({"Email": format!("{external_id}@example"), "nested": {"tags": ["a", "b"]}}),
        error_code: "INVALID_EMAIL_ADDRESS".into(),
        message: "Email: invalid email address".into(),
        hint: Some("Fix the customer's email in Shopify.".into()),
    }
}

fn order(id: &str, customer: Option<&str>, processed_at: DateTime<Utc>, total: i64) -> CachedOrder {
    CachedOrder {
        shop: SHOP.into(),
        order_id: id.into(),
        customer_id: customer.map(Into::into),
        email: customer.map(|c| format!("{c}@example.com")),
        phone: None,
        processed_at,
        total_minor: total,
        currency: "USD".into(),
        cancelled: false,
        financial_status: Some("PAID".into()),
        refunded_minor: 0,
        company_id: None,
        test: false,
    }
}

// ---------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------

async fn runs_lifecycle(db: Db) {
    let store = db.connect().await;
    let before = Utc::now() - TimeDelta::seconds(1);
    let first = store.start_run(SHOP, "backfill").await.unwrap();
    let second = store.start_run(SHOP, "incremental").await.unwrap();
    assert!(second > first);

    let running = store.get_run(first).await.unwrap().expect("run exists");
    assert_eq!(running.status, RunStatus::Running);
    assert_eq!(
        (running.shop.as_str(), running.kind.as_str()),
        (SHOP, "backfill")
    );
    assert!(running.started_at >= before && running.finished_at.is_none());
    assert_eq!(running.summary, None);

    let summary = json!({"upserted": 1200, "failed": 3, "objects": ["Contact", "Order"]});
    store
        .finish_run(first, RunStatus::Succeeded, &summary)
        .await
        .unwrap();
    let done = store.get_run(first).await.unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    assert_eq!(done.summary, Some(summary));
    assert!(done.finished_at.unwrap() >= done.started_at);

    store
        .finish_run(
            second,
            RunStatus::Failed,
            &json!({"error": "token expired"}),
        )
        .await
        .unwrap();

    let recent = store.recent_runs(10).await.unwrap();
    assert_eq!(
        recent.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(recent[0].status, RunStatus::Failed);
    assert_eq!(store.recent_runs(1).await.unwrap().len(), 1);

    let err = store
        .finish_run(first, RunStatus::Running, &json!(null))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument { .. }), "{err}");
    let err = store
        .finish_run(RunId(999_999), RunStatus::Succeeded, &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("finish_run")
            && text.contains("run 999999")
            && text.contains(db.backend.name()),
        "{text}"
    );
    assert!(store.get_run(RunId(999_999)).await.unwrap().is_none());
}

async fn unfinished_runs_are_interrupted_by_the_next_start(db: Db) {
    let store = db.connect().await;
    let crashed = store.start_run(SHOP, "backfill").await.unwrap();
    let other_kind = store.start_run(SHOP, "webhooks").await.unwrap();
    let other_shop = store.start_run(OTHER_SHOP, "backfill").await.unwrap();
    assert!(store.interrupted_runs().await.unwrap().is_empty());

    // A new process starts the same shop's backfill: the old one never finished.
    let next = store.start_run(SHOP, "backfill").await.unwrap();
    let interrupted = store.interrupted_runs().await.unwrap();
    assert_eq!(interrupted.len(), 1, "{interrupted:?}");
    assert_eq!(interrupted[0].id, crashed);
    assert_eq!(interrupted[0].status, RunStatus::Interrupted);
    assert!(interrupted[0].finished_at.is_some());
    for untouched in [other_kind, other_shop, next] {
        let run = store.get_run(untouched).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Running, "{run:?}");
    }

    // A graceful shutdown finishes a run as interrupted, too.
    store
        .finish_run(next, RunStatus::Interrupted, &json!({"signal": "SIGTERM"}))
        .await
        .unwrap();
    let ids: Vec<RunId> = store
        .interrupted_runs()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [crashed, next]);
}

// ---------------------------------------------------------------------------------------
// Bulk jobs
// ---------------------------------------------------------------------------------------

async fn bulk_jobs_lifecycle(db: Db) {
    let store = db.connect().await;
    let run = store.start_run(SHOP, "backfill").await.unwrap();
    let other_run = store.start_run(OTHER_SHOP, "backfill").await.unwrap();

    // Recorded before upload.
    let contacts = store.record_job(&new_job(run, "Contact", 0)).await.unwrap();
    let orders = store.record_job(&new_job(run, "Order", 0)).await.unwrap();
    let mut insert = new_job(other_run, "Task", 0);
    insert.operation = "insert".into();
    insert.external_id_field = None;
    insert.payload_path = None;
    let tasks = store.record_job(&insert).await.unwrap();

    let job = store.get_job(contacts).await.unwrap().expect("job exists");
    assert_eq!(job.key, contacts);
    assert_eq!(job.run, run);
    assert_eq!(job.phase, JobPhase::Planned);
    assert_eq!(
        (job.object.as_str(), job.operation.as_str()),
        ("Contact", "upsert")
    );
    assert_eq!(
        job.external_id_field.as_deref(),
        Some("Shopify_Customer_ID__c")
    );
    assert_eq!((job.part, job.attempt, job.row_count), (0, 1, 1000));
    assert_eq!(
        job.payload_path.as_deref(),
        Some("/var/lib/shopforce/jobs/Contact-0.csv")
    );
    assert_eq!((job.sf_job_id, job.processed, job.failed), (None, 0, 0));
    let task_job = store.get_job(tasks).await.unwrap().unwrap();
    assert_eq!(
        (task_job.external_id_field, task_job.payload_path),
        (None, None)
    );

    store
        .set_job_salesforce_id(contacts, "750xx0000000001AAA")
        .await
        .unwrap();
    store
        .set_job_state(contacts, JobPhase::Created)
        .await
        .unwrap();
    store
        .set_job_state(contacts, JobPhase::Uploaded)
        .await
        .unwrap();
    store
        .set_job_state(orders, JobPhase::Created)
        .await
        .unwrap();
    store
        .set_job_state(contacts, JobPhase::Completed)
        .await
        .unwrap();
    store.set_job_counts(contacts, 1000, 7).await.unwrap();

    let job = store.get_job(contacts).await.unwrap().unwrap();
    assert_eq!(job.sf_job_id.as_deref(), Some("750xx0000000001AAA"));
    assert_eq!(job.phase, JobPhase::Completed);
    assert_eq!((job.processed, job.failed), (1000, 7));
    assert!(job.updated_at >= job.created_at);

    let unfinished: Vec<_> = store
        .unfinished_jobs()
        .await
        .unwrap()
        .iter()
        .map(|j| (j.key, j.phase))
        .collect();
    assert_eq!(
        unfinished,
        [
            (contacts, JobPhase::Completed),
            (orders, JobPhase::Created),
            (tasks, JobPhase::Planned)
        ]
    );

    store
        .set_job_state(contacts, JobPhase::ResultsStored)
        .await
        .unwrap();
    store
        .set_job_state(orders, JobPhase::Aborted)
        .await
        .unwrap();
    let unfinished: Vec<_> = store
        .unfinished_jobs()
        .await
        .unwrap()
        .iter()
        .map(|j| j.key)
        .collect();
    assert_eq!(unfinished, [tasks]);
    store.set_job_state(tasks, JobPhase::Failed).await.unwrap();
    assert!(store.unfinished_jobs().await.unwrap().is_empty());

    let for_run: Vec<_> = store
        .jobs_for_run(run)
        .await
        .unwrap()
        .iter()
        .map(|j| (j.key, j.phase))
        .collect();
    assert_eq!(
        for_run,
        [
            (contacts, JobPhase::ResultsStored),
            (orders, JobPhase::Aborted)
        ]
    );
    assert_eq!(store.jobs_for_run(other_run).await.unwrap().len(), 1);

    // Errors name the operation and what is missing.
    let missing = store
        .record_job(&new_job(RunId(424_242), "Contact", 0))
        .await;
    assert!(
        matches!(
            missing,
            Err(StoreError::NotFound {
                entity: "run",
                id: 424_242,
                ..
            })
        ),
        "{missing:?}"
    );
    let unknown = store.set_job_state(JobKey(31_337), JobPhase::Created).await;
    assert!(
        matches!(
            unknown,
            Err(StoreError::NotFound {
                entity: "bulk job",
                ..
            })
        ),
        "{unknown:?}"
    );
    let unknown = store.set_job_counts(JobKey(31_337), 1, 1).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
    let unknown = store.set_job_salesforce_id(JobKey(31_337), "750x").await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
    let negative = store.set_job_counts(contacts, -1, 0).await;
    assert!(
        matches!(negative, Err(StoreError::InvalidArgument { .. })),
        "{negative:?}"
    );

    // A Salesforce job id belongs to one job.
    let dup = store
        .set_job_salesforce_id(orders, "750xx0000000001AAA")
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::InvalidState { .. }), "{dup}");
    assert!(dup.to_string().contains("750xx0000000001AAA"), "{dup}");
}

async fn bulk_job_phases_only_move_forward(db: Db) {
    let store = db.connect().await;
    let run = store.start_run(SHOP, "backfill").await.unwrap();
    let key = store.record_job(&new_job(run, "Contact", 0)).await.unwrap();

    store.set_job_state(key, JobPhase::Uploaded).await.unwrap();
    // Setting the same phase again is a no-op (a retried write after a timeout).
    store.set_job_state(key, JobPhase::Uploaded).await.unwrap();
    let back = store
        .set_job_state(key, JobPhase::Created)
        .await
        .unwrap_err();
    assert!(matches!(back, StoreError::InvalidState { .. }), "{back}");
    assert!(back.to_string().contains("`uploaded`"), "{back}");

    store
        .set_job_state(key, JobPhase::ResultsStored)
        .await
        .unwrap();
    store
        .set_job_state(key, JobPhase::ResultsStored)
        .await
        .unwrap();
    for phase in [JobPhase::Completed, JobPhase::Aborted, JobPhase::Failed] {
        let err = store.set_job_state(key, phase).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidState { .. }), "{err}");
    }
    assert_eq!(
        store.get_job(key).await.unwrap().unwrap().phase,
        JobPhase::ResultsStored
    );

    // Any phase that is not final may be aborted.
    let other = store.record_job(&new_job(run, "Contact", 1)).await.unwrap();
    store.set_job_state(other, JobPhase::Aborted).await.unwrap();
    assert!(store.unfinished_jobs().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Mappings
// ---------------------------------------------------------------------------------------

async fn mappings_upsert_in_batches(db: Db) {
    let store = db.connect().await;
    assert_eq!(store.put_mappings(&[]).await.unwrap(), 0);
    let written = store
        .put_mappings(&[
            mapping(SHOP, "customer", "1", "003A"),
            mapping(SHOP, "customer", "2", "003B"),
            mapping(SHOP, "order", "1", "801A"),
            mapping(OTHER_SHOP, "customer", "1", "003Z"),
        ])
        .await
        .unwrap();
    assert_eq!(written, 4);

    let one = store
        .get_mapping(SHOP, "customer", "1")
        .await
        .unwrap()
        .expect("mapping");
    assert_eq!(
        (one.sf_object.as_str(), one.sf_id.as_str()),
        ("Contact", "003A")
    );
    assert_eq!(
        (
            one.shop.as_str(),
            one.kind.as_str(),
            one.shopify_id.as_str()
        ),
        (SHOP, "customer", "1")
    );
    assert!(
        store
            .get_mapping(SHOP, "customer", "3")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .get_mapping(OTHER_SHOP, "customer", "1")
            .await
            .unwrap()
            .unwrap()
            .sf_id,
        "003Z"
    );

    // The second put updates; within one batch the last row for a key wins.
    let mut moved = mapping(SHOP, "customer", "1", "003NEW");
    moved.sf_object = "Account".into();
    let written = store
        .put_mappings(&[
            mapping(SHOP, "customer", "2", "003B-first"),
            moved,
            mapping(SHOP, "customer", "2", "003B-last"),
            mapping(SHOP, "customer", "3", "003C"),
        ])
        .await
        .unwrap();
    assert_eq!(written, 3);
    let updated = store
        .get_mapping(SHOP, "customer", "1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.sf_object.as_str(), updated.sf_id.as_str()),
        ("Account", "003NEW")
    );
    assert!(updated.updated_at >= one.updated_at);

    let found = store
        .get_mappings(SHOP, "customer", &["1", "2", "3", "missing"])
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found["2"].sf_id, "003B-last");
    assert_eq!(found["3"].sf_id, "003C");
    let owned: Vec<String> = vec!["1".into()];
    assert_eq!(
        store
            .get_mappings(SHOP, "order", &owned)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .get_mappings(SHOP, "customer", &[] as &[&str])
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.count_mappings(None, None).await.unwrap(), 5);
    assert_eq!(store.count_mappings(Some(SHOP), None).await.unwrap(), 4);
    assert_eq!(
        store
            .count_mappings(Some(SHOP), Some("customer"))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store.count_mappings(None, Some("customer")).await.unwrap(),
        4
    );
    assert_eq!(store.count_mappings(Some("nobody"), None).await.unwrap(), 0);
}

async fn mappings_at_scale_cross_chunk_boundaries(db: Db) {
    // More rows than one statement can bind on either backend (SQLite 5 461 rows of 6
    // parameters; PostgreSQL 10 922), and more ids than one IN list holds on SQLite.
    const N: usize = 40_000;
    let store = db.connect().await;
    let rows: Vec<Mapping> = (0..N)
        .map(|i| {
            mapping(
                SHOP,
                "line_item",
                &format!("gid://shopify/LineItem/{i}"),
                &format!("802{i:012}"),
            )
        })
        .collect();
    assert_eq!(store.put_mappings(&rows).await.unwrap(), N as u64);
    assert_eq!(
        store
            .count_mappings(Some(SHOP), Some("line_item"))
            .await
            .unwrap(),
        N as u64
    );

    let ids: Vec<&str> = rows.iter().map(|m| m.shopify_id.as_str()).collect();
    let found = store.get_mappings(SHOP, "line_item", &ids).await.unwrap();
    assert_eq!(found.len(), N);
    assert_eq!(
        found["gid://shopify/LineItem/39999"].sf_id,
        "802000000039999"
    );

    // Re-put everything with new ids: all updated, none added.
    let rows: Vec<Mapping> = rows
        .into_iter()
        .map(|mut m| {
            m.sf_id.push('X');
            m
        })
        .collect();
    assert_eq!(store.put_mappings(&rows).await.unwrap(), N as u64);
    assert_eq!(store.count_mappings(None, None).await.unwrap(), N as u64);
    let last = store
        .get_mapping(SHOP, "line_item", "gid://shopify/LineItem/39999")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.sf_id, "802000000039999X");
}

// ---------------------------------------------------------------------------------------
// Cursors
// ---------------------------------------------------------------------------------------

async fn cursors(db: Db) {
    let store = db.connect().await;
    assert_eq!(store.get_cursor(SHOP, "customers").await.unwrap(), None);
    store
        .set_cursor(SHOP, "customers", "2026-03-01T00:00:00Z")
        .await
        .unwrap();
    store
        .set_cursor(OTHER_SHOP, "customers", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    store
        .set_cursor(SHOP, "orders", "gid://shopify/Order/42")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_cursor(SHOP, "customers")
            .await
            .unwrap()
            .as_deref(),
        Some("2026-03-01T00:00:00Z")
    );
    store
        .set_cursor(SHOP, "customers", "2026-03-02T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_cursor(SHOP, "customers")
            .await
            .unwrap()
            .as_deref(),
        Some("2026-03-02T00:00:00Z")
    );
    assert_eq!(
        store
            .get_cursor(OTHER_SHOP, "customers")
            .await
            .unwrap()
            .as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert_eq!(
        store.get_cursor(SHOP, "orders").await.unwrap().as_deref(),
        Some("gid://shopify/Order/42")
    );
}

async fn company_contacts_are_remembered_per_shop(db: Db) {
    let store = db.connect().await;
    assert!(store.company_contacts(SHOP).await.unwrap().is_empty());
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    let written = store
        .put_company_contacts(SHOP, &[pair("7", "100"), pair("8", "100")])
        .await
        .unwrap();
    assert_eq!(written, 2);
    store
        .put_company_contacts(OTHER_SHOP, &[pair("7", "555")])
        .await
        .unwrap();
    // A contact moved to another company: the later export wins.
    store
        .put_company_contacts(SHOP, &[pair("8", "200")])
        .await
        .unwrap();
    let known = store.company_contacts(SHOP).await.unwrap();
    assert_eq!(known.len(), 2);
    assert_eq!(known["7"], "100");
    assert_eq!(known["8"], "200");
    assert_eq!(
        store.company_contacts(OTHER_SHOP).await.unwrap()["7"],
        "555"
    );
    assert_eq!(store.put_company_contacts(SHOP, &[]).await.unwrap(), 0);
}

async fn the_identity_index_and_links_persist(db: Db) {
    use shopforce::identity::CrmContact;
    use shopforce::store::IdentityLink;
    let store = db.connect().await;
    let contact = |i: usize, email: Option<&str>| CrmContact {
        id: format!("003{i:015}").into(),
        account_id: Some("001000000000001AAA".into()),
        shopify_customer_id: i.is_multiple_of(2).then(|| format!("{i}").into()),
        shopify_store: i.is_multiple_of(2).then(|| SHOP.into()),
        email: email.map(Into::into),
        phone: Some(format!("+1512555{i:04}").into()),
        first_name: "ana".into(),
        last_name: "silva".into(),
        postal_code: "78701".into(),
        created: 1_700_000_000 + i as i64,
        consent_state: i.is_multiple_of(3).then(|| "UNSUBSCRIBED".into()),
        crm_consent_at: i.is_multiple_of(6).then_some(1_700_000_000_000 + i as i64),
    };
    // More rows than one statement binds.
    let many: Vec<CrmContact> = (0..5000).map(|i| contact(i, None)).collect();
    assert_eq!(store.put_crm_contacts(&many).await.unwrap(), 5000);
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .crm_contacts_page(after.as_deref(), 1500)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.to_string());
        all.extend(page);
    }
    assert_eq!(all, many);
    // A refresh replaces a Contact and removes another.
    let changed = contact(7, Some("ana@example.com"));
    store
        .put_crm_contacts(std::slice::from_ref(&changed))
        .await
        .unwrap();
    assert_eq!(
        store
            .remove_crm_contacts(&[many[8].id.to_string(), "003nope".to_string()])
            .await
            .unwrap(),
        1
    );
    let page = store.crm_contacts_page(Some(&many[6].id), 2).await.unwrap();
    assert_eq!(page, vec![changed, many[9].clone()]);

    let link = |customer: &str, contact: &str, primary| IdentityLink {
        shop: SHOP.to_string(),
        customer_id: customer.to_string(),
        contact_id: contact.to_string(),
        account_id: "001000000000001AAA".to_string(),
        tier: "email".to_string(),
        primary,
    };
    store
        .put_identity_links(&[link("1", "003A", true), link("2", "003B", false)])
        .await
        .unwrap();
    store
        .put_identity_links(&[link("2", "003C", true)])
        .await
        .unwrap();
    let links = store.identity_links(SHOP).await.unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links["2"], link("2", "003C", true));
    assert!(store.identity_links(OTHER_SHOP).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Order cache
// ---------------------------------------------------------------------------------------

/// The order cache's per-customer index as the catalog describes it (`None`: missing).
async fn order_index(db: &Db) -> Option<String> {
    order_index_at(&db.url, db.backend).await
}

/// [`order_index`] of the database at `url`, read without opening it as a store (which
/// builds a missing index).
pub(super) async fn order_index_at(url: &str, backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("sqlite url");
            let pool = sqlx::SqlitePool::connect_with(options)
                .await
                .expect("open sqlite");
            let columns: Vec<(i64, String, i64)> = sqlx::query_as(
                "SELECT seqno, coalesce(name, ''), \"desc\" \
                 FROM pragma_index_xinfo('order_cache_customer') ORDER BY seqno",
            )
            .fetch_all(&pool)
            .await
            .expect("index columns");
            pool.close().await;
            (!columns.is_empty()).then(|| format!("{columns:?}"))
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.expect("open postgres");
            let definition: Option<String> = sqlx::query_scalar(
                "SELECT indexdef FROM pg_indexes \
                 WHERE schemaname = current_schema() AND indexname = 'order_cache_customer'",
            )
            .fetch_optional(&pool)
            .await
            .expect("index definition");
            pool.close().await;
            definition
        }
    }
}

async fn a_first_order_load_builds_the_customer_index_afterwards(db: Db) {
    let store = db.connect().await;
    let migrated = order_index(&db).await;
    assert!(migrated.is_some(), "the migrations create the index");
    assert!(
        !store.restore_order_index().await.unwrap(),
        "present: nothing to build"
    );

    // An empty cache: the first load goes in unindexed, and the index is built after.
    assert!(store.suspend_order_index().await.unwrap());
    assert_eq!(order_index(&db).await, None);
    assert!(store.restore_order_index().await.unwrap());
    assert_eq!(
        order_index(&db).await,
        migrated,
        "built as the migrations define it"
    );
    assert!(store.suspend_order_index().await.unwrap());
    let orders = [
        order("1001", Some("c1"), at(2026, 1, 5, 10, 0, 0), 1_000),
        order("1002", Some("c2"), at(2026, 1, 6, 10, 0, 0), 2_000),
        order("1003", Some("c1"), at(2026, 1, 7, 10, 0, 0), 3_000),
    ];
    assert_eq!(store.put_orders(&orders).await.unwrap(), 3);

    // The process stops here; the next one to open the store builds the index.
    drop(store);
    let store = db.connect().await;
    assert_eq!(order_index(&db).await, migrated);
    assert!(!store.restore_order_index().await.unwrap());

    // A cache with orders in it is never left unindexed.
    assert!(!store.suspend_order_index().await.unwrap());
    assert_eq!(order_index(&db).await, migrated);
    let c1 = store.orders_for_customer(SHOP, "c1").await.unwrap();
    assert_eq!(
        c1.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(),
        ["1001", "1003"]
    );
}

async fn order_cache_and_customer_stats(db: Db) {
    let store = db.connect().await;
    let t0 = at(2026, 1, 5, 10, 0, 0);
    // Sub-microsecond digits are dropped; a whole second and a fractional one must still
    // sort in time order (SQLite keeps timestamps as text).
    let t_half = t0 + TimeDelta::nanoseconds(500_000_789);
    let mut cancelled = order("1004", Some("c1"), at(2026, 3, 1, 0, 0, 0), 99_999);
    cancelled.cancelled = true;
    cancelled.financial_status = Some("VOIDED".into());
    let mut eur = order("1005", Some("c2"), at(2026, 2, 1, 0, 0, 0), 700);
    eur.currency = "EUR".into();
    let mut other_shop = order("1001", Some("c1"), t0, 1);
    other_shop.shop = OTHER_SHOP.into();
    let orders = vec![
        order("1002", Some("c1"), t_half, 2_500),
        order("1001", Some("c1"), t0, 1_000),
        cancelled,
        order("1003", Some("c2"), at(2026, 1, 20, 8, 30, 0), 4_200),
        order("1006", None, at(2026, 1, 6, 0, 0, 0), 300),
        eur,
        other_shop,
    ];
    assert_eq!(store.put_orders(&orders).await.unwrap(), 7);
    // The same orders again (a rerun over an unchanged export): none is rewritten; one
    // changed order among them is.
    assert_eq!(store.put_orders(&orders).await.unwrap(), 0);
    let mut moved = orders.clone();
    moved[3].customer_id = Some("c3".into());
    assert_eq!(store.put_orders(&moved).await.unwrap(), 1);
    let c3 = store.orders_for_customer(SHOP, "c3").await.unwrap();
    assert_eq!(c3, [moved[3].clone()]);
    assert_eq!(store.put_orders(&orders).await.unwrap(), 1);

    let c1 = store.orders_for_customer(SHOP, "c1").await.unwrap();
    assert_eq!(
        c1.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(),
        ["1001", "1002", "1004"]
    );
    assert_eq!(c1[0], orders[1]);
    assert_eq!(
        c1[1].processed_at,
        t0 + TimeDelta::microseconds(500_000),
        "timestamps keep microseconds"
    );
    assert!(c1[2].cancelled);
    assert_eq!(c1[2].financial_status.as_deref(), Some("VOIDED"));
    assert!(
        store
            .orders_for_customer(SHOP, "nobody")
            .await
            .unwrap()
            .is_empty()
    );

    let stats = store.customer_order_stats(SHOP).await.unwrap();
    let rows: Vec<_> = stats
        .iter()
        .map(|s| {
            (
                s.customer_id.as_str(),
                s.currency.as_str(),
                s.order_count,
                s.total_spent_minor,
                s.first_order_at,
                s.last_order_at,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "c1",
                "USD",
                2,
                3_500,
                t0,
                t0 + TimeDelta::microseconds(500_000)
            ),
            (
                "c2",
                "EUR",
                1,
                700,
                at(2026, 2, 1, 0, 0, 0),
                at(2026, 2, 1, 0, 0, 0)
            ),
            (
                "c2",
                "USD",
                1,
                4_200,
                at(2026, 1, 20, 8, 30, 0),
                at(2026, 1, 20, 8, 30, 0)
            ),
        ]
    );

    // An update replaces the cached order: cancelling 1001 moves c1's first order.
    let mut cancel = orders[1].clone();
    cancel.cancelled = true;
    let mut refund = orders[0].clone();
    refund.total_minor = 2_000;
    refund.financial_status = Some("PARTIALLY_REFUNDED".into());
    assert_eq!(store.put_orders(&[cancel, refund]).await.unwrap(), 2);
    let c1 = store.customer_order_stats(SHOP).await.unwrap();
    assert_eq!(
        (
            c1[0].order_count,
            c1[0].total_spent_minor,
            c1[0].first_order_at
        ),
        (1, 2_000, t0 + TimeDelta::microseconds(500_000))
    );
    let other = store.customer_order_stats(OTHER_SHOP).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].total_spent_minor, 1);
}

/// Commerce-metrics totals: only counted orders (paid, not cancelled, not test) enter them,
/// refunds are subtracted, companies collect their purchasing-company orders and their
/// contacts' own orders, keys without a mapping of the asked kind are left out, and pages
/// follow the key order.
async fn order_aggregates_for_metrics(db: Db) {
    let store = db.connect().await;
    let day = |d: u32| at(2026, 1, d, 12, 0, 0);
    let with = |id: &str, customer: &str, d: u32, total: i64, f: &dyn Fn(&mut CachedOrder)| {
        let mut o = order(id, Some(customer), day(d), total);
        f(&mut o);
        o
    };
    let orders = vec![
        with("1", "c1", 3, 10_000, &|_| {}),
        // Partly refunded: 60.00 of 100.00 counts.
        with("2", "c1", 10, 10_000, &|o| {
            o.financial_status = Some("PARTIALLY_REFUNDED".into());
            o.refunded_minor = 4_000;
        }),
        // None of these count: cancelled, refunded in full, a test order, pending.
        with("3", "c1", 1, 50_000, &|o| o.cancelled = true),
        with("4", "c1", 20, 50_000, &|o| {
            o.financial_status = Some("REFUNDED".into());
            o.refunded_minor = 50_000;
        }),
        with("5", "c1", 21, 50_000, &|o| o.test = true),
        with("6", "c1", 22, 50_000, &|o| {
            o.financial_status = Some("PENDING".into())
        }),
        // c2 placed one order for company K1 and one for themselves; c3 one for K1.
        with("7", "c2", 5, 2_000, &|o| o.company_id = Some("K1".into())),
        with("8", "c2", 6, 3_000, &|_| {}),
        with("9", "c3", 7, 1_000, &|o| o.company_id = Some("K1".into())),
        // c4: only a cancelled order (their metrics must reset).
        with("10", "c4", 8, 9_000, &|o| o.cancelled = true),
        // Refunded more than paid (a goodwill refund): never negative.
        with("11", "c5", 9, 1_000, &|o| {
            o.financial_status = Some("PARTIALLY_REFUNDED".into());
            o.refunded_minor = 1_500;
        }),
        // A guest checkout: no customer, so in no customer's totals (and no page's key).
        order("13", None, day(2), 700),
    ];
    store.put_orders(&orders).await.unwrap();
    store
        .put_company_contacts(SHOP, &[("c2".into(), "K1".into())])
        .await
        .unwrap();

    let all = store
        .order_aggregates(SHOP, AggregateBy::Customer, None, None, 100)
        .await
        .unwrap();
    let keys: Vec<&str> = all.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["c1", "c2", "c3", "c4", "c5"]);
    let c1 = &all[0];
    assert_eq!(
        (
            c1.order_count,
            c1.spend_minor,
            c1.currency.as_deref(),
            c1.currencies
        ),
        (2, 16_000, Some("USD"), 1)
    );
    assert_eq!(
        (c1.first_order_at, c1.last_order_at),
        (Some(day(3)), Some(day(10)))
    );
    let c4 = &all[3];
    assert_eq!(
        (
            c4.order_count,
            c4.spend_minor,
            c4.currency.as_deref(),
            c4.first_order_at
        ),
        (0, 0, None, None)
    );
    assert_eq!((all[4].order_count, all[4].spend_minor), (1, 0));

    // Companies: K1 has c2's and c3's orders for it and c2's own order.
    let companies = store
        .order_aggregates(SHOP, AggregateBy::Company, None, None, 100)
        .await
        .unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(
        (
            companies[0].key.as_str(),
            companies[0].order_count,
            companies[0].spend_minor
        ),
        ("K1", 3, 6_000)
    );
    assert_eq!(companies[0].last_order_at, Some(day(7)));

    // Only keys the engine wrote (a mapping of the kind asked for).
    store
        .put_mappings(&[
            mapping(SHOP, "customer", "c2", "003A"),
            mapping(SHOP, "customer", "c5", "003B"),
            mapping(OTHER_SHOP, "customer", "c1", "003C"),
            mapping(SHOP, "customer_account", "c1", "001A"),
        ])
        .await
        .unwrap();
    assert!(store.has_mappings(SHOP, "customer").await.unwrap());
    assert!(store.has_mappings(SHOP, "customer_account").await.unwrap());
    assert!(!store.has_mappings(SHOP, "company").await.unwrap());
    assert!(
        !store
            .has_mappings(OTHER_SHOP, "customer_account")
            .await
            .unwrap()
    );
    let mapped = store
        .order_aggregates(SHOP, AggregateBy::Customer, Some("customer"), None, 100)
        .await
        .unwrap();
    let keys: Vec<&str> = mapped.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["c2", "c5"]);
    assert!(
        store
            .order_aggregates(SHOP, AggregateBy::Company, Some("company"), None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Pages of two, after the last key of the previous page.
    let first = store
        .order_aggregates(SHOP, AggregateBy::Customer, None, None, 2)
        .await
        .unwrap();
    let second = store
        .order_aggregates(SHOP, AggregateBy::Customer, None, Some("c2"), 2)
        .await
        .unwrap();
    let keys: Vec<&str> = first
        .iter()
        .chain(&second)
        .map(|a| a.key.as_str())
        .collect();
    assert_eq!(keys, ["c1", "c2", "c3", "c4"]);

    // The new columns round-trip; another currency on a later order makes two.
    let c1_orders = store.orders_for_customer(SHOP, "c1").await.unwrap();
    let refunded = c1_orders.iter().find(|o| o.order_id == "2").unwrap();
    assert_eq!(refunded, &orders[1]);
    assert!(c1_orders.iter().find(|o| o.order_id == "5").unwrap().test);
    let mut eur = order("12", Some("c3"), day(25), 500);
    eur.currency = "EUR".into();
    store.put_orders(&[eur]).await.unwrap();
    let c3 = store
        .order_aggregates(SHOP, AggregateBy::Customer, None, Some("c2"), 1)
        .await
        .unwrap();
    assert_eq!(
        (c3[0].key.as_str(), c3[0].currencies, c3[0].order_count),
        ("c3", 2, 2)
    );
}

// ---------------------------------------------------------------------------------------
// Dead-letter queue
// ---------------------------------------------------------------------------------------

async fn dead_letter_queue_lifecycle(db: Db) {
    let store = db.connect().await;
    let run = store.start_run(SHOP, "backfill").await.unwrap();
    assert_eq!(store.dead_letter_depth().await.unwrap(), 0);
    assert_eq!(store.dead_letter(&[]).await.unwrap(), 0);

    let mut other_shop = letter("Order", "o-1", None);
    other_shop.shop = OTHER_SHOP.into();
    let written = store
        .dead_letter(&[
            letter("Contact", "c-1", Some(run)),
            letter("Contact", "c-2", Some(run)),
            other_shop,
        ])
        .await
        .unwrap();
    assert_eq!(written, 3);
    assert_eq!(store.dead_letter_depth().await.unwrap(), 3);

    let all = store
        .list_dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let first = &all[0];
    assert_eq!(first.run, Some(run));
    assert_eq!(
        (first.object.as_str(), first.external_id.as_str()),
        ("Contact", "c-1")
    );
    assert_eq!(first.payload, letter("Contact", "c-1", None).payload);
    assert_eq!(first.error_code, "INVALID_EMAIL_ADDRESS");
    assert_eq!(
        first.hint.as_deref(),
        Some("Fix the customer's email in Shopify.")
    );
    assert_eq!((first.status, first.attempts), (DeadLetterStatus::Open, 1));
    assert_eq!(all[2].run, None);

    // Filters.
    let contacts = DeadLetterFilter {
        object: Some("Contact".into()),
        ..DeadLetterFilter::default()
    };
    assert_eq!(store.list_dead_letters(&contacts).await.unwrap().len(), 2);
    let globex = DeadLetterFilter {
        shop: Some(OTHER_SHOP.into()),
        ..DeadLetterFilter::default()
    };
    assert_eq!(
        store.list_dead_letters(&globex).await.unwrap()[0].external_id,
        "o-1"
    );
    let page = DeadLetterFilter {
        after: Some(all[0].id),
        limit: 1,
        ..DeadLetterFilter::default()
    };
    let page = store.list_dead_letters(&page).await.unwrap();
    assert_eq!(page.iter().map(|l| l.id).collect::<Vec<_>>(), [all[1].id]);

    // The same record failing again refreshes its open letter and counts the attempt.
    let mut again = letter("Contact", "c-1", Some(run));
    again.error_code = "DUPLICATE_VALUE".into();
    again.message = "duplicate value found".into();
    again.hint = None;
    again.payload = json!({"Email": "new@example.com"});
    assert_eq!(store.dead_letter(&[again]).await.unwrap(), 1);
    assert_eq!(store.dead_letter_depth().await.unwrap(), 3);
    let c1 = &store.list_dead_letters(&contacts).await.unwrap()[0];
    assert_eq!(c1.id, all[0].id);
    assert_eq!(
        (c1.attempts, c1.error_code.as_str(), c1.hint.as_deref()),
        (2, "DUPLICATE_VALUE", None)
    );
    assert_eq!(c1.payload, json!({"Email": "new@example.com"}));
    assert_eq!(c1.created_at, all[0].created_at);
    assert!(c1.updated_at >= all[0].updated_at);

    assert_eq!(
        store
            .bump_attempts(&[all[0].id, DeadLetterId(987_654)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.bump_attempts(&[]).await.unwrap(), 0);
    let c1 = &store.list_dead_letters(&contacts).await.unwrap()[0];
    assert_eq!(c1.attempts, 3);

    // Replay c-1, drop o-1.
    assert_eq!(
        store
            .mark_dead_letters(&[all[0].id], DeadLetterStatus::Retried)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .mark_dead_letters(&[all[2].id], DeadLetterStatus::Dropped)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.dead_letter_depth().await.unwrap(), 1);
    let open = DeadLetterFilter {
        status: Some(DeadLetterStatus::Open),
        ..DeadLetterFilter::default()
    };
    let open = store.list_dead_letters(&open).await.unwrap();
    assert_eq!(
        open.iter()
            .map(|l| l.external_id.as_str())
            .collect::<Vec<_>>(),
        ["c-2"]
    );
    let retried = DeadLetterFilter {
        status: Some(DeadLetterStatus::Retried),
        object: Some("Contact".into()),
        ..DeadLetterFilter::default()
    };
    assert_eq!(
        store.list_dead_letters(&retried).await.unwrap()[0].id,
        all[0].id
    );

    // The replayed record fails again: a new open letter; the retried one stays as history.
    assert_eq!(
        store
            .dead_letter(&[letter("Contact", "c-1", None)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.dead_letter_depth().await.unwrap(), 2);
    let c1_letters = store.list_dead_letters(&contacts).await.unwrap();
    assert_eq!(c1_letters.len(), 3);
    let newest = c1_letters.last().unwrap();
    assert!(newest.id > all[0].id);
    assert_eq!(
        (newest.status, newest.attempts),
        (DeadLetterStatus::Open, 1)
    );

    // Reopening the old letter would give c-1 two open letters.
    let err = store
        .mark_dead_letters(&[all[0].id], DeadLetterStatus::Open)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidState { .. }), "{err}");
    assert_eq!(store.dead_letter_depth().await.unwrap(), 2);

    // A letter naming a run that does not exist is refused.
    let err = store
        .dead_letter(&[letter("Contact", "c-9", Some(RunId(777_777)))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument { .. }), "{err}");
}

async fn dead_letter_batches_are_atomic(db: Db) {
    // More rows than one statement holds on either backend, with a bad row at the end: the
    // failing chunk rolls back the chunks before it.
    let store = db.connect().await;
    let run = store.start_run(SHOP, "backfill").await.unwrap();
    let mut letters: Vec<NewDeadLetter> = (0..7_000)
        .map(|i| letter("Contact", &format!("c-{i}"), Some(run)))
        .collect();
    letters.push(letter("Contact", "bad", Some(RunId(555_555))));
    assert!(store.dead_letter(&letters).await.is_err());
    assert_eq!(store.dead_letter_depth().await.unwrap(), 0);
    letters.pop();
    assert_eq!(store.dead_letter(&letters).await.unwrap(), 7_000);
    assert_eq!(store.dead_letter_depth().await.unwrap(), 7_000);
    let ids: Vec<DeadLetterId> = store
        .list_dead_letters(&DeadLetterFilter {
            limit: 10_000,
            ..DeadLetterFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids.len(), 7_000);
    assert_eq!(
        store
            .mark_dead_letters(&ids, DeadLetterStatus::Dropped)
            .await
            .unwrap(),
        7_000
    );
    assert_eq!(store.dead_letter_depth().await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// Payload hashes
// ---------------------------------------------------------------------------------------

async fn payload_hashes(db: Db) {
    let store = db.connect().await;
    assert!(
        store
            .get_payload_hashes(SHOP, "customer", &["a"])
            .await
            .unwrap()
            .is_empty()
    );
    let written = store
        .put_mappings(&[
            hashed("customer", "a", 1),
            hashed("customer", "b", -2),
            hashed("customer", "c", i64::MAX),
            hashed("customer", "a", 11),
            // A mapping without a known payload (identity resolution, say).
            mapping(SHOP, "customer", "d", "003D"),
            hashed("customer_account", "a", 99),
            Mapping {
                shop: OTHER_SHOP.into(),
                ..hashed("customer", "a", 7)
            },
        ])
        .await
        .unwrap();
    assert_eq!(written, 6);

    let got = store
        .get_payload_hashes(SHOP, "customer", &["a", "b", "c", "d", "zzz"])
        .await
        .unwrap();
    assert_eq!(got.len(), 3, "d has no hash, zzz no mapping: {got:?}");
    assert_eq!((got["a"], got["b"], got["c"]), (11, -2, i64::MAX));
    // Every mapping, with its hash where one is known.
    let written = store
        .get_written_records(SHOP, "customer", &["a", "c", "d", "zzz"])
        .await
        .unwrap();
    assert_eq!(written.len(), 3, "zzz has no mapping: {written:?}");
    assert_eq!(
        (written["a"], written["c"], written["d"]),
        (Some(11), Some(i64::MAX), None)
    );
    assert!(
        store
            .get_written_records(SHOP, "nothing", &["a"])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_payload_hashes(SHOP, "customer_account", &["a"])
            .await
            .unwrap()["a"],
        99
    );
    assert_eq!(
        store
            .get_payload_hashes(OTHER_SHOP, "customer", &["a"])
            .await
            .unwrap()["a"],
        7
    );
    let record = store
        .get_mapping(SHOP, "customer", "a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.sf_id.as_str(), record.payload_hash),
        ("003H", Some(11))
    );

    // A new mapping write replaces the hash; one without a hash clears it.
    store
        .put_mappings(&[
            hashed("customer", "b", 22),
            mapping(SHOP, "customer", "c", "003C"),
        ])
        .await
        .unwrap();
    let got = store
        .get_payload_hashes(SHOP, "customer", &["b", "c"])
        .await
        .unwrap();
    assert_eq!(got.into_iter().collect::<Vec<_>>(), [("b".to_string(), 22)]);

    // Forgetting keeps the mapping, drops the hash, and touches nothing else.
    assert_eq!(
        store
            .forget_payload_hashes(SHOP, "customer", &["a", "d", "nope"])
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .get_payload_hashes(SHOP, "customer", &["a"])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_mapping(SHOP, "customer", "a")
            .await
            .unwrap()
            .unwrap()
            .sf_id,
        "003H"
    );
    assert_eq!(
        store
            .get_payload_hashes(SHOP, "customer_account", &["a"])
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .get_payload_hashes(OTHER_SHOP, "customer", &["a"])
            .await
            .unwrap()
            .len(),
        1
    );

    // Across chunk boundaries (SQLite: 4 680 rows per statement, 32 764 ids per IN list).
    let many: Vec<Mapping> = (0..50_000)
        .map(|i| hashed("order", &format!("ext-{i}"), i))
        .collect();
    assert_eq!(store.put_mappings(&many).await.unwrap(), 50_000);
    let ids: Vec<&str> = many.iter().map(|m| m.shopify_id.as_str()).collect();
    let got = store.get_payload_hashes(SHOP, "order", &ids).await.unwrap();
    assert_eq!(got.len(), 50_000);
    assert_eq!(got["ext-49999"], 49_999);
    assert_eq!(
        store
            .forget_payload_hashes(SHOP, "order", &ids)
            .await
            .unwrap(),
        50_000
    );
    assert!(
        store
            .get_payload_hashes(SHOP, "order", &ids)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn mapped_batches_share_shop_kind_and_object(db: Db) {
    let store = db.connect().await;
    let record = |id: &'static str, sf: &'static str, hash: Option<i64>| MappedRecord {
        shopify_id: id,
        sf_id: sf,
        payload_hash: hash,
    };
    let written = store
        .put_mapped(
            SHOP,
            "line_item",
            "OrderItem",
            &[
                record("1", "802A", Some(1)),
                record("2", "802B", None),
                record("1", "802C", Some(-9)),
                // Quotes and backslashes survive the JSON batch.
                record("q\"u\\o", "802D", Some(i64::MIN)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, 3, "the last row for a key wins");
    let got = store
        .get_mappings(SHOP, "line_item", &["1", "2", "q\"u\\o"])
        .await
        .unwrap();
    assert_eq!(got["1"].sf_id, "802C");
    assert_eq!(got["1"].sf_object, "OrderItem");
    assert_eq!(got["1"].payload_hash, Some(-9));
    assert_eq!(got["2"].payload_hash, None);
    assert_eq!(got["q\"u\\o"].payload_hash, Some(i64::MIN));
    assert!(
        store
            .get_mappings(OTHER_SHOP, "line_item", &["1"])
            .await
            .unwrap()
            .is_empty()
    );
    // Across the JSON batch size.
    let ids: Vec<String> = (0..120_000).map(|i| format!("li-{i}")).collect();
    let records: Vec<MappedRecord<'_>> = ids
        .iter()
        .map(|id| MappedRecord {
            shopify_id: id,
            sf_id: "802X",
            payload_hash: Some(id.len() as i64),
        })
        .collect();
    assert_eq!(
        store
            .put_mapped(SHOP, "line_item", "OrderItem", &records)
            .await
            .unwrap(),
        120_000
    );
    assert_eq!(
        store
            .get_payload_hashes(SHOP, "line_item", &ids)
            .await
            .unwrap()
            .len(),
        120_000
    );
}

/// A database an earlier release left at schema version 1 (hashes in their own table) is
/// migrated with its hashes moved onto the mappings: the next sync does not resend
/// everything.
async fn payload_hashes_of_schema_1_carry_over(db: Db) {
    const V1_ROWS: &[&str] = &[
        "INSERT INTO id_mappings (shop, kind, shopify_id, sf_object, sf_id, updated_at) VALUES \
         ('acme.myshopify.com', 'customer', '7001', 'Contact', '003A', '2026-01-02T03:04:05.000006Z'), \
         ('acme.myshopify.com', 'customer_account', '7001', 'Account', '001A', '2026-01-02T03:04:05.000006Z'), \
         ('acme.myshopify.com', 'line_item', '9001', 'OrderItem', '802A', '2026-01-02T03:04:05.000006Z'), \
         ('acme.myshopify.com', 'order', '5001', 'Order', '801A', '2026-01-02T03:04:05.000006Z')",
        "INSERT INTO payload_hashes (object, external_id, hash, updated_at) VALUES \
         ('Contact.Shopify_Customer_ID__c', '7001', 11, '2026-01-02T03:04:05.000006Z'), \
         ('Account.Shopify_Customer_ID__c', '7001', 22, '2026-01-02T03:04:05.000006Z'), \
         ('OrderItem.Shopify_Line_Item_ID__c', '9001', -33, '2026-01-02T03:04:05.000006Z')",
    ];
    match db.backend {
        Backend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().expect("sqlite url");
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .expect("open sqlite");
            SQLITE_MIGRATOR.run_to(1, &pool).await.expect("schema 1");
            for sql in V1_ROWS {
                sqlx::query(*sql).execute(&pool).await.expect(sql);
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("open postgres");
            POSTGRES_MIGRATOR.run_to(1, &pool).await.expect("schema 1");
            for sql in V1_ROWS {
                sqlx::query(*sql).execute(&pool).await.expect(sql);
            }
            pool.close().await;
        }
    }
    let store = db.connect().await;
    assert_eq!(
        applied_migrations(&store).await,
        SQLITE_MIGRATOR.iter().count() as i64
    );
    let hash = async |kind: &str, id: &str| {
        store
            .get_payload_hashes(SHOP, kind, &[id])
            .await
            .unwrap()
            .get(id)
            .copied()
    };
    assert_eq!(hash("customer", "7001").await, Some(11));
    assert_eq!(hash("customer_account", "7001").await, Some(22));
    assert_eq!(hash("line_item", "9001").await, Some(-33));
    assert_eq!(hash("order", "5001").await, None, "had no hash");
    assert_eq!(
        store
            .get_mapping(SHOP, "order", "5001")
            .await
            .unwrap()
            .unwrap()
            .sf_id,
        "801A"
    );
}

// ---------------------------------------------------------------------------------------
// Review queue
// ---------------------------------------------------------------------------------------

async fn review_queue(db: Db) {
    let store = db.connect().await;
    let review = NewReview {
        shop: SHOP.into(),
        shopify_kind: "customer".into(),
        shopify_id: "gid://shopify/Customer/7".into(),
        sf_object: "Contact".into(),
        reason: "email matches 2 contacts".into(),
        candidates: vec!["003A".into(), "003B".into()],
    };
    let id = store.add_review(&review).await.unwrap();
    let other = store
        .add_review(&NewReview {
            shopify_id: "gid://shopify/Customer/8".into(),
            candidates: vec![],
            ..review.clone()
        })
        .await
        .unwrap();

    let stored = store.get_review(id).await.unwrap().expect("review");
    assert_eq!(stored.status, ReviewStatus::Open);
    assert_eq!(stored.candidates, ["003A", "003B"]);
    assert_eq!(stored.reason, "email matches 2 contacts");
    assert_eq!((stored.resolution, stored.resolved_at), (None, None));

    // Flagging the same record again refreshes its open review.
    let again = store
        .add_review(&NewReview {
            reason: "email matches 3 contacts".into(),
            candidates: vec!["003A".into(), "003B".into(), "003C".into()],
            ..review.clone()
        })
        .await
        .unwrap();
    assert_eq!(again, id);
    let open = store.list_reviews(ReviewStatus::Open, 100).await.unwrap();
    assert_eq!(open.iter().map(|r| r.id).collect::<Vec<_>>(), [id, other]);
    assert_eq!(open[0].candidates.len(), 3);
    assert_eq!(open[0].reason, "email matches 3 contacts");
    assert!(open[1].candidates.is_empty());
    assert_eq!(
        store
            .list_reviews(ReviewStatus::Open, 1)
            .await
            .unwrap()
            .len(),
        1
    );

    store.resolve_review(id, "003B").await.unwrap();
    let resolved = store.get_review(id).await.unwrap().unwrap();
    assert_eq!(resolved.status, ReviewStatus::Resolved);
    assert_eq!(resolved.resolution.as_deref(), Some("003B"));
    assert!(resolved.resolved_at.is_some());
    assert_eq!(
        store
            .list_reviews(ReviewStatus::Resolved, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [id]
    );

    let twice = store.resolve_review(id, "003A").await.unwrap_err();
    assert!(matches!(twice, StoreError::InvalidState { .. }), "{twice}");
    let missing = store
        .resolve_review(ReviewId(4_040), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            StoreError::NotFound {
                entity: "review",
                ..
            }
        ),
        "{missing}"
    );
    let empty = store.resolve_review(other, "  ").await.unwrap_err();
    assert!(
        matches!(empty, StoreError::InvalidArgument { .. }),
        "{empty}"
    );

    // Once resolved, a new ambiguity for the same record opens a new review.
    let reopened = store.add_review(&review).await.unwrap();
    assert_ne!(reopened, id);
    assert!(store.get_review(ReviewId(4_040)).await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// Connection, persistence, migrations, concurrency
// ---------------------------------------------------------------------------------------

async fn applied_migrations(store: &Store) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
    match store {
        Store::Sqlite(s) => sqlx::query_scalar(SQL).fetch_one(s.pool()).await,
        Store::Postgres(s) => sqlx::query_scalar(SQL).fetch_one(s.pool()).await,
    }
    .expect("read _sqlx_migrations")
}

async fn reconnect_keeps_data_and_migrations_are_idempotent(db: Db) {
    let first = db.connect().await;
    let run = first.start_run(SHOP, "backfill").await.unwrap();
    let key = first.record_job(&new_job(run, "Contact", 0)).await.unwrap();
    first
        .put_mappings(&[Mapping {
            payload_hash: Some(5),
            ..mapping(SHOP, "customer", "1", "003A")
        }])
        .await
        .unwrap();
    first.set_cursor(SHOP, "customers", "c-1").await.unwrap();
    let expected = SQLITE_MIGRATOR.iter().count() as i64;
    assert_eq!(applied_migrations(&first).await, expected);

    // A second store on the same database while the first is open (migrations are a no-op),
    // then a fresh one after both are closed.
    let second = db.connect().await;
    assert_eq!(applied_migrations(&second).await, expected);
    assert_eq!(
        second
            .get_cursor(SHOP, "customers")
            .await
            .unwrap()
            .as_deref(),
        Some("c-1")
    );
    first.close().await;
    second.close().await;
    assert!(
        first.get_cursor(SHOP, "customers").await.is_err(),
        "closed store still answers"
    );

    let third = db.connect().await;
    assert_eq!(applied_migrations(&third).await, expected);
    assert_eq!(
        third.get_run(run).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    assert_eq!(third.unfinished_jobs().await.unwrap()[0].key, key);
    assert_eq!(
        third
            .get_mapping(SHOP, "customer", "1")
            .await
            .unwrap()
            .unwrap()
            .sf_id,
        "003A"
    );
    assert_eq!(
        third
            .get_cursor(SHOP, "customers")
            .await
            .unwrap()
            .as_deref(),
        Some("c-1")
    );
    assert_eq!(
        third
            .get_payload_hashes(SHOP, "customer", &["1"])
            .await
            .unwrap()["1"],
        5
    );
    third.close().await;
}

async fn store_futures_can_be_spawned_concurrently(db: Db) {
    let store = db.connect().await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let rows: Vec<Mapping> = (0..500)
                .map(|i| mapping(SHOP, "variant", &format!("{worker}-{i}"), "02iX"))
                .collect();
            store.put_mappings(&rows).await.unwrap();
            store
                .set_cursor(SHOP, &format!("worker-{worker}"), "done")
                .await
                .unwrap();
            let run = store
                .start_run(SHOP, &format!("kind-{worker}"))
                .await
                .unwrap();
            store
                .finish_run(run, RunStatus::Succeeded, &json!({"worker": worker}))
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        store
            .count_mappings(Some(SHOP), Some("variant"))
            .await
            .unwrap(),
        4_000
    );
    assert_eq!(store.recent_runs(100).await.unwrap().len(), 8);
}

// ---------------------------------------------------------------------------------------
// Backend-specific
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_url_forms_create_the_file_and_its_directory() {
    let dir = TempDir::new().unwrap();
    let nested = dir.path().join("a/b/state.db");
    let forms = [
        format!("sqlite:{}", dir.path().join("one.db").display()),
        format!("sqlite://{}", dir.path().join("two.db").display()),
        dir.path().join("three.db").display().to_string(),
        nested.display().to_string(),
    ];
    for url in &forms {
        let store = Store::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(store.backend(), Backend::Sqlite);
        store.set_cursor(SHOP, "customers", url).await.unwrap();
        store.close().await;
    }
    for name in ["one.db", "two.db", "three.db", "a/b/state.db"] {
        assert!(dir.path().join(name).is_file(), "{name} was not created");
    }

    let direct = SqliteStore::open(dir.path().join("direct.db"))
        .await
        .unwrap();
    assert_eq!(direct.path(), Some(dir.path().join("direct.db").as_path()));
    direct
        .put_orders(&[order("1", None, at(2026, 1, 1, 0, 0, 0), 5)])
        .await
        .unwrap();
    let in_memory = SqliteStore::open_in_memory().await.unwrap();
    assert_eq!(in_memory.path(), None);
    assert!(
        in_memory
            .get_cursor(SHOP, "customers")
            .await
            .unwrap()
            .is_none()
    );

    let memory = Store::connect("sqlite::memory:").await.unwrap();
    memory.set_cursor(SHOP, "customers", "x").await.unwrap();
    assert_eq!(
        memory
            .get_cursor(SHOP, "customers")
            .await
            .unwrap()
            .as_deref(),
        Some("x")
    );
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let dir = TempDir::new().unwrap();
    let store = Store::connect(&dir.path().join("state.db").display().to_string())
        .await
        .unwrap();
    let Store::Sqlite(sqlite) = &store else {
        panic!("expected SQLite");
    };
    let mut conn = sqlite.pool().acquire().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(sync, 1, "synchronous = NORMAL");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert!(busy >= 5_000, "busy_timeout {busy}");
    assert!(format!("{store}").starts_with("SQLite state store at "));
}

/// The store's checkpointer copies the WAL into the database file while the store is open,
/// well before a commit would (at 64 MiB of WAL), and closing the store leaves no WAL behind.
#[tokio::test]
async fn sqlite_checkpoints_the_wal_beside_the_writers() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("state.db");
    let wal = dir.path().join("state.db-wal");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    let commit_threshold: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    // What is written below stays far under the threshold at which a commit checkpoints.
    assert!(
        commit_threshold >= 4096,
        "wal_autocheckpoint {commit_threshold}"
    );

    let before = std::fs::metadata(&path).unwrap().len();
    let keys: Vec<String> = (0..30_000)
        .map(|n| format!("{}", 9_000_000_000_000u64 + n))
        .collect();
    let records: Vec<MappedRecord<'_>> = keys
        .iter()
        .map(|k| MappedRecord {
            shopify_id: k,
            sf_id: "802000000000001AAA",
            payload_hash: Some(7),
        })
        .collect();
    store
        .put_mapped(SHOP, "line_item", "OrderItem", &records)
        .await
        .unwrap();
    // About 3 MB of pages: in the WAL at first, in the database file once checkpointed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let grown = loop {
        let now = std::fs::metadata(&path).unwrap().len();
        if now >= before + (1 << 20) || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        grown >= before + (1 << 20),
        "the database file stayed at {grown} bytes (from {before}): the WAL was not checkpointed"
    );

    store.close().await;
    assert!(!wal.exists(), "closing the store left its WAL behind");
    let reopened = SqliteStore::open(&path).await.unwrap();
    let last = reopened
        .get_mapping(SHOP, "line_item", keys.last().unwrap())
        .await
        .unwrap()
        .expect("the last mapping written");
    assert_eq!(last.sf_id, "802000000000001AAA");
    reopened.close().await;
}

#[tokio::test]
async fn unusable_urls_fail_with_clear_errors() {
    let err = Store::connect("mysql://root:hunter2@db/shop")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err}");
    assert!(
        err.to_string().contains("mysql") && !err.to_string().contains("hunter2"),
        "{err}"
    );

    // A file cannot be a directory.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::connect(&file.join("state.db").display().to_string())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Connect {
                backend: Backend::Sqlite,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("SQLite state store"), "{err}");
}

/// The test URL with a password in it (the one it has, or a made-up one: the local server
/// trusts loopback connections and ignores it).
fn postgres_url_with_password(schema: Option<&str>) -> (String, String) {
    let base = crate::support::postgres_url();
    let mut url = url::Url::parse(&base).expect("SHOPFORCE_TEST_POSTGRES_URL is a URL");
    let password = match url.password() {
        Some(p) => p.to_owned(),
        None => {
            url.set_password(Some("Sup3r-Secret-pw")).unwrap();
            "Sup3r-Secret-pw".to_owned()
        }
    };
    let url = match schema {
        Some(schema) => crate::support::with_search_path(url.as_str(), schema),
        None => url.to_string(),
    };
    (url, password)
}

#[tokio::test]
async fn postgres_store_never_shows_its_password() {
    let check = |db: Db| async move {
        let schema = db.url.rsplit('=').next().unwrap().to_owned();
        let (url, password) = postgres_url_with_password(Some(&schema));
        let store = Store::connect(&url)
            .await
            .expect("connect with password URL");
        let debug = format!("{store:?}");
        let display = format!("{store}");
        for shown in [&debug, &display] {
            assert!(!shown.contains(&password), "password leaked: {shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        assert!(
            display.starts_with("PostgreSQL state store at postgres"),
            "{display}"
        );
        store.close().await;

        // A failed connection's error hides it too.
        let mut missing = url::Url::parse(&url).unwrap();
        missing.set_path(&crate::support::unique_name("/shopforce_no_such_db"));
        let err = Store::connect(missing.as_str()).await.unwrap_err();
        let (text, debug) = (err.to_string(), format!("{err:?}"));
        assert!(
            matches!(
                err,
                StoreError::Connect {
                    backend: Backend::Postgres,
                    ..
                }
            ),
            "{text}"
        );
        assert!(
            text.contains("PostgreSQL state store") && text.contains("***"),
            "{text}"
        );
        assert!(
            !text.contains(&password) && !debug.contains(&password),
            "{debug}"
        );
    };
    on_postgres(check).await;
}
