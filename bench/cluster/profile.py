"""Cluster profiles: the resources a SLURM job asks for, read from a YAML file (see slurm/README.md)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.suggest import closest
from bench.yamlfile import kind, read_yaml

# sbatch(1), --signal: "the signal may be sent up to 60 seconds earlier than specified"
SIGNAL_EARLY_S = 60
_FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?")
# sbatch flags that have their own profile key, or that submitit sets itself
_OWNED_FLAGS = {
    "partition": "partition",
    "gpus-per-node": "gpus_per_node",
    "ntasks-per-node": "tasks_per_node",
    "cpus-per-task": "cpus_per_task",
    "mem": "mem_gb",
    "time": "time_min",
    "account": "account",
    "qos": "qos",
    "array": "max_concurrent",
    "signal": "signal_delay_s",
    "output": None,
    "error": None,
    "job-name": None,
}


@dataclass(frozen=True)
class Profile:
    """Resources for one SLURM job, with per-method overrides.

    `source` names where the values came from, for messages. `methods` maps a method name to the keys it
    overrides (any key but `methods`). `tasks_per_node` > 1 trains each cell data-parallel, one rank per
    task (bench/cluster/job.py); `cpus_per_task` is then per rank. `requeue_max` bounds how often a job
    that hits its time limit is requeued; `signal_delay_s` is how long before the limit the job is told to
    save its checkpoint.
    """

    source: str = "<defaults>"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gpus_per_node: int = 0
    tasks_per_node: int = 1
    cpus_per_task: int = 1
    mem_gb: float | None = None
    time_min: int = 60
    max_concurrent: int | None = None
    requeue_max: int = 3
    signal_delay_s: int = 90
    sbatch_extra: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    methods: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def override(self, changes: Mapping[str, Any], origin: str) -> Profile:
        """This profile with `changes` (profile keys, YAML-typed values) applied; a bad one is a BenchError
        naming `origin` (e.g. "--profile-set" or "profile x.yaml: methods.clip")."""
        values = {key: _convert(origin, key, value) for key, value in changes.items()}
        return _checked(dataclasses.replace(self, **values), origin)

    def for_method(self, name: str) -> Profile:
        """This profile with the overrides listed for method `name` applied (itself when there are none)."""
        if name not in self.methods:
            return self
        return self.override(self.methods[name], f"profile {self.source}: methods.{name}")

    def check_methods(self, known: Iterable[str]) -> None:
        """Raise BenchError if `methods` names a method not in `known`."""
        known = list(known)
        for name in self.methods:
            if name not in known:
                hint = closest(name, known)
                raise BenchError(f"profile {self.source}: methods: unknown method {name!r}{hint}")

    def submitit_params(self) -> dict[str, Any]:
        """Keyword arguments for submitit's `AutoExecutor.update_parameters` (slurm cluster)."""
        params: dict[str, Any] = {
            "timeout_min": self.time_min,
            "cpus_per_task": self.cpus_per_task,
            "slurm_signal_delay_s": self.signal_delay_s,
        }
        optional = {
            "slurm_partition": self.partition,
            "slurm_account": self.account,
            "slurm_qos": self.qos,
            "gpus_per_node": self.gpus_per_node or None,
            "tasks_per_node": self.tasks_per_node if self.tasks_per_node > 1 else None,
            "mem_gb": self.mem_gb,
            "slurm_array_parallelism": self.max_concurrent,
            "slurm_additional_parameters": dict(map(_flag, self.sbatch_extra)) or None,
            "slurm_setup": list(self.setup) or None,
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        return params

    def executor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the `AutoExecutor` constructor (not settable through update_parameters)."""
        return {"slurm_max_num_timeout": self.requeue_max}


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile YAML file; a missing or malformed file, an unknown key or a value of the
    wrong type is a BenchError of one line naming the file."""
    where = f"profile {path}"
    _, data = read_yaml(path, where)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BenchError(f"{where}: expected a mapping of keys to values, got {kind(data)}")
    methods = data.pop("methods", None) or {}
    if not isinstance(methods, dict):
        raise BenchError(f"{where}: methods must map method names to keys, got {kind(methods)}")
    profile = Profile(source=str(path)).override(data, where)
    for name, changes in methods.items():  # check the overrides now, not when the method first runs
        if not isinstance(changes, dict):
            raise BenchError(f"{where}: methods.{name} must map keys to values, got {kind(changes)}")
        profile.override(changes, f"{where}: methods.{name}")
    return dataclasses.replace(profile, methods={str(name): dict(c) for name, c in methods.items()})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value != "")


def _at_least(low: int, optional: bool = False):
    return lambda v: (optional and v is None) or (_is_int(v) and v >= low)


def _lines(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _memory(value: Any) -> bool:
    return value is None or ((_is_int(value) or isinstance(value, float)) and value > 0)


# key -> (what it accepts, test)
_RULES: dict[str, tuple[str, Any]] = {
    "partition": ("a name", _name),
    "account": ("a name", _name),
    "qos": ("a name", _name),
    "gpus_per_node": ("an integer >= 0", _at_least(0)),
    "tasks_per_node": ("an integer >= 1 (ranks per cell)", _at_least(1)),
    "cpus_per_task": ("an integer >= 1", _at_least(1)),
    "mem_gb": ("a number > 0", _memory),
    "time_min": ("an integer >= 1 (minutes)", _at_least(1)),
    "max_concurrent": ("an integer >= 1", _at_least(1, optional=True)),
    "requeue_max": ("an integer >= 0", _at_least(0)),
    "signal_delay_s": ("an integer >= 0 (seconds)", _at_least(0)),
    "sbatch_extra": ("a list of strings", _lines),
    "setup": ("a list of strings", _lines),
}


def _convert(where: str, key: Any, value: Any) -> Any:
    """Check one key and its value; return the value as the Profile field holds it."""
    if key not in _RULES:
        hint = " (per-method overrides cannot nest)" if key == "methods" else closest(str(key), _RULES)
        raise BenchError(f"{where}: unknown key {key!r}{hint}")
    what, test = _RULES[key]
    if not test(value):
        raise BenchError(f"{where}: {key} must be {what}, got {value!r}")
    if key == "sbatch_extra":
        for line in value:
            _flag(line, where)
    return tuple(value) if isinstance(value, list) else value


def _flag(line: str, where: str = "sbatch_extra") -> tuple[str, Any]:
    """'--name=value' -> (name, value), '--name' -> (name, True); malformed or owned flags are BenchErrors."""
    match = _FLAG.fullmatch(line.strip())
    if not match:
        raise BenchError(f"{where}: sbatch_extra line {line!r} is not of the form --name=value or --name")
    name, value = match.groups()
    if name in _OWNED_FLAGS:
        use = f"set {_OWNED_FLAGS[name]} instead" if _OWNED_FLAGS[name] else "submitit sets it"
        raise BenchError(f"{where}: sbatch_extra line {line!r} is not allowed: {use}")
    return name, True if value is None else value


def _checked(profile: Profile, where: str) -> Profile:
    """Rules that tie keys together."""
    if profile.signal_delay_s + SIGNAL_EARLY_S >= profile.time_min * 60:
        raise BenchError(
            f"{where}: signal_delay_s ({profile.signal_delay_s} s) must be over a minute shorter than "
            f"time_min ({profile.time_min} min), since SLURM may send the signal up to 60 s early: "
            "otherwise a job can be told to checkpoint as it starts, before it can"
        )
    return profile
