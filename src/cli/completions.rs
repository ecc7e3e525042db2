//! Shell integration: completion scripts (clap_complete) and the man page (clap_mangen), both
//! generated from the same definition as the parser, so they never go stale.

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, CliError};
use crate::runner::exit;

/// `rpatch completions SHELL`: prints the completion script for `shell`.
pub(super) fn completions(shell: Shell) -> Result<i32, CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "rpatch", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(exit::OK)
}

/// `rpatch man`: prints the man page in roff.
pub(super) fn man() -> Result<i32, CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(CliError::ManPage)?;
    out!("{}", String::from_utf8_lossy(&page));
    Ok(exit::OK)
}
