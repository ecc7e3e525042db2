//! The rolling play `rpatch patch` builds: the flow of `roles/linux_patching` (patch facts →
//! apt or dnf upgrade → needrestart, or a reboot when the updates require one → patch facts
//! again) on hosts taken in batches of 1, then 10%, then 25% (`--serial` overrides), in
//! topology order, stopping when more than `--max-fail-percentage` of a batch fails.
//!
//! Variables the play reads, as the role does (give them with `-e`): `patch_environment` (a
//! mapping of environment variables for every task, e.g. `http_proxy` for the mirrors),
//! `restart_exclude` (services needrestart must not restart), `patch_reboot_command` and
//! `patch_boot_time_command` (how to reboot and read the boot id).

use serde_yaml::{Mapping, Value};

use super::adhoc::{play, to_yaml};
use super::args::PatchArgs;

/// The default batch ramp.
const SERIAL: [&str; 3] = ["1", "10%", "25%"];

/// The playbook of `rpatch patch`.
pub fn patch_playbook(args: &PatchArgs) -> String {
    let mut tasks = vec![
        task(
            "Gather patch facts",
            "patch_facts",
            yaml("{}"),
            &[("become", yaml("true"))],
        ),
        task(
            "Install updates (apt)",
            "apt",
            apt_args(args),
            &[
                ("become", yaml("true")),
                ("register", yaml("apt_upgrade")),
                (
                    "when",
                    yaml("\"ansible_facts.patch.pkg_mgr == 'apt' and ansible_facts.patch.pending.count | int > 0\""),
                ),
            ],
        ),
        task(
            "Install updates (dnf/yum)",
            "dnf",
            dnf_args(args),
            &[
                ("become", yaml("true")),
                ("register", yaml("dnf_upgrade")),
                (
                    "when",
                    yaml("\"ansible_facts.patch.pkg_mgr in ['dnf', 'yum'] and ansible_facts.patch.pending.count | int > 0\""),
                ),
            ],
        ),
        task(
            "Decide whether the updates need a reboot",
            "set_fact",
            yaml("{reboot_required: \"{{ ansible_facts.patch.reboot_required | bool or apt_upgrade.reboot_required | default(false) or dnf_upgrade.reboot_required | default(false) }}\"}"),
            &[],
        ),
        task(
            "Restart services still running replaced libraries",
            "needrestart",
            yaml("{exclude: \"{{ restart_exclude | default(['libvirtd*', 'virtqemud*', 'qemu*', 'openvswitch*', 'ovs-*']) }}\"}"),
            &[
                ("become", yaml("true")),
                (
                    "when",
                    yaml("\"not reboot_required | bool and ansible_facts.patch.needrestart.checked\""),
                ),
            ],
        ),
    ];
    if args.reboot == "auto" {
        let mut reboot = Mapping::new();
        reboot.insert("reboot_timeout".into(), Value::from(args.reboot_timeout));
        reboot.insert("msg".into(), Value::from("rpatch patch"));
        reboot.insert(
            "reboot_command".into(),
            Value::from("{{ patch_reboot_command | default(omit) }}"),
        );
        reboot.insert(
            "boot_time_command".into(),
            Value::from("{{ patch_boot_time_command | default(omit) }}"),
        );
        tasks.push(task(
            "Reboot into the updated kernel and libraries",
            "reboot",
            Value::Mapping(reboot),
            &[
                ("become", yaml("true")),
                ("when", yaml("reboot_required | bool")),
            ],
        ));
    }
    tasks.push(task(
        "Gather patch facts after patching",
        "patch_facts",
        yaml("{pending: false}"),
        &[("become", yaml("true"))],
    ));
    let mut play = play(
        format!("rpatch patch: {}", args.pattern),
        &args.pattern,
        &args.rollout,
        tasks,
    );
    play.insert(
        "serial".into(),
        Value::Sequence(SERIAL.iter().map(|s| serial_value(s)).collect()),
    );
    play.insert(
        "max_fail_percentage".into(),
        Value::from(args.max_fail_percentage),
    );
    play.insert("order".into(), Value::from("topology"));
    play.insert(
        "environment".into(),
        Value::from("{{ patch_environment | default({}) }}"),
    );
    to_yaml(play)
}

fn serial_value(text: &str) -> Value {
    text.parse::<u64>()
        .map_or_else(|_| Value::from(text), Value::from)
}

fn apt_args(args: &PatchArgs) -> Value {
    if args.packages.is_empty() {
        let mut apt = Mapping::new();
        apt.insert("upgrade".into(), Value::from("dist"));
        if args.security_only {
            apt.insert("security_only".into(), Value::from(true));
        }
        return Value::Mapping(apt);
    }
    let mut apt = Mapping::new();
    apt.insert("name".into(), names(args));
    apt.insert("state".into(), Value::from("latest"));
    apt.insert("only_upgrade".into(), Value::from(true));
    Value::Mapping(apt)
}

fn dnf_args(args: &PatchArgs) -> Value {
    let mut dnf = Mapping::new();
    if args.packages.is_empty() {
        dnf.insert("name".into(), Value::from("*"));
    } else {
        dnf.insert("name".into(), names(args));
        dnf.insert("update_only".into(), Value::from(true));
    }
    dnf.insert("state".into(), Value::from("latest"));
    if args.security_only {
        dnf.insert("security".into(), Value::from(true));
    }
    Value::Mapping(dnf)
}

fn names(args: &PatchArgs) -> Value {
    Value::Sequence(
        args.packages
            .iter()
            .map(|name| Value::from(name.trim()))
            .collect(),
    )
}

/// A task: name, module with arguments, then keywords.
fn task(name: &str, module: &str, module_args: Value, keywords: &[(&str, Value)]) -> Value {
    let mut task = Mapping::new();
    task.insert("name".into(), Value::from(name));
    task.insert(module.into(), module_args);
    for (key, value) in keywords {
        task.insert((*key).into(), value.clone());
    }
    Value::Mapping(task)
}

/// A YAML literal written in this file (always valid).
fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn patch_args(words: &[&str]) -> PatchArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: PatchArgs,
        }
        let mut all = vec!["rpatch"];
        all.extend_from_slice(words);
        Wrapper::parse_from(all).args
    }

    #[test]
    fn the_patch_play_loads_as_a_rolling_play_in_topology_order() {
        let args = patch_args(&["kvm*", "--packages", "openssl,libssl3", "--reboot", "never"]);
        let text = patch_playbook(&args);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("patch.yml");
        std::fs::write(&path, &text).expect("write");
        let playbook = crate::playbook::load(
            &path,
            &crate::template::Templar::new(),
            &crate::playbook::LoadOptions::default(),
        )
        .expect("the built play loads");
        let play = &playbook.plays[0];
        assert_eq!(play.hosts, "kvm*");
        assert_eq!(play.rollout.order, crate::rolling::order::Order::Topology);
        assert!(play.rollout.serial.is_some());
        assert!(!text.contains("reboot:"), "{text}");
        assert!(text.contains("only_upgrade: true"), "{text}");
        assert!(text.contains("- openssl\n"), "{text}");
    }
}
