//! The console's breach register: every breach in the signed-in person's
//! scope with its clock (the deadline for the authority, hours left, late
//! or told), the most urgent first. The list, the role check and the scope
//! are `custode-breaches`', as for `GET /api/v1/breaches`; the page only
//! shows them.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use custode_domain::{Operation, may};
use custode_server::AppState;

use crate::{Chrome, failure, page, render, see_other, status_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/console/breaches", get(list))
}

/// A breach as the table shows it.
struct Row {
    id: String,
    tenant: String,
    description: String,
    due: String,
    /// Whole hours left on the running clock, or a dash.
    hours: String,
    /// Overdue, to notify, follow-up owed or notified, in words.
    state: String,
    late: bool,
}

#[derive(askama::Template)]
#[template(path = "console_breaches.html")]
struct Breaches {
    c: Chrome,
    title: String,
    rows: Vec<Row>,
}

page!(Breaches);

async fn list(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(who) = crate::console::staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    if !may(who.principal.role, Operation::ManageBreaches) {
        if let Err(e) = state
            .store
            .record_denied(&who.principal, "read the breach register")
            .await
        {
            return failure(&state, c, e);
        }
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    }
    let all = match state.breaches.list(&who.principal).await {
        Ok(all) => all,
        Err(e) => return failure(&state, c, e),
    };
    let policy = state.store.policy();
    let zone =
        jiff::tz::TimeZone::get(custode_domain::records::zone_for(&policy.meta.jurisdiction))
            .unwrap_or(jiff::tz::TimeZone::UTC);
    let rows = all
        .into_iter()
        .map(|b| {
            let k = &b.clocks;
            let (due, hours, state) = match (k.hours_left, k.follow_up_hours_left) {
                (Some(h), _) => (
                    k.authority_due,
                    Some(h),
                    if k.overdue { "overdue" } else { "to-notify" },
                ),
                (None, Some(h)) => (
                    k.follow_up_due.unwrap_or(k.authority_due),
                    Some(h),
                    if k.follow_up_overdue {
                        "overdue"
                    } else {
                        "follow-up"
                    },
                ),
                (None, None) => (k.authority_due, None, "notified"),
            };
            Row {
                id: b.id.to_string(),
                tenant: b.tenant.to_string(),
                description: b.facts.description,
                due: due
                    .to_zoned(zone.clone())
                    .strftime("%Y-%m-%d %H:%M %Z")
                    .to_string(),
                hours: hours.map_or_else(|| "–".to_owned(), |h| h.to_string()),
                state: c.t(&format!("breaches-state-{state}")),
                late: k.overdue || k.follow_up_overdue || k.notified_late,
            }
        })
        .collect();
    let title = c.t("breaches-title");
    render(&state, StatusCode::OK, &Breaches { c, title, rows })
}
