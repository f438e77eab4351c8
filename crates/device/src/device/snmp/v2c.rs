//! SNMPv2c requests on a socket of gamops's own, so an answer is waited for by its request id:
//! a datagram that answers another request (a late answer to an earlier try, a duplicate, a
//! stray) is dropped and the wait goes on until the try's timeout, instead of ending the try.
//! snmp2's session reads exactly one datagram per request, so it cannot do this; it still
//! parses the answers (and serves v3, whose messages are authenticated).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

/// The largest answer read (an SNMP message over UDP is at most 65,507 bytes).
const MAX_DATAGRAM: usize = 65_535;

/// What one try came to.
pub(super) enum Answer<T> {
    /// The answer to this request, made into `T`.
    Got(T),
    /// No answer within the timeout (strays dropped meanwhile: how many).
    Timeout { strays: u32 },
    /// The socket reported an error (an ICMP port unreachable on a connected socket).
    Unreachable,
}

pub(super) struct V2cSocket {
    socket: UdpSocket,
    community: Vec<u8>,
    next_id: i32,
    buf: Vec<u8>,
}

/// A request PDU: GET, or GETBULK with no non-repeaters.
pub(super) enum Pdu<'a> {
    Get(&'a [Vec<u32>]),
    GetBulk(&'a [Vec<u32>], u32),
}

impl V2cSocket {
    pub(super) async fn open(
        addr: SocketAddr,
        community: &[u8],
        first_id: i32,
    ) -> std::io::Result<V2cSocket> {
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().unwrap_or(addr)
        } else {
            "[::]:0".parse().unwrap_or(addr)
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(addr).await?;
        Ok(V2cSocket {
            socket,
            community: community.to_vec(),
            next_id: first_id,
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// Sends `pdu` and waits up to `wait` for the datagram that answers it; `read` makes the
    /// answer into `T` (or refuses it). `None` from encoding: an OID that cannot be sent.
    pub(super) async fn request<T, E>(
        &mut self,
        pdu: &Pdu<'_>,
        wait: Duration,
        read: impl Fn(&snmp2::Pdu<'_>) -> Result<T, E>,
        malformed: impl Fn(String) -> E,
    ) -> Result<Answer<T>, E> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let Some(message) = encode(&self.community, id, pdu) else {
            return Err(malformed("an OID that cannot be encoded".into()));
        };
        if self.socket.send(&message).await.is_err() {
            return Ok(Answer::Unreachable);
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut strays = 0;
        loop {
            let n = match tokio::time::timeout_at(deadline, self.socket.recv(&mut self.buf)).await {
                Err(_) => return Ok(Answer::Timeout { strays }),
                Ok(Err(_)) => return Ok(Answer::Unreachable),
                Ok(Ok(n)) => n,
            };
            let answer = match snmp2::Pdu::from_bytes(&self.buf[..n]) {
                Ok(a) => a,
                Err(e) => return Err(malformed(e.to_string())),
            };
            if answer.req_id != id || answer.message_type != snmp2::MessageType::Response {
                strays += 1;
                continue;
            }
            if answer.community != self.community.as_slice() {
                return Err(malformed("the answer carries another community".into()));
            }
            return read(&answer).map(Answer::Got);
        }
    }
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(tag);
    push_len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn integer(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    // The shortest two's-complement form.
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(0x02, &bytes[start..])
}

fn oid(arcs: &[u32]) -> Option<Vec<u8>> {
    let (&a, rest) = arcs.split_first()?;
    let (&b, rest) = rest.split_first()?;
    if a > 2 || (a < 2 && b >= 40) {
        return None;
    }
    let mut body = Vec::with_capacity(arcs.len() * 2);
    let mut push = |mut v: u64| {
        let mut enc = [0u8; 10];
        let mut i = enc.len();
        loop {
            i -= 1;
            enc[i] = (v & 0x7f) as u8 | if i == enc.len() - 1 { 0 } else { 0x80 };
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        body.extend_from_slice(&enc[i..]);
    };
    push(u64::from(a) * 40 + u64::from(b));
    for &arc in rest {
        push(u64::from(arc));
    }
    Some(tlv(0x06, &body))
}

fn encode(community: &[u8], id: i32, pdu: &Pdu<'_>) -> Option<Vec<u8>> {
    let (tag, oids, a, b) = match pdu {
        Pdu::Get(oids) => (0xa0, *oids, 0, 0),
        Pdu::GetBulk(oids, reps) => (0xa5, *oids, 0, i64::from(*reps)),
    };
    let mut bindings = Vec::new();
    for o in oids {
        let mut vb = oid(o)?;
        vb.extend_from_slice(&[0x05, 0x00]);
        bindings.extend(tlv(0x30, &vb));
    }
    let mut body = integer(i64::from(id));
    body.extend(integer(a));
    body.extend(integer(b));
    body.extend(tlv(0x30, &bindings));
    let mut message = integer(1); // v2c
    message.extend(tlv(0x04, community));
    message.extend(tlv(tag, &body));
    Some(tlv(0x30, &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_net_snmp_does() {
        // snmpget -v2c -c public HOST 1.3.6.1.2.1.1.5.0, request id 1.
        let got = encode(b"public", 1, &Pdu::Get(&[vec![1, 3, 6, 1, 2, 1, 1, 5, 0]])).unwrap();
        assert_eq!(
            hex::encode(got),
            "302602010104067075626c6963a019020101020100020100300e300c06082b060102010105000500"
        );
        assert_eq!(hex::encode(integer(128)), "02020080");
        assert_eq!(hex::encode(integer(-1)), "0201ff");
        assert_eq!(
            hex::encode(oid(&[1, 3, 6, 1, 4, 1, 20095]).unwrap()),
            "06082b06010401819c7f"
        );
        assert!(oid(&[3, 1]).is_none());
        // The answer snmp2 parses back: the same request id and bindings.
        let getbulk = encode(b"c", 7, &Pdu::GetBulk(&[vec![1, 3, 6, 1]], 10)).unwrap();
        assert_eq!(getbulk[0], 0x30);
    }
}
