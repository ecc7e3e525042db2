//! `file`: make a path a file, directory, symbolic or hard link, or nothing, with the wanted
//! mode/owner/group; idempotent and check-mode aware.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::{
    self, attr_changes, shell_path, Attrs, Kind, ModeArg, Principal, Probe,
    RemoteFile,
};
use super::{Diff, CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::quote;
use crate::vars::Value;

/// Arguments of `file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileArgs {
    /// The path to manage.
    path: Option<String>,
    /// Alias of `path`.
    dest: Option<String>,
    /// Alias of `path`.
    name: Option<String>,
    /// What the path should be.
    state: Option<State>,
    /// Permission bits, octal or symbolic.
    mode: Option<ModeArg>,
    /// Owner to set.
    owner: Option<Principal>,
    /// Group to set.
    group: Option<Principal>,
    /// The link target (`link`, `hard`).
    src: Option<String>,
    /// Apply mode/owner/group to everything under a directory.
    #[serde(default, deserialize_with = "lenient::bool")]
    recurse: bool,
    /// Replace a file or empty directory with a link; link to a missing target.
    #[serde(default, deserialize_with = "lenient::bool")]
    force: bool,
    /// Work on what a symbolic link points to, not the link.
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    follow: bool,
    /// `touch`: `preserve` keeps the access time (`now` is the default).
    access_time: Option<String>,
    /// `touch`: `preserve` keeps the modification time (`now` is the default).
    modification_time: Option<String>,
    /// Accepted for compatibility; the time formats are not used.
    access_time_format: Option<String>,
    /// Accepted for compatibility.
    modification_time_format: Option<String>,
    /// Accepted for compatibility.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    unsafe_writes: Option<bool>,
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

/// The states `file` manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    File,
    Directory,
    Absent,
    Touch,
    Link,
    Hard,
}

/// What `file` registers.
#[derive(Debug, Serialize)]
struct FileOutcome {
    path: String,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    src: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
}

/// `file`: manage a path's kind, mode and owner.
pub(crate) struct File;

#[async_trait]
impl Module for File {
    fn names(&self) -> &'static [&'static str] {
        &["file", "ansible.builtin.file", "ansible.legacy.file"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<FileArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: FileArgs = args::parse(args)?;
        let warnings = args::ignored(
            "file",
            &[
                ("setype", args.setype.is_some()),
                ("seuser", args.seuser.is_some()),
                ("serole", args.serole.is_some()),
                ("selevel", args.selevel.is_some()),
                ("attributes", args.attributes.is_some()),
            ],
        );
        Ok(file(&args, ctx).await?.with_warnings(warnings))
    }
}

/// A decided change: the shell commands that make it (run with the path in `$p`).
struct Plan {
    script: String,
    changed: bool,
}

async fn file(args: &FileArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let _accepted = (
        &args.access_time_format,
        &args.modification_time_format,
        args.unsafe_writes,
    );
    let path = match (&args.path, &args.dest, &args.name) {
        (Some(path), None, None) | (None, Some(path), None) | (None, None, Some(path)) => path,
        (None, None, None) => Err(ArgError::Invalid("path is required".into()))?,
        _ => Err(ArgError::Invalid(
            "path, dest and name are aliases; give only one".into(),
        ))?,
    };
    let attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;
    if attrs.mode == Some(remote_file::Mode::Preserve) {
        Err(ArgError::Invalid(
            "mode=preserve is only valid for copy and template".into(),
        ))?;
    }
    if matches!(args.state, Some(State::Link | State::Hard)) && args.src.is_none() {
        Err(ArgError::Invalid(
            "src is required for state=link and state=hard".into(),
        ))?;
    }
    if args.recurse && !matches!(args.state, None | Some(State::Directory)) {
        Err(ArgError::Invalid(
            "recurse is only valid with state=directory".into(),
        ))?;
    }
    let (before, extra) = probe_for(ctx, path, args).await?;
    let state = match args.state {
        Some(state) => state,
        None if args.recurse => State::Directory,
        None => match before.kind {
            Kind::Directory => State::Directory,
            Kind::Link => State::Link,
            _ => State::File,
        },
    };
    let plan = plan(state, path, &before, &extra, &attrs, args)?;
    let after_state = |kind: Kind| match (state, kind) {
        (_, Kind::Absent) => "absent",
        (State::Hard, _) => "hard",
        (State::Touch | State::File, _) => "file",
        _ => kind.state(),
    };
    let predicted = if plan.changed {
        let mut after = remote_file::predicted(&before, &attrs, state == State::Directory);
        after.kind = match state {
            State::Absent => Kind::Absent,
            State::Directory => Kind::Directory,
            State::Link => Kind::Link,
            State::File | State::Hard => before.kind,
            State::Touch if before.exists() => before.kind,
            State::Touch => Kind::File,
        };
        after
    } else {
        before.clone()
    };
    let diff = ctx.diff.then(|| Diff {
        before: describe_state(&before, before.kind.state()),
        after: describe_state(&predicted, after_state(predicted.kind)),
        header: path.to_string(),
    });
    let after = if plan.changed && !ctx.check_mode {
        run_and_describe(ctx, path, &plan.script, args.follow && state != State::Link).await?
    } else {
        predicted
    };
    let outcome = FileOutcome {
        path: path.clone(),
        state: after_state(after.kind),
        src: args.src.clone(),
        mode: after.exists().then(|| after.mode_text()),
        owner: after.exists().then(|| after.owner.clone()),
        group: after.exists().then(|| after.group.clone()),
        uid: after.exists().then_some(after.uid),
        gid: after.exists().then_some(after.gid),
        size: after.exists().then_some(after.size),
    };
    let base = if plan.changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(ModuleResult { diff, ..base }.with_data(&outcome))
}

/// Facts beyond the path's own description: whether `src` exists, its inode, whether a
/// directory is empty, whether anything under it differs from the wanted attributes.
#[derive(Debug, Default)]
struct Extra {
    src_exists: bool,
    src_inode: Option<String>,
    dir_empty: bool,
    tree_differs: bool,
    inode: String,
}

async fn probe_for(
    ctx: &ModuleContext<'_>,
    path: &str,
    args: &FileArgs,
) -> Result<(RemoteFile, Extra), ModuleError> {
    let linkish = matches!(args.state, Some(State::Link | State::Hard));
    let mut script = format!(
        "p={}\n{}",
        shell_path(path),
        remote_file::describe_script(Probe {
            follow: args.follow && !linkish,
            checksum: false,
            content_up_to: None,
        })
    );
    if let Some(src) = &args.src {
        // A relative link target is relative to the link's directory.
        script.push_str(&format!(
            "s={src}; case $s in /*) ;; *) s=\"$(dirname -- \"$p\")/$s\";; esac\n\
             if [ -e \"$s\" ]; then echo src_exists=1; \
             printf 'src_inode=%s\\n' \"$(stat -L -c '%i:%d' -- \"$s\")\"; fi\n",
            src = shell_path(src)
        ));
    }
    script.push_str(
        "if [ -e \"$p\" ]; then printf 'inode=%s\\n' \"$(stat -c '%i:%d' -- \"$p\")\"; fi\n\
         if [ -d \"$p\" ] && [ -z \"$(ls -A -- \"$p\")\" ]; then echo dir_empty=1; fi\n",
    );
    if args.recurse {
        let attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;
        let mut tests = Vec::new();
        if let Some(remote_file::Mode::Octal(bits)) = attrs.mode {
            tests.push(format!("! -perm {bits:04o}"));
        }
        if let Some(owner) = &args.owner {
            tests.push(format!("! -user {}", quote(&principal_text(owner))));
        }
        if let Some(group) = &args.group {
            tests.push(format!("! -group {}", quote(&principal_text(group))));
        }
        if !tests.is_empty() {
            script.push_str(&format!(
                "if [ -d \"$p\" ] && [ -n \"$(find \"$p\" \\( {} \\) -print 2>/dev/null | head -n 1)\" ]; \
                 then echo tree_differs=1; fi\n",
                tests.join(" -o ")
            ));
        }
    }
    let output = ctx.exec(script).await?;
    let before = remote_file::parse_description(&output, path)?;
    let text = output.stdout_text();
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    let extra = Extra {
        src_exists: field("src_exists").is_some(),
        src_inode: field("src_inode"),
        dir_empty: field("dir_empty").is_some(),
        tree_differs: field("tree_differs").is_some(),
        inode: field("inode").unwrap_or_default(),
    };
    Ok((before, extra))
}

fn principal_text(principal: &Principal) -> String {
    match principal {
        Principal::Id(id) => id.to_string(),
        Principal::Name(name) => name.clone(),
    }
}

/// Decides what to do: errors for impossible requests, a script otherwise.
fn plan(
    state: State,
    path: &str,
    before: &RemoteFile,
    extra: &Extra,
    attrs: &Attrs,
    args: &FileArgs,
) -> Result<Plan, ModuleError> {
    let mut script = String::new();
    let mut changed = false;
    let is_dir = state == State::Directory;
    let attributes = |script: &mut String, changed: &mut bool, current: &RemoteFile| {
        let (mode, chown) = attr_changes(attrs, current, is_dir);
        if let Some(mode) = mode {
            script.push_str(&format!("chmod {mode:04o} \"$p\"\n"));
            *changed = true;
        }
        if let Some(chown) = chown {
            script.push_str(&format!("chown {chown} \"$p\"\n"));
            *changed = true;
        }
    };
    match state {
        State::Absent => {
            if before.exists() {
                script.push_str("rm -rf -- \"$p\"\n");
                changed = true;
            }
        }
        State::File => match before.kind {
            Kind::Absent => {
                return Err(ModuleError::Failed(format!(
                    "file ({path}) is absent, cannot continue"
                )))
            }
            Kind::Directory => {
                return Err(ModuleError::Failed(format!(
                    "{path} is a directory, not a file"
                )))
            }
            _ => attributes(&mut script, &mut changed, before),
        },
        State::Touch => {
            let preserve = |value: &Option<String>| value.as_deref() == Some("preserve");
            let keep_times = preserve(&args.access_time) && preserve(&args.modification_time);
            match before.kind {
                Kind::Absent => {
                    script.push_str(": >> \"$p\"\n");
                    changed = true;
                }
                _ if keep_times => {}
                _ => {
                    let which = match (
                        preserve(&args.access_time),
                        preserve(&args.modification_time),
                    ) {
                        (true, false) => "-m ",
                        (false, true) => "-a ",
                        _ => "",
                    };
                    script.push_str(&format!("touch {which}-- \"$p\"\n"));
                    changed = true;
                }
            }
            let mut current = before.clone();
            if !before.exists() {
                current.kind = Kind::File;
                current.mode = 0o666 & !before.umask;
            }
            attributes(&mut script, &mut changed, &current);
        }
        State::Directory => {
            match before.kind {
                Kind::Absent => {
                    script.push_str("mkdir -p -- \"$p\"\n");
                    changed = true;
                }
                Kind::Directory => {}
                _ => {
                    return Err(ModuleError::Failed(format!(
                        "{path} already exists as a {}",
                        before.kind.state()
                    )))
                }
            }
            if args.recurse && before.exists() {
                let mut recursive = String::new();
                if let Some(mode) = &attrs.mode {
                    let word = match mode {
                        remote_file::Mode::Octal(bits) => format!("{bits:04o}"),
                        _ => quote(&mode_text(args)),
                    };
                    recursive.push_str(&format!("chmod -R {word} \"$p\"\n"));
                }
                let (_, chown) = attr_changes(
                    &Attrs {
                        mode: None,
                        ..attrs.clone()
                    },
                    &RemoteFile {
                        kind: Kind::Absent,
                        ..before.clone()
                    },
                    true,
                );
                if let Some(chown) = chown {
                    recursive.push_str(&format!("chown -R {chown} \"$p\"\n"));
                }
                let symbolic = matches!(attrs.mode, Some(remote_file::Mode::Symbolic(_)));
                if extra.tree_differs || (symbolic && !recursive.is_empty()) {
                    // Symbolic modes are not checked under the directory: they are applied.
                    script.push_str(&recursive);
                    changed = true;
                }
            }
            let mut current = before.clone();
            if !before.exists() {
                current.kind = Kind::Directory;
                current.mode = 0o777 & !before.umask;
            }
            attributes(&mut script, &mut changed, &current);
        }
        State::Link => {
            let src = args.src.as_deref().unwrap_or_default();
            let same = before.kind == Kind::Link && before.link_target.as_deref() == Some(src);
            if !same {
                if !extra.src_exists && !args.force {
                    return Err(ModuleError::Failed(format!(
                        "src file does not exist, use \"force=yes\" if you really want to \
                         create the link: {src}"
                    )));
                }
                match before.kind {
                    Kind::Absent | Kind::Link => {}
                    Kind::Directory if args.force && extra.dir_empty => {}
                    Kind::Directory => {
                        return Err(ModuleError::Failed(format!(
                            "the directory {path} is not empty, refusing to convert it"
                        )))
                    }
                    _ if args.force => {}
                    kind => {
                        return Err(ModuleError::Failed(format!(
                            "refusing to convert from {} to symlink for {path}",
                            kind.state()
                        )))
                    }
                }
                script.push_str(&format!(
                    "rm -f -- \"$p\" 2>/dev/null || rmdir -- \"$p\"\nln -s -- {} \"$p\"\n",
                    quote(src)
                ));
                changed = true;
            }
            let (_, chown) = attr_changes(
                &Attrs {
                    mode: None,
                    ..attrs.clone()
                },
                before,
                false,
            );
            if let Some(chown) = chown {
                script.push_str(&format!("chown -h {chown} \"$p\"\n"));
                changed = true;
            }
        }
        State::Hard => {
            let src = args.src.as_deref().unwrap_or_default();
            let Some(src_inode) = &extra.src_inode else {
                return Err(ModuleError::Failed(format!("src does not exist: {src}")));
            };
            let blocked =
                before.kind == Kind::Directory || (!args.force && before.kind != Kind::Link);
            if before.exists() && &extra.inode != src_inode && blocked {
                return Err(ModuleError::Failed(format!(
                    "refusing to convert from {} to hard link for {path}",
                    before.kind.state()
                )));
            }
            if &extra.inode != src_inode {
                script.push_str(&format!("ln -f -- {} \"$p\"\n", shell_path(src)));
                changed = true;
            }
            attributes(&mut script, &mut changed, before);
        }
    }
    Ok(Plan { script, changed })
}

fn mode_text(args: &FileArgs) -> String {
    match &args.mode {
        Some(ModeArg::Text(text)) => text.clone(),
        Some(ModeArg::Number(n)) => format!("{n:04o}"),
        None => String::new(),
    }
}

/// Runs the plan's commands and describes the path afterwards, in one round trip.
async fn run_and_describe(
    ctx: &ModuleContext<'_>,
    path: &str,
    script: &str,
    follow: bool,
) -> Result<RemoteFile, ModuleError> {
    let full = format!(
        "set -e\np={}\n{script}set +e\n{}",
        shell_path(path),
        remote_file::describe_script(Probe {
            follow,
            ..Probe::default()
        })
    );
    let output = ctx.exec(full).await?;
    if !output.status.success() {
        return Err(remote_file::host_failure(
            &format!("cannot change {path}"),
            &output,
        ));
    }
    remote_file::parse_description(&output, path)
}

fn describe_state(file: &RemoteFile, state: &str) -> String {
    if !file.exists() {
        return "state: absent\n".into();
    }
    format!(
        "state: {state}\nmode: {}\nowner: {}\ngroup: {}\n",
        file.mode_text(),
        file.owner,
        file.group
    )
}

/// Makes `path` a directory with `attrs` (for `copy` of a directory tree); true if it changed.
pub(super) async fn ensure_directory(
    ctx: &ModuleContext<'_>,
    path: &str,
    attrs: &Attrs,
) -> Result<bool, ModuleError> {
    let before = remote_file::probe(ctx, path, Probe::default()).await?;
    let mut script = String::new();
    match before.kind {
        Kind::Absent => script.push_str("mkdir -p -- \"$p\"\n"),
        Kind::Directory => {}
        kind => {
            return Err(ModuleError::Failed(format!(
                "{path} already exists as a {}",
                kind.state()
            )))
        }
    }
    let (mode, chown) = attr_changes(attrs, &before, true);
    if let Some(mode) = mode {
        script.push_str(&format!("chmod {mode:04o} \"$p\"\n"));
    }
    if let Some(chown) = chown {
        script.push_str(&format!("chown {chown} \"$p\"\n"));
    }
    if script.is_empty() {
        return Ok(false);
    }
    if !ctx.check_mode {
        run_and_describe(ctx, path, &script, true).await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, mode_of, run, CHECK, DIFF, RUN,
    };
    use super::File;
    use serde_json::json;

    #[tokio::test]
    async fn a_directory_is_created_once_with_its_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/c");
        let args = json!({"path": path, "state": "directory", "mode": "0750"});
        let first = run(File, args.clone(), RUN).await;
        assert_changed(&first);
        assert!(path.is_dir());
        assert_eq!(mode_of(&path), 0o750);
        assert_eq!(field(&first, "state"), "directory");
        assert_eq!(field(&first, "mode"), "0750");
        assert!(field(&first, "uid").is_number());
        assert_ok(&run(File, args, RUN).await);
        let other_mode = json!({"path": path, "state": "directory", "mode": "0700"});
        assert_changed(&run(File, other_mode, RUN).await);
        assert_eq!(mode_of(&path), 0o700);
    }

    #[tokio::test]
    async fn check_mode_creates_and_removes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d");
        let result = run(File, json!({"path": path, "state": "directory"}), CHECK).await;
        assert_changed(&result);
        assert!(!path.exists());
        std::fs::write(&path, "x").expect("write");
        let result = run(File, json!({"path": path, "state": "absent"}), CHECK).await;
        assert_changed(&result);
        assert!(path.exists());
        let result = run(File, json!({"path": path, "mode": "0600"}), CHECK).await;
        assert_changed(&result);
        assert_ne!(mode_of(&path), 0o600);
    }

    #[tokio::test]
    async fn absent_removes_trees_and_is_then_ok() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tree");
        std::fs::create_dir_all(path.join("x/y")).expect("mkdir");
        std::fs::write(path.join("x/y/f"), "x").expect("write");
        let args = json!({"path": path, "state": "absent"});
        let result = run(File, args.clone(), RUN).await;
        assert_changed(&result);
        assert_eq!(field(&result, "state"), "absent");
        assert!(!path.exists());
        assert_ok(&run(File, args, RUN).await);
    }

    #[tokio::test]
    async fn touch_creates_then_updates_times_unless_preserved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stamp");
        let touch = json!({"path": path, "state": "touch", "mode": "0600"});
        assert_changed(&run(File, touch.clone(), RUN).await);
        assert!(path.is_file());
        assert_eq!(mode_of(&path), 0o600);
        // As in Ansible, touching an existing file changes its times: changed again.
        assert_changed(&run(File, touch, RUN).await);
        let keep = json!({"path": path, "state": "touch", "mode": "0600",
            "access_time": "preserve", "modification_time": "preserve"});
        assert_ok(&run(File, keep, RUN).await);
    }

    #[tokio::test]
    async fn a_symlink_is_made_retargeted_and_then_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        let other = dir.path().join("other");
        std::fs::write(&target, "t").expect("write");
        std::fs::write(&other, "o").expect("write");
        let link = dir.path().join("link");
        let args = json!({"path": link, "src": target, "state": "link"});
        let first = run(File, args.clone(), RUN).await;
        assert_changed(&first);
        assert_eq!(field(&first, "state"), "link");
        assert_eq!(std::fs::read_link(&link).expect("readlink"), target);
        assert_ok(&run(File, args, RUN).await);
        let retarget = json!({"path": link, "src": other, "state": "link"});
        assert_changed(&run(File, retarget.clone(), RUN).await);
        assert_eq!(std::fs::read_link(&link).expect("readlink"), other);
        assert_ok(&run(File, retarget, RUN).await);
    }

    #[tokio::test]
    async fn a_file_is_not_turned_into_a_link_without_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "t").expect("write");
        let path = dir.path().join("plain");
        std::fs::write(&path, "p").expect("write");
        let args = json!({"path": path, "src": target, "state": "link"});
        assert_failed(&run(File, args, RUN).await, "refusing to convert from file");
        let forced = json!({"path": path, "src": target, "state": "link", "force": true});
        assert_changed(&run(File, forced, RUN).await);
        assert!(std::fs::symlink_metadata(&path)
            .expect("lstat")
            .file_type()
            .is_symlink());
        let dangling =
            json!({"path": dir.path().join("l2"), "src": "/nonexistent/x", "state": "link"});
        assert_failed(&run(File, dangling, RUN).await, "src file does not exist");
    }

    #[tokio::test]
    async fn a_hard_link_shares_the_inode_and_is_idempotent() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "t").expect("write");
        let path = dir.path().join("hard");
        let args = json!({"path": path, "src": target, "state": "hard"});
        let result = run(File, args.clone(), RUN).await;
        assert_changed(&result);
        assert_eq!(field(&result, "state"), "hard");
        let ino = |p: &std::path::Path| std::fs::metadata(p).expect("stat").ino();
        assert_eq!(ino(&path), ino(&target));
        assert_ok(&run(File, args, RUN).await);
    }

    #[tokio::test]
    async fn state_file_needs_an_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing");
        assert_failed(
            &run(File, json!({"path": path, "state": "file"}), RUN).await,
            "is absent, cannot continue",
        );
        assert_failed(
            &run(File, json!({"path": dir.path(), "state": "file"}), RUN).await,
            "is a directory",
        );
    }

    #[tokio::test]
    async fn owner_and_group_differences_are_detected() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, "x").expect("write");
        let meta = std::fs::metadata(&path).expect("stat");
        let same = json!({"path": path, "owner": meta.uid().to_string(), "group": meta.gid()});
        assert_ok(&run(File, same, RUN).await);
        let other = if meta.uid() == 0 { 65534 } else { 0 };
        let result = run(File, json!({"path": path, "owner": other}), CHECK).await;
        assert_changed(&result);
        assert_eq!(std::fs::metadata(&path).expect("stat").uid(), meta.uid());
    }

    #[tokio::test]
    async fn recurse_applies_the_mode_below_and_is_then_ok() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("r");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::write(root.join("sub/f"), "x").expect("write");
        let args = json!({"path": root, "state": "directory", "mode": "0750", "recurse": true});
        assert_changed(&run(File, args.clone(), RUN).await);
        assert_eq!(mode_of(&root.join("sub/f")), 0o750);
        assert_eq!(mode_of(&root.join("sub")), 0o750);
        assert_ok(&run(File, args, RUN).await);
    }

    #[tokio::test]
    async fn diff_shows_the_state_before_and_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d");
        let result = run(
            File,
            json!({"path": path, "state": "directory", "mode": "0755"}),
            DIFF,
        )
        .await;
        let diff = result.diff.expect("diff");
        assert_eq!(diff.before, "state: absent\n");
        assert!(
            diff.after.starts_with("state: directory\nmode: 0755\n"),
            "{diff:?}"
        );
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        assert_failed(
            &run(File, json!({"state": "directory"}), RUN).await,
            "path is required",
        );
        assert_failed(
            &run(File, json!({"path": "/tmp/x", "state": "link"}), RUN).await,
            "src is required",
        );
        assert_failed(
            &run(File, json!({"path": "/tmp/x", "name": "/tmp/y"}), RUN).await,
            "aliases",
        );
        assert_failed(
            &run(File, json!({"path": "/tmp/x", "state": "folder"}), RUN).await,
            "unknown variant",
        );
    }

    #[tokio::test]
    async fn dest_and_name_are_aliases_of_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n");
        assert_changed(&run(File, json!({"name": path, "state": "directory"}), RUN).await);
        assert_ok(&run(File, json!({"dest": path, "state": "directory"}), RUN).await);
    }
}
