"""Is the cluster map responsive at 100k points? Load, hover and re-colour timed in headless Chromium.

Builds a map of N synthetic profiles (random 2-D blobs with realistic hover texts), writes the HTML,
opens it in Debian's Chromium via Playwright and measures: time until the plot is drawn, time from a
mouse move to the hover label, and time to switch "Colour by" to role and back. 10k is the baseline.

    .venv/bin/python bench/map.py [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def synthetic_map(n: int, seed: int = 0):
    """MapData with n points in 20 blobs, 53 role names and ~300-character hover texts."""
    from clusterank.cluster.map import MapData, hover_text

    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, 20, n)
    centres = rng.normal(0, 4, (20, 2))
    xy = (centres[clusters] + rng.normal(0, 1, (n, 2))).astype(np.float32)
    roles = [f"Role {i % 53}" for i in rng.integers(0, 53, n)]
    words = "results-driven product marketing manager with experience in go-to-market launches".split()
    hover = [hover_text(f"Title {i} | tagline", " ".join(rng.choice(words, 40)), roles[i], int(clusters[i]))
             for i in range(n)]
    return MapData(xy, clusters, roles, hover, {c: f"cluster {c}" for c in range(20)}, f"{n:,} points",
                   [(0.0, 0.0, "a job description")])


def measure(page, path: Path, data) -> dict[str, float]:
    """Seconds to draw, median ms from mouse move to hover label, ms to re-colour by role and back."""
    t0 = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_function("document.getElementById('map')._fullData !== undefined", timeout=120_000)
    page.wait_for_function("document.querySelector('#map canvas') !== null", timeout=120_000)
    draw_s = time.perf_counter() - t0
    hovers = []
    for i in range(0, 400, 40):  # ten different points
        x, y = page.evaluate("""(i) => { const gd = document.getElementById('map'), L = gd._fullLayout,
            d = gd._fullData[0], b = gd.getBoundingClientRect();
            return [b.left + L._size.l + L.xaxis.l2p(d.x[i]), b.top + L._size.t + L.yaxis.l2p(d.y[i])]; }""", i)
        page.mouse.move(5, 5)
        page.wait_for_function("!document.querySelector('.hoverlayer .hovertext')")
        t = time.perf_counter()
        page.mouse.move(x, y)
        page.wait_for_selector(".hoverlayer .hovertext", timeout=30_000)
        hovers.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    page.select_option("#colour-by", "role")
    page.wait_for_function("document.getElementById('map')._fullData.some(d => d.name === 'Role 0')")
    page.select_option("#colour-by", "cluster")
    page.wait_for_function("document.getElementById('map')._fullData.some(d => d.name.startsWith('cluster 0'))")
    recolour = (time.perf_counter() - t) * 1000 / 2
    return {"draw_s": draw_s, "hover_ms": statistics.median(hovers), "recolour_ms": recolour,
            "mb": path.stat().st_size / 1e6}


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from clusterank.viz.map import write_map_html

    chromium = shutil.which("chromium")
    if not chromium:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for n in [int(s) for s in args.sizes.split(",")]:
            data = synthetic_map(n)
            path = write_map_html(data, Path(tmp) / f"map-{n}.html")
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            rows.append((n, measure(page, path, data)))
            page.close()
        browser.close()
    base = rows[0][1]
    print(f"\nheadless Chromium (software WebGL, SwiftShader), {os.cpu_count()} cores\n")
    print("| points | file | load and draw | hover label | x baseline | re-colour (role <-> cluster) |")
    print("|---|---|---|---|---|---|")
    for n, r in rows:
        print(f"| {n:,} | {r['mb']:.1f} MB | {r['draw_s']:.2f} s | {r['hover_ms']:.0f} ms | "
              f"{r['hover_ms'] / base['hover_ms']:.1f}x | {r['recolour_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
