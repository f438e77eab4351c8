//! The validation report: diagnostics tied back to file paths, as text for people and as JSON
//! (a stable, documented shape: `schemas/validate-report.schema.json`) for programs.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use super::{Inventory, Origin};
use crate::model::{Diagnostic, Severity};

/// Bumped only when a field changes meaning or disappears; new fields may be added.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, JsonSchema)]
pub struct Report {
    pub format_version: u32,
    /// The inventory folder as given.
    pub inventory: String,
    /// Set when the inventory was read from git with --rev.
    pub revision: Option<Revision>,
    /// True when there is no error (warnings allowed).
    pub valid: bool,
    pub summary: Summary,
    pub diagnostics: Vec<ReportDiagnostic>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Revision {
    /// The revision as given (`main`, `HEAD~1`, a commit id).
    pub rev: String,
    /// The full commit id it resolved to.
    pub commit: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    pub files: usize,
    pub devices: usize,
    pub subscribers: usize,
    pub plans: usize,
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportDiagnostic {
    /// `error` or `warning`.
    pub severity: String,
    /// A stable identifier of the rule, such as `reserved-vlan` or `duplicate-mac`.
    pub code: String,
    /// The file, as a path from the current folder.
    pub file: Option<String>,
    /// 1-based; absent when the problem is the whole file.
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
    pub hint: Option<String>,
    pub related: Option<ReportRelated>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportRelated {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub label: String,
}

impl Report {
    pub fn new(inv: &Inventory, diagnostics: &[Diagnostic]) -> Report {
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let path =
            |s: Option<crate::model::SourceId>| s.and_then(|s| inv.file(s)).map(|f| f.path.clone());
        let known = |n: u32| (n > 0).then_some(n);
        Report {
            format_version: FORMAT_VERSION,
            inventory: inv.root.to_string_lossy().into_owned(),
            revision: match &inv.origin {
                Origin::Dir => None,
                Origin::Rev { rev, commit } => Some(Revision {
                    rev: rev.clone(),
                    commit: commit.clone(),
                }),
            },
            valid: errors == 0,
            summary: Summary {
                files: inv.files.iter().filter(|f| f.kind.is_some()).count(),
                devices: inv.desired.devices.len(),
                subscribers: inv.desired.subscribers.len(),
                plans: inv.desired.plans().map_or(0, |p| p.len()),
                errors,
                warnings: diagnostics.len() - errors,
            },
            diagnostics: diagnostics
                .iter()
                .map(|d| ReportDiagnostic {
                    severity: match d.severity {
                        Severity::Error => "error".to_string(),
                        Severity::Warning => "warning".to_string(),
                    },
                    code: d.code.as_str().to_string(),
                    file: path(d.source),
                    line: known(d.pos.line),
                    column: known(d.pos.column),
                    message: d.message.clone(),
                    hint: d.hint.clone(),
                    related: d.related.as_ref().map(|r| ReportRelated {
                        file: path(Some(r.source)),
                        line: known(r.pos.line),
                        column: known(r.pos.column),
                        label: r.label.clone(),
                    }),
                })
                .collect(),
        }
    }

    /// The human form: one line per problem (`file:line:col: error[code]: message`), its hint
    /// and related place indented below, then a count.
    pub fn to_text(&self, colour: bool) -> String {
        let paint = |code: &str, s: &str| {
            if colour {
                format!("\x1b[{code}m{s}\x1b[0m")
            } else {
                s.to_string()
            }
        };
        let mut out = String::new();
        for d in &self.diagnostics {
            let place = locate(d.file.as_deref(), d.line, d.column);
            let sev = if d.severity == "error" {
                paint("1;31", "error")
            } else {
                paint("1;33", "warning")
            };
            let _ = writeln!(out, "{place}: {sev}[{}]: {}", d.code, d.message);
            if let Some(h) = &d.hint {
                let _ = writeln!(out, "    {}: {h}", paint("1;36", "hint"));
            }
            if let Some(r) = &d.related {
                let _ = writeln!(
                    out,
                    "    {}: {}: {}",
                    paint("1;34", "note"),
                    r.label,
                    locate(r.file.as_deref(), r.line, r.column)
                );
            }
        }
        let s = &self.summary;
        let what = format!(
            "{}: {}, {}, {}",
            count(s.files, "file"),
            count(s.devices, "device"),
            count(s.subscribers, "subscriber"),
            count(s.plans, "plan")
        );
        let warnings = if s.warnings > 0 {
            format!(" ({})", count(s.warnings, "warning"))
        } else {
            String::new()
        };
        if self.valid {
            let _ = writeln!(out, "{} {what}{warnings}", paint("1;32", "valid:"));
        } else {
            let _ = writeln!(
                out,
                "{} {}{warnings} in {what}",
                paint("1;31", "invalid:"),
                count(s.errors, "error")
            );
        }
        out
    }
}

/// "1 device", "3 devices".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn locate(file: Option<&str>, line: Option<u32>, column: Option<u32>) -> String {
    let file = file.unwrap_or("<inventory>");
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    }
}
