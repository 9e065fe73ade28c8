"""Evaluate a trained checkpoint against the problem's numerical reference, at the training
size and at other sizes, on samples the problem draws or read from a data file: the objective,
its ratio to the reference's and to every alternative (trivial baselines among them), and the
time of model and references, both run in batches on the same device; for an iterative
reference also the iterations it needs to equal the model and their time (the speed at equal
quality)."""

from __future__ import annotations

import hashlib
import platform
import time
from functools import partial

import torch

from .data import load_data
from .problem import NotApplicable, configured, label, load, part
from .training import (TrainConfig, batched_objective, check_counts, check_features, chunks,
                       load_checkpoint, load_problem, run_samples, scenario_of, stored_model)


MODEL_PASSES = 5  # the model's passes over the test set, timed apart; their median is reported
MATCH_CAP = 4096  # the most iterations tried when finding what an iterative reference needs to equal the model


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
    """(mean objective, seconds) of a numerical reference on ``features``, solved
    ``batch`` samples at a time (``batch=1``: one sample after another, as a sequential solver
    runs; an iterative reference then stops each sample at its own convergence); ``passes`` as
    in :func:`_timed`."""
    parts = chunks(features, batch)
    actions, seconds = _timed(lambda: [solve(part) for part in parts], device, lambda: solve(_head(features, 2)),
                              passes)
    values = torch.cat([problem.objective(piece, act) for piece, act in zip(parts, actions)])
    return values.mean().item(), seconds


_SCORES: dict[tuple, tuple[float, float]] = {}  # this process's reference scores, see _memo


def _memo(key: tuple, features: dict, score):
    """``score()`` once per reference and test set in a process: experiments evaluate several
    checkpoints on one test set, and a converged, multi-start reference costs minutes there.
    ``key`` names the reference (problem, options, sizes, device, batch); the test set enters by
    a digest of its tensors. Returns (mean objective, seconds of the first computation)."""
    digest = hashlib.sha256()
    for name in sorted(features):
        digest.update(name.encode())
        digest.update(features[name].detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    full = (*key, digest.hexdigest())
    if full not in _SCORES:
        _SCORES[full] = score()
    return _SCORES[full]


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
    config = TrainConfig.model_validate(state["config"])
    model = stored_model(state, config, load_problem(config))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config


def evaluate(checkpoint: str, sizes: list[dict[str, int]] | None = None, samples: int = 1000, seed: int = 12345,
             device: str = "cpu", batch: int = 256, reference_batch: int | None = None,
             reference_options: dict | None = None, compile_mode: str | None = None, refine: int = 0,
             scenario: dict | None = None, sweep: tuple[str, list] | None = None, problem: str | None = None,
             problem_options: dict | None = None, data: str | None = None) -> dict:
    """Rows of the objective, its ratio to the reference's and ms per sample: at the training
    run's sizes, then one row per entry of ``sizes`` (size overrides), then one per value of
    ``sweep`` (a size symbol or a scenario keyword, and its values);
    each row also scores the problem's alternative references (``alternatives``). The model
    runs ``batch`` samples at a time, the references ``reference_batch`` (default: all at once).
    ``reference_options``: keywords of the reference (WMMSE: ``iters``, ``tol``, ``init``, ...).
    ``compile_mode``: run the model through ``torch.compile`` in this mode (see :func:`compiled`);
    the references run eagerly. ``refine``: also score the model's actions refined by this many
    iterations of the reference started from them (``refined``: objective, ratio, ms per sample
    of model and refinement together, in the model's batches; problems with ``warm_start``).
    ``scenario``: keywords of the problem's scenario that replace the training run's in every
    row; a scenario keyword swept replaces them in its rows. ``problem`` / ``problem_options``:
    score the model as another problem (a reference, :func:`designer.problem.load`) or with other
    options of its own (a model trained with three WMMSE iterations inside run with eight) — its
    samples must fit the model's features. ``data``: score the samples of a data file
    (:mod:`designer.data`) instead of drawing them (one row; ``samples``, ``sizes``, ``sweep``
    and ``scenario`` do not apply)."""
    reference_batch = samples if reference_batch is None else reference_batch
    check_counts(samples=samples, batch=batch, reference_batch=reference_batch)
    if refine < 0:
        raise ValueError(f"refine must be a number of iterations >= 0, got {refine}")
    if data is not None and (sizes or sweep or scenario):
        raise ValueError("--data scores the samples of the file: --size, --sweep and --scenario do not apply")
    eager, config = load_model(checkpoint, device)
    chosen = load_problem(config) if problem is None and problem_options is None else configured(
        load(problem or config.problem), config.problem_options if problem_options is None else problem_options)
    name = part(chosen, "name", problem or config.problem)
    if refine and (part(chosen, "warm_start") is None or part(chosen, "reference_steps") is None):
        raise ValueError(f"problem {name!r} cannot start its reference from a model's output (refine)")
    scenario = {**config.scenario, **(scenario or {})}
    points = [({}, {})] + [(s, {}) for s in sizes or []] + _swept(eager.plan, sweep)
    for _, more in points:
        scenario_of(chosen, {**scenario, **more})
    rows = []
    for override, more in points:
        model = eager if compile_mode is None else compiled(eager, compile_mode)
        features, at, here = _test_set(chosen, eager, config, data, samples, seed, device, override,
                                       {**scenario, **more})
        rows.append(_row(chosen, model, features, at, here, device, batch, reference_batch, reference_options or {},
                         refine))
    return {"checkpoint": str(checkpoint), "problem": name, "problem_reference": problem or config.problem,
            "trained_problem": config.problem,
            "problem_options": dict(problem_options if problem_options is not None else config.problem_options),
            "objective": label(chosen), "spec": config.spec, "arch": config.arch, "data": data,
            "device": device, "device_name": device_name(device), "samples": rows[0]["samples"], "batch": batch,
            "reference_batch": reference_batch, "reference_options": dict(reference_options or {}),
            "compile_mode": compile_mode, "refine": refine, "seed": seed,
            "rows": rows}


def _test_set(problem, model, config: TrainConfig, data: str | None, samples: int, seed: int, device: str,
              override: dict, scenario: dict) -> tuple[dict, dict, dict]:
    """(features, every size symbol's value, scenario) of one row: the data file's samples, or
    ``samples`` drawn by the problem at the run's sizes changed by ``override``."""
    if data is not None:
        features = load_data(data)
        check_features(model, features, data)
        return {k: v.to(device) for k, v in features.items()}, model.bind(features, None), {}
    features, at = run_samples(config, problem, model, samples, seed, device, override, scenario)
    return features, at, scenario


def _row(problem, model, features: dict, at: dict, scenario: dict, device: str, batch: int, reference_batch: int,
         reference_options: dict, refine: int) -> dict:
    """One row of :func:`evaluate`: model, reference, alternatives (and refinement) on ``features``."""
    samples = next(iter(features.values())).shape[0]
    parts = chunks(features, batch)
    infer = inference(model, problem)
    with torch.no_grad():
        _, model_seconds = _timed(lambda: [infer(piece) for piece in parts], device,
                                  lambda: _each_shape(infer, parts), MODEL_PASSES)
    value = batched_objective(model, problem, features, batch).mean().item()
    row = {"sizes": at, "scenario": scenario, "samples": samples, "model_objective": value,
           "model_ms_per_sample": 1e3 * model_seconds / samples, "reference_objective": None, "ratio": None,
           "reference_ms_per_sample": None, "speedup": None, "alternatives": {}}
    if part(problem, "reference") is None:
        return row
    reference = _with_options(partial(problem.reference, sizes=at), reference_options)
    key = (part(problem, "name", ""), repr(part(problem, "options")), repr(sorted(at.items())), device, reference_batch)
    reference_value, reference_seconds = _memo(
        (*key, "reference", repr(sorted(reference_options.items()))), features,
        lambda: _score(problem, reference, features, device, reference_batch))
    row.update(reference_objective=reference_value, ratio=value / reference_value,
               reference_ms_per_sample=1e3 * reference_seconds / samples, speedup=reference_seconds / model_seconds)
    for name, solve in (part(problem, "alternatives") or {}).items():
        try:
            alt_value, alt_seconds = _memo((*key, name), features, lambda: _score(problem, partial(solve, sizes=at),
                                                                                  features, device, reference_batch))
        except NotApplicable as exc:
            row["alternatives"][name] = {"not_applicable": str(exc)}
            continue
        row["alternatives"][name] = {"objective": alt_value, "ms_per_sample": 1e3 * alt_seconds / samples,
                                     "model_ratio": value / alt_value, "reference_ratio": alt_value / reference_value}
    steps = part(problem, "reference_steps")
    inside = part(problem, "reference_iterations_inside", 0)
    if inside:
        start_value = _score(problem, partial(steps, sizes=at, iters=inside), features, device, reference_batch)[0]
        row["reference_inside"] = {"iterations": inside, "same_iterations_objective": start_value,
                                   "model_ratio": value / start_value}
    if steps is not None:
        row["equal_quality"] = equal_quality(problem, partial(steps, sizes=at), features, device, reference_batch,
                                              value, model_seconds)
    if refine:
        steps = _with_options(partial(problem.reference_steps, sizes=at), reference_options)
        refined_value, refined_seconds = _score(problem, _refined(problem, infer, steps, refine), features,
                                                device, batch, MODEL_PASSES)
        row["refined"] = {"iterations": refine, "objective": refined_value, "ratio": refined_value / reference_value,
                          "ms_per_sample": 1e3 * refined_seconds / samples,
                          "speedup": reference_seconds / refined_seconds}
    return row


def equal_quality(problem, steps, features: dict, device: str, batch: int, target: float,
                   model_seconds: float) -> dict:
    """The fewest iterations ``T`` of an iterative reference (``steps(features, iters=T)``, from
    its documented start, one start) whose mean objective reaches the model's ``target``, found
    by doubling and then bisection (each sample's objective does not fall from one iteration to
    the next, so neither does the mean), and the time of those ``T`` iterations, batched as the
    reference is: ``{"iterations", "objective", "ms_per_sample", "speedup"}``; ``iterations``
    None when :data:`MATCH_CAP` iterations do not reach the model."""
    samples = next(iter(features.values())).shape[0]
    scores: dict[int, float] = {}

    def reaches(T: int) -> bool:
        if T not in scores:
            try:
                scores[T] = _score(problem, partial(steps, iters=T), features, device, batch)[0]
            except NotApplicable:
                scores[T] = float("-inf")
        return scores[T] >= target

    low, high = 0, 1
    while not reaches(high):
        if high >= MATCH_CAP:
            return {"iterations": None, "cap": MATCH_CAP, "objective": scores[high]}
        low, high = high, min(2 * high, MATCH_CAP)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    objective, seconds = _score(problem, partial(steps, iters=high), features, device, batch)
    return {"iterations": high, "objective": objective, "ms_per_sample": 1e3 * seconds / samples,
            "speedup": seconds / model_seconds}


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
    actions only parametrise them (the problem's ``decode``)."""
    decode = part(problem, "decode")
    if decode is None:
        return lambda features: model(**features)
    return lambda features: decode(features, model(**features))


def _refined(problem, infer, steps, iters: int):
    """The model's physical actions (``infer``) refined by ``iters`` iterations of the reference
    (``steps``: the problem's ``reference_steps``) started from them (the problem's
    ``warm_start`` makes its ``init``; ``refine_offset`` of them are the ones its actions'
    scoring adds)."""
    def solve(features: dict):
        with torch.no_grad():
            start = problem.warm_start(features, infer(features))
        return steps(features, init=start, iters=iters - part(problem, "refine_offset", 0))

    return solve


def _each_shape(infer, parts: list[dict]) -> None:
    """Run ``infer`` once on a piece of each distinct size (the warm-up of a timed pass)."""
    seen = set()
    for piece in parts:
        n = next(iter(piece.values())).shape[0]
        if n not in seen:
            seen.add(n)
            infer(piece)


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
    """The objective of model and reference against a swept size symbol or scenario keyword, over
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
    ax.plot(x, [r["model_objective"] for _, r in points], "o-", label=f"model ({result['arch']})")
    if all(r["reference_objective"] is not None for _, r in points):
        ax.plot(x, [r["reference_objective"] for _, r in points], "s--", label="reference")
    ax.set_xlabel(key)
    ax.set_ylabel(result["objective"])
    ax.set_title(result["problem"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
