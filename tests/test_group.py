"""Stage 3: G in closed form, cross-checked against sympy's Schreier–Sims on small instances."""

import itertools
import math

import numpy as np
import pytest

from designer.group import DesiredGroup, sympy_group
from designer.runtime.instance import Instance
from designer.spec import parse_spec
from designer.structure import build_structure
from specs_for_tests import COMP, HYBRID_UNBROKEN, MCMU


def group_of(text, sizes):
    return DesiredGroup(Instance(build_structure(parse_spec(text)), sizes))


@pytest.mark.parametrize("text, sizes, closed_form", [
    (MCMU, {"M": 2, "K": 3}, math.factorial(2) * math.factorial(3) ** 2),
    (MCMU, {"M": 3, "K": 2}, math.factorial(3) * math.factorial(2) ** 3),
    (COMP, {"B": 3, "N": 2}, math.factorial(3) * math.factorial(2) ** 3),
    (HYBRID_UNBROKEN, {"N_RF": 3, "N_t": 2, "K": 2, "N_r": 3},
     math.factorial(3) * math.factorial(2) * math.factorial(2) * math.factorial(3) ** 2),
])
def test_order_matches_closed_form_and_sympy(text, sizes, closed_form):
    g = group_of(text, sizes)
    assert g.order == closed_form
    assert sympy_group(g).order() == closed_form
    assert math.isclose(g.log10_order, math.log10(closed_form))


def test_membership_and_random_elements():
    g = group_of(MCMU, {"M": 2, "K": 3})
    rng = np.random.default_rng(0)
    sym = sympy_group(g)
    from sympy.combinatorics import Permutation
    for _ in range(20):
        p = g.random_element(rng)
        assert g.contains(p)
        assert sym.contains(Permutation(list(map(int, p))))
    # swapping AN[0,0] with AN[0,1] but not their UEs splits a related pair
    inst = g.instance
    p = np.arange(len(inst))
    p[0], p[1] = 1, 0
    assert not g.contains(p)
    assert not sym.contains(Permutation(list(map(int, p))))


@pytest.mark.parametrize("text, sizes", [(MCMU, {"M": 2, "K": 3}), (COMP, {"B": 2, "N": 3}),
                                         (HYBRID_UNBROKEN, {"N_RF": 2, "N_t": 2, "K": 2, "N_r": 2})])
def test_stabiliser_orbits_match_sympy(text, sizes):
    g = group_of(text, sizes)
    sym = sympy_group(g)
    n = len(g.instance)
    rng = np.random.default_rng(1)
    for length in range(0, 4):
        base = [int(x) for x in rng.choice(n, size=length, replace=False)]
        stab = sym.pointwise_stabilizer(base) if base else sym
        truth = {frozenset(o) for o in stab.orbits()}
        keys = g.stabiliser_orbit_keys(base)
        ours = {}
        for v, k in enumerate(keys):
            ours.setdefault(k, set()).add(v)
        assert {frozenset(o) for o in ours.values()} == truth


def test_breaking_an_axis_removes_its_factor():
    text = HYBRID_UNBROKEN.replace("axis: rf}", "axis: rf, break_symmetry: index}")
    s = build_structure(parse_spec(text))
    sizes = {"N_RF": 3, "N_t": 2, "K": 2, "N_r": 2}
    full, reduced = DesiredGroup(Instance(s, sizes)), DesiredGroup(Instance(s, sizes), honour_breaking=True)
    assert full.order == reduced.order * math.factorial(3)
    assert sympy_group(reduced).order() == reduced.order
