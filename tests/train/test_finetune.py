"""`clusterank finetune`: the batch plan, confusable labels, a real (tiny) fine-tune of all-MiniLM-L6-v2 saved and
loaded as `st:<name>`, Ctrl-C and resume in a real process, and every bad input as one error line."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clusterank import (ClusterankError, FinetuneSettings, Workspace, bundled_profiles, bundled_queries,
                        check_not_trained_on, finetune, finetune_card, finetuned_models, get_embedder)
from clusterank.embed.local import bundled_minilm_dir
from clusterank.index.labels import confusable_labels
from clusterank.train.models import CARD
from clusterank.train.pairs import plan_batches

pytest.importorskip("sentence_transformers")

TINY = FinetuneSettings(steps=3, batch_size=8, max_tokens=32, checkpoint_every=2)


def _cli(*args: str, home: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLUSTERANK_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "clusterank", *args], env=env, capture_output=True, text=True,
                          timeout=600, **kw)


def _error_line(result: subprocess.CompletedProcess) -> str:
    lines = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


def test_plan_pairs_share_a_label_and_no_batch_repeats_one():
    classes = np.repeat(np.arange(6), 5)  # 6 labels x 5 rows
    anchors = [("row", i, int(c)) for i, c in enumerate(classes)] + [("query", 0, 2), ("query", 1, 4)]
    neighbours = confusable_labels(np.eye(30, 8, dtype=np.float32)[np.arange(30) % 8], classes, top=2)
    plan = plan_batches(classes, anchors, neighbours, steps=12, batch_size=4, seed=3)
    assert len(plan) == 12
    for batch in plan:
        labels = [classes[p] for _, p, _ in batch]
        assert len(set(labels)) == len(labels) <= 4  # never two pairs of one label in a batch
        for (kind, index), positive, negative in batch:
            if kind == "row":
                assert positive != index and classes[positive] == classes[index]
            assert classes[negative] not in labels  # a hard negative is nobody's positive in the batch
    assert plan == plan_batches(classes, anchors, neighbours, steps=12, batch_size=4, seed=3)
    assert plan != plan_batches(classes, anchors, neighbours, steps=12, batch_size=4, seed=4)


def test_confusable_labels_are_the_nearest_centroids():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16))
    classes = np.repeat(np.arange(5), 4)
    vectors = centres[classes] + 0.01 * rng.normal(size=(20, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    got = confusable_labels(vectors.astype(np.float32), classes, top=2)
    unit = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    for c in range(5):
        sims = unit @ unit[c]
        sims[c] = -np.inf
        assert got[c].tolist() == np.argsort(-sims)[:2].tolist()


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One tiny real fine-tune of all-MiniLM-L6-v2 on 400 bundled profiles (3 steps of 8 pairs)."""
    workspace = Workspace(tmp_path_factory.mktemp("ft-home"))
    corpus = bundled_profiles(n=400)
    return workspace, corpus, finetune("all-MiniLM-L6-v2", corpus, "tiny", settings=TINY, workspace=workspace)


@pytest.mark.slow
def test_a_finetuned_model_is_saved_with_its_card_and_loads_as_st_name(tuned):
    workspace, corpus, model = tuned
    assert model.trained and model.name == "st:tiny" and (model.path / CARD).is_file()
    card = json.loads((model.path / CARD).read_text())
    assert card["base"] == "all-MiniLM-L6-v2" and card["steps"] == 3 and len(card["losses"]) == 3
    assert card["labels"] == len({lab for lab in corpus.labels}) and card["query_hashes"] == []
    assert "all-MiniLM-L6-v2" in (model.path / "README.md").read_text()
    assert not list(workspace.finetuned_dir.glob(".tiny*"))  # no checkpoint or temporary left
    assert [m.name for m in finetuned_models(workspace)] == ["st:tiny"]
    assert finetune_card("st:tiny", workspace)["key"] == card["key"]
    texts = corpus.texts[:4]
    tuned_vectors = get_embedder("st:tiny", workspace).embed(texts)
    base_vectors = get_embedder("all-MiniLM-L6-v2", workspace).embed(texts)
    assert tuned_vectors.shape == base_vectors.shape == (4, 384)
    assert 0.02 < float(np.abs(tuned_vectors - base_vectors).max()) < 1.0  # trained: moved, but not destroyed
    again = finetune("all-MiniLM-L6-v2", corpus, "tiny", settings=TINY, workspace=workspace)
    assert not again.trained and again.card["key"] == card["key"]  # the same run is not done twice
    listed = json.loads(_cli("models", "--format", "json", home=workspace.root).stdout)
    assert {"id": "st:tiny", "dims": 384, "backend": "st"}.items() <= next(r for r in listed
                                                                         if r["id"] == "st:tiny").items()


@pytest.mark.slow
def test_another_run_under_the_same_name_needs_overwrite(tuned):
    workspace, corpus, _ = tuned
    other = dataclasses.replace(TINY, seed=1)
    with pytest.raises(ClusterankError, match="st:tiny exists.*other rows, labels or settings.*--overwrite"):
        finetune("all-MiniLM-L6-v2", corpus, "tiny", settings=other, workspace=workspace)


@pytest.mark.slow
def test_a_model_trained_on_queries_refuses_to_be_scored_on_them(tuned, tmp_path):
    workspace, corpus, _ = tuned
    queries = bundled_queries()
    train = queries.subset(range(10))
    model = finetune("all-MiniLM-L6-v2", corpus, "with-queries", queries=train, settings=TINY, workspace=workspace)
    assert model.card["training_queries"] == 10 and len(model.card["query_hashes"]) == 10
    with pytest.raises(ClusterankError, match="fine-tuned on 10 of the 80 scored queries"):
        check_not_trained_on("st:with-queries", queries.texts, workspace)
    check_not_trained_on("st:with-queries", queries.texts[10:], workspace)  # the others are fine


@pytest.mark.slow
def test_a_changed_base_is_named_and_nothing_is_replaced(tuned, tmp_path):
    workspace, corpus, tiny = tuned
    base = tmp_path / "base"
    shutil.copytree(bundled_minilm_dir(), base)
    first = finetune(f"st:{base}", corpus, "from-copy", settings=TINY, workspace=workspace)
    shutil.copyfile(tiny.path / "model.safetensors", base / "model.safetensors")  # the base's weights change
    with pytest.raises(ClusterankError, match="whose weights have changed since"):
        finetune(f"st:{base}", corpus, "from-copy", settings=TINY, workspace=workspace)
    assert json.loads((first.path / CARD).read_text())["key"] == first.card["key"]  # the saved model is untouched


@pytest.mark.slow
def test_ctrl_c_keeps_a_checkpoint_and_the_run_resumes(tmp_path):
    args = ("finetune", "--n", "300", "--name", "resumed", "--steps", "40", "--batch-size", "8", "--max-tokens",
            "16", "--checkpoint-every", "2", "--no-hard-negatives")
    env = {**os.environ, "CLUSTERANK_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "clusterank", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "models" / "finetuned" / ".resumed.checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checkpoint.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "checkpoint is kept" in stderr and "Traceback" not in stderr
    assert checkpoint.exists() and not (tmp_path / "models" / "finetuned" / "resumed").exists()
    result = _cli(*args, home=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming the fine-tune at step" in result.stderr
    card = json.loads((tmp_path / "models" / "finetuned" / "resumed" / CARD).read_text())
    assert card["steps"] == 40 and len(card["losses"]) == 40 and not checkpoint.exists()


def _labelled_file(tmp_path: Path, labels: list[str]) -> Path:
    path = tmp_path / "profiles.csv"
    rows = ["text,role"] + [f"profile {i} who works as {lab},{lab}" for i, lab in enumerate(labels)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("labels, message", [
    (["Engineer"] * 30, "needs at least two labels with 2 or more rows each.*has 1"),
    ([f"role {i}" for i in range(30)], "needs at least two labels with 2 or more rows each.*has 0"),
    (["A", "A", "B", "B", "C"], "needs at least 16 labelled rows in labels with 2 or more rows.*has 4"),
])
def test_labels_it_cannot_learn_from_are_one_error_line(tmp_path, labels, message):
    line = _error_line(_cli("finetune", "--corpus", str(_labelled_file(tmp_path, labels)), home=tmp_path))
    assert re.search(message, line), line
    assert not (tmp_path / "models" / "finetuned").exists() or not any((tmp_path / "models" / "finetuned").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (("--model", "minilm-static"), "needs a sentence-transformers model"),
    (("--name", "../x"), "--name '../x': use letters"),
    (("--matryoshka", "384,4"), "each dimension must lie in 8..384"),
])
def test_bad_options_are_one_error_line(tmp_path, args, message):
    line = _error_line(_cli("finetune", "--n", "300", *args, home=tmp_path))
    assert message in line, line


@pytest.mark.slow
def test_compare_refuses_queries_the_model_trained_on(tmp_path):
    queries = tmp_path / "queries.csv"
    bundled = bundled_queries()
    pd.DataFrame({"natural_language": bundled.texts[:20], "role": bundled.labels[:20]}).to_csv(queries, index=False)
    done = _cli("finetune", "--n", "300", "--name", "q", "--steps", "2", "--batch-size", "8", "--max-tokens", "16",
                "--train-queries", str(queries), home=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    line = _error_line(_cli("compare", "--n", "300", "--models", "st:q", "--queries", str(queries), "--pipelines",
                            "exact", "--no-maps", home=tmp_path))
    assert "st:q was fine-tuned on 20 of the 20 scored queries" in line
    line = _error_line(_cli("compare", "--n", "300", "--models", "minilm-static", "--queries", str(queries),
                            "--train-queries", str(queries), "--pipelines", "exact,prior", "--no-maps",
                            home=tmp_path))
    assert "20 of its queries are also scored queries (first: row 0)" in line
