//! The `billing:` section of gamops.yaml: where the billing systems are, which of their statuses
//! mean active or suspended, which of their custom fields carry a subscriber's device, port, VLANs
//! and endpoint MAC, and how their rates become plan names.
//!
//! Only the shape lives here (no I/O): the clients and the mapping are in `crate::billing`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::located::Located;
use super::types::{Credential, Ident};

/// The billing systems gamops reads subscribers from. Either or both may be set; each writes
/// only the subscribers it owns (`managed_by`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingMapping {
    /// Sonar (v2 GraphQL API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sonar: Option<SonarMapping>,
    /// Splynx (REST API v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splynx: Option<SplynxMapping>,
    /// How billing rates become plan names from plans.yaml.
    #[serde(default)]
    pub plans: PlanMatching,
    /// What the sync does with a subscriber whose customer is gone from billing, or is no longer
    /// a subscriber there (inactive, disabled, no data service): `suspend` (the default) or
    /// `delete`.
    #[serde(default)]
    pub removed: Located<RemovalPolicy>,
    /// The identity the sync commits as; `gamops-sync <gamops-sync@localhost>` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<BotIdentity>,
}

/// What happens to a billing-owned subscriber whose customer billing no longer serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RemovalPolicy {
    /// Keep the file, with `status: suspended`.
    #[default]
    Suspend,
    /// Delete the subscriber's file.
    Delete,
}

/// The author and committer of the sync's commits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BotIdentity {
    pub name: String,
    pub email: String,
}

impl Default for BotIdentity {
    fn default() -> Self {
        BotIdentity {
            name: "gamops-sync".into(),
            email: "gamops-sync@localhost".into(),
        }
    }
}

/// Sonar: the instance, its token, and what its statuses and custom fields mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SonarMapping {
    /// The instance's base URL (`https://isp.sonar.software`) or its `/api/graphql` URL.
    pub url: Located<String>,
    /// The personal access token: `env:NAME` or `file:PATH`.
    pub token: Located<Credential>,
    /// Which account statuses mean what. By default an account whose status
    /// `activates_account` is active, and suspended while `is_delinquent`.
    #[serde(default)]
    pub statuses: SonarStatuses,
    /// The custom fields (account or service address) that carry the GAM wiring.
    #[serde(default)]
    pub fields: FieldNames,
    /// The secret token in the webhook URL (`/webhooks/sonar/<token>`; Sonar does not sign its
    /// webhooks): `env:NAME` or `file:PATH`. Needed by `gamops sync serve sonar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_token: Option<Located<Credential>>,
}

/// Sonar statuses are defined per ISP: name the ones that need a meaning other than the default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SonarStatuses {
    /// Status names that mean active, whatever their `activates_account` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<String>,
    /// Status names that mean suspended (the subscriber stays on the GAM, suspended).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspended: Vec<String>,
    /// Suspend an active account while Sonar flags it delinquent (the default).
    #[serde(default = "yes")]
    pub suspend_delinquent: bool,
}

impl Default for SonarStatuses {
    fn default() -> Self {
        SonarStatuses {
            active: Vec::new(),
            suspended: Vec::new(),
            suspend_delinquent: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// Splynx: the instance, how to authenticate, and what its statuses and fields mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplynxMapping {
    /// The instance's base URL (`https://splynx.example.net`); `/api/2.0/` is added.
    pub url: Located<String>,
    /// How to authenticate: with an API key and its secret.
    pub auth: SplynxAuthSettings,
    /// Which customer statuses mean what. A blocked Splynx customer keeps `active` services,
    /// so the customer's status decides, not the service's.
    #[serde(default)]
    pub statuses: SplynxStatuses,
    /// The additional fields of internet services (or customers) that carry the GAM wiring.
    /// Main attributes of the service are available as `service.<name>` (e.g.
    /// `service.access_device`, `service.mac`).
    #[serde(default)]
    pub fields: FieldNames,
    /// The secret Splynx signs hooks with (`X-Splynx-Signature`): `env:NAME` or `file:PATH`.
    /// Needed by `gamops sync serve splynx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Located<Credential>>,
}

/// Splynx API-key authentication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplynxAuthSettings {
    /// `basic` (needs "Unsecure access" on the key), `signature` (a signed nonce per request)
    /// or `token` (an access token, renewed with its refresh token; the default).
    #[serde(default)]
    pub mode: SplynxAuthMode,
    /// The API key (not secret, but kept out of git too): `env:NAME` or `file:PATH`.
    pub key: Located<Credential>,
    /// The API secret: `env:NAME` or `file:PATH`.
    pub secret: Located<Credential>,
}

/// The three ways the Splynx API authenticates an API key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SplynxAuthMode {
    Basic,
    Signature,
    #[default]
    Token,
}

/// Splynx customer statuses are `new`, `active`, `blocked` and `disabled`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplynxStatuses {
    /// Customer statuses that mean active.
    #[serde(default = "SplynxStatuses::default_active")]
    pub active: Vec<String>,
    /// Customer statuses that mean suspended.
    #[serde(default = "SplynxStatuses::default_suspended")]
    pub suspended: Vec<String>,
}

impl SplynxStatuses {
    fn default_active() -> Vec<String> {
        vec!["active".into()]
    }

    fn default_suspended() -> Vec<String> {
        vec!["blocked".into()]
    }
}

impl Default for SplynxStatuses {
    fn default() -> Self {
        SplynxStatuses {
            active: Self::default_active(),
            suspended: Self::default_suspended(),
        }
    }
}

/// The names of the billing fields that carry a subscriber's wiring on the GAM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldNames {
    /// The field naming the GAM (a device name from devices/, or a key of `device_aliases`).
    #[serde(default = "FieldNames::default_device")]
    pub device: String,
    /// The field holding the G.hn port number.
    #[serde(default = "FieldNames::default_port")]
    pub port: String,
    /// The field holding the C-VLAN.
    #[serde(default = "FieldNames::default_vlan")]
    pub vlan: String,
    /// The field holding the Q-in-Q outer VLAN, if the ISP uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_vlan: Option<String>,
    /// The field holding the endpoint's MAC. When left out, the MAC the billing system itself
    /// records is used (Sonar: the inventory item's primary field or an uninventoried MAC;
    /// Splynx: the service's `mac`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The field holding the subscriber's label on the GAM; the customer's name when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Billing's names for devices, when they differ from gamops' (e.g. a Splynx monitoring id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub device_aliases: BTreeMap<String, Ident>,
}

impl FieldNames {
    fn default_device() -> String {
        "gam".into()
    }

    fn default_port() -> String {
        "gam_port".into()
    }

    fn default_vlan() -> String {
        "vlan".into()
    }
}

impl Default for FieldNames {
    fn default() -> Self {
        FieldNames {
            device: Self::default_device(),
            port: Self::default_port(),
            vlan: Self::default_vlan(),
            outer_vlan: None,
            mac: None,
            name: None,
            device_aliases: BTreeMap::new(),
        }
    }
}

/// How a billing rate (kbps down and up) becomes a plan from plans.yaml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanMatching {
    /// `exact`: a plan with the same rates; `nearest`: the closest plan within
    /// `tolerance_percent`; `create`: as `nearest`, and propose a new plan when none fits.
    #[serde(default)]
    pub strategy: Located<PlanStrategy>,
    /// How far (in percent of the billing rate, in each direction) a plan may be from the
    /// billing rate and still match. The GAM shapes at layer 2, so plans usually sit 6-9 %
    /// above the advertised rate.
    #[serde(default = "PlanMatching::default_tolerance")]
    pub tolerance_percent: Located<u8>,
    /// With `create`: how much above the billing rate a new plan is set, in percent.
    #[serde(default = "PlanMatching::default_overhead")]
    pub overhead_percent: Located<u8>,
}

impl PlanMatching {
    fn default_tolerance() -> Located<u8> {
        Located::bare(10)
    }

    fn default_overhead() -> Located<u8> {
        Located::bare(9)
    }
}

impl Default for PlanMatching {
    fn default() -> Self {
        PlanMatching {
            strategy: Located::bare(PlanStrategy::default()),
            tolerance_percent: Self::default_tolerance(),
            overhead_percent: Self::default_overhead(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStrategy {
    Exact,
    #[default]
    Nearest,
    Create,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fleet;

    #[test]
    fn the_billing_section_parses_with_defaults_and_refuses_unknown_fields() {
        let fleet: Fleet = serde_saphyr::from_str(
            "billing:\n  splynx:\n    url: https://splynx.example.net\n    auth: { key: env:K, secret: env:S }\n    fields: { vlan: c_vlan }\n",
        )
        .unwrap();
        let b = fleet.billing.unwrap();
        let s = b.splynx.unwrap();
        assert_eq!(s.auth.mode, SplynxAuthMode::Token);
        assert_eq!(s.statuses.suspended, ["blocked"]);
        assert_eq!(
            (s.fields.device.as_str(), s.fields.vlan.as_str()),
            ("gam", "c_vlan")
        );
        assert_eq!(*b.plans.strategy, PlanStrategy::Nearest);
        assert_eq!(*b.removed, RemovalPolicy::Suspend);
        assert_eq!(b.bot, None);
        let fleet: Fleet = serde_saphyr::from_str(
            "billing:\n  removed: delete\n  bot: { name: Billing Bot, email: bot@isp.example }\n",
        )
        .unwrap();
        let b = fleet.billing.unwrap();
        assert_eq!(*b.removed, RemovalPolicy::Delete);
        assert_eq!(b.bot.unwrap().email, "bot@isp.example");
        assert!(
            serde_saphyr::from_str::<Fleet>(
                "billing:\n  sonar:\n    url: x\n    token: env:T\n    colour: red\n"
            )
            .is_err()
        );
    }
}
