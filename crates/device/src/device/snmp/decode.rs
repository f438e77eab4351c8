//! Turning what the agent answered into the live model: typed, range-checked, and strict. A row
//! that lacks a column, a value of the wrong type or out of range, an enum value the MIB does not
//! define: each is an error naming the table, the row and the column, because a device read
//! wrongly must be Unknown, never a plan.
//!
//! Encodings (GAM-GHN-AGENT-MIB, GAM-TC): TruthValue 1 = true, 2 = false; a G.hn port's ifIndex
//! is 1000000 + n, 0 is none; profile 0 on a subscriber is unthrottled; allowed VLANs are four
//! 128-octet quarters in which the least significant bit of each octet is the lowest VLAN.

use std::collections::BTreeMap;

use super::oids::{self, Column, Table};
use super::varbind::{Value, VarBind};
use super::walk::Rows;
use crate::device::live::{
    CpeState, DetectedCpe, EndpointBinding, LiveEndpoint, LiveGlobal, LivePort, LivePortMode,
    LiveProfile, LiveSubscriber, ProfileRef, SystemInfo,
};
use crate::model::{Mac, SubscriberModel};

/// What is wrong with an answer, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The agent is not a Positron GAM.
    #[error("not a GAM: sysObjectID is {object_id} (sysDescr {descr:?})")]
    NotAGam { object_id: String, descr: String },
    /// A scalar is missing or ill-typed.
    #[error("system group and G.hn globals: {0}")]
    Scalar(String),
    /// A table row is missing a column or holds a bad value.
    #[error("{what} ({oid}): {problem}")]
    Table {
        what: &'static str,
        oid: String,
        problem: String,
    },
}

/// The OIDs of the first request, in the order [`system`] expects their answers.
pub fn scalar_oids() -> Vec<Vec<u32>> {
    [
        oids::SYS_DESCR,
        oids::SYS_OBJECT_ID,
        oids::SYS_UPTIME,
        oids::SYS_NAME,
        oids::GLOBAL_SUBSCRIBER_MODEL,
        oids::GLOBAL_DEFAULT_NNI,
        oids::GLOBAL_AUTO_FW_UPGRADE,
    ]
    .iter()
    .map(|o| o.to_vec())
    .collect()
}

/// Decodes the answer to a GET of [`scalar_oids`]. Checks that the agent is a GAM first.
pub fn system(answer: &[VarBind]) -> Result<(SystemInfo, LiveGlobal), DecodeError> {
    let asked = scalar_oids();
    let names = [
        "sysDescr",
        "sysObjectID",
        "sysUpTime",
        "sysName",
        "SubscriberModel",
        "DefaultNNIIfIndex",
        "EndpointAutoFwUpgrade",
    ];
    if answer.len() != asked.len() {
        return Err(DecodeError::Scalar(format!(
            "{} bindings in the answer to a GET of {}",
            answer.len(),
            asked.len()
        )));
    }
    for (vb, oid) in answer.iter().zip(&asked) {
        if &vb.oid != oid {
            return Err(DecodeError::Scalar(format!(
                "asked for {} and got {}",
                oids::dotted(oid),
                oids::dotted(&vb.oid)
            )));
        }
    }
    let scalar = |i: usize| -> Result<&Value, DecodeError> {
        let value = &answer[i].value;
        if value.is_exception() {
            return Err(DecodeError::Scalar(format!(
                "{} ({}) is {value}",
                names[i],
                oids::dotted(&asked[i])
            )));
        }
        Ok(value)
    };
    let wrong = |i: usize, value: &Value, expected: &str| {
        DecodeError::Scalar(format!(
            "{} ({}) is {value}, expected {expected}",
            names[i],
            oids::dotted(&asked[i])
        ))
    };

    let descr = match scalar(0) {
        Ok(Value::OctetString(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let model_id = match &answer[1].value {
        Value::ObjectId(o)
            if o.len() == oids::GAM_PRODUCTS_MODEL.len() + 1
                && o.starts_with(oids::GAM_PRODUCTS_MODEL) =>
        {
            o.last().copied()
        }
        Value::ObjectId(o) => {
            return Err(DecodeError::NotAGam {
                object_id: oids::dotted(o),
                descr,
            });
        }
        other => {
            return Err(DecodeError::NotAGam {
                object_id: other.to_string(),
                descr,
            });
        }
    };
    if !matches!(scalar(0)?, Value::OctetString(_)) {
        return Err(wrong(0, &answer[0].value, "OCTET STRING"));
    }
    let uptime_ticks = match scalar(2)? {
        Value::TimeTicks(t) | Value::Unsigned32(t) => *t,
        other => return Err(wrong(2, other, "TimeTicks")),
    };
    let name = match scalar(3)? {
        Value::OctetString(b) => String::from_utf8_lossy(b).into_owned(),
        other => return Err(wrong(3, other, "OCTET STRING")),
    };
    let subscriber_model = match integer(scalar(4)?) {
        Some(0) => SubscriberModel::EndpointAware,
        Some(1) => SubscriberModel::PortAware,
        _ => {
            return Err(wrong(
                4,
                &answer[4].value,
                "endpointAware(0) or portAware(1)",
            ));
        }
    };
    let default_nni_if_index = integer(scalar(5)?)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong(5, &answer[5].value, "an ifIndex"))?;
    let endpoint_auto_fw_upgrade = match integer(scalar(6)?) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err(wrong(6, &answer[6].value, "a TruthValue (1 or 2)")),
    };
    Ok((
        SystemInfo {
            descr,
            model_id,
            name,
            uptime_ticks,
        },
        LiveGlobal {
            subscriber_model,
            default_nni_if_index,
            endpoint_auto_fw_upgrade,
        },
    ))
}

/// An integer-valued binding (INTEGER, Gauge32/Unsigned32), as i64.
pub(super) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(n) => Some(*n),
        Value::Unsigned32(n) => Some(i64::from(*n)),
        _ => None,
    }
}

/// The G.hn port number of an ifIndex (`1000000 + n`), if it is one.
pub(super) fn port_of_if_index(if_index: u32) -> Option<u8> {
    if_index
        .checked_sub(oids::PORT_IF_INDEX_BASE)
        .and_then(|n| u8::try_from(n).ok())
        .filter(|&n| n > 0)
}

/// Reads one row's columns, with errors that name the table, row and column.
pub(super) struct Row<'a> {
    pub(super) table: &'a Table,
    pub(super) index: &'a [u32],
    pub(super) cells: &'a BTreeMap<u32, Value>,
}

impl<'a> Row<'a> {
    pub(super) fn error(&self, problem: String) -> DecodeError {
        DecodeError::Table {
            what: self.table.what,
            oid: self.table.dotted(),
            problem: format!("row {} {problem}", oids::dotted(self.index)),
        }
    }

    pub(super) fn describe(&self, id: u32) -> String {
        match self.table.column(id) {
            Some(Column { name, .. }) => format!("column {id} ({name})"),
            None => format!("column {id}"),
        }
    }

    pub(super) fn cell(&self, id: u32) -> Result<&'a Value, DecodeError> {
        self.cells
            .get(&id)
            .ok_or_else(|| self.error(format!("lacks {}", self.describe(id))))
    }

    pub(super) fn wrong(&self, id: u32, got: &Value, expected: &str) -> DecodeError {
        self.error(format!(
            "{} is {got}, expected {expected}",
            self.describe(id)
        ))
    }

    pub(super) fn unsigned(&self, id: u32) -> Result<u32, DecodeError> {
        let value = self.cell(id)?;
        integer(value)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.wrong(id, value, "an unsigned integer"))
    }

    pub(super) fn number<T: TryFrom<u32>>(&self, id: u32, range: &str) -> Result<T, DecodeError> {
        let n = self.unsigned(id)?;
        T::try_from(n).map_err(|_| {
            self.error(format!(
                "{} is {n}, out of range {range}",
                self.describe(id)
            ))
        })
    }

    pub(super) fn truth(&self, id: u32) -> Result<bool, DecodeError> {
        let value = self.cell(id)?;
        match integer(value) {
            Some(1) => Ok(true),
            Some(2) => Ok(false),
            _ => Err(self.wrong(id, value, "a TruthValue (1 or 2)")),
        }
    }

    pub(super) fn bytes(&self, id: u32) -> Result<&'a [u8], DecodeError> {
        match self.cell(id)? {
            Value::OctetString(b) => Ok(b),
            other => Err(self.wrong(id, other, "OCTET STRING")),
        }
    }

    pub(super) fn text(&self, id: u32) -> Result<String, DecodeError> {
        let bytes = self.bytes(id)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.error(format!("{} is not text", self.describe(id))))
    }

    pub(super) fn if_index_port(&self, id: u32) -> Result<Option<u8>, DecodeError> {
        match self.unsigned(id)? {
            0 => Ok(None),
            n => port_of_if_index(n).map(Some).ok_or_else(|| {
                self.error(format!("{} is {n}, not a G.hn port", self.describe(id)))
            }),
        }
    }

    pub(super) fn single_index<T: TryFrom<u32>>(&self) -> Result<T, DecodeError> {
        match self.index {
            [n] => T::try_from(*n).map_err(|_| self.error("has an id out of range".into())),
            _ => Err(self.error("has a malformed index".into())),
        }
    }
}

/// Walks `rows`, checking optional columns are all-or-nothing first.
fn each_row<'a, T>(
    table: &'a Table,
    rows: &'a Rows,
    mut decode: impl FnMut(&Row<'a>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    for column in table.columns.iter().filter(|c| c.optional) {
        let present = rows.values().filter(|r| r.contains_key(&column.id)).count();
        if present == 0 || present == rows.len() {
            continue;
        }
        if let Some((index, cells)) = rows.iter().find(|(_, r)| !r.contains_key(&column.id)) {
            let row = Row {
                table,
                index,
                cells,
            };
            return Err(row.error(format!("lacks {}", row.describe(column.id))));
        }
    }
    rows.iter()
        .map(|(index, cells)| {
            decode(&Row {
                table,
                index,
                cells,
            })
        })
        .collect()
}

pub fn ports(rows: &Rows) -> Result<Vec<LivePort>, DecodeError> {
    each_row(&oids::PORTS, rows, |row| {
        let if_index: u32 = row.single_index()?;
        let port = port_of_if_index(if_index)
            .ok_or_else(|| row.error("is not a G.hn port ifIndex".into()))?;
        let mode = match integer(row.cell(50)?) {
            Some(0) => LivePortMode::Coax,
            Some(1) => LivePortMode::Mimo,
            Some(2) => LivePortMode::Siso,
            _ => {
                return Err(row.wrong(50, row.cell(50)?, "coax(0), mimo(1) or siso(2)"));
            }
        };
        Ok(LivePort {
            port,
            name: row.text(30)?,
            mode,
        })
    })
}

pub fn endpoints(rows: &Rows) -> Result<Vec<LiveEndpoint>, DecodeError> {
    each_row(&oids::ENDPOINTS, rows, |row| {
        let mac = <[u8; 6]>::try_from(row.bytes(20)?)
            .map(Mac)
            .map_err(|_| row.error(format!("{} is not 6 octets", row.describe(20))))?;
        let binding = if row.truth(55)? {
            EndpointBinding::Auto
        } else {
            match row.if_index_port(50)? {
                Some(port) => EndpointBinding::Port(port),
                None => EndpointBinding::Unassigned,
            }
        };
        Ok(LiveEndpoint {
            id: row.single_index()?,
            mac,
            name: row.text(30)?,
            description: row.text(40)?,
            binding,
        })
    })
}

pub fn profiles(rows: &Rows) -> Result<Vec<LiveProfile>, DecodeError> {
    each_row(&oids::PROFILES, rows, |row| {
        Ok(LiveProfile {
            id: row.single_index()?,
            name: row.text(30)?,
            description: row.text(40)?,
            down_mbps: row.number(50, "0..65535")?,
            up_mbps: row.number(60, "0..65535")?,
        })
    })
}

pub fn subscribers(rows: &Rows) -> Result<Vec<LiveSubscriber>, DecodeError> {
    each_row(&oids::SUBSCRIBERS, rows, |row| {
        let endpoint_id = match row.number::<u16>(50, "0..65535")? {
            0 => None,
            id => Some(id),
        };
        let profile = match row.number::<u8>(70, "0..15")? {
            0 => ProfileRef::Unthrottled,
            id @ 1..=15 => ProfileRef::Id(id),
            id => {
                return Err(row.error(format!("{} is {id}, out of range 0..15", row.describe(70))));
            }
        };
        let remapped_vlan = match row.number::<u16>(110, "0..65535")? {
            0 => None,
            vid => Some(vid),
        };
        let double_tags = row.truth(190)?;
        let outer = row.number::<u16>(210, "0..65535")?;
        let nni_if_index = match row.cell(200)? {
            Value::OctetString(b) if b.as_slice() == b"NONE" => None,
            _ => Some(row.unsigned(200)?).filter(|&n| n != 0),
        };
        Ok(LiveSubscriber {
            id: row.single_index()?,
            name: row.text(30)?,
            description: row.text(40)?,
            endpoint_id,
            port: row.if_index_port(180)?,
            vlan: row.number(90, "0..65535")?,
            tagged: row.truth(100)?,
            remapped_vlan,
            allowed_vlans: allowed_vlans(row)?,
            profile,
            outer_vlan: double_tags.then_some(outer),
            nni_if_index,
        })
    })
}

/// The allowed tagged VLANs from the four quarters (columns 130..160), when the device has them.
fn allowed_vlans(row: &Row<'_>) -> Result<Vec<u16>, DecodeError> {
    let mut vlans = Vec::new();
    for (quarter, column) in [130u32, 140, 150, 160].into_iter().enumerate() {
        if !row.cells.contains_key(&column) {
            continue;
        }
        let bits = row.bytes(column)?;
        if bits.len() > 128 {
            return Err(row.error(format!(
                "{} is {} octets, expected at most 128",
                row.describe(column),
                bits.len()
            )));
        }
        for (octet, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    // quarter < 4, octet < 128, bit < 8: at most 4095.
                    let vid = quarter * 1024 + octet * 8 + bit;
                    vlans.push(u16::try_from(vid).unwrap_or(u16::MAX));
                }
            }
        }
    }
    Ok(vlans)
}

pub fn detected(rows: &Rows) -> Result<Vec<DetectedCpe>, DecodeError> {
    each_row(&oids::DETECTED, rows, |row| {
        let mut octets = [0u8; 6];
        if row.index.len() != 6 {
            return Err(row.error("has a malformed MAC index".into()));
        }
        for (slot, arc) in octets.iter_mut().zip(row.index) {
            *slot = u8::try_from(*arc)
                .map_err(|_| row.error("has a MAC index arc above 255".into()))?;
        }
        let state = match integer(row.cell(90)?) {
            Some(0) => CpeState::NotDetected,
            Some(1) => CpeState::Ok,
            Some(2) => CpeState::QuarantinedWrongPort,
            Some(3) => CpeState::QuarantinedUnknownMac,
            _ => return Err(row.wrong(90, row.cell(90)?, "an endpoint state (0..3)")),
        };
        Ok(DetectedCpe {
            mac: Mac(octets),
            port: row.if_index_port(40)?,
            state,
            model: row.text(110)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(entries: &[(u32, u32, Value)]) -> Rows {
        let mut rows = Rows::new();
        for (index, column, value) in entries {
            rows.entry(vec![*index])
                .or_default()
                .insert(*column, value.clone());
        }
        rows
    }

    fn s(text: &str) -> Value {
        Value::OctetString(text.as_bytes().to_vec())
    }

    fn subscriber_row(index: u32) -> Vec<(u32, u32, Value)> {
        vec![
            (index, 30, s("C#")),
            (index, 40, s("C#")),
            (index, 50, Value::Unsigned32(1)),
            (index, 70, Value::Unsigned32(3)),
            (index, 90, Value::Unsigned32(1409)),
            (index, 100, Value::Integer(2)),
            (index, 110, Value::Unsigned32(0)),
            (index, 180, Value::Integer(0)),
            (index, 190, Value::Integer(1)),
            (index, 200, Value::Integer(0)),
            (index, 210, Value::Unsigned32(120)),
        ]
    }

    #[test]
    fn a_subscriber_decodes_like_the_walk_says() {
        let subs = subscribers(&rows(&subscriber_row(1))).unwrap();
        assert_eq!(subs, crate::device::live::walk_example().subscribers);
    }

    #[test]
    fn unthrottled_single_tag_and_nni_none_text() {
        let mut row = subscriber_row(7);
        row[3].2 = Value::Unsigned32(0);
        row[8].2 = Value::Integer(2);
        row[9].2 = s("NONE");
        let sub = &subscribers(&rows(&row)).unwrap()[0];
        assert_eq!(sub.profile, ProfileRef::Unthrottled);
        assert_eq!(sub.outer_vlan, None);
        assert_eq!(sub.nni_if_index, None);
        row[9].2 = Value::Integer(1_000_014);
        assert_eq!(
            subscribers(&rows(&row)).unwrap()[0].nni_if_index,
            Some(1_000_014)
        );
    }

    #[test]
    fn allowed_vlan_quarters_are_least_significant_bit_first() {
        let mut row = subscriber_row(1);
        let mut q0 = vec![0u8; 128];
        q0[1] = 0b1000_0001; // VLANs 8 and 15
        let mut q3 = vec![0u8; 128];
        q3[127] = 0b0100_0000; // VLAN 3072 + 1016 + 6 = 4094
        row.push((1, 130, Value::OctetString(q0)));
        row.push((1, 140, Value::OctetString(vec![])));
        row.push((1, 150, Value::OctetString(vec![0; 128])));
        row.push((1, 160, Value::OctetString(q3)));
        assert_eq!(
            subscribers(&rows(&row)).unwrap()[0].allowed_vlans,
            [8, 15, 4094]
        );
    }

    #[test]
    fn an_optional_column_in_some_rows_only_is_an_error() {
        let mut all = subscriber_row(1);
        all.push((1, 130, Value::OctetString(vec![0; 128])));
        all.extend(subscriber_row(2));
        let err = subscribers(&rows(&all)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "subscribers (1.3.6.1.4.1.20095.2001.143.1.2.40): row 2 lacks column 130 \
             (AllowedTaggedVlans0To1K)"
        );
    }

    #[test]
    fn missing_and_mistyped_columns_are_named() {
        let mut row = subscriber_row(1);
        row.retain(|(_, c, _)| *c != 90);
        assert_eq!(
            subscribers(&rows(&row)).unwrap_err().to_string(),
            "subscribers (1.3.6.1.4.1.20095.2001.143.1.2.40): row 1 lacks column 90 (VlanId)"
        );
        let mut row = subscriber_row(1);
        row[4].2 = s("1409");
        assert_eq!(
            subscribers(&rows(&row)).unwrap_err().to_string(),
            "subscribers (1.3.6.1.4.1.20095.2001.143.1.2.40): row 1 column 90 (VlanId) is \
             OCTET STRING, expected an unsigned integer"
        );
        let mut row = subscriber_row(1);
        row[4].2 = Value::Unsigned32(70_000);
        assert!(
            subscribers(&rows(&row))
                .unwrap_err()
                .to_string()
                .ends_with("column 90 (VlanId) is 70000, out of range 0..65535")
        );
        let mut row = subscriber_row(1);
        row[5].2 = Value::Integer(0);
        assert!(
            subscribers(&rows(&row))
                .unwrap_err()
                .to_string()
                .ends_with("is INTEGER, expected a TruthValue (1 or 2)")
        );
    }

    #[test]
    fn endpoint_binding_from_port_and_auto() {
        let row = |port: i64, auto: i64| {
            rows(&[
                (
                    1,
                    20,
                    Value::OctetString(vec![0, 0x0e, 0xd8, 0x19, 0x97, 0xe6]),
                ),
                (1, 30, s("Positron_1997E6")),
                (1, 40, s("C#")),
                (1, 50, Value::Integer(port)),
                (1, 55, Value::Integer(auto)),
            ])
        };
        let binding = |port, auto| endpoints(&row(port, auto)).map(|e| e[0].binding);
        assert_eq!(binding(1_000_012, 2), Ok(EndpointBinding::Port(12)));
        assert_eq!(binding(0, 2), Ok(EndpointBinding::Unassigned));
        assert_eq!(binding(0, 1), Ok(EndpointBinding::Auto));
        assert!(binding(13, 2).is_err());
        let mut short = row(0, 2);
        short
            .get_mut(&vec![1])
            .unwrap()
            .insert(20, Value::OctetString(vec![1, 2, 3]));
        assert!(endpoints(&short).is_err());
    }

    #[test]
    fn ports_and_modes() {
        let table = rows(&[
            (1_000_001, 30, s("")),
            (1_000_001, 50, Value::Integer(0)),
            (1_000_002, 30, s("roof")),
            (1_000_002, 50, Value::Integer(2)),
        ]);
        let p = ports(&table).unwrap();
        assert_eq!(p[0].port, 1);
        assert_eq!(p[0].mode, LivePortMode::Coax);
        assert_eq!(p[1].mode, LivePortMode::Siso);
        let bad = rows(&[(1_000_001, 30, s("")), (1_000_001, 50, Value::Integer(255))]);
        assert!(ports(&bad).is_err());
    }

    #[test]
    fn detected_cpe_from_a_mac_index() {
        let mut table = Rows::new();
        let cells = table.entry(vec![0, 14, 216, 25, 151, 230]).or_default();
        cells.insert(40, Value::Integer(1_000_012));
        cells.insert(90, Value::Integer(1));
        cells.insert(110, s("G1001-C"));
        let d = detected(&table).unwrap();
        assert_eq!(d[0].mac, "00:0e:d8:19:97:e6".parse().unwrap());
        assert_eq!(d[0].port, Some(12));
        assert_eq!(d[0].state, CpeState::Ok);
        assert_eq!(d[0].model, "G1001-C");
    }

    fn scalars(object_id: Vec<u32>) -> Vec<VarBind> {
        let values = [
            s("GAM-12-C GigaBit Ethernet Switch, firmware GAM-12/24-C_v1.5.4"),
            Value::ObjectId(object_id),
            Value::TimeTicks(463_099_189),
            s("<private>"),
            Value::Integer(0),
            Value::Integer(1_000_013),
            Value::Integer(1),
        ];
        scalar_oids()
            .into_iter()
            .zip(values)
            .map(|(oid, value)| VarBind { oid, value })
            .collect()
    }

    #[test]
    fn system_and_globals() {
        let (sys, global) = system(&scalars(vec![1, 3, 6, 1, 4, 1, 20095, 2000, 1, 14])).unwrap();
        assert_eq!(sys.model_id, Some(14));
        assert_eq!(sys.firmware(), Some("GAM-12/24-C_v1.5.4"));
        assert_eq!(global.default_nni_if_index, 1_000_013);
        assert!(global.endpoint_auto_fw_upgrade);
        let err = system(&scalars(vec![1, 3, 6, 1, 4, 1, 8072, 3, 2, 10])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a GAM: sysObjectID is 1.3.6.1.4.1.8072.3.2.10 (sysDescr \"GAM-12-C GigaBit \
             Ethernet Switch, firmware GAM-12/24-C_v1.5.4\")"
        );
        let mut missing = scalars(vec![1, 3, 6, 1, 4, 1, 20095, 2000, 1, 14]);
        missing[5].value = Value::NoSuchObject;
        assert_eq!(
            system(&missing).unwrap_err().to_string(),
            "system group and G.hn globals: DefaultNNIIfIndex \
             (1.3.6.1.4.1.20095.2001.143.1.2.5.20.0) is noSuchObject"
        );
    }
}
