"""Set-up on a fresh machine, with the system Python and no third-party package.

    python3 -m bench.bootstrap          create or reuse .venv, install what is missing (idempotent)
    python3 -m bench.bootstrap test     the same with the dev tools, then ruff and the whole test suite

Python packages come from constraints.txt (every dependency pinned exactly); the install is
skipped while the venv's stamp matches pyproject.toml + constraints.txt. The Debian packages that
the tasks declare (`debian_packages` in their classes, read from tasks/**/*.py with `ast`: no task
is imported, none could be before the venv exists) and those of the tests are installed when
missing (as root; otherwise a warning says how).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
DEBIAN_TEST = ("chromium", "texlive-latex-base", "texlive-latex-recommended")
APT_LOCK_WAIT_S = 600
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def say(msg: str) -> None:
    print(f"[bootstrap] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def stamp(dev: bool) -> str:
    digest = hashlib.sha256(f"dev={dev}".encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv(dev: bool) -> None:
    if not PY.exists():
        say(f"creating {VENV}")
        run([sys.executable, "-m", "venv", str(VENV)])
    marker = VENV / (".bench-stamp-dev" if dev else ".bench-stamp")
    want = stamp(dev)
    done = [
        m
        for m, s in ((marker, want), (VENV / ".bench-stamp-dev", stamp(True)))
        if m.exists() and m.read_text() == s
    ]
    if done:
        say(".venv is up to date")
        return
    say("installing the pinned packages (a few minutes the first time)")
    target = ".[dev]" if dev else "."
    run([str(PY), "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", target])
    marker.write_text(want)


def task_packages(root: Path = ROOT) -> tuple[str, ...]:
    """The Debian packages declared by the task classes under root/tasks: every literal tuple of strings
    assigned to `debian_packages` in a class body (bench/apt.py `declarations`), in file and line order,
    each name once. A declaration that is not such a literal raises SystemExit naming its file and line."""
    sys.path.insert(0, str(ROOT))
    from bench.apt import declarations

    found: dict[str, None] = {}
    for d in declarations(root):
        if d.packages is None:
            raise SystemExit(f"[bootstrap] {d.where}: debian_packages must be a literal tuple of names")
        found.update(dict.fromkeys(d.packages))
    return tuple(found)


def ensure_debian(packages: tuple[str, ...]) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.apt import missing

    need = missing(packages)
    if not need:
        return
    if os.geteuid() != 0:
        say(
            f"Debian packages missing: {' '.join(need)}; install them with "
            f"`sudo apt-get install {' '.join(need)}` "
            "(the tasks' debian_packages, and the test tools under `test`)"
        )
        return
    say(f"installing Debian packages: {' '.join(need)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT_S}"]  # another apt-get may be running: wait for it
    run(["apt-get", *wait, "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    run(
        ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", *need],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def test(extra: list[str]) -> int:
    env = {**os.environ, **OFFLINE}
    for cmd in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        say(" ".join(cmd))
        if subprocess.run([str(VENV / "bin" / cmd[0]), *cmd[1:]], cwd=ROOT).returncode:
            return 1
    say("pytest")
    code = subprocess.run([str(PY), "-m", "pytest", *extra], cwd=ROOT, env=env).returncode
    if code == 5:
        say("pytest collected no tests: that is a failure here")
        return 1
    return code


def main(argv: list[str]) -> int:
    testing = bool(argv) and argv[0] == "test"
    ensure_venv(dev=testing)
    ensure_debian(task_packages() + (DEBIAN_TEST if testing else ()))
    return test(argv[1:]) if testing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
