//! The persistent remote shell (one `/bin/sh` per host, commands framed into it) against real
//! sshd: each behaviour is checked with the shell on and off (`RPATCH_PERSISTENT_SHELL`), and
//! must come out the same, except where the test says so.

use std::time::{Duration, Instant};

use crate::support::fleet::Fleet;
use crate::support::Output;

/// Both ways: `("on", "1")` uses the persistent shell, `("off", "0")` a channel per command.
const MODES: [(&str, &str); 2] = [("on", "1"), ("off", "0")];

fn run(fleet: &Fleet, mode: &str, playbook: &str, args: &[&str]) -> Output {
    fleet
        .project()
        .env("RPATCH_PERSISTENT_SHELL", mode)
        .playbook(playbook)
        .run(args)
}

/// The value printed by `debug: msg="NAME=<value>|"` (the `|` ends it).
fn shown(out: &Output, name: &str) -> String {
    let key = format!("{name}=");
    let at = out
        .stdout
        .find(&key)
        .unwrap_or_else(|| panic!("no {key} in output:\n{}\n{}", out.stdout, out.stderr));
    let rest = &out.stdout[at + key.len()..];
    rest[..rest.find('|').expect("end of value")].to_string()
}

#[test]
fn persistent_shell_runs_tasks_in_one_shell_without_leaking_state_between_them() {
    let fleet = Fleet::new().start();
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n\
        \x20   - shell: echo $$\n      register: first\n\
        \x20   - shell: cd /; umask 077; X=leaked; export Y=leaked; alias ll=ls\n\
        \x20   - shell: echo \"$(pwd) $(umask) x=$X y=$Y\"\n      register: after\n\
        \x20   - shell: echo $$\n      register: last\n\
        \x20   - debug:\n        msg: \"SAME={{ first.stdout == last.stdout }}| AFTER={{ after.stdout }}|\"\n";
    let mut seen = Vec::new();
    for (name, mode) in MODES {
        let out = run(&fleet, mode, play, &[]);
        out.expect_code(0);
        seen.push((name, shown(&out, "SAME"), shown(&out, "AFTER")));
    }
    // One shell: `$$` (the shell's PID, also in a subshell) is the same in both tasks; a
    // channel per command starts a new shell each time.
    assert_eq!(seen[0].1, "True", "{seen:?}");
    assert_eq!(seen[1].1, "False", "{seen:?}");
    // Nothing of the second task reached the third, either way.
    assert_eq!(seen[0].2, seen[1].2, "{seen:?}");
    assert!(seen[0].2.ends_with("x= y="), "{seen:?}");
    assert!(!seen[0].2.starts_with("/ "), "{seen:?}");
    assert!(!seen[0].2.contains(" 0077 "), "{seen:?}");
}

#[test]
fn persistent_shell_keeps_stdout_stderr_and_exit_status_apart() {
    let fleet = Fleet::new().start();
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n\
        \x20   - shell: for i in 1 2 3; do echo o$i; echo e$i >&2; done; printf tail; exit 3\n\
        \x20     register: mixed\n      ignore_errors: true\n\
        \x20   - shell: exec >&-; echo closed-early >&2; sleep 1; exit 4\n\
        \x20     register: closed\n      ignore_errors: true\n\
        \x20   - command: cat\n      args:\n        stdin: \"line one\\n\\tline 'two' $HOME \\\\\"\n\
        \x20     register: fed\n\
        \x20   - command: cat\n      register: nothing\n\
        \x20   - debug:\n        msg: \"OUT={{ mixed.stdout_lines | join(',') }}| ERR={{ mixed.stderr_lines | join(',') }}| \
        RC={{ mixed.rc }}| CLOSED={{ closed.rc }} [{{ closed.stdout }}] [{{ closed.stderr }}]| \
        FED={{ fed.stdout | b64encode }}| NOTHING=[{{ nothing.stdout }}]|\"\n";
    for (name, mode) in MODES {
        let out = run(&fleet, mode, play, &[]);
        out.expect_code(0);
        assert_eq!(shown(&out, "OUT"), "o1,o2,o3,tail", "{name}");
        assert_eq!(shown(&out, "ERR"), "e1,e2,e3", "{name}");
        assert_eq!(shown(&out, "RC"), "3", "{name}");
        assert_eq!(shown(&out, "CLOSED"), "4 [] [closed-early]", "{name}");
        // Base64 of `line one\n\tline 'two' $HOME \`: the bytes arrived as written.
        assert_eq!(
            shown(&out, "FED"),
            "bGluZSBvbmUKCWxpbmUgJ3R3bycgJEhPTUUgXA==",
            "{name}"
        );
        assert_eq!(shown(&out, "NOTHING"), "[]", "{name}");
    }
}

#[test]
fn persistent_shell_copies_binary_content_intact() {
    let fleet = Fleet::new().start();
    let dest = tempfile::tempdir().expect("dest dir");
    std::process::Command::new("chmod")
        .args(["777", &dest.path().display().to_string()])
        .status()
        .expect("chmod");
    // Every byte value, NULs and newlines included, with no trailing newline.
    let data: Vec<u8> = (0..=255u8).cycle().take(300_000).chain([0u8, 0]).collect();
    for (name, mode) in MODES {
        let target = dest.path().join(format!("copied-{name}"));
        let project = fleet.project().env("RPATCH_PERSISTENT_SHELL", mode);
        std::fs::write(project.path().join("blob.bin"), &data).expect("blob");
        let play = format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n        src: blob.bin\n        dest: {}\n",
            target.display()
        );
        let out = project.playbook(&play).run(&[]);
        out.expect_code(0);
        assert_eq!(std::fs::read(&target).expect("copied file"), data, "{name}");
    }
}

#[test]
fn persistent_shell_survives_fifty_megabytes_of_output() {
    let fleet = Fleet::new().start();
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n\
        \x20   - shell: head -c 52428800 /dev/zero | tr '\\0' a; echo; echo done >&2\n      register: big\n\
        \x20   - shell: echo next\n      register: next\n\
        \x20   - debug:\n        msg: \"LEN={{ big.stdout | length }}| ERR={{ big.stderr }}| NEXT={{ next.stdout }}|\"\n";
    for (name, mode) in MODES {
        let out = run(&fleet, mode, play, &[]);
        out.expect_code(0);
        // Output is kept up to 4 MiB per stream either way; what matters is that the next
        // command's output is its own.
        assert_eq!(shown(&out, "LEN"), (4 * 1024 * 1024).to_string(), "{name}");
        assert_eq!(shown(&out, "ERR"), "done", "{name}");
        assert_eq!(shown(&out, "NEXT"), "next", "{name}");
    }
}

/// True while a process whose command line contains `needle` runs.
fn running(needle: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", needle])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false)
}

#[test]
fn persistent_shell_timeout_kills_only_that_command_and_the_next_task_runs() {
    let fleet = Fleet::new().start();
    for (name, mode) in MODES {
        // A unique sleep length names this run's process.
        let needle = if mode == "1" {
            "sleep 7771"
        } else {
            "sleep 7772"
        };
        let play = format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n\
            \x20   - shell: echo $PPID\n      register: first\n\
            \x20   - shell: ( {needle} ) & {needle}\n      ignore_errors: true\n      register: slow\n\
            \x20   - shell: echo $PPID\n      register: last\n\
            \x20   - debug:\n        msg: \"RC={{{{ slow.rc }}}}| SAME={{{{ first.stdout == last.stdout }}}}|\"\n"
        );
        let started = Instant::now();
        let out = run(&fleet, mode, &play, &["--task-timeout", "3"]);
        out.expect_code(0);
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{name}: took too long"
        );
        assert_eq!(shown(&out, "RC"), "-1", "{name}");
        assert!(out.stdout.contains("timed out"), "{name}: {}", out.stdout);
        // The killed command's whole process group is gone, its background child too.
        let deadline = Instant::now() + Duration::from_secs(30);
        while running(needle) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        if mode == "1" {
            assert!(!running(needle), "{name}: {needle} survived its timeout");
            // The shell itself lived on.
            assert_eq!(shown(&out, "SAME"), "True", "{name}");
        }
    }
    // The channel-per-command path kills only the command's shell (sshd's signal request):
    // clean up its orphans.
    let _ = std::process::Command::new("pkill")
        .args(["-f", "sleep 7772"])
        .status();
}

#[test]
fn persistent_shell_killed_mid_task_fails_that_task_and_the_next_one_runs() {
    let fleet = Fleet::new().start();
    // The command kills the shell it runs in ($$ is the persistent shell in a subshell, and
    // `sh -c`'s own PID on a channel of its own) while it is still running.
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n\
        \x20   - shell: echo $$\n      register: first\n\
        \x20   - shell: (sleep 1; kill -9 $$) >/dev/null 2>&1 & sleep 5 >/dev/null 2>&1\n\
        \x20     register: killed\n      ignore_errors: true\n\
        \x20   - shell: echo $$\n      register: last\n\
        \x20   - debug:\n        msg: \"RC={{ killed.rc }}| SAME={{ first.stdout == last.stdout }}|\"\n";
    for (name, mode) in MODES {
        let started = Instant::now();
        let out = run(&fleet, mode, play, &[]);
        out.expect_code(0);
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{name}: took too long"
        );
        assert_eq!(out.recap_of("node01").ignored, 1, "{name}: {}", out.stdout);
        assert_eq!(shown(&out, "RC"), "137", "{name}");
        assert_eq!(shown(&out, "SAME"), "False", "{name}");
    }
}

#[test]
fn persistent_shell_opens_one_session_for_twenty_tasks_and_ends_it() {
    let fleet = Fleet::new().debug_log().start();
    let mut play = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for n in 1..=20 {
        play.push_str(&format!("    - command: echo task{n}\n"));
    }
    let out = run(&fleet, "1", &play, &[]);
    out.expect_code(0);
    assert_eq!(out.recap_of("node01").ok, 20);
    let log = fleet.wait_for_log("node01", "Disconnected from user", 1);
    assert_eq!(log.matches("Accepted publickey").count(), 1, "{log}");
    assert_eq!(log.matches("ctype session").count(), 1, "{log}");
    // The shell got the end of its input and exited before the client left.
    let exited = log.find("session_exit_message").expect("the shell's exit");
    assert!(
        exited < log.find("Received disconnect").unwrap_or(usize::MAX),
        "{log}"
    );
}
