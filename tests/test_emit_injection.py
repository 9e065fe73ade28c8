"""Spec text reaches a generated module only as escaped text, and the emitter checks its own
output: the module, parsed back, must be exactly the plan's (``designer.emit.verify_module``)."""

import importlib.util
import subprocess
import sys

import pytest
import yaml

from designer.cli import main
from designer.compiler import compile_spec
from designer.emit import EmissionError, emit_module, plan_from_compilation, verify_module
from designer.spec import parse_spec
from helpers_models import spec_path

WRAP = 88  # the emitter's line length: the old emitter wrapped *after* escaping, at this width
HOSTILE = [
    # Escaped, then wrapped, this closed the docstring (a `\"` escape split at a line's end, the
    # bare quotes opening the next) and wrote a file on import; the comment swallowed a second split.
    "x" * 83 + '"""""' + ';open("PWNED","w").write("1")#' + "y" * 50 + '"""""z',
    "x" * (WRAP - 1) + "\\N",  # a backslash escape split by the wrap: "malformed \N" on import
    "a " * 42 + '\\"' * 3 + ' """); import os; os.system("touch PWNED") #',
    "NUL \x00, escape \x1b[31m, bell \x07, delete \x7f, separator \u2028 and \ufeff",
    'ends with a quote "',
    "ends with a backslash \\",
    "mixed ' and \" quotes, ''' and \"\"\" runs",
    "unicode: G = S_K ≀ S_M, ∑ |h|², 日本語",
]


def _compile_description(description: str):
    data = yaml.safe_load(spec_path("comp_jt").read_text())
    data["description"] = description
    return compile_spec(parse_spec(yaml.safe_dump(data, allow_unicode=True)))


@pytest.mark.parametrize("description", HOSTILE)
def test_hostile_descriptions_stay_text(tmp_path, description):
    source = emit_module(_compile_description(description))
    path = tmp_path / "comp_jt.py"
    path.write_text(source, encoding="utf-8")
    probe = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('m', sys.argv[1]); "
             "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); sys.stdout.write(ascii(m.__doc__))")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comp_jt.py"]  # nothing written on import
    doc = eval(done.stdout)  # ascii() of a str: a plain literal
    assert "".join(description.split()) in "".join(doc.split())  # the text, wrapped anywhere


@pytest.mark.parametrize("description", HOSTILE[:3])
def test_hostile_descriptions_stay_black_formatted(description):
    black = pytest.importorskip("black")
    source = emit_module(_compile_description(description))
    assert black.format_str(source, mode=black.Mode()) == source


def _emitted(name: str = "mcmu_power_allocation"):
    compilation = compile_spec(parse_spec(spec_path(name).read_text()))
    plan = plan_from_compilation(compilation)
    source = emit_module(compilation)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("m", loader=None))
    exec(compile(source, "m", "exec"), module.__dict__)
    return source, plan, module.__doc__


@pytest.mark.parametrize("edit", [
    ('name="mcmu_power_allocation"', 'name="other"'),  # the plan literal
    ('size="K", parent="cell"', 'size="M", parent="cell"'),
    ("from designer import runtime", "from designer import runtime\nimport os"),  # an extra statement
    ("    plan = PLAN\n", "    plan = PLAN\n    os = __import__('os')\n"),  # a statement in a class
    ('architecture = "vertex"\n', 'architecture = "edge"\n'),
    ('                "H": H,\n', '                "H": H * 2,\n'),  # forward passes on something else
    ("        H: torch.Tensor,\n", "        G: torch.Tensor,\n"),  # forward takes another input
    ("            hidden=hidden,\n", "            hidden=hidden + 1,\n"),  # __init__ changes an option
    ("        hidden: int = 32,\n        vertex_hidden", "        vertex_hidden"),  # __init__ drops an option
    ("(batch, M, K, M, K)", "(batch, M, K)"),  # the docstring
])
def test_verify_module_rejects_any_other_module(edit):
    source, plan, doc = _emitted()
    verify_module(source, plan, doc)
    old, new = edit
    assert old in source
    with pytest.raises(EmissionError):
        verify_module(source.replace(old, new, 1), plan, doc)


def test_a_module_that_does_not_parse_is_an_emission_error():
    source, plan, doc = _emitted()
    with pytest.raises(EmissionError, match="does not parse"):
        verify_module(source + "\n)", plan, doc)


def test_compile_writes_hostile_descriptions_safely(tmp_path, capsys):
    data = yaml.safe_load(spec_path("comp_jt").read_text())
    data["description"] = HOSTILE[0]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data))
    assert main(["compile", str(spec), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    assert "PWNED" not in {p.name for p in tmp_path.rglob("*")}
    capsys.readouterr()
