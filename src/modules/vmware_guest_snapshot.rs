//! `vmware_guest_snapshot` (`community.vmware.vmware_guest_snapshot`): Ansible's snapshot
//! module under its own names and arguments, as an alias of `govc_snapshot`.
//!
//! `state: present|absent|revert|remove_all`, `snapshot_name`, the VM by `name` (with
//! `folder` and `datacenter`: an inventory path) or `uuid` (`-vm.uuid`), `description`,
//! `quiesce`, `memory_dump` (Ansible's default is false, so `-m=false` unless it is true),
//! `remove_children` (`-r`). The connection arguments (`hostname`/`port`, `username`,
//! `password`, `validate_certs`, `datacenter`) are set over the `govc_*` variables and reach
//! govc as `GOVC_*` in the script on its standard input, as for every govc module: the
//! password is on no command line and is masked in whatever govc prints.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::govc::{check_word, parse, Govc};
use super::govc_snapshot::{self, GovcSnapshotArgs, SnapshotState, VmFlag};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `vmware_guest_snapshot`, as Ansible names them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmwareGuestSnapshotArgs {
    /// vCenter or ESXi host name (becomes `GOVC_URL`, `https://HOST[:PORT]/sdk`).
    #[serde(default)]
    hostname: Option<String>,
    /// Its port.
    #[serde(default, deserialize_with = "lenient::opt_port")]
    port: Option<u16>,
    /// The user (`GOVC_USERNAME`).
    #[serde(default, alias = "admin", alias = "user")]
    username: Option<String>,
    /// The password (`GOVC_PASSWORD`, never on a command line).
    #[serde(default, alias = "pass", alias = "pwd")]
    password: Option<String>,
    /// Verify the server's certificate (`GOVC_INSECURE` is its opposite).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    validate_certs: Option<bool>,
    /// The datacenter (`GOVC_DATACENTER`).
    #[serde(default)]
    datacenter: Option<String>,
    /// The VM's folder (`/DC/vm/dir`, `vm/dir` or `dir`).
    #[serde(default)]
    folder: Option<String>,
    /// The VM's name.
    #[serde(default)]
    name: Option<String>,
    /// The VM's BIOS UUID, instead of its name.
    #[serde(default)]
    uuid: Option<String>,
    /// `present` (default), `absent`, `revert` or `remove_all`.
    #[serde(default)]
    state: AnsibleState,
    /// The snapshot.
    #[serde(default)]
    snapshot_name: Option<String>,
    /// `present`: its description.
    #[serde(default)]
    description: Option<String>,
    /// `present`: quiesce the guest file systems (VMware Tools).
    #[serde(default, deserialize_with = "lenient::bool")]
    quiesce: bool,
    /// `present`: include the VM's memory.
    #[serde(default, deserialize_with = "lenient::bool")]
    memory_dump: bool,
    /// `absent`: remove the snapshot's children too.
    #[serde(default, deserialize_with = "lenient::bool")]
    remove_children: bool,
}

/// Ansible's `state` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AnsibleState {
    #[default]
    Present,
    Absent,
    Revert,
    RemoveAll,
}

impl VmwareGuestSnapshotArgs {
    /// The VM as govc names it, and how.
    fn vm(&self) -> Result<(String, VmFlag), ModuleError> {
        if let Some(uuid) = self.uuid.as_deref().filter(|u| !u.is_empty()) {
            return Ok((uuid.to_string(), VmFlag::Uuid));
        }
        let name = self
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ModuleError::Failed("give the VM's `name` or `uuid`".into()))?;
        let Some(folder) = self.folder.as_deref().map(|f| f.trim_matches('/')) else {
            return Ok((name.to_string(), VmFlag::Name));
        };
        if folder.is_empty() {
            return Ok((name.to_string(), VmFlag::Name));
        }
        let datacenter = self.datacenter.as_deref().unwrap_or_default();
        let path = if folder.starts_with(&format!("{datacenter}/")) || datacenter.is_empty() {
            format!("/{folder}/{name}")
        } else if folder == "vm" || folder.starts_with("vm/") {
            format!("/{datacenter}/{folder}/{name}")
        } else {
            format!("/{datacenter}/vm/{folder}/{name}")
        };
        Ok((path, VmFlag::Name))
    }

    /// The connection: the `govc_*` variables, with what the task's arguments say over them.
    fn govc(&self, ctx: &ModuleContext<'_>, args: &GovcSnapshotArgs) -> Result<Govc, ModuleError> {
        let mut govc = Govc::from_vars(ctx, args.timeout())?;
        if let Some(host) = self.hostname.as_deref().filter(|h| !h.is_empty()) {
            check_word("hostname", host)?;
            let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
            govc.set("govc_url", format!("https://{host}{port}/sdk"))?;
        }
        let settings = [
            ("govc_username", self.username.clone()),
            ("govc_password", self.password.clone()),
            ("govc_datacenter", self.datacenter.clone()),
            ("govc_insecure", self.validate_certs.map(|v| (!v).to_string())),
        ];
        for (var, value) in settings {
            if let Some(value) = value {
                govc.set(var, value)?;
            }
        }
        Ok(govc)
    }
}

/// `vmware_guest_snapshot`: `govc_snapshot` with Ansible's arguments.
pub(crate) struct VmwareGuestSnapshot;

#[async_trait]
impl Module for VmwareGuestSnapshot {
    fn names(&self) -> &'static [&'static str] {
        &[
            "vmware_guest_snapshot",
            "community.vmware.vmware_guest_snapshot",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<VmwareGuestSnapshotArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: VmwareGuestSnapshotArgs = args::parse(args)?;
        let (vm, flag) = args.vm()?;
        let snapshot = || {
            args.snapshot_name
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ModuleError::Failed("this state needs `snapshot_name`".into()))
        };
        let inner = match args.state {
            AnsibleState::Present => {
                GovcSnapshotArgs::new(SnapshotState::Present, vm.clone(), flag, snapshot()?)
                    .creating(args.description.clone(), args.memory_dump, args.quiesce)
            }
            AnsibleState::Absent => {
                GovcSnapshotArgs::new(SnapshotState::Absent, vm.clone(), flag, snapshot()?)
                    .with_children(args.remove_children)
            }
            AnsibleState::Revert => {
                GovcSnapshotArgs::new(SnapshotState::Reverted, vm.clone(), flag, snapshot()?)
            }
            // govc removes every snapshot of the VM for the name `*`.
            AnsibleState::RemoveAll => {
                GovcSnapshotArgs::new(SnapshotState::Absent, vm.clone(), flag, "*".into())
            }
        };
        let govc = args.govc(ctx, &inner)?;
        if args.state == AnsibleState::RemoveAll && ctx.check_mode {
            let words = ["snapshot.tree", flag.flag(), vm.as_str()];
            let tree = parse::snapshot_tree_text(&govc.ok(ctx, &words).await?);
            let result = if tree.is_empty() {
                ModuleResult::ok().with_msg(format!("`{vm}` has no snapshots"))
            } else {
                ModuleResult::changed()
                    .with_msg(format!("would remove all {} snapshots of `{vm}`", tree.len()))
            };
            return Ok(result);
        }
        let mut result = govc_snapshot::apply(&govc, ctx, &inner).await?;
        if args.state == AnsibleState::RemoveAll && result.changed {
            result.msg = Some(format!("removed all snapshots of `{vm}`"));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: serde_json::Value) -> VmwareGuestSnapshotArgs {
        args::parse(&crate::vars::from_json(&json)).expect("valid arguments")
    }

    #[test]
    fn the_vm_is_its_name_its_folder_path_or_its_uuid() {
        let vm = |json| args(json).vm().expect("a VM");
        let named = serde_json::json!({"name": "web01"});
        assert_eq!(vm(named), ("web01".into(), VmFlag::Name));
        for folder in ["/DC0/vm/prod", "DC0/vm/prod", "vm/prod", "prod", "/prod/"] {
            let json = serde_json::json!({"name": "web01", "folder": folder, "datacenter": "DC0"});
            assert_eq!(vm(json).0, "/DC0/vm/prod/web01", "{folder}");
        }
        let json = serde_json::json!({"name": "web01", "uuid": "4213-ab"});
        assert_eq!(vm(json), ("4213-ab".into(), VmFlag::Uuid));
        assert!(args(serde_json::json!({})).vm().is_err());
    }
}
