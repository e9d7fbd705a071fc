//! An access request filed by e-mail, end to end over HTTP, against the
//! provider's own database (issue #21's head-to-head benchmark).
//!
//! `cargo build --release -p custode && cargo bench -p custode-server --bench requests_http`
//!
//! The benchmark database `../shared/bench/app_data.sql` (100 k customers,
//! 1.65 M rows) must be loaded in the schema `bench_app_data` of the local
//! PostgreSQL (`cargo bench -p custode-connectors --bench app_data` loads
//! it). A real `custode serve` (`CUSTODE_BIN`, default the workspace's
//! `target/release/custode`) runs on a fresh SQLite data directory with
//! the telecom policy and `systems/app.toml` attached to that schema;
//! nothing is created in it but a provider tenant and a system token (the
//! self-care portal, a role the policy's `attest_roles` allows).
//!
//! For each of N customers picked at random (`CUSTODE_BENCH_SUBJECTS`,
//! default 25), after 3 warm-up requests, one client on one kept-alive
//! connection: `POST /api/v1/requests` with the customer's e-mail address
//! → `POST …/attest-identity` → `POST …/fulfil` → `GET …/{id}` until its
//! job is done (polled every `CUSTODE_BENCH_POLL_US` µs, default 500) →
//! `GET …/export` (the ZIP, its `systems.json` checked to hold the
//! customer's rows from the app database). Prints the median, p90 and worst of the whole, and the
//! median of each step.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use custode_testkit::http::{Client, Server};
use sqlx::{Connection, Row};

const SCHEMA: &str = "bench_app_data";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn at(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs a `custode` command on the data directory; its stdout, trimmed.
fn cli(bin: &std::path::Path, base: &[&str], args: &[&str]) -> String {
    let out = std::process::Command::new(bin)
        .args(base)
        .args(args)
        .output()
        .expect("custode runs");
    assert!(
        out.status.success(),
        "custode {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The package's `systems.json`: the rows found in the provider's systems.
fn systems_json(zip: &[u8]) -> String {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("the package is a ZIP");
    let mut member = archive
        .by_name("systems.json")
        .expect("the package has systems.json");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut member, &mut text).expect("systems.json is text");
    text
}

fn main() {
    let url = std::env::var("CUSTODE_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let n: usize = std::env::var("CUSTODE_BENCH_SUBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let poll = Duration::from_micros(
        std::env::var("CUSTODE_BENCH_POLL_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500),
    );
    let warm = 3;
    let picked: Vec<i64> = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL must run at {url}: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {SCHEMA}.customers WHERE email LIKE 'user%' ORDER BY random() LIMIT {}",
                warm + n
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "load the app database first: cargo bench -p custode-connectors --bench app_data ({e})"
                )
            })
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .collect()
        });
    assert_eq!(
        picked.len(),
        warm + n,
        "too few customers: reload the schema"
    );

    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let bin = std::env::var_os("CUSTODE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/custode"));
    let dir = std::env::temp_dir().join(format!("custode-bench-reqhttp-{}", std::process::id()));
    let systems = dir.join("systems");
    std::fs::create_dir_all(&systems).expect("dir");
    // The example mapping, pointed at the benchmark's schema (trust
    // authentication: no password).
    let mapping: String = std::fs::read_to_string(root.join("systems/app.toml"))
        .expect("systems/app.toml")
        .lines()
        .filter(|l| !l.starts_with("password_env"))
        .map(|l| {
            if l.starts_with("url = ") {
                format!("url = \"{url}\"\n")
            } else if l.starts_with("schema = ") {
                format!("schema = \"{SCHEMA}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(systems.join("app.toml"), mapping).expect("write mapping");
    let data = dir.join("data").display().to_string();
    let policy = root.join("policies/telecom.toml").display().to_string();
    let systems = systems.display().to_string();
    let base = ["--data", &data, "--policy", &policy];
    let mut serve_args = base.to_vec();
    serve_args.extend(["--systems", &systems, "serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(&bin, &serve_args, &[("CUSTODE_LOG", "warn")]);
    let provider = cli(
        &bin,
        &base,
        &["tenants", "create", "--kind", "provider", "--name", "p"],
    );
    let token = cli(
        &bin,
        &base,
        &[
            "tokens",
            "issue",
            "--name",
            "self-care portal",
            "--holder",
            "self-care portal",
            "--role",
            "system",
            "--tenant",
            &provider,
        ],
    );
    let mut client = Client::connect(&server.addr).expect("connect");
    let mut call = |method: &str, path: &str, body: Option<&str>| {
        client
            .send(method, path, Some(&token), body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    };

    let steps = ["file", "attest", "fulfil", "job done", "export"];
    let mut total = Vec::new();
    let mut each: Vec<Vec<Duration>> = vec![Vec::new(); steps.len()];
    let mut polls = 0usize;
    let mut bytes = 0usize;
    for (i, customer) in picked.iter().enumerate() {
        let email = format!("user{customer}@example.com");
        let mut lap = Vec::with_capacity(steps.len());
        let t = Instant::now();
        let filed = call(
            "POST",
            "/api/v1/requests",
            Some(
                &serde_json::json!({
                    "identifier": {"kind": "email", "value": email},
                    "rights": ["access"],
                })
                .to_string(),
            ),
        );
        assert_eq!(
            filed.status,
            201,
            "{}",
            String::from_utf8_lossy(&filed.body)
        );
        let id = filed.json()["id"].as_str().expect("id").to_owned();
        lap.push(t.elapsed());
        let attested = call(
            "POST",
            &format!("/api/v1/requests/{id}/attest-identity"),
            Some(
                &serde_json::json!({
                    "method": "logged in to the self-care portal",
                    "verified_by": "self-care portal",
                    "reference": format!("session-{i}"),
                })
                .to_string(),
            ),
        );
        assert_eq!(
            attested.status,
            200,
            "{}",
            String::from_utf8_lossy(&attested.body)
        );
        lap.push(t.elapsed());
        let queued = call("POST", &format!("/api/v1/requests/{id}/fulfil"), Some("{}"));
        assert_eq!(
            queued.status,
            202,
            "{}",
            String::from_utf8_lossy(&queued.body)
        );
        lap.push(t.elapsed());
        loop {
            let shown = call("GET", &format!("/api/v1/requests/{id}"), None);
            assert_eq!(shown.status, 200);
            polls += 1;
            let body = shown.json();
            let jobs = body["jobs"].as_array().expect("jobs");
            if !jobs.is_empty() && jobs.iter().all(|j| j["state"] == "done") {
                break;
            }
            assert!(
                jobs.iter()
                    .all(|j| j["state"] != "failed" && j["last_error"].is_null()),
                "{body}"
            );
            assert!(t.elapsed() < Duration::from_secs(30), "{body}");
            std::thread::sleep(poll);
        }
        lap.push(t.elapsed());
        let package = call("GET", &format!("/api/v1/requests/{id}/export"), None);
        let elapsed = t.elapsed();
        lap.push(elapsed);
        assert_eq!(package.status, 200);
        assert!(
            systems_json(&package.body).contains(&email),
            "the package of {email} holds its rows from the app database"
        );
        if i < warm {
            continue;
        }
        bytes += package.body.len();
        total.push(elapsed);
        let mut before = Duration::ZERO;
        for (k, l) in lap.into_iter().enumerate() {
            each[k].push(l - before);
            before = l;
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    total.sort();
    println!(
        "app_data (1.65M rows, PostgreSQL) attached to custode serve (SQLite, telecom policy); {} cores",
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );
    println!(
        "access request filed by e-mail, over HTTP, to the package downloaded: median {:.1} ms, p90 {:.1} ms, worst {:.1} ms over {n} customers ({:.1} polls, {} KiB ZIP on average)",
        ms(at(&total, 0.5)),
        ms(at(&total, 0.9)),
        ms(total[total.len() - 1]),
        polls as f64 / (warm + n) as f64,
        bytes / n / 1024
    );
    let medians: Vec<String> = steps
        .iter()
        .zip(each.iter_mut())
        .map(|(name, d)| {
            d.sort();
            format!("{name} {:.2}", ms(at(d, 0.5)))
        })
        .collect();
    println!("  median of each step (ms): {}", medians.join(", "));
}
