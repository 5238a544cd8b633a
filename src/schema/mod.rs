//! Strict structure checks shared by every reader of policies, fixtures and
//! suites. The main function here is [`violations`]: JSON Schema validation that
//! names each unknown field with a "did you mean", located to its line by
//! [`field_line`].

mod embedded;
mod locate;
mod suggest;
mod violations;

pub use embedded::EmbeddedSchema;
pub use locate::{field_line, FieldLines};
pub use suggest::did_you_mean;
pub use violations::{allowed_fields, load_error, locate, violations, Violation};
