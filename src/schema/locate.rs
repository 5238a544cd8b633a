//! The line a field sits on in the text of a YAML or JSON file.
//!
//! Values are parsed into `serde_json::Value`, which keeps no positions; when a
//! check finds a bad field, this reads the text again with an event parser and
//! follows the JSON Pointer to the key (or item) it names. Only error paths pay
//! for it. Aliases and merge keys are not followed: the line of the alias, or of
//! the deepest ancestor found, is given instead.

use saphyr_parser::{Event, Parser};

/// 1-based line of the field `pointer` (RFC 6901, `/spec/containers/0/image`) in the
/// document of `text` whose content starts at or after `doc_line` (the first
/// document when `None`). For a mapping entry it is the line of the key; for a
/// sequence item, the line where the item starts. When the field is not in the
/// text (a default, a merge key), the line of its deepest ancestor that is.
///
/// ```
/// let text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: web\n      securityContex: {}\n";
/// let line = verdict::schema::field_line(text, None, "/spec/containers/0/securityContex");
/// assert_eq!(line, Some(6));
/// let second = "a: 1\n---\nb:\n  c: 2\n";
/// assert_eq!(verdict::schema::field_line(second, Some(3), "/b/c"), Some(4));
/// ```
pub fn field_line(text: &str, doc_line: Option<usize>, pointer: &str) -> Option<usize> {
    let target: Vec<String> = decode_pointer(pointer);
    let mut parser = Parser::new_from_str(text);
    let (root_event, root_line) = document_root(&mut parser, doc_line)?;
    if target.is_empty() {
        return Some(root_line);
    }
    Walker { parser, target, best: root_line }.find(root_event)
}

/// The lines of every field of one document, read once: [`field_line`] for
/// many pointers into the same text (a suite's rows) without reading the text
/// again per pointer. Answers exactly as [`field_line`] does: the first of
/// duplicate keys, a non-numeric index or a missing field gives the deepest
/// ancestor's line, and aliases are not followed.
///
/// ```
/// let text = "tests:\n- name: a\n  cases:\n  - name: c\n    object: o.yaml\n";
/// let lines = verdict::schema::FieldLines::new(text, None).unwrap();
/// for pointer in ["", "/tests/0/cases/0/object", "/tests/0/cases/3", "/tests/x", "/nope"] {
///     assert_eq!(lines.line(pointer), verdict::schema::field_line(text, None, pointer));
/// }
/// ```
#[derive(Debug, Clone)]
pub struct FieldLines {
    root: LineNode,
}

#[derive(Debug, Clone)]
struct LineNode {
    /// Line of the key (mapping entry), of the item's start (sequence item), or of the root node.
    line: usize,
    children: LineChildren,
}

#[derive(Debug, Clone)]
enum LineChildren {
    Leaf,
    /// Keys in text order; a key's first occurrence is the one found.
    Mapping(Vec<(String, LineNode)>),
    Sequence(Vec<LineNode>),
}

impl FieldLines {
    /// Read the document of `text` whose content starts at or after `doc_line`
    /// (the first when `None`); `None` when the text does not parse as far as
    /// that document's end, where [`field_line`] must be asked per pointer.
    pub fn new(text: &str, doc_line: Option<usize>) -> Option<FieldLines> {
        let mut parser = Parser::new_from_str(text);
        let (node, line) = document_root(&mut parser, doc_line)?;
        let root = read_node(&mut parser, node, line)?;
        Some(FieldLines { root })
    }

    /// The line [`field_line`] gives for `pointer` in this document.
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut node = &self.root;
        for segment in pointer_segments(pointer) {
            let child = match &node.children {
                LineChildren::Leaf => None,
                LineChildren::Mapping(entries) => entries.iter().find(|(k, _)| *k == *segment).map(|(_, n)| n),
                LineChildren::Sequence(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            };
            match child {
                Some(child) => node = child,
                None => return Some(node.line),
            }
        }
        Some(node.line)
    }
}

/// Reads up to the root node of the document whose content starts at or after
/// `doc_line` (the first when `None`), skipping earlier documents; the node's
/// start event and line, or `None` when the text ends or breaks first.
fn document_root<'a>(parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>, doc_line: Option<usize>) -> Option<(Event<'a>, usize)> {
    let start = doc_line.unwrap_or(0);
    loop {
        let (event, span) = parser.next_event()?.ok()?;
        match event {
            Event::StreamEnd => return None,
            Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {}
            node => {
                let line = span.start.line();
                if line >= start {
                    return Some((node, line));
                }
                skip_node(parser, &node)?;
            }
        }
    }
}

/// The line tree of the node whose start event `start` (at `line`) was just read.
fn read_node<'a>(parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>, start: Event<'a>, line: usize) -> Option<LineNode> {
    let children = match start {
        Event::MappingStart(..) => {
            let mut entries: Vec<(String, LineNode)> = Vec::new();
            loop {
                let (event, span) = parser.next_event()?.ok()?;
                match event {
                    Event::MappingEnd => break,
                    Event::Scalar(ref name, ..) if !entries.iter().any(|(k, _)| k == name.as_ref()) => {
                        let key = name.to_string();
                        let key_line = span.start.line();
                        let (value, _) = parser.next_event()?.ok()?;
                        let node = read_node(parser, value, key_line)?;
                        entries.push((key, node));
                    }
                    other => {
                        // A complex key, or a duplicate that is never the one found.
                        skip_node(parser, &other)?;
                        let (value, _) = parser.next_event()?.ok()?;
                        skip_node(parser, &value)?;
                    }
                }
            }
            LineChildren::Mapping(entries)
        }
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                let (event, span) = parser.next_event()?.ok()?;
                if event == Event::SequenceEnd {
                    break;
                }
                items.push(read_node(parser, event, span.start.line())?);
            }
            LineChildren::Sequence(items)
        }
        _ => LineChildren::Leaf,
    };
    Some(LineNode { line, children })
}

/// Follows one path down the event stream without building anything.
struct Walker<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    target: Vec<String>,
    /// Line of the deepest ancestor of the target seen so far.
    best: usize,
}

impl<'a> Walker<'a> {
    /// `node` is the start event of the node at depth 0 of the target path.
    fn find(mut self, mut node: Event<'a>) -> Option<usize> {
        for depth in 0..self.target.len() {
            let segment = self.target[depth].clone();
            let found = match node {
                Event::MappingStart(..) => self.find_key(&segment)?,
                Event::SequenceStart(..) => self.find_item(&segment)?,
                // A scalar or alias has no children: the ancestor is the answer.
                _ => return Some(self.best),
            };
            match found {
                Some((child, line)) => {
                    self.best = line;
                    node = child;
                }
                None => return Some(self.best),
            }
        }
        Some(self.best)
    }

    /// In a mapping just opened: the value event of `key` and the key's line.
    fn find_key(&mut self, key: &str) -> Option<Option<(Event<'a>, usize)>> {
        loop {
            let (event, span) = self.parser.next_event()?.ok()?;
            match event {
                Event::MappingEnd => return Some(None),
                Event::Scalar(ref name, ..) if name.as_ref() == key => {
                    let line = span.start.line();
                    let (value, _) = self.parser.next_event()?.ok()?;
                    return Some(Some((value, line)));
                }
                other => {
                    // A key that is not ours (possibly complex), then its value.
                    skip_node(&mut self.parser, &other)?;
                    let (value, _) = self.parser.next_event()?.ok()?;
                    skip_node(&mut self.parser, &value)?;
                }
            }
        }
    }

    /// In a sequence just opened: the start event and line of item `index`.
    fn find_item(&mut self, index: &str) -> Option<Option<(Event<'a>, usize)>> {
        let Ok(wanted) = index.parse::<usize>() else { return Some(None) };
        let mut at = 0usize;
        loop {
            let (event, span) = self.parser.next_event()?.ok()?;
            if event == Event::SequenceEnd {
                return Some(None);
            }
            if at == wanted {
                return Some(Some((event, span.start.line())));
            }
            skip_node(&mut self.parser, &event)?;
            at += 1;
        }
    }
}

/// Consume the rest of a node whose start event was just read.
fn skip_node<'a>(parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>, start: &Event<'a>) -> Option<()> {
    let mut depth: usize = match start {
        Event::MappingStart(..) | Event::SequenceStart(..) => 1,
        _ => return Some(()),
    };
    while depth > 0 {
        let (event, _) = parser.next_event()?.ok()?;
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => depth -= 1,
            Event::StreamEnd => return None,
            _ => {}
        }
    }
    Some(())
}

fn decode_pointer(pointer: &str) -> Vec<String> {
    pointer_segments(pointer).map(std::borrow::Cow::into_owned).collect()
}

/// The unescaped segments of `pointer`, borrowed unless they hold an escape
/// (a suite asks for a line per result row).
fn pointer_segments(pointer: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    let body = match pointer {
        "" | "/" => None,
        _ => Some(pointer.strip_prefix('/').unwrap_or(pointer)),
    };
    body.into_iter().flat_map(|body| body.split('/')).map(|s| match s.contains('~') {
        true => std::borrow::Cow::Owned(s.replace("~1", "/").replace("~0", "~")),
        false => std::borrow::Cow::Borrowed(s),
    })
}

#[cfg(test)]
mod tests {
    use super::{field_line, FieldLines};

    #[test]
    fn keys_items_and_documents() {
        let text = "\
# leading comment
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: a
          image: x
        - name: b
          ports:
            - containerPort: 80
              protocl: TCP
---
apiVersion: v1
kind: Pod
metadata: {name: p, labls: {a: b}}
";
        assert_eq!(field_line(text, Some(2), ""), Some(2));
        assert_eq!(field_line(text, Some(2), "/spec/template/spec/containers/1"), Some(10));
        assert_eq!(field_line(text, Some(2), "/spec/template/spec/containers/1/ports/0/protocl"), Some(13));
        assert_eq!(field_line(text, Some(15), "/metadata/labls"), Some(17));
        // Not in the text: the deepest ancestor that is.
        assert_eq!(field_line(text, Some(2), "/spec/template/spec/volumes/0"), Some(6));
        assert_eq!(field_line(text, Some(2), "/spec/template/spec/containers/7"), Some(7));
    }

    #[test]
    fn json_text_and_escaped_pointers() {
        let text = "{\n  \"metadata\": {\n    \"annotations\": {\n      \"a/b\": \"x\"\n    }\n  }\n}\n";
        assert_eq!(field_line(text, None, "/metadata/annotations/a~1b"), Some(4));
    }

    #[test]
    fn field_lines_answer_as_field_line() {
        let text = "\
# c
a:
  b: [1, {c: 2}]
  a2: &x {k: v}
  dup: {first: 1}
  dup: {second: 2}
  ali: *x
  ? [complex]
  : 3
  s/l~: 4
list:
  - x
  -
    y: 1
---
other: 1
";
        let pointers = [
            "", "/", "/a", "/a/b", "/a/b/1/c", "/a/b/01", "/a/b/+1", "/a/b/9", "/a/b/x", "/a/dup/first",
            "/a/dup/second", "/a/ali/k", "/a/a2/k", "/list/1/y", "/list/0/z", "/missing/deep", "/other",
            "/a/s~1l~0",
        ];
        for start in [None, Some(0), Some(2), Some(3), Some(15)] {
            let lines = FieldLines::new(text, start);
            for p in pointers {
                let expected = field_line(text, start, p);
                assert_eq!(lines.as_ref().and_then(|l| l.line(p)), expected, "{start:?} {p}");
            }
        }
        assert_eq!(FieldLines::new(text, None).unwrap().line("/a/s~1l~0"), Some(10));
        assert!(FieldLines::new("a: [", None).is_none());
    }

    #[test]
    fn broken_text_gives_no_line() {
        assert_eq!(field_line("a: [", None, "/a/0"), None);
    }
}
