"""The contamination guard: no evaluation item is also an item of the train pool.

Each item is compared by the SHA-256 of its content (a task says what the content is: decoded pixels
of an image, the residues of a protein). The `contamination` task parameter decides what an overlap
does: `refuse` (the default) stops the run during data preparation with one line; `exclude` drops the
shared items from the evaluation set; `allow` keeps them. Either way the count is recorded with every
run (the task's `about`, written to status.json).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from bench.errors import BenchError
from bench.params import Param

POLICIES = ("refuse", "exclude", "allow")
PARAM = Param(
    "refuse",
    "an evaluation item that is also a train item (same content): refuse the run, exclude the item "
    "from evaluation, or allow it (counted in status.json either way)",
    choices=POLICIES,
)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def digests(contents: Iterable[bytes]) -> list[str]:
    return [digest(c) for c in contents]


def shared(eval_digests: list[str], train_digests: set[str]) -> list[int]:
    """Indices of the evaluation items whose content is in the train pool."""
    return [i for i, d in enumerate(eval_digests) if d in train_digests]


def guard(task: str, name: str, eval_digests: list[str], train_digests: set[str], policy: str) -> list[int]:
    """The indices of the evaluation set `name` to keep (all, or all but the shared ones under
    `exclude`); BenchError under `refuse` when any is shared."""
    overlap = shared(eval_digests, train_digests)
    if overlap and policy == "refuse":
        raise BenchError(
            f"task {task}: {len(overlap):,} of the {len(eval_digests):,} items of evaluation set {name} are "
            "also in the train pool (same content); evaluate on another split, or set "
            "contamination=exclude to drop them from the evaluation (contamination=allow keeps them)"
        )
    drop = set(overlap) if policy == "exclude" else set()
    return [i for i in range(len(eval_digests)) if i not in drop]
