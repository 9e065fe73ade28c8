"""``gnn-design``: compile a spec into certified type tables and a model; train and evaluate it.

Exit codes: 0 success, 1 invalid input (spec, arguments, files), 2 certificate failed, 3 internal
error (a one-line report; set ``GNN_DESIGN_TRACEBACK=1`` to see the traceback), 130 interrupted.
Every failure prints one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import typing
from pathlib import Path

from .atomic import write_files
from pydantic import ValidationError

from .config import TrainConfig
from .limits import Limits, parse_limit
from .problem import ProblemError, label, resolve
from .spec import SpecError, json_schema, load_spec

EXIT_OK, EXIT_INVALID, EXIT_CERTIFICATE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block): ``gnn-design compile: error: ...``."""

    def error(self, message: str):
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parse_size(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected SYMBOL=N")
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r}: {value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"--size {text!r}: sizes must be positive integers")
    return name, number


def _compile(args) -> int:
    from .compiler import CertificateFailure, compile_file
    from .draw import draw
    from .emit import emit_module
    from .report import failure_text, to_json, to_markdown

    try:
        compilation = compile_file(args.spec, dict(args.size or []), auto_edges=args.auto_edges or None,
                                   limits=Limits().replace(**dict(args.limit or [])))
        markdown, data = to_markdown(compilation), to_json(compilation)
        files = {Path(args.out) / f"{compilation.spec.name}.md": markdown,
                 Path(args.out) / f"{compilation.spec.name}.json": data,
                 Path(args.out) / f"{compilation.spec.name}.py": emit_module(compilation)}
        drawing = None if args.no_draw or args.no_write else draw(compilation)
        if drawing:
            files[Path(args.out) / f"{compilation.spec.name}.svg"] = drawing.svg
    except SpecError as exc:
        exc.file = exc.file or args.spec
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except CertificateFailure as exc:
        print(failure_text(exc), file=sys.stderr)
        return EXIT_CERTIFICATE
    if not args.no_write:
        try:
            write_files(files)
        except OSError as exc:
            print(f"error: {args.spec}: cannot write to {args.out}: {_os_error(exc)}", file=sys.stderr)
            return EXIT_INVALID
    print(data if args.format == "json" else markdown, end="")
    if not args.no_write and args.format == "text":
        print("\nwrote " + ", ".join(str(p) for p in files))
        if drawing is not None and not drawing:
            print(f"typed graph {drawing.reason}")
    return EXIT_OK


def _parse_limit(text: str) -> tuple[str, int]:
    try:
        return parse_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _os_error(exc: OSError) -> str:
    """``strerror: filename`` of an OSError, on one line."""
    if exc.strerror is None:
        return str(exc) or type(exc).__name__
    return ": ".join(str(p) for p in (exc.strerror, exc.filename) if p)


def _parse_option(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    for cast in (int, float):
        try:
            return name, cast(value)
        except ValueError:
            pass
    return name, {"true": True, "false": False}.get(value.lower(), value)


def _parse_scenario(text: str) -> tuple[str, object]:
    """KEY=VALUE for a scenario keyword: a number, a word, or a range LO:HI (a pair of numbers)."""
    name, value = _parse_option(text)
    if isinstance(value, str) and value.count(":") == 1:
        try:
            return name, tuple(float(v) for v in value.split(":"))
        except ValueError:
            pass
    return name, value


def _parse_sweep(text: str) -> tuple[str, list]:
    """KEY=V1,V2,... for a size symbol (positive integers) or a scenario keyword (numbers, words
    or ranges LO:HI, as --scenario's values)."""
    name, sep, values = text.partition("=")
    if not sep or not name.isidentifier() or not all(values.split(",")):
        raise argparse.ArgumentTypeError(f"--sweep {text!r}: expected KEY=V1,V2,... (a size symbol or a "
                                         "scenario keyword, then its values)")
    return name, [_parse_scenario(f"{name}={v}")[1] for v in values.split(",")]


ITEM_PARSERS = {"size": _parse_size, "scenario": _parse_scenario, "option": _parse_option}


def add_config_options(parser: argparse.ArgumentParser, model) -> None:
    """One option per field of the pydantic ``model``: its description is the help, its default
    the default (left to the model: an option not given is not set), a ``Literal`` its choices,
    a bool a switch, a mapping a repeatable ``KEY=VALUE`` (see :func:`designer.config.option`)."""
    for name, field in model.model_fields.items():
        cli = (field.json_schema_extra or {}).get("cli", {})
        flag = _flag(model, name)
        shown = not field.is_required() and field.default not in ({}, None, False)
        default = f" (default: {field.default})" if shown else ""
        kwargs = {"help": (field.description or "") + default}
        if flag.startswith("--"):
            kwargs.update(dest=name, default=argparse.SUPPRESS)
        choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else ()
        if field.annotation is bool:
            kwargs["action"] = "store_true"
        elif "parse" in cli:
            kwargs.update(action="append", type=ITEM_PARSERS[cli["parse"]])
        elif choices:
            kwargs["choices"] = choices
        elif flag.startswith("--"):
            kwargs["type"] = _field_type(field.annotation)
        if "metavar" in cli:
            kwargs["metavar"] = cli["metavar"]
        parser.add_argument(flag, **kwargs)


def _flag(model, name: str) -> str:
    """The command-line option of field ``name`` of ``model``."""
    field = model.model_fields.get(name)
    cli = (field.json_schema_extra or {}).get("cli", {}) if field else {}
    return cli.get("flag", "--" + name.replace("_", "-"))


def _field_type(annotation):
    """int or float for a field typed so (``Optional`` included), else str."""
    candidates = [a for a in (typing.get_args(annotation) or (annotation,)) if a is not type(None)]
    return candidates[0] if candidates and candidates[0] in (int, float) else str


def config_values(args, model) -> dict:
    """The fields of ``model`` given on the command line (``KEY=VALUE`` lists as dicts)."""
    values = {name: getattr(args, name) for name in model.model_fields if hasattr(args, name)}
    return {name: dict(v) if isinstance(v, list) else v for name, v in values.items()}


def _device_ok(device: str) -> bool:
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("error: --device cuda requested but no CUDA device is available", file=sys.stderr)
            return False
    return True


def _problem_reference(args, spec) -> str:
    """The run's problem: ``--problem`` (relative to the working directory), else the spec's
    ``problem:`` (relative to the spec's folder), as an absolute reference."""
    if getattr(args, "problem", None):
        return resolve(args.problem)
    if spec.problem:
        return resolve(spec.problem, Path(args.spec).parent)
    raise SpecError("the spec names no problem to train: add `problem: module:attribute` (or "
                    "path/to/file.py:attribute, or a registered name) to it, or pass --problem", "problem", args.spec)


def _train(args) -> int:
    from .training import load_problem, train

    try:
        values = config_values(args, TrainConfig)
        values["problem"] = _problem_reference(args, load_spec(args.spec))
        values.setdefault("out", f"runs/{Path(args.spec).stem}_{values.get('arch', 'vertex_edge')}")
        config = TrainConfig(**values)
        problem = load_problem(config)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = f"{_flag(TrainConfig, str(error['loc'][0]))}: " if error["loc"] else ""
        print(f"error: {where}{error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return EXIT_INVALID
    except (SpecError, ProblemError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not _device_ok(config.device):
        return EXIT_INVALID
    try:
        history = train(config, resume=args.resume or args.resume_anyway, progress=not args.no_progress,
                        resume_anyway=args.resume_anyway)
    except (SpecError, ValueError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return EXIT_INVALID
    if history and int(os.environ.get("RANK", "0")) == 0:
        last = history[-1]
        print(f"{config.out}: epoch {last['epoch']}, validation {label(problem)} {last['val_objective']:.4f}")
    return EXIT_OK


def _number(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _evaluate(args) -> int:
    from .evaluation import evaluate, plot_sweep

    if not _device_ok(args.device):
        return EXIT_INVALID
    try:
        result = evaluate(args.checkpoint, [dict([s]) for s in args.size or []], samples=args.samples,
                          seed=args.seed, device=args.device, scenario=dict(args.scenario or []), sweep=args.sweep,
                          batch=args.batch, reference_batch=args.reference_batch,
                          reference_options=dict(args.reference_option or []), compile_mode=args.compile,
                          refine=args.refine, problem=args.problem and resolve(args.problem),
                          problem_options=None if args.problem_option is None else dict(args.problem_option),
                          data=args.data)
        if args.plot:
            if not args.sweep:
                raise ValueError("--plot needs --sweep KEY=V1,V2,...")
            plot_sweep(result, args.sweep[0], args.plot)
    except (ValueError, RuntimeError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        _print_result(result)
    return EXIT_OK


def _print_result(result: dict) -> None:
    """The rows of :func:`designer.evaluation.evaluate` as a Markdown table, then per row the
    alternatives, the speed at equal quality and any refinement."""
    trained = ("" if result["trained_problem"] == result["problem_reference"]
               else f", trained as {result['trained_problem']}")
    print(f"{result['problem']} ({result['arch']}{trained}) on {result['device']} ({result['device_name']}), "
          f"{result['samples']} samples, model batch {result['batch']}, reference batch "
          f"{result['reference_batch']}; {result['objective']}")
    print("| sizes | model | reference | ratio | model ms/sample | reference ms/sample | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        speedup = "—" if r["speedup"] is None else f"{r['speedup']:.1f}×"
        print(f"| {_at(r)} | {_number(r['model_objective'])} | {_number(r['reference_objective'])} "
              f"| {_number(r['ratio'], 4)} | {_number(r['model_ms_per_sample'], 4)} "
              f"| {_number(r['reference_ms_per_sample'], 4)} | {speedup} |")
    for r in result["rows"]:
        for line in _row_notes(r):
            print(f"{_at(r)}: {line}")


def _at(row: dict) -> str:
    at = {**row["sizes"], **row["scenario"]}
    return ", ".join(f"{k}={v}" for k, v in at.items()) or "scenario defaults"


def _row_notes(r: dict) -> list[str]:
    """One line per alternative, the equal-quality search, and the scores of a model with
    reference iterations inside or after it."""
    lines = []
    for name, alt in r["alternatives"].items():
        if "not_applicable" in alt:
            lines.append(f"{name}: does not apply ({alt['not_applicable']})")
        else:
            lines.append(f"{name}: {alt['objective']:.3f} ({alt['reference_ratio']:.4f} of the reference), "
                         f"{alt['ms_per_sample']:.4f} ms/sample; model / {name} = {alt['model_ratio']:.4f}")
    match = r.get("equal_quality")
    if match is not None and match["iterations"] is None:
        lines.append(f"the reference does not reach the model within {match['cap']} iterations "
                     f"({match['objective']:.3f})")
    elif match is not None:
        lines.append(f"the reference equals the model after {match['iterations']} iterations "
                     f"({match['objective']:.3f}), {match['ms_per_sample']:.4f} ms/sample: the model is "
                     f"{match['speedup']:.1f}× faster at equal quality")
    if "reference_inside" in r:
        h = r["reference_inside"]
        lines.append(f"a hybrid: the model's actions pass through {h['iterations']} reference "
                     f"iterations; the same iterations from the reference's own start score "
                     f"{h['same_iterations_objective']:.3f} (model / that = {h['model_ratio']:.4f})")
    if "refined" in r:
        ref = r["refined"]
        lines.append(f"model + {ref['iterations']} reference iterations (a hybrid): {ref['objective']:.3f}, ratio "
                     f"{ref['ratio']:.4f}, {ref['ms_per_sample']:.4f} ms/sample, {ref['speedup']:.1f}× faster "
                     f"than the reference")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gnn-design", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    comp = sub.add_parser("compile", help="build G, the typed graph, its certificate and the architecture tables")
    comp.add_argument("spec", help="path to a YAML spec")
    comp.add_argument("--size", action="append", type=_parse_size, metavar="SYMBOL=N",
                      help="override a size of the check instance (repeatable)")
    comp.add_argument("--format", choices=("text", "json"), default="text")
    comp.add_argument("--out", default="generated", help="output directory (default: generated)")
    comp.add_argument("--no-write", action="store_true", help="print only; write no files")
    comp.add_argument("--no-draw", action="store_true",
                      help="do not write <out>/<name>.svg, the drawing of the typed graph at the check instance")
    comp.add_argument("--limit", action="append", type=_parse_limit, metavar="NAME=N",
                      help="raise (or lower) a resource limit, e.g. sets=1000 or vertices=5000 (repeatable; "
                           "docs/spec-language.md, Limits)")
    comp.add_argument("--auto-edges", action="store_true",
                      help="after S4new, add suggested edge orbits until the certificate holds")
    comp.set_defaults(run=_compile)
    tr = sub.add_parser("train", help="train a compiled model unsupervised (loss = -objective)")
    add_config_options(tr, TrainConfig)
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out (same options, "
                    "spec text, problem and objective)")
    tr.add_argument("--resume-anyway", action="store_true",
                    help="continue from the checkpoint in --out although the spec text, problem or objective "
                         "changed since it was written")
    tr.add_argument("--no-progress", action="store_true")
    tr.set_defaults(run=_train)
    ev = sub.add_parser("evaluate", help="sum rate, ratio to the reference and runtime of a checkpoint")
    ev.add_argument("checkpoint", help="checkpoint file or run directory")
    ev.add_argument("--size", action="append", type=_parse_size, metavar="SYMBOL=N",
                    help="also evaluate with this size changed (repeatable, one row each)")
    ev.add_argument("--scenario", action="append", type=_parse_scenario, metavar="KEY=VALUE",
                    help="keyword of the problem's scenario for every row (repeatable; default: the training "
                         "run's), e.g. field=4472 or noise_dbm=-89")
    ev.add_argument("--sweep", type=_parse_sweep, metavar="KEY=V1,V2,...",
                    help="one row per value of a size symbol (K=20,40,60) or of a scenario keyword "
                         "(field=2000,3000 or noise_dbm=-99,-94,-89)")
    ev.add_argument("--samples", type=int, default=1000)
    ev.add_argument("--seed", type=int, default=12345)
    ev.add_argument("--batch", type=int, default=256, help="model inference batch")
    ev.add_argument("--reference-batch", type=int, metavar="B",
                    help="solve the references B samples at a time (default: all at once; 1: one sample "
                         "after another, as a sequential solver runs)")
    ev.add_argument("--reference-option", action="append", type=_parse_option, metavar="KEY=VALUE",
                    help="keyword of the problem's reference (repeatable), e.g. iters=1000 or init=uniform "
                         "for WMMSE; the alternative references keep their defaults")
    ev.add_argument("--compile", nargs="?", const="default", metavar="MODE",
                    help="run the model through torch.compile in MODE (default, reduce-overhead or "
                         "max-autotune; no MODE: default); it compiles in the untimed warm-up")
    ev.add_argument("--refine", type=int, default=0, metavar="T",
                    help="also score the model's beams refined by T iterations of the reference started from "
                         "them, timed with the model (interference channel, cooperative beamforming)")
    ev.add_argument("--problem", metavar="REFERENCE",
                    help="score the model as this problem instead of the training run's (its samples must fit "
                         "the model's features)")
    ev.add_argument("--problem-option", action="append", type=_parse_option, metavar="KEY=VALUE",
                    help="replace the run's problem options (repeatable), e.g. a model trained with "
                         "inner_iterations=3 run with inner_iterations=8")
    ev.add_argument("--data", metavar="FILE",
                    help="score the feature tensors of a .pt or .npz file instead of drawing --samples")
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--format", choices=("text", "json"), default="text")
    ev.add_argument("--plot", help="write a PNG of the sweep (needs matplotlib)")
    ev.set_defaults(run=_evaluate)
    schema = sub.add_parser("schema", help="print the JSON Schema of the spec language")
    schema.set_defaults(run=lambda args: print(json.dumps(json_schema(), indent=2)) or EXIT_OK)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (see the module docstring). No failure ends in
    a traceback: an unexpected exception is an internal error, reported in one line."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_INVALID if exc.code else EXIT_OK
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: every failure a user can cause is handled above
        if os.environ.get("GNN_DESIGN_TRACEBACK"):
            traceback.print_exc()
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        text = " ".join(str(exc).split())[:300] or "no message"
        print(f"internal error: {type(exc).__name__}{at}: {text} (please report it; set GNN_DESIGN_TRACEBACK=1 "
              "for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
