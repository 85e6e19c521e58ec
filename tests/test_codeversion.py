"""A cell's code version covers exactly the sources that can change its numbers (bench/cell/codeversion.py),
so that adding a method or editing another task redoes nothing, and editing a cell's own code does."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import registry
from bench.cell.codeversion import ROOT, cell_sources, cell_version, sources, tree_version

from conftest import fast_args

PACKAGES = ("bench", "methods", "tasks")


def tree(tmp_path: Path) -> Path:
    """A copy of the project's packages to edit."""
    root = tmp_path / "proj"
    for top in PACKAGES:
        shutil.copytree(ROOT / top, root / top, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_cell_covers_the_engine_its_method_its_task_and_what_they_import():
    _, files = cell_sources("methods.gentle_clip", "tasks.synthetic")
    files = set(files)
    engine = {str(p.relative_to(ROOT)) for p in (ROOT / "bench" / "engine").glob("*.py")}
    assert engine <= files
    assert {"methods/gentle_clip.py", "methods/base.py", "methods/losses.py", "methods/_ssl.py"} <= files
    assert {"methods/clip.py", "tasks/synthetic.py", "tasks/base.py", "tasks/metrics.py"} <= files
    assert {"bench/params.py", "bench/errors.py"} <= files  # imported by the bases
    for other in ("methods/s_clip.py", "methods/hard_pl.py", "tasks/rs/__init__.py", "bench/perf/losses.py"):
        assert other not in files, other
    for harness in (
        "bench/cli/main.py",
        "bench/registry.py",
        "bench/report/tables.py",
        "bench/cell/sweep.py",
    ):
        assert harness not in files, harness


def test_a_task_package_counts_whole():
    _, files = cell_sources("methods.clip", "tasks.protein")
    package = {str(p.relative_to(ROOT)) for p in (ROOT / "tasks" / "protein").glob("*.py")}
    assert package <= set(files)


def test_unknown_modules_fall_back_to_the_whole_tree():
    assert cell_version("methods.gone", "tasks.synthetic") == tree_version()
    assert cell_version("methods.clip", "tasks.synthetic") != tree_version()


def test_imports_only_for_type_checking_do_not_count(tmp_path):
    root = tree(tmp_path)
    (root / "methods" / "typed.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from methods import s_clip\n"
        "from methods import clip\n"
    )
    found = {str(p.relative_to(root)) for p in sources(("methods.typed",), root)}
    assert "methods/clip.py" in found and "methods/s_clip.py" not in found


@pytest.mark.parametrize(
    ("edit", "changes"),
    [
        ("methods/new_method.py", set()),  # a new method file
        ("tasks/rs/__init__.py", set()),  # another task
        ("bench/perf/losses.py", set()),  # a benchmark
        ("bench/cli/main.py", set()),  # the CLI
        ("methods/s_clip.py", set()),  # another method
        ("methods/losses.py", {"clip", "gentle_clip"}),  # the loss library both use
        ("methods/_ssl.py", {"gentle_clip"}),  # a private helper only gentle_clip imports
        ("tasks/synthetic.py", {"clip", "gentle_clip"}),  # their task
        ("bench/engine/batches.py", {"clip", "gentle_clip"}),  # the engine
    ],
)
def test_which_edits_change_which_cells(tmp_path, edit, changes):
    root = tree(tmp_path)
    cells = {m: (f"methods.{m}", "tasks.synthetic") for m in ("clip", "gentle_clip")}
    before = {m: cell_version(*c, root=root) for m, c in cells.items()}
    path = root / edit
    path.write_text((path.read_text() if path.exists() else "") + "\n# an edit\n")
    cell_sources.cache_clear(), sources.cache_clear()
    after = {m: cell_version(*c, root=root) for m, c in cells.items()}
    assert {m for m in cells if before[m] != after[m]} == changes


def test_run_ids_follow_the_cell_version():
    spec = registry.methods().get("clip")
    assert spec.module == "methods.clip"
    assert registry.tasks().get("protein").module == "tasks.protein"


def bench(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=root, capture_output=True, text=True, timeout=600
    )


NEW_METHOD = '''"""My method: CLIP under another name, to show that a file is the whole change."""

from methods.clip import Clip


class MyMethod(Clip):
    name = "my_method"
    label = "My method"
    order = 5
    baseline = False
'''


def test_a_new_method_file_is_the_whole_change_and_redoes_nothing(tmp_path):
    """A grid run; a new method file; the same grid redoes nothing; `--methods all` has the new method,
    and the table names it by its label. Editing the loss library then makes the grid's cells new."""
    root, results = tree(tmp_path), tmp_path / "results"
    grid = [
        "--tasks",
        "synthetic",
        "--pair-ratio",
        "0.1",
        "--seeds",
        "0",
        "--jobs",
        "1",
        "--results",
        str(results),
    ]
    grid += fast_args(steps="10")
    first = bench(root, "run", "--methods", "clip,gentle_clip", *grid)
    assert first.returncode == 0, first.stderr
    finished = {
        p.name: json.loads((p / "status.json").read_text())["finished_at"]
        for p in (results / "runs").iterdir()
    }

    (root / "methods" / "my_method.py").write_text(NEW_METHOD)
    again = bench(root, "run", "--methods", "clip,gentle_clip", "--dry-run", *grid)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "2 cells: 2 done"
    listed = bench(root, "run", "--methods", "all", "--dry-run", *grid)
    assert "pending" in listed.stdout and "my_method · synthetic" in listed.stdout
    ran = bench(root, "run", "--methods", "clip,gentle_clip,my_method", *grid)
    assert ran.returncode == 0, ran.stderr
    runs = {p.name: json.loads((p / "status.json").read_text()) for p in (results / "runs").iterdir()}
    assert len(runs) == 3
    assert all(runs[k]["finished_at"] == v for k, v in finished.items()), "a done cell was redone"

    table = bench(root, "table", "--results", str(results))
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if line.startswith("|")]
    labels = [row.split("|")[1].strip() for row in rows[2:]]
    assert labels[:3] == ["My method", "CLIP", "Gentle-CLIP"], table.stdout

    losses = root / "methods" / "losses.py"
    losses.write_text(losses.read_text() + "\n# an edit of the loss library\n")
    edited = bench(root, "run", "--methods", "clip,gentle_clip,my_method", "--dry-run", *grid)
    assert edited.stdout.splitlines()[-1] == "3 cells: 3 pending", edited.stdout


def test_the_fallback_tree_covers_what_the_engine_imports_from_outside_it(tmp_path):
    """tree_version (the version of a cell whose method or task is gone) changes with the modules that
    moved out of bench/engine/ and that it imports, as it does with the engine's own files."""
    root = tree(tmp_path)
    before = tree_version(root)
    for name in ("bench/seeds.py", "bench/device.py", "bench/cell/rules.py", "bench/engine/train.py"):
        path = root / name
        path.write_text(path.read_text() + "\n# edited\n")
        assert tree_version.__wrapped__(root) != before, name
        before = tree_version.__wrapped__(root)
