//! CEL for admission policies: the environment, compiled expressions, the
//! values they see and a runtime budget. The main types here are [`CelEnv`],
//! [`Expression`] and [`Activation`].
//!
//! # Crate choice: `cel` 0.15 (cel-rust), with Kubernetes' libraries written here
//!
//! - `cel` 0.15 (MIT, cel-rust) parses and evaluates CEL with the standard
//!   library and macros, optionals (`.?`, `[?]`, `orValue`, `hasValue`), the
//!   strings/lists/math/encoders extensions (`lowerAscii`, `split`, `join`,
//!   `format`, `strings.quote`, `reverse`, `sortBy`, ...), typed overloads on
//!   an `Env`, opaque values and macros. It has no type checker, no
//!   Kubernetes libraries, no `cel.bind`, no two-variable comprehensions and
//!   no cost limit or cancellation.
//! - `kube-cel` 0.8 (Apache-2.0, kube-rs) has the Kubernetes libraries
//!   (quantity, URL, IP/CIDR, lists, sets, regex, format, semver, JSON patch)
//!   and a ValidatingAdmissionPolicy evaluator, but it is built on `cel` 0.13:
//!   its functions take and return 0.13's `Context` and `Value`, so they
//!   cannot be registered on a 0.15 environment, and 0.13 lacks much of what
//!   0.15 added (typed overloads on `Env`, cel-spec fixes in comprehensions,
//!   optionals and string extensions).
//!
//! Chosen: `cel` 0.15, for its evaluator, with the Kubernetes libraries that
//! policies use written in [`library`] from the behaviour of
//! k8s.io/apiserver/pkg/cel/library (lists `isSorted`/`sum`/`min`/`max`/
//! `indexOf`/`lastIndexOf`, `sets.*`, regex `find`/`findAll`, `quantity`, `url`,
//! `ip`, `cidr`, `semver`, `format`), plus `cel.bind` and the two-variable comprehensions as
//! macros. A policy kind adds its own functions (Kyverno's `resource.*`,
//! `image.*`, ...) through
//! [`CelEnv::builder`] and [`CelEnvBuilder::extension`]. A call to a function
//! the environment does not declare is a compile error naming it.
//!
//! # Numbers: two conversions of JSON documents ([`Numbers`])
//!
//! - [`Numbers::Cluster`], as the API server does: whole numbers are `int`,
//!   others `double`; `object.spec.replicas + 1` is an `int`. Library rules,
//!   ValidatingAdmissionPolicies and gator suites evaluate this way.
//! - [`Numbers::KyvernoCli`], as `kyverno test`/`kyverno apply` do: Kyverno's
//!   CLI converts every number of a resource to `float64` before evaluating
//!   (`convertNumericValuesToFloat64` in cmd/cli/kubectl-kyverno), so
//!   `object.spec.replicas + 1` fails with no matching overload, as it does
//!   under `kyverno test`. The kyverno-test runner evaluates this way.
//!
//! [`to_json`] converts a result back (message expressions, variables, audit
//! annotations).
//!
//! # Result types at load
//!
//! cel-go's checker rejects a validation that is not a `bool` (a message that
//! is not a `string`) when a policy is created. cel-rust has none, so
//! `check.rs` infers the result type from an expression's shape (literals,
//! operators, macros, library functions with one result type, typed
//! `variables.<name>`); [`CelEnv::compile_bool`], [`CelEnv::compile_string`]
//! and [`CelEnv::compile_with_variables`] reject a known wrong type with
//! [`CelError::ResultType`]. An unknown type ([`ResultType::Dyn`]) is never
//! rejected there: [`Expression::eval_bool`] checks the value.
//!
//! # Runtime budget
//!
//! cel-rust cannot be interrupted, so each compiled expression is rewritten:
//! every comprehension's range, and every concatenation's result, goes through
//! an internal overload that charges its size to a per-evaluation counter
//! (see `budget.rs`); past
//! [`DEFAULT_BUDGET`] iterations (Kubernetes' per-expression cost limit is
//! 1 000 000) the evaluation ends with [`CelError::Budget`]. Evaluation also
//! runs under `catch_unwind`, so a panic in the crate is an error, not a crash.

//! # Using it from a policy kind
//!
//! ```
//! use verdict::engine::cel::{Activation, CelEnv, Numbers};
//! // At load: one environment per policy kind, every expression compiled once.
//! let env = CelEnv::kubernetes(); // or CelEnv::builder().extension(kyverno_libs)?.build()
//! let variables = vec![("names".to_string(), env.compile("object.spec.containers.map(c, c.name)").unwrap())];
//! let validation = env.compile("variables.names.all(n, n != 'bad')").unwrap();
//! // Per input: bind the documents, evaluate the variables once, then every validation.
//! let mut input = Activation::new();
//! input.bind_json("object", &serde_json::json!({"spec": {"containers": [{"name": "app"}]}}), Numbers::Cluster);
//! input.bind_variables(&variables);
//! assert!(validation.eval_bool(&input).unwrap());
//! ```
//!
//! Variables need no declaration: CEL is evaluated dynamically here, so any
//! name bound in the [`Activation`] (`object`, `oldObject`, `request`,
//! `params`, `namespaceObject`, `authorizer`, ...) is visible. Errors
//! ([`CelError`]) name the expression; callers add the file, policy and index.

mod activation;
pub mod admission;
mod budget;
mod check;
mod env;
mod error;
mod expression;
pub mod library;
pub mod match_constraints;
mod value;

pub use activation::Activation;
pub use check::ResultType;
pub use env::{CelEnv, CelEnvBuilder, DEFAULT_BUDGET};
pub use error::CelError;
pub use expression::{type_name, Expression};
pub use value::{to_cel, to_json, NotJson, Numbers};
