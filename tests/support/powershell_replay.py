#!/usr/bin/env python3
"""A stand-in `powershell` for the Windows module tests (there is no Windows here).

Tests put a wrapper named `powershell` first on PATH that runs this script with a state
directory: `powershell_replay.py STATE_DIR ARGS...`. STATE_DIR holds

- `answers`: a JSON list, one entry per expected call, in order: {"stdout": ..., "stderr": ...,
  "rc": ...} (stderr and rc optional). The answers are what the test says Windows would print;
  they are not captured from a real host.
- `log.jsonl`: written here, one line per call: its argv, the decoded script, the scripts
  nested in it (an `-EncodedCommand` inside, as win_updates' scheduled task carries its
  worker), the syntax errors found, and the answer given.

Each call must be `-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand B64`.
The script (and each nested one) is decoded from UTF-16LE base64 and parsed with tree-sitter's
PowerShell grammar; a syntax error fails the call (exit 96) naming line and column, a call
with other arguments or beyond the answers fails with exit 97. Either way the message starts
with `powershell-replay:`.
"""

import base64
import fcntl
import json
import os
import re
import sys

MISS = 97
SYNTAX = 96
NESTED = re.compile(r"-EncodedCommand ([A-Za-z0-9+/=]+)")


def fail(code, message):
    sys.stderr.write("powershell-replay: " + message + "\n")
    sys.exit(code)


def decode(text):
    try:
        return base64.b64decode(text, validate=True).decode("utf-16-le")
    except Exception as error:  # noqa: BLE001 - any decoding failure is the test's failure
        fail(MISS, "not UTF-16LE base64: %s" % error)


def syntax_errors(parser, script):
    """(line, column, text) of each ERROR or MISSING node, 1-based."""
    tree = parser.parse(script.encode("utf-8"))
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            line, column = node.start_point
            found.append([line + 1, column + 1, node.text.decode("utf-8", "replace")[:60]])
        elif node.has_error:
            stack.extend(node.children)
    return sorted(found)


def main():
    if len(sys.argv) < 2:
        fail(MISS, "usage: powershell_replay.py STATE_DIR ARGS...")
    state, args = sys.argv[1], sys.argv[2:]
    try:
        import tree_sitter
        import tree_sitter_powershell
    except ImportError as error:
        fail(MISS, "the PowerShell parser is missing (%s): pip install tree-sitter "
             "tree-sitter-powershell, see scripts/test" % error)
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    expected = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand"]
    entry = {"argv": args, "script": None, "nested": [], "errors": [], "answer": None}
    if args[:5] == expected and len(args) == 6:
        entry["script"] = decode(args[5])
        entry["errors"] = syntax_errors(parser, entry["script"])
        for inner in NESTED.findall(entry["script"]):
            nested = decode(inner)
            entry["nested"].append(nested)
            entry["errors"] += [["nested"] + e for e in syntax_errors(parser, nested)]
    with open(os.path.join(state, "answers")) as handle:
        answers = json.load(handle)
    with open(os.path.join(state, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cursor_path = os.path.join(state, "cursor")
        try:
            with open(cursor_path) as handle:
                cursor = int(handle.read() or "0")
        except FileNotFoundError:
            cursor = 0
        ok = entry["script"] is not None and not entry["errors"] and cursor < len(answers)
        if ok:
            entry["answer"] = cursor
            with open(cursor_path, "w") as handle:
                handle.write(str(cursor + 1))
        with open(os.path.join(state, "log.jsonl"), "a") as log:
            log.write(json.dumps(entry) + "\n")
    if entry["script"] is None:
        fail(MISS, "expected %s B64, got %r" % (" ".join(expected), args))
    if entry["errors"]:
        fail(SYNTAX, "syntax errors in the generated PowerShell: %r\n%s"
             % (entry["errors"], entry["script"]))
    if not ok:
        fail(MISS, "call %d was not expected (%d answers):\n%s"
             % (cursor + 1, len(answers), entry["script"]))
    answer = answers[cursor]
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    sys.exit(answer.get("rc", 0))


if __name__ == "__main__":
    main()
