//! The org model: relationships by external ID, the order graph and its rules, formulas.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn relationship_columns_resolve_parents_by_external_id() {
    let org = Org::start().await;
    org.upsert(
        "Account",
        "Shopify_Company_ID__c",
        "Shopify_Company_ID__c,Name\nC1,Acme\n",
    )
    .await;
    org.upsert(
        "Account",
        "Shopify_Location_ID__c",
        "Shopify_Location_ID__c,Name,Parent.Shopify_Company_ID__c\nL1,Acme Berlin,C1\n",
    )
    .await;
    let (job, info) = org
        .upsert(
            "Contact",
            "Shopify_Customer_ID__c",
            "Shopify_Customer_ID__c,LastName,Account.Shopify_Company_ID__c\n1,Ann,C1\n2,Bob,C404\n",
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 1);
    let failed = org.results(&job, "failedResults").await;
    assert_eq!(
        failed[0]["sf__Error"],
        "INVALID_FIELD:Foreign key external ID: C404 not found for field Shopify_Company_ID__c in entity Account:--"
    );
    let accounts = org.records("Account").await;
    let acme = find(&accounts, "Shopify_Company_ID__c", "C1");
    assert_eq!(
        find(&accounts, "Shopify_Location_ID__c", "L1")["ParentId"],
        acme["Id"]
    );
    let contacts = org.records("Contact").await;
    assert_eq!(contacts[0]["AccountId"], acme["Id"]);
}

#[tokio::test]
async fn a_full_order_graph_lands_and_the_order_total_rolls_up() {
    let org = Org::start().await;
    let standard =
        products_with_standard_prices(&org, &[("V1", "Mug", "12.5"), ("V2", "Tee", "20")]).await;
    org.upsert(
        "Account",
        "Shopify_Customer_ID__c",
        "Shopify_Customer_ID__c,Name\n9,Ada Lovelace\n",
    )
    .await;
    let (_, info) = org
        .upsert(
            "Order",
            "Shopify_Order_ID__c",
            &format!(
                "Shopify_Order_ID__c,Account.Shopify_Customer_ID__c,EffectiveDate,Status,Pricebook2Id,Shopify_Total_Price__c\nO1,9,2026-11-01,Draft,{standard},45\n"
            ),
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
    let (job, info) = org
        .upsert(
            "OrderItem",
            "Shopify_Line_Item_ID__c",
            "Shopify_Line_Item_ID__c,Order.Shopify_Order_ID__c,PricebookEntry.Shopify_Price_Key__c,Quantity,UnitPrice\nL1,O1,V1:USD,2,12.5\nL2,O1,V2:USD,1,20\n",
        )
        .await;
    assert_eq!(
        info["numberRecordsFailed"],
        0,
        "{:?}",
        org.results(&job, "failedResults").await
    );
    let orders = org.records("Order").await;
    assert_eq!(orders[0]["TotalAmount"], 45);
    assert_eq!(orders[0]["Status"], "Draft");
    let items = org.records("OrderItem").await;
    assert_eq!(
        find(&items, "Shopify_Line_Item_ID__c", "L1")["TotalPrice"],
        25
    );
    assert_eq!(
        find(&items, "Shopify_Line_Item_ID__c", "L1")["ListPrice"],
        12.5
    );
    // Updating a quantity moves the total.
    org.upsert(
        "OrderItem",
        "Shopify_Line_Item_ID__c",
        "Shopify_Line_Item_ID__c,Quantity\nL2,3\n",
    )
    .await;
    assert_eq!(org.records("Order").await[0]["TotalAmount"], 85);
    // TotalAmount itself is read-only.
    let (job, _) = org
        .upsert(
            "Order",
            "Shopify_Order_ID__c",
            "Shopify_Order_ID__c,TotalAmount\nO1,1\n",
        )
        .await;
    let failed = org.results(&job, "failedResults").await;
    assert!(failed[0]["sf__Error"].starts_with(
        "INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: TotalAmount."
    ));
    assert!(
        failed[0]["sf__Id"].starts_with("801"),
        "a failed update names the record"
    );
}

#[tokio::test]
async fn order_rules_are_enforced() {
    let org = Org::start().await;
    org.upsert(
        "Account",
        "Shopify_Customer_ID__c",
        "Shopify_Customer_ID__c,Name\n9,Ada\n",
    )
    .await;
    // Required fields of an Order.
    let (job, _) = org
        .upsert(
            "Order",
            "Shopify_Order_ID__c",
            "Shopify_Order_ID__c,Account.Shopify_Customer_ID__c\nO1,9\n",
        )
        .await;
    let failed = org.results(&job, "failedResults").await;
    assert_eq!(
        failed[0]["sf__Error"],
        "REQUIRED_FIELD_MISSING:Required fields are missing: [EffectiveDate]:EffectiveDate --"
    );
    // An order without a price book cannot take items.
    org.upsert(
        "Order",
        "Shopify_Order_ID__c",
        "Shopify_Order_ID__c,Account.Shopify_Customer_ID__c,EffectiveDate,Status\nO2,9,2026-11-01,Draft\n",
    )
    .await;
    products_with_standard_prices(&org, &[("V1", "Mug", "5")]).await;
    let (job, _) = org
        .upsert(
            "OrderItem",
            "Shopify_Line_Item_ID__c",
            "Shopify_Line_Item_ID__c,Order.Shopify_Order_ID__c,PricebookEntry.Shopify_Price_Key__c,Quantity,UnitPrice\nL1,O2,V1:USD,1,5\n",
        )
        .await;
    let failed = org.results(&job, "failedResults").await;
    assert!(
        failed[0]["sf__Error"]
            .starts_with("FIELD_INTEGRITY_EXCEPTION:field integrity exception: PricebookEntryId"),
        "{failed:?}"
    );
    // Status is a restricted picklist.
    let (job, _) = org
        .upsert(
            "Order",
            "Shopify_Order_ID__c",
            "Shopify_Order_ID__c,Account.Shopify_Customer_ID__c,EffectiveDate,Status\nO3,9,2026-11-01,Shipped\n",
        )
        .await;
    assert!(
        org.results(&job, "failedResults").await[0]["sf__Error"]
            .starts_with("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:")
    );
}

#[tokio::test]
async fn a_custom_price_needs_a_standard_price_first() {
    let org = Org::start().await;
    org.upsert(
        "Product2",
        "Shopify_Variant_ID__c",
        "Shopify_Variant_ID__c,Name\nV1,Mug\n",
    )
    .await;
    let (job, _) = org
        .ingest(
            json!({"object": "Pricebook2", "operation": "insert"}),
            "Name,IsActive\nWholesale,true\n",
        )
        .await;
    let custom = org.results(&job, "successfulResults").await[0]["sf__Id"].clone();
    let (job, _) = org
        .upsert(
            "PricebookEntry",
            "Shopify_Price_Key__c",
            &format!("Shopify_Price_Key__c,Pricebook2Id,Product2.Shopify_Variant_ID__c,UnitPrice\nV1:W,{custom},V1,4\n"),
        )
        .await;
    assert_eq!(
        org.results(&job, "failedResults").await[0]["sf__Error"],
        "STANDARD_PRICE_NOT_DEFINED:No standard price defined for this product:--"
    );
}

#[tokio::test]
async fn formula_fields_are_computed_on_read() {
    let org = Org::start().await;
    let ten_days_ago = (chrono::Utc::now().date_naive() - chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    org.upsert(
        "Contact",
        "Shopify_Customer_ID__c",
        &format!("Shopify_Customer_ID__c,FirstName,LastName,Last_Order_Date__c\n1,Ada,Lovelace,{ten_days_ago}\n2,,Solo,\n"),
    )
    .await;
    let contacts = org.records("Contact").await;
    let ada = find(&contacts, "Shopify_Customer_ID__c", "1");
    assert_eq!(ada["Days_Since_Last_Order__c"], 10);
    assert_eq!(ada["Name"], "Ada Lovelace");
    let solo = find(&contacts, "Shopify_Customer_ID__c", "2");
    assert!(
        solo.get("Days_Since_Last_Order__c").is_none(),
        "blank as blank"
    );
    assert_eq!(solo["Name"], "Solo");
}

#[tokio::test]
async fn an_external_id_matching_several_records_is_refused() {
    // A non-unique external ID field, as some orgs have.
    let dir = tempfile::tempdir().unwrap();
    let fields = dir
        .path()
        .join("force-app/main/default/objects/Contact/fields");
    std::fs::create_dir_all(&fields).unwrap();
    std::fs::write(
        fields.join("Legacy_ID__c.field-meta.xml"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
    <fullName>Legacy_ID__c</fullName>
    <externalId>true</externalId>
    <label>Legacy ID</label>
    <length>20</length>
    <required>false</required>
    <type>Text</type>
    <unique>false</unique>
</CustomField>
"#,
    )
    .unwrap();
    let org = Org::start_with(Options {
        sfdx: Some(dir.path().to_path_buf()),
        ..Options::default()
    })
    .await;
    org.ingest(
        json!({"object": "Contact", "operation": "insert"}),
        "Legacy_ID__c,LastName\nL,One\nL,Two\n",
    )
    .await;
    let (job, _) = org
        .upsert(
            "Contact",
            "Legacy_ID__c",
            "Legacy_ID__c,LastName\nL,Three\n",
        )
        .await;
    let error = org.results(&job, "failedResults").await[0]["sf__Error"].clone();
    assert!(error.starts_with("DUPLICATE_EXTERNAL_ID:Legacy ID: more than one record found for external id field: [003"), "{error}");
    assert_eq!(org.records("Contact").await.len(), 2);
}

#[tokio::test]
async fn a_field_the_metadata_does_not_define_cannot_be_written() {
    // Without sfdx/, the org has only standard fields: the engine's custom field fails.
    let org = Org::start_with(Options {
        sfdx: None,
        ..Options::default()
    })
    .await;
    let (_, status) = org.send_json(
        reqwest::Method::POST,
        "jobs/ingest",
        json!({"object": "Contact", "operation": "upsert", "externalIdFieldName": "Shopify_Customer_ID__c"}),
    )
    .await;
    assert_eq!(status[0]["errorCode"], "INVALIDJOB");
    let (_, info) = org
        .ingest(
            json!({"object": "Contact", "operation": "insert"}),
            "LastName,Shopify_Tags__c\nA,vip\n",
        )
        .await;
    assert_eq!(info["state"], "Failed");
    assert_eq!(
        info["errorMessage"],
        "InvalidBatch : Field name not found : Shopify_Tags__c"
    );
}

#[tokio::test]
async fn a_job_of_many_batches_lands_each_row_once_with_its_own_result() {
    // Batches of 50 rows: 1,200 order products of 240 orders, with a bad row in several
    // batches.
    let org = Org::start_with(Options {
        batch_size: 50,
        ..Options::default()
    })
    .await;
    let standard = products_with_standard_prices(&org, &[("V1", "Mug", "2.5")]).await;
    org.upsert(
        "Account",
        "Shopify_Customer_ID__c",
        "Shopify_Customer_ID__c,Name\n9,Ada Lovelace\n",
    )
    .await;
    let orders: String = (0..240)
        .map(|o| format!("O{o},9,2026-11-01,Draft,{standard}\n"))
        .collect();
    let (_, info) = org
        .upsert(
            "Order",
            "Shopify_Order_ID__c",
            &format!(
                "Shopify_Order_ID__c,Account.Shopify_Customer_ID__c,EffectiveDate,Status,Pricebook2Id\n{orders}"
            ),
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
    // Order o gets five products of quantity 1..=5; every 97th row names an order that
    // does not exist.
    let mut csv = String::from(
        "Shopify_Line_Item_ID__c,Order.Shopify_Order_ID__c,PricebookEntry.Shopify_Price_Key__c,Quantity,UnitPrice\n",
    );
    let mut bad = Vec::new();
    for n in 0..1200 {
        let order = if n % 97 == 0 {
            bad.push(format!("L{n}"));
            "missing".to_string()
        } else {
            format!("O{}", n / 5)
        };
        csv.push_str(&format!("L{n},{order},V1:USD,{},2.5\n", n % 5 + 1));
    }
    let (job, info) = org
        .upsert("OrderItem", "Shopify_Line_Item_ID__c", &csv)
        .await;
    assert_eq!(info["numberRecordsProcessed"], 1200, "{info}");
    assert_eq!(
        info["numberRecordsFailed"],
        bad.len(),
        "{:?}",
        org.results(&job, "failedResults").await.first()
    );

    // Each result row carries its own key; the failures are exactly the bad rows.
    let failed = org.results(&job, "failedResults").await;
    let mut failed_keys: Vec<&str> = failed
        .iter()
        .map(|r| r["Shopify_Line_Item_ID__c"].as_str())
        .collect();
    failed_keys.sort_unstable();
    let mut expected_bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    expected_bad.sort_unstable();
    assert_eq!(failed_keys, expected_bad);
    assert!(
        failed
            .iter()
            .all(|r| r["sf__Error"].contains("Foreign key external ID: missing not found"))
    );
    let succeeded = org.results(&job, "successfulResults").await;
    assert_eq!(succeeded.len(), 1200 - bad.len());
    let items = org.records("OrderItem").await;
    assert_eq!(items.len(), succeeded.len(), "no row saved twice");
    for result in &succeeded {
        let key = result["Shopify_Line_Item_ID__c"].as_str();
        let item = find(&items, "Shopify_Line_Item_ID__c", key);
        assert_eq!(
            result["sf__Id"], item["Id"],
            "{key}: the result names its own record"
        );
        assert_eq!(result["sf__Created"], "true");
    }
    let mut ids: Vec<&str> = items.iter().map(|i| i["Id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), items.len(), "every record has its own Id");

    // Every order's total is the sum of its good products (2.5 each per unit).
    let saved = org.records("Order").await;
    for o in 0..240 {
        let expected: f64 = (o * 5..o * 5 + 5)
            .filter(|n| n % 97 != 0)
            .map(|n| f64::from(n % 5 + 1) * 2.5)
            .sum();
        let order = find(&saved, "Shopify_Order_ID__c", &format!("O{o}"));
        assert_eq!(order["TotalAmount"].as_f64(), Some(expected), "O{o}");
    }
}

/// Active products, each with an active standard price in USD (`(variant key, name, unit
/// price)`; the price key is `<variant>:USD`). Returns the standard price book's Id.
async fn products_with_standard_prices(org: &Org, products: &[(&str, &str, &str)]) -> String {
    let rows: String = products
        .iter()
        .map(|(key, name, _)| format!("{key},{name},true\n"))
        .collect();
    let (_, info) = org
        .upsert(
            "Product2",
            "Shopify_Variant_ID__c",
            &format!("Shopify_Variant_ID__c,Name,IsActive\n{rows}"),
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
    let standard = org.records("Pricebook2").await[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let rows: String = products
        .iter()
        .map(|(key, _, price)| format!("{key}:USD,{standard},{key},{price},true\n"))
        .collect();
    let (_, info) = org
        .upsert(
            "PricebookEntry",
            "Shopify_Price_Key__c",
            &format!(
                "Shopify_Price_Key__c,Pricebook2Id,Product2.Shopify_Variant_ID__c,UnitPrice,IsActive\n{rows}"
            ),
        )
        .await;
    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
    standard
}
