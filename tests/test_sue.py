"""sue (methods/sue.py) against transcriptions of its authors' code on fixed inputs (float64): SpectralNet's
affinity, SUE's MMD loss and residual network, and the CCA it calls (scikit-learn's); then the spectral
embedding's own properties and a deterministic fit that uses the unpaired items."""

import numpy as np
import pytest
import torch

from methods.base import FitData
from methods.losses import mk_mmd
from methods.sue import ResidualBlock, Sue, affinity, spectral_embedding

SUE_COMMIT = "aaca3e72e0e933119e24a0472b574985b84c0dbf"


def points(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def released_affinity(x: torch.Tensor, n_nbg: int, scale_k: int) -> torch.Tensor:
    """shaham-lab/SUE at aaca3e7, transcribed: `SpectralTrainer._get_affinity_matrix`
    (src/spectralnet/_trainers/_spectralnet_trainer.py) with is_local_scale=False (configs/
    flickr30_config.json), and from src/spectralnet/_utils.py `get_nearest_neighbors` (sklearn
    NearestNeighbors, k = n_nbg + 1), `compute_scale` (global, med: np.median(Dis[:, k − 1])) and
    `get_gaussian_kernel` (exp(−D²/scale²), masked to the neighbours, (W + Wᵀ)/2)."""
    neighbors = pytest.importorskip("sklearn.neighbors")
    dx = torch.cdist(x, x)
    nbrs = neighbors.NearestNeighbors(n_neighbors=n_nbg + 1).fit(x.numpy())
    dis, ids = nbrs.kneighbors(x.numpy())
    scale = np.median(dis[:, scale_k - 1])
    w = torch.exp(-torch.pow(dx, 2) / (scale**2))
    n = len(ids)
    mask = torch.zeros([n, n], dtype=w.dtype)
    mask[np.arange(n).reshape(-1, 1), ids] = 1
    w = w * mask
    return (w + torch.t(w)) / 2.0


def released_mmd(x: torch.Tensor, y: torch.Tensor, n_scales: int = 3) -> torch.Tensor:
    """shaham-lab/SUE at aaca3e7, transcribed: src/mmd.py `MMDLoss(n_scales)` with `MMDKernels`
    (mul_factor 2, scale None: the mean off-diagonal squared distance of [X; Y]); trainer.py passes
    n_scales=3 to `fine_tune_alignment_using_mmd_network`."""
    exponent = torch.arange(n_scales) - n_scales // 2
    multipliers = 2.0**exponent
    xy = torch.vstack([x, y])
    distances = torch.cdist(xy, xy) ** 2
    n = distances.shape[0]
    scale = distances.data.sum() / (n**2 - n)
    kernel = torch.zeros_like(distances)
    for m in multipliers:
        kernel += torch.exp(-distances / (scale * m))
    size = x.shape[0]
    return kernel[:size, :size].mean() - 2 * kernel[:size, size:].mean() + kernel[size:, size:].mean()


def test_the_affinity_is_spectralnets_global_scale_gaussian_knn_kernel():
    x = points(60, 5, 0)
    ours, _ = affinity(x, n_nbg=7, scale_k=4)
    torch.testing.assert_close(ours, released_affinity(x, 7, 4), rtol=1e-12, atol=1e-12)


def test_the_mmd_is_sues_mmd_loss_with_three_scales():
    x, y = points(32, 8, 1), points(32, 8, 2) * 1.5 + 0.3
    torch.testing.assert_close(mk_mmd(x, y, "sue"), released_mmd(x, y), rtol=1e-10, atol=1e-12)
    x.requires_grad_(True)
    mk_mmd(x, y, "sue").backward()
    ref = x.detach().clone().requires_grad_(True)
    released_mmd(ref, y).backward()
    torch.testing.assert_close(x.grad, ref.grad, rtol=1e-8, atol=1e-12)  # the scale is not differentiated


def test_the_network_is_sues_residual_block():
    """src/mmd.py `MMDNet(8)`, one `ResidualBlock`: Linear(8, 32), ReLU, Linear(32, 32), ReLU, Linear(32, 8),
    plus x."""
    net = ResidualBlock(8)
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(32, 8), (32,), (32, 32), (32,), (8, 32), (8,)]
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(4, 8)
    torch.testing.assert_close(net(x), x)  # the residual connection


def test_the_cca_step_finds_sklearns_canonical_variates():
    """trainer.py fits sklearn's `CCA(n_components)` on the pairs' spectral rows; the variates of the fit
    here (methods/cca.py, ridge 0) are those, up to sign and scale, on data with distinct correlations."""
    cross = pytest.importorskip("sklearn.cross_decomposition")
    z = points(400, 3, 3)
    xa = torch.cat([z * torch.tensor([1.0, 0.7, 0.4]), points(400, 3, 4)], 1) @ points(6, 6, 5)
    xb = torch.cat([z + 0.5 * points(400, 3, 6), points(400, 2, 7)], 1) @ points(5, 5, 8)
    from methods.cca import fit_cca

    fit = fit_cca(xa, xb, 3, 0.0, "equal")
    ours = (xa - fit.mean_a) @ fit.w_a[:, :3]
    ref = cross.CCA(n_components=3, max_iter=5000, tol=1e-12).fit(xa.numpy(), xb.numpy())
    theirs = torch.from_numpy(ref.transform(xa.numpy()))
    for k in range(3):
        corr = torch.corrcoef(torch.stack([ours[:, k], theirs[:, k]]))[0, 1]
        assert abs(float(corr)) > 0.999, (k, float(corr))


def test_the_spectral_embedding_is_the_laplacians_bottom_eigenvectors():
    w, _ = affinity(points(80, 4, 9), 10, 5)
    y = spectral_embedding(w, 6)
    lap = torch.diag(w.sum(1)) - w
    torch.testing.assert_close(y.T @ y, 80 * torch.eye(6, dtype=torch.float64), rtol=0, atol=1e-9)
    values = torch.linalg.eigvalsh(lap)[:6]
    torch.testing.assert_close(lap @ y, y * values, rtol=0, atol=1e-8)
    assert values[0].abs() < 1e-10  # the constant vector of a graph's Laplacian


def small_fit_data():
    z = points(150, 3, 10)
    xa = torch.cat([z, 0.2 * points(150, 2, 11)], 1) @ points(5, 5, 12)
    xb = torch.cat([z, 0.2 * points(150, 3, 13)], 1) @ points(6, 6, 14)
    return FitData.from_tensors(a_p=xa[:20], b_p=xb[:20], a_u=xa[20:], b_u=xb[20:]), xa, xb


def settings(**values):
    return {k: p.default for k, p in Sue.params.items()} | {"mmd_epochs": 3} | values


def test_the_fit_is_deterministic_and_learns_from_the_unpaired_items():
    data, xa, xb = small_fit_data()
    first, second = Sue(**settings()).fit(data), Sue(**settings()).fit(data)
    torch.testing.assert_close(first.embed_a(xa), second.embed_a(xa), rtol=0, atol=0)
    torch.testing.assert_close(first.embed_b(xb), second.embed_b(xb), rtol=0, atol=0)
    assert first.side_a.rows.shape[0] == 150  # the 20 pairs and the 130 unpaired items
    za, zb = first.embed_a(xa), first.embed_b(xb)
    assert za.shape == zb.shape == (150, 8) and torch.allclose(za.norm(dim=1), torch.ones(150))
    only_pairs = Sue(**settings(items=20)).fit(data)
    assert only_pairs.side_a.rows.shape[0] == 20
