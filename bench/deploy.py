"""The fleet benchmark's pyinfra deploy: the same five tasks as bench/playbook.yml.

pyinfra idiom: the stat and the registered shell output are facts (gathered for all hosts in
parallel while the deploy is prepared), the templated copy is files.template.
"""

from pathlib import Path

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

BENCH_DIR = "/home/rpatch-bench/bench"

server.shell(name="uptime", commands=["uptime"])

# stat of /var/run/reboot-required
reboot = host.get_fact(File, path="/var/run/reboot-required")

# shell with register
kernel = host.get_fact(Command, command="uname -r")

files.template(
    name="write templated content",
    src=str(Path(__file__).with_name("bench.txt.j2")),
    dest=f"{BENCH_DIR}/{host.name}.txt",
    mode="644",
    kernel=kernel,
    reboot_required=reboot is not None,
)

server.shell(
    name="check the copied file",
    commands=[f"grep -q '^host {host.name} kernel ' {BENCH_DIR}/{host.name}.txt"],
)
