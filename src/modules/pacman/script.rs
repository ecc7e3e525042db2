//! The POSIX sh script one `pacman` call sends to the host: list what is installed, refresh
//! the databases if asked, plan each transaction with `--print` (the targets, one
//! `name version location` line each), apply it with `--noconfirm` unless in check mode, and
//! list again.
//!
//! Sections are framed as the dnf module's parser reads them ([`crate::modules::dnf::parse`]);
//! within one, pacman's stdout comes first and its stderr after, each line prefixed `! `.
//! Every word from a playbook has been checked by [`super::args`] and is quoted all the same.

use super::args::{PacmanArgs, Request, State};
use crate::modules::dnf::parse::MARK;
use crate::shell::quote;

/// The prefix of a stderr line inside a section.
pub(crate) const STDERR: &str = "! ";

/// Builds the script for one call.
pub(crate) fn script(args: &PacmanArgs, request: &Request, check_mode: bool) -> String {
    let global = args
        .config
        .as_ref()
        .map(|config| format!("--config {}", quote(config)))
        .unwrap_or_default();
    let words = |words: &[String]| {
        words
            .iter()
            .map(|w| format!(" {}", quote(w)))
            .collect::<String>()
    };
    let mut body = String::new();
    if args.update_cache {
        let again = if args.force { " --refresh" } else { "" };
        body.push_str(&format!(
            "step cache refresh -Sy{again}{}\n[ $rc = 0 ] || exit 0\n",
            words(&request.cache_extra)
        ));
    }
    if args.upgrade {
        body.push_str(&format!(
            "txn upgrade -Su{}\n",
            words(&request.upgrade_extra)
        ));
    }
    if !request.names.is_empty() {
        let extra = words(&request.extra);
        let names: Vec<String> = request.names.iter().map(|n| quote(n)).collect();
        match request.state {
            State::Latest => body.push_str(&format!(
                "txn install -S --needed{extra} -- {}\n",
                names.join(" ")
            )),
            State::Present | State::Absent => {
                let absent = request.state == State::Absent;
                body.push_str("set --\n");
                for name in &names {
                    let test = if absent { "&&" } else { "||" };
                    body.push_str(&format!("installed {name} {test} set -- \"$@\" {name}\n"));
                }
                let command = if absent {
                    let mut flags = String::from("-R");
                    if args.remove_nosave {
                        flags.push_str(" --nosave");
                    }
                    if args.force {
                        flags.push_str(" --nodeps --nodeps");
                    }
                    format!("remove {flags}{extra}")
                } else {
                    format!("install -S --needed{extra}")
                };
                body.push_str(&format!("[ $# -gt 0 ] && txn {command} -- \"$@\"\n"));
            }
        }
    }
    format!(
        "LC_ALL=C; export LC_ALL\n\
         echo '{MARK}start'\n\
         command -v pacman >/dev/null 2>&1 || {{ echo '{MARK}nopm'; exit 0; }}\n\
         echo '{MARK}pm pacman'\n\
         errf=$(mktemp) || exit 1\n\
         trap 'rm -f \"$errf\"' EXIT\n\
         pm() {{ pacman --noconfirm {global} \"$@\" 2>\"$errf\" </dev/null; }}\n\
         step() {{\n\
           phase=$1; verb=$2; shift 2\n\
           out=$(pm \"$@\"); rc=$?\n\
           echo \"{MARK}$phase $verb $rc\"; [ -n \"$out\" ] && printf '%s\\n' \"$out\"\n\
           sed 's/^/{STDERR}/' \"$errf\"; echo '{MARK}end'\n\
         }}\n\
         listed() {{\n\
           echo \"{MARK}$1\"\n\
           pm -Qi | awk -F' *: ' '/^Name /{{n=$2}} /^Version /{{v=$2}} /^Architecture /{{print n, $2, v}}'\n\
           echo '{MARK}end'\n\
         }}\n\
         installed() {{ pm -Q -- \"${{1##*/}}\" >/dev/null; }}\n\
         listed before\n\
         applied=0\n\
         txn() {{\n\
           verb=$1; shift\n\
           step plan \"$verb\" --print-format '%n %v %l' \"$@\"\n\
           [ $rc = 0 ] && [ -n \"$out\" ] || return 0\n\
           [ {check} = 1 ] && return 0\n\
           step apply \"$verb\" \"$@\"\n\
           applied=1\n\
         }}\n\
         {body}\
         [ $applied = 1 ] && listed after\n\
         exit 0\n",
        check = u8::from(check_mode),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;

    fn built(json: serde_json::Value, check_mode: bool) -> String {
        let args: PacmanArgs = args::parse(&crate::vars::from_json(&json)).expect("valid args");
        let request = args.request().expect("valid request");
        script(&args, &request, check_mode)
    }

    #[test]
    fn every_shape_of_script_is_valid_sh_and_check_mode_never_applies() {
        for (json, check_mode) in [
            (serde_json::json!({"name": "a", "config": "/tmp/it's.conf"}), false),
            (serde_json::json!({"name": ["a", "b"], "state": "latest"}), true),
            (
                serde_json::json!({"upgrade": true, "update_cache": true, "force": true,
                                   "upgrade_extra_args": "--ignore linux"}),
                false,
            ),
            (
                serde_json::json!({"name": "a", "state": "absent", "force": true,
                                   "remove_nosave": true, "extra_args": "--recursive"}),
                true,
            ),
        ] {
            let text = built(json.clone(), check_mode);
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", &text])
                .status()
                .expect("run sh -n");
            assert!(status.success(), "{json}:\n{text}");
            assert_eq!(text.contains("[ 1 = 1 ] && return 0"), check_mode, "{text}");
        }
        let text = built(serde_json::json!({"name": "a", "config": "/p q.conf"}), false);
        assert!(text.contains("pacman --noconfirm --config '/p q.conf' \"$@\""), "{text}");
        assert!(text.contains("installed a || set -- \"$@\" a\n"), "{text}");
        assert!(text.contains("txn install -S --needed -- \"$@\""), "{text}");
    }
}
