"""pytest fixture `slurm_cluster`: the loopback cluster of slurm/cluster.sh when it runs, else a skip.

The fixture never starts the cluster (`.ci/run` does). It finds SLURM_CONF in the environment or in
$BENCH_SLURM_DIR/env.sh, sets it for the session, and needs `sinfo` and `sacct` to answer.
Import it into a conftest or test module: `from _slurm import slurm_cluster  # noqa: F401`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_FILE = Path(os.environ.get("BENCH_SLURM_DIR", "/tmp/bench-slurm")) / "env.sh"


def find_conf() -> str | None:
    """SLURM_CONF from the environment, else from the cluster script's env file, else None."""
    if os.environ.get("SLURM_CONF"):
        return os.environ["SLURM_CONF"]
    if ENV_FILE.is_file():
        match = re.search(r"^export SLURM_CONF=(\S+)$", ENV_FILE.read_text(), re.M)
        return match.group(1) if match else None
    return None


def why_down(conf: str | None) -> str | None:
    """Why no usable cluster answers with this configuration, or None when one does."""
    if conf is None:
        return f"no SLURM cluster: SLURM_CONF unset and no {ENV_FILE} (run: bash slurm/cluster.sh start)"
    env = {**os.environ, "SLURM_CONF": conf}
    for command in (["sinfo", "-h", "-o", "%T"], ["sacct", "-n", "-X", "-o", "JobID"]):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=15)
        except FileNotFoundError:
            return f"no SLURM cluster: {command[0]} is not installed"
        except subprocess.TimeoutExpired:
            return f"no SLURM cluster: {command[0]} did not answer within 15 s ({conf})"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"no SLURM cluster: {command[0]} failed ({conf}): {last}"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[str]:
    """The path of the running cluster's slurm.conf, exported as SLURM_CONF for the session."""
    conf = find_conf()
    reason = why_down(conf)
    if reason:
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLURM_CONF", conf)
        yield conf


def sacct_states(job_id: str) -> list[str]:
    """Every state sacct recorded for a job, oldest first (a requeued job has one line per run)."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-D", "-P", "-j", job_id, "-o", "State"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]
