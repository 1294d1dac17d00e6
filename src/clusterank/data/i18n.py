"""Job descriptions for the bundled roles in other languages, from `queries_i18n.toml` beside this module.

One hand-written advert per bundled role in Chinese (zh, Simplified), Spanish (es), German (de) and Ukrainian
(uk), plus the demo's Product Marketing Manager advert in each; English ("en") is the generated set of
`generate_queries`. Each table has the columns of the English one (`id`, `natural_language`, `role`, `family`,
`neighbour_in_corpus`) and a `lang` column; "all" stacks every language, English first.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from clusterank.data.schema import FAMILY_COLUMN, QUERY_TEXT_COLUMN, ROLE_COLUMN
from clusterank.defaults import DEFAULT_SEED
from clusterank.errors import ClusterankError
from clusterank.tomlfile import read_toml

QUERY_LANGUAGES: dict[str, str] = {"en": "English", "zh": "Chinese (Simplified)", "es": "Spanish", "de": "German",
                                   "uk": "Ukrainian"}
"""The languages the bundled job descriptions are written in: ISO 639-1 code -> name."""
ALL_LANGUAGES = "all"
LANG_COLUMN = "lang"


@lru_cache(maxsize=1)
def _adverts() -> dict:
    from importlib.resources import files

    return read_toml(files("clusterank.data").joinpath("queries_i18n.toml"), "translated job descriptions")[1]


def check_lang(lang: str, *, allow_all: bool = False) -> str:
    """`lang` as a known language code (trimmed, lower case), or "all" where `allow_all`.

    Raises:
        ClusterankError: an empty or unknown code, naming the known ones.
    """
    code = str(lang).strip().lower()
    if code in QUERY_LANGUAGES or (allow_all and code == ALL_LANGUAGES):
        return code
    known = ", ".join(f"{c} ({name})" for c, name in QUERY_LANGUAGES.items()) + (", or all" if allow_all else "")
    what = "an empty language" if not code else f"unknown language {str(lang).strip()!r}"
    raise ClusterankError(f"{what}: the bundled job descriptions are in {known}")


def demo_query(lang: str = "en") -> str:
    """The demo's Product Marketing Manager job description in `lang` (English: `DEMO_QUERY`).

    Raises:
        ClusterankError: an unknown language.
    """
    code = check_lang(lang)
    if code == "en":
        from clusterank.data.words import DEMO_QUERY

        return DEMO_QUERY
    return _adverts()["demo"][code]


def query_frame(lang: str = "en", seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The bundled job descriptions in `lang` as a table (see the module docstring); "en" is `generate_queries(seed)`
    unchanged, without a `lang` column, "all" every language with one.

    Raises:
        ClusterankError: an unknown language.
    """
    from clusterank.data.roles import ROLES, confusable_group
    from clusterank.data.synthetic import QUERY_COLUMNS, generate_queries

    code = check_lang(lang, allow_all=True)
    if code == "en":
        return generate_queries(seed=seed)
    if code == ALL_LANGUAGES:
        return pd.concat([query_frame(c, seed).assign(**{LANG_COLUMN: c}) for c in QUERY_LANGUAGES], ignore_index=True)
    rows = []
    for i, advert in enumerate(_adverts()["queries"], start=1):
        title = advert[ROLE_COLUMN]
        rows.append({"id": f"{code}{i:03d}", QUERY_TEXT_COLUMN: advert[code], ROLE_COLUMN: title,
                     FAMILY_COLUMN: ROLES[title].family, "neighbour_in_corpus": bool(confusable_group(title)),
                     LANG_COLUMN: code})
    return pd.DataFrame(rows, columns=[*QUERY_COLUMNS, LANG_COLUMN])
