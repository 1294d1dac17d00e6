"""One registry type for every box (embedders, retrievers, rerankers), and the spec grammar they share.

A spec names a backend and its parameters. A backend with a fixed name takes `name:param=value,...`
(`routed:nprobe=auto,margin=0.05`, `llm-pairwise:passes=3`); a backend named by a prefix takes its argument
after the prefix and its parameters after a comma (`st:/models/e5`, `cross-encoder:/models/ce,batch=16`): only
trailing `key=value` pieces whose key the backend declares are read as parameters, so an argument may itself
hold commas or `=` (an API URL's query string).

Each box declares its backends in one `Registry`; each backend is a `Backend` record (a subclass per box adds
that box's capabilities), registered from its own file. Another installed package can add backends through the
entry-point group `clusterank.<box>s` (`clusterank.retrievers`, `clusterank.embedders`, `clusterank.rerankers`):
each entry point names a `Backend` record, loaded the first time a name is not found.
"""

from __future__ import annotations

import importlib.metadata
import math
import importlib.util
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeVar

from clusterank.data.bounds import Bound
from clusterank.errors import ClusterankError, install_hint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shape:
    """What a parameter's corpus-dependent limit depends on: the corpus rows and the vector size (None before the
    corpus is embedded)."""

    rows: int
    dims: int | None = None


@dataclass(frozen=True)
class Limit:
    """A parameter's largest value for a given corpus: `of(shape, values)` (None: not known yet) and what that
    number is (`the corpus' rows`), for the message."""

    of: Callable[[Shape, Mapping[str, Any]], int | None]
    what: str


@dataclass(frozen=True)
class Param:
    """One spec parameter: how to read its text, its default, a line of help, and its declared range.

    `bound` is checked when the spec is parsed (`1 or more`); `limit` when the backend is built over a corpus
    (`nlist` at most the corpus' rows). Text values (`auto`, a column name) are not numbers and skip both.
    """

    parse: Callable[[str], Any]
    default: Any
    help: str
    bound: Bound | None = None
    limit: Limit | None = None


@dataclass(frozen=True)
class Spec:
    """A parsed spec: the backend's registered name, a prefix backend's argument, and the parameters given (as
    text), in the order given."""

    name: str
    params: tuple[tuple[str, str], ...] = ()
    argument: str = ""

    def __str__(self) -> str:
        pairs = ",".join(f"{k}={v}" for k, v in self.params)
        if self.name.endswith(":"):
            return self.name + self.argument + ("," + pairs if pairs else "")
        return self.name + (":" + pairs if pairs else "")


@dataclass(frozen=True)
class Backend:
    """One registered backend of a box. Subclasses (`RetrieverType`, `EmbedderBackend`, `RerankerBackend`) add the
    box's declared capabilities; everything a caller needs to know before building is an attribute here.

    Attributes:
        name: a fixed name (`exact`), or a prefix ending in ":" whose argument follows it (`st:`).
        summary: one line for help texts and `clusterank models`.
        build: makes the backend; its signature is the box's (see the subclass).
        params: the spec parameters it takes, by name.
        argument: for a prefix, what follows it as help texts show it (`<folder-or-hub-id>`).
        needs: modules that must be importable (checked without importing them).
        extra: the clusterank extra that installs them (see `clusterank.errors.EXTRAS`).
        examples: full specs that build offline here once its packages are installed: the conformance suites
            run each, and boxes with a page chooser offer them.
    """

    noun: ClassVar[str] = "backend"
    """What the box calls one of its backends in messages (`retriever`, `model`, `reranker`)."""

    name: str
    summary: str
    build: Callable[..., Any]
    params: Mapping[str, Param] = field(default_factory=dict)
    argument: str = ""
    needs: tuple[str, ...] = ()
    extra: str = "local"
    examples: tuple[str, ...] = ()

    @property
    def is_prefix(self) -> bool:
        """True for a backend named by a prefix (`st:`), false for a fixed name."""
        return self.name.endswith(":")

    def missing(self) -> list[str]:
        """The modules it needs that are not installed (empty when it can run here)."""
        return [m for m in self.needs if importlib.util.find_spec(m) is None]

    def status(self) -> str:
        """`available`, or `unavailable: <install command>`."""
        return f"unavailable: {install_hint(self.extra)}" if self.missing() else "available"

    def declares(self) -> tuple[str, ...]:
        """The capabilities this record declares that are set, as words for `clusterank backends` (none here; each
        box's record adds its own)."""
        return ()

    def usage(self) -> str:
        """`name:p=default,...` or `prefix<argument>` for help texts (defaults that come from elsewhere left out)."""
        shown = [f"{p}={v.default}" for p, v in self.params.items() if v.default is not None]
        if self.is_prefix:
            return self.name + self.argument + ("," + ",".join(shown) if shown else "")
        return self.name + (":" + ",".join(shown) if shown else "")


B = TypeVar("B", bound=Backend)


def whole(text: str) -> int:
    """A whole number (its range is the parameter's `bound`)."""
    return int(text)


def number(text: str) -> float:
    """A finite number (its range is the parameter's `bound`)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def boolean(text: str) -> bool:
    """`true`/`false` (also `yes`/`no`, `1`/`0`)."""
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError("must be true or false")
    return value in ("true", "yes", "1")


POSITIVE = Bound(1)
"""A whole number >= 1."""
NON_NEGATIVE = Bound(0)
"""A whole number >= 0."""
NON_NEGATIVE_NUMBER = Bound(0, whole=False)
"""A finite number >= 0."""


def parse_spec(text: str, noun: str = "retriever") -> Spec:
    """Read a fixed-name spec `name[:param=value,...]` (spaces ignored, names lower-cased).

    Raises:
        ClusterankError: an empty spec, or a parameter without `=`, naming the spec.
    """
    raw = "".join(str(text).split())
    name, _, rest = raw.partition(":")
    if not name:
        raise ClusterankError(f"{noun} spec {text!r} is empty; use e.g. exact or routed:nprobe=2"
                              if noun == "retriever" else f"{noun} name {text!r} is empty")
    params = []
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key or not value:
            raise ClusterankError(f"{noun} spec {text!r}: {part!r} is not param=value")
        params.append((key.lower(), value))
    return Spec(name.lower(), tuple(params))


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs; a `param=value` piece belongs to the spec before it.

    `exact,routed:nprobe=auto,margin=0.1,routed:nprobe=1` -> three specs.
    """
    out: list[str] = []
    for piece in (p.strip() for p in str(text).split(",")):
        if not piece:
            continue
        if out and "=" in piece and ":" not in piece.split("=", 1)[0] and ":" in out[-1]:
            out[-1] += "," + piece
        else:
            out.append(piece)
    return out


def typed_params(kind: Backend, spec: Spec) -> dict[str, Any]:
    """The spec's parameters parsed by their types and checked against their declared bounds, defaults filled in.

    Raises:
        ClusterankError: an unknown parameter, or a value its parser or bound refuses, naming the spec.
    """
    values = {name: p.default for name, p in kind.params.items()}
    for key, text in spec.params:
        if key not in kind.params:
            known = ", ".join(kind.params) or "none"
            raise ClusterankError(f"{kind.noun} {str(spec)!r}: unknown parameter {key!r} (parameters of "
                                  f"{kind.name}: {known})")
        param = kind.params[key]
        allowed = f"; allowed: {param.bound.allowed()}" if param.bound else ""
        try:
            values[key] = param.parse(text)
        except (ValueError, ClusterankError) as exc:
            raise ClusterankError(f"{kind.noun} {str(spec)!r}: {key}={text!r} is not valid ({param.help}{allowed}; "
                                  f"{exc})") from None
        if is_number(values[key]) and param.bound and param.bound.refusal(values[key], key):
            why = f"; {param.bound.why}" if param.bound.why else ""
            raise ClusterankError(f"{kind.noun} {str(spec)!r}: {key}={text!r} is not valid ({param.help}{allowed}"
                                  f"{why})")
    return values


def canonical(kind: Backend, spec: Spec) -> str:
    """The spec as clusterank names it: the registered name, the parameters given with normalised values."""
    values = typed_params(kind, spec)
    given = tuple((key, f"{values[key]:g}" if isinstance(values[key], float) else str(values[key]))
                  for key, _ in spec.params)
    return str(replace(spec, params=given))


def is_number(value: Any) -> bool:
    """A real number (not a bool): the values bounds and limits apply to."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Registry(Mapping[str, B], Generic[B]):
    """The backends of one box, by registered name: a read-only mapping plus lookup by spec.

    Args:
        noun: what one backend is called in messages (`retriever`, `model`, `reranker`).
        backends: the built-in backends, each declared in its own file.
        group: the entry-point group other packages register backends under (`clusterank.retrievers`).
        shown: how a name the user gave is shown in messages (API model names hide URL credentials).
        hint: extra words for an unknown name (`" (facts only: ...)"`), or "".
    """

    def __init__(self, noun: str, backends: Iterable[B], *, group: str | None = None,
                 shown: Callable[[str], str] = str, hint: Callable[[str], str] = lambda name: ""):
        self.noun, self.group, self._shown, self._hint = noun, group, shown, hint
        self._backends: dict[str, B] = {}
        self._plugins_loaded = group is None
        for backend in backends:
            self.register(backend)

    def register(self, backend: B) -> B:
        """Add a backend (a plugin's, or a test's); returns it.

        Raises:
            ClusterankError: a name already registered.
        """
        if backend.name in self._backends:
            raise ClusterankError(f"{self.noun} {backend.name!r} is registered twice")
        self._backends[backend.name] = backend
        return backend

    def unregister(self, name: str) -> B:
        """Remove a backend added by `register` (a test's); returns it.

        Raises:
            KeyError: no backend has that name.
        """
        return self._backends.pop(name)

    def __getitem__(self, name: str) -> B:
        return self._backends[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._backends)

    def __len__(self) -> int:
        return len(self._backends)

    def _load_plugins(self) -> None:
        self._plugins_loaded = True
        for point in importlib.metadata.entry_points(group=self.group):
            try:
                backend = point.load()
                if isinstance(backend, Backend) and backend.name not in self._backends:
                    self._backends[backend.name] = backend
            except Exception as exc:  # a broken plugin must not stop the built-in backends
                log.warning("%s plugin %s could not be loaded: %s", self.noun, point.name, exc)

    def _match(self, text: str) -> tuple[B, str] | None:
        for backend in self._backends.values():
            if backend.is_prefix and text.lower().startswith(backend.name.lower()):
                return backend, text[len(backend.name):]
        head, _, rest = text.partition(":")
        for name in (head, head.lower(), "".join(head.split()).lower()):
            if name in self._backends and not self._backends[name].is_prefix:
                return self._backends[name], rest
        return None

    def parse(self, text: str) -> Spec:
        """The spec `text` names: its backend's registered name, argument and parameters (as text).

        Raises:
            ClusterankError: an empty spec, an unknown name (listing the known ones with their parameters), a
                prefix with nothing after it, or a parameter without `=`.
        """
        raw = str(text).strip()
        if not raw:
            parse_spec(raw, self.noun)  # the box's "is empty" message
        found = self._match(raw)
        if found is None and not self._plugins_loaded:
            self._load_plugins()
            found = self._match(raw)
        if found is None:
            name = parse_spec(raw, self.noun).name if self.noun == "retriever" else raw
            where = f" in {self._shown(raw)!r}" if self.noun == "retriever" else ""
            known = ", ".join(b.usage() for b in self._backends.values())
            raise ClusterankError(f"unknown {self.noun} {self._shown(name)!r}{self._hint(raw)}{where}; known: {known}")
        backend, rest = found
        if not backend.is_prefix:
            return replace(parse_spec(backend.name + ":" + rest, self.noun), name=backend.name)
        pieces, params = rest.split(","), []
        while len(pieces) > 1:
            key, eq, value = pieces[-1].partition("=")
            if not eq or key.strip().lower() not in backend.params:
                break
            params.insert(0, (key.strip().lower(), value.strip()))
            pieces.pop()
        argument = ",".join(pieces).strip()
        if not argument:
            raise ClusterankError(f"{self.noun} {self._shown(raw)!r}: say what follows {backend.name!r} "
                                  f"({backend.name}{backend.argument}: {backend.summary})")
        return Spec(backend.name, tuple(params), argument)

    def find(self, text: str) -> tuple[B, Spec]:
        """The backend a spec names and the parsed spec, checked to be installed.

        Raises:
            ClusterankError: what `parse` raises, or its packages are not installed (with the install command).
        """
        spec = self.parse(text)
        backend = self._backends[spec.name]
        missing = backend.missing()
        if missing:
            raise ClusterankError(f"{self.noun} {self._shown(str(text).strip())!r} needs the Python package "
                                  f"{missing[0]!r}; {install_hint(backend.extra)}")
        return backend, spec

    def usage(self) -> str:
        """Every backend's usage, for help texts: `exact | routed:nprobe=1 | ...`."""
        return " | ".join(b.usage() for b in self._backends.values())

    def available(self) -> list[B]:
        """The backends whose packages are installed here."""
        return [b for b in self._backends.values() if not b.missing()]
