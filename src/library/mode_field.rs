//! Rewriting a rule's mode where its language keeps it, one line at a time, so
//! the rest of the file (comments, order, quoting) is left exactly as written
//! and the promotion's diff is the one line a reviewer must see.

use super::Language;
use crate::verdict::Mode;
use regex::Regex;
use std::sync::LazyLock;

/// The value a matched line gets, from the old value and the wanted mode.
type NewValue = fn(&str, Mode) -> Result<&'static str, String>;

/// `text` with the rule's mode set to `to`, or why it cannot be done by a tool.
///
/// - Rego: `mode:` inside the `# METADATA` comment (`custom.mode`).
/// - Gatekeeper: the Constraint's `enforcementAction` (`dryrun`/`warn` ↔ `deny`).
/// - Kyverno: `validationFailureAction` and every rule's `failureAction` (`Audit` ↔ `Enforce`).
/// - Kyverno ValidatingPolicy, when it has no `failureAction`: its one-line
///   `validationActions: [...]`, as a VAP binding's.
/// - ValidatingAdmissionPolicy: every binding's one-line `validationActions: [...]`
///   (`[Audit]` ↔ `[Deny]`, keeping `Audit` beside `Deny` when it was there).
///
/// ```
/// use verdict::library::{set_mode, Language};
/// use verdict::verdict::Mode;
/// let text = "spec:\n  validationFailureAction: Audit # until reviewed\n  rules: []\n";
/// let flipped = set_mode(Language::Kyverno, text, Mode::Enforce).unwrap();
/// assert_eq!(flipped, "spec:\n  validationFailureAction: Enforce # until reviewed\n  rules: []\n");
/// ```
pub fn set_mode(language: Language, text: &str, to: Mode) -> Result<String, String> {
    static REGO: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?P<head>\s*#\s+mode:\s*)(?P<q>[\x22']?)(?P<value>audit|enforce)[\x22']?(?P<tail>\s*(#.*)?)$").unwrap());
    static GATEKEEPER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?P<head>\s*enforcementAction:\s*)(?P<q>[\x22']?)(?P<value>[A-Za-z]+)[\x22']?(?P<tail>\s*(#.*)?)$").unwrap()
    });
    static KYVERNO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?P<head>\s*-?\s*(validationFailureAction|failureAction):\s*)(?P<q>[\x22']?)(?P<value>[A-Za-z]+)[\x22']?(?P<tail>\s*(#.*)?)$")
            .unwrap()
    });
    static ACTIONS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?P<head>\s*validationActions:\s*\[)(?P<q>)(?P<value>[^\]]*)\](?P<tail>\s*(#.*)?)$").unwrap()
    });
    let actions: NewValue = |old, to| {
        Ok(match to {
            Mode::Enforce if old.contains("Audit") => "Deny, Audit",
            Mode::Enforce => "Deny",
            Mode::Audit => "Audit",
        })
    };
    let rewritten = match language {
        Language::Rego => rewrite(text, &REGO, "", to, |_, to| Ok(if to == Mode::Enforce { "enforce" } else { "audit" }))?,
        Language::Gatekeeper => rewrite(text, &GATEKEEPER, "", to, |old, to| match (old.to_ascii_lowercase().as_str(), to) {
            ("scoped", _) => Err("enforcementAction is `scoped`: set each enforcement point's action by hand".into()),
            (_, Mode::Enforce) => Ok("deny"),
            (_, Mode::Audit) => Ok("dryrun"),
        })?,
        // A ValidatingPolicy keeps its mode in `spec.validationActions`, as a VAP binding does.
        Language::Kyverno => match rewrite(text, &KYVERNO, "", to, |_, to| Ok(if to == Mode::Enforce { "Enforce" } else { "Audit" }))? {
            None => rewrite(text, &ACTIONS, "]", to, actions)?,
            some => some,
        },
        Language::Vap => rewrite(text, &ACTIONS, "]", to, actions)?,
    };
    rewritten.ok_or_else(|| match language {
        Language::Rego => "no `mode:` line in the # METADATA custom block".into(),
        Language::Gatekeeper => "the Constraint has no `enforcementAction:` line".into(),
        Language::Kyverno => {
            "no `validationFailureAction:` or `failureAction:` line, nor a one-line `validationActions: [...]` (ValidatingPolicy)".into()
        }
        Language::Vap => "no one-line `validationActions: [...]` in a binding (write the list on one line)".into(),
    })
}

/// `text` with every line `re` matches given the value `value_for` picks, or
/// `None` when no line matches. `close` ends a rewritten list.
fn rewrite(text: &str, re: &Regex, close: &str, to: Mode, value_for: NewValue) -> Result<Option<String>, String> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut changed = 0;
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body.strip_suffix('\r').unwrap_or(body), &line[body.strip_suffix('\r').unwrap_or(body).len()..]),
            None => (line, ""),
        };
        match re.captures(body) {
            Some(c) => {
                let value = value_for(&c["value"], to)?;
                let q = &c["q"];
                out.push_str(&format!("{}{q}{value}{q}{close}{}{newline}", &c["head"], &c["tail"]));
                changed += 1;
            }
            None => out.push_str(line),
        }
    }
    Ok((changed > 0).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rego_mode_in_the_metadata_comment_flips_both_ways() {
        let text = "# METADATA\n# custom:\n#   id: x\n#   mode: audit\npackage x\n";
        let up = set_mode(Language::Rego, text, Mode::Enforce).unwrap();
        assert_eq!(up, "# METADATA\n# custom:\n#   id: x\n#   mode: enforce\npackage x\n");
        assert_eq!(set_mode(Language::Rego, &up, Mode::Audit).unwrap(), text);
        assert!(set_mode(Language::Rego, "package x\n", Mode::Enforce).is_err());
    }

    #[test]
    fn gatekeeper_action_keeps_quotes_and_refuses_scoped() {
        let text = "spec:\n  enforcementAction: \"dryrun\"\r\n";
        assert_eq!(set_mode(Language::Gatekeeper, text, Mode::Enforce).unwrap(), "spec:\n  enforcementAction: \"deny\"\r\n");
        assert!(set_mode(Language::Gatekeeper, "spec:\n  enforcementAction: scoped\n", Mode::Enforce).unwrap_err().contains("scoped"));
    }

    #[test]
    fn vap_binding_actions_flip_and_keep_audit_beside_deny() {
        let text = "spec:\n  policyName: p\n  validationActions: [Audit] # new rule\n";
        let up = set_mode(Language::Vap, text, Mode::Enforce).unwrap();
        assert_eq!(up, "spec:\n  policyName: p\n  validationActions: [Deny, Audit] # new rule\n");
        assert_eq!(set_mode(Language::Vap, &up, Mode::Audit).unwrap(), "spec:\n  policyName: p\n  validationActions: [Audit] # new rule\n");
        assert!(set_mode(Language::Vap, "spec:\n  validationActions:\n    - Deny\n", Mode::Audit).unwrap_err().contains("one line"));
    }

    #[test]
    fn kyverno_validating_policy_flips_its_validation_actions() {
        let text = "kind: ValidatingPolicy\nspec:\n  validationActions: [Audit]\n  validations: []\n";
        let up = set_mode(Language::Kyverno, text, Mode::Enforce).unwrap();
        assert_eq!(up, "kind: ValidatingPolicy\nspec:\n  validationActions: [Deny, Audit]\n  validations: []\n");
        assert_eq!(set_mode(Language::Kyverno, &up, Mode::Audit).unwrap(), text);
        let error = set_mode(Language::Kyverno, "kind: ValidatingPolicy\nspec:\n  validations: []\n", Mode::Audit).unwrap_err();
        assert!(error.contains("validationActions"), "{error}");
    }

    #[test]
    fn kyverno_flips_the_policy_and_every_rule_action() {
        let text = "spec:\n  validationFailureAction: audit\n  rules:\n    - validate:\n        failureAction: Audit\n";
        let up = set_mode(Language::Kyverno, text, Mode::Enforce).unwrap();
        assert_eq!(up, "spec:\n  validationFailureAction: Enforce\n  rules:\n    - validate:\n        failureAction: Enforce\n");
    }
}
