"""The helpers the tasks share (tasks/_shared.py, tasks/_frozen.py) and bench/device.py."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.device import default_device
from tasks._frozen import unit_features
from tasks._shared import MLPTower, embed_pool, model_device, two_rows


class Pool:
    """A pool that is no Tensor: rows come from `take`, which records the batches asked for."""

    def __init__(self, x: torch.Tensor):
        self.x, self.asked = x, []

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        self.asked.append(idx.tolist())
        return self.x[idx]


def test_model_device_is_where_the_parameters_are_and_the_cpu_otherwise():
    assert model_device(nn.Linear(2, 2, device="meta")) == torch.device("meta")
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.Identity()) == torch.device("cpu")  # no parameters
    assert model_device(object()) == torch.device("cpu")  # not a module


def test_default_device_follows_torch():
    assert default_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")


def test_embed_pool_covers_every_row_in_order_in_batches():
    x = torch.randn(10, 3)
    pool = Pool(x)
    out = embed_pool(lambda b: b * 2, pool, torch.device("cpu"), 4)
    assert pool.asked == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    torch.testing.assert_close(out, x * 2)
    sizes = []
    embed_pool(lambda b: sizes.append(len(b)) or b, x, torch.device("cpu"), 3, desc="rows")
    assert sizes == [3, 3, 3, 1]


def test_embed_pool_passes_each_batch_through_the_transform_first():
    x = torch.arange(6.0).view(6, 1)
    calls = []

    def transform(b):
        calls.append(("transform", b[:, 0].tolist()))
        return -b

    def fn(b):
        calls.append(("fn", b[:, 0].tolist()))
        return b

    out = embed_pool(fn, x, torch.device("cpu"), 4, transform=transform)
    torch.testing.assert_close(out, -x)
    assert calls == [
        ("transform", [0, 1, 2, 3]),
        ("fn", [0, -1, -2, -3]),
        ("transform", [4, 5]),
        ("fn", [-4, -5]),
    ]


def test_unit_features_are_the_towers_rows_normalised_in_half_precision_views_first():
    torch.manual_seed(0)
    tower, x = nn.Linear(3, 4), torch.randn(5, 3)
    pool = Pool(x)
    with torch.no_grad():
        out = unit_features(tower, pool, torch.device("cpu"), 2, "rows", view=lambda b: b + 1)
        want = nn.functional.normalize(tower(x + 1), dim=-1)
    assert pool.asked == [[0, 1], [2, 3], [4]]
    assert out.dtype == torch.float16 and out.device == torch.device("cpu")
    torch.testing.assert_close(out.float(), want, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(out.float().norm(dim=-1), torch.ones(5), atol=1e-3, rtol=0)


def test_mlp_tower_layers_and_row_zero_of_a_3d_input():
    plain, dropped = MLPTower(6, 8), MLPTower(6, 8, dropout=0.3)
    assert plain.out_dim == dropped.out_dim == 8
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    assert [m.p for m in dropped.modules() if isinstance(m, nn.Dropout)] == [0.3]
    assert set(plain.state_dict()) == {"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"}
    x = torch.randn(5, 3, 6)
    torch.testing.assert_close(plain(x), plain(x[:, 0]))
    assert plain(x[:, 1]).shape == (5, 8) and not torch.allclose(plain(x[:, 1]), plain(x[:, 0]))


@pytest.mark.parametrize("first", [0, 1])
def test_two_rows_are_different_rows_from_first_on(first):
    n, k = 300, 4
    x = (torch.arange(n)[:, None] * 10 + torch.arange(first + k)[None, :]).float()[..., None]
    v1, v2 = two_rows(x, first, torch.Generator().manual_seed(0))
    row1, row2 = v1[:, 0] % 10, v2[:, 0] % 10
    assert ((row1 >= first) & (row2 >= first)).all() and (row1 != row2).all()
    assert torch.equal(v1[:, 0] // 10, torch.arange(n).float())  # each item keeps its own rows
    assert set(row1.tolist()) == set(row2.tolist()) == set(range(first, first + k))
    again = two_rows(x, first, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], v1) and torch.equal(again[1], v2)


def test_two_rows_with_one_row_left_give_it_twice():
    x = torch.randn(7, 2, 3)
    v1, v2 = two_rows(x, 1, torch.Generator().manual_seed(0))
    assert torch.equal(v1, x[:, 1]) and torch.equal(v2, x[:, 1])
