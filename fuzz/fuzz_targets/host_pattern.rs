//! Host patterns (`web:&prod:!db*`, `~regex`, `group[0:2]`) against a small fixed inventory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpatch::inventory::Inventory;

thread_local! {
    static INVENTORY: Inventory = rpatch::fuzz_entry::sample_inventory();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        INVENTORY.with(|inventory| rpatch::fuzz_entry::host_pattern(inventory, text));
    }
});
