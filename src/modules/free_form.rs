//! Free-form module arguments: how a string given instead of a mapping is read
//! (`shell: echo hi chdir=/tmp`, `file: path=/x state=absent`).

use super::args::{split_key_values, split_words};
use crate::vars::{Value, Vars};

/// How a module reads a plain string instead of a mapping of arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeForm {
    /// The string is the command itself (`_raw_params`); `k=v` words naming one of
    /// `options` are pulled out of it as arguments.
    Command {
        /// The options recognised inside the command line.
        options: &'static [&'static str],
    },
    /// The string is a list of `k=v` pairs.
    KeyValue,
}

impl FreeForm {
    /// Reads a module's string arguments; the error says what is wrong with the text.
    pub(crate) fn parse(self, text: &str) -> Result<Vars, String> {
        let (pairs, free) = split_key_values(text);
        let mut args = Vars::new();
        match self {
            Self::Command { options } => {
                for (key, value) in pairs {
                    if options.contains(&key.as_str()) {
                        args.insert(key, Value::from(value));
                    }
                }
                args.insert(
                    "_raw_params".into(),
                    Value::from(split_preserving(text, options).join(" ")),
                );
            }
            Self::KeyValue => {
                if let Some(word) = free.first() {
                    return Err(format!("expected `key=value` pairs, found `{word}`"));
                }
                for (key, value) in pairs {
                    args.insert(key, Value::from(value));
                }
            }
        }
        Ok(args)
    }
}

/// The words of a command line, dropping `option=value` words for the given options.
fn split_preserving(text: &str, options: &[&str]) -> Vec<String> {
    split_words(text)
        .into_iter()
        .filter(|word| {
            !word
                .split_once('=')
                .is_some_and(|(key, _)| options.contains(&key))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(form: FreeForm, text: &str) -> serde_json::Value {
        let args = form.parse(text).expect("parses");
        crate::vars::to_json(&crate::vars::to_value(args))
    }

    #[test]
    fn a_command_line_keeps_its_words_and_gives_up_only_the_declared_options() {
        let form = FreeForm::Command {
            options: &["chdir", "creates"],
        };
        assert_eq!(
            parsed(form, "echo a=b 'x y' chdir=/tmp creates=\"/a b\""),
            serde_json::json!({
                "chdir": "/tmp",
                "creates": "/a b",
                "_raw_params": "echo a=b 'x y'",
            })
        );
    }

    #[test]
    fn key_value_pairs_are_arguments_and_stray_words_are_refused() {
        assert_eq!(
            parsed(FreeForm::KeyValue, "path=/x state=absent"),
            serde_json::json!({"path": "/x", "state": "absent"})
        );
        assert_eq!(
            FreeForm::KeyValue.parse("path=/x oops"),
            Err("expected `key=value` pairs, found `oops`".to_string())
        );
    }
}
