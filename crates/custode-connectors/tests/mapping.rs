//! Systems files that must be refused, each problem at its line, and the
//! guards that keep passwords out of errors, logs and debug output.

mod common;

use custode_connectors::{
    Connectors, Error, Outcome, PasswordSource, ProblemKind, RetryPolicy, ScanOptions,
    SubjectIdentifiers,
};

const GOOD: &str = r#"
[system]
id = "crm"
kind = "postgres"
url = "postgres://custode@127.0.0.1:5432/crm"
password_env = "CRM_PASSWORD"

[erase]
master_data = "delete_row"

[[table]]
name = "people"
key = "id"
identifiers = { email = "email" }
columns = { email = "master_data.email", full_name = "master_data.name" }

[[table]]
name = "notes"
key = "id"
parents = [{ table = "people", column = "person_id" }]
columns = { text = "requests.message" }
erase = { requests = "delete_row" }
"#;

/// Loads a variant of `GOOD`, and returns its problems as (kind, line).
fn problems(source: &str) -> Vec<(ProblemKind, usize)> {
    match custode_connectors::load("crm.toml", source, &common::policy()) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .problems()
            .iter()
            .map(|p| (p.kind, e.location(p).line))
            .collect(),
    }
}

fn line_of(source: &str, needle: &str) -> usize {
    source
        .lines()
        .position(|l| l.contains(needle))
        .map(|n| n + 1)
        .unwrap_or_else(|| panic!("`{needle}` is not in the file"))
}

#[test]
fn the_good_file_loads() {
    let m = custode_connectors::load("crm.toml", GOOD, &common::policy()).expect("loads");
    assert_eq!(m.id, "crm");
    assert_eq!(m.password, PasswordSource::Env("CRM_PASSWORD".into()));
    assert_eq!(
        m.tables[1].parents[0].references, "id",
        "the parent's key by default"
    );
    assert!(m.tables[1].deletes_rows());
}

#[test]
fn the_example_systems_file_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../systems/app.toml");
    let source = std::fs::read_to_string(path).expect("systems/app.toml");
    custode_connectors::load("app.toml", &source, &common::policy())
        .unwrap_or_else(|e| panic!("{}", e.to_short_lines()));
}

#[test]
fn each_mistake_is_reported_at_its_line() {
    let cases: Vec<(&str, String, &str, ProblemKind)> = vec![
        (
            "unknown category",
            GOOD.replace(
                "full_name = \"master_data.name\"",
                "full_name = \"master_dta.name\"",
            ),
            "master_dta",
            ProblemKind::UnknownCategory,
        ),
        (
            "unknown field",
            GOOD.replace("master_data.name", "master_data.nickname"),
            "nickname",
            ProblemKind::UnknownCategory,
        ),
        (
            "a table no identity reaches",
            GOOD.replace(
                "parents = [{ table = \"people\", column = \"person_id\" }]",
                "# no parents",
            ),
            "name = \"notes\"",
            ProblemKind::Unreachable,
        ),
        (
            "keep without a legal ground",
            GOOD.replace(
                "erase = { requests = \"delete_row\" }",
                "erase = { requests = \"keep\" }",
            ),
            "requests = \"keep\"",
            ProblemKind::KeepWithoutGround,
        ),
        (
            "keep with an empty ground",
            GOOD.replace(
                "erase = { requests = \"delete_row\" }",
                "erase = { requests = { keep = \"  \" } }",
            ),
            "keep = \"  \"",
            ProblemKind::KeepWithoutGround,
        ),
        (
            "a password in the URL",
            GOOD.replace("postgres://custode@", "postgres://custode:hunter2@"),
            "hunter2",
            ProblemKind::SecretInClear,
        ),
        (
            "a password as a URL parameter",
            GOOD.replace("5432/crm\"", "5432/crm?password=hunter2\""),
            "hunter2",
            ProblemKind::SecretInClear,
        ),
        (
            "an unknown identifier kind",
            GOOD.replace("identifiers = { email = ", "identifiers = { emial = "),
            "emial",
            ProblemKind::UnknownReference,
        ),
        (
            "a parent that is not mapped",
            GOOD.replace("table = \"people\"", "table = \"persons\""),
            "persons",
            ProblemKind::UnknownReference,
        ),
        (
            "a kept child of a deleted parent",
            GOOD.replace(
                "erase = { requests = \"delete_row\" }",
                "erase = { requests = { keep = \"Art. 2946 c.c.\" } }",
            ),
            "parents = [",
            ProblemKind::Contradiction,
        ),
        (
            "a typo in a key",
            GOOD.replace("identifiers = {", "identifers = {"),
            "identifers",
            ProblemKind::UnknownKey,
        ),
        (
            "a name that is not an identifier",
            GOOD.replace("name = \"notes\"", "name = \"notes; drop table people\""),
            "drop table",
            ProblemKind::InvalidValue,
        ),
        (
            "a category without an erase action",
            GOOD.replace("erase = { requests = \"delete_row\" }", ""),
            "requests.message",
            ProblemKind::Missing,
        ),
        (
            "an identifier column with no category",
            GOOD.replace("email = \"master_data.email\", ", ""),
            "identifiers = {",
            ProblemKind::Missing,
        ),
        (
            "a draft",
            format!("draft = true\n{GOOD}"),
            "draft = true",
            ProblemKind::Draft,
        ),
        (
            "an unknown kind",
            GOOD.replace("kind = \"postgres\"", "kind = \"oracle\""),
            "oracle",
            ProblemKind::InvalidValue,
        ),
    ];
    for (what, source, needle, kind) in cases {
        let found = problems(&source);
        let want = (kind, line_of(&source, needle));
        assert!(
            found.contains(&want),
            "{what}: want {want:?}, got {found:?}"
        );
    }
}

#[test]
fn a_cycle_without_a_key_is_refused() {
    let source = r#"
[system]
id = "crm"
kind = "mysql"
url = "mysql://custode@127.0.0.1/crm"

[erase]
master_data = { mask = "x" }

[[table]]
name = "people"
key = "id"
identifiers = { email = "email" }
columns = { email = "master_data.email" }

[[table]]
name = "a"
parents = [{ table = "people", column = "person_id" }, { table = "b", column = "b_ref", references = "ref" }]
columns = { x = "master_data.name" }

[[table]]
name = "b"
parents = [{ table = "a", column = "a_ref", references = "ref" }]
columns = { y = "master_data.name" }
"#;
    let found = problems(source);
    assert!(
        found.contains(&(
            ProblemKind::CycleWithoutKey,
            line_of(source, "name = \"a\"")
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            ProblemKind::CycleWithoutKey,
            line_of(source, "name = \"b\"")
        )),
        "{found:?}"
    );
    // With keys, the same cycle is fine.
    let keyed = source
        .replace("name = \"a\"\n", "name = \"a\"\nkey = \"id\"\n")
        .replace("name = \"b\"\n", "name = \"b\"\nkey = \"id\"\n");
    assert_eq!(problems(&keyed), Vec::new());
}

#[test]
fn the_message_never_repeats_a_password_in_the_url() {
    let source = GOOD.replace("postgres://custode@", "postgres://custode:hunter2@");
    let err =
        custode_connectors::load("crm.toml", &source, &common::policy()).expect_err("refused");
    assert!(!err.to_short_lines().contains("hunter2"));
    assert!(!format!("{err}").contains("hunter2"));
}

#[test]
fn a_password_variable_that_is_not_set_is_named() {
    let m = custode_connectors::load(
        "crm.toml",
        &GOOD.replace("CRM_PASSWORD", "CUSTODE_TEST_SURELY_UNSET_VARIABLE"),
        &common::policy(),
    )
    .expect("loads");
    let err = Connectors::from_mappings(vec![m]).expect_err("no password");
    assert!(matches!(err, Error::Secret { .. }));
    assert!(
        err.to_string()
            .contains("CUSTODE_TEST_SURELY_UNSET_VARIABLE"),
        "{err}"
    );
}

#[tokio::test]
async fn passwords_appear_in_no_error_debug_or_log() {
    let secret = "S3cret-Never-Shown";
    let dir = std::env::temp_dir().join(common::unique("pw"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("password");
    std::fs::write(&file, format!("{secret}\n")).expect("password file");
    // A port where nothing listens: every attempt fails.
    let source = GOOD.replace("127.0.0.1:5432", "127.0.0.1:9").replace(
        "password_env = \"CRM_PASSWORD\"",
        &format!("password_file = \"{}\"", file.display()),
    );
    let m = custode_connectors::load("crm.toml", &source, &common::policy()).expect("loads");
    let c = Connectors::from_mappings(vec![m])
        .expect("connectors")
        .with_retry(RetryPolicy {
            first_delay: std::time::Duration::from_millis(50),
            max_delay: std::time::Duration::from_millis(50),
            give_up_after: std::time::Duration::from_millis(200),
        });
    assert!(
        !format!("{c:?}").contains(secret),
        "Debug shows the password"
    );
    let r = c
        .access(&SubjectIdentifiers::new().email("a@example.com"))
        .await
        .expect("access");
    let Outcome::Pending(p) = &r.systems[0].outcome else {
        panic!("expected pending: {r:?}");
    };
    assert!(!p.last_error.contains(secret));
    assert!(!format!("{r:?}").contains(secret));

    // The scan is given a URL with a password: the draft and every error
    // leave it out.
    let url = format!("postgres://postgres:{secret}@127.0.0.1:9/test");
    let err = custode_connectors::scan(&url, &ScanOptions::default(), None)
        .await
        .expect_err("nothing listens");
    assert!(!err.to_string().contains(secret), "{err}");
    let bad = custode_connectors::scan(
        &format!("postgres://u:{secret}@host:notaport/db"),
        &ScanOptions::default(),
        None,
    )
    .await
    .expect_err("a bad URL");
    assert!(
        matches!(bad, Error::Url { .. } | Error::Database { .. }),
        "{bad:?}"
    );
    assert!(!bad.to_string().contains(secret), "{bad}");
    let scheme = custode_connectors::scan("oracle://u@h/db", &ScanOptions::default(), None)
        .await
        .expect_err("an unknown scheme");
    assert!(scheme.to_string().contains("postgres://"), "{scheme}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn redaction_removes_url_passwords_and_known_secrets() {
    let s = custode_connectors::Secret::new("topsecret");
    let text =
        "error connecting to mysql://root:topsecret@db:3306/x: the password topsecret is wrong";
    let out = custode_connectors::redact(text, &[&s]);
    assert!(!out.contains("topsecret"), "{out}");
    assert!(out.contains("mysql://root:***@db:3306/x"), "{out}");
    assert_eq!(format!("{s:?} {s}"), "*** ***");
    let query = custode_connectors::redact("postgres://h/db?password=abc&x=1 failed", &[]);
    assert_eq!(query, "postgres://h/db?password=***&x=1 failed");
}
