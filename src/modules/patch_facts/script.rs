//! The remote half of `patch_facts`: one POSIX sh script, sent in one round trip.
//!
//! Invariant: every line the script prints is `tag|text`, where `tag` names the source
//! (`os` for an os-release line, `apt` for an `apt-get -s` line, ...) and `text` is that
//! source's own output line, unchanged. The tools' output is interpreted only in Rust
//! (`parse.rs`), so the parser can be tested on recorded output of the real tools. The script
//! never writes on the host unless `refresh` asks for `apt-get update` / `dnf makecache`.

/// What the script should do, from the module's arguments and check mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScriptOptions {
    /// List pending updates (`apt-get -s dist-upgrade`, `dnf check-update`).
    pub pending: bool,
    /// Refresh package metadata first (changes the host's package cache).
    pub refresh: bool,
}

/// Shell helpers and the sources every host reports.
const COMMON: &str = r#"LC_ALL=C; export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
have() { command -v "$1" >/dev/null 2>&1; }
tag() { sed "s/^/$1|/"; }
echo "begin|rpatch-patch-facts 1"
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then tag os < "$f"; break; fi
done
echo "kernel|$(uname -r 2>/dev/null)"
[ "$pending" = 1 ] || echo "pending|skipped"
for t in apt-get dpkg-query dnf yum zypper rpm needrestart needs-restarting canonical-livepatch kpatch; do
  have "$t" && echo "tool|$t"
done
if [ -e /var/run/reboot-required ]; then
  echo "reboot_file|/var/run/reboot-required"
  [ -r /var/run/reboot-required.pkgs ] && tag reboot_pkg < /var/run/reboot-required.pkgs
fi
if have needrestart; then
  needrestart -b -r l 2>/dev/null | tag needrestart
fi
if have canonical-livepatch; then
  canonical-livepatch status 2>&1 | tag livepatch
  echo "livepatch_rc|$?"
fi
if have kpatch; then
  kpatch list 2>&1 | tag kpatch
fi
"#;

/// Debian family: kernels from dpkg, pending updates from a simulated dist-upgrade.
const DEBIAN: &str = r#"dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' 'linux-image-*' 2>/dev/null | tag deb_kernel
if [ "$refresh" = 1 ]; then
  apt-get update -q >/dev/null 2>&1; echo "refresh_rc|$?"
fi
if [ "$pending" = 1 ]; then
  apt-get -s -q -o Debug::NoLocking=1 dist-upgrade 2>&1 | tag apt
  echo "apt_done|1"
fi
"#;

/// RHEL family: kernels from rpm, pending updates from dnf (or yum) check-update and
/// updateinfo, reboot from needs-restarting.
const REDHAT: &str = r#"rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}.%{ARCH}\n' kernel kernel-core 2>/dev/null | tag rpm_kernel
if have dnf; then pm=dnf; else pm=yum; fi
if [ "$refresh" = 1 ]; then
  $pm -q makecache >/dev/null 2>&1; echo "refresh_rc|$?"
fi
if [ "$pending" = 1 ]; then
  out=$($pm -q -C check-update 2>/dev/null); rc=$?
  printf '%s\n' "$out" | tag check_update
  echo "check_update_rc|$rc"
  $pm -q -C updateinfo list --security 2>/dev/null | tag security
  printf '%s\n' "$out" | awk 'NF == 3 && $1 ~ /\./ { print $1 }' | sed 's/\.[^.]*$//' | sort -u \
    | xargs -r rpm -q --qf '%{NAME}.%{ARCH} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n' 2>/dev/null | tag installed
fi
if have needs-restarting; then
  needs-restarting -r 2>&1 | tag needs_restarting
  echo "needs_restarting_rc|$?"
elif have dnf && dnf -q needs-restarting --help >/dev/null 2>&1; then
  dnf -q needs-restarting -r 2>&1 | tag needs_restarting
  echo "needs_restarting_rc|$?"
fi
"#;

/// The whole script for these options.
pub(crate) fn script(options: ScriptOptions) -> String {
    let flag = |on: bool| if on { "1" } else { "0" };
    format!(
        "pending={pending}; refresh={refresh}\n{COMMON}\
         if have apt-get && have dpkg-query; then\n{DEBIAN}\
         elif have rpm && {{ have dnf || have yum; }}; then\n{REDHAT}fi\n\
         echo 'end|1'\n",
        pending = flag(options.pending),
        refresh = flag(options.refresh),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(options: ScriptOptions) -> String {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script(options))
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    #[test]
    fn every_line_is_tagged_and_the_script_completes() {
        let out = run(ScriptOptions {
            pending: false,
            refresh: false,
        });
        assert!(out.starts_with("begin|"), "{out}");
        assert!(out.ends_with("end|1\n"), "{out}");
        for line in out.lines() {
            assert!(line.contains('|'), "untagged line {line:?}");
        }
        assert!(!out.contains("apt|"), "pending: false lists nothing");
    }

    #[test]
    fn the_script_is_posix_sh() {
        let status = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(script(ScriptOptions {
                pending: true,
                refresh: true,
            }))
            .status()
            .expect("sh -n");
        assert!(status.success());
    }
}
