"""The studio in a real browser: Playwright drives Debian's Chromium through the page as an
artist would (upload paintings, train, generate, download from the gallery, stylize a
photo, make a tileable texture) and checks what a person sees: images that are there and
not blank, progress while a job runs, and no error text.

Run with ``make test-browser`` (``pytest -m browser``); it needs ``/usr/bin/chromium``
(``apt-get install chromium``; nothing is downloaded at run time) and the shared data.
About 3 minutes on 2 cores. Screenshots (one per tab) go to ``$ARTGAN_STUDIO_SHOTS`` or a
temporary folder; the path is printed. ``ARTGAN_STUDIO_TRAIN_MINUTES`` and
``ARTGAN_STUDIO_TASK_MINUTES`` (stylizer and texture models; both 0.5 by default) set the
training budgets: a few minutes each give screenshots worth showing.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import shared_or_skip

pytestmark = [
    pytest.mark.browser,
    # Gradio's queue calls pandas options that pandas 3 deprecates: not ours to fix.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

CHROMIUM = Path("/usr/bin/chromium")
# Headless and quiet: the machine has no internet, and without these flags Chromium keeps
# trying (and failing) to reach Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
# The smallest budget the page offers (0.1 min) ends before the first training step: the
# first SWD measurement takes most of it. Half a minute trains a few hundred images.
TRAIN_MINUTES = os.environ.get("ARTGAN_STUDIO_TRAIN_MINUTES", "0.5")
TASK_MINUTES = os.environ.get("ARTGAN_STUDIO_TASK_MINUTES", "0.5")
# A job's wait: its budget three times over (a busy shared machine) plus start-up.
JOB_TIMEOUT_MS = int((3 * 60 * max(float(TRAIN_MINUTES), float(TASK_MINUTES)) + 120) * 1000)
ERROR_WORDS = ("Traceback", "Could not do that", "Error")

# Decoded pixels of an <img>: natural size and the spread of its grey levels (0 = blank).
PIXELS_JS = """async (img) => {
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0, s = 0, s2 = 0;
    for (let i = 0; i < d.length; i += 4) {
        const v = (d[i] + d[i + 1] + d[i + 2]) / 3;
        n += 1; s += v; s2 += v * v;
    }
    const m = s / n;
    return {w: img.naturalWidth, h: img.naturalHeight, std: Math.sqrt(Math.max(0, s2 / n - m * m))};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def shots(tmp_path_factory, pytestconfig) -> Path:
    folder = Path(os.environ.get("ARTGAN_STUDIO_SHOTS") or tmp_path_factory.mktemp("studio-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    message = f"studio screenshots: {folder}"
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    reporter = pytestconfig.pluginmanager.getplugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():  # shown even though output is captured
            reporter.write_line(f"\n{message}")
    else:
        print(message)
    return folder


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(url, workspace root): a running studio with one worker on a fresh workspace."""
    pytest.importorskip("gradio")
    from artgan.studio.app import serve

    root = tmp_path_factory.mktemp("studio")
    port = _free_port()
    page, supervisor = serve(root, port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/", root
    finally:
        page.close()
        supervisor.stop()


@pytest.fixture(scope="module")
def browser_page(request):
    """A Chromium page on the studio; uncaught script errors are collected in ``page.errors``."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    for folder in ("art", "photos", "textures"):
        shared_or_skip(folder)
    url, _ = request.getfixturevalue("studio")  # started only once the checks above pass
    with tempfile.TemporaryDirectory(prefix="artgan-chromium-") as profile, sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
            accept_downloads=True,
        )
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
        page.goto(url)
        page.get_by_text("artgan studio").first.wait_for()
        try:
            yield page
        finally:
            context.close()


@pytest.fixture(scope="module")
def made() -> dict[str, Any]:
    """What earlier steps made (a run name), for the steps that need it."""
    return {}


# --------------------------------------------------------------------------- helpers


def _expect():
    from playwright.sync_api import expect

    return expect


def _tab(page, name: str):
    """Open a tab; returns its (visible) panel."""
    page.get_by_role("tab", name=name, exact=True).click()
    panel = page.locator("[role=tabpanel]:visible")
    _expect()(panel).to_have_count(1)
    return panel


def _set_slider(panel, label: str, value: str) -> None:
    box = panel.get_by_label(f"number input for {label}")
    box.fill(value)
    box.press("Enter")


def _choose(page, panel, label: str, option: str) -> None:
    panel.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def _pixels(img) -> dict[str, float]:
    img.scroll_into_view_if_needed()
    return img.evaluate(PIXELS_JS)


def _assert_images(page, selector: str, at_least: int) -> list[dict[str, float]]:
    """The <img>s under ``selector``: at least ``at_least``, each decoded and not blank."""
    imgs = page.locator(f"{selector} img")
    _expect()(imgs.nth(at_least - 1)).to_be_attached(timeout=30_000)
    stats = [_pixels(imgs.nth(i)) for i in range(imgs.count())]
    for s in stats:
        assert s["w"] > 0 and s["h"] > 0, (selector, stats)
        assert s["std"] > 1.0, f"a blank image in {selector}: {stats}"
    return stats


def _assert_no_errors(page, where: str) -> None:
    text = page.locator("body").inner_text()
    for word in ERROR_WORDS:
        assert word not in text, f"{where}: {word!r} in the page:\n{text[:3000]}"
    assert not re.search(r"\bfailed\b", text), f"{where}: a failed job in the page:\n{text[:3000]}"
    assert not page.errors, f"{where}: script errors in the page: {page.errors}"


def _wait_done(page, status: str, timeout_ms: int = JOB_TIMEOUT_MS) -> list[str]:
    """Wait for the job shown in ``status`` to finish; returns the distinct texts seen on the
    way (the progress a person watched). Fails at once on a failed or cancelled job."""
    seen: list[str] = []
    deadline = time.time() + timeout_ms / 1000
    while time.time() < deadline:
        text = page.locator(status).inner_text().strip()
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if re.search(r"\): (failed|cancelled)", text) or "Could not do that" in text:
            raise AssertionError(f"the job did not succeed: {text}")
        if re.search(r"\): done\b", text):
            return seen
        time.sleep(0.25)
    raise AssertionError(f"no job finished in {timeout_ms / 1000:.0f} s; saw {seen}")


def _drawn_lines(page, selector: str) -> list[str]:
    """The lines a LinePlot (Vega, SVG) draws that a person can see: line marks with a
    colour and at least one segment (a one-point path "Mx,yZ" shows nothing). Each as its
    aria label, which names the series ("kimg: 0.86; value: 0.9; series: D")."""
    return page.locator(f"{selector} path[aria-roledescription='line mark']").evaluate_all(
        "els => els.filter(e => e.getAttribute('stroke') && /L/.test(e.getAttribute('d') || ''))"
        ".map(e => e.getAttribute('aria-label'))"
    )


def _drawn_points(page, selector: str) -> list[str]:
    """The points a ScatterPlot draws (symbols of non-zero size), by their aria labels."""
    return page.locator(f"{selector} path[aria-roledescription='point']").evaluate_all(
        "els => els.filter(e => /A/.test(e.getAttribute('d') || '')).map(e => e.getAttribute('aria-label'))"
    )


def _saw_progress(seen: list[str]) -> bool:
    return any(re.search(r"running, [1-9]\d*%", s) for s in seen)


def _shot(page, shots: Path, name: str) -> None:
    page.wait_for_timeout(500)  # let charts and images finish drawing
    page.screenshot(path=str(shots / f"studio-{name}.png"), full_page=True)


# --------------------------------------------------------------------------- the visit


def test_collection_upload(browser_page, shots):
    page = browser_page
    art = sorted(p for p in shared_or_skip("art").iterdir() if p.suffix.lower() in (".png", ".jpg"))[:6]
    panel = _tab(page, "Collections")
    panel.get_by_label("Collection name").fill("paintings")
    page.locator("#collection-files input[type=file]").set_input_files([str(p) for p in art])
    _expect()(page.locator("#collection-files")).to_contain_text(art[-1].stem)  # uploaded
    panel.get_by_role("button", name="Add to collection").click()
    report = page.locator("#collection-report")
    _expect()(report).to_contain_text(f"Added {len(art)} image(s) to paintings", timeout=60_000)
    panel.get_by_role("button", name="Preview training crops").click()
    _assert_images(page, "#collection-preview", 1)
    _assert_no_errors(page, "Collections")
    _shot(page, shots, "collections")


def test_train(browser_page, studio, shots, made):
    page = browser_page
    panel = _tab(page, "Train")
    _choose(page, panel, "Collection", "paintings")
    _set_slider(panel, "Budget (minutes)", TRAIN_MINUTES)
    _choose(page, panel, "Resolution (px)", "32")
    panel.get_by_role("button", name="Start training").click()
    seen = _wait_done(page, "#train-status")
    assert _saw_progress(seen), f"no progress shown while training: {seen}"
    (run,) = (studio[1] / "runs").iterdir()
    made["run"] = run.name
    # The timer refreshes the sample grid and charts every 2 s: give it two ticks.
    page.wait_for_timeout(4500)
    _assert_images(page, "#train-grid", 1)
    _assert_no_errors(page, "Train")
    _shot(page, shots, "train")
    # The charts a person watched while it trained: a D and a G line, and the SWD points.
    lines = _drawn_lines(page, "#train-loss")
    assert any("series: D" in s for s in lines) and any("series: G" in s for s in lines), lines
    points = _drawn_points(page, "#train-swd")
    assert any("series: SWD" in s for s in points), points


def test_generate(browser_page, shots, made):
    if "run" not in made:
        pytest.skip("no trained model (test_train did not get that far)")
    page = browser_page
    panel = _tab(page, "Generate")
    _choose(page, panel, "Model (a training run)", made["run"])
    panel.get_by_label("How many").fill("4")
    panel.get_by_role("button", name="Generate", exact=True).click()
    _wait_done(page, "#generate-status")
    out = page.locator("#generate-out")
    for name in ("grid.png", "seed00000.png", "seed00003.png"):
        _expect()(out.get_by_text(name, exact=True)).to_be_visible(timeout=10_000)
    assert len(_assert_images(page, "#generate-out", 5)) == 5  # the grid and 4 images
    _assert_no_errors(page, "Generate")
    _shot(page, shots, "generate")
    made["generated"] = True


def test_gallery_download(browser_page, shots, made, tmp_path):
    if "generated" not in made:
        pytest.skip("nothing generated (test_generate did not get that far)")
    from PIL import Image

    page = browser_page
    panel = _tab(page, "Gallery")
    panel.get_by_role("button", name="Refresh").click()
    items = page.locator("#gallery-items")
    _expect()(items.get_by_role("button", name=re.compile(r"^Thumbnail 5 of"))).to_be_visible(timeout=10_000)
    _assert_images(page, "#gallery-items", 5)
    thumb = items.locator("img[alt^='seed00001.png']")
    thumb.click()
    info = page.locator("#gallery-info")
    _expect()(info).to_contain_text("seed00001.png", timeout=10_000)
    _expect()(info).to_contain_text("artgan:model")
    link = page.locator("#gallery-download a[download]")
    _expect()(link).to_be_visible(timeout=10_000)
    with page.expect_download() as pending:
        link.click()
    download = pending.value
    assert download.suggested_filename == "seed00001.png"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(saved) as im:
        assert im.format == "PNG" and im.size == (32, 32)
        text = dict(im.text)  # type: ignore[attr-defined]
    assert text.get("Software", "").startswith("artgan "), text
    assert text.get("artgan:seed") == "1" and made["run"] in text.get("artgan:model", ""), text
    _assert_no_errors(page, "Gallery")
    _shot(page, shots, "gallery")


def test_stylize(browser_page, shots):
    photo = shared_or_skip("photos", "fruits.jpg")
    painting = shared_or_skip("art", "starry_night.jpg")
    page = browser_page
    panel = _tab(page, "Stylize")
    page.locator("#stylize-photos input[type=file]").set_input_files(str(photo))
    page.locator("#stylize-painting input[type=file]").set_input_files(str(painting))
    _expect()(page.locator("#stylize-painting")).to_contain_text(painting.stem)
    _set_slider(panel, "Training minutes (new paintings)", TASK_MINUTES)
    panel.get_by_role("button", name="Stylize", exact=True).click()
    seen = _wait_done(page, "#stylize-status")
    assert _saw_progress(seen), f"no progress shown while stylizing: {seen}"
    _expect()(page.locator("#stylize-out").get_by_text("fruits.png", exact=True)).to_be_visible(timeout=10_000)
    (stylized,) = _assert_images(page, "#stylize-out", 1)
    assert (stylized["w"], stylized["h"]) == (512, 480), stylized  # the photo's own size
    _assert_no_errors(page, "Stylize")
    _shot(page, shots, "stylize")


def test_tileable_texture(browser_page, shots):
    exemplar = shared_or_skip("textures", "stone_brick.png")
    page = browser_page
    panel = _tab(page, "Textures")
    page.locator("#texture-exemplar input[type=file]").set_input_files(str(exemplar))
    _expect()(page.locator("#texture-exemplar")).to_contain_text(re.compile(r"\d\s*[KM]B"))  # uploaded
    panel.get_by_label("Width (px)").fill("256")
    panel.get_by_label("Height (px)").fill("192")
    panel.get_by_label("How many").fill("2")
    _expect()(panel.get_by_label("Tileable")).to_be_checked()
    _set_slider(panel, "Training minutes (new exemplars)", TASK_MINUTES)
    panel.get_by_role("button", name="Make textures").click()
    seen = _wait_done(page, "#texture-status")
    assert _saw_progress(seen), f"no progress shown while making textures: {seen}"
    out = page.locator("#texture-out")
    for name in ("sheet.png", "stone_brick-seed0.png", "stone_brick-seed1.png"):
        _expect()(out.get_by_text(name, exact=True)).to_be_visible(timeout=10_000)
    sizes = sorted((s["w"], s["h"]) for s in _assert_images(page, "#texture-out", 3))
    assert sizes.count((256, 192)) == 2, sizes  # and the 2x2 sheet
    _assert_no_errors(page, "Textures")
    _shot(page, shots, "textures")


def test_jobs_table(browser_page, shots):
    page = browser_page
    _tab(page, "Jobs")
    table = page.locator("#jobs-table")
    _expect()(table).to_contain_text("texture", timeout=10_000)
    rows = table.get_by_role("row")
    texts = [rows.nth(i).inner_text().split() for i in range(1, rows.count())]  # 0: the header
    kinds = [r[1] for r in texts]
    assert kinds == ["texture", "stylize", "generate", "train"], texts  # newest first
    assert all(r[-2:] == ["done", "100%"] for r in texts), texts
    lines = [rows.nth(i).inner_text() for i in range(1, rows.count())]
    assert "stone_brick.png" in lines[0] and "fruits.jpg <- starry_night.jpg" in lines[1], lines  # the inputs
    assert all(re.search(r"\b\d{4}-\d\d-\d\d \d\d:\d\d\b", t) for t in lines), lines  # created, local time
    _assert_no_errors(page, "Jobs")
    _shot(page, shots, "jobs")
