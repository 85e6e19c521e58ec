"""Display names of methods, metrics and reference rows, and the order methods are listed in.

`names(display)` merges a caller's mapping over the defaults; a name missing from both shows as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

METHODS = (
    "clip",
    "clip_ssl",
    "hard_pl",
    "soft_pl",
    "s_clip",
    "gentle_clip",
    "gentle_clip_no_sdd",
    "gentle_clip_no_mmd",
    "gentle_clip_no_ssl",
)

DEFAULT_NAMES = {
    "clip": "CLIP",
    "clip_ssl": "CLIP + SSL",
    "hard_pl": "Hard PL",
    "soft_pl": "Soft PL",
    "s_clip": "S-CLIP",
    "gentle_clip": "Gentle-CLIP",
    "gentle_clip_no_sdd": "Gentle-CLIP (no SDD)",
    "gentle_clip_no_mmd": "Gentle-CLIP (no MMD)",
    "gentle_clip_no_ssl": "Gentle-CLIP (no SSL)",
    **{
        f"{d}_r{k}": f"{a}→{b} R@{k}"
        for d, a, b in (("a2b", "A", "B"), ("b2a", "B", "A"))
        for k in (1, 5, 10)
    },
    "zs_top1": "Zero-shot top-1",
    "zs_top5": "Zero-shot top-5",
    "zs_mpcr": "Zero-shot mean per-class recall",
    "nn": "Nearest neighbour (no training)",
    "majority": "Majority class (no training)",
}


def names(display: Mapping[str, str] | None = None) -> dict[str, str]:
    """The default display names with `display` (raw name → shown name) merged over them."""
    return {**DEFAULT_NAMES, **(display or {})}


def method_order(methods: Iterable[str]) -> list[str]:
    """The registry's nine methods in their canonical order, then any others sorted by name."""
    present = set(methods)
    return [m for m in METHODS if m in present] + sorted(present - set(METHODS))
