"""vl sources: Karpathy's JSON for Flickr30k and COCO through `local:`, the hub copies' real layouts
through `hf:/folder`, Fashion-MNIST's IDX files (fake ones, and Debian's package where installed), the
synthetic source, seeded subsets, identities, and the one-line errors."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rs_files
import torch
import vl_files

from bench import apt
from bench.errors import BenchError
from tasks.rs import lazy
from tasks.vl import fashion, sources, synthetic

ALL = {"n_train": 0, "n_test": 0}


def one_line(excinfo) -> str:
    """The error's message, checked to be one line."""
    text = str(excinfo.value)
    assert "\n" not in text
    return text


def uids(split) -> list[int]:
    """The uid of each caption list (`picture <uid> caption <j>`)."""
    return [int(c[0].split()[1]) for c in split.captions]


def same_images(split) -> bool:
    """Whether each image is the fixture's JPEG of its caption's uid."""
    return list(split.images) == [rs_files.image(u, "JPEG") for u in uids(split)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vl")
    vl_files.karpathy(root / "flickr", "flickr30k")
    vl_files.karpathy(root / "flickr_images", "flickr30k", images="images")
    vl_files.karpathy(root / "coco", "coco")
    vl_files.nlphuji(root / "nlphuji")
    vl_files.nlphuji_export(root / "export")
    vl_files.yerevann(root / "yerevann")
    return root


@pytest.mark.parametrize("folder", ["flickr", "flickr_images"])
def test_flickr_karpathy_local(files, folder):
    data = sources.load({"source": f"local:{files / folder}", "dataset": "flickr30k", **ALL})
    assert isinstance(data.train.images, lazy.LazyImages)
    assert uids(data.train) == [0, 1, 2, 3] and uids(data.test) == [6, 7, 8]
    assert same_images(data.train) and same_images(data.test)
    assert data.train.captions[0] == vl_files.captions(0) and data.train.labels is None
    assert data.classes is None and data.about["splits"] == {"train": 4, "test": 3}


def test_coco_karpathy_local_trains_on_restval_too(files):
    data = sources.load({"source": f"local:{files / 'coco'}", "dataset": "coco", **ALL})
    assert uids(data.train) == [0, 1, 2, 3, 4] and uids(data.test) == [7, 8, 9]
    assert same_images(data.train) and same_images(data.test)
    assert data.about["dataset"] == "coco"


def test_image_root_points_elsewhere(files, tmp_path):
    shutil.copy(files / "flickr" / "dataset_flickr30k.json", tmp_path)
    p = {"source": f"local:{tmp_path}", "dataset": "flickr30k", "image_root": str(files / "flickr"), **ALL}
    assert same_images(sources.load(p).test)


def test_nlphuji_main_branch(files):
    data = sources.load({"source": f"hf:{files / 'nlphuji'}", "dataset": "flickr30k", **ALL})
    assert uids(data.train) == [0, 1, 2, 3] and uids(data.test) == [6, 7, 8]
    assert same_images(data.train) and same_images(data.test)


def test_nlphuji_parquet_export(files):
    data = sources.load({"source": f"hf:{files / 'export'}", "dataset": "flickr30k", **ALL})
    assert uids(data.train) == [0, 1, 2, 3] and uids(data.test) == [6, 7, 8]
    assert same_images(data.train) and same_images(data.test)


def test_yerevann_captions_with_local_coco_images(files):
    p = {"source": f"hf:{files / 'yerevann'}", "dataset": "coco", "image_root": str(files / "coco"), **ALL}
    data = sources.load(p)
    assert uids(data.train) == [0, 1, 2, 3, 4] and uids(data.test) == [7, 8, 9]
    assert same_images(data.train) and same_images(data.test)
    with pytest.raises(BenchError) as excinfo:
        sources.load({**p, "image_root": None})
    assert "image_root=" in one_line(excinfo)


def test_seeded_subsets_and_caption_count(files):
    p = {"source": f"local:{files / 'coco'}", "dataset": "coco", "n_train": 3, "n_test": 2}
    first, again = sources.load({**p, "data_seed": 1}), sources.load({**p, "data_seed": 1})
    assert uids(first.train) == uids(again.train) and len(first.train.captions) == 3
    draws = {tuple(uids(sources.load({**p, "data_seed": s}).train)) for s in range(6)}
    assert len(draws) > 1
    assert same_images(first.train) and same_images(first.test)
    short = sources.load({**p, "captions_per_image": 2})
    assert all(len(c) == 2 for c in short.train.captions)


def test_more_items_than_a_split_holds_are_refused_and_exactly_all_are_kept(files):
    """Never a silent run on fewer items than the spec says: n_train or n_test above the split is one
    line naming the parameter, the split's size and the fix; exactly the split's size keeps all."""
    p = {"source": f"local:{files / 'coco'}", "dataset": "coco"}
    for key, split, n in (("n_train", "train", 5), ("n_test", "test", 3)):
        with pytest.raises(BenchError) as excinfo:
            sources.load({**p, "n_train": 0, "n_test": 0, key: n + 1})
        assert one_line(excinfo) == (
            f"task vl: source={p['source']}: {key}={n + 1} but its {split} split has {n} images; "
            f"set --task-param {key}=0 (every image) or at most {n}"
        )
    data = sources.load({**p, "n_train": 5, "n_test": 3})
    assert uids(data.train) == [0, 1, 2, 3, 4] and uids(data.test) == [7, 8, 9]
    generated = sources.load({"source": "synthetic:40", "n_train": 30, "n_test": 5})
    assert (len(generated.train.captions), len(generated.test.captions)) == (40, 10)  # the source's size


def test_missing_json_and_images_are_one_line(files, tmp_path):
    with pytest.raises(BenchError) as excinfo:
        sources.load({"source": f"local:{tmp_path}", "dataset": "coco"})
    assert "dataset_coco.json" in one_line(excinfo)
    vl_files.karpathy(tmp_path, "flickr30k", images=None)
    with pytest.raises(BenchError) as excinfo:
        sources.load({"source": f"local:{tmp_path}", "dataset": "flickr30k"})
    assert "1000092795.jpg" in one_line(excinfo) and "image_root=" in one_line(excinfo)
    shutil.copytree(files / "flickr" / "flickr30k-images", tmp_path / "flickr30k-images")
    (tmp_path / "flickr30k-images" / "1000092802.jpg").unlink()  # the second test image
    with pytest.raises(BenchError) as excinfo:
        sources.load({"source": f"local:{tmp_path}", "dataset": "flickr30k"})
    assert "1 of 3 images are missing" in one_line(excinfo)


def test_hub_folder_errors_are_one_line(files, tmp_path):
    with pytest.raises(BenchError) as excinfo:
        sources.load({"source": f"hf:{tmp_path}"})
    assert "none of the known layouts" in one_line(excinfo)
    shutil.copy(files / "nlphuji" / "flickr_annotations_30k.csv", tmp_path)
    with pytest.raises(BenchError) as excinfo:
        sources.load({"source": f"hf:{tmp_path}"})
    assert "flickr30k-images.zip" in one_line(excinfo)


@pytest.mark.parametrize(
    "source, p, says",
    [
        ("debian:mnist", {}, "fashion-mnist"),
        ("debian:fashion-mnist:x", {}, "whole number"),
        ("synthetic:1", {}, "N ≥ 2"),
        ("local:", {}, "expected"),
        ("hf:a/b/c", {}, "hf:<owner>/<name>"),
        ("s3:bucket", {}, "expected"),
        ("local:/x", {"dataset": "flickr8k"}, "flickr30k or coco"),
        ("synthetic", {"captions_per_image": 9}, "1 to 8"),
        ("local:/x", {"captions_per_image": 6}, "1 to 5"),
        ("synthetic", {"n_train": -1}, "n_train"),
    ],
)
def test_check_refuses_malformed_sources(source, p, says):
    with pytest.raises(BenchError) as excinfo:
        sources.check(source, p)
    assert says in one_line(excinfo)


@pytest.fixture
def fake_fashion(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(fashion, "ROOT", vl_files.fashion(tmp_path / "fashion-mnist"))
    return fashion.ROOT


def test_fake_idx_files_read_as_fashion_mnist(fake_fashion):
    data = sources.load({"source": "debian:fashion-mnist:12", "n_test": 0, "data_seed": 3})
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape == (12, 28, 28)
    assert data.test.images.shape == (10, 28, 28) and data.classes == list(fashion.CLASSES)
    values = data.train.images[:, 0, 0].tolist()
    assert [v % 10 for v in values] == data.train.labels
    assert all("an ankle boot" in c for c in data.test.captions[9])
    assert all(len(set(c)) == 5 for c in data.train.captions)
    assert data.about["pool"] == {"train": 30, "test": 10}


def test_broken_idx_files_are_one_line(fake_fashion):
    path = fake_fashion / "train-labels-idx1-ubyte.gz"
    vl_files.idx(path, np.arange(7), 2051)
    with pytest.raises(BenchError) as excinfo:
        fashion.read(fake_fashion, "train")
    assert "magic 2049" in one_line(excinfo)
    path.write_bytes(b"not gzip")
    with pytest.raises(BenchError) as excinfo:
        fashion.read(fake_fashion, "train")
    assert path.name in one_line(excinfo)
    path.unlink()
    with pytest.raises(BenchError) as excinfo:
        fashion.ensure_installed(fake_fashion.parent)
    assert "train-labels-idx1-ubyte.gz" in one_line(excinfo)


def test_missing_package_names_apt_get_install(tmp_path, monkeypatch):
    from bench import registry

    if "vl" not in registry.tasks().names():
        pytest.skip("the vl task is not registered yet")
    monkeypatch.setattr(fashion, "ROOT", tmp_path)
    monkeypatch.setattr(apt, "missing", lambda packages: list(packages))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(BenchError) as excinfo:
        sources.load({"source": "debian:fashion-mnist"})
    assert "apt-get install -y --no-install-recommends dataset-fashion-mnist" in one_line(excinfo)


@pytest.mark.skipif(not fashion.present(fashion.ROOT), reason="dataset-fashion-mnist is not installed")
def test_real_debian_package():
    train_images, train_labels = fashion.read(fashion.ROOT, "train")
    test_images, test_labels = fashion.read(fashion.ROOT, "test")
    assert train_images.shape == (60_000, 28, 28) and test_images.shape == (10_000, 28, 28)
    assert (
        np.bincount(train_labels).tolist() == [6_000] * 10
        and np.bincount(test_labels).tolist() == [1_000] * 10
    )
    assert fashion.CLASSES[0] == "T-shirt/top" and fashion.CLASSES[9] == "Ankle boot"
    data = sources.load({"source": "debian:fashion-mnist:500", "n_test": 100})
    assert data.train.images.shape == (500, 28, 28) and data.about["revision"]["version"] != "not installed"


def test_synthetic_is_fast_and_has_class_structure():
    data = sources.load({"source": "synthetic:100"})
    assert data.train.images.shape == (100, 28, 28) and data.test.images.shape == (25, 28, 28)
    assert data.train.labels[:10] == list(range(10)) and data.classes == list(fashion.CLASSES)
    means = [data.train.images[np.array(data.train.labels) == k].float().mean(0) for k in range(10)]
    assert min((means[a] - means[b]).abs().mean() for a in range(10) for b in range(a)) > 5
    assert torch.equal(data.train.images, sources.load({"source": "synthetic:100"}).train.images)
    assert synthetic.size("synthetic") == synthetic.DEFAULT_N


def test_identity_changes_when_a_file_changes(files, tmp_path, fake_fashion):
    local = {"source": f"local:{vl_files.karpathy(tmp_path / 'k', 'coco', images=None)}", "dataset": "coco"}
    hub = {"source": f"hf:{shutil.copytree(files / 'yerevann', tmp_path / 'y')}", "dataset": "coco"}
    debian = {"source": "debian:fashion-mnist"}
    before = [sources.identity(p) for p in (local, hub, debian)]
    for path in (
        tmp_path / "k" / "dataset_coco.json",
        tmp_path / "y" / "data" / "test-00000-of-00001.parquet",
        fake_fashion / "t10k-labels-idx1-ubyte.gz",
    ):
        path.write_bytes(path.read_bytes() + b"\0")
    after = [sources.identity(p) for p in (local, hub, debian)]
    assert all(a != b for a, b in zip(before, after, strict=True))
    assert (
        sources.identity({"source": "synthetic"})["code"]
        == sources.identity({"source": "synthetic:5"})["code"]
    )
