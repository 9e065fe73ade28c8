"""Fixtures shared by the test modules."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for a child Python that imports this checkout: the repository root ahead of
    whatever PYTHONPATH already holds (packages installed outside site-packages stay visible)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
