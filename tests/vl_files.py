"""Small Flickr30k / COCO / Fashion-MNIST files in the layouts the real releases have, for the vl tests.

Karpathy JSON (`dataset_flickr30k.json`, `dataset_coco.json`) with its real fields and split values and
JPEG images in the real folders; nlphuji/flickr30k's main branch (CSV of JSON-encoded captions, zip of
`flickr30k-images/`) and its parquet export (`TEST/test/0000.parquet`); yerevann/coco-karpathy's
caption parquets (`data/<split>-00000-of-00001.parquet`); gzipped IDX files. Every image is distinct in
pixels (rs_files.image: a solid colour per uid).
"""

from __future__ import annotations

import csv
import gzip
import json
import zipfile
from pathlib import Path

import datasets
import numpy as np
import rs_files

FLICKR_SPLITS = {"train": 4, "val": 2, "test": 3}
COCO_SPLITS = {"train": 3, "restval": 2, "val": 2, "test": 3}
COCO_FOLDER = {"train": "train2014", "restval": "val2014", "val": "val2014", "test": "val2014"}
FLICKR_EXPORT = datasets.Features(
    {
        "image": datasets.Image(),
        "caption": [datasets.Value("string")],
        "sentids": [datasets.Value("string")],
        "split": datasets.Value("string"),
        "img_id": datasets.Value("string"),
        "filename": datasets.Value("string"),
    }
)
YEREVANN = datasets.Features(
    {
        "filepath": datasets.Value("string"),
        "sentids": [datasets.Value("int32")],
        "filename": datasets.Value("string"),
        "imgid": datasets.Value("int32"),
        "sentences": [datasets.Value("string")],
        "cocoid": datasets.Value("int32"),
        "url": datasets.Value("string"),
    }
)
YEREVANN_SPLITS = {"train": "train", "validation": "val", "test": "test", "restval": "restval"}


def captions(uid: int) -> list[str]:
    """The 5 captions of image `uid`."""
    return [f"picture {uid} caption {j}" for j in range(5)]


def entries(dataset: str) -> list[dict]:
    """The Karpathy JSON entries of `dataset`, in the release's field names."""
    counts = COCO_SPLITS if dataset == "coco" else FLICKR_SPLITS
    out = []
    for split, n in counts.items():
        for _ in range(n):
            uid = len(out)
            sentences = [
                {"tokens": c.split(), "raw": c, "imgid": uid, "sentid": 5 * uid + j}
                for j, c in enumerate(captions(uid))
            ]
            entry = {"sentids": [s["sentid"] for s in sentences], "imgid": uid, "sentences": sentences}
            if dataset == "coco":
                folder = COCO_FOLDER[split]
                name = f"COCO_{folder}_{391895 + uid:012d}.jpg"
                entry |= {"filepath": folder, "filename": name, "cocoid": 391895 + uid}
            else:
                entry |= {"filename": f"{1000092795 + uid}.jpg"}
            out.append({**entry, "split": split})
    return out


def path_of(entry: dict) -> str:
    """Where an entry's image lies under the image root (COCO: under its filepath)."""
    return f"{entry['filepath']}/{entry['filename']}" if "filepath" in entry else entry["filename"]


def karpathy(root: Path, dataset: str, images: str | None = "flickr30k-images") -> Path:
    """`root/dataset_<dataset>.json` and its images (Flickr30k's in `root/<images>/`, COCO's under
    `root/<filepath>/`; none when `images` is None)."""
    root.mkdir(parents=True, exist_ok=True)
    items = entries(dataset)
    (root / f"dataset_{dataset}.json").write_text(json.dumps({"images": items, "dataset": dataset}))
    if images is not None:
        folder = root if dataset == "coco" else root / images
        for e in items:
            write(folder / path_of(e), rs_files.image(e["imgid"], "JPEG"))
    return root


def write(path: Path, data: bytes) -> None:
    """`data` at `path`, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def nlphuji(root: Path) -> Path:
    """nlphuji/flickr30k's main branch: README, loading script, annotations CSV, images zip."""
    root.mkdir(parents=True, exist_ok=True)
    items = entries("flickr30k")
    (root / "README.md").write_text("# Flickr30k\n")
    (root / "flickr30k.py").write_text("# the repository's loading script, which datasets 5 does not run\n")
    with open(root / "flickr_annotations_30k.csv", "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["raw", "sentids", "split", "filename", "img_id"])
        for e in items:
            raw = json.dumps([s["raw"] for s in e["sentences"]])
            out.writerow([raw, json.dumps(e["sentids"]), e["split"], e["filename"], e["imgid"]])
    with zipfile.ZipFile(root / "flickr30k-images.zip", "w") as z:
        for e in items:
            z.writestr(f"flickr30k-images/{e['filename']}", rs_files.image(e["imgid"], "JPEG"))
    return root


def nlphuji_export(root: Path) -> Path:
    """nlphuji/flickr30k's parquet export (refs/convert/parquet): every row in `TEST/test/0000.parquet`."""
    items = entries("flickr30k")
    rows = {
        "image": [{"bytes": rs_files.image(e["imgid"], "JPEG"), "path": e["filename"]} for e in items],
        "caption": [[s["raw"] for s in e["sentences"]] for e in items],
        "sentids": [[str(i) for i in e["sentids"]] for e in items],
        "split": [e["split"] for e in items],
        "img_id": [str(e["imgid"]) for e in items],
        "filename": [e["filename"] for e in items],
    }
    path = root / "TEST" / "test" / "0000.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(rows, features=FLICKR_EXPORT).to_parquet(str(path))
    return root


def yerevann(root: Path) -> Path:
    """yerevann/coco-karpathy: a README without configs and one caption parquet per split (no images)."""
    items = entries("coco")
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("---\nlanguage:\n- en\npretty_name: COCO Karpathy split\n---\n# coco\n")
    for name, split in YEREVANN_SPLITS.items():
        chosen = [e for e in items if e["split"] == split]
        rows = {
            "filepath": [e["filepath"] for e in chosen],
            "sentids": [e["sentids"] for e in chosen],
            "filename": [e["filename"] for e in chosen],
            "imgid": [e["imgid"] for e in chosen],
            "sentences": [[s["raw"] for s in e["sentences"]] for e in chosen],
            "cocoid": [e["cocoid"] for e in chosen],
            "url": [f"http://images.cocodataset.org/{path_of(e)}" for e in chosen],
        }
        path = root / "data" / f"{name}-00000-of-00001.parquet"
        datasets.Dataset.from_dict(rows, features=YEREVANN).to_parquet(str(path))
    return root


def idx(path: Path, values: np.ndarray, magic: int) -> None:
    """A gzipped IDX file: big-endian magic, each dimension, then the uint8 values."""
    header = b"".join(int(v).to_bytes(4, "big") for v in (magic, *values.shape))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header + values.astype(np.uint8).tobytes()))


def fashion(root: Path, n_train: int = 30, n_test: int = 10) -> Path:
    """The four Fashion-MNIST IDX files under `root`: image i is uniformly i, its label i % 10."""
    for stem, n in (("train", n_train), ("t10k", n_test)):
        images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None], (n, 28, 28))
        idx(root / f"{stem}-images-idx3-ubyte.gz", images, 2051)
        idx(root / f"{stem}-labels-idx1-ubyte.gz", np.arange(n) % 10, 2049)
    return root
