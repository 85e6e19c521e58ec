"""The readers of each layout a remote sensing dataset comes in, on a folder (a hub snapshot or a local
copy of one).

Detection, in order: (1) table files (parquet, arrow) → `datasets.load_dataset(folder)` (the README
`configs`, or split names inferred from file names); (2) a Karpathy `dataset.json` (captions per
split) in a zip of the folder or in the folder itself; (3) one folder of images per class, in a zip
or in the folder (or its `data/`, as the hub's image folders), with optional `*-<split>.txt` lists of
file names. Every reader gives the same records: CaptionSplit, ClassSet, whose encoded images are
read on demand (lazy.py): a pool larger than memory works.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bench.errors import BenchError
from tasks.rs import lazy

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
TABLE_SUFFIXES = {".parquet", ".arrow"}
CAPTION_COLUMNS = ("captions", "sentences")
LABEL_COLUMNS = ("label", "labels", "class", "category", "land_cover")
ALIASES = {"valid": "val", "validation": "val"}
UNREADABLE_HINT = (
    "give the repository's real files (a git clone without git-lfs holds pointer files: run "
    "`git lfs pull`, or give hf:<owner>/<name> to download it)"
)


@dataclass
class CaptionSplit:
    images: Sequence[bytes]
    captions: list[list[str]]


@dataclass
class ClassSet:
    images: Sequence[bytes]
    labels: list[int]
    classes: list[str]


@dataclass
class Where:
    """What a message names: the dataset and its source."""

    name: str
    source: str

    def __str__(self) -> str:
        return f"task rs: {self.name} ({self.source})"


class Files:
    """The files of a zip or a folder by relative POSIX path (hidden ones and macOS residue aside)."""

    def __init__(self, path: Path, where: Where | None = None):
        self.path = path
        if path.is_dir():
            found = (f.relative_to(path).as_posix() for f in path.rglob("*") if f.is_file())
        else:
            try:
                self.zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise BenchError(
                    f"{where or 'task rs'}: {path.name} is not a readable zip ({_reason(exc)}); "
                    f"{UNREADABLE_HINT}"
                ) from None
            found = (n for n in self.zip.namelist() if not n.endswith("/"))
        hidden = (".", "__MACOSX")
        self.names = sorted(n for n in found if not any(p.startswith(hidden) for p in n.split("/")))

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes() if self.path.is_dir() else self.zip.read(name)

    def images(self) -> list[str]:
        return [n for n in self.names if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES]

    def lazy(self, names: list[str]) -> lazy.LazyImages:
        """The files `names`, read on demand."""
        return lazy.files(self.path, names) if self.path.is_dir() else lazy.members(self.path, names)


def canonical(split: str) -> str:
    """`valid` and `validation` are `val`; other names as they are."""
    return ALIASES.get(split, split)


def pick(split: str, available: list[str], where: Where) -> str:
    """The name among `available` that means `split`; a one-line error when none does."""
    found = [s for s in available if canonical(s) == canonical(split)]
    if not found:
        raise BenchError(
            f"{where} has no {split} split; it has: {', '.join(available)}; "
            f"choose another with splits={where.name}=<one of them>"
        )
    return found[0]


def captions(folder: Path, split: str, where: Where) -> CaptionSplit:
    """The (image, captions) items of one split of the caption set in `folder`."""
    if _tables(folder):
        return _table_captions(_load(folder, where), split, where)
    files = _karpathy_files(folder, where)
    if files is not None:
        return _karpathy(files, split, where)
    zips = sorted(folder.glob("*.zip"))
    if zips:
        raise _unexpected_zip(Files(zips[0], where), where)
    raise BenchError(
        f"{where}: {folder} holds no table files and no Karpathy dataset.json; "
        "give a folder laid out like the hub repository"
    )


def classes(folder: Path, split: str, where: Where) -> ClassSet:
    """The labelled images of split `split` (`all`: every image) of the class set in `folder`."""
    if _tables(folder):
        return _table_classes(_load(folder, where), split, where)
    zips = sorted(folder.glob("*.zip"))
    files = Files(zips[0], where) if zips else Files(folder)
    root = _zip_class_root(files, where) if zips else _folder_class_root(files, where)
    lists = {**_split_lists(Files(folder)), **_split_lists(files)} if zips else _split_lists(files)
    return _class_folders(files, root, lists, split, where)


def _tables(folder: Path) -> bool:
    """Whether `folder` holds table files (hidden folders, such as a download's .cache, aside)."""
    return any(PurePosixPath(n).suffix in TABLE_SUFFIXES for n in Files(folder).names)


def _load(folder: Path, where: Where):
    """Every split of the table files in `folder`; one line when `datasets` cannot read them."""
    import datasets

    try:
        return datasets.load_dataset(str(folder))
    except Exception as exc:  # a corrupt file, a git-lfs pointer, mixed schemas: one line
        raise BenchError(
            f"{where}: cannot read the table files of {folder} ({_reason(exc)}); {UNREADABLE_HINT}"
        ) from None


def _reason(exc: BaseException) -> str:
    """The first line of an exception, as a message's reason."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]}"


def _image_column(table, where: Where) -> str:
    import datasets

    for name, feature in table.features.items():
        if isinstance(feature, datasets.Image) or (isinstance(feature, dict) and "bytes" in feature):
            return name
    raise BenchError(f"{where}: no image column among {', '.join(table.column_names)}; give a table with one")


def _text(caption) -> str:
    return caption["raw"] if isinstance(caption, dict) else caption


def _table_captions(found, split: str, where: Where) -> CaptionSplit:
    table = found[pick(split, list(found), where)]
    image = _image_column(table, where)
    column = next((c for c in CAPTION_COLUMNS if c in table.column_names), None)
    if column is None:
        raise BenchError(
            f"{where}: columns {', '.join(table.column_names)}; a caption set needs an image column "
            f"and one of {', '.join(CAPTION_COLUMNS)}"
        )
    return CaptionSplit(lazy.rows(table, image), [[_text(c) for c in caps] for caps in table[column]])


def _label_column(table, where: Where) -> str:
    import datasets

    for name, feature in table.features.items():
        if isinstance(feature, datasets.ClassLabel):
            return name
    for name in LABEL_COLUMNS:
        if name in table.column_names and table.features[name] == datasets.Value("string"):
            return name
    raise BenchError(
        f"{where}: columns {', '.join(table.column_names)}; a class set needs an image column and a "
        f"class label column (a ClassLabel, or a string column named {', '.join(LABEL_COLUMNS)})"
    )


def _table_classes(found, split: str, where: Where) -> ClassSet:
    import datasets

    names = list(found) if split == "all" else [pick(split, list(found), where)]
    tables = [found[s] for s in names]
    image, label = _image_column(tables[0], where), _label_column(tables[0], where)
    images = lazy.concat(lazy.rows(t, image) for t in tables)
    values = [v for t in tables for v in t[label]]
    feature = tables[0].features[label]
    if isinstance(feature, datasets.ClassLabel):
        return ClassSet(images, list(values), list(feature.names))
    classes = sorted(set(values))
    index = {c: i for i, c in enumerate(classes)}
    return ClassSet(images, [index[v] for v in values], classes)


def _karpathy_files(folder: Path, where: Where) -> Files | None:
    """The files (a zip of `folder`, or the folder) that hold a `dataset.json`, if any do."""
    for path in [*sorted(folder.glob("*.zip")), folder]:
        files = Files(path, where)
        if any(PurePosixPath(n).name == "dataset.json" for n in files.names):
            return files
    return None


def _karpathy(files: Files, split: str, where: Where) -> CaptionSplit:
    index = next(n for n in files.names if PurePosixPath(n).name == "dataset.json")
    try:
        entries = json.loads(files.read(index))["images"]
        chosen = pick(split, sorted({e["split"] for e in entries}), where)
        items = [e for e in entries if e["split"] == chosen]
        names, texts = [e["filename"] for e in items], [[s["raw"] for s in e["sentences"]] for e in items]
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not Karpathy's fields
        raise BenchError(
            f"{where}: {index} is not a Karpathy dataset.json ({_reason(exc)}); it needs images[] with "
            "filename, split and sentences[].raw"
        ) from None
    members = files.images()
    return CaptionSplit(files.lazy([_member(n, members, where) for n in names]), texts)


def _member(filename: str, members: list[str], where: Where) -> str:
    """The one image file whose path ends with `filename` (a relative path or a base name)."""
    found = [m for m in members if m == filename or m.endswith("/" + filename)]
    if len(found) != 1:
        how = "no image file" if not found else f"{len(found)} image files ({', '.join(found[:3])})"
        raise BenchError(f"{where}: dataset.json names {filename}, which matches {how}; give its images")
    return found[0]


def _class_dirs(images: list[str]) -> dict[str, list[str]]:
    """Image paths grouped by the folder that holds them."""
    out: dict[str, list[str]] = {}
    for n in images:
        out.setdefault(str(PurePosixPath(n).parent), []).append(n)
    return out


def _zip_class_root(files: Files, where: Where) -> str:
    """The folder of a zip whose subfolders hold the images: the one parent of every class folder."""
    roots = {str(PurePosixPath(d).parent) for d in _class_dirs(files.images()) if d != "."}
    if len(roots) != 1:
        raise _unexpected_zip(files, where)
    return roots.pop()


def _unexpected_zip(files: Files, where: Where) -> BenchError:
    top = sorted({n.split("/")[0] for n in files.names})
    shown = ", ".join(top[:5]) + (", …" if len(top) > 5 else "")
    return BenchError(
        f"{where}: {files.path.name} holds neither a dataset.json nor one folder of class folders "
        f"(its top entries: {shown or 'none'}); give a zip laid out like the hub repository's"
    )


def _folder_class_root(files: Files, where: Where) -> str:
    """`.` when the folder's subfolders hold the images, `data` for the hub's image folder layout."""
    roots = {str(PurePosixPath(d).parent) for d in _class_dirs(files.images()) if d != "."}
    if roots in ({"."}, {"data"}):
        return roots.pop()
    if len(roots) == 1:
        raise BenchError(
            f"{where}: the subfolders of {files.path} hold no images but folders of images; "
            f"point at {files.path / roots.pop()}"
        )
    raise BenchError(
        f"{where}: {files.path} holds no table files, no dataset.json and no folders of images per class; "
        "give a folder laid out like the hub repository"
    )


def _split_lists(files: Files) -> dict[str, set[str]]:
    """`<anything>-<split>.txt` lists of image file names, by split."""
    out = {}
    for n in files.names:
        stem = PurePosixPath(n)
        if stem.suffix == ".txt" and "-" in stem.stem:
            lines = files.read(n).decode().splitlines()
            out[stem.stem.rsplit("-", 1)[1]] = {line.strip() for line in lines if line.strip()}
    return out


def _class_folders(files: Files, root: str, lists: dict, split: str, where: Where) -> ClassSet:
    prefix = "" if root == "." else root + "/"
    depth = prefix.count("/") + 1
    members = [n for n in files.images() if n.startswith(prefix) and n.count("/") == depth]
    classes = sorted({n.split("/")[-2] for n in members})
    if split != "all":
        keep = lists[pick(split, ["all", *sorted(lists)], where)]
        members = [n for n in members if PurePosixPath(n).name in keep]
    index = {c: i for i, c in enumerate(classes)}
    return ClassSet(files.lazy(members), [index[n.split("/")[-2]] for n in members], classes)
