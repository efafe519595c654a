//! Insert, update, delete and upsert on Id; faults during processing; snapshots.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn update_and_delete_work_by_id_and_upsert_accepts_id_as_the_key() {
    let org = Org::start().await;
    let (job, _) = org
        .ingest(
            json!({"object": "Contact", "operation": "insert"}),
            "LastName\nA\nB\n",
        )
        .await;
    let ids: Vec<String> = org
        .results(&job, "successfulResults")
        .await
        .iter()
        .map(|r| r["sf__Id"].clone())
        .collect();
    let (job, info) = org
        .ingest(
            json!({"object": "Contact", "operation": "update"}),
            &format!(
                "Id,LastName\n{},A2\n003000000000000AAA,Nobody\n{},Dup\n{},Dup\n",
                ids[0], ids[1], ids[1]
            ),
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 3);
    let failed = org.results(&job, "failedResults").await;
    assert!(
        failed
            .iter()
            .any(|r| r["sf__Error"].starts_with("ENTITY_IS_DELETED:")
                || r["sf__Error"].starts_with("MALFORMED_ID:"))
    );
    assert_eq!(
        failed
            .iter()
            .filter(|r| r["sf__Error"].starts_with("DUPLICATE_VALUE:Duplicate id in list:"))
            .count(),
        2
    );
    let (job, _) = org
        .ingest(
            json!({"object": "Contact", "operation": "upsert", "externalIdFieldName": "Id"}),
            &format!("Id,LastName\n{},A3\n,New\n", ids[0]),
        )
        .await;
    let ok = org.results(&job, "successfulResults").await;
    assert_eq!(ok.iter().filter(|r| r["sf__Created"] == "true").count(), 1);
    let names: Vec<String> = org
        .records("Contact")
        .await
        .iter()
        .map(|r| r["LastName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["A3", "B", "New"]);
    let (_, info) = org
        .ingest(
            json!({"object": "Contact", "operation": "delete"}),
            &format!("Id\n{}\n", ids[1]),
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 0);
    assert_eq!(org.records("Contact").await.len(), 2);
}

#[tokio::test]
async fn a_job_told_to_fail_stops_half_way_with_unprocessed_rows() {
    let org = Org::start().await;
    org.set_faults(json!({"fail_jobs": 1})).await;
    let csv = format!(
        "LastName\n{}",
        (0..10).map(|i| format!("N{i}\n")).collect::<String>()
    );
    let (job, info) = org
        .ingest(json!({"object": "Contact", "operation": "insert"}), &csv)
        .await;
    assert_eq!(info["state"], "Failed");
    assert!(
        info["errorMessage"]
            .as_str()
            .unwrap()
            .contains("unprocessed")
    );
    assert_eq!(org.results(&job, "successfulResults").await.len(), 5);
    assert_eq!(org.results(&job, "unprocessedrecords").await.len(), 5);
    assert_eq!(
        org.records("Contact").await.len(),
        5,
        "saved rows are not rolled back"
    );
    let (_, info) = org
        .ingest(json!({"object": "Contact", "operation": "insert"}), &csv)
        .await;
    assert_eq!(info["state"], "JobComplete", "only the next job fails");
}

#[tokio::test]
async fn lock_failures_can_be_injected_per_row() {
    let org = Org::start().await;
    org.set_faults(json!({"seed": 1, "lock": 0.3})).await;
    let csv = format!(
        "LastName\n{}",
        (0..100).map(|i| format!("N{i}\n")).collect::<String>()
    );
    let (job, info) = org
        .ingest(json!({"object": "Contact", "operation": "insert"}), &csv)
        .await;
    let failed = org.results(&job, "failedResults").await;
    assert!((10..=50).contains(&failed.len()), "{}", failed.len());
    assert_eq!(
        info["numberRecordsFailed"].as_u64().unwrap() as usize,
        failed.len()
    );
    assert!(failed.iter().all(|r| {
        r["sf__Error"]
            .starts_with("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record")
    }));
}

#[tokio::test]
async fn rows_whose_parent_another_running_job_holds_fail_to_lock() {
    // Realistic processing paces batches, so the two jobs are surely in flight together.
    let org = Org::start_with(Options {
        batch_size: 100,
        processing: shopforce::emulator::salesforce::Processing::Realistic,
        ..Options::default()
    })
    .await;
    org.upsert(
        "Account",
        "Shopify_Company_ID__c",
        "Shopify_Company_ID__c,Name\nC1,Acme\n",
    )
    .await;
    org.set_faults(json!({"lock_contention": true})).await;
    let rows = |prefix: &str| {
        format!(
            "Shopify_Customer_ID__c,LastName,Account.Shopify_Company_ID__c\n{}",
            (0..1000)
                .map(|i| format!("{prefix}{i},N,C1\n"))
                .collect::<String>()
        )
    };
    let spec = json!({"object": "Contact", "operation": "upsert", "externalIdFieldName": "Shopify_Customer_ID__c"});
    let a = org.create_job(spec.clone()).await;
    let b = org.create_job(spec).await;
    org.upload(&a, rows("a")).await;
    org.upload(&b, rows("b")).await;
    org.close(&a).await;
    org.close(&b).await;
    let ia = org.wait("ingest", &a).await;
    let ib = org.wait("ingest", &b).await;
    let failed =
        ia["numberRecordsFailed"].as_u64().unwrap() + ib["numberRecordsFailed"].as_u64().unwrap();
    assert!(
        failed > 0,
        "two jobs writing children of one parent contend"
    );
    let errors = [
        org.results(&a, "failedResults").await,
        org.results(&b, "failedResults").await,
    ]
    .concat();
    assert!(
        errors
            .iter()
            .all(|r| r["sf__Error"].starts_with("UNABLE_TO_LOCK_ROW:"))
    );
}

#[tokio::test]
async fn results_can_come_back_shuffled() {
    let org = Org::start().await;
    org.set_faults(json!({"seed": 9, "shuffle_results": true}))
        .await;
    let csv = format!(
        "LastName\n{}",
        (0..50).map(|i| format!("N{i:02}\n")).collect::<String>()
    );
    let (job, _) = org
        .ingest(json!({"object": "Contact", "operation": "insert"}), &csv)
        .await;
    let names: Vec<String> = org
        .results(&job, "successfulResults")
        .await
        .iter()
        .map(|r| r["LastName"].clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted.len(), 50);
    assert_ne!(names, sorted);
}

#[tokio::test]
async fn the_org_survives_a_restart_through_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    let org = Org::start_with(Options {
        state_file: Some(state.clone()),
        ..Options::default()
    })
    .await;
    org.upsert(
        "Contact",
        "Shopify_Customer_ID__c",
        "Shopify_Customer_ID__c,LastName\n1,Kept\n",
    )
    .await;
    let before = org.records("Contact").await;
    org.shutdown().await;
    assert!(state.exists());
    let org = Org::start_with(Options {
        state_file: Some(state),
        ..Options::default()
    })
    .await;
    assert_eq!(org.records("Contact").await, before);
    // New Ids do not collide with restored ones.
    let (job, _) = org
        .upsert(
            "Contact",
            "Shopify_Customer_ID__c",
            "Shopify_Customer_ID__c,LastName\n2,New\n",
        )
        .await;
    let new_id = org.results(&job, "successfulResults").await[0]["sf__Id"].clone();
    assert_ne!(before[0]["Id"], json!(new_id));
}

#[tokio::test]
async fn the_admin_api_reports_and_resets() {
    let org = Org::start().await;
    org.upsert(
        "Contact",
        "Shopify_Customer_ID__c",
        "Shopify_Customer_ID__c,LastName\n1,A\n",
    )
    .await;
    let stats = org.stats().await;
    assert_eq!(stats["recordsByObject"]["Contact"], 1);
    assert_eq!(stats["ingestJobsByState"]["JobComplete"], 1);
    assert_eq!(stats["requestsByRoute"]["PUT jobs/ingest/{id}/batches"], 1);
    assert!(stats["apiUsage"]["used"].as_u64().unwrap() >= 4);
    let csv = org
        .http
        .get(format!("{}/__admin/sobjects/Contact?format=csv", org.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("Shopify_Customer_ID__c")
    );
    assert_eq!(csv.lines().count(), 2);
    let r = org
        .http
        .post(format!("{}/__admin/reset", org.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(org.records("Contact").await.is_empty());
    assert_eq!(org.records("User").await.len(), 5, "users are re-seeded");
    let r = org
        .http
        .get(format!("{}/__admin/sobjects/Nope", org.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = org
        .http
        .post(format!("{}/__admin/faults", org.base))
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    tokio::time::sleep(Duration::from_millis(1)).await;
}
