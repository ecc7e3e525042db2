//! `%` tokens and `~` in ssh_config values, as OpenSSH 9.2 expands them: which tokens each
//! keyword allows, `${VAR}` environment references, and the local facts (`%l`, `%L`, `%u`,
//! `%i`, `%d`, `%C`) they stand for.

use std::path::PathBuf;

use sha1::{Digest, Sha1};

/// Tokens `IdentityFile`, `UserKnownHostsFile` and `CertificateFile` allow (OpenSSH's
/// `DEFAULT_CLIENT_PERCENT_EXPAND_ARGS`).
pub const CLIENT_TOKENS: &str = "CLikl npdhru";
/// Tokens `ProxyCommand` allows.
pub const PROXY_COMMAND_TOKENS: &str = "hknpr";
/// Tokens `Match exec` allows.
pub const MATCH_EXEC_TOKENS: &str = "CLdhklnprui";
/// Tokens `HostName` allows.
pub const HOSTNAME_TOKENS: &str = "h";

/// What the tokens stand for, for one host.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// `%h`: the remote host name (after `HostName`).
    pub host: String,
    /// `%n`: the name given on the command line (the alias).
    pub original: String,
    /// `%p`: the port.
    pub port: String,
    /// `%r`: the remote user.
    pub remote_user: String,
    /// `%k`: `HostKeyAlias`, else the alias.
    pub key_alias: String,
    /// Facts about this machine and user.
    pub local: LocalFacts,
}

/// `%l %L %u %i %d`: this machine and the local user.
#[derive(Debug, Clone, Default)]
pub struct LocalFacts {
    /// `%l`: the local host name.
    pub hostname: String,
    /// `%u`: the local user name.
    pub user: String,
    /// `%i`: the local user id.
    pub uid: String,
    /// `%d`: the local user's home directory.
    pub home: String,
}

impl LocalFacts {
    /// The facts of the running process.
    pub fn current() -> Self {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        let entry = uid.and_then(passwd_by_uid);
        let user = entry
            .as_ref()
            .map(|(name, _)| name.clone())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "root".into());
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        Self {
            hostname,
            user,
            uid: uid.map(|u| u.to_string()).unwrap_or_else(|| "0".into()),
            home: super::home_dir().display().to_string(),
        }
    }
}

/// `(name, home)` of the passwd entry with this uid.
fn passwd_by_uid(uid: u32) -> Option<(String, String)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2].parse() == Ok(uid))
            .then(|| (fields[0].to_string(), fields[5].to_string()))
    })
}

/// The home directory of a named user (for `~user/`).
fn passwd_home(name: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[0] == name).then(|| fields[5].to_string())
    })
}

impl Tokens {
    fn value(&self, token: char) -> Option<String> {
        Some(match token {
            'h' => self.host.clone(),
            'n' => self.original.clone(),
            'p' => self.port.clone(),
            'r' => self.remote_user.clone(),
            'k' => self.key_alias.clone(),
            'l' => self.local.hostname.clone(),
            'L' => self
                .local
                .hostname
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string(),
            'u' => self.local.user.clone(),
            'i' => self.local.uid.clone(),
            'd' => self.local.home.clone(),
            'C' => self.connection_hash(),
            _ => return None,
        })
    }

    /// `%C`: SHA-1 of `%l%h%p%r` in hex (OpenSSH 9.2's `ssh_connection_hash`).
    pub fn connection_hash(&self) -> String {
        let mut hasher = Sha1::new();
        for part in [
            &self.local.hostname,
            &self.host,
            &self.port,
            &self.remote_user,
        ] {
            hasher.update(part.as_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Expands `%x` tokens (those in `allowed`, plus `%%`); any other token is an error, as
    /// OpenSSH's `percent_expand` is fatal on it.
    pub fn expand(&self, text: &str, allowed: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some(t) if t != ' ' && allowed.contains(t) => {
                    out.push_str(&self.value(t).unwrap_or_default())
                }
                Some(t) => {
                    return Err(format!(
                        "`%{t}` is not a token here (allowed: {})",
                        allowed
                            .chars()
                            .filter(|c| *c != ' ')
                            .map(|c| format!("%{c}"))
                            .chain(["%%".to_string()])
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                }
                None => return Err("a `%` at the end needs a token after it".into()),
            }
        }
        Ok(out)
    }

    /// `~` then `${VAR}` then `%` tokens, as OpenSSH expands file names
    /// (`tilde_expand_filename` + `default_client_percent_dollar_expand`).
    pub fn expand_path(&self, text: &str) -> Result<PathBuf, String> {
        let tilde = expand_tilde_user(text)?;
        let dollar = expand_env(&tilde)?;
        Ok(PathBuf::from(self.expand(&dollar, CLIENT_TOKENS)?))
    }
}

/// `${NAME}` environment references; an unset variable is an error, as in OpenSSH.
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("`${{` without a closing `}}` in `{text}`"));
        };
        let name = &after[..end];
        match std::env::var(name) {
            Ok(value) => out.push_str(&value),
            Err(_) => return Err(format!("environment variable `{name}` is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `~`, `~/…` and `~user/…`.
pub fn expand_tilde_user(text: &str) -> Result<String, String> {
    let Some(rest) = text.strip_prefix('~') else {
        return Ok(text.to_string());
    };
    let (user, tail) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    };
    let home = if user.is_empty() {
        super::home_dir().display().to_string()
    } else {
        passwd_home(user).ok_or_else(|| format!("`~{user}`: no such local user"))?
    };
    Ok(format!("{}{tail}", home.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens {
            host: "web1.example".into(),
            original: "web1".into(),
            port: "2222".into(),
            remote_user: "deploy".into(),
            key_alias: "web1".into(),
            local: LocalFacts {
                hostname: "ctl.lab".into(),
                user: "me".into(),
                uid: "1000".into(),
                home: "/home/me".into(),
            },
        }
    }

    #[test]
    fn tokens_expand_and_percent_escapes() {
        let t = tokens();
        assert_eq!(
            t.expand("%h %n %p %r %k %l %L %u %i %d %%", CLIENT_TOKENS)
                .expect("expand"),
            "web1.example web1 2222 deploy web1 ctl.lab ctl me 1000 /home/me %"
        );
        assert_eq!(t.connection_hash().len(), 40);
    }

    #[test]
    fn tokens_not_allowed_for_a_keyword_are_errors() {
        let t = tokens();
        assert!(t.expand("%h.lab", HOSTNAME_TOKENS).is_ok());
        assert!(t.expand("%p.lab", HOSTNAME_TOKENS).is_err());
        assert!(t.expand("%C", PROXY_COMMAND_TOKENS).is_err());
        assert!(t.expand("trailing %", CLIENT_TOKENS).is_err());
    }

    #[test]
    fn environment_references_expand_and_unset_ones_are_errors() {
        std::env::set_var("RPATCH_TOKENS_TEST", "v");
        assert_eq!(expand_env("a${RPATCH_TOKENS_TEST}b").expect("env"), "avb");
        assert!(expand_env("${RPATCH_TOKENS_TEST_UNSET_X}").is_err());
        assert_eq!(expand_env("$HOME").expect("plain"), "$HOME");
    }

    #[test]
    fn tilde_expands_for_self_and_named_users() {
        let home = super::super::home_dir().display().to_string();
        assert_eq!(expand_tilde_user("~/k").expect("t"), format!("{home}/k"));
        assert_eq!(expand_tilde_user("~root/k").expect("root"), "/root/k");
        assert!(expand_tilde_user("~no-such-user-xyz/k").is_err());
        assert_eq!(expand_tilde_user("/a/~b").expect("t"), "/a/~b");
    }
}
