//! What can go wrong compiling or evaluating a CEL expression; every variant
//! names the expression, callers add the file, policy and index.

/// A CEL compile or evaluation error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CelError {
    /// The expression does not parse (or a macro rejects it).
    #[error("CEL expression `{expression}` does not compile: {message}")]
    Compile { expression: String, message: String },
    /// The expression calls a function the environment does not declare.
    #[error("CEL expression `{expression}` calls undeclared function `{function}`")]
    UnknownFunction {
        expression: String,
        function: String,
    },
    /// The result type is known at load and is not the one the field needs
    /// (a validation that is a string, say), as cel-go's checker finds it.
    #[error("CEL expression `{expression}` must evaluate to {wanted}, found {found}")]
    ResultType {
        expression: String,
        wanted: String,
        found: String,
    },
    /// Evaluation failed: no matching overload, missing key, division by zero, ...
    #[error("CEL expression `{expression}` failed: {message}")]
    Evaluation { expression: String, message: String },
    /// Comprehensions iterated over more elements than the budget allows.
    #[error("CEL expression `{expression}` exceeded the evaluation budget of {limit} comprehension iterations")]
    Budget { expression: String, limit: u64 },
    /// A validation or condition evaluated to something other than a bool.
    #[error("CEL expression `{expression}` must evaluate to bool, got {got}")]
    NotBool { expression: String, got: String },
    /// A message expression evaluated to something other than a string.
    #[error("CEL expression `{expression}` must evaluate to string, got {got}")]
    NotString { expression: String, got: String },
    /// The CEL crate panicked; caught so one expression cannot take the run down.
    #[error("CEL expression `{expression}` crashed the evaluator: {message}")]
    Panic { expression: String, message: String },
}
