//! `rpatch inventory --list | --graph | --host`.

use super::args::InventoryArgs;
use super::error::CliError;
use super::load::{inventory_paths, load_inventory};
use crate::runner::exit;

/// Prints the inventory in the requested view.
pub fn inventory(mut args: InventoryArgs) -> Result<i32, CliError> {
    super::ansible_cfg::AnsibleConfig::for_sources(&mut args.sources)?;
    let paths = inventory_paths(&args.sources)?;
    let mut inventory = load_inventory(&args.sources)?;
    super::load::apply_discovered(&mut inventory, &paths);
    let only = args
        .limit
        .as_deref()
        .map(|limit| inventory.select_limit(limit))
        .transpose()?;
    if args.list {
        outln!("{}", pretty(&inventory.list_json_limited(only.as_deref())));
    } else if let Some(name) = &args.host {
        let vars = inventory
            .host_json(name)
            .ok_or_else(|| CliError::UnknownHost(name.clone()))?;
        outln!("{}", pretty(&vars));
    } else if let Some(group) = &args.graph {
        let graph = inventory
            .graph_limited(Some(group), only.as_deref())
            .ok_or_else(|| CliError::UnknownGroup(group.clone()))?;
        out!("{graph}");
        if !graph.ends_with('\n') {
            outln!();
        }
    }
    Ok(exit::OK)
}

/// JSON as ansible-inventory prints it (`json.dumps(indent=4, sort_keys=True,
/// ensure_ascii=False)`: Python's float repr, `1.5e-07`).
fn pretty(value: &serde_json::Value) -> String {
    crate::template::result_json(value, Some(4))
}
