//! The `service`/`systemd` and `needrestart` modules on this machine, reached over the SSH
//! fleet. There is no systemd as PID 1 here, so `service` takes its SysV path against a real
//! init script installed under a throwaway name (removed again, links and all, on drop).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::fleet::Fleet;
use crate::support::Output;

/// A tiny SysV service: `sleep` in the background with a pidfile, and a count of its starts.
struct InitScript {
    name: String,
}

impl InitScript {
    fn install() -> Self {
        let name = format!("rpatch-test-svc-{}", std::process::id());
        let script = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          NAME
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: rpatch test daemon
### END INIT INFO
PIDFILE=/run/NAME.pid
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
case "$1" in
  start) running && exit 0
         nohup sleep 3600 </dev/null >/dev/null 2>&1 &
         echo $! > "$PIDFILE"; echo start >> /run/NAME.starts ;;
  stop) running && kill "$(cat "$PIDFILE")"; rm -f "$PIDFILE" ;;
  restart|force-reload) "$0" stop; "$0" start ;;
  status) running && exit 0; exit 3 ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
"#
        .replace("NAME", &name);
        let path = PathBuf::from("/etc/init.d").join(&name);
        std::fs::write(&path, script).expect("write init script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Self { name }
    }

    fn starts(&self) -> usize {
        std::fs::read_to_string(format!("/run/{}.starts", self.name))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }

    fn running(&self) -> bool {
        Command::new(format!("/etc/init.d/{}", self.name))
            .arg("status")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn start_links(&self) -> usize {
        ["rc2.d", "rc3.d", "rc4.d", "rc5.d"]
            .iter()
            .filter_map(|dir| std::fs::read_dir(format!("/etc/{dir}")).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                file.starts_with('S') && file.ends_with(&self.name)
            })
            .count()
    }
}

impl Drop for InitScript {
    fn drop(&mut self) {
        let script = format!("/etc/init.d/{}", self.name);
        let _ = Command::new(&script).arg("stop").status();
        let _ = Command::new("update-rc.d")
            .args(["-f", &self.name, "remove"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(&script);
        let _ = std::fs::remove_file(format!("/run/{}.starts", self.name));
        let _ = std::fs::remove_file(format!("/run/{}.pid", self.name));
    }
}

/// The `host_result` events of one run, by task name (one host).
fn results(out: &Output) -> BTreeMap<String, serde_json::Value> {
    out.events()
        .into_iter()
        .filter(|e| e["event"] == "host_result")
        .map(|e| (e["task"].as_str().unwrap_or_default().to_string(), e))
        .collect()
}

#[test]
fn service_drives_a_sysv_init_script_idempotently() {
    let svc = InitScript::install();
    let fleet = Fleet::new().start();
    let play = r#"- hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: start
      service: name=NAME state=started
    - name: start again
      ansible.builtin.service: name=NAME state=started
    - name: stop in check mode
      service: name=NAME state=stopped
      check_mode: true
    - name: restart
      service: name=NAME state=restarted
    - name: enable
      systemd: {name: NAME, enabled: true}
    - name: enable again
      service: {name: NAME, enabled: true}
"#
    .replace("NAME", &svc.name);
    let out = fleet.project().playbook(&play).run(&["--json"]);
    out.expect_code(0);
    let r = results(&out);
    let status = |task: &str| r[task]["status"].as_str().unwrap_or_default().to_string();
    assert_eq!(status("start"), "changed", "{}", r["start"]);
    assert_eq!(r["start"]["result"]["state"], "started");
    assert_eq!(r["start"]["result"]["name"], svc.name.as_str());
    assert_eq!(status("start again"), "ok", "{}", r["start again"]);
    assert_eq!(status("stop in check mode"), "changed");
    assert_eq!(status("restart"), "changed");
    assert_eq!(
        svc.starts(),
        2,
        "started once, restarted once; check mode stopped nothing"
    );
    assert!(svc.running());
    assert_eq!(status("enable"), "changed", "{}", r["enable"]);
    assert_eq!(r["enable"]["result"]["enabled"], true);
    assert_eq!(svc.start_links(), 4, "S links in rc2.d..rc5.d");
    assert_eq!(status("enable again"), "ok", "{}", r["enable again"]);

    let stop = r#"- hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: stop
      service: name=NAME state=stopped enabled=false
    - name: stop again
      service: name=NAME state=stopped enabled=false
"#
    .replace("NAME", &svc.name);
    let out = fleet.project().playbook(&stop).run(&["--json"]);
    out.expect_code(0);
    let r = results(&out);
    assert_eq!(r["stop"]["status"], "changed", "{}", r["stop"]);
    assert_eq!(r["stop"]["result"]["state"], "stopped");
    assert_eq!(r["stop"]["result"]["enabled"], false);
    assert_eq!(r["stop again"]["status"], "ok", "{}", r["stop again"]);
    assert!(!svc.running());
    assert_eq!(svc.start_links(), 0);
}

#[test]
fn service_refuses_odd_names_before_connecting() {
    let fleet = Fleet::new().start();
    let marker = fleet.dir().join("pwned");
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: odd\n      \
         service:\n        name: \"x; touch {}\"\n        state: started\n",
        marker.display()
    );
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(4);
    assert!(
        out.stderr.contains("is not a valid service name"),
        "{}",
        out.stderr
    );
    assert!(!marker.exists());
    // Templated, the name is only known on the host: refused there, still never run.
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n    n: \"x; touch {}\"\n  tasks:\n    \
         - name: odd\n      service:\n        name: \"{{{{ n }}}}\"\n        state: started\n",
        marker.display()
    );
    let out = fleet.project().playbook(&play).run(&["--json"]);
    out.expect_code(2);
    let r = results(&out);
    let msg = r["odd"]["result"]["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("is not a valid service name"), "{}", r["odd"]);
    assert!(!marker.exists());
}

#[test]
fn service_fails_clearly_on_a_missing_service() {
    let fleet = Fleet::new().start();
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: missing\n      \
                service: name=rpatch-no-such-svc state=started\n";
    let out = fleet.project().playbook(play).run(&["--json"]);
    out.expect_code(2);
    let r = results(&out);
    assert_eq!(r["missing"]["status"], "failed");
    let msg = r["missing"]["result"]["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("Could not find the requested service rpatch-no-such-svc"),
        "{msg}"
    );
}

/// Debian's needrestart, installed if missing (a test prerequisite, like sshd for the fleet).
fn needrestart() -> &'static str {
    let path = "/usr/sbin/needrestart";
    if !std::path::Path::new(path).exists() {
        let status = Command::new("apt-get")
            .args(["install", "-y", "needrestart"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "needrestart is missing and `apt-get install -y needrestart` failed"
        );
    }
    path
}

#[test]
fn needrestart_reports_this_hosts_real_batch_output() {
    let needrestart = needrestart();
    let direct = Command::new(needrestart)
        .args(["-b", "-r", "l"])
        .stderr(Stdio::null())
        .output()
        .expect("run needrestart");
    let direct = String::from_utf8_lossy(&direct.stdout).into_owned();
    let ksta: u64 = direct
        .lines()
        .find_map(|line| line.strip_prefix("NEEDRESTART-KSTA:"))
        .and_then(|value| value.trim().parse().ok())
        .expect("a KSTA line");
    let services = direct.matches("NEEDRESTART-SVC:").count();
    let fleet = Fleet::new().start();
    let play = "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    \
                - name: list\n      needrestart:\n        exclude: ['*']\n    \
                - name: check\n      needrestart: {}\n      check_mode: true\n";
    let out = fleet.project().playbook(play).run(&["--json"]);
    out.expect_code(0);
    let r = results(&out);
    let list = &r["list"]["result"];
    assert_eq!(
        r["list"]["status"], "ok",
        "everything is excluded: {}",
        r["list"]
    );
    assert_eq!(list["kernel_status"].as_u64(), Some(ksta), "{list}");
    assert_eq!(list["reboot_required"], ksta >= 2);
    assert_eq!(list["restarted"], serde_json::json!([]));
    assert_eq!(list["excluded"].as_array().map(Vec::len), Some(services));
    assert!(list["needrestart_version"].is_string(), "{list}");
    let check = &r["check"]["result"];
    assert_eq!(check["restarted"].as_array().map(Vec::len), Some(services));
}
