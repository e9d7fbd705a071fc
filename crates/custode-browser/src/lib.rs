//! Test support for the pages: a real headless Chromium, driven through
//! W3C WebDriver by Debian's `chromedriver`, as a person would use it —
//! open a page, read what is shown, type, click, submit, move by keyboard,
//! look at the cookies — plus full-page screenshots and axe-core checks.
//!
//! A [`Browser`] owns its chromedriver, its Chromium and a temporary
//! profile; dropping it (also while a failed test unwinds) ends both and
//! removes the profile. What it needs is installed by `scripts/services`;
//! when something is missing [`Browser::start`] says what, and the test
//! fails: never a skip.
//!
//! ```no_run
//! # fn main() -> Result<(), custode_browser::BrowserError> {
//! let b = custode_browser::Browser::start()?;
//! b.goto("http://127.0.0.1:8080/notice?lang=en")?;
//! assert!(b.text()?.contains("Your rights"));
//! b.assert_accessible();
//! b.screenshot("notice", "en")?;
//! # Ok(()) }
//! ```

mod axe;
mod wire;

pub use axe::{Violation, ViolationNode, axe_path};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Why the browser could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// A program or file the harness needs is not installed.
    #[error("{what} is missing: {detail}; ./scripts/services installs it")]
    Missing {
        /// chromedriver, Chromium or axe-core.
        what: &'static str,
        /// What was looked for.
        detail: String,
    },
    /// chromedriver did not come up.
    #[error("chromedriver did not start: {0}")]
    Driver(String),
    /// Talking to chromedriver failed below WebDriver.
    #[error("{command}: {message}")]
    Wire {
        /// The WebDriver command (`POST /session/…/url`).
        command: String,
        /// What went wrong.
        message: String,
    },
    /// chromedriver answered with a WebDriver error.
    #[error("{command}: {error}: {message}")]
    WebDriver {
        /// The WebDriver command.
        command: String,
        /// The W3C error code, e.g. `no such element`.
        error: String,
        /// chromedriver's explanation (its first 600 characters).
        message: String,
    },
    /// A script run in the page failed or returned what it should not.
    #[error("in the page: {0}")]
    Script(String),
    /// Nothing matched in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// A screenshot could not be decoded or written.
    #[error("screenshot {path}: {message}")]
    Screenshot {
        /// Where it was to be written.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// How a browser session starts.
#[derive(Clone, Debug)]
pub struct Options {
    /// Whether pages may run JavaScript (the pages must work without).
    pub javascript: bool,
    /// The `Accept-Language` the browser sends, e.g. `"fr"` or `"nl,en"`.
    pub accept_language: Option<String>,
    /// The window's inner size in CSS pixels.
    pub window: (u32, u32),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            javascript: true,
            accept_language: None,
            window: (1280, 900),
        }
    }
}

/// A key pressed by a keyboard-only user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// Next focusable element.
    Tab,
    /// Previous focusable element.
    ShiftTab,
    /// Follows a link, presses a button, submits a form.
    Enter,
    /// Presses a button, ticks a box.
    Space,
    /// Closes what is open.
    Escape,
}

impl Key {
    /// The WebDriver code points (W3C WebDriver, "Keyboard actions").
    fn codes(self) -> &'static [&'static str] {
        match self {
            Key::Tab => &["\u{E004}"],
            Key::ShiftTab => &["\u{E008}", "\u{E004}"],
            Key::Enter => &["\u{E007}"],
            Key::Space => &["\u{E00D}"],
            Key::Escape => &["\u{E00C}"],
        }
    }
}

/// A cookie as the browser holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// The path it is sent for.
    pub path: String,
    /// The domain it is sent to.
    pub domain: String,
    /// Sent over HTTPS only.
    pub secure: bool,
    /// Hidden from scripts.
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`.
    pub same_site: Option<String>,
    /// Seconds since the epoch; `None` for a session cookie.
    pub expiry: Option<u64>,
}

/// The project's root, where `target/` is.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The program `var` names, else the first of `names` found on `PATH`;
/// the error says where it was looked for.
fn program(var: &str, names: &[&str]) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(var) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{var} names {}, which is not a file", p.display()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no {} on PATH", names.join(" or ")))
}

/// A running chromedriver in a process group of its own, with the
/// Chromium it starts; ended on drop.
struct Driver {
    child: Child,
    port: u16,
    /// The profile and the driver's log, removed on drop.
    dir: PathBuf,
}

impl Driver {
    fn start(dir: PathBuf) -> Result<Driver, BrowserError> {
        let exe = program("CUSTODE_CHROMEDRIVER", &["chromedriver"]).map_err(|detail| {
            BrowserError::Missing {
                what: "chromedriver",
                detail: format!("{detail} (Debian's package: chromium-driver)"),
            }
        })?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| BrowserError::Driver(format!("{}: {e}", dir.display())))?;
        let log = dir.join("chromedriver.log");
        let mut last = String::new();
        // The port is free when asked for, but another test may take it
        // before chromedriver binds it: try again on another.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| BrowserError::Driver(format!("no free port: {e}")))?
                .port();
            let out = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::File::create(&log))
                .map_err(|e| BrowserError::Driver(format!("{}: {e}", log.display())))?;
            let child = {
                use std::os::unix::process::CommandExt as _;
                Command::new(&exe)
                    .arg(format!("--port={port}"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(out)
                    // Chromium and its helpers join this group, so that
                    // one signal ends them all, even if the session is not
                    // closed cleanly.
                    .process_group(0)
                    .spawn()
                    .map_err(|e| BrowserError::Missing {
                        what: "chromedriver",
                        detail: format!("{} does not run ({e})", exe.display()),
                    })?
            };
            let mut driver = Driver {
                child,
                port,
                dir: dir.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = driver.child.try_wait() {
                    last = format!("exited with {status}");
                    break;
                }
                let status = wire::call(port, "GET", "/status", None, Duration::from_secs(2));
                if status.is_ok_and(|s| s["ready"] == true) {
                    return Ok(driver);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if last.is_empty() {
                last = "not ready after 20 s".into();
            }
            last = format!(
                "{last}: {}",
                std::fs::read_to_string(&log).unwrap_or_default().trim()
            );
            driver.end(false);
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(BrowserError::Driver(last))
    }

    fn end(&mut self, remove: bool) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if remove {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.end(true);
    }
}

/// A headless Chromium session. Blocking: every call waits for the browser.
pub struct Browser {
    session: String,
    javascript: bool,
    driver: Driver,
    timeout: Duration,
}

/// An element of the current page.
#[derive(Clone)]
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
}

/// The key W3C WebDriver names element references by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// A session with JavaScript on, in a 1280×900 window.
    pub fn start() -> Result<Browser, BrowserError> {
        Browser::start_with(Options::default())
    }

    /// A session whose pages cannot run JavaScript.
    pub fn without_javascript() -> Result<Browser, BrowserError> {
        Browser::start_with(Options {
            javascript: false,
            ..Options::default()
        })
    }

    /// A session as `options` say.
    pub fn start_with(options: Options) -> Result<Browser, BrowserError> {
        let chromium =
            program("CUSTODE_CHROMIUM", &["chromium", "chromium-browser"]).map_err(|detail| {
                BrowserError::Missing {
                    what: "Chromium",
                    detail: format!("{detail} (Debian's package: chromium)"),
                }
            })?;
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "custode-browser-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let driver = Driver::start(dir)?;
        let (w, h) = options.window;
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={w},{h}"),
            format!("--user-data-dir={}", driver.dir.join("profile").display()),
        ];
        let mut prefs = serde_json::Map::new();
        if let Some(lang) = &options.accept_language {
            prefs.insert("intl.accept_languages".into(), json!(lang));
            args.push(format!(
                "--lang={}",
                lang.split(',').next().unwrap_or_default()
            ));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 30_000},
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": args,
                "prefs": prefs,
            },
        }}});
        let timeout = Duration::from_secs(60);
        let value = wire::call(driver.port, "POST", "/session", Some(&caps), timeout)?;
        let session = value["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Driver(format!("no session id in {value}")))?
            .to_owned();
        let browser = Browser {
            session,
            javascript: options.javascript,
            driver,
            timeout,
        };
        if !options.javascript {
            // Through DevTools rather than the `javascript_enabled` pref or
            // `--blink-settings=scriptEnabled=false`: those also stop the
            // timers axe-core needs, so a page without scripts could not be
            // checked. This override holds for the session's tab across
            // navigations, and `axe` lifts it only while it runs.
            browser.cdp(
                "Emulation.setScriptExecutionDisabled",
                json!({"value": true}),
            )?;
        }
        Ok(browser)
    }

    /// Whether pages of this session run JavaScript.
    pub fn javascript(&self) -> bool {
        self.javascript
    }

    /// A Chrome DevTools command through chromedriver.
    fn cdp(&self, cmd: &str, params: Value) -> Result<Value, BrowserError> {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, BrowserError> {
        wire::call(
            self.driver.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
            self.timeout,
        )
    }

    fn element(&self, value: &Value) -> Result<Element<'_>, BrowserError> {
        let id = value[ELEMENT]
            .as_str()
            .ok_or_else(|| BrowserError::Script(format!("not an element: {value}")))?;
        Ok(Element {
            browser: self,
            id: id.to_owned(),
        })
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .map(drop)
    }

    /// Goes back one page in the history.
    pub fn back(&self) -> Result<(), BrowserError> {
        self.cmd("POST", "/back", Some(json!({}))).map(drop)
    }

    /// The session's temporary directory (profile, driver log); removed
    /// when the browser is dropped.
    pub fn profile_dir(&self) -> &Path {
        &self.driver.dir
    }

    /// The address of the page shown.
    pub fn url(&self) -> Result<String, BrowserError> {
        Ok(self
            .cmd("GET", "/url", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The page's title.
    pub fn title(&self) -> Result<String, BrowserError> {
        Ok(self
            .cmd("GET", "/title", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The text a reader sees on the page (the body's rendered text:
    /// hidden elements left out).
    pub fn text(&self) -> Result<String, BrowserError> {
        self.find("body")?.text()
    }

    /// The page's markup as the browser holds it now.
    pub fn source(&self) -> Result<String, BrowserError> {
        Ok(self
            .cmd("GET", "/source", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element<'_>, BrowserError> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        self.element(&v)
    }

    /// Every element matching a CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>, BrowserError> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v.as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|e| self.element(e))
            .collect()
    }

    /// Waits up to `timeout` for an element matching `css` to appear.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element<'_>, BrowserError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find_all(css)?.into_iter().next() {
                return Ok(e);
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::Timeout(timeout, css.to_owned()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses a key where the focus is.
    pub fn press(&self, key: Key) -> Result<(), BrowserError> {
        let codes = key.codes();
        let mut actions: Vec<Value> = codes
            .iter()
            .map(|c| json!({"type": "keyDown", "value": c}))
            .collect();
        actions.extend(
            codes
                .iter()
                .rev()
                .map(|c| json!({"type": "keyUp", "value": c})),
        );
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )?;
        self.cmd("DELETE", "/actions", None).map(drop)
    }

    /// Presses Tab and returns the element that then has the focus.
    pub fn tab(&self) -> Result<Element<'_>, BrowserError> {
        self.press(Key::Tab)?;
        self.focused()
    }

    /// The element that has the focus (the body when none has).
    pub fn focused(&self) -> Result<Element<'_>, BrowserError> {
        let v = self.cmd("GET", "/element/active", None)?;
        self.element(&v)
    }

    /// Every cookie the page's site has set.
    pub fn cookies(&self) -> Result<Vec<Cookie>, BrowserError> {
        let v = self.cmd("GET", "/cookie", None)?;
        let s = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_owned();
        Ok(v.as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| Cookie {
                name: s(c, "name"),
                value: s(c, "value"),
                path: s(c, "path"),
                domain: s(c, "domain"),
                secure: c["secure"] == true,
                http_only: c["httpOnly"] == true,
                same_site: c["sameSite"].as_str().map(str::to_owned),
                expiry: c["expiry"].as_u64(),
            })
            .collect())
    }

    /// The cookie called `name`, if the site set one.
    pub fn cookie(&self, name: &str) -> Result<Option<Cookie>, BrowserError> {
        Ok(self.cookies()?.into_iter().find(|c| c.name == name))
    }

    /// Forgets every cookie of the current site.
    pub fn delete_cookies(&self) -> Result<(), BrowserError> {
        self.cmd("DELETE", "/cookie", None).map(drop)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the
    /// page and returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, BrowserError> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script`, which ends by calling the callback passed as its last
    /// argument; returns what it was called with.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, BrowserError> {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Writes a PNG of the whole page (not only the window) to
    /// `target/screenshots/<test>-<page>.png` (or under
    /// `CUSTODE_SCREENSHOTS`), and returns its path.
    pub fn screenshot(&self, test: &str, page: &str) -> Result<PathBuf, BrowserError> {
        let dir = std::env::var_os("CUSTODE_SCREENSHOTS").map_or_else(
            || workspace_root().join("target/screenshots"),
            PathBuf::from,
        );
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        let path = dir.join(format!("{}-{}.png", clean(test), clean(page)));
        let fail = |message: String| BrowserError::Screenshot {
            path: path.clone(),
            message,
        };
        let size = &self.cdp("Page.getLayoutMetrics", json!({}))?["cssContentSize"];
        let (w, h) = (size["width"].as_f64(), size["height"].as_f64());
        let (Some(w), Some(h)) = (w, h) else {
            return Err(fail(format!("no page size in {size}")));
        };
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": w, "height": h.min(16_000.0), "scale": 1},
            }),
        )?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| fail(format!("not base64: {e}")))?;
        if !png.starts_with(b"\x89PNG") {
            return Err(fail("the browser's answer is not a PNG".into()));
        }
        std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
        std::fs::write(&path, png).map_err(|e| fail(e.to_string()))?;
        Ok(path)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session ends Chromium cleanly; the driver's drop then
        // ends whatever is left of its process group.
        let _ = wire::call(
            self.driver.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
            Duration::from_secs(10),
        );
    }
}

impl<'b> Element<'b> {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, BrowserError> {
        self.browser
            .cmd(method, &format!("/element/{}{path}", self.id), body)
    }

    /// The text a reader sees in it.
    pub fn text(&self) -> Result<String, BrowserError> {
        Ok(self
            .cmd("GET", "/text", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// An attribute as written in the markup; `None` when absent.
    pub fn attr(&self, name: &str) -> Result<Option<String>, BrowserError> {
        Ok(self
            .cmd("GET", &format!("/attribute/{name}"), None)?
            .as_str()
            .map(str::to_owned))
    }

    /// A DOM property (`value`, `checked`, …) as it is now.
    pub fn property(&self, name: &str) -> Result<Value, BrowserError> {
        self.cmd("GET", &format!("/property/{name}"), None)
    }

    /// The tag name, lower case.
    pub fn tag(&self) -> Result<String, BrowserError> {
        Ok(self
            .cmd("GET", "/name", None)?
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase())
    }

    /// Whether a reader can see it.
    pub fn is_displayed(&self) -> Result<bool, BrowserError> {
        Ok(self.cmd("GET", "/displayed", None)? == true)
    }

    /// The first element inside it matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element<'b>, BrowserError> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        self.browser.element(&v)
    }

    /// Types `text` into it, as keystrokes, after what it holds.
    pub fn type_text(&self, text: &str) -> Result<(), BrowserError> {
        self.cmd("POST", "/value", Some(json!({ "text": text })))
            .map(drop)
    }

    /// Empties a field.
    pub fn clear(&self) -> Result<(), BrowserError> {
        self.cmd("POST", "/clear", Some(json!({}))).map(drop)
    }

    /// Clicks it, as a mouse would.
    pub fn click(&self) -> Result<(), BrowserError> {
        self.cmd("POST", "/click", Some(json!({}))).map(drop)
    }

    /// Submits the form it is (by clicking its submit button) or is in (by
    /// pressing Enter in it): what a person does, so it works with
    /// JavaScript off too.
    /// Returns once the page it was on has gone (the element is stale), or
    /// after five seconds when the form does not leave the page: a read
    /// right after it never sees the old page.
    pub fn submit(&self) -> Result<(), BrowserError> {
        if self.tag()? == "form" {
            self.find("button:not([type]), button[type=submit], input[type=submit]")?
                .click()?;
        } else {
            self.type_text("\u{E007}")?;
        }
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            match self.tag() {
                Err(BrowserError::WebDriver { error, .. })
                    if error == "stale element reference" =>
                {
                    return Ok(());
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        Ok(())
    }

    /// A short description for messages: `<tag id=… name=…> text`.
    pub fn describe(&self) -> Result<String, BrowserError> {
        let mut out = format!("<{}", self.tag()?);
        for a in ["id", "name", "type", "href"] {
            if let Some(v) = self.attr(a)? {
                out.push_str(&format!(" {a}=\"{v}\""));
            }
        }
        out.push('>');
        let text = self.text()?;
        if !text.is_empty() {
            out.push(' ');
            out.push_str(text.lines().next().unwrap_or_default());
        }
        Ok(out)
    }
}
