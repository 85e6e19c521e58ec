"""YAML files the user writes (cluster profiles, study files): read in one step, each failure one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError


def read_yaml(path: str | Path, where: str) -> tuple[str, Any]:
    """The text of the file at `path` and its YAML; a missing, unreadable or malformed file is a BenchError
    of one line starting with `where` (e.g. "profile x.yaml")."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise BenchError(f"{where}: no such file") from None
    except OSError as err:
        raise BenchError(f"{where}: cannot read it ({err.strerror})") from None
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise BenchError(f"{where}: malformed YAML{at}: {problem}") from None


def kind(value: Any) -> str:
    """What a YAML value is, in words, for a message saying what was expected instead."""
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}
    return kinds.get(type(value), repr(value))
