"""Tests for the static HTML run gallery."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from artgan.gallery import write_gallery


def _png(path: Path, color: tuple[int, int, int] = (10, 120, 200)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), color).save(path)


def _make_run(root: Path, n_stats: int = 5, truncated: bool = True) -> Path:
    run = root / "00001-demo"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"family": "dcgan", "resolution": 32, "kimg": 20, "data": "paintings/<b>"})
    )
    lines = [
        json.dumps({"kimg": 4 * i, "loss/D": 1.0 - 0.1 * i, "loss/G": 0.5 + 0.2 * i, "aug/p": 0.01 * i, "r1": 0.3})
        for i in range(n_stats)
    ]
    text = "\n".join(lines) + "\n"
    if truncated:  # a process killed mid-write leaves half a line
        text += '{"kimg": 20, "loss/D": 0.'
    (run / "stats.jsonl").write_text(text)
    for kimg in (0, 4, 8, 12):
        _png(run / "samples" / f"fakes{kimg:06d}.png")
    _png(run / "samples" / "reals.png", (200, 10, 10))
    return run


def _polylines(page: str) -> list[str]:
    return re.findall(r'<polyline[^>]*points="([^"]*)"', page)


def test_gallery_page(tmp_path: Path) -> None:
    run = _make_run(tmp_path, n_stats=5)
    out = write_gallery(run)
    assert out == run / "index.html" and out.is_file()
    page = out.read_text(encoding="utf-8")
    assert "<svg" in page and "<script" not in page
    polylines = _polylines(page)
    assert len(polylines) == 2  # loss/D and loss/G
    for points in polylines:
        assert len(points.split()) == 5  # one per valid stats line, truncated one skipped
    # Latest grid large, reals, and earlier grids in the timeline, all relative.
    assert 'src="samples/fakes000012.png"' in page
    assert 'src="samples/reals.png"' in page
    assert 'src="samples/fakes000000.png"' in page
    # Config fields shown, escaped; other stats in the table.
    assert "dcgan" in page and "paintings/&lt;b&gt;" in page and '<b>"' not in page
    assert "aug/p" in page and "r1" in page
    assert not list(run.glob("*.tmp"))  # atomic write left no temp file behind


def test_gallery_empty_run(tmp_path: Path) -> None:
    run = tmp_path / "empty"
    run.mkdir()
    page = write_gallery(run).read_text(encoding="utf-8")
    assert "no stats yet" in page
    assert "no samples yet" in page
    assert "<svg" not in page


def test_gallery_custom_output_and_extra_images(tmp_path: Path) -> None:
    run = _make_run(tmp_path, n_stats=1, truncated=False)
    extra = tmp_path / "outputs" / "seed 7.png"
    _png(extra)
    out = write_gallery(run, tmp_path / "site" / "run.html", title="My <run>", sample_images=[extra])
    page = out.read_text(encoding="utf-8")
    assert "<title>My &lt;run&gt;</title>" in page
    assert 'src="../outputs/seed%207.png"' in page
    assert 'src="../00001-demo/samples/fakes000012.png"' in page
    assert all(len(p.split()) == 1 for p in _polylines(page))
