//! The YAML front end: spec text in, a validated [`Api`] (or every problem) out.
//!
//! ```text
//! text ──(serde-saphyr, with a budget)──► tree::Node ──(de::NodeDe)──► raw::Spec ──(lower)──► model::Api ──(validate)
//! ```
//!
//! # Why serde-saphyr
//!
//! serde_yaml is archived upstream. serde-saphyr is maintained, pure Rust
//! without `unsafe`, and built for untrusted input: it never panics on bad
//! YAML, it has a [`Budget`](serde_saphyr::Budget) (depth, nodes, events,
//! aliases, anchors, scalar bytes) against alias bombs and deep nesting, it
//! reports the line and column of every syntax error, it gives values their
//! positions ([`Spanned`](serde_saphyr::Spanned)), and it can pass repeated
//! keys through so we report them instead of keeping the last one silently.
//!
//! # Limits
//!
//! A spec larger than [`MAX_SPEC_BYTES`] (8 MiB) is refused before parsing;
//! the budget then bounds the parse itself (see `tree::options()`). Every limit
//! ends in one error diagnostic, never a panic, a hang or a stack overflow.

mod de;
mod lower;
mod raw;
mod spanned;
pub(crate) mod tree;
mod type_expr;

use serde::Deserialize;

use crate::diag::{Diagnostic, DiagnosticKind, Diagnostics};
use crate::model::{Api, Origin};
use de::{NodeDe, State};
use spanned::Sp;
use tree::Value;

/// The largest spec accepted, in bytes. A thousand-endpoint API is about
/// 200 KiB; anything near this size is a mistake or an attack.
pub const MAX_SPEC_BYTES: usize = 8 * 1024 * 1024;

/// Nesting deeper than this is refused: a spec needs about eight levels.
pub const MAX_DEPTH: usize = 32;

/// Parses and validates a YAML spec. `Ok` carries the model and any
/// warnings; `Err` carries every problem found (errors and warnings),
/// sorted by position.
pub fn load(source: &str, file: &str) -> Result<(Api, Diagnostics), Diagnostics> {
    load_with(source, file, |_| {})
}

/// [`load`], with `adjust` applied to the model before it is checked: the
/// macro gives a spec's client its own name (and `doc`, `base_url`), and
/// those are checked with the rest, once.
pub fn load_with(
    source: &str,
    file: &str,
    adjust: impl FnOnce(&mut Api),
) -> Result<(Api, Diagnostics), Diagnostics> {
    let mut out = Diagnostics {
        file: file.to_owned(),
        items: Vec::new(),
    };
    if source.len() > MAX_SPEC_BYTES {
        out.items.push(Diagnostic::error(
            DiagnosticKind::Unreadable,
            Origin::Unknown,
            "",
            format!(
                "spec is larger than 8 MiB ({} bytes); a spec this large is refused, split the API into several specs",
                source.len()
            ),
        ));
        return Err(out);
    }
    let root = match tree::parse(source) {
        Ok(root) => root,
        Err(d) => {
            out.items.push(d);
            return Err(out);
        }
    };
    if let Value::Null = root.value {
        out.items.push(Diagnostic::error(
            DiagnosticKind::Unreadable,
            Origin::Yaml { line: 1, column: 1 },
            "",
            "the spec is empty; start it with `name: my_api`, `auth:` and `endpoints:`",
        ));
        return Err(out);
    }

    let state = State {
        source,
        ..State::default()
    };
    let spec = Sp::<raw::Spec>::deserialize(NodeDe::root(&root, &state)).ok();
    let mut api = spec.as_ref().and_then(|spec| lower::lower(spec, &state));
    let mut items = state.diags.take();
    if let Some(api) = &mut api {
        adjust(api);
        items.extend(crate::validate::check(api));
    }

    out.items = items;
    out.sort();
    match api {
        Some(api) if !out.has_errors() => Ok((api, out)),
        _ => {
            if !out.has_errors() {
                // Lowering gave up without saying why; never return an empty `Err`.
                out.items.push(Diagnostic::error(
                    DiagnosticKind::Unreadable,
                    Origin::Unknown,
                    "",
                    "the spec could not be read; check it against `seamless schema`",
                ));
            }
            Err(out)
        }
    }
}

/// The JSON Schema of the spec format, for editors (`seamless schema`).
pub fn schema() -> serde_json::Value {
    schemars::schema_for!(raw::Spec).to_value()
}
