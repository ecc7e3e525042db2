//! `user`: make a local account present or absent with `useradd`, `usermod` and `userdel`;
//! the current state comes from `getent passwd`, `id -Gn` and `passwd -S`.
//!
//! Deviations from ansible.builtin.user: Linux shadow-utils only; no `password` (a hash never
//! comes from a playbook source here), `comment`, `group`, `move_home`, `ssh_key` or expiry
//! options; `groups` are compared as supplementary groups (the primary group is not counted),
//! as Ansible does; `home` changes with `usermod -d` without moving files.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::host_failure;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// Arguments of `user`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserArgs {
    /// The account's name.
    name: String,
    /// `present` (default) or `absent`.
    #[serde(default)]
    state: State,
    /// The numeric id wanted.
    #[serde(default, deserialize_with = "opt_id")]
    uid: Option<u32>,
    /// Create a system account (`useradd -r`).
    #[serde(default, deserialize_with = "lenient::bool")]
    system: bool,
    /// Supplementary groups (a list or comma-separated text).
    #[serde(default, deserialize_with = "lenient::word_list")]
    groups: Vec<String>,
    /// Add `groups` to the current ones instead of replacing them.
    #[serde(default, deserialize_with = "lenient::bool")]
    append: bool,
    /// The login shell.
    shell: Option<String>,
    /// The home directory.
    home: Option<String>,
    /// Create the home directory with a new account (default true).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    create_home: bool,
    /// Lock (true) or unlock (false) the password.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    password_lock: Option<bool>,
    /// With `state: absent`, remove the home directory too (`userdel -r`).
    #[serde(default, deserialize_with = "lenient::bool")]
    remove: bool,
}

fn yes() -> bool {
    true
}

/// A numeric id written as a number or as text.
fn opt_id<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u32),
        Text(String),
    }
    match Option::<Id>::deserialize(de)? {
        None => Ok(None),
        Some(Id::Number(id)) => Ok(Some(id)),
        Some(Id::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a numeric id"))),
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum State {
    #[default]
    Present,
    Absent,
}

/// `user`: a local account.
pub(crate) struct User;

#[async_trait]
impl Module for User {
    fn names(&self) -> &'static [&'static str] {
        &["user", "ansible.builtin.user", "ansible.legacy.user"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<UserArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: UserArgs = args::parse(args)?;
        user(&args, ctx).await
    }
}

/// An existing account.
#[derive(Debug, Default, PartialEq)]
struct Account {
    uid: u32,
    home: String,
    shell: String,
    /// Supplementary groups (the primary one left out).
    groups: Vec<String>,
    locked: bool,
}

/// The probe: `getent passwd` line, then `G:` supplementary groups, then `S:` passwd status.
fn probe_script(name: &str) -> String {
    let name = quote(name);
    format!(
        "getent passwd {name} || exit 2\n\
         primary=$(id -gn {name}) && printf 'G:' && for g in $(id -Gn {name}); do \
         [ \"$g\" = \"$primary\" ] || printf '%s ' \"$g\"; done && echo\n\
         printf 'S:' && (passwd -S {name} 2>/dev/null || echo '- -')\n"
    )
}

fn parse_probe(text: &str, name: &str) -> Option<Account> {
    let mut lines = text.lines();
    let fields: Vec<&str> = lines.next()?.split(':').collect();
    if fields.len() < 7 || fields[0] != name {
        return None;
    }
    let mut account = Account {
        uid: fields[2].parse().ok()?,
        home: fields[5].to_string(),
        shell: fields[6].to_string(),
        ..Account::default()
    };
    for line in lines {
        if let Some(groups) = line.strip_prefix("G:") {
            account.groups = groups.split_whitespace().map(String::from).collect();
        } else if let Some(status) = line.strip_prefix("S:") {
            account.locked = status.split_whitespace().nth(1) == Some("L");
        }
    }
    Some(account)
}

/// The commands that bring the account to the wanted state (empty: nothing to do).
fn commands(args: &UserArgs, current: Option<&Account>) -> Vec<String> {
    let name = quote(&args.name);
    let groups = args
        .groups
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .collect::<Vec<_>>();
    let mut out = Vec::new();
    match (args.state, current) {
        (State::Absent, None) => {}
        (State::Absent, Some(_)) => {
            let remove = if args.remove { " -r" } else { "" };
            out.push(format!("userdel{remove} {name}"));
        }
        (State::Present, None) => {
            let mut line = String::from("useradd");
            if let Some(uid) = args.uid {
                line.push_str(&format!(" -u {uid}"));
            }
            if args.system {
                line.push_str(" -r");
            }
            if let Some(shell) = &args.shell {
                line.push_str(&format!(" -s {}", quote(shell)));
            }
            if let Some(home) = &args.home {
                line.push_str(&format!(" -d {}", quote(home)));
            }
            line.push_str(if args.create_home { " -m" } else { " -M" });
            if !groups.is_empty() {
                line.push_str(&format!(" -G {}", quote(&groups.join(","))));
            }
            out.push(format!("{line} {name}"));
            if args.password_lock == Some(true) {
                out.push(format!("usermod -L {name}"));
            }
        }
        (State::Present, Some(have)) => {
            let mut line = String::new();
            if let Some(uid) = args.uid.filter(|uid| *uid != have.uid) {
                line.push_str(&format!(" -u {uid}"));
            }
            if let Some(shell) = args.shell.as_ref().filter(|s| **s != have.shell) {
                line.push_str(&format!(" -s {}", quote(shell)));
            }
            if let Some(home) = args.home.as_ref().filter(|h| **h != have.home) {
                line.push_str(&format!(" -d {}", quote(home)));
            }
            let missing: Vec<&str> = groups
                .iter()
                .copied()
                .filter(|g| !have.groups.iter().any(|h| h == g))
                .collect();
            if args.append {
                if !missing.is_empty() {
                    line.push_str(&format!(" -a -G {}", quote(&missing.join(","))));
                }
            } else if !args.groups.is_empty() {
                let extra = have.groups.iter().any(|h| !groups.contains(&h.as_str()));
                if !missing.is_empty() || extra {
                    line.push_str(&format!(" -G {}", quote(&groups.join(","))));
                }
            }
            match args.password_lock {
                Some(true) if !have.locked => line.push_str(" -L"),
                Some(false) if have.locked => line.push_str(" -U"),
                _ => {}
            }
            if !line.is_empty() {
                out.push(format!("usermod{line} {name}"));
            }
        }
    }
    out
}

/// What `user` registers.
#[derive(Debug, Serialize)]
struct UserOutcome<'a> {
    name: &'a str,
    state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
}

async fn lookup(ctx: &ModuleContext<'_>, name: &str) -> Result<Option<Account>, ModuleError> {
    let output = ctx.exec(probe_script(name)).await?;
    match output.status.rc() {
        0 => parse_probe(&output.stdout_text(), name)
            .map(Some)
            .ok_or_else(|| ModuleError::Failed(format!("unexpected answer for user {name}"))),
        2 => Ok(None),
        _ => Err(host_failure("looking up the user failed", &output)),
    }
}

async fn user(args: &UserArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let name = args.name.as_str();
    if name.is_empty() || name.starts_with('-') || name.contains([':', '\n', ' ']) {
        return Err(ArgError::Invalid(format!("invalid user name `{name}`")).into());
    }
    let current = lookup(ctx, name).await?;
    let lines = commands(args, current.as_ref());
    let mut uid = current.as_ref().map(|account| account.uid);
    if lines.is_empty() {
        return Ok(ModuleResult::ok().with_data(&UserOutcome {
            name,
            state: args.state,
            uid,
        }));
    }
    if !ctx.check_mode {
        for line in lines {
            let output = ctx.exec(line).await?;
            if !output.status.success() {
                return Err(host_failure(&format!("changing user {name} failed"), &output));
            }
        }
        uid = lookup(ctx, name).await?.map(|account| account.uid);
    }
    Ok(ModuleResult::changed().with_data(&UserOutcome {
        name,
        state: args.state,
        uid: if args.state == State::Absent { None } else { uid },
    }))
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{assert_changed, assert_failed, assert_ok, run, CHECK, RUN};
    use super::*;
    use serde_json::json;

    fn args(value: serde_json::Value) -> UserArgs {
        serde_json::from_value(value).expect("args")
    }

    #[test]
    fn commands_follow_the_current_state() {
        let add = args(json!({"name": "rpt-u", "uid": 4343, "shell": "/bin/sh",
            "groups": "adm,audio", "create_home": false, "password_lock": true}));
        assert_eq!(
            commands(&add, None),
            [
                "useradd -u 4343 -s /bin/sh -M -G adm,audio rpt-u",
                "usermod -L rpt-u"
            ]
        );
        let have = Account {
            uid: 4343,
            home: "/home/rpt-u".into(),
            shell: "/bin/sh".into(),
            groups: vec!["adm".into(), "audio".into()],
            locked: true,
        };
        assert!(commands(&add, Some(&have)).is_empty());
        let change = args(json!({"name": "rpt-u", "groups": ["video"], "append": true,
            "password_lock": false, "shell": "/bin/bash"}));
        assert_eq!(
            commands(&change, Some(&have)),
            ["usermod -s /bin/bash -a -G video -U rpt-u"]
        );
        let replace = args(json!({"name": "rpt-u", "groups": ["adm"]}));
        assert_eq!(commands(&replace, Some(&have)), ["usermod -G adm rpt-u"]);
        let gone = args(json!({"name": "rpt-u", "state": "absent", "remove": true}));
        assert_eq!(commands(&gone, Some(&have)), ["userdel -r rpt-u"]);
        assert!(commands(&gone, None).is_empty());
    }

    #[test]
    fn the_probe_answer_is_parsed_without_panicking() {
        let text = "rpt-u:x:4343:4343::/home/rpt-u:/bin/sh\nG:adm audio \nS:rpt-u L 01/01/2026\n";
        let account = parse_probe(text, "rpt-u").expect("account");
        assert_eq!(account.uid, 4343);
        assert_eq!(account.groups, ["adm", "audio"]);
        assert!(account.locked);
        assert!(parse_probe("garbage", "rpt-u").is_none());
        assert!(parse_probe("", "rpt-u").is_none());
    }

    /// Removes the test account even when an assertion fails.
    struct Cleanup(&'static str);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::process::Command::new("userdel")
                .args(["-r", self.0])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }

    fn exists(name: &str) -> bool {
        std::process::Command::new("getent")
            .args(["passwd", name])
            .output()
            .map(|out| out.status.success())
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn an_account_is_created_once_locked_and_removed() {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|out| out.stdout == b"0\n")
            .unwrap_or(false);
        if !root {
            return; // useradd needs root
        }
        let name = "rpt-unit-user";
        let _cleanup = Cleanup(name);
        let present = json!({"name": name, "shell": "/bin/sh", "create_home": false,
            "password_lock": true, "system": true});
        assert_changed(&run(User, present.clone(), CHECK).await);
        assert!(!exists(name), "check mode created the account");
        assert_changed(&run(User, present.clone(), RUN).await);
        assert!(exists(name));
        assert_ok(&run(User, present, RUN).await);
        let absent = json!({"name": name, "state": "absent"});
        assert_changed(&run(User, absent.clone(), RUN).await);
        assert!(!exists(name));
        assert_ok(&run(User, absent, RUN).await);
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        assert_failed(
            &run(User, json!({"name": "rpt-x", "password": "x"}), RUN).await,
            "unsupported argument `password`",
        );
    }
}
