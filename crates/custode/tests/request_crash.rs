//! `kill -9` at each step of an access export and of an erasure, then a
//! restart: every run ends in the same state as an uninterrupted one — the
//! same package, the same records erased, kept and vaulted, the same
//! answer figures, each side effect once, the audit chain intact.

use custode_server::Custode;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use custode_domain::requests::Right;
use custode_domain::{NewRecord, Principal, SubjectId, SystemClock, TenantKind};
use custode_requests::{DocumentKind, FulfilmentInput, NewRequest, Requester};
use custode_store::{OpenMode, StoreConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn custode(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custode"));
    c.current_dir(root())
        .env_remove("CUSTODE_MASTER_KEY")
        .env_remove("CUSTODE_TEST_CRASH_AT")
        .args(["--data", &data.display().to_string()])
        .args(["--policy", "policies/email-hosting.toml"]);
    c
}

fn policy() -> Arc<custode_policy::Policy> {
    let source =
        std::fs::read_to_string(root().join("policies/email-hosting.toml")).expect("policy");
    Arc::new(custode_policy::load("p.toml", &source).expect("valid"))
}

async fn open(data: &Path, mode: OpenMode) -> Custode {
    Custode::open(
        &StoreConfig::in_data_dir(data, mode).expect("config"),
        policy(),
        Arc::new(SystemClock),
    )
    .await
    .expect("store")
}

fn record(category: &str, n: usize) -> NewRecord {
    let fields: &[(&str, String)] = match category {
        "contact" => &[("email", format!("user{n}@example.org"))],
        "usage" => &[
            ("ip_address", format!("192.0.2.{}", n % 250)),
            ("access_time", "2026-11-20T08:00:00Z".to_owned()),
        ],
        _ => &[("headers", format!("Subject: message {n}"))],
    };
    NewRecord {
        category: category.into(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.clone())))
            .collect(),
        source: "test".into(),
        purposes: vec![],
        collected_at: None,
    }
}

/// A data directory with one subject (records in three categories, one of
/// them vault-bound) whose access-and-erasure request is verified and
/// queued; returns the subject and the request.
async fn prepared(data: &Path) -> (SubjectId, String) {
    let app = open(data, OpenMode::CreateIfMissing).await;
    let sys = Principal::system("setup");
    let provider = app
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("tenant");
    // Mailboxes live in a domain (the policy's `tenants`).
    let domain = app
        .store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Domain, "d.example")
        .await
        .expect("domain");
    let s = app
        .store
        .create_subject(&sys, &domain.id, "mailbox_user", "setup")
        .await
        .expect("subject");
    let batch = (0..60)
        .map(|n| {
            let category = ["contact", "usage", "mail"][n % 3];
            (s.clone(), record(category, n))
        })
        .collect();
    app.store
        .write_records(&sys, "setup", batch)
        .await
        .expect("write");
    let id = app
        .requests
        .file_request(
            &sys,
            NewRequest {
                subject: s.clone(),
                rights: vec![Right::Access, Right::Erasure],
                requester: Requester::Subject,
                contact: "user0@example.org".into(),
                text: "Copia e poi cancellazione.".into(),
                language: None,
            },
        )
        .await
        .expect("file")
        .id;
    app.requests
        .put_document(
            &sys,
            &id,
            DocumentKind::IdDocument,
            "image/jpeg",
            b"\xFF\xD8\xFF synthetic scan",
        )
        .await
        .expect("document");
    app.requests
        .approve_identity(&sys, &id)
        .await
        .expect("approve");
    app.requests
        .queue_fulfilment(&sys, &id, FulfilmentInput::default())
        .await
        .expect("queue");
    app.close().await;
    (s, id)
}

/// What a finished run leaves, without ids, keys or instants.
async fn final_state(data: &Path, subject: &SubjectId, id: &str) -> serde_json::Value {
    let app = open(data, OpenMode::Existing).await;
    let dpo = Principal {
        id: "check".into(),
        role: custode_domain::Role::Dpo,
        scope: custode_domain::Scope::everything(),
    };
    let request = app.requests.request(&dpo, id).await.expect("request");
    let jobs: Vec<serde_json::Value> = request
        .jobs
        .iter()
        .map(|j| {
            let mut result = j.result.clone().unwrap_or_default();
            // The package's size moves with the length of its timestamps.
            if let Some(bytes) = result.get_mut("bytes") {
                *bytes = serde_json::Value::Bool(bytes.as_u64() > Some(1000));
            }
            if let Some(kept) = result.get_mut("kept").and_then(|k| k.as_array_mut()) {
                for k in kept {
                    k["until"] = serde_json::Value::Null;
                }
            }
            serde_json::json!({ "right": j.right, "state": j.state, "step": j.step, "result": result })
        })
        .collect();
    let zip = app
        .requests
        .request_export(&dpo, id, Right::Access)
        .await
        .expect("package");
    let records_json = unzip_member(&zip, "records.json");
    let mut package: serde_json::Value = serde_json::from_slice(&records_json).expect("json");
    package["exported_at"] = serde_json::Value::Null;
    let mut left: Vec<(String, Vec<String>)> = app
        .store
        .records_for(&dpo, subject, "authority_requests", "check")
        .await
        .map(|rs| rs.into_iter().map(|r| (r.category, r.purposes)).collect())
        .unwrap_or_default();
    left.sort();
    let count = |sql: &'static str| {
        let pool = app.store.pool().clone();
        async move {
            sqlx::Row::get::<i64, _>(&sqlx::query(sql).fetch_one(&pool).await.expect("count"), 0)
        }
    };
    let state = serde_json::json!({
        "jobs": jobs,
        "package": package,
        "records_left": left,
        "vaulted": app.vault.vault_count().await.expect("vault"),
        "closed_events": count("SELECT COUNT(*) FROM audit_log WHERE action = 'subject.event'").await,
        "fulfilled_events": count("SELECT COUNT(*) FROM audit_log WHERE action = 'request.fulfilled'").await,
        "packages": count("SELECT COUNT(*) FROM request_exports").await,
    });
    assert!(
        app.vault.audit_verify().await.expect("verify").is_intact(),
        "the audit chain survives the crash"
    );
    app.close().await;
    state
}

/// One member of a stored ZIP, read with Python's standard library.
fn unzip_member(zip: &[u8], name: &str) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!(
        "custode-crash-{}-{}.zip",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::write(&path, zip).expect("write");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))",
        ])
        .arg(&path)
        .arg(name)
        .output()
        .expect("python3");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_step_of_an_export_or_an_erasure_ends_as_an_uninterrupted_run() {
    let dir = std::env::temp_dir().join(format!("custode-request-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let reference = dir.join("reference");
    let (subject, id) = prepared(&reference).await;
    let out = custode(&reference)
        .args(["requests", "run", "--until-done"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = final_state(&reference, &subject, &id).await;
    assert_eq!(expected["jobs"][1]["state"], "done", "{expected}");
    assert_eq!(expected["jobs"][1]["result"]["erased"], 20, "{expected}");
    assert_eq!(
        expected["vaulted"], 20,
        "usage goes to the vault: {expected}"
    );
    assert_eq!(
        expected["package"]["records"].as_array().map(Vec::len),
        Some(60),
        "the package was built before the erasure"
    );

    // Every step of both jobs: the package; the provider's own systems,
    // the erasure proper (closure, vault move, deletion), the key.
    for crash_at in ["access:0", "erasure:0", "erasure:1", "erasure:2"] {
        let data = dir.join(crash_at.replace(':', "-"));
        let (subject, id) = prepared(&data).await;
        let out = custode(&data)
            .env("CUSTODE_TEST_CRASH_AT", crash_at)
            .args(["requests", "run", "--lease", "1"])
            .output()
            .expect("run");
        assert!(
            !out.status.success(),
            "{crash_at}: the process was killed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let out = custode(&data)
            .args(["requests", "run", "--until-done"])
            .output()
            .expect("restart");
        assert!(
            out.status.success(),
            "{crash_at}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let state = final_state(&data, &subject, &id).await;
        let mut state_without_ids = state.clone();
        let mut expected_without_ids = expected.clone();
        for s in [&mut state_without_ids, &mut expected_without_ids] {
            s["package"]["subject"] = serde_json::Value::Null;
            for r in s["package"]["records"].as_array_mut().into_iter().flatten() {
                r["id"] = serde_json::Value::Null;
                r["collected_at"] = serde_json::Value::Null;
                r["retain_until"] = serde_json::Value::Null;
            }
        }
        for (key, want) in expected_without_ids.as_object().expect("object") {
            assert_eq!(
                &state_without_ids[key], want,
                "{crash_at}: `{key}` differs from the uninterrupted run"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// Issue "Every promise kept", item 2: staff list the Art. 19 notices of an
// erasure and confirm the one they carried out, without curl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_list_and_confirm_the_recipients_notices_at_the_console() {
    let dir = std::env::temp_dir().join(format!("custode-notices-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (_, id) = prepared(&dir).await;
    let run = |args: &[&str]| {
        let out = custode(&dir).args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["requests", "run", "--until-done"]);
    let pending = run(&["requests", "notices"]);
    let recipients: Vec<&str> = pending
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .collect();
    assert_eq!(
        recipients,
        ["domain_admins", "hosting", "mail_relay", "resellers"],
        "no judicial authority (on order), no accountant (no billing data):\n{pending}"
    );
    assert!(pending.lines().all(|l| l.contains("pending")), "{pending}");
    let confirmed = run(&["requests", "confirm-notice", &id, "erasure", "mail_relay"]);
    assert!(confirmed.contains("told "), "{confirmed}");
    assert!(confirmed.contains(" by cli:"), "{confirmed}");
    assert_eq!(run(&["requests", "notices"]).lines().count(), 3);
    let all = run(&["requests", "notices", "--all"]);
    assert_eq!(
        all.lines().filter(|l| l.contains("told ")).count(),
        1,
        "{all}"
    );
    let again = custode(&dir)
        .args(["requests", "confirm-notice", &id, "erasure", "mail_relay"])
        .output()
        .expect("runs");
    assert!(!again.status.success(), "confirmed once only");
    let _ = std::fs::remove_dir_all(&dir);
}
