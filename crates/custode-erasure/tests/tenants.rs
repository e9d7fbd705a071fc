//! Closing a tenant keeps seed 002's promise (issue "Every promise kept"):
//! a deactivated subscriber is deleted promptly and permanently — its
//! interlocutors erased (what a legal ground keeps, restricted to it), its
//! credentials dead, its name gone from the app, nothing new under it,
//! everything audited, and a rerun finishes an interrupted close — on
//! SQLite and PostgreSQL.

use custode_accounts::Grant;
use custode_domain::{NewRecord, Principal, Role, Scope, SubjectId, TenantKind};
use custode_store::{ErasureState, StoreError, Tenant};
use custode_testkit::*;
use sqlx::Row;

const NAME: &str = "Bottega Rossi di Mario Rossi";

/// A record of `category` with every field filled, for `purposes` (none:
/// the policy's).
fn record(app: &Custode, category: &str, purposes: &[&str]) -> NewRecord {
    let policy = app.store.policy();
    let c = policy.category(category).expect("category");
    let fields = c
        .fields
        .iter()
        .map(|f| {
            let v = match f.identifier {
                Some(custode_policy::IdentifierKind::Email) => "giulia.bianchi@example.org",
                _ => "synthetic value",
            };
            (f.id.value.clone(), serde_json::Value::from(v))
        })
        .collect();
    NewRecord {
        category: category.to_owned(),
        fields,
        source: "test".into(),
        purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
        collected_at: None,
    }
}

/// A provider, a subscriber under it with two interlocutors (their
/// registry entries: the first's for its account only, the second's also
/// for the authorities, a legal obligation for 30 days after closure) and
/// the subscriber itself as a subject (its identity, which the law keeps
/// ten years in the vault), and a token scoped to the subscriber.
struct Shop {
    provider: Tenant,
    subscriber: Tenant,
    interlocutors: Vec<SubjectId>,
    owner: SubjectId,
    token: String,
}

async fn shop(app: &Custode) -> Shop {
    let a = admin();
    let provider = app
        .store
        .create_tenant(&a, None, TenantKind::Provider, "BottegaChat")
        .await
        .expect("provider");
    let subscriber = app
        .store
        .create_tenant(&a, Some(&provider.id), TenantKind::Subscriber, NAME)
        .await
        .expect("subscriber");
    let system = Principal::system("test");
    let interlocutors = app
        .store
        .create_subjects(&system, &subscriber.id, "interlocutor", 2, "registry")
        .await
        .expect("interlocutors");
    let owner = app
        .store
        .create_subject(&system, &subscriber.id, "subscriber", "signup")
        .await
        .expect("owner");
    let batch: Vec<(SubjectId, NewRecord)> = vec![
        (
            interlocutors[0].clone(),
            record(app, "interlocutor_data", &["interlocutor_account"]),
        ),
        (
            interlocutors[1].clone(),
            record(
                app,
                "interlocutor_data",
                &["interlocutor_account", "law_enforcement"],
            ),
        ),
        (owner.clone(), record(app, "subscriber_identity", &[])),
    ];
    app.store
        .write_records(&system, "registry", batch)
        .await
        .expect("write");
    let token = app
        .accounts
        .issue_held_token(
            &Principal::system("cli:operator"),
            "shop integration",
            "Mario Rossi's shop system",
            &Grant {
                role: Role::DomainAdmin,
                scope_path: subscriber.path.clone(),
                subject: None,
            },
            None,
        )
        .await
        .expect("token")
        .token;
    app.accounts
        .authenticate_token(&token)
        .await
        .expect("token works");
    Shop {
        provider,
        subscriber,
        interlocutors,
        owner,
        token,
    }
}

/// Whether the subscriber's name is anywhere in the tenants table.
async fn name_in_tenants(app: &Custode) -> bool {
    sqlx::query("SELECT name FROM tenants")
        .fetch_all(app.store.pool())
        .await
        .expect("tenants")
        .iter()
        .any(|r| r.try_get::<String, _>(0).expect("name").contains("Rossi"))
}

async fn closing_a_subscriber_deletes_it(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let s = shop(&app).await;
    assert!(name_in_tenants(&app).await);
    let dpo = Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    };

    let done = app
        .erasure
        .close_tenant(&admin(), &s.subscriber.id, "subscriber deactivated")
        .await
        .expect("close");
    assert!(!done.already_closed);
    assert_eq!(
        (done.tenants, done.erased, done.kept, done.tokens_revoked),
        (1, 2, 1, 1)
    );

    // The first interlocutor and the subscriber are gone: their keys
    // destroyed (the subscriber's identity now only in the vault, for the
    // law).
    for i in [&s.interlocutors[0], &s.owner] {
        match app.store.records(&dpo, i, "check").await {
            Err(StoreError::Erased(_)) => {}
            other => panic!("a subject of a closed tenant is erased, got {other:?}"),
        }
    }
    assert!(
        app.store
            .audit_of_subject(&s.owner, 50)
            .await
            .expect("audit")
            .iter()
            .any(|e| e.body.contains("retention.vaulted")),
        "the subscriber's identity went to the vault"
    );
    // The second's registry entry stays for the authorities only,
    // restricted to that ground.
    match app.store.records(&dpo, &s.interlocutors[1], "check").await {
        Err(StoreError::Restricted { .. }) => {}
        other => panic!("what the law keeps is restricted to it, got {other:?}"),
    }
    let listed = app.store.subjects(&dpo, None, 100).await.expect("list");
    assert_eq!(listed.len(), 3);
    for l in &listed {
        if l.id == s.interlocutors[1] {
            assert!(matches!(l.erasure, ErasureState::Partial { .. }));
        } else {
            assert_eq!(l.erasure, ErasureState::Erased, "{}", l.id);
        }
    }

    // Its token no longer works; its name is nowhere in the tenants table.
    assert!(matches!(
        app.accounts.authenticate_token(&s.token).await,
        Err(StoreError::Unauthenticated(_))
    ));
    assert!(!name_in_tenants(&app).await, "the name is replaced");
    let marked = app
        .store
        .tenant(&admin(), &s.subscriber.id)
        .await
        .expect("still listed");
    assert_eq!(marked.name, format!("closed tenant {}", s.subscriber.id));

    // Nothing new under it, with a clear error.
    match app
        .store
        .create_subject(
            &Principal::system("test"),
            &s.subscriber.id,
            "interlocutor",
            "late",
        )
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("closed"), "{m}"),
        other => panic!("a closed tenant takes no subject, got {other:?}"),
    }

    // Nor a credential scoped to it.
    let grant = Grant {
        role: Role::DomainAdmin,
        scope_path: s.subscriber.path.clone(),
        subject: None,
    };
    assert!(matches!(
        app.accounts
            .issue_held_token(&admin(), "again", "someone", &grant, None)
            .await,
        Err(StoreError::Conflict(_))
    ));

    // A second close changes nothing.
    let again = app
        .erasure
        .close_tenant(&admin(), &s.subscriber.id, "subscriber deactivated")
        .await
        .expect("close again");
    assert!(again.already_closed);
    assert_eq!(again.closed_at, done.closed_at);
    assert_eq!(
        (
            again.tenants,
            again.erased,
            again.kept,
            again.tokens_revoked
        ),
        (0, 0, 0, 0)
    );

    let report = app.vault.audit_verify().await.expect("verify");
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    let closed: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.closed'")
        .fetch_one(app.store.pool())
        .await
        .expect("audit")
        .try_get(0)
        .expect("count");
    assert_eq!(closed, 1, "one entry for the close, none for the no-op");
    // The provider is untouched.
    assert!(
        app.store
            .tenant(&admin(), &s.provider.id)
            .await
            .expect("provider")
            .name
            == "BottegaChat"
    );
    app.close().await;
}
on_both_engines!(closing_a_subscriber_deletes_it);

async fn an_interrupted_close_is_finished_by_a_rerun(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let s = shop(&app).await;
    // As if a close had stopped after its first transaction.
    sqlx::query("UPDATE tenants SET closed_at = 1, name = 'closed tenant ' || id WHERE id = $1")
        .bind(s.subscriber.id.as_str())
        .execute(app.store.pool())
        .await
        .expect("half a close");
    let done = app
        .erasure
        .close_tenant(&admin(), &s.subscriber.id, "subscriber deactivated")
        .await
        .expect("rerun");
    assert!(done.already_closed);
    assert_eq!(
        (done.erased, done.kept, done.tokens_revoked),
        (2, 1, 1),
        "the rerun erases what was left and revokes what still worked"
    );
    assert!(matches!(
        app.store
            .records(&admin_dpo(), &s.interlocutors[0], "check")
            .await,
        Err(StoreError::Erased(_))
    ));
    assert!(
        app.vault
            .audit_verify()
            .await
            .expect("verify")
            .breaks
            .is_empty()
    );
    app.close().await;
}
on_both_engines!(an_interrupted_close_is_finished_by_a_rerun);

fn admin_dpo() -> Principal {
    Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    }
}

async fn only_a_node_above_closes_a_tenant(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let s = shop(&app).await;
    let a = admin();
    let other = app
        .store
        .create_tenant(&a, Some(&s.provider.id), TenantKind::Reseller, "another")
        .await
        .expect("reseller");
    // Outside the caller's scope: not found, and nothing changes.
    let outsider = principal_of(&other, Role::ResellerAdmin);
    assert!(matches!(
        app.erasure
            .close_tenant(&outsider, &s.subscriber.id, "no")
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // The tenant's own principals cannot close it.
    let own = principal_of(&s.subscriber, Role::ResellerAdmin);
    assert!(matches!(
        app.erasure.close_tenant(&own, &s.subscriber.id, "no").await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(name_in_tenants(&app).await);
    app.accounts
        .authenticate_token(&s.token)
        .await
        .expect("still works");
    // A reseller closes a subscriber under it.
    let sub = app
        .store
        .create_tenant(
            &a,
            Some(&other.id),
            TenantKind::Subscriber,
            "Ferramenta Verdi",
        )
        .await
        .expect("subscriber");
    app.erasure
        .close_tenant(&outsider, &sub.id, "contract ended")
        .await
        .expect("reseller closes its own subscriber");
    app.close().await;
}
on_both_engines!(only_a_node_above_closes_a_tenant);
