//! What can go wrong with a JSON-RPC call, and the one parser of the device's replies.
//!
//! A device error is JSON-RPC code -32603 with `data.vtss-error-code`; the G.hn agent's codes
//! (module 143) run from -9437183 to -9437127. Only the codes whose meaning the project's
//! reference names get a message and a hint of gamops' own ([`known`]); for every other code the
//! device's own message is shown with its code, since the texts of the rest are not known to
//! gamops.

use serde_json::Value;

/// The G.hn agent's code for module code `m` (-1 ... -57).
pub const fn vtss_code(module_code: i64) -> i64 {
    -9_437_184 - module_code
}

/// The errors the reference names: the module code where the reference gives it (only -21 and
/// -9), the device's text, gamops' words, the hint. An error is recognised by its exact text,
/// or by one of those two codes; never by a code the reference does not give (the lab's table
/// puts the other texts under codes of its own, which a real GAM may use for something else).
const KNOWN: &[(Option<i64>, &str, &str, &str)] = &[
    (
        None,
        "Non-unique G.hn subscriber name",
        "another subscriber already has this name",
        "subscriber names are unique on a GAM; rename one of them",
    ),
    (
        None,
        "Invalid G.hn bandwidth profile downstream bandwidth",
        "the downstream rate is out of the device's range",
        "bandwidth profiles take 10 to 1999 Mbps (coax: at most 800, or unthrottled)",
    ),
    (
        None,
        "G.hn endpoint is already assigned to another subscriber",
        "the endpoint is already assigned to another subscriber",
        "one endpoint serves one subscriber; move or delete the other subscriber first",
    ),
    (
        None,
        "Maximum number of G.hn endpoint reached for that port",
        "the port has as many endpoints as it can take",
        "a copper port takes 1 endpoint, a coax port 16",
    ),
    (
        None,
        "Too many allowed tagged VLAN",
        "too many allowed tagged VLANs",
        "a subscriber passes at most 14 extra VLANs (12 on some firmware)",
    ),
    (
        None,
        "Specified NNI port is not uplink",
        "the NNI named is not an uplink port",
        "Q-in-Q's NNI must be a 10G uplink (\"10G 1/1\" or \"10G 1/2\")",
    ),
    (
        None,
        "Error querying G.hn device. May be missing or busy.",
        "the device could not reach the G.hn endpoint (it may be missing or busy)",
        "this is transient: apply again in a minute",
    ),
    (
        Some(-21),
        "Non-existing G.hn bandwidth profile",
        "the bandwidth profile does not exist",
        "a subscriber's profile must exist before it: apply the profiles first",
    ),
    (
        Some(-9),
        "Non-existing G.hn endpoint (no such endpoint configured)",
        "the endpoint does not exist",
        "a subscriber's endpoint must exist before it: apply the endpoints first",
    ),
];

/// gamops' words and hint for an error the reference names, by its `vtss-error-code` or, when
/// the code is not one of them, by the device's exact text.
pub fn known(vtss: Option<i64>, message: &str) -> Option<(&'static str, &'static str)> {
    KNOWN
        .iter()
        .find(|(_, text, _, _)| *text == message)
        .or_else(|| {
            KNOWN
                .iter()
                .find(|(m, _, _, _)| m.is_some_and(|m| vtss == Some(vtss_code(m))))
        })
        .map(|(_, _, what, hint)| (*what, *hint))
}

/// The text of the error the reference calls transient.
const BUSY: &str = "May be missing or busy";

/// A failed call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the device's TLS certificate is not the one pinned (it has {got}, pinned {pinned})")]
    CertificateChanged { pinned: String, got: String },
    #[error("login as {user} refused (HTTP 401)")]
    Unauthorized { user: String },
    #[error("{method}: the web server answered HTTP {status}")]
    Http { method: String, status: u16 },
    #[error("{method}: the answer is not JSON-RPC ({detail})")]
    NotJson { method: String, detail: String },
    #[error("{method}: no answer within {seconds} s")]
    Timeout { method: String, seconds: u64 },
    #[error("{method}: the connection was lost ({reason})")]
    Lost { method: String, reason: String },
    /// The device refused the call. `message` is the device's own text (escaped for people).
    #[error("{}", device_message(.method, .code, .vtss, .message))]
    Device {
        method: String,
        code: i64,
        vtss: Option<i64>,
        message: String,
    },
    #[error("the device's firmware ({firmware}) has no JSON-RPC method {method}; nothing was sent")]
    MissingMethod { method: String, firmware: String },
    /// A value that cannot be sent (a control character in a name): never sent.
    #[error("the value {0} cannot be sent to the device: it holds a control character")]
    UnsafeValue(String),
}

fn device_message(method: &str, code: &i64, vtss: &Option<i64>, message: &str) -> String {
    let code = match vtss {
        Some(v) => format!("code {v}"),
        None => format!("JSON-RPC code {code}"),
    };
    match known(*vtss, message) {
        Some((what, _)) => format!("the device refused {method}: {what} ({message:?}, {code})"),
        // Not one the reference explains: the device's own words, with its code.
        None => format!("the device refused {method}: {message:?} ({code})"),
    }
}

impl RpcError {
    /// Whether the device may be unreachable now: what was sent may or may not have happened.
    pub fn is_session_lost(&self) -> bool {
        matches!(
            self,
            RpcError::Timeout { .. } | RpcError::Lost { .. } | RpcError::Connect { .. }
        )
    }

    /// Whether another try may succeed (the device said it was busy).
    pub fn is_transient(&self) -> bool {
        match self {
            RpcError::Device { message, .. } => message.contains(BUSY),
            _ => false,
        }
    }

    /// Whether the device refused a save because another save or load is running.
    pub fn is_save_busy(&self) -> bool {
        matches!(self, RpcError::Device { message, .. }
            if message.contains("already in progress") || message.contains("in progress"))
    }

    /// A hint for the person reading the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RpcError::Unauthorized { .. } => Some(
                "check jsonrpc.username/password (they default to ssh.username/password): the web UI's login",
            ),
            RpcError::CertificateChanged { .. } => Some(
                "if the device's certificate was renewed, check it and update jsonrpc.certificate; otherwise someone may be in the middle",
            ),
            RpcError::Connect { .. } => Some(
                "check the device's address, jsonrpc.port and jsonrpc.tls, and that its web server is on",
            ),
            RpcError::NotJson { .. } | RpcError::Http { .. } => Some(
                "check jsonrpc.port: it must reach the GAM's web server, which serves /json_rpc",
            ),
            RpcError::MissingMethod { .. } => {
                Some("upgrade the firmware, or use `driver: cli` for this device")
            }
            RpcError::Device { vtss, message, .. } => known(*vtss, message).map(|(_, hint)| hint),
            _ => None,
        }
    }
}

/// The largest reply body read (the introspection answer is the big one).
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

/// Parses a reply body to call `id`: the `result`, or the error it carries. Never panics,
/// whatever the bytes.
pub fn parse_reply(method: &str, id: u64, body: &[u8]) -> Result<Value, RpcError> {
    let not_json = |detail: String| RpcError::NotJson {
        method: method.to_string(),
        detail,
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let head = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        not_json(format!(
            "{e}; it begins {:?}",
            crate::device::printable(&head)
        ))
    })?;
    let Value::Object(mut reply) = value else {
        return Err(not_json("not an object".into()));
    };
    match reply.get("id") {
        Some(Value::Number(n)) if n.as_u64() == Some(id) => {}
        Some(Value::Null) | None if reply.get("error").is_some_and(|e| !e.is_null()) => {}
        other => {
            return Err(not_json(format!(
                "the reply's id is {}, the call's {id}",
                other.map_or_else(|| "missing".to_string(), ToString::to_string)
            )));
        }
    }
    match reply.remove("error") {
        None | Some(Value::Null) => {}
        Some(Value::Object(e)) => {
            let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let data = e.get("data");
            let vtss = data
                .and_then(|d| d.get("vtss-error-code"))
                .and_then(Value::as_i64);
            // The device's text is shown to people and journalled: escaped.
            let message = if message.is_empty() {
                data.and_then(|d| d.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            } else {
                message
            };
            return Err(RpcError::Device {
                method: method.to_string(),
                code,
                vtss,
                message: crate::device::printable(&message).into_owned(),
            });
        }
        Some(other) => {
            return Err(RpcError::Device {
                method: method.to_string(),
                code: 0,
                vtss: None,
                message: crate::device::printable(&other.to_string()).into_owned(),
            });
        }
    }
    match reply.remove("result") {
        Some(v) => Ok(v),
        None => Err(not_json("it has neither result nor error".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_code_range_is_module_143s() {
        assert_eq!(vtss_code(-1), -9_437_183);
        assert_eq!(vtss_code(-57), -9_437_127);
    }

    #[test]
    fn results_errors_and_junk() {
        assert_eq!(
            parse_reply("m", 7, br#"{"id":7,"error":null,"result":[1]}"#),
            Ok(serde_json::json!([1]))
        );
        let e = parse_reply(
            "ghnAgent.config.userByName.add",
            7,
            br#"{"id":7,"error":{"code":-32603,"message":"Non-unique G.hn subscriber name","data":{"vtss-error-code":-9437168}},"result":null}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("another subscriber already has this name"),
            "{e}"
        );
        assert!(e.to_string().contains("-9437168"), "{e}");
        assert!(e.hint().unwrap().contains("unique"));
        let unknown = parse_reply(
            "m",
            1,
            br#"{"id":1,"error":{"code":-32603,"message":"Invalid G.hn port #2 VLAN id","data":{"vtss-error-code":-9437157}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "the device refused m: \"Invalid G.hn port #2 VLAN id\" (code -9437157)"
        );
        // A code the reference does not give is not taken to mean what the lab's table says:
        // a real GAM may use it for something else, so only its text counts.
        let other = parse_reply(
            "m",
            1,
            br#"{"id":1,"error":{"code":-32603,"message":"Something else","data":{"vtss-error-code":-9437168}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            other.to_string(),
            "the device refused m: \"Something else\" (code -9437168)"
        );
        assert_eq!(other.hint(), None);
        // The two codes the reference gives are known by their code alone.
        let missing_profile = parse_reply(
            "m",
            1,
            br#"{"id":1,"error":{"code":-32603,"message":"?","data":{"vtss-error-code":-9437163}}}"#,
        )
        .unwrap_err();
        assert!(
            missing_profile
                .to_string()
                .contains("the bandwidth profile does not exist"),
            "{missing_profile}"
        );
        let busy = parse_reply(
            "m",
            1,
            br#"{"id":1,"error":{"code":-32603,"message":"Error querying G.hn device. May be missing or busy.","data":{"vtss-error-code":-9437131}}}"#,
        )
        .unwrap_err();
        assert!(busy.is_transient());
        // A named text under a code gamops does not know is still recognised by its text.
        let by_text = parse_reply(
            "m",
            1,
            br#"{"id":1,"error":{"code":-32603,"message":"Specified NNI port is not uplink","data":{"vtss-error-code":-1}}}"#,
        )
        .unwrap_err();
        assert!(
            by_text.to_string().contains("not an uplink port"),
            "{by_text}"
        );
        assert!(by_text.hint().unwrap().contains("10G"));
        assert!(matches!(
            parse_reply("m", 1, b"<html>login</html>"),
            Err(RpcError::NotJson { .. })
        ));
        assert!(matches!(
            parse_reply("m", 1, br#"{"id":2,"result":1}"#),
            Err(RpcError::NotJson { .. })
        ));
        assert!(matches!(
            parse_reply("m", 1, br#"{"id":1}"#),
            Err(RpcError::NotJson { .. })
        ));
        let escaped = parse_reply(
            "m",
            1,
            b"{\"id\":1,\"error\":{\"message\":\"a\\u001b[2Jb\"}}",
        )
        .unwrap_err()
        .to_string();
        assert!(!escaped.contains('\u{1b}'), "{escaped}");
    }

    proptest! {
        #[test]
        fn no_reply_body_makes_the_parser_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_reply("m", 1, &body);
        }

        #[test]
        fn no_json_reply_makes_the_parser_panic(
            id in proptest::option::of(any::<i64>()),
            code in any::<i64>(),
            message in ".{0,20}",
            vtss in proptest::option::of(any::<i64>()),
            result in proptest::option::of(".{0,10}"),
        ) {
            let mut reply = serde_json::Map::new();
            if let Some(id) = id { reply.insert("id".into(), id.into()); }
            reply.insert("error".into(), serde_json::json!({"code": code, "message": message, "data": {"vtss-error-code": vtss}}));
            if let Some(r) = result { reply.insert("result".into(), r.into()); }
            let text = serde_json::Value::Object(reply).to_string();
            let _ = parse_reply("m", 1, text.as_bytes());
        }
    }
}
