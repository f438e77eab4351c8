//! A revision diff for people: terminal text and Markdown for a pull-request comment, each with
//! the summary line first. Built from the plan renderer's pieces (symbols, disruption tags, the
//! escaping of strings), so a diff and a plan read alike and a string cannot break either.

use std::fmt::Write as _;

use super::super::change::{Action, Disruption};
use super::super::render::{
    Colour, Paint, colour_of, disruption_tag, field_line, html_code, md, md_code, symbol,
};
use super::{
    DeviceDiff, DeviceStatus, ObjectDiff, RevisionDiff, RevisionSummary, SubscriberAction,
    SubscriberDiff,
};
use crate::device::printable as esc;

/// What the two sides are, as people name them (`main (1a2b3c4)`, `the work tree`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    pub base: String,
    pub head: String,
}

/// The one-line summary: what the change does to subscribers, on how many devices.
pub fn summary_line(s: &RevisionSummary, fleet_changed: bool) -> String {
    if !s.has_changes() {
        return if fleet_changed {
            "only fleet settings change; no device or subscriber changes".to_string()
        } else {
            "no changes".to_string()
        };
    }
    let mut parts = vec![format!(
        "{} subscriber(s) created, {} changed ({} interrupted, {} rate change only), {} deleted",
        s.subscribers_created,
        s.subscribers_changed,
        s.subscribers_interrupted,
        s.subscribers_rate_changed,
        s.subscribers_deleted
    )];
    if s.subscribers_unmanaged > 0 {
        parts.push(format!("{} no longer managed", s.subscribers_unmanaged));
    }
    let touched = s.devices_added + s.devices_removed + s.devices_changed + s.devices_error;
    let mut devices = format!("on {touched} of {} device(s)", s.devices);
    if s.devices_added + s.devices_removed > 0 {
        let _ = write!(
            devices,
            " ({} added, {} removed)",
            s.devices_added, s.devices_removed
        );
    }
    parts.push(devices);
    let mut line = parts.join(", ");
    if s.devices_blocked > 0 {
        let _ = write!(
            line,
            "; {} device(s) past a safety limit",
            s.devices_blocked
        );
    }
    if s.devices_error > 0 {
        let _ = write!(line, "; {} device(s) cannot be planned", s.devices_error);
    }
    line
}

fn subscriber_symbol(a: SubscriberAction) -> &'static str {
    match a {
        SubscriberAction::Created => symbol(Action::Create),
        SubscriberAction::Changed => symbol(Action::Update),
        SubscriberAction::Deleted => symbol(Action::Delete),
        SubscriberAction::Unmanaged => "?",
    }
}

fn subscriber_colour(a: SubscriberAction) -> &'static str {
    match a {
        SubscriberAction::Created => colour_of(Action::Create),
        SubscriberAction::Changed => colour_of(Action::Update),
        SubscriberAction::Deleted => colour_of(Action::Delete),
        SubscriberAction::Unmanaged => "2",
    }
}

fn status_word(s: DeviceStatus) -> &'static str {
    match s {
        DeviceStatus::Added => "added",
        DeviceStatus::Removed => "removed",
        DeviceStatus::Changed => "changed",
        DeviceStatus::Error => "error",
    }
}

fn subscriber_lines(s: &SubscriberDiff, out: &mut String, paint: &Paint, indent: &str) {
    let line = match s.action {
        SubscriberAction::Unmanaged => format!(
            "? subscriber {}: gone from the inventory, left on the device (prune is off)",
            esc(&s.subscriber)
        ),
        _ => format!(
            "{} subscriber {}{}",
            subscriber_symbol(s.action),
            esc(&s.subscriber),
            disruption_tag(s.disruption)
        ),
    };
    let _ = writeln!(
        out,
        "{indent}{}",
        paint.code(subscriber_colour(s.action), &line)
    );
    // A new subscriber lists what it is created with; empty values say nothing there.
    let shown = s.fields.iter().filter(|f| {
        s.action != SubscriberAction::Created || f.after.as_ref().is_some_and(|a| !a.is_empty())
    });
    for f in shown {
        let _ = writeln!(out, "{indent}    {}", field_line(f));
    }
    for c in &s.causes {
        let _ = writeln!(out, "{indent}    through {}", esc(c));
    }
    for f in &s.inventory_only {
        let _ = writeln!(
            out,
            "{indent}    {} (inventory only, not on the device)",
            field_line(f)
        );
    }
}

fn object_lines(o: &ObjectDiff, out: &mut String, paint: &Paint, indent: &str) {
    let line = format!(
        "{} {} {}{}",
        symbol(o.action),
        o.kind.noun(),
        esc(&o.key),
        disruption_tag(o.disruption)
    );
    let _ = writeln!(out, "{indent}{}", paint.code(colour_of(o.action), &line));
    let shown = o
        .fields
        .iter()
        .filter(|f| o.action != Action::Create || f.after.as_ref().is_some_and(|a| !a.is_empty()));
    for f in shown {
        let _ = writeln!(out, "{indent}    {}", field_line(f));
    }
    if o.disruption != Disruption::None && !o.affects.is_empty() {
        let _ = writeln!(
            out,
            "{indent}    affects {} subscriber(s): {}",
            o.affects.len(),
            esc(&o.affects.join(", "))
        );
    }
}

/// A device's subscribers and objects as `+ ~ -` lines; endpoints are shown through the
/// subscribers they serve, unless no subscriber is touched by their change.
fn device_lines(d: &DeviceDiff, out: &mut String, paint: &Paint, indent: &str) {
    if let Some(e) = &d.error {
        let _ = writeln!(out, "{indent}error: {}", esc(e));
    }
    if d.status == DeviceStatus::Removed {
        let _ = writeln!(
            out,
            "{indent}gone from the inventory: gamops stops managing it and changes nothing on it ({} subscriber(s) left as they are)",
            d.subscribers.len()
        );
        return;
    }
    for s in &d.subscribers {
        subscriber_lines(s, out, paint, indent);
    }
    for o in d.objects.iter().filter(|o| shown_object(o)) {
        object_lines(o, out, paint, indent);
    }
    if !d.settings_changed.is_empty() {
        let _ = writeln!(
            out,
            "{indent}device file: {} changed",
            esc(&d.settings_changed.join(", "))
        );
    }
}

/// Endpoints come and go with their subscribers: shown on their own only when they change
/// without one (a label, say).
fn shown_object(o: &ObjectDiff) -> bool {
    o.kind != super::ObjectKind::Endpoint || (o.action == Action::Update && o.affects.is_empty())
}

fn device_counts(d: &DeviceDiff) -> String {
    let count = |a: SubscriberAction| d.subscribers.iter().filter(|s| s.action == a).count();
    format!(
        "{} created, {} changed, {} deleted",
        count(SubscriberAction::Created),
        count(SubscriberAction::Changed),
        count(SubscriberAction::Deleted)
    )
}

/// The human form: the summary line, what each side is, then each device that differs.
pub fn text(diff: &RevisionDiff, labels: &Labels, colour: Colour) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Diff: {}",
        summary_line(&diff.summary, !diff.fleet_settings_changed.is_empty())
    );
    let _ = writeln!(
        out,
        "base: {}\nhead: {}",
        esc(&labels.base),
        esc(&labels.head)
    );
    if !diff.fleet_settings_changed.is_empty() {
        let _ = writeln!(
            out,
            "gamops.yaml: {} changed",
            diff.fleet_settings_changed.join(", ")
        );
    }
    for d in &diff.devices {
        out.push('\n');
        let _ = writeln!(
            out,
            "{}: {}, subscribers {}",
            paint.code("1", &esc(&d.device)),
            status_word(d.status),
            device_counts(d)
        );
        device_lines(d, &mut out, &paint, "  ");
        for v in &d.violations {
            let _ = writeln!(
                out,
                "  {} past a safety limit: {}",
                paint.code("1;31", "!"),
                esc(&v.message)
            );
            let _ = writeln!(out, "      hint: {}", esc(&v.hint));
        }
    }
    if diff.summary.devices_blocked > 0 {
        let _ = writeln!(
            out,
            "\n{} device(s) go past a safety limit: apply will refuse them without --force.",
            diff.summary.devices_blocked
        );
    }
    out
}

/// Text for a Markdown paragraph, escaped so that it cannot open a link, a tag or a code span.
pub fn inline(s: &str) -> String {
    md(s)
}

/// A fenced code block that its content cannot close: the fence is longer than any run of
/// backticks inside.
pub fn fenced(info: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let nl = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{info}\n{body}{nl}{fence}\n")
}

/// Markdown for a pull-request comment: the summary as the title, a table of the devices that
/// differ, then one collapsible section per device, interrupting changes called out.
pub fn markdown(diff: &RevisionDiff, labels: &Labels) -> String {
    let s = &diff.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### gamops diff: {}\n",
        summary_line(s, !diff.fleet_settings_changed.is_empty())
    );
    let _ = writeln!(
        out,
        "Base {} → head {}. No device was read: this is what `plan` would show for a fleet that matches the base.\n",
        md(&labels.base),
        md(&labels.head)
    );
    if s.subscribers_interrupted > 0 {
        let _ = writeln!(
            out,
            "> **{} subscriber(s) lose service during the change.**\n",
            s.subscribers_interrupted
        );
    }
    if s.devices_blocked > 0 {
        let _ = writeln!(
            out,
            "> **{} device(s) go past a safety limit**: apply will refuse them without `--force`.\n",
            s.devices_blocked
        );
    }
    if !diff.fleet_settings_changed.is_empty() {
        let keys: Vec<String> = diff
            .fleet_settings_changed
            .iter()
            .map(|k| md_code(k))
            .collect();
        let _ = writeln!(out, "`gamops.yaml`: {} changed.\n", keys.join(", "));
    }
    if diff.devices.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "| device | status | created | changed | interrupted | rate only | deleted | unmanaged |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    for d in &diff.devices {
        let count = |a: SubscriberAction| d.subscribers.iter().filter(|s| s.action == a).count();
        let status = if !d.violations.is_empty() {
            "**blocked**".to_string()
        } else if d.status == DeviceStatus::Error {
            "**error**".to_string()
        } else {
            status_word(d.status).to_string()
        };
        let _ = writeln!(
            out,
            "| {} | {status} | {} | {} | {} | {} | {} | {} |",
            md_code(&d.device),
            count(SubscriberAction::Created),
            count(SubscriberAction::Changed),
            d.summary.subscribers_interrupted,
            d.summary.subscribers_rate_changed,
            count(SubscriberAction::Deleted),
            count(SubscriberAction::Unmanaged)
        );
    }
    out.push('\n');
    for d in &diff.devices {
        let _ = writeln!(
            out,
            "<details><summary>{}: {}, {} ({} interrupted)</summary>\n",
            html_code(&d.device),
            status_word(d.status),
            device_counts(d),
            d.summary.subscribers_interrupted
        );
        for v in &d.violations {
            // The hint is gamops's own words, with their code spans.
            let _ = writeln!(out, "> **Safety limit:** {} _{}_\n", md(&v.message), v.hint);
        }
        let mut body = String::new();
        device_lines(d, &mut body, &Paint(Colour::Never), "");
        if !body.is_empty() {
            out.push_str(&fenced("diff", &body));
            out.push('\n');
        }
        out.push_str("</details>\n\n");
    }
    out
}
