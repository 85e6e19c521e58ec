"""The `debian:fashion-mnist` source: Zalando's Fashion-MNIST as Debian's `dataset-fashion-mnist` ships it.

The package puts the four IDX files of the original release under ROOT
(`{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`): 60,000 train and 10,000 test images of 28 × 28
grey pixels, each with one of the 10 classes of CLASSES (their order and names from the dataset's
README). An IDX file is a big-endian header (magic 2051 for images, 2049 for labels, then the count
and, for images, rows and columns) followed by the uint8 values; `read` checks the header against the
file's size, so a truncated or foreign file is one line, not a reshaping error.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np

from bench import apt
from bench.errors import BenchError
from tasks import hub

ROOT = Path("/usr/share/datasets/fashion-mnist")
PACKAGE = "dataset-fashion-mnist"  # in the vl task's debian_packages
SPLITS = {"train": "train", "test": "t10k"}
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
OTHER_SOURCES = "or use source=local:DIR (a Karpathy split), source=hf:<repo> or source=synthetic"


def paths(root: Path, split: str) -> tuple[Path, Path]:
    """The image and label files of `split` (train or test) under `root`."""
    stem = SPLITS[split]
    return root / f"{stem}-images-idx3-ubyte.gz", root / f"{stem}-labels-idx1-ubyte.gz"


def present(root: Path) -> bool:
    """Whether `root` holds all four IDX files."""
    return all(p.is_file() for split in SPLITS for p in paths(root, split))


def ensure_installed(root: Path) -> None:
    """Install the Debian package when the files are missing from ROOT (as root), else a BenchError
    saying how; a `root` other than ROOT (a copy, a test's files) must simply hold the files."""
    if root == ROOT and not present(root):
        apt.ensure("vl", (PACKAGE,), "the source debian:fashion-mnist", OTHER_SOURCES)
    if not present(root):
        missing = [p.name for split in SPLITS for p in paths(root, split) if not p.is_file()]
        hint = f"reinstall it with `sudo apt-get install --reinstall {PACKAGE}`" if root == ROOT else ""
        raise BenchError(
            f"task vl: {root} lacks the Fashion-MNIST file(s) {', '.join(missing)}; "
            f"{hint or 'give a folder with the four IDX files'}"
        )


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array of a gzipped IDX file whose header must start with `magic`."""
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise BenchError(
            f"task vl: cannot read {path} ({exc}); reinstall {PACKAGE} or replace the file"
        ) from None
    ndim = magic - 2048
    head = 4 + 4 * ndim
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic or len(data) < head:
        raise BenchError(
            f"task vl: {path} is not an IDX file of magic {magic} (found {found}); replace the file"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    if len(data) != head + int(np.prod(shape)):
        raise BenchError(
            f"task vl: {path} holds {len(data) - head:,} values, its header says {shape}; replace the file"
        )
    return np.frombuffer(data, np.uint8, offset=head).reshape(shape)


def read(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The images (N, 28, 28) and labels (N,) of `split`, checked to agree in count and range."""
    ensure_installed(root)
    image_path, label_path = paths(root, split)
    images, labels = read_idx(image_path, IMAGES_MAGIC), read_idx(label_path, LABELS_MAGIC)
    if len(images) != len(labels) or (len(labels) and labels.max() >= len(CLASSES)):
        raise BenchError(
            f"task vl: {image_path.name} has {len(images):,} images, {label_path.name} "
            f"{len(labels):,} labels (classes 0–{len(CLASSES) - 1} expected); replace the files"
        )
    return images, labels


def version() -> str:
    """The installed version of the Debian package, or `not installed`."""
    run = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 and run.stdout.strip() else "not installed"


def identity(root: Path) -> dict:
    """What identifies the files: the package version (for ROOT) and their paths, sizes and times."""
    found = {"folder": str(root), "files": hub.fingerprint(root) if root.is_dir() else "missing"}
    return {"package": PACKAGE, "version": version(), **found} if root == ROOT else found
