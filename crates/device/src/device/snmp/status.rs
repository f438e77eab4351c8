//! The status read: how a GAM and its subscribers' links are doing (port and endpoint status,
//! the by-MAC tables, temperatures, active alarms, uplink counters), into
//! [`crate::device::status`].
//!
//! It is a read of its own, apart from the configuration read ([`super::observe`]), so that
//! planning never pays for it and monitoring never pays for the configuration: only the status
//! columns that [`crate::device::status`] holds are asked for ([`oids::STATUS_TABLES`]), through
//! the same multi-column walks, in parallel over SNMPv2c ([`super::observe`]'s `read_tables`).
//! A CPE that has no endpoint id shows only in the by-MAC tables; its detailed row is asked for
//! with one GET per such CPE (rare: quarantined and unknown CPEs), so the large by-MAC detailed
//! table is never walked.
//!
//! Encodings, checked on the real GAM-12-C walk (`tests/fixtures/gam12c-walk.snmprec`):
//! TruthValue 1/2; ifIndex 1000000 + n for G.hn port n, 0 for none; Gauge32 rates in Mbps;
//! endpoint uptime as text (`4 days, 23h 13m 1s`); the port's `EndpointsMacAddressList` as upper-
//! case `00:0E:D8:19:97:E6` joined by commas; temperatures in tenths of a degree (Integer32,
//! the walk's `169` is 16.9 °C); port rate columns 110-180 absent for ports on firmware 1.5.4;
//! an empty alarm table when nothing is wrong. The sysutil uptime string is not read: on the walk
//! it is `53d 14:24:1 green, solid, normal indication.` (the LED text runs into it), so the GAM's
//! uptime is sysUpTime.

use std::collections::BTreeSet;

use super::decode::{self, DecodeError, Row, integer};
use super::observe::{each_device, read_tables, request_reason};
use super::oids::{self, Table};
use super::session::{ReadStats, Session};
use super::target::SnmpTarget;
use super::varbind::{Value, VarBind};
use super::walk::Rows;
use crate::device::live::CpeState;
use crate::device::status::{
    Alarm, AlarmSeverity, DeviceStatus, EndpointStatus, InterfaceCounters, LinkMode, LinkStatus,
    PortStatus, StatusObservation, Temperature, Uptime,
};
use crate::model::{GamModel, Mac};

/// Reads one device's status.
pub async fn read_status(target: &SnmpTarget) -> StatusObservation {
    read_status_with_stats(target).await.0
}

/// Reads one device's status, and says what the read cost.
pub async fn read_status_with_stats(target: &SnmpTarget) -> (StatusObservation, ReadStats) {
    let mut session = Session::new(target);
    let mut siblings = ReadStats::default();
    let result = super::observe::within_deadline(
        target,
        "the status read",
        read(&mut session, target, &mut siblings),
    )
    .await;
    let observation = match result {
        Ok(status) => StatusObservation::Live(Box::new(status)),
        Err(reason) => StatusObservation::Unknown { reason },
    };
    (observation, session.stats() + siblings)
}

/// Reads many devices' status, at most `concurrency` at once, in the order of `targets`.
pub async fn read_status_all<N>(
    targets: Vec<(N, SnmpTarget)>,
    concurrency: usize,
    progress: impl Fn(usize, usize, &N),
) -> Vec<(N, StatusObservation)> {
    each_device(
        targets,
        concurrency,
        progress,
        |target| async move { read_status(&target).await },
        |reason| StatusObservation::Unknown { reason },
    )
    .await
}

async fn read(
    session: &mut Session<'_>,
    target: &SnmpTarget,
    siblings: &mut ReadStats,
) -> Result<DeviceStatus, String> {
    let answer = session
        .get(&decode::scalar_oids())
        .await
        .map_err(|e| request_reason(&e, session, target, "1.3.6.1.2.1.1", "system group"))?;
    let (system, _) = decode::system(&answer).map_err(|e| e.to_string())?;
    let model = system.model();

    let tables = read_tables(session, target, &oids::STATUS_TABLES, siblings).await?;
    let [
        port_brief,
        port_detailed,
        ep_brief,
        ep_detailed,
        mac_brief,
        temperatures,
        alarms,
    ] = tables
        .try_into()
        .map_err(|_| "internal error: a status table went missing".to_string())?;

    let text = |e: DecodeError| e.to_string();
    let mut endpoints = endpoints_by_id(&ep_brief, &ep_detailed).map_err(text)?;
    let known: BTreeSet<Mac> = endpoints.iter().map(|e| e.mac).collect();
    let unconfigured = by_mac(&mac_brief, &known).map_err(text)?;
    for mut cpe in unconfigured {
        if cpe.state != CpeState::NotDetected {
            let oids = detailed_oids(cpe.mac);
            let answer = session.get(&oids).await.map_err(|e| {
                request_reason(
                    &e,
                    session,
                    target,
                    &oids::BY_MAC_DETAILED.dotted(),
                    oids::BY_MAC_DETAILED.what,
                )
            })?;
            cpe.link = detailed_by_get(cpe.mac, &answer).map_err(text)?;
        }
        endpoints.push(cpe);
    }

    let uplinks = match model {
        Some(model) => {
            let oids = uplink_oids(model);
            let answer = session.get(&oids).await.map_err(|e| {
                request_reason(&e, session, target, "1.3.6.1.2.1.31.1.1", "uplink counters")
            })?;
            uplink_counters(model, &answer).map_err(text)?
        }
        None => Vec::new(),
    };

    Ok(DeviceStatus {
        system,
        temperatures: temperature_sensors(&temperatures).map_err(text)?,
        ports: ports(&port_brief, &port_detailed).map_err(text)?,
        endpoints,
        alarms: active_alarms(&alarms).map_err(text)?,
        uplinks,
    })
}

/// A cell a row may lack (a column "available only when detected").
fn maybe<'a>(row: &Row<'a>, id: u32) -> Option<&'a Value> {
    row.cells.get(&id).filter(|v| !v.is_exception())
}

fn rows_of<'a>(table: &'a Table, rows: &'a Rows) -> impl Iterator<Item = Row<'a>> {
    rows.iter().map(move |(index, cells)| Row {
        table,
        index,
        cells,
    })
}

/// `GAMGhnAgentPortMode`.
fn link_mode(row: &Row<'_>, id: u32) -> Result<LinkMode, DecodeError> {
    let value = row.cell(id)?;
    match integer(value) {
        Some(0) => Ok(LinkMode::Coax),
        Some(1) => Ok(LinkMode::Mimo),
        Some(2) => Ok(LinkMode::Siso),
        Some(255) => Ok(LinkMode::Unknown),
        _ => Err(row.wrong(id, value, "coax(0), mimo(1), siso(2) or unknown(255)")),
    }
}

/// `GAMGhnAgentEndpointState`.
fn cpe_state(row: &Row<'_>) -> Result<CpeState, DecodeError> {
    let value = row.cell(90)?;
    match integer(value) {
        Some(0) => Ok(CpeState::NotDetected),
        Some(1) => Ok(CpeState::Ok),
        Some(2) => Ok(CpeState::QuarantinedWrongPort),
        Some(3) => Ok(CpeState::QuarantinedUnknownMac),
        _ => Err(row.wrong(90, value, "an endpoint state (0..3)")),
    }
}

fn optional_unsigned(row: &Row<'_>, id: u32) -> Result<Option<u32>, DecodeError> {
    match maybe(row, id) {
        None => Ok(None),
        Some(_) => row.unsigned(id).map(Some),
    }
}

pub fn ports(brief: &Rows, detailed: &Rows) -> Result<Vec<PortStatus>, DecodeError> {
    let mut out = Vec::with_capacity(brief.len());
    for row in rows_of(&oids::PORT_BRIEF, brief) {
        let if_index: u32 = row.single_index()?;
        let port = decode::port_of_if_index(if_index)
            .ok_or_else(|| row.error("is not a G.hn port ifIndex".into()))?;
        let list = row.text(40)?;
        let mut endpoint_macs = Vec::new();
        for item in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let mac = item.parse::<Mac>().map_err(|_| {
                row.error(format!(
                    "{} holds {item:?}, not a MAC address",
                    row.describe(40)
                ))
            })?;
            endpoint_macs.push(mac);
        }
        let cells = detailed.get(row.index).ok_or_else(|| DecodeError::Table {
            what: oids::PORT_DETAILED.what,
            oid: oids::PORT_DETAILED.dotted(),
            problem: format!("has no row {if_index} (the port status table has one)"),
        })?;
        let d = Row {
            table: &oids::PORT_DETAILED,
            index: row.index,
            cells,
        };
        out.push(PortStatus {
            port,
            admin_enabled: row.truth(20)?,
            alive: d.truth(20)?,
            endpoint_macs,
            outage_non_service_affecting: row.truth(50)?,
            outage_service_affecting: row.truth(60)?,
            mode: link_mode(&d, 90)?,
            xput_indicator_mbps: d.unsigned(80)?,
            rx_phy_mbps: optional_unsigned(&d, 110)?,
            tx_phy_mbps: optional_unsigned(&d, 120)?,
            rx_max_xput_mbps: optional_unsigned(&d, 150)?,
            tx_max_xput_mbps: optional_unsigned(&d, 160)?,
            rx_usage_mbps: optional_unsigned(&d, 170)?,
            tx_usage_mbps: optional_unsigned(&d, 180)?,
        });
    }
    Ok(out)
}

/// The columns both brief tables share, decoded; `id` and `mac` come from the caller (the
/// by-id table has the MAC in column 10, the by-MAC table in its index).
fn brief(row: &Row<'_>, id: Option<u16>, mac: Mac) -> Result<EndpointStatus, DecodeError> {
    let subscriber = match row.text(55)? {
        name if name.is_empty() => None,
        name => Some(name),
    };
    let profile_id = match row.number::<u8>(70, "0..15")? {
        0 => None,
        n => Some(n),
    };
    let model = match maybe(row, 110) {
        Some(_) => row.text(110)?,
        None => String::new(),
    };
    let firmware_mismatch = match maybe(row, 120) {
        Some(_) => row.truth(120)?,
        None => false,
    };
    Ok(EndpointStatus {
        id,
        mac,
        state: cpe_state(row)?,
        detected_port: row.if_index_port(40)?,
        subscriber,
        profile_id,
        model,
        firmware_mismatch,
        link: None,
    })
}

fn link(row: &Row<'_>) -> Result<LinkStatus, DecodeError> {
    Ok(LinkStatus {
        hw_product: row.text(40)?,
        serial: row.text(50)?,
        firmware: row.text(70)?,
        uptime: Uptime::parse(&String::from_utf8_lossy(row.bytes(60)?)),
        mode: link_mode(row, 90)?,
        wire_length_m: row.unsigned(100)?,
        rx_phy_mbps: row.unsigned(110)?,
        tx_phy_mbps: row.unsigned(120)?,
        rx_bands: row.unsigned(130)?,
        tx_bands: row.unsigned(140)?,
        rx_max_xput_mbps: row.unsigned(150)?,
        tx_max_xput_mbps: row.unsigned(160)?,
        rx_usage_mbps: row.unsigned(170)?,
        tx_usage_mbps: row.unsigned(180)?,
    })
}

fn six_octets(row: &Row<'_>, bytes: &[u8], id: u32) -> Result<Mac, DecodeError> {
    <[u8; 6]>::try_from(bytes)
        .map(Mac)
        .map_err(|_| row.error(format!("{} is not 6 octets", row.describe(id))))
}

/// The configured endpoints (`.3.20.10` joined with `.3.20.20` by id).
pub fn endpoints_by_id(
    brief_rows: &Rows,
    detailed: &Rows,
) -> Result<Vec<EndpointStatus>, DecodeError> {
    let mut out = Vec::with_capacity(brief_rows.len());
    for row in rows_of(&oids::ENDPOINT_BRIEF, brief_rows) {
        let id: u16 = row.single_index()?;
        let mac = six_octets(&row, row.bytes(10)?, 10)?;
        let mut status = brief(&row, Some(id), mac)?;
        if let Some(cells) = detailed.get(row.index) {
            status.link = Some(link(&Row {
                table: &oids::ENDPOINT_DETAILED,
                index: row.index,
                cells,
            })?);
        }
        out.push(status);
    }
    Ok(out)
}

/// The CPEs of the by-MAC brief table that are not among `known` (the configured endpoints'
/// MACs): unconfigured or quarantined CPEs, with no link yet.
pub fn by_mac(rows: &Rows, known: &BTreeSet<Mac>) -> Result<Vec<EndpointStatus>, DecodeError> {
    let mut out = Vec::new();
    for row in rows_of(&oids::BY_MAC_BRIEF, rows) {
        let mut octets = [0u8; 6];
        if row.index.len() != 6 {
            return Err(row.error("has a malformed MAC index".into()));
        }
        for (slot, arc) in octets.iter_mut().zip(row.index) {
            *slot = u8::try_from(*arc)
                .map_err(|_| row.error("has a MAC index arc above 255".into()))?;
        }
        let mac = Mac(octets);
        if known.contains(&mac) {
            continue;
        }
        let id = match row.number::<u16>(20, "0..65535")? {
            0 => None,
            n => Some(n),
        };
        out.push(brief(&row, id, mac)?);
    }
    Ok(out)
}

/// The OIDs of one CPE's by-MAC detailed row, in [`oids::ENDPOINT_DETAILED_COLUMNS`] order.
fn detailed_oids(mac: Mac) -> Vec<Vec<u32>> {
    oids::ENDPOINT_DETAILED_COLUMNS
        .iter()
        .map(|c| {
            let mut oid = oids::BY_MAC_DETAILED.entry.to_vec();
            oid.push(c.id);
            oid.extend(mac.0.iter().map(|b| u32::from(*b)));
            oid
        })
        .collect()
}

/// One CPE's detailed row from a GET of [`detailed_oids`]; `None` when the device has no such
/// row (the CPE went away between the walk and the GET).
fn detailed_by_get(mac: Mac, answer: &[VarBind]) -> Result<Option<LinkStatus>, DecodeError> {
    let asked = detailed_oids(mac);
    let mut cells = std::collections::BTreeMap::new();
    for ((vb, oid), column) in answer
        .iter()
        .zip(&asked)
        .zip(oids::ENDPOINT_DETAILED_COLUMNS)
    {
        if &vb.oid != oid {
            return Err(DecodeError::Table {
                what: oids::BY_MAC_DETAILED.what,
                oid: oids::BY_MAC_DETAILED.dotted(),
                problem: format!(
                    "asked for {} and got {}",
                    oids::dotted(oid),
                    oids::dotted(&vb.oid)
                ),
            });
        }
        if !vb.value.is_exception() {
            cells.insert(column.id, vb.value.clone());
        }
    }
    if cells.is_empty() {
        return Ok(None);
    }
    let index: Vec<u32> = mac.0.iter().map(|b| u32::from(*b)).collect();
    link(&Row {
        table: &oids::BY_MAC_DETAILED,
        index: &index,
        cells: &cells,
    })
    .map(Some)
}

pub fn temperature_sensors(rows: &Rows) -> Result<Vec<Temperature>, DecodeError> {
    rows_of(&oids::TEMPERATURES, rows)
        .map(|row| {
            let value = row.cell(3)?;
            let tenths = integer(value)
                .filter(|t| (-1000..=3000).contains(t))
                .ok_or_else(|| row.wrong(3, value, "tenths of a degree (-100.0..300.0)"))?;
            // In range, so exact in f64.
            #[allow(clippy::cast_precision_loss)]
            let celsius = tenths as f64 / 10.0;
            Ok(Temperature {
                sensor: row.text(2)?,
                celsius,
            })
        })
        .collect()
}

/// `GAMAlarmCondType` names; the index is the value.
pub const ALARM_CONDITIONS: [&str; 24] = [
    "other",
    "hwflt",
    "swflt",
    "fanflt",
    "hightemp",
    "thermalshutdown",
    "restart",
    "clkchange",
    "linkdown",
    "sfprmvd",
    "sfpmismatch",
    "outage",
    "lowsnr",
    "los",
    "portmismatch",
    "hwmismatch",
    "swrevmismat",
    "swdl",
    "fwupg",
    "lockoutconsole",
    "lockouthost",
    "lockoutglobal",
    "lpbkfacility",
    "lpbkterm",
];

pub fn active_alarms(rows: &Rows) -> Result<Vec<Alarm>, DecodeError> {
    rows_of(&oids::ALARMS, rows)
        .map(|row| {
            let value = row.cell(5)?;
            let condition = match integer(value) {
                Some(n) => usize::try_from(n)
                    .ok()
                    .and_then(|i| ALARM_CONDITIONS.get(i))
                    .map_or_else(|| format!("unknown({n})"), |c| (*c).to_string()),
                None => return Err(row.wrong(5, value, "a condition type")),
            };
            let value = row.cell(10)?;
            let severity = match integer(value) {
                Some(0) => AlarmSeverity::NotReported,
                Some(1) => AlarmSeverity::NotAlarmed,
                Some(2) => AlarmSeverity::Minor,
                Some(3) => AlarmSeverity::Major,
                Some(4) => AlarmSeverity::Critical,
                _ => return Err(row.wrong(10, value, "a severity nr(0)..cr(4)")),
            };
            let occurred = match maybe(&row, 12) {
                Some(_) => date_and_time(row.bytes(12)?),
                None => None,
            };
            Ok(Alarm {
                index: row.single_index()?,
                if_index: row.unsigned(2)?,
                interface: String::from_utf8_lossy(row.bytes(4)?).into_owned(),
                condition,
                severity,
                service_affecting: row.truth(11)?,
                occurred,
            })
        })
        .collect()
}

/// SNMPv2-TC DateAndTime (8 or 11 octets) as `YYYY-MM-DDTHH:MM:SS`, with `Z` or the offset
/// when given; `None` for an all-zero or malformed value.
fn date_and_time(b: &[u8]) -> Option<String> {
    if b.len() != 8 && b.len() != 11 {
        return None;
    }
    let year = u16::from_be_bytes([b[0], b[1]]);
    let (month, day, hour, min, sec) = (b[2], b[3], b[4], b[5], b[6]);
    if year == 0
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let zone = match b.get(8..11) {
        Some([dir @ (b'+' | b'-'), h, m]) => format!("{}{h:02}:{m:02}", char::from(*dir)),
        Some(_) => return None,
        None => String::new(),
    };
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}{zone}"
    ))
}

/// The uplinks' ifIndexes: right after the G.hn ports (GAM-TC GAMInterfaceIndex).
fn uplink_if_indexes(model: GamModel) -> impl Iterator<Item = u32> {
    let first = oids::PORT_IF_INDEX_BASE + u32::from(model.ghn_ports()) + 1;
    (0..u32::from(model.info().uplinks)).map(move |i| first + i)
}

const IFX_COLUMNS: [u32; 4] = [
    oids::IFX_NAME,
    oids::IFX_HC_IN_OCTETS,
    oids::IFX_HC_OUT_OCTETS,
    oids::IFX_HIGH_SPEED,
];

fn uplink_oids(model: GamModel) -> Vec<Vec<u32>> {
    uplink_if_indexes(model)
        .flat_map(|if_index| {
            IFX_COLUMNS.iter().map(move |&c| {
                let mut oid = oids::IFX_ENTRY.to_vec();
                oid.extend([c, if_index]);
                oid
            })
        })
        .collect()
}

fn uplink_counters(
    model: GamModel,
    answer: &[VarBind],
) -> Result<Vec<InterfaceCounters>, DecodeError> {
    let wrong = |problem: String| DecodeError::Table {
        what: "uplink counters",
        oid: oids::dotted(oids::IFX_ENTRY),
        problem,
    };
    let asked = uplink_oids(model);
    for (vb, oid) in answer.iter().zip(&asked) {
        if &vb.oid != oid {
            return Err(wrong(format!(
                "asked for {} and got {}",
                oids::dotted(oid),
                oids::dotted(&vb.oid)
            )));
        }
    }
    let mut out = Vec::new();
    for (if_index, values) in uplink_if_indexes(model).zip(answer.chunks(IFX_COLUMNS.len())) {
        let [name, hc_in, hc_out, speed] = values else {
            return Err(wrong(format!("a short answer for ifIndex {if_index}")));
        };
        if name.value.is_exception() {
            // A model whose second uplink the device does not have.
            continue;
        }
        let counter = |vb: &VarBind| match vb.value {
            Value::Counter64(n) => Ok(n),
            ref other => Err(wrong(format!(
                "{} is {other}, expected Counter64",
                oids::dotted(&vb.oid)
            ))),
        };
        let speed_mbps = match speed.value {
            Value::Unsigned32(n) => n,
            ref other => {
                return Err(wrong(format!(
                    "{} is {other}, expected Gauge32",
                    oids::dotted(&speed.oid)
                )));
            }
        };
        let name = match &name.value {
            Value::OctetString(b) => String::from_utf8_lossy(b).into_owned(),
            other => {
                return Err(wrong(format!(
                    "{} is {other}, expected OCTET STRING",
                    oids::dotted(&name.oid)
                )));
            }
        };
        out.push(InterfaceCounters {
            if_index,
            name,
            in_octets: counter(hc_in)?,
            out_octets: counter(hc_out)?,
            speed_mbps,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real walk's lines (tests/fixtures/gam12c-walk.snmprec) under `prefix`, as rows of
    /// `table`: the decoding is checked on the device's own encodings.
    fn walk_rows(table: &Table) -> Rows {
        let walk = include_str!("../../../../../tests/fixtures/gam12c-walk.snmprec");
        let mut rows = Rows::new();
        for line in walk.lines() {
            let mut parts = line.splitn(3, '|');
            let (Some(oid), Some(tag), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(arcs) = oid
                .split('.')
                .map(str::parse::<u32>)
                .collect::<Result<Vec<u32>, _>>()
            else {
                continue;
            };
            if !arcs.starts_with(table.entry)
                || arcs.len() != table.entry.len() + 1 + table.index_len
            {
                continue;
            }
            let column = arcs[table.entry.len()];
            if table.column(column).is_none() {
                continue;
            }
            let value = match tag {
                "2" => Value::Integer(value.parse().unwrap()),
                "4" => Value::OctetString(value.as_bytes().to_vec()),
                "4x" => Value::OctetString(hex::decode(value).unwrap()),
                "66" => Value::Unsigned32(value.parse().unwrap()),
                "70" => Value::Counter64(value.parse().unwrap()),
                other => panic!("tag {other} in {line}"),
            };
            rows.entry(arcs[table.entry.len() + 1..].to_vec())
                .or_default()
                .insert(column, value);
        }
        rows
    }

    #[test]
    fn ports_of_the_real_walk() {
        let ports = ports(
            &walk_rows(&oids::PORT_BRIEF),
            &walk_rows(&oids::PORT_DETAILED),
        )
        .unwrap();
        assert_eq!(ports.len(), 12);
        let p12 = &ports[11];
        assert_eq!(p12.port, 12);
        assert!(p12.admin_enabled && p12.alive);
        assert_eq!(
            p12.endpoint_macs,
            vec!["00:0e:d8:19:97:e6".parse::<Mac>().unwrap()]
        );
        assert!(!p12.outage_service_affecting && !p12.outage_non_service_affecting);
        assert_eq!(p12.mode, LinkMode::Coax);
        // Firmware 1.5.4 leaves the port rate columns out: unknown, not zero.
        assert_eq!(p12.rx_phy_mbps, None);
        assert_eq!(p12.tx_max_xput_mbps, None);
        assert!(ports[0].endpoint_macs.is_empty());
    }

    #[test]
    fn the_walks_endpoint_and_its_link() {
        let eps = endpoints_by_id(
            &walk_rows(&oids::ENDPOINT_BRIEF),
            &walk_rows(&oids::ENDPOINT_DETAILED),
        )
        .unwrap();
        assert_eq!(eps.len(), 1);
        let e = &eps[0];
        assert_eq!(e.id, Some(1));
        assert_eq!(e.mac, "00:0e:d8:19:97:e6".parse().unwrap());
        assert_eq!(e.state, CpeState::Ok);
        assert_eq!(e.detected_port, Some(12));
        assert_eq!(e.subscriber.as_deref(), Some("C#"));
        assert_eq!(e.profile_id, Some(3));
        assert_eq!(e.model, "G1001-C");
        assert!(!e.firmware_mismatch);
        let l = e.link.as_ref().unwrap();
        assert_eq!(l.hw_product, "DCP962C");
        assert_eq!(l.serial, "ASY-2103-20,R12,01124908,23284");
        assert_eq!(
            l.firmware,
            "G1001C-CPE-P2MP SPIRIT.v7_10_r713+7_positron_24260"
        );
        assert_eq!(l.uptime.text, "4 days, 23h 13m 1s");
        assert_eq!(l.uptime.seconds, Some(429_181));
        assert_eq!(l.mode, LinkMode::Coax);
        assert_eq!((l.rx_phy_mbps, l.tx_phy_mbps), (1805, 1744));
        assert_eq!((l.rx_max_xput_mbps, l.tx_max_xput_mbps), (1410, 1362));
        assert_eq!((l.wire_length_m, l.rx_bands, l.rx_usage_mbps), (0, 0, 0));
    }

    #[test]
    fn by_mac_keeps_only_cpes_without_an_endpoint() {
        let rows = walk_rows(&oids::BY_MAC_BRIEF);
        let walk_mac: Mac = "00:0e:d8:19:97:e6".parse().unwrap();
        assert!(by_mac(&rows, &[walk_mac].into()).unwrap().is_empty());
        let alone = by_mac(&rows, &BTreeSet::new()).unwrap();
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].mac, walk_mac);
        assert_eq!(alone[0].id, Some(1));
        assert_eq!(alone[0].state, CpeState::Ok);
        assert_eq!(alone[0].detected_port, Some(12));
    }

    #[test]
    fn an_unknown_cpe_in_quarantine_lacks_model_and_link() {
        let mut rows = Rows::new();
        let cells = rows.entry(vec![0, 14, 216, 1, 2, 3]).or_default();
        cells.insert(20, Value::Unsigned32(0));
        cells.insert(40, Value::Integer(1_000_004));
        cells.insert(55, Value::OctetString(vec![]));
        cells.insert(70, Value::Unsigned32(0));
        cells.insert(90, Value::Integer(3));
        let cpe = &by_mac(&rows, &BTreeSet::new()).unwrap()[0];
        assert_eq!(cpe.id, None);
        assert_eq!(cpe.state, CpeState::QuarantinedUnknownMac);
        assert!(cpe.is_quarantined());
        assert_eq!(cpe.detected_port, Some(4));
        assert_eq!((cpe.subscriber.as_deref(), cpe.profile_id), (None, None));
        assert_eq!(cpe.model, "");
        rows.values_mut()
            .for_each(|c| _ = c.insert(90, Value::Integer(7)));
        assert_eq!(
            by_mac(&rows, &BTreeSet::new()).unwrap_err().to_string(),
            "endpoint status by MAC (1.3.6.1.4.1.20095.2001.143.1.3.30.10): row \
             0.14.216.1.2.3 column 90 (State) is INTEGER, expected an endpoint state (0..3)"
        );
    }

    #[test]
    fn temperatures_of_the_real_walk_are_tenths() {
        let t = temperature_sensors(&walk_rows(&oids::TEMPERATURES)).unwrap();
        let got: Vec<(&str, f64)> = t.iter().map(|t| (t.sensor.as_str(), t.celsius)).collect();
        assert_eq!(
            got,
            [
                ("Intake #1", 16.9),
                ("Intake #2", 14.8),
                ("Exhaust #1", 14.2),
                ("Exhaust #2", 12.0),
                ("CPU", 18.5)
            ]
        );
    }

    #[test]
    fn alarms_decode_with_unknown_conditions_and_times() {
        // The walk has no active alarm.
        assert!(active_alarms(&walk_rows(&oids::ALARMS)).unwrap().is_empty());
        let mut rows = Rows::new();
        let cells = rows.entry(vec![7]).or_default();
        cells.insert(2, Value::Integer(0));
        cells.insert(4, Value::OctetString(b"System".to_vec()));
        cells.insert(5, Value::Integer(4));
        cells.insert(10, Value::Integer(3));
        cells.insert(11, Value::Integer(2));
        cells.insert(
            12,
            Value::OctetString(vec![0x07, 0xea, 11, 30, 22, 5, 9, 0, b'+', 1, 0]),
        );
        let a = &active_alarms(&rows).unwrap()[0];
        assert_eq!(a.index, 7);
        assert_eq!(a.condition, "hightemp");
        assert_eq!(a.severity, AlarmSeverity::Major);
        assert!(!a.service_affecting);
        assert_eq!(a.occurred.as_deref(), Some("2026-11-30T22:05:09+01:00"));
        rows.get_mut(&vec![7])
            .unwrap()
            .insert(5, Value::Integer(99));
        rows.get_mut(&vec![7])
            .unwrap()
            .insert(12, Value::OctetString(vec![0; 8]));
        let a = &active_alarms(&rows).unwrap()[0];
        assert_eq!(a.condition, "unknown(99)");
        assert_eq!(a.occurred, None);
        rows.get_mut(&vec![7])
            .unwrap()
            .insert(10, Value::Integer(5));
        assert!(active_alarms(&rows).is_err());
    }

    #[test]
    fn uplink_counters_from_the_walks_values() {
        let model = GamModel::Gam12C;
        let values = [
            (
                "10GigabitEthernet 1/1",
                7_300_422_883,
                5_776_715_639,
                10_000,
            ),
            ("10GigabitEthernet 1/2", 148_195_040, 497_150_743, 10_000),
        ];
        let answer: Vec<VarBind> = uplink_oids(model)
            .into_iter()
            .enumerate()
            .map(|(i, oid)| {
                let (name, hc_in, hc_out, speed) = values[i / 4];
                let value = match i % 4 {
                    0 => Value::OctetString(name.as_bytes().to_vec()),
                    1 => Value::Counter64(hc_in),
                    2 => Value::Counter64(hc_out),
                    _ => Value::Unsigned32(speed),
                };
                VarBind { oid, value }
            })
            .collect();
        let up = uplink_counters(model, &answer).unwrap();
        assert_eq!(up.len(), 2);
        assert_eq!(up[0].if_index, 1_000_013);
        assert_eq!(up[0].in_octets, 7_300_422_883);
        assert_eq!(up[1].name, "10GigabitEthernet 1/2");
        let mut wrapped = answer.clone();
        wrapped[1].value = Value::Counter32(5);
        assert!(uplink_counters(model, &wrapped).is_err());
    }

    #[test]
    fn a_detailed_row_by_get_is_none_when_the_cpe_left() {
        let mac: Mac = "00:0e:d8:01:02:03".parse().unwrap();
        let gone: Vec<VarBind> = detailed_oids(mac)
            .into_iter()
            .map(|oid| VarBind {
                oid,
                value: Value::NoSuchInstance,
            })
            .collect();
        assert_eq!(detailed_by_get(mac, &gone).unwrap(), None);
    }
}
