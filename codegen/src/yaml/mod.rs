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
//! the budget then bounds the parse itself (see `options()`). Every limit
//! ends in one error diagnostic, never a panic, a hang or a stack overflow.

mod de;
mod lower;
mod raw;
mod spanned;
mod tree;
mod type_expr;

use serde::Deserialize;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error as YamlError, MessageFormatter, UserMessageFormatter};

use crate::diag::{Diagnostic, DiagnosticKind, Diagnostics};
use crate::model::{Api, Origin};
use de::{NodeDe, State};
use spanned::Sp;
use tree::{Node, Value};

/// The largest spec accepted, in bytes. A thousand-endpoint API is about
/// 200 KiB; anything near this size is a mistake or an attack.
pub const MAX_SPEC_BYTES: usize = 8 * 1024 * 1024;

/// Nesting deeper than this is refused: a spec needs about eight levels.
pub const MAX_DEPTH: usize = 32;

/// The parser recurses once per nesting level, with frames of tens of KiB in
/// debug builds; it runs on its own thread with this much stack, so the
/// caller's stack size (a test thread has 2 MiB) does not matter.
const PARSE_STACK: usize = 32 * 1024 * 1024;

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
    let root = match parse(source) {
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

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_documents: 1,
            max_nodes: 250_000,
            max_events: 1_000_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_merge_keys: 1_000,
            max_total_scalar_bytes: MAX_SPEC_BYTES,
            max_recorded_anchor_bytes: MAX_SPEC_BYTES,
            max_recorded_anchor_events: 100_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
        },
        // Repeated keys reach the tree; `de` reports each one.
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        // YAML 1.2 booleans: `on`, `yes`, `no` stay strings.
        strict_booleans: true,
        with_snippet: false,
    }
}

/// Text → tree, or the one diagnostic that says why not.
fn parse(source: &str) -> Result<Node, Diagnostic> {
    let parsed = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("seamless-yaml".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_here(source));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(Failure {
                    kind: DiagnosticKind::Internal,
                    at: None,
                    message: "the YAML parser failed on this input; please report it with the spec"
                        .to_owned(),
                })
            }),
            // No thread to be had: the depth budget still bounds the recursion.
            Err(_) => parse_here(source),
        }
    });
    parsed.map_err(|f| {
        let origin = match f.at {
            Some((line, column)) => Origin::Yaml { line, column },
            None => Origin::Unknown,
        };
        Diagnostic::error(f.kind, origin, "", f.message)
    })
}

/// Why the text did not parse, as plain data so it can cross threads.
struct Failure {
    kind: DiagnosticKind,
    /// Line and column, when the parser knows them.
    at: Option<(u32, u32)>,
    message: String,
}

/// Parses on the current thread.
fn parse_here(source: &str) -> Result<Node, Failure> {
    serde_saphyr::from_str_with_options::<Node>(source, options()).map_err(|e| {
        let at = e.location().filter(|l| l.line() > 0).map(|l| {
            (
                u32::try_from(l.line()).unwrap_or(u32::MAX),
                u32::try_from(l.column()).unwrap_or(u32::MAX).max(1),
            )
        });
        Failure {
            kind: DiagnosticKind::Unreadable,
            at,
            message: yaml_message(&e),
        }
    })
}

fn depth_message() -> String {
    format!("the spec nests deeper than {MAX_DEPTH} levels; a spec needs far fewer, flatten it")
}

/// A parse error in the spec's words.
fn yaml_message(e: &YamlError) -> String {
    let mut root = e.without_snippet();
    while let YamlError::AliasError { error, .. } = root {
        root = error.without_snippet();
    }
    let limit = match root {
        YamlError::Budget { breach, .. } => Some(match breach {
            BudgetBreach::Depth { .. } => depth_message(),
            BudgetBreach::Documents { .. } => {
                "the file holds more than one YAML document; keep one spec per file and remove `---`".to_owned()
            }
            BudgetBreach::Aliases { .. } | BudgetBreach::Anchors { .. } => {
                "the spec uses more than 1000 aliases or anchors; write the values out".to_owned()
            }
            _ => "the spec expands to more content than a spec may have (an alias bomb?); write the values out or split the spec".to_owned(),
        }),
        YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. } => Some(
            "aliases in the spec expand to too much content (an alias bomb?); write the values out".to_owned(),
        ),
        YamlError::MultipleDocuments { .. } => {
            Some("the file holds more than one YAML document; keep one spec per file and remove `---`".to_owned())
        }
        _ => None,
    };
    if let Some(m) = limit {
        return m;
    }
    let text = UserMessageFormatter.format_message(root);
    // The scanner's own limit on flow nesting (`[[[…`) says it this way.
    if text.contains("recursion limit exceeded") {
        return depth_message();
    }
    // The parser's text may quote the input: keep it on one line.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut chars = text.chars();
    let text = match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => "unreadable YAML".to_owned(),
    };
    format!(
        "invalid YAML: {}; fix the syntax here",
        text.trim_end_matches('.')
    )
}
