//! `package_facts`: the host's installed packages as `ansible_facts.packages`, from dpkg
//! and/or rpm in one round trip, in Ansible's shape: each package name maps to a list of
//! installed versions (`name`, `version`, `arch`, `source`; rpm adds `release` and `epoch`).
//!
//! Deviation from Ansible: dpkg is read with `dpkg-query` (Ansible's `apt` manager uses
//! python-apt), so apt entries carry no `category`/`origin`; other managers (`pacman`,
//! `apk`, `portage`, `pkg`) fail clearly.

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::remote_file;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value, Vars};

/// Arguments of `package_facts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageFactsArgs {
    /// `auto` (default), `apt`, `rpm`, or a list of them.
    #[serde(default = "auto")]
    manager: Managers,
    /// `first` (default): the first manager found; `all`: every one found.
    #[serde(default)]
    strategy: Strategy,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Managers {
    One(String),
    Many(Vec<String>),
}

fn auto() -> Managers {
    Managers::One("auto".into())
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Strategy {
    #[default]
    First,
    All,
}

/// One installed package version, as Ansible lists it.
#[derive(Debug, Serialize, PartialEq)]
struct Package {
    name: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<Option<u64>>,
    arch: String,
    source: &'static str,
}

/// `package_facts`: list installed packages.
pub(crate) struct PackageFacts;

#[async_trait]
impl Module for PackageFacts {
    fn names(&self) -> &'static [&'static str] {
        &[
            "package_facts",
            "ansible.builtin.package_facts",
            "ansible.legacy.package_facts",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<PackageFactsArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: PackageFactsArgs = args::parse(args)?;
        package_facts(&args, ctx).await
    }
}

/// Which managers to read: `apt` (dpkg) and/or `rpm`, in this order.
fn managers(args: &PackageFactsArgs) -> Result<Vec<&'static str>, ArgError> {
    let names: Vec<&str> = match &args.manager {
        Managers::One(name) => vec![name.as_str()],
        Managers::Many(names) => names.iter().map(String::as_str).collect(),
    };
    let mut wanted = Vec::new();
    for name in names {
        match name {
            "auto" => wanted.extend(["apt", "rpm"]),
            "apt" | "dpkg" => wanted.push("apt"),
            "rpm" => wanted.push("rpm"),
            other => {
                return Err(ArgError::Invalid(format!(
                    "package manager `{other}` is not supported; use auto, apt or rpm"
                )))
            }
        }
    }
    wanted.dedup();
    Ok(wanted)
}

/// The host side: one section per manager present, `@apt`/`@rpm` then tab-separated lines.
fn script(managers: &[&str], strategy: Strategy) -> String {
    let stop = if strategy == Strategy::First {
        "exit 0"
    } else {
        ":"
    };
    let mut script = String::new();
    for manager in managers {
        match *manager {
            "apt" => script.push_str(&format!(
                "if command -v dpkg-query >/dev/null 2>&1; then echo @apt; \
                 dpkg-query -W -f='${{db:Status-Abbrev}}\\t${{Package}}\\t${{Version}}\\t${{Architecture}}\\n' \
                 || exit 1; {stop}; fi\n"
            )),
            _ => script.push_str(&format!(
                "if command -v rpm >/dev/null 2>&1; then echo @rpm; \
                 rpm -qa --qf '%{{NAME}}\\t%{{VERSION}}\\t%{{RELEASE}}\\t%{{EPOCHNUM}}\\t%{{ARCH}}\\n' \
                 || exit 1; {stop}; fi\n"
            )),
        }
    }
    script
}

/// Reads the script's output into packages by name.
fn parse(text: &str) -> (IndexMap<String, Vec<Package>>, Vec<&'static str>) {
    let mut packages: IndexMap<String, Vec<Package>> = IndexMap::new();
    let mut found = Vec::new();
    let mut source = "";
    for line in text.lines() {
        match line {
            "@apt" => {
                source = "apt";
                found.push("apt");
                continue;
            }
            "@rpm" => {
                source = "rpm";
                found.push("rpm");
                continue;
            }
            _ => {}
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let package = match (source, fields.as_slice()) {
            // Only installed packages (`ii`, or `hi` when held), as Ansible lists them.
            ("apt", [status, name, version, arch]) if status.get(1..2) == Some("i") => Package {
                name: name.to_string(),
                version: version.to_string(),
                release: None,
                epoch: None,
                arch: arch.to_string(),
                source: "apt",
            },
            ("rpm", [name, version, release, epoch, arch]) => Package {
                name: name.to_string(),
                version: version.to_string(),
                release: Some(release.to_string()),
                epoch: Some(epoch.parse().ok().filter(|e| *e != 0)),
                arch: arch.to_string(),
                source: "rpm",
            },
            _ => continue,
        };
        packages
            .entry(package.name.clone())
            .or_default()
            .push(package);
    }
    (packages, found)
}

async fn package_facts(
    args: &PackageFactsArgs,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, ModuleError> {
    let managers = managers(args)?;
    let output = ctx.exec(script(&managers, args.strategy)).await?;
    if !output.status.success() {
        return Err(remote_file::host_failure("cannot list packages", &output));
    }
    let (packages, found) = parse(&output.stdout_text());
    if found.is_empty() {
        return Ok(ModuleResult::failed(format!(
            "Could not detect a supported package manager from the following list: {managers:?}, \
             or the required Python library is not installed. Check warnings for details."
        )));
    }
    let json = serde_json::to_value(&packages).unwrap_or(serde_json::Value::Null);
    let mut facts = Vars::new();
    facts.insert("packages".into(), vars::from_json(&json));
    let mut result = ModuleResult::ok();
    result.facts = Some(facts);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_and_rpm_lines_become_lists_of_versions_by_name() {
        let text = "@apt\nii \tbash\t5.2.15-2+b7\tamd64\nrc \told\t1.0\tamd64\n\
                    ii \tlinux-image\t6.1\tamd64\nii \tlinux-image\t6.2\tamd64\n\
                    @rpm\nkernel\t5.14.0\t427.el9\t0\tx86_64\nshim\t15\t8\t1\tx86_64\n";
        let (packages, found) = parse(text);
        assert_eq!(found, ["apt", "rpm"]);
        assert_eq!(packages["bash"][0].version, "5.2.15-2+b7");
        assert!(!packages.contains_key("old"), "removed packages are not installed");
        assert_eq!(packages["linux-image"].len(), 2);
        let json = serde_json::to_value(&packages).expect("json");
        assert_eq!(
            json["kernel"][0],
            serde_json::json!({"name": "kernel", "version": "5.14.0", "release": "427.el9",
                               "epoch": null, "arch": "x86_64", "source": "rpm"})
        );
        assert_eq!(json["shim"][0]["epoch"], 1);
        assert_eq!(
            json["bash"][0],
            serde_json::json!({"name": "bash", "version": "5.2.15-2+b7", "arch": "amd64", "source": "apt"})
        );
    }

    #[test]
    fn only_apt_and_rpm_managers_are_accepted() {
        let args: PackageFactsArgs =
            serde_json::from_value(serde_json::json!({"manager": ["rpm", "apt"]})).expect("args");
        assert_eq!(managers(&args).expect("known"), ["rpm", "apt"]);
        let args: PackageFactsArgs =
            serde_json::from_value(serde_json::json!({"manager": "pacman"})).expect("args");
        assert!(managers(&args).is_err());
    }
}
