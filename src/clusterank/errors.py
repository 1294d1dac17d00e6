"""The one exception type a user sees: a single line that names what is wrong and where.

The CLI prints `error: <message>` and exits with status 2; Python callers catch `ClusterankError`.
"""

from __future__ import annotations


class ClusterankError(Exception):
    """Bad input or an unusable resource; the message is one line naming the file, column, row or model."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
