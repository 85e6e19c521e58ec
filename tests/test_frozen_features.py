"""The frozen unimodal features each task declares (Task.frozen_features) beyond the generic contract test
(tests/test_task_contract.py): what vl serves per encoder, its refusals of pretrained features that cannot
be served (never other features in their place), and what a run records and `collect` shows."""

import pytest
import torch

from bench import registry
from bench.cell.collect import collect
from bench.cell.store import Store
from bench.errors import BenchError
from tasks.base import take

from helpers import run, spec


def vl_task(**raw):
    entry = registry.tasks().get("vl")
    values = {**entry.cls.smoke_params, **raw}
    return entry.create(entry.resolve({k: str(v) for k, v in values.items()}))


def test_vl_cnn_fits_on_raw_pixels_and_the_sentence_features_so_named():
    task = vl_task()
    data = task.load()
    enc_a, enc_b = task.frozen_features(data)
    assert enc_a.feature_name == "pixels 28×28" and enc_b.feature_name == "minilm"
    images = take(data.train_a, torch.arange(3))
    torch.testing.assert_close(enc_a(images), images.float().flatten(1) / 255)
    captions = take(data.train_b, torch.arange(3))
    torch.testing.assert_close(enc_b(captions), captions[:, 0].float())  # the first caption of each image


def test_vl_released_without_weights_fits_on_pixels_pooled_to_32():
    task = vl_task(encoder="released", pretrained="none", image_size=64)
    data = task.load()
    enc_a, _ = task.frozen_features(data)
    assert enc_a.feature_name == "pixels 32×32" and enc_a.out_dim == 3 * 32 * 32
    assert enc_a(take(data.train_a, torch.arange(2))).shape == (2, 3 * 32 * 32)


def test_vl_released_refuses_imagenet_features_whose_weights_do_not_load(monkeypatch):
    import torchvision.models

    def offline(weights=None):
        if weights is not None:
            raise OSError("no route to download.pytorch.org")
        return torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [3, 4, 6, 3])

    monkeypatch.setattr(torchvision.models, "resnet34", offline)
    task = vl_task(encoder="released", mode="finetune", image_size=32)
    with pytest.raises(BenchError, match="pretrained=none") as err:  # at load, or at the features
        task.frozen_features(task.load())
    assert "\n" not in str(err.value) and "ImageNet" in str(err.value)


def test_collect_shows_what_a_closed_form_run_fitted_on(results):
    store = Store(results)
    s = spec("cca", 0.1)
    assert run(store, [s]) == {s.run_id(): "done"}
    row = collect(store).set_index("run_id").loc[s.run_id()]
    assert row["fit_features"] == "A: raw a · B: raw b" and row["p_method_features"] == "frozen"
    log = store.folder(s.run_id()).file("log.txt").read_text()
    assert "(raw a / raw b)" in log
