//! `fetch`: bring a file from the host to the controller, idempotent by SHA-1 checksum.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::{self, shell_path, Kind, Probe};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::OUTPUT_CAP;
use crate::vars::Value;

/// Arguments of `fetch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// The file on the host.
    src: Option<String>,
    /// A directory on the controller (or, with `flat`, the file's local path).
    dest: Option<String>,
    /// Save as `dest` (or `dest/NAME` when dest ends in `/`) instead of `dest/HOST/src`.
    #[serde(default, deserialize_with = "lenient::bool")]
    flat: bool,
    /// Fail when the remote file is missing (no: report it and go on).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    fail_on_missing: bool,
    /// Check the received bytes against the host's SHA-1.
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    validate_checksum: bool,
    /// The old name of `validate_checksum`.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    validate_md5: Option<bool>,
}

fn yes() -> bool {
    true
}

/// What `fetch` registers.
#[derive(Debug, Serialize)]
struct FetchOutcome {
    dest: String,
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_checksum: Option<String>,
}

/// `fetch`: bring a host file back to the controller.
pub(crate) struct Fetch;

#[async_trait]
impl Module for Fetch {
    fn names(&self) -> &'static [&'static str] {
        &["fetch", "ansible.builtin.fetch", "ansible.legacy.fetch"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<FetchArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: FetchArgs = args::parse(args)?;
        fetch(&args, ctx).await
    }
}

async fn fetch(args: &FetchArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let required = |value: &Option<String>, name: &str| {
        value
            .clone()
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ArgError::Invalid(format!("{name} is required")))
    };
    let src = required(&args.src, "src")?;
    let dest = required(&args.dest, "dest")?;
    let local = local_path(&src, &dest, args.flat, ctx.host);
    let outcome = |checksum: Option<String>, remote_checksum: Option<String>| FetchOutcome {
        dest: local.display().to_string(),
        file: src.clone(),
        checksum,
        remote_checksum,
    };
    let remote = remote_file::probe(
        ctx,
        &src,
        Probe {
            follow: true,
            checksum: true,
            content_up_to: None,
        },
    )
    .await?;
    match remote.kind {
        Kind::File => {}
        Kind::Absent => {
            let msg = "the remote file does not exist, not transferring, ignored";
            let result = if args.fail_on_missing {
                ModuleResult::failed(msg)
            } else {
                ModuleResult::ok().with_msg(msg)
            };
            return Ok(result.with_data(&outcome(None, None)));
        }
        Kind::Directory => {
            return Err(ModuleError::Failed(format!(
                "remote file {src} is a directory, fetch cannot work on directories"
            )))
        }
        _ => {
            return Err(ModuleError::Failed(format!(
                "remote file {src} is not a regular file"
            )))
        }
    }
    let remote_checksum = remote
        .checksum
        .clone()
        .ok_or_else(|| ModuleError::Failed(format!("unable to calculate the checksum of {src}")))?;
    let local_checksum = match tokio::fs::read(&local).await {
        Ok(bytes) => Some(remote_file::sha1_hex(&bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(ModuleError::Failed(format!(
                "cannot read {}: {error}",
                local.display()
            )))
        }
    };
    if local_checksum.as_deref() == Some(remote_checksum.as_str()) {
        return Ok(ModuleResult::ok().with_data(&outcome(local_checksum, Some(remote_checksum))));
    }
    if remote.size > OUTPUT_CAP as u64 {
        return Err(ModuleError::Failed(format!(
            "{src} is {} bytes; fetch reads at most {OUTPUT_CAP} bytes per file",
            remote.size
        )));
    }
    if ctx.check_mode {
        return Ok(ModuleResult::changed().with_data(&outcome(
            Some(remote_checksum.clone()),
            Some(remote_checksum),
        )));
    }
    let output = ctx.exec(format!("cat -- {}", shell_path(&src))).await?;
    if !output.status.success() {
        return Err(remote_file::host_failure(
            &format!("cannot read {src}"),
            &output,
        ));
    }
    if output.truncated {
        return Err(ModuleError::Failed(format!(
            "{src} grew past {OUTPUT_CAP} bytes while being read; nothing was saved"
        )));
    }
    let checksum = remote_file::sha1_hex(&output.stdout);
    let validate = args.validate_md5.unwrap_or(args.validate_checksum);
    if validate && checksum != remote_checksum {
        return Err(ModuleError::Failed(format!(
            "checksum mismatch: {src} changed while being fetched (host {remote_checksum}, \
             received {checksum})"
        )));
    }
    save(&local, &output.stdout).await?;
    Ok(ModuleResult::changed().with_data(&outcome(Some(checksum), Some(remote_checksum))))
}

/// Where the file goes on the controller, as Ansible decides it.
fn local_path(src: &str, dest: &str, flat: bool, host: &str) -> PathBuf {
    let name = src.rsplit('/').next().unwrap_or(src);
    if flat {
        if dest.ends_with('/') {
            Path::new(dest).join(name)
        } else {
            PathBuf::from(dest)
        }
    } else {
        let relative = src.trim_start_matches('~').trim_start_matches('/');
        Path::new(dest).join(host).join(relative)
    }
}

/// Writes through a temporary file beside the target, so a reader never sees half a file.
async fn save(path: &Path, bytes: &[u8]) -> Result<(), ModuleError> {
    let fail = |error: std::io::Error| {
        ModuleError::Failed(format!("cannot save {}: {error}", path.display()))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(fail)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    // Unique per save: with `flat`, several hosts may fetch to the same path at once.
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tmp.push(format!(".rpatch-tmp.{}.{serial}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    tokio::fs::write(&tmp, bytes).await.map_err(fail)?;
    if let Err(error) = tokio::fs::rename(&tmp, path).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(fail(error));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_follow_ansible_layout() {
        assert_eq!(
            local_path("/etc/hosts", "out", false, "web1"),
            PathBuf::from("out/web1/etc/hosts")
        );
        assert_eq!(
            local_path("/etc/hosts", "out/", true, "web1"),
            PathBuf::from("out/hosts")
        );
        assert_eq!(
            local_path("/etc/hosts", "out/h.txt", true, "web1"),
            PathBuf::from("out/h.txt")
        );
    }

    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, run, CHECK, RUN,
    };
    use super::Fetch;
    use serde_json::json;

    fn all_bytes() -> Vec<u8> {
        (0..=255u8).collect()
    }

    #[tokio::test]
    async fn files_land_under_dest_host_path_and_a_rerun_is_ok() {
        let remote = tempfile::tempdir().expect("tempdir");
        let local = tempfile::tempdir().expect("tempdir");
        let src = remote.path().join("data.bin");
        std::fs::write(&src, all_bytes()).expect("write");
        let args = json!({"src": src, "dest": local.path()});
        let first = run(Fetch, args.clone(), RUN).await;
        assert_changed(&first);
        let relative = src.to_string_lossy().trim_start_matches('/').to_string();
        let saved = local.path().join("web1").join(relative);
        assert_eq!(std::fs::read(&saved).expect("saved"), all_bytes());
        let sum = super::remote_file::sha1_hex(&all_bytes());
        assert_eq!(field(&first, "checksum"), sum.as_str());
        assert_eq!(field(&first, "remote_checksum"), sum.as_str());
        assert_eq!(field(&first, "dest"), saved.to_string_lossy().as_ref());
        assert_eq!(field(&first, "file"), src.to_string_lossy().as_ref());
        assert_ok(&run(Fetch, args.clone(), RUN).await);
        std::fs::write(&src, b"changed").expect("write");
        assert_changed(&run(Fetch, args, RUN).await);
        assert_eq!(std::fs::read(&saved).expect("saved"), b"changed");
    }

    #[tokio::test]
    async fn flat_saves_to_dest_itself_or_into_a_dest_dir() {
        let remote = tempfile::tempdir().expect("tempdir");
        let local = tempfile::tempdir().expect("tempdir");
        let src = remote.path().join("hosts");
        std::fs::write(&src, "127.0.0.1 localhost\n").expect("write");
        let file = local.path().join("copy.txt");
        assert_changed(&run(Fetch, json!({"src": src, "dest": file, "flat": true}), RUN).await);
        assert!(file.is_file());
        let into = format!("{}/sub/", local.path().display());
        assert_changed(&run(Fetch, json!({"src": src, "dest": into, "flat": "yes"}), RUN).await);
        assert!(local.path().join("sub/hosts").is_file());
    }

    #[tokio::test]
    async fn check_mode_saves_nothing() {
        let remote = tempfile::tempdir().expect("tempdir");
        let local = tempfile::tempdir().expect("tempdir");
        let src = remote.path().join("f");
        std::fs::write(&src, "x").expect("write");
        let dest = local.path().join("f");
        let result = run(
            Fetch,
            json!({"src": src, "dest": dest, "flat": true}),
            CHECK,
        )
        .await;
        assert_changed(&result);
        assert!(!dest.exists());
    }

    #[tokio::test]
    async fn a_missing_remote_file_fails_unless_told_otherwise() {
        let local = tempfile::tempdir().expect("tempdir");
        let args = json!({"src": "/nonexistent/file", "dest": local.path()});
        assert_failed(&run(Fetch, args, RUN).await, "does not exist");
        let lenient = json!({"src": "/nonexistent/file", "dest": local.path(),
            "fail_on_missing": false});
        let result = run(Fetch, lenient, RUN).await;
        assert_ok(&result);
        assert!(result.msg.unwrap_or_default().contains("does not exist"));
    }

    #[tokio::test]
    async fn files_beyond_the_output_cap_are_refused_not_truncated() {
        let remote = tempfile::tempdir().expect("tempdir");
        let local = tempfile::tempdir().expect("tempdir");
        let src = remote.path().join("big");
        let file = std::fs::File::create(&src).expect("create");
        file.set_len(OUTPUT_CAP as u64 + 1).expect("grow");
        let dest = local.path().join("big");
        let result = run(Fetch, json!({"src": src, "dest": dest, "flat": true}), RUN).await;
        assert_failed(&result, "fetch reads at most");
        assert!(!dest.exists());
    }

    #[tokio::test]
    async fn directories_and_missing_arguments_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_failed(
            &run(Fetch, json!({"src": dir.path(), "dest": dir.path()}), RUN).await,
            "is a directory",
        );
        assert_failed(
            &run(Fetch, json!({"dest": dir.path()}), RUN).await,
            "src is required",
        );
        assert_failed(
            &run(Fetch, json!({"src": "/etc/hostname"}), RUN).await,
            "dest is required",
        );
    }
}
