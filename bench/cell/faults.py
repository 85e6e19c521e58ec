"""Faults of the file system said in one line: a full disk, a read-only folder, a name too long.

`fault_line(err)` is the line for an OSError (its errno's name, the file it names, what to do); `is_fault`
tells the errors of the machine (worth one line and the next cell) from those of the code.
"""

from __future__ import annotations

import errno

ADVICE = {
    errno.ENOSPC: "free some space (or choose another --results / $BENCH_CACHE) and run again",
    errno.EDQUOT: "free some space under your quota and run again",
    errno.EROFS: "the file system is read-only; choose a writable folder",
    errno.EACCES: "make it writable (or readable) for this user, or choose another folder",
    errno.EPERM: "make it writable (or readable) for this user, or choose another folder",
    errno.ENAMETOOLONG: "give a shorter path (at most 4096 characters, each name at most 255)",
}


def is_fault(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in ADVICE


def fault_line(err: OSError) -> str:
    """One line: what failed, on which file (cut to 120 characters), and what to do."""
    name = errno.errorcode.get(err.errno or 0, "error")
    where = str(err.filename) if err.filename is not None else ""
    if len(where) > 120:
        where = f"{where[:100]}… ({len(where)} characters)"
    on = f" on {where}" if where else ""
    return f"{err.strerror or err} ({name}){on}; {ADVICE.get(err.errno, 'see the file system')}"
