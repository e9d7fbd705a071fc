//! A small document model (headings, paragraphs, lists, tables) and its
//! Markdown and HTML writers, so each renderer says what to show once and
//! both formats escape text the same safe way.

use std::fmt::Write;

/// A rendered document in one language.
#[derive(Clone, Debug, Default)]
pub struct Document {
    /// ISO 639-1 code of the language, for `<html lang>`.
    pub lang: String,
    /// The title.
    pub title: String,
    /// The content.
    pub blocks: Vec<Block>,
}

/// A block of content.
#[derive(Clone, Debug)]
pub enum Block {
    /// A section heading; level 2 is a section, 3 a subsection.
    Heading(u8, String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table with a header row.
    Table(Vec<String>, Vec<Vec<String>>),
}

/// Output formats for documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CommonMark.
    Markdown,
    /// A standalone HTML5 page.
    Html,
}

impl Document {
    pub(crate) fn h2(&mut self, s: String) {
        self.blocks.push(Block::Heading(2, s));
    }
    pub(crate) fn h3(&mut self, s: String) {
        self.blocks.push(Block::Heading(3, s));
    }
    pub(crate) fn p(&mut self, s: String) {
        if !s.trim().is_empty() {
            self.blocks.push(Block::Para(tidy(s)));
        }
    }
    pub(crate) fn list(&mut self, items: Vec<String>) {
        if !items.is_empty() {
            self.blocks
                .push(Block::List(items.into_iter().map(tidy).collect()));
        }
    }

    /// Writes the document in a format.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Markdown => self.to_markdown(),
            Format::Html => self.to_html(),
        }
    }

    /// CommonMark, with policy text escaped so it cannot inject markup.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n", md_escape(&self.title));
        for block in &self.blocks {
            out.push('\n');
            match block {
                Block::Heading(level, s) => {
                    let _ = writeln!(out, "{} {}", "#".repeat(usize::from(*level)), md_escape(s));
                }
                Block::Para(s) => {
                    let _ = writeln!(out, "{}", md_escape(s));
                }
                Block::List(items) => {
                    for item in items {
                        let _ = writeln!(out, "- {}", md_escape(item));
                    }
                }
                Block::Table(head, rows) => {
                    let cell = |s: &String| md_escape(s).replace('|', "\\|").replace('\n', " ");
                    let _ = writeln!(
                        out,
                        "| {} |",
                        head.iter().map(cell).collect::<Vec<_>>().join(" | ")
                    );
                    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                    for row in rows {
                        let _ = writeln!(
                            out,
                            "| {} |",
                            row.iter().map(cell).collect::<Vec<_>>().join(" | ")
                        );
                    }
                }
            }
        }
        out
    }

    /// A standalone, dependency-free HTML5 page.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>\nbody{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.55;color:#1b1b1b}}\n\
             h1{{font-size:1.8rem}}h2{{margin-top:2rem;border-bottom:1px solid #ddd}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}}\n\
             </style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
            html_escape(&self.lang),
            html_escape(&self.title),
            html_escape(&self.title)
        );
        for block in &self.blocks {
            match block {
                Block::Heading(level, s) => {
                    let _ = writeln!(out, "<h{level}>{}</h{level}>", html_escape(s));
                }
                Block::Para(s) => {
                    let _ = writeln!(out, "<p>{}</p>", html_escape(s));
                }
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for item in items {
                        let _ = writeln!(out, "<li>{}</li>", html_escape(item));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table(head, rows) => {
                    out.push_str("<table>\n<thead><tr>");
                    for h in head {
                        let _ = write!(out, "<th>{}</th>", html_escape(h));
                    }
                    out.push_str("</tr></thead>\n<tbody>\n");
                    for row in rows {
                        out.push_str("<tr>");
                        for c in row {
                            let _ = write!(out, "<td>{}</td>", html_escape(c));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody>\n</table>\n");
                }
            }
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

/// Mends the seams where a policy text meets a catalogue sentence: a name
/// ending in a full stop ("S.p.A.") before the sentence's own full stop.
fn tidy(mut s: String) -> String {
    while s.ends_with("..") && !s.ends_with("...") {
        s.pop();
    }
    s
}

/// Escapes text for HTML element content and attribute values, in single
/// or double quotes (`&`, `<`, `>`, `"`, `'`).
pub fn html_escape(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// Escapes the characters CommonMark would read as markup. Written here:
/// no maintained crate escapes CommonMark text (they parse or render it),
/// and these few characters are the whole rule.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_text_cannot_inject_markup() {
        let mut d = Document {
            lang: "en".into(),
            title: "T".into(),
            blocks: vec![],
        };
        d.p("<script>alert(1)</script> *bold*".into());
        assert!(
            d.to_html()
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        );
        assert!(
            d.to_markdown()
                .contains("\\<script\\>alert(1)\\</script\\> \\*bold\\*")
        );
    }

    #[test]
    fn html_escaping_covers_content_and_both_quotes() {
        assert_eq!(
            html_escape(r#"<a href="x" title='y'>Q&A</a> é"#),
            "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;Q&amp;A&lt;/a&gt; é"
        );
        assert_eq!(html_escape("plain text"), "plain text");
        // What a browser reads back is the text itself (Python's `html`
        // module unescapes as HTML5 does).
        let text = "L'Autorità \"Garante\" <b> & co. &amp; /";
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import html, sys; sys.stdout.write(html.unescape(sys.argv[1]))",
            ])
            .arg(html_escape(text))
            .output()
            .expect("python3 runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), text);
    }

    #[test]
    fn markdown_escaping_keeps_policy_text_literal() {
        assert_eq!(
            md_escape(r"a_b *c* [d](e) `f` <g> # h \ i"),
            r"a\_b \*c\* \[d\](e) \`f\` \<g\> \# h \\ i"
        );
        let mut d = Document::default();
        d.blocks.push(Block::Table(
            vec!["a|b".into()],
            vec![vec!["x\ny|z".into()]],
        ));
        assert!(
            d.to_markdown().contains("| a\\|b |\n|---|\n| x y\\|z |\n"),
            "{}",
            d.to_markdown()
        );
    }
}
