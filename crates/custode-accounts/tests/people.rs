//! People and their credentials, as the administrator and the invitee meet
//! them: an invitation by e-mail works once and expires, the roles that need
//! a second factor cannot finish without one, a disabled person's sessions
//! and tokens stop at once, a legal officer enrolled this way reads the
//! vault, bad input changes nothing; and a subject logs in to its portal
//! with a code mailed to an address it is known by.

use std::collections::BTreeMap;

use custode_accounts::{Grant, Invitation, PersonState};
use custode_domain::{NewRecord, Principal, Role, Scope, SubjectId};
use custode_store::{Credential, LifeEvent, StoreError};
use custode_testkit::*;
use custode_vault::{VaultOrder, VaultTarget};
use jiff::SignedDuration;
use sqlx::Row;

const PASSWORD: &str = "correct horse battery staple";

fn now_secs(env: &Env) -> u64 {
    u64::try_from(custode_domain::Clock::now(&*env.clock).as_second()).expect("after 1970")
}

/// A code the authenticator shows half a minute later (each works once).
fn fresh_code(env: &Env, secret: &[u8; 20]) -> String {
    env.clock.advance(SignedDuration::from_secs(30));
    custode_crypto::totp::code_at(secret, now_secs(env))
}

/// Accepts an invitation as the invitee would: enrols TOTP when the role
/// needs it, then sets the password with the authenticator's code. Returns
/// the TOTP secret, if any.
async fn accept(env: &Env, app: &Custode, inv: &Invitation) -> Option<[u8; 20]> {
    let info = app
        .accounts
        .invitation(&inv.token)
        .await
        .expect("valid link");
    assert_eq!(info.email, inv.email);
    assert_eq!(info.role, inv.role);
    if !info.second_factor_required {
        app.accounts
            .accept_invitation(&inv.token, PASSWORD, None)
            .await
            .expect("accept");
        return None;
    }
    let (secret, uri) = app
        .accounts
        .invitation_totp(&inv.token)
        .await
        .expect("enrol");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let secret = custode_crypto::totp::secret_from_base32(&secret).expect("160 bits");
    app.accounts
        .accept_invitation(&inv.token, PASSWORD, Some(&fresh_code(env, &secret)))
        .await
        .expect("accept");
    Some(secret)
}

async fn count(app: &Custode, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(app.store.pool())
        .await
        .expect("count")
        .get(0)
}

async fn refusals(app: &Custode, attempt: &str) -> usize {
    let rows = sqlx::query("SELECT body FROM audit_log WHERE action = 'access.denied'")
        .fetch_all(app.store.pool())
        .await
        .expect("audit");
    rows.iter()
        .filter(|r| {
            r.get::<String, _>(0)
                .contains(&format!("\"attempt\":\"{attempt}\""))
        })
        .count()
}

fn refused_invitation<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::Unauthenticated(Credential::Invitation))),
        "{r:?}"
    );
}

on_both_engines!(an_invited_dpo_enrols_totp_logs_in_and_works);
async fn an_invited_dpo_enrols_totp_logs_in_and_works(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let inv = app
        .accounts
        .invite_person(&admin(), " Dana.DPO@Example.org ", Role::Dpo, None)
        .await
        .expect("invite");
    assert_eq!(inv.email, "dana.dpo@example.org", "the address, normalised");
    assert!(inv.token.starts_with("inv_"));
    let listed = app.accounts.list_people(&admin()).await.expect("list");
    let dana = listed.iter().find(|p| p.id == inv.user_id).expect("listed");
    assert_eq!(dana.state, PersonState::Invited);
    assert!(dana.invitation_expires_at.is_some());
    assert!(!dana.second_factor);

    // Invited, not yet a person who can log in.
    assert!(
        app.accounts
            .login(&inv.email, PASSWORD, None)
            .await
            .is_err()
    );
    // A DPO cannot finish without a second factor.
    let without = app
        .accounts
        .accept_invitation(&inv.token, PASSWORD, None)
        .await;
    assert!(
        matches!(&without, Err(StoreError::Invalid(m)) if m.contains("second factor")),
        "{without:?}"
    );
    // Nor with a short password.
    assert!(matches!(
        app.accounts
            .accept_invitation(&inv.token, "short", None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let secret = accept(env, &app, &inv).await.expect("a DPO enrols TOTP");

    // Logs in with password and a fresh code; not without the code.
    assert!(
        app.accounts
            .login(&inv.email, PASSWORD, None)
            .await
            .is_err()
    );
    let session = app
        .accounts
        .login(&inv.email, PASSWORD, Some(&fresh_code(env, &secret)))
        .await
        .expect("login");
    assert_eq!(session.principal.role, Role::Dpo);
    let dpo = app
        .accounts
        .authenticate_session(&session.id, None)
        .await
        .expect("session");
    assert_eq!(dpo.id, format!("user:{}", inv.user_id));

    // And works: reads a customer's records in its scope.
    let system = Principal::system("test");
    let s = app
        .store
        .create_subject(&system, &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject");
    app.store
        .write_records(
            &system,
            "signup",
            vec![(s.clone(), contact("c@a.example", "+390612345678"))],
        )
        .await
        .expect("write");
    let records = app
        .store
        .records(&dpo, &s, "a complaint to answer")
        .await
        .expect("read");
    assert_eq!(records.len(), 1);

    let listed = app.accounts.list_people(&admin()).await.expect("list");
    let dana = listed.iter().find(|p| p.id == inv.user_id).expect("listed");
    assert_eq!(dana.state, PersonState::Active);
    assert!(dana.second_factor);
    assert!(dana.invitation_expires_at.is_none());
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(an_invitation_reused_or_expired_is_refused);
async fn an_invitation_reused_or_expired_is_refused(env: &Env) {
    let app = env.open().await;
    let inv = app
        .accounts
        .invite_person(&admin(), "sam@example.org", Role::SupportAgent, None)
        .await
        .expect("invite");
    assert!(accept(env, &app, &inv).await.is_none(), "no 2FA needed");
    // Used once: refused after, whatever is sent.
    refused_invitation(
        app.accounts
            .accept_invitation(&inv.token, PASSWORD, None)
            .await,
    );
    refused_invitation(app.accounts.invitation(&inv.token).await);
    refused_invitation(app.accounts.invitation_totp(&inv.token).await);

    // Expired: refused at the second it ends.
    let late = app
        .accounts
        .invite_person(&admin(), "late@example.org", Role::SupportAgent, None)
        .await
        .expect("invite");
    env.clock.set(late.expires_at);
    refused_invitation(
        app.accounts
            .accept_invitation(&late.token, PASSWORD, None)
            .await,
    );
    assert!(
        app.accounts
            .login("late@example.org", PASSWORD, None)
            .await
            .is_err()
    );

    // Re-invited: the old link stops, the new one works.
    let again = app
        .accounts
        .reinvite_person(&admin(), &late.user_id)
        .await
        .expect("reinvite");
    refused_invitation(
        app.accounts
            .accept_invitation(&late.token, PASSWORD, None)
            .await,
    );
    accept(env, &app, &again).await;
    app.accounts
        .login("late@example.org", PASSWORD, None)
        .await
        .expect("login after the new link");
    // An accepted person is not re-invited.
    assert!(matches!(
        app.accounts.reinvite_person(&admin(), &late.user_id).await,
        Err(StoreError::Conflict(_))
    ));

    // A forged secret for a real id, and garbage, are refused alike.
    let (id, _) = again.token.split_once('.').expect("id.secret");
    refused_invitation(
        app.accounts
            .accept_invitation(&format!("{id}.{}", "0".repeat(64)), PASSWORD, None)
            .await,
    );
    refused_invitation(app.accounts.invitation("inv_nonsense").await);
    assert!(
        refusals(&app, "invitation").await >= 6,
        "every refusal audited"
    );
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(an_authenticator_enrolled_through_a_superseded_link_is_worth_nothing);
/// Whoever held an earlier invitation link (forwarded, intercepted) and
/// enrolled an authenticator with it gets no second factor of the person:
/// a re-invitation forgets that enrolment, and so does an acceptance that
/// confirms none. Otherwise its codes would pass the vault's fresh factor.
async fn an_authenticator_enrolled_through_a_superseded_link_is_worth_nothing(env: &Env) {
    let app = env.open().await;
    let first = app
        .accounts
        .invite_person(&admin(), "lena@example.org", Role::SupportAgent, None)
        .await
        .expect("invite");
    let (stale, _) = app
        .accounts
        .invitation_totp(&first.token)
        .await
        .expect("enrolled by the link's holder");
    let stale = custode_crypto::totp::secret_from_base32(&stale).expect("160 bits");
    let again = app
        .accounts
        .reinvite_person(&admin(), &first.user_id)
        .await
        .expect("reinvite");
    assert!(matches!(
        custode_accounts::check_totp(&app.store, &first.user_id, &fresh_code(env, &stale)).await,
        Err(StoreError::SecondFactorRequired)
    ));

    // The new link's holder enrols too, then accepts without confirming.
    app.accounts
        .invitation_totp(&again.token)
        .await
        .expect("enrolled, never confirmed");
    app.accounts
        .accept_invitation(&again.token, PASSWORD, None)
        .await
        .expect("accept");
    assert!(
        app.store
            .keys()
            .totp(&first.user_id)
            .await
            .expect("key store")
            .is_none()
    );
    app.close().await;
}

on_both_engines!(a_disabled_persons_sessions_and_tokens_stop_at_once);
async fn a_disabled_persons_sessions_and_tokens_stop_at_once(env: &Env) {
    let app = env.open().await;
    let inv = app
        .accounts
        .invite_person(&admin(), "ada@example.org", Role::Administrator, None)
        .await
        .expect("invite");
    let secret = accept(env, &app, &inv)
        .await
        .expect("an administrator enrols");
    let session = app
        .accounts
        .login(&inv.email, PASSWORD, Some(&fresh_code(env, &secret)))
        .await
        .expect("login");
    let ada = session.principal.clone();
    let token = app
        .accounts
        .issue_token(
            &ada,
            "ada's script",
            &Grant {
                role: Role::Administrator,
                scope_path: "/".into(),
                subject: None,
            },
            None,
        )
        .await
        .expect("token");
    // Both work, and the token is now in the cache.
    app.accounts
        .authenticate_token(&token.token)
        .await
        .expect("token works");
    app.accounts
        .authenticate_session(&session.id, None)
        .await
        .expect("session works");

    // Nobody disables themselves.
    assert!(matches!(
        app.accounts.disable_person(&ada, &inv.user_id).await,
        Err(StoreError::Conflict(_))
    ));
    app.accounts
        .disable_person(&admin(), &inv.user_id)
        .await
        .expect("disable");
    assert!(
        app.accounts
            .authenticate_session(&session.id, None)
            .await
            .is_err(),
        "the session stops at once"
    );
    assert!(
        app.accounts.authenticate_token(&token.token).await.is_err(),
        "the token stops at once, cache or not"
    );
    assert!(
        app.accounts
            .login(&inv.email, PASSWORD, Some(&fresh_code(env, &secret)))
            .await
            .is_err(),
        "no new session"
    );
    let listed = app.accounts.list_people(&admin()).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .find(|p| p.id == inv.user_id)
            .expect("listed")
            .state,
        PersonState::Disabled
    );

    // Enabled again: a new login works, the old credentials stay dead.
    app.accounts
        .enable_person(&admin(), &inv.user_id)
        .await
        .expect("enable");
    app.accounts
        .login(&inv.email, PASSWORD, Some(&fresh_code(env, &secret)))
        .await
        .expect("login again");
    assert!(
        app.accounts
            .authenticate_session(&session.id, None)
            .await
            .is_err()
    );
    assert!(app.accounts.authenticate_token(&token.token).await.is_err());
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(a_role_change_and_a_second_factor_reset_end_the_old_grant);
async fn a_role_change_and_a_second_factor_reset_end_the_old_grant(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let inv = app
        .accounts
        .invite_person(
            &admin(),
            "lee@example.org",
            Role::SupportAgent,
            Some(&t.domain_a.id),
        )
        .await
        .expect("invite");
    accept(env, &app, &inv).await;
    let session = app
        .accounts
        .login(&inv.email, PASSWORD, None)
        .await
        .expect("login");
    assert_eq!(session.principal.scope.path(), t.domain_a.path);

    app.accounts
        .change_person(
            &admin(),
            &inv.user_id,
            Some(Role::Dpo),
            Some(&t.reseller.id),
        )
        .await
        .expect("change");
    assert!(
        app.accounts
            .authenticate_session(&session.id, None)
            .await
            .is_err(),
        "the old grant's session ends"
    );
    // A DPO now: logs in only with a second factor, enrolled with the password.
    assert!(matches!(
        app.accounts.login(&inv.email, PASSWORD, None).await,
        Err(StoreError::SecondFactorRequired)
    ));
    let (secret, _) = app
        .accounts
        .enroll_totp(&inv.email, PASSWORD)
        .await
        .expect("enrol");
    let secret = custode_crypto::totp::secret_from_base32(&secret).expect("160 bits");
    app.accounts
        .confirm_totp(&inv.email, PASSWORD, &fresh_code(env, &secret))
        .await
        .expect("confirm");
    let session = app
        .accounts
        .login(&inv.email, PASSWORD, Some(&fresh_code(env, &secret)))
        .await
        .expect("login as DPO");
    assert_eq!(session.principal.role, Role::Dpo);
    assert_eq!(session.principal.scope.path(), t.reseller.path);

    // Lost phone: reset by another administrator, never by oneself.
    let other = app
        .accounts
        .invite_person(&admin(), "root2@example.org", Role::Administrator, None)
        .await
        .expect("invite");
    let root2_secret = accept(env, &app, &other).await.expect("enrolled");
    let root2 = app
        .accounts
        .login(
            &other.email,
            PASSWORD,
            Some(&fresh_code(env, &root2_secret)),
        )
        .await
        .expect("login")
        .principal;
    assert!(matches!(
        app.accounts
            .reset_second_factor(&root2, &other.user_id)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(
        matches!(
            app.accounts
                .reset_second_factor(&session.principal, &inv.user_id)
                .await,
            Err(StoreError::Forbidden(_))
        ),
        "a DPO does not reset factors"
    );
    app.accounts
        .reset_second_factor(&root2, &inv.user_id)
        .await
        .expect("reset");
    assert!(
        app.accounts
            .authenticate_session(&session.id, None)
            .await
            .is_err()
    );
    assert!(
        app.accounts
            .login(&inv.email, PASSWORD, Some(&fresh_code(env, &secret)))
            .await
            .is_err(),
        "the old authenticator no longer opens"
    );
    let listed = app.accounts.list_people(&admin()).await.expect("list");
    assert!(
        !listed
            .iter()
            .find(|p| p.id == inv.user_id)
            .expect("listed")
            .second_factor
    );
    let resets = sqlx::query("SELECT actor, body FROM audit_log WHERE action = 'access.revoked'")
        .fetch_all(app.store.pool())
        .await
        .expect("audit")
        .iter()
        .filter(|r| r.get::<String, _>(1).contains("second_factor_reset"))
        .map(|r| r.get::<String, _>(0))
        .collect::<Vec<_>>();
    assert_eq!(resets, vec![root2.id.clone()], "audited, with who reset");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(bad_invitations_are_refused_and_change_nothing);
async fn bad_invitations_are_refused_and_change_nothing(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    app.accounts
        .invite_person(&admin(), "taken@example.org", Role::SupportAgent, None)
        .await
        .expect("invite");
    let users = count(&app, "users").await;
    let invitations = count(&app, "invitations").await;
    let domain_admin = principal_of(&t.domain_a, Role::DomainAdmin);
    let reseller_admin = principal_of(&t.reseller, Role::ResellerAdmin);
    let dpo = Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    };
    let cases: Vec<(
        &str,
        Principal,
        &str,
        Role,
        Option<custode_domain::TenantId>,
    )> = vec![
        ("no @", admin(), "nobody.example.org", Role::Dpo, None),
        ("space", admin(), "a b@example.org", Role::Dpo, None),
        ("no domain dot", admin(), "a@localhost", Role::Dpo, None),
        ("a subject", admin(), "s@example.org", Role::Subject, None),
        ("a system", admin(), "s@example.org", Role::System, None),
        (
            "above a domain admin",
            domain_admin.clone(),
            "d@example.org",
            Role::Dpo,
            None,
        ),
        (
            "above a reseller admin",
            reseller_admin.clone(),
            "r@example.org",
            Role::Administrator,
            None,
        ),
        (
            "a DPO invites nobody",
            dpo,
            "x@example.org",
            Role::SupportAgent,
            None,
        ),
        (
            "tenant outside scope",
            domain_admin.clone(),
            "o@example.org",
            Role::DomainAdmin,
            Some(t.domain_b.id.clone()),
        ),
        (
            "address taken",
            admin(),
            "TAKEN@example.org",
            Role::Dpo,
            None,
        ),
    ];
    for (what, by, email, role, tenant) in cases {
        let r = app
            .accounts
            .invite_person(&by, email, role, tenant.as_ref())
            .await;
        let ok = match what {
            "tenant outside scope" => matches!(r, Err(StoreError::NotFound { .. })),
            "address taken" => matches!(r, Err(StoreError::Conflict(_))),
            w if w.starts_with("above") || w.starts_with("a DPO") => {
                matches!(&r, Err(StoreError::Forbidden(m)) if m.contains("may give"))
            }
            _ => {
                matches!(&r, Err(StoreError::Invalid(m)) if m.contains("`email`") || m.contains("`role`"))
            }
        };
        assert!(ok, "{what}: {r:?}");
        if let Err(e) = &r {
            assert!(
                !e.to_string().contains(email),
                "{what}: the address is not quoted: {e}"
            );
        }
    }
    assert_eq!(count(&app, "users").await, users, "no user made");
    assert_eq!(
        count(&app, "invitations").await,
        invitations,
        "no invitation made"
    );

    // An administrator's account (whose link the administrator may hold)
    // is never turned into one that reads personal data.
    let ops = app
        .accounts
        .invite_person(&admin(), "ops@example.org", Role::Administrator, None)
        .await
        .expect("invite");
    for role in [Role::Dpo, Role::SupportAgent, Role::LegalOfficer] {
        let r = app
            .accounts
            .change_person(&admin(), &ops.user_id, Some(role), None)
            .await;
        assert!(
            matches!(&r, Err(StoreError::Forbidden(m)) if m.contains("invite")),
            "{r:?}"
        );
    }
    accept(env, &app, &ops).await;
    assert!(matches!(
        app.accounts
            .change_person(&admin(), &ops.user_id, Some(Role::Dpo), None)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    let listed = app.accounts.list_people(&admin()).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .find(|p| p.id == ops.user_id)
            .expect("listed")
            .role,
        "administrator"
    );

    // Within its own scope and rank, a reseller admin invites.
    let inv = app
        .accounts
        .invite_person(
            &reseller_admin,
            "da@example.org",
            Role::DomainAdmin,
            Some(&t.domain_b.id),
        )
        .await
        .expect("a domain admin below the reseller");
    assert_eq!(inv.scope_path, t.domain_b.path);
    // And manages only those: not the administrator's people elsewhere.
    let listed = app
        .accounts
        .list_people(&reseller_admin)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(matches!(
        app.accounts
            .disable_person(&domain_admin, &inv.user_id)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

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

on_both_engines!(a_legal_officer_enrolled_by_invitation_queries_the_vault);
async fn a_legal_officer_enrolled_by_invitation_queries_the_vault(env: &Env) {
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
            vec![(s.clone(), identity("shop@example.org"))],
        )
        .await
        .expect("write");
    env.clock.advance(SignedDuration::from_hours(24 * 10));
    app.retention
        .record_life_event(&system, &s, LifeEvent::AccountClosed, None, "customer left")
        .await
        .expect("close");
    app.retention.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(app.vault.vault_count().await.expect("count"), 1);

    let inv = app
        .accounts
        .invite_person(&admin(), "lea@example.org", Role::LegalOfficer, None)
        .await
        .expect("invite");
    let secret = accept(env, &app, &inv).await.expect("enrolled");
    let officer = app
        .accounts
        .login(&inv.email, PASSWORD, Some(&fresh_code(env, &secret)))
        .await
        .expect("login")
        .principal;
    let order = VaultOrder {
        authority: "Procura della Repubblica di Firenze".into(),
        number: "RG 1234/2026".into(),
        date: "2026-03-02".into(),
        scope: "subscriber identity".into(),
    };
    let target = VaultTarget::Subject(s.clone());
    let code = fresh_code(env, &secret);
    let held = app
        .vault
        .vault_query(&officer, Some(&code), &order, &target)
        .await
        .expect("the vault answers the invited officer");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].category, "subscriber_identity");
    assert!(
        matches!(
            app.vault
                .vault_query(&officer, Some(&code), &order, &target)
                .await,
            Err(StoreError::Forbidden(_))
        ),
        "the same code works once"
    );
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(a_subject_logs_in_to_its_portal_with_a_code_mailed_to_a_known_address);
async fn a_subject_logs_in_to_its_portal_with_a_code_mailed_to_a_known_address(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let system = Principal::system("test");
    let mut subjects: Vec<SubjectId> = Vec::new();
    for (domain, email) in [
        (&t.domain_a, "Mia@A.example"),
        (&t.domain_b, "other@b.example"),
    ] {
        let s = app
            .store
            .create_subject(&system, &domain.id, "mailbox_user", "signup")
            .await
            .expect("subject");
        app.store
            .write_records(
                &system,
                "signup",
                vec![(s.clone(), contact(email, "+390600000000"))],
            )
            .await
            .expect("write");
        subjects.push(s);
    }
    let (mia, other) = (&subjects[0], &subjects[1]);

    // An unknown address gets nothing (and the face answers the same).
    assert!(
        app.accounts
            .portal_code("nobody@a.example")
            .await
            .expect("asked")
            .is_none()
    );
    assert!(matches!(
        app.accounts.portal_code("not an address").await,
        Err(StoreError::Invalid(_))
    ));
    let code = app
        .accounts
        .portal_code("mia@a.example")
        .await
        .expect("asked")
        .expect("a code for a known address");
    assert_eq!(code.code.len(), 6);
    // Asked again at once: nothing new is sent, the first code stands.
    assert!(
        app.accounts
            .portal_code("mia@a.example")
            .await
            .expect("asked")
            .is_none()
    );

    let wrong = if code.code == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert!(matches!(
        app.accounts
            .portal_login("mia@a.example", wrong, None)
            .await,
        Err(StoreError::Unauthenticated(Credential::PortalCode))
    ));
    let session = app
        .accounts
        .portal_login(" MIA@a.example ", &code.code, None)
        .await
        .expect("login");
    let me = app
        .accounts
        .authenticate_session(&session.id, None)
        .await
        .expect("session");
    assert_eq!(me.role, Role::Subject);
    assert_eq!(me.scope.only_subject(), Some(mia));
    assert_eq!(
        app.store
            .records(&me, mia, "my own data")
            .await
            .expect("own")
            .len(),
        1
    );
    assert!(
        matches!(
            app.store.records(&me, other, "someone else's").await,
            Err(StoreError::NotFound { .. })
        ),
        "another subject is not found"
    );
    // The code works once; a wrong CSRF token is refused; logout ends it.
    assert!(
        app.accounts
            .portal_login("mia@a.example", &code.code, None)
            .await
            .is_err()
    );
    assert!(
        app.accounts
            .authenticate_session(&session.id, Some("nope"))
            .await
            .is_err()
    );
    app.accounts
        .authenticate_session(&session.id, Some(&session.csrf))
        .await
        .expect("with its CSRF token");
    app.accounts.logout(&session.id).await.expect("logout");
    assert!(
        app.accounts
            .authenticate_session(&session.id, None)
            .await
            .is_err()
    );

    // Expired codes do not open.
    env.clock.advance(SignedDuration::from_mins(2));
    let late = app
        .accounts
        .portal_code("other@b.example")
        .await
        .expect("asked")
        .expect("code");
    env.clock.advance(SignedDuration::from_mins(16));
    assert!(
        app.accounts
            .portal_login("other@b.example", &late.code, None)
            .await
            .is_err()
    );
    assert!(refusals(&app, "portal_login").await >= 3);
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}
