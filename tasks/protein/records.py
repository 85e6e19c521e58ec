"""The proteins of a source: accession, sequence, function text; stored as one parquet file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FILE = "records.parquet"


@dataclass
class Records:
    """Parallel lists, one protein per position."""

    accessions: list[str]
    sequences: list[str]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.sequences)

    def dedupe(self) -> tuple[Records, int]:
        """Keep the first protein of each distinct sequence; return the rest's count too."""
        seen: set[str] = set()
        keep = [i for i, s in enumerate(self.sequences) if not (s in seen or seen.add(s))]
        return self.select(keep), len(self) - len(keep)

    def select(self, idx: list[int]) -> Records:
        return Records(
            [self.accessions[i] for i in idx], [self.sequences[i] for i in idx], [self.texts[i] for i in idx]
        )

    def save(self, folder: Path) -> None:
        table = pa.table({"accession": self.accessions, "sequence": self.sequences, "text": self.texts})
        pq.write_table(table, folder / FILE)

    @classmethod
    def load(cls, folder: Path) -> Records:
        table = pq.read_table(folder / FILE)
        return cls(*(table.column(c).to_pylist() for c in ("accession", "sequence", "text")))
