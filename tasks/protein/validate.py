"""Reading and checking user files: a protein FASTA and a TSV of accession → text.

Every problem is a BenchError naming the file, the place and what to do. The accession of a FASTA
entry is its header up to the first space or '|' (UniProt's `>sp|P12345|…` gives P12345).
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError
from tasks.protein.records import Records

STANDARD = "ACDEFGHIKLMNPQRSTVWY"
ALPHABET = STANDARD + "BZXUO"
_DROP_ALLOWED = str.maketrans("", "", ALPHABET)
_ALPHABET_TEXT = f"{STANDARD} plus B, Z, X, U, O"


def _lines(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise BenchError(f"{what} {path} does not exist")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise BenchError(
            f"{what} {path} is not a UTF-8 text file (byte {exc.start}); is it compressed or corrupt? "
            "Give it as plain text"
        ) from None


def accession_of(header: str) -> str:
    """`>sp|P12345|NAME desc` → P12345; `>P12345|GO:… desc` or `>P12345 desc` → P12345."""
    fields = header.split(maxsplit=1)[0].split("|") if header.strip() else [""]
    if fields[0] in ("sp", "tr") and len(fields) > 1:
        return fields[1]
    return fields[0]


def check_sequence(accession: str, sequence: str, where: str) -> str:
    """The sequence in upper case, or BenchError if it is empty or has a letter outside the alphabet."""
    seq = sequence.upper()
    if not seq:
        raise BenchError(
            f"{where}: entry {accession!r} has no sequence; remove the entry or add its sequence"
        )
    bad = seq.translate(_DROP_ALLOWED)
    if bad:
        pos = seq.index(bad[0]) + 1
        raise BenchError(
            f"{where}: entry {accession!r} has {bad[0]!r} at position {pos}, outside the amino-acid alphabet "
            f"({_ALPHABET_TEXT}); fix or remove the entry"
        )
    return seq


def read_fasta(path: Path) -> tuple[list[str], list[str]]:
    """Accessions and checked sequences of a protein FASTA file."""
    lines = _lines(path, "FASTA file")
    accessions: list[str] = []
    chunks: list[list[str]] = []
    starts: list[int] = []
    for number, line in enumerate(lines, 1):
        if line.startswith(">"):
            accessions.append(accession_of(line[1:]))
            chunks.append([])
            starts.append(number)
        elif line.strip():
            if not chunks:
                raise BenchError(
                    f"FASTA file {path} does not start with a '>' header (line {number}: {line[:40]!r}); "
                    "is it a FASTA file?"
                )
            chunks[-1].append(line.strip())
    if not accessions:
        raise BenchError(f"FASTA file {path} has no entries; it must hold '>ACCESSION' headers and sequences")
    seen: dict[str, int] = {}
    sequences = []
    for acc, chunk, start in zip(accessions, chunks, starts, strict=True):
        if not acc:
            raise BenchError(f"FASTA file {path}, line {start}: empty header; write '>ACCESSION'")
        if acc in seen:
            raise BenchError(
                f"FASTA file {path}: accession {acc!r} appears twice (lines {seen[acc]} and {start}); "
                "keep one entry"
            )
        seen[acc] = start
        sequences.append(check_sequence(acc, "".join(chunk), f"FASTA file {path}, line {start}"))
    return accessions, sequences


def read_tsv(path: Path) -> dict[str, str]:
    """accession → text from a TSV of two columns (an optional header `accession<TAB>text`)."""
    lines = _lines(path, "TSV file")
    out: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or (number == 1 and line.strip().lower() == "accession\ttext"):
            continue
        acc, sep, text = line.partition("\t")
        if not sep or not acc.strip() or not text.strip() or "\t" in text:
            raise BenchError(
                f"TSV file {path}, line {number}: expected 'accession<TAB>text', got {line[:60]!r}"
            )
        acc, text = acc.strip(), text.strip()
        if out.get(acc, text) != text:
            raise BenchError(f"TSV file {path}: accession {acc!r} has two different texts; keep one line")
        out[acc] = text
    if not out:
        raise BenchError(f"TSV file {path} has no rows; write one 'accession<TAB>text' line per protein")
    return out


def join(accessions: list[str], sequences: list[str], texts: dict[str, str], where: str) -> Records:
    """The proteins that have a text, in FASTA order; BenchError if none has."""
    keep = [i for i, acc in enumerate(accessions) if acc in texts]
    if not keep:
        example = next(iter(texts))
        raise BenchError(
            f"{where}: none of the {len(texts)} accessions of the TSV matches one of the {len(accessions)} "
            f"FASTA entries (e.g. TSV {example!r}, FASTA {accessions[0]!r}); the accession is the FASTA "
            "header up to the first space or '|'"
        )
    return Records(
        [accessions[i] for i in keep], [sequences[i] for i in keep], [texts[accessions[i]] for i in keep]
    )
