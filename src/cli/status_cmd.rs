//! `rpatch status -i INVENTORY [--json] [--report FILE.html]`: where each host stands, from the
//! run journals (see [`crate::compliance`]).

use std::io::IsTerminal as _;

use super::args::StatusArgs;
use super::error::CliError;
use super::journal::runs_dir;
use super::load::load_inventory;
use crate::compliance::{compliance, html, table};
use crate::runner::exit;

/// Prints the hosts' compliance as a table or JSON, and writes the HTML page when asked.
pub fn status(mut args: StatusArgs) -> Result<i32, CliError> {
    super::ansible_cfg::AnsibleConfig::for_sources(&mut args.sources)?;
    let inventory = load_inventory(&args.sources)?;
    let hosts: Vec<String> = inventory.hosts().map(|h| h.name.clone()).collect();
    let runs_dir = runs_dir(&args.runs)?;
    let baselines = crate::baseline::BaselineStore::from_env()?.list()?;
    let status = compliance(&hosts, &runs_dir, &baselines);
    if let Some(path) = &args.report {
        std::fs::write(path, html(&status)).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
        eprintln!("rpatch: status written to {}", path.display());
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        );
    } else {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        out!("{}", table(&status, colour));
    }
    Ok(exit::OK)
}
