"""The studio's app through its HTTP API (gradio_client), as a script or another app uses it."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from conftest import painting

pytest.importorskip("gradio")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(client, workspace root): a running studio with one worker on a fresh workspace."""
    from gradio_client import Client

    from artgan.studio.app import serve

    root = tmp_path_factory.mktemp("studio")
    port = _free_port()
    page, supervisor = serve(root, port=port, block=False)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), root
    finally:
        page.close()
        supervisor.stop()


def _wait(client, job: int, timeout: float = 240.0) -> tuple[str, list]:
    t0 = time.time()
    while time.time() - t0 < timeout:
        status, files = client.predict(job, api_name="/job")
        if any(word in status for word in ("**done**", "**failed**", "**cancelled**")):
            return status, files
        time.sleep(1.0)
    raise AssertionError(f"job {job} did not finish in {timeout} s: {status}")


def test_upload_train_generate_through_the_api(studio, tmp_path: Path):
    from gradio_client import handle_file

    client, root = studio
    files = []
    for i in range(6):
        p = tmp_path / f"work{i}.png"
        painting(i, (48, 40)).save(p)
        files.append(handle_file(str(p)))
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    report, _, _ = client.predict("my art", files + [handle_file(str(bad))], api_name="/add_collection")
    assert "Added **6** image(s)" in report and "notes.png" in report, report
    assert len(list((root / "collections" / "my-art").glob("*.png"))) == 6

    status, job = client.predict("my-art", 0.3, "32", api_name="/train")
    assert "queued" in status and job
    done, _ = _wait(client, job)
    assert "**done**" in done, done
    (run,) = (root / "runs").iterdir()
    assert (run / "summary.json").is_file() and list((run / "samples").glob("fakes*.png"))

    status, gen = client.predict(run.name, 4, 0, 1.0, False, api_name="/generate")
    done, outputs = _wait(client, gen)
    assert "**done**" in done, done
    names = sorted(Path(item["image"]).name if isinstance(item, dict) else Path(item[0]).name for item in outputs)
    assert names == ["grid.png", "seed00000.png", "seed00001.png", "seed00002.png", "seed00003.png"]
    gallery = client.predict(api_name="/gallery")
    assert len(gallery) >= 5


def test_bad_requests_are_refused_with_a_message(studio):
    client, _ = studio
    report, _, _ = client.predict("x", [], api_name="/add_collection")
    assert report.startswith("**Could not do that:**")
    status, job = client.predict(None, 1.0, "64", api_name="/train")
    assert job is None and "Choose a collection" in status


def test_the_page_never_takes_a_path_to_delete(studio):
    """The image to delete is the one picked in the gallery (kept on the server), so a
    client cannot name a file; and the handler itself refuses anything outside outputs/."""
    from artgan.studio.app import Studio

    client, root = studio
    info = client.view_api(print_info=False, return_format="dict")
    params = info["named_endpoints"]["/delete_output"]["parameters"]
    assert params == []
    (root / "secret.txt").write_text("keep")
    for rel in ("../../etc/passwd", "secret.txt", "/etc/passwd", "outputs/../secret.txt"):
        msg, _ = Studio.open(root).delete_output(rel)
        assert msg.startswith("**Could not do that:**"), (rel, msg)
    assert (root / "secret.txt").read_text() == "keep"


def test_job_rows_name_inputs_and_show_local_time(tmp_path: Path):
    from artgan.studio.app import Studio

    st = Studio.open(tmp_path)
    st.jobs.enqueue("train", {"collection": "paintings", "minutes": 1.0})
    st.jobs.enqueue(
        "stylize", {"photos": ["uploads/a1/fruits.jpg", "uploads/a1/pier.png"], "style": "uploads/b2/starry.jpg"}
    )
    st.jobs.enqueue("texture", {"exemplar": "uploads/c3/stone_brick.png", "size": [64, 64]})
    rows = st.job_rows()  # newest first: job, kind, on, created, status, progress, note
    assert [r[1] for r in rows] == ["texture", "stylize", "train"]
    assert [r[2] for r in rows] == ["stone_brick.png", "fruits.jpg, pier.png <- starry.jpg", "paintings"]
    for r in rows:
        assert time.strptime(r[3], "%Y-%m-%d %H:%M")  # local time to the minute, not a raw timestamp
    assert rows[0][3] == time.strftime("%Y-%m-%d %H:%M", time.localtime(st.jobs.get(rows[0][0]).created))
