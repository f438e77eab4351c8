//! The billing side: API clients for Sonar and Splynx, the mapping from their records to
//! subscribers, the sync that turns them into validated commits, webhook verification, and the
//! webhook receivers that turn events into debounced incremental syncs.
//!
//! Invariants: billing reaches devices only through git (it never touches a GAM); it does not
//! depend on the lab; a read that did not complete returns an error and no records, so nothing
//! is ever written from half a read; secrets are never printed.
//!
//! Both clients produce the same normalized record, [`BillingCustomer`], so the mapping has one
//! path.

use std::collections::BTreeMap;

use crate::model::{Credential, ManagedBy};

pub mod debounce;
pub mod http;
pub mod lenient;
pub mod mapping;
pub mod serve;
pub mod service;
pub mod sonar;
pub mod splynx;
pub mod sync;
pub mod webhook;

pub use http::{HttpConfig, RetryPolicy};
pub use mapping::{MapContext, MapOutcome, NewPlan, Skipped, map_customers};

/// Why a billing read failed. A failed read yields no records.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The billing system refused the credentials (HTTP 401/403).
    #[error("{system} refused the credentials: {message}")]
    Unauthorized {
        system: &'static str,
        message: String,
    },
    /// The API answered with an error (Splynx's error envelope, or an unexpected status).
    #[error("{system} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Api {
        system: &'static str,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A GraphQL response carried `errors` (or no `data`).
    #[error("{system} GraphQL errors: {}", messages.join("; "))]
    GraphQl {
        system: &'static str,
        messages: Vec<String>,
    },
    /// Still rate-limited after every retry.
    #[error("{system} rate limit still reached after {attempts} attempts: {message}")]
    RateLimited {
        system: &'static str,
        attempts: u32,
        message: String,
    },
    /// The request timed out on every attempt.
    #[error("{system}: {what} timed out after {attempts} attempts")]
    Timeout {
        system: &'static str,
        what: String,
        attempts: u32,
    },
    /// The connection failed on every attempt.
    #[error("{system}: cannot reach the API for {what}: {message}")]
    Connect {
        system: &'static str,
        what: String,
        message: String,
    },
    /// The response was not what the API documents.
    #[error("{system}: unexpected response to {what}: {message}")]
    Decode {
        system: &'static str,
        what: String,
        message: String,
    },
    /// The data changed while it was being paged through; retry the whole read.
    #[error("{system}: {what} changed while it was read ({message}); nothing was used")]
    ChangedDuringRead {
        system: &'static str,
        what: String,
        message: String,
    },
    /// A secret or setting could not be resolved.
    #[error("billing configuration: {0}")]
    Config(String),
}

pub use crate::secret::Secret;

/// Reads a billing secret from its reference ([`crate::secret::resolve_required`]: an API or
/// webhook secret cannot be empty).
pub fn resolve_secret(c: &Credential) -> Result<Secret, BillingError> {
    crate::secret::resolve_required(c).map_err(|e| BillingError::Config(e.to_string()))
}

/// One customer (Sonar account, Splynx customer) as both clients deliver it.
#[derive(Clone, Debug, PartialEq)]
pub struct BillingCustomer {
    /// Which system it came from.
    pub source: ManagedBy,
    /// The customer's id in that system (digits). Subscribers are keyed on it, never on a
    /// service id: Splynx gives a service a new id when its plan changes.
    pub key: String,
    pub name: String,
    pub status: CustomerStatus,
    /// Data (internet) services, with their rates.
    pub services: Vec<BillingService>,
    /// Customer-level custom fields by name (Sonar: account and service-address custom fields;
    /// Splynx: the customer's additional attributes).
    pub fields: BTreeMap<String, String>,
    /// MACs the billing system records for the customer (Sonar: inventory items' primary field
    /// and uninventoried MACs), as written there.
    pub macs: Vec<String>,
}

/// A customer's status as the billing system states it; the mapping decides what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomerStatus {
    Sonar {
        /// The per-ISP status name.
        name: String,
        /// The status's `activates_account`.
        activates_account: bool,
        /// The account's `is_delinquent`.
        is_delinquent: bool,
    },
    Splynx {
        /// `new`, `active`, `blocked` or `disabled`.
        status: String,
    },
}

/// One data service of a customer.
#[derive(Clone, Debug, PartialEq)]
pub struct BillingService {
    /// The service's id (Sonar: the account service; Splynx: the internet service).
    pub id: String,
    /// The plan or tariff name in billing.
    pub plan_name: String,
    /// Whether billing considers the service running (Sonar: the service is enabled; Splynx:
    /// status `active`).
    pub active: bool,
    pub down_kbps: u64,
    pub up_kbps: u64,
    /// Service-level fields by name (Splynx: the service's additional attributes, and main
    /// attributes as `service.<name>`).
    pub fields: BTreeMap<String, String>,
    /// MACs recorded on the service (Splynx `mac`, which may be a comma-separated list).
    pub macs: Vec<String>,
}

impl BillingCustomer {
    /// A field by name: the service's own first, then the customer's.
    pub fn field<'a>(&'a self, service: Option<&'a BillingService>, name: &str) -> Option<&'a str> {
        service
            .and_then(|s| s.fields.get(name))
            .or_else(|| self.fields.get(name))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}
