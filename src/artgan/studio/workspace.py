"""The studio's workspace: the one folder every file the app reads, writes or serves lies in.

Layout (created on open)::

    studio.db                  the job table (studio/jobs.py)
    collections/<name>/        uploaded training images, each one validated
    runs/                      numbered training run folders (training/loop.py)
    outputs/<job-id>-<kind>/   PNGs / GIFs written by jobs, with provenance chunks, plus job.json
    uploads/<token>/           files uploaded for one job (photos, paintings, exemplars)
    logs/<job-id>.log

Every workspace-relative path a caller gives goes through :meth:`Workspace.path`, which
refuses absolute paths, ``..``, backslashes, NUL and control characters (also when
percent-encoded) and anything whose real path (symlinks followed) is outside the root.
Uploads are checked with the CLI's own rules (``artgan.imaging.decode_image``: allowlisted
decoders and a pixel budget; ``artgan.data.ingest``: the suffixes and the minimum size)
before a byte is kept, and size limits stop oversized files and zip bombs.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import unicodedata
import urllib.parse
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from PIL import Image

from ..data.ingest import FOREIGN_SUFFIXES, IMAGE_SUFFIXES, MIN_SIDE
from ..imaging import DEFAULT_MAX_PIXELS, ImageError, atomic_write_bytes, decode_image

__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_ZIP_BYTES",
    "MAX_ZIP_UNCOMPRESSED",
    "MAX_ZIP_MEMBERS",
    "CollectionInfo",
    "CollectionReport",
    "GalleryItem",
    "RunInfo",
    "Workspace",
    "WorkspaceError",
]

MAX_UPLOAD_BYTES = 50 * 2**20  # one image file (or one image inside a zip)
MAX_ZIP_BYTES = 500 * 2**20  # one zip as uploaded
MAX_ZIP_UNCOMPRESSED = 500 * 2**20  # everything in one zip once unpacked: a zip bomb stops here
MAX_ZIP_MEMBERS = 5000
MAX_PATH_CHARS = 1024  # a workspace-relative path
MAX_PART_BYTES = 255  # one path component (the usual file-system limit)
MAX_NAME_CHARS = 80  # the stem of a file or collection name the workspace creates
GALLERY_SUFFIXES = frozenset({".png", ".gif"})
SUBDIRS = ("collections", "runs", "outputs", "uploads", "logs")
_RUN = re.compile(r"^(\d{5})-")
_FAKES = re.compile(r"^fakes(\d+)\.png$")
_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_TEXT = 300  # provenance values shown: a text chunk can be long


class WorkspaceError(ValueError):
    """A request the workspace refuses. ``str(err)`` is one line naming the path and why."""


@dataclass
class CollectionReport:
    """What :meth:`Workspace.add_to_collection` kept and refused."""

    name: str  # the collection's (sanitised) name
    added: int = 0
    total: int = 0  # images in the collection afterwards
    files: list[str] = field(default_factory=list)  # workspace-relative paths of the added images
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file name as uploaded, reason)


@dataclass
class CollectionInfo:
    name: str
    rel: str  # "collections/<name>"
    images: int
    bytes: int
    modified: float  # newest file's mtime (seconds since the epoch)


@dataclass
class GalleryItem:
    """One output image and where it came from."""

    rel: str  # "outputs/<job-id>-<kind>/<file>"
    name: str  # the file name
    kind: str | None  # the job kind from the folder name ("generate", "stylize", ...)
    job_id: int | None
    modified: float
    date: str  # "YYYY-MM-DD HH:MM:SS", local time
    caption: str
    provenance: dict[str, str] = field(default_factory=dict)  # PNG text chunks, job.json fields, date
    job: dict[str, Any] = field(default_factory=dict)  # the folder's job.json, if any


@dataclass
class RunInfo:
    """One training run folder under runs/."""

    name: str  # "00000-my-art-resgan-64"
    rel: str  # "runs/<name>"
    kimg: float | None  # images seen (thousands): summary.json, else the last stats row
    best_swd: float | None  # summary.json's best_swd, else the lowest SWD in stats.jsonl
    latest_grid: str | None  # workspace-relative path of the newest samples/fakes*.png
    finished: bool  # summary.json exists
    family: str | None
    resolution: int | None
    modified: float


# --------------------------------------------------------------------------- names


def _show(text: object, limit: int = 60) -> str:
    """A path as it may appear in a one-line message: quoted, escaped, shortened."""
    s = repr(str(text))
    return s if len(s) <= limit else f"{s[: limit - 3]}...' ({len(str(text))} characters)"


def _display(name: str) -> str:
    """An uploaded name as reported back: no control characters, not too long."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= 200 else clean[:197] + "..."


def _ascii_slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:MAX_NAME_CHARS].strip("-_")


def safe_filename(name: str, fallback: str = "file") -> str:
    """A file name the workspace may create from an uploaded ``name``: its last part only
    (either separator), ASCII letters, digits, ``-`` and ``_``, a short lower-case suffix."""
    base = re.split(r"[\\/]", name.replace("\x00", ""))[-1]
    stem, suffix = os.path.splitext(base)
    suffix = re.sub(r"[^a-z0-9]", "", suffix.lower())[:10]
    stem = _ascii_slug(stem) or fallback
    return f"{stem}.{suffix}" if suffix else stem


def _collection_name(name: str) -> str:
    """The canonical name of a new collection, or WorkspaceError for a path-like one."""
    raw = (name or "").strip()
    if not raw:
        raise WorkspaceError("give the collection a name (letters, digits, - and _)")
    if any(c in raw for c in "/\\\x00") or raw in (".", "..") or urllib.parse.unquote(raw) != raw:
        raise WorkspaceError(f"collection name {_show(raw)} looks like a path; use letters, digits, - and _")
    if len(raw) > MAX_NAME_CHARS:
        raise WorkspaceError(f"collection name {_show(raw)} is longer than {MAX_NAME_CHARS} characters")
    slug = _ascii_slug(raw)
    if not slug:
        raise WorkspaceError(f"collection name {_show(raw)} has no letters or digits; use letters, digits, - and _")
    return slug


# --------------------------------------------------------------------------- the workspace


class Workspace:
    """A studio workspace rooted at ``root`` (created with its layout if missing).

    ``upload_dirs``, when given, are the only folders uploaded source files may be read
    from (Gradio's temp folder): a path named by anything else is refused.
    ``max_pixels`` is the pixel budget for uploaded images (the CLI's default).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        upload_dirs: Iterable[str | os.PathLike[str]] | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        root_path = Path(root).expanduser()
        root_path.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root_path))
        for sub in SUBDIRS:
            (self.root / sub).mkdir(exist_ok=True)
        self.upload_dirs = None if upload_dirs is None else [Path(os.path.realpath(d)) for d in upload_dirs]
        self.max_pixels = max_pixels

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # ---- paths
    def path(self, rel: str) -> Path:
        """The absolute real path of workspace-relative ``rel`` ("outputs/3-generate/a.png").

        Raises WorkspaceError for an absolute path, ``..``, a backslash, a NUL or control
        character (also percent-encoded), a too-long path, or a path whose real location
        (symlinks followed) is outside the workspace. The file need not exist.
        """
        if not isinstance(rel, str):
            raise WorkspaceError(f"refused path {_show(rel)}: workspace paths are text, relative to the workspace")
        if not rel.strip():
            raise WorkspaceError("refused an empty path: name a file inside the workspace")
        if len(rel) > MAX_PATH_CHARS:
            raise WorkspaceError(f"refused path {_show(rel)}: longer than {MAX_PATH_CHARS} characters")
        # Check the text as given and as a browser or URL router might decode it, so
        # "%2e%2e/" is refused like "../" wherever it ends up being decoded.
        forms = [rel]
        for _ in range(3):
            decoded = urllib.parse.unquote(forms[-1])
            if decoded == forms[-1]:
                break
            forms.append(decoded)
        for text in forms:
            why = _bad_path_text(text)
            if why:
                raise WorkspaceError(f"refused path {_show(rel)}: {why}")
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if any(len(p.encode("utf-8", "surrogatepass")) > MAX_PART_BYTES for p in parts):
            raise WorkspaceError(f"refused path {_show(rel)}: a name longer than {MAX_PART_BYTES} bytes")
        real = Path(os.path.realpath(self.root.joinpath(*parts)))
        if not real.is_relative_to(self.root):
            raise WorkspaceError(f"refused path {_show(rel)}: it leads outside the workspace (through a link)")
        return real

    def rel(self, path: str | os.PathLike[str]) -> str:
        """The workspace-relative form ("runs/00000-x") of an absolute path inside the workspace."""
        p = Path(path)
        if not p.is_absolute():
            raise WorkspaceError(f"{_show(p)}: expected an absolute path inside the workspace")
        real = Path(os.path.realpath(p))
        if not real.is_relative_to(self.root):
            raise WorkspaceError(f"{_show(p)}: not inside the workspace {self.root}")
        return real.relative_to(self.root).as_posix() or "."

    def _dir_under(self, top: str, name: str) -> Path:
        """``top/name`` as a real folder directly inside ``top`` (no link elsewhere)."""
        p = self.path(f"{top}/{name}")
        if p.parent != self.path(top) or (self.root / top / name).is_symlink():
            raise WorkspaceError(f"refused {_show(f'{top}/{name}')}: not a folder directly inside {top}/")
        return p

    def _inside(self, p: Path) -> Path | None:
        """``p``'s real path if it is inside the workspace, else None (a planted link)."""
        real = Path(os.path.realpath(p))
        return real if real.is_relative_to(self.root) else None

    def _read_text(self, p: Path) -> str | None:
        """A small text file of the workspace (a run's JSON, a job.json), or None when it is
        missing, unreadable or a link out of the workspace."""
        if self._inside(p) is None:
            return None
        try:
            return p.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def _files(self, folder: Path, suffixes: frozenset[str] | None = None) -> Iterator[Path]:
        """Regular files under ``folder`` (recursively, no hidden names, no links followed
        out of the workspace), optionally only with the given suffixes."""
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                if fn.startswith(".") or (suffixes is not None and Path(fn).suffix.lower() not in suffixes):
                    continue
                p = Path(dirpath) / fn
                # The workspace never makes links: one found here was planted, so skip it.
                if not p.is_symlink() and p.is_file():
                    yield p

    # ---- uploads
    def save_upload(
        self, filename: str, data: bytes | os.PathLike[str], kind: str = "image", *, token: str | None = None
    ) -> str:
        """Validate one uploaded file and keep it as ``uploads/<token>/<safe name>``.

        ``data`` is the file's bytes or the path of Gradio's temp file holding the upload
        (never a path a user typed). ``kind`` "image" checks it like the CLI checks an
        input image; "zip" checks the archive's size, member count and unpacked size.
        ``token`` groups several uploads of one job (a fresh one when None).
        Returns the workspace-relative path; raises WorkspaceError with the reason.
        """
        shown = _display(str(filename))
        name = safe_filename(str(filename), fallback="upload")
        if kind == "image":
            with self._source(data, MAX_UPLOAD_BYTES, shown) as f:
                content = f.read(MAX_UPLOAD_BYTES + 1)  # a file growing after the size check
            reason = self._image_problem(content, str(filename))
        elif kind == "zip":
            with self._source(data, MAX_ZIP_BYTES, shown) as f:
                reason = _zip_problem(f)
                f.seek(0)
                content = f.read()
        else:
            raise WorkspaceError(f"{shown}: unknown upload kind {kind!r} (image or zip)")
        if reason:
            raise WorkspaceError(f"{shown}: {reason}")
        token = token if token is not None else secrets.token_hex(8)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token):
            raise WorkspaceError(f"upload token {_show(token)}: use letters, digits, - and _")
        return self.rel(self._write_new(self.path(f"uploads/{token}"), name, content))

    @contextmanager
    def _source(self, data: bytes | os.PathLike[str] | str, limit: int, shown: str) -> Iterator[IO[bytes]]:
        """A readable, seekable binary file of an upload no larger than ``limit`` bytes."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            if len(data) > limit:
                raise WorkspaceError(f"{shown}: {_mb(len(data))} is more than the {_mb(limit)} allowed; refused")
            yield io.BytesIO(bytes(data))
            return
        if not isinstance(data, (str, os.PathLike)):
            raise WorkspaceError(f"{shown}: expected the upload's bytes or its temp file, got {type(data).__name__}")
        src = Path(data)
        if self.upload_dirs is not None:
            real = Path(os.path.realpath(src))
            if not any(real.is_relative_to(d) for d in self.upload_dirs):
                raise WorkspaceError(f"{shown}: not an uploaded file; refused")
        try:
            # O_NOFOLLOW: an upload is a plain temp file, never a link to somewhere else.
            fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise WorkspaceError(f"{shown}: cannot read the upload ({exc.strerror})") from exc
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise WorkspaceError(f"{shown}: not a regular file; refused")
            if st.st_size > limit:
                raise WorkspaceError(f"{shown}: {_mb(st.st_size)} is more than the {_mb(limit)} allowed; refused")
            yield f

    def _image_problem(self, content: bytes, name: str) -> str | None:
        """Why an image file cannot be used (the CLI's rules), or None. Decodes it once."""
        suffix = Path(name).suffix.lower()
        if suffix in FOREIGN_SUFFIXES:
            return f"{suffix} files are not supported; convert to PNG or JPEG"
        if suffix not in IMAGE_SUFFIXES:
            return "not an image file name (allowed: PNG, JPEG, WebP, TIFF, BMP)"
        if not content:
            return "empty file (0 bytes)"
        if len(content) > MAX_UPLOAD_BYTES:
            return f"{_mb(len(content))} is more than the {_mb(MAX_UPLOAD_BYTES)} allowed"
        try:
            img = decode_image(content, name, max_pixels=self.max_pixels)
        except ImageError as exc:
            return exc.reason
        w, h = img.size
        if min(w, h) < MIN_SIDE:
            return f"only {w}x{h} pixels; need at least {MIN_SIDE} on the shorter side"
        return None

    def _write_new(self, folder: Path, name: str, data: bytes) -> Path:
        """Write ``data`` as a new file ``folder/name`` (or ``name-2``, ``-3``, ...), never
        replacing one: a hidden temp file, fsync, then a hard link to a free name."""
        folder.mkdir(parents=True, exist_ok=True)
        stem, suffix = os.path.splitext(name)
        fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            for i in range(1, 10_000):
                target = folder / (name if i == 1 else f"{stem}-{i}{suffix}")
                try:
                    os.link(tmp, target)  # fails if the name is taken: two uploads never collide
                    return target
                except FileExistsError:
                    continue
                except OSError:  # a file system without hard links
                    if target.exists():
                        continue
                    os.replace(tmp, target)
                    return target
            raise WorkspaceError(f"{_show(name)}: too many files of that name in {self.rel(folder)}")
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    # ---- collections
    def add_to_collection(
        self, name: str, files: Sequence[str | os.PathLike[str] | tuple[str, bytes]]
    ) -> CollectionReport:
        """Validate images and .zip archives of images and keep the good ones in
        ``collections/<name>/`` (created if new). ``files`` are Gradio's upload temp
        files, or (file name, bytes) pairs. Refused files are listed with a reason in the
        report and appended to ``collections/<name>/rejected.txt``; nothing of them is kept.
        """
        report = CollectionReport(name=_collection_name(name))
        folder = self._dir_under("collections", report.name)

        def keep(original: str, content: bytes) -> None:
            # Written at once (a big zip is never held in memory whole); the folder is
            # created by the first image kept, so an all-rejected upload leaves nothing.
            path = self._write_new(folder, safe_filename(original, fallback="image"), content)
            report.files.append(self.rel(path))

        for item in files:
            data: bytes | str | os.PathLike[str]
            if isinstance(item, tuple):
                shown, data = _display(str(item[0])), item[1]
            else:
                shown, data = _display(Path(item).name), item
            if shown.lower().endswith(".zip"):
                try:
                    with self._source(data, MAX_ZIP_BYTES, shown) as f:
                        self._read_zip(f, shown, keep, report.rejected)
                except WorkspaceError as exc:
                    report.rejected.append((shown, _reason(exc, shown)))
                continue
            try:
                with self._source(data, MAX_UPLOAD_BYTES, shown) as f:
                    content = f.read(MAX_UPLOAD_BYTES + 1)
            except WorkspaceError as exc:
                report.rejected.append((shown, _reason(exc, shown)))
                continue
            why = self._image_problem(content, shown)
            if why:
                report.rejected.append((shown, why))
            else:
                keep(shown, content)
        if report.rejected and folder.is_dir():
            self._log_rejects(folder, report.rejected)
        report.added = len(report.files)
        report.total = len(self.collection_images(report.name)) if folder.is_dir() else 0
        return report

    def _read_zip(
        self, f: IO[bytes], shown: str, keep: Callable[[str, bytes], None], rejected: list[tuple[str, str]]
    ) -> None:
        """Check a zip as a whole (a bomb is refused before anything is unpacked), then each
        image inside it with the same rules as a single upload."""
        why = _zip_problem(f)
        if why:
            raise WorkspaceError(f"{shown}: {why}")
        with zipfile.ZipFile(f) as zf:
            for info in _zip_entries(zf):
                member = f"{shown}/{_display(info.filename)}"
                suffix = Path(info.filename).suffix.lower()
                if suffix == ".zip":
                    rejected.append((member, "a zip inside a zip; unpack it and upload its images"))
                    continue
                if suffix not in IMAGE_SUFFIXES:
                    # Checked before unpacking: a README or a .heic needs no decompression.
                    rejected.append((member, self._image_problem(b"", info.filename) or "not an image"))
                    continue
                if info.file_size > MAX_UPLOAD_BYTES:
                    rejected.append((member, f"{_mb(info.file_size)} is more than the {_mb(MAX_UPLOAD_BYTES)} allowed"))
                    continue
                if info.flag_bits & 0x1:
                    rejected.append((member, "encrypted inside the zip; zip it again without a password"))
                    continue
                try:
                    with zf.open(info) as m:
                        content = m.read(MAX_UPLOAD_BYTES + 1)  # the header's size is not trusted
                except Exception as exc:  # noqa: BLE001 - zipfile/zlib raise many types for junk
                    rejected.append((member, f"cannot unpack it ({type(exc).__name__}: {exc})"))
                    continue
                why = self._image_problem(content, info.filename)
                if why:
                    rejected.append((member, why))
                else:
                    keep(info.filename, content)

    def _log_rejects(self, folder: Path, rejected: list[tuple[str, str]]) -> None:
        """Append "name: reason" lines to the collection's rejected.txt."""
        path = folder / "rejected.txt"
        old = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        new = "".join(f"{stamp}  {n}: {_display(r)}\n" for n, r in rejected)
        atomic_write_bytes(path, (old + new).encode("utf-8"))

    def collections(self) -> list[CollectionInfo]:
        """Every collection, by name."""
        out = []
        top = self.path("collections")
        for p in sorted(top.iterdir()):
            if p.name.startswith(".") or p.is_symlink() or not p.is_dir() or _ascii_slug(p.name) != p.name:
                continue
            images = self.collection_images(p.name)
            stats = [q.stat() for q in images]
            out.append(
                CollectionInfo(
                    name=p.name,
                    rel=f"collections/{p.name}",
                    images=len(images),
                    bytes=sum(s.st_size for s in stats),
                    modified=max((s.st_mtime for s in stats), default=p.stat().st_mtime),
                )
            )
        return out

    def _collection(self, name: str) -> Path:
        """The folder of an existing collection; the name must be one ``collections()`` lists."""
        if not isinstance(name, str) or not name or _ascii_slug(name) != name:
            raise WorkspaceError(f"no collection named {_show(name)}")
        folder = self._dir_under("collections", name)
        if not folder.is_dir():
            raise WorkspaceError(f"no collection named {_show(name)}")
        return folder

    def collection_images(self, name: str) -> list[Path]:
        """The image files of a collection, sorted by path."""
        return list(self._files(self._collection(name), IMAGE_SUFFIXES))

    def preview_crops(self, name: str, resolution: int = 64, n: int = 16, seed: int = 0) -> Image.Image:
        """A grid of ``n`` crops of the collection exactly as training at ``resolution``
        would draw them (the training loop's data loading, recipe and crop sampler)."""
        import torch

        from ..config import ModelConfig, TrainConfig
        from ..data import CropSampler
        from ..imaging import make_grid, tensor_to_pil
        from ..training.loop import load_data

        folder = self._collection(name)
        if any(p.is_symlink() for p in folder.rglob("*")):
            raise WorkspaceError(f"collection {_show(name)} contains links; it was not made by the studio")
        if not 1 <= n <= 64:
            raise WorkspaceError(f"preview of {n} crops: choose 1 to 64")
        cfg = TrainConfig(model=ModelConfig(resolution=int(resolution)), data=str(folder)).validate()
        cfg, data, _ = load_data(cfg, progress=False)
        sampler = CropSampler(
            data.images, cfg.model.resolution, crop_size=cfg.crop_size or None, min_scale=cfg.min_scale or 1.0
        )
        crops = sampler.sample(n, torch.Generator().manual_seed(seed))
        return tensor_to_pil(make_grid(crops, nrow=math.ceil(math.sqrt(n))))

    def delete_collection(self, name: str) -> None:
        """Delete a collection and its images."""
        shutil.rmtree(self._collection(name))

    # ---- outputs and runs
    def gallery(self, limit: int | None = None) -> list[GalleryItem]:
        """Every PNG / GIF under outputs/, newest first, with its provenance."""
        top = self.path("outputs")
        found = [(p.stat().st_mtime, p) for p in self._files(top, GALLERY_SUFFIXES)]
        found.sort(key=lambda mp: (-mp[0], str(mp[1])))
        jobs: dict[Path, dict[str, Any]] = {}
        items = []
        for mtime, p in found[:limit]:
            rel = self.rel(p)
            parts = Path(rel).parts  # ("outputs", "<job-id>-<kind>", ..., name)
            job_dir = top / parts[1] if len(parts) > 2 else None
            m = re.fullmatch(r"(\d+)-([A-Za-z0-9_-]+)", parts[1]) if job_dir else None
            if job_dir is not None and job_dir not in jobs:
                jobs[job_dir] = _parse_json(self._read_text(job_dir / "job.json"))
            job = jobs[job_dir] if job_dir is not None else {}
            date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(mtime))
            prov = _png_text(p)
            prov.update(_flatten("job", job))
            prov["date"] = date
            kind = m.group(2) if m else None
            bits = [kind] if kind else []
            if "artgan:seed" in prov:
                bits.append(f"seed {prov['artgan:seed']}")
            items.append(
                GalleryItem(
                    rel=rel,
                    name=p.name,
                    kind=kind,
                    job_id=int(m.group(1)) if m else None,
                    modified=mtime,
                    date=date,
                    caption=f"{p.name} ({', '.join(bits + [date[:16]])})",
                    provenance=prov,
                    job=job,
                )
            )
        return items

    def delete_output(self, rel: str) -> None:
        """Delete one output image (a file under outputs/; nothing else)."""
        p = self.path(rel)
        if not p.is_relative_to(self.path("outputs")) or p == self.path("outputs"):
            raise WorkspaceError(f"refused to delete {_show(rel)}: only files under outputs/ can be deleted here")
        if p.suffix.lower() not in GALLERY_SUFFIXES:
            raise WorkspaceError(f"refused to delete {_show(rel)}: only output images (.png, .gif) can be deleted")
        if not p.is_file():
            raise WorkspaceError(f"cannot delete {_show(rel)}: no such output image")
        p.unlink()

    def runs(self) -> list[RunInfo]:
        """Every numbered run folder under runs/, newest (highest number) first."""
        top = self.path("runs")
        out = []
        for p in sorted(top.iterdir(), key=lambda q: q.name, reverse=True):
            if not _RUN.match(p.name) or p.is_symlink() or not p.is_dir():
                continue
            summary = _parse_json(self._read_text(p / "summary.json"))
            train = _parse_json(self._read_text(p / "config.json")).get("train", {})
            model = train.get("model", {}) if isinstance(train, dict) else {}
            kimg, best = _num(summary.get("kimg")), _num(summary.get("best_swd"))
            if kimg is None or best is None:
                rows = _parse_jsonl(self._read_text(p / "stats.jsonl"))
                kimg = kimg if kimg is not None or not rows else _num(rows[-1].get("kimg"))
                swds = [v for r in rows if (v := _num(r.get("metric/swd/avg"))) is not None]
                best = best if best is not None or not swds else min(swds)
            samples = p / "samples"
            listed = samples.glob("fakes*.png") if not samples.is_symlink() else iter(())
            grids = [(int(m.group(1)), q) for q in listed if (m := _FAKES.match(q.name)) and not q.is_symlink()]
            res = model.get("resolution") if isinstance(model, dict) else None
            fam = model.get("family") if isinstance(model, dict) else None
            out.append(
                RunInfo(
                    name=p.name,
                    rel=f"runs/{p.name}",
                    kimg=kimg,
                    best_swd=best,
                    latest_grid=self.rel(max(grids)[1]) if grids else None,
                    finished=(p / "summary.json").is_file(),
                    family=fam if isinstance(fam, str) else None,
                    resolution=res if isinstance(res, int) else None,
                    modified=p.stat().st_mtime,
                )
            )
        return out


# --------------------------------------------------------------------------- helpers


def _bad_path_text(text: str) -> str | None:
    """Why ``text`` cannot be a workspace-relative path, or None."""
    if "\x00" in text:
        return "contains a NUL byte"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "contains a control character"
    if "\\" in text:
        return "contains a backslash; use / between folders"
    if text.startswith(("/", "~")) or _DRIVE.match(text):
        return "an absolute path; give a path inside the workspace"
    if ".." in text.split("/"):
        return "contains '..'; paths may not leave the workspace"
    return None


def _reason(exc: WorkspaceError, shown: str) -> str:
    """The reason part of a "<name>: <reason>" message."""
    msg = str(exc)
    return msg[len(shown) + 2 :] if msg.startswith(shown + ": ") else msg


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:.0f} MB"


def _zip_entries(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files of a zip worth looking at (no folders, hidden files or macOS forks), by name."""
    return sorted(
        (
            i
            for i in zf.infolist()
            if not i.is_dir() and not i.filename.rsplit("/", 1)[-1].startswith(".") and "__MACOSX/" not in i.filename
        ),
        key=lambda i: i.filename,
    )


def _zip_problem(f: IO[bytes]) -> str | None:
    """Why a zip is refused as a whole (not a zip, too many files, unpacks too large), or None."""
    try:
        with zipfile.ZipFile(f) as zf:
            entries = _zip_entries(zf)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return f"not a readable zip archive ({exc})"
    if len(entries) > MAX_ZIP_MEMBERS:
        return f"{len(entries)} files in one zip, more than {MAX_ZIP_MEMBERS}; split it"
    total = sum(i.file_size for i in entries)
    if total > MAX_ZIP_UNCOMPRESSED:
        return (
            f"unpacks to {_mb(total)}, more than the {_mb(MAX_ZIP_UNCOMPRESSED)} allowed for one zip; "
            "refused (split it into smaller zips)"
        )
    return None


def _parse_json(text: str | None) -> dict[str, Any]:
    try:
        obj = json.loads(text or "{}")
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _parse_jsonl(text: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for line in (text or "").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _clip(value: object) -> str:
    text = _display(str(value))
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _png_text(path: Path) -> dict[str, str]:
    """The artgan provenance text chunks of a PNG (header only: no pixels are decoded)."""
    try:
        with Image.open(path, formats=["PNG", "GIF"]) as img:
            info = dict(img.info)
    except Exception:  # noqa: BLE001 - a broken output shows without provenance
        return {}
    return {
        str(k): _clip(v)
        for k, v in info.items()
        if isinstance(v, str) and (str(k).startswith("artgan:") or k == "Software")
    }


def _flatten(prefix: str, doc: dict[str, Any]) -> dict[str, str]:
    """job.json fields as provenance entries ("job:kind", "job:params.seed"), one level deep."""
    out: dict[str, str] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            for k2, v2 in value.items():
                out[f"{prefix}:{key}.{k2}"] = _clip(v2 if isinstance(v2, str) else json.dumps(v2))
        else:
            out[f"{prefix}:{key}"] = _clip(value if isinstance(value, str) else json.dumps(value))
    return out
