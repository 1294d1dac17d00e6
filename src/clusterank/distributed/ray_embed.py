"""Embedding on a Ray cluster: Ray Data streams the texts the store lacks through a pool of actors, one model each.

The driver commits each finished batch into the local path's content-hash store, so both share one cache, a rerun
embeds only what is missing, and a killed job loses at most the batches in flight.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from clusterank.embed.base import truncation_summary
from clusterank.embed.registry import find_backend, get_embedder
from clusterank.embed.store import EmbeddingStore, normalise, text_hash
from clusterank.errors import ClusterankError, require
from clusterank.workspace import Workspace


log = logging.getLogger("clusterank.distributed")

DEFAULT_BATCH_SIZE = 512
"""Texts per actor call and per store commit (what a killed job can lose per batch in flight)."""
CONNECT_TIMEOUT_S = 5.0
"""How long to wait for a cluster address to accept a TCP connection before saying it does not answer."""
MAX_ATTEMPTS = 3
"""Passes over the missing texts: a pass that fails on a lost node or actor is followed by one over what is left."""
DEFAULT_RAY_PORT = 6379


@dataclass(frozen=True)
class RayEmbedReport:
    """What one `embed_on_ray` call did.

    Attributes:
        model: the store key the vectors are filed under.
        dims: the vector size.
        texts: how many texts were asked for.
        cached: how many of them were in the store before the run (duplicates count once per text).
        embedded: how many distinct texts the cluster embedded now.
        actors: the actor pool's largest size (0 when nothing was left to embed and Ray was not started).
        attempts: passes over the missing texts (more than one after a lost node or actor).
        seconds: wall time of the embedding passes, from building the pipeline to the last commit.
        startup_seconds: the part of `seconds` before the first commit (actors starting, models loading).
        first_batch: how many texts that first commit held.
        address: the cluster's address as resolved by `check_address` (None: a local cluster started for the run).
    """

    model: str
    dims: int
    texts: int
    cached: int
    embedded: int
    actors: int
    attempts: int
    seconds: float
    startup_seconds: float
    first_batch: int
    address: str | None

    @property
    def texts_per_s(self) -> float:
        """Texts embedded and stored per second on the cluster (0 when nothing was embedded)."""
        return self.embedded / self.seconds if self.embedded and self.seconds > 0 else 0.0

    @property
    def steady_texts_per_s(self) -> float:
        """Texts per second once the actors are up: after the first commit (0 when it was the only one)."""
        busy = self.seconds - self.startup_seconds
        return (self.embedded - self.first_batch) / busy if self.embedded > self.first_batch and busy > 0 else 0.0


class EmbedActor:
    """The callable class `map_batches` runs: each actor builds its model once, then embeds batches of texts.

    Returns raw float32 vectors; the driver checks and normalises them exactly as the local path does.
    """

    def __init__(self, model: str, root: str):
        self.embedder = get_embedder(model, Workspace(Path(root)))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Embed one batch of {"row", "text"}; returns {"row", "vector", "over", "longest"} (truncation tally)."""
        texts = [str(t) for t in batch["text"]]
        with truncation_summary(quiet=True) as tally:
            raw = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        if raw.ndim != 2 or len(raw) != len(texts):
            raise ClusterankError(f"model {self.embedder.name!r} returned vectors of shape {raw.shape} "
                                  f"for {len(texts)} texts")
        over = np.zeros(len(texts), dtype=np.int64)
        over[:1] = tally["over"]  # the batch's count on its first row, so any regrouping of rows still sums right
        return {"row": batch["row"], "vector": raw, "over": over,
                "longest": np.full(len(texts), tally["longest"], dtype=np.int64)}


def check_address(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """Find the cluster an address names and check that it answers, before Ray's own connection (which can wait
    minutes on an address that does not answer) is tried.

    Args:
        address: `host:port` (port 6379 when left out), `ray://host:port`, `auto` (the cluster `ray start`
            recorded on this machine, or `$RAY_ADDRESS`), or None: the same as `auto` when there is such a cluster,
            else a new local cluster; `local` always means a new local cluster.
        timeout: seconds to wait for a TCP connection.

    Returns:
        The address to give `ray.init`: `host:port` or `ray://host:port`, or None to start a local cluster.

    Raises:
        ClusterankError: one line naming the address when nothing answers there, or `auto` finds no cluster.
    """
    target = address
    if address is None or address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            target = canonicalize_bootstrap_address(address)
        except Exception as exc:  # Ray raises ConnectionError or ValueError, worded for its own CLI
            raise ClusterankError(f"Ray address {address or '$RAY_ADDRESS'!r}: {exc}") from None
    if target is None or target == "local":
        return None
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        host, port = target.removeprefix("ray://"), str(DEFAULT_RAY_PORT)
        target = target if target.startswith("ray://") else f"{host}:{port}"
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        named = address if address == target else f"{address or '(recorded)'} = {target}"
        raise ClusterankError(f"Ray cluster at {named!r} does not answer ({host}:{port}: "
                              f"{exc.strerror or exc}); nothing was embedded or changed") from None
    return target


def _connect(ray, address: str | None) -> None:
    """Attach to the cluster at `address`, or start a local one (no dashboard, no usage report: offline first)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kwargs = {"logging_level": logging.ERROR, "log_to_driver": False}  # actors' truncation warnings come back as data
    try:
        if address is None:
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"at {address!r}" if address else "on this machine"
        raise ClusterankError(f"cannot start or attach to a Ray cluster {where}: {exc}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the driver's one tqdm bar counts committed texts instead
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _pool_size(ray, actors: int | None) -> tuple[int, bool]:
    """How many actors to run and whether each takes a GPU: one per GPU where the cluster has GPUs, else one
    per CPU."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    default = gpus or int(resources.get("CPU", 1)) or 1
    if actors is not None and actors < 1:
        raise ClusterankError(f"--ray-actors must be at least 1, got {actors}")
    return actors or default, gpus > 0


def _blocks(pa, left: Sequence[tuple[bytes, int]], texts: Sequence[str], rows: int) -> list:
    """The missing texts as Arrow tables of `rows` rows each: one input block per actor call."""
    return [pa.table({"row": np.arange(start, min(start + rows, len(left)), dtype=np.int64),
                      "text": [texts[i] for _, i in left[start : start + rows]]})
            for start in range(0, len(left), rows)]


def _user_error(exc: BaseException) -> ClusterankError | None:
    """The ClusterankError an actor raised, found through Ray's wrappers (RayTaskError, UserCodeException)."""
    found, seen = None, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ClusterankError):
            found = exc  # the innermost is the original; Ray's wrappers add a traceback to their text
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None if found is None else ClusterankError(str(found))


def _lost_worker(ray, exc: BaseException) -> bool:
    """True when a pass failed because a node, worker or actor went away (worth another pass), not on bad input
    or a bug in the model code."""
    lost = (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError, ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError, ray.exceptions.RaySystemError, ray.exceptions.OwnerDiedError,
            ray.exceptions.ActorUnavailableError)
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, lost):
            return True
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return False


def embed_on_ray(texts: Sequence[str], model: str, *, workspace: Workspace | None = None,
                 address: str | None = None, actors: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: bool = False, what: str = "texts") -> RayEmbedReport:
    """Embed into the workspace's store, on a Ray cluster, the texts it does not hold yet for `model`.

    The driver hashes the texts and asks the store which are missing; only those go to Ray, as a Ray Data
    pipeline over an actor pool (`map_batches` with one model per actor, one GPU each where the cluster has
    GPUs). Each finished batch is normalised with `clusterank.embed.store.normalise` and committed by the driver
    in its own transaction as it arrives. A pass that loses a node or an actor is followed by another over what
    is still missing (at most `MAX_ATTEMPTS`), so each text ends up stored exactly once.

    Args:
        texts: the texts; none may be empty. Read the vectors back with `EmbeddingStore.embed` or `lookup`.
        model: a model id for `get_embedder`; every actor builds it (in `workspace`'s models folder, or the same
            path on its own machine). API and precomputed models are refused: they have nothing to spread.
        workspace: whose store and models folder to use (default `Workspace.default()`).
        address: a running cluster (`host:port`, `ray://host:port`, `auto`); None joins `$RAY_ADDRESS` or the
            cluster `ray start` recorded on this machine when there is one, else starts a local cluster for the run
            (stopped at its end). See `check_address`.
        actors: actor pool size (default: one per GPU of the cluster, else one per CPU).
        batch_size: texts per actor call and per commit.
        progress: show a progress bar (texts/s and ETA) over the texts still to embed.
        what: how to name the texts in messages ("profiles").

    Returns:
        What was done: counts, actors, passes and throughput.

    Raises:
        ClusterankError: Ray not installed, an address that does not answer, an empty text, a model that cannot
            run on workers, bad vectors, or texts still missing after `MAX_ATTEMPTS` passes; what was committed
            before stays stored.
    """
    require("ray.data", "ray", "embedding on Ray (--ray)")
    import ray
    if batch_size < 1:
        raise ClusterankError(f"--batch-size must be at least 1, got {batch_size}")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ClusterankError(f"{what}: text at row {i} is empty; nothing can be embedded for it")
    address = check_address(address)
    workspace = workspace or Workspace.default()
    backend, _ = find_backend(model)
    if backend.name == "precomputed:":
        raise ClusterankError(f"model {model!r} reads vectors from the corpus; there is nothing to run on Ray")
    embedder = get_embedder(model, workspace)  # builds a missing model once here, before actors race to build it
    if embedder.remote:
        raise ClusterankError(f"model {model!r} is an HTTP API whose client already sends requests concurrently "
                              "and records what they are billed; embed it without --ray")
    name = embedder.name
    store = EmbeddingStore(workspace.store_path)
    try:
        hashes = [text_hash(t) for t in texts]
        todo = store.missing(name, hashes)
        cached = sum(h not in todo for h in hashes)
        if not todo:
            return RayEmbedReport(name, store.dims(name) or embedder.dims, len(texts), cached, 0, 0, 0, 0.0, 0.0, 0,
                                  address)
        log.info("%s: %d of %d %s already embedded; %d to embed on Ray", name, cached, len(texts), what, len(todo))
        _connect(ray, address)
        try:
            return _run(ray, store, embedder, texts, list(todo.items()), actors=actors, batch_size=batch_size,
                        root=workspace.root, progress=progress, what=what, cached=cached, address=address)
        finally:
            ray.shutdown()
    finally:
        store.close()


def _run(ray, store: EmbeddingStore, embedder, texts: Sequence[str], todo: list[tuple[bytes, int]], *,
         actors: int | None, batch_size: int, root: Path, progress: bool, what: str, cached: int,
         address: str | None) -> RayEmbedReport:
    """The passes over the missing texts (`embed_on_ray` after the connection), committing batches as they come."""
    import pyarrow as pa

    name, dims = embedder.name, None
    size, gpu = _pool_size(ray, actors)
    done: set[bytes] = set()
    over = longest = attempts = first_batch = 0
    start, startup = time.perf_counter(), 0.0
    last_error: BaseException | None = None
    with tqdm(total=len(todo), desc=f"embedding {what} with {name} on Ray ({size} actors)", unit="text",
              disable=not progress) as bar:
        while attempts < MAX_ATTEMPTS:
            left = [item for item in todo if item[0] not in done]
            if not left:
                break
            attempts += 1
            if attempts > 1:
                log.warning("Ray pass %d lost a worker (%s); embedding the %d %s still missing", attempts - 1,
                            type(last_error).__name__, len(left), what)
            # min_size 1: a pass goes on with the actors left when a node dies and its actor cannot restart
            pool = ray.data.ActorPoolStrategy(min_size=1, max_size=size, initial_size=size)
            ds = ray.data.from_arrow(_blocks(pa, left, texts, batch_size))
            ds = ds.map_batches(EmbedActor, fn_constructor_args=(name, str(root)), batch_size=batch_size,
                                batch_format="numpy", compute=pool,
                                num_gpus=1 if gpu else 0, num_cpus=None if gpu else 1)
            try:
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    part = [left[int(r)] for r in batch["row"]]
                    vecs = normalise(batch["vector"], model=name, rows=[i for _, i in part])
                    store.put(name, [h for h, _ in part], vecs)  # refuses a size other than the stored one
                    dims = vecs.shape[1]
                    over += int(batch["over"].sum())
                    longest = max(longest, int(batch["longest"].max(initial=0)))
                    new = {h for h, _ in part} - done
                    if not done:
                        startup, first_batch = time.perf_counter() - start, len(new)
                    done |= new
                    bar.update(len(new))
            except ClusterankError:
                raise
            except Exception as exc:
                user = _user_error(exc)
                if user is not None:
                    raise user from None
                if not _lost_worker(ray, exc):
                    raise ClusterankError(f"the Ray job failed: {type(exc).__name__}: "
                                          f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}; "
                                          f"{len(done)} {what} were stored, run again to resume") from None
                last_error = exc
    missing = len(todo) - len(done)
    if missing:
        why = f" (last: {type(last_error).__name__})" if last_error is not None else ""
        raise ClusterankError(f"{missing} of {len(todo)} {what} are still missing after {attempts} Ray passes{why}; "
                              f"the {len(done)} embedded are stored, run again to resume")
    if over:
        log.warning("%s: %d of %d %s are longer than its %d-token limit and were truncated (longest: %d tokens)",
                    name, over, len(todo), what, embedder.max_tokens, longest)
    return RayEmbedReport(name, dims or embedder.dims, len(texts), cached, len(done), size, attempts,
                          time.perf_counter() - start, startup, first_batch, address)
