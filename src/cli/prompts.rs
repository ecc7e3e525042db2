//! Asking a play's `vars_prompt` variables before the run connects anywhere: a variable given
//! with `-e` is not asked; on a terminal the operator answers (without echo when `private`,
//! twice when `confirm`); without one the `default` is taken, and a variable with neither is
//! an error naming it.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use super::error::CliError;
use crate::playbook::{Playbook, VarPrompt};
use crate::vars::{Value, Vars};

/// Where answers come from.
pub(super) trait Answers {
    /// One answer to `question`, echoed or not; `None` when nobody can answer.
    fn ask(&mut self, question: &str, private: bool) -> Result<Option<String>, CliError>;
}

/// The operator at the terminal, or nobody when stdin is not one.
pub(super) struct Terminal;

impl Answers for Terminal {
    fn ask(&mut self, question: &str, private: bool) -> Result<Option<String>, CliError> {
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        if private {
            return rpassword::prompt_password(question)
                .map(Some)
                .map_err(CliError::Password);
        }
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "{question}");
        let _ = stderr.flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(CliError::Password)?;
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    }
}

/// Asks every play's prompts and adds the answers to the play's variables.
pub(super) fn ask_prompts(
    playbook: &mut Playbook,
    extra_vars: &Vars,
    answers: &mut dyn Answers,
) -> Result<(), CliError> {
    for play in &mut playbook.plays {
        if play.prompts.is_empty() {
            continue;
        }
        let mut vars = Vars::clone(&play.vars);
        for prompt in &play.prompts {
            if extra_vars.contains_key(&prompt.name) {
                continue;
            }
            vars.insert(prompt.name.clone(), answer(prompt, answers)?);
        }
        play.vars = Arc::new(vars);
    }
    Ok(())
}

/// The value for one prompt.
fn answer(prompt: &VarPrompt, answers: &mut dyn Answers) -> Result<Value, CliError> {
    let unanswerable = |reason: &str| CliError::Prompt {
        name: prompt.name.clone(),
        at: prompt.at.to_string(),
        reason: reason.to_string(),
    };
    if prompt.encrypt.is_some() {
        return Err(unanswerable(
            "`encrypt` (hashing the answer) is not supported; pass the hashed value with -e",
        ));
    }
    let question = match &prompt.default {
        Some(default) => format!("{} [{}]: ", prompt.prompt, default),
        None => format!("{}: ", prompt.prompt),
    };
    let Some(first) = answers.ask(&question, prompt.private)? else {
        return prompt.default.clone().ok_or_else(|| {
            unanswerable("no terminal to ask on and no `default`; pass it with -e")
        });
    };
    if prompt.confirm {
        let again = answers
            .ask(&format!("confirm {question}"), prompt.private)?
            .unwrap_or_default();
        if again != first {
            return Err(unanswerable("the two answers do not match"));
        }
    }
    match (&prompt.default, first.is_empty()) {
        (Some(default), true) => Ok(default.clone()),
        _ => Ok(Value::from(first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::{load, LoadOptions};
    use crate::template::Templar;

    /// Answers from a list; `None` once it runs out (nobody at the terminal).
    struct Scripted(Vec<&'static str>, Vec<(String, bool)>);

    impl Answers for Scripted {
        fn ask(&mut self, question: &str, private: bool) -> Result<Option<String>, CliError> {
            self.1.push((question.to_string(), private));
            Ok((!self.0.is_empty()).then(|| self.0.remove(0).to_string()))
        }
    }

    fn playbook(prompts: &str) -> (tempfile::TempDir, Playbook) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("site.yml");
        let text = format!("- hosts: all\n  vars_prompt:\n{prompts}  tasks: []\n");
        std::fs::write(&path, text).expect("write");
        let playbook = load(&path, &Templar::new(), &LoadOptions::default()).expect("loads");
        (dir, playbook)
    }

    fn asked(
        prompts: &str,
        answers: Vec<&'static str>,
        extra: &Vars,
    ) -> Result<(Vars, Vec<(String, bool)>), CliError> {
        let (_dir, mut playbook) = playbook(prompts);
        let mut scripted = Scripted(answers, Vec::new());
        ask_prompts(&mut playbook, extra, &mut scripted)?;
        Ok((Vars::clone(&playbook.plays[0].vars), scripted.1))
    }

    #[test]
    fn vars_prompt_answers_become_play_variables_private_by_default() {
        let prompts = "    - name: who\n      prompt: Who are you\n      private: false\n    \
                       - name: secret\n";
        let (vars, questions) = asked(prompts, vec!["ann", "s3cret"], &Vars::new()).expect("asked");
        assert_eq!(vars["who"].as_str(), Some("ann"));
        assert_eq!(vars["secret"].as_str(), Some("s3cret"));
        assert_eq!(
            questions,
            [
                ("Who are you: ".to_string(), false),
                ("secret: ".to_string(), true)
            ]
        );
    }

    #[test]
    fn vars_prompt_takes_the_default_for_an_empty_answer_or_without_a_terminal() {
        let prompts = "    - name: release\n      prompt: Release\n      default: '9.4'\n";
        let (vars, questions) = asked(prompts, vec![""], &Vars::new()).expect("asked");
        assert_eq!(vars["release"].as_str(), Some("9.4"));
        assert_eq!(questions[0].0, "Release [9.4]: ");
        let (vars, _) = asked(prompts, vec![], &Vars::new()).expect("default");
        assert_eq!(vars["release"].as_str(), Some("9.4"));
    }

    #[test]
    fn vars_prompt_is_not_asked_when_given_with_extra_vars() {
        let mut extra = Vars::new();
        extra.insert("release".into(), Value::from("8"));
        let (vars, questions) = asked("    - name: release\n", vec![], &extra).expect("not asked");
        assert!(questions.is_empty());
        assert!(
            !vars.contains_key("release"),
            "-e wins at its own precedence"
        );
    }

    #[test]
    fn vars_prompt_without_an_answer_or_default_is_an_error_naming_the_variable() {
        let error = asked("    - name: release\n", vec![], &Vars::new()).expect_err("fails");
        let text = error.to_string();
        assert!(text.contains("`release`"), "{text}");
        assert!(text.contains("site.yml:3:7"), "{text}");
        assert!(text.contains("pass it with -e"), "{text}");
    }

    #[test]
    fn vars_prompt_confirm_asks_twice_and_refuses_a_mismatch() {
        let prompts = "    - name: pw\n      confirm: true\n";
        let (vars, questions) = asked(prompts, vec!["a", "a"], &Vars::new()).expect("match");
        assert_eq!(vars["pw"].as_str(), Some("a"));
        assert_eq!(questions[1].0, "confirm pw: ");
        let error = asked(prompts, vec!["a", "b"], &Vars::new()).expect_err("mismatch");
        assert!(error.to_string().contains("do not match"), "{error}");
    }
}
