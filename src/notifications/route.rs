//! Which channels a notification goes to: the routes in order, each matching by least
//! severity and by labels, the first match ending the search unless it says `continue`; the
//! default channels when none matched.

use crate::model::notifications::{NotificationSettings, Route};

use super::Notification;

/// Whether `route` takes `n`: its severity at least the route's, and each of the route's
/// labels carried with the same value (`device` is also the notification's device).
fn matches(route: &Route, n: &Notification) -> bool {
    if route.severity.is_some_and(|s| n.severity < s) {
        return false;
    }
    route.matchers.iter().all(|(name, value)| {
        n.labels.get(name) == Some(value)
            || (name == "device" && n.device.as_deref() == Some(value.as_str()))
    })
}

/// The channels `n` goes to, each once, in the order the routes name them.
pub(super) fn channels(settings: &NotificationSettings, n: &Notification) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !out.iter().any(|c| c == name) {
            out.push(name.to_string());
        }
    };
    let mut matched = false;
    for route in &settings.routes {
        if matches(route, n) {
            matched = true;
            for c in &route.channels {
                add(c.as_str());
            }
            if !route.keep_matching {
                break;
            }
        }
    }
    if !matched {
        for c in &settings.default {
            add(c.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::{AlertStatus, Severity};

    fn note(severity: Severity, labels: &[(&str, &str)]) -> Notification {
        Notification {
            key: "k".into(),
            rule: "r".into(),
            severity,
            status: AlertStatus::Firing,
            device: Some("gam-1".into()),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            summary: "s".into(),
            description: String::new(),
            starts_at_ms: 0,
            ends_at_ms: None,
        }
    }

    fn settings(yaml: &str) -> NotificationSettings {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn routes_match_in_order_by_severity_and_labels() {
        let s = settings(
            "channels: {}\n\
             routes:\n\
             - match: {site: north}\n  severity: warning\n  channels: [north-mail]\n  continue: true\n\
             - severity: critical\n  channels: [pager, north-mail]\n\
             - match: {device: gam-1}\n  channels: [gam1]\n\
             default: [fallback]\n",
        );
        let north = |sev| channels(&s, &note(sev, &[("site", "north")]));
        assert_eq!(north(Severity::Warning), ["north-mail", "gam1"]);
        assert_eq!(north(Severity::Critical), ["north-mail", "pager"]);
        assert_eq!(north(Severity::Info), ["gam1"]);
        let mut south = note(Severity::Info, &[("site", "south")]);
        south.device = Some("gam-2".into());
        assert_eq!(channels(&s, &south), ["fallback"]);
        south.severity = Severity::Critical;
        assert_eq!(channels(&s, &south), ["pager", "north-mail"]);
    }
}
