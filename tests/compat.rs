//! The differential suite: every case under tests/compat/cases run through rpatch and compared
//! with ansible-playbook's recorded outcome (each case's expected.json, written by
//! scripts/record-compat): exit code, PLAY RECAP counters per host, files and directories written
//! under the work dir, and debug-style `"msg":` lines. A case rpatch deliberately differs on says
//! so (`difference:` in its case.yml, with the reason); a real bug not fixed yet is listed as
//! `known_mismatch:` (with its class). Any other mismatch fails, and so does a listed case that
//! now matches, so the lists and the README's figure stay honest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::support::Project;

/// What ansible-playbook did, as recorded.
#[derive(Debug, Deserialize, PartialEq)]
struct Outcome {
    exit_code: i32,
    recap: BTreeMap<String, BTreeMap<String, u32>>,
    files: BTreeMap<String, String>,
    dirs: Vec<String>,
    msgs: Vec<String>,
}

/// A case's recording plus the hosts whose work dirs are made before the run.
#[derive(Debug, Deserialize)]
struct Recording {
    hosts: Vec<String>,
    #[serde(flatten)]
    outcome: Outcome,
}

/// case.yml: the class of the issue the case belongs to, extra arguments and list membership.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    class: String,
    #[serde(default)]
    args: Vec<String>,
    /// A real bug not fixed yet: why it differs.
    known_mismatch: Option<String>,
    /// rpatch differs on purpose: why.
    difference: Option<String>,
}

const RECAP_KEYS: [&str; 7] = [
    "ok",
    "changed",
    "unreachable",
    "failed",
    "skipped",
    "rescued",
    "ignored",
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/cases")
}

/// Every file of a case other than its metadata and recording, relative to the case.
fn case_files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read case dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            case_files(&path, base, out);
        } else {
            let rel = path.strip_prefix(base).expect("inside case").to_path_buf();
            if rel != Path::new("case.yml") && rel != Path::new("expected.json") {
                out.push(rel);
            }
        }
    }
}

fn recap(stdout: &str) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut hosts = BTreeMap::new();
    let Some(start) = stdout.find("PLAY RECAP") else {
        return hosts;
    };
    for line in stdout[start..].lines().skip(1) {
        let Some((host, counts)) = line.split_once(" : ") else {
            continue;
        };
        let counts: BTreeMap<String, u32> = counts
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .filter(|(key, _)| RECAP_KEYS.contains(key))
            .filter_map(|(key, value)| Some((key.to_string(), value.parse().ok()?)))
            .collect();
        hosts.insert(host.trim().to_string(), counts);
    }
    hosts
}

/// `host: VALUE` for each `    "msg": VALUE` line inside a pretty-printed result, sorted.
fn msgs(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut host: Option<String> = None;
    for line in stdout.lines() {
        let opens = [
            "ok: [",
            "changed: [",
            "failed: [",
            "fatal: [",
            "skipping: [",
        ]
        .iter()
        .any(|p| line.starts_with(p))
            && line.ends_with(" => {");
        if opens {
            host = line
                .split_once('[')
                .and_then(|(_, rest)| rest.split_once(']'))
                .map(|(h, _)| h.to_string());
        } else if line == "}" {
            host = None;
        } else if let (Some(h), Some(value)) = (&host, line.strip_prefix("    \"msg\": ")) {
            out.push(format!("{h}: {value}"));
        }
    }
    out.sort();
    out
}

fn written(work: &Path, hosts: &[String]) -> (BTreeMap<String, String>, Vec<String>) {
    fn walk(dir: &Path, work: &Path, files: &mut BTreeMap<String, String>, dirs: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(work)
                .expect("inside work")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                dirs.push(rel);
                walk(&path, work, files, dirs);
            } else {
                // Python's os.walk lists a symlink to a file as a file and reads through it.
                let bytes = std::fs::read(&path).unwrap_or_default();
                files.insert(rel, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    let mut files = BTreeMap::new();
    let mut dirs = Vec::new();
    walk(work, work, &mut files, &mut dirs);
    dirs.retain(|d| !hosts.contains(d));
    dirs.sort();
    (files, dirs)
}

/// Runs one case through rpatch and returns its normalised outcome.
fn run_case(dir: &Path, meta: &Meta, hosts: &[String]) -> (Outcome, String) {
    let mut files = Vec::new();
    case_files(dir, dir, &mut files);
    let mut project = Project::new().timeout(120);
    for rel in &files {
        let text = std::fs::read_to_string(dir.join(rel)).expect("case file");
        project = project.file(&rel.display().to_string(), &text);
    }
    let work = tempfile::tempdir().expect("work dir");
    for host in hosts {
        std::fs::create_dir_all(work.path().join(host)).expect("host work dir");
    }
    let workdir = format!("workdir={}", work.path().display());
    let mut args = vec!["run", "site.yml", "-i", "inventory.ini", "-e", &workdir];
    args.extend(meta.args.iter().map(String::as_str));
    let output = project.rpatch(&args);
    let project_dir = project.path().display().to_string();
    let work_dir = work.path().display().to_string();
    let normalise = |text: &str| {
        text.replace(&work_dir, "{work}")
            .replace(&project_dir, "{project}")
    };
    let (files, dirs) = written(work.path(), hosts);
    let outcome = Outcome {
        exit_code: output.code,
        recap: recap(&output.stdout),
        files: files.into_iter().map(|(k, v)| (k, normalise(&v))).collect(),
        dirs,
        msgs: msgs(&output.stdout).iter().map(|m| normalise(m)).collect(),
    };
    let log = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        output.stdout, output.stderr
    );
    (outcome, log)
}

/// What differs between ansible-playbook's outcome and rpatch's, one line each.
fn differences(want: &Outcome, got: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    if want.exit_code != got.exit_code {
        out.push(format!(
            "exit code: ansible {} rpatch {}",
            want.exit_code, got.exit_code
        ));
    }
    if want.recap != got.recap {
        out.push(format!(
            "recap: ansible {:?}\n        rpatch  {:?}",
            want.recap, got.recap
        ));
    }
    for (path, text) in &want.files {
        match got.files.get(path) {
            None => out.push(format!("file {path}: missing (ansible wrote {text:?})")),
            Some(mine) if mine != text => {
                out.push(format!("file {path}: ansible {text:?} rpatch {mine:?}"))
            }
            Some(_) => {}
        }
    }
    for path in got.files.keys().filter(|p| !want.files.contains_key(*p)) {
        out.push(format!("file {path}: written by rpatch only"));
    }
    if want.dirs != got.dirs {
        out.push(format!(
            "dirs: ansible {:?} rpatch {:?}",
            want.dirs, got.dirs
        ));
    }
    if want.msgs != got.msgs {
        out.push(format!(
            "msgs: ansible {:?}\n        rpatch  {:?}",
            want.msgs, got.msgs
        ));
    }
    out
}

/// One case's verdict.
struct Verdict {
    name: String,
    class: String,
    listed: Option<String>,
    diffs: Vec<String>,
    log: String,
}

fn judge(name: &str) -> Verdict {
    let dir = cases_dir().join(name);
    let meta: Meta =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("case.yml")).expect("case.yml"))
            .unwrap_or_else(|e| panic!("{name}/case.yml: {e}"));
    let recording: Recording = match std::fs::read_to_string(dir.join("expected.json")) {
        Ok(text) => {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/expected.json: {e}"))
        }
        Err(e) => {
            return Verdict {
                name: name.to_string(),
                class: meta.class,
                listed: None,
                diffs: vec![format!(
                    "no recording ({e}): run scripts/record-compat {name}"
                )],
                log: String::new(),
            }
        }
    };
    let (got, log) = run_case(&dir, &meta, &recording.hosts);
    let listed = meta
        .known_mismatch
        .as_ref()
        .map(|r| format!("known mismatch: {r}"))
        .or_else(|| meta.difference.as_ref().map(|r| format!("difference: {r}")));
    Verdict {
        name: name.to_string(),
        class: meta.class.clone(),
        listed,
        diffs: differences(&recording.outcome, &got),
        log,
    }
}

/// The README's compat sentence for these verdicts.
fn figure(verdicts: &[Verdict]) -> String {
    let matching = verdicts.iter().filter(|v| v.diffs.is_empty()).count();
    format!(
        "{} cases, {} match ansible-playbook exactly",
        verdicts.len(),
        matching
    )
}

#[test]
fn rpatch_matches_recorded_ansible_playbook_outcomes() {
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("tests/compat/cases")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let only = std::env::var("COMPAT_CASE").ok();
    names.retain(|n| only.as_ref().is_none_or(|o| n.contains(o.as_str())));
    let threads = 3;
    let chunks: Vec<Vec<String>> = (0..threads)
        .map(|i| names.iter().skip(i).step_by(threads).cloned().collect())
        .collect();
    let mut verdicts: Vec<Verdict> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| scope.spawn(move || chunk.iter().map(|n| judge(n)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("case thread"))
            .collect()
    });
    verdicts.sort_by(|a, b| a.name.cmp(&b.name));

    let mut per_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut problems = Vec::new();
    for v in &verdicts {
        let entry = per_class.entry(&v.class).or_default();
        entry.0 += 1;
        if v.diffs.is_empty() {
            entry.1 += 1;
        }
        match (&v.listed, v.diffs.is_empty()) {
            (None, false) => problems.push(format!(
                "{} ({}) differs from ansible-playbook:\n    {}\n{}",
                v.name,
                v.class,
                v.diffs.join("\n    "),
                if std::env::var("COMPAT_LOG").is_ok() {
                    v.log.as_str()
                } else {
                    ""
                }
            )),
            (Some(why), true) => problems.push(format!(
                "{} ({}) now matches ansible-playbook: take it off the list ({why})",
                v.name, v.class
            )),
            (Some(why), false) => {
                eprintln!(
                    "listed {} ({}): {why}\n    {}",
                    v.name,
                    v.class,
                    v.diffs.join("\n    ")
                )
            }
            (None, true) => {}
        }
    }
    for (class, (total, matching)) in &per_class {
        eprintln!("{class}: {matching}/{total} match");
    }
    let figure = figure(&verdicts);
    eprintln!("{figure}");
    if only.is_none() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .expect("README.md");
        if !readme.contains(&figure) {
            problems.push(format!(
                "README.md does not say \"{figure}\": run scripts/compat-count --write"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
