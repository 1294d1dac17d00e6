"""`clusterank serve --corpus profiles.csv --refresh-s 1`: a real server serves a profile added when the file is
replaced (written whole, renamed into place), and goes on serving the profiles it read when the file disappears,
saying so in /healthz. Every wait is bounded; nothing here is timed."""

from __future__ import annotations

import os

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from conftest import start_server, wait_until  # noqa: E402

from clusterank import generate_profiles  # noqa: E402

DIVER = ("Rosa Lindqvist\nHeadline: Commercial diving supervisor and underwater welding instructor\n"
         "Experience: Led saturation diving teams; taught underwater wet welding and hyperbaric safety.")


def write(path, frame) -> None:
    """Write the CSV beside `path` and rename it into place, as a nightly export should."""
    frame.to_csv(path.with_suffix(".tmp"), index=False)
    os.replace(path.with_suffix(".tmp"), path)


@pytest.mark.slow
def test_a_replaced_file_is_served_and_a_vanished_one_keeps_the_profiles_read(session_home, tmp_path):
    frame = generate_profiles(n=25, seed=6)[["text", "role"]]
    frame.insert(0, "id", [f"p{i}" for i in range(len(frame))])
    corpus = tmp_path / "profiles.csv"
    write(corpus, frame)
    server = start_server(session_home.root, tmp_path / "serve.log", "--corpus", str(corpus), "--refresh-s", "1",
                          "--retriever", "exact")
    health = lambda: httpx.get(server.url + "/healthz", timeout=10).json()  # noqa: E731
    top = lambda: httpx.post(server.api + "/search", json={"query": DIVER, "k": 1}, timeout=60).json()["hits"][0]  # noqa: E731
    try:
        assert health()["profiles"] == 25 and top()["id"] != "diver"
        frame.loc[len(frame)] = ["diver", DIVER, "Diving Supervisor"]
        write(corpus, frame)
        wait_until(lambda: health()["refreshes"] >= 1, 120, "the server reading the replaced file")
        assert health()["profiles"] == 26 and top()["id"] == "diver"
        corpus.unlink()
        wait_until(lambda: health()["refresh_error"], 60, "the missing file showing in /healthz")
        assert "cannot be read" in health()["refresh_error"] and top()["id"] == "diver"
    finally:
        server.stop()
