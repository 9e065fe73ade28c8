"""`train` / `evaluate`: deterministic, atomic checkpoints, resume, DDP (gloo), sweeps."""

import dataclasses
import functools
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import designer
from designer.cli import main
from designer.evaluation import MODEL_PASSES, _timed, evaluate, load_model, plot_sweep
from designer import training
from designer.problem import configured, load
from designer.training import (TrainConfig, batched_objective, epoch_seed, initial_model, load_checkpoint, lr_at,
                               run_samples, sample, scenario_of, train)

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "mcmu_power_allocation.yaml")
TINY = {"hidden": 8, "layers": 1}


def config(tmp_path, **changes):
    base = dict(spec=SPEC, problem="mcmu_power_allocation", arch="vertex", sizes={"M": 2, "K": 3},
                model_options=TINY, train_samples=32, val_samples=16, epochs=2, batch=16, seed=3,
                out=str(tmp_path / "run"))
    return TrainConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def mcmu_run(tmp_path_factory) -> str:
    """The run directory of ``config()`` unchanged, trained once for the tests that only read it."""
    out = tmp_path_factory.mktemp("mcmu")
    train(config(out), progress=False)
    return str(out / "run")


@pytest.fixture(scope="module")
def structured_run(tmp_path_factory) -> TrainConfig:
    """A structured IC run (beams in the form of WMMSE's update), trained once for the tests that only read it."""
    run = config(tmp_path_factory.mktemp("structured"), spec=str(ROOT / "specs" / "ic_beamforming_structured.yaml"),
                 problem="ic_beamforming_structured", arch="vertex_edge", sizes={"K": 3, "N": 2})
    train(run, progress=False)
    return run


def test_train_writes_checkpoint_and_metrics(tmp_path):
    history = train(config(tmp_path), progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    state = load_checkpoint(tmp_path / "run")
    assert state["epoch"] == 2 and "cell" in state["spec_text"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == history
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_init_seed_sets_the_initial_weights_alone(tmp_path):
    def weights(**changes):
        return initial_model(config(tmp_path, **changes), load("mcmu_power_allocation")).state_dict()

    def same(a, b):
        return all(torch.equal(a[k], b[k]) for k in a)

    assert same(weights(seed=0, init_seed=5), weights(seed=5))  # the data seed does not enter
    assert same(weights(seed=0, init_seed=5), weights(seed=9, init_seed=5))
    assert not same(weights(seed=0, init_seed=5), weights(seed=0))


@pytest.mark.parametrize("fresh", [False, True])
def test_training_is_deterministic_and_resume_equals_an_uninterrupted_run(tmp_path, fresh):
    straight = train(config(tmp_path / "a", epochs=3, fresh=fresh), progress=False)
    train(config(tmp_path / "b", epochs=1, fresh=fresh), progress=False)
    resumed = train(config(tmp_path / "b", epochs=3, fresh=fresh, backend="gloo"), resume=True, progress=False)
    assert [h["val_objective"] for h in resumed] == [h["val_objective"] for h in straight]
    a, b = load_checkpoint(tmp_path / "a" / "run"), load_checkpoint(tmp_path / "b" / "run")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_fresh_training_draws_a_new_set_every_epoch(tmp_path, monkeypatch):
    seeds = []
    real = training.sample
    monkeypatch.setattr(training, "sample", lambda problem, n, sizes, seed, *rest: seeds.append(seed) or
                        real(problem, n, sizes, seed, *rest))
    fresh = config(tmp_path / "a", epochs=3, fresh=True)
    train(fresh, progress=False)
    assert seeds == [fresh.seed + 1_000_003] + [epoch_seed(fresh, e) for e in range(3)]
    assert len(set(seeds)) == 4 and fresh.seed not in seeds
    seeds.clear()
    fixed = train(config(tmp_path / "b", epochs=3), progress=False)
    assert seeds == [fresh.seed + 1_000_003, fresh.seed]
    assert [h["train_objective"] for h in fixed] != [h["train_objective"] for h in train(fresh, progress=False)]


def test_imitation_warm_start_then_sum_rate(tmp_path, monkeypatch):
    problem = load("hybrid_precoding_miso")
    imitated = []

    def counting(features, actions, target):
        imitated.append(features["H"].shape[0])
        return problem.imitation(features, actions, target)

    monkeypatch.setattr(training, "load_problem", lambda config: dataclasses.replace(problem, imitation=counting))
    hybrid = hybrid_config(tmp_path, epochs=3, imitate_epochs=2)
    history = train(hybrid, progress=False)
    assert [h["loss"] for h in history] == ["imitation", "imitation", "objective"]
    assert all(0 <= h["train_loss"] <= 1 for h in history[:2])  # the misalignment, a squared sine
    assert history[2]["train_loss"] == pytest.approx(-history[2]["train_objective"], rel=1e-5)
    assert sum(imitated) == 2 * hybrid.train_samples  # every sample, in each imitation epoch only


def test_a_loss_that_turns_nan_stops_training_before_the_checkpoint(tmp_path, monkeypatch, capsys):
    """Epoch 2's loss is nan: the run stops with a clear error (CLI: exit 1, no traceback) and
    checkpoint.pt still holds epoch 1, so --resume can go on from it."""
    problem = load("mcmu_power_allocation")
    calls = []

    def turns_nan(features, actions):
        calls.append(1)
        rate = problem.objective(features, actions)
        return rate * float("nan") if len(calls) > 2 else rate  # 2 training batches per epoch

    monkeypatch.setattr(training, "load_problem", lambda config: dataclasses.replace(problem, objective=turns_nan))
    run = config(tmp_path, epochs=3, val_every=5)
    with pytest.raises(FloatingPointError,
                       match="epoch 2: the training loss is not finite.*checkpoint.pt holds epoch 1"):
        train(run, progress=False)
    assert load_checkpoint(tmp_path / "run")["epoch"] == 1
    calls.clear()
    argv = ["train", SPEC, "--problem", "mcmu_power_allocation", "--arch", "vertex", "--size", "M=2", "--size", "K=3",
            "--samples", "32", "--val-samples", "16", "--epochs", "1", "--batch", "16", "--no-progress",
            "--out", str(tmp_path / "cli")] + [a for k, v in TINY.items() for a in ("--model-option", f"{k}={v}")]
    calls.extend([1, 1])  # nan from the first batch
    assert main(argv) == 1
    assert "epoch 1: the training loss is not finite; stopped without saving this epoch (no checkpoint written)" \
        in capsys.readouterr().err


def test_imitation_needs_a_problem_that_defines_it(tmp_path):
    with pytest.raises(ValueError, match="defines no imitation loss"):
        train(config(tmp_path, imitate_epochs=1), progress=False)


def hybrid_config(tmp_path, **changes):
    return config(tmp_path, spec=str(ROOT / "specs" / "hybrid_precoding_miso.yaml"), problem="hybrid_precoding_miso",
                  arch="edge", sizes={"N_RF": 3, "N_t": 3, "K": 2}, **changes)


def test_augmentation_transforms_every_batch_deterministically(tmp_path, monkeypatch):
    problem = load("hybrid_precoding_miso")
    seen = []

    def recording(features, generator):
        seen.append(features["H"].shape[0])
        return problem.augment(features, generator)

    monkeypatch.setattr(training, "load_problem", lambda config: dataclasses.replace(problem, augment=recording))
    augmented = hybrid_config(tmp_path / "a", epochs=3, augment=True)
    straight = train(augmented, progress=False)
    assert sum(seen) == 3 * augmented.train_samples
    train(hybrid_config(tmp_path / "b", epochs=1, augment=True), progress=False)
    resumed = train(hybrid_config(tmp_path / "b", epochs=3, augment=True), resume=True, progress=False)
    assert [h["train_objective"] for h in resumed] == [h["train_objective"] for h in straight]
    plain = train(hybrid_config(tmp_path / "c", epochs=3), progress=False)
    assert [h["train_objective"] for h in plain] != [h["train_objective"] for h in straight]


def test_augmentation_needs_a_problem_that_defines_it(tmp_path):
    with pytest.raises(ValueError, match="defines no augmentation"):
        train(config(tmp_path, augment=True), progress=False)


def test_best_checkpoint_holds_the_best_validation(tmp_path):
    history = train(config(tmp_path, epochs=6, lr=0.05), progress=False)
    vals = [h["val_objective"] for h in history]
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["epoch"] == 1 + vals.index(max(vals)) and best["history"][-1]["val_objective"] == max(vals)
    result = evaluate(str(tmp_path / "run" / "best.pt"), samples=16, seed=3 + 1_000_003)
    assert result["rows"][0]["model_objective"] == pytest.approx(max(vals), rel=1e-5)


def test_gradients_are_clipped_to_the_norm_asked(tmp_path, monkeypatch):
    norms = []
    clip = torch.nn.utils.clip_grad_norm_

    def recording(params, max_norm):
        params = list(params)
        total = clip(params, max_norm)
        after = torch.stack([p.grad.norm() for p in params if p.grad is not None]).norm()
        norms.append((float(total), float(after)))
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording)
    train(config(tmp_path / "a", epochs=1), progress=False)
    assert norms == []  # off by default
    train(config(tmp_path / "b", epochs=1, clip_grad=1e-3), progress=False)
    assert len(norms) == 2 and all(before > 1e-3 and after == pytest.approx(1e-3, rel=1e-4) for before, after in norms)


@pytest.mark.parametrize("optimizer, kind", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                             ("rmsprop", torch.optim.RMSprop)])
def test_weight_decay_reaches_the_optimizer(tmp_path, optimizer, kind):
    opt = training._optimizer(config(tmp_path, optimizer=optimizer, weight_decay=0.01), [torch.zeros(1)])
    assert type(opt) is kind and opt.param_groups[0]["weight_decay"] == 0.01
    decayed = train(config(tmp_path / "a", optimizer=optimizer, weight_decay=0.5), progress=False)
    assert decayed != train(config(tmp_path / "b", optimizer=optimizer), progress=False)


def test_resume_refuses_other_options(tmp_path):
    train(config(tmp_path, epochs=1), progress=False)
    with pytest.raises(ValueError, match="different options.*lr"):
        train(config(tmp_path, epochs=2, lr=0.5), resume=True, progress=False)


def test_cosine_schedule_anneals_to_a_hundredth(tmp_path):
    cosine = config(tmp_path / "a", epochs=4, lr=0.01, lr_schedule="cosine")
    assert [lr_at(cosine, e) for e in (0, 2)] == pytest.approx([0.01, 0.00505])
    assert lr_at(cosine, 4) == pytest.approx(1e-4) and lr_at(config(tmp_path, lr=0.01), 3) == 0.01
    straight = train(cosine, progress=False)
    assert [h["lr"] for h in straight] == pytest.approx([lr_at(cosine, e) for e in range(4)])
    with pytest.raises(ValueError, match="lr_schedule"):
        config(tmp_path, lr_schedule="step")


def test_checkpoints_older_than_an_option_resume_with_its_default(tmp_path):
    train(config(tmp_path, epochs=1), progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    del state["config"]["lr_schedule"]
    torch.save(state, path)
    assert [h["epoch"] for h in train(config(tmp_path, epochs=2), resume=True, progress=False)] == [1, 2]


def test_evaluate_at_training_and_other_sizes(mcmu_run):
    result = evaluate(mcmu_run, [{"K": 4}], samples=8)
    assert [r["sizes"] for r in result["rows"]] == [{"M": 2, "K": 3}, {"M": 2, "K": 4}]
    for row in result["rows"]:
        assert row["model_objective"] > 0 and row["reference_objective"] > 0
        assert row["ratio"] == pytest.approx(row["model_objective"] / row["reference_objective"])
        assert row["model_ms_per_sample"] > 0 and row["reference_ms_per_sample"] > 0
    assert "threads" in result["device_name"]


def test_scenario_options_reach_training_and_evaluation(tmp_path, monkeypatch):
    """``scenario`` keywords shape the training and validation sets, are the evaluation's
    default, and are replaced by the evaluation's own."""
    drawn = []
    real = training.sample
    monkeypatch.setattr(training, "sample", lambda *a, **k: drawn.append(a[5].noise_dbm) or real(*a, **k))
    train(config(tmp_path, scenario={"noise_dbm": -85}), progress=False)
    assert drawn == [-85] * 2
    monkeypatch.undo()
    noisy = evaluate(str(tmp_path / "run"), samples=6)["rows"][0]
    quiet = evaluate(str(tmp_path / "run"), samples=6, scenario={"noise_dbm": -110})["rows"][0]
    assert (noisy["scenario"], quiet["scenario"]) == ({"noise_dbm": -85}, {"noise_dbm": -110})
    problem = load("mcmu_power_allocation")
    features = sample(problem, 6, {"M": 2, "K": 3}, 12345, "cpu", scenario_of(problem, {"noise_dbm": -85}))
    assert noisy["reference_objective"] == pytest.approx(
        problem.objective(features, problem.reference(features)).mean().item(), rel=1e-6)
    assert quiet["reference_objective"] > noisy["reference_objective"]
    with pytest.raises(ValueError, match="'colour' is not a parameter"):
        evaluate(str(tmp_path / "run"), samples=6, scenario={"colour": 1})


def test_evaluate_sweeps_a_scenario_keyword_or_a_size(tmp_path):
    """A swept scenario keyword replaces the run's in its rows only (the rows equal one
    evaluation per value); a swept size takes positive integers; a bad value fails before any row."""
    train(config(tmp_path, scenario={"noise_dbm": -85}), progress=False)
    result = evaluate(str(tmp_path / "run"), samples=6, sweep=("noise_dbm", [-110, -90]))
    swept = result["rows"]
    assert [r["scenario"] for r in swept] == [{"noise_dbm": -85}, {"noise_dbm": -110}, {"noise_dbm": -90}]
    alone = evaluate(str(tmp_path / "run"), samples=6, scenario={"noise_dbm": -110})["rows"][0]
    assert swept[1]["reference_objective"] == alone["reference_objective"]
    assert swept[1]["model_objective"] == alone["model_objective"]
    plot_sweep(result, "noise_dbm", str(tmp_path / "noise.png"))
    assert (tmp_path / "noise.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no row sets p_max_dbm to a number"):
        plot_sweep(result, "p_max_dbm", str(tmp_path / "none.png"))
    sizes = evaluate(str(tmp_path / "run"), samples=6, sweep=("K", [4]))["rows"]
    assert [(r["sizes"], r["scenario"]) for r in sizes] == [({"M": 2, "K": 3}, {"noise_dbm": -85}),
                                                            ({"M": 2, "K": 4}, {"noise_dbm": -85})]
    with pytest.raises(ValueError, match="sweep K: K is a size, its values must be positive integers, got 2.5"):
        evaluate(str(tmp_path / "run"), samples=6, sweep=("K", [3, 2.5]))
    with pytest.raises(ValueError, match="scenario option noise_dbm='loud': Input should be a valid number"):
        evaluate(str(tmp_path / "run"), samples=6, sweep=("noise_dbm", [-90, "loud"]))


def test_evaluate_solves_the_reference_in_pieces(mcmu_run):
    # WMMSE stops each sample at its own convergence: from one start, pieces reach what the
    # whole batch reaches (random starts are drawn per piece, so with them pieces may differ)
    whole = evaluate(mcmu_run, samples=6, reference_options={"starts": 0})
    one_by_one = evaluate(mcmu_run, samples=6, reference_batch=1, reference_options={"starts": 0})
    assert (whole["reference_batch"], one_by_one["reference_batch"]) == (6, 1)
    assert one_by_one["rows"][0]["reference_objective"] == pytest.approx(whole["rows"][0]["reference_objective"],
                                                                        rel=1e-9)
    assert one_by_one["rows"][0]["model_objective"] == whole["rows"][0]["model_objective"]


def test_evaluate_passes_options_to_the_reference(mcmu_run, capsys):
    default = evaluate(mcmu_run, samples=6)
    one_step = evaluate(mcmu_run, samples=6, reference_options={"iters": 1})
    assert one_step["reference_options"] == {"iters": 1} and default["reference_options"] == {}
    problem = load("mcmu_power_allocation")
    features = sample(problem, 6, {"M": 2, "K": 3}, 12345, "cpu", problem.Scenario())
    expected = problem.objective(features, problem.reference(features, iters=1)).mean().item()
    assert one_step["rows"][0]["reference_objective"] == pytest.approx(expected, rel=1e-6)
    assert one_step["rows"][0]["reference_objective"] < default["rows"][0]["reference_objective"]
    assert one_step["rows"][0]["model_objective"] == default["rows"][0]["model_objective"]
    assert main(["evaluate", mcmu_run, "--samples", "4", "--reference-option", "colour=red"]) == 1
    err = capsys.readouterr().err
    assert "reference option not accepted" in err and "'colour'" in err


def test_evaluate_times_the_decoded_beams_of_a_structured_model(structured_run, monkeypatch):
    """A problem whose actions parametrise beams (its ``decode``) is timed up to the beams."""
    run = structured_run
    problem = load("ic_beamforming_structured")
    calls = []

    def decode(features, actions):
        calls.append(features["H"].shape[0])
        return problem.decode(features, actions)

    monkeypatch.setattr("designer.evaluation.load_problem", lambda config: dataclasses.replace(problem, decode=decode))
    result = evaluate(run.out, samples=5, batch=2)
    assert calls == [2, 1] + [2, 2, 1] * MODEL_PASSES  # the warm-up (one piece of each size), then the passes
    assert result["rows"][0]["model_objective"] > 0


def test_timed_reports_the_median_pass(monkeypatch):
    clock = [0.0]
    durations = iter([5.0, 0.5, 3.0, 1.0, 2.0])

    def run():
        clock[0] += next(durations)
        return clock[0]

    monkeypatch.setattr("designer.evaluation.time.perf_counter", lambda: clock[0])
    warmed = []
    value, seconds = _timed(run, "cpu", warm_up=lambda: warmed.append(True), passes=5)
    assert seconds == 2.0 and value == 11.5 and warmed == [True]  # median of 5, 0.5, 3, 1, 2; the last value


def test_evaluate_refines_the_model_with_the_reference(structured_run, mcmu_run, capsys):
    """``refine=T``: exactly T WMMSE iterations from the model's (decoded) beams — the structured
    reference's closing update counted among them; WMMSE never lowers the sum rate of its start,
    so the refined rate is at least the model's."""
    run = structured_run
    result = evaluate(run.out, samples=5, batch=2, refine=2)
    refined = result["rows"][0]["refined"]
    problem = load("ic_beamforming_structured")
    features = sample(problem, 5, {"K": 3, "N": 2}, 12345, "cpu", problem.Scenario())
    model, _ = load_model(run.out)
    with torch.no_grad():
        start = problem.warm_start(features, problem.decode(features, model(**features)))
    beams = load("ic_beamforming_edge")
    expected = beams.objective(features, beams.reference_steps(features, init=start, iters=2))
    assert refined["iterations"] == 2 and result["refine"] == 2
    assert refined["objective"] == pytest.approx(expected.mean().item(), rel=1e-5)
    assert refined["objective"] >= result["rows"][0]["model_objective"] * (1 - 1e-5)
    assert refined["ms_per_sample"] > 0 and refined["speedup"] > 0
    assert main(["evaluate", run.out, "--samples", "3", "--refine", "1"]) == 0
    assert "model + 1 reference iterations" in capsys.readouterr().out
    with pytest.raises(ValueError, match="refine must be a number of iterations"):
        evaluate(run.out, samples=2, refine=-1)
    with pytest.raises(ValueError, match="cannot start its reference from a model's output"):
        evaluate(mcmu_run, samples=2, refine=1)


def test_evaluate_scores_the_model_as_another_problem(structured_run, capsys):
    """``problem=`` / ``problem_options=``: a structured model scored as the refined problem with
    four WMMSE iterations inside (the same network, iterations after it) — its rows are that
    problem's sum rate of the model's actions; a problem whose samples do not fit the model's
    features is refused, naming the tensor."""
    run = structured_run
    fixed = {"iters": 20, "tol": 0, "starts": 0}  # both references score WMMSE's 21st iterate
    result = evaluate(run.out, samples=5, batch=2, problem="ic_beamforming_refined",
                      problem_options={"inner_iterations": 4}, reference_options=fixed)
    assert (result["problem_reference"], result["trained_problem"]) == ("ic_beamforming_refined",
                                                                       "ic_beamforming_structured")
    assert result["problem_options"] == {"inner_iterations": 4}
    refined = configured(load("ic_beamforming_refined"), {"inner_iterations": 4})
    features = sample(refined, 5, {"K": 3, "N": 2}, 12345, "cpu", refined.Scenario())
    model, _ = load_model(run.out)
    with torch.no_grad():
        expected = refined.objective(features, model(**features)).mean().item()
    assert result["rows"][0]["model_objective"] == pytest.approx(expected, rel=1e-5)
    plain = evaluate(run.out, samples=5, batch=2, reference_options=fixed)
    assert plain["trained_problem"] == plain["problem_reference"] == "ic_beamforming_structured"
    assert result["rows"][0]["model_objective"] > plain["rows"][0]["model_objective"]  # WMMSE is monotone
    assert result["rows"][0]["reference_objective"] == pytest.approx(plain["rows"][0]["reference_objective"], rel=1e-5)
    assert main(["evaluate", run.out, "--samples", "3", "--problem", "ic_beamforming_refined",
                 "--problem-option", "inner_iterations=2"]) == 0
    assert "trained as ic_beamforming_structured" in capsys.readouterr().out
    assert main(["evaluate", run.out, "--samples", "2", "--problem", "mcmu_power_allocation"]) == 1
    assert "sample(): missing input p_max" in capsys.readouterr().err
    assert main(["evaluate", run.out, "--samples", "2", "--problem-option", "inner_iterations=2"]) == 1
    assert "takes no problem option" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cannot start its reference from a model's output"):
        evaluate(run.out, samples=2, problem="ic_beamforming_refined", refine=3)


@pytest.mark.slow  # torch.compile: tens of seconds of inductor compilation
@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("clang++")),
                    reason="torch.compile on the CPU needs a C++ compiler")
def test_evaluate_with_a_compiled_model_scores_the_same(mcmu_run):
    eager = evaluate(mcmu_run, [{"K": 4}], samples=4, batch=4)
    fast = evaluate(mcmu_run, [{"K": 4}], samples=4, batch=4, compile_mode="default")
    assert (eager["compile_mode"], fast["compile_mode"]) == (None, "default")
    for slow_row, fast_row in zip(eager["rows"], fast["rows"], strict=True):
        assert fast_row["model_objective"] == pytest.approx(slow_row["model_objective"], rel=1e-5)
    with pytest.raises(ValueError, match="compile mode must be one of"):
        evaluate(mcmu_run, samples=2, compile_mode="fastest")


def test_cli_train_evaluate_and_plot(tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert main(["train", SPEC, "--arch", "vertex", "--size", "M=2", "--size", "K=2", "--samples", "16",
                 "--val-samples", "8", "--epochs", "1", "--batch", "8", "--out", out, "--no-progress",
                 "--model-option", "hidden=8", "--model-option", "layers=1"]) == 0
    assert "validation sum rate (bits/s/Hz)" in capsys.readouterr().out
    plot = tmp_path / "sweep.png"
    assert main(["evaluate", out, "--sweep", "K=2,3", "--samples", "4", "--format", "json", "--plot", str(plot)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["rows"]) == 3 and plot.stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["train", SPEC, "--problem", "nope"], "unknown problem 'nope'"),
    (["train", "missing.yaml"], "cannot read spec"),
    (["evaluate", "no-such-run"], "no checkpoint"),
    (["evaluate", "x", "--sweep", "K"], "expected KEY=V1,V2"),
    (["evaluate", "x", "--sweep", "K=2,,3"], "expected KEY=V1,V2"),
    (["train", SPEC, "--samples", "0"], "--samples: Input should be greater than 0"),
    (["train", SPEC, "--batch", "-2"], "--batch: Input should be greater than 0"),
    (["train", SPEC, "--clip-grad", "-1"], "--clip-grad: Input should be greater than or equal to 0"),
    (["train", SPEC, "--lr", "0"], "--lr: Input should be greater than 0"),
    (["evaluate", "x", "--batch", "0"], "batch must be a positive integer, got 0"),
    (["evaluate", "x", "--reference-batch", "0"], "reference_batch must be a positive integer, got 0"),
    (["train", SPEC, "--scenario", "colour=red"],
     "scenario option 'colour' is not a parameter of problem 'mcmu_power_allocation'"),
    (["train", SPEC, "--scenario", "K=3"], "scenario option 'K' is a size of the spec: give it as --size K=N"),
    (["train", SPEC, "--scenario", "noise_dbm=-99:-89"], "noise_dbm=(-99.0, -89.0): Input should be a valid number"),
    (["train", SPEC, "--scenario", "beamformer=3"], "beamformer=3: Input should be 'zf' or 'mrt'"),
])
def test_cli_errors_are_one_line(args, message, capsys):
    assert main(args) == 1
    assert message in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # torchrun: two child processes, each importing torch and starting gloo
def test_ddp_two_cpu_processes(tmp_path, subprocess_env):
    out = tmp_path / "ddp"
    env = {**subprocess_env, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "-m", "designer.cli", "train", SPEC, "--arch", "vertex", "--size", "M=2", "--size", "K=2",
           "--samples", "16", "--val-samples", "8", "--epochs", "2", "--batch", "8", "--out", str(out),
           "--no-progress", "--model-option", "hidden=8", "--model-option", "layers=1", "--fresh",
           "--dist-backend", "gloo"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = load_checkpoint(out)
    assert state["epoch"] == 2 and state["config"]["fresh"] and state["config"]["backend"] == "gloo"


def test_validation_can_be_sparse(tmp_path):
    history = train(config(tmp_path, epochs=3, val_every=2), progress=False)
    assert [h["val_objective"] is None for h in history] == [True, False, False]


def _benchmark_script(name: str):
    import importlib.util

    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_evaluate_scores_the_alternative_references(tmp_path, monkeypatch):
    """Every alternative reference of the problem is scored in each row (short runs here: their
    quality is tests/wireless/test_references.py's subject), and an iterative reference's
    iterations to equal the model are the fewest that do."""
    spec = str(ROOT / "specs" / "cooperative_beamforming.yaml")
    train(config(tmp_path, spec=spec, problem="cooperative_beamforming", arch="vertex_edge", sizes={"M": 3, "K": 2},
                 epochs=1), progress=False)
    problem = load("cooperative_beamforming")
    assert list(problem.alternatives) == ["gradient_projection", "mrt", "wmmse_10", "wmmse_100"]
    short = {**problem.solvers, "gradient_projection": functools.partial(problem.solvers["gradient_projection"],
                                                                         iters=20)}
    monkeypatch.setattr("designer.evaluation.load_problem",
                        lambda config: dataclasses.replace(problem, solvers=short))
    result = evaluate(str(tmp_path / "run"), samples=4)
    row = result["rows"][0]
    gp = row["alternatives"]["gradient_projection"]
    assert gp["objective"] > 0 and gp["ms_per_sample"] > 0
    assert gp["model_ratio"] == pytest.approx(row["model_objective"] / gp["objective"])
    assert gp["reference_ratio"] == pytest.approx(gp["objective"] / row["reference_objective"])
    match = row["equal_quality"]
    T = match["iterations"]
    features, _ = run_samples(TrainConfig.model_validate(load_checkpoint(str(tmp_path / "run"))["config"]), problem,
                              load_model(str(tmp_path / "run"))[0], 4, result["seed"], "cpu", {}, {})
    steps = functools.partial(problem.reference_steps, features, sizes=row["sizes"])
    score = lambda t: problem.objective(features, steps(iters=t)).mean().item()  # noqa: E731
    assert score(T) >= row["model_objective"] and (T == 1 or score(T - 1) < row["model_objective"])
    assert match["objective"] == pytest.approx(score(T)) and match["speedup"] > 0


def test_evaluate_leaves_out_a_reference_that_does_not_apply(tmp_path):
    """Fully digital hybrid designs need N_RF >= 2K: at N_RF = K the row says so instead."""
    spec = str(ROOT / "specs" / "hybrid_precoding_miso.yaml")
    train(config(tmp_path, spec=spec, problem="hybrid_precoding_miso", arch="vertex", sizes={"N_RF": 2}, epochs=1),
          progress=False)
    row = evaluate(str(tmp_path / "run"), samples=4)["rows"][0]
    assert "N_RF >= 2K" in row["alternatives"]["digital_zf"]["not_applicable"]
    assert row["alternatives"]["mf_zf"]["reference_ratio"] <= 1 + 1e-6 and "equal_quality" not in row


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.slow  # CUDA: device start-up
@cuda
def test_cuda_training_follows_the_cpu_run_and_resumes_on_the_cpu(tmp_path):
    on_cpu = train(config(tmp_path / "cpu", epochs=2, fresh=True), progress=False)
    on_gpu = train(config(tmp_path / "gpu", epochs=2, fresh=True, device="cuda"), progress=False)
    assert [h["val_objective"] for h in on_gpu] == pytest.approx([h["val_objective"] for h in on_cpu], rel=1e-3)
    resumed = train(config(tmp_path / "gpu", epochs=3, fresh=True), resume=True, progress=False)
    assert [h["epoch"] for h in resumed] == [1, 2, 3]
    result = evaluate(str(tmp_path / "gpu" / "run"), [{"K": 4}], samples=8, device="cuda")
    assert result["device_name"] == torch.cuda.get_device_name() and result["rows"][1]["model_objective"] > 0


@pytest.mark.slow  # CUDA and torchrun
@cuda
@pytest.mark.parametrize("backend", ["gloo", "auto"])
def test_ddp_two_processes_on_the_gpu(tmp_path, backend, subprocess_env):
    """Two ranks on one GPU: gloo runs them; NCCL (auto) needs a GPU per rank."""
    out = tmp_path / "ddp"
    gpus = torch.cuda.device_count()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "designer.cli", "train", SPEC, "--arch", "vertex",
           "--size", "M=2", "--size", "K=2", "--samples", "16", "--val-samples", "8", "--epochs", "2", "--batch", "8",
           "--out", str(out), "--no-progress", "--model-option", "hidden=8", "--model-option", "layers=1",
           "--device", "cuda", "--dist-backend", backend]
    if backend == "auto" and gpus < 2:
        pytest.skip("NCCL needs two GPUs")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert load_checkpoint(out)["epoch"] == 2


def test_reference_speedup_times_both_batched_at_equal_quality(tmp_path, mcmu_run):
    run = mcmu_run
    script = _benchmark_script("reference_speedup")
    result = script.main([run, f"{run}/checkpoint.pt", "--samples", "4", "--batch", "2", "--rounds", "3",
                          "--eager", "--json", str(tmp_path / "speed.json")])
    assert json.loads((tmp_path / "speed.json").read_text()) == result
    assert not result["compiled"] and result["reference"]["batch"] == 4
    problem = load("mcmu_power_allocation")
    model, features = load_model(run)[0], sample(problem, 4, {"M": 2, "K": 3}, 12345, "cpu", problem.Scenario())
    rate = batched_objective(model, problem, features, 2).mean().item()
    steps = lambda T: problem.objective(features, problem.reference_steps(features, iters=T)).mean().item()  # noqa: E731
    for m in result["models"]:
        assert m["objective"] == pytest.approx(rate, rel=1e-6)
        assert m["ratio"] == pytest.approx(rate / result["reference"]["objective"])
        T = m["equal_quality_iterations"]
        assert steps(T) >= rate and (T == 1 or steps(T - 1) < rate)
        per_round = m["speedup_equal_quality"]
        assert 0 < per_round["fewest"] <= per_round["median"] <= per_round["most"]


def test_ddp_is_told_of_unused_parameters_only_when_some_processor_is_not_realised():
    from designer.training import unused_parameters

    mcmu = load("mcmu_power_allocation")
    model = designer.build(SPEC, arch="vertex_edge", sizes={"M": 2, "K": 3}, hidden=4, layers=1)
    features = sample(mcmu, 4, {"M": 2, "K": 3}, 0, "cpu", mcmu.Scenario())
    state = torch.random.get_rng_state()
    assert not unused_parameters(model, mcmu, features)
    assert torch.equal(state, torch.random.get_rng_state()) and all(p.grad is None for p in model.parameters())
    comp = load("comp_jt")  # two antennas per BS: an antenna's only same-BS neighbour is itself-excluded
    spec = ROOT / "specs" / "comp_jt.yaml"
    model = designer.build(spec, arch="edge", sizes={"B": 3, "N": 2}, hidden=4, layers=1)
    features = sample(comp, 4, {"B": 3, "N": 2}, 0, "cpu", comp.Scenario())
    assert unused_parameters(model, comp, features)
