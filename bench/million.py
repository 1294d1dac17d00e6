"""1M profile texts embedded with the static model end to end, through the CLI, interrupted once and resumed.

Generates 1,000,000 synthetic profiles (the bundled generator, another seed), runs `clusterank embed` with its
progress bar, sends Ctrl-C (SIGINT) after `--interrupt-after` seconds, runs the same command again to finish,
then saves an index and times a search that starts from it. Prints one table; paste it into bench/RESULTS.md.

    .venv/bin/python bench/million.py [--n 1000000] [--interrupt-after 120] [--dir /tmp/clusterank-million]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("clusterank")


def run(args: list[str], env: dict, log: Path, interrupt_after: float | None = None) -> tuple[int, float]:
    """Run a clusterank command with its stderr (progress bar) in `log`; SIGINT it after `interrupt_after` s."""
    t0 = time.perf_counter()
    with open(log, "ab") as err:
        proc = subprocess.Popen([str(BIN), *args], env=env, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
        try:
            proc.wait(timeout=interrupt_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=600)
    return proc.returncode, time.perf_counter() - t0


def stored(home: Path) -> int:
    """Vectors in the store for the static model."""
    import sqlite3

    with sqlite3.connect(home / "embeddings.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM vectors WHERE model = 'minilm-static'").fetchone()[0]


def main() -> None:
    """Generate, embed with an interruption, resume, index, search; print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--interrupt-after", type=float, default=120)
    p.add_argument("--dir", default="/tmp/clusterank-million")
    args = p.parse_args()
    work = Path(args.dir)
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    home.mkdir(parents=True)
    models = Path(os.environ.get("CLUSTERANK_HOME", Path.home() / ".cache" / "clusterank")) / "models"
    if models.exists():  # the distilled static model, built once
        (home / "models").symlink_to(models, target_is_directory=True)
    env = {**os.environ, "CLUSTERANK_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    log = work / "progress.log"

    from clusterank.data.synthetic import generate_profiles
    from clusterank.data.writers import write_table

    t0 = time.perf_counter()
    frame = generate_profiles(args.n, seed=7)
    frame.insert(0, "id", [f"m{i}" for i in range(len(frame))])
    corpus = write_table(frame[["id", "text", "role"]], work / "profiles.parquet")
    gen_s = time.perf_counter() - t0
    del frame
    common = ["--corpus", str(corpus), "--model", "minilm-static"]
    code1, first_s = run(["embed", *common], env, log, interrupt_after=args.interrupt_after)
    after_interrupt = stored(home)
    code2, second_s = run(["embed", *common], env, log)
    total = stored(home)
    code3, index_s = run(["index", "build", *common], env, log)
    code4, search_s = run(["search", "product marketing manager for a B2B launch", "-k", "5", *common], env, log)
    text = log.read_text(errors="replace")
    resumed = re.findall(r"already embedded, resuming with (\d+)", text)
    eta = re.findall(r"\[\d+:\d+<(\d+:\d+(?::\d+)?),", text)
    embed_s = first_s + second_s
    print(f"\n{args.n:,} profiles ({corpus.stat().st_size / 1e6:.0f} MB parquet); minilm-static; "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    print("| step | result |\n|---|---|")
    print(f"| generate {args.n:,} profiles | {gen_s:.0f} s |")
    print(f"| `embed`, Ctrl-C after {args.interrupt_after:.0f} s | exit {code1}, {after_interrupt:,} vectors stored |")
    print(f"| `embed` again | exit {code2}, resumed with {resumed[-1] if resumed else '?'} texts, {second_s:.0f} s |")
    print(f"| vectors stored in the end | {total:,} of {args.n:,} (each once: the store's key is the text hash) |")
    print(f"| embedding throughput, both runs | {total / embed_s:,.0f} texts/s ({embed_s / 60:.1f} min) |")
    print(f"| progress bar's ETA early in the first run | {eta[1] if len(eta) > 1 else '?'} |")
    print(f"| `index build` (vectors read from the store once, saved) | exit {code3}, {index_s:.0f} s |")
    print(f"| `search` starting from the saved index | exit {code4}, {search_s:.1f} s |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
