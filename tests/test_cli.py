"""`gnn-design compile`: output, files, exit codes; bad input never leaves a traceback or files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main
from specs_for_tests import MCMU, RELATED_NO_EDGES

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path, *args):
    return main([*args, "--out", str(tmp_path / "out")]) if args[0] == "compile" else main(list(args))


def test_compile_prints_and_writes_tables(tmp_path, capsys):
    assert run(tmp_path, "compile", str(ROOT / "specs" / "hybrid_precoding.yaml")) == 0
    out = capsys.readouterr().out
    assert "## Vertex types (S1new)" in out and "**equal**" in out
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "hybrid_precoding.md" in written and "hybrid_precoding.json" in written


def test_json_format_has_the_documented_keys(tmp_path, capsys):
    assert run(tmp_path, "compile", str(ROOT / "specs" / "comp_jt.yaml"), "--format", "json", "--no-write") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "comp_jt"
    assert data["group"]["order"] == "48" and data["group"]["log10_order"] > 1
    cert = data["certificate"]
    assert (cert["verdict"], cert["aut_order"], cert["s4new_applied"], cert["sizes"]) == ("equal", "48", True, {"B": 3, "N": 2})
    assert [(v["name"], v["count"]) for v in data["vertex_types"]] == [("AN", 6), ("UE", 1)]
    assert [(e["name"], e["count"]) for e in data["edge_types"]] == [("AN_UE", 6), ("AN_AN_diff_an", 3)]
    for arch in ("vertex", "edge", "vertex_edge"):
        assert {"processors", "poolers", "combiners"} <= set(data["architectures"][arch])
    assert not (tmp_path / "out").exists()


def test_size_override_and_determinism(tmp_path, capsys):
    spec = str(ROOT / "specs" / "mcmu_power_allocation.yaml")
    assert run(tmp_path, "compile", spec, "--size", "M=4", "--size", "K=2", "--format", "json") == 0
    first = (tmp_path / "out" / "mcmu_power_allocation.json").read_bytes()
    assert json.loads(first)["certificate"]["sizes"] == {"M": 4, "K": 2}
    assert run(tmp_path, "compile", spec, "--size", "M=4", "--size", "K=2", "--format", "json") == 0
    assert (tmp_path / "out" / "mcmu_power_allocation.json").read_bytes() == first


@pytest.mark.parametrize("args, message", [
    (["--size", "M=0"], "positive integers"),
    (["--size", "M=x"], "not an integer"),
    (["--size", "Q=3"], "unknown size symbol 'Q'"),
    (["--size", "M"], "expected SYMBOL=N"),
])
def test_bad_sizes_exit_1(tmp_path, capsys, args, message):
    code = run(tmp_path, "compile", str(ROOT / "specs" / "mcmu_power_allocation.yaml"), *args)
    assert code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_invalid_spec_exits_1_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MCMU.replace("dims: [UE, AN]", "dims: [UE, AN, AN]"))
    assert run(tmp_path, "compile", str(bad)) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {bad}: tensors.H.dims: 3 sets in `dims`: hyperedges are not supported (one or two sets)"
    assert not (tmp_path / "out").exists()


def test_missing_file_exits_1(tmp_path, capsys):
    assert run(tmp_path, "compile", str(tmp_path / "nope.yaml")) == 1
    assert "cannot read spec" in capsys.readouterr().err


def test_failed_certificate_exits_2_with_witness(tmp_path, capsys):
    spec = tmp_path / "r.yaml"
    spec.write_text(RELATED_NO_EDGES)
    assert run(tmp_path, "compile", str(spec)) == 2
    err = capsys.readouterr().err
    assert "witness" in err and "Tx_Rx_same_pair" in err and "nothing was written" in err
    assert not (tmp_path / "out").exists()
    assert run(tmp_path, "compile", str(spec), "--auto-edges") == 0


def test_schema_command(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "gnn-design spec"


def test_console_entry_point_runs_as_module():
    proc = subprocess.run([sys.executable, "-m", "designer.cli", "compile", str(ROOT / "specs" / "d2d_link_scheduling.yaml"),
                           "--no-write", "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["certificate"]["verdict"] == "equal"
