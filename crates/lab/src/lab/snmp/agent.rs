//! The simulated GAM's SNMP agent: async-snmp's agent serving a [`MibView`] behind a fault front.
//!
//! Like the real GAM it answers SNMPv1/v2c for its communities (`public` and `private` by default)
//! and SNMPv3 USM users (SHA/AES by default), is read-only over SNMP (changes go through the CLI,
//! so SET gets `noAccess`), silently ignores a wrong community, truncates GETBULK answers to the
//! message size and answers an oversized GET with `tooBig` (both done by async-snmp).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use async_snmp::agent::{Agent, SecurityModel};
use async_snmp::{AuthProtocol, AuthoritativeEngine, Oid, PrivProtocol, SecurityLevel};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::faults::SnmpFaults;
use super::front::Front;
use super::handler::{InFlight, ViewHandler};
use super::view::MibView;

/// Largest response the agent sends by default: an Ethernet MTU less IP and UDP headers, which is
/// what net-snmp-derived agents use and what async-snmp defaults to.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1472;

/// An SNMPv3 USM user of the simulated agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpV3User {
    /// The user (security) name.
    pub name: String,
    /// Authentication protocol (the GAM offers MD5 and SHA).
    pub auth_protocol: AuthProtocol,
    /// Authentication password (at least 8 characters).
    pub auth_password: String,
    /// Privacy protocol and password; `None` makes an authNoPriv user.
    pub privacy: Option<(PrivProtocol, String)>,
}

impl SnmpV3User {
    /// An authPriv user with HMAC-SHA-96 and AES-128, the pairing gamops uses.
    pub fn sha_aes(
        name: impl Into<String>,
        auth_password: impl Into<String>,
        priv_password: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            auth_protocol: AuthProtocol::Sha1,
            auth_password: auth_password.into(),
            privacy: Some((PrivProtocol::Aes128, priv_password.into())),
        }
    }

    /// The lowest security level the agent accepts from this user: the one it is configured for.
    fn required_level(&self) -> SecurityLevel {
        if self.privacy.is_some() {
            SecurityLevel::AuthPriv
        } else {
            SecurityLevel::AuthNoPriv
        }
    }
}

/// How to run one simulated agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpAgentConfig {
    /// Where to listen (port 0 picks a free port; see [`SnmpAgent::local_addr`]).
    pub bind: SocketAddr,
    /// Read communities for SNMPv1 and v2c.
    pub communities: Vec<String>,
    /// SNMPv3 users.
    pub users: Vec<SnmpV3User>,
    /// The SNMPv3 engine id; `None` generates one.
    pub engine_id: Option<Vec<u8>>,
    /// Largest response message, in octets (GETBULK answers are truncated to fit, a GET that
    /// cannot fit is answered `tooBig`).
    pub max_message_size: usize,
}

impl Default for SnmpAgentConfig {
    /// 127.0.0.1 on a free port, communities `public` and `private`, and the lab user `gamops`
    /// (SHA `authpass123`, AES `privpass123`). These are lab credentials, not secrets.
    fn default() -> Self {
        Self {
            bind: (Ipv4Addr::LOCALHOST, 0).into(),
            communities: vec!["public".into(), "private".into()],
            users: vec![SnmpV3User::sha_aes("gamops", "authpass123", "privpass123")],
            engine_id: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// Why an agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum SnmpAgentError {
    /// The public address could not be bound.
    #[error("cannot bind the lab SNMP agent to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A USM user's protocols or passwords were refused.
    #[error("invalid SNMPv3 user `{user}`: {message}")]
    User {
        /// The user name.
        user: String,
        /// What async-snmp said.
        message: String,
    },
    /// async-snmp refused the configuration or could not start.
    #[error("lab SNMP agent setup failed: {0}")]
    Agent(#[source] Box<async_snmp::Error>),
}

/// A running simulated SNMP agent. Dropping it stops it.
pub struct SnmpAgent {
    local_addr: SocketAddr,
    agent: Agent,
    view: MibView,
    faults: Arc<SnmpFaults>,
    agent_task: JoinHandle<()>,
    front_task: JoinHandle<()>,
}

impl std::fmt::Debug for SnmpAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpAgent")
            .field("local_addr", &self.local_addr)
            .field("entries", &self.view.len())
            .finish_non_exhaustive()
    }
}

impl SnmpAgent {
    /// Binds `config.bind` and starts serving `view`, reading `faults` on every request.
    /// Must be called within a tokio runtime.
    pub async fn start(
        config: SnmpAgentConfig,
        view: MibView,
        faults: Arc<SnmpFaults>,
    ) -> Result<Self, SnmpAgentError> {
        let front_socket =
            UdpSocket::bind(config.bind)
                .await
                .map_err(|source| SnmpAgentError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let local_addr = front_socket
            .local_addr()
            .map_err(|source| SnmpAgentError::Bind {
                addr: config.bind,
                source,
            })?;

        let in_flight = Arc::new(InFlight::default());
        let agent = build_agent(&config, &view, &faults, &in_flight).await?;
        let upstream = agent.local_addr();

        let agent_task = tokio::spawn({
            let agent = agent.clone();
            async move {
                if let Err(error) = agent.run().await {
                    tracing::error!(%error, "lab SNMP agent stopped");
                }
            }
        });
        let front = Front {
            socket: Arc::new(front_socket),
            upstream,
            faults: Arc::clone(&faults),
            in_flight,
        };
        let front_task = tokio::spawn(front.run());
        Ok(Self {
            local_addr,
            agent,
            view,
            faults,
            agent_task,
            front_task,
        })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The view being served (a handle to the same map).
    pub fn view(&self) -> &MibView {
        &self.view
    }

    /// The fault settings being applied.
    pub fn faults(&self) -> &Arc<SnmpFaults> {
        &self.faults
    }

    /// The SNMPv3 engine id.
    pub fn engine_id(&self) -> &[u8] {
        self.agent.engine_id()
    }

    /// Stops the agent and waits for it to finish.
    pub async fn shutdown(mut self) {
        self.front_task.abort();
        self.agent.cancel();
        // `self` is dropped after these; Drop repeats the idempotent stop calls.
        let _ = (&mut self.agent_task).await;
    }
}

impl Drop for SnmpAgent {
    fn drop(&mut self) {
        self.front_task.abort();
        self.agent.cancel();
    }
}

/// Builds the async-snmp agent on a private loopback port, with the view handler and VACM.
async fn build_agent(
    config: &SnmpAgentConfig,
    view: &MibView,
    faults: &Arc<SnmpFaults>,
    in_flight: &Arc<InFlight>,
) -> Result<Agent, SnmpAgentError> {
    let engine_id = match &config.engine_id {
        Some(id) => id.clone(),
        None => async_snmp::generate_engine_id()
            .map_err(SnmpAgentError::Agent)?
            .to_vec(),
    };
    // The lab's engine lives as long as the process; there is nothing to persist.
    let engine = AuthoritativeEngine::install(engine_id, |_| Ok::<(), Infallible>(()))
        .map_err(SnmpAgentError::Agent)?;

    let private: SocketAddr = match config.bind {
        SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
    };
    let handler = ViewHandler {
        view: view.clone(),
        faults: Arc::clone(faults),
        in_flight: Arc::clone(in_flight),
    };
    let mut builder = Agent::builder()
        .bind(private.to_string())
        .authoritative_engine(engine)
        .max_message_size(config.max_message_size)
        .communities(config.communities.iter().map(String::as_bytes))
        .handler(Oid::empty(), Arc::new(handler));
    for user in &config.users {
        builder = builder
            .usm_user(user.name.clone().into_bytes(), |u| match &user.privacy {
                Some((priv_protocol, priv_password)) => u.auth_priv(
                    user.auth_protocol,
                    user.auth_password.as_bytes(),
                    *priv_protocol,
                    priv_password.as_bytes(),
                ),
                None => u.auth(user.auth_protocol, user.auth_password.as_bytes()),
            })
            .map_err(|error| SnmpAgentError::User {
                user: user.name.clone(),
                message: error.to_string(),
            })?;
    }
    // Read-only everywhere: every identity reads the whole tree and writes an empty view, so SET
    // answers noAccess, as net-snmp does for a `rocommunity` (with no write view at all, VACM
    // would answer authorizationError instead). Each USM user must use the security level it is
    // configured for.
    let builder = builder.vacm(|mut vacm| {
        vacm = vacm
            .view("all", |v| v.include(Oid::from_slice(&[1])))
            .view("none", |v| v);
        for community in &config.communities {
            let name = community.clone().into_bytes();
            vacm = vacm
                .group(name.clone(), SecurityModel::V1, "community")
                .group(name, SecurityModel::V2c, "community");
        }
        for model in [SecurityModel::V1, SecurityModel::V2c] {
            vacm = vacm.access("community", model, SecurityLevel::NoAuthNoPriv, |a| {
                a.read_view("all").write_view("none")
            });
        }
        for user in &config.users {
            let group = format!("usm-{}", user.name).into_bytes();
            vacm = vacm
                .group(
                    user.name.clone().into_bytes(),
                    SecurityModel::Usm,
                    group.clone(),
                )
                .access(group, SecurityModel::Usm, user.required_level(), |a| {
                    a.read_view("all").write_view("none")
                });
        }
        vacm
    });
    builder.build().await.map_err(SnmpAgentError::Agent)
}
