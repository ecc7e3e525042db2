//! One settings value per run: `rpatch run` builds it from its flags and journals it, and both
//! `run` and `resume` turn it into the runner's options, so a resumed run repeats the original.

use std::path::PathBuf;
use std::time::Duration;

use super::args::ConnectionArgs;
use super::error::CliError;
use super::journal::absolute;
use crate::playbook::TagFilter;
use crate::rolling::journal::{ConnectionSettings, RunSettings};
use crate::runner::{RunOptions, SshSettings};
use crate::transport::ssh::expand_tilde;
use crate::transport::HostKeyPolicy;

/// The connection options a run uses: each flag, else its `RPATCH_*` variable, with paths
/// made absolute so they mean the same files to a resume started anywhere.
pub fn connection_from_flags(flags: &ConnectionArgs) -> Result<ConnectionSettings, CliError> {
    let known_hosts: Vec<PathBuf> = if flags.known_hosts.is_empty() {
        env_nonempty("RPATCH_KNOWN_HOSTS")
            .map(|value| value.split(':').map(expand_tilde).collect())
            .unwrap_or_default()
    } else {
        flags.known_hosts.clone()
    };
    let ssh_config = flags
        .config_file
        .clone()
        .or_else(|| env_nonempty("RPATCH_SSH_CONFIG").map(|value| expand_tilde(&value)));
    Ok(ConnectionSettings {
        ssh_config: ssh_config
            .as_deref()
            .map(absolute)
            .transpose()?
            .map(display),
        known_hosts: known_hosts
            .iter()
            .map(|path| absolute(path).map(display))
            .collect::<Result<_, _>>()?,
        // An invalid variable is left to the transport, which names it on every host.
        host_key_checking: flags.host_key_checking.or_else(|| {
            env_nonempty("RPATCH_HOST_KEY_CHECKING").and_then(|v| HostKeyPolicy::parse(&v))
        }),
        timeout: flags.timeout,
        ask_become_pass: flags.ask_become_pass,
        connect_timeout: flags.connect_timeout,
        private_key: flags
            .private_key
            .as_deref()
            .map(absolute)
            .transpose()?
            .map(display),
        ask_pass: flags.ask_pass,
        connection: flags.connection.clone(),
        become_user: flags.become_user.clone(),
        become_method: flags.become_method.clone(),
        ssh_args: usable_ssh_args(flags)?,
    })
}

/// The words of `--ssh-common-args` then `--ssh-extra-args` that rpatch's transport honours
/// (`-o Keyword=value` it knows, `-J`, `-p`, `-i`, `-l`, `-F`); every other option is named in
/// a warning and left out, so one unknown `-o` does not stop the run.
fn usable_ssh_args(flags: &ConnectionArgs) -> Result<Vec<String>, CliError> {
    let mut usable = Vec::new();
    for (flag, text) in [
        ("--ssh-common-args", &flags.ssh_common_args),
        ("--ssh-extra-args", &flags.ssh_extra_args),
    ] {
        let Some(text) = text else { continue };
        let words = shlex::split(text).ok_or_else(|| CliError::SshArgs {
            flag,
            message: format!("unbalanced quotes in `{text}`"),
        })?;
        let mut words = words.into_iter().peekable();
        while let Some(word) = words.next() {
            let mut option = vec![word.clone()];
            // `-o X=y` and `-J host` carry their value in the next word; `-oX=y` attached.
            if word.len() == 2 && word.starts_with('-') {
                if let Some(value) = words.next_if(|next| !next.starts_with('-')) {
                    option.push(value);
                }
            }
            match crate::transport::ssh::check_ssh_args(&option) {
                Ok(()) => usable.extend(option),
                Err(reason) => eprintln!(
                    "[WARNING]: {flag}: ignoring `{}`: {reason}",
                    option.join(" ")
                ),
            }
        }
    }
    Ok(usable)
}

/// Reads the ssh_config files a run will use, so a missing `-F` file, an unknown keyword or a
/// bad value stops the run before it connects anywhere (as `ssh` refuses to start).
pub fn check_ssh_config(settings: &RunSettings) -> Result<(), CliError> {
    let explicit = settings
        .connection
        .as_ref()
        .and_then(|c| c.ssh_config.as_deref())
        .map(PathBuf::from);
    crate::transport::ssh::SshConfig::standard(explicit.as_deref())?;
    Ok(())
}

/// Applies the connection flags given to `rpatch resume` to a journaled run's settings and
/// returns a warning per difference: a journal that recorded no connection options (an older
/// rpatch) takes them all from the command line; otherwise each flag given overrides the
/// journaled value for this resume only.
pub fn apply_resume_flags(
    settings: &mut RunSettings,
    flags: &ConnectionArgs,
) -> Result<Vec<String>, CliError> {
    let given = connection_from_flags(flags)?;
    let mut warnings = Vec::new();
    let Some(recorded) = settings.connection.as_mut() else {
        warnings.push(
            "the run's journal predates recorded connection options (-F, --known-hosts, \
             --host-key-checking, --timeout, -K): connecting with the ones given to resume"
                .to_string(),
        );
        settings.connection = Some(given);
        override_user_and_become(settings, flags, &mut warnings);
        return Ok(warnings);
    };
    let mut differs = |flag: &str, journaled: String, now: String| {
        warnings.push(format!(
            "{flag} {now} overrides the run's {journaled} for this resume"
        ));
    };
    if flags.config_file.is_some() && given.ssh_config != recorded.ssh_config {
        differs("-F", shown(&recorded.ssh_config), shown(&given.ssh_config));
        recorded.ssh_config = given.ssh_config;
    }
    if !flags.known_hosts.is_empty() && given.known_hosts != recorded.known_hosts {
        differs(
            "--known-hosts",
            recorded.known_hosts.join(":"),
            given.known_hosts.join(":"),
        );
        recorded.known_hosts = given.known_hosts;
    }
    if let Some(policy) = flags.host_key_checking {
        if recorded.host_key_checking != Some(policy) {
            differs(
                "--host-key-checking",
                shown(&recorded.host_key_checking.map(HostKeyPolicy::as_str)),
                policy.as_str().to_string(),
            );
            recorded.host_key_checking = Some(policy);
        }
    }
    if flags.timeout.is_some() && flags.timeout != recorded.timeout {
        differs(
            "--task-timeout",
            shown(&recorded.timeout),
            shown(&flags.timeout),
        );
        recorded.timeout = flags.timeout;
    }
    if flags.connect_timeout.is_some() && flags.connect_timeout != recorded.connect_timeout {
        differs(
            "--timeout",
            shown(&recorded.connect_timeout),
            shown(&flags.connect_timeout),
        );
        recorded.connect_timeout = flags.connect_timeout;
    }
    if flags.private_key.is_some() && given.private_key != recorded.private_key {
        differs(
            "--private-key",
            shown(&recorded.private_key),
            shown(&given.private_key),
        );
        recorded.private_key = given.private_key;
    }
    if flags.connection.is_some() && flags.connection != recorded.connection {
        differs("-c", shown(&recorded.connection), shown(&flags.connection));
        recorded.connection = flags.connection.clone();
    }
    if flags.become_user.is_some() && flags.become_user != recorded.become_user {
        differs(
            "--become-user",
            shown(&recorded.become_user),
            shown(&flags.become_user),
        );
        recorded.become_user = flags.become_user.clone();
    }
    if flags.become_method.is_some() && flags.become_method != recorded.become_method {
        differs(
            "--become-method",
            shown(&recorded.become_method),
            shown(&flags.become_method),
        );
        recorded.become_method = flags.become_method.clone();
    }
    if (flags.ssh_common_args.is_some() || flags.ssh_extra_args.is_some())
        && given.ssh_args != recorded.ssh_args
    {
        differs(
            "--ssh-common-args/--ssh-extra-args",
            recorded.ssh_args.join(" "),
            given.ssh_args.join(" "),
        );
        recorded.ssh_args = given.ssh_args;
    }
    recorded.ask_become_pass |= flags.ask_become_pass;
    recorded.ask_pass |= flags.ask_pass;
    override_user_and_become(settings, flags, &mut warnings);
    Ok(warnings)
}

/// `-u` and `-b` given to resume, where they differ from the journal.
fn override_user_and_become(
    settings: &mut RunSettings,
    flags: &ConnectionArgs,
    warnings: &mut Vec<String>,
) {
    if let Some(user) = &flags.user {
        if settings.user.as_ref() != Some(user) {
            warnings.push(format!(
                "-u {user} overrides the run's user {} for this resume",
                shown(&settings.user)
            ));
            settings.user = Some(user.clone());
        }
    }
    if flags.escalate && !settings.become_all {
        warnings.push("-b: every task escalates in this resume, unlike the run".to_string());
        settings.become_all = true;
    }
}

/// Passwords asked for at the start of a run or resume (never journaled or printed).
#[derive(Default)]
pub struct Passwords {
    /// `-k`.
    pub ssh: Option<String>,
    /// `-K`.
    pub become_pass: Option<String>,
}

/// Asks for the passwords the settings say to ask for: SSH first, then become, as Ansible.
pub fn ask_passwords(settings: &RunSettings) -> Result<Passwords, CliError> {
    let connection = settings.connection.clone().unwrap_or_default();
    let ssh = if connection.ask_pass {
        Some(super::run::read_password("SSH password: ")?)
    } else {
        None
    };
    let become_pass = if connection.ask_become_pass {
        Some(super::run::read_password("BECOME password: ")?)
    } else {
        None
    };
    Ok(Passwords { ssh, become_pass })
}

/// The runner's options for a run with these settings.
pub fn run_options(
    settings: &RunSettings,
    limit: Option<Vec<String>>,
    passwords: Passwords,
    verbosity: u8,
) -> RunOptions {
    let become_password = passwords.become_pass;
    let connection = settings.connection.clone().unwrap_or_default();
    RunOptions {
        check: settings.check,
        diff: settings.diff,
        forks: settings.forks.max(1),
        tags: TagFilter::new(
            settings.tags.iter().map(String::as_str),
            settings.skip_tags.iter().map(String::as_str),
        ),
        limit,
        serial_override: None,
        remote_user: settings.user.clone(),
        become_all: settings.become_all,
        force_handlers: settings.force_handlers,
        become_password,
        verbosity,
        command_timeout: connection.timeout.map(Duration::from_secs),
        ssh: SshSettings {
            config_file: connection.ssh_config.map(PathBuf::from),
            known_hosts: (!connection.known_hosts.is_empty())
                .then(|| connection.known_hosts.iter().map(PathBuf::from).collect()),
            host_key_checking: connection.host_key_checking,
            connection: connection.connection.clone(),
            password: passwords.ssh,
            private_key_file: connection.private_key.map(PathBuf::from),
            connect_timeout: connection.connect_timeout.map(Duration::from_secs),
            ssh_args: connection.ssh_args.clone(),
        },
        become_user: connection.become_user.clone(),
        become_method: connection.become_method.clone(),
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn display(path: PathBuf) -> String {
    path.display().to_string()
}

/// A journaled or given value for a warning; "none" when unset.
fn shown<T: std::fmt::Display>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map_or_else(|| "(none)".to_string(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> ConnectionArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            flags: ConnectionArgs,
        }
        let mut all = vec!["rpatch"];
        all.extend_from_slice(args);
        Wrapper::parse_from(all).flags
    }

    fn journaled() -> RunSettings {
        RunSettings {
            user: Some("ops".into()),
            connection: Some(ConnectionSettings {
                ssh_config: Some("/etc/rpatch/ssh_config".into()),
                known_hosts: vec!["/etc/rpatch/known_hosts".into()],
                host_key_checking: Some(HostKeyPolicy::AcceptNew),
                timeout: Some(60),
                ask_become_pass: false,
                ..ConnectionSettings::default()
            }),
            ..RunSettings::default()
        }
    }

    #[test]
    fn a_resume_without_flags_connects_as_the_run_did() {
        let mut settings = journaled();
        let warnings = apply_resume_flags(&mut settings, &flags(&[])).expect("apply");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings, journaled());
        let options = run_options(&settings, None, Passwords::default(), 0);
        assert_eq!(
            options.ssh.config_file,
            Some(PathBuf::from("/etc/rpatch/ssh_config"))
        );
        assert_eq!(
            options.ssh.known_hosts,
            Some(vec![PathBuf::from("/etc/rpatch/known_hosts")])
        );
        assert_eq!(
            options.ssh.host_key_checking,
            Some(HostKeyPolicy::AcceptNew)
        );
        assert_eq!(options.command_timeout, Some(Duration::from_secs(60)));
        assert_eq!(options.remote_user.as_deref(), Some("ops"));
    }

    #[test]
    fn flags_given_to_resume_override_with_a_warning() {
        let mut settings = journaled();
        let warnings = apply_resume_flags(
            &mut settings,
            &flags(&["--task-timeout", "5", "-u", "root", "-K"]),
        )
        .expect("apply");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("--task-timeout 5"), "{warnings:?}");
        let connection = settings.connection.expect("connection");
        assert_eq!(connection.timeout, Some(5));
        assert!(connection.ask_become_pass);
        assert_eq!(settings.user.as_deref(), Some("root"));
    }

    #[test]
    fn ssh_args_keep_the_options_the_transport_honours_and_drop_the_rest() {
        let settings = connection_from_flags(&flags(&[
            "--ssh-common-args",
            "-C -o ServerAliveInterval=5 -oNoSuchOption=1",
            "--ssh-extra-args",
            "-J jump.example -q",
        ]))
        .expect("settings");
        assert_eq!(
            settings.ssh_args,
            ["-o", "ServerAliveInterval=5", "-J", "jump.example"]
        );
        let unbalanced = connection_from_flags(&flags(&["--ssh-common-args", "-o 'x"]));
        assert!(unbalanced.is_err());
    }

    #[test]
    fn an_old_journal_takes_the_flags_with_a_warning() {
        let mut settings = RunSettings::default();
        let warnings =
            apply_resume_flags(&mut settings, &flags(&["--task-timeout", "7"])).expect("apply");
        assert!(warnings[0].contains("predates"), "{warnings:?}");
        assert_eq!(settings.connection.expect("set").timeout, Some(7));
    }
}
