//! A play's `vars_prompt:`: the variables asked of the operator before the play runs (the
//! asking itself is the CLI's, see `cli/prompts.rs`).

use super::error::PlaybookError;
use super::nodes::{as_bool, expect_map, expect_seq, expect_str, FileNode};
use crate::diagnostic::{did_you_mean, Location};
use crate::vars::{self, Value};
use crate::yaml::Node;

/// Keys of one `vars_prompt` entry. `unsafe`, `salt` and `salt_size` change nothing here;
/// `encrypt` is kept so that asking can refuse it (see [`VarPrompt::encrypt`]).
const PROMPT_KEYS: &[&str] = &[
    "name",
    "prompt",
    "private",
    "default",
    "confirm",
    "unsafe",
    "encrypt",
    "salt",
    "salt_size",
];

/// One variable to ask for.
#[derive(Debug, Clone)]
pub struct VarPrompt {
    /// The variable set.
    pub name: String,
    /// The question (the name when not given).
    pub prompt: String,
    /// Do not echo the answer (Ansible's default: true).
    pub private: bool,
    /// The value taken for an empty answer, or when nobody can answer.
    pub default: Option<Value>,
    /// Ask twice and require the same answer.
    pub confirm: bool,
    /// `encrypt:` was given: rpatch cannot hash the answer as passlib would, so asking fails.
    pub encrypt: Option<String>,
    /// Where the entry is written.
    pub at: Location,
}

/// Parses a play's `vars_prompt` list.
pub(super) fn var_prompts(file: &FileNode, list: &Node) -> Result<Vec<VarPrompt>, PlaybookError> {
    let mut prompts = Vec::new();
    for entry in expect_seq(file, list, "vars_prompt")? {
        for (key, _) in expect_map(file, entry, "vars_prompt entry")? {
            if !PROMPT_KEYS.contains(&key.name.as_str()) {
                return Err(PlaybookError::UnknownKey {
                    context: "vars_prompt",
                    key: key.name.clone(),
                    suggestion: did_you_mean(&key.name, PROMPT_KEYS.iter().copied()),
                    at: file.key_at(key),
                });
            }
        }
        let name = match entry.get("name") {
            Some(name) => expect_str(file, name, "name")?.to_string(),
            None => {
                return Err(PlaybookError::Missing {
                    context: "vars_prompt entry",
                    key: "name",
                    at: file.at(entry),
                })
            }
        };
        let flag = |key: &str, default: bool| {
            entry
                .get(key)
                .map_or(Ok(default), |value| as_bool(file, value, key))
        };
        prompts.push(VarPrompt {
            prompt: entry
                .get("prompt")
                .map(|p| expect_str(file, p, "prompt").map(str::to_string))
                .transpose()?
                .unwrap_or_else(|| name.clone()),
            name,
            private: flag("private", true)?,
            confirm: flag("confirm", false)?,
            default: entry.get("default").map(vars::from_node),
            encrypt: entry
                .get("encrypt")
                .map(|e| expect_str(file, e, "encrypt").map(str::to_string))
                .transpose()?,
            at: file.at(entry),
        });
    }
    Ok(prompts)
}
