//! Shared by the file modules: what a remote path looks like (one round trip), the wanted
//! mode/owner/group, atomic writes through the command's stdin, and SHA-1 checksums.

use serde::Deserialize;

use super::args::ArgError;
use super::{ModuleContext, ModuleError};
use crate::transport::{quote, ExecOutput, ExecRequest};

/// Files larger than this, or binary, get no text `--diff`.
pub(super) const DIFF_LIMIT: u64 = 1024 * 1024;

/// A path as a shell word, with a leading `~` left for the host's shell to expand.
pub(super) fn shell_path(path: &str) -> String {
    match path.strip_prefix('~') {
        Some("") => "\"$HOME\"".into(),
        Some(rest) if rest.starts_with('/') => format!("\"$HOME\"{}", quote(rest)),
        _ => quote(path),
    }
}

/// A `mode:` argument as written: YAML's `0644` arrives as the number 420, `"0644"` as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum ModeArg {
    /// A number: its value is the mode (so `0644` in YAML, i.e. 420, is rw-r--r--).
    Number(u32),
    /// Octal digits, a symbolic mode (`u=rw,g=r`), or `preserve`.
    Text(String),
}

/// A wanted mode.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Mode {
    /// Exactly these permission bits.
    Octal(u32),
    /// chmod-style clauses applied to the current mode.
    Symbolic(Vec<Clause>),
    /// The source file's mode (`copy` only).
    Preserve,
}

/// One symbolic clause such as `u+rwx`: who, and the operations applied in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Clause {
    who: u32,
    ops: Vec<(char, String)>,
}

impl ModeArg {
    /// Reads the mode, naming the offending text when it is not one.
    pub(super) fn parse(&self) -> Result<Mode, ArgError> {
        let bad = |text: &str| {
            ArgError::Invalid(format!(
                "mode `{text}` is neither octal (0644) nor symbolic (u=rw,g=r,o=r)"
            ))
        };
        match self {
            Self::Number(n) if *n <= 0o7777 => Ok(Mode::Octal(*n)),
            Self::Number(n) => Err(bad(&n.to_string())),
            Self::Text(text) => {
                let text = text.trim();
                if text == "preserve" {
                    return Ok(Mode::Preserve);
                }
                if !text.is_empty() && text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                    return match u32::from_str_radix(text, 8) {
                        Ok(n) if n <= 0o7777 => Ok(Mode::Octal(n)),
                        _ => Err(bad(text)),
                    };
                }
                text.split(',')
                    .map(|clause| parse_clause(clause).ok_or_else(|| bad(text)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Mode::Symbolic)
            }
        }
    }
}

fn parse_clause(text: &str) -> Option<Clause> {
    let split = text.find(['+', '-', '='])?;
    let (who_text, mut rest) = text.split_at(split);
    let mut who = 0;
    for c in who_text.chars() {
        who |= match c {
            'u' => 0o4700,
            'g' => 0o2070,
            'o' => 0o1007,
            'a' => 0o7777,
            _ => return None,
        };
    }
    if who == 0 {
        who = 0o7777;
    }
    let mut ops = Vec::new();
    while let Some(op) = rest.chars().next() {
        if !matches!(op, '+' | '-' | '=') {
            return None;
        }
        let perms_end = rest[1..]
            .find(['+', '-', '='])
            .map_or(rest.len(), |i| i + 1);
        let perms = &rest[1..perms_end];
        if !perms.chars().all(|c| "rwxXst".contains(c)) {
            return None;
        }
        ops.push((op, perms.to_string()));
        rest = &rest[perms_end..];
    }
    (!ops.is_empty()).then_some(Clause { who, ops })
}

impl Mode {
    /// The permission bits this mode gives a path whose bits are now `current`.
    pub(super) fn apply(&self, current: u32, is_dir: bool) -> u32 {
        match self {
            Self::Octal(bits) => *bits,
            Self::Preserve => current,
            Self::Symbolic(clauses) => clauses.iter().fold(current, |mode, clause| {
                clause.ops.iter().fold(mode, |mode, (op, perms)| {
                    let mut bits = 0;
                    for p in perms.chars() {
                        bits |= match p {
                            'r' => 0o444,
                            'w' => 0o222,
                            'x' => 0o111,
                            'X' if is_dir || mode & 0o111 != 0 => 0o111,
                            's' => 0o6000,
                            't' => 0o1000,
                            _ => 0,
                        };
                    }
                    let bits = bits & clause.who;
                    match op {
                        '+' => mode | bits,
                        '-' => mode & !bits,
                        _ => (mode & !(clause.who & 0o777)) | bits,
                    }
                })
            }),
        }
    }
}

/// `owner:`/`group:` as written: a name or a numeric id.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Principal {
    /// A numeric uid/gid.
    Id(u32),
    /// A user or group name (or digits).
    Name(String),
}

impl Principal {
    /// True when the path's current name or id already is this one.
    fn matches(&self, name: &str, id: u32) -> bool {
        match self {
            Self::Id(want) => *want == id,
            Self::Name(want) => want == name || want.parse::<u32>().ok() == Some(id),
        }
    }

    fn word(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Name(name) => quote(name),
        }
    }

    fn text(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Name(name) => name.clone(),
        }
    }
}

/// The mode, owner and group a task asks for (each optional).
#[derive(Debug, Clone, Default)]
pub(super) struct Attrs {
    /// Wanted permission bits.
    pub mode: Option<Mode>,
    /// Wanted owner.
    pub owner: Option<Principal>,
    /// Wanted group.
    pub group: Option<Principal>,
}

impl Attrs {
    /// Reads the three common arguments.
    pub(super) fn new(
        mode: Option<&ModeArg>,
        owner: Option<&Principal>,
        group: Option<&Principal>,
    ) -> Result<Self, ArgError> {
        Ok(Self {
            mode: mode.map(ModeArg::parse).transpose()?,
            owner: owner.cloned(),
            group: group.cloned(),
        })
    }
}

/// What kind of thing a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Nothing there.
    Absent,
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (not followed).
    Link,
    /// A device, fifo or socket.
    Other,
}

impl Kind {
    /// Ansible's name for the state.
    pub(super) fn state(self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::File => "file",
            Self::Directory => "directory",
            Self::Link => "link",
            Self::Other => "file",
        }
    }
}

/// A remote path as one probe saw it.
#[derive(Debug, Clone)]
pub(super) struct RemoteFile {
    /// What it is.
    pub kind: Kind,
    /// Permission bits (`0o7777` part).
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Owner name (the id as text when the host has no name for it).
    pub owner: String,
    /// Group name (likewise).
    pub group: String,
    /// Size in bytes.
    pub size: u64,
    /// Where a symbolic link points.
    pub link_target: Option<String>,
    /// SHA-1 of a regular file's content, when asked for.
    pub checksum: Option<String>,
    /// The content, when asked for and the file is small enough.
    pub content: Option<Vec<u8>>,
    /// The host's umask for the connecting user.
    pub umask: u32,
}

impl RemoteFile {
    /// True when something (even a dangling link) is at the path.
    pub(super) fn exists(&self) -> bool {
        self.kind != Kind::Absent
    }

    /// The mode as Ansible registers it (`"0644"`).
    pub(super) fn mode_text(&self) -> String {
        format!("{:04o}", self.mode)
    }
}

/// How much a probe should gather.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Probe {
    /// Describe what a symbolic link points to instead of the link.
    pub follow: bool,
    /// Compute the SHA-1 of a regular file.
    pub checksum: bool,
    /// Send back a regular file's content when it is at most this many bytes.
    pub content_up_to: Option<u64>,
}

const CONTENT_MARK: &[u8] = b"--rpatch-content--\n";

/// A POSIX sh snippet describing the path in `$p` as `key=value` lines.
pub(super) fn describe_script(probe: Probe) -> String {
    let follow = if probe.follow { "-L " } else { "" };
    let test_link = if probe.follow {
        "false"
    } else {
        "[ -h \"$p\" ]"
    };
    let checksum = if probe.checksum {
        format!(
            "  if [ -f \"$p\" ] && ! {test_link}; then \
             s=$(sha1sum < \"$p\") || exit 3; printf 'checksum=%s\\n' \"${{s%% *}}\"; fi\n"
        )
    } else {
        String::new()
    };
    let content = match probe.content_up_to {
        Some(limit) => format!(
            "  if [ -f \"$p\" ] && ! {test_link} && [ \"$(wc -c < \"$p\")\" -le {limit} ]; then \
             printf '%s' '{mark}'; cat \"$p\" || exit 3; fi\n",
            mark = String::from_utf8_lossy(CONTENT_MARK),
        ),
        None => String::new(),
    };
    format!(
        "printf 'umask=%s\\n' \"$(umask)\"\n\
         if [ -e \"$p\" ] || [ -h \"$p\" ]; then\n\
         \x20 LC_ALL=C stat {follow}-c 'raw=%f\nuid=%u\ngid=%g\nowner=%U\ngroup=%G\nsize=%s' -- \"$p\" || exit 3\n\
         \x20 if {test_link}; then printf 'target=%s\\n' \"$(readlink -- \"$p\")\"; fi\n\
         {checksum}{content}\
         else echo absent=1; fi\n"
    )
}

/// Looks at `path` on the host in one command.
pub(super) async fn probe(
    ctx: &ModuleContext<'_>,
    path: &str,
    probe: Probe,
) -> Result<RemoteFile, ModuleError> {
    let script = format!("p={}\n{}", shell_path(path), describe_script(probe));
    let output = ctx.exec(script).await?;
    parse_description(&output, path)
}

/// Reads what [`describe_script`] printed; malformed output is an error, never a panic.
pub(super) fn parse_description(
    output: &ExecOutput,
    path: &str,
) -> Result<RemoteFile, ModuleError> {
    if !output.status.success() {
        return Err(host_failure(&format!("cannot examine {path}"), output));
    }
    let bytes = &output.stdout;
    let (head, content) = match find(bytes, CONTENT_MARK) {
        Some(at) => (
            &bytes[..at],
            Some(bytes[at + CONTENT_MARK.len()..].to_vec()),
        ),
        None => (&bytes[..], None),
    };
    let head = String::from_utf8_lossy(head);
    let mut fields = std::collections::HashMap::new();
    for line in head.lines() {
        if let Some((key, value)) = line.split_once('=') {
            fields.insert(key, value);
        }
    }
    let garbled = || ModuleError::Failed(format!("cannot examine {path}: unexpected answer"));
    let umask = fields
        .get("umask")
        .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        .unwrap_or(0o022);
    if fields.contains_key("absent") {
        return Ok(RemoteFile {
            kind: Kind::Absent,
            mode: 0,
            uid: 0,
            gid: 0,
            owner: String::new(),
            group: String::new(),
            size: 0,
            link_target: None,
            checksum: None,
            content: None,
            umask,
        });
    }
    let number = |key: &str| -> Result<u64, ModuleError> {
        fields
            .get(key)
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(garbled)
    };
    let raw = fields
        .get("raw")
        .and_then(|hex| u32::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(garbled)?;
    let id = |key: &str| -> Result<u32, ModuleError> {
        u32::try_from(number(key)?).map_err(|_| garbled())
    };
    let (uid, gid) = (id("uid")?, id("gid")?);
    let name = |key: &str, id: u32| match fields.get(key) {
        Some(name) if !name.is_empty() && *name != "UNKNOWN" => name.to_string(),
        _ => id.to_string(),
    };
    if output.truncated && content.is_some() {
        return Err(ModuleError::Failed(format!(
            "cannot read {path}: the host's answer was cut at {} bytes",
            crate::transport::OUTPUT_CAP
        )));
    }
    Ok(RemoteFile {
        kind: match raw & 0o170000 {
            0o100000 => Kind::File,
            0o040000 => Kind::Directory,
            0o120000 => Kind::Link,
            _ => Kind::Other,
        },
        mode: raw & 0o7777,
        uid,
        gid,
        owner: name("owner", uid),
        group: name("group", gid),
        size: number("size")?,
        link_target: fields.get("target").map(|t| t.to_string()),
        checksum: fields.get("checksum").map(|s| s.to_string()),
        content,
        umask,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A failure message with the host's first line of stderr, if it said anything.
pub(super) fn host_failure(what: &str, output: &ExecOutput) -> ModuleError {
    let stderr = output.stderr_text();
    match stderr.trim() {
        "" => ModuleError::Failed(format!("{what} (exit status {})", output.status.rc())),
        detail => ModuleError::Failed(format!("{what}: {detail}")),
    }
}

/// What [`apply`] does to a path.
#[derive(Debug, Default)]
pub(super) struct Change<'a> {
    /// New content, streamed to a temporary file beside the path and moved over it.
    pub content: Option<&'a [u8]>,
    /// Permission bits to set.
    pub mode: Option<u32>,
    /// `chown` argument (`user`, `user:group` or `:group`), already shell-quoted.
    pub chown: Option<String>,
    /// Best-effort `chown uid:gid` that keeps a replaced file's owner (may fail unprivileged).
    pub keep_owner: Option<(u32, u32)>,
    /// Keep a timestamped copy of the old file first.
    pub backup: bool,
    /// Copy this remote path instead of streaming `content` (`remote_src`).
    pub copy_from: Option<&'a str>,
    /// A command that must accept the new file (`%s` is its path) before it is moved in.
    pub validate: Option<&'a str>,
    /// Create missing parent directories first (`lineinfile create=yes`).
    pub make_parents: bool,
}

/// The path after [`apply`], and the backup it made.
#[derive(Debug)]
pub(super) struct Applied {
    /// The path as it now is (with checksum).
    pub after: RemoteFile,
    /// Where the old file was kept.
    pub backup_file: Option<String>,
}

/// Makes the change in one command and describes the result.
///
/// New content is written to a temporary file in the same directory (so the final `mv` is
/// an atomic rename), given its mode and owner, then moved over the path. The bytes travel
/// on the command's standard input, so any content, binary included, arrives intact.
pub(super) async fn apply(
    ctx: &ModuleContext<'_>,
    path: &str,
    change: &Change<'_>,
) -> Result<Applied, ModuleError> {
    let mut script = format!(
        "set -e\np={}\nmk={}\n",
        shell_path(path),
        u8::from(change.make_parents)
    );
    if change.backup {
        script.push_str(
            "if [ -f \"$p\" ]; then b=\"$p.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"; \
             cp -p -- \"$p\" \"$b\"; printf 'backup=%s\\n' \"$b\" >&2; fi\n",
        );
    }
    let replacing = change.content.is_some() || change.copy_from.is_some();
    let target = if replacing {
        script.push_str(
            "d=$(dirname -- \"$p\")\n\
             if [ \"$mk\" = 1 ]; then mkdir -p -- \"$d\"; fi\n\
             t=$(mktemp \"$d/.rpatch-tmp.XXXXXX\" 2>/dev/null) || { t=\"$p.rpatch-tmp.$$\"; : > \"$t\"; }\n\
             trap 'rm -f -- \"$t\"' EXIT\n",
        );
        match change.copy_from {
            Some(from) => script.push_str(&format!("cat -- {} > \"$t\"\n", shell_path(from))),
            None => script.push_str("cat > \"$t\"\n"),
        }
        "\"$t\""
    } else {
        "\"$p\""
    };
    if let Some((uid, gid)) = change.keep_owner {
        script.push_str(&format!("chown {uid}:{gid} {target} 2>/dev/null || :\n"));
    }
    if let Some(mode) = change.mode {
        script.push_str(&format!("chmod {mode:04o} {target}\n"));
    }
    if let Some(chown) = &change.chown {
        script.push_str(&format!("chown {chown} {target}\n"));
    }
    if let Some(validate) = change.validate.filter(|_| replacing) {
        let command = validate.replace("%s", "\"$t\"");
        script.push_str(&format!(
            "if ! out=$({command} 2>&1); then printf 'validation failed: %s\\n' \"$out\" >&2; exit 4; fi\n"
        ));
    }
    if replacing {
        script.push_str("mv -f -- \"$t\" \"$p\"\n");
    }
    script.push_str("set +e\n");
    script.push_str(&describe_script(Probe {
        follow: false,
        checksum: true,
        content_up_to: None,
    }));
    let mut request = ExecRequest::new(script);
    request.stdin = change.content.map(<[u8]>::to_vec);
    let output = ctx.exec_request(request).await?;
    if !output.status.success() {
        return Err(host_failure(&format!("cannot write {path}"), &output));
    }
    let backup_file = output
        .stderr_text()
        .lines()
        .find_map(|line| line.strip_prefix("backup=").map(str::to_string));
    Ok(Applied {
        after: parse_description(&output, path)?,
        backup_file,
    })
}

/// The permission bits and `chown` argument needed to bring `current` to `attrs`, or None
/// for each that already matches. `current` may be absent (a new path of kind `kind`).
pub(super) fn attr_changes(
    attrs: &Attrs,
    current: &RemoteFile,
    is_dir: bool,
) -> (Option<u32>, Option<String>) {
    let base = if current.exists() {
        current.mode
    } else if is_dir {
        0o777 & !current.umask
    } else {
        0o666 & !current.umask
    };
    let mode = attrs
        .mode
        .as_ref()
        .map(|mode| mode.apply(base, is_dir))
        .filter(|bits| !current.exists() || *bits != current.mode);
    let owner = attrs
        .owner
        .as_ref()
        .filter(|o| !current.exists() || !o.matches(&current.owner, current.uid));
    let group = attrs
        .group
        .as_ref()
        .filter(|g| !current.exists() || !g.matches(&current.group, current.gid));
    let chown = match (owner, group) {
        (None, None) => None,
        (Some(o), None) => Some(o.word()),
        (None, Some(g)) => Some(format!(":{}", g.word())),
        (Some(o), Some(g)) => Some(format!("{}:{}", o.word(), g.word())),
    };
    (mode, chown)
}

/// What the path would look like after the attribute changes, for check mode.
pub(super) fn predicted(current: &RemoteFile, attrs: &Attrs, is_dir: bool) -> RemoteFile {
    let mut after = current.clone();
    let (mode, _) = attr_changes(attrs, current, is_dir);
    if let Some(mode) = mode {
        after.mode = mode;
    } else if !current.exists() {
        after.mode = if is_dir { 0o777 } else { 0o666 } & !current.umask;
    }
    if let Some(owner) = &attrs.owner {
        after.owner = owner.text();
    }
    if let Some(group) = &attrs.group {
        after.group = group.text();
    }
    after
}

/// True when the bytes look like text worth diffing.
pub(super) fn is_text(bytes: &[u8]) -> bool {
    bytes.len() as u64 <= DIFF_LIMIT && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The SHA-1 of `data` as lowercase hex, as Ansible's `checksum` and `sha1sum` print it.
pub(super) fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Where a controller-side `src:` is looked for, as Ansible does: in a role, `ROLE/<kind>`
/// then the role itself; then `PLAYBOOK/<kind>`, then the playbook's directory. `kind` is
/// `files` (copy) or `templates` (template). Absolute paths are used as they are.
pub(super) fn find_local(
    src: &str,
    kind: &str,
    ctx: &ModuleContext<'_>,
) -> Result<std::path::PathBuf, ModuleError> {
    use std::path::{Path, PathBuf};
    let given = Path::new(src);
    if given.is_absolute() {
        return if given.exists() {
            Ok(given.to_path_buf())
        } else {
            Err(ModuleError::Failed(format!("could not find src={src}")))
        };
    }
    let var = |name: &str| {
        ctx.scope
            .get_attr(name)
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_none())
            .and_then(|value| value.as_str().map(PathBuf::from))
    };
    let mut bases = Vec::new();
    if let Some(role) = var("role_path") {
        bases.push(role.join(kind));
        bases.push(role);
    }
    if let Some(playbook) = var("playbook_dir") {
        bases.push(playbook.join(kind));
        bases.push(playbook);
    }
    bases.push(PathBuf::from("."));
    let searched: Vec<PathBuf> = bases.iter().map(|base| base.join(given)).collect();
    match searched.iter().find(|candidate| candidate.exists()) {
        Some(found) => Ok(found.clone()),
        None => Err(ModuleError::Failed(format!(
            "could not find src={src} (searched {})",
            searched
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_known_digests() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha1_hex(b"hello\n"),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        // 56 and 64 bytes: padding spills into a second block, or fills one exactly.
        assert_eq!(
            sha1_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            sha1_hex(&[b'a'; 64]),
            "0098ba824b5c16427bd7a1122a5a442a25ec644d"
        );
    }

    #[test]
    fn modes_read_as_ansible_reads_them() {
        let parse = |arg: ModeArg| arg.parse();
        assert_eq!(parse(ModeArg::Number(420)), Ok(Mode::Octal(0o644)));
        assert_eq!(parse(ModeArg::Text("0644".into())), Ok(Mode::Octal(0o644)));
        assert_eq!(parse(ModeArg::Text("755".into())), Ok(Mode::Octal(0o755)));
        assert_eq!(parse(ModeArg::Text("preserve".into())), Ok(Mode::Preserve));
        assert!(parse(ModeArg::Text("0999".into())).is_err());
        assert!(parse(ModeArg::Text("u=rwz".into())).is_err());
        assert!(parse(ModeArg::Number(0o17777)).is_err());
    }

    #[test]
    fn symbolic_modes_apply_to_the_current_bits() {
        let mode = |text: &str| ModeArg::Text(text.into()).parse().expect("mode");
        assert_eq!(mode("u=rw,g=r,o=r").apply(0o777, false), 0o644);
        assert_eq!(mode("go-w").apply(0o777, false), 0o755);
        assert_eq!(mode("a+X").apply(0o600, true), 0o711);
        assert_eq!(mode("a+X").apply(0o600, false), 0o600);
        assert_eq!(mode("u+x,g-r").apply(0o644, false), 0o704);
        assert_eq!(mode("+t").apply(0o755, true), 0o1755);
    }

    #[test]
    fn garbled_probe_output_is_a_failure_not_a_panic() {
        let output = |stdout: &str| ExecOutput {
            status: crate::transport::ExitStatus::Code(0),
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
            truncated: false,
        };
        assert!(parse_description(&output(""), "/x").is_err());
        assert!(parse_description(&output("raw=zz\nuid=0\n"), "/x").is_err());
        assert!(parse_description(&output("absent=1\n"), "/x").is_ok());
    }
}

/// Running file modules against the controller in tests.
#[cfg(test)]
pub(super) mod testing {
    use std::sync::Arc;

    use crate::modules::{Module, ModuleContext, ModuleResult};
    use crate::template::{Scope, Templar};

    /// How a test runs a module.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct Mode {
        pub check: bool,
        pub diff: bool,
    }

    /// Normal run.
    pub const RUN: Mode = Mode {
        check: false,
        diff: false,
    };
    /// `--check`.
    pub const CHECK: Mode = Mode {
        check: true,
        diff: false,
    };
    /// `--diff`.
    pub const DIFF: Mode = Mode {
        check: false,
        diff: true,
    };

    /// Runs a module on the local connection with host variables `vars`.
    pub async fn run_with(
        module: impl Module,
        args: serde_json::Value,
        mode: Mode,
        vars: serde_json::Value,
    ) -> ModuleResult {
        let templar = Templar::new();
        let layer = match vars {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), crate::vars::from_json(v)))
                .collect(),
            _ => Default::default(),
        };
        let scope = Scope::new(vec![Arc::new(layer)]);
        let ctx = ModuleContext {
            check_mode: mode.check,
            diff: mode.diff,
            host: "web1",
            ..ModuleContext::local(&templar, &scope)
        };
        crate::modules::run(&module, &crate::vars::from_json(&args), &ctx).await
    }

    /// Runs a module on the local connection without host variables.
    pub async fn run(module: impl Module, args: serde_json::Value, mode: Mode) -> ModuleResult {
        run_with(module, args, mode, serde_json::json!({})).await
    }

    /// A registered field as JSON.
    pub fn field(result: &ModuleResult, key: &str) -> serde_json::Value {
        result
            .data
            .get(key)
            .map(crate::vars::to_json)
            .unwrap_or(serde_json::Value::Null)
    }

    /// Permission bits of a local path.
    pub fn mode_of(path: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    }

    /// Asserts the result is neither failed nor changed.
    #[track_caller]
    pub fn assert_ok(result: &ModuleResult) {
        assert!(!result.failed && !result.changed, "expected ok: {result:?}");
    }

    /// Asserts the result changed something and did not fail.
    #[track_caller]
    pub fn assert_changed(result: &ModuleResult) {
        assert!(
            !result.failed && result.changed,
            "expected changed: {result:?}"
        );
    }

    /// Asserts the result failed with a message containing `text`.
    #[track_caller]
    pub fn assert_failed(result: &ModuleResult, text: &str) {
        assert!(result.failed, "expected failure: {result:?}");
        let msg = result.msg.clone().unwrap_or_default();
        assert!(msg.contains(text), "`{msg}` does not mention `{text}`");
    }
}
