//! Fuzzes the SNMP answer decoder: any datagram, parsed as snmp2 parses an answer, copied into
//! gamops's varbinds and decoded as the system group and as each configuration table, must
//! give a value or an error, never a panic.
#![no_main]

use gamops::device::snmp::decode;
use gamops::device::snmp::varbind::{VarBind, arcs, owned};
use gamops::device::snmp::walk::Rows;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pdu) = snmp2::Pdu::from_bytes(data) else {
        return;
    };
    let vbs: Vec<VarBind> = pdu
        .varbinds
        .clone()
        .filter_map(|(oid, value)| {
            Some(VarBind {
                oid: arcs(&oid).ok()?,
                value: owned(&value).ok()?,
            })
        })
        .collect();
    let _ = decode::system(&vbs);
    // The same bindings as rows of each table: `...column.index`.
    let mut rows = Rows::new();
    for vb in &vbs {
        if let [.., column, index] = vb.oid[..] {
            rows.entry(vec![index])
                .or_default()
                .insert(column, vb.value.clone());
        }
    }
    let _ = decode::ports(&rows);
    let _ = decode::endpoints(&rows);
    let _ = decode::profiles(&rows);
    let _ = decode::subscribers(&rows);
    let _ = decode::detected(&rows);
});
