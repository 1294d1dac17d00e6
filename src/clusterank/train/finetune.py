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
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from clusterank.data.loaders import Corpus
from clusterank.embed.base import resolve_device
from clusterank.embed.registry import get_embedder
from clusterank.embed.st import SentenceTransformerEmbedder, quiet_transformers
from clusterank.embed.store import EmbeddingStore, text_hash
from clusterank.errors import ClusterankError, require
from clusterank.index.labels import confusable_labels, label_classes
from clusterank.workspace import Workspace, atomic_path, safe_name

log = logging.getLogger("clusterank.train")

VERSION = 1
"""Part of every run's key: raised when training changes, so a checkpoint of an older version is not resumed."""
CARD = "clusterank-finetune.json"
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


@dataclass(frozen=True)
class FinetunedModel:
    """A model `finetune` saved: its name for every command (`st:<name>`), folder and card."""

    name: str
    path: Path
    card: dict = field(repr=False)
    trained: bool = True
    """False when an identical run had already finished and nothing was trained."""


def finetuned_models(workspace: Workspace | None = None) -> list[FinetunedModel]:
    """The models `clusterank finetune` saved in the workspace, by name."""
    root = (workspace or Workspace.default()).finetuned_dir
    found = []
    for card_path in sorted(root.glob(f"*/{CARD}")):
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError):
            continue
        found.append(FinetunedModel(f"st:{card_path.parent.name}", card_path.parent, card, trained=False))
    return found


def finetune_card(model: str, workspace: Workspace | None = None) -> dict | None:
    """The card of `model` when it names a workspace model `finetune` saved (`st:<name>`), else None."""
    if not model.startswith("st:"):
        return None
    name = model[3:]
    if safe_name(name) != name:
        return None
    path = (workspace or Workspace.default()).finetuned_dir / name / CARD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def check_not_trained_on(model: str, query_texts: Sequence[str], workspace: Workspace | None = None) -> None:
    """Refuse to score a fine-tuned model on queries it was trained on (`--train-queries`).

    Raises:
        ClusterankError: some of `query_texts` were training anchors of `model`, saying how many.
    """
    card = finetune_card(model, workspace)
    if not card or not card.get("query_hashes"):
        return
    seen = set(card["query_hashes"])
    overlap = [i for i, t in enumerate(query_texts) if text_hash(t).hex() in seen]
    if overlap:
        raise ClusterankError(f"{model} was fine-tuned on {len(overlap)} of the {len(query_texts)} scored queries "
                              f"(first: row {overlap[0]}); score it on queries it did not train on, or fine-tune "
                              f"it without --train-queries")


def weights_digest(model) -> str:
    """sha256 of a torch model's parameters and buffers in name order: what a base model *is*, wherever it was
    loaded from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def plan_batches(classes: np.ndarray, anchors: Sequence[tuple[str, int, int]], neighbours: np.ndarray | None,
                 steps: int, batch_size: int, seed: int) -> list[list[tuple[tuple[str, int], int, int | None]]]:
    """The whole run's batches, fixed by the seed (so a resumed run continues the same plan).

    Each batch holds at most one pair per class and up to `batch_size` pairs of (anchor, positive row, hard negative
    row or None). Anchors are ("row", i) or ("query", j) with their class; a corpus anchor's positive is another row
    of its class; a hard negative is a row of a confusable class that no other pair of the batch has.
    """
    rng = random.Random(seed)
    members: dict[int, list[int]] = {}
    for row, c in enumerate(classes.tolist()):
        if c >= 0:
            members.setdefault(c, []).append(row)
    batches: list[list] = []
    while len(batches) < steps:
        before = len(batches)
        order = list(anchors)
        rng.shuffle(order)
        pending: list[list] = []
        for kind, index, c in order:
            target = next((b for b in pending if c not in b[0]), None)
            if target is None:
                target = [set(), []]
                pending.append(target)
            target[0].add(c)
            target[1].append((kind, index, c))
            if len(target[1]) == batch_size:
                pending.remove(target)
                batches.append(_pairs(target[1], members, neighbours, rng))
                if len(batches) == steps:
                    return batches
        # an epoch's leftovers (batches not full) still train, largest first
        for _, items in sorted(pending, key=lambda b: -len(b[1])):
            if len(items) >= 2 and len(batches) < steps:
                batches.append(_pairs(items, members, neighbours, rng))
        if len(batches) == before:
            break  # nothing pairs up (cannot happen with two classes of two rows; never loop forever)
    return batches[:steps]


def _pairs(items, members, neighbours, rng) -> list[tuple[tuple[str, int], int, int | None]]:
    taken = {c for _, _, c in items}
    pairs = []
    for kind, index, c in items:
        positive = rng.choice([r for r in members[c] if not (kind == "row" and r == index)])
        negative = None
        if neighbours is not None:
            free = [n for n in neighbours[c].tolist() if n not in taken] or \
                   [n for n in members if n not in taken]
            if free:
                negative = rng.choice(members[rng.choice(free)])
        pairs.append(((kind, index), positive, negative))
    return pairs


def _labelled_anchors(classes: np.ndarray, names: list[str], queries: Corpus | None) -> list[tuple[str, int, int]]:
    anchors = [("row", i, int(c)) for i, c in enumerate(classes.tolist()) if c >= 0]
    if queries is not None:
        if queries.labels is None:
            raise ClusterankError(f"--train-queries {queries.source}: no label column; training queries need labels")
        index = {lab: i for i, lab in enumerate(names)}
        anchors += [("query", j, index[str(lab)]) for j, lab in enumerate(queries.labels) if str(lab) in index]
    return anchors


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
    anchors = _labelled_anchors(classes, names, queries)
    batch = min(settings.batch_size, len(names))
    steps = settings.steps or max(1, math.ceil(len(anchors) / batch)) * settings.epochs
    if settings.steps is None and device == "cpu":
        per_step = batch * (3 if settings.hard_negatives else 2) * mean_tokens(model, corpus.texts, settings.max_tokens)
        steps = max(1, min(steps, int(CPU_TOKEN_BUDGET // per_step)))
    # the key holds the steps the run takes, not how they were asked for (--epochs or --steps)
    key = run_key(embedder.name, base_digest, corpus, corpus.labels, queries,
                  dataclasses.replace(settings, steps=steps, epochs=0))
    target = workspace.finetuned_dir / name
    old = _read_card(target)
    if old is not None and old.get("key") == key:
        log.info("st:%s is already fine-tuned from %s on these rows and settings; nothing to do", name, base)
        return FinetunedModel(f"st:{name}", target, old, trained=False)
    if old is not None and not overwrite:
        raise ClusterankError(f"the workspace model st:{name} exists, fine-tuned from {old.get('base')} "
                              f"{_why_different(old, embedder.name, base_digest)}; pass --overwrite to replace it, "
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
    losses = _train(model, plan, texts, settings, checkpoint, key, card, device, overwrite, progress, torch, st)
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


def _read_card(folder: Path) -> dict | None:
    try:
        return json.loads((folder / CARD).read_text())
    except (OSError, ValueError):
        return None


def _why_different(old: dict, base: str, base_digest: str) -> str:
    if old.get("base") != base:
        return f"(not {base})"
    if old.get("base_weights_sha256") != base_digest:
        return f"whose weights have changed since (sha256 {str(old.get('base_weights_sha256'))[:12]} then, " \
               f"{base_digest[:12]} now)"
    return "on other rows, labels or settings"


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


def _train(model, plan, texts, settings, checkpoint, key, card, device, overwrite, progress, torch, st) -> list:
    """The training loop: resumes from `checkpoint` when it is this run's, saves it every few steps and on Ctrl-C."""
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MultipleNegativesRankingLoss

    torch.manual_seed(settings.seed)
    model.max_seq_length = min(settings.max_tokens, model.max_seq_length)
    loss_fn = MultipleNegativesRankingLoss(model)
    if settings.matryoshka:
        loss_fn = MatryoshkaLoss(model, loss_fn, list(settings.matryoshka))
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    warmup = max(1, len(plan) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (len(plan) - s) / max(1, len(plan) - warmup))))
    losses: list[float] = []
    start = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state.get("key") != key and not overwrite:
            raise ClusterankError(f"a checkpoint of another run of {card['base']} -> {checkpoint.name[1:-14]} is in "
                                  f"{checkpoint.parent} (its base, rows, labels or settings differ: "
                                  f"{_why_different(state.get('card', {}), card['base'], card['base_weights_sha256'])}"
                                  f"); pass --overwrite to discard it, or run it with its own settings")
        if state.get("key") == key:
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            start, losses = state["step"], state["losses"]
            torch.set_rng_state(state["rng"])
            log.info("resuming the fine-tune at step %d of %d", start, len(plan))

    def save(step: int) -> None:
        with atomic_path(checkpoint) as tmp:
            torch.save({"key": key, "card": card, "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                        "schedule": schedule.state_dict(), "step": step, "losses": losses,
                        "rng": torch.get_rng_state()}, tmp)

    tokenize = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers 6 renamed it
    model.train()
    with tqdm(total=len(plan), initial=start, desc=f"fine-tuning {card['base']}", unit="step",
              disable=not progress) as bar:
        try:
            for step in range(start, len(plan)):
                columns = _columns(plan[step], texts)
                features = [_to(tokenize(col), device) for col in columns]
                loss = loss_fn(features, None)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                losses.append(round(float(loss.detach()), 4))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}")
                if (step + 1) % settings.checkpoint_every == 0 and step + 1 < len(plan):
                    save(step + 1)
        except KeyboardInterrupt:
            done = len(losses)
            if done > start:
                save(done)
            log.warning("fine-tune interrupted at step %d of %d; the checkpoint is kept: run the same command again "
                        "to resume", done, len(plan))
            raise
    model.eval()
    return losses


def _columns(batch, texts) -> list[list[str]]:
    anchors = [texts[kind][index] for (kind, index), _, _ in batch]
    positives = [texts["row"][p] for _, p, _ in batch]
    columns = [anchors, positives]
    if all(n is not None for _, _, n in batch):
        columns.append([texts["row"][n] for _, _, n in batch])
    return columns


def _to(features: dict, device: str) -> dict:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def forget_model(workspace: Workspace, model: str) -> None:
    """Drop what the workspace computed with an older model of this name: stored vectors, clusters, fitted arrays
    and saved indexes (they would be stale for the new weights)."""
    store = EmbeddingStore(workspace.store_path)
    try:
        store.clear(model)
    finally:
        store.close()
    for folder in (workspace.root / "clusters" / safe_name(model), workspace.root / "indexes" / safe_name(model)):
        shutil.rmtree(folder, ignore_errors=True)


def model_card(name: str, card: dict) -> str:
    """A model card (README.md) for the saved model: what it was trained from, on what, how, and how to use it."""
    s = card["settings"]
    curve = card.get("losses") or [0.0]
    first, last = np.mean(curve[:10]), np.mean(curve[-10:])
    return f"""# st:{name}

Fine-tuned by `clusterank finetune` from **{card['base']}** (weights sha256 `{card['base_weights_sha256'][:16]}…`).

- Training data: {card['labelled_rows']:,} labelled rows of {card['rows']:,} in `{card['corpus']}`, {card['labels']} \
labels; {card['training_queries']} labelled queries.
- Loss: MultipleNegativesRankingLoss{' in MatryoshkaLoss ' + str(list(s['matryoshka'])) if s['matryoshka'] else ''}, \
pairs of rows sharing a label{', a hard negative from a confusable label each' if s['hard_negatives'] else ''}; no \
two pairs of one label in a batch.
- {card['steps']} steps of {card['batch_size']} pairs, learning rate {s['learning_rate']}, texts cut to \
{s['max_tokens']} tokens while training, seed {s['seed']}, on {card['device']} in {card.get('seconds', 0):.0f} s; \
loss {first:.3f} over the first 10 steps, {last:.3f} over the last 10.
- Data fingerprint (base, rows, labels, settings): `{card['key'][:16]}…`.

Use it as `st:{name}` in any clusterank command, e.g.
`clusterank compare --models {card['base']},st:{name}`. Score it on queries it was not trained on: `compare`
refuses the ones it was.
"""
