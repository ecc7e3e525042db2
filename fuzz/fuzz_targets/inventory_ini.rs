//! The INI inventory parser: sections, host lines, ranges, Python literals, children.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        rpatch::fuzz_entry::inventory_ini(text);
    }
});
