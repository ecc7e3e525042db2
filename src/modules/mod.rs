//! Built-in modules: what a task can do on a host, and the table that lists them.
//!
//! Each module lives in its own file: a typed argument struct (unknown arguments are errors)
//! and a unit struct implementing [`Module`], which carries everything about the module —
//! its names, argument checks, free-form syntax, check-mode support and the run itself. The
//! table at the end of this file lists every module once; the loader finds modules there by
//! name, did-you-mean suggests from it, and the runner calls [`run`]. Modules never print:
//! they return a [`ModuleResult`] and the runner turns it into events.
//!
//! # Adding a module
//!
//! Say `zypper`:
//! 1. Write `src/modules/zypper.rs` (see `ping.rs` for a small example) with
//!    - `ZypperArgs`, deriving `Deserialize` with `#[serde(deny_unknown_fields)]`;
//!    - `pub(crate) struct Zypper;` and `#[async_trait] impl Module for Zypper`:
//!      `names` (`"zypper"` first, then `"community.general.zypper"` where Ansible has
//!      the same module), `validate`
//!      (`args::validate::<ZypperArgs>(args, templated)`), `check_mode`, and `run`, which reads
//!      its arguments with `args::parse::<ZypperArgs>` and returns `ModuleError::Transport`
//!      (a plain `?` on a transport call) when the host cannot be reached or
//!      `ModuleError::Failed` when the host answered but the work failed;
//!    - its unit tests.
//! 2. Add one line to the table below: `zypper: [Zypper],` (the file, then the modules it defines).
//!
//! Nothing else changes: the loader, did-you-mean and the runner all read the table.

pub(crate) mod approval;
pub mod args;
mod context;
mod error;
mod file_edit;
mod free_form;
mod govc;
mod lenient;
mod lookup;
mod module;
mod patch_record;
mod powershell;
mod remote_file;
mod result;
mod virsh;

pub use args::ArgError;
/// The background jobs of tasks run with `async:`, which `async_status` reports on.
pub(crate) mod async_jobs {
    pub(crate) use super::async_status::{
        job_finished, job_keys, job_started, new_job_id, open_results_file, write_results_file,
    };
}
pub use context::ModuleContext;
pub use error::ModuleError;
pub(crate) use find::glob_to_regex;
pub use free_form::FreeForm;
pub(crate) use lookup::{lookup, names_in_collection, short_names};
pub(crate) use module::run;
pub use module::{CheckMode, Module};
pub use patch_record::PatchRecord;
pub use result::{Diff, ModuleResult, JOURNAL_KEY, VERBOSE_ALWAYS};
/// Fact gathering, which the runner also runs on its own before a play's tasks.
pub(crate) use setup::Setup;

/// Declares each module file and lists the modules it defines, in order, in [`MODULES`].
macro_rules! module_table {
    ($($file:ident: [$($module:ident),+],)+) => {
        $(mod $file;)+

        /// Every built-in module, once; did-you-mean considers them in this order.
        pub(crate) static MODULES: &[&dyn Module] = &[$($(&$file::$module),+),+];
    };
}

// The table: one line per module file.
module_table! {
    command: [Command, Shell, Raw],
    debug: [Debug],
    set_fact: [SetFact],
    inventory_change: [AddHost, GroupBy],
    include_vars: [IncludeVars],
    assert_fail: [Assert, Fail],
    ping: [Ping],
    stat: [Stat],
    find: [Find],
    pause: [Pause],
    wait_for: [WaitFor],
    wait_for_connection: [WaitForConnection],
    setup: [Setup],
    copy: [Copy],
    template_module: [Template],
    file: [File],
    fetch: [Fetch],
    lineinfile: [Lineinfile],
    slurp: [Slurp],
    replace: [Replace],
    blockinfile: [Blockinfile],
    sysctl: [Sysctl],
    cron: [Cron],
    group: [Group],
    user: [User],
    getent: [Getent],
    reboot: [Reboot],
    service: [Service, Systemd],
    needrestart: [Needrestart],
    dnf: [Dnf, Yum],
    apt: [Apt],
    zypper: [Zypper],
    zypper_repository: [ZypperRepository],
    pacman: [Pacman],
    apt_repository: [AptRepository],
    package: [Package],
    patch_facts: [PatchFactsModule],
    virsh_facts: [VirshFacts],
    virsh_snapshot: [VirshSnapshot],
    virsh_domain: [VirshDomain],
    uri: [Uri],
    async_status: [AsyncStatus],
    get_url: [GetUrl],
    package_facts: [PackageFacts],
    script: [Script],
    service_facts: [ServiceFacts],
    unarchive: [Unarchive],
    virsh_migrate: [VirshMigrate],
    govc_snapshot: [GovcSnapshot],
    vmware_guest_snapshot: [VmwareGuestSnapshot],
    govc_vmotion: [GovcVmotion],
    govc_host_maintenance: [GovcHostMaintenance],
    govc_evacuate: [GovcEvacuate],
    govc_facts: [GovcFacts],
    win_updates: [WinUpdates],
    win_reboot: [WinReboot],
    win_command: [WinCommand, WinShell],
    win_service: [WinService],
    win_ping: [WinPing],
    dpkg_selections: [DpkgSelections],
    virsh_evacuate: [VirshEvacuate],
    virt: [Virt],
}
