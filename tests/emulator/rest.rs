//! REST sObject resources: describe, record CRUD (a sales rep's edit), upsert by external
//! ID and sObject Collections.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn describe_reports_custom_fields_from_sfdx() {
    let org = Org::start().await;
    let (status, body) = org.get_json("sobjects/Contact/describe").await;
    assert_eq!(status, StatusCode::OK);
    let fields = body["fields"].as_array().unwrap();
    let key = fields
        .iter()
        .find(|f| f["name"] == "Shopify_Customer_ID__c")
        .unwrap();
    assert_eq!(
        (
            key["externalId"].as_bool(),
            key["unique"].as_bool(),
            key["length"].as_u64()
        ),
        (Some(true), Some(true), Some(64))
    );
    let consent = fields
        .iter()
        .find(|f| f["name"] == "Email_Consent_Status__c")
        .unwrap();
    assert_eq!(consent["restrictedPicklist"], true);
    assert_eq!(consent["picklistValues"].as_array().unwrap().len(), 6);
    let days = fields
        .iter()
        .find(|f| f["name"] == "Days_Since_Last_Order__c")
        .unwrap();
    assert_eq!(
        (days["calculated"].as_bool(), days["updateable"].as_bool()),
        (Some(true), Some(false))
    );
    let (_, global) = org.get_json("sobjects").await;
    assert!(
        global["sobjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "OrderItem" && o["keyPrefix"] == "802")
    );
    let (status, _) = org.get_json("sobjects/Nope/describe").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_sales_rep_edit_through_rest_is_visible_to_the_next_read() {
    let org = Org::start().await;
    let (job, _) = org
        .upsert(
            "Contact",
            "Shopify_Customer_ID__c",
            "Shopify_Customer_ID__c,LastName,Phone\n1,Lee,555-0100\n",
        )
        .await;
    let id = org.results(&job, "successfulResults").await[0]["sf__Id"].clone();
    let r = org
        .call(
            Method::PATCH,
            &format!("sobjects/Contact/{id}"),
            Some(json!({"Phone": "+1 555 0199", "Title": "Buyer"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, record) = org.get_json(&format!("sobjects/Contact/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["Phone"], "+1 555 0199");
    assert_eq!(record["Title"], "Buyer");
    assert_eq!(record["attributes"]["type"], "Contact");
    let (status, body) = org
        .send_json(
            Method::PATCH,
            &format!("sobjects/Contact/{id}"),
            json!({"Nope__c": 1}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD")
    );
    let (status, body) = org
        .send_json(
            Method::PATCH,
            &format!("sobjects/Contact/{id}"),
            json!({"LastName": null}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "REQUIRED_FIELD_MISSING")
    );
    let (status, _) = org.get_json("sobjects/Contact/003000000000000AAA").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = org
        .call(Method::DELETE, &format!("sobjects/Contact/{id}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(org.records("Contact").await.is_empty());
}

#[tokio::test]
async fn upsert_by_external_id_answers_201_200_and_300() {
    let org = Org::start().await;
    let (status, body) = org
        .send_json(
            Method::PATCH,
            "sobjects/Contact/Shopify_Customer_ID__c/42",
            json!({"LastName": "Ng"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (body["created"].as_bool(), body["success"].as_bool()),
        (Some(true), Some(true))
    );
    let (status, body) = org
        .send_json(
            Method::PATCH,
            "sobjects/Contact/Shopify_Customer_ID__c/42",
            json!({"FirstName": "Kim"}),
        )
        .await;
    assert_eq!(
        (status, body["created"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (status, record) = org
        .get_json("sobjects/Contact/Shopify_Customer_ID__c/42")
        .await;
    assert_eq!(
        (status, record["Name"].as_str()),
        (StatusCode::OK, Some("Kim Ng"))
    );
    // Two Contacts share an email; Email is an idLookup field.
    org.ingest(
        json!({"object": "Contact", "operation": "insert"}),
        "LastName,Email\nA,same@example.com\nB,same@example.com\n",
    )
    .await;
    let (status, body) = org
        .send_json(
            Method::PATCH,
            "sobjects/Contact/Email/same@example.com",
            json!({"Title": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(body.as_array().unwrap().len(), 2);
    let (status, _) = org
        .send_json(
            Method::PATCH,
            "sobjects/Contact/LastName/A",
            json!({"Title": "x"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "LastName is not an external ID"
    );
}

#[tokio::test]
async fn collections_upsert_reports_per_item_and_all_or_none_rolls_back() {
    let org = Org::start().await;
    let records = |bad: bool| {
        json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "Shopify_Customer_ID__c": "1", "LastName": "One"},
            {"attributes": {"type": "Contact"}, "Shopify_Customer_ID__c": "2", "LastName": if bad { Value::Null } else { json!("Two") }},
        ]})
    };
    let (status, body) = org
        .send_json(
            Method::PATCH,
            "composite/sobjects/Contact/Shopify_Customer_ID__c",
            records(true),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["success"], true);
    assert_eq!(body[0]["created"], true);
    assert_eq!(body[1]["success"], false);
    assert_eq!(body[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING");
    let mut all = records(true);
    all["allOrNone"] = json!(true);
    all["records"][0]["LastName"] = json!("Changed");
    let (_, body) = org
        .send_json(
            Method::PATCH,
            "composite/sobjects/Contact/Shopify_Customer_ID__c",
            all,
        )
        .await;
    assert_eq!(
        body[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    let contacts = org.records("Contact").await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["LastName"], "One", "the update was rolled back");
    let too_many =
        json!({"records": vec![json!({"attributes": {"type": "Contact"}, "LastName": "x"}); 201]});
    let (status, _) = org
        .send_json(Method::POST, "composite/sobjects", too_many)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = org
        .send_json(
            Method::POST,
            "composite/sobjects",
            json!({"records": [{"attributes": {"type": "Contact"}, "LastName": "Made"}]}),
        )
        .await;
    assert_eq!(
        (status, body[0]["success"].as_bool()),
        (StatusCode::OK, Some(true))
    );
}
