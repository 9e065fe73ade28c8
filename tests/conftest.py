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


@pytest.fixture(autouse=True)
def short_references(request):
    """WMMSE's default budget (to convergence, 3000 iterations at most, 33 starts) makes one call
    on a tiny batch cost seconds, most of it per-iteration overhead. Tests of anything else than
    the references' quality run it for at most 60 iterations from 3 starts, and ``evaluate`` looks
    for the iterations that equal a model among the first 32; those that test the defaults
    themselves are marked ``full_references``. (A patcher of its own: a test's
    ``monkeypatch.undo()`` leaves it in place.)"""
    if request.node.get_closest_marker("full_references") is not None:
        yield
        return
    from designer import evaluation
    from designer.wireless.references import wmmse

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wmmse, "MAX_ITERATIONS", 60)
        patch.setattr(wmmse, "SCREEN_ITERATIONS", 20)
        patch.setattr(wmmse, "RANDOM_STARTS", 2)
        patch.setattr(evaluation, "MATCH_CAP", 32)
        yield
