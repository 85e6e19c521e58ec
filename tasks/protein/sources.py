"""Where the proteins come from: the `source` parameter of the protein task.

- `debian:metastudent` (default, offline): Debian's metastudent-data, see debian.py;
  `debian:metastudent:N` reads only the package's first N proteins (a quick look, tests).
- `hf:<owner/name>` (online once): a Hugging Face dataset repository with an id, a sequence and a text
  column (found by name) in its `train` split, e.g. `hf:vinesmsuic/SwissProtCLAP` (columns `UniProt ID`,
  `Protein Sequence`, `Functional Description`; parquet shards under data/, 541,159 rows).
  `hf:/path/to/folder` (also `hf:./rel`, `hf:~/x`): a local folder laid out like such a repository (a
  copy of it). Both are read by the same code from the folder tasks/hub.py locates; the task's own
  split (homology or random) makes the train and test proteins from the repository's `train` split.
- `local:<DIR>`: DIR/proteins.fasta (headers `>ACCESSION …`) and DIR/texts.tsv (one
  `ACCESSION<TAB>text` line per protein, an optional header line `accession<TAB>text`).
- `synthetic[:N]` (tests): generated families, see synthetic.py.

Every source yields Records with identical sequences merged (the first protein kept).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.errors import BenchError
from tasks import hub
from tasks.protein import debian, synthetic
from tasks.protein.records import Records
from tasks.protein.validate import check_sequence, join, read_fasta, read_tsv

FORMS = "debian:metastudent[:N], hf:<owner/name>, hf:/path/to/folder, local:<DIR> or synthetic[:N]"
WHAT = "protein source"  # how tasks/hub.py names the source in its messages
COLUMNS = "an id, a sequence and a text column (by name: id/accession/entry, seq, text/desc/function/caption)"
LOCAL_FILES = ("proteins.fasta", "texts.tsv")


def _count(text: str, spec: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise BenchError(f"source {spec!r}: {text!r} is not a positive number of proteins")
    return int(text)


def normalise(spec: str) -> str:
    """The canonical spelling of a source (a local folder made absolute), or BenchError if malformed."""
    kind, _, arg = spec.strip().partition(":")
    if kind == "debian":
        name, _, limit = arg.partition(":")
        if name != "metastudent":
            raise BenchError(f"unknown Debian source {spec!r}; the Debian source is debian:metastudent")
        return f"debian:metastudent:{_count(limit, spec)}" if limit else "debian:metastudent"
    if kind == "hf":
        arg = arg.strip()
        hub.check(arg, WHAT)
        return f"hf:{Path(arg).expanduser().resolve()}" if hub.is_local(arg) else f"hf:{arg}"
    if kind == "local" and arg:
        return f"local:{Path(arg).expanduser().resolve()}"
    if kind == "synthetic":
        return f"synthetic:{_count(arg, spec) if arg else synthetic.DEFAULT_N}"
    raise BenchError(f"source {spec!r} is not one of {FORMS}")


def load(spec: str) -> tuple[Records, dict[str, int]]:
    """The proteins of a (normalised) source and the counts of its filtering steps."""
    kind, _, arg = spec.partition(":")
    if kind == "debian":
        limit = arg.partition(":")[2]
        return debian.load(int(limit) if limit else None)
    if kind == "hf":
        return _merge(_huggingface(arg))
    if kind == "local":
        return _merge(_local(Path(arg)))
    records, _ = synthetic.generate(int(arg))
    return _merge(records)


def _merge(records: Records) -> tuple[Records, dict[str, int]]:
    merged, duplicates = records.dedupe()
    return merged, {"proteins_in_source": len(records), "dropped_duplicate_sequences": duplicates}


def _local(folder: Path) -> Records:
    if not folder.is_dir():
        raise BenchError(
            f"local source folder {folder} does not exist; it must hold {LOCAL_FILES[0]} and {LOCAL_FILES[1]}"
        )
    fasta, tsv = (folder / name for name in LOCAL_FILES)
    for path in (fasta, tsv):
        if not path.is_file():
            raise BenchError(
                f"local source {folder} lacks {path.name}: write {LOCAL_FILES[0]} "
                f"(FASTA, '>ACCESSION' headers) "
                f"and {LOCAL_FILES[1]} ('ACCESSION<TAB>text' lines)"
            )
    accessions, sequences = read_fasta(fasta)
    return join(accessions, sequences, read_tsv(tsv), f"local source {folder}")


def _pick(columns: list[str], words: tuple[str, ...], what: str, repo: str) -> str:
    for column in columns:
        if any(w in column.lower() for w in words):
            return column
    raise BenchError(
        f"hf:{repo} has no {what} column (columns found: {', '.join(columns) or 'none'}; needed: {COLUMNS}); "
        "convert it to local:DIR (proteins.fasta + texts.tsv)"
    )


def pick_columns(names: list[str], repo: str) -> tuple[str, str, str]:
    """The (id, sequence, text) columns of a table, found by name, or BenchError naming them all."""
    seq_col = _pick(names, ("seq",), "sequence", repo)
    rest = [c for c in names if c != seq_col]
    id_col = _pick(rest, ("accession", "id", "entry"), "id", repo)
    text_col = _pick([c for c in rest if c != id_col], ("text", "desc", "function", "caption"), "text", repo)
    return id_col, seq_col, text_col


def records_from_columns(columns: dict[str, list], repo: str) -> Records:
    """Records from a table of columns: an id, a sequence and a text column, found by name."""
    id_col, seq_col, text_col = pick_columns(list(columns), repo)
    keep = [i for i, t in enumerate(columns[text_col]) if t and str(t).strip()]
    where = f"hf:{repo} column {seq_col!r}"
    return Records(
        [str(columns[id_col][i]) for i in keep],
        [check_sequence(str(columns[id_col][i]), columns[seq_col][i] or "", where) for i in keep],
        [str(columns[text_col][i]).strip() for i in keep],
    )


def _huggingface(where: str) -> Records:
    """The `train` split of the repository (or local copy) `where`, read from its located folder."""
    import datasets

    folder = str(hub.locate(where, WHAT).folder)
    # A private datasets cache, dropped once the columns are read: the source stage's cache entry is
    # the one kept copy (no second 0.5 GB of Arrow files in ~/.cache/huggingface).
    with tempfile.TemporaryDirectory(prefix="protein-hf-") as scratch:
        try:
            splits = list(datasets.load_dataset_builder(folder, cache_dir=scratch).config.data_files or {})
            if "train" not in splits:
                raise BenchError(
                    f"hf:{where} has no train split (its splits: {', '.join(splits) or 'none'}); the protein "
                    "task reads the train split and makes its own train and test sets from it"
                )
            table = datasets.load_dataset(folder, split="train", cache_dir=scratch)
            id_col, seq_col, text_col = pick_columns(table.column_names, where)
            columns = table.select_columns([id_col, seq_col, text_col]).to_dict()
            del table
        except BenchError:
            raise
        except Exception as exc:  # a folder datasets cannot read: one line
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise BenchError(
                f"cannot read hf:{where} ({reason}); it must be laid out like a hub dataset repository "
                "(e.g. data/train-*.parquet), else use source=debian:metastudent (offline) or local:DIR"
            ) from None
    return records_from_columns(columns, where)
