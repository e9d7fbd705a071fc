//! Problems found in a policy file, located by byte span, and the report that
//! carries all of them at once.
//!
//! The report implements [`miette::Diagnostic`], so the binary can draw each
//! problem under the line it points at; [`Problem::location`] gives the plain
//! `line:column` that tests and editors use.

use std::fmt;
use std::sync::Arc;

/// A byte range in the policy source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from a byte range.
    pub fn new(range: std::ops::Range<usize>) -> Self {
        Span {
            start: range.start,
            end: range.end,
        }
    }
}

/// A value together with the place in the file it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Located<T> {
    /// Pairs a value with its span.
    pub fn new(value: T, span: Span) -> Self {
        Located { value, span }
    }
}

impl<T> std::ops::Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// What kind of mistake a [`Problem`] is; stable names that tests and tools
/// can match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid TOML.
    Syntax,
    /// A key the format does not know (often a typo).
    UnknownKey,
    /// A required key is absent.
    Missing,
    /// A value of the wrong type or outside the allowed set.
    InvalidValue,
    /// Two entries share one id.
    DuplicateId,
    /// A reference to an id that is not declared.
    UnknownReference,
    /// A text lacks one of the notice languages.
    MissingTranslation,
    /// A data category that no purpose covers.
    UncoveredCategory,
    /// A purpose with no legal basis.
    NoLegalBasis,
    /// A consent purpose with no way to withdraw.
    NoWithdrawal,
    /// Legitimate interest without the interest stated.
    NoInterestStated,
    /// Legal obligation without the law named.
    NoLawNamed,
    /// A retention rule that never ends.
    UnboundedRetention,
    /// A transfer outside the EEA without a safeguard, or with a wrong one.
    UnsafeTransfer,
    /// A vault purpose whose basis is not a legal obligation.
    VaultWithoutObligation,
    /// Special-category data (Art. 9) without an Art. 9(2) condition.
    SpecialWithoutCondition,
    /// Something the notice must say is absent or contradictory.
    Incomplete,
}

/// The kinds of mistake of one file format: each has a stable code, and
/// the format a name for what does not load. The policy's and the systems
/// files' reports are one type, [`FileError`], over their own kinds.
pub trait Kind: Copy + fmt::Debug + PartialEq + Eq + Send + Sync + 'static {
    /// What does not load, in "{file}: {WHAT} does not load".
    const WHAT: &'static str;
    /// The diagnostic code shown to the user.
    fn code(self) -> &'static str;
    /// A key the format does not know.
    const UNKNOWN_KEY: Self;
    /// A required key is absent.
    const MISSING: Self;
    /// A value of the wrong type, empty, or outside the allowed set.
    const INVALID_VALUE: Self;
}

impl Kind for ProblemKind {
    const WHAT: &'static str = "the policy";
    const UNKNOWN_KEY: Self = ProblemKind::UnknownKey;
    const MISSING: Self = ProblemKind::Missing;
    const INVALID_VALUE: Self = ProblemKind::InvalidValue;
    fn code(self) -> &'static str {
        ProblemKind::code(self)
    }
}

impl ProblemKind {
    /// The diagnostic code shown to the user.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::Syntax => "policy::syntax",
            ProblemKind::UnknownKey => "policy::unknown_key",
            ProblemKind::Missing => "policy::missing",
            ProblemKind::InvalidValue => "policy::invalid_value",
            ProblemKind::DuplicateId => "policy::duplicate_id",
            ProblemKind::UnknownReference => "policy::unknown_reference",
            ProblemKind::MissingTranslation => "policy::missing_translation",
            ProblemKind::UncoveredCategory => "policy::uncovered_category",
            ProblemKind::NoLegalBasis => "policy::no_legal_basis",
            ProblemKind::NoWithdrawal => "policy::no_withdrawal",
            ProblemKind::NoInterestStated => "policy::no_interest_stated",
            ProblemKind::NoLawNamed => "policy::no_law_named",
            ProblemKind::UnboundedRetention => "policy::unbounded_retention",
            ProblemKind::UnsafeTransfer => "policy::unsafe_transfer",
            ProblemKind::VaultWithoutObligation => "policy::vault_without_obligation",
            ProblemKind::SpecialWithoutCondition => "policy::special_without_condition",
            ProblemKind::Incomplete => "policy::incomplete",
        }
    }
}

/// One mistake in a file (a policy, unless another kind is given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem<K = ProblemKind> {
    /// What kind of mistake.
    pub kind: K,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where.
    pub span: Span,
    /// How to fix it.
    pub help: Option<String>,
}

impl<K> Problem<K> {
    /// A problem without advice.
    pub fn new(kind: K, span: Span, message: impl Into<String>) -> Self {
        Problem {
            kind,
            message: message.into(),
            span,
            help: None,
        }
    }

    /// Adds advice on how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A one-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    /// One-based line.
    pub line: usize,
    /// One-based column, counted in characters.
    pub column: usize,
}

/// Every problem of one file, reported together.
#[derive(Clone, Debug)]
pub struct FileError<K: Kind = ProblemKind> {
    name: String,
    source: Arc<str>,
    problems: Vec<Problem<K>>,
    related: Vec<Related<K>>,
}

/// Every problem of one policy file, reported together.
pub type PolicyError = FileError<ProblemKind>;

impl<K: Kind> FileError<K> {
    /// The report of `problems` found in `source`, loaded as `name`.
    pub fn new(name: &str, source: &str, mut problems: Vec<Problem<K>>) -> Self {
        problems.sort_by_key(|p| (p.span.start, p.span.end));
        problems.dedup();
        let source: Arc<str> = Arc::from(source);
        let related = problems
            .iter()
            .map(|p| Related {
                problem: p.clone(),
                location: line_col(&source, p.span.start),
            })
            .collect();
        FileError {
            name: name.to_owned(),
            source,
            problems,
            related,
        }
    }

    /// The file name it was loaded under.
    pub fn file_name(&self) -> &str {
        &self.name
    }

    /// The problems, in file order.
    pub fn problems(&self) -> &[Problem<K>] {
        &self.problems
    }

    /// Where a problem starts, as line and column.
    pub fn location(&self, problem: &Problem<K>) -> LineCol {
        line_col(&self.source, problem.span.start)
    }

    /// One line per problem: `file:line:col: error[code]: message (help)`,
    /// the form compilers use, for editors and scripts.
    pub fn to_short_lines(&self) -> String {
        let mut out = String::new();
        for r in &self.related {
            out.push_str(&format!(
                "{}:{}:{}: error[{}]: {}",
                self.name,
                r.location.line,
                r.location.column,
                r.problem.kind.code(),
                r.problem.message
            ));
            if let Some(help) = &r.problem.help {
                out.push_str(&format!(" (help: {help})"));
            }
            out.push('\n');
        }
        out
    }
}

impl<K: Kind> fmt::Display for FileError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: {} does not load: {n} problem{}",
            self.name,
            K::WHAT,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl<K: Kind> std::error::Error for FileError<K> {}

impl<K: Kind> miette::Diagnostic for FileError<K> {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

impl<K: Kind> miette::SourceCode for FileError<K> {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .source
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A problem as miette sees it: one labelled span in the parent's source.
#[derive(Clone, Debug)]
struct Related<K> {
    problem: Problem<K>,
    location: LineCol,
}

impl<K> fmt::Display for Related<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.location.line, self.location.column, self.problem.message
        )
    }
}

impl<K: fmt::Debug> std::error::Error for Related<K> {}

impl<K: Kind> miette::Diagnostic for Related<K> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.problem.kind.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.problem.span;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(
                Some("here".to_owned()),
                (span.start, span.end.saturating_sub(span.start)),
            ),
        )))
    }
}

/// Line and column (one-based, in characters) of a byte offset.
pub(crate) fn line_col(source: &str, offset: usize) -> LineCol {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    LineCol { line, column }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let src = "a = 1\nè = \"x\"\n";
        assert_eq!(line_col(src, 0), LineCol { line: 1, column: 1 });
        let x = src.find('x').unwrap_or(0);
        assert_eq!(line_col(src, x), LineCol { line: 2, column: 6 });
    }
}
