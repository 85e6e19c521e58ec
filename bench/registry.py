"""Registries of methods and tasks, discovered from their packages: one file (or sub-package) per entry.

An entry is a class defined in its own module with a `name` and a `params` dict of `Param`, and
how the tables show it: `label` (its display name), `order` (where it is listed, lower first) and,
for a method, `control_of` (the method whose gains it tells apart, e.g. CLIP + SSL for Gentle-CLIP)
and `baseline` (the method the tables test the others against).
A class may declare `variants = {"alias": Variant({"param": value}, label=..., ablation=True)}`:
named aliases with some parameters fixed, listed right after their class; `ablation=True` makes
one an ablation of the class's own entry. `describe` is what a run folder records of its method and
task (about.json), so that the tables need no registry.

These attributes inherit as Python's do: a subclass that does not set one has its parent's. What
names one entry must stay one entry's, so discovery refuses, in one line naming the fix: a name
defined twice, two entries of one kind shown by the same label (a subclass that keeps its registered
parent's label), and two methods that are the baseline (a subclass of the baseline must set
`baseline = False`). An empty label shows the entry's name.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.params import Param, Variant, resolve
from bench.suggest import closest


@dataclass(frozen=True)
class Entry:
    """A registered name: its class, its parameters (with the variant's defaults) and its source file."""

    name: str
    cls: type
    kind: str
    source: Path
    fixed: dict[str, Any] = field(default_factory=dict)
    variant: Variant | None = None
    position: int = 0  # 0 for the class's own entry, i for its i-th variant

    @property
    def module(self) -> str:
        """The module (or package) that defines the entry: what its code version covers."""
        return self.cls.__module__

    @property
    def label(self) -> str:
        own = self.variant.label if self.variant else self.cls.label
        return own or self.name

    def describe(self) -> dict[str, Any]:
        """Name, class name, module, label, order and relations (a task: its primary metric and reference
        rows): what a run records of its entry."""
        out = {
            "name": self.name,
            "family": self.cls.name,
            "module": self.module,
            "label": self.label,
            "order": getattr(self.cls, "order", 0) + self.position / 100,
        }
        if self.kind == "method":
            out["ablation_of"] = self.cls.name if self.variant and self.variant.ablation else None
            out["control_of"] = self.cls.control_of or None
            out["baseline"] = bool(self.cls.baseline) and self.variant is None
        else:
            out["primary_metric"] = self.cls.primary_metric
            out["references"] = dict(self.cls.references)
        return out

    @property
    def params(self) -> dict[str, Param]:
        declared = self.cls.declared_params()
        return {k: (replace(p, default=self.fixed[k]) if k in self.fixed else p) for k, p in declared.items()}

    def resolve(self, raw: dict[str, str]) -> dict[str, Any]:
        """Full parameter values from defaults and raw `k=v` strings; fixed ones cannot be changed. With
        `preset=NAME` (a task's `presets`), the preset's values replace the defaults of the parameters
        `raw` does not give."""
        for key in raw:
            if key in self.fixed:
                raise BenchError(
                    f"{self.kind} {self.name} fixes {key}={self.fixed[key]!r}; "
                    f"use {self.cls.name} to set {key}"
                )
        values = resolve(self.params, raw, f"{self.kind} {self.name}")
        preset = getattr(self.cls, "presets", {}).get(values.get("preset"), {})
        return values | {k: v for k, v in preset.items() if k not in raw and k not in self.fixed}

    def create(self, values: dict[str, Any]):
        """An instance configured with full parameter values (as resolve returns them)."""
        return self.cls(**values)


class Registry:
    """Name → Entry for every entry class found in a package."""

    def __init__(self, package: str, base: type, kind: str):
        self.package, self.base, self.kind = package, base, kind

    @property
    def entries(self) -> dict[str, Entry]:
        return _discover(self.package, self.base, self.kind)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def get(self, name: str) -> Entry:
        entries = self.entries
        if name not in entries:
            raise BenchError(
                f"unknown {self.kind} {name!r}{closest(name, entries)}; "
                f"known: {', '.join(sorted(entries))} (see `python -m bench list`)"
            )
        return entries[name]


@cache
def _discover(package: str, base: type, kind: str) -> dict[str, Entry]:
    pkg = importlib.import_module(package)
    found: dict[str, Entry] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        source = Path(module.__file__)
        for obj in vars(module).values():
            if not (isinstance(obj, type) and issubclass(obj, base) and obj.__module__ == module.__name__):
                continue
            if not getattr(obj, "name", None):
                continue
            aliases = {obj.name: None, **getattr(obj, "variants", {})}
            for position, (name, variant) in enumerate(aliases.items()):
                if name in found:
                    raise BenchError(
                        f"duplicate {kind} name {name!r}: defined in {found[name].source.name} "
                        f"and {source.name}; rename one of them"
                    )
                fixed = dict(variant.fixed) if variant else {}
                found[name] = Entry(name, obj, kind, source, fixed, variant, position)
    _check_unique(found, kind)
    return found


def _check_unique(found: dict[str, Entry], kind: str) -> None:
    """Refuse two entries shown by one label, and two baselines: what inheritance may carry over."""
    shown: dict[str, Entry] = {}
    for entry in found.values():
        other = shown.setdefault(entry.label, entry)
        if other is not entry:
            keeps, first = (other, entry) if _inherits_label(other) else (entry, other)
            where = "its variant's label" if keeps.variant else _origin(keeps.cls, "label")
            raise BenchError(
                f"{kind}s {first.name} and {keeps.name} are both shown as {entry.label!r} ({where}); "
                f"give {keeps.name} a label of its own in {keeps.cls.__name__} ({keeps.source.name})"
            )
    if kind == "method":
        baselines = [e for e in found.values() if e.describe()["baseline"]]
        if len(baselines) > 1:
            inherits = [e for e in baselines if "baseline" not in vars(e.cls)]
            second = (inherits or baselines[1:])[0]
            first = next(e for e in baselines if e is not second)
            raise BenchError(
                f"methods {first.name} and {second.name} are both the baseline "
                f"({_origin(second.cls, 'baseline')}); one method is: set baseline = False in "
                f"{second.cls.__name__} ({second.source.name})"
            )


def _inherits_label(entry: Entry) -> bool:
    return entry.variant is None and "label" not in vars(entry.cls)


def _origin(cls: type, attr: str) -> str:
    """Where `cls` gets `attr` from, in words."""
    owner = next(c for c in cls.__mro__ if attr in vars(c))
    return f"{cls.__name__} sets it" if owner is cls else f"{cls.__name__} inherits it from {owner.__name__}"


def methods() -> Registry:
    from methods.base import Method

    return Registry("methods", Method, "method")


def tasks() -> Registry:
    from tasks.base import Task

    return Registry("tasks", Task, "task")
