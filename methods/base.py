"""The method contract: named loss terms over one batch of embeddings, and their weights; or a fit in
closed form on frozen features.

Total loss L = Σ_k w_k · term_k. A method computes only the terms whose weight is not zero. A method that
`fits` is first given the frozen features of the paired set (FitData) before any step; a `closed_form`
method is that fit alone: it returns the two embedding functions the task's evaluation uses (Fitted), and
no step is taken (docs/methods.md, "Methods fitted in closed form").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor

from bench.params import Param, Variant


class BatchEmbeddings:
    """What a method may ask of one training batch. Each embedding is computed on first use.

    All embeddings are L2-normalised rows of the shared space (dimension d):
    - `a_p`, `b_p`: the b_p paired items, row i of one the counterpart of row i of the other;
    - `a_u`, `b_u`: b_u unpaired items of each modality, drawn independently (no pairing);
    - `za`, `zb`: [a_p; a_u] and [b_p; b_u], the sets of the set terms;
    - `views_a`, `views_b`: two views (v1, v2) of every row of `za` / `zb`, for the SSL term;
    - `logit_scale`: s = exp(t), the CLIP multiplier;
    - `logit_bias`: the learnable logit bias b of a method that declares one (`Method.logit_bias`), else
      None;
    - `n_paired`: b_p, known without computing any embedding;
    - `same_b_p`: (b_p × b_p) bool, True where two paired rows have identical B content (e.g. the
      same function text), so that they are positives of each other; None means only the diagonal;
    - `keywords`: (K × d) embeddings of the task's keyword vocabulary by tower B, or None;
    - `keyword_mask_p`: (b_p × K) bool, the keywords that occur in each paired row's B content;
    - `feat_a_u`, `feat_b_u`: the frozen features (FitData) of the rows of `a_u` and `b_u`, no gradient:
      for a method that `fits`, e.g. a teacher fitted on the pairs that judges the unpaired rows;
    - `feat_a_p`, `feat_b_p`: the frozen features of the rows of `a_p` and `b_p`, likewise;
    - `step`, `steps`: the steps taken before this one and the run's total (0, 0 when unknown), for a
      term that follows a schedule (a warm-up, a second stage).
    """

    def __init__(
        self,
        embed: Callable[[str], Tensor | tuple[Tensor, Tensor] | None],
        logit_scale: Tensor,
        n_paired: int,
        same_b_p: Tensor | None = None,
        keyword_mask_p: Tensor | None = None,
        logit_bias: Tensor | None = None,
        step: int = 0,
        steps: int = 0,
    ):
        self._embed = embed
        self.step, self.steps = step, steps
        self.n_paired = n_paired
        self.logit_scale = logit_scale
        self.logit_bias = logit_bias
        self.same_b_p = same_b_p
        self.keyword_mask_p = keyword_mask_p

    @classmethod
    def from_tensors(
        cls, logit_scale: Tensor | float = 1 / 0.07, logit_bias: Tensor | float | None = None, **tensors: Any
    ) -> BatchEmbeddings:
        """Build from ready tensors (tests, benchmarks): keys a_p, b_p, a_u, b_u, views_a, views_b,
        keywords, same_b_p, keyword_mask_p, feat_*, step, steps. A missing a_u/b_u is an empty (0 × d)
        tensor."""
        same = tensors.pop("same_b_p", None)
        kw_mask = tensors.pop("keyword_mask_p", None)
        step, steps = tensors.pop("step", 0), tensors.pop("steps", 0)
        d = tensors["a_p"].shape[1]
        for key in ("a_u", "b_u"):
            tensors.setdefault(key, tensors["a_p"].new_zeros(0, d))
        scale = torch.as_tensor(logit_scale, dtype=tensors["a_p"].dtype)
        bias = None if logit_bias is None else torch.as_tensor(logit_bias, dtype=tensors["a_p"].dtype)
        return cls(tensors.get, scale, tensors["a_p"].shape[0], same, kw_mask, bias, step, steps)

    @cached_property
    def a_p(self) -> Tensor:
        return self._embed("a_p")

    @cached_property
    def b_p(self) -> Tensor:
        return self._embed("b_p")

    @cached_property
    def a_u(self) -> Tensor:
        return self._embed("a_u")

    @cached_property
    def b_u(self) -> Tensor:
        return self._embed("b_u")

    @cached_property
    def za(self) -> Tensor:
        return torch.cat([self.a_p, self.a_u])

    @cached_property
    def zb(self) -> Tensor:
        return torch.cat([self.b_p, self.b_u])

    @cached_property
    def views_a(self) -> tuple[Tensor, Tensor]:
        return self._embed("views_a")

    @cached_property
    def views_b(self) -> tuple[Tensor, Tensor]:
        return self._embed("views_b")

    @cached_property
    def keywords(self) -> Tensor | None:
        return self._embed("keywords")

    @cached_property
    def feat_a_u(self) -> Tensor:
        return self._embed("feat_a_u")

    @cached_property
    def feat_b_u(self) -> Tensor:
        return self._embed("feat_b_u")

    @cached_property
    def feat_a_p(self) -> Tensor:
        return self._embed("feat_a_p")

    @cached_property
    def feat_b_p(self) -> Tensor:
        return self._embed("feat_b_p")


FEATURES = frozenset({"feat_a_u", "feat_b_u", "feat_a_p", "feat_b_p"})
EMBEDDINGS = frozenset({"a_p", "b_p", "a_u", "b_u", "views_a", "views_b", "keywords"}) | FEATURES


class FitData:
    """What a method that `fits` (or whose terms read feat_*) may ask of the train pool, as frozen features,
    without gradient: by default the frozen unimodal features its task declares (tasks/base.py
    `Task.frozen_features`: e.g. synthetic's raw inputs, protein's k-mer and MiniLM features, a pretrained
    image encoder's pooled features), the same whatever the train seed; with the method parameter
    `features=towers`, the outputs of the task's towers as built (the run's seeded initial weights) in eval
    mode, before any head.

    - `a_p`, `b_p`: (n_p × F_A), (n_p × F_B) of the paired set, row i of one the counterpart of row i of
      the other;
    - `a_u`, `b_u`: the unpaired pools U_A and U_B, each computed on first use;
    - `unpaired_rows(side, idx)`: the rows of pool U_side of train-pool items `idx` (all in that pool);
    - `paired_rows(side, idx)`: the rows of `a_p` / `b_p` of train-pool items `idx` (all paired).
    """

    def __init__(self, features: Callable[[str], Tensor], positions: dict[str, Tensor] | None = None):
        self._features = features
        self._positions = positions or {}

    @classmethod
    def from_tensors(cls, **tensors: Tensor) -> FitData:
        """Build from ready tensors (tests): keys a_p, b_p and optionally a_u, b_u; pool item i of the
        train pool is row i of its pool, and row i of the paired set."""
        positions = {side: torch.arange(len(tensors[f"{side}_u"])) for side in "ab" if f"{side}_u" in tensors}
        positions["p"] = torch.arange(len(tensors["a_p"]))
        return cls(tensors.__getitem__, positions)

    @cached_property
    def a_p(self) -> Tensor:
        return self._features("a_p")

    @cached_property
    def b_p(self) -> Tensor:
        return self._features("b_p")

    @cached_property
    def a_u(self) -> Tensor:
        return self._features("a_u")

    @cached_property
    def b_u(self) -> Tensor:
        return self._features("b_u")

    def unpaired_rows(self, side: str, idx: Tensor) -> Tensor:
        return self._rows(self.a_u if side == "a" else self.b_u, side, idx)

    def paired_rows(self, side: str, idx: Tensor) -> Tensor:
        return self._rows(self.a_p if side == "a" else self.b_p, "p", idx)

    def _rows(self, pool: Tensor, key: str, idx: Tensor) -> Tensor:
        return pool[self._positions[key][idx.to(self._positions[key].device)].to(pool.device)]


class Fitted(Protocol):
    """The result of a closed-form fit: the two embedding functions of frozen features (rows of the
    shared space; the task scores a pair by their dot product), and how zero-shot pools the scores of a
    class's prompts (`mean`: the normalised mean of their embeddings, as every method; `max`: the best
    prompt's score)."""

    prompt_pooling: str

    def embed_a(self, h: Tensor) -> Tensor: ...
    def embed_b(self, h: Tensor) -> Tensor: ...


FIT_PARAMS = {
    "features": Param(
        "frozen",
        "what the fit is given: the task's declared frozen unimodal features, or the towers' outputs as "
        "built (seeded random features where a tower trains from scratch)",
        ("frozen", "towers"),
    )
}

COMMON_PARAMS = {
    "temperature": Param(
        0.07, "initial CLIP temperature τ (s = 1/τ)", low=0.01, high=0.2, log=True, valid="(0, inf)"
    ),
    "learn_temperature": Param(True, "train t = log s (clamped at log 100); false keeps τ fixed"),
}


class Method:
    """Base of every method. Subclasses set `name`, `params` and implement `terms`.

    `needs_pairs`: with no pairs at all (r = 0) the method cannot train; the harness then reports
    the untrained model (docs/methods.md, "The setting").
    `fits`: before the first step the engine calls `fit` with the frozen features of the pairs (FitData);
    `closed_form` (implies `fits`): the fit is the whole method, its `fit` returns the Fitted embedding
    functions and no step is taken (subclass ClosedForm).
    `source`: the paper and released code the method follows (shown by `python -m bench list`).
    `requires`: what a task must give for the method to apply (Task.provides, e.g. `keywords`: a
    vocabulary of concepts in the B texts); `--methods all` leaves it out of the tasks that do not give
    it, and naming it for one of them is refused.
    How the tables show it (inherited as Python attributes are; bench/registry.py refuses two entries
    of one label and two baselines, so a subclass of a registered method sets its own `label`, and a
    subclass of the baseline `baseline = False`): `label`, the display name (default: `name`); `order`,
    where it is listed (lower first, then by name; its variants follow it); `control_of`, the method
    whose ablation table it joins as a control; `baseline`, the method the tables test every other
    against (CLIP).
    Every method has the parameters `temperature` (τ, s = 1/τ at the start) and
    `learn_temperature` (t = log s trained and clamped at log 100, as CLIP; else s stays fixed); every
    method that fits has `features` (FIT_PARAMS: what its FitData holds).
    `logit_bias()`: the initial value of a learnable logit bias b that the model carries for the method
    (SigLIP's), served as `BatchEmbeddings.logit_bias`; None (the default): no bias.
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    label: ClassVar[str] = ""
    order: ClassVar[int] = 1000
    control_of: ClassVar[str] = ""
    baseline: ClassVar[bool] = False
    variants: ClassVar[dict[str, Variant]] = {}
    needs_pairs: ClassVar[bool] = True
    fits: ClassVar[bool] = False
    closed_form: ClassVar[bool] = False
    source: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **values: Any):
        self.p = dict(values)

    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        return {**COMMON_PARAMS, **(FIT_PARAMS if cls.fits else {}), **cls.params}

    def logit_bias(self) -> float | None:
        return None

    def check_pool(self, n_paired: int, n_unpaired_a: int, n_unpaired_b: int) -> str | None:
        """Why this method refuses a train pool split into n_paired pairs and unpaired pools of these sizes
        (one line: what is wrong and the fix), or None. Checked before anything is written when the task
        knows its pool size (bench/cell/grid.py), else at set-up, before the fit."""
        return None

    def reads_frozen(self) -> bool:
        """Whether the run gives this method its task's frozen features (Task.frozen_features): it fits, or
        its terms read feat_* (FEATURES), and it does not ask for the towers' outputs (`features=towers`)."""
        reads = self.fits or bool(self.embeddings() & FEATURES)
        return reads and self.p.get("features", "frozen") != "towers"

    def fit(self, data: FitData) -> Fitted | None:
        """The closed-form stage of a method that `fits`, before any step (deterministic: a resumed run
        fits again and gets the same); a `closed_form` method returns its Fitted embedding functions."""
        raise NotImplementedError

    def weights(self) -> dict[str, float]:
        """Weight of each term by name; a term of weight 0 is never computed."""
        raise NotImplementedError

    def embeddings(self) -> frozenset[str]:
        """The BatchEmbeddings keys (EMBEDDINGS) its terms of nonzero weight may read: the engine embeds
        them up front, each modality's rows and views in one forward pass. Default: all of them."""
        return EMBEDDINGS

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        """Unweighted scalar terms by name, for the terms of nonzero weight that this batch allows
        (a term that needs paired rows is left out when b_p = 0)."""
        raise NotImplementedError

    def loss(self, batch: BatchEmbeddings) -> tuple[Tensor | None, dict[str, float]]:
        """(Σ w_k · term_k, {term: value}); the loss is None when no term could be computed."""
        weights = self.weights()
        terms = self.terms(batch)
        if not terms:
            return None, {}
        total = sum(weights[k] * v for k, v in terms.items())
        return total, {k: float(v.detach()) for k, v in terms.items()}


class ClosedForm(Method):
    """A method fitted in closed form on the frozen features of the pairs, with no training step: it has
    no loss terms, no CLIP scale (no `temperature` parameters) and needs pairs."""

    fits = True
    closed_form = True

    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        return {**FIT_PARAMS, **cls.params}

    def fit(self, data: FitData) -> Fitted:
        raise NotImplementedError

    def weights(self) -> dict[str, float]:
        return {}

    def embeddings(self) -> frozenset[str]:
        return frozenset()

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        return {}
