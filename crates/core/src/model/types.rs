//! Value types that cannot hold a value the GAM would refuse for its syntax: VLAN ids, MAC
//! addresses, rates, names, port numbers and credential references.
//!
//! Syntax is checked here, when a value is built; rules that depend on context (a VLAN the GAM
//! reserves, a port beyond the model's count) are checked in [`crate::model::validate`], which can
//! report every problem at once.
//!
//! Error messages built here may carry a hint after [`HINT_SEP`]; the inventory layer splits it
//! off into the diagnostic's hint.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Separates a message from its hint inside a deserialisation error's text.
pub const HINT_SEP: &str = "; hint: ";

/// A syntax error in a value, with a hint for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    pub message: String,
    pub hint: String,
}

impl ValueError {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        ValueError {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The message and hint joined with [`HINT_SEP`], for serde errors.
    fn into_serde<E: de::Error>(self) -> E {
        E::custom(format!("{}{}{}", self.message, HINT_SEP, self.hint))
    }
}

/// Reads a scalar as text: YAML writes `id: 10423` as a number, but it is still a name.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Text;
    impl de::Visitor<'_> for Text {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("text")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Err(ValueError::new(
                format!("expected text, found the boolean {v}"),
                "put the text in quotes",
            )
            .into_serde())
        }
    }
    d.deserialize_any(Text)
}

/// Reads a whole number, with an error that names what was found instead.
fn integer<'de, D: Deserializer<'de>>(d: D, what: &'static str) -> Result<i64, D::Error> {
    struct Int(&'static str);
    impl de::Visitor<'_> for Int {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{} (a whole number)", self.0)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            Ok(i64::try_from(v).unwrap_or(i64::MAX))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            Err(ValueError::new(
                format!("expected {} (a whole number), found {v:?}", self.0),
                "write digits only, without quotes or units",
            )
            .into_serde())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            Err(ValueError::new(
                format!("expected {} (a whole number), found {v}", self.0),
                "write a whole number",
            )
            .into_serde())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<i64, E> {
            Err(ValueError::new(
                format!("expected {} (a whole number), found {v}", self.0),
                "write a whole number",
            )
            .into_serde())
        }
    }
    d.deserialize_any(Int(what))
}

/// Implements Display, FromStr-based Deserialize and Display-based Serialize for a value type,
/// with a JSON Schema of a string matching `pattern`.
macro_rules! string_value_type {
    ($ty:ty = quoted, $schema_name:literal, $pattern:expr, $description:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                // Always quoted in YAML: a YAML 1.1 reader would take some of these for numbers.
                serde_saphyr::DoubleQuoted(self.to_string()).serialize(s)
            }
        }
        string_value_type!(@rest $ty, $schema_name, $pattern, $description);
    };
    ($ty:ty, $schema_name:literal, $pattern:expr, $description:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        string_value_type!(@rest $ty, $schema_name, $pattern, $description);
    };
    (@rest $ty:ty, $schema_name:literal, $pattern:expr, $description:literal) => {

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = text(d)?;
                s.parse::<$ty>().map_err(ValueError::into_serde)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $schema_name.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                })
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// VLAN

/// An IEEE 802.1Q VLAN id, 1..=4095. Whether the GAM lets a subscriber use it is a rule of its
/// own ([`Vlan::gam_reserved`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Vlan(u16);

impl Vlan {
    pub const MIN: u16 = 1;
    pub const MAX: u16 = 4095;

    pub fn new(id: u16) -> Result<Vlan, ValueError> {
        if (Self::MIN..=Self::MAX).contains(&id) {
            Ok(Vlan(id))
        } else {
            Err(ValueError::new(
                format!("VLAN {id} is not a VLAN id"),
                "a VLAN id is 1..4095; subscribers use 3..4093",
            ))
        }
    }

    pub const fn get(self) -> u16 {
        self.0
    }

    /// Why the GAM refuses this VLAN for a subscriber, if it does.
    pub fn gam_reserved(self) -> Option<&'static str> {
        match self.0 {
            1 => Some("VLAN 1 is the GAM's default VLAN"),
            2 => Some("VLAN 2 is the GAM's internal CPE-management VLAN"),
            3840..=3842 => Some("VLANs 3840-3842 are reserved by the GAM"),
            4094 => Some("VLAN 4094 is the GAM's captive-portal VLAN for unassigned endpoints"),
            4095 => Some("VLAN 4095 is reserved by IEEE 802.1Q"),
            _ => None,
        }
    }
}

impl fmt::Display for Vlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Vlan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = integer(d, "a VLAN id")?;
        let id = u16::try_from(n).unwrap_or(0);
        Vlan::new(id).map_err(|_| {
            ValueError::new(
                format!("VLAN {n} is not a VLAN id"),
                "a VLAN id is 1..4095; subscribers use 3..4093",
            )
            .into_serde()
        })
    }
}

impl JsonSchema for Vlan {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Vlan".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": 4095,
            "description": "An 802.1Q VLAN id. Subscribers use 3..4093 except 3840-3842.",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// MAC

/// An Ethernet MAC address, written `00:0e:d8:1c:95:08` (colons or dashes; any case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl FromStr for Mac {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ValueError::new(
                format!("{s:?} is not a MAC address"),
                "write six hex pairs separated by colons, like 00:0e:d8:1c:95:08",
            )
        };
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for slot in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

string_value_type!(
    Mac = quoted,
    "Mac",
    "^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$",
    "An Ethernet MAC address such as 00:0e:d8:1c:95:08."
);

// ---------------------------------------------------------------------------------------------
// Rates

/// A shaper rate in Mbps, as the GAM takes it: 10..=1999.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Mbps(u16);

impl Mbps {
    pub const MIN: u16 = 10;
    pub const MAX: u16 = 1999;

    pub fn new(rate: u32) -> Result<Mbps, ValueError> {
        match u16::try_from(rate) {
            Ok(r) if (Self::MIN..=Self::MAX).contains(&r) => Ok(Mbps(r)),
            _ => Err(ValueError::new(
                format!("{rate} Mbps is outside the GAM's range"),
                "a bandwidth plan's rate is 10..1999 Mbps; use `plan: unthrottled` for no limit",
            )),
        }
    }

    pub const fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Mbps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Mbps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = integer(d, "a rate in Mbps")?;
        Mbps::new(u32::try_from(n).unwrap_or(u32::MAX)).map_err(|_| {
            ValueError::new(
                format!("{n} Mbps is outside the GAM's range"),
                "a bandwidth plan's rate is 10..1999 Mbps; use `plan: unthrottled` for no limit",
            )
            .into_serde()
        })
    }
}

impl JsonSchema for Mbps {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mbps".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 10,
            "maximum": 1999,
            "description": "A rate in Mbps (the GAM shapes at L2: set plans 6-8 % above the advertised speed).",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Names

/// The longest name the GAM stores (subscriber, endpoint and profile names, the hostname).
pub const MAX_NAME_LEN: usize = 31;

/// The longest description gamops writes to the GAM.
pub const MAX_DESCRIPTION_LEN: usize = 63;

/// A name that is a key both on the GAM and in the inventory's file names: 1..=31 printable
/// ASCII characters without spaces, quotes (`"`, which the GAM's CLI cannot carry) or slashes
/// (`/`, `\`, which a file name cannot), not starting with `.` or `-`. Real GAMs carry names such
/// as `C#` and `Positron_1997E6`. Device names, subscriber ids and plan names are `Ident`s.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl Ident {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `c` may appear in a name.
    pub fn allowed_char(c: char) -> bool {
        c.is_ascii_graphic() && !matches!(c, '"' | '/' | '\\')
    }
}

impl FromStr for Ident {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hint = "use 1..31 printable ASCII characters without spaces, quotes or slashes";
        if s.is_empty() {
            return Err(ValueError::new("a name cannot be empty", hint));
        }
        if s.chars().count() > MAX_NAME_LEN {
            return Err(ValueError::new(
                format!(
                    "{s:?} is {} characters long; the GAM keeps at most {MAX_NAME_LEN}",
                    s.chars().count()
                ),
                hint,
            ));
        }
        if let Some(c) = s.chars().find(|c| !Ident::allowed_char(*c)) {
            return Err(ValueError::new(
                format!("{s:?} has the character {c:?}, which a GAM name cannot hold"),
                hint,
            ));
        }
        if s.starts_with(['.', '-']) {
            return Err(ValueError::new(
                format!("{s:?} starts with {:?}", &s[..1]),
                "a name cannot start with `.` (a hidden file) or `-` (an option)",
            ));
        }
        Ok(Ident(s.to_string()))
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for Ident {
    fn borrow(&self) -> &str {
        &self.0
    }
}

string_value_type!(
    Ident,
    "Ident",
    "^[!#-,0-\\[\\]-~][!#-.0-\\[\\]-~]{0,30}$",
    "A GAM name: 1..31 printable ASCII characters without spaces, quotes or slashes, not starting with . or -."
);

/// A free-text label the GAM stores as a description: printable ASCII without `"`, at most 63
/// characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Description(String);

impl Description {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Description {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hint = "use at most 63 printable ASCII characters, without double quotes";
        if s.chars().count() > MAX_DESCRIPTION_LEN {
            return Err(ValueError::new(
                format!(
                    "this text is {} characters long; the GAM keeps at most {MAX_DESCRIPTION_LEN}",
                    s.chars().count()
                ),
                hint,
            ));
        }
        if let Some(c) = s.chars().find(|c| !(' '..='~').contains(c) || *c == '"') {
            return Err(ValueError::new(
                format!("the character {c:?} cannot be stored on the GAM"),
                hint,
            ));
        }
        Ok(Description(s.to_string()))
    }
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_value_type!(
    Description,
    "Description",
    "^[ !#-~]{0,63}$",
    "Free text stored on the GAM: at most 63 printable ASCII characters, no double quotes."
);

// ---------------------------------------------------------------------------------------------
// Ports

/// A G.hn port number, 1-based (`ghn port 3`). Whether the model has that port is a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PortNumber(u8);

impl PortNumber {
    pub fn new(n: u32) -> Result<PortNumber, ValueError> {
        match u8::try_from(n) {
            Ok(p) if p >= 1 => Ok(PortNumber(p)),
            _ => Err(ValueError::new(
                format!("{n} is not a G.hn port number"),
                "G.hn ports are numbered from 1 to the model's port count (4, 8, 12 or 24)",
            )),
        }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for PortNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for PortNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = integer(d, "a port number")?;
        PortNumber::new(u32::try_from(n).unwrap_or(0)).map_err(|_| {
            ValueError::new(
                format!("{n} is not a G.hn port number"),
                "G.hn ports are numbered from 1 to the model's port count (4, 8, 12 or 24)",
            )
            .into_serde()
        })
    }
}

impl JsonSchema for PortNumber {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PortNumber".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": 24,
            "description": "A G.hn port number, 1 to the model's port count.",
        })
    }
}

/// A 10G uplink used as the NNI for Q-in-Q, written as the GAM names it: `10G 1/1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uplink(u8);

impl Uplink {
    pub fn new(n: u8) -> Option<Uplink> {
        (1..=2).contains(&n).then_some(Uplink(n))
    }

    pub const fn get(self) -> u8 {
        self.0
    }

    /// The uplink's ifIndex on `model`: after its G.hn ports (see [`GamModel::uplink_base`]).
    pub fn if_index(self, model: super::GamModel) -> u32 {
        model.uplink_base() + u32::from(self.0)
    }
}

impl FromStr for Uplink {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("10G 1/")
            .and_then(|n| n.parse::<u8>().ok())
            .and_then(Uplink::new)
            .ok_or_else(|| {
                ValueError::new(
                    format!("{s:?} is not a GAM uplink"),
                    "write `10G 1/1` or `10G 1/2`",
                )
            })
    }
}

impl fmt::Display for Uplink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "10G 1/{}", self.0)
    }
}

string_value_type!(
    Uplink,
    "Uplink",
    "^10G 1/[12]$",
    "A 10G uplink port as the GAM names it: `10G 1/1` or `10G 1/2`."
);

// ---------------------------------------------------------------------------------------------
// Credentials

/// Where a secret comes from. Secrets never appear in the inventory: a password, community or
/// key is written `env:NAME` (an environment variable) or `file:PATH` (a file's contents). An
/// empty string means "no password" (the GAM's factory `admin` login).
///
/// A literal is still parsed, so the validator can report it with its position instead of
/// failing the whole file; its text is never printed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    Env(String),
    File(String),
    Empty,
    Literal(String),
}

impl Credential {
    pub fn is_literal(&self) -> bool {
        matches!(self, Credential::Literal(_))
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Literal(_) => f.write_str("Literal(<redacted>)"),
            other => write!(f, "{other}"),
        }
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Env(name) => write!(f, "env:{name}"),
            Credential::File(path) => write!(f, "file:{path}"),
            Credential::Empty => Ok(()),
            Credential::Literal(s) => f.write_str(s),
        }
    }
}

impl FromStr for Credential {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Credential::Empty);
        }
        if let Some(name) = s.strip_prefix("env:") {
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ValueError::new(
                    format!("{s:?} does not name an environment variable"),
                    "write env:NAME with NAME of A-Z, 0-9 and _",
                ));
            }
            return Ok(Credential::Env(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(ValueError::new(
                    "file: names no file",
                    "write file:/path/to/secret",
                ));
            }
            return Ok(Credential::File(path.to_string()));
        }
        Ok(Credential::Literal(s.to_string()))
    }
}

string_value_type!(
    Credential,
    "Credential",
    "^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)?$",
    "A reference to a secret: env:NAME or file:PATH (an empty string means no password)."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_range_and_reservations() {
        assert!(Vlan::new(0).is_err());
        assert!(Vlan::new(4096).is_err());
        assert_eq!(Vlan::new(1409).unwrap().gam_reserved(), None);
        for r in [1, 2, 3840, 3841, 3842, 4094, 4095] {
            assert!(Vlan::new(r).unwrap().gam_reserved().is_some(), "{r}");
        }
        for ok in [3, 3839, 3843, 4093] {
            assert!(Vlan::new(ok).unwrap().gam_reserved().is_none(), "{ok}");
        }
    }

    #[test]
    fn mac_parses_and_prints_canonically() {
        let m: Mac = "00-0E-D8-19-97-E6".parse().unwrap();
        assert_eq!(m.to_string(), "00:0e:d8:19:97:e6");
        for bad in [
            "",
            "00:0e:d8:19:97",
            "00:0e:d8:19:97:e6:01",
            "0:0e:d8:19:97:e6",
            "zz:0e:d8:19:97:e6",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mbps_range() {
        assert!(Mbps::new(9).is_err());
        assert!(Mbps::new(2000).is_err());
        assert!(Mbps::new(u32::MAX).is_err());
        assert_eq!(Mbps::new(545).unwrap().get(), 545);
    }

    #[test]
    fn ident_rules() {
        assert!("sonar-10423".parse::<Ident>().is_ok());
        assert!("1G".parse::<Ident>().is_ok());
        assert!("".parse::<Ident>().is_err());
        assert!("a".repeat(32).parse::<Ident>().is_err());
        assert!("a".repeat(31).parse::<Ident>().is_ok());
        assert!(
            "C#".parse::<Ident>().is_ok(),
            "a real GAM's subscriber name"
        );
        assert!("unit 4b".parse::<Ident>().is_err());
        assert!(".hidden".parse::<Ident>().is_err());
        assert!("-rf".parse::<Ident>().is_err());
        assert!("bad/name".parse::<Ident>().is_err());
        assert!("say\"hi".parse::<Ident>().is_err());
    }

    #[test]
    fn description_rules() {
        assert!("Unit 4B".parse::<Description>().is_ok());
        assert!("say \"hi\"".parse::<Description>().is_err());
        assert!("Wohnung ü".parse::<Description>().is_err());
        assert!("x".repeat(64).parse::<Description>().is_err());
    }

    #[test]
    fn credentials() {
        assert_eq!(
            "env:GAM_PW".parse::<Credential>().unwrap(),
            Credential::Env("GAM_PW".into())
        );
        assert_eq!(
            "file:/run/pw".parse::<Credential>().unwrap(),
            Credential::File("/run/pw".into())
        );
        assert_eq!("".parse::<Credential>().unwrap(), Credential::Empty);
        let lit = "hunter2".parse::<Credential>().unwrap();
        assert!(lit.is_literal());
        assert!(!format!("{lit:?}").contains("hunter2"));
        assert!("env:1BAD".parse::<Credential>().is_err());
        assert!("file:".parse::<Credential>().is_err());
    }

    #[test]
    fn uplink_names() {
        let u: Uplink = "10G 1/2".parse().unwrap();
        assert_eq!(u.if_index(crate::model::GamModel::Gam12C), 1_000_014);
        assert_eq!(u.to_string(), "10G 1/2");
        assert!("10G 1/3".parse::<Uplink>().is_err());
    }
}
