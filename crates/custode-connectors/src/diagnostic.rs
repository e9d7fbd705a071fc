//! Problems found in a systems file, located by byte span, and the report
//! that carries all of them at once.
//!
//! The same shape as the policy's diagnostics: [`MappingError`] implements
//! [`miette::Diagnostic`] so the binary draws each problem under its line,
//! and [`MappingError::to_short_lines`] gives `file:line:col: message` lines
//! for editors and scripts.

use std::fmt;
use std::sync::Arc;

pub use custode_policy::{LineCol, Span};

/// What kind of mistake a [`Problem`] is; stable names tests and tools match.
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
    /// Two entries share one name.
    Duplicate,
    /// A category or field the policy does not declare.
    UnknownCategory,
    /// A table, column or identifier kind that does not resolve.
    UnknownReference,
    /// A table no identity reaches, directly or through its parents.
    Unreachable,
    /// Tables linked in a cycle where one has no key to tell rows apart.
    CycleWithoutKey,
    /// A `keep` without the legal ground it is kept under.
    KeepWithoutGround,
    /// A password written in clear in the file.
    SecretInClear,
    /// An erasure that cannot be carried out as declared.
    Contradiction,
    /// A draft from `systems scan` that nobody has reviewed yet.
    Draft,
}

impl ProblemKind {
    /// The diagnostic code shown to the user.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::Syntax => "systems::syntax",
            ProblemKind::UnknownKey => "systems::unknown_key",
            ProblemKind::Missing => "systems::missing",
            ProblemKind::InvalidValue => "systems::invalid_value",
            ProblemKind::Duplicate => "systems::duplicate",
            ProblemKind::UnknownCategory => "systems::unknown_category",
            ProblemKind::UnknownReference => "systems::unknown_reference",
            ProblemKind::Unreachable => "systems::unreachable",
            ProblemKind::CycleWithoutKey => "systems::cycle_without_key",
            ProblemKind::KeepWithoutGround => "systems::keep_without_ground",
            ProblemKind::SecretInClear => "systems::secret_in_clear",
            ProblemKind::Contradiction => "systems::contradiction",
            ProblemKind::Draft => "systems::draft",
        }
    }
}

/// One mistake in a systems file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What kind of mistake.
    pub kind: ProblemKind,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where.
    pub span: Span,
    /// How to fix it.
    pub help: Option<String>,
}

impl Problem {
    /// A problem without advice.
    pub fn new(kind: ProblemKind, span: Span, message: impl Into<String>) -> Self {
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

/// Every problem of one systems file, reported together.
#[derive(Clone, Debug)]
pub struct MappingError {
    name: String,
    source: Arc<str>,
    problems: Vec<Problem>,
    related: Vec<Related>,
}

impl MappingError {
    pub(crate) fn new(name: &str, source: &str, mut problems: Vec<Problem>) -> Self {
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
        MappingError {
            name: name.to_owned(),
            source,
            problems,
            related,
        }
    }

    /// The file name the mapping was loaded under.
    pub fn file_name(&self) -> &str {
        &self.name
    }

    /// The problems, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Where a problem starts, as line and column.
    pub fn location(&self, problem: &Problem) -> LineCol {
        line_col(&self.source, problem.span.start)
    }

    /// One line per problem: `file:line:col: error[code]: message (help)`.
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

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: the systems file does not load: {n} problem{}",
            self.name,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for MappingError {}

impl miette::Diagnostic for MappingError {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

impl miette::SourceCode for MappingError {
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
struct Related {
    problem: Problem,
    location: LineCol,
}

impl fmt::Display for Related {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.location.line, self.location.column, self.problem.message
        )
    }
}

impl std::error::Error for Related {}

impl miette::Diagnostic for Related {
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
