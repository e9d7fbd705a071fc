//! The breach register on SQLite and PostgreSQL: what issue 26's "done
//! when" lists, through the capability's public methods, with the server's
//! own mail relay client and a real SMTP peer for the notices.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;

use custode_breaches::{
    Amendment, Exemption, ExemptionGround, Facts, Nature, NewBreach, Notification, Scope,
};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{NewRecord, Principal, Role, Scope as Tree, SubjectId, TenantId};
use custode_ledger::NewConsentEvent;
use custode_policy::{Format, Lang};
use custode_store::StoreError;
use custode_testkit::smtp::SmtpPeer;
use custode_testkit::*;
use jiff::Timestamp;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn dpo() -> Principal {
    Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Tree::everything(),
    }
}

fn staff() -> Principal {
    Principal::system("ingest")
}

fn facts(categories: &[&str]) -> Facts {
    Facts {
        nature: vec![Nature::Confidentiality],
        description: "A mail server's log files were copied by an intruder.".into(),
        systems: vec!["mx1".into()],
        data_categories: categories.iter().map(|c| (*c).to_owned()).collect(),
        subject_kinds: vec![],
        approx_subjects: Some(3),
        approx_records: None,
        consequences: "Someone may learn when and from where the mailboxes were used.".into(),
        measures_taken: "The server was isolated and its credentials replaced.".into(),
        measures_proposed: "Logs are now sealed at rest.".into(),
        dpo_contact: String::new(),
    }
}

fn breach(tenant: &TenantId, categories: &[&str]) -> NewBreach {
    NewBreach {
        tenant: tenant.clone(),
        detected_at: Some(at("2025-12-31T10:00:00Z")),
        aware_at: Some(at("2025-12-31T12:00:00Z")),
        facts: facts(categories),
    }
}

/// A usage record (the e-mail host's access log line) collected at `when`.
fn log_line(ip: &str, when: &str) -> NewRecord {
    NewRecord {
        category: "usage".into(),
        fields: [
            ("ip_address", ip),
            ("access_time", when),
            ("access_method", "IMAP"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
        .collect(),
        source: "dovecot".into(),
        purposes: vec![],
        collected_at: Some(at(when)),
    }
}

async fn mailbox(app: &Custode, tenant: &TenantId) -> SubjectId {
    app.store
        .create_subject(&staff(), tenant, "mailbox_user", "test")
        .await
        .unwrap()
}

fn invalid(e: StoreError) -> String {
    match e {
        StoreError::Invalid(m) => m,
        other => panic!("expected a clear refusal, got {other:?}"),
    }
}

on_both_engines!(the_register_keeps_every_version_and_refuses_bad_input);
async fn the_register_keeps_every_version_and_refuses_bad_input(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let b = &app.breaches;

    let mut no_awareness = breach(&t.domain_a.id, &["usage"]);
    no_awareness.aware_at = None;
    let m = invalid(b.record(&dpo(), no_awareness).await.unwrap_err());
    assert!(m.contains("aware_at") && m.contains("Art. 33(1)"), "{m}");

    let m = invalid(
        b.record(&dpo(), breach(&t.domain_a.id, &["usage", "mail_logs"]))
            .await
            .unwrap_err(),
    );
    assert!(m.contains("`mail_logs`"), "{m}");
    assert!(
        m.contains("usage") && m.contains("contact"),
        "names the known ones: {m}"
    );

    let mut no_nature = breach(&t.domain_a.id, &["usage"]);
    no_nature.facts.nature.clear();
    assert!(invalid(b.record(&dpo(), no_nature).await.unwrap_err()).contains("nature"));

    let recorded = b
        .record(&dpo(), breach(&t.domain_a.id, &["usage"]))
        .await
        .unwrap();
    assert_eq!(recorded.version, 1);
    assert!(
        recorded.facts.dpo_contact.contains('@'),
        "the contact point defaults to the policy's DPO: {}",
        recorded.facts.dpo_contact
    );
    let amended = b
        .amend(
            &dpo(),
            &recorded.id,
            Amendment {
                description: Some("Log files of mx1 and mx2 were copied.".into()),
                systems: Some(vec!["mx1".into(), "mx2".into()]),
                ..Amendment::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(amended.version, 2);
    let versions = b.versions(&dpo(), &recorded.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].changed, ["recorded"]);
    assert_eq!(versions[1].changed, ["description", "systems"]);
    assert_eq!(versions[1].actor, "user:dpo");
    assert_eq!(
        versions[1].entry["facts"]["systems"],
        serde_json::json!(["mx1", "mx2"])
    );
    // An amendment that changes nothing is no version.
    let same = b
        .amend(
            &dpo(),
            &recorded.id,
            Amendment {
                systems: Some(vec!["mx2".into(), "mx1".into()]),
                ..Amendment::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(same.version, 2);
    let m = invalid(
        b.amend(
            &dpo(),
            &recorded.id,
            Amendment {
                data_categories: Some(vec!["passwords".into()]),
                ..Amendment::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(m.contains("`passwords`"), "{m}");

    // Each change was audited with it, and the chain holds.
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'breach.%' ORDER BY seq",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    assert_eq!(actions, ["breach.recorded", "breach.changed"]);
    assert!(app.store.audit_verify().await.unwrap().is_intact());
    app.close().await;
}

on_both_engines!(the_clock_runs_by_the_kind_of_provider);
async fn the_clock_runs_by_the_kind_of_provider(env: &Env) {
    // An e-mail host: 72 hours from awareness.
    let app = env.open().await;
    let t = tree(&app).await;
    let b = &app.breaches;
    let other = b
        .record(&dpo(), breach(&t.domain_a.id, &["usage"]))
        .await
        .unwrap();
    assert_eq!(other.clocks.authority_due, at("2026-01-03T12:00:00Z"));
    assert_eq!(
        other.clocks.hours_left,
        Some(60),
        "now is 2026-01-01T00:00Z"
    );
    assert!(!other.clocks.overdue);
    assert_eq!(b.health().await.unwrap().least_hours_left, Some(60));

    // Told after the deadline without a reason: refused (Art. 33(1)).
    env.clock.set(at("2026-01-04T09:00:00Z"));
    let shown = b.show(&dpo(), &other.id).await.unwrap();
    assert!(shown.clocks.overdue);
    assert_eq!(shown.clocks.hours_left, Some(-21));
    let health = b.health().await.unwrap();
    assert_eq!((health.unnotified, health.overdue), (1, 1));
    let late = Notification {
        at: at("2026-01-04T08:00:00Z"),
        complete: true,
        late_reason: None,
        reference: None,
    };
    let m = invalid(
        b.notify_authority(&dpo(), &other.id, late.clone())
            .await
            .unwrap_err(),
    );
    assert!(m.contains("late_reason") && m.contains("72 hours"), "{m}");
    let told = b
        .notify_authority(
            &dpo(),
            &other.id,
            Notification {
                late_reason: Some("The logs' owner was identified only on 3 January.".into()),
                ..late
            },
        )
        .await
        .unwrap();
    assert!(told.clocks.notified_late && !told.clocks.overdue);
    assert_eq!(
        told.clocks.follow_up_due, None,
        "the GDPR sets no follow-up date"
    );
    assert_eq!(b.health().await.unwrap().unnotified, 0);
    app.close().await;
}

on_both_engines!(a_telecom_has_24_hours_and_3_days_for_the_follow_up);
async fn a_telecom_has_24_hours_and_3_days_for_the_follow_up(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let b = &app.breaches;
    let recorded = b
        .record(&dpo(), breach(&t.domain_a.id, &["master_data"]))
        .await
        .unwrap();
    // Detected at 10:00 on 31 December: due 24 hours later.
    assert_eq!(recorded.clocks.authority_due, at("2026-01-01T10:00:00Z"));
    assert_eq!(recorded.clocks.hours_left, Some(10));
    let first = b
        .notify_authority(
            &dpo(),
            &recorded.id,
            Notification {
                at: at("2025-12-31T22:00:00Z"),
                complete: false,
                late_reason: None,
                reference: Some("GPDP-2025-0042".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(first.clocks.follow_up_due, Some(at("2026-01-03T22:00:00Z")));
    assert_eq!(first.clocks.follow_up_hours_left, Some(70));
    let health = b.health().await.unwrap();
    assert_eq!((health.unnotified, health.follow_ups_owed), (0, 1));
    // The follow-up four days on, without a reason: refused; with one, kept.
    env.clock.set(at("2026-01-04T22:00:00Z"));
    let follow = Notification {
        at: at("2026-01-04T21:00:00Z"),
        complete: true,
        late_reason: None,
        reference: None,
    };
    let m = invalid(
        b.notify_authority(&dpo(), &recorded.id, follow.clone())
            .await
            .unwrap_err(),
    );
    assert!(m.contains("3 days") && m.contains("late_reason"), "{m}");
    let done = b
        .notify_authority(
            &dpo(),
            &recorded.id,
            Notification {
                late_reason: Some("The forensic report came on 4 January.".into()),
                ..follow
            },
        )
        .await
        .unwrap();
    assert_eq!(
        done.follow_up.as_ref().map(|f| f.0),
        Some(at("2026-01-04T21:00:00Z"))
    );
    assert!(!done.clocks.follow_up_overdue);
    let doc = b
        .authority_notice(&dpo(), &recorded.id, Some(Lang::It))
        .await
        .unwrap()
        .render(Format::Markdown);
    assert!(doc.contains("Regolamento 611/2013"), "{doc}");
    assert!(doc.contains("24 ore dalla rilevazione"), "{doc}");
    assert!(
        doc.contains("The forensic report came on 4 January."),
        "{doc}"
    );
    app.close().await;
}

on_both_engines!(a_week_of_one_domains_mail_logs_resolves_to_exactly_its_people);
async fn a_week_of_one_domains_mail_logs_resolves_to_exactly_its_people(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let b = &app.breaches;
    // Domain A: two with log lines in the week, one only the week before,
    // one with only a contact record in the week; domain B: one in the week.
    let in_week = [
        mailbox(&app, &t.domain_a.id).await,
        mailbox(&app, &t.domain_a.id).await,
    ];
    let before = mailbox(&app, &t.domain_a.id).await;
    let contact_only = mailbox(&app, &t.domain_a.id).await;
    let other_domain = mailbox(&app, &t.domain_b.id).await;
    let mut batch = vec![
        (
            in_week[0].clone(),
            log_line("192.0.2.10", "2025-12-08T00:00:00Z"),
        ),
        (
            in_week[0].clone(),
            log_line("192.0.2.10", "2025-12-10T09:00:00Z"),
        ),
        (
            in_week[1].clone(),
            log_line("192.0.2.11", "2025-12-14T23:59:59Z"),
        ),
        (
            in_week[1].clone(),
            log_line("192.0.2.11", "2025-12-15T00:00:00Z"),
        ),
        (
            before.clone(),
            log_line("192.0.2.12", "2025-12-07T23:59:59Z"),
        ),
        (
            other_domain.clone(),
            log_line("192.0.2.13", "2025-12-09T12:00:00Z"),
        ),
    ];
    let mut card = contact("solo@a.example", "+39 06 1234567");
    card.collected_at = Some(at("2025-12-09T12:00:00Z"));
    batch.push((contact_only.clone(), card));
    app.store
        .write_records(&staff(), "test", batch)
        .await
        .unwrap();

    let recorded = b
        .record(&dpo(), breach(&t.domain_a.id, &["usage"]))
        .await
        .unwrap();
    let week = Scope {
        categories: vec!["usage".into()],
        collected_from: Some(at("2025-12-08T00:00:00Z")),
        collected_until: Some(at("2025-12-15T00:00:00Z")),
        ..Scope::default()
    };
    let a = b.assess(&dpo(), &recorded.id, week.clone()).await.unwrap();
    assert_eq!(a.subjects, 2);
    assert_eq!(a.records, 3);
    assert_eq!(a.counts.len(), 1);
    assert_eq!(a.counts[0].tenant, t.domain_a.id);
    assert_eq!(a.counts[0].category, "usage");
    assert!(
        a.query.starts_with("INSERT INTO breach_people"),
        "{}",
        a.query
    );
    assert!(a.scope["collected_from"].is_i64());
    let people: BTreeSet<SubjectId> = b
        .people(&dpo(), &recorded.id)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(people, in_week.iter().cloned().collect());

    // Stored with how it was computed, and read back.
    let again = b.assessment(&dpo(), &recorded.id).await.unwrap().unwrap();
    assert_eq!((again.id, again.subjects, again.records), (a.id, 2, 3));
    assert_eq!(again.query, a.query);

    // By identifier: only the person known by that address, in the window.
    let by_ip = b
        .assess(
            &dpo(),
            &recorded.id,
            Scope {
                identifiers: vec![
                    "ip_address:192.0.2.11".into(),
                    "ip_address:192.0.2.12".into(),
                ],
                ..week.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!((by_ip.subjects, by_ip.records), (1, 1));
    assert_eq!(
        b.people(&dpo(), &recorded.id).await.unwrap(),
        vec![in_week[1].clone()]
    );
    assert!(
        !by_ip.scope.to_string().contains("192.0.2"),
        "no identifier is stored in clear: {}",
        by_ip.scope
    );

    // The whole reseller's tree from a breach of the reseller.
    let wide = b
        .record(&dpo(), breach(&t.reseller.id, &["usage"]))
        .await
        .unwrap();
    let a = b
        .assess(
            &dpo(),
            &wide.id,
            Scope {
                tenants: vec![t.domain_a.id.clone(), t.domain_b.id.clone()],
                ..week.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!((a.subjects, a.counts.len()), (3, 2));

    // Bad scopes say what is wrong.
    let m = invalid(
        b.assess(&dpo(), &recorded.id, Scope::default())
            .await
            .unwrap_err(),
    );
    assert!(m.contains("scope is empty"), "{m}");
    let m = invalid(
        b.assess(
            &dpo(),
            &recorded.id,
            Scope {
                categories: vec!["mail_logs".into()],
                ..Scope::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(m.contains("`mail_logs`") && m.contains("usage"), "{m}");
    let m = invalid(
        b.assess(
            &dpo(),
            &recorded.id,
            Scope {
                tenants: vec![t.direct.id.clone()],
                ..week.clone()
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(m.contains("not under the breach's tenant"), "{m}");
    let m = invalid(
        b.assess(
            &dpo(),
            &recorded.id,
            Scope {
                identifiers: vec!["iban:IT60X0542811101000000123456".into()],
                ..Scope::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(m.contains("identifier 1") && m.contains("email"), "{m}");
    let m = invalid(
        b.assess(
            &dpo(),
            &recorded.id,
            Scope {
                collected_from: week.collected_until,
                collected_until: week.collected_from,
                ..Scope::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(m.contains("window"), "{m}");
    app.close().await;
}

on_both_engines!(a_resellers_dpo_sees_only_its_own_breaches);
async fn a_resellers_dpo_sees_only_its_own_breaches(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let b = &app.breaches;
    let mine = b
        .record(&dpo(), breach(&t.domain_a.id, &["usage"]))
        .await
        .unwrap();
    let theirs = b
        .record(&dpo(), breach(&t.direct.id, &["usage"]))
        .await
        .unwrap();
    let reseller_dpo = principal_of(&t.reseller, Role::Dpo);
    let listed: Vec<_> = b
        .list(&reseller_dpo)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(listed, vec![mine.id.clone()]);
    assert_eq!(b.list(&dpo()).await.unwrap().len(), 2);
    assert!(matches!(
        b.show(&reseller_dpo, &theirs.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        b.amend(
            &reseller_dpo,
            &theirs.id,
            Amendment {
                description: Some("x".into()),
                ..Amendment::default()
            }
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
    // Nor can it file one for a tenant outside its node.
    assert!(matches!(
        b.record(&reseller_dpo, breach(&t.direct.id, &["usage"]))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // Support agents cannot see the register at all.
    let agent = Principal {
        id: "user:agent".into(),
        role: Role::SupportAgent,
        scope: Tree::everything(),
    };
    assert!(matches!(
        b.list(&agent).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        b.show(&agent, &mine.id).await,
        Err(StoreError::Forbidden(_))
    ));
    // The administrator keeps the register but reads no personal data.
    assert_eq!(b.list(&admin()).await.unwrap().len(), 2);
    assert!(matches!(
        b.people(&admin(), &mine.id).await,
        Err(StoreError::Forbidden(_))
    ));
    let denied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert!(denied >= 5, "every refusal is audited: {denied}");
    app.close().await;
}

/// The server's own relay client, as the register's courier.
struct Relay(custode_server::mail::Mailer);

impl custode_breaches::Courier for Relay {
    async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        self.0
            .send(to, subject, body)
            .await
            .map_err(|e| e.to_string())
    }
}

fn given_in(lang: Lang) -> NewConsentEvent {
    NewConsentEvent {
        kind: EventKind::Given,
        purpose: Some("marketing".into()),
        channel: Channel::WebForm,
        language: Some(lang),
        evidence: Evidence::default(),
    }
}

on_both_engines!(each_person_is_told_in_their_language_unless_exempted);
async fn each_person_is_told_in_their_language_unless_exempted(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let b = &app.breaches;
    let peer = SmtpPeer::start(&env.dir);
    let relay = Relay(
        custode_server::mail::Mailer::new(
            &format!("smtp://127.0.0.1:{}", peer.port),
            "privacy@lineavallata.example",
            Default::default(),
        )
        .unwrap(),
    );
    let mut people = Vec::new();
    for (n, lang) in [Lang::Fr, Lang::Nl, Lang::En].into_iter().enumerate() {
        let s = app
            .store
            .create_subject(&staff(), &t.domain_a.id, "customer", "test")
            .await
            .unwrap();
        let email = format!("person{n}@a.example");
        app.store
            .write_records(
                &staff(),
                "test",
                vec![(s.clone(), master_data(&email, "Person"))],
            )
            .await
            .unwrap();
        app.ledger
            .record_consent(&staff(), &s, given_in(lang))
            .await
            .unwrap();
        people.push((s, email, lang));
    }
    // One with no consent: the policy's first language, Italian.
    let italian = app
        .store
        .create_subject(&staff(), &t.domain_a.id, "customer", "test")
        .await
        .unwrap();
    app.store
        .write_records(
            &staff(),
            "test",
            vec![(italian.clone(), master_data("persona@a.example", "Persona"))],
        )
        .await
        .unwrap();
    people.push((italian, "persona@a.example".into(), Lang::It));

    let recorded = b
        .record(&dpo(), breach(&t.domain_a.id, &["master_data"]))
        .await
        .unwrap();
    // Nobody is told before the people are computed.
    assert!(matches!(
        b.notify_people(&dpo(), &recorded.id, &relay).await,
        Err(StoreError::Conflict(_))
    ));
    let a = b
        .assess(
            &dpo(),
            &recorded.id,
            Scope {
                categories: vec!["master_data".into()],
                ..Scope::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(a.subjects, 4);
    let report = b.notify_people(&dpo(), &recorded.id, &relay).await.unwrap();
    assert_eq!(report.told, 4, "{report:?}");
    assert!(report.without_address.is_empty() && report.failed.is_empty());
    let mail = peer.messages();
    assert_eq!(mail.len(), 4);
    let expected = [
        (
            Lang::Fr,
            "une violation concernant vos données personnelles",
            "Données d'identité et de contact",
        ),
        (
            Lang::Nl,
            "een inbreuk die uw persoonsgegevens betreft",
            "Identiteits- en contactgegevens",
        ),
        (
            Lang::En,
            "a breach concerning your personal data",
            "Identity and contact data",
        ),
        (
            Lang::It,
            "una violazione che riguarda i suoi dati personali",
            "Dati anagrafici e di contatto",
        ),
    ];
    for (_, email, lang) in &people {
        let (_, subject, body) = mail
            .iter()
            .find(|(to, _, _)| to == email)
            .unwrap_or_else(|| panic!("no mail to {email}: {mail:?}"));
        let (_, title, category) = expected.iter().find(|(l, _, _)| l == lang).unwrap();
        assert!(subject.contains(title), "{lang:?}: {subject}");
        assert!(body.contains(category), "{lang:?}: {body}");
        assert!(
            body.contains("Garante per la protezione dei dati personali"),
            "{body}"
        );
        assert!(body.contains(&recorded.facts.description), "{body}");
    }
    // A rerun tells nobody twice.
    let again = b.notify_people(&dpo(), &recorded.id, &relay).await.unwrap();
    assert_eq!((again.told, again.already_told), (0, 4));
    assert_eq!(peer.messages().len(), 4);
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'breach.person_notified'",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(told, 4);
    // Once told, no exemption spares them.
    assert!(matches!(
        b.exempt(
            &dpo(),
            &recorded.id,
            Exemption {
                ground: ExemptionGround::Unintelligible,
                explanation: "x".into(),
                public_notice: None
            }
        )
        .await,
        Err(StoreError::Conflict(_))
    ));

    // A second breach whose data were sealed and whose keys were not taken.
    let sealed = b
        .record(&dpo(), breach(&t.domain_a.id, &["master_data"]))
        .await
        .unwrap();
    b.assess(
        &dpo(),
        &sealed.id,
        Scope {
            categories: vec!["master_data".into()],
            ..Scope::default()
        },
    )
    .await
    .unwrap();
    let m = invalid(
        b.exempt(
            &dpo(),
            &sealed.id,
            Exemption {
                ground: ExemptionGround::DisproportionateEffort,
                explanation: "Too many people.".into(),
                public_notice: None,
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(m.contains("public_notice") && m.contains("34(3)(c)"), "{m}");
    let exempted = b
        .exempt(
            &dpo(),
            &sealed.id,
            Exemption {
                ground: ExemptionGround::Unintelligible,
                explanation: "The copied rows are payloads sealed under keys kept in another database, which was not reached.".into(),
                public_notice: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        exempted.exemption.as_ref().map(|e| e.ground),
        Some(ExemptionGround::Unintelligible)
    );
    let report = b.notify_people(&dpo(), &sealed.id, &relay).await.unwrap();
    assert_eq!(report.exempted, Some(ExemptionGround::Unintelligible));
    assert_eq!(report.told, 0);
    assert_eq!(
        peer.messages().len(),
        4,
        "the exemption suppressed every mail"
    );
    let versions = b.versions(&dpo(), &sealed.id).await.unwrap();
    assert_eq!(versions.last().unwrap().changed, ["exemption"]);
    assert_eq!(
        versions.last().unwrap().entry["exemption"]["ground"],
        "unintelligible"
    );
    let doc = b
        .authority_notice(&dpo(), &sealed.id, Some(Lang::En))
        .await
        .unwrap()
        .render(Format::Html);
    assert!(doc.contains("Art. 34(3)(a)"), "{doc}");
    assert!(doc.contains("Identity and contact data"), "{doc}");
    assert!(doc.contains("24 hours from detection"), "{doc}");
    let first = b
        .authority_notice(&dpo(), &recorded.id, Some(Lang::En))
        .await
        .unwrap()
        .render(Format::Markdown);
    assert!(
        first.contains("4 people have been told individually"),
        "{first}"
    );
    app.close().await;
}
