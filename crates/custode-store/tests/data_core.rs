//! The data core's promises, each shown on SQLite and on PostgreSQL.

use custode_domain::{Role, SubjectId};
use custode_policy::IdentifierKind;
use custode_store::{Engine, StoreError};
use custode_testkit::*;

async fn new_user(app: &Custode, tree: &Tree) -> SubjectId {
    app.store
        .create_subject(&admin(), &tree.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject")
}

/// A new user with one contact record.
async fn user_with_contact(app: &Custode, tree: &Tree, email: &str) -> SubjectId {
    let s = new_user(app, tree).await;
    app.store
        .write_records(
            &admin(),
            "signup",
            vec![(s.clone(), contact(email, "+39 1"))],
        )
        .await
        .expect("write");
    s
}

on_both_engines!(records_round_trip_and_are_found_by_identifier);
async fn records_round_trip_and_are_found_by_identifier(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = new_user(&app, &t).await;
    let n = app
        .store
        .write_records(
            &admin(),
            "signup",
            vec![(
                s.clone(),
                contact("Anna.Verdi@Example.com", "+39 055 111 2222"),
            )],
        )
        .await
        .expect("write");
    assert_eq!(n, 1);
    let records = app
        .store
        .records(&admin(), &s, "support ticket 17")
        .await
        .expect("read");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].fields["email"], "Anna.Verdi@Example.com");
    assert_eq!(
        records[0].purposes,
        ["service", "support", "authority_requests"]
    );
    // Event rules (account closed + N days) leave the end open.
    assert_eq!(records[0].retain_until, None);
    let found = app
        .finder
        .find_subjects(&admin(), IdentifierKind::Email, "  anna.verdi@example.COM ")
        .await
        .expect("find");
    assert_eq!(found, std::slice::from_ref(&s));
    let found = app
        .finder
        .find_subjects(&admin(), IdentifierKind::Phone, "0039055 1112222")
        .await
        .expect("find");
    assert_eq!(found, std::slice::from_ref(&s));
    // The read was audited with reader and reason.
    let log = app.store.audit_of_subject(&s, 10).await.expect("audit");
    let last = log[0].fields();
    assert_eq!(last.action, "records.read");
    assert_eq!(last.actor, "user:admin");
    assert_eq!(last.reason.as_deref(), Some("support ticket 17"));
    app.close().await;
}

on_both_engines!(no_personal_value_is_stored_in_clear);
async fn no_personal_value_is_stored_in_clear(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let markers = [
        "zq-marker-7f3a@example.org",
        "+39 055 9876 5432",
        "Marker Surname Qx",
    ];
    let s = new_user(&app, &t).await;
    let mut record = contact(markers[0], markers[1]);
    record
        .fields
        .insert("name".into(), serde_json::Value::from(markers[2]));
    app.store
        .write_records(&admin(), "signup", vec![(s.clone(), record)])
        .await
        .expect("write");
    app.store
        .records(&admin(), &s, "check")
        .await
        .expect("read");
    app.store.audit_checkpoint().await.expect("checkpoint");
    app.close().await;
    let haystack: Vec<u8> = match env.engine {
        Engine::Sqlite => {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(&env.dir).expect("dir").flatten() {
                all.extend(std::fs::read(entry.path()).expect("file"));
            }
            assert!(all.len() > 10_000, "the database files were read");
            all
        }
        Engine::Postgres => {
            let (main, keys) = env.schemas.clone().expect("schemas");
            let out = std::process::Command::new("pg_dump")
                .args(["--no-owner", "-n", &main, "-n", &keys, &postgres_url()])
                .output()
                .expect("pg_dump runs");
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("audit_log"),
                "the dump holds the tables"
            );
            out.stdout
        }
    };
    let text = String::from_utf8_lossy(&haystack).to_lowercase();
    for m in markers {
        for form in [m.to_lowercase(), m.replace(' ', "").to_lowercase()] {
            assert!(
                !text.contains(&form),
                "`{m}` appears in clear in the database"
            );
        }
    }
}

/// A copy of the main database, as a backup would hold it.
async fn backup(env: &Env, app: &Custode) -> custode_store::StoreConfig {
    let mut copy = env.config.clone();
    match env.engine {
        Engine::Sqlite => {
            let path = env.dir.join("backup.db");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "VACUUM INTO '{}'",
                path.display()
            )))
            .execute(app.store.pool())
            .await
            .expect("vacuum into");
            copy.database_url = format!("sqlite://{}", path.display());
        }
        Engine::Postgres => {
            let (main, _) = env.schemas.clone().expect("schemas");
            let dump = std::process::Command::new("pg_dump")
                .args(["--no-owner", "-n", &main, &postgres_url()])
                .output()
                .expect("pg_dump");
            assert!(dump.status.success());
            let target = format!("{main}_bak");
            let sql = String::from_utf8_lossy(&dump.stdout).replace(&main, &target);
            let mut psql = std::process::Command::new("psql")
                .args(["-q", "-v", "ON_ERROR_STOP=1", &postgres_url()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("psql");
            use std::io::Write;
            psql.stdin
                .take()
                .expect("stdin")
                .write_all(sql.as_bytes())
                .expect("restore");
            assert!(psql.wait().expect("psql").success());
            copy.database_url = copy.database_url.replace(&main, &target);
        }
    }
    copy
}

on_both_engines!(erasing_a_subject_makes_every_copy_unreadable);
async fn erasing_a_subject_makes_every_copy_unreadable(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let erased = new_user(&app, &t).await;
    let kept = new_user(&app, &t).await;
    app.store
        .write_records(
            &admin(),
            "import",
            vec![
                (erased.clone(), contact("gone@example.org", "+39 1")),
                (kept.clone(), contact("stays@example.org", "+39 2")),
            ],
        )
        .await
        .expect("write");
    let copy = backup(env, &app).await;
    app.store
        .erase_subject(&admin(), &erased, "erasure request r-9")
        .await
        .expect("erase");
    assert!(matches!(
        app.store.records(&admin(), &erased, "x").await,
        Err(StoreError::Erased(_))
    ));
    assert!(
        app.finder
            .find_subjects(&admin(), IdentifierKind::Email, "gone@example.org")
            .await
            .expect("find")
            .is_empty()
    );
    app.close().await;

    // The old copy still holds the sealed records and does not know of the
    // erasure, but the key store no longer holds the key.
    let old = custode_store::Store::open(
        &copy,
        custode_testkit::SCHEMA,
        Env::policy(),
        env.clock.clone(),
    )
    .await
    .expect("copy opens");
    match old.records(&admin(), &erased, "forensics").await {
        Err(StoreError::Erased(_)) => {}
        other => panic!("the erased subject's records must not open from a backup: {other:?}"),
    }
    let records = old
        .records(&admin(), &kept, "restore")
        .await
        .expect("other subjects stay readable");
    assert_eq!(records[0].fields["email"], "stays@example.org");
    old.close().await;
    if let (Engine::Postgres, Some((main, _))) = (env.engine, &env.schemas) {
        let admin_pool = sqlx::PgPool::connect(&postgres_url()).await.expect("pg");
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {main}_bak CASCADE"
        )))
        .execute(&admin_pool)
        .await;
    }
}

on_both_engines!(a_principal_sees_only_its_scope);
async fn a_principal_sees_only_its_scope(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let a = admin();
    let in_a = app
        .store
        .create_subject(&a, &t.domain_a.id, "mailbox_user", "x")
        .await
        .expect("a");
    let in_b = app
        .store
        .create_subject(&a, &t.domain_b.id, "mailbox_user", "x")
        .await
        .expect("b");
    let direct = app
        .store
        .create_subject(&a, &t.direct.id, "mailbox_user", "x")
        .await
        .expect("direct");
    app.store
        .write_records(
            &a,
            "x",
            vec![(in_b.clone(), contact("b@b.example", "+39 3"))],
        )
        .await
        .expect("write");

    let domain_a = principal_of(&t.domain_a, Role::DomainAdmin);
    assert!(matches!(
        app.store.records(&domain_a, &in_b, "peek").await,
        Err(StoreError::NotFound { .. })
    ));
    let listed: Vec<_> = app
        .store
        .subjects(&domain_a, None, 100)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&in_a));
    assert_eq!(app.store.count_subjects(&domain_a).await.expect("count"), 1);
    assert!(
        app.finder
            .find_subjects(&domain_a, IdentifierKind::Email, "b@b.example")
            .await
            .expect("find")
            .is_empty()
    );
    assert!(
        app.store
            .erase_subject(&domain_a, &in_b, "x")
            .await
            .is_err()
    );
    assert!(
        app.store
            .write_records(
                &domain_a,
                "x",
                vec![(in_b.clone(), contact("x@x.example", "+1"))]
            )
            .await
            .is_err()
    );

    let reseller = principal_of(&t.reseller, Role::ResellerAdmin);
    let mut seen: Vec<_> = app
        .store
        .subjects(&reseller, None, 100)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    seen.sort();
    let mut expected = vec![in_a.clone(), in_b.clone()];
    expected.sort();
    assert_eq!(
        seen, expected,
        "a reseller sees its domains, not the provider's direct customers"
    );
    assert_eq!(app.store.count_subjects(&reseller).await.expect("count"), 2);
    assert!(matches!(
        app.store.records(&reseller, &direct, "peek").await,
        Err(StoreError::NotFound { .. })
    ));

    // A data subject sees only itself.
    let me = custode_domain::Principal {
        id: "subject:self".into(),
        role: Role::Subject,
        scope: custode_domain::Scope::subject(&t.domain_b.path, in_b.clone()),
    };
    assert_eq!(app.store.count_subjects(&me).await.expect("count"), 1);
    assert!(app.store.records(&me, &in_b, "my data").await.is_ok());

    // Every refusal is in the audit log.
    let denied = app.store.audit_of_subject(&in_b, 50).await.expect("audit");
    assert!(
        denied
            .iter()
            .filter(|e| e.fields().action == "access.denied")
            .count()
            >= 3
    );
    app.close().await;
}

on_both_engines!(records_the_policy_does_not_declare_are_refused_whole);
async fn records_the_policy_does_not_declare_are_refused_whole(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = new_user(&app, &t).await;
    let mut batch: Vec<_> = (0..700)
        .map(|i| (s.clone(), contact(&format!("u{i}@example.org"), "+39 4")))
        .collect();
    let mut bad = contact("x@example.org", "+39 5");
    bad.fields
        .insert("shoe_size".into(), serde_json::Value::from(42));
    batch.insert(650, (s.clone(), bad));
    let err = app
        .store
        .write_records(&admin(), "import", batch)
        .await
        .expect_err("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("record 650")
            && msg.contains("shoe_size")
            && msg.contains("nothing of the batch was written"),
        "{msg}"
    );

    let mut unknown = contact("y@example.org", "+39 6");
    unknown.category = "biometrics".into();
    let err = app
        .store
        .write_records(&admin(), "import", vec![(s.clone(), unknown)])
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("category `biometrics` is not declared"),
        "{err}"
    );
    assert!(
        app.store
            .records(&admin(), &s, "check")
            .await
            .expect("read")
            .is_empty()
    );
    app.close().await;
}

on_both_engines!(a_failure_midway_leaves_nothing_half_written);
async fn a_failure_midway_leaves_nothing_half_written(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = new_user(&app, &t).await;
    let before = app.vault.audit_verify().await.expect("verify").last_seq;
    // Inject a failure after the records are inserted: the identifier
    // insert of the same transaction aborts.
    let trigger = match env.engine {
        Engine::Sqlite => vec![
            "CREATE TRIGGER fail_phone BEFORE INSERT ON identifiers WHEN NEW.kind = 'phone' BEGIN SELECT RAISE(ABORT, 'injected failure'); END".to_owned(),
        ],
        Engine::Postgres => vec![
            "CREATE FUNCTION fail_phone() RETURNS trigger AS $$ BEGIN IF NEW.kind = 'phone' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql".to_owned(),
            "CREATE TRIGGER fail_phone BEFORE INSERT ON identifiers FOR EACH ROW EXECUTE FUNCTION fail_phone()".to_owned(),
        ],
    };
    for sql in trigger {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(app.store.pool())
            .await
            .expect("trigger");
    }
    let batch: Vec<_> = (0..1200)
        .map(|i| (s.clone(), contact(&format!("u{i}@example.org"), "+39 7")))
        .collect();
    let err = app
        .store
        .write_records(&admin(), "import", batch)
        .await
        .expect_err("injected");
    assert!(err.to_string().contains("injected failure"), "{err}");
    let count: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM records")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    );
    assert_eq!(count, 0, "no record of the failed batch remains");
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(report.is_intact());
    assert_eq!(
        report.last_seq, before,
        "no audit entry for a change that did not happen"
    );
    app.close().await;
}

on_both_engines!(audit_verify_names_each_break);
async fn audit_verify_names_each_break(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    for _ in 0..10 {
        new_user(&app, &t).await;
    }
    app.store.audit_checkpoint().await.expect("checkpoint");
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.last_seq, 15, "5 tenants and 10 subjects");
    let pool = app.store.pool();
    let exec = |sql: &'static str| async move {
        sqlx::raw_sql(sql).execute(pool).await.expect(sql);
    };
    // One changed byte in entry 3.
    exec("UPDATE audit_log SET body = replace(body, 'user:admin', 'user:admiN') WHERE seq = 3")
        .await;
    // Entry 7 deleted.
    exec("DELETE FROM audit_log WHERE seq = 7").await;
    // Entries 10 and 11 swapped.
    exec("UPDATE audit_log SET seq = -10 WHERE seq = 10").await;
    exec("UPDATE audit_log SET seq = 10 WHERE seq = 11").await;
    exec("UPDATE audit_log SET seq = 11 WHERE seq = -10").await;
    let report = app.vault.audit_verify().await.expect("verify");
    let names: Vec<String> = report.breaks.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "entry 3 was altered: its content does not match its hash",
            "entry 7 is missing",
            "entry 10 is out of order: it belongs at position 11",
            "entry 11 is out of order: it belongs at position 10",
        ]
    );
    // Cutting off the tail is caught by the signed checkpoint.
    exec("DELETE FROM audit_log WHERE seq >= 14").await;
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(
        report
            .breaks
            .iter()
            .any(|b| b.to_string().contains("cut off")),
        "{:?}",
        report.breaks
    );
    app.close().await;
}

on_both_engines!(master_key_rotation_keeps_every_record_readable);
async fn master_key_rotation_keeps_every_record_readable(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = new_user(&app, &t).await;
    app.store
        .write_records(
            &admin(),
            "x",
            vec![(s.clone(), contact("rot@example.org", "+39 8"))],
        )
        .await
        .expect("write");
    app.close().await;
    // A master key given directly (environment) is rotated where it is kept.
    let mut kernel = env.open_kernel().await;
    let new = custode_crypto::Key::generate().expect("random");
    assert!(
        kernel
            .rotate_master_key(&admin(), new.clone())
            .await
            .is_err()
    );
    kernel.close().await;

    // Through the key file, rotation re-wraps every key and survives a restart.
    let custode_store::MasterKeySource::Given(current) = &env.config.master_key else {
        panic!("tests give the key directly");
    };
    let key_path = env.dir.join("master.key");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .expect("key file");
        writeln!(f, "{}", current.to_hex()).expect("write key");
    }
    let mut config = env.config.clone();
    config.master_key = custode_store::MasterKeySource::File(key_path.clone());
    let mut app = custode_store::Store::open(
        &config,
        custode_testkit::SCHEMA,
        Env::policy(),
        env.clock.clone(),
    )
    .await
    .expect("open");
    let fp = app.master_fingerprint();
    assert_eq!(
        app.rotate_master_key(&admin(), new.clone())
            .await
            .expect("rotate"),
        1,
        "one subject key re-wrapped"
    );
    assert_eq!(app.master_fingerprint(), new.fingerprint());
    assert_ne!(fp, new.fingerprint());
    app.close().await;
    assert!(
        !env.dir.join("master.key.next").exists(),
        "the staged key was promoted"
    );
    assert_eq!(
        custode_crypto::Key::from_hex(&std::fs::read_to_string(&key_path).expect("read"))
            .expect("hex"),
        new
    );
    let app = Custode::open(&config, Env::policy(), env.clock.clone())
        .await
        .expect("reopen with the new key");
    assert_eq!(
        app.store.records(&admin(), &s, "x").await.expect("read")[0].fields["email"],
        "rot@example.org"
    );
    let log = app.vault.audit_verify().await.expect("verify");
    assert!(log.is_intact());
    app.close().await;
    // The old key no longer opens the key store.
    match custode_store::Store::open(
        &env.config,
        custode_testkit::SCHEMA,
        Env::policy(),
        env.clock.clone(),
    )
    .await
    {
        Err(StoreError::WrongMasterKey { .. }) => {}
        other => panic!("the retired key must not open the store: {:?}", other.err()),
    }
}

on_both_engines!(the_wrong_master_key_is_refused);
async fn the_wrong_master_key_is_refused(env: &Env) {
    env.open().await.close().await;
    let mut wrong = env.config.clone();
    wrong.master_key =
        custode_store::MasterKeySource::Given(custode_crypto::Key::generate().expect("random"));
    match custode_store::Store::open(
        &wrong,
        custode_testkit::SCHEMA,
        Env::policy(),
        env.clock.clone(),
    )
    .await
    {
        Err(StoreError::WrongMasterKey { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a wrong master key must not open the store"),
    }
}

on_both_engines!(concurrent_reads_are_each_audited_by_the_group_commit);
/// Reads that arrive together share one audit commit; each still has its
/// own entry, durable before its data are returned, and when the commit
/// fails every read of the group fails and returns nothing.
async fn concurrent_reads_are_each_audited_by_the_group_commit(env: &Env) {
    let app = std::sync::Arc::new(env.open().await);
    let t = tree(&app).await;
    let s = user_with_contact(&app, &t, "group@example.org").await;
    const N: usize = 64;
    let mut reads = tokio::task::JoinSet::new();
    for i in 0..N {
        let (app, s) = (app.clone(), s.clone());
        reads.spawn(async move {
            app.store
                .records(&admin(), &s, &format!("ticket {i}"))
                .await
        });
    }
    while let Some(read) = reads.join_next().await {
        assert_eq!(read.expect("task").expect("read").len(), 1);
    }
    let log = app.store.audit_of_subject(&s, 1000).await.expect("audit");
    let mut reasons: Vec<String> = log
        .iter()
        .map(|e| e.fields())
        .filter(|f| f.action == "records.read")
        .filter_map(|f| f.reason)
        .collect();
    reasons.sort();
    let mut expected: Vec<String> = (0..N).map(|i| format!("ticket {i}")).collect();
    expected.sort();
    assert_eq!(reasons, expected, "one entry per read, with its reason");
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.breaks);
    let before = report.last_seq;

    // Every audit entry of a read now fails to insert: each read of the
    // group must fail, and none may return data.
    let trigger = match env.engine {
        Engine::Sqlite => vec![
            "CREATE TRIGGER fail_reads BEFORE INSERT ON audit_log WHEN NEW.body LIKE '%records.read%' BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END".to_owned(),
        ],
        Engine::Postgres => vec![
            "CREATE FUNCTION fail_reads() RETURNS trigger AS $$ BEGIN IF NEW.body LIKE '%records.read%' THEN RAISE EXCEPTION 'injected audit failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql".to_owned(),
            "CREATE TRIGGER fail_reads BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_reads()".to_owned(),
        ],
    };
    for sql in trigger {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(app.store.pool())
            .await
            .expect("trigger");
    }
    let mut reads = tokio::task::JoinSet::new();
    for i in 0..N {
        let (app, s) = (app.clone(), s.clone());
        reads.spawn(async move {
            app.store
                .records(&admin(), &s, &format!("doomed {i}"))
                .await
        });
    }
    while let Some(read) = reads.join_next().await {
        let err = read
            .expect("task")
            .expect_err("no data without its audit entry");
        assert!(matches!(err, StoreError::AuditFailed(_)), "{err}");
    }
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.last_seq, before, "no entry of the failed group");
    if let Ok(app) = std::sync::Arc::try_unwrap(app) {
        app.close().await;
    }
}

/// A steady stream of audited reads keeps SQLite's WAL short: the group
/// commit checkpoints it beside the commits and lets it start over, rather
/// than letting it grow to SQLite's own threshold (64 MiB) and making one
/// read wait for the whole copy. Nothing is lost on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audited_reads_keep_the_sqlite_log_short() {
    let env = Env::new(custode_store::Engine::Sqlite).await;
    let app = env.open().await;
    let t = tree(&app).await;
    let s = user_with_contact(&app, &t, "wal@example.org").await;
    let wal = env.dir.join("custode.db-wal");
    let before = app.vault.audit_verify().await.expect("verify").last_seq;
    // One read at a time: each is a group commit of its own, three or
    // four WAL pages, so 3,000 of them would make a log of 40 MiB.
    const READS: i64 = 3_000;
    let mut largest = 0;
    for i in 0..READS {
        let read = app
            .store
            .records(&admin(), &s, &format!("ticket {i}"))
            .await;
        assert_eq!(read.expect("read").len(), 1);
        largest = largest.max(std::fs::metadata(&wal).expect("the WAL").len());
    }
    assert!(
        largest < 8 << 20,
        "the WAL grew to {largest} bytes over {READS} audited reads"
    );
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.last_seq, before + READS, "every read has its entry");
    app.close().await;
    env.cleanup().await;
}

on_both_engines!(personal_data_tokens_come_from_the_console_with_a_holder);
/// Issue "Every promise kept", item 4: the administrator's own identity
/// cannot issue a token that reads personal data (refused and audited);
/// the console issues it to a named holder, and the list shows holder,
/// issuer and last use.
async fn personal_data_tokens_come_from_the_console_with_a_holder(env: &Env) {
    use custode_domain::Principal;
    let app = env.open().await;
    let grant = |role| custode_accounts::Grant {
        role,
        scope_path: "/".into(),
        subject: None,
    };
    let denied = || async {
        sqlx::Row::get::<i64, _>(
            &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
                .fetch_one(app.store.pool())
                .await
                .expect("count"),
            0,
        )
    };
    let before = denied().await;
    for role in [
        Role::Dpo,
        Role::SupportAgent,
        Role::LegalOfficer,
        Role::System,
    ] {
        let e = app
            .accounts
            .issue_token(&admin(), "mine", &grant(role), None)
            .await
            .expect_err("refused");
        assert!(matches!(e, StoreError::Forbidden(_)), "{e}");
    }
    assert_eq!(denied().await - before, 4, "each refusal is audited");
    app.accounts
        .issue_token(&admin(), "deputy", &grant(Role::Administrator), None)
        .await
        .expect("an administrator's token reads no personal data");
    let operator = Principal {
        id: "cli:operator".into(),
        role: Role::Administrator,
        scope: custode_domain::Scope::everything(),
    };
    let held = app
        .accounts
        .issue_held_token(&operator, "laptop", " Dora Rossi ", &grant(Role::Dpo), None)
        .await
        .expect("issued at the console");
    app.accounts
        .authenticate_token(&held.token)
        .await
        .expect("the token works");
    let list = app.accounts.list_tokens(&admin()).await.expect("list");
    assert_eq!(list.len(), 2);
    let t = list.iter().find(|t| t.id == held.id).expect("listed");
    assert_eq!(t.holder.as_deref(), Some("Dora Rossi"));
    assert_eq!(t.role, "dpo");
    assert_eq!(t.issued_by, "cli:operator");
    assert!(t.last_used_at.is_some(), "its use is recorded");
    assert!(t.revoked_at.is_none());
    let granted: String = sqlx::Row::get(
        &sqlx::query(
            "SELECT body FROM audit_log WHERE action = 'access.granted' ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(app.store.pool())
        .await
        .expect("entry"),
        0,
    );
    assert!(
        granted.contains("Dora Rossi") && granted.contains("cli:operator"),
        "the audit names issuer and holder: {granted}"
    );
    app.close().await;
}

/// After a bulk import the planner knows the tables' sizes: PostgreSQL
/// without them scanned every subject in scope for a find by e-mail
/// (seconds at 1 M subjects, with autovacuum off or not yet run).
#[tokio::test]
async fn postgres_statistics_are_refreshed_after_a_bulk_write() {
    let env = Env::new(Engine::Postgres).await;
    let app = env.open().await;
    let tree = tree(&app).await;
    for i in 0..50 {
        user_with_contact(&app, &tree, &format!("user{i}@example.org")).await;
    }
    let known = || async {
        sqlx::query_scalar::<_, f32>(
            "SELECT reltuples FROM pg_class WHERE relname = 'identifiers' \
             AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
        )
        .fetch_one(app.store.pool())
        .await
        .expect("pg_class")
    };
    assert!(known().await < 50.0, "not analysed yet");
    app.store.refresh_statistics().await.expect("analyse");
    assert!(known().await >= 50.0, "the planner knows the identifiers");
    app.store.close().await;
    env.cleanup().await;
}
