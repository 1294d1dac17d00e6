"""Start-up cost: `import clusterank` and `clusterank --help` as whole processes, against `import numpy`.

Each command runs `--runs` times in a fresh interpreter (after one warm-up); the table gives the median
wall time, its ratio to the numpy baseline, and how many `clusterank*` modules the import loaded. `--src`
points at another checkout's `src/` (e.g. a `git worktree` of the commit before) to compare the two.

    .venv/bin/python bench/import_time.py [--runs 15] [--src /tmp/before/src ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("numpy", "pandas", "torch", "sklearn", "faiss", "plotly", "httpx", "fastapi", "tqdm", "typer", "rich", "pyarrow")
COUNT = ("import sys, {module}; own = [m for m in sys.modules if m.split('.')[0] == 'clusterank']; "
         "print(len(own), ','.join(h for h in {heavy!r} if h in sys.modules))")


def wall(argv: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall seconds of `runs` runs of `argv` (after one warm-up); output is discarded."""
    times = []
    for i in range(runs + 1):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if i:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def loaded(module: str, env: dict[str, str]) -> tuple[int, str]:
    """How many clusterank modules importing `module` loads, and which heavy packages came with it."""
    out = subprocess.run([sys.executable, "-c", COUNT.format(module=module, heavy=HEAVY)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), (out[1] if len(out) > 1 else "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--src", action="append", type=Path,
                        help="a checkout's src/ folder to measure (repeatable; default: this checkout's)")
    args = parser.parse_args()
    sources = args.src or [Path(__file__).resolve().parents[1] / "src"]
    py = sys.executable
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{args.runs} runs each, median wall time")
    print("| src | command | median | vs `import numpy` | clusterank modules | big packages loaded |")
    print("|---|---|---|---|---|---|")
    for src in sources:
        env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        base = wall([py, "-c", "import numpy"], env, args.runs)
        rows = [("python -c 'import numpy'", base, "-", "-"),
                ("python -c 'import clusterank'", wall([py, "-c", "import clusterank"], env, args.runs),
                 *loaded("clusterank", env)),
                ("python -m clusterank --help", wall([py, "-m", "clusterank", "--help"], env, args.runs),
                 *loaded("clusterank.cli", env))]
        for name, seconds, count, heavy in rows:
            print(f"| {src} | `{name}` | {seconds * 1000:.0f} ms | {seconds / base:.2f}x | {count} | {heavy} |")


if __name__ == "__main__":
    main()
