//! Access, erasure, rectification, outages and discovery against the real
//! PostgreSQL and MariaDB of this machine, each test in its own schema.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use custode_connectors::{
    Connectors, Correction, Engine, Outcome, ProblemKind, RetryPolicy, ScanOptions,
    SubjectIdentifiers,
};

/// Runs one async test body on both engines, as two tests.
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(custode_connectors::Engine::Postgres).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                super::$body(custode_connectors::Engine::MySql).await;
            }
        }
    };
}

fn connectors(db: &TestDb) -> Connectors {
    Connectors::from_mappings(vec![db.mapping(&policy())]).expect("connectors")
}

/// The ids each table holds for customer `c`, as the data were generated.
fn expected_ids(c: i64) -> BTreeMap<&'static str, Vec<String>> {
    let pick = |n: i64, owner: fn(i64) -> i64| {
        let mut v: Vec<String> = (1..=n)
            .filter(|j| owner(*j) == c)
            .map(|j| j.to_string())
            .collect();
        v.sort();
        v
    };
    BTreeMap::from([
        ("customers", vec![c.to_string()]),
        ("orders", pick(90, order_customer)),
        ("login_events", pick(150, login_customer)),
        ("tickets", pick(45, ticket_customer)),
    ])
}

fn ids_in(result: &custode_connectors::AccessResult) -> BTreeMap<String, Vec<String>> {
    result
        .tables()
        .map(|t| {
            assert_eq!(t.system, "app");
            assert_eq!(t.columns[0].name, "id", "the key comes first");
            let mut ids: Vec<String> = t.rows.iter().filter_map(|r| r[0].clone()).collect();
            ids.sort();
            (t.table.clone(), ids)
        })
        .collect()
}

async fn access_finds_exactly_the_subjects_rows(engine: Engine) {
    let db = TestDb::with_app(engine, "access").await;
    let c = connectors(&db);
    for subject in [3, 17] {
        let want: BTreeMap<String, Vec<String>> = expected_ids(subject)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert!(want["orders"].len() >= 2 && want["login_events"].len() >= 4);
        let by_email = c
            .access(&SubjectIdentifiers::new().email(email(subject)))
            .await
            .expect("access");
        assert!(by_email.is_complete(), "{by_email:?}");
        assert_eq!(ids_in(&by_email), want, "by email");
        // The same subject, found by phone and by the email in capitals.
        let by_phone = c
            .access(&SubjectIdentifiers::new().phone(phone(subject)))
            .await
            .expect("access");
        assert_eq!(ids_in(&by_phone), want, "by phone");
        let upper = c
            .access(&SubjectIdentifiers::new().email(email(subject).to_uppercase()))
            .await
            .expect("access");
        assert_eq!(ids_in(&upper), want, "by email in capitals");
    }
    // Values and categories come with the rows.
    let r = c
        .access(&SubjectIdentifiers::new().email(email(5)))
        .await
        .expect("access");
    let customers = r
        .tables()
        .find(|t| t.table == "customers")
        .expect("customers");
    let col = |name: &str| {
        customers
            .columns
            .iter()
            .position(|c| c.name == name)
            .expect(name)
    };
    assert_eq!(
        customers.rows[0][col("email")].as_deref(),
        Some(email(5).as_str())
    );
    assert_eq!(
        customers.rows[0][col("phone")].as_deref(),
        Some(phone(5).as_str())
    );
    assert_eq!(
        customers.columns[col("email")].category.as_deref(),
        Some("master_data")
    );
    assert_eq!(
        customers.columns[col("email")].field.as_deref(),
        Some("email")
    );
    let logins = r
        .tables()
        .find(|t| t.table == "login_events")
        .expect("logins");
    assert_eq!(logins.columns.len(), 3, "id, ip, at: not the link column");
    // Nobody: an empty answer, complete.
    let nobody = c
        .access(&SubjectIdentifiers::new().email("nobody@example.com"))
        .await
        .expect("access");
    assert!(nobody.is_complete() && nobody.tables().count() == 0);
    c.close().await;
    db.drop_schema().await;
}
on_both!(
    access_finds_exactly_the_subjects_rows_on,
    access_finds_exactly_the_subjects_rows
);

async fn erasure_leaves_only_what_is_kept_and_runs_once(engine: Engine) {
    let db = TestDb::with_app(engine, "erase").await;
    let c = connectors(&db);
    let subject = 7;
    let others_before = (
        db.dump("customers", &["id", "email", "name", "phone", "address"])
            .await,
        db.dump(
            "orders",
            &["id", "customer_id", "item", "amount", "shipping_address"],
        )
        .await,
        db.dump("login_events", &["id", "customer_id", "ip"]).await,
        db.dump("tickets", &["id", "customer_id", "subject", "body"])
            .await,
    );
    let want = expected_ids(subject);
    let subject_ips: Vec<String> = (1..=150)
        .filter(|j| login_customer(*j) == subject)
        .map(login_ip)
        .collect();

    // The plan, asked first, changes nothing and names what the erasure
    // will keep.
    let customers = ["id", "email", "name", "phone", "address"];
    let untouched = db.dump("customers", &customers).await;
    let plan = c
        .erasure_plan(&SubjectIdentifiers::new().email(email(subject)))
        .await
        .expect("plan");
    assert!(plan.is_complete(), "{plan:?}");
    assert_eq!(plan.changes(), 0);
    assert_eq!(db.dump("customers", &customers).await, untouched);

    let result = c
        .erase(&SubjectIdentifiers::new().email(email(subject)))
        .await
        .expect("erase");
    assert!(result.is_complete(), "{result:?}");
    let done = result.systems[0].outcome.done().expect("done");
    let kept_lines = |d: &custode_connectors::SystemErasure| {
        d.tables
            .iter()
            .map(|t| (t.table.clone(), t.kept.clone()))
            .collect::<Vec<_>>()
    };
    let planned = plan.systems[0].outcome.done().expect("planned");
    assert_eq!(kept_lines(planned), kept_lines(done));
    assert_eq!(planned.found_rows, done.found_rows);
    let table = |name: &str| done.tables.iter().find(|t| t.table == name).expect(name);
    assert_eq!(table("customers").updated, 1);
    assert_eq!(table("customers").deleted, 0);
    assert_eq!(table("orders").updated, want["orders"].len() as u64);
    assert_eq!(
        table("login_events").deleted,
        want["login_events"].len() as u64
    );
    assert_eq!(table("tickets").deleted, want["tickets"].len() as u64);
    let kept = &table("orders").kept;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].category, "billing");
    assert_eq!(
        kept[0].columns,
        vec!["item".to_owned(), "amount".to_owned()]
    );
    assert_eq!(kept[0].rows, want["orders"].len() as u64);
    assert!(kept[0].ground.contains("2220"));

    // No value of the subject is left but what is kept.
    let s = &db.schema;
    let customer = db
        .rows(&format!(
            "SELECT {}, name, {}, address FROM {s}.customers WHERE id = {subject}",
            db.text("email"),
            db.text("phone")
        ))
        .await;
    assert_eq!(
        customer,
        vec![vec![
            Some(format!("erased-{subject}@invalid.example")),
            Some("erased".into()),
            None,
            Some("erased".into())
        ]]
    );
    for (table, column, value) in [
        ("customers", "email", email(subject)),
        ("customers", "phone", phone(subject)),
        ("customers", "name", format!("Name {subject}")),
        ("customers", "address", format!("Via Roma {subject}, Prato")),
        (
            "orders",
            "shipping_address",
            format!("Via Roma {subject}, Prato"),
        ),
    ] {
        assert!(
            db.ids(table, &format!("{column} = '{value}'"))
                .await
                .is_empty(),
            "{table}.{column} still holds the subject's value"
        );
    }
    for ip in &subject_ips {
        assert!(
            db.ids("login_events", &format!("ip = '{ip}'"))
                .await
                .is_empty()
        );
    }
    assert!(
        db.ids("login_events", &format!("customer_id = {subject}"))
            .await
            .is_empty()
    );
    assert!(
        db.ids("tickets", &format!("customer_id = {subject}"))
            .await
            .is_empty()
    );
    // The orders stay, with their billing data, for the tax law.
    assert_eq!(
        db.ids("orders", &format!("customer_id = {subject}")).await,
        want["orders"]
    );

    // Everyone else is untouched.
    let not_subject =
        |rows: Vec<Vec<Option<String>>>, owner_col: usize| -> Vec<Vec<Option<String>>> {
            rows.into_iter()
                .filter(|r| r[owner_col].as_deref() != Some(subject.to_string().as_str()))
                .collect()
        };
    assert_eq!(
        not_subject(
            db.dump("customers", &["id", "email", "name", "phone", "address"])
                .await,
            0
        ),
        not_subject(others_before.0, 0)
    );
    assert_eq!(
        not_subject(
            db.dump(
                "orders",
                &["id", "customer_id", "item", "amount", "shipping_address"]
            )
            .await,
            1
        ),
        not_subject(others_before.1, 1)
    );
    assert_eq!(
        not_subject(
            db.dump("login_events", &["id", "customer_id", "ip"]).await,
            1
        ),
        not_subject(others_before.2, 1)
    );
    assert_eq!(
        not_subject(
            db.dump("tickets", &["id", "customer_id", "subject", "body"])
                .await,
            1
        ),
        not_subject(others_before.3, 1)
    );

    // A second run (a retry, or the same request again) changes nothing.
    let snapshot = db
        .dump("customers", &["id", "email", "name", "phone", "address"])
        .await;
    for ids in [
        SubjectIdentifiers::new().email(email(subject)),
        SubjectIdentifiers::new().phone(phone(subject)),
    ] {
        let again = c.erase(&ids).await.expect("erase again");
        assert!(again.is_complete());
        assert_eq!(again.changes(), 0, "{again:?}");
    }
    assert_eq!(
        db.dump("customers", &["id", "email", "name", "phone", "address"])
            .await,
        snapshot
    );
    c.close().await;
    db.drop_schema().await;
}
on_both!(
    erasure_leaves_only_what_is_kept_and_runs_once_on,
    erasure_leaves_only_what_is_kept_and_runs_once
);

async fn rectification_changes_the_field_once(engine: Engine) {
    let db = TestDb::with_app(engine, "rectify").await;
    let c = connectors(&db);
    let correction = Correction {
        category: "master_data".into(),
        field: "phone".into(),
        value: "+39 055 7654321".into(),
    };
    let ids = SubjectIdentifiers::new().email(email(4));
    let r = c.rectify(&ids, &correction).await.expect("rectify");
    let done = r.systems[0].outcome.done().expect("done");
    assert_eq!(done.len(), 1);
    assert_eq!(
        (
            done[0].table.as_str(),
            done[0].column.as_str(),
            done[0].changed
        ),
        ("customers", "phone", 1)
    );
    assert_eq!(
        db.ids("customers", "phone = '+39 055 7654321'").await,
        vec!["4".to_owned()]
    );
    let again = c.rectify(&ids, &correction).await.expect("rectify again");
    assert_eq!(again.systems[0].outcome.done().expect("done")[0].changed, 0);
    c.close().await;
    db.drop_schema().await;
}
on_both!(
    rectification_changes_the_field_once_on,
    rectification_changes_the_field_once
);

async fn a_database_that_goes_away_is_waited_for(engine: Engine) {
    let db = TestDb::with_app(engine, "outage").await;
    let proxy = Proxy::start(&Proxy::target_of(&db.url)).await;
    let source = db.systems_file_at(&proxy.url(&db.url));
    let policy = policy();
    let mapping = custode_connectors::load("app.toml", &source, &policy).expect("maps");
    let patient = Connectors::from_mappings(vec![mapping.clone()])
        .expect("connectors")
        .with_retry(RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            give_up_after: Duration::from_secs(120),
        });
    let impatient = Connectors::from_mappings(vec![mapping])
        .expect("connectors")
        .with_retry(RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(200),
            give_up_after: Duration::from_millis(500),
        });
    let subject = 11;
    let ids = SubjectIdentifiers::new().email(email(subject));
    // Both pools hold a live connection through the proxy.
    assert!(patient.access(&ids).await.expect("access").is_complete());
    assert!(impatient.access(&ids).await.expect("access").is_complete());
    let before = db.dump("login_events", &["id", "customer_id"]).await;

    proxy.stop().await;

    // Past its patience, a step is reported pending, and nothing is done.
    let gave_up = impatient.erase(&ids).await.expect("erase");
    assert!(!gave_up.is_complete());
    let Outcome::Pending(p) = &gave_up.systems[0].outcome else {
        panic!("expected pending, got {gave_up:?}");
    };
    assert_eq!((p.system.as_str(), p.operation), ("app", "erase"));
    assert!(p.attempts >= 1 && !p.last_error.is_empty());
    assert_eq!(gave_up.changes(), 0);
    assert_eq!(
        db.dump("login_events", &["id", "customer_id"]).await,
        before
    );
    assert!(
        impatient.pending().is_empty(),
        "a finished request leaves the board"
    );

    // A patient request waits, visibly, and ends correct once the database
    // is back.
    let waiting = {
        let patient = patient.clone();
        let ids = ids.clone();
        tokio::spawn(async move { patient.erase(&ids).await })
    };
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = patient.pending();
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.len(), 1, "the caller sees which system is pending");
    assert_eq!(seen[0].system, "app");
    assert_eq!(seen[0].operation, "erase");
    assert!(!waiting.is_finished());
    assert_eq!(
        db.dump("login_events", &["id", "customer_id"]).await,
        before,
        "nothing done while down"
    );

    proxy.restart().await;
    let result = tokio::time::timeout(Duration::from_secs(60), waiting)
        .await
        .expect("the request resumes")
        .expect("task")
        .expect("erase");
    assert!(result.is_complete(), "{result:?}");
    let done = result.systems[0].outcome.done().expect("done");
    let want = expected_ids(subject);
    let logins = done
        .tables
        .iter()
        .find(|t| t.table == "login_events")
        .expect("logins");
    assert_eq!(logins.deleted, want["login_events"].len() as u64);
    assert!(
        db.ids("login_events", &format!("customer_id = {subject}"))
            .await
            .is_empty()
    );
    assert!(patient.pending().is_empty());
    // And again, nothing more to do.
    assert_eq!(patient.erase(&ids).await.expect("erase").changes(), 0);
    patient.close().await;
    impatient.close().await;
    proxy.stop().await;
    db.drop_schema().await;
}
on_both!(
    a_database_that_goes_away_is_waited_for_on,
    a_database_that_goes_away_is_waited_for
);

async fn scan_drafts_a_mapping_that_validates_after_review(engine: Engine) {
    let db = TestDb::with_app(engine, "scan").await;
    let s = &db.schema;
    // Columns whose names say nothing, and Italian identifiers with
    // valid checksums (synthetic).
    db.exec(&format!(
        "CREATE TABLE {s}.extras(id bigint PRIMARY KEY, customer_id bigint, c1 varchar(255), c2 varchar(64), \
         c3 varchar(64), c4 varchar(32), c5 varchar(32), c6 varchar(64), \
         FOREIGN KEY (customer_id) REFERENCES {s}.customers(id))"
    ))
    .await;
    let mut values = Vec::new();
    for i in 1..=12i64 {
        let cf_body = format!("RSSMRA85T10A{:03}", 100 + i);
        let cf = format!(
            "{cf_body}{}",
            custode_connectors::codice_fiscale_check(&cf_body).expect("check letter")
        );
        values.push(format!(
            "({i}, {i}, 'contact{i}@example.com', '+39 055 {:07}', '192.0.2.{i}', '{cf}', '{}', 'opaque {i}')",
            900 + i,
            partita_iva(1000000 + i)
        ));
    }
    db.exec(&format!(
        "INSERT INTO {s}.extras VALUES {}",
        values.join(", ")
    ))
    .await;

    let policy = policy();
    let options = ScanOptions {
        system_id: "app".into(),
        schema: Some(db.schema.clone()),
        password_env: "APP_DB_PASSWORD".into(),
        ..ScanOptions::default()
    };
    let report = custode_connectors::scan(&db.url, &options, Some(&policy))
        .await
        .expect("scan");
    let draft = report.toml;
    assert_eq!(report.tables_seen, 5);
    assert_eq!(report.tables_mapped, 5, "{draft}");
    // Found from values where names say nothing.
    for line in [
        "c1 = \"master_data.email\"",
        "c2 = \"master_data.phone\"",
        "c3 = \"network.assigned_ip\"",
        "c4 = \"master_data.tax_code\"",
        "c5 = \"master_data.vat_number\"",
        "ip = \"network.assigned_ip\"",
        "email = \"master_data.email\"",
    ] {
        assert!(draft.contains(line), "the draft lacks `{line}`:\n{draft}");
    }
    assert!(
        !draft.contains("c6 ="),
        "opaque text is not guessed:\n{draft}"
    );
    assert!(
        draft.contains("identifiers = { email = \"email\", phone = \"phone\" }"),
        "{draft}"
    );
    assert!(draft.contains(
        "parents = [{ table = \"customers\", column = \"customer_id\", references = \"id\" }]"
    ));

    // Never applied silently: the draft is refused until reviewed.
    let err = custode_connectors::load("draft.toml", &draft, &policy).expect_err("a draft");
    assert!(
        err.problems().iter().any(|p| p.kind == ProblemKind::Draft),
        "{}",
        err.to_short_lines()
    );
    assert_eq!(err.problems().len(), 1, "{}", err.to_short_lines());
    // Reviewed: the reviewer deletes the draft line.
    let reviewed: String = draft
        .lines()
        .filter(|l| *l != "draft = true")
        .map(|l| format!("{l}\n"))
        .collect();
    let mapping = custode_connectors::load("reviewed.toml", &reviewed, &policy)
        .unwrap_or_else(|e| panic!("{}\n{reviewed}", e.to_short_lines()));
    assert_eq!(mapping.tables.len(), 5);
    // And it works: access through it finds the subject's rows.
    let c = Connectors::from_mappings(vec![{
        let mut m = mapping;
        m.password = custode_connectors::PasswordSource::None;
        m
    }])
    .expect("connectors");
    let r = c
        .access(&SubjectIdentifiers::new().email(email(2)))
        .await
        .expect("access");
    assert!(r.is_complete(), "{r:?}");
    let extras = r.tables().find(|t| t.table == "extras").expect("extras");
    assert_eq!(extras.rows.len(), 1);
    c.close().await;
    db.drop_schema().await;
}
on_both!(
    scan_drafts_a_mapping_that_validates_after_review_on,
    scan_drafts_a_mapping_that_validates_after_review
);

/// A partita IVA with its check digit, from a 10-digit body.
fn partita_iva(body: i64) -> String {
    let digits: Vec<u32> = format!("{body:010}")
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let mut sum = 0;
    for (i, d) in digits.iter().enumerate() {
        sum += if i % 2 == 0 {
            *d
        } else {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        };
    }
    let check = (10 - sum % 10) % 10;
    let out = format!("{body:010}{check}");
    assert!(custode_connectors::is_partita_iva(&out));
    out
}

async fn a_mapping_the_database_contradicts_fails_at_once(engine: Engine) {
    let db = TestDb::with_app(engine, "failed").await;
    let source = db.systems_file().replace(
        "at = \"net_traffic.session_time\"",
        "seen_at = \"net_traffic.session_time\"",
    );
    let mapping =
        custode_connectors::load("app.toml", &source, &policy()).expect("the file alone is fine");
    let c = Connectors::from_mappings(vec![mapping]).expect("connectors");
    let start = std::time::Instant::now();
    let r = c
        .erase(&SubjectIdentifiers::new().email(email(2)))
        .await
        .expect("erase");
    let Outcome::Failed(message) = &r.systems[0].outcome else {
        panic!("expected failed: {r:?}");
    };
    assert!(
        message.contains("seen_at") && message.contains("login_events"),
        "{message}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "no waiting for what waiting cannot fix"
    );
    assert!(!r.is_complete());
    // Nothing was touched.
    assert_eq!(
        db.ids("customers", &format!("email = '{}'", email(2)))
            .await,
        vec!["2".to_owned()]
    );
    c.close().await;
    db.drop_schema().await;
}
on_both!(
    a_mapping_the_database_contradicts_fails_at_once_on,
    a_mapping_the_database_contradicts_fails_at_once
);

/// The connection dies while the erasure's transaction is open (held there,
/// deterministically, by a row lock): what it had done is rolled back by
/// the database, the step waits visibly, and the retry does it all once the
/// database is back.
async fn a_database_lost_mid_transaction_is_retried_whole(engine: Engine) {
    let db = TestDb::with_app(engine, "midtx").await;
    let proxy = Proxy::start(&Proxy::target_of(&db.url)).await;
    let source = db.systems_file_at(&proxy.url(&db.url));
    let mapping = custode_connectors::load("app.toml", &source, &policy()).expect("maps");
    let c = Connectors::from_mappings(vec![mapping])
        .expect("connectors")
        .with_retry(RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            give_up_after: Duration::from_secs(120),
        });
    let subject = 13;
    let want = expected_ids(subject);
    let ids = SubjectIdentifiers::new().email(email(subject));
    let logins_before = db
        .ids("login_events", &format!("customer_id = {subject}"))
        .await;
    assert_eq!(logins_before, want["login_events"]);

    // The customer row is locked: the erasure deletes the children, then
    // waits on the customer inside its transaction.
    let lock = db.lock_row("customers", subject).await;
    let running = {
        let c = c.clone();
        let ids = ids.clone();
        tokio::spawn(async move { c.erase(&ids).await })
    };
    let mut waits = 0;
    for _ in 0..400 {
        waits = db.lock_waits().await;
        if waits > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(waits, 1, "the erasure waits on the lock, mid-transaction");

    // The database goes away now; then the lock is released.
    proxy.stop().await;
    lock.release().await;
    let mut seen = Vec::new();
    for _ in 0..400 {
        seen = c.pending();
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen.len(), 1, "pending, with the reason: {seen:?}");
    assert!(!running.is_finished());
    // The half-done transaction left nothing behind.
    let mut rolled_back = Vec::new();
    for _ in 0..200 {
        rolled_back = db
            .ids("login_events", &format!("customer_id = {subject}"))
            .await;
        if rolled_back == logins_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        rolled_back, logins_before,
        "the database rolled the deletes back"
    );

    proxy.restart().await;
    let result = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the request resumes")
        .expect("task")
        .expect("erase");
    assert!(result.is_complete(), "{result:?}");
    let done = result.systems[0].outcome.done().expect("done");
    let table = |name: &str| done.tables.iter().find(|t| t.table == name).expect(name);
    assert_eq!(
        table("login_events").deleted,
        want["login_events"].len() as u64
    );
    assert_eq!(table("tickets").deleted, want["tickets"].len() as u64);
    assert_eq!(table("customers").updated, 1);
    assert!(
        db.ids("login_events", &format!("customer_id = {subject}"))
            .await
            .is_empty()
    );
    assert!(
        db.ids("customers", &format!("email = '{}'", email(subject)))
            .await
            .is_empty()
    );
    assert_eq!(c.erase(&ids).await.expect("again").changes(), 0);
    c.close().await;
    proxy.stop().await;
    db.drop_schema().await;
}
on_both!(
    a_database_lost_mid_transaction_is_retried_whole_on,
    a_database_lost_mid_transaction_is_retried_whole
);
