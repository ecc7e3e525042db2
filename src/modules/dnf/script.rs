//! The POSIX sh script one `dnf`/`yum` call sends to the host: wait for the package
//! manager's lock, list what rpm has installed, plan each transaction with `--assumeno`,
//! apply it with `-y` unless in check mode, list again, and ask `needs-restarting -r`.
//!
//! Every word that comes from a playbook has been checked by [`super::args`] and is quoted
//! with [`crate::shell::quote`] all the same.

use super::args::{DnfArgs, Request, State};
use super::parse::MARK;
use crate::baseline::Baseline;
use crate::shell::quote;

/// `rpm -qa` in the `name arch [epoch:]version-release` form [`super::parse`] reads.
pub(crate) const RPM_QUERY: &str = "%{NAME} %{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n";

/// Builds the script for one call (with the baseline `request.baseline` names, found).
pub(crate) fn script(
    args: &DnfArgs,
    request: &Request,
    baseline: Option<&Baseline>,
    check_mode: bool,
) -> String {
    let root = args.installroot.as_deref().unwrap_or("/");
    let mut common = Vec::new();
    if let Some(root) = &args.installroot {
        common.push(format!("--installroot={}", quote(root)));
    }
    if let Some(conf) = &args.conf_file {
        common.push(format!("--config={}", quote(conf)));
    }
    if let Some(release) = &args.releasever {
        common.push(format!("--releasever={}", quote(release)));
    }
    // Plugins matter to `needs-restarting` too: it is a plugin, and others hook every run.
    for (flag, values) in [
        ("--enableplugin", &args.enable_plugin),
        ("--disableplugin", &args.disable_plugin),
    ] {
        for value in values {
            common.push(format!("{flag}={}", quote(value)));
        }
    }
    let mut options = common.clone();
    if args.disable_gpg_check {
        options.push("--nogpgcheck".into());
    }
    if !args.install_weak_deps {
        options.push("--setopt=install_weak_deps=False".into());
    }
    for (on, flag) in [
        (args.skip_broken, "--skip-broken"),
        (args.allowerasing, "--allowerasing"),
        (args.nobest, "--nobest"),
    ] {
        if on {
            options.push(flag.into());
        }
    }
    if let Some(excludes) = &args.disable_excludes {
        options.push(format!("--disableexcludes={}", quote(excludes)));
    }
    for (flag, values) in [
        ("--exclude", &args.exclude),
        ("--enablerepo", &args.enablerepo),
        ("--disablerepo", &args.disablerepo),
    ] {
        for value in values {
            options.push(format!("{flag}={}", quote(value)));
        }
    }
    let mut upgrade_filters = Vec::new();
    if args.security {
        upgrade_filters.push("--security");
    }
    if args.bugfix {
        upgrade_filters.push("--bugfix");
    }
    let names: Vec<String> = request.names.iter().map(|n| quote(n)).collect();
    let mut transactions = if request.cache_only {
        String::new()
    } else if let Some(baseline) = baseline {
        baseline_upgrade(baseline)
    } else {
        match request.state {
            State::Present => format!("txn install -- {}\n", names.join(" ")),
            State::Absent => format!("txn remove -- {}\n", names.join(" ")),
            State::Latest if request.names.iter().any(|n| n == "*") => {
                format!("txn upgrade {}\n", upgrade_filters.join(" "))
            }
            State::Latest => latest(&names, args.update_only, &upgrade_filters),
        }
    };
    if request.autoremove {
        transactions.push_str("txn autoremove\n");
    }
    let cache = if args.update_cache {
        format!(
            "out=$($pm $opts makecache 2>&1); rc=$?\n\
             echo \"{MARK}cache makecache $rc\"; printf '%s\\n' \"$out\"; echo '{MARK}end'\n\
             [ $rc = 0 ] || exit 0\n"
        )
    } else {
        String::new()
    };
    format!(
        "LC_ALL=C; export LC_ALL\n\
         echo '{MARK}start'\n\
         root={root}\n\
         if command -v dnf >/dev/null 2>&1; then pm=dnf\n\
         elif command -v yum >/dev/null 2>&1; then pm=yum\n\
         else echo '{MARK}nopm'; exit 0; fi\n\
         echo \"{MARK}pm $pm\"\n\
         {release_key}\
         echo \"{MARK}os $os\"\n\
         waited=0\n\
         while :; do\n\
           held=\n\
           for f in \"$root/var/lib/dnf/rpmdb_lock.pid\" \"$root/var/cache/dnf/metadata_lock.pid\" \
                    \"$root/var/cache/dnf/download_lock.pid\" \"$root/var/run/yum.pid\"; do\n\
             [ -f \"$f\" ] || continue\n\
             p=$(cat \"$f\" 2>/dev/null); p=${{p%%[!0-9]*}}\n\
             [ -n \"$p\" ] && [ \"$p\" != $$ ] && [ -d \"/proc/$p\" ] && {{ held=$p; break; }}\n\
           done\n\
           [ -z \"$held\" ] && break\n\
           if [ $waited -ge {lock_timeout} ]; then echo \"{MARK}locked $held $waited\"; exit 0; fi\n\
           sleep 1; waited=$((waited + 1))\n\
         done\n\
         base={common}\n\
         opts={options}\n\
         listed() {{ echo \"{MARK}$1\"; rpm --root \"$root\" -qa --qf {query}; echo '{MARK}end'; }}\n\
         listed before\n\
         applied=0\n\
         txn() {{\n\
           verb=$1; shift\n\
           out=$(eval \"\\$pm $opts --assumeno $verb \\\"\\$@\\\"\" 2>&1 </dev/null); rc=$?\n\
           echo \"{MARK}plan $verb $rc\"; printf '%s\\n' \"$out\"; echo '{MARK}end'\n\
           case $out in *'Transaction Summary'*) ;; *) return;; esac\n\
           [ {check} = 1 ] && return\n\
           out=$(eval \"\\$pm $opts -y $verb \\\"\\$@\\\"\" 2>&1 </dev/null); rc=$?\n\
           echo \"{MARK}apply $verb $rc\"; printf '%s\\n' \"$out\"; echo '{MARK}end'\n\
           applied=1\n\
         }}\n\
         {cache}\
         {approval}\
         {transactions}\
         [ $applied = 1 ] && listed after\n\
         if eval \"$pm $base needs-restarting --help\" >/dev/null 2>&1; then\n\
           eval \"$pm $base needs-restarting -r\" >/dev/null 2>&1 </dev/null; echo \"{MARK}reboot $? $pm\"\n\
         elif command -v needs-restarting >/dev/null 2>&1 && [ \"$root\" = / ]; then\n\
           needs-restarting -r >/dev/null 2>&1 </dev/null; echo \"{MARK}reboot $? needs-restarting\"\n\
         else echo '{MARK}reboot none'; fi\n",
        root = quote(root),
        release_key = crate::baseline::RELEASE_KEY_SH,
        lock_timeout = args.lock_timeout,
        common = quote(&common.join(" ")),
        options = quote(&options.join(" ")),
        query = quote(RPM_QUERY),
        check = u8::from(check_mode),
        approval = approval_block(request),
    )
}

/// `approve`/`reject`: each upgrade candidate (`repoquery --upgrades --latest-limit 1`) of the
/// wanted packages that is rejected, or younger than its delay, is reported and excluded by its
/// NEVRA (`--exclude=name-version-release.arch`, added to `$opts`), so dnf falls back to an older
/// candidate — judged in turn, at most eight rounds. Its publication date is the earliest
/// `issued` date of the advisories that carry it (`updateinfo list --updates -v`), and it is a
/// security update when one of them is; without an advisory, its build time, as an `other`
/// update. A date that cannot be read: held back, reported with the date unknown. A rejected
/// package is excluded by name (every version).
const APPROVAL: &str = r#"set -f
now=$(date +%s)
round=0
while [ $round -lt 8 ]; do
  round=$((round + 1))
  cands=$(eval "\$pm $opts -q repoquery --upgrades --latest-limit 1 --qf '%{name} %{evr} %{name}-%{version}-%{release}.%{arch} %{buildtime}'" 2>/dev/null </dev/null)
  advs=$(eval "\$pm $opts -v updateinfo list --updates" 2>/dev/null </dev/null | awk 'NF >= 5 && $4 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/ { print $3, (($2 ~ /Sec\.$/ || $2 == "security") ? 1 : 0), $4 " " $5 }')
  more=0
  while read -r n evr nevra bt; do
    [ -n "$n" ] || continue
    hit=0; for w in $want; do case $n in $w) hit=1; break ;; esac; done
    [ $hit = 1 ] || continue
    r=; for g in $reject; do case $n in $g) r=$g; break ;; esac; done
    if [ -n "$r" ]; then
      echo "__MARK__held-back $n $evr rejected $r"
      # Every version of a rejected package: excluded by name.
      nevra=$n
    else
      info=$(printf '%s\n' "$advs" | awk -v k="$nevra" '$1 == k { if ($2 == 1) s = 1; t = $3 " " $4; if (min == "" || t < min) min = t } END { if (min != "") print s + 0, min }')
      if [ -n "$info" ]; then s=${info%% *}; d=${info#* }; else s=0; d=$bt; fi
      pub=$(date -d "$d" +%s 2>/dev/null) || pub=-
      if [ "$s" = 1 ]; then delay=$approve_security; class=security; else delay=$approve_other; class=other; fi
      [ "$delay" -lt 0 ] && continue
      if [ "$pub" = - ]; then
        echo "__MARK__held-back $n $evr unapproved $class - -"
      elif [ "$now" -lt $((pub + delay)) ]; then
        echo "__MARK__held-back $n $evr unapproved $class $pub $((pub + delay))"
      else
        continue
      fi
    fi
    case $nevra in *[!A-Za-z0-9._+~^:-]*) continue ;; esac
    opts="$opts --exclude=$nevra"
    more=1
  done <<EOF
$cands
EOF
  [ $more = 1 ] || break
done
set +f
"#;

/// `baseline`: for the host's release, each installed package older than the baseline's
/// `[epoch:]version-release` (compared by rpm's own `rpm.vercmp`) is upgraded to exactly that
/// `name-[epoch:]version-release` in one transaction; newer ones are reported, never
/// downgraded. A release the baseline does not have is reported and nothing runs.
fn baseline_upgrade(baseline: &Baseline) -> String {
    let mut script = format!(
        "wanted() {{\n  \
           have=$(rpm --root \"$root\" -q --qf '%|EPOCH?{{%{{EPOCH}}:}}:{{}}|%{{VERSION}}-%{{RELEASE}}' -- \"$1\" 2>/dev/null) || return 1\n  \
           [ \"$have\" = \"$2\" ] && return 1\n  \
           c=$(rpm --eval \"%{{lua: print(rpm.vercmp('$have', '$2'))}}\" 2>/dev/null)\n  \
           if [ \"$c\" = 1 ]; then echo \"{MARK}baseline-newer $1 $have $2\"; return 1; fi\n  \
           return 0\n\
         }}\n\
         set --\n\
         case $os in\n"
    );
    for (os, system) in &baseline.systems {
        script.push_str(&format!("  {})\n", quote(os)));
        for (name, version) in &system.packages {
            let spec = format!("{name}-{version}");
            script.push_str(&format!(
                "    wanted {} {} && set -- \"$@\" {}\n",
                quote(name),
                quote(version),
                quote(&spec)
            ));
        }
        script.push_str("    ;;\n");
    }
    script.push_str(&format!(
        "  *) echo \"{MARK}baseline-os $os\" ;;\nesac\n[ $# -gt 0 ] && txn upgrade -- \"$@\"\n"
    ));
    script
}

/// The `approve`/`reject` block for a request that upgrades from the repositories.
fn approval_block(request: &Request) -> String {
    match &request.approval {
        Some(approval) if request.baseline.is_none() && !request.cache_only => format!(
            "{}want={}\n{}",
            approval.shell_vars(),
            quote(&request.names.join(" ")),
            APPROVAL.replace("__MARK__", MARK)
        ),
        _ => String::new(),
    }
}

/// `state: latest` for named packages: upgrade those installed, install the rest (unless
/// `update_only`), as two transactions because dnf's `install` leaves an installed package at
/// its version.
fn latest(names: &[String], update_only: bool, filters: &[&str]) -> String {
    let mut script = String::from("set --\nmissing=\n");
    for name in names {
        script.push_str(&format!(
            "if rpm --root \"$root\" -q --quiet -- {name} || rpm --root \"$root\" -q --quiet --whatprovides -- {name}; \
             then set -- \"$@\" {name}; else missing=\"$missing {name}\"; fi\n",
            name = name,
        ));
    }
    if !update_only {
        script.push_str("[ -n \"$missing\" ] && eval \"txn install -- $missing\"\n");
    }
    script.push_str(&format!(
        "[ $# -gt 0 ] && txn upgrade {} -- \"$@\"\n",
        filters.join(" ")
    ));
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;

    fn built(json: serde_json::Value, check_mode: bool) -> String {
        let args: DnfArgs = args::parse(&crate::vars::from_json(&json)).expect("valid args");
        let request = args.request().expect("valid request");
        script(&args, &request, None, check_mode)
    }

    #[test]
    fn every_shape_of_script_is_valid_sh() {
        let root = "/tmp/it's a root";
        for (json, check_mode) in [
            (serde_json::json!({"name": "a", "installroot": root}), false),
            (serde_json::json!({"name": ["a", "b*"], "state": "latest"}), true),
            (
                serde_json::json!({"name": "*", "state": "latest", "security": true,
                                   "bugfix": true, "exclude": ["k*", "x"]}),
                false,
            ),
            (
                serde_json::json!({"name": "a", "state": "latest", "update_only": true,
                                   "update_cache": true, "enablerepo": "e", "disablerepo": "*",
                                   "conf_file": "/etc/my dnf.conf", "releasever": "9"}),
                false,
            ),
            (serde_json::json!({"name": "a", "state": "absent"}), true),
            (serde_json::json!({"update_cache": true}), false),
        ] {
            let text = built(json.clone(), check_mode);
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", &text])
                .status()
                .expect("run sh -n");
            assert!(status.success(), "{json}:\n{text}");
        }
    }

    #[test]
    fn options_are_quoted_once_for_eval_and_check_mode_never_applies() {
        let text = built(
            serde_json::json!({"name": "a", "installroot": "/r oot", "exclude": "k*"}),
            true,
        );
        assert!(text.contains("root='/r oot'"), "{text}");
        assert!(
            text.contains(r#"opts='--installroot='"'"'/r oot'"'"' --exclude='"'"'k*'"'"''"#),
            "{text}"
        );
        assert!(text.contains("[ 1 = 1 ] && return"), "{text}");
        assert!(text.contains("txn install -- a\n"), "{text}");
        assert!(!built(serde_json::json!({"name": "a"}), false).contains("[ 1 = 1 ]"));
    }
}
