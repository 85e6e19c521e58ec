"""The `debian:metastudent` source: UniProtKB proteins with GO molecular-function terms (2014-01).

Debian's `metastudent-data` ships the sequences as a BLAST database (extracted with `blastdbcmd`
from `ncbi-blast+`), the annotations (`goasp_annot.dat`: accession, GO ids) and the GO names
(`nameMapping.txt`). The text of a protein is the names of its MF terms, sorted case-insensitively,
joined with "; "; the root term "molecular_function" is left out of the names, and proteins with
only the root term (or none) are dropped. Identical sequences keep their first protein. With the full set and
max_len 1000 this gives the scratch study's 363,067 proteins and 25,620 texts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tqdm import tqdm

from bench import apt
from bench.errors import BenchError
from tasks.protein.records import Records
from tasks.protein.validate import accession_of, check_sequence

DATA = Path("/usr/share/metastudent-data/dataset_201401")
BLAST_DB = DATA / "MFO" / "goasp.fasta"
ANNOTATIONS = DATA / "MFO" / "goasp_annot.dat"
NAMES = DATA / "nameMapping.txt"
PACKAGES = ("metastudent-data", "ncbi-blast+")  # among the protein task's debian_packages
OTHER_SOURCES = "or use another source: source=local:DIR (a FASTA and a TSV) or source=synthetic"
ROOT_TERM = "GO:0003674"
N_PROTEINS = 459_503


def _files_present() -> bool:
    db = [BLAST_DB.with_name(BLAST_DB.name + ext) for ext in (".phr", ".pin", ".psq")]
    return all(p.is_file() for p in [*db, ANNOTATIONS, NAMES]) and shutil.which("blastdbcmd") is not None


def ensure_installed() -> None:
    """Install the Debian packages when missing (as root), else a BenchError saying how."""
    if not _files_present():
        apt.ensure("protein", PACKAGES, "the source debian:metastudent", OTHER_SOURCES)
    if not _files_present():
        raise BenchError(
            f"metastudent-data is installed but {DATA} lacks its files; reinstall it with "
            "`sudo apt-get install --reinstall metastudent-data`"
        )


def extract(limit: int | None = None) -> tuple[list[str], list[str]]:
    """Accessions and sequences of the BLAST database in its order (the first `limit` only if given)."""
    cmd = ["blastdbcmd", "-db", str(BLAST_DB), "-entry", "all", "-line_length", "1000000"]
    accessions: list[str] = []
    sequences: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        bar = tqdm(
            total=limit or N_PROTEINS,
            desc="extract metastudent proteins",
            unit="protein",
            leave=False,
            disable=None,
        )
        for line in proc.stdout:
            if line.startswith(">"):
                if limit is not None and len(accessions) == limit:
                    proc.kill()
                    break
                accessions.append(accession_of(line[1:]))
                sequences.append("")
                bar.update()
            else:
                sequences[-1] += line.strip()
        bar.close()
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait()
    if code != 0 and not (limit is not None and len(accessions) == limit):
        raise BenchError(f"blastdbcmd failed on {BLAST_DB} ({err.strip()[:200]}); reinstall metastudent-data")
    return accessions, [
        check_sequence(a, s, f"metastudent {BLAST_DB}") for a, s in zip(accessions, sequences, strict=True)
    ]


def read_annotations() -> dict[str, set[str]]:
    """accession → set of GO ids."""
    out: dict[str, set[str]] = {}
    with open(ANNOTATIONS) as handle:
        for line in handle:
            fields = line.split()
            if fields:
                out.setdefault(fields[0], set()).update(fields[1:])
    return out


def read_names() -> dict[str, str]:
    """GO id → term name."""
    out = {}
    with open(NAMES) as handle:
        for line in handle:
            go, sep, name = line.rstrip("\n").partition("\t")
            if sep:
                out[go] = name.strip()
    return out


def text_of(terms: set[str], names: dict[str, str]) -> str:
    """Canonical text of a set of GO ids: names without the root, sorted case-insensitively, '; '-joined."""
    labels = {names.get(go, go) for go in terms if go != ROOT_TERM}
    return "; ".join(sorted(labels, key=lambda s: (s.casefold(), s)))


def load(limit: int | None = None) -> tuple[Records, dict[str, int]]:
    """The MF proteins with their texts, and the counts of each filtering step."""
    ensure_installed()
    accessions, sequences = extract(limit)
    annotations, names = read_annotations(), read_names()
    keep = [i for i, acc in enumerate(accessions) if annotations.get(acc, {ROOT_TERM}) - {ROOT_TERM}]
    texts = {accessions[i]: text_of(annotations[accessions[i]], names) for i in keep}
    records = Records(
        [accessions[i] for i in keep], [sequences[i] for i in keep], [texts[accessions[i]] for i in keep]
    )
    records, duplicates = records.dedupe()
    counts = {
        "proteins_in_source": len(accessions),
        "dropped_no_mf_term": len(accessions) - len(keep),
        "dropped_duplicate_sequences": duplicates,
    }
    return records, counts
