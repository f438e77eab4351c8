//! Problems found in the desired state, each tied to a document and a position in it.

use std::fmt;

use serde::Serialize;

use super::located::Pos;

/// Which document a value came from. The model does not know files: the inventory layer hands
/// out these ids and maps them back to paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SourceId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A stable identifier for each kind of problem. The JSON output of `gamops validate` carries it
/// as `code`; programs may match on it, so a code is never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    // Files and YAML.
    Io,
    FileTooLarge,
    NotUtf8,
    UnexpectedFile,
    MissingFile,
    FileNameMismatch,
    YamlSyntax,
    DuplicateKey,
    UnknownField,
    MissingField,
    InvalidValue,
    // Uniqueness.
    DuplicateDevice,
    DuplicateSubscriber,
    DuplicateMac,
    DuplicateEndpointName,
    DuplicateVlan,
    DuplicatePort,
    // References.
    UnknownDevice,
    UnknownPlan,
    PortOutOfRange,
    // Device limits.
    TooManySubscribers,
    TooManyEndpoints,
    TooManyPlans,
    TooManyEndpointsOnPort,
    TooManyAllowedVlans,
    PortAwareOnCoax,
    PortModeOnCoax,
    CoaxRateLimit,
    MissingEndpoint,
    EndpointInPortAware,
    // Values.
    ReservedVlan,
    ReservedPlanName,
    LiteralSecret,
    IncompleteSettings,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        // The serde name is the stable one; this mirrors it without allocating.
        match self {
            Code::Io => "io",
            Code::FileTooLarge => "file-too-large",
            Code::NotUtf8 => "not-utf8",
            Code::UnexpectedFile => "unexpected-file",
            Code::MissingFile => "missing-file",
            Code::FileNameMismatch => "file-name-mismatch",
            Code::YamlSyntax => "yaml-syntax",
            Code::DuplicateKey => "duplicate-key",
            Code::UnknownField => "unknown-field",
            Code::MissingField => "missing-field",
            Code::InvalidValue => "invalid-value",
            Code::DuplicateDevice => "duplicate-device",
            Code::DuplicateSubscriber => "duplicate-subscriber",
            Code::DuplicateMac => "duplicate-mac",
            Code::DuplicateEndpointName => "duplicate-endpoint-name",
            Code::DuplicateVlan => "duplicate-vlan",
            Code::DuplicatePort => "duplicate-port",
            Code::UnknownDevice => "unknown-device",
            Code::UnknownPlan => "unknown-plan",
            Code::PortOutOfRange => "port-out-of-range",
            Code::TooManySubscribers => "too-many-subscribers",
            Code::TooManyEndpoints => "too-many-endpoints",
            Code::TooManyPlans => "too-many-plans",
            Code::TooManyEndpointsOnPort => "too-many-endpoints-on-port",
            Code::TooManyAllowedVlans => "too-many-allowed-vlans",
            Code::PortAwareOnCoax => "port-aware-on-coax",
            Code::PortModeOnCoax => "port-mode-on-coax",
            Code::CoaxRateLimit => "coax-rate-limit",
            Code::MissingEndpoint => "missing-endpoint",
            Code::EndpointInPortAware => "endpoint-in-port-aware",
            Code::ReservedVlan => "reserved-vlan",
            Code::ReservedPlanName => "reserved-plan-name",
            Code::LiteralSecret => "literal-secret",
            Code::IncompleteSettings => "incomplete-settings",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another place a diagnostic points at (the first of two duplicates, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub source: SourceId,
    pub pos: Pos,
    pub label: String,
}

/// One problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub source: Option<SourceId>,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
    pub related: Option<Related>,
}

impl Diagnostic {
    pub fn error(code: Code, source: SourceId, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            source: Some(source),
            pos,
            message: message.into(),
            hint: None,
            related: None,
        }
    }

    /// Advice: something the GAM accepts but its guide advises against. Shown and counted, but
    /// the inventory stays valid (unless the reader asks for `--strict`).
    pub fn warning(code: Code, source: SourceId, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, source, pos, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_related(mut self, source: SourceId, pos: Pos, label: impl Into<String>) -> Self {
        self.related = Some(Related {
            source,
            pos,
            label: label.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
