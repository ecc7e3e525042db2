//! The template checker: minijinja's parser plus rpatch's scan for filter and test names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpatch::template::Templar;

thread_local! {
    static TEMPLAR: Templar = Templar::new();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        TEMPLAR.with(|templar| rpatch::fuzz_entry::template_check(templar, text));
    }
});
