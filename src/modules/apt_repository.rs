//! `apt_repository`: add or remove one-line APT sources (`deb URI suite components`), as
//! `ansible.builtin.apt_repository` does for them, then refresh the package lists.
//!
//! The line is compared with every line of apt's `sources.list` and `sources.list.d/*.list`
//! with blanks collapsed (the directories come from `apt-config`, so `APT_CONFIG` is honoured);
//! a line already there is no change. A new line goes to `FILENAME.list` in
//! `sources.list.d` (the name Ansible derives from the URI unless `filename` is given);
//! `absent` removes it wherever it is and deletes a `.list` file it leaves empty. PPAs are
//! refused: their signing key comes from Launchpad, which rpatch does not query.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::{Mode, ModeArg};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// Arguments of `apt_repository`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptRepositoryArgs {
    /// The source line (`deb [options] URI suite [components]`).
    repo: String,
    /// Whether the line should be there.
    #[serde(default)]
    state: RepoState,
    /// The file in `sources.list.d`, without `.list`.
    #[serde(default)]
    filename: Option<String>,
    /// Run `apt-get update` after a change.
    #[serde(
        default = "yes",
        alias = "update-cache",
        deserialize_with = "lenient::bool"
    )]
    update_cache: bool,
    /// The new file's mode (octal, default 0644).
    #[serde(default)]
    mode: Option<ModeArg>,
    /// Only used for PPAs (which rpatch refuses): accepted and ignored.
    #[serde(default)]
    codename: Option<String>,
    /// Only used for PPA keys: accepted and ignored.
    #[serde(default)]
    validate_certs: Option<Value>,
    /// rpatch needs no Python on the host: accepted and ignored.
    #[serde(default)]
    install_python_apt: Option<Value>,
}

fn yes() -> bool {
    true
}

/// `state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum RepoState {
    #[default]
    Present,
    Absent,
}

/// A checked task: the normalised line, the file name and the mode.
#[derive(Debug, PartialEq)]
struct Request {
    line: String,
    file: String,
    mode: String,
}

/// Checks the line, works out the file name, checks the mode.
fn request(args: &AptRepositoryArgs) -> Result<Request, ArgError> {
    let line = args.repo.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.starts_with("ppa:") {
        return Err(ArgError::Invalid(
            "PPAs are not supported: their key comes from Launchpad; write the `deb` line of \
             the archive and install its key (get_url to /etc/apt/keyrings, signed-by=)"
                .into(),
        ));
    }
    let words: Vec<&str> = line.split(' ').collect();
    if !matches!(words.first(), Some(&"deb" | &"deb-src")) || words.len() < 3 {
        return Err(ArgError::Invalid(format!(
            "`{line}` is not a one-line APT source: expected `deb [options] URI suite \
             [components]`"
        )));
    }
    if line.chars().any(char::is_control) {
        return Err(ArgError::Invalid("`repo` must be one line".into()));
    }
    let stem = match &args.filename {
        Some(name) => name.clone(),
        None => default_stem(&line),
    };
    if stem.is_empty()
        || stem.starts_with('.')
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(ArgError::Invalid(format!(
            "`{stem}` is not a file name for sources.list.d (letters, digits and `_.-`)"
        )));
    }
    let mode = match args.mode.as_ref().map(ModeArg::parse).transpose()? {
        None => "0644".to_string(),
        Some(Mode::Octal(bits)) => format!("{bits:04o}"),
        Some(_) => {
            return Err(ArgError::Invalid(
                "mode must be octal for apt_repository (e.g. '0644')".into(),
            ))
        }
    };
    Ok(Request {
        line,
        file: format!("{stem}.list"),
        mode,
    })
}

/// Ansible's file name for a line: its URI without options, scheme and credentials, every run
/// of other characters than letters and digits made one `_`.
fn default_stem(line: &str) -> String {
    let without_options = regex::Regex::new(r"\[[^\]]+\]")
        .map(|re| re.replace_all(line, "").into_owned())
        .unwrap_or_else(|_| line.to_string());
    let uri = without_options
        .split_whitespace()
        .find(|word| *word != "deb" && *word != "deb-src")
        .unwrap_or_default();
    let uri = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let uri = uri.rsplit_once('@').map_or(uri, |(_, rest)| rest);
    uri.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The script: finds the line, changes what `state` asks (not in check mode), refreshes the
/// lists after a change when asked. Prints `M found FILE`, `M changed`, `M updated RC`.
fn script(request: &Request, state: RepoState, update_cache: bool, check: bool) -> String {
    format!(
        r#"set -f
M='::rpatch-apt-repository::'
L={line}
export L
file={file}
state={state}
check={check}
update={update}
eval "$(apt-config shell parts Dir::Etc::sourceparts/d main Dir::Etc::sourcelist/f 2>/dev/null)"
: "${{parts:=/etc/apt/sources.list.d/}}" "${{main:=/etc/apt/sources.list}}"
has() {{ awk '{{ $1 = $1 }} $0 == ENVIRON["L"] {{ found = 1 }} END {{ exit !found }}' "$1"; }}
found=
set +f
for f in "$main" "$parts"*.list; do
  [ -f "$f" ] && has "$f" && {{ found=1; printf '%s found %s\n' "$M" "$f"; }}
done
set -f
changed=0
if [ "$state" = present ] && [ -z "$found" ]; then
  changed=1
  if [ "$check" = 0 ]; then
    mkdir -p "$parts" && printf '%s\n' "$L" >> "$parts$file" && chmod {mode} "$parts$file" || exit 1
  fi
elif [ "$state" = absent ] && [ -n "$found" ]; then
  changed=1
  if [ "$check" = 0 ]; then
    set +f
    for f in "$main" "$parts"*.list; do
      [ -f "$f" ] && has "$f" || continue
      awk '{{ x = $0; $1 = $1 }} $0 != ENVIRON["L"] {{ print x }}' "$f" > "$f.rpatch-tmp" && cat "$f.rpatch-tmp" > "$f" && rm -f "$f.rpatch-tmp" || exit 1
      case $f in "$parts"*) grep -q '[^[:space:]]' "$f" || rm -f "$f" ;; esac
    done
    set -f
  fi
fi
[ "$changed" = 1 ] && printf '%s changed\n' "$M"
if [ "$changed" = 1 ] && [ "$check" = 0 ] && [ "$update" = 1 ]; then
  apt-get -q update >&2
  printf '%s updated %s\n' "$M" "$?"
fi
"#,
        line = quote(&request.line),
        file = quote(&request.file),
        state = match state {
            RepoState::Present => "present",
            RepoState::Absent => "absent",
        },
        check = u8::from(check),
        update = u8::from(update_cache),
        mode = quote(&request.mode),
    )
}

/// What the module registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    repo: &'a str,
    state: RepoState,
    sources_added: Vec<String>,
    sources_removed: Vec<String>,
}

/// `apt_repository`: manage one-line APT sources.
pub(crate) struct AptRepository;

#[async_trait]
impl Module for AptRepository {
    fn names(&self) -> &'static [&'static str] {
        &[
            "apt_repository",
            "ansible.builtin.apt_repository",
            "ansible.legacy.apt_repository",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<AptRepositoryArgs>(args, templated)?;
        if templated {
            return Ok(());
        }
        request(&args::parse(args)?).map(|_| ())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: AptRepositoryArgs = args::parse(args)?;
        let request = request(&args)?;
        let warnings = args::ignored(
            "apt_repository",
            &[
                ("codename", args.codename.is_some()),
                ("validate_certs", args.validate_certs.is_some()),
                ("install_python_apt", args.install_python_apt.is_some()),
            ],
        );
        let output = ctx
            .exec(script(
                &request,
                args.state,
                args.update_cache,
                ctx.check_mode,
            ))
            .await?;
        let stdout = output.stdout_text();
        let marked = |word: &str| {
            stdout
                .lines()
                .filter_map(|line| line.strip_prefix("::rpatch-apt-repository:: "))
                .filter_map(move |rest| rest.strip_prefix(word))
                .map(|rest| rest.trim().to_string())
                .collect::<Vec<_>>()
        };
        if !output.status.success() {
            return Ok(ModuleResult::failed(format!(
                "cannot change apt's sources (rc {}): {}",
                output.status.rc(),
                output.stderr_text().trim()
            )));
        }
        let changed = !marked("changed").is_empty();
        let found = marked("found ");
        let outcome = Outcome {
            repo: &request.line,
            state: args.state,
            sources_added: match (changed, args.state) {
                (true, RepoState::Present) => vec![request.file.clone()],
                _ => Vec::new(),
            },
            sources_removed: match (changed, args.state) {
                (true, RepoState::Absent) => found,
                _ => Vec::new(),
            },
        };
        let result = if changed {
            ModuleResult::changed()
        } else {
            ModuleResult::ok()
        }
        .with_data(&outcome)
        .with_warnings(warnings);
        if let Some(rc) = marked("updated ").first().filter(|rc| *rc != "0") {
            return Ok(ModuleResult {
                changed: true,
                ..ModuleResult::failed(format!(
                    "the source was changed but apt-get update failed (rc {rc}): {}",
                    output.stderr_text().trim()
                ))
            }
            .with_data(&outcome));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: serde_json::Value) -> Result<Request, ArgError> {
        request(&args::parse(&crate::vars::from_json(&json))?)
    }

    #[test]
    fn the_file_name_is_ansibles_from_the_uri_unless_given() {
        let line = "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://user:pw@download.docker.com/linux/ubuntu  jammy stable";
        let request = parsed(serde_json::json!({ "repo": line })).expect("valid");
        assert_eq!(request.file, "download_docker_com_linux_ubuntu.list");
        assert!(request.line.ends_with("/linux/ubuntu jammy stable"), "{}", request.line);
        let named = parsed(serde_json::json!({"repo": line, "filename": "docker", "mode": "0600"}))
            .expect("valid");
        assert_eq!((named.file.as_str(), named.mode.as_str()), ("docker.list", "0600"));
    }

    #[test]
    fn ppas_odd_lines_and_odd_file_names_are_refused() {
        for json in [
            serde_json::json!({"repo": "ppa:nginx/stable"}),
            serde_json::json!({"repo": "http://example.org/debian stable main"}),
            serde_json::json!({"repo": "deb http://example.org/debian stable", "filename": "../x"}),
            serde_json::json!({"repo": "deb http://example.org/debian stable", "mode": "u+rw"}),
        ] {
            assert!(parsed(json.clone()).is_err(), "{json}");
        }
    }
}
