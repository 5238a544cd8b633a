//! A gator `Suite` (`test.gatekeeper.sh/v1alpha1`) as written on disk.
//!
//! Unknown fields are rejected (a misspelt `assertion` must not silently drop
//! the check); `violations` accepts `yes`/`no` both as YAML 1.1 booleans and
//! as strings, and non-negative integers, as gator's `IntOrString` does.

use serde::Deserialize;
use serde_json::Value;

/// The group and kind that make a YAML file a gator suite.
pub const SUITE_GROUP: &str = "test.gatekeeper.sh";
pub const SUITE_KIND: &str = "Suite";

/// One `suite.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Suite {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub tests: Vec<Test>,
    #[serde(default)]
    pub skip: bool,
}

impl Suite {
    /// `metadata.name`, when the suite has one.
    pub fn name(&self) -> Option<&str> {
        self.metadata["name"].as_str().filter(|n| !n.is_empty())
    }
}

/// A template and constraint pair, and the cases run against it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Test {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub template: String,
    #[serde(default)]
    pub constraint: String,
    /// A file of `ExpansionTemplate`s: case objects they apply to are also
    /// reviewed as the objects they generate (a Deployment as its Pod).
    #[serde(default)]
    pub expansion: String,
    #[serde(default)]
    pub cases: Vec<Case>,
    /// The template or constraint must be rejected; no cases run.
    #[serde(default)]
    pub invalid: bool,
    #[serde(default)]
    pub skip: bool,
}

/// One object reviewed against the test's constraint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub inventory: Vec<String>,
    #[serde(default)]
    pub assertions: Vec<Assertion>,
    #[serde(default)]
    pub skip: bool,
}

/// A claim about the violations reviewing the case's object produces.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// `yes`, `no` or a count; absent means `yes`, as in gator.
    #[serde(default)]
    pub violations: Option<Value>,
    /// A regular expression (Go RE2 syntax) a violation's message must match to count.
    #[serde(default)]
    pub message: Option<String>,
}

/// What an assertion expects of the number of matching violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// At least one.
    Yes,
    /// None.
    No,
    /// Exactly this many.
    Exactly(u64),
}

impl Expected {
    /// Read `violations`; `None` is gator's default, `yes`.
    ///
    /// ```
    /// use verdict::suite::gator::Expected;
    /// use serde_json::json;
    /// assert_eq!(Expected::parse(Some(&json!(true))), Ok(Expected::Yes));
    /// assert_eq!(Expected::parse(Some(&json!("no"))), Ok(Expected::No));
    /// assert_eq!(Expected::parse(Some(&json!(2))), Ok(Expected::Exactly(2)));
    /// assert!(Expected::parse(Some(&json!(-1))).is_err());
    /// ```
    pub fn parse(value: Option<&Value>) -> Result<Expected, String> {
        let bad = || {
            format!(
                "assertion violations must be a non-negative integer, \"yes\" or \"no\", found {}",
                value.map(Value::to_string).unwrap_or_default()
            )
        };
        match value {
            None | Some(Value::Null) => Ok(Expected::Yes),
            Some(Value::Bool(true)) => Ok(Expected::Yes),
            Some(Value::Bool(false)) => Ok(Expected::No),
            Some(Value::String(s)) if s == "yes" => Ok(Expected::Yes),
            Some(Value::String(s)) if s == "no" => Ok(Expected::No),
            Some(Value::Number(n)) => n.as_u64().map(Expected::Exactly).ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    /// Whether `matching` violations satisfy the expectation.
    pub fn holds(self, matching: usize) -> bool {
        match self {
            Expected::Yes => matching > 0,
            Expected::No => matching == 0,
            Expected::Exactly(n) => matching as u64 == n,
        }
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Yes => f.write_str("yes"),
            Expected::No => f.write_str("no"),
            Expected::Exactly(n) => write!(f, "{n}"),
        }
    }
}
