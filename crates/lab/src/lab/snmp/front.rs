//! The UDP front of a simulated agent: it owns the public socket and relays each datagram to the
//! async-snmp agent on a private loopback socket, applying the network faults on the way.
//!
//! Loss and latency are properties of the path, not of the agent, and async-snmp's agent has no
//! hook to delay or withhold a response, so they live here. Each request is relayed from its own
//! ephemeral socket, which gives the handler (through `RequestContext::source`) a key to mark the
//! request for the time-out fault, even when the PDU is encrypted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use super::faults::SnmpFaults;
use super::handler::InFlight;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// How long a relay waits for the agent before it gives up (the agent stays silent on a wrong
/// community, for instance). Generous, for loaded test machines.
const UPSTREAM_WAIT: Duration = Duration::from_secs(15);

/// Requests relayed at once; beyond this, arrivals are dropped as a full socket queue would.
const MAX_IN_FLIGHT: usize = 1024;

/// Shared state of the front.
pub(crate) struct Front {
    pub(crate) socket: Arc<UdpSocket>,
    pub(crate) upstream: SocketAddr,
    pub(crate) faults: Arc<SnmpFaults>,
    pub(crate) in_flight: Arc<InFlight>,
}

impl Front {
    /// Receives and relays until the task is aborted. Aborting it drops the `JoinSet`, which
    /// aborts every relay still in progress.
    pub(crate) async fn run(self) {
        let front = Arc::new(self);
        let mut relays = JoinSet::new();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            tokio::select! {
                Some(_) = relays.join_next(), if !relays.is_empty() => {}
                received = front.socket.recv_from(&mut buf) => {
                    let (len, client) = match received {
                        Ok(received) => received,
                        Err(error) => {
                            tracing::warn!(%error, "lab SNMP front: receive failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    if front.faults.should_drop() {
                        tracing::debug!(%client, "lab SNMP front: request lost (fault)");
                        continue;
                    }
                    if relays.len() >= MAX_IN_FLIGHT {
                        tracing::debug!(%client, "lab SNMP front: too many requests in flight, dropped");
                        continue;
                    }
                    let data = buf[..len].to_vec();
                    relays.spawn(Arc::clone(&front).relay(client, data));
                }
            }
        }
    }

    async fn relay(self: Arc<Self>, client: SocketAddr, request: Vec<u8>) {
        if let Err(error) = self.try_relay(client, &request).await {
            tracing::debug!(%client, %error, "lab SNMP front: relay failed");
        }
    }

    async fn try_relay(&self, client: SocketAddr, request: &[u8]) -> std::io::Result<()> {
        let delay = self.faults.delay();
        let bind: SocketAddr = (self.upstream.ip(), 0).into();
        let socket = UdpSocket::bind(bind).await?;
        socket.connect(self.upstream).await?;
        let source = socket.local_addr()?;
        self.in_flight.register(source);
        let answer = self.exchange(&socket, request, delay).await;
        let suppressed = self.in_flight.finish(source);
        let Some(answer) = answer? else {
            return Ok(());
        };
        if suppressed {
            tracing::debug!(%client, "lab SNMP front: answer withheld (time-out fault)");
            return Ok(());
        }
        self.socket.send_to(&answer, client).await?;
        Ok(())
    }

    /// Waits out the fault delay, sends the request to the agent and returns its answer, or
    /// `None` if the agent stays silent.
    async fn exchange(
        &self,
        socket: &UdpSocket,
        request: &[u8],
        delay: Duration,
    ) -> std::io::Result<Option<Vec<u8>>> {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        socket.send(request).await?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        match tokio::time::timeout(UPSTREAM_WAIT, socket.recv(&mut buf)).await {
            Ok(received) => {
                let len = received?;
                buf.truncate(len);
                Ok(Some(buf))
            }
            Err(_elapsed) => Ok(None),
        }
    }
}
