"""The encoder inputs of one training step: what the loader (loader.py) produces and the embedding
(embed.py) consumes.

`idx`: (paired, unpaired A, unpaired B) train-pool indices of the step. `a_p`, `b_p`, `a_u`, `b_u`: the
rows of those indices as the encoders take them (`tasks.base.take`), None when the method reads no
embedding that needs them. `views_a`, `views_b`: two views (v1, v2) of the rows [paired; unpaired] of
one modality for the SSL term, or None; in the released code's layout (`ssl_views=original`) v1 is None
and the original rows' embeddings are the first view. `b_ids_p`: the B content id of each paired row as
embedded (TaskData.b_ids; with several alternatives per item, the one drawn for the step), or None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor


@dataclass
class StepInputs:
    step: int
    idx: tuple[Tensor, Tensor, Tensor]
    a_p: Any = None
    b_p: Any = None
    a_u: Any = None
    b_u: Any = None
    views_a: tuple[Any, Any] | None = None
    views_b: tuple[Any, Any] | None = None
    b_ids_p: Tensor | None = None

    @property
    def n_paired(self) -> int:
        return len(self.idx[0])
