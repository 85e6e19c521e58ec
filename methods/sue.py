"""SUE: a spectral embedding of each modality learned on its paired and unpaired items, CCA of the pairs in
that space, then a residual network trained by MMD to move the A side's distribution onto the B side's
(docs/methods.md, "SUE"). Defaults: the released Flickr30k config and trainer where they apply."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.params import Param
from methods.base import ClosedForm, FitData
from methods.cca import fit_cca
from methods.losses import mk_mmd

SEED = 0  # the fixed seed of the subsample, the network's initial weights and its batches (no train seed)
VAL_SHARE = 0.1  # fine_tune_alignment_using_mmd_network: val_split=0.1, the best validation epoch is kept


def graph_scale(d: Tensor, n_nbg: int, scale_k: int) -> Tensor:
    """SpectralNet's global scale: the median over rows of the distance to the scale_k-th nearest row, the
    row itself counting as the first (`compute_scale(Dis, k, is_local=False)` on the n_nbg + 1 nearest)."""
    near = d.topk(min(n_nbg + 1, d.shape[1]), dim=1, largest=False).values
    return near[:, min(scale_k, near.shape[1]) - 1].quantile(0.5)


def affinity(x: Tensor, n_nbg: int, scale_k: int) -> tuple[Tensor, Tensor]:
    """(W, σ): W_ij = exp(−‖x_i − x_j‖² / σ²) kept where j is among the n_nbg + 1 nearest rows of i (i
    itself included), then symmetrised, (W + Wᵀ) / 2 (SpectralNet `get_gaussian_kernel`, global scale σ
    from `graph_scale`). float64."""
    x = x.double()
    d = torch.cdist(x, x)
    scale = graph_scale(d, n_nbg, scale_k)
    idx = d.topk(min(n_nbg + 1, len(x)), dim=1, largest=False).indices
    mask = torch.zeros_like(d).scatter_(1, idx, 1.0)
    w = torch.exp(-(d**2) / scale**2) * mask
    return (w + w.T) / 2, scale


def spectral_embedding(w: Tensor, dim: int) -> Tensor:
    """Y = √n · V, V the eigenvectors of the `dim` smallest eigenvalues of the unnormalised Laplacian
    L = D − W (the embedding SpectralNet's network is trained to output: orthogonal columns, YᵀY = n·I)."""
    lap = torch.diag(w.sum(1)) - w
    _, vectors = torch.linalg.eigh(lap)
    return vectors[:, :dim] * len(w) ** 0.5


class ResidualBlock(nn.Module):
    """x + Linear(32→d)(ReLU(Linear(32→32)(ReLU(Linear(d→32)(x))))): SUE's `MMDNet` (one `ResidualBlock`)."""

    def __init__(self, dim: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x) + x


@dataclass
class SpectralSide:
    """One modality's spectral map: a row h goes to the kernel average of the embedding rows Y_j of its
    n_nbg + 1 nearest train rows x_j, Σ_j w_j Y_j / Σ_j w_j with w_j = exp(−‖h − x_j‖² / σ²) (Nyström-style
    extension; a train row is mapped the same way, itself among its neighbours), then projected on the
    canonical directions: (· − mean) W."""

    rows: Tensor
    embedding: Tensor
    scale: Tensor
    n_nbg: int
    mean: Tensor | None = None
    directions: Tensor | None = None

    def spectral(self, h: Tensor) -> Tensor:
        d = torch.cdist(h.double(), self.rows)
        near, idx = d.topk(min(self.n_nbg + 1, len(self.rows)), dim=1, largest=False)
        w = torch.exp(-(near**2 - near[:, :1] ** 2) / self.scale**2)  # scaled by the nearest: same ratios
        return (w[:, :, None] * self.embedding[idx]).sum(1) / w.sum(1, keepdim=True)

    def project(self, h: Tensor) -> Tensor:
        return ((self.spectral(h) - self.mean) @ self.directions).float()


@dataclass
class SueFit:
    side_a: SpectralSide
    side_b: SpectralSide
    net: nn.Module
    prompt_pooling: str = "mean"

    def embed_a(self, h: Tensor) -> Tensor:
        with torch.no_grad():
            return F.normalize(self.net(self.side_a.project(h.cpu())), dim=-1).to(h.device)

    def embed_b(self, h: Tensor) -> Tensor:
        return F.normalize(self.side_b.project(h.cpu()), dim=-1).to(h.device)


def train_mmd_net(
    xa: Tensor, xb: Tensor, epochs: int, batch: int, lr: float, gen: torch.Generator
) -> nn.Module:
    """The residual network g minimising MMD²(g(X_A batch), X_B batch) (methods/losses.py `mk_mmd`, kernels
    `sue`) with AdamW (lr, its default weight decay), `epochs` passes over 90 % of the rows in batches of
    `batch`, the network of the lowest mean MMD² on the other 10 % kept (SUE's
    `fine_tune_alignment_using_mmd_network`). The A and B rows of a batch are drawn independently."""
    net = ResidualBlock(xa.shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=lr, foreach=True)
    pa, pb = torch.randperm(len(xa), generator=gen), torch.randperm(len(xb), generator=gen)
    n_val = int(min(len(xa), len(xb)) * VAL_SHARE)
    (va, ta), (vb, tb) = (xa[pa[:n_val]], xa[pa[n_val:]]), (xb[pb[:n_val]], xb[pb[n_val:]])
    n_train = min(len(ta), len(tb))
    best, best_loss = copy.deepcopy(net), float("inf")
    for _ in range(epochs):
        net.train()
        oa, ob = torch.randperm(len(ta), generator=gen), torch.randperm(len(tb), generator=gen)
        for start in range(0, n_train, batch):
            opt.zero_grad()
            loss = mk_mmd(net(ta[oa[start : start + batch]]), tb[ob[start : start + batch]], "sue")
            loss.backward()
            opt.step()
        if n_val == 0:
            best = net
            continue
        net.eval()
        with torch.no_grad():
            val = [
                float(mk_mmd(net(va[s : s + batch]), vb[s : s + batch], "sue"))
                for s in range(0, n_val, batch)
            ]
        if sum(val) / len(val) < best_loss:
            best, best_loss = copy.deepcopy(net), sum(val) / len(val)
    return best.eval()


class Sue(ClosedForm):
    """Spectral embedding per modality (pairs and unpaired items), CCA on the pairs, MMD residual network."""

    name = "sue"
    label = "SUE"
    order = 87
    source = (
        "Yacobi et al., NeurIPS 2025 (arXiv 2505.21524), code shaham-lab/SUE "
        "(src/trainer.py, src/mmd.py, src/spectralnet, configs/flickr30_config.json)"
    )
    params = {
        "items": Param(
            500,
            "rows per modality the graph and the network learn on: the pairs, then unpaired items (seeded)",
            valid="[2, 8000]",
        ),
        "spectral_dim": Param(30, "eigenvectors kept (Flickr30k config: n_clusters 30)", valid="[2, inf)"),
        "n_nbg": Param(
            30, "neighbours of the affinity graph (Flickr30k config: spectral_n_nbg)", valid="[1, inf)"
        ),
        "scale_k": Param(
            15, "the neighbour whose distance sets σ (Flickr30k: spectral_scale_k)", valid="[1, inf)"
        ),
        "n_components": Param(
            8, "canonical directions kept (Flickr30k config: n_components)", valid="[1, inf)"
        ),
        "ridge": Param(
            1e-3,
            "ridge c of the CCA covariances (methods/cca.py; 0 is plain CCA)",
            low=1e-4,
            high=0.5,
            log=True,
            valid="[0, 1)",
        ),
        "mmd_epochs": Param(100, "epochs of the MMD network (SUE trainer: 100)", valid="[1, inf)"),
        "mmd_batch": Param(32, "batch of the MMD network (SUE trainer: 32)", valid="[2, inf)"),
        "mmd_lr": Param(
            1e-3,
            "AdamW learning rate of the MMD network (SUE)",
            low=1e-4,
            high=1e-2,
            log=True,
            valid="(0, inf)",
        ),
    }

    def fit(self, data: FitData) -> SueFit:
        """Rows: min(n_p, items) pairs, then up to `items` in all with unpaired items (seeded, each side
        its own); per side `affinity` and `spectral_embedding`; CCA (`fit_cca`, equal weighting) of the
        pairs' spectral rows; `train_mmd_net` on all rows projected; A is embedded as g(projection)."""
        p = self.p
        gen = torch.Generator().manual_seed(SEED)
        n_p = min(len(data.a_p), p["items"])
        keep = torch.randperm(len(data.a_p), generator=gen)[:n_p]
        sides = []
        for paired, pool in ((data.a_p, data.a_u), (data.b_p, data.b_u)):
            extra = torch.randperm(len(pool), generator=gen)[: p["items"] - n_p]
            rows = torch.cat([paired[keep], pool[extra]]).double()
            w, scale = affinity(rows, p["n_nbg"], p["scale_k"])
            side = SpectralSide(rows, spectral_embedding(w, p["spectral_dim"]), scale, p["n_nbg"])
            sides.append(side)
        ya, yb = (side.spectral(side.rows) for side in sides)
        cca = fit_cca(ya[:n_p], yb[:n_p], p["n_components"], p["ridge"], "equal")
        for side, mean, w in zip(sides, (cca.mean_a, cca.mean_b), (cca.w_a, cca.w_b), strict=True):
            side.mean, side.directions = mean, w[:, : cca.dim]
        za, zb = sides[0].project(sides[0].rows), sides[1].project(sides[1].rows)
        with torch.random.fork_rng():
            torch.manual_seed(SEED)
            net = train_mmd_net(za, zb, p["mmd_epochs"], p["mmd_batch"], p["mmd_lr"], gen)
        return SueFit(sides[0], sides[1], net)
