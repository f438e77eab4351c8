//! The OIDs gamops reads: the system group and the GAM-GHN-AGENT-MIB tables of section 4 of
//! DESIGN.md, with the columns each table is read for. Nothing else is ever asked for; in
//! particular the enterprise tree is never walked (the syslog table alone is megabytes).

/// `1.3.6.1.2.1.1.1.0` sysDescr.
pub const SYS_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
/// `1.3.6.1.2.1.1.2.0` sysObjectID.
pub const SYS_OBJECT_ID: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 2, 0];
/// `1.3.6.1.2.1.1.3.0` sysUpTime.
pub const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
/// `1.3.6.1.2.1.1.5.0` sysName.
pub const SYS_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];

/// `gamProducts` model branch: a GAM's sysObjectID is this plus one arc, the model number.
pub const GAM_PRODUCTS_MODEL: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2000, 1];

/// `1.3.6.1.4.1.20095.2001.143.1`: the objects of GAM-GHN-AGENT-MIB.
pub const GHN_AGENT: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1];

/// The global scalars `.2.5.{10,20,30}.0`: SubscriberModel, DefaultNNIIfIndex,
/// EndpointAutoFwUpgrade.
pub const GLOBAL_SUBSCRIBER_MODEL: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 5, 10, 0];
pub const GLOBAL_DEFAULT_NNI: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 5, 20, 0];
pub const GLOBAL_AUTO_FW_UPGRADE: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 5, 30, 0];

/// ifIndex of G.hn port n is `PORT_IF_INDEX_BASE + n` (GAM-TC GAMInterfaceIndex).
pub use crate::model::gam::PORT_IF_INDEX_BASE;

/// One column of a table: its number under the entry and its MIB name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub id: u32,
    pub name: &'static str,
    /// Some firmware leaves the column out altogether (the GAM-12-C on 1.5.4 has no
    /// allowed-VLAN quarters); when it appears at all, every row must have it.
    pub optional: bool,
}

const fn col(id: u32, name: &'static str) -> Column {
    Column {
        id,
        name,
        optional: false,
    }
}

const fn opt(id: u32, name: &'static str) -> Column {
    Column {
        id,
        name,
        optional: true,
    }
}

/// A conceptual table: its entry OID (`table.1`) and the columns read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// What the table holds, for messages (`subscribers`).
    pub what: &'static str,
    /// The table's OID (`...143.1.2.40`), as named in messages.
    pub oid: &'static [u32],
    /// The entry OID (`...143.1.2.40.1`); a column is `entry.column.index`.
    pub entry: &'static [u32],
    /// How many arcs the index has (6 for a MAC index, 1 otherwise).
    pub index_len: usize,
    pub columns: &'static [Column],
}

impl Table {
    /// The column with this number.
    pub fn column(&self, id: u32) -> Option<&Column> {
        self.columns.iter().find(|c| c.id == id)
    }

    /// The table OID in dotted form.
    pub fn dotted(&self) -> String {
        dotted(self.oid)
    }
}

/// The most sub-identifiers an OID may have (RFC 2578 §3.5); longer ones are shown cut.
pub const MAX_ARCS: usize = 128;

/// An OID in dotted form, `1.3.6.1...`. One longer than [`MAX_ARCS`] (only a broken or hostile
/// agent sends one) is shown by its first 32 arcs and its length, so a message quoting it
/// stays short.
pub fn dotted(oid: &[u32]) -> String {
    let shown = if oid.len() > MAX_ARCS {
        &oid[..32]
    } else {
        oid
    };
    let mut out = String::with_capacity(shown.len() * 4 + 24);
    for (i, arc) in shown.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&arc.to_string());
    }
    if oid.len() > MAX_ARCS {
        out.push_str(&format!("... ({} arcs)", oid.len()));
    }
    out
}

macro_rules! agent_oid {
    ($($arc:literal),*) => { &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, $($arc),*] };
}

/// `.2.10` gamGhnAgentConfigPortTable, indexed by ifIndex.
pub const PORTS: Table = Table {
    what: "ports",
    oid: agent_oid!(2, 10),
    entry: agent_oid!(2, 10, 1),
    index_len: 1,
    columns: &[col(30, "Name"), col(50, "PortMode")],
};

/// `.2.20` gamGhnAgentConfigEndpointTable, indexed by endpoint id.
pub const ENDPOINTS: Table = Table {
    what: "endpoints",
    oid: agent_oid!(2, 20),
    entry: agent_oid!(2, 20, 1),
    index_len: 1,
    columns: &[
        col(20, "MacAddress"),
        col(30, "Name"),
        col(40, "Description"),
        col(50, "PortIfIndex"),
        col(55, "AutoPort"),
    ],
};

/// `.2.30` gamGhnAgentConfigBwProfileTable, indexed by profile id.
pub const PROFILES: Table = Table {
    what: "profiles",
    oid: agent_oid!(2, 30),
    entry: agent_oid!(2, 30, 1),
    index_len: 1,
    columns: &[
        col(30, "Name"),
        col(40, "Description"),
        col(50, "DsBw"),
        col(60, "UsBw"),
    ],
};

/// `.2.40` gamGhnAgentConfigUserTable (subscribers), indexed by user id.
pub const SUBSCRIBERS: Table = Table {
    what: "subscribers",
    oid: agent_oid!(2, 40),
    entry: agent_oid!(2, 40, 1),
    index_len: 1,
    columns: &[
        col(30, "Name"),
        col(40, "Description"),
        col(50, "EndpointId"),
        col(70, "BwProfileId"),
        col(90, "VlanId"),
        col(100, "VlanIsTagged"),
        col(110, "RemappedVlanId"),
        opt(130, "AllowedTaggedVlans0To1K"),
        opt(140, "AllowedTaggedVlans1KTo2K"),
        opt(150, "AllowedTaggedVlans2KTo3K"),
        opt(160, "AllowedTaggedVlans3KTo4K"),
        col(180, "PortIfIndex"),
        col(190, "DoubleTags"),
        col(200, "NNIIfIndex"),
        col(210, "OuterTagVlanId"),
    ],
};

/// `.3.30.10` gamGhnAgentStatusEndpointByMacBriefTable, indexed by MAC (6 arcs): every CPE
/// the device sees, configured or not.
pub const DETECTED: Table = Table {
    what: "detected endpoints",
    oid: agent_oid!(3, 30, 10),
    entry: agent_oid!(3, 30, 10, 1),
    index_len: 6,
    columns: &[
        col(40, "DetectedPortIfIndex"),
        col(90, "State"),
        col(110, "ModelString"),
    ],
};

// ---------------------------------------------------------------------------------------------
// The status read (`super::status`): separate tables, never read by the configuration read.

macro_rules! oid_under {
    ($($arc:literal),*) => { &[1, 3, 6, 1, 4, 1, 20095, 2001, $($arc),*] };
}

/// `.3.10.10` gamGhnAgentStatusPortBriefTable, indexed by ifIndex.
pub const PORT_BRIEF: Table = Table {
    what: "port status",
    oid: agent_oid!(3, 10, 10),
    entry: agent_oid!(3, 10, 10, 1),
    index_len: 1,
    columns: &[
        col(20, "AdminEnabled"),
        col(40, "EndpointsMacAddressList"),
        col(50, "OutageNSA"),
        col(60, "OutageSA"),
    ],
};

/// `.3.10.20` gamGhnAgentStatusPortDetailedTable, indexed by ifIndex. The rate columns
/// (110-180) are "available only for endpoints": firmware 1.5.4 leaves them out for ports.
pub const PORT_DETAILED: Table = Table {
    what: "port detailed status",
    oid: agent_oid!(3, 10, 20),
    entry: agent_oid!(3, 10, 20, 1),
    index_len: 1,
    columns: &[
        col(20, "Alive"),
        col(80, "XputIndicator"),
        col(90, "Mode"),
        opt(110, "RxPhyRate"),
        opt(120, "TxPhyRate"),
        opt(150, "RxMaxXput"),
        opt(160, "TxMaxXput"),
        opt(170, "RxUsage"),
        opt(180, "TxUsage"),
    ],
};

/// The columns both endpoint brief tables are read for (by id and by MAC). ModelString and
/// FwMismatch are "available only when endpoint is detected": a row may lack them.
const ENDPOINT_BRIEF_COLUMNS: &[Column] = &[
    col(10, "MacAddress"),
    col(20, "ConfEndpointId"),
    col(40, "DetectedPortIfIndex"),
    col(55, "ConfUserName"),
    col(70, "ConfBwProfileId"),
    col(90, "State"),
    opt(110, "ModelString"),
    opt(120, "FwMismatch"),
];

/// The columns of both endpoint detailed tables read; a row exists only for a detected CPE.
pub const ENDPOINT_DETAILED_COLUMNS: &[Column] = &[
    col(40, "HwProduct"),
    col(50, "SerialNumber"),
    col(60, "Uptime"),
    col(70, "FwVersion"),
    col(90, "Mode"),
    col(100, "WireLengthMeters"),
    col(110, "RxPhyRate"),
    col(120, "TxPhyRate"),
    col(130, "RxAllocBands"),
    col(140, "TxAllocBands"),
    col(150, "RxMaxXput"),
    col(160, "TxMaxXput"),
    col(170, "RxUsage"),
    col(180, "TxUsage"),
];

/// `.3.20.10` gamGhnAgentStatusEndpointBriefTable, indexed by endpoint id.
pub const ENDPOINT_BRIEF: Table = Table {
    what: "endpoint status",
    oid: agent_oid!(3, 20, 10),
    entry: agent_oid!(3, 20, 10, 1),
    index_len: 1,
    columns: ENDPOINT_BRIEF_COLUMNS,
};

/// `.3.20.20` gamGhnAgentStatusEndpointDetailedTable, indexed by endpoint id.
pub const ENDPOINT_DETAILED: Table = Table {
    what: "endpoint detailed status",
    oid: agent_oid!(3, 20, 20),
    entry: agent_oid!(3, 20, 20, 1),
    index_len: 1,
    columns: ENDPOINT_DETAILED_COLUMNS,
};

/// `.3.30.10` gamGhnAgentStatusEndpointByMacBriefTable, indexed by MAC: the only place a CPE
/// with no endpoint (quarantined, unknown MAC) shows. The MAC is the index, so column 10 is not
/// read.
pub const BY_MAC_BRIEF: Table = Table {
    what: "endpoint status by MAC",
    oid: agent_oid!(3, 30, 10),
    entry: agent_oid!(3, 30, 10, 1),
    index_len: 6,
    columns: &[
        col(20, "ConfEndpointId"),
        col(40, "DetectedPortIfIndex"),
        col(55, "ConfUserName"),
        col(70, "ConfBwProfileId"),
        col(90, "State"),
        opt(110, "ModelString"),
        opt(120, "FwMismatch"),
    ],
};

/// `.3.30.20` gamGhnAgentStatusEndpointByMacDetailedTable, indexed by MAC: asked for (GET) only
/// for the CPEs that have no endpoint id, the by-id table having the others.
pub const BY_MAC_DETAILED: Table = Table {
    what: "endpoint detailed status by MAC",
    oid: agent_oid!(3, 30, 20),
    entry: agent_oid!(3, 30, 20, 1),
    index_len: 6,
    columns: ENDPOINT_DETAILED_COLUMNS,
};

/// `gamSysutilStatusTemperatureSensorsTable` (GAM-SYSUTIL-MIB `.24.1.3.7`), by sensor number.
pub const TEMPERATURES: Table = Table {
    what: "temperature sensors",
    oid: oid_under!(24, 1, 3, 7),
    entry: oid_under!(24, 1, 3, 7, 1),
    index_len: 1,
    columns: &[col(2, "Name"), col(3, "TemperatureX10")],
};

/// `gamAlarmStatusActiveTable` (GAM-ALARM-MIB `.145.1.3.1`), by alarm index.
pub const ALARMS: Table = Table {
    what: "active alarms",
    oid: oid_under!(145, 1, 3, 1),
    entry: oid_under!(145, 1, 3, 1, 1),
    index_len: 1,
    columns: &[
        col(2, "IfIndex"),
        col(4, "IfDescr"),
        col(5, "CondType"),
        col(10, "Severity"),
        col(11, "ServAff"),
        opt(12, "OccurTime"),
    ],
};

/// The status tables walked, in the order they are read.
pub const STATUS_TABLES: [&Table; 7] = [
    &PORT_BRIEF,
    &PORT_DETAILED,
    &ENDPOINT_BRIEF,
    &ENDPOINT_DETAILED,
    &BY_MAC_BRIEF,
    &TEMPERATURES,
    &ALARMS,
];

/// IF-MIB ifXEntry `1.3.6.1.2.1.31.1.1.1`: ifName (1), ifHCInOctets (6), ifHCOutOctets (10) and
/// ifHighSpeed (15) are asked for (GET) for the uplinks only.
pub const IFX_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
pub const IFX_NAME: u32 = 1;
pub const IFX_HC_IN_OCTETS: u32 = 6;
pub const IFX_HC_OUT_OCTETS: u32 = 10;
pub const IFX_HIGH_SPEED: u32 = 15;

/// The tables read, in the order they are read.
pub const TABLES: [&Table; 5] = [&PORTS, &ENDPOINTS, &PROFILES, &SUBSCRIBERS, &DETECTED];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_sit_under_the_ghn_agent_and_their_entries_under_the_tables() {
        for table in TABLES {
            assert!(table.oid.starts_with(GHN_AGENT), "{}", table.what);
            assert_eq!(&table.entry[..table.oid.len()], table.oid);
            assert_eq!(table.entry.last(), Some(&1));
            let mut ids: Vec<u32> = table.columns.iter().map(|c| c.id).collect();
            ids.dedup();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{}", table.what);
        }
        assert_eq!(SUBSCRIBERS.dotted(), "1.3.6.1.4.1.20095.2001.143.1.2.40");
        // Issue 16 (low): an OID of 20,000 arcs made a 40,000-character message.
        let long = vec![1u32; 20_000];
        let shown = dotted(&long);
        assert!(shown.len() < 100, "{}", shown.len());
        assert!(shown.ends_with("... (20000 arcs)"), "{shown}");
        assert_eq!(dotted(&[1; MAX_ARCS]).len(), 2 * MAX_ARCS - 1);
        assert!(GLOBAL_DEFAULT_NNI.starts_with(GHN_AGENT));
        for table in STATUS_TABLES.iter().chain([&&BY_MAC_DETAILED]) {
            assert_eq!(&table.entry[..table.oid.len()], table.oid, "{}", table.what);
            assert!(
                table.columns.windows(2).all(|w| w[0].id < w[1].id),
                "{}",
                table.what
            );
        }
        assert_eq!(ALARMS.dotted(), "1.3.6.1.4.1.20095.2001.145.1.3.1");
        assert_eq!(TEMPERATURES.dotted(), "1.3.6.1.4.1.20095.2001.24.1.3.7");
    }
}
