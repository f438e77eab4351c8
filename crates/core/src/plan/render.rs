//! Plans for people and programs: terminal text (Terraform's `+ ~ -` symbols, coloured on a
//! terminal), Markdown for a pull-request comment (one collapsible section per device), and JSON
//! (the plan file's shape, `schemas/plan.schema.json`).

use std::fmt::Write as _;

use super::change::{Action, Change, Disruption, FieldChange};
use super::{Outcome, Plan, Summary};
use crate::device::printable as esc;

/// A value in Markdown text: control characters escaped, and the characters Markdown or HTML
/// would act on (a backtick, a table bar, a tag) backslash-escaped, so a value read from a
/// device cannot close a code span, a table cell or the `<details>` block.
pub(super) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in esc(s).chars() {
        if matches!(
            c,
            '`' | '|' | '<' | '>' | '*' | '_' | '[' | ']' | '\\' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value in inline code: as it is when that is safe, else in HTML `<code>` with entities.
pub(super) fn md_code(s: &str) -> String {
    if !s.contains(['`', '|', '<', '>', '&']) && !s.chars().any(char::is_control) {
        return format!("`{s}`");
    }
    html_code(s)
}

/// A value in HTML `<code>`, with entities for what HTML or a table would act on.
pub(super) fn html_code(s: &str) -> String {
    let s = esc(s);
    let mut out = String::from("<code>");
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push_str("&#96;"),
            '|' => out.push_str("&#124;"),
            c => out.push(c),
        }
    }
    out.push_str("</code>");
    out
}

/// Terminal colours, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Never,
    Always,
}

pub(super) struct Paint(pub(super) Colour);

impl Paint {
    pub(super) fn code(&self, code: &str, s: &str) -> String {
        match self.0 {
            Colour::Always => format!("\x1b[{code}m{s}\x1b[0m"),
            Colour::Never => s.to_string(),
        }
    }
}

pub(super) fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Delete => "-",
    }
}

pub(super) fn colour_of(a: Action) -> &'static str {
    match a {
        Action::Create => "32",
        Action::Update => "33",
        Action::Delete => "31",
    }
}

pub(super) fn disruption_tag(d: Disruption) -> &'static str {
    match d {
        Disruption::None => "",
        Disruption::Rate => "  [rate change]",
        Disruption::Interrupt => "  [interrupts service]",
    }
}

fn headline(c: &Change) -> String {
    if c.kind == super::ObjectKind::Global {
        // One setting of the device, which has no id.
        return format!("{} {} {}", symbol(c.action), c.kind.noun(), c.key);
    }
    let orphan = if c.orphan { " (orphan)" } else { "" };
    format!(
        "{} {} {} (id {}){orphan}",
        symbol(c.action),
        c.kind.noun(),
        esc(&c.key),
        c.id
    )
}

pub(super) fn field_line(f: &FieldChange) -> String {
    let quote = |v: &String| {
        if v.is_empty() {
            "\"\"".to_string()
        } else {
            esc(v).into_owned()
        }
    };
    match (f.before.as_ref().map(quote), f.after.as_ref().map(quote)) {
        (Some(b), Some(a)) => format!("{}: {b} -> {a}", f.field),
        (None, Some(a)) => format!("{}: {a}", f.field),
        (Some(b), None) => format!("{}: {b} -> (none)", f.field),
        (None, None) => f.field.clone(),
    }
}

fn counts(s: &Summary) -> String {
    format!(
        "{} to create, {} to update, {} to delete",
        s.creates, s.updates, s.deletes
    )
}

fn subscriber_counts(s: &Summary) -> String {
    format!(
        "{} interrupted, {} rate change only, {} created, {} deleted",
        s.subscribers_interrupted,
        s.subscribers_rate_changed,
        s.subscribers_created,
        s.subscribers_deleted
    )
}

/// The changes of one device as `+ ~ -` lines with their fields indented below.
fn change_lines(changes: &[Change], out: &mut String, paint: &Paint, indent: &str) {
    for c in changes {
        let line = format!("{}{}", headline(c), disruption_tag(c.disruption));
        let _ = writeln!(out, "{indent}{}", paint.code(colour_of(c.action), &line));
        // A new object lists what it is created with; empty values say nothing there.
        let shown = c.fields.iter().filter(|f| {
            c.action != Action::Create || f.after.as_ref().is_some_and(|a| !a.is_empty())
        });
        for f in shown {
            let _ = writeln!(out, "{indent}    {}", field_line(f));
        }
        if c.kind == super::ObjectKind::Global && c.key == "subscriber_model" {
            let _ = writeln!(
                out,
                "{indent}    affects: every subscriber on the device ({})",
                c.affects.len()
            );
        } else if c.disruption != Disruption::None
            && !c.affects.is_empty()
            && c.kind != super::ObjectKind::Subscriber
        {
            let _ = writeln!(out, "{indent}    affects: {}", esc(&c.affects.join(", ")));
        }
    }
}

/// The human form.
pub fn text(plan: &Plan, colour: Colour) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    for d in &plan.devices {
        match &d.outcome {
            Outcome::Planned {
                changes,
                orphans,
                violations,
                summary,
                ..
            } => {
                if changes.is_empty() && orphans.is_empty() && violations.is_empty() {
                    let _ = writeln!(out, "{}: no changes", paint.code("1", &esc(&d.device)));
                    continue;
                }
                let head = if changes.is_empty() {
                    "no changes".to_string()
                } else {
                    counts(summary)
                };
                let _ = writeln!(out, "{}: {head}", paint.code("1", &esc(&d.device)));
                change_lines(changes, &mut out, &paint, "  ");
                if !orphans.is_empty() {
                    let list: Vec<String> = orphans
                        .iter()
                        .map(|o| format!("{} {} (id {})", o.kind.noun(), esc(&o.key), o.id))
                        .collect();
                    let _ = writeln!(
                        out,
                        "  orphans, kept because prune is off: {}",
                        list.join(", ")
                    );
                }
                for v in violations {
                    let label = if plan.forced {
                        "safety limit overridden (forced)"
                    } else {
                        "blocked by a safety limit"
                    };
                    let _ = writeln!(
                        out,
                        "  {} {label}: {}",
                        paint.code("1;31", "!"),
                        esc(&v.message)
                    );
                    let _ = writeln!(out, "      hint: {}", esc(&v.hint));
                }
            }
            Outcome::Unknown { reason } => {
                let _ = writeln!(
                    out,
                    "{}: {} {} (nothing planned)",
                    paint.code("1", &esc(&d.device)),
                    paint.code("1;31", "unknown:"),
                    esc(reason)
                );
            }
            Outcome::Error { message, hint } => {
                let _ = writeln!(
                    out,
                    "{}: {} {}",
                    paint.code("1", &esc(&d.device)),
                    paint.code("1;31", "error:"),
                    esc(message)
                );
                let _ = writeln!(out, "      hint: {}", esc(hint));
            }
        }
    }
    let s = &plan.summary;
    if !out.is_empty() {
        out.push('\n');
    }
    // Devices that were not read come first: a match is never claimed for them.
    let unread = unknown_devices(plan);
    if !unread.is_empty() {
        let _ = writeln!(
            out,
            "{} {} device(s) could not be read and were not planned: {}.",
            paint.code("1;31", "Unknown:"),
            unread.len(),
            unread.join(", ")
        );
    }
    let planned = plan
        .devices
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Planned { .. }))
        .count();
    if s.changes() == 0 {
        if planned == 0 {
            let _ = writeln!(out, "Nothing was planned: no device could be planned.");
        } else if planned == plan.devices.len() {
            let _ = writeln!(out, "No changes: the devices match the inventory.");
        } else {
            let _ = writeln!(
                out,
                "No changes on the {planned} device(s) planned; the others were not."
            );
        }
    } else {
        let _ = writeln!(out, "Plan: {} on {planned} device(s).", counts(s),);
        let _ = writeln!(out, "Subscribers: {}.", subscriber_counts(s));
    }
    if s.devices_blocked > 0 {
        let _ = writeln!(
            out,
            "{} device(s) go past a safety limit: apply refuses them unless forced.",
            s.devices_blocked
        );
    }
    out
}

/// The devices that could not be read, by name.
fn unknown_devices(plan: &Plan) -> Vec<&str> {
    plan.devices
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Unknown { .. }))
        .map(|d| d.device.as_str())
        .collect()
}

/// Markdown for a pull-request comment.
pub fn markdown(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut out = String::new();
    let unread = unknown_devices(plan);
    let title = match (unread.len(), s.changes()) {
        (0, 0) => "no changes".to_string(),
        (0, _) => counts(s),
        (n, _) if n == plan.devices.len() => format!("{n} device(s) not read, nothing planned"),
        (n, 0) => format!("{n} device(s) not read, no changes on the others"),
        (n, _) => format!("{n} device(s) not read; {}", counts(s)),
    };
    let _ = writeln!(out, "### gamops plan: {title}\n");
    if let Some(commit) = &plan.commit {
        let _ = writeln!(
            out,
            "Commit `{commit}`{}\n",
            if plan.forced {
                ", **forced past the safety limits**"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(out, "**Subscribers:** {}\n", subscriber_counts(s));
    let _ = writeln!(
        out,
        "| device | status | create | update | delete | interrupted | rate only |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for d in &plan.devices {
        match &d.outcome {
            Outcome::Planned {
                summary: ds,
                violations,
                ..
            } => {
                let status = if violations.is_empty() {
                    "planned"
                } else if plan.forced {
                    "forced"
                } else {
                    "**blocked**"
                };
                let _ = writeln!(
                    out,
                    "| {} | {status} | {} | {} | {} | {} | {} |",
                    md_code(&d.device),
                    ds.creates,
                    ds.updates,
                    ds.deletes,
                    ds.subscribers_interrupted,
                    ds.subscribers_rate_changed
                );
            }
            Outcome::Unknown { .. } => {
                let _ = writeln!(out, "| {} | **unknown** | | | | | |", md_code(&d.device));
            }
            Outcome::Error { .. } => {
                let _ = writeln!(out, "| {} | **error** | | | | | |", md_code(&d.device));
            }
        }
    }
    out.push('\n');
    for d in &plan.devices {
        match &d.outcome {
            Outcome::Planned {
                changes,
                orphans,
                violations,
                summary: ds,
                ..
            } => {
                if changes.is_empty() && orphans.is_empty() && violations.is_empty() {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "<details><summary>{}: {} ({} interrupted)</summary>\n",
                    html_code(&d.device),
                    counts(ds),
                    ds.subscribers_interrupted
                );
                for v in violations {
                    let _ = writeln!(
                        out,
                        "> **Safety limit:** {} _{}_\n",
                        md(&v.message),
                        // gamops's own words, with their code spans.
                        v.hint
                    );
                }
                if !changes.is_empty() {
                    out.push_str("```diff\n");
                    change_lines(changes, &mut out, &Paint(Colour::Never), "");
                    out.push_str("```\n\n");
                }
                if !orphans.is_empty() {
                    let list: Vec<String> = orphans
                        .iter()
                        .map(|o| format!("{} {}", o.kind.noun(), md_code(&o.key)))
                        .collect();
                    let _ = writeln!(out, "Orphans kept (prune is off): {}\n", list.join(", "));
                }
                out.push_str("</details>\n\n");
            }
            Outcome::Unknown { reason } => {
                let _ = writeln!(
                    out,
                    "**{} could not be read:** {}. Nothing was planned for it.\n",
                    md_code(&d.device),
                    md(reason)
                );
            }
            Outcome::Error { message, hint } => {
                let _ = writeln!(
                    out,
                    "**{}:** {} ({})\n",
                    md_code(&d.device),
                    md(message),
                    hint
                );
            }
        }
    }
    out
}

/// The plan as JSON (the plan file).
pub fn json(plan: &Plan) -> String {
    let mut s =
        serde_json::to_string_pretty(plan).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
