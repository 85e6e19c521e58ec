"""The frozen caption features of rs and of vl with an open_clip encoder (issue 21): MiniLM sentence features
by default, looked up by the caption's input (tasks/_frozen.py `FrozenLookup`) and cached once per data
identity for both modes; CLIP's own text tower with frozen_text=clip, so named; a closed-form run on them
has no train seed, and `collect` and the table labels say which features a run fitted on."""

import pandas as pd
import pytest
import rs_files
import torch

from bench import cache, registry
from bench.cell.grid import Grid, expand
from bench.cell.store import Store
from bench.cli.main import main
from bench.errors import BenchError
from bench.report.frame import with_variants
from tasks import _sentences
from tasks._frozen import FrozenLookup
from tasks.base import take
from tasks.rs import data as rs_data
from tasks.rs import inputs as rs_inputs

TINY = {"encoder": "rs-tiny", "pretrained": "none"}


def _task(name: str, **extra):
    entry = registry.tasks().get(name)
    raw = {**entry.cls.smoke_params, **extra}
    return entry.create(entry.resolve({k: str(v) for k, v in raw.items()}))


def minilm(strings: list[str]) -> torch.Tensor:
    """MiniLM's features of `strings`, in the half precision of their cache."""
    return torch.from_numpy(_sentences.encode(strings, _sentences.MINILM)).half().float()


def test_a_lookup_gives_each_input_the_features_of_its_text():
    tokens = torch.tensor([[1, 2], [3, 4], [1, 2]])  # the third input equals the first: the first one's
    lookup = FrozenLookup(
        [
            (tokens, torch.tensor([[1.0, 0], [0, 1], [5, 5]])),
            (torch.tensor([[7, 7]]), torch.tensor([[0.5, 0.5]])),
        ],
        "words",
    )
    assert lookup.out_dim == 2 and lookup.feature_name == "words" and not list(lookup.parameters())
    got = lookup(torch.tensor([[3, 4], [7, 7], [1, 2]]))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, torch.tensor([[0.0, 1], [0.5, 0.5], [1, 0]]))
    torch.testing.assert_close(lookup(torch.tensor([[[7, 7], [1, 2]]])), torch.tensor([[0.5, 0.5]]))  # row 0
    assert lookup(torch.zeros(0, 2, dtype=torch.long)).shape == (0, 2)
    with pytest.raises(LookupError, match="^words: an input row that is none of the task's texts"):
        lookup(torch.tensor([[9, 9]]))
    with pytest.raises(LookupError):  # the same numbers in another dtype are another input
        lookup(torch.tensor([[3.0, 4.0]]))


def test_rs_fits_the_captions_on_minilm_in_both_modes_from_one_cache_entry_or_on_clips_text_tower(tmp_path):
    root = rs_files.build(tmp_path / "rs")
    idx = torch.arange(3)
    for mode in ("frozen", "finetune"):
        task = _task("rs", source=f"local:{root}", mode=mode, **TINY)
        data = task.load()
        _, text = task.frozen_features(data)
        assert text.feature_name == "minilm" and text.out_dim == 384
        raw = rs_data.read(task.p)
        strings = rs_inputs.texts(raw, task.p, rs_inputs.vocabulary(raw, task.p))
        firsts = strings["train_b"][:: task.p["n_captions"]]  # the first caption of each train item
        torch.testing.assert_close(text(take(data.train_b, idx)), minilm(firsts[:3]), atol=2e-3, rtol=0)
        for key in ("ret/rsicd/texts", "zs/aid/prompts", "keywords"):
            torch.testing.assert_close(text(data.eval[key][:4]), minilm(strings[key][:4]), atol=2e-3, rtol=0)
        assert len(list(cache.root().glob("rs-text-*"))) == 1, mode  # one entry for both modes

        clip = _task("rs", source=f"local:{root}", mode=mode, frozen_text="clip", **TINY)
        clip_data = clip.load()
        _, clip_text = clip.frozen_features(clip_data)
        assert clip_text.feature_name == "rs-tiny random weights text"
        x = take(clip_data.train_b, idx)
        with torch.no_grad():
            want = x[:, 0] if mode == "frozen" else clip.encoders(clip_data)[1].eval()(x)
        torch.testing.assert_close(clip_text(x), want)
        assert clip_text.out_dim == want.shape[1] != 384


def test_vl_with_an_open_clip_encoder_fits_the_captions_on_minilm_shared_with_encoder_cnn():
    """The same MiniLM features of the same captions as encoder=cnn's text inputs, from the same entry."""
    cnn = _task("vl")
    cnn_data = cnn.load()
    for mode in ("frozen", "finetune"):
        task = _task("vl", mode=mode, **TINY)
        data = task.load()
        _, text = task.frozen_features(data)
        assert text.feature_name == "minilm" and text.out_dim == 384
        idx = torch.arange(5)
        torch.testing.assert_close(text(take(data.train_b, idx)), take(cnn_data.train_b, idx)[:, 0])
        torch.testing.assert_close(text(data.eval["test_texts"]), cnn_data.eval["test_texts"])
        torch.testing.assert_close(text(data.eval["zs_prompts"]), cnn_data.eval["zs_prompts"])
        assert len(list(cache.root().glob("vl-text-*"))) == 1
        clip = _task("vl", mode=mode, frozen_text="clip", **TINY)
        _, clip_text = clip.frozen_features(clip.load())
        assert clip_text.feature_name == "rs-tiny random weights text"


@pytest.mark.parametrize("name", ["rs", "vl"])
def test_a_closed_form_run_fits_on_minilm_with_no_train_seed_and_its_label_says_which(
    name, tmp_path, results
):
    """cca with seeds 0 and 1 (one split seed): the same metrics, fitted on MiniLM's 384 dimensions; with
    frozen_text=clip, on CLIP's text tower; collect shows both, and the table labels tell them apart."""
    if name == "rs":
        params = {"source": f"local:{rs_files.build(tmp_path / 'rs')}", "mode": "frozen", "batch_size": "8"}
    else:
        params = {
            **{k: str(v) for k, v in registry.tasks().get("vl").cls.smoke_params.items()},
            "mode": "finetune",
        }
    params = {**params, **TINY, "checkpoint_every": "0"}
    args = ["run", "--methods", "cca", "--tasks", name, "--pair-ratio", "0.5", "--results", str(results)]
    args += ["--jobs", "1", *(a for k, v in params.items() for a in ("--task-param", f"{k}={v}"))]
    assert main([*args, "--seeds", "0,1"]) == 0
    assert main([*args, "--seeds", "0", "--task-param", "frozen_text=clip"]) == 0
    assert main(["collect", "--results", str(results)]) == 0
    table = pd.read_parquet(results / "results.parquet")
    assert set(table["state"]) == {"done"} and len(table) == 3
    store = Store(results)
    mini = table[table["p_task_frozen_text"] == "minilm"].sort_values("seed")
    first, second = (store.folder(r).metrics() for r in mini["run_id"])
    assert first == second
    image = "rs-tiny random weights image" if name == "rs" else "pixels 32×32"
    assert set(mini["fit_features"]) == {f"A: {image} · B: minilm"}
    clip = table[table["p_task_frozen_text"] == "clip"].iloc[0]
    assert clip["fit_features"] == f"A: {image} · B: rs-tiny random weights text"
    assert store.folder(clip["run_id"]).metrics() != first
    assert "/384 (" in store.folder(mini["run_id"].iloc[0]).file("log.txt").read_text()
    variants = set(with_variants(table)["variant"])
    assert {"frozen_text=minilm", "frozen_text=clip"} <= {v for v in variants}


def _grid(methods: list[str], **task_params: str) -> Grid:
    return Grid(methods, ["vl"], [0.5], [0], method_params={}, task_params=task_params)


def test_a_frozen_request_the_task_cannot_serve_is_refused_for_the_methods_that_read_it_alone():
    released = {"source": "synthetic:32", "encoder": "released", "pretrained": "none", "mode": "frozen"}
    with pytest.raises(
        BenchError, match="^method cca on task vl: encoder=released pretrained=none mode=frozen"
    ):
        expand(_grid(["clip", "cca"], **released))
    assert {s.method for s in expand(_grid(["clip", "gentle_clip"], **released))} == {"clip", "gentle_clip"}
    towers = Grid(["cca"], ["vl"], [0.5], [0], method_params={"features": "towers"}, task_params=released)
    assert [s.method for s in expand(towers)] == ["cca"]  # the towers' outputs need no frozen features
    with pytest.raises(BenchError, match="^method asif on task vl: frozen_text=clip needs an open_clip"):
        expand(_grid(["asif"], source="synthetic:32", frozen_text="clip"))
    assert expand(_grid(["clip"], source="synthetic:32", frozen_text="clip"))
