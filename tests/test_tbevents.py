"""Tests for the dependency-free TensorBoard event writer/reader."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from PIL import Image

from artgan.training.tbevents import EventWriter, crc32c, masked_crc32c, read_events


def _png(width: int = 6, height: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(buf, format="PNG")
    return buf.getvalue()


def _write_run(logdir: Path) -> tuple[Path, bytes]:
    png = _png()
    with EventWriter(logdir) as tb:
        tb.scalar("loss/D", 0.5, step=1, wall_time=1234.5)
        tb.scalars({"loss/D": 0.25, "loss/G": 1.5}, step=2)
        tb.image("fakes", png, height=4, width=6, step=3)
    files = list(logdir.glob("events.out.tfevents.*"))
    assert len(files) == 1
    return files[0], png


def test_crc32c_known_vectors() -> None:
    # Standard CRC-32C check value, plus RFC 3720 (iSCSI) vectors.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    # Continuing a running CRC equals one CRC over the concatenation.
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283
    # The mask is a bijection, so it must change the value.
    assert masked_crc32c(b"123456789") != 0xE3069283


def test_write_and_read_back(tmp_path: Path) -> None:
    path, png = _write_run(tmp_path / "tb")
    events = read_events(path)
    assert events[0]["file_version"] == "brain.Event:2"
    assert [e["step"] for e in events[1:]] == [1, 2, 3]
    assert events[1]["wall_time"] == 1234.5
    assert events[1]["scalars"] == {"loss/D": 0.5}
    assert events[2]["scalars"] == {"loss/D": 0.25, "loss/G": 1.5}
    assert events[3]["images"] == {"fakes": png}
    assert events[3]["scalars"] == {}


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    with EventWriter(tmp_path) as tb:
        tb.scalars({"big": 1e300, "nan": math.nan, "neg": -3.0}, step=-5)
        tb.scalar("zero", 0.0, step=0)
    (path,) = tmp_path.glob("events.out.tfevents.*")
    last, zero = read_events(path)[-2:]
    assert last["step"] == -5
    assert last["scalars"]["big"] == math.inf
    assert math.isnan(last["scalars"]["nan"])
    assert last["scalars"]["neg"] == -3.0
    assert zero["step"] == 0 and zero["scalars"] == {"zero": 0.0}


def test_two_writers_same_dir_use_separate_files(tmp_path: Path) -> None:
    with EventWriter(tmp_path), EventWriter(tmp_path):
        pass
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2


def test_closed_writer_refuses_writes(tmp_path: Path) -> None:
    tb = EventWriter(tmp_path)
    tb.close()
    tb.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        tb.scalar("x", 1.0, step=0)


@pytest.mark.parametrize("where", ["header", "data"])
def test_corrupted_byte_raises(tmp_path: Path, where: str) -> None:
    path, _ = _write_run(tmp_path)
    raw = bytearray(path.read_bytes())
    # Flip a bit in the length field or in the payload of the first record.
    raw[2 if where == "header" else 20] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="CRC"):
        read_events(path)


def test_truncated_tail(tmp_path: Path) -> None:
    path, _ = _write_run(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-7])
    with pytest.raises(ValueError, match="truncated"):
        read_events(path)
    # A reader racing a live run may ask to ignore a half-written last record.
    assert [e["step"] for e in read_events(path, strict=False)] == [0, 1, 2]


def test_tensorboard_can_read_our_file(tmp_path: Path) -> None:
    loader_mod = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    path, _ = _write_run(tmp_path)
    events = list(loader_mod.LegacyEventFileLoader(str(path)).Load())
    assert events[0].file_version == "brain.Event:2"
    assert [e.step for e in events[1:]] == [1, 2, 3]
    values = {v.tag: v.simple_value for v in events[2].summary.value}
    assert values == {"loss/D": 0.25, "loss/G": 1.5}
    assert events[3].summary.value[0].image.width == 6
