//! The YAML playbook loader: spanned YAML (aliases, nesting), plays, tasks, blocks, loops,
//! rolling settings, gates, and the template checks `rpatch check` runs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpatch::template::Templar;

thread_local! {
    static TEMPLAR: Templar = Templar::new();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        TEMPLAR.with(|templar| rpatch::fuzz_entry::playbook(text, templar));
    }
});
