//! The comparison operator a Kyverno string pattern starts with (`>=`, `<`,
//! `!`, …) or is shaped as (`1-5`, `1!-5`).

use std::sync::LazyLock;

use regex::Regex;

// ASCII digits only: Go's `\d` is ASCII, Rust's is Unicode.
const ENDPOINT: &str = r"[-|+]?[0-9]+(?:\.[0-9]+)?[A-Za-z]*";

static IN_RANGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^({ENDPOINT})-({ENDPOINT})$")).expect("valid regex"));
static NOT_IN_RANGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^({ENDPOINT})!-({ENDPOINT})$")).expect("valid regex"));

/// A pattern's operator; the prefix ones are stripped before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equal,
    MoreEqual,
    LessEqual,
    NotEqual,
    More,
    Less,
    /// `low-high`, both ends included.
    InRange,
    /// `low!-high`: below low or above high.
    NotInRange,
}

impl Operator {
    /// Reads the operator of a pattern as Kyverno's
    /// `GetOperatorFromStringPattern`: prefixes win over ranges, and patterns
    /// shorter than two bytes are always `Equal`.
    ///
    /// ```
    /// use verdict::engine::kyverno::operator::Operator;
    /// assert_eq!(Operator::from_pattern(">= 1Gi"), Operator::MoreEqual);
    /// assert_eq!(Operator::from_pattern("!-5"), Operator::NotEqual);
    /// assert_eq!(Operator::from_pattern("1-5"), Operator::InRange);
    /// assert_eq!(Operator::from_pattern("1Mi!-2Mi"), Operator::NotInRange);
    /// assert_eq!(Operator::from_pattern(">"), Operator::Equal);
    /// ```
    pub fn from_pattern(pattern: &str) -> Operator {
        if pattern.len() < 2 {
            return Operator::Equal;
        }
        for op in [
            Operator::MoreEqual,
            Operator::LessEqual,
            Operator::More,
            Operator::Less,
            Operator::NotEqual,
        ] {
            if pattern.starts_with(op.prefix()) {
                return op;
            }
        }
        if NOT_IN_RANGE.is_match(pattern) {
            return Operator::NotInRange;
        }
        if IN_RANGE.is_match(pattern) {
            return Operator::InRange;
        }
        Operator::Equal
    }

    /// The text this operator takes at the start of a pattern (empty for
    /// `Equal` and the range forms, which are not prefixes).
    pub fn prefix(self) -> &'static str {
        match self {
            Operator::MoreEqual => ">=",
            Operator::LessEqual => "<=",
            Operator::NotEqual => "!",
            Operator::More => ">",
            Operator::Less => "<",
            Operator::Equal | Operator::InRange | Operator::NotInRange => "",
        }
    }
}

/// Splits a range pattern into its two endpoints.
///
/// ```
/// use verdict::engine::kyverno::operator::{split_range, Operator};
/// assert_eq!(split_range("1Gi-2Gi", Operator::InRange), Some(("1Gi", "2Gi")));
/// assert_eq!(split_range("-3!--1", Operator::NotInRange), Some(("-3", "-1")));
/// assert_eq!(split_range("1-2", Operator::Equal), None);
/// ```
pub fn split_range(pattern: &str, op: Operator) -> Option<(&str, &str)> {
    let regex = match op {
        Operator::InRange => &*IN_RANGE,
        Operator::NotInRange => &*NOT_IN_RANGE,
        _ => return None,
    };
    let captures = regex.captures(pattern)?;
    Some((captures.get(1)?.as_str(), captures.get(2)?.as_str()))
}
