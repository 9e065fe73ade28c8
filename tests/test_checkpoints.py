"""Checkpoints hold data, never code: a pickle payload, a truncated or foreign file ends in one
line; resume refuses another spec text, problem or objective unless told to go on anyway."""

import os
from pathlib import Path

import pytest
import torch

from designer.cli import main
from designer.problem import load
from designer.training import TrainConfig, fingerprint, load_checkpoint, train

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "mcmu_power_allocation.yaml"


class Payload:
    """Runs a command when unpickled (what torch.load(weights_only=False) would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _config(out: Path, spec: Path = SPEC, **changes) -> TrainConfig:
    base = dict(spec=str(spec), problem="mcmu_power_allocation", arch="vertex", sizes={"M": 2, "K": 2},
                model_options={"hidden": 4, "layers": 1}, train_samples=8, val_samples=4, epochs=1, batch=8,
                out=str(out))
    return TrainConfig(**{**base, **changes})


def _one_line_error(capsys, code: int = 1) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_pickle_payload_never_runs(tmp_path, capsys, command):
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"config": Payload(marker), "model": {}}, run / "checkpoint.pt")
    argv = (["evaluate", str(run)] if command == "evaluate" else
            ["train", str(SPEC), "--out", str(run), "--resume", "--samples", "8", "--epochs", "1", "--no-progress"])
    assert main(argv) == 1
    assert not marker.exists()
    assert "not a gnn-design checkpoint" in _one_line_error(capsys)


@pytest.mark.parametrize("content", [b"", b"\x00\xff" * 500, b"name: not a checkpoint\n"])
def test_foreign_files_are_one_line_errors(tmp_path, capsys, content):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    assert main(["evaluate", str(path)]) == 1
    assert str(path) in _one_line_error(capsys)


def test_a_truncated_checkpoint_is_a_one_line_error(tmp_path, capsys):
    train(_config(tmp_path / "run"), progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="checkpoint"):
        load_checkpoint(path)
    assert main(["evaluate", str(path)]) == 1
    _one_line_error(capsys)


def test_a_data_file_without_the_checkpoint_keys_is_refused(tmp_path):
    torch.save({"model": {}}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="no config, spec_text"):
        load_checkpoint(tmp_path / "x.pt")


def test_resume_refuses_an_edited_spec_unless_told_to_go_on(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.read_text())
    train(_config(tmp_path / "run", spec), progress=False)
    spec.write_text(SPEC.read_text().replace("max: 1", "max: 2"))
    assert "max: 2" in spec.read_text()
    with pytest.raises(ValueError, match="another spec text, problem or objective.*--resume-anyway"):
        train(_config(tmp_path / "run", spec, epochs=2), resume=True, progress=False)
    history = train(_config(tmp_path / "run", spec, epochs=2), resume=True, progress=False, resume_anyway=True)
    assert [h["epoch"] for h in history] == [1, 2]
    assert load_checkpoint(tmp_path / "run")["fingerprint"] == fingerprint(spec.read_text(),
                                                                           load("mcmu_power_allocation"))


def test_the_fingerprint_follows_spec_text_problem_and_objective():
    text = SPEC.read_text()
    mcmu, ibc = load("mcmu_power_allocation"), load("ibc_power_allocation")
    assert fingerprint(text, mcmu) == fingerprint(text, mcmu)
    assert len({fingerprint(text, mcmu), fingerprint(text + " ", mcmu), fingerprint(text, ibc)}) == 3


def test_resume_anyway_from_the_command_line(tmp_path, capsys):
    spec = tmp_path / "mcmu_power_allocation.yaml"
    spec.write_text(SPEC.read_text())
    argv = ["train", str(spec), "--arch", "vertex", "--size", "M=2", "--size", "K=2", "--samples", "8",
            "--val-samples", "4", "--batch", "8", "--model-option", "hidden=4", "--model-option", "layers=1",
            "--out", str(tmp_path / "run"), "--no-progress"]
    assert main(argv + ["--epochs", "1"]) == 0
    spec.write_text(SPEC.read_text() + "\n# edited\n")
    capsys.readouterr()
    assert main(argv + ["--epochs", "2", "--resume"]) == 1
    assert "--resume-anyway" in _one_line_error(capsys)
    assert main(argv + ["--epochs", "2", "--resume-anyway"]) == 0
    assert load_checkpoint(tmp_path / "run")["epoch"] == 2


def test_a_checkpoint_loads_with_the_runtime_alone(tmp_path, monkeypatch):
    """The checkpoint stores the plan: evaluating needs neither the spec file nor the compiler."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.read_text())
    train(_config(tmp_path / "run", spec), progress=False)
    spec.unlink()

    def no_compiler(*args, **kwargs):
        raise AssertionError("the compiler ran")

    monkeypatch.setattr("designer.compiler.compile_file", no_compiler)
    monkeypatch.setattr("designer.compiler.compile_spec", no_compiler)
    monkeypatch.setattr("designer.builder.compile_spec", no_compiler)
    from designer.evaluation import evaluate, load_model

    model, _ = load_model(tmp_path / "run")
    assert model.plan.name == "mcmu_power_allocation"
    assert evaluate(str(tmp_path / "run"), samples=4)["rows"][0]["model_objective"] > 0


@pytest.mark.parametrize("spec", sorted(p.stem for p in (ROOT / "specs").glob("*.yaml")))
def test_every_plan_survives_a_data_only_checkpoint(tmp_path, spec):
    from designer.compiler import compile_file
    from designer.emit import plan_from_compilation
    from designer.runtime.plan import plan_data, plan_from_data

    plan = plan_from_compilation(compile_file(ROOT / "specs" / f"{spec}.yaml"))
    torch.save({"plan": plan_data(plan)}, tmp_path / "plan.pt")
    assert plan_from_data(torch.load(tmp_path / "plan.pt", weights_only=True)["plan"]) == plan
