//! The stand-in `powershell` (tests/support/powershell_replay.py) set up for one test: a
//! temp directory with a `powershell` wrapper to put first on PATH, the answers it gives (in
//! order), and the log of every call: the decoded script, the scripts nested in it, and the
//! syntax errors tree-sitter's PowerShell grammar found (a call with any fails).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use tempfile::TempDir;

/// The Python with tree-sitter and its PowerShell grammar, installed by scripts/test.
pub fn parser_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/psparse-venv/bin/python")
}

/// One stand-in `powershell` with its answers.
pub struct PowershellReplay {
    dir: TempDir,
}

impl PowershellReplay {
    /// A stand-in answering each call with the next of `stdouts` (exit 0, nothing on stderr).
    pub fn new(stdouts: &[String]) -> Self {
        let answers: Vec<Json> = stdouts
            .iter()
            .map(|stdout| serde_json::json!({ "stdout": stdout }))
            .collect();
        Self::with_answers(&answers)
    }

    /// A stand-in giving `answers` (`{"stdout", "stderr", "rc"}`) in order.
    pub fn with_answers(answers: &[Json]) -> Self {
        let python = parser_python();
        let probe = std::process::Command::new(&python)
            .args(["-c", "import tree_sitter, tree_sitter_powershell"])
            .status();
        assert!(
            probe.is_ok_and(|s| s.success()),
            "the PowerShell parser is missing: {} with tree-sitter and tree-sitter-powershell \
             (scripts/test installs it: python3 -m venv target/psparse-venv && \
             target/psparse-venv/bin/pip install tree-sitter==0.26.1 tree-sitter-powershell==0.26.4)",
            python.display()
        );
        let dir = tempfile::tempdir().expect("replay dir");
        std::fs::write(
            dir.path().join("answers"),
            serde_json::to_string(answers).expect("answers"),
        )
        .expect("answers");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/powershell_replay.py");
        let wrapper = bin.join("powershell");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec '{}' '{}' '{}' \"$@\"\n",
                python.display(),
                script.display(),
                dir.path().display()
            ),
        )
        .expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Self { dir }
    }

    /// A PATH with the stand-in first.
    pub fn path_env(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        format!("{}:{rest}", self.dir.path().join("bin").display())
    }

    /// Every call seen, in order.
    pub fn calls(&self) -> Vec<Json> {
        let Ok(text) = std::fs::read_to_string(self.dir.path().join("log.jsonl")) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| serde_json::from_str(line).expect("log line is JSON"))
            .collect()
    }

    /// The decoded scripts, in call order.
    pub fn scripts(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|call| call["script"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Fails unless every answer was used by a call that parsed cleanly, and nothing else ran.
    pub fn assert_all_answered(&self, count: usize) {
        let calls = self.calls();
        for call in &calls {
            assert_eq!(
                call["errors"],
                serde_json::json!([]),
                "syntax errors: {call}"
            );
        }
        let answered: Vec<Option<i64>> = calls.iter().map(|c| c["answer"].as_i64()).collect();
        let expected: Vec<Option<i64>> = (0..count as i64).map(Some).collect();
        assert_eq!(answered, expected, "calls: {calls:#?}");
    }
}
