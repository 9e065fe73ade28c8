"""Fixtures shared by the test modules."""

import os
from pathlib import Path

import pytest
import torch

# The models under test are tiny: one thread per process runs them fastest, and a second thread
# only spins against the other processes of a busy machine (a CI runner, torchrun's ranks), making
# the suite several times slower there. Child processes inherit the setting; an
# OMP_NUM_THREADS already set is kept (torch reads it when it starts).
if not os.environ.get("OMP_NUM_THREADS"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for a child Python that imports this checkout: the repository root ahead of
    whatever PYTHONPATH already holds (packages installed outside site-packages stay visible)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
