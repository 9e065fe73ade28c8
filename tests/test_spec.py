"""Stage 1: the spec language — valid specs parse; every bad input is a one-line SpecError."""

import pytest

from designer.runtime.plan import evaluate
from designer.spec import SpecError, expression_names, json_schema, parse_spec
from specs_for_tests import MCMU


def test_mcmu_parses():
    spec = parse_spec(MCMU)
    assert list(spec.sets) == ["cell", "AN", "UE"]
    assert spec.sets["UE"].related == ["AN"]
    assert spec.tensors["H"].dims == ["UE", "AN"]
    assert [c.kind for c in spec.constraints] == ["nonnegative", "power_budget"]


def test_expressions_are_whitelisted():
    assert expression_names("1/sqrt(N_t)") == ("N_t",)
    assert evaluate("1/sqrt(N_t)", {"N_t": 4}) == 0.5
    assert evaluate("2*K - 1", {"K": 3}) == 5
    for bad in ["1e-3", "__import__('os')", "K.real", "[K]", "lambda: 1", "K if K else 1", "open(K)"]:
        with pytest.raises(ValueError):
            expression_names(bad)


def test_schema_describes_every_section():
    schema = json_schema()
    assert {"name", "sets", "tensors", "constraints", "check_sizes"} <= set(schema["properties"])
    assert "SetSpec" in schema["$defs"] and "TensorSpec" in schema["$defs"]


BAD = {
    "malformed YAML": (MCMU.replace("{size: M}", "{size: M"), "malformed YAML"),
    "not a mapping": ("- a\n- b\n", "must be a YAML mapping"),
    "unknown field": (MCMU.replace("axis: pair", "axes: pair"), "sets.AN.axes: unknown field"),
    "unknown parent": (MCMU.replace("parent: cell, axis", "parent: cel, axis"), "sets.AN.parent: unknown parent set 'cel'"),
    "unknown related": (MCMU.replace("related: AN", "related: ANN"), "sets.UE.related: unknown related set 'ANN'"),
    "unknown dim": (MCMU.replace("dims: [UE, AN]", "dims: [UE, BS]"), "tensors.H.dims.1: unknown set 'BS'"),
    "duplicate name": (MCMU.replace("  p: {role: action, dims: [AN]}", "  p: {role: action, dims: [AN]}\n  p: {role: feature, dims: [AN]}"),
                       "line 10: duplicate key 'p'"),
    "set/tensor clash": (MCMU.replace("  p: {role: action, dims: [AN]}", "  cell: {role: action, dims: [AN]}"),
                         "both a set and a tensor"),
    "non-identifier": (MCMU.replace("  AN: {", "  A-N: {"), "is not an identifier"),
    "keyword name": (MCMU.replace("  p: {role", "  lambda: {role").replace("tensor: p", "tensor: lambda"), "reserved"),
    "dunder name": (MCMU.replace("  p: {role", "  p__x: {role").replace("tensor: p", "tensor: p__x"), "reserved"),
    "nesting cycle": (MCMU.replace("cell: {size: M}", "cell: {size: M, parent: UE}"), "cycle in nesting"),
    "self parent": (MCMU.replace("cell: {size: M}", "cell: {size: M, parent: cell}"), "own parent"),
    "hyperedge": (MCMU.replace("dims: [UE, AN]", "dims: [UE, AN, AN]"), "hyperedges are not supported"),
    "no dims": (MCMU.replace("dims: [UE, AN]", "dims: []"), "one or two sets"),
    "zero size": (MCMU.replace("K: 2}", "K: 0}"), "check_sizes: size K=0 is not a positive integer"),
    "float size": (MCMU.replace("K: 2}", "K: 2.5}"), "check_sizes.K"),
    "string size": (MCMU.replace("K: 2}", "K: two}"), "check_sizes.K"),
    "bool size": (MCMU.replace("K: 2}", "K: true}"), "check_sizes.K"),
    "missing size": (MCMU.replace("{M: 2, K: 2}", "{M: 2}"), "no size given for symbol 'K'"),
    "extra size": (MCMU.replace("{M: 2, K: 2}", "{M: 2, K: 2, Z: 1}"), "'Z' is not a size symbol"),
    "negative literal": (MCMU.replace("cell: {size: M}", "cell: {size: -1}").replace("M: 2, ", ""), "positive integer"),
    "unknown constraint": (MCMU.replace("kind: nonnegative", "kind: nonnegativ"), "constraints.0"),
    "constraint on feature": (MCMU.replace("kind: nonnegative, tensor: p", "kind: nonnegative, tensor: H"),
                              "constraints apply to actions"),
    "constraint unknown tensor": (MCMU.replace("kind: nonnegative, tensor: p", "kind: nonnegative, tensor: q"),
                                  "unknown tensor 'q'"),
    "budget unknown set": (MCMU.replace("per: cell", "per: cells"), "unknown set 'cells'"),
    "budget bad expression": (MCMU.replace("max: 1}", "max: \"exec('x')\"}"), "only numbers"),
    "budget unknown name": (MCMU.replace("max: 1}", "max: P}"), "unknown name 'P'"),
    "matched on one set": (MCMU.replace("p: {role: action, dims: [AN]}", "p: {role: action, dims: [AN], support: matched}"),
                           "needs a tensor over two sets"),
    "bad dtype": (MCMU.replace("dims: [AN]}", "dims: [AN], dtype: quaternion}"), "tensors.p.dtype"),
    "yaml tag": (MCMU.replace("name: mcmu", "name: !!python/name:os.system mcmu"), "YAML tags are not allowed"),
    "yaml str tag": (MCMU.replace("name: mcmu", "name: !!str mcmu"), "YAML tags are not allowed"),
    "yaml anchor": (MCMU + "x: &a [1, 2]\n", "YAML anchors are not allowed"),
    "billion laughs": ("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
                       "YAML anchors are not allowed"),
    "huge file": ("name: x\n" + "#" * 300_000, "larger than"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_error_with_path(case):
    text, expected = BAD[case]
    with pytest.raises(SpecError) as info:
        parse_spec(text, "bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml"), message
    assert expected in message, message
    assert "\n" not in message
