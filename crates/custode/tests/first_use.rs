//! What a new user meets first, from the issue "Every promise kept" (A and
//! B's command line): output into a pipe closed early, systems files that
//! only the commands reaching them read, a log without colour codes, the
//! warning about unsubscribe links, retention runs that do all that is due
//! and say so, the plan as of a future day, and progress shown on a
//! terminal only.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
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

/// `custode` on a data directory under the telecom policy, with no
/// settings from the environment that runs the tests.
fn custode(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custode"));
    c.current_dir(root())
        .env_remove("CUSTODE_MASTER_KEY")
        .env_remove("CUSTODE_SYSTEMS")
        .env_remove("CUSTODE_APP_DB_PASSWORD")
        .env_remove("CUSTODE_PUBLIC_URL")
        .args(["--data", &data.display().to_string()])
        .args(["--policy", "policies/telecom.toml"]);
    c
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

/// A data directory with a provider and one customer; the customer's id.
fn customer(data: &Path) -> String {
    ok(custode(data).arg("init").output().expect("init"));
    let provider = ok(custode(data)
        .args(["tenants", "create", "--kind", "provider", "--name", "p"])
        .output()
        .expect("tenant"));
    ok(custode(data)
        .args(["subjects", "create", "--kind", "customer", "--tenant"])
        .arg(provider.trim())
        .output()
        .expect("subject"))
    .trim()
    .to_owned()
}

/// Imports `n` records of a category with one field for a subject.
fn import(data: &Path, subject: &str, category: &str, field: &str, n: usize) -> Output {
    let file = data.join(format!("{category}.jsonl"));
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"subject\": \"{subject}\", \"category\": \"{category}\", \"fields\": {{\"{field}\": \"synthetic {i}\"}}}}\n"
            )
        })
        .collect();
    std::fs::write(&file, lines).expect("write");
    custode(data)
        .args(["records", "import"])
        .arg(&file)
        .output()
        .expect("import")
}

// A.1: `custode requests list | head -1` must not panic (exit 101).
#[test]
fn output_into_a_pipe_closed_early_ends_quietly_with_exit_0() {
    let dir = temp_dir("closed-pipe");
    let data = dir.join("data");
    ok(custode(&data).arg("init").output().expect("init"));
    for args in [
        &["requests", "list"][..],
        &["requests", "deadline", "--received", "2026-03-02"],
        &["retention", "plan"],
        &["retention", "run", "--dry-run"],
        &["audit", "verify"],
        &["policy", "check", "policies/telecom.toml"],
        &["policy", "notice", "policies/telecom.toml"],
    ] {
        // The reading end is gone before the command writes a byte.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = custode(&data)
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?} ends quietly: {}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// A.2: the systems' passwords are asked for only by the commands that
// reach the systems.
#[test]
fn commands_that_never_reach_the_systems_need_not_their_passwords() {
    let dir = temp_dir("systems-env");
    let data = dir.join("data");
    ok(custode(&data).arg("init").output().expect("init"));
    let with_systems = |args: &[&str]| {
        custode(&data)
            .env("CUSTODE_SYSTEMS", "systems")
            .args(args)
            .output()
            .expect("runs")
    };
    let list = with_systems(&["requests", "list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(text(&list.stdout).contains("no requests"));
    let export = with_systems(&["requests", "export", "req_none", "--out", "-"]);
    assert!(
        !text(&export.stderr).contains("CUSTODE_APP_DB_PASSWORD"),
        "{}",
        text(&export.stderr)
    );
    assert!(
        with_systems(&["retention", "plan"]).status.success(),
        "retention never reaches the systems"
    );
    // The fulfilment does reach them: it still says what is missing.
    let run = with_systems(&["requests", "run"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("CUSTODE_APP_DB_PASSWORD"),
        "{}",
        text(&run.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `serve` with `extra` flags, stops it once it listens, and returns
/// everything it wrote to standard output.
fn serve_output(data: &Path, extra: &[&str]) -> String {
    let mut child = custode(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-jobs"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("line") > 0,
            "serve stopped: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with("custode listening on") {
            break;
        }
    }
    // Let the log lines written after the address reach the pipe.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("exits").success());
    stdout.read_to_string(&mut seen).expect("rest");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).expect("stderr");
    }
    seen + &err
}

// A.3 and A.6: no colour codes in a log that is not a terminal; a warning
// when unsubscribe links would not be https or would work only here.
#[test]
fn serve_logs_plainly_and_warns_about_links_that_will_not_work() {
    let dir = temp_dir("serve-log");
    let data = dir.join("data");
    let unset = serve_output(&data, &[]);
    assert!(
        !unset.contains('\u{1b}'),
        "no escape codes when standard output is not a terminal: {unset:?}"
    );
    assert!(unset.contains("serving"), "{unset}");
    assert!(
        unset.contains("WARN") && unset.contains("only on this machine"),
        "{unset}"
    );
    let plain = serve_output(&data, &["--public-url", "http://privacy.example"]);
    assert!(
        plain.contains("WARN") && plain.contains("is not https"),
        "{plain}"
    );
    let https = serve_output(&data, &["--public-url", "https://privacy.example"]);
    assert!(!https.contains("WARN"), "{https}");
    let _ = std::fs::remove_dir_all(&dir);
}

// A.4 and B: a run does everything due (moves included) and says what it
// did; the dry run and the plan show the moves and the vault's own ends;
// `--at` shows the state as of a future day.
#[test]
fn retention_runs_everything_due_and_the_plan_sees_every_store() {
    let dir = temp_dir("retention-cli");
    let data = dir.join("data");
    let subject = customer(&data);
    ok(import(
        &data,
        &subject,
        "unanswered_calls",
        "unanswered_call",
        3,
    ));
    ok(import(&data, &subject, "phone_traffic", "called_number", 2));

    let dry = ok(custode(&data)
        .args(["retention", "run", "--dry-run"])
        .output()
        .expect("dry run"));
    assert!(
        dry.contains("\tvaulted\tunanswered_calls\tkeep_unanswered_calls\t3"),
        "the dry run lists the moves due: {dry}"
    );

    let run = ok(custode(&data)
        .args(["retention", "run", "--batch", "2"])
        .output()
        .expect("run"));
    assert!(
        run.contains(
            "done: 0 records erased, 3 moved to the vault, 0 erased from the vault, 0 closed subjects shredded"
        ),
        "batches go on while anything is done, and the summary says what: {run}"
    );
    let dry = ok(custode(&data)
        .args(["retention", "run", "--dry-run"])
        .output()
        .expect("dry run"));
    assert_eq!(dry.trim(), "nothing");

    let plan = ok(custode(&data)
        .args(["retention", "plan", "--days", "31"])
        .output()
        .expect("plan"));
    assert!(
        plan.contains("\tvault_erased\tunanswered_calls\tkeep_unanswered_calls\t3"),
        "the vault's own ends: {plan}"
    );

    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Rome").expect("zone"))
        .date();
    let at = today
        .checked_add(jiff::Span::new().months(7))
        .expect("date")
        .to_string();
    let plan = ok(custode(&data)
        .args(["retention", "plan", "--at", &at])
        .output()
        .expect("plan"));
    assert!(
        plan.contains("\tvaulted\tphone_traffic\tkeep_phone_traffic\t2"),
        "billing traffic moves after 6 months: {plan}"
    );
    assert!(plan.contains(&format!("at the end of {at}")), "{plan}");
    assert!(plan.contains("main\tphone_traffic\t2 -> 0"), "{plan}");
    assert!(plan.contains("vault\tphone_traffic\t0 -> 2"), "{plan}");
    assert!(plan.contains("vault\tunanswered_calls\t3 -> 0"), "{plan}");

    let past = custode(&data)
        .args(["retention", "plan", "--at", "2020-01-01"])
        .output()
        .expect("plan");
    assert_eq!(past.status.code(), Some(2));
    assert!(text(&past.stderr).contains("retention report"));
    let _ = std::fs::remove_dir_all(&dir);
}

// A.5: progress on a terminal, nothing of it in scripts.
#[test]
fn long_work_shows_progress_on_a_terminal_and_stays_quiet_in_scripts() {
    let dir = temp_dir("progress");
    let data = dir.join("data");
    let subject = customer(&data);
    let quiet = import(&data, &subject, "phone_traffic", "called_number", 50);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    assert_eq!(text(&quiet.stdout), "committed 50\n");

    // The same import under a pseudo-terminal (util-linux `script`).
    let file = data.join("phone_traffic.jsonl");
    let command = format!(
        "'{}' --data '{}' --policy policies/telecom.toml records import '{}'",
        env!("CARGO_BIN_EXE_custode"),
        data.display(),
        file.display()
    );
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(root())
        .env_remove("CUSTODE_MASTER_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let shown = text(&tty.stdout);
    assert!(tty.status.success(), "{shown}");
    assert!(shown.contains("importing records"), "{shown:?}");
    assert!(shown.contains("committed 50"), "{shown:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
