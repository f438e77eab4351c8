//! Fuzzes the decoding of what billing APIs send: Splynx customers, services and tariffs, and
//! Sonar's GraphQL answers, must decode to customers or to an error, never a panic.
#![no_main]

use gamops::billing::{sonar, splynx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let _ = sonar::decode_accounts(if selector & 0x80 == 0 { 200 } else { 500 }, rest);
    } else {
        // Three JSON documents separated by NUL bytes: customer, services, tariffs.
        let mut parts = rest.splitn(3, |&b| b == 0);
        let customer = parts.next().unwrap_or_default();
        let services = parts.next().unwrap_or(b"[]");
        let tariffs = parts.next().unwrap_or(b"[]");
        let _ = splynx::decode_customer(customer, services, tariffs);
    }
});
