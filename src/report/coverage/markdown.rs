//! The coverage report as Markdown, for a repository or a pull request.

use super::Coverage;

/// Render `c` as Markdown.
pub fn markdown(c: &Coverage) -> String {
    let h = &c.headline;
    let mut s = format!("# Policy coverage, {}\n\n", c.date);
    s.push_str(&format!(
        "- **{} of {} controls** are enforced by a rule with passing pass and fail cases.\n- Rules: {} in enforce, {} in audit ({} in all).\n- Results of the run: {} passed, {} failed, {} errors, {} skipped.\n",
        h.controls_enforced, h.controls, h.rules_enforce, h.rules_audit, h.rules, h.results.passed, h.results.failed, h.results.errors, h.results.skipped
    ));
    if !h.uncovered_controls.is_empty() {
        s.push_str(&format!("- Controls no rule implements: {}.\n", h.uncovered_controls.join(", ")));
    }
    if !h.untested_rules.is_empty() {
        s.push_str(&format!("- Rules without passing evidence: {}.\n", h.untested_rules.join(", ")));
    }
    s.push_str("\n## Controls\n\n| control | status | rules | references |\n|---|---|---|---|\n");
    for control in &c.controls {
        s.push_str(&format!(
            "| `{}` {} | {} | {} | {} |\n",
            control.id,
            control.title,
            control.status.label(),
            control.rules.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", "),
            control.references.join("; ")
        ));
    }
    s.push_str(&format!("\n## Control × gate\n\n| control | {} |\n|---|{}\n", c.gates.join(" | "), "---|".repeat(c.gates.len())));
    for control in &c.controls {
        let gates = c.matrix.get(&control.id);
        // A gate none of whose rules names the control shows nothing.
        let cells: Vec<&str> = c
            .gates
            .iter()
            .map(|g| match gates.and_then(|m| m.get(g)) {
                Some(super::ControlStatus::Uncovered) | None => "",
                Some(status) => status.label(),
            })
            .collect();
        s.push_str(&format!("| `{}` | {} |\n", control.id, cells.join(" | ")));
    }
    s.push_str("\n## Rules\n\n| rule | gate | mode | since | cases (pass/fail) | owners | waivers |\n|---|---|---|---|---|---|---|\n");
    for r in &c.rules {
        s.push_str(&format!(
            "| `{}` {} | {} | {} | {} | {}/{}{} | {} | {} |\n",
            r.id,
            r.title,
            r.gate,
            r.mode,
            r.enforced_since.as_deref().unwrap_or(""),
            r.pass_cases,
            r.fail_cases,
            if r.failing.is_empty() { String::new() } else { format!(" ({} failing)", r.failing.len()) },
            r.owners.join(", "),
            r.waivers.iter().map(|w| format!("{} until {}", w.label, w.expires)).collect::<Vec<_>>().join("; ")
        ));
    }
    let held: Vec<String> = c
        .rules
        .iter()
        .filter_map(|r| r.promotion_refusals.as_ref().filter(|x| !x.is_empty()).map(|x| format!("- `{}`: {}", r.id, x.join("; "))))
        .collect();
    if !held.is_empty() {
        s.push_str(&format!("\n## Why these rules stay in audit\n\n{}\n", held.join("\n")));
    }
    s
}
