"""Declared parameters of methods and tasks: a default, a help line, and how to parse `k=v`; and variants,
named aliases of a method or task with some parameters fixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One parameter. Its type is the type of its default (bool, int, float or str).

    `choices` restricts the values; `low`, `high` and `log` describe the search space for tuning.
    """

    default: Any
    help: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False

    def parse(self, name: str, text: str) -> Any:
        """Convert the text of `name=text` to this parameter's type, or raise BenchError."""
        kind = type(self.default)
        try:
            if kind is bool:
                low = text.strip().lower()
                if low not in _TRUE | _FALSE:
                    raise ValueError
                value: Any = low in _TRUE
            elif kind is int:
                value = int(text)
            elif kind is float:
                value = float(text)
            else:
                value = text
        except ValueError:
            raise BenchError(
                f"parameter {name}={text!r} is not a valid {kind.__name__} (default {self.default!r})"
            ) from None
        return self.check(name, value)

    def check(self, name: str, value: Any) -> Any:
        """Validate a value already of the right type (choices); return it, or raise BenchError."""
        if self.choices is not None and value not in self.choices:
            options = ", ".join(map(str, self.choices))
            raise BenchError(f"parameter {name}={value!r} is not one of: {options}")
        return value


@dataclass(frozen=True)
class Variant:
    """A named alias of an entry class with some parameters fixed; `ablation`: an ablation of the class."""

    fixed: dict[str, Any]
    label: str = ""
    ablation: bool = False


def parse_assignments(pairs: list[str], flag: str) -> dict[str, str]:
    """Split repeated `k=v` arguments into a dict of raw strings; a malformed one is a BenchError."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise BenchError(f"{flag} {pair!r} is malformed: write it as key=value, e.g. {flag} lr=0.001")
        out[key.strip()] = value.strip()
    return out


def resolve(params: dict[str, Param], raw: dict[str, str], owner: str) -> dict[str, Any]:
    """Defaults overridden by the parsed raw values; an unknown name is a BenchError naming the known."""
    from bench.suggest import closest

    values = {name: p.default for name, p in params.items()}
    for name, text in raw.items():
        if name not in params:
            hint = closest(name, params)
            known = ", ".join(sorted(params)) or "none"
            raise BenchError(f"unknown parameter {name!r} for {owner}{hint}; its parameters: {known}")
        values[name] = params[name].parse(name, text)
    return values
