"""Listing the tasks imports only what describing them needs: no torchvision (seconds of start-up)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import registry

ROOT = Path(__file__).resolve().parent.parent
# the `list` command, then what it imported, as the last line of stdout
SCRIPT = """
import json, sys
from bench.cli.main import main
assert main(["list"]) == 0
print(json.dumps(sorted(sys.modules)))
"""


def test_bench_list_does_not_import_torchvision():
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    *listing, last = run.stdout.splitlines()
    modules = set(json.loads(last))
    tasks = {entry.cls.__module__ for entry in registry.tasks().entries.values()}
    assert "tasks:" in listing and tasks <= modules  # the tasks were imported, to be listed
    assert not {m for m in modules if m.split(".")[0] == "torchvision"}
