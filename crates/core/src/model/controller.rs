//! `controller:` in gamops.yaml: how `gamops controller` treats the fleet.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::located::Located;
use super::types::{Credential, Ident};

/// How the controller keeps the fleet converged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControllerSettings {
    /// How often every device is read and planned to find drift: `300s`, `5m`, `1h`.
    #[serde(default = "ControllerSettings::default_interval")]
    pub interval: Located<Interval>,
    /// What the controller does with a device's changes, unless `devices` says otherwise.
    #[serde(default)]
    pub policy: Located<Policy>,
    /// The policy of single devices, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub devices: BTreeMap<Ident, Located<Policy>>,
    /// Apply a new commit that does not descend from the last one applied (a rewritten
    /// history). Off by default: such a commit is reported and not applied.
    #[serde(default)]
    pub allow_rewrites: bool,
    /// When devices with the `hold` policy may have changes that interrupt service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<Window>,
    /// The secret a forge's push webhook (`POST /hooks/git`) is verified with: `env:NAME` or
    /// `file:PATH`. Without it the hook is refused and the remote is fetched on the drift scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_webhook_secret: Option<Located<Credential>>,
    /// The HTTP endpoints that answer without an API token; the others need one with the
    /// `read` scope. All three by default (probes and Prometheus usually carry no token);
    /// `[]` closes them all.
    #[serde(
        default = "ControllerSettings::default_public",
        skip_serializing_if = "ControllerSettings::is_default_public"
    )]
    pub public: Vec<PublicEndpoint>,
    /// Plans on pull requests: the controller plans each pull (merge) request's head against
    /// the live devices and keeps one comment and a commit status on it up to date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_requests: Option<PullRequests>,
}

/// Plans on pull requests (delivered to `POST /hooks/git`, verified with
/// `git_webhook_secret`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PullRequests {
    /// The forge the pull requests are on, and how to reach its API.
    pub forge: Forge,
    /// The controller's address as reviewers reach it (`https://gamops.example.net`): a plan
    /// too long for a comment links to its full text there. Without it the comment says the
    /// path only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Located<String>>,
    /// Plan pull requests from forks too. Off by default. A fork's YAML is only parsed, never
    /// executed, and never applied before it is merged.
    #[serde(default)]
    pub forks: bool,
}

/// A forge's REST API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forge {
    pub kind: ForgeKind,
    /// The API's base URL: `https://api.github.com` (GitHub's, the default for `github`),
    /// `https://gitlab.example.net/api/v4`, `https://gitea.example.net/api/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Located<String>>,
    /// The repository: `owner/name` (on GitLab the project's full path, `group/sub/name`).
    pub repository: Located<String>,
    /// The API token, `env:NAME` or `file:PATH`: it needs to write comments and commit
    /// statuses (GitHub: issues and statuses; GitLab: `api`; Gitea: `write:repository` and
    /// `write:issue`).
    pub token: Located<Credential>,
}

/// Which forge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ForgeKind {
    Github,
    Gitlab,
    /// Gitea and Forgejo (the same API).
    Gitea,
}

impl ForgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitlab => "gitlab",
            ForgeKind::Gitea => "gitea",
        }
    }
}

/// An HTTP endpoint of the controller that may answer without an API token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PublicEndpoint {
    /// `/healthz`: alive.
    Healthz,
    /// `/readyz`: ready to serve.
    Readyz,
    /// `/metrics`: Prometheus metrics.
    Metrics,
}

impl PublicEndpoint {
    /// Every one, the default.
    pub const ALL: [PublicEndpoint; 3] = [
        PublicEndpoint::Healthz,
        PublicEndpoint::Readyz,
        PublicEndpoint::Metrics,
    ];

    /// Its path.
    pub fn path(self) -> &'static str {
        match self {
            PublicEndpoint::Healthz => "/healthz",
            PublicEndpoint::Readyz => "/readyz",
            PublicEndpoint::Metrics => "/metrics",
        }
    }
}

impl ControllerSettings {
    fn default_public() -> Vec<PublicEndpoint> {
        PublicEndpoint::ALL.to_vec()
    }

    fn is_default_public(public: &[PublicEndpoint]) -> bool {
        public == PublicEndpoint::ALL
    }

    fn default_interval() -> Located<Interval> {
        Located::bare(Interval(Duration::from_secs(300)))
    }

    /// The policy of one device.
    pub fn policy_of(&self, device: &str) -> Policy {
        self.devices
            .iter()
            .find(|(name, _)| name.as_str() == device)
            .map_or(*self.policy, |(_, p)| **p)
    }
}

impl Default for ControllerSettings {
    fn default() -> Self {
        ControllerSettings {
            interval: Self::default_interval(),
            policy: Located::bare(Policy::Auto),
            devices: BTreeMap::new(),
            allow_rewrites: false,
            windows: Vec::new(),
            git_webhook_secret: None,
            public: Self::default_public(),
            pull_requests: None,
        }
    }
}

/// A maintenance window: it opens at each time `cron` names and stays open for `duration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// When it opens, as cron's five fields: minute, hour, day of month, month, day of week
    /// (weekdays by name: `Sat`, `Mon-Fri`). `0 2 * * Sun` opens at 02:00 every Sunday.
    pub cron: Located<String>,
    /// How long it stays open: `2h`, `90m`.
    pub duration: Located<Interval>,
    /// The time zone `cron` is read in (an IANA name such as `America/Chicago`); UTC if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Located<String>>,
}

/// What the controller may do to a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Apply its changes as soon as they are planned.
    #[default]
    Auto,
    /// Plan and report drift; never apply.
    Report,
    /// Apply creates and changes that keep service (labels, rates) at once; changes that
    /// interrupt service (VLANs, endpoints, ports, deletes) wait for a maintenance window.
    Hold,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Auto => "auto",
            Policy::Report => "report",
            Policy::Hold => "hold",
        }
    }
}

/// A length of time written with a unit: `1500ms`, `90s`, `5m`, `1h`; a bare number is seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Interval(pub Duration);

impl JsonSchema for Interval {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Interval".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(ms|s|m|h)?$",
            "description": "A length of time: 1500ms, 90s, 5m, 1h; a bare number is seconds."
        })
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(text: &str) -> Result<Interval, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let n: u64 = number.parse().map_err(|_| {
            format!("{text:?} is not a length of time: write 600s, 10m, 1h (or seconds: 600)")
        })?;
        let d = match unit.trim() {
            "" | "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?}: use ms, s, m or h (600s, 10m, 1h)"
                ));
            }
        };
        Ok(Interval(d))
    }
}

impl TryFrom<String> for Interval {
    type Error = String;

    fn try_from(s: String) -> Result<Interval, String> {
        s.parse()
    }
}

impl From<Interval> for String {
    fn from(i: Interval) -> String {
        i.to_string()
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_or_without_a_unit_and_print_back() {
        for (text, secs, shown) in [
            ("300", 300, "5m"),
            ("90s", 90, "90s"),
            ("5m", 300, "5m"),
            ("1h", 3600, "1h"),
        ] {
            let i: Interval = text.parse().unwrap();
            assert_eq!(i.0, Duration::from_secs(secs));
            assert_eq!(i.to_string(), shown);
            assert_eq!(shown.parse::<Interval>().unwrap(), i);
        }
        assert_eq!("1500ms".parse::<Interval>().unwrap().to_string(), "1500ms");
        for bad in ["", "s", "-5", "1.5s", "10 parsecs"] {
            assert!(bad.parse::<Interval>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_device_policy_overrides_the_fleet_one() {
        let yaml = "interval: 1m\npolicy: auto\ndevices:\n  gam-b: report\n";
        let s: ControllerSettings = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(s.interval.0, Duration::from_secs(60));
        assert_eq!(s.policy_of("gam-a"), Policy::Auto);
        assert_eq!(s.policy_of("gam-b"), Policy::Report);
        assert!(serde_saphyr::from_str::<ControllerSettings>("interval: soon\n").is_err());
        assert!(serde_saphyr::from_str::<ControllerSettings>("policy: maybe\n").is_err());
    }
}
