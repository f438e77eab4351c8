//! One device's SNMP session on snmp2: v2c or v3 USM, a timeout on every answer, retries, and
//! request counting.
//!
//! snmp2 leaves timeouts, retries and v3 engine re-synchronisation to the caller. Each try that
//! goes unanswered drops the socket and opens a fresh one: snmp2 reads exactly one datagram per
//! request and rejects a late answer to an earlier request as a request-id mismatch, so on the
//! same socket one late answer would put every later request one answer behind. A v3 session
//! re-discovers the engine on its new socket (one more round trip, only after a loss).

use std::num::NonZeroU32;

use snmp2::{AsyncSession, v3};
use tokio::time::timeout;

use super::target::{Security, SnmpTarget};
use super::varbind::{self, VarBind};
use crate::model::device::{AuthProtocol, PrivProtocol};

/// How many times one request is sent again because a v3 engine's boots/time were updated.
const MAX_AUTH_UPDATES: u32 = 3;

/// What the reads of one device cost, for progress and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Datagrams sent: requests, re-sends and v3 discovery.
    pub datagrams: u32,
    /// GET requests answered.
    pub gets: u32,
    /// GETBULK requests answered.
    pub get_bulks: u32,
    /// Re-sends after a try went unanswered.
    pub retries: u32,
    /// Variable bindings received.
    pub varbinds: u32,
}

impl std::ops::Add for ReadStats {
    type Output = ReadStats;

    fn add(self, other: ReadStats) -> ReadStats {
        ReadStats {
            datagrams: self.datagrams.saturating_add(other.datagrams),
            gets: self.gets.saturating_add(other.gets),
            get_bulks: self.get_bulks.saturating_add(other.get_bulks),
            retries: self.retries.saturating_add(other.retries),
            varbinds: self.varbinds.saturating_add(other.varbinds),
        }
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Every try went unanswered (or the port was unreachable).
    #[error("{what} after {tries} tries")]
    NoAnswer {
        tries: u32,
        /// `timeout` or `port unreachable`, the last try's failure.
        what: &'static str,
        /// The failure was in v3 engine discovery, before any request.
        discovery: bool,
    },
    /// SNMPv3 authentication or privacy failed.
    #[error("SNMPv3 authentication failed ({0}): wrong user, auth or priv password?")]
    Auth(String),
    /// The answer could not be parsed or did not fit the request.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The agent answered with an error status.
    #[error("agent answered error-status {name} ({status}) at varbind {index}")]
    ErrorStatus {
        status: u32,
        name: &'static str,
        index: u32,
    },
}

enum Request<'a> {
    Get(&'a [Vec<u32>]),
    GetBulk(&'a [Vec<u32>], NonZeroU32),
}

/// A try's failure: retry it, or give up.
enum TryError {
    Retry(&'static str),
    /// A datagram answering another request (a late answer to an earlier try, or a stray):
    /// not a lost try. The request is asked again on a fresh socket without using up a try.
    Stray,
    Fatal(RequestError),
}

/// How many stray answers one request tolerates before they count as failed tries (the read's
/// deadline bounds the whole anyway).
const MAX_STRAYS: u32 = 8;

/// The socket a session asks on: gamops's own for v2c (answers waited for by request id),
/// snmp2's for v3.
enum Transport {
    V2c(super::v2c::V2cSocket),
    V3(Box<AsyncSession>),
}

/// A session with one device.
pub struct Session<'t> {
    target: &'t SnmpTarget,
    /// Boxed: small to move around (its 64 KiB receive buffer is on the heap, with snmp2's
    /// `heap_buffers` feature; inline, it overflowed test threads' stacks).
    inner: Option<Transport>,
    stats: ReadStats,
    answered: bool,
}

impl<'t> Session<'t> {
    pub fn new(target: &'t SnmpTarget) -> Self {
        Session {
            target,
            inner: None,
            stats: ReadStats::default(),
            answered: false,
        }
    }

    /// Another session with the same device, on a socket of its own, that knows whether the
    /// device has answered yet (so a failure is told as "stopped answering half way"). Its
    /// statistics start at zero.
    pub fn sibling(&self) -> Session<'t> {
        Session {
            target: self.target,
            inner: None,
            stats: ReadStats::default(),
            answered: self.answered,
        }
    }

    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// Whether the device has answered any request yet.
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// GET of several OIDs in one request; the answer has exactly one binding per OID.
    pub async fn get(&mut self, oids: &[Vec<u32>]) -> Result<Vec<VarBind>, RequestError> {
        let vbs = self.request(Request::Get(oids)).await?;
        self.stats.gets += 1;
        if vbs.len() != oids.len() {
            return Err(RequestError::Malformed(format!(
                "{} bindings in the answer to a GET of {}",
                vbs.len(),
                oids.len()
            )));
        }
        Ok(vbs)
    }

    /// GETBULK with no non-repeaters: `max_repetitions` successors of each OID, row by row.
    pub async fn get_bulk(
        &mut self,
        oids: &[Vec<u32>],
        max_repetitions: NonZeroU32,
    ) -> Result<Vec<VarBind>, RequestError> {
        let vbs = self
            .request(Request::GetBulk(oids, max_repetitions))
            .await?;
        self.stats.get_bulks += 1;
        let most = oids.len().saturating_mul(max_repetitions.get() as usize);
        if vbs.len() > most {
            return Err(RequestError::Malformed(format!(
                "{} bindings in the answer to a GETBULK that allows {most}",
                vbs.len()
            )));
        }
        Ok(vbs)
    }

    async fn request(&mut self, request: Request<'_>) -> Result<Vec<VarBind>, RequestError> {
        let tries = self.target.retries.saturating_add(1);
        let mut last = "timeout";
        let mut discovery = false;
        let mut strays = 0;
        let mut attempt = 0;
        while attempt < tries {
            if attempt > 0 || strays > 0 {
                self.stats.retries += 1;
            }
            attempt += 1;
            if self.inner.is_none() {
                match self.connect().await {
                    Ok(session) => self.inner = Some(session),
                    Err(TryError::Retry(what)) => {
                        last = what;
                        discovery = true;
                        continue;
                    }
                    Err(TryError::Stray) => {
                        last = "answers to another request";
                        discovery = true;
                        continue;
                    }
                    Err(TryError::Fatal(e)) => return Err(e),
                }
            }
            discovery = false;
            match self.try_once(&request).await {
                Ok(vbs) => {
                    self.answered = true;
                    self.stats.varbinds = self.stats.varbinds.saturating_add(vbs.len() as u32);
                    return Ok(vbs);
                }
                Err(TryError::Retry(what)) => {
                    last = what;
                    self.inner = None;
                }
                Err(TryError::Stray) => {
                    last = "answers to another request";
                    self.inner = None;
                    if strays < MAX_STRAYS {
                        strays += 1;
                        attempt -= 1;
                    }
                }
                Err(TryError::Fatal(e)) => return Err(e),
            }
        }
        Err(RequestError::NoAnswer {
            tries,
            what: last,
            discovery,
        })
    }

    /// Opens a socket; for v3, discovers the engine (one round trip).
    async fn connect(&mut self) -> Result<Transport, TryError> {
        let addr = self.target.addr;
        let req_id = starting_request_id();
        let opened = match &self.target.security {
            Security::V2c { community } => {
                return super::v2c::V2cSocket::open(addr, community.expose().as_bytes(), req_id)
                    .await
                    .map(Transport::V2c)
                    .map_err(|_| TryError::Retry("cannot open a socket"));
            }
            Security::V3 {
                user,
                auth_protocol,
                auth_password,
                privacy,
            } => {
                let auth = match privacy {
                    None => v3::Auth::AuthNoPriv,
                    Some((protocol, password)) => v3::Auth::AuthPriv {
                        cipher: match protocol {
                            PrivProtocol::Des => v3::Cipher::Des,
                            PrivProtocol::Aes => v3::Cipher::Aes128,
                        },
                        privacy_password: password.expose().as_bytes().to_vec(),
                    },
                };
                let security =
                    v3::Security::new(user.as_bytes(), auth_password.expose().as_bytes())
                        .with_auth_protocol(match auth_protocol {
                            AuthProtocol::Md5 => v3::AuthProtocol::Md5,
                            AuthProtocol::Sha => v3::AuthProtocol::Sha1,
                        })
                        .with_auth(auth);
                AsyncSession::new_v3(addr, req_id, security).await
            }
        };
        let mut session = Box::new(opened.map_err(|_| TryError::Retry("cannot open a socket"))?);
        if matches!(self.target.security, Security::V3 { .. }) {
            self.stats.datagrams += 1;
            match timeout(self.target.timeout, session.init()).await {
                Err(_) => return Err(TryError::Retry("timeout")),
                Ok(Err(e)) => return Err(classify(e)),
                Ok(Ok(())) => {}
            }
        }
        Ok(Transport::V3(session))
    }

    async fn try_once(&mut self, request: &Request<'_>) -> Result<Vec<VarBind>, TryError> {
        let session = match self.inner.as_mut() {
            None => return Err(TryError::Retry("no session")),
            Some(Transport::V2c(socket)) => {
                // Checks the OIDs as the v3 path does (the same message when one cannot be sent).
                request_oids(request)?;
                self.stats.datagrams += 1;
                let pdu = match request {
                    Request::Get(oids) => super::v2c::Pdu::Get(oids),
                    Request::GetBulk(oids, reps) => super::v2c::Pdu::GetBulk(oids, reps.get()),
                };
                let malformed = |m: String| TryError::Fatal(RequestError::Malformed(m));
                return match socket
                    .request(&pdu, self.target.timeout, copy_answer, malformed)
                    .await?
                {
                    super::v2c::Answer::Got(vbs) => Ok(vbs),
                    super::v2c::Answer::Timeout { strays: 0 } => Err(TryError::Retry("timeout")),
                    super::v2c::Answer::Timeout { .. } => Err(TryError::Retry(
                        "timeout (only answers to other requests came)",
                    )),
                    super::v2c::Answer::Unreachable => Err(TryError::Retry("port unreachable")),
                };
            }
            Some(Transport::V3(session)) => session,
        };
        let oids = request_oids(request)?;
        let refs: Vec<&snmp2::Oid<'static>> = oids.iter().collect();
        let mut updates = 0;
        loop {
            self.stats.datagrams += 1;
            let sent = async {
                let pdu = match request {
                    Request::Get(_) => session.get_many(&refs).await?,
                    Request::GetBulk(_, reps) => session.getbulk(&refs, 0, reps.get()).await?,
                };
                Ok::<_, snmp2::Error>(copy_answer(&pdu))
            };
            match timeout(self.target.timeout, sent).await {
                Err(_) => return Err(TryError::Retry("timeout")),
                Ok(Err(snmp2::Error::AuthUpdated)) if updates < MAX_AUTH_UPDATES => {
                    updates += 1;
                }
                Ok(Err(e)) => return Err(classify(e)),
                Ok(Ok(answer)) => return answer,
            }
        }
    }
}

fn request_oids(request: &Request<'_>) -> Result<Vec<snmp2::Oid<'static>>, TryError> {
    let oids = match request {
        Request::Get(oids) | Request::GetBulk(oids, _) => oids,
    };
    oids.iter()
        .map(|arcs| {
            let wide: Vec<u64> = arcs.iter().map(|&a| u64::from(a)).collect();
            snmp2::Oid::from(&wide).map_err(|_| {
                TryError::Fatal(RequestError::Malformed(format!(
                    "the agent led to an OID that cannot be asked for ({})",
                    super::oids::dotted(arcs)
                )))
            })
        })
        .collect()
}

/// Copies an answer out of snmp2's buffer, checking its error status.
fn copy_answer(pdu: &snmp2::Pdu<'_>) -> Result<Vec<VarBind>, TryError> {
    if pdu.error_status != 0 {
        return Err(TryError::Fatal(RequestError::ErrorStatus {
            status: pdu.error_status,
            name: error_status_name(pdu.error_status),
            index: pdu.error_index,
        }));
    }
    let malformed =
        |e: varbind::OidOutOfRange| TryError::Fatal(RequestError::Malformed(e.to_string()));
    pdu.varbinds
        .clone()
        .map(|(oid, value)| {
            Ok(VarBind {
                oid: varbind::arcs(&oid).map_err(malformed)?,
                value: varbind::owned(&value).map_err(malformed)?,
            })
        })
        .collect()
}

/// Sorts snmp2's errors into those worth another try and those that end the read.
fn classify(error: snmp2::Error) -> TryError {
    use snmp2::Error as E;
    match error {
        // A connected UDP socket reports an ICMP port unreachable on receive.
        E::Receive | E::Send => TryError::Retry("port unreachable"),
        // A late answer to an earlier try, or a stray; a fresh socket leaves it behind.
        E::RequestIdMismatch => TryError::Stray,
        E::AuthUpdated => TryError::Fatal(RequestError::Auth(
            "the engine kept changing its boots/time".into(),
        )),
        E::AuthFailure(kind) => TryError::Fatal(RequestError::Auth(kind.to_string())),
        E::Crypto(msg) => TryError::Fatal(RequestError::Auth(format!("crypto: {msg}"))),
        E::CommunityMismatch => TryError::Fatal(RequestError::Malformed(
            "the answer carries another community".into(),
        )),
        other => TryError::Fatal(RequestError::Malformed(other.to_string())),
    }
}

/// RFC 3416 error-status names.
fn error_status_name(status: u32) -> &'static str {
    const NAMES: [&str; 19] = [
        "noError",
        "tooBig",
        "noSuchName",
        "badValue",
        "readOnly",
        "genErr",
        "noAccess",
        "wrongType",
        "wrongLength",
        "wrongEncoding",
        "wrongValue",
        "noCreation",
        "inconsistentValue",
        "resourceUnavailable",
        "commitFailed",
        "undoFailed",
        "authorizationError",
        "notWritable",
        "inconsistentName",
    ];
    NAMES.get(status as usize).copied().unwrap_or("unknown")
}

/// A random positive request id, so two sessions to one agent do not collide.
fn starting_request_id() -> i32 {
    let random = getrandom::u32().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos())
    });
    // Leave room below i32::MAX so the ids of one read do not wrap.
    i32::try_from(random >> 2).unwrap_or(1)
}
