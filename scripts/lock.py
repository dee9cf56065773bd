"""`make lock` / `make lock-check`: the one lock (uv.lock) and the hashed requirement files pip installs from it.

uv.lock is resolved by uv for every Python >= 3.11 on Linux x86_64 and aarch64 (`[tool.uv]` in pyproject.toml).
Every install path installs one of the files below with `pip install --require-hashes`, then the project itself
with `--no-deps --no-build-isolation`, so nothing unpinned is ever fetched:

| file                              | installed by                                     |
|-----------------------------------|--------------------------------------------------|
| requirements/dev.txt              | `make venv` (tests, CI, benchmarks)              |
| requirements/station.txt          | docker/station/Dockerfile (a station's needs)    |
| requirements/pipeline.txt         | docker/pipeline/Dockerfile (+ the `lake` extra)  |
| requirements/isd-reference.txt    | the PyPI `isd` venv of the differential test and `make bench-parse` |

`python scripts/lock.py` re-resolves to the newest versions pyproject.toml allows (`uv lock --upgrade`) and rewrites
the files; `--check` changes nothing and exits 1, naming `make lock`, when pyproject.toml, uv.lock and the files
disagree.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Each requirement file and the `uv export` arguments that write it (the project itself is never in them).
EXPORTS: dict[str, list[str]] = {
    "dev.txt": ["--extra", "dev", "--no-default-groups", "--group", "build"],
    "station.txt": ["--no-default-groups", "--group", "build"],
    "pipeline.txt": ["--extra", "lake", "--no-default-groups", "--group", "build"],
    "isd-reference.txt": ["--no-default-groups", "--only-group", "isd-reference"],
}
FIX = "run `make lock` (then `make venv && make test`) and commit pyproject.toml, uv.lock and requirements/"


class LockError(Exception):
    """The lock cannot be checked or written; the message says why and what to run."""


def uv() -> str:
    """The uv binary: the venv's (from the lock itself), else one on PATH."""
    here = Path(sys.executable).parent / "uv"
    found = str(here) if here.exists() else shutil.which("uv")
    if not found:
        raise LockError("uv is not installed: run `make venv` (requirements/dev.txt brings it)")
    return found


def _run(args: list[str], project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    return subprocess.run([uv(), *args], cwd=project, capture_output=True, text=True, env=env)


def exported(name: str, project: Path = REPO) -> str:
    """The requirement file `name` as uv.lock gives it today (uv.lock is not changed)."""
    out = _run(["export", "--frozen", "--no-emit-project", "--format", "requirements-txt", "--no-header",
                *EXPORTS[name]], project)
    if out.returncode != 0:
        raise LockError(f"uv export for requirements/{name} failed: {out.stderr.strip()}")
    header = ("# Generated from uv.lock by `make lock` (scripts/lock.py): do not edit.\n"
              "# Installed with `pip install --require-hashes -r` this file.\n")
    return header + out.stdout


def stale(project: Path = REPO) -> list[str]:
    """One line per disagreement between pyproject.toml, uv.lock and requirements/ (empty: all current)."""
    problems = []
    check = _run(["lock", "--check", "--offline"], project)
    if check.returncode != 0:
        detail = check.stderr.strip().splitlines()[-1] if check.stderr.strip() else "uv lock --check failed"
        problems.append(f"uv.lock does not match pyproject.toml ({detail})")
        return problems
    for name in EXPORTS:
        path = project / "requirements" / name
        want = exported(name, project)
        have = path.read_text() if path.exists() else ""
        if have != want:
            diff = difflib.unified_diff(have.splitlines(), want.splitlines(), lineterm="", n=0)
            changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
            first = changed[0] if changed else "(missing)"
            problems.append(f"requirements/{name} is not what uv.lock gives (first difference: {first.strip()})")
    return problems


def write(upgrade: bool, project: Path = REPO) -> None:
    """Re-resolve uv.lock (to the newest allowed versions when `upgrade`) and rewrite every requirement file."""
    out = _run(["lock", *(["--upgrade"] if upgrade else [])], project)
    if out.returncode != 0:
        raise LockError(f"uv lock failed: {out.stderr.strip()}")
    print(out.stderr.strip())
    (project / "requirements").mkdir(exist_ok=True)
    for name in EXPORTS:
        (project / "requirements" / name).write_text(exported(name, project))
        print(f"wrote requirements/{name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the lock is stale")
    parser.add_argument("--keep", action="store_true",
                        help="re-resolve only what pyproject.toml changed (no upgrade of the rest)")
    parser.add_argument("--project", type=Path, default=REPO, help="the project folder (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = stale(args.project)
            for line in problems:
                print(f"lock: {line}", file=sys.stderr)
            if problems:
                print(f"lock: {FIX}", file=sys.stderr)
                return 1
            print("lock: pyproject.toml, uv.lock and requirements/ agree")
            return 0
        write(upgrade=not args.keep, project=args.project)
        return 0
    except LockError as exc:
        print(f"lock: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
