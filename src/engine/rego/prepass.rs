//! OPA semantics for `some .. in` over `null` and scalars.
//!
//! In OPA, `some x in null` (or over a string or number) is simply undefined;
//! regorus 0.14 raises "`some .. in collection` expects array/set/object"
//! instead, which would turn every Terraform plan with `ipv6_cidr_blocks: null`
//! into an error. Every other iteration form (`xs[_]`, `every`, `x in xs`,
//! comprehensions over `xs[_]`) already agrees with OPA.
//!
//! The fix is a pre-pass: the collection of each `some .. in` is wrapped in a
//! call to [`ITERABLE`], an extension that returns its argument when it is a
//! collection and undefined otherwise — exactly OPA's rule. The rewrite only
//! inserts text on the same line, so line numbers in errors are unchanged and
//! [`Rewrite::original_column`] maps columns back.

use anyhow::Result;

/// The extension wrapped around `some .. in` collections.
pub(super) const ITERABLE: &str = "__verdict_iterable";

/// Register [`ITERABLE`] on an engine.
pub(super) fn install(engine: &mut regorus::Engine) -> Result<()> {
    engine.add_extension(
        ITERABLE.to_string(),
        1,
        Box::new(|args: Vec<regorus::Value>| {
            let value = args.into_iter().next().unwrap_or(regorus::Value::Undefined);
            Ok(match value {
                regorus::Value::Array(_) | regorus::Value::Set(_) | regorus::Value::Object(_) => {
                    value
                }
                _ => regorus::Value::Undefined,
            })
        }),
    )
}

/// A module's source with every `some .. in` collection wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rewrite {
    pub source: String,
    /// Insertions as (1-based line, 1-based column in the original, length), in source order.
    insertions: Vec<(usize, usize, usize)>,
}

impl Rewrite {
    /// Map a 1-based column of the rewritten source back to the original.
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        let mut shift = 0;
        for &(l, c, len) in &self.insertions {
            if l != line {
                continue;
            }
            if column >= c + shift + len {
                shift += len;
            } else if column >= c + shift {
                return c;
            }
        }
        column - shift.min(column.saturating_sub(1))
    }
}

/// Wrap the collection of each `some .. in` of `source` in [`ITERABLE`].
pub(super) fn rewrite(source: &str) -> Rewrite {
    let tokens = tokenize(source);
    let mut inserts: Vec<(usize, &'static str)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.kind != Kind::Ident || &source[token.start..token.end] != "some" {
            continue;
        }
        if previous_significant(&tokens, i).is_some_and(|t| &source[t.start..t.end] == ".") {
            continue;
        }
        let Some(in_index) = find_in_keyword(source, &tokens, i + 1) else {
            continue;
        };
        if let Some((start, end)) = collection_span(source, &tokens, in_index + 1) {
            inserts.push((start, "(")); // placeholder; the name is added below
            inserts.push((end, ")"));
        }
    }
    apply(source, inserts)
}

fn apply(source: &str, inserts: Vec<(usize, &'static str)>) -> Rewrite {
    let mut sorted: Vec<(usize, String)> = inserts
        .into_iter()
        .map(|(pos, text)| {
            (
                pos,
                if text == "(" {
                    format!("{ITERABLE}(")
                } else {
                    text.to_string()
                },
            )
        })
        .collect();
    // Stable sort keeps an outer `)` and an inner `)` at the same offset in order.
    sorted.sort_by_key(|(pos, _)| *pos);
    let mut out = String::with_capacity(source.len() + sorted.len() * (ITERABLE.len() + 2));
    let mut insertions = Vec::with_capacity(sorted.len());
    let mut last = 0;
    for (pos, text) in sorted {
        out.push_str(&source[last..pos]);
        out.push_str(&text);
        let line = source[..pos].matches('\n').count() + 1;
        let line_start = source[..pos].rfind('\n').map(|p| p + 1).unwrap_or(0);
        let column = source[line_start..pos].chars().count() + 1;
        insertions.push((line, column, text.chars().count()));
        last = pos;
    }
    out.push_str(&source[last..]);
    Rewrite {
        source: out,
        insertions,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Str,
    Comment,
    Newline,
    Space,
    Open,
    Close,
    Semicolon,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Just enough of Rego's lexical grammar to find statement boundaries:
/// strings, raw strings and comments are opaque, brackets nest.
fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            b'\n' => {
                i += 1;
                Kind::Newline
            }
            b' ' | b'\t' | b'\r' => {
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r') {
                    i += 1;
                }
                Kind::Space
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                Kind::Comment
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                Kind::Str
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
                Kind::Str
            }
            b'(' | b'[' | b'{' => {
                i += 1;
                Kind::Open
            }
            b')' | b']' | b'}' => {
                i += 1;
                Kind::Close
            }
            b';' => {
                i += 1;
                Kind::Semicolon
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                Kind::Ident
            }
            _ => {
                // One character (possibly multi-byte) of anything else.
                i += source[i..].chars().next().map(char::len_utf8).unwrap_or(1);
                Kind::Other
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i.min(bytes.len()),
        });
    }
    tokens
}

fn previous_significant(tokens: &[Token], index: usize) -> Option<&Token> {
    tokens[..index]
        .iter()
        .rev()
        .find(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
}

/// The `in` of `some <vars> in`, at bracket depth 0 before the statement ends.
fn find_in_keyword(source: &str, tokens: &[Token], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, token) in tokens[from..].iter().enumerate() {
        match token.kind {
            Kind::Open => depth += 1,
            Kind::Close if depth == 0 => return None,
            Kind::Close => depth -= 1,
            Kind::Newline | Kind::Semicolon if depth == 0 => return None,
            Kind::Ident if depth == 0 && &source[token.start..token.end] == "in" => {
                return Some(from + offset)
            }
            _ => {}
        }
    }
    None
}

/// Byte range of the collection term after `in`: up to the end of the
/// statement (newline, `;`, a closing bracket of the enclosing body, a
/// comment or a `with` modifier) at bracket depth 0.
fn collection_span(source: &str, tokens: &[Token], from: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut start = None;
    let mut end = None;
    for token in &tokens[from..] {
        match token.kind {
            Kind::Space => continue,
            Kind::Newline if start.is_none() => continue,
            Kind::Newline | Kind::Semicolon | Kind::Comment if depth == 0 => break,
            Kind::Close if depth == 0 => break,
            Kind::Ident
                if depth == 0 && start.is_some() && &source[token.start..token.end] == "with" =>
            {
                break
            }
            Kind::Open => depth += 1,
            Kind::Close => depth -= 1,
            _ => {}
        }
        start.get_or_insert(token.start);
        end = Some(token.end);
    }
    Some((start?, end?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(source: &str) -> String {
        rewrite(source).source.replace(ITERABLE, "W")
    }

    #[test]
    fn wraps_simple_and_key_value_forms() {
        assert_eq!(
            wrapped("a if { some x in input.n }"),
            "a if { some x in W(input.n) }"
        );
        assert_eq!(
            wrapped("a if { some k, v in input.n; v }"),
            "a if { some k, v in W(input.n); v }"
        );
        assert_eq!(
            wrapped("a if {\n  some x in input.n # why\n}"),
            "a if {\n  some x in W(input.n) # why\n}"
        );
    }

    #[test]
    fn keeps_brackets_strings_and_multiline_terms_whole() {
        assert_eq!(
            wrapped("r := [x | some x in object.get(input, [\"a\", \"}\"], [])]"),
            "r := [x | some x in W(object.get(input, [\"a\", \"}\"], []))]"
        );
        assert_eq!(
            wrapped("a if { some [p, q] in [\n [1, 2]\n] }"),
            "a if { some [p, q] in W([\n [1, 2]\n]) }"
        );
        assert_eq!(
            wrapped("a if { some x in xs | ys with input as {} }"),
            "a if { some x in W(xs | ys) with input as {} }"
        );
    }

    #[test]
    fn leaves_declarations_comments_and_strings_alone() {
        for untouched in [
            "a if { some x\n x := input.n[_]; x in [1] }",
            "# some x in y\n",
            "m := \"some x in y\"",
            "a := input.some",
        ] {
            assert_eq!(wrapped(untouched), untouched);
        }
    }

    #[test]
    fn nested_some_in_are_both_wrapped() {
        assert_eq!(
            wrapped("a if { some x in [y | some y in input.n] }"),
            "a if { some x in W([y | some y in W(input.n)]) }"
        );
    }

    #[test]
    fn columns_map_back_to_the_original() {
        let r = rewrite("a if { some x in input.n; input.n.foo }");
        let shifted = r.source.find("input.n.foo").unwrap() + 1;
        assert_eq!(
            r.original_column(1, shifted),
            "a if { some x in input.n; ".len() + 1
        );
        assert_eq!(r.original_column(1, 3), 3);
    }
}
