//! The replay `govc` (tests/support/govc_replay.py) set up for one test: a temp directory
//! with a `govc` wrapper to put first on PATH, the scenario of transcripts it answers (in
//! order), and the log of every call it saw (argv, GOVC_* environment, parent command lines).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use tempfile::TempDir;

/// The python the replay runs on.
const PYTHON: &str = "/usr/bin/python3";

/// One replay govc with its scenario.
pub struct GovcReplay {
    dir: TempDir,
}

impl GovcReplay {
    /// A replay answering the transcripts numbered `steps` (`"12"` is
    /// tests/fixtures/govc/12-….txt), in this order.
    pub fn new(steps: &[&str]) -> Self {
        assert!(
            Path::new(PYTHON).exists(),
            "the replay govc needs {PYTHON} (apt-get install python3)"
        );
        let dir = tempfile::tempdir().expect("replay dir");
        let fixtures = fixtures_dir();
        std::os::unix::fs::symlink(&fixtures, dir.path().join("fixtures")).expect("link fixtures");
        let scenario: Vec<String> = steps.iter().map(|step| transcript(step)).collect();
        std::fs::write(dir.path().join("scenario"), scenario.join("\n") + "\n").expect("scenario");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/govc_replay.py");
        let wrapper = bin.join("govc");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec {PYTHON} '{}' '{}' \"$@\"\n",
                script.display(),
                dir.path().display()
            ),
        )
        .expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Self { dir }
    }

    /// Lets every user run the replay and write its log (for a fleet host's login user).
    pub fn shared(self) -> Self {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod replay dir");
        self
    }

    /// The directory holding the `govc` wrapper.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// A PATH with the replay first.
    pub fn path_env(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        format!("{}:{rest}", self.dir.path().join("bin").display())
    }

    /// Every call the replay saw, in order.
    pub fn calls(&self) -> Vec<Json> {
        let Ok(text) = std::fs::read_to_string(self.dir.path().join("log.jsonl")) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| serde_json::from_str(line).expect("log line is JSON"))
            .collect()
    }

    /// Each call's command line (`govc` and its arguments joined by spaces).
    pub fn command_lines(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|call| {
                let words: Vec<&str> = call["argv"]
                    .as_array()
                    .expect("argv")
                    .iter()
                    .filter_map(Json::as_str)
                    .collect();
                words.join(" ")
            })
            .collect()
    }

    /// The transcripts answered, in order (`None` for a call that failed with exit 97).
    pub fn answered(&self) -> Vec<Option<String>> {
        self.calls()
            .iter()
            .map(|call| call["transcript"].as_str().map(|s| s[..2].to_string()))
            .collect()
    }

    /// Fails unless the replay answered exactly `steps`, in order, and nothing else.
    pub fn assert_replayed(&self, steps: &[&str]) {
        let expected: Vec<Option<String>> = steps.iter().map(|s| Some(s.to_string())).collect();
        assert_eq!(
            self.answered(),
            expected,
            "calls seen: {:#?}",
            self.command_lines()
        );
    }
}

/// tests/fixtures/govc.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/govc")
}

/// The file name of transcript number `step`.
pub fn transcript(step: &str) -> String {
    let prefix = format!("{step}-");
    std::fs::read_dir(fixtures_dir())
        .expect("fixtures")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .find(|name| name.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no transcript numbered {step}"))
}
