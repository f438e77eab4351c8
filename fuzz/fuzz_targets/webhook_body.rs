//! Fuzzes the webhook receivers' body decoding: any body, signed correctly (so it gets past the
//! signature to the decoder), as JSON or as a PHP-style form, for Splynx and for Sonar, must
//! give an event or a refusal, never a panic or a stack overflow.
#![no_main]

use gamops::billing::webhook::{php_form, splynx_signature, verify_sonar, verify_splynx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let secret = b"fuzz-secret";
    let signature = splynx_signature(secret, body);
    let content_type = match selector % 3 {
        0 => "application/json",
        1 => "application/x-www-form-urlencoded",
        _ => "text/plain",
    };
    let _ = verify_splynx(secret, Some(&signature), Some(content_type), body);
    let _ = verify_sonar("token", "token", body);
    let _ = php_form(body);
});
