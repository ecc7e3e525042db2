//! `rpatch baseline list|show|diff|export`, and recording a run's baseline when it ends.

use std::path::Path;

use super::args::{BaselineAction, BaselineArgs};
use super::error::CliError;
use crate::baseline::{self, Baseline, BaselineStore};
use crate::runner::exit;

/// Runs `rpatch baseline ...`.
pub fn baseline(args: BaselineArgs) -> Result<i32, CliError> {
    let store = BaselineStore::from_env()?;
    match args.action {
        BaselineAction::List => list(&store)?,
        BaselineAction::Show { baseline } => print!("{}", show(&store.find(&baseline)?)),
        BaselineAction::Diff { a, b } => {
            let (a, b) = (store.find(&a)?, store.find(&b)?);
            let lines = baseline::diff(&a, &b);
            if lines.is_empty() {
                println!("{} and {} hold the same versions", a.run_id, b.run_id);
            }
            for line in lines {
                println!("{line}");
            }
        }
        BaselineAction::Export { baseline, file } => {
            let found = store.find(&baseline)?;
            baseline::write_file(&file, &found)?;
            eprintln!(
                "rpatch: baseline {} written to {}",
                found.run_id,
                file.display()
            );
        }
    }
    Ok(exit::OK)
}

fn list(store: &BaselineStore) -> Result<(), CliError> {
    let all = store.list()?;
    if all.is_empty() {
        println!(
            "no baselines in {} yet: a run that installs packages records one",
            store.dir().display()
        );
        return Ok(());
    }
    println!(
        "{:<22}  {:<20}  {:<11}  {:>8}  {:>5}  RELEASES",
        "BASELINE", "RECORDED", "RUN", "PACKAGES", "HOSTS"
    );
    for found in all {
        let hosts: usize = found.systems.values().map(|s| s.hosts.len()).sum();
        let releases: Vec<&str> = found.systems.keys().map(String::as_str).collect();
        println!(
            "{:<22}  {:<20}  {:<11}  {:>8}  {:>5}  {}",
            found.run_id,
            found.created.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            found.run_status,
            found.package_count(),
            hosts,
            releases.join(", ")
        );
    }
    Ok(())
}

/// A baseline as `rpatch baseline show` prints it.
fn show(found: &Baseline) -> String {
    let mut text = format!(
        "baseline {} (run {}, recorded {}, playbook {})\n",
        found.run_id, found.run_status, found.created, found.playbook
    );
    for (os, system) in &found.systems {
        let hosts: Vec<&str> = system.hosts.iter().map(String::as_str).collect();
        text.push_str(&format!("{os} (hosts: {})\n", hosts.join(", ")));
        let width = system.packages.keys().map(String::len).max().unwrap_or(0);
        for (name, version) in &system.packages {
            text.push_str(&format!("  {name:<width$}  {version}\n"));
        }
        for (name, versions) in &system.conflicts {
            let seen: Vec<&str> = versions.iter().map(String::as_str).collect();
            text.push_str(&format!(
                "  conflict: {name} was installed at {}\n",
                seen.join(" and ")
            ));
        }
    }
    text
}

/// Stores the baseline of the run whose journal this is, if it installed packages, and says
/// so on standard error. A baseline that cannot be stored is a warning: the run itself is done.
pub fn record_after_run(journal: &Path) {
    let recorded =
        BaselineStore::from_env().and_then(|store| baseline::record_run(journal, &store));
    match recorded {
        Ok(Some((found, path))) => {
            let releases: Vec<String> = found
                .systems
                .iter()
                .map(|(os, s)| format!("{os}: {} on {} host(s)", s.packages.len(), s.hosts.len()))
                .collect();
            eprintln!(
                "rpatch: baseline {} recorded ({}) in {}; use it with `baseline: {}`",
                found.run_id,
                releases.join("; "),
                path.display(),
                found.run_id
            );
        }
        Ok(None) => {}
        Err(error) => eprintln!("[WARNING]: the run's baseline was not recorded: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::BaselineRecord;

    #[test]
    fn show_lists_each_release_with_its_hosts_and_versions() {
        let mut found = Baseline::new(
            "20261201T100000Z-00aa",
            "/p/m.yml",
            jiff::Timestamp::UNIX_EPOCH,
        );
        found.run_status = "completed".into();
        found.add(
            "web1",
            &BaselineRecord {
                os: "debian-12".into(),
                packages: [
                    ("curl".into(), "7.88".into()),
                    ("openssl".into(), "3.0.15-1".into()),
                ]
                .into(),
            },
        );
        insta::assert_snapshot!(show(&found), @r"
        baseline 20261201T100000Z-00aa (run completed, recorded 1970-01-01T00:00:00Z, playbook /p/m.yml)
        debian-12 (hosts: web1)
          curl     7.88
          openssl  3.0.15-1
        ");
    }
}
