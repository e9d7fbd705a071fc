//! Traffic data as seed 003's operator and the e-mail hosts live it: call
//! records, a FreeRADIUS detail file and a mail log (generated here, with
//! synthetic numbers and names) stored with periods from their own dates,
//! linked by keyed hash, resumed after an interruption without a line
//! twice, answered to a judge under the law's limits with a signed
//! manifest, dropped a month at a time, and itemised for the subscriber
//! with the called numbers masked.

use std::io::Read;

use custode_accounts::{FreshFactor, Grant};
use custode_domain::{Principal, Role, Scope, SubjectId};
use custode_testkit::*;
use custode_traffic::{Extraction, IngestOptions, Kind, Target, Traffic, TrafficError, verify_dir};
use custode_vault::VaultOrder;
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

const NOW: &str = "2026-12-07T12:00:00Z";
const ANNA: &str = "+393331000001";
const BRUNO: &str = "+393331000002";
const STRANGER: &str = "+393339999999";

fn at(text: &str) -> Timestamp {
    text.parse().expect("time")
}

fn days_ago(n: i64) -> Timestamp {
    at(NOW) - SignedDuration::from_hours(24 * n)
}

/// A subscriber of the telecom example: a number, an account name and a
/// mailbox, in its records (so in the identifier index).
async fn subscriber(app: &Custode, t: &Tree, phone: &str, user: &str, email: &str) -> SubjectId {
    let system = Principal::system("test");
    let s = app
        .store
        .create_subject(&system, &t.domain_a.id, "customer", "contract signed")
        .await
        .expect("subject");
    let mut master = master_data(email, "Synthetic Person");
    master
        .fields
        .insert("phone".to_owned(), serde_json::Value::from(phone));
    let access = custode_domain::NewRecord {
        category: "access".into(),
        fields: [("username".to_owned(), serde_json::Value::from(user))]
            .into_iter()
            .collect(),
        source: "provisioning".into(),
        purposes: vec![],
        collected_at: None,
    };
    app.store
        .write_records(
            &system,
            "contract",
            vec![(s.clone(), master), (s.clone(), access)],
        )
        .await
        .expect("records");
    s
}

struct World {
    app: Custode,
    traffic: Traffic,
    anna: SubjectId,
    bruno: SubjectId,
    tree: Tree,
}

async fn world(env: &Env) -> World {
    let app = env.open_with(Env::telecom()).await;
    let tree = tree(&app).await;
    let anna = subscriber(&app, &tree, ANNA, "anna.verdi", "anna@posta.example").await;
    let bruno = subscriber(&app, &tree, BRUNO, "bruno.neri", "bruno@posta.example").await;
    env.clock.set(at(NOW));
    World {
        traffic: Traffic::new(app.vault.clone()),
        app,
        anna,
        bruno,
        tree,
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

/// A CDR file in the shipped layout: Anna's calls at dates that matter,
/// Bruno's bulk calls, a stranger's call, and three bad lines.
fn cdr_file(bulk: usize) -> (String, usize) {
    let mut lines = vec!["caller,callee,start,duration,answered,cell".to_owned()];
    let mut good = 0;
    let mut call = |caller: &str, callee: &str, when: Timestamp, secs: u32, answered: &str| {
        lines.push(format!(
            "{caller},{callee},{},{secs},{answered},222-01-5011-{}",
            rfc3339(when),
            secs % 97
        ));
        good += 1;
    };
    call(ANNA, BRUNO, days_ago(3), 125, "ANSWERED");
    call(ANNA, "+390287654321", days_ago(10), 60, "1");
    call(ANNA, "+390611122233", days_ago(5), 0, "NO ANSWER");
    call(ANNA, "+390611122244", days_ago(45), 0, "NO ANSWER");
    call(ANNA, "+390555000111", at("2025-04-10T09:00:00Z"), 300, "1");
    call(ANNA, "+390555000222", at("2024-06-10T09:00:00Z"), 42, "1");
    call(STRANGER, ANNA, days_ago(2), 30, "1");
    // Bruno's calls through November, to numbers a small generator makes.
    let mut seed: u64 = 7;
    for i in 0..bulk {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let callee = format!("+39333{:07}", (seed >> 33) % 10_000_000);
        let when = at("2026-11-01T00:00:00Z") + SignedDuration::from_secs((i as i64) * 600);
        call(
            BRUNO,
            &callee,
            when,
            (seed % 3600) as u32,
            if seed.is_multiple_of(5) { "0" } else { "1" },
        );
    }
    let n = lines.len();
    lines.insert(n / 2, format!("{ANNA},{BRUNO},2026-11-20T10:00:00Z,12,1"));
    lines.insert(
        n / 2 + 1,
        format!("{ANNA},{BRUNO},2027-02-01T10:00:00Z,12,1,c"),
    );
    lines.insert(
        n / 2 + 2,
        format!("{ANNA},not a number,2026-11-20T10:00:00Z,12,1,c"),
    );
    (lines.join("\n") + "\n", good)
}

/// A FreeRADIUS detail file: Anna's session (start, interim, stop), an
/// Accounting-On, a session of an account nobody holds.
fn radius_file() -> String {
    let block = |status: &str, user: &str, ip: &str, when: Timestamp, extra: &str| {
        let local = when.to_zoned(jiff::tz::TimeZone::UTC);
        format!(
            "{}\n\tAcct-Status-Type = {status}\n\tUser-Name = \"{user}\"\n\tNAS-IP-Address = 192.0.2.1\n\tFramed-IP-Address = {ip}\n\tAcct-Session-Id = \"4D2A{}\"\n\tEvent-Timestamp = \"{}\"\n{extra}\tTimestamp = {}\n\n",
            local.strftime("%a %b %e %H:%M:%S %Y"),
            user.len(),
            local.strftime("%b %e %Y %H:%M:%S UTC"),
            when.as_second()
        )
    };
    let mut out = String::new();
    out += &block("Start", "anna.verdi", "100.64.12.7", days_ago(4), "");
    out += &block(
        "Interim-Update",
        "anna.verdi",
        "100.64.12.7",
        days_ago(4) + SignedDuration::from_hours(1),
        "\tAcct-Input-Octets = 1000\n\tAcct-Output-Octets = 20000\n",
    );
    out += "Mon Dec  7 11:00:00 2026\n\tAcct-Status-Type = Accounting-On\n\tNAS-IP-Address = 192.0.2.1\n\n";
    out += &block(
        "Stop",
        "anna.verdi",
        "100.64.12.7",
        days_ago(4) + SignedDuration::from_hours(2),
        "\tAcct-Session-Time = 7200\n",
    );
    out += &block("Start", "ghost.user", "100.64.99.1", days_ago(1), "");
    out
}

/// A mail log: Anna's IMAP and SMTP AUTH logins, delivery lines, a login
/// missing its address.
fn maillog_file() -> String {
    let stamp = |t: Timestamp| {
        t.to_zoned(jiff::tz::TimeZone::get("Europe/Rome").expect("zone"))
            .strftime("%b %e %H:%M:%S")
            .to_string()
    };
    [
        format!("{} mx1 dovecot: imap-login: Login: user=<anna@posta.example>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=31337, TLS, session=<Xyz>", stamp(days_ago(1))),
        format!("{} mx1 postfix/smtpd[2211]: 4F1A22C0B3: client=unknown[198.51.100.23], sasl_method=PLAIN, sasl_username=anna@posta.example", stamp(days_ago(1))),
        format!("{} mx1 postfix/qmgr[99]: 4F1A22C0B3: from=<anna@posta.example>, size=100, nrcpt=1 (queue active)", stamp(days_ago(1))),
        format!("{} mx1 dovecot: pop3-login: Login: user=<bruno@posta.example>, method=PLAIN, lip=192.0.2.10", stamp(days_ago(1))),
    ]
    .join("\n")
        + "\n"
}

async fn ingest(
    w: &World,
    kind: Kind,
    text: &str,
) -> Result<custode_traffic::IngestSummary, TrafficError> {
    w.traffic
        .ingest(
            &Principal::system("ingest"),
            kind,
            "file",
            text.as_bytes(),
            &IngestOptions::default(),
        )
        .await
}

async fn rows(w: &World, table: &str) -> Vec<(i64, i64, Option<i64>, Option<i64>)> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT at, legal_until, billing_until, subject_key FROM {table} ORDER BY at"
    )))
    .fetch_all(w.app.store.pool())
    .await
    .expect("rows")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

on_both_engines!(each_record_lands_with_its_period_from_its_own_date);
async fn each_record_lands_with_its_period_from_its_own_date(env: &Env) {
    let w = world(env).await;
    let (cdr, good) = cdr_file(300);
    let s = ingest(&w, Kind::Cdr, &cdr).await.expect("cdr ingested");
    assert_eq!(s.stored, good as u64);
    assert_eq!(s.pending, 1, "the stranger's call is kept, unlinked");
    let rejected: Vec<String> = s.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    let middle = good.div_ceil(2) + 1;
    assert_eq!(
        rejected[0],
        format!("line {}: 5 columns where the layout has 6", middle)
    );
    assert!(
        rejected[1].starts_with(&format!("line {}: the date 2027-02-01", middle + 1)),
        "{}",
        rejected[1]
    );
    assert!(
        rejected[2].starts_with(&format!("line {}: callee `not a number`", middle + 2)),
        "{}",
        rejected[2]
    );
    assert_eq!(s.lines, good as u64 + 4);

    // The call 20 months old ends 24 months after its own day, in Rome.
    let april = rows(&w, "traffic_phone_traffic_202504").await;
    assert_eq!(april.len(), 1);
    assert_eq!(april[0].0, micros(at("2025-04-10T09:00:00Z")));
    assert_eq!(
        april[0].1,
        micros(at("2027-04-10T22:00:00Z")),
        "end of 10 April 2027, Rome time"
    );
    assert_eq!(
        april[0].2,
        Some(micros(at("2025-10-10T22:00:00Z"))),
        "six months of billing"
    );
    // The unanswered call has its own category and 30 days.
    let unanswered = rows(&w, "traffic_unanswered_calls_202612").await;
    let five_days = unanswered
        .iter()
        .find(|r| r.0 == micros(days_ago(5)))
        .expect("the unanswered call of 5 days ago");
    assert_eq!(five_days.1, micros(at("2027-01-01T23:00:00Z")));
    assert_eq!(five_days.2, None, "unanswered calls are not billed");
    let subject_keys: Vec<Option<i64>> = rows(&w, "traffic_phone_traffic_202612")
        .await
        .iter()
        .map(|r| r.3)
        .collect();
    assert!(
        subject_keys.contains(&None) && subject_keys.iter().filter(|k| k.is_some()).count() == 1
    );

    let r = ingest(&w, Kind::Radius, &radius_file())
        .await
        .expect("radius ingested");
    assert_eq!((r.stored, r.pending, r.skipped), (4, 1, 1), "{r:?}");
    let m = ingest(&w, Kind::Maillog, &maillog_file())
        .await
        .expect("maillog ingested");
    assert_eq!((m.stored, m.pending, m.skipped), (2, 0, 1), "{m:?}");
    assert_eq!(
        m.rejected[0].to_string(),
        "line 4: a Dovecot login without rip="
    );
    let net = rows(&w, "traffic_net_traffic_202612").await;
    assert_eq!(net.len(), 6, "four RADIUS records, two logins");
    let login = net
        .iter()
        .find(|r| r.0 == micros(days_ago(1)) && r.3.is_some())
        .expect("a login");
    assert_eq!(
        login.1,
        micros(at("2027-12-06T23:00:00Z")),
        "telematic: 12 months"
    );

    let listed = w.traffic.partitions().await.expect("partitions");
    let names: Vec<(&str, &str)> = listed
        .iter()
        .map(|p| (p.category.as_str(), p.month.as_str()))
        .collect();
    for expected in [
        ("phone_traffic", "2024-06"),
        ("phone_traffic", "2025-04"),
        ("phone_traffic", "2026-11"),
        ("phone_traffic", "2026-12"),
        ("unanswered_calls", "2026-10"),
        ("net_traffic", "2026-12"),
    ] {
        assert!(names.contains(&expected), "{expected:?} in {names:?}");
    }
    // The 72 months of L. 167/2017 keep the oldest month until 2030.
    let oldest = listed
        .iter()
        .find(|p| p.month == "2024-06")
        .expect("june 2024");
    assert_eq!(oldest.kept_until, at("2030-06-10T22:00:00Z"));

    if env.engine == custode_store::Engine::Sqlite {
        // Nothing of a number, an account name or an address in clear.
        w.app.close().await;
        let mut bytes = Vec::new();
        for f in ["custode.db", "custode.db-wal"] {
            if let Ok(mut file) = std::fs::File::open(env.dir.join(f)) {
                file.read_to_end(&mut bytes).expect("read");
            }
        }
        for secret in [
            ANNA,
            "3331000001",
            "anna.verdi",
            "100.64.12.7",
            "198.51.100.23",
            "anna@posta",
        ] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is in the database in clear"
            );
        }
    }
}

on_both_engines!(bad_input_is_reported_with_where_and_nothing_is_stored_half);
async fn bad_input_is_reported_with_where_and_nothing_is_stored_half(env: &Env) {
    let w = world(env).await;
    for (kind, text) in [
        (Kind::Cdr, radius_file()),
        (Kind::Radius, cdr_file(3).0),
        (Kind::Maillog, cdr_file(3).0),
    ] {
        let e = ingest(&w, kind, &text).await.expect_err("the wrong format");
        let TrafficError::WrongFormat { line, .. } = &e else {
            panic!("{e}");
        };
        assert_eq!(*line, 1);
        assert!(e.to_string().contains("nothing was stored"), "{e}");
    }
    assert!(w.traffic.partitions().await.expect("list").is_empty());
    // A line over 8 KiB is refused, the rest stored.
    let text = format!(
        "caller,callee,start,duration,answered,cell\n{ANNA},{BRUNO},{},1,1,{}\n{ANNA},{BRUNO},{},1,1,c\n",
        rfc3339(days_ago(1)),
        "x".repeat(10_000),
        rfc3339(days_ago(1))
    );
    let s = ingest(&w, Kind::Cdr, &text).await.expect("ingested");
    assert_eq!(s.stored, 1);
    assert_eq!(s.rejected[0].line, 2);
    assert!(s.rejected[0].why.contains("longer than 8 KiB"));
    // The same file again: known, nothing read twice.
    let again = ingest(&w, Kind::Cdr, &text).await.expect("known");
    assert!(again.already_done);
    assert_eq!(again.stored, 1);
    let total: u64 = w
        .traffic
        .partitions()
        .await
        .expect("list")
        .iter()
        .map(|p| p.records)
        .sum();
    assert_eq!(total, 1);
}

/// A reader that fails after `limit` bytes, as a killed process stops.
struct Interrupted<'a> {
    data: &'a [u8],
    limit: usize,
}

impl Read for Interrupted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.limit == 0 {
            return Err(std::io::Error::other("killed"));
        }
        let n = buf.len().min(self.limit).min(self.data.len()).min(1000);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.limit -= n;
        Ok(n)
    }
}

on_both_engines!(an_interrupted_ingestion_resumes_and_stores_every_line_once);
async fn an_interrupted_ingestion_resumes_and_stores_every_line_once(env: &Env) {
    let w = world(env).await;
    let options = IngestOptions {
        batch: 40,
        ..IngestOptions::default()
    };
    let by = Principal::system("ingest");
    let radius: String = (0..200).map(|_| radius_file()).collect::<Vec<_>>().concat();
    // Repeated blocks are distinct lines of one file: each is stored.
    for (kind, text, expected) in [
        (Kind::Cdr, cdr_file(2000).0, cdr_file(2000).1 as u64),
        (Kind::Radius, radius, 200 * 4),
    ] {
        let bytes = text.as_bytes();
        for cut in [bytes.len() / 3, bytes.len() * 2 / 3] {
            let e = w
                .traffic
                .ingest(
                    &by,
                    kind,
                    "f",
                    Interrupted {
                        data: bytes,
                        limit: cut,
                    },
                    &options,
                )
                .await
                .expect_err("killed mid-file");
            assert!(matches!(e, TrafficError::Io(_)), "{e}");
        }
        let partial: u64 = w
            .traffic
            .partitions()
            .await
            .expect("list")
            .iter()
            .map(|p| p.records)
            .sum();
        let s = w
            .traffic
            .ingest(&by, kind, "f", bytes, &options)
            .await
            .expect("resumed");
        assert!(s.resumed_after > 0, "the restart skipped what was stored");
        assert_eq!(s.stored, expected, "{kind:?}: every record once");
        let total: u64 = w
            .traffic
            .partitions()
            .await
            .expect("list")
            .iter()
            .map(|p| p.records)
            .sum();
        assert!(total >= partial);
        let mut counted = 0i64;
        for p in w.traffic.partitions().await.expect("list") {
            counted += sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {}",
                p.id
            )))
            .fetch_one(w.app.store.pool())
            .await
            .expect("count")
            .get::<i64, _>(0);
        }
        assert_eq!(
            counted as u64, total,
            "the catalogue counts what the tables hold"
        );
    }
    let total: u64 = w
        .traffic
        .partitions()
        .await
        .expect("list")
        .iter()
        .map(|p| p.records)
        .sum();
    assert_eq!(total, cdr_file(2000).1 as u64 + 800);
}

/// A legal officer with a confirmed second factor; the principal and the
/// TOTP secret.
async fn legal_officer(env: &Env, app: &Custode) -> (Principal, [u8; 20]) {
    let passphrase = "a long passphrase for lea";
    let user = app
        .accounts
        .create_user(
            &admin(),
            "lea",
            passphrase,
            &Grant {
                role: Role::LegalOfficer,
                scope_path: "/".into(),
                subject: None,
            },
        )
        .await
        .expect("user");
    let (secret, _) = app
        .accounts
        .enroll_totp("lea", passphrase)
        .await
        .expect("enrol");
    let secret = custode_crypto::totp::secret_from_base32(&secret).expect("160 bits");
    let code = fresh_code(env, &secret);
    app.accounts
        .confirm_totp("lea", passphrase, &code)
        .await
        .expect("confirm");
    (
        Principal {
            id: format!("user:{user}"),
            role: Role::LegalOfficer,
            scope: Scope::everything(),
        },
        secret,
    )
}

fn fresh_code(env: &Env, secret: &[u8; 20]) -> String {
    env.clock.advance(SignedDuration::from_secs(30));
    let now = custode_domain::Clock::now(&*env.clock).as_second();
    custode_crypto::totp::code_at(secret, u64::try_from(now).expect("after 1970"))
}

fn order(crime: &str, target: Target, from: Timestamp, to: Timestamp) -> Extraction {
    Extraction {
        order: VaultOrder {
            authority: "Procura della Repubblica di Perugia".into(),
            number: "RG 4321/2026".into(),
            date: "2026-12-04".into(),
            scope: "traffic of the line in the period".into(),
        },
        crime: crime.into(),
        target,
        from,
        to,
    }
}

on_both_engines!(a_judges_order_is_answered_within_the_law_and_its_manifest_verifies);
async fn a_judges_order_is_answered_within_the_law_and_its_manifest_verifies(env: &Env) {
    let w = world(env).await;
    ingest(&w, Kind::Cdr, &cdr_file(50).0).await.expect("cdr");
    ingest(&w, Kind::Radius, &radius_file())
        .await
        .expect("radius");
    let (officer, secret) = legal_officer(env, &w.app).await;

    // Last week's calls of Anna's number, made or received: yesterday's
    // traffic is there for the judge at once.
    let week = order(
        "other",
        Target::Number("+39 333 100 0001".into()),
        days_ago(7),
        at(NOW),
    );
    let code = fresh_code(env, &secret);
    let answer = w
        .traffic
        .extract(&officer, Some(&FreshFactor::Totp(&code)), &week)
        .await
        .expect("answered");
    assert_eq!(answer.records, 3, "to Bruno, unanswered, from the stranger");
    let dir = env.dir.join("answer-1");
    answer.write_to(&dir).expect("written");
    let manifest = verify_dir(&dir, Some(&w.app.store.verifying_key())).expect("verifies");
    assert_eq!(manifest.order.number, "RG 4321/2026");
    assert_eq!(manifest.officer, officer.id);
    assert_eq!(manifest.records, 3);
    let csv = std::fs::read_to_string(dir.join("traffic.csv")).expect("csv");
    assert!(csv.contains(BRUNO) && csv.contains("pending"), "{csv}");

    // A changed byte, a changed manifest, an added file: each fails.
    let path = dir.join("traffic.csv");
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    let e = verify_dir(&dir, None).expect_err("changed");
    assert!(e.to_string().starts_with("traffic.csv was changed"), "{e}");
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    verify_dir(&dir, None).expect("restored, verifies again");
    let mpath = dir.join("manifest.json");
    let original = std::fs::read_to_string(&mpath).expect("read");
    std::fs::write(&mpath, original.replace("\"records\": 3", "\"records\": 2")).expect("write");
    assert!(
        verify_dir(&dir, None)
            .expect_err("altered")
            .to_string()
            .contains("does not verify")
    );
    std::fs::write(&mpath, &original).expect("write");
    std::fs::write(dir.join("extra.csv"), "x").expect("write");
    assert!(
        verify_dir(&dir, None)
            .expect_err("added")
            .to_string()
            .contains("extra.csv")
    );

    // Beyond 24 months: refused for an ordinary crime, answered for one
    // the 72-month rule lists.
    let old = |crime: &str| {
        order(
            crime,
            Target::Number(ANNA.into()),
            at("2024-06-01T00:00:00Z"),
            at("2024-07-01T00:00:00Z"),
        )
    };
    let code = fresh_code(env, &secret);
    let e = w
        .traffic
        .extract(&officer, Some(&FreshFactor::Totp(&code)), &old("other"))
        .await
        .expect_err("refused");
    assert!(
        e.to_string()
            .contains("ordinary period of Art. 132 (24 months)"),
        "{e}"
    );
    let code = fresh_code(env, &secret);
    let answer = w
        .traffic
        .extract(&officer, Some(&FreshFactor::Totp(&code)), &old("terrorism"))
        .await
        .expect("answered under L. 167/2017");
    assert_eq!(answer.records, 1);
    // Within 24 months, an unanswered call 45 days old is past its 30
    // days: left out for an ordinary crime.
    let code = fresh_code(env, &secret);
    let recent = order(
        "other",
        Target::Subject(w.anna.clone()),
        days_ago(60),
        at(NOW),
    );
    let answer = w
        .traffic
        .extract(&officer, Some(&FreshFactor::Totp(&code)), &recent)
        .await
        .expect("answered");
    assert_eq!(answer.withheld, 1);
    assert_eq!(
        answer.records,
        2 + 1 + 3,
        "her calls, her unanswered call, her sessions"
    );

    // No fresh code, a code used twice, another role: refused, and logged.
    let e = w
        .traffic
        .extract(&officer, None, &week)
        .await
        .expect_err("no code");
    assert!(
        matches!(
            e,
            TrafficError::Store(custode_store::StoreError::Forbidden(_))
        ),
        "{e}"
    );
    let e = w
        .traffic
        .extract(&officer, Some(&FreshFactor::Totp(&code)), &week)
        .await
        .expect_err("used code");
    assert!(
        matches!(
            e,
            TrafficError::Store(custode_store::StoreError::Forbidden(_))
        ),
        "{e}"
    );
    let dpo = Principal {
        id: "user:dora".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    };
    let e = w
        .traffic
        .extract(&dpo, Some(&FreshFactor::Totp("000000")), &week)
        .await
        .expect_err("dpo");
    assert!(e.to_string().contains("only the legal officer"), "{e}");
    let log = w.app.vault.vault_access_log(&dpo, 100).await.expect("log");
    let outcomes: Vec<&str> = log.iter().map(|l| l.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "answered").count(),
        3,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.starts_with("refused: the range starts before the ordinary period"))
    );
    assert!(
        outcomes
            .iter()
            .filter(|o| o.starts_with("refused:"))
            .count()
            >= 3
    );
    assert!(
        log.iter().all(|l| !l.target.contains(ANNA)),
        "no number in the log"
    );
    let report = w.app.vault.audit_verify().await.expect("verify");
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
}

on_both_engines!(an_expired_month_goes_whole);
async fn an_expired_month_goes_whole(env: &Env) {
    let w = world(env).await;
    ingest(&w, Kind::Cdr, &cdr_file(20).0).await.expect("cdr");
    let system = Principal::system("retention");
    assert!(
        w.traffic
            .drop_expired(&system)
            .await
            .expect("nothing due")
            .is_empty()
    );
    // June 2024's last record ends 72 months after its day.
    env.clock.set(at("2030-06-10T21:59:59Z"));
    assert!(
        w.traffic
            .drop_expired(&system)
            .await
            .expect("not yet")
            .is_empty()
    );
    env.clock.set(at("2030-06-10T22:00:00Z"));
    let dropped = w.traffic.drop_expired(&system).await.expect("dropped");
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].id, "traffic_phone_traffic_202406");
    assert!(
        sqlx::query("SELECT COUNT(*) FROM traffic_phone_traffic_202406")
            .fetch_one(w.app.store.pool())
            .await
            .is_err(),
        "the table is gone"
    );
    let keys = w
        .app
        .store
        .keys()
        .subject_keys(&[
            "traffic/phone_traffic/2024-06",
            "traffic/phone_traffic/2026-12",
        ])
        .await
        .expect("keys");
    assert!(
        !keys.contains_key("traffic/phone_traffic/2024-06"),
        "its key is destroyed"
    );
    assert!(
        keys.contains_key("traffic/phone_traffic/2026-12"),
        "other months keep theirs"
    );
    let listed = w.traffic.partitions().await.expect("list");
    assert!(
        listed
            .iter()
            .find(|p| p.month == "2024-06")
            .expect("listed")
            .dropped_at
            .is_some()
    );
    assert_eq!(
        listed.iter().filter(|p| p.dropped_at.is_none()).count(),
        listed.len() - 1
    );
    // Only the DPO or the system drops.
    let agent = Principal {
        id: "user:sam".into(),
        role: Role::SupportAgent,
        scope: Scope::everything(),
    };
    assert!(w.traffic.drop_expired(&agent).await.is_err());
}

on_both_engines!(the_bill_check_masks_the_last_three_digits);
async fn the_bill_check_masks_the_last_three_digits(env: &Env) {
    let w = world(env).await;
    ingest(&w, Kind::Cdr, &cdr_file(10).0).await.expect("cdr");
    let path = &w.tree.domain_a.path;
    let anna = Principal {
        id: format!("subject:{}", w.anna),
        role: Role::Subject,
        scope: Scope::subject(path, w.anna.clone()),
    };
    let lines = w
        .traffic
        .bill_check(&anna, &w.anna, at("2026-11-01T00:00:00Z"), at(NOW))
        .await
        .expect("itemised");
    let called: Vec<&str> = lines.iter().map(|l| l.called.as_str()).collect();
    assert_eq!(
        called,
        ["+390287654xxx", "+393331000xxx"],
        "answered calls, oldest first"
    );
    assert_eq!(lines[1].duration, 125);
    // Another subscriber's bill is not there for Anna; a period past the
    // six months of billing is refused.
    let e = w
        .traffic
        .bill_check(&anna, &w.bruno, at("2026-11-01T00:00:00Z"), at(NOW))
        .await
        .expect_err("not hers");
    assert!(
        e.to_string().contains("not found") || e.to_string().contains("no subject"),
        "{e}"
    );
    let e = w
        .traffic
        .bill_check(
            &anna,
            &w.anna,
            at("2025-04-01T00:00:00Z"),
            at("2025-05-01T00:00:00Z"),
        )
        .await
        .expect_err("too old");
    assert!(e.to_string().contains("billing use"), "{e}");
}
