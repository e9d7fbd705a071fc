//! Erasure keeps its promises (issue "Every promise kept"): a partial
//! erasure makes every earlier copy of the erased records unreadable at
//! once, restricts what it keeps to its ground, answers `erased` to every
//! decision but that ground's, and refuses new data — on SQLite and
//! PostgreSQL.

use custode_domain::requests::Right;
use custode_domain::{Principal, Role, SubjectId};
use custode_requests::{DocumentKind, FulfilmentInput, NewRequest, Requester};
use custode_store::{ErasureState, StoreConfig, StoreError};
use custode_testkit::*;
use sqlx::Row;

/// A mailbox user with a record of each category the email-hosting policy
/// gives it: an erasure keeps `contact` (authority requests) and `billing`,
/// vaults `usage`, and erases `credentials` and `mail`.
async fn mailbox_user(app: &Custode, t: &Tree) -> SubjectId {
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject");
    let policy = app.store.policy();
    let batch = ["contact", "credentials", "usage", "billing", "mail"]
        .iter()
        .map(|category| {
            let c = policy.category(category).expect("category");
            let fields = c
                .fields
                .iter()
                .map(|f| {
                    let v = match f.identifier {
                        Some(custode_policy::IdentifierKind::Email) => "erase.me@example.org",
                        Some(custode_policy::IdentifierKind::IpAddress) => "192.0.2.9",
                        Some(custode_policy::IdentifierKind::Phone) => "+39 055 000 1111",
                        _ => "synthetic value",
                    };
                    (f.id.value.clone(), serde_json::Value::from(v))
                })
                .collect();
            (
                s.clone(),
                custode_domain::NewRecord {
                    category: (*category).to_owned(),
                    fields,
                    source: "test".into(),
                    purposes: vec![],
                    collected_at: None,
                },
            )
        })
        .collect();
    app.store
        .write_records(&Principal::system("test"), "signup", batch)
        .await
        .expect("write");
    s
}

/// Files an erasure request for `s` as the DPO and approves the ID.
async fn erasure_request(app: &Custode, dpo: &Principal, s: &SubjectId) -> String {
    let filed = app
        .requests
        .file_request(
            dpo,
            NewRequest {
                subject: s.clone(),
                rights: vec![Right::Erasure],
                requester: Requester::Subject,
                contact: "anna.verdi@example.org".into(),
                text: "Cancellate i miei dati.".into(),
                language: None,
            },
        )
        .await
        .expect("file");
    app.requests
        .put_document(
            dpo,
            &filed.id,
            DocumentKind::IdDocument,
            "image/png",
            b"\x89PNG\r\n\x1a\n synthetic scan",
        )
        .await
        .expect("document");
    app.requests
        .approve_identity(dpo, &filed.id)
        .await
        .expect("approve");
    app.requests
        .queue_fulfilment(dpo, &filed.id, FulfilmentInput::default())
        .await
        .expect("queue");
    filed.id
}

async fn run_jobs(app: &Custode) {
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");
}

/// Runs the erasure job's steps up to and including `last`.
async fn run_steps_through(app: &Custode, last: &str) {
    loop {
        let claim = app
            .requests
            .claim_job(std::time::Duration::from_secs(30))
            .await
            .expect("claim")
            .expect("the erasure job is due");
        let name = custode_requests::steps(claim.right)[claim.step as usize];
        app.requests.run_step(&claim, |_| {}).await.expect("step");
        lapse_leases(app).await;
        if name == last {
            return;
        }
    }
}

/// Lets the worker's lease on the next step lapse, as after its death.
async fn lapse_leases(app: &Custode) {
    sqlx::query("UPDATE request_jobs SET next_at = 0 WHERE state = 'pending'")
        .execute(app.store.pool())
        .await
        .expect("lapse");
}

/// A copy of the main store taken now, as a backup would be: on SQLite
/// the database file (`VACUUM INTO`), on PostgreSQL the subjects and
/// records rows in side tables.
async fn backup(env: &Env, app: &Custode) -> Option<std::path::PathBuf> {
    match env.engine {
        custode_store::Engine::Sqlite => {
            let path = env.dir.join("backup.db");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "VACUUM INTO '{}'",
                path.display()
            )))
            .execute(app.store.pool())
            .await
            .expect("backup");
            Some(path)
        }
        custode_store::Engine::Postgres => {
            for t in ["subjects", "records"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE TABLE {t}_backup AS SELECT * FROM {t}"
                )))
                .execute(app.store.pool())
                .await
                .expect("side table");
            }
            None
        }
    }
}

/// The store as restored from the backup, opened with the current key
/// store and master key: what someone holding an old copy would read.
async fn restored(env: &Env, live: Custode, file: Option<std::path::PathBuf>) -> Custode {
    let mut config: StoreConfig = env.config.clone();
    match file {
        Some(path) => {
            live.close().await;
            config.database_url = format!("sqlite://{}", path.display());
        }
        None => {
            let pool = live.store.pool().clone();
            for sql in [
                "DELETE FROM records",
                "INSERT INTO records SELECT * FROM records_backup",
                "UPDATE subjects SET erased_at = b.erased_at, restricted_at = b.restricted_at, \
                 key_generation = b.key_generation, closed_at = b.closed_at \
                 FROM subjects_backup b WHERE b.key = subjects.key",
            ] {
                sqlx::query(sql).execute(&pool).await.expect("restore");
            }
            live.close().await;
        }
    }
    Custode::open(&config, Env::policy(), env.clock.clone())
        .await
        .expect("the restored copy opens")
}

/// The key store's key names, read straight from its database.
async fn key_names(env: &Env) -> Vec<String> {
    let pool = sqlx::AnyPool::connect(&env.config.keystore_url)
        .await
        .expect("key store");
    let names = sqlx::query("SELECT subject_id FROM subject_keys ORDER BY subject_id")
        .fetch_all(&pool)
        .await
        .expect("names")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    pool.close().await;
    names
}

/// Puts a key row back into the key app, as a crash between the
/// re-seal's commit and the old key's destruction would leave it.
async fn put_key_back(env: &Env, name: &str, wrapped: Vec<u8>) {
    let pool = sqlx::AnyPool::connect(&env.config.keystore_url)
        .await
        .expect("key store");
    sqlx::query("INSERT INTO subject_keys (subject_id, wrapped, created_at) VALUES ($1, $2, 0)")
        .bind(name)
        .bind(wrapped)
        .execute(&pool)
        .await
        .expect("put back");
    pool.close().await;
}

async fn wrapped_key(env: &Env, name: &str) -> Vec<u8> {
    let pool = sqlx::AnyPool::connect(&env.config.keystore_url)
        .await
        .expect("key store");
    let w = sqlx::query("SELECT wrapped FROM subject_keys WHERE subject_id = $1")
        .bind(name)
        .fetch_one(&pool)
        .await
        .expect("key")
        .get::<Vec<u8>, _>(0);
    pool.close().await;
    w
}

on_both_engines!(a_partial_erasure_leaves_no_earlier_copy_readable);
async fn a_partial_erasure_leaves_no_earlier_copy_readable(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = mailbox_user(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let copy = backup(env, &app).await;
    erasure_request(&app, &dpo, &s).await;
    run_jobs(&app).await;
    // What is kept still opens, for its ground, under the new key.
    let kept = app
        .store
        .records_for(&dpo, &s, "authority_requests", "order 12/2026")
        .await
        .expect("kept for its ground");
    assert_eq!(
        kept.iter().map(|r| r.category.as_str()).collect::<Vec<_>>(),
        ["contact", "billing"],
        "{kept:?}"
    );
    assert_eq!(kept[0].fields["email"], "erase.me@example.org");
    assert!(
        !key_names(env).await.contains(&s.to_string()),
        "the first key is destroyed"
    );
    // The copy taken before the erasure, opened with today's keys, shows
    // nothing: neither the mail erased nor the contact kept.
    let old = restored(env, app, copy).await;
    let read = old.store.records(&dpo, &s, "restore check").await;
    assert!(
        matches!(read, Err(StoreError::Erased(_))),
        "the backup must not open: {read:?}"
    );
    old.close().await;
}

on_both_engines!(a_crash_between_the_reseal_and_the_key_destruction_is_finished);
async fn a_crash_between_the_reseal_and_the_key_destruction_is_finished(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = mailbox_user(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let first = wrapped_key(env, s.as_str()).await;
    let copy = backup(env, &app).await;
    erasure_request(&app, &dpo, &s).await;
    run_steps_through(&app, "erase").await;
    // The crash: the re-seal committed, the old key still there.
    put_key_back(env, s.as_str(), first.clone()).await;
    app.close().await;
    // The next start finishes the destruction.
    let app = env.open().await;
    assert!(
        !key_names(env).await.contains(&s.to_string()),
        "the next start destroys the old key"
    );
    // The rerun (the `shred` step) does too, and keeps what is kept.
    put_key_back(env, s.as_str(), first).await;
    lapse_leases(&app).await;
    run_jobs(&app).await;
    assert!(
        !key_names(env).await.contains(&s.to_string()),
        "the shred step destroys the old key"
    );
    assert_eq!(
        app.store
            .records_for(&dpo, &s, "authority_requests", "order 12/2026")
            .await
            .expect("kept")
            .len(),
        2
    );
    let old = restored(env, app, copy).await;
    assert!(matches!(
        old.store.records(&dpo, &s, "restore check").await,
        Err(StoreError::Erased(_))
    ));
    old.close().await;
}

on_both_engines!(kept_data_are_read_only_for_their_ground);
async fn kept_data_are_read_only_for_their_ground(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = mailbox_user(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    erasure_request(&app, &dpo, &s).await;
    run_jobs(&app).await;
    let me = Principal {
        id: "user:me".into(),
        role: Role::Subject,
        scope: custode_domain::Scope::subject(&t.domain_a.path, s.clone()),
    };
    for who in [
        dpo.clone(),
        principal_of(&t.provider, Role::SupportAgent),
        principal_of(&t.reseller, Role::ResellerAdmin),
        principal_of(&t.domain_a, Role::DomainAdmin),
        me,
    ] {
        match app.store.records(&who, &s, "look").await {
            Err(StoreError::Restricted { kept, .. }) => {
                assert!(
                    kept.contains("kept only for authority_requests under legal_obligation")
                        && kept.contains(" until 2"),
                    "the refusal says for what and until when: {kept}"
                );
            }
            other => panic!("{:?} reads a restricted subject: {other:?}", who.role),
        }
    }
    // The ground's reader, for the ground: only the records it keeps.
    let support = principal_of(&t.provider, Role::SupportAgent);
    assert!(matches!(
        app.store
            .records_for(&support, &s, "authority_requests", "order")
            .await,
        Err(StoreError::Restricted { .. })
    ));
    assert!(
        matches!(
            app.store.records_for(&dpo, &s, "service", "look").await,
            Err(StoreError::Restricted { .. })
        ),
        "a purpose that keeps nothing reads nothing"
    );
    assert!(
        matches!(
            app.store
                .records_for(&dpo, &s, "billing", "tax audit")
                .await,
            Err(StoreError::Restricted { .. })
        ),
        "billing keeps nothing of a mailbox user"
    );
    let kept = app
        .store
        .records_for(&dpo, &s, "authority_requests", "tax audit 2026")
        .await
        .expect("kept");
    assert_eq!(
        kept.iter().map(|r| r.category.as_str()).collect::<Vec<_>>(),
        ["contact", "billing"]
    );
    let audit = app.store.audit_of_subject(&s, 50).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.body.contains("\"ground\":\"authority_requests\"")
                && e.body.contains("tax audit 2026")),
        "the ground's read is audited with its ground and reason"
    );
    let refused = audit
        .iter()
        .filter(|e| e.body.contains("access.denied"))
        .count();
    assert!(refused >= 7, "every refusal is audited: {refused}");
    app.close().await;
}

on_both_engines!(decisions_and_writes_after_a_partial_erasure_answer_erased);
async fn decisions_and_writes_after_a_partial_erasure_answer_erased(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = mailbox_user(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let asker = principal_of(&t.provider, Role::SupportAgent);
    // Warm: the decision is cached before the erasure.
    assert!(
        app.ledger
            .decide(&asker, &s, "service")
            .await
            .expect("decide")
            .allowed
    );
    assert_eq!(
        app.store
            .subjects(&dpo, None, 100)
            .await
            .expect("list")
            .iter()
            .find(|x| x.id == s)
            .expect("listed")
            .erasure,
        ErasureState::None
    );
    erasure_request(&app, &dpo, &s).await;
    run_jobs(&app).await;
    let service = app
        .ledger
        .decide(&asker, &s, "service")
        .await
        .expect("decide");
    assert!(!service.allowed, "{service:?}");
    assert_eq!(service.reason, custode_consent::Reason::Erased);
    let ground = app
        .ledger
        .decide(&asker, &s, "authority_requests")
        .await
        .expect("decide");
    assert!(
        ground.allowed,
        "the ground that keeps data still holds: {ground:?}"
    );
    // A fresh instance (cold cache) answers the same.
    app.close().await;
    let app = env.open().await;
    assert_eq!(
        app.ledger
            .decide(&asker, &s, "service")
            .await
            .expect("decide")
            .reason,
        custode_consent::Reason::Erased
    );
    app.ledger.warm_decisions().await.expect("warm");
    assert_eq!(
        app.ledger
            .decide(&asker, &s, "support")
            .await
            .expect("decide")
            .reason,
        custode_consent::Reason::Erased
    );
    // No new data, as after a whole erasure.
    let policy = app.store.policy();
    let c = policy.category("contact").expect("contact");
    let write = app
        .store
        .write_records(
            &Principal::system("test"),
            "late sync",
            vec![(
                s.clone(),
                custode_domain::NewRecord {
                    category: "contact".into(),
                    fields: c
                        .fields
                        .iter()
                        .map(|f| (f.id.value.clone(), serde_json::Value::from("x@example.org")))
                        .collect(),
                    source: "test".into(),
                    purposes: vec![],
                    collected_at: None,
                },
            )],
        )
        .await;
    assert!(matches!(write, Err(StoreError::Erased(_))), "{write:?}");
    // The listing says how far it is erased, and until when data stay.
    let listed = app.store.subjects(&dpo, None, 100).await.expect("list");
    let me = listed.iter().find(|x| x.id == s).expect("listed");
    match &me.erasure {
        ErasureState::Partial { kept_until, .. } => assert!(kept_until.is_some(), "{me:?}"),
        other => panic!("not partial: {other:?}"),
    }
    app.close().await;
}

on_both_engines!(kept_records_hold_only_the_fields_their_grounds_keep);
async fn kept_records_hold_only_the_fields_their_grounds_keep(env: &Env) {
    // The authorities' ground keeps of `contact` only the name and e-mail,
    // and of `billing` only the name (the tax ground does not concern a
    // mailbox user).
    let from = "categories = [\"contact\", \"billing\"]\n";
    assert!(POLICY.contains(from), "test bug: the policy changed");
    let source = POLICY.replacen(
        from,
        "categories = [\"contact\", \"billing\"]\nkeep_fields = [\"name\", \"email\", \"billing_name\"]\n",
        1,
    );
    let policy = custode_policy::load("email-hosting.toml", &source).expect("policy");
    let app = env.open_with(std::sync::Arc::new(policy)).await;
    let t = tree(&app).await;
    let s = mailbox_user(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let id = erasure_request(&app, &dpo, &s).await;
    run_jobs(&app).await;
    let kept = app
        .store
        .records_for(&dpo, &s, "authority_requests", "order 12/2026")
        .await
        .expect("kept");
    let fields = |category: &str| -> Vec<String> {
        kept.iter()
            .find(|r| r.category == category)
            .map(|r| r.fields.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(fields("contact"), ["email", "name"], "the phone is erased");
    assert_eq!(
        fields("billing"),
        ["billing_name"],
        "a mailbox user's billing is kept only for the authorities"
    );
    let row = sqlx::query(
        "SELECT result FROM request_jobs WHERE request_id = $1 AND right_name = 'erasure'",
    )
    .bind(&id)
    .fetch_one(app.store.pool())
    .await
    .expect("job");
    let result: serde_json::Value = serde_json::from_str(&row.get::<String, _>(0)).expect("json");
    let contact = result["kept"]
        .as_array()
        .expect("kept lines")
        .iter()
        .find(|l| l["category"] == "contact")
        .expect("contact line");
    assert_eq!(contact["fields"], serde_json::json!(["name", "email"]));
    app.close().await;
}
