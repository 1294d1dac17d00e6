"""The web page's goals, measured in headless Chromium against `clusterank serve` on loopback, and its
screenshots for the README.

First contentful paint of `/`, the search round trip as the page measures it (click to results drawn), the
size of the page's own HTML + JavaScript + CSS (plotly.js aside), and every host the page contacted.

    .venv/bin/python bench/page.py [--searches 20] [--screenshots docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import start  # noqa: E402  (bench/server.py: a serve process in a temporary workspace)

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-gl=angle", "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader"]


def main() -> None:
    """Measure, save the screenshots, print the table."""
    from playwright.sync_api import sync_playwright

    from clusterank import Workspace

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=20)
    parser.add_argument("--screenshots", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    static = files("clusterank.server").joinpath("static")
    own_bytes = {name: len(static.joinpath(name).read_bytes()) for name in ("index.html", "app.js", "app.css")}

    with tempfile.TemporaryDirectory(prefix="ck-bench-page-") as tmp:
        home = Path(tmp)
        (home / "models").symlink_to(Workspace.default().models_dir, target_is_directory=True)
        proc, url = start(home)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
                hosts: set[str] = set()
                paints, trips = [], []
                for _ in range(5):
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    page.on("request", lambda r: hosts.add(urlparse(r.url).hostname))
                    page.goto(url + "/")
                    page.wait_for_selector("body[data-ready='1']")
                    paints.append(page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime"))
                    page.close()
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("request", lambda r: hosts.add(urlparse(r.url).hostname))
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready='1']")
                page.click("#example")
                for i in range(args.searches + 1):
                    before = page.get_attribute("body", "data-searched") or ""
                    page.click("#search")
                    page.wait_for_function(f"document.body.dataset.searched !== {before!r}")
                    text = page.inner_text("#timings")
                    if i:  # the first search embeds the query; later ones are what a user retrying sees
                        trips.append(float(text.split("round trip ")[1].split(" ms")[0]))
                page.wait_for_function("document.getElementById('map')._fullData !== undefined", timeout=60000)
                page.wait_for_timeout(800)
                args.screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.screenshots / "search-desktop.png"))
                page.locator("#map-panel").screenshot(path=str(args.screenshots / "map-desktop.png"))
                phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
                phone.goto(page.url)
                phone.wait_for_selector("#results li")
                phone.screenshot(path=str(args.screenshots / "search-phone.png"))
                phone.wait_for_function("document.getElementById('map')._fullData !== undefined", timeout=60000)
                phone.wait_for_timeout(800)
                phone.locator("#map-panel").screenshot(path=str(args.screenshots / "map-phone.png"))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Debian chromium headless, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| measure | value | goal |\n|---|---|---|")
    print(f"| first contentful paint (median of 5 loads) | {np.median(paints):.0f} ms | ≤ 1000 ms |")
    print(f"| search round trip, click to results drawn (median / p90 of {len(trips)}) | "
          f"{np.median(trips):.0f} / {np.percentile(trips, 90):.0f} ms | ≤ 300 ms |")
    print(f"| the page's own HTML + JS + CSS | {sum(own_bytes.values()) / 1024:.1f} kB "
          f"({', '.join(f'{k} {v / 1024:.1f}' for k, v in own_bytes.items())}) | ≤ 100 kB |")
    print(f"| hosts contacted | {', '.join(sorted(h for h in hosts if h))} | this machine only |")
    print(f"\nscreenshots in {args.screenshots}/")


if __name__ == "__main__":
    main()
