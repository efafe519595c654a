//! The engine's Salesforce client (`shopforce::salesforce`) against the emulator over HTTP:
//! JWT login and token reuse, actionable login refusals, Bulk ingest and query jobs, session
//! renewal, retries of transient faults, the API allowance stop, and secret hygiene.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use shopforce::emulator::salesforce::FaultProfile;
use shopforce::emulator::salesforce::oauth::ensure_dev_credentials;
use shopforce::salesforce::{
    AuthError, IngestJobSpec, JobState, Operation, PollBackoff, ResultKind, SalesforceClient,
    SalesforceConfig, SalesforceError, UploadSource,
};

use crate::support::*;

const KEY: &str = "Shopify_Customer_ID__c";

/// A client for `org` with test-speed timing (short retry and poll delays).
fn config_for(org: &Org) -> SalesforceConfig {
    let mut config =
        SalesforceConfig::with_key_file(&org.base, CONSUMER_KEY, USERNAME, &org.key_path)
            .expect("key file");
    config.requests_per_second = NonZeroU32::new(1000).unwrap();
    config.max_retries = 8;
    config.retry_min_delay = Duration::from_millis(5);
    config.retry_max_delay = Duration::from_millis(50);
    config.poll = PollBackoff {
        initial: Duration::from_millis(5),
        factor: 2.0,
        max: Duration::from_millis(100),
        jitter: true,
    };
    config.poll_timeout = Duration::from_secs(60);
    config
}

fn client_for(org: &Org) -> SalesforceClient {
    SalesforceClient::new(config_for(org)).expect("client")
}

/// Requests the emulator served on one route label (e.g. `POST oauth2/token`).
async fn route_count(org: &Org, route: &str) -> u64 {
    org.stats().await["requestsByRoute"][route]
        .as_u64()
        .unwrap_or(0)
}

async fn token_requests(org: &Org) -> u64 {
    route_count(org, "POST oauth2/token").await
}

fn contacts_csv(prefix: &str, n: usize) -> String {
    let mut csv = format!("{KEY},LastName,Email\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{prefix}-{i:05},Name{i},{prefix}{i}@example.com\n"
        ));
    }
    csv
}

/// Upserts `csv` into Contact through the client; returns the final job info.
async fn upsert_contacts(
    client: &SalesforceClient,
    csv: impl Into<UploadSource>,
) -> shopforce::salesforce::JobInfo {
    let job = client
        .create_ingest_job(&IngestJobSpec::upsert("Contact", KEY))
        .await
        .unwrap();
    client.upload_job_data(&job.id, csv).await.unwrap();
    client.close_job(&job.id).await.unwrap();
    client.wait_for_job(&job.id).await.unwrap()
}

fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    parse_csv(&std::fs::read_to_string(path).unwrap())
}

async fn login_error(config: SalesforceConfig) -> AuthError {
    match SalesforceClient::new(config).unwrap().login().await {
        Err(SalesforceError::Auth(e)) => e,
        other => panic!("expected a login refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_jwt_login_is_made_once_and_its_token_reused_by_every_clone() {
    let org = Org::start().await;
    let before = token_requests(&org).await;
    let client = client_for(&org);
    assert_eq!(client.api_usage(), None);
    client.login().await.unwrap();
    assert_eq!(client.instance_url().await.unwrap(), org.base);

    let clone = client.clone();
    let describe = client.describe("Contact").await.unwrap();
    let fields: Vec<&str> = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(fields.contains(&KEY), "{fields:?}");
    let users = clone
        .query(&format!(
            "SELECT Id, Username FROM User WHERE Username = '{USERNAME}'"
        ))
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    let limits = clone.limits().await.unwrap();
    assert!(limits["DailyApiRequests"]["Max"].is_u64());

    let usage = client.api_usage().expect("Sforce-Limit-Info read");
    assert_eq!(usage.max, 1_000_000);
    assert!(usage.used >= 3, "{usage:?}");
    assert_eq!(client.login_count(), 1);
    assert_eq!(token_requests(&org).await - before, 1);

    // Concurrent first calls on a fresh client wait for one shared login.
    let fresh = client_for(&org);
    let calls = (0..8).map(|_| {
        let c = fresh.clone();
        async move { c.describe("Account").await }
    });
    for result in join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(fresh.login_count(), 1);
    assert_eq!(token_requests(&org).await - before, 2);
}

#[tokio::test]
async fn each_refused_login_says_what_to_fix_and_is_not_retried() {
    let org = Org::start().await;
    let before = token_requests(&org).await;

    let mut config = config_for(&org);
    config.client_id = "3MVG9not.the.key".into();
    let e = login_error(config).await;
    assert!(matches!(e, AuthError::InvalidClientId { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("Consumer key '3MVG9not.the.key'"), "{text}");
    assert!(text.contains("consumer key of the connected app"), "{text}");

    let mut config = config_for(&org);
    config.username = "nobody@shopforce.test".into();
    let e = login_error(config).await;
    assert!(matches!(e, AuthError::UserNotApproved { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("nobody@shopforce.test"), "{text}");
    assert!(text.contains("permission set"), "{text}");
    assert!(text.contains("pre-authorized"), "{text}");

    let other = tempfile::tempdir().unwrap();
    let foreign = ensure_dev_credentials(other.path()).unwrap();
    let mut config = SalesforceConfig::with_key_file(
        &org.base,
        CONSUMER_KEY,
        USERNAME,
        &foreign.private_key_path,
    )
    .unwrap();
    config.max_retries = 3;
    let e = login_error(config).await;
    assert!(matches!(e, AuthError::InvalidSignature { .. }), "{e:?}");
    assert!(e.to_string().contains("certificate"), "{e}");

    let mut config = config_for(&org);
    config.audience = Some("https://acme.my.salesforce.com".into());
    let e = login_error(config).await;
    assert!(matches!(e, AuthError::AudienceInvalid { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("https://acme.my.salesforce.com"), "{text}");
    assert!(text.contains("https://test.salesforce.com"), "{text}");

    // One token request per refusal: refusals are not transient.
    assert_eq!(token_requests(&org).await - before, 4);
}

#[tokio::test]
async fn an_ingest_job_round_trip_from_a_file_reports_the_failing_row() {
    let org = Org::start().await;
    let client = client_for(&org);
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("contacts.csv");
    let csv = format!(
        "{KEY},LastName,Email\nrt-1,Lovelace,ada@example.com\nrt-2,,nolastname@example.com\nrt-3,Hopper,grace@example.com\n"
    );
    std::fs::write(&upload, &csv).unwrap();

    let job = client
        .create_ingest_job(&IngestJobSpec::upsert("Contact", KEY))
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Open);
    assert_eq!(job.operation, Operation::Upsert);
    assert_eq!(job.external_id_field_name.as_deref(), Some(KEY));
    let sent = client
        .upload_job_data(&job.id, upload.clone())
        .await
        .unwrap();
    assert_eq!(sent, csv.len() as u64);
    let closed = client.close_job(&job.id).await.unwrap();
    assert_eq!(closed.state, JobState::UploadComplete);
    let done = client.wait_for_job(&job.id).await.unwrap();
    assert_eq!(done.state, JobState::JobComplete);
    assert_eq!(
        (done.number_records_processed, done.number_records_failed),
        (3, 1)
    );
    assert_eq!(done.number_records_succeeded(), 2);
    // Closing again (a retried close whose first answer was lost) is not an error.
    let again = client.close_job(&job.id).await.unwrap();
    assert_eq!(again.state, JobState::JobComplete);

    let ok_path = dir.path().join("successful.csv");
    let written = client
        .download_results(&job.id, ResultKind::Successful, &ok_path)
        .await
        .unwrap();
    assert_eq!(written, std::fs::metadata(&ok_path).unwrap().len());
    let ok = read_csv(&ok_path);
    assert_eq!(ok.len(), 2);
    for row in &ok {
        assert!(row["sf__Id"].starts_with("003"), "{row:?}");
        assert_eq!(row["sf__Created"], "true");
    }

    let failed_path = dir.path().join("failed.csv");
    client
        .download_results(&job.id, ResultKind::Failed, &failed_path)
        .await
        .unwrap();
    let failed = read_csv(&failed_path);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0][KEY], "rt-2");
    assert!(
        failed[0]["sf__Error"].starts_with("REQUIRED_FIELD_MISSING:"),
        "{:?}",
        failed[0]
    );

    let unprocessed_path = dir.path().join("unprocessed.csv");
    client
        .download_results(&job.id, ResultKind::Unprocessed, &unprocessed_path)
        .await
        .unwrap();
    assert!(read_csv(&unprocessed_path).is_empty());

    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "partial downloads left behind");

    let records = org.records("Contact").await;
    find(&records, KEY, "rt-1");
    find(&records, KEY, "rt-3");
    assert!(!records.iter().any(|r| r[KEY] == "rt-2"));
}

#[tokio::test]
async fn a_large_upload_is_streamed_from_disk_and_lands_whole() {
    let org = Org::start().await;
    let client = client_for(&org);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let rows = 30_000;
    std::fs::write(&path, contacts_csv("big", rows)).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 1_000_000, "{size}");

    let job = client
        .create_ingest_job(&IngestJobSpec::upsert("Contact", KEY))
        .await
        .unwrap();
    assert_eq!(
        client
            .upload_job_data(&job.id, path.as_path())
            .await
            .unwrap(),
        size
    );
    client.close_job(&job.id).await.unwrap();
    let done = client.wait_for_job(&job.id).await.unwrap();
    assert_eq!(done.state, JobState::JobComplete);
    assert_eq!(done.number_records_processed, rows as u64);
    assert_eq!(done.number_records_failed, 0);
    assert_eq!(org.records("Contact").await.len(), rows);
}

#[tokio::test]
async fn an_expired_session_is_renewed_with_exactly_one_login() {
    let org = Org::start().await;
    let before = token_requests(&org).await;
    let client = client_for(&org);
    client.describe("Contact").await.unwrap();
    assert_eq!(client.login_count(), 1);

    // Every session ends mid-run; the next call logs in once and the job carries on.
    org.set_faults(json!({"expire_tokens": true})).await;
    let done = upsert_contacts(&client, contacts_csv("exp", 5)).await;
    assert_eq!(done.state, JobState::JobComplete);
    assert_eq!(done.number_records_processed, 5);
    assert_eq!(client.login_count(), 2);

    // Concurrent callers that all hit the expired session share one new login.
    org.set_faults(json!({"expire_tokens": true})).await;
    let calls = (0..8).map(|_| {
        let c = client.clone();
        async move { c.describe("Contact").await }
    });
    for result in join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(client.login_count(), 3);
    assert_eq!(token_requests(&org).await - before, 3);
}

#[tokio::test]
async fn a_token_refused_right_after_login_fails_instead_of_looping() {
    let org = Org::start().await;
    org.set_faults(json!({"token_requests": 0})).await;
    let before = token_requests(&org).await;
    let client = client_for(&org);
    let error = client.describe("Contact").await.unwrap_err();
    assert!(
        matches!(
            error,
            SalesforceError::Auth(AuthError::SessionRefused { .. })
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(error.to_string().contains("API Enabled"), "{error}");
    // The expired token, one renewal, and no more.
    assert_eq!(token_requests(&org).await - before, 2);
}

#[tokio::test]
async fn transient_500_503_and_429_answers_are_retried_until_the_work_lands() {
    let org = Org::start_with(Options {
        faults: FaultProfile {
            seed: 11,
            http500: 0.12,
            http503: 0.12,
            http429: 0.03,
            ..FaultProfile::default()
        },
        ..Options::default()
    })
    .await;
    let client = client_for(&org);
    let dir = tempfile::tempdir().unwrap();

    let done = upsert_contacts(&client, contacts_csv("flaky", 40)).await;
    assert_eq!(done.state, JobState::JobComplete);
    assert_eq!(done.number_records_processed, 40);
    assert_eq!(done.number_records_failed, 0);
    let ok_path = dir.path().join("ok.csv");
    client
        .download_results(&done.id, ResultKind::Successful, &ok_path)
        .await
        .unwrap();
    assert_eq!(read_csv(&ok_path).len(), 40);

    let rows = client
        .query(&format!("SELECT Id FROM Contact WHERE {KEY} != null"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 40);

    let query = client
        .create_query_job(&format!(
            "SELECT Id, {KEY} FROM Contact WHERE {KEY} != null"
        ))
        .await
        .unwrap();
    client.wait_for_query(&query.id).await.unwrap();
    let pages = client
        .download_query_results(&query.id, &dir.path().join("q"), Some(15))
        .await
        .unwrap();
    assert_eq!(pages.records, 40);

    let injected = org.stats().await["faultsInjected"].as_u64().unwrap();
    assert!(injected >= 2, "only {injected} faults were injected");
}

#[tokio::test]
async fn each_kind_of_transient_answer_is_retried() {
    let org = Org::start().await;
    let client = client_for(&org);
    let rate = 0.4;
    let kinds = [
        ("500", json!({"seed": 3, "http500": rate})),
        ("503", json!({"seed": 3, "http503": rate})),
        ("429", json!({"seed": 3, "http429": rate})),
    ];
    for (kind, faults) in kinds {
        org.set_faults(faults).await;
        let before = org.stats().await["faultsInjected"].as_u64().unwrap();
        for _ in 0..4 {
            client.describe("Contact").await.unwrap();
        }
        let injected = org.stats().await["faultsInjected"].as_u64().unwrap() - before;
        assert!(injected >= 1, "no HTTP {kind} was injected");
    }
}

#[tokio::test]
async fn retry_after_is_honoured_and_retries_stop_at_the_limit() {
    let org = Org::start_with(Options {
        faults: FaultProfile {
            http429: 1.0,
            ..FaultProfile::default()
        },
        ..Options::default()
    })
    .await;
    let mut config = config_for(&org);
    config.max_retries = 1;
    let client = SalesforceClient::new(config).unwrap();
    let started = Instant::now();
    let error = client.describe("Contact").await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(error, SalesforceError::Api { status: 429, .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    // The emulator says Retry-After: 1; the computed delay alone would be ~5 ms.
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert_eq!(route_count(&org, "GET sobjects/Contact/describe").await, 2);
}

#[tokio::test]
async fn the_allowance_stop_keeps_new_jobs_from_starting() {
    let org = Org::start_with(Options {
        api_limit: 10,
        ..Options::default()
    })
    .await;
    let mut config = config_for(&org);
    config.api_usage_stop_fraction = 0.5;
    let client = SalesforceClient::new(config).unwrap();
    client.ensure_allowance().unwrap();
    for _ in 0..5 {
        client.describe("Contact").await.unwrap();
    }
    let usage = client.api_usage().unwrap();
    assert_eq!((usage.used, usage.max), (5, 10));

    let error = client.ensure_allowance().unwrap_err();
    assert!(
        matches!(
            error,
            SalesforceError::AllowanceNearlyUsed {
                used: 5,
                max: 10,
                ..
            }
        ),
        "{error:?}"
    );
    let error = client
        .create_ingest_job(&IngestJobSpec::upsert("Contact", KEY))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("daily API allowance is nearly used"),
        "{text}"
    );
    assert!(text.contains("stops starting new work"), "{text}");
    assert!(!error.is_transient());
    assert!(matches!(
        client.create_query_job("SELECT Id FROM Contact").await,
        Err(SalesforceError::AllowanceNearlyUsed { .. })
    ));
    assert_eq!(route_count(&org, "POST jobs/ingest").await, 0);
    assert_eq!(route_count(&org, "POST jobs/query").await, 0);
    // Calls that are not new work still go through.
    client.describe("Contact").await.unwrap();
}

#[tokio::test]
async fn request_limit_exceeded_fails_once_without_retrying() {
    let org = Org::start_with(Options {
        api_limit: 3,
        ..Options::default()
    })
    .await;
    let mut config = config_for(&org);
    config.api_usage_stop_fraction = 1.0;
    let client = SalesforceClient::new(config).unwrap();
    for _ in 0..3 {
        client.describe("Contact").await.unwrap();
    }
    let error = client.describe("Contact").await.unwrap_err();
    assert!(
        matches!(error, SalesforceError::RequestLimitExceeded { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(error.error_code(), Some("REQUEST_LIMIT_EXCEEDED"));
    assert!(error.to_string().contains("TotalRequests Limit exceeded."));
    assert_eq!(route_count(&org, "GET sobjects/Contact/describe").await, 4);
    let usage = client.api_usage().unwrap();
    assert_eq!((usage.used, usage.max), (4, 3));
}

#[tokio::test]
async fn a_bulk_query_follows_the_locator_through_every_page() {
    let org = Org::start().await;
    let client = client_for(&org);
    upsert_contacts(&client, contacts_csv("q", 25)).await;

    let job = client
        .create_query_job(&format!(
            "SELECT Id, LastName, {KEY} FROM Contact WHERE {KEY} != null"
        ))
        .await
        .unwrap();
    assert_eq!(job.operation, Operation::Query);
    let done = client.wait_for_query(&job.id).await.unwrap();
    assert_eq!(done.state, JobState::JobComplete);
    assert_eq!(done.number_records_processed, 25);

    let dir = tempfile::tempdir().unwrap();
    let download = client
        .download_query_results(&job.id, dir.path(), Some(10))
        .await
        .unwrap();
    assert_eq!(download.files.len(), 3);
    assert_eq!(download.records, 25);
    let mut keys: Vec<String> = download
        .files
        .iter()
        .flat_map(|f| read_csv(f))
        .map(|row| row[KEY].clone())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 25);

    let mut sizes = Vec::new();
    let total = client
        .for_each_query_page(&job.id, Some(7), |page| {
            assert_eq!(page.index, sizes.len());
            sizes.push(parse_csv(std::str::from_utf8(&page.csv).unwrap()).len());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(total, 25);
    assert_eq!(sizes, [7, 7, 7, 4]);
}

#[tokio::test]
async fn a_rest_query_follows_next_records_url() {
    let org = Org::start().await;
    let client = client_for(&org);
    upsert_contacts(&client, contacts_csv("rest", 2_100)).await;
    let rows = client
        .query(&format!(
            "SELECT Id, {KEY} FROM Contact WHERE {KEY} != null"
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2_100);
    assert!(route_count(&org, "GET query/{id}").await >= 1);
}

#[tokio::test]
async fn failed_and_aborted_jobs_are_values_and_open_jobs_are_not_waited_on() {
    let org = Org::start_with(Options {
        faults: FaultProfile {
            fail_jobs: 1,
            ..FaultProfile::default()
        },
        ..Options::default()
    })
    .await;
    let client = client_for(&org);
    let failed = upsert_contacts(&client, contacts_csv("fail", 30)).await;
    assert_eq!(failed.state, JobState::Failed);
    assert!(
        failed
            .error_message
            .as_deref()
            .is_some_and(|m| !m.is_empty()),
        "{failed:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unprocessed.csv");
    client
        .download_results(&failed.id, ResultKind::Unprocessed, &path)
        .await
        .unwrap();
    let unprocessed = read_csv(&path).len() as u64;
    assert_eq!(unprocessed + failed.number_records_processed, 30);

    let open = client
        .create_ingest_job(&IngestJobSpec::new("Account", Operation::Insert))
        .await
        .unwrap();
    let error = client.wait_for_job(&open.id).await.unwrap_err();
    assert!(
        matches!(
            error,
            SalesforceError::JobState {
                state: JobState::Open,
                ..
            }
        ),
        "{error:?}"
    );
    let aborted = client.abort_job(&open.id).await.unwrap();
    assert_eq!(aborted.state, JobState::Aborted);
    let refused = client.close_job(&open.id).await.unwrap_err();
    assert_eq!(refused.error_code(), Some("INVALIDJOBSTATE"), "{refused:?}");
    assert_eq!(
        client.wait_for_job(&open.id).await.unwrap().state,
        JobState::Aborted
    );
    client.delete_job(&open.id).await.unwrap();
    let gone = client.job_info(&open.id).await.unwrap_err();
    assert!(
        matches!(&gone, SalesforceError::Api { status: 404, error_code, .. } if error_code == "NOT_FOUND"),
        "{gone:?}"
    );
}

#[tokio::test]
async fn the_rate_limiter_paces_calls() {
    let org = Org::start().await;
    let mut config = config_for(&org);
    config.requests_per_second = NonZeroU32::new(5).unwrap();
    let client = SalesforceClient::new(config).unwrap();
    client.login().await.unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        client.describe("Contact").await.unwrap();
    }
    // A burst of 5, then one call per 200 ms.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(850), "{elapsed:?}");
}

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_and_keys_never_show_in_debug_display_errors_or_logs() {
    let logs = Capture::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("shopforce=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let org = Org::start_with(Options {
        api_limit: 6,
        ..Options::default()
    })
    .await;
    let mut config = config_for(&org);
    config.api_usage_stop_fraction = 0.5;
    let client = SalesforceClient::new(config.clone()).unwrap();
    let issued = |org: &Org| -> Vec<String> {
        org.emulator
            .as_ref()
            .unwrap()
            .state()
            .sessions
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let mut tokens = issued(&org);
    client.describe("Contact").await.unwrap();
    tokens.extend(issued(&org));
    org.set_faults(json!({"expire_tokens": true})).await;
    client.describe("Contact").await.unwrap();
    tokens.extend(issued(&org));
    tokens.sort();
    tokens.dedup();
    // The support helper's own token plus this client's two.
    assert_eq!(tokens.len(), 3, "{}", tokens.len());

    let mut texts = vec![format!("{client:?}"), format!("{config:?}")];
    let mut errors = Vec::new();
    errors.push(client.job_info("7505g0000000000AAA").await.unwrap_err());
    errors.push(
        client
            .create_ingest_job(&IngestJobSpec::upsert("Contact", KEY))
            .await
            .unwrap_err(),
    );
    for _ in 0..4 {
        if let Err(e) = client.describe("Contact").await {
            errors.push(e);
            break;
        }
    }
    let mut bad_audience = config.clone();
    bad_audience.audience = Some("https://elsewhere.example".into());
    errors.push(
        SalesforceClient::new(bad_audience)
            .unwrap()
            .login()
            .await
            .unwrap_err(),
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, SalesforceError::RequestLimitExceeded { .. }))
    );
    for e in &errors {
        texts.push(format!("{e:?}"));
        texts.push(e.to_string());
    }
    // Whatever this thread's subscriber captured is checked too. (A thread-local subscriber can
    // miss events whose callsite interest another test thread cached first, so capture is not
    // asserted here; `engine::sync::no_secret_appears_in_logs_or_errors` checks the real
    // binary's complete trace-level output.)
    texts.push(String::from_utf8(logs.0.lock().unwrap().clone()).unwrap());

    let key_pem = std::fs::read_to_string(&org.key_path).unwrap();
    let key_lines: Vec<&str> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .collect();
    assert!(!key_lines.is_empty());
    for text in &texts {
        for token in &tokens {
            assert!(!text.contains(token.as_str()), "token leaked into: {text}");
            // The token's secret half, in case a prefix were shown.
            let tail = &token[token.len() - 20..];
            assert!(!text.contains(tail), "token leaked into: {text}");
        }
        for line in &key_lines {
            assert!(!text.contains(line), "private key leaked into: {text}");
        }
        assert!(!text.contains("PRIVATE KEY-----"), "{text}");
    }
}
