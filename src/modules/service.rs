//! `service` and `systemd`: start, stop, restart, reload, enable and mask services, idempotently.
//!
//! Two round trips: a probe script reports which init system runs and the unit's state, Rust
//! decides the actions (the plan, which check mode reports and stops at), then one script
//! performs them. With systemd as PID 1 (`/run/systemd/system` exists, as `sd_booted` tests)
//! `systemctl is-active`/`is-enabled` decide; otherwise the SysV path uses `service NAME status`
//! (LSB exit codes), the `/etc/rc[2-5].d/S??NAME` links or `chkconfig`, and `service NAME
//! start|stop|...`, `update-rc.d`/`chkconfig` to change them.
//!
//! Unit names are checked against systemd's unit name characters before anything is sent, and
//! quoted anyway. The `needrestart` module reuses [`restart_script`] and [`check_unit_name`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::quote;
use crate::vars::Value;

/// Arguments of `service` and `systemd`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceArgs {
    /// The service (`nginx`) or unit (`nginx.service`).
    #[serde(alias = "unit")]
    name: Option<String>,
    /// The state to reach.
    state: Option<ServiceState>,
    /// Start at boot.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    enabled: Option<bool>,
    /// Run `systemctl daemon-reload` first (systemd only; never counts as a change).
    #[serde(default, deserialize_with = "lenient::bool", alias = "daemon-reload")]
    daemon_reload: bool,
    /// Mask or unmask the unit (systemd only).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    masked: Option<bool>,
    /// Which systemd manager: the system's (default), the login user's (`systemctl --user`),
    /// or every user's unit defaults (`systemctl --global`: enable, disable and mask only).
    #[serde(default)]
    scope: Scope,
}

/// `scope` of `systemd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Scope {
    #[default]
    System,
    User,
    Global,
}

impl Scope {
    /// Shell lines that make every later `systemctl` talk to this scope's manager (a user
    /// manager is found through `XDG_RUNTIME_DIR`, set as Ansible sets it when missing).
    fn prelude(self) -> &'static str {
        match self {
            Self::System => "",
            Self::User => {
                ": \"${XDG_RUNTIME_DIR:=/run/user/$(id -u)}\"; export XDG_RUNTIME_DIR\n\
                 systemctl() { command systemctl --user \"$@\"; }\n"
            }
            Self::Global => "systemctl() { command systemctl --global \"$@\"; }\n",
        }
    }
}

/// Ansible's `state` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ServiceState {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

/// A module argument that cannot be a unit name.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum UnitNameError {
    /// Empty, or a character systemd does not allow in unit names.
    #[error(
        "`{0}` is not a valid service name: use letters, digits and `:-_.@\\` only, not starting with `-`"
    )]
    Invalid(String),
}

/// Refuses names systemd would not accept as a unit name (`[A-Za-z0-9:_.@\-\\]`, at most 255
/// bytes), so nothing odd ever reaches a command line even though every word is quoted.
pub(crate) fn check_unit_name(name: &str) -> Result<(), UnitNameError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c);
    if name.is_empty() || name.len() > 255 || name.starts_with('-') || !name.chars().all(allowed)
    {
        return Err(UnitNameError::Invalid(name.to_string()));
    }
    Ok(())
}

/// The init system the probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Manager {
    Systemd,
    Sysv,
}

/// What the probe reported about one service.
#[derive(Debug, Clone, PartialEq)]
struct Probe {
    manager: Manager,
    /// The unit or init script exists.
    exists: bool,
    /// `systemctl is-active` output, or `active`/`inactive` from `service NAME status`.
    active: String,
    /// `systemctl is-enabled` output, or `enabled`/`disabled` from the rc links.
    enabled: String,
}

impl Probe {
    /// Parses the probe's `key=value` lines.
    fn parse(stdout: &str) -> Option<Self> {
        let field = |key: &str| {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .map(|value| value.trim().to_string())
        };
        let manager = match field("manager")?.as_str() {
            "systemd" => Manager::Systemd,
            "sysv" => Manager::Sysv,
            _ => return None,
        };
        let load = field("load").unwrap_or_default();
        let enabled = field("enabled").unwrap_or_default();
        let exists = match manager {
            Manager::Systemd => load != "not-found" && !load.is_empty() && enabled != "not-found",
            Manager::Sysv => load == "found",
        };
        Some(Self {
            manager,
            exists,
            active: field("active").unwrap_or_default(),
            enabled,
        })
    }

    /// `systemctl is-active` prints `active` (or `reloading`/`refreshing`, still running).
    fn running(&self) -> bool {
        matches!(self.active.as_str(), "active" | "reloading" | "refreshing")
    }

    /// True where `systemctl is-enabled` exits 0 (systemctl(1)): the unit starts at boot or
    /// cannot be enabled further.
    fn is_enabled(&self) -> bool {
        matches!(
            self.enabled.as_str(),
            "enabled"
                | "enabled-runtime"
                | "static"
                | "alias"
                | "indirect"
                | "generated"
                | "transient"
        )
    }

    fn is_masked(&self) -> bool {
        self.enabled.starts_with("masked")
    }
}

/// One thing to do to the service, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    DaemonReload,
    Mask,
    Unmask,
    Enable,
    Disable,
    Start,
    Stop,
    Restart,
    Reload,
}

impl Action {
    /// Whether the action changes the host (daemon-reload does not, as in Ansible).
    fn changes(self) -> bool {
        self != Self::DaemonReload
    }

    /// The shell line that performs it.
    fn line(self, manager: Manager, name: &str) -> String {
        let unit = quote(name);
        match (manager, self) {
            (_, Self::DaemonReload) => "systemctl daemon-reload".into(),
            (Manager::Systemd, Self::Mask) => format!("systemctl mask {unit}"),
            (Manager::Systemd, Self::Unmask) => format!("systemctl unmask {unit}"),
            (Manager::Systemd, Self::Enable) => format!("systemctl enable {unit}"),
            (Manager::Systemd, Self::Disable) => format!("systemctl disable {unit}"),
            (Manager::Systemd, verb) => format!("systemctl {} {unit}", verb.verb()),
            (Manager::Sysv, Self::Enable) => format!(
                "if command -v update-rc.d >/dev/null 2>&1; then \
                 update-rc.d {unit} defaults && update-rc.d {unit} enable; \
                 else chkconfig {unit} on; fi"
            ),
            (Manager::Sysv, Self::Disable) => format!(
                "if command -v update-rc.d >/dev/null 2>&1; then \
                 update-rc.d {unit} defaults && update-rc.d {unit} disable; \
                 else chkconfig {unit} off; fi"
            ),
            (Manager::Sysv, Self::Mask | Self::Unmask) => "false".into(),
            (Manager::Sysv, verb) => format!("service {unit} {}", verb.verb()),
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Reload => "reload",
            Self::DaemonReload => "daemon-reload",
            Self::Mask => "mask",
            Self::Unmask => "unmask",
            Self::Enable => "enable",
            Self::Disable => "disable",
        }
    }
}

/// Why the arguments cannot be carried out on this host.
fn plan(args: &ServiceArgs, probe: &Probe, name: &str) -> Result<Vec<Action>, String> {
    let mut actions = Vec::new();
    if args.daemon_reload {
        if probe.manager != Manager::Systemd {
            return Err("daemon_reload needs systemd running on the host".into());
        }
        actions.push(Action::DaemonReload);
    }
    if args.masked.is_some() && probe.manager != Manager::Systemd {
        return Err("masked needs systemd running on the host".into());
    }
    if args.scope != Scope::System && probe.manager != Manager::Systemd {
        return Err("scope user or global needs systemd running on the host".into());
    }
    if !probe.exists && args.masked != Some(true) {
        return Err(format!("Could not find the requested service {name}: host"));
    }
    let mut masked = probe.is_masked();
    match args.masked {
        Some(true) if !masked => {
            actions.push(Action::Mask);
            masked = true;
        }
        Some(false) if masked => {
            actions.push(Action::Unmask);
            masked = false;
        }
        _ => {}
    }
    match args.enabled {
        Some(true) if masked => {
            return Err(format!("cannot enable {name}: the unit is masked"));
        }
        Some(true) if !probe.is_enabled() => actions.push(Action::Enable),
        Some(false) if probe.is_enabled() && probe.enabled != "static" => {
            actions.push(Action::Disable)
        }
        _ => {}
    }
    match args.state {
        Some(ServiceState::Started) if !probe.running() => actions.push(Action::Start),
        Some(ServiceState::Stopped) if probe.running() => actions.push(Action::Stop),
        Some(ServiceState::Restarted) => actions.push(Action::Restart),
        // Ansible starts a stopped service asked to reload.
        Some(ServiceState::Reloaded) if probe.running() => actions.push(Action::Reload),
        Some(ServiceState::Reloaded) => actions.push(Action::Start),
        _ => {}
    }
    Ok(actions)
}

/// The probe script: prints `manager=`, `load=`, `active=` and `enabled=` lines.
fn probe_script(name: &str) -> String {
    let unit = quote(name);
    format!(
        "LC_ALL=C; export LC_ALL\n\
         if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then\n\
           echo manager=systemd\n\
           echo \"load=$(systemctl show -p LoadState --value {unit} 2>/dev/null)\"\n\
           echo \"active=$(systemctl is-active {unit} 2>/dev/null)\"\n\
           echo \"enabled=$(systemctl is-enabled {unit} 2>/dev/null)\"\n\
           exit 0\n\
         fi\n\
         echo manager=sysv\n\
         n={unit}; n=${{n%.service}}\n\
         if [ -x \"/etc/init.d/$n\" ] || {{ command -v chkconfig >/dev/null 2>&1 && chkconfig --list \"$n\" >/dev/null 2>&1; }}; then\n\
           echo load=found\n\
         else\n\
           echo load=not-found; exit 0\n\
         fi\n\
         if service \"$n\" status >/dev/null 2>&1; then echo active=active; else echo active=inactive; fi\n\
         enabled=disabled\n\
         for link in /etc/rc2.d/S??\"$n\" /etc/rc3.d/S??\"$n\" /etc/rc4.d/S??\"$n\" /etc/rc5.d/S??\"$n\"; do\n\
           [ -e \"$link\" ] && enabled=enabled\n\
         done\n\
         if [ $enabled = disabled ] && command -v chkconfig >/dev/null 2>&1; then\n\
           chkconfig --list \"$n\" 2>/dev/null | grep -q ':on' && enabled=enabled\n\
         fi\n\
         echo enabled=$enabled\n"
    )
}

/// A script that performs `actions` in order, stopping at the first failure with
/// `rpatch_failed=<step>` and that step's output.
fn action_script(manager: Manager, name: &str, actions: &[Action]) -> String {
    let name = match manager {
        Manager::Sysv => name.strip_suffix(".service").unwrap_or(name),
        Manager::Systemd => name,
    };
    let mut script = String::from("LC_ALL=C; export LC_ALL\n");
    for action in actions {
        script.push_str(&format!(
            "out=$({} 2>&1) || {{ echo rpatch_failed={}; printf '%s\\n' \"$out\"; exit 1; }}\n",
            action.line(manager, name),
            action.verb()
        ));
    }
    script
}

/// A script that restarts each of `units` with systemctl when systemd runs, else with
/// `service`, going on after a failure; prints `restarted=UNIT` or `failed=UNIT` for each.
/// The names must have passed [`check_unit_name`].
pub(crate) fn restart_script(units: &[String]) -> String {
    let words: Vec<String> = units.iter().map(|unit| quote(unit)).collect();
    format!(
        "LC_ALL=C; export LC_ALL\n\
         for u in {}; do\n\
           if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then\n\
             systemctl restart \"$u\" >/dev/null 2>&1\n\
           else\n\
             service \"${{u%.service}}\" restart >/dev/null 2>&1\n\
           fi && echo \"restarted=$u\" || echo \"failed=$u\"\n\
         done\n",
        words.join(" ")
    )
}

/// What `service` registers.
#[derive(Debug, Serialize)]
struct ServiceOutcome<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked: Option<bool>,
    /// What was probed before any change (`ActiveState`, `UnitFileState` as systemd names them).
    status: Status<'a>,
    /// The commands run (or, in check mode, that would be).
    actions: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Status<'a> {
    active_state: &'a str,
    unit_file_state: &'a str,
    manager: Manager,
}

/// `service`: manage a service with whatever init system the host runs.
pub(crate) struct Service;

/// `systemd`: the same module under Ansible's systemd names.
pub(crate) struct Systemd;

#[async_trait]
impl Module for Service {
    fn names(&self) -> &'static [&'static str] {
        &["service", "ansible.builtin.service", "ansible.legacy.service"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        validate(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

#[async_trait]
impl Module for Systemd {
    fn names(&self) -> &'static [&'static str] {
        &[
            "systemd",
            "systemd_service",
            "ansible.builtin.systemd",
            "ansible.builtin.systemd_service",
            "ansible.legacy.systemd",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        validate(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

fn validate(args: &Value, templated: bool) -> Result<(), ArgError> {
    args::validate::<ServiceArgs>(args, templated)?;
    if templated {
        return Ok(());
    }
    checked_args(args).map(|_| ())
}

/// Parses and checks the arguments: a valid name unless only `daemon_reload` is asked for.
fn checked_args(args: &Value) -> Result<(ServiceArgs, Option<String>), ArgError> {
    let parsed: ServiceArgs = args::parse(args)?;
    let name = match &parsed.name {
        Some(name) => {
            check_unit_name(name).map_err(|e| ArgError::Invalid(e.to_string()))?;
            Some(name.clone())
        }
        None if parsed.daemon_reload
            && parsed.state.is_none()
            && parsed.enabled.is_none()
            && parsed.masked.is_none() =>
        {
            None
        }
        None => return Err(ArgError::Invalid("missing required argument `name`".into())),
    };
    if parsed.scope == Scope::Global && parsed.state.is_some() {
        return Err(ArgError::Invalid(
            "scope global sets every user's unit defaults: it can enable, disable or mask, \
             not change a state"
                .into(),
        ));
    }
    Ok((parsed, name))
}

/// Probes, plans, and (outside check mode) acts.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let (args, name) = checked_args(args)?;
    let Some(name) = name else {
        // Only a daemon-reload: nothing to probe, and it never counts as a change.
        if !ctx.check_mode {
            let output = ctx
                .exec(format!("{}systemctl daemon-reload", args.scope.prelude()))
                .await?;
            if !output.status.success() {
                return Err(ModuleError::Failed(format!(
                    "systemctl daemon-reload failed (rc {}): {}",
                    output.status.rc(),
                    output.stderr_text().trim()
                )));
            }
        }
        return Ok(ModuleResult::ok());
    };
    let output = ctx
        .exec(format!("{}{}", args.scope.prelude(), probe_script(&name)))
        .await?;
    let stdout = output.stdout_text();
    let probe = Probe::parse(&stdout).ok_or_else(|| {
        ModuleError::Failed(format!(
            "cannot tell the state of {name} (rc {}): {}",
            output.status.rc(),
            output.stderr_text().trim()
        ))
    })?;
    let actions = plan(&args, &probe, &name).map_err(ModuleError::Failed)?;
    let changed = actions.iter().any(|a| a.changes());
    if !ctx.check_mode && !actions.is_empty() {
        let output = ctx
            .exec(format!(
                "{}{}",
                args.scope.prelude(),
                action_script(probe.manager, &name, &actions)
            ))
            .await?;
        if !output.status.success() {
            let stdout = output.stdout_text();
            let step = stdout
                .lines()
                .find_map(|line| line.strip_prefix("rpatch_failed="))
                .unwrap_or("change");
            let detail: Vec<&str> = stdout
                .lines()
                .filter(|line| !line.starts_with("rpatch_failed="))
                .collect();
            return Err(ModuleError::Failed(format!(
                "Unable to {step} service {name}: {}",
                detail.join("\n").trim()
            )));
        }
    }
    let stopped = actions.contains(&Action::Stop);
    let running = (probe.running() && !stopped) || actions.iter().any(|a| {
        matches!(a, Action::Start | Action::Restart | Action::Reload)
    });
    let state = args
        .state
        .map(|_| if running { "started" } else { "stopped" });
    let enabled = args.enabled.map(|_| {
        if actions.contains(&Action::Enable) {
            true
        } else if actions.contains(&Action::Disable) {
            false
        } else {
            probe.is_enabled()
        }
    });
    let outcome = ServiceOutcome {
        name: &name,
        state,
        enabled,
        masked: args.masked,
        status: Status {
            active_state: &probe.active,
            unit_file_state: &probe.enabled,
            manager: probe.manager,
        },
        actions: actions.iter().map(|a| a.verb()).collect(),
    };
    let result = if changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(result.with_data(&outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_args(json: serde_json::Value) -> Value {
        crate::vars::from_json(&json)
    }

    /// Real `systemctl is-active` / `is-enabled` outputs (the words systemctl(1) documents for
    /// these commands, as printed by systemd 252 on Debian 12), fed through the probe's format.
    const SYSTEMD_RUNNING_ENABLED: &str =
        "manager=systemd\nload=loaded\nactive=active\nenabled=enabled\n";
    const SYSTEMD_STOPPED_DISABLED: &str =
        "manager=systemd\nload=loaded\nactive=inactive\nenabled=disabled\n";
    const SYSTEMD_FAILED_STATIC: &str =
        "manager=systemd\nload=loaded\nactive=failed\nenabled=static\n";
    const SYSTEMD_MASKED: &str = "manager=systemd\nload=masked\nactive=inactive\nenabled=masked\n";
    const SYSTEMD_NOT_FOUND: &str = "manager=systemd\nload=not-found\nactive=inactive\nenabled=\n";

    fn args(json: serde_json::Value) -> ServiceArgs {
        args::parse(&json_args(json)).expect("valid args")
    }

    fn planned(json: serde_json::Value, probe: &str) -> Result<Vec<Action>, String> {
        let probe = Probe::parse(probe).expect("probe");
        plan(&args(json), &probe, "nginx")
    }

    #[test]
    fn probe_output_is_parsed() {
        let probe = Probe::parse(SYSTEMD_RUNNING_ENABLED).expect("probe");
        assert!(probe.exists && probe.running() && probe.is_enabled());
        let failed = Probe::parse(SYSTEMD_FAILED_STATIC).expect("probe");
        assert!(!failed.running() && failed.is_enabled());
        assert!(Probe::parse(SYSTEMD_MASKED).expect("probe").is_masked());
        assert!(!Probe::parse(SYSTEMD_NOT_FOUND).expect("probe").exists);
        assert_eq!(Probe::parse("garbage\n"), None);
    }

    #[test]
    fn started_and_enabled_is_idempotent() {
        let wanted = serde_json::json!({"name": "nginx", "state": "started", "enabled": true});
        assert_eq!(planned(wanted.clone(), SYSTEMD_RUNNING_ENABLED), Ok(vec![]));
        assert_eq!(
            planned(wanted, SYSTEMD_STOPPED_DISABLED),
            Ok(vec![Action::Enable, Action::Start])
        );
        let stopped = serde_json::json!({"name": "nginx", "state": "stopped", "enabled": "no"});
        assert_eq!(planned(stopped.clone(), SYSTEMD_STOPPED_DISABLED), Ok(vec![]));
        assert_eq!(
            planned(stopped, SYSTEMD_RUNNING_ENABLED),
            Ok(vec![Action::Disable, Action::Stop])
        );
    }

    #[test]
    fn restarted_always_acts_and_reloaded_starts_a_stopped_service() {
        let restarted = serde_json::json!({"name": "nginx", "state": "restarted"});
        assert_eq!(
            planned(restarted, SYSTEMD_RUNNING_ENABLED),
            Ok(vec![Action::Restart])
        );
        let reloaded = serde_json::json!({"name": "nginx", "state": "reloaded"});
        assert_eq!(
            planned(reloaded.clone(), SYSTEMD_RUNNING_ENABLED),
            Ok(vec![Action::Reload])
        );
        assert_eq!(
            planned(reloaded, SYSTEMD_STOPPED_DISABLED),
            Ok(vec![Action::Start])
        );
    }

    #[test]
    fn user_scope_sends_every_systemctl_to_the_users_manager_and_needs_systemd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stub = dir.path().join("systemctl");
        std::fs::write(&stub, "#!/bin/sh\necho \"systemctl $*\"\n").expect("write stub");
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod stub");
        let script = format!("{}systemctl restart app.service", Scope::User.prelude());
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .output()
            .expect("run sh");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "systemctl --user restart app.service\n"
        );
        let json = serde_json::json!({"name": "app", "state": "started", "scope": "user"});
        let sysv = "manager=sysv\nload=found\nactive=inactive\nenabled=disabled\n";
        assert_eq!(
            planned(json, sysv),
            Err("scope user or global needs systemd running on the host".into())
        );
        let global = serde_json::json!({"name": "app", "state": "started", "scope": "global"});
        assert!(checked_args(&crate::vars::from_json(&global)).is_err());
    }

    #[test]
    fn daemon_reload_and_masking_come_first_and_need_systemd() {
        let json = serde_json::json!({"name": "nginx", "masked": false, "daemon_reload": true,
                                      "state": "started"});
        assert_eq!(
            planned(json.clone(), SYSTEMD_MASKED),
            Ok(vec![Action::DaemonReload, Action::Unmask, Action::Start])
        );
        let sysv = "manager=sysv\nload=found\nactive=inactive\nenabled=disabled\n";
        assert_eq!(
            planned(json, sysv),
            Err("daemon_reload needs systemd running on the host".into())
        );
        let enable_masked = serde_json::json!({"name": "nginx", "enabled": true});
        assert!(planned(enable_masked, SYSTEMD_MASKED).is_err());
    }

    #[test]
    fn a_missing_service_is_an_error_naming_it() {
        let json = serde_json::json!({"name": "nginx", "state": "started"});
        let error = planned(json, SYSTEMD_NOT_FOUND).expect_err("missing");
        assert!(error.contains("nginx"), "{error}");
    }

    #[test]
    fn scripts_use_systemctl_or_service_with_quoted_names() {
        let script = action_script(
            Manager::Systemd,
            "getty@tty1.service",
            &[Action::Enable, Action::Start],
        );
        assert!(script.contains("out=$(systemctl enable getty@tty1.service 2>&1)"));
        assert!(script.contains("out=$(systemctl start getty@tty1.service 2>&1)"));
        let sysv = action_script(Manager::Sysv, "ssh.service", &[Action::Restart]);
        assert!(sysv.contains("out=$(service ssh restart 2>&1)"), "{sysv}");
        assert!(probe_script("a\\x2db").contains("'a\\x2db'"));
    }

    #[test]
    fn names_outside_systemds_unit_characters_are_refused() {
        for bad in ["", "-rf", "a b", "x;reboot", "$(id)", "a/b", "nginx\n"] {
            assert!(check_unit_name(bad).is_err(), "{bad:?}");
        }
        for good in ["nginx", "getty@tty1.service", "a\\x2db.mount", "dbus-org.x:1"] {
            assert_eq!(check_unit_name(good), Ok(()), "{good:?}");
        }
        let error = checked_args(&json_args(serde_json::json!({"name": "x;reboot"})));
        assert!(matches!(error, Err(ArgError::Invalid(msg)) if msg.contains("x;reboot")));
        assert!(checked_args(&json_args(serde_json::json!({"state": "started"}))).is_err());
        assert!(checked_args(&json_args(serde_json::json!({"daemon_reload": true}))).is_ok());
    }

    #[test]
    fn restart_script_quotes_every_unit() {
        let script = restart_script(&["a.service".into(), "b@1.service".into()]);
        assert!(script.contains("for u in a.service b@1.service; do"), "{script}");
    }
}
