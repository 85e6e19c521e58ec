"""Small remote sensing folders in the layouts the hub repositories really have, for the rs tests.

Each builder writes one repository's files (names, README YAML, dataset_infos.json, parquet written by
`datasets` with the hub's features, zips with their internal folders, Karpathy JSON, split lists);
tiny images, every one distinct in pixels (`image(uid)`: a solid colour per uid, 8 levels apart per
channel so that JPEG keeps them apart), unless a test asks for the same uid twice.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

CLASSES = ("denseResidential", "baseball_diamond", "river")  # the flat class folders
WORDS = ("river", "airport", "forest", "bridge", "farmland", "beach")
RSICD_SPLITS = {"train": 8, "valid": 4, "test": 2}  # arampacha/rsicd's split names
DANIEL_SPLITS = {"train": 6, "val": 3}  # danielz01/rsicd: no test split
KARPATHY_SPLITS = {"train": 8, "val": 4, "test": 2}
LAND_COVER = ("airport", "beach", "river")  # danielz01's land_cover values (a string column)
UCM_CLASSES = ("agricultural", "airplane", "river")  # torchgeo/ucmerced's class folders
UCM_LISTS = {"train": (0, 1), "val": (2,), "test": (3,)}  # image numbers per uc_merced-<split>.txt
WHU_CLASSES = ("airport", "beach", "football field")  # jonathan-roberts1/WHU-RS19's ClassLabel names
RSSCN7_CLASSES = ("aGrass", "bField", "cIndustry")  # blanchon/RSSCN7's folders, S-CLIP's letter prefix
AID_CLASSES = ("Airport", "BareLand", "River")  # blanchon/AID's folders
CAPTION_FEATURES = datasets.Features(
    {
        "filename": datasets.Value("string"),
        "captions": datasets.Sequence(datasets.Value("string")),
        "image": datasets.Image(),
    }
)
DANIEL_FEATURES = datasets.Features(
    {
        "image": datasets.Image(),
        "path": datasets.Value("string"),
        "img_id": datasets.Value("int64"),
        "land_cover": datasets.Value("string"),
        "captions": datasets.Sequence(datasets.Value("string")),
        "caption_ids": datasets.Sequence(datasets.Value("int64")),
    }
)


def image(uid: int, fmt: str = "PNG", size: int = 8) -> bytes:
    """A tiny solid image whose colour is `uid`'s own (uid < 32768)."""
    colour = tuple(8 * ((uid >> shift) & 31) + 4 for shift in (0, 5, 10))
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def png(seed: int, size: int = 40) -> bytes:
    """A tiny PNG of colour `seed` (the image of item `seed` of the flat caption parquets)."""
    return image(seed, "PNG", size)


def caption_texts(uid: int) -> list[str]:
    return [f"a {WORDS[(uid + j) % len(WORDS)]} seen from above {j}" for j in range(5)]


def _zip(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def caption_parquet(path: Path, n: int, offset: int) -> None:
    """The old flat layout: n items with columns filename, captions, image (struct bytes, path), written
    by pyarrow without the hub's feature metadata."""
    rows = [
        {
            "filename": f"img_{offset + i}.png",
            "captions": caption_texts(offset + i),
            "image": {"bytes": png(offset + i), "path": None},
        }
        for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def class_folders(root: Path, per_class: int = 2, base: int = 100) -> None:
    """The old flat layout: root/<class>/<i>.png."""
    for c, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (folder / f"{i}.png").write_bytes(png(base + 10 * c + i))


def arampacha_rsicd(root: Path, base: int = 1000) -> Path:
    """hf:arampacha/rsicd: data/<split>-00000-of-00001.parquet (train, valid, test), no README, and the
    legacy dataset_infos.json that names the splits (which `datasets` then uses)."""
    uid = base
    for split, n in RSICD_SPLITS.items():
        rows = {"filename": [], "captions": [], "image": []}
        for _ in range(n):
            rows["filename"].append(f"{WORDS[uid % len(WORDS)]}_{uid}.jpg")
            rows["captions"].append(caption_texts(uid))
            rows["image"].append({"bytes": image(uid, "JPEG"), "path": None})
            uid += 1
        out = root / "data" / f"{split}-00000-of-00001.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict(rows, features=CAPTION_FEATURES).to_parquet(out)
    _write(root / "dataset_infos.json", json.dumps({"arampacha--rsicd": ARAMPACHA_INFO}))
    return root


def _legacy_value() -> dict:
    return {"dtype": "string", "id": None, "_type": "Value"}


# hf:arampacha/rsicd's dataset_infos.json (revision 820466c) as the repository has it: the legacy
# datasets 2.0 form (`Sequence` with length -1, `id` nulls, task_templates, version, checksums), the
# split sizes scaled down to the fixture's.
ARAMPACHA_INFO = {
    "description": "",
    "citation": "",
    "homepage": "",
    "license": "",
    "features": {
        "filename": _legacy_value(),
        "captions": {"feature": _legacy_value(), "length": -1, "id": None, "_type": "Sequence"},
        "image": {"decode": True, "id": None, "_type": "Image"},
    },
    "post_processed": None,
    "supervised_keys": None,
    "task_templates": None,
    "builder_name": "json",
    "config_name": "default",
    "version": {"version_str": "0.0.0", "description": None, "major": 0, "minor": 0, "patch": 0},
    "splits": {
        s: {"name": s, "num_bytes": 1000.5 * n, "num_examples": n, "dataset_name": "rsicd"}
        for s, n in RSICD_SPLITS.items()
    },
    "download_checksums": None,
    "download_size": 52600,
    "post_processing_size": None,
    "dataset_size": 58322.5,
    "size_in_bytes": 110922.5,
}


DANIEL_README = """---
dataset_info:
  features:
  - name: image
    dtype: image
  - name: path
    dtype: string
  - name: img_id
    dtype: int64
  - name: land_cover
    dtype: string
  - name: captions
    sequence: string
  - name: caption_ids
    sequence: int64
  splits:
  - name: train
    num_bytes: 460526263.218
    num_examples: {train}
  - name: val
    num_bytes: 60256331.322
    num_examples: {val}
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: val
    path: data/val-*
---
# Dataset Card for "rsicd"
"""


def danielz01_rsicd(root: Path, base: int = 2000) -> Path:
    """hf:danielz01/rsicd: README configs with splits train and val (no test), land_cover a string."""
    uid = base
    for split, n in DANIEL_SPLITS.items():
        rows = {k: [] for k in DANIEL_FEATURES}
        for i in range(n):
            cover = LAND_COVER[i % len(LAND_COVER)]
            rows["image"].append({"bytes": image(uid, "JPEG"), "path": None})
            rows["path"].append(f"{cover}_{uid}.jpg")
            rows["img_id"].append(uid)
            rows["land_cover"].append(cover)
            rows["captions"].append(caption_texts(uid))
            rows["caption_ids"].append([5 * uid + j for j in range(5)])
            uid += 1
        out = root / "data" / f"{split}-00000-of-00001.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict(rows, features=DANIEL_FEATURES).to_parquet(out)
    _write(root / "README.md", DANIEL_README.format(**DANIEL_SPLITS))
    return root


def karpathy(splits: dict[str, int], base: int, folder: str) -> dict[str, bytes]:
    """A Karpathy-style dataset.json and its images, as members `<folder>/...` of a zip or folder."""
    entries, members = [], {}
    uid = base
    for split, n in splits.items():
        for _ in range(n):
            k = len(entries)
            name = f"{k + 1}.tif"
            caps = caption_texts(uid)
            sentences = [
                {"raw": c, "tokens": c.split(), "imgid": k, "sentid": 5 * k + j} for j, c in enumerate(caps)
            ]
            entries.append(
                {
                    "filename": name,
                    "imgid": k,
                    "split": split,
                    "sentences": sentences,
                    "sentids": [5 * k + j for j in range(5)],
                }
            )
            members[f"{folder}images/{name}"] = image(uid, "TIFF")
            uid += 1
    return {f"{folder}dataset.json": json.dumps({"images": entries, "dataset": "sydney"}).encode(), **members}


def sydney_captions(root: Path, base: int = 3000) -> Path:
    """hf:isaaccorley/Sydney-Captions: Sydney_captions.zip (Sydney_captions/dataset.json and
    Sydney_captions/images/*.tif) and a 31-byte README.md."""
    _zip(root / "Sydney_captions.zip", karpathy(KARPATHY_SPLITS, base, "Sydney_captions/"))
    _write(root / "README.md", "---\nlicense: apache-2.0\n---\n\n\n\n")
    return root


def ucm_captions(root: Path, base: int = 4000) -> Path:
    """UCM-Captions as released (RSICD_optimal): a folder with dataset.json and images/."""
    for name, data in karpathy(KARPATHY_SPLITS, base, "").items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def torchgeo_ucmerced(root: Path, base: int = 5000, per_class: int = 4) -> Path:
    """hf:torchgeo/ucmerced: UCMerced_LandUse.zip (UCMerced_LandUse/Images/<class>/<class>NN.tif) and
    uc_merced-<split>.txt lists of file names beside it."""
    members = {}
    for c, name in enumerate(UCM_CLASSES):
        for i in range(per_class):
            members[f"UCMerced_LandUse/Images/{name}/{name}{i:02d}.tif"] = image(
                base + per_class * c + i, "TIFF"
            )
    _zip(root / "UCMerced_LandUse.zip", members)
    for split, numbers in UCM_LISTS.items():
        _write(
            root / f"uc_merced-{split}.txt",
            "".join(f"{c}{i:02d}.tif\n" for c in UCM_CLASSES for i in numbers),
        )
    _write(root / "README.md", "---\ntask_categories:\n- image-classification\nlanguage:\n- en\n---\n")
    return root


WHU_README = """---
dataset_info:
  features:
  - name: image
    dtype: image
  - name: label
    dtype:
      class_label:
        names:
{names}
  splits:
  - name: train
    num_bytes: 115362308.8
    num_examples: {n}
license: cc-by-4.0
---
# Dataset Card for "WHU-RS19"
"""


def whu_rs19(root: Path, base: int = 6000, per_class: int = 2) -> Path:
    """hf:jonathan-roberts1/WHU-RS19: one train parquet with columns image and label (a ClassLabel)."""
    labels = [c for c in range(len(WHU_CLASSES)) for _ in range(per_class)]
    rows = {
        "image": [{"bytes": image(base + i, "JPEG"), "path": None} for i in range(len(labels))],
        "label": labels,
    }
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=list(WHU_CLASSES))}
    )
    out = root / "data" / "train-00000-of-00001-5f2a0c3e9d1b7a64.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(rows, features=features).to_parquet(out)
    names = "\n".join(f"          '{i}': {n}" for i, n in enumerate(WHU_CLASSES))
    _write(root / "README.md", WHU_README.format(names=names, n=len(labels)))
    return root


def blanchon_image_folder(root: Path, classes: tuple[str, ...], base: int, per_class: int = 2) -> Path:
    """hf:blanchon/RSSCN7 and hf:blanchon/AID: data/<class>/*.jpg, a README.md without configs and a
    thumbnail.png at the root (not one of the images)."""
    for c, name in enumerate(classes):
        for i in range(per_class):
            path = root / "data" / name / f"{name.lower()}_{i + 1}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(image(base + per_class * c + i, "JPEG"))
    (root / "thumbnail.png").write_bytes(image(base + 999, "PNG", 16))
    _write(root / "README.md", "---\nlicense:\n- unknown\ntask_categories:\n- image-classification\n---\n")
    return root


def build(root: Path) -> Path:
    """root/<name> for every rs dataset, each in its default source's layout (ucm: UCM-Captions as
    released)."""
    arampacha_rsicd(root / "rsicd")
    ucm_captions(root / "ucm")
    sydney_captions(root / "sydney")
    danielz01_rsicd(root / "rsicd_cls")
    torchgeo_ucmerced(root / "ucm_cls")
    whu_rs19(root / "whu_rs19")
    blanchon_image_folder(root / "rsscn7", RSSCN7_CLASSES, 7000)
    blanchon_image_folder(root / "aid", AID_CLASSES, 8000)
    return root
