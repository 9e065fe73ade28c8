"""Unsupervised training of a compiled model on any problem that implements the problem
contract (:mod:`designer.problem`; loss = −objective), optionally after a supervised warm start
that imitates the problem's reference, on samples drawn by the problem or read from a data file.

Seeded and deterministic on one device; checkpoints written atomically after every epoch and
resumable; multi-process data parallel through ``torchrun`` (DDP; gloo on CPU, NCCL on GPU, or
the backend named). The training set is drawn once, or afresh every epoch (``fresh``, as ENGNN
§IV trains). A checkpoint is self-contained: it carries the spec text, the model options and the
state; a run may resume on another device.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Mapping

import torch

from .atomic import save_torch, write_files
from .config import TrainConfig
from .data import load_data, read_torch, split
from .problem import ProblemError, configured, label, load, parameters, part
from .runtime.model import model_for
from .runtime.plan import plan_data, plan_from_data

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"  # the state with the best validation objective so far


def load_problem(config: TrainConfig):
    """The run's problem: ``config.problem`` found by reference (:func:`designer.problem.load`),
    with ``config.problem_options`` set."""
    return configured(load(config.problem), config.problem_options)


def run_sizes(problem, check_sizes: Mapping[str, int], sizes: Mapping[str, int]) -> dict[str, int]:
    """Every size symbol's value for sampling: ``sizes`` (``--size``), else the problem's
    ``default_sizes``, else the spec's check instance."""
    return {**check_sizes, **part(problem, "default_sizes", {}), **sizes}


def scenario_of(problem, scenario: Mapping[str, object], sizes: Mapping[str, int] | None = None):
    """``scenario`` (``--scenario`` keywords) validated into the problem's ``Scenario``; ValueError
    naming an unknown keyword (or one of the spec's ``sizes``, which ``--size`` sets) or a value of
    the wrong type."""
    for key in scenario:
        if key in (sizes or {}):
            raise ProblemError(f"scenario option {key!r} is a size of the spec: give it as --size {key}=N")
    return parameters(part(problem, "Scenario"), scenario, "scenario option", part(problem, "name", ""))


def sample(problem, n: int, sizes: Mapping[str, int], seed: int, device: str, scenario=None) -> dict[str, torch.Tensor]:
    """``n`` samples of the problem at ``sizes`` from a generator seeded with ``seed``, with the
    validated ``scenario`` (:func:`scenario_of`)."""
    return dict(problem.sample(n, sizes=dict(sizes), generator=torch.Generator().manual_seed(seed), device=device,
                               dtype=torch.float32, scenario=scenario))


def run_samples(config: TrainConfig, problem, model, n: int, seed: int, device: str,
                sizes: Mapping[str, int] | None = None, scenario: Mapping[str, object] | None = None):
    """(``n`` samples of the run's problem, every size symbol's value): at the run's sizes changed by
    ``sizes`` and its scenario (or ``scenario`` in its place), checked against ``model``'s spec."""
    at = run_sizes(problem, model.plan.sizes, {**config.sizes, **(sizes or {})})
    features = sample(problem, n, at, seed, device,
                      scenario_of(problem, config.scenario if scenario is None else scenario, at))
    check_features(model, features, f"problem {part(problem, 'name', config.problem)!r}: sample()")
    return features, at


def unused_parameters(model, problem, features: Mapping[str, torch.Tensor]) -> bool:
    """Whether some parameter gets no gradient from the objective on ``features`` (a few
    samples suffice). Every module built reaches an output, so this happens only for a processor
    whose neighbourhoods are all empty at these sizes (not realised there, e.g. antenna–antenna
    neighbours with two antennas per BS); DDP needs to know. The random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        few = {k: v[:2] for k, v in features.items()}
        problem.objective(few, model(**few)).sum().backward()
    unused = any(p.grad is None for p in model.parameters())
    model.zero_grad(set_to_none=True)
    return unused


def check_features(model, features: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise ValueError unless ``features`` fit the spec's tensor signatures (names, shapes,
    real or complex, the model's channel counts) and every sample is finite, naming ``source``,
    the first offending tensor and, for non-finite values, the first such sample."""
    for name, x in features.items():
        if not isinstance(x, torch.Tensor) or not x.dim():
            continue  # model.bind names it below
        bad = (~torch.isfinite(x)).reshape(x.shape[0], -1).any(dim=1).nonzero()
        if len(bad):
            raise ValueError(f"{source}: {name}: sample {int(bad[0])} holds non-finite values (nan or inf)")
    try:
        model.bind(features, None)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from None


def initial_model(config: TrainConfig, problem) -> torch.nn.Module:
    """The compiled model with its initial weights, drawn from ``init_seed`` (``seed`` when unset),
    so that initialisation and data can be varied apart."""
    torch.manual_seed(config.seed if config.init_seed is None else config.init_seed)
    return build_model(config, problem)


def model_options(config: TrainConfig, problem) -> dict:
    """The model's options: ``config.model_options`` over the problem's own values for the named
    ``preset`` (``model_presets``; e.g. ENGNN's widths for the interference channel)."""
    preset = config.model_options.get("preset")
    return {**(part(problem, "model_presets") or {}).get(preset, {}), **config.model_options}


def build_model(config: TrainConfig, problem) -> torch.nn.Module:
    """The model for a config, compiled from its spec."""
    from .builder import build

    return build(config.spec, arch=config.arch, sizes=config.sizes or None, **model_options(config, problem))


def stored_model(state: dict, config: TrainConfig, problem) -> torch.nn.Module:
    """The model of a checkpoint, from the plan it stores (the runtime alone: no compilation)."""
    return model_for(plan_from_data(state["plan"]), config.arch, config.sizes or None, **model_options(config, problem))


def chunks(features: dict, size: int) -> list[dict]:
    """``features`` split along the sample axis into consecutive pieces of at most ``size`` samples."""
    n = next(iter(features.values())).shape[0]
    return [{k: v[start:start + size] for k, v in features.items()} for start in range(0, n, size)]


def batched_objective(model, problem, features: dict, batch: int) -> torch.Tensor:
    """Per-sample sum rate of the model's actions, evaluated in batches without gradients."""
    with torch.no_grad():
        return torch.cat([problem.objective(part, model(**part)) for part in chunks(features, batch)])


CHECKPOINT_KEYS = ("config", "spec_text", "plan", "model", "optimizer", "epoch", "history")


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint written by :func:`train` (a file, or a run directory).

    Checkpoints hold data only (tensors, numbers, strings, lists and dicts): they are read with
    ``torch.load(weights_only=True)``, so no code in a file ever runs. A file that is not a
    readable checkpoint raises ValueError naming it."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file")
    state = read_torch(path, "gnn-design checkpoint")
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f"{path}: not a gnn-design checkpoint (no {', '.join(missing)})")
    return state


def fingerprint(spec_text: str, problem, options: Mapping[str, object] | None = None) -> str:
    """SHA-256 of what a run optimises: the spec's text, the problem's name and options and the
    source of its objective (and of the arguments bound to it), so a resumed run cannot silently
    continue with another spec, budget or objective."""
    digest = hashlib.sha256()
    for text in (spec_text, part(problem, "name", ""), repr(sorted((options or {}).items())),
                 _source_text(problem.objective)):
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _source_text(fn) -> str:
    """The source of a function (through ``functools.partial``), or its qualified name."""
    bound = ""
    while isinstance(fn, partial):
        bound += repr(fn.args) + repr(sorted(fn.keywords.items()))
        fn = fn.func
    try:
        return inspect.getsource(fn) + bound
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(fn)) + bound


def _distributed(device: str, backend: str = "auto") -> tuple[int, int, str]:
    """(rank, world size, this rank's device) under torchrun; initialises the process group
    (``backend`` "auto": NCCL on GPU, gloo on CPU; gloo also runs several ranks on one GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    import torch.distributed as dist

    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"  # gloo may share one
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        if backend == "auto":
            backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size(), device


def _all_sum(value: float, world: int, device: str) -> float:
    if world == 1:
        return value
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor)


def epoch_seed(config: TrainConfig, epoch: int) -> int:
    """Seed of epoch ``epoch``'s training set when ``fresh`` (apart from the fixed sets' seeds,
    ``seed`` and ``seed + 1_000_003``)."""
    return 2**40 + config.seed * 2**20 + epoch


def lr_at(config: TrainConfig, epoch: int) -> float:
    """The learning rate of epoch ``epoch`` (0-based): ``lr`` throughout, or cosine annealing
    from ``lr`` to ``lr / 100`` over ``epochs``. A function of the epoch alone, so a resumed run
    continues the schedule (growing ``epochs`` on resume stretches what is left of it)."""
    if config.lr_schedule == "constant":
        return config.lr
    floor = config.lr / 100
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))


def _optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer](params, lr=config.lr, weight_decay=config.weight_decay)


class _Progress:
    """A tqdm bar on rank 0 when stderr is a terminal or tqdm is available, else epoch lines."""

    def __init__(self, total: int, start: int, enabled: bool, label: str = "objective"):
        self.bar, self.label = None, label
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=start, unit="epoch", file=sys.stderr, dynamic_ncols=True)
            except ImportError:
                pass
        self.enabled = enabled

    def update(self, metrics: dict) -> None:
        if not self.enabled:
            return
        val = metrics["val_objective"]
        text = f"{self.label}: train {metrics['train_objective']:.4g}" + (f"  val {val:.4g}" if val is not None else "")
        if self.bar is not None:
            self.bar.set_postfix_str(text)
            self.bar.update(1)
        else:
            print(f"epoch {metrics['epoch']}: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_resumable(saved: dict, config: TrainConfig, path: Path, fingerprint_now: str | None) -> None:
    """Refuse to resume a checkpoint written with other options, or for another spec text,
    problem or objective (its ``fingerprint``; ``None``: not checked)."""
    if fingerprint_now is not None and saved.get("fingerprint") != fingerprint_now:
        raise ValueError(f"{path} was written for another spec text, problem or objective; use a new --out, "
                         "or --resume-anyway to continue with the current ones")
    saved = saved["config"]
    ignore = {"epochs", "out", "device", "backend"}  # a run may go on elsewhere, and for longer
    defaults = TrainConfig(spec="", problem="").model_dump()  # for options newer than the checkpoint
    mine = {k: v for k, v in config.model_dump().items() if k not in ignore}
    theirs = {k: v for k, v in {**defaults, **saved}.items() if k not in ignore}
    if mine != theirs:
        changed = sorted(k for k in mine if mine[k] != theirs.get(k))
        raise ValueError(f"{path} was written with different options ({', '.join(changed)}); "
                         "use a new --out, or the same options to resume")


def check_counts(**counts) -> None:
    """Raise ValueError naming the first count that is not a positive integer."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _datasets(config: TrainConfig, problem, model, device: str):
    """(training set or None when ``fresh``, validation set, every size symbol's value): from
    ``config.data`` (split as :func:`designer.data.split` documents) or the problem's sampler,
    checked against the spec's tensor signatures on first use."""
    if config.data is not None:
        features = load_data(config.data)
        check_features(model, features, config.data)
        train_set, val_set = split(features, config.val_samples, config.data)
        return ({k: v.to(device) for k, v in train_set.items()}, {k: v.to(device) for k, v in val_set.items()},
                model.bind(val_set, None))
    sizes = run_sizes(problem, model.plan.sizes, config.sizes)
    scenario = scenario_of(problem, config.scenario, sizes)
    val_set = sample(problem, config.val_samples, sizes, config.seed + 1_000_003, device, scenario)
    check_features(model, val_set, f"problem {part(problem, 'name', config.problem)!r}: sample()")
    train_set = None if config.fresh else sample(problem, config.train_samples, sizes, config.seed, device, scenario)
    return train_set, val_set, sizes


def train(config: TrainConfig, resume: bool = False, progress: bool = True, resume_anyway: bool = False) -> list[dict]:
    """Train, checkpointing ``out/checkpoint.pt`` after every epoch (and ``out/best.pt`` whenever
    the validation objective is the best so far); return the metric history.

    The problem's ``objective`` is maximised (loss = −objective). With ``imitate_epochs`` the
    first epochs minimise the problem's imitation loss against its reference's actions on the
    training set (a supervised warm start). With ``augment`` every training batch is first
    transformed by ``problem.augment`` (a random invariance of the objective, drawn from the
    epoch's seed). With ``data`` the samples come from a data file (:mod:`designer.data`)
    instead of the problem's sampler.
    With ``resume`` the run continues from the checkpoint in ``out`` (same options; ``epochs``
    may grow; same spec text, problem and objective, see :func:`fingerprint`, unless
    ``resume_anyway``). Deterministic: data, initialisation and batch order follow ``seed`` and the epoch.
    """
    rank, world, device = _distributed(config.device, config.backend)
    problem = load_problem(config)
    name = part(problem, "name", config.problem)
    if config.imitate_epochs and (part(problem, "imitation") is None or part(problem, "reference") is None):
        raise ValueError(f"problem {name!r} defines no imitation loss and reference (--imitate-epochs)")
    if config.augment and part(problem, "augment") is None:
        raise ValueError(f"problem {name!r} defines no augmentation (--augment)")
    out = Path(config.out)
    spec_text = Path(config.spec).read_text()
    run_fingerprint = fingerprint(spec_text, problem, config.problem_options)
    model = initial_model(config, problem).to(device)
    optimizer = _optimizer(config, model.parameters())
    history: list[dict] = []
    start = 0
    if resume and (out / CHECKPOINT).exists():
        state = load_checkpoint(out)
        _check_resumable(state, config, out / CHECKPOINT, None if resume_anyway else run_fingerprint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, start = state["history"], state["epoch"]
    bare = model
    train_set, val_set, sizes = _datasets(config, problem, bare, device)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, find_unused_parameters=unused_parameters(bare, problem, val_set))
    n_train = config.train_samples if train_set is None else next(iter(train_set.values())).shape[0]
    targets = None  # the reference's actions on train_set, while imitating
    bar = _Progress(config.epochs, start, progress and rank == 0, label(problem))
    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(config, epoch)
        shuffle = torch.Generator().manual_seed(config.seed * 7919 + epoch)  # batch order, then augmentation
        order = torch.randperm(n_train, generator=shuffle)
        if config.fresh:
            train_set = sample(problem, n_train, sizes, epoch_seed(config, epoch), device,
                               scenario_of(problem, config.scenario))
        imitating = epoch < config.imitate_epochs
        if imitating and (targets is None or config.fresh):
            targets = problem.reference(train_set, sizes=sizes)
        model.train()
        total = torch.zeros((), dtype=torch.float64, device=device)  # objective over the epoch's samples
        total_loss = torch.zeros((), dtype=torch.float64, device=device)
        for first in range(0, n_train - world + 1, config.batch):  # every rank gets data
            index = order[first:first + config.batch][rank::world].to(device)
            batch = {k: v[index] for k, v in train_set.items()}
            if config.augment:
                batch = problem.augment(batch, shuffle)
            actions = model(**batch)
            value = problem.objective(batch, actions)
            loss = (problem.imitation(batch, actions, {k: v[index] for k, v in targets.items()}).mean()
                    if imitating else -value.mean())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            optimizer.step()
            total += value.detach().sum()  # no host sync per step
            total_loss += loss.detach() * len(index)
        model.eval()
        validate = (epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs
        metrics = {"epoch": epoch + 1,
                   "train_objective": _all_sum(float(total), world, device) / n_train,
                   "train_loss": _all_sum(float(total_loss), world, device) / n_train,
                   "val_objective": float(batched_objective(bare, problem, val_set, config.batch).mean())
                   if validate else None,
                   "loss": "imitation" if imitating else "objective",
                   "lr": lr_at(config, epoch), "seconds": round(time.perf_counter() - began, 3)}
        if not math.isfinite(metrics["train_loss"]):
            saved = f"checkpoint.pt holds epoch {epoch}" if epoch else "no checkpoint written"
            raise FloatingPointError(f"{config.out}: epoch {epoch + 1}: the training loss is not finite; stopped "
                                     f"without saving this epoch ({saved}); try a lower --lr or --clip-grad")
        best = max((h["val_objective"] for h in history if h["val_objective"] is not None), default=None)
        history.append(metrics)
        if rank == 0:
            state = {"config": config.model_dump(), "spec_text": spec_text, "fingerprint": run_fingerprint,
                     "plan": plan_data(bare.plan), "model": bare.state_dict(),
                     "optimizer": optimizer.state_dict(), "epoch": epoch + 1, "history": history}
            if validate and (best is None or metrics["val_objective"] > best):
                save_torch(state, out / BEST)
            save_torch(state, out / CHECKPOINT)
            write_files({out / "metrics.json": json.dumps(history, indent=1) + "\n"})
        bar.update(metrics)
    bar.close()
    return history
