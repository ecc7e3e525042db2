#!/usr/bin/python3
"""Per-command remote cost (issue 14): the CPU one trivial command costs the host, with a
channel per command and with the persistent remote shell.

Starts a one-host bench fleet (`fleet.py --fleet 1`), runs `rpatch run` on a one-task playbook
looping `command: /bin/true` over K items, with the fleet's sshd in a cgroup (v1 cpuacct) of
its own: cpuacct.usage counts the CPU of sshd, the per-connection sshd, its session processes
and every remote command, before and after each run. The cost per command is
(cost at K=201 - cost at K=1) / 200, so the connection itself drops out. Unlike /proc/stat,
this counts only the fleet's processes, so the other load on a shared machine does not show.

    bench/per_command.py RPATCH_BINARY [--repeats 3] [--commands 200]
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


CGROUP = Path(f"/sys/fs/cgroup/cpuacct/rpatch-percommand-{os.getpid()}")


def sshd_cpu(_pid: int) -> float:
    return int((CGROUP / "cpuacct.usage").read_text()) / 1e9


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("rpatch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()

    fleet = subprocess.Popen([sys.executable, str(HERE / "fleet.py"), "--fleet", "1"],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        text = ""
        assert fleet.stdout is not None
        for line in fleet.stdout:
            text += line
            if line.startswith("}"):
                break
        files = json.loads(text)
        fleet_dir = files["dir"]
        pids = subprocess.run(["pgrep", "-f", f"sshd -D -e -f {fleet_dir}/sshd_0.conf"],
                              capture_output=True, text=True).stdout.split()
        sshd = int(pids[0])
        CGROUP.mkdir()
        (CGROUP / "cgroup.procs").write_text(str(sshd))
        work = Path(tempfile.mkdtemp(prefix="rpatch-percommand-"))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work),
               "LANG": "C.UTF-8", "RPATCH_KNOWN_HOSTS": files["known_hosts"],
               "RPATCH_SSH_CONFIG": files["rpatch_ssh_config"],
               "RPATCH_HOST_KEY_CHECKING": "strict"}

        def run(count: int, mode: str) -> tuple[float, float]:
            book = work / f"loop_{count}.yml"
            book.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n"
                            "    - command: /bin/true\n"
                            f"      loop: \"{{{{ range({count}) | list }}}}\"\n")
            before_remote, before_local = sshd_cpu(sshd), children_cpu()
            subprocess.run([args.rpatch, "run", str(book), "-i", files["ini"],
                            "--runs-dir", str(work / "runs")],
                           env={**env, "RPATCH_PERSISTENT_SHELL": mode}, check=True,
                           stdout=subprocess.DEVNULL)
            # The per-connection sshd exits after the client leaves; wait until it is reaped.
            time.sleep(1.0)
            return sshd_cpu(sshd) - before_remote, children_cpu() - before_local

        results = {}
        for mode, name in (("0", "channel per command"), ("1", "persistent shell")):
            remote, local = [], []
            for _ in range(args.repeats):
                r1, l1 = run(1, mode)
                rn, ln = run(args.commands + 1, mode)
                remote.append((rn - r1) / args.commands * 1000)
                local.append((ln - l1) / args.commands * 1000)
            remote.sort()
            local.sort()
            results[name] = {"remote_ms": remote[len(remote) // 2],
                             "controller_ms": local[len(local) // 2],
                             "remote_all": remote}
        print(json.dumps(results, indent=2))
        return 0
    finally:
        os.killpg(fleet.pid, signal.SIGINT)
        fleet.wait(timeout=30)
        if CGROUP.exists():
            time.sleep(1)
            CGROUP.rmdir()


if __name__ == "__main__":
    sys.exit(main())
