"""Profiles and the checks before submission (bench.cluster.profile, .preflight), without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cluster.preflight import check_request, gpu_count, parse_sinfo, parse_time_limit, preflight
from bench.cluster.profile import Profile, load_profile
from bench.errors import BenchError

PROFILES = Path(__file__).resolve().parents[1] / "slurm" / "profiles"

# `sinfo -h -N -o '%P|%c|%m|%G|%l'` on the loopback cluster, and on a site with CPU and GPU partitions
CPU_CLUSTER = "debug*|2|24105|(null)|infinite\n"
GPU_SITE = """\
cpu*|64|257000|(null)|2-00:00:00
cpu*|64|257000|(null)|2-00:00:00
gpu|32|512000|gpu:a100:4(S:0-1)|12:00:00
gpu|48|1024000|gpu:h100:8(S:0,1),gpu:a100:0|12:00:00
short|8|16000|(null)|30:00
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def test_shipped_profiles_load():
    ci = load_profile(PROFILES / "local-ci.yaml")
    assert (ci.partition, ci.gpus_per_node, ci.cpus_per_task, ci.max_concurrent) == ("debug", 0, 1, 2)
    gpu = load_profile(PROFILES / "example-gpu.yaml")
    assert gpu.gpus_per_node == 1 and gpu.setup[0].startswith("module load")
    assert gpu.for_method("gentle_clip").time_min == 480


def test_submitit_params_use_submitit_names(tmp_path):
    path = write(
        tmp_path,
        "partition: gpu\naccount: lab\nqos: high\ngpus_per_node: 2\ncpus_per_task: 4\nmem_gb: 16\n"
        "time_min: 30\nmax_concurrent: 3\nrequeue_max: 5\nsignal_delay_s: 60\n"
        "sbatch_extra: ['--constraint=a100', '--exclusive']\nsetup: ['module load cuda']\n",
    )
    profile = load_profile(path)
    assert profile.submitit_params() == {
        "slurm_partition": "gpu",
        "slurm_account": "lab",
        "slurm_qos": "high",
        "gpus_per_node": 2,
        "cpus_per_task": 4,
        "mem_gb": 16,
        "timeout_min": 30,
        "slurm_array_parallelism": 3,
        "slurm_signal_delay_s": 60,
        "slurm_additional_parameters": {"constraint": "a100", "exclusive": True},
        "slurm_setup": ["module load cuda"],
    }
    assert profile.executor_kwargs() == {"slurm_max_num_timeout": 5}


def test_submitit_accepts_the_params(tmp_path):
    submitit = pytest.importorskip("submitit")
    profile = load_profile(PROFILES / "example-gpu.yaml")
    executor = submitit.AutoExecutor(folder=tmp_path, cluster="local", **profile.executor_kwargs())
    executor.update_parameters(**profile.submitit_params())  # raises on a name submitit does not know


def test_defaults_and_empty_file(tmp_path):
    profile = load_profile(write(tmp_path, "# nothing set\n"))
    assert profile == Profile(source=str(tmp_path / "p.yaml"))
    assert profile.submitit_params() == {"timeout_min": 60, "cpus_per_task": 1, "slurm_signal_delay_s": 90}


def test_method_overrides(tmp_path):
    path = write(
        tmp_path, "time_min: 60\nmem_gb: 8\nmethods:\n  gentle_clip: {time_min: 120, gpus_per_node: 1}\n"
    )
    profile = load_profile(path)
    special = profile.for_method("gentle_clip")
    assert (special.time_min, special.gpus_per_node, special.mem_gb) == (120, 1, 8)
    assert profile.for_method("clip") is profile
    assert profile.override({"time_min": 5}, "--set").time_min == 5
    profile.check_methods(["gentle_clip", "clip"])
    with pytest.raises(BenchError, match=r"unknown method 'gentle_clip' \(did you mean gentle_clp\?\)"):
        profile.check_methods(["gentle_clp", "pseudo_label"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("partiton: debug\n", r"unknown key 'partiton' \(did you mean partition\?\)$"),
        ("cpus_per_task: two\n", r"cpus_per_task must be an integer >= 1, got 'two'$"),
        ("cpus_per_task: 0\n", r"cpus_per_task must be an integer >= 1, got 0$"),
        ("gpus_per_node: true\n", r"gpus_per_node must be an integer >= 0, got True$"),
        ("mem_gb: -1\n", r"mem_gb must be a number > 0, got -1$"),
        ("setup: module load cuda\n", r"setup must be a list of strings, got 'module load cuda'$"),
        ("partition: [a, b]\n", r"partition must be a name, got \['a', 'b'\]$"),
        (
            "sbatch_extra: ['constraint=a100']\n",
            r"'constraint=a100' is not of the form --name=value or --name$",
        ),
        ("sbatch_extra: ['--time=10']\n", r"'--time=10' is not allowed: set time_min instead$"),
        ("time_min: 2\n", r"signal_delay_s \(90 s\) must be over a minute shorter than time_min \(2 min\)"),
        ("- partition\n", r"expected a mapping of keys to values, got a list$"),
        ("partition: debug\n  cpus: [\n", r"malformed YAML at line \d+: "),
        ("methods: [clip]\n", r"methods must map method names to keys, got a list$"),
        (
            "methods:\n  clip: {time_mn: 5}\n",
            r": methods\.clip: unknown key 'time_mn' \(did you mean time_min\?\)$",
        ),
        ("methods:\n  clip: {methods: {}}\n", r"unknown key 'methods' \(per-method overrides cannot nest\)$"),
    ],
)
def test_bad_profile_is_one_clear_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(BenchError, match=message) as caught:
        load_profile(path)
    assert str(caught.value).startswith(f"profile {path}: ")
    assert "\n" not in str(caught.value)


def test_missing_profile(tmp_path):
    with pytest.raises(BenchError, match=r"^profile .*nope\.yaml: no such file$"):
        load_profile(tmp_path / "nope.yaml")


def test_parse_sinfo():
    parts = parse_sinfo(GPU_SITE)
    assert list(parts) == ["cpu", "gpu", "short"]
    assert parts["cpu"].default and not parts["gpu"].default
    assert [n.gpus for n in parts["gpu"].nodes] == [4, 8]
    assert parts["gpu"].nodes[1].mem_mb == 1024000 and parts["gpu"].nodes[1].cpus == 48
    assert [p.max_time_min for p in parts.values()] == [2880, 720, 30]
    assert parse_sinfo(CPU_CLUSTER)["debug"].max_time_min is None


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("infinite", None), ("30", 30), ("30:00", 30), ("30:01", 31), ("2:00:00", 120), ("1-00:00:00", 1440)]
    + [("1-2", 1560), ("1-02:30", 1590)],
)
def test_parse_time_limit(text, minutes):
    assert parse_time_limit(text) == minutes


def test_gpu_count():
    assert gpu_count("(null)") == 0
    assert gpu_count("gpu:4") == 4
    assert gpu_count("gpu:4(S:0-1)") == 4
    assert gpu_count("gpu:a100:2(S:0,1),gpu:v100:3,shard:8") == 5


def request(**values) -> Profile:
    return Profile(source="p.yaml").override(values, "test")


def test_request_fits():
    check_request(request(partition="debug", cpus_per_task=2, mem_gb=20), parse_sinfo(CPU_CLUSTER))
    check_request(request(), parse_sinfo(CPU_CLUSTER))  # the default partition
    check_request(request(partition="gpu", gpus_per_node=8, cpus_per_task=48), parse_sinfo(GPU_SITE))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gpus_per_node": 1}, r"asks for 1 GPU\(s\) per node but partition 'debug' has no GPUs \(CPU-only"),
        (
            {"partition": "debgu"},
            r"no partition 'debgu' on this cluster \(did you mean debug\?\); it has: debug$",
        ),
        (
            {"cpus_per_task": 4},
            r"no node of partition 'debug' has 4 CPUs \(largest: 2 CPUs, 23.5 GB\)$",
        ),
        ({"mem_gb": 30}, r"has 1 CPU, 30.0 GB \(largest: 2 CPUs, 23.5 GB\)$"),
    ],
)
def test_request_refused_on_cpu_cluster(values, message):
    with pytest.raises(BenchError, match=message):
        check_request(request(**values), parse_sinfo(CPU_CLUSTER))


def test_request_refused_on_gpu_site():
    site = parse_sinfo(GPU_SITE)
    with pytest.raises(BenchError, match=r"time_min 60 exceeds the 30 min limit of partition 'short'$"):
        check_request(request(partition="short"), site)
    with pytest.raises(BenchError, match=r"has 64 CPUs, 8 GPUs \(largest: 48 CPUs, 1000.0 GB, 8 GPUs\)$"):
        check_request(request(partition="gpu", gpus_per_node=8, cpus_per_task=64), site)
    with pytest.raises(BenchError, match=r"the cluster has no default partition; set partition$"):
        check_request(request(), parse_sinfo("gpu|4|1000|gpu:1|infinite\n"))


def test_preflight_without_sbatch(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BenchError, match=r"^--cluster slurm: sbatch is not on PATH"):
        preflight(request())


def test_preflight_with_missing_conf(monkeypatch, tmp_path):
    (tmp_path / "sbatch").write_text("#!/bin/sh\n")
    (tmp_path / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "slurm.conf"))
    with pytest.raises(BenchError, match=r"SLURM_CONF=.*slurm\.conf does not exist$"):
        preflight(request())
