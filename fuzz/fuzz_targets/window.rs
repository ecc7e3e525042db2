//! The maintenance-window parser (`window:`), and opening times from a fuzzed instant.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Instants from 2020 on, over about 30 years (DST rules, leap days, year ends).
const BASE: i64 = 1_577_836_800;
const SPAN: i64 = 30 * 366 * 86_400;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let at = BASE + i64::from_le_bytes(*head).rem_euclid(SPAN);
    if let Ok(text) = std::str::from_utf8(rest) {
        rpatch::fuzz_entry::maintenance_window(text, at);
    }
});
