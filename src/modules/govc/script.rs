//! The remote half of the govc modules: the POSIX sh script, fed on standard input, that
//! exports the connection and runs one govc command.
//!
//! Invariant: secrets live only in the script's text (standard input), never in a command
//! line; every word reaches govc through [`crate::shell::quote`], so a name like `a;b` or
//! `$(reboot)` is one literal argument.

use crate::shell::quote;

/// What the script prints on standard error when the host has no govc.
pub(crate) const NO_GOVC: &str = "@@rpatch:nogovc";

/// The script: export each `GOVC_*` setting (with `export`, a shell builtin, so no process
/// ever carries them in its arguments), then `exec govc WORDS…` with standard input closed
/// (govc must not read the rest of the script).
pub(crate) fn call(env: &[(&str, String)], words: &[&str]) -> String {
    let mut script = String::new();
    for (name, value) in env {
        script.push_str(&format!("{name}={}\nexport {name}\n", quote(value)));
    }
    script.push_str(&format!(
        "command -v govc >/dev/null 2>&1 || {{ echo '{NO_GOVC}' >&2; exit 127; }}\nexec govc"
    ));
    for word in words {
        script.push(' ');
        script.push_str(&quote(word));
    }
    script.push_str(" </dev/null\n");
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_exports_settings_and_quotes_every_word() {
        let script = call(
            &[("GOVC_PASSWORD", "p'w $x".to_string())],
            &["snapshot.create", "-vm", "web 01", "a;b"],
        );
        assert!(
            script.starts_with("GOVC_PASSWORD='p'\"'\"'w $x'\nexport GOVC_PASSWORD\n"),
            "{script}"
        );
        assert!(
            script.ends_with("exec govc snapshot.create -vm 'web 01' 'a;b' </dev/null\n"),
            "{script}"
        );
    }
}
