//! `rpatch status -i INVENTORY [--from-journal] [--json] [--report FILE.html]`: where each host
//! stands, from the run journals (see [`crate::compliance`]), after gathering patch facts from
//! the hosts over SSH unless `--from-journal`.

use std::io::IsTerminal as _;

use super::args::{Rollout, StatusArgs};
use super::error::CliError;
use super::journal::runs_dir;
use super::load::load_inventory;
use crate::compliance::{compliance, html, table};
use crate::runner::exit;

/// Prints the hosts' compliance as a table or JSON, and writes the HTML page when asked.
///
/// Exits with the gathering run's code when that run did not end ok (an unreachable host is
/// shown with its failure, and cron still hears of it).
pub async fn status(mut args: StatusArgs, verbosity: u8) -> Result<i32, CliError> {
    let gathered = if args.from_journal {
        exit::OK
    } else {
        eprintln!(
            "rpatch: gathering patch facts over SSH (--from-journal reads the journals only)"
        );
        super::adhoc::gather_patch_facts(gathering(&args), verbosity).await?
    };
    super::ansible_cfg::AnsibleConfig::for_sources(&mut args.sources)?;
    let inventory = load_inventory(&args.sources)?;
    let hosts: Vec<String> = match &args.limit {
        Some(limit) => inventory.select_limit(limit)?,
        None => inventory.hosts().map(|h| h.name.clone()).collect(),
    };
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
    Ok(gathered)
}

/// The ad-hoc rollout that gathers the facts: all hosts (or `--limit`) at once, no gates.
fn gathering(args: &StatusArgs) -> Rollout {
    Rollout {
        sources: args.sources.clone(),
        limit: args.limit.clone(),
        serial: None,
        gate_http: Vec::new(),
        gate_command: Vec::new(),
        check: false,
        forks: args.forks,
        connection: args.connection.clone(),
        emergency: false,
        runs: args.runs.clone(),
        json: false,
        metrics_file: None,
    }
}
