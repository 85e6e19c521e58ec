"""Declared parameters of methods and tasks: a default, a help line, and how to parse `k=v`; and variants,
named aliases of a method or task with some parameters fixed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
SEEDS = "[0, 2^63)"  # what a torch or numpy generator takes as a seed


@dataclass(frozen=True)
class Interval:
    """A range of numbers in interval notation: `[` and `]` include their end, `(` and `)` exclude it,
    `inf` and `-inf` leave a side unbounded (and, being excluded, refuse an infinite value); NaN lies
    in no interval."""

    low: float
    high: float
    low_open: bool
    high_open: bool
    text: str

    @classmethod
    def parse(cls, text: str) -> Interval:
        body = text.strip()
        ends, inner = body[:1] + body[-1:], body[1:-1].split(",")
        if len(body) < 2 or ends[0] not in "[(" or ends[1] not in "])" or len(inner) != 2:
            raise ValueError(f"valid range {text!r}: write an interval such as [0, 1) or (0, inf)")
        low, high = (_bound(x) for x in inner)
        if not low <= high:
            raise ValueError(f"valid range {text!r}: its low end is above its high end")
        return cls(
            low,
            high,
            ends[0] == "(",
            ends[1] == ")",
            f"{ends[0]}{inner[0].strip()}, {inner[1].strip()}{ends[1]}",
        )

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        return self.text


def _bound(text: str) -> float:
    """An end of an interval: an int (exact, however large; or a power, 2^63), a float, or ±inf."""
    text = text.strip()
    base, caret, power = text.partition("^")
    if caret:
        return int(base) ** int(power)
    try:
        return int(text)
    except ValueError:
        return float(text)


@dataclass(frozen=True)
class Param:
    """One parameter. Its type is the type of its default (bool, int, float or str).

    `choices` restricts the values; `valid` (an int or float parameter) is the interval of the values
    that make sense, e.g. "(0, inf)" for a temperature, "[0, 1)" for a dropout rate, "[0, inf)" for a
    weight (finite, as inf is excluded); `low`, `high` and `log` describe the search space for tuning,
    a part of `valid`.
    """

    default: Any
    help: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    valid: str | None = None
    interval: Interval | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.valid is not None:
            object.__setattr__(self, "interval", Interval.parse(self.valid))

    def parse(self, name: str, text: str, owner: str = "") -> Any:
        """Convert the text of `name=text` to this parameter's type, or raise BenchError naming `owner`
        (e.g. "task synthetic")."""
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
                f"{_prefix(owner)}parameter {name}={text!r} is not a valid {kind.__name__} "
                f"(default {self.default!r})"
            ) from None
        return self.check(name, value, owner)

    def check(self, name: str, value: Any, owner: str = "") -> Any:
        """Validate a value already of the right type (choices, valid range); return it, or raise
        BenchError naming `owner`, the parameter, the value and what it may be."""
        if self.choices is not None and value not in self.choices:
            options = ", ".join(map(str, self.choices))
            raise BenchError(f"{_prefix(owner)}parameter {name}={value!r} is not one of: {options}")
        if self.interval is not None and value not in self.interval:
            raise BenchError(
                f"{_prefix(owner)}parameter {name}={value!r} is outside its valid range {self.interval}"
            )
        return value


def _prefix(owner: str) -> str:
    return f"{owner}: " if owner else ""


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
        values[name] = params[name].parse(name, text, owner)
    return values
