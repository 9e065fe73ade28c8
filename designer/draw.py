"""A drawing of the typed graph at the check instance, as SVG (``gnn-design compile`` writes it
to ``<out>/<name>.svg``).

The graph drawn is the one the certificate ran on: :class:`~designer.graph.TypedGraph` at the
compilation's check sizes with its final vertex and edge types. Vertices are filled by vertex
type, edges coloured by edge type (a loop type, a vertex paired with itself, is drawn as a ring
around the vertex with the matplotlib renderer and as a loop with graphviz), and a legend names
every type with its count and, when short, its predicate.

Renderers: graphviz's ``dot`` program when it is on ``PATH`` (the DOT text is written here and
piped to ``dot -Tsvg``), else matplotlib (an optional dependency: ``pip install matplotlib``;
never imported until needed, and only its non-interactive SVG canvas is used). Each gives the
same bytes for the same compilation. Without either, or above :data:`MAX_VERTICES` vertices or
:data:`MAX_EDGES` edges, :func:`draw` returns a :class:`Drawing` with no SVG and a one-line
reason. This module does not import torch.
"""

from __future__ import annotations

import io
import itertools
import math
import shutil
import subprocess
from dataclasses import dataclass
from html import escape

from .graph import TypedGraph, edge_pairs
from .runtime.instance import Instance

MAX_VERTICES = 400  # above this a drawing is unreadable; refuse instead
MAX_EDGES = 6000  # above this the edges of a drawing blur into one another
DOT_TIMEOUT_S = 20.0
RENDERERS = ("auto", "dot", "matplotlib")
_PREDICATE_WIDTH = 40  # predicates longer than this are left out of the legend
_ORDER_SEARCH_TYPES = 7  # try every cyclic order of at most this many vertex types

# Fills for vertex types (light, so labels stay readable) and strokes for edge types (dark).
VERTEX_FILLS = ("#80b1d3", "#fdb462", "#b3de69", "#fb8072", "#bebada", "#8dd3c7", "#fccde5",
                "#ffed6f", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffffb3")
EDGE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                "#17becf", "#7f7f7f", "#bcbd22")
_DASHES = ("solid", "dashed", "dotted", "dashdot")  # for the 11th edge type on, with the colours again


@dataclass(frozen=True)
class Drawing:
    """What :func:`draw` gives: the SVG text and the renderer that made it, or no SVG and why."""

    svg: str | None
    renderer: str | None  # "dot" | "matplotlib" | None
    reason: str | None = None  # why there is no SVG; or, with matplotlib's SVG, why dot (on PATH) failed

    def __bool__(self) -> bool:
        return self.svg is not None


@dataclass(frozen=True)
class _Scene:
    """The typed graph as plain data: what either renderer needs."""

    title: str
    subtitle: str
    labels: tuple[str, ...]  # per vertex, e.g. "UE[0,1]"
    vertex_type: tuple[int, ...]  # per vertex, index into vertex_names
    groups: tuple[tuple[int, ...], ...]  # per vertex, its index without the last axis (gaps in a drawing)
    edges: tuple[tuple[int, int, int], ...]  # (u, v, edge type index); u == v for a loop type
    vertex_names: tuple[str, ...]
    vertex_legend: tuple[str, ...]
    edge_names: tuple[str, ...]
    edge_legend: tuple[str, ...]
    edge_is_loop: tuple[bool, ...]


def draw(compilation, renderer: str = "auto", *, max_vertices: int = MAX_VERTICES,
         max_edges: int = MAX_EDGES) -> Drawing:
    """Draw the typed graph of ``compilation`` at its check instance as SVG.

    ``renderer``: ``"auto"`` (``dot`` if on ``PATH`` and it succeeds, else matplotlib),
    ``"dot"`` or ``"matplotlib"``. Returns a :class:`Drawing`; its ``svg`` is None, with a
    one-line ``reason`` starting "not drawn:", when no chosen renderer is installed or the
    graph is over ``max_vertices`` or ``max_edges``. Deterministic: the same compilation and
    renderer give the same SVG bytes (for one version of graphviz or matplotlib).
    """
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}: expected one of {', '.join(RENDERERS)}")
    structure, sizes = compilation.structure, compilation.sizes
    n = structure.vertex_count(sizes)
    if n > max_vertices:
        return Drawing(None, None, f"not drawn: the check instance has {n} vertices, more than the "
                                   f"{max_vertices} a drawing stays readable at (smaller --size values draw it)")
    m = sum(compilation.edge_counts.values())  # known unless the certificate failed
    if m > max_edges:
        return Drawing(None, None, _too_many(m, max_edges))
    instance = Instance(structure, sizes)
    scene = _scene(compilation, instance, max_edges)
    if isinstance(scene, str):
        return Drawing(None, None, scene)
    dot_failed = None  # why dot, on PATH, gave no drawing
    if renderer in ("auto", "dot"):
        program = shutil.which("dot")
        if program is not None:
            svg, dot_failed = _render_dot(scene, program)
            if svg is not None:
                return Drawing(svg, "dot")
        if renderer == "dot":
            why = dot_failed or "graphviz's `dot` is not on PATH (install graphviz)"
            return Drawing(None, None, f"not drawn: {why}")
    try:
        svg = _render_matplotlib(scene)
    except ImportError:
        if renderer == "matplotlib":
            why = "matplotlib is not installed (`pip install matplotlib`)"
        elif dot_failed:
            why = f"{dot_failed}, and matplotlib is not installed (`pip install matplotlib`)"
        else:
            why = "neither graphviz's `dot` nor matplotlib is installed (`pip install matplotlib`, or graphviz)"
        return Drawing(None, None, f"not drawn: {why}")
    return Drawing(svg, "matplotlib", dot_failed)


# ---------------------------------------------------------------------------------------------
# The scene: vertices, typed edges and legend text, from the compiler's own typed graph.
# ---------------------------------------------------------------------------------------------


def _scene(compilation, instance: Instance, max_edges: int) -> _Scene | str:
    vts, ets = compilation.vertex_types, compilation.edge_types
    graph = TypedGraph(instance, vts, ets)  # the graph the certificate ran on
    edges = [(int(u), int(v), int(data["c"]) - 1) for u, v, data in graph.to_networkx().edges(data=True)]
    for c, et in enumerate(ets):
        if et.is_loop:  # folded into vertex colours by TypedGraph; drawn explicitly here
            u, v = edge_pairs(instance, et)
            edges += [(int(a), int(b), c) for a, b in zip(u, v)]
    if len(edges) > max_edges:
        return _too_many(len(edges), max_edges)
    edges.sort()
    type_index = {vt.name: i for i, vt in enumerate(vts)}
    vertex_counts = [0] * len(vts)
    for v in instance.vertices:
        vertex_counts[type_index[v.set]] += 1
    edge_counts = [0] * len(ets)
    for _, _, c in edges:
        edge_counts[c] += 1

    def edge_label(i: int) -> str:
        et = ets[i]
        text = f"{et.name}: {'–'.join(et.sets)}"
        if len(et.predicate) <= _PREDICATE_WIDTH:
            text += f", {et.predicate}"
        origin = {"S4new": ", added by S4new", "auto": ", added by --auto-edges"}.get(et.origin, "")
        return f"{text} ({_plural(edge_counts[i], 'edge')}{origin})"

    sizes = ", ".join(f"{k}={v}" for k, v in compilation.sizes.items())
    certificate = compilation.certificate
    verdict = "" if certificate is None else ("; Aut = G certified" if certificate.holds
                                                else "; certificate fails: Aut ⊋ G")
    return _Scene(
        title=f"{compilation.spec.name}: typed graph at the check instance {sizes}",
        subtitle=(f"{_plural(len(instance), 'vertex', 'vertices')} in {_plural(len(vts), 'vertex type')}, "
                  f"{_plural(len(edges), 'edge')} in {_plural(len(ets), 'edge type')}{verdict}"),
        labels=tuple(str(v) for v in instance.vertices),
        vertex_type=tuple(type_index[v.set] for v in instance.vertices),
        groups=tuple(v.index[:-1] for v in instance.vertices),
        edges=tuple(edges),
        vertex_names=tuple(vt.name for vt in vts),
        vertex_legend=tuple(f"{vt.name} ({_plural(vertex_counts[i], 'vertex', 'vertices')})"
                            for i, vt in enumerate(vts)),
        edge_names=tuple(et.name for et in ets),
        edge_legend=tuple(edge_label(i) for i in range(len(ets))),
        edge_is_loop=tuple(et.is_loop for et in ets),
    )


def _too_many(m: int, max_edges: int) -> str:
    return (f"not drawn: the check instance has {m} edges, more than the {max_edges} a drawing stays "
            "readable at (smaller --size values draw it)")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _vertex_fill(i: int) -> str:
    return VERTEX_FILLS[i % len(VERTEX_FILLS)]


def _edge_style(i: int) -> tuple[str, str]:
    """(colour, dash style) of edge type ``i``."""
    return EDGE_COLOURS[i % len(EDGE_COLOURS)], _DASHES[(i // len(EDGE_COLOURS)) % len(_DASHES)]


def _type_order(scene: _Scene) -> tuple[int, ...]:
    """Vertex types around the circle: the cyclic order that puts the most edges between
    neighbouring types (first such order in spec order; type 0 stays first)."""
    k = len(scene.vertex_names)
    if k <= 3 or k > _ORDER_SEARCH_TYPES:
        return tuple(range(k))
    weight: dict[tuple[int, int], int] = {}
    for u, v, _ in scene.edges:
        a, b = sorted((scene.vertex_type[u], scene.vertex_type[v]))
        if a != b:
            weight[a, b] = weight.get((a, b), 0) + 1

    def apart(order: tuple[int, ...]) -> int:
        position = {t: i for i, t in enumerate(order)}
        return sum(w for (a, b), w in weight.items() if (position[a] - position[b]) % k not in (1, k - 1))

    return min(((0, *rest) for rest in itertools.permutations(range(1, k))), key=apart)


# ---------------------------------------------------------------------------------------------
# graphviz dot
# ---------------------------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_ranks(scene: _Scene) -> list[list[int]]:
    """Columns of vertex types for dot: breadth-first layers of the graph of types (two types
    joined when an edge type joins them), from the first type of each connected part; so a
    cycle of types (hybrid precoding) becomes a diamond rather than a line with a long jump."""
    k = len(scene.vertex_names)
    neighbours: dict[int, set[int]] = {t: set() for t in range(k)}
    for u, v, _ in scene.edges:
        a, b = scene.vertex_type[u], scene.vertex_type[v]
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    layer: dict[int, int] = {}
    for root in range(k):
        if root in layer:
            continue
        layer[root], queue = 0, [root]
        for a in queue:  # grows while it is read
            for b in sorted(neighbours[a]):
                if b not in layer:
                    layer[b] = layer[a] + 1
                    queue.append(b)
    columns: list[list[int]] = [[] for _ in range(max(layer.values()) + 1)]
    for t in range(k):
        columns[layer[t]].append(t)
    return columns


def _dot_source(scene: _Scene) -> str:
    """DOT text: left to right, a column (rank) per layer of vertex types, each type's vertices
    in index order down its column; edges coloured by type; a legend table under the title."""
    lines = ["graph typed_graph {",
             f'  graph [rankdir=LR, ranksep=2.0, nodesep=0.25, newrank=true, labelloc=t, pad=0.3, '
             f'fontname="Helvetica", fontsize=15, label=<<TABLE BORDER="0" CELLPADDING="2"><TR><TD>'
             f'{escape(scene.title)}</TD></TR><TR><TD><FONT POINT-SIZE="11">{escape(scene.subtitle)}</FONT>'
             "</TD></TR></TABLE>>];",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, height=0.22, '
             'margin="0.06,0.02", penwidth=0.8];',
             "  edge [penwidth=1.2];"]
    columns = _dot_ranks(scene)
    members: dict[int, list[int]] = {t: [] for t in range(len(scene.vertex_names))}
    for v, t in enumerate(scene.vertex_type):
        members[t].append(v)
    for i, column in enumerate(columns):
        lines.append(f"  subgraph column_{i} {{")
        lines.append("    rank=same;")
        for t in column:
            for v in members[t]:
                label, fill = _dot_quote(scene.labels[v]), _dot_quote(_vertex_fill(t))
                lines.append(f"    v{v} [label={label}, fillcolor={fill}];")
        chain = [v for t in column for v in members[t]]
        if len(chain) > 1:  # keep index order down the column
            lines.append("    " + " -- ".join(f"v{v}" for v in chain) + " [style=invis];")
        lines.append("  }")
    # the columns left to right (invisible: they only fix the ranks)
    heads = [members[column[0]][0] for column in columns]
    for a, b in zip(heads, heads[1:]):
        lines.append(f"  v{a} -- v{b} [style=invis];")
    # densest edge types first, so sparse ones are drawn on top
    counts = [0] * len(scene.edge_names)
    for _, _, c in scene.edges:
        counts[c] += 1
    column_of = {t: i for i, column in enumerate(columns) for t in column}
    for c in sorted(range(len(counts)), key=lambda c: (-counts[c], c)):
        colour, dash = _edge_style(c)
        style = "" if dash == "solid" else f", style={'dashed' if dash == 'dashdot' else dash}"
        for u, v, t in scene.edges:
            if t != c:
                continue
            if column_of[scene.vertex_type[u]] > column_of[scene.vertex_type[v]]:
                u, v = v, u
            lines.append(f"  v{u} -- v{v} [color={_dot_quote(colour)}, constraint=false{style}];")
    lines.append(f'  legend [shape=plaintext, style="", margin=0, label=<{_dot_legend(scene)}>];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_legend(scene: _Scene) -> str:
    rows = ['<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">',
            '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>vertex types</B></TD></TR>']
    for i, text in enumerate(scene.vertex_legend):
        rows.append(f'<TR><TD BGCOLOR="{_vertex_fill(i)}" WIDTH="24" BORDER="1" STYLE="rounded"> </TD>'
                    f'<TD ALIGN="LEFT">{escape(text)}</TD></TR>')
    rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><B>edge types</B></TD></TR>')
    for i, text in enumerate(scene.edge_legend):
        colour, dash = _edge_style(i)
        mark = {"solid": "━━━", "dashed": "━ ━", "dotted": "┅┅┅", "dashdot": "━ ┅"}[dash]
        rows.append(f'<TR><TD><FONT COLOR="{colour}">{mark}</FONT></TD><TD ALIGN="LEFT">{escape(text)}</TD></TR>')
    rows.append("</TABLE>")
    return "".join(rows)


def _render_dot(scene: _Scene, program: str) -> tuple[str | None, str | None]:
    """(svg, None) or (None, why not), from the ``dot`` executable at ``program``."""
    try:
        done = subprocess.run([program, "-Tsvg"], input=_dot_source(scene).encode(), capture_output=True,
                              timeout=DOT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return None, f"graphviz's `dot` took longer than {DOT_TIMEOUT_S:g} s"
    except OSError as exc:
        return None, f"graphviz's `dot` could not run ({exc.strerror or exc})"
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        return None, f"graphviz's `dot` failed ({message[-1] if message else f'exit {done.returncode}'})"
    return done.stdout.decode(), None


# ---------------------------------------------------------------------------------------------
# matplotlib: vertex types on arcs of a circle, edges as chords (a chord meets no other vertex).
# ---------------------------------------------------------------------------------------------

_GROUP_GAP = 0.6  # extra slots between groups of a vertex type (e.g. between cells)
_TYPE_GAP = 2.0  # extra slots between vertex types


def _circle_positions(scene: _Scene) -> tuple[list[float], float]:
    """Angle (radians) of every vertex, and the angle between neighbours of a group. Types go
    clockwise around the circle in :func:`_type_order`, the first centred on the left; within
    a type vertices follow their index, in opposite directions in consecutive types (down the
    left side, down the right side), so that edges between matching indices of neighbouring types
    nest instead of crossing."""
    order = _type_order(scene)
    members: dict[int, list[int]] = {t: [] for t in order}
    for v, t in enumerate(scene.vertex_type):
        members[t].append(v)
    offsets: dict[int, float] = {}  # vertex -> slot within its type
    spans: dict[int, float] = {}
    for t in order:
        slot, previous = 0.0, None
        for v in members[t]:
            if previous is not None:
                slot += 1.0 + (_GROUP_GAP if scene.groups[v] != scene.groups[previous] else 0.0)
            offsets[v], previous = slot, v
        spans[t] = slot
    step = 2 * math.pi / (sum(spans.values()) + len(order) * (1.0 + _TYPE_GAP))
    base = math.pi + spans[order[0]] / 2 * step
    angles = [0.0] * len(scene.labels)
    walked = 0.0  # slots walked clockwise from the start of the first type
    for i, t in enumerate(order):
        for v in members[t]:
            along = offsets[v] if i % 2 else spans[t] - offsets[v]
            angles[v] = base - (walked + along) * step
        walked += spans[t] + 1.0 + _TYPE_GAP
    return angles, step


def _render_matplotlib(scene: _Scene) -> str:
    import matplotlib  # noqa: F401  (ImportError here: not installed)
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.path import Path

    n = len(scene.labels)
    angles, step = _circle_positions(scene)
    font = 9.0 if n <= 60 else max(5.0, 9.0 - (n - 60) / 60)
    radius = max(1.7, 1.5 * font / 72 / step)  # inches: neighbouring labels one line and a half apart
    label_width = max((len(s) for s in scene.labels), default=1) * font * 0.62 / 72
    extent = radius + 0.18 + label_width + 0.1
    xy = [(radius * math.cos(a), radius * math.sin(a)) for a in angles]

    with rc_context({"svg.hashsalt": "gnn-design", "svg.fonttype": "none", "font.family": "DejaVu Sans",
                     "path.simplify": False}):
        fig = Figure(figsize=(2 * extent, 2 * extent))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_aspect("equal")
        ax.axis("off")

        counts = [0] * len(scene.edge_names)
        for _, _, c in scene.edges:
            counts[c] += 1
        for rank, c in enumerate(sorted(range(len(counts)), key=lambda c: (-counts[c], c))):
            if scene.edge_is_loop[c] or not counts[c]:
                continue
            vertices, codes = [], []
            for u, v, t in scene.edges:
                if t == c:
                    vertices += [xy[u], xy[v]]
                    codes += [Path.MOVETO, Path.LINETO]
            colour, dash = _edge_style(c)
            width = max(0.3, min(1.8, 6 / math.sqrt(counts[c])))  # dense types thinner
            ax.add_patch(PathPatch(Path(vertices, codes), fill=False, edgecolor=colour, linestyle=dash,
                                   linewidth=width, alpha=0.85, zorder=1 + rank / 100,
                                   gid=f"edges-{scene.edge_names[c]}"))
        ring = 0
        for c, is_loop in enumerate(scene.edge_is_loop):
            if not is_loop or not counts[c]:
                continue
            ring += 1
            ends = [u for u, v, t in scene.edges if t == c]
            colour, dash = _edge_style(c)
            ax.scatter([xy[u][0] for u in ends], [xy[u][1] for u in ends], s=(13 + 5 * ring) ** 2, facecolors="none",
                       edgecolors=colour, linestyle=dash, linewidths=1.4, zorder=3, gid=f"loops-{scene.edge_names[c]}")
        for t in range(len(scene.vertex_names)):
            own = [v for v in range(n) if scene.vertex_type[v] == t]
            ax.scatter([xy[v][0] for v in own], [xy[v][1] for v in own], s=110, c=_vertex_fill(t),
                       edgecolors="#333333", linewidths=0.8, zorder=4, gid=f"vertices-{scene.vertex_names[t]}")
        for v, a in enumerate(angles):
            degrees = math.degrees(a) % 360
            left = 90 < degrees < 270
            r = radius + 0.16 + 0.07 * sum(scene.edge_is_loop)
            ax.text(r * math.cos(a), r * math.sin(a), scene.labels[v], fontsize=font,
                    rotation=degrees - 180 if left else degrees, rotation_mode="anchor",
                    ha="right" if left else "left", va="center", zorder=5)

        handles = [Patch(facecolor="none", edgecolor="none")]
        labels = ["vertex types"]
        for t, text in enumerate(scene.vertex_legend):
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=10,
                                  markerfacecolor=_vertex_fill(t), markeredgecolor="#333333"))
            labels.append(text)
        handles.append(Patch(facecolor="none", edgecolor="none"))
        labels.append("edge types")
        for c, text in enumerate(scene.edge_legend):
            colour, dash = _edge_style(c)
            if scene.edge_is_loop[c]:
                handles.append(Line2D([], [], linestyle="none", marker="o", markersize=13, markerfacecolor="none",
                                      markeredgecolor=colour, markeredgewidth=1.4))
                text = text[:-1] + ", a ring round each vertex)"
            else:
                handles.append(Line2D([], [], color=colour, linestyle=dash, linewidth=2))
            labels.append(text)
        legend = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                           fontsize=10, handlelength=2.2, borderaxespad=0.0)
        for text in (legend.get_texts()[0], legend.get_texts()[len(scene.vertex_legend) + 1]):
            text.set_fontweight("bold")
        ax.set_title(f"{scene.title}\n{scene.subtitle}", fontsize=12, loc="left", pad=12)

        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.15,
                    metadata={"Date": None, "Creator": None})
    return buffer.getvalue()
