"""The language of each job description: a `lang` column when the queries have one, else detected.

Detection is approximate. It reads the Unicode script of the letters first: a text whose letters are split between
scripts (say half Chinese, half English) is `mixed`, one without letters (only digits or emoji) `und`. Otherwise
py3langid names the language (langid.py's naive Bayes model over byte n-grams, 97 languages, shipped inside the
wheel, offline); short texts in one script (a bare job title) can be taken for a neighbouring language of that
script, and two languages in one script (English words in a Spanish advert) are not seen as mixed. A `lang` column
is taken as written, checked only where the text's script plainly contradicts it (`lang` de, text mostly Chinese).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from functools import lru_cache

import numpy as np

from clusterank.errors import ClusterankError

log = logging.getLogger("clusterank.data")

LANG_COLUMN = "lang"
MIXED = "mixed"
"""The language of a query whose letters are split between scripts."""
UNDETERMINED = "und"
"""The language of a query without letters (ISO 639-2's code for undetermined)."""
MIXED_SHARE = 0.7
"""A text is `mixed` when its main script holds less than this share of its letters (CJK characters weighed
`WIDE_WEIGHT` each)."""
CONTRADICTS_SHARE = 0.8
"""A stated `lang` is refused when a script it is never written in holds at least this share of the text."""
WIDE_WEIGHT = 3
"""A Han, kana or Hangul character counts as this many letters: it carries about a short word's worth."""
_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
_WIDE = {"Han", "Kana", "Hangul"}

SCRIPTS: dict[str, frozenset[str]] = {
    **{code: frozenset({"Han"}) for code in ("zh", "yue", "wuu")},
    "ja": frozenset({"Han", "Kana"}), "ko": frozenset({"Hangul", "Han"}),
    **{code: frozenset({"Cyrillic"}) for code in ("ru", "uk", "be", "bg", "mk", "kk", "ky", "mn", "tg")},
    **{code: frozenset({"Cyrillic", "Latin"}) for code in ("sr", "bs", "uz", "az")},
    "el": frozenset({"Greek"}), "he": frozenset({"Hebrew"}), "yi": frozenset({"Hebrew"}),
    **{code: frozenset({"Arabic"}) for code in ("ar", "fa", "ur", "ps")},
    **{code: frozenset({"Devanagari"}) for code in ("hi", "mr", "ne")},
    "th": frozenset({"Thai"}), "hy": frozenset({"Armenian"}), "ka": frozenset({"Georgian"}),
    "am": frozenset({"Ethiopic"}), "bn": frozenset({"Bengali"}), "ta": frozenset({"Tamil"}),
    **{code: frozenset({"Latin"}) for code in (
        "en", "es", "de", "fr", "it", "pt", "nl", "pl", "cs", "sk", "sl", "hr", "ro", "hu", "fi", "sv", "da", "no",
        "nb", "nn", "is", "et", "lv", "lt", "tr", "id", "ms", "vi", "tl", "sw", "ca", "eu", "gl", "ga", "cy", "mt",
        "sq", "af", "eo", "la")},
}
"""Language code -> the scripts it is written in, for the languages a contradiction is checked for (others: none)."""


def script_of(char: str) -> str | None:
    """The Unicode script of a letter ("Latin", "Cyrillic", "Han", "Kana", "Hangul", ...), None for anything that is
    not a letter (digits, punctuation, emoji, spaces)."""
    if not unicodedata.category(char).startswith("L"):
        return None
    name = unicodedata.name(char, "")
    if name.startswith(("CJK ", "KANGXI")):
        return "Han"
    words = name.split()
    if words and words[0] in ("FULLWIDTH", "HALFWIDTH") and len(words) > 1:
        words = words[1:]
    if not words:
        return None
    if words[0] in ("HIRAGANA", "KATAKANA"):
        return "Kana"
    return words[0].title()


def script_shares(text: str) -> dict[str, float]:
    """Each script's share of the letters of `text`, largest first (Han, kana and Hangul characters weigh
    `WIDE_WEIGHT`); empty when the text has no letters."""
    counts: Counter[str] = Counter()
    for ch in text:
        script = script_of(ch)
        if script is not None:
            counts[script] += WIDE_WEIGHT if script in _WIDE else 1
    total = sum(counts.values())
    return {s: n / total for s, n in counts.most_common()} if total else {}


@lru_cache(maxsize=1)
def _identifier():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise ClusterankError("detecting the language of job descriptions needs the Python package 'py3langid' "
                              "(pip install py3langid==0.4.0), or give the queries a `lang` column") from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str:
    """The language of `text` as an ISO 639-1 code ("en", "zh", "uk", ...), `mixed` when its letters are split
    between scripts, `und` when it has none. Approximate (see the module's notes).

    Raises:
        ClusterankError: py3langid is not installed.
    """
    shares = script_shares(text)
    if not shares:
        return UNDETERMINED
    if next(iter(shares.values())) < MIXED_SHARE:
        return MIXED
    return str(_identifier().classify(text)[0])


def stated_language(value, where: str) -> str:
    """A `lang` cell as a language tag: trimmed, lower case, `_` read as `-` ("zh_CN" -> "zh-cn"); `mixed` and `und`
    are taken too.

    Raises:
        ClusterankError: an empty cell, or one that is not a language tag (two or three letters, optionally with
            subtags), naming `where`.
    """
    if value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip()):
        raise ClusterankError(f"{where}: the language is empty; write a code such as en, zh, es, de or uk (or "
                              f"{MIXED}), or drop the column to have it detected")
    if not isinstance(value, (str, np.str_)):
        raise ClusterankError(f"{where}: a language must be a code such as en or zh, got {type(value).__name__} "
                              f"{value!r:.40}")
    tag = str(value).strip().lower().replace("_", "-")
    if tag not in (MIXED, UNDETERMINED) and not _TAG.match(tag):
        raise ClusterankError(f"{where}: {str(value).strip()!r:.60} is not a language code; write one such as en, "
                              f"zh, es, de, uk or zh-tw (or {MIXED})")
    return tag


def check_consistent(lang: str, text: str, where: str) -> None:
    """Refuse a stated language whose script the text plainly is not written in (`de`, text mostly Han).

    Raises:
        ClusterankError: naming `where`, the stated language and the text's main script with its share.
    """
    expected = SCRIPTS.get(lang.split("-")[0])
    shares = script_shares(text)
    if expected is None or not shares:
        return
    script, share = next(iter(shares.items()))
    if script not in expected and share >= CONTRADICTS_SHARE:
        raise ClusterankError(f"{where}: says {lang!r}, but the text is {share:.0%} {script} script, which {lang} is "
                              f"not written in; fix the language (or write {MIXED}) or the text")


def query_languages(queries, column: str = LANG_COLUMN) -> list[str]:
    """The language of each query (a `Corpus`): its `column` cell when the table has that column (checked:
    `stated_language`, `check_consistent`), else `detect_language` of its text. Queries whose scripts are mixed are
    labelled `mixed`, with one warning saying how many.

    Raises:
        ClusterankError: an empty or malformed language cell, or one its text contradicts, naming the file, column
            and row; py3langid missing when detection is needed.
    """
    frame = getattr(queries, "frame", None)
    if frame is not None and column in frame.columns:
        langs = []
        for row, (value, text) in enumerate(zip(frame[column].tolist(), queries.texts)):
            where = f"{queries.source}, column {column!r}, row {row}"
            langs.append(stated_language(value, where))
            check_consistent(langs[-1], text, where)
        return langs
    langs = [detect_language(t) for t in queries.texts]
    mixed = [i for i, lang in enumerate(langs) if lang == MIXED]
    if mixed:
        log.warning("%s: %d of %d queries mix scripts (first: row %d); they are labelled %r in the per-language "
                    "table (give the queries a `%s` column to say their language)", queries.source, len(mixed),
                    len(langs), mixed[0], MIXED, column)
    return langs
