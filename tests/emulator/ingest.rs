//! Bulk API 2.0 ingest: the job lifecycle, the CSV rules and whole-job failures.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const CONTACTS: &str = "Shopify_Customer_ID__c,FirstName,LastName,Email\n1001,Ada,Lovelace,ada@example.com\n1002,Alan,Turing,alan@example.com\n";

#[tokio::test]
async fn an_upsert_creates_then_updates_and_reports_both() {
    let org = Org::start().await;
    let (job, info) = org
        .upsert("Contact", "Shopify_Customer_ID__c", CONTACTS)
        .await;
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(
        (
            info["numberRecordsProcessed"].as_u64(),
            info["numberRecordsFailed"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let ok = org.results(&job, "successfulResults").await;
    assert_eq!(ok.len(), 2);
    assert!(
        ok.iter()
            .all(|r| r["sf__Created"] == "true" && r["sf__Id"].starts_with("003"))
    );
    let (job2, _) = org
        .upsert(
            "Contact",
            "Shopify_Customer_ID__c",
            "Shopify_Customer_ID__c,LastName\n1001,Byron\n",
        )
        .await;
    let ok2 = org.results(&job2, "successfulResults").await;
    assert_eq!(ok2[0]["sf__Created"], "false");
    let ada_id = &ok
        .iter()
        .find(|r| r["Shopify_Customer_ID__c"] == "1001")
        .unwrap()["sf__Id"];
    assert_eq!(&ok2[0]["sf__Id"], ada_id);
    let records = org.records("Contact").await;
    assert_eq!(records.len(), 2);
    let ada = find(&records, "Shopify_Customer_ID__c", "1001");
    assert_eq!(ada["LastName"], "Byron");
    assert_eq!(
        ada["FirstName"], "Ada",
        "an absent column leaves the field unchanged"
    );
}

#[tokio::test]
async fn job_info_has_the_exact_salesforce_shape() {
    let org = Org::start().await;
    let (status, created) = org
        .send_json(
            Method::POST,
            "jobs/ingest",
            json!({"object": "Contact", "operation": "insert"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("750") && id.len() == 18);
    assert_eq!(created["state"], "Open");
    assert_eq!(created["contentType"], "CSV");
    assert_eq!(created["lineEnding"], "LF");
    assert_eq!(created["columnDelimiter"], "COMMA");
    assert_eq!(created["concurrencyMode"], "Parallel");
    assert_eq!(created["apiVersion"], json!(64.0));
    assert_eq!(
        created["contentUrl"],
        format!("services/data/v64.0/jobs/ingest/{id}/batches")
    );
    let created_date = created["createdDate"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_str(created_date, "%Y-%m-%dT%H:%M:%S%.3f%z").is_ok(),
        "{created_date}"
    );
    assert!(created_date.ends_with("+0000"));
    let (_, info) = org.get_json(&format!("jobs/ingest/{id}")).await;
    assert_eq!(info["jobType"], "V2Ingest");
    for counter in [
        "numberRecordsProcessed",
        "numberRecordsFailed",
        "retries",
        "totalProcessingTime",
    ] {
        assert!(
            info[counter].is_u64(),
            "{counter} must be numeric while Open"
        );
    }
}

#[tokio::test]
async fn rows_that_fail_are_reported_while_the_rest_of_the_job_lands() {
    let org = Org::start().await;
    let long_id = "x".repeat(65);
    let csv = format!(
        "Shopify_Customer_ID__c,LastName,Email,Email_Consent_Status__c,Order_Count__c,Last_Order_Date__c,HasOptedOutOfEmail\n\
         1,Good,good@example.com,Subscribed,3,2026-01-31,false\n\
         2,,a@example.com,,,,\n\
         3,Pick,b@example.com,Maybe,,,\n\
         4,Mail,not-an-email,,,,\n\
         {long_id},Long,,,,,\n\
         6,Num,,,lots,,\n\
         7,Date,,,,31/01/2026,\n\
         8,Bool,,,,,perhaps\n\
         9,Dup,,,,,\n\
         9,Dup,,,,,\n"
    );
    let (job, info) = org.upsert("Contact", "Shopify_Customer_ID__c", &csv).await;
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsProcessed"], 10);
    assert_eq!(info["numberRecordsFailed"], 9);
    let failed = org.results(&job, "failedResults").await;
    let error_for = |key: &str| -> Vec<String> {
        failed
            .iter()
            .filter(|r| r["Shopify_Customer_ID__c"] == key)
            .map(|r| r["sf__Error"].clone())
            .collect()
    };
    assert_eq!(
        error_for("2"),
        ["REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"]
    );
    assert_eq!(
        error_for("3"),
        [
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Email Consent Status: bad value for restricted picklist field: Maybe:Email_Consent_Status__c --"
        ]
    );
    assert_eq!(
        error_for("4"),
        ["INVALID_EMAIL_ADDRESS:Email: invalid email address: not-an-email:Email --"]
    );
    assert!(
        error_for(&long_id)[0]
            .starts_with("STRING_TOO_LONG:Shopify Customer ID: data value too large:")
    );
    assert!(error_for(&long_id)[0].contains("(max length=64)"));
    assert!(error_for("6")[0].starts_with("INVALID_TYPE_ON_FIELD_IN_RECORD:"));
    assert!(error_for("7")[0].starts_with("INVALID_TYPE_ON_FIELD_IN_RECORD:"));
    assert!(error_for("8")[0].starts_with("INVALID_TYPE_ON_FIELD_IN_RECORD:"));
    assert_eq!(
        error_for("9"),
        vec!["DUPLICATE_VALUE:Duplicate external id specified: 9:--".to_string(); 2]
    );
    assert!(failed.iter().all(|r| r["sf__Id"].is_empty()));
    let ok = org.results(&job, "successfulResults").await;
    assert_eq!(ok.len(), 1);
    let records = org.records("Contact").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["Order_Count__c"], 3);
    assert_eq!(records[0]["Last_Order_Date__c"], "2026-01-31");
}

#[tokio::test]
async fn read_only_fields_and_ids_on_insert_are_rejected_per_row() {
    let org = Org::start().await;
    let (job, _) = org
        .ingest(
            json!({"object": "Contact", "operation": "insert"}),
            "LastName,CreatedDate,Id\nA,2026-01-01T00:00:00Z,\nB,,\nC,,003000000000001\n",
        )
        .await;
    let failed = org.results(&job, "failedResults").await;
    let errors: Vec<&str> = failed.iter().map(|r| r["sf__Error"].as_str()).collect();
    assert!(errors.iter().any(|e| e.starts_with(
        "INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: CreatedDate."
    )));
    assert!(
        errors
            .contains(&"INVALID_FIELD_FOR_INSERT_UPDATE:cannot specify Id in an insert call:Id --")
    );
    assert_eq!(org.results(&job, "successfulResults").await.len(), 1);
}

#[tokio::test]
async fn empty_cells_leave_fields_alone_and_na_clears_them() {
    let org = Org::start().await;
    org.upsert(
        "Contact",
        "Shopify_Customer_ID__c",
        "Shopify_Customer_ID__c,LastName,Phone,Title\n1,Lee,555-0100,CEO\n",
    )
    .await;
    org.upsert(
        "Contact",
        "Shopify_Customer_ID__c",
        "Shopify_Customer_ID__c,Phone,Title\n1,#N/A,\n",
    )
    .await;
    let records = org.records("Contact").await;
    assert!(
        records[0].get("Phone").is_none(),
        "#N/A sets null: {}",
        records[0]
    );
    assert_eq!(records[0]["Title"], "CEO");
}

#[tokio::test]
async fn values_needing_quotes_round_trip_byte_exact() {
    let org = Org::start().await;
    let csv = "Shopify_Customer_ID__c,LastName,Description\n1,\"O'Brien, \"\"Jr\"\"\",\"line one\nline two, with ünïcödé ✓\"\n2,=SUM(A1),\"\"\n";
    let (job, info) = org.upsert("Contact", "Shopify_Customer_ID__c", csv).await;
    assert_eq!(info["numberRecordsFailed"], 0);
    let records = org.records("Contact").await;
    let first = find(&records, "Shopify_Customer_ID__c", "1");
    assert_eq!(first["LastName"], "O'Brien, \"Jr\"");
    assert_eq!(first["Description"], "line one\nline two, with ünïcödé ✓");
    assert_eq!(
        find(&records, "Shopify_Customer_ID__c", "2")["LastName"],
        "=SUM(A1)"
    );
    let (_, raw) = org
        .get_text(&format!("jobs/ingest/{job}/successfulResults"))
        .await;
    assert!(
        raw.starts_with("\"sf__Id\",\"sf__Created\",Shopify_Customer_ID__c,LastName,Description\n"),
        "{raw}"
    );
    assert!(raw.contains("\"O'Brien, \"\"Jr\"\"\""));
}

#[tokio::test]
async fn other_delimiters_and_crlf_line_endings_work_when_declared() {
    let org = Org::start().await;
    for (delimiter, sep) in [
        ("PIPE", "|"),
        ("TAB", "\t"),
        ("SEMICOLON", ";"),
        ("CARET", "^"),
        ("BACKQUOTE", "`"),
    ] {
        let csv =
            format!("Shopify_Customer_ID__c{sep}LastName\r\n{delimiter}{sep}Name {delimiter}\r\n");
        let spec = json!({"object": "Contact", "operation": "upsert", "externalIdFieldName": "Shopify_Customer_ID__c",
            "columnDelimiter": delimiter, "lineEnding": "CRLF"});
        let (job, info) = org.ingest(spec, &csv).await;
        assert_eq!(info["state"], "JobComplete", "{delimiter}: {info}");
        assert_eq!(info["numberRecordsFailed"], 0, "{delimiter}");
        let (_, text) = org
            .get_text(&format!("jobs/ingest/{job}/successfulResults"))
            .await;
        assert!(
            text.contains(&format!("\"sf__Id\"{sep}\"sf__Created\"")),
            "{text}"
        );
        assert!(text.ends_with("\r\n"));
    }
    assert_eq!(org.records("Contact").await.len(), 5);
}

#[tokio::test]
async fn a_bad_header_bom_or_line_ending_fails_the_whole_job() {
    let org = Org::start().await;
    let cases = [
        (
            "LastName,NoSuchField__c\nA,b\n",
            "InvalidBatch : Field name not found : NoSuchField__c",
        ),
        (
            "\u{feff}LastName\nA\n",
            "InvalidBatch : Field name not found : \u{feff}LastName",
        ),
        (
            "LastName\r\nA\r\n",
            "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF",
        ),
        (
            "LastName,Account.Nope__c\nA,1\n",
            "InvalidBatch : Field name not found : Account.Nope__c",
        ),
    ];
    for (csv, message) in cases {
        let (job, info) = org
            .ingest(json!({"object": "Contact", "operation": "insert"}), csv)
            .await;
        assert_eq!(info["state"], "Failed", "{csv:?}");
        assert_eq!(info["errorMessage"], message);
        assert_eq!(info["numberRecordsProcessed"], 0);
        let unprocessed = org.results(&job, "unprocessedrecords").await;
        assert_eq!(
            unprocessed.len(),
            1,
            "failed jobs keep their rows as unprocessed"
        );
    }
    assert!(org.records("Contact").await.is_empty());
}

#[tokio::test]
async fn only_one_upload_per_job_and_only_while_open() {
    let org = Org::start().await;
    let job = org
        .create_job(json!({"object": "Contact", "operation": "insert"}))
        .await;
    assert_eq!(
        org.upload(&job, "LastName\nA\n").await.status(),
        StatusCode::CREATED
    );
    let second = org.upload(&job, "LastName\nB\n").await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    let body: Value = second.json().await.unwrap();
    assert_eq!(error_code(&body), "INVALIDJOBSTATE");
    assert!(
        body[0]["message"]
            .as_str()
            .unwrap()
            .contains("Found multiple contents for job")
    );
    org.close(&job).await;
    org.wait("ingest", &job).await;
    let late = org.upload(&job, "LastName\nC\n").await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    assert_eq!(org.records("Contact").await.len(), 1);
}

#[tokio::test]
async fn wrong_state_transitions_are_refused() {
    let org = Org::start().await;
    let (job, _) = org
        .ingest(
            json!({"object": "Contact", "operation": "insert"}),
            "LastName\nA\n",
        )
        .await;
    let (status, body) = org.close(&job).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALIDJOBSTATE")
    );
    let (status, body) = org
        .send_json(
            Method::PATCH,
            &format!("jobs/ingest/{job}"),
            json!({"state": "Aborted"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body[0]["message"],
        "Aborting already Completed Job not allowed"
    );
    let (status, body) = org
        .send_json(
            Method::PATCH,
            &format!("jobs/ingest/{job}"),
            json!({"state": "Open"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALIDJOBSTATE")
    );
    // Results before the job is done are refused; an open job can be aborted.
    let open = org
        .create_job(json!({"object": "Contact", "operation": "insert"}))
        .await;
    let (status, _) = org
        .get_text(&format!("jobs/ingest/{open}/successfulResults"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = org
        .send_json(
            Method::PATCH,
            &format!("jobs/ingest/{open}"),
            json!({"state": "Aborted"}),
        )
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("Aborted"))
    );
    let r = org
        .call(Method::PATCH, &format!("jobs/ingest/{open}"), None)
        .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "an empty PATCH body is a JSON error"
    );
}

#[tokio::test]
async fn bad_create_requests_get_salesforce_errors() {
    let org = Org::start().await;
    let cases = [
        (
            json!({"object": "Nope", "operation": "insert"}),
            "INVALIDJOB",
        ),
        (
            json!({"object": "Contact", "operation": "INSERT"}),
            "INVALIDJOB",
        ),
        (
            json!({"object": "Contact", "operation": "upsert"}),
            "INVALIDJOB",
        ),
        (
            json!({"object": "Contact", "operation": "upsert", "externalIdFieldName": "LastName"}),
            "INVALIDJOB",
        ),
        (
            json!({"object": "Contact", "operation": "insert", "lineEnding": "CR"}),
            "INVALIDJOB",
        ),
        (
            json!({"object": "Contact", "operation": "insert", "columnDelimiter": "COLON"}),
            "INVALIDJOB",
        ),
        (
            json!({"object": "Contact", "operation": "insert", "contentType": "JSON"}),
            "INVALIDJOB",
        ),
        (
            json!({"object": 5, "operation": "insert"}),
            "JSON_PARSER_ERROR",
        ),
    ];
    for (spec, code) in cases {
        let (status, body) = org
            .send_json(Method::POST, "jobs/ingest", spec.clone())
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, code),
            "{spec}"
        );
    }
    let r = org
        .http
        .post(org.url("jobs/ingest"))
        .bearer_auth(&org.token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "JSON_PARSER_ERROR");
}

#[tokio::test]
async fn an_oversized_upload_is_refused_and_the_job_stays_usable() {
    let org = Org::start_with(Options {
        max_upload_bytes: 64,
        ..Options::default()
    })
    .await;
    let job = org
        .create_job(json!({"object": "Contact", "operation": "insert"}))
        .await;
    let big = format!("LastName\n{}", "Name\n".repeat(100));
    let r = org.upload(&job, big).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body[0]["message"]
            .as_str()
            .unwrap()
            .contains("maximum size")
    );
    assert_eq!(
        org.upload(&job, "LastName\nA\n").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn chunked_uploads_are_accepted() {
    let org = Org::start().await;
    let job = org
        .create_job(json!({"object": "Contact", "operation": "insert"}))
        .await;
    let chunks: Vec<Result<&'static str, std::io::Error>> =
        vec![Ok("LastName\n"), Ok("Chunk"), Ok("ed\nSecond\n")];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_eq!(org.upload(&job, body).await.status(), StatusCode::CREATED);
    org.close(&job).await;
    let info = org.wait("ingest", &job).await;
    assert_eq!(info["numberRecordsProcessed"], 2);
    let names: Vec<Value> = org
        .records("Contact")
        .await
        .iter()
        .map(|r| r["LastName"].clone())
        .collect();
    assert_eq!(names, [json!("Chunked"), json!("Second")]);
}

#[tokio::test]
async fn sub_resources_ignore_case_and_trailing_slashes() {
    let org = Org::start().await;
    let (job, _) = org
        .ingest(
            json!({"object": "Contact", "operation": "insert"}),
            "LastName\nA\n",
        )
        .await;
    for path in [
        format!("jobs/ingest/{job}/unprocessedrecords"),
        format!("jobs/ingest/{job}/unprocessedRecords"),
        format!("jobs/ingest/{job}/unprocessedrecords/"),
        format!("jobs/ingest/{job}/SuccessfulResults/"),
        format!("jobs/ingest/{job}/"),
    ] {
        let (status, _) = org.get_text(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn jobs_are_listed_and_deleted() {
    let org = Org::start().await;
    let (job, _) = org
        .ingest(
            json!({"object": "Contact", "operation": "insert"}),
            "LastName\nA\n",
        )
        .await;
    let (_, list) = org.get_json("jobs/ingest").await;
    assert_eq!(list["done"], true);
    assert!(
        list["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == json!(job))
    );
    let open = org
        .create_job(json!({"object": "Contact", "operation": "insert"}))
        .await;
    let r = org
        .call(Method::DELETE, &format!("jobs/ingest/{open}"), None)
        .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "open jobs cannot be deleted"
    );
    let r = org
        .call(Method::DELETE, &format!("jobs/ingest/{job}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, body) = org.get_json(&format!("jobs/ingest/{job}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
}

#[tokio::test]
async fn results_are_gzipped_when_asked() {
    let org = Org::start().await;
    let (job, _) = org
        .ingest(
            json!({"object": "Contact", "operation": "insert"}),
            "LastName\nA\n",
        )
        .await;
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = raw
        .get(org.url(&format!("jobs/ingest/{job}/successfulResults")))
        .bearer_auth(&org.token)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
}
