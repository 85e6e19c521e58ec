"""Small remote sensing files in the hub's schemas, for the rs tests: caption parquets and class folders."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

CLASSES = ("denseResidential", "baseball_diamond", "river")
WORDS = ("river", "airport", "forest", "bridge", "farmland", "beach")


def png(seed: int, size: int = 40) -> bytes:
    """A tiny image whose colour follows `seed`."""
    colour = ((seed * 53) % 256, (seed * 97) % 256, (seed * 29) % 256)
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def caption_parquet(path: Path, n: int, offset: int) -> None:
    """n items with columns filename, captions (5 each), image (struct bytes, path), as on the hub."""
    rows = [
        {
            "filename": f"img_{offset + i}.png",
            "captions": [f"a {WORDS[(offset + i + j) % len(WORDS)]} seen from above {j}" for j in range(5)],
            "image": {"bytes": png(offset + i), "path": None},
        }
        for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def class_folders(root: Path, per_class: int = 2) -> None:
    for c, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (folder / f"{i}.png").write_bytes(png(100 + 10 * c + i))


def build(root: Path) -> Path:
    """root/{rsicd,ucm,sydney}/{train,test}.parquet and root/<zero-shot set>/<class>/*.png."""
    for k, name in enumerate(("rsicd", "ucm", "sydney")):
        caption_parquet(root / name / "train.parquet", 8, 100 * k)
        caption_parquet(root / name / "test.parquet", 4, 100 * k + 50)
    for name in ("rsicd_cls", "ucm_cls", "whu_rs19", "rsscn7", "aid"):
        class_folders(root / name)
    return root
