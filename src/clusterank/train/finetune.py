"""`clusterank finetune`: a sentence-transformers model fine-tuned on the corpus' labels, saved in the workspace.

Profiles that share a label are pulled together by MultipleNegativesRankingLoss (optionally wrapped in
MatryoshkaLoss); each pair brings a hard negative from one of its label's confusable labels (nearest centroids
under the base model), and a batch never holds two pairs of one label, so no in-batch negative is a false one.
Labelled queries can be added as anchors (`--train-queries`); their hashes go into the model's card so `compare`
refuses to score the model on them. A run is checkpointed every few steps and on Ctrl-C and resumes where it
stopped; the finished model is written atomically to `models/finetuned/<name>` with a card (base, base weights'
digest, data fingerprint, settings, loss curve), and `st:<name>` names it in every command.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from clusterank.data.loaders import Corpus
from clusterank.embed.base import resolve_device
from clusterank.embed.registry import get_embedder
from clusterank.embed.st import SentenceTransformerEmbedder, quiet_transformers
from clusterank.embed.store import EmbeddingStore, text_hash
from clusterank.errors import ClusterankError, require
from clusterank.index.labels import confusable_labels, label_classes
from clusterank.train.loop import train_steps, why_different
from clusterank.train.models import CARD, FinetunedModel, forget_model, model_card, read_card
from clusterank.train.pairs import plan_batches, training_anchors
from clusterank.workspace import Workspace, atomic_path, safe_name

log = logging.getLogger("clusterank.train")

VERSION = 1
"""Part of every run's key: raised when training changes, so a checkpoint of an older version is not resumed."""
CPU_TOKEN_BUDGET = 120 * 32 * 3 * 128
"""Token passes a CPU run takes by default: 120 steps of 32 triplets at 128 tokens, ~5 s a step for
all-MiniLM-L6-v2 on 2 cores, so about 10 minutes whatever the corpus size; short texts (titles) get more steps in
the same time, up to `epochs` passes. A GPU takes all the epochs."""
MIN_ROWS = 16
"""Labelled rows (in labels with two or more rows) below which there is too little to fine-tune on."""
CENTROID_ROWS = 16
"""Rows per label embedded with the base model to find each label's confusable labels."""


@dataclass(frozen=True)
class FinetuneSettings:
    """How a fine-tuning run trains; every field is part of the run's key (a change starts a new run)."""

    steps: int | None = None
    """Optimiser steps; None: `epochs` passes over the labelled rows, on the CPU at most what `CPU_TOKEN_BUDGET`
    allows at the texts' length."""
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 2e-5
    max_tokens: int = 128
    """Tokens a text is cut to while training (the saved model keeps its base's limit)."""
    hard_negatives: bool = True
    matryoshka: tuple[int, ...] = ()
    """Dimensions MatryoshkaLoss trains the leading parts of the vector for (empty: plain MNRL)."""
    seed: int = 0
    checkpoint_every: int = 20


def weights_digest(model) -> str:
    """sha256 of a torch model's parameters and buffers in name order: what a base model *is*, wherever it was
    loaded from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_key(base: str, base_digest: str, corpus: Corpus, labels: Sequence, queries: Corpus | None,
            settings: FinetuneSettings) -> str:
    """The fingerprint of a run: its base (and the base's weights), training texts and labels, and settings."""
    digest = hashlib.sha256(json.dumps([VERSION, base, base_digest, asdict(settings)], sort_keys=True).encode())
    for text, label in zip(corpus.texts, labels):
        digest.update(text_hash(text) + b"\x1f" + str(label).encode() + b"\x1e")
    if queries is not None:
        for text, label in zip(queries.texts, queries.labels or []):
            digest.update(b"Q" + text_hash(text) + str(label).encode())
    return digest.hexdigest()


def finetune(base: str, corpus: Corpus, name: str, *, queries: Corpus | None = None,
             settings: FinetuneSettings = FinetuneSettings(), workspace: Workspace | None = None,
             device: str = "auto", progress: bool = False, overwrite: bool = False) -> FinetunedModel:
    """Fine-tune the sentence-transformers model `base` on the labels of `corpus` and save it as `st:<name>`.

    Args:
        base: a sentence-transformers model clusterank can load (`all-MiniLM-L6-v2`, `all-mpnet-base-v2`,
            `st:<folder or workspace model>`).
        corpus: the profiles with labels (rows without one are not trained on).
        name: the new model's name in the workspace (letters, digits, `.`, `_`, `-`).
        queries: labelled job descriptions to train on as well; the model then refuses to be scored on them.
        settings: steps, batch, learning rate, hard negatives, Matryoshka dimensions, seed, checkpoint interval.
        device: `auto`, `cpu` or `cuda`.
        progress: show a progress bar with the loss.
        overwrite: replace a saved model of that name trained otherwise, and discard a checkpoint of another run.

    Returns:
        The saved model; `trained` is False when an identical run had finished before (nothing was redone).

    Raises:
        ClusterankError: a bad name, a base that is not a sentence-transformers model, no or too few labels, an
            existing model or checkpoint of that name from another base, data or settings (without `overwrite`).
    """
    workspace = workspace or Workspace.default()
    if not name or safe_name(name) != name:
        raise ClusterankError(f"--name {name!r}: use letters, digits, '.', '_' and '-' only")
    if corpus.labels is None:
        raise ClusterankError(f"finetune needs labels: the corpus {corpus.source} has no label column "
                              f"(--label-column)")
    classes, names = label_classes(corpus.labels, 2, "finetune")
    labelled = int((classes >= 0).sum())
    if labelled < MIN_ROWS:
        raise ClusterankError(f"finetune needs at least {MIN_ROWS} labelled rows in labels with 2 or more rows each "
                              f"(2 per label at least, more is better); the corpus {corpus.source} has {labelled}")
    singles = len({lab for lab in corpus.labels if lab is not None and str(lab).strip()}) - len(names)
    if singles:
        log.warning("finetune: %d labels have one row only and are not trained on (a pair needs two rows)", singles)
    torch = require("torch", "local", "finetune")
    st = require("sentence_transformers", "local", "finetune")
    embedder = get_embedder(base, workspace, device=device)
    if not isinstance(embedder, SentenceTransformerEmbedder):
        raise ClusterankError(f"finetune needs a sentence-transformers model (all-MiniLM-L6-v2, all-mpnet-base-v2, "
                              f"st:<folder>); {base!r} is not one")
    if any(d < 8 or d > embedder.dims for d in settings.matryoshka):
        raise ClusterankError(f"--matryoshka {','.join(map(str, settings.matryoshka))}: each dimension must lie in "
                              f"8..{embedder.dims} (the dimensions of {embedder.name})")
    device = resolve_device(device)
    quiet_transformers()
    model = st.SentenceTransformer(str(embedder.source), device=device)
    base_digest = weights_digest(model)
    anchors = training_anchors(classes, names, queries)
    batch = min(settings.batch_size, len(names))
    steps = settings.steps or max(1, math.ceil(len(anchors) / batch)) * settings.epochs
    if settings.steps is None and device == "cpu":
        per_step = batch * (3 if settings.hard_negatives else 2) * mean_tokens(model, corpus.texts, settings.max_tokens)
        steps = max(1, min(steps, int(CPU_TOKEN_BUDGET // per_step)))
    # the key holds the steps the run takes, not how they were asked for (--epochs or --steps)
    key = run_key(embedder.name, base_digest, corpus, corpus.labels, queries,
                  dataclasses.replace(settings, steps=steps, epochs=0))
    target = workspace.finetuned_dir / name
    old = read_card(target)
    if old is not None and old.get("key") == key:
        log.info("st:%s is already fine-tuned from %s on these rows and settings; nothing to do", name, base)
        return FinetunedModel(f"st:{name}", target, old, trained=False)
    if old is not None and not overwrite:
        raise ClusterankError(f"the workspace model st:{name} exists, fine-tuned from {old.get('base')} "
                              f"{why_different(old, embedder.name, base_digest)}; pass --overwrite to replace it, "
                              f"or choose another --name")
    neighbours = None
    if settings.hard_negatives:
        neighbours = _confusable(embedder, corpus, classes, workspace, settings.seed)
    plan = plan_batches(classes, anchors, neighbours, steps, batch, settings.seed)
    texts = {"row": corpus.texts, "query": queries.texts if queries is not None else []}
    checkpoint = workspace.finetuned_dir / f".{name}.checkpoint.pt"
    card = {"version": VERSION, "key": key, "base": embedder.name, "base_source": str(embedder.source),
            "base_weights_sha256": base_digest, "dims": embedder.dims, "max_tokens": embedder.max_tokens,
            "corpus": corpus.source, "rows": len(corpus),
            "labelled_rows": labelled, "labels": len(names), "training_queries": 0 if queries is None else
            sum(kind == "query" for kind, _, _ in anchors), "settings": asdict(settings), "steps": len(plan),
            "batch_size": batch, "device": device,
            "query_hashes": sorted({text_hash(queries.texts[i]).hex() for kind, i, _ in anchors if kind == "query"})}
    started = time.perf_counter()
    losses = train_steps(model, plan, texts, settings, checkpoint, key, card, device, overwrite, progress, torch, st)
    card.update(losses=losses, seconds=round(time.perf_counter() - started, 1),
                finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    model.max_seq_length = embedder.max_tokens
    with atomic_path(target) as tmp:
        model.save(str(tmp))
        (tmp / CARD).write_text(json.dumps(card, indent=1))
        (tmp / "README.md").write_text(model_card(name, card))
    checkpoint.unlink(missing_ok=True)
    forget_model(workspace, f"st:{name}")
    log.info("saved st:%s in %s (%d steps, %.0f s)", name, target, len(plan), card["seconds"])
    return FinetunedModel(f"st:{name}", target, card)


def mean_tokens(model, texts: Sequence[str], max_tokens: int, sample: int = 512) -> float:
    """Mean tokens of a seeded sample of `texts` (special tokens included) cut to `max_tokens`: what a step costs."""
    picked = random.Random(0).sample(list(texts), min(sample, len(texts)))
    ids = model.tokenizer(picked, truncation=True, max_length=max_tokens)["input_ids"]
    return float(np.mean([len(x) for x in ids]))


def _confusable(embedder, corpus: Corpus, classes: np.ndarray, workspace: Workspace, seed: int) -> np.ndarray:
    """Each class's confusable classes, from the base model's vectors of up to `CENTROID_ROWS` rows per label
    (through the store, so compare reuses them)."""
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.permutation(np.flatnonzero(classes == c))[:CENTROID_ROWS]
                           for c in range(int(classes.max()) + 1)])
    store = EmbeddingStore(workspace.store_path)
    try:
        vectors = store.embed(embedder, [corpus.texts[i] for i in rows], what="profiles")
    finally:
        store.close()
    return confusable_labels(vectors, classes[rows])


