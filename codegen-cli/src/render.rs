//! Diagnostics on stderr: `file:line:column: error: message (at path)`,
//! colored when stderr is a terminal (or `--color always`).

use std::io::Write;

use anstyle::{AnsiColor, Style};
use seamless_sdk_codegen::{Diagnostics, Severity};

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const LOCATION: Style = Style::new().bold();

/// Writes every diagnostic, one per line.
pub fn diagnostics(diags: &Diagnostics) {
    let mut err = anstream::stderr().lock();
    for d in &diags.items {
        let location = match d.line_column() {
            Some((line, column)) => format!("{}:{line}:{column}:", diags.file),
            None => format!("{}:", diags.file),
        };
        let (style, level) = match d.severity {
            Severity::Error => (ERROR, "error"),
            Severity::Warning => (WARNING, "warning"),
        };
        let at = if d.path.is_empty() {
            String::new()
        } else {
            format!(" (at `{}`)", d.path)
        };
        let _ = writeln!(
            err,
            "{LOCATION}{location}{LOCATION:#} {style}{level}{style:#}: {}{at}",
            d.message
        );
    }
}

/// The closing count, as compilers print it.
pub fn summary(diags: &Diagnostics) {
    let errors = diags
        .items
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.items.len() - errors;
    let mut err = anstream::stderr().lock();
    let _ = write!(
        err,
        "{ERROR}error{ERROR:#}: {} has {errors} error{}",
        diags.file,
        s(errors)
    );
    if warnings > 0 {
        let _ = write!(err, " and {warnings} warning{}", s(warnings));
    }
    let _ = writeln!(err);
}

/// A failure that is not about the spec's content (a file, an internal error).
pub fn fatal(message: &str) {
    let _ = writeln!(anstream::stderr(), "{ERROR}error{ERROR:#}: {message}");
}

fn s(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Something the user should know about what was written, not an error.
pub fn note(message: &str) {
    const NOTE: Style = AnsiColor::Cyan.on_default().bold();
    let _ = writeln!(anstream::stderr().lock(), "{NOTE}note{NOTE:#}: {message}");
}
