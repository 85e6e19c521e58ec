"""The model inputs of the vl task, one flat dict in both modes, and the on-disk caches behind them.

Keys: `train_a` (images), `train_b` (N, m, ·) (the m captions of each train image), `test_images`,
`test_texts` (every test caption, image by image), `test_owner` (the image of each caption), the text
ids of the captions (`train_text_ids`, `test_text_ids`: identical strings, one id) and, where
the data has classes, `zs_prompts` (template-major: template t of class c at row t · C + c) and
`zs_labels`. Raw pixels are ImagePools (tasks/vl/towers.py); texts are open_clip tokens or frozen
sentence features. Frozen mode: every input is a feature, train images with their original feature
(row 0) and those of `n_views` augmented views (rows 1..K), cached (bench/cache.py) under a key of the
data's identity (sources.identity and the source parameters), the encoder and its weights; the train
images' features are written and read as memory-mapped shards of SHARD images (bench/shards.py), so
that COCO's pool needs no more memory than a shard.
Sentence features (MiniLM or another sentence-transformers model) are cached in both modes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from bench import cache, shards
from bench.device import default_device
from bench.errors import BenchError
from bench.seeds import view_generator
from tasks import _openclip, _sentences, contamination
from tasks._frozen import unit_features
from tasks.rs import lazy
from tasks.rs.data import image_digest
from tasks.vl import sources, templates
from tasks.vl.sources import VLSplit
from tasks.vl.towers import ImagePool, ResNetTower, resnet34
from tasks.vl.views import augment_batch

SOURCE_PARAMS = (
    "source",
    "dataset",
    "image_root",
    "n_train",
    "n_test",
    "subset",
    "data_seed",
    "captions_per_image",
)
BATCH = 64
SHARD = 64 * BATCH  # train images per shard of frozen features: what building or reading them holds at once
VIEW_SEED = 30_000
CNN_SIZE, RELEASED_SIZE = 28, 224  # Fashion-MNIST's native side; the released code's


@dataclass
class Raw:
    train: VLSplit
    test: VLSplit  # what the contamination guard kept
    classes: list[str] | None
    about: dict  # TaskData.about


def digests(images: Any, desc: str = "hashing images") -> list[str]:
    """The content hash of each image: of its pixels and shape for a pixel tensor, of its decoded RGB
    pixels for an encoded image (tasks/rs/data.py `image_digest`, with a progress bar: each is decoded)."""
    if isinstance(images, Tensor):
        return [contamination.digest(f"{tuple(x.shape)}".encode() + x.numpy().tobytes()) for x in images]
    out = []
    for k, data in enumerate(tqdm(images, desc=desc, leave=False, disable=len(images) < 1000)):
        try:
            out.append(image_digest(data))
        except (OSError, SyntaxError, ValueError) as exc:  # what PIL raises on bytes it cannot decode
            why = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"
            raise BenchError(
                f"task vl: {desc.removeprefix('hashing ')}: image {k + 1} of {len(images)}{_named(images, k)}"
                f" cannot be decoded ({why}); give the dataset's real image files (a git clone needs "
                "`git lfs pull`)"
            ) from None
    return out


def _named(images: Any, k: int) -> str:
    """ " (FILE)" for an image read from a file of a folder, else nothing."""
    root = getattr(getattr(images, "read", None), "root", None)
    return f" ({Path(root) / images.keys[k]})" if root is not None else ""


def _subset(split: VLSplit, keep: list[int]) -> VLSplit:
    """The items `keep` of a split (itself when it keeps them all)."""
    if len(keep) == len(split.captions):
        return split
    images = split.images[keep] if isinstance(split.images, Tensor) else lazy.take(split.images, keep)
    labels = None if split.labels is None else [split.labels[i] for i in keep]
    return VLSplit(images, [split.captions[i] for i in keep], labels)


def read(p: dict[str, Any]) -> Raw:
    """The source's splits with the contamination guard applied to the test split (refused here, before
    anything trains, under contamination=refuse)."""
    data = sources.load(p)
    seen = set(digests(data.train.images, "hashing train images"))
    found = digests(data.test.images, "hashing test images")
    keep = contamination.guard("vl", "test", found, seen, p["contamination"])
    test = {
        "source": p["source"],
        "split": "test",
        "size": len(keep),
        "overlap": len(contamination.shared(found, seen)),
        "excluded": len(found) - len(keep),
    }
    return Raw(
        data.train, _subset(data.test, keep), data.classes, {**data.about, "eval_sets": {"test": test}}
    )


def zero_shot(raw: Raw) -> bool:
    """Whether the test split has class labels (and so zero-shot metrics)."""
    return raw.classes is not None and raw.test.labels is not None


def texts(raw: Raw) -> dict[str, list[str]]:
    """Every text input as strings: train captions item-major, test captions, and class prompts (the
    caption templates, tasks/vl/templates.py, with each class name)."""
    out = {
        "train_b": [c for caps in raw.train.captions for c in caps],
        "test_texts": [c for caps in raw.test.captions for c in caps],
    }
    if zero_shot(raw):
        names = [templates.phrase(c) for c in raw.classes]
        out["zs_prompts"] = [t.format(c=c) for t in templates.TEMPLATES for c in names]
    return out


def labels(raw: Raw) -> dict[str, Tensor]:
    """`test_owner`, the text ids of the captions (`train_text_ids` (N, m), `test_text_ids`: equal for
    identical strings, over train and test together) and, with classes, `zs_labels`."""
    strings = texts(raw)
    row: dict[str, int] = {}
    ids = {
        k: torch.tensor([row.setdefault(s, len(row)) for s in strings[k]]) for k in ("train_b", "test_texts")
    }
    out = {
        "test_owner": torch.tensor([i for i, caps in enumerate(raw.test.captions) for _ in caps]),
        "train_text_ids": ids["train_b"].view(len(raw.train.captions), -1),
        "test_text_ids": ids["test_texts"],
    }
    if zero_shot(raw):
        out["zs_labels"] = torch.tensor(raw.test.labels)
    return out


def _shaped(n: int, values: dict[str, Tensor]) -> dict[str, Tensor]:
    """Text inputs with the captions of the n train images as (n, m, ·)."""
    return {k: v.view(n, -1, *v.shape[1:]) if k == "train_b" else v for k, v in values.items()}


def data_key(p: dict[str, Any]) -> dict[str, Any]:
    """What identifies the data and texts: the source's identity, the source parameters, the contamination
    policy and the caption templates (of the class prompts)."""
    names = (*SOURCE_PARAMS, "contamination")
    return {"identity": sources.identity(p), **{k: p[k] for k in names}, "templates": templates.TEMPLATES}


def sentences(
    p: dict[str, Any], n: int, strings: Callable[[], dict[str, list[str]]], encoder: str
) -> dict[str, Tensor]:
    """Sentence features (float32) of `encoder` of every text input, the captions of the n train images as
    (n, m, F): cached under the data's identity (tasks/_sentences.py `cached`; `strings`, the texts, only
    called to build them), the same entry for every encoder and mode of the task."""
    return _shaped(n, _sentences.cached("vl-text", {"data": data_key(p)}, strings, encoder))


def image_size(p: dict[str, Any]) -> int:
    """The side in pixels of the cnn and released encoders' images (`image_size`, 0: their default)."""
    return p["image_size"] or (CNN_SIZE if p["encoder"] == "cnn" else RELEASED_SIZE)


def finetune(p: dict[str, Any], raw: Raw, tokenize, size: int) -> dict[str, Any]:
    """Raw-pixel inputs: images as ImagePools of `size` px, texts as tokens (`tokenize`, open_clip's
    tokenizer) or, without one, as sentence features."""
    words = texts(raw)
    n = len(raw.train.captions)
    if tokenize:
        text_inputs = _shaped(n, {k: tokenize(v) for k, v in words.items()})
    else:
        text_inputs = sentences(p, n, lambda: words, p["text_encoder"])
    pools = {"train_a": ImagePool(raw.train.images, size), "test_images": ImagePool(raw.test.images, size)}
    return {**pools, **text_inputs, **labels(raw)}


def _encode(tower: nn.Module, items: Any, device: torch.device, desc: str, view=None, unit=True) -> Tensor:
    """tasks/_frozen.py `unit_features`, BATCH rows at a time (as they are where `unit` is false: the
    inputs of CLIP's own projections, heads=clip)."""
    return unit_features(tower, items, device, BATCH, desc, view, unit)


class _Rows:
    """Rows start .. end of a pool (anything with `take`), as a pool of its own."""

    def __init__(self, pool: Any, start: int, end: int):
        self.pool, self.start, self.end = pool, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def take(self, idx: Tensor) -> Tensor:
        return self.pool.take(idx + self.start)


def _views_of(p: dict[str, Any], k: int, first: int):
    """The transform of view k of the batches of train images from row `first` on: each batch's SimCLR
    views drawn from a generator of its own (seeded by view_seed, k and the batch's first row), so that
    the features do not depend on how the rows are cut into shards."""
    starts = itertools.count(first, BATCH)  # unit_features takes its batches of BATCH rows in order

    def view(x: Tensor) -> Tensor:
        return augment_batch(x, view_generator(VIEW_SEED + p["view_seed"], next(starts), f"vl-frozen-{k}"))

    return view


def _train_shards(
    p: dict[str, Any], tower: nn.Module, pool: ImagePool, device, unit: bool
) -> Iterator[Tensor]:
    """The frozen features of the train images, SHARD images at a time (a multiple of BATCH): (n, 1 +
    n_views, F) half, the original image's features at row 0, then those of n_views augmented views."""
    starts = range(0, len(pool), SHARD)
    for start in tqdm(starts, desc="train image shards", leave=False, disable=len(starts) < 2):
        part = _Rows(pool, start, min(start + SHARD, len(pool)))
        rows = [_encode(tower, part, device, "train images", unit=unit)]
        rows += [
            _encode(tower, part, device, f"view {k + 1}", _views_of(p, k, start), unit)
            for k in range(p["n_views"])
        ]
        yield torch.stack(rows, dim=1)


def _build_frozen(
    p: dict[str, Any],
    towers: tuple[nn.Module, nn.Module | None],
    tokenize,
    size: int,
    folder: Path,
    extra: dict[str, Tensor] | None = None,
) -> None:
    """Write every frozen input of `p` into `folder`: the train images' features as shards
    (bench/shards.py), the test images' and the text tower's (open_clip) or the sentence features, with
    the labels, `about` and the `extra` tensors, as one tensors file. With `extra` (CLIP's own projections,
    heads=clip) the features are the inputs of those projections as they are, else unit rows."""
    raw = read(p)
    x = finetune(p, raw, tokenize, size)
    out: dict[str, Any] = {"about": json.dumps(raw.about), **labels(raw), **(extra or {})}
    unit = not extra
    device = default_device()
    with torch.no_grad():
        image = towers[0].to(device).eval()
        shards.write(folder, "train_a", _train_shards(p, image, x["train_a"], device, unit))
        out["test_images"] = _encode(image, x["test_images"], device, "test", unit=unit)
        for key in texts(raw):
            if towers[1] is None:
                out[key] = x[key].half()
            else:
                tokens = x[key].flatten(0, 1) if key == "train_b" else x[key]
                out[key] = _encode(towers[1].to(device).eval(), tokens, device, key, unit=unit)
        out["train_b"] = out["train_b"].view(len(raw.train.captions), -1, out["train_b"].shape[-1])
    torch.save(out, folder / cache.TENSORS)


def frozen(p: dict[str, Any]) -> dict[str, Any]:
    """The cached frozen inputs of `p` (built on a miss; the released ResNet-34 is built first, its
    weights, ImageNet or random, being part of the key): `train_a` the memory-mapped shards of the train
    images' features (bench/shards.py `Rows`, float32 rows on `take`), the other features as float32,
    `about` a dict, and for encoder=released `image_weights` (imagenet or random)."""
    key = {"data": data_key(p), **{k: p[k] for k in ("encoder", "n_views", "view_seed")}, "views": "batch"}
    key |= {"layout": "shards", "shard": SHARD}
    if p["encoder"] == "released":
        model, weights = resnet34(p["pretrained"] != "none")
        key |= {"weights": weights, "text_encoder": p["text_encoder"], "image_size": image_size(p)}

        def build(folder: Path) -> None:
            _build_frozen(p, (ResNetTower(model, True), None), None, image_size(p), folder)
    else:
        key |= {"weights": p["pretrained"]}

        own = p["heads"] == "clip"
        key |= {"features": "before CLIP's projections"} if own else {}  # heads=fresh: the key it had

        def build(folder: Path) -> None:
            model, tokenize, size, mean, std = _openclip.build(p["encoder"], p["pretrained"], "vl")
            extra = _openclip.projection_tensors(model, "vl") if own else {}
            _build_frozen(p, _openclip.towers(model, mean, std, True), tokenize, size, folder, extra)

    folder = cache.entry("vl-features", key, build)
    found = dict(torch.load(folder / cache.TENSORS, mmap=True, weights_only=True))
    about = json.loads(found.pop("about"))
    out = {k: v.float() if v.is_floating_point() else v for k, v in found.items()}
    if p["encoder"] == "released":
        out["image_weights"] = weights  # imagenet or random: what the frozen image features are
    return {**out, "train_a": shards.Rows(folder, "train_a"), "about": about}
