"""The templates of docs/code.md's walkthroughs ("Adding a method", "Adding a task") work as they are: each
is added, under the file name the walkthrough gives, to a temporary copy of the project, where the generic
contract tests (tests/test_method_contract.py, tests/test_task_contract.py) run it; and docs/code.md shows
each template whole, so the walkthrough cannot drift from the file (as benchopt's template solver)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "docs" / "templates"
# template → where the walkthrough puts it, and the name it registers
PLACES = {
    "method_template.py": ("methods/my_method.py", "my_method"),
    "task_template.py": ("tasks/my_task.py", "my_task"),
}
COPIED = ("bench", "methods", "tasks", "tests", "pyproject.toml")


def test_the_walkthrough_shows_each_template_whole_under_its_place():
    text = (ROOT / "docs" / "code.md").read_text()
    for template, (place, name) in PLACES.items():
        body = (TEMPLATES / template).read_text()
        assert f"```python\n{body}```" in text, (
            f"docs/code.md does not show docs/templates/{template} as it is"
        )
        assert f"cp docs/templates/{template} {place}" in text
        assert re.search(rf'^    name = "{name}"$', body, re.M)


def test_the_templates_are_not_registered_here():
    from bench import registry

    assert "my_method" not in registry.methods().names() and "my_task" not in registry.tasks().names()


def test_the_templates_pass_the_generic_contract_tests_in_a_copy_of_the_project(tmp_path):
    copy = tmp_path / "project"
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, copy / name)
    for template, (place, _) in PLACES.items():
        shutil.copy2(TEMPLATES / template, copy / place)
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    args = ["tests/test_method_contract.py", "tests/test_task_contract.py", "-k", "my_method or my_task"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    passed = re.search(r"(\d+) passed", done.stdout)
    # every test parametrised over the methods and over the tasks ran: 13 ids per method, 6 per task today
    assert passed and int(passed.group(1)) >= 19 and "skipped" not in done.stdout, tail
