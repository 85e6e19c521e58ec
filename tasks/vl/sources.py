"""Where the vl task's data comes from, and what identifies it.

Sources (the `source` parameter):
- `debian:fashion-mnist[:N]` (the default, offline): Debian's dataset-fashion-mnist (fashion.py); N, when
  given, is the number of train images instead of `n_train`. Captions from templates of the class name.
- `local:DIR`: Karpathy's split of Flickr30k or COCO (the `dataset` parameter) as
  `DIR/dataset_<dataset>.json` and its images (karpathy.py; `image_root` points elsewhere).
- `hf:<owner>/<name>` or `hf:/folder`: a hub copy (nlphuji/flickr30k, its parquet export,
  yerevann/coco-karpathy with `image_root`) read by layouts.py.
- `synthetic[:N]`: generated class patterns (synthetic.py), for smoke and contract tests: N train images
  and max(10, N / 4) test images, all of them (the source's size replaces `n_train` and `n_test`).
Each split is then cut to `n_train` / `n_test` items (0: all) by a seeded draw (`data_seed`; the train
split's first items with `subset=first`); more than a split holds is refused in one line (never a silent
run on fewer items than the spec says), and each image keeps `captions_per_image` captions: its first
ones, or as many distinct template sentences.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import BenchError
from tasks import hub
from tasks.rs import lazy
from tasks.vl import fashion, karpathy, layouts, synthetic, templates

N_TRAIN = 10_000
N_TEST = 1_000  # Flickr30k's Karpathy test split; a seeded 1,000 of COCO's 5,000 or Fashion-MNIST's 10,000
CAPTIONS_PER_IMAGE = 5
DATASET = "flickr30k"
FASHION = "debian:fashion-mnist"
FORMS = "debian:fashion-mnist[:N], local:DIR, hf:<owner>/<name>, hf:/folder or synthetic[:N]"


@dataclass
class VLSplit:
    images: Any  # a Sequence[bytes] of encoded images (lazy), or a uint8 Tensor (N, H, W) of pixels
    captions: list[list[str]]
    labels: list[int] | None


@dataclass
class VLData:
    train: VLSplit
    test: VLSplit
    classes: list[str] | None
    about: dict


def _count(text: str, source: str) -> int:
    """N of `debian:fashion-mnist:N`; a one-line error unless a whole number ≥ 2."""
    if not text.isdigit() or int(text) < 2:
        raise BenchError(f"task vl: source={source!r}: N must be a whole number ≥ 2; write {FORMS}")
    return int(text)


def check(source: str, p: dict) -> None:
    """A one-line BenchError for a malformed source or parameter; reads no data."""
    kind, _, where = source.partition(":")
    if kind == "synthetic":
        synthetic.size(source)
    elif kind == "debian":
        name, _, n = where.partition(":")
        if name != "fashion-mnist":
            raise BenchError(f"task vl: source={source!r}: the Debian source is {FASHION}[:N]; write {FORMS}")
        if n:
            _count(n, source)
    elif kind == "hf" and where:
        hub.check(where, f"task vl: source={source}")
    elif kind != "local" or not where:
        raise BenchError(f"task vl: source={source!r}: expected {FORMS}")
    if kind in ("local", "hf") and p.get("dataset", DATASET) not in karpathy.DATASETS:
        raise BenchError(f"task vl: dataset={p.get('dataset')!r}: choose {' or '.join(karpathy.DATASETS)}")
    k = p.get("captions_per_image", CAPTIONS_PER_IMAGE)
    limit = len(templates.TEMPLATES) if kind in ("debian", "synthetic") else 5
    if not isinstance(k, int) or not 1 <= k <= limit:
        raise BenchError(f"task vl: captions_per_image={k!r}: choose 1 to {limit} for source {source}")
    for key in ("n_train", "n_test"):
        if not isinstance(p.get(key, 0), int) or p.get(key, 0) < 0:
            raise BenchError(f"task vl: {key}={p.get(key)!r}: give a whole number ≥ 0 (0: every item)")


def _image_root(p: dict) -> Path | None:
    """The `image_root` parameter as an absolute path; None when unset or empty."""
    root = p.get("image_root")
    return Path(root).expanduser().resolve() if root else None


def _pick(n: int, want: int, seed: int, split: str, where: str, first: bool = False) -> list[int] | None:
    """Sorted indices of a seeded draw of `want` of `n` items (`first`: the first `want`); None to keep
    all (want 0, or n). More than the split holds is refused: a run never silently trains or scores on
    fewer items than its spec says."""
    if want > n:
        key = "n_train" if split == "train" else "n_test"
        raise BenchError(
            f"task vl: {where}: {key}={want:,} but its {split} split has {n:,} images; "
            f"set --task-param {key}=0 (every image) or at most {n:,}"
        )
    if want <= 0 or want == n:
        return None
    if first:
        return list(range(want))
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    return sorted(rng.choice(n, want, replace=False).tolist())


def _first(p: dict, split: str) -> bool:
    """Whether the train split keeps its first n_train items (subset=first) rather than a seeded draw."""
    return split == "train" and p.get("subset", "random") == "first"


def _class_split(images: np.ndarray, labels: np.ndarray, want: int, p: dict, split: str) -> VLSplit:
    """A class-labelled split, cut to `want` images, with template captions."""
    k, seed = p.get("captions_per_image", CAPTIONS_PER_IMAGE), p.get("data_seed", 0)
    caps = templates.captions(labels.tolist(), list(fashion.CLASSES), k, seed, split)
    idx = _pick(len(labels), want, seed, split, f"source={p.get('source', FASHION)}", _first(p, split))
    if idx is not None:
        images, labels, caps = images[idx], labels[idx], [caps[i] for i in idx]
    return VLSplit(torch.from_numpy(np.array(images)), caps, labels.tolist())


def _caption_split(images, captions: list[list[str]], want: int, p: dict, split: str, where: str) -> VLSplit:
    """A caption split, cut to `want` images, each with its first `captions_per_image` captions."""
    k = p.get("captions_per_image", CAPTIONS_PER_IMAGE)
    idx = _pick(len(captions), want, p.get("data_seed", 0), split, where, _first(p, split))
    if idx is not None:
        images, captions = lazy.take(images, idx), [captions[i] for i in idx]
    short = next((i for i, c in enumerate(captions) if len(c) < k), None)
    if short is not None:
        raise BenchError(
            f"task vl: {where}: a {split} image has {len(captions[short])} captions; "
            f"set captions_per_image ≤ {len(captions[short])}"
        )
    return VLSplit(images, [c[:k] for c in captions], None)


def _class_data(source: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The full (images, labels) of each split of a synthetic or Debian source."""
    if source.startswith("synthetic"):
        return {s: synthetic.split(source, s) for s in ("train", "test")}
    return {s: fashion.read(fashion.ROOT, s) for s in ("train", "test")}


def _caption_data(source: str, p: dict, where: str) -> dict[str, layouts.Split]:
    """The full (images, captions) of each split of an hf: or local: source."""
    dataset = p.get("dataset", DATASET)
    if source.startswith("hf:"):
        folder = hub.locate(source[3:], where).folder
        return layouts.read(folder, _image_root(p), where)
    folder = Path(source[6:]).expanduser().resolve()
    items = karpathy.read(karpathy.index(folder, dataset), dataset)
    root = _image_root(p) or folder
    out = {}
    for name, splits in (("train", karpathy.TRAIN_SPLITS[dataset]), ("test", ("test",))):
        entries = karpathy.entries(items, splits, dataset)
        out[name] = (karpathy.images(root, dataset, entries, where), entries.captions)
    return out


def load(p: dict) -> VLData:
    """The train and test splits of the source `p["source"]`, cut and captioned as `p` says."""
    source = p.get("source", FASHION)
    check(source, p)
    want = {"train": p.get("n_train", N_TRAIN), "test": p.get("n_test", N_TEST)}
    if source.startswith(FASHION + ":"):
        want["train"] = int(source.rsplit(":", 1)[1])
    if source.startswith("synthetic"):
        want = {"train": 0, "test": 0}  # the source's own size
    where = f"source={source}"
    if source.startswith(("debian", "synthetic")):
        found = _class_data(source)
        splits = {s: _class_split(*found[s], want[s], p, s) for s in found}
        classes, pool = list(fashion.CLASSES), {s: len(found[s][1]) for s in found}
    else:
        found = _caption_data(source, p, where)
        splits = {s: _caption_split(*found[s], want[s], p, s, where) for s in found}
        classes, pool = None, {s: len(found[s][1]) for s in found}
    about = {
        "source": source,
        "dataset": "fashion-mnist" if classes else p.get("dataset", DATASET),
        "splits": {s: len(splits[s].captions) for s in splits},
        "pool": pool,
        "revision": identity(p),
    }
    return VLData(splits["train"], splits["test"], classes, about)


def _code(*modules) -> str:
    """16 hex digits over the source of `modules` (the generators of images or captions)."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def _file(path: Path) -> dict:
    """Path, size and modification time of one file (None for a missing one)."""
    stat = path.stat() if path.is_file() else None
    return {
        "file": str(path),
        "size": stat.st_size if stat else None,
        "mtime": stat.st_mtime_ns if stat else None,
    }


def identity(p: dict) -> dict:
    """What identifies the data, for cache keys: the Debian package version and files, a local JSON's size
    and time (and the image root), the hub commit or local folder's fingerprint, or the generator code."""
    source = p.get("source", FASHION)
    check(source, p)
    root = _image_root(p)
    extra = {"image_root": str(root)} if root else {}
    if source.startswith("synthetic"):
        return {"source": source, "code": _code(synthetic, templates)}
    if source.startswith("debian"):
        return {**fashion.identity(fashion.ROOT), "code": _code(templates)}
    if source.startswith("hf:"):
        return {**hub.locate(source[3:], f"task vl: source={source}").identity, **extra}
    folder = Path(source[6:]).expanduser().resolve()
    return {**_file(folder / f"dataset_{p.get('dataset', DATASET)}.json"), **extra}
