//! Finding people and the trail of what was done with their data: a find
//! by identifier sees only the caller's scope and is audited; an identifier
//! kind the policy does not declare is refused and changes nothing; a
//! reseller lists only its part of the tree; a subject's trail lists
//! exactly the reads and changes of its data, the subject sees its own
//! (roles and purposes, no staff names) and no one else's, and it goes
//! into the access package — on SQLite and PostgreSQL.

use custode_accounts::Grant;
use custode_domain::requests::Right;
use custode_domain::{Principal, Role, Scope, SubjectId};
use custode_requests::{DocumentKind, FulfilmentInput, NewRequest, Requester};
use custode_store::StoreError;
use custode_testkit::*;
use custode_trail::{TrailFilter, TrailView};

/// A principal of `role` over `path` acting through a real token, so the
/// trail can name its holder and role.
async fn staff(app: &Custode, role: Role, path: &str, holder: &str) -> Principal {
    token_for(app, role, path, None, holder).await
}

async fn token_for(
    app: &Custode,
    role: Role,
    path: &str,
    subject: Option<SubjectId>,
    holder: &str,
) -> Principal {
    let issued = app
        .accounts
        .issue_held_token(
            &admin(),
            holder,
            holder,
            &Grant {
                role,
                scope_path: path.to_owned(),
                subject,
            },
            None,
        )
        .await
        .expect("token");
    app.accounts
        .authenticate_token(&issued.token)
        .await
        .expect("authenticates")
}

/// A contact record with an e-mail address alone.
fn email_only(email: &str) -> custode_domain::NewRecord {
    let mut record = contact(email, "+39 055 0000000");
    record.fields.remove("phone");
    record
}

async fn audit_rows(app: &Custode) -> i64 {
    sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    )
}

on_both_engines!(a_find_by_email_sees_only_the_callers_scope_and_is_audited);
async fn a_find_by_email_sees_only_the_callers_scope_and_is_audited(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let sys = Principal::system("test");
    let in_a = app
        .store
        .create_subject(&sys, &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("a");
    let in_b = app
        .store
        .create_subject(&sys, &t.domain_b.id, "mailbox_user", "signup")
        .await
        .expect("b");
    let direct = app
        .store
        .create_subject(&sys, &t.direct.id, "mailbox_user", "signup")
        .await
        .expect("direct");
    // The same address in A and B (a family's), another one directly.
    app.store
        .write_records(
            &sys,
            "signup",
            vec![
                (
                    in_a.clone(),
                    contact("mario.rossi@example.com", "+39 055 1234567"),
                ),
                (in_b.clone(), email_only("mario.rossi@example.com")),
                (direct.clone(), email_only("anna@example.org")),
            ],
        )
        .await
        .expect("write");

    let reseller = staff(&app, Role::ResellerAdmin, &t.reseller.path, "Rita Reseller").await;
    let found = app
        .finder
        .find_by_identifier(&reseller, "email", " Mario.Rossi@Example.COM ", "ticket 7")
        .await
        .expect("find");
    let mut ids: Vec<SubjectId> = found.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    let mut both = vec![in_a.clone(), in_b.clone()];
    both.sort();
    assert_eq!(ids, both, "both of the reseller's customers with it");
    assert_eq!(found[0].kind, "mailbox_user");

    let domain_a = staff(&app, Role::DomainAdmin, &t.domain_a.path, "Dario Domain").await;
    let found = app
        .finder
        .find_by_identifier(&domain_a, "email", "mario.rossi@example.com", "ticket 8")
        .await
        .expect("find");
    assert_eq!(
        found.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![in_a.clone()],
        "domain A's admin finds its own customer and not B's"
    );
    let direct_admin = staff(&app, Role::DomainAdmin, &t.direct.path, "Other").await;
    assert!(
        app.finder
            .find_by_identifier(&direct_admin, "email", "mario.rossi@example.com", "t")
            .await
            .expect("find")
            .is_empty(),
        "outside the scope, nobody is there"
    );
    // By phone, in another spelling.
    let found = app
        .finder
        .find_by_identifier(&reseller, "phone", "0039 055 123-4567", "ticket 9")
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, in_a);

    // Each subject found has its entry, with the kind and the reason and
    // never the address; a find that found nobody is audited too.
    let log = app.store.audit_of_subject(&in_a, 50).await.expect("audit");
    let finds: Vec<&custode_audit::Entry> = log
        .iter()
        .filter(|e| e.body.contains("\"subject.found\""))
        .collect();
    assert_eq!(finds.len(), 3, "by the reseller twice and domain A once");
    for e in &finds {
        assert!(!e.body.to_lowercase().contains("mario"), "{}", e.body);
    }
    assert!(finds.iter().any(|e| e.body.contains(&reseller.id)
        && e.body.contains("ticket 7")
        && e.body.contains("\"by\":\"email\"")));
    let nobody: i64 = sqlx::Row::get(
        &sqlx::query(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'subject.found' AND subject_id IS NULL AND actor = $1",
        )
        .bind(&direct_admin.id)
        .fetch_one(app.store.pool())
        .await
        .expect("count"),
        0,
    );
    assert_eq!(nobody, 1);

    // An erased subject is not found any more.
    app.store
        .erase_subject(&sys, &in_b, "request")
        .await
        .expect("erase");
    let found = app
        .finder
        .find_by_identifier(&reseller, "email", "mario.rossi@example.com", "t")
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    app.close().await;
}

on_both_engines!(an_undeclared_identifier_kind_is_refused_and_changes_nothing);
async fn an_undeclared_identifier_kind_is_refused_and_changes_nothing(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let dpo = staff(&app, Role::Dpo, &t.provider.path, "Dora DPO").await;
    let before = audit_rows(&app).await;
    for (kind, value, reason) in [
        // Known to Custode, not declared by the e-mail hosting policy.
        ("tax_code", "RSSMRA80A01H501U", "t"),
        ("shoe_size", "42", "t"),
        ("email", "   ", "t"),
        ("email", "mario@example.com", " "),
    ] {
        match app
            .finder
            .find_by_identifier(&dpo, kind, value, reason)
            .await
        {
            Err(StoreError::Invalid(m)) => {
                if kind != "email" {
                    assert!(
                        m.contains(&format!("`{kind}`"))
                            && m.contains("email, phone, vat_number, ip_address, username"),
                        "{m}"
                    );
                }
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
    assert_eq!(audit_rows(&app).await, before, "nothing recorded");
    app.close().await;
}

on_both_engines!(a_reseller_lists_only_its_domains);
async fn a_reseller_lists_only_its_domains(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let sys = Principal::system("test");
    app.store
        .create_subjects(&sys, &t.domain_a.id, "mailbox_user", 3, "signup")
        .await
        .expect("a");
    let gone = app
        .store
        .create_subject(&sys, &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("a");
    app.store
        .erase_subject(&sys, &gone, "t")
        .await
        .expect("erase");
    app.store
        .create_subject(&sys, &t.domain_b.id, "mailbox_user", "signup")
        .await
        .expect("b");
    app.store
        .create_subject(&sys, &t.direct.id, "mailbox_user", "signup")
        .await
        .expect("direct");

    let reseller = principal_of(&t.reseller, Role::ResellerAdmin);
    let listed = app
        .finder
        .list_tenants(&reseller, None, 100)
        .await
        .expect("list");
    // Tree order: the reseller, then its domains (siblings by id).
    let names: Vec<&str> = listed.iter().map(|l| l.tenant.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "reseller");
    let mut domains = names[1..].to_vec();
    domains.sort_unstable();
    assert_eq!(domains, ["a.example", "b.example"]);
    assert_eq!(listed[0].children.get("domain"), Some(&2));
    assert!(listed[0].subjects.is_empty());
    let count = |name: &str| {
        listed
            .iter()
            .find(|l| l.tenant.name == name)
            .and_then(|l| l.subjects.get("mailbox_user").copied())
    };
    assert_eq!(count("a.example"), Some(3), "the erased one is not counted");
    assert_eq!(count("b.example"), Some(1));

    let everything = app
        .finder
        .list_tenants(&admin(), None, 100)
        .await
        .expect("all");
    assert_eq!(everything.len(), 5);
    assert_eq!(everything[0].tenant.id, t.provider.id, "the root first");
    assert_eq!(everything[0].children.get("reseller"), Some(&1));
    assert_eq!(everything[0].children.get("domain"), Some(&1));
    // Paged in tree order.
    let first = app
        .finder
        .list_tenants(&admin(), None, 2)
        .await
        .expect("page");
    let rest = app
        .finder
        .list_tenants(&admin(), Some(&first[1].tenant.id), 100)
        .await
        .expect("page");
    let paged: Vec<_> = first
        .iter()
        .chain(&rest)
        .map(|l| l.tenant.id.clone())
        .collect();
    let whole: Vec<_> = everything.iter().map(|l| l.tenant.id.clone()).collect();
    assert_eq!(paged, whole);
    // A tenant outside the scope cannot be a cursor: not found.
    assert!(matches!(
        app.finder
            .list_tenants(&reseller, Some(&t.direct.id), 10)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let domain = principal_of(&t.domain_a, Role::DomainAdmin);
    let own = app
        .finder
        .list_tenants(&domain, None, 100)
        .await
        .expect("own");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].tenant.id, t.domain_a.id);
    let me = Principal {
        id: "subject".into(),
        role: Role::Subject,
        scope: Scope::subject(&t.domain_a.path, SubjectId::generate()),
    };
    assert!(
        app.finder
            .list_tenants(&me, None, 100)
            .await
            .expect("none")
            .is_empty()
    );
    app.close().await;
}

fn actions(trail: &custode_trail::Trail) -> Vec<&str> {
    trail.entries.iter().map(|e| e.action.as_str()).collect()
}

on_both_engines!(a_subjects_trail_lists_exactly_the_reads_and_changes_of_its_data);
async fn a_subjects_trail_lists_exactly_the_reads_and_changes_of_its_data(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let agent = staff(&app, Role::SupportAgent, &t.provider.path, "Sara Support").await;
    let dpo = staff(&app, Role::Dpo, &t.provider.path, "Dora DPO").await;
    let outsider = staff(&app, Role::DomainAdmin, &t.domain_b.path, "Bruno B").await;
    let mine = app
        .store
        .create_subject(&agent, &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject");
    let other = app
        .store
        .create_subject(&agent, &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("other");
    app.store
        .write_records(
            &agent,
            "signup form",
            vec![(mine.clone(), email_only("anna@example.org"))],
        )
        .await
        .expect("write");
    env.clock.advance(jiff::SignedDuration::from_hours(24));
    app.store
        .records(&agent, &mine, "ticket 42: cannot log in")
        .await
        .expect("read");
    // Refused: out of B's admin's scope.
    assert!(
        app.store
            .records(&outsider, &mine, "curious")
            .await
            .is_err()
    );
    app.finder
        .find_by_identifier(&dpo, "email", "anna@example.org", "complaint 3")
        .await
        .expect("find");
    // Things done to the other subject stay out of this one's trail.
    app.store
        .write_records(
            &agent,
            "signup form",
            vec![(other.clone(), email_only("zeno@example.org"))],
        )
        .await
        .expect("write");
    app.store
        .records(&dpo, &other, "audit")
        .await
        .expect("read other");

    let all = TrailFilter::default();
    let trail = app
        .trail
        .subject_trail(&dpo, &mine, &all, "review")
        .await
        .expect("trail");
    assert_eq!(trail.view, TrailView::Staff);
    assert_eq!(
        actions(&trail),
        [
            "subject.created",
            "records.written",
            "records.read",
            "access.denied",
            "subject.found"
        ]
    );
    let read = &trail.entries[2];
    assert_eq!(read.kind, "read");
    assert_eq!(read.role, "support_agent");
    assert_eq!(read.actor.as_deref(), Some(agent.id.as_str()));
    assert_eq!(read.actor_name.as_deref(), Some("Sara Support"));
    assert_eq!(read.reason.as_deref(), Some("ticket 42: cannot log in"));
    assert_eq!(read.at.to_string(), "2026-01-02T00:00:00Z");
    assert_eq!(read.categories, ["contact"], "which of its data were read");
    assert_eq!(trail.entries[1].categories, ["contact"]);
    assert_eq!(trail.entries[1].records, Some(1));
    assert_eq!(trail.entries[3].kind, "refused");
    assert_eq!(trail.entries[3].role, "domain_admin");
    assert_eq!(trail.entries[4].role, "dpo");
    assert!(trail.note.is_none());

    // The subject sees its own: the reads and changes (and the DPO's
    // review of the trail, itself a read), by role and purpose, without
    // names, details or refusals.
    let me = token_for(
        &app,
        Role::Subject,
        &t.domain_a.path,
        Some(mine.clone()),
        "Anna",
    )
    .await;
    let own = app
        .trail
        .subject_trail(&me, &mine, &all, "my own")
        .await
        .expect("own trail");
    assert_eq!(own.view, TrailView::Subject);
    assert_eq!(
        actions(&own),
        [
            "subject.created",
            "records.written",
            "records.read",
            "subject.found",
            "audit.trail_read"
        ]
    );
    for e in &own.entries {
        assert!(e.actor.is_none() && e.actor_name.is_none() && e.detail.is_none());
    }
    assert_eq!(own.entries[2].role, "support_agent");
    assert_eq!(
        own.entries[2].reason.as_deref(),
        Some("ticket 42: cannot log in")
    );
    assert_eq!(own.entries[4].role, "dpo");
    assert!(own.note.is_some_and(|n| n.contains("role")));
    let json = own.to_json().to_string();
    assert!(
        !json.contains("Sara") && !json.contains(&agent.id),
        "{json}"
    );
    let csv = String::from_utf8(own.to_csv().expect("csv")).expect("utf-8");
    assert!(csv.starts_with("seq,at,kind,action,role,reason,categories,records\r\n"));
    assert!(csv.contains("ticket 42: cannot log in") && !csv.contains("Sara"));

    // And no one else's: another subject is not found, and the attempt is
    // in that subject's trail as a refusal.
    match app.trail.subject_trail(&me, &other, &all, "peek").await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    let others = app
        .trail
        .subject_trail(&dpo, &other, &all, "review")
        .await
        .expect("trail");
    assert_eq!(
        actions(&others),
        [
            "subject.created",
            "records.written",
            "records.read",
            "access.denied"
        ]
    );
    assert_eq!(others.entries[3].actor.as_deref(), Some(me.id.as_str()));

    // Filters: by action, by actor, by time; bad ones refused.
    let reads = app
        .trail
        .subject_trail(
            &dpo,
            &mine,
            &TrailFilter {
                action: Some("records.read".into()),
                ..TrailFilter::default()
            },
            "review",
        )
        .await
        .expect("reads");
    assert_eq!(actions(&reads), ["records.read"]);
    let by_dpo = app
        .trail
        .subject_trail(
            &dpo,
            &mine,
            &TrailFilter {
                actor: Some(dpo.id.clone()),
                ..TrailFilter::default()
            },
            "review",
        )
        .await
        .expect("by actor");
    assert_eq!(
        actions(&by_dpo),
        ["subject.found", "audit.trail_read", "audit.trail_read"]
    );
    let day_one = app
        .trail
        .subject_trail(
            &dpo,
            &mine,
            &TrailFilter {
                until: Some(custode_trail::parse_until("2026-01-01").expect("day")),
                ..TrailFilter::default()
            },
            "review",
        )
        .await
        .expect("day one");
    assert_eq!(actions(&day_one), ["subject.created", "records.written"]);
    let before = audit_rows(&app).await;
    for bad in [
        TrailFilter {
            action: Some("records.stolen".into()),
            ..TrailFilter::default()
        },
        TrailFilter {
            limit: 10_001,
            ..TrailFilter::default()
        },
    ] {
        assert!(matches!(
            app.trail.subject_trail(&dpo, &mine, &bad, "r").await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        app.trail
            .subject_trail(
                &me,
                &mine,
                &TrailFilter {
                    actor: Some(agent.id.clone()),
                    ..TrailFilter::default()
                },
                "r"
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(audit_rows(&app).await, before, "bad filters record nothing");

    // Paging: two at a time gives the same entries.
    let mut paged = Vec::new();
    let mut filter = TrailFilter {
        limit: 2,
        ..TrailFilter::default()
    };
    loop {
        let page = app
            .trail
            .subject_trail(&dpo, &mine, &filter, "paging")
            .await
            .expect("page");
        paged.extend(page.entries.iter().map(|e| e.seq));
        match page.next {
            Some(n) => filter.after = Some(n),
            None => break,
        }
    }
    let whole = app
        .trail
        .subject_trail(&dpo, &mine, &TrailFilter::default(), "whole")
        .await
        .expect("whole");
    let whole: Vec<i64> = whole.entries.iter().map(|e| e.seq).collect();
    assert_eq!(&paged[..], &whole[..paged.len()]);
    app.close().await;
}

on_both_engines!(the_access_package_holds_the_subjects_own_trail);
async fn the_access_package_holds_the_subjects_own_trail(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let agent = staff(&app, Role::SupportAgent, &t.provider.path, "Sara Support").await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let s = app
        .store
        .create_subject(&agent, &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject");
    app.store
        .write_records(
            &agent,
            "signup form",
            vec![(s.clone(), email_only("anna@example.org"))],
        )
        .await
        .expect("write");
    app.store
        .records(&agent, &s, "ticket 42")
        .await
        .expect("read");
    let filed = app
        .requests
        .file_request(
            &dpo,
            NewRequest {
                subject: s.clone(),
                rights: vec![Right::Access],
                requester: Requester::Subject,
                contact: "anna@example.org".into(),
                text: "A copy of my data, please.".into(),
                language: None,
            },
        )
        .await
        .expect("file");
    app.requests
        .put_document(
            &dpo,
            &filed.id,
            DocumentKind::IdDocument,
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
        .queue_fulfilment(&dpo, &filed.id, FulfilmentInput::default())
        .await
        .expect("queue");
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");
    let zip = app
        .requests
        .request_export(&dpo, &filed.id, Right::Access)
        .await
        .expect("package");
    let names = members(&zip);
    assert_eq!(
        &names[..2],
        ["records.json", "records.csv"],
        "the files that were there come first, unchanged"
    );
    assert!(names.iter().any(|n| n == "audit-trail.json"), "{names:?}");
    let csv = String::from_utf8(member(&zip, "audit-trail.csv")).expect("utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "seq,at,kind,action,role,reason,categories,records"
    );
    assert!(
        lines.iter().any(|l| l.contains("records.read")
            && l.contains("support_agent")
            && l.contains("ticket 42")),
        "{csv}"
    );
    assert!(!csv.contains("Sara") && !csv.contains(&agent.id), "{csv}");
    let json: serde_json::Value =
        serde_json::from_slice(&member(&zip, "audit-trail.json")).expect("json");
    assert_eq!(json["view"], "subject");
    assert_eq!(json["subject"], s.as_str());
    assert!(
        json["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["action"] == "request.filed")
    );
    app.close().await;
}

/// The names of a stored ZIP's members, in order, read with Python's
/// standard library.
fn members(zip: &[u8]) -> Vec<String> {
    let out = python(
        zip,
        "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        None,
    );
    String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn member(zip: &[u8], name: &str) -> Vec<u8> {
    python(
        zip,
        "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))",
        Some(name),
    )
}

fn python(zip: &[u8], script: &str, arg: Option<&str>) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("custode-trail-{}.zip", SubjectId::generate()));
    std::fs::write(&path, zip).expect("write");
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", script]).arg(&path);
    if let Some(a) = arg {
        cmd.arg(a);
    }
    let out = cmd.output().expect("python3");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
