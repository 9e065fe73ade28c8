"""Hostile and mutated specs, and the judge of what ``gnn-design compile`` does with one.

Shared by the property tests (tests/test_fuzz_specs.py, through hypothesis's ``st.randoms``)
and the long run (benchmarks/fuzz_specs.py, through seeded ``random.Random``): every generator
takes a ``random.Random`` and returns spec text, so both draw from the same families.

* ``text``: character-level edits of a shipped spec (control characters, unicode, YAML syntax,
  quotes, backslashes, huge numbers);
* ``data``: a shipped spec loaded, one value or key replaced by something hostile (code-like
  names and descriptions, huge and nested values), dumped back;
* ``yaml``: YAML features a spec must not use (documents, anchors, tags, complex and merge keys,
  deep nesting, long lines, BOM, CRLF);
* ``generated``: specs built from scratch: up to hundreds of sets, nesting, related sets, edges,
  constraints, sizes from 1 to 2**64.

:func:`judge` compiles a spec with the CLI in a scratch folder and says what, if anything, is
wrong: an exception or an exit code other than 0, 1 or 2; an error that is not one line; a
written module that fails to import, has side effects on import or whose ``PLAN`` is not the
compilation's.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import random
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {path.stem: path.read_text(encoding="utf-8") for path in sorted((ROOT / "specs").glob("*.yaml"))}

CONTROL = ["\x00", "\x07", "\x08", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028",
           "\u2029", "\u202e", "\ufeff", "\ud800"]
UNICODE = ["é", "ß", "名前", "𝔘𝔫𝔦", "ﬁ", "Ａ", "١٢", "\u0301", "Ω", "😀"]
YAML_SYNTAX = ["&a ", "*a", "!!python/object/apply:os.system ['x'] ", "!!str ", "? ", "- ", ": ", "{", "}", "[",
               "]", ",", "---\n", "...\n", "%YAML 1.1\n", "<<: ", "|\n", ">-\n", "'", '"', "#", "@", "`", "%", "~",
               "\n  ", "\n- ", "=", "\\"]
CODE = ['"""; import os; os.system(\'x\') #', "'''", "__import__('os').system('x')", "${HOME}", "{0.__class__}",
        "%(x)s", "\\N{BULLET}", "\\x00", "\\", "\\\\", '"', "'", "\\u202e", "exec('x')", "</script>", "#!/bin/sh",
        "lambda: 0", "os.system", "import sys"]
NUMBERS = ["0", "-1", "1.5", "1e400", "-0", "0x1F", "0o17", "1:20", "1_000", ".inf", ".nan", "9" * 30, "2**63",
           str(2 ** 63), str(2 ** 64 + 1), "9" * 5000]
NAMES = ["os", "sys", "PLAN", "runtime", "torch", "self", "print", "class", "match", "case", "type", "x__y", "_x",
         "A1", "x" * 100, "subprocess", "designer", "importlib", "builtins", "open", "eval", "nn", "forward",
         "sizes", "batch", "sqrt", "K", "n_t", "Exec", "True", "None", "a-b", "a b", "a.b", "ä", "x\n", "1a"]
SYMBOLS = ["K", "M", "N", "B", "Q", "N_t", "L"]


def hostile_string(rng: random.Random) -> str:
    """A string from the hostile pools, sometimes several glued, sometimes very long."""
    pool = CODE + UNICODE + CONTROL + YAML_SYNTAX + NAMES
    text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 4)))
    return text * rng.choice([1, 1, 1, 10, 1000]) if rng.random() < 0.2 else text


def hostile_value(rng: random.Random, depth: int = 0):
    """A YAML value a field does not expect: strings, numbers of every size, nested collections."""
    choice = rng.randrange(9)
    if choice == 0:
        return hostile_string(rng)
    if choice == 1:
        return rng.choice([0, -1, 1, 2 ** 31, 2 ** 63, -(2 ** 63), 2 ** 64, 10 ** 30, 10 ** 400])
    if choice == 2:
        return rng.choice([1.5, -0.0, 1e308, float("inf"), float("nan")])
    if choice == 3:
        return rng.choice([True, False, None])
    if choice == 4:
        return _nested(rng, rng.choice([5, 17, 100]))  # deeper nesting: yaml_feature (the dumper recurses)
    if choice == 5 and depth < 3:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if choice == 6 and depth < 3:
        return {rng.choice(NAMES): hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if choice == 7:
        return rng.choice(NAMES)
    return list(range(rng.choice([10, 1000, 20000])))


def _nested(rng: random.Random, depth: int):
    value = rng.choice([1, "x", []])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


# ---------------------------------------------------------------------------------------------
# The four families.
# ---------------------------------------------------------------------------------------------

def mutate_text(rng: random.Random) -> str:
    """A shipped spec with 1–5 character-level edits."""
    text = rng.choice(list(SHIPPED.values()))
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(len(text) + 1)
        edit = rng.randrange(6)
        if edit == 0:
            text = text[:i] + rng.choice(CONTROL + UNICODE + YAML_SYNTAX + CODE) + text[i:]
        elif edit == 1:
            text = text[:i] + text[i + rng.randint(1, 40):]
        elif edit == 2:
            lines = text.splitlines(keepends=True)
            k = rng.randrange(len(lines))
            text = "".join(lines[:k] + [lines[k]] * rng.randint(2, 3) + lines[k + 1:])
        elif edit == 3:
            text = text[:i] + rng.choice(NUMBERS) + text[i:]
        elif edit == 4:
            digits = [j for j, c in enumerate(text) if c.isdigit()]
            if digits:
                j = rng.choice(digits)
                text = text[:j] + rng.choice(NUMBERS) + text[j + 1:]
        else:
            text = text[:i] + rng.choice(NAMES) + text[i:]
    return text


def mutate_data(rng: random.Random) -> str:
    """A shipped spec loaded as data, 1–3 values or keys replaced by hostile ones, dumped back."""
    data = yaml.safe_load(rng.choice(list(SHIPPED.values())))
    for _ in range(rng.randint(1, 3)):
        container, key = _random_slot(rng, data)
        if rng.random() < 0.3 and isinstance(container, dict):
            value = container.pop(key)
            container[rng.choice(NAMES + [hostile_string(rng)])] = value
        else:
            container[key] = rng.choice([hostile_value(rng), hostile_string(rng), rng.choice(NAMES)])
    return dump(rng, data)


def yaml_feature(rng: random.Random) -> str:
    """A shipped spec wrapped in or spliced with a YAML feature a spec must not use."""
    text = rng.choice(list(SHIPPED.values()))
    feature = rng.randrange(10)
    if feature == 0:
        return text + "---\n" + text
    if feature == 1:
        return text + "x: &a [1, 2]\ny: *a\n"
    if feature == 2:
        return text.replace("name:", "name: !!python/object/apply:os.system ['echo x'] #", 1)
    if feature == 3:
        return text + "? [a, b]\n: 1\n"
    if feature == 4:
        return text + "<<: {description: x}\n"
    if feature == 5:
        depth = rng.choice([10, 17, 100, 5000, 50000])
        return text + "x: " + "[" * depth + "]" * depth + "\n"
    if feature == 6:
        return text + "description: " + "a" * rng.choice([1000, 300_000]) + "\n"
    if feature == 7:
        return "\ufeff" + text.replace("\n", "\r\n")
    if feature == 8:
        return "%YAML 1.1\n%TAG !e! tag:example.com,2000:\n---\n" + text
    return text + "{" * rng.choice([1, 100, 10_000]) + "\n"


def generated_spec(rng: random.Random) -> str:
    """A spec built from scratch: sets (nested, related), tensors, constraints, check sizes."""
    n = rng.choice([1, 2, 3, 3, 4, 5, 6, 8, 12, 30]) if rng.random() < 0.95 else rng.choice([256, 257, 3000])
    names = _unique_names(rng, n, "S")
    sets: dict = {}
    for i, name in enumerate(names):
        entry: dict = {"size": rng.choice(SYMBOLS[:4]) if rng.random() < 0.8 else rng.choice([1, 2, 3])}
        if i and rng.random() < 0.15:
            other = names[rng.randrange(i)]
            entry = {key: value for key, value in sets[other].items() if key in ("size", "parent")}
            entry["related"] = other
        elif i and rng.random() < (0.3 if n < 20 else 0.97):
            entry["parent"] = names[rng.randrange(i)] if rng.random() < 0.9 else rng.choice(names)
        if rng.random() < 0.05:
            entry["break_symmetry"] = rng.choice(["index", "random"])
        if rng.random() < 0.1:
            entry["description"] = hostile_string(rng)
        sets[name] = entry
    parents = {entry.get("parent") for entry in sets.values()}
    tensor_names = iter(_unique_names(rng, 3 * n + 8, "t"))
    tensors: dict = {}
    for name in names:
        if name not in parents or rng.random() < 0.3:
            tensors[next(tensor_names)] = {"role": rng.choice(["feature", "feature", "action"]), "dims": [name]}
    for _ in range(rng.randint(0, min(n, 6))):
        dims = [rng.choice(names), rng.choice(names)]
        entry = {"role": rng.choice(["feature", "action"]), "dims": dims}
        if rng.random() < 0.1:
            entry["support"] = "matched"
        if rng.random() < 0.2:
            entry["dtype"] = "complex"
        if rng.random() < 0.1:
            entry["channels"] = rng.choice(["N_t", 2, 3])
        tensors[next(tensor_names)] = entry
    symbols = {entry["size"] for entry in sets.values() if isinstance(entry["size"], str)}
    symbols |= {t["channels"] for t in tensors.values() if isinstance(t.get("channels"), str)}
    name = rng.choice(["fuzz", "os", "Spec1", "gen_spec", "PLAN"]) if rng.random() < 0.9 else rng.choice(NAMES)
    spec = {"name": name, "sets": sets, "tensors": tensors,
            "constraints": _constraints(rng, names, sorted(symbols), tensors)}
    if rng.random() < 0.3:
        spec["description"] = hostile_string(rng)
    spec["check_sizes"] = {symbol: _size(rng) for symbol in sorted(symbols)}
    if rng.random() < 0.2:
        spec["auto_edges"] = True
    return dump(rng, spec)


def _size(rng: random.Random) -> int:
    return rng.choice([1, 2, 2, 3, 3, 4]) if rng.random() < 0.95 else rng.choice([0, 7, 40, 10_000, 10_001, 2 ** 63,
                                                                                2 ** 64 + 1])


def _constraints(rng: random.Random, sets: list[str], symbols: list[str], tensors: dict) -> list:
    """Mostly well-formed constraints on the actions; now and then a hostile expression."""
    actions = [name for name, t in tensors.items() if t["role"] == "action"]
    out = []
    for _ in range(rng.randint(0, 3) if actions else 0):
        kind = rng.choice(["nonnegative", "power_budget", "total_power", "constant_modulus"])
        entry = {"kind": kind, "tensor": rng.choice(actions)}
        symbol = rng.choice(symbols or ["1"])
        value = rng.choice(["1", 2.5, 3, symbol, f"1/sqrt({symbol})", f"2*{symbol} - 1", f"({symbol} + 1)**2"])
        if rng.random() < 0.15:
            value = rng.choice(["(" * 20 + "1" + ")" * 20, "1" + "+1" * 200, f"{symbol}\n+1", "__import__('os')",
                                "1e-3", "K.real", "x" * 70])
        if kind == "power_budget":
            entry.update(per=rng.choice(sets), max=value)
        elif kind == "total_power":
            entry["value"] = value
        elif kind == "constant_modulus":
            entry["modulus"] = value
        out.append(entry)
    return out


def _unique_names(rng: random.Random, n: int, prefix: str) -> list[str]:
    """``n`` distinct names: mostly ``prefix0``…, some code-like or unusual."""
    names = []
    for i in range(n):
        name = f"{prefix}{i}" if rng.random() < 0.97 else rng.choice(NAMES) + str(i)
        names.append(name)
    return list(dict.fromkeys(names))


def _random_slot(rng: random.Random, data):
    """A random (container, key) inside ``data``: a mapping entry or a list item."""
    container = data
    while True:
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        if not keys:
            return data, "description"
        key = rng.choice(keys)
        if isinstance(container[key], (dict, list)) and container[key] and rng.random() < 0.7:
            container = container[key]
            continue
        return container, key


def dump(rng: random.Random, data) -> str:
    """YAML text of ``data`` in a random style (block or flow, unicode escaped or not)."""
    return yaml.safe_dump(data, default_flow_style=rng.choice([False, None, True]), allow_unicode=rng.random() < 0.5,
                          sort_keys=False, width=rng.choice([80, 10 ** 6]))


FAMILIES = {"text": mutate_text, "data": mutate_data, "yaml": yaml_feature, "generated": generated_spec}


def random_spec(rng: random.Random, family: str | None = None) -> tuple[str, str]:
    """(family, spec text) from ``family``, or from a random one."""
    family = family or rng.choice(sorted(FAMILIES))
    return family, FAMILIES[family](rng)


# ---------------------------------------------------------------------------------------------
# The judge.
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def time_bound(seconds: int):
    """Raise TimeoutError in the block after ``seconds`` (SIGALRM): a hang fails a test instead
    of blocking it."""
    def alarm(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Outcome:
    """What ``gnn-design compile`` did with a spec: the exit code (None when ``main`` raised),
    stderr, and ``problem``, a short label of what is wrong (None: an acceptable outcome)."""

    code: int | None
    stderr: str
    problem: str | None = None


def judge(text: str, folder: Path) -> Outcome:
    """Compile ``text`` (written to ``folder``/spec.yaml) with the CLI into ``folder``/out; on
    success import the module it wrote and compare its plan with the compilation's."""
    from designer.cli import main

    spec = folder / "spec.yaml"
    spec.write_bytes(text.encode("utf-8", "surrogatepass"))
    out = folder / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["compile", str(spec), "--out", str(out)])
    except MemoryError:
        return Outcome(None, stderr.getvalue(), "MemoryError")
    except Exception as exc:
        return Outcome(None, stderr.getvalue(), f"raised {type(exc).__name__}")
    err = stderr.getvalue()
    if code == 1:
        return Outcome(code, err, None if err.count("\n") == 1 and err.endswith("\n") else "error not one line")
    if code == 2:
        return Outcome(code, err, None if err.startswith("certificate failed") else "certificate failure text")
    if code == 3:
        return Outcome(code, err, "MemoryError" if "MemoryError" in err else "internal error")
    if code != 0:
        return Outcome(code, err, f"exit {code}")
    return Outcome(code, err, _check_module(spec, out))


def _check_module(spec: Path, out: Path) -> str | None:
    """None if the one module in ``out`` imports without side effects and encodes the plan.
    It is imported from an empty working directory beside ``out``: any file it writes, there
    or next to itself, or anything it prints, is a side effect."""
    from designer.compiler import compile_file
    from designer.emit import plan_from_compilation

    modules = sorted(out.glob("*.py"))
    if len(modules) != 1:
        return f"{len(modules)} modules written"
    cwd = out.parent / "cwd"
    cwd.mkdir()
    before = _snapshot(out.parent)
    name = f"_fuzz_generated_{os.getpid()}_{id(modules)}"
    printed = io.StringIO()
    dont_write, previous = sys.dont_write_bytecode, Path.cwd()
    sys.dont_write_bytecode = True
    os.chdir(cwd)
    try:
        module_spec = importlib.util.spec_from_file_location(name, modules[0])
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            module_spec.loader.exec_module(module)
    except Exception as exc:
        return f"import failed: {type(exc).__name__}"
    finally:
        os.chdir(previous)
        sys.modules.pop(name, None)
        sys.dont_write_bytecode = dont_write
    if _snapshot(out.parent) != before or printed.getvalue():
        return "side effects on import"
    if module.PLAN != plan_from_compilation(compile_file(spec)):
        return "PLAN differs from the compilation"
    return None


def _snapshot(folder: Path) -> tuple:
    """Every path under ``folder``, with its size and modification time."""
    return tuple((str(p), p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(folder.rglob("*")))
