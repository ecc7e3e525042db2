//! The YAML inventory parser: groups, hosts (with ranges), vars, children.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        rpatch::fuzz_entry::inventory_yaml(text);
    }
});
