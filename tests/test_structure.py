"""Stage 2: the axis forest — paths, related sets, and the errors only the forest can see."""

import pytest

from designer.spec import SpecError, parse_spec
from designer.structure import build_structure
from specs_for_tests import HYBRID_UNBROKEN, MCMU


def test_related_sets_share_a_path_and_nesting_appends():
    s = build_structure(parse_spec(MCMU))
    assert s.set("AN").path == s.set("UE").path == ("cell", "pair")
    assert s.set("cell").path == ("cell",) and not s.is_vertex_type("cell")
    assert s.shared_axes("AN", "UE") == ("cell", "pair")
    assert [a.name for a in s.axes] == ["cell", "pair"]
    assert s.axis("pair").parent == "cell"


def test_hybrid_forest():
    s = build_structure(parse_spec(HYBRID_UNBROKEN))
    assert s.set("AN_UE").path == ("ue", "an_ue")
    assert s.shared_axes("AN_UE", "UE") == ("ue",)
    assert s.shared_axes("AN_BS", "RF_BS") == ()
    assert s.symbols == ("N_RF", "N_t", "K", "N_r")


@pytest.mark.parametrize("text, expected", [
    (MCMU.replace("UE: {size: K,", "UE: {size: L,").replace("K: 2}", "K: 2, L: 2}"),
     "sets.UE.size: related sets have different shapes"),
    (MCMU.replace("UE: {size: K, parent: cell,", "UE: {size: K,"), "related sets have different shapes"),
    (MCMU.replace("  UE: {size: K, parent: cell, related: AN}", "  UE: {size: K, parent: cell, related: AN}\n  X: {size: K}"),
     "sets.X: set is not used"),
    (MCMU.replace("related: AN}", "related: AN, axis: other}"), "name their axis differently"),
    (MCMU.replace("cell: {size: M}", "cell: {size: M, axis: pair}"), "axis name 'pair' is used twice"),
    (MCMU.replace("cell: {size: M}", "cell: {size: M, break_symmetry: index}"), "symmetry breaking is declared for a set without vertices"),
    (MCMU.replace("  H: {role: feature, dims: [UE, AN]}", "  H: {role: feature, dims: [UE, AN]}\n  X: {role: feature, dims: [AN, AN], support: matched}"),
     "needs two different sets that share an axis"),
])
def test_forest_errors(text, expected):
    with pytest.raises(SpecError) as info:
        build_structure(parse_spec(text, "f.yaml"), "f.yaml")
    assert expected in str(info.value) and str(info.value).startswith("f.yaml")
