//! Reading billing: the client a sync's settings name, and the customers in its scope.

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Scope, SkippedCustomer, Source, SyncError, SyncOptions};
use crate::billing::sonar::SonarClient;
use crate::billing::splynx::SplynxClient;
use crate::billing::{BillingCustomer, BillingError, resolve_secret};
use crate::model::BillingMapping;

/// The billing client named by the settings.
pub(super) enum Client {
    Sonar(SonarClient),
    Splynx(SplynxClient),
}

impl Client {
    /// What a client is made from, as one string (secrets hashed, never kept in clear).
    pub(super) fn settings_key(
        opts: &SyncOptions,
        m: &BillingMapping,
    ) -> Result<String, SyncError> {
        let mut h = Sha256::new();
        h.update(format!("{:?}|{:?}|", opts.source, opts.page_size).as_bytes());
        match opts.source {
            Source::Sonar => {
                let s = m
                    .sonar
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                h.update(s.url.as_bytes());
                h.update(b"|");
                h.update(resolve_secret(&s.token)?.expose().as_bytes());
            }
            Source::Splynx => {
                let s = m
                    .splynx
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                h.update(format!("{}|{:?}|", s.url, s.auth.mode).as_bytes());
                h.update(resolve_secret(&s.auth.key)?.expose().as_bytes());
                h.update(b"|");
                h.update(resolve_secret(&s.auth.secret)?.expose().as_bytes());
            }
        }
        Ok(hex::encode(h.finalize()))
    }

    pub(super) fn new(opts: &SyncOptions, m: &BillingMapping) -> Result<Client, SyncError> {
        match opts.source {
            Source::Sonar => {
                let s = m
                    .sonar
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                let token = resolve_secret(&s.token)?;
                let mut c = SonarClient::new(&s.url, token, opts.http.clone())?;
                if let Some(n) = opts.page_size {
                    c = c.with_page_size(n);
                }
                Ok(Client::Sonar(c))
            }
            Source::Splynx => {
                let s = m
                    .splynx
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                let key = resolve_secret(&s.auth.key)?;
                let secret = resolve_secret(&s.auth.secret)?;
                let mut c = SplynxClient::new(&s.url, s.auth.mode, key, secret, opts.http.clone())?;
                if let Some(n) = opts.page_size {
                    c = c.with_page_size(n);
                }
                Ok(Client::Splynx(c))
            }
        }
    }

    async fn all(&self) -> Result<Vec<BillingCustomer>, BillingError> {
        match self {
            Client::Sonar(c) => c.accounts().await,
            Client::Splynx(c) => c.customers().await,
        }
    }

    async fn one(&self, id: u64) -> Result<Option<BillingCustomer>, BillingError> {
        match self {
            Client::Sonar(c) => c.account(id).await,
            Client::Splynx(c) => c.customer(id).await,
        }
    }

    async fn close(&self) {
        if let Client::Splynx(c) = self {
            // Best effort: an access token left behind expires on its own.
            c.logout().await;
        }
    }
}

/// Reads the customers in scope. Returns them, the keys in scope (`None`: all), and the keys
/// that cannot be read (skipped).
pub(super) async fn fetch(
    opts: &SyncOptions,
    m: &BillingMapping,
    scope: &Scope,
) -> Result<
    (
        Vec<BillingCustomer>,
        Option<BTreeSet<String>>,
        Vec<SkippedCustomer>,
    ),
    SyncError,
> {
    let (client, kept) = match &opts.clients {
        Some(clients) => (clients.get(opts, m)?, true),
        None => (Arc::new(Client::new(opts, m)?), false),
    };
    let result = match scope {
        Scope::All => client.all().await.map(|c| (c, None, Vec::new())),
        Scope::Customers(keys) => {
            let mut out = Vec::new();
            let mut in_scope = BTreeSet::new();
            let mut skipped = Vec::new();
            let mut failure = None;
            for key in keys {
                let key = key.trim();
                let Ok(id) = key.parse::<u64>() else {
                    skipped.push(SkippedCustomer {
                        customer: key.to_string(),
                        subscriber: None,
                        reason: "not a billing customer id (digits)".into(),
                    });
                    continue;
                };
                let key = id.to_string();
                if !in_scope.insert(key) {
                    continue;
                }
                match client.one(id).await {
                    Ok(Some(c)) => out.push(c),
                    Ok(None) => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            match failure {
                Some(e) => Err(e),
                None => Ok((out, Some(in_scope), skipped)),
            }
        }
    };
    // A kept client stays logged in for the next sync.
    if !kept {
        client.close().await;
    }
    Ok(result?)
}
