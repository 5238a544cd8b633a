//! Plain Rego rules (conftest conventions) on regorus. The main type here is
//! [`Program`]: Rego modules and data compiled once, evaluated many times.

mod null_safety;
mod program;

pub use program::{Program, ProgramError, RegoVersion, Session};
