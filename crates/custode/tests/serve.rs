//! `custode serve` as an operator starts it: a fresh data directory, the
//! one-time setup line, health over real HTTP, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

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
