"""The `local:DIR` source: Karpathy's split of Flickr30k or COCO, as `dataset_<name>.json` and its images.

The JSON (from Karpathy's neuraltalk release) is `{"images": [...], "dataset": name}`; each image has
`filename`, `split` (train, val, test, and for COCO restval), `sentences` (each with its `raw` text),
and for COCO `filepath` (train2014 or val2014). The images are found under the image root (DIR, or
the `image_root` parameter): Flickr30k's in `flickr30k-images/`, `images/` or the root itself,
COCO's under `<filepath>/`. Train is `train` (+ `restval` for COCO: the usual 113,287 images), test is
`test` (1,000 Flickr30k / 5,000 COCO images). Images are read on demand (tasks/rs/lazy.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from tasks.rs import lazy

DATASETS = ("flickr30k", "coco")
TRAIN_SPLITS = {"flickr30k": ("train",), "coco": ("train", "restval")}
FLICKR_FOLDERS = ("flickr30k-images", "images", ".")


@dataclass
class Entries:
    """The images of one split as the JSON lists them: relative paths and raw captions."""

    paths: list[str]
    captions: list[list[str]]


def index(folder: Path, dataset: str) -> Path:
    """The Karpathy JSON of `dataset` in `folder`; a one-line error naming it when absent."""
    path = folder / f"dataset_{dataset}.json"
    if not path.is_file():
        raise BenchError(
            f"task vl: source=local:{folder} has no {path.name}; give the folder of Karpathy's "
            f"dataset_{dataset}.json (or set dataset= to the one it holds)"
        )
    return path


def read(path: Path, dataset: str) -> list[dict]:
    """The `images` entries of a Karpathy JSON, checked for the fields the reader uses."""
    try:
        items = json.loads(path.read_text())["images"]
        bad = next((e for e in items if not _complete(e, dataset)), None)
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(
            f"task vl: {path} is not a Karpathy split file ({type(exc).__name__}: {exc}); "
            "give the dataset_*.json of Karpathy's release"
        ) from None
    if bad is not None:
        raise BenchError(
            f"task vl: {path}: image {str(bad)[:80]} lacks filename, split, sentences[].raw"
            f"{' or filepath' if dataset == 'coco' else ''}; give the dataset_*.json of Karpathy's release"
        )
    return items


def _complete(entry: dict, dataset: str) -> bool:
    """Whether a JSON image entry has the fields the reader uses."""
    fields = ("filename", "split", "filepath") if dataset == "coco" else ("filename", "split")
    sentences = entry.get("sentences")
    return (
        all(isinstance(entry.get(f), str) for f in fields)
        and isinstance(sentences, list)
        and all(isinstance(s, dict) and isinstance(s.get("raw"), str) for s in sentences)
    )


def entries(items: list[dict], splits: tuple[str, ...], dataset: str) -> Entries:
    """The items of `splits`, with their paths relative to the image root."""
    chosen = [e for e in items if e["split"] in splits]
    rel = [f"{e['filepath']}/{e['filename']}" if dataset == "coco" else e["filename"] for e in chosen]
    return Entries(rel, [[s["raw"] for s in e["sentences"]] for e in chosen])


def image_folder(root: Path, dataset: str, first: str, where: str) -> Path:
    """The folder under `root` that holds the images (Flickr30k: one of FLICKR_FOLDERS)."""
    candidates = [root] if dataset == "coco" else [root / f for f in FLICKR_FOLDERS]
    for folder in candidates:
        if (folder / first).is_file():
            return folder.resolve()
    looked = ", ".join(str(c / first) for c in candidates)
    raise BenchError(
        f"task vl: {where}: no image {first} (looked for {looked}); set image_root= to their folder"
    )


def images(root: Path, dataset: str, split: Entries, where: str) -> lazy.LazyImages:
    """The images of `split`, read on demand; every file must exist (a one-line error names the first)."""
    if not split.paths:
        return lazy.files(root, [])
    folder = image_folder(root, dataset, split.paths[0], where)
    missing = [p for p in split.paths if not (folder / p).is_file()]
    if missing:
        raise BenchError(
            f"task vl: {where}: {len(missing):,} of {len(split.paths):,} images are missing from {folder} "
            f"(first: {missing[0]}); give all the images or set image_root= to their folder"
        )
    return lazy.files(folder, split.paths)
