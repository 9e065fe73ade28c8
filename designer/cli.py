"""``gnn-design``: compile a spec into certified type tables (and, later stages, models).

Exit codes: 0 success, 1 invalid spec or arguments, 2 certificate failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .spec import SpecError, json_schema

EXIT_OK, EXIT_SPEC, EXIT_CERTIFICATE = 0, 1, 2


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


def write_atomically(files: dict[Path, str]) -> None:
    """Write every file to a temporary sibling first, then rename them all into place."""
    staged = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            staged.append((tmp, path))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _compile(args) -> int:
    from .compiler import CertificateFailure, compile_file
    from .report import failure_text, to_json, to_markdown

    try:
        compilation = compile_file(args.spec, dict(args.size or []), auto_edges=args.auto_edges or None)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SPEC
    except CertificateFailure as exc:
        print(failure_text(exc), file=sys.stderr)
        return EXIT_CERTIFICATE
    markdown, data = to_markdown(compilation), to_json(compilation)
    files = {Path(args.out) / f"{compilation.spec.name}.md": markdown,
             Path(args.out) / f"{compilation.spec.name}.json": data}
    files.update(_emitted_modules(compilation, args))
    if not args.no_write:
        write_atomically(files)
    print(data if args.format == "json" else markdown, end="")
    if not args.no_write and args.format == "text":
        print("\nwrote " + ", ".join(str(p) for p in files))
    return EXIT_OK


def _emitted_modules(compilation, args) -> dict[Path, str]:
    """Generated PyTorch modules, when the emission stage is available."""
    try:
        from .emit import emit_module
    except ImportError:
        return {}
    return {Path(args.out) / f"{compilation.spec.name}.py": emit_module(compilation)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gnn-design", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser("compile", help="build G, the typed graph, its certificate and the architecture tables")
    comp.add_argument("spec", help="path to a YAML spec")
    comp.add_argument("--size", action="append", type=_parse_size, metavar="SYMBOL=N",
                      help="override a size of the check instance (repeatable)")
    comp.add_argument("--format", choices=("text", "json"), default="text")
    comp.add_argument("--out", default="generated", help="output directory (default: generated)")
    comp.add_argument("--no-write", action="store_true", help="print only; write no files")
    comp.add_argument("--auto-edges", action="store_true",
                      help="after S4new, add suggested edge orbits until the certificate holds")
    comp.set_defaults(run=_compile)
    schema = sub.add_parser("schema", help="print the JSON Schema of the spec language")
    schema.set_defaults(run=lambda args: print(json.dumps(json_schema(), indent=2)) or EXIT_OK)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_SPEC if exc.code else EXIT_OK
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
