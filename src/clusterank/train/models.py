"""The models `clusterank finetune` saved in the workspace: their cards, listing, the check that keeps a model from
being scored on queries it trained on, and forgetting what was computed with an older model of the same name."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clusterank.embed.store import EmbeddingStore, text_hash
from clusterank.errors import ClusterankError
from clusterank.workspace import Workspace, safe_name

CARD = "clusterank-finetune.json"


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
    cards = ((path.parent, read_card(path.parent)) for path in sorted(root.glob(f"*/{CARD}")))
    return [FinetunedModel(f"st:{folder.name}", folder, card, trained=False) for folder, card in cards if card is not None]


def finetune_card(model: str, workspace: Workspace | None = None) -> dict | None:
    """The card of `model` when it names a workspace model `finetune` saved (`st:<name>`), else None."""
    if not model.startswith("st:"):
        return None
    name = model[3:]
    if safe_name(name) != name:
        return None
    return read_card((workspace or Workspace.default()).finetuned_dir / name)


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


def read_card(folder: Path) -> dict | None:
    """The card in a saved model's folder, or None (no model there, or an unreadable card)."""
    try:
        return json.loads((folder / CARD).read_text())
    except (OSError, ValueError):
        return None



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
