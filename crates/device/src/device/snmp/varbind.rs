//! Owned copies of what an agent answered: snmp2's values borrow its receive buffer, so each
//! answer is copied out at once, and checked while at it (an OID arc that does not fit 32 bits is
//! a malformed answer, not a panic).

use std::fmt;

/// One value, as the agent typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Integer(i64),
    OctetString(Vec<u8>),
    ObjectId(Vec<u32>),
    IpAddress([u8; 4]),
    Counter32(u32),
    /// Gauge32 and Unsigned32 share one tag.
    Unsigned32(u32),
    TimeTicks(u32),
    Counter64(u64),
    Null,
    EndOfMibView,
    NoSuchObject,
    NoSuchInstance,
    /// Anything else (Opaque, a BOOLEAN, a constructed value...): never what a GAM column holds.
    Other(&'static str),
}

impl Value {
    /// The SMI type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Integer(_) => "INTEGER",
            Value::OctetString(_) => "OCTET STRING",
            Value::ObjectId(_) => "OBJECT IDENTIFIER",
            Value::IpAddress(_) => "IpAddress",
            Value::Counter32(_) => "Counter32",
            Value::Unsigned32(_) => "Gauge32",
            Value::TimeTicks(_) => "TimeTicks",
            Value::Counter64(_) => "Counter64",
            Value::Null => "NULL",
            Value::EndOfMibView => "endOfMibView",
            Value::NoSuchObject => "noSuchObject",
            Value::NoSuchInstance => "noSuchInstance",
            Value::Other(name) => name,
        }
    }

    /// Whether this is one of the SNMPv2 exceptions rather than a value.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::EndOfMibView | Value::NoSuchObject | Value::NoSuchInstance
        )
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// One variable binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarBind {
    pub oid: Vec<u32>,
    pub value: Value,
}

/// An OID whose arcs do not fit SNMP's 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an OID in the answer has an arc larger than 32 bits")]
pub struct OidOutOfRange;

/// Copies an snmp2 OID into arcs.
pub fn arcs(oid: &snmp2::Oid<'_>) -> Result<Vec<u32>, OidOutOfRange> {
    let iter = oid.iter().ok_or(OidOutOfRange)?;
    iter.map(|arc| u32::try_from(arc).map_err(|_| OidOutOfRange))
        .collect()
}

/// Copies an snmp2 value.
pub fn owned(value: &snmp2::Value<'_>) -> Result<Value, OidOutOfRange> {
    use snmp2::Value as V;
    Ok(match value {
        V::Integer(n) => Value::Integer(*n),
        V::OctetString(bytes) => Value::OctetString(bytes.to_vec()),
        V::ObjectIdentifier(oid) => Value::ObjectId(arcs(oid)?),
        V::IpAddress(a) => Value::IpAddress(*a),
        V::Counter32(n) => Value::Counter32(*n),
        V::Unsigned32(n) => Value::Unsigned32(*n),
        V::Timeticks(n) => Value::TimeTicks(*n),
        V::Counter64(n) => Value::Counter64(*n),
        V::Null => Value::Null,
        V::EndOfMibView => Value::EndOfMibView,
        V::NoSuchObject => Value::NoSuchObject,
        V::NoSuchInstance => Value::NoSuchInstance,
        V::Opaque(_) => Value::Other("Opaque"),
        V::Boolean(_) => Value::Other("BOOLEAN"),
        _ => Value::Other("a constructed value"),
    })
}
