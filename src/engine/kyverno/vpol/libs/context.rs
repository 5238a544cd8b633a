//! The mocked cluster a kyverno-test's `context` file describes, handed to
//! the library functions of one evaluation.
//!
//! cel-rust functions are plain `fn` pointers with no access to the
//! evaluation, so the context reaches them through a thread-local set around
//! one policy evaluation ([`with_context`]).

use serde_json::Value as Json;
use std::cell::RefCell;
use std::sync::Arc;

/// What a kyverno-test's `context` file mocks: cluster objects and image metadata.
#[derive(Debug, Clone, Default)]
pub struct MockContext {
    /// Full objects `resource.Get`/`resource.List` return.
    pub resources: Vec<Json>,
    /// `spec.images[]` entries, looked up by their exact `image` string.
    pub images: Vec<Json>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Arc<MockContext>>> = const { RefCell::new(None) };
    static POLICY_NAMESPACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with `context` visible to the library functions of this thread.
pub fn with_context<T>(context: Option<Arc<MockContext>>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<MockContext>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CONTEXT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CONTEXT.with(|c| c.replace(context));
    let _restore = Restore(previous);
    f()
}

/// Runs `f` as a NamespacedValidatingPolicy of `namespace` (`None`: a
/// cluster-scoped policy): Kyverno then serves the `resource.*` forms without
/// a namespace argument, fixed to the policy's namespace.
pub fn with_policy_namespace<T>(namespace: Option<&str>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            POLICY_NAMESPACE.with(|n| *n.borrow_mut() = previous);
        }
    }
    let previous = POLICY_NAMESPACE.with(|n| n.replace(namespace.map(str::to_string)));
    let _restore = Restore(previous);
    f()
}

/// The namespace of the NamespacedValidatingPolicy evaluating on this thread.
pub(super) fn policy_namespace() -> Option<String> {
    POLICY_NAMESPACE.with(|n| n.borrow().clone())
}

/// The context of the evaluation running on this thread, if a test gave one.
pub(super) fn current() -> Option<Arc<MockContext>> {
    CONTEXT.with(|c| c.borrow().clone())
}
