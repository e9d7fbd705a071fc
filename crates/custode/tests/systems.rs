//! `custode systems`: check, scan (against the real PostgreSQL), and access
//! by hand, as a person runs them; no password ever printed.

use std::path::PathBuf;
use std::process::{Command, Output};

fn custode(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custode"));
    cmd.args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("custode-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn check_accepts_the_example_and_names_each_problem_with_its_line() {
    let out = custode(
        &[
            "systems",
            "check",
            "systems/app.toml",
            "--policy",
            "policies/telecom.toml",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid — system app (postgres), 4 tables"));

    let dir = temp_dir("systems-check");
    let bad = dir.join("bad.toml");
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../systems/app.toml"),
    )
    .expect("example")
    .replace(
        "ip = \"net_traffic.session_ip\"",
        "ip = \"net_trafic.session_ip\"",
    );
    std::fs::write(&bad, &source).expect("write");
    let line = source
        .lines()
        .position(|l| l.contains("net_trafic"))
        .expect("the typo")
        + 1;
    let out = custode(
        &[
            "systems",
            "check",
            bad.to_str().expect("path"),
            "--policy",
            "policies/telecom.toml",
            "--report",
            "short",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("bad.toml:{line}:")) && err.contains("systems::unknown_category"),
        "{err}"
    );
    assert!(err.contains("did you mean `net_traffic`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn scan_drafts_a_file_that_checks_after_review_and_access_works() {
    let url = std::env::var("CUSTODE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let pool = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must run at {url}: {e}"));
    let schema = format!(
        "cli_scan_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.people(id bigint PRIMARY KEY, contact text NOT NULL, mobile text);
         CREATE INDEX ON {schema}.people(contact);
         CREATE TABLE {schema}.visits(id bigint PRIMARY KEY, person_id bigint REFERENCES {schema}.people(id), origin text);
         CREATE INDEX ON {schema}.visits(person_id);
         INSERT INTO {schema}.people VALUES (1, 'anna@example.com', '+39 055 1111111'), (2, 'bruno@example.com', '+39 055 2222222');
         INSERT INTO {schema}.visits VALUES (1, 1, '198.51.100.1'), (2, 2, '198.51.100.2'), (3, 1, '2001:db8::7');"
    )))
    .execute(&pool)
    .await
    .expect("schema");

    // A password in the URL (loopback trusts, so it is not checked): it
    // must appear nowhere.
    let secret = "Sh0uld-Never-Print";
    let with_password = url.replacen("postgres@", &format!("postgres:{secret}@"), 1);
    let dir = temp_dir("systems-scan");
    let draft = dir.join("crm.toml");
    let out = custode(
        &[
            "systems",
            "scan",
            &with_password,
            "--schema",
            &schema,
            "--id",
            "crm",
            "--password-env",
            "CRM_PASSWORD",
            "--out",
            draft.to_str().expect("path"),
            "--policy",
            "policies/telecom.toml",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let drafted = std::fs::read_to_string(&draft).expect("the draft");
    assert!(!drafted.contains(secret) && !text(&out.stderr).contains(secret));
    assert!(
        drafted.contains("contact = \"master_data.email\""),
        "{drafted}"
    );
    assert!(
        drafted.contains("mobile = \"master_data.phone\""),
        "{drafted}"
    );
    assert!(
        drafted.contains("origin = \"network.assigned_ip\""),
        "{drafted}"
    );
    assert!(drafted.contains("password_env = \"CRM_PASSWORD\""));

    let check = |path: &str| {
        custode(
            &[
                "systems",
                "check",
                path,
                "--policy",
                "policies/telecom.toml",
                "--report",
                "short",
            ],
            &[],
        )
    };
    let out = check(draft.to_str().expect("path"));
    assert_eq!(out.status.code(), Some(1), "a draft is refused");
    assert!(text(&out.stderr).contains("systems::draft"));
    let reviewed: String = drafted
        .lines()
        .filter(|l| *l != "draft = true")
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&draft, reviewed).expect("review");
    let out = check(draft.to_str().expect("path"));
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = custode(
        &[
            "systems",
            "access",
            "--dir",
            dir.to_str().expect("path"),
            "--email",
            "anna@example.com",
            "--policy",
            "policies/telecom.toml",
        ],
        &[("CRM_PASSWORD", secret)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let tables = &answer["systems"][0]["tables"];
    assert_eq!(answer["systems"][0]["status"], "done");
    assert_eq!(tables[0]["table"], "people");
    assert_eq!(tables[0]["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(tables[1]["table"], "visits");
    assert_eq!(tables[1]["rows"].as_array().map(Vec::len), Some(2));
    assert!(!text(&out.stdout).contains(secret) && !text(&out.stderr).contains(secret));

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .expect("drop");
    std::fs::remove_dir_all(&dir).ok();
}
