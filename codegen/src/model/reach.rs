//! How the model's types reach each other: which named types the endpoints
//! use (the ones generated, and not warned about as unused), and which
//! structs hold each other inline, so which fields need a `Box`. The
//! emitter and the validator must decide both the same way.

use std::collections::{BTreeMap, BTreeSet};

use super::{Api, TypeDef, TypeKind, TypeRef};

impl Api {
    /// The named types some endpoint uses, directly or through other types:
    /// the ones the emitter generates (and the validator does not warn about).
    pub fn reachable_types(&self) -> BTreeSet<&str> {
        let defs: BTreeMap<&str, &TypeDef> = self.types.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = Vec::new();
        for ep in &self.endpoints {
            let roots = ep
                .params
                .iter()
                .map(|p| &p.ty)
                .chain(ep.body.as_ref().map(|b| &b.ty))
                .chain(ep.response.as_ref());
            for ty in roots {
                ty.named_into(&mut todo);
            }
        }
        while let Some(name) = todo.pop() {
            if !seen.insert(name) {
                continue;
            }
            if let Some(def) = defs.get(name) {
                for ty in def.kind.held_types() {
                    ty.named_into(&mut todo);
                }
            }
        }
        seen
    }
}

impl TypeRef {
    /// The named type a value of this type holds inline (through `Option`s
    /// only), if any: a `Vec` or a map is already on the heap.
    pub(crate) fn held_inline(&self) -> Option<&str> {
        match self {
            TypeRef::Named(n) => Some(n),
            TypeRef::Option(t) => t.held_inline(),
            _ => None,
        }
    }

    /// The named type every value of this type holds (not through `?`,
    /// a list or a map): a cycle of these has no finite value at all.
    pub(crate) fn held_always(&self) -> Option<&str> {
        match self {
            TypeRef::Named(n) => Some(n),
            _ => None,
        }
    }
}

/// Which struct fields must be boxed: those whose inline type leads back to
/// the struct itself (`Node { parent: Option<Node> }` has no finite size).
/// Two structs need a box between them exactly when they hold each other
/// inline, directly or through others: when they share a strongly connected
/// component of the "holds inline" graph.
pub(crate) struct Boxing<'a> {
    component: BTreeMap<&'a str, usize>,
    self_loops: BTreeSet<&'a str>,
}

impl<'a> Boxing<'a> {
    /// The boxing among `types` (enums hold nothing). Any set closed under
    /// "holds inline" gives the same answers as the whole model, so the
    /// emitter may pass only the types it writes.
    pub(crate) fn new(types: impl IntoIterator<Item = &'a TypeDef>) -> Self {
        Boxing::by(types, TypeRef::held_inline)
    }

    /// The same question for the fields every value holds: a field that
    /// "needs a box" here closes a cycle no finite value can satisfy.
    pub(crate) fn always(types: impl IntoIterator<Item = &'a TypeDef>) -> Self {
        Boxing::by(types, TypeRef::held_always)
    }

    fn by(types: impl IntoIterator<Item = &'a TypeDef>, holds: fn(&TypeRef) -> Option<&str>) -> Self {
        let structs: Vec<(&str, Vec<&TypeRef>)> = types
            .into_iter()
            .filter(|t| !matches!(t.kind, TypeKind::Enum(_)))
            .map(|t| (t.name.as_str(), t.kind.held_types()))
            .collect();
        let index: BTreeMap<&str, usize> = structs.iter().enumerate().map(|(i, (n, _))| (*n, i)).collect();
        let edges: Vec<Vec<usize>> = structs
            .iter()
            .map(|(_, held)| {
                held.iter()
                    .filter_map(|ty| holds(ty).and_then(|n| index.get(n).copied()))
                    .collect()
            })
            .collect();
        let component = tarjan(&edges);
        let mut self_loops = BTreeSet::new();
        for (i, out) in edges.iter().enumerate() {
            if out.contains(&i) {
                self_loops.insert(structs[i].0);
            }
        }
        Boxing {
            component: structs.iter().map(|(n, _)| *n).zip(component).collect(),
            self_loops,
        }
    }

    /// Whether `holder` must box a field that holds `held` inline.
    pub(crate) fn needs_box(&self, holder: &str, held: &str) -> bool {
        if holder == held {
            return self.self_loops.contains(holder);
        }
        matches!(
            (self.component.get(holder), self.component.get(held)),
            (Some(a), Some(b)) if a == b
        )
    }
}

/// Strongly connected components (Tarjan), iterative so a long chain of
/// types cannot overflow the stack. Returns each node's component id.
fn tarjan(edges: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let (mut index, mut low, mut comp) = (vec![UNSEEN; n], vec![0; n], vec![UNSEEN; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut next_index, mut next_comp) = (Vec::new(), 0, 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, next edge to look at)
        let mut work = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            if let Some(&w) = edges[v].get(*e) {
                *e += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_groups_cycles() {
        // 0 -> 1 -> 2 -> 0, 3 -> 0, 4 alone
        let comp = tarjan(&[vec![1], vec![2], vec![0], vec![0], vec![]]);
        assert!(comp[0] == comp[1] && comp[1] == comp[2]);
        assert!(comp[3] != comp[0] && comp[4] != comp[0] && comp[3] != comp[4]);
    }
}
