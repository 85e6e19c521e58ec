"""The task's raw data (train pool RS-ALL, retrieval test splits, zero-shot sets) and its text side:
captions per item, class prompts, and the keyword vocabulary of S-CLIP's keyword term."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from tasks.rs import sources, synthetic
from tasks.rs.sources import CaptionSplit, ClassSet

STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at and or with to is are there some many several near by two three four five it"
        " its which be as this that from into next beside around other others one side lot lots",
    )
)


@dataclass
class Raw:
    train: CaptionSplit
    tests: dict[str, CaptionSplit]
    zero_shot: dict[str, ClassSet]


def names(text: str) -> list[str]:
    """A comma list of dataset names; `none` is the empty list."""
    return [n for n in (s.strip() for s in text.split(",")) if n and n != "none"]


def source_of(p: dict[str, Any], name: str) -> str:
    """A dataset's source: `source=local:ROOT` makes it local:ROOT/<name>, `source=synthetic[:N]` makes it
    synthetic[:N]; with no `source`, its own parameter."""
    if p["source"].startswith("local:"):
        return f"local:{Path(p['source'][6:]) / name}"
    return p["source"] or p[name]


def fingerprint(p: dict[str, Any]) -> dict[str, Any]:
    """What identifies the data: each source, for local ones the size and time of every file, and for
    generated ones the generator's code (an edit to synthetic.py makes new data)."""
    out = {}
    for name in names(p["datasets"]) + names(p["zero_shot"]):
        source = source_of(p, name)
        files = sorted(Path(source[6:]).rglob("*")) if source.startswith("local:") else []
        out[name] = [source] + [
            (str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()
        ]
        if source.startswith("synthetic"):
            out[name].append(hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:16])
    return out


def read(p: dict[str, Any]) -> Raw:
    """Every split the task parameters name, from their sources."""
    sets = names(p["datasets"])
    trains = [sources.captions(d, source_of(p, d), "train") for d in sets]
    train = CaptionSplit([i for t in trains for i in t.images], [c for t in trains for c in t.captions])
    tests = {d: sources.captions(d, source_of(p, d), "test") for d in sets}
    zs = {z: sources.classes(z, source_of(p, z)) for z in names(p["zero_shot"])}
    return Raw(train, tests, zs)


def fixed_captions(captions: list[list[str]], m: int) -> list[str]:
    """Exactly m captions per item (cycled when fewer), flattened item by item."""
    return [caps[j % len(caps)] for caps in captions for j in range(m)]


def class_text(name: str) -> str:
    """A readable class name: `denseResidential` or `dense_residential` → `dense residential`."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|[_-]+", " ", name).lower().strip()


def prompts(zs: ClassSet, templates: list[str]) -> list[str]:
    """Template t of class c at row t · C + c."""
    return [t.format(c=class_text(c)) for t in templates for c in zs.classes]


def keywords(raw: Raw, kind: str, n_keywords: int) -> list[str]:
    """S-CLIP's keyword vocabulary: the zero-shot class names (`classes`), or the n most frequent
    content words of the train captions (`mined`), or none."""
    if kind == "classes":
        return sorted({class_text(c) for zs in raw.zero_shot.values() for c in zs.classes})
    if kind == "mined":
        words = Counter(
            w
            for caps in raw.train.captions
            for w in set(re.findall(r"[a-z]+", " ".join(caps).lower()))
            if len(w) > 2 and w not in STOPWORDS
        )
        return [w for w, _ in words.most_common(n_keywords)]
    return []


def keyword_mask(captions: list[list[str]], vocab: list[str]) -> Tensor:
    """(N × K) bool: keyword k occurs (as whole words, plural allowed) in a caption of item i."""
    patterns = [re.compile(rf"\b{re.escape(k)}(s|es)?\b") for k in vocab]
    texts = [" ".join(caps).lower() for caps in captions]
    return torch.tensor([[bool(p.search(t)) for p in patterns] for t in texts], dtype=torch.bool).view(
        len(texts), len(vocab)
    )
