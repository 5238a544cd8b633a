//! A source pre-pass that makes regorus behave as OPA does, and keeps a
//! hostile rule from taking the process down.
//!
//! 1. OPA semantics for `some .. in` over `null` and scalars. In OPA,
//!    `some x in null` (or over a string or number) is simply undefined;
//!    regorus 0.14 raises "`some .. in collection` expects array/set/object"
//!    instead, which would turn every Terraform plan with
//!    `ipv6_cidr_blocks: null` into an error. Every other iteration form
//!    (`xs[_]`, `every`, `x in xs`, comprehensions over `xs[_]`) already agrees
//!    with OPA. The collection of each `some .. in` is wrapped in a call to
//!    [`ITERABLE`], an extension that returns its argument when it is a
//!    collection and undefined otherwise — exactly OPA's rule.
//! 2. Bounded `numbers.range` / `numbers.range_step`. regorus reserves the
//!    whole result up front, so `numbers.range(1, 1e12)` aborts the process on
//!    a failed allocation before the time limit can act. The first argument
//!    is wrapped in [`RANGE_GUARD`], which passes it through when the range
//!    has at most [`MAX_RANGE_ELEMENTS`] elements and fails the evaluation
//!    (an error verdict naming the file and line) otherwise.
//!
//! 3. Several bodies for one partial set rule. OPA reads
//!    `deny[msg] { A } { B }` as two definitions of `deny`; regorus 0.14
//!    refuses it ("else cannot be used with set rules"). Each further body
//!    gets a copy of the head: `deny[msg] { A } deny[msg] { B }`.
//!
//! 4. Arguments of a negated expression evaluated outside the negation, as
//!    OPA does. OPA's compiler moves the dynamic operands of every body
//!    expression into temporaries bound just before it (its
//!    `RewriteExprTerms` and `RewriteDynamicTerms` stages), negated or not, so
//!    `not f(x, input.missing)` fails the body when `input.missing` is
//!    undefined; regorus evaluates the operands inside the negation, where an
//!    undefined one makes the call undefined and `not` true. Measured with OPA
//!    1.20, what is moved out of `not E with W`:
//!    - `E` a call (`f(..)`, `startswith(..)`) or an operator other than `==`
//!      and `=` (`!=`, `<`, `>`, `<=`, `>=`, `in`, `+`, `-`, `*`, `/`, `%`,
//!      `&`, `|`): each operand that is a ref (`input.x`, `x.y`, a rule name,
//!      a bare variable), a nested call or an operator term; arrays, sets
//!      and objects are searched for those.
//!    - `E` a `==` or `=` comparison: a side that is a call or an operator
//!      term; a side that is a plain ref is not moved, only the refs and
//!      calls inside its brackets (`input.a[input.k] == 1`); composites are
//!      searched as above.
//!    - `E` a single ref (`not input.a[input.k]`): the refs and calls inside
//!      its brackets.
//!    - Comprehensions are never moved (they are always defined); the
//!      negations in their bodies are handled where they stand, as are those
//!      in `every` bodies.
//!
//!    The moved terms get the same `with` modifiers as the negation. The pass
//!    only inserts, before the `not`, a statement per term that fails when
//!    the term is undefined: `not f(x, input.m) with W` becomes
//!    `type_name(x) with W; type_name(input.m) with W; not f(x, input.m) with W`.
//!    `type_name` because it is defined for every value (a bare term would
//!    fail on `false`) and is cheap to parse (an array literal makes regorus'
//!    parser try a comprehension first); not `_ = t`, because regorus
//!    refuses `_ = x` when `x` is bound later by unification
//!    (`not f(x); x = input.y`), which OPA accepts. A builtin
//!    error in a guarded term is raised by the guard instead of inside the
//!    negation: an error either way in strict mode, and undefined (the body
//!    fails) in OPA's default mode, as in OPA. `r if not E` (no braces)
//!    becomes `r if { type_name(..); not E }`. Left alone: negations holding a `_`
//!    outside comprehensions (OPA refuses them as unsafe), and any expression
//!    the pass does not fully read (a statement continued on the next line
//!    outside brackets, a call followed by a ref). A variable bound nowhere
//!    else (`not input.xs[i] > 1`, also unsafe for OPA) cannot be told from
//!    a bound one token-wise: the guard binds it before the `not`. A bare
//!    variable the rule has surely bound by the `not` (a parameter of the
//!    function, or `x := ..` or `some .., x in ..` earlier in a block still
//!    open) can never be undefined and gets no guard: the commonest negations
//!    (`not is_exempt(container)`) cost no extra statement. Each guarded term is
//!    evaluated twice; rule values are cached, so this costs little. A module
//!    that no longer compiles with the guards is compiled without them.
//!
//! Every pass only inserts text on the same line, so line numbers in errors
//! are unchanged and [`Rewrite::original_column`] maps columns back; an error
//! in a guard's copy of a term points at the term the author wrote when it is
//! on the `not`'s line, at the `not` otherwise.

use anyhow::{bail, Result};

/// The extension wrapped around `some .. in` collections.
pub(crate) const ITERABLE: &str = "__verdict_iterable";

/// The extension wrapped around the first argument of `numbers.range[_step]`.
pub(crate) const RANGE_GUARD: &str = "__verdict_range_guard";

/// Largest range a rule may build: 24 MB of values, far beyond any policy's need.
pub const MAX_RANGE_ELEMENTS: f64 = 1_000_000.0;

/// Register [`ITERABLE`] and [`RANGE_GUARD`] on an engine.
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
    )?;
    engine.add_extension(
        RANGE_GUARD.to_string(),
        3,
        Box::new(|args: Vec<regorus::Value>| {
            let [start, end, step] = <[regorus::Value; 3]>::try_from(args)
                .map_err(|_| anyhow::anyhow!("{RANGE_GUARD}: expected 3 arguments"))?;
            // Non-numbers are left to numbers.range's own type error.
            if let (Ok(a), Ok(b), Ok(s)) = (start.as_f64(), end.as_f64(), step.as_f64()) {
                let elements = ((b - a).abs() / s.abs().max(1.0)).floor() + 1.0;
                if elements > MAX_RANGE_ELEMENTS {
                    bail!(
                        "numbers.range from {a} to {b} would build {elements} elements, over verdict's limit of {MAX_RANGE_ELEMENTS}"
                    );
                }
            }
            Ok(start)
        }),
    )
}

/// One pass's insertions, in source order.
type Layer = Vec<Insertion>;

/// One inserted text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Insertion {
    /// 1-based line.
    line: usize,
    /// 1-based column in that pass's input.
    column: usize,
    /// Length in characters.
    len: usize,
    /// Parts that copy text of the same line: (character offset in the
    /// insertion, length in characters, 1-based column of the original), so
    /// that an error in a copy points at what the author wrote.
    copies: Vec<(usize, usize, usize)>,
}

/// A module's source after the pre-pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rewrite {
    pub source: String,
    /// One list of insertions per pass, applied in order.
    layers: Vec<Layer>,
}

impl Rewrite {
    /// Map a 1-based column of the rewritten source back to the original.
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        self.layers
            .iter()
            .rev()
            .fold(column, |column, layer| unshift(layer, line, column))
    }
}

fn unshift(insertions: &[Insertion], line: usize, column: usize) -> usize {
    let mut shift = 0;
    for insertion in insertions {
        if insertion.line != line {
            continue;
        }
        let start = insertion.column + shift;
        if column >= start + insertion.len {
            shift += insertion.len;
        } else if column >= start {
            let offset = column - start;
            return insertion
                .copies
                .iter()
                .find(|(at, len, _)| (*at..at + len).contains(&offset))
                .map_or(insertion.column, |(at, _, original)| original + offset - at);
        }
    }
    column - shift.min(column.saturating_sub(1))
}

/// What the compiler asks of a module as its author wrote it, read from the
/// tokens the pre-pass makes anyway (each question used to tokenize again).
#[derive(Debug, Clone)]
pub(super) struct Scanned {
    /// [`uses_v1_keywords`]; the pre-pass never inserts `if` or `contains`,
    /// so the rewritten module answers the same.
    pub uses_v1_keywords: bool,
    /// [`call_names`].
    pub call_names: Option<Vec<String>>,
}

/// Apply every pass to `source`, and what [`Scanned`] reads of it.
pub(super) fn rewrite_scanned(source: &str) -> (Rewrite, Scanned) {
    let tokens = tokenize(source);
    let scanned = Scanned {
        uses_v1_keywords: uses_v1_keywords_in(source, &tokens),
        call_names: call_names_in(source, &tokens),
    };
    (rewrite_tokens(source, tokens), scanned)
}

/// Apply every pass to `source`.
#[cfg(test)]
pub(super) fn rewrite(source: &str) -> Rewrite {
    rewrite_tokens(source, tokenize(source))
}

fn rewrite_tokens(source: &str, tokens: Vec<Token>) -> Rewrite {
    let (without, tokens) = rewrite_without_guards_scanned(source, tokens);
    let (source, guards) = apply_copies(
        &without.source,
        negation_guard_insertions(&without.source, &tokens),
    );
    let mut layers = without.layers;
    layers.push(guards);
    Rewrite { source, layers }
}

/// Every pass but the negation guards (pass 4): the fallback for a module
/// that does not compile with them.
pub(super) fn rewrite_without_guards(source: &str) -> Rewrite {
    rewrite_without_guards_scanned(source, tokenize(source)).0
}

/// [`rewrite_without_guards`] and the tokens of its result. The source is
/// tokenized once and again only after a pass that inserted text, since
/// most modules need no insertion before the guards.
fn rewrite_without_guards_scanned(source: &str, tokens: Vec<Token>) -> (Rewrite, Vec<Token>) {
    let (split, mut layers) = split_set_body_layers(source, &tokens);
    let mut tokens = if layers.is_empty() { tokens } else { tokenize(&split) };
    let inserts = some_in_insertions(&split, &tokens);
    let changed = !inserts.is_empty();
    let (first, some_in) = apply(&split, inserts);
    if changed {
        tokens = tokenize(&first);
    }
    let inserts = range_insertions(&first, &tokens);
    let changed = !inserts.is_empty();
    let (second, ranges) = apply(&first, inserts);
    if changed {
        tokens = tokenize(&second);
    }
    layers.extend([some_in, ranges]);
    let rewrite = Rewrite {
        source: second,
        layers,
    };
    (rewrite, tokens)
}

/// regorus's complaint about a second body of a partial set rule.
const SECOND_SET_BODY: &str = "else cannot be used with set rules";

/// Most further bodies one module may have rewritten (each costs a parse).
const MAX_SPLIT_BODIES: usize = 256;

/// `source` with each further body of a partial set rule given its own copy of
/// the head, as verdict compiles it (and as OPA defines such bodies): for
/// handing the module to a parser that, like regorus's, refuses them.
///
/// ```
/// let source = "package p\ndeny[m] { input.a; m := 1 } { input.b; m := 2 }\n";
/// assert_eq!(
///     verdict::engine::rego::split_set_bodies(source),
///     "package p\ndeny[m] { input.a; m := 1 } deny[m] { input.b; m := 2 }\n"
/// );
/// ```
pub fn split_set_bodies(source: &str) -> String {
    split_set_body_layers(source, &tokenize(source)).0
}

/// Give each further body of a partial set rule its own copy of the head.
/// regorus's parser finds them (it stops at each one with [`SECOND_SET_BODY`]),
/// in whichever dialect it reads the module; one layer per insertion.
fn split_set_body_layers(source: &str, tokens: &[Token]) -> (String, Vec<Layer>) {
    let mut text = source.to_string();
    let mut layers = Vec::new();
    if !has_body_after_body(source, tokens) {
        return (text, layers); // the common case: no parse needed
    }
    for _ in 0..MAX_SPLIT_BODIES {
        let Some(offset) = second_set_body(&text) else {
            break;
        };
        let Some(head) = head_before_bodies(&text, offset) else {
            break;
        };
        let (next, layer) = apply(&text, vec![(offset, format!("{head} "))]);
        text = next;
        layers.push(layer);
    }
    (text, layers)
}

/// Whether a `}` is followed by a `{` (only space and comments between): a
/// cheap filter before asking the parser. A `}` that closes a value written
/// after `=` or `:=` (`f(x) = {"a": x} {`) is a rule's value, never a body, so
/// the `{` after it is a first body and needs no parse.
fn has_body_after_body(source: &str, tokens: &[Token]) -> bool {
    let mut after_close = None;
    for (index, token) in tokens.iter().enumerate() {
        if matches!(token.kind, Kind::Space | Kind::Newline | Kind::Comment) {
            continue;
        }
        let text = &source[token.start..token.end];
        if let (Some(close), "{") = (after_close, text) {
            let value = matching_open(source, tokens, close)
                .and_then(|open| previous_significant_line(tokens, open))
                .is_some_and(|before| &source[before.start..before.end] == "=");
            if !value {
                return true;
            }
        }
        after_close = (text == "}").then_some(index);
    }
    false
}

/// The token before `index`, skipping space, comments and line breaks.
fn previous_significant_line(tokens: &[Token], index: usize) -> Option<&Token> {
    tokens[..index]
        .iter()
        .rev()
        .find(|t| !matches!(t.kind, Kind::Space | Kind::Comment | Kind::Newline))
}

/// Byte offset of the `{` of the first further body of a partial set rule.
fn second_set_body(source: &str) -> Option<usize> {
    let parsed =
        regorus::Source::from_contents("module.rego".to_string(), source.to_string()).ok()?;
    let message = [true, false].into_iter().find_map(|v1| {
        let mut parser = regorus::unstable::Parser::new(&parsed).ok()?;
        if v1 {
            parser.enable_rego_v1().ok()?;
        }
        let err = parser.parse().err()?.to_string();
        err.contains(SECOND_SET_BODY).then_some(err)
    })?;
    let location = message
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))?;
    let mut parts = location.trim().rsplitn(3, ':');
    let column: usize = parts.next()?.parse().ok()?;
    let line: usize = parts.next()?.parse().ok()?;
    let line_start = source
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum::<usize>();
    let offset = line_start
        + source[line_start..]
            .chars()
            .take(column - 1)
            .map(char::len_utf8)
            .sum::<usize>();
    (source[offset..].starts_with('{')).then_some(offset)
}

/// The head of the rule whose bodies end just before `offset`, on one line:
/// from the start of the rule to the `{` of its first body.
fn head_before_bodies(source: &str, offset: usize) -> Option<String> {
    let tokens = tokenize(source);
    let mut index = tokens.iter().position(|t| t.start == offset)?;
    // Walk back over `{ ... }` bodies to the first one.
    loop {
        let close = tokens[..index]
            .iter()
            .rposition(|t| !matches!(t.kind, Kind::Space | Kind::Comment | Kind::Newline))?;
        if &source[tokens[close].start..tokens[close].end] != "}" {
            break;
        }
        index = matching_open(source, &tokens, close)?;
    }
    // The head starts after the last line break outside brackets.
    let mut depth = 0usize;
    let mut start = 0;
    for i in (0..index).rev() {
        match tokens[i].kind {
            // A `}` outside brackets ends the rule before (or a body already split).
            Kind::Close if depth == 0 && &source[tokens[i].start..tokens[i].end] == "}" => {
                start = i + 1;
                break;
            }
            Kind::Close => depth += 1,
            Kind::Open if depth == 0 => return None,
            Kind::Open => depth -= 1,
            Kind::Newline if depth == 0 => {
                start = i + 1;
                break;
            }
            _ => {}
        }
    }
    let first = tokens[start..index]
        .iter()
        .find(|t| t.kind != Kind::Space)?;
    let head = one_line(source, &tokens, (first.start, tokens[index].start));
    let head = head.trim();
    (!head.is_empty()).then(|| head.to_string())
}

/// Index of the bracket that `close` closes.
fn matching_open(source: &str, tokens: &[Token], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    for i in (0..close).rev() {
        match tokens[i].kind {
            Kind::Close => depth += 1,
            Kind::Open if depth == 0 => {
                return (&source[tokens[i].start..tokens[i].end] == "{").then_some(i)
            }
            Kind::Open => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Whether `source` uses `if` or `contains` as keywords without importing
/// them from `future.keywords`: then it is written in Rego v1, and a v0
/// parser (regorus's is lenient about these) must not be given a chance to
/// read it differently.
#[cfg(test)]
fn uses_v1_keywords(source: &str) -> bool {
    uses_v1_keywords_in(source, &tokenize(source))
}

fn uses_v1_keywords_in(source: &str, tokens: &[Token]) -> bool {
    let imports_future = source
        .lines()
        .any(|line| line.trim_start().starts_with("import future.keywords"));
    let called = |i: usize| {
        tokens[i + 1..]
            .iter()
            .find(|t| t.kind != Kind::Space)
            .is_some_and(|t| &source[t.start..t.end] == "(")
    };
    !imports_future
        && tokens.iter().enumerate().any(|(i, token)| {
            // `contains(s, "x")` is the string builtin, not the keyword.
            (is_word(source, token, "if") || (is_word(source, token, "contains") && !called(i)))
                && !after_dot(source, tokens, i)
        })
}

/// Wrap the collection of each `some .. in` in [`ITERABLE`].
fn some_in_insertions(source: &str, tokens: &[Token]) -> Vec<(usize, String)> {
    if !source.contains("some") {
        return Vec::new(); // no `some` token possible: skip the scan
    }
    let mut inserts = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !is_word(source, token, "some") || after_dot(source, tokens, i) {
            continue;
        }
        let Some(in_index) = find_in_keyword(source, tokens, i + 1) else {
            continue;
        };
        if let Some((start, end)) = collection_span(source, tokens, in_index + 1) {
            inserts.push((start, format!("{ITERABLE}(")));
            inserts.push((end, ")".to_string()));
        }
    }
    inserts
}

/// `numbers.range(a, b)` → `numbers.range(GUARD(a, b, 1), b)`;
/// `numbers.range_step(a, b, s)` → `numbers.range_step(GUARD(a, b, s), b, s)`.
fn range_insertions(source: &str, tokens: &[Token]) -> Vec<(usize, String)> {
    if !source.contains("numbers") {
        return Vec::new(); // no `numbers` token possible: skip the scan
    }
    let mut inserts = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !is_word(source, token, "numbers") || after_dot(source, tokens, i) {
            continue;
        }
        let rest: Vec<(usize, &Token)> = tokens
            .iter()
            .enumerate()
            .skip(i + 1)
            .filter(|(_, t)| t.kind != Kind::Space)
            .take(3)
            .collect();
        let [(_, dot), (_, name), (open_index, open)] = rest.as_slice() else {
            continue;
        };
        let step = if is_word(source, name, "range") {
            false
        } else if is_word(source, name, "range_step") {
            true
        } else {
            continue;
        };
        if &source[dot.start..dot.end] != "." || &source[open.start..open.end] != "(" {
            continue;
        }
        let args = call_arguments(source, tokens, open_index + 1);
        match (step, args.as_slice()) {
            (false, [a, b]) => {
                inserts.push((a.0, format!("{RANGE_GUARD}(")));
                inserts.push((a.1, format!(", {}, 1)", one_line(source, tokens, *b))));
            }
            (true, [a, b, s]) => {
                inserts.push((a.0, format!("{RANGE_GUARD}(")));
                inserts.push((
                    a.1,
                    format!(
                        ", {}, {})",
                        one_line(source, tokens, *b),
                        one_line(source, tokens, *s)
                    ),
                ));
            }
            _ => {}
        }
    }
    inserts
}

/// Before each body-level `not`, a statement that fails when a term OPA
/// evaluates outside the negation is undefined (pass 4 of the module doc).
fn negation_guard_insertions(source: &str, tokens: &[Token]) -> Vec<CopyingInsert> {
    let mut inserts = Vec::new();
    let mut depths = None;
    for (i, token) in tokens.iter().enumerate() {
        if !is_word(source, token, "not") || after_dot(source, tokens, i) {
            continue;
        }
        // `not` starts a statement: after a line break, `;`, `{`, a
        // comprehension's `|`, or `if` (a body without braces).
        let Some(before) = tokens[..i]
            .iter()
            .rev()
            .find(|t| !matches!(t.kind, Kind::Space | Kind::Comment | Kind::Newline))
        else {
            continue;
        };
        let braces = if is_word(source, before, "if") {
            false
        } else {
            let Some(prev) = previous_significant(tokens, i) else {
                continue;
            };
            match (prev.kind, &source[prev.start..prev.end]) {
                (Kind::Newline | Kind::Semicolon, _) | (Kind::Open, "{") | (Kind::Other, "|") => {
                    true
                }
                _ => continue,
            }
        };
        let Some(statement) = negated_statement(source, tokens, i + 1) else {
            continue;
        };
        let Some(expr) = lex(source, &tokens[statement.expr.0..statement.expr.1])
            .and_then(|lexemes| ExprParser::new(source, &lexemes).parse_all())
        else {
            continue;
        };
        if expr.has_wildcard() {
            continue;
        }
        let mut guarded = Vec::new();
        negated_guards(&expr, &mut guarded);
        let depths = depths.get_or_insert_with(|| bracket_depths(tokens));
        guarded.retain(|(span, _)| !bound_variable(source, tokens, depths, i, *span));
        if guarded.is_empty() {
            continue;
        }
        // `type_name(t1) with W; type_name(t2) with W; `, each copied term
        // remembered for error columns. A call rather than one array of the
        // terms: regorus' parser first tries every `[` as a comprehension and
        // pays for the failed attempt (a parser clone and an error).
        let mut guard = String::from(if braces { "" } else { "{ " });
        let mut copies = Vec::new();
        for (span, _operator) in &guarded {
            guard.push_str("type_name(");
            copies.push((guard.len(), *span));
            guard.push_str(&one_line(source, tokens, *span));
            guard.push(')');
            if let Some(span) = statement.with {
                guard.push(' ');
                copies.push((guard.len(), span));
                guard.push_str(&one_line(source, tokens, span));
            }
            guard.push_str("; ");
        }
        inserts.push((token.start, guard, copies));
        if !braces {
            inserts.push((statement.end, " }".to_string(), Vec::new()));
        }
    }
    inserts
}

/// The bracket depth before each token.
fn bracket_depths(tokens: &[Token]) -> Vec<usize> {
    let mut depth = 0usize;
    tokens
        .iter()
        .map(|t| {
            let before = depth;
            match t.kind {
                Kind::Open => depth += 1,
                Kind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
            before
        })
        .collect()
}

/// Whether the term at `span`, used by the `not` at token `not`, is a bare
/// variable the rule has surely bound by then, so that its guard could never
/// fail and is left out: a parameter of the function the `not` is in
/// (`f(x) { not g(x) }`), or a variable bound earlier in a block still open at
/// the `not`, by `x := ..` or `some .., x in ..`. A binding OPA's reordering
/// may place first (written after the `not`), one by `=`, by iteration
/// (`xs[x]`) or by a plain `some x`, or a block already closed (a
/// comprehension's), keeps the guard: leaving one out must never change what
/// the module means.
fn bound_variable(source: &str, tokens: &[Token], depths: &[usize], not: usize, span: (usize, usize)) -> bool {
    let name = &source[span.0..span.1];
    let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier || name == "input" || name == "data" || name == "_" {
        return false;
    }
    // The rule: from the last identifier at depth 0 that starts a line, indented or not.
    let Some(start) = (0..not).rev().find(|&k| {
        depths[k] == 0
            && tokens[k].kind == Kind::Ident
            && previous_significant(tokens, k).is_none_or(|before| before.kind == Kind::Newline)
    }) else {
        return false;
    };
    // Function parameters: every name inside `f( .. )`, when nothing at depth 0
    // between the head and the `not` could start another rule on the same line.
    if let Some(open) = next_significant(tokens, start).filter(|&open| &source[tokens[open].start..tokens[open].end] == "(") {
        let after = (open + 1..not).find(|&t| depths[t] == 0).unwrap_or(not);
        let mut params = tokens[open + 1..after].iter();
        let same_rule = (after..not).all(|t| {
            depths[t] > 0
                || tokens[t].kind != Kind::Ident
                || matches!(&source[tokens[t].start..tokens[t].end], "if" | "else" | "true" | "false" | "null")
        });
        if same_rule && params.any(|t| t.kind == Kind::Ident && &source[t.start..t.end] == name) {
            return true;
        }
    }
    (start + 1..not).any(|j| {
        let token = &tokens[j];
        if token.kind != Kind::Ident || &source[token.start..token.end] != name || depths[j] == 0 {
            return false;
        }
        // Still in scope at the `not`: no block around the binding closed since.
        if depths[j..=not].iter().any(|d| *d < depths[j]) {
            return false;
        }
        if after_dot(source, tokens, j) {
            return false;
        }
        let assigned = next_significant(tokens, j).is_some_and(|next| source[tokens[next].start..].starts_with(":="));
        assigned || declared_by_some_in(source, tokens, j)
    })
}

/// Whether the name at token `j` is one of the variables of `some .. in`.
fn declared_by_some_in(source: &str, tokens: &[Token], j: usize) -> bool {
    let in_list = |t: &Token| {
        t.kind == Kind::Space || (t.kind == Kind::Ident && !is_word(source, t, "in")) || &source[t.start..t.end] == ","
    };
    let before = tokens[..j].iter().rev().find(|t| !in_list(t) || is_word(source, t, "some"));
    let after = tokens[j + 1..].iter().find(|t| !in_list(t));
    before.is_some_and(|t| is_word(source, t, "some")) && after.is_some_and(|t| is_word(source, t, "in"))
}

/// Where a negated statement's parts lie.
struct NegatedStatement {
    /// Token range of the negated expression.
    expr: (usize, usize),
    /// Byte range of its `with` modifiers.
    with: Option<(usize, usize)>,
    /// Byte offset just after its last token.
    end: usize,
}

/// The statement after a `not` (from token `from`): up to a line break, `;`,
/// comment or closing bracket at bracket depth 0.
fn negated_statement(source: &str, tokens: &[Token], from: usize) -> Option<NegatedStatement> {
    let mut depth = 0usize;
    let mut expr_end = None;
    let mut with_start = None;
    let mut last = None;
    let mut stop = tokens.len();
    for (index, token) in tokens.iter().enumerate().skip(from) {
        match token.kind {
            Kind::Space => continue,
            Kind::Newline | Kind::Semicolon | Kind::Comment if depth == 0 => {
                stop = index;
                break;
            }
            Kind::Close if depth == 0 => {
                stop = index;
                break;
            }
            Kind::Open => depth += 1,
            Kind::Close => depth -= 1,
            Kind::Ident if depth == 0 && &source[token.start..token.end] == "with" => {
                expr_end.get_or_insert(index);
                with_start.get_or_insert(token.start);
            }
            _ => {}
        }
        last = Some(token.end);
    }
    let end = last?;
    Some(NegatedStatement {
        expr: (from, expr_end.unwrap_or(stop)),
        with: with_start.map(|start| (start, end)),
        end,
    })
}

/// A term of a negated expression, as far as pass 4 needs to know it.
#[derive(Debug)]
struct Term {
    node: Node,
    /// Byte range in the source.
    span: (usize, usize),
}

#[derive(Debug)]
enum Node {
    /// A string, number, `true`, `false` or `null`.
    Scalar,
    /// `_`.
    Wildcard,
    /// A variable, rule name or ref (`input.a[k].b`), with its bracketed
    /// elements.
    Ref(Vec<Term>),
    /// A function call, with its arguments.
    Call(Vec<Term>),
    /// An infix operator (a call too, but for `=`).
    Binary(&'static str, Box<Term>, Box<Term>),
    /// An array, set or object, with its items (keys and values).
    Collection(Vec<Term>),
    /// An array, set or object comprehension.
    Comprehension,
}

impl Term {
    /// Whether a `_` occurs outside comprehensions.
    fn has_wildcard(&self) -> bool {
        match &self.node {
            Node::Wildcard => true,
            Node::Ref(items) | Node::Call(items) | Node::Collection(items) => {
                items.iter().any(Term::has_wildcard)
            }
            Node::Binary(_, lhs, rhs) => lhs.has_wildcard() || rhs.has_wildcard(),
            Node::Scalar | Node::Comprehension => false,
        }
    }
}

/// The terms OPA evaluates before the negation of `expr`: their byte ranges,
/// and whether each is an operator term.
fn negated_guards(expr: &Term, out: &mut Vec<((usize, usize), bool)>) {
    match &expr.node {
        Node::Binary("==" | "=", lhs, rhs) => {
            for side in [lhs, rhs] {
                match &side.node {
                    Node::Ref(elements) => elements.iter().for_each(|e| hoisted(e, out)),
                    _ => hoisted(side, out),
                }
            }
        }
        Node::Binary(_, lhs, rhs) => {
            hoisted(lhs, out);
            hoisted(rhs, out);
        }
        Node::Call(items) | Node::Ref(items) | Node::Collection(items) => {
            items.iter().for_each(|item| hoisted(item, out))
        }
        Node::Scalar | Node::Wildcard | Node::Comprehension => {}
    }
}

/// An operand OPA binds to a temporary: refs, calls and operator terms,
/// searched for inside arrays, sets and objects.
fn hoisted(term: &Term, out: &mut Vec<((usize, usize), bool)>) {
    match &term.node {
        Node::Ref(_) | Node::Call(_) => out.push((term.span, false)),
        Node::Binary(..) => out.push((term.span, true)),
        Node::Collection(items) => items.iter().for_each(|item| hoisted(item, out)),
        Node::Scalar | Node::Wildcard | Node::Comprehension => {}
    }
}

/// A token of an expression: [`Token`]s with numbers and two-character
/// operators joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    Word,
    Scalar,
    Op(&'static str),
    Open(u8),
    Close(u8),
    Comma,
    Colon,
    Dot,
}

#[derive(Debug, Clone, Copy)]
struct Lexeme {
    kind: Lex,
    start: usize,
    end: usize,
}

/// The expression's lexemes, or `None` for anything pass 4 does not read
/// (`:=`, `;`, unknown characters).
fn lex(source: &str, tokens: &[Token]) -> Option<Vec<Lexeme>> {
    const OPERATORS: [&str; 16] = [
        "==", "!=", "<=", ">=", "<", ">", "=", "+", "-", "*", "/", "%", "&", "|", ":", ",",
    ];
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = tokens[index];
        index += 1;
        let (kind, end) = match token.kind {
            Kind::Space | Kind::Newline | Kind::Comment => continue,
            Kind::Semicolon => return None,
            Kind::Str => (Lex::Scalar, token.end),
            Kind::Ident => (Lex::Word, token.end),
            Kind::Open => (Lex::Open(bytes[token.start]), token.end),
            Kind::Close => (Lex::Close(bytes[token.start]), token.end),
            Kind::Other if bytes[token.start].is_ascii_digit() => {
                let end = number_end(bytes, token.start);
                // Skip the tokens the number covers (`1.5e3` is four of them).
                while index < tokens.len() && tokens[index].start < end {
                    if tokens[index].end > end {
                        return None;
                    }
                    index += 1;
                }
                (Lex::Scalar, end)
            }
            Kind::Other if bytes[token.start] == b'.' => (Lex::Dot, token.end),
            Kind::Other => {
                let pair = tokens
                    .get(index)
                    .filter(|next| next.start == token.end && &source[next.start..next.end] == "=")
                    .map(|next| &source[token.start..next.end]);
                let found = pair
                    .and_then(|pair| OPERATORS.iter().find(|op| **op == pair))
                    .map(|op| (*op, index + 1))
                    .or_else(|| {
                        OPERATORS
                            .iter()
                            .find(|op| **op == &source[token.start..token.end])
                            .map(|op| (*op, index))
                    });
                if pair == Some(":=") {
                    return None;
                }
                let (op, next) = found?;
                index = next;
                let end = tokens[next - 1].end;
                match op {
                    ":" => (Lex::Colon, end),
                    "," => (Lex::Comma, end),
                    _ => (Lex::Op(op), end),
                }
            }
        };
        out.push(Lexeme {
            kind,
            start: token.start,
            end,
        });
    }
    Some(out)
}

/// End of the number starting at `start`: `12`, `1.5`, `1e-3`.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let digits = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut end = digits(start);
    if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = digits(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        if bytes.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
            end = digits(end + 1 + sign);
        }
    }
    end
}

/// Binding strength of an infix operator (OPA's grammar); `in` is a word.
fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "=" => 0,
        "in" => 1,
        "==" | "!=" | "<" | ">" | "<=" | ">=" => 2,
        "|" => 3,
        "&" => 4,
        "+" | "-" => 5,
        "*" | "/" | "%" => 6,
        _ => return None,
    })
}

/// Words that cannot start a term of a negated expression.
const KEYWORDS: [&str; 12] = [
    "not", "some", "every", "with", "as", "if", "else", "in", "contains", "default", "import",
    "package",
];

/// A recursive-descent reader of one negated expression; `None` for anything
/// it does not understand.
struct ExprParser<'a> {
    source: &'a str,
    lexemes: &'a [Lexeme],
    pos: usize,
}

impl<'a> ExprParser<'a> {
    fn new(source: &'a str, lexemes: &'a [Lexeme]) -> Self {
        ExprParser {
            source,
            lexemes,
            pos: 0,
        }
    }

    fn parse_all(mut self) -> Option<Term> {
        let term = self.expr(0)?;
        (self.pos == self.lexemes.len()).then_some(term)
    }

    fn peek(&self) -> Option<Lexeme> {
        self.lexemes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Lexeme> {
        let lexeme = self.peek()?;
        self.pos += 1;
        Some(lexeme)
    }

    fn text(&self, lexeme: Lexeme) -> &'a str {
        &self.source[lexeme.start..lexeme.end]
    }

    fn expect(&mut self, kind: Lex) -> Option<Lexeme> {
        self.next().filter(|lexeme| lexeme.kind == kind)
    }

    /// The infix operator at the cursor, with its precedence.
    fn infix(&self) -> Option<(&'static str, u8)> {
        let lexeme = self.peek()?;
        let op = match lexeme.kind {
            Lex::Op(op) => op,
            Lex::Word if self.text(lexeme) == "in" => "in",
            _ => return None,
        };
        Some((op, precedence(op)?))
    }

    /// Operators binding at least as strongly as `min`, left-associative.
    fn expr(&mut self, min: u8) -> Option<Term> {
        let mut lhs = self.term()?;
        while let Some((op, level)) = self.infix() {
            if level < min {
                break;
            }
            self.pos += 1;
            let rhs = self.expr(level + 1)?;
            lhs = Term {
                span: (lhs.span.0, rhs.span.1),
                node: Node::Binary(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        Some(lhs)
    }

    fn term(&mut self) -> Option<Term> {
        let first = self.next()?;
        let scalar = |end| Term {
            node: Node::Scalar,
            span: (first.start, end),
        };
        match first.kind {
            Lex::Scalar => Some(scalar(first.end)),
            Lex::Op("-") => {
                let number = self.expect(Lex::Scalar)?;
                bytes_is_digit(self.source, number.start).then(|| scalar(number.end))
            }
            Lex::Word => match self.text(first) {
                "true" | "false" | "null" => Some(scalar(first.end)),
                "_" => self.not_followed().then_some(Term {
                    node: Node::Wildcard,
                    span: (first.start, first.end),
                }),
                word if KEYWORDS.contains(&word) => None,
                _ => self.ref_or_call(first.start, first.end, Vec::new(), true),
            },
            Lex::Open(b'(') => {
                let inner = self.expr(0)?;
                let close = self.expect(Lex::Close(b')'))?;
                self.not_followed().then_some(Term {
                    node: inner.node,
                    span: (first.start, close.end),
                })
            }
            Lex::Open(open @ (b'[' | b'{')) => self.collection(first, open),
            _ => None,
        }
    }

    /// Whether no `.`, `[` or `(` follows (a ref or call on this term, which
    /// the pass does not read).
    fn not_followed(&self) -> bool {
        !matches!(
            self.peek().map(|l| l.kind),
            Some(Lex::Dot | Lex::Open(b'[' | b'('))
        )
    }

    /// A ref from its head (`start..end`; `elements` already found in it),
    /// or a call when `callable`.
    fn ref_or_call(
        &mut self,
        start: usize,
        mut end: usize,
        mut elements: Vec<Term>,
        callable: bool,
    ) -> Option<Term> {
        loop {
            match self.peek().map(|l| l.kind) {
                Some(Lex::Dot) => {
                    self.pos += 1;
                    end = self.expect(Lex::Word)?.end;
                }
                Some(Lex::Open(b'[')) => {
                    self.pos += 1;
                    elements.push(self.expr(0)?);
                    end = self.expect(Lex::Close(b']'))?.end;
                }
                Some(Lex::Open(b'(')) if callable => {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek().map(|l| l.kind) == Some(Lex::Close(b')')) {
                        end = self.next()?.end;
                    } else {
                        loop {
                            args.push(self.expr(0)?);
                            let after = self.next()?;
                            match after.kind {
                                Lex::Comma => {}
                                Lex::Close(b')') => {
                                    end = after.end;
                                    break;
                                }
                                _ => return None,
                            }
                        }
                    }
                    return self.not_followed().then_some(Term {
                        node: Node::Call(args),
                        span: (start, end),
                    });
                }
                Some(Lex::Open(b'(')) => return None,
                _ => {
                    return Some(Term {
                        node: Node::Ref(elements),
                        span: (start, end),
                    })
                }
            }
        }
    }

    /// `[..]`, `{..}` (set or object) or a comprehension: a `|` at depth 0.
    fn collection(&mut self, open: Lexeme, bracket: u8) -> Option<Term> {
        let close = if bracket == b'[' { b']' } else { b'}' };
        let mut depth = 0usize;
        let mut comprehension = false;
        let mut matching = None;
        for (offset, lexeme) in self.lexemes[self.pos..].iter().enumerate() {
            match lexeme.kind {
                Lex::Open(_) => depth += 1,
                Lex::Close(c) if depth == 0 => {
                    if c != close {
                        return None;
                    }
                    matching = Some(self.pos + offset);
                    break;
                }
                Lex::Close(_) => depth -= 1,
                Lex::Op("|") if depth == 0 => comprehension = true,
                _ => {}
            }
        }
        let matching = matching?;
        let end = self.lexemes[matching].end;
        if comprehension {
            self.pos = matching + 1;
            return self.not_followed().then_some(Term {
                node: Node::Comprehension,
                span: (open.start, end),
            });
        }
        let mut items = Vec::new();
        while self.pos < matching {
            items.push(self.expr(0)?);
            if bracket == b'{' && self.peek().map(|l| l.kind) == Some(Lex::Colon) {
                self.pos += 1;
                items.push(self.expr(0)?);
            }
            match self.peek().map(|l| l.kind) {
                Some(Lex::Comma) => self.pos += 1,
                _ if self.pos == matching => {}
                _ => return None,
            }
        }
        if self.pos != matching {
            return None;
        }
        self.pos = matching + 1;
        if !self.not_followed() {
            // A ref on a literal (`[a, b][k]`): OPA moves out what the
            // literal holds as well as what its brackets hold.
            return self.ref_or_call(open.start, end, items, false);
        }
        Some(Term {
            node: Node::Collection(items),
            span: (open.start, end),
        })
    }
}

fn bytes_is_digit(source: &str, at: usize) -> bool {
    source.as_bytes().get(at).is_some_and(u8::is_ascii_digit)
}

/// Byte ranges of a call's arguments (trimmed), from just after its `(`.
fn call_arguments(source: &str, tokens: &[Token], from: usize) -> Vec<(usize, usize)> {
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<(usize, usize)> = None;
    for token in &tokens[from..] {
        match token.kind {
            Kind::Close if depth == 0 => {
                args.extend(current);
                return args;
            }
            Kind::Other if depth == 0 && &source[token.start..token.end] == "," => {
                args.extend(current.take());
                continue;
            }
            Kind::Space | Kind::Newline | Kind::Comment => continue,
            Kind::Open => depth += 1,
            Kind::Close => depth -= 1,
            _ => {}
        }
        let span = current.get_or_insert((token.start, token.end));
        span.1 = token.end;
    }
    Vec::new()
}

/// The text of an argument without comments or line breaks, so that copying it
/// keeps every later line where it was.
fn one_line(source: &str, tokens: &[Token], (start, end): (usize, usize)) -> String {
    tokens
        .iter()
        .filter(|t| t.start >= start && t.end <= end)
        .map(|t| match t.kind {
            Kind::Comment => "",
            Kind::Newline => " ",
            _ => &source[t.start..t.end],
        })
        .collect()
}

fn is_word(source: &str, token: &Token, word: &str) -> bool {
    token.kind == Kind::Ident && &source[token.start..token.end] == word
}

fn after_dot(source: &str, tokens: &[Token], index: usize) -> bool {
    previous_significant(tokens, index).is_some_and(|t| &source[t.start..t.end] == ".")
}

fn apply(source: &str, inserts: Vec<(usize, String)>) -> (String, Layer) {
    let inserts = inserts
        .into_iter()
        .map(|(pos, text)| (pos, text, Vec::new()))
        .collect();
    apply_copies(source, inserts)
}

/// An insertion at a byte offset, with the parts of its text that copy the
/// source: (byte offset in the text, byte range copied).
type CopyingInsert = (usize, String, Vec<(usize, (usize, usize))>);

/// Insert texts at byte offsets; copies on the insertion's own line are
/// recorded for [`Rewrite::original_column`].
fn apply_copies(source: &str, mut inserts: Vec<CopyingInsert>) -> (String, Layer) {
    // Stable sort keeps an outer `)` and an inner `)` at the same offset in order.
    inserts.sort_by_key(|(pos, _, _)| *pos);
    let mut out = String::with_capacity(
        source.len() + inserts.iter().map(|(_, t, _)| t.len()).sum::<usize>(),
    );
    let mut insertions = Vec::with_capacity(inserts.len());
    let mut last = 0;
    for (pos, text, copied) in inserts {
        out.push_str(&source[last..pos]);
        out.push_str(&text);
        let line = source[..pos].matches('\n').count() + 1;
        let line_start = source[..pos].rfind('\n').map(|p| p + 1).unwrap_or(0);
        let column = source[line_start..pos].chars().count() + 1;
        let copies = copied
            .into_iter()
            .filter(|(_, (start, end))| {
                *start >= line_start && !source[line_start..*end].contains('\n')
            })
            .map(|(at, (start, end))| {
                (
                    text[..at].chars().count(),
                    source[start..end].chars().count(),
                    source[line_start..start].chars().count() + 1,
                )
            })
            .collect();
        insertions.push(Insertion {
            line,
            column,
            len: text.chars().count(),
            copies,
        });
        last = pos;
    }
    out.push_str(&source[last..]);
    (out, insertions)
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

/// The name of every call written in `source` (`sprintf`, `strings.replace_n`,
/// `f`), a rule head `f(x)` included, with the keywords that may precede a
/// parenthesis (`not (..)`) left out; `None` when a parenthesis follows
/// something the scan cannot name for sure (a `]`, `)`, `}` or string, or a
/// dotted name broken by brackets), so the caller must not rely on the list.
///
/// ```
/// let names = verdict::engine::rego::call_names("package p\nf(x) { not (count(x) > 1); y := a.b(x) }\n# g(1)\n").unwrap();
/// assert_eq!(names, ["f", "count", "a.b"]);
/// assert!(verdict::engine::rego::call_names("package p\nr { x := g[1](2) }").is_none());
/// ```
pub fn call_names(source: &str) -> Option<Vec<String>> {
    call_names_in(source, &tokenize(source))
}

fn call_names_in(source: &str, tokens: &[Token]) -> Option<Vec<String>> {
    const KEYWORDS: &[&str] = &[
        // Keywords in every dialect; `in`, `if`, `every` and `contains` are names in v0.
        "not", "some", "else", "with", "as", "default", "package", "import",
    ];
    let text = |t: &Token| &source[t.start..t.end];
    let significant = |index: usize| {
        tokens[..index]
            .iter()
            .rposition(|t| !matches!(t.kind, Kind::Space | Kind::Comment | Kind::Newline))
    };
    let mut names = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.kind != Kind::Open || text(token) != "(" {
            continue;
        }
        let Some(mut at) = significant(i) else { continue };
        match tokens[at].kind {
            Kind::Ident => {}
            Kind::Close | Kind::Str => return None,
            _ => continue, // an operator, comma or open bracket: a parenthesised term
        }
        let mut parts = vec![text(&tokens[at])];
        // Walk back over `.`-joined identifiers.
        while let Some(dot) = significant(at).filter(|&d| text(&tokens[d]) == ".") {
            match significant(dot) {
                Some(prev) if tokens[prev].kind == Kind::Ident => {
                    parts.push(text(&tokens[prev]));
                    at = prev;
                }
                _ => return None,
            }
        }
        if significant(at).is_some_and(|p| tokens[p].kind == Kind::Other && text(&tokens[p]).chars().all(|c| c.is_ascii_digit())) {
            return None; // a number glued to a name: not a name the scan reads
        }
        parts.reverse();
        let name = parts.join(".");
        if parts.len() == 1 && KEYWORDS.contains(&name.as_str()) {
            continue;
        }
        names.push(name);
    }
    Some(names)
}

/// Index of the first token after `index` that is not a space or a comment.
fn next_significant(tokens: &[Token], index: usize) -> Option<usize> {
    (index + 1..tokens.len()).find(|&i| !matches!(tokens[i].kind, Kind::Space | Kind::Comment))
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
    fn guards_numbers_range_and_range_step() {
        assert_eq!(
            rewrite("r := numbers.range(1, count(input.xs))")
                .source
                .replace(RANGE_GUARD, "G"),
            "r := numbers.range(G(1, count(input.xs), 1), count(input.xs))"
        );
        assert_eq!(
            rewrite("r := numbers.range_step(0, 100, 5)")
                .source
                .replace(RANGE_GUARD, "G"),
            "r := numbers.range_step(G(0, 100, 5), 100, 5)"
        );
        assert_eq!(
            rewrite("r := numbers.range(0,\n  10 # ten\n)")
                .source
                .replace(RANGE_GUARD, "G"),
            "r := numbers.range(G(0, 10, 1),\n  10 # ten\n)"
        );
        assert_eq!(
            rewrite("r := my.numbers.range(1, 2)").source,
            "r := my.numbers.range(1, 2)"
        );
    }

    #[test]
    fn both_passes_compose() {
        let r = rewrite("a if { some i in numbers.range(1, n); input.x }");
        let text = r.source.replace(RANGE_GUARD, "G").replace(ITERABLE, "W");
        assert_eq!(
            text,
            "a if { some i in W(numbers.range(G(1, n, 1), n)); input.x }"
        );
        let shifted = r.source.find("input.x").unwrap() + 1;
        assert_eq!(
            r.original_column(1, shifted),
            "a if { some i in numbers.range(1, n); ".len() + 1
        );
    }

    #[test]
    fn a_value_literal_before_a_body_is_not_a_second_body() {
        let filter = |source: &str| has_body_after_body(source, &tokenize(source));
        assert!(!filter("package p\nf(x) = {\"a\": x} {\n  x\n}\n"));
        assert!(!filter("package p\nr := {1} # one\n{ true }\n"));
        assert!(filter("package p\ndeny[m] { m := 1 }\n{ m := 2 }\n"));
        // A value literal does not hide a later rule's second body.
        let source = "package p\nf(x) = {1} { x }\ndeny[m] { m := 1 } { m := 2 }\n";
        assert!(filter(source));
        assert_eq!(
            split_set_bodies(source),
            "package p\nf(x) = {1} { x }\ndeny[m] { m := 1 } deny[m] { m := 2 }\n"
        );
    }

    #[test]
    fn v1_keywords_without_future_imports() {
        assert!(uses_v1_keywords(
            "package p\ndeny contains msg if { msg := \"x\" }"
        ));
        assert!(!uses_v1_keywords(
            "package p\nimport future.keywords.if\nallow if { true }"
        ));
        assert!(!uses_v1_keywords(
            "package p\ndeny[msg] { msg := \"if contains\" } # if"
        ));
        assert!(!uses_v1_keywords("package p\nx := input.if"));
        assert!(!uses_v1_keywords(
            "package p\ndeny[m] { contains(input.s, \"x\"); m := \"y\" }"
        ));
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
    fn guarded(source: &str) -> String {
        apply_copies(source, negation_guard_insertions(source, &tokenize(source))).0
    }

    #[test]
    fn guards_call_arguments_of_negations() {
        assert_eq!(
            guarded("r if { not f(1, input.missing) }"),
            "r if { type_name(input.missing); not f(1, input.missing) }"
        );
        assert_eq!(
            guarded("r if { not startswith(x.image, \"a\") }"),
            "r if { type_name(x.image); not startswith(x.image, \"a\") }"
        );
        // Nested calls are moved whole; composites are searched.
        assert_eq!(
            guarded("r if { not f(g(input.a), [1, {\"k\": input.b}], {input.c}) }"),
            "r if { type_name(g(input.a)); type_name(input.b); type_name(input.c); not f(g(input.a), [1, {\"k\": input.b}], {input.c}) }"
        );
        // A bare rule name is an operand too (a bound variable, see below, is not guarded).
        assert_eq!(
            guarded("deny[m] {\n  not f(params)\n  m := 1\n}"),
            "deny[m] {\n  type_name(params); not f(params)\n  m := 1\n}"
        );
    }

    #[test]
    fn guards_operator_operands_but_not_plain_refs_compared_with_equality() {
        for (source, want) in [
            (
                "r if { not input.a > 1 }",
                "r if { type_name(input.a); not input.a > 1 }",
            ),
            (
                "r if { not input.a != -1.5e3 }",
                "r if { type_name(input.a); not input.a != -1.5e3 }",
            ),
            (
                "r if { not x in input.xs }",
                "r if { type_name(x); type_name(input.xs); not x in input.xs }",
            ),
            (
                "r if { not input.a + 1 == 2 }",
                "r if { type_name(input.a + 1); not input.a + 1 == 2 }",
            ),
            // `[a | b]` would be a comprehension.
            (
                "r if { not input.s | {1} == {1} }",
                "r if { type_name(input.s | {1}); not input.s | {1} == {1} }",
            ),
            (
                "r if { not (input.a > 1) }",
                "r if { type_name(input.a); not (input.a > 1) }",
            ),
            (
                "r if { not count(input.a) == 0 }",
                "r if { type_name(count(input.a)); not count(input.a) == 0 }",
            ),
            (
                "r if { not [input.a] == [1] }",
                "r if { type_name(input.a); not [input.a] == [1] }",
            ),
            (
                "r if { not input.a[input.k] == 1 }",
                "r if { type_name(input.k); not input.a[input.k] == 1 }",
            ),
            (
                "r if { not input.a[lower(k)] }",
                "r if { type_name(lower(k)); not input.a[lower(k)] }",
            ),
            // A variable is always defined, a rule name maybe not: both guarded.
            (
                "r if { not input.a[k].b }",
                "r if { type_name(k); not input.a[k].b }",
            ),
            (
                "r if { not {\"a\": 1}[input.k] }",
                "r if { type_name(input.k); not {\"a\": 1}[input.k] }",
            ),
            (
                "r if { not 1 == [input.a, 2][0] }",
                "r if { type_name(input.a); not 1 == [input.a, 2][0] }",
            ),
        ] {
            assert_eq!(guarded(source), want, "{source}");
        }
        for untouched in [
            "r if { not input.a == 1 }",
            "r if { not input.a = input.b }",
            "r if { not (input.a) == 1 }",
            "r if { not input.a }",
            "r if { not input.a[\"k\"].b }",
            "r if { not startswith(\"a\", \"b\") }",
            "r if { not [x | x := input.a[_]] == [] }",
        ] {
            assert_eq!(guarded(untouched), untouched);
        }
    }

    #[test]
    fn no_guard_for_a_variable_surely_bound_before_the_negation() {
        for untouched in [
            // A function parameter, also in a later `else` body.
            "is_exempt(c) {\n  not f(c)\n}",
            "g(a, [b, c]) := 1 if { not f(b) } else := 2 if { not f(c) }",
            // `:=` earlier in a block still open at the `not`, comprehensions included.
            "deny[m] {\n  c := input.review.object.spec.containers[_]\n  not is_exempt(c)\n  m := 1\n}",
            "r if { c := input.a; xs := [1 | not f(c)] }",
            "r := [x | x := input.a[_]; not f(x)]",
            // `some .. in`.
            "r if { some c in input.cs; not f(c) }",
            "r if { some k, v in input.o; not f(k, v) }",
        ] {
            assert_eq!(guarded(untouched), untouched);
        }
        for (source, want) in [
            // A bare name nothing bound: a rule of the package, maybe undefined.
            ("deny[m] {\n  not f(params)\n  m := 1\n}", "deny[m] {\n  type_name(params); not f(params)\n  m := 1\n}"),
            // Bound after the `not` (OPA reorders), or by `=`, iteration or a plain `some`.
            ("r if { not f(c); c := input.a }", "r if { type_name(c); not f(c); c := input.a }"),
            ("r if { c = input.a; not f(c) }", "r if { c = input.a; type_name(c); not f(c) }"),
            ("r if { input.cs[c]; not f(c) }", "r if { input.cs[c]; type_name(c); not f(c) }"),
            ("r if { some c; input.cs[c]; not f(c) }", "r if { some c; input.cs[c]; type_name(c); not f(c) }"),
            // Bound in a block closed before the `not`: a comprehension's, another body's, another rule's.
            ("r if { xs := [c | c := input.a[_]]; not f(c) }", "r if { xs := [c | c := input.a[_]]; type_name(c); not f(c) }"),
            ("p if { c := 1 }\nr if { not f(c) }", "p if { c := 1 }\nr if { type_name(c); not f(c) }"),
            ("f(c) := 1\nr if { not g(c) }", "f(c) := 1\nr if { type_name(c); not g(c) }"),
            ("f(c) := 1\n  r if { not g(c) }", "f(c) := 1\n  r if { type_name(c); not g(c) }"),
            ("f(c) := 1 if { true } r if { not g(c) }", "f(c) := 1 if { true } r if { type_name(c); not g(c) }"),
            // `every` variables and fields named like a bound variable are not read as bindings.
            ("r if { every c in input.cs { not f(c) } }", "r if { every c in input.cs { type_name(c); not f(c) } }"),
            ("r if { x.c := 1; not f(c) }", "r if { x.c := 1; type_name(c); not f(c) }"),
            // Only the bound operand loses its guard.
            ("r if { c := 1; not f(c, input.a) }", "r if { c := 1; type_name(input.a); not f(c, input.a) }"),
        ] {
            assert_eq!(guarded(source), want, "{source}");
        }
    }

    #[test]
    fn guards_carry_with_modifiers_and_brace_bare_bodies() {
        assert_eq!(
            guarded("r if { not f(input.a) with input as {\"a\": 1} }"),
            "r if { type_name(input.a) with input as {\"a\": 1}; not f(input.a) with input as {\"a\": 1} }"
        );
        assert_eq!(
            guarded("r if not f(input.a)\ns := 1"),
            "r if { type_name(input.a); not f(input.a) }\ns := 1"
        );
    }

    #[test]
    fn guards_negations_in_comprehensions_every_and_multiline_calls() {
        assert_eq!(
            guarded("r := [1 | not f(input.a)]"),
            "r := [1 | type_name(input.a); not f(input.a)]"
        );
        assert_eq!(
            guarded("r if { every x in xs { x; not f(x.a) } }"),
            "r if { every x in xs { x; type_name(x.a); not f(x.a) } }"
        );
        assert_eq!(
            guarded("r if {\n  not f(\n    input.a, # why\n    2)\n}"),
            "r if {\n  type_name(input.a); not f(\n    input.a, # why\n    2)\n}"
        );
    }

    #[test]
    fn leaves_wildcards_strings_comments_and_unread_statements_alone() {
        for untouched in [
            "r if { not f(input.xs[_]) }",
            "r if { m := \"not f(input.a)\" }",
            "# not f(input.a)\n",
            "r if { not f(input.a) +\n 1 }",
            "r if { y := input.not; not y }",
            "r if { not f(input.a).b }",
        ] {
            assert_eq!(guarded(untouched), untouched);
        }
    }

    #[test]
    fn guard_columns_map_back() {
        let r = rewrite("r if { not f(input.a); input.b }");
        assert!(r.source.starts_with("r if { type_name(input.a); not f(input.a); "));
        let shifted = r.source.find("input.b").unwrap() + 1;
        assert_eq!(
            r.original_column(1, shifted),
            "r if { not f(input.a); ".len() + 1
        );
        let not = r.source.find("not").unwrap() + 1;
        assert_eq!(r.original_column(1, not), "r if { ".len() + 1);
        // An error in a guard points at the term the author wrote.
        let r = rewrite("r if { some x in input.xs; not f(count(x), y) with input as {} }");
        let guard = r.source.find("type_name(count").unwrap() + "type_name".len() + 1;
        let author = "r if { some x in input.xs; not f(".len() + 1;
        assert_eq!(r.original_column(1, guard + 1), author);
        assert_eq!(r.original_column(1, guard + 7), author + 6);
        let with = r.source.find("with").unwrap() + 1;
        assert_eq!(
            r.original_column(1, with),
            r.original_column(1, r.source.rfind("with").unwrap() + 1)
        );
        // A term on another line than its `not` points at the `not`.
        let r = rewrite("r if {\n  not f(\n    input.a)\n}");
        let guard = r.source.find("type_name(input").unwrap() + "type_name".len() + 1;
        assert_eq!(r.original_column(2, guard + 1), 3);
    }
}
