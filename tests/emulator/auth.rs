//! OAuth 2.0 JWT bearer, sessions, API usage accounting and the small REST resources.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn grant_error(org: &Org, claims: Value) -> (StatusCode, Value) {
    let r = token_request(&org.http, &org.base, &sign(&org.key_path, &claims)).await;
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_jwt_login_returns_the_salesforce_token_shape() {
    let org = Org::start().await;
    let r = token_request(&org.http, &org.base, &org.assertion()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["instance_url"], json!(org.base));
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().unwrap().starts_with("00D"));
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with(&format!("{}/id/00D", org.base)), "{id}");
    assert!(body.get("refresh_token").is_none());
    for field in ["issued_at", "signature", "scope"] {
        assert!(body[field].is_string(), "{field}");
    }
    // The identity URL answers for the token's user.
    let identity: Value = org
        .http
        .get(id)
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(identity["username"], USERNAME);
}

#[tokio::test]
async fn assertions_are_checked_like_salesforce_checks_them() {
    let org = Org::start().await;
    let exp = now_secs() + 180;
    let (s, b) = grant_error(
        &org,
        json!({"iss": "wrong", "sub": USERNAME, "aud": org.base, "exp": exp}),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_id"))
    );
    let (_, b) = grant_error(
        &org,
        json!({"iss": CONSUMER_KEY, "sub": USERNAME, "aud": "https://example.com", "exp": exp}),
    )
    .await;
    assert_eq!(b["error_description"], "audience is invalid");
    let (_, b) = grant_error(
        &org,
        json!({"iss": CONSUMER_KEY, "sub": "someone@else", "aud": org.base, "exp": exp}),
    )
    .await;
    assert_eq!(b["error_description"], "user hasn't approved this consumer");
    let (_, b) = grant_error(
        &org,
        json!({"iss": CONSUMER_KEY, "sub": USERNAME, "aud": org.base, "exp": now_secs() - 3600}),
    )
    .await;
    assert_eq!(b["error"], "invalid_grant");
    // Signed by a different key.
    let other = tempfile::tempdir().unwrap();
    let creds =
        shopforce::emulator::salesforce::oauth::ensure_dev_credentials(other.path()).unwrap();
    let forged = sign(
        &creds.private_key_path,
        &json!({"iss": CONSUMER_KEY, "sub": USERNAME, "aud": org.base, "exp": exp}),
    );
    let r = token_request(&org.http, &org.base, &forged).await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error_description"], "invalid assertion");
    // Wrong grant type.
    let r = org
        .http
        .post(format!("{}/services/oauth2/token", org.base))
        .form(&[("grant_type", "password"), ("assertion", "x")])
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn exp_may_be_milliseconds_or_a_numeric_string_and_aud_may_be_login_salesforce() {
    let org = Org::start().await;
    for claims in [
        json!({"iss": CONSUMER_KEY, "sub": USERNAME, "aud": format!("{}/", org.base), "exp": (now_secs() + 300) * 1000}),
        json!({"iss": CONSUMER_KEY, "sub": USERNAME, "aud": "https://login.salesforce.com", "exp": (now_secs() + 180).to_string()}),
    ] {
        let r = token_request(&org.http, &org.base, &sign(&org.key_path, &claims)).await;
        assert_eq!(r.status(), StatusCode::OK, "{claims}");
    }
}

#[tokio::test]
async fn an_unknown_or_expired_token_gets_invalid_session_id() {
    let org = Org::start_with(Options {
        token_ttl: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let (status, _) = org.get_json("limits").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = org.get_json("limits").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let r = org
        .http
        .get(org.url("limits"))
        .bearer_auth("00Dbogus!token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forced_expiry_ends_every_session() {
    let org = Org::start().await;
    org.set_faults(json!({"expire_tokens": true})).await;
    let (status, body) = org.get_json("limits").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "INVALID_SESSION_ID");
    let token = org.login().await;
    let r = org
        .http
        .get(org.url("limits"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_api_response_reports_usage_and_the_allowance_is_enforced() {
    let org = Org::start_with(Options {
        api_limit: 3,
        ..Options::default()
    })
    .await;
    for n in 1..=3 {
        let r = org.call(Method::GET, "limits", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let header = r.headers()["sforce-limit-info"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(header, format!("api-usage={n}/3"));
    }
    let r = org.call(Method::GET, "limits", None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
}

#[tokio::test]
async fn versions_resources_and_limits_answer_like_an_org() {
    let org = Org::start().await;
    let versions: Value = org
        .http
        .get(format!("{}/services/data", org.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = versions.as_array().unwrap();
    assert_eq!(list.last().unwrap()["version"], "66.0");
    assert!(list.iter().any(|v| v["url"] == "/services/data/v64.0"));
    let (_, resources) = org.get_json("").await;
    assert!(resources["identity"].as_str().unwrap().contains("/id/00D"));
    assert_eq!(resources["jobs"], "/services/data/v64.0/jobs");
    let (_, limits) = org.get_json("limits").await;
    assert!(limits["DailyApiRequests"]["Max"].as_u64().unwrap() > 0);
    let r = org
        .http
        .get(format!("{}/services/data/v20.0/limits", org.base))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    let (status, body) = org.get_json("no/such/resource").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
}

#[tokio::test]
async fn http_faults_are_injected_deterministically() {
    let org = Org::start().await;
    org.set_faults(json!({"seed": 3, "http503": 0.5})).await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(org.call(Method::GET, "limits", None).await.status());
    }
    let unavailable = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!((8..=32).contains(&unavailable), "{unavailable} of 40");
    org.set_faults(json!({"seed": 3, "http503": 0.5})).await;
    let mut again = Vec::new();
    for _ in 0..40 {
        again.push(org.call(Method::GET, "limits", None).await.status());
    }
    assert_eq!(statuses, again);
    org.set_faults(json!({"http429": 1.0})).await;
    let r = org.call(Method::GET, "limits", None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    org.set_faults(json!({"http500": 1.0})).await;
    let (status, body) = org.get_json("limits").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN_EXCEPTION")
    );
}

#[tokio::test]
async fn a_token_can_be_made_to_expire_after_n_requests() {
    let org = Org::start().await;
    org.set_faults(json!({"token_requests": 2})).await;
    let token = org.login().await;
    for expected in [StatusCode::OK, StatusCode::OK, StatusCode::UNAUTHORIZED] {
        let r = org
            .http
            .get(org.url("limits"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
    }
}
