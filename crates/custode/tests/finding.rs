//! Finding people, the tenancy tree and a subject's trail at the command
//! line, as the local operator uses them: `subjects find`, `tenants list`,
//! `audit trail` (table, JSON, CSV, the subject's own view).

use std::path::Path;
use std::process::{Command, Output};

fn custode(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custode"))
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("the binary runs")
}

fn run(data: &Path, args: &[&str]) -> String {
    let out = custode(data, args);
    assert!(
        out.status.success(),
        "custode {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_operator_finds_a_customer_lists_the_tree_and_reads_the_trail() {
    let dir = std::env::temp_dir().join(format!("custode-finding-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    run(&data, &["init"]);
    let id = |out: String| out.trim().to_owned();
    let provider = id(run(
        &data,
        &["tenants", "create", "--kind", "provider", "--name", "P"],
    ));
    let reseller = id(run(
        &data,
        &[
            "tenants", "create", "--kind", "reseller", "--name", "R", "--parent", &provider,
        ],
    ));
    let domain = id(run(
        &data,
        &[
            "tenants",
            "create",
            "--kind",
            "domain",
            "--name",
            "a.example",
            "--parent",
            &reseller,
        ],
    ));
    let subject = id(run(
        &data,
        &[
            "subjects",
            "create",
            "--tenant",
            &domain,
            "--kind",
            "mailbox_user",
        ],
    ));
    let input = dir.join("records.jsonl");
    std::fs::write(
        &input,
        format!(
            "{{\"subject\":\"{subject}\",\"category\":\"contact\",\"fields\":{{\"email\":\"Mario.Rossi@Example.com\",\"phone\":\"+39 055 1234567\"}}}}\n"
        ),
    )
    .expect("input");
    run(&data, &["records", "import", &input.display().to_string()]);

    let found = run(
        &data,
        &[
            "subjects",
            "find",
            "--email",
            "mario.rossi@example.com",
            "--reason",
            "ticket 7",
        ],
    );
    assert!(found.starts_with(&subject), "{found}");
    let found = run(
        &data,
        &[
            "subjects",
            "find",
            "--phone",
            "0039 055 1234567",
            "--reason",
            "ticket 7",
            "--json",
        ],
    );
    let found: serde_json::Value = serde_json::from_str(&found).expect("json");
    assert_eq!(found[0]["id"], subject.as_str());
    let refused = custode(
        &data,
        &[
            "subjects",
            "find",
            "--identifier",
            "tax_code=RSSMRA80A01H501U",
            "--reason",
            "t",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("`tax_code` is not declared") && err.contains("email, phone"),
        "{err}"
    );

    let tree = run(&data, &["tenants", "list"]);
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 4, "{tree}");
    assert!(
        lines[1].contains("reseller=1") && lines[1].ends_with(" P"),
        "{tree}"
    );
    assert!(
        lines[3].contains("mailbox_user=1") && lines[3].ends_with("    a.example"),
        "{tree}"
    );

    run(
        &data,
        &["records", "show", &subject, "--reason", "complaint 3"],
    );
    let csv = run(
        &data,
        &[
            "audit",
            "trail",
            &subject,
            "--format",
            "csv",
            "--action",
            "records.read",
        ],
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains(",records.read,") && lines[1].contains("complaint 3"),
        "{csv}"
    );
    let trail: serde_json::Value = serde_json::from_str(&run(
        &data,
        &["audit", "trail", &subject, "--format", "json"],
    ))
    .expect("json");
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "subject.created",
            "records.written",
            "subject.found",
            "subject.found",
            "records.read",
            "audit.trail_read"
        ]
    );
    let own = run(&data, &["audit", "trail", &subject, "--as-subject"]);
    assert!(own.contains("not by name"), "{own}");
    let out = custode(&data, &["audit", "trail", &subject, "--since", "last week"]);
    assert!(!out.status.success());
    assert!(run(&data, &["audit", "verify"]).starts_with("audit chain intact"));
    let _ = std::fs::remove_dir_all(&dir);
}
