//! `unarchive`: unpack a tar (plain, gzip, bzip2, xz) or zip archive into a directory on the
//! host, from the controller (`src` found as `copy` finds it, sent on stdin) or already on the
//! host (`remote_src: true`).
//!
//! One round trip, idempotent by content: the archive is unpacked into a temporary directory
//! beside `dest`, every file compared with what `dest` holds (`cmp`), and only when one
//! differs or is missing is the tree copied over `dest` (`changed`). Needs GNU tar (which
//! detects the compression itself) or `unzip` on the host. Deviations from Ansible: no
//! `include`/`exclude`, `keep_newer`, `mode`/`owner`/`group` or URL `src`; `extra_opts` go to
//! tar only.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{quote, ExecRequest};
use crate::vars::Value;

/// Arguments of `unarchive`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnarchiveArgs {
    /// The archive: a controller path, or a host path with `remote_src`.
    src: String,
    /// The existing directory to unpack into.
    dest: String,
    /// `src` is on the host.
    #[serde(default, deserialize_with = "lenient::bool", alias = "copy_remote")]
    remote_src: bool,
    /// Skip when this path exists on the host.
    creates: Option<String>,
    /// Register the archive's member names as `files`.
    #[serde(default, deserialize_with = "lenient::bool")]
    list_files: bool,
    /// More options for tar.
    #[serde(default)]
    extra_opts: Vec<String>,
}

/// What `unarchive` registers.
#[derive(Debug, Serialize)]
struct UnarchiveOutcome {
    dest: String,
    src: String,
    handler: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Vec<String>>,
}

/// `unarchive`: unpack an archive on the host.
pub(crate) struct Unarchive;

#[async_trait]
impl Module for Unarchive {
    fn names(&self) -> &'static [&'static str] {
        &[
            "unarchive",
            "ansible.builtin.unarchive",
            "ansible.legacy.unarchive",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<UnarchiveArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: UnarchiveArgs = args::parse(args)?;
        unarchive(&args, ctx).await
    }
}

/// Exit statuses of the host script besides 0 and 1.
const NO_DEST: i32 = 3;
const NOT_AN_ARCHIVE: i32 = 4;
const SKIPPED: i32 = 5;

/// The host script: prints the handler, `changed`/`same`, then member names.
fn script(args: &UnarchiveArgs, check: bool) -> String {
    let extra = args
        .extra_opts
        .iter()
        .map(|opt| quote(opt))
        .collect::<Vec<_>>()
        .join(" ");
    let creates = args
        .creates
        .as_deref()
        .map(|path| format!("[ -e {} ] && exit {SKIPPED}\n", remote_file::shell_path(path)))
        .unwrap_or_default();
    format!(
        "PATH=\"$PATH:/usr/sbin:/sbin\"\n{creates}\
         dest={dest}\n[ -d \"$dest\" ] || exit {NO_DEST}\n\
         dest=$(cd \"$dest\" && pwd -P) || exit 1\n\
         w=$(mktemp -d \"${{dest%/}}/.rpatch-unarchive.XXXXXX\") || exit 1\n\
         trap 'rm -rf -- \"$w\"' EXIT\n\
         {fetch}\
         mkdir \"$w/t\" || exit 1\n\
         if tar -tf \"$a\" >/dev/null 2>&1; then h=TgzArchive; \
         tar -xf \"$a\" -C \"$w/t\" {extra} || exit 1\n\
         elif command -v unzip >/dev/null 2>&1 && unzip -tqq \"$a\" >/dev/null 2>&1; then h=ZipArchive; \
         unzip -qq -o \"$a\" -d \"$w/t\" || exit 1\n\
         else exit {NOT_AN_ARCHIVE}; fi\n\
         echo \"$h\"\n\
         cd \"$w/t\" || exit 1\n\
         d=$(find . ! -type d | while IFS= read -r f; do \
         cmp -s \"$f\" \"$dest/$f\" || {{ echo x; break; }}; done)\n\
         if [ -n \"$d\" ]; then echo changed; {apply}; else echo same; fi\n\
         find . -mindepth 1 | sed 's|^\\./||'\n",
        dest = remote_file::shell_path(&args.dest),
        fetch = if args.remote_src {
            format!("a={}\n", remote_file::shell_path(&args.src))
        } else {
            "a=\"$w/archive\"; cat > \"$a\" || exit 1\n".to_string()
        },
        apply = if check {
            ":"
        } else {
            // Each top-level entry, not `.`: dest's own times and owner are not the archive's.
            "for f in ./* ./.[!.]* ./..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then \
             cp -pPR \"$f\" \"$dest\"/ || exit 1; fi; done"
        },
    )
}

async fn unarchive(
    args: &UnarchiveArgs,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, ModuleError> {
    let body = if args.remote_src {
        None
    } else {
        let local = remote_file::find_local(&args.src, "files", ctx)?;
        Some(tokio::fs::read(&local).await.map_err(|error| {
            ModuleError::Failed(format!("cannot read {}: {error}", local.display()))
        })?)
    };
    let mut request = ExecRequest::new(script(args, ctx.check_mode));
    request.stdin = body;
    let output = ctx.exec_request(request).await?;
    match output.status.rc() {
        0 => {}
        SKIPPED => {
            return Ok(ModuleResult::skipped(format!(
                "skipped, since {} exists",
                args.creates.as_deref().unwrap_or_default()
            )))
        }
        NO_DEST => {
            return Ok(ModuleResult::failed(format!(
                "dest '{}' must be an existing dir",
                args.dest
            )))
        }
        NOT_AN_ARCHIVE => {
            return Ok(ModuleResult::failed(format!(
                "Failed to find handler for \"{}\". Make sure the required command to extract the file is installed.",
                args.src
            )))
        }
        _ => {
            return Err(remote_file::host_failure(
                &format!("cannot unpack {}", args.src),
                &output,
            ))
        }
    }
    let text = output.stdout_text();
    let mut lines = text.lines();
    let handler = match lines.next() {
        Some("ZipArchive") => "ZipArchive",
        _ => "TgzArchive",
    };
    let changed = lines.next() == Some("changed");
    let files: Vec<String> = lines.map(str::to_string).collect();
    let outcome = UnarchiveOutcome {
        dest: args.dest.clone(),
        src: args.src.clone(),
        handler,
        files: args.list_files.then_some(files),
    };
    let result = if changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(result.with_data(&outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;

    async fn run_unarchive(args: serde_json::Value, dir: &std::path::Path) -> ModuleResult {
        let templar = Templar::new();
        let scope = crate::vars::from_json(&serde_json::json!({
            "playbook_dir": dir.display().to_string()
        }));
        let ctx = ModuleContext::local(&templar, &scope);
        super::super::run(&Unarchive, &crate::vars::from_json(&args), &ctx).await
    }

    fn sh(line: &str) {
        let status = std::process::Command::new("sh")
            .args(["-c", line])
            .status()
            .expect("sh");
        assert!(status.success(), "{line}");
    }

    #[tokio::test]
    async fn a_controller_tgz_is_unpacked_once_and_again_only_when_it_differs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().display().to_string();
        sh(&format!(
            "mkdir -p {root}/src/sub {root}/files {root}/out && printf 'v1' > {root}/src/sub/a.txt \
             && printf '\\000\\377' > {root}/src/b.bin && tar -czf {root}/files/app.tgz -C {root}/src ."
        ));
        let args = serde_json::json!({"src": "app.tgz", "dest": format!("{root}/out"), "list_files": true});
        let first = run_unarchive(args.clone(), dir.path()).await;
        assert!(first.changed && !first.failed, "{first:?}");
        assert_eq!(first.data["handler"].as_str(), Some("TgzArchive"));
        assert_eq!(
            std::fs::read(dir.path().join("out/b.bin")).expect("bin"),
            b"\x00\xff"
        );
        let second = run_unarchive(args.clone(), dir.path()).await;
        assert!(!second.changed, "{second:?}");
        std::fs::write(dir.path().join("out/sub/a.txt"), "edited").expect("edit");
        let third = run_unarchive(args, dir.path()).await;
        assert!(third.changed, "{third:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/sub/a.txt")).expect("a"),
            "v1"
        );
    }

    #[tokio::test]
    async fn a_zip_on_the_host_is_unpacked_with_remote_src_and_creates_skips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().display().to_string();
        sh(&format!(
            "mkdir -p {root}/z {root}/out && printf 'zipped' > {root}/z/f.txt && \
             cd {root}/z && python3 -c \"import zipfile; z=zipfile.ZipFile('{root}/a.zip','w'); z.write('f.txt'); z.close()\""
        ));
        let args = serde_json::json!({"src": format!("{root}/a.zip"), "dest": format!("{root}/out"), "remote_src": true});
        let result = run_unarchive(args, dir.path()).await;
        assert!(result.changed, "{result:?}");
        assert_eq!(result.data["handler"].as_str(), Some("ZipArchive"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/f.txt")).expect("f"),
            "zipped"
        );
        let skipped = run_unarchive(
            serde_json::json!({"src": format!("{root}/a.zip"), "dest": format!("{root}/out"),
                               "remote_src": true, "creates": format!("{root}/out/f.txt")}),
            dir.path(),
        )
        .await;
        assert!(skipped.skipped, "{skipped:?}");
    }

    #[tokio::test]
    async fn unarchive_into_a_missing_directory_or_from_a_non_archive_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().display().to_string();
        std::fs::write(dir.path().join("plain.txt"), "not an archive").expect("write");
        let missing = run_unarchive(
            serde_json::json!({"src": "plain.txt", "dest": format!("{root}/nope")}),
            dir.path(),
        )
        .await;
        assert!(missing.failed);
        assert!(missing.msg.unwrap_or_default().contains("must be an existing dir"));
        let bad = run_unarchive(
            serde_json::json!({"src": "plain.txt", "dest": root}),
            dir.path(),
        )
        .await;
        assert!(bad.failed);
        assert!(bad.msg.unwrap_or_default().contains("Failed to find handler"));
    }
}
