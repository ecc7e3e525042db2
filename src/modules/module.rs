//! What a module is: the [`Module`] trait each built-in implements, how it copes with check
//! mode, and [`run`], the one place a module's outcome becomes a [`ModuleResult`].

use std::fmt;

use async_trait::async_trait;

use super::{ArgError, FreeForm, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// How a module behaves under `--check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// Changes nothing on the host, so it runs as usual in check mode.
    ReadOnly,
    /// Reads [`ModuleContext::check_mode`] and reports what it would change without changing it.
    Supported,
    /// Cannot tell what it would change: [`run`] skips it in check mode.
    Unsupported,
}

/// A built-in module: everything the loader and the runner need to know about it.
///
/// Each implementation is a unit struct in the module's own file, listed once in the table
/// in `src/modules/mod.rs`.
#[async_trait]
pub trait Module: Sync {
    /// Every name a task may use: the short name first (shown in messages, offered by
    /// did-you-mean), then aliases such as `ansible.builtin.<name>` where Ansible has the
    /// same module.
    fn names(&self) -> &'static [&'static str];

    /// The short name.
    fn name(&self) -> &'static str {
        self.names().first().copied().unwrap_or_default()
    }

    /// Checks arguments at load, before anything runs: unknown names always, types too
    /// unless `templated` (then values are only known per host).
    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError>;

    /// How a string given instead of a mapping of arguments is read.
    fn free_form(&self) -> FreeForm {
        FreeForm::KeyValue
    }

    /// How the module behaves under `--check`.
    fn check_mode(&self) -> CheckMode;

    /// True when the result is the point of the task (`debug`), shown without `-v`.
    fn shows_result(&self) -> bool {
        false
    }

    /// True when the facts the module returns are plain host variables (`set_fact`); false
    /// when they are gathered facts, which also appear under `ansible_facts` (`setup`,
    /// `patch_facts`), as Ansible keeps them.
    fn sets_variables(&self) -> bool {
        false
    }

    /// True when, on a guest (a host with `rpatch_hypervisor`) and without `delegate_to`, the
    /// task runs on the guest's hypervisor: the virsh modules acting on the guest's own
    /// domain. The runner reads this in one place (its delegation); the module picks the
    /// domain ([`super::virsh::guest_domain`]).
    fn runs_on_hypervisor(&self) -> bool {
        false
    }

    /// Runs on one host with arguments already rendered for it.
    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>)
        -> Result<ModuleResult, ModuleError>;
}

impl fmt::Debug for dyn Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs a module with already-rendered arguments: skips it in check mode when it cannot
/// honour that, and maps errors to results: a host that cannot be reached is unreachable; a
/// command the transport refused (see [`crate::transport::CommandError`]) and every other error
/// is this task's failure.
pub(crate) async fn run(
    module: &dyn Module,
    args: &Value,
    ctx: &ModuleContext<'_>,
) -> ModuleResult {
    if ctx.check_mode && module.check_mode() == CheckMode::Unsupported {
        return ModuleResult::skipped(format!("{} does not support check mode", module.name()));
    }
    match module.run(args, ctx).await {
        Ok(result) => result,
        Err(ModuleError::Transport(error)) => ModuleResult::from_transport(&error),
        Err(error) => ModuleResult::failed(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::lookup;
    use crate::template::Templar;
    use crate::transport::UnavailableTransport;

    /// Runs the module named `name` on the controller, or through `transport`.
    async fn run_named(
        name: &str,
        args: serde_json::Value,
        check_mode: bool,
        transport: Option<&dyn crate::transport::Transport>,
    ) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let local = ModuleContext::local(&templar, &scope);
        let ctx = ModuleContext {
            check_mode,
            transport: transport.unwrap_or(local.transport),
            ..ModuleContext::local(&templar, &scope)
        };
        let module = lookup(name).expect("a module in the table");
        run(module, &crate::vars::from_json(&args), &ctx).await
    }

    #[tokio::test]
    async fn a_host_that_cannot_be_reached_is_unreachable_whichever_module_runs() {
        let down = UnavailableTransport::new("no route to host");
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("motd");
        for (name, args) in [
            ("ping", serde_json::json!({})),
            ("command", serde_json::json!({"cmd": "true"})),
            ("raw", serde_json::json!({"_raw_params": "true"})),
            ("stat", serde_json::json!({"path": "/"})),
            ("setup", serde_json::json!({})),
            ("copy", serde_json::json!({"content": "x", "dest": dest})),
            ("file", serde_json::json!({"path": dest, "state": "touch"})),
        ] {
            let result = run_named(name, args, false, Some(&down)).await;
            assert!(result.unreachable && !result.failed, "{name}: {result:?}");
            assert_eq!(
                result.msg.as_deref(),
                Some("cannot connect: no route to host"),
                "{name}"
            );
        }
        assert!(!dest.exists());
    }

    #[tokio::test]
    async fn bad_arguments_are_a_failed_result_naming_the_argument() {
        let result = run_named("ping", serde_json::json!({"dta": "x"}), false, None).await;
        assert!(result.failed && !result.unreachable, "{result:?}");
        assert_eq!(result.msg.as_deref(), Some("unsupported argument `dta`"));
    }

    #[tokio::test]
    async fn read_only_modules_run_as_usual_in_check_mode() {
        let result = run_named("ping", serde_json::json!({}), true, None).await;
        assert!(!result.skipped && !result.failed, "{result:?}");
        assert_eq!(result.data["ping"].as_str(), Some("pong"));
    }

    /// A module that would change the host and cannot predict how.
    struct Reckless;

    #[async_trait]
    impl Module for Reckless {
        fn names(&self) -> &'static [&'static str] {
            &["reckless"]
        }

        fn validate(&self, _: &Value, _: bool) -> Result<(), ArgError> {
            Ok(())
        }

        fn check_mode(&self) -> CheckMode {
            CheckMode::Unsupported
        }

        async fn run(&self, _: &Value, _: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
            Ok(ModuleResult::changed())
        }
    }

    #[tokio::test]
    async fn modules_without_check_mode_support_are_skipped_in_check_mode() {
        let templar = Templar::new();
        let scope = Value::from(());
        let check = ModuleContext {
            check_mode: true,
            ..ModuleContext::local(&templar, &scope)
        };
        let result = run(&Reckless, &Value::from(()), &check).await;
        assert!(result.skipped && !result.changed, "{result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some("reckless does not support check mode")
        );
        let normal = ModuleContext::local(&templar, &scope);
        assert!(run(&Reckless, &Value::from(()), &normal).await.changed);
    }
}
