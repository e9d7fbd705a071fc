//! `custode users` as the operator meets it: an invitation prints the
//! one-time link to hand over, the list says who is invited, active or
//! disabled, and bad input exits 1 with what is wrong, changing nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn custode(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custode"))
        .current_dir(root())
        .env_remove("CUSTODE_MASTER_KEY")
        .env_remove("CUSTODE_PUBLIC_URL")
        .args(["--data", &data.display().to_string()])
        .args(["--policy", "policies/email-hosting.toml"])
        .args(args)
        .output()
        .expect("custode runs")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn people(data: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(custode(data, &["users", "list", "--json"]))).expect("json")
}

#[test]
fn the_operator_invites_lists_disables_and_is_told_what_is_wrong() {
    let data = std::env::temp_dir().join(format!("custode-users-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(custode(&data, &["init"]));
    let out = ok(custode(
        &data,
        &[
            "users",
            "invite",
            "Dora@Example.org",
            "--role",
            "dpo",
            "--public-url",
            "https://privacy.example/",
        ],
    ));
    assert!(out.contains("Invited dora@example.org as dpo"), "{out}");
    assert!(
        out.contains("https://privacy.example/invitation#inv_"),
        "{out}"
    );
    assert!(
        out.contains("authenticator"),
        "a DPO is told of the second factor: {out}"
    );

    for (args, says) in [
        (
            vec!["users", "invite", "not-an-address", "--role", "dpo"],
            "`email`",
        ),
        (
            vec!["users", "invite", "x@example.org", "--role", "king"],
            "unknown role `king`",
        ),
        (
            vec!["users", "invite", "x@example.org", "--role", "subject"],
            "`role`",
        ),
        (
            vec![
                "users",
                "invite",
                "x@example.org",
                "--role",
                "dpo",
                "--tenant",
                "zz",
            ],
            "--tenant",
        ),
        (
            vec!["users", "invite", "dora@example.org", "--role", "dpo"],
            "exists already",
        ),
        (vec!["users", "disable", "u_nobody"], "not found"),
    ] {
        let out = custode(&data, &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let listed = people(&data);
    assert_eq!(listed.len(), 1, "nothing else was made: {listed:?}");
    assert_eq!(listed[0]["state"], "invited");
    let id = listed[0]["id"].as_str().expect("id").to_owned();

    let out = ok(custode(&data, &["users", "reinvite", &id]));
    assert!(out.contains("inv_"), "{out}");
    ok(custode(&data, &["users", "disable", &id]));
    assert_eq!(people(&data)[0]["state"], "disabled");
    let out = custode(&data, &["users", "disable", &id]);
    assert_eq!(out.status.code(), Some(1), "disabled already");
    ok(custode(&data, &["users", "enable", &id]));
    ok(custode(
        &data,
        &["users", "role", &id, "--role", "support_agent"],
    ));
    assert_eq!(people(&data)[0]["role"], "support_agent");
    let table = ok(custode(&data, &["users", "list"]));
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains("support_agent") && table.contains("dora@example.org"),
        "{table}"
    );
    assert!(ok(custode(&data, &["audit", "verify"])).contains("intact"));
    let _ = std::fs::remove_dir_all(&data);
}
