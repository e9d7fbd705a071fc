//! The command line as a person uses it: exit codes, messages, outputs.

use std::path::PathBuf;
use std::process::{Command, Output};

fn custode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custode"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_each_example() {
    for file in [
        "policies/email-hosting.toml",
        "policies/telecom.toml",
        "policies/messaging.toml",
    ] {
        let out = custode(&["policy", "check", file]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("valid"));
    }
}

#[test]
fn check_reports_every_problem_with_its_line_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("custode-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("broken.toml");
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/messaging.toml"),
    )
    .expect("example")
    .replacen(
        "basis = \"consent\"",
        "basis = \"consent\"\nvault = true",
        1,
    )
    .replacen("country = \"LU\"", "country = \"IN\"", 1);
    std::fs::write(&file, &source).expect("write");
    let path = file.to_string_lossy().into_owned();

    let out = custode(&["policy", "check", &path, "--report", "short"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("policy::vault_without_obligation"), "{err}");
    assert!(err.contains("policy::unsafe_transfer"), "{err}");
    assert!(err.lines().count() >= 2, "both problems at once: {err}");

    // The human report draws the source line under the message.
    let out = custode(&["policy", "check", &path]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("vault = true") || err.contains("basis = \"consent\""),
        "{err}"
    );
    assert!(err.contains("help:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_file_is_a_clear_error_with_exit_2() {
    let out = custode(&["policy", "check", "policies/nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot read the policy file policies/nope.toml"),
        "{err}"
    );
}

#[test]
fn notice_renders_html_in_the_asked_language() {
    let out = custode(&[
        "policy",
        "notice",
        "policies/telecom.toml",
        "--lang",
        "nl",
        "--format",
        "html",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = text(&out.stdout);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<html lang=\"nl\">"));
    assert!(html.contains("Linea Vallata"));
}

#[test]
fn an_unknown_language_is_refused_by_name() {
    let out = custode(&["policy", "notice", "policies/telecom.toml", "--lang", "de"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown language `de`"));
}

#[test]
fn ropa_renders_each_format() {
    for (format, starts) in [
        ("json", "{"),
        ("jsonld", "{"),
        ("csv", "activity,"),
        ("md", "# "),
    ] {
        let out = custode(&[
            "policy",
            "ropa",
            "policies/email-hosting.toml",
            "--format",
            format,
        ]);
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with(starts), "{format}");
    }
}

#[test]
fn a_config_file_supplies_settings_and_refuses_unknown_keys() {
    let dir = std::env::temp_dir().join(format!("custode-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("custode.toml");
    std::fs::write(
        &config,
        format!(
            "data = \"{}\"\npolicy = \"policies/telecom.toml\"\n",
            dir.join("data").display()
        ),
    )
    .expect("write");
    let out = custode(&["--config", &config.display().to_string(), "init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        dir.join("data/master.key").exists(),
        "the data directory came from the file"
    );
    // A flag wins over the file.
    let other = dir.join("other");
    let out = custode(&[
        "--config",
        &config.display().to_string(),
        "--data",
        &other.display().to_string(),
        "init",
    ]);
    assert!(out.status.success());
    assert!(other.join("master.key").exists());

    std::fs::write(&config, "dta = \"typo\"\n").expect("write");
    let out = custode(&["--config", &config.display().to_string(), "init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown setting `dta`"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dpo_checks_any_deadline_by_hand() {
    for (args, due) in [
        (vec!["--received", "2025-01-31"], "2025-02-28"),
        (vec!["--received", "2025-01-31", "--extended"], "2025-04-30"),
        (vec!["--received", "2025-02-01"], "2025-03-03"),
        (vec!["--received", "2025-02-01", "--extended"], "2025-05-02"),
        (
            vec!["--received", "2025-02-01", "--extended", "--country", "FR"],
            "2025-05-02",
        ),
        (
            vec!["--received", "2025-03-25", "--country", "IT"],
            "2025-04-28",
        ),
        (
            vec!["--received", "2025-03-25", "--country", "FR"],
            "2025-04-25",
        ),
        (
            vec!["--received", "2025-06-14", "--country", "FR"],
            "2025-07-15",
        ),
    ] {
        let mut full = vec!["requests", "deadline"];
        full.extend(args.iter().copied());
        let out = custode(&full);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), due, "{args:?}");
    }
    let out = custode(&["requests", "deadline", "--received", "31/01/2025"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("write YYYY-MM-DD"));
}

#[test]
fn serve_refuses_a_mail_relay_in_clear_elsewhere_or_a_login_without_its_password() {
    let dir = std::env::temp_dir().join(format!("custode-cli-smtp-{}", std::process::id()));
    for (relay, says) in [
        (
            &["--smtp", "smtp://mail.provider.example"][..],
            "smtp+starttls://",
        ),
        (
            &[
                "--smtp",
                "smtps://mail.provider.example",
                "--smtp-user",
                "custode",
            ][..],
            "CUSTODE_SMTP_PASSWORD",
        ),
    ] {
        // Bounded: a serve that wrongly starts is stopped, and fails here.
        let out = Command::new("timeout")
            .arg("20")
            .arg(env!("CARGO_BIN_EXE_custode"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(relay)
            .env("CUSTODE_DATA", &dir)
            .env_remove("CUSTODE_SMTP_PASSWORD")
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(2), "{relay:?}");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{relay:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue "Every promise kept": an operator takes a backup, sees its backup
/// key, and proves the backup usable by restoring it into a new data
/// directory, where the records read as before.
#[test]
fn a_backup_restores_into_a_new_data_directory() {
    let dir = std::env::temp_dir().join(format!("custode-cli-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let live = dir.join("live").display().to_string();
    let run = |data: &str, args: &[&str]| {
        let mut all = vec!["--data", data];
        all.extend_from_slice(args);
        let out = custode(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    run(&live, &["init"]);
    let provider = run(
        &live,
        &["tenants", "create", "--kind", "provider", "--name", "p"],
    );
    let domain = run(
        &live,
        &[
            "tenants",
            "create",
            "--kind",
            "domain",
            "--name",
            "d.example",
            "--parent",
            provider.trim(),
        ],
    );
    let subject = run(
        &live,
        &[
            "subjects",
            "create",
            "--tenant",
            domain.trim(),
            "--kind",
            "mailbox_user",
        ],
    );
    let subject = subject.trim();
    let input = dir.join("records.jsonl");
    std::fs::write(
        &input,
        format!(
            r#"{{"subject":"{subject}","category":"contact","fields":{{"email":"kept@example.org","phone":"+39 333 000 0000"}}}}"#
        ),
    )
    .expect("input");
    run(&live, &["records", "import", &input.display().to_string()]);

    let backup = dir.join("backup-1").display().to_string();
    let out = run(&live, &["backup", "create", "--out", &backup]);
    assert!(out.contains("restorable until"), "{out}");
    assert!(std::path::Path::new(&backup).join("keys.sealed").exists());
    let keys = run(&live, &["backup", "keys"]);
    assert_eq!(keys.lines().count(), 1, "one backup key: {keys}");

    let restored = dir.join("restored").display().to_string();
    let out = run(&live, &["restore", "--from", &backup, "--to", &restored]);
    assert!(out.contains("1 subjects"), "{out}");
    assert!(out.contains("intact"), "{out}");
    let shown = run(
        &restored,
        &["records", "show", subject, "--reason", "restore check"],
    );
    assert!(shown.contains("kept@example.org"), "{shown}");

    // Restoring twice into the same place is refused: nothing is overwritten.
    let out = custode(&[
        "--data", &live, "restore", "--from", &backup, "--to", &restored,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("new, empty"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue "Every promise kept", item 4: a token that reads personal data is
/// issued at the console to a named holder, and the list shows who holds
/// what, never a secret.
#[test]
fn tokens_are_issued_to_a_holder_and_listed_without_secrets() {
    let dir = std::env::temp_dir().join(format!("custode-tokens-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.display().to_string();
    let out = custode(&["--data", &data, "init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let issue = |extra: &[&str]| {
        let mut args = vec![
            "--data", &data, "tokens", "issue", "--name", "review", "--role", "dpo",
        ];
        args.extend_from_slice(extra);
        custode(&args)
    };
    let out = issue(&[]);
    assert_eq!(out.status.code(), Some(2), "no holder, no token");
    assert!(
        text(&out.stderr).contains("--holder"),
        "{}",
        text(&out.stderr)
    );
    let out = issue(&["--holder", "Dora Rossi"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    let secret = token.split_once('.').expect("a token").1.to_owned();

    let out = custode(&["--data", &data, "tokens", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("Dora Rossi") && table.contains("dpo"),
        "{table}"
    );
    assert!(
        table.contains("never") && table.contains("active"),
        "{table}"
    );
    assert!(!table.contains(&secret), "no secret in the list");
    let out = custode(&["--data", &data, "tokens", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows[0]["holder"], "Dora Rossi");
    assert!(
        rows[0]["issued_by"]
            .as_str()
            .is_some_and(|i| i.starts_with("cli:"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Seed 002 (issue "Every promise kept"): `custode tenants close` deletes a
/// deactivated customer promptly and permanently — its subjects erased,
/// its token revoked, its name gone from the tenants table, nothing new
/// under it — and a second run says there is nothing left to do.
#[test]
fn closing_a_tenant_erases_it_and_says_what_was_done() {
    let dir = std::env::temp_dir().join(format!("custode-cli-close-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--data", &data];
        all.extend_from_slice(args);
        custode(&all)
    };
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_owned()
    };
    ok(&["init"]);
    let provider = ok(&["tenants", "create", "--kind", "provider", "--name", "p"]);
    let name = "Studio Bianchi di Giulia Bianchi";
    let customer = ok(&[
        "tenants", "create", "--kind", "domain", "--name", name, "--parent", &provider,
    ]);
    let subject = ok(&[
        "subjects",
        "create",
        "--tenant",
        &customer,
        "--kind",
        "mailbox_user",
    ]);
    let input = dir.join("records.jsonl");
    std::fs::write(
        &input,
        format!(
            r#"{{"subject":"{subject}","category":"credentials","fields":{{"username":"giulia"}}}}"#
        ),
    )
    .expect("input");
    ok(&["records", "import", &input.display().to_string()]);
    ok(&[
        "tokens",
        "issue",
        "--name",
        "shop",
        "--role",
        "domain_admin",
        "--holder",
        "the customer's system",
        "--tenant",
        &customer,
    ]);

    let out = run(&["tenants", "close", &customer]);
    assert_eq!(out.status.code(), Some(2), "a reason is required");
    let done = ok(&[
        "tenants",
        "close",
        &customer,
        "--reason",
        "customer deactivated",
    ]);
    assert!(done.contains("subjects erased: 1"), "{done}");
    assert!(done.contains("tokens revoked: 1"), "{done}");

    let out = run(&["records", "show", &subject, "--reason", "check"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("erased"),
        "{}",
        text(&out.stderr)
    );
    let tokens = ok(&["tokens", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&tokens).expect("json");
    assert!(
        rows.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["revoked_at"].is_string() || r["role"] != "domain_admin"),
        "{tokens}"
    );
    let out = run(&[
        "subjects",
        "create",
        "--tenant",
        &customer,
        "--kind",
        "mailbox_user",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("closed"),
        "{}",
        text(&out.stderr)
    );

    let names: Vec<String> = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{data}/custode.db"))
                .await
                .expect("open");
            let names = sqlx::query_scalar("SELECT name FROM tenants")
                .fetch_all(&pool)
                .await
                .expect("names");
            pool.close().await;
            names
        });
    assert!(!names.iter().any(|n| n.contains("Bianchi")), "{names:?}");
    assert!(
        names.contains(&format!("closed tenant {customer}")),
        "{names:?}"
    );

    let again = ok(&[
        "tenants",
        "close",
        &customer,
        "--reason",
        "customer deactivated",
    ]);
    assert!(again.contains("already closed"), "{again}");
    let verified = run(&["audit", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue #21: a request filed at the console with an e-mail address; a
/// malformed one, or an identifier kind the policy does not declare, is the
/// user's mistake (exit 1) and files nothing; the DPO may not attest where
/// the policy names no role.
#[test]
fn a_request_is_filed_by_email_at_the_console() {
    let dir = std::env::temp_dir().join(format!("custode-cli-byid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--data", &data];
        all.extend_from_slice(args);
        custode(&all)
    };
    let init = run(&["init"]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    let p = run(&["tenants", "create", "--kind", "provider", "--name", "p"]);
    assert!(p.status.success(), "{}", text(&p.stderr));

    for (args, says) in [
        (
            vec![
                "requests",
                "file",
                "--email",
                "anna(at)example.org",
                "--right",
                "access",
            ],
            "not an e-mail address",
        ),
        (
            vec![
                "requests",
                "file",
                "--identifier",
                "tax_code=RSSMRA80A01H501U",
                "--right",
                "access",
            ],
            "not declared by the policy",
        ),
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
    let none = run(&["requests", "list"]);
    assert!(
        text(&none.stdout).contains("no requests"),
        "{}",
        text(&none.stdout)
    );

    let out = run(&[
        "requests",
        "file",
        "--email",
        "Anna.Verdi@Example.org",
        "--right",
        "access",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(line.contains("found created"), "{line}");
    let id = line.split('\t').next().expect("id").trim().to_owned();

    let out = run(&[
        "requests",
        "attest",
        &id,
        "--method",
        "ID card at the shop",
        "--verified-by",
        "shop 12",
        "--reference",
        "ticket 881",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("attest_roles"),
        "{}",
        text(&out.stderr)
    );
    let shown = run(&["requests", "show", &id]);
    assert!(
        text(&shown.stdout).contains("identity  unverified"),
        "{}",
        text(&shown.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
