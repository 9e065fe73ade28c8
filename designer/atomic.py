"""Atomic file writes: everything is written to a temporary sibling first and renamed into
place, so an interrupted run never leaves a half-written table, module or checkpoint."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _stage(path: Path, write) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_files(files: dict[Path, str]) -> None:
    """Write several text files all-or-nothing: stage every one, then rename them all."""
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
