"""Data files instead of a sampler, for features a user already has (ray tracing, measurements,
another simulator).

Format: one file holding one tensor per feature of the spec, named as the spec's features,
batch first and laid out as the spec's tensor signatures say (``gnn-design compile`` prints each
shape) — either a ``.pt`` file written by ``torch.save({"H": H, ...}, path)`` (read with
``torch.load(weights_only=True)``: tensors only, nothing in the file runs) or a ``.npz`` file
written by ``numpy.savez(path, H=H, ...)`` (read with ``allow_pickle=False``). Real features are
float32 or float64, complex features complex64 or complex128; every entry must be finite.

Split: training uses the first ``n - val_samples`` samples in file order, validation the last
``val_samples`` (``--val-samples``); ``evaluate --data`` scores every sample of its file.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

SUFFIXES = (".pt", ".npz")


def load_data(path: str | Path) -> dict[str, torch.Tensor]:
    """The feature tensors of a data file (see the module docstring); ValueError naming the file
    and what is wrong with it."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: a data file is a .pt or .npz file of feature tensors (see designer.data)")
    if not path.is_file():
        raise ValueError(f"{path}: no such data file")
    data = _read_npz(path) if path.suffix == ".npz" else read_torch(path, "torch file of feature tensors")
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a dict of feature name -> tensor, got {type(data).__name__}")
    for name, value in data.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise ValueError(f"{path}: entry {name!r} is not a tensor named by a string")
        if not (value.is_floating_point() or value.is_complex()) or value.dim() < 1:
            raise ValueError(f"{path}: {name}: expected a real or complex tensor with a batch axis, got "
                             f"{value.dtype} of shape {tuple(value.shape)}")
    counts = {name: value.shape[0] for name, value in data.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"{path}: the tensors hold different numbers of samples ({counts})")
    return {name: value.contiguous() for name, value in data.items()}


def read_torch(path: Path, what: str):
    """``torch.load(path, weights_only=True)``: tensors and plain data only, no code ever runs.
    Anything else raises ValueError naming the file as not a ``what``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # what weights_only refuses, and files that are no pickle at all
        raise ValueError(f"{path}: not a {what} (not a torch file, truncated, or holding objects other than "
                         "tensors and plain data, which are never loaded)") from None
    except Exception as exc:  # torch raises several kinds for a damaged archive
        raise ValueError(f"{path}: not a readable {what} ({' '.join(str(exc).split())[:200] or type(exc).__name__})") \
            from None


def _read_npz(path: Path) -> dict[str, torch.Tensor]:
    import numpy

    try:
        with numpy.load(path, allow_pickle=False) as arrays:
            return {name: torch.from_numpy(arrays[name].copy()) for name in arrays.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file of numeric arrays ({' '.join(str(exc).split())[:200]})") \
            from None


def split(features: dict[str, torch.Tensor], val_samples: int, source: str | Path = "data") \
        -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(training, validation): the first ``n - val_samples`` samples and the last ``val_samples``."""
    n = next(iter(features.values())).shape[0]
    if not 0 < val_samples < n:
        raise ValueError(f"{source}: {n} samples cannot be split into training and {val_samples} validation "
                         "samples (--val-samples)")
    cut = n - val_samples
    return {k: v[:cut] for k, v in features.items()}, {k: v[cut:] for k, v in features.items()}
