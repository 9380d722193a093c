"""The studio's web app (Gradio): one tab per task, over a workspace and a job queue.

Request handlers only read the workspace and enqueue jobs; the work itself runs in worker
processes (studio/worker.py), so a closed browser or a slow job never blocks the page.
Every path a handler touches comes from the workspace (studio/workspace.py) or from
Gradio's own upload temp files: the browser never names a file on this machine.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# No telemetry or version checks: the studio runs offline. Set before gradio is imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from .jobs import JobStore  # noqa: E402
from .workspace import Workspace, WorkspaceError  # noqa: E402

REFRESH_SECONDS = 2.0
RESOLUTIONS = ["32", "64", "128"]


def _files(upload: Any) -> list[str]:
    """Gradio's upload value (None, a path, or a list of paths / file objects) as paths."""
    if not upload:
        return []
    items = upload if isinstance(upload, list) else [upload]
    return [str(getattr(f, "name", f)) for f in items]


def _stats_rows(run: Path) -> list[dict[str, Any]]:
    rows = []
    path = run / "stats.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short while being written
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _job_input(params: dict[str, Any]) -> str:
    """What a job works on, as its file or folder names: "fruits.jpg <- starry_night.jpg"."""

    def name(value: Any) -> str:
        return Path(value).name if isinstance(value, str) else ""

    photos = params.get("photos")
    if isinstance(photos, list) and photos:
        source = name(params.get("style")) or name(params.get("model"))
        shown = ", ".join(name(p) for p in photos[:3]) + (f" (+{len(photos) - 3})" if len(photos) > 3 else "")
        return f"{shown} <- {source}" if source else shown
    for key in ("collection", "resume", "run", "exemplar", "model"):
        if params.get(key):
            return name(params[key])
    return ""


@dataclass
class Studio:
    """The app's state: a workspace and its job table. Methods are the page's handlers."""

    workspace: Workspace
    jobs: JobStore

    @classmethod
    def open(cls, root: Path) -> Studio:
        # Uploaded files are read only from Gradio's own upload folder: a path from anywhere
        # else is refused before it is opened.
        uploads = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
        ws = Workspace(root, upload_dirs=[uploads])
        return cls(ws, JobStore(ws.path("studio.db")))

    # ---- helpers
    def _say_error(self, exc: Exception) -> str:
        return f"**Could not do that:** {exc}"

    def collection_names(self) -> list[str]:
        return [c.name for c in self.workspace.collections()]

    def run_names(self) -> list[str]:
        return [r.name for r in self.workspace.runs()]

    def job_rows(self) -> list[list[Any]]:
        rows = []
        for j in self.jobs.list(limit=50):
            status = j.status + (" (stopping)" if j.cancel_requested and j.status == "running" else "")
            note = j.error or j.message or ""
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created))
            rows.append([j.id, j.kind, _job_input(j.params), created, status, f"{100 * (j.progress or 0):.0f}%", note])
        return rows

    def _job_status(self, job_id: int | None) -> str:
        if not job_id:
            return ""
        j = self.jobs.get(int(job_id))
        text = f"Job {j.id} ({j.kind}): **{j.status}**"
        if j.status == "running":
            text += f", {100 * (j.progress or 0):.0f}%" + (f": {j.message}" if j.message else "")
        if j.status == "failed":
            text += f": {j.error}"
        return text

    def _outputs(self, job_id: int | None) -> list[Path]:
        """The images a finished job wrote, in name order."""
        if not job_id:
            return []
        j = self.jobs.get(int(job_id))
        folder = self.workspace.path(f"outputs/{j.id}-{j.kind}")
        if j.status != "done" or not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix in (".png", ".gif"))

    # ---- collections
    def add_collection(self, name: str, upload: Any) -> tuple[str, Any, Any]:
        files = _files(upload)
        try:
            if not files:
                raise WorkspaceError("choose some images or a .zip to upload")
            report = self.workspace.add_to_collection(name, files)
        except (WorkspaceError, ValueError) as exc:
            return self._say_error(exc), gr.update(), gr.update()
        lines = [f"Added **{report.added}** image(s) to **{report.name}** ({report.total} in all)."]
        if report.rejected:
            lines.append(f"Rejected {len(report.rejected)}:")
            lines += [f"- {n}: {why}" for n, why in report.rejected]
        names = self.collection_names()
        return (
            "\n".join(lines),
            gr.update(choices=names, value=report.name),
            gr.update(choices=names, value=report.name),
        )

    def preview_collection(self, name: str | None) -> Any:
        if not name:
            return None
        try:
            return self.workspace.preview_crops(name)
        except (WorkspaceError, ValueError):
            return None

    def delete_collection(self, name: str | None) -> tuple[str, Any, Any]:
        if not name:
            return "Choose a collection first.", gr.update(), gr.update()
        try:
            self.workspace.delete_collection(name)
        except (WorkspaceError, ValueError) as exc:
            return self._say_error(exc), gr.update(), gr.update()
        names = self.collection_names()
        return f"Deleted **{name}**.", gr.update(choices=names, value=None), gr.update(choices=names, value=None)

    # ---- training
    def start_training(self, collection: str | None, minutes: float, resolution: str) -> tuple[str, int | None]:
        if not collection:
            return "Choose a collection to train on (upload one in **Collections**).", None
        job = self.jobs.enqueue(
            "train", {"collection": collection, "minutes": float(minutes), "resolution": int(resolution)}
        )
        return f"Training queued as job {job}.", job

    def resume_training(self, run: str | None, minutes: float) -> tuple[str, int | None]:
        if not run:
            return "Choose a run to continue.", None
        job = self.jobs.enqueue("train", {"resume": run, "minutes": float(minutes)})
        return f"Continuing **{run}** as job {job}.", job

    def stop_job(self, job_id: int | None) -> str:
        if not job_id:
            return "No job to stop."
        self.jobs.request_cancel(int(job_id))
        return self._job_status(job_id)

    def training_view(self, job_id: int | None, run: str | None) -> tuple[str, Any, Any, Any]:
        """Status, latest sample grid, loss chart rows and SWD chart rows of a run."""
        import pandas as pd

        status = self._job_status(job_id)
        if job_id and not run:
            rel = self.jobs.get(int(job_id)).run_dir
            run = Path(rel).name if rel else None
        # None, not an empty frame: Gradio's plot builds its Vega spec (field types, colour
        # domain) once, from the first value it shows, and later values only swap the data.
        # An empty frame has no columns, so that spec has no field types and no lines ever.
        empty = None
        if not run:
            return status, None, empty, empty
        try:
            folder = self.workspace.path(f"runs/{run}")
        except WorkspaceError:
            return status, None, empty, empty
        grids = sorted((folder / "samples").glob("fakes*.png")) if folder.is_dir() else []
        rows = _stats_rows(folder)
        losses = [
            {"kimg": r["kimg"], "value": r[k], "series": k.split("/")[1]}
            for r in rows
            for k in ("loss/D", "loss/G")
            if k in r
        ]
        quality = [
            {"kimg": r["kimg"], "value": r["metric/swd/avg"], "series": "SWD"} for r in rows if "metric/swd/avg" in r
        ]
        return (
            status,
            str(grids[-1]) if grids else None,
            pd.DataFrame(losses) if losses else empty,
            pd.DataFrame(quality) if quality else empty,
        )

    # ---- generate, stylize, texture
    def start_generate(
        self, run: str | None, n: float, seed: float, truncation: float, walk: bool
    ) -> tuple[str, int | None]:
        if not run:
            return "Choose a trained model (train one in **Train**).", None
        params = {"run": f"runs/{run}", "n": int(n), "seed": int(seed), "truncation": float(truncation)}
        if walk:
            params["interpolate"] = 4
        job = self.jobs.enqueue("generate", params)
        return f"Generating as job {job}.", job

    def start_stylize(
        self, photos: Any, painting: Any, strength: float, preserve_color: bool, minutes: float
    ) -> tuple[str, int | None]:
        try:
            photo_files = [self.workspace.save_upload(Path(p).name, Path(p)) for p in _files(photos)]
            styles = _files(painting)
            if not photo_files:
                raise WorkspaceError("upload one or more photos")
            if not styles:
                raise WorkspaceError("upload the painting whose style to apply")
            style = self.workspace.save_upload(Path(styles[0]).name, Path(styles[0]))
        except (WorkspaceError, ValueError) as exc:
            return self._say_error(exc), None
        job = self.jobs.enqueue(
            "stylize",
            {
                "photos": photo_files,
                "style": style,
                "strength": float(strength),
                "preserve_color": bool(preserve_color),
                "minutes": float(minutes),
            },
        )
        return f"Stylizing as job {job} (the first time for a painting trains a stylizer for it).", job

    def start_texture(
        self, exemplar: Any, width: float, height: float, n: float, tileable: bool, minutes: float
    ) -> tuple[str, int | None]:
        try:
            files = _files(exemplar)
            if not files:
                raise WorkspaceError("upload an exemplar: a small picture of the texture")
            ex = self.workspace.save_upload(Path(files[0]).name, Path(files[0]))
        except (WorkspaceError, ValueError) as exc:
            return self._say_error(exc), None
        job = self.jobs.enqueue(
            "texture",
            {
                "exemplar": ex,
                "size": [int(width), int(height)],
                "n": int(n),
                "seed": 0,
                "tileable": bool(tileable),
                "minutes": float(minutes),
            },
        )
        return f"Making textures as job {job}.", job

    def job_view(self, job_id: int | None) -> tuple[str, list[tuple[str, str]]]:
        """Status and (image, caption) pairs of a generate / stylize / texture job."""
        files = self._outputs(job_id)
        return self._job_status(job_id), [(str(p), p.name) for p in files]

    # ---- gallery
    def gallery(self) -> list[tuple[str, str]]:
        return [(str(self.workspace.path(item.rel)), item.caption) for item in self.workspace.gallery()]

    def gallery_details(self, index: int) -> tuple[str, str | None, str | None]:
        items = self.workspace.gallery()
        if index is None or not 0 <= index < len(items):
            return "", None, None
        item = items[index]
        lines = [f"**{item.rel}**", ""] + [f"- {k}: {v}" for k, v in item.provenance.items()]
        return "\n".join(lines), str(self.workspace.path(item.rel)), item.rel

    def delete_output(self, rel: str | None) -> tuple[str, list[tuple[str, str]]]:
        if not rel:
            return "Choose an image first.", self.gallery()
        try:
            self.workspace.delete_output(rel)
        except (WorkspaceError, ValueError) as exc:
            return self._say_error(exc), self.gallery()
        return f"Deleted {rel}.", self.gallery()


def build(studio: Studio) -> gr.Blocks:
    """The page: one tab per task, a job table, and a timer that refreshes what is running."""
    with gr.Blocks(title="artgan studio", analytics_enabled=False) as page:
        gr.Markdown("# artgan studio\nUpload your art, train on it, and make new works, stylized photos and textures.")
        timer = gr.Timer(REFRESH_SECONDS)
        with gr.Tabs():
            with gr.Tab("Collections"):
                with gr.Row():
                    c_name = gr.Textbox(label="Collection name", value="my-art")
                    c_files = gr.File(
                        label="Images or a .zip",
                        file_count="multiple",
                        file_types=["image", ".zip"],
                        elem_id="collection-files",
                    )
                c_add = gr.Button("Add to collection", variant="primary")
                c_report = gr.Markdown(elem_id="collection-report")
                with gr.Row():
                    c_pick = gr.Dropdown(label="Collection", choices=studio.collection_names(), allow_custom_value=True)
                    c_preview_btn = gr.Button("Preview training crops")
                    c_delete = gr.Button("Delete collection", variant="stop")
                c_preview = gr.Image(label="What training sees", type="pil", elem_id="collection-preview")
            with gr.Tab("Train"):
                with gr.Row():
                    t_coll = gr.Dropdown(label="Collection", choices=studio.collection_names(), allow_custom_value=True)
                    t_minutes = gr.Slider(0.3, 120, value=10, step=0.1, label="Budget (minutes)")
                    t_res = gr.Dropdown(label="Resolution (px)", choices=RESOLUTIONS, value="64")
                with gr.Row():
                    t_start = gr.Button("Start training", variant="primary")
                    t_stop = gr.Button("Stop")
                    t_run = gr.Dropdown(label="Or continue a run", choices=studio.run_names(), allow_custom_value=True)
                    t_resume = gr.Button("Resume")
                t_job = gr.Number(label="Job", precision=0, interactive=False, visible=False)
                t_status = gr.Markdown(elem_id="train-status")
                with gr.Row():
                    t_grid = gr.Image(label="Latest samples", type="filepath", elem_id="train-grid")
                    with gr.Column():
                        t_loss = gr.LinePlot(x="kimg", y="value", color="series", label="Losses", elem_id="train-loss")
                        # Points, not a line: SWD is measured every few kimg, and a short run
                        # has a single measurement, which a line cannot show.
                        t_swd = gr.ScatterPlot(
                            x="kimg",
                            y="value",
                            color="series",
                            label="Quality (SWD, lower is better)",
                            elem_id="train-swd",
                        )
            with gr.Tab("Generate"):
                with gr.Row():
                    g_run = gr.Dropdown(
                        label="Model (a training run)", choices=studio.run_names(), allow_custom_value=True
                    )
                    g_n = gr.Number(label="How many", value=16, precision=0, minimum=1, maximum=256)
                    g_seed = gr.Number(label="First seed", value=0, precision=0)
                    g_trunc = gr.Slider(0.1, 1.0, value=1.0, step=0.05, label="Truncation (lower: safer, less varied)")
                    g_walk = gr.Checkbox(label="Interpolation GIF", value=False)
                g_go = gr.Button("Generate", variant="primary")
                g_job = gr.Number(label="Job", precision=0, interactive=False, visible=False)
                g_status = gr.Markdown(elem_id="generate-status")
                g_out = gr.Gallery(label="Generated", columns=8, elem_id="generate-out")
            with gr.Tab("Stylize"):
                with gr.Row():
                    s_photos = gr.File(
                        label="Photos", file_count="multiple", file_types=["image"], elem_id="stylize-photos"
                    )
                    s_style = gr.File(
                        label="Painting", file_count="single", file_types=["image"], elem_id="stylize-painting"
                    )
                with gr.Row():
                    s_strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength")
                    s_keep = gr.Checkbox(label="Preserve the photo's colors", value=False)
                    s_minutes = gr.Slider(0.5, 30, value=5, step=0.5, label="Training minutes (new paintings)")
                s_go = gr.Button("Stylize", variant="primary")
                s_job = gr.Number(label="Job", precision=0, interactive=False, visible=False)
                s_status = gr.Markdown(elem_id="stylize-status")
                s_out = gr.Gallery(label="Stylized", columns=4, elem_id="stylize-out")
            with gr.Tab("Textures"):
                with gr.Row():
                    x_ex = gr.File(
                        label="Exemplar (a small texture picture)",
                        file_count="single",
                        file_types=["image"],
                        elem_id="texture-exemplar",
                    )
                    x_w = gr.Number(label="Width (px)", value=1024, precision=0, minimum=16, maximum=8192)
                    x_h = gr.Number(label="Height (px)", value=1024, precision=0, minimum=16, maximum=8192)
                    x_n = gr.Number(label="How many", value=2, precision=0, minimum=1, maximum=16)
                    x_tile = gr.Checkbox(label="Tileable", value=True)
                    x_minutes = gr.Slider(0.5, 30, value=3, step=0.5, label="Training minutes (new exemplars)")
                x_go = gr.Button("Make textures", variant="primary")
                x_job = gr.Number(label="Job", precision=0, interactive=False, visible=False)
                x_status = gr.Markdown(elem_id="texture-status")
                x_out = gr.Gallery(label="Textures (sheet.png shows each tiled 2x2)", columns=3, elem_id="texture-out")
            with gr.Tab("Gallery"):
                y_refresh = gr.Button("Refresh")
                y_items = gr.Gallery(
                    label="Everything made in this workspace", columns=6, value=studio.gallery, elem_id="gallery-items"
                )
                y_info = gr.Markdown(elem_id="gallery-info")
                y_file = gr.File(label="Full-resolution download", interactive=False, elem_id="gallery-download")
                y_rel = gr.State(None)
                y_delete = gr.Button("Delete this image", variant="stop")
                y_msg = gr.Markdown()
            with gr.Tab("Jobs"):
                j_table = gr.Dataframe(
                    headers=["job", "kind", "on", "created", "status", "progress", "note"],
                    value=studio.job_rows,
                    interactive=False,
                    elem_id="jobs-table",
                )
                with gr.Row():
                    j_id = gr.Number(label="Job", precision=0)
                    j_cancel = gr.Button("Cancel job", variant="stop")
                j_msg = gr.Markdown()

        # ---- wiring (api_name: each action is also callable with gradio_client)
        c_add.click(studio.add_collection, [c_name, c_files], [c_report, c_pick, t_coll], api_name="add_collection")
        c_preview_btn.click(studio.preview_collection, c_pick, c_preview, api_name="preview_collection")
        c_delete.click(studio.delete_collection, c_pick, [c_report, c_pick, t_coll], api_name="delete_collection")

        t_start.click(studio.start_training, [t_coll, t_minutes, t_res], [t_status, t_job], api_name="train")
        t_resume.click(studio.resume_training, [t_run, t_minutes], [t_status, t_job], api_name="resume")
        t_stop.click(studio.stop_job, t_job, t_status, api_name="stop")
        train_outputs = [t_status, t_grid, t_loss, t_swd]
        timer.tick(
            studio.training_view, [t_job, t_run], train_outputs, show_progress="hidden", api_visibility="private"
        )
        t_run.change(studio.training_view, [t_job, t_run], train_outputs, api_visibility="private")

        g_go.click(studio.start_generate, [g_run, g_n, g_seed, g_trunc, g_walk], [g_status, g_job], api_name="generate")
        s_go.click(
            studio.start_stylize,
            [s_photos, s_style, s_strength, s_keep, s_minutes],
            [s_status, s_job],
            api_name="stylize",
        )
        x_go.click(
            studio.start_texture, [x_ex, x_w, x_h, x_n, x_tile, x_minutes], [x_status, x_job], api_name="texture"
        )
        for job, status, out in ((g_job, g_status, g_out), (s_job, s_status, s_out), (x_job, x_status, x_out)):
            timer.tick(studio.job_view, job, [status, out], show_progress="hidden", api_visibility="private")

        def refresh_lists() -> tuple[Any, Any, Any, Any]:
            runs, colls = studio.run_names(), studio.collection_names()
            return (gr.update(choices=runs), gr.update(choices=runs), gr.update(choices=colls), studio.job_rows())

        lists = [t_run, g_run, t_coll, j_table]
        timer.tick(refresh_lists, None, lists, show_progress="hidden", api_visibility="private")
        page.load(refresh_lists, None, lists, api_visibility="private")
        gr.api(studio.job_view, api_name="job")  # a client polls a job's status and outputs

        y_refresh.click(studio.gallery, None, y_items, api_name="gallery")

        def pick(evt: gr.SelectData) -> tuple[str, str | None, str | None]:
            return studio.gallery_details(evt.index)

        y_items.select(pick, None, [y_info, y_file, y_rel], api_visibility="private")
        y_delete.click(studio.delete_output, y_rel, [y_msg, y_items], api_name="delete_output")
        j_cancel.click(studio.stop_job, j_id, j_msg, api_name="cancel")
    return page


def serve(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    workers: int = 1,
    max_upload_mb: int = 500,
    block: bool = True,
) -> tuple[gr.Blocks, Any]:
    """Start the worker supervisor and the web server. Returns (page, supervisor); with
    ``block`` it serves until interrupted, then stops the workers (their jobs resume on
    the next start)."""
    from .worker import Supervisor

    # Stylizer and texture models trained by jobs are cached inside the workspace too, so a
    # workspace holds everything the studio made (the CLI's cache stays separate).
    os.environ.setdefault("ARTGAN_CACHE", str(Path(root).resolve() / "cache"))
    studio = Studio.open(root)
    supervisor = Supervisor(root, workers=workers)
    supervisor.start()
    page = build(studio)
    try:
        page.queue(default_concurrency_limit=4).launch(
            server_name=host,
            server_port=port,
            auth=auth,
            max_file_size=f"{max_upload_mb}mb",
            allowed_paths=[str(Path(root).resolve())],
            prevent_thread_lock=True,
            show_error=False,
            quiet=True,
            ssr_mode=False,
            inbrowser=False,
        )
        print(f"artgan studio: http://{host}:{port}  (Ctrl-C stops it; running jobs resume next time)", flush=True)
        if block:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if block:
            page.close()
            supervisor.stop()
    return page, supervisor
