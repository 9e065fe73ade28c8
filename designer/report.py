"""Type tables of a :class:`~designer.compiler.Compilation` as Markdown (also the terminal
text) and as JSON. Output is deterministic: the same spec and sizes give the same bytes."""

from __future__ import annotations

import json

from .compiler import Compilation, CertificateFailure, decimal
from .emit import plan_from_compilation


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) if c not in ("", None) else "—" for c in row) + " |" for row in rows]
    return out


def _sizes(c: Compilation) -> str:
    return ", ".join(f"{k}={v}" for k, v in c.sizes.items())


def to_markdown(c: Compilation) -> str:
    """The compile report: types, group, certificate, notes and architecture tables."""
    s, plan = c.structure, plan_from_compilation(c)
    lines = [f"# {c.spec.name}", ""]
    if c.spec.description:
        lines += [c.spec.description.strip(), ""]
    lines += [f"Check instance: {_sizes(c)}.", ""]
    lines += ["## Sets (axis forest)", ""]
    lines += _table(["set", "path of axes", "related", "vertex type"],
                    [[x.name, " ⊃ ".join(x.path), ", ".join(x.related),
                      "yes" if c.structure.is_vertex_type(x.name) else "no (parent only)"]
                     for x in s.sets])
    lines += ["", "## Vertex types (S1new)", ""]
    lines += _table(["vertex type", "count", "features", "actions"],
                    [[v.name, c.vertex_counts[v.name], ", ".join(v.features), ", ".join(v.actions)]
                     for v in c.vertex_types])
    lines += ["", "## Edge types (S2new, S4new)", ""]
    lines += _table(["edge type", "between", "predicate", "origin", "count", "features", "actions"],
                    [[e.name, " – ".join(e.sets), e.predicate, e.origin, c.edge_counts[e.name],
                      ", ".join(e.features), ", ".join(e.actions)] for e in c.edge_types])
    lines += ["", "## Features and actions", ""]
    lines += _table(["tensor", "role", "dims", "shape", "dtype", "support"],
                    [[t.name, t.role, ", ".join(t.dims), plan.shape_text(t.name), t.dtype, t.support]
                     for t in s.tensors])
    if c.spec.constraints:
        lines += ["", "Constraints enforced by the read-out:", ""]
        lines += [f"- {_constraint_text(k)}" for k in c.spec.constraints]
    g = c.group
    lines += ["", "## Desired group G", "",
              f"G = {g.formula}, |G| = {g.order_formula} = {_big(g.order)} (log10 {g.log10_order:.2f}), "
              f"{g.generators} generators on {sum(c.vertex_counts.values())} vertices.", ""]
    lines += ["## Certificate (S3new)", ""] + _certificate_lines(c)
    if c.sparsity:
        lines += ["", "## Sparse edge types", ""] + _sparsity_lines(c)
    lines += ["", "## Notes", ""] + (_notes(c) or ["None."])
    lines += ["", "## Model variants", ""]
    lines += _table(["sharing", "equivariant to"], [list(v) for v in variant_groups(c)])
    lines += ["", "## Architectures (Propositions 1–2, generic sizes)", ""]
    for name, a in c.architectures.items():
        lines += [f"### {name}", "",
                  f"{len(a.processors)} processors ({c.realised[name]} realised at the check instance), "
                  f"{len(a.poolers)} poolers, {len(a.combiners)} combiners.", ""]
        lines += _table(["processor", "kind"],
                        [[str(p), "vertex" if hasattr(p, "source") else "edge"] for p in a.processors])
        lines += ["", "Poolers and combiners by type: " + ", ".join(a.combiners) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def merged_edge_types(c: Compilation) -> list[tuple[str, ...]]:
    """Edge types that ``sharing="vertex-types"`` merges: several types on one vertex-type pair."""
    by_pair: dict[frozenset, list[str]] = {}
    for e in c.edge_types:
        by_pair.setdefault(frozenset(e.sets), []).append(e.name)
    return [tuple(names) for names in by_pair.values() if len(names) > 1]


def variant_groups(c: Compilation) -> list[tuple[str, str]]:
    """(variant, the group it is equivariant to) for the model variants of one spec."""
    g = c.group.formula
    full = f"exactly G = {g}"
    if c.symmetry_breaking:
        full += f" (G' = {c.symmetry_breaking.group.formula} with the declared symmetry breaking)"
    merged = merged_edge_types(c)
    vertex_types = (f"a group strictly larger than G: it merges the edge types {'; '.join(', '.join(m) for m in merged)}"
                    " and so also commutes with permutations that mix those orbits"
                    if merged else "G as well: every pair of vertex types is joined by one edge type")
    return [("full (default)", full),
            ("vertex-types (Limitation 1)", vertex_types),
            ("homogeneous (one vertex and edge type)", "at least the vertex-types group; it may also exchange "
                                                       "vertex types whose tensors map onto each other"),
            ("none (VertexGNN_NP / EdgeGNN_NP)", "no non-trivial permutation; fixed sizes"),
            ("fnn", "no non-trivial permutation; fixed sizes")]


def _big(n: int) -> str:
    text = decimal(n)
    return text if len(text) <= 30 else f"{text[:6]}…{text[-4:]} ({len(text)} digits)"


def _constraint_text(k) -> str:
    fields = {name: value for name, value in k.model_dump().items() if name not in ("kind",) and value is not None}
    return f"{k.kind}: " + ", ".join(f"{n}={v}" for n, v in fields.items())


def _certificate_lines(c: Compilation) -> list[str]:
    out = []
    first, final = c.first_certificate, c.certificate
    if first is not final:
        out.append(f"- S2new graph: |Aut| = {_big(first.aut_order)} > |G|: witness {first.witness_text}.")
    if c.s4new_applied:
        added = [e.name for e in c.edge_types if e.origin == "S4new"]
        out.append(f"- S4new added intra-subset edges: {', '.join(added)}.")
    if c.auto_edges:
        out.append(f"- Extra edges added automatically (auto_edges): {', '.join(c.auto_edges)}.")
    out.append(f"- Final graph: |Aut| = {_big(final.aut_order)}, |G| = {_big(final.group_order)}: "
               f"**{final.verdict}** (base of length {final.base_length}, {final.search_calls} search calls).")
    if final.witness_text:
        out.append(f"- Witness (an automorphism not in G): {final.witness_text}.")
    return out


def rule_text(rule) -> str:
    """A kept-edge rule in words: ``the 8 largest ‖H‖ per UE, above 0.001``."""
    parts = [f"the {rule.keep} largest ‖{rule.by}‖ per {rule.per}" if rule.keep else f"‖{rule.by}‖ per {rule.per}"]
    if rule.above is not None:
        parts.append(f"above {rule.above:g}")
    return ", ".join(parts)


def _sparsity_lines(c: Compilation) -> list[str]:
    out = _table(["edge type", "keeps", "pairs at the check instance"],
                 [[r.edge_type, rule_text(r), c.edge_counts[r.edge_type]] for r in c.sparsity])
    return out + ["", "What is certified: the dense typed graph above (every pair of every edge type). A sparse "
                  "edge type runs on the pairs its rule keeps, chosen per sample from the feature's magnitudes; "
                  "ties with the first pair left out are dropped with it, so permuting the inputs by any element "
                  "of G permutes the kept pairs the same way, and the model, whose modules are shared by edge "
                  "type, stays equivariant to G by construction. The kept graph itself varies by sample and is "
                  "not certified (its automorphisms may be fewer)."]


def _notes(c: Compilation) -> list[str]:
    out = []
    for ind in c.indistinguishable:
        out.append(f"- **Warning**: no feature tensor is indexed by axis `{ind.axis}` (sets {', '.join(ind.sets)}): "
                   f"an exactly equivariant policy gives all its elements the same {', '.join(ind.actions)} "
                   f"(identical slices along `{ind.axis}`; rank-deficient precoders). Remedy: declare "
                   f"`break_symmetry: index` (or `random`) on the set, accepting a smaller group.")
    if c.symmetry_breaking:
        b = c.symmetry_breaking
        axes = ", ".join(f"`{a}` by {m}" for a, m in b.axes)
        out.append(f"- Symmetry breaking declared: {axes}. The model is equivariant to G' = {b.group.formula}, "
                   f"|G'| = {b.group.order_formula} = {_big(b.group.order)}; certificate on the graph with those "
                   f"vertices individualised: |Aut| = {_big(b.certificate.aut_order)}, **{b.certificate.verdict}**.")
    small = [name for name, count in c.edge_counts.items() if count == 0]
    if small:
        out.append(f"- Edge types with no edge at this check instance (still in the architectures): {', '.join(small)}.")
    for name, a in c.architectures.items():
        if c.realised[name] < len(a.processors):
            out.append(f"- {name}: the check instance realises {c.realised[name]} of {len(a.processors)} processors; "
                       "the rest appear at larger sizes.")
    return out


def to_json_data(c: Compilation) -> dict:
    """The ``--format json`` object (stable keys; exact integers as decimal strings)."""
    plan = plan_from_compilation(c)

    def cert(x):
        return {"verdict": x.verdict, "aut_order": decimal(x.aut_order), "group_order": decimal(x.group_order),
                "base_length": x.base_length, "search_calls": x.search_calls, "witness": x.witness_text}

    data = {
        "name": c.spec.name,
        "sizes": dict(c.sizes),
        "sets": [{"name": x.name, "path": list(x.path), "related": list(x.related),
                  "vertex_type": c.structure.is_vertex_type(x.name)} for x in c.structure.sets],
        "group": {"formula": c.group.formula, "order_formula": c.group.order_formula,
                  "order": decimal(c.group.order), "log10_order": round(c.group.log10_order, 6),
                  "generators": c.group.generators},
        "certificate": {**cert(c.certificate), "s4new_applied": c.s4new_applied,
                        "auto_edges": list(c.auto_edges), "sizes": dict(c.sizes),
                        "first": cert(c.first_certificate)},
        "vertex_types": [{"name": v.name, "count": c.vertex_counts[v.name], "path": list(v.path),
                          "features": list(v.features), "actions": list(v.actions)} for v in c.vertex_types],
        "edge_types": [{"name": e.name, "count": c.edge_counts[e.name], "sets": list(e.sets),
                        "shared_axes": list(e.shared), "agree": e.agree, "predicate": e.predicate,
                        "origin": e.origin, "features": list(e.features), "actions": list(e.actions)}
                       for e in c.edge_types],
        "tensors": [{"name": t.name, "role": t.role, "dims": list(t.dims), "channels": t.channels,
                     "dtype": t.dtype, "support": t.support, "shape": plan.shape_text(t.name)}
                    for t in c.structure.tensors],
        "constraints": [k.model_dump() for k in c.spec.constraints],
        "indistinguishable": [{"axis": i.axis, "sets": list(i.sets), "actions": list(i.actions)}
                              for i in c.indistinguishable],
        "symmetry_breaking": None if c.symmetry_breaking is None else {
            "axes": [{"axis": a, "method": m} for a, m in c.symmetry_breaking.axes],
            "group": {"formula": c.symmetry_breaking.group.formula, "order": decimal(c.symmetry_breaking.group.order),
                      "log10_order": round(c.symmetry_breaking.group.log10_order, 6)},
            "certificate": cert(c.symmetry_breaking.certificate)},
        "variants": [{"sharing": v, "equivariant_to": text} for v, text in variant_groups(c)],
        "sparse_edge_types": [{"edge_type": r.edge_type, "by": r.by, "per": r.per, "keep": r.keep, "above": r.above}
                              for r in c.sparsity],
        "architectures": {name: {
            "processors": [str(p) for p in a.processors],
            "poolers": list(a.poolers), "combiners": list(a.combiners),
            "processor_count": len(a.processors), "realised_at_check_instance": c.realised[name]}
            for name, a in c.architectures.items()},
    }
    return data


def to_json(c: Compilation) -> str:
    return json.dumps(to_json_data(c), indent=2, ensure_ascii=False) + "\n"


def failure_text(f: CertificateFailure) -> str:
    """What a failed certificate prints: the witness and the edges that would remove it."""
    c = f.compilation
    lines = [f"certificate failed for {c.spec.name} at {_sizes(c)}: "
             f"|Aut| = {_big(c.certificate.aut_order)} > |G| = {_big(c.certificate.group_order)}"]
    if c.s4new_applied:
        lines.append("S4new intra-subset edges were added and did not suffice.")
    lines.append(f"witness (an automorphism of the typed graph that is not in G): {c.certificate.witness_text}")
    if f.suggestions:
        lines.append("adding any of these edge orbits removes this witness (set `auto_edges: true` or pass "
                     "--auto-edges to add them automatically):")
        lines += [f"  - {e.name}: {' – '.join(e.sets)}, {e.predicate}" for e in f.suggestions]
    else:
        lines.append("no G-orbit of vertex pairs breaks this witness: the sets as declared cannot be told apart.")
    lines.append("nothing was written.")
    return "\n".join(lines)
