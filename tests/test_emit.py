"""Emission: deterministic, readable, black-formatted modules that import only torch and the
runtime, spell the plan out as data, and run the same code path as ``designer.build``."""

import ast
import importlib.util
from pathlib import Path
import subprocess
import sys

import pytest
import torch

import designer
from designer.cli import main
from designer.compiler import compile_file
from designer.draw import draw
from designer.emit import class_name, emit_module, plan_from_compilation
from designer.testing import random_features
from helpers_models import ROOT, SPECS, load_generated, spec_path


@pytest.mark.parametrize("spec", SPECS)
def test_emission_is_deterministic_and_imports_only_the_runtime(spec):
    text = emit_module(compile_file(spec_path(spec)))
    assert text == emit_module(compile_file(spec_path(spec)))
    tree = ast.parse(text)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"torch", "designer", "designer.runtime"}
    assert all(len(line) <= 88 for line in text.splitlines())
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes == [class_name(spec, a) for a in ("vertex", "edge", "vertex_edge", "fnn")]



def test_a_spec_name_of_the_longest_allowed_length_keeps_every_line_within_88():
    from designer.compiler import compile_spec
    from designer.limits import Limits
    from designer.spec import parse_spec

    name = "p" * Limits().name_length
    text = spec_path("mu_miso_precoding_structured").read_text().replace(
        "name: mu_miso_precoding_structured", f"name: {name}")
    module = emit_module(compile_spec(parse_spec(text)))
    assert max(len(line) for line in module.splitlines()) <= 88
    assert f"class {class_name(name, 'vertex_edge')}(\n    runtime.HetGNN\n):" in module  # Black's form
    ast.parse(module)

def test_class_names():
    assert class_name("mcmu_power_allocation", "vertex") == "McmuPowerAllocationVertexGNN"
    assert class_name("d2d_link_scheduling", "vertex_edge") == "D2dLinkSchedulingVertexEdgeGNN"
    assert class_name("comp_jt", "fnn") == "CompJtFNN"


@pytest.mark.skipif(importlib.util.find_spec("black") is None, reason="black not installed")
@pytest.mark.parametrize("spec", SPECS)
def test_emitted_modules_are_black_formatted(spec):
    import black

    text = emit_module(compile_file(spec_path(spec)))
    assert black.format_str(text, mode=black.Mode()) == text


def test_the_plan_is_literal_data_in_the_module(tmp_path):
    module = load_generated("hybrid_precoding", tmp_path)
    compilation = compile_file(spec_path("hybrid_precoding"))
    assert module.PLAN == plan_from_compilation(compilation)
    text = (tmp_path / "hybrid_precoding.py").read_text()
    assert 'runtime.Axis(name="rf", size="N_RF", parent=None, broken="index")' in text
    assert 'predicate="same ue"' in text and 'value="1/sqrt(N_t)"' in text
    assert "G' = S_N_t × (S_N_r ≀ S_K)" in text
    assert "        H: torch.Tensor,\n        *,\n        sizes: dict[str, int] | None = None,\n    ) -> dict[str, torch.Tensor]:" in text
    assert '        pooling: runtime.Pooling = "mean",' in text and "            H (batch, K, N_r, N_t), complex" in text


def test_generated_classes_and_build_are_the_same_model(tmp_path):
    module = load_generated("mcmu_power_allocation", tmp_path)
    torch.manual_seed(3)
    generated = module.McmuPowerAllocationEdgeGNN(hidden=5, layers=2)
    torch.manual_seed(3)
    built = designer.build(spec_path("mcmu_power_allocation"), arch="edge", hidden=5, layers=2)
    assert list(generated.state_dict()) == list(built.state_dict())
    features = random_features(built.plan, {"M": 2, "K": 4}, dtype=torch.float32)
    built.load_state_dict(generated.state_dict())
    assert torch.equal(generated(**features)["p"], built(**features)["p"])
    with pytest.raises(TypeError):
        generated(G=features["H"])


def test_generated_forward_reports_a_missing_input(tmp_path):
    module = load_generated("cooperative_beamforming", tmp_path)
    model = module.CooperativeBeamformingVertexGNN(hidden=4, layers=1)
    features = random_features(model.plan, {"M": 2, "K": 3, "N": 2}, dtype=torch.float32)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'sigma'"):
        model(p_max=features["p_max"], H=features["H"])
    with pytest.raises(ValueError, match=r"missing input sigma: expected a real tensor of shape \(batch, K\)"):
        model(p_max=features["p_max"], H=features["H"], sigma=None)
    positional = model(*(features[t.name] for t in model.plan.features))  # in the order of forward's parameters
    assert torch.equal(positional["V"], model(**features)["V"])


def test_compiler_and_emit_do_not_import_torch():
    code = "import sys, designer.compiler, designer.emit, designer.runtime; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_cli_writes_the_module_with_the_reports(tmp_path, capsys):
    assert main(["compile", str(spec_path("comp_jt")), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    drawn = ["comp_jt.svg"] if draw(compile_file(spec_path("comp_jt"))) else []  # matplotlib or graphviz at hand
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comp_jt.json", "comp_jt.md", "comp_jt.py", *drawn]
    assert (tmp_path / "comp_jt.py").read_text() == emit_module(compile_file(spec_path("comp_jt")))
    assert main(["compile", str(spec_path("comp_jt")), "--out", str(tmp_path / "plain"), "--no-draw"]) == 0
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["comp_jt.json", "comp_jt.md", "comp_jt.py"]


@pytest.mark.parametrize("spec", SPECS)
def test_generated_directory_is_up_to_date(spec):
    path = ROOT / "generated" / f"{spec}.py"
    if not path.exists():
        pytest.skip("generated/ not written yet (gnn-design compile)")
    assert path.read_text() == emit_module(compile_file(spec_path(spec))), f"recompile {spec}"


def test_generated_module_imports_neither_compiler_nor_graph_libraries(subprocess_env):
    code = ("import sys, importlib.util; spec = importlib.util.spec_from_file_location('m', 'generated/comp_jt.py'); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.CompJtVertexGNN(hidden=4); "
            "bad = [n for n in ('sympy', 'networkx', 'designer.compiler', 'designer.spec') if n in sys.modules]; "
            "print(bad)")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env=subprocess_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
