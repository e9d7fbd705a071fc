//! One environment per engine for the store's and the capabilities' tests:
//! a fresh SQLite data directory, or fresh schemas in the PostgreSQL that CI
//! runs. Every test body runs on both; PostgreSQL missing is a failure,
//! never a skip.

#![allow(missing_docs, clippy::unwrap_used)]

pub mod authenticator;
pub mod smtp;

use std::path::PathBuf;
use std::sync::Arc;

pub mod http;

pub use custode_app::{Custode, SCHEMA};
use custode_crypto::Key;
use custode_domain::{ManualClock, NewRecord, Principal, Role, Scope, SubjectId, TenantKind};
use custode_store::{Engine, MasterKeySource, OpenMode, Store, StoreConfig, Tenant};
use jiff::Timestamp;

/// The PostgreSQL the tests use; CI and the README's test command start it.
pub fn postgres_url() -> String {
    std::env::var("CUSTODE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub const POLICY: &str = include_str!("../../../policies/email-hosting.toml");
pub const TELECOM: &str = include_str!("../../../policies/telecom.toml");
pub const MESSAGING: &str = include_str!("../../../policies/messaging.toml");

pub struct Env {
    pub engine: Engine,
    pub config: StoreConfig,
    pub clock: Arc<ManualClock>,
    pub dir: PathBuf,
    /// PostgreSQL schemas (main, keys) to drop at the end.
    pub schemas: Option<(String, String)>,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", &SubjectId::generate().as_str()[..12])
}

impl Env {
    pub async fn new(engine: Engine) -> Env {
        let dir = std::env::temp_dir().join(unique("custode-test"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let master = MasterKeySource::Given(Key::generate().expect("random"));
        let (config, schemas) = match engine {
            Engine::Sqlite => (
                StoreConfig {
                    database_url: format!("sqlite://{}", dir.join("custode.db").display()),
                    keystore_url: format!("sqlite://{}", dir.join("keys.db").display()),
                    master_key: master,
                    mode: OpenMode::CreateIfMissing,
                    vault_url: format!("sqlite://{}", dir.join("vault.db").display()),
                    vault_key: MasterKeySource::Given(Key::generate().expect("random")),
                },
                None,
            ),
            Engine::Postgres => {
                let main = unique("t");
                let keys = format!("{main}_keys");
                let vault = format!("{main}_vault");
                let admin = sqlx::PgPool::connect(&postgres_url()).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for these tests and is not reachable at {}: {e}. \
                         Run ./scripts/test, which starts it.",
                        postgres_url()
                    )
                });
                for s in [&main, &keys, &vault] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {s}")))
                        .execute(&admin)
                        .await
                        .expect("create schema");
                }
                admin.close().await;
                let with_path = |schema: &str| {
                    let base = postgres_url();
                    let sep = if base.contains('?') { '&' } else { '?' };
                    format!("{base}{sep}options=-c%20search_path%3D{schema}")
                };
                (
                    StoreConfig {
                        database_url: with_path(&main),
                        keystore_url: with_path(&keys),
                        master_key: master,
                        mode: OpenMode::CreateIfMissing,
                        vault_url: with_path(&vault),
                        vault_key: MasterKeySource::Given(Key::generate().expect("random")),
                    },
                    Some((main, keys)),
                )
            }
        };
        Env {
            engine,
            config,
            clock: Arc::new(ManualClock::new(
                Timestamp::new(1_767_225_600, 0).expect("2026-01-01"),
            )),
            dir,
            schemas,
        }
    }

    pub fn policy() -> Arc<custode_policy::Policy> {
        Arc::new(custode_policy::load("email-hosting.toml", POLICY).expect("example policy"))
    }

    /// The store with every capability, under the example policy.
    pub async fn open(&self) -> Custode {
        self.open_with(Self::policy()).await
    }

    /// The kernel alone (what owns it may rotate its master key).
    pub async fn open_kernel(&self) -> Store {
        Store::open(&self.config, SCHEMA, Self::policy(), self.clock.clone())
            .await
            .expect("store opens")
    }

    /// The example policy with consent purposes (marketing, directory).
    pub fn telecom() -> Arc<custode_policy::Policy> {
        Arc::new(custode_policy::load("telecom.toml", TELECOM).expect("example policy"))
    }

    /// The example policy with a vault purpose kept from account closure.
    pub fn messaging() -> Arc<custode_policy::Policy> {
        Arc::new(custode_policy::load("messaging.toml", MESSAGING).expect("example policy"))
    }

    pub async fn open_with(&self, policy: Arc<custode_policy::Policy>) -> Custode {
        Custode::open(&self.config, policy, self.clock.clone())
            .await
            .expect("store opens")
    }

    pub async fn cleanup(self) {
        if let Some((main, keys)) = &self.schemas
            && let Ok(admin) = sqlx::PgPool::connect(&postgres_url()).await
        {
            for s in [main.clone(), keys.clone(), format!("{main}_vault")] {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
                    .execute(&admin)
                    .await;
            }
            admin.close().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn admin() -> Principal {
    Principal {
        id: "user:admin".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    }
}

pub fn principal_of(t: &Tenant, role: Role) -> Principal {
    Principal {
        id: format!("user:{}-admin", t.name),
        role,
        scope: Scope::under(&t.path),
    }
}

/// provider → reseller → (domain A, domain B), and a domain sold directly.
pub struct Tree {
    pub provider: Tenant,
    pub reseller: Tenant,
    pub domain_a: Tenant,
    pub domain_b: Tenant,
    pub direct: Tenant,
}

pub async fn tree(app: &Custode) -> Tree {
    let store = &app.store;
    let a = admin();
    let provider = store
        .create_tenant(&a, None, TenantKind::Provider, "provider")
        .await
        .expect("provider");
    let reseller = store
        .create_tenant(&a, Some(&provider.id), TenantKind::Reseller, "reseller")
        .await
        .expect("reseller");
    let domain_a = store
        .create_tenant(&a, Some(&reseller.id), TenantKind::Domain, "a.example")
        .await
        .expect("domain a");
    let domain_b = store
        .create_tenant(&a, Some(&reseller.id), TenantKind::Domain, "b.example")
        .await
        .expect("domain b");
    let direct = store
        .create_tenant(&a, Some(&provider.id), TenantKind::Domain, "direct.example")
        .await
        .expect("direct");
    Tree {
        provider,
        reseller,
        domain_a,
        domain_b,
        direct,
    }
}

/// A tenant where a subject of `kind` may live under the store's policy:
/// domain A when it may, else a new subscriber tenant of its own (a
/// subscriber tenant holds one subscriber), else the reseller or the
/// provider.
pub async fn home_for(app: &Custode, t: &Tree, kind: &str) -> custode_domain::TenantId {
    let store = &app.store;
    let policy = store.policy();
    let spec = policy.subject(kind).expect("subject kind");
    if spec.may_live_in("domain") {
        t.domain_a.id.clone()
    } else if spec.may_live_in("subscriber") {
        store
            .create_tenant(
                &admin(),
                Some(&t.provider.id),
                TenantKind::Subscriber,
                "shop",
            )
            .await
            .expect("subscriber tenant")
            .id
    } else if spec.may_live_in("reseller") {
        t.reseller.id.clone()
    } else {
        t.provider.id.clone()
    }
}

/// A contact record of the email-hosting example policy.
pub fn contact(email: &str, phone: &str) -> NewRecord {
    signup_record("contact", [("email", email), ("phone", phone)])
}

/// A `master_data` record (the telecom policy's) with an e-mail address
/// and a name, from the signup form.
pub fn master_data(email: &str, name: &str) -> NewRecord {
    signup_record("master_data", [("email", email), ("name", name)])
}

fn signup_record<const N: usize>(category: &str, fields: [(&str, &str); N]) -> NewRecord {
    NewRecord {
        category: category.into(),
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
            .collect(),
        source: "signup-form".into(),
        purposes: vec![],
        collected_at: None,
    }
}

/// Runs an async test body once per engine, as two tests.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let env = Env::new(custode_store::Engine::Sqlite).await;
                super::$name(&env).await;
                env.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let env = Env::new(custode_store::Engine::Postgres).await;
                super::$name(&env).await;
                env.cleanup().await;
            }
        }
    };
}
