//! `rpatch inventory --discover`: ask the hypervisors for their domains, print the topology
//! found, and keep it for later runs and plans (see `inventory::discover`).

use super::args::{ConnectionArgs, InventoryArgs};
use super::error::CliError;
use super::load::inventory_paths;
use crate::inventory::discover::{self, Topology};
use crate::inventory::discovered::{self, Saved};
use crate::inventory::Inventory;
use crate::rolling::state_dir::StateDir;
use crate::runner::{exit, SshSettings};

/// Discovers, prints and saves the topology; exit 3 when a hypervisor could not be asked.
pub async fn discover(mut args: InventoryArgs) -> Result<i32, CliError> {
    super::ansible_cfg::AnsibleConfig::for_sources(&mut args.sources)?;
    let paths = inventory_paths(&args.sources)?;
    let inventory = Inventory::load(&paths)?;
    let hypervisors = match &args.hypervisors {
        Some(pattern) => inventory.select_limit(pattern)?,
        None => discover::hypervisors(&inventory),
    };
    if hypervisors.is_empty() {
        eprintln!(
            "no hypervisor to ask: put them in a `hypervisors` group, give them \
             `rpatch_libvirt_uri`, or name them with --hypervisors"
        );
        return Ok(exit::BAD_OPTIONS);
    }
    let flags = ConnectionArgs {
        user: None,
        escalate: args.escalate,
        ..ConnectionArgs::default()
    };
    let ssh = ssh_settings(&flags)?;
    let topology = discover::discover(&inventory, &hypervisors, &ssh, args.escalate).await;
    print(&topology);
    let saved = Saved {
        discovered_at: jiff::Timestamp::now(),
        topology,
    };
    let failed = saved.topology.hypervisors.iter().any(|h| h.error.is_some());
    match StateDir::from_env()
        .map_err(discovered::SaveError::from)
        .and_then(|state| discovered::save(&state, &paths, &saved))
    {
        Ok(file) => outln!("saved to {}", file.display()),
        Err(error) => {
            eprintln!("error: the topology was not saved: {error}");
            return Ok(exit::ERROR);
        }
    }
    Ok(if failed {
        exit::UNREACHABLE_HOSTS
    } else {
        exit::OK
    })
}

/// How discovery connects: the SSH settings of these connection flags.
fn ssh_settings(flags: &ConnectionArgs) -> Result<SshSettings, CliError> {
    let connection = super::settings::connection_from_flags(flags)?;
    Ok(SshSettings {
        config_file: connection.ssh_config.map(Into::into),
        known_hosts: (!connection.known_hosts.is_empty())
            .then(|| connection.known_hosts.iter().map(Into::into).collect()),
        host_key_checking: connection.host_key_checking,
        ..SshSettings::default()
    })
}

/// A play's `discover: true`: before a run is planned, asks the hypervisors of the inventory
/// (with sudo, as virsh needs root) for their domains, places the guests the inventory does
/// not place, and keeps the result as `rpatch inventory --discover` does (so `plan` and
/// `resume` see the same topology). A hypervisor that cannot be asked is a warning: its guests
/// stay where the inventory or an earlier discovery put them.
pub(super) async fn before_run(
    inventory: &mut Inventory,
    paths: &[std::path::PathBuf],
    flags: &ConnectionArgs,
) -> Result<(), CliError> {
    let hypervisors = discover::hypervisors(inventory);
    if hypervisors.is_empty() {
        eprintln!("[WARNING]: discover: no hypervisor to ask (no `hypervisors` group, no host with `rpatch_libvirt_uri`)");
        return Ok(());
    }
    let topology = discover::discover(inventory, &hypervisors, &ssh_settings(flags)?, true).await;
    for found in &topology.hypervisors {
        if let Some(error) = &found.error {
            eprintln!(
                "[WARNING]: discover: cannot ask {}: {error}",
                found.hypervisor
            );
        }
    }
    let placed = inventory.apply_discovered(&topology);
    if !placed.is_empty() {
        eprintln!("rpatch: discovered the hypervisor of {}", placed.join(", "));
    }
    let saved = Saved {
        discovered_at: jiff::Timestamp::now(),
        topology,
    };
    if let Err(error) = StateDir::from_env()
        .map_err(discovered::SaveError::from)
        .and_then(|state| discovered::save(&state, paths, &saved))
    {
        eprintln!("[WARNING]: discover: the topology was not saved: {error}");
    }
    Ok(())
}

fn print(topology: &Topology) {
    for found in &topology.hypervisors {
        if let Some(error) = &found.error {
            outln!("{}: cannot ask: {error}", found.hypervisor);
            continue;
        }
        outln!("{}: {} domain(s)", found.hypervisor, found.domains.len());
        for (domain, state) in &found.domains {
            let guest = topology
                .guests
                .iter()
                .find(|(_, at)| at.hypervisor == found.hypervisor && &at.domain == domain)
                .map_or_else(
                    || "(no inventory host)".to_string(),
                    |(guest, _)| format!("guest {guest}"),
                );
            outln!("  {domain:<24} {state:<10} {guest}");
        }
    }
}
