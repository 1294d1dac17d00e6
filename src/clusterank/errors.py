"""The one exception type a user sees: a single line that names what is wrong and where.

The CLI prints `error: <message>` and exits with status 2; Python callers catch `ClusterankError`.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit


class ClusterankError(Exception):
    """Bad input or an unusable resource; the message is one line naming the file, column, row or model."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"            # CSI: cursor moves, colours, erasing (ESC [ ... final byte)
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"   # OSC, DCS, SOS, PM, APC strings up to BEL or ST (or the end)
    r"|\x1b[ -/]*[0-~]?"                   # any other escape sequence (ESC, intermediates, final byte)
    r"|\x9b[0-?]*[ -/]*[@-~]"              # the 8-bit CSI
    r"|[\x90\x9d-\x9f].*?(?:\x07|\x9c|$)", re.DOTALL)  # 8-bit DCS, OSC, PM, APC strings up to BEL/ST


def printable(text: object, limit: int | None = 300) -> str:
    """`text` made safe to show in a terminal: one line with no escape sequence and no control character.

    Everything a server or a file sent (an error body, a provider's message) goes through this before it reaches
    a message: ANSI/VT escape sequences are removed whole (they could move the cursor, recolour or retitle the
    terminal, or hide what came before), every other control or invisible formatting character (C0, C1, DEL,
    bidirectional overrides, zero-width characters) becomes a space, runs of white space become one space, and
    the result is cut to `limit` characters (None: no cut) with "..." marking the cut.
    """
    text = _ESCAPE.sub("", str(text))
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)].rstrip() + "..."
    return text


_URL = re.compile(r"^(?P<scheme>[^:/?#]+:)?(?://(?P<netloc>[^/?#]*))?(?P<path>[^?#]*)(?:\?[^#]*)?(?:#.*)?$", re.DOTALL)


def public_url(url: str) -> str:
    """`url` without what may be a secret: its user name and password (`http://user:pass@host`), its query
    string (`?api_key=...`) and its fragment. A URL with none of them comes back unchanged, character for
    character (it may be part of a stored name), and one whose host is not written `//host` loses only them.

    Every URL that is stored (a model's name in the embedding cache) or shown (in a message or a log line) goes
    through this; the request itself still uses the URL as given.
    """
    match = _URL.match(str(url))
    if match is None:  # cannot happen (every part is optional); keep nothing that could be a secret
        return "<url>"
    netloc = match["netloc"]
    host = "" if netloc is None else "//" + netloc.rpartition("@")[2]
    return f"{match['scheme'] or ''}{host}{match['path']}"


def url_has_secrets(url: str) -> bool:
    """True when `url` carries a user name, a password or a query string (what `public_url` leaves out)."""
    return public_url(url) != str(url).split("#", 1)[0]


def check_base_url(url: str, what: str) -> str:
    """`url` when it is an http(s) URL naming a host (and, when given, a valid port); else one error.

    Args:
        url: the base URL as given (it may carry credentials; they stay in the returned URL for the request).
        what: what the URL is for, the start of the message (e.g. "--llm-base-url", "model 'api:m@...'").

    Raises:
        ClusterankError: `<what>: the base URL '<url without secrets>' ...` saying what is missing or wrong.
    """
    text = str(url)
    shown = printable(public_url(text), 200)
    example = "e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1"
    if text != text.strip() or any(unicodedata.category(c) in ("Cc", "Cf", "Zs") for c in text):
        raise ClusterankError(f"{what}: the base URL {shown!r} contains spaces or control characters; {example}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ClusterankError(f"{what}: the base URL {shown!r} is not a valid URL ({printable(exc, 120)}); "
                              f"{example}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ClusterankError(f"{what}: the base URL {shown!r} must start with http:// or https://; {example}")
    if not parts.hostname:
        raise ClusterankError(f"{what}: the base URL {shown!r} names no host; {example}")
    if port == 0:
        raise ClusterankError(f"{what}: the base URL {shown!r} has port 0; {example}")
    return text


EXTRAS = {
    "local": "pip install torch==2.13.0 && pip install 'clusterank[local]'",
    "viz": "pip install 'clusterank[viz]'",
    "hf": "pip install 'clusterank[hf]'",
    "llm": "pip install 'clusterank[llm]'",
    "cost": "pip install 'clusterank[cost]'",
    "faiss": "pip install faiss-cpu",
    "api": "pip install 'clusterank[api]'",
    "serve": "pip install 'clusterank[serve]'",
    "ray": "pip install 'clusterank[ray]'",
    "multilingual": "pip install 'clusterank[multilingual]'",
    "census": "pip install 'clusterank[census]'",
    "ragas": "pip install 'clusterank[ragas]'",
    "pg": "pip install 'clusterank[pg]'",
}
"""How to install each optional extra: the one place an install hint is written."""


def install_hint(extra: str) -> str:
    """The command that installs `extra` (one of `EXTRAS`)."""
    return EXTRAS[extra]


def require(module: str, extra: str, what: str):
    """Import `module`, or raise one line saying what needs it and how to install it.

    Args:
        module: the module to import (e.g. "plotly.graph_objects").
        extra: the clusterank extra that provides it (a key of `EXTRAS`).
        what: what needs it, for the message (e.g. "the cluster map", "model 'all-MiniLM-L6-v2'").

    Raises:
        ClusterankError: `<what> needs the Python package '<name>'; <install command>`.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        name = exc.name or module.split(".")[0]
        raise ClusterankError(f"{what} needs the Python package {name!r}; {install_hint(extra)}") from None
