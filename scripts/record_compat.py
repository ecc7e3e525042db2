"""Runs ansible-playbook on compat cases and writes each case's expected.json.

Called by scripts/record-compat with the venv's python. Every case directory holds
inventory.ini, site.yml, case.yml (class, args) and any other files the playbook uses. The case is
copied to a temp dir (project in T/p, work dir T/w with one subdir per inventory host, passed as
`-e workdir=T/w`) and run with explicit ANSIBLE_* settings; then exit code, PLAY RECAP counters,
the files and dirs under T/w (contents with T/p and T/w replaced by {project} and {work}) and the
debug-style `"msg":` lines are recorded. tests/compat.rs normalises rpatch's run the same way.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

from ansible.release import __version__

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
                   r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)")
RESULT_OPEN = re.compile(r"^(?:ok|changed|failed|fatal|skipping): \[([^\]]+)\].* => \{$")
KEYS = ["ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"]
SKIP = {"case.yml", "expected.json"}


def normalise(text, project, work):
    return text.replace(work, "{work}").replace(project, "{project}")


def recap(stdout):
    hosts = {}
    if "PLAY RECAP" not in stdout:
        return hosts
    for line in stdout.split("PLAY RECAP", 1)[1].splitlines():
        m = RECAP.match(line)
        if m:
            hosts[m.group(1)] = dict(zip(KEYS, map(int, m.groups()[1:])))
    return hosts


def msgs(stdout):
    out, host = [], None
    for line in stdout.splitlines():
        m = RESULT_OPEN.match(line)
        if m:
            host = m.group(1)
        elif line == "}":
            host = None
        elif host and line.startswith('    "msg": '):
            out.append(host + ": " + line[len('    "msg": '):])
    return sorted(out)


def inventory_hosts(bindir, project, env):
    listed = subprocess.run([os.path.join(bindir, "ansible-inventory"), "-i", "inventory.ini",
                             "--list"], cwd=project, env=env, capture_output=True, text=True,
                            check=True)
    return sorted(json.loads(listed.stdout)["_meta"]["hostvars"].keys())


def record(case_dir):
    meta = yaml.safe_load(open(os.path.join(case_dir, "case.yml"))) or {}
    bindir = os.path.dirname(sys.executable)
    tmp = tempfile.mkdtemp(prefix="compat-")
    project, work, home = (os.path.join(tmp, d) for d in ("p", "w", "home"))
    shutil.copytree(case_dir, project, ignore=lambda d, names: [n for n in names if n in SKIP])
    os.makedirs(home)
    cfg = os.path.join(tmp, "ansible.cfg")
    open(cfg, "w").close()
    env = {
        "PATH": bindir + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "ANSIBLE_CONFIG": cfg,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_NOCOWS": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_FORKS": "5",
    }
    hosts = inventory_hosts(bindir, project, env)
    for host in hosts:
        os.makedirs(os.path.join(work, host))
    args = [str(a) for a in meta.get("args", [])]
    command = [os.path.join(bindir, "ansible-playbook"), "-i", "inventory.ini", "site.yml",
               "-e", "workdir=" + work] + args
    run = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                         timeout=300)
    files, dirs = {}, []
    for dirpath, dirnames, filenames in os.walk(work):
        rel = os.path.relpath(dirpath, work)
        if rel != "." and rel not in hosts:
            dirs.append(rel)
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            files[os.path.relpath(os.path.join(dirpath, name), work)] = normalise(text, project, work)
    expected = {
        "ansible_core_version": __version__,
        "exit_code": run.returncode,
        "hosts": hosts,
        "recap": recap(run.stdout),
        "files": dict(sorted(files.items())),
        "dirs": sorted(dirs),
        "msgs": [normalise(m, project, work) for m in msgs(run.stdout)],
    }
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    if os.environ.get("COMPAT_SHOW"):
        print(run.stdout, run.stderr)
    shutil.rmtree(tmp)
    return run.returncode


def main():
    cases_root, names = sys.argv[1], sys.argv[2:]
    names = names or sorted(os.listdir(cases_root))
    for name in names:
        code = record(os.path.join(cases_root, name))
        print(f"{name}: exit {code}")


if __name__ == "__main__":
    main()
