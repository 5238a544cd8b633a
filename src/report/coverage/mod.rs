//! The compliance coverage report (`verdict report`): controls → rules → cases
//! → the run's verdicts, with each rule's mode, owners, waivers and promotion
//! history. The main type here is [`Coverage`], built once by [`build`] and
//! written as Markdown ([`markdown`]), one self-contained HTML page ([`html`])
//! or JSON (serde).

mod html;
mod markdown;

pub use html::html;
pub use markdown::markdown;

use crate::library::Library;
use crate::lifecycle::{CodeOwners, Control, WaiverStatus};
use crate::runner::RunSummary;
use crate::verdict::Mode;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a control stands, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlStatus {
    /// At least one enforce rule with passing pass and fail cases implements it.
    Enforced,
    /// Tested rules implement it, but only in audit.
    AuditOnly,
    /// Rules name it, but none has passing pass and fail cases.
    Untested,
    /// No rule names it.
    Uncovered,
}

impl ControlStatus {
    pub fn label(self) -> &'static str {
        match self {
            ControlStatus::Enforced => "enforced",
            ControlStatus::AuditOnly => "audit only",
            ControlStatus::Untested => "untested",
            ControlStatus::Uncovered => "uncovered",
        }
    }
}

/// One case of a rule and its latest result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    pub case: String,
    pub expected: String,
    pub actual: String,
    pub ok: bool,
}

/// One waiver as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct WaiverRow {
    pub label: String,
    pub owner: String,
    pub expires: String,
    pub status: WaiverStatus,
}

/// One mode change from the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub date: String,
    pub from: Mode,
    pub to: Mode,
    pub commit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One rule and its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    pub id: String,
    pub title: String,
    pub gate: String,
    pub mode: Mode,
    pub severity: Option<String>,
    pub controls: Vec<String>,
    pub owners: Vec<String>,
    pub pass_cases: usize,
    pub fail_cases: usize,
    /// Results of this rule that did not hold (cases, snapshot, corpus).
    pub failing: Vec<String>,
    /// Has ≥1 passing pass case, ≥1 failing fail case and nothing failing.
    pub tested: bool,
    /// Date of the promotion that put it in enforce, if it is there by the ledger.
    pub enforced_since: Option<String>,
    pub history: Vec<HistoryRow>,
    pub waivers: Vec<WaiverRow>,
    pub cases: Vec<CaseRow>,
    /// For a rule in audit: why `verdict promote` would refuse it (empty: it qualifies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_refusals: Option<Vec<String>>,
}

/// One control and what implements it.
#[derive(Debug, Clone, Serialize)]
pub struct ControlRow {
    pub id: String,
    pub title: String,
    pub references: Vec<String>,
    pub rules: Vec<String>,
    pub status: ControlStatus,
}

/// The figures an auditor reads first.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub controls: usize,
    pub controls_enforced: usize,
    pub rules: usize,
    pub rules_enforce: usize,
    pub rules_audit: usize,
    pub untested_rules: Vec<String>,
    pub uncovered_controls: Vec<String>,
    pub results: crate::runner::RunStats,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub date: String,
    pub headline: Headline,
    pub controls: Vec<ControlRow>,
    pub rules: Vec<RuleRow>,
    pub gates: Vec<String>,
    /// control id → gate → the best status of that gate's rules for it.
    pub matrix: BTreeMap<String, BTreeMap<String, ControlStatus>>,
}

/// Build the report from the library, its control catalogue and one run's results;
/// `refusals` holds, for rules in audit, why promotion would be refused.
pub fn build(
    library: &Library,
    controls: &[Control],
    summary: &RunSummary,
    owners: Option<&CodeOwners>,
    refusals: &BTreeMap<String, Vec<String>>,
    today: chrono::NaiveDate,
) -> Coverage {
    let mut rules = Vec::new();
    for rule in &library.rules {
        let mine: Vec<_> = summary.results.iter().filter(|r| r.rule == rule.id).collect();
        let suite = format!("cases/{}", rule.id);
        let cases: Vec<CaseRow> = mine
            .iter()
            .filter(|r| r.suite == suite)
            .map(|r| CaseRow { case: r.test.clone(), expected: r.expected.clone(), actual: r.actual.clone(), ok: r.ok })
            .collect();
        let count = |expected: &str| cases.iter().filter(|c| c.expected == expected && c.ok).count();
        let failing: Vec<String> = mine
            .iter()
            .filter(|r| !r.ok && r.skipped.is_none())
            .map(|r| format!("{}: expected {}, got {}", r.test, r.expected, r.actual))
            .collect();
        let (pass_cases, fail_cases) = (count("pass"), count("fail"));
        let history: Vec<HistoryRow> = library
            .promotions
            .iter()
            .filter(|p| p.rule == rule.id)
            .map(|p| HistoryRow { date: p.date.clone(), from: p.from, to: p.to, commit: p.commit.clone(), reason: p.reason.clone() })
            .collect();
        let enforced_since = (rule.mode == Mode::Enforce).then(|| history.iter().rev().find(|h| h.to == Mode::Enforce).map(|h| h.date.clone())).flatten();
        let path = rule.path.to_string_lossy().replace('\\', "/");
        rules.push(RuleRow {
            id: rule.id.clone(),
            title: rule.title.clone(),
            gate: rule.gate.clone(),
            mode: rule.mode,
            severity: rule.severity.clone(),
            controls: rule.controls.clone(),
            owners: owners.and_then(|o| o.owners(&path)).unwrap_or_default(),
            pass_cases,
            fail_cases,
            tested: pass_cases > 0 && fail_cases > 0 && failing.is_empty(),
            failing,
            enforced_since,
            history,
            waivers: rule
                .waivers
                .iter()
                .map(|w| WaiverRow { label: w.label(), owner: w.owner.clone(), expires: w.expires.clone(), status: w.status(today) })
                .collect(),
            cases,
            promotion_refusals: (rule.mode == Mode::Audit).then(|| refusals.get(&rule.id).cloned().unwrap_or_default()),
        });
    }
    let status_of = |rows: &[&RuleRow]| {
        if rows.is_empty() {
            ControlStatus::Uncovered
        } else if rows.iter().any(|r| r.tested && r.mode == Mode::Enforce) {
            ControlStatus::Enforced
        } else if rows.iter().any(|r| r.tested) {
            ControlStatus::AuditOnly
        } else {
            ControlStatus::Untested
        }
    };
    let mut gates: Vec<String> = rules.iter().map(|r| r.gate.clone()).collect();
    gates.sort();
    gates.dedup();
    let mut matrix = BTreeMap::new();
    let control_rows: Vec<ControlRow> = controls
        .iter()
        .map(|c| {
            let implementing: Vec<&RuleRow> = rules.iter().filter(|r| r.controls.contains(&c.id)).collect();
            let by_gate = gates
                .iter()
                .map(|g| {
                    let in_gate: Vec<&RuleRow> = implementing.iter().copied().filter(|r| &r.gate == g).collect();
                    (g.clone(), status_of(&in_gate))
                })
                .collect();
            matrix.insert(c.id.clone(), by_gate);
            ControlRow {
                id: c.id.clone(),
                title: c.title.clone(),
                references: c.references.clone(),
                rules: implementing.iter().map(|r| r.id.clone()).collect(),
                status: status_of(&implementing),
            }
        })
        .collect();
    let headline = Headline {
        controls: control_rows.len(),
        controls_enforced: control_rows.iter().filter(|c| c.status == ControlStatus::Enforced).count(),
        rules: rules.len(),
        rules_enforce: rules.iter().filter(|r| r.mode == Mode::Enforce).count(),
        rules_audit: rules.iter().filter(|r| r.mode == Mode::Audit).count(),
        untested_rules: rules.iter().filter(|r| !r.tested).map(|r| r.id.clone()).collect(),
        uncovered_controls: control_rows.iter().filter(|c| c.status == ControlStatus::Uncovered).map(|c| c.id.clone()).collect(),
        results: summary.stats(),
    };
    Coverage { date: today.format("%Y-%m-%d").to_string(), headline, controls: control_rows, rules, gates, matrix }
}
