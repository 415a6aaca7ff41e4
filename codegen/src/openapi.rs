//! The OpenAPI front end: a 3.0 or 3.1 description (JSON or YAML) becomes
//! a seamless spec, which then goes through the same loader, validation
//! and emitter as a hand-written one. `seamless import` writes that spec
//! for the user to read and edit; `generate` and `check` take an OpenAPI
//! document directly by importing it first.
//!
//! What OpenAPI cannot say (single-use rotation, expiry signals, envelopes,
//! the login) comes from the seamless `auth` section, in the document's
//! `x-seamless` extension or in an overlay file. What the importer cannot
//! map is a warning naming the document's JSON pointer; the operation is
//! left out, or `json` stands in, and the rest is imported.

mod auth;
mod doc;
mod locate;
mod paths;
mod schema;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub use doc::MAX_OPENAPI_BYTES;

use crate::diag::{Diagnostic, DiagnosticKind, Diagnostics, Severity};
use crate::model::Origin;
use crate::naming::to_snake_case;
use doc::Node;

/// A description imported as a seamless spec.
#[derive(Debug)]
pub struct Imported {
    /// The spec, as YAML text.
    pub spec: String,
    /// What was left out or stood in for, at the description's pointers.
    pub warnings: Diagnostics,
    /// Operations in the description (GET, POST, PUT, PATCH, DELETE).
    pub operations: usize,
    /// Of those, the ones that became endpoints.
    pub generated: usize,
    /// Where the user wrote each value of the spec's `name` and `auth`
    /// (in `x-seamless` or the overlay): spec path → file and position.
    written: BTreeMap<String, (String, Origin)>,
}

impl Imported {
    /// `diagnostics` of loading this spec, split by file: one about a
    /// value the user wrote in `x-seamless` or the overlay is moved to
    /// where it was written (its nearest written ancestor for a key the
    /// importer added), so a mistake there is found in the user's own
    /// file; the rest stay on the imported spec.
    pub fn relocate(&self, diagnostics: Diagnostics) -> Vec<Diagnostics> {
        let mut out: Vec<Diagnostics> = Vec::new();
        for mut d in diagnostics.items {
            let file = match self.written_at(&d.path) {
                Some((file, origin)) => {
                    d.origin = origin.clone();
                    file.clone()
                }
                None => diagnostics.file.clone(),
            };
            match out.iter_mut().find(|g| g.file == file) {
                Some(group) => group.items.push(d),
                None => out.push(Diagnostics { file, items: vec![d] }),
            }
        }
        out
    }

    fn written_at(&self, path: &str) -> Option<&(String, Origin)> {
        let mut path = path;
        loop {
            if let Some(found) = self.written.get(path) {
                return Some(found);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }
}

/// Whether `source` reads as an OpenAPI description (not a seamless spec).
pub fn is_openapi(source: &str) -> bool {
    // The key, at the start of a line (YAML) or anywhere near the top (JSON).
    // Cut at a character boundary: a spec may be any UTF-8 (found by the fuzzer).
    let mut end = source.len().min(4096);
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    let head = &source[..end];
    head.lines().any(|l| l.starts_with("openapi:")) || head.contains("\"openapi\"")
}

/// Imports the description in `source` (named `file` in diagnostics), with
/// the seamless `auth` from `overlay` (YAML or JSON text with a top-level
/// `auth`) when given, else from the document's `x-seamless`.
pub fn import(source: &str, file: &str, overlay: Option<(&str, &str)>) -> Result<Imported, Diagnostics> {
    let fail = |file: &str, message: String| Diagnostics {
        file: file.to_owned(),
        items: vec![Diagnostic::error(
            DiagnosticKind::Unreadable,
            Origin::Unknown,
            "",
            message,
        )],
    };
    let root = doc::read(source).map_err(|m| fail(file, m))?;
    if !doc::is_openapi(&root) {
        return Err(fail(
            file,
            "no `openapi` version: this is not an OpenAPI description".to_owned(),
        ));
    }
    let version = root["openapi"].as_str().unwrap_or("");
    if !(version.starts_with("3.0") || version.starts_with("3.1")) {
        return Err(fail(
            file,
            format!("OpenAPI {version} is not read; 3.0.x and 3.1.x are"),
        ));
    }
    let overlay_text = overlay;
    let overlay = match overlay {
        Some((text, name)) => {
            let value = doc::read(text).map_err(|m| fail(name, m))?;
            if value.get("auth").is_none_or(|a| !a.is_object()) {
                return Err(fail(name, "the overlay has no `auth` mapping".to_owned()));
            }
            Some(value)
        }
        None => None,
    };
    let mut importer = Importer {
        root: &root,
        warnings: Vec::new(),
        types: schema::Types::default(),
        operations: 0,
        generated: 0,
    };
    let spec = importer.spec(overlay.as_ref());
    // What the user wrote (`name`, `auth`), by spec path and pointer.
    let (user, user_at, user_file, user_source) = match (&overlay, overlay_text) {
        (Some(value), Some((text, name))) => (Some(value), "", name, text),
        _ => (root.get("x-seamless"), "/x-seamless", file, source),
    };
    let mut user_paths = Vec::new();
    for key in ["name", "auth"] {
        if let Some(value) = user.and_then(|u| u.get(key)) {
            written_paths(value, key.to_owned(), format!("{user_at}/{key}"), &mut user_paths);
        }
    }
    // Each warning at its line and column in the description as well.
    let mut wanted: BTreeSet<String> = importer
        .warnings
        .iter()
        .filter_map(|d| d.path.strip_prefix('#'))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let in_overlay = user_file != file;
    if !in_overlay {
        wanted.extend(user_paths.iter().map(|(_, p)| p.clone()));
    }
    let found = locate::positions(source, &wanted);
    for d in &mut importer.warnings {
        if let Some(pos) = d.path.strip_prefix('#').and_then(|p| found.get(p)) {
            d.origin = pos.origin();
        }
    }
    let user_found = if in_overlay {
        locate::positions(user_source, &user_paths.iter().map(|(_, p)| p.clone()).collect())
    } else {
        found
    };
    let written = user_paths
        .into_iter()
        .filter_map(|(path, pointer)| {
            let origin = user_found.get(&pointer)?.origin();
            Some((path, (user_file.to_owned(), origin)))
        })
        .collect();
    let text =
        serde_saphyr::to_string(&spec).map_err(|e| fail(file, format!("cannot write the spec: {e}")))?;
    let header = format!(
        "# Imported by `seamless import` from {file} ({} of {} operations).\n",
        importer.generated, importer.operations
    );
    Ok(Imported {
        spec: header + &text,
        warnings: Diagnostics {
            file: file.to_owned(),
            items: importer.warnings,
        },
        operations: importer.operations,
        generated: importer.generated,
        written,
    })
}

/// Every value under `value` (spec path `path`, JSON pointer `pointer`),
/// as (spec path, pointer) pairs: `auth.expiry[0].status`.
fn written_paths(value: &Value, path: String, pointer: String, out: &mut Vec<(String, String)>) {
    // The user's section is small; a hostile one is bounded by the reader.
    if out.len() > 4096 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                written_paths(
                    v,
                    format!("{path}.{k}"),
                    format!("{pointer}/{}", doc::escape(k)),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                written_paths(v, format!("{path}[{i}]"), format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push((path, pointer));
}

/// One import in progress.
pub(crate) struct Importer<'a> {
    root: &'a Value,
    warnings: Vec<Diagnostic>,
    types: schema::Types,
    operations: usize,
    generated: usize,
}

impl Importer<'_> {
    fn spec(&mut self, overlay: Option<&Value>) -> Node {
        let info = self.root.get("info");
        let title = info
            .and_then(|i| i.get("title"))
            .and_then(Value::as_str)
            .unwrap_or("api");
        // The overlay (or `x-seamless`) may name the API; else its title does.
        let given = overlay
            .or_else(|| self.root.get("x-seamless"))
            .and_then(|o| o.get("name"))
            .and_then(Value::as_str);
        let name = given.map(str::to_owned).unwrap_or_else(|| {
            to_snake_case(title)
                .filter(|n| !crate::naming::is_keyword(n))
                .unwrap_or_else(|| "api".to_owned())
        });
        let mut spec = Node::map().with("name", Node::str(name));
        if let Some(doc) = info.and_then(schema::description) {
            spec.set("doc", Node::str(doc));
        }
        if let Some(url) = self
            .root
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        {
            spec.set("base_url", Node::str(url.trim_end_matches('/')));
        }
        spec.set("auth", self.auth(overlay));
        let endpoints = self.endpoints();
        self.break_required_cycles();
        let types = std::mem::take(&mut self.types.entries);
        if !types.is_empty() {
            spec.set("types", Node::Map(types));
        }
        spec.set("endpoints", endpoints);
        spec
    }

    /// A warning at the description's JSON pointer `at`.
    fn warn(&mut self, at: &str, message: impl Into<String>) {
        self.warnings.push(Diagnostic::new(
            Severity::Warning,
            DiagnosticKind::Unsupported,
            Origin::Unknown,
            format!("#{at}"),
            message,
        ));
    }
}
