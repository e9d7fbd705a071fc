//! The HTTP face of Custode: a JSON API described by an OpenAPI document,
//! the public privacy notice, health, readiness and metrics.
//!
//! Thin by design: handlers authenticate the caller, check the role against
//! the one permission table (`custode_domain::may`), and make one store call;
//! the store bounds every query by the caller's scope and audits it.

mod api;

mod breaches;
mod consent;
mod error;
mod extract;
mod finding;
pub mod jobs;
mod limits;
mod passkeys;
mod people;
mod requests;
mod retention;
mod traffic;
mod vault;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use custode_domain::Clock;
use custode_store::Store;

pub use custode_app::{Custode, SCHEMA};
pub use custode_mail as mail;
use utoipa::OpenApi;

pub use error::{ApiError, Problem};
pub use extract::SESSION_COOKIE;
pub use limits::Attempts;
pub use people::{PortalCodeError, send_portal_code};
pub use requests::{answer_and_send, extend_and_tell};

/// What every handler shares: one pointer, so that the state axum clones
/// for each request costs one atomic increment, whatever it holds.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state's contents.
#[derive(Clone)]
pub struct Shared {
    /// The kernel.
    pub store: Arc<Store>,
    /// The vault.
    pub vault: Arc<custode_vault::Vault>,
    /// The consent ledger.
    pub ledger: Arc<custode_ledger::Ledger>,
    /// People, tokens and sessions.
    pub accounts: Arc<custode_accounts::Accounts>,
    /// Retention.
    pub retention: Arc<custode_retention::Retention>,
    /// Erasure; closing tenants.
    pub erasure: Arc<custode_erasure::Eraser>,
    /// Rights requests.
    pub requests: Arc<custode_requests::Requests>,
    /// Backups.
    pub backup: Arc<custode_backup::Backup>,
    /// Subjects' audit trails.
    pub trail: Arc<custode_trail::AuditTrail>,
    /// Traffic data.
    pub traffic: Arc<custode_traffic::Traffic>,
    /// Finding people and listing the tenancy tree.
    pub finder: Arc<custode_finding::Finder>,
    /// The breach register.
    pub breaches: Arc<custode_breaches::Breaches>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Request counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The policy file, re-read on reload.
    pub policy_path: Option<std::path::PathBuf>,
    /// Failed logins per user name and failed credentials per address.
    pub attempts: Arc<Attempts>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// The public base URL (`https://privacy.example`), for links in
    /// receipts and unsubscribe headers.
    pub public_url: Arc<str>,
    /// The relay codes and answers go through, when configured.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// Wakes the fulfilment worker when a job is queued.
    pub jobs_queued: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// A state over a store and its capabilities.
    pub fn new(custode: Custode, clock: Arc<dyn Clock>) -> Self {
        let Custode {
            store,
            vault,
            ledger,
            accounts,
            retention,
            erasure,
            requests,
            backup,
            trail,
            traffic,
            finder,
            breaches,
        } = custode;
        AppState(Arc::new(Shared {
            store,
            vault,
            ledger,
            accounts,
            retention,
            erasure,
            requests,
            backup,
            trail,
            traffic,
            finder,
            breaches,
            clock,
            metrics: Arc::new(Metrics::default()),
            policy_path: None,
            attempts: Arc::new(Attempts::default()),
            trusted_proxies: Arc::from(Vec::new()),
            public_url: Arc::from("http://127.0.0.1:8080"),
            mailer: None,
            jobs_queued: Arc::new(tokio::sync::Notify::new()),
        }))
    }

    /// The same state, sending mail through `mailer`.
    pub fn with_mailer(mut self, mailer: mail::Mailer) -> Self {
        Arc::make_mut(&mut self.0).mailer = Some(Arc::new(mailer));
        self
    }

    /// The same state, believing `X-Forwarded-For` from these proxies
    /// (and from no one else) for the client's address.
    pub fn with_trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Self {
        Arc::make_mut(&mut self.0).trusted_proxies = Arc::from(proxies);
        self
    }

    /// The same state, with the public base URL links are made from.
    pub fn with_public_url(mut self, url: &str) -> Self {
        Arc::make_mut(&mut self.0).public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    /// The same state, reloading the policy from `path`.
    pub fn with_policy_path(mut self, path: std::path::PathBuf) -> Self {
        Arc::make_mut(&mut self.0).policy_path = Some(path);
        self
    }

    /// Re-reads and validates the policy file and puts it in force; an
    /// invalid file is refused with its problems and the policy in force
    /// stays. Returns the new digest and the consent purposes it changed.
    pub async fn reload_policy(
        &self,
        by: &custode_domain::Principal,
    ) -> Result<(String, Vec<String>), ApiError> {
        let Some(path) = &self.policy_path else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "No policy file",
                "this server was not started from a policy file",
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Policy not readable",
                format!("{}: {e}", path.display()),
            )
        })?;
        let policy = custode_policy::load(&path.display().to_string(), &text).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Policy refused; the policy in force is unchanged",
                e.to_short_lines(),
            )
        })?;
        let digest = policy.digest.clone();
        let reconsent = self.store.set_policy(by, Arc::new(policy)).await?;
        tracing::info!(%digest, ?reconsent, "policy reloaded");
        Ok((digest, reconsent))
    }

    pub(crate) fn store_now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    pub(crate) fn clock_now(&self) -> String {
        self.clock.now().to_string()
    }
}

/// Counters exported at `/metrics`, in Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    requests: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    latency_micros: AtomicU64,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Custode", description = "The privacy back office: policy, subjects, records, audit."),
    paths(
        api::policy, api::notice, api::ropa, api::create_tenant, api::close_tenant, api::create_subject,
        api::list_subjects, api::count_subjects, api::read_records, api::write_records,
        api::erase_subject, api::audit_verify, api::issue_token, api::list_tokens, api::setup, api::reload_policy,
        api::login, api::logout, api::totp_enroll, api::totp_confirm,
        consent::record, consent::history, consent::decide, consent::receipt,
        consent::public_key, consent::reconsent, consent::unsubscribe_link,
        consent::confirm_page, consent::one_click, consent::lift_restriction,
        retention::life_event, retention::plan, retention::report,
        vault::query, vault::access_log,
        traffic::ingest, traffic::extract, traffic::bill,
        requests::file, requests::list, requests::show, requests::extend,
        requests::send_code, requests::verify_code, requests::put_document,
        requests::get_document, requests::approve_identity, requests::attest_identity, requests::fulfil,
        requests::export, requests::answer, requests::answer_letter,
        requests::notices, requests::confirm_notice,
        finding::list_tenants, finding::trail,
        people::invite, people::list, people::change, people::disable, people::enable,
        people::reinvite, people::reset_second_factor, people::end_sessions, people::revoke_token,
        people::show_invitation, people::invitation_totp, people::accept_invitation,
        people::portal_code, people::portal_login,
        passkeys::register_start, passkeys::register_finish, passkeys::list, passkeys::remove,
        passkeys::of_person, passkeys::invitation_start, passkeys::invitation_finish,
        passkeys::login_start, passkeys::login_finish, passkeys::portal_start,
        passkeys::portal_finish, passkeys::vault_start,
        breaches::record, breaches::list, breaches::show, breaches::amend, breaches::versions,
        breaches::notify_authority, breaches::assess, breaches::assessment, breaches::notice,
        breaches::exempt, breaches::notify_people,
    ),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3 document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> Response {
    match openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => ApiError::from(custode_store::StoreError::Invalid(e.to_string())).into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.accounts.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer\n",
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    let body = format!(
        "# HELP custode_http_requests_total Requests served.\n# TYPE custode_http_requests_total counter\n\
         custode_http_requests_total {}\n\
         # HELP custode_http_client_errors_total Requests answered 4xx.\n# TYPE custode_http_client_errors_total counter\n\
         custode_http_client_errors_total {}\n\
         # HELP custode_http_server_errors_total Requests answered 5xx.\n# TYPE custode_http_server_errors_total counter\n\
         custode_http_server_errors_total {}\n\
         # HELP custode_http_request_seconds_total Time spent serving requests.\n# TYPE custode_http_request_seconds_total counter\n\
         custode_http_request_seconds_total {:.6}\n",
        m.requests.load(Ordering::Relaxed),
        m.client_errors.load(Ordering::Relaxed),
        m.server_errors.load(Ordering::Relaxed),
        m.latency_micros.load(Ordering::Relaxed) as f64 / 1e6,
    );
    // Rights requests: a monitor alerts on overdue ones and failing steps,
    // so no request is stuck unseen.
    let body = match state.requests.request_health().await {
        Ok(h) => format!(
            "{body}# HELP custode_requests_open Rights requests not answered yet.\n# TYPE custode_requests_open gauge\n\
             custode_requests_open {}\n\
             # HELP custode_requests_overdue Open rights requests past their deadline.\n# TYPE custode_requests_overdue gauge\n\
             custode_requests_overdue {}\n\
             # HELP custode_request_steps_failing Fulfilment steps being retried after a failure.\n# TYPE custode_request_steps_failing gauge\n\
             custode_request_steps_failing {}\n",
            h.open, h.overdue, h.steps_failing
        ),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: rights requests not counted");
            body
        }
    };
    // Breaches: the authority's clock (Art. 33(1); 24 h for telecoms), so
    // a monitor alerts before a deadline passes. Counts only.
    let body = match state.breaches.health().await {
        Ok(h) => format!(
            "{body}# HELP custode_breaches_unnotified Breaches whose supervisory authority has not been told yet.\n# TYPE custode_breaches_unnotified gauge\n\
             custode_breaches_unnotified {}\n\
             # HELP custode_breaches_overdue Breaches not notified and past their deadline.\n# TYPE custode_breaches_overdue gauge\n\
             custode_breaches_overdue {}\n\
             # HELP custode_breach_follow_ups_owed Incomplete first notices whose follow-up is owed (Regulation 611/2013).\n# TYPE custode_breach_follow_ups_owed gauge\n\
             custode_breach_follow_ups_owed {}\n\
             # HELP custode_breach_follow_ups_overdue Follow-ups past their deadline.\n# TYPE custode_breach_follow_ups_overdue gauge\n\
             custode_breach_follow_ups_overdue {}\n{}",
            h.unnotified,
            h.overdue,
            h.follow_ups_owed,
            h.follow_ups_overdue,
            h.least_hours_left.map_or_else(String::new, |l| format!(
                "# HELP custode_breach_hours_left The fewest whole hours left on a running breach clock (negative once past).\n# TYPE custode_breach_hours_left gauge\n\
                 custode_breach_hours_left {l}\n"
            )),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: breaches not counted");
            body
        }
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Tags each request with an id (the caller's `x-request-id` when it is a
/// plain token, else a new one), logs it with its status and time, and
/// returns the id in the response.
async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use tracing::Instrument;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let started = std::time::Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(
            || format!("r{}", NEXT.fetch_add(1, Ordering::Relaxed)),
            str::to_owned,
        );
    let method = req.method().clone();
    // The path only: query strings can carry reasons and ids, never logged.
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", id = %id, %method, %path);
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "served"
        );
    });
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    let m = &state.metrics;
    m.requests.fetch_add(1, Ordering::Relaxed);
    m.latency_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    if response.status().is_client_error() {
        m.client_errors.fetch_add(1, Ordering::Relaxed);
    } else if response.status().is_server_error() {
        m.server_errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        "no such endpoint: see /openapi.json",
    )
}

/// Bodies above this size are refused with 413.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Bodies of the endpoints that anyone may call with credentials (setup,
/// login, second-factor enrolment) are refused with 413 above this size:
/// a user name, a password and a code fit in far less.
pub const MAX_CREDENTIALS_BODY: usize = 8 * 1024;

/// The whole application: the API alone, its JSON 404 answering every
/// other path.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new().fallback(not_found))
}

/// The JSON 404 of the API, for a face that merges its own pages and
/// answers the paths under `/api/` with it.
pub async fn api_not_found() -> Response {
    not_found().await.into_response()
}

/// The API with another face's routes merged in (`pages` brings its own
/// fallback), under the same limits, timeout, request ids and counters.
pub fn router_with(state: AppState, pages: Router<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/notice", get(api::notice))
        .route("/api/v1/policy", get(api::policy))
        .route("/api/v1/policy/ropa", get(api::ropa))
        .route("/api/v1/policy/reload", post(api::reload_policy))
        .route(
            "/api/v1/setup",
            post(api::setup).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/login",
            post(api::login).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route("/api/v1/logout", post(api::logout))
        .route(
            "/api/v1/totp/enroll",
            post(api::totp_enroll).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/totp/confirm",
            post(api::totp_confirm).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/tokens",
            get(api::list_tokens).post(api::issue_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(people::revoke_token),
        )
        .route("/api/v1/users", get(people::list).post(people::invite))
        .route("/api/v1/users/{id}", axum::routing::patch(people::change))
        .route("/api/v1/users/{id}/disable", post(people::disable))
        .route("/api/v1/users/{id}/enable", post(people::enable))
        .route("/api/v1/users/{id}/reinvite", post(people::reinvite))
        .route(
            "/api/v1/users/{id}/second-factor",
            axum::routing::delete(people::reset_second_factor),
        )
        .route(
            "/api/v1/users/{id}/sessions",
            axum::routing::delete(people::end_sessions),
        )
        .route(
            "/api/v1/invitations/show",
            post(people::show_invitation).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/invitations/totp",
            post(people::invitation_totp).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/invitations/accept",
            post(people::accept_invitation).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/portal/code",
            post(people::portal_code).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/portal/login",
            post(people::portal_login).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/passkeys/register/start",
            post(passkeys::register_start),
        )
        .route(
            "/api/v1/passkeys/register/finish",
            post(passkeys::register_finish),
        )
        .route("/api/v1/passkeys", get(passkeys::list))
        .route(
            "/api/v1/passkeys/{id}",
            axum::routing::delete(passkeys::remove),
        )
        .route("/api/v1/users/{id}/passkeys", get(passkeys::of_person))
        .route(
            "/api/v1/invitations/passkey/start",
            post(passkeys::invitation_start).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/invitations/passkey/finish",
            post(passkeys::invitation_finish).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route("/api/v1/passkeys/login/start", post(passkeys::login_start))
        .route(
            "/api/v1/passkeys/login/finish",
            post(passkeys::login_finish).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route("/api/v1/portal/passkey/start", post(passkeys::portal_start))
        .route(
            "/api/v1/portal/passkey/finish",
            post(passkeys::portal_finish).layer(DefaultBodyLimit::max(MAX_CREDENTIALS_BODY)),
        )
        .route(
            "/api/v1/vault/passkey-challenge",
            post(passkeys::vault_start),
        )
        .route(
            "/api/v1/tenants",
            get(finding::list_tenants).post(api::create_tenant),
        )
        .route("/api/v1/tenants/{id}/close", post(api::close_tenant))
        .route(
            "/api/v1/subjects",
            get(api::list_subjects).post(api::create_subject),
        )
        .route("/api/v1/subjects/count", get(api::count_subjects))
        .route(
            "/api/v1/subjects/{id}/records",
            get(api::read_records).post(api::write_records),
        )
        .route("/api/v1/subjects/{id}/erase", post(api::erase_subject))
        .route("/api/v1/subjects/{id}/audit", get(finding::trail))
        .route("/api/v1/audit/verify", get(api::audit_verify))
        .route(
            "/api/v1/subjects/{id}/consent",
            get(consent::history).post(consent::record),
        )
        .route(
            "/api/v1/subjects/{id}/decisions/{purpose}",
            get(consent::decide),
        )
        .route(
            "/api/v1/subjects/{id}/unsubscribe-link",
            post(consent::unsubscribe_link),
        )
        .route("/api/v1/consent/events/{id}/receipt", get(consent::receipt))
        .route("/api/v1/consent/public-key", get(consent::public_key))
        .route("/api/v1/consent/reconsent", get(consent::reconsent))
        .route(
            "/u/{token}",
            get(consent::confirm_page).post(consent::one_click),
        )
        .route("/api/v1/subjects/{id}/events", post(retention::life_event))
        .route(
            "/api/v1/subjects/{id}/restriction/lift",
            post(consent::lift_restriction),
        )
        .route("/api/v1/retention/plan", get(retention::plan))
        .route("/api/v1/retention/report", get(retention::report))
        .route("/api/v1/vault/query", post(vault::query))
        .route("/api/v1/vault/access-log", get(vault::access_log))
        .route(
            "/api/v1/traffic/ingest",
            post(traffic::ingest).layer(DefaultBodyLimit::max(traffic::MAX_INGEST_BODY)),
        )
        .route("/api/v1/traffic/extract", post(traffic::extract))
        .route("/api/v1/subjects/{id}/bill", get(traffic::bill))
        .route(
            "/api/v1/breaches",
            get(breaches::list).post(breaches::record),
        )
        .route(
            "/api/v1/breaches/{id}",
            get(breaches::show).patch(breaches::amend),
        )
        .route("/api/v1/breaches/{id}/versions", get(breaches::versions))
        .route(
            "/api/v1/breaches/{id}/notifications",
            post(breaches::notify_authority),
        )
        .route(
            "/api/v1/breaches/{id}/assessment",
            get(breaches::assessment).post(breaches::assess),
        )
        .route("/api/v1/breaches/{id}/notice", get(breaches::notice))
        .route("/api/v1/breaches/{id}/exemption", post(breaches::exempt))
        .route(
            "/api/v1/breaches/{id}/people/notify",
            post(breaches::notify_people),
        )
        .route("/api/v1/requests", get(requests::list).post(requests::file))
        .route("/api/v1/requests/{id}/extend", post(requests::extend))
        .route("/api/v1/requests/{id}", get(requests::show))
        .route("/api/v1/requests/{id}/code", post(requests::send_code))
        .route("/api/v1/requests/{id}/verify", post(requests::verify_code))
        .route(
            "/api/v1/requests/{id}/documents/{kind}",
            axum::routing::put(requests::put_document).get(requests::get_document),
        )
        .route(
            "/api/v1/requests/{id}/approve-identity",
            post(requests::approve_identity),
        )
        .route(
            "/api/v1/requests/{id}/attest-identity",
            post(requests::attest_identity),
        )
        .route("/api/v1/requests/{id}/fulfil", post(requests::fulfil))
        .route("/api/v1/requests/{id}/export", get(requests::export))
        .route(
            "/api/v1/requests/{id}/answer",
            post(requests::answer).get(requests::answer_letter),
        )
        .route("/api/v1/notices", get(requests::notices))
        .route(
            "/api/v1/requests/{id}/notices/confirm",
            post(requests::confirm_notice),
        )
        .merge(pages)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Bounds on connections, against clients that open many, or send a
/// header slowly or not at all.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// A client that has not sent a whole request header this long after
    /// connecting, or after its previous answer, is disconnected; this is
    /// also how long an idle kept-alive connection stays open.
    pub header_timeout: Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Serves until `shutdown` resolves; requests in flight then finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, ConnectionLimits::default(), shutdown).await
}

/// Serves under `limits` until `shutdown` resolves; then accepts no more
/// connections, lets requests in flight finish and closes idle ones.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app(listener, router(state), limits, shutdown).await
}

/// Serves `app` (the API, with or without the pages merged in) under
/// `limits` until `shutdown` resolves, as [`serve_with`] does.
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let max = limits.max_connections.clamp(1, 1 << 20);
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (closing, closed) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it
                    // was taken: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req.map(axum::body::Body::new)
            });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    return;
                }
                _ = closed.wait_for(|c| *c) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection gives its slot back when it ends.
    let _ = slots
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
    Ok(())
}
