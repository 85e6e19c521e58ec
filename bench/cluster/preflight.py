"""Checks before anything is submitted to SLURM: the tools exist, the controller answers, the request fits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from bench.cluster.profile import Profile
from bench.errors import BenchError
from bench.suggest import closest

SINFO_FORMAT = "%P|%c|%m|%G|%l"  # partition (default marked *), CPUs, memory MB, GRES, time limit; per node
_GPU = re.compile(r"gpu(?::[^:(,]+)?:(\d+)")


@dataclass(frozen=True)
class Node:
    """What one node offers: CPUs, memory in MB, GPUs."""

    cpus: int
    mem_mb: int
    gpus: int


@dataclass
class Partition:
    """A partition: its nodes, whether it is the default one, and its time limit (None: unlimited)."""

    name: str
    default: bool = False
    max_time_min: int | None = None
    nodes: list[Node] = field(default_factory=list)


def preflight(profile: Profile, timeout_s: float = 15.0) -> None:
    """Raise BenchError (one line) unless `sbatch` is on PATH, the controller answers `sinfo` within
    `timeout_s`, and some node of the profile's partition can hold one job of the profile."""
    if shutil.which("sbatch") is None:
        raise BenchError("--cluster slurm: sbatch is not on PATH (no SLURM client on this machine)")
    conf = os.environ.get("SLURM_CONF")
    if conf and not os.path.isfile(conf):
        raise BenchError(f"--cluster slurm: SLURM_CONF={conf} does not exist")
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-N", "-o", SINFO_FORMAT], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise BenchError(
            f"--cluster slurm: the SLURM controller did not answer sinfo within {timeout_s:g} s"
        ) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
        raise BenchError(f"--cluster slurm: the SLURM controller does not answer: {lines[-1]}")
    check_request(profile, parse_sinfo(done.stdout))


def parse_sinfo(text: str) -> dict[str, Partition]:
    """Partitions from the output of `sinfo -h -N -o SINFO_FORMAT` (one line per node and partition)."""
    partitions: dict[str, Partition] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, cpus, mem, gres, limit = line.strip().split("|")
        default = name.endswith("*")
        name = name.rstrip("*")
        part = partitions.setdefault(name, Partition(name, default, parse_time_limit(limit)))
        part.nodes.append(Node(_number(cpus), _number(mem), gpu_count(gres)))
    return partitions


def gpu_count(gres: str) -> int:
    """GPUs in a GRES string such as 'gpu:a100:4(S:0-1),gpu:2' or '(null)'."""
    return sum(int(n) for n in _GPU.findall(gres))


def parse_time_limit(text: str) -> int | None:
    """Minutes in a SLURM time limit ('infinite', 'MM', 'MM:SS', 'HH:MM:SS', 'D-HH[:MM[:SS]]'), rounded up."""
    text = text.strip()
    if text in ("infinite", "UNLIMITED", "n/a", ""):
        return None
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # D-HH, D-HH:MM, D-HH:MM:SS
        parts += [0] * (3 - len(parts))
        hours, minutes, seconds = parts
        hours += 24 * int(days)
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:  # MM or MM:SS
        hours, minutes, seconds = 0, parts[0], (parts[1] if len(parts) == 2 else 0)
    return hours * 60 + minutes + (1 if seconds else 0)


def check_request(profile: Profile, partitions: dict[str, Partition]) -> None:
    """Raise BenchError unless one node of the profile's partition (or the default one) fits the request."""
    where = f"profile {profile.source}"
    if profile.partition is None:
        defaults = [p for p in partitions.values() if p.default]
        if not defaults:
            raise BenchError(f"{where}: the cluster has no default partition; set partition")
        part = defaults[0]
    elif profile.partition in partitions:
        part = partitions[profile.partition]
    else:
        names = ", ".join(partitions) or "none"
        hint = closest(profile.partition, partitions)
        raise BenchError(
            f"{where}: no partition {profile.partition!r} on this cluster{hint}; it has: {names}"
        )
    if part.max_time_min is not None and profile.time_min > part.max_time_min:
        raise BenchError(
            f"{where}: time_min {profile.time_min} exceeds the {part.max_time_min} min limit "
            f"of partition {part.name!r}"
        )
    if profile.gpus_per_node and not any(n.gpus for n in part.nodes):
        raise BenchError(
            f"{where}: asks for {profile.gpus_per_node} GPU(s) per node but partition {part.name!r} "
            "has no GPUs (CPU-only cluster); set gpus_per_node: 0 or pick a GPU partition"
        )
    mem_mb = round(profile.mem_gb * 1024) if profile.mem_gb is not None else 0
    cpus = profile.cpus_per_task * profile.tasks_per_node  # each task (rank) has cpus_per_task
    if any(n.cpus >= cpus and n.mem_mb >= mem_mb and n.gpus >= profile.gpus_per_node for n in part.nodes):
        return
    want = _describe(cpus, mem_mb, profile.gpus_per_node)
    big = max(part.nodes, key=lambda n: (n.gpus, n.cpus, n.mem_mb))
    largest = _describe(big.cpus, big.mem_mb, big.gpus)
    raise BenchError(f"{where}: no node of partition {part.name!r} has {want} (largest: {largest})")


def _describe(cpus: int, mem_mb: int, gpus: int) -> str:
    parts = [f"{cpus} CPU{'s' * (cpus != 1)}"]
    parts += [f"{mem_mb / 1024:.1f} GB"] if mem_mb else []
    parts += [f"{gpus} GPU{'s' * (gpus != 1)}"] if gpus else []
    return ", ".join(parts)


def _number(text: str) -> int:
    digits = re.match(r"\d+", text.strip())
    return int(digits.group()) if digits else 0
