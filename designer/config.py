"""The configuration of a training run: one typed model (pydantic) that is stored in every
checkpoint and from which ``gnn-design train``'s options are generated (:mod:`designer.cli`), so
defaults, choices and help cannot drift apart. Torch-free."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .architecture import ARCHITECTURES

LR_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adamw", "rmsprop")


def option(default=..., help: str = "", *, flag: str | None = None, metavar: str | None = None,
           parse: str | None = None, **constraints):
    """A field of :class:`TrainConfig` and the command-line option it is set by: ``flag`` (default
    ``--field-name``), ``metavar``, and for a mapping the parser of its ``KEY=VALUE`` items
    (``parse``: ``size``, ``scenario`` or ``option``, see :mod:`designer.cli`)."""
    cli = {k: v for k, v in {"flag": flag, "metavar": metavar, "parse": parse}.items() if v is not None}
    return Field(default, description=help, json_schema_extra={"cli": cli}, **constraints)


class TrainConfig(BaseModel):
    """Everything that determines a training run (stored in every checkpoint), and the options of
    ``gnn-design train``: each field's description is its help, its default the option's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: str = option(help="path to the YAML spec", flag="spec")
    problem: str = option(help="the problem to optimise: module:attribute, path/to/file.py:attribute or a "
                               "registered name (default: the spec's `problem:`)", metavar="REFERENCE")
    arch: Literal[ARCHITECTURES] = option(
        "vertex_edge", "vertex (Zhao Prop. 1), edge (Prop. 2), vertex_edge (ENGNN) or fnn (baseline)")
    sizes: dict[str, int] = option({}, "training sizes (repeatable)", flag="--size", metavar="SYMBOL=N",
                                   parse="size")
    scenario: dict[str, Any] = option(
        {}, "a parameter of the problem's Scenario for the training and validation sets (repeatable): a number "
            "(noise_dbm=-89), a word, or a range LO:HI where the parameter takes one (field=900:2000)",
        metavar="KEY=VALUE", parse="scenario")
    problem_options: dict[str, Any] = option(
        {}, "a parameter of the problem's Options (repeatable), e.g. inner_iterations=3",
        flag="--problem-option", metavar="KEY=VALUE", parse="option")
    data: Optional[str] = option(None, "train on the feature tensors of a .pt or .npz file instead of the "
                                       "problem's samples (the last --val-samples validate; designer/data.py)",
                                 metavar="FILE")
    model_options: dict[str, Any] = option(
        {}, "option of the model (repeatable), e.g. preset=engnn, hidden=64, layers=3, sharing=none "
            "(designer.runtime.Options)", flag="--model-option", metavar="KEY=VALUE", parse="option")
    train_samples: int = option(10_000, "training samples (per epoch with --fresh)", flag="--samples", metavar="N",
                                gt=0)
    fresh: bool = option(False, "draw a new training set every epoch, seeded by --seed and the epoch "
                                "(ENGNN's training)")
    val_samples: int = option(1_000, "validation samples", metavar="N", gt=0)
    val_every: int = option(1, "validate every N epochs (and after the last)", metavar="N", gt=0)
    epochs: int = option(50, "epochs", metavar="N", gt=0)
    batch: int = option(256, "batch size", metavar="N", gt=0)
    lr: float = option(1e-3, "learning rate", gt=0)
    lr_schedule: Literal[LR_SCHEDULES] = option("constant", "constant, or cosine annealing to lr/100 over the epochs")
    imitate_epochs: int = option(0, "first E epochs imitate the problem's reference on the training set "
                                    "(supervised warm start; where the problem defines an imitation loss), "
                                    "then maximise the objective", metavar="E", ge=0)
    augment: bool = option(False, "transform every training batch by the problem's augmentation (a random "
                                  "invariance of the objective; where the problem defines one)")
    optimizer: Literal[OPTIMIZERS] = option("adam", "optimizer")
    weight_decay: float = option(0.0, "L2 penalty (adam, rmsprop) or decoupled weight decay (adamw)", ge=0)
    clip_grad: float = option(0.0, "rescale every step's gradient to at most this global norm (0: off)",
                              metavar="NORM", ge=0)
    seed: int = option(0, "seed of the data (training and validation sets, batch order) and, unless "
                          "--init-seed is given, of the initial weights")
    init_seed: Optional[int] = option(None, "seed of the initial weights alone (default: --seed)", metavar="SEED")
    device: str = option("cpu", "cpu or cuda (a run may resume on the other)")
    backend: Literal["auto", "gloo", "nccl"] = option(
        "auto", "DDP backend under torchrun (auto: NCCL on GPU, gloo on CPU; gloo can put several processes "
                "on one GPU)", flag="--dist-backend")
    out: str = option("runs/run", "run directory (gnn-design train: runs/<spec>_<arch> unless given)")

    @model_validator(mode="after")
    def _data_is_fixed(self):
        if self.data is not None and self.fresh:
            raise ValueError("--fresh draws new samples every epoch; it cannot be combined with --data")
        return self
