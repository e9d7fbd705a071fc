//! `custode serve` as an operator starts it: a fresh data directory, the
//! one-time setup line, health over real HTTP, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

mod common;

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn serve_starts_on_an_empty_directory_and_stops_cleanly() {
    let dir = std::env::temp_dir().join(format!("custode-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_custode"))
        .current_dir(&root)
        .args([
            "--data",
            &dir.display().to_string(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("CUSTODE_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut setup_seen = false;
    let addr = loop {
        let line = lines
            .next()
            .expect("serve prints its address")
            .expect("line");
        setup_seen |= line.contains("\"setup_token\": \"setup_");
        if let Some(rest) = line.strip_prefix("custode listening on http://") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    assert!(setup_seen, "first start prints the one-time setup command");
    assert!(dir.join("master.key").exists() && dir.join("custode.db").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: PathBuf| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(
        mode(dir.clone()),
        0o700,
        "the data directory is its owner's alone"
    );
    assert_eq!(
        mode(dir.join("master.key")),
        0o600,
        "the master key is its owner's alone"
    );

    let health = get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = get(&addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let notice = get(&addr, "/notice?lang=en");
    assert!(
        notice.contains("Privacy notice"),
        "the public notice is served"
    );
    let api = get(&addr, "/api/v1/subjects");
    assert!(
        api.starts_with("HTTP/1.1 401") && api.contains("application/problem+json"),
        "{api}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("exits");
    assert!(exit.success(), "a clean stop on SIGTERM: {exit:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One HTTP/1.1 exchange; returns the status and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    // A refused connection is an answer too (status 0): an instance killed
    // on purpose refuses the next request rather than breaking one.
    let mut s = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => return (0, format!("connect: {e}")),
    };
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    // Chunked bodies: keep the JSON between the first '{' or '[' and the last '}' or ']'.
    let body = match (body.find(['{', '[']), body.rfind(['}', ']'])) {
        (Some(a), Some(z)) if z >= a => body[a..=z].to_owned(),
        _ => body,
    };
    (status, body)
}

struct Instance {
    child: std::process::Child,
    addr: String,
}

fn start(args: &[String], key: &str) -> Instance {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_custode"))
        .current_dir(&root)
        .args(args)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CUSTODE_MASTER_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let Some(line) = lines.next() else {
            // It stopped before listening: say why, from its own words.
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            let status = child.wait().expect("wait");
            panic!(
                "serve stopped before listening ({status}).\nstdout:\n{}\nstderr:\n{stderr}",
                seen.join("\n")
            );
        };
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("custode listening on http://") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
        seen.push(line);
    };
    // Keep draining stderr too, so a chatty failure never blocks the server.
    if let Some(mut e) = child.stderr.take() {
        std::thread::spawn(move || std::io::copy(&mut e, &mut std::io::sink()));
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Instance { child, addr }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_agree_and_a_killed_one_loses_no_acknowledged_write() {
    let schemas = common::Schemas::create(&format!("serve_{}", std::process::id())).await;
    let dir = std::env::temp_dir().join(format!("custode-two-{}", std::process::id()));
    let mut args: Vec<String> = vec!["--data".into(), dir.display().to_string()];
    args.extend(schemas.flags());
    let key = "42".repeat(32);
    // Both start at once on an empty database: migrations and first-start
    // keys must not collide.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start(&args, &key));
        let b = s.spawn(|| start(&args, &key));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let mut b = b;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_custode"))
        .current_dir(&root)
        .args(&args)
        .args([
            "tokens",
            "issue",
            "--name",
            "ci",
            "--holder",
            "the CI",
            "--role",
            "administrator",
        ])
        .env("CUSTODE_MASTER_KEY", &key)
        .output()
        .expect("tokens issue");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    let (st, body) = http(
        &a.addr,
        "POST",
        "/api/v1/tenants",
        Some(&admin),
        Some(r#"{"kind":"provider","name":"p"}"#),
    );
    assert_eq!(st, 201, "{body}");
    let provider = json(&body)["id"].as_str().expect("id").to_owned();
    let (st, body) = http(
        &b.addr,
        "POST",
        "/api/v1/tenants",
        Some(&admin),
        Some(&format!(
            r#"{{"kind":"domain","name":"d","parent":"{provider}"}}"#
        )),
    );
    assert_eq!(st, 201, "instance B sees the tenant A created: {body}");
    let domain = json(&body)["id"].as_str().expect("id").to_owned();
    // A support agent's token reads personal data: the console issues it,
    // to a named holder.
    let out = Command::new(env!("CARGO_BIN_EXE_custode"))
        .current_dir(&root)
        .args(&args)
        .args([
            "tokens",
            "issue",
            "--name",
            "agent",
            "--holder",
            "Sam Agent",
            "--role",
            "support_agent",
            "--tenant",
            &provider,
        ])
        .env("CUSTODE_MASTER_KEY", &key)
        .output()
        .expect("tokens issue");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let agent = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (st, body) = http(
        &b.addr,
        "POST",
        "/api/v1/subjects",
        Some(&agent),
        Some(&format!(
            r#"{{"tenant":"{domain}","kind":"mailbox_user","reason":"signup"}}"#
        )),
    );
    assert_eq!(st, 201, "a token issued by A works on B: {body}");
    let subject = json(&body)["id"].as_str().expect("id").to_owned();

    // Write through B, acknowledging each; kill B with SIGKILL mid-stream.
    let writer_addr = b.addr.clone();
    let writer_agent = agent.clone();
    let writer_subject = subject.clone();
    // Killed once enough writes are acknowledged, not after a set time: a
    // busy machine may acknowledge none in the first second.
    let acked_so_far = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = acked_so_far.clone();
    let writes = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for i in 0..10_000 {
            let body = format!(
                r#"{{"reason":"load","records":[{{"category":"contact","fields":{{"email":"u{i}@d.example"}},"source":"w{i}"}}]}}"#
            );
            match http(
                &writer_addr,
                "POST",
                &format!("/api/v1/subjects/{writer_subject}/records"),
                Some(&writer_agent),
                Some(&body),
            ) {
                (201, _) => {
                    acked.push(i);
                    counter.store(acked.len(), std::sync::atomic::Ordering::Relaxed);
                }
                _ => break,
            }
        }
        acked
    });
    let waiting = std::time::Instant::now();
    while acked_so_far.load(std::sync::atomic::Ordering::Relaxed) < 50 {
        assert!(
            waiting.elapsed() < std::time::Duration::from_secs(120) && !writes.is_finished(),
            "B acknowledged {} writes in two minutes",
            acked_so_far.load(std::sync::atomic::Ordering::Relaxed)
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    b.child.kill().expect("kill -9");
    let _ = b.child.wait();
    let acked = writes.join().expect("writer");
    assert!(
        acked.len() >= 50 && acked.len() < 10_000,
        "the kill came mid-stream, after {} acknowledged writes",
        acked.len()
    );

    // A sees every acknowledged write, and the two agree on counts.
    let (st, body) = http(
        &a.addr,
        "GET",
        &format!("/api/v1/subjects/{subject}/records?reason=check"),
        Some(&agent),
        None,
    );
    assert_eq!(st, 200, "{body}");
    let records = json(&body);
    let sources: std::collections::HashSet<String> = records
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["source"].as_str().map(str::to_owned))
        .collect();
    for i in &acked {
        assert!(
            sources.contains(&format!("w{i}")),
            "acknowledged write {i} is missing"
        );
    }
    let c = start(&args, &key);
    let count = |addr: &str| {
        json(&http(addr, "GET", "/api/v1/subjects/count", Some(&agent), None).1)["count"].clone()
    };
    assert_eq!(count(&a.addr), count(&c.addr), "instances agree");
    let (st, body) = http(&c.addr, "GET", "/api/v1/audit/verify", Some(&admin), None);
    assert_eq!(st, 200);
    assert_eq!(
        json(&body)["intact"],
        true,
        "the audit chain survived the kill: {body}"
    );

    for mut i in [a, c] {
        let _ = Command::new("kill")
            .args(["-TERM", &i.child.id().to_string()])
            .status();
        let _ = i.child.wait();
    }
    schemas.drop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The DOM a real browser builds from a page (custode-browser: headless
/// Chromium over WebDriver, ended when it returns).
fn browser_dom(url: &str) -> String {
    let b = custode_browser::Browser::start()
        .unwrap_or_else(|e| panic!("this test needs a browser: {e}"));
    b.goto(url).expect("the page opens");
    b.source().expect("the page's DOM")
}

#[test]
fn the_public_notice_renders_in_a_browser_in_every_language() {
    let dir = std::env::temp_dir().join(format!("custode-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_custode"))
        .current_dir(&root)
        .args([
            "--data",
            &dir.display().to_string(),
            "--policy",
            "policies/telecom.toml",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-jobs",
        ])
        .env_remove("CUSTODE_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("an address").expect("line");
        if let Some(rest) = line.strip_prefix("custode listening on http://") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    for (lang, title, rights, complaint) in [
        (
            "it",
            "Informativa sul trattamento dei dati personali",
            "I Suoi diritti",
            "Garante per la protezione dei dati personali",
        ),
        (
            "en",
            "Privacy notice",
            "Your rights",
            "Garante per la protezione dei dati personali",
        ),
        (
            "fr",
            "Politique de confidentialité",
            "Vos droits",
            "Garante per la protezione dei dati personali",
        ),
        (
            "nl",
            "Privacyverklaring",
            "Uw rechten",
            "Garante per la protezione dei dati personali",
        ),
    ] {
        let dom = browser_dom(&format!("http://{addr}/notice?lang={lang}"));
        assert!(
            dom.contains(&format!("<html lang=\"{lang}\">")),
            "[{lang}] the page declares its language"
        );
        for needle in [
            title,
            rights,
            complaint,
            "Linea Vallata S.r.l.",
            "privacy@lineavallata.example",
        ] {
            assert!(
                dom.contains(needle),
                "[{lang}] the rendered notice shows `{needle}`"
            );
        }
        assert!(!dom.contains("<script"), "[{lang}] no script in the notice");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A raw POST as a mail receiver sends it; returns the status line and the
/// whole header block.
fn one_click_post(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let body = "List-Unsubscribe=One-Click";
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let head = out
        .split_once("\r\n\r\n")
        .map_or(out.clone(), |(h, _)| h.to_owned());
    (status, head)
}

#[test]
fn an_unsubscribe_link_shows_its_page_in_a_browser_and_one_click_withdraws() {
    let dir = std::env::temp_dir().join(format!("custode-unsub-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args: Vec<String> = vec![
        "--data".into(),
        dir.display().to_string(),
        "--policy".into(),
        "policies/telecom.toml".into(),
    ];
    let key = "17".repeat(32);
    let mut server = start(&args, &key);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let issue = |role: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_custode"))
            .current_dir(&root)
            .args(&args)
            .args([
                "tokens", "issue", "--name", role, "--holder", "the test", "--role", role,
            ])
            .env("CUSTODE_MASTER_KEY", &key)
            .output()
            .expect("tokens issue");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let admin = issue("administrator");
    let system = issue("system");
    let addr = server.addr.clone();
    let (st, body) = http(
        &addr,
        "POST",
        "/api/v1/tenants",
        Some(&admin),
        Some(r#"{"kind":"provider","name":"p"}"#),
    );
    assert_eq!(st, 201, "{body}");
    let provider = json(&body)["id"].as_str().expect("id").to_owned();
    let (st, body) = http(
        &addr,
        "POST",
        "/api/v1/subjects",
        Some(&system),
        Some(&format!(
            r#"{{"tenant":"{provider}","kind":"customer","reason":"signup"}}"#
        )),
    );
    assert_eq!(st, 201, "{body}");
    let subject = json(&body)["id"].as_str().expect("id").to_owned();
    let (st, body) = http(
        &addr,
        "POST",
        &format!("/api/v1/subjects/{subject}/consent"),
        Some(&system),
        Some(r#"{"kind":"given","purpose":"marketing","channel":"web_form"}"#),
    );
    assert_eq!(st, 201, "{body}");
    let (st, body) = http(
        &addr,
        "POST",
        &format!("/api/v1/subjects/{subject}/unsubscribe-link"),
        Some(&system),
        Some(r#"{"purpose":"marketing"}"#),
    );
    assert_eq!(st, 200, "{body}");
    let url = json(&body)["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&format!("http://{addr}/u/")), "{url}");
    let decision = || {
        let (st, body) = http(
            &addr,
            "GET",
            &format!("/api/v1/subjects/{subject}/decisions/marketing"),
            Some(&system),
            None,
        );
        assert_eq!(st, 200, "{body}");
        json(&body)
    };

    // A browser following the link (as a mail scanner would) sees the
    // confirmation in the policy's language and unsubscribes nothing.
    let dom = browser_dom(&url);
    assert!(dom.contains("<html lang=\"it\">"), "{dom}");
    assert!(dom.contains("Annulla l'iscrizione"), "{dom}");
    assert!(dom.contains("Marketing e ricerche di mercato"), "{dom}");
    assert!(dom.contains("value=\"One-Click\""), "{dom}");
    assert_eq!(decision()["allowed"], true, "a GET never unsubscribes");
    let dom = browser_dom(&format!("{url}?lang=nl"));
    assert!(dom.contains("Afmelden"), "{dom}");

    // The receiver's one-click POST: no cookie, no redirect, done at once.
    let path = url
        .split_once(&addr)
        .map(|(_, p)| p.to_owned())
        .expect("path");
    let (st, head) = one_click_post(&addr, &path);
    assert_eq!(st, 200, "{head}");
    let head = head.to_ascii_lowercase();
    assert!(!head.contains("set-cookie"), "{head}");
    assert!(!head.contains("location:"), "{head}");
    let d = decision();
    assert_eq!(d["allowed"], false);
    assert_eq!(d["reason"], "consent_withdrawn");

    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
