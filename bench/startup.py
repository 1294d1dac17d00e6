"""Process start to first answer from a saved index of 1M profiles x 384 dims, against the old full-check start.

Builds once (kept in `--dir`): 1M synthetic profiles (the bundled generator, seed 7; `id`, `text`, `role`) in a
parquet file, a 384-dim static model (minilm-static's token vectors through a fixed random 256 -> 384 projection:
a real model2vec model, so the query is embedded as any static model's would be), a saved index of random unit
vectors under that model (the vectors' values do not change what a start costs), the copy of the corpus and the
k-means clusters that `index build` leaves (`SearchPipeline.save_index`). Then each round times, as whole
processes with the page cache warm:

- `clusterank search` as it starts now: index file sizes checked, vectors memory-mapped, the corpus opened from
  its copy (nothing read from the parquet file, no text hashed);
- the same command on `--before-src` (a `src/` of the commit before, e.g. `git worktree add /tmp/before b3eb1f9`):
  the old start, which reads and hashes all 1M profiles and checksums every index file;
- `clusterank index check`, the full check made explicit.

Wall and CPU seconds (the child's user + system time: what a quiet machine's wall time approaches, as the search
is the only part run on several threads) are medians of `--runs` rounds; the two searches must print the same hits.

    .venv/bin/python bench/startup.py [--n 1000000] [--runs 5] [--dir /tmp/clusterank-startup] \\
        [--before-src /tmp/before/src]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

QUERY = "product marketing manager for a B2B launch"


def static_model(folder: Path, dims: int) -> Path:
    """A model2vec static model of `dims` dimensions: minilm-static's token vectors through a fixed projection."""
    from safetensors.numpy import load_file, save_file

    from clusterank import Workspace, get_embedder

    if (folder / "model.safetensors").exists():
        return folder
    get_embedder("minilm-static", Workspace.default())  # distilled once into the default workspace
    shutil.copytree(Workspace.default().models_dir / "minilm-static", folder)
    tokens = load_file(folder / "model.safetensors")["embeddings"].astype(np.float32)
    proj = np.random.default_rng(1).standard_normal((tokens.shape[1], dims)).astype(np.float32) / tokens.shape[1] ** .5
    save_file({"embeddings": (tokens @ proj).astype(np.float16)}, folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_dim": dims, "apply_pca": dims}, indent=1))
    return folder


def build(work: Path, n: int, dims: int, env: dict) -> tuple[Path, str, list[tuple[str, float]]]:
    """The corpus file, the model id, and how long each build step took (skipped steps: already built)."""
    from clusterank import SavedIndex, SearchPipeline, Workspace, generate_profiles, get_embedder, open_profiles
    from clusterank import write_table
    from clusterank.cluster.kmeans import corpus_key
    from clusterank.embed.store import text_hash

    steps, path = [], work / "profiles.parquet"
    if not path.exists():
        t = time.perf_counter()
        frame = generate_profiles(n, seed=7)
        frame.insert(0, "id", [f"m{i}" for i in range(len(frame))])
        write_table(frame[["id", "text", "role"]], path)
        steps.append((f"generate {n:,} profiles ({path.stat().st_size / 1e6:.0f} MB parquet)",
                      time.perf_counter() - t))
        del frame
    model = f"model2vec:{static_model(work / 'static384', dims)}"
    workspace = Workspace(Path(env["CLUSTERANK_HOME"]))
    name = get_embedder(model, workspace).name
    corpus = open_profiles(path, workspace=workspace, use_copy=False)
    if not (workspace.index_dir(name, str(path.resolve())) / "meta.json").exists():
        t = time.perf_counter()
        hashes = [text_hash(x) for x in corpus.texts]
        vectors = np.random.default_rng(0).standard_normal((len(corpus), dims), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        SavedIndex.create(workspace.index_dir(name, str(path.resolve())), model=name, corpus=str(path.resolve()),
                          fingerprint=corpus_key(hashes), vectors=vectors, ids=corpus.ids, hashes=hashes)
        steps.append((f"save a {len(corpus):,} x {dims} index of random unit vectors", time.perf_counter() - t))
        del vectors
    t = time.perf_counter()
    SearchPipeline(corpus, model, workspace=workspace).save_index()  # the copy and the clusters, as `index build`
    steps.append(("`save_index`: hash the texts, then the corpus copy and the k-means clusters unless already there "
                  "(what `index build` leaves)", time.perf_counter() - t))
    return path, model, steps


def timed(argv: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds from process start to exit, the child's CPU seconds, its stdout) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv[:4])}... exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def main() -> None:
    """Build once, then time the starts; print the table for bench/RESULTS.md."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dims", type=int, default=384)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--dir", type=Path, default=Path("/tmp/clusterank-startup"))
    p.add_argument("--before-src", type=Path, help="src/ of the commit before, for the old start (same run)")
    args = p.parse_args()
    work = args.dir.resolve()
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    models = Path(os.environ.get("CLUSTERANK_HOME", Path.home() / ".cache" / "clusterank")) / "models"
    if models.exists() and not (home / "models").exists():  # the distilled static model, built once
        (home / "models").symlink_to(models, target_is_directory=True)
    env = {**os.environ, "CLUSTERANK_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    os.environ.update(env)
    path, model, steps = build(work, args.n, args.dims, env)
    search = [sys.executable, "-m", "clusterank", "search", QUERY, "-k", "10", "--corpus", str(path), "--model", model]
    paths = {"new": ("`search` now: sizes checked, vectors memory-mapped, corpus from its copy", search, env)}
    if args.before_src:
        paths["old"] = ("`search` before (--before-src): reads + hashes every profile, checksums every file", search,
                        {**env, "PYTHONPATH": str(args.before_src.resolve())})
    paths["check"] = ("`index check`: the full check, explicit", [sys.executable, "-m", "clusterank", "index", "check",
                                                                  "--corpus", str(path), "--model", model], env)
    seen: dict[str, list[tuple[float, float]]] = {key: [] for key in paths}
    outputs = {}
    for r in range(args.runs):
        for key in (list(paths) if r % 2 == 0 else list(reversed(paths))):  # alternate the order: fair under load
            _, argv, run_env = paths[key]
            wall, cpu, out = timed(argv, run_env)
            seen[key].append((wall, cpu))
            outputs[key] = out
    if "old" in outputs:
        assert outputs["old"] == outputs["new"], "the old and the new start printed different hits"
    load = os.getloadavg()
    print(f"\n{args.n:,} x {args.dims} saved index ({path.stat().st_size / 1e6:.0f} MB parquet); {platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}; {time.strftime('%Y-%m-%d')}; load average "
          f"{load[0]:.1f} at the end; median of {args.runs} rounds, page cache warm\n")
    print("| build step | seconds |\n|---|---|")
    for name, s in steps:
        print(f"| {name} | {s:.1f} |")
    base = statistics.median(w for w, _ in seen["old"]) if "old" in seen else None
    base_cpu = statistics.median(c for _, c in seen["old"]) if "old" in seen else None
    print("\n| process start -> exit | wall s | CPU s | wall vs old | CPU vs old |\n|---|---|---|---|---|")
    for key, (name, _, _) in paths.items():
        wall, cpu = statistics.median(w for w, _ in seen[key]), statistics.median(c for _, c in seen[key])
        ratio = (f"{wall / base:.3f}x | {cpu / base_cpu:.3f}x" if base else "- | -")
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
