"""Memory-mapped row shards (bench/shards.py): rows taken in any order across shard borders equal the
concatenated rows, a pickled reader maps the files again, and a bad index is an IndexError."""

from __future__ import annotations

import pickle

import pytest
import torch

from bench import shards


@pytest.fixture
def rows(tmp_path):
    gen = torch.Generator().manual_seed(0)
    parts = [torch.randn(n, 3, 4, generator=gen).half() for n in (5, 1, 7)]
    assert shards.write(tmp_path, "x", iter(parts)) == 13
    return shards.Rows(tmp_path, "x"), torch.cat(parts).float()


def test_rows_taken_across_shards_equal_the_concatenated_rows(rows):
    reader, whole = rows
    assert len(reader) == 13 and reader.shape == (13, 3, 4) and len(reader.parts) == 3
    idx = torch.tensor([12, 0, 5, 4, 6, 5, 11])
    got = reader.take(idx)
    assert got.dtype == torch.float32 and torch.equal(got, whole[idx])
    assert torch.equal(reader.take(torch.arange(13)), whole)
    assert reader.take(torch.tensor([], dtype=torch.long)).shape == (0, 3, 4)


def test_a_pickled_reader_maps_the_files_itself(rows):
    reader, whole = rows
    again = pickle.loads(pickle.dumps(reader))
    assert len(pickle.dumps(reader)) < 1000  # the folder and name, not the rows
    assert torch.equal(again.take(torch.arange(13)), whole)


def test_bad_rows_and_missing_shards_are_errors(rows, tmp_path):
    reader, _ = rows
    with pytest.raises(IndexError):
        reader.take(torch.tensor([13]))
    with pytest.raises(FileNotFoundError):
        shards.Rows(tmp_path, "y")
