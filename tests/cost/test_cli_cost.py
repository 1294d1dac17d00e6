"""`clusterank cost` run for real: the seed's scenario, a user's corpus and price file, bad input."""

import json

import pandas as pd
import pytest

from clusterank.cli import main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_seed_scenario_prints_the_tables_and_writes_html_and_png(workspace, tmp_path, capsys):
    html = tmp_path / "cost.html"
    code, out, err = run(capsys, "cost", "--models", "text-embedding-3-large,nv-embedqa-e5-v5,minilm-static",
                         "-o", str(html))
    assert code == 0, err
    assert "| text-embedding-3-large | $0.52 | $5.20 | $52.00 | $130 |" in out
    assert "| ~335M model on 1x L4 |" in out and "this machine: minilm-static" in out
    assert "6.91 h" in out  # 2.5M / 103 texts/s = 6.74 h + 10 min start-up
    assert "Savings of self-hosting" in out and "(2024-07-25)" in out
    assert html.exists() and html.with_suffix(".png").exists()
    assert "$0.13 / 1M tokens (2024-07-25)" in html.read_text()


def test_corpus_price_file_and_json_compose(workspace, tmp_path, capsys):
    corpus = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["Senior Product Marketing Manager, B2B SaaS launches and positioning."] * 40}).to_csv(
        corpus, index=False)
    mine = tmp_path / "mine.toml"
    mine.write_text('[api.text-embedding-3-small]\nprice_per_1m_tokens = 0.01\n'
                    'date = "2026-11-01"\nsource = "our contract"\n')
    code, out, err = run(capsys, "cost", "--corpus", str(corpus), "--texts", "1M", "--models", "text-embedding-3-small",
                         "--prices", str(mine), "--no-batch", "--no-png", "--json", "-o", str(tmp_path / "c.html"))
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 1 and rows[0]["n_texts"] == 1_000_000 and rows[0]["date"] == "2026-11-01"
    import bpe_openai

    tokens = len(bpe_openai.get_encoding("cl100k_base").encode(pd.read_csv(corpus)["text"][0]))
    assert rows[0]["tokens_per_text"] == tokens and rows[0]["usd"] == pytest.approx(1e6 * tokens * 0.01 / 1e6)


@pytest.mark.parametrize("args, message", [
    (["--texts", "-5"], "error: '-5' is not a count"),
    (["--tokens-per-text", "-1"], "error: --tokens-per-text must be a positive number"),
    (["--models", "gpt-9"], "error: --models: no price or measurement for gpt-9"),
    (["--set", "gpu.L4.hourly_usd=-1"], "error: --set hourly_usd: gpu.L4.hourly_usd must be >= 0"),
    (["--prices", "/no/such/prices.toml"], "error: cannot read prices file /no/such/prices.toml"),
    (["--gpus", "0"], "error: --gpus must be at least 1"),
    (["--corpus", "x.csv", "--tokens-per-text", "300"], "error: give --tokens-per-text or --corpus, not both"),
])
def test_bad_input_is_one_line_and_exit_2(workspace, tmp_path, capsys, args, message):
    code, _, err = run(capsys, "cost", "--no-machine", "-o", str(tmp_path / "c.html"), *args)
    assert code == 2
    assert err.strip().startswith(message) and len(err.strip().splitlines()) == 1


def test_malformed_price_file_names_the_file(workspace, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[gpu.L4\nhourly_usd = 1\n")
    code, _, err = run(capsys, "cost", "--no-machine", "--prices", str(bad), "-o", str(tmp_path / "c.html"))
    assert code == 2 and err.startswith(f"error: prices file {bad} is not valid TOML")
