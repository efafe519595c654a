//! Bulk API 2.0 query jobs and REST SOQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn seed(org: &Org, n: usize) {
    org.upsert(
        "Account",
        "Shopify_Company_ID__c",
        "Shopify_Company_ID__c,Name\nC1,Acme\n",
    )
    .await;
    let csv = format!(
        "Shopify_Customer_ID__c,LastName,Email,Account.Shopify_Company_ID__c\n{}",
        (0..n)
            .map(|i| format!(
                "{i},Name{i:05},p{i}@example.com,{}\n",
                if i % 2 == 0 { "C1" } else { "" }
            ))
            .collect::<String>()
    );
    let (_, info) = org.upsert("Contact", "Shopify_Customer_ID__c", &csv).await;
    assert_eq!(info["numberRecordsFailed"], 0);
}

#[tokio::test]
async fn a_bulk_query_pages_by_locator_until_null() {
    let org = Org::start().await;
    seed(&org, 25).await;
    let (status, job) = org
        .send_json(Method::POST, "jobs/query", json!({"operation": "query", "query": "SELECT Id, LastName, Account.Name FROM Contact WHERE LastName LIKE 'Name%' ORDER BY LastName"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["state"], "UploadComplete");
    let id = job["id"].as_str().unwrap().to_string();
    let info = org.wait("query", &id).await;
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsProcessed"], 25);
    let mut locator: Option<String> = None;
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let mut path = format!("jobs/query/{id}/results?maxRecords=10");
        if let Some(l) = &locator {
            path.push_str(&format!("&locator={l}"));
        }
        let r = org.call(Method::GET, &path, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let next = r.headers()["sforce-locator"].to_str().unwrap().to_string();
        let count: usize = r.headers()["sforce-numberofrecords"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(
            text.starts_with("\"Id\",\"LastName\",\"Account.Name\"\n"),
            "{text}"
        );
        let page = parse_csv(&text);
        assert_eq!(page.len(), count);
        rows.extend(page);
        pages += 1;
        if next == "null" {
            break;
        }
        locator = Some(next);
    }
    assert_eq!(pages, 3);
    assert_eq!(rows.len(), 25);
    assert_eq!(rows[0]["LastName"], "Name00000");
    assert_eq!(rows[0]["Account.Name"], "Acme");
    assert_eq!(rows[1]["Account.Name"], "");
    // Results must be read with the job's API version.
    let r = org
        .http
        .get(format!(
            "{}/services/data/v60.0/jobs/query/{id}/results",
            org.base
        ))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn bad_queries_are_refused_with_salesforce_codes() {
    let org = Org::start().await;
    for (soql, code) in [
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELEKT Id FROM Contact", "MALFORMED_QUERY"),
    ] {
        let (status, body) = org
            .send_json(
                Method::POST,
                "jobs/query",
                json!({"operation": "query", "query": soql}),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, code),
            "{soql}"
        );
        let (status, body) = org
            .get_json(&format!("query?q={}", soql.replace(' ', "+")))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, code),
            "{soql}"
        );
    }
}

#[tokio::test]
async fn rest_queries_nest_parents_and_page_past_two_thousand() {
    let org = Org::start().await;
    seed(&org, 2500).await;
    let (status, body) = org.get_json("query?q=SELECT+Id,LastName,Account.Name+FROM+Contact+WHERE+Account.Name='Acme'+LIMIT+3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalSize"], 3);
    let first = &body["records"][0];
    assert_eq!(first["attributes"]["type"], "Contact");
    assert!(
        first["attributes"]["url"]
            .as_str()
            .unwrap()
            .starts_with("/services/data/v64.0/sobjects/Contact/003")
    );
    assert_eq!(first["Account"]["Name"], "Acme");
    let (_, page1) = org.get_json("query/?q=SELECT+Id+FROM+Contact").await;
    assert_eq!(page1["totalSize"], 2500);
    assert_eq!(page1["done"], false);
    assert_eq!(page1["records"].as_array().unwrap().len(), 2000);
    let next = page1["nextRecordsUrl"].as_str().unwrap();
    let r = org
        .http
        .get(format!("{}{next}", org.base))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    let page2: Value = r.json().await.unwrap();
    assert_eq!(page2["done"], true);
    assert_eq!(page2["records"].as_array().unwrap().len(), 500);
    let (_, count) = org
        .get_json("query?q=SELECT+COUNT()+FROM+Contact+WHERE+Email+!=+null")
        .await;
    assert_eq!(count["totalSize"], 2500);
    let (_, aggregate) = org
        .get_json("query?q=SELECT+COUNT(Id)+CNT+FROM+Contact")
        .await;
    assert_eq!(aggregate["records"][0]["CNT"], 2500);
}

#[tokio::test]
async fn probes_real_clients_send_are_answered_plausibly() {
    let org = Org::start().await;
    let (status, body) = org
        .get_json("query?q=SELECT+Id+FROM+ScratchOrgInfo+limit+1")
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_TYPE")
    );
    let (status, body) = org
        .get_json("query?q=SELECT+Name,InstanceName,IsSandbox,TrialExpirationDate,NamespacePrefix,OrganizationType+FROM+Organization")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["records"][0]["IsSandbox"], false);
    let (status, body) = org
        .get_json("query?q=SELECT+IsPersonAccount+FROM+Account+LIMIT+1")
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD"),
        "no Person Accounts in this org"
    );
    let (status, body) = org
        .get_json("query?q=SELECT+QualifiedApiName,Label+FROM+EntityDefinition+WHERE+IsDeprecatedAndHidden+=+false+AND+IsQueryable+=+true")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["QualifiedApiName"] == "Contact")
    );
    let (status, cols) = org
        .get_json("query?q=SELECT+Id,LastName,Account.Name+FROM+Contact&columns=true")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cols["entityName"], "Contact");
    assert_eq!(cols["columnMetadata"][1]["columnName"], "LastName");
    assert_eq!(
        cols["columnMetadata"][2]["joinColumns"][0]["columnName"],
        "Name"
    );
}
