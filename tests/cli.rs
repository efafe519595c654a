//! The `shopforce` binary as a newcomer runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `shopforce emulator salesforce` with no flags prints how to connect, and the printed
/// curl login works as printed.
#[test]
fn the_emulator_started_without_flags_prints_a_working_curl_login() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopforce"))
        .args(["emulator", "salesforce"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        // The only deviation from "no flags": port 0, so parallel test runs never collide.
        .env("SHOPFORCE_EMULATOR_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("Press Ctrl-C");
        lines.push(line);
        if done || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let banner = lines.join("\n");
    for expected in [
        "instance URL   http://127.0.0.1:",
        "consumer key",
        "username",
        "private key",
        "custom fields  from sfdx",
    ] {
        assert!(
            banner.contains(expected),
            "missing {expected:?} in:\n{banner}"
        );
    }
    assert!(
        home.path()
            .join(".local/share/shopforce/emulator/jwt-private-key.pem")
            .exists()
    );
    // Run the printed curl command exactly as printed.
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("curl "))
        .expect("a curl line");
    let command = lines[start..start + 3].join("\n");
    let output = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .output()
        .expect("sh runs");
    let body = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}\n{command}"));
    assert!(
        json["access_token"].as_str().unwrap().starts_with("00D"),
        "{json}"
    );
    assert_eq!(json["token_type"], "Bearer");
    // SIGTERM shuts it down cleanly.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn help_lists_the_subcommands() {
    let output = Command::new(env!("CARGO_BIN_EXE_shopforce"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("emulator") && text.contains("jwt-assertion"),
        "{text}"
    );
}

/// `shopforce gen` writes one folder per shop and a shared truth.csv, prints one summary
/// line, gives the same bytes for the same seed, and refuses a bad currency.
#[test]
fn gen_writes_one_folder_per_shop_and_the_same_bytes_for_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shopforce"))
            .args(["gen", "--customers", "200", "--seed", "5", "--shops", "2"])
            .args(extra)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let out = run(&a, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    for expected in ["2 shops", "400 customers", "1200 orders", "guest", "B2B"] {
        assert!(stdout.contains(expected), "{expected:?} missing: {stdout}");
    }
    let files = [
        "customers.jsonl",
        "orders.jsonl",
        "companies.jsonl",
        "truth.csv",
    ];
    assert!(run(&b, &[]).status.success());
    for shop in ["store-1.myshopify.com", "store-2.myshopify.com"] {
        for file in files {
            let bytes = std::fs::read(a.join(shop).join(file)).unwrap();
            assert!(!bytes.is_empty(), "{shop}/{file}");
            assert_eq!(bytes, std::fs::read(b.join(shop).join(file)).unwrap());
        }
    }
    let truth = std::fs::read_to_string(a.join("truth.csv")).unwrap();
    assert!(truth.starts_with("shop,record,gid,person_id\n"));
    assert!(truth.contains("store-2.myshopify.com,customer,gid://shopify/Customer/"));

    let bad = run(&dir.path().join("c"), &["--currency", "dollars"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--currency"));
}

/// `shopforce demo` runs the whole product on a small store, and its report agrees with the
/// org snapshot it leaves behind.
#[test]
fn the_demo_syncs_a_store_and_reports_what_the_org_holds() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shopforce"))
        .args(["demo", "--customers", "300", "--out"])
        .arg(out.path().join("demo"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("== Full sync =="), "{stdout}");
    assert!(stdout.contains("== Incremental sync =="), "{stdout}");
    assert!(stdout.contains("0 open"), "no dead letters: {stdout}");
    let reported = |object: &str| -> u64 {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{object} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {object} line: {stdout}"))
    };
    let snapshot: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("demo/org-snapshot.json")).unwrap(),
    )
    .unwrap();
    let text = snapshot.to_string();
    for object in ["Contact", "Order", "OrderItem"] {
        let n = reported(object);
        assert!(n > 0, "{object}: {stdout}");
        assert!(text.contains(object), "snapshot holds {object}");
    }
    assert!(out.path().join("demo/state.db").exists());
    assert!(stdout.contains("To run against a real org and shop"));

    // The sales rep's edit, between the two syncs, is reported as kept…
    assert!(
        stdout.contains("== An edit a sales rep makes in Salesforce =="),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("rep's edit"))
        .unwrap_or_else(|| panic!("no rep's edit line: {stdout}"));
    let note = "Prefers a phone call before large orders (note by the sales rep)";
    assert!(
        line.contains("kept on Contact ") && line.contains(note),
        "{line}"
    );
    let contact_id = line
        .split("Contact ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap();
    let detail = |n: usize| {
        stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("rep's edit"))
            .nth(n)
            .unwrap_or_default()
            .to_string()
    };
    assert!(detail(1).contains("kept: the rep's correction"), "{stdout}");
    assert!(
        detail(2).contains("kept: Shopify's new address is not written"),
        "{stdout}"
    );
    assert!(
        detail(3).contains("the Shopify change, written"),
        "{stdout}"
    );
    // …and the org the demo left behind holds them, beside the consent change the
    // incremental sync wrote.
    let value = |field| snapshot_value(&snapshot, "Contact", contact_id, field);
    assert_eq!(value("Description"), Some(&serde_json::json!(note)));
    assert_eq!(value("Phone"), Some(&serde_json::json!("+1 512 555 0199")));
    let email = value("Email").and_then(|v| v.as_str()).unwrap_or_default();
    assert!(
        email.contains('@') && !email.starts_with("new.address."),
        "{email}"
    );
    assert_eq!(
        value("Email_Consent_Status__c"),
        Some(&serde_json::json!("Unsubscribed"))
    );
    assert_eq!(value("HasOptedOutOfEmail"), Some(&serde_json::json!(true)));
    // A B2C customer's Contact, under the customer's own Account.
    let account = value("AccountId").and_then(|v| v.as_str()).unwrap();
    assert_eq!(
        snapshot_value(&snapshot, "Account", account, "Shopify_Customer_ID__c"),
        value("Shopify_Customer_ID__c")
    );
}

/// A field of a record in an org snapshot: `objects[].records[]` with `id` and `fields` as
/// `[name, {"t": type, "v": value}]` pairs.
fn snapshot_value<'a>(
    snapshot: &'a serde_json::Value,
    object: &str,
    id: &str,
    field: &str,
) -> Option<&'a serde_json::Value> {
    let objects = snapshot["objects"].as_array()?;
    let records = objects.iter().find(|o| o["name"] == object)?["records"].as_array()?;
    let fields = records.iter().find(|r| r["id"] == id)?["fields"].as_array()?;
    fields.iter().find(|f| f[0] == field).map(|f| &f[1]["v"])
}
