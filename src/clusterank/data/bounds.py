"""Declared ranges of the numbers a user gives (options, spec parameters): one check, one message.

A `Bound` holds the smallest and largest value allowed and why; `check` refuses anything else with one line
naming the option or parameter, its value and the allowed range, before the number reaches numpy, FAISS or
scikit-learn (which answer a 33-bit seed or a 7,000-list index over 6,904 rows with a traceback).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from clusterank.errors import ClusterankError


def _fmt(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Bound:
    """The range of one number: `lo` and `hi` inclusive (None: unbounded), whole numbers only when `whole`.

    `why` says where the limit comes from (shown in the message when a value is refused).
    """

    lo: float | None = None
    hi: float | None = None
    why: str = ""
    whole: bool = True

    def allowed(self, hi: float | None = None) -> str:
        """The range as words: `1 to 6,904`, `at least 1`, `at most 5`."""
        hi = self.hi if hi is None else hi
        if self.lo is not None and hi is not None:
            return f"{_fmt(self.lo)} to {_fmt(hi)}"
        if self.lo is not None:
            return f"at least {_fmt(self.lo)}"
        return f"at most {_fmt(hi)}" if hi is not None else "any number"

    def refusal(self, value, name: str) -> str | None:
        """Why `value` is outside the range (None when it is inside)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name}={value!r} is not a number"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name}={value} is not a finite number"
        if self.whole and isinstance(value, float) and not value.is_integer():
            return f"{name}={value:g} is not a whole number"
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            why = f"; {self.why}" if self.why else ""
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            return f"{name}={shown} is out of range (allowed: {self.allowed()}{why})"
        return None

    def check(self, value, name: str):
        """`value` itself when it is inside the range.

        Raises:
            ClusterankError: naming `name`, the value and the allowed range.
        """
        problem = self.refusal(value, name)
        if problem:
            raise ClusterankError(problem)
        return value

    def option(self, name: str) -> Callable:
        """A typer/click option callback that checks the option's value (None, an option not given, passes)."""

        def callback(value):
            return value if value is None else self.check(value, name)

        return callback


SEED_RANGE = Bound(0, 2**32 - 1, "numpy, FAISS and scikit-learn take 32-bit seeds")
"""Every random seed (`--seed`, a `seed=` parameter)."""
MAX_PROFILES = 2_500_000
PROFILES_RANGE = Bound(1, MAX_PROFILES, "the synthetic set is generated in memory, about 8 s and 300 MB per 100,000 "
                 "profiles; 2,500,000 is the seed's largest corpus")
"""`--n`, the size of the bundled synthetic profile set."""


def check_seed(seed: int, name: str = "seed") -> int:
    """`seed` itself when numpy, FAISS and scikit-learn can take it (0 to 2**32 - 1); else one clear error."""
    return SEED_RANGE.check(seed, name)
