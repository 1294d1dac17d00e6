"""Start-up from a saved index (issue 26, item 5): a start checks sizes, not content, and reads the corpus from the
saved copy of its file while the file is unchanged; `clusterank index check` does the full work."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("faiss")

from clusterank import SearchPipeline  # noqa: E402
from clusterank.cli import main  # noqa: E402
from clusterank.data.loaders import load_profiles  # noqa: E402
from clusterank.data.synthetic import generate_profiles  # noqa: E402
from clusterank.data.writers import write_table  # noqa: E402
from clusterank.index.corpus_copy import CopiedCorpus, FileCorpus, file_stamp, open_profiles  # noqa: E402

QUERY = "product marketing manager for a B2B launch"


@pytest.fixture
def built(workspace, tmp_path, capsys):
    """A 300-profile parquet file with an id column and its saved index (built through the CLI)."""
    frame = generate_profiles(300, seed=3)
    frame.insert(0, "id", [f"p{i}" for i in range(len(frame))])
    path = tmp_path / "profiles.parquet"
    write_table(frame, path)
    assert main(["index", "build", "--corpus", str(path)]) == 0
    capsys.readouterr()
    return path, frame


def _search(path, capsys, *extra) -> tuple[int, list[str], list[str]]:
    code = main(["search", QUERY, "-k", "5", "--corpus", str(path), "--json", *extra])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.strip().splitlines()


def _copy_folder(workspace):
    (folder,) = (workspace.root / "corpora").iterdir()
    return folder


def _flip(f, at=None):
    data = bytearray(f.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    f.write_bytes(bytes(data))


def test_the_copy_holds_what_the_file_does(built, workspace):
    path, _ = built
    copied, full = open_profiles(path), load_profiles(path)
    assert isinstance(copied, CopiedCorpus) and copied.fingerprint
    assert list(copied.texts) == full.texts and list(copied.ids) == full.ids
    assert list(copied.labels) == full.labels and list(copied.families) == full.families
    assert copied.texts[-1] == full.texts[-1] and copied.ids[np.int64(7)] == full.ids[7] and copied.texts[2:4] == (
        full.texts[2:4])
    assert copied.card(5) == full.card(5) and copied.fields(5) == full.fields(5)  # the frame, read on first use
    assert copied.subset([3, 1]).texts == full.subset([3, 1]).texts
    read = open_profiles(path, use_copy=False)
    assert isinstance(read, FileCorpus) and not isinstance(read, CopiedCorpus) and read.stamp == file_stamp(path)
    assert not isinstance(open_profiles(path, label_column="family"), CopiedCorpus)  # other columns: the file


def test_search_from_the_copy_reads_no_file_and_finds_the_same(built, workspace, capsys, monkeypatch):
    path, _ = built
    full = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace)
    want = [[h.id for h in hits] for hits in full.search_many([QUERY], 5)]

    def no_table(*args, **kwargs):
        raise AssertionError("the profile file was read")

    monkeypatch.setattr("clusterank.data.loaders.read_table", no_table)
    code, out, _ = _search(path, capsys)
    assert code == 0 and [json.loads(line)["id"] for line in out] == want[0]
    pipe = SearchPipeline(open_profiles(path), "minilm-static", workspace=workspace)
    assert isinstance(pipe.corpus, CopiedCorpus) and "hashes" not in vars(pipe)  # no text was hashed
    assert [[h.id for h in hits] for hits in pipe.search_many([QUERY], 5)] == want
    role = full.corpus.labels[0]
    assert [h.id for h in pipe.search(QUERY, 5, filters={"role": role})] == [
        h.id for h in full.search(QUERY, 5, filters={"role": role})]


def test_a_search_from_the_copy_imports_no_pandas(built, workspace):
    path, _ = built
    code = ("import sys; from clusterank.cli import main; "
            f"code = main(['search', {QUERY!r}, '--corpus', {str(path)!r}]); "
            "sys.exit(code or ('pandas' in sys.modules and 3))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CLUSTERANK_HOME": str(workspace.root)})
    assert proc.returncode == 0, proc.stderr


def test_a_changed_file_is_read_again_and_copied_again(built, workspace, capsys):
    path, frame = built
    changed = frame.copy()
    changed.loc[10, "text"] = "Solo harpist and orchestra conductor, baroque repertoire, 20 years on stage."
    write_table(changed, path)
    assert not isinstance(open_profiles(path), CopiedCorpus)  # another stamp: the file is read
    code, out, err = _search(path, capsys)
    assert code == 0 and "stale" in " ".join(err)
    copied = open_profiles(path)
    assert isinstance(copied, CopiedCorpus) and copied.texts[10] == changed.loc[10, "text"]
    pipe = SearchPipeline(copied, "minilm-static", workspace=workspace)
    assert pipe.search("baroque harpist and conductor", 1)[0].id == "p10"


def test_a_truncated_or_resized_index_file_is_one_clear_error_on_open(built, workspace, capsys):
    path, _ = built
    (index,) = workspace.root.glob("indexes/*/*")
    vectors = index / "vectors.npy"
    data = vectors.read_bytes()
    for spoiled in (data[: len(data) // 2], data + b"\0" * 64):
        vectors.write_bytes(spoiled)
        code, out, err = _search(path, capsys)
        assert code == 2 and out == [] and len(err) == 1
        assert "vectors.npy: index file" in err[0] and "recorded: truncated or replaced" in err[0]
    vectors.write_bytes(data)
    assert _search(path, capsys)[0] == 0


def test_a_truncated_copy_file_is_read_around_and_copied_again(built, workspace, capsys):
    path, _ = built
    texts = _copy_folder(workspace) / "texts.bin"
    texts.write_bytes(texts.read_bytes()[:-100])
    code, out, err = _search(path, capsys)
    assert code == 0 and len(out) == 5 and "texts.bin" in " ".join(err)
    assert isinstance(open_profiles(path), CopiedCorpus)  # written again


@pytest.mark.parametrize("damage", ["vectors.npy", "texts.bin", "ids.bin", "corpus"])
def test_damage_a_start_does_not_read_is_caught_by_index_check(built, workspace, capsys, damage):
    path, frame = built
    assert main(["index", "check", "--corpus", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
    folder = _copy_folder(workspace)
    if damage == "corpus":  # content changed while size and times stayed: simulated by recording the new stamp
        changed = frame.copy()
        changed.loc[4, "text"] = changed.loc[4, "text"].upper()
        write_table(changed, path)
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps({**meta, "stamp": file_stamp(path)}))
        named = str(path)
    else:
        (target,) = [*workspace.root.glob(f"indexes/*/*/{damage}"), *folder.glob(damage)]
        _flip(target)
        named = damage
    assert _search(path, capsys)[0] == 0  # a start checks sizes only: it does not see this
    assert main(["index", "check", "--corpus", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and err[0].startswith("error: ")
    assert "--rebuild" in err[0] or "index build" in err[0]
    assert main(["index", "build", "--corpus", str(path), "--rebuild"]) == 0
    assert main(["index", "check", "--corpus", str(path)]) == 0


def test_index_check_without_an_index_is_one_line(workspace, tmp_path, capsys):
    path = tmp_path / "other.csv"
    write_table(generate_profiles(50, seed=1), path)
    assert main(["index", "check", "--corpus", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no saved index" in err[0] and "index build" in err[0]
