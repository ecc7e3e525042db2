//! `setup`: gather facts about the host (`gather_facts: true`) in one remote round trip.
//!
//! A small POSIX sh script prints `key=value` lines (uname, os-release, id, date, package
//! managers, the default IPv4 route); they are mapped here to Ansible's fact names and
//! spellings (`ansible_distribution: RedHat`, `ansible_os_family: Debian`, ...).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{ExecRequest, ExitStatus};
use crate::vars::{self, Value};

/// Arguments of `setup`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupArgs {
    /// Accepted for compatibility: rpatch always gathers its one small subset.
    #[serde(default)]
    gather_subset: Option<Json>,
    /// Only return facts whose names match these shell-style patterns (`ansible_dist*`).
    #[serde(default)]
    filter: Option<Patterns>,
    /// Give up on the host after this many seconds.
    #[serde(default = "ten", deserialize_with = "lenient::whole")]
    gather_timeout: u64,
}

fn ten() -> u64 {
    10
}

/// One pattern or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Patterns {
    One(String),
    Many(Vec<String>),
}

impl Patterns {
    fn matches(&self, name: &str) -> bool {
        match self {
            Self::One(pattern) => pattern.is_empty() || glob(pattern, name),
            Self::Many(patterns) => patterns.is_empty() || patterns.iter().any(|p| glob(p, name)),
        }
    }
}

/// Shell-style matching with `*` and `?`, as Python's `fnmatch` does for fact names.
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Prints one `key=value` line per fact source; values never span lines.
const SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
kv() { printf '%s=%s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
kv system "$(uname -s 2>/dev/null)"
kv nodename "$(uname -n 2>/dev/null)"
kv kernel "$(uname -r 2>/dev/null)"
kv kernel_version "$(uname -v 2>/dev/null)"
kv machine "$(uname -m 2>/dev/null)"
if command -v timeout >/dev/null 2>&1; then kv fqdn "$(timeout 5 hostname -f 2>/dev/null)"
else kv fqdn "$(hostname -f 2>/dev/null)"; fi
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    grep -E '^(ID|ID_LIKE|NAME|VERSION|VERSION_ID|VERSION_CODENAME|UBUNTU_CODENAME|PRETTY_NAME)=' "$f" | sed 's/^/os_/'
    break
  fi
done
[ -r /etc/debian_version ] && kv debian_version "$(head -n 1 /etc/debian_version)"
mgrs=
for m in apt-get dnf5 dnf yum zypper apk pacman; do
  command -v "$m" >/dev/null 2>&1 && mgrs="$mgrs $m"
done
kv pkg_mgrs "$mgrs"
kv user_id "$(id -un 2>/dev/null)"
kv user_uid "$(id -u 2>/dev/null)"
kv user_gid "$(id -g 2>/dev/null)"
kv date "$(date '+%Y-%m-%d %H:%M:%S %s %Z %z %A %u')"
kv utc "$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
if [ -e /var/run/reboot-required ]; then kv reboot_required 1; else kv reboot_required 0; fi
command -v ip >/dev/null 2>&1 && kv route4 "$(ip -4 route get 8.8.8.8 2>/dev/null | head -n 1)"
kv vcpus "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
kv memtotal_kb "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null)"
if [ -d /run/systemd/system ]; then kv service_mgr systemd
else kv service_mgr "$(cat /proc/1/comm 2>/dev/null)"; fi
{ env -0 2>/dev/null || env | tr '\n' '\0'; } | tr '\n\0' ' \n' |
  sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=/env_\1=/p'
echo end=1
"#;

/// `setup`: gather facts about the host.
pub(crate) struct Setup;

#[async_trait]
impl Module for Setup {
    fn names(&self) -> &'static [&'static str] {
        &["setup", "ansible.builtin.setup", "ansible.legacy.setup"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<SetupArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// Gathers facts; never changes anything, so it runs the same in check mode.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: SetupArgs = args::parse(args)?;
    let _accepted = &args.gather_subset;
    let mut request = ExecRequest::new(SCRIPT);
    request.timeout = Some(Duration::from_secs(args.gather_timeout.max(1) + 10));
    let output = ctx.exec_request(request).await?;
    if output.status == ExitStatus::TimedOut {
        return Ok(ModuleResult::failed(format!(
            "fact gathering timed out after {} seconds",
            args.gather_timeout.max(1) + 10
        )));
    }
    let facts = match facts_from_output(&output.stdout_text()) {
        Ok(facts) => facts,
        Err(why) => {
            let stderr = output.stderr_text();
            return Ok(ModuleResult::failed(format!("{why}: {}", stderr.trim())));
        }
    };
    let facts = facts
        .into_iter()
        .filter(|(name, _)| args.filter.as_ref().is_none_or(|f| f.matches(name)))
        .map(|(name, value)| (name, vars::from_json(&value)))
        .collect();
    Ok(ModuleResult {
        facts: Some(facts),
        ..ModuleResult::ok()
    })
}

/// Maps the script's output to Ansible-named facts.
fn facts_from_output(stdout: &str) -> Result<Map<String, Json>, String> {
    let mut raw: HashMap<&str, &str> = HashMap::new();
    for line in stdout.lines() {
        if let Some((key, value)) = line.split_once('=') {
            raw.entry(key).or_insert(value);
        }
    }
    if raw.get("end") != Some(&"1") {
        return Err("fact gathering did not complete on the host".into());
    }
    let get = |key: &str| raw.get(key).map(|v| v.trim()).unwrap_or("");
    let os = |key: &str| {
        raw.get(format!("os_{key}").as_str())
            .map_or_else(String::new, |v| unquote(v))
    };

    let system = get("system");
    let nodename = get("nodename");
    let fqdn = match get("fqdn") {
        "" => nodename,
        fqdn => fqdn,
    };
    let machine = get("machine");
    let (distribution, version) = if system == "Linux" {
        let distribution = distribution_name(&os("ID"));
        let version = match (distribution.as_str(), get("debian_version")) {
            ("Debian", full) if full.starts_with(|c: char| c.is_ascii_digit()) => full.to_string(),
            _ => os("VERSION_ID"),
        };
        (distribution, version)
    } else {
        (system.to_string(), get("kernel").to_string())
    };
    let family = os_family(&distribution, &os("ID_LIKE"));
    let release = [
        os("VERSION_CODENAME"),
        os("UBUNTU_CODENAME"),
        parenthesised(&os("VERSION")),
    ]
    .into_iter()
    .find(|release| !release.is_empty())
    .unwrap_or_else(|| "NA".into());
    let major = version.split('.').next().unwrap_or("").to_string();
    let pkg_mgrs: Vec<&str> = get("pkg_mgrs").split_whitespace().collect();

    let mut facts = Map::new();
    let mut put = |name: &str, value: Json| {
        facts.insert(name.to_string(), value);
    };
    put("ansible_system", json!(system));
    put(
        "ansible_hostname",
        json!(nodename.split('.').next().unwrap_or(nodename)),
    );
    put("ansible_nodename", json!(nodename));
    put("ansible_fqdn", json!(fqdn));
    put(
        "ansible_domain",
        json!(fqdn.split_once('.').map_or("", |(_, domain)| domain)),
    );
    put("ansible_kernel", json!(get("kernel")));
    put("ansible_kernel_version", json!(get("kernel_version")));
    put("ansible_machine", json!(machine));
    put("ansible_architecture", json!(architecture(machine)));
    put("ansible_distribution", json!(distribution));
    put("ansible_distribution_version", json!(version));
    put("ansible_distribution_major_version", json!(major));
    put("ansible_distribution_release", json!(release));
    put("ansible_os_family", json!(family));
    put(
        "ansible_pkg_mgr",
        json!(pkg_mgr(&family, &distribution, &pkg_mgrs)),
    );
    put("ansible_service_mgr", json!(get("service_mgr")));
    put("ansible_user_id", json!(get("user_id")));
    if let Ok(uid) = get("user_uid").parse::<u64>() {
        put("ansible_user_uid", json!(uid));
    }
    if let Ok(gid) = get("user_gid").parse::<u64>() {
        put("ansible_user_gid", json!(gid));
    }
    if let Ok(vcpus) = get("vcpus").parse::<u64>() {
        put("ansible_processor_vcpus", json!(vcpus));
    }
    if let Ok(kb) = get("memtotal_kb").parse::<u64>() {
        put("ansible_memtotal_mb", json!(kb / 1024));
    }
    put("ansible_date_time", date_time(get("date"), get("utc")));
    let env: Map<String, Json> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("env_")?.split_once('='))
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    put("ansible_env", Json::Object(env));
    put("ansible_default_ipv4", default_ipv4(get("route4")));
    put(
        "rpatch_reboot_required",
        json!(get("reboot_required") == "1"),
    );
    Ok(facts)
}

/// An os-release value without its shell quoting.
pub(super) fn unquote(value: &str) -> String {
    let value = value.trim();
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '$' | '`'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `Plow` from `9.3 (Plow)`, as Ansible reports RHEL-style releases.
fn parenthesised(version: &str) -> String {
    version
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or_else(String::new, |(inside, _)| inside.trim().to_string())
}

/// Ansible's spelling of an os-release `ID`.
pub(super) fn distribution_name(id: &str) -> String {
    let known = match id {
        "" => "OtherLinux",
        "debian" => "Debian",
        "ubuntu" => "Ubuntu",
        "rhel" => "RedHat",
        "centos" => "CentOS",
        "rocky" => "Rocky",
        "almalinux" => "AlmaLinux",
        "fedora" => "Fedora",
        "ol" => "OracleLinux",
        "amzn" => "Amazon",
        "cloudlinux" => "CloudLinux",
        "scientific" => "Scientific",
        "sles" => "SLES",
        "sled" => "SLED",
        "sles_sap" => "SLES_SAP",
        "opensuse" => "openSUSE",
        "opensuse-leap" => "openSUSE Leap",
        "opensuse-tumbleweed" => "openSUSE Tumbleweed",
        "alpine" => "Alpine",
        "arch" => "Archlinux",
        "manjaro" => "Manjaro",
        "gentoo" => "Gentoo",
        "linuxmint" => "Linux Mint",
        "pop" => "Pop!_OS",
        "kali" => "Kali",
        "devuan" => "Devuan",
        "raspbian" => "Debian",
        other => {
            let mut chars = other.chars();
            return chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            });
        }
    };
    known.to_string()
}

/// Ansible's `ansible_os_family`, falling back on os-release `ID_LIKE`.
pub(super) fn os_family(distribution: &str, id_like: &str) -> String {
    let family = match distribution {
        "RedHat" | "Fedora" | "CentOS" | "Rocky" | "AlmaLinux" | "OracleLinux" | "Amazon"
        | "CloudLinux" | "Scientific" | "XenServer" => "RedHat",
        "Debian" | "Ubuntu" | "Linux Mint" | "Pop!_OS" | "Kali" | "Devuan" | "Raspbian" => "Debian",
        "SLES" | "SLED" | "SLES_SAP" | "openSUSE" | "openSUSE Leap" | "openSUSE Tumbleweed" => {
            "Suse"
        }
        "Alpine" => "Alpine",
        "Archlinux" | "Manjaro" => "Archlinux",
        "Gentoo" => "Gentoo",
        _ => {
            let like = id_like.split_whitespace().collect::<Vec<_>>();
            let has = |names: &[&str]| like.iter().any(|word| names.contains(word));
            if has(&["debian", "ubuntu"]) {
                "Debian"
            } else if has(&["rhel", "fedora", "centos"]) {
                "RedHat"
            } else if has(&["suse", "opensuse", "sles"]) {
                "Suse"
            } else if has(&["arch"]) {
                "Archlinux"
            } else {
                distribution
            }
        }
    };
    family.to_string()
}

/// The package manager Ansible would pick, from those present on the host.
fn pkg_mgr(family: &str, distribution: &str, present: &[&str]) -> String {
    let has = |name: &str| present.contains(&name);
    let preferred: &[&str] = match family {
        "Debian" => &["apt-get"],
        "RedHat" if distribution == "Fedora" => &["dnf5", "dnf", "yum"],
        "RedHat" => &["dnf", "yum"],
        "Suse" => &["zypper"],
        "Alpine" => &["apk"],
        "Archlinux" => &["pacman"],
        _ => &[],
    };
    let pick = preferred
        .iter()
        .find(|name| has(name))
        .or_else(|| present.first());
    match pick {
        Some(&"apt-get") => "apt".into(),
        Some(name) => name.to_string(),
        None => "unknown".into(),
    }
}

/// `i386` for any x86 32-bit machine, as Ansible reports it; the machine name otherwise.
fn architecture(machine: &str) -> &str {
    match machine {
        "i386" | "i486" | "i586" | "i686" => "i386",
        other => other,
    }
}

/// `ansible_date_time` from `date '+%Y-%m-%d %H:%M:%S %s %Z %z %A %u'` and the UTC ISO time.
fn date_time(local: &str, utc: &str) -> Json {
    let parts: Vec<&str> = local.split_whitespace().collect();
    let [date, time, epoch, tz, tz_offset, weekday, weekday_number] = parts[..] else {
        return json!({});
    };
    let mut ymd = date.splitn(3, '-');
    let mut hms = time.splitn(3, ':');
    json!({
        "date": date,
        "time": time,
        "year": ymd.next().unwrap_or(""),
        "month": ymd.next().unwrap_or(""),
        "day": ymd.next().unwrap_or(""),
        "hour": hms.next().unwrap_or(""),
        "minute": hms.next().unwrap_or(""),
        "second": hms.next().unwrap_or(""),
        "epoch": epoch,
        "epoch_int": epoch,
        "tz": tz,
        "tz_offset": tz_offset,
        "weekday": weekday,
        "weekday_number": weekday_number,
        "iso8601": utc,
    })
}

/// `ansible_default_ipv4` from `ip -4 route get 8.8.8.8` (a routing-table lookup, no traffic).
fn default_ipv4(route: &str) -> Json {
    let words: Vec<&str> = route.split_whitespace().collect();
    let after = |key: &str| {
        words
            .windows(2)
            .find(|pair| pair[0] == key)
            .map(|pair| pair[1])
    };
    let mut map = Map::new();
    if let Some(address) = after("src") {
        map.insert("address".into(), json!(address));
    }
    if let Some(gateway) = after("via") {
        map.insert("gateway".into(), json!(gateway));
    }
    if let Some(interface) = after("dev") {
        map.insert("interface".into(), json!(interface));
    }
    Json::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;

    async fn setup(args: serde_json::Value) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext {
            check_mode: true,
            ..ModuleContext::local(&templar, &scope)
        };
        run(&vars::from_json(&args), &ctx)
            .await
            .expect("valid args")
    }

    fn sh(command: &str) -> String {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .output()
            .expect("sh");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn fact(result: &ModuleResult, name: &str) -> Json {
        result
            .facts
            .as_ref()
            .and_then(|facts| facts.get(name))
            .map_or(Json::Null, vars::to_json)
    }

    #[tokio::test]
    async fn gathers_this_hosts_facts_without_changing_anything() {
        let result = setup(json!({})).await;
        assert!(!result.failed && !result.changed, "{result:?}");
        assert_eq!(fact(&result, "ansible_system"), json!(sh("uname -s")));
        assert_eq!(fact(&result, "ansible_kernel"), json!(sh("uname -r")));
        assert_eq!(fact(&result, "ansible_machine"), json!(sh("uname -m")));
        assert_eq!(fact(&result, "ansible_nodename"), json!(sh("uname -n")));
        assert_eq!(fact(&result, "ansible_user_id"), json!(sh("id -un")));
        // The environment of the shell the facts were gathered in, as `ansible_env`.
        assert_eq!(fact(&result, "ansible_env")["LC_ALL"], json!("C"));
        assert!(fact(&result, "ansible_env")["PATH"].is_string());
        let uid: u64 = sh("id -u").parse().expect("uid");
        assert_eq!(fact(&result, "ansible_user_uid"), json!(uid));
        let epoch: i64 = fact(&result, "ansible_date_time")["epoch"]
            .as_str()
            .and_then(|e| e.parse().ok())
            .expect("epoch");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        assert!((now - epoch).abs() < 60);
        assert!(fact(&result, "rpatch_reboot_required").is_boolean());
        assert!(fact(&result, "ansible_default_ipv4").is_object());
        assert!(fact(&result, "ansible_distribution").is_string());
        assert!(fact(&result, "ansible_pkg_mgr").is_string());
    }

    #[tokio::test]
    async fn filter_keeps_only_matching_facts() {
        let result =
            setup(json!({"filter": "ansible_distribution*", "gather_subset": ["!all"]})).await;
        let facts = result.facts.expect("facts");
        assert!(!facts.is_empty());
        assert!(facts
            .keys()
            .all(|name| name.starts_with("ansible_distribution")));
    }

    const BASE: &str = "system=Linux\nnodename=web1.example.com\nfqdn=web1.example.com\n\
        kernel=5.14.0-362.el9.x86_64\nkernel_version=#1 SMP\nmachine=x86_64\n\
        user_id=deploy\nuser_uid=1000\nuser_gid=1000\n\
        date=2024-03-01 12:34:56 1709296496 CET +0100 Friday 5\nutc=2024-03-01T11:34:56Z\n\
        route4=8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 1000\n\
        vcpus=8\nmemtotal_kb=16318412\nservice_mgr=systemd\n";

    fn facts_for(extra: &str) -> Map<String, Json> {
        facts_from_output(&format!("{BASE}{extra}end=1\n")).expect("facts")
    }

    #[test]
    fn rhel_maps_to_redhat_with_dnf_and_its_release_name() {
        let facts = facts_for(
            "os_ID=\"rhel\"\nos_ID_LIKE=\"fedora\"\nos_VERSION=\"9.3 (Plow)\"\n\
             os_VERSION_ID=\"9.3\"\npkg_mgrs= dnf yum\nreboot_required=0\n",
        );
        assert_eq!(facts["ansible_distribution"], "RedHat");
        assert_eq!(facts["ansible_os_family"], "RedHat");
        assert_eq!(facts["ansible_distribution_version"], "9.3");
        assert_eq!(facts["ansible_distribution_major_version"], "9");
        assert_eq!(facts["ansible_distribution_release"], "Plow");
        assert_eq!(facts["ansible_pkg_mgr"], "dnf");
        assert_eq!(facts["ansible_hostname"], "web1");
        assert_eq!(facts["ansible_domain"], "example.com");
        assert_eq!(facts["ansible_user_uid"], 1000);
        assert_eq!(facts["ansible_memtotal_mb"], 15935);
        assert_eq!(facts["ansible_processor_vcpus"], 8);
        assert_eq!(
            facts["ansible_default_ipv4"],
            json!({"address": "10.0.0.5", "gateway": "10.0.0.1", "interface": "eth0"})
        );
        assert_eq!(facts["ansible_date_time"]["date"], "2024-03-01");
        assert_eq!(facts["ansible_date_time"]["hour"], "12");
        assert_eq!(
            facts["ansible_date_time"]["iso8601"],
            "2024-03-01T11:34:56Z"
        );
        assert_eq!(facts["rpatch_reboot_required"], false);
    }

    #[test]
    fn debian_uses_the_full_point_release_and_apt() {
        let facts = facts_for(
            "os_ID=debian\nos_VERSION_ID=\"12\"\nos_VERSION_CODENAME=bookworm\n\
             debian_version=12.5\npkg_mgrs= apt-get\nreboot_required=1\n",
        );
        assert_eq!(facts["ansible_distribution"], "Debian");
        assert_eq!(facts["ansible_os_family"], "Debian");
        assert_eq!(facts["ansible_distribution_version"], "12.5");
        assert_eq!(facts["ansible_distribution_major_version"], "12");
        assert_eq!(facts["ansible_distribution_release"], "bookworm");
        assert_eq!(facts["ansible_pkg_mgr"], "apt");
        assert_eq!(facts["rpatch_reboot_required"], true);
    }

    #[test]
    fn ubuntu_ignores_debian_version_and_keeps_its_own() {
        let facts = facts_for(
            "os_ID=ubuntu\nos_ID_LIKE=debian\nos_VERSION_ID=\"22.04\"\n\
             os_VERSION_CODENAME=jammy\ndebian_version=bookworm/sid\npkg_mgrs= apt-get\n",
        );
        assert_eq!(facts["ansible_distribution"], "Ubuntu");
        assert_eq!(facts["ansible_distribution_version"], "22.04");
        assert_eq!(facts["ansible_distribution_major_version"], "22");
        assert_eq!(facts["ansible_distribution_release"], "jammy");
    }

    #[test]
    fn other_distributions_get_ansible_spellings_and_families() {
        let case = |id: &str, like: &str, mgrs: &str| {
            let facts = facts_for(&format!(
                "os_ID={id}\nos_ID_LIKE='{like}'\npkg_mgrs= {mgrs}\n"
            ));
            (
                facts["ansible_distribution"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                facts["ansible_os_family"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                facts["ansible_pkg_mgr"].as_str().unwrap_or("").to_string(),
            )
        };
        let owned = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            case("rocky", "rhel centos fedora", "dnf yum"),
            owned("Rocky", "RedHat", "dnf")
        );
        assert_eq!(
            case("almalinux", "rhel", "dnf"),
            owned("AlmaLinux", "RedHat", "dnf")
        );
        assert_eq!(
            case("centos", "rhel", "yum"),
            owned("CentOS", "RedHat", "yum")
        );
        assert_eq!(
            case("fedora", "", "dnf5 dnf"),
            owned("Fedora", "RedHat", "dnf5")
        );
        assert_eq!(
            case("sles", "suse", "zypper"),
            owned("SLES", "Suse", "zypper")
        );
        assert_eq!(
            case("opensuse-leap", "suse opensuse", "zypper"),
            owned("openSUSE Leap", "Suse", "zypper")
        );
        assert_eq!(case("alpine", "", "apk"), owned("Alpine", "Alpine", "apk"));
        assert_eq!(
            case("proxbox", "debian", "apt-get"),
            owned("Proxbox", "Debian", "apt")
        );
        assert_eq!(
            case("mystery", "", ""),
            owned("Mystery", "Mystery", "unknown")
        );
    }

    #[test]
    fn non_linux_systems_report_the_kernel_name() {
        let output = BASE.replace("system=Linux", "system=FreeBSD") + "end=1\n";
        let facts = facts_from_output(&output).expect("facts");
        assert_eq!(facts["ansible_distribution"], "FreeBSD");
        assert_eq!(facts["ansible_os_family"], "FreeBSD");
    }

    #[test]
    fn truncated_or_garbled_output_is_an_error_or_blank_not_a_panic() {
        assert!(facts_from_output("").is_err());
        assert!(facts_from_output("system=Linux\n").is_err());
        let facts = facts_from_output("user_uid=lots\ndate=garbage\nend=1\n").expect("facts");
        assert!(!facts.contains_key("ansible_user_uid"));
        assert_eq!(facts["ansible_date_time"], json!({}));
        assert_eq!(facts["ansible_distribution"], "");
    }

    #[test]
    fn os_release_values_are_unquoted() {
        assert_eq!(
            unquote("\"Debian GNU/Linux 12 (bookworm)\""),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(unquote("'single'"), "single");
        assert_eq!(unquote("bare"), "bare");
        assert_eq!(unquote(r#""a \"q\" \$x""#), r#"a "q" $x"#);
    }

    #[test]
    fn filter_patterns_are_shell_globs() {
        assert!(glob("ansible_*", "ansible_kernel"));
        assert!(glob("ansible_distribution*", "ansible_distribution"));
        assert!(glob("ansible_?ernel", "ansible_kernel"));
        assert!(!glob("ansible_dist*", "ansible_kernel"));
        assert!(glob("*", ""));
    }
}
