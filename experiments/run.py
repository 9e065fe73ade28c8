"""Run an experiment file: train its runs, evaluate each once on its test set, and write
``experiments/results/<name>.json`` (and ``<name>.png`` where the file asks for a plot).

    python experiments/run.py experiments/mcmu_power_allocation.yaml [--runs DIR] [--results DIR] [--only RUN ...]

An experiment file (YAML) names what it reproduces and lists its runs; every run is a
``gnn-design train`` configuration (the fields of :class:`designer.config.TrainConfig`) and the
keywords of :func:`designer.evaluation.evaluate`, over one or more seeds::

    description: Zhao et al. Fig. 6, MCMU power allocation
    defaults:                       # merged into every run (a run's own keys win)
      train: {spec: specs/mcmu_power_allocation.yaml, arch: vertex, epochs: 40}
      evaluate: {samples: 1000, seed: 12345}
    runs:
      - name: vertex_l4
        train: {model_options: {layers: 4}}
        evaluate: {sweep: [K, [4, 5, 6]]}
        seeds: [0, 1]
    plot: {x: K, y: ratio}          # optional: y of every row against x (a size, or a training field)

A run trains into ``<runs>/<experiment>/<name>_s<seed>``; a finished run is resumed, not
trained again. ``evaluate: {checkpoint: best}`` scores the state with the best validation
objective (early stopping on the validation set) instead of the last one. The test set is drawn once per run by ``evaluate`` (its ``seed`` differs from
the training and validation seeds), after training; settings are chosen on the validation
objective the training history records, which the results keep beside the test rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.atomic import write_files  # noqa: E402
from designer.evaluation import device_name, evaluate  # noqa: E402
from designer.problem import resolve  # noqa: E402
from designer.spec import load_spec  # noqa: E402
from designer.training import BEST, CHECKPOINT, TrainConfig, load_checkpoint, train  # noqa: E402


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: dict[str, Any] = {}
    evaluate: dict[str, Any] = {}


class Run(Part):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seeds: list[int] = [0]
    series: Optional[str] = None  # the plot's line this run belongs to (default: its name)


class Plot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: str
    y: str = "ratio"


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    defaults: Part = Part()
    runs: list[Run]
    plot: Optional[Plot] = None


def configs(experiment: Experiment, name: str, runs_dir: Path) -> list[tuple[str, str, TrainConfig, dict]]:
    """(label, series, training configuration, evaluate keywords) of every run and seed."""
    out = []
    for run in experiment.runs:
        for seed in run.seeds:
            label = f"{run.name}_s{seed}"
            fields = {**experiment.defaults.train, **run.train, "seed": seed, "out": str(runs_dir / name / label)}
            if "problem" not in fields:  # as gnn-design train: the spec's own problem
                fields["problem"] = resolve(load_spec(fields["spec"]).problem, Path(fields["spec"]).parent)
            keywords = {**experiment.defaults.evaluate, **run.evaluate}
            if isinstance(keywords.get("sweep"), list):
                keywords["sweep"] = tuple(keywords["sweep"])
            out.append((label, run.series or run.name, TrainConfig.model_validate(fields), keywords))
    return out


def finished(config: TrainConfig) -> bool:
    path = Path(config.out) / CHECKPOINT
    return path.exists() and load_checkpoint(str(path))["epoch"] >= config.epochs


def run_one(label: str, series: str, config: TrainConfig, keywords: dict) -> dict:
    """Train (or resume) one run and evaluate it once: its configuration, validation history and test rows."""
    history = train(config, resume=True, progress=False) if not finished(config) else \
        load_checkpoint(str(Path(config.out) / CHECKPOINT))["history"]
    scored = BEST if keywords.get("checkpoint", "last") == "best" else CHECKPOINT
    result = evaluate(str(Path(config.out) / scored), **{k: v for k, v in keywords.items() if k != "checkpoint"})
    best = max((h["val_objective"] for h in history if h.get("val_objective") is not None), default=None)
    validated = [h for h in history if h.get("val_objective") is not None]  # the per-epoch log is metrics.json
    return {"run": label, "series": series, "config": config.model_dump(), "evaluate": keywords, "best_val_objective": best,
            "history": validated, "result": result}


def points(record: dict, x: str, y: str) -> list[tuple[float, float]]:
    """(x, y) of every test row of one run: ``x`` a size symbol or scenario key of the row, else a
    field of the run's training configuration; ``y`` a field of the row."""
    out = []
    for row in record["result"]["rows"]:
        at = {**record["config"], **row["sizes"], **row["scenario"]}
        if row.get(y) is not None and isinstance(at.get(x), (int, float)):
            out.append((at[x], row[y]))
    return out


def plot(rows: list[dict], spec: Plot, path: Path, title: str) -> None:
    """``spec.y`` against ``spec.x``, one line per series (the mean over its runs and seeds, each a dot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups: dict[str, dict[float, list[float]]] = {}
    for record in rows:
        for x, y in points(record, spec.x, spec.y):
            groups.setdefault(record["series"], {}).setdefault(x, []).append(y)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, series in groups.items():
        xs = sorted(series)
        line, = ax.plot(xs, [sum(series[x]) / len(series[x]) for x in xs], "o-", label=name)
        for x in xs:
            ax.plot([x] * len(series[x]), series[x], ".", color=line.get_color(), alpha=0.5)
    if spec.x == "train_samples":  # log scale, labelled at the sample counts run
        ax.set_xscale("log")
        ax.set_xticks(sorted({x for series in groups.values() for x in series}))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel(spec.x)
    ax.set_ylabel(spec.y)
    ax.set_title("\n".join(textwrap.wrap(title, 72)), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="experiment file (YAML)")
    parser.add_argument("--runs", default="runs", help="where runs train (default runs/)")
    parser.add_argument("--results", default=str(ROOT / "experiments" / "results"), help="where results go")
    parser.add_argument("--only", nargs="*", help="run only these run names (label without _s<seed>)")
    args = parser.parse_args(argv)
    path = Path(args.experiment)
    name = path.stem
    experiment = Experiment.model_validate(yaml.safe_load(path.read_text()))
    out = Path(args.results) / f"{name}.json"
    done = {r["run"]: r for r in json.loads(out.read_text())["runs"]} if out.exists() else {}
    record = {"experiment": name, "description": experiment.description, "command": f"python experiments/run.py {path}",
              "machine": {"device": device_name("cpu"), "python": platform.python_version(), "torch": torch.__version__},
              "date": datetime.date.today().isoformat(), "runs": []}
    for label, series, config, keywords in configs(experiment, name, Path(args.runs)):
        previous = done.get(label)
        if args.only and label.rsplit("_s", 1)[0] not in args.only:
            if previous is not None:
                record["runs"].append(previous)
            continue
        same = (previous is not None and previous["config"] == config.model_dump()
                and previous["evaluate"] == json.loads(json.dumps(keywords)))
        record["runs"].append(previous if same else run_one(label, series, config, keywords))
        write_files({out: json.dumps(record, indent=1) + "\n"})  # a run's rows are kept as soon as they exist
        print(f"{label}: " + ", ".join(f"{r.get('ratio') or 0:.4f}" for r in record["runs"][-1]["result"]["rows"]),
              flush=True)
    rows = record["runs"]
    if experiment.plot is not None:
        plot(rows, experiment.plot, out.with_suffix(".png"), experiment.description)
    return 0


if __name__ == "__main__":
    sys.exit(main())
