//! Accessibility checks: axe-core (installed from the npm registry by
//! `scripts/services`, never fetched at run time) injected into the page
//! and run against WCAG 2.1 A and AA; what it finds, and the assertion the
//! page tests make on it.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::{Browser, BrowserError, workspace_root};

/// The rule sets the pages are held to.
const TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// One rule a page breaks, with every place it breaks it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// axe's rule, e.g. `color-contrast`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// What the rule asks, in one line.
    pub help: String,
    /// Where axe explains it.
    pub help_url: String,
    /// The elements that break it.
    pub nodes: Vec<ViolationNode>,
}

/// An element that breaks a rule.
#[derive(Clone, Debug)]
pub struct ViolationNode {
    /// A CSS selector for the element.
    pub target: String,
    /// The element's opening markup.
    pub html: String,
    /// What to fix, as axe says it.
    pub summary: String,
}

impl Violation {
    /// Serious or critical: what the page tests refuse.
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "[{}] {}: {} ({})",
            self.impact, self.id, self.help, self.help_url
        )?;
        for n in &self.nodes {
            writeln!(f, "    at {}: {}", n.target, n.html)?;
            for line in n.summary.lines() {
                writeln!(f, "      {line}")?;
            }
        }
        Ok(())
    }
}

/// Where axe.min.js is: `CUSTODE_AXE`, else the project's `target/npm`.
pub fn axe_path() -> PathBuf {
    std::env::var_os("CUSTODE_AXE").map_or_else(
        || workspace_root().join("target/npm/node_modules/axe-core/axe.min.js"),
        PathBuf::from,
    )
}

fn axe_source() -> Result<&'static str, BrowserError> {
    static SOURCE: OnceLock<String> = OnceLock::new();
    if let Some(s) = SOURCE.get() {
        return Ok(s);
    }
    let path = axe_path();
    let text = std::fs::read_to_string(&path).map_err(|e| BrowserError::Missing {
        what: "axe-core",
        detail: format!("{} ({e})", path.display()),
    })?;
    Ok(SOURCE.get_or_init(|| text))
}

const RUN: &str = r"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: 'tag', values: arguments[0] },
  resultTypes: ['violations'],
}).then(r => done({ violations: r.violations.map(v => ({
  id: v.id, impact: v.impact || 'unknown', help: v.help, helpUrl: v.helpUrl,
  nodes: v.nodes.map(n => ({
    target: n.target.map(String).join(' '), html: n.html, summary: n.failureSummary || '',
  })),
})) }), e => done({ error: String(e) }));
";

impl Browser {
    /// Runs axe-core on the current page (WCAG 2.1 A and AA) and returns
    /// every violation, whatever its impact.
    pub fn axe(&self) -> Result<Vec<Violation>, BrowserError> {
        let source = axe_source()?;
        // The page's CSP does not apply: WebDriver scripts run from the
        // DevTools side, so no page needs to allow them.
        let loaded = self.execute(&format!("{source}\n;return typeof window.axe;"), Vec::new())?;
        if loaded != "object" {
            return Err(BrowserError::Script(format!(
                "axe-core did not load into the page: typeof axe = {loaded}"
            )));
        }
        if !self.javascript() {
            self.cdp(
                "Emulation.setScriptExecutionDisabled",
                json!({"value": false}),
            )?;
        }
        let out = self.execute_async(RUN, vec![json!(TAGS)]);
        if !self.javascript() {
            self.cdp(
                "Emulation.setScriptExecutionDisabled",
                json!({"value": true}),
            )?;
        }
        let out = out?;
        if let Some(e) = out.get("error") {
            return Err(BrowserError::Script(format!("axe.run failed: {e}")));
        }
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Ok(out["violations"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|v| Violation {
                id: s(v, "id"),
                impact: s(v, "impact"),
                help: s(v, "help"),
                help_url: s(v, "helpUrl"),
                nodes: v["nodes"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|n| ViolationNode {
                        target: s(n, "target"),
                        html: s(n, "html"),
                        summary: s(n, "summary"),
                    })
                    .collect(),
            })
            .collect())
    }

    /// Fails the test, listing each one with its elements, if axe finds a
    /// serious or critical violation on the current page; returns the
    /// lesser ones for the test to report or assert on.
    ///
    /// # Panics
    /// On a serious or critical violation, or when axe cannot run.
    #[track_caller]
    pub fn assert_accessible(&self) -> Vec<Violation> {
        let url = self.url().unwrap_or_default();
        let all = match self.axe() {
            Ok(all) => all,
            Err(e) => panic!("axe-core could not check {url}: {e}"),
        };
        let (serious, lesser): (Vec<_>, Vec<_>) = all.into_iter().partition(Violation::is_serious);
        if !serious.is_empty() {
            let list: String = serious.iter().map(ToString::to_string).collect();
            panic!(
                "{} serious or critical accessibility violation(s) on {url}:\n{list}",
                serious.len()
            );
        }
        lesser
    }
}
