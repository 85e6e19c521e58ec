"""Where the remote sensing data comes from: `hf:<repo>` (Hugging Face hub), `local:DIR`, or
`synthetic[:N]` (generated scenes, offline: synthetic.py).

Caption sets (RSICD, UCM, Sydney): a parquet per split with columns `filename`, `captions` (a list
of strings) and `image` (a struct with `bytes`), as the hub gives them. Zero-shot sets: a hub
image-classification dataset (an image column and a label column), or a folder per class. Every
source gives the same records (CaptionSplit, ClassSet: encoded images, captions, labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

CAPTION_SETS = {"rsicd": "hf:arampacha/rsicd", "ucm": "", "sydney": "hf:isaaccorley/Sydney-Captions"}
ZS_SETS = {
    "rsicd_cls": "hf:danielz01/rsicd",
    "ucm_cls": "hf:torchgeo/ucmerced",
    "whu_rs19": "",
    "rsscn7": "",
    "aid": "",
}
CAPTION_LAYOUT = "a parquet per split (train*.parquet, test*.parquet) with columns filename, captions, image"
CLASS_LAYOUT = "one folder of images per class"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
LABEL_COLUMNS = ("label", "labels", "class", "category", "land_cover")


@dataclass
class CaptionSplit:
    images: list[bytes]
    captions: list[list[str]]


@dataclass
class ClassSet:
    images: list[bytes]
    labels: list[int]
    classes: list[str]


def check(name: str, source: str) -> None:
    """A one-line error unless `source` is `hf:<repo>`, `local:<dir>` or `synthetic[:N]`."""
    if not source:
        raise BenchError(
            f"task rs: {name} has no source; set {name}=hf:<repo> or {name}=local:DIR "
            f"({CLASS_LAYOUT if name in ZS_SETS else CAPTION_LAYOUT}), or {name}=synthetic"
        )
    kind, _, where = source.partition(":")
    if kind == "synthetic":
        from tasks.rs import synthetic

        synthetic.size(source)
    elif kind not in ("hf", "local") or not where:
        raise BenchError(f"task rs: {name}={source!r}: expected hf:<repo>, local:<dir> or synthetic[:N]")


def _missing(name: str, source: str, why: str) -> BenchError:
    layout = CLASS_LAYOUT if name in ZS_SETS else CAPTION_LAYOUT
    return BenchError(
        f"task rs: cannot read {name} from {source} ({why}); fetch it online with "
        f"`python -m bench data rs`, or set {name}=local:DIR with {layout}"
    )


def _hub(name: str, source: str, split: str):
    import datasets

    try:
        found = datasets.load_dataset(source[3:])
    except Exception as e:  # offline, absent, or unreachable: all one message
        raise _missing(name, source, type(e).__name__) from None
    split = (
        split if split in found else next(s for s in ("test", "validation", "valid", "train") if s in found)
    )
    return found[split]


def _image_bytes(value) -> bytes:
    if value.get("bytes"):
        return value["bytes"]
    return Path(value["path"]).read_bytes()


def captions(name: str, source: str, split: str) -> CaptionSplit:
    """The (image, captions) items of one split of a caption set."""
    check(name, source)
    if source.startswith("synthetic"):
        from tasks.rs import synthetic

        return synthetic.captions(name, source, split)
    if source.startswith("hf:"):
        import datasets

        table = _hub(name, source, split).cast_column("image", datasets.Image(decode=False))
        rows = table.select_columns(["image", "captions"]).to_list()
    else:
        import pyarrow.parquet as pq

        files = sorted(Path(source[6:]).glob(f"**/{split}*.parquet"))
        if not files:
            raise _missing(name, source, f"no {split}*.parquet")
        rows = [r for f in files for r in pq.read_table(f, columns=["image", "captions"]).to_pylist()]
    return CaptionSplit([_image_bytes(r["image"]) for r in rows], [list(r["captions"]) for r in rows])


def classes(name: str, source: str) -> ClassSet:
    """The labelled images of a zero-shot set (its test split where the hub has one)."""
    check(name, source)
    if source.startswith("synthetic"):
        from tasks.rs import synthetic

        return synthetic.classes(name, source)
    if source.startswith("local:"):
        root = Path(source[6:])
        folders = sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
        if not folders:
            raise _missing(name, source, "no class folders")
        items = [
            (f.read_bytes(), c)
            for c, d in enumerate(folders)
            for f in sorted(d.iterdir())
            if f.suffix.lower() in IMAGE_SUFFIXES
        ]
        return ClassSet([b for b, _ in items], [c for _, c in items], [d.name for d in folders])
    import datasets

    table = _hub(name, source, "test")
    image = next((c for c in ("image", "img") if c in table.column_names), None)
    label = next((c for c in LABEL_COLUMNS if c in table.column_names), None)
    if image is None or label is None:
        raise BenchError(f"task rs: {source} has no image and label columns: {table.column_names}")
    table = table.cast_column(image, datasets.Image(decode=False))
    values = table[label]
    feature = table.features[label]
    names = feature.names if hasattr(feature, "names") else sorted(set(values))
    labels = values if hasattr(feature, "names") else [names.index(v) for v in values]
    return ClassSet([_image_bytes(v) for v in table[image]], list(labels), list(names))
