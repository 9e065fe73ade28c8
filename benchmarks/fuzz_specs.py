"""Long fuzz run of ``gnn-design compile`` on mutated and hostile specs. Not a test: prints counts.

    python benchmarks/fuzz_specs.py --count 10000 --seed 0 [--jobs 2] [--timeout 10] [--save DIR]

Spec ``i`` is drawn from ``random.Random(f"{seed}:{i}")`` by the families of
tests/fuzz_strategies.py (the property tests draw from the same ones) and judged there: compiled
with the CLI in a scratch folder, and on success the written module imported and its plan
compared. Each spec runs in a worker process under a time bound (a worker past it is killed and
replaced: a hang) and a memory bound (RLIMIT_DATA: a runaway allocation ends in MemoryError, not
in the machine's OOM killer). Counts: ok (exit 0), invalid (exit 1), certificate failed (exit 2),
and every problem: internal error, MemoryError, hang, a worker that died, an error that is not one
line, a module that fails to import, has side effects or encodes another plan. ``--save`` writes
the spec of every problem to DIR for reproduction (``gnn-design compile DIR/<file>``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import wait
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_strategies import FAMILIES, judge, random_spec  # noqa: E402  (tests/ is on the path only now)

RESULTS = {0: "ok", 1: "invalid (exit 1)", 2: "certificate failed (exit 2)"}


def draw(seed: int, index: int, family: str | None) -> tuple[str, str]:
    """(family, spec text) of spec ``index``: the same on every run and in every worker."""
    return random_spec(random.Random(f"{seed}:{index}"), family)


def _serve(connection, seed: int, family: str | None, memory_gb: float) -> None:
    """Worker: judge the spec of every index received; send back (family, outcome label, line)."""
    resource.setrlimit(resource.RLIMIT_DATA, (int(memory_gb * 2 ** 30),) * 2)
    import designer.runtime.model  # noqa: F401  (torch: once per worker, outside the time of a spec)

    while True:
        index = connection.recv()
        kind, text = draw(seed, index, family)
        with tempfile.TemporaryDirectory() as folder:
            outcome = judge(text, Path(folder))
        label = outcome.problem or RESULTS[outcome.code]
        connection.send((kind, label, outcome.stderr.strip().splitlines()[0][:200] if outcome.stderr.strip() else ""))


class Worker:
    """A worker process and the spec it is judging (with its deadline)."""

    def __init__(self, args):
        self.connection, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child, args.seed, args.family, args.memory),
                                               daemon=True)
        self.process.start()
        self.index, self.deadline = None, None

    def give(self, index: int, timeout: float) -> None:
        self.connection.send(index)
        self.index, self.deadline = index, time.monotonic() + timeout

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


def run(args) -> tuple[Counter, dict]:
    """Judge specs 0 .. count-1; return the counts by (family, label) and one example per label."""
    counts: Counter = Counter()
    examples: dict[str, tuple[int, str]] = {}
    pending = list(range(args.count - 1, -1, -1))
    workers = [Worker(args) for _ in range(args.jobs)]
    startup = 60.0  # the first spec of a worker waits for its imports as well
    for w in workers:
        if pending:
            w.give(pending.pop(), args.timeout + startup)
    done = 0
    while any(w.index is not None for w in workers):
        busy = [w for w in workers if w.index is not None]
        ready = wait([w.connection for w in busy], timeout=max(0.0, min(w.deadline for w in busy) - time.monotonic()))
        for i, w in enumerate(workers):
            if w.index is None:
                continue
            if w.connection in ready:
                try:
                    kind, label, line = w.connection.recv()
                except EOFError:  # the worker died (a signal, the OOM killer)
                    kind, label, line = draw(args.seed, w.index, args.family)[0], "worker died", ""
            elif time.monotonic() > w.deadline:
                kind, label, line = draw(args.seed, w.index, args.family)[0], f"hang (> {args.timeout:g} s)", ""
            else:
                continue
            counts[(kind, label)] += 1
            examples.setdefault(label, (w.index, line))
            if label not in RESULTS.values() and args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"spec_{args.seed}_{w.index}.yaml").write_bytes(
                    draw(args.seed, w.index, args.family)[1].encode("utf-8", "surrogatepass"))
            if label.startswith(("hang", "worker died")):
                w.stop()
                w = workers[i] = Worker(args)
                timeout = args.timeout + startup
            else:
                timeout = args.timeout
            w.index = None
            if pending:
                w.give(pending.pop(), timeout)
            done += 1
            if args.progress and done % 500 == 0:
                print(f"{done}/{args.count}", file=sys.stderr, flush=True)
    for w in workers:
        w.stop()
    return counts, examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", choices=sorted(FAMILIES), help="draw from one family only")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per spec before it counts as a hang")
    parser.add_argument("--memory", type=float, default=2.0, help="GiB of data per worker (RLIMIT_DATA)")
    parser.add_argument("--save", help="folder for the specs of every problem")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    start = time.monotonic()
    counts, examples = run(args)
    labels = sorted({label for _, label in counts}, key=lambda x: (x not in RESULTS.values(), x))
    families = sorted({kind for kind, _ in counts})
    print(f"{args.count} specs, seed {args.seed}, {args.jobs} worker(s), {args.timeout:g} s and {args.memory:g} GiB "
          f"per spec, {time.monotonic() - start:.0f} s\n")
    print("| outcome | " + " | ".join(families) + " | total |")
    print("|---|" + "---|" * (len(families) + 1))
    for label in labels:
        row = [counts[(kind, label)] for kind in families]
        print(f"| {label} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    problems = [label for label in labels if label not in RESULTS.values()]
    print(f"\nproblems: {sum(counts[(k, label)] for k in families for label in problems)}")
    for label in problems:
        index, line = examples[label]
        print(f"- {label}: spec {index} (seed {args.seed}): {line}")


if __name__ == "__main__":
    main()
