"""A minimal TensorBoard event-file writer and reader, with no TensorFlow or protobuf.

TensorBoard reads *event files*: a sequence of TFRecord frames, each holding one
serialised ``tensorflow.Event`` protobuf message. Both layers are simple enough to
write by hand, which saves us a dependency on ``tensorboard`` (and its protobuf pin)
for the one thing training needs: a few scalars every few seconds and a sample grid
now and then.

TFRecord frame (all integers little-endian)::

    uint64  length
    uint32  masked_crc32c(length bytes)
    bytes   data[length]
    uint32  masked_crc32c(data)

The subset of the ``Event`` message that we write::

    Event         { double wall_time = 1; int64 step = 2;
                    string file_version = 3; Summary summary = 5; }
    Summary       { repeated Value value = 1; }
    Summary.Value { string tag = 1; float simple_value = 2; Image image = 4; }
    Summary.Image { int32 height = 1; int32 width = 2; int32 colorspace = 3;
                    bytes encoded_image_string = 4; }

Example::

    with EventWriter("runs/00001") as tb:
        tb.scalars({"loss/D": 0.7, "loss/G": 1.3}, step=4000)
    events = read_events(next(Path("runs/00001").glob("events.out.tfevents.*")))
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import struct
import time
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

__all__ = ["EventWriter", "read_events", "crc32c", "masked_crc32c"]

# --------------------------------------------------------------------------- crc32c

# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78. TFRecord uses this variant,
# not the zlib CRC-32, so `zlib.crc32` cannot stand in for it.
_CRC32C_POLY = 0x82F63B78


def _make_crc32c_table() -> tuple[int, ...]:
    """Build the 256-entry byte-at-a-time lookup table for the reflected polynomial."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C of ``data``; pass a previous result as ``crc`` to continue a running CRC."""
    # Local names make the loop roughly twice as fast in CPython; a 100 kB PNG grid
    # costs ~10 ms, which is fine at the rate we log images.
    table = _CRC32C_TABLE
    crc ^= 0xFFFFFFFF
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """The TFRecord "masked" CRC: rotate right by 15 bits and add a constant.

    TFRecord masks its CRCs because computing the CRC of a string that itself
    contains embedded CRCs is otherwise prone to degenerate results.
    """
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------- protobuf encoding

# Wire types used by the fields we write/read.
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_FLOAT32_MAX = 3.4028234663852886e38


def _varint(value: int) -> bytes:
    """Base-128 varint; negative int64 values use their 64-bit two's complement (10 bytes)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def _len_field(field: int, payload: bytes) -> bytes:
    return _key(field, _LEN) + _varint(len(payload)) + payload


def _float32(value: float) -> bytes:
    # struct refuses finite doubles beyond float32 range; TensorBoard would show them
    # as +-inf anyway, so saturate instead of crashing the training loop over a log line.
    if math.isfinite(value) and abs(value) > _FLOAT32_MAX:
        value = math.copysign(math.inf, value)
    return struct.pack("<f", value)


def _scalar_value(tag: str, value: float) -> bytes:
    """Encode one ``Summary.Value`` holding a legacy ``simple_value`` scalar."""
    body = _len_field(1, tag.encode("utf-8")) + _key(2, _FIXED32) + _float32(float(value))
    return _len_field(1, body)  # field 1 of Summary: repeated Value


def _image_value(tag: str, png: bytes, height: int, width: int, colorspace: int) -> bytes:
    """Encode one ``Summary.Value`` holding a ``Summary.Image``."""
    image = (
        _key(1, _VARINT)
        + _varint(int(height))
        + _key(2, _VARINT)
        + _varint(int(width))
        + _key(3, _VARINT)
        + _varint(int(colorspace))
        + _len_field(4, bytes(png))
    )
    body = _len_field(1, tag.encode("utf-8")) + _len_field(4, image)
    return _len_field(1, body)


def _event(wall_time: float, step: int, *, summary: bytes | None = None, file_version: str | None = None) -> bytes:
    """Encode an ``Event``; ``summary`` is the already-encoded ``Summary`` body."""
    msg = _key(1, _FIXED64) + struct.pack("<d", wall_time)
    if step:  # proto3 omits default values; readers treat a missing step as 0
        msg += _key(2, _VARINT) + _varint(int(step))
    if file_version is not None:
        msg += _len_field(3, file_version.encode("utf-8"))
    if summary is not None:
        msg += _len_field(5, summary)
    return msg


def _frame(data: bytes) -> bytes:
    """Wrap one serialised message in a TFRecord frame."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


# ----------------------------------------------------------------------------- writer

# Distinguishes writers created in the same second by the same process (tests do this).
_writer_ids = itertools.count()


class EventWriter:
    """Append TensorBoard events (scalars and PNG images) to a new file in ``logdir``.

    The file is ``events.out.tfevents.<unix time>.<hostname>.<pid>.<n>``; TensorBoard
    picks up any file whose name contains ``tfevents``, and the pid/counter suffix
    keeps two writers started in the same second from sharing one file.

    Writes go to a buffered file handle and reach disk on :meth:`flush` or
    :meth:`close`, so logging from the training loop costs microseconds per scalar.
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}.{next(_writer_ids)}"
        self.path = self.logdir / name
        # Append mode: never truncate an existing file, even if a name ever collides.
        self._file: BinaryIO | None = open(self.path, "ab")
        # The first record announces the format; TensorBoard expects "brain.Event:2".
        self._write(_event(now, 0, file_version="brain.Event:2"))
        self.flush()  # make the (empty) run visible to TensorBoard right away

    def _write(self, event: bytes) -> None:
        if self._file is None:
            raise ValueError(f"EventWriter for {self.path} is closed")
        self._file.write(_frame(event))

    def scalar(self, tag: str, value: float, step: int, wall_time: float | None = None) -> None:
        """Log one scalar (anything ``float()`` accepts, e.g. a 0-d tensor) at ``step``."""
        summary = _scalar_value(tag, float(value))
        self._write(_event(time.time() if wall_time is None else wall_time, step, summary=summary))

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Log several scalars at one step, as a single event (one record, one CRC)."""
        if not values:
            return
        summary = b"".join(_scalar_value(tag, float(v)) for tag, v in values.items())
        self._write(_event(time.time(), step, summary=summary))

    def image(self, tag: str, png_bytes: bytes, height: int, width: int, step: int, *, colorspace: int = 3) -> None:
        """Log an already-encoded PNG of ``height`` x ``width`` pixels.

        ``colorspace`` is the channel count TensorBoard expects: 1 grey, 3 RGB, 4 RGBA.
        """
        summary = _image_value(tag, png_bytes, height, width, colorspace)
        self._write(_event(time.time(), step, summary=summary))

    def flush(self) -> None:
        """Push buffered events to the OS so TensorBoard (or our gallery) can read them."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close; calling it twice is harmless."""
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ----------------------------------------------------------------------------- reader


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Split a protobuf message into ``(field, wire_type, value)`` triples.

    Fixed-width values are returned as raw bytes (the caller knows whether they are
    float or double); unknown fields are kept, so we can read files other tools wrote.
    """
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            value, pos = buf[pos : pos + size], pos + size
        elif wire == _LEN:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf field")
        out.append((field, wire, value))
    return out


def _parse_event(data: bytes) -> dict[str, Any]:
    event: dict[str, Any] = {"wall_time": 0.0, "step": 0, "scalars": {}, "images": {}, "file_version": None}
    for field, wire, value in _fields(data):
        if field == 1 and wire == _FIXED64:
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif field == 2 and wire == _VARINT:
            event["step"] = value - (1 << 64) if value >= 1 << 63 else value  # int64
        elif field == 3 and wire == _LEN:
            event["file_version"] = value.decode("utf-8")
        elif field == 5 and wire == _LEN:
            for vfield, vwire, vbody in _fields(value):
                if vfield != 1 or vwire != _LEN:
                    continue
                tag, scalar, png = "", None, None
                for f, w, v in _fields(vbody):
                    if f == 1 and w == _LEN:
                        tag = v.decode("utf-8")
                    elif f == 2 and w == _FIXED32:
                        scalar = struct.unpack("<f", v)[0]
                    elif f == 4 and w == _LEN:
                        png = next((iv for i, iw, iv in _fields(v) if i == 4 and iw == _LEN), b"")
                if scalar is not None:
                    event["scalars"][tag] = scalar
                if png is not None:
                    event["images"][tag] = png
    return event


def read_events(path: str | os.PathLike[str], *, strict: bool = True) -> list[dict[str, Any]]:
    """Read an event file written by :class:`EventWriter` (or by TensorBoard writers).

    Returns one dict per record: ``{"wall_time": float, "step": int, "scalars":
    {tag: float}, "images": {tag: png_bytes}, "file_version": str | None}``. Other
    summary kinds (histograms, tensors) are skipped.

    Raises ``ValueError`` naming the file and byte offset when a CRC does not match
    or a record is cut short. With ``strict=False`` a cut-short *last* record is
    ignored instead, which is what a reader racing a live training run wants.
    """
    buf = Path(path).read_bytes()
    events: list[dict[str, Any]] = []
    pos = 0
    while pos < len(buf):
        if pos + 12 > len(buf):
            if not strict:
                break
            raise ValueError(f"{path}: truncated record header at byte {pos}")
        header = buf[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", buf[pos + 8 : pos + 12])
        if masked_crc32c(header) != header_crc:
            raise ValueError(f"{path}: corrupted record length at byte {pos} (CRC mismatch)")
        end = pos + 12 + length + 4
        if end > len(buf):
            if not strict:
                break
            raise ValueError(f"{path}: truncated record at byte {pos}")
        data = buf[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack("<I", buf[end - 4 : end])
        if masked_crc32c(data) != data_crc:
            raise ValueError(f"{path}: corrupted record data at byte {pos} (CRC mismatch)")
        events.append(_parse_event(data))
        pos = end
    return events
