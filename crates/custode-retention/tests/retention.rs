//! Retention to the day: a year of generated life under each example
//! policy, swept every day, each record checked against an oracle written
//! here from the rules' wording (Regulation 1182/71 counting), not from the
//! store's code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{NewRecord, Principal, SubjectId};
use custode_ledger::NewConsentEvent;
use custode_policy::{Basis, Event, Policy, Unit};
use custode_retention::RetentionPlan;
use custode_store::LifeEvent;
use custode_testkit::*;
use jiff::civil::Date;
use jiff::{Span, Timestamp, tz::TimeZone};
use sqlx::Row;

fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Noon of a day in Rome, the controllers' zone.
fn noon(day: Date) -> Timestamp {
    day.at(12, 0, 0, 0)
        .to_zoned(TimeZone::get("Europe/Rome").expect("zone"))
        .expect("noon")
        .timestamp()
}

/// What happened to one subject, day by day.
#[derive(Default)]
struct Life {
    created: Option<Date>,
    closed: Option<Date>,
    contract_end: Option<Date>,
    activity: Vec<Date>,
    /// Per consent purpose: (day, withdrawn?).
    consent: BTreeMap<String, Vec<(Date, bool)>>,
}

/// The first day on which a record must be gone, from the rules' words:
/// the period starts on the day of the event (not counted) and ends at the
/// end of the day with the same date, so the record goes the day after.
/// `None` while an event it waits for has not happened by `today`.
fn expected_gone(
    policy: &Policy,
    purposes: &[String],
    collected: Date,
    life: &Life,
    today: Date,
) -> Option<Date> {
    let closed = life.closed.filter(|c| *c <= today);
    let mut latest: Option<Date> = None;
    for id in purposes {
        let p = policy.purpose(id).expect("purpose");
        let from = match p.retention.from {
            Event::Collection => Some(collected),
            Event::AccountClosed => closed,
            Event::ContractEnd => life.contract_end.filter(|c| *c <= today).or(closed),
            Event::LastActivity => Some(
                life.activity
                    .iter()
                    .filter(|a| **a <= today)
                    .copied()
                    .chain(life.created)
                    .max()
                    .map_or(collected, |a| a.max(collected)),
            ),
            Event::ConsentWithdrawn => {
                match life
                    .consent
                    .get(id)
                    .and_then(|events| events.iter().rfind(|(d, _)| *d <= today))
                {
                    Some((d, true)) => Some(*d),
                    _ => closed,
                }
            }
        }?;
        let from = from.max(collected);
        let n = i64::from(p.retention.keep.amount);
        let span = match p.retention.keep.unit {
            Unit::Day => Span::new().days(n),
            Unit::Week => Span::new().weeks(n),
            Unit::Month => Span::new().months(n),
            Unit::Year => Span::new().years(n),
        };
        let gone = from
            .checked_add(span)
            .expect("date")
            .tomorrow()
            .expect("date");
        latest = Some(latest.map_or(gone, |l| l.max(gone)));
    }
    latest
}

struct Tracked {
    subject: SubjectId,
    category: String,
    collected: Date,
    purposes: Vec<String>,
    /// Moved to the vault.
    moved: bool,
    /// Gone from the main store (erased or moved).
    gone: bool,
    /// Gone from the vault.
    vault_gone: bool,
}

/// The day a record moves to the vault, from the rules' words: at once when
/// only vault purposes hold it, at closure, or when the other purposes are
/// done with it — if the law still needs it after that day.
fn expected_move(
    policy: &Policy,
    purposes: &[String],
    collected: Date,
    life: &Life,
    today: Date,
) -> Option<Date> {
    let (vault, others): (Vec<String>, Vec<String>) = purposes
        .iter()
        .cloned()
        .partition(|p| policy.purpose(p).is_some_and(|x| x.vault));
    if vault.is_empty() {
        return None;
    }
    let day = if others.is_empty() {
        collected
    } else if let Some(closed) = life.closed.filter(|c| *c <= today) {
        closed.max(collected)
    } else {
        expected_gone(policy, &others, collected, life, today)?
    };
    match expected_gone(policy, &vault, collected, life, today) {
        Some(end) if end <= day => None,
        _ => Some(day),
    }
}

/// Subject kinds and the categories each can hold, with their purposes.
fn writable(policy: &Policy) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for kind in &policy.subjects {
        for c in &policy.categories {
            let purposes: Vec<String> = policy
                .purposes_of_category(&c.id.value)
                .filter(|p| p.subjects.iter().any(|s| s.value == kind.id.value))
                .map(|p| p.id.value.clone())
                .collect();
            if !purposes.is_empty() {
                out.push((kind.id.value.clone(), c.id.value.clone(), purposes));
            }
        }
    }
    out
}

fn record(policy: &Policy, category: &str, n: u64) -> NewRecord {
    let c = policy.category(category).expect("category");
    let f = &c.fields[0];
    let value = match f.identifier {
        Some(custode_policy::IdentifierKind::Email) => format!("user{n}@example.org"),
        Some(custode_policy::IdentifierKind::Phone) => format!("+39055{n:07}"),
        Some(custode_policy::IdentifierKind::IpAddress) => format!("192.0.2.{}", n % 250),
        _ => format!("synthetic-{n}"),
    };
    NewRecord {
        category: category.to_owned(),
        fields: [(f.id.value.clone(), serde_json::Value::from(value))]
            .into_iter()
            .collect(),
        source: "simulation".into(),
        purposes: vec![],
        collected_at: None,
    }
}

async fn present(app: &Custode) -> HashSet<(String, String, i64)> {
    sqlx::query(
        "SELECT s.id, r.category, r.collected_at FROM records r JOIN subjects s ON s.key = r.subject_key",
    )
    .fetch_all(app.store.pool())
    .await
    .expect("records")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

async fn vault_present(env: &Env) -> HashSet<(String, String, i64)> {
    let pool = sqlx::AnyPool::connect(&env.config.vault_url)
        .await
        .expect("vault");
    let rows = sqlx::query("SELECT subject_id, category, collected_at FROM vault_records")
        .fetch_all(&pool)
        .await
        .expect("vault records");
    pool.close().await;
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn a_year_under(env: &Env, source: &str, seed: u64) {
    let policy = Arc::new(custode_policy::load("p.toml", source).expect("policy"));
    let app = env.open_with(policy.clone()).await;
    let t = tree(&app).await;
    let system = Principal::system("simulation");
    let kinds = writable(&policy);
    let start = Date::new(2026, 1, 1).expect("date");
    let mut state = seed;
    let mut lives: HashMap<SubjectId, Life> = HashMap::new();
    // Per subject: the categories it can hold, with their purposes.
    let mut kind_of: HashMap<SubjectId, Vec<(String, Vec<String>)>> = HashMap::new();
    let mut tracked: Vec<Tracked> = Vec::new();
    let consent_purposes: Vec<String> = policy
        .purposes
        .iter()
        .filter(|p| p.basis == Basis::Consent)
        .map(|p| p.id.value.clone())
        .collect();
    for d in 0..400i64 {
        let today = start.checked_add(Span::new().days(d)).expect("date");
        env.clock.set(noon(today));
        // New subjects in the first four months.
        if d < 120 && d % 3 == 0 {
            let (kind, _, _) = &kinds[(rng(&mut state) % kinds.len() as u64) as usize];
            let home = home_for(&app, &t, kind).await;
            let s = app
                .store
                .create_subject(&system, &home, kind, "simulation")
                .await
                .expect("subject");
            let categories = kinds
                .iter()
                .filter(|(k, _, _)| k == kind)
                .map(|(_, c, p)| (c.clone(), p.clone()))
                .collect();
            kind_of.insert(s.clone(), categories);
            let mut life = Life {
                created: Some(today),
                ..Life::default()
            };
            for p in &consent_purposes {
                if policy
                    .purpose(p)
                    .is_some_and(|x| x.subjects.iter().any(|k| &k.value == kind))
                {
                    app.ledger
                        .record_consent(
                            &system,
                            &s,
                            NewConsentEvent {
                                kind: EventKind::Given,
                                purpose: Some(p.clone()),
                                channel: Channel::WebForm,
                                language: None,
                                evidence: Evidence::default(),
                            },
                        )
                        .await
                        .expect("consent");
                    life.consent
                        .entry(p.clone())
                        .or_default()
                        .push((today, false));
                }
            }
            lives.insert(s, life);
        }
        // Each open subject: maybe a record, an activity, a withdrawal, a
        // contract end, a closure.
        let subjects: Vec<SubjectId> = lives.keys().cloned().collect();
        for s in subjects {
            let life = lives.get_mut(&s).expect("life");
            if life.closed.is_some() {
                continue;
            }
            let categories = &kind_of[&s];
            let roll = rng(&mut state) % 100;
            if roll < 25 && d < 300 {
                let (category, purposes) =
                    &categories[(rng(&mut state) % categories.len() as u64) as usize];
                if !tracked
                    .iter()
                    .any(|r| r.subject == s && r.category == *category && r.collected == today)
                {
                    app.store
                        .write_records(
                            &system,
                            "simulation",
                            vec![(s.clone(), record(&policy, category, rng(&mut state)))],
                        )
                        .await
                        .expect("write");
                    tracked.push(Tracked {
                        subject: s.clone(),
                        category: category.clone(),
                        collected: today,
                        purposes: purposes.clone(),
                        moved: false,
                        gone: false,
                        vault_gone: false,
                    });
                }
            } else if roll < 30 {
                app.retention
                    .record_life_event(&system, &s, LifeEvent::Activity, None, "login")
                    .await
                    .expect("activity");
                life.activity.push(today);
            } else if roll == 30 {
                if let Some(p) = life
                    .consent
                    .iter()
                    .find(|(_, ev)| ev.last().is_some_and(|(_, w)| !w))
                    .map(|(p, _)| p.clone())
                {
                    app.ledger
                        .record_consent(
                            &system,
                            &s,
                            NewConsentEvent {
                                kind: EventKind::Withdrawn,
                                purpose: Some(p.clone()),
                                channel: Channel::Email,
                                language: None,
                                evidence: Evidence::default(),
                            },
                        )
                        .await
                        .expect("withdraw");
                    life.consent.entry(p).or_default().push((today, true));
                }
            } else if roll == 31 && life.contract_end.is_none() {
                app.retention
                    .record_life_event(&system, &s, LifeEvent::ContractEnded, None, "ended")
                    .await
                    .expect("contract end");
                life.contract_end = Some(today);
            } else if roll == 32 && d > 30 {
                app.retention
                    .record_life_event(&system, &s, LifeEvent::AccountClosed, None, "closed")
                    .await
                    .expect("close");
                life.closed = Some(today);
            }
        }
        app.retention.sweep_all(&system, 7).await.expect("sweep");
        let in_main = present(&app).await;
        let in_vault = vault_present(env).await;
        for r in tracked
            .iter_mut()
            // Still somewhere: in the main app, or moved and not yet out of the vault.
            .filter(|r| !r.vault_gone && (!r.gone || r.moved))
        {
            let life = &lives[&r.subject];
            let key = (
                r.subject.to_string(),
                r.category.clone(),
                custode_domain::clock::to_micros(noon(r.collected)),
            );
            let what = format!(
                "{} record of {} collected {} (purposes {:?}), on {today}",
                r.category, r.subject, r.collected, r.purposes
            );
            if !r.moved
                && expected_move(&policy, &r.purposes, r.collected, life, today)
                    .is_some_and(|m| m <= today)
            {
                r.moved = true;
            }
            let due = expected_gone(&policy, &r.purposes, r.collected, life, today);
            let want_main = !r.moved && due.is_none_or(|d| today < d);
            let vault: Vec<String> = r
                .purposes
                .iter()
                .filter(|p| policy.purpose(p).is_some_and(|x| x.vault))
                .cloned()
                .collect();
            let vault_due = expected_gone(&policy, &vault, r.collected, life, today);
            let want_vault = r.moved && vault_due.is_none_or(|d| today < d);
            assert_eq!(
                in_main.contains(&key),
                want_main,
                "{what}: in the main store? (due {due:?}, moved {})",
                r.moved
            );
            assert_eq!(
                in_vault.contains(&key),
                want_vault,
                "{what}: in the vault? (vault end {vault_due:?})"
            );
            r.gone = !want_main;
            r.vault_gone = r.moved && !want_vault;
        }
    }
    let erased = tracked.iter().filter(|r| r.gone && !r.moved).count();
    let moved = tracked.iter().filter(|r| r.moved).count();
    let vault_erased = tracked.iter().filter(|r| r.vault_gone).count();
    assert!(
        erased > tracked.len() / 5 && erased + moved < tracked.len(),
        "the year should erase some records and keep others: {erased} erased, {moved} moved of {}",
        tracked.len()
    );
    if policy.purposes.iter().any(|p| p.vault) {
        assert!(moved > 0, "the year should move some records to the vault");
    }
    let report = app
        .retention
        .retention_report(Timestamp::UNIX_EPOCH)
        .await
        .expect("report");
    let sum = |action: &str| -> usize {
        report
            .iter()
            .filter(|l| l.action == action)
            .map(|l| l.records as usize)
            .sum()
    };
    assert_eq!(
        sum("erased"),
        erased,
        "the report counts every erasure once"
    );
    assert_eq!(sum("vaulted"), moved, "and every move to the vault");
    assert_eq!(
        sum("vault_erased"),
        vault_erased,
        "and every erasure from the vault"
    );
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(every_record_goes_on_its_day_under_each_example_policy);
async fn every_record_goes_on_its_day_under_each_example_policy(env: &Env) {
    a_year_under(env, POLICY, 11).await;
}

on_both_engines!(telecom_rules_hold_to_the_day);
async fn telecom_rules_hold_to_the_day(env: &Env) {
    a_year_under(env, TELECOM, 23).await;
}

on_both_engines!(messaging_rules_hold_to_the_day);
async fn messaging_rules_hold_to_the_day(env: &Env) {
    a_year_under(env, MESSAGING, 37).await;
}

/// `subjects` closed accounts of `per` contact records each, all due, and
/// one open account whose records are not.
async fn due_and_kept(app: &Custode, t: &Tree, subjects: usize, per: usize) -> SubjectId {
    let system = Principal::system("setup");
    let policy = app.store.policy();
    let now = store_now(app).await;
    let three_years = jiff::SignedDuration::from_hours(24 * 365 * 3);
    let ids = app
        .store
        .create_subjects(&system, &t.domain_a.id, "mailbox_user", subjects, "setup")
        .await
        .expect("subjects");
    for (i, s) in ids.iter().enumerate() {
        let batch = (0..per)
            .map(|n| {
                let mut r = record(&policy, "contact", (i * per + n) as u64);
                r.collected_at = Some(now - three_years);
                (s.clone(), r)
            })
            .collect();
        app.store
            .write_records(&system, "setup", batch)
            .await
            .expect("write");
        app.retention
            .record_life_event(
                &system,
                s,
                LifeEvent::AccountClosed,
                Some(now - three_years + jiff::SignedDuration::from_hours(24)),
                "closed long ago",
            )
            .await
            .expect("close");
    }
    let open = app
        .store
        .create_subject(&system, &t.domain_a.id, "mailbox_user", "setup")
        .await
        .expect("subject");
    let batch = (0..per)
        .map(|n| (open.clone(), record(&policy, "contact", n as u64)))
        .collect();
    app.store
        .write_records(&system, "setup", batch)
        .await
        .expect("write");
    open
}

async fn store_now(_app: &Custode) -> Timestamp {
    Timestamp::new(1_767_225_600, 0).expect("2026-01-01")
}

async fn count(app: &Custode, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(app.store.pool())
        .await
        .expect("count")
        .get::<i64, _>(0)
}

on_both_engines!(two_sweepers_never_erase_a_batch_twice);
async fn two_sweepers_never_erase_a_batch_twice(env: &Env) {
    let a = env.open().await;
    let b = env.open().await;
    let t = tree(&a).await;
    let open = due_and_kept(&a, &t, 40, 50).await;
    assert_eq!(a.retention.retention_due().await.expect("due"), 2000);
    let (sa, sb) = (
        Principal::system("sweeper-a"),
        Principal::system("sweeper-b"),
    );
    let (ra, rb) = tokio::join!(
        a.retention.sweep_all(&sa, 37),
        b.retention.sweep_all(&sb, 37)
    );
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(
        ra.erased + rb.erased,
        2000,
        "together they erase everything due, once"
    );
    assert!(
        ra.erased > 0 && rb.erased > 0,
        "both took turns: {} and {}",
        ra.erased,
        rb.erased
    );
    assert_eq!(ra.subjects_shredded + rb.subjects_shredded, 40);
    assert_eq!(
        count(&a, "SELECT COUNT(*) FROM records").await,
        50,
        "the open account's records stay"
    );
    let left = a
        .store
        .records(&Principal::system("check"), &open, "check")
        .await
        .expect("read");
    assert_eq!(left.len(), 50);
    assert_eq!(
        count(
            &a,
            "SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) FROM retention_log"
        )
        .await,
        2000,
        "the report counts each erasure once"
    );
    assert_eq!(
        count(
            &a,
            "SELECT COUNT(*) FROM subjects WHERE erased_at IS NOT NULL"
        )
        .await,
        40
    );
    assert!(a.vault.audit_verify().await.expect("verify").is_intact());
    a.close().await;
    b.close().await;
}

/// Per (day in the controller's zone, action, category, rule): records.
type Tally = BTreeMap<(Date, String, String, String), u64>;

fn zone_of(app: &Custode) -> TimeZone {
    TimeZone::get(custode_domain::records::zone_for(
        &app.store.policy().meta.jurisdiction,
    ))
    .expect("zone")
}

fn tally_plan(plan: &RetentionPlan) -> Tally {
    let mut t = Tally::new();
    for l in &plan.lines {
        *t.entry((l.day, l.action.clone(), l.category.clone(), l.rule.clone()))
            .or_default() += l.records;
    }
    t
}

async fn tally_report(app: &Custode) -> Tally {
    let tz = zone_of(app);
    let mut t = Tally::new();
    for l in app
        .retention
        .retention_report(Timestamp::UNIX_EPOCH)
        .await
        .expect("report")
    {
        let day = l.at.to_zoned(tz.clone()).date();
        *t.entry((day, l.action, l.category, l.rule)).or_default() += l.records;
    }
    t
}

/// Per (app, category): records held, as the databases say.
async fn held(env: &Env, app: &Custode) -> BTreeMap<(&'static str, String), u64> {
    let mut out = BTreeMap::new();
    let vault = sqlx::AnyPool::connect(&env.config.vault_url)
        .await
        .expect("vault");
    for (name, pool) in [("main", app.store.pool()), ("vault", &vault)] {
        let table = if name == "main" {
            "SELECT category, COUNT(*) FROM records GROUP BY category"
        } else {
            "SELECT category, COUNT(*) FROM vault_records GROUP BY category"
        };
        for r in sqlx::query(table).fetch_all(pool).await.expect("count") {
            let n: i64 = r.get(1);
            out.insert((name, r.get::<String, _>(0)), n as u64);
        }
    }
    vault.close().await;
    out
}

fn held_in(plan: &RetentionPlan, now: bool) -> BTreeMap<(&'static str, String), u64> {
    plan.held
        .iter()
        .map(|h| {
            (
                (h.store, h.category.clone()),
                if now { h.now } else { h.then },
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Lives the days the plan names, sweeping a second before each action
/// (nothing of it may happen yet) and at its instant; then checks that
/// the sweeper did exactly what the plan said, on the days it said, and
/// that each store holds what the plan said it would.
async fn follow(env: &Env, app: &Custode, plan: &RetentionPlan) {
    let sweeper = Principal::system("sweeper");
    let baseline = tally_report(app).await;
    let mut instants: Vec<Timestamp> = plan.lines.iter().map(|l| l.at).collect();
    instants.sort();
    instants.dedup();
    let mut last = plan.now;
    for at in instants {
        let before = at - jiff::SignedDuration::from_secs(1);
        if before > last {
            env.clock.set(before);
            let done = tally_report(app).await;
            app.retention.sweep_all(&sweeper, 5).await.expect("sweep");
            assert_eq!(
                tally_report(app).await,
                done,
                "nothing the plan puts at {at} happens a second earlier"
            );
        }
        env.clock.set(at);
        app.retention.sweep_all(&sweeper, 5).await.expect("sweep");
        last = at;
    }
    env.clock.set(plan.until);
    app.retention.sweep_all(&sweeper, 5).await.expect("sweep");
    let mut done = tally_report(app).await;
    for (key, n) in baseline {
        if let Some(m) = done.get_mut(&key) {
            *m -= n;
        }
    }
    done.retain(|_, n| *n > 0);
    assert_eq!(
        done,
        tally_plan(plan),
        "the sweeper did what the plan foresaw, on its days"
    );
    let actual = held(env, app).await;
    assert_eq!(
        actual,
        held_in(plan, false),
        "each store holds what the plan said"
    );
}

// Issue "Every promise kept", B: the plan forecasts every action on every
// store — moves to the vault (billing traffic after 6 months), the vault's
// own ends (an unanswered call after 30 days) and erasures from the main
// store — and, as of a future day, what will remain, changing nothing.
on_both_engines!(the_plan_foresees_every_action_on_every_store_to_the_day);
async fn the_plan_foresees_every_action_on_every_store_to_the_day(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let policy = app.store.policy();
    let t = tree(&app).await;
    let system = Principal::system("setup");
    env.clock.set(noon(Date::new(2026, 1, 1).expect("date")));
    let customer = app
        .store
        .create_subject(&system, &t.domain_a.id, "customer", "setup")
        .await
        .expect("subject");
    let mut batch = Vec::new();
    for (category, n) in [
        ("unanswered_calls", 3),
        ("phone_traffic", 2),
        ("navigation", 1),
        ("master_data", 1),
    ] {
        for i in 0..n {
            batch.push((customer.clone(), record(&policy, category, i)));
        }
    }
    app.store
        .write_records(&system, "setup", batch)
        .await
        .expect("write");
    let before = held(env, &app).await;
    let day = |y, m, d| Date::new(y, m, d).expect("date");

    // As of the end of 2028-02-01: everything foreseeable has happened.
    let plan = app
        .retention
        .retention_plan(app.retention.end_of_day(day(2028, 2, 1)).expect("day"))
        .await
        .expect("plan");
    let line = |d: Date, action: &str, category: &str, rule: &str, n: u64| {
        (
            (d, action.to_owned(), category.to_owned(), rule.to_owned()),
            n,
        )
    };
    let expected: Tally = [
        // Vault-only data go at once; their legal 30 days end on 31 January.
        line(
            day(2026, 1, 1),
            "vaulted",
            "unanswered_calls",
            "keep_unanswered_calls",
            3,
        ),
        line(
            day(2026, 2, 1),
            "vault_erased",
            "unanswered_calls",
            "keep_unanswered_calls",
            3,
        ),
        // Billing and bill checks end after 6 months; the law keeps 24.
        line(
            day(2026, 7, 2),
            "vaulted",
            "phone_traffic",
            "keep_phone_traffic",
            2,
        ),
        line(
            day(2028, 1, 2),
            "vault_erased",
            "phone_traffic",
            "keep_phone_traffic",
            2,
        ),
        line(day(2026, 7, 2), "erased", "navigation", "website", 1),
        // Unused for 24 months (to the end of 2028-01-01), the account is
        // closed by its kind's inactivity rule; what the law keeps of the
        // master data then moves to the vault.
        line(
            day(2028, 1, 2),
            "vaulted",
            "master_data",
            "authority_orders,tax_records",
            1,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(tally_plan(&plan), expected);
    assert_eq!(
        plan.closures,
        [custode_retention::Closure {
            day: day(2028, 1, 2),
            kind: "customer".to_owned(),
            accounts: 1,
        }],
        "the plan names the accounts the inactivity rule closes"
    );
    assert_eq!(
        held_in(&plan, true),
        before,
        "held now, as the databases say"
    );
    let then = held_in(&plan, false);
    assert_eq!(
        then.get(&("main", "master_data".to_owned())),
        None,
        "the dormant account's closure ends what waited for it"
    );
    assert_eq!(then.get(&("vault", "master_data".to_owned())), Some(&1));
    assert_eq!(then.get(&("main", "phone_traffic".to_owned())), None);
    assert_eq!(then.get(&("vault", "phone_traffic".to_owned())), None);

    // The state as of 2026-08-01: the traffic moved, not yet erased.
    let august = app
        .retention
        .retention_plan(app.retention.end_of_day(day(2026, 8, 1)).expect("day"))
        .await
        .expect("plan");
    let until_august: Tally = expected
        .clone()
        .into_iter()
        .filter(|((d, ..), _)| *d <= day(2026, 8, 1))
        .collect();
    assert_eq!(tally_plan(&august), until_august);
    let then = held_in(&august, false);
    assert_eq!(then.get(&("vault", "phone_traffic".to_owned())), Some(&2));
    assert_eq!(then.get(&("main", "phone_traffic".to_owned())), None);
    assert_eq!(then.get(&("vault", "unanswered_calls".to_owned())), None);

    // A what-if: nothing was done.
    assert!(tally_report(&app).await.is_empty());
    assert_eq!(held(env, &app).await, before);

    follow(env, &app, &plan).await;
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

// Issue "Every promise kept", B: a vault record whose legal end waited for
// an event (kept "10 years from closure", moved while the account was
// open) is foreseen once the account closes, before the sweeper settles it.
on_both_engines!(the_plan_settles_vault_ends_that_waited_for_an_event);
async fn the_plan_settles_vault_ends_that_waited_for_an_event(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let policy = app.store.policy();
    let t = tree(&app).await;
    let system = Principal::system("setup");
    let home = home_for(&app, &t, "subscriber").await;
    let subscriber = app
        .store
        .create_subject(&system, &home, "subscriber", "setup")
        .await
        .expect("subject");
    let mut payment = record(&policy, "payment", 1);
    payment.purposes = vec!["legal_minimum".to_owned()];
    app.store
        .write_records(&system, "setup", vec![(subscriber.clone(), payment)])
        .await
        .expect("write");
    app.retention
        .sweep_all(&system, 10)
        .await
        .expect("moved to the vault at once");
    let far = app
        .retention
        .end_of_day(Date::new(2037, 1, 1).expect("date"))
        .expect("day");
    assert!(
        tally_plan(&app.retention.retention_plan(far).await.expect("plan")).is_empty(),
        "no end while the account is open"
    );
    env.clock.set(noon(Date::new(2026, 3, 10).expect("date")));
    app.retention
        .record_life_event(
            &system,
            &subscriber,
            LifeEvent::AccountClosed,
            None,
            "closed",
        )
        .await
        .expect("close");
    let plan = app.retention.retention_plan(far).await.expect("plan");
    let expected: Tally = [(
        (
            Date::new(2036, 3, 11).expect("date"),
            "vault_erased".to_owned(),
            "payment".to_owned(),
            "legal_minimum".to_owned(),
        ),
        1,
    )]
    .into_iter()
    .collect();
    assert_eq!(tally_plan(&plan), expected);
    follow(env, &app, &plan).await;
    app.close().await;
}
