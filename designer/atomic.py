"""Atomic file writes: everything is written to a temporary sibling first and renamed into
place, so an interrupted run never leaves a half-written table, module or checkpoint.

Temporaries are named ``.<file>.<pid>.<random>.tmp``: a failed write removes its own, and the
next write of the same file removes those left by a process that no longer runs (``kill -9``).
Written files take the user's umask, or keep the mode of the file they replace.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Remove temporaries of ``path`` whose writing process has ended."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _stage(path: Path, write) -> str:
    """Write ``path``'s new content to a temporary sibling; return the temporary's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_files(files: dict[Path, str]) -> None:
    """Write several text files all-or-nothing: stage every one (any failure, e.g. a directory in
    a file's place or no permission, stops here and removes what was staged), then rename them
    all."""
    staged = []
    try:
        for path, text in files.items():
            staged.append((_stage(Path(path), lambda h, t=text: h.write(t.encode("utf-8"))), Path(path)))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def save_torch(state: dict, path: str | Path) -> None:
    """``torch.save`` through a temporary sibling and an atomic rename."""
    import torch

    tmp = _stage(Path(path), lambda h: torch.save(state, h))
    os.replace(tmp, path)
