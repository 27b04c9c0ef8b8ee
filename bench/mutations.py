"""Hand-written mutation run over the modules that hold SECURITY.md's guarantees.

Each mutation in ``bench/mutations.toml`` breaks one guarantee in the smallest way (an exact
piece of source text replaced by another) and names the tests that claim the guarantee. This
script copies the working tree (uncommitted changes and new files included, ``.venv`` and
``.git`` left out) to a temporary directory, never touching the tree it was started from, and
for each mutation: applies it to the copy, runs the named tests there with the shared venv's
pytest (``PYTHONPATH`` and the working directory point at the copy, and the run checks that the
copy's ``lapor`` is the one imported), and restores the file. A mutation the tests fail on is
*killed*; one they pass on *survived*: the guarantee is not held by a test.

Why by hand rather than mutmut or cosmic-ray: their operators mutate every comparison of a
module, mostly in code no guarantee depends on, and cannot remove a trigger from a migration
string or a clause from SQL; each mutation here is one a reviewer made or could make.

Before the mutations, the named tests run once on the unmutated copy (``--no-baseline`` skips
it): a test already failing there would "kill" every mutation, so its mutations are reported as
``baseline-failed`` instead. A mutation whose original text is missing (the code moved on) is
``stale``. Exit status: 0 when every mutation was killed, 1 otherwise.

    .venv/bin/python bench/mutations.py                 # all of them
    .venv/bin/python bench/mutations.py --only typ-check,issuer-check
    .venv/bin/python bench/mutations.py --list
    .venv/bin/python bench/mutations.py --markdown      # a table for bench/RESULTS.md at the end
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = Path(__file__).with_suffix(".toml")
SKIPPED_DIRS = {".venv", ".git", ".lapor", ".ruff_cache", ".pytest_cache", "__pycache__", "node_modules"}


@dataclass(frozen=True)
class Mutation:
    id: str
    guarantee: str
    file: str
    original: tuple[str, ...]
    replacement: tuple[str, ...]
    """Several edits of one file: ``original[i]`` becomes ``replacement[i]``."""
    tests: tuple[str, ...]
    note: str = ""


@dataclass
class Result:
    mutation: Mutation
    outcome: str
    """killed, survived, stale, baseline-failed, timeout or error."""
    seconds: float
    detail: str = ""


def load(path: Path = TABLE) -> list[Mutation]:
    """The table; each entry's original text must be non-empty and differ from its replacement."""
    raw = tomllib.loads(path.read_text())
    mutations = []
    for entry in raw["mutation"]:
        mutation = Mutation(
            id=entry["id"],
            guarantee=entry["guarantee"],
            file=entry["file"],
            original=_strings(entry["original"]),
            replacement=_strings(entry["replacement"]),
            tests=tuple(entry["tests"]),
            note=entry.get("note", ""),
        )
        pairs = list(zip(mutation.original, mutation.replacement, strict=False))
        if len(mutation.original) != len(mutation.replacement) or any(not o or o == r for o, r in pairs):
            raise SystemExit(
                f"mutation {mutation.id}: empty original, replacement equal to it, or a count mismatch"
            )
        mutations.append(mutation)
    ids = [m.id for m in mutations]
    if len(set(ids)) != len(ids):
        raise SystemExit("mutation ids must be unique")
    return mutations


def _strings(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def copy_tree(source: Path) -> Path:
    """The working tree as it is now (uncommitted and untracked files included) in a temp dir."""
    target = Path(tempfile.mkdtemp(prefix="lapor-mutants-")) / "tree"

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {name for name in names if name in SKIPPED_DIRS or name.endswith(".pyc")}

    shutil.copytree(source, target, ignore=ignore, symlinks=True)
    return target


def environment(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("CI", "true")  # a skip would hide a surviving mutation
    return env


def check_imports_the_copy(tree: Path, python: str) -> None:
    """The editable install points at the original tree: make sure the copy wins."""
    done = subprocess.run(
        [python, "-c", "import lapor, tests; print(lapor.__file__); print(tests.__file__)"],
        cwd=tree,
        env=environment(tree),
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stdout.split():
        if not Path(line).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"the copy is not what gets imported: {line} (expected under {tree})")


def run_tests(tree: Path, pytest: str, tests: tuple[str, ...], timeout: float) -> tuple[int | None, str]:
    command = [pytest, "-q", "-x", "-p", "no:cacheprovider", "--no-header", "-rfE", *tests]
    try:
        done = subprocess.run(
            command, cwd=tree, env=environment(tree), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, f"no result within {timeout:.0f} s"
    return done.returncode, done.stdout + done.stderr


def first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            return line[:200]
    return output.splitlines()[-1][:200] if output else ""


def mutate(tree: Path, mutation: Mutation) -> str | None:
    """Apply ``mutation`` in the copy; returns the original file text, or None when stale."""
    path = tree / mutation.file
    if not path.exists():
        return None
    text = mutated = path.read_text()
    for original, replacement in zip(mutation.original, mutation.replacement, strict=True):
        if mutated.count(original) != 1:
            return None
        mutated = mutated.replace(original, replacement, 1)
    path.write_text(mutated)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated mutation ids")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unmutated copy")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per test run (default 900)")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--tree", default=str(ROOT), help="the tree to copy (default: this checkout)")
    parser.add_argument("--keep", action="store_true", help="keep the copy (its path is printed)")
    args = parser.parse_args(argv)

    mutations = load()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.id for m in mutations}
        if unknown:
            raise SystemExit(f"unknown mutation ids: {', '.join(sorted(unknown))}")
        mutations = [m for m in mutations if m.id in wanted]
    if args.list:
        for m in mutations:
            print(f"{m.id:28} {m.file}  <- {' '.join(m.tests)}\n{'':28} {m.guarantee}")
        return 0

    venv = Path(sys.executable).parent  # the shared venv's python runs this script
    pytest, python = str(venv / "pytest"), sys.executable
    started = time.monotonic()
    source = Path(args.tree).resolve()
    tree = copy_tree(source)
    print(f"copy of {source}: {tree}", flush=True)
    results: list[Result] = []
    try:
        check_imports_the_copy(tree, python)
        broken_baseline: dict[str, str] = {}
        if not args.no_baseline:
            for tests in sorted({t for m in mutations for t in m.tests}):
                begun = time.monotonic()
                code, output = run_tests(tree, pytest, (tests,), args.timeout)
                state = "ok" if code == 0 else f"FAILED ({first_failure(output)})"
                print(f"baseline {tests}: {state} in {time.monotonic() - begun:.0f} s", flush=True)
                if code != 0:
                    broken_baseline[tests] = first_failure(output)
        for mutation in mutations:
            begun = time.monotonic()
            # Tests failing unmutated (someone's work in progress) cannot kill anything: run the
            # others, and say which were left out.
            healthy = tuple(t for t in mutation.tests if t not in broken_baseline)
            left_out = [t for t in mutation.tests if t in broken_baseline]
            broken = left_out if not healthy else []
            if broken:
                results.append(
                    Result(mutation, "baseline-failed", 0.0, f"{broken[0]}: {broken_baseline[broken[0]]}")
                )
            else:
                original = mutate(tree, mutation)
                if original is None:
                    results.append(Result(mutation, "stale", 0.0, "original text not found exactly once"))
                else:
                    try:
                        code, output = run_tests(tree, pytest, healthy, args.timeout)
                    finally:
                        (tree / mutation.file).write_text(original)
                    outcome = {0: "survived", 1: "killed", None: "timeout"}.get(code, "error")
                    detail = first_failure(output) if outcome != "survived" else ""
                    if outcome == "error":
                        detail = f"pytest exit {code}: {detail}"
                    if left_out:
                        detail = f"[without baseline-failing {', '.join(left_out)}] {detail}"
                    results.append(Result(mutation, outcome, time.monotonic() - begun, detail))
            last = results[-1]
            print(f"{last.outcome:15} {mutation.id:28} {last.seconds:5.0f} s  {last.detail}", flush=True)
    finally:
        if args.keep:
            print(f"kept {tree}")
        else:
            shutil.rmtree(tree.parent, ignore_errors=True)

    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    total = time.monotonic() - started
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    print(f"\n{len(results)} mutations: {summary}; {total / 60:.1f} min")
    survivors = [r for r in results if r.outcome != "killed"]
    for result in survivors:
        print(
            f"  NOT KILLED {result.outcome}: {result.mutation.id} ({result.mutation.guarantee})"
            + (f" - {result.mutation.note}" if result.mutation.note else "")
        )
    if args.markdown:
        print("\n| mutation | guarantee | file | tests | result | s |\n|---|---|---|---|---|---|")
        for r in results:
            m = r.mutation
            print(
                f"| `{m.id}` | {m.guarantee} | `{m.file}` | {', '.join(f'`{t}`' for t in m.tests)} "
                f"| {r.outcome} | {r.seconds:.0f} |"
            )
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
