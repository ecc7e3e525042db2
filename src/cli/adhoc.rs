//! `rpatch adhoc` and `rpatch patch`: a play built from flags, run by the same runner as any
//! playbook. The play is written as playbook YAML and loaded by the playbook loader (so it is
//! validated as one, and `rpatch resume` reloads the same text), then run with `run`'s
//! locking, journal and gates.

use serde_yaml::{Mapping, Value};

use super::args::{AdhocArgs, PatchArgs, Rollout, RunArgs};
use super::error::CliError;
use super::inline_playbook::PlaybookSource;
use super::run::{apply_ansible_cfg, start, Style};
use crate::playbook::Playbook;

/// Play names of built plays start so; `resume` prints such runs the ad-hoc way.
const ADHOC_PREFIX: &str = "rpatch adhoc: ";

/// Runs one module on the hosts `PATTERN` matches.
pub async fn adhoc(args: AdhocArgs, verbosity: u8) -> Result<i32, CliError> {
    let text = adhoc_playbook(&args);
    launch(args.rollout, &text, verbosity, Style::Adhoc).await
}

/// Patches the hosts `PATTERN` matches in a rolling play.
pub async fn patch(args: PatchArgs, verbosity: u8) -> Result<i32, CliError> {
    let text = super::patch_play::patch_playbook(&args);
    launch(args.rollout, &text, verbosity, Style::Playbook).await
}

/// Gathers patch facts from the hosts `rollout` selects, as a journaled ad-hoc run that prints
/// nothing (`rpatch status` shows what it journaled); returns the run's exit code.
pub async fn gather_patch_facts(rollout: Rollout, verbosity: u8) -> Result<i32, CliError> {
    let args = AdhocArgs {
        pattern: "all".into(),
        module: "patch_facts".into(),
        module_args: None,
        rollout,
    };
    let text = adhoc_playbook(&args);
    launch(args.rollout, &text, verbosity, Style::Silent).await
}

/// Whether a loaded playbook is an ad-hoc one (for `resume`'s output).
pub fn is_adhoc(playbook: &Playbook) -> bool {
    playbook
        .plays
        .first()
        .is_some_and(|play| play.name.starts_with(ADHOC_PREFIX))
}

async fn launch(
    rollout: Rollout,
    text: &str,
    verbosity: u8,
    style: Style,
) -> Result<i32, CliError> {
    let source = PlaybookSource::saved(text)?;
    let mut args = RunArgs {
        playbook: source.path.clone(),
        sources: rollout.sources,
        limit: rollout.limit,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        check: rollout.check,
        diff: false,
        forks: rollout.forks,
        connection: rollout.connection,
        serial: rollout.serial,
        start_at_task: None,
        force_handlers: false,
        emergency: rollout.emergency,
        stage: None,
        runs: rollout.runs,
        list_hosts: false,
        list_tasks: false,
        list_tags: false,
        syntax_check: false,
        json: rollout.json,
        report: None,
        metrics_file: rollout.metrics_file,
    };
    let cfg = apply_ansible_cfg(&mut args)?;
    start(args, source, &cfg.roles_path(), verbosity, style).await
}

/// The one-play playbook of `rpatch adhoc`.
pub fn adhoc_playbook(args: &AdhocArgs) -> String {
    let mut task = Mapping::new();
    task.insert("name".into(), Value::from(args.module.as_str()));
    task.insert(
        Value::from(args.module.as_str()),
        module_args(args.module_args.as_deref()),
    );
    let play = play(
        format!("{ADHOC_PREFIX}{} -m {}", args.pattern, args.module),
        &args.pattern,
        &args.rollout,
        vec![Value::Mapping(task)],
    );
    to_yaml(play)
}

/// `-a`: a YAML/JSON mapping stays a mapping; anything else is the module's `k=v` or
/// free-form string, as Ansible passes it; no `-a` is an empty mapping.
fn module_args(text: Option<&str>) -> Value {
    match text {
        None => Value::Mapping(Mapping::new()),
        Some(text) => match serde_yaml::from_str::<Value>(text) {
            Ok(mapping @ Value::Mapping(_)) if text.trim_start().starts_with('{') => mapping,
            _ => Value::from(text),
        },
    }
}

/// A play on `pattern` with the rollout's gates, no fact gathering, and `tasks`.
pub(super) fn play(name: String, pattern: &str, rollout: &Rollout, tasks: Vec<Value>) -> Mapping {
    let mut play = Mapping::new();
    play.insert("name".into(), Value::from(name));
    play.insert("hosts".into(), Value::from(pattern));
    play.insert("gather_facts".into(), Value::from(false));
    let gates = gates(rollout);
    if !gates.is_empty() {
        play.insert("gates".into(), Value::Sequence(gates));
    }
    play.insert("tasks".into(), Value::Sequence(tasks));
    play
}

/// `--gate-http` and `--gate-command`, in that order, as play gates.
fn gates(rollout: &Rollout) -> Vec<Value> {
    let mut gates = Vec::new();
    for url in &rollout.gate_http {
        let mut http = Mapping::new();
        http.insert("url".into(), Value::from(url.as_str()));
        let mut gate = Mapping::new();
        gate.insert("name".into(), Value::from(format!("http {url}")));
        gate.insert("http".into(), Value::Mapping(http));
        gates.push(Value::Mapping(gate));
    }
    for command in &rollout.gate_command {
        let mut gate = Mapping::new();
        gate.insert("name".into(), Value::from(format!("command {command}")));
        gate.insert("command".into(), Value::from(command.as_str()));
        gates.push(Value::Mapping(gate));
    }
    gates
}

/// A playbook (a list of one play) as YAML text.
pub(super) fn to_yaml(play: Mapping) -> String {
    // Serialising plain strings, booleans and numbers cannot fail.
    serde_yaml::to_string(&Value::Sequence(vec![Value::Mapping(play)])).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn adhoc_args(words: &[&str]) -> AdhocArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: AdhocArgs,
        }
        let mut all = vec!["rpatch"];
        all.extend_from_slice(words);
        Wrapper::parse_from(all).args
    }

    #[test]
    fn an_adhoc_command_is_a_one_task_play_with_its_gates() {
        let args = adhoc_args(&[
            "web*:!web03",
            "-m",
            "shell",
            "-a",
            "echo 'a: b' && uptime",
            "--gate-http",
            "http://127.0.0.1:8080/healthz",
            "--gate-command",
            "test -e /srv/ok",
        ]);
        insta::assert_snapshot!(adhoc_playbook(&args), @r#"
        - name: 'rpatch adhoc: web*:!web03 -m shell'
          hosts: web*:!web03
          gather_facts: false
          gates:
          - name: http http://127.0.0.1:8080/healthz
            http:
              url: http://127.0.0.1:8080/healthz
          - name: command test -e /srv/ok
            command: test -e /srv/ok
          tasks:
          - name: shell
            shell: 'echo ''a: b'' && uptime'
        "#);
    }

    #[test]
    fn json_module_args_stay_a_mapping_and_none_is_empty() {
        assert_eq!(
            module_args(Some(r#"{"name": "x", "state": "present"}"#))["name"],
            Value::from("x")
        );
        assert_eq!(module_args(Some("name=x")), Value::from("name=x"));
        assert_eq!(module_args(None), Value::Mapping(Mapping::new()));
    }
}
