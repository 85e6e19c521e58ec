"""Batches of ready embeddings for method tests: every key a leaf tensor, the keys asked for recorded; a
method that fits is fitted on random frozen features (FA and FB columns, like the batches' feat_x_u)."""

import torch
import torch.nn.functional as F

from bench.registry import methods
from methods.base import BatchEmbeddings, FitData

D = 8
FA, FB = 6, 5  # widths of the frozen features of A and B
SCALE = 1 / 0.07
BIAS = -10.0  # the logit bias of a method that declares one (SOTAlign's sigmoid loss)


def unit(n, seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, D, generator=g), dim=1)


def make_tensors(b_p, b_u, keywords=False, seed=0):
    t = {
        "a_p": unit(b_p, seed),
        "b_p": unit(b_p, seed + 1),
        "a_u": unit(b_u, seed + 2),
        "b_u": unit(b_u, seed + 3),
    }
    n = b_p + b_u
    t["views_a"] = (unit(n, seed + 4), unit(n, seed + 5))
    t["views_b"] = (unit(n, seed + 6), unit(n, seed + 7))
    t["keywords"] = unit(5, seed + 8) if keywords else None
    g = torch.Generator().manual_seed(seed + 9)
    t["feat_a_u"], t["feat_b_u"] = torch.randn(b_u, FA, generator=g), torch.randn(b_u, FB, generator=g)
    return t


def fit_data(n=12, seed=0):
    """Frozen features of n pairs whose B side depends on the A side, and of unpaired pools of n rows."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(2 * n, FA, generator=g)
    b = a[:, :FB] + 0.5 * torch.randn(2 * n, FB, generator=g)
    return FitData.from_tensors(a_p=a[:n], b_p=b[:n], a_u=a[n:], b_u=b[n:])


def _leaf(v):
    if isinstance(v, tuple):
        return tuple(x.clone().requires_grad_() for x in v)
    return None if v is None else v.clone().requires_grad_()


class Recorder:
    """An embed callable that hands out leaf tensors and records which keys were asked for."""

    def __init__(self, tensors):
        self.tensors = {k: _leaf(v) for k, v in tensors.items()}
        self.asked = []

    def __call__(self, key):
        self.asked.append(key)
        return self.tensors[key]

    def leaves(self):
        for v in self.tensors.values():
            yield from (v if isinstance(v, tuple) else [] if v is None else [v])


def make_batch(b_p, b_u, keywords=False, same=None, seed=0):
    rec = Recorder(make_tensors(b_p, b_u, keywords, seed))
    kw_mask = None
    if keywords:
        kw_mask = torch.zeros(b_p, 5, dtype=torch.bool)
        kw_mask[:, 0] = True
        kw_mask[::2, 3] = True
    return BatchEmbeddings(rec, torch.tensor(SCALE), b_p, same, kw_mask, torch.tensor(BIAS)), rec


def create(name, **raw):
    """The method with parameters `raw`, fitted on `fit_data()` when it fits (as the engine does first)."""
    entry = methods().get(name)
    method = entry.create(entry.resolve({k: str(v) for k, v in raw.items()}))
    if method.fits:
        method.fit(fit_data())
    return method
