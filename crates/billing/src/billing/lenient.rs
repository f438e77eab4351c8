//! Lenient JSON types: Splynx sends numbers and booleans as strings (`"id": "1"`,
//! `"access_device": "1"`), sometimes as JSON numbers, sometimes `null` or `""`.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// A whole number from a number or a string of digits; `null`, `""` and junk give `None`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(value_u64(&Value::deserialize(d)?))
}

/// A whole number that must be there (ids).
pub fn u64_req<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    value_u64(&v).ok_or_else(|| de::Error::custom(format!("expected a whole number, found {v}")))
}

/// Text from a string, number or boolean; `null` gives "".
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(value_text(&Value::deserialize(d)?).unwrap_or_default())
}

/// A boolean from `true`, `1`, `"1"`, `"true"`, `"yes"` (and their opposites); others are false.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(value_bool(&Value::deserialize(d)?))
}

/// An object of scalars as text (additional attributes); anything else gives an empty map.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let v = Value::deserialize(d)?;
    let mut out = BTreeMap::new();
    if let Value::Object(map) = v {
        for (k, v) in map {
            if let Some(text) = value_text(&v) {
                out.insert(k, text);
            }
        }
    }
    Ok(out)
}

pub fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn value_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct R {
        #[serde(deserialize_with = "u64_req")]
        id: u64,
        #[serde(default, deserialize_with = "opt_u64")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "boolean")]
        b: bool,
        #[serde(default, deserialize_with = "string")]
        s: String,
        #[serde(default, deserialize_with = "string_map")]
        m: BTreeMap<String, String>,
    }

    #[test]
    fn strings_numbers_and_junk() {
        let r: R = serde_json::from_str(
            r#"{"id":"17","n":"","b":"1","s":12,"m":{"vlan":"1409","port":7,"x":null,"y":[1]}}"#,
        )
        .unwrap();
        assert_eq!(r.id, 17);
        assert_eq!(r.n, None);
        assert!(r.b);
        assert_eq!(r.s, "12");
        assert_eq!(r.m.len(), 2);
        assert_eq!(r.m["port"], "7");
        let r: R = serde_json::from_str(r#"{"id":3,"n":5,"b":"true","s":null,"m":[]}"#).unwrap();
        assert_eq!((r.id, r.n, r.b, r.s.as_str()), (3, Some(5), true, ""));
        assert!(r.m.is_empty());
        let r: R = serde_json::from_str(r#"{"id":"x"}"#.replace('x', "1").as_str()).unwrap();
        assert!(!r.b);
        assert!(serde_json::from_str::<R>(r#"{"id":"abc"}"#).is_err());
        assert!(serde_json::from_str::<R>(r#"{"id":-1}"#).is_err());
    }
}
