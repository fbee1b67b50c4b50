//! Field paths and field sets as server-side apply records them (sigs.k8s.io/structured-merge-diff
//! `fieldpath`): the `f:`/`k:`/`v:`/`i:` notation of `managedFields[].fieldsV1`, and the
//! `.spec.containers[name="web"].image` form of conflict messages.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One step of a path. The variant order is structured-merge-diff's sort order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PathElement {
    /// A field of an object (`f:name`).
    Field(String),
    /// An item of an associative list, by its key fields sorted by name; each value is JSON text
    /// (`k:{"name":"web"}`).
    Key(Vec<(String, String)>),
    /// An item of a set-like list, as JSON text (`v:"finalizer"`).
    Value(String),
    /// An item of a list by position (`i:0`); only read from stored entries.
    Index(usize),
}

pub(crate) type Path = Vec<PathElement>;

/// A set of paths. A path in the set is "owned"; its ancestors are not, unless listed too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSet(BTreeSet<Path>);

impl PathElement {
    pub(crate) fn field(name: &str) -> Self {
        PathElement::Field(name.to_owned())
    }

    /// The `fieldsV1` key of this element.
    fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{}:{value}", json_string(name)))
                    .collect();
                format!("k:{{{}}}", parts.join(","))
            }
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    fn from_fields_v1_key(key: &str) -> Option<Self> {
        let (prefix, rest) = key.split_at_checked(2)?;
        match prefix {
            "f:" => Some(PathElement::Field(rest.to_owned())),
            "v:" => serde_json::from_str::<Value>(rest)
                .ok()
                .map(|value| PathElement::Value(value.to_string())),
            "i:" => rest.parse().ok().map(PathElement::Index),
            "k:" => match serde_json::from_str::<Value>(rest).ok()? {
                Value::Object(fields) => Some(PathElement::Key(
                    fields
                        .into_iter()
                        .map(|(name, value)| (name, value.to_string()))
                        .collect::<BTreeMap<_, _>>()
                        .into_iter()
                        .collect(),
                )),
                _ => None,
            },
            _ => None,
        }
    }
}

impl std::fmt::Display for PathElement {
    /// structured-merge-diff's `PathElement.String()`, used in conflict messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={value}]"),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path as structured-merge-diff prints it: `.spec.replicas`.
pub(crate) fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

impl FieldSet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    pub(crate) fn contains(&self, path: &[PathElement]) -> bool {
        self.0.contains(path)
    }

    pub(crate) fn remove(&mut self, path: &[PathElement]) {
        self.0.remove(path);
    }

    /// Whether a path strictly under `prefix` is in the set.
    pub(crate) fn has_descendant(&self, prefix: &[PathElement]) -> bool {
        self.0
            .range(prefix.to_vec()..)
            .find(|path| path.len() > prefix.len() || path.as_slice() != prefix)
            .is_some_and(|path| path.len() > prefix.len() && path.starts_with(prefix))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Adds every ancestor that ends in a field name: structured-merge-diff's
    /// `EnsureNamedFieldsAreMembers`, which pruning uses so that owning `.a.b` keeps `.a`.
    /// Every object is taken for a struct here (see `apply.rs` for why that is safe).
    pub(crate) fn with_named_ancestors(&self) -> FieldSet {
        let mut out = self.0.clone();
        for path in &self.0 {
            for end in 1..path.len() {
                if matches!(path[end - 1], PathElement::Field(_)) {
                    out.insert(path[..end].to_vec());
                }
            }
        }
        FieldSet(out)
    }

    /// The paths in structured-merge-diff's iteration order: at each level the members first,
    /// then the children, each sorted. Conflict messages list fields in this order.
    pub(crate) fn ordered(&self) -> Vec<Path> {
        let tree = Tree::build(self);
        let mut out = Vec::new();
        tree.walk(&mut Vec::new(), &mut out);
        out
    }

    /// The `fieldsV1` object of a managedFields entry.
    pub(crate) fn to_fields_v1(&self) -> Value {
        Tree::build(self).to_json(false)
    }

    /// Reads a `fieldsV1` object; `None` when it is not one.
    pub(crate) fn from_fields_v1(value: &Value) -> Option<FieldSet> {
        let mut set = FieldSet::new();
        read_fields_v1(value, &mut Vec::new(), &mut set)?;
        Some(set)
    }
}

fn read_fields_v1(value: &Value, path: &mut Path, set: &mut FieldSet) -> Option<()> {
    let object = value.as_object()?;
    for (key, child) in object {
        if key == "." {
            set.insert(path.clone());
            continue;
        }
        let element = PathElement::from_fields_v1_key(key)?;
        path.push(element);
        match child.as_object() {
            Some(map) if map.is_empty() => set.insert(path.clone()),
            Some(_) => read_fields_v1(child, path, set)?,
            None => return None,
        }
        path.pop();
    }
    Some(())
}

/// A field set as a tree, for the two outputs that need structure.
#[derive(Default)]
struct Tree {
    member: bool,
    children: BTreeMap<PathElement, Tree>,
}

impl Tree {
    fn build(set: &FieldSet) -> Tree {
        let mut root = Tree::default();
        for path in set.iter() {
            let mut node = &mut root;
            for element in path {
                node = node.children.entry(element.clone()).or_default();
            }
            node.member = true;
        }
        root
    }

    fn walk(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for (element, child) in &self.children {
            if child.member {
                prefix.push(element.clone());
                out.push(prefix.clone());
                prefix.pop();
            }
        }
        for (element, child) in &self.children {
            if !child.children.is_empty() {
                prefix.push(element.clone());
                child.walk(prefix, out);
                prefix.pop();
            }
        }
    }

    fn to_json(&self, include_self: bool) -> Value {
        let mut map = Map::new();
        if include_self && self.member && !self.children.is_empty() {
            map.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            map.insert(element.to_fields_v1_key(), child.to_json(true));
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str, value: &str) -> PathElement {
        PathElement::Key(vec![(name.to_owned(), json_string(value))])
    }

    #[test]
    fn fields_v1_marks_owned_items_with_children_by_a_dot() {
        let mut set = FieldSet::new();
        let containers = vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            key("name", "web"),
        ];
        set.insert(containers.clone());
        let mut image = containers.clone();
        image.push(PathElement::field("image"));
        set.insert(image);
        let expected =
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}});
        assert_eq!(set.to_fields_v1(), expected);
        assert_eq!(FieldSet::from_fields_v1(&expected), Some(set));
    }

    #[test]
    fn path_string_prints_keys_and_values_like_structured_merge_diff() {
        let path = vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            key("name", "web"),
            PathElement::field("image"),
        ];
        assert_eq!(path_string(&path), ".spec.containers[name=\"web\"].image");
        let finalizer = vec![
            PathElement::field("metadata"),
            PathElement::field("finalizers"),
            PathElement::Value("\"a\"".to_owned()),
        ];
        assert_eq!(path_string(&finalizer), ".metadata.finalizers[=\"a\"]");
    }

    #[test]
    fn ordered_lists_members_before_children() {
        let mut set = FieldSet::new();
        set.insert(vec![
            PathElement::field("a"),
            PathElement::field("c"),
            PathElement::field("d"),
        ]);
        set.insert(vec![PathElement::field("a"), PathElement::field("e")]);
        set.insert(vec![PathElement::field("a"), PathElement::field("b")]);
        let printed: Vec<String> = set.ordered().iter().map(|p| path_string(p)).collect();
        assert_eq!(printed, [".a.b", ".a.e", ".a.c.d"]);
    }
}
