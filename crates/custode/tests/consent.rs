//! `custode consent verify`: a receipt the store signed verifies offline;
//! an altered one, or one checked against another key, does not.

use custode_server::Custode;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use custode_consent::receipt::{Format, Publication};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{Principal, TenantKind};
use custode_ledger::NewConsentEvent;
use custode_store::{OpenMode, StoreConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn verify(data: &std::path::Path, file: &std::path::Path, key: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custode"));
    cmd.current_dir(root())
        .env_remove("CUSTODE_MASTER_KEY")
        .args(["--data", &data.display().to_string()])
        .args(["--policy", "policies/telecom.toml"])
        .args(["consent", "verify", &file.display().to_string()]);
    if let Some(k) = key {
        cmd.args(["--public-key", k]);
    }
    let out = cmd.output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_receipt_verifies_and_a_tampered_one_fails() {
    let dir = std::env::temp_dir().join(format!(
        "custode-receipt-{}",
        custode_domain::SubjectId::generate()
    ));
    let data = dir.join("data");
    let source = std::fs::read_to_string(root().join("policies/telecom.toml")).expect("policy");
    let policy = Arc::new(custode_policy::load("telecom.toml", &source).expect("valid"));
    let config = StoreConfig::in_data_dir(&data, OpenMode::CreateIfMissing).expect("config");
    let app = Custode::open(&config, policy, Arc::new(custode_domain::SystemClock))
        .await
        .expect("store");
    let sys = Principal::system("test");
    let provider = app
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("tenant");
    let subject = app
        .store
        .create_subject(&sys, &provider.id, "customer", "signup")
        .await
        .expect("subject");
    let event = app
        .ledger
        .record_consent(
            &sys,
            &subject,
            NewConsentEvent {
                kind: EventKind::Given,
                purpose: Some("marketing".into()),
                channel: Channel::Paper,
                language: None,
                evidence: Evidence {
                    operator: Some("desk-3".into()),
                    ..Evidence::default()
                },
            },
        )
        .await
        .expect("consent");
    let signed = app
        .ledger
        .consent_receipt(
            &sys,
            &event.id,
            Format::Kantara,
            &Publication {
                notice_url: "https://privacy.example/notice",
            },
        )
        .await
        .expect("receipt");
    app.close().await;

    let good = dir.join("receipt.json");
    std::fs::write(&good, serde_json::to_string_pretty(&signed).expect("json")).expect("write");
    let (code, out) = verify(&data, &good, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&event.id.to_string()), "{out}");

    let jws = dir.join("receipt.jws");
    std::fs::write(&jws, &signed.jws).expect("write");
    assert_eq!(verify(&data, &jws, None).0, 0);

    let mut altered = signed.clone();
    altered.receipt["collectionMethod"] = serde_json::Value::from("web form");
    let bad = dir.join("altered.json");
    std::fs::write(&bad, serde_json::to_string(&altered).expect("json")).expect("write");
    let (code, out) = verify(&data, &bad, None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("/collectionMethod"), "says where: {out}");

    let other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let (code, out) = verify(&data, &good, Some(other));
    assert_eq!(code, 1, "another instance's key: {out}");

    let (code, out) = verify(&data, &dir.join("missing.json"), None);
    assert_eq!(code, 2, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
