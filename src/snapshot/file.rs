//! The snapshot file format: insta's. A `---` header with metadata, then the body.
//! `snapshots/<rule-id>.snap` is accepted; `<rule-id>.snap.new` awaits review and is
//! what `cargo insta review` (or `verdict accept`) turns into the accepted file.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where the accepted snapshot of a rule lives.
pub fn accepted_path(snapshots: &Path, rule_id: &str) -> PathBuf {
    snapshots.join(format!("{rule_id}.snap"))
}

/// Where the pending (unreviewed) snapshot of a rule lives.
pub fn pending_path(snapshots: &Path, rule_id: &str) -> PathBuf {
    snapshots.join(format!("{rule_id}.snap.new"))
}

/// The text of a snapshot file: header, then the body as written by [`super::to_yaml`].
///
/// ```
/// let text = verdict::snapshot::file_text("policies/g/r.yaml", &serde_json::json!([]));
/// assert_eq!(text, "---\nsource: verdict\ninput_file: policies/g/r.yaml\n---\n[]\n");
/// ```
pub fn file_text(input_file: &str, rows: &Value) -> String {
    format!("---\nsource: verdict\ninput_file: {input_file}\n---\n{}", super::to_yaml(rows))
}

/// The body of a snapshot file (what follows the header), as text.
pub fn body(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("---\n") else { return text };
    match rest.find("\n---\n") {
        Some(end) => &rest[end + 5..],
        None => text,
    }
}

/// The body parsed as YAML; `None` when it does not parse.
pub fn parse_body(text: &str) -> Option<Value> {
    serde_yaml_ng::from_str(body(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_body_split() {
        let text = "---\nsource: tests/policy.rs\ninput_file: p.yaml\n---\n- case: a\n";
        assert_eq!(body(text), "- case: a\n");
        assert_eq!(parse_body(text), Some(serde_json::json!([{"case": "a"}])));
        assert_eq!(body("- no header\n"), "- no header\n");
    }
}
