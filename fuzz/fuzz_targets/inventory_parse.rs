//! Fuzzes the inventory loader: any bytes, as any file kind, must give a document or a
//! diagnostic, never a panic; and whatever parses must format to a canonical form that reads
//! back the same.
#![no_main]

use gamops::inventory::canonical::format_file;
use gamops::inventory::layout::FileKind;
use gamops::inventory::parse::parse;
use gamops::model::SourceId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let kind = FileKind::ALL[usize::from(selector) % FileKind::ALL.len()];
    if parse(kind, SourceId(0), bytes).is_ok()
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        // format_file re-parses its output and compares; a mismatch is an Err, a bug only when
        // the original parsed. Assert it never loses a value.
        match format_file(kind, text) {
            Ok(_) | Err(gamops::inventory::canonical::CanonicalError::InnerComment { .. }) => {}
            Err(e) => panic!("{kind:?}: parsed but did not format: {e}"),
        }
    }
});
