"""The demo tour (artgan.tour, ``artgan demo``): bundled inputs, budget split, page and figures."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artgan.cli import main
from artgan.tour import ASSETS, TourPlan, run_tour, split_budget

ASSET_DIR = resources.files("artgan") / "assets" / "demo"


def _varied(path: Path) -> bool:
    """The image decodes and is not one flat colour."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.float32)
    return arr.size > 0 and float(arr.std()) > 2.0


def test_bundled_inputs_small_and_documented() -> None:
    names = set(ASSETS.values())
    sizes = {n: len((ASSET_DIR / n).read_bytes()) for n in names}
    assert sum(sizes.values()) < 1_000_000, sizes  # the issue: well under 2 MB together
    sources = (ASSET_DIR / "SOURCES.md").read_text()
    for n in names:
        assert n in sources, f"{n} has no entry in SOURCES.md"


def test_budget_split_scales_with_minutes() -> None:
    five = split_budget(TourPlan(minutes=5))
    assert five["texture"] == pytest.approx(1.5) and five["stylize"] == pytest.approx(1.25)
    assert sum(five.values()) <= 5
    ten = split_budget(TourPlan(minutes=10))
    assert ten["texture"] == pytest.approx(3.0) and ten["generate"] > 2 * five["generate"] - 0.01
    with pytest.raises(ValueError):
        TourPlan(minutes=0).validate()


def test_tour_writes_page_images_and_figures(tmp_path: Path) -> None:
    # Step budgets instead of minutes: a few steps of each, whatever the machine's load.
    plan = TourPlan(
        minutes=0.5,
        texture_steps=2,
        stylize_steps=2,
        generator_kimg=0.064,
        texture_size=64,
        stylize_side=96,
        resolution=32,
        walk_keyframes=2,
        fields=6,
        generator_swd=False,
        progress=False,
    )
    result = run_tour(tmp_path / "demo", plan)
    out = result.out
    page = result.page.read_text()

    for rel in (
        "outputs/texture/tiled-2x2.png",
        "outputs/texture/texture-64px-tileable.png",
        "outputs/texture/exemplar.png",
        "outputs/stylize/chelsea.png",
        "outputs/stylize/coffee.png",
        "outputs/generate/reals-left-generated-right.png",
        "outputs/generate/walk.gif",
    ):
        assert (out / rel).is_file(), rel
        assert f'src="{rel}"' in page or f'href="{rel}"' in page, rel
        if rel.endswith(".png"):
            assert _varied(out / rel), f"{rel} is blank"
    with Image.open(out / "outputs/generate/walk.gif") as gif:
        assert gif.n_frames == 2 * 12
    # Every picture the page links to exists (relative links only).
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not src.startswith(("/", "file:", "http")), src
        assert (out / src).is_file(), src

    # The figures, printed and kept in the page and in tour.json.
    doc = json.loads((out / "tour.json").read_text())
    tex, sty = doc["figures"]["texture"], doc["figures"]["stylize"]
    assert tex["seam_error"] > 0 and f"{tex['seam_error']:.2f}" in page
    for name, m in sty["per_photo"].items():
        assert 0 < m["style_ratio"] and -1 <= m["content_ssim"] <= 1
        row = re.search(rf"<td>{re.escape(name)}</td>(.*?)</tr>", page)
        assert row and f"{m['style_ratio']:.2f}" in row.group(1) and f"{m['content_ssim']:.2f}" in row.group(1)
    assert "seam error" in page.lower() and "style distance ratio" in page.lower() and "content ssim" in page.lower()
    # The commands that made them, in the CLI's current form.
    for cmd in ("artgan texture --from inputs/", "--tileable", "artgan stylize ", "--style inputs/", "artgan train "):
        assert cmd in page, cmd
    assert f"artgan generate --model runs/{doc['figures']['generate']['run']}" in page
    assert "artgan studio --workspace" in page
    assert set(result.seconds) == {"texture", "stylize", "generate", "total"}
    # Laid out as a studio workspace.
    assert len(list((out / "collections" / "colour-fields").glob("field*.png"))) == plan.fields
    assert any(p.name.startswith("00000-") for p in (out / "runs").iterdir())


@pytest.mark.slow
def test_demo_command_small_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``artgan demo --minutes 0.3`` end to end: exit 0, the page's path on stdout, the studio line."""
    out = tmp_path / "demo"
    assert main(["demo", "--minutes", "0.3", "--out", str(out), "--no-progress"]) == 0
    cap = capsys.readouterr()
    assert Path(cap.out.strip()) == (out / "index.html").resolve()
    assert f"artgan studio --workspace {out.resolve()}" in cap.err
    assert "seam error" in cap.err and "style distance ratio" in cap.err
    # A second run into the same folder replaces the texture and stylizer runs.
    assert main(["demo", "--minutes", "0.3", "--out", str(out), "--no-progress"]) == 0


def test_demo_rejects_bad_minutes(tmp_path: Path) -> None:
    assert main(["demo", "--minutes", "0", "--out", str(tmp_path / "x")]) == 2


def test_starved_note_names_the_short_steps() -> None:
    from artgan.tour import starved_note

    enough = {"texture": {"steps": 300}, "stylize": {"steps": 140}, "generate": {"kimg": 5.5}}
    assert starved_note(enough) is None
    note = starved_note({**enough, "generate": {"kimg": 0.4}})
    assert note is not None and "generator 0.4 thousand images" in note and "the texture" not in note
