//! The POSIX sh script one `zypper` call sends to the host: list what rpm has installed,
//! refresh the repositories if asked, plan each transaction with `--dry-run`, apply it unless
//! in check mode (once more when zypper answers 103, "zypper itself was updated, run again"),
//! list again, and ask `zypper needs-rebooting`.
//!
//! zypper runs with `--non-interactive --xmlout`, as Ansible's module runs it; its stdout (XML)
//! and then its stderr go into one marked section per command, in the framing the dnf module's
//! parser reads ([`crate::modules::dnf::parse`]). Every word from a playbook has been checked
//! by [`super::args`] and is quoted with [`crate::shell::quote`] all the same.

use super::args::{Kind, Request, State, ZypperArgs};
use crate::modules::dnf::parse::MARK;
use crate::modules::dnf::script::RPM_QUERY;
use crate::shell::quote;

/// zypper's exit codes that are not failures: 0, 102 (a patch needs a reboot), 103 (zypper
/// updated itself), 106 (some repository was skipped: a warning, as Ansible treats it).
pub(crate) const SUCCESS_CODES: &[i32] = &[0, 102, 103, 106];

/// Builds the script for one call.
pub(crate) fn script(args: &ZypperArgs, request: &Request, check_mode: bool) -> String {
    let root = args.root.as_deref().unwrap_or("/");
    let mut global: Vec<String> = Vec::new();
    if let Some(root) = &args.root {
        global.push(format!("--root {}", quote(root)));
    }
    global.extend(request.precommand.iter().map(|w| quote(w)));
    if args.disable_gpg_check {
        global.push("--no-gpg-checks".into());
    }
    let reboot_global = args
        .root
        .as_ref()
        .map(|root| format!("--root {} ", quote(root)))
        .unwrap_or_default();
    let transactions = if request.cache_only {
        String::new()
    } else {
        transactions(args, request)
    };
    let cache = if args.update_cache {
        "step cache refresh refresh\n[ $rc = 0 ] || exit 0\n".to_string()
    } else {
        String::new()
    };
    let ok_codes = SUCCESS_CODES
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join("|");
    format!(
        "LC_ALL=C; export LC_ALL\n\
         echo '{MARK}start'\n\
         root={root}\n\
         command -v zypper >/dev/null 2>&1 || {{ echo '{MARK}nopm'; exit 0; }}\n\
         echo '{MARK}pm zypper'\n\
         errf=$(mktemp) || exit 1\n\
         trap 'rm -f \"$errf\"' EXIT\n\
         zy() {{ zypper --non-interactive --xmlout {global} \"$@\" 2>\"$errf\" </dev/null; }}\n\
         step() {{\n\
           phase=$1; verb=$2; shift 2\n\
           out=$(zy \"$@\"); rc=$?\n\
           echo \"{MARK}$phase $verb $rc\"; printf '%s\\n' \"$out\"; cat \"$errf\"; echo '{MARK}end'\n\
         }}\n\
         listed() {{ echo \"{MARK}$1\"; rpm --root \"$root\" -qa --qf {query}; echo '{MARK}end'; }}\n\
         installed() {{ rpm --root \"$root\" -q --quiet -- \"$1\" 2>/dev/null || \
                        rpm --root \"$root\" -q --quiet --whatprovides -- \"$1\" 2>/dev/null; }}\n\
         listed before\n\
         applied=0\n\
         txn() {{\n\
           verb=$1; shift\n\
           step plan \"$verb\" \"$verb\" --dry-run \"$@\"\n\
           case $rc in {ok_codes}) ;; *) return;; esac\n\
           case $out in *'<solvable '*) ;; *) return;; esac\n\
           [ {check} = 1 ] && return\n\
           step apply \"$verb\" \"$verb\" \"$@\"\n\
           [ $rc = 103 ] && step apply \"$verb\" \"$verb\" \"$@\"\n\
           applied=1\n\
         }}\n\
         {cache}\
         {transactions}\
         [ $applied = 1 ] && listed after\n\
         zypper {reboot_global}needs-rebooting >/dev/null 2>&1 </dev/null; r=$?\n\
         case $r in\n\
           0) echo '{MARK}reboot 0 zypper' ;;\n\
           102) echo '{MARK}reboot 1 zypper' ;;\n\
           *) if [ -e \"${{root%/}}/run/reboot-needed\" ]; then echo '{MARK}reboot 1 reboot-needed'; \
              else echo '{MARK}reboot 0 reboot-needed'; fi ;;\n\
         esac\n",
        root = quote(root),
        global = global.join(" "),
        query = quote(RPM_QUERY),
        check = u8::from(check_mode),
    )
}

/// The transactions of one call, as `txn` lines (and the rpm checks that choose names).
fn transactions(args: &ZypperArgs, request: &Request) -> String {
    let kind = args.kind;
    let mut solver = Vec::new();
    solver.push("--auto-agree-with-licenses");
    if args.disable_recommends {
        solver.push("--no-recommends");
    }
    if args.force_resolution {
        solver.push("--force-resolution");
    }
    if args.replacefiles {
        solver.push("--replacefiles");
    }
    let extra: Vec<String> = request.extra.iter().map(|w| quote(w)).collect();
    let extra = extra.join(" ");
    let names: Vec<String> = request.names.iter().map(|n| quote(n)).collect();
    let solver = solver.join(" ");
    let mut install = vec![solver.clone()];
    if args.force {
        install.push("--force".into());
    }
    if args.oldpackage || args.versioned() {
        install.push("--oldpackage".into());
    }
    let install = install.join(" ");
    let type_word = kind.word();
    match request.state {
        State::DistUpgrade => {
            let vendor = if args.allow_vendor_change {
                " --allow-vendor-change"
            } else {
                ""
            };
            format!("txn dist-upgrade {solver}{vendor} {extra}\n")
        }
        State::Latest if request.everything && kind == Kind::Patch => {
            format!("txn patch {solver} {extra}\n")
        }
        State::Latest if request.everything => {
            format!("txn update --type {type_word} {solver} {extra}\n")
        }
        // `zypper install` of an installed package upgrades it: `latest` is just that.
        State::Latest => format!(
            "txn install --type {type_word} {install} {extra} -- {}\n",
            names.join(" ")
        ),
        State::Present | State::Absent => {
            let absent = request.state == State::Absent;
            // Plain package names are checked against rpm first (Ansible's module checks too):
            // `present` leaves an installed package at its version, `absent` skips one that
            // is not there. Versions, globs, paths and other types go to zypper as given.
            let mut script = String::from("set --\n");
            for (name, quoted) in request.names.iter().zip(&names) {
                let plain = kind == Kind::Package && !name.contains(['=', '<', '>', '*', '?', '[', '/']);
                if !plain {
                    script.push_str(&format!("set -- \"$@\" {quoted}\n"));
                } else if absent {
                    script.push_str(&format!("installed {quoted} && set -- \"$@\" {quoted}\n"));
                } else {
                    script.push_str(&format!("installed {quoted} || set -- \"$@\" {quoted}\n"));
                }
            }
            let command = if absent {
                let clean = if args.clean_deps { " --clean-deps" } else { "" };
                format!("remove --type {type_word}{clean} {extra}")
            } else {
                format!("install --type {type_word} {install} {extra}")
            };
            script.push_str(&format!("[ $# -gt 0 ] && txn {command} -- \"$@\"\n"));
            script
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;

    fn built(json: serde_json::Value, check_mode: bool) -> String {
        let args: ZypperArgs = args::parse(&crate::vars::from_json(&json)).expect("valid args");
        let request = args.request().expect("valid request");
        script(&args, &request, check_mode)
    }

    #[test]
    fn every_shape_of_script_is_valid_sh() {
        let root = "/tmp/it's a root";
        for (json, check_mode) in [
            (serde_json::json!({"name": "a", "root": root}), false),
            (serde_json::json!({"name": ["a", "b*"], "state": "latest"}), true),
            (
                serde_json::json!({"name": "*", "state": "latest", "type": "patch",
                                   "extra_args": "--category security"}),
                false,
            ),
            (
                serde_json::json!({"name": "*", "state": "dist-upgrade",
                                   "allow_vendor_change": true, "update_cache": true}),
                false,
            ),
            (
                serde_json::json!({"name": ["a", "b=1.0"], "state": "absent",
                                   "clean_deps": true, "extra_args_precommand": "--gpg-auto-import-keys"}),
                true,
            ),
            (serde_json::json!({"update_cache": true, "disable_gpg_check": true}), false),
        ] {
            let text = built(json.clone(), check_mode);
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", &text])
                .status()
                .expect("run sh -n");
            assert!(status.success(), "{json}:\n{text}");
        }
    }

    #[test]
    fn commands_carry_ansibles_options_and_check_mode_never_applies() {
        let text = built(
            serde_json::json!({"name": ["a", "b>=2"], "root": "/r oot", "force": true}),
            true,
        );
        assert!(text.contains("root='/r oot'"), "{text}");
        assert!(text.contains("zypper --non-interactive --xmlout --root '/r oot' \"$@\""), "{text}");
        assert!(text.contains("installed a || set -- \"$@\" a\n"), "{text}");
        assert!(text.contains("set -- \"$@\" 'b>=2'\n"), "{text}");
        assert!(
            text.contains(
                "txn install --type package --auto-agree-with-licenses --no-recommends --force \
                 --oldpackage  -- \"$@\""
            ),
            "{text}"
        );
        assert!(text.contains("[ 1 = 1 ] && return"), "{text}");
        let patch = built(
            serde_json::json!({"name": "*", "state": "latest", "type": "patch",
                               "extra_args": "--category security", "disable_recommends": false}),
            false,
        );
        assert!(
            patch.contains("txn patch --auto-agree-with-licenses --category security\n"),
            "{patch}"
        );
        assert!(patch.contains("[ 0 = 1 ] && return"), "{patch}");
    }
}
