"""The problem contract: a problem written outside the package, in a file of its own, trains and
evaluates through the command line (sampler or data file); problems are found by reference."""

import importlib.metadata
import json
import textwrap
from pathlib import Path

import numpy
import pytest
import torch

from designer.cli import main
from designer.problem import ENTRY_POINT_GROUP, ProblemError, configured, load, registered
from designer.training import load_checkpoint
from designer.wireless.problems import SHIPPED

# A researcher's own problem: K transmitters share a channel; maximise the minimum rate (not a sum).
PROBLEM = textwrap.dedent('''
    import torch
    from pydantic import BaseModel


    class Scenario(BaseModel):
        spread: float = 1.0


    class MaxMinPower:
        objective_name, unit = "minimum rate", "bits/s/Hz"
        Scenario = Scenario

        def sample(self, batch, *, sizes, generator, device, dtype, scenario):
            K = sizes["K"]
            gain = torch.rand(batch, K, K, generator=generator, dtype=torch.float64) * scenario.spread
            gain = gain + torch.eye(K, dtype=torch.float64) * 4
            return {"g": gain.to(device, dtype), "budget": torch.full((batch, K), 2.0, dtype=dtype, device=device)}

        def objective(self, features, actions):
            g, p = features["g"], actions["p"]
            received = g * p[:, :, None]  # transmitter k -> receiver j
            own = torch.diagonal(received, dim1=1, dim2=2)
            return torch.log2(1 + own / (received.sum(1) - own + 1)).min(dim=1).values

        def reference(self, features, *, sizes=None):
            return {"p": features["budget"]}


    problem = MaxMinPower()
''')
SPEC = textwrap.dedent('''
    name: max_min_power
    problem: maxmin.py:problem
    sets:
      link: {size: K}
    tensors:
      g: {role: feature, dims: [link, link]}
      budget: {role: feature, dims: [link]}
      p: {role: action, dims: [link]}
    constraints:
      - {kind: nonnegative, tensor: p}
      - {kind: power_budget, tensor: p, per: link, max: budget}
    check_sizes: {K: 3}
''')
TINY = ["--arch", "vertex", "--model-option", "hidden=6", "--model-option", "layers=1", "--batch", "16",
        "--epochs", "2", "--no-progress"]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "maxmin.py").write_text(PROBLEM)
    (tmp_path / "max_min_power.yaml").write_text(SPEC)
    return tmp_path


def test_a_problem_in_a_file_of_its_own_trains_and_evaluates(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    run = ["train", "max_min_power.yaml", "--samples", "32", "--val-samples", "8", "--out", "run", *TINY]
    assert main(run + ["--scenario", "spread=0.5"]) == 0
    assert "validation minimum rate (bits/s/Hz)" in capsys.readouterr().out
    config = load_checkpoint(project / "run")["config"]
    assert config["problem"] == f"{project / 'maxmin.py'}:problem" and config["scenario"] == {"spread": 0.5}
    assert main(["evaluate", "run", "--samples", "16", "--size", "K=5", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["objective"] == "minimum rate (bits/s/Hz)" and [r["sizes"]["K"] for r in result["rows"]] == [3, 5]
    assert all(r["ratio"] > 0 for r in result["rows"])


def test_the_problem_on_the_command_line_wins_over_the_spec(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    (project / "other.yaml").write_text(SPEC.replace("problem: maxmin.py:problem\n", ""))
    argv = ["train", "other.yaml", "--samples", "16", "--val-samples", "8", "--out", "run", *TINY]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "names no problem" in err and "--problem" in err
    assert main(argv + ["--problem", "maxmin.py:MaxMinPower"]) == 0  # a class is instantiated


def test_training_and_evaluation_from_data_files(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    g = torch.rand(40, 3, 3, dtype=torch.float64) + 4 * torch.eye(3, dtype=torch.float64)
    torch.save({"g": g, "budget": torch.full((40, 3), 2.0, dtype=torch.float64)}, project / "mine.pt")
    numpy.savez(project / "mine.npz", g=g[:12].numpy(), budget=numpy.full((12, 3), 2.0))
    assert main(["train", "max_min_power.yaml", "--data", "mine.pt", "--val-samples", "8", "--out", "run", *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", "run", "--data", "mine.npz", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 12 and result["rows"][0]["sizes"] == {"K": 3}


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("budget"), "missing input budget"),
    (lambda d: d.update(g=d["g"][:, :2]), "g: expected a real tensor of shape (batch, K, K)"),
    (lambda d: d["g"].__setitem__((5, 0, 0), float("nan")), "g: sample 5 holds non-finite values"),
    (lambda d: d.update(extra=d["budget"]), "unexpected input 'extra'"),
])
def test_a_data_file_is_checked_against_the_spec(project, capsys, monkeypatch, change, message):
    monkeypatch.chdir(project)
    data = {"g": torch.rand(16, 3, 3) + 4 * torch.eye(3), "budget": torch.full((16, 3), 2.0)}
    change(data)
    torch.save(data, project / "bad.pt")
    assert main(["train", "max_min_power.yaml", "--data", "bad.pt", "--val-samples", "4", "--out", "r", *TINY]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.pt" in err and message in err


def test_a_sampler_that_breaks_the_spec_is_named(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    wrong = PROBLEM.replace('"budget": torch.full((batch, K)', '"budget": torch.full((batch, K + 1)')
    (project / "maxmin.py").write_text(wrong)
    assert main(["train", "max_min_power.yaml", "--samples", "16", "--val-samples", "8", "--out", "r", *TINY]) == 1
    err = capsys.readouterr().err
    assert "sample()" in err and "budget: expected a real tensor of shape (batch, K)" in err


@pytest.mark.parametrize("reference, message", [
    ("nowhere.py:problem", "no problem file"),
    ("maxmin.py:missing", "has no attribute 'missing'"),
    ("json:dumps", "is not a problem: it has no sample() method"),
    ("no_such_module_xyz:problem", "cannot import problem module"),
    ("not_registered", "unknown problem 'not_registered'"),
])
def test_unresolvable_problems_are_one_line_errors(project, monkeypatch, reference, message):
    monkeypatch.chdir(project)
    with pytest.raises(ProblemError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(reference)


def test_scenario_and_options_are_typed(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    argv = ["train", "max_min_power.yaml", "--samples", "16", "--val-samples", "8", "--out", "r", *TINY]
    assert main(argv + ["--scenario", "spread=wide"]) == 1
    assert "scenario option spread" in capsys.readouterr().err
    assert main(argv + ["--scenario", "colour=1"]) == 1
    assert "'colour' is not a parameter" in capsys.readouterr().err
    assert main(argv + ["--problem-option", "x=1"]) == 1
    assert "takes no problem option" in capsys.readouterr().err
    refined = configured(load("ic_beamforming_refined"), {"inner_iterations": 8})
    assert "8 WMMSE iterations" in refined.source
    with pytest.raises(ProblemError, match="inner_iterations"):
        configured(load("ic_beamforming_refined"), {"inner_iterations": 0})


def test_the_shipped_problems_are_registered_as_entry_points():
    entry_points = {e.name: e.value for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert entry_points == {name: f"designer.wireless.problems.{name}:problem" for name in SHIPPED}
    assert all(registered()[name].load() is problem for name, problem in SHIPPED.items())


def test_every_shipped_spec_names_a_registered_problem():
    from designer.spec import load_spec

    root = Path(__file__).resolve().parent.parent
    for spec in sorted((root / "specs").glob("*.yaml")):
        assert load_spec(spec).problem in SHIPPED, spec


def test_subclassing_problem_gives_the_optional_parts_at_their_defaults(tmp_path):
    from designer.problem import Problem, label, part

    class Mine(Problem):
        objective_name, unit = "energy efficiency", "bits/J"

        def sample(self, batch, *, sizes, generator, device, dtype, scenario):
            return {}

        def objective(self, features, actions):
            return torch.zeros(1)

    mine = Mine()
    assert part(mine, "reference") is None and part(mine, "alternatives") == {} and part(mine, "Scenario") is None
    assert label(mine) == "energy efficiency (bits/J)" and label(object()) == "objective"
    with pytest.raises(ProblemError, match="takes no scenario option"):
        from designer.training import scenario_of
        scenario_of(mine, {"x": 1})
