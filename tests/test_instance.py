"""The one Instance of a forest at concrete sizes: index tuples, the edge predicate and G's
elements, shared by the compiler (group, graph) and the runtime (DeviceInstance, testing)."""

import itertools

import numpy as np
import pytest
import torch

from designer.compiler import compile_file
from designer.emit import plan_from_compilation
from designer.graph import edge_pairs
from designer.group import DesiredGroup
from designer.runtime.device_instance import DeviceInstance
from designer.runtime.instance import Instance, flat_positions, index_tuples
from designer.testing import random_element
from helpers_models import spec_path


def test_index_tuples_are_row_major_at_any_depth():
    shape = (2, 3, 1, 2)
    assert index_tuples(shape).tolist() == [list(t) for t in itertools.product(*map(range, shape))]
    assert index_tuples(()).shape == (1, 0)
    deep = (1,) * 70 + (3,)  # more axes than a numpy array may have dimensions
    assert index_tuples(deep)[:, -1].tolist() == [0, 1, 2]
    assert flat_positions(index_tuples(deep), deep).tolist() == [0, 1, 2]


@pytest.mark.parametrize("spec, sizes", [("mcmu_power_allocation", {"M": 3, "K": 2}), ("comp_jt", {"B": 2, "N": 3}),
                                         ("hybrid_precoding", None), ("ic_beamforming_edge", {"K": 3})])
def test_the_compilers_edges_are_the_runtimes(spec, sizes):
    """Per edge type, the compiler's edges (each unordered pair once) are the runtime's
    (first-endpoint major, both directions of a same-set pair), in the same vertex numbering."""
    compilation = compile_file(spec_path(spec), sizes)
    plan = plan_from_compilation(compilation)
    runtime = DeviceInstance(plan, compilation.sizes)
    compiler = Instance(compilation.structure, compilation.sizes)
    assert runtime.type_ranges == compiler.type_ranges
    for et in plan.edge_types:
        e = runtime.edges[et.name]
        first, second = e.first.numpy(), e.second.numpy()
        assert np.all(np.diff(first * runtime.counts[et.sets[1]] + second) > 0)  # first-endpoint major
        ordered = {(runtime.type_ranges[et.sets[0]][a], runtime.type_ranges[et.sets[1]][b])
                   for a, b in zip(first.tolist(), second.tolist())}
        u, v = edge_pairs(compiler, et)
        unordered = set(zip(u.tolist(), v.tolist()))
        assert {tuple(sorted(p)) for p in ordered} == unordered
        assert len(unordered) == compilation.edge_counts[et.name]


def test_apply_moves_every_vertex_by_the_permutation_below_its_parent_index():
    compilation = compile_file(spec_path("comp_jt"), {"B": 3, "N": 2})
    instance = Instance(compilation.structure, compilation.sizes)
    rng = np.random.default_rng(0)
    sigmas = instance.random_sigmas(rng.permutation, lambda axis: True)
    for name, image in instance.apply(sigmas).items():
        targets = index_tuples(instance.shapes[name])[image]
        for index, target in zip(instance.index_array(name).tolist(), targets.tolist()):
            parents = [flat_positions(np.array([index[:depth]]), instance.shapes[name][:depth])[0]
                       for depth in range(len(index))]
            path = instance.paths[name]
            assert target == [int(sigmas[a][p, i]) for a, p, i in zip(path, parents, index)]


class TorchPermutations:
    """An ``rng`` for :meth:`DesiredGroup.random_element` drawing from a torch generator."""

    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)

    def permutation(self, n: int) -> np.ndarray:
        return torch.randperm(n, generator=self.generator).numpy()


def test_the_runtime_draws_the_compilers_random_elements():
    """testing.random_element and DesiredGroup.random_element are one draw: the same
    permutations give the same element (no axis is broken or of size 1 here)."""
    compilation = compile_file(spec_path("mcmu_power_allocation"), {"M": 3, "K": 3})
    plan = plan_from_compilation(compilation)
    instance = Instance(compilation.structure, compilation.sizes)
    element = random_element(plan, compilation.sizes, torch.Generator().manual_seed(5))
    perm = DesiredGroup(instance).random_element(TorchPermutations(5))
    for name, (target, flat) in element.images.items():
        assert target == name
        assert (perm[instance.type_ranges[name]] - instance.type_ranges[name].start).tolist() == flat.tolist()
