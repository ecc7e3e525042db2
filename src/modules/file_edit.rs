//! Shared by the modules that edit a file in place (`replace`, `blockinfile`): read the
//! host's file in one round trip, and install the edited bytes as `copy` installs them
//! (atomic, checksum-idempotent, check mode, `--diff`, backup, validate, mode/owner/group).

use serde::Serialize;

use super::copy::{install, InstallOptions};
use super::remote_file::{self, Attrs, Kind, Probe, RemoteFile};
use super::{ModuleContext, ModuleError, ModuleResult};
use crate::transport::OUTPUT_CAP;

/// Ansible's message when only mode, owner or group changed (`check_file_attrs`).
pub(super) const ATTRS_MSG: &str = "ownership, perms or SE linux context changed";

/// The file before the edit: its description and its bytes (None when it does not exist).
pub(super) struct Original {
    /// What the path is.
    pub file: RemoteFile,
    /// The content of a regular file.
    pub content: Option<Vec<u8>>,
}

/// Reads `path` (following links) with its content; a directory, a device, or a file too
/// large for one answer is a failure. A missing path is `content: None`.
pub(super) async fn read(ctx: &ModuleContext<'_>, path: &str) -> Result<Original, ModuleError> {
    let file = remote_file::probe(
        ctx,
        path,
        Probe {
            follow: true,
            checksum: true,
            content_up_to: Some(OUTPUT_CAP as u64),
        },
    )
    .await?;
    let content = match (file.kind, &file.content) {
        (Kind::File, Some(content)) => Some(content.clone()),
        (Kind::File, None) => {
            return Err(ModuleError::Failed(format!(
                "{path} is larger than {OUTPUT_CAP} bytes; it is not edited in place"
            )))
        }
        (Kind::Absent, _) => None,
        (Kind::Directory, _) => {
            return Err(ModuleError::Failed(format!("Path {path} is a directory !")));
        }
        _ => return Err(ModuleError::Failed(format!("{path} is not a regular file"))),
    };
    Ok(Original { file, content })
}

/// How the edited file is written.
pub(super) struct WriteOptions<'a> {
    /// Mode, owner, group wanted.
    pub attrs: Attrs,
    /// Keep a timestamped copy of the old file.
    pub backup: bool,
    /// A command that must accept the new file (`%s` is its path).
    pub validate: Option<&'a str>,
    /// Create missing parent directories of a new file.
    pub make_parents: bool,
}

/// What an edit module registers besides `msg`.
#[derive(Debug, Serialize)]
struct EditOutcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_file: Option<String>,
}

/// Installs `new` at `path` (unchanged content writes nothing), and builds the result:
/// `edit_msg` says what the edit did (None: nothing), joined with Ansible's attribute message
/// when mode or owner changed too.
pub(super) async fn write(
    ctx: &ModuleContext<'_>,
    path: &str,
    original: &Original,
    new: &[u8],
    edit_msg: Option<String>,
    options: WriteOptions<'_>,
) -> Result<ModuleResult, ModuleError> {
    let (mode, chown) = remote_file::attr_changes(&options.attrs, &original.file, false);
    let attrs_differ = original.file.exists() && (mode.is_some() || chown.is_some());
    let install_options = InstallOptions {
        attrs: options.attrs,
        backup: options.backup,
        force: true,
        validate: options.validate,
        make_parents: options.make_parents,
    };
    let installed = install(ctx, path, &original.file, new, &install_options).await?;
    let msg = match (edit_msg, attrs_differ) {
        (Some(edit), true) => format!("{edit} and {ATTRS_MSG}"),
        (Some(edit), false) => edit,
        (None, true) => ATTRS_MSG.to_string(),
        (None, false) => String::new(),
    };
    let base = if installed.changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(ModuleResult {
        diff: installed.diff.clone(),
        ..base.with_msg(msg).with_data(&EditOutcome {
            backup_file: installed.backup_file.clone(),
        })
    })
}

/// The one value of a set of aliases (`path`, `dest`, ...), failing when several are given.
pub(super) fn one_of<'a>(
    names: &str,
    values: &[&'a Option<String>],
) -> Result<Option<&'a str>, super::ArgError> {
    let given: Vec<&str> = values.iter().filter_map(|v| v.as_deref()).collect();
    match given.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(super::ArgError::Invalid(format!(
            "{names} are aliases; give only one"
        ))),
    }
}
