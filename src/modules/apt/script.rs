//! The POSIX sh script one `apt` task runs on the host, in one round trip.
//!
//! The script decides and does: it refreshes the lists when asked and stale, works out the
//! packages to act on (what is missing for `present`, what is installed for `absent`, what has
//! a `*-security` candidate for `security_only`), simulates the `apt-get` command (`-s`),
//! and — unless in check mode or the simulation changes nothing — runs it for real and reads
//! the packages' state back from dpkg. It reports through lines starting with [`MARKER`] (see
//! [`super::report`]); everything else it prints is apt's own output.
//!
//! Invariants:
//! - every word that comes from the task is quoted with [`quote`] (and package names were
//!   checked against Debian syntax before, see [`super::spec`]); the only words the script
//!   itself splits are package names printed by apt-get, dpkg-query and apt-mark;
//! - `set -f`: no word is ever glob-expanded;
//! - nothing changes in check mode: only `apt-get -s`, `apt-cache` and `dpkg-query` run;
//! - apt and dpkg locks are waited for until `lock_timeout`, through apt's own
//!   `DPkg::Lock::Timeout` (apt >= 1.9.11) and a retry loop for older apt and the lists lock;
//! - a lost connection cannot interrupt dpkg half-way: while the step runs for real, the script
//!   ignores SIGHUP and SIGPIPE (as do apt-get and dpkg, which inherit that) and apt-get writes
//!   to a file, copied to the output once it is done;
//! - held and excluded packages are pinned at their installed version (a temporary
//!   preferences file passed with `-o Dir::Etc::Preferences`), so apt never changes them, not
//!   even as a dependency; the host's own preferences are appended after the pins.

use super::args::{Action, AptOptions, Request, Upgrade};
use crate::baseline::Baseline;
use crate::shell::quote;

/// The start of every line the script prints for rpatch rather than for the user.
pub const MARKER: &str = "::rpatch-apt::";

/// Environment, markers, temporary directory.
const PRELUDE: &str = r#"set -f
umask 022
unset LANGUAGE
LC_ALL=C LANG=C
DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical
NEEDRESTART_MODE=l NEEDRESTART_SUSPEND=1
APT_LISTCHANGES_FRONTEND=none UCF_FORCE_CONFFOLD=1
export LC_ALL LANG DEBIAN_FRONTEND DEBIAN_PRIORITY NEEDRESTART_MODE NEEDRESTART_SUSPEND
export APT_LISTCHANGES_FRONTEND UCF_FORCE_CONFFOLD
M='::rpatch-apt::'
say() { printf '%s %s\n' "$M" "$*"; }
finish() { say done; exit 0; }
fatal() { say fatal "$@"; finish; }
{ command -v apt-get && command -v apt-cache && command -v dpkg-query; } >/dev/null 2>&1 || fatal no-apt
# apt ignores an APT_CONFIG it cannot read and uses the system's configuration instead: a task
# meant for another root or repository would patch this host.
if [ -n "${APT_CONFIG:-}" ] && [ ! -r "$APT_CONFIG" ]; then fatal bad-apt-config; fi
t=$(mktemp -d 2>/dev/null) || fatal no-tmp
trap 'rm -rf "$t"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
"#;

/// Helpers: apt's paths, lock waiting, cache age, package status, pins, selection.
const HELPERS: &str = r#"eval "$(apt-config shell state_dir Dir::State/d lists Dir::State::Lists/d archives Dir::Cache::Archives/d prefs_main Dir::Etc::Preferences/f dpkg_status Dir::State::status/f 2>/dev/null)"
: "${state_dir:=/var/lib/apt/}" "${lists:=/var/lib/apt/lists/}" "${archives:=/var/cache/apt/archives/}"
: "${prefs_main:=/etc/apt/preferences}" "${dpkg_status:=/var/lib/dpkg/status}"
# One second more: `date +%s` counts whole seconds, and the wait must last lock_timeout at least.
deadline=$(( $(date +%s) + lock_timeout + 1 ))
locked=0
# Who holds apt's and dpkg's locks, from /proc/locks (no fuser or lsof needed).
lock_holders() {
  for f in "${dpkg_status%/*}/lock-frontend" "${dpkg_status%/*}/lock" "${lists}lock" "${archives}lock"; do
    ino=$(stat -c %i "$f" 2>/dev/null) || continue
    for pid in $(awk -v ino="$ino" '$2 != "->" { n = split($6, part, ":"); if (part[n] == ino) print $5 }' /proc/locks 2>/dev/null); do
      printf '%s lock-holder\t%s\t%s\t%s\n' "$M" "$f" "$pid" "$(cat "/proc/$pid/comm" 2>/dev/null)"
    done
  done
}
# apt-get "$@", tried again while another process holds apt's or dpkg's lock, until the deadline.
aptget() {
  while :; do
    left=$(( deadline - $(date +%s) ))
    [ "$left" -gt 0 ] || left=0
    apt-get -o DPkg::Lock::Timeout="$left" "$@" 2>"$t/err"
    rc=$?
    if [ "$rc" -ne 0 ] && grep -Eq 'Could not get lock|Unable to lock|Unable to acquire the dpkg frontend lock' "$t/err"; then
      if [ "$(date +%s)" -lt "$deadline" ]; then
        sleep 1
        continue
      fi
      cat "$t/err" >&2
      locked=1
      say lock-timeout
      lock_holders
      return "$rc"
    fi
    cat "$t/err" >&2
    return "$rc"
  done
}
# The time of the last successful update: the newest of apt's success stamp and the lists.
cache_time() {
  c=0
  for f in "${state_dir}periodic/update-success-stamp" "$lists"; do
    m=$(stat -c %Y "$f" 2>/dev/null) || continue
    [ "$m" -gt "$c" ] && c=$m
  done
  echo "$c"
}
need_root() { [ "$(id -u)" = 0 ] || fatal not-root; }
# dpkg's status of a package as `XYZ|version` (`ii |1.0`); empty when dpkg does not know it.
status() { dpkg-query -W -f='${db:Status-Abbrev}|${Version}\n' "$1" 2>/dev/null | head -n 1; }
installed() { case $(status "$1") in ?i*) return 0 ;; *) return 1 ;; esac; }
held() { grep -Fqx -- "$1" "$t/holds"; }
# Pins an installed package at its version so apt leaves it alone: freeze REASON PACKAGE.
freeze() {
  s=$(status "$2")
  case $s in ?i*) ;; *) return 0 ;; esac
  printf 'Package: %s\nPin: version %s\nPin-Priority: 1001\n\n' "$2" "${s#*|}" >> "$t/pins"
  say frozen "$1" "$2" "${s#*|}"
}
sel=
# present SPEC PACKAGE [VERSION]: select SPEC unless PACKAGE is installed (at VERSION).
present() {
  s=$(status "$2")
  case $s in
    ?i*) if [ -z "$3" ] || [ "${s#*|}" = "$3" ]; then return 0; fi ;;
    *) [ "$only_upgrade" = 1 ] && return 0 ;;
  esac
  sel="$sel $1"
}
# latest PACKAGE: select PACKAGE unless it is held (or, with only_upgrade, not installed).
latest() {
  if [ "$keep_holds" = 1 ] && held "$1"; then say kept "$1"; return 0; fi
  if [ "$only_upgrade" = 1 ] && ! installed "$1"; then return 0; fi
  sel="$sel $1"
}
# absent PACKAGE: select PACKAGE if installed (with purge: if its configuration is left).
absent() {
  case $(status "$1") in
    ?n* | '') return 0 ;;
    ?c*) [ "$purge" = 1 ] || return 0 ;;
  esac
  sel="$sel $1"
}
"#;

/// Refreshes the package lists when asked and older than `valid_for`; never in check mode.
const UPDATE: &str = r#"before=$(cache_time)
if [ "$valid_for" -gt 0 ] && [ $(( before + valid_for )) -ge "$(date +%s)" ]; then
  say cache-fresh
elif [ "$check" = 1 ]; then
  say cache-would-update
else
  need_root
  n=0
  delay=1
  while :; do
    n=$(( n + 1 ))
    say begin update
    aptget update
    rc=$?
    say end update "$rc"
    [ "$rc" = 0 ] && break
    [ "$locked" = 1 ] && finish
    [ "$n" -lt "$retries" ] || fatal update "$rc"
    sleep "$delay"
    delay=$(( delay * 2 ))
    [ "$delay" -le "$max_delay" ] || delay=$max_delay
  done
  touch "$lists" 2>/dev/null
  say cache-updated
fi
"#;

/// Holds (unless allowed to change) and exclusions become pins.
const FREEZE: &str = r#": > "$t/holds"
: > "$t/pins"
if [ "$keep_holds" = 1 ]; then apt-mark showhold > "$t/holds" 2>/dev/null; fi
while read -r p; do [ -n "$p" ] && freeze hold "$p"; done < "$t/holds"
for p in $exclude; do freeze exclude "$p"; done
if [ -s "$t/pins" ]; then
  cat "$t/pins" > "$t/preferences"
  if [ -r "$prefs_main" ]; then cat "$prefs_main" >> "$t/preferences"; fi
fi
"#;

/// `security_only`: fail without a `*-security` suite, else select the upgrades whose candidate
/// comes from one (the archive after `origin:` and any `version/` in apt-get's `Inst` line).
const SECURITY: &str = r#"apt-cache policy > "$t/policy" 2>/dev/null
awk '$1 == "release" && $0 ~ /[ ,](a|n)=[^,]*-security(,|$)/ { found = 1 } END { exit !found }' "$t/policy" || fatal no-security-suite
apt_do -s dist-upgrade > "$t/survey"
rc=$?
if [ "$rc" != 0 ]; then
  [ "$locked" = 1 ] && finish
  fatal plan "$rc"
fi
for p in $(awk '$1 == "Inst" {
  rel = $0
  sub(/^[^(]*\(/, "", rel); sub(/\)[^)]*$/, "", rel); sub(/ \[[^]]*\]$/, "", rel); sub(/^[^ ]* /, "", rel)
  n = split(rel, each, ", ")
  for (i = 1; i <= n; i++) {
    a = each[i]; sub(/^[^:]*:/, "", a); sub(/^.*\//, "", a)
    if (a ~ /-security$/) { print $2; break }
  }
}' "$t/survey"); do
  sel="$sel $p"
done
"#;

/// `baseline`: the host's release must be in the baseline (`set --` by [`baseline_cases`]);
/// every baseline version is pinned above the mirrors' (so a dependency pulled in gets the
/// baseline's version too); each installed package older than its baseline version is
/// selected as `name=version`, once that version is known to be available. Newer installed
/// versions are never downgraded, only reported.
const BASELINE: &str = r#": > "$t/bpins"
while [ $# -ge 2 ]; do
  p=$1 v=$2
  shift 2
  printf 'Package: %s\nPin: version %s\nPin-Priority: 990\n\n' "$p" "$v" >> "$t/bpins"
  s=$(status "$p")
  case $s in ?i*) ;; *) continue ;; esac
  have=${s#*|}
  [ "$have" = "$v" ] && continue
  if dpkg --compare-versions "$have" gt "$v"; then say baseline-newer "$p" "$have" "$v"; continue; fi
  if [ "$keep_holds" = 1 ] && held "$p"; then say kept "$p"; continue; fi
  case " $exclude " in *" $p "*) continue ;; esac
  apt-cache madison "$p" 2>/dev/null | awk -F'|' -v v="$v" '{ gsub(/ /, "", $2) } $2 == v { found = 1 } END { exit !found }' || fatal baseline-missing "$p" "$v"
  sel="$sel $p=$v"
done
{ cat "$t/pins" "$t/bpins"; if [ -r "$prefs_main" ]; then cat "$prefs_main"; fi; } > "$t/preferences"
"#;

/// `approve`/`reject`: holds back the upgrades that are rejected or not approved yet, each
/// by pinning its candidate version below every other (`Pin-Priority: -1`), so apt falls back
/// to an older candidate — which is judged in turn (at most eight rounds). A candidate's
/// publication date is the `Date:` of the Release (or InRelease) file of the suite it comes
/// from (the `label:archive` pairs of apt-get's `Inst` line, matched with the Release files'
/// `Label` and `Suite`/`Codename`; the earliest when several carry
/// it); it is a security update when one of those suites is a `*-security` one. No date found:
/// held back, reported with the date unknown. `want` limits the judgement to the selected
/// packages (`security_only`, `state: latest`); `*` judges every upgrade.
const APPROVAL: &str = r#": > "$t/dates"
find "$lists" -maxdepth 1 -type f \( -name '*_Release' -o -name '*_InRelease' \) 2>/dev/null > "$t/rfiles"
while IFS= read -r f; do
  d=$(sed -n 's/^Date: //p' "$f" | head -n 1)
  e=$(date -u -d "$d" +%s 2>/dev/null) || continue
  awk -v e="$e" '/^Label: / { o = substr($0, 8) } /^(Suite|Codename): / { a[++n] = $2 } END { for (i = 1; i <= n; i++) printf "%s:%s\t%s\n", o, a[i], e }' "$f" >> "$t/dates"
done < "$t/rfiles"
now=$(date +%s)
: > "$t/apins"
round=0
while [ "$round" -lt 8 ]; do
  round=$(( round + 1 ))
  { cat "$t/pins" "$t/apins"; if [ -r "$prefs_main" ]; then cat "$prefs_main"; fi; } > "$t/preferences"
  apt_do -s dist-upgrade > "$t/asurvey" 2>/dev/null
  awk 'FNR == NR { split($0, kv, "\t"); date[kv[1]] = kv[2]; next }
  $1 == "Inst" {
    rel = $0
    sub(/^[^(]*\(/, "", rel); sub(/\)[^)]*$/, "", rel); sub(/ \[[^]]*\]$/, "", rel)
    v = rel; sub(/ .*$/, "", v); sub(/^[^ ]* /, "", rel)
    n = split(rel, each, ", "); s = 0; pub = ""
    for (i = 1; i <= n; i++) {
      # `label:archive`, `label:version/archive`, or the archive alone (no Label).
      o = each[i]; a = o
      if (index(o, ":") == 0) o = ""; else { sub(/:.*$/, "", o); sub(/^[^:]*:/, "", a) }
      sub(/^.*\//, "", a)
      if (a ~ /-security$/) s = 1
      k = o ":" a
      if ((k in date) && (pub == "" || date[k] + 0 < pub + 0)) pub = date[k]
    }
    print $2, v, s, (pub == "" ? "-" : pub)
  }' "$t/dates" "$t/asurvey" > "$t/candidates"
  more=0
  while read -r p v s pub; do
    case $want in '*') ;; *) case " $want " in *" $p "*) ;; *) continue ;; esac ;; esac
    grep -Fqx "Package: $p" "$t/pins" && continue
    r=
    for g in $reject; do case $p in $g) r=$g; break ;; esac; done
    if [ -n "$r" ]; then
      say held-back "$p" "$v" rejected "$r"
      # Every version of a rejected package: pinned at the installed one, when there is one.
      if installed "$p"; then freeze reject "$p"; more=1; continue; fi
    else
      if [ "$s" = 1 ]; then delay=$approve_security; class=security; else delay=$approve_other; class=other; fi
      [ "$delay" -lt 0 ] && continue
      if [ "$pub" = - ]; then
        say held-back "$p" "$v" unapproved "$class" - -
      elif [ "$now" -lt $(( pub + delay )) ]; then
        say held-back "$p" "$v" unapproved "$class" "$pub" $(( pub + delay ))
      else
        continue
      fi
    fi
    printf 'Package: %s\nPin: version %s\nPin-Priority: -1\n\n' "$p" "$v" >> "$t/apins"
    more=1
  done < "$t/candidates"
  [ "$more" = 1 ] || break
done
{ cat "$t/pins" "$t/apins"; if [ -r "$prefs_main" ]; then cat "$prefs_main"; fi; } > "$t/preferences"
[ -s "$t/pins" ] || [ -s "$t/apins" ] || : > "$t/preferences"
"#;

/// Simulates the step, then (outside check mode, when it changes anything) runs it.
const STEP: &str = r#"apt_do -s $step $sel > "$t/plan"
rc=$?
say begin plan
cat "$t/plan"
say end plan "$rc"
if [ "$rc" != 0 ]; then
  [ "$locked" = 1 ] && finish
  fatal plan "$rc"
fi
if [ "$check" = 0 ] && grep -Eq '^(Inst|Remv|Purg) ' "$t/plan"; then
  need_root
  say begin apply
  trap '' HUP PIPE
  apt_do -y $step $sel > "$t/apply"
  rc=$?
  cat "$t/apply"
  say end apply "$rc"
  say begin after
  for p in $(awk '$1 == "Inst" || $1 == "Remv" || $1 == "Purg" { print $2 }' "$t/plan"); do
    printf '%s|%s\n' "$p" "$(status "$p")"
  done
  say end after
  [ "$locked" = 1 ] && finish
  [ "$rc" = 0 ] || fatal apply "$rc"
fi
"#;

/// `clean`: empties the cache of downloaded package files (reported, not done, in check mode).
const CLEAN: &str = r#"if [ "$check" = 1 ]; then
  say would-clean
else
  need_root
  aptget clean || fatal clean $?
  say cleaned
fi
"#;

/// `autoclean`: drops cached package files that can no longer be downloaded, counting apt's
/// `Del` lines (simulated in check mode).
const AUTOCLEAN: &str = r#"if [ "$check" = 1 ]; then
  aptget -s autoclean > "$t/autoclean" || fatal autoclean $?
else
  need_root
  aptget -y autoclean > "$t/autoclean" || fatal autoclean $?
fi
say autocleaned "$(grep -c '^Del ' "$t/autoclean")"
"#;

/// Reports a pending reboot and finishes.
const REBOOT: &str = r#"if [ -e /var/run/reboot-required ]; then say reboot-required; fi
if [ -r /var/run/reboot-required.pkgs ]; then
  while IFS= read -r p || [ -n "$p" ]; do say reboot-pkg "$p"; done < /var/run/reboot-required.pkgs
fi
finish
"#;

/// The apt-get subcommand (with its own flags) a request runs, if any.
pub fn step(request: &Request) -> Option<String> {
    let options = &request.options;
    let mut words: Vec<&str> = match &request.action {
        Action::Nothing | Action::Upgrade(Upgrade::No) => return None,
        Action::Upgrade(Upgrade::Safe) => vec!["upgrade", "--with-new-pkgs"],
        Action::Upgrade(Upgrade::Dist) => vec!["dist-upgrade"],
        Action::SecurityUpgrade | Action::Baseline(_) => vec!["install", "--only-upgrade"],
        Action::Install {
            only_upgrade,
            fix_broken,
            ..
        } => {
            let mut words = vec!["install"];
            if *only_upgrade {
                words.push("--only-upgrade");
            }
            if *fix_broken {
                words.push("--fix-broken");
            }
            words
        }
        Action::Remove { .. } => vec!["remove"],
        Action::Autoremove => vec!["autoremove"],
    };
    let removes = matches!(request.action, Action::Remove { .. } | Action::Autoremove);
    if options.purge && removes {
        words.push("--purge");
    }
    if options.autoremove && !matches!(request.action, Action::Autoremove) {
        words.push("--auto-remove");
        if options.purge && !removes {
            words.push("--purge");
        }
    }
    if options.fail_on_autoremove && !removes {
        words.push("--no-remove");
    }
    Some(words.join(" "))
}

/// Options for every apt-get call, as shell words.
fn apt_options(options: &AptOptions) -> String {
    let mut words = Vec::new();
    for option in &options.dpkg_options {
        words.push("-o".to_string());
        words.push(quote(&format!("Dpkg::Options::=--{option}")));
    }
    if let Some(recommends) = options.install_recommends {
        words.push("-o".into());
        words.push(format!("APT::Install-Recommends={recommends}"));
    }
    if options.allow_unauthenticated {
        words.push("--allow-unauthenticated".into());
    }
    if options.allow_downgrade {
        words.push("--allow-downgrades".into());
    }
    if options.allow_change_held_packages {
        words.push("--allow-change-held-packages".into());
    }
    if let Some(release) = &options.default_release {
        words.push("-t".into());
        words.push(quote(release));
    }
    words.join(" ")
}

/// `case "$os" in ...`: the baseline's packages of the host's release as `set --` words, and
/// a fatal `baseline-os` for a release the baseline does not have.
fn baseline_cases(baseline: &Baseline) -> String {
    let mut text = String::from("case $os in\n");
    for (os, system) in &baseline.systems {
        let words: Vec<String> = system
            .packages
            .iter()
            .flat_map(|(name, version)| [quote(name), quote(version)])
            .collect();
        text.push_str(&format!("  {}) set -- {} ;;\n", quote(os), words.join(" ")));
    }
    text.push_str("  *) fatal baseline-os \"$os\" ;;\nesac\n");
    text
}

/// Builds the whole script for a request (with the baseline an [`Action::Baseline`] names);
/// `check` simulates only.
pub fn build(request: &Request, baseline: Option<&Baseline>, check: bool) -> String {
    let flag = |on: bool| if on { "1" } else { "0" };
    let (only_upgrade, selects) = match &request.action {
        Action::Install {
            only_upgrade,
            packages,
            fix_broken,
            ..
        } => (*only_upgrade, !(*fix_broken && packages.is_empty())),
        Action::Remove { .. } | Action::SecurityUpgrade | Action::Baseline(_) => (false, true),
        _ => (false, false),
    };
    let exclude: Vec<String> = request
        .exclude
        .iter()
        .map(|spec| spec.name.clone())
        .collect();
    let mut script = String::with_capacity(8192);
    script.push_str(PRELUDE);
    script.push_str(&format!(
        "lock_timeout={}\ncheck={}\nonly_upgrade={}\npurge={}\nkeep_holds={}\nexclude={}\n",
        request.lock_timeout,
        flag(check),
        flag(only_upgrade),
        flag(request.options.purge),
        flag(request.keep_holds),
        quote(&exclude.join(" ")),
    ));
    script.push_str(HELPERS);
    // The release key baselines are kept under.
    script.push_str(crate::baseline::RELEASE_KEY_SH);
    script.push_str("say os \"$os\"\n");
    script.push_str(&format!(
        "apt_do() {{\n  if [ -s \"$t/preferences\" ]; then\n    \
         aptget -o Dir::Etc::Preferences=\"$t/preferences\" {options} \"$@\"\n  else\n    \
         aptget {options} \"$@\"\n  fi\n}}\n",
        options = apt_options(&request.options),
    ));
    if let Some(cache) = &request.cache {
        script.push_str(&format!(
            "valid_for={}\nretries={}\nmax_delay={}\n",
            cache.valid_for, cache.retries, cache.max_delay
        ));
        script.push_str(UPDATE);
    }
    script.push_str("say cache-time \"$(cache_time)\"\n");
    if request.clean {
        script.push_str(CLEAN);
    }
    if let Some(step) = step(request) {
        script.push_str(FREEZE);
        match &request.action {
            Action::SecurityUpgrade => script.push_str(SECURITY),
            Action::Baseline(_) => {
                if let Some(baseline) = baseline {
                    script.push_str(&baseline_cases(baseline));
                }
                script.push_str(BASELINE);
            }
            Action::Install {
                packages, latest, ..
            } => {
                for spec in packages {
                    let line = match (latest, &spec.version) {
                        (true, _) => format!("latest {}\n", quote(&spec.name)),
                        (false, Some(version)) => format!(
                            "present {} {} {}\n",
                            quote(&spec.to_string()),
                            quote(&spec.name),
                            quote(version)
                        ),
                        (false, None) => {
                            format!("present {} {}\n", quote(&spec.name), quote(&spec.name))
                        }
                    };
                    script.push_str(&line);
                }
            }
            Action::Remove { packages } => {
                for spec in packages {
                    script.push_str(&format!("absent {}\n", quote(&spec.name)));
                }
            }
            _ => {}
        }
        if let Some(approval) = &request.approval {
            if !matches!(request.action, Action::Baseline(_)) {
                script.push_str(&approval.shell_vars());
                let want = if matches!(request.action, Action::Upgrade(_)) {
                    "want='*'\n"
                } else {
                    "want=$sel\n"
                };
                script.push_str(want);
                script.push_str(APPROVAL);
            }
        }
        script.push_str(&format!("step={}\n", quote(&step)));
        if selects {
            script.push_str("if [ -n \"$sel\" ]; then\n");
            script.push_str(STEP);
            script.push_str("fi\n");
        } else {
            script.push_str(STEP);
        }
    }
    if request.autoclean {
        script.push_str(AUTOCLEAN);
    }
    script.push_str(REBOOT);
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;
    use crate::vars;

    fn request(json: serde_json::Value) -> Request {
        args::parse::<Request>(&vars::from_json(&json)).expect("valid request")
    }

    /// `sh -n`: the script parses as POSIX shell (dash, Debian's /bin/sh).
    fn assert_parses(script: &str) {
        let output = std::process::Command::new("/bin/sh")
            .arg("-n")
            .arg("-c")
            .arg(script)
            .output()
            .expect("run /bin/sh");
        assert!(
            output.status.success(),
            "{}\n{script}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn every_kind_of_request_builds_a_script_sh_accepts() {
        for json in [
            serde_json::json!({"upgrade": "dist", "update_cache": true, "exclude": ["a1", "b2"]}),
            serde_json::json!({"upgrade": "safe", "autoremove": true, "purge": true}),
            serde_json::json!({"security_only": true, "cache_valid_time": 3600}),
            serde_json::json!({"upgrade": "dist", "approve": {"security": "0d", "other": "7d"}, "reject": ["linux-*"]}),
            serde_json::json!({"security_only": true, "approve": {"other": "1d"}}),
            serde_json::json!({"name": "curl", "state": "latest", "reject": ["curl"]}),
            serde_json::json!({"name": ["curl", "vim=2:9.0-1"], "install_recommends": false}),
            serde_json::json!({"name": "curl", "state": "latest", "only_upgrade": true}),
            serde_json::json!({"name": "curl", "state": "absent", "purge": true}),
            serde_json::json!({"state": "fixed"}),
            serde_json::json!({"autoremove": true}),
            serde_json::json!({"update_cache": true}),
            serde_json::json!({"upgrade": "dist", "default_release": "bookworm-backports"}),
            serde_json::json!({"clean": true}),
            serde_json::json!({"upgrade": "dist", "autoclean": "yes", "clean": "yes"}),
        ] {
            assert_parses(&build(&request(json.clone()), None, false));
            assert_parses(&build(&request(json), None, true));
        }
    }

    #[test]
    fn a_baseline_becomes_one_case_per_release_with_quoted_words() {
        let mut baseline = Baseline::new("r", "p", jiff::Timestamp::UNIX_EPOCH);
        baseline.add(
            "h",
            &crate::baseline::BaselineRecord {
                os: "debian-12".into(),
                packages: [("libc6".into(), "2.36-9+deb12u4".into())].into(),
            },
        );
        let request = request(serde_json::json!({"baseline": "latest"}));
        for check in [false, true] {
            let script = build(&request, Some(&baseline), check);
            assert_parses(&script);
            assert!(
                script.contains("  debian-12) set -- libc6 2.36-9+deb12u4 ;;\n"),
                "{script}"
            );
            assert!(script.contains("*) fatal baseline-os \"$os\" ;;"), "{script}");
        }
    }

    #[test]
    fn steps_follow_ansible_commands() {
        let step_of = |json| step(&request(json));
        assert_eq!(
            step_of(serde_json::json!({"upgrade": "dist", "autoremove": true})).as_deref(),
            Some("dist-upgrade --auto-remove")
        );
        assert_eq!(
            step_of(serde_json::json!({"upgrade": "yes"})).as_deref(),
            Some("upgrade --with-new-pkgs")
        );
        assert_eq!(
            step_of(serde_json::json!({"security_only": true})).as_deref(),
            Some("install --only-upgrade")
        );
        assert_eq!(
            step_of(serde_json::json!({"name": "x1", "state": "absent", "purge": true})).as_deref(),
            Some("remove --purge")
        );
        assert_eq!(
            step_of(serde_json::json!({"autoremove": true, "purge": true})).as_deref(),
            Some("autoremove --purge")
        );
        assert_eq!(step_of(serde_json::json!({"update_cache": true})), None);
    }

    #[test]
    fn task_words_are_quoted_and_checked_flags_are_set() {
        let script = build(
            &request(serde_json::json!({
                "name": "vim=2:9.0-1",
                "lock_timeout": 7,
                "dpkg_options": "force-confnew",
                "default_release": "bookworm-backports",
            })),
            None,
            true,
        );
        assert!(
            script.contains("present vim=2:9.0-1 vim 2:9.0-1\n"),
            "{script}"
        );
        assert!(script.contains("lock_timeout=7\ncheck=1\n"), "{script}");
        assert!(
            script.contains("-o Dpkg::Options::=--force-confnew"),
            "{script}"
        );
        assert!(script.contains("-t bookworm-backports"), "{script}");
        assert!(!script.contains("force-confold"), "{script}");
    }

    #[test]
    fn check_mode_and_real_runs_differ_only_in_the_check_flag() {
        let json = serde_json::json!({"upgrade": "dist", "update_cache": true});
        let real = build(&request(json.clone()), None, false);
        let check = build(&request(json), None, true);
        assert_eq!(real.replace("check=0", "check=1"), check);
    }
}
