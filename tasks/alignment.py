"""How aligned two embedding spaces are, from paired rows, as minyoungg/platonic-rep `metrics.py` defines
it (commit 07ef02ab, `AlignmentMetrics.mutual_knn`, `cka`, `cknna`, `hsic_biased`, `hsic_unbiased`), on
the unit test embeddings with k = 10 neighbours (`measure_alignment.py`'s default `--topk`). They say how
alike the two spaces' neighbourhoods are even where recall is at chance.

With A (n × d) and B (n × d') paired rows, K = A Aᵀ and L = B Bᵀ:
- mutual kNN: the mean over rows i of |N_k^A(i) ∩ N_k^B(i)| / k, N_k(i) the k rows of highest inner
  product with row i other than i itself.
- CKA (linear kernel, biased HSIC): HSIC(K, L) / (√(HSIC(K, K) · HSIC(L, L)) + 1e-6), with
  HSIC(K, L) = tr(K H L H), H = I − 11ᵀ/n.
- CKNNA: the same ratio of unbiased HSICs of the kernels restricted to mutual neighbours:
  S(K, L) = HSIC_u(M ⊙ K, M ⊙ L), M_ij = 1[j ∈ N_k^K(i) and j ∈ N_k^L(i)], and
  CKNNA = S(K, L) / (√(S(K, K) · S(L, L)) + 1e-6), where
  HSIC_u(K, L) = [Σ K̃ ⊙ L̃ᵀ + ΣK̃ ΣL̃ / ((n−1)(n−2)) − 2 Σ K̃L̃ / (n−2)] / (n(n−3)), K̃ = K with a zero diagonal.

The sums are computed in O(n²) (tr(K H L H) = Σ (HKH) ⊙ L, Σ K̃L̃ = (1ᵀK̃)(L̃1)) instead of platonic-rep's
n × n products, in float64; tests/test_alignment.py checks them against a transcription of its functions.
Rows beyond MAX_ROWS are subsampled (a fixed-seed subset) to bound the n × n memory.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

K_NEIGHBOURS = 10
MAX_ROWS = 5000
SUBSET_SEED = 0
EPS = 1e-6


def neighbour_mask(gram: Tensor, k: int) -> Tensor:
    """(n × n) float: 1 where column j is one of the k rows of highest `gram` value in row i, j ≠ i."""
    n = gram.shape[0]
    masked = gram.clone().fill_diagonal_(float("-inf"))
    top = masked.topk(k, dim=1).indices
    return torch.zeros(n, n, dtype=gram.dtype, device=gram.device).scatter_(1, top, 1.0)


def mutual_knn(a: Tensor, b: Tensor, k: int) -> float:
    """Mean over rows of the share of their k nearest neighbours (inner product) that A and B agree on."""
    both = neighbour_mask(a @ a.T, k) * neighbour_mask(b @ b.T, k)
    return float((both.sum(dim=1) / k).mean())


def hsic_biased(K: Tensor, L: Tensor) -> Tensor:
    """tr(K H L H), H = I − 11ᵀ/n: Σ (HKH) ⊙ Lᵀ, HKH = K minus its row and column means plus its mean."""
    centred = K - K.mean(dim=0, keepdim=True) - K.mean(dim=1, keepdim=True) + K.mean()
    return (centred * L.T).sum()


def hsic_unbiased(K: Tensor, L: Tensor) -> Tensor:
    """Song et al. 2012, eq. 5 (platonic-rep `hsic_unbiased`); n ≥ 4."""
    n = K.shape[0]
    Kt, Lt = K.clone().fill_diagonal_(0), L.clone().fill_diagonal_(0)
    value = (
        (Kt * Lt.T).sum()
        + Kt.sum() * Lt.sum() / ((n - 1) * (n - 2))
        - 2 * (Kt.sum(dim=0) * Lt.sum(dim=1)).sum() / (n - 2)
    )
    return value / (n * (n - 3))


def cka(a: Tensor, b: Tensor) -> float:
    """Linear CKA with the biased HSIC (platonic-rep `cka`, kernel_metric="ip", unbiased=False)."""
    K, L = a @ a.T, b @ b.T
    return float(hsic_biased(K, L) / (torch.sqrt(hsic_biased(K, K) * hsic_biased(L, L)) + EPS))


def cknna(a: Tensor, b: Tensor, k: int) -> float:
    """CKNNA with the unbiased HSIC over mutual k-nearest neighbours (platonic-rep `cknna`, its defaults);
    NaN below 4 rows, where the unbiased HSIC is undefined."""
    if a.shape[0] < 4:
        return math.nan
    K, L = a @ a.T, b @ b.T
    mask_k, mask_l = neighbour_mask(K, k), neighbour_mask(L, k)

    def similarity(X: Tensor, Y: Tensor, mask: Tensor) -> Tensor:
        return hsic_unbiased(mask * X, mask * Y)

    kl = similarity(K, L, mask_k * mask_l)
    kk, ll = similarity(K, K, mask_k), similarity(L, L, mask_l)
    return float(kl) / float(torch.sqrt(kk * ll) + EPS)


def rows_used(n: int) -> Tensor:
    """The rows the metrics read: all n, or a sorted fixed-seed subset of MAX_ROWS of them."""
    if n <= MAX_ROWS:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(SUBSET_SEED)
    return torch.randperm(n, generator=gen)[:MAX_ROWS].sort().values


def neighbours(n: int) -> int:
    """k for n rows: K_NEIGHBOURS, or n − 1 where fewer rows have that many others."""
    return max(min(K_NEIGHBOURS, n - 1), 1)


def alignment(a: Tensor, b: Tensor) -> dict[str, float]:
    """`align_mknn`, `align_cka`, `align_cknna` of paired rows a[i] ↔ b[i] (NaN with fewer than 2 rows)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"alignment needs paired rows: {a.shape[0]} and {b.shape[0]}")
    if a.shape[0] < 2:
        return dict.fromkeys(("align_mknn", "align_cka", "align_cknna"), math.nan)
    idx = rows_used(a.shape[0])
    a, b = a[idx].double(), b[idx].double()  # float32 sums of near-equal rows can go below 0 under the √
    k = neighbours(len(idx))
    return {"align_mknn": mutual_knn(a, b, k), "align_cka": cka(a, b), "align_cknna": cknna(a, b, k)}


def protocol(n: int) -> dict:
    """The protocol record of the alignment metrics on n paired rows."""
    used = min(n, MAX_ROWS)
    return {
        "protocol": "alignment",
        "rows": used if n <= MAX_ROWS else f"{used} of {n} (seed {SUBSET_SEED})",
        "k": neighbours(used),
        "source": "minyoungg/platonic-rep metrics.py",
    }
