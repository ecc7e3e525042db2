//! `slurp`: read a file on the host and register its bytes as base64, binary safe.
//!
//! Deviations from Ansible: a file larger than the transport's output cap (4 MiB) fails
//! instead of being read (Ansible has no limit, but holds the file in memory all the same).

use async_trait::async_trait;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::remote_file::{self, shell_path};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::OUTPUT_CAP;
use crate::vars::Value;

/// Arguments of `slurp`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurpArgs {
    /// The file to read.
    src: Option<String>,
    /// Alias of `src`.
    path: Option<String>,
}

/// What `slurp` registers: `content | b64decode` gives the file back.
#[derive(Debug, Serialize)]
struct SlurpOutcome {
    content: String,
    encoding: &'static str,
    source: String,
}

/// `slurp`: fetch a file's content into a registered variable.
pub(crate) struct Slurp;

#[async_trait]
impl Module for Slurp {
    fn names(&self) -> &'static [&'static str] {
        &["slurp", "ansible.builtin.slurp", "ansible.legacy.slurp"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<SlurpArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: SlurpArgs = args::parse(args)?;
        let src = match (args.src, args.path) {
            (Some(_), Some(_)) => Err(ArgError::Invalid(
                "src and path are aliases; give only one".into(),
            ))?,
            (Some(src), None) | (None, Some(src)) if !src.is_empty() => src,
            _ => Err(ArgError::Invalid("src is required".into()))?,
        };
        let output = ctx.exec(script(&src)).await?;
        match output.status.rc() {
            0 => {}
            EXIT_MISSING => {
                return Err(ModuleError::Failed(format!("file not found: {src}")));
            }
            EXIT_DIRECTORY => {
                return Err(ModuleError::Failed(format!(
                    "source is a directory and must be a file: {src}"
                )));
            }
            _ => {
                return Err(remote_file::host_failure(
                    &format!("cannot read {src}"),
                    &output,
                ))
            }
        }
        if output.truncated {
            return Err(ModuleError::Failed(format!(
                "{src} is larger than {OUTPUT_CAP} bytes; slurp reads at most that much"
            )));
        }
        let content = base64::engine::general_purpose::STANDARD.encode(&output.stdout);
        Ok(ModuleResult::ok().with_data(&SlurpOutcome {
            content,
            encoding: "base64",
            source: src,
        }))
    }
}

/// Exit status of [`script`] when nothing is at the path.
const EXIT_MISSING: i32 = 3;
/// Exit status of [`script`] when the path is a directory.
const EXIT_DIRECTORY: i32 = 4;

/// One round trip: tell a missing path and a directory apart from a read error, then `cat`.
fn script(src: &str) -> String {
    format!(
        "p={}\n\
         if [ -d \"$p\" ]; then exit {EXIT_DIRECTORY}; fi\n\
         if [ ! -e \"$p\" ]; then exit {EXIT_MISSING}; fi\n\
         exec cat -- \"$p\"\n",
        shell_path(src)
    )
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{assert_failed, assert_ok, field, run, CHECK, RUN};
    use super::*;
    use serde_json::json;

    fn decode(result: &ModuleResult) -> Vec<u8> {
        let content = field(result, "content");
        base64::engine::general_purpose::STANDARD
            .decode(content.as_str().expect("content is text"))
            .expect("base64")
    }

    #[tokio::test]
    async fn binary_content_comes_back_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("blob with space");
        let bytes: Vec<u8> = (0..=255u8).chain([0, b'\n', 0xff]).collect();
        std::fs::write(&path, &bytes).expect("write");
        let result = run(Slurp, json!({"src": path}), RUN).await;
        assert_ok(&result);
        assert_eq!(decode(&result), bytes);
        assert_eq!(field(&result, "encoding"), json!("base64"));
        assert_eq!(field(&result, "source"), json!(path.display().to_string()));
        let check = run(Slurp, json!({"path": path}), CHECK).await;
        assert_ok(&check);
        assert_eq!(decode(&check), bytes);
    }

    #[tokio::test]
    async fn an_empty_file_is_empty_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").expect("write");
        let result = run(Slurp, json!({"src": path}), RUN).await;
        assert_eq!(field(&result, "content"), json!(""));
    }

    #[tokio::test]
    async fn missing_files_and_directories_fail_with_ansibles_messages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        assert_failed(
            &run(Slurp, json!({"src": missing}), RUN).await,
            "file not found",
        );
        assert_failed(
            &run(Slurp, json!({"src": dir.path()}), RUN).await,
            "source is a directory and must be a file",
        );
        assert_failed(&run(Slurp, json!({}), RUN).await, "src is required");
        assert_failed(
            &run(Slurp, json!({"src": "/a", "path": "/b"}), RUN).await,
            "aliases",
        );
        assert_failed(
            &run(Slurp, json!({"src": "/a", "mode": "0644"}), RUN).await,
            "unsupported argument `mode`",
        );
    }

    #[tokio::test]
    async fn an_unreadable_file_fails_with_the_hosts_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, b"x").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        if std::fs::read(&path).is_ok() {
            return; // running as root, which reads everything
        }
        assert_failed(&run(Slurp, json!({"src": path}), RUN).await, "cannot read");
    }
}
