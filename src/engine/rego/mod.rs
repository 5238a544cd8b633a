//! Plain Rego rules (conftest conventions) on regorus.
