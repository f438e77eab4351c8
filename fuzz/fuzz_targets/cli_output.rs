//! Fuzzes the CLI output parser: whatever a device prints before its prompt, finding the
//! prompt, stripping the echo and spotting the `%` complaint must never panic, and a
//! complaint is always reported as one.
#![no_main]

use gamops::device::ssh::dialect::error_in;
use gamops::device::ssh::session::{answer_of, prompt_at_end};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (command, raw) = text.split_once('\0').unwrap_or(("ghn subscriber 1", &text));
    let _ = prompt_at_end(raw);
    match answer_of(raw, command) {
        Ok(output) => assert!(error_in(&output).is_none()),
        Err(_) => {}
    }
});
