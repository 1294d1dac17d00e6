"""A pointwise LLM grader: one (job advert, profile) pair graded 0-3 with an UMBRELA-style prompt, for comparing
models without labels (`clusterank.evaluate.judged`).

The prompt is versioned (`PROMPT_VERSION`); grades are cached in SQLite by (judge, prompt version, sha of the two
texts), and the cache remembers each version's prompt text, so a prompt edited without a new version is refused
instead of mixing grades. The grade is read from the answer token's log-probabilities when the server returns
them (the most probable of "0".."3"), else from the answer's text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from clusterank.errors import ClusterankError, printable
from clusterank.httpclient import graceful_interrupt
from clusterank.rerank.base import RerankStats
from clusterank.rerank.llm import ChatClient, open_checked_cache

log = logging.getLogger("clusterank.rerank")

PROMPT_VERSION = "umbrela-jobs-1"
"""The version of `GRADE_PROMPT`; change it with the text (the cache refuses an edited text under an old version)."""

GRADE_PROMPT = """Given a job advert and a candidate profile, grade how well the candidate fits the job on this scale:
3 = the candidate fits the job: the same role, and the profile meets its main requirements.
2 = the candidate fits partly: the same or a very close role, but with important gaps.
1 = the candidate is related: a neighbouring role or field that shares some skills, but not this role.
0 = the candidate does not fit: another kind of work.

{first}

{second}

Consider what the job asks for and what the candidate has done, then answer with a single digit, 0, 1, 2 or 3, and
nothing else."""

ADVERT, PROFILE = "Job advert:\n{query}", "Candidate profile:\n{profile}"
GRADES = (0, 1, 2, 3)
FILLER = (" The candidate keeps a tidy calendar, answers email within a working day, and prefers written notes to "
          "long meetings. Hobbies include walking and reading.")
"""Neutral padding for the length check: nothing in it bears on any role."""


@dataclass(frozen=True)
class Grade:
    """One graded pair: the grade, its expectation under the answer distribution, and how it was read."""

    grade: int
    expected: float
    source: str
    """"logprobs", "text", or "cache"."""


def read_grade(reply: dict, shown: str = "the judge") -> tuple[int, float, str]:
    """The 0-3 grade in a chat reply: (grade, expected grade, "logprobs" | "text").

    With log-probabilities: the most probable of the tokens "0".."3" among the first answer token's alternatives
    (expected: their softmax-weighted mean). Without, or when no digit is among them: the first number in the text.

    Raises:
        ClusterankError: the answer holds no grade, or one outside 0-3 (naming what it said).
    """
    choice = (reply.get("choices") or [{}])[0] if isinstance(reply.get("choices"), list) else {}
    choice = choice if isinstance(choice, dict) else {}
    content = ((choice.get("logprobs") or {}).get("content") or []) if isinstance(choice.get("logprobs"), dict) else []
    text = str((choice.get("message") or {}).get("content") or "").strip()
    if content and isinstance(content[0], dict):
        first = content[0]
        alts = first.get("top_logprobs") or [{"token": first.get("token"), "logprob": first.get("logprob")}]
        best: dict[int, float] = {}
        for alt in alts:
            token = str(alt.get("token") or "").strip()
            if token.isdigit() and alt.get("logprob") is not None:
                best.setdefault(int(token), float(alt["logprob"]))
        top = str(first.get("token") or "").strip()
        if top.isdigit() and int(top) not in GRADES:
            raise ClusterankError(f"{shown} answered the grade {printable(top, 20)}, outside 0-3; use a judge that "
                                  f"follows the prompt")
        inside = {g: lp for g, lp in best.items() if g in GRADES}
        if inside:
            import math

            peak = max(inside.values())
            weights = {g: math.exp(lp - peak) for g, lp in inside.items()}
            total = sum(weights.values())
            return max(inside, key=inside.get), sum(g * w for g, w in weights.items()) / total, "logprobs"
    match = re.search(r"\d+", text)
    if match is None:
        raise ClusterankError(f"{shown} answered {printable(text, 60)!r}, which holds no grade 0-3; use a judge that "
                              f"follows the prompt")
    grade = int(match.group())
    if grade not in GRADES:
        raise ClusterankError(f"{shown} answered the grade {grade}, outside 0-3; use a judge that follows the prompt")
    return grade, float(grade), "text"


@dataclass
class Grader:
    """Grades (job advert, profile) pairs with a chat model; a SQLite cache keeps every grade paid for.

    Args:
        client: the chat client (the local model's loopback server, or an API).
        cache_path: the SQLite file of grades (shared by every judge and prompt version).
        judge: the name grades are cached under (default: the client's model).
        version, template: the prompt and its version (default: `PROMPT_VERSION`, `GRADE_PROMPT`).
        max_chars: the advert and the profile are each cut to this many characters.
        concurrency: requests in flight at once (a local llama.cpp server answers one at a time).
    """

    client: ChatClient
    cache_path: str | Path
    judge: str | None = None
    version: str = PROMPT_VERSION
    template: str = GRADE_PROMPT
    max_chars: int = 700
    concurrency: int = 1
    stats: RerankStats = field(default_factory=RerankStats)
    seconds: float = 0.0
    """Wall time spent waiting for the judge (for judgments per second)."""

    def __post_init__(self) -> None:
        self.judge = self.judge or self.client.model
        self.sources: dict[str, int] = {}
        self.template_sha = hashlib.sha256(self.template.encode("utf-8")).hexdigest()
        self._db = open_checked_cache(self.cache_path, [
            "CREATE TABLE IF NOT EXISTS grades (judge TEXT, version TEXT, pair BLOB, grade INTEGER, expected REAL, "
            "source TEXT, PRIMARY KEY (judge, version, pair)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS prompts (version TEXT PRIMARY KEY, sha TEXT)"], "grade cache", "graded",
            threads=True)
        row = self._db.execute("SELECT sha FROM prompts WHERE version = ?", (self.version,)).fetchone()
        if row is not None and row[0] != self.template_sha:
            raise ClusterankError(f"prompt version {self.version} changed under its cached grades in {self.cache_path} "
                                  f"(the text's sha is {self.template_sha[:12]}, the cache's {row[0][:12]}); give the "
                                  f"edited prompt a new version, so old grades are never mixed with new ones")
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO prompts VALUES (?, ?)", (self.version, self.template_sha))
        others = self._db.execute("SELECT version, COUNT(*) FROM grades WHERE judge = ? AND version != ? GROUP BY "
                                  "version", (self.judge, self.version)).fetchall()
        if others:
            listed = ", ".join(f"{n} under {v}" for v, n in others)
            log.warning("grades of %s cached under other prompt versions (%s) are not used for %s", self.judge,
                        listed, self.version)

    def prompt(self, query: str, profile: str, *, swapped: bool = False, padded: bool = False) -> str:
        """The prompt for one pair; `swapped` puts the profile before the advert, `padded` adds neutral filler
        (the bias checks)."""
        profile = profile[:self.max_chars] + (FILLER * 3 if padded else "")
        parts = (ADVERT.format(query=query[:self.max_chars]), PROFILE.format(profile=profile))
        first, second = parts[::-1] if swapped else parts
        return self.template.format(first=first, second=second)

    def _key(self, query: str, profile: str, variant: str) -> bytes:
        text = f"{variant}\0{query[:self.max_chars]}\0{profile[:self.max_chars]}"
        return hashlib.sha256(text.encode("utf-8")).digest()

    def lookup(self, query: str, profile: str, variant: str = "") -> Grade | None:
        """The cached grade of a pair, or None."""
        row = self._db.execute("SELECT grade, expected FROM grades WHERE judge = ? AND version = ? AND pair = ?",
                               (self.judge, self.version, self._key(query, profile, variant))).fetchone()
        return None if row is None else Grade(int(row[0]), float(row[1]), "cache")

    def grade_many(self, pairs: Sequence[tuple[str, str]], *, variant: str = "",
                   progress: Callable[[int, int], None] | None = None) -> list[Grade]:
        """Grades of `(advert, profile)` pairs, in order: cached ones free, the others asked (`concurrency` at once)
        and cached as each answer arrives, so an interrupted run loses nothing it paid for.

        Args:
            variant: "" for the plain prompt; "swapped" or "padded" for the bias checks (cached apart).
            progress: called with (done, total) after each answer.

        Raises:
            ClusterankError: the judge does not answer (after retries), or answers without a grade 0-3.
        """
        out: list[Grade | None] = [self.lookup(q, p, variant) for q, p in pairs]
        self.stats.cached += sum(g is not None for g in out)
        todo = [i for i, g in enumerate(out) if g is None]
        if not todo:
            return out  # type: ignore[return-value]
        swapped, padded = variant == "swapped", variant == "padded"
        prompts = {i: self.prompt(*pairs[i], swapped=swapped, padded=padded) for i in todo}
        start = time.perf_counter()
        step, done = max(1, self.concurrency), 0
        with graceful_interrupt(log) as interrupted, ThreadPoolExecutor(step) as pool:
            for at in range(0, len(todo), step):
                if interrupted:
                    raise KeyboardInterrupt
                batch = todo[at:at + step]
                futures = [pool.submit(self.client.complete, [{"role": "user", "content": prompts[i]}], max_tokens=3)
                           for i in batch]
                for i, future in zip(batch, futures):  # every answer that came back is cached before an error
                    out[i] = self._record(pairs[i], variant, prompts[i], future.result())
                    done += 1
                    if progress is not None:
                        progress(done, len(todo))
        self.seconds += time.perf_counter() - start
        return out  # type: ignore[return-value]

    def _record(self, pair: tuple[str, str], variant: str, prompt: str, reply) -> Grade:
        if not isinstance(reply, dict):
            raise ClusterankError(f"LLM server {self.client.shown_url} answered with JSON that is not an object")
        self.stats.calls += 1
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        for name in ("prompt_tokens", "completion_tokens"):
            value = usage.get(name)
            if isinstance(value, int) and 0 <= value <= 4 * len(prompt) + 4096:
                setattr(self.stats, name, getattr(self.stats, name) + value)
        grade, expected, source = read_grade(reply, f"judge {self.judge} at {self.client.shown_url}")
        self.sources[source] = self.sources.get(source, 0) + 1
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?)",
                             (self.judge, self.version, self._key(*pair, variant), grade, expected, source))
        return Grade(grade, expected, source)

    def close(self) -> None:
        """Close the cache and the client."""
        self._db.close()
        self.client.close()
