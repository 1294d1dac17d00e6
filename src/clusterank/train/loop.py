"""The fine-tune's training loop: MNRL (optionally in MatryoshkaLoss) over a fixed plan of batches, AdamW with
warm-up and linear decay, a checkpoint every few steps and on Ctrl-C, resumed when the same run starts again."""

from __future__ import annotations

import logging

import numpy as np
from tqdm.auto import tqdm

from clusterank.errors import ClusterankError
from clusterank.workspace import atomic_path

log = logging.getLogger("clusterank.train")


def why_different(old: dict, base: str, base_digest: str) -> str:
    """Why a saved model or checkpoint (its card `old`) is not this run: another base, changed base weights, or
    other rows, labels or settings."""
    if old.get("base") != base:
        return f"(not {base})"
    if old.get("base_weights_sha256") != base_digest:
        return f"whose weights have changed since (sha256 {str(old.get('base_weights_sha256'))[:12]} then, " \
               f"{base_digest[:12]} now)"
    return "on other rows, labels or settings"


def train_steps(model, plan, texts, settings, checkpoint, key, card, device, overwrite, progress, torch, st) -> list:
    """The training loop over `plan`; returns the loss of every step. Resumes from `checkpoint` when it is this
    run's (same `key`), saves it every `settings.checkpoint_every` steps and on Ctrl-C (then re-raises).

    Raises:
        ClusterankError: a checkpoint of another run (base, rows, labels or settings) without `overwrite`.
    """
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
                                  f"{why_different(state.get('card', {}), card['base'], card['base_weights_sha256'])}"
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
