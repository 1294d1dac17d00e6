"""`clusterank audit --group name_gender` on a user's corpus with a name column but no name_gender column: the
groups inferred from the US Census 1990 first-name lists (`names` 0.3.0, sha256-checked), said so in the output;
one error line naming the extra when the package is missing."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from clusterank import census_first_names, census_gender
from clusterank.cli import main

PEOPLE = [("Mary Jones", "female"), ("Dr. José Ruiz", "male"), ("Jordan Park", "unisex"), ("Linda Baker", "female"),
          ("Michael Chen", "male"), ("Jessie Ortiz", "unisex"), ("Qzxv Ngata", "")]


def test_audit_infers_name_gender_from_a_name_column(workspace, tmp_path, capsys, monkeypatch):
    pytest.importorskip("names", reason="pip install 'clusterank[census]'")
    assert [census_gender(name) for name, _ in PEOPLE] == [group for _, group in PEOPLE]
    path = tmp_path / "people.csv"
    pd.DataFrame({"Name": [name for name, _ in PEOPLE],
                  "text": [f"{name}\nSoftware engineer, {i + 2} years of Python and SQL" for i, (name, _)
                           in enumerate(PEOPLE)]}).to_csv(path, index=False)
    args = ["audit", "--corpus", str(path), "--group", "name_gender", "--k", "2", "--n-boot", "50"]
    assert main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["group"] for r in data["rows"]} == {"female", "male", "unisex", "(unknown)"}
    assert "inferred from the Name column by the US Census 1990" in data["group_inferred"]
    assert main(args) == 0
    assert "name_gender was inferred from the Name column by the US Census 1990" in capsys.readouterr().out

    census_first_names.cache_clear()
    monkeypatch.setitem(sys.modules, "names", None)  # as if the package were not installed
    try:
        assert main(args) == 2
    finally:
        census_first_names.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'clusterank[census]'" in err[0] and "'names'" in err[0]
