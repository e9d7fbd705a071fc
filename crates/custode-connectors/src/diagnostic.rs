//! Problems found in a systems file, located by byte span, and the report
//! that carries all of them at once.
//!
//! The policy's report type over this format's kinds: [`MappingError`] implements
//! [`miette::Diagnostic`] so the binary draws each problem under its line,
//! and [`MappingError::to_short_lines`] gives `file:line:col: message` lines
//! for editors and scripts.

pub use custode_policy::Span;

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

impl custode_policy::Kind for ProblemKind {
    const WHAT: &'static str = "the systems file";
    const UNKNOWN_KEY: Self = ProblemKind::UnknownKey;
    const MISSING: Self = ProblemKind::Missing;
    const INVALID_VALUE: Self = ProblemKind::InvalidValue;
    fn code(self) -> &'static str {
        ProblemKind::code(self)
    }
}

/// One mistake in a systems file.
pub type Problem = custode_policy::Problem<ProblemKind>;

/// Every problem of one systems file, reported together (the policy's
/// report type, over the systems files' kinds).
pub type MappingError = custode_policy::FileError<ProblemKind>;
