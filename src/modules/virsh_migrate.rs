//! `virsh_migrate`: move a domain of the hypervisor the task runs on to another hypervisor,
//! live by default, and check that it runs there afterwards.
//!
//! The target is `target: NAME`, an inventory hypervisor whose libvirt URI is its
//! `rpatch_libvirt_uri` variable (templated in that host's variables; default
//! `qemu+ssh://{{ ansible_host }}/system`), or `target_uri` given directly. `virsh migrate`
//! runs on the source host, as an admin would run it there; with `p2p` the source libvirtd
//! itself connects to the target, otherwise the virsh client does.
//!
//! Three round trips: the source's facts ([`super::virsh::gather`]), a probe of the target
//! (reachable, not this same hypervisor by host UUID, the domain's state there), then the
//! migration followed by `virsh -c TARGET domstate`. The plan is made from the first two in
//! Rust; check mode stops there. A domain already running on the target and not running here
//! is `ok`. libvirt refuses to migrate a domain with snapshots (`cannot migrate domain with N
//! snapshots`), so the module refuses first, naming them, unless `remove_snapshots: true`
//! deletes them before moving. Every word reaches the shell through [`crate::shell::quote`].

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::virsh::{self, one_line, parse};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// The URI of a target hypervisor without `rpatch_libvirt_uri`.
const DEFAULT_URI: &str = "qemu+ssh://{{ ansible_host | default(inventory_hostname) }}/system";

/// Arguments of `virsh_migrate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirshMigrateArgs {
    /// The domain to move (`name` as in Ansible's `virt` module).
    #[serde(alias = "name")]
    domain: String,
    /// The target: an inventory hypervisor.
    #[serde(default)]
    target: Option<String>,
    /// The target's libvirt URI, instead of `target`.
    #[serde(default)]
    target_uri: Option<String>,
    /// Live migration (the guest keeps running); `false` pauses it while it moves, or moves
    /// the definition of a shut-off domain (`--offline`, needs `persistent`).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    live: bool,
    /// Define the domain on the target (`--persistent`).
    #[serde(default, deserialize_with = "lenient::bool")]
    persistent: bool,
    /// Remove the definition from the source (`--undefinesource`).
    #[serde(default, deserialize_with = "lenient::bool")]
    undefinesource: bool,
    /// The source libvirtd connects to the target itself (`--p2p`).
    #[serde(default, deserialize_with = "lenient::bool")]
    p2p: bool,
    /// Copy the disks to the target: `all` or `inc` (`--copy-storage-all|inc`); the target
    /// needs an image of the same size at the same path first.
    #[serde(default)]
    copy_storage: Option<CopyStorage>,
    /// Migrate although libvirt cannot prove the storage is shared or cache-safe (`--unsafe`).
    #[serde(default, deserialize_with = "lenient::bool")]
    r#unsafe: bool,
    /// Limit the migration's bandwidth, MiB/s (`--bandwidth`).
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    bandwidth: Option<f64>,
    /// Slow the guest's vCPUs down when its memory changes faster than it copies
    /// (`--auto-converge`).
    #[serde(default, deserialize_with = "lenient::bool")]
    auto_converge: bool,
    /// The longest pause, in milliseconds, allowed for the last copy of a live migration
    /// (`virsh migrate-setmaxdowntime` just before `virsh migrate`).
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    max_downtime_ms: Option<u64>,
    /// Delete the domain's snapshots first (libvirt cannot migrate a domain with snapshots).
    #[serde(default, deserialize_with = "lenient::bool")]
    remove_snapshots: bool,
    /// Seconds the migration may take.
    #[serde(default = "default_timeout", deserialize_with = "lenient::whole")]
    timeout: u64,
    /// What happens after `timeout`: `abort` (the guest stays here, a failure), `suspend` (the
    /// guest is paused so the last memory copies), `postcopy` (switch to post-copy).
    #[serde(default)]
    on_timeout: OnTimeout,
}

fn yes() -> bool {
    true
}

/// How `virsh_evacuate` moves each guest: the migration options it passes on (a guest always
/// moves `persistent` and `undefinesource`, so it lives in one place at a time).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveOptions {
    /// As `virsh_migrate`'s `live` (shut-off guests move offline whatever this says).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    pub live: bool,
    /// As `virsh_migrate`'s `p2p`.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub p2p: bool,
    /// As `virsh_migrate`'s `copy_storage`.
    #[serde(default)]
    copy_storage: Option<CopyStorage>,
    /// As `virsh_migrate`'s `unsafe`.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub r#unsafe: bool,
    /// As `virsh_migrate`'s `bandwidth`.
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    bandwidth: Option<f64>,
    /// As `virsh_migrate`'s `auto_converge`.
    #[serde(default, deserialize_with = "lenient::bool")]
    auto_converge: bool,
    /// As `virsh_migrate`'s `max_downtime_ms`.
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    max_downtime_ms: Option<u64>,
    /// As `virsh_migrate`'s `remove_snapshots`.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub remove_snapshots: bool,
    /// As `virsh_migrate`'s `timeout`, per guest.
    #[serde(default = "default_timeout", deserialize_with = "lenient::whole")]
    pub timeout: u64,
    /// As `virsh_migrate`'s `on_timeout`.
    #[serde(default)]
    on_timeout: OnTimeout,
}

impl Default for MoveOptions {
    fn default() -> Self {
        Self {
            live: true,
            p2p: false,
            copy_storage: None,
            r#unsafe: false,
            bandwidth: None,
            auto_converge: false,
            max_downtime_ms: None,
            remove_snapshots: false,
            timeout: default_timeout(),
            on_timeout: OnTimeout::Abort,
        }
    }
}

impl VirshMigrateArgs {
    /// The arguments that move `domain` to `target` with `options`, for good: persistent
    /// there and undefined here; a shut-off domain moves offline.
    pub(crate) fn moving(domain: &str, target: &str, active: bool, options: &MoveOptions) -> Self {
        Self {
            domain: domain.to_string(),
            target: Some(target.to_string()),
            target_uri: None,
            live: options.live && active,
            persistent: true,
            undefinesource: true,
            p2p: options.p2p,
            copy_storage: options.copy_storage,
            r#unsafe: options.r#unsafe,
            bandwidth: options.bandwidth,
            auto_converge: options.auto_converge,
            max_downtime_ms: options.max_downtime_ms,
            remove_snapshots: options.remove_snapshots,
            timeout: options.timeout,
            on_timeout: options.on_timeout,
        }
    }
}

fn default_timeout() -> u64 {
    600
}

/// `copy_storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum CopyStorage {
    All,
    Inc,
}

/// `on_timeout`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum OnTimeout {
    #[default]
    Abort,
    Suspend,
    Postcopy,
}

/// `virsh_migrate`: move a domain to another hypervisor.
pub(crate) struct VirshMigrate;

#[async_trait]
impl Module for VirshMigrate {
    fn names(&self) -> &'static [&'static str] {
        &["virsh_migrate", "rpatch.virsh_migrate"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<VirshMigrateArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: VirshMigrateArgs = args::parse(args)?;
        virsh::check_name("domain", &args.domain)?;
        let target = resolve_target(&args, ctx)?;
        let report = virsh::gather(ctx).await?;
        let source = Source {
            name: ctx.host,
            uri: None,
        };
        move_domain(ctx, &args, &source, &target, &report).await
    }
}

/// Where a domain moves from: the task's host (`uri: None`), or another hypervisor reached
/// from it at `uri` (`virsh_evacuate` bringing guests back).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    /// Its inventory name, for messages and the result.
    pub name: &'a str,
    /// Its libvirt URI, when it is not the task's host.
    pub uri: Option<&'a str>,
}

/// Moves `args.domain` from `source`, whose facts are `report`, to `target`: probes the
/// target, decides (check mode stops there), migrates and verifies. The one place a migration
/// is made, for `virsh_migrate` and `virsh_evacuate` alike.
pub(crate) async fn move_domain(
    ctx: &ModuleContext<'_>,
    args: &VirshMigrateArgs,
    source: &Source<'_>,
    target: &Target,
    report: &parse::Report,
) -> Result<ModuleResult, ModuleError> {
        let limit = ctx.timeout.unwrap_or(Duration::from_secs(120));
        let probe = virsh::at_uri(probe_script(&args.domain, &target.uri), source.uri);
        let probe = virsh::run_script(ctx, probe, limit).await?;
        let there = read_probe(&probe, target)?;
        let d = args.domain.as_str();
        let here = report.domains.get(d);
        let plan = decide(args, here, &there, report, target)?;
        let Some(snapshots) = plan else {
            let state = there.state.as_deref().unwrap_or("running");
            let note = match here {
                Some(domain) => format!("; this host keeps its {} definition", domain.state),
                None => String::new(),
            };
            return Ok(outcome(args, source.name, target, here, state, None, &[])
                .with_msg(format!("`{d}` is already {state} on {}{note}", target.name)));
        };
        if ctx.check_mode {
            let removing = if snapshots.is_empty() {
                String::new()
            } else {
                format!(" after deleting snapshots {}", snapshots.join(", "))
            };
            return Ok(outcome(args, source.name, target, here, "", None, &snapshots).with_msg(
                format!(
                    "would migrate `{d}` to {}{removing}: virsh {}",
                    target.name,
                    command_line(&migrate_words(args, here, &target.uri))
                ),
            ));
        }
        let words = migrate_words(args, here, &target.uri);
        let script = migrate_script(d, &snapshots, &words, &target.uri, args);
        let script = virsh::at_uri(script, source.uri);
        let started = Instant::now();
        let limit = Duration::from_secs(args.timeout.saturating_add(120));
        let applied = virsh::run_script(ctx, script, limit).await?;
        let elapsed = started.elapsed();
        for (index, name) in snapshots.iter().enumerate() {
            match applied.steps.get(index) {
                Some(step) if step.rc == Some(0) => {}
                Some(step) => {
                    return Err(ModuleError::Failed(format!(
                        "deleting snapshot `{name}` of `{d}` failed: {}; nothing was migrated",
                        one_line(&step.output)
                    )))
                }
                None => {
                    return Err(ModuleError::Failed(format!(
                        "deleting snapshot `{name}` of `{d}`: no answer from virsh"
                    )))
                }
            }
        }
        let at = snapshots.len();
        read_migration(&applied, at, args, target)?;
        let after = applied
            .steps
            .get(at + 1)
            .filter(|s| s.rc == Some(0))
            .map(|s| one_line(&s.output));
        let wanted = if here.is_some_and(parse::Domain::is_active) {
            "running"
        } else {
            "shut off"
        };
        match after.as_deref() {
            Some(state) if state == wanted => {}
            other => {
                return Err(ModuleError::Failed(format!(
                    "virsh migrate `{d}` to {} reported success, but there it is {}",
                    target.name,
                    other.map_or_else(
                        || {
                            applied
                                .steps
                                .get(at + 1)
                                .map_or("not answering".to_string(), |s| one_line(&s.output))
                        },
                        |s| format!("`{s}`, not {wanted}")
                    )
                )))
            }
        }
        let left = applied
            .steps
            .get(at + 2)
            .filter(|s| s.rc == Some(0))
            .map(|s| one_line(&s.output));
        let mut result = outcome(args, source.name, target, here, wanted, Some(elapsed), &snapshots);
        result.msg = Some(format!(
            "`{d}` migrated to {} in {:.1} s ({wanted} there; {})",
            target.name,
            elapsed.as_secs_f64(),
            match left {
                Some(state) => format!("{state} on {}", source.name),
                None => format!("no longer defined on {}", source.name),
            }
        ));
        Ok(result)
}

/// Whether `virsh migrate` (step `at` of `applied`) succeeded; a failure says whether the
/// job was aborted at `timeout`. A job that finished although the abort was sent (too late)
/// is a success, checked on the target like any other.
fn read_migration(
    applied: &parse::Applied,
    at: usize,
    args: &VirshMigrateArgs,
    target: &Target,
) -> Result<(), ModuleError> {
    let d = &args.domain;
    match applied.steps.get(at) {
        // Finished after all (the abort came too late): verified on the target like any other.
        Some(step) if step.rc == Some(0) => Ok(()),
        Some(step) if applied.marker("aborted").is_some() => Err(ModuleError::Failed(format!(
            "migrating `{d}` to {} did not finish within {} s: aborted (`{d}` stays on this \
             host): {}",
            target.name,
            args.timeout,
            one_line(&step.output)
        ))),
        Some(step) => Err(ModuleError::Failed(format!(
            "virsh migrate `{d}` to {} failed: {}",
            target.name,
            one_line(&step.output)
        ))),
        None => Err(ModuleError::Failed(format!(
            "virsh migrate `{d}` to {}: no answer from virsh",
            target.name
        ))),
    }
}

/// The target: how it is named in messages and reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The inventory name, or the URI when given directly.
    pub name: String,
    /// Its libvirt URI.
    pub uri: String,
}

/// The target from `target` (its `rpatch_libvirt_uri` in `hostvars`) or `target_uri`.
fn resolve_target(args: &VirshMigrateArgs, ctx: &ModuleContext<'_>) -> Result<Target, ModuleError> {
    let fail = |m: String| Err(ModuleError::Failed(m));
    let target = match (&args.target, &args.target_uri) {
        (Some(_), Some(_)) => return fail("give `target` or `target_uri`, not both".into()),
        (None, None) => {
            return fail(
                "`target` (an inventory hypervisor) or `target_uri` (a libvirt URI) is required"
                    .into(),
            )
        }
        (None, Some(uri)) => Target {
            name: uri.clone(),
            uri: uri.clone(),
        },
        (Some(name), None) => {
            if name == ctx.host {
                return fail(format!(
                    "target `{name}` is this host: a domain cannot migrate to the hypervisor it runs on"
                ));
            }
            return hypervisor(name, ctx);
        }
    };
    checked(target)
}

/// Inventory hypervisor `name` as a migration target: its `rpatch_libvirt_uri` (default
/// `qemu+ssh://{{ ansible_host }}/system`) rendered with its own variables from `hostvars`.
pub(crate) fn hypervisor(name: &str, ctx: &ModuleContext<'_>) -> Result<Target, ModuleError> {
    let fail = |m: String| Err(ModuleError::Failed(m));
    let vars = ctx
        .scope
        .get_attr("hostvars")
        .ok()
        .and_then(|hostvars| hostvars.get_attr(name).ok())
        .filter(|vars| !vars.is_undefined() && !vars.is_none());
    let Some(vars) = vars else {
        return fail(format!(
            "target `{name}` is not in the inventory (no hostvars): name an inventory \
             hypervisor, or give `target_uri`"
        ));
    };
    let template = vars
        .get_attr("rpatch_libvirt_uri")
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| DEFAULT_URI.to_string());
    let uri = ctx.templar.render_to_string(&template, &vars).map_err(|error| {
        ModuleError::Failed(format!(
            "the libvirt URI of target `{name}` (`{template}`) does not render: {error}"
        ))
    })?;
    checked(Target {
        name: name.to_string(),
        uri,
    })
}

/// A target whose URI looks like one (not empty, no control characters, a scheme).
fn checked(target: Target) -> Result<Target, ModuleError> {
    let fail = |m: String| Err(ModuleError::Failed(m));
    let uri = target.uri.trim();
    if uri.is_empty() || uri.starts_with('-') || uri.chars().any(char::is_control) {
        return fail(format!(
            "the libvirt URI `{}` of target `{}` is not a URI",
            target.uri.escape_debug(),
            target.name
        ));
    }
    if !uri.contains(':') {
        return fail(format!(
            "the libvirt URI `{uri}` of target `{}` has no scheme (e.g. qemu+ssh://HOST/system)",
            target.name
        ));
    }
    Ok(Target {
        name: target.name,
        uri: uri.to_string(),
    })
}

/// What the probe found on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct There {
    /// The domain's state on the target, `None` when it is not defined there.
    state: Option<String>,
}

/// Steps of the probe script: this host's UUID, the target's UUID, the domain's state there.
fn probe_script(domain: &str, uri: &str) -> String {
    let (d, t) = (quote(domain), quote(uri));
    virsh::script::with_prelude(&format!(
        r#"host_uuid() {{
  caps=$(virsh "$@" capabilities 2>&1); rc=$?
  if [ "$rc" -eq 0 ]; then
    printf '%s\n' "$caps" | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | head -n 1
  else
    printf '%s\n' "$caps"
  fi
  return "$rc"
}}
echo '@@rpatch:step 0'
host_uuid
echo "@@rpatch:rc $?"
echo '@@rpatch:step 1'
host_uuid -c {t}
echo "@@rpatch:rc $?"
echo '@@rpatch:step 2'
virsh -c {t} domstate --domain {d} 2>&1
echo "@@rpatch:rc $?"
echo '@@rpatch:end'
"#
    ))
}

/// The target's answer: reachable, another hypervisor, and the domain's state there.
fn read_probe(probe: &parse::Applied, target: &Target) -> Result<There, ModuleError> {
    let step = |index: usize| probe.steps.get(index);
    let name = &target.name;
    let uri = &target.uri;
    let reached = match step(1) {
        Some(s) if s.rc == Some(0) => s.output.trim().to_string(),
        Some(s) => {
            return Err(ModuleError::Failed(format!(
                "target {name} cannot be reached at `{uri}`: {}",
                one_line(&s.output)
            )))
        }
        None => {
            return Err(ModuleError::Failed(format!(
                "target {name} at `{uri}`: no answer from virsh"
            )))
        }
    };
    let own = step(0)
        .filter(|s| s.rc == Some(0))
        .map(|s| s.output.trim().to_string());
    if !reached.is_empty() && own.as_deref() == Some(reached.as_str()) {
        return Err(ModuleError::Failed(format!(
            "target {name} (`{uri}`) is this same hypervisor (host UUID {reached}): a domain \
             cannot migrate to the host it runs on"
        )));
    }
    match step(2) {
        Some(s) if s.rc == Some(0) => Ok(There {
            state: Some(one_line(&s.output)),
        }),
        Some(s)
            if s.output.contains("failed to get domain")
                || s.output.contains("Domain not found") =>
        {
            Ok(There { state: None })
        }
        Some(s) => Err(ModuleError::Failed(format!(
            "virsh on target {name} cannot tell the domain's state: {}",
            one_line(&s.output)
        ))),
        None => Err(ModuleError::Failed(format!(
            "target {name}: no answer from virsh domstate"
        ))),
    }
}

/// What to do: `None` when the domain already runs on the target; otherwise the snapshots to
/// delete first (possibly none) before migrating.
fn decide(
    args: &VirshMigrateArgs,
    here: Option<&parse::Domain>,
    there: &There,
    report: &parse::Report,
    target: &Target,
) -> Result<Option<Vec<String>>, ModuleError> {
    let d = &args.domain;
    let name = &target.name;
    let fail = |m: String| Err(ModuleError::Failed(m));
    let running_there = there.state.as_deref() == Some("running");
    match here {
        None if running_there => return Ok(None),
        None => {
            let mut error = virsh::unknown_domain(d, report).to_string();
            if let Some(state) = &there.state {
                error.push_str(&format!("; on {name} it is {state}, not running"));
            }
            return fail(error);
        }
        Some(domain) if !domain.is_active() && running_there => return Ok(None),
        Some(domain) if domain.is_active() && there.state.is_some() => {
            return fail(format!(
                "`{d}` is {} here and also defined on {name} ({}): refusing to migrate onto it",
                domain.state,
                there.state.as_deref().unwrap_or("")
            ))
        }
        Some(domain) if !domain.is_active() && args.live => {
            return fail(format!(
                "`{d}` is {} on this host: a live migration needs it running (`live: false` with \
                 `persistent: true` moves its definition offline)",
                domain.state
            ))
        }
        Some(domain) if !domain.is_active() && !args.persistent => {
            return fail(format!(
                "`{d}` is {}: an offline migration moves only its definition and needs \
                 `persistent: true`",
                domain.state
            ))
        }
        Some(_) => {}
    }
    let snapshots = here.map(|d| d.snapshots.clone()).unwrap_or_default();
    if !snapshots.is_empty() && !args.remove_snapshots {
        return fail(format!(
            "`{d}` has {} snapshot(s) ({}): libvirt cannot migrate a domain with snapshots \
             (`cannot migrate domain with {} snapshots`); delete them first or set \
             `remove_snapshots: true`",
            snapshots.len(),
            snapshots.join(", "),
            snapshots.len()
        ));
    }
    // Children before their parents, so each delete takes just one snapshot.
    let mut snapshots = snapshots;
    snapshots.reverse();
    Ok(Some(snapshots))
}

/// The words of `virsh migrate`, unquoted.
fn migrate_words(args: &VirshMigrateArgs, here: Option<&parse::Domain>, uri: &str) -> Vec<String> {
    let mut words: Vec<&str> = vec!["migrate"];
    let active = here.is_some_and(parse::Domain::is_active);
    if active && args.live {
        words.push("--live");
    }
    if !active {
        words.push("--offline");
    }
    for (on, flag) in [
        (args.persistent, "--persistent"),
        (args.undefinesource, "--undefinesource"),
        (args.p2p, "--p2p"),
        (args.r#unsafe, "--unsafe"),
        (active && args.auto_converge, "--auto-converge"),
        (
            args.copy_storage == Some(CopyStorage::All),
            "--copy-storage-all",
        ),
        (
            args.copy_storage == Some(CopyStorage::Inc),
            "--copy-storage-inc",
        ),
    ] {
        if on {
            words.push(flag);
        }
    }
    let timeout = args.timeout.to_string();
    // Whole MiB/s, as virsh takes it.
    let bandwidth = args.bandwidth.map(|mib| (mib.max(1.0).round() as u64).to_string());
    if let Some(bandwidth) = &bandwidth {
        words.extend(["--bandwidth", bandwidth]);
    }
    if active {
        match args.on_timeout {
            OnTimeout::Abort => {}
            OnTimeout::Suspend => words.extend(["--timeout", &timeout, "--timeout-suspend"]),
            OnTimeout::Postcopy => {
                words.extend(["--postcopy", "--timeout", &timeout, "--timeout-postcopy"]);
            }
        }
    }
    words.extend(["--domain", &args.domain, "--desturi", uri]);
    words.into_iter().map(str::to_string).collect()
}

/// `virsh WORDS`, each word quoted.
fn command_line(words: &[String]) -> String {
    let mut line = String::from("virsh");
    for word in words {
        line.push(' ');
        line.push_str(&quote(word));
    }
    line
}

/// Deletes `snapshots` (stopping at the first failure), migrates (aborting the job after
/// `timeout` with `on_timeout: abort`), then reads the domain's state on the target and here.
fn migrate_script(
    domain: &str,
    snapshots: &[String],
    words: &[String],
    uri: &str,
    args: &VirshMigrateArgs,
) -> String {
    let (d, t) = (quote(domain), quote(uri));
    let mut body = String::new();
    for (index, name) in snapshots.iter().enumerate() {
        body.push_str(&format!(
            "echo '@@rpatch:step {index}'\nvirsh snapshot-delete --domain {d} --snapshotname {} 2>&1\n\
             rc=$?\necho \"@@rpatch:rc $rc\"\n[ \"$rc\" -eq 0 ] || {{ echo '@@rpatch:end'; exit 0; }}\n",
            quote(name)
        ));
    }
    let at = snapshots.len();
    let abort = u8::from(args.on_timeout == OnTimeout::Abort);
    body.push_str(&format!("echo '@@rpatch:step {at}'\n"));
    if let Some(ms) = args.max_downtime_ms.filter(|_| args.live) {
        // Set on the running domain just before the job starts; libvirt hands it to QEMU,
        // which applies it to the migration that follows. A refusal is the step's failure.
        body.push_str(&format!(
            "if [ \"$(virsh domstate --domain {d} 2>/dev/null)\" = running ]; then\n  \
             dt=$(virsh migrate-setmaxdowntime --domain {d} --downtime {ms} 2>&1) || \
             {{ echo \"$dt\"; echo '@@rpatch:rc 1'; echo '@@rpatch:end'; exit 0; }}\nfi\n"
        ));
    }
    body.push_str(&format!(
        r#"out=$(mktemp) || {{ echo "@@rpatch:rc 1"; echo '@@rpatch:end'; exit 0; }}
rm -f "$out.rc"
( {migrate} >"$out" 2>&1; echo $? >"$out.rc" ) &
deadline=$(( $(date +%s) + {timeout} ))
aborted=0
while [ ! -s "$out.rc" ]; do
  if [ {abort} = 1 ] && [ "$aborted" = 0 ] && [ "$(date +%s)" -ge "$deadline" ]; then
    virsh domjobabort --domain {d} >/dev/null 2>&1
    aborted=1
  fi
  sleep 0.2
done
wait
cat "$out"
echo "@@rpatch:rc $(cat "$out.rc")"
rm -f "$out" "$out.rc"
[ "$aborted" = 0 ] || echo '@@rpatch:aborted'
echo '@@rpatch:step {after}'
virsh -c {t} domstate --domain {d} 2>&1
echo "@@rpatch:rc $?"
echo '@@rpatch:step {left}'
virsh domstate --domain {d} 2>&1
echo "@@rpatch:rc $?"
echo '@@rpatch:end'
"#,
        migrate = command_line(words),
        timeout = args.timeout,
        after = at + 1,
        left = at + 2,
    ));
    virsh::script::with_prelude(&body)
}

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    domain: &'a str,
    /// The host it ran on.
    source: &'a str,
    /// The target as named (inventory name, or the URI).
    target: &'a str,
    /// The target's libvirt URI.
    target_uri: &'a str,
    /// Its state on the source before.
    before: &'a str,
    /// Its state on the target after (empty in check mode).
    state: &'a str,
    /// Seconds the migration took (0 when nothing moved).
    elapsed: f64,
    /// Snapshots deleted first (or that would be, in check mode).
    snapshots_removed: &'a [String],
}

fn outcome(
    args: &VirshMigrateArgs,
    source: &str,
    target: &Target,
    here: Option<&parse::Domain>,
    state: &str,
    elapsed: Option<Duration>,
    snapshots: &[String],
) -> ModuleResult {
    let moved = elapsed.is_some() || state.is_empty();
    let result = if moved {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    result.with_data(&Outcome {
        domain: &args.domain,
        source,
        target: &target.name,
        target_uri: &target.uri,
        before: here.map_or("absent", |d| d.state.as_str()),
        state,
        elapsed: elapsed.map_or(0.0, |e| (e.as_secs_f64() * 10.0).round() / 10.0),
        snapshots_removed: snapshots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(yaml: &str) -> VirshMigrateArgs {
        let json: serde_json::Value = serde_yaml::from_str(yaml).expect("yaml");
        args::parse(&crate::vars::from_json(&json)).expect("valid arguments")
    }

    fn domain(state: &str, snapshots: &[&str]) -> parse::Domain {
        parse::Domain {
            state: state.into(),
            snapshots: snapshots.iter().map(|s| (*s).to_string()).collect(),
            ..parse::Domain::default()
        }
    }

    fn target() -> Target {
        Target {
            name: "virthost02".into(),
            uri: "qemu+tcp://127.0.0.1:1/system".into(),
        }
    }

    fn report() -> parse::Report {
        let mut report = parse::Report::default();
        report
            .domains
            .insert("db01".into(), domain("running", &[]));
        report
    }

    #[test]
    fn a_domain_running_on_the_target_and_not_here_is_left_alone() {
        let a = args("{domain: web01, target: virthost02}");
        let running = There {
            state: Some("running".into()),
        };
        assert_eq!(decide(&a, None, &running, &report(), &target()).ok(), Some(None));
        let off = domain("shut off", &[]);
        assert_eq!(
            decide(&a, Some(&off), &running, &report(), &target()).ok(),
            Some(None)
        );
        let message = decide(&a, None, &There::default(), &report(), &target())
            .expect_err("unknown")
            .to_string();
        assert_eq!(
            message,
            "domain `web01` is not defined on this host (domains: db01)"
        );
    }

    #[test]
    fn snapshots_are_refused_unless_removal_is_asked_for() {
        let running = domain("running", &["s1", "s2"]);
        let a = args("{domain: web01, target: virthost02}");
        let message = decide(&a, Some(&running), &There::default(), &report(), &target())
            .expect_err("refused")
            .to_string();
        assert!(
            message.contains("`web01` has 2 snapshot(s) (s1, s2)")
                && message.contains("cannot migrate domain with 2 snapshots")
                && message.contains("`remove_snapshots: true`"),
            "{message}"
        );
        let a = args("{domain: web01, target: virthost02, remove_snapshots: true}");
        assert_eq!(
            decide(&a, Some(&running), &There::default(), &report(), &target()).ok(),
            Some(Some(vec!["s2".to_string(), "s1".to_string()]))
        );
    }

    #[test]
    fn a_shut_off_domain_moves_only_offline_and_persistent() {
        let off = domain("shut off", &[]);
        let live = args("{domain: web01, target: virthost02}");
        assert!(decide(&live, Some(&off), &There::default(), &report(), &target()).is_err());
        let offline = args("{domain: web01, target: virthost02, live: false, persistent: true}");
        assert_eq!(
            decide(&offline, Some(&off), &There::default(), &report(), &target()).ok(),
            Some(Some(Vec::new()))
        );
        let words = migrate_words(&offline, Some(&off), "qemu:///x");
        assert_eq!(
            words,
            ["migrate", "--offline", "--persistent", "--domain", "web01", "--desturi", "qemu:///x"]
        );
    }

    #[test]
    fn the_command_carries_every_option_and_quotes_every_word() {
        let a = args(
            "{domain: \"we b;x\", target: virthost02, persistent: true, undefinesource: true, \
             p2p: true, unsafe: true, copy_storage: all, bandwidth: 50, timeout: 30, on_timeout: suspend}",
        );
        let running = domain("running", &[]);
        let words = migrate_words(&a, Some(&running), "qemu+ssh://h'x/system");
        let line = command_line(&words);
        assert_eq!(
            line,
            "virsh migrate --live --persistent --undefinesource --p2p --unsafe \
             --copy-storage-all --bandwidth 50 --timeout 30 --timeout-suspend --domain 'we b;x' \
             --desturi 'qemu+ssh://h'\"'\"'x/system'"
        );
        for script in [
            probe_script("we b;x", "qemu+ssh://h'x/system"),
            migrate_script("we b;x", &["a$(b)".into()], &words, "u'ri", &a),
        ] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", &script])
                .status()
                .expect("sh");
            assert!(status.success(), "sh -n refused:\n{script}");
        }
    }

    #[test]
    fn auto_converge_and_max_downtime_apply_to_a_live_migration() {
        let a = args(
            "{domain: web01, target: virthost02, auto_converge: true, max_downtime_ms: \"300\"}",
        );
        let running = domain("running", &[]);
        let words = migrate_words(&a, Some(&running), "qemu:///x");
        assert_eq!(
            command_line(&words),
            "virsh migrate --live --auto-converge --domain web01 --desturi qemu:///x"
        );
        let script = migrate_script("web01", &[], &words, "qemu:///x", &a);
        assert!(
            script.contains("virsh migrate-setmaxdowntime --domain web01 --downtime 300"),
            "{script}"
        );
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", &script])
            .status()
            .expect("sh");
        assert!(status.success(), "sh -n refused:\n{script}");
        // Offline, neither applies.
        let off = domain("shut off", &[]);
        let words = migrate_words(&a, Some(&off), "qemu:///x");
        assert!(!words.iter().any(|w| w == "--auto-converge"), "{words:?}");
    }

    #[test]
    fn an_abort_that_came_too_late_is_no_failure_and_one_in_time_says_so() {
        let a = args("{domain: web01, target: virthost02, timeout: 5}");
        let report = |rc: i32| {
            parse::applied(&format!(
                "@@rpatch:start\n@@rpatch:step 0\nerror: operation aborted: migration out job: \
                 canceled by client\n@@rpatch:rc {rc}\n@@rpatch:aborted\n@@rpatch:end\n"
            ))
        };
        assert!(read_migration(&report(0), 0, &a, &target()).is_ok());
        let message = read_migration(&report(1), 0, &a, &target())
            .expect_err("aborted")
            .to_string();
        assert!(
            message.starts_with(
                "migrating `web01` to virthost02 did not finish within 5 s: aborted (`web01` \
                 stays on this host): error: operation aborted"
            ),
            "{message}"
        );
    }

    #[test]
    fn the_probe_tells_an_unreachable_target_and_the_same_host() {
        let report = |text: &str| parse::applied(text);
        let unreachable = report(
            "@@rpatch:start\n@@rpatch:step 0\nabc\n@@rpatch:rc 0\n@@rpatch:step 1\n\
             error: failed to connect to the hypervisor\nerror: unable to connect to server at \
             '127.0.0.1:16699': Connection refused\n@@rpatch:rc 1\n@@rpatch:end\n",
        );
        let message = read_probe(&unreachable, &target()).expect_err("unreachable").to_string();
        assert!(
            message.starts_with("target virthost02 cannot be reached at `qemu+tcp://127.0.0.1:1/system`: error: failed to connect"),
            "{message}"
        );
        let same = report(
            "@@rpatch:start\n@@rpatch:step 0\nabc\n@@rpatch:rc 0\n@@rpatch:step 1\nabc\n\
             @@rpatch:rc 0\n@@rpatch:step 2\nrunning\n\n@@rpatch:rc 0\n@@rpatch:end\n",
        );
        assert!(read_probe(&same, &target())
            .expect_err("same")
            .to_string()
            .contains("is this same hypervisor (host UUID abc)"));
        let absent = report(
            "@@rpatch:start\n@@rpatch:step 0\nabc\n@@rpatch:rc 0\n@@rpatch:step 1\ndef\n\
             @@rpatch:rc 0\n@@rpatch:step 2\nerror: failed to get domain 'web01'\n\
             @@rpatch:rc 1\n@@rpatch:end\n",
        );
        assert_eq!(read_probe(&absent, &target()).ok(), Some(There { state: None }));
    }
}
