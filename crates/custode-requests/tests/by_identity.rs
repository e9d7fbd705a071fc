//! Requests by identity (issue #21): a request filed with an e-mail address
//! reaches a customer known only in the provider's own PostgreSQL database,
//! one for an address known nowhere is answered "we hold nothing about
//! you", the subject Custode holds is found by its identifier, attestation
//! is allowed only to the roles the policy names, and bad identifiers are
//! refused with nothing created — on SQLite and PostgreSQL.

use custode_domain::requests::Right;
use custode_domain::{Principal, Role, SubjectId};
use custode_policy::Lang;
use custode_requests::{
    Attestation, FulfilmentInput, Identity, Outcome, RequestByIdentity, RequestSummary, Requester,
};
use custode_store::StoreError;
use custode_testkit::*;
use serde_json::Value;

/// The provider's CRM: customers and their orders, in PostgreSQL, with
/// one customer Custode has never heard of.
struct Crm {
    pool: sqlx::PgPool,
    schema: String,
}

impl Crm {
    async fn new() -> Crm {
        let schema = format!("crm_{}", SubjectId::generate());
        let pool = sqlx::postgres::PgPool::connect(&postgres_url())
            .await
            .expect("the PostgreSQL of the tests runs");
        for sql in [
            format!("CREATE SCHEMA {schema}"),
            format!(
                "CREATE TABLE {schema}.customers (id bigint PRIMARY KEY, email text NOT NULL, name text)"
            ),
            format!(
                "CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES {schema}.customers(id), item text)"
            ),
            format!(
                "INSERT INTO {schema}.customers VALUES (1, 'only.there@example.org', 'Only There'), (2, 'other@example.org', 'Other'), (3, 'Mixed.Case@Example.org', 'Mixed Case')"
            ),
            format!(
                "INSERT INTO {schema}.orders VALUES (10, 1, 'fibre 1 Gb/s'), (11, 1, 'router'), (12, 2, 'sim')"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("crm");
        }
        Crm { pool, schema }
    }

    /// Attaches the CRM to a store under the telecom policy.
    fn attach(&self, app: &Custode) {
        let systems = format!(
            r#"
[system]
id = "crm"
kind = "postgres"
url = "{}"
schema = "{}"

[erase]
master_data = {{ mask = "erased" }}
billing = {{ keep = "Art. 2220 codice civile: accounting records are kept 10 years" }}

[[table]]
name = "customers"
key = "id"
identifiers = {{ email = "email" }}
[table.columns]
email = {{ category = "master_data.email", erase = {{ mask = "erased-{{key}}@invalid.example" }} }}
name = "master_data.name"

[[table]]
name = "orders"
key = "id"
parents = [{{ table = "customers", column = "customer_id" }}]
[table.columns]
item = "billing.invoices"
"#,
            postgres_url(),
            self.schema
        );
        let mapping =
            custode_connectors::load("crm.toml", &systems, &app.store.policy()).expect("mapping");
        app.requests
            .attach_systems(
                custode_connectors::Connectors::from_mappings(vec![mapping]).expect("connectors"),
            )
            .expect("attach");
    }

    async fn customers(&self) -> Vec<(i64, String)> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, email FROM {}.customers ORDER BY id",
            self.schema
        )))
        .fetch_all(&self.pool)
        .await
        .expect("customers")
    }

    async fn drop(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&self.pool)
        .await
        .expect("drop");
    }
}

fn by_email(app: &Custode, email: &str, rights: &[Right]) -> RequestByIdentity {
    RequestByIdentity {
        identity: Identity::parse(&app.store.policy(), "email", email).expect("an e-mail address"),
        tenant: None,
        subject_kind: None,
        rights: rights.to_vec(),
        requester: Requester::Subject,
        contact: None,
        text: "Cosa sapete di me?".into(),
        language: Some(Lang::En),
    }
}

/// The requester proves control of the address with the code mailed there.
async fn verify_by_code(app: &Custode, by: &Principal, id: &str, address: &str) {
    let code = app
        .requests
        .issue_code(by, id)
        .await
        .expect("a code is sent");
    assert_eq!(code.email, address, "the code goes to the address filed");
    app.requests
        .check_code(by, id, &code.code)
        .await
        .expect("the code checks");
}

async fn fulfil(app: &Custode, by: &Principal, id: &str) -> RequestSummary {
    app.requests
        .queue_fulfilment(by, id, FulfilmentInput::default())
        .await
        .expect("queue");
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");
    app.requests.request(by, id).await.expect("request")
}

fn job<'a>(r: &'a RequestSummary, right: &str) -> &'a Value {
    let j = r
        .jobs
        .iter()
        .find(|j| j.right == right)
        .unwrap_or_else(|| panic!("no {right} job: {r:?}"));
    assert_eq!(j.state, "done", "{j:?}");
    j.result.as_ref().expect("result")
}

/// The `systems.json` of a package (a stored ZIP: its members are
/// readable in place, but the member is read properly here).
fn systems_json(zip: &[u8]) -> Value {
    let path = std::env::temp_dir().join(format!("custode-byid-{}.zip", SubjectId::generate()));
    std::fs::write(&path, zip).expect("write");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('systems.json'))",
        ])
        .arg(&path)
        .output()
        .expect("python3");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn rows_of(systems: &Value, table: &str) -> Vec<Value> {
    systems["systems"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["table"] == table)
        .and_then(|t| t["rows"].as_array().cloned())
        .unwrap_or_default()
}

on_both_engines!(a_request_by_email_serves_a_customer_known_only_in_the_providers_database);
async fn a_request_by_email_serves_a_customer_known_only_in_the_providers_database(env: &Env) {
    let crm = Crm::new().await;
    let app = env.open_with(Env::telecom()).await;
    crm.attach(&app);
    let t = tree(&app).await;
    let dpo = principal_of(&t.provider, Role::Dpo);

    // Nothing is created by hand: the address, written as the requester
    // wrote it, is all there is.
    let filed = app
        .requests
        .file_request_by_identity(
            &dpo,
            by_email(
                &app,
                " Only.There@Example.org ",
                &[Right::Access, Right::Erasure],
            ),
        )
        .await
        .expect("filed by e-mail");
    assert_eq!(filed.found, "created", "Custode did not know the person");
    let id = filed.request.id.clone();
    assert_eq!(filed.request.identity, "unverified");
    verify_by_code(&app, &dpo, &id, "only.there@example.org").await;

    let done = fulfil(&app, &dpo, &id).await;
    // The package holds the customer's rows of the CRM, and only theirs.
    let zip = app
        .requests
        .request_export(&dpo, &id, Right::Access)
        .await
        .expect("package");
    let systems = systems_json(&zip);
    let customers = rows_of(&systems, "customers");
    assert_eq!(customers.len(), 1, "{systems}");
    assert!(
        customers[0].to_string().contains("only.there@example.org"),
        "{systems}"
    );
    assert_eq!(rows_of(&systems, "orders").len(), 2, "{systems}");
    assert!(!systems.to_string().contains("other@example.org"));
    assert_eq!(job(&done, "access")["system_rows"], 3, "{done:?}");

    // The erasure reached the CRM: the address masked, the orders kept
    // with their law; the other customer untouched.
    let erasure = job(&done, "erasure");
    assert_eq!(erasure["systems"][0]["rows_found"], 3, "{erasure}");
    assert_eq!(
        crm.customers().await,
        vec![
            (1, "erased-1@invalid.example".to_owned()),
            (2, "other@example.org".to_owned()),
            (3, "Mixed.Case@Example.org".to_owned())
        ]
    );
    let answer = app
        .requests
        .answer_request(&dpo, &id, Outcome::Accepted, "")
        .await
        .expect("answer");
    let letter = answer.letter.to_markdown();
    assert_eq!(answer.contact, "only.there@example.org");
    assert!(letter.contains("Art. 2220 codice civile"), "{letter}");
    assert!(!letter.contains("We hold no personal data"), "{letter}");
    // The subject made for the request is gone with it.
    assert!(
        app.finder
            .find_subjects(
                &dpo,
                custode_policy::IdentifierKind::Email,
                "only.there@example.org"
            )
            .await
            .expect("find")
            .is_empty()
    );
    crm.drop().await;
    app.close().await;
}

on_both_engines!(a_request_for_an_address_known_nowhere_is_answered_nothing_held);
async fn a_request_for_an_address_known_nowhere_is_answered_nothing_held(env: &Env) {
    let crm = Crm::new().await;
    let app = env.open_with(Env::telecom()).await;
    crm.attach(&app);
    let t = tree(&app).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let filed = app
        .requests
        .file_request_by_identity(&dpo, by_email(&app, "nobody@example.net", &[Right::Access]))
        .await
        .expect("filed");
    assert_eq!(filed.found, "created");
    let id = filed.request.id;
    // No answer before the requester proved the address is theirs.
    let early = app
        .requests
        .answer_request(&dpo, &id, Outcome::Accepted, "")
        .await
        .expect_err("identity first");
    assert!(matches!(early, StoreError::Conflict(_)), "{early}");
    verify_by_code(&app, &dpo, &id, "nobody@example.net").await;
    let done = fulfil(&app, &dpo, &id).await;
    assert_eq!(job(&done, "access")["system_rows"], 0, "{done:?}");
    assert_eq!(job(&done, "access")["records"], 0, "{done:?}");
    let answer = app
        .requests
        .answer_request(&dpo, &id, Outcome::Accepted, "")
        .await
        .expect("answer");
    assert_eq!(answer.contact, "nobody@example.net");
    let letter = answer.letter.to_markdown();
    assert!(
        letter.contains("We hold no personal data about you"),
        "{letter}"
    );
    // The CRM is untouched, and nothing of the requester stays.
    assert_eq!(crm.customers().await.len(), 3);
    assert!(
        app.finder
            .find_subjects(
                &dpo,
                custode_policy::IdentifierKind::Email,
                "nobody@example.net"
            )
            .await
            .expect("find")
            .is_empty()
    );
    crm.drop().await;
    app.close().await;
}

on_both_engines!(a_request_by_email_finds_the_subject_custode_holds);
async fn a_request_by_email_finds_the_subject_custode_holds(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "customer", "signup")
        .await
        .expect("subject");
    app.store
        .write_records(
            &Principal::system("test"),
            "signup",
            vec![(
                s.clone(),
                custode_domain::NewRecord {
                    category: "master_data".into(),
                    fields: [(
                        "email".to_owned(),
                        serde_json::json!("anna.verdi@example.org"),
                    )]
                    .into(),
                    source: "signup".into(),
                    purposes: vec![],
                    collected_at: None,
                },
            )],
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let filed = app
        .requests
        .file_request_by_identity(
            &dpo,
            by_email(&app, "ANNA.Verdi@example.org", &[Right::Access]),
        )
        .await
        .expect("filed");
    assert_eq!(filed.found, "custode");
    assert_eq!(filed.request.subject, s);

    // Out of scope, the subject is not found: a subject is made for the
    // request in the caller's own part of the tree instead.
    let other = principal_of(&t.domain_b, Role::Dpo);
    let elsewhere = app
        .requests
        .file_request_by_identity(
            &other,
            by_email(&app, "anna.verdi@example.org", &[Right::Access]),
        )
        .await
        .expect("filed");
    assert_eq!(elsewhere.found, "created");
    assert_ne!(elsewhere.request.subject, s);

    // An address known nowhere, asked twice: one subject, the second
    // request linked to the first.
    let first = app
        .requests
        .file_request_by_identity(&dpo, by_email(&app, "new@example.net", &[Right::Access]))
        .await
        .expect("first");
    let again = app
        .requests
        .file_request_by_identity(&dpo, by_email(&app, "new@example.net", &[Right::Access]))
        .await
        .expect("again");
    assert_eq!(again.found, "custode");
    assert_eq!(again.request.subject, first.request.subject);
    assert_eq!(again.request.duplicate_of, Some(first.request.id));
    app.close().await;
}

async fn denials(app: &Custode) -> i64 {
    sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    )
}

fn portal() -> Attestation {
    Attestation {
        method: "logged in to the self-care portal with password and OTP".into(),
        verified_by: "selfcare.lineavallata.example".into(),
        reference: "session 7f3a-22".into(),
    }
}

on_both_engines!(only_the_roles_the_policy_names_may_attest_an_identity);
async fn only_the_roles_the_policy_names_may_attest_an_identity(env: &Env) {
    // Telecom lets the self-care portal (a system) attest, no one else.
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let agent = principal_of(&t.provider, Role::SupportAgent);
    let id = app
        .requests
        .file_request_by_identity(
            &dpo,
            by_email(&app, "someone@example.net", &[Right::Access]),
        )
        .await
        .expect("filed")
        .request
        .id;
    let denied_before = denials(&app).await;
    for who in [&dpo, &agent] {
        let refused = app
            .requests
            .attest_identity(who, &id, portal())
            .await
            .expect_err("not allowed");
        assert!(matches!(refused, StoreError::Forbidden(_)), "{refused}");
        assert!(refused.to_string().contains("attest_roles"), "{refused}");
    }
    assert_eq!(denials(&app).await, denied_before + 2, "refusals audited");
    let unchanged = app.requests.request(&dpo, &id).await.expect("request");
    assert_eq!(unchanged.identity, "unverified");
    assert_eq!(unchanged.identity_method, None);

    // Bad input from an allowed role: refused, nothing changed.
    let portal_system = Principal::system("selfcare");
    let bad = app
        .requests
        .attest_identity(
            &portal_system,
            &id,
            Attestation {
                reference: "  ".into(),
                ..portal()
            },
        )
        .await
        .expect_err("no reference");
    assert!(matches!(bad, StoreError::Invalid(_)), "{bad}");
    assert!(bad.to_string().contains("reference"), "{bad}");
    assert_eq!(
        app.requests
            .request(&dpo, &id)
            .await
            .expect("request")
            .identity,
        "unverified"
    );

    let attested = app
        .requests
        .attest_identity(&portal_system, &id, portal())
        .await
        .expect("attested");
    assert_eq!(attested.identity, "verified");
    assert_eq!(attested.identity_method.as_deref(), Some("attestation"));
    let detail: String = sqlx::Row::get(
        &sqlx::query(
            "SELECT body FROM audit_log WHERE action = 'request.verified' ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(app.store.pool())
        .await
        .expect("entry"),
        0,
    );
    for said in [
        "attestation",
        "self-care portal",
        "selfcare.lineavallata.example",
        "session 7f3a-22",
    ] {
        assert!(detail.contains(said), "{said} in {detail}");
    }
    let twice = app
        .requests
        .attest_identity(&portal_system, &id, portal())
        .await
        .expect_err("verified already");
    assert!(matches!(twice, StoreError::Conflict(_)), "{twice}");
    app.close().await;

    // Email hosting names no role: none may attest, the system included.
    let hosting = Env::new(env.engine).await;
    let app = hosting.open().await;
    let t = tree(&app).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let id = app
        .requests
        .file_request_by_identity(
            &dpo,
            by_email(&app, "someone@example.net", &[Right::Access]),
        )
        .await
        .expect("filed")
        .request
        .id;
    let refused = app
        .requests
        .attest_identity(&Principal::system("selfcare"), &id, portal())
        .await
        .expect_err("none may");
    assert!(matches!(refused, StoreError::Forbidden(_)), "{refused}");
    assert_eq!(
        app.requests
            .request(&dpo, &id)
            .await
            .expect("request")
            .identity,
        "unverified"
    );
    app.close().await;
    hosting.cleanup().await;
}

on_both_engines!(bad_identifiers_are_refused_and_nothing_is_created);
async fn bad_identifiers_are_refused_and_nothing_is_created(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let policy = app.store.policy();
    for (kind, value, says) in [
        (
            "email",
            "anna.verdi(at)example.org",
            "not an e-mail address",
        ),
        ("email", "anna@localhost", "not an e-mail address"),
        ("email", "", "empty"),
        ("phone", "call me maybe", "not a phone number"),
        ("phone", "12", "not a phone number"),
        // Email hosting declares no tax code on any field.
        ("tax_code", "RSSMRA80A01H501U", "not declared by the policy"),
        ("passport", "X123", "not declared by the policy"),
    ] {
        let e = Identity::parse(&policy, kind, value).expect_err(value);
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
        assert!(e.to_string().contains(says), "{kind} {value}: {e}");
    }
    assert!(Identity::parse(&policy, "phone", "+39 055 123 4567").is_ok());
    let before = app.store.count_subjects(&admin()).await.expect("count");
    // A request with no right, or a phone with nowhere to answer: refused
    // before a subject is made for it.
    let mut none = by_email(&app, "someone@example.net", &[]);
    none.language = None;
    let e = app
        .requests
        .file_request_by_identity(&dpo, none)
        .await
        .expect_err("no right");
    assert!(matches!(e, StoreError::Invalid(_)), "{e}");
    let phone = RequestByIdentity {
        identity: Identity::parse(&policy, "phone", "+39 055 123 4567").expect("phone"),
        ..by_email(&app, "someone@example.net", &[Right::Access])
    };
    let e = app
        .requests
        .file_request_by_identity(&dpo, phone)
        .await
        .expect_err("no contact");
    assert!(e.to_string().contains("needs a contact"), "{e}");
    assert_eq!(
        app.store.count_subjects(&admin()).await.expect("count"),
        before
    );
    assert!(
        app.requests
            .requests(&dpo, false)
            .await
            .expect("list")
            .is_empty()
    );
    app.close().await;
}

on_both_engines!(a_customer_the_providers_database_spells_in_capitals_is_found);
async fn a_customer_the_providers_database_spells_in_capitals_is_found(env: &Env) {
    // The CRM keeps `Mixed.Case@Example.org`; the requester writes it the
    // same way, Custode's look-up hash uses lower case: the CRM is asked
    // under both spellings.
    let crm = Crm::new().await;
    let app = env.open_with(Env::telecom()).await;
    crm.attach(&app);
    let t = tree(&app).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let id = app
        .requests
        .file_request_by_identity(
            &dpo,
            by_email(&app, "Mixed.Case@Example.org", &[Right::Access]),
        )
        .await
        .expect("filed")
        .request
        .id;
    app.requests
        .attest_identity(&Principal::system("selfcare"), &id, portal())
        .await
        .expect("attested");
    let done = fulfil(&app, &dpo, &id).await;
    assert_eq!(job(&done, "access")["system_rows"], 1, "{done:?}");
    let zip = app
        .requests
        .request_export(&dpo, &id, Right::Access)
        .await
        .expect("package");
    let customers = rows_of(&systems_json(&zip), "customers");
    assert_eq!(customers.len(), 1);
    assert!(customers[0].to_string().contains("Mixed Case"));
    crm.drop().await;
    app.close().await;
}
