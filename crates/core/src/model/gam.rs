//! The catalogue of Positron GAM models: how many G.hn ports each has and over which medium.
//!
//! Source: GAM-PRODUCTS-MIB (sysObjectID `1.3.6.1.4.1.20095.2000.1.N`) and the installation guide.
//! Suffixes: `M` = MIMO/SISO copper (phone pair), `C` = coax, `R` = reverse power feed,
//! `X` = outdoor. Only the models whose port count and medium are documented are listed.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The physical medium of a model's G.hn ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Medium {
    /// Phone pair, MIMO or SISO: one endpoint per port.
    Copper,
    /// Coax through splitters: up to 16 endpoints per port.
    Coax,
}

impl Medium {
    /// How many endpoints one G.hn port of this medium serves.
    pub const fn endpoints_per_port(self) -> usize {
        match self {
            Medium::Copper => 1,
            Medium::Coax => 16,
        }
    }
}

/// A GAM hardware model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum GamModel {
    #[serde(rename = "GAM-4-MRX")]
    Gam4Mrx,
    #[serde(rename = "GAM-4-CRX")]
    Gam4Crx,
    #[serde(rename = "GAM-8-MRX")]
    Gam8Mrx,
    #[serde(rename = "GAM-8-CRX")]
    Gam8Crx,
    #[serde(rename = "GAM-12-M")]
    Gam12M,
    #[serde(rename = "GAM-12-C")]
    Gam12C,
    #[serde(rename = "GAM-24-M")]
    Gam24M,
    #[serde(rename = "GAM-24-C")]
    Gam24C,
    #[serde(rename = "GAM-4-MX")]
    Gam4Mx,
    #[serde(rename = "GAM-4-CX")]
    Gam4Cx,
    #[serde(rename = "GAM-8-MX")]
    Gam8Mx,
    #[serde(rename = "GAM-8-CX")]
    Gam8Cx,
}

/// Static facts about one model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    pub model: GamModel,
    /// The name Positron prints (`sysDescr`, the label on the box).
    pub name: &'static str,
    /// N in sysObjectID `1.3.6.1.4.1.20095.2000.1.N`.
    pub sys_object_id: u32,
    pub ghn_ports: u8,
    pub medium: Medium,
    /// SFP+ uplinks (10G). Indoor models have two; for outdoor models one is assumed.
    pub uplinks: u8,
}

const CATALOGUE: &[ModelInfo] = &[
    info(GamModel::Gam4Mrx, "GAM-4-MRX", 1, 4, Medium::Copper, 1),
    info(GamModel::Gam4Crx, "GAM-4-CRX", 2, 4, Medium::Coax, 1),
    info(GamModel::Gam8Mrx, "GAM-8-MRX", 7, 8, Medium::Copper, 1),
    info(GamModel::Gam8Crx, "GAM-8-CRX", 10, 8, Medium::Coax, 1),
    info(GamModel::Gam12M, "GAM-12-M", 13, 12, Medium::Copper, 2),
    info(GamModel::Gam12C, "GAM-12-C", 14, 12, Medium::Coax, 2),
    info(GamModel::Gam24M, "GAM-24-M", 15, 24, Medium::Copper, 2),
    info(GamModel::Gam24C, "GAM-24-C", 16, 24, Medium::Coax, 2),
    info(GamModel::Gam4Mx, "GAM-4-MX", 17, 4, Medium::Copper, 1),
    info(GamModel::Gam4Cx, "GAM-4-CX", 18, 4, Medium::Coax, 1),
    info(GamModel::Gam8Mx, "GAM-8-MX", 19, 8, Medium::Copper, 1),
    info(GamModel::Gam8Cx, "GAM-8-CX", 20, 8, Medium::Coax, 1),
];

const fn info(
    model: GamModel,
    name: &'static str,
    sys_object_id: u32,
    ghn_ports: u8,
    medium: Medium,
    uplinks: u8,
) -> ModelInfo {
    ModelInfo {
        model,
        name,
        sys_object_id,
        ghn_ports,
        medium,
        uplinks,
    }
}

/// A GAM numbers its interfaces from here (GAM-TC `GAMInterfaceIndex`): G.hn port n is
/// `PORT_IF_INDEX_BASE + n`, and the uplinks follow the G.hn ports (see
/// [`GamModel::uplink_base`]).
pub const PORT_IF_INDEX_BASE: u32 = 1_000_000;

impl GamModel {
    /// The ifIndex the uplinks count from: uplink n is `uplink_base() + n`, right after the
    /// model's last G.hn port. The CLI names uplinks by it in `nni` options.
    pub fn uplink_base(self) -> u32 {
        PORT_IF_INDEX_BASE + u32::from(self.ghn_ports())
    }

    /// The uplink an ifIndex names on this model, if it names one.
    pub fn uplink_of_if_index(self, if_index: u32) -> Option<super::Uplink> {
        if_index
            .checked_sub(self.uplink_base())
            .and_then(|n| u8::try_from(n).ok())
            .and_then(super::Uplink::new)
    }

    /// Every known model, in catalogue order.
    pub fn all() -> impl Iterator<Item = GamModel> {
        CATALOGUE.iter().map(|i| i.model)
    }

    pub fn info(self) -> &'static ModelInfo {
        // The catalogue lists every variant once (checked by a test), so the search always hits.
        CATALOGUE
            .iter()
            .find(|i| i.model == self)
            .unwrap_or(&CATALOGUE[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn ghn_ports(self) -> u8 {
        self.info().ghn_ports
    }

    pub fn medium(self) -> Medium {
        self.info().medium
    }

    /// The model whose sysObjectID ends in `n`.
    pub fn from_sys_object_id(n: u32) -> Option<GamModel> {
        CATALOGUE
            .iter()
            .find(|i| i.sys_object_id == n)
            .map(|i| i.model)
    }
}

impl fmt::Display for GamModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name was not one of the catalogue's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown GAM model {0:?}")]
pub struct UnknownModel(pub String);

impl FromStr for GamModel {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CATALOGUE
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(s))
            .map(|i| i.model)
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_is_in_the_catalogue_once() {
        for info in CATALOGUE {
            assert_eq!(info.model.info(), info);
            assert_eq!(info.name.parse::<GamModel>(), Ok(info.model));
            assert_eq!(
                GamModel::from_sys_object_id(info.sys_object_id),
                Some(info.model)
            );
            assert_eq!(
                CATALOGUE.iter().filter(|i| i.model == info.model).count(),
                1
            );
        }
    }

    #[test]
    fn real_walk_model_is_a_coax_twelve_port() {
        // sysObjectID .1.3.6.1.4.1.20095.2000.1.14 in the GAM-12-C walk.
        let m = GamModel::from_sys_object_id(14).unwrap();
        assert_eq!(m, GamModel::Gam12C);
        assert_eq!(m.ghn_ports(), 12);
        assert_eq!(m.medium(), Medium::Coax);
        assert_eq!(m.medium().endpoints_per_port(), 16);
    }

    #[test]
    fn serde_name_matches_display() {
        for m in GamModel::all() {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
    }
}
