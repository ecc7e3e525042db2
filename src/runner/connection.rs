//! Choosing a host's transport and privilege escalation from its variables.

use std::sync::Arc;

use super::options::{RunOptions, SshSettings};
use crate::template::Templar;
use crate::transport::{
    Become, BecomeMethod, LocalTransport, SshOptions, SshTransport, Transport, TransportError,
};
use crate::vars::Value;

/// Reads a variable from a scope as a string, if set and not empty.
fn var_string(scope: &Value, templar: &Templar, name: &str) -> Option<String> {
    let raw = scope
        .get_attr(name)
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())?;
    let rendered = templar.render_value(&raw, scope).unwrap_or(raw);
    let text = rendered
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| rendered.to_string());
    (!text.is_empty()).then_some(text)
}

/// Opens the transport for a host (`ansible_connection`, or the play's `connection:`).
pub fn transport_for(
    scope: &Value,
    templar: &Templar,
    play_connection: Option<&str>,
    ssh: &SshSettings,
) -> Result<Arc<dyn Transport>, TransportError> {
    let connection = play_connection
        .map(str::to_string)
        .or_else(|| var_string(scope, templar, "ansible_connection"))
        .or_else(|| ssh.connection.clone())
        .unwrap_or_else(|| "ssh".to_string());
    match connection.as_str() {
        "local" => Ok(Arc::new(LocalTransport)),
        "ssh" | "smart" | "paramiko" => {
            let host = ssh_options(scope, templar)?;
            // Command-line settings are defaults: the host's own variables win (Ansible's order).
            let mut ssh_args = ssh.ssh_args.clone();
            ssh_args.extend(host.ssh_args.iter().cloned());
            let options = SshOptions {
                config_file: ssh.config_file.clone(),
                known_hosts_files: ssh.known_hosts.clone(),
                host_key_policy: ssh.host_key_checking,
                password: host.password.clone().or_else(|| ssh.password.clone()),
                private_key_file: host
                    .private_key_file
                    .clone()
                    .or_else(|| ssh.private_key_file.clone()),
                connect_timeout: host.connect_timeout.or(ssh.connect_timeout),
                ssh_args,
                ..host
            };
            Ok(Arc::new(SshTransport::new(&options)?))
        }
        other => Err(TransportError::Unsupported(other.to_string())),
    }
}

/// SSH settings from `ansible_host`, `ansible_port`, `ansible_user`,
/// `ansible_ssh_private_key_file` and (only when set) `ansible_password`.
/// `ansible_ssh_common_args` and `ansible_ssh_extra_args` are split into words for the
/// transport, which honours `-o`, `-J`, `-p`, `-i`, `-l`, `-F` and refuses anything else.
///
/// Where both spellings are set, the `ansible_ssh_*` one wins, as in ansible-core's ssh
/// connection plugin (its option `vars:` lists `ansible_port` then `ansible_ssh_port`, and the
/// later entry wins).
fn ssh_options(scope: &Value, templar: &Templar) -> Result<SshOptions, TransportError> {
    let first = |names: &[&str]| names.iter().find_map(|n| var_string(scope, templar, n));
    let name = first(&["inventory_hostname"]).unwrap_or_default();
    let port = match first(&["ansible_ssh_port", "ansible_port"]) {
        Some(text) => Some(text.trim().parse::<u16>().map_err(|_| {
            TransportError::Connect(format!(
                "{name}: ansible_port `{text}` is not a port number"
            ))
        })?),
        None => None,
    };
    let timeout = match first(&["ansible_timeout", "ansible_ssh_timeout"]) {
        Some(text) => Some(crate::seconds::seconds_from_text(&text).map_err(|error| {
            TransportError::Connect(format!("{name}: ansible_timeout: {error}"))
        })?),
        None => None,
    };
    Ok(SshOptions {
        host: first(&["ansible_ssh_host", "ansible_host"]),
        port,
        user: first(&["ansible_ssh_user", "ansible_user"]),
        private_key_file: first(&["ansible_ssh_private_key_file", "ansible_private_key_file"])
            .map(std::path::PathBuf::from),
        password: first(&[
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_ssh_password",
        ]),
        connect_timeout: timeout,
        ssh_args: ssh_args(scope, templar, &name)?,
        persistent_shell: first(&["rpatch_persistent_shell"]).map(|v| truthy(&v)),
        name,
        ..SshOptions::default()
    })
}

/// `ansible_ssh_common_args` then `ansible_ssh_extra_args`, split as a shell would.
fn ssh_args(scope: &Value, templar: &Templar, name: &str) -> Result<Vec<String>, TransportError> {
    let mut words = Vec::new();
    for var in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(text) = var_string(scope, templar, var) {
            words.extend(shlex::split(&text).ok_or_else(|| {
                TransportError::Connect(format!("{name}: {var}: unbalanced quotes in `{text}`"))
            })?);
        }
    }
    Ok(words)
}

/// The task's escalation settings, if it escalates.
pub fn escalation_for(
    scope: &Value,
    templar: &Templar,
    settings: &crate::playbook::Inherited,
    options: &RunOptions,
) -> Result<Option<Become>, crate::template::TemplateError> {
    let enabled = match &settings.become_enabled {
        Some(flag) => templar.eval_condition_value(flag, scope)?,
        None => {
            options.become_all
                || var_string(scope, templar, "ansible_become").is_some_and(|v| truthy(&v))
        }
    };
    if !enabled {
        return Ok(None);
    }
    let user = match &settings.become_user {
        Some(user) => templar.render_value(user, scope)?.to_string(),
        None => var_string(scope, templar, "ansible_become_user")
            .or_else(|| options.become_user.clone())
            .unwrap_or_else(|| "root".into()),
    };
    let method = settings
        .become_method
        .clone()
        .or_else(|| var_string(scope, templar, "ansible_become_method"))
        .or_else(|| options.become_method.clone());
    let method = match method.as_deref() {
        Some("su") => BecomeMethod::Su,
        _ => BecomeMethod::Sudo,
    };
    let password = options
        .become_password
        .clone()
        .or_else(|| var_string(scope, templar, "ansible_become_password"))
        .or_else(|| var_string(scope, templar, "ansible_become_pass"));
    Ok(Some(Become {
        user,
        method,
        flags: settings.become_flags.clone().unwrap_or_default(),
        password,
    }))
}

fn truthy(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "yes" | "1" | "on"
    )
}
