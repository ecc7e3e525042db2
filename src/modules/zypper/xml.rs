//! Reading what one zypper command printed with `--xmlout`: the solvables of its
//! `<install-summary>` (what it would change or changed) and its `<message>`s, plus whatever
//! came on stderr after the XML stream.
//!
//! The script prints zypper's stdout and then its stderr; a stream zypper never finished (a
//! crash, a signal) does not parse, and then every line counts as plain text.

use crate::modules::dnf::parse::Action;

/// One row of zypper's install summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Solvable {
    /// `package`, `patch`, `pattern`, `product`.
    pub kind: String,
    /// What the transaction does to it.
    pub action: Action,
    /// Its name (a patch's id for a patch).
    pub name: String,
    /// Its architecture.
    pub arch: String,
    /// The version it will have (`edition`), or the removed one.
    pub edition: String,
}

/// A `<message type="...">` zypper printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// `error`, `warning` or `info`.
    pub kind: String,
    /// Its text, entities resolved and whitespace trimmed.
    pub text: String,
}

/// Everything one zypper command printed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Output {
    /// The install summary's rows, in order, each (name, arch, kind) once.
    pub solvables: Vec<Solvable>,
    /// Its messages, in order.
    pub messages: Vec<Message>,
    /// Lines outside a readable XML stream (stderr, or all of a broken stream).
    pub text: Vec<String>,
}

impl Output {
    /// The messages of one type.
    pub(crate) fn messages_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> {
        self.messages
            .iter()
            .filter(move |m| m.kind == kind)
            .map(|m| m.text.as_str())
    }

    /// What to tell a user when the command failed: zypper's errors, else its stderr, else
    /// its last words.
    pub(crate) fn complaint(&self) -> String {
        let errors: Vec<&str> = self.messages_of("error").collect();
        if !errors.is_empty() {
            return one_line(&errors.join("; "));
        }
        let text: Vec<&str> = self
            .text
            .iter()
            .map(|line| line.trim())
            .filter(|line| !line.is_empty())
            .collect();
        if !text.is_empty() {
            return text.join("; ");
        }
        let last: Vec<&str> = self.messages.iter().map(|m| m.text.as_str()).collect();
        one_line(&last[last.len().saturating_sub(2)..].join("; "))
    }
}

/// Collapses a multi-line message into one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A repository as `zypper --xmlout repos` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repo {
    /// Its alias (what `zypper_repository` calls `name`).
    pub alias: String,
    /// Its display name (`description`).
    pub name: String,
    /// Its URI.
    pub url: String,
    /// `priority` (99 unless set).
    pub priority: u32,
    /// Enabled.
    pub enabled: bool,
    /// Refreshed automatically.
    pub autorefresh: bool,
    /// GPG checks on.
    pub gpgcheck: bool,
}

/// The repositories of a `zypper --xmlout repos` stream (none when it does not parse).
pub(crate) fn repos(text: &str) -> Vec<Repo> {
    let Some(start) = text.find("<?xml") else {
        return Vec::new();
    };
    let Ok(tree) = roxmltree::Document::parse(&text[start..]) else {
        return Vec::new();
    };
    tree.descendants()
        .filter(|node| node.has_tag_name("repo"))
        .map(|node| {
            let attribute = |name: &str| node.attribute(name).unwrap_or_default();
            Repo {
                alias: attribute("alias").to_string(),
                name: attribute("name").to_string(),
                url: node
                    .children()
                    .find(|child| child.has_tag_name("url"))
                    .and_then(|url| url.text())
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                priority: attribute("priority").parse().unwrap_or(99),
                enabled: attribute("enabled") == "1",
                autorefresh: attribute("autorefresh") == "1",
                gpgcheck: attribute("gpgcheck") == "1",
            }
        })
        .collect()
}

/// Reads a step's lines: the XML stream, then anything else.
pub(crate) fn read(lines: &[String]) -> Output {
    let start = lines.iter().position(|line| line.starts_with("<?xml"));
    let end = lines.iter().rposition(|line| line.contains("</stream>"));
    let (Some(start), Some(end)) = (start, end) else {
        return plain(lines);
    };
    if end < start {
        return plain(lines);
    }
    let document = lines[start..=end].join("\n");
    let Ok(tree) = roxmltree::Document::parse(&document) else {
        return plain(lines);
    };
    let mut output = Output {
        text: lines[..start]
            .iter()
            .chain(&lines[end + 1..])
            .cloned()
            .collect(),
        ..Output::default()
    };
    for node in tree.descendants().filter(roxmltree::Node::is_element) {
        match node.tag_name().name() {
            "message" => output.messages.push(Message {
                kind: node.attribute("type").unwrap_or("info").to_string(),
                text: node
                    .text()
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_string(),
            }),
            "solvable" => {
                let Some(action) = node
                    .parent_element()
                    .and_then(|list| action_of(list.tag_name().name()))
                else {
                    continue;
                };
                let attribute = |name: &str| node.attribute(name).unwrap_or_default().to_string();
                let solvable = Solvable {
                    kind: attribute("type"),
                    action,
                    name: attribute("name"),
                    arch: attribute("arch"),
                    edition: attribute("edition"),
                };
                let seen = output.solvables.iter().any(|s| {
                    s.name == solvable.name && s.arch == solvable.arch && s.kind == solvable.kind
                });
                if !seen && !solvable.name.is_empty() {
                    output.solvables.push(solvable);
                }
            }
            _ => {}
        }
    }
    output
}

/// Output that is not a readable stream: all text.
fn plain(lines: &[String]) -> Output {
    Output {
        text: lines.to_vec(),
        ..Output::default()
    }
}

/// The action of an install-summary list (`to-upgrade`, `to-install`, ...). Lists of
/// packages changing arch or vendor read as upgrades; the package's version says the rest.
fn action_of(list: &str) -> Option<Action> {
    let list = list.strip_prefix("to-")?;
    Some(if list.contains("downgrade") {
        Action::Downgraded
    } else if list.contains("reinstall") {
        Action::Reinstalled
    } else if list.contains("remove") {
        Action::Removed
    } else if list.contains("install") {
        Action::Installed
    } else {
        Action::Upgraded
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    /// `zypper --xmlout patch --category security --dry-run`, zypper 1.14.42 (trimmed of its
    /// prompt options and progress lines).
    const PATCH: &str = r#"<?xml version='1.0'?>
<stream>
<message type="info">Loading repository data...</message>
<message type="info">Patch &apos;RPATCH-RA-2026:0002-2.0&apos; is not in the specified category.</message>
<install-summary download-size="6132" space-usage-diff="0" packages-to-change="1">
<to-upgrade>
<solvable type="package" name="rpatch-testpkg" edition="1.1-1" arch="noarch" edition-old="1.0-1" arch-old="noarch" summary="rpatch test package">
<description>A throwaway package for rpatch tests.</description></solvable>
</to-upgrade>
<to-install>
<solvable type="patch" name="RPATCH-SA-2026:0001" edition="2.0" arch="noarch" summary="rpatch-testpkg security update">
<description>Fixes a test vulnerability.</description></solvable>
</to-install>
</install-summary>
<prompt id="0">
<text>Continue?</text>
</prompt>
<fileconflict-summary><message type="warning">1 package had to be excluded from file conflicts check because it is not yet download.</message>
</fileconflict-summary></stream>"#;

    #[test]
    fn install_summaries_give_packages_and_patches_with_their_actions() {
        let output = read(&lines(PATCH));
        let rows: Vec<(&str, Action, &str, &str)> = output
            .solvables
            .iter()
            .map(|s| (s.kind.as_str(), s.action, s.name.as_str(), s.edition.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("package", Action::Upgraded, "rpatch-testpkg", "1.1-1"),
                ("patch", Action::Installed, "RPATCH-SA-2026:0001", "2.0"),
            ]
        );
        assert_eq!(
            output.messages[1].text,
            "Patch 'RPATCH-RA-2026:0002-2.0' is not in the specified category."
        );
        assert!(output.text.is_empty());
    }

    #[test]
    fn repository_lists_are_read() {
        let list = "<?xml version='1.0'?>\n<stream>\n<repo-list>\n<repo alias=\"t\" \
            name=\"a &amp; b\" type=\"rpm-md\" priority=\"20\" enabled=\"1\" autorefresh=\"0\" \
            gpgcheck=\"0\">\n<url>dir:/srv/repo</url>\n</repo>\n</repo-list>\n</stream>\n";
        assert_eq!(
            repos(list),
            [Repo {
                alias: "t".into(),
                name: "a & b".into(),
                url: "dir:/srv/repo".into(),
                priority: 20,
                enabled: true,
                autorefresh: false,
                gpgcheck: false,
            }]
        );
        assert!(repos("not xml").is_empty());
    }

    #[test]
    fn errors_are_the_complaint_and_a_broken_stream_is_plain_text() {
        let missing = "<?xml version='1.0'?>\n<stream>\n\
            <message type=\"info\">&apos;nope&apos; not found in package names. Trying capabilities.</message>\n\
            <message type=\"error\">No provider of &apos;nope&apos; found.</message>\n</stream>";
        assert_eq!(read(&lines(missing)).complaint(), "No provider of 'nope' found.");
        let flag = "The flag --bogus is not known.";
        let output = read(&lines(flag));
        assert_eq!(output.complaint(), flag);
        let cut = "<?xml version='1.0'?>\n<stream>\n<message type=\"info\">Loading</message>";
        assert_eq!(read(&lines(cut)).text.len(), 3);
        let after = format!("{missing}\nsomething on stderr");
        assert_eq!(read(&lines(&after)).text, ["something on stderr"]);
    }
}
