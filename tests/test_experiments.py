"""experiments/run.py: an experiment file trains its runs, evaluates each once, records and plots them."""

import importlib.util
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _runner():
    spec = importlib.util.spec_from_file_location("experiments_run", ROOT / "experiments" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the annotations through it
    spec.loader.exec_module(module)
    return module


def test_an_experiment_trains_evaluates_records_and_plots(tmp_path):
    experiment = {
        "description": "tiny MCMU",
        "defaults": {"train": {"spec": str(ROOT / "specs" / "mcmu_power_allocation.yaml"), "arch": "vertex",
                               "sizes": {"M": 2, "K": 3}, "train_samples": 8, "val_samples": 4, "batch": 4,
                               "epochs": 1},
                     "evaluate": {"samples": 4, "reference_options": {"starts": 0, "iters": 20}}},
        "runs": [{"name": "a", "series": "vertex", "seeds": [0, 1], "evaluate": {"sweep": ["K", [2]]}},
                 {"name": "b", "series": "vertex", "train": {"train_samples": 16}}],
        "plot": {"x": "K", "y": "ratio"},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(experiment))
    runner = _runner()
    argv = [str(path), "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]
    assert runner.main(argv) == 0
    record = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert [r["run"] for r in record["runs"]] == ["a_s0", "a_s1", "b_s0"]
    assert record["command"] == f"python experiments/run.py {path}" and record["machine"]["torch"]
    a0 = record["runs"][0]
    assert [row["sizes"]["K"] for row in a0["result"]["rows"]] == [3, 2]
    assert a0["config"]["seed"] == 0 and record["runs"][1]["config"]["seed"] == 1
    assert record["runs"][2]["config"]["train_samples"] == 16
    assert all(r["series"] == "vertex" for r in record["runs"])
    assert (tmp_path / "results" / "tiny.png").stat().st_size > 0
    assert runner.points(a0, "K", "ratio") == [(3, a0["result"]["rows"][0]["ratio"]),
                                               (2, a0["result"]["rows"][1]["ratio"])]
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("checkpoint.pt")}
    assert runner.main(argv) == 0  # recorded runs are kept, finished ones not trained again
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert json.loads((tmp_path / "results" / "tiny.json").read_text())["runs"] == record["runs"]


def test_checkpoint_best_scores_the_state_with_the_best_validation_objective(tmp_path, monkeypatch):
    runner = _runner()
    scored = []
    monkeypatch.setattr(runner, "evaluate", lambda path, **keywords: scored.append((path, keywords)) or {"rows": []})
    monkeypatch.setattr(runner, "finished", lambda config: False)
    monkeypatch.setattr(runner, "train", lambda config, **kwargs: [])
    config = runner.TrainConfig(spec=str(ROOT / "specs" / "mcmu_power_allocation.yaml"), problem="mcmu_power_allocation",
                                out=str(tmp_path / "r"))
    best = runner.run_one("r_s0", "r", config, {"samples": 4, "checkpoint": "best"})
    runner.run_one("r_s0", "r", config, {"samples": 4})
    assert scored == [(str(tmp_path / "r" / "best.pt"), {"samples": 4}),
                      (str(tmp_path / "r" / "checkpoint.pt"), {"samples": 4})]
    assert best["evaluate"] == {"samples": 4, "checkpoint": "best"}  # recorded as given: a rerun reuses it


def test_every_committed_result_is_the_record_of_its_experiment_file(monkeypatch):
    """experiments/results/<name>.json holds one record per run and seed of experiments/<name>.yaml,
    with the configuration the file gives now: rerunning the command reuses every row (none is
    stale or missing, so docs/RESULTS.md's rows are what the command writes)."""
    run = _runner()
    monkeypatch.chdir(ROOT)  # specs and run directories are named relative to the repository
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        experiment = run.Experiment.model_validate(yaml.safe_load(path.read_text()))
        results = json.loads((ROOT / "experiments" / "results" / f"{path.stem}.json").read_text())
        recorded = {r["run"]: r for r in results["runs"]}
        expected = run.configs(experiment, path.stem, Path("runs"))
        assert sorted(recorded) == sorted(label for label, *_ in expected), path.name
        for label, _, config, keywords in expected:
            assert recorded[label]["config"] == json.loads(json.dumps(config.model_dump())), (path.name, label)
            assert recorded[label]["evaluate"] == json.loads(json.dumps(keywords)), (path.name, label)
