//! The harness against pages of its own, served by a few lines of HTTP in
//! the test: what a page test relies on (reading, typing, submitting,
//! the keyboard, cookies, JavaScript off, axe, screenshots, cleanup) does
//! what it says in a real Chromium.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use custode_browser::{Browser, Key};

const FORM: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Form</title></head>
<body><main><h1>Ask</h1>
<p id="js">scripts do not run</p>
<script>document.getElementById('js').textContent = 'scripts run';</script>
<a href="/elsewhere" id="first">Elsewhere</a>
<form method="post" action="/sent">
<label for="name">Name</label><input id="name" name="name">
<label><input type="checkbox" name="agree" value="yes"> Agree</label>
<button type="submit" id="send">Send</button>
</form></main></body></html>"#;

const BROKEN: &str = r#"<!doctype html><html><head><title>Broken</title></head>
<body><img src="/x.png"><input type="text"><p style="color:#bbb;background:#fff">faint</p></body></html>"#;

/// A server answering each request from a fixed table; POST bodies are
/// echoed back on the page, so a test sees what the browser sent.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let page = match path.as_str() {
                "/" => FORM.to_owned(),
                "/broken" => BROKEN.to_owned(),
                _ => format!(
                    "<!doctype html><html lang=\"en\"><head><title>{path}</title></head><body><main><p>at {path}</p><p id=\"got\">{}</p></main></body></html>",
                    String::from_utf8_lossy(&body)
                ),
            };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Set-Cookie: seen=1; Path=/; HttpOnly; SameSite=Strict\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    addr
}

/// Whether a process of this machine has `needle` on its command line.
fn process_mentions(needle: &Path) -> bool {
    let needle = needle.display().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).contains(&needle))
}

#[test]
fn a_form_is_filled_and_submitted_as_a_person_would_and_the_cookie_is_seen() {
    let addr = serve();
    let b = Browser::start().expect("a browser (./scripts/services installs it)");
    b.goto(&format!("http://{addr}/")).expect("goto");
    assert_eq!(b.title().expect("title"), "Form");
    let text = b.text().expect("text");
    assert!(text.contains("Ask"), "{text}");
    assert!(text.contains("scripts run"), "JavaScript is on: {text}");
    assert!(!text.contains("document.getElementById"), "{text}");

    let name = b.find("#name").expect("the field");
    name.type_text("Ada Rossi").expect("type");
    assert_eq!(name.property("value").expect("value"), "Ada Rossi");
    name.clear().expect("clear");
    name.type_text("Bice Neri").expect("type");
    b.find("input[name=agree]")
        .expect("box")
        .click()
        .expect("tick");
    assert_eq!(
        b.find("label[for=name]")
            .expect("label")
            .text()
            .expect("text"),
        "Name"
    );
    assert_eq!(
        b.find("#send").expect("button").attr("type").expect("attr"),
        Some("submit".to_owned())
    );
    assert_eq!(
        b.find("#send")
            .expect("button")
            .attr("title")
            .expect("attr"),
        None
    );
    b.find("form").expect("form").submit().expect("submit");
    assert_eq!(b.url().expect("url"), format!("http://{addr}/sent"));
    assert_eq!(
        b.find("#got").expect("echo").text().expect("text"),
        "name=Bice+Neri&agree=yes"
    );
    assert!(
        b.find("#nothing-here").is_err(),
        "a missing element is an error"
    );

    let seen = b.cookie("seen").expect("cookies").expect("the cookie");
    assert_eq!(seen.value, "1");
    assert!(seen.http_only);
    assert_eq!(seen.same_site.as_deref(), Some("Strict"));
    b.delete_cookies().expect("delete");
    assert_eq!(b.cookie("seen").expect("cookies"), None);
    b.back().expect("back");
    assert_eq!(b.url().expect("url"), format!("http://{addr}/"));
}

#[test]
fn with_javascript_off_no_script_runs_and_forms_still_submit() {
    let addr = serve();
    let b = Browser::without_javascript().expect("a browser");
    b.goto(&format!("http://{addr}/")).expect("goto");
    let text = b.text().expect("text");
    assert!(text.contains("scripts do not run"), "{text}");
    let name = b.find("#name").expect("field");
    name.type_text("Carla Blu").expect("type");
    name.submit().expect("Enter in a field submits its form");
    assert_eq!(b.url().expect("url"), format!("http://{addr}/sent"));
    assert_eq!(
        b.find("#got").expect("echo").text().expect("text"),
        "name=Carla+Blu"
    );
}

#[test]
fn the_keyboard_alone_moves_through_the_page_and_sends_the_form() {
    let addr = serve();
    let b = Browser::without_javascript().expect("a browser");
    b.goto(&format!("http://{addr}/")).expect("goto");
    assert_eq!(b.focused().expect("focus").tag().expect("tag"), "body");
    let order: Vec<String> = (0..4)
        .map(|_| b.tab().expect("tab").describe().expect("describe"))
        .collect();
    assert_eq!(
        order,
        [
            "<a id=\"first\" href=\"/elsewhere\"> Elsewhere",
            "<input id=\"name\" name=\"name\">",
            "<input name=\"agree\" type=\"checkbox\">",
            "<button id=\"send\" type=\"submit\"> Send",
        ]
    );
    b.press(Key::ShiftTab).expect("back");
    b.press(Key::Space).expect("tick the box");
    b.press(Key::Tab).expect("to the button");
    b.press(Key::Enter).expect("send");
    b.wait_for("#got", Duration::from_secs(5)).expect("sent");
    assert_eq!(
        b.find("#got").expect("echo").text().expect("text"),
        "name=&agree=yes"
    );
}

#[test]
fn axe_finds_what_a_broken_page_gets_wrong_and_the_assertion_lists_it() {
    let addr = serve();
    let b = Browser::start().expect("a browser");
    b.goto(&format!("http://{addr}/")).expect("goto");
    let lesser = b.assert_accessible();
    assert!(
        lesser.iter().all(|v| !v.is_serious()),
        "only lesser violations are returned"
    );

    b.goto(&format!("http://{addr}/broken")).expect("goto");
    let found = b.axe().expect("axe runs");
    let ids: Vec<&str> = found.iter().map(|v| v.id.as_str()).collect();
    for rule in ["image-alt", "label", "html-has-lang", "color-contrast"] {
        assert!(ids.contains(&rule), "axe reports {rule}: {ids:?}");
    }
    let alt = found
        .iter()
        .find(|v| v.id == "image-alt")
        .expect("image-alt");
    assert_eq!(alt.impact, "critical");
    assert_eq!(alt.nodes[0].target, "img");

    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.assert_accessible();
    }))
    .expect_err("a page with critical violations fails the assertion");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    for needle in [
        "/broken",
        "[critical] image-alt",
        "at img: <img src=\"/x.png\">",
        "label",
        "color-contrast",
    ] {
        assert!(message.contains(needle), "`{needle}` in: {message}");
    }

    // axe runs from the driver's side, so a page without JavaScript is
    // checked too.
    let off = Browser::without_javascript().expect("a browser");
    off.goto(&format!("http://{addr}/broken")).expect("goto");
    assert!(
        off.axe()
            .expect("axe runs")
            .iter()
            .any(|v| v.id == "image-alt")
    );
}

#[test]
fn a_screenshot_of_the_whole_page_lands_under_target_screenshots() {
    let addr = serve();
    let b = Browser::start().expect("a browser");
    b.goto(&format!("http://{addr}/")).expect("goto");
    let path = b.screenshot("harness", "form page").expect("screenshot");
    assert!(
        path.ends_with("target/screenshots/harness-form-page.png"),
        "{}",
        path.display()
    );
    let png = std::fs::read(&path).expect("the file");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let width = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
    assert_eq!(width, 1280, "the window's width");
}

#[test]
fn the_driver_and_the_browser_end_with_the_test_even_when_it_panics() {
    let addr = serve();
    let b = Browser::start().expect("a browser");
    b.goto(&format!("http://{addr}/")).expect("goto");
    let dir = b.profile_dir().to_owned();
    assert!(process_mentions(&dir), "Chromium runs on its profile");
    drop(b);
    assert!(!process_mentions(&dir), "nothing left after the drop");
    assert!(!dir.exists(), "the profile is removed");

    let (tx, rx) = std::sync::mpsc::channel();
    let panicked = std::thread::spawn(move || {
        let b = Browser::start().expect("a browser");
        tx.send(b.profile_dir().to_owned()).expect("send");
        b.goto(&format!("http://{addr}/")).expect("goto");
        panic!("a failing page test");
    })
    .join();
    assert!(panicked.is_err());
    let dir = rx.recv().expect("the profile");
    assert!(!process_mentions(&dir), "nothing left after the panic");
    assert!(!dir.exists());
}

/// Run only by the test below, in a child process with a program hidden.
#[test]
#[ignore = "run by a_missing_driver_browser_or_axe_fails_the_test_and_says_how_to_install_it"]
fn starts_a_browser_and_runs_axe() {
    let addr = serve();
    let b = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    b.goto(&format!("http://{addr}/")).expect("goto");
    b.assert_accessible();
}

#[test]
fn a_missing_driver_browser_or_axe_fails_the_test_and_says_how_to_install_it() {
    let exe = std::env::current_exe().expect("this test binary");
    for (var, said) in [
        ("CUSTODE_CHROMEDRIVER", "chromedriver is missing"),
        ("CUSTODE_CHROMIUM", "Chromium is missing"),
        ("CUSTODE_AXE", "axe-core is missing"),
    ] {
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "starts_a_browser_and_runs_axe",
                "--ignored",
                "--nocapture",
            ])
            .env(var, "/nonexistent/hidden")
            .output()
            .expect("the test binary runs");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{var} hidden: the test fails\n{all}");
        assert!(all.contains(said), "{var} hidden: `{said}` in\n{all}");
        assert!(all.contains("./scripts/services installs it"), "{all}");
    }
}
