"""The method contract: named loss terms over one batch of embeddings, and their weights.

Total loss L = Σ_k w_k · term_k. A method computes only the terms whose weight is not zero.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, ClassVar

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
    - `n_paired`: b_p, known without computing any embedding;
    - `same_b_p`: (b_p × b_p) bool, True where two paired rows have identical B content (e.g. the
      same function text), so that they are positives of each other; None means only the diagonal;
    - `keywords`: (K × d) embeddings of the task's keyword vocabulary by tower B, or None;
    - `keyword_mask_p`: (b_p × K) bool, the keywords that occur in each paired row's B content.
    """

    def __init__(
        self,
        embed: Callable[[str], Tensor | tuple[Tensor, Tensor] | None],
        logit_scale: Tensor,
        n_paired: int,
        same_b_p: Tensor | None = None,
        keyword_mask_p: Tensor | None = None,
    ):
        self._embed = embed
        self.n_paired = n_paired
        self.logit_scale = logit_scale
        self.same_b_p = same_b_p
        self.keyword_mask_p = keyword_mask_p

    @classmethod
    def from_tensors(cls, logit_scale: Tensor | float = 1 / 0.07, **tensors: Any) -> BatchEmbeddings:
        """Build from ready tensors (tests, benchmarks): keys a_p, b_p, a_u, b_u, views_a, views_b,
        keywords, same_b_p, keyword_mask_p. A missing a_u/b_u is an empty (0 × d) tensor."""
        same = tensors.pop("same_b_p", None)
        kw_mask = tensors.pop("keyword_mask_p", None)
        d = tensors["a_p"].shape[1]
        for key in ("a_u", "b_u"):
            tensors.setdefault(key, tensors["a_p"].new_zeros(0, d))
        scale = torch.as_tensor(logit_scale, dtype=tensors["a_p"].dtype)
        return cls(tensors.get, scale, tensors["a_p"].shape[0], same, kw_mask)

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


EMBEDDINGS = frozenset({"a_p", "b_p", "a_u", "b_u", "views_a", "views_b", "keywords"})

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
    How the tables show it (each class declares its own; a subclass inherits none): `label`, the
    display name (default: `name`); `order`, where it is listed (lower first, then by name; its
    variants follow it); `control_of`, the method whose ablation table it joins as a control;
    `baseline`, the method the tables test every other against (CLIP).
    Every method has the parameters `temperature` (τ, s = 1/τ at the start) and
    `learn_temperature` (t = log s trained and clamped at log 100, as CLIP; else s stays fixed).
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    label: ClassVar[str] = ""
    order: ClassVar[int] = 1000
    control_of: ClassVar[str] = ""
    baseline: ClassVar[bool] = False
    variants: ClassVar[dict[str, Variant]] = {}
    needs_pairs: ClassVar[bool] = True

    def __init__(self, **values: Any):
        self.p = dict(values)

    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        return {**COMMON_PARAMS, **cls.params}

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
