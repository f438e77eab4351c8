//! Small value types of the simulated GAM: MAC addresses and VLAN ids/lists.
//!
//! They parse the way the GAM CLI accepts them and print the way its running-config shows them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An Ethernet MAC address. Printed lower-case with colons (`00:0e:d8:19:97:e6`), as the
/// running-config shows it; parsed from colon- or dash-separated hex in any case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

/// The text was not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}")]
pub struct BadMac(pub String);

impl Mac {
    /// The address `n` above this one (wrapping), used for per-port MACs from a base MAC.
    pub fn offset(self, n: u32) -> Mac {
        let mut v: u64 = 0;
        for b in self.0 {
            v = (v << 8) | u64::from(b);
        }
        v = v.wrapping_add(u64::from(n)) & 0xffff_ffff_ffff;
        let mut out = [0u8; 6];
        for (i, b) in out.iter_mut().enumerate() {
            *b = ((v >> (8 * (5 - i))) & 0xff) as u8;
        }
        Mac(out)
    }

    /// Upper-case colon form (`00:0E:D8:13:00:E2`) used by `show ghn discover all`.
    pub fn upper(self) -> String {
        self.to_string().to_ascii_uppercase()
    }

    /// The name the GAM gives an endpoint it creates itself: `Positron_` + last 3 bytes in hex.
    pub fn default_endpoint_name(self) -> String {
        format!(
            "Positron_{:02X}{:02X}{:02X}",
            self.0[3], self.0[4], self.0[5]
        )
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for Mac {
    type Err = BadMac;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMac(s.to_string());
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (slot, part) in out.iter_mut().zip(parts) {
            if part.is_empty() || part.len() > 2 {
                return Err(bad());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        Ok(Mac(out))
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `vid` may carry subscriber traffic: 3..4093, not the internal 3840-3842.
/// VLANs 1 and 2 (default and CPE management), 4094 (captive portal) and 4095 are reserved.
pub fn is_service_vid(vid: u16) -> bool {
    (3..=4093).contains(&vid) && !(3840..=3842).contains(&vid)
}

/// Parses an ICLI VLAN list such as `15-20,301,310`: sorted, without duplicates.
/// Values must be 1..4095; the caller applies the service-VLAN rules.
pub fn parse_vlan_list(s: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for item in s.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
            None => {
                let v = item.parse::<u16>().ok()?;
                (v, v)
            }
        };
        if lo == 0 || hi > 4095 || lo > hi {
            return None;
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// Prints a VLAN list compactly, ranges of consecutive ids as `a-b`: `15-20,301`.
pub fn format_vlan_list(vids: &[u16]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while let Some(&start) = vids.get(i) {
        let mut end = start;
        while vids.get(i + 1) == Some(&(end.saturating_add(1))) && end < u16::MAX {
            end += 1;
            i += 1;
        }
        if end == start {
            parts.push(start.to_string());
        } else {
            parts.push(format!("{start}-{end}"));
        }
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_and_prints() {
        let m: Mac = "00:0E:D8:19:97:E6".parse().unwrap();
        assert_eq!(m.to_string(), "00:0e:d8:19:97:e6");
        assert_eq!(m.upper(), "00:0E:D8:19:97:E6");
        assert_eq!(m.default_endpoint_name(), "Positron_1997E6");
        assert_eq!("00-0e-d8-19-97-e6".parse::<Mac>(), Ok(m));
        assert!("00:0e:d8:19:97".parse::<Mac>().is_err());
        assert!("00:0e:d8:19:97:zz".parse::<Mac>().is_err());
        assert!("000:e:d8:19:97:e6".parse::<Mac>().is_err());
        assert!("".parse::<Mac>().is_err());
    }

    #[test]
    fn mac_offset_carries() {
        let m: Mac = "00:0e:d8:1a:85:ff".parse().unwrap();
        assert_eq!(m.offset(1).to_string(), "00:0e:d8:1a:86:00");
        let top = Mac([0xff; 6]);
        assert_eq!(top.offset(1), Mac([0; 6]));
    }

    #[test]
    fn mac_serde_is_a_string() {
        let m: Mac = "00:0e:d8:19:97:e6".parse().unwrap();
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, "\"00:0e:d8:19:97:e6\"");
        assert_eq!(serde_json::from_str::<Mac>(&j).unwrap(), m);
    }

    #[test]
    fn service_vids() {
        assert!(!is_service_vid(1));
        assert!(!is_service_vid(2));
        assert!(is_service_vid(3));
        assert!(is_service_vid(1409));
        assert!(!is_service_vid(3840));
        assert!(!is_service_vid(3842));
        assert!(is_service_vid(3843));
        assert!(is_service_vid(4093));
        assert!(!is_service_vid(4094));
    }

    #[test]
    fn vlan_lists_round_trip() {
        let v = parse_vlan_list("20,15-19,301,15").unwrap();
        assert_eq!(v, vec![15, 16, 17, 18, 19, 20, 301]);
        assert_eq!(format_vlan_list(&v), "15-20,301");
        assert_eq!(format_vlan_list(&[]), "");
        assert!(parse_vlan_list("").is_none());
        assert!(parse_vlan_list("5-3").is_none());
        assert!(parse_vlan_list("0").is_none());
        assert!(parse_vlan_list("4096").is_none());
        assert!(parse_vlan_list("a-b").is_none());
        assert!(parse_vlan_list("1,,2").is_none());
    }
}
