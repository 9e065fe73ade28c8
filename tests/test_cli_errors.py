"""Every failure ends in one line on stderr with a documented exit code: 1 invalid input,
2 certificate failed, 3 internal error (never a bare traceback)."""

import subprocess
import sys
from pathlib import Path

import pytest

from designer import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("argv", [[], ["compile"], ["compile", "x.yaml", "--bogus"], ["frobnicate"],
                                  ["compile", "x.yaml", "--size", "K=zero"], ["evaluate"]])
def test_argument_errors_are_one_line(capsys, argv):
    assert cli.main(argv) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "usage" not in err


def test_an_unexpected_exception_is_a_one_line_internal_error(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr("designer.compiler.compile_file", broken)
    assert cli.main(["compile", str(ROOT / "specs" / "comp_jt.yaml")]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("internal error: RuntimeError at test_cli_errors.py")
    assert "something broke" in err and "GNN_DESIGN_TRACEBACK" in err


def test_the_traceback_is_shown_on_request(monkeypatch, capsys):
    monkeypatch.setattr("designer.compiler.compile_file", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("GNN_DESIGN_TRACEBACK", "1")
    assert cli.main(["compile", str(ROOT / "specs" / "comp_jt.yaml")]) == cli.EXIT_INTERNAL
    assert "Traceback" in capsys.readouterr().err


def test_the_installed_command_exits_with_the_codes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    done = subprocess.run([sys.executable, "-m", "designer.cli", "compile", str(bad)], capture_output=True,
                          text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and str(bad) in done.stderr


def test_a_limit_is_raised_on_the_command_line(tmp_path, capsys):
    spec = ROOT / "specs" / "comp_jt.yaml"
    assert cli.main(["compile", str(spec), "--no-write", "--limit", "vertices=5"]) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(raise it with --limit vertices=N)" in err
    assert cli.main(["compile", str(spec), "--no-write", "--limit", "vertices=5000", "--limit", "sets=10"]) == 0
    assert cli.main(["compile", str(spec), "--no-write", "--limit", "colour=3"]) == cli.EXIT_INVALID
    assert "unknown limit 'colour'" in capsys.readouterr().err
