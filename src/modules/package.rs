//! `package`: Ansible's generic package module. It does no work of its own: it picks the
//! host's package manager module (`apt`, `dnf` or `yum`) and hands it the arguments, so one
//! task patches a mixed fleet.
//!
//! The backend is, in order: `use:` when it names one; the host's gathered
//! `ansible_pkg_mgr` fact; otherwise one probe on the host (`apt-get` on the Debian family,
//! else the first of `dnf`, `yum` and `apt-get`), as Ansible gathers the fact when missing.

use async_trait::async_trait;

use super::args::ArgError;
use super::{lookup, CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value};

/// `package`: install, upgrade or remove packages with whichever manager the host has.
pub(crate) struct Package;

/// The package managers `package` can hand a task to, by the module that does the work.
const BACKENDS: &[&str] = &["apt", "dnf", "yum"];

/// The argument that picks the backend; every other argument is the backend's.
const USE: &str = "use";

/// A shell probe printing the host's package manager, or nothing: apt-get on the Debian
/// family even where dnf is installed too (as setup's `ansible_pkg_mgr` decides), else the
/// first of dnf, yum and apt-get on the `PATH`.
const PROBE: &str = "if [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; \
    then echo apt-get; else for m in dnf yum apt-get; do \
    if command -v \"$m\" >/dev/null 2>&1; then echo \"$m\"; break; fi; done; fi";

#[async_trait]
impl Module for Package {
    fn names(&self) -> &'static [&'static str] {
        &["package", "ansible.builtin.package", "ansible.legacy.package"]
    }

    /// The backend is only known per host, so the arguments must suit every backend `use:`
    /// allows; with `use:` given, they must suit that one.
    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        let (choice, rest) = split_use(args)?;
        let candidates: Vec<&str> = match choice {
            Some(Choice::Backend(name)) => vec![name],
            Some(Choice::Templated) | Some(Choice::Auto) | None => BACKENDS.to_vec(),
        };
        let templated = templated || matches!(choice, Some(Choice::Templated));
        let mut first_error = None;
        for name in candidates {
            let Some(module) = lookup(name) else { continue };
            match module.validate(&rest, templated) {
                Ok(()) => return Ok(()),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            ArgError::Invalid("no package manager module is available".into())
        }))
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let (choice, rest) = split_use(args)?;
        let name = match choice {
            Some(Choice::Backend(name)) => name.to_string(),
            Some(Choice::Templated) => {
                return Err(ArgError::Invalid(format!("`{USE}` was not rendered")).into())
            }
            Some(Choice::Auto) | None => match gathered_backend(ctx) {
                Some(name) => name,
                None => probe(ctx).await?,
            },
        };
        let module = lookup(&name).ok_or_else(|| {
            ModuleError::Failed(format!("package: the `{name}` module is not available"))
        })?;
        let mut result = super::run(module, &rest, ctx).await;
        result.data.insert("package_module".into(), name.into());
        Ok(result)
    }
}

/// What `use:` asked for.
enum Choice {
    /// `auto`: decide per host.
    Auto,
    /// One of [`BACKENDS`].
    Backend(&'static str),
    /// A template, known only per host.
    Templated,
}

/// Splits `use:` from the arguments the backend gets.
fn split_use(args: &Value) -> Result<(Option<Choice>, Value), ArgError> {
    let mut json = match vars::to_json(args) {
        serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
        serde_json::Value::Object(map) => serde_json::Value::Object(map),
        _ => return Err(ArgError::Invalid("package takes a mapping of arguments".into())),
    };
    let given = json.as_object_mut().and_then(|map| map.remove(USE));
    let choice = match given {
        None => None,
        Some(serde_json::Value::String(text)) => Some(parse_choice(&text)?),
        Some(other) => {
            return Err(ArgError::Invalid(format!(
                "`{USE}` must be a string, not {other}"
            )))
        }
    };
    Ok((choice, vars::from_json(&json)))
}

/// Reads a `use:` value.
fn parse_choice(text: &str) -> Result<Choice, ArgError> {
    if text.contains("{{") || text.contains("{%") {
        return Ok(Choice::Templated);
    }
    if text == "auto" {
        return Ok(Choice::Auto);
    }
    backend(text).map(Choice::Backend).ok_or_else(|| {
        ArgError::Invalid(format!(
            "`{USE}: {text}` is not a package manager rpatch has (auto, {})",
            BACKENDS.join(", ")
        ))
    })
}

/// The module for a package manager's name (`ansible_pkg_mgr` values and command names).
fn backend(manager: &str) -> Option<&'static str> {
    match manager {
        "apt" | "apt-get" => Some("apt"),
        "dnf" | "dnf5" => Some("dnf"),
        "yum" => Some("yum"),
        _ => None,
    }
}

/// The backend the host's gathered facts name, if facts were gathered.
fn gathered_backend(ctx: &ModuleContext<'_>) -> Option<String> {
    let fact = ctx.scope.get_attr("ansible_pkg_mgr").ok()?;
    let name = fact.as_str()?;
    backend(name).map(str::to_string)
}

/// Asks the host which package manager it has.
async fn probe(ctx: &ModuleContext<'_>) -> Result<String, ModuleError> {
    let output = ctx.exec(PROBE).await?;
    let found = output.stdout_text();
    backend(found.trim()).map(str::to_string).ok_or_else(|| {
        ModuleError::Failed(format!(
            "package: found none of {} on this host; name one with `{USE}:`",
            BACKENDS.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: serde_json::Value) -> Value {
        vars::from_json(&json)
    }

    #[test]
    fn use_picks_a_backend_and_is_not_passed_on() {
        let (choice, rest) =
            split_use(&args(serde_json::json!({"name": "x", "use": "dnf"}))).expect("split");
        assert!(matches!(choice, Some(Choice::Backend("dnf"))));
        assert_eq!(vars::to_json(&rest), serde_json::json!({"name": "x"}));
    }

    #[test]
    fn an_unknown_manager_is_refused_naming_the_ones_there_are() {
        let error = Package
            .validate(&args(serde_json::json!({"name": "x", "use": "zypper"})), false)
            .expect_err("zypper");
        assert_eq!(
            error.to_string(),
            "`use: zypper` is not a package manager rpatch has (auto, apt, dnf, yum)"
        );
    }

    #[test]
    fn arguments_no_backend_has_are_refused_at_load() {
        let error = Package
            .validate(&args(serde_json::json!({"name": "x", "stat": "latest"})), false)
            .expect_err("typo");
        assert!(error.to_string().contains("`stat`"), "{error}");
        assert!(Package
            .validate(&args(serde_json::json!({"name": "x", "state": "latest"})), false)
            .is_ok());
    }

    #[test]
    fn manager_names_map_to_modules() {
        assert_eq!(backend("apt"), Some("apt"));
        assert_eq!(backend("dnf5"), Some("dnf"));
        assert_eq!(backend("yum"), Some("yum"));
        assert_eq!(backend("zypper"), None);
    }
}
