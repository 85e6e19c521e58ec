"""The readers of the hub copies of Flickr30k and COCO (Karpathy's split), on a folder: a snapshot of
the repository (tasks/hub.py) or a local copy laid out the same way.

Detection, in order:
1. `flickr_annotations_30k.csv` (nlphuji/flickr30k's main branch): one row per image with `raw` (a JSON
   list of the 5 captions), `sentids`, `split` (Karpathy's train/val/test), `filename`, `img_id`; the
   images are the members of `flickr30k-images.zip` (the repository's loading script no longer runs
   under `datasets` 5, so the files are read directly), or the files under `image_root`.
2. table files, through `datasets.load_dataset(folder)`:
   - with an image column and a `split` column (nlphuji/flickr30k's parquet export, `TEST/test/*.parquet`:
     image, caption, sentids, split, img_id, filename; every row in one `test` split): the Karpathy
     split is the column's value;
   - without an image column (yerevann/coco-karpathy: `data/{train,validation,test,restval}-*.parquet`
     with filepath, sentids, filename, imgid, sentences, cocoid, url): captions only, the split is the
     file's, and the images are COCO's own under `image_root` (`<image_root>/<filepath>/<filename>`).
Either way train is `train` (+ `restval`), test is `test`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bench.errors import BenchError
from tasks.rs import lazy
from tasks.rs.layouts import Files
from tasks.vl import karpathy

FLICKR_CSV = "flickr_annotations_30k.csv"
FLICKR_ZIP = "flickr30k-images.zip"
SPLITS = {"train": ("train", "restval"), "test": ("test",)}
CAPTION_COLUMNS = ("caption", "captions", "sentences", "raw")
LAYOUTS = (
    f"{FLICKR_CSV} with {FLICKR_ZIP} (nlphuji/flickr30k), parquet with image, caption and split columns "
    "(its parquet export), or caption parquet splits with filepath and filename (yerevann/coco-karpathy)"
)

Split = tuple[Sequence[bytes], list[list[str]]]


def read(folder: Path, image_root: Path | None, where: str) -> dict[str, Split]:
    """The train and test (images, captions) of the hub copy in `folder`."""
    if (folder / FLICKR_CSV).is_file():
        return _flickr_csv(folder, image_root, where)
    if any(PurePosixPath(n).suffix in (".parquet", ".arrow") for n in Files(folder).names):
        return _tables(_load(folder), image_root, where)
    raise BenchError(
        f"task vl: {where}: {folder} holds none of the known layouts ({LAYOUTS}); give one of them"
    )


def _load(folder: Path):
    """The splits of the table files in `folder`, as `datasets` infers them."""
    import datasets

    return datasets.load_dataset(str(folder))


def _flickr_csv(folder: Path, image_root: Path | None, where: str) -> dict[str, Split]:
    """nlphuji/flickr30k's main branch: the CSV of captions and splits, the zip of images."""
    with open(folder / FLICKR_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"raw", "split", "filename"} <= set(rows[0]):
        raise BenchError(
            f"task vl: {where}: {FLICKR_CSV} has columns {', '.join(rows[0])}; expected raw, split, filename"
        )
    out = {}
    for name, splits in SPLITS.items():
        chosen = [r for r in rows if r["split"] in splits]
        entries = karpathy.Entries([r["filename"] for r in chosen], [json.loads(r["raw"]) for r in chosen])
        out[name] = (_flickr_images(folder, image_root, entries, where), entries.captions)
    return out


def _flickr_images(folder: Path, image_root: Path | None, entries: karpathy.Entries, where: str):
    """The images of `entries`: from `image_root` when given, else the members of the zip."""
    if image_root is not None:
        return karpathy.images(image_root, "flickr30k", entries, where)
    zipped = folder / FLICKR_ZIP
    if not zipped.is_file():
        raise BenchError(
            f"task vl: {where}: no {zipped}; download it with the repository, or set image_root="
        )
    members = {PurePosixPath(n).name: n for n in Files(zipped).images()}
    missing = [p for p in entries.paths if p not in members]
    if missing:
        raise BenchError(
            f"task vl: {where}: {len(missing):,} images are not in {FLICKR_ZIP} (first: {missing[0]}); "
            "download the whole zip again"
        )
    return lazy.members(zipped, [members[p] for p in entries.paths])


def _image_column(table) -> str | None:
    """The first column of images, if any."""
    import datasets

    found = [n for n, f in table.features.items() if isinstance(f, datasets.Image)]
    return found[0] if found else None


def _caption_column(table, where: str) -> str:
    """The column of caption lists; a one-line error naming the columns when none is."""
    column = next((c for c in CAPTION_COLUMNS if c in table.column_names), None)
    if column is None:
        raise BenchError(
            f"task vl: {where}: columns {', '.join(table.column_names)}; expected one of "
            f"{', '.join(CAPTION_COLUMNS)} ({LAYOUTS})"
        )
    return column


def _texts(captions) -> list[str]:
    """The caption strings of a row: a list of strings or of Karpathy sentence records."""
    return [c["raw"] if isinstance(c, dict) else c for c in captions]


def _tables(found, image_root: Path | None, where: str) -> dict[str, Split]:
    """The splits of table files: by their split column, or caption-only tables by file."""
    first = found[next(iter(found))]
    if _image_column(first) is not None and "split" in first.column_names:
        return _split_column(found, where)
    if _image_column(first) is None:
        return _captions_only(found, image_root, where)
    raise BenchError(f"task vl: {where}: tables with an image column but no split column; expected {LAYOUTS}")


def _split_column(found, where: str) -> dict[str, Split]:
    """Tables whose `split` column holds the Karpathy split (nlphuji/flickr30k's parquet export)."""
    out = {}
    for name, splits in SPLITS.items():
        images, captions = [], []
        for table in found.values():
            rows = [i for i, s in enumerate(table["split"]) if s in splits]
            images.append(lazy.rows(table, _image_column(table)).take(rows))
            texts = table[_caption_column(table, where)]
            captions += [_texts(texts[i]) for i in rows]
        out[name] = (lazy.concat(images), captions)
    return out


def _captions_only(found, image_root: Path | None, where: str) -> dict[str, Split]:
    """Caption tables split by file (yerevann/coco-karpathy); the images are COCO's under `image_root`."""
    if image_root is None:
        raise BenchError(
            f"task vl: {where} holds captions without images; set image_root= to the folder of COCO's "
            "train2014/ and val2014/"
        )
    missing = [s for s in ("train", "test") if s not in found]
    if missing:
        raise BenchError(
            f"task vl: {where} has no {missing[0]} split (it has {', '.join(found)}); expected {LAYOUTS}"
        )
    columns = found["test"].column_names
    if not {"filepath", "filename"} <= set(columns):
        raise BenchError(
            f"task vl: {where}: caption tables with columns {', '.join(columns)}, without filepath and "
            f"filename; expected {LAYOUTS}"
        )
    out = {}
    for name, splits in SPLITS.items():
        tables = [found[s] for s in splits if s in found]
        paths = [f"{d}/{f}" for t in tables for d, f in zip(t["filepath"], t["filename"], strict=True)]
        captions = [_texts(c) for t in tables for c in t[_caption_column(t, where)]]
        entries = karpathy.Entries(paths, captions)
        out[name] = (karpathy.images(image_root, "coco", entries, where), captions)
    return out
