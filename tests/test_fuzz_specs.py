"""Fuzzing ``gnn-design compile`` with mutated and hostile specs (tests/fuzz_strategies.py): every
spec ends in success, a one-line error (exit 1) or a certificate failure (exit 2) within a time
bound, and every module written imports without side effects and encodes exactly its plan.

A short run of each family; ``python benchmarks/fuzz_specs.py --count 10000`` is the long one.
"""

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import designer.runtime.model  # noqa: F401  (torch: imported once here, not inside the first timed example)
from fuzz_strategies import CODE, FAMILIES, SHIPPED, judge, time_bound

SECONDS = 10  # per spec: the bound the long run uses too
FUZZ = settings(max_examples=12, deadline=timedelta(seconds=SECONDS), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def judged(spec: str):
    """judge() in a scratch folder, failing rather than hanging past twice the bound."""
    with time_bound(2 * SECONDS), tempfile.TemporaryDirectory() as folder:
        return judge(spec, Path(folder))


@pytest.mark.parametrize("family", sorted(FAMILIES))
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_every_spec_ends_in_a_result_or_one_line_error(family, rng):
    outcome = judged(FAMILIES[family](rng))
    # judge() accepts only exit 0 (module imported cleanly, plan equal), 1 (one line) and 2
    assert outcome.problem is None, f"{outcome.problem} (exit {outcome.code}): {outcome.stderr[:500]!r}"


@FUZZ
@given(spec=st.sampled_from(sorted(SHIPPED)), description=st.one_of(st.text(), st.sampled_from(CODE)))
def test_any_description_compiles_to_a_module_that_imports_cleanly(spec, description):
    data = yaml.safe_load(SHIPPED[spec])
    data["description"] = description
    next(iter(data["sets"].values()))["description"] = description
    outcome = judged(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert (outcome.code, outcome.problem) == (0, None), outcome.stderr[:500]


@pytest.mark.parametrize("payload", ["open('x.txt', 'w').write('x')", "print('hi')",
                                     "open(__file__ + '.bak', 'w').close()", "PLAN = None"])
def test_the_judge_notices_a_module_with_side_effects_or_another_plan(tmp_path, payload):
    from fuzz_strategies import ROOT, _check_module

    out = tmp_path / "out"
    out.mkdir()
    (out / "m.py").write_text(f"{payload}\nPLAN = None\n")
    problem = _check_module(ROOT / "specs" / "comp_jt.yaml", out)
    assert problem == ("PLAN differs from the compilation" if payload == "PLAN = None" else "side effects on import")
