//! Entry points for the fuzz targets in `fuzz/` (a separate cargo workspace): each takes
//! untrusted text the way rpatch meets it in a user's file or on the command line, parses it,
//! and discards the result. Errors are expected; a panic, a hang or unbounded memory is a bug.
//!
//! They exist so the targets can reach parsers that are crate-private; they add no behaviour.
//! File-based loaders get the text in memory; anything the text refers to (an imported
//! playbook, a vars file) is read from disk through the same capped reader as always.

use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{render, Source};
use crate::inventory::Inventory;
use crate::template::Templar;

/// Loads `text` as the playbook `<fuzz>/site.yml` (it does not exist on disk: files it
/// imports resolve against a directory that does not exist either) and renders any error.
pub fn playbook(text: &str, templar: &Templar) {
    let path = Path::new("/nonexistent-rpatch-fuzz/site.yml");
    let source = Source::new(path, text);
    let options = crate::playbook::LoadOptions::default();
    if let Err(error) = crate::playbook::load_source(source, templar, &options) {
        let _ = render(&error);
    }
}

/// Parses `text` as an INI inventory file, applies the structural rules (cycles, depth,
/// `ungrouped`), merges every host's variables and renders any error.
pub fn inventory_ini(text: &str) {
    inventory(text, "hosts", crate::inventory::parse_ini);
}

/// Parses `text` as a YAML inventory file, like [`inventory_ini`].
pub fn inventory_yaml(text: &str) {
    inventory(text, "hosts.yml", crate::inventory::parse_yaml);
}

fn inventory(
    text: &str,
    name: &str,
    parse: fn(&mut Inventory, &Arc<Source>) -> Result<(), crate::inventory::InventoryError>,
) {
    let source = Source::new(name, text);
    let mut inventory = Inventory::new();
    let loaded = parse(&mut inventory, &source).and_then(|()| inventory.finalize());
    match loaded {
        Ok(()) => {
            for host in inventory.hosts() {
                let _ = inventory.host_vars(&host.name);
            }
        }
        Err(error) => {
            let _ = render(&error);
        }
    }
}

/// Evaluates `pattern` as a play's `hosts:` and as a `--limit` against `inventory` (a limit
/// file, `@path`, is not read).
pub fn host_pattern(inventory: &Inventory, pattern: &str) {
    let _ = inventory.select(pattern);
    if !pattern.starts_with('@') {
        let _ = inventory.select_limit(pattern);
    }
}

/// Checks `text` as a template and as a bare expression (`when:`), as `rpatch check` does.
pub fn template_check(templar: &Templar, text: &str) {
    let _ = templar.check_template(text);
    let _ = templar.check_expression(text);
}

/// Parses `text` as a play's `window:` value (YAML: a string or a list of them) and, when it
/// is valid, asks whether it is open at `at_seconds` (Unix time) and when it opens next.
///
/// # Panics
///
/// When [`Windows::next_open`](crate::rolling::window::Windows::next_open) breaks its contract
/// for a valid window: it must find a moment within two weeks, at or after `at`, when the
/// windows are open, and the second before it (if not before `at`) must be closed.
pub fn maintenance_window(text: &str, at_seconds: i64) {
    let source = Source::new("window.yml", text);
    let Ok(node) = crate::yaml::parse(&source) else {
        return;
    };
    let Ok(windows) = crate::rolling::window::Windows::from_node(&node, &source) else {
        return;
    };
    let Ok(at) = jiff::Timestamp::from_second(at_seconds) else {
        return;
    };
    let open = windows.is_open(at);
    let Some(next) = windows.next_open(at).map(|zoned| zoned.timestamp()) else {
        panic!("`{text}` never opens after {at}");
    };
    assert!(next >= at, "`{text}`: next opening {next} is before {at}");
    assert!(
        windows.is_open(next),
        "`{text}`: closed at its next opening {next}"
    );
    assert_eq!(
        open,
        next == at,
        "`{text}` at {at}: open {open}, next {next}"
    );
    if let Ok(before) = next.checked_sub(jiff::SignedDuration::from_secs(1)) {
        assert!(
            before < at || !windows.is_open(before),
            "`{text}` after {at}: already open at {before}, before its next opening {next}"
        );
    }
}

/// The inventory the host-pattern target matches against: groups with children, ranges,
/// IPv6 and ported hosts, and host names that look like patterns.
pub fn sample_inventory() -> Inventory {
    let text = "\
lonely
[web]
web[01:04] tier=front
[db]
db-[a:c]
10.0.0.5:2222
[prod:children]
web
db
[edge]
fe80::1
[2001:db8::5]:22
web01
[odd]
a*b
~x
";
    let source = Source::new("hosts", text);
    let mut inventory = Inventory::new();
    let _ = crate::inventory::parse_ini(&mut inventory, &source);
    let _ = inventory.finalize();
    inventory
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed corpus file (fuzz/corpus/<target>/): crashes the fuzzers found stay
    /// fixed even where cargo-fuzz is not installed.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        files
            .iter()
            .map(|path| std::fs::read(path).expect("corpus file"))
            .collect()
    }

    fn texts(target: &str) -> Vec<String> {
        corpus(target)
            .into_iter()
            .filter_map(|bytes| String::from_utf8(bytes).ok())
            .collect()
    }

    #[test]
    fn the_committed_fuzz_corpora_parse_without_panicking() {
        // rpatch parses user files on its main thread and renders on runtime threads, all
        // with 8 MiB stacks; the parsers' debug-build frames need more than a test thread's
        // default 2 MiB for the corpus's most deeply nested inputs.
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(replay_corpora)
            .expect("spawn the corpus replay")
            .join()
            .expect("the corpus replay panicked");
    }

    /// The stack of rpatch's own threads (`cli::main` and its runtime).
    const STACK: usize = 8 * 1024 * 1024;

    fn replay_corpora() {
        let templar = Templar::new();
        for text in texts("yaml_playbook") {
            playbook(&text, &templar);
        }
        for text in texts("inventory_ini") {
            inventory_ini(&text);
        }
        for text in texts("inventory_yaml") {
            inventory_yaml(&text);
        }
        let inventory = sample_inventory();
        for text in texts("host_pattern") {
            host_pattern(&inventory, &text);
        }
        for text in texts("template_check") {
            template_check(&templar, &text);
        }
        for bytes in corpus("window") {
            if let Some((head, rest)) = bytes.split_first_chunk::<8>() {
                let at = 1_577_836_800 + i64::from_le_bytes(*head).rem_euclid(30 * 366 * 86_400);
                maintenance_window(&String::from_utf8_lossy(rest), at);
            }
        }
    }

    #[test]
    fn the_sample_inventory_has_its_groups() {
        let inventory = sample_inventory();
        assert_eq!(inventory.group("web").map(|g| g.hosts.len()), Some(4));
        assert!(inventory.select("prod:&web").is_ok());
    }
}
