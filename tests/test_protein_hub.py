"""The protein task's `hf:` source on a local folder laid out like hf:vinesmsuic/SwissProtCLAP (offline),
its cache keys (the folder's files), its one-line errors, and the contamination guard on the test set.

The layout, from the repository's README.md (dataset_info of revision 365f9d7): one config `default`
whose `train` split is `data/train-*` (parquet), 541,159 rows of the string columns `UniProt ID`,
`Protein Sequence` and `Functional Description`. The shard names below (two shards, as push_to_hub
writes for 0.5 GB) follow the datasets convention; the README fixes only the `data/train-*` pattern.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import registry
from bench.cell.execute import execute
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.errors import BenchError
from tasks import _sentences, hub
from tasks.protein import Protein, pipeline, sources, split, synthetic

README = """---
dataset_info:
  features:
  - name: UniProt ID
    dtype: string
  - name: Protein Sequence
    dtype: string
  - name: Functional Description
    dtype: string
  splits:
  - name: train
    num_bytes: {size}
    num_examples: {n}
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---
"""
COLUMNS = ("UniProt ID", "Protein Sequence", "Functional Description")
SMALL = {"n_train": 200, "n_test": 50, "split": "random", "n_crops": 2, "tower_width": 16}


@pytest.fixture(autouse=True)
def _fast_text(monkeypatch):
    """A fast deterministic stand-in for the text encoder (as tests/test_protein_pipeline.py); and
    tasks/hub.py's per-process memo forgotten, so that a test sees the folder as it is now."""
    monkeypatch.setattr(
        _sentences,
        "encode",
        lambda texts, encoder: np.stack(
            [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(384) for t in texts]
        ),
    )
    monkeypatch.setattr(hub, "_located", {})


def _write(folder: Path, columns: dict[str, list], shards: int = 2, split_name: str = "train") -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    n = len(next(iter(columns.values())))
    bounds = np.linspace(0, n, shards + 1).astype(int)
    for k in range(shards):
        part = {c: v[bounds[k] : bounds[k + 1]] for c, v in columns.items()}
        pq.write_table(pa.table(part), folder / "data" / f"{split_name}-{k:05d}-of-{shards:05d}.parquet")
    return folder


def swissprotclap(folder: Path, n: int = 300, seed: int = 3) -> Path:
    """A copy of SwissProtCLAP's layout: README.md with its dataset card, train shards under data/."""
    records, _ = synthetic.generate(n, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(README.format(size=sum(map(len, records.sequences)), n=n))
    (folder / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    return _write(
        folder, dict(zip(COLUMNS, (records.accessions, records.sequences, records.texts), strict=True))
    )


def test_a_folder_like_swissprotclap_runs_one_cell_and_records_what_was_evaluated(tmp_path):
    folder = swissprotclap(tmp_path / "SwissProtCLAP")
    entry = registry.tasks().get("protein")
    raw = {"source": f"hf:{folder}", **SMALL, "steps": 5, "batch_size": 16, "checkpoint_every": 0}
    task = entry.create(entry.resolve({k: str(v) for k, v in raw.items()}))
    summary = task.prepare()
    assert summary["proteins_in_source"] == 300 and summary["n_train"] == 200 and summary["n_test"] == 50
    assert summary["test_overlap"] == 0 and summary["test_excluded"] == 0
    data = task.load()
    assert len(data) == 200 and len(data.eval.test_a) == 50
    identity = hub.locate(str(folder), "test").identity
    assert set(data.about["protocols"]) >= {"a2b_r1", "a2b_map", "align_cka"}  # each metric's protocol
    assert {k: v for k, v in data.about.items() if k != "protocols"} == {
        "eval_sets": {
            "test": {
                "source": f"hf:{folder}",
                "split": "random test split (50 of the 300 proteins of the source)",
                "size": 50,
                "overlap": 0,
                "excluded": 0,
            }
        },
        "revision": identity,
    }
    assert json.loads(json.dumps(data.about)) == data.about and identity["folder"] == str(folder)
    method = registry.methods().get("gentle_clip")
    spec = RunSpec("gentle_clip", "protein", 0.5, 0, 0, method.resolve({}), task.p)
    run = Store(tmp_path / "results").create(spec, spec.run_id())
    assert execute(run) == "done", run.status().get("error")
    assert run.status()["data"] == data.about


def test_source_spellings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sources.normalise("hf:vinesmsuic/SwissProtCLAP") == "hf:vinesmsuic/SwissProtCLAP"
    assert sources.normalise("hf:./copy") == f"hf:{tmp_path / 'copy'}"
    assert sources.normalise(f"hf:{tmp_path}/copy/") == f"hf:{tmp_path / 'copy'}"
    assert Protein().p["source"] == "debian:metastudent"  # the default source is not located
    for bad in ("hf:vinesmsuic", "hf:a/b/c", "hf:"):
        with pytest.raises(BenchError, match=r"^protein source: hf:\S* must be hf:<owner>/<name>") as err:
            Protein(source=bad)
        assert "\n" not in str(err.value)


def test_the_cache_key_follows_the_files_of_the_folder(tmp_path):
    folder = swissprotclap(tmp_path / "copy")
    p = Protein(source=f"hf:{folder}", **SMALL).p
    first = pipeline.keys(p)["source"]
    assert first["data_identity"] == {"folder": str(folder), "files": hub.fingerprint(folder)}
    stages = pipeline.keys(p)
    assert all(stages[s]["data_identity"] == first["data_identity"] for s in ("subset", "protein", "text"))
    assert pipeline.keys(p) == pipeline.keys(p)  # memoised: the same key on every load of a process
    assert Protein(source=f"hf:{folder}", **SMALL).prepare()["proteins"] == 300
    swissprotclap(folder, n=280, seed=4)  # new files: a new revision of the data
    hub._located.clear()  # a new process
    second = pipeline.keys(p)["source"]
    assert second["data_identity"]["files"] != first["data_identity"]["files"]
    assert Protein(source=f"hf:{folder}", **SMALL).prepare()["proteins"] == 280
    # the default source locates nothing
    hub._located.clear()
    assert "data_identity" not in pipeline.keys(Protein().p)["source"] and not hub._located


def test_a_hub_repository_keys_by_its_revision(monkeypatch, tmp_path):
    folder = swissprotclap(tmp_path / "snapshots" / "365f9d778d61566469b7aba94821c191e799e001")
    calls = []

    def snapshot(where, what):
        calls.append(where)
        return hub.Located(folder, {"repo": where, "revision": folder.name})

    monkeypatch.setattr(hub, "_snapshot", snapshot)
    task = Protein(source="hf:vinesmsuic/SwissProtCLAP", **SMALL)
    key = pipeline.keys(task.p)["source"]
    assert key["data_identity"] == {"repo": "vinesmsuic/SwissProtCLAP", "revision": folder.name}
    assert task.load().about["revision"] == key["data_identity"] and calls == ["vinesmsuic/SwissProtCLAP"]


def test_an_absent_repository_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        BenchError, match="cannot download hf:nobody/no-such-dataset.*hf:/path/to/folder"
    ) as err:
        Protein(source="hf:nobody/no-such-dataset", **SMALL).prepare()
    assert "\n" not in str(err.value)


def _fails(source: str, *patterns: str) -> None:
    with pytest.raises(BenchError) as err:
        Protein(source=source, **SMALL).prepare()
    message = str(err.value)
    assert "\n" not in message, message
    for pattern in patterns:
        assert pattern in message, message


def test_bad_folders_are_one_line_errors(tmp_path):
    _fails(f"hf:{tmp_path / 'nowhere'}", "is not a folder")
    records, _ = synthetic.generate(60, seed=1)
    table = dict(zip(COLUMNS, (records.accessions, records.sequences, records.texts), strict=True))
    _write(tmp_path / "no_train", table, shards=1, split_name="test")
    _fails(f"hf:{tmp_path / 'no_train'}", "has no train split", "(its splits: test)")
    (tmp_path / "empty").mkdir()
    _fails(f"hf:{tmp_path / 'empty'}", "cannot read hf:", "data/train-*.parquet")
    no_seq = {
        "UniProt ID": records.accessions,
        "Residues": records.sequences,
        "Functional Description": records.texts,
    }
    _write(tmp_path / "no_seq", no_seq, shards=1)
    _fails(
        f"hf:{tmp_path / 'no_seq'}",
        "has no sequence column",
        "columns found: UniProt ID, Residues, Functional Description",
        "needed: an id, a sequence and a text column",
    )


def test_swissprotclap_columns_are_found():
    assert sources.pick_columns(list(COLUMNS), "x/y") == COLUMNS
    assert sources.pick_columns(list(reversed(COLUMNS)), "x/y") == COLUMNS


def test_the_guard_on_a_hand_built_split():
    train, test = ["MKV", "ACDE", "WWW"], ["ACDE", "GGG", "WWW", "PPP"]
    shared = pipeline.shared_with_train(train, test)
    assert shared == [0, 2]
    with pytest.raises(
        BenchError, match=r"^task protein: 2 of the 4 items of evaluation set test are also in"
    ):
        pipeline.guard_test(4, shared, "refuse")
    assert pipeline.guard_test(4, shared, "exclude") == [1, 3]
    assert pipeline.guard_test(4, shared, "allow") == [0, 1, 2, 3]
    assert pipeline.guard_test(4, [], "refuse") is None
    with pytest.raises(BenchError, match="all 2 test proteins are also train proteins"):
        pipeline.guard_test(2, [0, 1], "exclude")


@pytest.fixture
def overlap(monkeypatch):
    """A split whose first test protein is a train protein too (the sources merge identical
    sequences, so a real split never has one): the guard's safety net, end to end."""
    real = split.choose

    def choose(sequences, **kwargs):
        chosen = real(sequences, **kwargs)
        chosen["test"] = np.sort(np.concatenate([chosen["test"][1:], chosen["train"][:1]]))
        return chosen

    monkeypatch.setattr(split, "choose", choose)


def test_the_guard_end_to_end(tmp_path, overlap):
    source = f"hf:{swissprotclap(tmp_path / 'copy')}"
    with pytest.raises(BenchError, match=r"^task protein: 1 of the 50 items of evaluation set test are also"):
        Protein(source=source, **SMALL).prepare()
    # the cached subset knows the overlap: each policy applies to it without a rebuild
    excluded = Protein(source=source, contamination="exclude", **SMALL).load()
    assert len(excluded.eval.test_a) == len(excluded.eval.test_text) == 49
    assert excluded.about["eval_sets"]["test"] | {"source": None} == {
        "source": None,
        "split": "random test split (50 of the 300 proteins of the source)",
        "size": 49,
        "overlap": 1,
        "excluded": 1,
    }
    allowed = Protein(source=source, contamination="allow", **SMALL).load()
    assert len(allowed.eval.test_a) == 50
    assert (
        allowed.about["eval_sets"]["test"]["overlap"] == 1
        and allowed.about["eval_sets"]["test"]["excluded"] == 0
    )
    with pytest.raises(BenchError, match="contamination=exclude"):
        Protein(source=source, **SMALL).load()
    with pytest.raises(BenchError, match="contamination"):
        Protein(source=source, contamination="maybe")
