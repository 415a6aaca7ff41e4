//! Deterministic example values of the model's types: what `seamless mock`
//! answers an endpoint with.
//!
//! A value depends only on the API, the type, a `seed` and a `salt` (the
//! mock passes the request's concrete path, so `/users/7` and `/users/8`
//! differ), and on nothing else: no clock, no process-random hasher, no
//! `HashMap` order. Each leaf is drawn from a stable hash (FNV-1a, then
//! splitmix64) of the seed, the salt and the leaf's JSON path, so the same
//! inputs give the same value on every run and platform, and an edit to one
//! field leaves the others' values as they were.
//!
//! Every value fits its type as the emitter generates it (it deserializes
//! into the generated Rust type):
//!
//! - integers stay small and within their width and sign, floats are finite
//!   with two decimals;
//! - strings are readable, named after their field (`"nickName-3f2a"`); a
//!   field whose name says what it holds gets a value of that shape: `uuid`
//!   (a UUID v4), `email`, `…url`/`…uri`, `…At`/`…_at`/`…time` (an RFC 3339
//!   date-time) and `…date` (a date);
//! - enums take one of their wire values, `one_of` types one of their
//!   choices (with the tag field set to its value when tagged);
//! - optional values are present seven times in eight, lists hold 0 to 3
//!   items, maps 1 or 2 entries, `json` is a small object; struct fields
//!   carry their wire names.
//!
//! Recursive types end: once a named type is entered a second time below
//! itself, or the value has grown past a few thousand parts, everything
//! below takes its smallest form (`None`, an empty list or map), which
//! every type the validator accepts has. A model the validator refuses (a
//! struct that holds itself by value) gets `null` past a fixed depth.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use crate::model::{Api, TypeDef, TypeKind, TypeRef};

/// The example value of `ty` in `api` for this `seed` and `salt`: the
/// same arguments always give the same value. A shorthand for
/// [`Examples::new`] and [`Examples::value`]; build an [`Examples`] once to
/// answer many requests.
pub fn example(api: &Api, ty: &TypeRef, seed: u64, salt: &str) -> Value {
    Examples::new(api).value(ty, seed, salt)
}

/// Example values for one API: the shapes of its named types, looked up by
/// name. It owns what it needs (no spans, no origins), so it is `Send` and
/// `Sync` and a server can keep one for its whole life.
#[derive(Clone, Debug)]
pub struct Examples {
    types: BTreeMap<String, Shape>,
}

/// What an example needs of a named type.
#[derive(Clone, Debug)]
enum Shape {
    /// Fields by wire name.
    Struct(Vec<(String, TypeRef)>),
    /// Wire values.
    Enum(Vec<String>),
    /// The tag field, and each choice's name, type and tag value.
    OneOf {
        tag: Option<String>,
        choices: Vec<(String, TypeRef, String)>,
    },
}

impl Shape {
    fn of(def: &TypeDef) -> Shape {
        match &def.kind {
            TypeKind::Struct(fields) => {
                Shape::Struct(fields.iter().map(|f| (f.wire.clone(), f.ty.clone())).collect())
            }
            TypeKind::Enum(variants) => Shape::Enum(variants.iter().map(|v| v.wire.clone()).collect()),
            TypeKind::OneOf { tag, choices } => Shape::OneOf {
                tag: tag.clone(),
                choices: choices
                    .iter()
                    .map(|c| (c.name.clone(), c.ty.clone(), c.value.clone()))
                    .collect(),
            },
        }
    }
}

/// Times a named type may appear on the way down before what is below it
/// takes its smallest form: 2 shows one level of a recursive type.
const RECURSION: usize = 2;
/// Values generated before the rest of a value takes its smallest form.
const BUDGET: usize = 4096;
/// Named types nested this deep give `null`: reached only by a model the
/// validator refuses.
const MAX_DEPTH: usize = 64;

impl Examples {
    /// Indexes `api`'s named types (the first definition of a name wins, as
    /// a model with two is refused anyway).
    pub fn new(api: &Api) -> Self {
        let mut types = BTreeMap::new();
        for t in &api.types {
            types.entry(t.name.clone()).or_insert_with(|| Shape::of(t));
        }
        Examples { types }
    }

    /// The example value of `ty` for this `seed` and `salt`. A name that is
    /// not one of the API's types gives `null`.
    pub fn value(&self, ty: &TypeRef, seed: u64, salt: &str) -> Value {
        let mut walk = Walk {
            types: &self.types,
            seed: splitmix64(seed),
            salt: fnv1a(FNV_OFFSET, salt.as_bytes()),
            path: String::new(),
            stack: Vec::new(),
            spent: 0,
        };
        walk.value(ty, "value", false)
    }
}

/// One value being built: where it is, which named types lead there.
struct Walk<'e> {
    types: &'e BTreeMap<String, Shape>,
    seed: u64,
    salt: u64,
    /// The JSON path of the value being built (`.friends[1].id`).
    path: String,
    /// The named types entered on the way down.
    stack: Vec<&'e str>,
    /// Values generated so far.
    spent: usize,
}

impl<'e> Walk<'e> {
    /// A number for the value at the current path; `what` tells apart the
    /// draws one value makes.
    fn draw(&self, what: &str) -> u64 {
        let mut h = fnv1a(self.salt, &[0xff]);
        h = fnv1a(h, self.path.as_bytes());
        h = fnv1a(h, &[0xfe]);
        h = fnv1a(h, what.as_bytes());
        splitmix64(h ^ self.seed)
    }

    /// Runs `f` with `segment` appended to the path.
    fn at<T>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let len = self.path.len();
        self.path.push_str(segment);
        let out = f(self);
        self.path.truncate(len);
        out
    }

    /// `label` names the value for strings (the nearest field's wire name);
    /// `small` asks for the smallest form of every container.
    fn value(&mut self, ty: &TypeRef, label: &str, small: bool) -> Value {
        self.spent += 1;
        let small = small || self.spent > BUDGET;
        match ty {
            TypeRef::Bool => Value::Bool(self.draw("") & 1 == 1),
            TypeRef::I32 => Value::from(signed(self.draw(""), 1_000)),
            TypeRef::I64 => Value::from(signed(self.draw(""), 1_000_000)),
            TypeRef::U32 => Value::from(self.draw("") % 100_000),
            TypeRef::U64 => Value::from(self.draw("") % 10_000_000_000),
            TypeRef::F64 => {
                let cents = signed(self.draw(""), 1_000_000);
                Number::from_f64(cents as f64 / 100.0).map_or(Value::from(0), Value::Number)
            }
            TypeRef::String => Value::String(self.string(label)),
            TypeRef::Json => {
                let h = self.draw("");
                let mut object = Map::new();
                object.insert(
                    "label".into(),
                    Value::String(format!("{label}-{:04x}", h & 0xffff)),
                );
                object.insert("n".into(), Value::from((h >> 16) % 100));
                object.insert("ok".into(), Value::Bool((h >> 32) & 1 == 1));
                Value::Object(object)
            }
            TypeRef::Option(inner) => {
                if small || self.draw("some").is_multiple_of(8) {
                    Value::Null
                } else {
                    self.value(inner, label, small)
                }
            }
            TypeRef::List(item) => {
                let n = if small { 0 } else { self.draw("len") % 4 };
                let items = (0..n)
                    .map(|i| self.at(&format!("[{i}]"), |w| w.value(item, label, small)))
                    .collect();
                Value::Array(items)
            }
            TypeRef::Map(item) => {
                let mut object = Map::new();
                let n = if small { 0 } else { 1 + self.draw("len") % 2 };
                for i in 0..n {
                    let segment = format!("{{{i}}}");
                    let (mut key, value) = self.at(&segment, |w| {
                        let key = format!("{label}-{:04x}", w.draw("key") & 0xffff);
                        (key, w.value(item, label, small))
                    });
                    while object.contains_key(&key) {
                        key.push_str("-2");
                    }
                    object.insert(key, value);
                }
                Value::Object(object)
            }
            TypeRef::Named(name) => self.named(name, small),
        }
    }

    fn named(&mut self, name: &str, small: bool) -> Value {
        let Some((name, shape)) = self.types.get_key_value(name) else {
            return Value::Null;
        };
        if self.stack.len() >= MAX_DEPTH {
            return Value::Null;
        }
        let name = name.as_str();
        let seen = self.stack.iter().filter(|&&n| n == name).count();
        let small = small || seen + 1 >= RECURSION;
        self.stack.push(name);
        let out = match shape {
            Shape::Struct(fields) => {
                let mut object = Map::new();
                for (wire, ty) in fields {
                    let v = self.at(&format!(".{wire}"), |w| w.value(ty, wire, small));
                    object.insert(wire.clone(), v);
                }
                Value::Object(object)
            }
            Shape::Enum(variants) => match variants.len() {
                0 => Value::Null,
                n => Value::String(variants[(self.draw("variant") % n as u64) as usize].clone()),
            },
            Shape::OneOf { tag, choices } => match choices.len() {
                0 => Value::Null,
                n => {
                    let (choice, ty, value) = &choices[(self.draw("choice") % n as u64) as usize];
                    let segment = format!("<{choice}>");
                    let mut v = self.at(&segment, |w| w.value(ty, "value", small));
                    if let (Some(tag), Value::Object(object)) = (tag, &mut v) {
                        object.insert(tag.clone(), Value::String(value.clone()));
                    }
                    v
                }
            },
        };
        self.stack.pop();
        out
    }

    /// A readable string for a value labelled `label`, shaped like what
    /// the label names, if it names something with a usual shape.
    fn string(&self, label: &str) -> String {
        let h = self.draw("");
        let tail = h & 0xffff;
        let norm: String = label
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let camel_at = label.len() > 2
            && label.ends_with("At")
            && label[..label.len() - 2].ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        if norm.contains("uuid") || norm == "guid" {
            uuid(h, self.draw("uuid"))
        } else if norm.contains("email") {
            format!("user-{tail:04x}@example.com")
        } else if norm.ends_with("url") || norm.ends_with("uri") || norm.ends_with("href") {
            format!("https://example.com/{norm}/{tail:04x}")
        } else if camel_at || label.ends_with("_at") || norm.ends_with("time") || norm.ends_with("timestamp")
        {
            date_time(h)
        } else if norm.ends_with("date") {
            date_time(h)[..10].to_owned()
        } else {
            format!("{label}-{tail:04x}")
        }
    }
}

/// `h` mapped onto `-bound..=bound`.
fn signed(h: u64, bound: u64) -> i64 {
    (h % (2 * bound + 1)) as i64 - bound as i64
}

/// A UUID v4 made of the bits of `a` and `b`.
fn uuid(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// An RFC 3339 UTC date-time from 2020 to 2024, picked by `h`.
fn date_time(h: u64) -> String {
    // Days from 1970-01-01 to 2020-01-01.
    const START: u64 = 18_262;
    let days = START + h % (5 * 365);
    let secs = (h >> 32) % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `h`.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One splitmix64 step: a bijection that scatters close inputs.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_real_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(18_262), (2020, 1, 1));
        assert_eq!(civil_from_days(18_262 + 59), (2020, 2, 29));
        assert_eq!(civil_from_days(19_722), (2023, 12, 31));
        for h in [0, 1, u64::MAX, 0x1234_5678_9abc_def0] {
            let t = date_time(h);
            assert_eq!(t.len(), 20, "{t}");
            assert!(t.starts_with("202") && t.ends_with('Z'), "{t}");
        }
    }

    #[test]
    fn uuids_are_version_4() {
        for (a, b) in [(0, 0), (u64::MAX, u64::MAX), (0x0123_4567_89ab_cdef, 42)] {
            let u = uuid(a, b);
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{u}"
            );
            assert!(parts[2].starts_with('4'), "{u}");
            assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{u}");
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        // The values must not change between runs, platforms or releases
        // by accident: mock transcripts and tests may record them.
        assert_eq!(fnv1a(FNV_OFFSET, b""), FNV_OFFSET);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn signed_ranges_hold() {
        assert_eq!(signed(0, 1_000), -1_000);
        assert_eq!(signed(2_000, 1_000), 1_000);
        assert!(signed(u64::MAX, 1_000).unsigned_abs() <= 1_000);
    }
}
