#!/usr/bin/python3
"""rpatch's fleet benchmark: rpatch vs ansible-playbook vs pyinfra vs plain OpenSSH.

Starts a loopback fleet of OpenSSH sshd processes (every host a distinct 127.88.x.y:port pair,
16 hosts per sshd), runs the same five-task playbook through each tool, and writes
bench/results/latest.{md,json}. Everything it starts is stopped by PID when it ends, also on
Ctrl-C. See bench/README.md. Run it as root through `bench/run`.

Internal sub-commands (used by the benchmark itself): `_reap CMD...` runs CMD as a child
subreaper and stops what CMD left behind (ansible's ssh ControlMasters) so their CPU time is
counted; `_openssh SPEC` is the OpenSSH ControlMaster reference driver.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
USER = "rpatch-bench"
HOME = Path("/home") / USER
BENCH_DIR = HOME / "bench"  # where every host writes its file (see playbook.yml)
HOSTS_PER_SSHD = 16  # sshd listens on at most 16 addresses
BASE_PORT = 22000
PINS = ["ansible-core==2.19.14", "pyinfra==3.10.0"]
# rpatch-channels: rpatch with its persistent remote shell off (a channel per command).
TOOLS = ["rpatch", "ansible", "pyinfra", "openssh", "rpatch-channels"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


def proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, cmdline) for every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry.name)] = (ppid, cmdline)
    return table


def descendants(pid: int, table=None) -> list[int]:
    table = table if table is not None else proc_table()
    children: dict[int, list[int]] = {}
    for child, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_pids(pids, grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL what is left after `grace` seconds."""
    pids = [p for p in set(pids) if p != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


# --------------------------------------------------------------------------- prerequisites


def apt_install(packages: list[str]) -> None:
    log(f"apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )


def prerequisites() -> None:
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it creates the login user and starts sshd processes)")
    need = {
        "/usr/sbin/sshd": "openssh-server",
        "/usr/bin/ssh": "openssh-client",
        "/usr/bin/ssh-keygen": "openssh-client",
        "/usr/bin/time": "time",
    }
    missing = sorted({pkg for path, pkg in need.items() if not Path(path).exists()})
    if subprocess.run(["/usr/bin/python3", "-c", "import ensurepip, venv"],
                      capture_output=True).returncode:
        missing.append("python3-venv")
    if missing:
        apt_install(sorted(set(missing)))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir


def ensure_user() -> bool:
    """A plain login account: /bin/sh, no start-up files, key login only. True when this
    run created it (and so removes it again with remove_user)."""
    created = subprocess.run(["id", USER], capture_output=True).returncode != 0
    if created:
        log(f"creating user {USER}")
        subprocess.run(["useradd", "-M", "-d", str(HOME), "-s", "/bin/sh", USER], check=True)
    # `*`: no password, but not locked (sshd without PAM refuses locked accounts).
    subprocess.run(["usermod", "-p", "*", USER], check=True)
    HOME.mkdir(mode=0o755, exist_ok=True)
    BENCH_DIR.mkdir(mode=0o755, exist_ok=True)
    shutil.chown(HOME, USER, USER)
    shutil.chown(BENCH_DIR, USER, USER)
    return created


def remove_user() -> None:
    """Leaves the machine as it was: the account ensure_user created and its home go."""
    log(f"removing user {USER}")
    subprocess.run(["userdel", USER], capture_output=True)
    shutil.rmtree(HOME, ignore_errors=True)


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"creating venv {venv}")
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    have = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True, text=True,
    ).stdout.lower().split()
    if not all(pin.lower() in have for pin in PINS):
        log(f"pip install {' '.join(PINS)} into {venv}")
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS],
            check=True,
        )
    return venv


def cargo() -> str:
    found = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    if not Path(found).exists():
        sys.exit("bench: cargo not found (install a Rust toolchain, or pass --rpatch BINARY)")
    return found


def build_rpatch() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    log(f"cargo build --release (target dir {target})")
    subprocess.run([cargo(), "build", "--release", "--quiet"], cwd=REPO, check=True)
    return target / "release" / "rpatch"


# --------------------------------------------------------------------------- the fleet


class Fleet:
    """sshd processes on 127.88.0.0/16, 16 hosts (address:port pairs) each, and the files
    that describe them: keys, known_hosts, inventories, ssh and ansible configs."""

    def __init__(self, size: int, venv: Path):
        self.size = size
        self.venv = venv
        self.dir = Path(tempfile.mkdtemp(prefix="rpatch-bench-"))
        os.chmod(self.dir, 0o755)  # sshd reads authorized_keys as the login user
        self.sshds: list[subprocess.Popen] = []
        self.hosts = []
        for i in range(size):
            self.hosts.append({
                "name": f"h{i + 1:04d}",
                "addr": f"127.88.{i // 250}.{i % 250 + 1}",
                "port": BASE_PORT + i // HOSTS_PER_SSHD,
            })

    @property
    def key(self) -> Path:
        return self.dir / "user_key"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    def start(self) -> None:
        d = self.dir
        for name in ("host_ed25519", "user_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rpatch-bench", "-f",
                 str(d / name)], check=True, stdin=subprocess.DEVNULL,
            )
        shutil.copy(d / "user_key.pub", d / "authorized_keys")
        os.chmod(d / "authorized_keys", 0o644)
        host_key = " ".join((d / "host_ed25519.pub").read_text().split()[:2])
        self.known_hosts.write_text(
            "".join(f"[{h['addr']}]:{h['port']} {host_key}\n" for h in self.hosts))
        self.ssh_config.write_text(
            "# OpenSSH client settings for the bench fleet (ansible and the reference).\n"
            f"Host *\n  User {USER}\n  IdentityFile {self.key}\n  IdentitiesOnly yes\n"
            "  IdentityAgent none\n"
            f"  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n  UpdateHostKeys no\n  BatchMode yes\n"
            "  LogLevel ERROR\n  ConnectTimeout 60\n")
        (d / "rpatch_ssh_config").write_text("# rpatch bench fleet: no options\n")

        for h in self.hosts:  # fail early and clearly if an address is taken
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as sshd does
                try:
                    s.bind((h["addr"], h["port"]))
                except OSError as e:
                    raise SystemExit(f"bench: {h['addr']}:{h['port']} is not free: {e}")

        for index in range(0, self.size, HOSTS_PER_SSHD):
            group = self.hosts[index:index + HOSTS_PER_SSHD]
            n = index // HOSTS_PER_SSHD
            conf = d / f"sshd_{n}.conf"
            conf.write_text(
                "".join(f"ListenAddress {h['addr']}:{h['port']}\n" for h in group)
                + f"HostKey {d}/host_ed25519\nPidFile none\n"
                f"AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n"
                "PubkeyAuthentication yes\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nPermitRootLogin no\n"
                f"AllowUsers {USER}\nUseDNS no\nPrintMotd no\nPrintLastLog no\n"
                "MaxStartups 4000\nMaxSessions 200\nLoginGraceTime 120\n"
                "X11Forwarding no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n"
                # One key exchange for every tool: OpenSSH 9.2's default sntrup761x25519
                # costs ~80 ms of client CPU per connection, which paramiko and russh do
                # not offer; curve25519 is what they all negotiate with each other.
                "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n")
            with open(d / f"sshd_{n}.log", "ab") as logf:
                self.sshds.append(subprocess.Popen(
                    ["/usr/sbin/sshd", "-D", "-e", "-f", str(conf)],
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True))
        deadline = time.monotonic() + 30
        for h in self.hosts:
            while True:
                try:
                    socket.create_connection((h["addr"], h["port"]), timeout=1).close()
                    break
                except OSError:
                    dead = [p for p in self.sshds if p.poll() is not None]
                    if dead or time.monotonic() > deadline:
                        logs = "".join(p.read_text() for p in d.glob("sshd_*.log"))
                        raise SystemExit(f"bench: sshd did not start listening:\n{logs}")
                    time.sleep(0.02)
        log(f"fleet of {self.size} hosts on {len(self.sshds)} sshd processes in {d}")

    def write_inventories(self, size: int) -> dict[str, Path]:
        hosts = self.hosts[:size]
        ini = self.dir / f"inventory_{size}.ini"
        ini.write_text("[fleet]\n" + "".join(
            f"{h['name']} ansible_host={h['addr']} ansible_port={h['port']} "
            f"ansible_user={USER} ansible_ssh_private_key_file={self.key}\n" for h in hosts))
        py = self.dir / f"inventory_{size}.py"
        data = [(h["name"], {
            "ssh_hostname": h["addr"], "ssh_port": h["port"], "ssh_user": USER,
            "ssh_key": str(self.key), "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False,
            "ssh_look_for_keys": False, "ssh_config_file": str(self.ssh_config),
        }) for h in hosts]
        py.write_text(f"hosts = {data!r}\n")
        spec = self.dir / f"openssh_{size}.json"
        spec.write_text(json.dumps({
            "hosts": hosts, "ssh_config": str(self.ssh_config),
            "bench_dir": str(BENCH_DIR), "control_dir": str(self.dir / "cm"),
        }))
        return {"ini": ini, "py": py, "openssh": spec}

    def stop(self) -> None:
        table = proc_table()
        pids = []
        for p in self.sshds:
            pids += descendants(p.pid, table) + [p.pid]
        # Anything else still naming our directory (e.g. a stray ssh ControlMaster).
        pids += [pid for pid, (_, cmd) in table.items() if str(self.dir) in cmd]
        kill_pids(pids)
        for p in self.sshds:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- measuring

RECAP = re.compile(
    r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def parse_time_v(text: str) -> dict:
    def field(name):
        m = re.search(rf"^\s*{re.escape(name)}: (.+)$", text, re.M)
        return m.group(1).strip() if m else None
    user = float(field("User time (seconds)") or 0)
    sys_ = float(field("System time (seconds)") or 0)
    rss_kb = int(field("Maximum resident set size (kbytes)") or 0)
    return {"user_s": user, "sys_s": sys_, "cpu_s": round(user + sys_, 3),
            "peak_rss_mb": round(rss_kb / 1024, 1)}


def recap_ok(output: str, size: int) -> tuple[bool, str]:
    rows = RECAP.findall(output)
    bad = [r[0] for r in rows if int(r[3]) or int(r[4])]
    if len(rows) != size:
        return False, f"recap lists {len(rows)} hosts, expected {size}"
    if bad:
        return False, f"{len(bad)} hosts failed or unreachable (e.g. {', '.join(bad[:5])})"
    short = [r[0] for r in rows if int(r[1]) < 5]
    if short:
        return False, f"{len(short)} hosts with ok<5 (e.g. {', '.join(short[:5])})"
    return True, f"{size} hosts ok=5 failed=0 unreachable=0"


def remote_files_ok(names: list[str]) -> tuple[bool, str]:
    """The copied files, checked directly (the fleet is this machine)."""
    missing = []
    for name in names:
        try:
            text = (BENCH_DIR / f"{name}.txt").read_text()
        except OSError:
            missing.append(name)
            continue
        if not text.startswith(f"host {name} kernel "):
            missing.append(name)
    if missing:
        return False, f"{len(missing)} hosts without their file (e.g. {', '.join(missing[:5])})"
    return True, ""


def reset_remote() -> None:
    for entry in BENCH_DIR.iterdir():
        entry.unlink()
    shutil.rmtree(HOME / ".ansible", ignore_errors=True)


class Runner:
    def __init__(self, fleet: Fleet, rpatch: Path | None, venv: Path, logs: Path,
                 timeout: float):
        self.fleet = fleet
        self.rpatch = rpatch
        self.venv = venv
        self.logs = logs
        self.timeout = timeout
        self.current: subprocess.Popen | None = None
        self.count = 0
        self.home = fleet.dir / "home"  # HOME for every tool: no ~/.ssh, no ~/.ansible.cfg
        self.home.mkdir()
        self.ansible_cfg = fleet.dir / "ansible.cfg"
        self.ansible_cfg.write_text(
            "[defaults]\nforks = 50\ngathering = explicit\nhost_key_checking = True\n"
            "interpreter_python = /usr/bin/python3\nretry_files_enabled = False\n"
            f"local_tmp = {fleet.dir}/ansible-local\ntimeout = 60\n"
            "[ssh_connection]\npipelining = True\n"
            f"ssh_args = -F {fleet.ssh_config} -o ControlMaster=auto -o ControlPersist=3600s\n")

    def base_env(self) -> dict:
        env = {"PATH": PATH, "HOME": str(self.home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "TERM": "dumb"}
        return env

    def command(self, tool: str, size: int, inv: dict[str, Path], run_dir: Path):
        env = self.base_env()
        py = "/usr/bin/python3"
        if tool in ("rpatch", "rpatch-channels"):
            if tool == "rpatch-channels":
                env.update(RPATCH_PERSISTENT_SHELL="0")
            env.update(RPATCH_KNOWN_HOSTS=str(self.fleet.known_hosts),
                       RPATCH_SSH_CONFIG=str(self.fleet.dir / "rpatch_ssh_config"),
                       RPATCH_HOST_KEY_CHECKING="strict")
            return [str(self.rpatch), "run", str(BENCH / "playbook.yml"), "-i",
                    str(inv["ini"]), "-f", str(size), "--runs-dir", str(run_dir / "runs")], env
        if tool == "ansible":
            env.update(ANSIBLE_CONFIG=str(self.ansible_cfg), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_SSH_CONTROL_PATH_DIR=str(run_dir / "cp"),
                       PATH=f"{self.venv}/bin:{PATH}")
            # _reap: the ssh ControlMasters ansible leaves behind are stopped and counted.
            return [py, str(Path(__file__).resolve()), "_reap",
                    str(self.venv / "bin" / "ansible-playbook"), "-i", str(inv["ini"]),
                    str(BENCH / "playbook.yml")], env
        if tool == "pyinfra":
            env.update(PATH=f"{self.venv}/bin:{PATH}")
            return [str(self.venv / "bin" / "pyinfra"), str(inv["py"]),
                    str(BENCH / "deploy.py"), "--parallel", str(size), "-y"], env
        if tool == "openssh":
            return [py, str(Path(__file__).resolve()), "_openssh", str(inv["openssh"]),
                    str(run_dir / "cm")], env
        raise ValueError(tool)

    def run(self, tool: str, size: int, inv: dict[str, Path], label: str) -> dict:
        self.count += 1
        run_dir = self.fleet.dir / f"run-{self.count}"
        run_dir.mkdir()
        reset_remote()
        argv, env = self.command(tool, size, inv, run_dir)
        time_file = run_dir / "time.txt"
        out_file = self.logs / f"{tool}-{size}-{label}.log"
        with open(out_file, "wb") as out:
            start = time.monotonic()
            machine_start = machine_cpu_seconds()
            self.current = subprocess.Popen(
                ["/usr/bin/time", "-v", "-o", str(time_file), *argv], env=env, cwd=run_dir,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_raise_nofile)
            try:
                code = self.current.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.stop_current()
                code = None
            wall = time.monotonic() - start
            machine = machine_cpu_seconds() - machine_start
            self.current = None
        # Whatever the tool left (it should be nothing) is stopped before the next run.
        stray = [pid for pid, (_, cmd) in proc_table().items() if str(run_dir) in cmd]
        kill_pids(stray)
        output = out_file.read_text(errors="replace")
        result = {"wall_s": round(wall, 3), "machine_cpu_s": round(machine, 2), "exit": code,
                  **parse_time_v(
            time_file.read_text() if time_file.exists() else "")}
        names = [h["name"] for h in self.fleet.hosts[:size]]
        if code is None:
            ok, why = False, f"timed out after {self.timeout:.0f} s"
        elif code != 0:
            ok, why = False, f"exit code {code}"
        elif tool in ("rpatch", "rpatch-channels", "ansible"):
            ok, why = recap_ok(output, size)
        elif tool == "openssh":
            try:
                summary = json.loads(output.strip().splitlines()[-1])
                ok = summary["failed"] == 0 and summary["ok"] == size
                why = f"{summary['ok']} hosts ok, {summary['failed']} failed"
            except (ValueError, IndexError, KeyError):
                ok, why = False, "no summary line from the OpenSSH driver"
        else:
            ok, why = True, "exit code 0"
        if ok:
            ok, more = remote_files_ok(names)
            why = more or why
        result.update(ok=ok, note=why)
        if stray:
            result["stray_processes_killed"] = len(stray)
        if not ok:
            result["output_tail"] = output.splitlines()[-25:]
        log(f"{tool:8} N={size:<5} {label:7} wall {wall:8.3f} s  cpu {result['cpu_s']:8.2f} s"
            f"  rss {result['peak_rss_mb']:7.1f} MB  {'ok' if ok else 'FAILED: ' + why}")
        return result

    def stop_current(self) -> None:
        proc = self.current
        if proc and proc.poll() is None:
            kill_pids(descendants(proc.pid) + [proc.pid])
            proc.wait()


def machine_cpu_seconds() -> float:
    """CPU time used by every process on the machine so far (/proc/stat, not idle/iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user..steal, less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _raise_nofile() -> None:
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def median(values):
    return round(statistics.median(values), 3) if values else None


def measure(runner: Runner, tools: list[str], size: int, runs: int, budget: float) -> dict:
    inv = runner.fleet.write_inventories(size)
    results = {tool: {"warmup": None, "runs": []} for tool in tools}
    planned = {}
    for tool in tools:
        warm = runner.run(tool, size, inv, "warmup")
        results[tool]["warmup"] = warm
        # A tool slower than the budget allows gets fewer measured runs (reported as n); one
        # whose warm-up alone exceeds the budget gets none, and its warm-up is reported.
        planned[tool] = min(runs, int(budget // max(warm["wall_s"], 0.001)))
        if planned[tool] == 0:
            results[tool]["warmup_counted"] = True
            results[tool]["runs"].append(warm)
    for i in range(runs):
        for tool in tools:  # round-robin, so drift hits every tool alike
            if i < planned[tool]:
                results[tool]["runs"].append(runner.run(tool, size, inv, f"run{i + 1}"))
    for tool, r in results.items():
        good = [x for x in r["runs"] if x["ok"]]
        r["n"] = len(r["runs"])
        r["ok"] = bool(r["runs"]) and len(good) == len(r["runs"])
        r["failures"] = sorted({x["note"] for x in r["runs"] + [r["warmup"]] if not x["ok"]})
        runs_for_median = r["runs"]
        for key in ("wall_s", "cpu_s", "peak_rss_mb", "machine_cpu_s"):
            r[key] = median([x[key] for x in runs_for_median])
    return results


def check_timing(rpatch: Path, fleet: Fleet, repeats: int = 15) -> dict:
    """`rpatch check` of a generated 200-task playbook with 20 roles."""
    root = fleet.dir / "check"
    tasks_per_role = 10
    for r in range(1, 21):
        role = root / "roles" / f"role{r:02d}"
        (role / "tasks").mkdir(parents=True)
        (role / "defaults").mkdir()
        (role / "handlers").mkdir()
        (role / "templates").mkdir()
        (role / "defaults" / "main.yml").write_text(
            f"role{r:02d}_dir: /tmp/role{r:02d}\nrole{r:02d}_items: [a, b, c]\n"
            f"role{r:02d}_enabled: true\n")
        (role / "handlers" / "main.yml").write_text(
            f"- name: role{r:02d} restart\n  command: /bin/true\n")
        (role / "templates" / "conf.j2").write_text(
            "# {{ inventory_hostname }}\n{% for i in role%02d_items %}{{ i }}\n{%% endfor %%}\n"
            .replace("%02d", f"{r:02d}").replace("%%", "%"))
        tasks = []
        for t in range(tasks_per_role):
            name = f"role{r:02d} task {t + 1}"
            p = f"role{r:02d}"
            kind = t % 10
            if kind == 0:
                tasks.append(f"- name: {name}\n  command: uptime\n  register: {p}_up\n"
                             f"  changed_when: false\n")
            elif kind == 1:
                tasks.append(f"- name: {name}\n  stat:\n    path: /var/run/reboot-required\n"
                             f"  register: {p}_reboot\n")
            elif kind == 2:
                tasks.append(f"- name: {name}\n  shell: uname -r | cut -d- -f1\n"
                             f"  register: {p}_kernel\n  when: {p}_enabled | bool\n")
            elif kind == 3:
                tasks.append(f"- name: {name}\n  file:\n    path: \"{{{{ {p}_dir }}}}\"\n"
                             f"    state: directory\n    mode: \"0755\"\n")
            elif kind == 4:
                tasks.append(f"- name: {name}\n  copy:\n    content: \"kernel {{{{ {p}_kernel"
                             f".stdout | default('') }}}}\\n\"\n    dest: \"{{{{ {p}_dir }}}}/k\"\n"
                             f"  notify: {p} restart\n")
            elif kind == 5:
                tasks.append(f"- name: {name}\n  template:\n    src: conf.j2\n"
                             f"    dest: \"{{{{ {p}_dir }}}}/conf\"\n")
            elif kind == 6:
                tasks.append(f"- name: {name}\n  lineinfile:\n    path: \"{{{{ {p}_dir }}}}/conf\"\n"
                             f"    line: \"managed {{{{ item }}}}\"\n  loop: \"{{{{ {p}_items }}}}\"\n")
            elif kind == 7:
                tasks.append(f"- name: {name}\n  debug:\n    msg: \"reboot {{{{ {p}_reboot.stat"
                             f".exists | default(false) }}}}\"\n  tags: [report]\n")
            elif kind == 8:
                tasks.append(f"- name: {name}\n  set_fact:\n    {p}_done: true\n")
            else:
                tasks.append(f"- name: {name}\n  assert:\n    that:\n      - {p}_done | bool\n")
        (role / "tasks" / "main.yml").write_text("".join(tasks))
    playbook = root / "site.yml"
    playbook.write_text(
        "- name: Generated check benchmark\n  hosts: all\n  gather_facts: false\n  roles:\n"
        + "".join(f"    - role{r:02d}\n" for r in range(1, 21)))
    inventory = root / "inventory.ini"
    inventory.write_text("[fleet]\n" + "".join(f"h{i:04d} ansible_host=127.88.0.{i}\n"
                                               for i in range(1, 11)))
    argv = [str(rpatch), "check", str(playbook), "-i", str(inventory)]
    env = {"PATH": PATH, "HOME": str(fleet.dir / "home"), "LANG": "C.UTF-8"}
    walls, first = [], None
    for i in range(repeats + 2):
        start = time.monotonic()
        proc = subprocess.run(argv, env=env, cwd=root, capture_output=True, text=True)
        wall = time.monotonic() - start
        if proc.returncode != 0:
            return {"ok": False, "exit": proc.returncode,
                    "output_tail": (proc.stdout + proc.stderr).splitlines()[-25:]}
        if i >= 2:
            walls.append(wall)
        first = first or proc.stdout
    timed = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, cwd=root,
                           capture_output=True, text=True)
    return {"ok": True, "tasks": 20 * tasks_per_role, "roles": 20, "repeats": repeats,
            "median_ms": round(statistics.median(walls) * 1000, 1),
            "min_ms": round(min(walls) * 1000, 1), "max_ms": round(max(walls) * 1000, 1),
            "peak_rss_mb": parse_time_v(timed.stderr)["peak_rss_mb"],
            "rpatch_says": (first or "").strip().replace(f"{root}/", ""),
            "target_ms": 100, "meets_target": statistics.median(walls) < 0.1}


# --------------------------------------------------------------------------- reporting


def machine() -> dict:
    mem = next(l for l in Path("/proc/meminfo").read_text().splitlines()
               if l.startswith("MemTotal"))
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text()
                .splitlines() if l.startswith("model name")), platform.processor())
    osname = next((l.split("=", 1)[1].strip('"') for l in Path("/etc/os-release").read_text()
                   .splitlines() if l.startswith("PRETTY_NAME=")), "")
    return {"nproc": os.cpu_count(), "memory_gib": round(int(mem.split()[1]) / 2**20, 1),
            "kernel": platform.release(), "cpu": cpu, "os": osname}


def versions(rpatch: Path | None, venv: Path) -> dict:
    def out(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None
    commit = out(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return {
        "rpatch": (out([str(rpatch), "--version"]) if rpatch else None),
        "rpatch_commit": commit,
        "ansible-core": out([str(venv / "bin" / "ansible-playbook"), "--version"]),
        "pyinfra": out([str(venv / "bin" / "pyinfra"), "--version"]),
        "openssh": out(["ssh", "-V"]),
        "python": out([str(venv / "bin" / "python"), "--version"]),
    }


def ratio(a, b):
    return round(a / b, 4) if a and b else None


def fmt_ratio(r):
    if r is None:
        return "—"
    return f"{r:.3f} ({1 / r:.1f}× faster)" if r < 1 else f"{r:.2f} ({r:.1f}× slower)"


def report(data: dict) -> str:
    m = data["machine"]
    v = data["versions"]
    lines = [
        "# rpatch fleet benchmark — latest results", "",
        f"Run {data['started']} with `{data['command']}`"
        + (f" (sizes not measured by it: {data['earlier']['started']} with "
           f"`{data['earlier']['command']}`)" if data.get("earlier") else "") + ".", "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, "
        f"kernel {m['kernel']}. The fleet (sshd, the remote commands) runs on the same "
        "machine as the controller.", "",
        f"Tools: rpatch {v['rpatch']} ({v['rpatch_commit']}); {v['ansible-core']}; "
        f"{v['pyinfra']}; {v['openssh']}; {v['python']}.", "",
        "Median of the measured runs after one warm-up; `n` is the number of measured runs. "
        "CPU is the controller's user+sys time including its child processes (ansible's ssh "
        "processes, the reference's ssh clients); peak RSS is the largest single process; "
        "machine CPU is what every process on the machine used during the run (/proc/stat): "
        "the controller plus sshd and the remote commands, i.e. what the tool costs the "
        "hosts.", "",
    ]
    for size, res in data["sizes"].items():
        lines += [f"## N = {size} hosts", "",
                  "| tool | n | wall s | CPU s | peak RSS MB | machine CPU s | status |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for tool, r in res.items():
            status = "ok" if r["ok"] else "FAILED: " + "; ".join(sorted(set(r["failures"])))
            if r.get("warmup_counted"):
                status += " (warm-up only: it alone exceeded --budget)"
            def cell(x, fmt):
                return fmt.format(x) if x is not None else "—"
            lines.append(f"| {tool} | {r['n']} | {cell(r['wall_s'], '{:.3f}')} | "
                         f"{cell(r['cpu_s'], '{:.2f}')} | {cell(r['peak_rss_mb'], '{:.1f}')} "
                         f"| {cell(r.get('machine_cpu_s'), '{:.1f}')} | {status} |")
        rr = data["ratios"].get(size, {})
        if rr:
            lines += ["", "| rpatch / … | wall | CPU | peak RSS |", "|---|---|---|---|"]
            for other, q in rr.items():
                lines.append(f"| {other} | {fmt_ratio(q['wall'])} | {fmt_ratio(q['cpu'])} | "
                             f"{q['rss']:.2f} |" if q['rss'] is not None else "— |")
        lines.append("")
    c = data.get("check")
    if c:
        lines += ["## `rpatch check`", ""]
        if c.get("ok"):
            lines.append(f"`rpatch check` of a generated {c['tasks']}-task playbook with "
                         f"{c['roles']} roles: median {c['median_ms']} ms over {c['repeats']} "
                         f"runs (min {c['min_ms']}, max {c['max_ms']}), peak RSS "
                         f"{c['peak_rss_mb']} MB (rpatch: `{c['rpatch_says']}`); "
                         f"target < {c['target_ms']} ms: "
                         f"{'met' if c['meets_target'] else 'NOT met'}.")
        else:
            lines.append(f"`rpatch check` FAILED (exit {c.get('exit')}):\n\n```\n"
                         + "\n".join(c.get("output_tail", [])) + "\n```")
        lines.append("")
    t = data.get("targets")
    if t:
        lines += ["## Targets (issues 4 and 14)", "", "| target | measured | met |", "|---|---|---|"]
        for row in t:
            lines.append(f"| {row['target']} | {row['measured']} | "
                         f"{'yes' if row['met'] else ('no' if row['met'] is False else '—')} |")
        lines.append("")
    return "\n".join(lines)


def targets(data: dict) -> list[dict]:
    rows = []
    s = data["sizes"]
    def get(size, tool):
        return s.get(str(size), {}).get(tool)
    r100, a100, p100, o100 = (get(100, t) for t in ("rpatch", "ansible", "pyinfra", "openssh"))
    if r100 and r100["ok"]:
        for other, want, text in ((a100, 1 / 50, "N=100: rpatch ≥ 50× faster than ansible"),
                                  (p100, 0.4, "N=100: rpatch ≤ 0.40 of pyinfra's wall time"),
                                  (o100, 1.0, "N=100: rpatch faster than OpenSSH reference")):
            if other and other["ok"]:
                q = r100["wall_s"] / other["wall_s"]
                rows.append({"target": text, "measured": f"{q:.3f} ({1 / q:.1f}× faster)"
                             if q < 1 else f"{q:.2f} ({q:.1f}× slower)", "met": q <= want
                             if want < 1 else q < want})
    elif r100:
        rows.append({"target": "N=100 targets", "measured": "rpatch run failed", "met": False})
    r1000, p1000 = get(1000, "rpatch"), get(1000, "pyinfra")
    if r1000 and r1000["ok"] and p1000 and p1000["ok"]:
        q = r1000["wall_s"] / p1000["wall_s"]
        rows.append({"target": "N=1000: rpatch ≤ 0.5 of pyinfra's wall time",
                     "measured": f"{q:.3f}", "met": q <= 0.5})
    for size, limit in ((500, 150), (1000, 200)):
        r = get(size, "rpatch")
        if r:
            rows.append({"target": f"N={size}: zero failed/unreachable, peak RSS < {limit} MB",
                         "measured": (f"{r['peak_rss_mb']} MB" if r["ok"] else "run failed"),
                         "met": bool(r["ok"] and r["peak_rss_mb"] < limit)})
    c = data.get("check")
    if c:
        rows.append({"target": "rpatch check, 200 tasks / 20 roles < 100 ms",
                     "measured": f"{c['median_ms']} ms" if c.get("ok") else "failed",
                     "met": bool(c.get("ok") and c["meets_target"])})
    return rows


# --------------------------------------------------------------------------- commands


def bench(args) -> int:
    sizes = [int(x) for x in args.sizes.split(",") if x]
    if args.with_1000 and 1000 not in sizes:
        sizes.append(1000)
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if t not in TOOLS:
            sys.exit(f"bench: unknown tool {t!r} (one of {', '.join(TOOLS)})")
    prerequisites()
    created_user = ensure_user()
    venv = ensure_venv(Path(args.venv))
    rpatch = None
    if "rpatch" in tools or not args.no_check:
        rpatch = Path(args.rpatch) if args.rpatch else build_rpatch()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    logs = BENCH / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    data = {"started": started, "command": "bench/run " + " ".join(args.argv),
            "machine": machine(), "versions": versions(rpatch, venv), "sizes": {},
            "ratios": {}}
    previous = Path(args.out).with_suffix(".json")
    previous = previous if previous.is_absolute() else REPO / previous
    if args.merge and previous.exists():  # keep the sizes this run does not measure
        old = json.loads(previous.read_text())
        data["earlier"] = {"started": old.get("started"), "command": old.get("command")}
        for size, res in old.get("sizes", {}).items():
            if int(size) not in sizes:
                data["sizes"][size] = res
                if size in old.get("ratios", {}):
                    data["ratios"][size] = old["ratios"][size]
        data["check"] = old.get("check")
    fleet = Fleet(max(sizes), venv)
    runner = None
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        fleet.start()
        runner = Runner(fleet, rpatch, venv, logs, args.timeout)
        if rpatch and not args.no_check:
            data["check"] = check_timing(rpatch, fleet)
            log(f"rpatch check: {data['check']}")
        for size in sizes:
            res = measure(runner, tools, size, args.runs, args.budget)
            data["sizes"][str(size)] = res
            data["sizes"] = dict(sorted(data["sizes"].items(), key=lambda kv: int(kv[0])))
            rp = res.get("rpatch")
            if rp and rp["ok"]:
                data["ratios"][str(size)] = {
                    other: {"wall": ratio(rp["wall_s"], res[other]["wall_s"]),
                            "cpu": ratio(rp["cpu_s"], res[other]["cpu_s"]),
                            "rss": ratio(rp["peak_rss_mb"], res[other]["peak_rss_mb"])}
                    for other in tools if other != "rpatch" and res[other]["ok"]}
            write_results(data, args.out)
        data["targets"] = targets(data)
        write_results(data, args.out)
        failed = [f"{t}@{s}" for s, res in data["sizes"].items() for t, r in res.items()
                  if not r["ok"]]
        log(f"wrote {args.out}.md and .json" + (f"; FAILED: {', '.join(failed)}" if failed
                                                 else ""))
        return 1 if failed else 0
    except Interrupted as e:
        log(f"interrupted ({e}); stopping everything this run started")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if runner:
            runner.stop_current()
        if not args.keep:
            fleet.stop()
            if created_user:
                remove_user()
        else:
            log(f"--keep: fleet left running in {fleet.dir} (sshd PIDs "
                f"{' '.join(str(p.pid) for p in fleet.sshds)})")
        try:
            reset_remote()
        except OSError:
            pass


def write_results(data: dict, out: str) -> None:
    base = Path(out)
    if not base.is_absolute():
        base = REPO / base
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    base.with_suffix(".md").write_text(report(data) + "\n")


def fleet_only(args) -> int:
    """Start a fleet and wait (for poking at it by hand); Ctrl-C stops it."""
    prerequisites()
    created_user = ensure_user()
    fleet = Fleet(args.hosts, Path(args.venv))
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        fleet.start()
        runner = Runner(fleet, None, Path(args.venv), fleet.dir, 0)
        inv = fleet.write_inventories(args.hosts)
        print(json.dumps({"dir": str(fleet.dir), **{k: str(v) for k, v in inv.items()},
                          "known_hosts": str(fleet.known_hosts),
                          "ssh_config": str(fleet.ssh_config),
                          "rpatch_ssh_config": str(fleet.dir / "rpatch_ssh_config"),
                          "ansible_cfg": str(runner.ansible_cfg)}, indent=2), flush=True)
        while True:
            time.sleep(3600)
    except Interrupted:
        return 0
    finally:
        fleet.stop()
        if created_user:
            remove_user()


def reap(argv: list[str]) -> int:
    """Run argv as a child subreaper: processes it daemonizes (ssh ControlMasters) become our
    children; when argv exits they are stopped and reaped, so /usr/bin/time counts them."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    code = subprocess.call(argv)
    left = descendants(os.getpid())
    for pid in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if time.monotonic() > deadline:
                for p in descendants(os.getpid()):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.01)
    return code


def openssh(spec_file: str, control_dir: str) -> int:
    """The reference: per host one ControlMaster and the playbook's five steps as plain ssh
    commands over it; all hosts at once. Prints a JSON summary as its last line."""
    spec = json.loads(Path(spec_file).read_text())
    cm = Path(control_dir)
    cm.mkdir(parents=True, exist_ok=True)
    cfg = spec["ssh_config"]
    bench_dir = spec["bench_dir"]
    results: dict[str, str | None] = {}

    def host_run(index: int, h: dict) -> None:
        name, addr, port = h["name"], h["addr"], str(h["port"])
        sock = str(cm / f"{index}")
        base = ["ssh", "-F", cfg, "-p", port, "-S", sock]
        master = subprocess.Popen(
            base + ["-M", "-N", "-o", "ControlPersist=no", addr],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while not os.path.exists(sock):
                if master.poll() is not None:
                    results[name] = "master: " + master.stderr.read().decode().strip()
                    return
                if time.monotonic() > deadline:
                    results[name] = "master: timed out"
                    return
                time.sleep(0.005)

            def ssh(command: str, stdin: bytes | None = None) -> str:
                p = subprocess.run(base + ["-o", "ControlMaster=no", addr, command],
                                   input=stdin if stdin is not None else b"",
                                   capture_output=True)
                if p.returncode != 0:
                    raise RuntimeError(f"{command!r}: exit {p.returncode}: "
                                       f"{p.stderr.decode().strip()}")
                return p.stdout.decode()

            ssh("uptime")
            reboot = ssh("if stat /var/run/reboot-required >/dev/null 2>&1; then echo True; "
                         "else echo False; fi").strip()
            kernel = ssh("uname -r").strip()
            path = f"{bench_dir}/{name}.txt"
            content = f"host {name} kernel {kernel} reboot_required {reboot}\n".encode()
            ssh(f"cat > {path}.tmp && chmod 0644 {path}.tmp && mv {path}.tmp {path}", content)
            ssh(f"grep -q '^host {name} kernel ' {path}")
            results[name] = None
        except RuntimeError as e:
            results[name] = str(e)
        finally:
            subprocess.run(base + ["-O", "exit", addr], capture_output=True)
            try:
                master.wait(timeout=10)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()

    threading.stack_size(256 * 1024)
    threads = [threading.Thread(target=host_run, args=(i, h)) for i, h in
               enumerate(spec["hosts"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = {k: v for k, v in results.items() if v}
    for name, why in sorted(failed.items())[:20]:
        print(f"{name}: FAILED: {why}")
    print(json.dumps({"ok": len(results) - len(failed), "failed": len(failed)}))
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_reap":
        return reap(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "_openssh":
        return openssh(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,500",
                        help="fleet sizes, comma-separated (default 10,100,500)")
    parser.add_argument("--with-1000", action="store_true", help="also N=1000")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"which tools (default {','.join(TOOLS)})")
    parser.add_argument("--runs", type=int, default=3,
                        help="measured runs per tool and size, after one warm-up (default 3)")
    parser.add_argument("--budget", type=float, default=900,
                        help="seconds of measured runs per tool and size; a tool whose "
                        "warm-up shows it would need more gets fewer runs (default 900)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds before one run is killed and marked failed")
    parser.add_argument("--rpatch", help="use this rpatch binary instead of building one")
    parser.add_argument("--no-check", action="store_true", help="skip the rpatch check timing")
    parser.add_argument("--venv", default=str(BENCH / ".venv"),
                        help="venv for ansible-core and pyinfra (default bench/.venv)")
    parser.add_argument("--out", default="bench/results/latest",
                        help="results path without extension (default bench/results/latest)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other sizes' results already in --out's JSON")
    parser.add_argument("--keep", action="store_true", help="leave the fleet running at exit")
    parser.add_argument("--fleet", type=int, metavar="N", dest="hosts",
                        help="only start an N-host fleet, print its files and wait for Ctrl-C")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    if args.hosts:
        return fleet_only(args)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
