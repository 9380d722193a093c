"""The studio workspace: path probes, upload validation, collections, gallery, runs.

Reads outside the workspace are caught with an audit hook (every ``open`` and directory
listing the interpreter does), so "refused" also means "nothing was read".
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

import artgan.training.loop  # noqa: F401 - imported up front: module loading is not a workspace read
from artgan.imaging import save_gif, save_png
from artgan.studio import workspace as wsmod
from artgan.studio.workspace import Workspace, WorkspaceError, safe_filename
from conftest import painting, png_bytes

# ---------------------------------------------------------------- read tracking

_SEEN: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _SEEN is not None and event in ("open", "os.listdir", "os.scandir") and args:
        target = args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            _SEEN.append(os.path.realpath(os.fsdecode(target)))


sys.addaudithook(_audit)  # hooks cannot be removed; it records only inside reads_outside()


@contextmanager
def reads_outside(*allowed: Path) -> Iterator[list[str]]:
    """Yields a list that, on exit, holds every path opened or listed outside ``allowed``."""
    global _SEEN
    seen: list[str] = []
    _SEEN = seen
    outside: list[str] = []
    try:
        yield outside
    finally:
        _SEEN = None
        roots = [Path(os.path.realpath(a)) for a in allowed]
        outside.extend(p for p in seen if not any(Path(p).is_relative_to(r) for r in roots))


# ---------------------------------------------------------------- fixtures


def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def set_sizes(data: bytes, size: int, local: bool = False) -> bytes:
    """Rewrite every declared uncompressed size of a zip (central directory, and local
    headers if ``local``): a zip that lies about what it unpacks to."""
    out = bytearray(data)
    for sig, off in [(b"PK\x01\x02", 24)] + ([(b"PK\x03\x04", 22)] if local else []):
        i = out.find(sig)
        while i >= 0:
            out[i + off : i + off + 4] = struct.pack("<I", size)
            i = out.find(sig, i + 4)
    return bytes(out)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace with a secret and an image a probe might reach for."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text("secret")
    painting(99).save(d / "secret.png")
    return d


@pytest.fixture
def ws(tmp_path: Path, outside: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    # Links planted inside the workspace that point out of it.
    os.symlink(outside, w.root / "outputs" / "link-out")
    os.symlink(outside / "secret.png", w.root / "outputs" / "leak.png")
    os.symlink(outside, w.root / "collections" / "evil")
    os.symlink(outside, w.root / "runs" / "00009-evil")
    return w


def test_read_tracking_sees_reads(tmp_path: Path, outside: Path) -> None:
    with reads_outside(tmp_path / "ws") as out:
        (outside / "secret.txt").read_text()
        os.listdir(outside)
    assert out == [str(outside / "secret.txt"), str(outside)]


# ---------------------------------------------------------------- paths

PROBES = [
    "../x",
    "..\\x",
    "/etc/passwd",
    "collections/../../etc/passwd",
    "outputs/../../outside/secret.txt",
    "%2e%2e/outside/secret.txt",
    "%2E%2E%2Foutside%2Fsecret.txt",
    "%252e%252e/outside/secret.txt",
    "..%2foutside/secret.txt",
    "collections/a\x00.png",
    "%00",
    "a" * 5000,
    "outputs/" + "b" * 300 + ".png",
    "~/secret.txt",
    "C:\\Windows\\win.ini",
    "outputs/link-out/secret.txt",
    "outputs/link-out",
    "outputs/leak.png",
    "collections/evil/secret.png",
    "runs/00009-evil",
    "",
]


def test_layout_is_created(tmp_path: Path) -> None:
    w = Workspace(tmp_path / "new" / "ws")
    assert sorted(p.name for p in w.root.iterdir()) == ["collections", "logs", "outputs", "runs", "uploads"]
    assert w.path("studio.db") == w.root / "studio.db"
    assert w.path("outputs/./3-generate//a.png") == w.root / "outputs" / "3-generate" / "a.png"
    assert w.rel(w.path("outputs/3-generate/a.png")) == "outputs/3-generate/a.png"
    for bad in ["/etc/passwd", "relative/path", str(tmp_path / "elsewhere")]:
        with pytest.raises(WorkspaceError):
            w.rel(bad)


@pytest.mark.parametrize("probe", PROBES, ids=[repr(p)[:40] for p in PROBES])
def test_path_probes_are_refused_and_read_nothing(ws: Workspace, outside: Path, probe: str) -> None:
    with reads_outside(ws.root) as out:
        with pytest.raises(WorkspaceError) as err:
            ws.path(probe)
        for method in (ws.delete_output, ws.collection_images, ws.delete_collection, ws.preview_crops):
            with pytest.raises(WorkspaceError) as err2:
                method(probe)
            assert "\n" not in str(err2.value)
        with pytest.raises(WorkspaceError):
            ws.add_to_collection(probe, [("a.png", png_bytes(painting(0)))])
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 200
    assert "refused" in msg
    if probe:
        assert repr(probe)[:20] in msg  # names the path it refused
    assert out == []
    # Nothing was deleted or created anywhere.
    assert sorted(p.name for p in outside.iterdir()) == ["secret.png", "secret.txt"]
    assert not any(p.is_file() for p in (ws.root / "collections").rglob("*") if not p.is_symlink())


def test_planted_links_are_never_listed(ws: Workspace, outside: Path) -> None:
    with reads_outside(ws.root) as out:
        assert ws.collections() == []
        assert ws.gallery() == []
        assert ws.runs() == []
    assert out == []


def test_upload_source_must_be_in_upload_dirs(tmp_path: Path, outside: Path) -> None:
    gradio_tmp = tmp_path / "gradio"
    gradio_tmp.mkdir()
    (gradio_tmp / "photo.png").write_bytes(png_bytes(painting(1)))
    w = Workspace(tmp_path / "ws2", upload_dirs=[gradio_tmp])
    with reads_outside(w.root, gradio_tmp) as out:
        rel = w.save_upload("photo.png", gradio_tmp / "photo.png")
        with pytest.raises(WorkspaceError, match="not an uploaded file"):
            w.save_upload("secret.png", outside / "secret.png")
        report = w.add_to_collection("c", [str(outside / "secret.png")])
    assert out == []
    assert w.path(rel).read_bytes() == (gradio_tmp / "photo.png").read_bytes()
    assert report.added == 0 and "not an uploaded file" in report.rejected[0][1]


# ---------------------------------------------------------------- uploads


def test_save_upload_sanitises_names_and_keeps_bytes(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "My Photo (1).JPG"
    src.write_bytes(jpeg_bytes(painting(2)))
    rel = ws.save_upload("../../" + src.name, src)
    assert rel.startswith("uploads/") and rel.endswith("/My-Photo-1.jpg")
    assert ws.path(rel).read_bytes() == src.read_bytes()
    token = rel.split("/")[1]
    rel2 = ws.save_upload("My Photo (1).jpg", png_bytes(painting(3)), token=token)
    assert rel2 == f"uploads/{token}/My-Photo-1-2.jpg"  # same folder, never overwritten
    assert safe_filename("..\\..\\a\x00b.PNG") == "ab.png"
    assert safe_filename("\u00e9t\u00e9 .tif") == "ete.tif"
    assert safe_filename("...") == "file"


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("notes.png", b"just some text, renamed to .png\n" * 4, "not a supported image"),
        ("cut.png", png_bytes(painting(4))[:300], "truncated or corrupt"),
        ("pic.heic", b"\0" * 100, ".heic files are not supported"),
        ("tiny.png", png_bytes(painting(5, (8, 8))), "only 8x8 pixels"),
        ("empty.png", b"", "empty file"),
        ("script.sh", b"#!/bin/sh\n", "not an image file name"),
    ],
)
def test_bad_uploads_are_rejected_with_a_reason(ws: Workspace, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(WorkspaceError, match=reason) as err:
        ws.save_upload(name, data)
    assert str(err.value).startswith(name + ": ")
    assert not any(p.is_file() for p in (ws.root / "uploads").rglob("*"))


def test_oversized_files_are_refused_before_reading(ws: Workspace, tmp_path: Path) -> None:
    big = tmp_path / "huge.png"
    with open(big, "wb") as f:
        f.truncate(wsmod.MAX_UPLOAD_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(WorkspaceError, match="more than the 50 MB allowed"):
        ws.save_upload("huge.png", big)
    big_zip = tmp_path / "huge.zip"
    with open(big_zip, "wb") as f:
        f.truncate(wsmod.MAX_ZIP_BYTES + 1)
    report = ws.add_to_collection("big", [big, big_zip])
    assert report.added == 0 and [n for n, _ in report.rejected] == ["huge.png", "huge.zip"]
    assert "more than the 50 MB" in report.rejected[0][1] and "more than the 500 MB" in report.rejected[1][1]
    assert not (ws.root / "collections" / "big").exists()  # nothing accepted: no collection


def test_zip_bombs_are_refused(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    # Declared sizes: 9 x 60 MB unpacks past the 500 MB limit; refused before unpacking.
    lying = set_sizes(zip_bytes({f"m{i}.png": png_bytes(painting(i)) for i in range(9)}), 60 * 2**20)
    report = ws.add_to_collection("bombs", [("lying.zip", lying)])
    assert report.rejected == [("lying.zip", report.rejected[0][1])] and "unpacks to 540 MB" in report.rejected[0][1]
    # A real bomb (2 MB of zeros in 2 kB), against a lowered limit.
    monkeypatch.setattr(wsmod, "MAX_ZIP_UNCOMPRESSED", 2**20)
    bomb = zip_bytes({"a.png": bytes(2 * 2**20)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 10_000
    report = ws.add_to_collection("bombs", [("bomb.zip", bomb)])
    assert "unpacks to 2.0 MB" in report.rejected[0][1]
    with pytest.raises(WorkspaceError, match="unpacks to"):
        ws.save_upload("bomb.zip", bomb, kind="zip")
    # A zip that claims less than it holds is not unpacked beyond its claim.
    monkeypatch.setattr(wsmod, "MAX_ZIP_UNCOMPRESSED", 500 * 2**20)
    small_claim = set_sizes(bomb, 100, local=True)
    report = ws.add_to_collection("bombs", [("claim.zip", small_claim)])
    assert report.added == 0 and report.rejected[0][0] == "claim.zip/a.png"
    assert not (ws.root / "collections" / "bombs").exists()
    assert not any(p.is_file() for p in (ws.root / "uploads").rglob("*"))


# ---------------------------------------------------------------- collections


def test_collection_from_a_mixed_zip(ws: Workspace, tmp_path: Path) -> None:
    inner = zip_bytes({"x.png": png_bytes(painting(1))})
    members = {
        "art/good1.png": png_bytes(painting(1)),
        "art/sub/good2.jpg": jpeg_bytes(painting(2)),
        "../../escape.png": png_bytes(painting(3)),
        "art/notes.png": b"not an image at all",
        "art/cut.png": png_bytes(painting(4))[:300],
        "art/readme.txt": b"hello",
        "art/pic.heic": b"\0" * 10,
        "art/tiny.png": png_bytes(painting(5, (8, 8))),
        "art/inner.zip": inner,
        "__MACOSX/art/._good1.png": b"resource fork",
        "art/.hidden.png": b"dot file",
    }
    upload = tmp_path / "gradio" / "My Paintings.zip"
    upload.parent.mkdir()
    upload.write_bytes(zip_bytes(members, zipfile.ZIP_DEFLATED))
    loose = tmp_path / "gradio" / "loose one.webp"
    painting(6).save(loose, format="WEBP")
    with reads_outside(ws.root, upload.parent) as out:
        report = ws.add_to_collection("  My Art! ", [str(upload), loose, ("bad.bmp", b"BM junk")])
    assert out == []
    assert report.name == "My-Art"
    assert report.added == 4 and report.total == 4
    assert sorted(report.files) == [
        "collections/My-Art/escape.png",
        "collections/My-Art/good1.png",
        "collections/My-Art/good2.jpg",
        "collections/My-Art/loose-one.webp",
    ]
    reasons = dict(report.rejected)
    assert set(reasons) == {
        "My Paintings.zip/art/notes.png",
        "My Paintings.zip/art/cut.png",
        "My Paintings.zip/art/readme.txt",
        "My Paintings.zip/art/pic.heic",
        "My Paintings.zip/art/tiny.png",
        "My Paintings.zip/art/inner.zip",
        "bad.bmp",
    }
    assert "not a supported image" in reasons["My Paintings.zip/art/notes.png"]
    assert "truncated" in reasons["My Paintings.zip/art/cut.png"]
    assert "zip inside a zip" in reasons["My Paintings.zip/art/inner.zip"]
    logged = (ws.root / "collections" / "My-Art" / "rejected.txt").read_text()
    assert all(name in logged for name in reasons) and logged.count("\n") == len(reasons)
    # Only the accepted images (and the reject list) are kept, all inside the collection.
    kept = sorted(p.name for p in (ws.root / "collections" / "My-Art").iterdir())
    assert kept == ["escape.png", "good1.png", "good2.jpg", "loose-one.webp", "rejected.txt"]
    assert not (tmp_path / "escape.png").exists() and not (ws.root / "escape.png").exists()
    assert [p.name for p in ws.collection_images("My-Art")] == kept[:4]
    (info,) = ws.collections()
    assert (info.name, info.rel, info.images) == ("My-Art", "collections/My-Art", 4)
    assert info.bytes == sum(p.stat().st_size for p in ws.collection_images("My-Art"))
    # Adding the same file again keeps both under distinct names.
    again = ws.add_to_collection("My-Art", [loose])
    assert again.files == ["collections/My-Art/loose-one-2.webp"] and again.total == 5


def test_collection_names(ws: Workspace) -> None:
    good = [("a.png", png_bytes(painting(0)))]
    assert ws.add_to_collection("Été 2024", good).name == "Ete-2024"
    for bad, why in [
        ("", "give the collection a name"),
        ("   ", "give the collection a name"),
        ("../x", "looks like a path"),
        ("a/b", "looks like a path"),
        ("%2e%2e", "looks like a path"),
        ("!!!", "no letters or digits"),
        ("n" * 500, "longer than 80"),
    ]:
        with pytest.raises(WorkspaceError, match=why):
            ws.add_to_collection(bad, good)
    # Existing collections are named exactly as collections() lists them.
    with pytest.raises(WorkspaceError, match="no collection named"):
        ws.collection_images("ete-2024")
    with pytest.raises(WorkspaceError, match="no collection named"):
        ws.collection_images("Été 2024")


def test_preview_and_delete_collection(ws: Workspace) -> None:
    files = [(f"p{i}.png", png_bytes(painting(i, (40, 48)))) for i in range(6)]
    ws.add_to_collection("set", files)
    grid = ws.preview_crops("set", resolution=32, n=4)
    assert isinstance(grid, Image.Image) and grid.mode == "RGB"
    assert grid.size == (2 + 2 * 34, 2 + 2 * 34)  # 2 x 2 crops of 32 px, 2 px padding
    assert grid.tobytes() == ws.preview_crops("set", resolution=32, n=4).tobytes()  # seeded
    with pytest.raises(ValueError, match="resolution"):
        ws.preview_crops("set", resolution=30)
    ws.delete_collection("set")
    assert not (ws.root / "collections" / "set").exists()
    with pytest.raises(WorkspaceError, match="no collection named"):
        ws.collection_images("set")


# ---------------------------------------------------------------- gallery and runs


def _output(ws: Workspace, rel: str, mtime: float, meta: dict[str, str] | None = None) -> Path:
    p = ws.root / rel
    if p.suffix == ".gif":
        save_gif([painting(1), painting(2)], p)
    else:
        save_png(painting(0), p, metadata=meta)
    os.utime(p, (mtime, mtime))
    return p


def test_gallery_items_carry_provenance(ws: Workspace) -> None:
    meta = {"artgan:model": "resgan:abc123", "artgan:seed": "7", "artgan:truncation": "0.8"}
    _output(ws, "outputs/3-generate/seed00007.png", 1_700_000_000, meta)
    _output(ws, "outputs/3-generate/grid.png", 1_700_000_100, {"artgan:model": "resgan:abc123"})
    _output(ws, "outputs/5-texture/walk.gif", 1_700_000_200)
    _output(ws, "outputs/loose.png", 1_600_000_000)
    (ws.root / "outputs" / "3-generate" / "job.json").write_text(
        json.dumps({"id": 3, "kind": "generate", "params": {"run": "runs/00000-x", "seed": 7, "n": 2}})
    )
    (ws.root / "outputs" / "5-texture" / "job.json").write_text("{ broken")
    items = ws.gallery()
    assert [i.rel for i in items] == [
        "outputs/5-texture/walk.gif",
        "outputs/3-generate/grid.png",
        "outputs/3-generate/seed00007.png",
        "outputs/loose.png",
    ]
    seed = items[2]
    assert (seed.kind, seed.job_id, seed.name) == ("generate", 3, "seed00007.png")
    assert seed.provenance["artgan:model"] == "resgan:abc123"
    assert seed.provenance["artgan:seed"] == "7"
    assert seed.provenance["artgan:truncation"] == "0.8"
    assert seed.provenance["Software"].startswith("artgan ")
    assert seed.provenance["job:kind"] == "generate" and seed.provenance["job:params.run"] == "runs/00000-x"
    assert seed.job["params"]["n"] == 2
    assert seed.provenance["date"] == seed.date and seed.date.startswith("2023-11-1")
    assert "seed 7" in seed.caption and "generate" in seed.caption
    assert items[0].kind == "texture" and items[0].job == {} and "date" in items[0].provenance
    assert items[3].kind is None and items[3].job_id is None
    assert not any(str(ws.root) in v for i in items for v in i.provenance.values())
    assert [i.rel for i in ws.gallery(limit=1)] == ["outputs/5-texture/walk.gif"]


def test_delete_output_only_deletes_output_images(ws: Workspace) -> None:
    ws.add_to_collection("keep", [("a.png", png_bytes(painting(0)))])
    target = _output(ws, "outputs/3-generate/seed00001.png", 1_700_000_000)
    (ws.root / "outputs" / "3-generate" / "job.json").write_text("{}")
    os.symlink(ws.root / "collections" / "keep" / "a.png", ws.root / "outputs" / "alias.png")
    for rel, why in [
        ("collections/keep/a.png", "only files under outputs/"),
        ("outputs/../collections/keep/a.png", "contains '..'"),
        ("outputs/alias.png", "only files under outputs/"),  # a link into a collection
        ("outputs", "only files under outputs/"),
        ("outputs/3-generate/job.json", "only output images"),
        ("outputs/3-generate/missing.png", "no such output image"),
        ("studio.db", "only files under outputs/"),
    ]:
        with pytest.raises(WorkspaceError, match=why):
            ws.delete_output(rel)
    assert (ws.root / "collections" / "keep" / "a.png").is_file()
    ws.delete_output("outputs/3-generate/seed00001.png")
    assert not target.exists() and (ws.root / "outputs" / "3-generate" / "job.json").exists()


def test_runs_report_progress_quality_and_latest_grid(ws: Workspace) -> None:
    done = ws.root / "runs" / "00000-art-resgan-64"
    (done / "samples").mkdir(parents=True)
    for k in (0, 4, 12):
        save_png(painting(k), done / "samples" / f"fakes{k:06d}.png")
    save_png(painting(0), done / "samples" / "reals.png")
    (done / "config.json").write_text(json.dumps({"train": {"model": {"family": "resgan", "resolution": 64}}}))
    (done / "summary.json").write_text(json.dumps({"kimg": 12.5, "best_swd": 0.123}))
    live = ws.root / "runs" / "00001-art-dcgan-32"
    live.mkdir()
    rows = [{"kimg": 4.0, "metric/swd/avg": 0.5}, {"kimg": 8.0, "metric/swd/avg": 0.3}, {"kimg": 9.5}]
    (live / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kimg": 1')
    (ws.root / "runs" / "not-a-run").mkdir()
    runs = ws.runs()
    assert [r.name for r in runs] == ["00001-art-dcgan-32", "00000-art-resgan-64"]
    new, old = runs
    assert (old.rel, old.kimg, old.best_swd, old.finished) == ("runs/00000-art-resgan-64", 12.5, 0.123, True)
    assert (old.family, old.resolution) == ("resgan", 64)
    assert old.latest_grid == "runs/00000-art-resgan-64/samples/fakes000012.png"
    assert (new.kimg, new.best_swd, new.finished, new.latest_grid, new.family) == (9.5, 0.3, False, None, None)
