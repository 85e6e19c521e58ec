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

CKA is computed from the centred rows in O(n d²) (see `cka`), and CKNNA's unbiased HSICs from the n·k
entries the masks keep (`sparse_hsic_unbiased`, Σ K̃L̃ = (1ᵀK̃)(L̃1)), instead of platonic-rep's n × n
products, in float64; tests/test_alignment.py checks them against a transcription of its functions.
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


def neighbour_keys(gram: Tensor, k: int) -> Tensor:
    """The ones of the neighbour mask M of `gram` as sorted flat keys i·n + j: j is one of the k rows of
    highest `gram` value in row i, j ≠ i (M has n·k ones of n² entries: the metrics read only them)."""
    n = gram.shape[0]
    top = gram.clone().fill_diagonal_(float("-inf")).topk(k, dim=1).indices
    return (torch.arange(n, device=gram.device).unsqueeze(1) * n + top).flatten().sort().values


def mutual_knn(a: Tensor, b: Tensor, k: int) -> float:
    """Mean over rows of the share of their k nearest neighbours (inner product) that A and B agree on."""
    return _mutual_knn(neighbour_keys(a @ a.T, k), neighbour_keys(b @ b.T, k), a.shape[0], k)


def _mutual_knn(keys_k: Tensor, keys_l: Tensor, n: int, k: int) -> float:
    return float(torch.isin(keys_k, keys_l).sum()) / (n * k)


def sparse_hsic_unbiased(n: int, keys_x: Tensor, x: Tensor, keys_y: Tensor, y: Tensor) -> Tensor:
    """Song et al. 2012, eq. 5 (platonic-rep `hsic_unbiased`) of two n × n matrices with zero diagonals
    given by their non-zero entries (sorted flat keys i·n + j, values): with X̃, Ỹ the matrices,
    [Σ X̃ ⊙ Ỹᵀ + ΣX̃ ΣỸ / ((n−1)(n−2)) − 2 (1ᵀX̃)(Ỹ1) / (n−2)] / (n(n−3)); n ≥ 4."""
    transposed = (keys_x % n) * n + keys_x // n  # where Ỹᵀ's entry (i, j), Ỹ's (j, i), is kept
    at = torch.searchsorted(keys_y, transposed).clamp(max=max(len(keys_y) - 1, 0))
    hit = keys_y[at] == transposed if len(keys_y) else torch.zeros_like(transposed, dtype=torch.bool)
    trace = (x[hit] * y[at[hit]]).sum()
    columns_x = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, keys_x % n, x)
    rows_y = torch.zeros(n, dtype=y.dtype, device=y.device).index_add_(0, keys_y // n, y)
    value = trace + x.sum() * y.sum() / ((n - 1) * (n - 2)) - 2 * (columns_x * rows_y).sum() / (n - 2)
    return value / (n * (n - 3))


def cka(a: Tensor, b: Tensor) -> float:
    """Linear CKA with the biased HSIC (platonic-rep `cka`, kernel_metric="ip", unbiased=False). With the
    linear kernels K = A Aᵀ, L = B Bᵀ, HKH = Aᶜ Aᶜᵀ (Aᶜ: A's columns centred), so
    HSIC(K, L) = tr(HKH L) = ‖Aᶜᵀ Bᶜ‖²_F, computed so in O(n d d') with no n × n matrix."""
    ac, bc = a - a.mean(dim=0), b - b.mean(dim=0)

    def hsic(x: Tensor, y: Tensor) -> Tensor:
        return (x.T @ y).square().sum()

    return float(hsic(ac, bc) / (torch.sqrt(hsic(ac, ac) * hsic(bc, bc)) + EPS))


def cknna(a: Tensor, b: Tensor, k: int) -> float:
    """CKNNA with the unbiased HSIC over mutual k-nearest neighbours (platonic-rep `cknna`, its defaults);
    NaN below 4 rows, where the unbiased HSIC is undefined."""
    if a.shape[0] < 4:
        return math.nan
    K, L = a @ a.T, b @ b.T
    return _cknna(K, L, neighbour_keys(K, k), neighbour_keys(L, k))


def _cknna(K: Tensor, L: Tensor, keys_k: Tensor, keys_l: Tensor) -> float:
    """From the Gram matrices and their neighbour masks' keys: M ⊙ K keeps K at M's keys."""
    n = K.shape[0]
    both = keys_k[torch.isin(keys_k, keys_l)]
    K, L = K.flatten(), L.flatten()
    kl = sparse_hsic_unbiased(n, both, K[both], both, L[both])
    kk = sparse_hsic_unbiased(n, keys_k, K[keys_k], keys_k, K[keys_k])
    ll = sparse_hsic_unbiased(n, keys_l, L[keys_l], keys_l, L[keys_l])
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
    K, L = a @ a.T, b @ b.T  # each Gram matrix and neighbour mask once, for both neighbour metrics
    keys_k, keys_l = neighbour_keys(K, k), neighbour_keys(L, k)
    return {
        "align_mknn": _mutual_knn(keys_k, keys_l, len(idx), k),
        "align_cka": cka(a, b),
        "align_cknna": _cknna(K, L, keys_k, keys_l) if len(idx) >= 4 else math.nan,
    }


def protocol(n: int) -> dict:
    """The protocol record of the alignment metrics on n paired rows."""
    used = min(n, MAX_ROWS)
    return {
        "protocol": "alignment",
        "rows": used if n <= MAX_ROWS else f"{used} of {n} (seed {SUBSET_SEED})",
        "k": neighbours(used),
        "source": "minyoungg/platonic-rep metrics.py",
    }
