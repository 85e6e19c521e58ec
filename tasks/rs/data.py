"""The task's raw data (train pool RS-ALL, retrieval test splits, zero-shot sets) and its text side:
captions per item, class prompts, and the keyword vocabulary of S-CLIP's keyword term."""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from bench.errors import BenchError
from tasks import contamination
from tasks.rs import lazy, sources
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
    about: dict  # TaskData.about: each evaluation set's source, split, size and overlap with the train pool


def names(text: str) -> list[str]:
    """A comma list of dataset names; `none` is the empty list."""
    return [n for n in (s.strip() for s in text.split(",")) if n and n != "none"]


def source_of(p: dict[str, Any], name: str) -> str:
    """A dataset's source: `source=local:ROOT` makes it local:ROOT/<name>, `source=synthetic[:N]` makes it
    synthetic[:N]; with no `source`, its own parameter."""
    if p["source"].startswith("local:"):
        return f"local:{Path(p['source'][6:]) / name}"
    return p["source"] or p[name]


def splits(p: dict[str, Any]) -> dict[str, str]:
    """The evaluation split of every dataset: S-CLIP's (sources.DEFAULT_SPLITS) overridden by the
    `splits` parameter, `name=split` pairs separated by commas."""
    out = dict(sources.DEFAULT_SPLITS)
    for pair in names(p["splits"]):
        name, _, split = (x.strip() for x in pair.partition("="))
        out[name] = split
    return out


def fingerprint(p: dict[str, Any]) -> dict[str, Any]:
    """What identifies the data: per dataset its source, its identity (the hub commit, the files of a
    local folder, or the generator's code: sources.identity) and its evaluation split."""
    chosen = splits(p)
    return {
        name: [source_of(p, name), sources.identity(name, source_of(p, name)), chosen[name]]
        for name in names(p["datasets"]) + names(p["zero_shot"])
    }


def read(p: dict[str, Any]) -> Raw:
    """Every split the task parameters name, from their sources, with the contamination guard applied:
    the train pool is the `train` split of every caption set, each set is evaluated on its split."""
    sets, chosen = names(p["datasets"]), splits(p)
    trains = [sources.captions(d, source_of(p, d), "train") for d in sets]
    train = CaptionSplit(lazy.concat(t.images for t in trains), [c for t in trains for c in t.captions])
    tests = {d: sources.captions(d, source_of(p, d), chosen[d]) for d in sets}
    zs = {z: sources.classes(z, source_of(p, z), chosen[z]) for z in names(p["zero_shot"])}
    seen = {d for name, t in zip(sets, trains, strict=True) for d in digests_of(name, t.images, "train")}
    about = {}
    for group in (tests, zs):
        for name, items in group.items():
            digests = digests_of(name, items.images, chosen[name])
            keep = contamination.guard("rs", name, digests, seen, p["contamination"])
            about[name] = {
                "source": source_of(p, name),
                "split": chosen[name],
                "size": len(keep),
                "overlap": len(contamination.shared(digests, seen)),
                "excluded": len(items.images) - len(keep),
            }
            group[name] = _subset(items, keep)
    return Raw(train, tests, zs, {"eval_sets": about})


def _subset(items: CaptionSplit | ClassSet, keep: list[int]) -> CaptionSplit | ClassSet:
    """The items `keep` of a split (itself when it keeps them all)."""
    if len(keep) == len(items.images):
        return items
    if isinstance(items, CaptionSplit):
        return CaptionSplit(lazy.take(items.images, keep), [items.captions[i] for i in keep])
    return ClassSet(lazy.take(items.images, keep), [items.labels[i] for i in keep], items.classes)


def digests_of(name: str, images, split: str) -> list[str]:
    """The content hashes of a split's images; one line naming the dataset and the item when an image
    cannot be decoded (a corrupt file, or a git-lfs pointer in a clone without git-lfs)."""
    out = []
    for k in range(len(images)):
        try:
            out.append(image_digest(images[k]))
        except (OSError, SyntaxError, ValueError) as exc:  # what PIL raises on bytes it cannot decode
            why = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"
            raise BenchError(
                f"task rs: {name}: image {k + 1} of its {split} split cannot be decoded ({why}); give the "
                "dataset's real image files (a git clone needs `git lfs pull`)"
            ) from None
    return out


def image_digest(data: bytes) -> str:
    """The content hash of an image: its decoded RGB pixels and size, so that a re-encoded copy (a TIFF
    and a PNG of the same picture) is the same item."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        return contamination.digest(f"{rgb.size}".encode() + rgb.tobytes())


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
