//! The russh connection handler: authentication and channel requests of one SSH connection.
//!
//! Authentication accepts `password`, `keyboard-interactive` (one `Password:` prompt; OpenSSH
//! prefers it to `password`) and `publickey`. An empty password is an ordinary password that
//! is empty: OpenSSH sends it when the user presses Enter at the prompt. The `none` method is
//! always rejected, so every login goes through the fault hooks.
//!
//! Channel requests are only acknowledged here; the channel's own task (see `channel.rs`)
//! sees the same requests as [`russh::ChannelMsg`]s and runs the CLI session.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use russh::server::{
    Auth, ChannelOpenHandle, Handler, Msg, PublicKeyOffer, Response, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, Pty};

use super::Shared;
use super::channel::run_channel;

/// The state of one SSH connection.
pub(super) struct Connection {
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    user: Option<String>,
}

impl Connection {
    pub(super) fn new(shared: Arc<Shared>, peer: Option<SocketAddr>) -> Self {
        Self {
            shared,
            peer,
            user: None,
        }
    }

    /// Apply the login faults: wait the configured delay, then say whether to refuse.
    async fn login_refused(&self) -> bool {
        let faults = &self.shared.config.faults;
        let delay = faults.login_delay();
        if !delay.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shared.shutdown.cancelled() => return true,
            }
        }
        faults.refuse_logins()
    }

    fn decide(&mut self, user: &str, method: &str, ok: bool) -> Auth {
        if ok {
            tracing::debug!(peer = ?self.peer, user, method, "ssh login accepted");
            self.user = Some(user.to_string());
            Auth::Accept
        } else {
            tracing::debug!(peer = ?self.peer, user, method, "ssh login rejected");
            Auth::reject()
        }
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let refused = self.login_refused().await;
        let ok = !refused
            && self
                .shared
                .config
                .user(user)
                .is_some_and(|u| u.accepts_password(password));
        Ok(self.decide(user, "password", ok))
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        let Some(mut response) = response else {
            // First round: ask for the password, without echo.
            return Ok(Auth::Partial {
                name: Cow::Borrowed(""),
                instructions: Cow::Borrowed(""),
                prompts: Cow::Owned(vec![(Cow::Borrowed("Password: "), false)]),
            });
        };
        let answer = response.next().unwrap_or_default();
        let refused = self.login_refused().await;
        let ok = !refused
            && match std::str::from_utf8(&answer) {
                Ok(password) => self
                    .shared
                    .config
                    .user(user)
                    .is_some_and(|u| u.accepts_password(password)),
                Err(_) => false,
            };
        Ok(self.decide(user, "keyboard-interactive", ok))
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Spare the client a signature for a key that would not be accepted.
        let known = self
            .shared
            .config
            .user(user)
            .is_some_and(|u| u.accepts_key(offer.public_key));
        Ok(if known { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let refused = self.login_refused().await;
        let ok = !refused
            && self
                .shared
                .config
                .user(user)
                .is_some_and(|u| u.accepts_key(key.public_key));
        Ok(self.decide(user, "publickey", ok))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        let user = self.user.clone().unwrap_or_default();
        let shared = self.shared.clone();
        self.shared
            .tracker
            .spawn(run_channel(channel, shared, user));
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }
}
