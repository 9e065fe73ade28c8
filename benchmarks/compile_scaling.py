"""Compile-and-certify scaling. Not a test: prints a Markdown table.

    python benchmarks/compile_scaling.py [--quick]

Columns: seconds for the whole pipeline (`compile_spec`: group, typed graph, certificate,
architecture tables), |V|, |E|, log10|G|, and, where feasible, the brute-force twins in the same
process: VF2 enumeration of Aut (networkx) and sympy's Schreier–Sims order.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from designer.compiler import compile_file, compile_spec
from designer.certificate import brute_force_automorphisms
from designer.graph import TypedGraph
from designer.group import DesiredGroup, sympy_group
from designer.runtime.instance import Instance
from designer.spec import load_spec

SPECS = Path(__file__).resolve().parent.parent / "specs"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def row(spec_name: str, sizes: dict[str, int], brute: bool, sympy: bool) -> str:
    spec = load_spec(SPECS / f"{spec_name}.yaml")
    c, seconds = timed(lambda: compile_spec(spec, sizes))
    vertices = sum(c.vertex_counts.values())
    edges = sum(c.edge_counts.values())
    brute_text = sympy_text = "—"
    if brute:
        graph = TypedGraph(Instance(c.structure, c.sizes), c.vertex_types, c.edge_types)
        autos, t = timed(lambda: brute_force_automorphisms(graph))
        brute_text = f"{t:.2f} s ({len(autos)} automorphisms)"
    if sympy:
        order, t = timed(lambda: sympy_group(DesiredGroup(Instance(c.structure, c.sizes))).order())
        assert order == c.group.order
        sympy_text = f"{t:.2f} s ({t / seconds:.1f}× ours)"
    size_text = ", ".join(f"{k}={v}" for k, v in c.sizes.items() if k in sizes)
    return (f"| {spec_name} | {size_text} | {seconds:.3f} | {vertices} | {edges} | {c.group.log10_order:.1f} "
            f"| {c.certificate.verdict} | {brute_text} | {sympy_text} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the largest instances")
    args = parser.parse_args()
    import sympy.combinatorics  # noqa: F401  (import outside the timed region)
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print("| spec | sizes | compile + certify (s) | V | E | log10 G | verdict | brute-force Aut (VF2) | sympy order |")
    print("|---|---|---|---|---|---|---|---|---|")
    mcmu = [2, 4, 8] if args.quick else [2, 4, 8, 16, 20]
    for m in mcmu:
        print(row("mcmu_power_allocation", {"M": m, "K": m}, brute=m == 2, sympy=m <= 8), flush=True)
    hybrid = [(6, 8, 2, 2), (16, 8, 4, 2), (32, 16, 8, 2), (64, 16, 8, 4)]
    for n_rf, n_t, k, n_r in hybrid[:3] if args.quick else hybrid:
        sizes = {"N_RF": n_rf, "N_t": n_t, "K": k, "N_r": n_r}
        print(row("hybrid_precoding", sizes, brute=False, sympy=True), flush=True)
    print("\nEvery shipped spec at its check instance (load + compile, in process):\n")
    print("| spec | seconds |\n|---|---|")
    for path in sorted(SPECS.glob("*.yaml")):
        _, seconds = timed(lambda: compile_file(path))
        print(f"| {path.stem} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
