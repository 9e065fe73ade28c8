"""Evaluate a trained checkpoint against the problem's numerical reference, at the training
size and at other sizes: sum rate, ratio to the reference, per-sample runtime of both on the
same device."""

from __future__ import annotations

import platform
import time

import torch

from .training import (TrainConfig, batched_sum_rate, build_model, check_counts, check_scenario, chunks,
                       load_checkpoint, problem_for, reference_for, sample)
from .wireless import Problem, inner_iterations, refined_problem


MODEL_PASSES = 5  # the model's passes over the test set, timed apart; their median is reported


def _timed(fn, device: str, warm_up=None, passes: int = 1):
    """(fn(), seconds): the median time of ``passes`` calls, after one untimed ``warm_up()``
    (kernel load, cuBLAS handles, caches). A model's pass over the test set takes a fraction of
    a second on the CPU, where one pass varies by ±30 % (other processes, allocator), so the
    model is timed over :data:`MODEL_PASSES`; a reference's pass takes seconds to minutes, once."""
    if warm_up is not None:
        warm_up()
    seconds = []
    for _ in range(passes):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        began = time.perf_counter()
        value = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - began)
    return value, sorted(seconds)[len(seconds) // 2]


def _score(problem, solve, features: dict, device: str, batch: int, passes: int = 1) -> tuple[float, float]:
    """(mean sum rate in bits/s/Hz, seconds) of a numerical reference on ``features``, solved
    ``batch`` samples at a time (``batch=1``: one sample after another, as a sequential solver
    runs; an iterative reference then stops each sample at its own convergence); ``passes`` as
    in :func:`_timed`."""
    parts = chunks(features, batch)
    actions, seconds = _timed(lambda: [solve(part) for part in parts], device, lambda: solve(_head(features, 2)),
                              passes)
    rates = torch.cat([problem.sum_rate(part, act) for part, act in zip(parts, actions)])
    return rates.mean().item(), seconds


def device_name(device: str) -> str:
    """The processor's name, recorded with every timing: the GPU's, or the CPU's and its thread count."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"{_cpu_name()}, {torch.get_num_threads()} threads"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _head(features: dict, n: int) -> dict:
    return {k: v[:n] for k, v in features.items()}


def load_model(checkpoint: str, device: str = "cpu"):
    """(model in eval mode on ``device``, its TrainConfig) from a checkpoint file or run directory."""
    state = load_checkpoint(checkpoint)
    config = TrainConfig(**state["config"])
    model = build_model(config, state["spec_text"])
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config


def evaluate(checkpoint: str, sizes: list[dict[str, int]] | None = None, samples: int = 1000, seed: int = 12345,
             device: str = "cpu", batch: int = 256, reference_batch: int | None = None,
             reference_options: dict | None = None, compile_mode: str | None = None, refine: int = 0,
             scenario: dict | None = None, sweep: tuple[str, list] | None = None, problem: str | None = None) -> dict:
    """Rows of sum rate (bits/s/Hz), ratio to the reference and ms per sample: at the training
    run's sizes, then one row per entry of ``sizes`` (size overrides), then one per value of
    ``sweep`` (a size symbol or a scenario keyword, and its values);
    each row also scores the problem's alternative references (``alternatives``). The model
    runs ``batch`` samples at a time, the references ``reference_batch`` (default: all at once).
    ``reference_options``: keywords of the reference (WMMSE: ``iters``, ``tol``, ``init``, ...).
    ``compile_mode``: run the model through ``torch.compile`` in this mode (see :func:`compiled`);
    the references run eagerly. ``refine``: also score the model's beams refined by this many
    iterations of the reference started from them (``refined``: sum rate, ratio, ms per sample of
    model and refinement together, in the model's batches; problems with ``Problem.warm_start``).
    ``scenario``: keywords of the problem's scenario (see :func:`check_scenario`) that replace the
    training run's in every row; a scenario keyword swept replaces them in its rows. ``problem``:
    score the model as this problem instead of the training run's — one with the same sampler,
    features and actions (:func:`as_problem`; e.g. a model trained with three WMMSE iterations
    inside, ``ic_beamforming_refined3``, run with eight: ``ic_beamforming_refined8``)."""
    reference_batch = samples if reference_batch is None else reference_batch
    check_counts(samples=samples, batch=batch, reference_batch=reference_batch)
    if refine < 0:
        raise ValueError(f"refine must be a number of iterations >= 0, got {refine}")
    eager, config = load_model(checkpoint, device)
    problem = as_problem(problem_for(config.problem), problem_for(problem or config.problem))
    if refine and problem.warm_start is None:
        raise ValueError(_cannot_refine(problem.name, refine))
    scenario = {**config.scenario, **(scenario or {})}
    points = [({}, {})] + [(s, {}) for s in sizes or []] + _swept(eager.plan, sweep)
    for _, more in points:
        check_scenario(problem, {**scenario, **more})
    rows = []
    for override, more in points:
        at, here = {**config.sizes, **override}, {**scenario, **more}
        model = eager if compile_mode is None else compiled(eager, compile_mode)
        features = sample(problem, samples, at, seed, device, here)
        parts = chunks(features, batch)
        infer = inference(model, problem)
        with torch.no_grad():
            _, model_seconds = _timed(lambda: [infer(part) for part in parts], device, lambda: _each_shape(infer, parts),
                                      MODEL_PASSES)
        rate = batched_sum_rate(model, problem, features, batch).mean().item()
        reference = _with_options(reference_for(problem, at), reference_options or {})
        reference_rate, reference_seconds = _score(problem, reference, features, device, reference_batch)
        alternatives = {}
        for name, solve in problem.alternatives.items():
            alt_rate, alt_seconds = _score(problem, solve, features, device, reference_batch)
            alternatives[name] = {"sum_rate": alt_rate, "ms_per_sample": 1e3 * alt_seconds / samples,
                                  "model_ratio": rate / alt_rate}
        row = {"sizes": at, "scenario": here, "model_sum_rate": rate, "reference_sum_rate": reference_rate,
               "ratio": rate / reference_rate,
               "model_ms_per_sample": 1e3 * model_seconds / samples,
               "reference_ms_per_sample": 1e3 * reference_seconds / samples,
               "speedup": reference_seconds / model_seconds, "alternatives": alternatives}
        if refine:
            refined_rate, refined_seconds = _score(problem, _refined(problem, infer, reference, refine), features,
                                                   device, batch, MODEL_PASSES)
            row["refined"] = {"iterations": refine, "sum_rate": refined_rate, "ratio": refined_rate / reference_rate,
                              "ms_per_sample": 1e3 * refined_seconds / samples,
                              "speedup": reference_seconds / refined_seconds}
        rows.append(row)
    return {"checkpoint": str(checkpoint), "problem": problem.name, "trained_problem": config.problem,
            "spec": config.spec, "arch": config.arch,
            "device": device, "device_name": device_name(device), "samples": samples, "batch": batch,
            "reference_batch": reference_batch, "reference_options": dict(reference_options or {}),
            "compile_mode": compile_mode, "refine": refine, "seed": seed,
            "rows": rows}


def _cannot_refine(problem: str, refine: int) -> str:
    """Why ``refine`` is refused for ``problem`` and, for a model with WMMSE iterations inside,
    the problem that runs ``refine`` more of them (``ic_beamforming_refined<n + refine>``)."""
    message = f"problem {problem!r} cannot start its reference from a model's output (refine)"
    inner = inner_iterations(problem)
    if inner is None:
        return message
    more = refined_problem(inner + refine).name
    return (f"{message}; its model runs {inner} WMMSE iteration{'s' * (inner > 1)} inside, and {refine} more as "
            f"problem {more!r}: evaluate it with --problem {more} (the same weights) instead of --refine {refine}")


def as_problem(trained: Problem, other: Problem) -> Problem:
    """``other``, checked to take a model trained on problem ``trained``: the same sampler (so the
    same scenario keywords), features and actions; only the objective — how the actions are
    decoded and scored — may differ.  A ValueError names what differs."""
    def name(value):
        return getattr(value, "__name__", value)

    differs = [f"{what} {name(a)} against {name(b)}" for what, a, b in (
        ("sampler", trained.sample, other.sample), ("features", trained.features, other.features),
        ("actions", trained.actions, other.actions)) if a != b]
    if differs:
        raise ValueError(f"the checkpoint was trained on problem {trained.name!r}, which problem {other.name!r} does "
                         f"not fit ({'; '.join(differs)}): a model runs only as a problem with the same sampler, "
                         f"features and actions")
    return other


def _swept(plan, sweep: tuple[str, list] | None) -> list[tuple[dict, dict]]:
    """(size override, scenario override) per value of ``sweep``: a key that is one of the
    plan's size symbols sweeps the size (positive integers), any other a scenario keyword."""
    if sweep is None:
        return []
    key, values = sweep
    if key not in {a.size for a in plan.axes if isinstance(a.size, str)} | set(plan.channel_symbols):
        return [({}, {key: v}) for v in values]
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    if bad:
        raise ValueError(f"sweep {key}: {key} is a size, its values must be positive integers, got {bad[0]!r}")
    return [({key: v}, {}) for v in values]


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def compiled(model, mode: str):
    """``torch.compile(model, mode=mode)`` with one static graph per input shape (the timed
    passes then never recompile: :func:`_each_shape` compiles them all in the warm-up), after
    clearing the graphs of earlier sizes (a sweep would otherwise hit dynamo's recompile limit
    and fall back to eager)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")
    torch.compiler.reset()
    return torch.compile(model, mode=mode, dynamic=False)


def inference(model, problem):
    """What the timing covers: the model's actions, decoded into beams where the problem's
    actions only parametrise them (``Problem.decode``)."""
    if problem.decode is None:
        return lambda part: model(**part)
    return lambda part: problem.decode(part, model(**part))


def _refined(problem, infer, reference, iters: int):
    """The model's physical actions (``infer``) refined by ``iters`` iterations of ``reference``
    started from them (``Problem.warm_start`` makes its ``init``; ``Problem.refine_offset`` of
    them are the ones its actions' scoring adds)."""
    def solve(part: dict):
        with torch.no_grad():
            start = problem.warm_start(part, infer(part))
        return reference(part, init=start, iters=iters - problem.refine_offset)

    return solve


def _each_shape(infer, parts: list[dict]) -> None:
    """Run ``infer`` once on a piece of each distinct size (the warm-up of a timed pass)."""
    seen = set()
    for part in parts:
        n = next(iter(part.values())).shape[0]
        if n not in seen:
            seen.add(n)
            infer(part)


def _with_options(solve, options: dict):
    """``solve`` called with the keywords ``options`` (and any given at the call, which win); a
    keyword it does not take is a ValueError."""
    if not options:
        return solve

    def solve_with(features: dict, **more):
        try:
            return solve(features, **{**options, **more})
        except TypeError as exc:
            if "keyword argument" in str(exc):
                raise ValueError(f"reference option not accepted: {exc}") from None
            raise

    return solve_with


def plot_sweep(result: dict, key: str, path: str) -> None:
    """Sum rate of model and reference against a swept size symbol or scenario keyword, over
    the rows that set it to a number (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: python -m pip install matplotlib") from None
    at = [({**r["sizes"], **r["scenario"]}.get(key), r) for r in result["rows"]]
    points = sorted(((x, r) for x, r in at if isinstance(x, (int, float)) and not isinstance(x, bool)),
                    key=lambda p: p[0])
    if not points:
        raise ValueError(f"--plot: no row sets {key} to a number")
    x = [p[0] for p in points]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(x, [r["model_sum_rate"] for _, r in points], "o-", label=f"model ({result['arch']})")
    ax.plot(x, [r["reference_sum_rate"] for _, r in points], "s--", label="reference")
    ax.set_xlabel(key)
    ax.set_ylabel("sum rate (bits/s/Hz)")
    ax.set_title(result["problem"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
