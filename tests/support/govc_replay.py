#!/usr/bin/env python3
"""A replay `govc` for the vSphere module tests: answers from real govc 0.38.0 transcripts.

govc cannot be installed here, so tests put a wrapper named `govc` first on PATH that runs
this script with a state directory: `govc_replay.py STATE_DIR ARGS...`. STATE_DIR holds

- `fixtures`: the directory of transcripts (tests/fixtures/govc, see its README);
- `scenario`: the transcript files the test expects to be asked for, one per line, in order;
- `log.jsonl`: written here, one line per call: its argv, the GOVC_* environment it saw, the
  command lines of its parent processes, the transcript answered (or null) and the exit code.

Each call must be the scenario's next step, matched on its command line (`govc` and the
arguments joined by single spaces, as the transcripts record them). The answer is the
transcript's stdout, stderr and exit code, byte for byte. Anything else fails loudly: exit 97
and a message on stderr naming the command (no transcript at all, or not the expected step).

State carries over as in the recorded run: at load the scenario is refused (exit 97) if a
transcript that changed the simulator (create, remove, revert, migrate, maintenance, power)
comes before one recorded earlier, so a test cannot replay changes out of their run order.
Reads may repeat where the state they describe still holds; that is the scenario's claim.
"""

import fcntl
import json
import os
import sys

MISS = 97
CHANGES = (
    "snapshot.create",
    "snapshot.remove",
    "snapshot.revert",
    "vm.migrate",
    "host.maintenance.",
    "vm.power",
)


def fail(message):
    sys.stderr.write("govc-replay: " + message + "\n")
    sys.exit(MISS)


def load(path):
    """(command line, exit code, stdout bytes, stderr bytes) of one transcript file."""
    with open(path, "rb") as handle:
        data = handle.read()
    head, _, rest = data.partition(b"\n")
    if not head.startswith(b"$ "):
        fail("%s: first line is not `$ COMMAND`" % path)
    code_line, _, rest = rest.partition(b"\n")
    if not code_line.startswith(b"# exit: "):
        fail("%s: no `# exit:` line" % path)
    if not rest.startswith(b"# stdout:\n"):
        fail("%s: no `# stdout:` section" % path)
    body = rest[len(b"# stdout:\n"):]
    if body.startswith(b"# stderr:\n"):
        out, err = b"", body[len(b"# stderr:\n"):]
    else:
        at = body.find(b"\n# stderr:\n")
        if at < 0:
            fail("%s: no `# stderr:` section" % path)
        out, err = body[: at + 1], body[at + len(b"\n# stderr:\n"):]
    return head[2:].decode(), int(code_line[len(b"# exit: "):]), out, err


def changes(command):
    words = command.split()
    return len(words) > 1 and words[1].startswith(CHANGES)


def ancestors():
    """The command lines of the parent processes, nearest first (up to 6)."""
    lines, pid = [], os.getppid()
    for _ in range(6):
        if pid <= 1:
            break
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                lines.append(handle.read().replace(b"\0", b" ").decode("utf-8", "replace"))
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return lines


def main():
    if len(sys.argv) < 2:
        fail("usage: govc_replay.py STATE_DIR ARGS...")
    state = sys.argv[1]
    argv = ["govc"] + sys.argv[2:]
    line = " ".join(argv)
    fixtures = os.path.join(state, "fixtures")
    with open(os.path.join(state, "scenario")) as handle:
        scenario = [s.strip() for s in handle if s.strip()]
    recorded = {name: load(os.path.join(fixtures, name)) for name in sorted(os.listdir(fixtures))
                if name[:1].isdigit()}
    last = ""
    for name in scenario:
        if name not in recorded:
            fail("scenario names %s, which is not a transcript" % name)
        if changes(recorded[name][0]):
            if name < last:
                fail("scenario replays %s after %s: changes out of their run order" % (name, last))
            last = name
    with open(os.path.join(state, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cursor_path = os.path.join(state, "cursor")
        try:
            with open(cursor_path) as handle:
                cursor = int(handle.read() or "0")
        except FileNotFoundError:
            cursor = 0
        expected = scenario[cursor] if cursor < len(scenario) else None
        answer = recorded.get(expected) if expected else None
        entry = {
            "argv": argv,
            "env": {k: v for k, v in os.environ.items() if k.startswith("GOVC_")},
            "ancestors": ancestors(),
            "transcript": None,
            "rc": MISS,
        }
        if answer is not None and answer[0] == line:
            entry["transcript"], entry["rc"] = expected, answer[1]
            with open(cursor_path, "w") as handle:
                handle.write(str(cursor + 1))
        with open(os.path.join(state, "log.jsonl"), "a") as log:
            log.write(json.dumps(entry) + "\n")
    if entry["transcript"] is None:
        known = [n for n, t in recorded.items() if t[0] == line]
        if not known:
            fail("no transcript for `%s`" % line)
        if expected is None:
            fail("`%s` (recorded in %s) was not expected: the scenario is done" % (line, known[0]))
        fail("`%s` (recorded in %s) is not the next step: expected `%s` (%s)"
             % (line, ", ".join(known), answer[0], expected))
    sys.stdout.buffer.write(answer[2])
    sys.stderr.buffer.write(answer[3])
    sys.exit(answer[1])


if __name__ == "__main__":
    main()
