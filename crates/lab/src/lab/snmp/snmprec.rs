//! Reading and writing snmpsim `.snmprec` walks (`OID|type|value`, one per line).
//!
//! The lab serves real device walks, and its tests compare what it serves with the walk byte for
//! byte, so parsing must be exact: an OCTET STRING keeps the bytes it had, whether the line held
//! them as plain text (type `4`) or as hex (`4x`). Nothing here panics, whatever the input.
//!
//! Type codes are the BER tag numbers snmpsim uses: `2` INTEGER, `4` OCTET STRING, `5` NULL,
//! `6` OBJECT IDENTIFIER, `64` IpAddress, `65` Counter32, `66` Gauge32, `67` TimeTicks, `68` Opaque,
//! `69` NsapAddress, `70` Counter64, `71` UInteger32. A trailing `x` (`4x`, `64x`, `68x`, ...) means the
//! value is hex-encoded bytes.

use std::collections::HashMap;
use std::fmt::Write as _;

use async_snmp::{Oid, Value};

/// One line of a `.snmprec` walk, with the form its value was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct SnmprecRecord {
    /// The object instance.
    pub oid: Oid,
    /// Its value.
    pub value: Value,
    /// Whether the value was (or is to be) written as hex (`4x`, `64x`, ...).
    pub hex: bool,
}

/// A `.snmprec` line that could not be read, or a value that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct SnmprecError {
    /// 1-based line number (for writing: the 1-based position of the entry).
    pub line: usize,
    /// What was wrong.
    pub kind: SnmprecErrorKind,
}

/// What was wrong with one `.snmprec` line or entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnmprecErrorKind {
    /// The line is not `OID|type|value`.
    #[error("expected `OID|type|value`")]
    Shape,
    /// The OID is not a dotted list of numbers that SNMP can encode.
    #[error("bad OID `{0}`")]
    Oid(String),
    /// The type code is not one this reader knows.
    #[error("unknown type `{0}`")]
    Type(String),
    /// The value does not fit its type.
    #[error("bad {ty} value `{value}`")]
    Value {
        /// The type code of the line.
        ty: String,
        /// The value as written (shortened when long).
        value: String,
    },
    /// The same OID appeared on an earlier line.
    #[error("duplicate OID {oid} (first on line {first})")]
    Duplicate {
        /// The OID.
        oid: String,
        /// The line it was first seen on.
        first: usize,
    },
    /// The value has no `.snmprec` form (an exception such as noSuchObject).
    #[error("value of kind {0} cannot be written to .snmprec")]
    Unwritable(String),
}

/// Parses a `.snmprec` walk into `(OID, value)` pairs in file order.
///
/// Blank lines and lines starting with `#` are skipped; a trailing `\r` is a line ending, not part
/// of the value. Each OID may appear once.
pub fn parse(text: &str) -> Result<Vec<(Oid, Value)>, SnmprecError> {
    Ok(parse_records(text)?
        .into_iter()
        .map(|r| (r.oid, r.value))
        .collect())
}

/// Parses a `.snmprec` walk, keeping for each line whether its value was hex-encoded, so that
/// [`write_records`] can reproduce the file exactly.
pub fn parse_records(text: &str) -> Result<Vec<SnmprecRecord>, SnmprecError> {
    let mut records = Vec::new();
    let mut seen: HashMap<Oid, usize> = HashMap::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let record = parse_line(raw).map_err(|kind| SnmprecError { line, kind })?;
        if let Some(first) = seen.insert(record.oid.clone(), line) {
            return Err(SnmprecError {
                line,
                kind: SnmprecErrorKind::Duplicate {
                    oid: record.oid.to_string(),
                    first,
                },
            });
        }
        records.push(record);
    }
    Ok(records)
}

fn parse_line(raw: &str) -> Result<SnmprecRecord, SnmprecErrorKind> {
    let mut parts = raw.splitn(3, '|');
    let (Some(oid_text), Some(ty), Some(value_text)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SnmprecErrorKind::Shape);
    };
    let oid = parse_oid(oid_text).ok_or_else(|| SnmprecErrorKind::Oid(shorten(oid_text)))?;
    let (code, hex) = match ty.strip_suffix('x') {
        Some(code) => (code, true),
        None => (ty, false),
    };
    let bad = || SnmprecErrorKind::Value {
        ty: ty.to_string(),
        value: shorten(value_text),
    };
    let bytes = || -> Result<Vec<u8>, SnmprecErrorKind> {
        if hex {
            decode_hex(value_text).ok_or_else(bad)
        } else {
            Ok(value_text.as_bytes().to_vec())
        }
    };
    let number_text = || -> Result<&str, SnmprecErrorKind> {
        if hex {
            Err(SnmprecErrorKind::Type(ty.to_string()))
        } else {
            Ok(value_text)
        }
    };
    let value = match code {
        "2" => Value::Integer(number_text()?.parse().map_err(|_| bad())?),
        "4" => Value::OctetString(bytes()?.into()),
        "5" => {
            if !value_text.is_empty() {
                return Err(bad());
            }
            Value::Null
        }
        "6" => Value::ObjectIdentifier(parse_oid(number_text()?).ok_or_else(bad)?),
        "64" => {
            let octets: [u8; 4] = if hex {
                bytes()?.as_slice().try_into().map_err(|_| bad())?
            } else {
                value_text
                    .parse::<std::net::Ipv4Addr>()
                    .map_err(|_| bad())?
                    .octets()
            };
            Value::IpAddress(octets)
        }
        "65" => Value::Counter32(number_text()?.parse().map_err(|_| bad())?),
        "66" => Value::Gauge32(number_text()?.parse().map_err(|_| bad())?),
        "67" => Value::TimeTicks(number_text()?.parse().map_err(|_| bad())?),
        "68" => Value::Opaque(bytes()?.into()),
        "69" => Value::Nsap(bytes()?.into()),
        "70" => Value::Counter64(number_text()?.parse().map_err(|_| bad())?),
        "71" => Value::UInteger32(number_text()?.parse().map_err(|_| bad())?),
        _ => return Err(SnmprecErrorKind::Type(ty.to_string())),
    };
    Ok(SnmprecRecord { oid, value, hex })
}

/// Parses a dotted OID (no leading dot in `.snmprec`, but one is accepted) and keeps it only if it
/// can be put on the wire, so the agent never fails to encode a value it was given.
fn parse_oid(text: &str) -> Option<Oid> {
    if text.starts_with('+') || text.contains(".+") {
        return None;
    }
    let oid = Oid::parse(text).ok()?;
    oid.validate_for_wire().ok()?;
    Some(oid)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Writes `(OID, value)` pairs as `.snmprec` text, one line each, in the order given.
///
/// OCTET STRINGs (and Opaque, NsapAddress) that are printable ASCII are written as plain text,
/// others as hex. Exceptions (noSuchObject, endOfMibView, ...) have no form and are an error.
pub fn write<'a>(
    entries: impl IntoIterator<Item = (&'a Oid, &'a Value)>,
) -> Result<String, SnmprecError> {
    let mut out = String::new();
    for (index, (oid, value)) in entries.into_iter().enumerate() {
        let hex = match value {
            Value::OctetString(b) | Value::Opaque(b) | Value::Nsap(b) => !is_plain_text(b),
            _ => false,
        };
        write_line(&mut out, oid, value, hex).map_err(|kind| SnmprecError {
            line: index + 1,
            kind,
        })?;
    }
    Ok(out)
}

/// Writes records as `.snmprec` text, honouring each record's `hex` flag where the value can be
/// written that way (bytes that cannot be plain text are always hex).
pub fn write_records(records: &[SnmprecRecord]) -> Result<String, SnmprecError> {
    let mut out = String::new();
    for (index, record) in records.iter().enumerate() {
        let hex = match &record.value {
            Value::OctetString(b) | Value::Opaque(b) | Value::Nsap(b) => {
                record.hex || !is_plain_text(b)
            }
            Value::IpAddress(_) => record.hex,
            _ => false,
        };
        write_line(&mut out, &record.oid, &record.value, hex).map_err(|kind| SnmprecError {
            line: index + 1,
            kind,
        })?;
    }
    Ok(out)
}

/// Bytes that read back identically from a plain (non-hex) value: printable ASCII only, so no
/// line breaks and no multi-byte UTF-8 whose validity would matter.
fn is_plain_text(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| (0x20..0x7f).contains(b))
}

fn write_line(
    out: &mut String,
    oid: &Oid,
    value: &Value,
    hex: bool,
) -> Result<(), SnmprecErrorKind> {
    let (code, text): (&str, String) = match value {
        Value::Integer(v) => ("2", v.to_string()),
        Value::OctetString(b) => ("4", bytes_text(b, hex)),
        Value::Null => ("5", String::new()),
        Value::ObjectIdentifier(o) => ("6", o.to_string()),
        Value::IpAddress(octets) => {
            if hex {
                ("64", hex_text(octets))
            } else {
                ("64", std::net::Ipv4Addr::from(*octets).to_string())
            }
        }
        Value::Counter32(v) => ("65", v.to_string()),
        Value::Gauge32(v) => ("66", v.to_string()),
        Value::TimeTicks(v) => ("67", v.to_string()),
        Value::Opaque(b) => ("68", bytes_text(b, hex)),
        Value::Nsap(b) => ("69", bytes_text(b, hex)),
        Value::Counter64(v) => ("70", v.to_string()),
        Value::UInteger32(v) => ("71", v.to_string()),
        other => return Err(SnmprecErrorKind::Unwritable(other.kind().to_string())),
    };
    let suffix = if hex { "x" } else { "" };
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{oid}|{code}{suffix}|{text}");
    Ok(())
}

fn bytes_text(bytes: &[u8], hex: bool) -> String {
    if hex {
        hex_text(bytes)
    } else {
        // Only reached for printable ASCII (see `is_plain_text`), so this is lossless.
        String::from_utf8_lossy(bytes).into_owned()
    }
}

fn hex_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../../../tests/fixtures/gam12c-walk.snmprec");

    #[test]
    fn fixture_round_trips_byte_for_byte() {
        let records = parse_records(FIXTURE).unwrap();
        assert_eq!(records.len(), 1455);
        assert_eq!(write_records(&records).unwrap(), FIXTURE);
    }

    #[test]
    fn fixture_round_trips_through_plain_pairs() {
        let pairs = parse(FIXTURE).unwrap();
        let text = write(pairs.iter().map(|(o, v)| (o, v))).unwrap();
        assert_eq!(parse(&text).unwrap(), pairs);
    }

    #[test]
    fn octet_strings_keep_exact_bytes() {
        let pairs =
            parse("1.3.6.1.2.1.2.2.1.2.1|4x|564c414e202020200a00ff\n1.3.6.1.2.1.1.1.0|4|a|b \n")
                .unwrap();
        assert_eq!(
            pairs[0].1,
            Value::OctetString(b"VLAN    \n\x00\xff".to_vec().into())
        );
        assert_eq!(pairs[1].1, Value::OctetString(b"a|b ".to_vec().into()));
    }

    #[test]
    fn every_type_parses() {
        let text = "1.3.6.1.1|2|-5\n1.3.6.1.2|5|\n1.3.6.1.3|6|1.3.6.1.4.1.20095\n\
                    1.3.6.1.4|64|10.0.0.1\n1.3.6.1.5|64x|0a000002\n1.3.6.1.6|65|4294967295\n\
                    1.3.6.1.7|66|7\n1.3.6.1.8|67|100\n1.3.6.1.9|68x|0102\n1.3.6.1.10|70|18446744073709551615\n\
                    1.3.6.1.11|71|9\n";
        let values: Vec<Value> = parse(text).unwrap().into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            values,
            vec![
                Value::Integer(-5),
                Value::Null,
                Value::ObjectIdentifier(Oid::from_slice(&[1, 3, 6, 1, 4, 1, 20095])),
                Value::IpAddress([10, 0, 0, 1]),
                Value::IpAddress([10, 0, 0, 2]),
                Value::Counter32(u32::MAX),
                Value::Gauge32(7),
                Value::TimeTicks(100),
                Value::Opaque(vec![1, 2].into()),
                Value::Counter64(u64::MAX),
                Value::UInteger32(9),
            ]
        );
        let again = write_records(&parse_records(text).unwrap()).unwrap();
        assert_eq!(again, text);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("1.3.6.1|2|1\n\nnonsense\n", 3, "expected"),
            ("1.3.6.1|99|1\n", 1, "unknown type"),
            ("1.3.6.1|4x|abc\n", 1, "bad 4x"),
            ("1.3.6.1|4x|zz\n", 1, "bad 4x"),
            ("1.3.6.1|2|99999999999\n", 1, "bad 2"),
            ("1.3.6.1|65|-1\n", 1, "bad 65"),
            ("1.3.6.1|64|300.1.1.1\n", 1, "bad 64"),
            ("1.3.6.1|64x|0102\n", 1, "bad 64x"),
            ("1.3.6.1|6|1..3\n", 1, "bad 6"),
            ("1.3.6.1|2x|00\n", 1, "unknown type"),
            ("1.3..6|2|1\n", 1, "bad OID"),
            ("|2|1\n", 1, "bad OID"),
            ("7.3.6|2|1\n", 1, "bad OID"),
            ("1.3.6.+1|2|1\n", 1, "bad OID"),
            ("1.3.6.1|2|1\n1.3.6.1|2|2\n", 2, "duplicate"),
            ("1.3.6.1|5|x\n", 1, "bad 5"),
        ];
        for (text, line, needle) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(err.to_string().contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_tolerated() {
        let pairs = parse("# a walk\r\n\r\n1.3.6.1.2.1.1.5.0|4|gam\r\n").unwrap();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].1, Value::OctetString(b"gam".to_vec().into()));
    }

    #[test]
    fn exceptions_cannot_be_written() {
        let oid = Oid::from_slice(&[1, 3, 6]);
        let err = write([(&oid, &Value::NoSuchObject)]).unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn arbitrary_input_never_panics() {
        // A cheap deterministic fuzz: every prefix and single-byte mutation of a few lines.
        let seed = "1.3.6.1.2.1.1.1.0|4x|4741|\n1.3.6.1.2|64|1.2.3.4\n1.3.6.1.9|70|12\n";
        for cut in 0..=seed.len() {
            let _ = parse(&seed[..cut]);
        }
        for i in 0..seed.len() {
            for b in [b'|', b'.', b'x', b'9', b'\n', b'-', 0xff_u8] {
                let mut bytes = seed.as_bytes().to_vec();
                bytes[i] = b;
                let text = String::from_utf8_lossy(&bytes);
                let _ = parse(&text);
            }
        }
    }
}
