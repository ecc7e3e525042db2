//! `dpkg_selections`: set a Debian package's selection state (`install`, `hold`, `deinstall`,
//! `purge`) with `dpkg --set-selections`, as `ansible.builtin.dpkg_selections` does; patch
//! playbooks use it to hold a package (a kernel, a database) across an upgrade.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// Arguments of `dpkg_selections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpkgSelectionsArgs {
    /// The package (Debian name syntax, optionally `:arch`).
    name: String,
    /// The selection to set.
    selection: Selection,
}

/// dpkg's selection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Selection {
    Install,
    Hold,
    Deinstall,
    Purge,
}

impl Selection {
    fn word(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Hold => "hold",
            Self::Deinstall => "deinstall",
            Self::Purge => "purge",
        }
    }
}

/// What the module registers: the selection before and after.
#[derive(Debug, Serialize)]
struct Outcome {
    before: String,
    after: String,
}

/// A Debian package name (`[a-z0-9][a-z0-9+.-]+`), optionally with `:arch`.
fn check_name(name: &str) -> Result<(), ArgError> {
    let (package, arch) = name.split_once(':').unwrap_or((name, "a"));
    let package_ok = package.len() >= 2
        && package.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && package
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
    let arch_ok = !arch.is_empty() && arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if package_ok && arch_ok {
        Ok(())
    } else {
        Err(ArgError::Invalid(format!(
            "`{name}` is not a Debian package name (lowercase letters, digits and `+.-`, \
             optionally `:arch`)"
        )))
    }
}

fn parse(args: &Value) -> Result<DpkgSelectionsArgs, ArgError> {
    let parsed: DpkgSelectionsArgs = args::parse(args)?;
    check_name(&parsed.name)?;
    Ok(parsed)
}

/// `dpkg_selections`: hold or release a package.
pub(crate) struct DpkgSelections;

#[async_trait]
impl Module for DpkgSelections {
    fn names(&self) -> &'static [&'static str] {
        &[
            "dpkg_selections",
            "ansible.builtin.dpkg_selections",
            "ansible.legacy.dpkg_selections",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<DpkgSelectionsArgs>(args, templated)?;
        if templated {
            return Ok(());
        }
        parse(args).map(|_| ())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    /// Reads the selection, and sets it when it differs (not in check mode).
    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args = parse(args)?;
        let name = quote(&args.name);
        let output = ctx
            .exec(format!(
                "LC_ALL=C dpkg --get-selections {name} 2>/dev/null | awk 'NR == 1 {{ print $2 }}'"
            ))
            .await?;
        if !output.status.success() {
            return Ok(ModuleResult::failed(format!(
                "dpkg --get-selections failed (rc {}): {}",
                output.status.rc(),
                output.stderr_text().trim()
            )));
        }
        let current = output.stdout_text().trim().to_string();
        let before = if current.is_empty() {
            "not present".to_string()
        } else {
            current
        };
        let wanted = args.selection.word();
        let outcome = Outcome {
            before: before.clone(),
            after: wanted.to_string(),
        };
        if before == wanted {
            return Ok(ModuleResult::ok().with_data(&outcome));
        }
        if !ctx.check_mode {
            let line = quote(&format!("{} {wanted}", args.name));
            let output = ctx
                .exec(format!("printf '%s\\n' {line} | dpkg --set-selections"))
                .await?;
            if !output.status.success() {
                return Ok(ModuleResult::failed(format!(
                    "dpkg --set-selections failed (rc {}): {}",
                    output.status.rc(),
                    output.stderr_text().trim()
                )));
            }
        }
        Ok(ModuleResult::changed().with_data(&outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_debian_package_names_and_selections_are_dpkgs() {
        let parse_json = |json: serde_json::Value| parse(&crate::vars::from_json(&json));
        assert!(parse_json(serde_json::json!({"name": "linux-image-amd64", "selection": "hold"})).is_ok());
        assert!(parse_json(serde_json::json!({"name": "libc6:amd64", "selection": "install"})).is_ok());
        assert!(parse_json(serde_json::json!({"name": "a; reboot", "selection": "hold"})).is_err());
        assert!(parse_json(serde_json::json!({"name": "vim", "selection": "held"})).is_err());
    }
}
