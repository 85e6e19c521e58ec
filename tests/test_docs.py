"""The repository's references to itself resolve.

Scanned: README.md, docs/*.md, and the docstrings and comments of every .py file under bench/,
methods/ and tasks/. Three kinds of reference are checked:

- a docs reference, `(docs/FILE.md, "Heading")`, several headings joined by "," or "and"
  (`(docs/methods.md, "A training step" and "Total loss and default weights")`), or the file alone:
  the file must exist and each heading must be a Markdown heading of it, word for word;
- a repository path that starts with a top-level folder (bench/, methods/, tasks/, tests/, docs/,
  slurm/, results/, .ci/), in backticks or plain (`bench/engine/train.py`, `tasks/rs/`): it must
  exist (paths with a placeholder such as `<results>` or a glob are not paths of the repository);
- a bare Markdown file name (`README.md`): it must be a file at the root or in docs/.

Fenced code blocks of the Markdown files are not scanned: they hold commands and output.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = ("bench", "methods", "tasks", "tests", "docs", "slurm", "results", ".ci")
CODE_DIRS = ("bench", "methods", "tasks")

DOCS_REF = re.compile(r'docs/([\w.-]+\.md)((?:\s*(?:,|\band\b)\s*"[^"]+")*)')
HEADING_IN_REF = re.compile(r'"([^"]+)"')
TOP_ALT = "|".join(re.escape(t) for t in TOP)
PATH = re.compile(rf"(?<![\w./<>$~-])((?:{TOP_ALT})/[^\s`'\"()\[\],;:]*)")
BARE_MD = re.compile(r"(?<![\w./-])([\w-]+\.md)\b")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Problem:
    where: str
    reference: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reference}: {self.reason}"


def markdown_text(text: str) -> list[tuple[int, str]]:
    """The lines of a Markdown text outside fenced code blocks, as (line number, line)."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            out.append((number, ""))  # a fence ends a paragraph
        elif not fenced:
            out.append((number, line))
    return out


@cache
def headings(path: Path) -> frozenset[str]:
    """The heading texts of a Markdown file (outside fenced code)."""
    lines = markdown_text(path.read_text(encoding="utf-8"))
    return frozenset(m.group(1) for _, line in lines if (m := HEADING.match(line)))


def python_prose(source: str) -> list[tuple[int, str]]:
    """The docstrings and comments of a Python source, as (first line, text); consecutive comment
    lines are one text. Other string literals (help texts, messages) are not prose."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                out.append((node.body[0].lineno, doc))
    block: list[str] = []
    start = last = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        row = tok.start[0]
        if block and row != last + 1:
            out.append((start, "\n".join(block)))
            block = []
        if not block:
            start = row
        block.append(tok.string.lstrip("#").strip())
        last = row
    if block:
        out.append((start, "\n".join(block)))
    return out


def check_text(
    text: str, where: str, first_line: int = 1, root: Path = ROOT, here: Path | None = None
) -> list[Problem]:
    """Every problem with the docs references, repository paths and Markdown file names of `text`,
    which starts at line `first_line` of the file `where`. A path is looked up from the repository root,
    and also from the folder `here` (a Markdown file's own folder, against which its links resolve)."""
    problems = []

    def problem(m: re.Match, reference: str, reason: str) -> None:
        line = first_line + text.count("\n", 0, m.start())
        problems.append(Problem(f"{where}:{line}", " ".join(reference.split()), reason))

    for m in DOCS_REF.finditer(text):
        doc = root / "docs" / m.group(1)
        if not doc.is_file():
            problem(m, m.group(0), f"no file docs/{m.group(1)}")
            continue
        for heading in HEADING_IN_REF.findall(m.group(2)):
            if " ".join(heading.split()) not in headings(doc):
                problem(m, m.group(0), f"docs/{m.group(1)} has no heading {' '.join(heading.split())!r}")
    for m in PATH.finditer(text):
        path = m.group(1).rstrip(".")
        if any(c in path for c in "*{<$") or DOCS_REF.fullmatch(path):
            continue  # a placeholder or glob; or a docs file, checked above
        if not (root / path).exists() and not (here is not None and (here / path).exists()):
            problem(m, path, "no such file or folder in the repository")
    for m in BARE_MD.finditer(text):
        name = m.group(1)
        if not ((root / name).is_file() or (root / "docs" / name).is_file()):
            problem(m, name, "no such Markdown file at the root or in docs/")
    return problems


def check_markdown(path: Path, root: Path = ROOT) -> list[Problem]:
    """The problems of a Markdown file, paragraph by paragraph (a reference may wrap across lines)."""
    rel = str(path.relative_to(root))
    problems, para, first = [], [], 0
    for number, line in [*markdown_text(path.read_text(encoding="utf-8")), (0, "")]:
        if line.strip():
            first = first or number
            para.append(line)
        elif para:
            problems += check_text("\n".join(para), rel, first, root, here=path.parent)
            para, first = [], 0
    return problems


def check_python(path: Path, root: Path = ROOT) -> list[Problem]:
    """The problems of the docstrings and comments of a Python file."""
    rel = str(path.relative_to(root))
    out = []
    for line, text in python_prose(path.read_text(encoding="utf-8")):
        out += check_text(text, rel, line, root)
    return out


def python_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_docs_files_exist_and_have_sections():
    for name in ("methods.md", "tasks.md"):
        assert len(headings(ROOT / "docs" / name)) >= 5, name


@pytest.mark.parametrize("path", markdown_files(), ids=_id)
def test_markdown_references_resolve(path):
    problems = check_markdown(path)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("path", python_files(), ids=_id)
def test_docstring_and_comment_references_resolve(path):
    problems = check_python(path)
    assert not problems, "\n".join(map(str, problems))


def test_the_code_points_at_the_docs():
    """The scan sees the code's docs references, each with a section (a regex that matched nothing
    would pass every file)."""
    found = [
        m.group(0)
        for path in python_files()
        for _, text in python_prose(path.read_text(encoding="utf-8"))
        for m in DOCS_REF.finditer(text)
    ]
    assert len(found) >= 10, found
    assert sum(bool(HEADING_IN_REF.search(ref)) for ref in found) >= 10, found


def test_made_up_references_are_caught():
    text = (
        'Good: (docs/methods.md, "The model"), (docs/methods.md, "CLIP loss" and "SDD loss"), '
        "`bench/engine/train.py`, tasks/rs/, README.md.\n"
        'Bad: (docs/methods.md, "No such section"), (docs/nothing.md, "The model"), '
        '(docs/tasks.md, "rs" and "Made up"), `bench/engine/nope.py`, methods/perf.py, method.md.'
    )
    problems = check_text(text, "example")
    assert {p.where for p in problems} == {"example:2"}
    assert sorted(p.reference for p in problems) == sorted(
        [
            'docs/methods.md, "No such section"',
            'docs/nothing.md, "The model"',
            'docs/tasks.md, "rs" and "Made up"',
            "bench/engine/nope.py",
            "methods/perf.py",
            "method.md",
        ]
    ), "\n".join(map(str, problems))
    assert "'Made up'" in next(p.reason for p in problems if "Made up" in p.reference)


def test_python_prose_is_docstrings_and_comments_only(tmp_path):
    source = (
        '"""Module (docs/methods.md, "Gone")."""\n'
        "x = 1  # see bench/missing.py\n"
        "y = 2\n"
        "# wrapped (docs/methods.md,\n"
        '# "Also gone")\n'
        "def f():\n"
        '    """`tasks/none/` and (docs/methods.md, "The model")"""\n'
        '    return "not prose: (docs/methods.md, \\"Ignored\\") bench/ignored.py"\n'
    )
    path = tmp_path / "bench" / "mod.py"
    path.parent.mkdir()
    path.write_text(source)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "methods.md").write_text("# Methods\n\n## The model\n")
    problems = check_python(path, root=tmp_path)
    assert sorted((p.where, p.reference) for p in problems) == [
        ("bench/mod.py:1", 'docs/methods.md, "Gone"'),
        ("bench/mod.py:2", "bench/missing.py"),
        ("bench/mod.py:4", 'docs/methods.md, "Also gone"'),
        ("bench/mod.py:7", "tasks/none/"),
    ], "\n".join(map(str, problems))


def test_fenced_code_is_not_scanned_and_references_may_wrap(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "methods.md").write_text("# M\n\n## A training step\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "Text (docs/methods.md,\n"
        '"A training step") and `bench/gone.py`.\n\n'
        "```\n"
        "python -m bench run --profile slurm/profiles/none.yaml\n"
        "```\n"
    )
    problems = check_markdown(readme, root=tmp_path)
    assert [(p.where, p.reference) for p in problems] == [("README.md:2", "bench/gone.py")]


def test_a_link_in_a_docs_page_resolves_from_the_page_s_folder(tmp_path):
    """docs/results.md shows results/ratio.png, which is docs/results/ratio.png: a Markdown link resolves
    against its file's folder; a path found in neither place is still caught."""
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "ratio.png").write_bytes(b"")
    page = tmp_path / "docs" / "results.md"
    page.write_text("# R\n\n![ratio](results/ratio.png) and ![cost](results/cost.png)\n")
    problems = check_markdown(page, root=tmp_path)
    assert [(p.where, p.reference) for p in problems] == [("docs/results.md:3", "results/cost.png")]


README_MAP = ("README.md", "The code")  # the front page's map, at folder level
MODULE_MAP = ("docs/code.md", "The module map")  # every module


def code_map(root: Path, where: tuple[str, str]) -> tuple[set[str], set[str]]:
    """The file names (`x.py`) and folder names (`x/`) that a code map names: the fenced block right under
    the heading `## HEADING` of the Markdown file root/FILE, where = (FILE, HEADING)."""
    name, heading = where
    found = re.search(
        rf"^## {re.escape(heading)}\n+```\n(.*?)\n```", (root / name).read_text("utf-8"), re.S | re.M
    )
    assert found, f"{name} has no code map (a fenced block right under '## {heading}')"
    text = found.group(1)
    return set(re.findall(r"\b([\w]+\.py)\b", text)), set(re.findall(r"(?<![\w./])(\w+)/", text))


def packages(root: Path) -> list[Path]:
    """The packages (folders with an __init__.py) right under bench/, methods/ and tasks/."""
    return sorted(
        p
        for d in ("bench", "methods", "tasks")
        for p in (root / d).iterdir()
        if (p / "__init__.py").is_file()
    )


def gone(root: Path, files: set[str]) -> list[str]:
    """The file names a code map names that are no file of the project."""
    existing = {p.name for d in (*CODE_DIRS, "tests") for p in (root / d).rglob("*.py")}
    return [f"the code map names {name}, which is no file" for name in sorted(files - existing)]


def unmapped(root: Path, entry_modules: set[str]) -> list[str]:
    """What the module map of root/docs/code.md leaves out or names wrongly: each module and folder of
    bench/, bench/cli/, bench/cell/ and bench/engine/, and each module of methods/ and tasks/ that is not
    a method's or task's own (its entry's module or package, listed by `bench list`), must be named; each
    named file must exist."""
    files, folders = code_map(root, MODULE_MAP)
    harness = ("bench", "bench/cli", "bench/cell", "bench/engine")
    wanted = [p for d in harness for p in (root / d).glob("*.py")]
    wanted += [
        p
        for d in ("methods", "tasks")
        for p in (root / d).glob("*.py")
        if f"{d}.{p.stem}" not in entry_modules
    ]
    problems = [
        f"{p.relative_to(root)} is not in the code map"
        for p in sorted(wanted)
        if p.stem not in ("__init__", "__main__") and p.name not in files
    ]
    problems += [
        f"{p.relative_to(root)}/ is not in the code map" for p in packages(root) if p.name not in folders
    ]
    return problems + gone(root, files)


def unmapped_folders(root: Path) -> list[str]:
    """What the README's folder-level code map leaves out or names wrongly: each package of bench/,
    methods/ and tasks/ must be named; each file it names must exist."""
    files, folders = code_map(root, README_MAP)
    problems = [
        f"{p.relative_to(root)}/ is not in the README's code map"
        for p in packages(root)
        if p.name not in folders
    ]
    return problems + gone(root, files)


def test_the_code_map_names_every_module_of_the_harness_and_nothing_that_is_gone():
    from bench import registry

    entries = [*registry.methods().entries.values(), *registry.tasks().entries.values()]
    own = {".".join(e.cls.__module__.split(".")[:2]) for e in entries}  # a task package counts whole
    problems = unmapped(ROOT, own)
    assert not problems, "\n".join(problems)


def test_the_readme_code_map_names_every_package():
    problems = unmapped_folders(ROOT)
    assert not problems, "\n".join(problems)


def test_a_module_left_out_of_the_code_map_and_a_name_that_is_gone_are_caught(tmp_path):
    for name in ("bench/cli.py", "bench/new.py", "bench/engine/train.py", "bench/tune/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    for name in ("methods/base.py", "methods/_helper.py", "methods/mine.py", "tasks/base.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "code.md").write_text(
        "# x\n\n## The module map\n\n```\nbench/\n  cli.py gone.py\n  engine/\n    train.py\n"
        "methods/ base.py\ntasks/ base.py\n```\n"
    )
    assert unmapped(tmp_path, {"methods.mine"}) == [
        "bench/new.py is not in the code map",
        "methods/_helper.py is not in the code map",
        "bench/tune/ is not in the code map",
        "the code map names gone.py, which is no file",
    ]
    (tmp_path / "README.md").write_text("# x\n\n## The code\n\n```\nbench/ gone.py\n  engine/\n```\n")
    assert unmapped_folders(tmp_path) == [
        "bench/tune/ is not in the README's code map",
        "the code map names gone.py, which is no file",
    ]
