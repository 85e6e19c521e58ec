"""Alignment metrics (tasks/alignment.py) against a plain transcription of minyoungg/platonic-rep
`metrics.py` (commit 07ef02ab: `mutual_knn`, `cka`, `cknna`, `hsic_biased`, `hsic_unbiased`), in float64
on fixed inputs, and their properties."""

import math

import pytest
import torch
import torch.nn.functional as F

from tasks import alignment


def reference_knn(x, k):
    return (x @ x.T).fill_diagonal_(-1e8).argsort(dim=1, descending=True)[:, :k]


def reference_mutual_knn(a, b, k):
    n = a.shape[0]
    rows = torch.arange(n).unsqueeze(1)
    ma, mb = torch.zeros(n, n, dtype=a.dtype), torch.zeros(n, n, dtype=a.dtype)
    ma[rows, reference_knn(a, k)] = 1.0
    mb[rows, reference_knn(b, k)] = 1.0
    return ((ma * mb).sum(dim=1) / k).mean().item()


def reference_hsic_biased(K, L):
    H = torch.eye(K.shape[0], dtype=K.dtype) - 1 / K.shape[0]
    return torch.trace(K @ H @ L @ H)


def reference_hsic_unbiased(K, L):
    m = K.shape[0]
    Kt, Lt = K.clone().fill_diagonal_(0), L.clone().fill_diagonal_(0)
    value = (
        torch.sum(Kt * Lt.T)
        + torch.sum(Kt) * torch.sum(Lt) / ((m - 1) * (m - 2))
        - 2 * torch.sum(torch.mm(Kt, Lt)) / (m - 2)
    )
    return value / (m * (m - 3))


def reference_cka(a, b):
    K, L = a @ a.T, b @ b.T
    kl, kk, ll = reference_hsic_biased(K, L), reference_hsic_biased(K, K), reference_hsic_biased(L, L)
    return (kl / (torch.sqrt(kk * ll) + 1e-6)).item()


def reference_cknna(a, b, k):
    n = a.shape[0]
    K, L = a @ a.T, b @ b.T

    def similarity(K, L):
        _, top_k = torch.topk(K.clone().fill_diagonal_(float("-inf")), k, dim=1)
        _, top_l = torch.topk(L.clone().fill_diagonal_(float("-inf")), k, dim=1)
        mask = torch.zeros(n, n, dtype=K.dtype).scatter_(1, top_k, 1) * torch.zeros(
            n, n, dtype=K.dtype
        ).scatter_(1, top_l, 1)
        return reference_hsic_unbiased(mask * K, mask * L)

    return similarity(K, L).item() / (torch.sqrt(similarity(K, K) * similarity(L, L)) + 1e-6).item()


def pair(seed, n=64, d=16, noise=1.0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=gen, dtype=torch.float64)
    b = a @ torch.randn(d, d, generator=gen, dtype=torch.float64) + noise * torch.randn(
        n, d, generator=gen, dtype=torch.float64
    )
    return F.normalize(a, dim=1), F.normalize(b, dim=1)


@pytest.mark.parametrize("seed", range(4))
def test_each_metric_equals_the_transcription_of_platonic_rep(seed):
    a, b = pair(seed)
    k = 10
    assert alignment.mutual_knn(a, b, k) == pytest.approx(reference_mutual_knn(a, b, k), abs=1e-12)
    assert alignment.cka(a, b) == pytest.approx(reference_cka(a, b), rel=1e-9)
    assert alignment.cknna(a, b, k) == pytest.approx(reference_cknna(a, b, k), rel=1e-9)
    together = alignment.alignment(a, b)  # each metric from the Gram matrices and masks it shares
    assert together["align_mknn"] == pytest.approx(reference_mutual_knn(a, b, k), abs=1e-12)
    assert together["align_cka"] == pytest.approx(reference_cka(a, b), rel=1e-9)
    assert together["align_cknna"] == pytest.approx(reference_cknna(a, b, k), rel=1e-9)
    K, L = a @ a.T, b @ b.T
    n = K.shape[0]
    keys_k, keys_l = alignment.neighbour_keys(K, k), alignment.neighbour_keys(L, k)
    assert torch.equal(keys_k.div(n, rounding_mode="floor"), torch.arange(n).repeat_interleave(k))
    mask_k, mask_l = torch.zeros(n * n, dtype=K.dtype), torch.zeros(n * n, dtype=K.dtype)
    mask_k[keys_k], mask_l[keys_l] = 1.0, 1.0
    masked_k, masked_l = mask_k.view(n, n) * K, mask_l.view(n, n) * L  # asymmetric, as inside CKNNA
    flat_k, flat_l = K.flatten(), L.flatten()
    sparse = alignment.sparse_hsic_unbiased(n, keys_k, flat_k[keys_k], keys_l, flat_l[keys_l])
    assert float(sparse) == pytest.approx(float(reference_hsic_unbiased(masked_k, masked_l)), rel=1e-9)


def test_identical_spaces_score_one_and_unrelated_ones_near_zero():
    a, _ = pair(0, n=200)
    same = alignment.alignment(a, a)
    assert same["align_mknn"] == pytest.approx(1.0)
    assert same["align_cka"] == pytest.approx(1.0, abs=1e-5)
    assert same["align_cknna"] == pytest.approx(1.0, abs=1e-3)  # the +1e-6 of the denominator
    gen = torch.Generator().manual_seed(1)
    other = F.normalize(torch.randn(200, 16, generator=gen, dtype=torch.float64), dim=1)
    apart = alignment.alignment(a, other)
    assert apart["align_mknn"] < 0.2 and abs(apart["align_cknna"]) < 0.3
    assert apart["align_cka"] < same["align_cka"] - 0.5


def test_a_rotation_of_one_space_leaves_every_metric_unchanged():
    a, b = pair(2)
    q, _ = torch.linalg.qr(
        torch.randn(16, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    )
    before, after = alignment.alignment(a, b), alignment.alignment(a, b @ q)
    assert after == pytest.approx(before, rel=1e-6)


def test_few_rows_take_fewer_neighbours_and_cknna_needs_four():
    a, b = pair(0, n=3)
    out = alignment.alignment(a, b)
    assert (
        alignment.neighbours(3) == 2 and math.isnan(out["align_cknna"]) and not math.isnan(out["align_cka"])
    )
    assert all(math.isnan(v) for v in alignment.alignment(a[:1], b[:1]).values())
    with pytest.raises(ValueError, match="paired rows"):
        alignment.alignment(a, b[:2])


def test_more_rows_than_the_cap_read_a_fixed_subset():
    used = alignment.rows_used(alignment.MAX_ROWS + 7)
    assert len(used) == alignment.MAX_ROWS and torch.equal(used, alignment.rows_used(alignment.MAX_ROWS + 7))
    assert alignment.protocol(alignment.MAX_ROWS + 7)["rows"].startswith(f"{alignment.MAX_ROWS} of")
