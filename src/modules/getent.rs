//! `getent`: one entry (or all) of a name-service database (`passwd`, `group`, `hosts`, …) as
//! the fact `getent_<database>`: each line's first field mapped to the rest, as
//! `ansible.builtin.getent` sets it. Roles use it to ask whether a user or group exists.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::{self, Value, Vars};

/// Arguments of `getent`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetentArgs {
    /// The database (`passwd`, `group`, `shadow`, `hosts`, `services`, …).
    database: String,
    /// One key to look up; every entry when absent.
    #[serde(default)]
    key: Option<String>,
    /// The field separator (`:` for the files-style databases, blanks for the others).
    #[serde(default)]
    split: Option<String>,
    /// A missing key fails the task (otherwise it is only reported).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    fail_key: bool,
    /// The NSS service to ask (`getent -s`).
    #[serde(default)]
    service: Option<String>,
}

fn yes() -> bool {
    true
}

/// The databases whose fields are `:`-separated when no `split` is given.
const COLON_DATABASES: &[&str] = &["passwd", "group", "shadow", "gshadow"];

fn check_word(what: &str, word: &str) -> Result<(), ArgError> {
    if word.is_empty() || word.starts_with('-') || word.chars().any(char::is_control) {
        return Err(ArgError::Invalid(format!("`{word}` is not a {what}")));
    }
    Ok(())
}

fn parse(args: &Value) -> Result<GetentArgs, ArgError> {
    let parsed: GetentArgs = args::parse(args)?;
    check_word("database name", &parsed.database)?;
    if let Some(service) = &parsed.service {
        check_word("service name", service)?;
    }
    Ok(parsed)
}

/// The fact's value: first field -> the other fields (a list), one entry per line.
fn entries(stdout: &str, split: Option<&str>, database: &str) -> serde_json::Value {
    let colon = COLON_DATABASES.contains(&database);
    let mut map = serde_json::Map::new();
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = match split {
            Some(separator) if !separator.is_empty() => line.split(separator).collect(),
            _ if colon => line.split(':').collect(),
            _ => line.split_whitespace().collect(),
        };
        if let Some((first, rest)) = fields.split_first() {
            map.insert(
                (*first).to_string(),
                serde_json::Value::from(rest.iter().map(|f| f.to_string()).collect::<Vec<_>>()),
            );
        }
    }
    serde_json::Value::Object(map)
}

/// `getent`: query a name-service database.
pub(crate) struct Getent;

#[async_trait]
impl Module for Getent {
    fn names(&self) -> &'static [&'static str] {
        &["getent", "ansible.builtin.getent", "ansible.legacy.getent"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GetentArgs>(args, templated)?;
        if templated {
            return Ok(());
        }
        parse(args).map(|_| ())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args = parse(args)?;
        let mut command = String::from("getent");
        if let Some(service) = &args.service {
            command.push_str(&format!(" -s {}", quote(service)));
        }
        command.push_str(&format!(" -- {}", quote(&args.database)));
        if let Some(key) = &args.key {
            command.push_str(&format!(" {}", quote(key)));
        }
        let output = ctx.exec(command).await?;
        let rc = output.status.rc();
        // getent(1): 1 bad arguments or unknown database, 2 a key not found, 3 no enumeration.
        if rc == 2 {
            let msg = "One or more supplied key could not be found in the database.";
            if args.fail_key {
                return Ok(ModuleResult::failed(msg));
            }
            let mut result = ModuleResult::ok().with_msg(msg.to_string());
            let mut facts = Vars::new();
            facts.insert(
                format!("getent_{}", args.database),
                vars::from_json(&serde_json::json!({})),
            );
            result.facts = Some(facts);
            return Ok(result);
        }
        if rc != 0 {
            return Ok(ModuleResult::failed(format!(
                "getent {} failed (rc {rc}): {}",
                args.database,
                output.stderr_text().trim()
            )));
        }
        let json = entries(&output.stdout_text(), args.split.as_deref(), &args.database);
        let mut facts = Vars::new();
        facts.insert(format!("getent_{}", args.database), vars::from_json(&json));
        let mut result = ModuleResult::ok();
        result.facts = Some(facts);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_map_the_first_field_to_the_rest() {
        let passwd = entries("root:x:0:0:root:/root:/bin/bash\n", None, "passwd");
        assert_eq!(
            passwd,
            serde_json::json!({"root": ["x", "0", "0", "root", "/root", "/bin/bash"]})
        );
        let hosts = entries("127.0.0.1       localhost\n", None, "hosts");
        assert_eq!(hosts, serde_json::json!({"127.0.0.1": ["localhost"]}));
        assert!(parse(&crate::vars::from_json(&serde_json::json!({"database": "-x"}))).is_err());
    }
}
