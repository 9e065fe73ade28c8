"""The documentation's links lead somewhere: every relative link and image in README.md and
docs/*.md names a file of the repository, and every plot shown from ``experiments/results/`` is
one that its experiment file asks ``experiments/run.py`` to draw (so the command regenerates it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    """The link targets of ``page`` that are paths in the repository (no URL, no bare anchor)."""
    targets = (m.group(1).split("#")[0] for m in LINK.finditer(page.read_text()))
    return [t for t in targets if t and "://" not in t and not t.startswith("mailto:")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_names_a_file(page):
    missing = [t for t in relative_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_results_plot_is_drawn_by_its_experiment(page):
    for target in relative_links(page):
        path = (page.parent / target).resolve()
        if path.parent == ROOT / "experiments" / "results" and path.suffix == ".png":
            experiment = ROOT / "experiments" / f"{path.stem}.yaml"
            assert experiment.exists(), f"{page.name}: {target} has no experiment file"
            assert yaml.safe_load(experiment.read_text()).get("plot"), f"{experiment.name} draws no plot"
