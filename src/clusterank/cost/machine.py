"""Throughput of the offline models on this machine, measured once per (model, sample) and kept.

The "this machine" rows of `clusterank cost` come from here. Measurements are cached in the
workspace (`throughput.json`) with their date and the CPU they ran on; `remeasure=True` redoes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import platform
from dataclasses import asdict
from typing import Sequence

from clusterank.cost.throughput import Throughput
from clusterank.errors import ClusterankError
from clusterank.workspace import Workspace, atomic_path

log = logging.getLogger(__name__)

SAMPLE_SIZE = 64
"""Texts timed per model: enough for a stable rate, a few seconds for the slowest offline model."""


def machine_description() -> str:
    """CPU model and core count, as recorded beside each measurement."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def _load_cache(workspace: Workspace) -> dict:
    path = workspace.throughput_cache_path
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("ignoring unreadable throughput cache %s (it will be rewritten)", path)
        return {}


def _save_cache(workspace: Workspace, cache: dict) -> None:
    with atomic_path(workspace.throughput_cache_path) as tmp:
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))


def texts_of_length(texts: Sequence[str], tokens: int, model: str, n: int) -> list[str]:
    """`n` texts of about `tokens` tokens under `model`'s tokenizer: consecutive `texts` joined until
    long enough, then cut back to whole words by bisection on the word count.

    Raises:
        ClusterankError: `texts` together hold fewer than `tokens` tokens.
    """
    from clusterank.cost.tokens import count_tokens

    out, i = [], 0
    while len(out) < n:
        words: list[str] = []
        start = i
        while count_tokens(model, [" ".join(words) or " "])[0] < tokens:
            words += texts[i % len(texts)].split()
            i += 1
            if i - start > len(texts):
                raise ClusterankError(f"the sample texts hold fewer than {tokens} tokens together")
        lo, hi = 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count_tokens(model, [" ".join(words[:mid])])[0] <= tokens:
                lo = mid
            else:
                hi = mid - 1
        out.append(" ".join(words[:lo]))
    return out


def measure_machine(models: Sequence[str], texts: Sequence[str], *, tokens_per_text: int | None = None,
                    workspace: Workspace | None = None, sample_size: int = SAMPLE_SIZE, remeasure: bool = False,
                    progress: bool = False) -> dict[str, Throughput]:
    """Throughput of each offline model on this machine, on `sample_size` of `texts`.

    Args:
        models: offline model ids (`clusterank.available_models()`).
        texts: the texts to time them on (the user's corpus, or the bundled profiles).
        tokens_per_text: time on texts of this many tokens (built from `texts` with each model's tokenizer,
            capped at its limit) instead of on `texts` as they are.
        workspace: where measurements are cached (default: `Workspace.default()`).
        sample_size: how many texts to time per model (after a two-text warm-up).
        remeasure: ignore cached measurements.
        progress: log a line per model.

    Returns:
        model id -> Throughput, in the order given. A model whose backend is not installed is left out
        with a warning.

    Raises:
        ClusterankError: no texts.
    """
    from clusterank.cost.tokens import token_stats
    from clusterank.embed import get_embedder, model_info
    from clusterank.embed.measure import measure_throughput

    workspace = workspace or Workspace.default()
    given = [t for t in texts[: sample_size * 4] if isinstance(t, str) and t.strip()]
    if not given:
        raise ClusterankError("no texts to measure throughput on")
    machine = machine_description()
    cache = _load_cache(workspace)
    out: dict[str, Throughput] = {}
    for model in models:
        sample = given[:sample_size]
        if tokens_per_text is not None:  # room for [CLS]/[SEP] within the limit: no text is truncated
            sample = texts_of_length(given, min(int(tokens_per_text), model_info(model).max_tokens - 2), model,
                                     sample_size)
        key = hashlib.blake2b("\x1f".join(sample).encode(), digest_size=8).hexdigest()
        entry = cache.get(f"{model}|{key}")
        if entry and not remeasure and entry.get("machine") == machine:
            out[model] = Throughput(**entry)
            continue
        try:
            embedder = get_embedder(model, workspace)
            if progress:
                log.info("measuring %s on %d texts on this machine ...", model, len(sample))
            rate = measure_throughput(embedder, sample)
        except (ClusterankError, ImportError) as e:
            log.warning("skipping this machine's row for %s: %s", model, e)
            continue
        out[model] = Throughput(model, float(rate), token_stats(model, sample).mean_read, len(sample),
                                dt.date.today().isoformat(), machine)
        cache[f"{model}|{key}"] = asdict(out[model])
        _save_cache(workspace, cache)
    return out
