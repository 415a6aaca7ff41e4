//! Where a JSON pointer's value is written in the description, as a line
//! and column, so each warning points into the document itself. JSON is
//! scanned in one pass (GitHub's 13 MB description is beyond the YAML
//! parser's budget, and JSON needs none of it); YAML goes through the
//! spec parser's positioned tree.

use std::collections::{BTreeMap, BTreeSet};

use crate::yaml::tree::{self, Pos};

/// The position of each of `wanted` (pointers without the leading `#`)
/// that is in `source`.
pub(crate) fn positions(source: &str, wanted: &BTreeSet<String>) -> BTreeMap<String, Pos> {
    if wanted.is_empty() {
        return BTreeMap::new();
    }
    if source.trim_start().starts_with('{') {
        let mut scan = Scan {
            b: source.as_bytes(),
            i: 0,
            path: String::new(),
            wanted,
            found: BTreeMap::new(),
        };
        scan.value(0);
        let lines = LineIndex::new(source);
        return scan
            .found
            .into_iter()
            .map(|(p, at)| (p, lines.pos(source, at)))
            .collect();
    }
    let Ok(root) = tree::parse(source) else {
        return BTreeMap::new();
    };
    wanted
        .iter()
        .filter_map(|p| Some((p.clone(), tree::pos_of(find(&root, p)?))))
        .collect()
}

/// The node at `pointer` in a YAML tree.
fn find<'a>(root: &'a tree::Node, pointer: &str) -> Option<&'a tree::Node> {
    let mut node = root;
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        node = match &node.value {
            tree::Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, tree::Value::Str(s) if *s == segment))
                .map(|(_, v)| v)?,
            tree::Value::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// JSON already checked by serde_json, walked for positions only. Depth is
/// bounded by serde_json's own limit (128), which the text passed.
struct Scan<'a, 'w> {
    b: &'a [u8],
    i: usize,
    /// The pointer of the value being read.
    path: String,
    wanted: &'w BTreeSet<String>,
    found: BTreeMap<String, usize>,
}

impl Scan<'_, '_> {
    fn value(&mut self, depth: usize) {
        self.ws();
        if self.wanted.contains(&self.path) {
            self.found.insert(self.path.clone(), self.i);
        }
        match self.b.get(self.i) {
            Some(b'{') if depth < 256 => self.object(depth),
            Some(b'[') if depth < 256 => self.array(depth),
            Some(b'"') => {
                self.string();
            }
            _ => {
                while self.i < self.b.len() && !matches!(self.b[self.i], b',' | b'}' | b']') {
                    self.i += 1;
                }
            }
        }
    }

    fn object(&mut self, depth: usize) {
        self.i += 1;
        loop {
            self.ws();
            match self.b.get(self.i) {
                Some(b'}') | None => {
                    self.i += 1;
                    return;
                }
                Some(b',') => self.i += 1,
                Some(b'"') => {
                    let key = self.string();
                    self.ws();
                    self.i += 1; // the `:`
                    let len = self.path.len();
                    self.path.push('/');
                    self.path.push_str(&super::doc::escape(&key));
                    self.value(depth + 1);
                    self.path.truncate(len);
                }
                Some(_) => self.i += 1,
            }
        }
    }

    fn array(&mut self, depth: usize) {
        self.i += 1;
        let mut index = 0;
        loop {
            self.ws();
            match self.b.get(self.i) {
                Some(b']') | None => {
                    self.i += 1;
                    return;
                }
                Some(b',') => self.i += 1,
                Some(_) => {
                    let len = self.path.len();
                    self.path.push('/');
                    self.path.push_str(&index.to_string());
                    self.value(depth + 1);
                    self.path.truncate(len);
                    index += 1;
                }
            }
        }
    }

    /// Reads a string at `i` (on its opening quote) and returns its text.
    fn string(&mut self) -> String {
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                    continue;
                }
                b'"' => break,
                _ => self.i += 1,
            }
        }
        self.i = (self.i + 1).min(self.b.len());
        let raw = String::from_utf8_lossy(&self.b[start..self.i]);
        if escaped {
            serde_json::from_str(&raw).unwrap_or_default()
        } else {
            raw.trim_matches('"').to_owned()
        }
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
}

/// Byte offsets of line starts, to turn an offset into a line and column.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex(starts)
    }

    fn pos(&self, source: &str, offset: usize) -> Pos {
        let line = self.0.partition_point(|&s| s <= offset).max(1);
        let start = self.0[line - 1];
        let column = source.get(start..offset).map_or(1, |s| s.chars().count() + 1);
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &str, pointer: &str) -> Option<(u32, u32)> {
        let wanted = BTreeSet::from([pointer.to_owned()]);
        positions(source, &wanted)
            .get(pointer)
            .map(|p| (p.line, p.column))
    }

    #[test]
    fn json_pointers_find_their_values() {
        let src = "{\n  \"paths\": {\n    \"/a/{b}\": {\"get\": {\"x\": [1, {\"y\\\"z\": true}]}}\n  }\n}";
        assert_eq!(at(src, "/paths"), Some((2, 12)));
        assert_eq!(at(src, "/paths/~1a~1{b}/get"), Some((3, 23)));
        assert_eq!(at(src, "/paths/~1a~1{b}/get/x/1/y\"z"), Some((3, 42)));
        assert_eq!(at(src, "/nowhere"), None);
    }

    #[test]
    fn yaml_pointers_find_their_values() {
        let src = "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      parameters:\n        - name: x\n";
        assert_eq!(at(src, "/paths/~1a/get"), Some((5, 7)));
        assert_eq!(at(src, "/paths/~1a/get/parameters/0"), Some((6, 11)));
    }
}
