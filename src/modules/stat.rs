//! `stat`: report facts about a path on the host, in one remote round trip.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::{lenient, CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::quote;
use crate::vars::Value;

/// Arguments of `stat`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatArgs {
    /// The path to examine (`~` is the connecting user's home).
    path: String,
    /// Follow symlinks.
    #[serde(default, deserialize_with = "lenient::bool")]
    follow: bool,
    /// Compute a checksum of regular files.
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    get_checksum: bool,
    /// The checksum's hash.
    #[serde(default)]
    checksum_algorithm: Algorithm,
    /// Accepted for compatibility; MIME types are not gathered.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    get_mime: Option<bool>,
    /// Accepted for compatibility; file attributes are not gathered.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    get_attributes: Option<bool>,
    /// Removed from Ansible's `stat` (use `checksum_algorithm: md5`): accepted and ignored,
    /// with a warning, as older playbooks still pass it.
    get_md5: Option<serde::de::IgnoredAny>,
}

fn yes() -> bool {
    true
}

/// The hashes `stat` can compute, named as Ansible names them.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Algorithm {
    #[default]
    Sha1,
    Md5,
    Sha256,
    Sha512,
}

impl Algorithm {
    fn tool(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1sum",
            Self::Md5 => "md5sum",
            Self::Sha256 => "sha256sum",
            Self::Sha512 => "sha512sum",
        }
    }
}

/// What `stat` registers.
#[derive(Debug, Serialize)]
struct StatOutcome {
    stat: FileStat,
}

/// Ansible's `stat` dictionary: `{exists: false}` or every detail.
#[derive(Debug, Default, Serialize)]
struct FileStat {
    exists: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<Details>,
}

#[derive(Debug, Default, Serialize)]
struct Details {
    path: String,
    mode: String,
    isdir: bool,
    isreg: bool,
    islnk: bool,
    isblk: bool,
    ischr: bool,
    isfifo: bool,
    issock: bool,
    isuid: bool,
    isgid: bool,
    rusr: bool,
    wusr: bool,
    xusr: bool,
    rgrp: bool,
    wgrp: bool,
    xgrp: bool,
    roth: bool,
    woth: bool,
    xoth: bool,
    size: u64,
    uid: u64,
    gid: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pw_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gr_name: Option<String>,
    mtime: i64,
    atime: i64,
    ctime: i64,
    inode: u64,
    dev: u64,
    nlink: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lnk_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lnk_target: Option<String>,
    readable: bool,
    writeable: bool,
    executable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
}

/// `stat`: report facts about a path.
pub(crate) struct Stat;

#[async_trait]
impl Module for Stat {
    fn names(&self) -> &'static [&'static str] {
        &["stat", "ansible.builtin.stat", "ansible.legacy.stat"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<StatArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// Examines the path; never changes anything, so it runs the same in check mode.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: StatArgs = args::parse(args)?;
    let _accepted = (args.get_mime, args.get_attributes);
    let warnings = args::ignored("stat", &[("get_md5", args.get_md5.is_some())]);
    let output = ctx.exec(script(&args)).await?;
    let stdout = output.stdout_text();
    Ok(match parse(&stdout, &args.path) {
        Ok(stat) => ModuleResult::ok()
            .with_data(&StatOutcome { stat })
            .with_warnings(warnings),
        Err(why) => {
            let stderr = output.stderr_text();
            let detail = stderr.trim();
            if detail.is_empty() {
                ModuleResult::failed(why)
            } else {
                ModuleResult::failed(format!("{why}: {detail}"))
            }
        }
    })
}

/// The path as a shell word, with a leading `~` left for the host's shell to expand.
fn shell_path(path: &str) -> String {
    match path.strip_prefix('~') {
        Some("") => "\"$HOME\"".into(),
        Some(rest) if rest.starts_with('/') => format!("\"$HOME\"{}", quote(rest)),
        _ => quote(path),
    }
}

/// A POSIX sh script printing `key=value` lines (GNU or busybox `stat`).
fn script(args: &StatArgs) -> String {
    let follow = if args.follow { "-L " } else { "" };
    let checksum = if args.get_checksum {
        // Without `follow`, a link to a file is a link: Ansible sums regular files only.
        let not_link = if args.follow {
            ""
        } else {
            " && [ ! -h \"$p\" ]"
        };
        format!(
            "if [ -f \"$p\" ] && [ -r \"$p\" ]{not_link}; then \
             sum=$({tool} < \"$p\") && printf 'checksum=%s\\n' \"${{sum%% *}}\"; fi\n",
            tool = args.checksum_algorithm.tool(),
        )
    } else {
        String::new()
    };
    format!(
        "LC_ALL=C; export LC_ALL\n\
         p={path}\n\
         out=$(stat {follow}-c 'raw=%f\nuid=%u\ngid=%g\nuser=%U\ngroup=%G\nsize=%s\nmtime=%Y\natime=%X\nctime=%Z\ninode=%i\ndev=%d\nnlink=%h' -- \"$p\" 2>&1) || {{\n\
           case $out in *'No such file or directory'*) echo exists=0; exit 0;; esac\n\
           printf 'error=%s\\n' \"$out\" | head -n 1; exit 0\n\
         }}\n\
         echo exists=1\n\
         printf '%s\\n' \"$out\"\n\
         [ -r \"$p\" ] && echo readable=1\n\
         [ -w \"$p\" ] && echo writeable=1\n\
         [ -x \"$p\" ] && echo executable=1\n\
         if [ {follow_flag} = 0 ] && [ -h \"$p\" ]; then\n\
           printf 'lnk_target=%s\\n' \"$(readlink -- \"$p\")\"\n\
           printf 'lnk_source=%s\\n' \"$(readlink -f -- \"$p\")\"\n\
         fi\n\
         {checksum}",
        path = shell_path(&args.path),
        follow_flag = u8::from(args.follow),
    )
}

/// Reads the script's output; anything malformed is an error, never a panic.
fn parse(stdout: &str, path: &str) -> Result<FileStat, String> {
    let mut fields = std::collections::HashMap::new();
    for line in stdout.lines() {
        if let Some((key, value)) = line.split_once('=') {
            fields.entry(key).or_insert(value);
        }
    }
    if let Some(error) = fields.get("error") {
        return Err(format!("cannot stat {path}: {error}"));
    }
    match fields.get("exists").copied() {
        Some("0") => return Ok(FileStat::default()),
        Some("1") => {}
        _ => {
            return Err(format!(
                "cannot stat {path}: unexpected output from the host"
            ))
        }
    }
    let number = |key: &str| -> Result<u64, String> {
        fields
            .get(key)
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| format!("cannot stat {path}: no `{key}` in the host's answer"))
    };
    let time = |key: &str| -> Result<i64, String> {
        fields
            .get(key)
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| format!("cannot stat {path}: no `{key}` in the host's answer"))
    };
    let raw = fields
        .get("raw")
        .and_then(|hex| u32::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| format!("cannot stat {path}: no file mode in the host's answer"))?;
    let name = |key: &str| {
        fields
            .get(key)
            .filter(|name| !name.is_empty() && **name != "UNKNOWN")
            .map(|name| name.to_string())
    };
    let flag = |key: &str| fields.get(key) == Some(&"1");
    let kind = raw & 0o170000;
    let bit = |mask: u32| raw & mask != 0;
    Ok(FileStat {
        exists: true,
        details: Some(Details {
            path: path.to_string(),
            mode: format!("{:04o}", raw & 0o7777),
            isdir: kind == 0o040000,
            isreg: kind == 0o100000,
            islnk: kind == 0o120000,
            isblk: kind == 0o060000,
            ischr: kind == 0o020000,
            isfifo: kind == 0o010000,
            issock: kind == 0o140000,
            isuid: bit(0o4000),
            isgid: bit(0o2000),
            rusr: bit(0o400),
            wusr: bit(0o200),
            xusr: bit(0o100),
            rgrp: bit(0o040),
            wgrp: bit(0o020),
            xgrp: bit(0o010),
            roth: bit(0o004),
            woth: bit(0o002),
            xoth: bit(0o001),
            size: number("size")?,
            uid: number("uid")?,
            gid: number("gid")?,
            pw_name: name("user"),
            gr_name: name("group"),
            mtime: time("mtime")?,
            atime: time("atime")?,
            ctime: time("ctime")?,
            inode: number("inode")?,
            dev: number("dev")?,
            nlink: number("nlink")?,
            lnk_source: fields.get("lnk_source").map(|s| s.to_string()),
            lnk_target: fields.get("lnk_target").map(|s| s.to_string()),
            readable: flag("readable"),
            writeable: flag("writeable"),
            executable: flag("executable"),
            checksum: fields
                .get("checksum")
                .filter(|sum| !sum.is_empty())
                .map(|sum| sum.to_string()),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;
    use std::os::unix::fs::PermissionsExt;

    async fn stat(args: serde_json::Value, check_mode: bool) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext {
            check_mode,
            ..ModuleContext::local(&templar, &scope)
        };
        run(&crate::vars::from_json(&args), &ctx)
            .await
            .expect("valid args")
    }

    fn registered(result: &ModuleResult) -> serde_json::Value {
        crate::vars::to_json(&result.data["stat"])
    }

    #[tokio::test]
    async fn missing_path_registers_only_exists_false() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope");
        let result = stat(serde_json::json!({"path": path}), false).await;
        assert!(!result.failed && !result.changed, "{result:?}");
        assert_eq!(registered(&result), serde_json::json!({"exists": false}));
    }

    #[tokio::test]
    async fn regular_file_reports_mode_size_owner_and_sha1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "hello\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let result = stat(serde_json::json!({"path": path}), true).await;
        assert!(!result.failed && !result.changed, "{result:?}");
        let stat = registered(&result);
        assert_eq!(stat["exists"], true);
        assert_eq!(stat["mode"], "0640");
        assert_eq!(stat["isreg"], true);
        assert_eq!(stat["isdir"], false);
        assert_eq!(stat["islnk"], false);
        assert_eq!(stat["size"], 6);
        assert_eq!(stat["rgrp"], true);
        assert_eq!(stat["roth"], false);
        assert_eq!(stat["readable"], true);
        assert_eq!(stat["writeable"], true);
        assert_eq!(stat["executable"], false);
        assert_eq!(stat["checksum"], "f572d396fae9206628714fb2ce00f72e94f2258f");
        let meta = std::fs::metadata(&path).expect("metadata");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(stat["uid"], meta.uid());
        assert_eq!(stat["inode"], meta.ino());
        assert_eq!(stat["mtime"], meta.mtime());
        assert_eq!(stat["nlink"], 1);
        assert!(stat["pw_name"].is_string());
    }

    #[tokio::test]
    async fn checksum_algorithm_and_get_checksum_are_honoured() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "hello\n").expect("write");
        let sha256 = stat(
            serde_json::json!({"path": path, "checksum_algorithm": "sha256"}),
            false,
        )
        .await;
        assert_eq!(
            registered(&sha256)["checksum"],
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        let none = stat(
            serde_json::json!({"path": path, "get_checksum": "no"}),
            false,
        )
        .await;
        assert!(registered(&none).get("checksum").is_none());
    }

    #[tokio::test]
    async fn directories_have_no_checksum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = stat(serde_json::json!({"path": dir.path()}), false).await;
        let stat = registered(&result);
        assert_eq!(stat["isdir"], true);
        assert_eq!(stat["isreg"], false);
        assert_eq!(stat["executable"], true);
        assert!(stat.get("checksum").is_none());
    }

    #[tokio::test]
    async fn symlinks_are_reported_unless_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "x").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");

        let plain = registered(&stat(serde_json::json!({"path": link}), false).await);
        assert_eq!(plain["islnk"], true);
        assert_eq!(plain["isreg"], false);
        let real = std::fs::canonicalize(&target).expect("canonicalize");
        assert_eq!(plain["lnk_source"], real.to_string_lossy().as_ref());
        assert_eq!(plain["lnk_target"], target.to_string_lossy().as_ref());
        assert!(plain.get("checksum").is_none());

        let followed =
            registered(&stat(serde_json::json!({"path": link, "follow": true}), false).await);
        assert_eq!(followed["islnk"], false);
        assert_eq!(followed["isreg"], true);
        assert_eq!(followed["size"], 1);
        assert!(followed["checksum"].is_string());
    }

    #[tokio::test]
    async fn paths_with_spaces_and_quotes_are_safe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("it's a \"file\"; echo pwned");
        std::fs::write(&path, "").expect("write");
        let result = stat(serde_json::json!({"path": path}), false).await;
        let stat = registered(&result);
        assert_eq!(stat["exists"], true);
        assert_eq!(stat["size"], 0);
        assert_eq!(stat["path"], path.to_string_lossy().as_ref());
    }

    #[tokio::test]
    async fn fifos_are_recognised() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let stat = registered(&stat(serde_json::json!({"path": path}), false).await);
        assert_eq!(stat["isfifo"], true);
        assert!(stat.get("checksum").is_none());
    }

    #[test]
    fn garbage_output_is_an_error_not_a_panic() {
        assert!(parse("", "/x").is_err());
        assert!(parse("exists=1\nraw=zz\n", "/x").is_err());
        assert!(parse("exists=1\nraw=81a4\nsize=lots\n", "/x").is_err());
        assert!(parse("error=Permission denied\n", "/x").is_err());
    }

    #[test]
    fn bad_arguments_are_rejected() {
        let parse_args = |json| args::parse::<StatArgs>(&crate::vars::from_json(&json));
        assert!(parse_args(serde_json::json!({})).is_err());
        assert!(
            parse_args(serde_json::json!({"path": "/x", "checksum_algorithm": "crc"})).is_err()
        );
        assert!(parse_args(serde_json::json!({"path": "/x", "follow": "maybe"})).is_err());
        assert!(
            parse_args(serde_json::json!({"path": "/x", "follow": "yes", "get_mime": false}))
                .is_ok()
        );
    }
}
