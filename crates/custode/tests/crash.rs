//! `kill -9` in the middle of a large import loses nothing that was
//! acknowledged and leaves no partial batch — on SQLite and PostgreSQL.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
const BATCH: usize = 1000;
const SUBJECTS: usize = 10;

struct Setup {
    dir: PathBuf,
    args: Vec<String>,
    schemas: Option<common::Schemas>,
}

fn custode(setup: &Setup, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_custode"))
        .args(&setup.args)
        .args(args)
        .env("CUSTODE_MASTER_KEY", "11".repeat(32))
        .output()
        .expect("custode runs");
    assert!(
        out.status.success(),
        "custode {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn setup(postgres: bool) -> Setup {
    let tag = format!(
        "{}_{}",
        std::process::id(),
        if postgres { "pg" } else { "lite" }
    );
    let dir = std::env::temp_dir().join(format!("custode-crash-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let policy =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/email-hosting.toml");
    let mut args = vec![
        "--data".to_owned(),
        dir.join("data").display().to_string(),
        "--policy".to_owned(),
        policy.display().to_string(),
    ];
    let schemas = if postgres {
        let schemas = common::Schemas::create(&format!("crash_{tag}")).await;
        args.extend(schemas.flags());
        Some(schemas)
    } else {
        None
    };
    Setup { dir, args, schemas }
}

fn write_input(path: &Path, subjects: &[String], total: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("input"));
    for i in 0..total {
        // The sequence number rides in a field, so the test can tell exactly
        // which records survived.
        writeln!(
            f,
            r#"{{"subject":"{}","category":"usage","fields":{{"ip_address":"192.0.2.{}","access_time":"{i}","access_method":"imap"}}}}"#,
            subjects[i % subjects.len()],
            i % 250
        )
        .expect("write");
    }
}

async fn kill_mid_import(postgres: bool) {
    let s = setup(postgres).await;
    custode(&s, &["init"]);
    let provider = custode(
        &s,
        &["tenants", "create", "--kind", "provider", "--name", "p"],
    );
    let domain = custode(
        &s,
        &[
            "tenants",
            "create",
            "--kind",
            "domain",
            "--name",
            "d.example",
            "--parent",
            &provider,
        ],
    );
    let subjects: Vec<String> = (0..SUBJECTS)
        .map(|_| {
            custode(
                &s,
                &[
                    "subjects",
                    "create",
                    "--tenant",
                    &domain,
                    "--kind",
                    "mailbox_user",
                ],
            )
        })
        .collect();
    let input = s.dir.join("input.jsonl");
    write_input(&input, &subjects, 400 * BATCH);

    let mut child = Command::new(env!("CARGO_BIN_EXE_custode"))
        .args(&s.args)
        .args([
            "records",
            "import",
            &input.display().to_string(),
            "--batch",
            &BATCH.to_string(),
        ])
        .env("CUSTODE_MASTER_KEY", "11".repeat(32))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("import starts");
    let mut acked = 0usize;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    while acked < 5 * BATCH {
        let line = lines.next().expect("an acknowledgement").expect("read");
        acked = line
            .trim_start_matches("committed ")
            .parse()
            .expect("a count");
    }
    // SIGKILL: no destructor, no flush, no rollback by the process itself.
    child.kill().expect("kill -9");
    let _ = child.wait();
    drop(lines);

    // Every acknowledged record is there; batches are whole; nothing else.
    let mut seen = Vec::new();
    for subject in &subjects {
        let json = custode(&s, &["records", "show", subject, "--reason", "crash test"]);
        let records: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
        for r in records {
            let n: usize = r["fields"]["access_time"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("seq");
            seen.push(n);
        }
    }
    seen.sort_unstable();
    assert!(
        seen.len() >= acked,
        "acknowledged {acked}, found only {}",
        seen.len()
    );
    assert_eq!(
        seen.len() % BATCH,
        0,
        "a partial batch survived: {} records",
        seen.len()
    );
    assert_eq!(
        seen,
        (0..seen.len()).collect::<Vec<_>>(),
        "exactly the first whole batches, each record once"
    );
    assert!(seen.len() < 400 * BATCH, "the kill came before the end");
    let verify = custode(&s, &["audit", "verify"]);
    assert!(verify.starts_with("audit chain intact"), "{verify}");

    if let Some(schemas) = s.schemas {
        schemas.drop().await;
    }
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test]
async fn kill_9_mid_import_on_sqlite() {
    kill_mid_import(false).await;
}

#[tokio::test]
async fn kill_9_mid_import_on_postgres() {
    kill_mid_import(true).await;
}
