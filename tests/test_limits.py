"""Resource limits (designer/limits.py) and hostile input: each limit passes at its value and
fails one past it with a one-line SpecError that names it; special files, YAML features, names
and expressions outside the grammar are refused quickly and in one line."""

import math
import os
import time
from pathlib import Path

import pytest

from designer import cli
from designer.compiler import CertificateFailure, compile_spec
from designer.limits import Limits, parse_limit, parse_limits
from designer.runtime.plan import evaluate, parse_expression
from designer.spec import SpecError, load_spec, parse_spec
from fuzz_strategies import time_bound
from specs_for_tests import MCMU, RELATED_NO_EDGES


def refused(text: str, limits: Limits = Limits(), sizes=None) -> str:
    """The one-line message a spec (compiled at ``sizes``) is refused with."""
    with pytest.raises(SpecError) as info:
        compile_spec(parse_spec(text, "x.yaml", limits), sizes, file="x.yaml", limits=limits)
    message = str(info.value)
    assert "\n" not in message and message.startswith("x.yaml: ")
    return message


def compiles(text: str, limits: Limits = Limits(), sizes=None):
    return compile_spec(parse_spec(text, "x.yaml", limits), sizes, file="x.yaml", limits=limits)


def independent_sets(n: int) -> str:
    """``n`` unrelated sets, one feature tensor each, and one action."""
    sets = "".join(f"  S{i}: {{size: K}}\n" for i in range(n))
    tensors = "".join(f"  t{i}: {{role: feature, dims: [S{i}]}}\n" for i in range(n))
    return f"name: many\nsets:\n{sets}tensors:\n{tensors}  a: {{role: action, dims: [S0]}}\ncheck_sizes: {{K: 2}}\n"


def chain(n: int, size: str = "1") -> str:
    """``n`` sets, each nested in the one before; tensors on the last."""
    sets = "".join(f"  S{i}: {{size: {size}{f', parent: S{i - 1}' if i else ''}}}\n" for i in range(n))
    sizes = "{K: 1}" if size == "K" else "{}"
    return (f"name: chain\nsets:\n{sets}tensors:\n  t: {{role: feature, dims: [S{n - 1}]}}\n"
            f"  a: {{role: action, dims: [S{n - 1}]}}\ncheck_sizes: {sizes}\n")


def with_budget(expression: str) -> str:
    return MCMU.replace("max: 1}", f'max: "{expression}"}}')


# ---------------------------------------------------------------------------------------------
# Each limit: at the limit passes, one past it fails naming the limit and how to raise it.
# ---------------------------------------------------------------------------------------------

def test_spec_bytes():
    text = MCMU + "#" * 10 + "\n"
    size = len(text.encode())
    compiles(text, Limits(spec_bytes=size))
    assert "raise it with --limit spec_bytes=N" in refused(text, Limits(spec_bytes=size - 1))


def test_spec_bytes_of_a_file_read_in_bounded_chunks(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text(MCMU + "#" * 200_000 + "\n")
    read = []
    original = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(n) or original(fd, n))
    with pytest.raises(SpecError, match="spec_bytes") as info:
        load_spec(path, Limits(spec_bytes=1000))
    assert sum(read) <= 1001 and "\n" not in str(info.value)
    monkeypatch.undo()
    assert load_spec(path, Limits(spec_bytes=path.stat().st_size)).name == "mcmu"


def test_nesting_depth():
    compiles(MCMU, Limits(nesting_depth=4))  # the document, `tensors`, a tensor, its dims
    assert "--limit nesting_depth=N" in refused(MCMU, Limits(nesting_depth=3))


def test_deep_yaml_nesting_is_refused_before_it_is_built():
    with time_bound(10):
        message = refused(MCMU + "x: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert "nesting_depth" in message


def test_sets_and_tensors():
    text = independent_sets(20)
    compiles(text, Limits(sets=20, tensors=21))
    assert "sets: the spec has more than 19 sets; the limit is 19 (raise it with --limit sets=N)" in refused(
        text, Limits(sets=19))
    assert "tensors: the spec has more than 20 tensors; the limit is 20 (raise it with --limit tensors=N)" in refused(
        text, Limits(tensors=20))


def test_thousands_of_sets_are_refused_at_the_first_one_over():
    start = time.perf_counter()
    assert "--limit sets=N" in refused(independent_sets(3000))
    assert time.perf_counter() - start < 2  # reading all 3000 takes longer


def test_name_length():
    text = MCMU.replace("name: mcmu", "name: " + "m" * 30)
    compiles(text, Limits(name_length=30))
    assert "has 30 characters; the limit is 29 (raise it with --limit name_length=N)" in refused(
        text, Limits(name_length=29))


def test_expression_length():
    expression = "1" + "+1" * 20  # 41 characters
    compiles(with_budget(expression), Limits(expression_length=41))
    assert "has 41 characters; the limit is 40 (raise it with --limit expression_length=N)" in refused(
        with_budget(expression), Limits(expression_length=40))


def test_expression_depth():
    expression = "(" * 5 + "1" + ")" * 5
    compiles(with_budget(expression), Limits(expression_depth=5))
    assert "nests parentheses 5 deep; the limit is 4 (raise it with --limit expression_depth=N)" in refused(
        with_budget(expression), Limits(expression_depth=4))


def test_size_of_a_symbol_a_literal_and_an_override():
    compiles(MCMU, Limits(size=3), sizes={"M": 3})
    assert "check_sizes.M: size M=3 is larger than allowed; the limit is 2 (raise it with --limit size=N)" in refused(
        MCMU.replace("{M: 2, K: 2}", "{M: 3, K: 2}"), Limits(size=2))
    assert "--size: size M=3 is larger" in refused(MCMU, Limits(size=2), sizes={"M": 3})
    literal = MCMU.replace("cell: {size: M}", "cell: {size: 5}").replace("M: 2, ", "")
    assert "sets.cell.size: size 5 is larger than allowed" in refused(literal, Limits(size=4))


@pytest.mark.parametrize("size", [2 ** 63, 2 ** 64 + 1, 10 ** 30])
def test_huge_sizes_are_refused_cleanly(size):
    assert "--limit size=N" in refused(MCMU.replace("K: 2}", f"K: {size}}}"))
    assert "--limit size=N" in refused(MCMU, sizes={"K": size})


def test_integers_too_long_to_convert_are_refused():
    assert "too large" in refused(MCMU.replace("K: 2}", "K: " + "9" * 5000 + "}"))


def test_vertices_at_the_check_instance():
    compiles(MCMU, Limits(vertices=32), sizes={"M": 4, "K": 4})  # 16 ANs and 16 UEs (every symbol 3: 18)
    assert ("the check instance (M=4, K=4) has 32 vertices; the limit is 31 (raise it with --limit vertices=N)"
            in refused(MCMU, Limits(vertices=31), sizes={"M": 4, "K": 4}))
    assert "(M=3, K=1000) has 6000 vertices" in refused(MCMU, sizes={"M": 3, "K": 1000})


def test_vertices_at_the_generic_instance():
    text = chain(3, "K")  # vertices on the innermost set only: K**3, 1 at the check instance
    compiles(text, Limits(vertices=27))
    assert "the generic instance of the architecture tables (every size symbol 3) has 27 vertices" in refused(
        text, Limits(vertices=26))


# ---------------------------------------------------------------------------------------------
# The limits are checked before the work: big requests fail fast; work near a limit stays bounded.
# ---------------------------------------------------------------------------------------------

def test_a_huge_instance_is_refused_before_anything_is_built():
    start = time.perf_counter()
    assert "has 200000000 vertices" in refused(MCMU, sizes={"M": 10_000, "K": 10_000})  # each within `size`
    assert time.perf_counter() - start < 1


def test_a_long_nesting_chain_compiles_without_recursion():
    with time_bound(60):
        c = compiles(chain(1500), Limits(sets=1500))
    assert len(c.structure.axis_paths["S1499"]) == 1500 and c.certificate.holds


def test_a_failing_certificate_with_a_large_automorphism_group_is_exact_and_quick():
    with time_bound(30), pytest.raises(CertificateFailure) as info:
        compiles(RELATED_NO_EDGES, sizes={"K": 120})  # Tx and Rx unlinked: Aut = S_K × S_K
    assert info.value.compilation.certificate.aut_order == math.factorial(120) ** 2


# ---------------------------------------------------------------------------------------------
# Hostile input.
# ---------------------------------------------------------------------------------------------

def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    with time_bound(5), pytest.raises(SpecError, match="not a regular file"):
        load_spec(fifo)


@pytest.mark.parametrize("path, reason", [("/dev/zero", "not a regular file"), ("/", "a directory")])
def test_devices_and_directories_are_refused(path, reason):
    if not Path(path).exists():
        pytest.skip(f"no {path}")
    with time_bound(5), pytest.raises(SpecError, match=reason):
        load_spec(path)


def test_the_cli_refuses_a_fifo_in_one_line(tmp_path, capsys):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    with time_bound(5):
        assert cli.main(["compile", str(fifo), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(fifo) in err


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MCMU.replace("name: mcmu", "name: caf\xe9").encode("latin-1"))
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(path)


@pytest.mark.parametrize("text, expected", [
    (MCMU + "---\n" + MCMU, "one YAML document"),
    (MCMU + "? [a, b]\n: 1\n", "a mapping key must be a name, not a YAML collection"),
    (MCMU + "{a: 1}: 2\n", "a mapping key must be a name"),
    (MCMU + "1: x\n", "a mapping key must be a name, not '1'"),
    (MCMU + "null: x\n", "a mapping key must be a name"),
    (MCMU + "<<: {description: x}\n", "'<<' is read as a YAML merge"),
    (MCMU + "x: =\n", "quote it"),
    (MCMU + "x: 2001-12-14\n", "quote it"),
    (MCMU.replace("name: mcmu", 'name: "x\\uD800"'), "lone surrogate"),
])
def test_yaml_features_outside_the_language(text, expected):
    assert expected in refused(text)


@pytest.mark.parametrize("name", ["x\n", "x\r", "x ", "print", "open", "match", "case", "type", "caf\u00e9",
                                  "\uff21", "x\u2028", "a" * 65])
def test_names_are_strict_identifiers(name):
    quoted = name.encode("unicode_escape").decode()
    message = refused(MCMU.replace("name: mcmu", f'name: "{quoted}"'))
    assert message.startswith("x.yaml: name: spec name ")


def test_a_name_ending_in_a_newline_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "x.yaml"
    spec.write_text(MCMU.replace("name: mcmu", 'name: "x\\n"'))
    assert cli.main(["compile", str(spec), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("expression", ["1\\n+1", "1\\r", "K\\t", "\\u0661", "K\\u00a0", "1_000", "1e-3"])
def test_expressions_accept_only_the_grammar(expression):
    assert "only numbers, names, + - * / ** and sqrt() are allowed" in refused(with_budget(expression))


def test_expressions_never_exhaust_the_stack():
    deep = "(" * 20_000 + "1" + ")" * 20_000  # far past Python's recursion limit
    assert evaluate(deep, {}) == 1
    assert evaluate("-" * 20_000 + "2", {}) == 2
    assert evaluate("1" + "+1" * 20_000, {}) == 20_001
    with pytest.raises(ValueError, match="nests parentheses 20000 deep; the limit is 16"):
        parse_expression(deep, Limits(expression_length=len(deep)))


def test_error_messages_escape_control_characters():
    message = refused(MCMU.replace("  H: {", '  "H\\x1b[31m\\n": {'))
    assert "\\x1b" in message and "\\n" in message


# ---------------------------------------------------------------------------------------------
# --limit NAME=N.
# ---------------------------------------------------------------------------------------------

def test_limit_overrides_parse():
    assert parse_limit("sets=300") == ("sets", 300)
    limits = parse_limits(["sets=300", "vertices=5000"])
    assert (limits.sets, limits.vertices, limits.tensors) == (300, 5000, Limits().tensors)


@pytest.mark.parametrize("text, expected", [("sets", "expected NAME=N"), ("sets=x", "expected NAME=N"),
                                            ("sets=-1", "expected NAME=N"), ("sets=0", "positive integer"),
                                            ("bogus=3", "unknown limit 'bogus'"), ("=3", "unknown limit")])
def test_bad_limit_overrides_say_why(text, expected):
    with pytest.raises(ValueError, match=expected):
        parse_limit(text)


def test_every_shipped_spec_compiles_within_the_default_limits():
    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "specs").glob("*.yaml")):
        assert load_spec(path, Limits()).name == path.stem
