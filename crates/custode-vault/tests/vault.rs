//! The vault's promises: closing an account leaves only what a legal
//! obligation keeps, apart, until its legal end; and only the legal officer,
//! with a fresh code and an order reference, reads it — every attempt logged.

use std::collections::BTreeMap;

use custode_accounts::Grant;
use custode_domain::{NewRecord, Principal, Role, Scope, SubjectId, TenantKind};
use custode_policy::IdentifierKind;
use custode_store::{LifeEvent, StoreError};
use custode_testkit::*;
use custode_vault::{VaultOrder, VaultTarget};
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

fn identity(email: &str) -> NewRecord {
    let mut fields = BTreeMap::new();
    fields.insert(
        "business_name".to_owned(),
        serde_json::Value::from("Bottega Sintetica"),
    );
    fields.insert("email".to_owned(), serde_json::Value::from(email));
    fields.insert(
        "vat_number".to_owned(),
        serde_json::Value::from("IT00000000000"),
    );
    NewRecord {
        category: "subscriber_identity".into(),
        fields,
        source: "signup".into(),
        purposes: vec![],
        collected_at: None,
    }
}

fn profile() -> NewRecord {
    let policy = Env::messaging();
    let c = policy.category("subscriber_profile").expect("category");
    NewRecord {
        category: "subscriber_profile".into(),
        fields: [(
            c.fields[0].id.value.clone(),
            serde_json::Value::from("synthetic"),
        )]
        .into_iter()
        .collect(),
        source: "app".into(),
        purposes: vec![],
        collected_at: None,
    }
}

async fn records_of(app: &Custode, s: &SubjectId) -> i64 {
    sqlx::query(
        "SELECT COUNT(*) FROM records r JOIN subjects s ON s.key = r.subject_key WHERE s.id = $1",
    )
    .bind(s.as_str())
    .fetch_one(app.store.pool())
    .await
    .expect("count")
    .get(0)
}

/// A legal officer with a confirmed second factor; returns the principal
/// and the TOTP secret.
async fn legal_officer(env: &Env, app: &Custode) -> (Principal, [u8; 20]) {
    legal_officer_at(env, app, "lea", "/").await
}

/// A legal officer named `name` whose scope is the node at `path`.
async fn legal_officer_at(
    env: &Env,
    app: &Custode,
    name: &str,
    path: &str,
) -> (Principal, [u8; 20]) {
    let passphrase = format!("a long passphrase for {name}");
    let user = app
        .accounts
        .create_user(
            &admin(),
            name,
            &passphrase,
            &Grant {
                role: Role::LegalOfficer,
                scope_path: path.into(),
                subject: None,
            },
        )
        .await
        .expect("user");
    let (secret, _) = app
        .accounts
        .enroll_totp(name, &passphrase)
        .await
        .expect("enrol");
    let secret = custode_crypto::totp::secret_from_base32(&secret).expect("160 bits");
    env.clock.advance(SignedDuration::from_secs(30));
    let code = custode_crypto::totp::code_at(&secret, now_secs(env));
    app.accounts
        .confirm_totp(name, &passphrase, &code)
        .await
        .expect("confirm");
    (
        Principal {
            id: format!("user:{user}"),
            role: Role::LegalOfficer,
            scope: if path == "/" {
                Scope::everything()
            } else {
                Scope::under(path)
            },
        },
        secret,
    )
}

fn now_secs(env: &Env) -> u64 {
    u64::try_from(custode_domain::Clock::now(&*env.clock).as_second()).expect("after 1970")
}

fn fresh_code(env: &Env, secret: &[u8; 20]) -> String {
    env.clock.advance(SignedDuration::from_secs(30));
    custode_crypto::totp::code_at(secret, now_secs(env))
}

fn order() -> VaultOrder {
    VaultOrder {
        authority: "Procura della Repubblica di Firenze".into(),
        number: "RG 1234/2026".into(),
        date: "2026-03-02".into(),
        scope: "subscriber identity of the holder of the address".into(),
    }
}

on_both_engines!(closing_an_account_leaves_only_what_the_law_keeps_until_its_end);
async fn closing_an_account_leaves_only_what_the_law_keeps_until_its_end(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let t = tree(&app).await;
    let system = Principal::system("test");
    let s = app
        .store
        .create_subject(
            &system,
            &home_for(&app, &t, "subscriber").await,
            "subscriber",
            "signup",
        )
        .await
        .expect("subject");
    app.store
        .write_records(
            &system,
            "signup",
            vec![
                (s.clone(), identity("shop@example.org")),
                (s.clone(), profile()),
            ],
        )
        .await
        .expect("write");
    app.retention.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(
        app.vault.vault_count().await.expect("count"),
        0,
        "an open account keeps its data"
    );

    env.clock.advance(SignedDuration::from_hours(24 * 10));
    let closed_at = custode_domain::Clock::now(&*env.clock);
    app.retention
        .record_life_event(&system, &s, LifeEvent::AccountClosed, None, "customer left")
        .await
        .expect("close");
    let r = app.retention.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(r.vaulted, 1, "the identity moves to the vault at closure");
    assert_eq!(
        records_of(&app, &s).await,
        1,
        "the profile waits for its own end"
    );

    env.clock.advance(SignedDuration::from_hours(24 * 31));
    app.retention.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(
        records_of(&app, &s).await,
        0,
        "only vault-held records are left"
    );
    assert_eq!(app.vault.vault_count().await.expect("count"), 1);
    let (officer, secret) = legal_officer(env, &app).await;
    let held = app
        .vault
        .vault_query(
            &officer,
            Some(&fresh_code(env, &secret)),
            &order(),
            &VaultTarget::Subject(s.clone()),
        )
        .await
        .expect("query");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].category, "subscriber_identity");
    assert_eq!(
        held[0].grounds[0].0, "legal_minimum",
        "with its legal ground"
    );
    assert!(!held[0].grounds[0].1.is_empty(), "and the law it names");
    let until = held[0].until.expect("an end date");
    let expected = custode_domain::records::period_end(
        "IT",
        closed_at,
        custode_policy::Period {
            amount: 10,
            unit: custode_policy::Unit::Year,
        },
    )
    .expect("end");
    assert_eq!(until, expected, "ten years from closure, to the day");

    // The day before: still there. From its end: gone.
    env.clock.set(until - SignedDuration::from_hours(24));
    app.retention.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(app.vault.vault_count().await.expect("count"), 1);
    env.clock.set(until);
    let r = app.retention.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(r.vault_erased, 1);
    assert_eq!(app.vault.vault_count().await.expect("count"), 0);
    let report = app
        .retention
        .retention_report(Timestamp::UNIX_EPOCH)
        .await
        .expect("report");
    for action in ["vaulted", "erased", "vault_erased"] {
        assert!(
            report.iter().any(|l| l.action == action),
            "report has {action}: {report:?}"
        );
    }
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(only_the_legal_officer_with_a_fresh_code_and_an_order_reads_the_vault);
async fn only_the_legal_officer_with_a_fresh_code_and_an_order_reads_the_vault(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let t = tree(&app).await;
    let system = Principal::system("test");
    let s = app
        .store
        .create_subject(
            &system,
            &home_for(&app, &t, "subscriber").await,
            "subscriber",
            "signup",
        )
        .await
        .expect("subject");
    app.store
        .write_records(
            &system,
            "signup",
            vec![(s.clone(), identity("Shop@Example.org"))],
        )
        .await
        .expect("write");
    app.retention
        .record_life_event(&system, &s, LifeEvent::AccountClosed, None, "left")
        .await
        .expect("close");
    app.retention.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(app.vault.vault_count().await.expect("count"), 1);
    let (officer, secret) = legal_officer(env, &app).await;
    // Found by the VAT number the ground keeps: the e-mail address is not
    // among its `keep_fields`, so it did not go to the vault.
    let by_vat = VaultTarget::Identifier(IdentifierKind::VatNumber, "IT00000000000".into());

    let dpo = Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    };
    let err = app
        .vault
        .vault_query(&dpo, Some(&fresh_code(env, &secret)), &order(), &by_vat)
        .await
        .expect_err("not the legal officer");
    assert!(matches!(err, StoreError::Forbidden(_)), "{err}");
    let token = Principal {
        id: "token:0123456789abcdef01234567".into(),
        ..officer.clone()
    };
    assert!(matches!(
        app.vault
            .vault_query(&token, Some("123456"), &order(), &by_vat)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    let no_order = VaultOrder {
        number: String::new(),
        ..order()
    };
    let err = app
        .vault
        .vault_query(
            &officer,
            Some(&fresh_code(env, &secret)),
            &no_order,
            &by_vat,
        )
        .await
        .expect_err("no order number");
    assert!(err.to_string().contains("order number"), "{err}");
    assert!(matches!(
        app.vault
            .vault_query(&officer, None, &order(), &by_vat)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    let code = fresh_code(env, &secret);
    let found = app
        .vault
        .vault_query(&officer, Some(&code), &order(), &by_vat)
        .await
        .expect("allowed");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].fields["vat_number"], "IT00000000000");
    assert!(!found[0].fields.contains_key("email"));
    assert_eq!(found[0].subject, s.to_string());
    assert!(
        app.vault
            .vault_query(&officer, Some(&code), &order(), &by_vat)
            .await
            .is_err(),
        "a code works once"
    );

    // Ordinary reads never reach the vault.
    let err = app
        .store
        .records(&system, &s, "rights request")
        .await
        .expect_err("erased");
    assert!(matches!(err, StoreError::Erased(_)), "{err}");

    let log = app.vault.vault_access_log(&dpo, 100).await.expect("log");
    let answered: Vec<_> = log.iter().filter(|l| l.outcome == "answered").collect();
    assert_eq!(answered.len(), 1, "{log:?}");
    assert_eq!(answered[0].order, order());
    assert_eq!(answered[0].records, 1);
    assert!(
        !answered[0].target.contains("00000000000"),
        "the identifier is not logged"
    );
    let refused = log
        .iter()
        .filter(|l| l.outcome.starts_with("refused"))
        .count();
    assert_eq!(
        refused, 3,
        "the officer's own refused attempts; the DPO's and the token's are audit entries only: {log:?}"
    );
    let audited: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('vault.queried', 'access.denied')",
    )
    .fetch_one(app.store.pool())
    .await
    .expect("audit")
    .get(0);
    assert_eq!(audited, 6, "every attempt is in the audit chain");
    assert!(matches!(
        app.vault.vault_access_log(&agent_of(&t), 10).await,
        Err(StoreError::Forbidden(_))
    ));
    app.close().await;
}

fn agent_of(t: &Tree) -> Principal {
    principal_of(&t.provider, Role::SupportAgent)
}

/// A closed subscriber of `tenant` whose identity (with `email`) is in the
/// vault.
async fn vaulted_subscriber(
    app: &Custode,
    tenant: &custode_domain::TenantId,
    email: &str,
) -> SubjectId {
    let system = Principal::system("test");
    let s = app
        .store
        .create_subject(&system, tenant, "subscriber", "signup")
        .await
        .expect("subject");
    app.store
        .write_records(&system, "signup", vec![(s.clone(), identity(email))])
        .await
        .expect("write");
    app.retention
        .record_life_event(&system, &s, LifeEvent::AccountClosed, None, "left")
        .await
        .expect("close");
    app.retention.sweep_all(&system, 100).await.expect("sweep");
    s
}

// Issue "Every promise kept", 1: a legal officer scoped to one domain read
// a vault record of another reseller's domain, and a DPO scoped to one
// domain read every line of the vault access log.
on_both_engines!(vault_queries_and_the_access_log_are_bounded_by_the_callers_scope);
async fn vault_queries_and_the_access_log_are_bounded_by_the_callers_scope(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let t = tree(&app).await;
    // Subscribers live in subscriber tenants (seed 002): one under the
    // reseller, one straight under the provider.
    let shop_a = app
        .store
        .create_tenant(
            &admin(),
            Some(&t.reseller.id),
            TenantKind::Subscriber,
            "shop a",
        )
        .await
        .expect("shop a");
    let shop_b = app
        .store
        .create_tenant(
            &admin(),
            Some(&t.provider.id),
            TenantKind::Subscriber,
            "shop b",
        )
        .await
        .expect("shop b");
    let a = vaulted_subscriber(&app, &shop_a.id, "same@example.org").await;
    let b = vaulted_subscriber(&app, &shop_b.id, "same@example.org").await;
    assert_eq!(app.vault.vault_count().await.expect("count"), 2);
    let (officer_a, secret_a) = legal_officer_at(env, &app, "lina", &shop_a.path).await;

    let err = app
        .vault
        .vault_query(
            &officer_a,
            Some(&fresh_code(env, &secret_a)),
            &order(),
            &VaultTarget::Subject(b.clone()),
        )
        .await
        .expect_err("outside the officer's scope");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "not found, never forbidden: {err}"
    );
    let unknown = SubjectId::generate();
    let err_unknown = app
        .vault
        .vault_query(
            &officer_a,
            Some(&fresh_code(env, &secret_a)),
            &order(),
            &VaultTarget::Subject(unknown.clone()),
        )
        .await
        .expect_err("unknown");
    assert_eq!(
        err.to_string().replace(b.as_str(), "X"),
        err_unknown.to_string().replace(unknown.as_str(), "X"),
        "a subject outside the scope reads like one that does not exist"
    );
    // Both shops share a VAT number (the messaging policy keeps it in the
    // vault, not the e-mail address): the officer finds only its own.
    let by_email = VaultTarget::Identifier(IdentifierKind::VatNumber, "IT00000000000".into());
    let found = app
        .vault
        .vault_query(
            &officer_a,
            Some(&fresh_code(env, &secret_a)),
            &order(),
            &by_email,
        )
        .await
        .expect("query");
    assert_eq!(found.len(), 1, "only the record in scope: {found:?}");
    assert_eq!(found[0].subject, a.to_string());
    let own = app
        .vault
        .vault_query(
            &officer_a,
            Some(&fresh_code(env, &secret_a)),
            &order(),
            &VaultTarget::Subject(a.clone()),
        )
        .await
        .expect("own domain");
    assert_eq!(own.len(), 1);

    // A legal officer of the whole tree reaches both, one at a time.
    let (officer, secret) = legal_officer(env, &app).await;
    let other = VaultOrder {
        number: "RG 999/2026".into(),
        scope: "the holder of the other domain".into(),
        ..order()
    };
    let found = app
        .vault
        .vault_query(
            &officer,
            Some(&fresh_code(env, &secret)),
            &other,
            &VaultTarget::Subject(b.clone()),
        )
        .await
        .expect("query");
    assert_eq!(found.len(), 1);

    // Refusals for the role, or to a token, leave no line in the log.
    let support = principal_of(&t.provider, Role::SupportAgent);
    let denied = VaultOrder {
        number: "spam".into(),
        ..order()
    };
    for who in [
        support,
        Principal {
            id: "token:0123456789abcdef01234567".into(),
            ..officer.clone()
        },
    ] {
        assert!(matches!(
            app.vault
                .vault_query(&who, Some("123456"), &denied, &by_email)
                .await,
            Err(StoreError::Forbidden(_))
        ));
    }

    let dpo_a = principal_of(&shop_a, Role::Dpo);
    let dpo_b = principal_of(&shop_b, Role::Dpo);
    let dpo = Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    };
    let log_a = app.vault.vault_access_log(&dpo_a, 100).await.expect("log");
    assert!(
        log_a.iter().all(|l| l.order.number == order().number
            && (l.outcome == "answered" || (l.outcome == "not found" && l.records == 0))),
        "domain A's DPO sees its officer's attempts only, never the whole tree's officer's query of B: {log_a:?}"
    );
    assert_eq!(
        log_a.len(),
        4,
        "two not found, the identifier query and the query of A: {log_a:?}"
    );
    let log_b = app.vault.vault_access_log(&dpo_b, 100).await.expect("log");
    assert_eq!(log_b.len(), 1, "{log_b:?}");
    assert_eq!(log_b[0].order, other);
    assert_eq!(log_b[0].target, format!("subject {b}"));
    let all = app.vault.vault_access_log(&dpo, 100).await.expect("log");
    assert_eq!(
        all.len(),
        5,
        "two not found, two answered for A's officer, one for the whole tree's: {all:?}"
    );
    assert!(
        all.iter().all(|l| l.order.number != "spam"),
        "refused roles and tokens write no line: {all:?}"
    );
    let spam: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied' AND reason LIKE 'order spam%'",
    )
    .fetch_one(app.store.pool())
    .await
    .expect("audit")
    .get(0);
    assert_eq!(spam, 2, "both are audit entries");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

/// The vault's database, opened beside the app, as someone with shell
/// access to it would.
async fn vault_db(env: &Env) -> sqlx::AnyPool {
    sqlx::AnyPool::connect(&env.config.vault_url)
        .await
        .expect("vault database")
}

async fn sql(pool: &sqlx::AnyPool, statement: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn vault_breaks(report: &custode_audit::Report) -> Vec<(i64, String)> {
    report
        .breaks
        .iter()
        .filter_map(|b| match b {
            custode_audit::Break::VaultLog { line, what } => Some((*line, what.clone())),
            _ => None,
        })
        .collect()
}

// Issue "Every promise kept", 2: a line deleted from `vault_access_log`
// with plain SQL went unnoticed by `audit verify`.
on_both_engines!(a_line_removed_or_altered_in_the_vault_access_log_is_named);
async fn a_line_removed_or_altered_in_the_vault_access_log_is_named(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let t = tree(&app).await;
    let home = home_for(&app, &t, "subscriber").await;
    let s = vaulted_subscriber(&app, &home, "shop@example.org").await;
    let (officer, secret) = legal_officer(env, &app).await;
    for _ in 0..4 {
        app.vault
            .vault_query(
                &officer,
                Some(&fresh_code(env, &secret)),
                &order(),
                &VaultTarget::Subject(s.clone()),
            )
            .await
            .expect("query");
    }
    let dpo = principal_of(&t.provider, Role::Dpo);
    let lines: Vec<i64> = app
        .vault
        .vault_access_log(&dpo, 10)
        .await
        .expect("log")
        .iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(lines, [4, 3, 2, 1], "each line has its place");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    let vault = vault_db(env).await;

    // Altered: the order number changed.
    sql(
        &vault,
        "UPDATE vault_access_log SET order_number = 'RG 1/2020' WHERE seq = 2",
    )
    .await;
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(!report.is_intact());
    let breaks = vault_breaks(&report);
    assert!(
        breaks.iter().any(|(l, w)| *l == 2 && w.contains("altered")),
        "{breaks:?}"
    );
    assert!(
        report.breaks.iter().any(|b| b
            .to_string()
            .starts_with("vault access log line 2: altered")),
        "{:?}",
        report.breaks
    );
    sql(
        &vault,
        "UPDATE vault_access_log SET order_number = 'RG 1234/2026' WHERE seq = 2",
    )
    .await;
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());

    // Removed: a line in the middle, then the last one.
    sql(&vault, "DELETE FROM vault_access_log WHERE seq = 3").await;
    let breaks = vault_breaks(&app.vault.audit_verify().await.expect("verify"));
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    assert_eq!(breaks[0].0, 3);
    assert!(breaks[0].1.contains("missing"), "{breaks:?}");
    sql(&vault, "DELETE FROM vault_access_log WHERE seq = 4").await;
    sql(&vault, "UPDATE vault_log_head SET seq = 2, hash = (SELECT hash FROM vault_access_log WHERE seq = 2)").await;
    let breaks = vault_breaks(&app.vault.audit_verify().await.expect("verify"));
    let named: Vec<i64> = breaks.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        named,
        [3, 4],
        "the audit entries that recorded them name both, the head rewritten or not: {breaks:?}"
    );
    assert!(
        breaks.iter().all(|(_, w)| w.contains("audit entry")),
        "{breaks:?}"
    );
    vault.close().await;
    app.close().await;
}

/// A telecom customer with the whole master-data record and billing data,
/// as seed 003's contract forms collect them.
fn telecom_records() -> Vec<NewRecord> {
    let master = [
        ("name", "Mario Sintetico"),
        ("birth_place", "Foligno"),
        ("birth_date", "1980-01-01"),
        ("tax_code", "SNTMRA80A01D653X"),
        ("vat_number", "IT00000000001"),
        ("address", "Via Esempio 1, 06034 Foligno"),
        ("customer_code", "C-000123"),
        ("email", "mario.sintetico@example.org"),
        ("phone", "+39 0742 000 111"),
    ];
    let billing = [
        ("bank_account", "IT60X0542811101000000123456"),
        ("invoices", "F-2026-001"),
        ("payment_terms", "30 days, paid"),
    ];
    [("master_data", &master[..]), ("billing", &billing[..])]
        .into_iter()
        .map(|(category, fields)| NewRecord {
            category: category.into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect(),
            source: "contract".into(),
            purposes: vec![],
            collected_at: None,
        })
        .collect()
}

// Issue "Every promise kept", 2: a vault of the schema before the chain
// upgrades in place, its lines chained at the first start.
on_both_engines!(an_existing_vault_access_log_is_chained_at_upgrade);
async fn an_existing_vault_access_log_is_chained_at_upgrade(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let t = tree(&app).await;
    let home = home_for(&app, &t, "subscriber").await;
    let s = app
        .store
        .create_subject(&admin(), &home, "subscriber", "signup")
        .await
        .expect("subject");
    app.close().await;
    // Back to the vault's first schema, with lines written by it.
    let vault = vault_db(env).await;
    for statement in [
        "DROP TABLE vault_log_head",
        "DROP INDEX vault_access_by_seq",
        "DROP INDEX vault_access_by_path",
        "ALTER TABLE vault_access_log DROP COLUMN seq",
        "ALTER TABLE vault_access_log DROP COLUMN tenant_path",
        "ALTER TABLE vault_access_log DROP COLUMN prev_hash",
        "ALTER TABLE vault_access_log DROP COLUMN hash",
        "DELETE FROM schema_migrations WHERE version = 2",
    ] {
        sql(&vault, statement).await;
    }
    let targets = [
        format!("subject {s}"),
        "email (value not logged)".to_owned(),
        format!("subject {}", SubjectId::generate()),
    ];
    for (n, target) in (1..).zip(&targets) {
        sql(
            &vault,
            &format!(
                "INSERT INTO vault_access_log (at, actor, outcome, authority, order_number, order_date, scope, target, records) \
                 VALUES ({n}000000, 'user:old', 'answered', 'Tribunale di Prato', 'RG {n}/2025', '2025-01-0{n}', 'identity', '{target}', 1)"
            ),
        )
        .await;
    }
    let app = env.open_with(Env::messaging()).await;
    let dpo = Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    };
    let log = app.vault.vault_access_log(&dpo, 10).await.expect("log");
    assert_eq!(
        log.iter().map(|l| l.line).collect::<Vec<_>>(),
        [3, 2, 1],
        "{log:?}"
    );
    assert_eq!(log[2].order.number, "RG 1/2025");
    let of_a = app
        .vault
        .vault_access_log(
            &principal_of(
                &app.store.tenant(&admin(), &home).await.expect("home"),
                Role::Dpo,
            ),
            10,
        )
        .await
        .expect("log");
    assert_eq!(
        of_a.iter().map(|l| l.line).collect::<Vec<_>>(),
        [1],
        "a line about a subject goes to its node's reviewers; the others, whose owner is unknown, to the whole tree's: {of_a:?}"
    );
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    let chained: i64 =
        sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'vault.log_chained'")
            .fetch_one(app.store.pool())
            .await
            .expect("audit")
            .get(0);
    assert_eq!(chained, 1, "the upgrade is in the audit chain");
    app.close().await;
    // Chained once: a second start changes nothing.
    let app = env.open_with(Env::messaging()).await;
    sql(&vault, "DELETE FROM vault_access_log WHERE seq = 3").await;
    let breaks = vault_breaks(&app.vault.audit_verify().await.expect("verify"));
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    assert_eq!(breaks[0].0, 3, "{breaks:?}");
    vault.close().await;
    app.close().await;
}

on_both_engines!(an_erasure_keeps_only_the_fields_the_law_needs);
async fn an_erasure_keeps_only_the_fields_the_law_needs(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let system = Principal::system("test");
    let s = app
        .store
        .create_subject(&system, &t.domain_a.id, "customer", "contract")
        .await
        .expect("subject");
    app.store
        .write_records(
            &system,
            "contract",
            telecom_records()
                .into_iter()
                .map(|r| (s.clone(), r))
                .collect(),
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let filed = app
        .requests
        .file_request(
            &dpo,
            custode_requests::NewRequest {
                subject: s.clone(),
                rights: vec![custode_domain::requests::Right::Erasure],
                requester: custode_requests::Requester::Subject,
                contact: "mario.sintetico@example.org".into(),
                text: "Cancellate i miei dati.".into(),
                language: Some(custode_policy::Lang::En),
            },
        )
        .await
        .expect("file");
    app.requests
        .put_document(
            &dpo,
            &filed.id,
            custode_requests::DocumentKind::IdDocument,
            "image/png",
            b"\x89PNG\r\n\x1a\n synthetic scan",
        )
        .await
        .expect("document");
    app.requests
        .approve_identity(&dpo, &filed.id)
        .await
        .expect("approve");
    app.requests
        .queue_fulfilment(
            &dpo,
            &filed.id,
            custode_requests::FulfilmentInput::default(),
        )
        .await
        .expect("queue");
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");

    // Tax law and the authorities' orders keep master data and billing in
    // the vault: only the fields their `keep_fields` list went there.
    let (officer, secret) = legal_officer(env, &app).await;
    let mut held = app
        .vault
        .vault_query(
            &officer,
            Some(&fresh_code(env, &secret)),
            &order(),
            &VaultTarget::Subject(s.clone()),
        )
        .await
        .expect("query");
    held.sort_by(|a, b| a.category.cmp(&b.category));
    let kept: Vec<(&str, Vec<&str>)> = held
        .iter()
        .map(|r| {
            (
                r.category.as_str(),
                r.fields.keys().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("billing", vec!["invoices", "payment_terms"]),
            (
                "master_data",
                vec!["address", "customer_code", "name", "tax_code", "vat_number"]
            ),
        ],
        "e-mail, phone, birth data and bank account are erased"
    );
    assert_eq!(held[1].fields["name"], "Mario Sintetico");
    // A kept identifier still finds the person; one not kept does not.
    let by_tax_code = VaultTarget::Identifier(IdentifierKind::TaxCode, "SNTMRA80A01D653X".into());
    assert_eq!(
        app.vault
            .vault_query(
                &officer,
                Some(&fresh_code(env, &secret)),
                &order(),
                &by_tax_code,
            )
            .await
            .expect("query")
            .len(),
        1
    );
    let by_email =
        VaultTarget::Identifier(IdentifierKind::Email, "mario.sintetico@example.org".into());
    assert!(
        app.vault
            .vault_query(
                &officer,
                Some(&fresh_code(env, &secret)),
                &order(),
                &by_email
            )
            .await
            .expect("query")
            .is_empty()
    );

    // The answer tells the person which fields are kept.
    let sent = app
        .requests
        .answer_request(&dpo, &filed.id, custode_requests::Outcome::Accepted, "")
        .await
        .expect("answer");
    let letter = sent.letter.to_markdown();
    assert!(
        letter.contains("Only these fields are kept: Name and surname or company name, Italian tax code (codice fiscale), VAT number, Residence or registered office, Customer code; the others are erased."),
        "{letter}"
    );
    assert!(
        letter.contains("Only these fields are kept: Invoices, Payment terms and status;"),
        "{letter}"
    );
    app.close().await;
}
