"""docs/tutorial.md runs: its files are written, its Python blocks executed and its commands run
(through the CLI's ``main``), at small sizes, in a fresh folder."""

import re
import runpy
import shlex
from pathlib import Path

from designer.cli import main

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
# Small sizes for the test: what the tutorial runs at full size.
SMALL = {"--samples": "48", "--val-samples": "16", "--epochs": "2", "--batch": "16"}


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(TUTORIAL.read_text())


def small(argv: list[str]) -> list[str]:
    """``argv`` with the sizes of :data:`SMALL` (for evaluate, ``--samples`` too) and a quiet run."""
    out = [SMALL.get(argv[i - 1], a) if i and argv[i - 1] in SMALL else a for i, a in enumerate(argv)]
    return out + (["--no-progress"] if out[0] == "train" else [])


def test_the_tutorial_has_its_steps():
    kinds = [kind for kind, _ in blocks()]
    assert kinds.count("console") >= 4 and kinds.count("python") >= 3 and "yaml" in kinds


def test_the_tutorial_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for kind, text in blocks():
        first = text.splitlines()[0]
        if first.startswith("# file: "):
            (tmp_path / first.removeprefix("# file: ")).write_text(text)
        elif kind == "python":
            script = tmp_path / "block.py"
            script.write_text(text)
            runpy.run_path(str(script), run_name="__main__")
        elif kind == "console":
            for line in text.splitlines():
                command = shlex.split(line.removeprefix("$ "))
                assert command[0] == "gnn-design", line
                assert main(small(command[1:])) == 0, (line, capsys.readouterr().err)
    out = capsys.readouterr().out
    assert "|Aut| = 48, |G| = 48: **equal**" in out and "equivariant to G: S_U ≀ S_C" in out
    assert out.count(": full_power: ") == 4  # the run's size, two swept sizes, the data file
    assert (tmp_path / "runs" / "uplink_pc_vertex_edge" / "best.pt").exists()
