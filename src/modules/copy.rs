//! `copy`: put content or a controller file on the host, idempotent by SHA-1 checksum; also
//! the install step `template` and `lineinfile` reuse.

use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::{
    self, attr_changes, find_local, Attrs, Change, Kind, Mode, ModeArg,
    Principal, Probe, RemoteFile,
};
use super::{Diff, CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `copy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyArgs {
    /// A controller file (or directory) to copy, found in the role/playbook `files/` dirs.
    src: Option<String>,
    /// Literal content to write instead of `src`.
    content: Option<serde_json::Value>,
    /// Where to write on the host; a directory (or a path ending in `/`) gets src's name.
    dest: Option<String>,
    /// Permission bits: octal, symbolic, or `preserve` (the source file's).
    mode: Option<ModeArg>,
    /// Owner to set.
    owner: Option<Principal>,
    /// Group to set.
    group: Option<Principal>,
    /// Mode of directories created while copying a directory.
    directory_mode: Option<ModeArg>,
    /// Keep a timestamped copy of a file that is replaced.
    #[serde(default, deserialize_with = "lenient::bool")]
    backup: bool,
    /// Replace a file whose content differs (no: only create missing files).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    force: bool,
    /// `src` is a path on the host, not the controller.
    #[serde(default, deserialize_with = "lenient::bool")]
    remote_src: bool,
    /// Follow a symbolic link at `dest` and write through it.
    #[serde(default, deserialize_with = "lenient::bool")]
    follow: bool,
    /// A command that must accept the new file (`%s` is its path) before it replaces dest.
    validate: Option<String>,
    /// Accepted for compatibility; vault decryption does not exist in rpatch.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    decrypt: Option<bool>,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    unsafe_writes: Option<bool>,
    /// The SHA-1 the source must have (Ansible's pre-transfer check): accepted and ignored,
    /// with a warning; the copy is verified end to end anyway.
    checksum: Option<serde::de::IgnoredAny>,
    /// SELinux context parts and file attributes: accepted and ignored, with a warning.
    setype: Option<serde::de::IgnoredAny>,
    /// See `setype`.
    seuser: Option<serde::de::IgnoredAny>,
    /// See `setype`.
    serole: Option<serde::de::IgnoredAny>,
    /// See `setype`.
    selevel: Option<serde::de::IgnoredAny>,
    /// See `setype`.
    #[serde(alias = "attr")]
    attributes: Option<serde::de::IgnoredAny>,
}

fn yes() -> bool {
    true
}

/// What `copy`, `template` register.
#[derive(Debug, Serialize)]
pub(super) struct FileOutcome {
    pub dest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    pub checksum: String,
    pub size: u64,
    pub mode: String,
    pub owner: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_file: Option<String>,
}

/// The outcome of [`install`].
#[derive(Debug)]
pub(super) struct Installed {
    /// Content or attributes changed (or would, in check mode).
    pub changed: bool,
    /// The file as it is now (in check mode: as it would be).
    pub after: RemoteFile,
    /// SHA-1 of the content now at dest.
    pub checksum: String,
    /// Where the replaced file was kept.
    pub backup_file: Option<String>,
    /// The `--diff` of the content, when asked for.
    pub diff: Option<Diff>,
}

impl Installed {
    /// The registered fields.
    pub(super) fn outcome(&self, dest: &str, src: Option<String>) -> FileOutcome {
        FileOutcome {
            dest: dest.to_string(),
            src,
            checksum: self.checksum.clone(),
            size: self.after.size,
            mode: self.after.mode_text(),
            owner: self.after.owner.clone(),
            group: self.after.group.clone(),
            uid: self.after.uid,
            gid: self.after.gid,
            state: "file",
            backup_file: self.backup_file.clone(),
        }
    }

    /// The module result: changed or ok, diff attached.
    pub(super) fn result(&self, dest: &str, src: Option<String>) -> ModuleResult {
        let base = if self.changed {
            ModuleResult::changed()
        } else {
            ModuleResult::ok()
        };
        ModuleResult {
            diff: self.diff.clone(),
            ..base.with_data(&self.outcome(dest, src))
        }
    }
}

/// How [`install`] writes a file.
#[derive(Debug, Default)]
pub(super) struct InstallOptions<'a> {
    /// Mode, owner, group wanted.
    pub attrs: Attrs,
    /// Keep a timestamped copy of a replaced file.
    pub backup: bool,
    /// Replace differing content (no: only create a missing file).
    pub force: bool,
    /// A command that must accept the new file first.
    pub validate: Option<&'a str>,
    /// Create missing parent directories of a new file.
    pub make_parents: bool,
}

/// Probes `dest` for [`install`]: checksum always, content when a diff is wanted.
pub(super) async fn probe_dest(
    ctx: &ModuleContext<'_>,
    dest: &str,
    follow: bool,
) -> Result<RemoteFile, ModuleError> {
    remote_file::probe(
        ctx,
        dest,
        Probe {
            follow,
            checksum: true,
            content_up_to: ctx.diff.then_some(remote_file::DIFF_LIMIT),
        },
    )
    .await
}

/// Makes `dest` hold `content` with the wanted attributes, given how it looks now (`before`,
/// from [`probe_dest`] or a probe with checksum). Writes only what differs; in check mode
/// writes nothing and reports what would change.
pub(super) async fn install(
    ctx: &ModuleContext<'_>,
    dest: &str,
    before: &RemoteFile,
    content: &[u8],
    options: &InstallOptions<'_>,
) -> Result<Installed, ModuleError> {
    match before.kind {
        Kind::Absent | Kind::File | Kind::Link => {}
        Kind::Directory => {
            return Err(ModuleError::Failed(format!(
                "{dest} is a directory; cannot write a file there"
            )))
        }
        Kind::Other => {
            return Err(ModuleError::Failed(format!(
                "{dest} is not a regular file; refusing to replace it"
            )))
        }
    }
    let checksum = remote_file::sha1_hex(content);
    let same_content = before.kind == Kind::File && before.checksum.as_deref() == Some(&checksum);
    if before.exists() && !same_content && !options.force {
        return Ok(Installed {
            changed: false,
            checksum: before.checksum.clone().unwrap_or_default(),
            after: before.clone(),
            backup_file: None,
            diff: None,
        });
    }
    let write = !same_content;
    let (mode, chown) = attr_changes(&options.attrs, before, false);
    let changed = write || mode.is_some() || chown.is_some();
    let diff = ctx
        .diff
        .then(|| content_diff(dest, before, content, changed))
        .flatten();
    if !changed {
        return Ok(Installed {
            changed,
            checksum,
            after: before.clone(),
            backup_file: None,
            diff,
        });
    }
    if ctx.check_mode {
        let mut after = remote_file::predicted(before, &options.attrs, false);
        after.kind = Kind::File;
        after.size = content.len() as u64;
        return Ok(Installed {
            changed,
            checksum,
            after,
            backup_file: None,
            diff,
        });
    }
    // A replaced file keeps its mode and owner unless told otherwise; a new one gets the
    // umask's mode (the temporary file starts private).
    let mode = match (mode, write) {
        (Some(mode), _) => Some(mode),
        (None, true) if before.kind == Kind::File => Some(before.mode),
        (None, true) => Some(0o666 & !before.umask),
        (None, false) => None,
    };
    let keep_owner = (write && before.kind == Kind::File).then_some((before.uid, before.gid));
    let applied = remote_file::apply(
        ctx,
        dest,
        &Change {
            content: write.then_some(content),
            mode,
            chown,
            keep_owner,
            backup: options.backup && write && before.kind == Kind::File,
            copy_from: None,
            validate: options.validate,
            make_parents: options.make_parents,
        },
    )
    .await?;
    Ok(Installed {
        changed,
        checksum: applied.after.checksum.clone().unwrap_or(checksum),
        after: applied.after,
        backup_file: applied.backup_file,
        diff,
    })
}

/// The text diff of dest's content, or a note saying why there is none.
fn content_diff(dest: &str, before: &RemoteFile, content: &[u8], changed: bool) -> Option<Diff> {
    if !changed {
        return None;
    }
    let old = match (before.kind, &before.content) {
        (Kind::File, Some(old)) => Some(old.as_slice()),
        (Kind::File, None) => None,
        _ => Some(&b""[..]),
    };
    match old {
        Some(old) if remote_file::is_text(old) && remote_file::is_text(content) => Some(Diff {
            before: String::from_utf8_lossy(old).into_owned(),
            after: String::from_utf8_lossy(content).into_owned(),
            header: dest.to_string(),
        }),
        _ => Some(Diff {
            before: String::new(),
            after: String::new(),
            header: format!(
                "{dest} (diff skipped: binary content or larger than {} bytes)",
                remote_file::DIFF_LIMIT
            ),
        }),
    }
}

/// `copy`: put content or a controller file on the host.
pub(crate) struct Copy;

#[async_trait]
impl Module for Copy {
    fn names(&self) -> &'static [&'static str] {
        &["copy", "ansible.builtin.copy", "ansible.legacy.copy"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<CopyArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: CopyArgs = args::parse(args)?;
        let mut warnings = args::ignored(
            "copy",
            &[
                ("setype", args.setype.is_some()),
                ("seuser", args.seuser.is_some()),
                ("serole", args.serole.is_some()),
                ("selevel", args.selevel.is_some()),
                ("attributes", args.attributes.is_some()),
            ],
        );
        warnings.extend(args::ignored("copy", &[("checksum", args.checksum.is_some())]));
        Ok(copy(&args, ctx).await?.with_warnings(warnings))
    }
}

async fn copy(args: &CopyArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let _accepted = (args.decrypt, args.unsafe_writes);
    let dest = args
        .dest
        .as_deref()
        .filter(|dest| !dest.is_empty())
        .ok_or_else(|| ArgError::Invalid("dest is required".into()))?;
    let mut attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;
    let options = |attrs: Attrs| InstallOptions {
        attrs,
        backup: args.backup,
        force: args.force,
        validate: args.validate.as_deref(),
        make_parents: false,
    };
    match (&args.content, &args.src) {
        (Some(_), Some(_)) => Err(ArgError::Invalid(
            "src and content are mutually exclusive".into(),
        ))?,
        (None, None) => Err(ArgError::Invalid("src (or content) is required".into()))?,
        (Some(content), None) => {
            if dest.ends_with('/') {
                Err(ArgError::Invalid(
                    "can not use content with a dir as dest".into(),
                ))?;
            }
            // As Ansible's copy: lists and dicts as `json.dumps` gives them, booleans as Python
            // spells them.
            let bytes = match content {
                serde_json::Value::String(text) => text.clone().into_bytes(),
                serde_json::Value::Bool(b) => if *b { "True" } else { "False" }.into(),
                serde_json::Value::Null => Vec::new(),
                other => crate::template::python_json_dumps(other).into_bytes(),
            };
            if attrs.mode == Some(Mode::Preserve) {
                attrs.mode = None;
            }
            let before = probe_dest(ctx, dest, args.follow).await?;
            let installed = install(ctx, dest, &before, &bytes, &options(attrs)).await?;
            Ok(installed.result(dest, None))
        }
        (None, Some(src)) if args.remote_src => copy_remote(ctx, src, dest, attrs, args).await,
        (None, Some(src)) => {
            let local = find_local(src, "files", ctx)?;
            if local.is_dir() {
                return copy_tree(ctx, src, &local, dest, attrs, args).await;
            }
            let (bytes, local_mode) = read_local(&local)?;
            if attrs.mode == Some(Mode::Preserve) {
                attrs.mode = Some(Mode::Octal(local_mode));
            }
            let mut dest = dest.to_string();
            let mut before = probe_dest(ctx, &dest, args.follow).await?;
            if dest.ends_with('/') || before.kind == Kind::Directory {
                dest = join(&dest, &file_name(&local));
                before = probe_dest(ctx, &dest, args.follow).await?;
            }
            let installed = install(ctx, &dest, &before, &bytes, &options(attrs)).await?;
            Ok(installed.result(&dest, Some(local.display().to_string())))
        }
    }
}

/// Reads a local source file: a regular file only (a FIFO or `/dev/zero` as `src` is a task
/// failure, not a hang), of any size (copying a large archive is a legitimate use).
fn read_local(path: &Path) -> Result<(Vec<u8>, u32), ModuleError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |error: std::io::Error| {
        ModuleError::Failed(format!("cannot read {}: {error}", path.display()))
    };
    let bytes = crate::input::read_capped(path, u64::MAX)
        .map_err(|error| ModuleError::Failed(error.to_string()))?;
    let mode = std::fs::metadata(path).map_err(fail)?.permissions().mode() & 0o7777;
    Ok((bytes, mode))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// `remote_src`: copy a file that is already on the host, comparing checksums there.
async fn copy_remote(
    ctx: &ModuleContext<'_>,
    src: &str,
    dest: &str,
    attrs: Attrs,
    args: &CopyArgs,
) -> Result<ModuleResult, ModuleError> {
    let probe = Probe {
        follow: true,
        checksum: true,
        content_up_to: None,
    };
    let source = remote_file::probe(ctx, src, probe).await?;
    if source.kind != Kind::File {
        return Err(ModuleError::Failed(format!(
            "Source {src} not found or not a regular file"
        )));
    }
    let mut dest = dest.to_string();
    let mut before = probe_dest(ctx, &dest, args.follow).await?;
    if dest.ends_with('/') || before.kind == Kind::Directory {
        let name = src.rsplit('/').next().unwrap_or(src);
        dest = join(&dest, name);
        before = probe_dest(ctx, &dest, args.follow).await?;
    }
    let mut attrs = attrs;
    if attrs.mode == Some(Mode::Preserve) {
        attrs.mode = Some(Mode::Octal(source.mode));
    }
    let checksum = source.checksum.clone().unwrap_or_default();
    let write = before.checksum.as_deref() != Some(&checksum) && (args.force || !before.exists());
    let (mode, chown) = attr_changes(&attrs, &before, false);
    let changed = write || mode.is_some() || chown.is_some();
    let after = if !changed || ctx.check_mode {
        let mut after = remote_file::predicted(&before, &attrs, false);
        if write {
            after.size = source.size;
        }
        after
    } else {
        let mode = mode.or(write.then(|| {
            if before.kind == Kind::File {
                before.mode
            } else {
                0o666 & !before.umask
            }
        }));
        let applied = remote_file::apply(
            ctx,
            &dest,
            &Change {
                content: None,
                mode,
                chown,
                keep_owner: (write && before.kind == Kind::File)
                    .then_some((before.uid, before.gid)),
                backup: args.backup && write && before.kind == Kind::File,
                copy_from: write.then_some(src),
                validate: args.validate.as_deref(),
                make_parents: false,
            },
        )
        .await?;
        return Ok(Installed {
            changed,
            checksum: applied.after.checksum.clone().unwrap_or(checksum),
            after: applied.after,
            backup_file: applied.backup_file,
            diff: None,
        }
        .result(&dest, Some(src.to_string())));
    };
    Ok(Installed {
        changed,
        checksum,
        after,
        backup_file: None,
        diff: None,
    }
    .result(&dest, Some(src.to_string())))
}

/// A controller directory: every file under it, directories created as needed. `src/`
/// copies the contents into dest; `src` copies the directory itself into dest.
async fn copy_tree(
    ctx: &ModuleContext<'_>,
    src: &str,
    local: &Path,
    dest: &str,
    attrs: Attrs,
    args: &CopyArgs,
) -> Result<ModuleResult, ModuleError> {
    let root = if src.ends_with('/') {
        dest.trim_end_matches('/').to_string()
    } else {
        join(dest, &file_name(local))
    };
    let dir_attrs = Attrs {
        mode: args
            .directory_mode
            .as_ref()
            .map(ModeArg::parse)
            .transpose()?,
        owner: attrs.owner.clone(),
        group: attrs.group.clone(),
    };
    let mut files = Vec::new();
    let mut dirs = vec![String::new()];
    walk(local, "", &mut files, &mut dirs)
        .map_err(|error| ModuleError::Failed(format!("cannot read {}: {error}", local.display())))?;
    let mut changed = false;
    for dir in &dirs {
        let path = if dir.is_empty() {
            root.clone()
        } else {
            join(&root, dir)
        };
        changed |= super::file::ensure_directory(ctx, &path, &dir_attrs).await?;
    }
    for relative in &files {
        let (bytes, local_mode) = read_local(&local.join(relative))?;
        let mut attrs = attrs.clone();
        if attrs.mode == Some(Mode::Preserve) {
            attrs.mode = Some(Mode::Octal(local_mode));
        }
        let path = join(&root, relative);
        let before = probe_dest(ctx, &path, args.follow).await?;
        let options = InstallOptions {
            attrs,
            backup: args.backup,
            force: args.force,
            validate: args.validate.as_deref(),
            make_parents: false,
        };
        changed |= install(ctx, &path, &before, &bytes, &options)
            .await?
            .changed;
    }
    let base = if changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(base.with_data(&serde_json::json!({
        "dest": root,
        "src": local.display().to_string(),
        "files": files,
    })))
}

fn walk(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<String>,
    dirs: &mut Vec<String>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.path().is_dir() {
            dirs.push(relative.clone());
            walk(&entry.path(), &relative, files, dirs)?;
        } else {
            files.push(relative);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, mode_of, run, run_with, CHECK, DIFF, RUN,
    };
    use super::Copy;
    use super::*;
    use serde_json::json;

    fn all_bytes() -> Vec<u8> {
        (0..=255u8).chain((0..=255u8).rev()).collect()
    }

    #[tokio::test]
    async fn content_is_written_once_then_reported_ok() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("motd");
        let args = json!({"content": "hello\n", "dest": dest, "mode": "0640"});
        let first = run(Copy, args.clone(), RUN).await;
        assert_changed(&first);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "hello\n");
        assert_eq!(mode_of(&dest), 0o640);
        assert_eq!(
            field(&first, "checksum"),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        assert_eq!(field(&first, "size"), 6);
        assert_eq!(field(&first, "mode"), "0640");
        assert_eq!(field(&first, "state"), "file");
        assert_eq!(field(&first, "dest"), dest.to_string_lossy().as_ref());
        assert!(field(&first, "owner").is_string());
        assert!(field(&first, "uid").is_number());
        let second = run(Copy, args, RUN).await;
        assert_ok(&second);
        assert_eq!(field(&second, "checksum"), field(&first, "checksum"));
    }

    #[tokio::test]
    async fn check_mode_reports_the_change_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        let result = run(Copy, json!({"content": "x", "dest": dest}), CHECK).await;
        assert_changed(&result);
        assert!(!dest.exists());
        std::fs::write(&dest, "old").expect("write");
        let result = run(
            Copy,
            json!({"content": "x", "dest": dest, "mode": "0600"}),
            CHECK,
        )
        .await;
        assert_changed(&result);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "old");
        assert_eq!(field(&result, "mode"), "0600");
        assert_ne!(mode_of(&dest), 0o600);
    }

    #[tokio::test]
    async fn diff_shows_old_and_new_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        std::fs::write(&dest, "one\n").expect("write");
        let result = run(Copy, json!({"content": "two\n", "dest": dest}), DIFF).await;
        assert_changed(&result);
        let diff = result.diff.expect("diff");
        assert_eq!(diff.before, "one\n");
        assert_eq!(diff.after, "two\n");
        assert_eq!(diff.header, dest.to_string_lossy());
        let again = run(Copy, json!({"content": "two\n", "dest": dest}), DIFF).await;
        assert_ok(&again);
        assert!(again.diff.is_none());
    }

    #[tokio::test]
    async fn diff_of_binary_content_is_skipped_with_a_note() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("bin");
        std::fs::write(&src, all_bytes()).expect("write");
        let dest = dir.path().join("out");
        let result = run(Copy, json!({"src": src, "dest": dest}), DIFF).await;
        assert_changed(&result);
        let diff = result.diff.expect("diff");
        assert!(diff.header.contains("diff skipped"), "{diff:?}");
        assert!(diff.before.is_empty() && diff.after.is_empty());
    }

    #[tokio::test]
    async fn every_byte_value_survives_the_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("bin");
        let bytes = all_bytes();
        std::fs::write(&src, &bytes).expect("write");
        let dest = dir.path().join("copy");
        let args = json!({"src": src, "dest": dest});
        let first = run(Copy, args.clone(), RUN).await;
        assert_changed(&first);
        assert_eq!(std::fs::read(&dest).expect("read"), bytes);
        assert_eq!(field(&first, "checksum"), remote_file::sha1_hex(&bytes));
        assert_eq!(field(&first, "src"), src.to_string_lossy().as_ref());
        assert_ok(&run(Copy, args, RUN).await);
    }

    #[tokio::test]
    async fn a_mode_difference_alone_is_a_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        std::fs::write(&dest, "same").expect("write");
        // 420 is what YAML makes of `mode: 0644`.
        let args = json!({"content": "same", "dest": dest, "mode": 420});
        std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        assert_changed(&run(Copy, args.clone(), RUN).await);
        assert_eq!(mode_of(&dest), 0o644);
        assert_ok(&run(Copy, args, RUN).await);
        let symbolic = json!({"content": "same", "dest": dest, "mode": "u=rw,go="});
        assert_changed(&run(Copy, symbolic.clone(), RUN).await);
        assert_eq!(mode_of(&dest), 0o600);
        assert_ok(&run(Copy, symbolic, RUN).await);
    }

    #[tokio::test]
    async fn an_owner_difference_is_detected() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        std::fs::write(&dest, "same").expect("write");
        let meta = std::fs::metadata(&dest).expect("metadata");
        let mine =
            json!({"content": "same", "dest": dest, "owner": meta.uid(), "group": meta.gid()});
        assert_ok(&run(Copy, mine, RUN).await);
        let other = if meta.uid() == 0 { 65534 } else { 0 };
        let theirs = json!({"content": "same", "dest": dest, "owner": other});
        let result = run(Copy, theirs, CHECK).await;
        assert_changed(&result);
        assert_eq!(field(&result, "owner"), other.to_string());
        assert_eq!(
            std::fs::metadata(&dest).expect("metadata").uid(),
            meta.uid()
        );
    }

    #[tokio::test]
    async fn backup_keeps_the_replaced_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("conf");
        std::fs::write(&dest, "old\n").expect("write");
        let result = run(
            Copy,
            json!({"content": "new\n", "dest": dest, "backup": true}),
            RUN,
        )
        .await;
        assert_changed(&result);
        let backup = field(&result, "backup_file");
        let backup = backup.as_str().expect("backup_file registered");
        assert!(backup.starts_with(&*dest.to_string_lossy()) && backup.ends_with('~'));
        assert_eq!(std::fs::read_to_string(backup).expect("backup"), "old\n");
        assert_eq!(std::fs::read_to_string(&dest).expect("dest"), "new\n");
        let again = run(
            Copy,
            json!({"content": "new\n", "dest": dest, "backup": true}),
            RUN,
        )
        .await;
        assert_ok(&again);
        assert!(field(&again, "backup_file").is_null());
    }

    #[tokio::test]
    async fn a_replaced_file_keeps_its_mode_and_a_new_one_follows_the_umask() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        std::fs::write(&dest, "old").expect("write");
        std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o751))
            .expect("chmod");
        assert_changed(&run(Copy, json!({"content": "new", "dest": dest}), RUN).await);
        assert_eq!(mode_of(&dest), 0o751);
        let fresh = dir.path().join("fresh");
        assert_changed(&run(Copy, json!({"content": "new", "dest": fresh}), RUN).await);
        assert_eq!(
            mode_of(&fresh) & 0o600,
            0o600,
            "not left private like a temp file"
        );
        assert_eq!(mode_of(&fresh) & 0o111, 0);
    }

    #[tokio::test]
    async fn force_no_leaves_a_differing_file_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        std::fs::write(&dest, "mine").expect("write");
        let result = run(
            Copy,
            json!({"content": "theirs", "dest": dest, "force": "no"}),
            RUN,
        )
        .await;
        assert_ok(&result);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "mine");
    }

    #[tokio::test]
    async fn a_directory_dest_receives_the_file_under_its_own_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("app.conf");
        std::fs::write(&src, "x=1\n").expect("write");
        let target = dir.path().join("etc");
        std::fs::create_dir(&target).expect("mkdir");
        let result = run(Copy, json!({"src": src, "dest": target}), RUN).await;
        assert_changed(&result);
        let placed = target.join("app.conf");
        assert_eq!(field(&result, "dest"), placed.to_string_lossy().as_ref());
        assert_eq!(std::fs::read_to_string(placed).expect("read"), "x=1\n");
    }

    #[tokio::test]
    async fn relative_src_is_found_in_the_role_then_playbook_files_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let playbook = dir.path().join("play");
        let role = playbook.join("roles/web");
        std::fs::create_dir_all(playbook.join("files")).expect("mkdir");
        std::fs::create_dir_all(role.join("files")).expect("mkdir");
        std::fs::write(playbook.join("files/a.txt"), "playbook").expect("write");
        std::fs::write(role.join("files/a.txt"), "role").expect("write");
        std::fs::write(playbook.join("files/b.txt"), "playbook b").expect("write");
        let vars = json!({"playbook_dir": playbook, "role_path": role});
        let dest = dir.path().join("a");
        let result = run_with(
            Copy,
            json!({"src": "a.txt", "dest": dest}),
            RUN,
            vars.clone(),
        )
        .await;
        assert_changed(&result);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "role");
        let dest_b = dir.path().join("b");
        let result = run_with(
            Copy,
            json!({"src": "b.txt", "dest": dest_b}),
            RUN,
            vars.clone(),
        )
        .await;
        assert_changed(&result);
        assert_eq!(
            std::fs::read_to_string(&dest_b).expect("read"),
            "playbook b"
        );
        let missing = run_with(Copy, json!({"src": "nope.txt", "dest": dest}), RUN, vars).await;
        assert_failed(&missing, "could not find src=nope.txt");
    }

    #[tokio::test]
    async fn remote_src_copies_on_the_host_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("orig");
        std::fs::write(&src, all_bytes()).expect("write");
        let dest = dir.path().join("copy");
        let args = json!({"src": src, "dest": dest, "remote_src": true, "mode": "0600"});
        assert_changed(&run(Copy, args.clone(), RUN).await);
        assert_eq!(std::fs::read(&dest).expect("read"), all_bytes());
        assert_eq!(mode_of(&dest), 0o600);
        assert_ok(&run(Copy, args, RUN).await);
    }

    #[tokio::test]
    async fn a_directory_src_is_copied_recursively() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("site");
        std::fs::create_dir_all(src.join("css")).expect("mkdir");
        std::fs::write(src.join("index.html"), "<p>hi</p>").expect("write");
        std::fs::write(src.join("css/a.css"), "p{}").expect("write");
        let dest = dir.path().join("www");
        let args = json!({"src": src, "dest": dest});
        assert_changed(&run(Copy, args.clone(), RUN).await);
        assert_eq!(
            std::fs::read_to_string(dest.join("site/css/a.css")).expect("read"),
            "p{}"
        );
        assert_ok(&run(Copy, args, RUN).await);
        let contents = json!({"src": format!("{}/", src.display()), "dest": dest});
        assert_changed(&run(Copy, contents, RUN).await);
        assert!(dest.join("index.html").exists());
    }

    #[tokio::test]
    async fn a_failing_validate_command_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        std::fs::write(&dest, "good").expect("write");
        let result = run(
            Copy,
            json!({"content": "bad", "dest": dest, "validate": "grep -q good %s"}),
            RUN,
        )
        .await;
        assert_failed(&result, "validation failed");
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "good");
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "the temporary file is removed");
        let ok = run(
            Copy,
            json!({"content": "good too", "dest": dest, "validate": "grep -q good %s"}),
            RUN,
        )
        .await;
        assert_changed(&ok);
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        assert_failed(
            &run(Copy, json!({"content": "x"}), RUN).await,
            "dest is required",
        );
        assert_failed(
            &run(Copy, json!({"content": "x", "src": "y", "dest": dest}), RUN).await,
            "mutually exclusive",
        );
        assert_failed(
            &run(Copy, json!({"dest": dest}), RUN).await,
            "src (or content) is required",
        );
        assert_failed(
            &run(
                Copy,
                json!({"content": "x", "dest": dest, "mode": "rwx"}),
                RUN,
            )
            .await,
            "mode `rwx`",
        );
        assert_failed(
            &run(
                Copy,
                json!({"content": "x", "dest": dest, "mdoe": "0644"}),
                RUN,
            )
            .await,
            "unsupported argument `mdoe`",
        );
        assert_failed(
            &run(Copy, json!({"content": "x", "dest": dir.path()}), RUN).await,
            "is a directory",
        );
    }

    /// Not an assertion: how fast the stdin-to-file transfer is, for the build notes (run
    /// with `--nocapture`). Times the write command alone, the same bytes base64-encoded
    /// (what a transport that is not binary safe would need), and the local SHA-1.
    #[tokio::test]
    async fn stdin_transfer_throughput_is_measured() {
        use base64::Engine;
        use std::time::Instant;
        let templar = crate::template::Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext::local(&templar, &scope);
        let dir = tempfile::tempdir().expect("tempdir");
        for (label, size) in [("1 KB", 1024usize), ("10 MB", 10 * 1024 * 1024)] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let dest = dir.path().join(format!("raw-{size}"));
            let dest = dest.to_string_lossy();
            let change = Change {
                content: Some(&bytes),
                mode: Some(0o644),
                ..Change::default()
            };
            let started = Instant::now();
            let applied = remote_file::apply(&ctx, &dest, &change)
                .await
                .expect("write");
            let raw = started.elapsed();
            assert_eq!(applied.after.size, size as u64);
            assert_eq!(std::fs::read(&*dest).expect("read"), bytes);

            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let b64_dest = dir.path().join(format!("b64-{size}"));
            let mut request = crate::transport::ExecRequest::new(format!(
                "base64 -d > {}",
                crate::transport::quote(&b64_dest.to_string_lossy())
            ));
            request.stdin = Some(encoded.into_bytes());
            let started = Instant::now();
            let output = ctx.exec_request(request).await.expect("exec");
            let b64 = started.elapsed();
            assert!(output.status.success());
            assert_eq!(std::fs::read(&b64_dest).expect("read"), bytes);

            let started = Instant::now();
            let _ = remote_file::sha1_hex(&bytes);
            let sha1 = started.elapsed();
            let rate = |d: std::time::Duration| size as f64 / 1e6 / d.as_secs_f64();
            println!(
                "{label}: stdin write+stat {raw:?} ({:.0} MB/s); base64 on stdin {b64:?} \
                 ({:.0} MB/s); local sha1 {sha1:?}",
                rate(raw),
                rate(b64)
            );
        }
    }
}
