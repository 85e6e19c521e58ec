"""`python -m bench list`: every method and task with its parameters, their defaults, choices and valid
ranges (as the error messages quote them: `steps = 100 in [1, inf)`), and a method's source."""

from __future__ import annotations

from bench import registry
from bench.registry import Entry


def _entry(entry: Entry) -> list[str]:
    doc = (entry.cls.__doc__ or "").strip().splitlines()
    head = f"  {entry.name}"
    if entry.fixed:
        head += f"  (= {entry.cls.name} with " + ", ".join(f"{k}={v}" for k, v in entry.fixed.items()) + ")"
    elif doc:
        head += f"  {doc[0]}"
    lines = [head]
    primary = getattr(entry.cls, "primary_metric", "")
    if primary:
        lines.append(f"      primary metric: {primary}")
    source = getattr(entry.cls, "source", "")
    if source:
        lines.append(f"      source: {source}")
    if requires := sorted(getattr(entry.cls, "requires", ())):
        lines.append(
            f"      applies to: tasks that give {', '.join(requires)} (elsewhere refused, or left out of all)"
        )
    for name, p in entry.params.items():
        extra = f" [{'|'.join(map(str, p.choices))}]" if p.choices else ""
        extra += f" in {p.valid}" if p.valid else ""
        lines.append(f"      {name} = {p.default!r}{extra}  {p.help}")
    return lines


def describe() -> str:
    out = []
    for reg in (registry.methods(), registry.tasks()):
        out.append(f"{reg.kind}s:")
        for name in reg.names():
            out.extend(_entry(reg.entries[name]))
        out.append("")
    return "\n".join(out).rstrip()
