"""The drawing of the typed graph (designer/draw.py): SVG that parses, one legend entry per type,
the same bytes every time, the certificate's graph, and a reason instead of a drawing when no
renderer is installed or the graph is too large."""

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from designer import draw as draw_module
from designer.compiler import compile_file, compile_spec
from designer.draw import Drawing, draw
from designer.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent
HAS_DOT = shutil.which("dot") is not None

# A tensor over one set twice: a loop type (each vertex with itself) besides the two real ones.
LOOPS = """
name: loops
sets:
  cell: {size: M}
  UE: {size: K, parent: cell}
tensors:
  G: {role: feature, dims: [UE, UE]}
  p: {role: action, dims: [UE]}
check_sizes: {M: 2, K: 2}
"""


@pytest.fixture(scope="module")
def mcmu():
    return compile_file(ROOT / "specs" / "mcmu_power_allocation.yaml")


@pytest.fixture(scope="module")
def comp_jt():  # an S4new edge type among vertices of one type, and a type with one vertex
    return compile_file(ROOT / "specs" / "comp_jt.yaml")


@pytest.fixture(scope="module")
def loops():
    return compile_spec(parse_spec(LOOPS))


@pytest.fixture
def no_dot(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "dot" else real(name, *a, **k))


def _texts(svg: str) -> list[str]:
    """Every text element's text, whitespace-normalised (matplotlib keeps text as <text> here)."""
    root = ET.fromstring(svg)
    return [" ".join("".join(e.itertext()).split()) for e in root.iter() if e.tag.endswith("}text")]


def _check_legend(svg: str, compilation) -> None:
    texts = _texts(svg)
    for vt in compilation.vertex_types:
        entries = [t for t in texts if t.startswith(f"{vt.name} (")]
        assert len(entries) == 1, (vt.name, entries)
        assert f"({compilation.vertex_counts[vt.name]} vert" in entries[0]
    for et in compilation.edge_types:
        entries = [t for t in texts if t.startswith(f"{et.name}: ")]
        assert len(entries) == 1, (et.name, entries)
        assert f"({compilation.edge_counts[et.name]} edge" in entries[0]
    assert any(compilation.spec.name in t for t in texts)  # the title


@pytest.mark.parametrize("name", ["mcmu", "comp_jt", "loops"])
def test_matplotlib_drawing_parses_with_a_legend_entry_per_type(name, request, no_dot):
    pytest.importorskip("matplotlib")
    compilation = request.getfixturevalue(name)
    drawing = draw(compilation)  # auto, with dot hidden
    assert drawing.renderer == "matplotlib" and drawing.reason is None
    _check_legend(drawing.svg, compilation)


def test_matplotlib_drawing_is_deterministic(mcmu):
    pytest.importorskip("matplotlib")
    first, second = draw(mcmu, "matplotlib"), draw(mcmu, "matplotlib")
    assert first.svg == second.svg
    assert "<dc:date>" not in first.svg  # no time stamp


def test_matplotlib_draws_loops_as_rings(loops):
    pytest.importorskip("matplotlib")
    svg = draw(loops, "matplotlib").svg
    ids = {e.get("id") for e in ET.fromstring(svg).iter()}
    assert {"loops-UE_UE_self", "edges-UE_UE_diff_UE", "edges-UE_UE_diff_cell", "vertices-UE"} <= ids


@pytest.mark.skipif(not HAS_DOT, reason="graphviz's dot is not installed")
@pytest.mark.parametrize("name", ["mcmu", "loops"])
def test_dot_drawing_parses_with_a_legend_entry_per_type(name, request):
    compilation = request.getfixturevalue(name)
    drawing = draw(compilation)  # auto prefers dot
    assert drawing.renderer == "dot"
    _check_legend(drawing.svg, compilation)
    assert draw(compilation, "dot").svg == drawing.svg


def test_the_drawn_graph_is_the_certified_one(mcmu, comp_jt, loops):
    """Per edge type, as many edges as the compiler counted on the check instance; every vertex."""
    for compilation in (mcmu, comp_jt, loops):
        scene = draw_module._scene(compilation, draw_module.Instance(compilation.structure, compilation.sizes),
                                   draw_module.MAX_EDGES)
        drawn = {name: 0 for name in scene.edge_names}
        for _, _, c in scene.edges:
            drawn[scene.edge_names[c]] += 1
        assert drawn == compilation.edge_counts
        assert len(scene.labels) == sum(compilation.vertex_counts.values())
    assert scene.labels == ("UE[0,0]", "UE[0,1]", "UE[1,0]", "UE[1,1]")  # the last one: loops


def test_without_dot_or_matplotlib_no_drawing_but_a_reason(mcmu, no_dot, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    drawing = draw(mcmu)
    assert drawing == Drawing(None, None, drawing.reason) and not drawing
    assert drawing.reason.startswith("not drawn:") and "pip install matplotlib" in drawing.reason
    assert "\n" not in drawing.reason
    assert "matplotlib is not installed" in draw(mcmu, "matplotlib").reason


def test_dot_asked_for_but_missing(mcmu, no_dot):
    drawing = draw(mcmu, "dot")
    assert drawing.svg is None and "graphviz" in drawing.reason


def test_too_large_is_refused_with_a_reason(mcmu):
    assert "18 vertices" in draw(mcmu, max_vertices=10).reason
    assert "81 edges" in draw(mcmu, max_edges=50).reason
    with pytest.raises(ValueError, match="unknown renderer"):
        draw(mcmu, "png")


def test_drawing_does_not_import_torch(subprocess_env):
    pytest.importorskip("matplotlib")
    code = ("import sys; from designer.compiler import compile_file; from designer.draw import draw; "
            f"d = draw(compile_file({str(ROOT / 'specs' / 'comp_jt.yaml')!r}), 'matplotlib'); "
            "assert d.svg, d.reason; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env, timeout=60)


def test_auto_falls_back_to_matplotlib_when_dot_fails(mcmu, monkeypatch):
    pytest.importorskip("matplotlib")
    real = shutil.which  # a "dot" that exits with an error: python refuses the option -Tsvg
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: sys.executable if name == "dot" else real(name, *a, **k))
    drawing = draw(mcmu)
    assert drawing.renderer == "matplotlib" and drawing.svg
    assert drawing.reason.startswith("graphviz's `dot` failed")
    assert draw(mcmu, "dot").reason.startswith("not drawn: graphviz's `dot` failed")
