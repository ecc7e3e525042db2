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
    let connection = super::settings::connection_from_flags(&flags)?;
    let ssh = SshSettings {
        config_file: connection.ssh_config.map(Into::into),
        known_hosts: (!connection.known_hosts.is_empty())
            .then(|| connection.known_hosts.iter().map(Into::into).collect()),
        host_key_checking: connection.host_key_checking,
        ..SshSettings::default()
    };
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
