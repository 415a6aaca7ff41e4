//! The type-expression parser: `u64`, `User?`, `list<map<string>>` as the
//! spec writes them, into a [`TypeRef`], or the reason why not.

use std::collections::HashSet;

use super::MAX_DEPTH;
use crate::diag::DiagnosticKind;
use crate::model::TypeRef;
use crate::naming::{did_you_mean, is_camel_case};

/// Why a type expression is refused, and the message that says so.
pub(super) type Failure = (DiagnosticKind, String);

/// Parses `src`; `names` are the declared type names in spec order (for
/// suggestions), `known` the same as a set (for resolving).
pub(super) fn parse(src: &str, names: &[String], known: &HashSet<String>) -> Result<TypeRef, Failure> {
    let mut p = TypeParser {
        src,
        rest: src,
        names,
        known,
        depth: 0,
    };
    let t = p.ty()?;
    p.skip_ws();
    match p.rest.chars().next() {
        None => Ok(t),
        Some(c) => Err(invalid(format!(
            "unexpected `{c}` in type `{src}`; a type is like `u64`, `User?`, `list<T>` or `map<T>`"
        ))),
    }
}

/// The type-expression grammar (docs/spec.md):
///
/// ```text
/// type  = base [ "?" ]
/// base  = "string" | "bool" | "i32" | "i64" | "u32" | "u64" | "f64" | "json"
///       | "list" "<" type ">" | "map" "<" type ">" | TypeName
/// ```
struct TypeParser<'a> {
    src: &'a str,
    rest: &'a str,
    names: &'a [String],
    known: &'a HashSet<String>,
    /// `list<`/`map<` levels open: the parser recurses once per level, and
    /// one YAML scalar can hold a million of them.
    depth: usize,
}

/// A type expression that does not parse.
fn invalid(message: String) -> Failure {
    (DiagnosticKind::InvalidType, message)
}

impl TypeParser<'_> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let end = self
            .rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        word
    }

    fn ty(&mut self) -> Result<TypeRef, Failure> {
        let base = self.base()?;
        if self.eat('?') {
            if self.eat('?') {
                return Err(invalid(format!(
                    "type `{}` has two `?`; one `?` makes a type optional",
                    self.src
                )));
            }
            return Ok(TypeRef::Option(Box::new(base)));
        }
        Ok(base)
    }

    fn base(&mut self) -> Result<TypeRef, Failure> {
        let src = self.src;
        let word = self.word().to_owned();
        if word.is_empty() {
            return Err(invalid(match self.rest.chars().next() {
                None if src.trim().is_empty() => {
                    "the type is empty; write one, like `string` or `u64`".to_owned()
                }
                None => format!(
                    "type `{src}` ends too early; a type is like `u64`, `User?`, `list<T>` or `map<T>`"
                ),
                Some(c) => format!(
                    "unexpected `{c}` in type `{src}`; a type is like `u64`, `User?`, `list<T>` or `map<T>`"
                ),
            }));
        }
        let generic = |this: &mut Self, wrap: fn(Box<TypeRef>) -> TypeRef| -> Result<TypeRef, Failure> {
            if !this.eat('<') {
                return Err(invalid(format!(
                    "`{word}` needs an element type, like `{word}<string>`"
                )));
            }
            if this.depth == MAX_DEPTH {
                return Err(invalid(format!(
                    "a type nests `list<...>` and `map<...>` deeper than {MAX_DEPTH} levels; a spec needs far fewer, flatten it"
                )));
            }
            this.depth += 1;
            let inner = this.ty()?;
            this.depth -= 1;
            if !this.eat('>') {
                return Err(invalid(format!(
                    "`{word}<` in type `{src}` is not closed; add `>`"
                )));
            }
            Ok(wrap(Box::new(inner)))
        };
        match word.as_str() {
            "list" => return generic(self, TypeRef::List),
            "map" => return generic(self, TypeRef::Map),
            _ => {}
        }
        let ty = match TypeRef::primitive(&word) {
            Some(p) => p,
            None if self.known.contains(&word) => TypeRef::Named(word.clone()),
            None => return Err((DiagnosticKind::UnknownType, self.unknown(&word))),
        };
        self.skip_ws();
        if self.rest.starts_with('<') {
            return Err(invalid(format!(
                "`{word}` takes no `<...>`; only `list` and `map` do"
            )));
        }
        Ok(ty)
    }

    fn unknown(&self, word: &str) -> String {
        // Names from other languages, mapped to ours.
        let alias = match word.to_ascii_lowercase().as_str() {
            "int" | "integer" | "long" | "int64" => Some("i64"),
            "int32" => Some("i32"),
            "uint" | "uint64" | "usize" => Some("u64"),
            "uint32" => Some("u32"),
            "str" | "text" | "str_" => Some("string"),
            "boolean" => Some("bool"),
            "float" | "double" | "number" | "f32" | "float64" => Some("f64"),
            "object" | "any" | "value" => Some("json"),
            "array" | "vec" | "vector" => Some("list<...>"),
            "dict" | "hashmap" | "btreemap" | "record" => Some("map<...>"),
            "option" | "optional" => Some("T?"),
            _ => None,
        };
        if let Some(a) = alias {
            return format!("unknown type `{word}`; use `{a}`");
        }
        let candidates = self
            .names
            .iter()
            .map(String::as_str)
            .chain(TypeRef::PRIMITIVES.iter().map(|(name, _)| *name))
            .chain(["list", "map"]);
        let hint = did_you_mean(word, candidates);
        if !hint.is_empty() {
            return format!("unknown type `{word}`{hint}");
        }
        if is_camel_case(word) {
            format!("unknown type `{word}`; declare it under `types`")
        } else {
            format!(
                "unknown type `{word}`; use a type from `types` or one of {}",
                TypeRef::primitive_names()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::parse;
    use crate::diag::DiagnosticKind;
    use crate::model::TypeRef;

    /// Each primitive reads as written and prints as it reads.
    #[test]
    fn every_primitive_round_trips() {
        for (name, ty) in TypeRef::PRIMITIVES {
            assert_eq!(parse(name, &[], &HashSet::new()).as_ref(), Ok(ty));
            assert_eq!(ty.to_string(), *name);
        }
    }

    #[test]
    fn named_types_optional_and_nested() {
        let known: HashSet<String> = ["User".to_owned()].into();
        let names = ["User".to_owned()];
        let ty = parse(" map< list<User?> >? ", &names, &known).expect("a type");
        assert_eq!(ty.to_string(), "map<list<User?>>?");
        let (kind, message) = parse("Usr", &names, &known).expect_err("unknown");
        assert_eq!(kind, DiagnosticKind::UnknownType);
        assert_eq!(message, "unknown type `Usr`; did you mean `User`?");
        let (kind, _) = parse("list<User", &names, &known).expect_err("not closed");
        assert_eq!(kind, DiagnosticKind::InvalidType);
    }
}
