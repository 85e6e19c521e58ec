"""Where the remote sensing data comes from: `hf:<owner>/<name>` (a Hugging Face hub dataset, its
snapshot downloaded by tasks/hub.py), `hf:/path/to/folder` or `local:DIR` (a folder laid out like such
a repository, or the flat layouts below), or `synthetic[:N]` (generated scenes, offline: synthetic.py).

The defaults are the S-CLIP sets; each folder is read by the layout it has (layouts.py): the parquet
splits of arampacha/rsicd and danielz01/rsicd and jonathan-roberts1/WHU-RS19, the Karpathy
`dataset.json` zip of isaaccorley/Sydney-Captions, the class-folder zip and split lists of
torchgeo/ucmerced, the image folders of blanchon/RSSCN7 and blanchon/AID. Flat folders work too:
`DIR/<split>*.parquet` with columns filename, captions, image, or `DIR/<class>/<image>`.
DEFAULT_SPLITS is S-CLIP's protocol: retrieval on the `val` split of each caption set, RSICD-CLS on
RSICD's `val` images, the other zero-shot sets on every image; the train pool is always `train`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bench.errors import BenchError
from tasks import hub
from tasks.rs import layouts
from tasks.rs.layouts import CaptionSplit, ClassSet, Where

CAPTION_SETS = {"rsicd": "hf:arampacha/rsicd", "ucm": "", "sydney": "hf:isaaccorley/Sydney-Captions"}
ZS_SETS = {
    "rsicd_cls": "hf:danielz01/rsicd",
    "ucm_cls": "hf:torchgeo/ucmerced",
    "whu_rs19": "hf:jonathan-roberts1/WHU-RS19",
    "rsscn7": "hf:blanchon/RSSCN7",
    "aid": "hf:blanchon/AID",
}
DEFAULT_SPLITS = {
    "rsicd": "val",
    "ucm": "val",
    "sydney": "val",
    "rsicd_cls": "val",
    "ucm_cls": "all",
    "whu_rs19": "all",
    "rsscn7": "all",
    "aid": "all",
}
CAPTION_LAYOUT = (
    "parquet splits with columns filename, captions, image, or a Karpathy dataset.json with its images"
)
CLASS_LAYOUT = "one folder of images per class, or a parquet with image and label columns"
PREFIXED = re.compile(r"^[a-z][A-Z]")  # RSSCN7's ordering letter: aGrass, bField, …


def check(name: str, source: str) -> None:
    """A one-line error unless `source` is `hf:<owner/name>`, `hf:/folder`, `local:DIR` or `synthetic[:N]`."""
    if not source:
        raise BenchError(
            f"task rs: {name} has no source; set {name}=hf:<repo> or {name}=local:DIR "
            f"({CLASS_LAYOUT if name in ZS_SETS else CAPTION_LAYOUT}), or {name}=synthetic"
        )
    kind, _, where = source.partition(":")
    if kind == "synthetic":
        from tasks.rs import synthetic

        synthetic.size(source)
    elif kind == "hf" and where:
        hub.check(where, f"task rs: {name}")
    elif kind != "local" or not where:
        raise BenchError(
            f"task rs: {name}={source!r}: expected hf:<owner>/<name>, hf:/folder, local:DIR or synthetic[:N]"
        )


def folder(name: str, source: str) -> Path:
    """The folder an `hf:` or `local:` source is read from (an hf repository is downloaded once)."""
    what = f"task rs: {name}"
    if source.startswith("hf:"):
        return hub.locate(source[3:], what).folder
    path = Path(source[6:]).expanduser().resolve()
    if not path.is_dir():
        raise BenchError(
            f"{what}: {source} is not a folder; set {name}=local:DIR with "
            f"{CLASS_LAYOUT if name in ZS_SETS else CAPTION_LAYOUT}"
        )
    return path


def identity(name: str, source: str) -> dict:
    """What identifies the data, for cache keys: the hub commit, the files of a local folder (relative
    path, size, time), or for generated data the source and the generator's code."""
    check(name, source)
    if source.startswith("synthetic"):
        from tasks.rs import synthetic

        code = hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:16]
        return {"source": source, "code": code}
    if source.startswith("hf:"):
        return hub.locate(source[3:], f"task rs: {name}").identity
    path = folder(name, source)
    return {"folder": str(path), "files": hub.fingerprint(path)}


def captions(name: str, source: str, split: str) -> CaptionSplit:
    """The (image, captions) items of split `split` (train, val or test) of caption set `name`."""
    check(name, source)
    if source.startswith("synthetic"):
        from tasks.rs import synthetic

        return synthetic.captions(name, source, split)
    return layouts.captions(folder(name, source), split, Where(name, source))


def classes(name: str, source: str, split: str) -> ClassSet:
    """The labelled images of zero-shot set `name`: split `all` (every image) or a named split."""
    check(name, source)
    if source.startswith("synthetic"):
        from tasks.rs import synthetic

        return synthetic.classes(name, source, split)
    found = layouts.classes(folder(name, source), split, Where(name, source))
    if name == "rsscn7" and all(PREFIXED.match(c) for c in found.classes):
        found.classes = [c[1:] for c in found.classes]  # as S-CLIP reads it: "aGrass" → "Grass"
    return found
