//! `group`: make a local group present (with a `gid`) or absent, with `groupadd`, `groupmod`
//! and `groupdel`; the current state comes from `getent group NAME`.
//!
//! Deviations from ansible.builtin.group: Linux shadow-utils only (no BSD `pw`, no macOS
//! `dseditgroup`); `local`, `non_unique`, `force` and `gid_min`/`gid_max` are not supported;
//! `system` only matters when the group is created, as in Ansible.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::host_failure;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// Arguments of `group`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupArgs {
    /// The group's name.
    name: String,
    /// `present` (default) or `absent`.
    #[serde(default)]
    state: State,
    /// The numeric id wanted.
    #[serde(default, deserialize_with = "opt_id")]
    gid: Option<u32>,
    /// Create a system group (`groupadd -r`).
    #[serde(default, deserialize_with = "lenient::bool")]
    system: bool,
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

/// `group`: a local group.
pub(crate) struct Group;

#[async_trait]
impl Module for Group {
    fn names(&self) -> &'static [&'static str] {
        &["group", "ansible.builtin.group", "ansible.legacy.group"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GroupArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: GroupArgs = args::parse(args)?;
        group(&args, ctx).await
    }
}

/// What `group` registers, as Ansible does.
#[derive(Debug, Serialize)]
struct GroupOutcome<'a> {
    name: &'a str,
    state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    system: bool,
}

/// The gid in a `getent group` line (`name:x:gid:members`) for `name`.
fn parse_getent(line: &str, name: &str) -> Option<u32> {
    let mut fields = line.trim_end().split(':');
    (fields.next()? == name).then_some(())?;
    fields.nth(1)?.parse().ok()
}

/// The command that brings the group to the wanted state (None: nothing to do).
fn command(args: &GroupArgs, current: Option<u32>) -> Option<String> {
    let name = quote(&args.name);
    match (args.state, current) {
        (State::Absent, None) => None,
        (State::Absent, Some(_)) => Some(format!("groupdel {name}")),
        (State::Present, None) => {
            let mut line = String::from("groupadd");
            if let Some(gid) = args.gid {
                line.push_str(&format!(" -g {gid}"));
            }
            if args.system {
                line.push_str(" -r");
            }
            Some(format!("{line} {name}"))
        }
        (State::Present, Some(have)) => match args.gid {
            Some(gid) if gid != have => Some(format!("groupmod -g {gid} {name}")),
            _ => None,
        },
    }
}

async fn lookup(ctx: &ModuleContext<'_>, name: &str) -> Result<Option<u32>, ModuleError> {
    let output = ctx.exec(format!("getent group {}", quote(name))).await?;
    match output.status.rc() {
        0 => parse_getent(&output.stdout_text(), name)
            .map(Some)
            .ok_or_else(|| {
                ModuleError::Failed(format!("unexpected getent answer for group {name}"))
            }),
        2 => Ok(None),
        _ => Err(host_failure("getent group failed", &output)),
    }
}

async fn group(args: &GroupArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let name = args.name.as_str();
    if name.is_empty() || name.starts_with('-') || name.contains([':', '\n', ' ']) {
        return Err(ArgError::Invalid(format!("invalid group name `{name}`")).into());
    }
    let current = lookup(ctx, name).await?;
    let Some(line) = command(args, current) else {
        return Ok(ModuleResult::ok().with_data(&GroupOutcome {
            name,
            state: args.state,
            gid: current,
            system: args.system,
        }));
    };
    let mut gid = args.gid.or(current);
    if !ctx.check_mode {
        let output = ctx.exec(line).await?;
        if !output.status.success() {
            return Err(host_failure(&format!("changing group {name} failed"), &output));
        }
        gid = lookup(ctx, name).await?;
    }
    Ok(ModuleResult::changed().with_data(&GroupOutcome {
        name,
        state: args.state,
        gid: if args.state == State::Absent { None } else { gid },
        system: args.system,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, run, CHECK, RUN,
    };
    use super::*;
    use serde_json::json;

    fn args(value: serde_json::Value) -> GroupArgs {
        serde_json::from_value(value).expect("args")
    }

    #[test]
    fn commands_follow_the_current_state() {
        let add = args(json!({"name": "rpt-a", "gid": "4242", "system": true}));
        assert_eq!(
            command(&add, None).as_deref(),
            Some("groupadd -g 4242 -r rpt-a")
        );
        assert_eq!(command(&add, Some(4242)), None);
        assert_eq!(
            command(&add, Some(1)).as_deref(),
            Some("groupmod -g 4242 rpt-a")
        );
        let gone = args(json!({"name": "rpt-a", "state": "absent"}));
        assert_eq!(command(&gone, Some(1)).as_deref(), Some("groupdel rpt-a"));
        assert_eq!(command(&gone, None), None);
        assert_eq!(parse_getent("rpt-a:x:4242:\n", "rpt-a"), Some(4242));
        assert_eq!(parse_getent("other:x:1:\n", "rpt-a"), None);
        assert_eq!(parse_getent("garbage", "garbage"), None);
    }

    /// Removes the test group even when an assertion fails.
    struct Cleanup(&'static str);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::process::Command::new("groupdel")
            .arg(self.0)
            .stderr(std::process::Stdio::null())
            .status();
        }
    }

    fn is_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|out| out.stdout == b"0\n")
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn a_group_is_created_once_and_removed() {
        if !is_root() {
            return; // groupadd needs root
        }
        let name = "rpt-unit-group";
        let _cleanup = Cleanup(name);
        let present = json!({"name": name, "system": true});
        assert_changed(&run(Group, present.clone(), CHECK).await);
        assert!(lookup_local(name).is_none(), "check mode created the group");
        let created = run(Group, present.clone(), RUN).await;
        assert_changed(&created);
        let gid = lookup_local(name).expect("created");
        assert_eq!(field(&created, "gid"), json!(gid));
        assert_ok(&run(Group, present, RUN).await);
        let absent = json!({"name": name, "state": "absent"});
        assert_changed(&run(Group, absent.clone(), CHECK).await);
        assert!(lookup_local(name).is_some(), "check mode removed the group");
        assert_changed(&run(Group, absent.clone(), RUN).await);
        assert!(lookup_local(name).is_none());
        assert_ok(&run(Group, absent, RUN).await);
    }

    fn lookup_local(name: &str) -> Option<u32> {
        let out = std::process::Command::new("getent")
            .args(["group", name])
            .output()
            .ok()?;
        parse_getent(&String::from_utf8_lossy(&out.stdout), name)
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        assert_failed(
            &run(Group, json!({"name": "-x"}), RUN).await,
            "invalid group name",
        );
        assert_failed(
            &run(Group, json!({"name": "rpt-x", "gid": "abc"}), RUN).await,
            "not a numeric id",
        );
    }
}
