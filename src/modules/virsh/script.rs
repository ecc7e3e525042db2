//! The remote half of the virsh modules: POSIX sh scripts, each sent in one round trip.
//!
//! Invariant: the scripts print the raw output of `virsh` itself between `@@rpatch:` tag
//! lines and interpret nothing; `parse.rs` reads it in Rust, so the parser is tested on
//! captured output of the real tools. Every word that comes from a playbook or from the host
//! (domain and snapshot names) reaches the shell through [`crate::shell::quote`] or a
//! double-quoted variable, never unquoted.

use crate::shell::quote;

/// Helpers every script starts with: a C locale (virsh's labels are parsed), a sane PATH,
/// `qemu:///system` unless `LIBVIRT_DEFAULT_URI` says otherwise, and a `@@rpatch:novirsh`
/// answer on a host without virsh.
const PRELUDE: &str = r#"LC_ALL=C; export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
# The system daemon, as an admin means it; not a per-user session daemon started on demand.
: "${LIBVIRT_DEFAULT_URI:=qemu:///system}"; export LIBVIRT_DEFAULT_URI
echo '@@rpatch:start'
if ! command -v virsh >/dev/null 2>&1 || [ ! -x "$(command -v virsh)" ]; then
  echo '@@rpatch:novirsh'; exit 0
fi
"#;

/// The facts script: the host, then each domain's dominfo, snapshots (with creation time),
/// current snapshot and disks (with the file system each lives on).
const FACTS: &str = r#"echo "@@rpatch:now $(date +%s)"
list=$(virsh -q list --all --name 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "@@rpatch:error $rc"; printf '%s\n' "$list"; echo '@@rpatch:end'; exit 0
fi
echo '@@rpatch:nodeinfo'; virsh nodeinfo 2>&1
echo '@@rpatch:nodememstats'; virsh nodememstats 2>&1
echo '@@rpatch:freecell'; virsh freecell 2>&1
printf '%s\n' "$list" | while IFS= read -r d; do
  [ -n "$d" ] || continue
  printf '@@rpatch:domain %s\n' "$d"
  virsh dominfo --domain "$d" 2>&1
  echo '@@rpatch:snapshots'
  virsh -q snapshot-list --domain "$d" --name 2>&1 | while IFS= read -r s; do
    [ -n "$s" ] || continue
    case $s in error:*) printf '@@rpatch:warning %s\n' "$s"; continue ;; esac
    xml=$(virsh snapshot-dumpxml --domain "$d" --snapshotname "$s" 2>/dev/null)
    t=$(printf '%s\n' "$xml" | sed -n 's:.*<creationTime>\([0-9]*\)</creationTime>.*:\1:p')
    printf '%s %s\n' "${t:-0}" "$s"
    printf '%s\n' "$xml" | sed -n '/<parent>/,/<\/parent>/s:.*<name>\(.*\)</name>.*:@@rpatch\:parent \1:p'
  done
  echo '@@rpatch:current'
  c=$(virsh snapshot-current --domain "$d" --name 2>/dev/null) && printf '%s\n' "$c"
  m=$(virsh metadata --domain "$d" --uri urn:rpatch:evacuation 2>/dev/null) &&
    printf '%s\n' "$m" | sed -n 's:^ *<evacuated .*:@@rpatch\:evacuated &:p'
  echo '@@rpatch:disks'
  virsh -q domblklist --domain "$d" --details 2>&1 | while read -r type device target source; do
    [ -n "$type" ] || continue
    fs=$(stat -f -c %T "$source" 2>/dev/null) || fs=-
    printf '%s %s %s %s %s\n' "$type" "$device" "$target" "${fs:--}" "$source"
  done
done
echo '@@rpatch:end'
"#;

/// The XML namespace of the libvirt metadata `virsh_evacuate` keeps on a guest it moved
/// (`<evacuated from="HOST" action="migrated"/>`); the facts script reads it (as
/// [`super::parse::Evacuation`]).
pub(crate) const EVACUATION_NS: &str = "urn:rpatch:evacuation";

/// One round trip that reports the host and every domain (see the module docs of `parse`).
pub(crate) fn facts() -> String {
    format!("{PRELUDE}{FACTS}")
}

/// `body` after the prelude every script starts with (C locale, PATH, `qemu:///system`, a
/// `@@rpatch:novirsh` answer on a host without virsh): for a module's own script, which
/// must quote every word from a playbook or host itself.
pub(crate) fn with_prelude(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

/// One command of an apply script: `virsh` and its words, each quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// What the step does, for messages: `create snapshot a of web01`.
    pub what: String,
    /// The virsh subcommand and its arguments, unquoted.
    pub words: Vec<String>,
}

impl Step {
    /// A step running `virsh WORDS…`.
    pub(crate) fn new(what: impl Into<String>, words: &[&str]) -> Self {
        Self {
            what: what.into(),
            words: words.iter().map(|w| (*w).to_string()).collect(),
        }
    }

    fn command(&self) -> String {
        let mut line = String::from("virsh");
        for word in &self.words {
            line.push(' ');
            line.push_str(&quote(word));
        }
        line
    }
}

/// Runs each step in order and reports each one's output and exit code; every step runs
/// even when an earlier one failed (each acts on its own domain or snapshot).
pub(crate) fn apply(steps: &[Step]) -> String {
    let mut script = String::from(PRELUDE);
    for (index, step) in steps.iter().enumerate() {
        script.push_str(&format!(
            "echo '@@rpatch:step {index}'\n{} 2>&1\necho \"@@rpatch:rc $?\"\n",
            step.command()
        ));
    }
    script.push_str("echo '@@rpatch:end'\n");
    script
}

/// Asks the guest to shut down (ACPI) and waits up to `timeout` seconds for it to be off;
/// then, or at once when libvirt refuses the request (a paused guest), with `force` pulls the
/// plug. Reports `@@rpatch:off`, `@@rpatch:forced` or `@@rpatch:timeout STATE` after the
/// steps' output.
pub(crate) fn shutdown(domain: &str, timeout: u64, force: bool) -> String {
    let d = quote(domain);
    let mut script = String::from(PRELUDE);
    script.push_str(&format!(
        r#"echo '@@rpatch:step 0'
virsh shutdown --domain {d} 2>&1
asked=$?
echo "@@rpatch:rc $asked"
off=0
state=
if [ "$asked" -eq 0 ]; then
  deadline=$(( $(date +%s) + {timeout} ))
  while :; do
    state=$(virsh domstate --domain {d} 2>&1)
    [ "$state" = "shut off" ] && {{ off=1; echo '@@rpatch:off'; break; }}
    [ "$(date +%s)" -ge "$deadline" ] && break
    sleep 0.2
  done
fi
if [ "$off" = 0 ]; then
  if [ {force} = 1 ]; then
    echo '@@rpatch:step 1'
    virsh destroy --domain {d} 2>&1
    echo "@@rpatch:rc $?"
    echo '@@rpatch:forced'
  elif [ "$asked" -eq 0 ]; then
    printf '@@rpatch:timeout %s\n' "$state"
  fi
fi
echo '@@rpatch:end'
"#,
        force = u8::from(force)
    ));
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_is_valid_posix_sh() {
        let step = Step::new(
            "x",
            &[
                "snapshot-delete",
                "--domain",
                "a'b",
                "--snapshotname",
                "$(x)",
            ],
        );
        for script in [facts(), apply(&[step]), shutdown("web01", 3, true)] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", &script])
                .status()
                .expect("sh");
            assert!(status.success(), "sh -n refused:\n{script}");
        }
    }

    #[test]
    fn every_word_of_a_step_is_quoted_for_the_shell() {
        let step = Step::new(
            "x",
            &[
                "snapshot-create-as",
                "--domain",
                "web01",
                "--name",
                "a;rm -rf /",
            ],
        );
        assert_eq!(
            step.command(),
            "virsh snapshot-create-as --domain web01 --name 'a;rm -rf /'"
        );
        let script = shutdown("we'b", 5, false);
        assert!(script.contains(r#"--domain 'we'"'"'b'"#), "{script}");
    }
}
