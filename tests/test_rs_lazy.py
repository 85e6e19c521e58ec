"""rs images read on demand (tasks/rs/lazy.py): each layout's lazy sequence gives the bytes of its files
without holding them, pickles as paths, and serves forked DataLoader workers from their own zip handle;
slices, index lists, `take` and `concat` stay unread."""

import gc
import io
import os
import pickle
import tracemalloc
import zipfile
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest
import rs_files
import torch
from PIL import Image

from tasks.rs import lazy, sources
from tasks.rs.images import ImagePool

N = 200  # images of about 20 kB each: 4 MB in all
CLASSES = ("farm", "river")
LAYOUTS = ("folder", "zipped", "table")


def noise_png(seed: int) -> bytes:
    """An 80 × 80 PNG of random noise: it does not compress, about 20 kB."""
    pixels = np.random.default_rng(seed).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def label(k: int) -> int:
    return k * len(CLASSES) // N


def member(k: int) -> str:
    """Image k's path in its class folder; sorted paths are in k order."""
    return f"{CLASSES[label(k)]}/{k:03d}.png"


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> tuple[Path, list[bytes]]:
    """The same N images as class folders (folder/), a zip of them (zipped/Images.zip) and a parquet
    with a ClassLabel (table/data/train-0.parquet)."""
    root, images = tmp_path_factory.mktemp("lazy"), [noise_png(k) for k in range(N)]
    for sub in ("zipped", "table/data", *(f"folder/{c}" for c in CLASSES)):
        (root / sub).mkdir(parents=True)
    with zipfile.ZipFile(root / "zipped" / "Images.zip", "w") as z:
        for k, data in enumerate(images):
            z.writestr(f"Images/{member(k)}", data)
            (root / "folder" / member(k)).write_bytes(data)
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=list(CLASSES))}
    )
    rows = {"image": [{"bytes": b, "path": None} for b in images], "label": [label(k) for k in range(N)]}
    table = root / "table" / "data" / "train-0.parquet"
    datasets.Dataset.from_dict(rows, features=features).to_parquet(table)
    return root, images


def read(root: Path, layout: str) -> sources.ClassSet:
    """The `all` split of one layout of the pool, through the source readers."""
    return sources.classes("whu_rs19" if layout == "table" else "aid", f"local:{root / layout}", "all")


def held(build) -> tuple[int, list[int], int]:
    """Building a ClassSet and taking its length: (items, the sizes of the Python blocks the readers' code
    allocated that stay, what stays in Arrow); other threads' allocations aside."""
    gc.collect()
    arrow = pa.total_allocated_bytes()
    tracemalloc.start(64)
    try:
        found = build()
        n = len(found.images)
        ours = tracemalloc.Filter(True, str(Path(sources.__file__).parent / "*"), all_frames=True)
        blocks = [t.size for t in tracemalloc.take_snapshot().filter_traces([ours]).traces]
    finally:
        tracemalloc.stop()
    return n, blocks, pa.total_allocated_bytes() - arrow


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_reads_the_same_bytes_without_holding_them(pool, layout, tmp_path):
    """Reading keeps no image (a table's first read also builds the `datasets` Arrow cache, which is
    memory-mapped) and little else: blocks over 1 MB are the interpreter's own tables (a resize of its
    interned strings); each image is read when asked for."""
    root, images = pool
    total, sizes = sum(map(len, images)), sorted(map(len, images))
    assert total > 3_800_000
    sources.classes("whu_rs19", f"local:{rs_files.whu_rs19(tmp_path / 'warm')}", "all")  # imports, once
    n, blocks, arrow = held(lambda: read(root, layout))
    assert n == N and not [b for b in blocks if sizes[0] <= b <= sizes[-1] + 64]
    assert sum(b for b in blocks if b < 1_000_000) < total / 10 and arrow < total / 10, (blocks, arrow)
    found = read(root, layout)
    assert isinstance(found.images, lazy.LazyImages)
    assert [found.images[k] for k in range(N)] == images
    assert found.labels == [label(k) for k in range(N)] and found.classes == list(CLASSES)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_pickles_as_paths_even_after_reading(pool, layout):
    root, images = pool
    found = read(root, layout).images
    assert found[-1] == images[-1]  # the zip reader now holds an open handle
    data = pickle.dumps(found)
    assert len(data) < sum(map(len, images)) / 10
    assert pickle.loads(data)[::37] == images[::37]


def test_slices_index_lists_take_and_concat_stay_lazy(pool):
    root, images = pool
    zipped, table = read(root, "zipped").images, read(root, "table").images
    assert isinstance(zipped[10:20], lazy.LazyImages) and zipped[10:20] == images[10:20]
    assert isinstance(zipped[[5, 3, 5]], lazy.LazyImages) and list(zipped[[5, 3, 5]]) == [
        images[i] for i in (5, 3, 5)
    ]
    assert zipped[-1] == images[-1] and zipped[torch.tensor([2, 1])] == [images[2], images[1]]
    with pytest.raises(IndexError):
        zipped[N]
    both = lazy.concat([zipped[:3], [b"synthetic"], table[N - 2 :]])
    assert isinstance(both, lazy.LazyImages) and len(both) == 6
    assert list(both) == [*images[:3], b"synthetic", *images[N - 2 :]]
    picked = lazy.take(both, [5, 3, 0])
    assert isinstance(picked, lazy.LazyImages) and picked == [images[-1], b"synthetic", images[0]]
    assert lazy.take([b"a", b"b", b"c"], [2, 0]) == [b"c", b"a"] and lazy.concat([zipped]) is zipped
    assert len(lazy.concat([])) == 0


def test_a_table_row_may_name_its_image_file(tmp_path, pool):
    _, images = pool
    (tmp_path / "0.png").write_bytes(images[0])
    rows = {"image": [{"bytes": None, "path": str(tmp_path / "0.png")}, {"bytes": images[1], "path": None}]}
    table = datasets.Dataset.from_dict(rows, features=datasets.Features({"image": datasets.Image()}))
    assert list(lazy.rows(table, "image")) == images[:2]


def test_forked_workers_open_their_own_zip_and_decode_the_same_tensors(pool):
    root, _ = pool
    images = read(root, "zipped").images[:48]
    pool_ = ImagePool(images, 16)
    expected = pool_.take(torch.arange(len(images)))  # the main process's handle is open before the fork

    def batch(idx: list[int]) -> tuple[torch.Tensor, bool]:
        return pool_.take(torch.tensor(idx)), images.read.pid == os.getpid()

    loader = torch.utils.data.DataLoader(
        range(len(images)), batch_size=8, num_workers=2, multiprocessing_context="fork", collate_fn=batch
    )
    batches = list(loader)
    assert all(own for _, own in batches) and images.read.pid == os.getpid()
    assert torch.equal(torch.cat([x for x, _ in batches]), expected)
