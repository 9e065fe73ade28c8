"""Atomic writes: all or nothing, no temporaries left behind, the user's umask and an existing
file's mode respected."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from designer.atomic import remove_stale_temporaries, save_torch, write_files
from designer.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_take_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_files({tmp_path / "a.txt": "a"})
        save_torch({"x": 1}, tmp_path / "b.pt")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == 0o640 and _mode(tmp_path / "b.pt") == 0o640


def test_replaced_files_keep_their_mode(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o604)
    write_files({path: "new"})
    assert path.read_text() == "new" and _mode(path) == 0o604


def test_a_failed_write_leaves_nothing(tmp_path):
    (tmp_path / "b.txt").mkdir()  # a directory where a file should go
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(IsADirectoryError):
        write_files({tmp_path / "a.txt": "new", tmp_path / "b.txt": "new"})
    assert (tmp_path / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_temporaries_of_ended_processes_are_removed_on_the_next_write(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".a.txt.{int(ended.stdout)}.x1y2.tmp"
    live = tmp_path / f".a.txt.{os.getpid()}.z3.tmp"  # a write in progress in this process
    other = tmp_path / f".b.txt.{int(ended.stdout)}.x1y2.tmp"
    for p in (stale, live, other):
        p.write_text("partial")
    write_files({tmp_path / "a.txt": "a"})
    assert not stale.exists() and live.exists() and other.exists()
    remove_stale_temporaries(tmp_path / "b.txt")
    assert not other.exists()


def test_compile_writes_all_outputs_or_none(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "comp_jt.py").mkdir(parents=True)  # the module's place is taken
    assert main(["compile", str(ROOT / "specs" / "comp_jt.yaml"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err and "comp_jt.py" in err
    assert sorted(p.name for p in out.iterdir()) == ["comp_jt.py"]


def test_compile_into_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "out").write_text("a file")
    assert main(["compile", str(ROOT / "specs" / "comp_jt.yaml"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write to" in err
