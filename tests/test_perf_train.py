"""`perf train` at small sizes on the CPU: it runs for rs (rs-tiny fine-tuned on generated images, a loader
worker) and for synthetic, its JSON holds every field, every time is positive and finite, and the rates,
shares, ratios and target marks follow from the times; its table shows the same. Bad flags give one line
and exit 2. Speed itself is never asserted."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from bench.cli.main import main
from bench.perf.train import PHASES, format_table

CPU = ["--device", "cpu", "--steps", "3", "--warmup", "0", "--json"]
RS = ["--task", "rs", "--encoder", "rs-tiny", "--mode", "finetune", "--batch-size", "8", "--num-workers", "1"]
RS_DATA = ["--task-param", "source=synthetic:30", "--task-param", "embed_dim=32"]
SYNTHETIC = ["--task", "synthetic", "--batch-size", "16", "--num-workers", "0"]
SYNTHETIC_DATA = [f"--task-param={k}={v}" for k, v in {"n_train": 200, "n_test": 20, "width": 32}.items()]
RECORD = {
    "contender",
    "kind",
    "rows",
    "steps",
    "step_ms",
    "steps_per_s",
    "samples_per_s",
    "data_share",
    "peak_mb",
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    """The JSON of `perf train` on rs and on synthetic (one run each, shared by the tests), in a cache of
    their own."""
    out = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        for name, argv in (("rs", RS + RS_DATA), ("synthetic", SYNTHETIC + SYNTHETIC_DATA)):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                assert main(["perf", "train", *argv, *CPU]) == 0
            out[name] = json.loads(printed.getvalue())
    return out


@pytest.mark.parametrize("task", ["rs", "synthetic"])
def test_the_json_has_every_field_and_positive_finite_times(task, reports):
    report = reports[task]
    assert set(report) == {"setting", "records", "ratios", "targets"}
    s = report["setting"]
    assert s["task"] == task and s["device"] == "cpu" and s["steps"] == 3 and s["warmup"] == 0
    assert s["paired_rows"] > 0 and s["unpaired_rows"] > 0
    assert [r["contender"] for r in report["records"]] == ["clip", "gentle_clip", "reference"]
    for r in report["records"]:
        assert RECORD | {f"{p}_ms" for p in PHASES} <= set(r)
        assert r["steps"] == 3
        for key in ("step_ms", "steps_per_s", "samples_per_s", *(f"{p}_ms" for p in PHASES)):
            assert math.isfinite(r[key]) and r[key] > 0, (r["contender"], key, r[key])
        assert math.isfinite(r["peak_mb"]) and r["peak_mb"] >= 0
    if task == "rs":
        assert s["encoder"] == "rs-tiny" and s["mode"] == "finetune" and s["num_workers"] == 1


@pytest.mark.parametrize("task", ["rs", "synthetic"])
def test_rates_shares_ratios_and_marks_follow_from_the_times(task, reports):
    report = reports[task]
    s, by = report["setting"], {r["contender"]: r for r in report["records"]}
    assert by["clip"]["rows"] == by["reference"]["rows"] == s["paired_rows"]
    assert by["gentle_clip"]["rows"] == s["paired_rows"] + s["unpaired_rows"]
    for r in by.values():
        assert r["step_ms"] == pytest.approx(sum(r[f"{p}_ms"] for p in PHASES))
        assert r["steps_per_s"] == pytest.approx(1000 / r["step_ms"])
        assert r["samples_per_s"] == pytest.approx(r["rows"] * 1000 / r["step_ms"])
        assert r["data_share"] == pytest.approx(r["data_ms"] / r["step_ms"])
    ratios = report["ratios"]
    assert ratios["clip_vs_reference_throughput"] == pytest.approx(
        by["reference"]["step_ms"] / by["clip"]["step_ms"]
    )
    assert ratios["gentle_clip_vs_clip_step_time"] == pytest.approx(
        by["gentle_clip"]["step_ms"] / by["clip"]["step_ms"]
    )
    assert ratios["data_share_clip"] == by["clip"]["data_share"]
    bounds = {t["ratio"]: (t["op"], t["bound"], t["pass"]) for t in report["targets"]}
    assert set(bounds) == set(ratios)
    assert bounds["clip_vs_reference_throughput"][:2] == (">=", 0.9)
    assert bounds["gentle_clip_vs_clip_step_time"][:2] == ("<=", 1.3)
    assert bounds["data_share_gentle_clip"][:2] == ("<", 0.05)
    assert all(t["value"] == ratios[t["ratio"]] for t in report["targets"])
    for key, (op, bound, passed) in bounds.items():
        value = ratios[key]
        assert passed == {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]


def test_the_table_shows_each_contender_and_each_target_marked(reports):
    report = reports["synthetic"]
    text = format_table(report)
    for name in ("clip", "gentle_clip", "reference"):
        assert any(line.startswith(name + " ") for line in text.splitlines()), text
    for target in report["targets"]:
        line = next(line for line in text.splitlines() if line.startswith(target["label"]))
        assert ("✓ pass" if target["pass"] else "✗ FAIL") in line
    assert "data ms" in text and "peak MB" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "0"], "--steps 0, --warmup 3: give at least 1 timed step"),
        (["--warmup", "-1"], "--warmup -1"),
        (["--methods", "clp"], "unknown method 'clp' (did you mean clip"),
        (["--task", "synthetc"], "unknown task 'synthetc' (did you mean synthetic"),
        (["--amp", "fp8"], "parameter amp='fp8' is not one of: none, bf16, fp16"),
        (["--amp", "fp16", "--device", "cpu"], "amp=fp16 needs CUDA"),
        (["--device", "tpu"], "parameter device='tpu' is not one of"),
        (["--batch-size", "1"], "batch_size=1 is outside its valid range"),
        (["--num-workers", "many"], "parameter num_workers='many' is not a valid int"),
        (["--pair-ratio", "2"], "pair ratio 2 is outside [0, 1]"),
        (["--pair-ratio", "0.1,0.2"], "--pair-ratio 0.1,0.2: give one pair ratio"),
        (["--task", "synthetic", "--encoder", "RN50"], "unknown parameter 'encoder' for task synthetic"),
        (["--task-param", "steps"], "--task-param 'steps' is malformed"),
        ([*SYNTHETIC, *SYNTHETIC_DATA, "--pair-ratio", "0"], "holds no pairs; raise --pair-ratio"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else None,
)
def test_bad_flags_give_one_line_and_exit_2(argv, message, capsys):
    code = main(["perf", "train", *argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in out + err
