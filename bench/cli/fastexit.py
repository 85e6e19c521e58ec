"""Ending `python -m bench` without the interpreter's teardown of torch's modules.

Tearing down torch's thousands of modules at exit takes about a second on these machines, paid by
every command that imported it (`list`, `run`, each sweep worker). `exit_now` runs the exit
handlers (atexit) and flushes the standard streams, then ends the process with `os._exit`: every
file a command writes is closed (and renamed into place) before the command returns.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
