//! Each alert's state across evaluations, and the transitions worth telling people about.
//!
//! An alert (one dedup key) is inactive, pending (its condition holds, for less than its rule's
//! `for`) or firing. A pending alert whose condition goes away is dropped silently; a firing
//! one resolves once its condition has been gone for `clear_for` (thresholds with hysteresis
//! are the rules' part: a firing alert's condition is judged against its clear threshold).
//! Each firing and each resolving is returned exactly once.
//!
//! Flap suppression: every change of a condition (holds / gone) is remembered for
//! `flap_window`; an alert with `flap_changes` or more in the window is flapping, and while it
//! flaps it neither fires nor resolves. It stops flapping when a whole window passes without a
//! change, and then fires or resolves as its condition says. So a link that bounces every
//! minute sends a bounded number of notifications, not one per bounce.
//!
//! Suppression: a subject an observation could not decide (an unreachable GAM's endpoints)
//! keeps its firing alerts as they are, and its pending ones start over.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

use super::{Condition, Config, Observed, RuleKind};
use crate::notifications::{AlertStatus, Notification};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Inactive,
    Pending {
        since: i64,
    },
    Firing {
        since: i64,
        clear_since: Option<i64>,
    },
}

#[derive(Clone, Debug)]
struct Tracked {
    condition: Condition,
    phase: Phase,
    /// Whether the condition held at the last evaluation that decided it.
    holds: bool,
    /// When the condition last changed, within the flap window.
    changes: VecDeque<i64>,
    flapping: bool,
    suppressed: bool,
}

/// An alert as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertView {
    pub key: String,
    pub rule: RuleKind,
    pub state: &'static str,
    pub flapping: bool,
    pub suppressed: bool,
    /// Pending since, or firing since (unix ms).
    pub since_ms: i64,
}

/// The alerts' states. Pure: the caller says what time it is.
#[derive(Clone, Debug)]
pub struct Engine {
    config: Config,
    alerts: BTreeMap<String, Tracked>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Engine {
    pub fn new(config: Config) -> Engine {
        Engine {
            config,
            alerts: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// New settings (a new commit's gamops.yaml); alerts keep their states.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// Takes back alerts that were firing (from the store, after a restart), so that a
    /// condition still there does not fire twice and one gone resolves once.
    pub fn restore(&mut self, firing: Vec<(Condition, i64)>) {
        for (condition, since) in firing {
            self.alerts.insert(
                condition.key.clone(),
                Tracked {
                    condition,
                    phase: Phase::Firing {
                        since,
                        clear_since: None,
                    },
                    holds: true,
                    changes: VecDeque::new(),
                    flapping: false,
                    suppressed: false,
                },
            );
        }
    }

    /// Whether the alert `key` is pending or firing: a rule with hysteresis judges it against
    /// its clear threshold then.
    pub fn is_active(&self, key: &str) -> bool {
        self.alerts
            .get(key)
            .is_some_and(|t| t.phase != Phase::Inactive)
    }

    /// The last condition seen of the alert `key`, while it is tracked.
    pub fn condition(&self, key: &str) -> Option<&Condition> {
        self.alerts.get(key).map(|t| &t.condition)
    }

    /// Whether the alert `key` is firing.
    pub fn is_firing(&self, key: &str) -> bool {
        self.alerts
            .get(key)
            .is_some_and(|t| matches!(t.phase, Phase::Firing { .. }))
    }

    /// The pending and firing alerts.
    pub fn views(&self) -> Vec<AlertView> {
        self.alerts
            .iter()
            .filter_map(|(key, t)| {
                let (state, since) = match t.phase {
                    Phase::Inactive => return None,
                    Phase::Pending { since } => ("pending", since),
                    Phase::Firing { since, .. } => ("firing", since),
                };
                Some(AlertView {
                    key: key.clone(),
                    rule: t.condition.rule,
                    state,
                    flapping: t.flapping,
                    suppressed: t.suppressed,
                    since_ms: since,
                })
            })
            .collect()
    }

    /// Evaluates one observation made at `now_ms` and returns the alerts that fired or
    /// resolved, each once.
    pub fn evaluate(&mut self, now_ms: i64, observed: Observed) -> Vec<Notification> {
        let mut conditions: BTreeMap<String, Condition> = BTreeMap::new();
        for c in observed.conditions {
            if self.config.rule(c.rule).enabled {
                conditions.entry(c.key.clone()).or_insert(c);
            }
        }
        let mut keys: Vec<String> = self
            .alerts
            .iter()
            .filter(|(_, t)| {
                let pair = (t.condition.rule, t.condition.subject.clone());
                observed.covered.contains(&pair) || observed.suppressed.contains(&pair)
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.extend(
            conditions
                .keys()
                .filter(|k| !self.alerts.contains_key(*k))
                .cloned(),
        );
        let mut out = Vec::new();
        for key in keys {
            let condition = conditions.remove(&key);
            let (rule, subject) = match (&condition, self.alerts.get(&key)) {
                (Some(c), _) => (c.rule, c.subject.clone()),
                (None, Some(t)) => (t.condition.rule, t.condition.subject.clone()),
                (None, None) => continue,
            };
            let suppressed = observed.suppressed.contains(&(rule, subject));
            if let Some(n) = self.step(now_ms, &key, condition, suppressed) {
                out.push(n);
            }
        }
        // Inactive alerts with nothing left to remember are forgotten.
        self.alerts
            .retain(|_, t| t.phase != Phase::Inactive || !t.changes.is_empty());
        out
    }

    /// Resolves (and forgets) the alerts whose subject is gone: a device no longer in the
    /// inventory, a billing system no longer configured.
    pub fn retain_subjects(
        &mut self,
        now_ms: i64,
        keep: impl Fn(RuleKind, &str) -> bool,
    ) -> Vec<Notification> {
        let gone: Vec<String> = self
            .alerts
            .iter()
            .filter(|(_, t)| !keep(t.condition.rule, &t.condition.subject))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for key in gone {
            if let Some(t) = self.alerts.remove(&key)
                && let Phase::Firing { since, .. } = t.phase
            {
                let mut c = t.condition;
                c.resolved = format!("{} (no longer watched)", c.resolved);
                out.push(notification(&c, AlertStatus::Resolved, since, Some(now_ms)));
            }
        }
        out
    }

    fn step(
        &mut self,
        now: i64,
        key: &str,
        condition: Option<Condition>,
        suppressed: bool,
    ) -> Option<Notification> {
        let window = ms(self.config.flap_window);
        let flap_changes = self.config.flap_changes;
        let holds = condition.is_some();
        let rule = match (&condition, self.alerts.get(key)) {
            (Some(c), _) => c.rule,
            (None, Some(t)) => t.condition.rule,
            (None, None) => return None,
        };
        let rc = self.config.rule(rule);
        if !self.alerts.contains_key(key) {
            let c = condition.clone()?;
            self.alerts.insert(
                key.to_string(),
                Tracked {
                    condition: c,
                    phase: Phase::Inactive,
                    holds: false,
                    changes: VecDeque::new(),
                    flapping: false,
                    suppressed: false,
                },
            );
        }
        let t = self.alerts.get_mut(key)?;
        t.suppressed = suppressed;
        if suppressed {
            // Not decided: a firing alert stays as it is, a pending one starts over.
            if matches!(t.phase, Phase::Pending { .. }) {
                t.phase = Phase::Inactive;
            }
            return None;
        }
        if let Some(c) = condition {
            t.condition = c;
        }
        if holds != t.holds {
            t.changes.push_back(now);
            t.holds = holds;
        }
        while t.changes.front().is_some_and(|&at| now - at >= window) {
            t.changes.pop_front();
        }
        if t.changes.len() >= flap_changes {
            t.flapping = true;
        } else if t.changes.is_empty() {
            t.flapping = false;
        }
        match t.phase.clone() {
            Phase::Inactive if holds => {
                t.phase = Phase::Pending { since: now };
                fire_if_due(t, now, rc.for_)
            }
            Phase::Inactive => None,
            Phase::Pending { .. } if holds => fire_if_due(t, now, rc.for_),
            Phase::Pending { .. } => {
                t.phase = Phase::Inactive;
                None
            }
            Phase::Firing { since, .. } if holds => {
                t.phase = Phase::Firing {
                    since,
                    clear_since: None,
                };
                None
            }
            Phase::Firing { since, clear_since } => {
                let clear_since = clear_since.unwrap_or(now);
                t.phase = Phase::Firing {
                    since,
                    clear_since: Some(clear_since),
                };
                if !t.flapping && now - clear_since >= ms(rc.clear_for) {
                    t.phase = Phase::Inactive;
                    Some(notification(
                        &t.condition,
                        AlertStatus::Resolved,
                        since,
                        Some(now),
                    ))
                } else {
                    None
                }
            }
        }
    }
}

/// Fires a pending alert whose condition has held for `for_`, unless it flaps.
fn fire_if_due(t: &mut Tracked, now: i64, for_: Duration) -> Option<Notification> {
    let Phase::Pending { since } = t.phase else {
        return None;
    };
    if t.flapping || now - since < ms(for_) {
        return None;
    }
    t.phase = Phase::Firing {
        since: now,
        clear_since: None,
    };
    Some(notification(&t.condition, AlertStatus::Firing, now, None))
}

fn notification(
    c: &Condition,
    status: AlertStatus,
    starts_at_ms: i64,
    ends_at_ms: Option<i64>,
) -> Notification {
    let (summary, description) = match status {
        AlertStatus::Firing => (c.summary.clone(), c.description.clone()),
        AlertStatus::Resolved => (
            c.resolved.clone(),
            format!("resolved: {}\nwas: {}", c.resolved, c.summary),
        ),
    };
    Notification {
        key: c.key.clone(),
        rule: c.rule.as_str().to_string(),
        severity: c.severity,
        status,
        device: c.device.clone(),
        labels: c.labels.clone(),
        summary,
        description,
        starts_at_ms,
        ends_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertSettings, Interval, RuleSettings};
    use crate::notifications::Severity;
    use proptest::prelude::*;

    const MIN: i64 = 60_000;

    fn cond(key: &str) -> Condition {
        Condition {
            key: key.into(),
            rule: RuleKind::EndpointOffline,
            subject: "gam".into(),
            device: Some("gam".into()),
            severity: Severity::Warning,
            labels: BTreeMap::new(),
            summary: format!("{key} offline"),
            description: String::new(),
            resolved: format!("{key} back"),
        }
    }

    fn config(for_min: u64, clear_min: u64) -> Config {
        Config::new(&AlertSettings {
            endpoint_offline: RuleSettings {
                for_: Some(Interval(Duration::from_secs(for_min * 60))),
                clear_for: Some(Interval(Duration::from_secs(clear_min * 60))),
                ..RuleSettings::default()
            },
            ..AlertSettings::default()
        })
    }

    fn observed(holds: bool, suppressed: bool) -> Observed {
        let pair = (RuleKind::EndpointOffline, "gam".to_string());
        let mut o = Observed::default();
        if suppressed {
            o.suppressed.insert(pair);
        } else {
            o.covered.insert(pair);
        }
        if holds {
            o.conditions.push(cond("endpoint-offline/gam/a"));
        }
        o
    }

    /// (status, at) of every notification over a sequence of per-minute observations.
    fn run(engine: &mut Engine, steps: &[(bool, bool)]) -> Vec<(AlertStatus, i64)> {
        let mut out = Vec::new();
        for (i, &(holds, suppressed)) in steps.iter().enumerate() {
            let now = i as i64 * MIN;
            for n in engine.evaluate(now, observed(holds, suppressed)) {
                out.push((n.status, now));
            }
        }
        out
    }

    #[test]
    fn fires_after_for_and_resolves_once() {
        let mut e = Engine::new(config(3, 0));
        let steps: Vec<_> = [false, true, true, true, true, true, false, false]
            .iter()
            .map(|h| (*h, false))
            .collect();
        let got = run(&mut e, &steps);
        assert_eq!(
            got,
            [
                (AlertStatus::Firing, 4 * MIN),
                (AlertStatus::Resolved, 6 * MIN)
            ]
        );
        assert!(e.views().is_empty());
    }

    #[test]
    fn a_short_blip_never_fires_and_clear_for_holds_the_resolve() {
        // Six changes here: not counted as flapping for this test.
        let mut c = config(3, 2);
        c.flap_changes = 20;
        let mut e = Engine::new(c);
        let steps: Vec<_> = [
            true, true, false, true, true, true, true, false, true, false, false, false,
        ]
        .iter()
        .map(|h| (*h, false))
        .collect();
        let got = run(&mut e, &steps);
        // Pending from 3, fires at 6; gone at 7, back at 8 (still firing), gone from 9,
        // resolved at 11 (2 minutes later).
        assert_eq!(
            got,
            [
                (AlertStatus::Firing, 6 * MIN),
                (AlertStatus::Resolved, 11 * MIN)
            ]
        );
    }

    #[test]
    fn suppression_neither_fires_nor_resolves_and_restarts_pending() {
        let mut e = Engine::new(config(2, 0));
        // Holds 0-1, suppressed 2-4 (would have fired at 2), holds again 5-7: fires at 7.
        let steps = [
            (true, false),
            (true, false),
            (true, true),
            (true, true),
            (false, true),
            (true, false),
            (true, false),
            (true, false),
        ];
        assert_eq!(run(&mut e, &steps), [(AlertStatus::Firing, 7 * MIN)]);
        // Firing, then the GAM is unreachable: no resolve while suppressed; then gone: resolved.
        let mut e = Engine::new(config(0, 0));
        let steps = [(true, false), (false, true), (false, true), (false, false)];
        assert_eq!(
            run(&mut e, &steps),
            [(AlertStatus::Firing, 0), (AlertStatus::Resolved, 3 * MIN)]
        );
    }

    #[test]
    fn a_flapping_condition_is_held_until_steady() {
        let mut e = Engine::new(config(0, 0));
        // Bounces every minute for 20 minutes, then steady off.
        let mut steps: Vec<(bool, bool)> = (0..20).map(|i| (i % 2 == 0, false)).collect();
        steps.extend(std::iter::repeat_n((false, false), 40));
        let got = run(&mut e, &steps);
        // 6 changes in the window make it flap: fire 0, resolve 1, fire 2, resolve 3, fire 4;
        // the 6th change (at 5) finds it flapping: it stays firing until steady for 30 minutes.
        let firing = got.iter().filter(|n| n.0 == AlertStatus::Firing).count();
        let resolved = got.iter().filter(|n| n.0 == AlertStatus::Resolved).count();
        assert_eq!(firing, 3, "{got:?}");
        assert_eq!(resolved, 3, "{got:?}");
        assert_eq!(got.last().unwrap().0, AlertStatus::Resolved);
        assert!(got.last().unwrap().1 >= 19 * MIN + 30 * MIN, "{got:?}");
    }

    #[test]
    fn restored_alerts_do_not_fire_again_and_resolve_once() {
        let mut e = Engine::new(config(0, 0));
        e.restore(vec![(cond("endpoint-offline/gam/a"), 5)]);
        assert!(e.evaluate(MIN, observed(true, false)).is_empty());
        let n = e.evaluate(2 * MIN, observed(false, false));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].status, AlertStatus::Resolved);
        assert_eq!(n[0].starts_at_ms, 5);
        assert_eq!(n[0].ends_at_ms, Some(2 * MIN));
        assert_eq!(n[0].summary, "endpoint-offline/gam/a back");
    }

    #[test]
    fn gone_subjects_resolve_their_firing_alerts() {
        let mut e = Engine::new(config(0, 0));
        assert_eq!(e.evaluate(0, observed(true, false)).len(), 1);
        let n = e.retain_subjects(MIN, |_, s| s != "gam");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].status, AlertStatus::Resolved);
        assert!(e.views().is_empty());
    }

    #[test]
    fn a_disabled_rule_never_fires() {
        let mut e = Engine::new(Config::new(&AlertSettings {
            endpoint_offline: RuleSettings {
                enabled: Some(false),
                ..RuleSettings::default()
            },
            ..AlertSettings::default()
        }));
        assert!(run(&mut e, &[(true, false); 20]).is_empty());
    }

    proptest! {
        /// Whatever the sequence: notifications alternate, firing first; a firing comes only
        /// after `for` minutes of the condition holding without a gap; nothing is said while
        /// suppressed; and the last notification agrees with a long steady end.
        #[test]
        fn notifications_alternate_and_respect_for(
            steps in proptest::collection::vec((any::<bool>(), proptest::bool::weighted(0.15)), 0..80),
            for_min in 0u64..5,
            clear_min in 0u64..3,
            end in any::<bool>(),
        ) {
            let mut e = Engine::new(config(for_min, clear_min));
            let mut all = steps.clone();
            // A steady end, longer than the flap window and every duration.
            all.extend(std::iter::repeat_n((end, false), 45));
            let got = run(&mut e, &all);
            for (i, (status, _)) in got.iter().enumerate() {
                let expected = if i % 2 == 0 { AlertStatus::Firing } else { AlertStatus::Resolved };
                prop_assert_eq!(*status, expected);
            }
            for (status, at) in &got {
                let i = (*at / MIN) as usize;
                prop_assert!(!all[i].1, "said something while suppressed at {}", i);
                if *status == AlertStatus::Firing {
                    // The condition held, decided, for `for_min` minutes up to now.
                    let held = all[..=i].iter().rev().take_while(|s| s.0 && !s.1).count();
                    prop_assert!(held as u64 > for_min, "fired at {} after {} steps", i, held);
                }
            }
            let firing_at_end = got.len() % 2 == 1;
            prop_assert_eq!(firing_at_end, end);
        }

        /// One clean fault (off, on for long enough, off for long enough) fires and resolves
        /// exactly once, whatever the durations.
        #[test]
        fn one_clean_fault_fires_and_resolves_exactly_once(
            before in 0usize..10, on_extra in 0usize..10, for_min in 0u64..6, clear_min in 0u64..4,
        ) {
            let mut e = Engine::new(config(for_min, clear_min));
            let mut steps = vec![(false, false); before];
            steps.extend(vec![(true, false); for_min as usize + 1 + on_extra]);
            steps.extend(vec![(false, false); clear_min as usize + 1]);
            let got = run(&mut e, &steps);
            prop_assert_eq!(got.len(), 2, "{:?}", got);
            prop_assert_eq!(got[0].0, AlertStatus::Firing);
            prop_assert_eq!(got[1].0, AlertStatus::Resolved);
        }
    }
}
