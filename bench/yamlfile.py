"""YAML files the user writes (cluster profiles, study files, --names files): read in one step, each
failure one line. A key given twice in one mapping is refused (YAML itself would keep the last one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int):
        super().__init__(f"key {key!r} given twice in one mapping; keep one of them")
        self.key, self.line = key, line


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with a key given twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) or key is None:
                if key in seen:
                    raise DuplicateKey(key, key_node.start_mark.line + 1)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_text(text: str) -> Any:
    """The YAML of `text`; yaml.YAMLError (DuplicateKey for a key given twice) if malformed."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)


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
        return text, load_text(text)
    except DuplicateKey as err:
        raise BenchError(f"{where}: line {err.line}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise BenchError(f"{where}: malformed YAML{at}: {problem}") from None


def kind(value: Any) -> str:
    """What a YAML value is, in words, for a message saying what was expected instead."""
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}
    return kinds.get(type(value), repr(value))
