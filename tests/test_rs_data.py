"""rs data: local and hub-schema readers, the no-data message, keywords, and the views."""

import datasets
import pytest
import rs_files
import torch

from bench.cli import main
from bench.errors import BenchError
from tasks.rs import data, sources
from tasks.rs.images import ImagePool, augment
from tasks.rs.sources import ClassSet


def test_local_caption_split_and_class_folders(tmp_path):
    root = rs_files.build(tmp_path)
    split = sources.captions("ucm", f"local:{root / 'ucm'}", "test")
    assert len(split.images) == 4 and all(len(c) == 5 for c in split.captions)
    assert ImagePool(split.images, 16).take(torch.tensor([0, 3])).shape == (2, 3, 16, 16)
    zs = sources.classes("aid", f"local:{root / 'aid'}")
    assert zs.classes == sorted(rs_files.CLASSES) and sorted(zs.labels) == [0, 0, 1, 1, 2, 2]


def test_hub_schemas_read_as_the_hub_gives_them(tmp_path, monkeypatch):
    rs_files.caption_parquet(tmp_path / "test.parquet", 3, 0)
    hub = {
        "arampacha/rsicd": datasets.load_dataset(
            "parquet", data_files={"test": str(tmp_path / "test.parquet")}
        ),
        "torchgeo/ucmerced": datasets.DatasetDict(
            test=datasets.Dataset.from_dict(
                {"image": [{"bytes": rs_files.png(i), "path": None} for i in range(3)], "label": [1, 0, 1]},
                features=datasets.Features(
                    {"image": datasets.Image(), "label": datasets.ClassLabel(names=["agricultural", "river"])}
                ),
            )
        ),
    }
    monkeypatch.setattr(datasets, "load_dataset", lambda repo: hub[repo])
    split = sources.captions("rsicd", "hf:arampacha/rsicd", "test")
    assert split.images[2] == rs_files.png(2) and len(split.captions[0]) == 5
    zs = sources.classes("ucm_cls", "hf:torchgeo/ucmerced")
    assert (
        zs.classes == ["agricultural", "river"] and zs.labels == [1, 0, 1] and zs.images[0] == rs_files.png(0)
    )


def test_no_data_offline_is_one_clear_line(capsys):
    assert main(["data", "rs", "--task-param", "datasets=rsicd", "--task-param", "zero_shot=none"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "python -m bench data rs" in err and "rsicd=local:DIR" in err
    assert "filename, captions, image" in err


def test_a_set_without_a_source_names_its_parameter():
    with pytest.raises(BenchError, match="ucm has no source; set ucm=hf:<repo> or ucm=local:DIR"):
        sources.captions("ucm", "", "train")
    with pytest.raises(BenchError, match="no train"):
        sources.captions("ucm", "local:/nonexistent", "train")


def test_keywords_are_class_names_found_in_captions():
    raw = data.Raw(None, {}, {"aid": ClassSet([], [], ["denseResidential", "baseball_diamond", "River"])})
    vocab = data.keywords(raw, "classes", 0)
    assert vocab == ["baseball diamond", "dense residential", "river"]
    mask = data.keyword_mask([["two rivers and a bridge"], ["a dense residential area"], ["a field"]], vocab)
    assert mask.tolist() == [[False, False, True], [False, True, False], [False, False, False]]
    assert data.prompts(raw.zero_shot["aid"], ["an aerial photograph of {c}."])[0] == (
        "an aerial photograph of dense residential."
    )


def test_image_views_differ_and_stay_in_range():
    images = (torch.arange(2 * 3 * 32 * 32) % 251).to(torch.uint8).view(2, 3, 32, 32)
    gen = torch.Generator().manual_seed(0)
    one, two = augment(images, gen), augment(images, gen)
    assert one.shape == (2, 3, 32, 32) and one.min() >= 0 and one.max() <= 1
    assert not torch.equal(one, two)
    again = augment(images, torch.Generator().manual_seed(0))
    assert torch.equal(one, again)


def test_inputs_keep_every_caption(tmp_path):
    from tasks.rs import RemoteSensing, inputs, towers

    root = rs_files.build(tmp_path)
    p = RemoteSensing(source=f"local:{root}", encoder="rs-tiny", pretrained="none").p
    _, tokenize, size, _, _ = towers.build("rs-tiny", "none")
    x = inputs.model_inputs(data.read(p), tokenize, size, p)
    assert x["train_b"].shape[:2] == (24, 5) and x["keyword_mask"].shape == (24, 3)
    assert x["ret/sydney/texts"].shape[0] == 20 and x["ret/sydney/owner"].tolist() == sorted(
        list(range(4)) * 5
    )
    assert x["zs/aid/prompts"].shape[0] == 3 and len(x["zs/aid/images"]) == 6
