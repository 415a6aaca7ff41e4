//! Operations to endpoints: a method named from `operationId` (snake_case,
//! a collision renamed and reported), path, query and header parameters,
//! a JSON request body, and the first 2xx response's JSON schema. An
//! operation the spec cannot express is left out with a warning that says
//! why.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Importer;
use super::doc::{Node, deref, escape};
use super::schema::description;
use crate::naming::{is_keyword, to_snake_case};

/// The placeholders of a path template, or why it is no template a
/// request can be built from (OpenAPI requires a `/` first; `?` and `#`
/// would start a query or fragment).
fn placeholders(path: &str) -> Result<Vec<&str>, String> {
    if !path.starts_with('/') || path.contains(['?', '#']) || path.chars().any(char::is_whitespace) {
        return Err(format!("path `{}` is no path template", path.escape_debug()));
    }
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        let after = &rest[open + 1..];
        let close = after.find('}').filter(|_| rest.as_bytes()[open] == b'{');
        let name = close
            .map(|c| &after[..c])
            .filter(|n| !n.is_empty() && !n.contains('{'));
        let Some(name) = name else {
            return Err(format!(
                "path `{}` has a placeholder that is empty or not closed",
                path.escape_debug()
            ));
        };
        names.push(name);
        rest = &after[name.len() + 1..];
    }
    Ok(names)
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Names every client has already.
const TAKEN: [&str; 5] = ["new", "builder", "client", "from_client", "with_options"];

impl Importer<'_> {
    /// Every operation of `paths`, as spec endpoints.
    pub(crate) fn endpoints(&mut self) -> Node {
        let mut out = Node::map();
        let mut names: BTreeSet<String> = TAKEN.iter().map(|s| (*s).to_owned()).collect();
        let Some(paths) = self.root.get("paths").and_then(Value::as_object) else {
            return out;
        };
        for (path, item) in paths {
            let item_at = format!("/paths/{}", escape(path));
            let Some((item, item_at)) = deref(self.root, item, &item_at) else {
                continue;
            };
            for (method, op) in item.as_object().into_iter().flatten() {
                let at = format!("{item_at}/{method}");
                if matches!(method.as_str(), "head" | "options" | "trace") {
                    self.warn(&at, format!("`{method}` operations are not generated: left out"));
                    continue;
                }
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                self.operations += 1;
                match self.operation(path, method, item, op, &at) {
                    Ok((name, endpoint)) => {
                        let unique = unique(&mut names, &name);
                        if unique != name {
                            self.warn(&at, format!("method `{name}` is taken: named `{unique}`"));
                        }
                        out.set(unique, endpoint);
                        self.generated += 1;
                    }
                    Err(why) => self.warn(&at, format!("{why}: operation left out")),
                }
            }
        }
        out
    }

    fn operation(
        &mut self,
        path: &str,
        method: &str,
        item: &Value,
        op: &Value,
        at: &str,
    ) -> Result<(String, Node), String> {
        let name = op
            .get("operationId")
            .and_then(Value::as_str)
            .and_then(to_snake_case)
            .or_else(|| to_snake_case(&format!("{method} {path}")))
            .ok_or("no method name: the operationId (or the path) has no snake_case spelling")?;
        let placeholders = placeholders(path)?;
        let hint = super::schema::type_name(&name);
        let mut ep = Node::map();
        let doc = [op.get("summary"), op.get("description")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        if !doc.is_empty() {
            ep.set("doc", Node::str(doc));
        }
        ep.set("method", Node::str(method.to_ascii_uppercase()));
        if op.get("deprecated").and_then(Value::as_bool) == Some(true) {
            ep.set("deprecated", Node::Bool(true));
        }

        // Path-level parameters first, an operation's own replacing one of
        // the same name and place.
        let mut params: Vec<(Value, String)> = Vec::new();
        for (source, source_at) in [(item, at.rsplit_once('/').map_or(at, |(p, _)| p)), (op, at)] {
            for (i, p) in source
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let p_at = format!("{source_at}/parameters/{i}");
                let Some((p, p_at)) = deref(self.root, p, &p_at) else {
                    return Err("a parameter `$ref` leads nowhere".to_owned());
                };
                let key = |v: &Value| (v.get("name").cloned(), v.get("in").cloned());
                params.retain(|(q, _)| key(q) != key(p));
                params.push((p.clone(), p_at));
            }
        }

        let mut template = path.to_owned();
        let (mut path_params, mut query, mut headers) = (Node::map(), Node::map(), Node::map());
        let mut args = BTreeSet::new();
        for (p, p_at) in &params {
            let wire = p
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a parameter has no name")?;
            let place = p.get("in").and_then(Value::as_str).unwrap_or("");
            let required = p
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(place == "path");
            let schema = p.get("schema").cloned().unwrap_or(Value::Null);
            let shape = deref(self.root, &schema, "")
                .and_then(|(s, _)| s.get("type"))
                .and_then(Value::as_str);
            let ty = match self.sent_as_string(&schema) {
                Some(ty) => ty,
                // Named no type: a list or an object is no parameter here.
                None if matches!(shape, Some("array" | "object")) => {
                    format!("list or object ({})", shape.unwrap_or(""))
                }
                None => self.type_expr(&schema, &format!("{p_at}/schema"), &format!("{hint}Param")),
            };
            let scalar = ty.trim_end_matches('?');
            if !matches!(scalar, "string" | "bool" | "i32" | "i64" | "u32" | "u64" | "f64") {
                if required || place == "path" {
                    return Err(format!("{place} parameter `{wire}` is a `{ty}`, not a scalar"));
                }
                self.warn(
                    p_at,
                    format!("{place} parameter `{wire}` is a `{ty}`, not a scalar: left out"),
                );
                continue;
            }
            let arg = to_snake_case(wire)
                .ok_or_else(|| format!("parameter `{wire}` has no snake_case spelling"))?;
            if !args.insert(arg.clone()) || arg == "body" {
                return Err(format!("two parameters are both named `{arg}`"));
            }
            let ty = if required {
                scalar.to_owned()
            } else {
                format!("{scalar}?")
            };
            let mut entry = Node::str(ty.clone());
            if let Some(doc) = description(p) {
                entry = Node::map()
                    .with("type", Node::str(ty.clone()))
                    .with("doc", Node::str(doc));
            }
            match place {
                "path" => {
                    if !placeholders.contains(&wire) {
                        return Err(format!("path parameter `{wire}` is not in the path"));
                    }
                    // Placeholders are named after their argument; the wire
                    // path is the same whatever they are called.
                    template = template.replace(&format!("{{{wire}}}"), &format!("{{{arg}}}"));
                    path_params.set(arg, Node::str(scalar));
                }
                "query" => query.set(wire, entry),
                "header" => headers.set(wire, entry),
                other if required => return Err(format!("required `{other}` parameter `{wire}`")),
                other => self.warn(
                    p_at,
                    format!("`{other}` parameter `{wire}` is not sent: left out"),
                ),
            }
        }
        if let Some(missing) = placeholders.iter().find(|p| {
            !params.iter().any(|(q, _)| {
                q.get("in").and_then(Value::as_str) == Some("path")
                    && q.get("name").and_then(Value::as_str) == Some(p)
            })
        }) {
            return Err(format!(
                "the path's `{{{missing}}}` is declared by no path parameter"
            ));
        }
        ep.set("path", Node::str(template));
        for (key, node) in [("params", path_params), ("query", query), ("headers", headers)] {
            if !node.is_empty_map() {
                ep.set(key, node);
            }
        }

        if let Some(body) = op.get("requestBody") {
            let Some((body, body_at)) = deref(self.root, body, &format!("{at}/requestBody")) else {
                return Err("the request body `$ref` leads nowhere".to_owned());
            };
            let (schema, media) = json_content(body).ok_or("the request body is not JSON")?;
            if matches!(method, "get" | "delete") {
                return Err(format!("a body on {}", method.to_ascii_uppercase()));
            }
            let mut ty = match schema {
                Some(schema) => self.type_expr(
                    schema,
                    &format!("{body_at}/content/{}/schema", escape(media)),
                    &format!("{hint}Body"),
                ),
                None => "json".to_owned(),
            };
            if !body.get("required").and_then(Value::as_bool).unwrap_or(false) && !ty.ends_with('?') {
                ty.push('?');
            }
            let name = if args.contains("body") {
                "request_body"
            } else {
                "body"
            };
            ep.set(
                "body",
                Node::map()
                    .with("type", Node::str(ty))
                    .with("name", Node::str(name)),
            );
        }

        if let Some(ty) = self.response(op, at, &hint)? {
            ep.set("response", Node::str(ty));
        }
        // `security: []` on an operation: a public endpoint.
        if op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            ep.set("auth", Node::str("none"));
        }
        Ok((name, ep))
    }

    /// The first 2xx response's type: `None` for one without a body.
    fn response(&mut self, op: &Value, at: &str, hint: &str) -> Result<Option<String>, String> {
        let Some(responses) = op.get("responses").and_then(Value::as_object) else {
            return Ok(None);
        };
        let mut codes: Vec<&String> = responses.keys().filter(|c| c.starts_with('2')).collect();
        codes.sort();
        let Some(code) = codes.first() else {
            return Ok(None);
        };
        let resp_at = format!("{at}/responses/{code}");
        let Some((resp, resp_at)) = deref(self.root, &responses[code.as_str()], &resp_at) else {
            return Err("the success response `$ref` leads nowhere".to_owned());
        };
        if resp
            .get("content")
            .and_then(Value::as_object)
            .is_none_or(|c| c.is_empty())
        {
            return Ok(None);
        }
        let (schema, media) = json_content(resp).ok_or("the success response is not JSON")?;
        Ok(Some(match schema {
            Some(schema) => self.type_expr(
                schema,
                &format!("{resp_at}/content/{}/schema", escape(media)),
                &format!("{hint}Response"),
            ),
            None => "json".to_owned(),
        }))
    }
}

impl Importer<'_> {
    /// `string` for a parameter whose schema is a string enum or a choice
    /// of scalars (`oneOf: [integer, string]`): on the wire both are text,
    /// and a parameter is a scalar in the spec.
    fn sent_as_string(&self, schema: &Value) -> Option<String> {
        let (schema, _) = deref(self.root, schema, "")?;
        let optional = schema.get("nullable").and_then(Value::as_bool) == Some(true);
        let scalar = |v: &Value| {
            deref(self.root, v, "").is_some_and(|(v, _)| {
                matches!(
                    v.get("type").and_then(Value::as_str),
                    Some("string" | "integer" | "number" | "boolean")
                )
            })
        };
        let is_enum = schema.get("enum").is_some()
            && matches!(schema.get("type").and_then(Value::as_str), Some("string") | None);
        let is_choice = ["oneOf", "anyOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|vs| !vs.is_empty() && vs.iter().all(scalar))
        });
        (is_enum || is_choice).then(|| if optional { "string?" } else { "string" }.to_owned())
    }
}

/// The JSON media type's schema (`application/json`, or any `+json`), and
/// the media type's name.
fn json_content(v: &Value) -> Option<(Option<&Value>, &str)> {
    let content = v.get("content")?.as_object()?;
    let (media, value) = content.iter().find(|(m, _)| {
        let m = m.split(';').next().unwrap_or("").trim();
        m == "application/json" || m.ends_with("+json") || m == "*/*"
    })?;
    Some((value.get("schema"), media.as_str()))
}

/// `name`, or `name_2`, `name_3`… when a method has it already.
fn unique(names: &mut BTreeSet<String>, name: &str) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while names.contains(&candidate) || is_keyword(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    names.insert(candidate.clone());
    candidate
}
