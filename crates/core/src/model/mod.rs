//! The desired state: what git says the fleet should look like, and its rules.
//!
//! Invariant: this module does no I/O and knows no files, devices or command line. Positions are
//! relative to a document; documents are named by a [`SourceId`] the inventory layer hands out.

pub mod bandwidth;
pub mod billing;
pub mod controller;
pub mod desired;
pub mod device;
pub mod diagnostic;
pub mod fleet;
pub mod gam;
pub mod located;
pub mod monitoring;
pub mod notifications;
pub mod subscriber;
pub mod types;
pub mod validate;

pub use bandwidth::{BandwidthPlan, Plans, UNTHROTTLED};
pub use billing::{BillingMapping, PlanMatching, PlanStrategy};
pub use controller::{
    ControllerSettings, Forge, ForgeKind, Interval, Policy, PublicEndpoint, PullRequests,
};
pub use desired::{Desired, Doc};
pub use device::{
    Device, Driver, JsonRpcSettings, PortMode, PortSettings, SnmpSettings, SshSettings,
    SubscriberModel, parse_certificate_fingerprint,
};
pub use diagnostic::{Code, Diagnostic, Related, Severity, SourceId};
pub use fleet::{Fleet, Safety, Suspension, SuspensionMode};
pub use gam::{GamModel, Medium, ModelInfo};
pub use located::{Located, Pos};
pub use monitoring::{AlarmLevel, AlertSettings, AlertSeverity, MonitoringSettings, RuleSettings};
pub use subscriber::{Endpoint, ManagedBy, Subscriber, SubscriberStatus};
pub use types::{Credential, Description, Ident, Mac, Mbps, PortNumber, Uplink, ValueError, Vlan};
pub use validate::validate;
