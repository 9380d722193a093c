"""A full-page screenshot of the demo's page (``artgan demo``'s index.html) in headless Chromium.

    python benchmarks/demo_screenshot.py /tmp/demo-final docs/results/2026-12-04/demo-page-5min.jpg

Playwright drives Debian's Chromium (``/usr/bin/chromium``, or ``--chromium PATH``); nothing
is downloaded. Without Playwright or Chromium the script says so and exits 0 without a
picture, so it can run anywhere. Prints the picture's path and size as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 1100  # the page's max-width: the screenshot has no empty margins


def screenshot(page_html: Path, out: Path, chromium: Path = CHROMIUM, width: int = WIDTH, quality: int = 80) -> Path:
    """Render ``page_html`` at ``width`` px wide and save the whole page as a JPEG to ``out``."""
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(page_html.resolve().as_uri(), wait_until="load")
            # Every picture decoded, so none is captured half-loaded.
            page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            page.screenshot(path=str(out), full_page=True, type="jpeg", quality=quality)
        finally:
            browser.close()
    return out


def skip_reason(chromium: Path) -> str | None:
    """Why a screenshot cannot be taken here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not chromium.is_file():
        return f"no Chromium at {chromium} (apt-get install chromium)"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path, help="the demo's output folder (or its index.html)")
    ap.add_argument("out", type=Path, help="the JPEG to write")
    ap.add_argument("--chromium", type=Path, default=CHROMIUM)
    ap.add_argument("--width", type=int, default=WIDTH)
    ap.add_argument("--quality", type=int, default=80)
    a = ap.parse_args(argv)
    page = a.demo / "index.html" if a.demo.is_dir() else a.demo
    if not page.is_file():
        print(f"{page}: no such page; run artgan demo --out {a.demo} first", file=sys.stderr)
        return 2
    reason = skip_reason(a.chromium)
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        return 0
    shot = screenshot(page, a.out, a.chromium, a.width, a.quality)
    from PIL import Image

    with Image.open(shot) as im:
        size = im.size
    print(json.dumps({"page": str(page), "screenshot": str(shot), "width": size[0], "height": size[1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
