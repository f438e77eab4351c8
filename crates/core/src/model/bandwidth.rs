//! `plans.yaml`: the fleet's bandwidth plans. gamops creates on each GAM only the profiles its
//! subscribers use.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::located::Located;
use super::types::{Description, Ident, Mbps};

/// The name a subscriber uses for "no shaping" (BwProfileId 0 on the GAM). No plan may take it.
pub const UNTHROTTLED: &str = "unthrottled";

/// The plans file: plan name to rates.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Plans(pub BTreeMap<Ident, BandwidthPlan>);

impl Serialize for Plans {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, plan) in self.canonical_order() {
            map.serialize_entry(name, plan)?;
        }
        map.end()
    }
}

/// One bandwidth plan (a GAM bandwidth profile).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BandwidthPlan {
    pub down_mbps: Located<Mbps>,
    pub up_mbps: Located<Mbps>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Located<Description>>,
}

impl BandwidthPlan {
    /// The faster of the two directions.
    pub fn peak(&self) -> Mbps {
        (*self.down_mbps).max(*self.up_mbps)
    }
}

impl Plans {
    pub fn get(&self, name: &str) -> Option<&BandwidthPlan> {
        self.0.get(name)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Ident, &BandwidthPlan)> {
        self.0.iter()
    }

    /// Plans in the order the canonical file lists them: fastest first, then by name.
    pub fn canonical_order(&self) -> Vec<(&Ident, &BandwidthPlan)> {
        let mut v: Vec<_> = self.0.iter().collect();
        v.sort_by(|a, b| {
            (b.1.down_mbps.get(), b.1.up_mbps.get())
                .cmp(&(a.1.down_mbps.get(), a.1.up_mbps.get()))
                .then_with(|| a.0.cmp(b.0))
        });
        v
    }
}
