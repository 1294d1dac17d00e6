"""Shared fixtures: an isolated workspace per test session, real offline models, nothing from the network."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from clusterank import Workspace, get_embedder  # noqa: E402


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Workspace:
    """One workspace for the session, so models built on first use (minilm-static) are built once."""
    root = tmp_path_factory.mktemp("clusterank-home")
    os.environ["CLUSTERANK_HOME"] = str(root)
    return Workspace(root)


@pytest.fixture
def workspace(session_home, tmp_path, monkeypatch) -> Workspace:
    """A fresh workspace whose models folder is shared with the session (vectors are not)."""
    ws = Workspace(tmp_path / "home")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "models").symlink_to(session_home.models_dir, target_is_directory=True)
    monkeypatch.setenv("CLUSTERANK_HOME", str(ws.root))
    return ws


@pytest.fixture(scope="session")
def static_embedder(session_home):
    """The default model, minilm-static (real model2vec distillation of the bundled all-MiniLM-L6-v2)."""
    return get_embedder("minilm-static", session_home)
