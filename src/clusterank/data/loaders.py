"""Profiles and job descriptions from JSONL, CSV, Parquet and Hugging Face datasets, as `Corpus` tables.

A corpus carries its texts, labels (`role`, else the title before ` | ` in `Headline`), row ids,
and any precomputed vectors found in `embeddings_<model>` columns (model names whitespace-trimmed).
"""

from __future__ import annotations

import csv
import json
import logging
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clusterank.data.blind import blind_texts, parse_blind
from clusterank.data.bounds import PROFILES_RANGE, check_seed
from clusterank.data.corpus import Corpus
from clusterank.data.database import database_source, is_database_url, read_database
from clusterank.data.schema import (FAMILY_COLUMN, PROFILE_FIELDS, QUERY_TEXT_COLUMN, ROLE_COLUMN, TEXT_COLUMN,
                                    profile_text, role_from_headline)
from clusterank.defaults import BUNDLED_N, DEFAULT_SEED
from clusterank.errors import ClusterankError, require

log = logging.getLogger("clusterank.data")

EMBEDDING_PREFIX = "embeddings_"


def read_table(source: str | Path, *, split: str = "train") -> pd.DataFrame:
    """Read a table from a file or dataset.

    Args:
        source: a `.jsonl`/`.json`/`.csv`/`.parquet` file; a folder of parquet files or `datasets.save_to_disk`'s;
            `hf:<name>` (`datasets.load_dataset`, needs network); or `postgresql://.../db?table=profiles` (`database`).
        split: the split to take from Hugging Face datasets.

    Raises:
        ClusterankError: missing or unreadable file, unknown format.
    """
    text = str(source)
    if text.startswith("hf:") or is_database_url(text):
        return _load_hub_dataset(text[3:], split) if text.startswith("hf:") else read_database(text)
    path = Path(source)
    if not path.exists():
        raise ClusterankError(f"{path}: no such file or folder")
    if path.is_file() and path.stat().st_size == 0:
        raise ClusterankError(f"{path}: the file is empty (0 bytes)")
    try:
        if path.is_dir():
            if (path / "dataset_info.json").exists() or (path / "state.json").exists() or (
                    path / "dataset_dict.json").exists():
                return _load_saved_dataset(path, split)
            parts = sorted(path.rglob("*.parquet"))
            if not parts:
                raise ClusterankError(f"{path}: folder holds no parquet files and no saved dataset")
            return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            if not isinstance(frame.index, pd.RangeIndex):  # pandas took the extra leading fields as an index
                raise ClusterankError(_wide_row(path))
            return frame
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".json":
            return pd.read_json(path, dtype=False)
    except ClusterankError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, json.JSONDecodeError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if path.is_file() and suffix in (".csv", ".jsonl", ".ndjson", ".json"):
            first = _bad_line(path, suffix) or first  # name the line rather than a byte offset
        raise ClusterankError(f"{path}: cannot read it as {suffix.lstrip('.') or 'a table'}: {first}") from None
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise ClusterankError(f"{path}: unreadable ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    raise ClusterankError(f"{path}: unknown format {suffix!r}; use .jsonl, .csv, .parquet or a dataset folder")


def _wide_row(path: Path) -> str:
    """The first row of a CSV file with more fields than its header, as one line naming the file and line."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        for record in reader:
            if len(record) > len(header):
                return (f"{path}: line {reader.line_num} has {len(record)} fields but the header has {len(header)} "
                        f"({', '.join(header)}); quote fields that contain commas")
    return f"{path}: rows have more fields than the header ({len(header)}); quote fields that contain commas"


def _bad_line(path: Path, suffix: str) -> str | None:
    """Where a text table is broken, as `line N: ...`: the first line that is not UTF-8, or (JSON lines) not JSON."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return (f"line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                        "save the file as UTF-8")
            if suffix in (".jsonl", ".ndjson") and line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError as exc:
                    return f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
    return None


def _datasets():
    return require("datasets", "hf", "Hugging Face datasets")


def _load_saved_dataset(path: Path, split: str) -> pd.DataFrame:
    ds = _datasets().load_from_disk(str(path))
    if hasattr(ds, "keys"):  # a DatasetDict
        if split not in ds:
            raise ClusterankError(f"{path}: no split {split!r} (splits: {', '.join(ds.keys())})")
        ds = ds[split]
    return ds.to_pandas()


def _load_hub_dataset(name: str, split: str) -> pd.DataFrame:
    datasets = _datasets()
    try:
        return datasets.load_dataset(name, split=split).to_pandas()
    except Exception as exc:  # offline, unknown name, no such split: all reach the user as one line
        raise ClusterankError(f"hf:{name}: cannot load the dataset ({type(exc).__name__}: "
                              f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})") from None


def _vector(cell, where: str) -> np.ndarray:
    """One cell of an `embeddings_<model>` column as a float64 vector, or one error naming `where` (file, column, row)."""
    if isinstance(cell, str):  # CSV holds vectors as JSON text
        try:
            cell = json.loads(cell)
        except json.JSONDecodeError:
            raise ClusterankError(f"{where}: not a vector") from None
    if cell is None or np.isscalar(cell):
        raise ClusterankError(f"{where}: no vector")
    try:
        vec = np.asarray(cell, dtype=np.float64)
    except (TypeError, ValueError):
        raise ClusterankError(f"{where}: not a vector of numbers") from None
    if vec.ndim != 1:
        raise ClusterankError(f"{where}: not a flat vector (shape {vec.shape})")
    if vec.size == 0:
        raise ClusterankError(f"{where}: the vector is empty")
    if not np.isfinite(vec).all():
        raise ClusterankError(f"{where}: vector contains NaN or infinity")
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        raise ClusterankError(f"{where}: vector is all zeros (it has no direction to compare)")
    if not norm < np.finfo(np.float32).max:
        raise ClusterankError(f"{where}: vector is too large for float32 (length {norm:.3g})")
    return vec


def _precomputed_columns(frame: pd.DataFrame, source: str) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for column in frame.columns:
        if not str(column).startswith(EMBEDDING_PREFIX):
            continue
        model = str(column)[len(EMBEDDING_PREFIX):].strip()
        vectors: list[np.ndarray] = []
        for row, cell in enumerate(frame[column].tolist()):
            vectors.append(_vector(cell, f"{source}, column {column!r}, row {row}"))
            if len(vectors[-1]) != len(vectors[0]):
                raise ClusterankError(f"{source}, column {column!r}, row {row}: vector has {len(vectors[-1])} "
                                      f"dimensions, row 0 has {len(vectors[0])}")
        found[model] = np.vstack(vectors).astype(np.float32)
    return found


def _label(value, where: str) -> str:
    """A label cell as text: numbers as written (2136.0 -> "2136", pandas' ints beside a gap), missing as ""
    (a missing label matches nothing); anything else (a list, a dict) is one error naming `where`."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (str, np.str_)):
        return str(value).strip()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ClusterankError(f"{where}: a label must be text or a number, got {type(value).__name__} {value!r:.60}")
    return str(int(value)) if float(value).is_integer() else str(value)


def labels_of(frame: pd.DataFrame, column: str, source: str) -> list[str]:
    """A label column as text, one per row (see `_label`: numbers as written, missing as ""); a list or dict in
    a cell is an error naming the source, column and row."""
    return [_label(v, f"{source}, column {column!r}, row {i}") for i, v in enumerate(frame[column].tolist())]


def _ids(frame: pd.DataFrame, column: str, source: str) -> list[str]:
    """The row ids of `column`, checked: every row has one and no two rows share one (a saved index updates by id)."""
    ids, first = [], {}
    for row, value in enumerate(frame[column].tolist()):
        text = _label(value, f"{source}, column {column!r}, row {row}")
        if not text:
            raise ClusterankError(f"{source}, column {column!r}, row {row}: the id is missing")
        if text in first:
            raise ClusterankError(f"{source}, column {column!r}: rows {first[text]} and {row} have the same id "
                                  f"{text!r}; ids must be unique")
        first[text] = row
        ids.append(text)
    return ids


def corpus_from_frame(frame: pd.DataFrame, source: str, *, text_column: str = TEXT_COLUMN,
                      label_column: str = ROLE_COLUMN, id_column: str = "id", blind: Sequence[str] | str = ()) -> Corpus:
    """Build a `Corpus` from a DataFrame, checking every row.

    The text comes from `text_column`; if that column is absent, from the profile fields joined
    (`FirstName` ... `Certifications`). Labels come from `label_column`, else from `Headline`. `blind` names personal
    fields to leave out of the texts (`clusterank.data.blind`: names, photo, email, phone, age, address, a column).

    Raises:
        ClusterankError: no text column and no profile fields (a `text_column` other than `text` must exist); an
            empty text, a label or id that is not text or a number, a duplicate or missing id, a bad vector in an
            `embeddings_<model>` column (each names the column and row).
    """
    if len(frame) == 0:
        raise ClusterankError(f"{source}: the table has no rows")
    if text_column in frame.columns:
        texts = [_text(v, f"{source}, column {text_column!r}, row {i}") for i, v in enumerate(frame[text_column])]
        where = f"column {text_column!r}"
    elif text_column == TEXT_COLUMN and any(f in frame.columns for f in PROFILE_FIELDS):
        texts = [profile_text(r) for r in frame.to_dict("records")]
        where = "the joined profile fields"
    elif text_column != TEXT_COLUMN:  # a column the user named is missing: say so rather than guess
        raise ClusterankError(f"{source}: no column {text_column!r}; columns are: {', '.join(map(str, frame.columns))}")
    else:
        raise ClusterankError(f"{source}: no column {text_column!r} and none of the profile fields "
                              f"({', '.join(PROFILE_FIELDS)}); columns are: {', '.join(map(str, frame.columns))}")
    if blind := parse_blind(blind):  # a blind corpus leaves out precomputed vectors (they are of the full texts)
        texts, where = blind_texts(frame, texts, blind, source), f"{where} (blind)"
    empty = [i for i, t in enumerate(texts) if not visible(t)]
    if empty:
        more = f" ({len(empty)} empty rows)" if len(empty) > 1 else ""
        what = "is empty" if not texts[empty[0]].strip() else "has no visible characters (only zero-width or control ones)"
        raise ClusterankError(f"{source}, {where}: row {empty[0]} {what}{more}")
    if label_column in frame.columns:
        labels = labels_of(frame, label_column, source)
    elif label_column != ROLE_COLUMN:  # a column the user named is missing: say so rather than guess
        raise ClusterankError(f"{source}: no label column {label_column!r}; columns are: "
                              f"{', '.join(map(str, frame.columns))}")
    elif "Headline" in frame.columns:
        labels = [role_from_headline(v) if isinstance(v, str) else _label(v, f"{source}, column 'Headline', row {i}")
                  for i, v in enumerate(frame["Headline"])]
    else:
        labels = None
    families = labels_of(frame, FAMILY_COLUMN, source) if FAMILY_COLUMN in frame.columns else None
    ids = _ids(frame, id_column, source) if id_column in frame.columns else [str(i) for i in range(len(frame))]
    source += f" (blind: {', '.join(blind)})" if blind else ""  # its own saved index, and the page says so
    return Corpus(texts, ids, source, labels, families, frame.reset_index(drop=True),
                  {} if blind else _precomputed_columns(frame, source), blind, text_column)


_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}
"""Unicode categories that show nothing: controls, format characters (zero-width space and joiners, the byte
order mark, direction marks) and separators."""


def visible(text: str) -> bool:
    """Whether `text` holds at least one character that shows (not only whitespace or zero-width characters)."""
    return any(unicodedata.category(ch) not in _INVISIBLE for ch in text)


def _text(value, where: str) -> str:
    """A text cell as a string ("" when missing); a list or a mapping, or text that is not valid Unicode (a lone
    surrogate from a JSON escape), is one error naming `where`."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (list, tuple, dict, np.ndarray, bytes)):
        raise ClusterankError(f"{where}: a text must be a string, got {type(value).__name__}")
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ClusterankError(f"{where}: not valid Unicode text (a lone surrogate {text[exc.start]!r} at character "
                              f"{exc.start})") from None
    return text


def _table(source: str | Path | pd.DataFrame, split: str) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source, f"a DataFrame of {len(source):,} rows"
    return read_table(source, split=split), database_source(source) if is_database_url(source) else str(source)


def load_profiles(source: str | Path | pd.DataFrame, *, text_column: str = TEXT_COLUMN,
                  label_column: str = ROLE_COLUMN, split: str = "train", blind: Sequence[str] | str = ()) -> Corpus:
    """Load candidate profiles from a file or dataset (see `read_table` for the sources), or from a pandas
    DataFrame already in memory (a notebook's); `blind`: personal fields left out of the embedded text."""
    frame, name = _table(source, split)  # a database's key column (`read_database`) gives the ids
    return corpus_from_frame(frame, name, text_column=text_column, label_column=label_column,
                             id_column=frame.attrs.get("id_column", "id"), blind=blind)


def load_queries(source: str | Path | pd.DataFrame, *, text_column: str = QUERY_TEXT_COLUMN,
                 label_column: str = ROLE_COLUMN, split: str = "train") -> Corpus:
    """Load job descriptions (queries) from a file, dataset or DataFrame; the text column defaults to
    `natural_language`."""
    frame, name = _table(source, split)
    return corpus_from_frame(frame, name, text_column=text_column, label_column=label_column)


def as_corpus(table: Corpus | pd.DataFrame) -> Corpus:
    """A `Corpus` as it is, or a DataFrame of profiles read with the default columns (`load_profiles`).

    Raises:
        ClusterankError: anything else (naming its type), or a DataFrame `load_profiles` refuses.
    """
    if isinstance(table, Corpus):
        return table
    if isinstance(table, pd.DataFrame):
        return load_profiles(table)
    raise ClusterankError(f"profiles must be a Corpus (load_profiles, bundled_profiles) or a pandas DataFrame, not "
                          f"{type(table).__name__}")


def bundled_profiles(n: int = BUNDLED_N, seed: int = DEFAULT_SEED, blind: Sequence[str] | str = ()) -> Corpus:
    """The bundled synthetic profile set (deterministic; 6,904 rows like the seed's dataset); `blind`: personal
    fields left out of the embedded text (`load_profiles`)."""
    from clusterank.data.synthetic import generate_profiles

    PROFILES_RANGE.check(n, "--n")
    check_seed(seed, "--seed")
    return corpus_from_frame(generate_profiles(n=n, seed=seed), f"bundled profiles (n={n}, seed={seed})", blind=blind)


def bundled_queries(seed: int = DEFAULT_SEED, lang: str = "en") -> Corpus:
    """The bundled job descriptions with their target roles: English (generated from `seed`), or one hand-written
    advert per role in `lang` (zh, es, de, uk, with a `lang` column; "all": every language). See `data/i18n.py`.

    Raises:
        ClusterankError: an unknown language, naming the known ones.
    """
    from clusterank.data.i18n import check_lang, query_frame

    code = check_lang(lang, allow_all=True)
    source = f"bundled queries (seed={seed})" if code == "en" else f"bundled queries (lang={code}, seed={seed})"
    return corpus_from_frame(query_frame(code, seed), source, text_column=QUERY_TEXT_COLUMN)
