//! Diagnostics: every problem found in a spec, with where it is and what
//! fixes it. The CLI prints them as `file:line:column: error: message`; the
//! macro turns them into `compile_error!`s at their spans.

use std::fmt;

use crate::model::Origin;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Generation can go on; the output may not be what was meant.
    Warning,
    /// Nothing is generated.
    Error,
}

/// What went wrong, for callers that treat some problems differently (the
/// macro leaves unknown type names to the compiler); the message says it
/// to people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The text is no spec at all: too large, empty, not YAML, or beyond a
    /// limit of the parser (depth, aliases).
    Unreadable,
    /// The parser failed on this input: a bug in seamless, to report.
    Internal,
    /// The YAML does not have the spec's shape: an unknown, repeated or
    /// missing key, a value of the wrong kind, a form not allowed there.
    Shape,
    /// Settings that do not go together: `fields` and `enum`, `value` and
    /// `contains`, a GET with a body, `session: exclusive` with two chains.
    Conflict,
    /// A name that is not an identifier, not in the required case, or empty.
    InvalidName,
    /// Two things under one name (or one Rust name), or a name something
    /// else has: the client, one of its methods, the session token.
    NameClash,
    /// A type expression that does not parse.
    InvalidType,
    /// A type name that no type declares.
    UnknownType,
    /// A struct that holds itself without indirection.
    RecursiveType,
    /// A type where it cannot go: a list in a path segment, a token field
    /// in a body that is no object.
    WrongType,
    /// A request path or path template that is malformed, or whose
    /// placeholders and path parameters do not match.
    InvalidPath,
    /// Not a valid HTTP header name.
    InvalidHeader,
    /// Not a dotted JSON path.
    InvalidJsonPath,
    /// A value out of its range: an HTTP status, a limit, a base URL, a
    /// code that is neither a number nor a string.
    InvalidValue,
    /// Something that cannot work as written: no expiry rule, an empty
    /// list, a rule that never or always matches, a zero limit, a refresh
    /// grant that never runs.
    CannotWork,
    /// Something declared that nothing uses: a type, a refresh token.
    Unused,
    /// Nothing where something is expected: an API without endpoints, a
    /// login that sends no field.
    Empty,
    /// An OpenAPI construct the importer does not map: the operation is
    /// left out, or a `serde_json::Value` stands in, as the message says.
    Unsupported,
}

/// One problem.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What went wrong.
    pub kind: DiagnosticKind,
    /// Where it is.
    pub origin: Origin,
    /// The spec path of the offending node (`endpoints.get_user.path`);
    /// empty when the problem is the whole document.
    pub path: String,
    /// What is wrong and how to fix it: lowercase, no final period.
    pub message: String,
}

impl Diagnostic {
    /// A problem of either severity.
    pub fn new(
        severity: Severity,
        kind: DiagnosticKind,
        origin: Origin,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            kind,
            origin,
            path: path.into(),
            message: message.into(),
        }
    }

    /// An error: what nearly every diagnostic is.
    pub fn error(
        kind: DiagnosticKind,
        origin: Origin,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic::new(Severity::Error, kind, origin, path, message)
    }

    /// Line and column, when the origin is a YAML position.
    pub fn line_column(&self) -> Option<(u32, u32)> {
        match self.origin {
            Origin::Yaml { line, column } => Some((line, column)),
            _ => None,
        }
    }
}

/// All problems of one spec file, in source order.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    /// The file name as given (used as the prefix of each line).
    pub file: String,
    /// The problems.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// True when any item is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Sorts by position (then message), so output is deterministic.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            a.line_column()
                .cmp(&b.line_column())
                .then_with(|| a.path.cmp(&b.path))
                .then_with(|| a.message.cmp(&b.message))
        });
    }
}

impl fmt::Display for Diagnostic {
    /// `error: message (at endpoints.get_user.path)`, without the file prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}", self.message)?;
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", self.path)?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostics {
    /// One line per problem: `file:line:column: error: message (at path)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            match d.line_column() {
                Some((line, column)) => writeln!(f, "{}:{line}:{column}: {d}", self.file)?,
                None => writeln!(f, "{}: {d}", self.file)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
